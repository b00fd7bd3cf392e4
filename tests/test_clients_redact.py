"""Credentials never reach a byte the tool keeps or prints, whatever a server echoes back.

A loopback server answers every endpoint with a redirect, an error page or a 5xx body that
echoes the request URL (query string and all, in the forms servers use: plain, percent-
encoded, JSON-escaped, HTML-escaped).  Nothing the tool writes (raw archive, journal,
tables, quarantine, quota ledger, download manifest), logs (tracebacks included), raises or
returns may hold a credential.
"""
from __future__ import annotations

import html
import io
import json
import logging
import traceback
from urllib.parse import quote, quote_plus, urlencode

import pytest

from faceanalytics.storage.archive import read_segment
from faceanalytics.clients import BaiduClient, MegviiClient, ProviderError, RetryPolicy
from faceanalytics.redact import redact, redact_bytes
from faceanalytics.clients.testing import Reply, ScriptedServer
from faceanalytics.pipeline.fetch import fetch_baidu, fetch_megvii
from faceanalytics.pipeline.ingest import ingest
from faceanalytics.pipeline.media import download_will_files
from faceanalytics.storage.tables import load

from _helpers import LITE_ID, envelope, seed, write_jsonl  # noqa: E402

MEGVII_KEY = "mk-ECHO-key-000111"
MEGVII_SECRET = "ms+ECHO/secret=222333"
BAIDU_KEY = "bk-ECHO-key-444555"
BAIDU_SECRET = "bs-ECHO/secret+666777"
BAIDU_TOKEN = "24.ECHO-access/token-888999"
SECRETS = (MEGVII_KEY, MEGVII_SECRET, BAIDU_KEY, BAIDU_SECRET, BAIDU_TOKEN)

TOKEN = "/oauth/2.0/token"
LITE = "/faceid/lite/get_result"
LIVENESS = "/faceid/liveness/v2/get_result"
BAIDU_APIS = {"stat": "result/stat", "getall": "result/getall", "detail": "result/detail",
              "simple": "result/simple", "media": "result/media/query"}
PREFIX = "/rpc/2.0/brain/solution/faceprint/"


def _forms(secret: str) -> set[bytes]:
    """Every spelling of a secret a server might echo."""
    forms = {secret, quote(secret, safe=""), quote_plus(secret), quote(secret, safe="").lower(),
             json.dumps(secret)[1:-1], secret.replace("/", "\\/"), html.escape(secret)}
    return {f.encode() for f in forms}


def _assert_clean(data: bytes | str, where: str) -> None:
    if isinstance(data, str):
        data = data.encode("utf-8", "replace")
    for secret in SECRETS:
        for form in _forms(secret):
            assert form not in data, f"{secret!r} leaked into {where}: {data[:300]!r}"


def _echo(status: int, style: str):
    """A reply that echoes the request's full URL (and query dict) back in its body."""
    def reply(req):
        url = f"{req.path}?{urlencode(req.query)}"
        raw = f"{req.path}?" + "&".join(f"{k}={v}" for k, v in req.query.items())
        if style == "redirect":
            body = f"<a href='{html.escape(url)}'>moved</a> {raw}"
            return Reply(status, body, headers={"Location": "/moved" + url[len(req.path):],
                                                "X-Echo": raw})
        if style == "html":
            return Reply(status, f"<html><h1>Bad request</h1><pre>{html.escape(raw)}\n{url}</pre></html>",
                         headers={"X-Echo": url})
        # a JSON 5xx as a Go or PHP server writes it (escaped slashes, \u0026 for &)
        text = json.dumps({"error_message": "INTERNAL_ERROR", "url": raw, "query": req.query})
        return Reply(status, text.replace("/", "\\/").replace("&", "\\u0026").encode(),
                     headers={"Content-Type": "application/json", "X-Echo": url})
    return reply


ECHOES = [(302, "redirect"), (400, "html"), (500, "json")]


@pytest.fixture
def env(monkeypatch):
    monkeypatch.setenv("MEGVII_API_KEY", MEGVII_KEY)
    monkeypatch.setenv("MEGVII_API_SECRET", MEGVII_SECRET)
    monkeypatch.setenv("BAIDU_API_KEY", BAIDU_KEY)
    monkeypatch.setenv("BAIDU_SECRET_KEY", BAIDU_SECRET)


@pytest.fixture
def logs():
    """Every log record of the process at DEBUG, formatted with tracebacks."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    old = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield stream
    root.removeHandler(handler)
    root.setLevel(old)


def _every_byte_kept(data_dir) -> list[tuple[str, bytes]]:
    out = []
    for f in sorted(data_dir.rglob("*")):
        if f.is_file():
            blob = f.read_bytes()
            if f.name.endswith(".jsonl.zst"):
                blob = b"\n".join(read_segment(f).lines)
            out.append((str(f), blob))
    for table in ("sessions", "quarantine", "media", "media_files"):
        out.append((f"table {table}", load(data_dir, table).to_csv().encode()))
    return out


def _assert_nothing_kept_or_printed(data_dir, logs, capsys=None) -> None:
    for where, blob in _every_byte_kept(data_dir):
        _assert_clean(blob, where)
    _assert_clean(logs.getvalue(), "logs")
    if capsys is not None:
        out = capsys.readouterr()
        _assert_clean(out.out + out.err, "output")


def _fast(**kw):
    return RetryPolicy(max_attempts=2, sleep=lambda s: None, **kw)


@pytest.mark.parametrize("status,style", ECHOES, ids=[s for _, s in ECHOES])
def test_megvii_endpoints_echoing_the_url_leak_nothing(tmp_path, env, logs, capsys, status, style):
    with ScriptedServer() as server:
        for path in (LITE, LIVENESS, "/moved"):
            server.script(path, _echo(status, style))
        for kind in ("lite", "liveness"):
            rep = fetch_megvii([f"{LITE_ID}{kind}"], tmp_path, kind=kind, base_url=server.url,
                               progress=False)
            assert rep.fetched + rep.failed == 1
        # the credentials did go out: what is masked is what came back
        assert any(r.query.get("api_secret") == MEGVII_SECRET for r in server.requests)
        client = MegviiClient(MEGVII_KEY, MEGVII_SECRET, base_url=server.url, retry=_fast())
        with pytest.raises(ProviderError) as info:
            client.get_lite_result(LITE_ID)
        _assert_exception_clean(info.value)
    _assert_nothing_kept_or_printed(tmp_path, logs, capsys)


@pytest.mark.parametrize("status,style", ECHOES, ids=[s for _, s in ECHOES])
@pytest.mark.parametrize("broken", ["token", "results"])
def test_baidu_endpoints_echoing_the_url_leak_nothing(tmp_path, env, logs, capsys, status, style, broken):
    with ScriptedServer() as server:
        if broken == "token":  # the OAuth endpoint echoes client_id and client_secret
            server.script(TOKEN, _echo(status, style))
        else:                  # every result API echoes the access_token
            server.script(TOKEN, Reply(200, {"access_token": BAIDU_TOKEN, "expires_in": 2592000}))
            for api in BAIDU_APIS.values():
                server.script(PREFIX + api, _echo(status, style))
        server.script("/moved", _echo(status, style))
        fast = BaiduClient(BAIDU_KEY, BAIDU_SECRET, base_url=server.url, retry=_fast())
        rep = fetch_baidu(["aXlUEPsdlokUkBJKtXvocW4X"], tmp_path, what=",".join(BAIDU_APIS),
                          client=fast, progress=False)
        assert rep.fetched + rep.failed + rep.skipped >= 1
        sent = [r.query for r in server.requests]
        assert any(q.get("client_secret") == BAIDU_SECRET for q in sent)
        if broken == "results":
            assert any(q.get("access_token") == BAIDU_TOKEN for q in sent)
        client = BaiduClient(BAIDU_KEY, BAIDU_SECRET, base_url=server.url, retry=_fast())
        for call in (lambda: client.result_detail("vt-1"), lambda: client.generate_verify_token(7),
                     lambda: client.submit_idcard("vt-1", "张三", "110101199003071234"),
                     lambda: client.upload_match_image("vt-1", "aGVsbG8=")):
            for api in ("verifyToken/generate", "idcard/submit", "uploadMatchImage"):
                server.script(PREFIX + api, _echo(status, style))
            with pytest.raises(ProviderError) as info:
                call()
            _assert_exception_clean(info.value)
    _assert_nothing_kept_or_printed(tmp_path, logs, capsys)


@pytest.mark.parametrize("status,style", ECHOES, ids=[s for _, s in ECHOES])
def test_will_file_downloads_echoing_the_url_leak_nothing(tmp_path, env, logs, status, style):
    with ScriptedServer() as server:
        p = seed("megvii_lite_success.json")
        p["will_file"] = {"will_video": f"{server.url}/will/v.mp4?token=abc", "will_audio": ""}
        ingest([write_jsonl(tmp_path / "in.jsonl", [envelope("megvii_lite", LITE_ID, p)])],
               tmp_path / "d")
        server.script("/will/v.mp4", _echo(status, style))
        server.script("/moved", _echo(status, style))
        rep = download_will_files(tmp_path / "d", base_url=server.url)
        assert rep.failed == 1 and server.requests_to("/will/v.mp4")
    _assert_nothing_kept_or_printed(tmp_path / "d", logs)


def test_successful_answers_and_their_headers_are_masked_too():
    with ScriptedServer() as server:
        server.script(TOKEN, lambda req: Reply(200, {"access_token": BAIDU_TOKEN, "expires_in": 99999,
                                                     "echo": dict(req.query)},
                                               headers={"X-Echo": urlencode(req.query)}))
        server.script(PREFIX + "result/stat", lambda req: Reply(
            200, {"success": True, "result": {"echo": dict(req.query)}},
            headers={"Set-Cookie": f"t={req.query['access_token']}"}))
        client = BaiduClient(BAIDU_KEY, BAIDU_SECRET, base_url=server.url)
        r = client.result_stat("vt-1")
        assert r.json["success"] is True
        _assert_clean(r.body, "body")
        _assert_clean(repr(r.headers), "headers")
        _assert_clean(json.dumps(r.json), "parsed body")


def test_redaction_covers_escaped_and_named_forms():
    from faceanalytics.redact import register_secret

    register_secret("zz+Val/ue=42")
    assert b"zz" not in redact_bytes(b'{"u": "zz+Val\\/ue=42", "v": "zz%2bval%2fue%3d42"}')
    # credential-named fields are masked whether or not their value was registered
    assert redact_bytes(b'{\\"client_secret\\":\\"unseen-1\\"}').count(b"unseen") == 0
    assert b"unseen" not in redact_bytes(b"client_secret=unseen-2&x=1")
    assert b"unseen" not in redact_bytes(b"https://user:unseen-3@example.com/")
    assert "unseen" not in redact("ACCESS_TOKEN%3Dunseen-4")


def test_log_records_of_any_logger_are_masked(logs):
    """Not only urllib3's loggers: any record, traceback text included."""
    from faceanalytics.redact import register_secret

    register_secret(MEGVII_SECRET)
    log = logging.getLogger("some.other.library")
    try:
        raise RuntimeError(f"GET /x?api_secret={MEGVII_SECRET}")
    except RuntimeError:
        log.exception("failed: %s", MEGVII_SECRET)
    log.warning("url %s", f"http://h/?access_token={BAIDU_TOKEN}", stack_info=True)
    text = logs.getvalue()
    assert "failed: ***" in text and "RuntimeError" in text
    _assert_clean(text, "logs")


@pytest.mark.parametrize("logger", ["urllib3.connectionpool", "requests"])
def test_tracebacks_logged_with_exc_info_by_http_libraries_are_masked(logs, logger):
    """urllib3 and requests log failures with ``exc_info``; the traceback text (``exc_text``)
    must come out masked whichever way the record reaches a handler: made by the logger
    (the record factory), made elsewhere with ``exc_info`` (``logging.makeLogRecord``), or
    already formatted to ``exc_text`` with no ``exc_info`` (what ``QueueHandler`` and
    ``SocketHandler`` pass on): the last two only the loggers' filter sees."""
    import sys

    from faceanalytics.redact import install_log_redaction, register_secret

    install_log_redaction()
    register_secret(MEGVII_SECRET)
    log = logging.getLogger(logger)
    url = f"/faceid/lite/get_result?api_key={MEGVII_KEY}&api_secret={MEGVII_SECRET}"
    old = log.level
    log.setLevel(logging.DEBUG)
    try:
        try:
            raise ConnectionError(f"Max retries exceeded with url: {url} (secret {MEGVII_SECRET})")
        except ConnectionError:
            log.debug("Retrying after connection broken", exc_info=True)
            exc_info = sys.exc_info()
        made_elsewhere = logging.makeLogRecord({"name": logger, "levelno": logging.DEBUG,
                                                "levelname": "DEBUG", "msg": "made elsewhere",
                                                "exc_info": exc_info})
        log.handle(made_elsewhere)
        text = "".join(traceback.format_exception(*exc_info))
        assert MEGVII_SECRET in text  # what a QueueHandler would have put in exc_text
        formatted = logging.makeLogRecord({"name": logger, "levelno": logging.DEBUG,
                                           "levelname": "DEBUG", "msg": "from a queue",
                                           "exc_info": None, "exc_text": text})
        log.handle(formatted)
    finally:
        log.setLevel(old)
    out = logs.getvalue()
    assert out.count("Traceback (most recent call last)") == 3, out  # all three were printed...
    assert "made elsewhere" in out and "from a queue" in out
    _assert_clean(out, "logs")  # ...and none holds the secret
    assert MEGVII_SECRET not in (formatted.exc_text or "") + (made_elsewhere.exc_text or "")


def _assert_exception_clean(exc: BaseException) -> None:
    texts = [str(exc), repr(exc), repr(exc.args), "".join(traceback.format_exception(exc))]
    for value in vars(exc).values():
        texts.append(value.decode("utf-8", "replace") if isinstance(value, bytes) else repr(value))
    for t in texts:
        _assert_clean(t, f"{type(exc).__name__}")
