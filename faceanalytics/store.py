"""The Parquet store: hive-partitioned tables, atomic commits, one row set per session.

``DATA/tables/<table>/source=<source>/month=<YYYY-MM>/part-<txn>-<n>.parquet``

A commit writes every new file under a hidden temporary name (readers skip names
starting with ``.``), then records the renames and deletions it is about to do
in ``state/txn-tables/<txn>.json`` (the commit point), then does them: every
rename first, then every deletion, then it deletes the record.  A crash before
the record leaves the previous state (temporaries are swept on the next open); a
crash after it is rolled forward on the next open (by the next writer to open the
store).  Readers never see a half-written file.  Table files are not fsync'd one
by one: the tables are derived data, and the raw archive they are rebuilt from
(``rebuild``) is.

The same protocol runs on S3 (``DATA`` = ``s3://bucket/prefix``; see
:mod:`faceanalytics._fs`), where there is no rename: a temporary and the record
are single PUTs (each object appears whole or not at all), and "rename" is a
server-side copy to the final name followed by a delete of the temporary.  Final
names are only ever written after the record exists, so a crash at any point
leaves either the previous state (no record: the temporaries are swept) or a
record that the next open completes (a copy is redone while its temporary still
exists; deletions of what is already gone are skipped).  Before writing a record
the writer checks that it still holds the S3 writer lock
(:func:`faceanalytics._fs.fence`).

What a reader can observe.  Readers take no lock.  Between the record and its
deletion a reader listing a partition can see a commit partly applied, on local
disk as on S3 (only the copy takes longer there): some of its new files and not
yet others, and, because deletions come after all the new files, a replaced
file next to its replacement, so the rows of a superseded fetch (and the other
rows of a rewritten file) can appear twice for that moment.  It never sees a torn
file, nor a row missing that was there before the commit.  A file deleted between
a reader's listing and its read is retried (see :func:`load_arrow`).  A crash in
that window leaves the overlap until the next writer opens the store and rolls
the record forward.

Each ``(source, session_id)`` has at most one fetch in the tables.  An incoming
record replaces the stored one only if it ranks higher: a result beats an API
error (a 4th call's DATA_DESTROYED never wipes a result), then the later
``fetched_at`` wins.  Equal rank means the same fetch again: nothing is written.
"""
from __future__ import annotations

import time
import uuid

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from . import _fs
from ._fs import atomic_write_bytes, data_path, fence, fs_path, fsync_dir
from ._fs import replace as _move
from .schema import PARTITION_KEYS, TABLES, file_schema, full_schema

__all__ = ["Store", "SessionIndex", "key_of", "load", "load_arrow", "partitioning"]

# Column statistics cost a fifth of the write time; readers only filter on these.
_WRITE = {"compression": "zstd", "write_statistics": ["session_id", "fetched_at", "session_time"]}
COMPACT_AT = 24  # files in one partition before they are merged


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


def _month_str(m: int) -> str:
    return f"{m // 100:04d}-{m % 100:02d}"


class Store:
    def __init__(self, data_dir, *, tables_dir: str = "tables"):
        self.data_dir = data_path(data_dir)
        self.root = self.data_dir / tables_dir
        self.txn_dir = self.data_dir / "state" / f"txn-{tables_dir}"
        self._index: SessionIndex | None = None
        self._settled: set[str] = set()  # tables whose empty.parquet is known to be right
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
        # "src": where the temporaries are, relative to the data directory (the S3
        # rebuild swap moves files from tables.rebuild/); by default this store's root.
        src = self.data_dir / plan["src"] if plan.get("src") else self.root
        for tmp, final in plan.get("adds", []):
            _move(src / tmp, self.root / final)  # a temporary already moved is skipped
        for old in plan.get("removes", []):
            (self.root / old).unlink(missing_ok=True)

    def _commit_plan(self, txn: str, plan: dict) -> None:
        """Write the record (the commit point), apply it, delete it."""
        self.txn_dir.mkdir(parents=True, exist_ok=True)
        marker = self.txn_dir / f"{txn}.json"
        fence(self.data_dir)  # S3: still the one writer?  (no-op locally)
        atomic_write_bytes(marker, orjson.dumps(plan))  # the commit point
        self._apply(plan)
        marker.unlink()

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
                with fs.open_input_file(path) as fh:
                    ids = pq.ParquetFile(fh).read(columns=[id_col]).column(id_col).to_pylist()
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
        t = ds.dataset(p, filesystem=fs, format="parquet", partitioning=partitioning(),
                       schema=full_schema("sessions")).to_table(
            columns=["session_id", "fetched_at", "error", "month"],
            filter=(ds.field("source") == source)
            & ds.field("session_id").isin(pa.array(ids, pa.string())))
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
        txn = f"{time.time_ns():x}-{uuid.uuid4().hex[:8]}"
        adds, removes, n = [], [], 0

        def write(rel_dir: str, table: pa.Table) -> None:
            nonlocal n
            (self.root / rel_dir).mkdir(parents=True, exist_ok=True)
            final = f"{rel_dir}/part-{txn}-{n:04d}.parquet"
            tmp = f"{rel_dir}/.tmp-{txn}-{n:04d}.parquet"
            n += 1
            _write_parquet(table, self.root / tmp)
            adds.append((tmp, final))

        if replace:
            for table in TABLES:
                for (source, month), ids in replace.items():
                    rel = f"{table}/source={source}/month={month}"
                    drop = pa.array(sorted(ids), pa.string())
                    for f in sorted((self.root / rel).glob("part-*.parquet")):
                        old = _read_parquet(f, file_schema(table))
                        mask = pc.is_in(old.column("session_id"), value_set=drop)
                        if not pc.any(mask).as_py():
                            continue
                        keep = old.filter(pc.invert(mask))
                        if keep.num_rows:
                            write(rel, keep)
                        removes.append(f"{rel}/{f.name}")
        for table, t in tables.items():
            if t is None or not t.num_rows:
                continue
            for (source, month), part in _split(t):
                write(f"{table}/source={source}/month={month}", part)
        if not adds and not removes:
            return
        self._commit_plan(txn, {"adds": adds, "removes": removes})
        added = {p.split("/", 1)[0] for _, p in adds}
        self._sync_empty_files(added | {p.split("/", 1)[0] for p in removes}, added)
        if index_update is not None:
            self.index.add(index_update)

    def replace_table(self, table: str, t: pa.Table) -> None:
        """Make ``t`` (with ``source`` and ``month`` columns) the whole of ``table``,
        atomically (for small tables derived from a manifest, such as media_files)."""
        d = self.root / table
        old = [str(p.relative_to(self.root)) for p in d.glob("source=*/month=*/part-*.parquet")]
        txn = f"{time.time_ns():x}-{uuid.uuid4().hex[:8]}"
        adds = []
        for n, ((source, month), part) in enumerate(_split(t) if t.num_rows else ()):
            rel = f"{table}/source={source}/month={month}"
            (self.root / rel).mkdir(parents=True, exist_ok=True)
            tmp, final = f"{rel}/.tmp-{txn}-{n:04d}.parquet", f"{rel}/part-{txn}-{n:04d}.parquet"
            _write_parquet(part, self.root / tmp)
            adds.append((tmp, final))
        self._commit_plan(txn, {"adds": adds, "removes": old})
        self._sync_empty_files({table}, {table} if adds else ())

    def adopt(self, staging: "Store") -> None:
        """Make the tables of ``staging`` (another root under the same data directory)
        the whole of this store, as one transaction: used by ``rebuild`` where folders
        cannot be renamed (S3).  Readers can see old and new files side by side until
        it is applied; a crash is rolled forward like any commit."""
        txn = f"{time.time_ns():x}-{uuid.uuid4().hex[:8]}"
        pattern = "*/source=*/month=*/part-*.parquet"
        adds = [(str(p.relative_to(staging.root)),) * 2 for p in staging.root.glob(pattern)]
        removes = [str(p.relative_to(self.root)) for p in self.root.glob(pattern)]
        plan = {"src": str(staging.root.relative_to(self.data_dir)), "adds": adds, "removes": removes}
        self._commit_plan(txn, plan)
        self._settled.clear()
        self._sync_empty_files(set(TABLES), {a.split("/", 1)[0] for a, _ in adds})
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
                d.mkdir(parents=True, exist_ok=True)
                buf = pa.BufferOutputStream()
                pq.write_table(pa.Table.from_batches([], schema=full_schema(table)), buf)
                _fs.atomic_write_bytes(empty, buf.getvalue().to_pybytes(), durable=False)
            self._settled.add(table)

    def compact(self, min_files: int = COMPACT_AT) -> int:
        """Merge partitions holding many small files (fetch commits per chunk)."""
        merged = 0
        if not self.root.is_dir():
            return 0
        for table in TABLES:
            partitions: dict = {}
            for f in (self.root / table).glob("source=*/month=*/part-*.parquet"):
                partitions.setdefault(f.parent, []).append(f)
            for d in sorted(partitions):
                files = sorted(partitions[d])
                if len(files) < min_files:
                    continue
                txn = f"{time.time_ns():x}-{uuid.uuid4().hex[:8]}"
                rel = str(d.relative_to(self.root))
                tmp, final = f"{rel}/.tmp-{txn}-0000.parquet", f"{rel}/part-{txn}-0000.parquet"
                # One input file in memory at a time: each becomes a row group of the output.
                fs, p = fs_path(self.root / tmp)
                with pq.ParquetWriter(p, file_schema(table), filesystem=fs, **_WRITE) as w:
                    for f in files:
                        w.write_table(_read_parquet(f, file_schema(table)))
                self._commit_plan(txn, {"adds": [(tmp, final)],
                                        "removes": [f"{rel}/{f.name}" for f in files]})
                merged += 1
        return merged


def _write_parquet(table: pa.Table, path) -> None:
    fs, p = fs_path(path)
    pq.write_table(table, p, filesystem=fs, **_WRITE)


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

    ``since``/``until`` (dates or timestamps, UTC; ``until`` exclusive) filter on
    ``session_time``.  A table never written reads as empty, with its columns.
    ``data_dir`` may be ``s3://bucket/prefix`` (see the README's "Object storage").

    >>> comparisons = load("data", "comparisons", since="2026-10-01", until="2026-11-01")  # doctest: +SKIP
    """
    return load_arrow(data_dir, table, since, until, columns).to_pandas(types_mapper=_nullable_dtype)


def load_arrow(data_dir, table: str, since=None, until=None, columns=None) -> pa.Table:
    """:func:`load`, as an Arrow table (no pandas involved)."""
    if table not in TABLES:
        raise ValueError(f"unknown table {table!r}; tables are: {', '.join(TABLES)}")
    schema = full_schema(table)
    path = data_path(data_dir) / "tables" / table
    if not path.is_dir() or next(iter(path.glob("source=*/month=*/part-*.parquet")), None) is None:
        empty = pa.Table.from_batches([], schema=schema)  # (empty_table() imports pandas)
        return empty.select(columns) if columns else empty
    import pyarrow.dataset as ds

    expr = None
    lo = _ts(since)
    hi = _ts(until)
    ts_type = schema.field("session_time").type
    if lo is not None:
        expr = (ds.field("month") >= lo.strftime("%Y-%m")) & (ds.field("session_time") >= pa.scalar(lo, ts_type))
    if hi is not None:
        e = (ds.field("month") <= hi.strftime("%Y-%m")) & (ds.field("session_time") < pa.scalar(hi, ts_type))
        expr = e if expr is None else expr & e
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
    raise AssertionError("unreachable")


def _vanished(e: OSError) -> bool:
    msg = str(e)
    return isinstance(e, FileNotFoundError) or "NO_SUCH_KEY" in msg or "does not exist" in msg


def _nullable_dtype(t: pa.DataType):
    """Integers and booleans with nulls stay integers and booleans in pandas."""
    import pandas as pd

    if t == pa.int32():
        return pd.Int32Dtype()
    if t == pa.int64():
        return pd.Int64Dtype()
    if t == pa.bool_():
        return pd.BooleanDtype()
    return None


def _ts(v):
    if v is None:
        return None
    import pandas as pd

    t = pd.Timestamp(v)
    if t.tzinfo is None:
        t = t.tz_localize("UTC")
    return t.tz_convert("UTC").to_pydatetime()
