"""The Parquet store: hive-partitioned tables, atomic commits, one row set per session.

``DATA/tables/<table>/source=<source>/month=<YYYY-MM>/part-<txn>-<n>.parquet``

A commit writes every new file under a hidden temporary name (readers skip names
starting with ``.``), then records the renames and deletions it is about to do
in ``state/txn/<txn>.json`` (the commit point), then does them.  A crash before
the record leaves the previous state (temporaries are swept on the next open); a
crash after it is rolled forward on the next open.  Readers never see a
half-written file.  Table files are not fsync'd one by one: the tables are
derived data, and the raw archive they are rebuilt from (``rebuild``) is.

Each ``(source, session_id)`` has at most one fetch in the tables.  An incoming
record replaces the stored one only if it ranks higher: a result beats an API
error (a 4th call's DATA_DESTROYED never wipes a result), then the later
``fetched_at`` wins.  Equal rank means the same fetch again: nothing is written.
"""
from __future__ import annotations

import contextlib
import os
import time
import uuid
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ._fs import atomic_write_bytes, fsync_dir
from .schema import PARTITION_KEYS, TABLES, file_schema, full_schema

__all__ = ["Store", "SessionIndex", "key_of", "load", "load_arrow", "partitioning"]

_COMPRESSION = "zstd"
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
    """What the tables hold, per (source, session id): rank and partition month.

    Derived from the ``sessions`` and ``quarantine`` tables on open; kept as sorted
    NumPy arrays so a million sessions cost ~25 MB, not a dict of tuples.
    """

    def __init__(self):
        self.keys = np.empty(0, np.int64)
        self.fetched = np.empty(0, np.int64)
        self.ok = np.empty(0, np.bool_)
        self.month = np.empty(0, np.int32)

    def __len__(self):
        return len(self.keys)

    def lookup(self, keys: np.ndarray):
        """-> (found mask, positions) for ``keys``."""
        if not len(self.keys):
            return np.zeros(len(keys), bool), np.zeros(len(keys), np.int64)
        pos = np.searchsorted(self.keys, keys)
        pos = np.minimum(pos, len(self.keys) - 1)
        return self.keys[pos] == keys, pos

    def upsert(self, keys, fetched, ok, month) -> None:
        keys = np.asarray(keys, np.int64)
        if not len(keys):
            return
        found, pos = self.lookup(keys)
        if found.any():
            p = pos[found]
            self.fetched[p] = np.asarray(fetched, np.int64)[found]
            self.ok[p] = np.asarray(ok, bool)[found]
            self.month[p] = np.asarray(month, np.int32)[found]
        new = ~found
        if new.any():
            # Insert the (few) new keys into the sorted arrays: O(n) per chunk, not a re-sort.
            nk = keys[new]
            order = np.argsort(nk, kind="stable")
            nk = nk[order]
            at = np.searchsorted(self.keys, nk)
            self.keys = np.insert(self.keys, at, nk)
            self.fetched = np.insert(self.fetched, at, np.asarray(fetched, np.int64)[new][order])
            self.ok = np.insert(self.ok, at, np.asarray(ok, bool)[new][order])
            self.month = np.insert(self.month, at, np.asarray(month, np.int32)[new][order])


def _month_int(m: str) -> int:
    return int(m[:4]) * 100 + int(m[5:7])


def _month_str(m: int) -> str:
    return f"{m // 100:04d}-{m % 100:02d}"


class Store:
    def __init__(self, data_dir, *, tables_dir: str = "tables"):
        self.data_dir = Path(data_dir)
        self.root = self.data_dir / tables_dir
        self.txn_dir = self.data_dir / "state" / f"txn-{tables_dir}"
        self._index: SessionIndex | None = None
        self.recover()

    # --- crash recovery ----------------------------------------------------
    def recover(self) -> None:
        """Roll committed transactions forward; sweep temporaries of uncommitted ones."""
        if self.txn_dir.is_dir():
            for t in sorted(self.txn_dir.glob("*.json")):
                try:
                    plan = orjson.loads(t.read_bytes())
                except orjson.JSONDecodeError:  # torn before its atomic rename: never committed
                    t.unlink()
                    continue
                self._apply(plan)
                t.unlink()
            fsync_dir(self.txn_dir)
        if self.root.is_dir():
            for tmp in self.root.glob("*/*/*/.tmp-*"):
                with contextlib.suppress(FileNotFoundError):
                    tmp.unlink()

    def _apply(self, plan: dict) -> None:
        for tmp, final in plan.get("adds", []):
            tmp, final = self.root / tmp, self.root / final
            if tmp.exists():
                os.replace(tmp, final)
        for old in plan.get("removes", []):
            with contextlib.suppress(FileNotFoundError):
                (self.root / old).unlink()

    # --- index ---------------------------------------------------------------
    @property
    def index(self) -> SessionIndex:
        if self._index is None:
            self._index = self._build_index()
        return self._index

    def _build_index(self) -> SessionIndex:
        idx = SessionIndex()
        keys, fetched, ok, month = [], [], [], []
        for table, id_col in (("sessions", "session_id"), ("quarantine", "raw_sha1")):
            path = self.root / table
            if not path.is_dir():
                continue
            cols = [id_col, "fetched_at"] + (["error"] if table == "sessions" else [])
            import pyarrow.dataset as ds

            t = ds.dataset(path, format="parquet", partitioning=partitioning(),
                           schema=full_schema(table)).to_table(columns=["source", "month"] + cols)
            src = t.column("source").to_pylist()
            ids = t.column(id_col).to_pylist()
            if table == "quarantine":
                src = ["quarantine"] * len(ids)
            keys.extend(key_of(s, i) for s, i in zip(src, ids))
            fetched.append(pc.cast(t.column("fetched_at"), pa.int64()).to_numpy(zero_copy_only=False))
            ok.append(t.column("error").is_null().to_numpy(zero_copy_only=False) if table == "sessions"
                      else np.zeros(len(ids), bool))
            month.append(np.array([_month_int(m) for m in t.column("month").to_pylist()], np.int32))
        if keys:
            idx.upsert(np.array(keys, np.int64), np.concatenate(fetched), np.concatenate(ok),
                       np.concatenate(month))
        return idx

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

        def write(rel_dir: Path, table: pa.Table) -> None:
            nonlocal n
            d = self.root / rel_dir
            d.mkdir(parents=True, exist_ok=True)
            final = rel_dir / f"part-{txn}-{n:04d}.parquet"
            tmp = rel_dir / f".tmp-{txn}-{n:04d}.parquet"
            n += 1
            pq.write_table(table, self.root / tmp, compression=_COMPRESSION)
            adds.append((str(tmp), str(final)))

        if replace:
            for table in TABLES:
                for (source, month), ids in replace.items():
                    rel = Path(table) / f"source={source}" / f"month={month}"
                    d = self.root / rel
                    if not d.is_dir():
                        continue
                    drop = pa.array(sorted(ids), pa.string())
                    for f in sorted(d.glob("part-*.parquet")):
                        old = pq.read_table(f, schema=file_schema(table))
                        mask = pc.is_in(old.column("session_id"), value_set=drop)
                        if not pc.any(mask).as_py():
                            continue
                        keep = old.filter(pc.invert(mask))
                        if keep.num_rows:
                            write(rel, keep)
                        removes.append(str(rel / f.name))
        for table, t in tables.items():
            if t is None or not t.num_rows:
                continue
            for (source, month), part in _split(t):
                write(Path(table) / f"source={source}" / f"month={month}", part)
        if not adds and not removes:
            return
        plan = {"adds": adds, "removes": removes}
        self.txn_dir.mkdir(parents=True, exist_ok=True)
        marker = self.txn_dir / f"{txn}.json"
        atomic_write_bytes(marker, orjson.dumps(plan))  # the commit point
        self._apply(plan)
        marker.unlink()
        self._sync_empty_files({Path(p).parts[0] for p, _ in adds} | {Path(p).parts[0] for p in removes})
        if index_update is not None:
            self.index.upsert(*index_update)

    def replace_table(self, table: str, t: pa.Table) -> None:
        """Make ``t`` (with ``source`` and ``month`` columns) the whole of ``table``,
        atomically (for small tables derived from a manifest, such as media_files)."""
        d = self.root / table
        old = [str(p.relative_to(self.root)) for p in d.glob("source=*/month=*/part-*.parquet")]
        txn = f"{time.time_ns():x}-{uuid.uuid4().hex[:8]}"
        adds = []
        for n, ((source, month), part) in enumerate(_split(t) if t.num_rows else ()):
            rel = Path(table) / f"source={source}" / f"month={month}"
            (self.root / rel).mkdir(parents=True, exist_ok=True)
            tmp, final = rel / f".tmp-{txn}-{n:04d}.parquet", rel / f"part-{txn}-{n:04d}.parquet"
            pq.write_table(part, self.root / tmp, compression=_COMPRESSION)
            adds.append((str(tmp), str(final)))
        plan = {"adds": adds, "removes": old}
        self.txn_dir.mkdir(parents=True, exist_ok=True)
        marker = self.txn_dir / f"{txn}.json"
        atomic_write_bytes(marker, orjson.dumps(plan))
        self._apply(plan)
        marker.unlink()
        self._sync_empty_files({table})

    def _sync_empty_files(self, touched=()) -> None:
        """A table with no rows holds ``empty.parquet`` (its full schema, zero rows) so
        ``pandas.read_parquet`` still gives its columns; it goes once rows arrive (a
        partition key stored in a file would clash with the same key in the path)."""
        for table in TABLES:
            d = self.root / table
            empty = d / "empty.parquet"
            if table not in touched and (empty.exists() or d.is_dir()):
                continue
            has_rows = next(d.glob("source=*/month=*/part-*.parquet"), None) is not None
            if has_rows and empty.exists():
                empty.unlink()
            elif not has_rows and not empty.exists():
                d.mkdir(parents=True, exist_ok=True)
                tmp = d / ".tmp-empty.parquet"
                pq.write_table(full_schema(table).empty_table(), tmp)
                os.replace(tmp, empty)

    def compact(self, min_files: int = COMPACT_AT) -> int:
        """Merge partitions holding many small files (fetch commits per chunk)."""
        merged = 0
        if not self.root.is_dir():
            return 0
        for table in TABLES:
            for d in sorted((self.root / table).glob("source=*/month=*")):
                files = sorted(d.glob("part-*.parquet"))
                if len(files) < min_files:
                    continue
                txn = f"{time.time_ns():x}-{uuid.uuid4().hex[:8]}"
                rel = d.relative_to(self.root)
                tmp, final = rel / f".tmp-{txn}-0000.parquet", rel / f"part-{txn}-0000.parquet"
                # One input file in memory at a time: each becomes a row group of the output.
                with pq.ParquetWriter(self.root / tmp, file_schema(table),
                                      compression=_COMPRESSION) as w:
                    for f in files:
                        w.write_table(pq.read_table(f, schema=file_schema(table)))
                plan = {"adds": [(str(tmp), str(final))], "removes": [str(rel / f.name) for f in files]}
                self.txn_dir.mkdir(parents=True, exist_ok=True)
                marker = self.txn_dir / f"{txn}.json"
                atomic_write_bytes(marker, orjson.dumps(plan))
                self._apply(plan)
                marker.unlink()
                merged += 1
        return merged


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

    >>> comparisons = load("data", "comparisons", since="2026-10-01", until="2026-11-01")  # doctest: +SKIP
    """
    return load_arrow(data_dir, table, since, until, columns).to_pandas(types_mapper=_nullable_dtype)


def load_arrow(data_dir, table: str, since=None, until=None, columns=None) -> pa.Table:
    """:func:`load`, as an Arrow table (no pandas involved)."""
    if table not in TABLES:
        raise ValueError(f"unknown table {table!r}; tables are: {', '.join(TABLES)}")
    schema = full_schema(table)
    path = Path(data_dir) / "tables" / table
    if not path.is_dir() or next(path.glob("source=*/month=*/part-*.parquet"), None) is None:
        empty = schema.empty_table()
        return empty.select(columns) if columns else empty
    import pyarrow.dataset as ds

    dataset = ds.dataset(path, format="parquet", partitioning=partitioning(), schema=schema)
    expr = None
    lo = _ts(since)
    hi = _ts(until)
    ts_type = schema.field("session_time").type
    if lo is not None:
        expr = (ds.field("month") >= lo.strftime("%Y-%m")) & (ds.field("session_time") >= pa.scalar(lo, ts_type))
    if hi is not None:
        e = (ds.field("month") <= hi.strftime("%Y-%m")) & (ds.field("session_time") < pa.scalar(hi, ts_type))
        expr = e if expr is None else expr & e
    return dataset.to_table(columns=columns, filter=expr)


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
