"""Anti-spoofing (``genuineness``): flagged share per attack type, against each row's threshold.

A check is *flagged* when ``confidence > threshold`` (the documents' rule; equality
is not flagged).  A field that was not returned is not zero: ``screen_replay_*`` only
comes back when the environment image was sent, so every rate is over the rows that
have the field, and the output says how many sessions had it.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ._core import (MIN_N, as_list, check_bins, distinct_per_group, floats, group_codes, min_count, number,
                    once_per_attempt, require)
from ._flip import bin_index, exact_difference
from ._rates import rate_frame

__all__ = ["genuineness_rates", "genuineness_near_threshold", "genuineness_histogram"]


def _distinct_pairs(codes: np.ndarray, df: pd.DataFrame, mask: np.ndarray, g: int) -> np.ndarray:
    """Distinct (source, session_id) per group code among ``mask`` rows."""
    return distinct_per_group(codes, [df[c] for c in ("source", "session_id") if c in df.columns], mask, g)


def genuineness_rates(genuineness: pd.DataFrame, by=None, *, sessions: pd.DataFrame | None = None,
                      freq: str | None = None, tz=None, time_column: str = "session_time",
                      min_n: int = MIN_N, confidence: float = 0.95,
                      method: str = "wilson") -> pd.DataFrame:
    """Flagged share per attack type (and ``by`` group), with coverage.

    Columns: ``by``, [``period``], ``attack``, ``n`` (checks with both a confidence and
    a threshold), ``flagged`` (``confidence > threshold``), ``flagged_rate``,
    ``ci_low``, ``ci_high``, ``low_n``, ``n_no_threshold`` (checks returned without a
    threshold, e.g. Baidu's synthetic-image score: not rated), ``n_sessions``
    (sessions that returned this attack type), ``n_sessions_in_scope`` (sessions
    that returned any anti-spoofing field, or the rows of ``sessions`` when given)
    and ``coverage`` (their ratio).
    """
    min_n = min_count(min_n)
    by = as_list(by)
    require(genuineness, ["attack", "confidence", "threshold"], "genuineness_rates")
    genuineness = once_per_attempt(genuineness)
    conf = floats(genuineness["confidence"])
    thr = floats(genuineness["threshold"])
    codes, keys = group_codes(genuineness, [*by, "attack"], freq=freq, time_column=time_column, tz=tz)
    g = len(keys)
    has = ~np.isnan(conf) & ~np.isnan(thr)
    n = np.bincount(codes[has], minlength=g)
    k = np.bincount(codes[has & (conf > thr)], minlength=g)
    out = rate_frame(keys, ["_"], "_", [n], [k], count_name="flagged", rate_name="flagged_rate",
                     min_n=min_n, confidence=confidence, method=method, keep_empty=True)
    out = out.drop(columns="_")
    out["n_no_threshold"] = np.bincount(codes[~np.isnan(conf) & np.isnan(thr)], minlength=g)
    out["n_sessions"] = _distinct_pairs(codes, genuineness, np.ones(len(conf), bool), g)
    # Scope: per (by, period) group, sessions with any anti-spoofing row or the sessions table.
    scope_keys = [*by] + (["period"] if freq else [])
    if sessions is not None:
        scodes, skeys = group_codes(sessions, by, freq=freq, time_column=time_column, tz=tz)
        sg = len(skeys)
        scope = _distinct_pairs(np.zeros(len(sessions), np.int64) if scodes is None else scodes,
                                sessions, np.ones(len(sessions), bool), sg)
    else:
        scodes, skeys = group_codes(genuineness, by, freq=freq, time_column=time_column, tz=tz)
        sg = len(skeys)
        scope = _distinct_pairs(np.zeros(len(genuineness), np.int64) if scodes is None else scodes,
                                genuineness, np.ones(len(genuineness), bool), sg)
    if scope_keys:
        skeys = skeys.copy()
        skeys["n_sessions_in_scope"] = scope
        out = out.merge(skeys, on=scope_keys, how="left", sort=False)
        out["n_sessions_in_scope"] = out["n_sessions_in_scope"].fillna(0).astype("int64")
    else:
        out["n_sessions_in_scope"] = int(scope[0]) if len(scope) else 0
    return finish_coverage(out)


def finish_coverage(out: pd.DataFrame) -> pd.DataFrame:
    """Coverage (sessions with the check / sessions in scope) and the integer dtypes,
    shared by the pandas metric and the engines."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out["coverage"] = (out["n_sessions"] / out["n_sessions_in_scope"].where(
            out["n_sessions_in_scope"] > 0)).astype("float64")
    for c in ("n", "flagged", "n_no_threshold", "n_sessions"):
        out[c] = out[c].astype("int64")
    return out


def genuineness_near_threshold(genuineness: pd.DataFrame, *, window: float = 0.05,
                               by=None) -> pd.DataFrame:
    """Mass just under and just over each row's threshold, per attack type.

    ``just_under``: ``threshold - window < confidence <= threshold`` (not flagged,
    but a small change of threshold would flag it); ``just_over``:
    ``threshold < confidence <= threshold + window``.  Columns: ``by``, ``attack``,
    ``window``, ``n``, ``just_under``, ``just_under_share``, ``just_over``,
    ``just_over_share``, ``threshold`` (most common), ``threshold_min``,
    ``threshold_max``, ``n_thresholds``.
    """
    by = as_list(by)
    window = number(window, "window", low_ok=True)
    require(genuineness, ["confidence", "threshold", "attack"], "genuineness_near_threshold")
    genuineness = once_per_attempt(genuineness)
    conf = floats(genuineness["confidence"])
    thr = floats(genuineness["threshold"])
    codes, keys = group_codes(genuineness, [*by, "attack"])
    g = len(keys)
    has = ~np.isnan(conf) & ~np.isnan(thr)
    m = exact_difference(conf, thr)
    n = np.bincount(codes[has], minlength=g)
    under = np.bincount(codes[has & (m <= 0) & (m > -window)], minlength=g)
    over = np.bincount(codes[has & (m > 0) & (m <= window)], minlength=g)
    out = keys.copy()
    out["window"] = float(window)
    out["n"] = n.astype("int64")
    out["just_under"] = under.astype("int64")
    out["just_over"] = over.astype("int64")
    with np.errstate(divide="ignore", invalid="ignore"):
        out["just_under_share"] = np.where(n > 0, under / np.maximum(n, 1), np.nan)
        out["just_over_share"] = np.where(n > 0, over / np.maximum(n, 1), np.nan)
    sub = pd.DataFrame({"g": codes[has], "t": thr[has]})
    if len(sub):
        vc = sub.value_counts().reset_index(name="c").sort_values(["g", "c", "t"], ascending=[True, False, True])
        mode = vc.drop_duplicates("g").set_index("g")["t"]
        nd = vc.groupby("g")["t"].nunique()
        tmin, tmax = vc.groupby("g")["t"].min(), vc.groupby("g")["t"].max()
    else:
        mode = nd = tmin = tmax = pd.Series(dtype="float64")
    gi = pd.Series(np.arange(g))
    out["threshold"] = gi.map(mode).astype("float64").to_numpy()
    out["threshold_min"] = gi.map(tmin).astype("float64").to_numpy()
    out["threshold_max"] = gi.map(tmax).astype("float64").to_numpy()
    out["n_thresholds"] = gi.map(nd).fillna(0).astype("int64").to_numpy()
    cols = [*by, "attack", "window", "n", "just_under", "just_under_share", "just_over",
            "just_over_share", "threshold", "threshold_min", "threshold_max", "n_thresholds"]
    return out[cols]


def genuineness_histogram(genuineness: pd.DataFrame, *, binwidth: float = 0.02, x: str = "confidence",
                          by=None) -> pd.DataFrame:
    """Counts per attack type in bins of ``confidence`` (0-1) or ``margin`` (-1 to 1).

    Columns: ``by``, ``attack``, ``bin_left``, ``bin_right``, ``count`` (every bin of
    the range, zeros included).  Checks with no confidence (or, for margins, no
    threshold) are not counted.  The last bin includes its right edge.
    """
    by = as_list(by)
    binwidth = number(binwidth, "binwidth")
    genuineness = once_per_attempt(genuineness)
    conf = floats(genuineness["confidence"])
    if x == "confidence":
        v, lo, hi = conf, 0.0, 1.0
    elif x == "margin":
        v, lo, hi = exact_difference(conf, floats(genuineness["threshold"])), -1.0, 1.0
    else:
        raise ValueError("x must be 'confidence' or 'margin'")
    nb = int(round((hi - lo) / binwidth))
    if nb < 1:
        raise ValueError(f"binwidth must be at most the range, {hi - lo:g}; got {binwidth!r}")
    check_bins(nb, binwidth)
    edges = np.round(lo + np.arange(nb + 1) * binwidth, 10)
    ok = ~np.isnan(v)
    ok &= (np.where(ok, v, lo) >= lo) & (np.where(ok, v, lo) <= hi)
    idx = np.clip(bin_index(v, lo, binwidth), 0, nb - 1)      # the top edge joins the last bin
    codes, keys = group_codes(genuineness, [*by, "attack"])
    g = len(keys)
    counts = np.bincount(codes[ok] * nb + idx[ok], minlength=g * nb)
    out = keys.iloc[np.repeat(np.arange(g), nb)].reset_index(drop=True)
    out["bin_left"] = np.tile(edges[:-1], g)
    out["bin_right"] = np.tile(edges[1:], g)
    out["count"] = counts.astype(np.int64)
    return out
