"""Baidu H5 faceprint client (``/rpc/2.0/brain/solution/faceprint/...``).

Calls are ``POST <base>/rpc/2.0/brain/solution/faceprint/<api>?access_token=...`` with a
JSON body. The access token comes from ``POST /oauth/2.0/token`` (client credentials),
is cached for its lifetime minus a safety margin, shared by all threads (one fetch
even when eight threads start at once), and fetched again once – with the call
resent – when an answer says error 110 (invalid) or 111 (expired).

Baidu reports most errors with HTTP 200 and a body, either
``{"error_code": 18, "error_msg": ..., "log_id": ...}`` or
``{"success": false, "code": ..., "message": ..., "log_id": ...}``
(numbers may come as strings); see :data:`~.errors.BAIDU_ERRORS`.

The hook/ledger key is ``"<api>:<verify_token>"`` (e.g. ``"result/detail:Yz9r..."``),
or ``"verifyToken/generate:<plan_id>"``; token fetches are not passed to the hooks.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import replace
from typing import Any, Callable

from .._ids import TOKEN_CHAR
from ._http import BaseClient, Response, credential, parse_json
from ..redact import MaskedParams, Secret, env_secret, redact, register_secret
from .errors import (
    BAIDU_ERRORS,
    AccessTokenError,
    BaiduAuthError,
    BaiduError,
    BaiduRequestFailed,
    MissingCredentials,
    ProviderError,
    VerifyTokenInvalid,
)
from .retry import RetryPolicy

__all__ = ["BaiduClient", "baidu_error"]

DEFAULT_BASE_URL = "https://aip.baidubce.com"
TOKEN_PATH = "/oauth/2.0/token"
API_PREFIX = "/rpc/2.0/brain/solution/faceprint/"
#: Result APIs by short name (the ``--what`` values of ``fetch baidu``).
RESULT_APIS = {
    "simple": "result/simple",
    "detail": "result/detail",
    "stat": "result/stat",
    "getall": "result/getall",
    "media": "result/media/query",
}


def is_verify_token_message(message: str) -> bool:
    """Whether a Baidu failure message says the verify_token is invalid or expired (a refused
    call: also read by ``analytics._errors.repeats_latest_attempt``)."""
    # "Token无效或者已过期": the verify_token is unknown, expired, or from another app.
    return "token" in message.lower() and ("无效" in message or "过期" in message)


def baidu_error(response: Response) -> BaiduError | None:
    """The typed error a Baidu answer (a JSON object) stands for, or ``None`` for a success."""
    payload = response.json if isinstance(response.json, dict) else {}
    status = response.http_status
    failed = payload.get("success") is False
    error_code = payload.get("error_code")
    if error_code not in (None, 0, "0", ""):
        code: str | None = str(error_code)
        message = payload.get("error_msg")
    elif failed:
        code = None if payload.get("code") is None else str(payload.get("code"))
        message = payload.get("message")
    elif 200 <= status < 300:
        return None
    else:
        code, message = f"HTTP_{status}", None
    message = None if message is None else str(message)
    if code in BAIDU_ERRORS:
        cls: type[BaiduError] = BAIDU_ERRORS[code]
    elif message and is_verify_token_message(message):
        cls = VerifyTokenInvalid
    elif failed:
        cls = BaiduRequestFailed
    else:
        cls = BaiduError
    log_id = payload.get("log_id")
    return cls(
        f"Baidu returned error {code}" if cls is BaiduError else None,
        http_status=status,
        code=code,
        detail=message,
        request_id=None if log_id is None else str(log_id),
        retryable=(status >= 500 or status == 429) if cls in (BaiduError, BaiduRequestFailed) else None,
        body=response.body,
        url=response.url,
    )


class BaiduClient(BaseClient):
    """Baidu H5 faceprint: verify-token setup calls and the post-verification result APIs.

    Every method returns a :class:`~._http.Response` (raw ``body`` + parsed ``json``)
    or raises a :class:`~.errors.ProviderError`; a ``success: false`` answer raises
    too (:class:`~.errors.BaiduRequestFailed` etc.) with the body kept in ``exc.body``.
    """

    provider = "baidu"
    default_base_url = DEFAULT_BASE_URL
    base_url_env = "BAIDU_BASE_URL"

    def __init__(
        self,
        api_key: str,
        secret_key: str,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float | tuple[float, float] = (5, 30),
        retry: RetryPolicy | None = None,
        *,
        token_margin: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
        **options: Any,
    ) -> None:
        """*token_margin*: seconds before ``expires_in`` runs out at which the token is
        renewed (at most 10% of its lifetime). *options*: ``before_call``, ``after_call``,
        ``ledger``, ``ca_bundle``, ``session_factory`` (see :class:`~._http.BaseClient`)."""
        self._api_key = credential("api_key", api_key)
        self._secret_key = credential("secret_key", secret_key)
        del api_key, secret_key  # out of this frame's locals, which some tracebacks print
        # No per-id quota at Baidu, and QPS errors (18) are common: retry a little more.
        retry = retry if retry is not None else RetryPolicy(max_attempts=4)
        super().__init__(base_url, timeout=timeout, retry=retry, **options)
        self.token_margin = float(token_margin)
        self._clock = clock
        self._token_lock = threading.Lock()
        self._token_state: tuple[Secret, float] | None = None
        self.token_fetches = 0  # how many times a token was requested (for diagnostics)

    @classmethod
    def from_env(cls, base_url: str | None = None, **options: Any) -> "BaiduClient":
        """A client with ``BAIDU_API_KEY`` / ``BAIDU_SECRET_KEY`` from the environment,
        talking to *base_url*, else ``BAIDU_BASE_URL``, else the real provider."""
        key, secret = env_secret("BAIDU_API_KEY"), env_secret("BAIDU_SECRET_KEY")
        if not key or not secret:
            raise MissingCredentials(
                "BAIDU_API_KEY and BAIDU_SECRET_KEY must both be set",
                provider=cls.provider,
                hint="Export BAIDU_API_KEY and BAIDU_SECRET_KEY (never put them in a file the tool writes).",
            )
        return cls(key, secret, cls.resolve_base_url(base_url)[0], **options)

    # -- access token ---------------------------------------------------------------------

    def _access_token(self) -> Secret:
        state = self._token_state
        if state is not None and self._clock() < state[1]:
            return state[0]
        with self._token_lock:
            state = self._token_state
            if state is not None and self._clock() < state[1]:
                return state[0]
            token, lifetime = self._fetch_token()
            margin = min(self.token_margin, lifetime * 0.1)
            self._token_state = (token, self._clock() + lifetime - margin)
            return token

    def _drop_token(self, token: Secret) -> None:
        """Forget *token* unless another thread already replaced it."""
        with self._token_lock:
            if self._token_state is not None and self._token_state[0] == token:
                self._token_state = None

    def _fetch_token(self) -> tuple[Secret, float]:
        self.token_fetches += 1
        params = MaskedParams(
            grant_type="client_credentials",
            client_id=self._api_key.reveal(),
            client_secret=self._secret_key.reveal(),
        )
        response = self._request(
            "POST", self._url(TOKEN_PATH), key=None, params=params, error_for=self._token_error, mask_body=False
        )
        payload = response.json
        token = Secret(str(payload["access_token"]))  # registers it for redaction
        try:
            lifetime = float(payload.get("expires_in", 3600))
        except (TypeError, ValueError):
            lifetime = 3600.0
        return token, max(lifetime, 0.0)

    def _token_error(self, response: Response) -> ProviderError | None:
        payload = response.json
        if isinstance(payload, dict) and payload.get("access_token"):
            register_secret(str(payload["access_token"]))
            return None
        # The parsed body was read unmasked (it must carry the token): an error is built
        # from the masked bytes only.
        payload = parse_json(response.body)
        response = replace(response, json=payload)
        if isinstance(payload, dict) and payload.get("error"):
            return BaiduAuthError(
                http_status=response.http_status,
                code=str(payload["error"]),
                detail=None if payload.get("error_description") is None else str(payload["error_description"]),
                retryable=response.http_status >= 500,
                fatal=response.http_status < 500,
                body=response.body,
                url=response.url,
            )
        if isinstance(payload, dict) and payload.get("error_code") not in (None, 0, "0"):
            return baidu_error(response)
        return self._invalid(response, "the token endpoint answered without an access_token")

    # -- calls ----------------------------------------------------------------------------

    def _error_for(self, response: Response) -> ProviderError | None:
        if not isinstance(response.json, dict):
            return self._invalid(response, "Baidu answered with a body that is not a JSON object")
        return baidu_error(response)

    def _call(self, api: str, payload: dict[str, Any], key: str) -> Response:
        url = self._url(API_PREFIX + api)
        token = self._access_token()
        try:
            return self._request("POST", url, key=key, params=_token_param(token), json=payload)
        except AccessTokenError:
            pass  # resend below, outside this block, so the stale-token error is not chained
        self._drop_token(token)
        token = self._access_token()
        return self._request("POST", url, key=key, params=_token_param(token), json=payload)

    def generate_verify_token(self, plan_id: str | int) -> Response:
        """``verifyToken/generate``: a verify_token for an H5 plan (valid 2 hours)."""
        return self._call("verifyToken/generate", {"plan_id": plan_id}, f"verifyToken/generate:{plan_id}")

    def submit_idcard(
        self, verify_token: str, id_name: str, id_no: str, certificate_type: int | None = None
    ) -> Response:
        """``idcard/submit``: the name and ID number the user will be verified against."""
        body: dict[str, Any] = {"verify_token": _check_token(verify_token), "id_name": id_name, "id_no": id_no}
        if certificate_type is not None:
            body["certificate_type"] = int(certificate_type)
        return self._call("idcard/submit", body, f"idcard/submit:{verify_token}")

    def upload_match_image(
        self,
        verify_token: str,
        image_b64: str,
        quality_control: str | None = None,
        liveness_control: str | None = None,
    ) -> Response:
        """``uploadMatchImage``: the reference face (base64) for a 1:1 comparison plan."""
        body: dict[str, Any] = {"verify_token": _check_token(verify_token), "image": image_b64}
        if quality_control is not None:
            body["quality_control"] = quality_control
        if liveness_control is not None:
            body["liveness_control"] = liveness_control
        return self._call("uploadMatchImage", body, f"uploadMatchImage:{verify_token}")

    def result(self, what: str, token: str) -> Response:
        """One result API by short name: ``simple``, ``detail``, ``stat``, ``getall``, ``media``."""
        try:
            api = RESULT_APIS[what]
        except KeyError:
            raise ValueError(f"unknown Baidu result API {what!r}; choose from {sorted(RESULT_APIS)}") from None
        return self._call(api, {"verify_token": _check_token(token)}, f"{api}:{token}")

    def result_simple(self, token: str) -> Response:
        """``result/simple``: the final face image URL."""
        return self.result("simple", token)

    def result_detail(self, token: str) -> Response:
        """``result/detail``: OCR, confirmed ID, liveness/spoofing scores and similarity score."""
        return self.result("detail", token)

    def result_stat(self, token: str) -> Response:
        """``result/stat``: per-API error-code counts."""
        return self.result("stat", token)

    def result_getall(self, token: str) -> Response:
        """``result/getall``: every verification attempt with charging information."""
        return self.result("getall", token)

    def result_media(self, token: str) -> Response:
        """``result/media/query``: video and image URLs of a real-time liveness session."""
        return self.result("media", token)


def _token_param(token: Secret) -> MaskedParams:
    return MaskedParams(access_token=token.reveal())


# The characters of a verify_token (letters, digits, ``-`` and ``_``): a value with others (spaces,
# a line break, the comma of a Megvii biz_id) cannot be one, so it is refused before it is sent.
_TOKEN_CHARS = re.compile(rf"{TOKEN_CHAR}{{1,128}}")


def _check_token(token: str) -> str:
    """Refuse what cannot be a verify_token before anything is counted or sent."""
    if not isinstance(token, str) or not token.strip():
        raise ValueError(f"verify_token must be a non-empty string, not {type(token).__name__}")
    if not _TOKEN_CHARS.fullmatch(token):
        why = ("has spaces or a line break" if any(c.isspace() for c in token)
               else "a Megvii biz_id?" if "," in token else "only letters, digits, - and _ make one")
        raise ValueError(f"{redact(repr(token[:80]))} is not a verify_token ({why}); nothing was sent")
    return token
