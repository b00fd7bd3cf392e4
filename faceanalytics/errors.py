"""Every exception faceanalytics raises, in one tree.

``except FaceAnalyticsError`` catches anything the package raises on purpose.  The
three branches say what went wrong, and so what to do next: a provider call that was
sent and failed (look at the code and the hint, maybe retry), a setup or usage mistake
(nothing was sent or written: fix the call), or data that could not be stored or read
(the data directory, its lock, or a payload).  Classes keep a builtin base where
callers catch one (``except ValueError`` still catches ``InsecureURL``)::

    FaceAnalyticsError
    ├── ProviderError                    a call was sent: the provider answered an error, or the transport failed
    │   ├── RateLimited                  throttled, retryable: a category mixed into both providers' classes
    │   ├── ServerError                  failed inside the provider, retryable: a category, as above
    │   ├── TransportError               no usable answer came back
    │   │   ├── ConnectError             DNS, refused, reset, TLS; retryable; sent=False when it never left
    │   │   ├── RequestTimeout           connect or read timeout; retryable
    │   │   └── InvalidResponse          body is not the documented JSON; retryable if 5xx/429
    │   ├── MegviiError                  any other error_message; retryable if 5xx/429
    │   │   ├── MegviiAuthenticationError  403 AUTHENTICATION_ERROR; fatal
    │   │   ├── MegviiAuthorizationError   403 AUTHORIZATION_ERROR:<reason>; fatal
    │   │   ├── MegviiConcurrencyLimitExceeded  403 CONCURRENCY_LIMIT_EXCEEDED; retryable  (RateLimited)
    │   │   ├── ResultNotFound           400 RESULT_NOT_FOUND
    │   │   ├── DataDestroyed            403 DATA_DESTROYED
    │   │   ├── MissingArguments         400 MISSING_ARGUMENTS:<key>
    │   │   ├── BadArguments             400 BAD_ARGUMENTS:<key>
    │   │   ├── ApiNotFound              404 API_NOT_FOUND; fatal
    │   │   ├── MessageEncryptionError   400 MESSAGE_ENCRYPTION_ERROR
    │   │   └── MegviiInternalError      500 INTERNAL_ERROR; retryable  (ServerError)
    │   └── BaiduError                   any other error_code; retryable if 5xx/429
    │       ├── BaiduAuthError           OAuth refused {"error": "invalid_client"}; fatal
    │       ├── AccessTokenError         refreshed once automatically
    │       │   ├── AccessTokenInvalid   110
    │       │   └── AccessTokenExpired   111
    │       ├── DailyLimitExceeded       17; fatal
    │       ├── QpsLimitExceeded         18; retryable  (RateLimited)
    │       ├── TotalLimitExceeded       19; fatal
    │       ├── BaiduInternalError       2, 282000; retryable  (ServerError)
    │       ├── VerifyTokenInvalid       success=false "Token无效或者已过期"
    │       └── BaiduRequestFailed       any other success=false body
    ├── UsageError                       nothing was sent or written: the setup or the call is wrong
    │   ├── ConfigurationError           a client set up wrongly; fatal for the batch
    │   │   ├── InsecureURL              http:// to a non-loopback host, a blank base URL  (also ValueError)
    │   │   ├── NotTLS                   an https:// URL whose server answered in plain HTTP
    │   │   └── MissingCredentials       a credential env var is unset  (also ValueError)
    │   ├── NotUtf8Secret                a credential env var holds bytes that are not UTF-8  (also ValueError)
    │   ├── QuotaExhausted               our quota ledger refused the call before sending it
    │   └── StorageConfigError           the data directory or its S3 setup is unusable  (also ValueError)
    └── DataError                        storage, or a payload, failed
        ├── S3Error                      S3 answered an error or could not be reached  (also OSError)
        ├── WriterBusy                   another writer holds the data directory's lock  (also OSError)
        ├── LockLost                     another writer took the lock: stop  (also OSError)
        ├── MediaError                   a media row whose bytes are missing or not the ones it names  (also ValueError)
        ├── DamagedTable                 a table file that is not readable Parquet: rebuild  (also ValueError)
        ├── DamagedFile                  a Zstandard input or raw segment cut short: what it held before is read  (also ValueError)
        ├── SegmentTooLarge              a raw segment decompressing past read_segment's limit: not read whole  (also RuntimeError)
        └── Unreadable                   a value a record cannot be flattened without  (also ValueError)

A name in parentheses at the end of a line is a further base.  A few private
exceptions that never leave their module (an S3 refusal, an oversized answer, a bad
request to the sandbox) sit under ``DataError`` too.  The provider errors
(and ``ConfigurationError``, ``QuotaExhausted``) carry ``http_status``, ``code``,
``detail``, ``request_id``, ``retryable``, ``fatal``, ``hint``, ``sent`` (see
:mod:`faceanalytics.clients.errors`).  Each class is defined beside the code that
raises it and importable from there as before; this module names them all, and
imports a defining module only when one of its classes is asked for (importing
:mod:`faceanalytics.errors` stays cheap).
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__all__ = ["FaceAnalyticsError", "UsageError", "DataError"]


class FaceAnalyticsError(Exception):
    """The root: every exception the package raises derives from it."""


class UsageError(FaceAnalyticsError):
    """Nothing was sent or written: the setup or the call is wrong, and retrying will not help."""


class DataError(FaceAnalyticsError):
    """The data directory (its storage or its lock), or a payload, failed."""


_CLIENTS = ".clients.errors"
#: class name -> the module that defines it (imported on first use).
_DEFINED_IN = {
    **dict.fromkeys([
        "ProviderError", "RateLimited", "ServerError", "TransportError", "ConnectError",
        "RequestTimeout", "InvalidResponse", "MegviiError", "MegviiAuthenticationError",
        "MegviiAuthorizationError", "MegviiConcurrencyLimitExceeded", "ResultNotFound",
        "DataDestroyed", "MissingArguments", "BadArguments", "ApiNotFound",
        "MessageEncryptionError", "MegviiInternalError", "BaiduError", "BaiduAuthError",
        "AccessTokenError", "AccessTokenInvalid", "AccessTokenExpired", "DailyLimitExceeded",
        "QpsLimitExceeded", "TotalLimitExceeded", "BaiduInternalError", "VerifyTokenInvalid",
        "BaiduRequestFailed", "ConfigurationError", "InsecureURL", "MissingCredentials",
        "NotTLS", "QuotaExhausted"], _CLIENTS),
    **dict.fromkeys(["StorageConfigError", "S3Error", "WriterBusy", "LockLost", "MediaError", "DamagedTable",
                     "DamagedFile", "SegmentTooLarge"],
                    ".storage.errors"),
    "Unreadable": "._coerce",
    "NotUtf8Secret": ".redact",
}

__all__ += sorted(_DEFINED_IN)

if TYPE_CHECKING:  # the same names, for IDEs and type checkers; never run
    from ._coerce import Unreadable
    from .redact import NotUtf8Secret
    from .storage.errors import (DamagedFile, DamagedTable, LockLost, MediaError, S3Error, SegmentTooLarge,
                                  StorageConfigError, WriterBusy)
    from .clients.errors import (
        AccessTokenError, AccessTokenExpired, AccessTokenInvalid, ApiNotFound, BadArguments,
        BaiduAuthError, BaiduError, BaiduInternalError, BaiduRequestFailed, ConfigurationError,
        ConnectError, DailyLimitExceeded, DataDestroyed, InsecureURL, InvalidResponse,
        MegviiAuthenticationError, MegviiAuthorizationError, MegviiConcurrencyLimitExceeded,
        MegviiError, MegviiInternalError, MessageEncryptionError, MissingArguments,
        MissingCredentials, NotTLS, ProviderError, QpsLimitExceeded, QuotaExhausted, RateLimited,
        RequestTimeout, ResultNotFound, ServerError, TotalLimitExceeded, TransportError,
        VerifyTokenInvalid,
    )


def __getattr__(name: str):
    module = _DEFINED_IN.get(name)
    if module is None:
        raise AttributeError(f"module 'faceanalytics.errors' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, "faceanalytics"), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
