"""The HTTP side: a threaded HTTP/1.1 keep-alive server on loopback, and ``Sandbox``."""
from __future__ import annotations

import dataclasses
import json
import logging
import os
import socket
import socketserver
import sys
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .._bodies import read_body
from ..errors import DataError
from . import _megvii
from ._app import DROP, App, Response, json_response
from ._config import SandboxConfig
from ._synth import Population

log = logging.getLogger("faceanalytics.sandbox")

LOOPBACK = ("127.0.0.1", "localhost")
MAX_BODY = 32 * 1024 * 1024
# Bodies held at once, and how long one may take to arrive: each connection has a thread, and
# 40 clients sending 32 MiB took the sandbox to 0.8 GB (every body read whole at once); a client
# dripping a body a byte every 29 s held its thread for as long as it liked.
MAX_BODIES = 8
BODY_DEADLINE = 60.0      # seconds to send a whole body
WAIT_FOR_BODY = 30.0      # seconds a request with a body waits for a slot before a 503
_CONNECTION_ERRORS = (ConnectionError, TimeoutError, socket.timeout)


class _BadBody(DataError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so requests.Session can pool connections
    server_version = "faceanalytics-sandbox/0.1"
    timeout = 30  # an idle keep-alive connection is closed after this many seconds
    # Answer an unparseable request line with a status line, not HTTP/0.9's bare body.
    default_request_version = "HTTP/1.0"

    server: _Server

    def setup(self) -> None:
        super().setup()
        # Headers and body go out as separate writes; without this, Nagle plus the
        # client's delayed ACK adds ~40 ms to every keep-alive answer.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.app.note_connection()

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base signature
        log.debug("%s - %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_GET

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Protocol-level errors (bad request line, unknown method) as JSON."""
        self.close_connection = True
        body = json.dumps({"error": message or HTTPStatus(code).phrase}).encode("utf-8")
        self.send_response(code, message)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Connection", "close")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and code >= 200 and code not in (204, 304):
            self.wfile.write(body)

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks, total = [], 0
            while True:
                size_line = self.rfile.readline(1024)
                try:
                    size = int(size_line.split(b";")[0].strip() or b"x", 16)
                except ValueError:
                    raise _BadBody(400, "bad chunk size") from None
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                total += size
                if total > MAX_BODY:
                    raise _BadBody(413, "body too large")
                chunks.append(self.rfile.read(size))
                self.rfile.readline(16)
        raw = self.headers.get("Content-Length")
        if not raw:
            return b""
        try:
            length = int(raw)
        except ValueError:
            raise _BadBody(400, "bad Content-Length") from None
        if length < 0:
            raise _BadBody(400, "bad Content-Length")
        if length > MAX_BODY:
            raise _BadBody(413, "body too large")
        body = read_body(self.rfile, self.connection, length, BODY_DEADLINE)
        self.connection.settimeout(self.timeout)
        if body is None:
            raise _BadBody(408, f"the body did not arrive whole within {BODY_DEADLINE:.0f} s")
        return body

    def _has_body(self) -> bool:
        return (self.headers.get("Content-Length") or "0").strip() not in ("", "0") or \
            "chunked" in (self.headers.get("Transfer-Encoding") or "").lower()

    def _serve(self) -> None:
        self._started = False
        slot = self._has_body()
        if slot and not self.server.body_slots.acquire(timeout=WAIT_FOR_BODY):
            self.close_connection = True
            self._send(json_response(503, {"error": "too many requests with a body at once"}))
            return
        try:
            self._serve_held()
        finally:
            if slot:
                self.server.body_slots.release()

    def _serve_held(self) -> None:
        try:
            try:
                body = self._read_body()
            except _BadBody as exc:
                self.close_connection = True
                self._send(json_response(exc.status, {"error": str(exc)}))
                return
            parts = urlsplit(self.path)
            result = self.server.app.handle(self.command, parts.path, parts.query, self.headers, body)
            if result is DROP:
                self._drop()
                return
            assert isinstance(result, Response)
            self._send(result)
        except _CONNECTION_ERRORS:
            self.close_connection = True
        except Exception:  # a bug in a handler answers 500; it never takes the server down
            log.exception("sandbox handler failed for %s %s", self.command, self.path)
            self.close_connection = True
            if not self._started:
                try:
                    self._send(json_response(500, _megvii.error_body(
                        "INTERNAL_ERROR", self.server.app._misc(), time.time())))
                except Exception:  # noqa: BLE001 - the client may be gone too
                    pass

    def _send(self, response: Response) -> None:
        self._started = True
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def _drop(self) -> None:
        """Close the connection without a byte of answer."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # idle keep-alive threads must not hold up shutdown
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], app: App) -> None:
        self.app = app
        self.body_slots = threading.BoundedSemaphore(MAX_BODIES)
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host name (getfqdn), which can stall.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._conns_lock:
            self._conns.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._conns_lock:
            self._conns.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self._conns_lock:
            conns = list(self._conns)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], _CONNECTION_ERRORS):
            return
        log.exception("sandbox connection from %s failed", client_address)


class Sandbox:
    """A local stand-in for Megvii FaceID and Baidu faceprint over a seeded population.

    >>> with Sandbox(seed=7, n_lite=200) as sb:               # doctest: +SKIP
    ...     requests.get(sb.url + "/faceid/lite/get_result", params={
    ...         "api_key": sb.megvii_api_key, "api_secret": sb.megvii_api_secret,
    ...         "biz_id": sb.ids("megvii-lite")[0]}).json()["status"]

    Keyword arguments other than ``host``/``port`` are ``SandboxConfig`` fields, e.g.
    ``wild=0.05`` for 5% of sessions in undocumented shapes (0 by default).
    Binds loopback only.
    """

    def __init__(self, config: SandboxConfig | None = None, *, host: str = "127.0.0.1",
                 port: int = 0, **overrides: Any) -> None:
        if host not in LOOPBACK:
            raise ValueError(f"the sandbox binds 127.0.0.1 only, not {host!r}")
        config = config or SandboxConfig()
        if overrides:
            config = dataclasses.replace(config, **overrides)
        self.host = "127.0.0.1"
        self._port = port
        self.app = App(config)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ---------------------------------------------------------------------

    def start(self) -> Sandbox:
        if self._server is not None:
            return self
        server = _Server((self.host, self._port), self.app)
        self._server = server
        self._port = server.server_address[1]
        self.app.base_url = self.url
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name=f"sandbox-{self._port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.close_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    close = stop

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._server is not None

    # --- what it serves ----------------------------------------------------------------

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self._port}"

    @property
    def config(self) -> SandboxConfig:
        return self.app.config

    @property
    def population(self) -> Population:
        return self.app.population

    @property
    def megvii_api_key(self) -> str:
        return self.config.megvii_api_key

    @property
    def megvii_api_secret(self) -> str:
        return self.config.megvii_api_secret

    @property
    def megvii_disabled_api_key(self) -> str:
        return self.config.megvii_disabled_api_key

    @property
    def baidu_api_key(self) -> str:
        return self.config.baidu_api_key

    @property
    def baidu_secret_key(self) -> str:
        return self.config.baidu_secret_key

    def env(self) -> dict[str, str]:
        """Environment variables a client needs to talk to this sandbox."""
        return {
            "MEGVII_BASE_URL": self.url, "BAIDU_BASE_URL": self.url,
            "MEGVII_API_KEY": self.megvii_api_key, "MEGVII_API_SECRET": self.megvii_api_secret,
            "BAIDU_API_KEY": self.baidu_api_key, "BAIDU_SECRET_KEY": self.baidu_secret_key,
        }

    def ids(self, kind: str) -> list[str]:
        """Session ids of 'megvii-lite', 'megvii-liveness' or 'baidu' (verify_tokens)."""
        return self.app.ids(kind)

    def write_ids(self, path: str | os.PathLike[str], kind: str) -> Path:
        """Write one id per line; returns the path."""
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text("".join(f"{i}\n" for i in self.ids(kind)), encoding="utf-8")
        os.replace(tmp, path)
        return path

    def write_ids_files(self, prefix: str | os.PathLike[str]) -> dict[str, Path]:
        """``PREFIX-megvii-lite.txt``, ``PREFIX-megvii-liveness.txt``, ``PREFIX-baidu.txt``."""
        return {kind: self.write_ids(f"{os.fspath(prefix)}-{kind}.txt", kind) for kind in Population.KINDS}

    # --- inspection and control ----------------------------------------------------------

    def calls(self, session_id: str) -> int:
        """Counted calls for a biz_id (Megvii get_result) or verify_token (Baidu)."""
        return self.app.call_count(session_id)

    def stats(self) -> dict[str, Any]:
        return self.app.stats()

    def set(self, **changes: Any) -> SandboxConfig:
        """Change run-time settings (latency, limits, fault rates, ...)."""
        return self.app.set(**changes)

    def reset(self) -> None:
        """Forget call counts, downloads and fault counters."""
        self.app.reset()

    def expire_access_tokens(self) -> None:
        self.app.expire_access_tokens()

    def complete_flow(self, verify_token: str) -> None:
        """A user goes through the H5 flow of a token minted by verifyToken/generate;
        until then its result APIs answer "Token无效或者已过期", as the document says."""
        self.app.complete_flow(verify_token)

    def payload(self, biz_id: str, **options: int) -> dict[str, Any]:
        """A Megvii session's get_result body without spending one of its calls."""
        return self.app.megvii_payload(biz_id, **options)

    def baidu_payload(self, token: str, endpoint: str) -> dict[str, Any]:
        """A Baidu result body ('simple', 'detail', 'stat', 'getall', 'media/query') as the
        endpoint answers it, without counting a call."""
        return self.app.baidu_payload(token, endpoint)

    def callback_body(self, biz_id: str) -> dict[str, str]:
        """A signed notify_url/return_url body ``{"data", "sign"}`` for a Megvii session."""
        return _megvii.callback_body(self.payload(biz_id), self.megvii_api_secret)

    def media_plaintext(self, name: str) -> bytes:
        """The file behind ``/_sandbox/media/<name>`` before encryption."""
        return self.app.media_plaintext(name)

    def __repr__(self) -> str:
        state = self.url if self.running else "stopped"
        return f"<Sandbox {state} seed={self.config.seed}>"
