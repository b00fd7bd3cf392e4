"""Margins and would-flip analysis: what changes if the cut moves.

The unit of analysis is the *margin*, ``confidence - threshold`` of the row's own
threshold: a comparison passes when its margin is >= 0.  Moving from level 1e-4 to
1e-5 (or to a custom cut) flips the rows whose margins straddle the two cuts.
Margins are computed exactly on the providers' decimal grid, so a margin of 0.5
falls in the bin ``[0.5, 1.0)``, not in ``[0.0, 0.5)`` by a rounding error.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ._core import (LEVELS, as_list, check_bins, distinct_per_group, floats, group_codes, histogram_weights, level_column,
                    level_name, mask_ids, number, once_per_attempt, require)

__all__ = ["exact_difference", "bin_index", "margins", "margin_histogram", "would_flip", "would_flip_summary"]

_GRID = 10_000


def exact_difference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a - b`` without binary-float residue when both are on a 1e-4 grid."""
    ka, kb = np.rint(a * _GRID), np.rint(b * _GRID)
    ok = (ka / _GRID == a) & (kb / _GRID == b)
    return np.where(ok, (ka - kb) / _GRID, a - b)


def bin_index(v: np.ndarray, origin: float, binwidth: float) -> np.ndarray:
    """``floor((v - origin) / binwidth)``, exactly on the 1e-4 grid when the values are on it.

    NaN values get index 0 (mask them yourself).
    """
    v0 = np.where(np.isnan(v), origin, v)
    bw = binwidth * _GRID
    o = origin * _GRID
    k = np.rint(v0 * _GRID)
    if abs(bw - round(bw)) < 1e-9 and abs(o - round(o)) < 1e-9 and np.array_equal(k / _GRID, v0):
        return np.floor_divide(k.astype(np.int64) - int(round(o)), int(round(bw)))
    return np.floor((v0 - origin) / binwidth).astype(np.int64)


def cut_spec(spec, what: str = "cut"):
    """A level's name (``"1e-5"``, however written: ``"0.00001"``, the number ``1e-5``) or a
    global cut (a float confidence, 0-100).

    The number ``1e-4`` used to be a cut at confidence 0.0001, passing every scored row
    without a word: a number that is a level's value names that level, and a cut below 1
    (a share, not a 0-100 confidence) or not finite is refused."""
    if isinstance(spec, str):
        try:
            return level_name(spec)
        except ValueError as e:
            raise ValueError(f"{what}: {e} (or a confidence cut as a number, e.g. 80)") from None
    if isinstance(spec, bool) or not isinstance(spec, (int, float, np.integer, np.floating)):
        raise TypeError(f"{what} must be a level ({', '.join(LEVELS)}) or a confidence (0-100); "
                        f"got {spec!r}")
    v = float(spec)
    try:
        return level_name(v)
    except ValueError:
        pass
    if not np.isfinite(v) or 0 < v < 1:
        raise ValueError(f"{what}={spec!r}: a cut is a confidence on the 0-100 scale (e.g. 80), "
                         f"or a level ({', '.join(LEVELS)})")
    return v


def _cut(df: pd.DataFrame, spec, what: str = "cut") -> tuple[np.ndarray, str]:
    """Per-row threshold for a level or a global cut (:func:`cut_spec`), and its label."""
    got = cut_spec(spec, what)
    if isinstance(got, str):
        require(df, [level_column(got)], f"{what}={spec!r}")
        return floats(df[level_column(got)]), got
    return np.full(len(df), got), f"{got:g}"


def margins(comparisons: pd.DataFrame, level="1e-4", *, mask: bool = False) -> pd.DataFrame:
    """Rows with a threshold at ``level`` (or a number: a global cut) and their margin.

    Columns: ``source``, ``session_id`` (masked with ``mask=True``), ``comparison``,
    ``attempt``, ``session_time`` (those present), ``confidence``, ``threshold``,
    ``margin`` (NaN where there is no confidence: a rejection), ``passed``.
    """
    comparisons = once_per_attempt(comparisons)
    thr, _ = _cut(comparisons, level, "level")
    keep = ~np.isnan(thr)
    ids = [c for c in ("source", "session_id", "comparison", "attempt", "session_time")
           if c in comparisons.columns]
    out = comparisons.loc[keep, ids].reset_index(drop=True)
    if mask and "session_id" in out:
        out["session_id"] = mask_ids(out["session_id"])
    conf = floats(comparisons["confidence"])[keep]
    t = thr[keep]
    out["confidence"] = conf
    out["threshold"] = t
    out["margin"] = exact_difference(conf, t)
    out["passed"] = conf >= t
    return out


def margin_histogram(comparisons: pd.DataFrame, level="1e-4", *, binwidth: float = 0.5,
                     binrange: tuple[float, float] | None = None, by=None) -> pd.DataFrame:
    """Counts of margins in bins ``[bin_left, bin_right)`` aligned on multiples of ``binwidth``.

    One row per group and bin from the lowest to the highest bin with data (zeros
    included).  Rows with no confidence or outside ``binrange`` are not counted.
    Columns: ``by``, ``bin_left``, ``bin_right``, ``count``.  ``comparisons`` may also
    be a :func:`confidence_histogram` (its ``count`` column weighs each row).
    """
    by = as_list(by)
    binwidth = number(binwidth, "binwidth")
    if binrange is not None:
        lo, hi = (number(v, "binrange", low=-np.inf) for v in binrange)
        if not lo < hi:
            raise ValueError(f"binrange must be (low, high) with low < high; got {binrange!r}")
    comparisons = once_per_attempt(comparisons)
    thr, _ = _cut(comparisons, level, "level")
    conf = floats(comparisons["confidence"])
    m = exact_difference(conf, thr)
    ok = ~np.isnan(m)
    idx = bin_index(m, 0.0, binwidth)
    if binrange is not None:
        lo_i = int(np.floor(binrange[0] / binwidth + 1e-9))
        hi_i = int(np.ceil(binrange[1] / binwidth - 1e-9))
        ok &= (idx >= lo_i) & (idx < hi_i)
    codes, keys = group_codes(comparisons, by)
    cols = [*by, "bin_left", "bin_right", "count"]
    if not ok.any():
        return pd.DataFrame({**{c: keys[c].iloc[:0] for c in by}, "bin_left": np.zeros(0),
                             "bin_right": np.zeros(0), "count": np.zeros(0, np.int64)})[cols]
    lo = int(idx[ok].min()) if binrange is None else lo_i
    hi = int(idx[ok].max()) + 1 if binrange is None else hi_i
    nb = hi - lo
    g = len(keys)
    check_bins(g * nb, binwidth)
    flat = (np.zeros(len(idx), np.int64) if codes is None else codes) * nb + (idx - lo)
    w = histogram_weights(comparisons)
    counts = np.bincount(flat[ok], weights=None if w is None else w[ok], minlength=g * nb).reshape(g, nb)
    counts = np.rint(counts).astype(np.int64) if w is not None else counts
    bins = np.arange(lo, hi)
    out = keys.iloc[np.repeat(np.arange(g), nb)].reset_index(drop=True) if by else pd.DataFrame(
        index=pd.RangeIndex(nb))
    out["bin_left"] = np.tile(bins * binwidth, g)
    out["bin_right"] = np.tile((bins + 1) * binwidth, g)
    out["count"] = counts.reshape(-1).astype(np.int64)
    return out[cols]


def would_flip(comparisons: pd.DataFrame, frm="1e-4", to="1e-5", *, mask: bool = True) -> pd.DataFrame:
    """The comparisons whose decision changes when the cut moves from ``frm`` to ``to``.

    ``frm``/``to`` are levels (``"1e-5"``: each row's own threshold at that level) or
    numbers (one cut for every row).  Rows need both thresholds.  Columns: ``source``,
    ``session_id`` (masked unless ``mask=False``), ``comparison``, ``attempt``,
    ``session_time``, ``confidence``, ``threshold_from``, ``threshold_to``,
    ``margin_from``, ``margin_to``, ``change`` (``"pass→reject"`` or ``"reject→pass"``).
    Sorted by margin_from, then ids.
    """
    comparisons = once_per_attempt(comparisons)
    t0, _ = _cut(comparisons, frm, "frm")
    t1, _ = _cut(comparisons, to, "to")
    conf = floats(comparisons["confidence"])
    both = ~np.isnan(t0) & ~np.isnan(t1)
    p0, p1 = conf >= t0, conf >= t1
    sel = both & (p0 != p1)
    ids = [c for c in ("source", "session_id", "comparison", "attempt", "session_time")
           if c in comparisons.columns]
    out = comparisons.loc[sel, ids].reset_index(drop=True)
    if mask and "session_id" in out:
        out["session_id"] = mask_ids(out["session_id"])
    c, a, b = conf[sel], t0[sel], t1[sel]
    out["confidence"] = c
    out["threshold_from"] = a
    out["threshold_to"] = b
    out["margin_from"] = exact_difference(c, a)
    out["margin_to"] = exact_difference(c, b)
    out["change"] = pd.Series(np.where(p0[sel], "pass→reject", "reject→pass"), dtype="str")
    order = [c for c in ("margin_from", "source", "session_id", "comparison", "attempt") if c in out]
    return out.sort_values(order, kind="stable").reset_index(drop=True)


def would_flip_summary(comparisons: pd.DataFrame, frm="1e-4", to="1e-5", *, by=None,
                       window: float = 1.0) -> pd.DataFrame:
    """How many comparisons and sessions change decision, and how much mass sits near the cuts.

    Columns: ``by``, ``from``, ``to``, ``n`` (rows with both thresholds; a missing
    confidence is a rejection under both), ``passed_from``, ``passed_to``,
    ``to_reject``, ``to_pass``, ``changed_share``, ``sessions``, ``sessions_to_reject``,
    ``sessions_to_pass`` (distinct sessions with at least one such row),
    ``near_below_from``/``near_above_from`` (margins to the ``from`` cut in
    ``[-window, 0)`` / ``[0, window)``) and the same for ``to``, and ``cut_shift``
    (the most common ``threshold_to - threshold_from``: where the new cut sits on
    the ``from`` margin axis).  Groups with no row in scope are left out.
    """
    by = as_list(by)
    window = number(window, "window", low_ok=True)
    comparisons = once_per_attempt(comparisons)
    t0, l0 = _cut(comparisons, frm, "frm")
    t1, l1 = _cut(comparisons, to, "to")
    conf = floats(comparisons["confidence"])
    both = ~np.isnan(t0) & ~np.isnan(t1)
    p0, p1 = (conf >= t0) & both, (conf >= t1) & both
    m0, m1 = exact_difference(conf, t0), exact_difference(conf, t1)
    codes, keys = group_codes(comparisons, by)
    g = len(keys)
    cz = np.zeros(len(conf), np.int64) if codes is None else codes

    def cnt(mask):
        return np.bincount(cz[mask], minlength=g).astype(np.int64)

    out = keys.copy() if by else pd.DataFrame(index=pd.RangeIndex(1))
    out["from"] = l0
    out["to"] = l1
    out["n"] = cnt(both)
    out["passed_from"] = cnt(p0)
    out["passed_to"] = cnt(p1)
    down, up = p0 & ~p1, ~p0 & p1
    out["to_reject"] = cnt(down)
    out["to_pass"] = cnt(up)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["changed_share"] = (out["to_reject"] + out["to_pass"]) / out["n"].where(out["n"] > 0)
    out["changed_share"] = out["changed_share"].astype("float64")
    sess = comparisons["session_id"] if "session_id" in comparisons else pd.Series(np.arange(len(conf)))
    src = comparisons["source"] if "source" in comparisons else None
    for name, mask in (("sessions", both), ("sessions_to_reject", down), ("sessions_to_pass", up)):
        out[name] = distinct_per_group(cz, [sess] if src is None else [sess, src], mask, g)
    for suffix, m in (("from", m0), ("to", m1)):
        out[f"near_below_{suffix}"] = cnt(both & (m >= -window) & (m < 0))
        out[f"near_above_{suffix}"] = cnt(both & (m >= 0) & (m < window))
    shift = exact_difference(t1, t0)
    out["cut_shift"] = np.nan
    ok = both & ~np.isnan(shift)
    if ok.any():
        vc = pd.DataFrame({"g": cz[ok], "s": shift[ok]}).value_counts().reset_index(name="c")
        vc = vc.sort_values(["g", "c", "s"], ascending=[True, False, True]).drop_duplicates("g")
        out["cut_shift"] = pd.Series(np.arange(g)).map(vc.set_index("g")["s"]).astype("float64").to_numpy()
    out.insert(len(by) + 2, "window", float(window))
    out = out[out["n"] > 0] if by else out
    return out.reset_index(drop=True)
