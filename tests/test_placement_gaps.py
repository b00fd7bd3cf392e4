"""Rows without a verification time (Baidu detail, stat, ...) placed at their token's getall time
(``analytics.place_untimed``): the gaps earlier stops left (issue 11, item 3).

1. The explorer over a data directory with ``engine="pandas"`` places its rows once (they are read
   placed: ``engines.load_placed``), and counts what the review counts.
2. The sample the default segment keys are chosen from holds the period's placed sessions, not
   a back-fill fetched in the period but verified months before.
3. Placed rows go through the "fetched after retention" check (Baidu keeps results 3 days).
4. The review leaves out the partitions of placed rows that lie wholly outside its window.
"""
from __future__ import annotations

import contextlib

import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

import faceanalytics as fa
from faceanalytics import analytics as A
from faceanalytics.analytics import _core
from faceanalytics import _explore
from faceanalytics._explore import ALL, COMPARISONS, GENUINENESS, DataSource
from faceanalytics.analytics._hist import THRESHOLD_COLUMNS
from faceanalytics.engines import load_placed
from faceanalytics.engines import _placed
from faceanalytics.engines._review import segment_sample
from faceanalytics.pipeline.ingest import ingest
from faceanalytics.report._summary import summarize

from _helpers import baidu_getall, envelope, seed, write_jsonl

SINCE, UNTIL = "2026-07-01", "2026-08-01"


_getall = baidu_getall      # getall of one token, every attempt verified at ``when`` (Beijing wall-clock time)


def _token(recs: list, tok: str, verified: str, detail_fetched: str | None) -> None:
    """``verified``: 'YYYY-MM-DD' (10:00 in Beijing, 02:00 UTC); getall fetched an hour later."""
    recs.append(envelope("baidu_getall", tok, _getall(f"{verified} 10:00:00"), fetched_at=f"{verified}T03:00:00Z"))
    if detail_fetched is not None:
        recs.append(envelope("baidu_detail", tok, seed("baidu_detail.json"), fetched_at=detail_fetched))


@pytest.fixture(scope="module")
def july(tmp_path_factory):
    """Four tokens verified 13-16 July: two details fetched ~10 days later (past Baidu's 3 days),
    two the next day; one detail without a getall (stays at its fetch time, not judged)."""
    tmp = tmp_path_factory.mktemp("placement_gaps")
    recs: list = []
    _token(recs, "toklate0000000000000", "2026-07-13", "2026-07-25T10:00:00Z")
    _token(recs, "toklate0000000000001", "2026-07-14", "2026-07-24T10:00:00Z")
    _token(recs, "tokontime00000000002", "2026-07-15", "2026-07-16T12:00:00Z")
    _token(recs, "tokontime00000000003", "2026-07-16", "2026-07-17T12:00:00Z")
    recs.append(envelope("baidu_detail", "toklonely00000000004", seed("baidu_detail.json"),
                         fetched_at="2026-07-20T10:00:00Z"))
    d = tmp / "data"
    ingest([write_jsonl(tmp / "in.jsonl", recs)], d)
    return d


# ------------------------------------------------------------------ 1. the explorer places once

def _counts(h: pd.DataFrame) -> dict:
    cols = ["source", "confidence", *[c for c in THRESHOLD_COLUMNS if c in h]]
    out: dict = {}
    for row in h[[*cols, "count"]].itertuples(index=False):
        k = tuple(None if pd.isna(x) else (float(x) if isinstance(x, float) else str(x)) for x in row[:-1])
        out[k] = out.get(k, 0) + int(row[-1])
    return {k: v for k, v in out.items() if v}


@pytest.mark.parametrize("make,spec", [(fa.threshold_explorer, COMPARISONS), (fa.genuineness_explorer, GENUINENESS)])
def test_the_pandas_explorer_places_rows_once_and_counts_what_the_review_counts(july, monkeypatch, make, spec):
    calls = []
    real = _core.place_untimed

    def spy(table, sessions):
        calls.append(len(table))
        return real(table, sessions)
    monkeypatch.setattr(_core, "place_untimed", spy)       # (load_placed imports it when called)
    monkeypatch.setattr(_explore, "place_untimed", spy)
    ex = make(july, since=SINCE, until=UNTIL, engine="pandas", background=False)
    assert len(calls) == 2          # the table and the sessions, each once, as they are read
    monkeypatch.setattr(_core, "place_untimed", real)
    monkeypatch.setattr(_explore, "place_untimed", real)
    mine, ref = ex.model.source, DataSource(july, spec, since=SINCE, until=UNTIL, engine="duckdb")
    assert mine.overview.kinds == ref.overview.kinds and mine.overview.periods == ref.overview.periods
    r = fa.review(july, SINCE, UNTIL, engine="duckdb")
    for k, kind in enumerate(mine.overview.kinds):
        for p in [ALL, *range(len(mine.overview.periods))]:
            assert _counts(mine.histogram(k, p, None)) == _counts(ref.histogram(k, p, None)), (kind, p)
        if spec is COMPARISONS:     # the review's own histogram of the period
            h = r.summaries.histogram(comparison=kind, by="source", since=SINCE, until=UNTIL)
            assert _counts(mine.histogram(k, ALL, None)) == _counts(h), kind
    # the detail rows of the tokens getall dates are in July's weeks, not their fetch weeks
    assert pd.Timestamp("2026-07-20", tz="UTC") in mine.overview.periods      # (the lone detail's week)
    assert pd.Timestamp("2026-07-13", tz="UTC") in mine.overview.periods


# ------------------------------------------------------------------ 3. fetched after retention

def test_placed_rows_are_checked_for_fetches_after_retention(july):
    s = load_placed(july, "sessions", since=SINCE, until=UNTIL)
    late = A.late_fetches(s, mask=False)
    assert sorted(late.loc[late["source"] == "baidu_detail", "session_id"]) == ["toklate0000000000000",
                                                                             "toklate0000000000001"]
    assert (late["time_basis"] == "getall").all()
    want = A.data_quality(s).set_index(["check", "source"])
    assert want.loc[("fetched_after_retention", "baidu_detail"), ["n", "of"]].tolist() == [2, 4]
    assert want.loc[("fetched_after_retention", "baidu_getall"), ["n", "of"]].tolist() == [0, 4]
    for engine in ("duckdb", "pandas"):
        got = summarize(july, SINCE, UNTIL, engine=engine).data_quality().set_index(["check", "source"])
        assert got.loc["fetched_after_retention", ["n", "of"]].to_dict() == \
            want.loc["fetched_after_retention", ["n", "of"]].to_dict(), engine
    # stored (not placed), detail's time is its fetch: nothing says when it was verified
    assert A.late_fetches(fa.load(july, "sessions")).empty


# ------------------------------------------------------------------ 2. the segment sample

def _lite(i: int, epoch: int) -> dict:
    p = seed("megvii_lite_success.json")
    sid = f"{epoch},seg{i:04d}"
    p["biz_info"]["biz_id"] = sid
    p["biz_info"]["biz_extra_data"] = "channel=store"
    return envelope("megvii_lite", sid, p, fetched_at=pd.Timestamp(epoch, unit="s", tz="UTC").isoformat())


@pytest.fixture(scope="module")
def october(tmp_path_factory):
    """Six Lite sessions in October; 30 Baidu details fetched in October of tokens verified in July."""
    tmp = tmp_path_factory.mktemp("segment_sample")
    recs = [_lite(i, int(pd.Timestamp(f"2026-10-{5 + i}T08:00:00Z").timestamp())) for i in range(6)]
    for i in range(30):
        _token(recs, f"tokback{i:013d}", f"2026-07-{1 + i:02d}", "2026-10-20T10:00:00Z")
    d = tmp / "data"
    ingest([write_jsonl(tmp / "in.jsonl", recs)], d)
    return d


@pytest.mark.parametrize("engine", ["duckdb", "pandas"])
def test_the_segment_sample_holds_the_periods_placed_sessions(october, engine):
    s = load_placed(october, "sessions", since="2026-10-01", until="2026-11-01")
    assert sorted(s["source"].unique()) == ["megvii_lite"]        # the back-fill is July's
    got = segment_sample(october, since=pd.Timestamp("2026-10-01", tz="UTC"),
                         until=pd.Timestamp("2026-11-01", tz="UTC"), columns=[], per_month=6, engine=engine)
    # read as stored, October's sample of 6 took 1 Lite session and 5 details (of 36 rows)
    assert len(got) == 6 and (got["biz_extra_data"] == "channel=store").all()


# ------------------------------------------------------------------ 4. partitions outside the window

@pytest.fixture
def far(tmp_path):
    """:func:`far_data`; the review's window is September and October."""
    return far_data(tmp_path)


def far_data(tmp_path):
    """Placed rows stored in March (placed in February), in October (placed there) and in
    December (placed in October)."""
    recs: list = []
    for i in range(3):
        _token(recs, f"tokfeb{i:014d}", f"2026-02-{10 + i}", "2026-03-05T10:00:00Z")
        _token(recs, f"tokoct{i:014d}", f"2026-10-{10 + i}", f"2026-10-{11 + i}T10:00:00Z")
        _token(recs, f"tokdec{i:014d}", f"2026-10-{20 + i}", "2026-12-02T10:00:00Z")
    d = tmp_path / "data"
    ingest([write_jsonl(tmp_path / "in.jsonl", recs)], d)
    return d


@contextlib.contextmanager
def _scanned(monkeypatch):
    """The Parquet files the review's queries scan within the block (a list filled as they are)."""
    scanned: list[str] = []
    real = _placed._files_scan

    def spy(d, files, *args, **kw):
        scanned.extend(files)
        return real(d, files, *args, **kw)
    monkeypatch.setattr(_placed, "_files_scan", spy)
    try:
        yield scanned
    finally:
        monkeypatch.setattr(_placed, "_files_scan", real)


def test_the_review_reads_no_partition_whose_placed_rows_lie_outside_its_window(far, monkeypatch):
    a = summarize(far, "2026-10-01", "2026-11-01", engine="duckdb")     # (the bounds taken and kept)
    with _scanned(monkeypatch) as scanned:
        b = summarize(far, "2026-10-01", "2026-11-01", engine="duckdb")
    assert not [f for f in scanned if "month=2026-03" in f]
    assert [f for f in scanned if "baidu_detail" in f and "month=2026-12" in f]     # placed in October
    p = summarize(far, "2026-10-01", "2026-11-01", engine="pandas")
    for x in (a, b):
        assert_frame_equal(x.data_quality(), p.data_quality())
        assert_frame_equal(x.genuineness_rates("current", by="source"), p.genuineness_rates("current", by="source"))
        assert_frame_equal(x.pass_rates("current", ["source", "comparison"]),
                           p.pass_rates("current", ["source", "comparison"]))
    # October's six tokens' details (three fetched in October, three in December) are counted
    dq = b.data_quality().set_index(["check", "source"])
    assert dq.loc[("fetched_after_retention", "baidu_detail"), ["n", "of"]].tolist() == [3, 6]


def test_the_explorers_segmented_histogram_reads_no_partition_outside_its_window(far, monkeypatch):
    from faceanalytics.engines._explore import ALL as E_ALL, selection_histogram
    from faceanalytics.engines._review import Segment

    seg = Segment("origin", column="source", values=("baidu_detail", "baidu_getall"))

    def histogram():
        return selection_histogram(far, "comparisons", "comparison", COMPARISONS.rule_columns, kind=E_ALL,
                                   segment=seg, since="2026-10-01", until="2026-11-01", engine="duckdb")
    first = histogram()                    # (the bounds taken and kept)
    with _scanned(monkeypatch) as scanned:
        again = histogram()
    assert scanned and not [f for f in scanned if "month=2026-03" in f]
    ref = selection_histogram(far, "comparisons", "comparison", COMPARISONS.rule_columns, kind=E_ALL, segment=seg,
                              since="2026-10-01", until="2026-11-01", engine="pandas")
    assert _counts(first) == _counts(again) == _counts(ref) and _counts(ref)
