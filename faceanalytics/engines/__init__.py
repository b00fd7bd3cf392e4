"""The review metrics where the data is: pandas, DuckDB (out of core) or Spark (a cluster).

Every function takes a data directory (``DATA``, as written by ``ingest``/``fetch``)
and reads its hive-partitioned Parquet tables itself, keeping to the months a
``since``/``until`` window can touch (partition pruning); of the Baidu sources placed at
their token's getall time (detail, simple, stat, media: stored in any month), to the
partitions whose placed rows can lie in the window, by the bounds the review keeps beside a
local data directory (every month on object storage).  Each returns exactly
the frame of the pandas metric of the same name in :mod:`faceanalytics.analytics`
run on ``faceanalytics.load(DATA, table, since, until)`` -- same columns, dtypes,
row order and intervals: the engine only counts, and the intervals, sorting and
shaping are done afterwards by the pandas code's own helpers.

==========================  ===========================================================
``pass_rates``              pass rates per level, overall / per ``by`` / per period
``confidence_histogram``    the exact histogram every threshold question is answered from
``would_flip_summary``      what moving a cut changes (comparisons, sessions, near mass)
``genuineness_rates``       anti-spoofing flagged share per attack type, with coverage
``error_codes``             one Pareto over every error source
``value_histogram``         exact value counts per group and period (what drift needs)
``pass_rate_drift``         change in pass rate between two windows (Newcombe interval)
``distribution_drift``      PSI and KS between two windows
``load_placed``             a table as ``load`` reads it, Baidu rows without a verification
                            time placed at their token's getall time (what every engine counts)
==========================  ===========================================================

``engine``: ``"auto"`` (DuckDB when installed, else pandas), ``"pandas"``,
``"duckdb"``, ``"spark"``, or an engine object: :class:`DuckDBEngine` (memory limit,
threads, spill directory, or your own connection), :class:`SparkEngine` (your
``SparkSession``); a duckdb connection or a SparkSession is accepted as is.

>>> from faceanalytics import engines
>>> engines.pass_rates("data", by="comparison", freq="W", since="2026-01-01")      # doctest: +SKIP
>>> h = engines.confidence_histogram("data", by="comparison", engine="spark")      # doctest: +SKIP
>>> fa.plot_confidence_thresholds(h[h.comparison == "faceid"])                       # doctest: +SKIP
"""
from __future__ import annotations

from ._api import (ENGINES, ERROR_TABLES, PandasEngine, confidence_histogram, distribution_drift, error_codes,
                   genuineness_rates, get_engine, load_placed, pass_rate_drift, pass_rates, value_histogram,
                   would_flip_summary)
from .duckdb_engine import DuckDBEngine
from .spark_engine import SparkEngine

__all__ = ["ENGINES", "ERROR_TABLES", "get_engine", "PandasEngine", "DuckDBEngine", "SparkEngine",
           "pass_rates", "confidence_histogram", "would_flip_summary", "genuineness_rates", "error_codes",
           "value_histogram", "pass_rate_drift", "distribution_drift", "load_placed"]
