"""Intervals and distances, vectorised over NumPy arrays (no SciPy needed except
for Clopper-Pearson).

* Wilson score interval (default): behaves at 0 and n, e.g. 0/100 -> [0, 0.037].
* Clopper-Pearson ("exact"): beta quantiles; needs SciPy.
* Newcombe's hybrid score interval (his method 10) for a difference of two
  independent proportions, built from the two Wilson intervals.
* Population stability index and two-sample Kolmogorov-Smirnov.
"""
from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np

from ._core import number

__all__ = ["proportion_ci", "wilson_ci", "clopper_pearson_ci", "newcombe_diff_ci", "z_value",
           "psi", "psi_flag", "ks_2samp", "ks_pvalue", "probit", "describe_rate",
           "PSI_WATCH", "PSI_ACT"]

# Conventional PSI cut-offs (credit-scoring practice, e.g. Siddiqi 2006):
# below 0.1 no meaningful shift, 0.1-0.25 watch, 0.25 and above act.
PSI_WATCH, PSI_ACT = 0.10, 0.25
METHODS = ("wilson", "clopper-pearson")


def confidence_level(confidence) -> float:
    """``confidence`` as a float in (0, 1), else a TypeError (text, a bool: ``"0.95"`` failed as
    "'<' not supported between 'int' and 'str'") or a ValueError (95 meant as a percentage;
    Clopper-Pearson took it without a word)."""
    c = number(confidence, "confidence", low=0.0)
    if not c < 1:
        raise ValueError(f"confidence must be in (0, 1), not {confidence!r}")
    return c


def z_value(confidence: float) -> float:
    confidence = confidence_level(confidence)
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def wilson_ci(k, n, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for k successes in n trials (NaN where n == 0)."""
    k = np.asarray(k, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    z = z_value(confidence)
    z2 = z * z
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / n
        denom = 1 + z2 / n
        centre = (p + z2 / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denom
        lo = np.clip(centre - half, 0.0, 1.0)
        hi = np.clip(centre + half, 0.0, 1.0)
    lo = np.where(k == 0, 0.0, lo)
    hi = np.where(k == n, 1.0, hi)
    bad = n <= 0
    return np.where(bad, np.nan, lo), np.where(bad, np.nan, hi)


def clopper_pearson_ci(k, n, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Clopper-Pearson interval (beta quantiles).  Requires SciPy."""
    try:
        from scipy.stats import beta
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("method='clopper-pearson' needs SciPy (pip install scipy); "
                          "method='wilson' needs nothing") from e
    k = np.asarray(k, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    a = (1 - confidence_level(confidence)) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        lo = np.where(k > 0, beta.ppf(a, k, n - k + 1), 0.0)
        hi = np.where(k < n, beta.ppf(1 - a, k + 1, n - k), 1.0)
    bad = n <= 0
    return np.where(bad, np.nan, lo), np.where(bad, np.nan, hi)


def proportion_ci(k, n, confidence: float = 0.95, method: str = "wilson"):
    if method == "wilson":
        return wilson_ci(k, n, confidence)
    if method in ("clopper-pearson", "exact"):
        return clopper_pearson_ci(k, n, confidence)
    raise ValueError(f"method must be one of {', '.join(METHODS)}, not {method!r}")


def newcombe_diff_ci(k1, n1, k2, n2, confidence: float = 0.95):
    """Newcombe's hybrid score interval for ``p2 - p1`` (second minus first).

    Newcombe (1998), Statistics in Medicine 17:873-890, method 10.
    """
    k1, n1, k2, n2 = (np.asarray(x, dtype=np.float64) for x in (k1, n1, k2, n2))
    l1, u1 = wilson_ci(k1, n1, confidence)
    l2, u2 = wilson_ci(k2, n2, confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        p1, p2 = k1 / n1, k2 / n2
    d = p2 - p1
    lo = d - np.sqrt((p2 - l2) ** 2 + (u1 - p1) ** 2)
    hi = d + np.sqrt((u2 - p2) ** 2 + (p1 - l1) ** 2)
    return d, lo, hi


def psi(expected_counts, actual_counts, smoothing: float = 0.5) -> float:
    """Population stability index between two binned distributions.

    ``smoothing`` is added to every bin count so an empty bin does not make it infinite.
    """
    e = np.asarray(expected_counts, dtype=np.float64) + smoothing
    a = np.asarray(actual_counts, dtype=np.float64) + smoothing
    pe, pa = e / e.sum(), a / a.sum()
    return float(np.sum((pa - pe) * np.log(pa / pe)))


def psi_flag(value: float) -> str:
    if not np.isfinite(value):
        return "n/a"
    return "act" if value >= PSI_ACT else "watch" if value >= PSI_WATCH else "stable"


def ks_pvalue(d: float, n1: int, n2: int) -> float:
    """Asymptotic two-sided p-value of the two-sample KS statistic (Stephens' correction)."""
    if n1 == 0 or n2 == 0 or not np.isfinite(d):
        return float("nan")
    en = math.sqrt(n1 * n2 / (n1 + n2))
    lam = (en + 0.12 + 0.11 / en) * d
    if lam < 1e-3:
        return 1.0
    s, sign = 0.0, 1.0
    for j in range(1, 101):
        term = 2 * sign * math.exp(-2 * j * j * lam * lam)
        s += term
        if abs(term) < 1e-12:
            break
        sign = -sign
    return float(min(max(s, 0.0), 1.0))


def ks_2samp(x, y) -> tuple[float, float]:
    """Two-sample Kolmogorov-Smirnov statistic (exact, ties handled) and asymptotic p-value."""
    x = np.sort(np.asarray(x, dtype=np.float64))
    y = np.sort(np.asarray(y, dtype=np.float64))
    if x.size == 0 or y.size == 0:
        return float("nan"), float("nan")
    grid = np.concatenate([x, y])
    cx = np.searchsorted(x, grid, side="right") / x.size
    cy = np.searchsorted(y, grid, side="right") / y.size
    d = float(np.max(np.abs(cx - cy)))
    return d, ks_pvalue(d, x.size, y.size)


# Acklam's rational approximation of the inverse normal CDF (relative error < 1.2e-9).
_A = (-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
      1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00)
_B = (-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
      6.680131188771972e+01, -1.328068155288572e+01)
_C = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
      -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00)
_D = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
      3.754408661907416e+00)


def probit(p) -> np.ndarray:
    """Inverse standard normal CDF, vectorised (the DET curve's axis transform)."""
    p = np.asarray(p, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    out[p == 0] = -np.inf
    out[p == 1] = np.inf
    plow = 0.02425
    lo = (p > 0) & (p < plow)
    hi = (p > 1 - plow) & (p < 1)
    mid = (p >= plow) & (p <= 1 - plow)
    if lo.any():
        q = np.sqrt(-2 * np.log(p[lo]))
        out[lo] = (((((_C[0] * q + _C[1]) * q + _C[2]) * q + _C[3]) * q + _C[4]) * q + _C[5]) / \
                  ((((_D[0] * q + _D[1]) * q + _D[2]) * q + _D[3]) * q + 1)
    if hi.any():
        q = np.sqrt(-2 * np.log(1 - p[hi]))
        out[hi] = -(((((_C[0] * q + _C[1]) * q + _C[2]) * q + _C[3]) * q + _C[4]) * q + _C[5]) / \
                   ((((_D[0] * q + _D[1]) * q + _D[2]) * q + _D[3]) * q + 1)
    if mid.any():
        q = p[mid] - 0.5
        r = q * q
        out[mid] = (((((_A[0] * r + _A[1]) * r + _A[2]) * r + _A[3]) * r + _A[4]) * r + _A[5]) * q / \
                   (((((_B[0] * r + _B[1]) * r + _B[2]) * r + _B[3]) * r + _B[4]) * r + 1)
    return out


def describe_rate(k: int, n: int, *, confidence: float = 0.95, method: str = "wilson",
                  noun: str = "") -> str:
    """A rate as a reader should see it: never a bare 0 % when nothing was observed.

    >>> describe_rate(0, 1000)
    '0 of 1,000: none observed; 95% upper bound 0.38% (about 3/N)'
    """
    # counts: 3.5 read as 3 and "3" or True taken without a word
    k, n = number(k, "k", low_ok=True, integer=True), number(n, "n", low_ok=True, integer=True)
    if k > n:
        raise ValueError(f"k ({k}) counts some of n ({n}) and cannot exceed it")
    if n == 0:
        return "no observations"
    lo, hi = proportion_ci(k, n, confidence, method)
    lo, hi = float(lo), float(hi)
    pct = f"{round(confidence * 100):g}%"
    what = f" {noun}" if noun else ""
    if k == 0:
        return (f"0 of {n:,}{what}: none observed; {pct} upper bound {small_percent(hi)} "
                f"(about 3/N)")
    return f"{k:,} of {n:,}{what}: {small_percent(k / n)} ({pct} CI {small_percent(lo)}–{small_percent(hi)})"


def small_percent(x: float) -> str:
    if x == 0:
        return "0%"
    if x < 0.0001:
        return f"{x:.4%}"
    if x < 0.01:
        return f"{x:.2%}"
    return f"{x:.1%}"
