"""The sandbox over real loopback sockets: protocols, quotas, limits, faults, population,
and every default answer checked against schemas written from the provider documents."""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from Crypto.Cipher import AES

import _doc_schemas as doc
from faceanalytics.sandbox import RUNTIME_FIELDS, Sandbox, SandboxConfig, _app, _megvii
from faceanalytics.sandbox._cli import build_parser
from faceanalytics.sandbox._synth import (
    GENUINE,
    IMPOSTOR,
    THRESHOLDS_2016,
    THRESHOLDS_NOW,
)

LITE = "/faceid/lite/get_result"
LIVENESS = "/faceid/liveness/v2/get_result"
BAIDU = "/rpc/2.0/brain/solution/faceprint/"
REQUEST_ID = re.compile(r"^\d{10},[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
ERROR_KEYS = {"error_message", "request_id", "time_used"}
SIZES = dict(n_lite=800, n_liveness=300, n_baidu=200)
DEFAULTS = SandboxConfig()


@pytest.fixture(scope="module")
def server():
    with Sandbox(seed=11, **SIZES) as sb:
        yield sb


@pytest.fixture
def sb(server):
    """The shared sandbox, with counters and run-time settings restored after each test."""
    server.reset()
    yield server
    server.set(**{name: getattr(DEFAULTS, name) for name in RUNTIME_FIELDS})
    server.reset()


@pytest.fixture
def http():
    with requests.Session() as session:
        yield session


def megvii_params(sb, biz_id, **extra):
    return {"api_key": sb.megvii_api_key, "api_secret": sb.megvii_api_secret, "biz_id": biz_id, **extra}


def access_token(sb, http):
    r = http.post(sb.url + "/oauth/2.0/token", params={
        "grant_type": "client_credentials", "client_id": sb.baidu_api_key,
        "client_secret": sb.baidu_secret_key})
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


def baidu_post(sb, http, endpoint, token, body):
    return http.post(sb.url + BAIDU + endpoint, params={"access_token": token}, json=body)


def lite_sessions(sb, **options):
    return [(bid, sb.payload(bid, **options)) for bid in sb.ids("megvii-lite")]


def decrypt_rule(blob: bytes, api_secret: str) -> bytes:
    key = api_secret[:32].ljust(32).encode()
    return AES.new(key, AES.MODE_ECB).decrypt(blob[:1024]) + blob[1024:]


# --- population ---------------------------------------------------------------------------

def test_same_seed_same_answers_other_seed_other_ids(server, http):
    with Sandbox(seed=11, **SIZES) as twin, Sandbox(seed=12, **SIZES) as other:
        for kind in ("megvii-lite", "megvii-liveness", "baidu"):
            assert twin.ids(kind) == server.ids(kind)
            assert set(other.ids(kind)).isdisjoint(server.ids(kind))
        token_a, token_b = access_token(server, http), access_token(twin, http)
        for bid in server.ids("megvii-lite")[:15]:
            a = http.get(server.url + LITE, params=megvii_params(server, bid, return_image=4,
                                                                 return_verify_time=1))
            b = http.get(twin.url + LITE, params=megvii_params(twin, bid, return_image=4,
                                                               return_verify_time=1))
            assert a.status_code == b.status_code == 200
            assert a.text.replace(server.url, "") == b.text.replace(twin.url, "")
        for tok in server.ids("baidu")[:10]:
            a = baidu_post(server, http, "result/getall", token_a, {"verify_token": tok})
            b = baidu_post(twin, http, "result/getall", token_b, {"verify_token": tok})
            assert a.text.replace(server.url, "") == b.text.replace(twin.url, "")
    server.reset()


def test_large_population_builds_fast():
    started = time.perf_counter()
    big = Sandbox(seed=5, n_lite=50_000, n_liveness=1000, n_baidu=1000)
    assert time.perf_counter() - started < 2.0
    ids = big.ids("megvii-lite")
    assert len(ids) == len(set(ids)) == 50_000
    epochs = [int(i.split(",")[0]) for i in ids]
    assert max(epochs) - min(epochs) > 100 * 86400  # spread over the 120-day window
    assert all(REQUEST_ID.match(i) for i in ids[:100])
    assert all(re.fullmatch(r"[A-Za-z0-9]{24}", t) for t in big.ids("baidu"))


def test_confidences_sit_around_the_thresholds(server):
    cohort = server.population.lite
    by_class = {GENUINE: [], IMPOSTOR: []}
    for bid, payload in lite_sessions(server):
        cls = int(cohort.cls[cohort.index[bid]])
        faceid = (payload.get("verify_result") or {}).get("result_faceid")
        if cls in by_class and faceid and not isinstance(faceid["confidence"], str):
            by_class[cls].append(faceid["confidence"])
            assert faceid["thresholds"] == THRESHOLDS_NOW
            assert 0 <= faceid["confidence"] <= 100
            assert round(faceid["confidence"], 3) == faceid["confidence"]
    genuine, impostor = by_class[GENUINE], by_class[IMPOSTOR]
    assert len(genuine) > 300 and len(impostor) > 30
    assert statistics.mean(genuine) > THRESHOLDS_NOW["1e-4"] + 6
    assert 74 < statistics.mean(genuine) < 86 and 3 < statistics.stdev(genuine) < 9
    assert statistics.mean(impostor) < THRESHOLDS_NOW["1e-4"] - 10


def test_2016_era_uses_the_older_thresholds():
    old = Sandbox(seed=2, n_lite=400, n_liveness=0, n_baidu=0, era_2016_share=0.3)
    seen = {"old": 0, "new": 0}
    for bid in old.ids("megvii-lite"):
        faceid = (old.payload(bid).get("verify_result") or {}).get("result_faceid")
        if faceid and not isinstance(faceid["confidence"], str):
            year = time.gmtime(int(bid.split(",")[0])).tm_year
            assert faceid["thresholds"] == (THRESHOLDS_2016 if year == 2016 else THRESHOLDS_NOW)
            seen["old" if year == 2016 else "new"] += 1
    assert seen["old"] > 30 and seen["new"] > 100


def test_genuineness_is_low_for_bona_fide_and_high_for_caught_attacks(server):
    cohort = server.population.lite
    bona, caught = [], []
    for bid, payload in lite_sessions(server):
        live = payload.get("liveness_result")
        if not live or isinstance(live["face_genuineness"]["mask_confidence"], str):
            continue
        fg = live["face_genuineness"]
        cls = int(cohort.cls[cohort.index[bid]])
        if cls == GENUINE:
            bona.append(fg["mask_confidence"])
        elif cls == 2 and live["result"] == "FAIL":  # mask attack that was caught
            caught.append(fg["mask_confidence"])
        assert all(0 <= v <= 1 for v in fg.values())
    assert statistics.mean(bona) < 0.2 and statistics.mean(caught) > 0.6


# --- Megvii shapes ------------------------------------------------------------------------

def test_lite_shapes_follow_the_document(server):
    statuses, spellings, legality_keys = set(), set(), set()
    saw_images = saw_quality = False
    for bid, p in lite_sessions(server, return_image=4, get_fail_reason=1, return_multifaces_tag=1):
        statuses.add(p["status"])
        assert REQUEST_ID.match(p["request_id"]) and p["biz_info"]["biz_id"] == bid
        assert set(p["biz_info"]) == {"biz_id", "biz_no", "biz_extra_data"}
        assert isinstance(p["time_used"], int)
        assert p["multifaces_tag"] in ("0", "1")  # the table: String
        if p["status"] in ("NOT_STARTED", "PROCESSING"):
            assert not {"idcard_info", "liveness_result", "verify_result"} & set(p)
        assert ("fail_reason" in p) == (p["status"] == "WEBRTC_UNSUPPORTED")
        if "fail_reason" in p:
            assert p["fail_reason"] in ("NETWORK_ERROR", "PERMISSIONS_ERROR", "SUPPORT_ERROR")
        info = p.get("idcard_info")
        if info:
            spellings |= {"idcard_uneditable_feild", "idcard_uneditable_field"} & set(info)
            for side in ("front_side", "back_side"):
                if side in info:
                    legality_keys |= set(info[side]["ocr_result"]["legality"])
            saw_quality |= "ocr_front_quality" in info
        verify = p.get("verify_result")
        if verify:
            assert p["liveness_result"]["result"] == "PASS"
            assert "verify_time" not in verify
            assert verify.get("error_message") in (None,) + _megvii.VERIFY_ERRORS
            for key, value in verify.items():
                if key.startswith("result_"):
                    assert set(value["thresholds"]) == {"1e-3", "1e-4", "1e-5", "1e-6"}
        images = p.get("images")
        if images:
            saw_images = True
            assert p["liveness_result"]["result"] == "PASS"
            assert verify.get("error_message") in (None,) + _megvii.BILLABLE_VERIFY_ERRORS
            for uri in images.values():
                raw = base64.b64decode(uri.split(",", 1)[1])
                assert raw[:2] == b"\xff\xd8" and raw[-2:] == b"\xff\xd9"
        if p["status"] in ("CANCELLED", "TIMEOUT"):  # the user interrupted the flow
            assert not {"idcard_info", "liveness_result", "verify_result"} & set(p)
        if "liveness_result" in p:
            assert p["liveness_result"]["procedure_type"] == "will"
            assert len(p["liveness_result"]["face_genuineness"]) == 6
    assert statuses == {"OK", "NOT_STARTED", "PROCESSING", "WEBRTC_UNSUPPORTED", "FAILED",
                        "CANCELLED", "TIMEOUT"}
    assert spellings == {"idcard_uneditable_feild", "idcard_uneditable_field"}
    assert legality_keys == {"ID Photo", "Temporary ID Photo ", "Photocopy", "Screen", "Edited"}
    assert saw_images and saw_quality


def test_lite_options_filter_the_payload(server, http):
    ok = next(b for b, p in lite_sessions(server) if p.get("verify_result") and "error_message"
              in p["verify_result"] and p["verify_result"]["error_message"] is None)
    r = http.get(server.url + LITE, params=megvii_params(server, ok, return_verify_time=1, return_image=1))
    body = r.json()
    assert r.status_code == 200
    assert body["verify_result"]["verify_time"] - int(ok.split(",")[0]) in range(5, 120)
    assert list(body["images"]) == ["image_best"]
    plain = http.get(server.url + LITE, params=megvii_params(server, ok)).json()
    assert "images" not in plain and "verify_time" not in plain["verify_result"]
    assert "multifaces_tag" not in plain


def test_will_sessions_link_to_sandbox_media(server):
    wills = [p for _, p in lite_sessions(server) if "will_file" in p]
    assert wills
    empty = 0
    for p in wills:
        assert p["liveness_result"]["procedure_type"] == "will"
        assert all(w["result"] in ("PASS", "FAIL") for w in p["will_result"])
        files = p["will_file"]
        for url in [files["will_video"]] + [d["question_audio"] for d in files["will_audio_details"]]:
            assert url == "" or url.startswith(server.url + "/_sandbox/media/")
            empty += url == ""
    assert empty > 0


def test_liveness_v2_shapes(server, http):
    reasons, verify_kinds = set(), set()
    for bid in server.ids("megvii-liveness"):
        p = server.payload(bid, get_image_type=2)
        assert {"biz_id", "biz_no", "biz_extra_data", "liveness_result", "request_id", "time_used",
                "verify_result"} <= set(p) and "biz_info" not in p
        assert p["biz_id"] == bid
        live = p["liveness_result"]
        assert set(live) == {"failure_reason", "log", "result", "version"}
        reasons.add(live["failure_reason"])
        if live["result"] == "failed":
            assert live["failure_reason"] in _megvii.V2_FAILURES and p["verify_result"] is None
            assert p["images"] is None
        else:
            assert set(p["images"]) >= {"image_best", "image_action1", "image_action2"}
        v = p["verify_result"]
        if v is None:
            verify_kinds.add("null")
        elif "error" in v:
            verify_kinds.add(v["error"])
        else:
            verify_kinds.add("result")
            for key in ("result_faceid", "result_ref1"):
                if key in v and not isinstance(v[key]["confidence"], str):
                    assert set(v[key]["thresholds"]) == {"1e-3", "1e-4", "1e-5"}
            assert REQUEST_ID.match(v["request_id"]) and "face_genuineness" in v
    assert reasons - {None} <= set(_megvii.V2_FAILURES) and None in reasons  # null on success
    assert {"null", "result", "VERIFY_API_FAILED"} <= verify_kinds
    bid = server.ids("megvii-liveness")[0]
    r = http.get(server.url + LIVENESS, params=megvii_params(server, bid, get_image_type=1))
    assert r.status_code == 200 and r.json()["biz_id"] == bid
    assert r.json()["images"] is None or list(r.json()["images"]) == ["image_best"]


def test_wild_shapes_send_numbers_as_strings(sb):
    sb.set(wild=1.0)
    p = next(p for _, p in lite_sessions(sb) if (p.get("verify_result") or {}).get("result_faceid"))
    faceid = p["verify_result"]["result_faceid"]
    assert isinstance(faceid["confidence"], str) and float(faceid["confidence"]) >= 0
    assert all(isinstance(v, str) for v in faceid["thresholds"].values())
    assert all(isinstance(v, str) for v in p["liveness_result"]["face_genuineness"].values())
    sb.set(wild=0.02)
    share = sum(sb.population.lite.u_wild < 0.02) / len(sb.population.lite)
    assert 0.005 < share < 0.04


# --- Megvii errors, quota, limits -----------------------------------------------------------

def expect_error(response, status, message):
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == ERROR_KEYS and body["error_message"] == message
    assert REQUEST_ID.match(body["request_id"])
    assert not doc.errors(doc.MEGVII_ERROR, body)
    assert status == doc.MEGVII_ERROR_STATUS[message.split(":")[0]]  # the documents' error table
    if response.url.split("?")[0].endswith(LIVENESS):
        assert message.split(":")[0] in doc.LIVENESS_ERRORS


def test_every_documented_megvii_error(sb, http):
    bid = sb.ids("megvii-lite")[1]
    url = sb.url + LITE
    good = megvii_params(sb, bid)
    expect_error(http.get(url, params={**good, "api_secret": "wrong-secret"}), 403, "AUTHENTICATION_ERROR")
    expect_error(http.get(url, params={**good, "api_key": "someone-else"}), 403, "AUTHENTICATION_ERROR")
    expect_error(http.get(url, params={**good, "api_key": sb.megvii_disabled_api_key}), 403,
                 "AUTHORIZATION_ERROR:Denied.")
    for missing in ("api_key", "api_secret", "biz_id"):
        params = {k: v for k, v in good.items() if k != missing}
        expect_error(http.get(url, params=params), 400, f"MISSING_ARGUMENTS:{missing}")
    expect_error(http.get(url, params={**good, "return_image": 9}), 400, "BAD_ARGUMENTS:return_image")
    expect_error(http.get(url, params={**good, "return_verify_time": "yes"}), 400,
                 "BAD_ARGUMENTS:return_verify_time")
    live = megvii_params(sb, sb.ids("megvii-liveness")[0], get_image_type=3)
    expect_error(http.get(sb.url + LIVENESS, params=live), 400, "BAD_ARGUMENTS:get_image_type")
    expect_error(http.get(url, params={**good, "biz_id": "1700000000,not-a-session"}), 400, "RESULT_NOT_FOUND")
    expect_error(http.get(url, params={**good, "biz_id": sb.ids("megvii-liveness")[0]}), 400,
                 "RESULT_NOT_FOUND")
    expired = next(i for i, e in zip(sb.ids("megvii-lite"), sb.population.lite.expired) if e)
    expect_error(http.get(url, params=megvii_params(sb, expired)), 403, "DATA_DESTROYED")
    expect_error(http.get(sb.url + "/faceid/lite/get_resultz", params=good), 404, "API_NOT_FOUND")
    sb.set(fault_rate_500=1.0)
    expect_error(http.get(url, params=good), 500, "INTERNAL_ERROR")
    sb.set(fault_rate_500=0.0, fault_rate_encryption=1.0)
    expect_error(http.get(url, params=good), 400, "MESSAGE_ENCRYPTION_ERROR")
    sb.set(fault_rate_encryption=0.0)
    # Bad arguments and injected faults spent this id's three calls (strictest counting).
    assert sb.calls(bid) == 4
    expect_error(http.get(url, params=good), 403, "DATA_DESTROYED")
    # POST with a form body is read the same way.
    fresh = megvii_params(sb, sb.ids("megvii-lite")[5])
    assert http.post(url, data=fresh).status_code == 200


def test_fourth_call_is_data_destroyed_and_faulted_calls_count(sb, http):
    bid, other = sb.ids("megvii-lite")[2:4]
    url = sb.url + LITE
    for _ in range(3):
        assert http.get(url, params=megvii_params(sb, bid)).status_code == 200
    expect_error(http.get(url, params=megvii_params(sb, bid)), 403, "DATA_DESTROYED")
    assert sb.calls(bid) == 4
    # Strictest counting: an injected 500 and a concurrency rejection spend calls too;
    # bad credentials do not.
    sb.set(fault_rate_500=1.0)
    assert http.get(url, params=megvii_params(sb, other)).status_code == 500
    sb.set(fault_rate_500=0.0)
    assert http.get(url, params={**megvii_params(sb, other), "api_secret": "x"}).status_code == 403
    assert sb.calls(other) == 1
    assert http.get(url, params=megvii_params(sb, other)).status_code == 200
    assert http.get(url, params=megvii_params(sb, other)).status_code == 200
    expect_error(http.get(url, params=megvii_params(sb, other)), 403, "DATA_DESTROYED")
    stats = http.get(sb.url + "/_sandbox/stats").json()
    assert stats["calls"][bid] == 4 and stats["max_calls"] == 4
    assert stats["faults"]["internal_error"] == 1 and stats["errors"]["DATA_DESTROYED"] == 2


def parallel(n, fn):
    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(lambda i: fn(i), range(n)))


def test_concurrency_limit_rejects_parallel_load(sb):
    sb.set(latency_ms=300, concurrency=2)
    ids = sb.ids("megvii-lite")[10:18]

    def megvii(i):
        with requests.Session() as s:
            return s.get(sb.url + LITE, params=megvii_params(sb, ids[i]))

    answers = parallel(8, megvii)
    codes = [r.status_code for r in answers]
    rejected = [r for r in answers if r.status_code == 403]
    assert 1 <= codes.count(200) <= 4 and rejected
    for r in rejected:
        expect_error(r, 403, "CONCURRENCY_LIMIT_EXCEEDED")
    assert sum(sb.calls(i) for i in ids) == 8  # rejected requests were counted too
    assert sb.stats()["peak_in_flight"]["megvii"] == 2

    with requests.Session() as s:
        token = access_token(sb, s)
    # tokens with results: a token no user went through (the population's 5th) answers
    # "Token无效或者已过期" whenever its request is among those admitted -- a flaky failure
    tokens = [t for t, u, e in zip(sb.ids("baidu"), sb.population.baidu.unused, sb.population.baidu.expired)
              if not u and not e][:8]

    def baidu(i):
        with requests.Session() as s:
            return baidu_post(sb, s, "result/stat", token, {"verify_token": tokens[i]})

    bodies = [r.json() for r in parallel(8, baidu)]
    for r in bodies:
        if r.get("success") is not True:
            assert not doc.errors(doc.BAIDU_PLATFORM_ERROR, r) and "log_id" in r
            assert (r["error_code"], r["error_msg"]) == (18, "Open api qps request limit reached")
    assert 1 <= sum(r.get("success") is True for r in bodies) < 8


# --- Baidu ------------------------------------------------------------------------------------

def test_baidu_token_flow(sb, http):
    bad = http.post(sb.url + "/oauth/2.0/token", params={
        "grant_type": "client_credentials", "client_id": "nobody", "client_secret": "x"})
    assert bad.status_code == 401
    assert bad.json() == {"error": "invalid_client", "error_description": "unknown client id"}
    token = access_token(sb, http)
    assert re.match(r"^24\.[0-9a-f]{32}\.\d+\.\d+\.\d+-\d+$", token)
    for t in ("", "24.nonsense"):
        r = baidu_post(sb, http, "result/getall", t, {"verify_token": sb.ids("baidu")[0]})
        assert r.status_code == 200
        assert r.json() == {"error_code": 110, "error_msg": "Access token invalid or no longer valid"}

    r = baidu_post(sb, http, "verifyToken/generate", token, {"plan_id": 1})
    body = r.json()
    assert not doc.errors(doc.GENERATE, body)
    minted = body["result"]["verify_token"]
    assert re.fullmatch(r"[A-Za-z0-9]{24}", minted) and minted in sb.ids("baidu")
    # "用户进行操作后再查询接口,否则生成Token无法生效": before the user's flow there are no results.
    for endpoint in ("result/simple", "result/detail", "result/stat", "result/getall", "result/media/query"):
        early = baidu_post(sb, http, endpoint, token, {"verify_token": minted}).json()
        assert not doc.errors(doc.TOKEN_INVALID, early), early
    submit = baidu_post(sb, http, "idcard/submit", token,
                        {"verify_token": minted, "id_name": "张三", "id_no": "110108199001011234",
                         "certificate_type": 0}).json()
    assert not doc.errors(doc.IDCARD_SUBMIT, submit)
    upload = baidu_post(sb, http, "uploadMatchImage", token,
                        {"verify_token": minted, "image": "/9j/4AAQ"}).json()
    assert not doc.errors(doc.UPLOAD_MATCH_IMAGE, upload) and upload["result"] is None
    assert http.post(sb.url + "/_sandbox/flow", json={"verify_token": minted}).json()["ok"] is True
    getall = baidu_post(sb, http, "result/getall", token, {"verify_token": minted}).json()
    assert not doc.errors(doc.GETALL, getall)
    result = getall["result"]
    assert result["verify_count"] == len(result["verify_result"]) >= 1
    assert result["verify_result"][0]["idcard_confirm"]["name"] == "张三"
    for endpoint, schema in doc.BAIDU_RESULTS.items():
        answer = baidu_post(sb, http, "result/" + endpoint, token, {"verify_token": minted}).json()
        assert not doc.errors(schema, answer) and answer.get("message") != "Token无效或者已过期"
    # Used: no second flow, no more set-up calls.
    assert http.post(sb.url + "/_sandbox/flow", json={"verify_token": minted}).status_code == 409
    again = baidu_post(sb, http, "idcard/submit", token,
                       {"verify_token": minted, "id_name": "李四", "id_no": "110108199001011234"}).json()
    assert not doc.errors(doc.TOKEN_INVALID, again)
    assert http.post(sb.url + "/_sandbox/flow", json={"verify_token": "B" * 24}).status_code == 404

    invalid = baidu_post(sb, http, "result/detail", token, {"verify_token": "A" * 24}).json()
    assert invalid["success"] is False and invalid["message"] == "Token无效或者已过期"
    assert set(invalid) == {"success", "code", "message", "log_id"}
    expired = next(t for t, e in zip(sb.ids("baidu"), sb.population.baidu.expired) if e)
    assert not doc.errors(doc.TOKEN_INVALID, baidu_post(sb, http, "result/getall", token,
                                                        {"verify_token": expired}).json())
    # Generated, but no user ever went through: as invalid as an expired token, for every API.
    unused = [t for t, u, e in zip(sb.ids("baidu"), sb.population.baidu.unused, sb.population.baidu.expired)
              if u and not e]
    assert unused
    for endpoint in ("result/getall", "result/detail", "idcard/submit"):
        answer = baidu_post(sb, http, endpoint, token,
                            {"verify_token": unused[0], "id_name": "张三", "id_no": "110108199001011234"}).json()
        assert not doc.errors(doc.TOKEN_INVALID, answer), answer
    # A minted token nobody used within the two hours is dead too.
    late = baidu_post(sb, http, "verifyToken/generate", token, {"plan_id": "1"}).json()["result"]["verify_token"]
    sb.app._minted[late] -= _app.VERIFY_TOKEN_TTL + 1
    assert not doc.errors(doc.TOKEN_INVALID, baidu_post(sb, http, "uploadMatchImage", token,
                                                        {"verify_token": late, "image": "/9j/"}).json())
    with pytest.raises(ValueError, match="unused"):
        sb.complete_flow(late)

    sb.set(token_ttl=0.3)
    short = access_token(sb, http)
    assert baidu_post(sb, http, "result/stat", short, {"verify_token": minted}).json()["success"]
    time.sleep(0.4)
    assert baidu_post(sb, http, "result/stat", short, {"verify_token": minted}).json() == {
        "error_code": 111, "error_msg": "Access token expired"}


def test_baidu_daily_and_total_limits(sb, http):
    token = access_token(sb, http)
    tok = sb.ids("baidu")[0]
    sb.set(daily_limit=2)
    answers = [baidu_post(sb, http, "result/simple", token, {"verify_token": tok}).json() for _ in range(3)]
    assert not doc.errors(doc.BAIDU_PLATFORM_ERROR, answers[2]) and "log_id" in answers[2]
    assert (answers[2]["error_code"], answers[2]["error_msg"]) == (17, "Open api daily request limit reached")
    sb.set(daily_limit=None, total_limit=3)
    over = baidu_post(sb, http, "result/simple", token, {"verify_token": tok}).json()
    assert not doc.errors(doc.BAIDU_PLATFORM_ERROR, over)
    assert (over["error_code"], over["error_msg"]) == (19, "Open api total request limit reached")


def baidu_consistency(sb):
    """Check that each token's five answers tell one story; count the forms seen."""
    seen = dict.fromkeys(("log_int", "log_str", "code_int", "code_str", "count_str", "count_int",
                          "nested", "sibling", "multi", "unpadded", "padded", "no_score", "null_score",
                          "missing_score", "invalid"), 0)
    for tok in sb.ids("baidu"):
        getall = sb.baidu_payload(tok, "getall")
        if getall["success"] is False:  # never used, or past its retention: no results at all
            seen["invalid"] += 1
            for endpoint in ("simple", "detail", "stat", "media/query"):
                body = sb.baidu_payload(tok, endpoint)
                assert body["success"] is False and body["message"] == "Token无效或者已过期"
            continue
        stat = sb.baidu_payload(tok, "stat")["result"]
        detail = sb.baidu_payload(tok, "detail")
        media = sb.baidu_payload(tok, "media/query")["result"]
        seen["log_int" if isinstance(getall["log_id"], int) else "log_str"] += 1
        attempts = getall["result"]["verify_result"]
        assert getall["result"]["verify_count"] == len(attempts) and 1 <= len(attempts) <= 3
        seen["multi"] += len(attempts) > 1
        assert [a["order"] for a in attempts] == list(range(1, len(attempts) + 1))
        assert all(not a["is_verify_passed"] for a in attempts[:-1])
        fin = stat["Verify_FIN"]
        assert sum(int(e["count"]) for e in fin) == len(attempts)
        assert sorted(str(e["error_code"]) for e in fin for _ in range(int(e["count"]))) == sorted(
            a["code"] for a in attempts)
        for e in stat["VideoLiveness"] + stat["Livenesscolorful"] + stat["VerifySec"]:
            seen["count_str" if isinstance(e["count"], str) else "count_int"] += 1
        charged = sum(a["is_charged"] for a in attempts)
        counts = getall["result"]["verify_charge_count"] + getall["result"]["match_charge_count"]
        assert counts == charged
        for a in attempts:
            assert re.fullmatch(r"\d{4}-\d{1,2}-\d{1,2} \d{2}:\d{2}:\d{2}", a["verify_time"])
            unpadded = bool(re.match(r"\d{4}-\d-|\d{4}-\d\d-\d ", a["verify_time"]))
            seen["unpadded" if unpadded else "padded"] += 1
            assert (a["code"] == "0") == a["is_verify_passed"]
            assert a["charge_type"] in ("verify", "match")
            assert a["charge_time"] == (a["verify_time"] if a["is_charged"] else "")
            detail_ = a["verify_detail"]
            if a["code"] in ("222351", "223120", "222356"):
                assert detail_.get("score") is None
                seen["no_score"] += 1
                seen["null_score" if "score" in detail_ else "missing_score"] += 1
            else:
                assert isinstance(detail_["score"], (float, int))  # a float; integral ones are ints if wild
                assert (detail_["score"] >= detail_["threshold"]) == a["is_verify_passed"]
            nested = "idcard_ocr_result" in a["idcard_confirm"]
            seen["nested" if nested else "sibling"] += nested or "idcard_ocr_result" in a
        if attempts[-1]["is_verify_passed"]:
            assert detail["success"] is True
            images = detail["result"].get("idcard_images", {})
            for b64 in images.values():
                assert base64.b64decode(b64)[:2] == b"\xff\xd8"
        else:
            assert detail["success"] is False and {"success", "code", "message", "log_id"} <= set(detail)
            assert int(detail["code"]) == int(attempts[-1]["code"])
            seen["code_int" if isinstance(detail["code"], int) else "code_str"] += 1
        assert ("processVideo" in media) != ("video" in media)
    return seen


def test_baidu_payloads_are_consistent(server):
    seen = baidu_consistency(server)
    # Documented forms only: log_id string, code int, stat counts as each table row says,
    # idcard_ocr_result beside idcard_confirm, score present (null) when there is none.
    wild_forms = ("log_int", "code_str", "count_int", "nested", "missing_score")
    assert all(seen[k] == 0 for k in wild_forms), seen
    assert all(seen[k] > 0 for k in seen if k not in wild_forms), seen


# --- media, faults, robustness, admin ---------------------------------------------------------

def test_will_file_downloads_decrypt_with_the_rule_and_have_a_quota(sb, http):
    urls = []
    for _, p in lite_sessions(sb):
        files = p.get("will_file") or {}
        urls += [u for u in (files.get("will_video"), files.get("will_audio")) if u]
    sizes = {}
    for url in urls:
        plain = sb.media_plaintext(url.rsplit("/", 1)[1])
        sizes.setdefault(len(plain) < 1024, url)
        if len(sizes) == 2:
            break
    assert set(sizes) == {True, False}, "want one file under 1024 bytes and one over"
    for url in sizes.values():
        name = url.rsplit("/", 1)[1]
        plain = sb.media_plaintext(name)
        r = http.get(url)
        assert r.status_code == 200 and r.headers["Content-Type"] == "application/octet-stream"
        assert r.content != plain
        assert len(r.content) == max(len(plain), 1024)
        assert decrypt_rule(r.content, sb.megvii_api_secret) == plain.ljust(1024, b" ")
    url = next(iter(sizes.values()))
    assert http.get(url).status_code == 200 and http.get(url).status_code == 200
    expect_error(http.get(url), 403, "DATA_DESTROYED")
    assert http.get(sb.url + "/_sandbox/media/nothing_here.mp4").status_code == 404


def test_faults_come_at_the_configured_rate(sb, http):
    sb.set(fault_rate_500=0.2)
    params = megvii_params(sb, "1700000000,unknown")  # RESULT_NOT_FOUND unless a fault hits
    codes = [http.get(sb.url + LITE, params=params).status_code for _ in range(400)]
    assert set(codes) == {400, 500}
    assert 0.13 < codes.count(500) / len(codes) < 0.27
    assert sb.stats()["faults"]["internal_error"] == codes.count(500)
    sb.set(fault_rate_500=0.0)
    token = access_token(sb, http)
    sb.set(fault_rate_500=1.0)
    r = baidu_post(sb, http, "result/getall", token, {"verify_token": sb.ids("baidu")[0]})
    assert r.status_code == 500 and r.json()["error_code"] == 282000

    sb.set(fault_rate_500=0.0, fault_rate_slow=1.0, slow_seconds=0.3)
    started = time.perf_counter()
    assert http.get(sb.url + LITE, params=params).status_code == 400
    assert time.perf_counter() - started >= 0.3

    sb.set(fault_rate_slow=0.0, fault_rate_drop=1.0)
    with pytest.raises(requests.ConnectionError):
        http.get(sb.url + LITE, params=params)
    sb.set(fault_rate_drop=0.0)
    assert http.get(sb.url + LITE, params=params).status_code == 400  # still serving
    assert sb.stats()["faults"]["drop"] == 1


def raw_exchange(sb, payload: bytes) -> bytes:
    with socket.create_connection((sb.host, sb.port), timeout=5) as conn:
        conn.sendall(payload)
        chunks = []
        while True:
            data = conn.recv(65536)
            if not data:
                return b"".join(chunks)
            chunks.append(data)


def test_server_survives_malformed_and_abandoned_requests(sb, http, monkeypatch):
    assert raw_exchange(sb, b"GARBAGE\r\n\r\n").startswith(b"HTTP/1.1 400")
    assert raw_exchange(sb, b"BREW /pot HTTP/1.1\r\n\r\n").startswith(b"HTTP/1.1 501")
    assert raw_exchange(sb, b"GET / HTTP/x.y\r\n\r\n").startswith(b"HTTP/1.1 400")
    assert raw_exchange(sb, b"GET /x HTTP/1.1\r\nContent-Length: nope\r\n\r\n").startswith(b"HTTP/1.1 400")
    with socket.create_connection((sb.host, sb.port)) as conn:  # hang up halfway
        conn.sendall(b"POST " + BAIDU.encode() + b"result/getall HTTP/1.1\r\nContent-Length: 500\r\n\r\n{")
    token = access_token(sb, http)
    r = http.post(sb.url + BAIDU + "result/getall", params={"access_token": token}, data=b"{not json",
                  headers={"Content-Type": "application/json"})
    assert r.json() == {"error_code": 216100, "error_msg": "invalid param"}

    def broken(*args, **kwargs):
        raise RuntimeError("bug")

    monkeypatch.setattr(_megvii, "lite_payload", broken)
    bid = sb.ids("megvii-lite")[20]
    expect_error(http.get(sb.url + LITE, params=megvii_params(sb, bid)), 500, "INTERNAL_ERROR")
    monkeypatch.undo()
    assert http.get(sb.url + LITE, params=megvii_params(sb, bid)).status_code == 200


def test_keep_alive_with_content_length(sb, http):
    bid = sb.ids("megvii-lite")[21]
    before = sb.stats()["connections"]
    for _ in range(30):
        r = http.get(sb.url + "/_sandbox/ids", params={"kind": "megvii-liveness"})
        assert r.raw.version == 11 and int(r.headers["Content-Length"]) == len(r.content)
        assert r.headers.get("Connection", "").lower() != "close"
    assert http.get(sb.url + LITE, params=megvii_params(sb, bid)).status_code == 200
    assert sb.stats()["connections"] - before == 1  # one pooled connection for 31 requests


def test_admin_endpoints(sb, http, tmp_path):
    for kind in ("megvii-lite", "megvii-liveness", "baidu"):
        assert http.get(sb.url + "/_sandbox/ids", params={"kind": kind}).json() == sb.ids(kind)
    assert http.get(sb.url + "/_sandbox/ids", params={"kind": "nope"}).status_code == 400
    r = http.post(sb.url + "/_sandbox/config", json={"latency_ms": 40, "fault_rate_500": 0.0})
    assert r.status_code == 200 and r.json()["latency_ms"] == 40 and sb.config.latency_ms == 40
    assert http.post(sb.url + "/_sandbox/config", json={"n_lite": 5}).status_code == 400
    assert http.post(sb.url + "/_sandbox/config", json={"fault_rate_500": 2}).status_code == 400
    started = time.perf_counter()
    http.get(sb.url + LITE, params=megvii_params(sb, sb.ids("megvii-lite")[30]))
    assert time.perf_counter() - started >= 0.04
    path = sb.write_ids(tmp_path / "lite.txt", "megvii-lite")
    assert path.read_text().splitlines() == sb.ids("megvii-lite")
    callback = http.get(sb.url + "/_sandbox/callback", params={"biz_id": sb.ids("megvii-liveness")[0]}).json()
    assert hashlib.sha1((sb.megvii_api_secret + callback["data"]).encode()).hexdigest() == callback["sign"]
    assert json.loads(callback["data"])["biz_id"] == sb.ids("megvii-liveness")[0]
    assert http.get(sb.url + "/_sandbox/blob/x-1-face.jpg").content[:2] == b"\xff\xd8"


def test_sandbox_binds_loopback_only():
    with pytest.raises(ValueError):
        Sandbox(host="0.0.0.0")


def test_cli_prints_credentials_and_stops_on_sigterm(tmp_path):
    prefix = tmp_path / "ids"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.Popen(
        [sys.executable, "-m", "faceanalytics.sandbox", "--port", "0", "--seed", "3",
         "--ids-out", str(prefix), "--wild", "0.25"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        lines = {}
        while True:
            line = proc.stdout.readline()
            assert line, proc.stderr.read()
            if line.startswith("# serving"):
                break
            if "=" in line and not line.startswith("#"):
                key, value = line.strip().split("=", 1)
                lines[key] = value
        assert {"MEGVII_API_KEY", "MEGVII_API_SECRET", "BAIDU_API_KEY", "BAIDU_SECRET_KEY",
                "MEGVII_BASE_URL", "BAIDU_BASE_URL"} <= set(lines)
        ids = (tmp_path / "ids-megvii-lite.txt").read_text().split()
        r = requests.get(lines["MEGVII_BASE_URL"] + LITE, params={
            "api_key": lines["MEGVII_API_KEY"], "api_secret": lines["MEGVII_API_SECRET"], "biz_id": ids[0]})
        assert r.status_code == 200
        assert requests.get(lines["MEGVII_BASE_URL"] + "/_sandbox/config").json()["wild"] == 0.25
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


# --- the documents' shapes by default, the wild ones when asked ---------------------------------

LITE_REQUESTS = ({}, dict(return_verify_time=1, return_image=4, get_fail_reason=1, return_multifaces_tag=1),
                 dict(return_image=1), dict(return_image=2), dict(return_image=3))


def undocumented(sb, lite_requests=LITE_REQUESTS):
    """Session id -> how its answers depart from the schemas written from the documents,
    over the whole population: Lite with each option set, v2 with each image type and as a
    callback, and Baidu's five result APIs (as served: through a JSON round trip)."""
    found = {}

    def check(sid, schema, body):
        problems = doc.errors(schema, json.loads(json.dumps(body)))
        if problems:
            found.setdefault(sid, []).extend(problems)

    for bid in sb.ids("megvii-lite"):
        for options in lite_requests:
            check(bid, doc.lite_schema(**options), sb.payload(bid, **options))
    for bid in sb.ids("megvii-liveness"):
        for kind in (0, 1, 2):
            check(bid, doc.liveness_schema(get_image_type=kind), sb.payload(bid, get_image_type=kind))
        callback = sb.callback_body(bid)
        check(bid, doc.CALLBACK, callback)
        check(bid, doc.liveness_schema(callback=True), json.loads(callback["data"]))
    for tok in sb.ids("baidu"):
        for endpoint, schema in doc.BAIDU_RESULTS.items():
            check(tok, schema, sb.baidu_payload(tok, endpoint))
    return found


def test_every_default_answer_follows_the_documents(server):
    found = undocumented(server)
    assert not found, {sid: problems[:3] for sid, problems in list(found.items())[:5]}


def test_served_answers_follow_the_documents(sb, http):
    """The same over HTTP, for a slice of each population (Megvii: two of its three calls)."""
    everything = LITE_REQUESTS[1]
    for bid in sb.ids("megvii-lite")[:60]:
        for options in ({}, everything):
            r = http.get(sb.url + LITE, params=megvii_params(sb, bid, **options))
            assert r.status_code == 200 and not doc.errors(doc.lite_schema(**options), r.json()), r.text
    for bid in sb.ids("megvii-liveness")[:40]:
        r = http.get(sb.url + LIVENESS, params=megvii_params(sb, bid, get_image_type=2))
        assert r.status_code == 200 and not doc.errors(doc.liveness_schema(get_image_type=2), r.json())
    token = access_token(sb, http)
    for tok in sb.ids("baidu")[:40]:
        for endpoint, schema in doc.BAIDU_RESULTS.items():
            r = baidu_post(sb, http, "result/" + endpoint, token, {"verify_token": tok})
            assert r.status_code == 200 and not doc.errors(schema, r.json()), r.text


def test_liveness_v2_has_none_of_the_lite_only_errors(sb, http):
    """The v2 document has no three-call limit, DATA_DESTROYED or MESSAGE_ENCRYPTION_ERROR."""
    ids = sb.ids("megvii-liveness")
    expired = next(i for i, e in zip(ids, sb.population.liveness.expired) if e)
    sb.set(fault_rate_encryption=1.0)
    for bid in (ids[5], expired):
        assert [http.get(sb.url + LIVENESS, params=megvii_params(sb, bid)).status_code
                for _ in range(5)] == [200] * 5
    expect_error(http.get(sb.url + LITE, params=megvii_params(sb, sb.ids("megvii-lite")[7])), 400,
                 "MESSAGE_ENCRYPTION_ERROR")
    # ... but a wild deployment may apply Lite's rule to v2 too
    sb.set(fault_rate_encryption=0.0, wild=1.0)
    codes = [http.get(sb.url + LIVENESS, params=megvii_params(sb, ids[6])).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 403]


def test_wild_serves_the_variations():
    wild = Sandbox(seed=11, wild=1.0, **SIZES)
    forms = Counter()
    for bid in wild.ids("megvii-lite"):
        p = wild.payload(bid, return_image=4, get_fail_reason=1, return_multifaces_tag=1)
        live = p.get("liveness_result") or {}
        faceid = (p.get("verify_result") or {}).get("result_faceid") or {}
        forms["lite numbers as strings"] += isinstance(faceid.get("confidence"), str)
        forms["lite undocumented procedure_type"] += live.get("procedure_type") in ("video", "still", "flash")
        forms["lite no screen_replay"] += bool(live) and "screen_replay_confidence" not in live["face_genuineness"]
        forms["lite idcard_info after a cancel"] += p["status"] in ("CANCELLED", "TIMEOUT") and "idcard_info" in p
        forms["lite numeric multifaces_tag"] += isinstance(p["multifaces_tag"], int)
        forms["lite extra field"] += "comparison_type" in p
    for bid in wild.ids("megvii-liveness"):
        p = wild.payload(bid)
        live, verify = p["liveness_result"], p["verify_result"] or {}
        forms["v2 success with a failure_reason"] += live["result"] == "success" and live["failure_reason"] is not None
        forms["v2 numbers as strings"] += isinstance((verify.get("result_faceid") or {}).get("confidence"), str)
        forms["v2 no screen_replay"] += ("face_genuineness" in verify
                                         and "screen_replay_confidence" not in verify["face_genuineness"])
        forms["v2 extra field"] += "comparison_type" in p
    seen = baidu_consistency(wild)  # wild shapes, the same stories
    for name in ("log_int", "code_str", "count_int", "nested", "missing_score"):
        forms[f"baidu {name}"] = seen[name]
    for tok in wild.ids("baidu"):
        getall, media = wild.baidu_payload(tok, "getall"), wild.baidu_payload(tok, "media/query")
        if getall["success"]:
            entries = getall["result"]["verify_result"]
            forms["baidu integral float as int"] += isinstance(entries[0]["verify_detail"]["threshold"], int)
            forms["baidu empty success message"] += any(a["is_verify_passed"] and a["message"] == "" for a in entries)
            forms["baidu extInfo null"] += media["result"]["extInfo"] is None
            forms["baidu extra fields"] += "timestamp" in getall and "cached" in getall
    assert len(forms) == 19 and all(forms.values()), forms
    # The schemas catch them: most wild sessions depart from the documents somewhere.
    found = undocumented(wild, lite_requests=LITE_REQUESTS[:2])
    assert len(found) > 0.6 * sum(SIZES.values()), len(found)


def test_wild_rate_is_the_share_of_sessions_in_undocumented_shapes():
    rate = 0.1
    sb = Sandbox(seed=12, n_lite=1000, n_liveness=300, n_baidu=300, wild=rate)
    found = undocumented(sb, lite_requests=LITE_REQUESTS[:2])
    wild_ids = {sid for kind in ("megvii-lite", "megvii-liveness", "baidu")
                for sid, u in zip(sb.population.cohort(kind).ids, sb.population.cohort(kind).u_wild) if u < rate}
    assert set(found) <= wild_ids  # a session not drawn wild is answered as documented
    assert 0.06 * 1600 < len(wild_ids) < 0.14 * 1600 and len(found) > 0.6 * len(wild_ids)
    assert build_parser().parse_args(["--wild", "0.1"]).wild == 0.1 and SandboxConfig().wild == 0


def test_population_is_recent_with_an_era_change_inside_the_window():
    today = dt.datetime.now(dt.timezone.utc).date()
    assert SandboxConfig().reference_date == today.isoformat()
    end = int(dt.datetime(2026, 6, 30, tzinfo=dt.timezone.utc).timestamp())
    sb = Sandbox(seed=3, n_lite=400, n_liveness=150, n_baidu=0, reference_date="2026-06-30",
                 window_days=120, era_change_days=45)
    change, seen = end - 45 * 86400, Counter()
    for bid in sb.ids("megvii-lite") + sb.ids("megvii-liveness"):
        epoch = int(bid.split(",")[0])
        assert end - 120 * 86400 <= epoch <= end
        p = sb.payload(bid)
        faceid = ((p.get("verify_result") or {}).get("result_faceid") or {}).get("thresholds")
        if faceid and faceid != {"1e-3": 64, "1e-4": 69, "1e-5": 74}:  # v2 also sends the document's set
            era = THRESHOLDS_2016 if epoch < change else THRESHOLDS_NOW
            assert faceid == {k: v for k, v in era.items() if k in faceid}
            seen["old" if epoch < change else "new"] += 1
    assert seen["old"] > 50 and seen["new"] > 50
    with pytest.raises(ValueError):
        SandboxConfig(era_change_days=200, window_days=120)
