"""Rows without a verification time (Baidu detail, simple, stat, media) are placed at their token's
getall time, so their stored month bounds nothing; the review keeps each partition's first and
last placed time (``engines._placed._Placed``).  What is tested here (issue 11, item 2 leftovers):

1. The engine functions (``engines.pass_rates``, ...), on DuckDB and on pandas, the pandas review
   and the review's pandas helpers read only those partitions that can hold rows of their window:
   a month stored outside it is damaged after its bounds are kept (size, time and inode
   unchanged), and every number still equals the pandas metric functions' on ``fa.load`` output
   placed by hand.
2. After a getall landing (one that moves a partition's rows, one that moves none), the
   review's numbers equal a review with nothing kept.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

import faceanalytics as fa
from faceanalytics import analytics as A
from faceanalytics import engines
from faceanalytics.engines._review import labelled_comparisons, segment_sample
from faceanalytics.report._summary import summarize

from faceanalytics.pipeline.ingest import ingest

from _helpers import baidu_getall, envelope, same_counts, write_jsonl
from test_placement_gaps import _lite, _scanned, far_data
from test_placement_leftovers import NOV, OCT, _damage_march

SEP = "2026-09-01"


def _placed(d, table: str, since, until) -> pd.DataFrame:
    """``table``'s rows of ``[since, until)``, every month read with ``fa.load`` and placed by hand."""
    rows = fa.load(d, table)
    if "source" in rows and table != "attempts":
        rows = A.place_untimed(rows, fa.load(d, "sessions"))
    return A.period_slice(rows, since, until).reset_index(drop=True)


def _metrics(d, engine: str) -> dict:
    """Every engine function over October (the drifts: September against October)."""
    e = engines
    return {
        "pass_rates": e.pass_rates(d, by="source", since=OCT, until=NOV, engine=engine),
        "weekly": e.pass_rates(d, by="source", freq="W", since=OCT, until=NOV, engine=engine),
        "histogram": e.confidence_histogram(d, by="source", since=OCT, until=NOV, engine=engine),
        "values": e.value_histogram(d, "genuineness", "confidence", by="source", since=OCT, until=NOV, engine=engine),
        "flips": e.would_flip_summary(d, "1e-4", "1e-5", by="source", since=OCT, until=NOV, engine=engine),
        "genuineness": e.genuineness_rates(d, by="source", scope="sessions", since=OCT, until=NOV, engine=engine),
        "coverage": e.genuineness_rates(d, scope="sessions", since=OCT, until=NOV, engine=engine),
        "errors": e.error_codes(d, since=OCT, until=NOV, engine=engine),
        "drift": e.pass_rate_drift(d, (SEP, OCT), (OCT, NOV), by="source", engine=engine),
        "psi": e.distribution_drift(d, (SEP, OCT), (OCT, NOV), engine=engine),
    }


def _reference(d) -> dict:
    """The pandas metric functions on the rows ``fa.load`` gives, placed by hand."""
    cmp_, gen, ses = (_placed(d, t, OCT, NOV) for t in ("comparisons", "genuineness", "sessions"))
    sep = _placed(d, "comparisons", SEP, OCT)
    return {
        "pass_rates": A.pass_rates(cmp_, "source"),
        "weekly": A.pass_rates(cmp_, "source", freq="W"),
        "histogram": A.confidence_histogram(A.once_per_attempt(cmp_), ["source"]),
        "values": A.value_histogram(A.once_per_attempt(gen), "confidence", ["source"]),
        "flips": A.would_flip_summary(A.once_per_attempt(cmp_), "1e-4", "1e-5", by=["source"]),
        "genuineness": A.genuineness_rates(gen, ["source"], sessions=ses),
        "coverage": A.genuineness_rates(gen, sessions=ses),
        "errors": A.error_codes(ses, *(_placed(d, t, OCT, NOV) for t in ("verify_errors", "error_counts",
                                                                          "attempts"))),
        "drift": A.pass_rate_drift(sep, cmp_, "source"),
        "psi": A.distribution_drift(sep, cmp_),
    }


def _equal(got: dict, want: dict) -> None:
    for k in want:
        assert_frame_equal(got[k].reset_index(drop=True), want[k].reset_index(drop=True), check_dtype=False,
                           obj=k)


@pytest.fixture
def far(tmp_path):
    """``test_placement_gaps.far_data``: placed rows stored in March (placed in February), October
    (placed there) and December (placed in October); and Megvii Lite sessions in September and
    October (what the levels' pass rates count)."""
    d = far_data(tmp_path)
    lite = [_lite(i, int(pd.Timestamp(f"2026-{9 + i % 2}-{3 + i}T08:00:00Z").timestamp())) for i in range(8)]
    ingest([write_jsonl(tmp_path / "lite.jsonl", lite)], d)
    return d


def test_the_engine_functions_read_no_partition_whose_placed_rows_lie_outside_their_window(far, monkeypatch):
    want = _reference(far)
    assert len(want["pass_rates"]) and len(want["genuineness"])
    # the six details placed in October (three stored in December) are among its sessions
    assert set(want["coverage"]["n_sessions_in_scope"]) == {6 + 6 + 4}
    first = _metrics(far, "duckdb")                 # (the bounds worked out and kept)
    _equal(first, want)
    _damage_march(far)
    with _scanned(monkeypatch) as scanned:
        again = _metrics(far, "duckdb")
    assert scanned and not [f for f in scanned if "month=2026-03" in f]
    assert [f for f in scanned if "baidu_detail" in f and "month=2026-12" in f]     # placed in October
    _equal(again, want)
    _equal(_metrics(far, "pandas"), want)           # (load_placed: the same partitions)
    with pytest.raises(fa.errors.DamagedTable):     # (the damaged files fail a read of every month)
        fa.load(far, "comparisons")


def test_the_pandas_review_and_its_helpers_read_no_partition_outside_their_window(far):
    since, until = pd.Timestamp(OCT, tz="UTC"), pd.Timestamp(NOV, tz="UTC")
    ref = summarize(far, OCT, NOV, engine="duckdb")           # (the bounds worked out and kept)
    cmp_, ses = _placed(far, "comparisons", OCT, NOV), _placed(far, "sessions", OCT, NOV)
    labels = pd.DataFrame({"session_id": cmp_["session_id"].unique(), "genuine": True})
    _damage_march(far)
    got = summarize(far, OCT, NOV, engine="pandas")
    assert_frame_equal(got.data_quality(), ref.data_quality())
    assert_frame_equal(got.pass_rates("current", ["source", "comparison"]),
                       ref.pass_rates("current", ["source", "comparison"]))
    assert_frame_equal(got.genuineness_rates("current", by="source"), ref.genuineness_rates("current", by="source"))
    mine = labelled_comparisons(far, labels, since=since, until=until, engine="pandas")
    assert len(mine) == len(cmp_) and sorted(mine["session_id"]) == sorted(cmp_["session_id"])
    sample = segment_sample(far, since=since, until=until, columns=["session_id"], engine="pandas")
    assert sorted(sample["session_id"]) == sorted(ses["session_id"]) and len(sample)


# ------------------------------------------------------------------ 2. the review after a getall landing

def _land_getall(d, tmp: Path, token: str, verified: str) -> None:
    """One getall answer of ``token``, verified at 10:00 of day ``verified`` in Beijing."""
    recs = [envelope("baidu_getall", token, baidu_getall(f"{verified} 10:00:00"), fetched_at=f"{verified}T05:00:00Z")]
    ingest([write_jsonl(tmp / f"{token}.jsonl", recs)], d)


def _fresh(d, tmp: Path, name: str):
    """The review of a copy of ``d`` with nothing kept."""
    shutil.copytree(d, tmp / name, ignore=shutil.ignore_patterns("summaries"))
    return summarize(tmp / name, OCT, NOV, engine="duckdb")


def test_after_a_getall_landing_the_review_equals_one_with_nothing_kept(far, tmp_path):
    """The kept bounds and counts after getall landings: one that holds no token of any
    partition of placed rows, then one that moves March's detail into October."""
    summarize(far, OCT, NOV, engine="duckdb")             # (the bounds worked out and kept)
    # a new token's getall, in October: it holds no token of any partition of placed rows
    _land_getall(far, tmp_path, "toknew00000000000000", "2026-10-25")
    same_counts(summarize(far, OCT, NOV, engine="duckdb"), _fresh(far, tmp_path, "fresh1"))
    # February's first token verified again in October: its March detail is placed in October now
    _land_getall(far, tmp_path, "tokfeb00000000000000", "2026-10-26")
    got = summarize(far, OCT, NOV, engine="duckdb")
    same_counts(got, _fresh(far, tmp_path, "fresh2"))
    q = got.data_quality().set_index(["check", "source"])
    assert q.loc[("fetched_after_retention", "baidu_detail"), "of"] == 7       # (six, and the moved one)
