"""A pooled change that one segment alone explains is named with that segment.

When one segment's rate moves, the pooled series often carries the evidence first: it has
every trial, while the segment's own series is scanned over every date with the
false-discovery rate spread over hundreds of series.  So the pool's finding is where the
change is *found*; this module says *where it is*.  At the pooled change's dates (fixed:
no search over dates, so one ordinary test each), for every segment value of every key,
three changes on effective trials (the days weighed with the pooled series' day-to-day
dispersion, as the detector weighed them): the segment's, the rest's (the pool without
the segment, sessions without the key included) and the difference between the two.
The change is named with a segment when

* the segment moved the same way as the pool, beyond chance (Bonferroni over the
  segment values looked at, two-sided ``alpha``),
* it moved differently from the rest (the same bound), and
* the rest did not move (5%, two-sided).

Where several qualify (keys that nest, say), the one least like its rest is named.
Otherwise the change stays the pool's, and the segments that moved with it are named
beside it (:func:`faceanalytics.report._findings._collapse`).

A change so named is dated by the segment's own series where the detector found it there too
(:func:`dated_by_segment`): the rest did not move, so the rest's days say nothing of when it
began and only blur the pool's date (the pool dated a 4-point drop in a 27% segment up to 3 days
off while the segment's own series, at its own 95% interval of a day or two, had it right).
"""
from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pandas as pd

from .._time import local_day
from ..analytics._core import MIN_N
from ..analytics._stats import newcombe_diff_ci
from ._finding import same_dates

__all__ = ["confine", "dated_by_segment", "FAMILIES"]

FAMILIES = ("pass_rate", "configured", "flagged", "error")
_MATCH = ("family", "source", "comparison", "level", "attack", "origin", "code", "detail")
_REST_MOVED = NormalDist().inv_cdf(0.975)


def _day(t) -> float:
    """The day number (UTC grid, as the detector's buckets) of a change's start or end."""
    return math.inf if t is None or pd.isna(t) else local_day(t)


def _rho(phi: float, n: np.ndarray) -> float:
    """The intra-class correlation at which days of ``n`` trials have the dispersion factor
    ``phi`` (all trials over effective trials), by bisection: the factor grows with rho."""
    n = n[n > 0]
    if not len(n) or not phi > 1.0 + 1e-9:
        return 0.0
    lo, hi = 0.0, 1.0
    total = n.sum()
    for _ in range(50):
        mid = 0.5 * (lo + hi)
        if total / (n / (1.0 + (n - 1.0) * mid)).sum() < phi:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


class _Change:
    """One series' change between two sets of days, on raw and on effective trials."""

    def __init__(self, k, n, inside, outside, rho):
        w = 1.0 / (1.0 + np.maximum(n - 1.0, 0.0) * rho)
        self.kin, self.nin = k[inside].sum(), n[inside].sum()
        self.kout, self.nout = k[outside].sum(), n[outside].sum()
        self.ein, self.eout = (n * w)[inside].sum(), (n * w)[outside].sum()
        self.ok = self.nin >= MIN_N and self.nout >= MIN_N and self.ein > 0 and self.eout > 0
        if not self.ok:
            return
        self.after, self.before = self.kin / self.nin, self.kout / self.nout
        self.diff = self.after - self.before
        p = (self.kin + self.kout) / (self.nin + self.nout)
        null = p * (1.0 - p) * (1.0 / self.ein + 1.0 / self.eout)
        self.z = self.diff / math.sqrt(null) if null > 0 else 0.0
        # unpooled: the variance of the change itself, for comparing two changes
        self.var = (self.after * (1 - self.after) / self.ein + self.before * (1 - self.before) / self.eout)


def confine(row, series: pd.DataFrame, since_day: int, alpha: float = 0.05) -> tuple[dict, dict] | None:
    """The segment a pooled change (one row of the detector's output, with the series
    keys) is confined to: ``(segment row, what the rest did)`` or None.

    ``series`` is the review's long count frame (:func:`._findings.series_frame`);
    segment series cover this period only (days from ``since_day``).  The segment row has
    the detector's columns, with the segment's counts at the pool's dates; the second dict
    gives ``pool`` (the pooled change) and ``rest`` (the rest's change), both fractions."""
    if row["family"] not in FAMILIES or row["seg_key"] is not None:
        return None
    m = (series["day"] >= since_day).to_numpy().copy()
    for c in _MATCH:
        v = row[c]
        col = series[c]
        m &= (col.isna() if v is None else col == v).to_numpy(dtype=bool)
    f = series[m]
    segs = f[f["seg_key"].notna().to_numpy()]
    if segs.empty:
        return None
    pool = f[f["seg_key"].isna().to_numpy()].groupby("day")[["k", "n"]].sum()
    days = pool.index.to_numpy()
    pk, pn = pool["k"].to_numpy(np.float64), pool["n"].to_numpy(np.float64)
    start, end = _day(row["start"]), _day(row["end"])
    inside = (days >= start) & (days < end)
    outside = ~inside if row["kind"] == "wave" else days < start
    if not inside.any() or not outside.any():
        return None
    rho = _rho(float(row["dispersion"]), pn)
    groups = segs.groupby(["seg_key", "seg_value"], sort=True)
    bound = NormalDist().inv_cdf(1.0 - alpha / (2.0 * groups.ngroups))
    sign = np.sign(float(row["diff"]))
    best = None
    for (key, value), g in groups:
        s = g.groupby("day")[["k", "n"]].sum().reindex(days, fill_value=0)
        sk, sn = s["k"].to_numpy(np.float64), s["n"].to_numpy(np.float64)
        seg = _Change(sk, sn, inside, outside, rho)
        rest = _Change(np.maximum(pk - sk, 0.0), np.maximum(pn - sn, 0.0), inside, outside, rho)
        if not (seg.ok and rest.ok) or np.sign(seg.diff) != sign or abs(seg.z) < bound:
            continue
        if abs(rest.z) >= _REST_MOVED or not seg.var + rest.var > 0:
            continue
        apart = abs(seg.diff - rest.diff) / math.sqrt(seg.var + rest.var)
        if apart >= bound and (best is None or apart > best[0]):
            best = (apart, key, value, seg, rest)
    if best is None:
        return None
    _, key, value, seg, rest = best
    _, lo, hi = newcombe_diff_ci(seg.before * seg.eout, seg.eout, seg.after * seg.ein, seg.ein)
    out = dict(row)
    out.update(seg_key=key, seg_value=value, k_before=int(round(seg.kout)), n_before=int(round(seg.nout)),
               rate_before=seg.before, k_after=int(round(seg.kin)), n_after=int(round(seg.nin)),
               rate_after=seg.after, diff=seg.diff, ci_low=float(lo), ci_high=float(hi), statistic=abs(seg.z),
               dispersion=(seg.nin + seg.nout) / (seg.ein + seg.eout), score=abs(seg.z) * abs(seg.diff))
    return out, {"pool": float(row["diff"]), "rest": rest.diff}


def _own_change(seg: dict, changes: pd.DataFrame):
    """The detector's change in the segment's own series that is the same change as ``seg`` (a
    row :func:`confine` named with its segment): same series and segment, kind and direction,
    starts within 7 days of each other and overlapping; the one with the smallest q-value, or None."""
    m = np.array((changes["seg_key"] == seg["seg_key"]) & (changes["seg_value"] == seg["seg_value"])
                 & (changes["kind"] == seg["kind"]) & (np.sign(changes["diff"]) == np.sign(seg["diff"])), dtype=bool)
    for c in _MATCH:
        v = seg[c]
        m &= (changes[c].isna() if v is None else changes[c] == v).to_numpy(dtype=bool)
    own = changes[m]
    own = own[np.array([same_dates(seg["start"], seg["end"], a, b) for a, b in zip(own["start"], own["end"])],
                       dtype=bool)]
    return None if not len(own) else own.sort_values("q_value", kind="stable").iloc[0]


_DATES = ("start", "start_low", "start_high", "end", "end_low", "end_high")


def dated_by_segment(row, got: tuple[dict, dict], changes: pd.DataFrame, series: pd.DataFrame, since_day: int,
                     alpha: float = 0.05) -> tuple[tuple[dict, dict], object]:
    """``got`` (:func:`confine` of the pooled ``row``) dated by the segment's own series: where the
    detector found the same change there (``changes``), at that change's dates and 95% intervals,
    the segment's and the rest's changes counted again at those dates (and still confined to the
    segment: else ``got`` as it was).  Returns ``(got, the pool's start)``, the start None when the
    dates are the pool's."""
    own = _own_change(got[0], changes)
    if own is None or all(_same_time(own.get(c), got[0].get(c)) for c in _DATES):
        return got, None
    moved = dict(row)
    moved.update({c: own.get(c) for c in _DATES})
    again = confine(moved, series, since_day, alpha)
    if again is None or (again[0]["seg_key"], again[0]["seg_value"]) != (got[0]["seg_key"], got[0]["seg_value"]):
        return got, None
    return again, row["start"]


def _same_time(a, b) -> bool:
    na, nb = a is None or pd.isna(a), b is None or pd.isna(b)
    return na and nb or (not na and not nb and pd.Timestamp(a) == pd.Timestamp(b))
