"""Baidu rows without a verification time (stat, detail, simple) placed at the same token's getall
time: one rule in the metrics (analytics.place_untimed), the engines and the review.

The demo's case: getall and stat of the same tokens, stat fetched 100 days after the sessions.
Dated by ``fetched_at``, every stat count fell on the fetch day and the error table's previous
period read 0.
"""
from __future__ import annotations


import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

import faceanalytics as fa
from faceanalytics import analytics as A
from faceanalytics import engines as E
from faceanalytics.pipeline.ingest import ingest
from faceanalytics.report import review
from faceanalytics.report._sections import _Builder

from _helpers import baidu_getall, envelope, write_jsonl

SINCE, UNTIL = "2026-07-01", "2026-08-01"          # previous period: June
PREV, CUR = 6 * 2, 4 * 3 + 5                         # 222380 counts: June's tokens, July's + the lone one


_getall = baidu_getall      # every attempt at one time


def _stat(n: int) -> dict:
    return {"success": True, "log_id": "1", "result": {
        "Verify_FIN": [{"error_code": 0, "count": 1}, {"error_code": 222380, "count": n}]}}


def _records(lone_getall: str | None = None) -> list[dict]:
    recs = []
    for i in range(6):                                 # verified in June, stat fetched in late September
        tok = f"tokprev{i:012d}"
        recs.append(envelope("baidu_getall", tok, _getall(f"2026-06-{10 + i} 10:00:00"),
                             fetched_at=f"2026-06-{10 + i}T11:00:00Z"))
        recs.append(envelope("baidu_stat", tok, _stat(2), fetched_at="2026-09-20T10:00:00Z"))
    for i in range(4):                                 # verified in July, stat fetched ~100 days later
        tok = f"tokcur{i:013d}"
        recs.append(envelope("baidu_getall", tok, _getall(f"2026-07-{10 + i} 10:00:00"),
                             fetched_at=f"2026-07-{10 + i}T11:00:00Z"))
        recs.append(envelope("baidu_stat", tok, _stat(3), fetched_at="2026-10-18T10:00:00Z"))
    # no getall: stays at its fetch time (in July)
    recs.append(envelope("baidu_stat", "toklonely000000001", _stat(5), fetched_at="2026-07-20T10:00:00Z"))
    if lone_getall is not None:
        recs.append(envelope("baidu_getall", "toklonely000000001", _getall(lone_getall),
                             fetched_at="2026-10-20T10:00:00Z"))
    return recs


@pytest.fixture
def data(tmp_path):
    d = tmp_path / "data"
    ingest([write_jsonl(tmp_path / "in.jsonl", _records())], d)
    return d


def _codes(e: pd.DataFrame) -> list:
    return e.loc[e["code"] == "222380", ["code", "detail", "count"]].values.tolist()


def test_place_untimed_moves_rows_to_their_tokens_getall_time(data):
    s = fa.load(data, "sessions")
    ec = fa.load(data, "error_counts")
    placed = A.place_untimed(ec, s)
    by_token = placed.groupby("session_id")["session_time"].first()
    getall = s[s.source == "baidu_getall"].set_index("session_id")["session_time"]
    for tok, t in getall.items():
        assert by_token[tok] == t, tok
    assert by_token["toklonely000000001"] == pd.Timestamp("2026-07-20T10:00:00Z")   # no getall: fetched_at
    assert placed["session_time"].dtype == ec["session_time"].dtype
    assert set(placed.loc[placed.session_id.str.startswith("tokprev"), "month"]) == {"2026-09"}   # stored there
    ps = A.place_untimed(s, s)
    assert ps.loc[ps.source == "baidu_stat"].set_index("session_id")["time_basis"].to_dict() == {
        **{t: "getall" for t in getall.index}, "toklonely000000001": "fetched_at"}
    # the pandas metric on the placed rows of each period: the previous period has its counts
    assert _codes(A.error_codes(A.period_slice(placed, "2026-06-01", SINCE))) == [["222380", "Verify_FIN", PREV]]
    assert _codes(A.error_codes(A.period_slice(placed, SINCE, UNTIL))) == [["222380", "Verify_FIN", CUR]]
    # nothing to move: the same frame back
    megvii = ec.assign(source="megvii_lite")
    assert A.place_untimed(megvii, s) is megvii
    assert A.place_untimed(ec, s[s.source != "baidu_getall"]) is ec


@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
def test_engines_error_codes_place_stat_rows(data, engine):
    prev = E.error_codes(data, ["error_counts"], since="2026-06-01", until=SINCE, engine=engine)
    cur = E.error_codes(data, ["error_counts"], since=SINCE, until=UNTIL, engine=engine)
    assert _codes(prev) == [["222380", "Verify_FIN", PREV]]
    assert _codes(cur) == [["222380", "Verify_FIN", CUR]]
    late = E.error_codes(data, ["error_counts"], since="2026-09-01", until="2026-11-01", engine=engine)
    assert late.empty                                  # nothing is left on the fetch days


def test_review_error_table_shows_the_previous_period_and_the_method_counts_placed_rows(data):
    a = review(data, SINCE, UNTIL, engine="duckdb")
    b = review(data, SINCE, UNTIL, engine="pandas")
    for name, x in a.summaries.counts.items():
        y = b.summaries.counts[name]
        if x is None or y is None:
            assert x is None and y is None, name
        else:
            assert_frame_equal(x, y, obj=name)
    for r in (a, b):
        assert _codes(r.summaries.error_codes("previous")) == [["222380", "Verify_FIN", PREV]]
        assert _codes(r.summaries.error_codes("current")) == [["222380", "Verify_FIN", CUR]]
        rows = _Builder(r).errors()["blocks"][-1]["rows"]
        row = next(x for x in rows if "222380" in str(x[0]))
        assert (row[3], row[-1]) == (f"{CUR:,}", f"{PREV:,}")
        tb = r.summaries.time_basis("current").set_index(["source", "time_basis"])["n"].to_dict()
        assert tb == {("baidu_getall", "verify_time"): 4, ("baidu_stat", "getall"): 4,
                      ("baidu_stat", "fetched_at"): 1}
        assert r.summaries.time_basis("previous").set_index(["source", "time_basis"])["n"].to_dict() == {
            ("baidu_getall", "verify_time"): 6, ("baidu_stat", "getall"): 6}
        method = " ".join(str(x) for x in _Builder(r).method()["blocks"][1]["rows"])
        assert "getall verification time" in method and "when it was fetched" in method


def test_a_getall_landing_later_moves_kept_counts(tmp_path):
    """Counts kept beside the tables are read back only while the rows that place them are the
    same: a getall landed later for the lone token moves its stat row out of July."""
    d = tmp_path / "data"
    ingest([write_jsonl(tmp_path / "a.jsonl", _records())], d)
    first = review(d, SINCE, UNTIL, engine="duckdb")
    again = review(d, SINCE, UNTIL, engine="duckdb")
    for name, x in first.summaries.counts.items():
        y = again.summaries.counts[name]
        assert (x is None and y is None) or x.equals(y), name
    ingest([write_jsonl(tmp_path / "b.jsonl", [_records("2026-06-25 10:00:00")[-1]])], d)
    moved = review(d, SINCE, UNTIL, engine="duckdb")
    ref = review(d, SINCE, UNTIL, engine="pandas")
    for r in (moved, ref):
        assert _codes(r.summaries.error_codes("previous")) == [["222380", "Verify_FIN", PREV + 5]]
        assert _codes(r.summaries.error_codes("current")) == [["222380", "Verify_FIN", CUR - 5]]
    for name, x in moved.summaries.counts.items():
        y = ref.summaries.counts[name]
        assert (x is None and y is None) or x.equals(y), name


def test_in_memory_frames_follow_the_same_rule(data):
    frames = {t: fa.load(data, t) for t in ("sessions", "error_counts", "attempts", "comparisons", "genuineness")}
    r = review(frames, SINCE, UNTIL)
    assert _codes(r.summaries.error_codes("previous")) == [["222380", "Verify_FIN", PREV]]
