"""Fetch and receive journals: every answer appended and fsync'd as it arrives, sealed
into a raw archive segment once it has landed; a journal a killed run left behind is
landed and sealed by the next run (:func:`recover_journals`)."""
from __future__ import annotations

import datetime as _dt
import os
import re
import threading
from collections import Counter
from pathlib import Path
from typing import Iterable

from ..storage.archive import RawArchive
from ._chunks import iter_chunks
from ._rows import now_us
from .ingest import CHUNK, IngestReport, Ingestor

__all__ = ["Journals", "recover_journals", "now_iso"]


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


class Journals:
    """Rotating journals; one is sealed once every answer written to it has landed."""

    def __init__(self, archive: RawArchive, run: str):
        self.archive, self.run = archive, run
        self._lock = threading.Lock()
        self._seq = 0
        self._open: dict[int, object] = {}
        self._pending: Counter = Counter()
        self._retired: list[int] = []
        self._rotate_locked()

    def _rotate_locked(self) -> None:
        self._seq += 1
        self._current = self._seq
        self._open[self._seq] = self.archive.journal(f"{self.run}-{self._seq:05d}")

    def append(self, line: bytes) -> int:
        with self._lock:
            jid = self._current
            self._open[jid].append(line)  # fsync'd before the worker moves on
            self._pending[jid] += 1
            return jid

    def landed(self, jids: Iterable[int]) -> None:
        with self._lock:
            for j in jids:
                self._pending[j] -= 1

    def rotate(self) -> None:
        with self._lock:
            self._retired.append(self._current)
            self._rotate_locked()

    def seal_ready(self, final: bool = False) -> None:
        with self._lock:
            if final:
                self._retired.append(self._current)
            ready = [j for j in self._retired if self._pending[j] <= 0]
            self._retired = [j for j in self._retired if j not in ready]
        for j in ready:
            journal = self._open.pop(j)
            journal.close()
            _seal(self.archive, journal.path)


_READ = 1 << 20          # bytes a journal is read by (sealing and recovery hold a few of these)
_BLANKS = re.compile(rb"\n\n+")


def _whole_size(path: Path) -> int:
    """How many bytes of a journal its whole lines take: through its last newline (a line a
    crash cut short, after it, is left out), found reading backwards a piece at a time."""
    with open(path, "rb") as f:
        end = f.seek(0, os.SEEK_END)
        while end > 0:
            start = max(0, end - _READ)
            f.seek(start)
            nl = f.read(end - start).rfind(b"\n")
            if nl >= 0:
                return start + nl + 1
            end = start
    return 0


def _pieces(path: Path, size: int):
    """A journal's first ``size`` bytes a piece at a time, blank lines left out: its whole
    lines, each with its newline, as the segment holds them."""
    with open(path, "rb") as f:
        after_newline = True
        while size > 0:
            data = f.read(min(_READ, size))
            if not data:  # shorter than it was: nothing is appended to a journal being sealed
                break
            size -= len(data)
            data = _BLANKS.sub(b"\n", data)
            if after_newline:
                data = data.lstrip(b"\n")
            if data:
                after_newline = data.endswith(b"\n")
                yield data


class _Upto:
    """A file read no further than ``size`` bytes."""

    def __init__(self, fh, size: int):
        self.fh, self.left = fh, size

    def read(self, n: int) -> bytes:
        data = self.fh.read(min(n, self.left))
        self.left -= len(data)
        return data


def _seal(archive: RawArchive, path: Path, size: int | None = None) -> None:
    """Archive a journal's whole lines as one segment and delete the journal.  Read in pieces
    (hashed, then compressed as read): never held whole, however large a crash left it."""
    size = _whole_size(path) if size is None else size
    archive.write_pieces(lambda: _pieces(path, size), origin=f"fetch:{path.stem}")
    path.unlink()


def recover_journals(ing: Ingestor, chunk: int = CHUNK) -> IngestReport:
    """Land and seal journals a killed run left behind (idempotent: killed again, the next run
    lands nothing twice).  A journal is read in blocks of ``chunk`` lines by ingest's bounded
    line reader (:func:`~faceanalytics.pipeline._chunks.iter_chunks`: a line over ``MAX_LINE``
    is quarantined by its length and first bytes, the archive keeping it whole), so recovery
    holds a block at a time: a 400 MB journal was read whole, and split, into memory."""
    total = IngestReport()
    for path in ing.archive.pending_journals():
        size = _whole_size(path)
        received = now_us()
        with open(path, "rb") as fh:
            for first, block in iter_chunks(_Upto(fh, size), chunk):
                lines, line_nos, _ = block.clean(first)
                if lines:
                    total.add(ing.land(lines, source_hint=None, received_us=received, origin=path.name,
                                       line_nos=line_nos))
                del lines, block
        _seal(ing.archive, path, size)
    return total
