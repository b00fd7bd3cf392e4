"""The raw archive: every record kept as received, before anything parses it.

Layout: ``DATA/raw/<YYYY-MM-DD>/<HHMMSSffffff>-<digest>.jsonl.zst``, one
Zstandard file per chunk, owner-only (0600 in 0700 folders).  Zstandard rather
than gzip: it compresses several times faster (ingest keeps pace with parsing)
and smaller.  The first line of a segment
is ``{"_segment": {...}}`` (how to read the lines that follow: the ``--source``
given for bare payloads, when they were received, where they came from); every
other line is one input line, byte for byte.  The digest covers those lines, so
ingesting the same chunk twice writes nothing new.

Fetches write each response to a journal (``raw/journal/*.jsonl``, fsync'd per
response) the moment it arrives and seal the journal into a segment per chunk;
a journal left by a crash is sealed on the next open.

On S3 (``DATA`` = ``s3://bucket/prefix``) a segment is one PUT: it exists whole or
not at all, so no temporary is needed.  Objects have no owner-only mode there:
who can read ``raw/`` (which holds personal data unmasked) is the bucket's IAM
policy's business.  Journals need appends and fsync, which S3 lacks: they are
local-only, and so are ``fetch`` and ``receive``.

Read it with ``zstd -dc FILE``, or :func:`read_segment`.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import logging
import threading
from pathlib import Path

import orjson
import pyarrow as pa

from .datadir import DataDir
from .durable import AppendLog, atomic_file, atomic_write_bytes, chmod
from .paths import is_local
from .errors import SegmentTooLarge

__all__ = ["RawArchive", "Segment", "SegmentTooLarge", "open_segment", "read_segment", "READ_LIMIT"]

_DIR_MODE = 0o700
_FILE_MODE = 0o600


class Segment:
    __slots__ = ("path", "meta", "lines")

    def __init__(self, path, meta, lines):
        self.path, self.meta, self.lines = path, meta, lines


class SegmentPlan:
    __slots__ = ("path", "meta", "exists")

    def __init__(self, path, meta, exists):
        self.path, self.meta, self.exists = path, meta, exists


class RawArchive:
    def __init__(self, data_dir):
        self.ddir = DataDir.of(data_dir)
        self.root = self.ddir.raw
        self._digests: dict[str, Path] | None = None
        self._lock = threading.Lock()

    def _mkdir(self, path: Path) -> None:
        if is_local(path) and not path.is_dir():
            path.mkdir(parents=True, exist_ok=True, mode=_DIR_MODE)
            chmod(path, _DIR_MODE)
            chmod(self.root, _DIR_MODE)

    def _known(self) -> dict[str, Path]:
        if self._digests is None:
            found = {}
            if self.root.is_dir():
                for p in self.root.glob("*/*.jsonl.zst"):
                    found[_named_digest(p)] = p
            self._digests = found
        return self._digests

    def write_segment(self, lines: list[bytes], *, source_hint=None, origin=None,
                      received_at: str | None = None) -> tuple[Path, dict]:
        """Append ``lines`` as one durable segment; return its path and meta.

        If the same lines (with the same source hint) are already archived, nothing
        is written and the existing segment's meta is returned, so a bare payload
        keeps the receive time of its first ingest.
        """
        plan = self.plan_segment(lines, source_hint=source_hint, origin=origin,
                                 received_at=received_at)
        self.write_planned(plan, lines)
        return plan.path, plan.meta

    def plan_segment(self, lines: list[bytes], *, source_hint=None, origin=None,
                     received_at: str | None = None, joined: bytes | None = None) -> "SegmentPlan":
        """Name and meta of the segment for ``lines`` (cheap: a hash, no compression).
        ``joined``: ``b"\n".join(lines)`` when the caller has it already."""
        digest = _digest(source_hint, (b"\n".join(lines) if joined is None else joined, b"\n"))
        return self._plan(digest, len(lines), source_hint, origin, received_at)

    def _plan(self, digest: str, n_lines: int, source_hint, origin, received_at) -> "SegmentPlan":
        with self._lock:
            existing = self._known().get(digest)
        if existing is not None and existing.exists():
            meta = _whole_meta(existing)
            if meta is not None:
                return SegmentPlan(existing, meta, True)
            # Damaged (a disk error, a copy cut short): these lines write it anew, in its place,
            # so ingesting the original again repairs the archive (and rebuild reads it whole).
            return SegmentPlan(existing, self._meta(n_lines, source_hint, origin, received_at), False)
        now = _dt.datetime.now(_dt.timezone.utc)
        path = self.root / now.strftime("%Y-%m-%d") / f"{now.strftime('%H%M%S%f')}-{digest}.jsonl.zst"
        return SegmentPlan(path, self._meta(n_lines, source_hint, origin, received_at, now), False)

    @staticmethod
    def _meta(n_lines: int, source_hint, origin, received_at, now=None) -> dict:
        now = now or _dt.datetime.now(_dt.timezone.utc)
        return {"source_hint": source_hint, "received_at": received_at or
                now.isoformat().replace("+00:00", "Z"), "origin": origin, "lines": n_lines}

    def write_planned(self, plan: "SegmentPlan", lines: list[bytes], joined: bytes | None = None) -> None:
        """Compress and write a planned segment durably (no-op if it already exists)."""
        if plan.exists:
            return
        if joined is None:
            joined = b"\n".join(lines)
        self._mkdir(plan.path.parent)
        data = _compress(orjson.dumps({"_segment": plan.meta}) + b"\n", joined, b"\n")
        atomic_write_bytes(plan.path, data, mode=_FILE_MODE)
        with self._lock:
            self._known()[_named_digest(plan.path)] = plan.path

    def write_pieces(self, pieces, *, origin=None) -> Path | None:
        """Archive as one segment the lines ``pieces()`` yields, each with its newline, in
        pieces of any size (it is called twice: hashed, then compressed into the file as it
        is read), so a journal of any size is sealed in bounded memory.  The segment is the
        one :meth:`write_segment` writes for the same lines.  None when there is no line."""
        n_lines = 0

        def counted():
            nonlocal n_lines
            for piece in pieces():
                n_lines += piece.count(b"\n")
                yield piece

        digest = _digest(None, counted())
        if not n_lines:
            return None
        plan = self._plan(digest, n_lines, None, origin, None)
        if not plan.exists:
            self.ddir.require_local("sealing a journal")
            self._mkdir(plan.path.parent)
            with atomic_file(plan.path, mode=_FILE_MODE) as f:
                with pa.CompressedOutputStream(pa.PythonFile(_Unclosed(f), mode="w"), "zstd") as out:
                    out.write(orjson.dumps({"_segment": plan.meta}) + b"\n")
                    for piece in pieces():
                        out.write(piece)
            with self._lock:
                self._known()[_named_digest(plan.path)] = plan.path
        return plan.path

    def segments(self) -> list[Path]:
        """All segments, oldest first."""
        if not self.root.is_dir():
            return []
        return sorted(p for p in self.root.glob("*/*.jsonl.zst") if not p.name.startswith("."))

    def iter_segments(self):
        """Each segment read whole (:func:`read_segment`: refused past :data:`READ_LIMIT`)."""
        for path in self.segments():
            yield read_segment(path)

    # --- journals (fetch) ----------------------------------------------------
    def journal(self, name: str) -> AppendLog:
        """A fetch journal: every line on disk before ``append`` returns (group commit across
        threads); sealed into a segment once its answers have landed."""
        self.ddir.require_local("fetch/receive")
        d = self.ddir.journal
        self._mkdir(d)
        return AppendLog(d / f"{name}.jsonl", mode=_FILE_MODE)

    def pending_journals(self) -> list[Path]:
        if not self.ddir.local:
            return []  # journals are never written to S3
        d = self.ddir.journal
        found = sorted(d.glob("*.jsonl")) if d.is_dir() else []
        # a FIFO (or a device, or a link to one) there held the next fetch or receive forever on
        # its open: the tool writes only regular files there, so anything else is left alone
        for p in found:
            if not p.is_file():
                logging.getLogger(__name__).warning("%s is not a regular file, so no journal: left alone", p)
        return [p for p in found if p.is_file()]


def _named_digest(path) -> str:
    """The digest a segment's file name carries (``<time>-<digest>.jsonl.zst``)."""
    return path.name.split("-", 1)[-1].split(".", 1)[0]


def _digest(source_hint, parts) -> str:
    """A segment's name: its source hint and lines (joined, with a final newline) hashed."""
    h = hashlib.sha256((source_hint or "").encode() + b"\x00")
    for part in parts:
        h.update(part)
    return h.hexdigest()[:24]


class _Unclosed:
    """A file Arrow's compressed stream writes through and closing leaves open (the
    :func:`~faceanalytics.storage.durable.atomic_file` around it fsyncs and renames it)."""

    def __init__(self, f):
        self.f = f
        self.write, self.flush = f.write, f.flush

    @property
    def closed(self) -> bool:
        return self.f.closed

    def writable(self) -> bool:
        return True

    def close(self) -> None:
        self.f.flush()


def _compress(*parts: bytes) -> bytes:
    """One standard zstd frame (``zstd -dc`` reads it), streamed: the parts are
    never copied into one body first."""
    sink = pa.BufferOutputStream()
    with pa.CompressedOutputStream(sink, "zstd") as out:
        for part in parts:
            out.write(part)
    return sink.getvalue().to_pybytes()


def open_segment(path):
    """A segment (local or on S3) opened for reading, decompressed as it is read."""
    if is_local(path):
        return pa.input_stream(str(path), compression="zstd")
    return path.open_input(compression="zstd")


READ_LIMIT = 512 << 20   # bytes: a segment decompressing past this is refused by read_segment
_READ_BLOCK = 4 << 20


def _decompress(path: Path, limit: int) -> bytes:
    """The segment's bytes, read in blocks and refused once past ``limit`` (a small file that
    expands to GBs took all memory: ``read()`` of the whole stream had no bound)."""
    parts, size = [], 0
    with open_segment(path) as f:
        while block := f.read(_READ_BLOCK):
            size += len(block)
            if size > limit:
                raise SegmentTooLarge(
                    f"raw segment {path} decompresses to more than {limit >> 20} MiB: not read whole "
                    "(a damaged or hostile archive?); `faceanalytics rebuild` reads a segment of any "
                    "size in blocks")
            parts.append(block)
    return b"".join(parts)


def _whole_meta(path) -> dict | None:
    """A segment's meta once every byte of it decompressed (read in pieces, none kept); None
    when it is damaged.  Only a repeated ingest of the same lines asks (the lines are then
    hashed, and parsed, anyway): one decompression per segment, ~1 GB/s."""
    try:
        with open_segment(path) as f:
            first = f.read(64 << 10)
            while f.read(4 << 20):
                pass
    except (OSError, pa.ArrowException):
        return None
    try:
        meta = orjson.loads(first.split(b"\n", 1)[0]).get("_segment", {})
    except (orjson.JSONDecodeError, AttributeError):
        return None
    return meta if isinstance(meta, dict) else None


def read_meta(path: Path) -> dict:
    with open_segment(path) as f:
        first = f.read(64 << 10).split(b"\n", 1)[0]
    try:
        return orjson.loads(first).get("_segment", {})
    except (orjson.JSONDecodeError, AttributeError):
        return {}


def read_segment(path: Path, *, limit: int | None = None) -> Segment:
    """A segment's meta and lines, read whole into memory: refused with
    :class:`SegmentTooLarge` once it decompresses past ``limit`` bytes (default
    :data:`READ_LIMIT`), with ``RuntimeError`` when damaged."""
    try:
        data = _decompress(path, READ_LIMIT if limit is None else limit)
    except (OSError, pa.ArrowException):
        # A segment is written atomically; a damaged one is reported, not skipped silently.
        raise RuntimeError(f"raw segment {path} is damaged") from None
    first, _, rest = data.partition(b"\n")
    try:
        meta = orjson.loads(first).get("_segment", {})
    except (orjson.JSONDecodeError, AttributeError):
        meta, rest = {}, data
    lines = rest.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return Segment(path, meta, lines)
