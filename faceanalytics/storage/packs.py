"""Media packs: the inline images of one ingest chunk kept in one uncompressed ZIP.

One file per image cost a ``mkdir`` per session and an open, write and rename per
image (and, on S3, one PUT each: ~10^8 objects a year at 100k sessions a day).  A
chunk's images go instead into one pack per (source, month)::

    media/packs/<source>/<YYYY-MM>/<digest>.zip      members <session>/<field>[_<attempt>].<ext>

``ZIP_STORED``: any unzip tool opens a pack, and a member's bytes sit at a fixed
offset, so the ``media`` table keeps ``pack``, ``path`` (the member), ``offset`` and
``n_bytes`` and one ranged read (one ranged GET on S3) returns an image.

The name is the digest of the member list (names and SHA-256 of their bytes), so the
same chunk always gives the same pack: a rerun after a crash, or ``rebuild``, finds it
already there and writes nothing.  Writers that land small chunks (the callback
receiver every few seconds, ``fetch`` every 500 answers) leave many small packs; at the
end of each run (:meth:`Store.compact <faceanalytics.storage.tables.Store.compact>`)
those of a (source, month) are merged into one and the rows re-pointed, in one commit.  A pack is written whole (hidden temporary, fsync,
rename; one PUT on S3) before the rows that point into it are committed.  Packs no
table row references (a crash before the commit, a rebuild that regrouped sessions)
are removed by :func:`remove_unreferenced` once ``rebuild`` has swapped its tables in.
"""
from __future__ import annotations

import hashlib
import io
import os
import struct
import zipfile
from pathlib import Path

from .datadir import DataDir
from .durable import atomic_file, make_private_dirs
from .errors import MediaError
from .paths import S3Path, is_local

__all__ = ["write_pack", "pack_name", "read_member", "remove_unreferenced", "compact_packs"]

_EPOCH = (1980, 1, 1, 0, 0, 0)  # every member's date: the same chunk gives the same bytes
_SPILL = 4 << 20               # bytes buffered before they go to the pack's file
COMPACT_AT = 16                # small packs in one (source, month) before they are merged
SMALL = 16 << 20               # a pack of at least this many bytes is left as it is
SMALL_MEMBERS = 100            # nor is one of this many images (a chunk of ingest or fetch: a landing of
                               # a few sessions, as the receiver makes every 2 s, has fewer)
MERGED = 64 << 20              # bytes of small packs merged into one (held in memory while merged)
MERGED_MEMBERS = 20_000        # and members (zipfile keeps an entry per member until it closes)


def pack_name(source: str, month: str, members: list[tuple[str, str, bytes]]) -> str:
    """The pack's path relative to the data directory: named by its members
    (``(name, sha256, bytes)``, sorted by name)."""
    h = hashlib.sha256()
    for name, sha, _ in members:
        h.update(f"{name}\t{sha}\n".encode("utf-8", "surrogatepass"))
    return f"{DataDir.PACKS}/{source}/{month}/{h.hexdigest()[:32]}.zip"


def write_pack(data_dir, rel: str, members: list[tuple[str, str, bytes]]) -> dict[str, int]:
    """Write ``members`` (sorted by name) as the pack ``rel`` unless it is already there;
    -> each member's data offset in the pack."""
    root = DataDir.of(data_dir).root
    path = root / rel
    offsets, data = _layout(members)
    if isinstance(path, S3Path):
        if not path.exists():
            buf = io.BytesIO()
            _write_zip(buf, members, offsets)
            path.write_bytes(buf.getvalue())   # one PUT: the object appears whole
        return offsets
    if _whole(path, members, data):  # renamed into place only once whole and on disk
        return offsets
    make_private_dirs(root, path.parent)
    with atomic_file(path, mode=0o600) as f:
        _write_zip(f, members, offsets)
    return offsets


def _whole(path, members, data_end: int) -> bool:
    """Whether the local pack ``path`` is there whole: its size is the one :func:`_write_zip`
    gives ``members`` and it ends with their central directory's end record.  A pack cut short
    or zero-filled (a copy cut short, a disk error) was taken as written, so neither ``rebuild``
    nor ingesting the records again wrote it, and its images stayed unreadable although the raw
    archive holds them: it is written again (one stat and one 22-byte read otherwise)."""
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            want = data_end + sum(46 + len(name.encode("utf-8")) for name, _, _ in members) + 22
            if size != want:
                return False
            f.seek(size - 22)
            end = f.read(22)
    except (FileNotFoundError, NotADirectoryError):
        return False
    n, cd_size, cd_at = struct.unpack("<10xHII2x", end.ljust(22, b"\0"))
    return end[:4] == b"PK\x05\x06" and n == len(members) and cd_at == data_end and cd_at + cd_size + 22 == size


def _layout(members) -> tuple[dict[str, int], int]:
    """Where each member's bytes start: after its 30-byte local header and its name
    (no extra field: members are far below ZIP64 sizes)."""
    offsets, pos = {}, 0
    for name, _, blob in members:
        pos += 30 + len(name.encode("utf-8"))
        offsets[name] = pos
        pos += len(blob)
    return offsets, pos


def _write_zip(f, members, offsets) -> None:
    spool = _Spool(f)
    with zipfile.ZipFile(spool, "w", zipfile.ZIP_STORED) as zf:
        for name, _, blob in members:
            info = zipfile.ZipInfo(name, _EPOCH)
            info.external_attr = 0o600 << 16
            zf.writestr(info, blob)
            if zf.start_dir - len(blob) != offsets[name]:  # the layout every row relies on
                raise AssertionError(f"media pack layout: {name} not at {offsets[name]}")
            spool.spill()
    spool.spill(force=True)


class _Spool:
    """A seekable front for a write-only file: :mod:`zipfile` rewrites each member's
    header after its data, which here happens in memory; whole members go to the
    file in large writes (so neither a pack in memory nor syscalls per member)."""

    def __init__(self, f):
        self.f, self.base, self.buf = f, 0, io.BytesIO()

    def write(self, b) -> int:
        return self.buf.write(b)

    def tell(self) -> int:
        return self.base + self.buf.tell()

    def seek(self, pos: int, whence: int = 0) -> int:
        if whence == 0:
            if pos < self.base:
                raise io.UnsupportedOperation("seek before spilled bytes")
            self.buf.seek(pos - self.base)
        else:
            self.buf.seek(pos, whence)
        return self.tell()

    def flush(self) -> None:
        pass

    def spill(self, force: bool = False) -> None:
        if self.buf.tell() >= _SPILL or force:
            view, done = memoryview(self.buf.getvalue()), 0
            while done < len(view):
                done += self.f.write(view[done:])
            self.base += done
            self.buf = io.BytesIO()


# --- reading -----------------------------------------------------------------------------------
def inside(data_dir, rel: str):
    """``rel`` under the data directory; a row naming a place outside it is refused."""
    parts = rel.replace("\\", "/").split("/")
    if rel.startswith(("/", "\\")) or ".." in parts or ":" in parts[0]:
        raise MediaError(f"a media row names {rel!r}, which is not inside the data directory")
    return DataDir.of(data_dir).root / rel


def read_member(data_dir, pack: str, offset: int, n_bytes: int) -> bytes:
    """``n_bytes`` at ``offset`` of the pack (one ranged read)."""
    path = inside(data_dir, pack)
    if isinstance(path, S3Path):
        with path.fs.open_input_file(path.path) as f:
            _within(pack, offset, n_bytes, f.size())
            return f.read_at(n_bytes, offset)
    with open(path, "rb") as f:
        _within(pack, offset, n_bytes, os.fstat(f.fileno()).st_size)
        return os.pread(f.fileno(), n_bytes, offset)


def _within(pack: str, offset, n_bytes, size: int) -> None:
    """A row's ``offset`` and ``n_bytes`` inside its pack of ``size`` bytes: a row of a table
    that was tampered with or built by hand (``n_bytes`` 10**12) made the read allocate that
    much first (MemoryError; 2**63: OverflowError; a negative one: EINVAL)."""
    if not (isinstance(offset, int) and isinstance(n_bytes, int) and 0 <= offset and 0 <= n_bytes
            and offset + n_bytes <= size):
        raise MediaError(f"a media row names bytes {offset!r}..+{n_bytes!r} of {pack!r}, which has {size} bytes")


# --- housekeeping -----------------------------------------------------------------------------
def remove_unreferenced(data_dir, referenced: set[str]) -> int:
    """Delete the packs not in ``referenced`` (relative paths).  Only under the writer
    lock and only once the tables that ``referenced`` was read from are the committed
    ones (``rebuild``, after its swap)."""
    ddir = DataDir.of(data_dir)
    root = ddir.packs
    removed = 0
    if isinstance(root, S3Path):
        found = list(root.rglob("*.zip"))
    else:
        found = [Path(d) / n for d, _, names in os.walk(root) for n in names if n.endswith(".zip")]
    for p in found:
        if str(p.relative_to(ddir.root)) not in referenced:
            p.unlink(missing_ok=True)
            removed += 1
    return removed


def compact_packs(store) -> int:
    """Merge the small packs (under :data:`SMALL` bytes and :data:`SMALL_MEMBERS` images)
    of each (source, month) that has :data:`COMPACT_AT` or more into one (one per
    :data:`MERGED` bytes or :data:`MERGED_MEMBERS` images), re-point the ``media`` rows
    at it (one commit per pack written), then delete the packs no row of the partition
    points into.  -> packs written.  An ingest chunk's pack is not small: a large
    ingest's packs are left as they are.

    Packs and rows share the partition (a row's pack is named by its source and month),
    so the rows of one ``media`` partition are every reference to that pack folder.  On
    a staging store (``rebuild``) nothing is deleted: the live tables still point into
    the old packs until the swap, after which :func:`remove_unreferenced` runs."""
    import pyarrow.compute as pc

    ddir = DataDir.of(store.data_dir)
    live = store.root == ddir.tables
    merged = 0
    if not ddir.packs.is_dir():
        return 0
    for src_dir in _folders(ddir.packs):
        for month_dir in _folders(src_dir):
            source, month = src_dir.name, month_dir.name
            sizes = {str(p.relative_to(ddir.root)): p.stat().st_size for p in month_dir.glob("*.zip")}
            small = {p: (n, _member_count(ddir, p, n)) for p, n in sorted(sizes.items()) if n < SMALL}
            small = {p: nm for p, nm in small.items() if nm[1] < SMALL_MEMBERS}
            if len(small) < COMPACT_AT:
                continue
            for group in _batches(small):
                merged += _merge(store, ddir, source, month, group)
            if live:
                still = set()
                for t in store.read_partition("media", source, month):
                    still.update(p for p in pc.unique(t.column("pack")).to_pylist() if p is not None)
                for p in month_dir.glob("*.zip"):
                    if str(p.relative_to(ddir.root)) not in still:
                        p.unlink(missing_ok=True)
    return merged


def _folders(path) -> list:
    """The folders in ``path``, sorted: a file there (the ``.DS_Store`` Finder leaves in every
    folder it shows, a note) failed every ingest's and rebuild's compaction with
    ``NotADirectoryError`` (on S3 a listing holds no such stray: an object is no prefix)."""
    return sorted(p for p in path.iterdir() if not is_local(p) or p.is_dir())


def _member_count(ddir, rel: str, size: int) -> int:
    """A pack's member count from its end-of-central-directory record (its last 22 bytes:
    no comment is written); one that does not end so (ZIP64, not ours) counts as many."""
    if size < 22:
        return SMALL_MEMBERS
    tail = read_member(ddir, rel, size - 22, 22)
    if tail[:4] != b"PK\x05\x06":
        return SMALL_MEMBERS
    return int.from_bytes(tail[10:12], "little")


def _batches(small: dict[str, tuple[int, int]]) -> list[set[str]]:
    """Small packs in groups of at most :data:`MERGED` bytes and :data:`MERGED_MEMBERS`
    members: a merge holds its group's bytes and one entry per member in memory, and a
    month of a busy receiver's packs does not fit."""
    out, cur, size, count = [], set(), 0, 0
    for p, (n, m) in small.items():
        if cur and (size + n > MERGED or count + m > MERGED_MEMBERS):
            out.append(cur)
            cur, size, count = set(), 0, 0
        cur.add(p)
        size, count = size + n, count + m
    if len(cur) > 1:
        out.append(cur)
    return out


def _merge(store, ddir, source: str, month: str, small: set[str]) -> int:
    """One group of small packs of a (source, month) as one pack, its rows re-pointed
    (one commit); -> 1 if merged, 0 if left (a damaged member: left for ``rebuild``)."""
    import pyarrow as pa

    import pyarrow.compute as pc

    members: dict[str, tuple[str, bytes]] = {}
    wanted = pa.array(sorted(small), pa.string())
    for t in store.read_partition("media", source, month):
        t = t.filter(pc.fill_null(pc.is_in(t.column("pack"), value_set=wanted), False))
        for r in t.select(["pack", "path", "sha256", "offset", "n_bytes"]).to_pylist():
            try:
                blob = read_member(ddir, r["pack"], r["offset"], r["n_bytes"])
            except MediaError:          # a pack cut short: left for rebuild, as a changed byte is
                return 0
            if hashlib.sha256(blob).hexdigest() != r["sha256"]:
                return 0
            members[r["path"]] = (r["sha256"], blob)
    if not members:
        return 0
    ordered = [(name, *members[name]) for name in sorted(members)]
    rel = pack_name(source, month, ordered)
    offsets = write_pack(ddir, rel, ordered)

    def change(t: pa.Table) -> pa.Table | None:
        packs = t.column("pack").to_pylist()
        if not any(p in small for p in packs):
            return None
        paths, offs = t.column("path").to_pylist(), t.column("offset").to_pylist()
        for i, p in enumerate(packs):
            if p in small:
                packs[i], offs[i] = rel, offsets[paths[i]]
        t = t.set_column(t.schema.get_field_index("pack"), "pack", pa.array(packs, pa.string()))
        return t.set_column(t.schema.get_field_index("offset"), "offset", pa.array(offs, pa.int64()))

    store.rewrite_partition("media", source, month, change)
    return 1
