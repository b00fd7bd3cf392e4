"""One rule for dates, pandas' frequency aliases and labels, time zones (faceanalytics._time), and
``load`` on a missing data directory, through every entry point: ``load``, the metrics, the
engines, the review, the command line."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

import faceanalytics as fa
from faceanalytics import _time as T
from faceanalytics import analytics as A
from faceanalytics import engines as E
from faceanalytics.cli import main

from test_analytics import NEW, comparisons

ALIASES = ["D", "W", "W-SUN", "W-MON", "W-WED", "ME", "MS", "QE", "QS", "YE", "YS", "QE-NOV", "QS-FEB", "YE-JUN",
           "YS-MAR"]
ZONES = [None, "Asia/Shanghai", "America/New_York", "Australia/Lord_Howe"]   # none, +8, DST, half-hour DST


def _times(n=4000, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    lo, hi = pd.Timestamp("2019-01-01").value // 1000, pd.Timestamp("2027-01-01").value // 1000
    us = rng.integers(lo, hi, n)
    # Midnights around the DST changes and week/month/year edges, in UTC and in Beijing
    edges = ["2026-03-08 06:59:59", "2026-03-08 07:00:00", "2026-11-01 04:59:59", "2026-11-01 05:00:00",
             "2025-12-28 15:59:59.999999", "2025-12-28 16:00:00", "2025-12-31 23:59:59.999999", "2026-01-01"]
    return np.concatenate([us, [pd.Timestamp(e).value // 1000 for e in edges]])


# ------------------------------------------------------------------ periods as pandas makes them

@pytest.mark.parametrize("tz", ZONES)
def test_every_alias_buckets_and_labels_as_resample(tz):
    us = _times()
    idx = pd.DatetimeIndex(us.astype("datetime64[us]")).tz_localize("UTC").tz_convert(tz or "UTC")
    s = pd.Series(1, index=idx)
    for alias in ALIASES:
        num, valid = T.period_codes(us, alias, tz)
        assert valid.all()
        got = pd.Series(1, index=T.period_label(num, alias, tz)).groupby(level=0).sum()
        want = s.resample(alias).sum()
        want = want[want > 0]
        assert got.index.equals(want.index.as_unit("us")), (alias, tz)
        assert (got.to_numpy() == want.to_numpy()).all(), (alias, tz)
        start, end = T.period_bounds(num, alias, tz)
        assert ((idx >= start) & (idx < end)).all(), (alias, tz)


def test_period_aliases_are_the_calendar_period_labelled_by_its_end():
    """``"M"``, ``"Q"``, ``"Y"`` are pandas' period aliases (``to_period``); offsets spell them
    ``"ME"``, ``"QE"``, ``"YE"`` and label the same bucket by the same last day."""
    us = _times()
    per = pd.DatetimeIndex(us.astype("datetime64[us]"))
    for alias, offset in (("M", "ME"), ("Q", "QE"), ("Y", "YE")):
        assert T.freq_of(alias) == T.freq_of(offset)
        lab = T.period_label(T.period_codes(us, alias)[0], alias).tz_localize(None)
        assert (lab == per.to_period(alias).end_time.normalize()).all()
    assert T.freq_of("W").name == T.freq_of("W-SUN").name == "W-SUN"


@pytest.mark.parametrize("bad", ["2W", "h", "B", "SME", "BME", "fortnight", "", 7])
def test_what_is_not_one_calendar_period_is_refused_by_name(bad):
    with pytest.raises(ValueError, match="freq must be one calendar period"):
        T.freq_of(bad)
    c = comparisons([("megvii_lite", "s1", "2026-03-02", "faceid", 80.0, NEW)])
    with pytest.raises(ValueError, match="freq must be one calendar period"):
        A.pass_rates(c, freq=bad)


def test_weeks_follow_pandas_in_the_metrics():
    """W = W-SUN: Monday 03-02 .. Sunday 03-08 is the week labelled 2026-03-08, as resample labels it."""
    c = comparisons([("megvii_lite", f"s{i}", t, "faceid", 80.0, NEW) for i, t in enumerate(
        ["2026-03-02 00:00:00", "2026-03-08 23:59:59", "2026-03-09 00:00:00"])])
    got = A.pass_rates(c, freq="W", levels=["1e-4"])
    want = c.set_index("session_time").resample("W")["confidence"].size()
    assert got["period"].tolist() == want.index.tolist() == [pd.Timestamp("2026-03-08", tz="UTC"),
                                                            pd.Timestamp("2026-03-15", tz="UTC")]
    assert got["n"].tolist() == want.tolist() == [2, 1]
    mon = A.pass_rates(c, freq="W-MON", levels=["1e-4"])   # weeks ending Monday
    assert [f"{p:%Y-%m-%d}" for p in mon["period"]] == ["2026-03-02", "2026-03-09"] and mon["n"].tolist() == [1, 2]


# ------------------------------------------------------------------ time zones

def test_tz_buckets_days_on_the_local_calendar():
    # 17:30 UTC on 03-01 is 01:30 on 03-02 in Beijing
    c = comparisons([("megvii_lite", "s1", "2026-03-01 17:30", "faceid", 80.0, NEW),
                     ("megvii_lite", "s2", "2026-03-01 15:30", "faceid", 80.0, NEW)])
    utc = A.pass_rates(c, freq="D", levels=["1e-4"])
    bj = A.pass_rates(c, freq="D", tz="Asia/Shanghai", levels=["1e-4"])
    assert utc["n"].tolist() == [2] and [f"{p:%Y-%m-%d}" for p in utc["period"]] == ["2026-03-01"]
    assert bj["n"].tolist() == [1, 1]
    assert bj["period"].tolist() == [pd.Timestamp("2026-03-01", tz="Asia/Shanghai"),
                                     pd.Timestamp("2026-03-02", tz="Asia/Shanghai")]
    assert str(bj["period"].dtype) == "datetime64[us, Asia/Shanghai]"
    # every metric that takes freq takes tz, with the same buckets
    h = A.confidence_histogram(c, freq="D", tz="Asia/Shanghai")
    assert_frame_equal(A.pass_rates_from_histogram(h), A.pass_rates(c, freq="D", tz="Asia/Shanghai"))
    eras = A.threshold_eras(c, freq="D", tz="Asia/Shanghai")
    assert eras["start"].tolist() == [pd.Timestamp("2026-03-02", tz="Asia/Shanghai") - pd.Timedelta(days=1)]
    assert eras["end"].tolist() == [pd.Timestamp("2026-03-03", tz="Asia/Shanghai")]


def test_unknown_time_zone_is_refused():
    c = comparisons([("megvii_lite", "s1", "2026-03-01 17:30", "faceid", 80.0, NEW)])
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Olympus'"):
        A.pass_rates(c, freq="D", tz="Mars/Olympus")
    assert T.parse_tz("UTC") is None and T.parse_tz("Asia/Shanghai") == "Asia/Shanghai"


# ------------------------------------------------------------------ one strict rule for dates

@pytest.mark.parametrize("value,expected", [
    ("2026-10-01", "2026-10-01T00:00:00+00:00"),
    ("2026-10-01T08:00", "2026-10-01T08:00:00+00:00"),
    ("2026-10-01T08:00Z", "2026-10-01T08:00:00+00:00"),
    ("2026-10-01T08:00+08:00", "2026-10-01T00:00:00+00:00"),
    (dt.date(2026, 10, 1), "2026-10-01T00:00:00+00:00"),
    (pd.Timestamp("2026-10-01 08:00", tz="Asia/Shanghai"), "2026-10-01T00:00:00+00:00"),
    (np.datetime64("2026-10-01T08:00"), "2026-10-01T08:00:00+00:00"),
])
def test_iso_dates_and_date_objects_are_read(value, expected):
    assert T.parse_time(value, "since").tz_convert("UTC").isoformat() == expected


def test_naive_dates_are_local_midnights_in_tz():
    t = T.parse_time("2026-10-01", "since", tz="Asia/Shanghai")
    assert t == pd.Timestamp("2026-09-30 16:00", tz="UTC") and str(t.tz) == "Asia/Shanghai"


@pytest.mark.parametrize("value", ["01/10/2026", "10/01/2026", "June", "2026-1-5", "yesterday", 1767225600, 3.5])
def test_anything_else_is_refused_not_guessed(value):
    with pytest.raises(ValueError, match="since: not a date or time in ISO 8601"):
        T.parse_time(value, "since")


def test_the_same_rule_everywhere(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    c = comparisons([("megvii_lite", "s1", "2026-01-10", "faceid", 80.0, NEW)])
    bad = "01/10/2026"
    calls = {
        "load": lambda: fa.load(data, "comparisons", since=bad),
        "load until": lambda: fa.load(data, "comparisons", until=bad),
        "period_slice": lambda: A.period_slice(c, since=bad),
        "engines pandas": lambda: E.pass_rates(data, since=bad, engine="pandas"),
        "engines duckdb": lambda: E.pass_rates(data, until=bad, engine="duckdb"),
        "review": lambda: fa.review({"comparisons": c}, since=bad),
    }
    for name, call in calls.items():
        with pytest.raises(ValueError, match="not a date or time in ISO 8601") as e:
            call()
        assert "01/10/2026" in str(e.value), name


def test_cli_refuses_what_python_refuses(tmp_path, capsys):
    (tmp_path / "data").mkdir()
    with pytest.raises(SystemExit) as e:
        main(["review", "--data", str(tmp_path / "data"), "--out", str(tmp_path / "r.html"), "--since", "01/10/2026"])
    assert e.value.code == 2
    assert "not a date or time in ISO 8601" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["review", "--data", str(tmp_path / "data"), "--out", str(tmp_path / "r.html"), "--tz", "Mars/Olympus"])
    assert e.value.code == 2
    assert "unknown time zone" in capsys.readouterr().err


# ------------------------------------------------------------------ load, as pandas.read_parquet

def test_load_on_a_missing_directory_raises_as_read_parquet(tmp_path):
    with pytest.raises(FileNotFoundError) as ours:
        fa.load(tmp_path / "typo", "comparisons")
    with pytest.raises(FileNotFoundError):
        pd.read_parquet(tmp_path / "typo" / "tables" / "comparisons")
    assert "typo" in str(ours.value)
    for engine in ("pandas", "duckdb"):
        with pytest.raises(FileNotFoundError):
            E.pass_rates(tmp_path / "typo", engine=engine)
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError):
        fa.load(tmp_path / "file", "comparisons")


def test_an_existing_data_directory_without_rows_gives_the_empty_table(tmp_path):
    f = fa.load(tmp_path, "comparisons")
    assert f.empty and {"source", "session_id", "confidence", "thr_1e4"} <= set(f.columns)
    assert E.pass_rates(tmp_path, engine="duckdb").empty


def test_plot_pass_rates_draws_the_days_of_its_time_zone():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from faceanalytics import plots as P

    # 20:00 UTC on 1 March is 04:00 on 2 March in Beijing
    c = comparisons([("megvii_lite", f"s{i}", "2026-03-01 20:00", "faceid", 80.0, NEW) for i in range(3)])
    ax = P.plot_pass_rates(c, freq="D", tz="Asia/Shanghai", levels=["1e-4"], min_n=1, ax=plt.subplots()[1])
    assert "Asia/Shanghai" in ax.get_xlabel()
    x = ax.get_lines()[0].get_xdata()
    assert [pd.Timestamp(v).strftime("%Y-%m-%d") for v in x] == ["2026-03-02"]
    ax = P.plot_pass_rates(c, freq="D", levels=["1e-4"], min_n=1, ax=plt.subplots()[1])
    plt.close("all")
    assert [pd.Timestamp(v).strftime("%Y-%m-%d") for v in ax.get_lines()[0].get_xdata()] == ["2026-03-01"]
