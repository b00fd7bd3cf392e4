"""BaiduClient against a real loopback server: access-token caching and refresh, calls, errors."""

from __future__ import annotations

import itertools
import threading

import pytest

from faceanalytics.clients import (
    NO_RETRY,
    AccessTokenExpired,
    AccessTokenInvalid,
    BaiduAuthError,
    BaiduClient,
    BaiduRequestFailed,
    InvalidResponse,
    MissingCredentials,
    QpsLimitExceeded,
    RetryPolicy,
    VerifyTokenInvalid,
    client_for,
)
from faceanalytics.clients.testing import RecordedRequest, Reply, ScriptedServer

from _helpers import in_threads  # noqa: E402

TOKEN = "/oauth/2.0/token"
PREFIX = "/rpc/2.0/brain/solution/faceprint/"
DETAIL = PREFIX + "result/detail"
KEY, SECRET = "baidu-test-key-1234", "baidu-test-secret-5678"
SUCCESS = {"success": True, "result": {"verify_result": {"score": 93.78}}, "log_id": "160931948204246"}


@pytest.fixture
def server():
    with ScriptedServer() as s:
        yield s


def token_issuer(server, expires_in=2592000, delay=0.0):
    """Answer token requests with tok-1, tok-2, ... ."""
    counter = itertools.count(1)

    def issue(request: RecordedRequest) -> Reply:
        return Reply(200, {"access_token": f"24.tok-{next(counter)}", "expires_in": expires_in}, delay=delay)

    server.script(TOKEN, issue)


def client(server, **kw) -> BaiduClient:
    kw.setdefault("retry", RetryPolicy(sleep=lambda s: None))
    return BaiduClient(KEY, SECRET, base_url=server.url, **kw)


def test_token_request_and_api_call_are_as_documented(server):
    token_issuer(server)
    server.script(DETAIL, Reply(200, SUCCESS))
    response = client(server).result_detail("cIupeyP51sn28XzxGVTfYqoN")
    assert response.json == SUCCESS and response.request_id == "160931948204246"
    token_request, call = server.requests
    assert token_request.method == "POST" and token_request.path == TOKEN
    assert token_request.query == {"grant_type": "client_credentials", "client_id": KEY, "client_secret": SECRET}
    assert call.method == "POST" and call.path == DETAIL
    assert call.query == {"access_token": "24.tok-1"}
    assert call.headers["content-type"] == "application/json"
    assert call.json == {"verify_token": "cIupeyP51sn28XzxGVTfYqoN"}


@pytest.mark.parametrize(
    "method,args,path,body",
    [
        ("generate_verify_token", ("1",), "verifyToken/generate", {"plan_id": "1"}),
        ("submit_idcard", ("vt", "张三", "500***3390", 0), "idcard/submit",
         {"verify_token": "vt", "id_name": "张三", "id_no": "500***3390", "certificate_type": 0}),
        ("submit_idcard", ("vt", "张三", "500***3390"), "idcard/submit",
         {"verify_token": "vt", "id_name": "张三", "id_no": "500***3390"}),
        ("upload_match_image", ("vt", "/9j/4AAQ", "LOW", "NORMAL"), "uploadMatchImage",
         {"verify_token": "vt", "image": "/9j/4AAQ", "quality_control": "LOW", "liveness_control": "NORMAL"}),
        ("result_simple", ("vt",), "result/simple", {"verify_token": "vt"}),
        ("result_stat", ("vt",), "result/stat", {"verify_token": "vt"}),
        ("result_getall", ("vt",), "result/getall", {"verify_token": "vt"}),
        ("result_media", ("vt",), "result/media/query", {"verify_token": "vt"}),
    ],
)  # fmt: skip
def test_every_api_posts_json_to_its_path(server, method, args, path, body):
    token_issuer(server)
    server.script(PREFIX + path, Reply(200, {"success": True, "result": None, "log_id": "1"}))
    getattr(client(server), method)(*args)
    call = server.requests[-1]
    assert call.path == PREFIX + path and call.json == body


def test_token_is_cached_across_calls(server):
    token_issuer(server)
    server.script(DETAIL, Reply(200, SUCCESS))
    c = client(server)
    for _ in range(5):
        c.result_detail("vt")
    assert len(server.requests_to(TOKEN)) == 1 and c.token_fetches == 1
    assert {r.query["access_token"] for r in server.requests_to(DETAIL)} == {"24.tok-1"}


def test_eight_threads_share_one_token_fetch(server):
    token_issuer(server, delay=0.2)  # a slow token endpoint: all threads arrive while it is pending
    server.script(DETAIL, Reply(200, SUCCESS))
    c = client(server)
    barrier = threading.Barrier(8)
    errors = []

    def work():
        barrier.wait()
        try:
            for _ in range(3):
                c.result_detail("vt")
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    in_threads(lambda _: work())
    assert not errors
    assert len(server.requests_to(TOKEN)) == 1
    assert len(server.requests_to(DETAIL)) == 24


def test_token_is_renewed_when_it_expires(server):
    now = [0.0]
    token_issuer(server, expires_in=1000)
    server.script(DETAIL, Reply(200, SUCCESS))
    c = client(server, clock=lambda: now[0], token_margin=300)
    c.result_detail("vt")
    now[0] = 850.0  # margin is min(300, 10% of 1000) = 100: still valid until t=900
    c.result_detail("vt")
    assert len(server.requests_to(TOKEN)) == 1
    now[0] = 901.0
    c.result_detail("vt")
    assert len(server.requests_to(TOKEN)) == 2
    assert [r.query["access_token"] for r in server.requests_to(DETAIL)] == ["24.tok-1", "24.tok-1", "24.tok-2"]


@pytest.mark.parametrize("code", [110, 111])
def test_token_error_in_a_response_refreshes_once_and_resends(server, code):
    token_issuer(server)
    server.script(DETAIL, Reply(200, {"error_code": code, "error_msg": "Access token invalid"}), Reply(200, SUCCESS))
    response = client(server).result_detail("vt")
    assert response.json == SUCCESS
    assert len(server.requests_to(TOKEN)) == 2
    assert [r.query["access_token"] for r in server.requests_to(DETAIL)] == ["24.tok-1", "24.tok-2"]


def test_token_error_twice_gives_up_after_one_refresh(server):
    token_issuer(server)
    server.script(DETAIL, Reply(200, {"error_code": "111", "error_msg": "Access token expired", "log_id": 9}))
    with pytest.raises(AccessTokenExpired) as info:
        client(server).result_detail("vt")
    assert info.value.request_id == "9"
    assert len(server.requests_to(TOKEN)) == 2 and len(server.requests_to(DETAIL)) == 2


def test_oauth_refusal_is_fatal_and_sends_no_call(server):
    server.script(TOKEN, Reply(401, {"error": "invalid_client", "error_description": "unknown client id"}))
    with pytest.raises(BaiduAuthError) as info:
        client(server).result_detail("vt")
    exc = info.value
    assert (exc.code, exc.detail, exc.http_status, exc.fatal, exc.retryable) == (
        "invalid_client", "unknown client id", 401, True, False,
    )  # fmt: skip
    assert server.requests_to(DETAIL) == []


def test_token_endpoint_without_a_token_is_invalid(server):
    server.script(TOKEN, Reply(200, {"expires_in": 5}))
    with pytest.raises(InvalidResponse):
        client(server, retry=NO_RETRY).result_detail("vt")


def test_qps_limit_is_retried_then_succeeds(server):
    token_issuer(server)
    server.script(DETAIL, Reply(200, {"error_code": 18, "error_msg": "Open api qps request limit reached"}), Reply(200, SUCCESS))
    assert client(server).result_detail("vt").json == SUCCESS
    assert len(server.requests_to(DETAIL)) == 2


def test_success_false_bodies_raise_with_the_body_kept(server):
    token_issuer(server)
    c = client(server)
    expired = '{"success": false, "code": 216100, "message": "Token无效或者已过期", "log_id": 160931948204246}'.encode()
    server.script(DETAIL, Reply(200, expired))
    with pytest.raises(VerifyTokenInvalid) as info:
        c.result_detail("vt")
    assert info.value.body == expired and info.value.request_id == "160931948204246"
    failed = {"success": False, "code": "222023", "message": "身份证姓名不匹配", "log_id": "7"}
    server.script(DETAIL, Reply(200, failed))
    with pytest.raises(BaiduRequestFailed) as info:
        c.result_detail("vt")
    assert info.value.code == "222023" and info.value.detail == "身份证姓名不匹配"
    assert len(server.requests_to(DETAIL)) == 2  # neither retried


def test_result_by_short_name(server):
    token_issuer(server)
    server.script(PREFIX + "result/getall", Reply(200, SUCCESS))
    assert client(server).result("getall", "vt").json == SUCCESS
    with pytest.raises(ValueError):
        client(server).result("everything", "vt")


def test_hook_key_names_the_api_and_the_verify_token(server):
    token_issuer(server)
    server.script(DETAIL, Reply(200, {"error_code": 18, "error_msg": "qps"}), Reply(200, SUCCESS))
    keys = []
    client(server, before_call=keys.append).result_detail("vt-9")
    assert keys == ["result/detail:vt-9", "result/detail:vt-9"]  # token fetch not counted


def test_repr_and_env(monkeypatch, server):
    token_issuer(server)
    server.script(DETAIL, Reply(200, SUCCESS))
    c = client(server)
    c.result_detail("vt")
    assert KEY not in repr(c) and SECRET not in repr(c) and "tok-1" not in repr(c)
    monkeypatch.delenv("BAIDU_API_KEY", raising=False)
    with pytest.raises(MissingCredentials):
        BaiduClient.from_env()
    monkeypatch.setenv("BAIDU_API_KEY", KEY)
    monkeypatch.setenv("BAIDU_SECRET_KEY", SECRET)
    assert isinstance(client_for("baidu", base_url=server.url), BaiduClient)


def test_qps_error_class_is_rate_limited():
    from faceanalytics.clients import RateLimited

    assert issubclass(QpsLimitExceeded, RateLimited) and not issubclass(AccessTokenInvalid, RateLimited)
