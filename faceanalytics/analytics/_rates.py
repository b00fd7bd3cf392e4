"""Pass rates at Megvii's per-row reference thresholds, Baidu's configured threshold
and Baidu's liveness thresholds (keyed by false-*reject* rate), with intervals.

A comparison passes level L when ``confidence >= thr_L`` of *its own row*: the
documents say the thresholds are per call and must not be compared across calls.
A missing confidence (a Baidu attempt stopped before the comparison) never passes,
so it counts as a rejection wherever its row has the threshold.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ._core import (LEVEL_COLUMNS, LEVELS, MIN_N, as_list, check_bins, float_codes, floats, group_codes, histogram_weights,
                    level_column, level_names, min_count, number, once_per_attempt, require)
from ._stats import proportion_ci

__all__ = ["pass_rates", "configured_pass_rates", "liveness_pass_rates", "threshold_lines",
           "confidence_distribution", "rate_frame"]


def _count(mask: np.ndarray, codes: np.ndarray | None, ngroups: int,
           weights: np.ndarray | None = None) -> np.ndarray:
    if weights is not None:
        w = np.where(mask, weights, 0)
        if codes is None:
            return np.array([int(w.sum())], dtype=np.int64)
        return np.bincount(codes, weights=w, minlength=ngroups).astype(np.int64)
    if codes is None:
        return np.array([int(np.count_nonzero(mask))], dtype=np.int64)
    return np.bincount(codes[mask], minlength=ngroups).astype(np.int64)


def rate_frame(keys: pd.DataFrame, labels: Sequence, label_column: str, n: Sequence[np.ndarray],
               k: Sequence[np.ndarray], *, count_name: str = "passed", rate_name: str = "pass_rate",
               min_n: int = MIN_N, confidence: float = 0.95, method: str = "wilson",
               keep_empty: bool = False) -> pd.DataFrame:
    """Assemble the tidy rate table: keys x labels, one row per (group, label) with n > 0."""
    g = len(keys)
    nl = len(labels)
    nn = np.stack(n, axis=1).reshape(-1) if nl else np.zeros(0, np.int64)
    kk = np.stack(k, axis=1).reshape(-1) if nl else np.zeros(0, np.int64)
    gi = np.repeat(np.arange(g), nl)
    li = np.tile(np.arange(nl), g)
    keep = np.ones(nn.shape, bool) if keep_empty else nn > 0
    gi, li, nn, kk = gi[keep], li[keep], nn[keep], kk[keep]
    out = keys.iloc[gi].reset_index(drop=True) if len(keys.columns) else pd.DataFrame(index=pd.RangeIndex(len(gi)))
    lab = np.asarray(list(labels), dtype=object)[li]
    out[label_column] = pd.Series(lab, dtype="str" if all(isinstance(x, str) for x in labels) else None)
    out["n"] = nn.astype(np.int64)
    out[count_name] = kk.astype(np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out[rate_name] = np.where(nn > 0, kk / np.where(nn > 0, nn, 1), np.nan)
    lo, hi = proportion_ci(kk, nn, confidence, method)
    out["ci_low"] = lo
    out["ci_high"] = hi
    out["low_n"] = nn < min_n
    return out


def pass_rates(comparisons: pd.DataFrame, by=None, *, freq: str | None = None, tz=None,
               time_column: str = "session_time", levels: Sequence[str] = LEVELS,
               min_n: int = MIN_N, confidence: float = 0.95, method: str = "wilson") -> pd.DataFrame:
    """Share of comparisons whose confidence reaches *their own* threshold, per level.

    Returns one row per group (``by`` columns, then ``period`` when ``freq`` is a
    pandas alias such as ``"D"``, ``"W"``, ``"ME"`` or ``"MS"``) and level, for levels
    the group has (``n > 0``):

    ``level`` (``"1e-3"`` … ``"1e-6"``, str), ``n`` (rows with that level's threshold,
    int64), ``passed`` (``confidence >= threshold``; a missing confidence is a
    rejection, int64), ``pass_rate``, ``ci_low``, ``ci_high`` (float64; Wilson by
    default, ``method="clopper-pearson"`` needs SciPy) and ``low_n`` (``n < min_n``:
    show the count, not the rate).  ``period`` labels the period as ``resample`` does
    (``"W"``: Monday-to-Sunday weeks, labelled by the Sunday; ``"MS"``: by the 1st), at
    midnight in ``tz`` (default UTC; ``tz="Asia/Shanghai"`` counts Beijing days).  Rows are sorted by the keys (missing values last), then level.

    >>> pass_rates(comparisons, by="comparison", freq="W")   # doctest: +SKIP
    """
    min_n = min_count(min_n)
    by, levels = as_list(by), level_names(levels)
    require(comparisons, ["confidence", *(level_column(lv) for lv in levels)], "pass_rates")
    codes, keys = group_codes(comparisons, by, freq=freq, time_column=time_column, tz=tz)
    g = len(keys)
    conf = floats(comparisons["confidence"])
    ns, ks = [], []
    for lv in levels:
        thr = floats(comparisons[LEVEL_COLUMNS[lv]])
        ns.append(_count(~np.isnan(thr), codes, g))
        ks.append(_count(conf >= thr, codes, g))          # NaN on either side: not passed
    return rate_frame(keys, list(levels), "level", ns, ks, min_n=min_n, confidence=confidence,
                      method=method)


def configured_pass_rates(comparisons: pd.DataFrame, by=None, *, freq: str | None = None, tz=None,
                          time_column: str = "session_time", min_n: int = MIN_N,
                          confidence: float = 0.95, method: str = "wilson") -> pd.DataFrame:
    """Pass rates at Baidu's configured similarity threshold (the ``threshold`` column).

    Kept apart from :func:`pass_rates`: Baidu's threshold is a per-plan setting, not
    one of Megvii's false-accept levels.  One row per group and distinct configured
    ``threshold`` value: ``threshold``, ``n``, ``passed``, ``pass_rate``, ``ci_low``,
    ``ci_high``, ``low_n``.  An attempt stopped before the comparison (no score) is
    counted, as a rejection.  Each attempt counts once (:func:`once_per_attempt`: a
    ``baidu_detail`` score that ``baidu_getall`` also lists is not counted again).
    """
    min_n = min_count(min_n)
    by = as_list(by)
    require(comparisons, ["confidence", "threshold"], "configured_pass_rates")
    comparisons = once_per_attempt(comparisons)
    has = comparisons["threshold"].notna().to_numpy()
    sub = comparisons[has] if not has.all() else comparisons
    keys_cols = [*by, "threshold"]
    codes, keys = group_codes(sub, keys_cols, freq=freq, time_column=time_column, tz=tz)
    g = len(keys)
    conf = floats(sub["confidence"])
    thr = floats(sub["threshold"])
    n = _count(np.ones(len(sub), bool), codes, g)
    k = _count(conf >= thr, codes, g)
    # ``threshold`` is a key here, so each group has exactly one: reorder the columns.
    out = rate_frame(keys, ["configured"], "rule", [n], [k], min_n=min_n, confidence=confidence,
                     method=method)
    cols = [c for c in keys.columns if c != "threshold"] + ["threshold"]
    return out[cols + ["n", "passed", "pass_rate", "ci_low", "ci_high", "low_n"]]


def liveness_pass_rates(table: pd.DataFrame, thresholds: Mapping[str, float], by=None, *,
                        score: str = "liveness_score", freq: str | None = None, tz=None,
                        time_column: str = "session_time", min_n: int = MIN_N,
                        confidence: float = 0.95, method: str = "wilson") -> pd.DataFrame:
    """Share of Baidu liveness scores at or above thresholds keyed by false-*reject* rate.

    Baidu publishes liveness thresholds per FRR level (``{"frr_1e-2": 0.9, …}``),
    unlike Megvii's false-*accept* levels: the output column is ``frr_level`` so the
    two never share a name.  A missing score counts as a rejection; Baidu's detail
    result reports 0 for a failed liveness check.
    """
    min_n = min_count(min_n)
    by = as_list(by)
    require(table, [score], "liveness_pass_rates")
    codes, keys = group_codes(table, by, freq=freq, time_column=time_column, tz=tz)
    g = len(keys)
    x = floats(table[score])
    labels = list(thresholds)
    ns = [_count(np.ones(len(table), bool), codes, g) for _ in labels]
    ks = [_count(x >= float(thresholds[lab]), codes, g) for lab in labels]
    out = rate_frame(keys, labels, "frr_level", ns, ks, min_n=min_n, confidence=confidence,
                     method=method)
    out.insert(out.columns.get_loc("frr_level") + 1, "threshold",
               out["frr_level"].map({k: float(v) for k, v in thresholds.items()}).astype("float64"))
    return out


def _mode_range(x: np.ndarray, w: np.ndarray | None = None) -> tuple[float, float, float, int]:
    """(most common value, min, max, number of distinct values) of the non-NaN values.

    ``w``: how many rows each value stands for (a histogram), else one each.

    Thresholds take a handful of values, so peel them off one at a time (each pass
    touches only the rows not yet matched); many distinct values fall back to exact
    integer counting.  Ties go to the smallest value.
    """
    rest = x[~np.isnan(x)]
    if rest.size == 0:
        return np.nan, np.nan, np.nan, 0
    if w is not None:
        vals, inv = np.unique(rest, return_inverse=True)
        counts = np.bincount(inv.reshape(-1), weights=w[~np.isnan(x)], minlength=len(vals))
        order = sorted(range(len(vals)), key=lambda i: (-counts[i], vals[i]))
        return float(vals[order[0]]), float(vals.min()), float(vals.max()), len(vals)
    vals, counts = [], []
    for _ in range(8):
        if rest.size == 0:
            break
        a = rest[0]
        m = rest == a
        vals.append(float(a))
        counts.append(int(np.count_nonzero(m)))
        rest = rest[~m]
    if rest.size:
        codes, uniq = float_codes(x[~np.isnan(x)])
        c = np.bincount(codes, minlength=len(uniq))
        vals, counts = list(uniq), list(c)
    order = sorted(range(len(vals)), key=lambda i: (-counts[i], vals[i]))
    return vals[order[0]], min(vals), max(vals), len(vals)


def threshold_lines(comparisons: pd.DataFrame, *, levels: Sequence[str] = LEVELS,
                    configured: bool = True) -> pd.DataFrame:
    """What :func:`plot_confidence_thresholds` draws as vertical lines.

    One row per Megvii level present (``kind="far_level"``) and per distinct Baidu
    configured threshold (``kind="configured"``): ``kind``, ``label``, ``threshold``
    (the most common value), ``threshold_min``, ``threshold_max``, ``n_thresholds``
    (distinct values: more than one means the provider's thresholds varied), ``n``,
    ``passed`` and ``pass_rate`` (each row judged at its own threshold).

    ``comparisons`` may also be a :func:`confidence_histogram` (its ``count`` column
    weighs each row): same result, without the rows.
    """
    levels = level_names(levels)
    require(comparisons, ["confidence"], "threshold_lines")
    comparisons = once_per_attempt(comparisons)
    conf = floats(comparisons["confidence"])
    w = histogram_weights(comparisons)

    def count(mask) -> int:
        return int(np.count_nonzero(mask)) if w is None else int(round(float(w[mask].sum())))

    rows = []
    for lv in levels:
        col = LEVEL_COLUMNS[lv]
        if col not in comparisons:
            continue
        thr = floats(comparisons[col])
        n = count(~np.isnan(thr))
        if n == 0:
            continue
        k = count(conf >= thr)
        mode, lo, hi, m = _mode_range(thr, w)
        rows.append(("far_level", lv, mode, lo, hi, m, n, k))
    if configured and "threshold" in comparisons:
        thr = floats(comparisons["threshold"])
        has = ~np.isnan(thr)
        if has.any():
            vals = np.unique(thr[has])
            for v in vals:
                sel = thr == v
                n = count(sel)
                k = count(sel & (conf >= v))
                rows.append(("configured", f"configured {v:g}", float(v), float(v), float(v), 1, n, k))
    out = pd.DataFrame(rows, columns=["kind", "label", "threshold", "threshold_min", "threshold_max",
                                      "n_thresholds", "n", "passed"])
    out = out.astype({"kind": "str", "label": "str", "threshold": "float64", "threshold_min": "float64",
                      "threshold_max": "float64", "n_thresholds": "int64", "n": "int64",
                      "passed": "int64"})
    out["pass_rate"] = (out["passed"] / out["n"]).astype("float64")
    return out


def confidence_distribution(comparisons: pd.DataFrame, *, binwidth: float | None = 1.0,
                            bins: int | None = None, binrange: tuple[float, float] | None = None,
                            column: str = "confidence") -> pd.DataFrame:
    """Counts of ``confidence`` in equal-width bins ``[bin_left, bin_right)`` (last bin closed).

    By default 1-point bins aligned on whole numbers, spanning the data.  Rows with
    no confidence are in no bin (they are rejections wherever they have a threshold).
    ``comparisons`` may also be a :func:`confidence_histogram` (its ``count`` column
    weighs each row): the same bins and counts, without the rows.
    """
    if binwidth is not None:
        binwidth = number(binwidth, "binwidth")
    if bins is not None:
        bins = number(bins, "bins", low=1, low_ok=True, integer=True)
    if binrange is not None:
        lo, hi = (number(v, "binrange", low=-np.inf) for v in binrange)
        if not lo < hi:
            raise ValueError(f"binrange must be (low, high) with low < high; got {binrange!r}")
    require(comparisons, [column], "confidence_distribution")
    comparisons = once_per_attempt(comparisons)
    x = floats(comparisons[column])
    w = histogram_weights(comparisons)
    if w is not None:
        w = w[~np.isnan(x)]
    x = x[~np.isnan(x)]
    if binrange is None:
        if x.size == 0:
            binrange = (0.0, 100.0)
        else:
            lo, hi = float(x.min()), float(x.max())
            if bins is None and binwidth:
                lo = np.floor(lo / binwidth) * binwidth
                hi = max(np.ceil(hi / binwidth) * binwidth, lo + binwidth)
                if float(x.max()) >= hi:
                    hi += binwidth
            binrange = (lo, hi if hi > lo else lo + 1.0)
    lo, hi = map(float, binrange)
    if bins is None:
        bins = max(int(round((hi - lo) / (binwidth or 1.0))), 1)
    check_bins(bins, binwidth)
    counts, edges = np.histogram(x, bins=bins, range=(lo, hi), weights=w)
    return pd.DataFrame({"bin_left": edges[:-1], "bin_right": edges[1:],
                         "count": np.rint(counts).astype(np.int64)})
