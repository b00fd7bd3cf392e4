"""Drift between two periods.

Lead with what decides outcomes: the signed change in pass rate at each level,
with Newcombe's hybrid score interval for the difference of two proportions.  A
one-point shift of the genuine confidence mean can raise rejections at 1e-4 by a
quarter while the population stability index still reads "stable" — PSI and
Kolmogorov-Smirnov (on confidence and each anti-spoofing confidence) come second.

PSI cut-offs used: < 0.10 ``stable``, 0.10-0.25 ``watch``, >= 0.25 ``act`` (the
conventional credit-scoring cut-offs).  Bins are the deciles of the baseline.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ._core import LEVELS, MIN_N, as_list, floats, group_codes, time_us
from ._rates import pass_rates
from ._stats import PSI_ACT, PSI_WATCH, ks_2samp, newcombe_diff_ci, psi, psi_flag

__all__ = ["period_slice", "pass_rate_drift", "distribution_drift", "PSI_WATCH", "PSI_ACT"]


def period_slice(table: pd.DataFrame, since=None, until=None, *,
                 time_column: str = "session_time") -> pd.DataFrame:
    """Rows with ``since <= time_column < until`` (dates or timestamps, UTC)."""
    t = time_us(table[time_column])
    keep = t != np.iinfo(np.int64).min
    if since is not None:
        keep &= t >= time_us(pd.Series([pd.Timestamp(since, tz="UTC") if pd.Timestamp(since).tzinfo is None
                                        else pd.Timestamp(since)]))[0]
    if until is not None:
        keep &= t < time_us(pd.Series([pd.Timestamp(until, tz="UTC") if pd.Timestamp(until).tzinfo is None
                                       else pd.Timestamp(until)]))[0]
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
    by = as_list(by)
    a = pass_rates(baseline, by, levels=levels, min_n=min_n, confidence=confidence)
    b = pass_rates(current, by, levels=levels, min_n=min_n, confidence=confidence)
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
    out = keys.copy() if by else pd.DataFrame(index=pd.RangeIndex(1))
    stats = pd.DataFrame(rows, columns=["variable", "n_baseline", "n_current", "psi", "psi_flag", "ks",
                                        "ks_pvalue"])
    for c in stats.columns:
        out[c] = stats[c].to_numpy()
    return out.astype({"variable": "str", "n_baseline": "int64", "n_current": "int64", "psi": "float64",
                       "psi_flag": "str", "ks": "float64", "ks_pvalue": "float64"}).reset_index(drop=True)
