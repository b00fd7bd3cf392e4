"""The metrics over a data directory, on the engine of your choice; same frames from each."""
from __future__ import annotations

import sys
from collections.abc import Sequence

import numpy as np
import pandas as pd

from .. import analytics as A
from .._time import freq_of, parse_tz, utc_datetime
from ..analytics._core import (LEVEL_COLUMNS, LEVELS, MIN_N, as_list, group_codes, level_column, level_names, min_count,
                               period_label)
from ..analytics._flip import cut_spec
from ..analytics._rates import rate_frame
from ..schema import full_schema
from . import _sql as S
from ._base import Engine
from ._placed import _placed_parts, in_window, run_query

__all__ = ["ENGINES", "PandasEngine", "get_engine", "load_placed", "pass_rates", "confidence_histogram", "would_flip_summary",
           "genuineness_rates", "error_codes", "value_histogram", "distribution_drift", "pass_rate_drift",
           "ERROR_TABLES"]

ENGINES = ("pandas", "duckdb", "spark")
ERROR_TABLES = ("sessions", "verify_errors", "error_counts", "attempts")
# What analytics.error_codes reads of each table (beside the ``by`` columns).
_ERROR_COLUMNS = {
    "sessions": ("source", "status", "error", "error_message", "failure_reason", "fail_reason",
                 "liveness_result", "verify_error"),
    "verify_errors": ("error_message", "billed"),
    "error_counts": ("api", "error_code"),
    "attempts": ("code", "message", "charged"),
}


class PandasEngine:
    """The reference: load the rows with :func:`faceanalytics.load`, run the pandas metric."""
    name = "pandas"

    def __repr__(self) -> str:
        return "PandasEngine()"


_defaults: dict[str, object] = {}


def get_engine(engine="auto"):
    """An engine from a name (``"auto"``, ``"pandas"``, ``"duckdb"``, ``"spark"``), an engine
    object, a ``duckdb`` connection or a ``SparkSession``.

    ``"auto"`` is DuckDB when it is installed (out of core, and no slower than loading
    the rows even on small tables), else pandas.  Spark is never chosen for you.
    """
    if isinstance(engine, (Engine, PandasEngine)):
        return engine
    if engine is None or engine == "auto":
        try:
            import duckdb  # noqa: F401
        except ImportError:
            return get_engine("pandas")
        return get_engine("duckdb")
    if isinstance(engine, str):
        if engine not in ENGINES:
            raise ValueError(f"engine must be one of auto, {', '.join(ENGINES)}, not {engine!r}")
        if engine not in _defaults:
            if engine == "pandas":
                _defaults[engine] = PandasEngine()
            elif engine == "duckdb":
                from .duckdb_engine import DuckDBEngine
                _defaults[engine] = DuckDBEngine()
            else:
                from .spark_engine import SparkEngine
                _defaults[engine] = SparkEngine()
        return _defaults[engine]
    duckdb = sys.modules.get("duckdb")
    if duckdb is not None and isinstance(engine, duckdb.DuckDBPyConnection):
        from .duckdb_engine import DuckDBEngine
        return DuckDBEngine(engine)
    if "pyspark.sql" in sys.modules:
        from pyspark.sql import SparkSession

        if isinstance(engine, SparkSession):
            from .spark_engine import SparkEngine
            return SparkEngine(engine)
    raise TypeError(f"engine must be a name, an engine, a duckdb connection or a SparkSession; "
                    f"got {type(engine).__name__}")


# ------------------------------------------------------------------ shared plumbing

def _window(since, until, tz=None) -> S.Window:
    """``[since, until)`` as :func:`faceanalytics.load` reads it: ISO 8601, naive = in ``tz`` (UTC)."""
    return S.Window(utc_datetime(since, "since", tz=tz), utc_datetime(until, "until", tz=tz))


def _checked(freq, tz):
    """Refuse a bad ``freq`` or ``tz`` before any data is read."""
    if freq is not None:
        freq_of(freq)
    return parse_tz(tz)


def _check(table: str, columns: Sequence[str], what: str) -> None:
    """Refuse a table that is none of the tidy tables (a bare ``KeyError('nope')``) and
    columns the table does not have, before any data is read."""
    from ..schema import TABLES

    if not isinstance(table, str) or table not in TABLES:
        raise ValueError(f"{what}: unknown table {table!r}; tables are {', '.join(TABLES)}")
    names = full_schema(table).names
    missing = [c for c in columns if c not in names]
    if missing:
        raise KeyError(f"{what} needs column(s) {', '.join(missing)}; the {table} table has "
                       f"{', '.join(names)}")


def _unique(cols) -> list[str]:
    return list(dict.fromkeys(cols))


def _load(data_dir, table: str, since, until, columns, tz=None) -> pd.DataFrame:
    w = _window(since, until, tz)
    return load_placed(data_dir, table, since=w.since, until=w.until, columns=_unique(columns))


_PLACE_KEYS = ("source", "session_id", "session_time")


def load_placed(data_dir, table: str, since=None, until=None, columns=None, parts=None) -> pd.DataFrame:
    """:func:`faceanalytics.load` with the rows of sources that carry no verification time
    (Baidu detail, simple, stat, media) placed at their token's getall time before the period
    is chosen (:func:`faceanalytics.analytics.place_untimed`): what every engine counts.

    Those rows may lie in any month (a fetch months late; a getall time after the fetch, from
    a skewed clock), as may the getall sessions rows, read whole.  ``parts``: the (source,
    month) partitions of those sources read (None: those that can hold rows of the window, by
    the first and last placed time of each that the review keeps beside a local data
    directory, worked out by DuckDB when not kept yet, :func:`._placed._placed_parts`; every
    one on object storage or without a window)."""
    import pyarrow.dataset as ds

    from ..analytics._core import LISTING_SOURCE, UNTIMED_SOURCES, place_untimed
    from ..storage.tables import load, load_arrow, nullable_dtype

    if table not in S.PLACED_TABLES:
        return load(data_dir, table, since=since, until=until, columns=columns)
    anchors = load_arrow(data_dir, "sessions", columns=["source", "session_id", "session_time", "time_basis"],
                         where=ds.field("source") == LISTING_SOURCE).to_pandas(types_mapper=nullable_dtype)
    if anchors.empty:
        return load(data_dir, table, since=since, until=until, columns=columns)
    w = _window(since, until)
    untimed = ds.field("source").isin(list(UNTIMED_SOURCES))
    timed = load_arrow(data_dir, table, w.since, w.until, columns, where=~untimed).to_pandas(types_mapper=nullable_dtype)
    if parts is None:
        parts = _placed_parts(data_dir, table, w, get_engine("duckdb"))
    if parts is not None:
        untimed = _among(parts)
    rows = load_arrow(data_dir, table, None, None, None if columns is None else _unique([*columns, *_PLACE_KEYS]),
                      where=untimed).to_pandas(types_mapper=nullable_dtype)
    rows = A.period_slice(place_untimed(rows, anchors), w.since, w.until)[list(timed.columns)]
    if not len(rows) or not len(timed):
        return (timed if not len(rows) else rows).reset_index(drop=True)
    return pd.concat([timed, rows], ignore_index=True)


def _among(parts):
    """A ``pyarrow.dataset`` filter keeping the rows of ``parts`` ((source, month) pairs; none: no row)."""
    import pyarrow.dataset as ds

    months: dict[str, list[str]] = {}
    for source, month in parts:
        months.setdefault(source, []).append(month)
    expr = ds.scalar(False)
    for source, ms in months.items():
        expr = expr | ((ds.field("source") == source) & ds.field("month").isin(ms))
    return expr


def _in(w: S.Window):
    """:func:`run_query`'s relation for the rows of ``w``: of the sources placed at their token's
    getall time, only the partitions whose placed rows can lie in ``w`` are read
    (:func:`._placed.in_window`; the bounds worked out by DuckDB for Spark on a local directory)."""
    return in_window(w, get_engine("duckdb"))


def _empty(table: str, columns=None) -> pd.DataFrame:
    """A table with no rows, as :func:`faceanalytics.load` returns it."""
    from ._base import _nullable

    t = full_schema(table).empty_table()
    if columns is not None:
        t = t.select(_unique(columns))
    return t.to_pandas(types_mapper=_nullable)


_ATTEMPT_KEY = ("source", "session_id", "attempt")


def _attempt_key(table: str) -> tuple[str, ...]:
    """What the pandas metrics need to count each attempt once, for a table of attempts."""
    return _ATTEMPT_KEY if "attempt" in full_schema(table).names else ()


def _rows(eng: Engine, table: str, src: str, w: S.Window) -> str:
    """``src`` as the pandas metrics count it: a table of attempts each attempt once."""
    return S.once_per_attempt(eng.dialect, src, w) if _attempt_key(table) else src


def _periods(agg: pd.DataFrame, freq: str | None, tz=None) -> pd.DataFrame:
    """Period numbers (nullable Int64) -> period labels (in ``tz``, microseconds; NaT when missing)."""
    if freq is None or "period" not in agg.columns:
        return agg
    num = agg["period"]
    valid = num.notna().to_numpy()
    starts = pd.Series(period_label(num.to_numpy(dtype=np.int64, na_value=0), freq, tz), index=agg.index)
    if not valid.all():
        starts[~valid] = pd.NaT
    agg = agg.copy()
    agg["period"] = starts
    return agg


def _grouped(agg: pd.DataFrame, keys: Sequence[str]):
    """(codes, keys frame) of an aggregate with one row per group (codes None: no key)."""
    if not keys:
        return None, pd.DataFrame(index=pd.RangeIndex(1))
    return group_codes(agg, list(keys))


def _column(agg: pd.DataFrame, codes, g: int, name: str) -> np.ndarray:
    v = agg[name].to_numpy(dtype=np.int64)
    if codes is None:
        return np.array([int(v.sum())], dtype=np.int64)
    out = np.zeros(g, np.int64)
    out[codes] = v
    return out


# ------------------------------------------------------------------ pass rates and histograms

def pass_rates(data_dir, by=None, *, freq: str | None = None, since=None, until=None, tz=None,
               levels: Sequence[str] = LEVELS, time_column: str = "session_time", min_n: int = MIN_N,
               confidence: float = 0.95, method: str = "wilson", engine="auto") -> pd.DataFrame:
    """:func:`faceanalytics.analytics.pass_rates` of ``DATA/tables/comparisons``, rows in
    ``[since, until)``, counted by ``engine`` (equal frames from every engine).  ``freq``: a
    pandas alias; ``tz``: the time zone of the days (and of dates given without an offset).

    >>> engines.pass_rates("data", by="comparison", freq="W", since="2026-01-01")  # doctest: +SKIP
    """
    min_n = min_count(min_n)
    by, levels = as_list(by), level_names(levels)
    cols = [level_column(lv) for lv in levels]
    _check("comparisons", [*by, *([time_column] if freq else [])], "pass_rates")
    tz = _checked(freq, tz)
    eng = get_engine(engine)
    opts = dict(freq=freq, tz=tz, time_column=time_column, levels=levels, min_n=min_n, confidence=confidence,
                method=method)
    if isinstance(eng, PandasEngine):
        df = _load(data_dir, "comparisons", since, until, [*by, time_column, "confidence", *cols], tz)
        return A.pass_rates(df, by, **opts)
    w = _window(since, until, tz)
    names = [f"{p}{i}" for i in range(len(levels)) for p in ("n", "k")]
    agg = run_query(eng, data_dir, "comparisons",
               lambda src: S.pass_counts(eng.dialect, src, w, by, freq, levels, time_column, tz), counts=names,
               relation=_in(w))
    if agg is None:
        return A.pass_rates(_empty("comparisons"), by, **opts)
    agg = _periods(agg, freq, tz)
    codes, keys = _grouped(agg, [*by, *(["period"] if freq else [])])
    g = len(keys)
    ns = [_column(agg, codes, g, f"n{i}") for i in range(len(levels))]
    ks = [_column(agg, codes, g, f"k{i}") for i in range(len(levels))]
    return rate_frame(keys, levels, "level", ns, ks, min_n=min_n, confidence=confidence, method=method)


def confidence_histogram(data_dir, by=None, *, freq: str | None = None, since=None, until=None, tz=None,
                         time_column: str = "session_time", engine="auto") -> pd.DataFrame:
    """:func:`faceanalytics.analytics.confidence_histogram` of the comparisons in ``[since, until)``.

    Rows per (group, threshold set, exact confidence): small however many comparisons
    it counts, and every threshold question (``pass_rates_from_histogram``,
    ``rates_at_cut``, ``plot_confidence_thresholds``) is answered from it exactly.
    """
    by = as_list(by)
    _check("comparisons", [*by, *([time_column] if freq else [])], "confidence_histogram")
    tz = _checked(freq, tz)
    eng = get_engine(engine)
    if isinstance(eng, PandasEngine):
        df = _load(data_dir, "comparisons", since, until,
                   [*by, time_column, "confidence", *S.THRESHOLD_COLUMNS, *_ATTEMPT_KEY], tz)
        return A.confidence_histogram(df, by, freq=freq, tz=tz, time_column=time_column)
    w = _window(since, until, tz)
    agg = run_query(eng, data_dir, "comparisons",
               lambda src: S.histogram(eng.dialect, S.once_per_attempt(eng.dialect, src, w), w, by, freq,
                                       time_column, tz),
               counts=["count"], floats=[*S.THRESHOLD_COLUMNS, "confidence"], relation=_in(w))
    if agg is None:
        return A.confidence_histogram(_empty("comparisons"), by, freq=freq, tz=tz, time_column=time_column)
    return A.merge_histograms(_periods(agg, freq, tz))


def value_histogram(data_dir, table: str = "comparisons", column: str = "confidence", by=None, *,
                    freq: str | None = None, since=None, until=None, tz=None, time_column: str = "session_time",
                    engine="auto") -> pd.DataFrame:
    """:func:`faceanalytics.analytics.value_histogram`: rows per (group[, period], exact value of
    ``column``) of ``table`` in ``[since, until)`` -- what drift is computed from."""
    by = as_list(by)
    _check(table, [*by, column, *([time_column] if freq else [])], "value_histogram")
    tz = _checked(freq, tz)
    eng = get_engine(engine)
    if isinstance(eng, PandasEngine):
        df = _load(data_dir, table, since, until, [*by, time_column, column, *_attempt_key(table)], tz)
        return A.value_histogram(df, column, by, freq=freq, tz=tz, time_column=time_column)
    w = _window(since, until, tz)
    agg = run_query(eng, data_dir, table,
               lambda src: S.value_counts(eng.dialect, _rows(eng, table, src, w), w, column, by, freq,
                                          time_column, tz),
               counts=["count"], floats=["_value"], relation=_in(w))
    if agg is None:
        return A.value_histogram(_empty(table), column, by, freq=freq, tz=tz, time_column=time_column)
    agg = _periods(agg, freq, tz).rename(columns={"_value": column})
    return A.merge_histograms(agg)


# ------------------------------------------------------------------ would-flip

def would_flip_summary(data_dir, frm="1e-4", to="1e-5", *, by=None, window: float = 1.0, since=None,
                       until=None, engine="auto") -> pd.DataFrame:
    """:func:`faceanalytics.analytics.would_flip_summary` of the comparisons in ``[since, until)``."""
    by = as_list(by)
    # a level however written ("0.00001", 1e-5) or a 0-100 cut, as the pandas metric reads them
    frm, to = cut_spec(frm, "frm"), cut_spec(to, "to")
    l0, l1 = (x if isinstance(x, str) else f"{x:g}" for x in (frm, to))
    _check("comparisons", by, "would_flip_summary")
    eng = get_engine(engine)
    if isinstance(eng, PandasEngine):
        cols = [*by, "source", "session_id", "comparison", "attempt", "session_time", "confidence",
                *(LEVEL_COLUMNS[s] for s in (frm, to) if isinstance(s, str))]
        df = _load(data_dir, "comparisons", since, until, cols)
        return A.would_flip_summary(df, frm, to, by=by, window=window)
    w = _window(since, until)
    counts = ["n", "passed_from", "passed_to", "to_reject", "to_pass", "sessions", "sessions_to_reject",
              "sessions_to_pass", "near_below_from", "near_above_from", "near_below_to", "near_above_to"]
    agg = run_query(eng, data_dir, "comparisons",
               lambda src: S.flip_counts(eng.dialect, S.once_per_attempt(eng.dialect, src, w), w, by, frm, to,
                                         window), counts=counts, relation=_in(w))
    if agg is None:
        return A.would_flip_summary(_empty("comparisons"), frm, to, by=by, window=window)
    shifts = run_query(eng, data_dir, "comparisons",
                  lambda src: S.flip_shifts(eng.dialect, S.once_per_attempt(eng.dialect, src, w), w, by, frm, to),
                  counts=["_rows"], floats=["_shift"], relation=_in(w))
    if by:
        both = pd.concat([agg[by], shifts[by]], ignore_index=True)
        codes, keys = group_codes(both, by)
        codes, scodes = codes[:len(agg)], codes[len(agg):]
    else:
        codes, keys = None, pd.DataFrame(index=pd.RangeIndex(1))
        scodes = np.zeros(len(shifts), np.int64)
    g = len(keys)
    out = keys.copy() if by else pd.DataFrame(index=pd.RangeIndex(1))
    out["from"] = l0
    out["to"] = l1
    for c in counts[:5]:
        out[c] = _column(agg, codes, g, c)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["changed_share"] = (out["to_reject"] + out["to_pass"]) / out["n"].where(out["n"] > 0)
    out["changed_share"] = out["changed_share"].astype("float64")
    for c in counts[5:]:
        out[c] = _column(agg, codes, g, c)
    out["cut_shift"] = np.nan
    if len(shifts):
        # The most common shift per group, ties to the smallest (as the pandas metric).
        vc = pd.DataFrame({"g": scodes, "s": shifts["_shift"].to_numpy(dtype=np.float64),
                           "c": shifts["_rows"].to_numpy(dtype=np.int64)})
        vc = vc.sort_values(["g", "c", "s"], ascending=[True, False, True]).drop_duplicates("g")
        out["cut_shift"] = pd.Series(np.arange(g)).map(vc.set_index("g")["s"]).astype("float64").to_numpy()
    out.insert(len(by) + 2, "window", float(window))
    out = out[out["n"] > 0] if by else out
    return out.reset_index(drop=True)


# ------------------------------------------------------------------ anti-spoofing

def genuineness_rates(data_dir, by=None, *, freq: str | None = None, since=None, until=None, tz=None,
                      scope: str = "genuineness", time_column: str = "session_time", min_n: int = MIN_N,
                      confidence: float = 0.95, method: str = "wilson", engine="auto") -> pd.DataFrame:
    """:func:`faceanalytics.analytics.genuineness_rates` of ``DATA/tables/genuineness``.

    ``scope="genuineness"``: coverage over the sessions that returned any anti-spoofing
    field; ``scope="sessions"``: over the ``sessions`` table (pandas: ``sessions=``).
    """
    min_n = min_count(min_n)
    by = as_list(by)
    if scope not in ("genuineness", "sessions"):
        raise ValueError("scope must be 'genuineness' or 'sessions'")
    tcols = [time_column] if freq else []
    _check("genuineness", [*by, *tcols], "genuineness_rates")
    if scope == "sessions":
        _check("sessions", [*by, *tcols], "genuineness_rates(scope='sessions')")
    tz = _checked(freq, tz)
    eng = get_engine(engine)
    opts = dict(freq=freq, tz=tz, time_column=time_column, min_n=min_n, confidence=confidence, method=method)
    if isinstance(eng, PandasEngine):
        g = _load(data_dir, "genuineness", since, until,
                  [*by, "source", "session_id", time_column, "attack", "confidence", "threshold"], tz)
        s = _load(data_dir, "sessions", since, until, [*by, "source", "session_id", time_column], tz) \
            if scope == "sessions" else None
        return A.genuineness_rates(g, by, sessions=s, **opts)
    w = _window(since, until, tz)
    agg = run_query(eng, data_dir, "genuineness",
               lambda src: S.genuineness_counts(eng.dialect, S.once_per_attempt(eng.dialect, src, w), w, by, freq,
                                                time_column, tz),
               counts=["n", "flagged", "n_no_threshold", "n_sessions"], relation=_in(w))
    if agg is None:
        return A.genuineness_rates(_empty("genuineness"), by,
                                   sessions=_empty("sessions") if scope == "sessions" else None, **opts)
    sc = run_query(eng, data_dir, scope,
              lambda src: S.session_scope(eng.dialect, _rows(eng, scope, src, w), w, by, freq, time_column, tz),
              counts=["n"], relation=_in(w))
    if sc is None:
        sc = pd.DataFrame({**{c: _empty(scope)[c] for c in by}, **({"period": pd.Series(dtype="Int64")}
                                                                      if freq else {}),
                           "n": pd.Series(dtype="int64")})
    agg, sc = _periods(agg, freq, tz), _periods(sc, freq, tz)
    codes, keys = group_codes(agg, [*by, "attack", *(["period"] if freq else [])])
    g = len(keys)
    n, k = _column(agg, codes, g, "n"), _column(agg, codes, g, "flagged")
    out = rate_frame(keys, ["_"], "_", [n], [k], count_name="flagged", rate_name="flagged_rate",
                     min_n=min_n, confidence=confidence, method=method, keep_empty=True)
    out = out.drop(columns="_")
    out["n_no_threshold"] = _column(agg, codes, g, "n_no_threshold")
    out["n_sessions"] = _column(agg, codes, g, "n_sessions")
    scope_keys = [*by] + (["period"] if freq else [])
    if scope_keys:
        scodes, skeys = group_codes(sc, scope_keys)
        skeys = skeys.copy()
        skeys["n_sessions_in_scope"] = _column(sc, scodes, len(skeys), "n")
        out = out.merge(skeys, on=scope_keys, how="left", sort=False)
        out["n_sessions_in_scope"] = out["n_sessions_in_scope"].fillna(0).astype("int64")
    else:
        out["n_sessions_in_scope"] = int(sc["n"].sum()) if len(sc) else 0
    from ..analytics._spoof import finish_coverage

    return finish_coverage(out)


# ------------------------------------------------------------------ errors

def error_codes(data_dir, tables: Sequence[str] = ERROR_TABLES, *, by=None, since=None, until=None,
                engine="auto") -> pd.DataFrame:
    """:func:`faceanalytics.analytics.error_codes` over ``tables`` of the data directory.

    The engine counts the rows per distinct combination of the columns the metric
    reads (a few hundred combinations for millions of sessions); the pandas metric
    then runs on those, each weighted by its count.
    """
    by = as_list(by)
    tables = list(tables)
    for t in tables:
        if t not in _ERROR_COLUMNS:
            raise ValueError(f"error_codes reads {', '.join(ERROR_TABLES)}, not {t!r}")
        _check(t, by, "error_codes")
    eng = get_engine(engine)
    frames = []
    for t in tables:
        cols = _unique([*by, *_ERROR_COLUMNS[t]])
        total = "count" if t == "error_counts" else None
        if isinstance(eng, PandasEngine):
            frames.append(_load(data_dir, t, since, until, [*cols, *([total] if total else [])]))
            continue
        w = _window(since, until)
        f = run_query(eng, data_dir, t, lambda src: S.reduce(eng.dialect, src, w, cols, total=total),
                 counts=[] if total else ["_rows"], relation=_in(w))
        frames.append(f if f is not None else _empty(t, [*cols, *([total] if total else [])]))
    return A.error_codes(*frames, by=by)


# ------------------------------------------------------------------ drift

def _bounds(window, what: str):
    try:
        since, until = window
    except (TypeError, ValueError):
        raise TypeError(f"{what} must be a (since, until) pair, e.g. ('2026-01-01', '2026-02-01')") from None
    return since, until


def pass_rate_drift(data_dir, baseline, current, *, by=None, levels: Sequence[str] = LEVELS,
                    min_n: int = MIN_N, confidence: float = 0.95, engine="auto") -> pd.DataFrame:
    """:func:`faceanalytics.analytics.pass_rate_drift` between two windows of the comparisons.

    ``baseline`` and ``current`` are ``(since, until)`` pairs (``until`` exclusive).
    """
    min_n = min_count(min_n)
    by, levels = as_list(by), level_names(levels)
    (b0, b1), (c0, c1) = _bounds(baseline, "baseline"), _bounds(current, "current")
    eng = get_engine(engine)
    if isinstance(eng, PandasEngine):
        cols = [*by, "confidence", *(LEVEL_COLUMNS[lv] for lv in levels)]
        return A.pass_rate_drift(_load(data_dir, "comparisons", b0, b1, cols),
                                 _load(data_dir, "comparisons", c0, c1, cols), by, levels=levels,
                                 min_n=min_n, confidence=confidence)
    opts = dict(by=by, levels=levels, min_n=min_n, confidence=confidence, engine=eng)
    a = pass_rates(data_dir, since=b0, until=b1, **opts)
    b = pass_rates(data_dir, since=c0, until=c1, **opts)
    return A.pass_rate_drift_from_rates(a, b, by, min_n=min_n, confidence=confidence)


def distribution_drift(data_dir, baseline, current, *, table: str = "comparisons", column: str = "confidence",
                       by=None, bins: int = 10, engine="auto") -> pd.DataFrame:
    """:func:`faceanalytics.analytics.distribution_drift` (PSI, KS) of ``column`` of ``table``
    between two ``(since, until)`` windows, from exact value histograms."""
    by = as_list(by)
    _check(table, [*by, column], "distribution_drift")
    (b0, b1), (c0, c1) = _bounds(baseline, "baseline"), _bounds(current, "current")
    eng = get_engine(engine)
    if isinstance(eng, PandasEngine):
        cols = [*by, column, *_attempt_key(table)]
        return A.distribution_drift(_load(data_dir, table, b0, b1, cols), _load(data_dir, table, c0, c1, cols),
                                    by, column=column, bins=bins)
    ha = value_histogram(data_dir, table, column, by, since=b0, until=b1, engine=eng)
    hb = value_histogram(data_dir, table, column, by, since=c0, until=c1, engine=eng)
    return A.distribution_drift_from_histograms(ha, hb, by, column=column, bins=bins)
