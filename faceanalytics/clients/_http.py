"""The base client: one way to send a call, retry it, count it and keep its raw answer.

Provider clients (:mod:`.megvii`, :mod:`.baidu`) only say which URL to call and how
to read the provider's error bodies; everything else lives here:

* URLs must be ``https://``, except loopback hosts (127.0.0.0/8, ::1, localhost)
  where plain ``http://`` is allowed for the local sandbox; TLS verification is
  always on; a redirect is followed only where asked (file downloads) and only to
  the same scheme, host and port; credentials in a URL (``user:pass@``) are never
  sent.
* Answers are read as a stream with a size cap (``max_response_bytes``, or the
  ``max_bytes`` of a download), so no answer can grow memory without bound; a file
  download goes straight to disk.
* Every send has a ``(connect, read)`` timeout.
* ``before_call(key)`` runs before *every* send, retries included, so a quota
  ledger records the call before it leaves and can refuse it by raising
  :class:`~.errors.QuotaExhausted`; ``after_call(key, outcome)`` runs after it.
  A send that certainly never left (connection refused, DNS failure, TLS handshake
  failed: the connection was never made) is reported as ``"unsent <code>"``, so the
  ledger takes it back: it spent no quota.  Whether the connection was made is known
  exactly for sessions from :func:`new_session` (their connections note a failed
  ``connect()``); for other sessions only a refused or timed-out TCP connect counts
  as unsent.
* Every successful call returns a :class:`Response` holding the body bytes as
  received; a final failure raises a typed :class:`~.errors.ProviderError` that
  also carries ``body`` and ``http_status``.

Threads: a ``requests.Session`` is not documented as thread-safe, so each worker
thread gets its own pooled session (:class:`ThreadLocalSessions`); one client
object can be shared by all worker threads.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Mapping
from urllib.parse import urljoin, urlsplit

import orjson
import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from .._coerce import dense_values
from ..errors import DataError
from ..redact import Secret, install_log_redaction, not_utf8, redact, redact_bytes
from .errors import (
    ConnectError,
    InsecureURL,
    InvalidResponse,
    NotTLS,
    ProviderError,
    QuotaExhausted,
    RequestTimeout,
)
from .retry import RetryPolicy

__all__ = [
    "Response",
    "BaseClient",
    "download_url_problem",
    "ThreadLocalSessions",
    "check_url",
    "is_loopback_host",
    "new_session",
]

log = logging.getLogger("faceanalytics.clients")
install_log_redaction()

Timeout = tuple[float, float]
_NO_PROXY = {"http": None, "https": None}
_REDIRECTS = (301, 302, 303, 307, 308)
_MAX_REDIRECTS = 5
USER_AGENT = "faceanalytics-clients/0.1 (+requests)"


# -- credentials ----------------------------------------------------------------------------


def credential(name: str, value) -> Secret:
    """``value`` as a :class:`Secret`, refused (naming ``name``, never the value) when it cannot
    be one: not text, empty, or with spaces or a line break at its ends (copied from a file with
    its newline): such a key was sent, failed at the provider, and the call was counted."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty string, not {'an empty one' if isinstance(value, str) else type(value).__name__}")
    if value != value.strip():
        raise ValueError(f"{name} has spaces or a line break at its start or end (copied with its "
                         "newline?): no credential has them; strip it")
    if not_utf8(value):
        raise ValueError(f"{name} is not UTF-8 text (bytes of another encoding?): its value is not shown")
    return Secret(value)


# -- URLs -----------------------------------------------------------------------------------


def is_loopback_host(host: str | None) -> bool:
    """True for ``localhost``, 127.0.0.0/8 and ``::1`` (no DNS lookup)."""
    if not host:
        return False
    host = host.strip("[]").rstrip(".").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _refuse_blanks(url, what: str) -> None:
    """A URL holds no space, line break nor control character: one that does (an env file's
    ``http://host/x\nHost: y``, a password with a space) was used, and shown whole -- the mask
    of ``user:password@`` stops at a space.  Refused without showing it."""
    if isinstance(url, str) and _BLANK_IN_URL.search(url):
        raise InsecureURL(f"refusing {what}: it holds a space, a line break or a control character, which no "
                          "URL holds (its value is not shown: it may carry a password)",
                          hint="Give the URL alone, without spaces (a password with one is written %20).")


_BLANK_IN_URL = re.compile(r"[\s\x00-\x1f\x7f-\x9f]")


def check_url(url: str) -> str:
    """Return *url* if it is ``https://`` or ``http://`` to a loopback host, else raise InsecureURL."""
    _refuse_blanks(url, "the URL")
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        parts, host = None, None
    scheme = parts.scheme.lower() if parts else ""
    try:
        parts and parts.port
    except ValueError:  # requests refuses it too, but only once a call is counted (a typo spent the quota)
        raise InsecureURL(f"refusing {redact(url)!r}: its port is not a number from 1 to 65535",
                          hint="Check the port in the URL (--base-url, or the *_BASE_URL variable).") from None
    if host and (scheme == "https" or (scheme == "http" and is_loopback_host(host))):
        return url
    raise InsecureURL(f"refusing {redact(url)!r}: only https:// (or http:// to a loopback host) is allowed")


def without_userinfo(url: str) -> str:
    """*url* without ``user:password@``: a URL's credentials are never sent or kept."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]).geturl()


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port or {"http": 80, "https": 443}.get(scheme)
    except ValueError:
        port = -1
    return scheme, (parts.hostname or "").rstrip(".").lower(), port


# Second-level labels under which a registrable domain has three labels (aip.baidubce.com
# -> baidubce.com, but x.example.com.cn -> example.com.cn).
_SHARED_SUFFIXES = {"com.cn", "net.cn", "org.cn", "gov.cn", "edu.cn", "ac.cn", "com.hk", "co.uk"}


def _site(host: str) -> str:
    labels = host.split(".")
    n = 3 if ".".join(labels[-2:]) in _SHARED_SUFFIXES else 2
    return ".".join(labels[-n:])


def download_url_problem(url: str, base_url: str, allow_hosts=()) -> str | None:
    """Why *url* (a file link from a provider's answer) may not be fetched, or None.

    Allowed: ``https://`` on the base URL's host or another host of the same site
    (``api.megvii.com`` -> ``*.megvii.com``), on the default port or the base's, or a
    host listed in *allow_hosts* (``"cdn.example.com"``, or ``".example.com"`` for
    every host under it).  A loopback base allows only its own host and port (plain
    ``http://`` included); an IP-address base only itself.  So a payload cannot send
    the tool to link-local, private or metadata addresses, nor to another local port.
    """
    try:
        scheme, host, port = _origin(url)
        b_scheme, b_host, b_port = _origin(base_url)
    except ValueError:
        return "not a URL"
    if not host or port == -1:
        return "not a URL with a host"
    if is_loopback_host(b_host):
        if (scheme, host, port) == (b_scheme, b_host, b_port):
            return None
        return f"the base URL is loopback: only {b_scheme}://{b_host}:{b_port} is allowed"
    if scheme != "https":
        return f"{scheme or 'no'} scheme: only https:// is allowed"
    for allowed in allow_hosts:
        allowed = allowed.strip().lower().rstrip(".")
        if host == allowed.lstrip(".") or (allowed.startswith(".") and host.endswith(allowed)):
            return None
    is_ip = _is_ip(host)
    if port not in (443, b_port):
        return f"port {port}: only the default port (or the base URL's) is allowed"
    if host == b_host:
        return None
    if not is_ip and not _is_ip(b_host) and (host == _site(b_host) or host.endswith("." + _site(b_host))):
        return None
    return f"host {host} is not a host of {b_host} (allow it with --allow-host)"


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _check_timeout(timeout: float | tuple[float, float]) -> Timeout:
    if isinstance(timeout, (int, float)):
        timeout = (timeout, timeout)
    try:
        connect, read = (float(t) for t in timeout)
    except (TypeError, ValueError):
        connect = read = -1.0
    if not (connect > 0 and read > 0):
        raise ValueError("timeout must be a positive number or a (connect, read) pair of positive numbers")
    return (connect, read)


# -- result type ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, repr=False)
class Response:
    """One provider answer, kept as received so the caller can archive it before parsing.

    ``body`` is the raw bytes with credentials masked (see :func:`~faceanalytics.redact.redact_bytes`),
    ``json`` the parsed body (``None`` if not JSON or for file downloads), ``elapsed`` seconds for
    the final send, ``url`` the request URL with credentials masked, ``attempts`` how
    many sends this call took.
    """

    http_status: int
    body: bytes
    json: Any
    elapsed: float
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    attempts: int = 1

    @property
    def request_id(self) -> str | None:
        """Megvii ``request_id`` or Baidu ``log_id``, if the body has one."""
        if isinstance(self.json, dict):
            value = self.json.get("request_id", self.json.get("log_id"))
            return None if value is None else str(value)
        return None

    def __repr__(self) -> str:
        return (
            f"Response(http_status={self.http_status}, url={self.url!r}, "
            f"bytes={len(self.body)}, elapsed={self.elapsed:.3f}, attempts={self.attempts})"
        )


def parse_json(body: bytes) -> Any:
    """The parsed body, or ``None`` if it is empty, not JSON, or denser with values than any
    answer the documents describe (over ``MAX_VALUES``: 64 MiB of ``[{},{},…]`` would become
    some 20 million Python objects, gigabytes per answer in flight; the bytes are still
    kept as received, and the ingest quarantines them with the reason)."""
    if not body or dense_values(body):
        return None
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return None


# -- sessions -------------------------------------------------------------------------------


# Per thread: did the current send fail to make its connection?  Set by the
# connections below, read by BaseClient._send.
_attempt = threading.local()


class _NoteFailedConnect:
    """A connection that notes, for the sending thread, that ``connect()`` failed:
    no byte of the request can have left (``connect()`` includes the TLS handshake)."""

    def connect(self) -> None:
        try:
            super().connect()  # type: ignore[misc]
        except BaseException:
            _attempt.connect_failed = True
            raise


class _HTTPConnection(_NoteFailedConnect, HTTPConnection):
    pass


class _HTTPSConnection(_NoteFailedConnect, HTTPSConnection):
    pass


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


class _Adapter(HTTPAdapter):
    """requests' adapter, with connections that say whether they were ever made."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}


def new_session(pool_maxsize: int = 4) -> requests.Session:
    """A pooled session that never retries on its own (the client's policy does)."""
    session = requests.Session()
    adapter = _Adapter(pool_connections=4, pool_maxsize=pool_maxsize, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers["User-Agent"] = USER_AGENT
    return session


class ThreadLocalSessions:
    """One ``requests.Session`` per thread, created on first use; ``close()`` closes them all."""

    def __init__(self, factory: Callable[[], requests.Session] = new_session) -> None:
        self._factory = factory
        self._local = threading.local()
        self._lock = threading.Lock()
        self._all: list[requests.Session] = []

    def get(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._factory()
            self._local.session = session
            with self._lock:
                self._all.append(session)
        return session

    def close(self) -> None:
        with self._lock:
            sessions, self._all = self._all, []
        for session in sessions:
            session.close()
        self._local = threading.local()


# -- the base client ------------------------------------------------------------------------


def _describe(exc: BaseException) -> str:
    """A short, URL-free description of a requests failure."""
    reason: Any = exc.args[0] if exc.args else exc
    reason = getattr(reason, "reason", reason)  # MaxRetryError -> the underlying error
    text = f"{type(reason).__name__}: {reason}" if isinstance(reason, BaseException) else str(reason)
    return redact(text)[:300]


_FAILURE_CODES = {RequestTimeout: "TIMEOUT", ConnectError: "CONNECTION_ERROR", InsecureURL: "INSECURE_REDIRECT",
                  NotTLS: "NOT_TLS"}
# What OpenSSL says when the "TLS server" answers a ClientHello in plain HTTP
_PLAIN_HTTP_SIGNS = ("WRONG_VERSION_NUMBER", "wrong version number", "RECORD_LAYER_FAILURE",
                     "record layer failure", "HTTP_REQUEST", "http request", "packet length too long")


def _plain_http(exc: BaseException) -> bool:
    """Did a TLS handshake fail because the server speaks plain HTTP on that port?"""
    text = str(exc)
    return any(sign in text for sign in _PLAIN_HTTP_SIGNS)
_ERROR_BODY_CAP = 64 << 10  # an error page in place of a file: enough to read the error
_CHUNK = 64 << 10


class _TooLarge(DataError):
    pass


class _TooSlow(DataError):
    pass


def _chunks(raw: requests.Response, deadline: float | None):
    """The decoded body in pieces, as ``iter_content`` gives them (same requests
    exceptions), but each piece is what one receive brought (``read1``), so the total
    *deadline* (a ``time.monotonic()`` value) is checked between receives: a server
    that drips a byte at a time, each within the read timeout, cannot hold a call."""
    from urllib3.exceptions import DecodeError, ProtocolError, ReadTimeoutError, SSLError

    r = raw.raw
    if not hasattr(r, "read1"):                 # a stand-in response (tests, adapters): no receives to time
        yield from raw.iter_content(_CHUNK)
        return
    try:
        while True:
            if deadline is not None and time.monotonic() > deadline:
                raise _TooSlow("the answer did not arrive within the time allowed for it")
            chunk = r.read1(_CHUNK, decode_content=True)
            if not chunk:
                return
            yield chunk
    except ProtocolError as e:
        raise requests.exceptions.ChunkedEncodingError(e)
    except DecodeError as e:
        raise requests.exceptions.ContentDecodingError(e)
    except ReadTimeoutError as e:
        raise requests.exceptions.ConnectionError(e)
    except SSLError as e:
        raise requests.exceptions.SSLError(e)


def _read_capped(raw: requests.Response, max_bytes: int, sink: Any = None, *, cut: bool = False,
                 deadline: float | None = None) -> bytes:
    """The body of a streamed answer, at most *max_bytes* (decoded), into *sink* or memory.

    Raises _TooLarge as soon as the cap is passed (or the declared length exceeds it),
    so a huge or endless answer costs one chunk of memory, not its size; with *cut*
    the first *max_bytes* are kept instead (an error page is only read for its error).
    Raises _TooSlow once *deadline* (``time.monotonic()``) has passed.
    """
    try:
        declared = int(raw.headers.get("content-length", ""))
    except ValueError:
        declared = None
    plain = "content-encoding" not in raw.headers  # no decompression: what is read is what came
    if not cut and declared is not None and declared > max_bytes and plain:
        raise _TooLarge(f"the answer is {declared} bytes, over the {max_bytes}-byte limit")
    buf = bytearray() if sink is None else None
    total = 0
    for chunk in _chunks(raw, deadline):
        total += len(chunk)
        if total > max_bytes:
            if cut and buf is not None:
                buf += chunk[: max_bytes - total]
                break
            raise _TooLarge(f"the answer is over the {max_bytes}-byte limit")
        if sink is None:
            buf += chunk
        else:
            sink.write(chunk)
    return bytes(buf) if buf is not None else b""


def _shown_url(url: str, params: Mapping[str, Any] | None) -> str:
    """The full request URL with credentials masked (for logs, errors and Response.url)."""
    prepared = requests.PreparedRequest()
    try:
        prepared.prepare_url(url, params)
        full = prepared.url or url
    except Exception:
        full = url
    return redact(full)


def _never_connected(exc: BaseException) -> bool:
    """Did this send fail before its connection was made (so no byte of it left)?

    Exact for sessions from :func:`new_session`; for others, a refused, unresolvable
    or timed-out TCP connect (urllib3 raises these from ``_new_conn``, before any byte).
    """
    if getattr(_attempt, "connect_failed", False):
        return True
    from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

    reason = exc.args[0] if exc.args else None
    reason = getattr(reason, "reason", reason)
    return isinstance(reason, (NewConnectionError, ConnectTimeoutError))


def _is_read_timeout(exc: BaseException) -> bool:
    # requests turns a timeout while reading the body into ConnectionError(ReadTimeoutError).
    from urllib3.exceptions import ReadTimeoutError

    return any(isinstance(a, ReadTimeoutError) for a in exc.args)


class BaseClient:
    """Shared machinery of the provider clients (see the module docstring).

    before_call(key): called before every send (retries included); raise to refuse it.
    after_call(key, outcome): called after every send with e.g. ``"200"`` or
        ``"400 RESULT_NOT_FOUND"`` or ``"- TIMEOUT"``.
    ledger: an object with ``reserve(key)`` and ``record(key, outcome)`` (a
        :class:`~.ledger.QuotaLedger`); shorthand for the two hooks.
    """

    provider: ClassVar[str] = "provider"
    default_base_url: ClassVar[str] = ""
    #: The largest answer read into memory (API answers; downloads have their own cap).
    max_response_bytes: ClassVar[int] = 64 << 20
    #: The longest an API answer's body may take to arrive, however steadily it drips
    #: (the read timeout bounds each wait; this bounds their sum).
    max_answer_seconds: ClassVar[float] = 120.0
    #: The same bound for a file streamed to disk (a will file of the 256 MiB cap at ~300 KB/s):
    #: a server dripping a byte within each read timeout held a download, and the run, for ever.
    max_download_seconds: ClassVar[float] = 900.0
    #: The environment variable that names the base URL when none is given.
    base_url_env: ClassVar[str] = ""

    @classmethod
    def resolve_base_url(cls, base_url: str | None = None) -> tuple[str, str]:
        """The base URL to use and where it came from: ``(url, "given")`` for *base_url*,
        else ``(url, "MEGVII_BASE_URL")`` (say) from the environment, else
        ``(url, "default")`` (the real provider).

        Blank is refused (:class:`InsecureURL`, also a ValueError), given or in the variable:
        ``export MEGVII_BASE_URL="$URL"`` with ``URL`` unset read as unset, and a run meant for
        a sandbox sent real calls, and spent quota, at the real provider."""
        if base_url is not None:
            if isinstance(base_url, str) and not base_url.strip():
                raise InsecureURL("base_url is empty (an unset variable?)",
                                  hint="Give the URL, or leave base_url out (None) for the variable or the real provider.")
            _refuse_blanks(base_url, "the base URL given")
            return base_url, "given"
        name = cls.base_url_env
        if name and name in os.environ:
            env = os.environ[name].strip()
            if not env:
                raise InsecureURL(f"{name} is set but empty (exported from an unset variable?), so "
                                  f"it names no server",
                                  hint=f"Set {name} to the URL meant (the sandbox's, a stand-in's), or unset "
                                       f"it to use the real provider ({cls.default_base_url}).")
            _refuse_blanks(env, name)
            return env, name
        return cls.default_base_url, "default"

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float | tuple[float, float] = (5, 30),
        retry: RetryPolicy | None = None,
        before_call: Callable[[str], object] | None = None,
        after_call: Callable[[str, str], object] | None = None,
        ledger: Any = None,
        ca_bundle: str | None = None,
        session_factory: Callable[[], requests.Session] = new_session,
    ) -> None:
        if not isinstance(base_url, str):  # None or a port number: ``.rstrip`` failed from deep inside
            raise TypeError(f"base_url is a URL as text (https://host or http://127.0.0.1:PORT), "
                            f"not {type(base_url).__name__}")
        self.base_url = check_url(base_url.rstrip("/"))
        self.timeout = _check_timeout(timeout)
        self.retry = retry if retry is not None else RetryPolicy()
        if ledger is not None:
            if before_call is not None or after_call is not None:
                raise ValueError("pass either ledger= or before_call=/after_call=, not both")
            before_call, after_call = ledger.reserve, ledger.record
        self.before_call = before_call
        self.after_call = after_call
        if ca_bundle is not None and not isinstance(ca_bundle, str):
            raise ValueError("ca_bundle is a path to a CA bundle; TLS verification cannot be turned off")
        self._verify: bool | str = ca_bundle or True
        self._sessions = ThreadLocalSessions(session_factory)

    # Subclasses: turn a received answer into an error, or None if it is a success.
    def _error_for(self, response: Response) -> ProviderError | None:
        raise NotImplementedError

    def close(self) -> None:
        """Close the pooled connections of every thread."""
        self._sessions.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        # getattr: repr may be asked for mid-__init__ (e.g. by a traceback that shows locals).
        base_url, timeout = getattr(self, "base_url", None), getattr(self, "timeout", None)
        return f"{type(self).__name__}(base_url={base_url!r}, timeout={timeout!r})"

    def _url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    def _request(
        self,
        method: str,
        url: str,
        *,
        key: str | None,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        expect_json: bool = True,
        follow_redirects: bool = False,
        error_for: Callable[[Response], ProviderError | None] | None = None,
        mask_body: bool = True,
        sink: Any = None,
        max_bytes: int | None = None,
    ) -> Response:
        """Send one call with retries; return its Response or raise its final error.

        *key* is passed to the hooks; ``None`` means the send is not counted
        (e.g. fetching an OAuth token). *mask_body*: parse ``json`` from the masked
        body (off only where the parsed body must carry a secret, the token endpoint;
        ``body`` is masked either way). *sink*: a binary file a 2xx body is streamed
        to (rewound for every attempt; ``Response.body`` is then empty); *max_bytes*:
        the cap on the body (default :attr:`max_response_bytes`).
        """
        url = without_userinfo(url)
        check_url(url)
        error_for = error_for or self._error_for
        policy = self.retry
        started = policy.clock()
        attempts = 0
        last_error: ProviderError | None = None
        while True:
            refused = self._reserve(key)
            if refused is not None:
                if last_error is None:
                    raise refused
                raise QuotaExhausted(
                    key=refused.key,
                    calls=refused.calls,
                    limit=refused.limit,
                    path=refused.path,
                    last_error=last_error,
                    provider=self.provider,
                ) from last_error
            attempts += 1
            response, error = self._send(
                method, url, params, json, expect_json and mask_body, expect_json, follow_redirects, attempts,
                sink, max_bytes or self.max_response_bytes,
            )
            if error is None and response is not None:
                error = error_for(response)
            if key is not None and self.after_call is not None:
                self._record(key, response, error)
            if error is None:
                return response
            delay = policy.next_delay(error, attempts, started)
            if delay is None:
                raise error
            log.info(
                "%s: retrying %s after %.2fs (attempt %d failed: %s %s)",
                self.provider, redact(url), delay, attempts, error.http_status or "-", error.code,
            )
            policy.sleep(delay)
            last_error = error

    def _reserve(self, key: str | None) -> QuotaExhausted | None:
        if key is None or self.before_call is None:
            return None
        try:
            self.before_call(key)
        except QuotaExhausted as refused:
            return refused
        return None

    def _record(self, key: str, response: Response | None, error: ProviderError | None) -> None:
        if error is not None and not error.sent:
            outcome = f"unsent {error.code or type(error).__name__}"
        elif error is not None:
            outcome = f"{error.http_status or '-'} {error.code or type(error).__name__}"
        else:
            outcome = str(response.http_status if response is not None else "-")
        try:
            self.after_call(key, outcome)
        except Exception as exc:  # the outcome note is informational; never lose the answer for it
            log.warning("%s: could not record outcome for a call: %s", self.provider, redact(exc))

    def _send(
        self,
        method: str,
        url: str,
        params: Mapping[str, Any] | None,
        json: Any,
        mask_body: bool,
        expect_json: bool,
        follow_redirects: bool,
        attempt: int,
        sink: Any = None,
        max_bytes: int = 64 << 20,
    ) -> tuple[Response | None, ProviderError | None]:
        """One send (plus checked redirects). Never raises a requests exception.

        Failures are returned, not raised inside an ``except`` block, so the
        requests exception (whose message holds the full URL, credentials included)
        never becomes the ``__context__`` of our error.
        """
        if sink is not None:  # a retry starts the file again
            sink.seek(0)
            sink.truncate()
        session = self._sessions.get()
        shown = _shown_url(url, params)
        failure: tuple[type[ProviderError], str, bool | None] | None = None
        unsent = False  # the request certainly never left (no quota spent)
        too_large_status = None
        t0 = time.perf_counter()
        for _hop in range(_MAX_REDIRECTS + 1):
            # Never send loopback traffic through an environment proxy.
            proxies = _NO_PROXY if is_loopback_host(urlsplit(url).hostname) else None
            _attempt.connect_failed = False
            try:
                raw = session.request(
                    method,
                    url,
                    params=params,
                    json=json,
                    timeout=self.timeout,
                    verify=self._verify,
                    allow_redirects=False,
                    proxies=proxies,
                    stream=True,
                )
                with raw:
                    status, headers = raw.status_code, raw.headers
                    location = headers.get("location")
                    if follow_redirects and status in _REDIRECTS and location:
                        body = b""
                    elif sink is not None and 200 <= status < 300:
                        body = b""
                        allowed = self.max_download_seconds
                        _read_capped(raw, max_bytes, sink, deadline=time.monotonic() + allowed)
                    else:  # an API answer, or an error page instead of a file
                        allowed = self.max_answer_seconds
                        deadline = time.monotonic() + allowed
                        body = (_read_capped(raw, max_bytes, deadline=deadline) if sink is None
                                else _read_capped(raw, _ERROR_BODY_CAP, cut=True, deadline=deadline))
            except _TooLarge as exc:
                failure = (InvalidResponse, str(exc), False)
                too_large_status = status
            except _TooSlow as exc:
                failure = (RequestTimeout, f"{exc} ({allowed:g} s)", None)
            except requests.exceptions.Timeout as exc:
                failure = (RequestTimeout, _describe(exc), None)
                unsent = _hop == 0 and _never_connected(exc)  # after a redirect it was reached
            except requests.exceptions.SSLError as exc:
                # A certificate problem does not fix itself on retry; nor does a plain-HTTP server.
                if _plain_http(exc):
                    scheme, host, port = _origin(url)
                    failure = (NotTLS, f"{scheme}://{host}:{port} answered in plain HTTP, not TLS: check the "
                                       "port, or use http:// for a plain-HTTP server on loopback", False)
                else:
                    failure = (ConnectError, "TLS verification failed: " + _describe(exc), False)
                unsent = _hop == 0 and _never_connected(exc)
            except requests.exceptions.ConnectionError as exc:
                failure = (RequestTimeout if _is_read_timeout(exc) else ConnectError, _describe(exc), None)
                unsent = _hop == 0 and _never_connected(exc)
            except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError) as exc:
                failure = (ConnectError, _describe(exc), None)
            except requests.exceptions.RequestException as exc:
                failure = (ConnectError, _describe(exc), False)
                # A URL requests cannot parse is refused before any connection: nothing left.
                unsent = _hop == 0 and isinstance(exc, (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
                                                        requests.exceptions.InvalidSchema,
                                                        requests.exceptions.URLRequired))
            except Exception as exc:  # e.g. a malformed URL deep in urllib3; its text may hold the URL
                failure = (ConnectError, _describe(exc), False)
            if failure is not None:
                break
            if follow_redirects and status in _REDIRECTS and location:
                target = without_userinfo(urljoin(url, location))
                if _origin(target) != _origin(url):
                    failure = (InsecureURL, f"refusing a redirect off {_origin(url)[1]} to "
                                            f"{redact(urlsplit(target).netloc)}", False)
                    break
                url = target
                try:
                    check_url(url)
                except InsecureURL as exc:
                    failure = (InsecureURL, exc.message, False)
                    break
                method, params, json = "GET", None, None
                shown = redact(url)
                continue
            break
        elapsed = time.perf_counter() - t0
        if failure is not None:
            cls, why, retryable = failure
            log.debug("%s %s -> %s after %.3fs (attempt %d)", method, shown, cls.__name__, elapsed, attempt)
            code = "TOO_LARGE" if too_large_status is not None else _FAILURE_CODES.get(cls, "CONNECTION_ERROR")
            return None, cls(
                f"{method} {urlsplit(shown).path} failed" + (" (not sent)" if unsent else "") + f": {why}",
                http_status=too_large_status,
                code="NOT_CONNECTED" if unsent else code,
                retryable=retryable,
                url=shown,
                provider=self.provider,
                sent=not unsent,
            )
        log.debug("%s %s -> %d in %.3fs (attempt %d)", method, shown, status, elapsed, attempt)
        # The choke point: nothing that came back is kept, parsed, raised or logged
        # before its credentials are masked.  Only the token endpoint's parsed body
        # (mask_body=False) is read from the bytes as received: it must carry the token.
        parsed = parse_json(body) if expect_json and not mask_body else None
        body = redact_bytes(body)
        if expect_json and mask_body:
            parsed = parse_json(body)
        response = Response(
            http_status=status,
            body=body,
            json=parsed,
            elapsed=elapsed,
            url=shown,
            headers={k.lower(): redact(v) for k, v in headers.items()},
            attempts=attempt,
        )
        if status in _REDIRECTS:
            return response, InvalidResponse(
                f"unexpected redirect (HTTP {status}) from {urlsplit(shown).path}",
                http_status=status,
                code="REDIRECT",
                body=body,
                url=shown,
                provider=self.provider,
            )
        return response, None

    def _invalid(self, response: Response, why: str) -> InvalidResponse:
        """An InvalidResponse for *response*; retryable if the server said 5xx or 429."""
        status = response.http_status
        return InvalidResponse(
            why,
            http_status=status,
            code=f"HTTP_{status}",
            retryable=status >= 500 or status == 429,
            body=response.body,
            url=response.url,
            provider=self.provider,
        )
