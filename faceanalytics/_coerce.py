"""Tolerant readers for the value shapes providers send.

Providers send numbers as numbers or strings, booleans as bools, ints or
strings, and null as ``null``, ``""`` or ``"null"``.  These helpers accept every
form seen and never invent a value: what cannot be read is ``None`` (lenient
readers) or raises :class:`Unreadable` (strict readers, used for the values an
analysis rests on, such as confidences).
"""
from __future__ import annotations

import datetime as _dt
import functools
import re

from .errors import DataError

__all__ = [
    "Unreadable", "MISSING", "is_nullish", "num", "num_strict", "integer",
    "text", "boolean", "epoch_to_us", "iso_to_us", "cn_time_to_us", "CN_OFFSET_US",
    "TIME_MIN_US", "TIME_MAX_US", "in_window", "check_time", "epoch_checked", "non_finite",
    "MAX_VALUES", "dense_values",
]

MAX_VALUES = 100_000  # values (commas outside strings) in one JSON text; a document's record has a few hundred
_STRINGS = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')  # JSON strings (escapes included)


def dense_values(line: bytes) -> int:
    """How many values past the first the JSON text ``line`` holds at least: its commas
    outside strings (0 unless it has more than :data:`MAX_VALUES` commas at all, counted in
    C first).  Every value parsed becomes a Python object (and, in a documented list, a
    table row): a 15 MB line of 5,000,000 ``{}`` took 1.8 GB, so what holds more is not
    parsed -- by the ingest (quarantined) nor by the clients (kept as bytes only)."""
    if line.count(b",") <= MAX_VALUES:
        return 0
    n = _STRINGS.sub(b"", line).count(b",")
    return n if n > MAX_VALUES else 0

MISSING = object()

NULL_STRINGS = frozenset({"", "null", "none", "nil", "NULL", "None", "Null"})


class Unreadable(DataError, ValueError):
    """A value the record cannot be flattened without (the record is quarantined)."""


def is_nullish(v) -> bool:
    return v is None or (isinstance(v, str) and v.strip() in NULL_STRINGS)


_INF = float("inf")


def num(v):
    """A finite float from a number or numeric string; None when absent, unreadable
    or not finite (NaN and infinities are never values: see :func:`non_finite`)."""
    t = type(v)
    if t is float:
        return v if -_INF < v < _INF else None
    if t is int:
        return float(v)
    if t is str:
        s = v.strip()
        if not s or s in NULL_STRINGS:
            return None
        try:
            f = float(s)
        except ValueError:
            return None
        return f if -_INF < f < _INF else None
    return None


def non_finite(v) -> bool:
    """True for NaN, ±Infinity, and text that reads as one (``"inf"``, ``"1e999"``)."""
    t = type(v)
    if t is float:
        return not (-_INF < v < _INF)
    if t is str:
        try:
            f = float(v.strip())
        except ValueError:
            return False
        return not (-_INF < f < _INF)
    return False


def num_strict(v, what: str):
    """Like :func:`num` but a present, non-numeric value raises :class:`Unreadable`."""
    t = type(v)
    if t is float or t is int:
        return num(v)
    if v is None:
        return None
    if t is str:
        s = v.strip()
        if not s or s in NULL_STRINGS:
            return None
        f = num(s)
        if f is None and not non_finite(s):
            raise Unreadable(f"{what} is not a number: {v[:40]!r}")
        return f
    raise Unreadable(f"{what} is not a number: {type(v).__name__}")


def integer(v):
    """An int from an int, an integral float or a numeric string; else None."""
    t = type(v)
    if t is int:
        return v
    if t is bool:
        return int(v)
    f = num(v)  # finite or None: int() of an infinity would raise
    if f is None or f != int(f):
        return None
    return int(f)


def count_arg(value) -> int | None:
    """An argument meant as a count (an int, a NumPy integer) as an int; None for anything else
    (a bool, 2.5, "5"): text taken for a count failed later inside pandas, numpy or a worker.
    Each caller says which counts it takes and why."""
    import operator

    if isinstance(value, bool):
        return None
    try:
        return operator.index(value)
    except TypeError:
        return None


def text(v):
    """A string from a string or number; None for null-ish and containers."""
    t = type(v)
    if t is str:
        return None if v in NULL_STRINGS or not v.strip() else v
    if t is int or t is float:
        return str(v)
    if t is bool:
        return "true" if v else "false"
    return None


def code_text(v):
    """Error codes: ``0``, ``"0"`` and ``0.0`` all become ``"0"``; ``""`` stays absent."""
    t = type(v)
    if t is int:
        return str(v)
    if t is float and v == int(v):
        return str(int(v))
    if t is str:
        s = v.strip()
        if s in NULL_STRINGS:
            return None
        return s
    return text(v)


_TRUE = frozenset({"true", "1", "yes", "y", "t"})
_FALSE = frozenset({"false", "0", "no", "n", "f"})


def boolean(v):
    t = type(v)
    if t is bool:
        return v
    if t is int:
        return v != 0 if v in (0, 1) else None
    if t is str:
        s = v.strip().lower()
        if s in _TRUE:
            return True
        if s in _FALSE:
            return False
    return None


_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
# The sane window for every time a record carries: from 2000-01-01 to ten years from
# now.  Anything outside is a unit mix-up or garbage, and it would land in a partition
# no reader expects (``month=10000-01``): such a record is quarantined.
_MIN_EPOCH = 946684800  # 2000-01-01
_MAX_EPOCH = int(_dt.datetime.now(_dt.timezone.utc).timestamp()) + 3653 * 86400  # + ten years
TIME_MIN_US, TIME_MAX_US = _MIN_EPOCH * 1_000_000, _MAX_EPOCH * 1_000_000
_MS_ABOVE = 4102444800 * 100  # a Unix time above this is in milliseconds


def in_window(us) -> bool:
    return us is not None and TIME_MIN_US <= us <= TIME_MAX_US


def _window_text() -> str:
    day = (_EPOCH + _dt.timedelta(microseconds=us) for us in (TIME_MIN_US, TIME_MAX_US))
    return "{:%Y-%m-%d} to {:%Y-%m-%d}".format(*day)


def check_time(us, v, what: str):
    """``us`` when inside the window; a present time outside it raises :class:`Unreadable`."""
    if us is None or TIME_MIN_US <= us <= TIME_MAX_US:
        return us
    raise Unreadable(f"{what} {str(v)[:40]!r} is outside the accepted time window ({_window_text()})")


def _epoch_us(v):
    """Unix seconds (milliseconds recognised) -> µs, without the window; None if unreadable."""
    f = num(v)
    if f is None:
        return None
    if f > _MS_ABOVE:  # milliseconds
        f = f / 1000.0
    if abs(f) > 1e15:
        return None
    return int(round(f * 1_000_000))


def epoch_to_us(v):
    """Unix seconds (int, float or string; milliseconds are recognised) -> µs since epoch,
    None when unreadable or outside the window."""
    us = _epoch_us(v)
    return us if in_window(us) else None


def epoch_checked(v, what: str):
    """:func:`epoch_to_us` for a time that places the record: unreadable text is None,
    a number outside the window raises :class:`Unreadable`."""
    return check_time(_epoch_us(v), v, what)


def iso_to_us(v):
    """ISO-8601 text -> µs since epoch (UTC). A naive time is taken as UTC."""
    if type(v) is not str or not v:
        return None
    try:
        d = _dt.datetime.fromisoformat(v.strip().replace(" ", "T", 1) if "T" not in v else v.strip())
    except ValueError:
        return None
    if d.tzinfo is None:
        d = d.replace(tzinfo=_dt.timezone.utc)
    try:
        return (d - _EPOCH) // _dt.timedelta(microseconds=1)
    except OverflowError:
        return None


_CN_TIME = re.compile(r"^\s*(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T](\d{1,2}):(\d{1,2})(?::(\d{1,2}))?)?\s*$")
CN_OFFSET_US = 8 * 3600 * 1_000_000  # Baidu's times are Beijing time (UTC+8, no DST)


_CN_FULL = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}")
_EPOCH_DAY = _dt.date(1970, 1, 1).toordinal()


@functools.lru_cache(maxsize=4096)
def _cn_day_us(date: str):
    """``YYYY-MM-DD`` -> µs of its midnight since the epoch (None: no such day)."""
    try:
        return (_dt.date(int(date[:4]), int(date[5:7]), int(date[8:10])).toordinal() - _EPOCH_DAY) * 86_400_000_000
    except ValueError:
        return None


def cn_time_to_us(v):
    """Baidu's ``"2023-6-20 18:00:00"`` (Beijing time) -> µs since epoch (UTC).

    The documents' own form (``2023-06-20 18:00:00``) is read from its digits, its day
    cached: the regex and a datetime per value were a tenth of the Python path's time on
    getall records (three times per attempt); every other form goes through
    :func:`_cn_time_any` (checked equal on the full form: tests/test_baidu_times.py)."""
    if type(v) is str and len(v) == 19 and _CN_FULL.fullmatch(v):
        day = _cn_day_us(v[:10])
        h, mi, s = int(v[11:13]), int(v[14:16]), int(v[17:19])
        if day is None or h > 23 or mi > 59 or s > 59:
            return None
        return day + ((h * 60 + mi) * 60 + s) * 1_000_000 - CN_OFFSET_US
    return _cn_time_any(v)


def _cn_time_any(v):
    """:func:`cn_time_to_us` of any form the providers send (padding optional, no seconds, a date alone)."""
    if type(v) is not str:
        return None
    m = _CN_TIME.match(v)
    if not m:
        return None
    y, mo, d, h, mi, s = (int(x) if x else 0 for x in m.groups())
    try:
        dt = _dt.datetime(y, mo, d, h, mi, s, tzinfo=_dt.timezone.utc)
    except (ValueError, OverflowError):
        return None
    return (dt - _EPOCH) // _dt.timedelta(microseconds=1) - CN_OFFSET_US
