"""Spark: the same counts through Spark SQL, on a cluster (or ``local[*]``).

Spark reads the hive layout natively: ``spark.read.parquet`` of
``DATA/tables/<table>/source=*/month=*/part-*.parquet`` with ``basePath`` set gives
``source`` and ``month`` as columns (typed as strings by the schema passed here),
and a ``WHERE month >= ...`` prunes whole partitions before any file is opened.
The queries are the DuckDB ones (:mod:`faceanalytics.engines._sql`, Spark
dialect); only the per-group counts are collected to the driver (as Arrow).

``data_dir`` may be a local path (every executor must see it: shared storage
when on a cluster) or a URL Hadoop understands (``s3a://bucket/prefix``,
``hdfs://...``; ``s3://`` is read as ``s3a://``).  Run on a cluster with
``spark-submit``; see the README ("Larger than memory").

Rows without a verification time (Baidu detail, simple, stat, media) are placed at their
token's getall time, which may lie in any month, so the month filter cannot prune their
partitions.  On a local path the engine functions and the explorers read only those whose
first and last placed time can fall in the window (``_placed._window_relations``: the bounds
the review keeps beside the tables, worked out once by DuckDB).  On a URL they are read in
every month: nothing is kept there (kept counts need a local directory), and finding the
bounds anew would take a Spark job reading every one of those partitions on each call, the
read it would save (they are the small tables: one row per token fetched).  The review on
Spark (``_review``) reads them in every month too: ``_Placed`` keeps bounds for DuckDB only.

>>> from pyspark.sql import SparkSession                                  # doctest: +SKIP
>>> spark = SparkSession.builder.getOrCreate()                            # doctest: +SKIP
>>> engines.pass_rates("s3a://bucket/faceid", freq="W", engine=spark)     # doctest: +SKIP
"""
from __future__ import annotations

import contextlib
import uuid
from pathlib import Path

import pyarrow as pa

from ..schema import full_schema
from ._base import PARTS_GLOB, Engine, local_files, table_root
from ._sql import SparkDialect

__all__ = ["SparkEngine", "spark_schema"]


def spark_schema(table: str):
    """The table's schema as a Spark ``StructType`` (``source``/``month`` as strings last)."""
    from pyspark.sql import types as T

    m = {pa.string(): T.StringType(), pa.float64(): T.DoubleType(), pa.int32(): T.IntegerType(),
         pa.int64(): T.LongType(), pa.bool_(): T.BooleanType()}
    fields = []
    schema = full_schema(table)
    for f in schema:
        if f.name in ("source", "month"):
            continue
        t = T.TimestampType() if pa.types.is_timestamp(f.type) else m[f.type]
        fields.append(T.StructField(f.name, t, True))
    fields += [T.StructField("source", T.StringType(), True), T.StructField("month", T.StringType(), True)]
    return T.StructType(fields)


def _to_arrow(df) -> pa.Table:
    if hasattr(df, "toArrow"):                      # Spark >= 4.0
        return df.toArrow()
    from pyspark.sql.pandas.types import to_arrow_schema   # Spark 3.5

    batches = df._collect_as_arrow()
    schema = to_arrow_schema(df.schema)
    return pa.Table.from_batches(batches, schema=schema) if batches else schema.empty_table()


class SparkEngine(Engine):
    """Spark SQL over the dataset.  ``spark``: a ``SparkSession`` (default: the active
    one, else ``SparkSession.builder.getOrCreate()``, which under ``spark-submit``
    is the cluster's)."""
    name = "spark"
    dialect = SparkDialect()

    def __init__(self, spark=None):
        self._spark = spark

    @property
    def spark(self):
        if self._spark is not None:
            return self._spark
        from pyspark.sql import SparkSession            # the current one each time: it may be replaced

        return SparkSession.getActiveSession() or SparkSession.builder.appName("faceanalytics").getOrCreate()

    @contextlib.contextmanager
    def relation(self, data_dir, table: str):
        root = table_root(data_dir, table)
        if root.startswith("s3://"):
            root = "s3a://" + root[len("s3://"):]
        if local_files(root) is False:
            yield None
            return
        if "://" not in root:
            root = Path(root).as_uri()              # file:///...: never the cluster's default filesystem
        reader = self.spark.read.schema(spark_schema(table)).option("basePath", root)
        try:
            df = reader.parquet(root.rstrip("/") + "/" + PARTS_GLOB)
        except Exception as e:                      # AnalysisException: PATH_NOT_FOUND (a URL with no data)
            if "PATH_NOT_FOUND" in str(e) or "Path does not exist" in str(e):
                yield None
                return
            raise
        name = f"fa_{table}_{uuid.uuid4().hex[:12]}"
        df.createOrReplaceTempView(name)
        try:
            yield name
        finally:
            self.spark.catalog.dropTempView(name)

    def query(self, sql: str) -> pa.Table:
        return _to_arrow(self.spark.sql(sql))

    def __repr__(self) -> str:
        return f"SparkEngine({self._spark!r})"
