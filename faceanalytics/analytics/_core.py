"""Shared plumbing for the metrics: column access, periods, group codes, id masking.

Group keys are turned into one dense ``int64`` code per row (sorted key order,
missing values last), so every metric aggregates with ``np.bincount`` instead of
a pandas groupby: the same code path serves one group and a hundred thousand.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from .. import _time as _T
from .._coerce import count_arg
from ..schema import LEVEL_COLUMNS, LEVELS

__all__ = ["LEVELS", "LEVEL_COLUMNS", "MIN_N", "as_list", "floats", "time_us",
           "period_codes", "period_label", "period_start", "group_codes", "float_codes", "mask_id", "mask_ids", "level_column", "level_name", "level_names", "number", "min_count", "require", "MAX_BINS", "check_bins",
           "histogram_weights", "distinct_per_group", "once_per_attempt", "repeated_attempts", "REPEAT_SOURCE", "LISTING_SOURCE",
           "UNTIMED_SOURCES", "PLACED_BASIS", "ANCHOR_BASIS", "EVENT_BASES", "getall_times", "place_untimed",
           "COMPARISON_KINDS", "known_names"]

MIN_N = 30          # below this many observations a segment is flagged ``low_n``


def as_list(by) -> list[str]:
    """``by`` as a list of column names: None is none, one name a list of one."""
    if by is None:
        return []
    if isinstance(by, str):
        return [by]
    try:
        return list(by)
    except TypeError:
        raise TypeError(f"by must be a column name or a list of names; got {by!r}") from None


def _not_a_table(df, what: str) -> TypeError:
    """The error for a Series, a list of dicts, None … passed where a table goes: pandas
    answered ``'Series' object has no attribute 'columns'`` from deep inside."""
    hint = {pd.Series: "a Series (one column): pass the whole table, or series.to_frame()",
            list: "a list: pandas.DataFrame(rows) makes a table of a list of dicts",
            dict: "a dict: pandas.DataFrame(d) makes a table of it",
            type(None): "None"}
    got = next((h for t, h in hint.items() if isinstance(df, t)), type(df).__name__)
    return TypeError(f"{what} needs a table (a pandas DataFrame, e.g. faceanalytics.load(DATA, TABLE)); "
                     f"got {got}")


def number(value, what: str, *, low: float = 0.0, low_ok: bool = False, integer: bool = False):
    """``value`` as a float (an int with ``integer=True``) above ``low`` (or equal, with
    ``low_ok``), finite; else a ValueError/TypeError naming ``what``.

    A zero or negative bin width, a negative window or a bin count of 0 used to give a
    table of plausible-looking numbers (every margin in one bin, nothing near the cut, a
    PSI of 0) or a numpy error from deep inside."""
    if integer:
        v = count_arg(value)        # the one rule for a count: not True, 5.0 or "5"
        if v is None:
            raise TypeError(f"{what} must be a whole number; got {value!r}")
    else:
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise TypeError(f"{what} must be a number; got {value!r}")
        v = float(value)
    if (not integer and not np.isfinite(v)) or v < low or (v == low and not low_ok):
        raise ValueError(f"{what} must be {'at least' if low_ok else 'more than'} {low:g}; got {value!r}")
    return v


def min_count(min_n) -> int:
    """``min_n`` (the fewest observations a rate is shown for; ``low_n`` below it) as an int of
    0 or more, else a TypeError/ValueError naming it.  ``min_n="5"`` failed inside numpy
    ("ufunc 'less' did not contain a loop"), and ``True``, ``2.5`` or ``-1`` were taken
    without a word; every metric taking ``min_n`` asks this before any work."""
    return number(min_n, "min_n (the fewest observations a rate is shown for)", low_ok=True, integer=True)


MAX_BINS = 1_000_000     # a histogram's cells (bins x groups): a few MB; a tiny binwidth asked GBs


def check_bins(cells: int, binwidth) -> None:
    """Refuse a histogram of more than :data:`MAX_BINS` cells: ``binwidth=1e-7`` over the margins
    allocated gigabytes (a MemoryError, or the notebook's kernel killed) instead of a message."""
    if cells > MAX_BINS:
        raise ValueError(f"binwidth={binwidth!r} makes {cells:,} bins; at most {MAX_BINS:,}: "
                         f"use a wider binwidth (or a binrange)")


# The comparison kinds the field spec names (Megvii's ``result_<kind>`` blocks in
# ``flatten.fields.EXPAND``; Baidu's score is ``faceprint``), as the review's ``--level`` reads
# them (``report._finding``; a test holds the three equal): written out, so that importing the
# metrics does not import the flatteners.
COMPARISON_KINDS = ("faceid", "ref1", "ref2", "ref3", "idcard_photo", "idcard_datasource", "faceprint")


def known_names(value, what: str, known: Sequence[str], present=()) -> list[str] | None:
    """``value`` (a name or a list of names; None: none) as a list, each a name the documents
    know (``known``) or one the data holds (``present``, or a function giving them, called only
    for a name the documents do not know: a kind they do not list yet is still asked about).  Any other name is a ``ValueError`` listing the known names: a filter
    that names nothing answered a table of zeros, as if the data held none of it.  A known
    name absent from the data is no error (zero is the right answer there)."""
    if value is None:
        return None
    names = [value] if isinstance(value, str) else list(value) if isinstance(value, Iterable) else [value]
    odd = [n for n in names if not isinstance(n, str) or n not in known]
    seen = set(present() if callable(present) else present) if odd else set()
    bad = [n for n in odd if not isinstance(n, str) or n not in seen]
    if bad:
        raise ValueError(f"{what}: unknown {', '.join(map(repr, bad))}; known: {', '.join(known)}")
    return names


def require(df: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    """Refuse anything but a DataFrame, and a DataFrame without ``columns``, naming ``what``
    needs them and what the table has."""
    if not isinstance(df, pd.DataFrame):
        raise _not_a_table(df, what)
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise KeyError(f"{what} needs column(s) {', '.join(missing)}; "
                       f"the table has {', '.join(map(str, df.columns))}")


def histogram_weights(df: pd.DataFrame) -> np.ndarray | None:
    """The ``count`` column of a histogram (:func:`confidence_histogram` or
    :func:`value_histogram`, e.g. computed by an engine) as float64 weights; None for
    a table of rows (which has ``session_id`` and no ``count``)."""
    if "count" in df.columns and "session_id" not in df.columns:
        return df["count"].to_numpy(dtype=np.float64, na_value=0.0)
    return None


# Baidu ``result/detail`` answers only for a successful verification, and a success closes
# the token, so its one score is the latest attempt that ``result/getall`` lists with the
# others (the seed document, "查询认证结果" and "核验及计费信息获取").
REPEAT_SOURCE, LISTING_SOURCE = "baidu_detail", "baidu_getall"


def repeated_attempts(table: pd.DataFrame) -> np.ndarray | None:
    """Rows that repeat an attempt another row of ``table`` already counts: the
    ``baidu_detail`` rows of tokens (``session_id``) with ``baidu_getall`` rows in the
    same table.  None when there are none (or no ``source``/``session_id`` to tell).

    Only detail is dropped: getall's row carries the attempt number and the threshold.
    A token fetched by detail alone keeps its detail row (the only record of the
    attempt), and so does one whose getall call returned no rows here (an error, or
    the field absent: a getall attempt without ``spoofing_score`` leaves the detail
    ``spoofing`` row as that attempt's check).  The engines apply the same rule in SQL
    (:func:`faceanalytics.engines._sql.once_per_attempt`).
    """
    if not isinstance(table, pd.DataFrame):
        raise _not_a_table(table, "this metric")
    if not len(table) or "source" not in table.columns or "session_id" not in table.columns:
        return None
    src = table["source"]
    detail = (src == REPEAT_SOURCE).to_numpy(dtype=bool, na_value=False)
    if not detail.any():
        return None
    listing = (src == LISTING_SOURCE).to_numpy(dtype=bool, na_value=False)
    if not listing.any():
        return None
    sid = table["session_id"]
    listed = sid[listing].dropna().unique()
    repeat = detail & sid.isin(listed).to_numpy(dtype=bool, na_value=False) & sid.notna().to_numpy(dtype=bool)
    return repeat if repeat.any() else None


def once_per_attempt(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` (comparisons, genuineness: rows per attempt) with each verification
    attempt counted once: see :func:`repeated_attempts`.  The same frame when nothing repeats.

    >>> configured_pass_rates(once_per_attempt(comparisons))   # what every metric does   # doctest: +SKIP
    """
    repeat = repeated_attempts(table)
    return table if repeat is None else table[~repeat]


# Baidu ``detail``, ``simple``, ``stat`` and ``media`` answers carry no verification time, so
# their rows are dated by ``fetched_at``: fetched late (a back-fill, a batch of 120 days), they
# all fall on the fetch day, a change that is only the fetch schedule.  Where the same token's
# ``getall`` is stored, dated by its attempts' ``verify_time``, they are placed at that time
# instead (the token's getall session_time: its latest attempt, the one detail repeats).
UNTIMED_SOURCES = ("baidu_detail", "baidu_simple", "baidu_stat", "baidu_media")
ANCHOR_BASIS = "verify_time"     # the time_basis of a getall sessions row that places the others
PLACED_BASIS = "getall"          # sessions.time_basis of a row so placed
# The time_basis of rows whose session_time is an event's time, not their fetch's: the
# verification, the biz_id's time, or (placed) their token's getall verification.  Only these
# can be judged "fetched after the provider's retention" (analytics.data_quality, the review).
EVENT_BASES = (ANCHOR_BASIS, "biz_id", PLACED_BASIS)


def getall_times(sessions: pd.DataFrame) -> pd.Series:
    """Each token's ``baidu_getall`` verification time: ``session_id`` -> ``session_time`` of the
    getall sessions rows dated by ``verify_time`` (the latest, where a token has several)."""
    require(sessions, ["source", "session_id", "session_time"], "getall_times")
    if "time_basis" not in sessions.columns:         # (a frame built by hand): nothing says what dates it
        return pd.Series(dtype=sessions["session_time"].dtype, index=pd.Index([], dtype="str"))
    m = ((sessions["source"] == LISTING_SOURCE) & (sessions["time_basis"] == ANCHOR_BASIS)
         & sessions["session_id"].notna() & sessions["session_time"].notna()).to_numpy(dtype=bool, na_value=False)
    g = sessions.loc[m, ["session_id", "session_time"]]
    return g.groupby(g["session_id"].astype("str"), sort=True)["session_time"].max()


def place_untimed(table: pd.DataFrame, sessions: pd.DataFrame) -> pd.DataFrame:
    """``table`` with the rows of sources that carry no verification time (:data:`UNTIMED_SOURCES`)
    placed at their token's ``getall`` time (:func:`getall_times` of ``sessions``): their
    ``session_time`` (a sessions table's ``time_basis`` becomes ``"getall"``; ``month`` stays the
    partition the row is stored in).
    A token without such a getall row keeps its ``fetched_at`` date.  The same frame when
    nothing moves.  Apply it before choosing a period's rows; the engines and the review apply
    the same rule in SQL (:func:`faceanalytics.engines._sql.placed`).

    >>> s = load("data", "sessions")                                                 # doctest: +SKIP
    >>> counts = place_untimed(load("data", "error_counts"), s)                       # doctest: +SKIP
    >>> error_codes(period_slice(counts, "2026-08-01", "2026-09-01"))                 # doctest: +SKIP
    """
    require(table, ["source", "session_id", "session_time"], "place_untimed")
    if not len(table):
        return table
    times = getall_times(sessions)
    untimed = table["source"].isin(UNTIMED_SOURCES).to_numpy(dtype=bool, na_value=False)
    if not len(times) or not untimed.any():
        return table
    at = table["session_id"].astype("str").map(times)
    move = untimed & at.notna().to_numpy(dtype=bool)
    if not move.any():
        return table
    out = table.copy()
    t = out["session_time"]
    placed = pd.to_datetime(at, utc=True)
    if isinstance(t.dtype, pd.DatetimeTZDtype):
        placed = placed.dt.tz_convert(t.dt.tz)
    elif t.dtype.kind == "M":                       # naive times are UTC (time_us)
        placed = placed.dt.tz_localize(None)
    else:                                           # times as text: read as load() gives them
        t = pd.to_datetime(t, utc=True, format="ISO8601")
    keep = pd.Series(~move, index=t.index)
    out["session_time"] = t.where(keep, placed).astype(t.dtype)
    if "time_basis" in out.columns:
        out.loc[move, "time_basis"] = PLACED_BASIS
    return out


def distinct_per_group(codes: np.ndarray, keys: Sequence[pd.Series], mask: np.ndarray, g: int) -> np.ndarray:
    """Distinct key tuples (e.g. ``source``, ``session_id``) per group code among ``mask``
    rows; a missing key value is a value of its own."""
    if not mask.any():
        return np.zeros(g, np.int64)
    tup = np.zeros(int(mask.sum()), np.int64)
    for s in keys:
        f = pd.factorize(s[mask].reset_index(drop=True))[0].astype(np.int64)    # missing: -1
        tup = tup * (int(f.max()) + 2) + f + 1
    _, tup = np.unique(tup, return_inverse=True)
    base = int(tup.max()) + 1
    pairs = np.unique(codes[mask] * base + tup.reshape(-1))
    return np.bincount(pairs // base, minlength=g).astype(np.int64)


_LEVEL_VALUES = {float(lv): lv for lv in LEVELS}


def level_name(level) -> str:
    """A false-accept level as the tables name it (``"1e-4"``), however it is written.

    ``"1e-4"``, ``"1E-04"``, ``"0.0001"`` and the number ``1e-4`` all name the same level;
    anything else (``"faceid=1e-5"``, ``"1e-9"``) raises, listing the levels.
    """
    if isinstance(level, str) and level in LEVEL_COLUMNS:
        return level
    try:
        value = float(level.strip()) if isinstance(level, str) else float(level)
    except (TypeError, ValueError):
        value = None
    if isinstance(level, bool) or value not in _LEVEL_VALUES:
        raise ValueError(f"unknown level {level!r}; levels are {', '.join(LEVELS)}")
    return _LEVEL_VALUES[value]


def level_names(levels) -> list[str]:
    """``levels`` as a list of level names; one level alone (``"1e-4"``, ``1e-4``) is a list of
    one (iterating the string ``"1e-4"`` asked for the levels ``"1"``, ``"e"``, …)."""
    if isinstance(levels, (str, int, float)):
        levels = [levels]
    try:
        return [level_name(lv) for lv in levels]
    except TypeError:
        raise TypeError(f"levels must be a list of levels ({', '.join(LEVELS)}); got {levels!r}") from None


def level_column(level: str) -> str:
    return LEVEL_COLUMNS[level_name(level)]


def floats(s: pd.Series) -> np.ndarray:
    """A numeric column as float64 with NaN for missing, without a copy when it already is."""
    if s.dtype == np.float64:
        return s.to_numpy()
    try:
        return s.array.to_numpy(dtype=np.float64, na_value=np.nan) if hasattr(s.array, "to_numpy") \
            else np.asarray(s, dtype=np.float64)
    except (TypeError, ValueError):
        bad = pd.to_numeric(s, errors="coerce").isna() & s.notna()
        raise ValueError(f"column {s.name!r} must hold numbers (text such as \"81.2\" is read); "
                         f"{int(bad.sum()):,} value(s) are not, e.g. {s[bad].iloc[0]!r}") from None


def time_us(s: pd.Series) -> np.ndarray:
    """A timestamp column as int64 microseconds since the epoch, UTC (NaT -> int64 min).

    Naive timestamps are taken as UTC (the tables are always tz-aware UTC).
    """
    if not (isinstance(s.dtype, pd.DatetimeTZDtype) or s.dtype.kind == "M"):
        try:
            s = pd.to_datetime(s, utc=True, format="ISO8601")
        except (TypeError, ValueError) as e:      # pandas' DateParseError is a ValueError
            # (before: "yesterday" failed deep in pandas; "07/12/2026" was read month first)
            raise ValueError(f"column {s.name!r} must hold times (datetimes, or ISO 8601 text such as "
                             f"2026-10-01T08:00:00Z; 01/10/2026 is not guessed): {str(e).splitlines()[0].split(' You might')[0]}") from None
    arr = s.array
    unit = getattr(s.dt, "unit", "ns")
    i8 = arr.asi8 if hasattr(arr, "asi8") else s.to_numpy().view("i8")
    nat = i8 == np.iinfo(np.int64).min
    factor = {"s": 1_000_000, "ms": 1_000, "us": 1, "ns": None}[unit]
    if factor is None:
        out = i8 // 1000
    elif factor == 1:
        return i8
    else:
        out = i8 * factor
    if nat.any():
        out = np.where(nat, np.iinfo(np.int64).min, out)
    return out


def period_codes(s: pd.Series, freq: str, tz=None) -> tuple[np.ndarray, np.ndarray]:
    """Period number per row of a timestamp column, and whether the row has a time.

    ``freq`` is a pandas alias (``"D"``, ``"W"``, ``"W-MON"``, ``"ME"``, ``"MS"``, ``"QE"``, …)
    and ``tz`` the time zone whose calendar days count (default UTC); the numbers are
    :func:`faceanalytics._time.period_codes`'s, the labels :func:`period_label`'s.
    """
    return _T.period_codes(time_us(s), freq, tz)


def period_label(num: np.ndarray, freq: str, tz=None) -> pd.DatetimeIndex:
    """The label of each period number: the local midnight ``Series.resample(freq)`` names it by
    (a week and a month-end period by their last day, a day and a month-start one by their first)."""
    return _T.period_label(num, freq, tz)


def period_start(num: np.ndarray, freq: str, tz=None) -> pd.DatetimeIndex:
    """The local midnight starting the period that holds each unit number (a period number, or
    one past it: ``period_start(num + 1)`` is when the next period starts).  The explorers
    label periods by their start; the metrics use :func:`period_label`."""
    f = _T.freq_of(freq)
    return _T.period_bounds(_T.period_of_units(num, f), f, tz)[0]


def _dense(values: np.ndarray, valid: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Dense codes for small non-negative-ish ints; returns (codes, sorted uniques)."""
    if values.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    v = values if valid is None else values[valid]
    if v.size == 0:
        uniq = np.zeros(0, np.int64)
        codes = np.full(values.shape, 0, np.int64)
        return codes, uniq
    lo, hi = int(v.min()), int(v.max())
    if hi - lo < max(4 * values.size, 1 << 20):
        present = np.bincount(v - lo, minlength=hi - lo + 1) > 0
        rank = np.cumsum(present) - 1
        uniq = np.flatnonzero(present) + lo
        codes = rank[(values - lo) if valid is None else np.where(valid, values - lo, 0)]
    else:
        uniq, inv = np.unique(v, return_inverse=True)
        if valid is None:
            codes = inv.astype(np.int64)
        else:
            codes = np.zeros(values.shape, np.int64)
            codes[valid] = inv
    return codes.astype(np.int64, copy=False), uniq


_GRID = 10_000          # four decimals: exact for Megvii (3) and Baidu (4) values


def _few_values(x: np.ndarray, most: int = 8):
    """float_codes for a column of a handful of values (thresholds): one pass per value."""
    head = x[:1024]
    head = head[~np.isnan(head)]
    if x.size == 0 or np.unique(head).size > most // 2:
        return None
    codes = np.full(x.shape, -1, np.int8)
    todo = ~np.isnan(x)
    vals = []
    while todo.any():
        if len(vals) == most:
            return None
        v = x[int(np.argmax(todo))]
        m = x == v
        codes[m] = len(vals)
        vals.append(float(v))
        todo &= ~m
    order = np.argsort(vals)
    lut = np.empty(len(vals) + 1, np.int64)
    lut[order] = np.arange(len(vals))
    lut[len(vals)] = len(vals)                         # NaN last
    uniq = np.asarray(vals)[order]
    if (codes < 0).any():
        uniq = np.append(uniq, np.nan)
    return lut[codes], uniq


def float_codes(x: np.ndarray, *, dense: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Dense codes (sorted, NaN last) and the distinct values of a float array, exactly.

    Values on a 1e-4 grid (every provider's) go through integer counting; anything
    else through a hash factorisation.  Either way each distinct float is its own code.
    ``dense=False`` lets grid values keep their offset on the grid as the code (no
    compaction pass; ``uniq`` then lists every grid step between min and max).
    """
    few = _few_values(x) if dense else None
    if few is not None:
        return few
    nan = np.isnan(x)
    anynan = bool(nan.any())
    finite = x[~nan] if anynan else x
    codes = uniq = None
    if finite.size and np.abs(finite).max() < 1e9:
        k = np.rint(finite * _GRID)
        if np.array_equal(k / _GRID, finite):
            ki = k.astype(np.int64)
            if dense or int(ki.max()) - int(ki.min()) > 4_000_000:
                c, u = _dense(ki, None)
            else:
                lo = int(ki.min())
                c, u = ki - lo, np.arange(lo, int(ki.max()) + 1)
            uniq = u / _GRID
            if anynan:
                codes = np.full(x.shape, len(uniq), np.int64)
                codes[~nan] = c
            else:
                codes = c
    if codes is None:
        c, u = pd.factorize(x, sort=True, use_na_sentinel=True)
        uniq = np.asarray(u, dtype=np.float64)
        codes = np.where(c < 0, len(uniq), c).astype(np.int64)
    if anynan:
        uniq = np.append(uniq, np.nan)
    return codes, uniq


def column_codes(s: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """(codes, uniques) for one key column: sorted order, missing last as its own code."""
    if len(s) == 0:
        return np.zeros(0, np.int64), pd.Index(s.iloc[:0])
    if s.dtype.kind == "b" and not s.hasnans:        # nullable booleans with NA: factorize below
        codes = s.to_numpy().astype(np.int64)
        present = np.bincount(codes, minlength=2) > 0
        rank = np.cumsum(present) - 1
        return rank[codes], pd.Index(np.array([False, True])[present])
    codes, uniques = pd.factorize(s, sort=True, use_na_sentinel=True)
    codes = np.asarray(codes, dtype=np.int64)
    na = codes < 0
    if na.any():
        codes = np.where(na, len(uniques), codes)
        uniques = pd.Index(pd.concat([pd.Series(uniques, dtype=s.dtype),
                                      pd.Series([None], dtype=s.dtype)], ignore_index=True))
    else:
        uniques = pd.Index(pd.Series(uniques, dtype=s.dtype))
    return codes, uniques


def group_codes(df: pd.DataFrame, by: Sequence[str] = (), *, freq: str | None = None,
                time_column: str = "session_time", tz=None) -> tuple[np.ndarray | None, pd.DataFrame]:
    """One dense code per row for the key ``by`` (+ ``period`` when ``freq`` is given: the
    period's label in ``tz``, see :func:`period_label`).

    Returns ``(codes, keys)``: ``keys`` has one row per group present, sorted by the
    key columns (missing values last), and ``codes[i]`` is row ``i``'s group.  With no
    key at all, ``codes`` is None and ``keys`` an empty one-row frame.
    """
    by = list(by)
    require(df, by, "grouping")
    parts: list[tuple[str, np.ndarray, object]] = []
    for col in by:
        c, u = column_codes(df[col])
        parts.append((col, c, u))
    if freq is not None:
        require(df, [time_column], f"freq={freq!r}")
        num, valid = period_codes(df[time_column], freq, tz)
        c, u = _dense(num, None if valid.all() else valid)
        starts = period_label(u, freq, tz)
        if not valid.all():
            c = np.where(valid, c, len(u))
            starts = starts.append(pd.DatetimeIndex([pd.NaT], tz=starts.tz).as_unit("us"))
        parts.append(("period", c, pd.Index(starts)))
    if not parts:
        return None, pd.DataFrame(index=pd.RangeIndex(1))
    codes = None
    radix = 1
    for _, c, u in parts:
        n = max(len(u), 1)
        if codes is None:
            codes, radix = c, n
            continue
        if radix * n > (1 << 62):          # keep the mixed radix inside int64
            codes, uniq = _dense(codes, None)
            radix = len(uniq)
        codes = codes * n + c
        radix *= n
    dense, uniq = _dense(codes, None)
    # Each group's key values from its first row (the digits of a code made dense again
    # on the way no longer spell the earlier keys' codes).
    first = np.empty(len(uniq), np.int64)
    first[dense[::-1]] = np.arange(len(dense) - 1, -1, -1)
    frame = pd.DataFrame({col: pd.Series(u.take(c[first]) if len(u) else pd.Index([None] * len(first)))
                          for col, c, u in parts})
    return dense, frame


def sums_by(df: pd.DataFrame, keys: Sequence[str], weights: Sequence[np.ndarray], *,
            counts: bool = True) -> tuple[pd.DataFrame, list[np.ndarray]]:
    """Rows summed per distinct key: ``(keys, sums)``, ``keys`` one row per group present as
    :func:`group_codes` gives them (sorted by the key columns, missing values last), and for
    each array of ``weights`` (one value per row) its sum per group, whole numbers (int64)
    when ``counts``."""
    codes, kf = group_codes(df, keys)
    g = len(kf)
    cz = np.zeros(len(df), np.int64) if codes is None else codes
    sums = [np.bincount(cz, weights=np.asarray(w, dtype=np.float64), minlength=g) for w in weights]
    return kf, ([np.rint(x).astype(np.int64) for x in sums] if counts else sums)


def mask_id(s) -> str | None:
    """A session id an analyst can recognise but not reuse: ``"1462…29f1"``."""
    if s is None or (isinstance(s, float) and np.isnan(s)) or s is pd.NA:
        return None
    s = str(s)
    if len(s) <= 8:
        return s[:2] + "…" + s[-2:] if len(s) > 4 else "…"
    return s[:4] + "…" + s[-4:]


def mask_ids(s: pd.Series) -> pd.Series:
    """Vectorised :func:`mask_id` (string slicing, no per-row Python)."""
    st = s.astype("str")
    n = st.str.len()
    long = st.str.slice(0, 4) + "…" + st.str.slice(-4)
    short = st.str.slice(0, 2) + "…" + st.str.slice(-2)
    out = long.where(n > 8, short.where(n > 4, "…"))
    return out.where(s.notna())
