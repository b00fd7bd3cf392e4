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
                                                       ("idcard_photo", 75.0), ("ref12", 40.0)])])   # ref12: in the rows
    labels = pd.DataFrame({"session_id": [f"s{i}" for i in range(5)], "genuine": [True, False, True, True, False]})
    return c, labels


@pytest.mark.parametrize("metric", ["error_rates", "error_rates_at_levels"])
def test_error_rates_of_a_comparison_kind_naming_nothing_is_refused(metric):
    """``comparison="nope"`` (or ``"idcard"``, ``"face_id"``) answered an empty table."""
    from faceanalytics import analytics as A

    c, labels = _labelled_kinds()
    f = getattr(A, metric)
    for bad in ("nope", "idcard", "face_id", ["faceid", "ref"], "ref9"):
        with pytest.raises(ValueError, match=r"comparison: unknown .*; known: faceid, ref1, ref2, ref3, idcard_photo, idcard_datasource, faceprint"):
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


# ---------------------------------------------------------------------------- 3. data directories

def _no_cells(text: str, frame: pd.DataFrame) -> None:
    """No cell of ``frame`` (ids, names: personal data) is echoed in an error."""
    for v in frame.head(20).to_numpy().ravel():
        if isinstance(v, str) and len(v) >= 6:
            assert v not in text


def test_media_bytes_with_a_table_none_a_sessions_row_or_swapped_arguments(datadir):
    """A DataFrame was "the truth value of a Series is ambiguous", None and a sessions row
    "this media row holds no bytes", the arguments swapped the same."""
    m = fa.load(datadir, "media")
    s = fa.load(datadir, "sessions")
    row = m[m["path"].notna()].iloc[0]
    data = fa.media_bytes(datadir, row)
    assert data and fa.media_bytes(datadir, row.to_dict()) == data
    assert fa.media_bytes(datadir, next(m[m["path"].notna()].itertuples(index=False))) == data
    assert fa.media_bytes(fa.DataDir(datadir), row) == data
    cases = [((datadir, m), r"reads one row: pass df.iloc\[i\].*not a table \(\d+ rows\)"),
             ((datadir, None), r"one row of the media or media_files table .*got None"),
             ((datadir, s.iloc[0]), r"a row of the media or media_files table; this row has no path"),
             ((row, datadir), r"media_bytes\(data_dir, row\): the data directory comes first.*got a Series"),
             ((str(datadir), "x.jpg"), r"got str"),
             ((None, row), r"a data directory is a folder .*got None")]
    for args, msg in cases:
        with pytest.raises(TypeError, match=msg) as e:
            fa.media_bytes(*args)
        _no_cells(str(e.value), s)


def test_load_media_with_a_table_none_or_swapped_arguments(datadir):
    """A DataFrame as the session id was echoed cell by cell in pyarrow's ArrowInvalid."""
    m = fa.load(datadir, "media")
    s = fa.load(datadir, "sessions")
    row = m[m["path"].notna()].iloc[0]
    assert fa.load_media(datadir, row["session_id"], source=row["source"])
    cases = [((datadir, s), TypeError, r"one session id \(text\); got DataFrame: loop over its session_id"),
             ((datadir, s["session_id"]), TypeError, r"got Series"),
             ((datadir, None), TypeError, r"got None"),
             ((s, datadir), TypeError, r"the data directory comes first, then the session id; got a DataFrame"),
             ((None, "abc"), TypeError, r"a data directory is a folder .*got None")]
    for args, kind, msg in cases:
        with pytest.raises(kind, match=msg) as e:
            fa.load_media(*args)
        _no_cells(str(e.value), s)
    with pytest.raises(ValueError, match="load_media source: unknown 'lite'; known: megvii_lite"):
        fa.load_media(datadir, row["session_id"], source="lite")


@pytest.mark.parametrize("call", [
    lambda d, t: fa.load(t, "sessions"), lambda d, t: fa.load_arrow(t, "sessions"), lambda d, t: fa.DataDir(t),
    lambda d, t: fa.rebuild(t), lambda d, t: fa.download_will_files(t),
    lambda d, t: fa.engines.pass_rates(t, engine="duckdb"), lambda d, t: fa.engines.error_codes(t, engine="duckdb"),
    lambda d, t: fa.engines.pass_rates(t, engine="pandas"), lambda d, t: fa.write_report(t, d / "r.html")])
def test_a_table_where_a_data_directory_goes_is_named_never_shown(datadir, tmp_path, call):
    """``expected str, bytes or os.PathLike object, not DataFrame`` from os.fspath, deep inside."""
    s = fa.load(datadir, "sessions")
    with pytest.raises(TypeError, match=r"a data directory is a folder \(str or pathlib.Path\), s3://bucket/prefix "
                                        r"or a DataDir; got DataFrame \(a table or a row") as e:
        call(tmp_path, s)
    _no_cells(str(e.value), s)


def test_load_with_a_table_as_the_table_name_or_swapped_arguments(datadir):
    """``load(data, df)`` echoed the whole DataFrame in its ValueError."""
    s = fa.load(datadir, "sessions")
    with pytest.raises(TypeError, match="table is a table name .*; got DataFrame") as e:
        fa.load(datadir, s)
    _no_cells(str(e.value), s)
    with pytest.raises(ValueError, match=r"unknown table .*the data directory comes first: load\(data_dir, table\)"):
        fa.load("sessions", str(datadir))
    with pytest.raises(TypeError, match=r"got a path: the data directory comes first: load\(data_dir, table\)"):
        fa.load("sessions", datadir)
    with pytest.raises(ValueError, match=r"unknown table 'session'; tables are: sessions") as e:
        fa.load(datadir, "session")
    assert "comes first" not in str(e.value)


def test_the_metrics_know_the_comparison_kinds_the_field_spec_and_the_review_know():
    from faceanalytics.analytics._core import COMPARISON_KINDS
    from faceanalytics.flatten.fields import EXPAND
    from faceanalytics.report._finding import COMPARISON_KINDS as REVIEW_KINDS

    spec = tuple(n[len("result_"):] for n in EXPAND["verify_result.result_*"]) + ("faceprint",)
    assert COMPARISON_KINDS == spec == REVIEW_KINDS


def test_ingest_takes_one_path_alone_and_refuses_records_held_in_memory(tmp_path):
    """``fa.ingest("records.jsonl", D)`` read the name character by character ("No such file or
    directory: 'r'"); a DataFrame column by column ("... 'source'"); a list of envelopes died
    inside ``Path``.  One path alone is one input; records in memory are refused, saying how."""
    import json

    import pandas as pd

    import faceanalytics as fa

    env = {"source": "megvii_lite", "session_id": "1700000000,abc", "fetched_at": "2026-01-01T00:00:00Z",
           "http_status": 200, "payload": {"request_id": "r", "biz_id": "1700000000,abc", "status": "OK"}}
    f = tmp_path / "records.jsonl"
    f.write_text(json.dumps(env) + "\n")
    rep = fa.ingest(str(f), tmp_path / "data")
    assert (rep.read, rep.landed) == (1, 1)
    for bad, word in ((pd.DataFrame([env]), "DataFrame"), ([env], "dict"), (None, "None"), ({"a": 1}, "dict")):
        with pytest.raises(TypeError, match=f"ingest reads JSONL files.*{word}"):
            fa.ingest(bad, tmp_path / "data2")
    assert not (tmp_path / "data2").exists()
