"""The review's labels file streamed (``review --labels FILE``, ``write_report(labels=path)``):
read a block at a time into a temporary Parquet file, checked and joined by DuckDB, FAR and
FRR counted from a histogram (``engines._labels``).  Its numbers are the metric's
(``analytics.error_rates_at_levels``) and the pandas engine's; its refusals are
``read_labels``'; untimed Baidu rows are placed as every count places them.

The data: the sandbox population's payloads (no server), with Baidu ``detail`` answers
fetched four months after their attempts (placed at their getall's time) and tokens fetched
by ``detail`` alone (dated by their fetch).
"""
from __future__ import annotations

import datetime as dt
import tempfile

import pandas as pd
import pytest

import _planted as P
import faceanalytics.report as R
from faceanalytics import analytics as A
from faceanalytics.analytics._core import place_untimed
from faceanalytics.pipeline.ingest import ingest
from faceanalytics.report import read_labels, review
from faceanalytics.storage.tables import load

SINCE, UNTIL = "2026-05-01", "2026-06-01"


def _late(iso: str, days: int) -> str:
    t = dt.datetime.strptime(iso, "%Y-%m-%dT%H:%M:%SZ") + dt.timedelta(days=days)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    recs = P.records(3, n_lite=300, n_liveness=60, n_baidu=120, reference_date="2026-06-15", window_days=60,
                     baidu=("getall", "detail"))
    tokens = sorted({r["session_id"] for r in recs if r["source"] == "baidu_getall"})
    alone = set(tokens[::4])                         # fetched by detail alone: dated by its fetch
    out = []
    for r in recs:
        if r["source"] == "baidu_getall" and r["session_id"] in alone:
            continue
        if r["source"] == "baidu_detail" and r["session_id"] not in alone:
            r = {**r, "fetched_at": _late(r["fetched_at"], 120)}   # a back-fill: placed at getall's time
        out.append(r)
    d = tmp_path_factory.mktemp("labels") / "data"
    ingest([P.write(d.parent / "records.jsonl", out)], d)
    return d


@pytest.fixture(scope="module")
def labels(data, tmp_path_factory):
    """Every session of the data labelled (a fifth impostors), twice for some, plus ids the
    data does not hold; as the CSV a script writes."""
    ids = load(data, "sessions", columns=["session_id"])["session_id"].drop_duplicates().sort_values().tolist()
    lab = pd.DataFrame({"session_id": ids, "genuine": [i % 5 != 0 for i in range(len(ids))]})
    more = pd.DataFrame({"session_id": [f"nowhere-{i}" for i in range(50)], "genuine": [True] * 50})
    lab = pd.concat([lab, lab.iloc[::7], more], ignore_index=True)
    path = tmp_path_factory.mktemp("labels-file") / "labels.csv"
    path.write_text("session_id,genuine\n" + "".join(f"{s},{int(g)}\n" for s, g in zip(lab.session_id, lab.genuine)),
                    encoding="utf-8")
    return path, lab.drop_duplicates("session_id").reset_index(drop=True)


def _metric(data, lab) -> pd.DataFrame:
    """The labels table as the metric computes it on the period's rows, placed."""
    c = place_untimed(load(data, "comparisons"), load(data, "sessions"))
    t = c["session_time"]
    c = c[((t >= pd.Timestamp(SINCE, tz="UTC")) & (t < pd.Timestamp(UNTIL, tz="UTC"))).to_numpy()]
    c = c[c["session_id"].isin(set(lab["session_id"]))]
    return pd.concat([A.error_rates_at_levels(c, lab, comparison=k).assign(comparison=k)
                      for k in sorted(c["comparison"].dropna().unique())], ignore_index=True), c


def test_streamed_labels_count_as_the_metric_and_the_pandas_engine(data, labels, monkeypatch):
    """DuckDB joins the file where the data live: the labelled comparisons never come to
    Python (nor the file as a frame), and every number equals the metric's on the placed
    rows, and the pandas engine's.  The data hold back-filled details (placed into the period,
    one attempt with their getall's row) and details alone."""
    path, lab = labels
    want, c = _metric(data, lab)
    assert {"baidu_getall", "baidu_detail", "megvii_lite"} <= set(c["source"])   # the data test what they should
    stored = load(data, "comparisons", since=SINCE, until=UNTIL)        # dated by their fetch
    assert (c["source"] == "baidu_detail").sum() > (stored["source"] == "baidu_detail").sum() > 0
    pandas = review(data, SINCE, UNTIL, labels=path, segments=[], engine="pandas")

    def never(*a, **k):
        raise AssertionError("the labelled rows or the labels loaded into Python")

    monkeypatch.setattr("faceanalytics.engines._review.labelled_comparisons", never)
    monkeypatch.setattr(R, "read_labels", never)
    monkeypatch.setattr(R, "_label_csv", never)
    duck = review(data, SINCE, UNTIL, labels=path, segments=[])
    for r in (duck, pandas):
        pd.testing.assert_frame_equal(r.labels_table, want)
        assert r.n_labels == len(lab)
        assert r.n_labels_matched == c["session_id"].nunique()
    assert len(want) and (want["false_accepts"] > 0).any() and (want["false_rejects"] > 0).any()


def test_error_rates_from_a_histogram_are_the_metric(data, labels):
    """``error_rates_at_levels`` and the engines' ``error_rates_from_histogram`` are one rule:
    the histogram of the labelled rows gives the metric's table, to the last count."""
    from faceanalytics.analytics._labels import error_rates_from_histogram, join_labels
    from faceanalytics.analytics._core import once_per_attempt

    _, lab = labels
    want, c = _metric(data, lab)
    for k, w in want.groupby("comparison", sort=True):
        j = join_labels(once_per_attempt(c[c["comparison"] == k]), lab)
        got = error_rates_from_histogram(A.confidence_histogram(j, by="genuine"))
        pd.testing.assert_frame_equal(got, w.drop(columns="comparison").reset_index(drop=True))


def _files(tmp_path, rows: list[tuple[str, str]]):
    """The same labels as a two-column CSV, a tab-separated file with a note, and Parquet."""
    two = tmp_path / "two.csv"
    two.write_text("session_id,genuine\n" + "".join(f"{s},{g}\n" for s, g in rows), encoding="utf-8")
    tab = tmp_path / "tab.tsv"
    tab.write_text("Session_ID\tgenuine\tpai\n" + "".join(f"{s}\t{g}\tmask\n" for s, g in rows), encoding="utf-8")
    pq = tmp_path / "labels.parquet"
    pd.DataFrame({"session_id": [s or None for s, _ in rows], "genuine": [g or None for _, g in rows]}).to_parquet(pq)
    return [two, tab, pq]


@pytest.mark.parametrize("case", ["bad value", "both ways", "none"])
def test_streamed_file_is_refused_as_read_labels_refuses_it(tmp_path, monkeypatch, case):
    """Read a few rows at a time, a file is refused with read_labels' message, naming the
    same row or id, whatever block it lies in; and its temporary copy is removed."""
    rows = [(f"id{i:03d}", "yes" if i % 3 else "no") for i in range(40)]
    if case == "bad value":
        rows[33] = ("id033", "maybe")
        rows[37] = ("id037", "perhaps")
    elif case == "both ways":
        rows += [("id031", "no"), ("id002", "no"), ("id001", "no"), ("id000", "yes")]
    else:
        rows = [(s, "") for s, _ in rows]
    monkeypatch.setattr("faceanalytics.engines._labels.BLOCK_ROWS", 4)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    for f in _files(tmp_path, rows):
        with pytest.raises(ValueError) as want:
            read_labels(f)
        with pytest.raises(ValueError) as got:
            R.stream_labels(f).close()
        assert str(got.value) == str(want.value)
        row = 33 + (1 if f.suffix == ".parquet" else 2)           # CSV: the header
        assert {"bad value": f"row {row} has 'maybe'", "both ways": "4 session(s) labelled both genuine and not, "
                "e.g. 'id000'", "none": "no labels"}[case] in str(got.value)
    assert not list(tmp_path.glob("faceanalytics-labels-*"))


def test_streamed_file_keeps_each_session_once_as_read_labels(tmp_path, monkeypatch):
    """A session labelled twice the same way counts once; read back (the pandas and Spark
    engines join it in memory), the file is ``read_labels``' labels, in the file's order."""
    rows = [(f"id{i % 23:03d}", "1" if i % 23 % 4 else "0") for i in range(60)] + [("", "1"), ("x,1", "no")]
    monkeypatch.setattr("faceanalytics.engines._labels.BLOCK_ROWS", 5)
    for f in _files(tmp_path, rows):
        want = read_labels(f)[["session_id", "genuine"]]
        want = want[want["session_id"].notna()].reset_index(drop=True)
        with R.stream_labels(f) as lf:
            assert (lf.ids, lf.rows) == (len(want), len(rows))
            got = lf.frame()
        pd.testing.assert_frame_equal(got, want.astype({"genuine": bool}), check_dtype=False)


@pytest.mark.parametrize("passes", [1, 10])
def test_ids_counted_in_passes_as_in_one(tmp_path, passes):
    """Counted a hash class of ids at a time (what a file whose ids outgrow DuckDB's memory
    is counted in), the same distinct ids, the same sessions labelled both ways and the same
    first of them (the smallest id), whichever pass each lies in."""
    import faceanalytics.engines._labels as L

    ids = [f"id{i:03d}" for i in range(60)] + ["é1", "Z9", "a\u00e9"]
    rows = [(s, "1" if i % 3 else "0") for i, s in enumerate(ids)] + [("id042", "1"), ("id017", "0"), ("é1", "0"),
                                                                    ("a\u00e9", "0"), ("id005", "0"), ("id005", "0")]
    two = _files(tmp_path, rows)[0]
    with L.LabelFile(two) as lf:
        lf.write(R._checked_labels(pd.read_csv(two, dtype=str), two))
        lf.finish()
        with lf._connection() as con:
            got = lf._count(con, passes)
    labels = {}
    for s, g in rows:
        labels.setdefault(s, set()).add(g)
    both = sorted(s for s, g in labels.items() if len(g) == 2)
    assert len(both) == 4 and got == (len(labels), len(both), both[0])


def test_a_pass_out_of_memory_is_counted_again_in_smaller_classes(tmp_path, monkeypatch):
    """Ids that take more room than most (long ones) may outgrow DuckDB's limit within one
    pass: the count starts again in four times as many passes and is the same."""
    import duckdb

    import faceanalytics.engines._labels as L

    rows = [(f"id{i:03d}", "1" if i % 5 else "0") for i in range(50)] + [("id010", "1"), ("id003", "0")]
    two = _files(tmp_path, rows)[0]
    count, tried = L.LabelFile._count, []

    def scarce(self, con, passes):
        tried.append(passes)
        if passes < 16:
            raise duckdb.OutOfMemoryException("Out of Memory Error: failed to pin block (simulated)")
        return count(self, con, passes)

    monkeypatch.setattr(L.LabelFile, "_count", scarce)
    with L.LabelFile(two) as lf:
        lf.write(R._checked_labels(pd.read_csv(two, dtype=str), two))
        assert lf.finish() == (50, 2, "id003") and tried == [1, 4, 16]
    monkeypatch.setattr(L, "MAX_PASSES", 8)                 # still out of memory at the last: raised
    with L.LabelFile(two) as lf:
        lf.write(R._checked_labels(pd.read_csv(two, dtype=str), two))
        with pytest.raises(duckdb.OutOfMemoryException):
            lf.finish()


def test_cli_review_streams_its_labels_file(data, labels, tmp_path, monkeypatch):
    """``review --labels FILE`` streams the file as ``write_report(labels=path)`` does (it read
    the whole file with read_labels first); a file refused is still a usage error (exit 2)
    naming the row, and leaves no temporary copy behind."""
    from faceanalytics.cli import main

    path, lab = labels

    def never(*a, **k):
        raise AssertionError("the labelled rows or the labels loaded into Python")

    monkeypatch.setattr("faceanalytics.engines._review.labelled_comparisons", never)
    monkeypatch.setattr(R, "read_labels", never)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    out = tmp_path / "r.html"
    args = ["review", "-q", "--data", str(data), "--out", str(out), "--since", SINCE, "--until", UNTIL]
    assert main([*args, "--labels", str(path)]) == 0
    _, c = _metric(data, lab)
    assert f"{len(lab):,} labelled session(s) ({c['session_id'].nunique():,} with a comparison" in out.read_text()
    bad = tmp_path / "bad.csv"
    bad.write_text("session_id,genuine\na,1\nb,maybe\n", encoding="utf-8")
    assert main([*args, "--labels", str(bad)]) == 2
    assert not list(tmp_path.glob("faceanalytics-labels-*"))
