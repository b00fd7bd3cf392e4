"""Drift between two periods.

Lead with what decides outcomes: the signed change in pass rate at each level,
with Newcombe's hybrid score interval for the difference of two proportions.  A
one-point shift of the genuine confidence mean can raise rejections at 1e-4 by a
quarter while the population stability index still reads "stable" — PSI and
Kolmogorov-Smirnov (on confidence and each anti-spoofing confidence) come second.

PSI cut-offs used: < 0.10 ``stable``, 0.10-0.25 ``watch``, >= 0.25 ``act`` (the
conventional credit-scoring cut-offs).  Bins are the deciles of the baseline.

Both halves also run from summaries, so an engine that only counts (DuckDB, Spark:
:mod:`faceanalytics.engines`) gives the same answer without the rows:
:func:`pass_rate_drift_from_rates` takes two :func:`pass_rates` results, and
:func:`distribution_drift_from_histograms` two :func:`value_histogram` results (the
exact count of every distinct value, so the baseline deciles and the KS statistic
are the ones the rows give).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .._time import parse_time
from ._core import (LEVELS, MIN_N, as_list, float_codes, floats, group_codes, level_names, min_count, number,
                    once_per_attempt, require, time_us)
from ._rates import pass_rates
from ._stats import PSI_ACT, PSI_WATCH, ks_2samp, ks_pvalue, newcombe_diff_ci, psi, psi_flag

__all__ = ["period_slice", "pass_rate_drift", "pass_rate_drift_from_rates", "distribution_drift",
           "value_histogram", "distribution_drift_from_histograms", "PSI_WATCH", "PSI_ACT"]


def period_slice(table: pd.DataFrame, since=None, until=None, *,
                 time_column: str = "session_time", tz=None) -> pd.DataFrame:
    """Rows with ``since <= time_column < until``: ISO 8601 dates or times, or timestamps;
    one without an offset is in ``tz`` (default UTC).  ``since`` after ``until`` raises: it
    selected nothing, silently, like a period with no data."""
    require(table, [time_column], "period_slice")
    t = time_us(table[time_column])
    keep = t != np.iinfo(np.int64).min
    bounds = {what: parse_time(bound, what, tz=tz) for bound, what in ((since, "since"), (until, "until"))}
    if bounds["since"] is not None and bounds["until"] is not None and bounds["since"] > bounds["until"]:
        raise ValueError(f"since ({since}) must not be after until ({until})")
    for what, b in bounds.items():
        if b is not None:
            us = b.value // 1000
            keep &= (t >= us) if what == "since" else (t < us)
    return table[keep]


def pass_rate_drift(baseline: pd.DataFrame, current: pd.DataFrame, by=None, *,
                    levels: Sequence[str] = LEVELS, min_n: int = MIN_N,
                    confidence: float = 0.95) -> pd.DataFrame:
    """Signed change in pass rate per level (current minus baseline), with its interval.

    Columns: ``by``, ``level``, ``n_baseline``, ``pass_rate_baseline``, ``n_current``,
    ``pass_rate_current``, ``change`` (in proportion; x100 for points), ``change_low``,
    ``change_high`` (Newcombe hybrid score, ``confidence``), ``significant`` (the
    interval excludes 0), ``rejection_change`` (relative change of the rejection
    rate: +0.25 = a quarter more rejections), ``low_n`` (either side below ``min_n``).
    """
    min_n = min_count(min_n)
    by, levels = as_list(by), level_names(levels)
    a = pass_rates(baseline, by, levels=levels, min_n=min_n, confidence=confidence)
    b = pass_rates(current, by, levels=levels, min_n=min_n, confidence=confidence)
    return pass_rate_drift_from_rates(a, b, by, min_n=min_n, confidence=confidence)


def pass_rate_drift_from_rates(baseline: pd.DataFrame, current: pd.DataFrame, by=None, *,
                               min_n: int = MIN_N, confidence: float = 0.95) -> pd.DataFrame:
    """:func:`pass_rate_drift` from two :func:`pass_rates` results (``by`` as given to them,
    no ``period``): what an engine that only counts needs."""
    min_n = min_count(min_n)
    by = as_list(by)
    a, b = baseline, current
    keys = [*by, "level"]
    m = a[[*keys, "n", "passed", "pass_rate"]].merge(
        b[[*keys, "n", "passed", "pass_rate"]], on=keys, how="outer", suffixes=("_baseline", "_current"),
        sort=False)
    for c in ("n_baseline", "passed_baseline", "n_current", "passed_current"):
        m[c] = m[c].fillna(0).astype("int64")
    m["level_rank"] = m["level"].map({lv: i for i, lv in enumerate(LEVELS)})
    m = m.sort_values([*by, "level_rank"], kind="stable", na_position="last").drop(columns="level_rank")
    d, lo, hi = newcombe_diff_ci(m["passed_baseline"], m["n_baseline"], m["passed_current"],
                                 m["n_current"], confidence)
    m["change"] = d
    m["change_low"] = lo
    m["change_high"] = hi
    m["significant"] = (lo > 0) | (hi < 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        rej_a = 1 - m["pass_rate_baseline"]
        rej_b = 1 - m["pass_rate_current"]
        m["rejection_change"] = ((rej_b - rej_a) / rej_a.where(rej_a > 0)).astype("float64")
    m["low_n"] = (m["n_baseline"] < min_n) | (m["n_current"] < min_n)
    cols = [*keys, "n_baseline", "pass_rate_baseline", "n_current", "pass_rate_current", "change",
            "change_low", "change_high", "significant", "rejection_change", "low_n"]
    return m[cols].reset_index(drop=True)


def _psi_bins(base: np.ndarray, bins: int) -> np.ndarray:
    qs = np.quantile(base, np.linspace(0, 1, bins + 1)[1:-1])
    return np.unique(qs)


def distribution_drift(baseline: pd.DataFrame, current: pd.DataFrame, by=None, *,
                       column: str = "confidence", bins: int = 10) -> pd.DataFrame:
    """PSI and two-sample KS of ``column`` between the periods, per group.

    For ``genuineness`` tables, ``by="attack"`` gives one row per attack type.
    Columns: ``by``, ``variable``, ``n_baseline``, ``n_current`` (non-missing values),
    ``psi`` (baseline-decile bins, 0.5 added to every bin count), ``psi_flag``
    (``stable``/``watch``/``act`` at 0.10/0.25), ``ks``, ``ks_pvalue`` (asymptotic).
    """
    by = as_list(by)
    bins = number(bins, "bins", low=2, low_ok=True, integer=True)
    baseline, current = _per_attempt(baseline), _per_attempt(current)
    both = pd.concat([baseline.assign(_side=0), current.assign(_side=1)], ignore_index=True)
    codes, keys = group_codes(both, by)
    x = floats(both[column])
    side = both["_side"].to_numpy()
    g = len(keys)
    cz = np.zeros(len(x), np.int64) if codes is None else codes
    ok = ~np.isnan(x)
    order = np.argsort(cz, kind="stable")
    bounds = np.searchsorted(cz[order], np.arange(g + 1))
    rows = []
    for i in range(g):                      # one iteration per group, not per row
        idx = order[bounds[i]:bounds[i + 1]]
        idx = idx[ok[idx]]
        xa, xb = x[idx[side[idx] == 0]], x[idx[side[idx] == 1]]
        if xa.size and xb.size:
            edges = _psi_bins(xa, bins)
            ca = np.bincount(np.searchsorted(edges, xa, side="right"), minlength=len(edges) + 1)
            cb = np.bincount(np.searchsorted(edges, xb, side="right"), minlength=len(edges) + 1)
            p = psi(ca, cb)
            d, pv = ks_2samp(xa, xb)
        else:
            p, d, pv = np.nan, np.nan, np.nan
        rows.append((column, xa.size, xb.size, p, psi_flag(p), d, pv))
    return _drift_frame(keys if by else None, rows)


def value_histogram(table: pd.DataFrame, column: str = "confidence", by=None, *, freq: str | None = None,
                    tz=None, time_column: str = "session_time") -> pd.DataFrame:
    """Rows per (group, exact value of ``column``): the summary drift needs, and mergeable.

    Columns: ``by``, ``period`` (with ``freq``), ``column`` (float64, each distinct
    value; NaN = missing, kept so a group with no value still shows) and ``count``
    (int64).  Sorted by the keys, then the value (missing last).  Confidences have
    three or four decimals, so this stays small however many rows it counts.
    """
    by = as_list(by)
    table = _per_attempt(table)
    codes, keys = group_codes(table, by, freq=freq, time_column=time_column, tz=tz)
    vc, vu = float_codes(floats(table[column]))
    nv = max(len(vu), 1)
    flat = vc if codes is None else codes * nv + vc
    cells, cnt = np.unique(flat, return_counts=True)
    gi, vi = np.divmod(cells, nv)
    out = keys.iloc[gi].reset_index(drop=True) if len(keys.columns) else pd.DataFrame(
        index=pd.RangeIndex(len(cells)))
    out[column] = vu[vi].astype(np.float64) if len(vu) else np.zeros(0)
    out["count"] = cnt.astype(np.int64)
    return out


def _per_attempt(table: pd.DataFrame) -> pd.DataFrame:
    """A table of attempts (it has ``attempt``: comparisons, genuineness) with each attempt
    once (:func:`once_per_attempt`); any other table (``sessions``) as it is."""
    return once_per_attempt(table) if "attempt" in table.columns else table


def _order_statistics(values: np.ndarray, cum: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """The ``idx``-th smallest of the rows a (sorted values, cumulative counts) pair stands for."""
    return values[np.searchsorted(cum, idx, side="right")]


def _psi_bins_from_counts(values: np.ndarray, counts: np.ndarray, bins: int) -> np.ndarray:
    """:func:`_psi_bins` of the rows ``values`` x ``counts`` stand for, without them.

    ``np.quantile``'s default ("linear", Hyndman & Fan 7) step for step: virtual index
    ``(n - 1) * q``, its two neighbouring order statistics, NumPy's two-sided lerp.
    """
    q = np.linspace(0, 1, bins + 1)[1:-1]
    cum = np.cumsum(counts)
    n = int(cum[-1])
    vi = (n - 1) * q
    prev = np.floor(vi)
    gamma = vi - prev
    pi = prev.astype(np.int64)
    ni = pi + 1
    top = vi >= n - 1
    pi[top] = n - 1
    ni[top] = n - 1
    a = _order_statistics(values, cum, pi)
    b = _order_statistics(values, cum, ni)
    diff = b - a
    qs = np.where(gamma >= 0.5, b - diff * (1 - gamma), a + diff * gamma)
    return np.unique(qs)


def _ks_from_counts(va: np.ndarray, ca: np.ndarray, vb: np.ndarray, cb: np.ndarray) -> tuple[float, float]:
    """:func:`ks_2samp` of the rows two (sorted values, counts) pairs stand for."""
    na, nb = int(ca.sum()), int(cb.sum())
    grid = np.union1d(va, vb)
    cum_a = np.concatenate([[0], np.cumsum(ca)])
    cum_b = np.concatenate([[0], np.cumsum(cb)])
    fa = cum_a[np.searchsorted(va, grid, side="right")] / na
    fb = cum_b[np.searchsorted(vb, grid, side="right")] / nb
    d = float(np.max(np.abs(fa - fb)))
    return d, ks_pvalue(d, na, nb)


def _side_counts(values: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct non-missing values (sorted) and their total counts."""
    ok = ~np.isnan(values)
    u, inv = np.unique(values[ok], return_inverse=True)
    c = np.bincount(inv.reshape(-1), weights=counts[ok], minlength=len(u))
    return u, np.rint(c).astype(np.int64)


def distribution_drift_from_histograms(baseline: pd.DataFrame, current: pd.DataFrame, by=None, *,
                                       column: str = "confidence", bins: int = 10) -> pd.DataFrame:
    """:func:`distribution_drift` from two :func:`value_histogram` results, row for row.

    Histogram rows of the same group and value add up, so per-period histograms of
    the weeks in each window can be passed as they are (other key columns, such as
    ``period``, are summed over).
    """
    by = as_list(by)
    both = pd.concat([baseline.assign(_side=0), current.assign(_side=1)], ignore_index=True)
    codes, keys = group_codes(both, by)
    x = floats(both[column])
    w = both["count"].to_numpy(dtype=np.float64)
    side = both["_side"].to_numpy()
    g = len(keys)
    cz = np.zeros(len(x), np.int64) if codes is None else codes
    order = np.argsort(cz, kind="stable")
    bounds = np.searchsorted(cz[order], np.arange(g + 1))
    rows = []
    for i in range(g):
        idx = order[bounds[i]:bounds[i + 1]]
        ia, ib = idx[side[idx] == 0], idx[side[idx] == 1]
        va, ca = _side_counts(x[ia], w[ia])
        vb, cb = _side_counts(x[ib], w[ib])
        na, nb = int(ca.sum()), int(cb.sum())
        if na and nb:
            edges = _psi_bins_from_counts(va, ca, bins)
            ha = np.bincount(np.searchsorted(edges, va, side="right"), weights=ca, minlength=len(edges) + 1)
            hb = np.bincount(np.searchsorted(edges, vb, side="right"), weights=cb, minlength=len(edges) + 1)
            p = psi(np.rint(ha).astype(np.int64), np.rint(hb).astype(np.int64))
            d, pv = _ks_from_counts(va, ca, vb, cb)
        else:
            p, d, pv = np.nan, np.nan, np.nan
        rows.append((column, na, nb, p, psi_flag(p), d, pv))
    return _drift_frame(keys if by else None, rows)


def _drift_frame(keys, rows) -> pd.DataFrame:
    """The distribution-drift result: group keys (or one row) beside the PSI/KS columns."""
    out = keys.copy() if keys is not None else pd.DataFrame(index=pd.RangeIndex(1))
    stats = pd.DataFrame(rows, columns=["variable", "n_baseline", "n_current", "psi", "psi_flag", "ks",
                                        "ks_pvalue"])
    for c in stats.columns:
        out[c] = stats[c].to_numpy()
    return out.astype({"variable": "str", "n_baseline": "int64", "n_current": "int64", "psi": "float64",
                       "psi_flag": "str", "ks": "float64", "ks_pvalue": "float64"}).reset_index(drop=True)
