"""Typed errors raised by the provider clients.

A client raises a :class:`ProviderError` when a call was sent (or may have been) and
failed, and a :class:`ConfigurationError` or :class:`QuotaExhausted` when nothing was
sent.  The whole tree, with the provider codes each class stands for, is drawn once in
:mod:`faceanalytics.errors`.  All of them carry what an analyst needs to act on it:

* ``http_status`` – the HTTP status of the final response (``None`` if none came back);
* ``code`` – the provider's code: Megvii ``error_message`` up to the colon
  (``"RESULT_NOT_FOUND"``), Baidu ``error_code``/``code`` as a string (``"18"``),
  the OAuth ``error`` (``"invalid_client"``), or our own (``"TIMEOUT"``);
* ``detail`` – what follows the colon (``"Denied."``, the missing key) or Baidu's message;
* ``request_id`` – Megvii ``request_id`` / Baidu ``log_id``, to quote to support;
* ``retryable`` – whether the same call may succeed if sent again;
* ``fatal`` – whether every further call with these credentials will fail the same way
  (stop the batch rather than burn through the ids);
* ``hint`` – one English sentence saying what to do;
* ``body`` – the raw response bytes (credentials masked), so the caller can archive
  error replies too;
* ``url`` – the request URL with credentials masked;
* ``sent`` – ``False`` only when the request certainly never left this machine (the
  connection was refused, the name did not resolve, the TLS handshake failed): such a
  call reached no provider and spent no quota.

No credential ever appears in ``str(exc)``, ``repr(exc)``, ``exc.args`` or the
exception chain: messages pass through :func:`redact`, and transport failures are
re-raised without the ``requests`` exception (whose message holds the full URL).

``RateLimited`` and ``ServerError`` are mix-in categories (subclasses of ProviderError),
so ``except RateLimited`` catches both providers' throttling.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ..errors import FaceAnalyticsError, UsageError
from ..redact import redact, redact_bytes

__all__ = [
    "ProviderError",
    "ConfigurationError",
    "InsecureURL",
    "NotTLS",
    "MissingCredentials",
    "QuotaExhausted",
    "TransportError",
    "ConnectError",
    "RequestTimeout",
    "InvalidResponse",
    "RateLimited",
    "ServerError",
    "MegviiError",
    "MegviiAuthenticationError",
    "MegviiAuthorizationError",
    "MegviiConcurrencyLimitExceeded",
    "ResultNotFound",
    "DataDestroyed",
    "MissingArguments",
    "BadArguments",
    "ApiNotFound",
    "MessageEncryptionError",
    "MegviiInternalError",
    "BaiduError",
    "BaiduAuthError",
    "AccessTokenError",
    "AccessTokenInvalid",
    "AccessTokenExpired",
    "DailyLimitExceeded",
    "QpsLimitExceeded",
    "TotalLimitExceeded",
    "BaiduInternalError",
    "VerifyTokenInvalid",
    "BaiduRequestFailed",
    "MEGVII_ERRORS",
    "BAIDU_ERRORS",
    "redact",
]


def _restore(cls: type, state: dict[str, Any]) -> "_Facts":
    exc = cls.__new__(cls)
    Exception.__init__(exc, *state.pop("args", ()))
    exc.__dict__.update(state)
    return exc


class _Facts:
    """What a client error carries (the fields above), redacted; mixed into an exception class."""

    #: Defaults a subclass overrides; an instance may override them again.
    provider: str | None = None
    default_message: ClassVar[str] = "the provider call failed"
    default_hint: ClassVar[str] = "See the code and detail; quote the request id to the provider's support."
    retryable_default: ClassVar[bool] = False
    fatal_default: ClassVar[bool] = False
    sent_default: ClassVar[bool] = True  # may have reached the provider (counted)

    def __init__(
        self,
        message: str | None = None,
        *,
        http_status: int | None = None,
        code: str | None = None,
        detail: str | None = None,
        request_id: str | None = None,
        retryable: bool | None = None,
        fatal: bool | None = None,
        hint: str | None = None,
        body: bytes | None = None,
        url: str | None = None,
        provider: str | None = None,
        sent: bool | None = None,
    ) -> None:
        if provider is not None:
            self.provider = provider
        self.sent = self.sent_default if sent is None else bool(sent)
        self.message = redact(message or self.default_message)
        self.http_status = http_status
        self.code = None if code is None else redact(code)
        self.detail = None if detail is None else redact(detail)
        self.request_id = None if request_id is None else redact(request_id)
        self.retryable = self.retryable_default if retryable is None else bool(retryable)
        self.fatal = self.fatal_default if fatal is None else bool(fatal)
        self.hint = redact(hint or self.default_hint)
        self.body = None if body is None else redact_bytes(bytes(body))
        self.url = None if url is None else redact(url)
        super().__init__(self._render())

    def _render(self) -> str:
        facts = []
        if self.http_status is not None:
            facts.append(f"http_status={self.http_status}")
        if self.code is not None:
            facts.append(f"code={self.code}")
        if self.detail:
            facts.append(f"detail={self.detail!r}")
        if self.request_id:
            facts.append(f"request_id={self.request_id}")
        head = f"{self.provider}: {self.message}" if self.provider else self.message
        tail = f" ({', '.join(facts)})" if facts else ""
        return f"{head}{tail}. Hint: {self.hint}"

    def __str__(self) -> str:
        return self.args[0] if self.args else self._render()

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(http_status={self.http_status!r}, code={self.code!r}, "
            f"detail={self.detail!r}, request_id={self.request_id!r}, retryable={self.retryable!r})"
        )

    def __reduce__(self):  # keyword-only __init__ would otherwise break pickling
        return (_restore, (type(self), dict(self.__dict__, args=self.args)))


class ProviderError(_Facts, FaceAnalyticsError):
    """A call was sent (or may have been): the provider answered an error, or the transport failed."""


# -- categories ---------------------------------------------------------------------------


class RateLimited(ProviderError):
    """The provider throttled the call; it may succeed after a pause."""

    retryable_default = True


class ServerError(ProviderError):
    """The provider failed internally; it may succeed when sent again."""

    retryable_default = True


# -- ours -----------------------------------------------------------------------------------


class ConfigurationError(_Facts, UsageError):
    """The client is set up wrongly; nothing was sent."""

    sent_default = False

    fatal_default = True


class InsecureURL(ConfigurationError, ValueError):
    default_message = "refusing a plain-http URL to a non-loopback host"
    default_hint = "Use https:// (plain http is only allowed for 127.0.0.1, ::1 and localhost)."


class NotTLS(ConfigurationError):
    """An ``https://`` URL whose server answered in plain HTTP: the TLS handshake was
    answered with HTTP text ("wrong version number"); retrying cannot help."""

    default_message = "the server answered in plain HTTP, not TLS"
    default_hint = ("Check the port, or use http:// if this is a plain-HTTP server (allowed only for "
                    "127.0.0.1, ::1 and localhost).")


class MissingCredentials(ConfigurationError, ValueError):
    default_message = "credentials are missing"
    default_hint = "Set the provider's credential environment variables (see the README)."


class QuotaExhausted(_Facts, UsageError):
    """The quota ledger refused the call before it was sent.

    ``key``/``calls``/``limit`` say which id and how many calls are already on record.
    When a retry was refused, ``last_error`` is the error that prompted the retry, and
    ``http_status``/``body``/``request_id`` are copied from it so the caller can
    archive the provider's last answer the same way as for any other error.
    """

    default_message = "the quota ledger refused another call"
    sent_default = False
    default_hint = (
        "The provider allows only a few calls per id (Megvii: 3); use the archived response "
        "instead of calling again."
    )

    def __init__(
        self,
        message: str | None = None,
        *,
        key: str | None = None,
        calls: int | None = None,
        limit: int | None = None,
        path: str | None = None,
        last_error: ProviderError | None = None,
        **kwargs: Any,
    ) -> None:
        self.key = key
        self.calls = calls
        self.limit = limit
        self.path = path
        self.last_error = last_error
        kwargs.setdefault("code", "QUOTA_EXHAUSTED")
        kwargs.setdefault("detail", key)
        if last_error is not None:
            kwargs.setdefault("http_status", last_error.http_status)
            kwargs.setdefault("request_id", last_error.request_id)
            kwargs.setdefault("body", last_error.body)
            kwargs.setdefault("url", last_error.url)
        if message is None and calls is not None and limit is not None:
            message = f"{calls} of {limit} allowed calls already recorded for this key"
            if path:
                message += f" in {path}"
            if last_error is not None:
                message += f"; the last answer was {last_error.code or last_error.http_status}"
        super().__init__(message, **kwargs)


class TransportError(ProviderError):
    """No usable answer came back."""


class ConnectError(TransportError):
    default_message = "could not connect or the connection broke"
    default_hint = "Check the network, any proxy, and the base URL; the call is retried automatically."
    retryable_default = True


class RequestTimeout(TransportError):
    default_message = "the server did not answer in time"
    default_hint = "Retry later or raise the timeout; the call is retried automatically."
    retryable_default = True


class InvalidResponse(TransportError):
    default_message = "the response body is not the documented JSON"
    default_hint = (
        "Check the base URL: a proxy, gateway or login page may be answering instead of the provider."
    )


# -- Megvii ---------------------------------------------------------------------------------


class MegviiError(ProviderError):
    """Megvii answered ``{"error_message": "CODE[:detail]", "request_id": ...}``."""

    provider = "megvii"
    default_message = "Megvii returned an error"


class MegviiAuthenticationError(MegviiError):
    default_message = "api_key and api_secret do not match"
    default_hint = "Check MEGVII_API_KEY and MEGVII_API_SECRET."
    fatal_default = True


class MegviiAuthorizationError(MegviiError):
    default_message = "the api_key may not call this API (disabled, over its limit, or no permission)"
    default_hint = "Ask Megvii to enable this API for the api_key or check that it is not disabled or over its limit."
    fatal_default = True


class MegviiConcurrencyLimitExceeded(MegviiError, RateLimited):
    default_message = "too many concurrent calls"
    default_hint = "Lower --concurrency; the call is retried automatically with backoff."


class ResultNotFound(MegviiError):
    default_message = "no result for this biz_id"
    default_hint = (
        "Check the biz_id was copied whole (it contains a comma) and belongs to this api_key and product."
    )


class DataDestroyed(MegviiError):
    default_message = "the result is no longer available (older than one day or fetched 3 times)"
    default_hint = "Use the archived response; Megvii will not serve this result again."


class MissingArguments(MegviiError):
    default_message = "a required parameter is missing"
    default_hint = "This is a faceanalytics bug (or a wrong base URL); report it with the request id."


class BadArguments(MegviiError):
    default_message = "a parameter could not be parsed"
    default_hint = "Check the named parameter (a biz_id or option value); it was malformed or too long."


class ApiNotFound(MegviiError):
    default_message = "the API does not exist"
    default_hint = "Check the base URL and the product (Lite vs. web liveness) the ids come from."
    fatal_default = True


class MessageEncryptionError(MegviiError):
    default_message = "Megvii failed to encrypt sensitive fields"
    default_hint = "Retry later; contact Megvii support if it persists."


class MegviiInternalError(MegviiError, ServerError):
    default_message = "Megvii internal error"
    default_hint = "Retried automatically; contact Megvii support with the request id if it persists."


#: Megvii ``error_message`` code -> class.
MEGVII_ERRORS: dict[str, type[MegviiError]] = {
    "AUTHENTICATION_ERROR": MegviiAuthenticationError,
    "AUTHORIZATION_ERROR": MegviiAuthorizationError,
    "CONCURRENCY_LIMIT_EXCEEDED": MegviiConcurrencyLimitExceeded,
    "RESULT_NOT_FOUND": ResultNotFound,
    "DATA_DESTROYED": DataDestroyed,
    "MISSING_ARGUMENTS": MissingArguments,
    "BAD_ARGUMENTS": BadArguments,
    "API_NOT_FOUND": ApiNotFound,
    "MESSAGE_ENCRYPTION_ERROR": MessageEncryptionError,
    "INTERNAL_ERROR": MegviiInternalError,
}


# -- Baidu ----------------------------------------------------------------------------------


class BaiduError(ProviderError):
    """Baidu answered ``{"error_code": N, "error_msg": ...}`` or ``{"success": false, ...}``."""

    provider = "baidu"
    default_message = "Baidu returned an error"


class BaiduAuthError(BaiduError):
    default_message = "Baidu refused to issue an access token"
    default_hint = "Check BAIDU_API_KEY and BAIDU_SECRET_KEY."
    fatal_default = True


class AccessTokenError(BaiduError):
    default_hint = (
        "The access token is fetched again automatically once; if this persists check "
        "BAIDU_API_KEY and BAIDU_SECRET_KEY."
    )


class AccessTokenInvalid(AccessTokenError):
    default_message = "the access token is invalid"


class AccessTokenExpired(AccessTokenError):
    default_message = "the access token has expired"


class DailyLimitExceeded(BaiduError):
    default_message = "the app's daily request limit is used up"
    default_hint = "Continue tomorrow or raise the daily limit in the Baidu console."
    fatal_default = True


class QpsLimitExceeded(BaiduError, RateLimited):
    default_message = "the QPS limit was reached"
    default_hint = (
        "Lower --concurrency; if it persists, check in the Baidu console that the paid "
        "Face Verification V4 / Face Match V4 APIs are enabled or have free quota."
    )


class TotalLimitExceeded(BaiduError):
    default_message = "the app's total request limit is used up"
    default_hint = "Buy more calls or raise the limit in the Baidu console."
    fatal_default = True


class BaiduInternalError(BaiduError, ServerError):
    default_message = "Baidu service temporarily unavailable"
    default_hint = "Retried automatically; contact Baidu support with the log id if it persists."


class VerifyTokenInvalid(BaiduError):
    default_message = "the verify_token is invalid or expired"
    default_hint = (
        "Results are kept 3 days and must be queried with the same Baidu app that issued the "
        "verify_token; this one cannot be queried again."
    )


class BaiduRequestFailed(BaiduError):
    default_message = "Baidu answered success=false"
    default_hint = "See code and detail; the body is kept so the failure can be archived."


#: Baidu ``error_code``/``code`` (as a string) -> class.
BAIDU_ERRORS: dict[str, type[BaiduError]] = {
    "2": BaiduInternalError,
    "17": DailyLimitExceeded,
    "18": QpsLimitExceeded,
    "19": TotalLimitExceeded,
    "110": AccessTokenInvalid,
    "111": AccessTokenExpired,
    "282000": BaiduInternalError,
}
