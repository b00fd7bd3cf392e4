"""Notebook explorers: move a cut and see what it does, on a million rows without waiting.

    >>> ex = threshold_explorer(comparisons, sessions)          # doctest: +SKIP
    >>> ex                                                      # doctest: +SKIP  (shows the widget)
    >>> ex.controls["level"].value = "custom"; ex.controls["cut"].value = 72.5   # doctest: +SKIP
    >>> ex.state()["to_reject"], ex.state()["nearest"]          # doctest: +SKIP

:func:`threshold_explorer` (comparisons; pass = ``confidence >= threshold``) and
:func:`genuineness_explorer` (anti-spoofing checks; flagged = ``confidence > threshold``)
share one engine and one layout: pick the comparison kind / attack type, a segment and a
period, judge the rows at a level (each row at *its own* threshold) or at one custom cut,
and read the distribution with the cut, the counts, how many rows and sessions would
flip against the current level, and the rows nearest the cut (ids masked).

Speed: the table is indexed once.  Rows are sorted by (kind, segment value, period,
threshold set, exact confidence); within that order every (kind, segment, period,
threshold set) cell is the exact confidence histogram of its rows, run-length
encoded.  Because a threshold set fixes every row's threshold, "how many rows of this
cell reach the cut" is one binary search, so an update costs O(cells · log n) plus the
display bins, never a scan of the rows.  Would-flip counts are differences of two such
searches per cell; the rows nearest the cut sit next to the search position.  An index
per segment column is built on first use.  The figure (a matplotlib ``Figure``, no
pyplot) is kept and its artists updated; in a notebook it is shown as a PNG in the
``interactive_output`` area, re-rendered only when something changed.
"""
from __future__ import annotations

import html
import io
from dataclasses import dataclass, field

import ipywidgets as widgets
import numpy as np
import pandas as pd

from .analytics import LEVELS, MIN_N, mask_id
from .analytics._core import _column_codes, _dense, float_codes, floats, period_codes, period_start
from .analytics._flip import bin_index, exact_difference
from .analytics._segments import SESSION_SEGMENTS, threshold_set_labels
from .analytics._stats import proportion_ci
from .plots._common import CONFIGURED_COLOR, LEVEL_COLORS, NEUTRAL_COLOR, PASS_COLOR, REJECT_COLOR

__all__ = ["threshold_explorer", "genuineness_explorer", "ThresholdExplorer", "GenuinenessExplorer"]

ALL = "all"                     # the "all segments" / "all periods" choice (None would mean "no selection")
NO_TIME = "(no time)"           # the period of rows without a time
MISSING = "(missing)"           # a kind or segment value that is missing
NO_RULE = "none"
CUSTOM = "custom"
_FREQ_LABEL = {"D": "day", "W": "week of", "M": "month"}
_DISPLAY_CELLS = 4_000_000      # (kind, segment, period) x display-bin counts kept dense up to this
_SEGMENT_CANDIDATES = ("source", "threshold_set", *SESSION_SEGMENTS, "idcard_mode", "id_type",
                       "id_attacked", "id_photo_monochrome")


@dataclass(frozen=True)
class _Spec:
    """What differs between the comparison and the anti-spoofing explorer."""
    kind_column: str
    kind_label: str
    noun: str                   # "comparisons" / "checks"
    rules: dict                 # rule name -> threshold column, in display order
    rule_labels: dict
    strict: bool                # positive when confidence > cut (else >=)
    missing_in_scope: bool      # a row without a confidence counts (as negative)
    positive: str
    negative: str
    to_negative: str            # state key: positive at the current rule, negative at the new one
    to_positive: str
    scale: tuple
    step: float
    binwidth: float
    legend_loc: str = "upper left"
    extra_segments: tuple = field(default=())


_COMPARISONS = _Spec(
    kind_column="comparison", kind_label="comparison", noun="comparisons",
    rules={**{lv: f"thr_{lv.replace('-', '')}" for lv in LEVELS}, "configured": "threshold"},
    rule_labels={**{lv: lv for lv in LEVELS}, "configured": "Baidu configured"},
    strict=False, missing_in_scope=True, positive="pass", negative="reject",
    to_negative="to_reject", to_positive="to_pass", scale=(0.0, 100.0), step=0.001, binwidth=0.5,
    extra_segments=("threshold_set",))

_GENUINENESS = _Spec(
    kind_column="attack", kind_label="attack", noun="checks",
    rules={"threshold": "threshold"}, rule_labels={"threshold": "row threshold"},
    strict=True, missing_in_scope=False, positive="flagged", negative="not flagged",
    to_negative="to_cleared", to_positive="to_flagged", scale=(0.0, 1.0), step=0.001, binwidth=0.01,
    legend_loc="upper right")


# ---------------------------------------------------------------------------- the engine

class _Engine:
    """The sorted index and the O(cells) queries behind both explorers (no widgets here)."""

    def __init__(self, table: pd.DataFrame, spec: _Spec, *, freq: str | None, time_column: str,
                 segment_columns, nearest: int, binwidth: float | None):
        self.spec = spec
        self.table = table
        self.n = n = len(table)
        self.nearest_k = int(nearest)
        # kinds
        if spec.kind_column not in table:
            raise KeyError(f"the table needs a {spec.kind_column!r} column")
        self.kc, self.kinds = self._codes(table[spec.kind_column])
        self.K = max(len(self.kinds), 1)
        # periods
        self.freq = freq if freq is not None and time_column in table else None
        if self.freq is not None:
            num, valid = period_codes(table[time_column], self.freq)
            pc, pu = _dense(num, None if valid.all() else valid)
            self.periods = list(period_start(pu, self.freq))
            if not valid.all():
                pc = np.where(valid, pc, len(pu))
                self.periods.append(NO_TIME)
            self.pc = pc.astype(np.int64)
        else:
            self.pc, self.periods = np.zeros(n, np.int64), []
        self.P = max(len(self.periods), 1)
        # threshold sets: one code for each distinct combination of the rule columns (kept
        # dense column by column, so any number of distinct thresholds fits in int64)
        cols = [floats(table[c]) if c in table else np.full(n, np.nan) for c in spec.rules.values()]
        tc = np.zeros(n, np.int64)
        for x in cols:
            c, u = float_codes(x)
            tc, _ = _dense(tc * len(u) + c, None)
        self.tc, self.T = tc, int(tc.max(initial=0)) + 1
        first = np.zeros(self.T, np.int64)
        first[tc[::-1]] = np.arange(n - 1, -1, -1)     # a row of each set carries its thresholds
        self.thr = np.column_stack([x[first] for x in cols]) if n else np.full((1, len(cols)), np.nan)
        self.rule_index = {r: j for j, r in enumerate(spec.rules)}
        # exact confidence codes: 0 = no confidence, 1..NC = sorted distinct values
        self.conf = floats(table["confidence"])
        codes, uniq = float_codes(self.conf)
        fin = ~np.isnan(self.conf)
        self.uniq = uniq[:int(np.count_nonzero(~np.isnan(uniq)))]
        self.cc = np.where(fin, codes + 1, 0).astype(np.int64)
        self.M = len(self.uniq) + 1
        if float(self.K) * self.P * self.T * self.M * 2 >= 2.0 ** 62:
            raise ValueError("too many kinds x periods x threshold sets x confidence values to index; "
                             "use a coarser freq")        # display bins
        lo, hi = spec.scale
        self.binwidth = float(binwidth or spec.binwidth)
        self.B = int(round((hi - lo) / self.binwidth))
        self.edges = np.round(lo + np.arange(self.B + 1) * self.binwidth, 10)
        self.bins = np.where(fin, np.clip(bin_index(self.conf, lo, self.binwidth), 0, self.B - 1), -1)
        # sessions: distinct (source, session_id); only counted row by row when a kind repeats one
        sess = table["session_id"] if "session_id" in table else pd.Series(np.arange(n))
        sid = pd.factorize(sess)[0].astype(np.int64)
        if "source" in table:
            src = pd.factorize(table["source"])[0].astype(np.int64)
            sid = sid * (int(src.max(initial=0)) + 2) + src + 1
        self.sid = sid
        dup = pd.Series(self.kc * (int(sid.max(initial=0)) + 1) + sid).duplicated().to_numpy()
        self.kind_repeats = np.bincount(self.kc[dup], minlength=self.K) > 0
        # rows per (kind, threshold set): which rules exist for which kind
        kt = np.bincount(self.kc * self.T + self.tc, minlength=self.K * self.T).reshape(self.K, self.T)
        self.available = (kt[:, :, None] > 0) & ~np.isnan(self.thr)[None, :, :]   # K x T x rules
        self.kind_extent = self._extents()
        # segments
        self.segment_columns = list(segment_columns)
        self._indexes: dict = {}
        self.segment_values: dict = {}
        for col in self.segment_columns:
            _, vals = self._codes(table[col])
            self.segment_values[col] = vals

    # -- preparation

    @staticmethod
    def _codes(s: pd.Series):
        codes, uniq = _column_codes(s)
        vals = [None if pd.isna(v) else (v.item() if hasattr(v, "item") else v) for v in uniq]
        return np.asarray(codes, np.int64), vals

    def _extents(self):
        """Per kind, the x-range worth showing: confidences and thresholds, padded."""
        lo, hi = self.spec.scale
        fin = ~np.isnan(self.conf)
        kmin = np.full(self.K, np.inf)
        np.minimum.at(kmin, self.kc[fin], self.conf[fin])
        pad = (hi - lo) / 20
        out = []
        for k in range(self.K):
            t = self.thr[self.available[k].any(axis=1)]
            m = min([kmin[k], *t[~np.isnan(t)].ravel()])
            m = m if np.isfinite(m) else lo
            out.append((max(lo, np.floor(m / pad) * pad - pad), hi))
        return out

    def index(self, column):
        """The sorted index for one segment column (``None``: no segmentation), built once."""
        ix = self._indexes.get(column)
        if ix is None:
            ix = self._indexes[column] = _Index(self, column)
        return ix

    # -- queries

    def rule_available(self, k: int, rule) -> bool:
        return rule == CUSTOM or (rule in self.rule_index and bool(self.available[k, :, self.rule_index[rule]].any()))

    def _xcode(self, x: np.ndarray) -> np.ndarray:
        """Code of the first confidence that is positive at cut ``x`` (>= or > by the spec)."""
        side = "right" if self.spec.strict else "left"
        return np.searchsorted(self.uniq, x, side=side).astype(np.int64) + 1

    def _leaves(self, kind: int, segment, period):
        """The selection's leaves (one per period and threshold set) and their row bounds."""
        column, s = (None, 0) if segment == ALL else segment
        ix = self.index(column)
        T, M, P = self.T, self.M, self.P
        g0 = (kind * ix.S + s) * P
        groups = np.arange(g0, g0 + P) if isinstance(period, str) else np.array([g0 + period])
        leaves = (groups[:, None] * T + np.arange(T)[None, :]).ravel()
        base = leaves * M
        start, nan_end, end = np.searchsorted(ix.skey, np.concatenate([base, base + 1, base + M])
                                              ).reshape(3, -1)
        return ix, groups, leaves % T, base, start, nan_end, end

    def cut_line(self, kind: int, segment, period, rule) -> float:
        """Where a rule's line goes for a selection: its most common threshold there."""
        if rule == CUSTOM or rule not in self.rule_index:
            return np.nan
        _, _, t, _, start, nan_end, end = self._leaves(kind, segment, period)
        first = start if self.spec.missing_in_scope else nan_end
        x = self.thr[t, self.rule_index[rule]]
        return self._mode(x, ~np.isnan(x), end - first)[0]

    def query(self, kind: int, segment, period, rule, cut: float, current) -> dict:
        """Everything the explorer shows, for one choice of the controls."""
        spec = self.spec
        ix, groups, t, base, start, nan_end, end = self._leaves(kind, segment, period)
        first = start if spec.missing_in_scope else nan_end          # first row in scope per leaf
        out = {"rows": int((end - start).sum()), "scored": int((end - nan_end).sum())}
        out["hist"] = ix.display(groups, start[0], end[-1])
        n_leaves = len(t)

        def cut_of(r):
            if r == CUSTOM:
                x = np.full(n_leaves, float(cut))
            elif r is None or r not in self.rule_index:
                x = np.full(n_leaves, np.nan)
            else:
                x = self.thr[t, self.rule_index[r]]
            ok = ~np.isnan(x) & (end > first)
            pos = np.where(ok, np.searchsorted(ix.skey, base + self._xcode(np.where(ok, x, 0.0))), end)
            return x, ok, pos

        x1, ok1, pos1 = cut_of(rule)
        x0, ok0, pos0 = cut_of(current)
        n = int((end - first)[ok1].sum())
        pos = int((end - pos1)[ok1].sum())
        out.update(n=n, positive=pos, negative=n - pos)
        both = ok1 & ok0
        out["n_current"] = int((end - first)[both].sum())
        out["positive_current"] = int((end - pos0)[both].sum())
        down = np.where(both, np.maximum(pos1 - pos0, 0), 0)        # positive now, negative at the new cut
        up = np.where(both, np.maximum(pos0 - pos1, 0), 0)
        out["to_negative"], out["to_positive"] = int(down.sum()), int(up.sum())
        if self.kind_repeats[kind]:
            out["sessions_to_negative"] = ix.distinct_sessions(pos0, pos1, down > 0)
            out["sessions_to_positive"] = ix.distinct_sessions(pos1, pos0, up > 0)
        else:
            out["sessions_to_negative"], out["sessions_to_positive"] = out["to_negative"], out["to_positive"]
        out["line"], out["line_min"], out["line_max"] = self._mode(x1, ok1, end - first)
        out["current_line"], _, _ = self._mode(x0, ok0, end - first)
        out["nearest"] = self._nearest(ix, x1, ok1, pos1, nan_end, end, x0, ok0) if n else None
        return out

    @staticmethod
    def _mode(x, ok, weight):
        """Most common cut among the rows in scope (ties: the smaller), with its range."""
        sel = ok & (weight > 0)
        if not sel.any():
            return np.nan, np.nan, np.nan
        vals, inv = np.unique(x[sel], return_inverse=True)
        w = np.bincount(inv.ravel(), weights=weight[sel], minlength=len(vals))
        return float(vals[int(np.argmax(w))]), float(vals[0]), float(vals[-1])

    def _nearest(self, ix, x1, ok1, pos1, nan_end, end, x0, ok0) -> pd.DataFrame:
        """The k scored rows nearest the cut: +-k rows around each leaf's search position."""
        k = self.nearest_k
        lo = np.where(ok1, np.maximum(pos1 - k, nan_end), 0)
        hi = np.where(ok1, np.minimum(pos1 + k, end), 0)
        lens = np.maximum(hi - lo, 0)
        tot = int(lens.sum())
        if tot == 0 or k <= 0:
            return self._nearest_frame(np.zeros(0, np.int64), np.zeros(0), np.zeros(0))
        leaf_of = np.repeat(np.arange(len(lens)), lens)
        rows = np.repeat(lo, lens) + np.arange(tot) - np.repeat(np.cumsum(lens) - lens, lens)
        conf = ix.sconf[rows]
        thr, cur = x1[leaf_of], np.where(ok0, x0, np.nan)[leaf_of]
        margin = exact_difference(conf, thr)
        pick = np.lexsort((rows, np.abs(margin)))[:k]
        pick = pick[np.lexsort((rows[pick], margin[pick]))]         # shown from below to above the cut
        return self._nearest_frame(ix.order[rows[pick]], thr[pick], cur[pick])

    def _nearest_frame(self, orig: np.ndarray, thr: np.ndarray, cur: np.ndarray) -> pd.DataFrame:
        """The nearest rows as a small frame (built column by column from arrays: k rows)."""
        spec, tab = self.spec, self.table
        cols: dict = {}
        ids = tab["session_id"].array.take(orig).tolist() if "session_id" in tab else [None] * len(orig)
        cols["session_id"] = pd.array([mask_id(v) for v in ids], dtype="str")
        for c in ("source", "session_time", "attempt"):
            if c in tab:
                cols[c] = tab[c].array.take(orig)
        conf = self.conf[orig]
        p1 = (conf > thr) if spec.strict else (conf >= thr)
        p0 = (conf > cur) if spec.strict else (conf >= cur)
        has0 = ~np.isnan(cur)
        change = np.where(p0 & ~p1, f"{spec.positive}→{spec.negative}",
                          np.where(~p0 & p1, f"{spec.negative}→{spec.positive}", ""))
        cols.update(
            confidence=conf, threshold=thr, margin=exact_difference(conf, thr),
            decision=pd.array(np.where(p1, spec.positive, spec.negative), dtype="str"),
            current_threshold=cur,
            current_decision=pd.array(np.where(~has0, "–", np.where(p0, spec.positive, spec.negative)),
                                      dtype="str"),
            change=pd.array(np.where(has0, change, ""), dtype="str"))
        return pd.DataFrame(cols, copy=False)


class _Index:
    """Rows of the table in (kind, segment value, period, threshold set, confidence) order."""

    def __init__(self, eng: _Engine, column):
        if column is None:
            s, self.S = np.zeros(eng.n, np.int64), 1
            self.values = {None: 0}
        else:
            s, vals = eng._codes(eng.table[column])
            self.S = max(len(vals), 1)
            self.values = {v: i for i, v in enumerate(vals)}
        self.eng = eng
        if float(eng.K) * self.S * eng.P * eng.T * eng.M * 2 >= 2.0 ** 62:
            raise ValueError(f"segment {column!r} has too many values to index with these periods")
        group = (eng.kc * self.S + s) * eng.P + eng.pc
        key = (group * eng.T + eng.tc) * eng.M + eng.cc
        self.order = np.argsort(key, kind="stable")
        self.skey = key[self.order]
        self.sconf = eng.conf[self.order]
        self._ssid = None
        ng = eng.K * self.S * eng.P
        fin = eng.bins >= 0
        if ng * eng.B <= _DISPLAY_CELLS:
            self.dense = np.bincount(group[fin] * eng.B + eng.bins[fin],
                                     minlength=ng * eng.B).reshape(ng, eng.B)
            self.sbins = None
        else:                                      # too many groups: count the selection's rows
            self.dense = None
            self.sbins = eng.bins[self.order]

    def display(self, groups: np.ndarray, row0: int, row1: int) -> np.ndarray:
        """Counts per display bin for a run of (kind, segment, period) groups."""
        if self.dense is not None:
            return self.dense[groups].sum(axis=0)
        b = self.sbins[row0:row1]
        return np.bincount(b[b >= 0], minlength=self.eng.B)

    def distinct_sessions(self, a: np.ndarray, b: np.ndarray, sel: np.ndarray) -> int:
        """Distinct sessions among the rows ``[a, b)`` of the selected leaves (the flipped ones)."""
        if not sel.any():
            return 0
        if self._ssid is None:
            self._ssid = self.eng.sid[self.order]
        a, b = a[sel], b[sel]
        lens = b - a
        tot = int(lens.sum())
        rows = np.repeat(a, lens) + np.arange(tot) - np.repeat(np.cumsum(lens) - lens, lens)
        return int(np.unique(self._ssid[rows]).size)


# ---------------------------------------------------------------------------- the widget

def _in_kernel() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:                       # pragma: no cover - IPython comes with ipywidgets
        return False
    ip = get_ipython()
    return ip is not None and getattr(ip, "kernel", None) is not None


def _sessions(k: int) -> str:
    return f"{k:,} session" + ("" if k == 1 else "s")


def _pct(k: int, n: int) -> str:
    return f"{100 * k / n:.1f}%" if n else "n/a"


class _Explorer(widgets.VBox):
    """Controls, a figure, the counts and the nearest rows; see :func:`threshold_explorer`."""

    _spec: _Spec

    def __init__(self, table: pd.DataFrame, sessions: pd.DataFrame | None = None, *, freq: str | None = "W",
                 segments=None, max_segment_values: int = 30, time_column: str = "session_time",
                 nearest: int = 10, binwidth: float | None = None, current: str | None = None,
                 log: bool = False, continuous_update: bool = False, figsize=(7.5, 3.8)):
        spec = self._spec
        table, seg_cols = _segment_table(table, sessions, spec, segments, max_segment_values)
        self.engine = eng = _Engine(table, spec, freq=freq, time_column=time_column,
                                    segment_columns=seg_cols, nearest=nearest, binwidth=binwidth)
        self._log = log
        # controls
        names = [MISSING if v is None else str(v) for v in eng.kinds]
        self._kind_index = {name: i for i, name in enumerate(names)}
        kind = widgets.Dropdown(options=names or ["(no rows)"], description=spec.kind_label,
                                value="faceid" if "faceid" in names else (names or ["(no rows)"])[0])
        seg_opts = [("all segments", ALL)]
        for col in seg_cols:
            for v in eng.segment_values[col]:
                seg_opts.append((f"{col} = {MISSING if v is None else v}", (col, MISSING if v is None else v)))
        segment = widgets.Dropdown(options=seg_opts, value=ALL, description="segment")
        word = _FREQ_LABEL.get(eng.freq or "", "")
        per_opts = [("all periods", ALL)] + [
            (p if isinstance(p, str) else f"{word} {p.strftime('%Y-%m' if eng.freq == 'M' else '%Y-%m-%d')}", p)
            for p in eng.periods]
        period = widgets.Dropdown(options=per_opts, value=ALL, description="period")
        rules = [r for r in spec.rules if eng.available[:, :, eng.rule_index[r]].any()]
        rule_opts = [(spec.rule_labels[r], r) for r in rules] + [("custom cut", CUSTOM)]
        cur_default = current if current in rules else ("1e-4" if "1e-4" in rules else (rules[0] if rules else None))
        level = widgets.ToggleButtons(options=rule_opts, value=cur_default or CUSTOM, description="judge at",
                                      style={"button_width": "auto"})
        cur = widgets.Dropdown(options=[(spec.rule_labels[r], r) for r in rules] or [(NO_RULE, NO_RULE)],
                               value=cur_default or NO_RULE, description="current")
        lo, hi = spec.scale
        cut = widgets.FloatSlider(value=(lo + hi) / 2, min=lo, max=hi, step=spec.step, readout_format=".3f",
                                  description="cut", continuous_update=continuous_update,
                                  layout=widgets.Layout(width="460px"))
        self.controls = {"kind": kind, "segment": segment, "period": period, "level": level,
                         "current": cur, "cut": cut}
        self.controls[spec.kind_column] = kind          # also under its own name ("comparison"/"attack")
        self.counts_html = widgets.HTML()
        self.table_html = widgets.HTML()
        self._build_figure(figsize)
        self._key = None
        self._png = None
        self._state: dict = {}
        # observers that adjust other controls run before the display is recomputed
        for w in (kind, segment, period, level):
            w.observe(self._before_change, names="value")
        self._before_change({"owner": kind})
        self.output = widgets.interactive_output(
            self._show, {"kind": kind, "segment": segment, "period": period, "level": level,
                         "current": cur, "cut": cut})
        header = widgets.HBox([kind, segment, period])
        rule_row = widgets.HBox([level, cur] if len(spec.rules) > 1 else [level])
        body = widgets.HBox([self.output, widgets.VBox([self.counts_html], layout=widgets.Layout(
            min_width="320px"))])
        super().__init__([header, rule_row, cut, body, self.table_html])

    # -- reactions

    def _before_change(self, change) -> None:
        """Keep the controls consistent: rules the kind has, slider at the level's threshold."""
        c = self.controls
        eng = self.engine
        k = self._kind_arg()
        if change["owner"] is c["kind"]:
            if c["level"].value != CUSTOM and not eng.rule_available(k, c["level"].value):
                c["level"].value = next((v for _, v in c["level"].options if eng.rule_available(k, v)), CUSTOM)
            if c["current"].value != NO_RULE and not eng.rule_available(k, c["current"].value):
                alt = next((v for _, v in c["current"].options if eng.rule_available(k, v)), None)
                if alt is not None:
                    c["current"].value = alt
        level = c["level"].value
        c["cut"].disabled = level != CUSTOM
        if level != CUSTOM:
            x = eng.cut_line(k, self._segment_arg(), self._period_arg(), level)
            if not np.isnan(x):
                c["cut"].value = x

    def _kind_arg(self) -> int:
        return self._kind_index.get(self.controls["kind"].value, 0)

    def _segment_arg(self):
        v = self.controls["segment"].value
        if v == ALL:
            return ALL
        col, val = v
        return col, self.engine.index(col).values[None if val == MISSING else val]

    def _period_arg(self):
        v = self.controls["period"].value
        if isinstance(v, str) and v == ALL:
            return ALL
        return self.engine.periods.index(v)

    def _show(self, kind, segment, period, level, current, cut) -> None:
        """interactive_output's function: recompute if the choice changed, then show the figure."""
        key = (kind, segment, period, level, current, float(cut) if level == CUSTOM else None)
        if key != self._key:
            self._refresh(self._kind_arg(), level, None if current == NO_RULE else current, float(cut))
            self._key = key
            self._png = None
        if _in_kernel():
            from IPython.display import Image, display
            display(Image(data=self.render_png()))

    def render_png(self, dpi: int = 96) -> bytes:
        """The figure as PNG bytes (what the notebook shows; cached until the next change)."""
        if self._png is None:
            buf = io.BytesIO()
            self.figure.savefig(buf, format="png", dpi=dpi)
            self._png = buf.getvalue()
        return self._png

    def state(self) -> dict:
        """The last computed numbers: counts, flips, cut-line position and the nearest rows."""
        out = dict(self._state)
        if isinstance(out.get("nearest"), pd.DataFrame):
            out["nearest"] = out["nearest"].copy()
        return out

    @property
    def nearest(self) -> pd.DataFrame:
        """The rows nearest the cut (masked session ids), as shown in the table."""
        return self.state()["nearest"]

    # -- computing and drawing

    def _refresh(self, kind: int, level, current, cut: float) -> None:
        eng, spec = self.engine, self._spec
        seg, per = self._segment_arg(), self._period_arg()
        r = eng.query(kind, seg, per, level, cut, current)
        where = self._where()
        st = {spec.kind_column: (eng.kinds[kind] if eng.kinds else None),
              "segment": self.controls["segment"].value, "period": self.controls["period"].value,
              "level": level, "cut": cut if level == CUSTOM else r["line"], "current": current,
              "rows": r["rows"], "scored": r["scored"], "n": r["n"], spec.positive.replace(" ", "_"): r["positive"],
              spec.negative.replace(" ", "_"): r["negative"]}
        st["rate"] = r["positive"] / r["n"] if r["n"] else np.nan
        lo, hi = proportion_ci(np.array([r["positive"]]), np.array([r["n"]]))
        st["ci_low"], st["ci_high"] = float(lo[0]), float(hi[0])
        st["low_n"] = r["n"] < MIN_N
        st["n_current"], st[f"{spec.positive.replace(' ', '_')}_current"] = r["n_current"], r["positive_current"]
        st[spec.to_negative], st[spec.to_positive] = r["to_negative"], r["to_positive"]
        st[f"sessions_{spec.to_negative}"] = r["sessions_to_negative"]
        st[f"sessions_{spec.to_positive}"] = r["sessions_to_positive"]
        st["line"], st["line_min"], st["line_max"] = r["line"], r["line_min"], r["line_max"]
        st["current_line"] = r["current_line"]
        st["nearest"] = r["nearest"] if r["nearest"] is not None else eng._nearest_frame(
            np.zeros(0, np.int64), np.zeros(0), np.zeros(0))
        if not eng.kinds or r["rows"] == 0:
            st["message"] = f"No {spec.noun} in this selection ({where})."
        elif r["n"] == 0:
            st["message"] = (f"No {spec.noun} in this selection ({where}) have a "
                             f"{self._rule_text(level)} threshold.")
        else:
            st["message"] = None
        self._state = st
        self._draw(r, st, kind, level, current)
        self.counts_html.value = self._counts_text(st, level, current, where)
        self.table_html.value = self._table_text(st)

    def _rule_text(self, rule) -> str:
        if rule == CUSTOM:
            return "custom"
        return self._spec.rule_labels.get(rule, str(rule))

    def _where(self) -> str:
        c = self.controls
        return " · ".join([c["kind"].label or "", c["segment"].label or "", c["period"].label or ""])

    def _build_figure(self, figsize) -> None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        eng = self.engine
        fig = Figure(figsize=figsize)
        FigureCanvasAgg(fig)
        # Fixed margins: a layout engine would re-measure every text on every draw (~40 ms).
        fig.subplots_adjust(left=0.1, right=0.98, top=0.85, bottom=0.14)
        ax = fig.add_subplot()
        self.figure, self.ax = fig, ax
        self._legend_handles = None
        self._stairs = ax.stairs(np.zeros(eng.B), eng.edges, fill=True, color=NEUTRAL_COLOR, alpha=0.9,
                                 label=eng.spec.noun)
        self._band = ax.axvspan(0, 0, color="#444444", alpha=0.12, lw=0, visible=False)
        self._flip = ax.axvspan(0, 0, color=REJECT_COLOR, alpha=0.25, lw=0, visible=False)
        self._band.set_gid("cut_range")
        self._flip.set_gid("flip_zone")
        self._current_line = ax.axvline(0, color="#555555", linestyle="--", linewidth=1.4, visible=False,
                                        gid="current")
        self.cut_line = ax.axvline(0, color="k", linewidth=1.8, visible=False, gid="cut")
        if self._log:
            ax.set_ylim(0.8, 10)
            ax.set_yscale("log")
        ax.set_xlabel("confidence" + (" (0–100)" if eng.spec.scale[1] == 100 else " (0–1)"))
        ax.set_ylabel(f"{eng.spec.noun} per {eng.binwidth:g} bin")

    @staticmethod
    def _span(patch, a: float, b: float) -> None:
        lo, hi = min(a, b), max(a, b)
        if hasattr(patch, "set_width"):                     # matplotlib >= 3.9: a Rectangle
            patch.set_x(lo)
            patch.set_width(hi - lo)
        else:                                               # older: a Polygon in axes-x/data-y
            patch.set_xy([[lo, 0], [lo, 1], [hi, 1], [hi, 0], [lo, 0]])

    def _draw(self, r: dict, st: dict, kind: int, level, current) -> None:
        eng, spec, ax = self.engine, self._spec, self.ax
        counts = r["hist"].astype(float)
        self._stairs.set_data(values=counts)
        top = float(counts.max()) if len(counts) else 0.0
        if self._log:
            ax.set_ylim(0.8, max(top, 1.0) * 2)
        else:
            ax.set_ylim(0, max(top, 1.0) * 1.08)
        ax.set_xlim(*(eng.kind_extent[kind] if eng.kinds else spec.scale))
        color = LEVEL_COLORS.get(level, "#000000") if level != CUSTOM else "#000000"
        has_cut = not np.isnan(st["line"]) and st["message"] is None
        self.cut_line.set_visible(has_cut)
        if has_cut:
            self.cut_line.set_xdata([st["line"], st["line"]])
            self.cut_line.set_color(color)
            what = "custom cut" if level == CUSTOM else f"{self._rule_text(level)} (each row at its own)"
            self.cut_line.set_label(f"{what}: {st['line']:g}")
        vary = has_cut and st["line_max"] > st["line_min"]
        self._band.set_visible(vary)
        if vary:
            self._span(self._band, st["line_min"], st["line_max"])
        cur = st["current_line"]
        show_cur = not np.isnan(cur) and st["message"] is None
        self._current_line.set_visible(show_cur)
        if show_cur:
            self._current_line.set_xdata([cur, cur])
            self._current_line.set_color(LEVEL_COLORS.get(current, CONFIGURED_COLOR))
            self._current_line.set_label(f"current {self._rule_text(current)}: {cur:g}")
        flips = st[spec.to_negative] + st[spec.to_positive]
        show_flip = has_cut and show_cur and flips > 0 and st["line"] != cur
        self._flip.set_visible(show_flip)
        if show_flip:
            self._span(self._flip, st["line"], cur)
            more_negative = st[spec.to_negative] >= st[spec.to_positive]
            self._flip.set_color(REJECT_COLOR if more_negative == (spec.positive == "pass") else PASS_COLOR)
            self._flip.set_label(f"would flip: {flips:,}")
        else:
            self._flip.set_label("_flip")
        if st["message"]:
            ax.set_title(st["message"], fontsize="medium")
        else:
            pos = st[spec.positive.replace(" ", "_")]
            at = f"the custom cut {st['line']:g}" if level == CUSTOM else \
                f"{self._rule_text(level)} (each row at its own threshold)"
            rate = "" if st["low_n"] else f" ({_pct(pos, st['n'])})"         # a few rows: counts only
            ax.set_title(f"{self._where()}\n{pos:,} of {st['n']:,} {spec.positive}{rate} at {at}",
                         fontsize="medium")
        self._band.set_label(f"thresholds vary {st['line_min']:g}–{st['line_max']:g}" if vary else "_band")
        handles = [a for a in (self._stairs, self.cut_line, self._band, self._current_line, self._flip)
                   if a.get_visible() and not a.get_label().startswith("_")]
        leg = ax.get_legend()
        if leg is not None and handles == self._legend_handles:
            for text, h in zip(leg.get_texts(), handles):          # same entries: relabel in place
                text.set_text(h.get_label())
        else:
            if leg is not None:
                leg.remove()
            if handles:
                ax.legend(handles=handles, loc=spec.legend_loc, fontsize="small", frameon=False)
            self._legend_handles = handles

    def _counts_text(self, st: dict, level, current, where: str) -> str:
        spec = self._spec
        e = html.escape
        if st["message"]:
            return f"<p><b>{e(st['message'])}</b></p>"
        pos_key = spec.positive.replace(" ", "_")
        n, pos = st["n"], st[pos_key]
        if st["low_n"]:
            rate = f"n&lt;{MIN_N}: too few for a rate"
        else:
            rate = f"{_pct(pos, n)} ({100 * st['ci_low']:.1f}–{100 * st['ci_high']:.1f}%)"
        if level == CUSTOM:
            at = f"custom cut {st['cut']:g}"
        else:
            at = f"{self._rule_text(level)} (each row at its own threshold)"
        rows = [f"<tr><td>at {e(at)}</td><td>{n:,}</td><td>{pos:,}</td><td>{n - pos:,}</td><td>{rate}</td></tr>"]
        if current is not None:
            n0, p0 = st["n_current"], st[f"{pos_key}_current"]
            rows.append(f"<tr><td>current {e(self._rule_text(current))} (rows with both)</td><td>{n0:,}</td>"
                        f"<td>{p0:,}</td><td>{n0 - p0:,}</td><td>{_pct(p0, n0)}</td></tr>")
        head = (f"<tr><th></th><th>n</th><th>{e(spec.positive)}</th><th>{e(spec.negative)}</th>"
                f"<th>{e(spec.positive)} rate (95% CI)</th></tr>")
        table = "<table style='border-collapse:collapse'>" + head + "".join(rows) + "</table>"
        if current is None:
            flip = "<p>No current threshold to compare with.</p>"
        elif st["n_current"] == 0:
            flip = f"<p>No row here has a {e(self._rule_text(current))} threshold to compare with.</p>"
        else:
            a, b = spec.to_negative, spec.to_positive
            flip = (f"<p>Would flip against current {e(self._rule_text(current))}: "
                    f"<b>{st[a]:,}</b> {e(spec.positive)}→{e(spec.negative)} ({_sessions(st['sessions_' + a])}), "
                    f"<b>{st[b]:,}</b> {e(spec.negative)}→{e(spec.positive)} ({_sessions(st['sessions_' + b])}), "
                    f"of {st['n_current']:,} {e(spec.noun)} judged under both.</p>")
        extra = ""
        if spec.missing_in_scope and st["rows"] > 0:
            missing = st["rows"] - st["scored"]
            if missing:
                extra = f"<p>{missing:,} {e(spec.noun)} without a confidence count as {e(spec.negative)}.</p>"
        return f"<p><b>{e(where)}</b></p>{table}{flip}{extra}"

    def _table_text(self, st: dict) -> str:
        e = html.escape
        near = st["nearest"]
        if st["message"] or near is None or near.empty:
            return ""
        cols = [c for c in ("session_id", "source", "session_time", "attempt", "confidence", "threshold",
                            "margin", "decision", "current_decision", "change") if c in near]
        names = {"session_id": "session", "session_time": "time (UTC)", "threshold": "cut",
                 "current_decision": "current"}
        out = ["<table style='border-collapse:collapse;font-size:90%'><tr>"
               + "".join(f"<th style='padding:0 6px'>{e(names.get(c, c))}</th>" for c in cols) + "</tr>"]
        data = [near[c].tolist() for c in cols]
        for row in zip(*data):
            cells = []
            for c, v in zip(cols, row):
                if c == "session_time" and not pd.isna(v):
                    v = pd.Timestamp(v).strftime("%Y-%m-%d %H:%M")
                elif c in ("confidence", "threshold", "margin") and not pd.isna(v):
                    v = f"{v:+g}" if c == "margin" else f"{v:g}"
                elif not isinstance(v, str) and pd.isna(v):
                    v = "–"
                cells.append(f"<td style='padding:0 6px'>{e(str(v))}</td>")
            out.append("<tr>" + "".join(cells) + "</tr>")
        out.append("</table>")
        return (f"<p><b>{len(near)} {e(self._spec.noun)} nearest the cut</b> (session ids masked)</p>"
                + "".join(out))


class ThresholdExplorer(_Explorer):
    """The widget :func:`threshold_explorer` returns (an ``ipywidgets.VBox``)."""
    _spec = _COMPARISONS


class GenuinenessExplorer(_Explorer):
    """The widget :func:`genuineness_explorer` returns (an ``ipywidgets.VBox``)."""
    _spec = _GENUINENESS


def _join_session_columns(table: pd.DataFrame, sessions: pd.DataFrame, cols) -> pd.DataFrame:
    """:func:`~faceanalytics.analytics.join_segments` on (source, session_id), same result
    (first sessions row per key, missing where none), with the keys factorized once
    instead of a validated merge: a third of the time on a million rows."""
    right = sessions[["source", "session_id", *cols]]
    n = len(table)
    sid = pd.factorize(pd.concat([table["session_id"], right["session_id"]], ignore_index=True))[0]
    src = pd.factorize(pd.concat([table["source"], right["source"]], ignore_index=True))[0]
    key = sid.astype(np.int64) * (int(src.max(initial=0)) + 2) + src + 1     # -1 (missing) stays apart
    key -= int(key.min(initial=0))
    kt, kr = key[:n], key[n:]
    first = np.full(int(key.max(initial=0)) + 1, -1, np.int64)
    first[kr[::-1]] = np.arange(len(kr) - 1, -1, -1)          # the first row of each key wins
    idx = first[kt]
    return table.assign(**{c: pd.Series(right[c].array.take(idx, allow_fill=True), index=table.index)
                           for c in cols})


def _segment_table(table: pd.DataFrame, sessions, spec: _Spec, segments, max_values: int):
    """The table with the segment columns to offer (joined from ``sessions``) and their names."""
    out = table
    if sessions is not None:
        cols = [c for c in SESSION_SEGMENTS if c in sessions.columns and c not in table.columns]
        if segments is not None:
            cols = [c for c in sessions.columns if c in segments and c not in table.columns
                    and c not in ("source", "session_id")] or cols
        if cols and {"source", "session_id"} <= set(table.columns):
            out = _join_session_columns(out, sessions, cols)
    if "threshold_set" in spec.extra_segments and "threshold_set" not in out.columns and \
            all(f"thr_{lv.replace('-', '')}" in out.columns for lv in LEVELS):
        out = out.assign(threshold_set=threshold_set_labels(out))
    if segments is not None:
        missing = [c for c in segments if c not in out.columns]
        if missing:
            raise KeyError(f"segment column(s) {', '.join(missing)} not in the table (or in sessions)")
        return out, list(segments)
    chosen = []
    for c in _SEGMENT_CANDIDATES:
        if c in out.columns and out[c].notna().any():
            k = out[c].nunique(dropna=False)
            if 1 < k <= max_values:
                chosen.append(c)
    return out, chosen


def threshold_explorer(comparisons: pd.DataFrame, sessions: pd.DataFrame | None = None, *,
                       freq: str | None = "W", segments=None, nearest: int = 10, binwidth: float = 0.5,
                       current: str = "1e-4", continuous_update: bool = False, **kwargs) -> ThresholdExplorer:
    """An ipywidgets explorer of decision thresholds on the ``comparisons`` table.

    Pick the comparison kind, a segment and a period (``freq``: ``"D"``, ``"W"`` or
    ``"M"``); judge the rows at a level (each row at *its own* ``thr_1e*``), Baidu's
    configured threshold, or one custom cut on the slider.  It shows the confidence
    distribution with the cut, pass/reject counts with a Wilson interval, how many
    comparisons and sessions would flip against the ``current`` level, and the
    ``nearest`` rows to the cut (session ids masked).  Segments: ``source``,
    ``threshold_set`` and, with ``sessions``, ``procedure_type``,
    ``liveness_version``, ``is_demote`` (those with at most 30 values; ``segments=``
    names any columns of the table or of ``sessions``).

    The returned widget exposes ``controls`` (dict of widgets: ``comparison``/``kind``,
    ``segment``, ``period``, ``level``, ``current``, ``cut``), ``state()`` (the last
    numbers: ``n``, ``pass``, ``reject``, ``to_reject``, ``to_pass``,
    ``sessions_to_reject``, ``sessions_to_pass``, ``line``, ``nearest``, ``message``, …),
    ``figure``/``ax`` and ``render_png()``.

    >>> ex = threshold_explorer(fa.load("data", "comparisons"), fa.load("data", "sessions"))  # doctest: +SKIP
    >>> ex.controls["level"].value = "custom"; ex.controls["cut"].value = 71.0             # doctest: +SKIP
    """
    return ThresholdExplorer(comparisons, sessions, freq=freq, segments=segments, nearest=nearest,
                             binwidth=binwidth, current=current, continuous_update=continuous_update, **kwargs)


def genuineness_explorer(genuineness: pd.DataFrame, sessions: pd.DataFrame | None = None, *,
                         freq: str | None = "W", segments=None, nearest: int = 10, binwidth: float = 0.01,
                         log: bool = True, continuous_update: bool = False, **kwargs) -> GenuinenessExplorer:
    """:func:`threshold_explorer` for the anti-spoofing checks, per attack type.

    A check is flagged when ``confidence > threshold`` (each row's own threshold, or
    the custom cut on the 0–1 slider); checks without a confidence are not counted,
    and without a threshold only count under a custom cut.  "Would flip" compares with
    each row's own threshold: ``to_flagged`` / ``to_cleared`` (and their sessions).
    """
    return GenuinenessExplorer(genuineness, sessions, freq=freq, segments=segments, nearest=nearest,
                               binwidth=binwidth, log=log, continuous_update=continuous_update, **kwargs)
