"""The period a review covers and the one before it, and how dates are written."""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from .._i18n import tr
from .._time import local_day, parse_time, parse_tz

__all__ = ["ReviewPeriod", "review_period", "session_time_range", "DEFAULT_DAYS", "fmt_time", "fmt_range", "fmt_length", "utc"]

DEFAULT_DAYS = 30
ONE_DAY = pd.Timedelta(days=1)


@dataclass(frozen=True)
class ReviewPeriod:
    """``since <= session_time < until`` and the baseline of equal length before it.

    ``since`` and ``until`` are in the review's time zone ``tz`` (None: UTC), whose
    calendar days the review counts; ``since_day`` is the local day number of ``since``."""

    since: pd.Timestamp
    until: pd.Timestamp
    default: bool = False                 # chosen from the data, not given
    latest: pd.Timestamp | None = None    # latest session_time in the data
    tz: str | None = None

    @property
    def since_day(self) -> int:
        return local_day(self.since, self.tz)

    @property
    def until_day(self) -> int:
        return local_day(self.until, self.tz)

    @property
    def length(self) -> pd.Timedelta:
        return self.until - self.since

    @property
    def previous_since(self) -> pd.Timestamp:
        return self.since - self.length

    @property
    def previous_until(self) -> pd.Timestamp:
        return self.since


# DuckDB's share of memory for a review (it spills beyond it): with Python, pandas and Arrow
# around it, a review stays under 2 GB at any volume (benchmarks/bench_review.py).
MEMORY_LIMIT = "1GB"


def review_engine(engine="auto"):
    """The engine a review counts with: DuckDB within :data:`MEMORY_LIMIT` unless another
    engine (a name, an engine object, a connection or a SparkSession) is given."""
    from ..engines import DuckDBEngine, get_engine

    if engine in ("auto", "duckdb", None):
        try:
            import duckdb  # noqa: F401
        except ImportError:
            return get_engine("pandas")
        return DuckDBEngine(memory_limit=MEMORY_LIMIT)
    return get_engine(engine)


def utc(value, what: str, tz=None) -> pd.Timestamp | None:
    """A date or time (ISO 8601 text, or a date/time object) as a timestamp in ``tz`` (default
    UTC): :func:`faceanalytics._time.parse_time`, the rule everywhere."""
    return parse_time(value, what, tz=tz)


def latest_session_time(data_dir, engine="auto") -> pd.Timestamp | None:
    """The latest ``session_time`` of the sessions and quarantined records: a ``max()`` the
    engine answers from the Parquet statistics (DuckDB), not a column loaded into memory."""
    return session_time_range(data_dir, engine)[1]


def session_time_range(data, engine="auto") -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
    """The earliest and latest ``session_time`` (UTC) of the sessions and quarantined records
    (and, for frames in memory, the comparisons): ``(None, None)`` when there is none.
    ``data``: a data directory (``min()``/``max()`` the engine answers from the Parquet
    statistics) or a mapping of table name -> DataFrame."""
    from collections.abc import Mapping

    found = []
    if isinstance(data, Mapping):
        from ..analytics._core import place_untimed

        ses = data.get("sessions")
        for table in ("sessions", "quarantine", "comparisons"):
            f = data.get(table)
            if f is not None and len(f) and "session_time" in f:
                if table != "quarantine" and ses is not None and len(ses) and "source" in f and "session_id" in f:
                    f = place_untimed(f, ses)        # dated as every count dates them
                found.append((f["session_time"].min(), f["session_time"].max()))
    else:
        from ..engines._api import run_query

        eng = review_engine(engine)
        for table in ("sessions", "quarantine"):
            if eng.name == "pandas":
                import pyarrow as pa
                import pyarrow.compute as pc

                from ..engines._api import load_placed
                from ..storage.tables import load_arrow

                col = (pa.array(load_placed(data, table, columns=["session_time"])["session_time"])
                       if table == "sessions" else load_arrow(data, table, columns=["session_time"]).column("session_time"))
                mm = pc.min_max(col).as_py() if len(col) else None
                found.append((mm["min"], mm["max"]) if mm else (None, None))
            else:
                q = eng.dialect.q("session_time")
                f = run_query(eng, data, table, lambda src: f"SELECT min({q}) AS a, max({q}) AS m FROM {src}")
                found.append((None, None) if f is None or f.empty else (f["a"].iloc[0], f["m"].iloc[0]))
    first = last = None
    for a, m in found:
        a, m = (None if x is None or pd.isna(x) else pd.Timestamp(x) for x in (a, m))
        a, m = (x if x is None else x.tz_convert("UTC") if x.tzinfo else x.tz_localize("UTC") for x in (a, m))
        first = a if first is None else first if a is None else min(first, a)
        last = m if last is None else last if m is None else max(last, m)
    return first, last


_EARLIEST, _LATEST = pd.Timestamp("2000-01-01", tz="UTC"), pd.Timestamp("2100-01-01", tz="UTC")


def review_period(data_dir, since=None, until=None, *, days: int = DEFAULT_DAYS, latest=None,
                  tz=None) -> ReviewPeriod:
    """The period a report covers, in time zone ``tz`` (an IANA name; default UTC).

    Without ``until``: the end of the (local) day of the latest ``session_time`` in the
    data (today when there is none).  Without ``since``: ``days`` before ``until``.
    A date without an offset is a local midnight.  Raises ``ValueError`` for an
    unreadable date or time zone, or ``since >= until``.
    """
    tz = parse_tz(tz)
    zone = tz or "UTC"
    s, u = utc(since, "since", tz), utc(until, "until", tz)
    if latest is None and (s is None or u is None) and data_dir is not None:
        latest = latest_session_time(data_dir)
    if latest is not None:
        latest = latest.tz_convert(zone)
    if u is None:
        base = latest if latest is not None else pd.Timestamp.now(tz=zone)
        u = base.floor("D") + ONE_DAY
        if s is not None and u <= s:               # a ``since`` after the data: an empty period
            u = s + pd.Timedelta(days=days)
    if s is None:
        s = u - pd.Timedelta(days=days)
    if s >= u:
        raise ValueError(f"since ({s:%Y-%m-%d %H:%M}) must be before until ({u:%Y-%m-%d %H:%M})")
    if s < _EARLIEST or u > _LATEST:  # the period before it must fit too: timestamps end in 2262
        raise ValueError(f"a review period lies between {_EARLIEST:%Y-%m-%d} and {_LATEST:%Y-%m-%d} "
                         f"(the session times the tables hold), not {s:%Y-%m-%d} to {u:%Y-%m-%d}")
    return ReviewPeriod(since=s, until=u, default=since is None and until is None, latest=latest, tz=tz)


def fmt_time(t: pd.Timestamp) -> str:
    return f"{t:%Y-%m-%d}" if t == t.floor("D") else f"{t:%Y-%m-%d %H:%M}"


def fmt_range(since: pd.Timestamp, until: pd.Timestamp) -> str:
    """Whole days read inclusively ("2026-10-01 to 2026-10-31"), else with an exclusive end."""
    if since == since.floor("D") and until == until.floor("D"):
        last = until - ONE_DAY
        return fmt_time(since) if last == since else tr("period.range", since=fmt_time(since), last=fmt_time(last))
    return tr("period.range_exclusive", since=fmt_time(since), until=fmt_time(until))


def fmt_length(d: pd.Timedelta) -> str:
    if d % ONE_DAY == pd.Timedelta(0):
        n = d // ONE_DAY
        return tr("period.day" if n == 1 else "period.days", n=n)
    return tr("period.hours", hours=d / pd.Timedelta(hours=1))
