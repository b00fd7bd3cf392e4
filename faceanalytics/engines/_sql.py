"""The counting, as SQL that DuckDB and Spark SQL both run (two small dialects).

Only counting happens in the engine: every query below returns one row per group
(or per group and exact value) with integer counts; intervals, sorting and the
final tidy frames are made in Python by :mod:`faceanalytics.engines._finish` with
the same helpers as the pandas metrics.  So the three engines agree to the last row.

Conventions shared with the pandas metrics (``faceanalytics.analytics``):

* a NaN in a float column is a missing value (``CASE WHEN isnan(x) THEN NULL``): the
  engines' own NaN ordering (NaN above every number) never decides a comparison;
* a comparison with a missing side is false (SQL's NULL in ``FILTER (WHERE ...)``);
* periods are integers computed from the epoch microseconds of ``session_time`` on the
  local calendar of ``tz`` (DuckDB ``timezone(tz, t)``, Spark ``from_utc_timestamp``):
  the index of each period's last day or month (:func:`faceanalytics._time.sql_period`),
  turned into labels in Python by the pandas code's own :func:`period_label`;
* margins use the pandas code's exact difference on the providers' 1e-4 grid;
* each verification attempt counts once (:func:`once_per_attempt`, the rule of
  ``analytics.once_per_attempt``): tables of attempts are read through it.
"""
from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from dataclasses import dataclass

from .._time import sql_period
from ..analytics._core import ANCHOR_BASIS, LISTING_SOURCE, PLACED_BASIS, REPEAT_SOURCE, UNTIMED_SOURCES
from ..schema import LEVEL_COLUMNS, full_schema

__all__ = ["Dialect", "DuckDBDialect", "SparkDialect", "Window", "once_per_attempt", "placed", "PLACED_TABLES", "pass_counts", "histogram",
           "flip_counts", "flip_shifts", "genuineness_counts", "session_scope", "value_counts", "reduce"]

THRESHOLD_COLUMNS = (*LEVEL_COLUMNS.values(), "threshold")


class Dialect:
    """What differs between DuckDB and Spark SQL for these queries.

    ``tz``: the time zone whose calendar days :meth:`period` counts when not given one
    (None: UTC); :meth:`in_zone` gives a copy for another zone."""

    tz: str | None = None

    def in_zone(self, tz) -> "Dialect":
        import copy

        from .._time import parse_tz

        d = copy.copy(self)
        d.tz = parse_tz(tz)
        return d

    def q(self, name: str) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def ts(self, t: _dt.datetime) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def epoch_us(self, expr: str) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def date_from_days(self, expr: str) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def local_time(self, expr: str, tz: str) -> str:  # pragma: no cover - abstract
        """The wall-clock time in ``tz`` of timestamp ``expr``, as a timestamp whose epoch
        microseconds count local time."""
        raise NotImplementedError

    def rint(self, expr: str) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def columns(self, alias: str, table: str, replace: dict[str, str]) -> str:
        """Every column of ``alias`` (a relation of ``table``), those of ``replace`` computed
        instead, in the relation's order."""
        raise NotImplementedError  # pragma: no cover - abstract

    def distinct_pairs(self, a: str, b: str) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    @staticmethod
    def num(x: float) -> str:
        """A float literal that parses to exactly ``x`` (a bare ``69.315`` is a DECIMAL in DuckDB)."""
        return f"CAST('{float(x)!r}' AS DOUBLE)"

    @staticmethod
    def text(s: str) -> str:
        return "'" + str(s).replace("'", "''") + "'"

    def clean(self, col: str) -> str:
        """A float column with NaN read as missing, as the pandas metrics read it."""
        c = self.q(col)
        return f"(CASE WHEN isnan({c}) THEN NULL ELSE {c} END)"

    def period(self, freq: str, col: str = "session_time", tz=None) -> str:
        """The period number of ``col`` (a pandas alias, days of ``tz``, default :attr:`tz`):
        see :mod:`faceanalytics._time`."""
        return sql_period(self, freq, self.q(col), self.tz if tz is None else tz)

    def exact_diff(self, a: str, b: str) -> str:
        """``a - b`` without binary residue on the 1e-4 grid (``analytics._flip.exact_difference``)."""
        ka, kb = self.rint(f"{a} * 10000"), self.rint(f"{b} * 10000")
        return (f"(CASE WHEN {ka} / 10000 = {a} AND {kb} / 10000 = {b} "
                f"THEN ({ka} - {kb}) / 10000 ELSE {a} - {b} END)")


class DuckDBDialect(Dialect):
    def q(self, name: str) -> str:
        return '"' + name.replace('"', '""') + '"'

    def ts(self, t: _dt.datetime) -> str:
        return f"TIMESTAMPTZ '{t.astimezone(_dt.timezone.utc):%Y-%m-%d %H:%M:%S.%f}+00'"

    def epoch_us(self, expr: str) -> str:
        return f"epoch_us({expr})"

    def date_from_days(self, expr: str) -> str:
        return f"(DATE '1970-01-01' + CAST({expr} AS INTEGER))"

    def local_time(self, expr: str, tz: str) -> str:
        return f"timezone({self.text(tz)}, {expr})"

    def rint(self, expr: str) -> str:
        return f"round_even({expr}, 0)"

    def distinct_pairs(self, a: str, b: str) -> str:
        return f"count(DISTINCT ({a}, {b}))"

    def columns(self, alias: str, table: str, replace: dict[str, str]) -> str:
        if not replace:
            return f"{alias}.*"
        return f"{alias}.* REPLACE (" + ", ".join(f"{e} AS {self.q(c)}" for c, e in replace.items()) + ")"


class SparkDialect(Dialect):
    def q(self, name: str) -> str:
        return "`" + name.replace("`", "``") + "`"

    @staticmethod
    def text(s: str) -> str:
        """Spark reads a backslash in a literal as an escape (a key or value ending in one ended
        the literal early): both it and the quote are escaped with one."""
        return "'" + str(s).replace("\\", "\\\\").replace("'", "\\'") + "'"

    def ts(self, t: _dt.datetime) -> str:
        return f"TIMESTAMP '{t.astimezone(_dt.timezone.utc):%Y-%m-%d %H:%M:%S.%f}+00:00'"

    def epoch_us(self, expr: str) -> str:
        return f"unix_micros({expr})"

    def date_from_days(self, expr: str) -> str:
        return f"date_from_unix_date(CAST({expr} AS INT))"

    def local_time(self, expr: str, tz: str) -> str:
        return f"from_utc_timestamp({expr}, {self.text(tz)})"

    def rint(self, expr: str) -> str:
        return f"rint({expr})"

    def distinct_pairs(self, a: str, b: str) -> str:
        return f"count(DISTINCT {a}, {b})"

    def columns(self, alias: str, table: str, replace: dict[str, str]) -> str:
        # the order of spark_engine.spark_schema: the table's columns, then source and month
        names = [f.name for f in full_schema(table) if f.name not in ("source", "month")] + ["source", "month"]
        return ", ".join(f"{replace[n]} AS {self.q(n)}" if n in replace else f"{alias}.{self.q(n)}" for n in names)


@dataclass(frozen=True)
class Window:
    """``since <= session_time < until`` (UTC), with the ``month`` partitions that can match.

    The same rule as :func:`faceanalytics.load`: the month filter lets the engine skip
    whole directories (partition pruning), the time filter is exact.  A row's month is where it
    is stored; rows placed at their token's getall time (:func:`placed`) may lie in any other
    month (a fetch months late; a getall time after the fetch, from a skewed clock), so the
    month filter does not prune the sources they come from
    (:data:`~faceanalytics.analytics._core.UNTIMED_SOURCES`, small tables): the relation read
    holds only their partitions that can hold rows of the window (``_placed.in_window``).
    """
    since: _dt.datetime | None = None
    until: _dt.datetime | None = None

    def where(self, d: Dialect) -> str:
        conds = []
        untimed = ", ".join(d.text(x) for x in UNTIMED_SOURCES)
        if self.since is not None:
            conds += [f"({d.q('month')} >= {d.text(self.since.strftime('%Y-%m'))} OR {d.q('source')} IN ({untimed}))",
                      f"{d.q('session_time')} >= {d.ts(self.since)}"]
        if self.until is not None:
            conds += [f"({d.q('month')} <= {d.text(self.until.strftime('%Y-%m'))} OR {d.q('source')} IN ({untimed}))",
                      f"{d.q('session_time')} < {d.ts(self.until)}"]
        return (" WHERE " + " AND ".join(conds)) if conds else ""


def once_per_attempt(d: Dialect, src: str, w: Window) -> str:
    """The rows of ``src`` in ``w`` with each attempt once, to put after ``FROM``.

    ``analytics.once_per_attempt`` in SQL: a ``baidu_detail`` row is left out when rows
    of ``baidu_getall`` in the same window list its token (``detail`` repeats the latest
    attempt ``getall`` lists).  The listing reads only the getall partition.
    """
    s, sid = d.q("source"), d.q("session_id")
    where = w.where(d)
    also = " AND " if where else " WHERE "
    listed = f"SELECT {sid} FROM {src}{where}{also}{s} = {d.text(LISTING_SOURCE)} AND {sid} IS NOT NULL"
    keep = f"(coalesce({s}, '') <> {d.text(REPEAT_SOURCE)} OR {sid} IS NULL OR {sid} NOT IN ({listed}))"
    return f"(SELECT * FROM {src}{where}{also}{keep}) AS {d.q('_once')}"


#: The tables whose rows of :data:`~faceanalytics.analytics._core.UNTIMED_SOURCES` are placed
#: at their token's getall time (attempts are getall's own, verify errors Megvii's).
PLACED_TABLES = ("sessions", "comparisons", "genuineness", "error_counts")


def anchoring(d: Dialect) -> str:
    """The condition on a sessions row whose time places the rows of its token that carry none
    (:func:`placed`): getall's, dated by its verification, with a token and a time."""
    s, sid, st = d.q("source"), d.q("session_id"), d.q("session_time")
    return (f"{s} = {d.text(LISTING_SOURCE)} AND {d.q('time_basis')} = {d.text(ANCHOR_BASIS)} AND {sid} IS NOT NULL "
            f"AND {st} IS NOT NULL")


def placed(d: Dialect, src: str, anchors: str, table: str) -> str:
    """``src`` (a relation of ``table``) with the rows of sources that carry no verification
    time placed at their token's ``baidu_getall`` time, to put after ``FROM``: the rule of
    ``analytics.place_untimed``.  ``anchors``: a relation of the sessions table (its getall
    rows dated by ``verify_time`` place the others, whatever their month).  A placed row's
    ``session_time`` is the getall row's (a sessions row's ``time_basis`` becomes ``'getall'``;
    its ``month`` stays where it is stored: see :class:`Window`); other rows, and rows of
    tokens without such a getall row, are as stored.  Timed rows pass through a plain
    ``UNION ALL`` branch, where the caller's filters still prune partitions."""
    s, sid, st = d.q("source"), d.q("session_id"), d.q("session_time")
    untimed = ", ".join(d.text(x) for x in UNTIMED_SOURCES)
    t, k = d.q("_t"), d.q("_sid")
    lookup = f"SELECT {sid} AS {k}, max({st}) AS {t} FROM {anchors} WHERE {anchoring(d)} GROUP BY {sid}"
    replace = {"session_time": f"coalesce(p.{t}, x.{st})"}
    if table == "sessions":
        replace["time_basis"] = f"(CASE WHEN p.{t} IS NULL THEN x.{d.q('time_basis')} ELSE {d.text(PLACED_BASIS)} END)"
    moved = (f"SELECT {d.columns('x', table, replace)} FROM (SELECT * FROM {src} WHERE {s} IN ({untimed})) AS x "
             f"LEFT JOIN ({lookup}) AS p ON x.{sid} = p.{k}")
    kept = f"SELECT {d.columns('y', table, {})} FROM {src} AS y WHERE {s} NOT IN ({untimed})"
    return f"({kept} UNION ALL {moved}) AS {d.q('_placed')}"


def _keys(d: Dialect, by: Sequence[str], freq: str | None, time_column: str, tz=None) -> tuple[list[str], list[str]]:
    """(projections in the inner query, key names for GROUP BY)."""
    proj = [d.q(c) for c in by]
    names = list(by)
    if freq is not None:
        proj.append(f"{d.period(freq, time_column, tz)} AS {d.q('period')}")
        names.append("period")
    return proj, names


def _select(d: Dialect, names: Sequence[str], aggs: Sequence[str], inner: str) -> str:
    cols = ", ".join([*(d.q(n) for n in names), *aggs])
    sql = f"SELECT {cols} FROM ({inner}) AS x"
    if names:
        sql += " GROUP BY " + ", ".join(d.q(n) for n in names)
    return sql


def pass_counts(d: Dialect, src: str, w: Window, by, freq, levels, time_column="session_time", tz=None) -> str:
    """Per group: ``n<i>`` (rows with level i's threshold) and ``k<i>`` (confidence >= it)."""
    proj, names = _keys(d, by, freq, time_column, tz)
    proj.append(f"{d.clean('confidence')} AS {d.q('_c')}")
    aggs = []
    for i, lv in enumerate(levels):
        proj.append(f"{d.clean(LEVEL_COLUMNS[lv])} AS {d.q(f'_t{i}')}")
        t = d.q(f"_t{i}")
        aggs += [f"count(*) FILTER (WHERE {t} IS NOT NULL) AS {d.q(f'n{i}')}",
                 f"count(*) FILTER (WHERE {d.q('_c')} >= {t}) AS {d.q(f'k{i}')}"]
    inner = f"SELECT {', '.join(proj)} FROM {src}{w.where(d)}"
    return _select(d, names, aggs, inner)


def histogram(d: Dialect, src: str, w: Window, by, freq, time_column="session_time", tz=None,
              thresholds: Sequence[str] = THRESHOLD_COLUMNS) -> str:
    """Rows per (group, threshold set, exact confidence): ``analytics.confidence_histogram``
    (``thresholds``: the threshold columns ``src`` has, e.g. anti-spoofing's ``threshold``)."""
    proj, names = _keys(d, by, freq, time_column, tz)
    cols = [*thresholds, "confidence"]
    proj += [f"{d.clean(c)} AS {d.q(c)}" for c in cols]
    inner = f"SELECT {', '.join(proj)} FROM {src}{w.where(d)}"
    return _select(d, [*names, *cols], [f"count(*) AS {d.q('count')}"], inner)


def _cut(d: Dialect, spec) -> str:
    return d.clean(LEVEL_COLUMNS[spec]) if isinstance(spec, str) else d.num(float(spec))


def _flip_inner(d: Dialect, src: str, w: Window, by, frm, to) -> str:
    proj = [d.q(c) for c in by] + [f"{d.q('source')} AS {d.q('_src')}", f"{d.q('session_id')} AS {d.q('_sid')}",
                                   f"{d.clean('confidence')} AS {d.q('_c')}",
                                   f"{_cut(d, frm)} AS {d.q('_t0')}", f"{_cut(d, to)} AS {d.q('_t1')}"]
    return f"SELECT {', '.join(proj)} FROM {src}{w.where(d)}"


def flip_counts(d: Dialect, src: str, w: Window, by, frm, to, window: float) -> str:
    """Per group, the counts of ``analytics.would_flip_summary`` (all but ``cut_shift``)."""
    c, t0, t1 = d.q("_c"), d.q("_t0"), d.q("_t1")
    mid = (f"SELECT {', '.join([*(d.q(b) for b in by), d.q('_src'), d.q('_sid')])}, "
           f"({t0} IS NOT NULL AND {t1} IS NOT NULL) AS {d.q('_both')}, "
           f"coalesce({c} >= {t0}, false) AS {d.q('_p0')}, coalesce({c} >= {t1}, false) AS {d.q('_p1')}, "
           f"{d.exact_diff(c, t0)} AS {d.q('_m0')}, {d.exact_diff(c, t1)} AS {d.q('_m1')} "
           f"FROM ({_flip_inner(d, src, w, by, frm, to)}) AS i")
    both, p0, p1 = d.q("_both"), d.q("_p0"), d.q("_p1")
    win = d.num(window)
    down, up = f"{both} AND {p0} AND NOT {p1}", f"{both} AND NOT {p0} AND {p1}"
    pair = d.distinct_pairs(d.q("_src"), d.q("_sid"))
    aggs = [f"count(*) FILTER (WHERE {both}) AS n",
            f"count(*) FILTER (WHERE {both} AND {p0}) AS passed_from",
            f"count(*) FILTER (WHERE {both} AND {p1}) AS passed_to",
            f"count(*) FILTER (WHERE {down}) AS to_reject",
            f"count(*) FILTER (WHERE {up}) AS to_pass",
            f"{pair} FILTER (WHERE {both}) AS sessions",
            f"{pair} FILTER (WHERE {down}) AS sessions_to_reject",
            f"{pair} FILTER (WHERE {up}) AS sessions_to_pass"]
    for suffix, m in (("from", d.q("_m0")), ("to", d.q("_m1"))):
        aggs += [f"count(*) FILTER (WHERE {both} AND {m} >= -{win} AND {m} < 0) AS near_below_{suffix}",
                 f"count(*) FILTER (WHERE {both} AND {m} >= 0 AND {m} < {win}) AS near_above_{suffix}"]
    return _select(d, list(by), aggs, mid)


def flip_shifts(d: Dialect, src: str, w: Window, by, frm, to) -> str:
    """Per group and ``threshold_to - threshold_from`` (exact): rows with both thresholds."""
    t0, t1 = d.q("_t0"), d.q("_t1")
    cols = [*(d.q(b) for b in by), f"{d.exact_diff(t1, t0)} AS {d.q('_shift')}"]
    mid = (f"SELECT {', '.join(cols)} FROM ({_flip_inner(d, src, w, by, frm, to)}) AS i "
           f"WHERE {t0} IS NOT NULL AND {t1} IS NOT NULL")
    return _select(d, [*by, "_shift"], [f"count(*) AS {d.q('_rows')}"], mid)


def genuineness_counts(d: Dialect, src: str, w: Window, by, freq, time_column="session_time", tz=None) -> str:
    """Per (group, attack[, period]): n, flagged, n_no_threshold, n_sessions."""
    proj, names = _keys(d, [*by, "attack"], freq, time_column, tz)
    proj += [f"{d.q('source')} AS {d.q('_src')}", f"{d.q('session_id')} AS {d.q('_sid')}",
             f"{d.clean('confidence')} AS {d.q('_c')}", f"{d.clean('threshold')} AS {d.q('_t')}"]
    c, t = d.q("_c"), d.q("_t")
    aggs = [f"count(*) FILTER (WHERE {c} IS NOT NULL AND {t} IS NOT NULL) AS n",
            f"count(*) FILTER (WHERE {c} > {t}) AS flagged",
            f"count(*) FILTER (WHERE {c} IS NOT NULL AND {t} IS NULL) AS n_no_threshold",
            f"{d.distinct_pairs(d.q('_src'), d.q('_sid'))} AS n_sessions"]
    inner = f"SELECT {', '.join(proj)} FROM {src}{w.where(d)}"
    return _select(d, names, aggs, inner)


def session_scope(d: Dialect, src: str, w: Window, by, freq, time_column="session_time", tz=None) -> str:
    """Distinct (source, session_id) per (group[, period])."""
    proj, names = _keys(d, by, freq, time_column, tz)
    proj += [f"{d.q('source')} AS {d.q('_src')}", f"{d.q('session_id')} AS {d.q('_sid')}"]
    inner = f"SELECT {', '.join(proj)} FROM {src}{w.where(d)}"
    return _select(d, names, [f"{d.distinct_pairs(d.q('_src'), d.q('_sid'))} AS n"], inner)


def value_counts(d: Dialect, src: str, w: Window, column: str, by, freq, time_column="session_time",
                 tz=None) -> str:
    """Rows per (group[, period], exact value of ``column``): ``analytics.value_histogram``."""
    proj, names = _keys(d, by, freq, time_column, tz)
    c = d.q(column)
    proj.append(f"(CASE WHEN isnan(CAST({c} AS DOUBLE)) THEN NULL ELSE CAST({c} AS DOUBLE) END) "
                f"AS {d.q('_value')}")
    inner = f"SELECT {', '.join(proj)} FROM {src}{w.where(d)}"
    return _select(d, [*names, "_value"], [f"count(*) AS {d.q('count')}"], inner)


def reduce(d: Dialect, src: str, w: Window, columns: Sequence[str], *, total: str | None = None) -> str:
    """One row per distinct combination of ``columns``, with ``_rows`` (or the sum of ``total``)."""
    proj = [d.q(c) for c in columns]
    if total is not None:
        proj.append(d.q(total))
        agg = f"CAST(sum({d.q(total)}) AS BIGINT) AS {d.q(total)}"
    else:
        agg = f"count(*) AS {d.q('_rows')}"
    inner = f"SELECT {', '.join(proj)} FROM {src}{w.where(d)}"
    return _select(d, list(columns), [agg], inner)
