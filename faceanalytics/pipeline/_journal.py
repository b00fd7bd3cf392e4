"""Fetch and receive journals: every answer appended and fsync'd as it arrives, sealed
into a raw archive segment once it has landed; a journal a killed run left behind is
landed and sealed by the next run (:func:`recover_journals`)."""
from __future__ import annotations

import datetime as _dt
import threading
from collections import Counter
from pathlib import Path
from typing import Iterable

from ..storage.archive import RawArchive
from ._rows import now_us
from .ingest import IngestReport, Ingestor

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


def _complete_lines(path: Path) -> list[bytes]:
    """A journal's whole lines (a line a crash cut short, after the last newline, is left out)."""
    complete = path.read_bytes().rpartition(b"\n")[0]
    return [ln for ln in complete.split(b"\n") if ln]


def _seal(archive: RawArchive, path: Path, lines: list[bytes] | None = None) -> None:
    """Archive a journal's lines as one segment and delete the journal."""
    lines = _complete_lines(path) if lines is None else lines
    if lines:
        archive.write_segment(lines, origin=f"fetch:{path.stem}")
    path.unlink()


def recover_journals(ing: Ingestor) -> IngestReport:
    """Land and seal journals a killed run left behind (idempotent)."""
    total = IngestReport()
    for path in ing.archive.pending_journals():
        lines = _complete_lines(path)
        if lines:
            total.add(ing.land(lines, source_hint=None, received_us=now_us(), origin=path.name))
        _seal(ing.archive, path, lines)
    return total
