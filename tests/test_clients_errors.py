"""Error mapping: every documented provider error lands in its typed exception."""

from __future__ import annotations

import json
import pickle

import pytest

from faceanalytics.clients import (
    BAIDU_ERRORS,
    MEGVII_ERRORS,
    NO_RETRY,
    AccessTokenExpired,
    AccessTokenInvalid,
    ApiNotFound,
    BadArguments,
    BaiduError,
    BaiduInternalError,
    BaiduRequestFailed,
    DailyLimitExceeded,
    DataDestroyed,
    InsecureURL,
    InvalidResponse,
    MegviiAuthenticationError,
    MegviiAuthorizationError,
    MegviiClient,
    MegviiConcurrencyLimitExceeded,
    MegviiError,
    MegviiInternalError,
    MessageEncryptionError,
    MissingArguments,
    ProviderError,
    QpsLimitExceeded,
    QuotaExhausted,
    RateLimited,
    Response,
    ResultNotFound,
    ServerError,
    TotalLimitExceeded,
    VerifyTokenInvalid,
    baidu_error,
    redact,
)
from faceanalytics.redact import register_secret
from faceanalytics.errors import UsageError
from faceanalytics.clients.testing import Reply, ScriptedServer

LITE = "/faceid/lite/get_result"
REQUEST_ID = "1462259901,fa79992d-ca61-48de-aa50-ea337c6aad42"


@pytest.fixture
def server():
    with ScriptedServer() as s:
        yield s


# (HTTP status, error_message as sent, class, code, detail, retryable, fatal) – from the seed tables.
MEGVII_CASES = [
    (400, "RESULT_NOT_FOUND", ResultNotFound, "RESULT_NOT_FOUND", None, False, False),
    (403, "AUTHENTICATION_ERROR", MegviiAuthenticationError, "AUTHENTICATION_ERROR", None, False, True),
    (403, "AUTHORIZATION_ERROR:Denied.", MegviiAuthorizationError, "AUTHORIZATION_ERROR", "Denied.", False, True),
    (
        403,
        "AUTHORIZATION_ERROR:No data source permission.",
        MegviiAuthorizationError,
        "AUTHORIZATION_ERROR",
        "No data source permission.",
        False,
        True,
    ),
    (400, "MESSAGE_ENCRYPTION_ERROR", MessageEncryptionError, "MESSAGE_ENCRYPTION_ERROR", None, False, False),
    (
        403,
        "CONCURRENCY_LIMIT_EXCEEDED",
        MegviiConcurrencyLimitExceeded,
        "CONCURRENCY_LIMIT_EXCEEDED",
        None,
        True,
        False,
    ),
    (400, "MISSING_ARGUMENTS:biz_id", MissingArguments, "MISSING_ARGUMENTS", "biz_id", False, False),
    (400, "MISSING_ARGUMENTS: api_key", MissingArguments, "MISSING_ARGUMENTS", "api_key", False, False),
    (403, "DATA_DESTROYED", DataDestroyed, "DATA_DESTROYED", None, False, False),
    (400, "BAD_ARGUMENTS:return_image", BadArguments, "BAD_ARGUMENTS", "return_image", False, False),
    (404, "API_NOT_FOUND", ApiNotFound, "API_NOT_FOUND", None, False, True),
    (500, "INTERNAL_ERROR", MegviiInternalError, "INTERNAL_ERROR", None, True, False),
    (418, "SOMETHING_NEW:x", MegviiError, "SOMETHING_NEW", "x", False, False),
    (503, "SOMETHING_NEW", MegviiError, "SOMETHING_NEW", None, True, False),
]


@pytest.mark.parametrize("status,message,cls,code,detail,retryable,fatal", MEGVII_CASES)
def test_megvii_documented_errors_map_to_typed_exceptions(
    server, status, message, cls, code, detail, retryable, fatal
):
    body = json.dumps({"error_message": message, "request_id": REQUEST_ID, "time_used": 4}).encode()
    server.script(LITE, Reply(status, body))
    client = MegviiClient("k-errors", "s-errors", base_url=server.url, retry=NO_RETRY)

    with pytest.raises(ProviderError) as info:
        client.get_lite_result("1462259748,52b13fb5")

    exc = info.value
    assert type(exc) is cls
    assert isinstance(exc, MegviiError)
    assert (exc.http_status, exc.code, exc.detail, exc.request_id) == (status, code, detail, REQUEST_ID)
    assert exc.retryable is retryable and exc.fatal is fatal
    assert exc.body == body  # the raw error body, for the archive
    assert exc.provider == "megvii"
    assert exc.hint and exc.hint.endswith(".")
    text = str(exc)
    for part in (str(status), code, REQUEST_ID, exc.hint):
        assert part in text
    assert "biz_id=1462259748%2C52b13fb5" in exc.url and "s-errors" not in exc.url


def test_megvii_code_table_is_complete():
    documented = {
        "RESULT_NOT_FOUND", "AUTHENTICATION_ERROR", "AUTHORIZATION_ERROR", "MESSAGE_ENCRYPTION_ERROR",
        "CONCURRENCY_LIMIT_EXCEEDED", "MISSING_ARGUMENTS", "DATA_DESTROYED", "BAD_ARGUMENTS",
        "API_NOT_FOUND", "INTERNAL_ERROR",
    }  # fmt: skip
    assert set(MEGVII_ERRORS) == documented


@pytest.mark.parametrize(
    "status,body,retryable",
    [(502, b"<html>Bad Gateway</html>", True), (200, b"{truncated", False), (404, b"Not Found", False)],
)
def test_megvii_non_json_body_is_invalid_response(server, status, body, retryable):
    server.script(LITE, Reply(status, body))
    client = MegviiClient("k", "s", base_url=server.url, retry=NO_RETRY)
    with pytest.raises(InvalidResponse) as info:
        client.get_lite_result("1,a")
    assert info.value.http_status == status and info.value.body == body
    assert info.value.retryable is retryable


def _baidu(body, status=200) -> Response:
    raw = json.dumps(body, ensure_ascii=False).encode()
    return Response(http_status=status, body=raw, json=json.loads(raw), elapsed=0.0, url="https://x/y")


@pytest.mark.parametrize(
    "body,cls,code,detail,request_id,retryable",
    [
        ({"error_code": 110, "error_msg": "Access token invalid or no longer valid", "log_id": 1},
         AccessTokenInvalid, "110", "Access token invalid or no longer valid", "1", False),
        ({"error_code": "111", "error_msg": "Access token expired", "log_id": "2"},
         AccessTokenExpired, "111", "Access token expired", "2", False),
        ({"error_code": 17, "error_msg": "Open api daily request limit reached"},
         DailyLimitExceeded, "17", "Open api daily request limit reached", None, False),
        ({"error_code": 18, "error_msg": "Open api qps request limit reached", "log_id": 1814798895},
         QpsLimitExceeded, "18", "Open api qps request limit reached", "1814798895", True),
        ({"error_code": 19, "error_msg": "Open api total request limit reached"},
         TotalLimitExceeded, "19", "Open api total request limit reached", None, False),
        ({"error_code": 282000, "error_msg": "internal error"}, BaiduInternalError, "282000", "internal error", None, True),
        ({"success": False, "code": 18, "message": "openapi限制", "log_id": 5}, QpsLimitExceeded, "18", "openapi限制", "5", True),
        ({"success": False, "code": 216100, "message": "Token无效或者已过期", "log_id": "160931948204246"},
         VerifyTokenInvalid, "216100", "Token无效或者已过期", "160931948204246", False),
        ({"success": False, "message": "Token无效或者已过期"}, VerifyTokenInvalid, None, "Token无效或者已过期", None, False),
        ({"success": False, "code": "222023", "message": "身份证姓名不匹配", "log_id": 7},
         BaiduRequestFailed, "222023", "身份证姓名不匹配", "7", False),
        ({"error_code": 6, "error_msg": "No permission to access data"}, BaiduError, "6", "No permission to access data", None, False),
    ],
)  # fmt: skip
def test_baidu_error_bodies_map_to_typed_exceptions(body, cls, code, detail, request_id, retryable):
    exc = baidu_error(_baidu(body))
    assert type(exc) is cls and isinstance(exc, BaiduError)
    assert (exc.http_status, exc.code, exc.detail, exc.request_id, exc.retryable) == (
        200, code, detail, request_id, retryable,
    )  # fmt: skip
    assert exc.body == _baidu(body).body
    assert exc.hint and exc.hint in str(exc)
    if code:
        assert code in str(exc)


def test_baidu_success_bodies_are_not_errors():
    assert baidu_error(_baidu({"success": True, "result": {"verify_token": "t"}, "log_id": "1"})) is None
    assert baidu_error(_baidu({"error_code": 0, "error_msg": "SUCCESS", "result": {}})) is None
    assert isinstance(baidu_error(_baidu({"success": True}, status=500)), BaiduError)  # success only on 2xx
    exc = baidu_error(_baidu({"message": "gateway"}, status=503))
    assert isinstance(exc, BaiduError) and exc.retryable and exc.code == "HTTP_503"


def test_baidu_code_table_covers_the_documented_codes():
    assert {"17", "18", "19", "110", "111"} <= set(BAIDU_ERRORS)


def test_categories():
    assert issubclass(MegviiConcurrencyLimitExceeded, RateLimited)
    assert issubclass(QpsLimitExceeded, RateLimited)
    assert issubclass(MegviiInternalError, ServerError) and issubclass(BaiduInternalError, ServerError)
    # nothing was sent: a usage error (issue 14), not a provider's answer; still a ValueError
    assert issubclass(InsecureURL, ValueError) and issubclass(InsecureURL, UsageError)
    assert issubclass(QuotaExhausted, UsageError)
    assert not issubclass(InsecureURL, ProviderError) and not issubclass(QuotaExhausted, ProviderError)
    assert not InsecureURL().sent and not QuotaExhausted().sent
    assert MegviiInternalError().retryable and not ResultNotFound().retryable


def test_errors_pickle_round_trip():
    exc = ResultNotFound(http_status=400, code="RESULT_NOT_FOUND", request_id="r", body=b"{}", url="https://x")
    back = pickle.loads(pickle.dumps(exc))
    assert type(back) is ResultNotFound
    assert (back.http_status, back.code, back.request_id, back.body, str(back)) == (
        400, "RESULT_NOT_FOUND", "r", b"{}", str(exc),
    )  # fmt: skip
    quota = pickle.loads(pickle.dumps(QuotaExhausted(key="k", calls=3, limit=3)))
    assert (quota.key, quota.calls, quota.limit) == ("k", 3, 3)


def test_quota_exhausted_message():
    exc = QuotaExhausted(key="1462,abc", calls=3, limit=3, path="/d/megvii.log")
    assert exc.code == "QUOTA_EXHAUSTED" and exc.detail == "1462,abc"
    assert "3 of 3" in str(exc) and "/d/megvii.log" in str(exc)


# -- redact -----------------------------------------------------------------------------------


def test_redact_masks_credential_query_values_without_registration():
    url = (
        "https://api.megvii.com/faceid/lite/get_result?api_key=AAA&api_secret=BBB&biz_id=1%2C2"
        "&access_token=24.CCC&client_id=DDD&client_secret=EEE"
    )
    out = redact(url)
    for value in ("AAA", "BBB", "24.CCC", "DDD", "EEE"):
        assert value not in out
    assert "biz_id=1%2C2" in out and "api_secret=***" in out


def test_redact_masks_json_and_dict_fields_and_userinfo():
    text = """{"access_token": "24.tok", "expires_in": 5} {'client_secret': 'xyz'} https://u:pw@host/p"""
    out = redact(text)
    assert "24.tok" not in out and "xyz" not in out and "u:pw" not in out
    assert '"expires_in": 5' in out


def test_redact_masks_registered_secrets_raw_and_percent_encoded():
    secret = "Zq+9/redact=Secret"
    register_secret(secret)
    from urllib.parse import quote, quote_plus

    text = f"a {secret} b {quote(secret, safe='')} c {quote_plus(secret)} d"
    out = redact(text)
    assert secret not in out and quote(secret, safe="") not in out and quote_plus(secret) not in out
    assert out.startswith("a *** b")


def test_error_attributes_are_redacted():
    register_secret("very-secret-value-42")
    exc = MegviiError("boom very-secret-value-42", detail="api_secret=very-secret-value-42", request_id="r")
    assert "very-secret-value-42" not in str(exc) + repr(exc) + repr(exc.args) + str(exc.detail)
