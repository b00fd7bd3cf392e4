"""What every engine provides: a relation for a table of the dataset, and a query runner."""
from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pyarrow as pa

from ..schema import full_schema
from ._sql import Dialect

__all__ = ["Engine", "table_root", "local_files", "source_files", "PARTS_GLOB", "arrow_frame"]

PARTS_GLOB = "source=*/month=*/part-*.parquet"      # never the writer's hidden .tmp-* files


def table_root(data_dir, table: str) -> str:
    """``DATA/tables/<table>``: an absolute local path, or the URL as given (``s3a://``, ``hdfs://``)."""
    from ..storage import DataDir

    s = str(data_dir) if isinstance(data_dir, DataDir) else os.fspath(data_dir)
    if "://" in s:  # as given: Spark reads s3a://, hdfs://, ...
        return s.rstrip("/") + f"/tables/{table}"
    return str(DataDir(s).table(table).resolve())


def local_files(root: str) -> bool | None:
    """Whether a local table has any data file (None: a URL, the engine will tell)."""
    if "://" in root:
        return None
    p = Path(root)
    return p.is_dir() and next(iter(p.glob(PARTS_GLOB)), None) is not None


def source_files(data_dir, table: str, source: str) -> list[str]:
    """The data files of one source's partitions (every month) of a local table."""
    root = Path(table_root(data_dir, table)) / f"source={source}"
    return [str(f) for f in sorted(root.glob(PARTS_GLOB.split("/", 1)[1]))]


class Engine:
    """Base class: ``relation`` yields something to put after ``FROM`` (None: no data)."""
    name = "engine"
    dialect: Dialect

    @contextlib.contextmanager
    def relation(self, data_dir, table: str):  # pragma: no cover - abstract
        raise NotImplementedError
        yield

    def query(self, sql: str) -> pa.Table:  # pragma: no cover - abstract
        raise NotImplementedError


def _nullable(t: pa.DataType):
    """The dtypes ``faceanalytics.load`` gives: nullable Int32/Int64/boolean, default otherwise."""
    from ..storage.tables import nullable_dtype as _nullable_dtype

    return _nullable_dtype(t)


def arrow_frame(t: pa.Table, table: str, counts=(), floats=()):
    """An engine's result as the pandas frame the finishers expect.

    Columns of ``table`` get the table's Arrow type (so keys have the dtypes
    ``faceanalytics.load`` gives); ``counts`` become int64 (missing: 0), ``floats``
    float64; ``period`` stays a nullable Int64 period number.
    """
    import numpy as np

    schema = full_schema(table)
    arrays, names = [], []
    for name, col in zip(t.column_names, t.columns):
        if name in counts:
            col = col.cast(pa.int64()).fill_null(0)
        elif name in floats:
            col = col.cast(pa.float64())
        elif name == "period":
            col = col.cast(pa.int64())
        elif name in schema.names:
            col = col.cast(schema.field(name).type)
        arrays.append(col)
        names.append(name)
    df = pa.Table.from_arrays(arrays, names=names).to_pandas(types_mapper=_nullable)
    for name in counts:
        if name in df.columns:
            df[name] = df[name].to_numpy(dtype=np.int64, na_value=0)
    return df
