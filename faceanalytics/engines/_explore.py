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

Each attempt counts once (``engines._sql.once_per_attempt``), as in every metric; only the
``baidu_detail`` partitions pay for that check (``engines._review._once_relation``).  Rows that
carry no verification time (Baidu detail, simple, stat, media) are placed at their token's getall
time (``engines._sql.placed``) in all three, so a period holds the rows the review counts in it;
as the review, they read only those sources' partitions whose placed rows can lie in the window
(``_placed._window_relations``; the segmented histogram: ``_placed._Placed.leave_out``).
"""
from __future__ import annotations

import contextlib
import uuid
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from .. import analytics as A
from ..analytics._core import REPEAT_SOURCE
from ..analytics._segments import join_session_columns
from . import _sql as S
from ._api import PandasEngine, _empty, _in, _periods, get_engine, load_placed, _window
from ._base import arrow_frame, table_root
from ._placed import _kept_beside, _Layout, _part, _Placed, _window_relations, run_query
from ._review import (Segment, _and, _hash, _key, _once, _once_relation, digit_values, segment_digit, segment_expr,
                      segment_values)

__all__ = ["overview", "selection_histogram", "rows_near_cut", "ALL"]

ALL = object()          # no condition on a column (None: the value is missing)


def _has_source(data_dir, table: str, source: str) -> bool:
    """Whether ``table`` has a ``source`` partition (always assumed for a URL)."""
    root = table_root(data_dir, table)
    return "://" in root or Path(root, f"source={source}").is_dir()


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
    ``min_confidence``, ``first`` and ``last`` session time, in the keys' order.  None: the
    table has no data."""
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
                 f"{d.q('session_time')} FROM {_once_relation(d, src, w, src if detail else None)}{w.where(d)}")
        ks = ", ".join(d.q(k) for k in keys)
        return (f"SELECT {ks}, count(*) AS {d.q('n')}, count({d.q('_c')}) AS {d.q('scored')}, "
                f"max({d.q('_a')}) AS {d.q('max_attempt')}, min({d.q('_c')}) AS {d.q('min_confidence')}, "
                f"min({d.q('session_time')}) AS {d.q('first')}, max({d.q('session_time')}) AS {d.q('last')} "
                f"FROM ({inner}) AS x GROUP BY {ks}")

    out = run_query(eng, data_dir, table, build, counts=["n", "scored", "max_attempt"],
                    floats=[*thresholds, "min_confidence"], relation=_in(w))
    # Spark's groups come back in any order
    return None if out is None else out.sort_values(keys, kind="stable", na_position="first").reset_index(drop=True)


def _histogram_frame(agg: pd.DataFrame | None, table: str, by: list[str], freq, tz=None) -> pd.DataFrame:
    """An engine's histogram counts as :func:`analytics.confidence_histogram` gives them (every
    threshold column, NaN where the table has none; rows sorted)."""
    if agg is None or agg.empty:
        h = A.confidence_histogram(_empty(table), [b for b in by if b in _empty(table).columns], freq=freq)
        for b in by:
            if b not in h:
                h.insert(0, b, pd.Series(dtype="str"))
        return h[[*by, *(["period"] if freq else []), *S.THRESHOLD_COLUMNS, "confidence", "count"]]
    agg = _periods(agg, freq, tz)
    for c in S.THRESHOLD_COLUMNS:
        if c not in agg:
            agg[c] = np.nan
    cols = [*by, *(["period"] if freq else []), *S.THRESHOLD_COLUMNS, "confidence", "count"]
    return A.merge_histograms(agg[cols].reset_index(drop=True))


def selection_histogram(data_dir, table: str, kind_column: str, thresholds: Sequence[str], *, kind=ALL,
                        segment: Segment | None = None, by: Sequence[str] = ("source",), freq: str | None = None,
                        since=None, until=None, tz=None, engine="auto") -> pd.DataFrame:
    """The exact confidence histogram of ``table``'s rows of one ``kind`` (``ALL``: every kind;
    None: rows without one) in ``[since, until)``, per ``by`` (and ``segment.label``, the
    segment's value: missing, one of ``segment.values`` or ``"(other)"``, when a segment is
    given): :func:`faceanalytics.analytics.confidence_histogram`'s frame, equal to it on the rows.
    Periods of ``freq`` are buckets in ``tz`` (UTC by default), as the metrics' ``tz=``."""
    eng = get_engine(engine)
    thresholds, by = list(thresholds), list(by)
    if isinstance(eng, PandasEngine):
        return _pandas_histogram(data_dir, table, kind_column, kind, segment, by, freq, since, until, tz)
    d = eng.dialect
    w = _window(since, until, tz)
    conds = _conditions(d, [(kind_column, kind)])
    floats = [*thresholds, "confidence"]
    if segment is None:
        detail = _has_source(data_dir, table, REPEAT_SOURCE)

        def build(src):
            rel = _once_relation(d, src, w, src if detail else None)
            if conds:
                rel = f"(SELECT * FROM {rel} WHERE {' AND '.join(conds)}) AS {d.q('_k')}"
            return S.histogram(d, rel, w, by, freq, thresholds=thresholds, tz=tz)

        return _histogram_frame(run_query(eng, data_dir, table, build, counts=["count"], floats=floats,
                                          relation=_in(w)), table, by, freq, tz)
    # Each (source, month) partition's rows joined to that partition's sessions (a hash table of
    # one month of one source), the partitions' histograms added up as they come: memory bounded
    # whatever the window.  On a local data directory (DuckDB) a partition reads exactly its files
    # and is matched on the stored ``session_key`` when every file has it (else on hashed ids).
    code = segment_digit(d, segment)
    keys = [*by, "code", *(["period"] if freq else []), *thresholds, "confidence"]
    keep = [d.q(x) for x in dict.fromkeys([*by, "source", "month", "session_time", *thresholds, "confidence"])]

    def joined(src, ss, where, swhere, key, extra):
        rows = (f"SELECT {', '.join(keep)}, {key} AS {d.q('_h')} FROM {src}{where}"
                + "".join(f" AND {x}" for x in extra))
        if ss is None:
            return f"(SELECT {', '.join('c.' + k for k in keep)}, 0 AS {d.q('code')} FROM ({rows}) AS c) AS j"
        sess = f"SELECT {key} AS {d.q('_h')}, {code} AS {d.q('code')} FROM {ss}{swhere}"
        return (f"(SELECT {', '.join('c.' + k for k in keep)}, coalesce(s.{d.q('code')}, 0) AS "
                f"{d.q('code')} FROM ({rows}) AS c LEFT JOIN ({sess}) AS s ON c.{d.q('_h')} = s.{d.q('_h')}) AS j")

    queries = []
    # Rows without a verification time (Baidu detail, ...) placed at their token's getall time, as
    # the review counts them (``_Layout``'s default: ``S.placed``; their partitions listed in every
    # month, those whose placed rows all lie outside the window left out, as the review leaves them).
    lay = _Layout(eng, data_dir, w, w.since or pd.Timestamp("1970-01-01", tz="UTC"), tables=(table, "sessions"))
    if lay.local:
        _Placed(lay, _kept_beside(lay, data_dir)).leave_out(w)
        with contextlib.ExitStack() as stack:
            listing = None
            for part in sorted(lay.parts[table]):
                src, _ = stack.enter_context(lay.relation(table, [part]))
                ss, _ = stack.enter_context(lay.relation("sessions", [part]))
                extra = list(conds)
                if part[0] == REPEAT_SOURCE:
                    if listing is None:
                        listing, _ = stack.enter_context(lay.relation(table))
                    extra.append(_once(d, listing, w))
                where = w.where(d)
                j = joined(src, ss, where or " WHERE true", where, _key(d, lay.keyed([part])), extra)
                queries.append(S.histogram(d, j, w, [*by, "code"], freq, thresholds=thresholds, tz=tz))
            agg = _summed(eng, queries, keys, "count")
    else:
        with lay.relation(table) as (src, _), lay.relation("sessions") as (ss, _):
            if src is not None:
                for part in sorted(lay.parts[table]):
                    where = _and(w.where(d), _part(d, part))
                    extra = list(conds) + ([_once(d, src, w)] if part[0] == REPEAT_SOURCE else [])
                    j = joined(src, ss, where, where, _hash(d, d.q("session_id")), extra)
                    queries.append(S.histogram(d, j, w, [*by, "code"], freq, thresholds=thresholds, tz=tz))
            agg = _summed(eng, queries, keys, "count")
    if agg is not None:
        agg = arrow_frame(agg, table, counts=["count", "code"], floats=[*thresholds, "confidence"])
        if len(agg):
            values = digit_values(segment)[agg["code"].to_numpy(dtype=np.int64)]
            agg = agg.drop(columns="code").assign(**{segment.label: pd.Series(values, index=agg.index, dtype="str")})
        else:
            agg = None
    return _histogram_frame(agg, table, [*by, segment.label], freq, tz)


def _summed(eng, queries: Sequence[str], keys: Sequence[str], total: str):
    """The sum of ``total`` per ``keys`` over the rows of all ``queries`` (an Arrow table; None:
    no query).  DuckDB keeps a running sum in a table of its own database, folded every few
    queries, so only one partition's rows and the running sum are held at a time; elsewhere
    (Spark) one statement over their union."""
    if not queries:
        return None
    d = eng.dialect
    ks = ", ".join(d.q(k) for k in keys)
    fold = lambda rel: f"SELECT {ks}, CAST(sum({d.q(total)}) AS BIGINT) AS {d.q(total)} FROM {rel} GROUP BY {ks}"  # noqa: E731
    if not hasattr(eng, "connection"):
        return eng.query(fold("(" + " UNION ALL ".join(queries) + ") AS u"))
    con = eng.connection()
    name = f"fa_explore_{uuid.uuid4().hex[:12]}"
    try:
        con.execute(f"CREATE TABLE {name} AS {queries[0]}")
        for i, q in enumerate(queries[1:], 1):
            con.execute(f"INSERT INTO {name} {q}")
            if i % 4 == 0:
                con.execute(f"CREATE OR REPLACE TABLE {name} AS {fold(name)}")
        return eng.query(fold(name))
    finally:
        con.execute(f"DROP TABLE IF EXISTS {name}")


def _pandas_histogram(data_dir, table, kind_column, kind, segment, by, freq, since, until, tz=None) -> pd.DataFrame:
    """:func:`selection_histogram` by loading the rows (``engine="pandas"``)."""
    from ..analytics import once_per_attempt

    w = _window(since, until, tz)
    rows = once_per_attempt(load_placed(data_dir, table, since=w.since, until=w.until))
    if kind is not ALL:
        k = rows[kind_column]
        rows = rows[(k.isna() if kind is None else k == kind).to_numpy(dtype=bool, na_value=False)]
    keys = list(by)
    if segment is not None:
        s = load_placed(data_dir, "sessions", since=w.since, until=w.until)
        s = s[["source", "session_id"]].assign(**{segment.label: segment_values(s, segment)})
        rows = join_session_columns(rows, s, [segment.label])
        keys.append(segment.label)
    return A.confidence_histogram(rows, keys, freq=freq, tz=tz)


def _cut_sql(d: S.Dialect, cut) -> str:
    """A rule's threshold column, one number for every row (a custom cut), or no cut."""
    if cut is None:
        return "CAST(NULL AS DOUBLE)"
    return d.clean(cut) if isinstance(cut, str) else d.num(float(cut))


def rows_near_cut(data_dir, table: str, kind_column: str, *, kind, since, until, cut, current=None,
                  near: tuple[Sequence[tuple[float, float]], float] | None = None, expect: int = 0, k: int = 10,
                  flips: tuple[float, float] | None = None, strict: bool = False, where=(),
                  segment: Segment | None = None, value=ALL, sources: Sequence[str] | None = None,
                  engine="auto") -> tuple[pd.DataFrame, tuple[int, int] | None]:
    """With ``near=(ranges, bound)``: the rows of one selection (``kind``, ``where``: more
    (column, value) conditions, ``segment`` = ``value``) with a confidence in one of the
    ``(lo, hi)`` ranges and ``|confidence - cut| <= bound`` (``cut``: a threshold column, each
    row at its own, or a number).  With ``flips=(lo, hi)`` (the confidences where decisions
    can change): the distinct sessions whose rows go from positive at ``current`` to negative
    at ``cut``, and back.  ``sources``: the sources the kind's rows come from (the sessions
    read for a segment).

    Columns: ``source``, ``session_id`` (as stored: mask before showing), ``session_time``,
    ``attempt``, ``confidence``, ``threshold`` (the cut), ``current_threshold``.  ``expect``
    (rows within the bound, from the histogram): past 50,000 only the ``k`` nearest come back.
    A segment's value is read for the sessions of the rows found only (a second query, by id).
    """
    eng = get_engine(engine)
    d = eng.dialect
    w = _window(since, until)
    c, t1, t0 = d.q("_c"), d.q("_t1"), d.q("_t0")
    conds = _conditions(d, [(kind_column, kind), *where])
    use_seg = segment is not None and value is not ALL
    out_cols = ["source", "month", "session_id", "session_time", "attempt", "_c", "_t1", "_t0"]
    detail = _has_source(data_dir, table, REPEAT_SOURCE)
    conf = d.clean("confidence")

    def rows(src, ranges, extra: str) -> str:
        within = " OR ".join(f"{conf} BETWEEN {d.num(lo)} AND {d.num(hi)}" for lo, hi in ranges)
        base = (f"SELECT {', '.join(d.q(x) for x in out_cols[:5])}, {conf} AS {c}, {_cut_sql(d, cut)} AS {t1}, "
                f"{_cut_sql(d, current)} AS {t0} FROM {_once_relation(d, src, w, src if detail else None)}"
                + _and(w.where(d), f"({within})") + "".join(f" AND {x}" for x in conds))
        return f"SELECT * FROM ({base}) AS r WHERE {extra}"

    positive = (lambda x: f"coalesce({c} > {x}, false)") if strict else (lambda x: f"coalesce({c} >= {x}, false)")
    margin = f"abs({d.exact_diff(c, t1)})"
    found = pd.DataFrame(columns=out_cols)
    sessions = None
    with _window_relations(eng, data_dir, w, [table, "sessions"], get_engine("duckdb")) as (src, ss):
        if src is None:
            return _near_frame(found), (0, 0) if flips else None
        if near is not None:
            ranges, bound = near
            sql = (f"SELECT * FROM ({rows(src, ranges, f'{t1} IS NOT NULL AND {c} IS NOT NULL')}) AS n "
                   f"WHERE {margin} <= {d.num(bound)}")
            if expect > 50_000 and not use_seg:
                sql += (f" ORDER BY {margin}, {d.q('session_time')} DESC, {d.q('source')}, {d.q('session_id')}, "
                        f"{d.q('attempt')} LIMIT {int(k)}")
            found = arrow_frame(eng.query(sql), table, floats=["_c", "_t1", "_t0"])
            if use_seg and len(found):
                v = _segment_of(eng, ss, w, found, segment)
                found = found[(v.isna() if value is None else v == value).to_numpy(dtype=bool, na_value=False)]
        if flips is not None:
            p1, p0 = positive(t1), positive(t0)
            pair = d.distinct_pairs(d.q("source"), d.q("session_id"))
            flipped = rows(src, [flips], f"{t1} IS NOT NULL AND {t0} IS NOT NULL")
            if use_seg and ss is not None:
                test = (f"{segment_expr(d, segment)} IS NULL" if value is None
                        else f"{segment_expr(d, segment)} = {d.text(value)}")
                raw = segment.column or "biz_extra_data"
                only = "" if sources is None else \
                    f" AND {d.q('source')} IN ({', '.join(d.text(x) for x in sources) or 'NULL'})"
                sess = (f"SELECT {d.q('source')}, {d.q('month')}, {d.q('session_id')}, {d.q(raw)} FROM {ss}"
                        f"{w.where(d) or ' WHERE 1 = 1'}{only}")
                on = " AND ".join(f"f.{d.q(x)} = s.{d.q(x)}" for x in ("source", "month", "session_id"))
                cols = ", ".join(f"f.{d.q(x)} AS {d.q(x)}" for x in ("source", "session_id", "_c", "_t1", "_t0"))
                flipped = f"SELECT {cols} FROM ({flipped}) AS f LEFT JOIN ({sess}) AS s ON {on} WHERE {test}"
            elif use_seg and value is not None:
                flipped = f"SELECT * FROM ({flipped}) AS f WHERE 1 = 0"
            sql = (f"SELECT {pair} FILTER (WHERE {p0} AND NOT {p1}) AS {d.q('down')}, "
                   f"{pair} FILTER (WHERE {p1} AND NOT {p0}) AS {d.q('up')} FROM ({flipped}) AS g")
            r = arrow_frame(eng.query(sql), table, counts=["down", "up"])
            sessions = (int(r["down"].iloc[0]), int(r["up"].iloc[0])) if len(r) else (0, 0)
    return _near_frame(found.drop(columns="month")), sessions


def _segment_of(eng, ss, w, found: pd.DataFrame, segment: Segment) -> pd.Series:
    """The segment value of each row's session: the sessions of those rows only, read by id
    (in the rows' months), their value worked out as the pandas counts do
    (:func:`._review.segment_values`)."""

    d = eng.dialect
    raw = segment.column or "biz_extra_data"
    keys = found[["source", "month", "session_id"]].drop_duplicates()
    frames = []
    if ss is not None:
        months = ", ".join(d.text(m) for m in sorted(keys["month"].astype("str").unique()))
        ids = keys["session_id"].astype("str").unique().tolist()
        for i in range(0, len(ids), 5000):         # an IN list per 5,000 ids keeps the SQL small
            chunk = ", ".join(d.text(x) for x in ids[i:i + 5000])
            sql = (f"SELECT {d.q('source')}, {d.q('session_id')}, {d.q(raw)} FROM {ss}"
                   + _and(w.where(d), f"{d.q('month')} IN ({months}) AND {d.q('session_id')} IN ({chunk})"))
            frames.append(arrow_frame(eng.query(sql), "sessions"))
    s = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        {"source": pd.Series(dtype="str"), "session_id": pd.Series(dtype="str"), raw: pd.Series(dtype="str")})
    s = s[["source", "session_id"]].assign(_v=segment_values(s, segment))
    return join_session_columns(found, s, ["_v"])["_v"]


def _near_frame(f: pd.DataFrame) -> pd.DataFrame:
    return f.rename(columns={"_c": "confidence", "_t1": "threshold", "_t0": "current_threshold"})
