"""The base client against a real loopback server: retries, backoff, URLs, timeouts, secrets."""

from __future__ import annotations

import json
import logging
import threading
import time
import traceback
from urllib.parse import quote, quote_plus

import pytest

from faceanalytics.clients import (
    NO_RETRY,
    BaiduClient,
    ConnectError,
    InsecureURL,
    InvalidResponse,
    MegviiClient,
    ProviderError,
    QuotaExhausted,
    QuotaLedger,
    RequestTimeout,
    RetryPolicy,
    ThreadLocalSessions,
    check_url,
    is_loopback_host,
)
from faceanalytics.clients.testing import Reply, ScriptedServer

from _helpers import in_threads  # noqa: E402

LITE = "/faceid/lite/get_result"
TOKEN = "/oauth/2.0/token"
DETAIL = "/rpc/2.0/brain/solution/faceprint/result/detail"
OK = {"request_id": "1462259763,e2d2f8d6", "status": "OK", "time_used": 93}

MEGVII_KEY = "mk-HTTPTEST-key-000111"
MEGVII_SECRET = "ms+HTTPTEST/secret=222333"  # characters that get percent-encoded in URLs
BAIDU_KEY = "bk-HTTPTEST-key-444555"
BAIDU_SECRET = "bs-HTTPTEST-secret-666777"
BAIDU_TOKEN = "24.HTTPTEST-access-token-888999"
SECRETS = (MEGVII_KEY, MEGVII_SECRET, BAIDU_KEY, BAIDU_SECRET, BAIDU_TOKEN)


@pytest.fixture
def server():
    with ScriptedServer() as s:
        yield s


class FakeTime:
    """An injected clock + sleep: sleeping advances the clock, nothing waits."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def policy(fake: FakeTime, **kw) -> RetryPolicy:
    kw.setdefault("max_attempts", 3)
    return RetryPolicy(sleep=fake.sleep, clock=fake.clock, random=kw.pop("random", lambda: 0.5), **kw)


def megvii(server, **kw) -> MegviiClient:
    return MegviiClient(MEGVII_KEY, MEGVII_SECRET, base_url=server.url, **kw)


def err(status, message):
    return Reply(status, {"error_message": message, "request_id": "rid-1", "time_used": 3})


# -- retry: only what can succeed on retry -------------------------------------------------------


def _raised(kind, call):
    with pytest.raises(kind) as info:
        call()
    return info.value


@pytest.mark.parametrize(
    "reply",
    [
        err(500, "INTERNAL_ERROR"),
        err(403, "CONCURRENCY_LIMIT_EXCEEDED"),
        Reply(502, b"<html>bad gateway</html>"),
        Reply(503, {"error_message": "SERVICE_UNAVAILABLE"}),
    ],
    ids=["500-internal", "403-concurrency", "502-html", "503-unknown"],
)
def test_retryable_errors_are_retried_up_to_max_attempts(server, reply):
    fake = FakeTime()
    server.script(LITE, reply)
    client = megvii(server, retry=policy(fake, max_attempts=3))
    assert _raised(ProviderError, lambda: client.get_lite_result("1,a")).retryable
    assert len(server.requests_to(LITE)) == 3
    assert len(fake.sleeps) == 2


@pytest.mark.parametrize(
    "reply",
    [
        err(400, "RESULT_NOT_FOUND"),
        err(403, "AUTHENTICATION_ERROR"),
        err(403, "AUTHORIZATION_ERROR:Denied."),
        err(403, "DATA_DESTROYED"),
        err(400, "MISSING_ARGUMENTS: api_key"),
        err(400, "BAD_ARGUMENTS:biz_id"),
        err(404, "API_NOT_FOUND"),
        err(400, "MESSAGE_ENCRYPTION_ERROR"),
        Reply(200, b"not json"),
    ],
)
def test_non_retryable_errors_fail_at_once(server, reply):
    fake = FakeTime()
    server.script(LITE, reply)
    client = megvii(server, retry=policy(fake, max_attempts=5))
    assert not _raised(ProviderError, lambda: client.get_lite_result("1,a")).retryable
    assert len(server.requests_to(LITE)) == 1
    assert fake.sleeps == []


def test_retry_then_success_returns_the_successful_response(server):
    fake = FakeTime()
    server.script(LITE, err(500, "INTERNAL_ERROR"), err(403, "CONCURRENCY_LIMIT_EXCEEDED"), Reply(200, OK))
    response = megvii(server, retry=policy(fake, max_attempts=3)).get_lite_result("1,a")
    assert response.http_status == 200 and response.json["status"] == "OK"
    assert response.attempts == 3
    assert len(server.requests_to(LITE)) == 3


def test_connection_errors_are_retried():
    fake = FakeTime()
    client = MegviiClient(MEGVII_KEY, MEGVII_SECRET, base_url="http://127.0.0.1:1", retry=policy(fake))
    with pytest.raises(ConnectError) as info:
        client.get_lite_result("1,a")
    assert info.value.retryable and info.value.http_status is None
    assert len(fake.sleeps) == 2


def test_baidu_qps_is_retried_but_daily_and_total_limits_are_not(server):
    server.script(TOKEN, Reply(200, {"access_token": BAIDU_TOKEN, "expires_in": 2592000}))
    fake = FakeTime()
    client = BaiduClient(BAIDU_KEY, BAIDU_SECRET, base_url=server.url, retry=policy(fake, max_attempts=4))
    server.script(DETAIL, Reply(200, {"error_code": 18, "error_msg": "Open api qps request limit reached"}))
    with pytest.raises(ProviderError):
        client.result_detail("vt-1")
    assert len(server.requests_to(DETAIL)) == 4
    for code in (17, 19):
        server.requests.clear()
        server.script(DETAIL, Reply(200, {"error_code": code, "error_msg": "limit"}))
        with pytest.raises(ProviderError) as info:
            client.result_detail("vt-1")
        assert info.value.code == str(code) and info.value.fatal
        assert len(server.requests_to(DETAIL)) == 1


# -- backoff ---------------------------------------------------------------------------------


def test_backoff_is_exponential_with_full_jitter_and_capped():
    draws = iter([1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.25])
    p = RetryPolicy(backoff_base=0.5, backoff_max=3.0, random=lambda: next(draws))
    assert [p.backoff(n) for n in (1, 2, 3, 4, 5)] == [0.5, 1.0, 2.0, 3.0, 3.0]  # caps double, then max
    assert p.backoff(2) == 0.0 and p.backoff(3) == 0.5  # full jitter: anywhere in [0, cap]


def test_backoff_delays_are_jittered_and_within_bounds(server):
    fake = FakeTime()
    import random

    rng = random.Random(7)
    server.script(LITE, err(500, "INTERNAL_ERROR"))
    client = megvii(server, retry=policy(fake, max_attempts=6, backoff_base=0.1, backoff_max=0.4, random=rng.random))
    with pytest.raises(ProviderError):
        client.get_lite_result("1,a")
    caps = [0.1, 0.2, 0.4, 0.4, 0.4]
    assert len(fake.sleeps) == 5
    assert all(0 <= d <= cap for d, cap in zip(fake.sleeps, caps))
    assert len(set(fake.sleeps)) == 5  # jittered, not a fixed schedule


def test_total_retry_time_is_bounded(server):
    fake = FakeTime()
    server.script(LITE, err(500, "INTERNAL_ERROR"))
    # Each wait is 0.5 * cap: 1, 2, 4, 8 ... ; max_total=5 allows the first two only (1+2 <= 5 < 1+2+4).
    client = megvii(server, retry=policy(fake, max_attempts=10, backoff_base=2, backoff_max=100, max_total=5))
    with pytest.raises(ProviderError):
        client.get_lite_result("1,a")
    assert fake.sleeps == [1.0, 2.0]
    assert len(server.requests_to(LITE)) == 3


def test_retry_policy_validation_and_no_retry():
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)
    assert NO_RETRY.next_delay(ConnectError(), 1, 0.0) is None
    assert RetryPolicy().next_delay(ValueError("x"), 1, 0.0) is None


# -- hooks ------------------------------------------------------------------------------------


def test_before_call_sees_every_attempt_and_can_refuse(server):
    fake = FakeTime()
    seen: list[str] = []
    outcomes: list[tuple[str, str]] = []

    def before(key):
        seen.append(key)
        if len(seen) > 2:
            raise QuotaExhausted(key=key, calls=2, limit=2)

    server.script(LITE, err(500, "INTERNAL_ERROR"))
    client = megvii(
        server,
        retry=policy(fake, max_attempts=5),
        before_call=before,
        after_call=lambda k, o: outcomes.append((k, o)),
    )
    with pytest.raises(QuotaExhausted) as info:
        client.get_lite_result("1462,abc")
    assert seen == ["1462,abc"] * 3
    assert len(server.requests_to(LITE)) == 2  # the refused attempt never left
    assert outcomes == [("1462,abc", "500 INTERNAL_ERROR")] * 2
    # The caller can still archive the provider's last answer.
    exc = info.value
    assert exc.last_error.code == "INTERNAL_ERROR" and exc.__cause__ is exc.last_error
    assert exc.http_status == 500 and json.loads(exc.body)["error_message"] == "INTERNAL_ERROR"


def test_ledger_and_hooks_are_exclusive(server, tmp_path):
    with pytest.raises(ValueError):
        megvii(server, ledger=QuotaLedger(tmp_path / "m.log"), before_call=print)


# -- URLs and TLS ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["https://api.megvii.com", "http://127.0.0.1:8080", "http://127.9.9.9", "http://[::1]:80", "http://localhost:1"]
)
def test_allowed_urls(url):
    assert check_url(url) == url
    MegviiClient(MEGVII_KEY, MEGVII_SECRET, base_url=url)


@pytest.mark.parametrize(
    "url",
    [
        "http://api.megvii.com",
        "http://10.0.0.1",
        "http://128.0.0.1",
        "http://localhost.example.com",
        "ftp://127.0.0.1",
        "api.megvii.com",
        "https://",
    ],
)
def test_plain_http_to_non_loopback_is_refused(url):
    with pytest.raises(InsecureURL):
        MegviiClient(MEGVII_KEY, MEGVII_SECRET, base_url=url)
    with pytest.raises(InsecureURL):
        BaiduClient(BAIDU_KEY, BAIDU_SECRET, base_url=url)


def test_is_loopback_host():
    assert is_loopback_host("127.0.0.1") and is_loopback_host("::1") and is_loopback_host("LOCALHOST")
    assert not is_loopback_host("0.0.0.0") and not is_loopback_host("example.com") and not is_loopback_host(None)


def test_tls_verification_cannot_be_disabled():
    with pytest.raises(ValueError):
        MegviiClient(MEGVII_KEY, MEGVII_SECRET, ca_bundle=False)


def test_redirect_to_plain_http_is_refused(server):
    server.script("/will/video", Reply(302, b"", headers={"Location": "http://example.com/steal"}))
    client = megvii(server, retry=NO_RETRY)
    with pytest.raises(InsecureURL):
        client.download_will_file(server.url + "/will/video")
    assert len(server.requests) == 1


def test_get_result_does_not_follow_redirects(server):
    server.script(LITE, Reply(302, b"", headers={"Location": "/elsewhere"}))
    with pytest.raises(InvalidResponse):
        megvii(server, retry=NO_RETRY).get_lite_result("1,a")
    assert [r.path for r in server.requests] == [LITE]


# -- timeouts -------------------------------------------------------------------------------


def test_read_timeout_is_enforced_and_retried(server):
    fake = FakeTime()
    server.script(LITE, Reply(200, OK, delay=1.5))
    client = megvii(server, timeout=(1.0, 0.2), retry=policy(fake, max_attempts=2))
    started = time.monotonic()
    with pytest.raises(RequestTimeout) as info:
        client.get_lite_result("1,a")
    assert time.monotonic() - started < 1.2  # two attempts of ~0.2 s, not 1.5 s each
    assert info.value.retryable and info.value.code == "TIMEOUT"
    assert len(server.requests_to(LITE)) == 2


@pytest.mark.parametrize("what", ["answer", "download"])
def test_an_answer_dripped_a_byte_at_a_time_is_cut_at_the_answer_deadline(what, tmp_path):
    """Each byte comes well within the read timeout, so only a total deadline stops it:
    without one the call lasts as long as the server cares to drip.  A file streamed to
    disk has its own, longer deadline (``max_download_seconds``)."""
    import http.server
    import socketserver

    body = json.dumps({**OK, "pad": "x" * 400}).encode()
    sent = []

    class Drip(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                for b in body:                      # ~450 bytes at one per 20 ms: ~9 s in all
                    self.wfile.write(bytes([b]))
                    self.wfile.flush()
                    sent.append(b)
                    time.sleep(0.02)
            except OSError:
                pass

    class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = True

    with Server(("127.0.0.1", 0), Drip) as httpd:
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        try:
            client = MegviiClient(MEGVII_KEY, MEGVII_SECRET, base_url=f"http://127.0.0.1:{httpd.server_address[1]}",
                                  timeout=(2, 2), retry=NO_RETRY)
            with pytest.raises(RequestTimeout) as info:
                if what == "answer":
                    client.max_answer_seconds = 0.5
                    client.get_lite_result("1,a")
                else:
                    client.max_download_seconds = 0.5
                    client.download_will_file(f"{client.base_url}/will/1.mp4", to=tmp_path / "f")
            assert info.value.code == "TIMEOUT" and info.value.retryable is not False
            assert "did not arrive within the time allowed" in str(info.value)
            assert len(sent) < len(body)            # cut while the server was still dripping
        finally:
            httpd.shutdown()


def test_timeout_must_be_positive():
    for bad in (0, -1, (1, 0), (None, 1), "x"):
        with pytest.raises(ValueError):
            MegviiClient(MEGVII_KEY, MEGVII_SECRET, timeout=bad)


# -- the raw response -----------------------------------------------------------------------


def test_response_keeps_the_raw_body_bytes(server):
    raw = '{"request_id": "r,1",   "status": "OK", "biz_info": {"biz_no": "陈AB"}, "x": 1.50}\n'.encode()
    server.script(LITE, Reply(200, raw))
    response = megvii(server).get_lite_result("1462259748,52b13fb5")
    assert response.body == raw  # byte for byte, whitespace and all
    assert response.json["biz_info"]["biz_no"] == "陈AB"
    assert response.http_status == 200 and response.elapsed > 0 and response.request_id == "r,1"
    assert "biz_id=1462259748%2C52b13fb5" in response.url and "api_secret=***" in response.url
    assert "bytes=" in repr(response) and "陈AB" not in repr(response)


def test_thread_local_sessions():
    sessions = ThreadLocalSessions()
    mine = sessions.get()
    assert sessions.get() is mine
    other = []
    t = threading.Thread(target=lambda: other.append(sessions.get()))
    t.start()
    t.join()
    assert other[0] is not mine
    sessions.close()


def test_one_client_shared_by_threads_uses_one_session_per_thread(server):
    server.script(LITE, Reply(200, OK))
    client = megvii(server)
    errors = []

    def work(n):
        try:
            for i in range(5):
                client.get_lite_result(f"{n},{i}")
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    in_threads(work)
    assert not errors and len(server.requests_to(LITE)) == 40
    assert len(client._sessions._all) == 8
    client.close()


# -- secrets ---------------------------------------------------------------------------------


def _forms(secret):
    return {secret, quote(secret, safe=""), quote_plus(secret)}


def _texts_of(exc: BaseException):
    """Everything an exception can show: str, repr, args, attributes, formatted traceback, chain."""
    seen = set()
    todo = [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        yield str(e)
        yield repr(e)
        yield repr(e.args)
        for value in vars(e).values():
            yield value.decode("utf-8", "replace") if isinstance(value, bytes) else repr(value)
        todo += [e.__cause__, e.__context__]
        todo.append(getattr(e, "last_error", None))  # QuotaExhausted's is no ProviderError (issue 14)
    yield "".join(traceback.format_exception(exc))
    # Tools that print the locals of each frame (pytest --showlocals, error trackers);
    # only our frames: the test's own locals hold the secrets on purpose.
    for frame in traceback.TracebackException.from_exception(exc, capture_locals=True).stack:
        if "faceanalytics" in frame.filename and "clients" in frame.filename:
            yield repr(frame.locals)


def _assert_clean(text: str):
    for secret in SECRETS:
        for form in _forms(secret):
            assert form not in text, f"secret leaked: {text[:500]}"


def _failures(server, tmp_path):
    """Drive every failure path once; yield the exceptions."""
    fast = RetryPolicy(max_attempts=2, sleep=lambda s: None)
    m = MegviiClient(MEGVII_KEY, MEGVII_SECRET, base_url=server.url, retry=fast, timeout=(1, 0.2))
    for reply in (
        err(403, "AUTHENTICATION_ERROR"),
        err(500, "INTERNAL_ERROR"),
        Reply(502, b"<html>proxy</html>"),
        Reply(200, OK, delay=0.5),  # timeout
    ):
        server.script(LITE, reply)
        yield _raised(ProviderError, lambda: m.get_lite_result("1,a"))
    dead = MegviiClient(MEGVII_KEY, MEGVII_SECRET, base_url="http://127.0.0.1:1", retry=fast)
    yield _raised(ConnectError, lambda: dead.get_lite_result("1,a"))
    ledger = QuotaLedger(tmp_path / "megvii.log", limit=1)
    server.script(LITE, err(500, "INTERNAL_ERROR"))
    q = MegviiClient(MEGVII_KEY, MEGVII_SECRET, base_url=server.url, retry=fast, ledger=ledger)
    yield _raised(QuotaExhausted, lambda: q.get_lite_result("1,a"))
    insecure = _raised(InsecureURL, lambda: MegviiClient(
        MEGVII_KEY, MEGVII_SECRET, base_url="http://example.com/?api_secret=unregistered-123"))
    assert "unregistered-123" not in str(insecure) + repr(insecure.args)
    yield insecure
    # A server that echoes the credentials back in its error body.
    server.script(LITE, Reply(400, {"error_message": f"BAD_ARGUMENTS:{MEGVII_SECRET}", "echo": MEGVII_KEY}))
    yield _raised(ProviderError, lambda: m.get_lite_result("1,a"))

    server.script(TOKEN, Reply(401, {"error": "invalid_client", "error_description": f"bad {BAIDU_SECRET}"}))
    b = BaiduClient(BAIDU_KEY, BAIDU_SECRET, base_url=server.url, retry=fast)
    yield _raised(ProviderError, lambda: b.result_detail("vt"))
    server.script(TOKEN, Reply(200, {"access_token": BAIDU_TOKEN, "expires_in": 2592000}))
    server.script(DETAIL, Reply(200, {"error_code": 110, "error_msg": "Access token invalid"}))
    yield _raised(ProviderError, lambda: b.result_detail("vt"))
    server.script(DETAIL, Reply(200, b"<html>oops</html>"))
    yield _raised(ProviderError, lambda: b.result_detail("vt"))
    dead_b = BaiduClient(BAIDU_KEY, BAIDU_SECRET, base_url="http://127.0.0.1:1", retry=fast)
    yield _raised(ConnectError, lambda: dead_b.result_stat("vt"))
    for client in (m, dead, q, b, dead_b):
        _assert_clean(repr(client))
        _assert_clean(str(client))


def test_secrets_never_appear_in_errors_chains_reprs_or_logs(server, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    excs = list(_failures(server, tmp_path))
    assert len(excs) == 12
    for exc in excs:
        for text in _texts_of(exc):
            _assert_clean(text)
    # The credentials did reach the server: the masking is ours, not a missing parameter.
    assert any(r.query.get("api_secret") == MEGVII_SECRET for r in server.requests)
    assert any(r.query.get("access_token") == BAIDU_TOKEN for r in server.requests)
    assert any(r.query.get("client_secret") == BAIDU_SECRET for r in server.requests)
    # urllib3 logs the request line with its query string at DEBUG; it must be masked.
    assert any("get_result?api_key=***&api_secret=***" in r.getMessage() for r in caplog.records)
    for record in caplog.records:
        _assert_clean(record.getMessage())
        _assert_clean(record.exc_text or "")
    _assert_clean(caplog.text)


def test_exceptions_carry_no_requests_exception_in_their_chain():
    client = MegviiClient(MEGVII_KEY, MEGVII_SECRET, base_url="http://127.0.0.1:1", retry=NO_RETRY)
    try:
        client.get_lite_result("1,a")
    except ConnectError as exc:
        assert exc.__cause__ is None and exc.__context__ is None
    else:  # pragma: no cover
        pytest.fail("expected ConnectError")
