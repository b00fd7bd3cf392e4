"""The explorers' questions, answered where the data lives (DuckDB or Spark over the Parquet tables).

An explorer over a data directory (:func:`faceanalytics.threshold_explorer` given ``"data"``)
never loads the rows.  It asks, each time in one scan of the months its window touches:

* :func:`overview`, once: rows per kind (comparison kind or attack type), source, week and
  threshold set, with the highest attempt, the lowest confidence and the first and last
  session time -- what the controls offer and the axis range; a few thousand rows;
* :func:`selection_histogram`, per kind, period and segment key: the exact confidence
  histogram of :func:`faceanalytics.analytics.confidence_histogram` (rows per source,
  segment value, threshold set and exact confidence), from which every count the explorer
  shows is exact (:mod:`faceanalytics.analytics._index`).  A segment read from the sessions
  (a ``biz_extra_data`` key or a sessions column) is joined one (source, month) partition at
  a time on 64-bit id hashes, as the review's counts are, so memory stays bounded;
* :func:`rows_near_cut`, per change: the rows nearest the cut (the histogram says exactly how
  far from the cut the ``k``-th nearest lies, so the query filters on a narrow confidence
  range) and, for a kind with several attempts per session, the distinct sessions that
  would flip.

Each attempt counts once (``engines._sql.once_per_attempt``), as in every metric.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .. import analytics as A
from ..analytics._core import REPEAT_SOURCE
from . import _sql as S
from ._api import PandasEngine, _empty, _periods, _run, _window, get_engine
from ._base import arrow_frame
from ._review import Segment, _and, _has_source, _hash, _once, _once_relation, _part, _partitions, decode, \
    segment_code, segment_expr

__all__ = ["overview", "selection_histogram", "rows_near_cut", "ALL"]

ALL = object()          # no condition on a column (None: the value is missing)


def _is(d: S.Dialect, column: str, value) -> str:
    return f"{d.q(column)} IS NULL" if value is None else f"{d.q(column)} = {d.text(value)}"


def _same(d: S.Dialect, column: str, value: float) -> str:
    """A float column equal to ``value`` (NaN: the column is missing), NaN read as missing."""
    c = d.clean(column)
    return f"{c} IS NULL" if np.isnan(value) else f"{c} = {d.num(value)}"


def _conditions(d: S.Dialect, where) -> list[str]:
    """``where``: (column, value) pairs; a float value matches a float column exactly."""
    out = []
    for col, value in where:
        if value is ALL:
            continue
        out.append(_same(d, col, float(value)) if isinstance(value, float) else _is(d, col, value))
    return out


def overview(data_dir, table: str, kind_column: str, thresholds: Sequence[str], *, since=None, until=None,
             freq: str = "W", engine="auto") -> pd.DataFrame | None:
    """Per kind, source, period (``freq``: the numbers of ``analytics.period_codes``) and
    threshold set: ``n`` rows, ``scored`` (with a confidence), ``max_attempt``,
    ``min_confidence``, ``first`` and ``last`` session time.  None: the table has no data."""
    eng = get_engine(engine)
    d = eng.dialect
    w = _window(since, until)
    detail = _has_source(data_dir, table, REPEAT_SOURCE)
    thresholds = list(thresholds)
    keys = [kind_column, "source", "period", *thresholds]

    def build(src):
        inner = (f"SELECT {d.q(kind_column)}, {d.q('source')}, {d.period(freq)} AS {d.q('period')}, "
                 + ", ".join(f"{d.clean(c)} AS {d.q(c)}" for c in thresholds)
                 + f", {d.clean('confidence')} AS {d.q('_c')}, coalesce({d.q('attempt')}, 1) AS {d.q('_a')}, "
                 f"{d.q('session_time')} FROM {_once_relation(d, src, w, detail)}{w.where(d)}")
        ks = ", ".join(d.q(k) for k in keys)
        return (f"SELECT {ks}, count(*) AS {d.q('n')}, count({d.q('_c')}) AS {d.q('scored')}, "
                f"max({d.q('_a')}) AS {d.q('max_attempt')}, min({d.q('_c')}) AS {d.q('min_confidence')}, "
                f"min({d.q('session_time')}) AS {d.q('first')}, max({d.q('session_time')}) AS {d.q('last')} "
                f"FROM ({inner}) AS x GROUP BY {ks}")

    return _run(eng, data_dir, table, build, counts=["n", "scored", "max_attempt"],
                floats=[*thresholds, "min_confidence"])


def _histogram_frame(agg: pd.DataFrame | None, table: str, by: list[str], freq) -> pd.DataFrame:
    """An engine's histogram counts as :func:`analytics.confidence_histogram` gives them (every
    threshold column, NaN where the table has none; rows sorted)."""
    if agg is None or agg.empty:
        h = A.confidence_histogram(_empty(table), [b for b in by if b in _empty(table).columns], freq=freq)
        for b in by:
            if b not in h:
                h.insert(0, b, pd.Series(dtype="str"))
        return h[[*by, *(["period"] if freq else []), *S.THRESHOLD_COLUMNS, "confidence", "count"]]
    agg = _periods(agg, freq)
    for c in S.THRESHOLD_COLUMNS:
        if c not in agg:
            agg[c] = np.nan
    cols = [*by, *(["period"] if freq else []), *S.THRESHOLD_COLUMNS, "confidence", "count"]
    return A.merge_histograms(agg[cols].reset_index(drop=True))


def selection_histogram(data_dir, table: str, kind_column: str, thresholds: Sequence[str], *, kind=ALL,
                        segment: Segment | None = None, by: Sequence[str] = ("source",), freq: str | None = None,
                        since=None, until=None, engine="auto") -> pd.DataFrame:
    """The exact confidence histogram of ``table``'s rows of one ``kind`` (``ALL``: every kind;
    None: rows without one) in ``[since, until)``, per ``by`` (and ``segment.label``, the
    segment's value: missing, one of ``segment.values`` or ``"(other)"``, when a segment is
    given): :func:`faceanalytics.analytics.confidence_histogram`'s frame, equal to it on the rows."""
    eng = get_engine(engine)
    thresholds, by = list(thresholds), list(by)
    if isinstance(eng, PandasEngine):
        return _pandas_histogram(data_dir, table, kind_column, kind, segment, by, freq, since, until)
    d = eng.dialect
    w = _window(since, until)
    conds = _conditions(d, [(kind_column, kind)])
    floats = [*thresholds, "confidence"]
    if segment is None:
        def build(src):
            rel = S.once_per_attempt(d, src, w)
            if conds:
                rel = f"(SELECT * FROM {rel} WHERE {' AND '.join(conds)}) AS {d.q('_k')}"
            return S.histogram(d, rel, w, by, freq, thresholds=thresholds)

        return _histogram_frame(_run(eng, data_dir, table, build, counts=["count"], floats=floats), table, by, freq)
    frames = []
    code = segment_code(d, [segment])
    with eng.relation(data_dir, table) as src, eng.relation(data_dir, "sessions") as ss:
        for part in (_partitions(eng, data_dir, table, w) if src is not None else []):
            where = _and(w.where(d), _part(d, part))
            extra = list(conds) + ([_once(d, src, w)] if part[0] == REPEAT_SOURCE else [])
            rows = f"SELECT * FROM {src}{where}" + "".join(f" AND {x}" for x in extra)
            if ss is None:
                sess = f"SELECT CAST(NULL AS BIGINT) AS {d.q('_h')}, 0 AS {d.q('code')} FROM {src} WHERE 1 = 0"
            else:
                sess = f"SELECT {_hash(d, d.q('session_id'))} AS {d.q('_h')}, {code} AS {d.q('code')} FROM {ss}{where}"
            joined = (f"(SELECT c.*, coalesce(s.{d.q('code')}, 0) AS {d.q('code')} FROM ({rows}) AS c "
                      f"LEFT JOIN ({sess}) AS s ON {_hash(d, 'c.' + d.q('session_id'))} = s.{d.q('_h')}) AS j")
            f = arrow_frame(eng.query(S.histogram(d, joined, w, [*by, "code"], freq, thresholds=thresholds)), table,
                            counts=["count", "code"], floats=floats)
            if len(f):
                frames.append(decode(f, [segment], "code"))
    agg = pd.concat(frames, ignore_index=True) if frames else None
    return _histogram_frame(agg, table, [*by, segment.label], freq)


def _pandas_histogram(data_dir, table, kind_column, kind, segment, by, freq, since, until) -> pd.DataFrame:
    """:func:`selection_histogram` by loading the rows (``engine="pandas"``)."""
    from .._explore import join_session_columns
    from ..analytics import once_per_attempt
    from ..report._counts import segment_values
    from ..store import load

    rows = once_per_attempt(load(data_dir, table, since=since, until=until))
    if kind is not ALL:
        k = rows[kind_column]
        rows = rows[(k.isna() if kind is None else k == kind).to_numpy(dtype=bool, na_value=False)]
    keys = list(by)
    if segment is not None:
        s = load(data_dir, "sessions", since=since, until=until)
        s = s[["source", "session_id"]].assign(**{segment.label: segment_values(s, segment)})
        rows = join_session_columns(rows, s, [segment.label])
        keys.append(segment.label)
    return A.confidence_histogram(rows, keys, freq=freq)


def _cut_sql(d: S.Dialect, cut) -> str:
    """A rule's threshold column, one number for every row (a custom cut), or no cut."""
    if cut is None:
        return "CAST(NULL AS DOUBLE)"
    return d.clean(cut) if isinstance(cut, str) else d.num(float(cut))


def rows_near_cut(data_dir, table: str, kind_column: str, *, kind, since, until, cut, current=None,
                  near: tuple[float, float, float] | None = None, expect: int = 0, k: int = 10,
                  flips: tuple[float, float] | None = None, strict: bool = False, where=(),
                  segment: Segment | None = None, value=ALL, engine="auto"
                  ) -> tuple[pd.DataFrame, tuple[int, int] | None]:
    """With ``near=(lo, hi, bound)``: the rows of one selection (``kind``, ``where``: more
    (column, value) conditions, ``segment`` = ``value``) with a confidence in ``[lo, hi]`` and
    ``|confidence - cut| <= bound`` (``cut``: a threshold column, each row at its own, or a
    number).  With ``flips=(lo, hi)`` (the confidences where decisions can change): the
    distinct sessions whose rows go from positive at ``current`` to negative at ``cut``, and
    back.

    Columns: ``source``, ``session_id`` (as stored: mask before showing), ``session_time``,
    ``attempt``, ``confidence``, ``threshold`` (the cut), ``current_threshold``.  ``expect``
    (rows within the bound, from the histogram): past 50,000 only the ``k`` nearest come back.
    """
    eng = get_engine(engine)
    d = eng.dialect
    w = _window(since, until)
    c, t1, t0 = d.q("_c"), d.q("_t1"), d.q("_t0")
    conds = _conditions(d, [(kind_column, kind), *where])
    seg = None
    if segment is not None and value is not ALL:
        seg = f"{segment_expr(d, segment)} IS NULL" if value is None else \
            f"{segment_expr(d, segment)} = {d.text(value)}"
    cols = [d.q(x) for x in ("source", "month", "session_id", "session_time", "attempt")]
    out_cols = ["source", "session_id", "session_time", "attempt", "_c", "_t1", "_t0"]

    def selection(src, ss, lo: float, hi: float, extra: str) -> str:
        base = (f"SELECT {', '.join(cols)}, {d.clean('confidence')} AS {c}, {_cut_sql(d, cut)} AS {t1}, "
                f"{_cut_sql(d, current)} AS {t0} FROM {S.once_per_attempt(d, src, w)}"
                f" WHERE {d.clean('confidence')} BETWEEN {d.num(lo)} AND {d.num(hi)}"
                + "".join(f" AND {x}" for x in conds))
        if seg is None:
            return f"SELECT * FROM ({base}) AS r WHERE {extra}"
        # The segment's text is read only for the sessions of the selected rows (after the join).
        raw = segment.column or "biz_extra_data"
        sess = f"SELECT {d.q('source')}, {d.q('month')}, {d.q('session_id')}, {d.q(raw)} FROM {ss}{w.where(d)}"
        on = " AND ".join(f"r.{d.q(x)} = s.{d.q(x)}" for x in ("source", "month", "session_id"))
        sel = ", ".join(f"r.{d.q(x)} AS {d.q(x)}" for x in ("source", "month", "session_id", "session_time",
                                                                 "attempt", "_c", "_t1", "_t0"))
        return (f"SELECT {sel}, s.{d.q(raw)} AS {d.q(raw)} FROM ({base}) AS r LEFT JOIN ({sess}) AS s ON {on} "
                f"WHERE {extra} AND {seg}")

    positive = (lambda x: f"coalesce({c} > {x}, false)") if strict else (lambda x: f"coalesce({c} >= {x}, false)")
    margin = f"abs({d.exact_diff(c, t1)})"
    with eng.relation(data_dir, table) as src, eng.relation(data_dir, "sessions") as ss:
        if src is None or (seg is not None and ss is None and value is not None):
            return _near_frame(pd.DataFrame(columns=out_cols)), (0, 0) if flips else None
        found = pd.DataFrame(columns=out_cols)
        if near is not None:
            lo, hi, bound = near
            sql = (f"SELECT {', '.join(d.q(x) for x in out_cols)} FROM ("
                   f"{selection(src, ss, lo, hi, f'{t1} IS NOT NULL AND {c} IS NOT NULL')}) AS n "
                   f"WHERE {margin} <= {d.num(bound)}")
            if expect > 50_000:
                sql += (f" ORDER BY {margin}, {d.q('session_time')} DESC, {d.q('source')}, {d.q('session_id')}, "
                        f"{d.q('attempt')} LIMIT {int(k)}")
            found = arrow_frame(eng.query(sql), table, floats=["_c", "_t1", "_t0"])
        sessions = None
        if flips is not None:
            p1, p0 = positive(t1), positive(t0)
            pair = d.distinct_pairs(d.q("source"), d.q("session_id"))
            sql = (f"SELECT {pair} FILTER (WHERE {p0} AND NOT {p1}) AS {d.q('down')}, "
                   f"{pair} FILTER (WHERE {p1} AND NOT {p0}) AS {d.q('up')} FROM ("
                   f"{selection(src, ss, flips[0], flips[1], f'{t1} IS NOT NULL AND {t0} IS NOT NULL')}) AS f")
            r = arrow_frame(eng.query(sql), table, counts=["down", "up"])
            sessions = (int(r["down"].iloc[0]), int(r["up"].iloc[0])) if len(r) else (0, 0)
    return _near_frame(found), sessions


def _near_frame(f: pd.DataFrame) -> pd.DataFrame:
    return f.rename(columns={"_c": "confidence", "_t1": "threshold", "_t0": "current_threshold"})
