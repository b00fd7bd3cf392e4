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
