"""Dates, time zones and periods: one rule for the CLI, ``load``, the metrics, the engines and the review.

* **Dates and times** are ISO 8601 (``2026-10-01``, ``2026-10-01T08:00``, ``…Z``,
  ``…+08:00``) or date/time objects; anything else (``"01/10/2026"``, ``"June"``) is
  refused, never guessed (:func:`parse_time`).  A time without an offset is in ``tz``
  (UTC unless a time zone is asked for).
* **Periods** are named by pandas' own aliases (``"D"``, ``"W"`` = ``"W-SUN"``,
  ``"W-MON"``, ``"ME"``/``"M"``, ``"MS"``, ``"QE"``/``"Q"``, ``"QS"``, ``"YE"``/``"Y"``,
  ``"YS"``, with their anchors) and labelled as ``Series.resample`` labels them: a day
  by itself, a week and an ``…E`` period by its last day, an ``…S`` period by its first
  (:class:`Freq`).  ``"M"``, ``"Q"`` and ``"Y"`` are pandas' *period* aliases: the
  calendar month (quarter, year), labelled by its last day, as ``"ME"``.
* **Time zone** ``tz`` (any IANA name; default UTC) decides which calendar day an
  instant falls on; labels are local midnights in ``tz``.

A period number is the index of the period's *last* day (days since 1970-01-01) or
last month (months since 1970-01) on the local calendar, so pandas (:func:`period_codes`)
and SQL (:func:`sql_period`) compute the same integer and :func:`period_label` turns it
into the same timestamp.

>>> freq_of("W").name, freq_of("M").name
('W-SUN', 'ME')
>>> parse_time("2026-10-01", "since")
Timestamp('2026-10-01 00:00:00+0000', tz='UTC')
"""
from __future__ import annotations

import datetime as _dt
import functools
from dataclasses import dataclass

import numpy as np

__all__ = ["Freq", "freq_of", "parse_time", "parse_tz", "local_us", "local_day", "period_codes",
           "period_label", "period_bounds", "period_of_units", "sql_period", "FREQ_HELP", "DAY_US"]

DAY_US = 86_400_000_000
_NAT = np.iinfo(np.int64).min
ISO_HELP = "YYYY-MM-DD, or an ISO 8601 time such as 2026-10-01T08:00 or 2026-10-01T08:00+08:00"
FREQ_HELP = "D, W (= W-SUN), W-MON … W-SAT, ME (or M), MS, QE (or Q), QS, YE (or Y), YS, with pandas' anchors"


# ------------------------------------------------------------------ dates and times

def parse_tz(tz) -> str | None:
    """An IANA time zone name checked (None for UTC, the fast path); ``ValueError`` otherwise."""
    if tz is None:
        return None
    name = getattr(tz, "key", None) or getattr(tz, "zone", None) or tz   # zoneinfo / pytz objects
    if not isinstance(name, str):
        raise ValueError(f"tz must be a time zone name such as 'Asia/Shanghai', not {tz!r}")
    if name.upper() in ("UTC", "Z", "ETC/UTC"):
        return None
    return _zone(name)


@functools.lru_cache(maxsize=64)
def _zone(name: str) -> str:
    import zoneinfo

    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (an IANA name such as 'Asia/Shanghai' or 'UTC')") from None
    return name


def parse_time(value, what: str = "time", *, tz=None):
    """``value`` as a tz-aware ``pandas.Timestamp`` in ``tz`` (UTC by default); None stays None.

    Text must be ISO 8601 (``datetime.fromisoformat``); a date means its midnight, and a
    time without an offset is read in ``tz``.  Raises ``ValueError`` naming ``what``.

    >>> parse_time("01/10/2026", "since")
    Traceback (most recent call last):
    ...
    ValueError: since: not a date or time in ISO 8601 (YYYY-MM-DD, or an ISO 8601 time such as 2026-10-01T08:00 or 2026-10-01T08:00+08:00): '01/10/2026'
    """
    if value is None:
        return None
    import pandas as pd

    zone = parse_tz(tz) or "UTC"
    bad = ValueError(f"{what}: not a date or time in ISO 8601 ({ISO_HELP}): {value!r}")
    if isinstance(value, str):
        try:
            value = _dt.datetime.fromisoformat(value.strip())
        except ValueError:
            raise bad from None
    elif isinstance(value, np.datetime64):
        value = pd.Timestamp(value)
    elif type(value) is _dt.date:
        value = _dt.datetime(value.year, value.month, value.day)
    if not isinstance(value, _dt.datetime):           # pd.Timestamp is a datetime; numbers are not dates
        raise bad
    t = pd.Timestamp(value)
    if t is pd.NaT:
        raise bad
    return t.tz_localize(zone) if t.tzinfo is None else t.tz_convert(zone)


def utc_datetime(value, what: str = "time", *, tz=None) -> _dt.datetime | None:
    """:func:`parse_time` as a UTC ``datetime`` (what Arrow filters and SQL literals take)."""
    t = parse_time(value, what, tz=tz)
    return None if t is None else t.tz_convert("UTC").to_pydatetime()


# ------------------------------------------------------------------ local calendar

def local_us(us: np.ndarray, tz=None) -> np.ndarray:
    """Epoch microseconds (UTC; int64 min = missing) -> the local wall-clock time in ``tz``,
    as microseconds since 1970-01-01 00:00 *local* (missing stays int64 min)."""
    zone = parse_tz(tz)
    us = np.asarray(us, dtype=np.int64)
    if zone is None or not us.size:
        return us
    import pandas as pd

    nat = us == _NAT
    idx = pd.DatetimeIndex(np.where(nat, 0, us).astype("datetime64[us]")).tz_localize("UTC")
    wall = idx.tz_convert(zone).tz_localize(None).as_unit("us").asi8
    return np.where(nat, _NAT, wall) if nat.any() else wall


def local_day(t, tz=None) -> int:
    """The local day number (days since 1970-01-01 in ``tz``) of one timestamp."""
    import pandas as pd

    t = pd.Timestamp(t)
    t = t.tz_localize("UTC") if t.tzinfo is None else t
    us = np.array([t.value // 1000], dtype=np.int64)
    return int(np.floor_divide(local_us(us, tz), DAY_US)[0])


# ------------------------------------------------------------------ periods

@dataclass(frozen=True)
class Freq:
    """A calendar frequency: ``span`` days (``months`` False) or months per period; a period
    number ``n`` (its last day or month) satisfies ``n % span == phase``; ``end``: labelled by
    its last day (``W``, ``ME``, ``QE``, ``YE``), else by its first (``D``, ``MS``, ``QS``, ``YS``)."""
    name: str
    months: bool
    span: int
    phase: int
    end: bool


@functools.lru_cache(maxsize=64)
def freq_of(freq) -> Freq:
    """The :class:`Freq` of a pandas alias (or offset object); ``ValueError`` for anything that is
    not one calendar period (``"2W"``, ``"h"``, ``"B"``, …)."""
    if isinstance(freq, Freq):
        return freq
    import pandas as pd
    from pandas.tseries import offsets as O
    from pandas.tseries.frequencies import to_offset

    bad = ValueError(f"freq must be one calendar period as pandas names it ({FREQ_HELP}); not {freq!r}")
    try:
        off = to_offset(freq)
    except (ValueError, TypeError):
        try:      # pandas' period aliases ("M", "Q", "Y", "Q-NOV"): the calendar month, quarter, year
            off = pd.Period("2000-01-01", freq=freq).freq
        except (ValueError, TypeError, AttributeError):
            raise bad from None
    if getattr(off, "n", 1) != 1 or getattr(off, "normalize", False):
        raise bad
    kind = type(off)
    if kind is O.Day:
        return Freq("D", False, 1, 0, False)
    if kind is O.Week and off.weekday is not None:
        # 1970-01-01 (day 0) was a Thursday (weekday 3): the last day of the week has weekday off.weekday
        name = "W-" + ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")[off.weekday]
        return Freq(name, False, 7, (off.weekday - 3) % 7, True)
    if kind is O.MonthEnd:
        return Freq("ME", True, 1, 0, True)
    if kind is O.MonthBegin:
        return Freq("MS", True, 1, 0, False)
    month = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
    if kind is O.QuarterEnd:                       # quarters end in startingMonth (1..12)
        m = off.startingMonth
        return Freq(f"QE-{month[m - 1]}", True, 3, (m - 1) % 3, True)
    if kind is O.QuarterBegin:                     # quarters start in startingMonth
        m = off.startingMonth
        return Freq(f"QS-{month[m - 1]}", True, 3, (m + 1) % 3, False)
    if kind is O.YearEnd:
        return Freq(f"YE-{month[off.month - 1]}", True, 12, (off.month - 1) % 12, True)
    if kind is O.YearBegin:
        return Freq(f"YS-{month[off.month - 1]}", True, 12, (off.month - 2) % 12, False)
    raise bad


def _months(day: np.ndarray) -> np.ndarray:
    return day.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)


def period_of_units(unit: np.ndarray, freq) -> np.ndarray:
    """Period numbers of local day numbers (or month numbers for a monthly ``freq``)."""
    f = freq_of(freq)
    unit = np.asarray(unit, dtype=np.int64)
    return unit if f.span == 1 else unit + np.mod(f.phase - unit, f.span)


def period_of_days(day: np.ndarray, freq) -> np.ndarray:
    """Period numbers of local day numbers."""
    f = freq_of(freq)
    day = np.asarray(day, dtype=np.int64)
    return period_of_units(_months(day) if f.months else day, f)


def period_codes(us: np.ndarray, freq, tz=None) -> tuple[np.ndarray, np.ndarray]:
    """``(number, valid)`` per epoch-microsecond time: the period number (see the module
    docstring; 0 where missing) and whether the time is present."""
    us = np.asarray(us, dtype=np.int64)
    valid = us != _NAT
    day = np.floor_divide(local_us(us, tz), DAY_US)
    num = period_of_days(day, freq)
    if not valid.all():
        num = np.where(valid, num, 0)
    return num, valid


def _first_day(num: np.ndarray, f: Freq) -> np.ndarray:
    first = num - (f.span - 1)
    return first.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64) if f.months else first


def _after_day(num: np.ndarray, f: Freq) -> np.ndarray:
    return (num + 1).astype("datetime64[M]").astype("datetime64[D]").astype(np.int64) if f.months else num + 1


def _midnights(day: np.ndarray, tz):
    import pandas as pd

    idx = pd.DatetimeIndex((np.asarray(day, dtype=np.int64) * DAY_US).astype("datetime64[us]"))
    zone = parse_tz(tz)
    if zone is None:
        return idx.tz_localize("UTC")
    # A midnight a DST change skips is the first instant of that day; a repeated one its first.
    return idx.tz_localize(zone, nonexistent="shift_forward", ambiguous=np.ones(len(idx), bool))


def period_label(num: np.ndarray, freq, tz=None):
    """Labels (a tz-aware ``DatetimeIndex`` in ``tz``, microseconds) of period numbers: the
    local midnight of the day ``Series.resample(freq)`` labels the period with."""
    f = freq_of(freq)
    num = np.asarray(num, dtype=np.int64)
    day = (_after_day(num, f) - 1) if f.end else _first_day(num, f)
    return _midnights(day, tz)


def period_bounds(num: np.ndarray, freq, tz=None):
    """``(start, end)`` instants of periods: the local midnight starting each, and the one after it."""
    f = freq_of(freq)
    num = np.asarray(num, dtype=np.int64)
    return _midnights(_first_day(num, f), tz), _midnights(_after_day(num, f), tz)


def sql_period(d, freq, col: str, tz=None) -> str:
    """The period number of timestamp column ``col`` (quoted) in a dialect of
    :mod:`faceanalytics.engines._sql`: the integer :func:`period_codes` gives."""
    f = freq_of(freq)
    zone = parse_tz(tz)
    t = col if zone is None else d.local_time(col, zone)
    day = f"CAST(floor({d.epoch_us(t)} / {DAY_US}) AS BIGINT)"
    unit = day
    if f.months:
        dd = d.date_from_days(day)
        unit = f"CAST((year({dd}) - 1970) * 12 + month({dd}) - 1 AS BIGINT)"
    if f.span == 1:
        return unit
    # SQL's % keeps the dividend's sign: add the span once more before the second %
    return f"({unit} + ((({f.phase} - {unit}) % {f.span}) + {f.span}) % {f.span})"
