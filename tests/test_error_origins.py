"""Each failure counted once in the error table's shares and totals (issue 11, "the headline tells
the truth").

One failed Baidu attempt is counted three times: by getall (origin ``baidu_attempt``) and by
stat's per-API tally, once under ``Verify_FIN`` and once more under ``verify`` (origin
``baidu_stat``).  Shares pooled over origins made every code's share, the Pareto and the
"N errors" total count it three times.  Shares and cumulative shares are now within each origin,
and the report names each origin's own total without adding them up: one rule in the metric,
the engines and the report.
"""
from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

import faceanalytics as fa
from faceanalytics import analytics as A
from faceanalytics import engines as E
from faceanalytics.pipeline.ingest import ingest
from faceanalytics.report import review
from faceanalytics.report._sections import _Builder
from faceanalytics.report._text import origin as origin_label

from _helpers import baidu_getall, envelope, write_jsonl

SINCE, UNTIL = "2026-07-01", "2026-08-01"
# Per token: attempt 1 fails 222380 (billed), attempt 2 fails 223120 (not billed), attempt 3 passes.
FAILS = (("222380", "人脸比对未通过,相似度低于阈值", True), ("223120", "活体检测未通过", False))
TOKENS = 5


def _getall(day: int) -> dict:
    def failing_then_passing(ok):
        attempts = []
        for order, (code, msg, charged) in enumerate(FAILS, 1):
            a = copy.deepcopy(ok)
            a.update(order=order, is_verify_passed=False, code=code, message=msg, is_charged=charged)
            attempts.append(a)
        ok["order"] = len(attempts) + 1
        return [*attempts, ok]
    return baidu_getall(f"2026-07-{day:02d} 10:00:00", failing_then_passing)


def _stat() -> dict:
    """What Baidu's stat answers for that token: every verification call under Verify_FIN and again
    under verify (the document lists both as 人脸实名认证接口), and one Sessioncode call."""
    calls = [{"error_code": 0, "count": 1}] + [{"error_code": int(c), "count": 1} for c, _, _ in FAILS]
    return {"success": True, "log_id": "1", "result": {
        "Verify_FIN": copy.deepcopy(calls), "verify": copy.deepcopy(calls),
        "Sessioncode": [{"error_code": 0, "count": 1}]}}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("origins")
    recs = []
    for i in range(TOKENS):
        tok = f"tokorigin{i:011d}"
        recs.append(envelope("baidu_getall", tok, _getall(10 + i), fetched_at=f"2026-07-{10 + i}T11:00:00Z"))
        recs.append(envelope("baidu_stat", tok, _stat(), fetched_at="2026-07-25T10:00:00Z"))
    ingest([write_jsonl(tmp / "in.jsonl", recs)], tmp / "data")
    return tmp / "data"


def _within_origin(e: pd.DataFrame) -> None:
    for o, g in e.groupby("origin"):
        assert g["share"].sum() == pytest.approx(1), o
        assert np.allclose(g["cumulative_share"], g["count"].cumsum() / g["count"].sum()), o


def test_shares_are_within_each_origin_and_stat_does_not_dilute_the_attempts(data):
    tables = [fa.load(data, t) for t in ("sessions", "error_counts", "attempts")]
    e = A.error_codes(*tables)
    att = e[e["origin"] == "baidu_attempt"].set_index("code")
    stat = e[e["origin"] == "baidu_stat"].set_index(["code", "detail"])
    # Counted once per failed attempt by getall, and twice (Verify_FIN, verify) by stat.
    assert att["count"].to_dict() == {"222380": TOKENS, "223120": TOKENS}
    assert stat["count"].to_dict() == {(c, api): TOKENS for c, _, _ in FAILS for api in ("Verify_FIN", "verify")}
    # Each attempt code is half of the attempts' failures, not a sixth of everything counted.
    assert att["share"].to_dict() == {"222380": 0.5, "223120": 0.5}
    assert stat["share"].tolist() == [0.25] * 4
    _within_origin(e)
    # Adding the stat table leaves the attempts' figures as they are alone.
    alone = A.error_codes(tables[2])
    assert_frame_equal(e[e["origin"] == "baidu_attempt"].reset_index(drop=True), alone)
    from faceanalytics.analytics._errors import origin_totals   # here: the tests above run on main too

    o = origin_totals(e).set_index("origin")
    assert o.loc["baidu_attempt", ["count", "codes", "billed", "not_billed"]].tolist() == [2 * TOKENS, 2, TOKENS,
                                                                                          TOKENS]
    assert o.loc["baidu_stat", "count"] == 4 * TOKENS and o.loc["baidu_stat", "top_share"] == 0.25


def test_by_groups_keep_shares_within_origin(data):
    e = A.error_codes(fa.load(data, "error_counts"), fa.load(data, "attempts"), by="session_id")
    assert e["session_id"].nunique() == TOKENS
    for _, g in e.groupby("session_id"):
        assert set(g["origin"]) == {"baidu_attempt", "baidu_stat"}
        _within_origin(g)


@pytest.mark.parametrize("engine", ["duckdb"])
def test_engine_agrees_with_the_pandas_metric(data, engine):
    ref = E.error_codes(data, engine="pandas")
    got = E.error_codes(data, engine=engine)
    assert_frame_equal(got, ref)
    assert_frame_equal(got, A.error_codes(*[fa.load(data, t) for t in E.ERROR_TABLES]))
    _within_origin(got)


@pytest.mark.parametrize("engine", ["duckdb", "pandas"])
def test_report_table_equals_the_metric_and_its_text_adds_no_origins_up(data, engine):
    r = review(data, SINCE, UNTIL, engine=engine)
    e = r.summaries.error_codes("current")
    assert_frame_equal(e, E.error_codes(data, since=SINCE, until=UNTIL, engine=engine))
    sec = _Builder(r).errors()
    rows = sec["blocks"][-1]["rows"]
    assert len(rows) == len(e)
    from faceanalytics.report import _text as T
    from faceanalytics.report._sections import _code
    want = {(_code(x), T.origin(x["origin"])): (f"{int(x['count']):,}", T.pct(x["share"]),
                                                 T.pct(x["cumulative_share"])) for _, x in e.iterrows()}
    assert {(row[0], row[1]): (row[3], row[4], row[5]) for row in rows} == want
    # Rows of one origin together, so each cumulative column reads as its own Pareto.
    seen = [row[1] for row in rows]
    assert seen == sorted(seen, key=seen.index)
    text = str(sec["blocks"][0])
    for o, g in e.groupby("origin"):
        assert f"{origin_label(o)}: {int(g['count'].sum()):,} in {len(g)} code" in text
    total = int(e["count"].sum())                       # the three counts of each failure added up
    assert f"{total:,} errors" not in text
    assert f"{TOKENS:,} errors billed" in text
