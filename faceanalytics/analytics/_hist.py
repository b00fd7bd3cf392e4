"""The exact confidence histogram: a small, mergeable summary that answers every
threshold question exactly.

Confidences come with three (Megvii) or four (Baidu) decimals on 0-100, so the
distinct values per partition are at most ~10^6 and usually a few thousand.
:func:`confidence_histogram` counts rows per (group, threshold set, exact
confidence value).  Because thresholds are per row, the threshold columns are
part of the key: they take few distinct values, so this stays small.

* merge: histograms of days, files or partitions add up (:func:`merge_histograms`);
* any pass rate at the per-row thresholds (:func:`pass_rates_from_histogram`, equal
  to :func:`pass_rates` on the rows, to the last row);
* any global cut (:func:`rates_at_cut`), e.g. for a slider.

Row order is deterministic: sorted by the key columns, missing values last.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ._core import (LEVEL_COLUMNS, LEVELS, MIN_N, _dense, as_list, float_codes, floats, group_codes,
                    level_names, min_count, once_per_attempt, require)
from ._rates import rate_frame

__all__ = ["confidence_histogram", "merge_histograms", "pass_rates_from_histogram", "rates_at_cut",
           "THRESHOLD_COLUMNS", "float_codes"]

THRESHOLD_COLUMNS = (*LEVEL_COLUMNS.values(), "threshold")
_CELLS = 8_000_000       # counting cells per block (64 MB of int64)


def confidence_histogram(comparisons: pd.DataFrame, by=None, *, freq: str | None = None, tz=None,
                         time_column: str = "session_time") -> pd.DataFrame:
    """Rows per (group, threshold set, exact confidence): the reusable building block.

    Columns: the ``by`` columns, ``period`` (with ``freq``), ``thr_1e3``, ``thr_1e4``,
    ``thr_1e5``, ``thr_1e6``, ``threshold`` (float64, NaN where the row has none),
    ``confidence`` (float64, the exact value; NaN = no score) and ``count`` (int64).
    Only non-empty cells are listed; rows sorted by all key columns, missing last.

    >>> h = confidence_histogram(comparisons, by="comparison", freq="D")   # doctest: +SKIP
    >>> pass_rates_from_histogram(h).equals(pass_rates(comparisons, "comparison", freq="D"))
    True
    """
    by = as_list(by)
    require(comparisons, ["confidence"], "confidence_histogram")
    comparisons = once_per_attempt(comparisons)
    n = len(comparisons)
    gcodes, gkeys = group_codes(comparisons, by, freq=freq, time_column=time_column, tz=tz)
    # Threshold sets: few distinct values per column, so a mixed radix of exact codes.
    tcode = np.zeros(n, np.int64)
    tvals, radix = [], 1
    for col in THRESHOLD_COLUMNS:
        if col in comparisons:
            c, u = float_codes(floats(comparisons[col]))
        else:
            c, u = np.zeros(n, np.int64), np.array([np.nan])
        tvals.append(u)
        radix *= len(u)
        if radix > (1 << 62):
            raise ValueError(f"too many distinct threshold combinations to histogram ({col})")
        tcode = tcode * len(u) + c
    tc, tu = _dense(tcode, None)
    nt = max(len(tu), 1)
    part = tc if gcodes is None else gcodes * nt + tc
    part, pu = _dense(part, None)      # partitions present, in key order
    ccodes, cvals = float_codes(floats(comparisons["confidence"]))
    nc = max(len(cvals), 1)
    npart = len(pu)
    # Dense counting in blocks of partitions (bounded memory, no sort of the rows).
    block = max(1, _CELLS // nc)
    cells_l, cnt_l = [], []
    for p0 in range(0, npart, block):
        p1 = min(p0 + block, npart)
        if p0 == 0 and p1 == npart:
            flat = part * nc + ccodes
        else:
            sel = (part >= p0) & (part < p1)
            flat = (part[sel] - p0) * nc + ccodes[sel]
        counts = np.bincount(flat, minlength=(p1 - p0) * nc)
        nz = np.flatnonzero(counts)
        cells_l.append(nz + p0 * nc)
        cnt_l.append(counts[nz])
    cells = np.concatenate(cells_l) if cells_l else np.zeros(0, np.int64)
    cnt = np.concatenate(cnt_l) if cnt_l else np.zeros(0, np.int64)
    pidx, cidx = np.divmod(cells, nc)
    gidx, tidx = np.divmod(pu[pidx], nt)
    rest = tu[tidx]
    tdig = []
    for u in reversed(tvals):
        rest, d = np.divmod(rest, len(u))
        tdig.append(d)
    tdig.reverse()
    out = gkeys.iloc[gidx].reset_index(drop=True) if len(gkeys.columns) else pd.DataFrame(
        index=pd.RangeIndex(len(cells)))
    for col, u, d in zip(THRESHOLD_COLUMNS, tvals, tdig):
        out[col] = u[d].astype(np.float64)
    out["confidence"] = cvals[cidx].astype(np.float64) if len(cvals) else np.zeros(0)
    out["count"] = cnt.astype(np.int64)
    return out


def _key_columns(hist: pd.DataFrame) -> list[str]:
    return [c for c in hist.columns if c not in (*THRESHOLD_COLUMNS, "confidence", "count")]


def merge_histograms(*hists: pd.DataFrame) -> pd.DataFrame:
    """Add histograms of disjoint row sets (days, files, partitions) into one, sorted."""
    if len(hists) == 1 and isinstance(hists[0], (list, tuple)):
        hists = tuple(hists[0])
    frames = [h for h in hists if len(h)]
    if not frames:
        return hists[0].iloc[:0].copy() if hists else pd.DataFrame()
    for f in frames:
        require(f, ["count"], "merge_histograms (histograms: confidence_histogram or value_histogram)")
    cols = list(frames[0].columns)
    allh = pd.concat([f[cols] for f in frames], ignore_index=True)
    keys = [c for c in cols if c != "count"]
    codes, kf = group_codes(allh, keys)
    counts = np.bincount(codes, weights=allh["count"].to_numpy(dtype=np.float64),
                         minlength=len(kf)).astype(np.int64)
    kf["count"] = counts
    return kf[cols]


def pass_rates_from_histogram(hist: pd.DataFrame, by=None, *, levels: Sequence[str] = LEVELS,
                              min_n: int = MIN_N, confidence: float = 0.95,
                              method: str = "wilson") -> pd.DataFrame:
    """:func:`pass_rates` computed from a :func:`confidence_histogram` (identical output).

    ``by`` defaults to every key column of the histogram (its ``by`` columns and
    ``period``); pass a subset to roll up, e.g. weeks of a daily histogram need
    ``freq`` at build time, but ``by=[]`` gives the overall rates.
    """
    min_n = min_count(min_n)
    levels = level_names(levels)
    require(hist, ["count", "confidence", *(LEVEL_COLUMNS[lv] for lv in levels)],
            "pass_rates_from_histogram (a confidence_histogram)")
    keys = _key_columns(hist) if by is None else as_list(by)
    codes, kf = group_codes(hist, keys)
    g = len(kf)
    w = hist["count"].to_numpy(dtype=np.float64)
    conf = floats(hist["confidence"])
    ns, ks = [], []
    for lv in levels:
        thr = floats(hist[LEVEL_COLUMNS[lv]])
        ns.append(_wsum(~np.isnan(thr), w, codes, g))
        ks.append(_wsum(conf >= thr, w, codes, g))
    return rate_frame(kf, list(levels), "level", ns, ks, min_n=min_n, confidence=confidence,
                      method=method)


def _wsum(mask, w, codes, g):
    ww = np.where(mask, w, 0.0)
    if codes is None:
        return np.array([int(ww.sum())], dtype=np.int64)
    return np.rint(np.bincount(codes, weights=ww, minlength=g)).astype(np.int64)


def rates_at_cut(hist: pd.DataFrame, cut: float, by=None, *, min_n: int = MIN_N,
                 confidence: float = 0.95, method: str = "wilson") -> pd.DataFrame:
    """Share of rows with ``confidence >= cut`` for one global cut (a slider's question).

    Every row of the histogram counts (a missing confidence is a rejection).
    Columns: keys, ``cut``, ``n``, ``passed``, ``pass_rate``, ``ci_low``, ``ci_high``, ``low_n``.
    """
    min_n = min_count(min_n)
    require(hist, ["count", "confidence"], "rates_at_cut (a confidence_histogram)")
    keys = _key_columns(hist) if by is None else as_list(by)
    codes, kf = group_codes(hist, keys)
    g = len(kf)
    w = hist["count"].to_numpy(dtype=np.float64)
    conf = floats(hist["confidence"])
    n = _wsum(np.ones(len(hist), bool), w, codes, g)
    k = _wsum(conf >= float(cut), w, codes, g)
    out = rate_frame(kf, [float(cut)], "cut", [n], [k], min_n=min_n, confidence=confidence,
                     method=method)
    out["cut"] = out["cut"].astype("float64")
    return out
