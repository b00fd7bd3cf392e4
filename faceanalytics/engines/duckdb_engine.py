"""DuckDB: the metrics computed out of core, in this process, straight on the Parquet dataset.

DuckDB reads ``DATA/tables/<table>/source=*/month=*/part-*.parquet`` with hive
partitioning (``source`` and ``month`` as VARCHAR from the path), skips the months
a ``since``/``until`` window cannot touch (partition pruning: those files are never
opened) and filters ``session_time`` with the row-group statistics.  An ``s3://``
data directory is read through pyarrow, with the credentials and endpoint
:func:`faceanalytics.load` uses (see the README's "Object storage").  Aggregates
spill to ``temp_directory`` when they outgrow ``memory_limit``, so the data can be
many times larger than memory; only the counts come back to Python.

>>> from faceanalytics import engines
>>> eng = engines.DuckDBEngine(memory_limit="3GB", threads=2)            # doctest: +SKIP
>>> engines.pass_rates("data", by="comparison", freq="W", engine=eng)   # doctest: +SKIP
"""
from __future__ import annotations

import contextlib
import shutil
import tempfile
import threading
import uuid
import weakref

import pyarrow as pa

from .._duck import connect
from ._base import PARTS_GLOB, Engine, local_files, table_root
from ._sql import DuckDBDialect

__all__ = ["DuckDBEngine", "parquet_scan"]


def parquet_scan(files: str, by_name: bool = False) -> str:
    """``read_parquet`` of ``files`` (a quoted glob or a list) with the dataset's hive keys as
    text.  Columns are bound from the first file; ``by_name``: from all of them, by name (files
    written before a column was added, ``session_key`` or ``invalid_values``, read it as null)."""
    union = ", union_by_name = true" if by_name else ""
    return (f"read_parquet({files}, hive_partitioning = true, hive_types = {{'source': 'VARCHAR', "
            f"'month': 'VARCHAR'}}{union})")


class DuckDBEngine(Engine):
    """An embedded DuckDB database (in memory) that scans the dataset in place.

    ``connection``: an existing ``duckdb`` connection to use instead of a new one.
    ``memory_limit`` (e.g. ``"3GB"``; DuckDB's default is 80% of RAM), ``threads``
    (default: all cores) and ``temp_directory`` (where aggregates spill; default a
    ``faceanalytics-duckdb-*`` folder of this engine's own in the system temp directory,
    readable by its user only and removed with the engine) configure a new one.
    """
    name = "duckdb"
    dialect = DuckDBDialect()

    def __init__(self, connection=None, *, memory_limit: str | None = None, threads: int | None = None,
                 temp_directory: str | None = None):
        self._con = connection
        self._settings = {"memory_limit": memory_limit, "threads": threads, "temp_directory": temp_directory}
        self._lock = threading.Lock()
        self._local = threading.local()

    def connection(self):
        with self._lock:
            if self._con is None:
                config = {"preserve_insertion_order": False}      # lets aggregates stream and spill
                s = self._settings
                if s["memory_limit"]:
                    config["memory_limit"] = str(s["memory_limit"])
                if s["threads"]:
                    config["threads"] = int(s["threads"])
                tmp = s["temp_directory"]
                if not tmp:
                    # One folder per engine, made here (mode 0700): a folder shared by every
                    # process was removed by the first DuckDB to close -- it had made it --
                    # under another process's spilled aggregates, and another user's could not
                    # be written at all.  A folder DuckDB did not make it leaves in place.
                    tmp = tempfile.mkdtemp(prefix="faceanalytics-duckdb-")
                    weakref.finalize(self, shutil.rmtree, tmp, ignore_errors=True)
                config["temp_directory"] = tmp
                self._con = connect(config)
            return self._con

    @contextlib.contextmanager
    def relation(self, data_dir, table: str):
        root = table_root(data_dir, table)
        if "://" in root:
            with self._object_store(data_dir, table) as name:
                yield name
            return
        if not local_files(root):
            yield None
            return
        glob = (root.rstrip("/") + "/" + PARTS_GLOB).replace("'", "''")
        yield parquet_scan(f"'{glob}'")

    @contextlib.contextmanager
    def _object_store(self, data_dir, table: str):
        """``s3://`` data directories: DuckDB scans a pyarrow dataset on the same filesystem
        (endpoint, credentials) as :func:`faceanalytics.load`, pushing the ``month`` filter and
        the columns into it, so pruned months are never fetched.  No DuckDB extension needed."""
        import pyarrow.dataset as ds

        from ..schema import full_schema
        from ..storage import DataDir
        from ..storage.paths import fs_path
        from ..storage.tables import partitioning

        path = DataDir.of(data_dir).table(table)
        if next(iter(path.glob(PARTS_GLOB)), None) is None:
            yield None
            return
        fs, p = fs_path(path)
        dataset = ds.dataset(p, filesystem=fs, format="parquet", partitioning=partitioning(),
                             schema=full_schema(table))
        # registrations belong to one cursor: a relation opened inside another (a table and the
        # sessions rows that place its rows) is registered on the outer one, where the query runs
        outer = getattr(self._local, "cursor", None)
        cur = outer or self.connection().cursor()
        name = f"fa_{table}_{uuid.uuid4().hex[:12]}"
        cur.register(name, dataset)
        self._local.cursor = cur
        try:
            yield name
        finally:
            cur.unregister(name)
            if outer is None:
                self._local.cursor = None
                cur.close()

    def query(self, sql: str) -> pa.Table:
        cur = getattr(self._local, "cursor", None)
        own = cur is None
        if own:
            cur = self.connection().cursor()      # a cursor per query: safe across threads
        try:
            rel = cur.sql(sql)
            if hasattr(rel, "to_arrow_table"):      # duckdb >= 1.4
                return rel.to_arrow_table()
            return rel.fetch_arrow_table()
        finally:
            if own:
                cur.close()

    def __repr__(self) -> str:
        return f"DuckDBEngine({', '.join(f'{k}={v!r}' for k, v in self._settings.items() if v)})"
