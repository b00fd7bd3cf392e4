"""Labels of any size for the review on DuckDB (``review --labels FILE``).

A labels file is streamed, a block at a time, into a temporary Parquet file of its own
(``session_id``, ``genuine``, ``row``: the row as the file numbers it) in a private folder removed with it (:class:`LabelFile`).  DuckDB then
checks it (sessions labelled both ways) and joins it with the period's comparisons, and
only a confidence histogram per comparison kind and label comes back to Python, which
:func:`faceanalytics.analytics._labels.error_rates_from_histogram` turns into FAR and FRR
at each level: the rule of :func:`~faceanalytics.analytics.error_rates_at_levels`.  Memory
stays flat in the number of labels (DuckDB spills what outgrows :data:`MEMORY_LIMIT`).

The reading (formats, the checks of each row and their messages) is the report's
(``report.stream_labels``); this module holds the file and the SQL.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pandas as pd

from .._duck import connect
from ..analytics._core import LISTING_SOURCE, REPEAT_SOURCE
from ..schema import LEVEL_COLUMNS, LEVELS
from . import _sql as S

MEMORY_LIMIT = "256MB"      # DuckDB's own for the labels' checks (a connection of their own): it spills past it
BLOCK_ROWS = 1 << 17        # rows of a labels file per block read and written
# DuckDB 2.0's grouping by a text column spills the texts, not always its table of groups:
# 40M uuids ran out of its memory at 256 MB ("Out of Memory Error"; 40M ids in the documents'
# biz_id form passed, spilling).  The ids are then counted again a hash class at a time, in 4x
# as many classes at each failure, up to this many.
MAX_PASSES = 1024

_THRESHOLDS = [*(LEVEL_COLUMNS[lv] for lv in LEVELS), "threshold"]


class LabelFile:
    """A labels file as a temporary Parquet file: :meth:`write` blocks of checked rows,
    :meth:`finish`, then the review joins it (:func:`labelled_histogram`) or reads it back
    (:meth:`frame`); :meth:`close` removes it (also on ``with``'s exit)."""

    def __init__(self, source) -> None:
        self.source = Path(source)          # the user's file, for messages
        self._dir = tempfile.mkdtemp(prefix="faceanalytics-labels-")     # mode 0700
        self.parquet = os.path.join(self._dir, "labels.parquet")
        self._writer = None
        self.rows = 0           # rows with a label
        self.ids = 0            # distinct session ids (:meth:`finish`)

    def __enter__(self) -> "LabelFile":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _schema(self):
        import pyarrow as pa

        return pa.schema([("session_id", pa.string()), ("genuine", pa.bool_()), ("row", pa.int64())])

    def write(self, lab: pd.DataFrame) -> None:
        """Append a block of checked labels (``genuine`` bool, ``session_id`` text, missing
        ``genuine`` already left out), indexed by row."""
        import numpy as np
        import pyarrow as pa
        import pyarrow.parquet as pq

        if not len(lab):
            return
        cols = {"session_id": pa.array(lab["session_id"], pa.string()),
                "genuine": pa.array(lab["genuine"].to_numpy(dtype=bool)),
                "row": pa.array(np.asarray(lab.index, dtype=np.int64))}
        if self._writer is None:
            self._writer = pq.ParquetWriter(self.parquet, self._schema())
        self._writer.write_table(pa.table(cols, schema=self._schema()), row_group_size=BLOCK_ROWS)
        self.rows += len(lab)

    def finish(self) -> tuple[int, int, object]:
        """Close the file; (distinct session ids, sessions labelled both ways, the first of
        them in the ids' order) counted by DuckDB (with a memory limit, spilling beside it), a
        hash class of ids at a time if all at once runs out of memory (:data:`MAX_PASSES`)."""
        import duckdb
        import pyarrow.parquet as pq

        if self._writer is None:
            pq.write_table(self._schema().empty_table(), self.parquet)
        else:
            self._writer.close()
            self._writer = None
        passes = 1
        with self._connection() as con:
            while True:
                try:
                    return self._count(con, passes)
                except duckdb.OutOfMemoryException:
                    if passes * 4 > MAX_PASSES:
                        raise
                    passes *= 4

    def _count(self, con, passes: int) -> tuple[int, int, object]:
        ids = both = 0
        first = None
        for k in range(passes):     # each id in one pass: its hash's class
            among = f" AND hash(session_id) % {passes} = {k}" if passes > 1 else ""
            n, b, f = con.execute(
                "SELECT count(*), count(*) FILTER (WHERE g1 AND NOT g2), min(session_id) FILTER (WHERE g1 AND NOT g2) "
                f"FROM (SELECT session_id, bool_or(genuine) AS g1, bool_and(genuine) AS g2 FROM {self._read()} "
                f"WHERE session_id IS NOT NULL{among} GROUP BY session_id)").fetchone()
            ids, both = ids + int(n), both + int(b)
            if f is not None and (first is None or f < first):   # UTF-8's byte order is the code points'
                first = f
        return ids, both, first

    def _read(self) -> str:
        return "read_parquet(" + S.DuckDBDialect().text(self.parquet) + ")"

    def _connection(self):
        return connect({"memory_limit": MEMORY_LIMIT, "threads": 1, "temp_directory": os.path.join(self._dir, "spill"),
                        "preserve_insertion_order": False})

    def frame(self) -> pd.DataFrame:
        """The labels, each session once (its first row), in the file's order: what the
        review joins in memory (frames, pandas or Spark)."""
        with self._connection() as con:
            rel = con.sql("SELECT session_id, genuine FROM (SELECT *, row_number() OVER (PARTITION BY session_id "
                          f"ORDER BY row) AS k FROM {self._read()} WHERE session_id IS NOT NULL) WHERE k = 1 ORDER BY row")
            t = rel.to_arrow_table() if hasattr(rel, "to_arrow_table") else rel.fetch_arrow_table()
        return pd.DataFrame({c: pd.Series(t.column(c), dtype="str" if c != "genuine" else bool)
                             for c in t.column_names})

    def close(self) -> None:
        if self._writer is not None:
            try:
                self._writer.close()
            except Exception:
                pass
            self._writer = None
        shutil.rmtree(self._dir, ignore_errors=True)


def labelled_histogram(data_dir, labels: LabelFile, *, since, until, engine) -> tuple[pd.DataFrame, int]:
    """The period's comparisons of labelled sessions as a confidence histogram: ``comparison``,
    ``genuine``, the threshold columns, ``confidence`` and ``count`` (each attempt once, per
    comparison kind: ``analytics.once_per_attempt``), and the number of labelled sessions with
    a comparison in the period.  Untimed rows are placed as every count places them
    (:func:`~faceanalytics.engines._api.run_query`).  DuckDB only."""
    from ._api import _window, get_engine, run_query

    eng = get_engine(engine)
    d = eng.dialect
    w = _window(since, until)
    q = d.q
    sid, src_col, comp = q("session_id"), q("source"), q("comparison")
    lab = labels._read()
    cols = ", ".join(q(c) for c in ["source", "session_id", "comparison", "confidence", *_THRESHOLDS])

    def relations(src: str) -> str:
        where = w.where(d)
        # the labels of sessions with a comparison in the period (the period's ids hashed, the
        # labels streamed past them), then those comparisons
        return (f"WITH c AS (SELECT {cols} FROM {src}{where}), "
                f"l AS (SELECT {sid}, bool_or({q('genuine')}) AS {q('genuine')} FROM {lab} "
                f"WHERE {sid} IN (SELECT {sid} FROM c WHERE {sid} IS NOT NULL) GROUP BY {sid}), "
                f"m AS (SELECT * FROM c WHERE {sid} IN (SELECT {sid} FROM l)) ")

    def histogram(src: str) -> str:
        keep = (f"NOT (coalesce(m.{src_col}, '') = {d.text(REPEAT_SOURCE)} AND EXISTS (SELECT 1 FROM m AS g WHERE "
                f"g.{src_col} = {d.text(LISTING_SOURCE)} AND g.{sid} = m.{sid} AND g.{comp} = m.{comp}))")
        keys = [f"m.{comp} AS {comp}", f"l.{q('genuine')} AS {q('genuine')}",
                *(f"{_clean(d, 'm', c)} AS {q(c)}" for c in [*_THRESHOLDS, "confidence"])]
        return (relations(src) + f"SELECT {', '.join(keys)}, count(*) AS {q('count')} FROM m JOIN l ON m.{sid} = l.{sid} "
                f"WHERE m.{comp} IS NOT NULL AND {keep} GROUP BY ALL")

    def matched(src: str) -> str:
        return relations(src) + f"SELECT count(DISTINCT {sid}) AS {q('n')} FROM m"

    hist = run_query(eng, data_dir, "comparisons", histogram, counts=("count",), floats=[*_THRESHOLDS, "confidence"])
    n = run_query(eng, data_dir, "comparisons", matched, counts=("n",))
    n = int(n["n"].iloc[0]) if n is not None and len(n) else 0
    if hist is None:
        hist = pd.DataFrame({"comparison": pd.Series(dtype="str"), "genuine": pd.Series(dtype=bool),
                             **{c: pd.Series(dtype="float64") for c in [*_THRESHOLDS, "confidence"]},
                             "count": pd.Series(dtype="int64")})
    return hist, n


def _clean(d: S.Dialect, alias: str, col: str) -> str:
    """``d.clean`` of ``alias.col``: a float column with NaN read as missing."""
    c = f"{alias}.{d.q(col)}"
    return f"(CASE WHEN isnan({c}) THEN NULL ELSE {c} END)"
