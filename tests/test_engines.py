"""The three engines agree to the last row: pandas, DuckDB and Spark (local mode).

A data directory with known content is written straight in the documented layout
(``tables/<table>/source=<s>/month=<YYYY-MM>/part-*.parquet``, partition keys only
in the path): per-row thresholds from four threshold sets, values sitting exactly
on thresholds, missing levels, missing confidences (as nulls and as real NaNs in
the files), Baidu rows with a configured threshold, sessions with several
comparisons, weeks that straddle a month and a year, a row without a time, a
writer's hidden temporary file.  Every metric is computed by each engine and the
frames compared with ``assert_frame_equal(check_exact=True)``; a few totals are
also checked against plain pandas arithmetic on the generating frames.
"""
from __future__ import annotations

import shutil

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pandas.testing import assert_frame_equal

from faceanalytics import analytics as A
from faceanalytics import engines as E
from faceanalytics import plots as P
from faceanalytics.schema import file_schema
from faceanalytics.storage.tables import load

from _helpers import local_spark
from test_analytics import NAN4, NEW, _attempts, _error_counts, _sessions, _verify_errors

pytestmark = pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning")

SETS = (NEW, NEW[:3] + (np.nan,), (64.0, 69.0, 74.0, np.nan), NAN4)


# ---------------------------------------------------------------- the data directory

def _ts(s):
    return pd.Timestamp(s, tz="UTC")


def _comparisons(n=3000, seed=7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    which = rng.choice(4, n, p=[0.55, 0.15, 0.15, 0.15])
    which[:40] = 0
    which[-1] = 0
    sets = np.array(SETS)
    baidu = which == 3
    source = np.where(baidu, "baidu_getall", np.where(which == 2, "megvii_liveness", "megvii_lite"))
    comparison = np.where(baidu, "faceprint", rng.choice(["faceid", "ref1", "idcard_photo"], n))
    conf = np.where(baidu, np.round(rng.uniform(40, 100, n), 4), np.round(rng.uniform(40, 100, n), 3))
    conf[rng.random(n) < 0.04] = np.nan
    conf[:8] = [62.169, 69.315, 74.399, 78.038, 69.314, 69.316, 100.0, 0.0]   # on / around thresholds
    start = _ts("2025-11-20").value // 1000
    t = start + rng.integers(0, 120 * 86_400_000_000, n)
    # Week and month edges: Sunday 2025-12-28 23:59:59.999999 | Monday 2025-12-29; the week
    # of 2025-12-29 runs into January 2026; a first of the month.
    t[8:14] = [_ts(x).value // 1000 for x in ("2025-12-28 23:59:59.999999", "2025-12-29 00:00:00",
                                             "2025-12-31 23:59:59", "2026-01-01 00:00:00",
                                             "2026-02-01 00:00:00", "2026-03-01 00:00:00")]
    sid = np.array([f"s{x}" for x in rng.integers(0, n // 2, n)], dtype=object)
    df = pd.DataFrame({
        "source": source, "session_id": sid,
        "session_time": pd.DatetimeIndex(t.astype("datetime64[us]")).tz_localize("UTC"),
        "comparison": comparison,
        "attempt": pd.array(rng.integers(1, 3, n), dtype="Int32"),
        "confidence": conf,
    })
    # A session's comparisons share its time (as ingest writes them).
    df["session_time"] = df.groupby(["source", "session_id"])["session_time"].transform("min")
    df["fetched_at"] = df["session_time"] + pd.Timedelta(hours=1)
    for i, c in enumerate(("thr_1e3", "thr_1e4", "thr_1e5", "thr_1e6")):
        df[c] = sets[which, i]
    df["threshold"] = np.where(baidu, rng.choice([75.0, 80.0], n), np.nan)
    # One row without a session time (kept in its fetch month): a period of its own, last.
    df.loc[n - 1, "session_time"] = pd.NaT
    df.loc[n - 1, "fetched_at"] = _ts("2026-01-15 12:00")
    return df


def _genuineness(n=1500, seed=8) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    attack = rng.choice(["mask", "synthetic_face", "screen_replay"], n)
    baidu = rng.random(n) < 0.15
    thr = np.where(attack == "mask", 0.5, np.where(attack == "screen_replay", 0.7, rng.choice([0.4, 0.5], n)))
    thr = np.where(baidu, np.nan, thr)
    conf = np.round(rng.uniform(0, 1, n), 4)
    conf[:4] = [0.5, 0.7, 0.4, 0.5000]             # equal to the threshold: not flagged
    conf[rng.random(n) < 0.03] = np.nan
    # screen_replay comes back for some sessions only (coverage < 1).
    sid = np.array([f"g{x}" for x in rng.integers(0, n // 2, n)], dtype=object)
    start = _ts("2025-12-01").value // 1000
    t = start + rng.integers(0, 90 * 86_400_000_000, n)
    df = pd.DataFrame({
        "source": np.where(baidu, "baidu_detail", "megvii_lite"), "session_id": sid,
        "session_time": pd.DatetimeIndex(t.astype("datetime64[us]")).tz_localize("UTC"),
        "attack": attack, "attempt": pd.array([pd.NA] * n, dtype="Int32"),
        "confidence": conf, "threshold": thr,
    })
    df["session_time"] = df.groupby(["source", "session_id"])["session_time"].transform("min")
    df["fetched_at"] = df["session_time"]
    df["flagged"] = pd.array(np.where(np.isnan(thr), None, conf > thr), dtype="boolean")
    return df


def _repeat(df: pd.DataFrame, k: int, seed: int) -> pd.DataFrame:
    """``k`` copies of a small table with new session ids and times (so counts are > 1)."""
    rng = np.random.default_rng(seed)
    parts = []
    for i in range(k):
        p = df.copy()
        p["session_id"] = p["session_id"].astype(str) + f"-{i}"
        shift = pd.Timedelta(days=int(rng.integers(0, 80)))
        p["session_time"] = _ts("2025-12-01") + shift + pd.Timedelta(hours=i)
        p["fetched_at"] = p["session_time"]
        parts.append(p)
    return pd.concat(parts, ignore_index=True)


def write_table(data, table: str, df: pd.DataFrame, *, real_nan: str | None = None) -> None:
    """Write ``df`` as the store does: one directory per (source, month), file schema only.

    The first partition gets two files, the first of them with ``real_nan`` stored as
    NaN rather than null.
    """
    schema = file_schema(table)
    month = df["session_time"].where(df["session_time"].notna(), df["fetched_at"]).dt.strftime("%Y-%m")
    for j, ((src, m), part) in enumerate(df.groupby([df["source"], month], sort=True)):
        d = data / "tables" / table / f"source={src}" / f"month={m}"
        d.mkdir(parents=True, exist_ok=True)
        for i, idx in enumerate(np.array_split(np.arange(len(part)), 2 if j == 0 else 1)):
            if not len(idx):
                continue
            chunk = part.iloc[idx]
            t = pa.table([pa.array(chunk[f.name], type=f.type, from_pandas=True) if f.name in chunk
                          else pa.nulls(len(chunk), f.type) for f in schema], schema=schema)
            if real_nan and i == 0 and j == 0:
                # NaN stored as NaN (not null), as another writer might: still a missing value.
                vals = chunk[real_nan].to_numpy(dtype=np.float64)
                t = t.set_column(t.schema.get_field_index(real_nan), real_nan,
                                 pa.array(vals, type=pa.float64(), from_pandas=False))
            pq.write_table(t, d / f"part-test-{i:04d}.parquet")


@pytest.fixture(scope="module")
def frames():
    sessions = _repeat(_sessions(), 6, 1)
    sessions["http_status"] = pd.array([200] * len(sessions), dtype="Int32")
    return {
        "comparisons": _comparisons(),
        "genuineness": _genuineness(),
        "sessions": sessions,
        "verify_errors": _repeat(_verify_errors(), 5, 2),
        "error_counts": _repeat(_error_counts(), 4, 3).assign(
            session_time=lambda d: d["session_time"].where(d.index % 3 > 0, _ts("2026-02-10"))),
        "attempts": _repeat(_attempts(), 3, 4),
    }


@pytest.fixture(scope="module")
def data(tmp_path_factory, frames):
    root = tmp_path_factory.mktemp("engines-data")
    write_table(root, "comparisons", frames["comparisons"], real_nan="confidence")
    write_table(root, "genuineness", frames["genuineness"], real_nan="confidence")
    for t in ("sessions", "verify_errors", "error_counts", "attempts"):
        write_table(root, t, frames[t])
    # A commit in progress: a hidden temporary no reader may see.
    part = next((root / "tables" / "comparisons").glob("source=*/month=*"))
    (part / ".tmp-deadbeef-0000.parquet").write_bytes(b"not parquet")
    return root


@pytest.fixture(scope="module")
def spark():
    s = local_spark("faceanalytics-tests", 2)
    yield s
    s.stop()


@pytest.fixture(scope="module")
def engines(spark):
    return {"duckdb": E.DuckDBEngine(threads=2), "spark": E.SparkEngine(spark)}


def agree(fn, engines, *, nonempty=True) -> pd.DataFrame:
    ref = fn("pandas")
    if nonempty:
        assert len(ref) > 0
    for name, eng in engines.items():
        got = fn(eng)
        try:
            assert_frame_equal(got, ref, check_exact=True)
        except AssertionError as e:
            raise AssertionError(f"{name} differs from pandas:\n{e}") from None
    return ref


# ---------------------------------------------------------------- every metric, every engine

WINDOW = dict(since="2025-12-29", until="2026-02-01 12:00")

PASS_RATES = {
    "overall": {},
    "weekly_by_source_window_clopper": dict(by="source", freq="W", since="2026-01-01", method="clopper-pearson",
                                            min_n=5),
    "daily_window": dict(freq="D", **WINDOW),
    "monthly_by_source_comparison": dict(by=["source", "comparison"], freq="M"),
    "by_month_partition_key": dict(by="month", levels=["1e-4", "1e-6"]),
    "by_attempt_fetched_weeks": dict(by="attempt", freq="W", time_column="fetched_at"),
    "empty_window": dict(by="comparison", freq="W", since="2030-01-01"),
    # pandas aliases and local calendars: DuckDB timezone(), Spark from_utc_timestamp
    "weekly_sunday_shanghai": dict(by="source", freq="W-SUN", tz="Asia/Shanghai"),
    "weekly_monday_shanghai_window": dict(freq="W-MON", tz="Asia/Shanghai", **WINDOW),
    "month_start_new_york": dict(freq="MS", tz="America/New_York"),
    "month_end_quarters": dict(by="comparison", freq="QE", tz="Asia/Shanghai"),
    "month_end": dict(freq="ME"),
}


@pytest.mark.parametrize("opts", PASS_RATES.values(), ids=PASS_RATES.keys())
def test_pass_rates(data, engines, opts):
    agree(lambda e: E.pass_rates(data, engine=e, **opts), engines, nonempty="2030" not in str(opts))


HISTOGRAMS = {
    "overall": {},
    "by_comparison_weekly": dict(by="comparison", freq="W"),
    "by_source_daily_window": dict(by="source", freq="D", **WINDOW),
    "weekly_shanghai": dict(by="comparison", freq="W", tz="Asia/Shanghai"),
}


@pytest.mark.parametrize("opts", HISTOGRAMS.values(), ids=HISTOGRAMS.keys())
def test_confidence_histogram(data, engines, opts):
    h = agree(lambda e: E.confidence_histogram(data, engine=e, **opts), engines)
    # Every threshold question from it, as from the rows.
    keys = [k for k in ("comparison", "source", "period") if k in h.columns]
    assert_frame_equal(A.pass_rates_from_histogram(h),
                       E.pass_rates(data, by=opts.get("by"), freq=opts.get("freq"), since=opts.get("since"),
                                    until=opts.get("until"), tz=opts.get("tz"), engine="pandas"))
    assert list(h.columns[:len(keys)]) == keys


FLIPS = {
    "levels": dict(frm="1e-4", to="1e-5"),
    "down_by_comparison": dict(frm="1e-5", to="1e-4", by="comparison", window=0.5),
    "to_a_number_window": dict(frm="1e-4", to=72, by=["source"], **WINDOW),
}


@pytest.mark.parametrize("opts", FLIPS.values(), ids=FLIPS.keys())
def test_would_flip_summary(data, engines, opts):
    opts = dict(opts)
    frm, to = opts.pop("frm"), opts.pop("to")
    agree(lambda e: E.would_flip_summary(data, frm, to, engine=e, **opts), engines)


GENUINENESS = {
    "overall": {},
    "by_source_weekly_window": dict(by="source", freq="W", since="2026-01-01"),
    "monthly_scope_sessions": dict(by="source", freq="M", scope="sessions"),
    "weekly_monday_shanghai_sessions": dict(by="source", freq="W-MON", tz="Asia/Shanghai", scope="sessions"),
}


@pytest.mark.parametrize("opts", GENUINENESS.values(), ids=GENUINENESS.keys())
def test_genuineness_rates(data, engines, opts):
    agree(lambda e: E.genuineness_rates(data, engine=e, **opts), engines)


ERRORS = {
    "all_tables": {},
    "by_month_window": dict(by="month", since="2026-01-01"),
}


@pytest.mark.parametrize("opts", ERRORS.values(), ids=ERRORS.keys())
def test_error_codes(data, engines, opts):
    agree(lambda e: E.error_codes(data, engine=e, **opts), engines)


BASE, CUR = ("2025-11-01", "2026-01-01"), ("2026-01-01", "2026-04-01")


def test_value_histograms_and_drift(data, engines):
    agree(lambda e: E.value_histogram(data, "comparisons", "confidence", by="comparison", freq="W", engine=e),
          engines)
    agree(lambda e: E.value_histogram(data, "genuineness", "confidence", by="attack", engine=e), engines)
    agree(lambda e: E.value_histogram(data, "genuineness", "confidence", by="attack", freq="W", tz="Asia/Shanghai",
                                      engine=e), engines)
    agree(lambda e: E.pass_rate_drift(data, BASE, CUR, engine=e), engines)
    agree(lambda e: E.pass_rate_drift(data, BASE, CUR, by="comparison", levels=["1e-4"], engine=e), engines)
    d = agree(lambda e: E.distribution_drift(data, BASE, CUR, by="comparison", engine=e), engines)
    assert np.isfinite(d["psi"]).all() and np.isfinite(d["ks"]).all()
    agree(lambda e: E.distribution_drift(data, BASE, CUR, table="genuineness", by="attack", engine=e), engines)


# ---------------------------------------------------------------- against plain arithmetic

def test_counts_match_the_generating_frame(data, frames):
    c = frames["comparisons"]
    r = E.pass_rates(data, engine="duckdb").set_index("level")
    for lv, col in (("1e-3", "thr_1e3"), ("1e-4", "thr_1e4"), ("1e-6", "thr_1e6")):
        assert r.loc[lv, "n"] == c[col].notna().sum()
        assert r.loc[lv, "passed"] == (c["confidence"] >= c[col]).sum()       # NaN never passes
    w = E.pass_rates(data, freq="W", levels=["1e-3"], engine="duckdb")
    week = {p.strftime("%Y-%m-%d"): n for p, n in zip(w["period"], w["n"]) if not pd.isna(p)}
    # pandas' "W": Monday-to-Sunday weeks labelled by the Sunday; 2025-12-28 23:59:59.999999
    # (a Sunday) is the last instant of the week of 2025-12-28.
    t = c["session_time"]
    has = c["thr_1e3"].notna()
    assert week["2025-12-28"] == (has & (t >= _ts("2025-12-22")) & (t < _ts("2025-12-29"))).sum()
    assert week["2026-01-04"] == (has & (t >= _ts("2025-12-29")) & (t < _ts("2026-01-05"))).sum()
    assert pd.isna(w["period"].iloc[-1])                                       # the row without a time
    # Beijing weeks, as pandas resamples the same rows: same labels, same counts.
    for freq in ("W", "W-MON", "MS"):
        w = E.pass_rates(data, freq=freq, tz="Asia/Shanghai", levels=["1e-3"], engine="duckdb")
        rows = pd.Series(1, index=pd.DatetimeIndex(t[has & t.notna()]).tz_convert("Asia/Shanghai"))
        by_pandas = rows.resample(freq).sum()
        by_pandas = by_pandas[by_pandas > 0]
        got = w.dropna(subset=["period"]).set_index("period")["n"]
        assert got.index.equals(by_pandas.index.as_unit("us")) and (got.to_numpy() == by_pandas.to_numpy()).all()
    f = E.would_flip_summary(data, "1e-4", 72, engine="duckdb").iloc[0]
    both = c["thr_1e4"].notna()
    p0, p1 = both & (c["confidence"] >= c["thr_1e4"]), both & (c["confidence"] >= 72)
    assert (f["n"], f["to_reject"], f["to_pass"]) == (both.sum(), (p0 & ~p1).sum(), (~p0 & p1).sum())
    assert f["sessions_to_reject"] == c.loc[p0 & ~p1, ["source", "session_id"]].drop_duplicates().shape[0]
    e = E.error_codes(data, tables=["error_counts"], engine="duckdb")
    assert e[["code", "detail", "count"]].values.tolist() == [["223120", "Verify_FIN", 2 * 4]]


def test_partition_pruning_never_opens_other_months(data, engines, tmp_path):
    """A corrupt file in a month outside the window: a window query never opens it."""
    shutil.copytree(data / "tables" / "comparisons", tmp_path / "tables" / "comparisons")
    bad = tmp_path / "tables" / "comparisons" / "source=megvii_lite" / "month=2020-01"
    bad.mkdir()
    (bad / "part-corrupt-0000.parquet").write_bytes(b"PAR1 this is not a parquet file PAR1")
    agree(lambda e: E.pass_rates(tmp_path, by="comparison", freq="W", since="2025-12-01", engine=e), engines)
    with pytest.raises(Exception):
        E.pass_rates(tmp_path, engine=engines["duckdb"])           # without a window it is read


def test_tables_without_data(tmp_path, engines):
    (tmp_path / "tables" / "comparisons").mkdir(parents=True)
    agree(lambda e: E.pass_rates(tmp_path, by="comparison", freq="W", engine=e), engines, nonempty=False)
    agree(lambda e: E.would_flip_summary(tmp_path, engine=e), engines)
    agree(lambda e: E.error_codes(tmp_path, engine=e), engines, nonempty=False)
    agree(lambda e: E.genuineness_rates(tmp_path, engine=e), engines, nonempty=False)


@pytest.fixture
def s3_data(data, monkeypatch):
    """The same data directory on a real S3-protocol server on loopback (moto)."""
    import logging

    from moto.server import ThreadedMotoServer
    from pyarrow import fs as pafs

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    srv = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    srv.start()
    host, port = srv.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                        ("AWS_REGION", "us-east-1"), ("AWS_EC2_METADATA_DISABLED", "true"),
                        ("FACEANALYTICS_S3_ENDPOINT", endpoint), ("AWS_ENDPOINT_URL", endpoint),
                        ("NO_PROXY", "127.0.0.1,localhost")):
        monkeypatch.setenv(name, value)
    s3 = pafs.S3FileSystem(endpoint_override=f"{host}:{port}", scheme="http", region="us-east-1",
                           access_key="testing", secret_key="testing", allow_bucket_creation=True)
    s3.create_dir("fa-engines")
    pafs.copy_files(str(data / "tables"), "fa-engines/team/data/tables",
                    source_filesystem=pafs.LocalFileSystem(), destination_filesystem=s3)
    yield "s3://fa-engines/team/data", s3
    srv.stop()


def test_duckdb_reads_an_s3_data_directory(s3_data, data, engines):
    s3_data, s3 = s3_data
    duck = {"duckdb": engines["duckdb"]}
    for fn in (lambda d, e: E.pass_rates(d, by="comparison", freq="W", since="2026-01-01", engine=e),
               lambda d, e: E.would_flip_summary(d, "1e-4", "1e-5", by="source", engine=e),
               lambda d, e: E.error_codes(d, by="month", engine=e)):
        ref = agree(lambda e: fn(s3_data, e), duck)
        assert_frame_equal(ref, fn(data, "pandas"), check_exact=True)      # same as the local copy
    empty = s3_data.rsplit("/", 1)[0] + "/nothing"
    agree(lambda e: E.pass_rates(empty, engine=e), duck, nonempty=False)
    # Months outside the window are never fetched: a corrupt object there goes unnoticed.
    bad = "fa-engines/team/data/tables/comparisons/source=megvii_lite/month=2020-01/part-bad-0000.parquet"
    with s3.open_output_stream(bad) as f:
        f.write(b"PAR1 not a parquet file PAR1")
    agree(lambda e: E.pass_rates(s3_data, freq="W", since="2026-01-01", engine=e), duck)
    with pytest.raises(Exception):
        E.pass_rates(s3_data, engine="duckdb")


# ---------------------------------------------------------------- each attempt once, in every engine

def _repeat_frames(n_tokens=150, seed=21):
    """Baidu tokens as getall and detail report them: getall lists attempts 1..k (dated by
    verification), detail repeats the last one (dated by its fetch, up to 3 days later, so
    some cross a month or a window edge); some tokens fetched by one call only; getall
    without spoofing_score for some; and Megvii rows that no rule touches."""
    rng = np.random.default_rng(seed)
    comps, checks = [], []
    start = _ts("2025-12-01").value // 1000
    for i in range(n_tokens):
        tok = f"tok{i}"
        verified = start + int(rng.integers(0, 85 * 86_400_000_000))
        fetched = verified + int(rng.integers(0, 3 * 86_400_000_000))
        kind = rng.choice(["both", "both", "getall", "detail"])
        k = int(rng.integers(1, 4))
        scores = np.round(rng.uniform(60, 99, k), 4)
        spoof = bool(rng.random() < 0.7)
        if kind in ("both", "getall"):
            for a in range(k):
                comps.append(("baidu_getall", tok, verified, a + 1, scores[a], 80.0))
                if spoof:
                    checks.append(("baidu_getall", tok, verified, a + 1, 0.0))
        if kind in ("both", "detail"):
            comps.append(("baidu_detail", tok, fetched, None, scores[-1], np.nan))
            checks.append(("baidu_detail", tok, fetched, None, round(float(rng.uniform(0, 1)), 4)))
    for i in range(100):
        t = start + int(rng.integers(0, 85 * 86_400_000_000))
        comps.append(("megvii_lite", f"m{i}", t, 1, round(float(rng.uniform(60, 99)), 3), np.nan))
    cols = ["source", "session_id", "session_time", "attempt", "confidence", "threshold"]
    c = pd.DataFrame(comps, columns=cols)
    g = pd.DataFrame(checks, columns=cols[:5])
    for df in (c, g):
        df["session_time"] = pd.DatetimeIndex(df["session_time"].to_numpy().astype("datetime64[us]")).tz_localize("UTC")
        df["fetched_at"] = df["session_time"]
        df["attempt"] = pd.array(df["attempt"], dtype="Int32")
    c["comparison"] = np.where(c["source"] == "megvii_lite", "faceid", "faceprint")
    for col, v in zip(("thr_1e3", "thr_1e4", "thr_1e5", "thr_1e6"), NEW):
        c[col] = np.where(c["source"] == "megvii_lite", v, np.nan)
    g["attack"] = "synthetic_face"
    g["threshold"] = np.nan
    return c, g


@pytest.fixture(scope="module")
def repeats(tmp_path_factory):
    root = tmp_path_factory.mktemp("repeats-data")
    c, g = _repeat_frames()
    write_table(root, "comparisons", c)
    write_table(root, "genuineness", g)
    return root, c, g


def _counted_once(df, since=None, until=None):
    """The rows the rule keeps, by plain pandas: detail rows of tokens with getall rows in
    the same window are left out."""
    t = df["session_time"]
    keep = pd.Series(True, index=df.index)
    if since:
        keep &= t >= _ts(since)
    if until:
        keep &= t < _ts(until)
    w = df[keep]
    listed = set(w.loc[w["source"] == "baidu_getall", "session_id"])
    return w[~((w["source"] == "baidu_detail") & w["session_id"].isin(listed))]


REPEAT_WINDOWS = {"all": {}, "january": dict(since="2026-01-01", until="2026-02-01"),
                  "edge": dict(since="2025-12-20 06:00", until="2026-01-15")}


@pytest.mark.parametrize("window", REPEAT_WINDOWS.values(), ids=REPEAT_WINDOWS.keys())
def test_each_attempt_once_in_every_engine(repeats, engines, window):
    root, c, g = repeats
    h = agree(lambda e: E.confidence_histogram(root, by="source", engine=e, **window), engines)
    once = _counted_once(c, **window)
    assert h["count"].sum() == len(once) < len(_counted_once(c.assign(source="x"), **window))
    assert h.groupby("source")["count"].sum().to_dict() == once["source"].value_counts().to_dict()
    f = agree(lambda e: E.would_flip_summary(root, 80.0, 85.0, by="source", engine=e, **window), engines)
    assert f["n"].sum() == len(once)
    assert f["sessions"].sum() == once[["source", "session_id"]].drop_duplicates().shape[0]
    r = agree(lambda e: E.genuineness_rates(root, by="source", engine=e, **window), engines)
    g_once = _counted_once(g, **window)
    assert r["n_no_threshold"].sum() == len(g_once)
    assert r["n_sessions"].sum() == g_once[["source", "session_id"]].drop_duplicates().shape[0]
    for table in ("comparisons", "genuineness"):
        v = agree(lambda e: E.value_histogram(root, table, "confidence", engine=e, **window), engines)
        assert v["count"].sum() == len(_counted_once(c if table == "comparisons" else g, **window))
    # and the pandas metrics on load() of the window say the same
    loaded = load(root, "comparisons", since=window.get("since"), until=window.get("until"))
    assert A.confidence_histogram(loaded)["count"].sum() == len(once)
    assert A.configured_pass_rates(loaded)["n"].sum() == (once["source"] == "baidu_getall").sum()


def test_drift_counts_each_attempt_once(repeats, engines):
    root, c, g = repeats
    base, cur = ("2025-12-01", "2026-01-01"), ("2026-01-01", "2026-03-01")
    for table in ("comparisons", "genuineness"):
        d = agree(lambda e: E.distribution_drift(root, base, cur, table=table, engine=e), engines)
        frame = c if table == "comparisons" else g
        assert (d["n_baseline"].iloc[0], d["n_current"].iloc[0]) == (
            _counted_once(frame, *base)["confidence"].notna().sum(),
            _counted_once(frame, *cur)["confidence"].notna().sum())


# ---------------------------------------------------------------- API

def test_engine_selection(spark):
    import duckdb

    assert E.get_engine("auto").name == "duckdb" and E.get_engine().name == "duckdb"
    assert E.get_engine("pandas").name == "pandas"
    assert E.get_engine(duckdb.connect()).name == "duckdb"
    assert E.get_engine(spark).name == "spark"
    with pytest.raises(ValueError):
        E.get_engine("polars")
    with pytest.raises(TypeError):
        E.get_engine(42)


def test_unknown_columns_and_windows_are_refused(data):
    with pytest.raises(KeyError, match="procedure_type"):
        E.pass_rates(data, by="procedure_type", engine="duckdb")
    with pytest.raises(ValueError):
        E.would_flip_summary(data, "1e-7", "1e-4", engine="duckdb")
    with pytest.raises(TypeError):
        E.pass_rate_drift(data, "2026-01-01", CUR, engine="duckdb")


# ---------------------------------------------------------------- from summaries (pandas side)

def test_distribution_drift_from_histograms_equals_the_rows():
    rng = np.random.default_rng(3)
    for n_a, n_b, decimals in ((1, 1, 1), (2, 5, 0), (997, 1303, 1), (5000, 4000, 3)):
        a = pd.DataFrame({"g": rng.choice(["x", "y"], n_a), "confidence": np.round(rng.normal(80, 6, n_a), decimals)})
        b = pd.DataFrame({"g": rng.choice(["x", "y", "z"], n_b), "confidence": np.round(rng.normal(79, 7, n_b), decimals)})
        a.loc[a.index[::17], "confidence"] = np.nan
        for by in (None, "g"):
            ref = A.distribution_drift(a, b, by)
            got = A.distribution_drift_from_histograms(A.value_histogram(a, by=by), A.value_histogram(b, by=by), by)
            assert_frame_equal(got, ref, check_exact=True)


def test_histogram_weighted_distribution_and_lines_equal_the_rows(frames):
    c = frames["comparisons"]
    h = A.confidence_histogram(c)
    assert_frame_equal(A.confidence_distribution(h), A.confidence_distribution(c))
    assert_frame_equal(A.confidence_distribution(h, binwidth=0.5, binrange=(60, 90)),
                       A.confidence_distribution(c, binwidth=0.5, binrange=(60, 90)))
    assert_frame_equal(A.threshold_lines(h), A.threshold_lines(c))


def test_plots_take_engine_results(data, frames):
    c = frames["comparisons"]
    h = E.confidence_histogram(data, engine="duckdb")
    fig, (a1, a2) = plt.subplots(1, 2)
    P.plot_confidence_thresholds(c, ax=a1)
    P.plot_confidence_thresholds(h, ax=a2)
    assert [p.get_height() for p in a1.patches] == [p.get_height() for p in a2.patches]
    assert [ln.get_label() for ln in a1.lines] == [ln.get_label() for ln in a2.lines]
    assert [t.get_text() for t in a1.get_legend().get_texts()] == [t.get_text() for t in a2.get_legend().get_texts()]
    # Margins: the histogram for the bars, the engine's would-flip summary for the counts.
    summary = E.would_flip_summary(data, "1e-4", "1e-5", engine="duckdb")
    fig, (a1, a2) = plt.subplots(1, 2)
    P.plot_margins(c, level="1e-4", to="1e-5", ax=a1)
    P.plot_margins(h, level="1e-4", to="1e-5", summary=summary, ax=a2)
    assert [p.get_height() for p in a1.patches] == [p.get_height() for p in a2.patches]
    assert a1.get_title() == a2.get_title() and "sessions" in a2.get_title()
    assert [ln.get_label() for ln in a1.lines] == [ln.get_label() for ln in a2.lines]
    with pytest.raises(TypeError, match="summary"):
        P.plot_margins(h)
    # Pass rates and error codes plots already take results; drift takes both results.
    d = E.pass_rate_drift(data, BASE, CUR, engine="duckdb")
    dd = E.distribution_drift(data, BASE, CUR, engine="duckdb")
    b, cu = A.period_slice(c, *BASE), A.period_slice(c, *CUR)
    fig, (a1, a2) = plt.subplots(1, 2)
    P.plot_drift(b, cu, ax=a1)
    P.plot_drift(d, dd, ax=a2)
    assert a1.get_title() == a2.get_title() and "PSI" in a2.get_title()
    assert np.array_equal(a1.lines[0].get_ydata(), a2.lines[0].get_ydata())
    P.plot_pass_rates(E.pass_rates(data, freq="W", engine="duckdb"))
    P.plot_error_codes(E.error_codes(data, engine="duckdb"))


def test_the_review_counts_the_same_on_spark_and_duckdb(tmp_path, spark):
    """`review --engine spark`: every count frame of the review, and so every finding and
    section, equals DuckDB's (planted changes, k=v and JSON segments, Baidu repeats)."""
    import _planted as Pl
    from faceanalytics.pipeline.ingest import ingest
    from faceanalytics.report import review

    plants = [Pl.KeyValueExtra(0.5), Pl.SegmentDrop(30, "2026-06-12", value="app"),
              Pl.AttackWave(0.5, "2026-06-15", days=4), Pl.ErrorStep(0.1, "2026-06-10")]
    recs = Pl.records(3, n_lite=700, n_liveness=100, n_baidu=60, reference_date="2026-07-01", window_days=45,
                      plants=plants)
    d = tmp_path / "data"
    ingest([Pl.write(tmp_path / "records.jsonl", recs)], d)
    a = review(d, "2026-06-01", "2026-07-01", engine="duckdb")
    b = review(d, "2026-06-01", "2026-07-01", engine=spark)       # the previous period: May
    assert b.summaries.engine == "spark" and a.summaries.segments == b.summaries.segments
    assert a.summaries.segments, "segments chosen from the data"
    assert set(a.summaries.counts) == set(b.summaries.counts)
    for name, x in a.summaries.counts.items():
        y = b.summaries.counts[name]
        if x is None or y is None:
            assert x is None and y is None, name
            continue
        assert len(x), name
        keys = list(x.columns)
        assert_frame_equal(x.sort_values(keys, ignore_index=True), y[keys].sort_values(keys, ignore_index=True),
                           check_dtype=False, check_categorical=False, obj=name)
    assert a.findings, "the plants are found"
    assert [f.as_json() for f in a.findings] == [f.as_json() for f in b.findings]


def test_odd_biz_extra_data_keys_count_alike_on_spark(tmp_path, spark):
    """Keys holding a quote, a backslash, a single quote or a dot are read by Spark, in JSON
    objects and in ``k=v&`` text, as pandas reads them (each counted under its own values):
    a key ending in a backslash made the query fail to parse, one holding a quote was never
    found by ``get_json_object``."""
    import json
    import random

    import _planted as Pl
    from faceanalytics.pipeline.ingest import ingest
    from faceanalytics.report._summary import summarize

    odd = ['we\\"ird', "back\\", "it's", "a.b"]
    recs = Pl.records(3, n_lite=300, n_liveness=0, n_baidu=0, reference_date="2026-07-01", window_days=30)
    rng = random.Random(7)
    for i, rec in enumerate(recs):          # as JSON, and as k=v& text
        vals = {k: rng.choice("xy") for k in odd}
        rec["payload"]["biz_info"]["biz_extra_data"] = json.dumps(vals) if i % 2 else \
            "&".join(f"{k}={v}" for k, v in vals.items())
    d = tmp_path / "data"
    ingest([Pl.write(tmp_path / "r.jsonl", recs)], d)
    a = summarize(d, "2026-06-01", "2026-07-01", engine="pandas", segments=odd)
    b = summarize(d, "2026-06-01", "2026-07-01", engine=spark, segments=odd)
    for name in ("seg_sessions", "seg_comparisons"):
        x, y = a.counts[name], b.counts[name]
        keys = list(x.columns)
        assert_frame_equal(x.sort_values(keys, ignore_index=True), y[keys].sort_values(keys, ignore_index=True),
                           check_dtype=False, check_categorical=False, obj=name)
    for k in odd:
        assert set(b.counts["seg_sessions"][f"seg_{k}"].dropna()) == {"x", "y"}, k


def test_levels_written_as_numbers_or_alone_are_read_as_the_metrics_read_them(data, engines):
    """``would_flip_summary(DATA, 1e-4, 1e-5)`` cut at confidence 0.0001 on the engines (every
    scored row passed, no flip) while the pandas metric reads a level's value as the level;
    ``levels="1e-4"`` was split into characters.  The same answers as the names now."""
    for name in ("pandas", "duckdb", "spark"):
        eng = engines.get(name, name)
        want = E.would_flip_summary(data, "1e-4", "1e-5", engine=eng)
        got = E.would_flip_summary(data, 1e-4, "0.00001", engine=eng)
        pd.testing.assert_frame_equal(got, want)
        assert want["to_reject"].iloc[0] > 0
        pd.testing.assert_frame_equal(E.pass_rates(data, levels="1e-4", engine=eng),
                                      E.pass_rates(data, levels=["1e-4"], engine=eng))
    with pytest.raises(ValueError, match="confidence on the 0-100 scale"):
        E.would_flip_summary(data, "1e-4", 0.8, engine="duckdb")


def test_rows_without_a_verification_time_are_placed_alike_on_spark(tmp_path, spark):
    """Baidu stat fetched ~100 days after its sessions: Spark's SQL places the rows at the token's
    getall time as DuckDB and pandas do (the error table's previous period has its counts)."""
    from test_baidu_placed import CUR, PREV, SINCE, UNTIL, _codes, _records

    from _helpers import write_jsonl
    from faceanalytics.pipeline.ingest import ingest
    from faceanalytics.report._summary import summarize

    d = tmp_path / "data"
    ingest([write_jsonl(tmp_path / "in.jsonl", _records())], d)
    for (lo, hi), n in ((("2026-06-01", SINCE), PREV), ((SINCE, UNTIL), CUR)):
        assert _codes(E.error_codes(d, ["error_counts"], since=lo, until=hi, engine=spark)) == [
            ["222380", "Verify_FIN", n]]
    a = summarize(d, SINCE, UNTIL, engine="duckdb")
    b = summarize(d, SINCE, UNTIL, engine=spark)
    assert _codes(b.error_codes("previous")) == [["222380", "Verify_FIN", PREV]]
    for name, x in a.counts.items():
        y = b.counts[name]
        if x is None or y is None:
            assert x is None and y is None, name
            continue
        keys = list(x.columns)
        assert_frame_equal(x.sort_values(keys, ignore_index=True), y[keys].sort_values(keys, ignore_index=True),
                           check_dtype=False, check_categorical=False, obj=name)
