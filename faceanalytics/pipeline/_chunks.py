"""Reading input files in chunks: blocks of lines cut from large reads, Zstandard files
decompressed as they are read, and raw archive segments' header lines understood."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Iterator

import numpy as np
import orjson
import pyarrow as pa

from .._coerce import MAX_VALUES, Unreadable, iso_to_us
from .._records import OVER_LONG

__all__ = ["Block", "Lines", "iter_chunks", "segment_chunks", "open_input", "SegmentContext", "ZstdInput",
           "BLOCK_BYTES"]

BLOCK_BYTES = 64 << 20  # a block of lines ends early past this many bytes (bounded memory)
# ... and past this many commas (values): each value of a record becomes Python objects and
# rows, some 350 bytes apiece, so 64 MB of lines dense with values (200 records of 99,000
# `{}` each) peaked at 6.8 GB.  The documents' records have 7-125 commas: 10,000 of them
# stay one block, far below.
BLOCK_VALUES = 2_000_000


class Block:
    """Lines of a file as one buffer (no newline after the last) and where each starts."""

    __slots__ = ("buf", "starts")

    def __init__(self, buf: bytes, starts: np.ndarray):
        self.buf, self.starts = buf, starts

    def clean(self, first_line_no: int):
        """-> (lines, their line numbers, the lines joined by newlines).  The usual
        block (every line a JSON object, no CR) is used as it is: its lines are cut
        out only if asked for.  Otherwise blank lines go and line ends are trimmed."""
        buf, n = self.buf, len(self.starts)
        if (b"\r" not in buf and self.starts[-1] < len(buf)  # the last line is not empty
                and (np.frombuffer(buf, np.uint8)[self.starts] == ord("{")).all()):
            return Lines(buf, self.starts), range(first_line_no, first_line_no + n), buf
        kept = [(first_line_no + i, ln.rstrip(b"\r")) for i, ln in enumerate(buf.split(b"\n"))
                if ln.strip()]
        lines = [ln for _, ln in kept]
        return lines, [i for i, _ in kept], b"\n".join(lines)


class Lines(Sequence):
    """The lines of one buffer, each cut out only when asked for (the fast path reads
    the buffer whole; only rows it leaves to Python need their line)."""

    __slots__ = ("buf", "bounds", "_bounds")
    all_objects = True  # made only for blocks whose every line opens a JSON object

    def __init__(self, buf: bytes, starts: np.ndarray):
        self.buf = buf
        self.bounds = np.append(starts, len(buf) + 1)  # line i is buf[bounds[i]:bounds[i+1]-1]
        self._bounds = self.bounds.tolist()

    def __len__(self) -> int:
        return len(self._bounds) - 1

    def __getitem__(self, i):
        n = len(self._bounds) - 1
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(n))]
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(i)
        return self.buf[self._bounds[i]:self._bounds[i + 1] - 1]


def iter_chunks(fh, chunk: int, read_size: int = 1 << 20,
                 block_bytes: int = BLOCK_BYTES, max_line: int | None = None,
                 unfinished: list | None = None) -> Iterator[tuple[int, Block]]:
    """Blocks of ``chunk`` lines (fewer once a block passes ``block_bytes``), read in
    large reads (per-line reads cost more than parsing) and never split into lines:
    one ``find`` per line notes where each starts, and each byte is copied once, from
    the read into its block.  Reads of 1 MiB: under the streaming commands' mmap threshold
    (``cli._streaming_memory``, 4 MiB), so each comes from the heap the last one was freed
    to; a read of 4 MiB was mapped fresh each time (~28,000 of a 100,000-record liveness
    ingest's ~165,000 page faults).

    A line longer than ``max_line`` (default ``MAX_LINE``) is not kept whole: once past the
    limit the rest of it is read and dropped, and it becomes one short line
    (:func:`over_long_line`: its length and first bytes) that is quarantined with its real
    length.  A 35 KB Zstandard file holding a 1 GiB line without a newline had ingest hold
    the whole line (3.4 GB peak).

    ``unfinished`` (a list, for a file that may still be being written): a last line with no
    newline that opens a JSON object but is not whole JSON is not yielded; its line number is
    appended instead.  Read while the writer was mid-line, it was archived and
    quarantined, and stayed in quarantine after the finished line landed on the next run."""
    if max_line is None:
        from ..flatten._common import MAX_LINE as max_line
    first = 1
    pieces, size, starts = [], 0, [0]  # the block so far, its length, where its lines start
    dropped = None  # while a line over the limit is read: (its length so far, its first bytes)
    start = True
    while True:
        data = fh.read(read_size)
        if not data:
            break
        if start:
            # a UTF-8 byte-order mark (a file saved by a Windows editor) opens the file, not its
            # first record: read with it, that record was quarantined as "not valid JSON"
            start = False
            if data.startswith(b"\xef\xbb\xbf"):
                data = data[3:]
                if not data:
                    continue
        view = memoryview(data)
        lo = pos = 0  # lo: where this read's part of the block begins
        if dropped is not None:
            nl = data.find(b"\n")
            if nl < 0:
                dropped = (dropped[0] + len(data), dropped[1])
                continue
            line = over_long_line(dropped[0] + nl, dropped[1])
            pieces.append(line)
            size += len(line)
            dropped, lo = None, nl  # the newline ends the line as any other does
        while True:
            nl = data.find(b"\n", pos)
            if nl < 0:
                break
            pos = nl + 1
            if len(starts) == chunk or size + nl - lo >= block_bytes:  # this newline ends the block
                pieces.append(view[lo:nl])
                yield from _by_values(first, Block(b"".join(pieces), np.asarray(starts, np.int64)))
                first += len(starts)
                pieces, size, starts, lo = [], 0, [0], pos
            else:
                starts.append(size + pos - lo)
        pieces.append(view[lo:])
        size += len(data) - lo
        if size - starts[-1] > max_line:  # the unfinished last line is over the limit: drop the rest
            block = b"".join(pieces)
            dropped = (size - starts[-1], block[starts[-1]:starts[-1] + _KEPT_OF_LONG])
            pieces, size = [block[:starts[-1]]], starts[-1]
    if dropped is not None:
        line = over_long_line(*dropped)
        pieces.append(line)
        size += len(line)
    data = b"".join(pieces)
    if data.endswith(b"\n"):  # the file's final newline ends its last line
        data = data[:-1]
        starts.pop()
    elif unfinished is not None and dropped is None and data and _cut_off(data[starts[-1]:]):
        unfinished.append(first + len(starts) - 1)
        data = data[:max(starts.pop() - 1, 0)]   # the newline before it goes with it
    if data:
        yield from _by_values(first, Block(data, np.asarray(starts, np.int64)))


def _cut_off(line: bytes) -> bool:
    """Whether ``line`` (a file's last, with no newline after it) is a record still being
    written: it opens a JSON object that does not parse yet.  A whole record without a final
    newline (many writers end so) is read; text that is no JSON record at all is left to be
    quarantined as any other line."""
    line = line.strip()
    if not line.startswith(b"{") or line.count(b",") > MAX_VALUES:   # too dense to parse: quarantined unread
        return False
    try:
        orjson.loads(line)
    except orjson.JSONDecodeError:
        return True
    return False


def _by_values(first: int, block: Block, budget: int = BLOCK_VALUES):
    """``block`` as it is, or cut at line ends into blocks of at most ``budget`` commas each
    (a line of more is a block of its own: past ``MAX_VALUES`` it is quarantined unparsed)."""
    buf, starts = block.buf, block.starts
    if len(buf) <= budget or _commas(buf) <= budget:  # the usual block, as it is
        yield first, block
        return
    bounds = np.append(starts, len(buf) + 1).tolist()   # line i is buf[bounds[i]:bounds[i+1]-1]
    lo, acc = 0, 0
    for i in range(len(starts)):
        n = buf.count(b",", bounds[i], bounds[i + 1] - 1)
        if acc and acc + n > budget:
            yield first + lo, Block(buf[bounds[lo]:bounds[i] - 1], starts[lo:i] - bounds[lo])
            lo, acc = i, 0
        acc += n
    yield first + lo, Block(buf[bounds[lo]:], starts[lo:] - bounds[lo])


def _commas(buf: bytes, step: int = 1 << 18) -> int:
    """``buf.count(b",")``, counted by NumPy a slice at a time into one scratch array: a sixth of
    the CPU of ``bytes.count`` (a byte at a time, ~3.6 ms of a 12 MB chunk on the reading
    thread), and no temporary as large as the block (each would be mapped fresh)."""
    a = np.frombuffer(buf, np.uint8)
    scratch = np.empty(min(step, len(a)), bool)
    n = 0
    for i in range(0, len(a), step):
        part = a[i:i + step]
        hit = scratch[:len(part)]
        np.equal(part, 44, out=hit)
        n += int(np.count_nonzero(hit))
    return n


_KEPT_OF_LONG = 1 << 16  # first bytes of an over-long line kept (in the archive and quarantine)


def over_long_line(length: int, head: bytes) -> bytes:
    """What stands for a line of ``length`` bytes that was not kept whole: no JSON (it opens
    with a NUL), its length, then its first bytes (newlines in them cannot occur)."""
    return OVER_LONG + b"%d bytes, the first %d: " % (length, len(head)) + bytes(head)


_SEGMENT_MARK = b'{"_segment"'   # the first line of a raw archive segment (faceanalytics.storage.archive)
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


class SegmentContext:
    """How to read the lines after a segment header: as :func:`rebuild` reads its segment."""

    __slots__ = ("source_hint", "origin", "received_at")

    def __init__(self, source_hint, origin, received_at):
        self.source_hint, self.origin, self.received_at = source_hint, origin, received_at


def _segment_header(line: bytes) -> SegmentContext | None:
    """The context of a raw segment's header line ``{"_segment": {...}}``; None for any other
    line (one that only looks like a header is read, and quarantined, as a record)."""
    from ..schema import SOURCES

    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    meta = obj.get("_segment") if isinstance(obj, dict) and len(obj) == 1 else None
    if not isinstance(meta, dict):
        return None
    hint, origin, received = meta.get("source_hint"), meta.get("origin"), meta.get("received_at")
    if hint is not None and hint not in SOURCES or origin is not None and not isinstance(origin, str):
        return None
    if received is not None:
        try:
            iso_to_us(received)
        except (Unreadable, TypeError, ValueError):
            return None
    return SegmentContext(hint, origin, received)


def _opens_a_line(block: Block, mark: bytes) -> bool:
    """Whether a line of ``block`` opens with ``mark``: only the lines' first bytes are read
    (``mark in block.buf`` scanned every byte, ~7 ms per 17 MB chunk on the reading thread)."""
    buf, starts = block.buf, block.starts
    a = np.frombuffer(buf, np.uint8)
    starts = starts[starts + len(mark) <= len(a)]
    # the mark's first, third and last bytes find the candidates, each then checked (with the
    # first and last only, an envelope's ``{"source":"`` was one: every line, ~2 ms a chunk)
    for k in (0, 2, len(mark) - 1):
        if not len(starts):
            return False
        starts = starts[a[starts + k] == mark[k]]
    return any(buf.startswith(mark, s) for s in starts.tolist())


def segment_chunks(blocks, chunk: int, block_bytes: int = BLOCK_BYTES):
    """:func:`iter_chunks`' blocks, with raw segments' header lines understood (a ``.jsonl.zst``
    of the archive, or ``zstd -dc`` of one or several): the lines after a header are one
    segment, read as its header says, numbered from 1 as :func:`rebuild` numbers them, and cut
    into chunks of ``chunk`` lines *after* the header, so a segment ingest wrote comes back as
    one chunk with its digest (the archive already has it: nothing new is written).
    Files without a header pass through untouched (the first bytes of each line looked at)."""
    ctx, base = None, 0            # the header in force and its line number
    seg, start, size = None, 0, 0  # lines since the last cut (None: no header seen yet)
    values = 0                     # their commas (BLOCK_VALUES)
    for first, block in blocks:
        if seg is None and not _opens_a_line(block, _SEGMENT_MARK):
            yield first, block
            continue
        for i, line in enumerate(block.buf.split(b"\n")):
            n = first + i
            head = _segment_header(line.rstrip(b"\r")) if line.startswith(_SEGMENT_MARK) else None
            if head is not None:
                if seg:
                    yield (start - base, seg, ctx) if ctx else (start, seg)
                ctx, base, seg, start, size, values = head, n, [], n + 1, 0, 0
                continue
            if seg is None:
                seg, start, size, values = [], n, 0, 0
            seg.append(line)
            size += len(line)
            values += line.count(b",")
            if len(seg) >= chunk or size >= block_bytes or values > BLOCK_VALUES:
                yield (start - base, seg, ctx) if ctx else (start, seg)
                seg, start, size, values = [], n + 1, 0, 0
    if seg:
        yield (start - base, seg, ctx) if ctx else (start, seg)


def open_input(path: Path):
    """A file to read lines from: a Zstandard file (a raw archive segment) is decompressed
    as it is read."""
    fh = open(path, "rb")
    if fh.read(4) != _ZSTD_MAGIC:
        fh.seek(0)
        return fh
    fh.close()
    return ZstdInput(path)


class ZstdInput:
    """A Zstandard file decompressed as it is read.  A damaged one (cut short, corrupt) reads
    as ending where the damage starts and notes why in ``damage``: the caller lands what
    came before and names the file (raising here lost the block read so far, and a run over
    several files stopped at the damaged one, the files after it never read)."""

    def __init__(self, path: Path, stream=None):
        """``stream``: the file already opened for decompressed reading (an archive segment on S3)."""
        self.path = path
        self.damage: str | None = None
        self._f = stream if stream is not None else pa.input_stream(str(path), compression="zstd")

    def read(self, n: int) -> bytes:
        if self.damage is not None:
            return b""
        try:
            return self._f.read(n)
        except (OSError, pa.ArrowException) as e:
            self.damage = str(e) or type(e).__name__
            return b""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._f.close()
