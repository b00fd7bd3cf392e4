"""Tolerant readers for the value shapes providers send.

Providers send numbers as numbers or strings, booleans as bools, ints or
strings, and null as ``null``, ``""`` or ``"null"``.  These helpers accept every
form seen and never invent a value: what cannot be read is ``None`` (lenient
readers) or raises :class:`Unreadable` (strict readers, used for the values an
analysis rests on, such as confidences).
"""
from __future__ import annotations

import datetime as _dt
import re

__all__ = [
    "Unreadable", "MISSING", "is_nullish", "num", "num_strict", "integer",
    "text", "boolean", "epoch_to_us", "iso_to_us", "cn_time_to_us",
]

MISSING = object()

_NULL_STRINGS = frozenset({"", "null", "none", "nil", "NULL", "None", "Null"})


class Unreadable(ValueError):
    """A value the record cannot be flattened without (the record is quarantined)."""


def is_nullish(v) -> bool:
    return v is None or (isinstance(v, str) and v.strip() in _NULL_STRINGS)


def num(v):
    """A float from a number or numeric string; None when absent or unreadable."""
    t = type(v)
    if t is float:
        return v if v == v else None  # NaN is not a value
    if t is int:
        return float(v)
    if t is str:
        s = v.strip()
        if not s or s in _NULL_STRINGS:
            return None
        try:
            f = float(s)
        except ValueError:
            return None
        return f if f == f else None
    return None


def num_strict(v, what: str):
    """Like :func:`num` but a present, non-numeric value raises :class:`Unreadable`."""
    t = type(v)
    if t is float or t is int:
        return num(v)
    if v is None:
        return None
    if t is str:
        s = v.strip()
        if not s or s in _NULL_STRINGS:
            return None
        f = num(s)
        if f is None:
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
    f = num(v)
    if f is None or f != int(f):
        return None
    return int(f)


def text(v):
    """A string from a string or number; None for null-ish and containers."""
    t = type(v)
    if t is str:
        return None if v in _NULL_STRINGS or not v.strip() else v
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
        if s in _NULL_STRINGS:
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
# Plausible event times: anything outside is a unit mix-up or garbage.
_MIN_EPOCH, _MAX_EPOCH = 946684800, 4102444800  # 2000-01-01 .. 2100-01-01


def epoch_to_us(v):
    """Unix seconds (int, float or string; milliseconds are recognised) -> µs since epoch."""
    f = num(v)
    if f is None:
        return None
    if f > _MAX_EPOCH * 100:  # milliseconds
        f = f / 1000.0
    if not (_MIN_EPOCH <= f <= _MAX_EPOCH):
        return None
    return int(round(f * 1_000_000))


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
    return (d - _EPOCH) // _dt.timedelta(microseconds=1)


_CN_TIME = re.compile(r"^\s*(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T](\d{1,2}):(\d{1,2})(?::(\d{1,2}))?)?\s*$")
_CN_OFFSET_US = 8 * 3600 * 1_000_000  # Baidu's times are Beijing time (UTC+8, no DST)


def cn_time_to_us(v):
    """Baidu's ``"2023-6-20 18:00:00"`` (Beijing time) -> µs since epoch (UTC)."""
    if type(v) is not str:
        return None
    m = _CN_TIME.match(v)
    if not m:
        return None
    y, mo, d, h, mi, s = (int(x) if x else 0 for x in m.groups())
    try:
        dt = _dt.datetime(y, mo, d, h, mi, s, tzinfo=_dt.timezone.utc)
    except ValueError:
        return None
    return (dt - _EPOCH) // _dt.timedelta(microseconds=1) - _CN_OFFSET_US


def us_to_iso(us: int) -> str:
    return (_EPOCH + _dt.timedelta(microseconds=us)).isoformat().replace("+00:00", "Z")
