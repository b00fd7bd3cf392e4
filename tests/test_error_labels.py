"""Baidu ``detail`` repeats the latest attempt's code (the document: ``code`` "错误码 (仅认证失败时展示)");
the error table labelled that repeat "API error", as if the call had been refused.  It is now the
origin ``baidu_latest`` ("Baidu latest attempt, as detail repeats it") in the metric, the engines,
the report's table, the workbook and the findings' series, while a refused call on the same API
(a platform ``error_code`` such as 18, or "Token无效或者已过期") stays an API error.
"""
from __future__ import annotations


import pytest
from pandas.testing import assert_frame_equal

import faceanalytics as fa
from faceanalytics import analytics as A
from faceanalytics import engines as E
from faceanalytics.pipeline.ingest import ingest
from faceanalytics.report import review
from faceanalytics.report._sections import _Builder

from _helpers import baidu_getall, envelope, write_jsonl

SINCE, UNTIL = "2026-07-01", "2026-08-01"
TOKENS = 4
LABEL = "Baidu latest attempt, as detail repeats it"


def _getall(day: int) -> dict:
    """One failed attempt (223120, liveness failed), the latest, on day ``day``."""
    def one_failed(a):
        a.update(order=1, is_verify_passed=False, code="223120", message="活体检测未通过", is_charged=False)
        return [a]
    return baidu_getall(f"2026-07-{day:02d} 10:00:00", one_failed)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("labels")
    recs = []
    for i in range(TOKENS):
        tok = f"toklabel{i:012d}"
        at = f"2026-07-{10 + i}T11:00:00Z"
        recs.append(envelope("baidu_getall", tok, _getall(10 + i), fetched_at=at))
        # detail answers the failed verification with the latest attempt's code
        recs.append(envelope("baidu_detail", tok, {"success": False, "code": 223120, "message": "活体检测未通过",
                                                    "log_id": f"9{i}"}, fetched_at=at))
    # refused calls on the same API: a platform error and an expired verify_token
    recs.append(envelope("baidu_detail", "toklabelqps000000000", {"error_code": 18, "error_msg":
                                                                  "Open api qps request limit reached"},
                         fetched_at="2026-07-12T11:00:00Z"))
    recs.append(envelope("baidu_detail", "toklabelgone00000000", {"success": False, "code": 216401,
                                                                  "message": "Token无效或者已过期", "log_id": "7"},
                         fetched_at="2026-07-12T11:00:00Z"))
    ingest([write_jsonl(tmp / "in.jsonl", recs)], tmp / "data")
    return tmp / "data"


def _origins(e):
    return {(o, c): int(n) for o, c, n in zip(e["origin"], e["code"], e["count"])}


def test_the_metric_labels_details_repeat_for_what_it_is(data):
    e = A.error_codes(fa.load(data, "sessions"), fa.load(data, "attempts"))
    assert _origins(e) == {("baidu_latest", "223120"): TOKENS, ("baidu_attempt", "223120"): TOKENS,
                           ("api_error", "18"): 1, ("api_error", "216401"): 1}
    from faceanalytics.analytics._errors import repeats_latest_attempt

    assert repeats_latest_attempt(fa.load(data, "sessions")).sum() == TOKENS


def test_the_engines_label_it_alike(data):
    ref = A.error_codes(*[fa.load(data, t) for t in E.ERROR_TABLES])
    assert ("baidu_latest", "223120") in _origins(ref)
    for engine in ("duckdb", "pandas"):
        assert_frame_equal(E.error_codes(data, engine=engine), ref)


def test_the_report_and_the_workbook_name_it(data):
    r = review(data, SINCE, UNTIL)
    rows = _Builder(r).errors()["blocks"][-1]["rows"]
    where = {(row[0], row[1]) for row in rows}
    assert ("223120", LABEL) in where and ("223120", "Baidu attempt") in where
    assert ("223120", "API error") not in where
    assert {("18", "API error"), ("216401", "API error")} <= where
    sheet = r.tables()["errors"]
    assert set(zip(sheet["code"], sheet["origin"])) == {(c, o) for c, o in where}
    html = r.html()
    assert LABEL in html
    # the findings' series count it under its origin (a wave of it is named so in the JSON)
    series = r.info["series"]
    err = series[series["family"] == "error"]
    assert set(err.loc[err["code"] == "223120", "origin"]) == {"baidu_latest", "baidu_attempt"}


def test_chinese_labels_too(data):
    html = review(data, SINCE, UNTIL, lang="zh-CN").html()
    assert "百度最近一次核验（认证结果查询接口重复）" in html


def test_data_quality_counts_only_refused_calls_as_api_errors(data):
    """The data-quality check ``api_error`` ("the provider refused the call") counts the two refused
    calls, not detail's repeats of a failed verification: in the metric and the review alike."""
    from faceanalytics.report._summary import summarize

    s = fa.load(data, "sessions")
    want = A.data_quality(s, comparisons=fa.load(data, "comparisons")).set_index(["check", "source"])
    assert want.loc[("api_error", "baidu_detail"), "n"] == 2
    nr = A.sessions_without_result(s, fa.load(data, "comparisons"), mask=False)
    assert sorted(nr.loc[nr["reason"] == "api_error", "session_id"]) == ["toklabelgone00000000",
                                                                         "toklabelqps000000000"]
    for engine in ("duckdb", "pandas"):
        got = summarize(data, SINCE, UNTIL, engine=engine).data_quality().set_index(["check", "source"])
        assert got.loc[("api_error", "baidu_detail"), "n"] == 2, engine
