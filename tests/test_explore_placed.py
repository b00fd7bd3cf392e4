"""The explorers place Baidu rows without a verification time (detail) at their token's getall
time, as the review and the metrics do (``analytics.place_untimed``; ``tests/test_baidu_placed.py``).

The case: getall of tokens verified in July, their ``detail`` (scores: comparisons and
genuineness) fetched ~100 days later, in October.  Read as stored, the threshold explorer put
those scores in the fetch week and the review in the verify week.
"""
from __future__ import annotations


import pandas as pd
import pytest

import faceanalytics as fa
from faceanalytics import analytics as A
from faceanalytics import engines
from faceanalytics._explore import ALL, COMPARISONS, GENUINENESS, DataSource, FrameSource
from faceanalytics.analytics._hist import THRESHOLD_COLUMNS
from faceanalytics.engines._explore import ALL as E_ALL, selection_histogram
from faceanalytics.engines._review import Segment
from faceanalytics.pipeline.ingest import ingest

from _helpers import baidu_getall, envelope, seed, write_jsonl

SINCE, UNTIL = "2026-06-29", "2026-11-02"         # Mondays: whole weeks
VERIFY_WEEK = pd.Timestamp("2026-07-13", tz="UTC")   # tokens verified 13-16 July
FETCH_WEEK = pd.Timestamp("2026-10-12", tz="UTC")    # their detail fetched 18 October
WEEK = pd.Timedelta(days=7)


def _getall(when: str, detail: bool = True) -> dict:
    p = baidu_getall(when)
    if not detail:                  # attempts without verify_detail: no getall genuineness row
        for a in p["result"]["verify_result"]:
            del a["verify_detail"]
    return p


def _records() -> list[dict]:
    recs = []
    for i in range(4):              # getall with scores: detail repeats its attempt (counted once)
        tok = f"tokfull{i:012d}"
        recs.append(envelope("baidu_getall", tok, _getall(f"2026-07-{13 + i} 10:00:00"),
                             fetched_at=f"2026-07-{13 + i}T11:00:00Z"))
        recs.append(envelope("baidu_detail", tok, seed("baidu_detail.json"), fetched_at="2026-10-18T10:00:00Z"))
    for i in range(3):              # getall without verify_detail: detail's genuineness row is the attempt's
        tok = f"tokbare{i:012d}"
        recs.append(envelope("baidu_getall", tok, _getall(f"2026-07-{14 + i} 09:00:00", detail=False),
                             fetched_at=f"2026-07-{14 + i}T11:00:00Z"))
        recs.append(envelope("baidu_detail", tok, seed("baidu_detail.json"), fetched_at="2026-10-18T12:00:00Z"))
    # no getall: stays at its fetch time
    recs.append(envelope("baidu_detail", "toklonely000000001", seed("baidu_detail.json"),
                         fetched_at="2026-10-18T15:00:00Z"))
    return recs


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("explore_placed")
    d = tmp / "data"
    ingest([write_jsonl(tmp / "in.jsonl", _records())], d)
    return d


def _counts(h: pd.DataFrame, key: str | None = None) -> dict:
    """A histogram's counts per (source[, segment], confidence, threshold set)."""
    cols = ["source", *([key] if key else []), "confidence", *[c for c in THRESHOLD_COLUMNS if c in h]]
    out: dict = {}
    for row in h[[*cols, "count"]].itertuples(index=False):
        k = tuple(None if pd.isna(x) else (float(x) if isinstance(x, float) else str(x)) for x in row[:-1])
        out[k] = out.get(k, 0) + int(row[-1])
    return {k: v for k, v in out.items() if v}


def _reference(data, spec, kind, lo, hi, key=None, segment=None) -> dict:
    """The pandas counts of the review's rule: rows placed, then the period chosen, each attempt once."""
    s = fa.load(data, "sessions")
    rows = A.once_per_attempt(A.period_slice(A.place_untimed(fa.load(data, spec.table), s), lo, hi))
    rows = rows[(rows[spec.kind_column] == kind).to_numpy(dtype=bool, na_value=False)]
    if segment is not None:
        ps = A.period_slice(A.place_untimed(s, s), lo, hi)
        rows = rows.merge(ps[["source", "session_id"]].assign(**{key: ps[segment.column].astype("str")}),
                          on=["source", "session_id"], how="left")
    return _counts(A.confidence_histogram(rows, ["source", *([key] if key else [])]), key)


def _sources(data, spec):
    frames = FrameSource(fa.load(data, spec.table), fa.load(data, "sessions"), spec, since=SINCE, until=UNTIL)
    return {"duckdb": DataSource(data, spec, since=SINCE, until=UNTIL, engine="duckdb"), "frames": frames}


def _bounds(period_start) -> tuple[pd.Timestamp, pd.Timestamp]:
    return max(period_start, pd.Timestamp(SINCE, tz="UTC")), min(period_start + WEEK, pd.Timestamp(UNTIL, tz="UTC"))


@pytest.mark.parametrize("spec,kind", [(COMPARISONS, "faceprint"), (GENUINENESS, "synthetic_face")])
def test_explorer_periods_hold_the_rows_the_review_counts_there(data, spec, kind):
    for name, src in _sources(data, spec).items():
        ov = src.overview
        k = ov.kinds.index(kind)
        assert [p for p in ov.periods] == [VERIFY_WEEK, FETCH_WEEK], name
        for p, start in enumerate(ov.periods):
            lo, hi = _bounds(start)
            assert _counts(src.histogram(k, p, None)) == _reference(data, spec, kind, lo, hi), (name, start)
        assert _counts(src.histogram(k, ALL, None)) == _reference(data, spec, kind, SINCE, UNTIL), name
        # what moved: detail's scores of July's tokens are July's; only the lone token's stays in October
        fetch = _counts(src.histogram(k, ov.periods.index(FETCH_WEEK), None))
        assert sum(fetch.values()) == 1 and all(x[0] == "baidu_detail" for x in fetch), name
        verify = _counts(src.histogram(k, ov.periods.index(VERIFY_WEEK), None))
        detail = sum(n for x, n in verify.items() if x[0] == "baidu_detail")
        assert detail == (0 if spec is COMPARISONS else 3), name      # counted once where getall has the attempt


def test_the_review_histogram_of_a_period_is_the_explorers(data):
    r = fa.review(data, "2026-07-13", "2026-07-20", engine="duckdb")
    for h in (r.summaries.histogram(comparison="faceprint", by="source", since="2026-07-13", until="2026-07-20"),
              engines.confidence_histogram(data, by=["comparison", "source"], since="2026-07-13",
                                           until="2026-07-20", engine="duckdb").query("comparison == 'faceprint'")):
        src = _sources(data, COMPARISONS)["duckdb"]
        k = src.overview.kinds.index("faceprint")
        assert _counts(h) == _counts(src.histogram(k, src.overview.periods.index(VERIFY_WEEK), None))


@pytest.mark.parametrize("engine", ["duckdb", "pandas"])
@pytest.mark.parametrize("table,kind_column,kind", [("comparisons", "comparison", "faceprint"),
                                                    ("genuineness", "attack", "synthetic_face")])
def test_segmented_selection_histograms_place_rows(data, engine, table, kind_column, kind):
    """A segment read from the sessions (joined per partition on DuckDB): the placed rows and
    their placed sessions."""
    spec = COMPARISONS if table == "comparisons" else GENUINENESS
    seg = Segment("origin", column="source", values=("baidu_detail", "baidu_getall"))
    for lo, hi in [(VERIFY_WEEK, VERIFY_WEEK + WEEK), (FETCH_WEEK, FETCH_WEEK + WEEK),
                   (pd.Timestamp(SINCE, tz="UTC"), pd.Timestamp(UNTIL, tz="UTC"))]:
        h = selection_histogram(data, table, kind_column, spec.rule_columns, kind=kind, segment=seg, since=lo,
                                until=hi, engine=engine)
        assert _counts(h, seg.label) == _reference(data, spec, kind, lo, hi, seg.label, seg), (lo, hi)
    week = selection_histogram(data, table, kind_column, spec.rule_columns, kind=E_ALL, segment=seg,
                               since=FETCH_WEEK, until=FETCH_WEEK + WEEK, engine=engine)
    assert int(week["count"].sum()) == 1       # the lone token's detail row only


def test_frames_without_sessions_keep_rows_as_stored(data):
    src = FrameSource(fa.load(data, "genuineness"), None, GENUINENESS, since=SINCE, until=UNTIL)
    k = src.overview.kinds.index("synthetic_face")
    fetch = _counts(src.histogram(k, src.overview.periods.index(FETCH_WEEK), None))
    assert sum(fetch.values()) == 4            # detail's rows no getall row repeats, at their fetch time


@pytest.mark.parametrize("lo", [VERIFY_WEEK, FETCH_WEEK])
def test_rows_near_the_cut_are_the_placed_rows(data, lo):
    """The rows the explorer lists (and the sessions that would flip) are those of its histogram."""
    from faceanalytics.engines._explore import rows_near_cut

    found, flips = rows_near_cut(data, "genuineness", "attack", kind="synthetic_face", since=lo, until=lo + WEEK,
                                 cut=50.0, current=90.0, near=([(-1.0, 1000.0)], 1000.0), flips=(-1.0, 1000.0),
                                 strict=True, engine="duckdb")
    s = fa.load(data, "sessions")
    ref = A.once_per_attempt(A.period_slice(A.place_untimed(fa.load(data, "genuineness"), s), lo, lo + WEEK))
    ref = ref[(ref["attack"] == "synthetic_face").to_numpy(dtype=bool, na_value=False)]
    assert sorted(zip(found["source"], found["session_id"])) == sorted(zip(ref["source"], ref["session_id"]))
    conf = ref["confidence"].astype("float64")
    assert flips == (0, int(((conf > 50) & ~(conf > 90)).sum()))
    assert len(found) == (7 if lo == VERIFY_WEEK else 1)
