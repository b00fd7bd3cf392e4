"""``faceanalytics receive``: an HTTP receiver for Megvii ``notify_url``/``return_url`` callbacks.

Each POST (JSON ``{"data": "<json text>", "sign": "…"}`` or a form-encoded
``data=…&sign=…``) is judged first: 200 when ``sign == sha1(api_secret + data)``,
403 for a bad or missing sign, 400 for a body that is not a callback, 413 for one
over the size limit (64 KiB by default: a callback carries no images).  A verified
callback is appended to the raw archive's journal and fsync'd *before* the 200;
every couple of seconds, and on SIGTERM/SIGINT, what arrived is landed in the tables.

Anyone can POST, so what an unverified request may cost is bounded: its body is
never journaled, archived or landed, only kept in a small rotating store,
``raw/rejected/rejected.jsonl`` (and ``rejected.1.jsonl`` before it; together at most
``rejected_bytes``, 16 MiB by default, owner-only), with its status, reason, size and
SHA-256; at most ``max_in_flight`` bodies are read at once (others wait, then get
503), each within ``max_body`` bytes and a read deadline; at most ``max_connections``
connections are open at once (others get 503 at once).  Memory does not depend on
how many requests were rejected or how many connections a client opens; request
headers must arrive within a deadline too (a slowloris client is dropped).  Without
``MEGVII_API_SECRET`` nothing could be verified, so the receiver refuses to start.

It binds 127.0.0.1 by default.  To receive from the internet, put it behind a
reverse proxy that terminates TLS, e.g. nginx::

    location /faceid/notify {
        proxy_pass http://127.0.0.1:8090/;
        client_max_body_size 64k;
    }
"""
from __future__ import annotations

import base64
import hashlib
import http.client
import http.server
import io
import json
import os
import sys
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs

import orjson

from .._coerce import Unreadable
from .._records import parse_json
from ..errors import DataError
from ..redact import env_secret
from ..crypto import verify_callback_sign
from ..flatten import session_id_of
from ..storage import DataDir
from ..storage.durable import make_private_dirs
from .._bodies import read_body
from ._journal import Journals, now_iso, recover_journals
from ._rows import now_us
from .ingest import Ingestor

__all__ = ["CallbackReceiver", "serve"]

MAX_BODY = 64 << 10          # a callback is a few KB of JSON (no images)
MAX_IN_FLIGHT = 16           # bodies read at once
MAX_CONNECTIONS = 256        # connections open at once (each holds a thread)
REJECTED_BYTES = 16 << 20    # the rotating store of rejected requests, both files together
READ_DEADLINE = 30.0         # seconds to send a whole body
HEADER_DEADLINE = 10.0       # seconds to send the request line and headers
MAX_HEADER_BYTES = 64 << 10  # the request line and headers together (nginx's default: 4 x 8 KiB)
WAIT_FOR_SLOT = 10.0         # seconds a request waits for a free slot before a 503


def judge(body: bytes, content_type: str, api_secret: str | None):
    """-> (HTTP status, reason, payload to archive, session id)."""
    text = body.decode("utf-8", "replace")
    payload, data, sign = None, None, None
    stripped = text.strip()
    if stripped.startswith("{") and "form" not in content_type:
        try:
            payload = parse_json(stripped)  # bounded: depth and size checked before parsing
        except Unreadable as e:
            return 400, f"body is not valid JSON: {e}", text, None
        if not isinstance(payload, dict):
            return 400, "body is not a JSON object", text, None
        data, sign = payload.get("data"), payload.get("sign")
    else:
        form = parse_qs(stripped, keep_blank_values=True)
        if "data" not in form:
            return 400, "body has no data field (neither a JSON nor a form-encoded callback)", text, None
        payload = text  # archived as received; the flattener reads the form again
        data, sign = form["data"][0], (form.get("sign") or [None])[0]
    if isinstance(data, dict):
        data_text = None  # re-serialised by the flattener; cannot verify byte-exact here
    else:
        data_text = data if isinstance(data, str) else None
    sid = session_id_of({"data": data}) if data is not None else None
    if data is None:
        return 400, "callback has no data", payload, sid
    if not sign:
        return 403, "callback has no sign", payload, sid
    if not api_secret:
        return 403, "MEGVII_API_SECRET is not set: the sign cannot be verified", payload, sid
    if data_text is None:
        candidates = [json.dumps(data, ensure_ascii=False, separators=(",", ":")), json.dumps(data)]
    else:
        candidates = [data_text]
    if not any(verify_callback_sign(c, str(sign), api_secret) for c in candidates):
        return 403, "sign does not match sha1(api_secret + data)", payload, sid
    return 200, "ok", payload, sid


class RejectedLog:
    """A bounded, rotating store of rejected requests (never fsync'd: untrusted input).

    ``rejected.jsonl`` is appended to; once it passes half the budget it becomes
    ``rejected.1.jsonl`` (replacing the previous one) and a new one starts, so both
    together stay within ``budget`` bytes (plus one line).
    """

    def __init__(self, folder: Path, budget: int = REJECTED_BYTES):
        make_private_dirs(folder.parent.parent, folder)  # DATA/raw/rejected
        self.current, self.previous = folder / "rejected.jsonl", folder / "rejected.1.jsonl"
        self.budget = budget
        self._lock = threading.Lock()

    def add(self, status: int, reason: str, body: bytes | None, n_bytes: int, sid=None) -> None:
        rec = {"at": now_iso(), "status": status, "reason": reason, "bytes": n_bytes,
               "session_id": sid}
        if body is not None:
            rec["sha256"] = hashlib.sha256(body).hexdigest()
            try:
                rec["body"] = body.decode("utf-8")
            except UnicodeDecodeError:
                rec["body_b64"] = base64.b64encode(body).decode()
        line = orjson.dumps(rec) + b"\n"
        with self._lock:
            try:
                size = self.current.stat().st_size
            except FileNotFoundError:
                size = 0
            if size and size + len(line) > self.budget // 2:
                os.replace(self.current, self.previous)
            fd = os.open(self.current, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                os.write(fd, line[: max(self.budget // 2, 1)])
            finally:
                os.close(fd)

    def read(self) -> list[dict]:
        """Every kept record, oldest first."""
        out = []
        for path in (self.previous, self.current):
            if path.exists():
                for line in path.read_bytes().splitlines():
                    try:
                        out.append(orjson.loads(line))
                    except orjson.JSONDecodeError:
                        continue  # a line cut by the budget
        return out


class CallbackReceiver:
    """Receive, judge, archive what is verified, answer; land in the tables periodically
    and on stop.  See the module docstring for what a rejected request may cost."""

    def __init__(self, data_dir, *, host: str = "127.0.0.1", port: int = 8090,
                 api_secret: str | None = None, max_body: int = MAX_BODY,
                 land_every: float = 2.0, compact_every: float = 600.0, keep_pii: bool = False,
                 max_in_flight: int = MAX_IN_FLIGHT, rejected_bytes: int = REJECTED_BYTES,
                 read_deadline: float = READ_DEADLINE, wait_for_slot: float = WAIT_FOR_SLOT,
                 max_connections: int = MAX_CONNECTIONS, header_deadline: float = HEADER_DEADLINE):
        ddir = DataDir.of(data_dir)
        ddir.require_local("receive")  # the journal needs append + fsync
        self.data_dir = ddir.root
        self.api_secret = api_secret if api_secret is not None else env_secret("MEGVII_API_SECRET")
        if not (self.api_secret or "").strip():  # blank (MEGVII_API_SECRET=" "): nothing would verify
            raise ValueError("MEGVII_API_SECRET is not set: no callback could be verified, so "
                             "every one would be rejected; set it (the api_secret of the app "
                             "that sends the callbacks)")
        self.max_body = max_body
        self.land_every = land_every
        self.compact_every = compact_every
        self.read_deadline = read_deadline
        self.header_deadline = header_deadline
        self.wait_for_slot = wait_for_slot
        self._slots = threading.BoundedSemaphore(max_in_flight)
        self.ing = Ingestor(ddir, keep_pii=keep_pii, megvii_api_secret=self.api_secret)
        try:
            recover_journals(self.ing)
            self.rejected = RejectedLog(ddir.rejected, rejected_bytes)
            self.journals = Journals(self.ing.archive, f"receive-{time.strftime('%Y%m%d%H%M%S')}")
            self.server = _Server((host, port), self._handler(), max_connections)
        except BaseException:
            self.ing.close()
            raise
        self._buffer: list[tuple[bytes, int]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.counts = {"accepted": 0, "rejected": 0, "landed": 0, "quarantined": 0, "busy": 0, "compact_failed": 0,
                       "land_failed": 0}
        self.server.daemon_threads = True
        self._threads: list[threading.Thread] = []

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def _handler(self):
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            timeout = 15  # a client that stops sending is dropped
            server_version = "faceanalytics-receive"

            def log_message(self, fmt, *args):  # no request lines (query strings) in logs
                pass

            def setup(self):
                super().setup()
                self.rfile.close()               # read through the deadline instead
                self.rfile = io.BufferedReader(_Deadline(self.connection))

            def handle_one_request(self):
                # every request of a kept-alive connection
                self.rfile.raw.start(receiver.header_deadline, MAX_HEADER_BYTES)
                try:
                    super().handle_one_request()
                except _HeadersTooLarge:
                    self.close_connection = True
                    receiver.reject(431, f"request line and headers over {MAX_HEADER_BYTES} bytes", None,
                                    self.rfile.raw.n_read)
                    try:
                        self.wfile.write(_HEADERS_TOO_LARGE)
                    except OSError:
                        pass

            def parse_request(self):
                ok = super().parse_request()
                self.rfile.raw.stop()            # headers read: the body has its own deadline
                return ok

            def _answer(self, status: int, reason: str, headers=()) -> None:
                body = orjson.dumps({"ok": status == 200, "reason": reason})
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "close")
                for name, value in headers:
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                self._answer(200 if self.path.rstrip("/") in ("", "/health") else 404,
                             "POST callbacks here")

            def do_POST(self):
                self.close_connection = True
                try:
                    length = int(self.headers.get("Content-Length", ""))
                except ValueError:
                    return self._answer(411, "Content-Length required")
                if length < 0 or length > receiver.max_body:
                    receiver.reject(413, f"body over {receiver.max_body} bytes", None, length)
                    return self._answer(413, f"body over {receiver.max_body} bytes")
                if not receiver._slots.acquire(timeout=receiver.wait_for_slot):
                    with receiver._lock:
                        receiver.counts["busy"] += 1
                    return self._answer(503, "busy: try again later", [("Retry-After", "5")])
                try:
                    body = read_body(self.rfile, self.connection, length, receiver.read_deadline)
                    if body is None:
                        return  # the client went away or was too slow: nothing to keep
                    try:
                        status, reason = receiver.accept(body, self.headers.get("Content-Type", ""))
                    except Exception as e:  # never let one request take the receiver down
                        status, reason = 500, f"not archived: {type(e).__name__}"
                    del body
                finally:
                    receiver._slots.release()
                self._answer(status, reason)

        return Handler

    def reject(self, status: int, reason: str, body: bytes | None, n_bytes: int, sid=None) -> None:
        self.rejected.add(status, reason, body, n_bytes, sid)
        with self._lock:
            self.counts["rejected"] += 1

    def accept(self, body: bytes, content_type: str) -> tuple[int, str]:
        """Judge one callback; archive it durably if verified (else keep it in the
        bounded rejected store); say how to answer it."""
        status, reason, payload, sid = judge(body, content_type.lower(), self.api_secret)
        if status != 200:
            self.reject(status, reason, body, len(body), sid)
            return status, reason
        line = orjson.dumps({"source": "megvii_notify", "session_id": sid,
                             "fetched_at": now_iso(), "http_status": None, "payload": payload,
                             "receiver": {"status": status, "reason": reason}})
        jid = self.journals.append(line)  # fsync'd: durable before we answer
        with self._lock:
            self._buffer.append((line, jid))
            self.counts["accepted"] += 1
        return status, reason

    def land(self) -> None:
        with self._lock:
            buffer, self._buffer = self._buffer, []
        if buffer:
            try:
                rep = self.ing.land([ln for ln, _ in buffer], source_hint=None, received_us=now_us(),
                                    origin="receive")
            except BaseException:
                with self._lock:   # landed with the next ones (a part committed lands once: rows dedupe)
                    self._buffer[:0] = buffer
                raise
            self.counts["landed"] += rep.landed
            self.counts["quarantined"] += rep.quarantined
            self.journals.landed(j for _, j in buffer)
        self.journals.rotate()
        self.journals.seal_ready()

    def _lander(self) -> None:
        """Land every ``land_every`` seconds; every ``compact_every``, merge the small files
        and packs the landings left (a receiver runs for months: merging only at stop let
        one file per landing pile up in each partition, read by every load and review)."""
        last = time.monotonic()
        failing = False
        while not self._stop.wait(self.land_every):
            try:
                self.land()
            except Exception as e:
                # A full disk, say: the thread died, and nothing landed (or was sealed) again until
                # the receiver stopped, while what arrived piled up in memory.  What arrived stays
                # journaled and buffered; landing is tried again next time.
                self.counts["land_failed"] += 1
                if not failing:
                    print(f"faceanalytics receive: landing failed ({type(e).__name__}: {e}); what arrived "
                          f"is kept in the journal, landing is tried again every {self.land_every:g} s",
                          file=sys.stderr, flush=True)
                failing = True
                continue
            failing = False
            if time.monotonic() - last >= self.compact_every:
                try:
                    self.ing.store.compact()
                except Exception:  # a full disk, say: landing goes on; tried again next time
                    self.counts["compact_failed"] += 1
                last = time.monotonic()

    def start(self) -> "CallbackReceiver":
        for target in (self.server.serve_forever, self._lander):
            t = threading.Thread(target=target, daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def stop(self) -> None:
        """Stop answering, land everything received, seal the journals, release the data dir."""
        self._stop.set()
        self.server.shutdown()
        self.server.server_close()
        for t in self._threads:
            t.join(timeout=30)
        self.land()
        self.journals.seal_ready(final=True)
        self.ing.store.compact()
        self.ing.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class _HeadersTooLarge(DataError, OSError):
    """The request line and headers passed :data:`MAX_HEADER_BYTES` (not a TimeoutError: the
    handler answers 431 rather than dropping the connection in silence)."""


_HEADERS_TOO_LARGE = (b"HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\n"
                      b"Connection: close\r\n\r\n")


class _Deadline(io.RawIOBase):
    """A socket read within a total deadline: each receive may wait only what is left,
    so a client that sends its request line and headers a byte at a time (slowloris)
    is dropped after the ``seconds`` given to :meth:`start`; after :meth:`stop` only the
    socket's own timeout applies.  Until :meth:`stop`, at most ``most`` bytes are read:
    http.server takes 100 header lines of 64 KiB each, so 40 connections sending them
    held 258 MB (256 connections, 1.6 GB)."""

    def __init__(self, sock):
        self.sock = sock
        self.end: float | None = None
        self.most: int | None = None
        self.n_read = 0
        self._timeout = sock.gettimeout()

    def start(self, seconds: float, most: int | None = None) -> None:
        self.end = time.monotonic() + seconds
        self.most, self.n_read = most, 0

    def stop(self) -> None:
        self.end = self.most = None
        self.sock.settimeout(self._timeout)

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        if self.end is not None:
            left = self.end - time.monotonic()
            if left <= 0:
                raise TimeoutError("the request's headers took too long")
            self.sock.settimeout(min(left, self._timeout or left))
        if self.most is not None:
            if self.n_read >= self.most:
                raise _HeadersTooLarge("the request's headers are too large")
            n = self.sock.recv_into(memoryview(b)[:self.most - self.n_read])
            self.n_read += n
            return n
        return self.sock.recv_into(b)


class _Server(http.server.ThreadingHTTPServer):
    """One thread per connection, but at most ``max_connections`` at once: a client that
    opens connections and sends its headers a byte at a time (slowloris) holds a thread
    each, so without a cap memory and file descriptors grow with the connections it opens.
    Past the cap a connection gets 503 at once and is closed (no thread is started)."""
    request_queue_size = 128  # behind a proxy many connections arrive at once (default 5)
    _BUSY = (b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\nContent-Length: 0\r\n"
             b"Connection: close\r\n\r\n")

    def __init__(self, address, handler, max_connections: int = MAX_CONNECTIONS):
        self._connections = threading.BoundedSemaphore(max_connections)
        self.refused = 0
        super().__init__(address, handler)

    def process_request(self, request, client_address):
        if not self._connections.acquire(blocking=False):
            self.refused += 1
            try:
                request.sendall(self._BUSY)     # a fresh socket's buffer takes it without blocking
            except OSError:
                pass
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._connections.release()
            raise

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._connections.release()

    def handle_error(self, request, client_address):
        """socketserver printed a traceback of ~20 lines on stderr for every connection that
        went wrong: each hostile client that hung up mid-request (a broken pipe, 100 headers)
        wrote its own.  A client gone away is no news; anything else is one line."""
        e = sys.exc_info()[1]
        if isinstance(e, (OSError, http.client.HTTPException)):
            return
        print(f"faceanalytics receive: a request failed: {type(e).__name__}", file=sys.stderr, flush=True)


def serve(data_dir, *, host: str = "127.0.0.1", port: int = 8090, max_body: int = MAX_BODY,
          rejected_bytes: int = REJECTED_BYTES) -> int:
    """Run until SIGTERM/SIGINT, then flush everything into the tables."""
    import signal

    try:
        rec = CallbackReceiver(data_dir, host=host, port=port, max_body=max_body,
                               rejected_bytes=rejected_bytes)
    except ValueError as e:
        print(f"faceanalytics receive: {e}", file=sys.stderr, flush=True)
        return 2
    except OSError as e:
        from .._args import listen_error

        said = listen_error(e, host, port)
        if said is None:
            raise
        print(f"faceanalytics receive: {said}", file=sys.stderr, flush=True)
        return 1
    rec.start()
    print(f"receiving callbacks at {rec.url} (POST); data in {data_dir}; bodies up to "
          f"{max_body} bytes; rejected requests kept in {rec.rejected.current.parent}", flush=True)
    stop = threading.Event()
    previous = {s: signal.signal(s, lambda *_: stop.set()) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        stop.wait()
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
        rec.stop()
    c = rec.counts
    print(f"accepted {c['accepted']}  rejected {c['rejected']}  landed {c['landed']}  "
          f"quarantined {c['quarantined']}  busy {c['busy']}", flush=True)
    return 0
