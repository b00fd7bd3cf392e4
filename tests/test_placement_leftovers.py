"""Rows without a verification time (Baidu detail, stat, ...) placed at their token's getall time:
what the last placement stop left (issue 11, items 2 and 3).

1. The explorers' DuckDB queries without a segment (overview, histogram, rows near a cut) and
   their pandas engine (``engines.load_placed``, the widgets) read only the partitions
   of those sources whose placed rows can lie in the window (the bounds the review keeps).
   A file outside the window is damaged after the bounds are kept, size, time and inode unchanged:
   read, it fails the call.
2. Spark on a local directory reads the same partitions (the bounds DuckDB keeps).
3. Data quality's "fetched after retention" note says how rows without a verification time are
   dated, in both languages.
"""
from __future__ import annotations

import os
from pathlib import Path

import markupsafe
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

import faceanalytics as fa
from faceanalytics import analytics as A
from faceanalytics._explore import ALL, COMPARISONS, DataSource
from faceanalytics._i18n import catalogue
from faceanalytics.engines import _explore as E
from faceanalytics.engines import load_placed
from faceanalytics.engines._sql import PLACED_TABLES
from faceanalytics.report._summary import summarize

from _helpers import local_spark
from test_placement_gaps import _counts, _scanned, far_data

OCT, NOV = "2026-10-01", "2026-11-01"


@pytest.fixture
def far(tmp_path):
    """``test_placement_gaps.far_data``; the window is October."""
    return far_data(tmp_path)


def _damage_march(d) -> list[str]:
    """Zero every data file stored in March (all Baidu detail: placed in February), keeping
    its size, modification time and inode: what names the kept bounds and footers."""
    files = sorted(str(f) for f in Path(d, "tables").glob("*/source=*/month=2026-03/part-*.parquet"))
    assert files and all("source=baidu_detail" in f for f in files)
    for f in files:
        st = os.stat(f)
        with open(f, "r+b") as fh:
            fh.write(b"\0" * st.st_size)
        os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))
    return files


def _near(d):
    """Every row of the window with a confidence (a cut at 50, all within 100 of it)."""
    rows, flips = E.rows_near_cut(d, "comparisons", "comparison", kind=E.ALL, since=OCT, until=NOV, cut=50.0,
                                  current=60.0, near=([(0.0, 100.0)], 100.0), flips=(0.0, 100.0), engine="duckdb")
    return sorted(zip(rows["source"], rows["session_id"], rows["attempt"])), flips


def test_the_explorers_unsegmented_queries_read_no_partition_outside_their_window(far, monkeypatch):
    cols = COMPARISONS.rule_columns

    def histogram(engine):
        return E.selection_histogram(far, "comparisons", "comparison", cols, kind=E.ALL, since=OCT, until=NOV,
                                     engine=engine)

    def overview():
        return E.overview(far, "comparisons", "comparison", cols, since=OCT, until=NOV, engine="duckdb")

    first, over, near = histogram("duckdb"), overview(), _near(far)     # (the bounds taken and kept)
    ref = histogram("pandas")
    review = summarize(far, OCT, NOV, engine="duckdb").histogram(by="source")
    placed = A.once_per_attempt(load_placed(far, "comparisons", since=OCT, until=NOV))
    want = sorted(zip(placed["source"], placed["session_id"], placed["attempt"]))
    _damage_march(far)
    with _scanned(monkeypatch) as scanned:
        again, over2, near2 = histogram("duckdb"), overview(), _near(far)
        ex = DataSource(far, COMPARISONS, since=OCT, until=NOV, segments=[], engine="duckdb")
        by_kind = [ex.histogram(k, ALL, None) for k in range(len(ex.overview.kinds))]
    assert scanned and not [f for f in scanned if "month=2026-03" in f]
    assert [f for f in scanned if "baidu_detail" in f and "month=2026-12" in f]     # placed in October
    assert _counts(first) == _counts(again) == _counts(ref) == _counts(review) and _counts(ref)
    assert _counts(pd.concat(by_kind)) == _counts(ref)
    assert_frame_equal(over, over2)
    assert near == near2 and near[0] == want and len(want) == 6      # October's six tokens, once each


def test_the_pandas_explorer_reads_no_partition_outside_its_window(far):
    want = {t: load_placed(far, t, since=OCT, until=NOV) for t in PLACED_TABLES}     # (before March is damaged)
    ref = summarize(far, OCT, NOV, engine="duckdb").histogram(by="source")
    for t in PLACED_TABLES:
        load_placed(far, t, since=OCT, until=NOV)                           # (the bounds taken and kept)
    _damage_march(far)
    for t in PLACED_TABLES:
        assert_frame_equal(load_placed(far, t, since=OCT, until=NOV), want[t], check_like=True)
    h = E.selection_histogram(far, "comparisons", "comparison", COMPARISONS.rule_columns, kind=E.ALL, since=OCT,
                              until=NOV, engine="pandas")
    assert _counts(h) == _counts(ref) == _counts(A.confidence_histogram(A.once_per_attempt(want["comparisons"]),
                                                                        ["source"])) and _counts(h)
    ex = fa.threshold_explorer(far, since=OCT, until=NOV, engine="pandas", background=False)     # (the widgets)
    src = ex.model.source
    assert _counts(pd.concat([src.histogram(k, ALL, None) for k in range(len(src.overview.kinds))])) == _counts(ref)
    # the damaged files fail a read of every month: none of the reads above opened them
    with pytest.raises(fa.errors.DamagedTable):
        fa.load(far, "comparisons")


def test_the_retention_note_says_how_rows_without_a_verification_time_are_dated(far):
    s = load_placed(far, "sessions", since=OCT, until=NOV)
    notes = [A.data_quality(s)]
    notes += [summarize(far, OCT, NOV, engine=e).data_quality() for e in ("duckdb", "pandas")]
    for dq in notes:
        note = dq.loc[dq["check"] == "fetched_after_retention", "note"]
        assert len(note) and (note == note.iloc[0]).all()
        assert "getall" in note.iloc[0] and "detail" in note.iloc[0]
    en = catalogue("en")["quality.check.fetched_after_retention.note"]
    zh = catalogue("zh-CN")["quality.check.fetched_after_retention.note"]
    assert en == notes[0]["note"][notes[0]["check"] == "fetched_after_retention"].iloc[0]
    assert "getall" in zh and "detail" in zh and "拉取时间" in zh
    for lang, text in (("en", en), ("zh-CN", zh)):
        assert str(markupsafe.escape(text)) in fa.review(far, OCT, NOV, engine="duckdb", lang=lang).html(), lang


@pytest.fixture(scope="module")
def spark():
    s = local_spark("faceanalytics-placement-leftovers", 1)
    yield s
    s.stop()


def test_spark_on_a_local_directory_reads_no_partition_outside_the_window(far, spark):
    cols = COMPARISONS.rule_columns

    def histogram(engine):
        return E.selection_histogram(far, "comparisons", "comparison", cols, kind=E.ALL, since=OCT, until=NOV,
                                     engine=engine)

    def overview(engine):
        return E.overview(far, "comparisons", "comparison", cols, since=OCT, until=NOV, engine=engine)
    ref, over = histogram("pandas"), overview("duckdb")                  # (the bounds taken and kept)
    _damage_march(far)
    assert _counts(histogram(spark)) == _counts(ref) and _counts(ref)
    assert_frame_equal(overview(spark), over, check_dtype=False)
