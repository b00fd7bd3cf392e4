"""The Parquet store: hive-partitioned tables, atomic commits, one row set per session.

``DATA/tables/<table>/source=<source>/month=<YYYY-MM>/part-<txn>-<n>.parquet``

A commit writes every new file under a hidden temporary name (readers skip names
starting with ``.``), then records the renames it is about to do in
``state/txn-tables/<txn>.json`` (the commit point), then does them and deletes the
record.  A crash before the record leaves the previous state (temporaries are swept
on the next open); a crash after it is rolled forward on the next open (by the next
writer to open the store).  Readers never see a half-written file.  Table files are
not fsync'd one by one: the tables are derived data, and the raw archive they are
rebuilt from (``rebuild``) is.

No file name a reader may have listed ever goes away (local disk).  A plain reader
(``pandas.read_parquet("DATA/tables/x")``) lists the folder, then opens what it
listed; a file deleted in between fails its read.  So a file whose rows are
superseded or merged elsewhere is not deleted: an empty file of the table's schema
(zero rows) is renamed over it, atomically, and a later commit to that partition
refills the name before it makes a new one (names per partition stay bounded).  A
file a commit rewrites (its other rows kept) is renamed over in place the same way.
A reader opening a listed name gets either its old content or its new content,
never an error.  The one exception is ``empty.parquet``, the placeholder of a table
with no rows yet (:meth:`Store._sync_empty_files`): it is deleted by the commit
that gives the table its first rows.  Folders are never removed or renamed (``rebuild``
moves its files in with one committed transaction too, :meth:`Store.adopt`).
Tables and their folders are owner-only (0600 / 0700), like the raw archive.

The same protocol runs on S3 (``DATA`` = ``s3://bucket/prefix``; see
:mod:`faceanalytics.storage.durable`), where there is no rename: a temporary and the record
are single PUTs (each object appears whole or not at all), and "rename" is a
server-side copy to the final name followed by a delete of the temporary; files
that go are deleted there (S3 readers retry a vanished key: :func:`load_arrow`).
Final names are only ever written after the record exists, so a crash at any point
leaves either the previous state (no record: the temporaries are swept) or a record
that the next open completes (a copy is redone while its temporary still exists;
deletions of what is already gone are skipped).  Before writing a record the writer
checks that it still holds the S3 writer lock (:func:`faceanalytics.storage.lock.fence`).

What a reader can observe.  Readers take no lock.  While a record is being applied
a reader listing a partition can see the commit partly applied: some of its files
and not yet others, and, because files with new rows are renamed in before the old
ones are emptied, a superseded row next to its replacement for that moment.  It never
sees a torn file, nor a row missing that was there before the commit.

Each ``(source, session_id)`` has at most one fetch in the tables.  An incoming
record replaces the stored one only if it ranks higher: a result beats an API
error (a 4th call's DATA_DESTROYED never wipes a result), then the later
``fetched_at`` wins.  Equal rank means the same fetch again: nothing is written.
"""
from __future__ import annotations

import errno
import functools
import hashlib
import os
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .._time import utc_datetime
from .datadir import DataDir
from .durable import atomic_write_bytes, chmod, fsync_dir, make_private_dirs
from .errors import DamagedTable
from .durable import replace as _move
from .lock import fence
from .paths import fs_path, is_local, names_a_folder
from ..schema import PARTITION_KEYS, SESSION_KEY, TABLES, file_schema, full_schema

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Store", "SessionIndex", "key_of", "load", "load_arrow", "partitioning", "require_data_dir", "nullable_dtype",
           "session_keys"]

# Column statistics cost a fifth of the write time; readers only filter on these (and the
# review reads session_key's null count: a file whose keys are all there is joined on them).
_WRITE = {"compression": "zstd", "write_statistics": ["session_id", "fetched_at", "session_time", SESSION_KEY]}
COMPACT_AT = 24  # files in one partition before they are merged
# Only files under this size are merged: a partition fed all month (a receiver landing every
# few seconds) is compacted again and again, and merging into one file would rewrite the
# month each time.  Merged files grow to about this size and are then left alone.
COMPACT_SMALL = 16 << 20
_FILE_MODE, _DIR_MODE = 0o600, 0o700  # owner-only, like the raw archive


def partitioning():
    import pyarrow.dataset as ds  # imports pandas: only when a table is read

    return ds.partitioning(pa.schema([("source", pa.string()), ("month", pa.string())]),
                           flavor="hive")


def key_of(source: str, ident) -> int:
    """A 64-bit key for (source, session id), valid within this process.

    The index is rebuilt from the tables whenever a store is opened, so the key need
    not be stable across processes: Python's own (SipHash) hash is enough, and ~20x
    cheaper than a cryptographic one on the ingest hot path.
    """
    return hash((source, ident))


def session_keys(ids) -> pa.Array:
    """The ``session_key`` of each session id: the first 8 bytes of the MD5 digest of the
    UTF-8 id, read as a little-endian signed 64-bit integer (null for a null id).

    Written beside every row (:data:`faceanalytics.schema.SESSION_KEY`) so engines join and
    count sessions on 8 bytes instead of hashing 32-48 character ids.  Unlike :func:`key_of`
    it is the same in every process and version (DuckDB: ``md5_number_upper(id)`` as a
    signed integer).  Each distinct id is hashed once.
    """
    ids = pa.chunked_array([ids]) if isinstance(ids, pa.Array) else ids
    ids = ids.cast(pa.string()).combine_chunks()
    enc = pc.dictionary_encode(ids)
    digests = b"".join([hashlib.md5(v.encode("utf-8")).digest()[:8] for v in enc.dictionary.to_pylist()])
    uniq = pa.array(np.frombuffer(digests, "<i8") if digests else np.zeros(0, np.int64))
    return pc.take(uniq, enc.indices)


def _keyed(t: pa.Table) -> pa.Table:
    """``t`` with its ``session_key`` column last and filled (rows of files written before the
    column existed, new rows); already complete: as it is."""
    if "session_id" not in t.column_names:
        return t
    if SESSION_KEY in t.column_names:
        k = t.column(SESSION_KEY)
        if k.null_count == t.column("session_id").null_count and t.column_names[-1] == SESSION_KEY:
            return t
        t = t.drop_columns([SESSION_KEY])
    return t.append_column(SESSION_KEY, session_keys(t.column("session_id")))


def _with_keys(tables: dict[str, pa.Table]) -> dict[str, pa.Table]:
    """:func:`_keyed` for every table of a commit, each distinct id hashed once across them
    (a session's id is in its sessions row, its comparisons, its checks...)."""
    todo = {n: t for n, t in tables.items() if t is not None and t.num_rows and "session_id" in t.column_names
            and SESSION_KEY not in t.column_names}
    if not todo:
        return tables
    keys = session_keys(pa.chunked_array([c for t in todo.values() for c in t.column("session_id").cast(
        pa.string()).chunks], pa.string()))
    out, at = dict(tables), 0
    for n, t in todo.items():
        out[n] = t.append_column(SESSION_KEY, keys.slice(at, t.num_rows))
        at += t.num_rows
    return out


class SessionIndex:
    """Which (source, session id) keys the tables hold — keys only, 8 bytes each.

    Derived from the ``sessions`` and ``quarantine`` tables on open and kept as
    sorted NumPy blocks of at most ``2 * block`` keys: adding a chunk's keys rewrites
    only the blocks they fall in, never a second copy of the whole index.
    What a stored session ranks (result or error, when fetched, which month
    partition) is read from the tables only for the keys an incoming chunk hits
    (:meth:`Store.stored_sessions`), so memory stays near-flat as the store grows.
    """

    def __init__(self, block: int = 1 << 16):
        self.block = block
        self._blocks: list[np.ndarray] = []  # sorted; every key of one < every key of the next
        self._firsts = np.empty(0, np.int64)  # the first key of each block

    def __len__(self):
        return sum(len(b) for b in self._blocks)

    def _where(self, keys: np.ndarray) -> np.ndarray:
        """The block each key would belong to (the first block for keys below all)."""
        return np.maximum(np.searchsorted(self._firsts, keys, side="right") - 1, 0)

    def lookup(self, keys: np.ndarray) -> np.ndarray:
        """-> a mask of the ``keys`` already held."""
        keys = np.asarray(keys, np.int64)
        found = np.zeros(len(keys), bool)
        if not self._blocks or not len(keys):
            return found
        where = self._where(keys)
        for b in np.unique(where):
            sel = np.flatnonzero(where == b)
            blk = self._blocks[b]
            pos = np.minimum(np.searchsorted(blk, keys[sel]), len(blk) - 1)
            found[sel] = blk[pos] == keys[sel]
        return found

    def add(self, keys) -> None:
        keys = np.unique(np.asarray(keys, np.int64))
        new = keys[~self.lookup(keys)]
        if not len(new):
            return
        if not self._blocks:
            self._blocks = [new[i:i + self.block] for i in range(0, len(new), self.block)]
        else:
            where = self._where(new)
            blocks = []
            for b, blk in enumerate(self._blocks):
                lo, hi = np.searchsorted(where, [b, b + 1])
                if lo < hi:
                    part = new[lo:hi]
                    blk = np.insert(blk, np.searchsorted(blk, part), part)
                    if len(blk) > 2 * self.block:
                        blocks += [blk[i:i + self.block] for i in range(0, len(blk), self.block)]
                        continue
                blocks.append(blk)
            self._blocks = blocks
        self._firsts = np.array([b[0] for b in self._blocks], np.int64)


def _month_int(m: str) -> int:
    return int(m[:4]) * 100 + int(m[5:7])


class Store:
    """The tables of one data directory.  Every table written passes ``scrub`` first
    (the pipeline's :func:`~faceanalytics.pipeline.pii.scrub_table`, which masks personal
    data; ``None`` writes rows as they are, for ``keep_pii``): a required argument, so
    nobody writes tables without deciding."""

    def __init__(self, data_dir, *, scrub, tables_dir: str = DataDir.TABLES):
        ddir = DataDir.of(data_dir)
        self.data_dir = ddir.root
        self.scrub = scrub
        self.root = ddir.tables_at(tables_dir)
        self.txn_dir = ddir.txn(tables_dir)
        self._local = ddir.local
        self._index: SessionIndex | None = None
        self._settled: set[str] = set()  # tables whose empty.parquet is known to be right
        if self._local and self.root.is_dir():
            chmod(self.root, _DIR_MODE)  # folders made before tables were owner-only
        self.recover()

    # --- crash recovery ----------------------------------------------------
    def recover(self) -> None:
        """Roll committed transactions forward; sweep temporaries of uncommitted ones."""
        markers = sorted(self.txn_dir.glob("*.json"))
        for t in markers:
            try:
                plan = orjson.loads(t.read_bytes())
            except orjson.JSONDecodeError:  # torn before its atomic rename: never committed
                t.unlink()
                continue
            self._apply(plan)
            t.unlink()
        if markers:
            fsync_dir(self.txn_dir)
        for tmp in self.root.glob("*/*/*/.tmp-*"):
            tmp.unlink(missing_ok=True)

    def _apply(self, plan: dict) -> None:
        # "src": where the temporaries are, relative to the data directory (rebuild's
        # swap moves files from tables.rebuild/); by default this store's root.
        src = self.data_dir / plan["src"] if plan.get("src") else self.root
        for tmp, final in plan.get("adds", []):
            _move(src / tmp, self.root / final)  # a temporary already moved is skipped
        for old in plan.get("removes", []):  # S3 only (and records of older versions)
            (self.root / old).unlink(missing_ok=True)

    def _commit_plan(self, txn: str, plan: dict) -> None:
        """Write the record (the commit point), apply it, delete it."""
        self.txn_dir.mkdir(parents=True, exist_ok=True)
        marker = self.txn_dir / f"{txn}.json"
        fence(self.data_dir)  # S3: still the one writer?  (no-op locally)
        atomic_write_bytes(marker, orjson.dumps(plan))  # the commit point
        self._apply(plan)
        marker.unlink()

    def is_emptied(self, path, table: str) -> bool:
        """Is ``path`` a name whose rows were all moved out (a zero-row file left so a
        reader that listed it can still open it)?  Such a name is refilled first."""
        if not self._local:
            return False
        empty = _empty_bytes(table)
        try:
            if os.stat(path).st_size != len(empty):
                return False
            return Path(path).read_bytes() == empty
        except FileNotFoundError:
            return False

    def _live_files(self, table: str, partition) -> list:
        return [f for f in sorted(partition.glob("part-*.parquet")) if not self.is_emptied(f, table)]

    # --- index ---------------------------------------------------------------
    @property
    def index(self) -> SessionIndex:
        if self._index is None:
            self._index = self._build_index()
        return self._index

    def _build_index(self) -> SessionIndex:
        # File by file (no pyarrow.dataset: it imports pandas, a fifth of a second).
        keys = []
        for table, id_col in (("sessions", "session_id"), ("quarantine", "raw_sha1")):
            for f in sorted((self.root / table).glob("source=*/month=*/part-*.parquet")):
                fs, path = fs_path(f)
                try:
                    with fs.open_input_file(path) as fh:
                        ids = pq.ParquetFile(fh).read(columns=[id_col]).column(id_col).to_pylist()
                except pa.ArrowInvalid as e:  # files are written whole and renamed: damaged
                    raise DamagedTable.of(e, f) from None
                src = "quarantine" if table == "quarantine" else f.parent.parent.name.split("=", 1)[1]
                keys.append(np.fromiter((key_of(src, i) for i in ids), np.int64, len(ids)))
        idx = SessionIndex()
        if keys:
            idx.add(np.concatenate(keys))
        return idx

    def stored_sessions(self, source: str, session_ids) -> dict[str, tuple[bool, int, int]]:
        """session id -> (has a result, fetched_at µs, month as YYYYMM) for the stored rows."""
        import pyarrow.dataset as ds

        path = self.root / "sessions"
        ids = sorted(set(session_ids))
        if not ids or not path.is_dir():
            return {}
        fs, p = fs_path(path)
        try:
            t = ds.dataset(p, filesystem=fs, format="parquet", partitioning=partitioning(),
                           schema=full_schema("sessions")).to_table(
                columns=["session_id", "fetched_at", "error", "month"],
                filter=(ds.field("source") == source)
                & ds.field("session_id").isin(pa.array(ids, pa.string())))
        except pa.ArrowInvalid as e:
            raise DamagedTable.of(e) from None
        fetched = pc.cast(t.column("fetched_at"), pa.int64()).to_pylist()
        return {sid: (err is None, f, _month_int(m)) for sid, f, err, m in zip(
            t.column("session_id").to_pylist(), fetched, t.column("error").to_pylist(),
            t.column("month").to_pylist())}

    # --- writing ---------------------------------------------------------------
    def commit(self, tables: dict[str, pa.Table], replace: dict[tuple[str, str], set[str]],
               index_update=None) -> None:
        """Write new rows and drop replaced sessions, atomically.

        ``tables``: table -> Arrow table with ``source`` and ``month`` columns plus the
        file schema.  ``replace``: (source, month) -> session ids whose stored rows the
        new ones supersede.
        """
        plan = _Plan(self, f"{time.time_ns():x}-{uuid.uuid4().hex[:8]}")
        tables = _with_keys(tables)
        if replace:
            for table in TABLES:
                for (source, month), ids in replace.items():
                    rel = f"{table}/source={source}/month={month}"
                    drop = pa.array(sorted(ids), pa.string())
                    for f in self._live_files(table, self.root / rel):
                        old = _read_parquet(f, file_schema(table))
                        mask = pc.is_in(old.column("session_id"), value_set=drop)
                        if not pc.any(mask).as_py():
                            continue
                        keep = old.filter(pc.invert(mask))
                        if keep.num_rows:
                            plan.rewrite(f"{rel}/{f.name}", keep)  # same name, the other rows
                        else:
                            plan.empty(table, f"{rel}/{f.name}")
        for table, t in tables.items():
            if t is None or not t.num_rows:
                continue
            for (source, month), part in _split(t):
                plan.write(table, f"{table}/source={source}/month={month}", part)
        if plan.is_empty():
            return
        self._commit_plan(plan.txn, plan.record())
        self._sync_empty_files(plan.touched(), plan.filled())
        if index_update is not None:
            self.index.add(index_update)

    def replace_table(self, table: str, t: pa.Table) -> None:
        """Make ``t`` (with ``source`` and ``month`` columns) the whole of ``table``,
        atomically (for small tables derived from a manifest, such as media_files)."""
        old = [f for d in sorted((self.root / table).glob("source=*/month=*"))
               for f in self._live_files(table, d)]
        plan = _Plan(self, f"{time.time_ns():x}-{uuid.uuid4().hex[:8]}")
        for (source, month), part in (_split(t) if t.num_rows else ()):
            plan.write(table, f"{table}/source={source}/month={month}", part)
        for f in old:
            plan.empty(table, str(f.relative_to(self.root)))
        self._commit_plan(plan.txn, plan.record())
        self._sync_empty_files({table}, plan.filled())

    def adopt(self, staging: "Store") -> None:
        """Make the tables of ``staging`` (another root under the same data directory)
        the whole of this store, as one transaction: used by ``rebuild`` (folders are
        never renamed: a reader may be listing them).  Readers can see old and new
        files side by side until it is applied; a crash is rolled forward like any
        commit."""
        plan = _Plan(self, f"{time.time_ns():x}-{uuid.uuid4().hex[:8]}", src=staging)
        for p in sorted(staging.root.glob("*/source=*/month=*/part-*.parquet")):
            rel = str(p.relative_to(staging.root))
            table = rel.split("/", 1)[0]
            if not staging.is_emptied(p, table):
                plan.move_in(table, rel)
        for p in sorted(self.root.glob("*/source=*/month=*/part-*.parquet")):
            rel = str(p.relative_to(self.root))
            if not self.is_emptied(p, rel.split("/", 1)[0]):
                plan.empty(rel.split("/", 1)[0], rel)
        self._commit_plan(plan.txn, plan.record())
        self._settled.clear()
        self._sync_empty_files(set(TABLES), plan.filled())
        self._index = None

    def _sync_empty_files(self, touched=(), added=()) -> None:
        """A table with no rows holds ``empty.parquet`` (its full schema, zero rows) so
        ``pandas.read_parquet`` still gives its columns; it goes once rows arrive (a
        partition key stored in a file would clash with the same key in the path).

        ``added``: tables this commit wrote files to (they have rows: no need to look)."""
        for table in TABLES:
            if table not in touched and table in self._settled:
                continue  # one writer: an untouched table cannot have changed
            d = self.root / table
            empty = d / "empty.parquet"
            if table not in touched and (empty.exists() or d.is_dir()):
                self._settled.add(table)
                continue
            has_rows = table in added or next(iter(d.glob("source=*/month=*/part-*.parquet")),
                                              None) is not None
            if has_rows and empty.exists():
                empty.unlink()
            elif not has_rows and not empty.exists():
                self._mkdirs(table)
                buf = pa.BufferOutputStream()
                pq.write_table(pa.Table.from_batches([], schema=full_schema(table)), buf)
                atomic_write_bytes(empty, buf.getvalue().to_pybytes(), mode=_FILE_MODE,
                                       durable=False)
            self._settled.add(table)

    def compact(self, min_files: int | None = None) -> int:
        """Merge partitions holding many small files (fetch commits per chunk, receiver
        landings): the rows of the files under ``COMPACT_SMALL`` go into the first one's
        name, the other names are emptied in place (and refilled by later commits)."""
        merged = 0
        min_files = COMPACT_AT if min_files is None else min_files
        if not self.root.is_dir():
            return 0
        for table in TABLES:
            for d in sorted((self.root / table).glob("source=*/month=*")):
                files = [f for f in self._live_files(table, d) if _size(f) < COMPACT_SMALL]
                if len(files) < min_files:
                    continue
                plan = _Plan(self, f"{time.time_ns():x}-{uuid.uuid4().hex[:8]}")
                rel = str(d.relative_to(self.root))
                # One input file in memory at a time: each becomes a row group of the output.
                plan.rewrite_with(f"{rel}/{files[0].name}", table,
                                  (_read_parquet(f, file_schema(table)) for f in files))
                for f in files[1:]:
                    plan.empty(table, f"{rel}/{f.name}")
                self._commit_plan(plan.txn, plan.record())
                merged += 1
        from .packs import compact_packs

        return merged + compact_packs(self)

    def read_partition(self, table: str, source: str, month: str) -> list[pa.Table]:
        """The live files of one partition, each as a table (file schema)."""
        partition = self.root / table / f"source={source}" / f"month={month}"
        return [_read_parquet(f, file_schema(table)) for f in self._live_files(table, partition)]

    def rewrite_partition(self, table: str, source: str, month: str, change) -> bool:
        """Pass every file of one partition through ``change`` (a table -> the same rows
        changed, or None to leave the file) and commit the new files as one transaction."""
        rel = f"{table}/source={source}/month={month}"
        plan = _Plan(self, f"{time.time_ns():x}-{uuid.uuid4().hex[:8]}")
        for f in self._live_files(table, self.root / rel):
            new = change(_read_parquet(f, file_schema(table)))
            if new is not None:
                plan.rewrite(f"{rel}/{f.name}", new)
        if plan.is_empty():
            return False
        self._commit_plan(plan.txn, plan.record())
        return True

    def _mkdirs(self, rel_dir: str) -> None:
        if self._local:
            make_private_dirs(self.data_dir, self.root / rel_dir)
        else:
            (self.root / rel_dir).mkdir(parents=True, exist_ok=True)


class _Plan:
    """The renames of one commit, in the order they are applied: files with new rows
    first (into emptied names of their partition where there are some, else new
    names), then files rewritten in place, then names emptied (a zero-row file renamed
    over them; on S3 they are deleted instead)."""

    def __init__(self, store: Store, txn: str, src: Store | None = None):
        self.store, self.txn, self.src = store, txn, src or store
        self.n = 0      # temporaries made
        self.names = 0  # new final names made
        self.adds: list[tuple[str, str]] = []
        self.rewrites: list[tuple[str, str]] = []
        self.empties: list[tuple[str, str]] = []
        self.removes: list[str] = []
        self._free: dict[str, list[str]] = {}

    def _tmp(self, rel_dir: str) -> str:
        self.n += 1
        return f"{rel_dir}/.tmp-{self.txn}-{self.n:04d}.parquet"

    def _new_name(self, table: str, rel_dir: str) -> str:
        """An emptied name of the partition if there is one (local disk), else a new one."""
        if rel_dir not in self._free:
            self._free[rel_dir] = [] if not self.store._local else [
                f"{rel_dir}/{f.name}" for f in sorted((self.store.root / rel_dir).glob("part-*.parquet"))
                if self.store.is_emptied(f, table)]
        free = self._free[rel_dir]
        if free:
            return free.pop(0)
        self.names += 1
        return f"{rel_dir}/part-{self.txn}-{self.names:04d}.parquet"

    def _written(self, rel_dir: str, t: pa.Table) -> str:
        self.src._mkdirs(rel_dir)
        tmp = self._tmp(rel_dir)
        _write_parquet(t, self.src.root / tmp)
        if self.store._local:
            os.chmod(self.src.root / tmp, _FILE_MODE)
        return tmp

    def write(self, table: str, rel_dir: str, t: pa.Table) -> None:
        """New rows for a partition (every new row of every table passes here: the
        choke point where personal data is masked)."""
        tmp = self._written(rel_dir, t if self.store.scrub is None else self.store.scrub(t))
        self.adds.append((tmp, self._new_name(table, rel_dir)))

    def move_in(self, table: str, rel: str) -> None:
        """A finished file of the staging store (``adopt``)."""
        rel_dir = rel.rsplit("/", 1)[0]
        self.store._mkdirs(rel_dir)
        self.adds.append((rel, self._new_name(table, rel_dir)))

    def rewrite(self, rel: str, t: pa.Table) -> None:
        """New contents for an existing file, under its own name."""
        self.rewrites.append((self._written(rel.rsplit("/", 1)[0], t), rel))

    def rewrite_with(self, rel: str, table: str, tables) -> None:
        """:meth:`rewrite` from a stream of tables (one in memory at a time)."""
        rel_dir = rel.rsplit("/", 1)[0]
        self.src._mkdirs(rel_dir)
        tmp = self._tmp(rel_dir)
        fs, p = fs_path(self.src.root / tmp)
        with pq.ParquetWriter(p, file_schema(table), filesystem=fs, **_WRITE) as w:
            for t in tables:
                w.write_table(_keyed(t))
        if self.store._local:
            os.chmod(self.src.root / tmp, _FILE_MODE)
        self.rewrites.append((tmp, rel))

    def empty(self, table: str, rel: str) -> None:
        """A file all of whose rows go: emptied in place (deleted on S3)."""
        if not self.store._local:
            self.removes.append(rel)
            return
        tmp = self._tmp(rel.rsplit("/", 1)[0])
        self.src._mkdirs(rel.rsplit("/", 1)[0])
        fd = os.open(self.src.root / tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _FILE_MODE)
        with os.fdopen(fd, "wb") as f:
            f.write(_empty_bytes(table))
        self.empties.append((tmp, rel))

    def is_empty(self) -> bool:
        return not (self.adds or self.rewrites or self.empties or self.removes)

    def record(self) -> dict:
        moves = self.adds + self.rewrites + self.empties
        if len({final for _, final in moves}) != len(moves):  # two files onto one name: a bug
            raise AssertionError("a commit plan names one file twice")
        plan = {"adds": moves, "removes": self.removes}
        if self.src is not self.store:
            plan["src"] = str(self.src.root.relative_to(self.store.data_dir))
        return plan

    def filled(self) -> set[str]:
        """Tables this commit gives rows."""
        return {final.split("/", 1)[0] for _, final in self.adds + self.rewrites}

    def touched(self) -> set[str]:
        return self.filled() | {r.split("/", 1)[0] for _, r in self.empties} | {
            r.split("/", 1)[0] for r in self.removes}


@functools.lru_cache(maxsize=None)
def _empty_bytes(table: str) -> bytes:
    """The zero-row file of ``table`` (file schema) that is renamed over a name whose
    rows all went elsewhere."""
    buf = pa.BufferOutputStream()
    pq.write_table(pa.Table.from_batches([], schema=file_schema(table)), buf, **_WRITE)
    return buf.getvalue().to_pybytes()


def _write_parquet(table: pa.Table, path) -> None:
    fs, p = fs_path(path)
    pq.write_table(_keyed(table), p, filesystem=fs, **_WRITE)


def _size(path) -> int:
    fs, p = fs_path(path)
    return fs.get_file_info(p).size


def _read_parquet(path, schema) -> pa.Table:
    fs, p = fs_path(path)
    return pq.read_table(p, schema=schema, filesystem=fs)


def _split(t: pa.Table):
    """Split a table with source/month columns into (key, file-schema table) parts."""
    keys = pc.binary_join_element_wise(t.column("source"), t.column("month"), "\x1f")
    names = [f.name for f in t.schema if f.name not in PARTITION_KEYS]
    uniq = pc.unique(keys).to_pylist()
    for k in uniq:
        part = t if len(uniq) == 1 else t.filter(pc.equal(keys, k))
        source, month = k.split("\x1f")
        yield (source, month), part.select(names)


def load(data_dir, table: str, since=None, until=None, columns=None) -> "pd.DataFrame":
    """Read a tidy table as a DataFrame, reading only the months that can match.

    ``since``/``until`` (ISO 8601 dates or times, or timestamps; without an offset, UTC;
    ``until`` exclusive) filter on ``session_time``; ``"01/10/2026"`` is refused, not guessed.
    A data directory that does not exist raises ``FileNotFoundError`` (as
    ``pandas.read_parquet`` does); a table of an existing one that has no rows yet reads
    as empty, with its columns.  ``data_dir`` may be ``s3://bucket/prefix`` (see the
    README's "Object storage").

    >>> comparisons = load("data", "comparisons", since="2026-10-01", until="2026-11-01")  # doctest: +SKIP
    """
    return load_arrow(data_dir, table, since, until, columns).to_pandas(types_mapper=nullable_dtype)


def load_arrow(data_dir, table: str, since=None, until=None, columns=None, where=None) -> pa.Table:
    """:func:`load`, as an Arrow table (no pandas involved).  ``where``: a further
    ``pyarrow.dataset`` filter expression (pushed down to the files)."""
    if isinstance(table, os.PathLike):
        raise TypeError("table is a table name; got a path: the data directory comes first: load(data_dir, table)")
    if not isinstance(table, str):   # never its repr: a DataFrame's cells are personal data
        raise TypeError(f"table is a table name ({', '.join(TABLES)}); got "
                        f"{'None' if table is None else type(table).__name__}")
    if table not in TABLES:
        swapped = names_a_folder(table)
        raise ValueError(f"unknown table {table!r}; tables are: {', '.join(TABLES)}"
                         + ("; the data directory comes first: load(data_dir, table)" if swapped else ""))
    schema = full_schema(table)
    columns = _columns(schema, table, columns)
    lo = utc_datetime(since, "since")
    hi = utc_datetime(until, "until")
    if lo is not None and hi is not None and lo > hi:
        raise ValueError(f"since ({since}) must not be after until ({until})")
    ddir = DataDir.of(data_dir)
    require_data_dir(ddir.root)
    path = ddir.table(table)
    if not path.is_dir() or next(iter(path.glob("source=*/month=*/part-*.parquet")), None) is None:
        empty = pa.Table.from_batches([], schema=schema)  # (empty_table() imports pandas)
        return empty.select(columns) if columns else empty
    import pyarrow.dataset as ds

    expr = None
    ts_type = schema.field("session_time").type
    if lo is not None:
        expr = (ds.field("month") >= lo.strftime("%Y-%m")) & (ds.field("session_time") >= pa.scalar(lo, ts_type))
    if hi is not None:
        e = (ds.field("month") <= hi.strftime("%Y-%m")) & (ds.field("session_time") < pa.scalar(hi, ts_type))
        expr = e if expr is None else expr & e
    if where is not None:
        expr = where if expr is None else expr & where
    fs, p = fs_path(path)
    for attempt in range(3):
        # A writer may delete a file (replaced rows, compaction) between the listing and
        # the read; list again (its replacement is already in place: adds precede removes).
        dataset = ds.dataset(p, filesystem=fs, format="parquet", partitioning=partitioning(),
                             schema=schema)
        try:
            return dataset.to_table(columns=columns, filter=expr)
        except OSError as e:
            if attempt == 2 or not _vanished(e):
                raise
            time.sleep(0.05 * (attempt + 1))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as e:
            # a file that is not Parquet (written files are whole: damaged), or not one of ours
            raise DamagedTable.of(e, foreign_file(data_dir, table)) from None
    raise AssertionError("unreachable")


def foreign_file(data_dir, table: str):
    """The first file of ``table`` that is not one of its files: no Parquet footer, or a column
    of the table's with another type (a file copied in from elsewhere; ``{"confidence": "low"}``
    was "a table file: not a readable table file ('low' as a scalar of type double)", a struct
    id pyarrow's "Unsupported cast", naming no file).  Footers only; None when every file
    looks like one of the table's (the error is then about something else).  Only for
    naming the file once a read has failed."""
    schema = full_schema(table)
    for f in sorted(DataDir.of(data_dir).table(table).glob("source=*/month=*/part-*.parquet")):
        fs, path = fs_path(f)
        try:
            with fs.open_input_file(path) as fh:
                got = pq.ParquetFile(fh).schema_arrow
        except FileNotFoundError:
            continue
        except (OSError, pa.ArrowException):
            return f
        if any(c.name in schema.names and schema.field(c.name).type != c.type for c in got):
            return f
    return None


def _columns(schema: pa.Schema, table: str, columns) -> list[str] | None:
    """``columns`` as a list of the table's column names (one name alone is a list of one).

    An unknown name reached pyarrow's reader and came back as "not a readable table file"
    (DamagedTable: the table looked damaged), a tuple or a str as a pyarrow ValueError."""
    if columns is None:
        return None
    if isinstance(columns, str):
        columns = [columns]
    try:
        columns = list(columns)
    except TypeError:
        raise TypeError(f"columns must be a list of column names; got {columns!r}") from None
    unknown = [c for c in columns if c not in schema.names]
    if unknown:
        raise ValueError(f"table {table!r} has no column(s) {', '.join(map(repr, unknown))}; "
                         f"its columns are {', '.join(schema.names)}")
    return columns


def _vanished(e: OSError) -> bool:
    msg = str(e)
    return isinstance(e, FileNotFoundError) or "NO_SUCH_KEY" in msg or "does not exist" in msg


def nullable_dtype(t: pa.DataType):
    """Integers and booleans with nulls stay integers and booleans in pandas."""
    import pandas as pd

    if t == pa.int32():
        return pd.Int32Dtype()
    if t == pa.int64():
        return pd.Int64Dtype()
    if t == pa.bool_():
        return pd.BooleanDtype()
    return None


def require_data_dir(root) -> None:
    """A local data directory must exist (``FileNotFoundError``, as ``pandas.read_parquet``
    raises) and be a directory; object storage has no directories to check."""
    if not is_local(root):
        return
    if not root.exists():
        raise FileNotFoundError(errno.ENOENT, "No such data directory", str(root))
    if not root.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, "Not a data directory (a file)", str(root))
