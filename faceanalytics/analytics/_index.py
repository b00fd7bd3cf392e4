"""One selection's exact confidence histogram, indexed for the explorers' questions.

An explorer shows one selection at a time (a comparison kind or attack type, a segment
value, a week or the whole window) judged at a rule (each row at its own threshold of a
level) or at one custom cut.  Everything it counts follows from the selection's exact
confidence histogram, rows per (threshold set, exact confidence)
(:func:`~faceanalytics.analytics.confidence_histogram`), however many rows it summarises:

* a threshold set fixes every row's threshold at every rule, so the rows of a set that
  reach a cut are one binary search in the set's sorted confidences: counts at any rule or
  cut cost O(sets · log values), never a scan of the rows;
* would-flip counts are differences of two such searches per set;
* the rows nearest the cut are next to the search positions: the histogram says exactly
  how far from the cut the ``k``-th nearest row is (:meth:`CutIndex.nearest_bound`), so the
  rows themselves can be fetched with a narrow filter.

>>> ix = CutIndex.from_histogram(h, ["thr_1e4", "threshold"], strict=False, missing_in_scope=True)  # doctest: +SKIP
>>> ix.counts(ix.cuts("thr_1e4")), ix.counts(ix.cuts(71.5))                                          # doctest: +SKIP
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ._core import float_codes, floats
from ._flip import bin_index, exact_difference

__all__ = ["CutIndex", "Counts", "Flips", "threshold_set_codes"]


def threshold_set_codes(thresholds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(code per row, one row of thresholds per code) for a rows x rules matrix of thresholds:
    each distinct combination (NaN for a missing threshold) is one threshold set, in sorted order."""
    n, r = thresholds.shape
    code = np.zeros(n, np.int64)
    for j in range(r):
        c, u = float_codes(thresholds[:, j])
        code = code * max(len(u), 1) + c
    uniq, inv = np.unique(code, return_inverse=True)
    first = np.zeros(len(uniq), np.int64)
    first[inv[::-1]] = np.arange(n - 1, -1, -1)
    return inv.reshape(-1).astype(np.int64), thresholds[first] if n else np.zeros((0, r))


@dataclass(frozen=True)
class Counts:
    """Rows judged at one rule or cut: ``n`` in scope, ``positive`` of them."""
    n: int
    positive: int

    @property
    def negative(self) -> int:
        return self.n - self.positive


@dataclass(frozen=True)
class Flips:
    """A rule against the current one, over the rows that have both thresholds."""
    n: int                  # rows judged under both
    positive_current: int   # positive at the current rule
    to_negative: int        # positive at the current rule, negative at the new one
    to_positive: int


class CutIndex:
    """The exact histogram of one selection, sorted by (threshold set, confidence).

    ``thresholds``: one row per threshold set, one column per rule (NaN: the set has no
    threshold at that rule); ``tset``, ``confidence`` (NaN: no score) and ``count`` per
    histogram cell.  ``strict``: positive when ``confidence > cut`` (anti-spoofing's
    flagged), else ``>=`` (a comparison passes).  ``missing_in_scope``: a row without a
    confidence is judged, as a negative (a Baidu attempt without a score is a rejection).
    """

    def __init__(self, thresholds: np.ndarray, tset: np.ndarray, confidence: np.ndarray, count: np.ndarray, *,
                 rules: Sequence[str], strict: bool, missing_in_scope: bool):
        self.rules = list(rules)
        self.thresholds = np.asarray(thresholds, dtype=np.float64).reshape(-1, len(self.rules))
        self.strict, self.missing_in_scope = strict, missing_in_scope
        t = self.n_sets = len(self.thresholds)
        tset = np.asarray(tset, dtype=np.int64)
        conf = np.asarray(confidence, dtype=np.float64)
        count = np.asarray(count, dtype=np.int64)
        scored = ~np.isnan(conf)
        self.missing = np.bincount(tset[~scored], weights=count[~scored], minlength=t).astype(np.int64)
        self.scored = np.bincount(tset[scored], weights=count[scored], minlength=t).astype(np.int64)
        codes, uniq = float_codes(conf[scored])
        self.values = uniq[~np.isnan(uniq)] if len(uniq) else np.zeros(0)     # sorted distinct confidences
        self._m = len(self.values) + 1
        key = tset[scored] * self._m + codes
        order = np.argsort(key, kind="stable")
        self._key = key[order]
        self._conf = conf[scored][order]
        self._count = count[scored][order]
        self._cum = np.concatenate([[0], np.cumsum(self._count)])          # rows before each cell
        sets = np.arange(t, dtype=np.int64)
        self._start = np.searchsorted(self._key, sets * self._m)
        self._end = np.searchsorted(self._key, (sets + 1) * self._m)
        self._display: dict = {}

    @classmethod
    def from_histogram(cls, hist: pd.DataFrame, rule_columns: Sequence[str], *, strict: bool,
                       missing_in_scope: bool) -> "CutIndex":
        """From a :func:`~faceanalytics.analytics.confidence_histogram`-shaped frame (any other
        key columns are summed over)."""
        rule_columns = list(rule_columns)
        thr = np.column_stack([floats(hist[c]) if c in hist else np.full(len(hist), np.nan) for c in rule_columns]) \
            if len(hist) else np.zeros((0, len(rule_columns)))
        tset, sets = threshold_set_codes(thr)
        return cls(sets, tset, floats(hist["confidence"]), hist["count"].to_numpy(dtype=np.int64),
                   rules=rule_columns, strict=strict, missing_in_scope=missing_in_scope)

    # -------------------------------------------------------------- sizes
    @property
    def rows(self) -> int:
        """Every row of the selection (with or without a score)."""
        return int(self.scored.sum() + self.missing.sum())

    @property
    def cells(self) -> int:
        """Histogram cells held (what the index costs in memory, ~40 bytes each)."""
        return len(self._key) + self.n_sets

    @property
    def n_scored(self) -> int:
        return int(self.scored.sum())

    def in_scope(self, cuts: np.ndarray) -> np.ndarray:
        """Rows judged per threshold set at ``cuts`` (0 where the set has no cut)."""
        per = self.scored + (self.missing if self.missing_in_scope else 0)
        return np.where(np.isnan(cuts), 0, per)

    def has_rule(self, rule: str) -> bool:
        """Whether any row of the selection has a threshold at ``rule``."""
        return bool(self.in_scope(self.cuts(rule)).sum() > 0)

    # -------------------------------------------------------------- cuts
    def cuts(self, rule) -> np.ndarray:
        """The cut of each threshold set: a rule's threshold column, one number for every set
        (a custom cut) or None (no cut: all NaN)."""
        if rule is None:
            return np.full(self.n_sets, np.nan)
        if isinstance(rule, str):
            if rule not in self.rules:
                return np.full(self.n_sets, np.nan)
            return self.thresholds[:, self.rules.index(rule)].copy()
        return np.full(self.n_sets, float(rule))

    def _positions(self, cuts: np.ndarray) -> np.ndarray:
        """Per set, the first cell at or above the cut (``>`` for ``strict``)."""
        ok = ~np.isnan(cuts)
        rank = np.searchsorted(self.values, np.where(ok, cuts, 0.0), side="right" if self.strict else "left")
        pos = np.searchsorted(self._key, np.arange(self.n_sets) * self._m + rank)
        return np.where(ok, pos, self._end)

    def positive(self, cuts: np.ndarray) -> np.ndarray:
        """Positive rows per threshold set at ``cuts``."""
        return self._cum[self._end] - self._cum[self._positions(cuts)]

    def counts(self, cuts: np.ndarray) -> Counts:
        return Counts(int(self.in_scope(cuts).sum()), int(self.positive(cuts).sum()))

    def flips(self, cuts: np.ndarray, current: np.ndarray) -> Flips:
        """Decisions at ``cuts`` against ``current``, over the sets that have both."""
        both = ~np.isnan(cuts) & ~np.isnan(current)
        new, cur = self.positive(cuts), self.positive(current)
        return Flips(int(self.in_scope(np.where(both, cuts, np.nan)).sum()), int(cur[both].sum()),
                     int(np.maximum(cur - new, 0)[both].sum()), int(np.maximum(new - cur, 0)[both].sum()))

    def line(self, cuts: np.ndarray) -> tuple[float, float, float]:
        """The most common cut among the rows in scope (ties: the smaller) and the range."""
        w = self.in_scope(cuts)
        sel = w > 0
        if not sel.any():
            return np.nan, np.nan, np.nan
        vals, inv = np.unique(cuts[sel], return_inverse=True)
        weight = np.bincount(inv.reshape(-1), weights=w[sel], minlength=len(vals))
        return float(vals[int(np.argmax(weight))]), float(vals[0]), float(vals[-1])

    # -------------------------------------------------------------- figure
    def display(self, lo: float, binwidth: float, nbins: int) -> np.ndarray:
        """Scored rows per display bin ``[lo + i·binwidth, ...)`` (out of range: the end bins)."""
        key = (lo, binwidth, nbins)
        out = self._display.get(key)
        if out is None:
            b = np.clip(bin_index(self._conf, lo, binwidth), 0, nbins - 1)
            out = self._display[key] = np.bincount(b, weights=self._count, minlength=nbins).astype(np.int64)
        return out

    def confidence_range(self) -> tuple[float, float]:
        return (float(self.values[0]), float(self.values[-1])) if len(self.values) else (np.nan, np.nan)

    # -------------------------------------------------------------- nearest rows
    def nearest_bound(self, cuts: np.ndarray, k: int) -> tuple[float, int]:
        """``(m, n)``: the ``k``-th smallest ``|confidence - cut|`` among the scored rows with a cut
        (every such row's when there are fewer) and how many rows lie within it, ties included:
        what a query of the rows nearest the cut filters on.  ``(nan, 0)``: no such row."""
        ok = ~np.isnan(cuts)
        if k <= 0 or not ok.any():
            return np.nan, 0
        pos = self._positions(cuts)
        lo = np.where(ok, np.maximum(pos - k, self._start), 0)
        hi = np.where(ok, np.minimum(pos + k, self._end), 0)
        lens = np.maximum(hi - lo, 0)
        tot = int(lens.sum())
        if tot == 0:
            return np.nan, 0
        # Cells further from the cut than the k nearest on either side of it hold no row nearer
        # than the k-th: within a set, margins grow away from the cut.
        cells = np.repeat(lo, lens) + np.arange(tot) - np.repeat(np.cumsum(lens) - lens, lens)
        cut = np.repeat(cuts, lens)
        margin = np.abs(exact_difference(self._conf[cells], cut))
        order = np.argsort(margin, kind="stable")
        reach = np.cumsum(self._count[cells][order])
        i = min(int(np.searchsorted(reach, k)), len(order) - 1)
        m = float(margin[order][i])
        return m, int(self._count[cells][margin <= m].sum())
