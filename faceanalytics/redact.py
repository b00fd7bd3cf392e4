"""Keep credentials out of messages, reprs and log lines.

Megvii wants ``api_key``/``api_secret`` in the query string and Baidu wants
``client_id``/``client_secret``/``access_token`` there too, so every URL the
clients build carries a credential. Two defences, both applied by :func:`redact`:

* every credential a client is given (and every access token it obtains) is
  registered here, and its value is replaced wherever it appears, raw or
  percent-encoded;
* the value of any credential-named query parameter or JSON/dict field is
  replaced, whether or not the value was registered.

Servers echo what they were sent in many spellings (percent-encoded in either
case, JSON-escaped ``\\/``, HTML-escaped, inside an escaped JSON string), so a
registered value is replaced in each of them.

The choke points: :func:`redact_bytes` for every response body and header the
clients receive (before anything parses, keeps or raises it), :func:`redact`
for every text we build (URLs, messages), and a log-record factory
(:func:`install_log_redaction`) that masks every log record of the process,
tracebacks included, whichever logger it comes from.

:class:`Secret` wraps a credential so that ``repr``/``str`` never show it.
"""

from __future__ import annotations

import html
import json
import logging
import os
import re
import threading
from urllib.parse import quote, quote_plus

from .errors import UsageError

__all__ = [
    "MASK",
    "MaskedParams",
    "Secret",
    "env_secret",
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
# api_secret=VALUE in a query string (also percent-encoded '=' as %3D, and after a
# JSON-escaped '&', \u0026).
_QUERY = rf"(?i)(?:(?<![A-Za-z0-9_])|(?<=\\u0026))({_NAMES})(=|%3D)(?:\\/|[^&\s'\"#<>,;)\]}}\\])*"
# "access_token": "VALUE" in JSON, 'access_token': 'VALUE' in a dict repr, and
# \"access_token\":\"VALUE\" in JSON carried inside a JSON string.
_FIELD = rf"(?i)(\\*[\"']({_NAMES})\\*[\"']\s*:\s*\\*[\"'])(?:\\[/u]|[^\"'\\])*"
# https://user:password@host
_USERINFO = r"(?i)([a-z][a-z0-9+.-]*://)[^/@\s'\"<>]+@"
_QUERY_RE, _FIELD_RE, _USERINFO_RE = (re.compile(p) for p in (_QUERY, _FIELD, _USERINFO))
_QUERY_RE_B, _FIELD_RE_B, _USERINFO_RE_B = (re.compile(p.encode()) for p in (_QUERY, _FIELD, _USERINFO))
_MASK_B = MASK.encode()

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
    forms = _spellings(value)
    with _lock:
        if forms <= _secrets:
            return
        _secrets.update(forms)
        # Longest first so a secret that contains another one is removed whole.
        ordered = sorted(_secrets, key=len, reverse=True)
        _secret_re = re.compile("|".join(re.escape(s) for s in ordered))
        _secret_bytes = tuple(s.encode("utf-8") for s in ordered)


def _spellings(value: str) -> set[str]:
    """The ways a server may echo *value*: as is, percent-encoded (upper or lower
    case hex), JSON-escaped (``\\/``, ``\\uXXXX``) and HTML-escaped."""
    encoded = {quote(value, safe=""), quote_plus(value, safe="")}
    forms = {value, *encoded, *(e.lower() for e in encoded), html.escape(value)}
    for f in (value, *encoded):
        forms.add(json.dumps(f)[1:-1])
        forms.add(json.dumps(f)[1:-1].replace("/", "\\/"))
    return {f for f in forms if len(f) >= MIN_SECRET_LENGTH}


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
    """:func:`redact` for bytes: a response body or header, masked before anything keeps it.

    A provider is not expected to echo a credential, but a proxy, an error page or a
    stand-in server might (a redirect that repeats the request URL), and the raw body
    is archived to disk where credentials must never land.  Bytes that hold no
    credential come back unchanged (the very object).
    """
    if not body:
        return body
    for s in _secret_bytes:
        if s in body:
            body = body.replace(s, _MASK_B)
    lowered = body.lower()
    if any(name in lowered for name in _NAMES_B):
        body = _QUERY_RE_B.sub(lambda m: m.group(1) + m.group(2) + _MASK_B, body)
        body = _FIELD_RE_B.sub(lambda m: m.group(1) + _MASK_B, body)
    if b"@" in body:
        body = _USERINFO_RE_B.sub(lambda m: m.group(1) + _MASK_B + b"@", body)
    return body


_NAMES_B = tuple(n.encode() for n in _SECRET_NAMES)


def env_secret(name: str) -> str | None:
    """A credential from the environment variable ``name``, without the whitespace around it
    (None: unset or blank).  An env file saved with Windows line ends gives ``key\r``: sent
    as it is, every signed call failed at the provider (and was counted against the quota).
    A value holding bytes that are not UTF-8 (an env file saved as Latin-1 or GBK) is a
    :class:`NotUtf8Secret` naming the variable: Python reads such bytes as lone surrogates,
    and the first use of the secret failed with ``can't encode character '\\udce9' in position
    3``, printing a character of the secret and where it stands."""
    value = os.environ.get(name, "").strip()
    if not_utf8(value):
        raise NotUtf8Secret(f"{name} holds bytes that are not UTF-8 text (an env file saved in another "
                            "encoding?): set it again as UTF-8 (its value is not shown)")
    return value or None


# a lone surrogate: how os.environ (PEP 383, surrogateescape) reads a byte that is not UTF-8
_SURROGATE = re.compile("[\ud800-\udfff]")


def not_utf8(text: str) -> bool:
    """Whether a secret's text cannot be UTF-8 (a lone surrogate): encoding it failed with an
    error quoting one of its characters and its position, so it is refused before any use."""
    return bool(_SURROGATE.search(text))


class NotUtf8Secret(UsageError, ValueError):
    """A credential's environment variable holds bytes that are not UTF-8 (nothing was sent)."""


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


def _redact_record(record: logging.LogRecord) -> None:
    """Mask a record's message, traceback and stack text in place."""
    try:
        message = record.getMessage()
    except Exception:  # a broken format string is the logger's problem, not ours
        return
    clean = redact(message)
    if clean != message:
        record.msg, record.args = clean, None
    if record.exc_info:
        # The formatted traceback replaces the exception object: handlers that would
        # format it themselves (or print its frames' locals) get the masked text.
        text = logging.Formatter().formatException(record.exc_info)
        record.exc_text, record.exc_info = redact(text), None
    elif record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)


class _RedactingFilter(logging.Filter):
    """Rewrite a record's message (and traceback text) through :func:`redact`."""

    def filter(self, record: logging.LogRecord) -> bool:
        _redact_record(record)
        return True


class _RedactingFactory:
    """Wraps the process's log-record factory: every record is masked as it is made,
    whichever logger makes it (a filter on a logger sees only that logger's own records)."""

    def __init__(self, inner) -> None:
        self.inner = inner

    def __call__(self, *args, **kwargs) -> logging.LogRecord:
        record = self.inner(*args, **kwargs)
        _redact_record(record)
        return record


_FILTER = _RedactingFilter()
# urllib3 logs the full request line, query string included, at DEBUG
# ("GET /faceid/lite/get_result?api_key=...&api_secret=... HTTP/1.1" 200 93).
# The factory already masks those; the filters also cover records made elsewhere
# (``logging.makeLogRecord``) and logged on these loggers.
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
    """Mask every log record of the process from now on (idempotent)."""
    with _lock:
        factory = logging.getLogRecordFactory()
        if not isinstance(factory, _RedactingFactory):
            logging.setLogRecordFactory(_RedactingFactory(factory))
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
