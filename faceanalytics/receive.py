"""``faceanalytics receive``: an HTTP receiver for Megvii ``notify_url``/``return_url`` callbacks.

Each POST (JSON ``{"data": "<json text>", "sign": "…"}`` or a form-encoded
``data=…&sign=…``) is appended to the raw archive's journal and fsync'd *before*
the answer: 200 when ``sign == sha1(api_secret + data)``, 403 for a bad or
missing sign, 400 for a body that is not a callback, 413 for one over the size
limit.  Rejected bodies are archived too, and land in ``quarantine`` with the
reason, for inspection.  Every couple of seconds, and on SIGTERM/SIGINT, what
arrived is landed in the tables.

It binds 127.0.0.1 by default.  To receive from the internet, put it behind a
reverse proxy that terminates TLS, e.g. nginx::

    location /faceid/notify {
        proxy_pass http://127.0.0.1:8090/;
        client_max_body_size 1m;
    }
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import http.server
import json
import os
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs

import orjson

from ._coerce import Unreadable
from ._records import parse_json
from .fetch import _Journals, recover_journals
from .flatten.megvii import session_id_of, verify_callback_sign
from .ingest import Ingestor, _now_us

__all__ = ["CallbackReceiver", "serve"]

MAX_BODY = 1 << 20


def _now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


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


class CallbackReceiver:
    """Receive, archive, answer; land in the tables periodically and on stop."""

    def __init__(self, data_dir, *, host: str = "127.0.0.1", port: int = 8090,
                 api_secret: str | None = None, max_body: int = MAX_BODY,
                 land_every: float = 2.0, keep_pii: bool = False):
        from ._fs import require_local

        require_local(data_dir, "receive")  # the journal needs append + fsync
        self.data_dir = Path(data_dir)
        self.api_secret = api_secret if api_secret is not None else os.environ.get("MEGVII_API_SECRET")
        self.max_body = max_body
        self.land_every = land_every
        self.ing = Ingestor(self.data_dir, keep_pii=keep_pii, megvii_api_secret=self.api_secret)
        recover_journals(self.ing)
        self.journals = _Journals(self.ing.archive, f"receive-{time.strftime('%Y%m%d%H%M%S')}")
        self._buffer: list[tuple[bytes, int]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.counts = {"accepted": 0, "rejected": 0, "landed": 0, "quarantined": 0}
        self.server = http.server.ThreadingHTTPServer((host, port), self._handler())
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

            def _answer(self, status: int, reason: str) -> None:
                body = orjson.dumps({"ok": status == 200, "reason": reason})
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                self._answer(200 if self.path.rstrip("/") in ("", "/health") else 404,
                             "POST callbacks here")

            def do_POST(self):
                try:
                    length = int(self.headers.get("Content-Length", ""))
                except ValueError:
                    self.close_connection = True
                    return self._answer(411, "Content-Length required")
                if length < 0 or length > receiver.max_body:
                    self.close_connection = True
                    return self._answer(413, f"body over {receiver.max_body} bytes")
                body = self.rfile.read(length)
                if len(body) < length:
                    return  # the client went away mid-body: nothing to keep
                try:
                    status, reason = receiver.accept(body, self.headers.get("Content-Type", ""))
                except Exception as e:  # never let one request take the receiver down
                    status, reason = 500, f"not archived: {type(e).__name__}"
                self._answer(status, reason)

        return Handler

    def accept(self, body: bytes, content_type: str) -> tuple[int, str]:
        """Archive one callback durably and say how to answer it."""
        status, reason, payload, sid = judge(body, content_type.lower(), self.api_secret)
        if sid is None:
            sid = "unknown-" + hashlib.sha1(body).hexdigest()[:16]
        line = orjson.dumps({"source": "megvii_notify", "session_id": sid,
                             "fetched_at": _now_iso(), "http_status": None, "payload": payload,
                             "receiver": {"status": status, "reason": reason}})
        jid = self.journals.append(line)  # fsync'd: durable before we answer
        with self._lock:
            self._buffer.append((line, jid))
            self.counts["accepted" if status == 200 else "rejected"] += 1
        return status, reason

    def land(self) -> None:
        with self._lock:
            buffer, self._buffer = self._buffer, []
        if buffer:
            rep = self.ing.land([ln for ln, _ in buffer], source_hint=None, received_us=_now_us(),
                                origin="receive")
            self.counts["landed"] += rep.landed
            self.counts["quarantined"] += rep.quarantined
            self.journals.landed(j for _, j in buffer)
        self.journals.rotate()
        self.journals.seal_ready()

    def _lander(self) -> None:
        while not self._stop.wait(self.land_every):
            self.land()

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


def serve(data_dir, *, host: str = "127.0.0.1", port: int = 8090, max_body: int = MAX_BODY) -> int:
    """Run until SIGTERM/SIGINT, then flush everything into the tables."""
    import signal

    rec = CallbackReceiver(data_dir, host=host, port=port, max_body=max_body).start()
    if not rec.api_secret:
        print("faceanalytics receive: MEGVII_API_SECRET is not set: every callback will be "
              "answered 403 and kept in quarantine", flush=True)
    print(f"receiving callbacks at {rec.url} (POST); data in {data_dir}", flush=True)
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
          f"quarantined {c['quarantined']}", flush=True)
    return 0
