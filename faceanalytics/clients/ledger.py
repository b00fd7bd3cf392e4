"""A crash-safe, append-only record of provider calls, to stay within per-id quotas.

Megvii serves a ``get_result`` (and each will-file URL) at most three times. The
ledger writes one line per send *before* the send leaves – appended, flushed and
fsynced – and refuses the send (:class:`~.errors.QuotaExhausted`) if it would
exceed ``limit``. The file is plain text, one tab-separated line per event::

    # faceanalytics quota ledger: time<TAB>provider<TAB>key<TAB>event
    2024-05-03T08:12:09.114+00:00	megvii	1462259748,52b13fb5-8dfb-4537-a62b-a641d5e929f1	call 1/3
    2024-05-03T08:12:09.301+00:00	megvii	1462259748,52b13fb5-8dfb-4537-a62b-a641d5e929f1	result 403 CONCURRENCY_LIMIT_EXCEEDED
    2024-05-03T08:12:10.020+00:00	megvii	1462259748,52b13fb5-8dfb-4537-a62b-a641d5e929f1	call 2/3
    2024-05-03T08:12:10.217+00:00	megvii	1462259748,52b13fb5-8dfb-4537-a62b-a641d5e929f1	result 200

``call`` lines count; ``result`` lines (written by :meth:`record` after the answer)
are notes for humans. An ``unsent`` line takes one call of its key back: the call was
written down before it was sent, but it never left (connection refused, DNS failure,
TLS handshake failed), so it reached no provider::

    2024-05-03T08:12:11.020+00:00	megvii	1462259748,52b1...	call 3/3
    2024-05-03T08:12:11.022+00:00	megvii	1462259748,52b1...	unsent NOT_CONNECTED

Counting is conservative: any line that is not a complete ``result`` or ``unsent``
note counts as a call, and a line cut short (kill -9 mid-write, power loss, disk
full) counts as a call too – if its key was cut, against every key it could be the
start of.  An ``unsent`` note lost in a crash leaves its call counted.

Several threads may share one ledger (a lock; fsyncs are batched: a thread whose
line was already covered by another thread's fsync does not fsync again), and several
processes may share one file (an ``flock`` around read-new-lines + check + append).
"""

from __future__ import annotations

import logging
import os
import threading
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable

from ..storage.durable import AppendLog, fsync_dir
from .errors import QuotaExhausted

try:  # POSIX; elsewhere the ledger is safe across threads but not across processes.
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

__all__ = ["QuotaLedger"]

HEADER = "# faceanalytics quota ledger: time\tprovider\tkey\tevent\n"
_ESCAPES = {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"}
_UNESCAPES = {"\\": "\\", "t": "\t", "n": "\n", "r": "\r"}


def _escape(text: str) -> str:
    return "".join(_ESCAPES.get(ch, ch) for ch in text)


def _unescape(text: str) -> str:
    out, chars = [], iter(text)
    for ch in chars:
        if ch == "\\":
            nxt = next(chars, "")
            out.append(_UNESCAPES.get(nxt, nxt))
        else:
            out.append(ch)
    return "".join(out)


def _is_note(event: str) -> bool:
    return event.startswith("result")


def _is_unsent(event: str) -> bool:
    return event.startswith("unsent")


class QuotaLedger:
    """Calls per key, on disk. ``reserve(key)`` before every send; ``record(key, outcome)`` after.

    >>> ledger = QuotaLedger(tmp_path / "megvii.log", limit=3)   # doctest: +SKIP
    >>> ledger.reserve("1462259748,52b13fb5-...")                  # doctest: +SKIP
    >>> ledger.calls("1462259748,52b13fb5-...")                    # doctest: +SKIP
    1
    """

    def __init__(self, path: str | os.PathLike[str], limit: int = 3, provider: str | None = None) -> None:
        if limit < 0:
            raise ValueError("limit must be >= 0")
        self.path = Path(path)
        self.limit = int(limit)
        self.provider = provider or self.path.stem
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._torn: list[str] = []  # key prefixes of lines cut short
        self._offset = 0  # bytes of the file already read
        self._pending = b""  # a trailing fragment without newline (not yet known torn)
        self._log = AppendLog(self.path, mode=0o644)
        with self._lock:
            with self._file_lock():
                self._catch_up()
                created = self._offset == 0
                if created:
                    self._append(HEADER.encode())
        self._log.sync()
        if created:
            fsync_dir(self.path.parent)
        unread = sum(1 for prefix in self._torn if not prefix)
        if unread >= self.limit:
            # Each counts against every key: every id was refused as "out of quota", the
            # ledger never named (a file overwritten with other data, an editor's mangling).
            logging.getLogger("faceanalytics.clients").warning(
                "quota ledger %s holds %d lines that are not ledger lines (cut short by crashes, or "
                "not written by faceanalytics): each counts as a call of every id, so every id is "
                "out of quota; if no call was made for them, move the file aside", self.path, unread)

    # -- public ---------------------------------------------------------------------------

    def reserve(self, key: str) -> None:
        """Write down one call for *key*, durably, or raise QuotaExhausted if it would exceed the limit."""
        key = self._check_key(key)
        with self._lock:
            with self._file_lock():
                self._catch_up()
                calls = self._calls(key)
                if calls >= self.limit:
                    refused = QuotaExhausted(
                        key=key, calls=calls, limit=self.limit, path=str(self.path), provider=self.provider
                    )
                else:
                    refused = None
                    # Counted before the write: if the write fails we over-count, never under-count.
                    self._counts[key] += 1
                    target = self._append(self._line(key, f"call {calls + 1}/{self.limit}"))
        if refused is not None:
            raise refused
        self._log.sync(target)

    def record(self, key: str, outcome: str) -> None:
        """Append a note with the answer to a call (flushed, not fsynced: it is informational).

        An *outcome* starting with ``"unsent"`` (the client's word for a call that never
        left) takes the call back: it no longer counts against the limit.
        """
        key = self._check_key(key)
        outcome = " ".join(str(outcome).split()) or "-"
        event = outcome if _is_unsent(outcome) else f"result {outcome}"
        with self._lock:
            with self._file_lock():
                self._catch_up()
                self._append(self._line(key, event))
                if _is_unsent(event):
                    self._uncount(key)

    def total(self) -> int:
        """Calls on record for every key together."""
        with self._lock:
            with self._file_lock():
                self._catch_up()
                return sum(self._counts.values())

    def calls(self, key: str) -> int:
        """Calls on record for *key* (including any cut-short line that may have been for it)."""
        return self.calls_of((key,))[0]

    def calls_of(self, keys: Iterable[str]) -> list[int]:
        """Calls on record for each of *keys*, in order, from one locked read of the ledger.

        For a fetch of many ids: :meth:`calls` once per id took the file lock and read the
        file's size every time (a million ids: seconds before the first call).  A count read
        here may be passed by another process before the send; :meth:`reserve` checks again,
        locked, before every send, so the limit is never exceeded.
        """
        with self._lock:
            with self._file_lock():
                self._catch_up()
                return [self._calls(key) for key in keys]

    def remaining(self, key: str) -> int:
        return max(0, self.limit - self.calls(key))

    def close(self) -> None:
        with self._lock:
            self._log.close()

    def __enter__(self) -> "QuotaLedger":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    def __repr__(self) -> str:
        return f"QuotaLedger({str(self.path)!r}, limit={self.limit}, provider={self.provider!r})"

    # -- internals (call with self._lock held) --------------------------------------------

    @staticmethod
    def _check_key(key: str) -> str:
        if not isinstance(key, str) or not key:
            raise ValueError("ledger key must be a non-empty string")
        return key

    def _calls(self, key: str) -> int:
        if not self._torn:
            return self._counts.get(key, 0)
        return self._counts[key] + sum(1 for prefix in self._torn if key.startswith(prefix))

    def _line(self, key: str, event: str) -> bytes:
        now = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
        return f"{now}\t{_escape(self.provider)}\t{_escape(key)}\t{event}\n".encode()

    def _file_lock(self):
        return _FileLock(self._log.fd)

    def _catch_up(self) -> None:
        """Read lines appended since we last looked (by other processes, or at open)."""
        fd = self._log.fd
        if fd < 0:
            raise ValueError("the ledger is closed")
        size = os.fstat(fd).st_size
        if size > self._offset:
            data = os.pread(fd, size - self._offset, self._offset)
            self._offset += len(data)
            data = self._pending + data
            lines = data.split(b"\n")
            self._pending = lines.pop()  # b"" if data ended with a newline
            for line in lines:
                self._ingest(line, complete=True)
        if self._pending:
            # Every writer appends whole lines while holding the file lock, and we hold
            # it now: a fragment at the end is a line cut short by a crash. Count it,
            # and close it with a newline so our next line is not glued to it.
            self._ingest(self._pending, complete=False)
            self._pending = b""
            self._append(b"\n")

    def _ingest(self, raw: bytes, complete: bool) -> None:
        text = raw.decode("utf-8", errors="replace").rstrip("\r")
        if not text.strip() or text.startswith("#"):  # blank, header or comment: never a call
            return
        fields = text.split("\t", 3)
        if len(fields) == 4 and fields[2]:
            # The key is whole (a tab follows it). A complete "result" line is a note;
            # anything else – including any line cut short – counts as a call.
            if complete and _is_note(fields[3]):
                return
            if complete and _is_unsent(fields[3]):
                self._uncount(_unescape(fields[2]))
                return
            self._counts[_unescape(fields[2])] += 1
            return
        # The key field is cut short (or absent): charge every key it could be the start of.
        self._torn.append(_unescape(fields[2]) if len(fields) >= 3 else "")

    def _uncount(self, key: str) -> None:
        if self._counts[key] > 0:
            self._counts[key] -= 1

    def _append(self, data: bytes) -> int:
        n = self._log.write(data)  # raises with none of it left in the file (a disk full)
        self._offset += len(data)
        return n


class _FileLock:
    """``flock`` the ledger file for the duration of a ``with`` block (no-op without fcntl)."""

    def __init__(self, fd: int) -> None:
        self._fd = fd

    def __enter__(self) -> None:
        if fcntl is not None and self._fd >= 0:
            fcntl.flock(self._fd, fcntl.LOCK_EX)

    def __exit__(self, *exc_info: object) -> None:
        if fcntl is not None and self._fd >= 0:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
