"""The review's counts of a whole partition, kept beside the tables: counted once, read back after.

A review of half a year against the half before scans every row of the year, and the next
day's review scans the same rows again, save those of the latest partition.  The counts of
a (source, month) partition whose every row lies inside the period it is counted for do
not depend on the period's bounds: only on the partition's files, the calendar the days
are numbered on, the segments, and the code that counts.  Such counts are kept in

    DATA/summaries/review/source=<source>/month=<YYYY-MM>/<role>-<digest>.arrows

where the digest names all of that (each file by path, size, modification time and inode; the
counting modules by their text).  Any change -- an ingest or a receiver landing rows in
the partition, a compaction, a rebuild, other segments, another version of this package --
gives another name, so the partition is counted again, and the entry it replaces is
removed.  Partitions cut by the period's bounds are always counted afresh.  A Baidu
``detail`` partition's rows that repeat ``getall``'s of the window are left out, so its key
also names those rows (their number and the sum of their tokens' hashes,
``_review._Listed``): a landing in getall recounts only the detail partitions it touches.

Kept only for a local data directory read by DuckDB.  An entry that cannot be read (cut
short, written by another version) is counted again; one that cannot be written (a
read-only directory) is not an error: the review goes on without it.  The folder is
derived data: deleting it costs one slower review.

An entry is one file: an 8-byte length, a JSON index (frame name, segment number, offset,
length), then each frame as an Arrow IPC file (pandas dtypes kept in its metadata).
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import logging
import struct
from pathlib import Path

import orjson
import pandas as pd
import pyarrow as pa

from ..storage.durable import atomic_write_bytes, make_private_dirs

log = logging.getLogger(__name__)

__all__ = ["Kept"]

_SUFFIX = ".arrows"
_VARIANTS = 8                 # entries of one partition and role from the same files (segments, calendars)
_MAX_ENTRY = 256 << 20        # an entry bigger than this is not read (a partition's counts: well under 10 MB)


_COUNTING = ("_review.py", "_placed.py", "_sql.py", "_base.py", "_kept.py", "../schema.py",   # beside this file
             "../analytics/_core.py")    # (the sources placed at getall's time, and detail's repeats)


@functools.cache
def _code() -> str:
    """The counting code's text and the libraries' versions: a change to either is another digest."""
    import duckdb

    h = hashlib.sha256()
    for name in _COUNTING:
        h.update((Path(__file__).parent / name).read_bytes())
    for v in (duckdb.__version__, pa.__version__, pd.__version__):
        h.update(v.encode())
    return h.hexdigest()


class Kept:
    """Counts of whole partitions read back from, and written to, ``root`` (None: kept nowhere).

    ``files``: table -> partition -> the paths of its data files; ``info``: path -> (size,
    modification time in ns, inode -- a file replaced in the same tick of the clock with as
    many bytes is still another inode -- then the first and last ``session_time`` in µs,
    None when the file's footer does not say)."""

    def __init__(self, root: Path | None, files, info, tz) -> None:
        self.root, self.files, self.info, self.tz = root, files, info, str(tz)

    def whole(self, parts, tables, lo_us: int | None, hi_us: int | None) -> bool:
        """Whether every row of ``parts`` in ``tables`` lies in ``[lo_us, hi_us)`` (by the files' footers)."""
        if self.root is None:
            return False
        for t in tables:
            for p in parts:
                for f in self.files.get(t, {}).get(p, []):
                    *_, a, b = self.info[f]
                    if a is None or b is None or (lo_us is not None and a < lo_us) or \
                            (hi_us is not None and b >= hi_us):
                        return False
        return True

    def _entry(self, role: str, parts, tables, extra) -> Path:
        """``<role>-<what was counted>-<how>``, in the first partition's folder: the files (with
        the code), then the calendar and ``extra``."""
        files = {t: {"/".join(p): [[f, *self.info[f][:3]] for f in self.files.get(t, {}).get(p, [])] for p in parts}
                 for t in tables}
        what = _digest({"code": _code(), "parts": [list(p) for p in parts], "files": files})
        how = _digest({"tz": self.tz, "extra": extra})
        first = parts[0]
        return self.root / f"source={first[0]}" / f"month={first[1]}" / f"{role}-{what}-{how}{_SUFFIX}"

    def get(self, role: str, parts, tables, extra, names) -> dict[str, list] | None:
        """The counts kept for ``parts`` (None: none, or not under ``names`` alone)."""
        got = _read(self._entry(role, parts, tables, extra))
        return got if got is not None and set(got) <= set(names) else None

    def put(self, role: str, parts, tables, extra, got: dict[str, list]) -> None:
        """Keep ``got``, the counts of whole ``parts`` (:meth:`whole`)."""
        self._write(self._entry(role, parts, tables, extra), role, got)

    def through(self, role: str, parts, tables, extra, count, frames: dict[str, list]) -> None:
        """Add the counts of ``parts`` to ``frames``: read back when kept, else ``count(into)``
        (``into``: empty lists under the names of ``frames``) and kept.  Call only for whole
        partitions (:meth:`whole`)."""
        got = self.get(role, parts, tables, extra, frames)
        if got is None:
            got = {k: [] for k in frames}
            count(got)
            self.put(role, parts, tables, extra, got)
        for k, v in got.items():
            frames[k] += v

    def _write(self, path: Path, role: str, got: dict[str, list]) -> None:
        try:
            data = _pack(got)
            make_private_dirs(self.root.parent.parent, path.parent)      # owner-only, as the tables
            atomic_write_bytes(path, data, mode=0o600, durable=False)
            _prune(path, role)
        except (OSError, pa.ArrowException, TypeError, ValueError) as e:
            log.debug("review counts of %s not kept: %s", path.parent, e)


def _digest(obj) -> str:
    return hashlib.sha256(orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)).hexdigest()[:24]


def _prune(path: Path, role: str) -> None:
    """Entries of ``role`` counted from other files (stale) go; of the same files, the
    ``_VARIANTS`` newest (other calendars or segments) stay."""
    what = path.name[len(role) + 1:].split("-", 1)[0]
    same = []
    for old in path.parent.glob(f"{role}-*{_SUFFIX}"):
        if old.name[len(role) + 1:].split("-", 1)[0] != what:
            old.unlink(missing_ok=True)
        elif old != path:
            same.append(old)
    with contextlib.suppress(OSError):
        same.sort(key=lambda f: f.stat().st_mtime_ns, reverse=True)
        for old in same[_VARIANTS - 1:]:
            old.unlink(missing_ok=True)


def _pack(got: dict[str, list]) -> bytes:
    index, blobs, at = [], [], 0
    for name, items in got.items():
        for item in items:
            seg, frame = item if isinstance(item, tuple) else (None, item)
            # one thread: a few thousand rows a frame, where handing the columns to a pool
            # cost more than converting them (as when read back, :func:`_read`)
            t = pa.Table.from_pandas(frame, preserve_index=False, nthreads=1)
            sink = io.BytesIO()
            with pa.ipc.new_file(sink, t.schema) as w:
                w.write_table(t)
            blob = sink.getvalue()
            index.append([name, seg, at, len(blob)])
            blobs.append(blob)
            at += len(blob)
        if not items:
            index.append([name, None, -1, 0])
    head = orjson.dumps(index)
    return struct.pack("<Q", len(head)) + head + b"".join(blobs)


def _read(path: Path) -> dict[str, list] | None:
    """An entry's frames (None: there is none, or it cannot be read whole)."""
    try:
        if path.stat().st_size > _MAX_ENTRY:
            return None
        data = path.read_bytes()
        (n,) = struct.unpack_from("<Q", data)
        index = orjson.loads(data[8:8 + n])
        body = memoryview(data)[8 + n:]
        out: dict[str, list] = {}
        for name, seg, at, size in index:
            items = out.setdefault(str(name), [])
            if at < 0:
                continue
            if at + size > len(body):
                return None
            # one thread: a frame is a few thousand rows, and a review reads back some 750 of
            # them, where handing each column to Arrow's pool cost more than converting it
            frame = pa.ipc.open_file(pa.py_buffer(body[at:at + size])).read_all().to_pandas(use_threads=False)
            items.append(frame if seg is None else (int(seg), frame))
        return out
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError, struct.error, pa.ArrowException, orjson.JSONDecodeError) as e:
        log.debug("review counts kept in %s not read (counted again): %s", path, e)
        return None
