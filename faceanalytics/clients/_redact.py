"""Keep credentials out of messages, reprs and log lines.

Megvii wants ``api_key``/``api_secret`` in the query string and Baidu wants
``client_id``/``client_secret``/``access_token`` there too, so every URL the
clients build carries a credential. Two defences, both applied by :func:`redact`:

* every credential a client is given (and every access token it obtains) is
  registered here, and its value is replaced wherever it appears, raw or
  percent-encoded;
* the value of any credential-named query parameter or JSON/dict field is
  replaced, whether or not the value was registered.

:class:`Secret` wraps a credential so that ``repr``/``str`` never show it.
"""

from __future__ import annotations

import logging
import re
import threading
from urllib.parse import quote, quote_plus

__all__ = [
    "MASK",
    "MaskedParams",
    "Secret",
    "redact",
    "redact_bytes",
    "register_secret",
    "install_log_redaction",
]

MASK = "***"

# Names whose values are credentials in Megvii and Baidu requests and replies.
_SECRET_NAMES = (
    "api_key",
    "api_secret",
    "access_token",
    "client_id",
    "client_secret",
    "secret_key",
    "refresh_token",
    "session_key",
    "session_secret",
)
_NAMES = "|".join(_SECRET_NAMES)
# api_secret=VALUE in a query string (also percent-encoded '=' as %3D).
_QUERY_RE = re.compile(rf"(?i)(?<![A-Za-z0-9_])({_NAMES})(=|%3D)[^&\s'\"#<>,;)\]}}]*")
# "access_token": "VALUE" in JSON, 'access_token': 'VALUE' in a dict repr.
_FIELD_RE = re.compile(rf"(?i)([\"']({_NAMES})[\"']\s*:\s*[\"'])[^\"']*")
# https://user:password@host
_USERINFO_RE = re.compile(r"(?i)([a-z][a-z0-9+.-]*://)[^/@\s]+@")

_lock = threading.Lock()
_secrets: set[str] = set()
_secret_re: re.Pattern[str] | None = None
_secret_bytes: tuple[bytes, ...] = ()


#: Shorter values are not replaced by value (they would mangle ordinary text);
#: credential-named query and JSON fields are still masked whatever their length.
MIN_SECRET_LENGTH = 6


def register_secret(value: str | None) -> None:
    """Remember *value* so :func:`redact` removes it from any text from now on."""
    global _secret_re, _secret_bytes
    if not isinstance(value, str) or len(value) < MIN_SECRET_LENGTH:
        return
    forms = {value, quote(value, safe=""), quote_plus(value, safe="")}
    with _lock:
        if forms <= _secrets:
            return
        _secrets.update(forms)
        # Longest first so a secret that contains another one is removed whole.
        ordered = sorted(_secrets, key=len, reverse=True)
        _secret_re = re.compile("|".join(re.escape(s) for s in ordered))
        _secret_bytes = tuple(s.encode("utf-8") for s in ordered)


def redact(text: object) -> str:
    """Return ``str(text)`` with credentials replaced by ``***``.

    >>> redact("GET /x?api_key=k&api_secret=s3cr3t&biz_id=1")
    'GET /x?api_key=***&api_secret=***&biz_id=1'
    """
    s = text if isinstance(text, str) else str(text)
    pattern = _secret_re
    if pattern is not None:
        s = pattern.sub(MASK, s)
    s = _QUERY_RE.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", s)
    s = _FIELD_RE.sub(lambda m: f"{m.group(1)}{MASK}", s)
    return _USERINFO_RE.sub(lambda m: f"{m.group(1)}{MASK}@", s)


def redact_bytes(body: bytes) -> bytes:
    """Replace registered secret values in a response body (bytes otherwise untouched).

    A provider is not expected to echo a credential, but a stand-in server might,
    and the raw body is archived to disk where credentials must never land.
    """
    for s in _secret_bytes:
        if s in body:
            body = body.replace(s, MASK.encode())
    return body


class Secret:
    """A credential that never shows itself in ``repr``/``str``; ``reveal()`` gets it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str) or not value:
            raise ValueError("a credential must be a non-empty string")
        self._value = value
        register_secret(value)

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret('{MASK}')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


class MaskedParams(dict):
    """Query parameters whose ``repr`` masks credentials.

    Request parameters sit in local variables of the frames of a traceback; tools that
    print locals (``pytest --showlocals``, error trackers) then show this repr.
    """

    def __repr__(self) -> str:
        return redact(dict.__repr__(self))

    __str__ = __repr__


class _RedactingFilter(logging.Filter):
    """Rewrite a record's message (and traceback text) through :func:`redact`."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is the logger's problem, not ours
            return True
        clean = redact(message)
        if clean != message or record.args:
            record.msg, record.args = clean, None
        if record.exc_info:
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text, record.exc_info = redact(text), None
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


_FILTER = _RedactingFilter()
# urllib3 logs the full request line, query string included, at DEBUG
# ("GET /faceid/lite/get_result?api_key=...&api_secret=... HTTP/1.1" 200 93).
# Filters on a logger only see records logged on that exact logger, hence the list.
_LOGGERS = (
    "urllib3",
    "urllib3.connectionpool",
    "urllib3.connection",
    "urllib3.poolmanager",
    "urllib3.response",
    "urllib3.util.retry",
    "requests",
    "faceanalytics.clients",
)


def install_log_redaction() -> None:
    """Attach the redacting filter to the loggers that may see request URLs (idempotent)."""
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
