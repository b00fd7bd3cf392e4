"""The Python API misused as a careless analyst would (second round): an argument that names
nothing is a clear error naming what is accepted; never a plausible-looking answer to a
question that was not understood."""
from __future__ import annotations

import warnings

import pandas as pd
import pytest

import faceanalytics as fa

import _planted as P
from test_widgets import ROWS, sid
from test_analytics import comparisons


@pytest.fixture(scope="module")
def datadir(tmp_path_factory):
    """A small sandbox population landed by ingest; half the sessions carry a ``channel`` key."""
    from faceanalytics.pipeline.ingest import ingest

    d = tmp_path_factory.mktemp("careless2") / "data"
    recs = P.records(5, n_lite=120, n_liveness=30, n_baidu=30, reference_date="2026-04-01", window_days=14,
                     plants=[P.KeyValueExtra(0.5)])
    ingest([P.write(d.parent / "records.jsonl", recs)], d)
    return d


def _frames():
    c = comparisons([(r[1], sid(r[0]), r[2], r[3], r[4], r[5], r[6]) for r in ROWS])
    c["attempt"] = pd.array([r[7] for r in ROWS], dtype="Int32")
    names = sorted({r[0] for r in ROWS})
    src = {r[0]: r[1] for r in ROWS}
    s = pd.DataFrame({"source": pd.Series([src[n] for n in names], dtype="str"),
                      "session_id": pd.Series([sid(n) for n in names], dtype="str"),
                      "procedure_type": pd.Series(["video"] * len(names), dtype="str"),
                      "biz_extra_data": pd.Series(['{"channel": "app"}'] * len(names), dtype="str")})
    return c, s


# ---------------------------------------------------------------------------- 1. the explorers

@pytest.mark.parametrize("explorer", ["threshold_explorer", "genuineness_explorer"])
def test_explorer_segment_naming_nothing_is_refused(explorer):
    """``segments=["chanel"]`` (a typo) was taken without a word: one segment offering only
    "(missing)"."""
    c, s = _frames()
    if explorer == "genuineness_explorer":
        c = pd.DataFrame({"source": c["source"], "session_id": c["session_id"], "session_time": c["session_time"],
                          "attack": "mask", "attempt": c["attempt"], "confidence": 0.2, "threshold": 0.5,
                          "flagged": False})
    with pytest.raises(ValueError, match="'chanel'.*biz_extra_data"):
        getattr(fa, explorer)(c, s, segments=["chanel"])
    ok = getattr(fa, explorer)(c, s, segments=["channel", "procedure_type"])   # a biz key, a sessions column
    assert ("channel", "app") in [v for _, v in ok.controls["segment"].options]


def test_explorer_segment_naming_nothing_in_a_data_directory_is_refused(datadir):
    with pytest.raises(ValueError, match="'nope'"):
        fa.threshold_explorer(datadir, segments=["channel", "nope"])
    with pytest.raises(ValueError, match="'nope'"):
        fa.threshold_explorer(datadir, segments="nope", engine="pandas")
    ex = fa.threshold_explorer(datadir, segments=["channel"])
    assert ("channel", "app") in [v for _, v in ex.controls["segment"].options]


def test_explorer_engine_with_a_frame_says_it_counts_in_memory():
    """``engine="spark"`` with a DataFrame was taken without a word; the frame is counted with
    pandas (every engine gives the same numbers), and a warning says so."""
    c, s = _frames()
    with pytest.warns(UserWarning, match="engine='spark'.*DataFrame.*pandas"):
        ex = fa.threshold_explorer(c, s, engine="spark")
    want = fa.threshold_explorer(c, s).state()
    assert ex.state()["n"] == want["n"] and ex.state()["pass"] == want["pass"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fa.threshold_explorer(c, s, engine="pandas")
        fa.threshold_explorer(c, s)
    with pytest.raises(ValueError, match="engine must be one of"):
        fa.threshold_explorer(c, s, engine="sparky")


# ---------------------------------------------------------------------------- 2. filters naming nothing

def _sessions_frame():
    return pd.DataFrame({"source": pd.Series(["megvii_lite"] * 3 + ["megvii_liveness"], dtype="str"),
                         "session_id": pd.Series(["a", "b", "c", "d"], dtype="str"),
                         "status": pd.Series(["OK", "FAILED", "OK", None], dtype="str"),
                         "error": pd.Series([None] * 4, dtype="str")})


def test_status_funnel_of_a_source_naming_nothing_is_refused():
    """``source="nope"`` answered a funnel of zeros (and ``"lite"`` too, a plausible slip)."""
    s = _sessions_frame()
    for bad in ("nope", "lite", "Megvii_Lite"):
        with pytest.raises(ValueError, match=rf"source: unknown '{bad}'; known: megvii_lite, megvii_liveness"):
            fa.status_funnel(s, source=bad)
    assert fa.status_funnel(s)["count"].sum() == 3
    absent = fa.status_funnel(s, source="baidu_getall")       # a known source absent: zeros, no error
    assert absent["count"].sum() == 0 and len(absent) == len(fa.status_funnel(s))
    assert fa.status_funnel(s, source=None)["count"].sum() == 4


def _labelled_kinds():
    c = comparisons([("megvii_lite", f"s{i}", "2026-03-02", kind, conf, (60.0, 69.315, 73.0, 76.0))
                     for i, (kind, conf) in enumerate([("faceid", 90.0), ("faceid", 50.0), ("ref1", 80.0),
                                                       ("idcard_photo", 75.0), ("ref12", 40.0)])])
    labels = pd.DataFrame({"session_id": [f"s{i}" for i in range(5)], "genuine": [True, False, True, True, False]})
    return c, labels


@pytest.mark.parametrize("metric", ["error_rates", "error_rates_at_levels"])
def test_error_rates_of_a_comparison_kind_naming_nothing_is_refused(metric):
    """``comparison="nope"`` (or ``"idcard"``, ``"face_id"``) answered an empty table."""
    from faceanalytics import analytics as A

    c, labels = _labelled_kinds()
    f = getattr(A, metric)
    for bad in ("nope", "idcard", "face_id", ["faceid", "ref"]):
        with pytest.raises(ValueError, match=r"comparison: unknown .*; known: faceid, idcard_photo"):
            f(c, labels, comparison=bad)
    assert f(c, labels, comparison="faceid").iloc[0]["n_genuine"] == 1
    assert f(c, labels, comparison=["ref1", "ref12"]).iloc[0]["n_impostor"] == 1
    for absent in ("idcard_datasource", "faceprint", "ref3"):       # documented, absent: empty, no error
        assert len(f(c, labels, comparison=absent)) == 0 or f(c, labels, comparison=absent)["n_genuine"].eq(0).all()
    odd = c.assign(comparison="result_new")                         # a kind the documents do not list yet
    assert f(odd, labels, comparison="result_new").iloc[0]["n_genuine"] == 3


def test_retention_keyed_by_anything_but_a_provider_is_refused():
    """``retention={"megvii_lite": ...}`` was ignored without a word (the 1-day default kept)."""
    from faceanalytics import analytics as A

    s = _sessions_frame().assign(session_time=pd.Timestamp("2026-03-01", tz="UTC"),
                                 fetched_at=pd.Timestamp("2026-03-01 20:00", tz="UTC"))
    for bad in ({"megvii_lite": pd.Timedelta(hours=2)}, {"Megvii": "2h"}):
        with pytest.raises(ValueError, match="retention: unknown .*; keys are the providers megvii, baidu"):
            A.late_fetches(s, retention=bad)
        with pytest.raises(ValueError, match="retention: unknown"):
            A.data_quality(s, retention=bad)
    assert len(A.late_fetches(s)) == 0
    assert len(A.late_fetches(s, retention={"megvii": pd.Timedelta(hours=2)})) == 4


def test_error_codes_by_a_column_naming_nothing_names_the_columns():
    s = _sessions_frame()
    with pytest.raises(KeyError, match="error_codes by= needs column.*nope.*the table has source"):
        fa.error_codes(s, by="nope")


@pytest.mark.parametrize("engine", ["pandas", "duckdb", "spark"])
def test_engines_refuse_a_table_naming_nothing(datadir, engine):
    """``table="comparison"`` was a bare ``KeyError: 'comparison'`` (refused before any engine starts)."""
    from faceanalytics import engines as E

    with pytest.raises(ValueError, match="value_histogram: unknown table 'comparison'; tables are sessions"):
        E.value_histogram(datadir, "comparison", engine=engine)
    with pytest.raises(ValueError, match="distribution_drift: unknown table 'nope'"):
        E.distribution_drift(datadir, ("2026-03-01", "2026-03-15"), ("2026-03-15", "2026-04-01"), table="nope",
                             engine=engine)
    with pytest.raises(KeyError, match="distribution_drift needs column.*nope"):
        E.distribution_drift(datadir, ("2026-03-01", "2026-03-15"), ("2026-03-15", "2026-04-01"), column="nope",
                             engine=engine)
