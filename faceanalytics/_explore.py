"""What the explorers count, from tables in memory or a data directory (no widgets here).

An explorer shows one *selection* at a time: a kind (comparison kind or attack type), a
segment value and a period.  Every number it shows comes from the selection's exact
confidence histogram (:func:`faceanalytics.analytics.confidence_histogram`: rows per
source, segment value, threshold set and exact confidence), indexed by
:class:`~faceanalytics.analytics._index.CutIndex`; only the rows nearest the cut (and, for
kinds with several attempts per session, the sessions that would flip) are read from the
rows, and only those.

Two sources give the histograms and the rows, the same frames from each:

* :class:`FrameSource`, tables in memory: pandas (the analytics functions) on the rows of
  the selection;
* :class:`DataSource`, a data directory: an engine where the data lives
  (:mod:`faceanalytics.engines._explore`; DuckDB within the review's memory limit by
  default), so memory stays flat in the number of rows.  Segments are the review's
  (:func:`faceanalytics.report._segments.choose_segments`: ``biz_extra_data`` keys or
  sessions columns).

:class:`Explorer` caches histograms per (kind, period, segment key) and answers a choice
of the controls in microseconds once its histogram is there.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .analytics._core import (column_codes, floats, once_per_attempt, period_codes, period_start, place_untimed,
                              time_us)
from .analytics._flip import exact_difference
from .analytics._hist import THRESHOLD_COLUMNS, confidence_histogram
from .analytics._index import CutIndex
from .analytics._segments import SESSION_SEGMENTS, join_session_columns, threshold_set_labels
from .schema import LEVEL_COLUMNS, LEVELS

__all__ = ["Spec", "COMPARISONS", "GENUINENESS", "FrameSource", "DataSource", "Explorer", "ALL", "NO_TIME",
           "MISSING", "CUSTOM", "NO_RULE"]

ALL = "all"                     # the "all segments" / "all periods" choice
NO_TIME = "(no time)"           # the period of rows without a time
MISSING = "(missing)"           # a kind or segment value that is missing
CUSTOM = "custom"
NO_RULE = "none"
THRESHOLD_SET = "threshold_set"
# Columns a comparisons frame may already carry (joined by ``with_segments``): offered as they are.
_TABLE_CANDIDATES = (*SESSION_SEGMENTS, "idcard_mode", "id_type", "id_attacked", "id_photo_monochrome")
_CACHE_CELLS = 3_000_000        # histogram cells kept across selections (~85 bytes each), and indexed (~40)


@dataclass(frozen=True)
class Spec:
    """What differs between the comparison and the anti-spoofing explorer."""
    table: str
    kind_column: str
    rules: dict                 # rule name -> threshold column, in display order
    strict: bool                # positive when confidence > cut (else >=)
    missing_in_scope: bool      # a row without a confidence counts (as negative)
    positive: str               # state keys ("pass" / "flagged"), their labels in _widget_text
    negative: str
    to_negative: str            # state key: positive at the current rule, negative at the new one
    to_positive: str
    scale: tuple
    step: float
    binwidth: float
    legend_loc: str = "upper left"
    threshold_sets: bool = False

    @property
    def rule_columns(self) -> list[str]:
        return list(dict.fromkeys(self.rules.values()))


COMPARISONS = Spec(
    table="comparisons", kind_column="comparison",
    rules={**{lv: LEVEL_COLUMNS[lv] for lv in LEVELS}, "configured": "threshold"},
    strict=False, missing_in_scope=True, positive="pass", negative="reject", to_negative="to_reject",
    to_positive="to_pass", scale=(0.0, 100.0), step=0.001, binwidth=0.5, threshold_sets=True)

GENUINENESS = Spec(
    table="genuineness", kind_column="attack", rules={"threshold": "threshold"}, strict=True,
    missing_in_scope=False, positive="flagged", negative="not flagged", to_negative="to_cleared",
    to_positive="to_flagged", scale=(0.0, 1.0), step=0.001, binwidth=0.01, legend_loc="upper right")


def _value(v):
    """A key value as a plain Python value (None when missing)."""
    if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
        return None
    return v.item() if hasattr(v, "item") else v


def _sorted_values(values) -> list:
    """Distinct values, sorted, missing last (None)."""
    vals = {_value(v) for v in values}
    present = sorted(v for v in vals if v is not None)
    return present + ([None] if None in vals else [])


# ---------------------------------------------------------------------------- the overview

@dataclass
class Overview:
    """What the controls offer, from rows per (kind, source, period, threshold set)."""
    kinds: list                 # values, sorted, None (missing) last
    periods: list               # period starts (UTC), then NO_TIME when some rows have no time
    rules: list                 # rule names any kind has, in display order
    kind_rules: list            # per kind: the set of rule names its rows have
    kind_extent: list           # per kind: the x-range worth showing
    kind_repeats: list          # per kind: whether a session can have several of its rows
    sources: list
    threshold_sets: dict        # label -> thresholds (one per level; NaN: none), None: rows without
    rows: int


def _overview(f: pd.DataFrame, spec: Spec, repeats: dict, periods: list) -> Overview:
    """From per-group rows (``spec.kind_column``, ``source``, rule columns, ``n``, ``scored``,
    ``min_confidence``)."""
    kinds = _sorted_values(f[spec.kind_column]) if len(f) else []
    kcol = f[spec.kind_column].map(_value) if len(f) else pd.Series(dtype=object)
    lo_s, hi_s = spec.scale
    pad = (hi_s - lo_s) / 20
    kind_rules, extents = [], []
    for k in kinds:
        g = f[(kcol == k).to_numpy() if k is not None else kcol.isna().to_numpy()]
        have = {r for r, col in spec.rules.items() if bool(g[col].notna().to_numpy().any())}
        kind_rules.append(have)
        lows = [float(g["min_confidence"].min())] if g["min_confidence"].notna().any() else []
        for r in have:
            lows.append(float(g[spec.rules[r]].min()))
        m = min(lows) if lows else lo_s
        m = m if np.isfinite(m) else lo_s
        extents.append((max(lo_s, np.floor(m / pad) * pad - pad), hi_s))
    rules = [r for r in spec.rules if any(r in have for have in kind_rules)]
    sets: dict = {}
    if spec.threshold_sets and len(f):
        lv = [LEVEL_COLUMNS[x] for x in LEVELS]
        t = f[lv].drop_duplicates().reset_index(drop=True)
        for label, row in zip(threshold_set_labels(t), t.itertuples(index=False)):
            sets[_value(label)] = tuple(float(x) for x in row)
    return Overview(kinds=kinds, periods=periods, rules=rules, kind_rules=kind_rules, kind_extent=extents,
                    kind_repeats=[bool(repeats.get(k, False)) for k in kinds],
                    sources=_sorted_values(f["source"]) if len(f) else [],
                    threshold_sets=dict(sorted(sets.items(), key=lambda kv: (kv[0] is None, kv[0] or ""))),
                    rows=int(f["n"].sum()) if len(f) else 0)


def _asked(segments) -> list[str] | None:
    return None if segments is None else [str(s) for s in ([segments] if isinstance(segments, str) else segments)]


def _segment_options(ov: Overview, spec: Spec, table_columns: dict, session_segments: list, asked) -> list:
    """(name, value) of every segment value to offer: source and threshold set (when they
    vary, or asked for), columns of the table, then the review's segments (their kept values,
    ``(other)`` when values were left out, and missing)."""
    from .report._segments import MAX_VALUES

    out = []
    own = [("source", ov.sources), *([(THRESHOLD_SET, list(ov.threshold_sets))] if spec.threshold_sets else [])]
    for name, values in [*own, *table_columns.items()]:
        if asked is not None and name not in asked:
            continue
        if len(values) > 1 or (asked is not None and values):
            out += [(name, MISSING if v is None else v) for v in values]
    for seg in session_segments:
        values = list(seg.values or ())
        out += [(seg.name, v) for v in values]
        if len(values) >= MAX_VALUES or seg.left_out:
            out.append((seg.name, seg.other))
        out.append((seg.name, MISSING))
    return out


# ---------------------------------------------------------------------------- the nearest rows

def pick_nearest(cands: pd.DataFrame, k: int, spec: Spec) -> pd.DataFrame:
    """The ``k`` rows nearest the cut among candidate rows (``source``, ``session_id``,
    ``session_time``, ``attempt``, ``confidence``, ``threshold``, ``current_threshold``),
    shown from below to above the cut, session ids masked.

    Nearest first by ``|confidence - threshold|``, ties to the latest session, then by source,
    session id and attempt: the same choice whichever source fetched the candidates.
    """
    from .analytics import mask_ids

    conf = floats(cands["confidence"]) if len(cands) else np.zeros(0)
    thr = floats(cands["threshold"]) if len(cands) else np.zeros(0)
    cur = floats(cands["current_threshold"]) if len(cands) else np.zeros(0)
    margin = exact_difference(conf, thr)
    t = time_us(cands["session_time"]) if len(cands) else np.zeros(0, np.int64)
    t = np.where(t == np.iinfo(np.int64).min, np.iinfo(np.int64).max, -t)     # latest first, no time last
    src = cands["source"].astype("str").fillna("").to_numpy(dtype=object) if len(cands) else np.zeros(0, object)
    sid = cands["session_id"].astype("str").fillna("").to_numpy(dtype=object) if len(cands) else np.zeros(0, object)
    att = floats(cands["attempt"]) if len(cands) else np.zeros(0)
    att = np.where(np.isnan(att), np.inf, att)
    tie = np.lexsort((att, sid, src, t))                      # the tie order, once
    rank = np.empty(len(tie), np.int64)
    rank[tie] = np.arange(len(tie))
    pick = np.lexsort((rank, np.abs(margin)))[:max(int(k), 0)]
    pick = pick[np.lexsort((rank[pick], margin[pick]))]       # shown from below to above the cut
    c, a, b = conf[pick], thr[pick], cur[pick]
    p1 = (c > a) if spec.strict else (c >= a)
    p0 = (c > b) if spec.strict else (c >= b)
    has0 = ~np.isnan(b)
    change = np.where(p0 & ~p1, f"{spec.positive}→{spec.negative}",
                      np.where(~p0 & p1, f"{spec.negative}→{spec.positive}", ""))
    sub = cands.iloc[pick].reset_index(drop=True) if len(cands) else cands
    cols = {"session_id": pd.array(mask_ids(sub["session_id"].astype("str")), dtype="str") if len(sub)
            else pd.array([], dtype="str"),
            "source": pd.array(sub["source"].astype("str"), dtype="str") if len(sub) else pd.array([], dtype="str"),
            "session_time": pd.Series(sub["session_time"]).reset_index(drop=True) if len(sub)
            else pd.Series(dtype="datetime64[us, UTC]"),
            "attempt": pd.array(sub["attempt"], dtype="Int32") if len(sub) else pd.array([], dtype="Int32"),
            "confidence": c, "threshold": a, "margin": exact_difference(c, a),
            "decision": pd.array(np.where(p1, spec.positive, spec.negative), dtype="str"),
            "current_threshold": b,
            "current_decision": pd.array(np.where(~has0, "–", np.where(p0, spec.positive, spec.negative)),
                                         dtype="str"),
            "change": pd.array(np.where(has0, change, ""), dtype="str")}
    return pd.DataFrame(cols)


# ---------------------------------------------------------------------------- sources

def _in_window(table: pd.DataFrame, time_column: str, since, until) -> pd.DataFrame:
    """Rows with ``since <= time < until`` (no bound given, or no time column: every row)."""
    if (since is None and until is None) or time_column not in table:
        return table
    t = time_us(table[time_column])
    keep = t != np.iinfo(np.int64).min
    if since is not None:
        keep &= t >= since.value // 1000
    if until is not None:
        keep &= t < until.value // 1000
    return table[keep]


def _window(since, until):
    from .report._period import utc

    return utc(since, "since"), utc(until, "until")


class FrameSource:
    """Tables in memory: the histogram of a selection is :func:`analytics.confidence_histogram`
    of its rows (the summary the engines compute where the data lives), the nearest rows a
    filter of them.

    With a ``sessions`` frame, rows that carry no verification time (Baidu detail, simple, stat,
    media) are placed at their token's getall time before the window and the periods are
    chosen (:func:`analytics.place_untimed`, as the review counts them); without one (or
    without ``source``, ``session_id`` and ``session_time`` in both frames) nothing says where
    getall dated them, and they stay at their fetch time, as stored.  ``placed=True``: the
    frames are placed already (:func:`faceanalytics.engines.load_placed`, as the explorer over a
    data directory with ``engine="pandas"`` reads them), and are not placed again."""

    def __init__(self, table: pd.DataFrame, sessions: pd.DataFrame | None, spec: Spec, *, freq: str | None = "W",
                 time_column: str = "session_time", since=None, until=None, segments=None,
                 max_segment_values: int = 30, placed: bool = False):
        if spec.kind_column not in table:
            raise KeyError(f"the table needs a {spec.kind_column!r} column")
        self.spec = spec
        since, until = _window(since, until)
        if not placed and sessions is not None and all({"source", "session_id", "session_time"} <= set(f.columns)
                                                        for f in (table, sessions)):
            table, sessions = place_untimed(table, sessions), place_untimed(sessions, sessions)
        table = once_per_attempt(_in_window(table, time_column, since, until))
        for c in ("source", "session_id"):
            if c not in table:
                table = table.assign(**{c: pd.Series([None] * len(table), index=table.index, dtype="str")})
        self.table, self.table_segments, self.session_segments = self._segments(
            table, sessions, segments, max_segment_values, since, until)
        self.freq = freq if freq is not None and time_column in self.table else None
        n = len(self.table)
        self.kc, kinds = column_codes(self.table[spec.kind_column])
        if self.freq is not None:
            num, valid = period_codes(self.table[time_column], self.freq)
            uniq = np.unique(num[valid])
            pc = np.searchsorted(uniq, num).astype(np.int64)
            periods = list(period_start(uniq, self.freq))
            if not valid.all():
                pc = np.where(valid, pc, len(uniq))
                periods.append(NO_TIME)
            self.pc = pc
        else:
            self.pc, periods = np.zeros(n, np.int64), []
        self.time_column = time_column
        self.overview = _overview(self._overview_frame(), spec, self._repeats(kinds), periods)
        self.segment_options = _segment_options(
            self.overview, spec, {c: _sorted_values(self.table[c].unique()) for c in self.table_segments},
            self.session_segments, _asked(segments))

    # -- preparation
    def _segments(self, table, sessions, segments, max_values, since, until):
        """The table with the session segments joined (as text, the review's values) and the
        names of the table's own segment columns."""
        from .engines._review import segment_values
        from .report._period import ReviewPeriod
        from .report._segments import choose_segments

        asked = _asked(segments)
        own = [c for c in (asked if asked is not None else _TABLE_CANDIDATES)
               if c in table.columns and c not in ("source", THRESHOLD_SET)]
        if asked is None:
            own = [c for c in own if table[c].notna().any() and 1 < table[c].nunique(dropna=False) <= max_values]
        session_segs = []
        names = None if asked is None else [s for s in asked if s not in table.columns and s != THRESHOLD_SET]
        if sessions is not None and {"source", "session_id"} <= set(sessions.columns) and (names is None or names):
            s = _in_window(sessions, "session_time", since, until)
            far = pd.Timestamp("1900-01-01", tz="UTC"), pd.Timestamp("2200-01-01", tz="UTC")
            # a key naming nothing in the window's sessions is refused there (report._segments)
            session_segs = choose_segments({"sessions": s}, ReviewPeriod(since or far[0], until or far[1]), names)
            if session_segs:
                seg_cols = s[["source", "session_id"]].assign(**{x.label: segment_values(s, x) for x in session_segs})
                table = join_session_columns(table, seg_cols, [x.label for x in session_segs])
        elif names:
            raise KeyError(f"segment column(s) {', '.join(names)} not in the table (or in sessions)")
        return table, own, session_segs

    def _repeats(self, kinds) -> dict:
        """Kinds where a session has several rows (Baidu attempts): their flipped sessions are
        counted from the rows."""
        t = self.table
        key = pd.DataFrame({"k": self.kc, "s": t["source"].to_numpy(dtype=object),
                            "i": t["session_id"].to_numpy(dtype=object)})
        dup = key.duplicated().to_numpy()
        return {_value(kinds[k]): True for k in np.unique(self.kc[dup])}

    def _overview_frame(self) -> pd.DataFrame:
        t, spec = self.table, self.spec
        cols = spec.rule_columns + ([LEVEL_COLUMNS[x] for x in LEVELS] if spec.threshold_sets else [])
        cols = list(dict.fromkeys(cols))
        f = pd.DataFrame({spec.kind_column: t[spec.kind_column].to_numpy(dtype=object),
                          "source": t["source"].to_numpy(dtype=object),
                          **{c: floats(t[c]) if c in t else np.full(len(t), np.nan) for c in cols},
                          "conf": floats(t["confidence"])})
        g = f.groupby([spec.kind_column, "source", *cols], dropna=False, sort=False)
        out = g["conf"].agg(["size", "count", "min"]).reset_index()
        return out.rename(columns={"size": "n", "count": "scored", "min": "min_confidence"})

    # -- the questions
    def segment_key(self, name: str):
        """The histogram column a segment's values are in (None: the pooled histogram)."""
        if name in ("source", THRESHOLD_SET):
            return None
        seg = next((x for x in self.session_segments if x.name == name), None)
        return seg.label if seg is not None else name

    def _mask(self, kind: int, period, segment=ALL) -> np.ndarray:
        m = self.kc == kind
        if period != ALL:
            m &= self.pc == period
        if segment != ALL:
            name, value = segment
            col = THRESHOLD_SET if name == THRESHOLD_SET else self.segment_key(name) or name
            if col == THRESHOLD_SET and col not in self.table:
                v = threshold_set_labels(self.table)
            else:
                v = self.table[col]
            m &= (v.isna() if value == MISSING else (v.astype("str") == str(value))).to_numpy(dtype=bool,
                                                                                            na_value=False)
        return m

    def histogram(self, kind: int, period, key) -> pd.DataFrame:
        rows = self.table[self._mask(kind, period)]
        cols = ["source", *([key] if key else []), *[c for c in THRESHOLD_COLUMNS if c in rows], "confidence"]
        return confidence_histogram(rows[cols], ["source", *([key] if key else [])])

    def rows(self, kind: int, period, segment, *, cut, current, near, flips, k: int, expect: int = 0):
        """(candidate rows within ``near``, (sessions to negative, to positive) over ``flips``)."""
        t = self.table[self._mask(kind, period, segment)]
        conf = floats(t["confidence"])

        def cuts(x):
            if x is None:
                return np.full(len(t), np.nan)
            return floats(t[x]) if isinstance(x, str) else np.full(len(t), float(x))

        t1, t0 = cuts(cut), cuts(current)
        out = t.iloc[:0]
        if near is not None:
            bound = near[1]
            with np.errstate(invalid="ignore"):
                sel = ~np.isnan(t1) & ~np.isnan(conf) & (np.abs(exact_difference(conf, t1)) <= bound)
            out = t[sel]
            t1s, t0s = t1[sel], t0[sel]
        else:
            t1s = t0s = np.zeros(0)
        cands = pd.DataFrame({"source": out["source"].to_numpy(dtype=object),
                              "session_id": out["session_id"].to_numpy(dtype=object),
                              "session_time": out[self.time_column].reset_index(drop=True)
                              if self.time_column in out else pd.Series([pd.NaT] * len(out)),
                              "attempt": out["attempt"].reset_index(drop=True) if "attempt" in out
                              else pd.Series([pd.NA] * len(out), dtype="Int32"),
                              "confidence": floats(out["confidence"]), "threshold": t1s, "current_threshold": t0s})
        sessions = None
        if flips is not None:
            with np.errstate(invalid="ignore"):
                both = ~np.isnan(t1) & ~np.isnan(t0)
                p1 = (conf > t1) if self.spec.strict else (conf >= t1)
                p0 = (conf > t0) if self.spec.strict else (conf >= t0)
            key = t["source"].astype("str").fillna("") + "\x00" + t["session_id"].astype("str").fillna("")
            sessions = (int(key[both & p0 & ~p1].nunique()), int(key[both & p1 & ~p0].nunique()))
        return cands, sessions


class DataSource:
    """A data directory: every histogram and row counted by an engine where the data lives."""

    def __init__(self, data_dir, spec: Spec, *, freq: str | None = "W", since=None, until=None, segments=None,
                 engine="auto"):
        from .engines import _explore as E
        from .report._period import ReviewPeriod
        from .report._segments import choose_segments
        from .report._period import review_engine

        self.spec, self.data_dir = spec, data_dir
        self.engine = review_engine(engine)
        self.freq = freq or "W"
        since, until = _window(since, until)
        cols = list(dict.fromkeys(spec.rule_columns + ([LEVEL_COLUMNS[x] for x in LEVELS]
                                                       if spec.threshold_sets else [])))
        f = E.overview(data_dir, spec.table, spec.kind_column, cols, since=since, until=until, freq=self.freq,
                       engine=self.engine)
        if f is None or f.empty:
            f = pd.DataFrame(columns=[spec.kind_column, "source", "period", *cols, "n", "scored", "max_attempt",
                                      "min_confidence", "first", "last"])
        f = f[f["period"].notna().to_numpy(dtype=bool)] if len(f) else f
        if len(f):
            first, last = pd.Timestamp(f["first"].min()), pd.Timestamp(f["last"].max())
            since = since or first.tz_convert("UTC").floor("D")
            until = until or last.tz_convert("UTC").floor("D") + pd.Timedelta(days=1)
        self.since, self.until = since, until
        nums = np.unique(f["period"].to_numpy(dtype=np.int64)) if len(f) else np.zeros(0, np.int64)
        self._period_numbers = nums
        repeats = {}
        if len(f):
            ma = f.groupby(f[spec.kind_column].map(_value), dropna=False)["max_attempt"].max()
            repeats = {k: bool(v > 1) for k, v in ma.items()}
        self.overview = _overview(f, spec, repeats, list(period_start(nums, self.freq)))
        names = _asked(segments)
        asked = None if names is None else [x for x in names if x not in ("source", THRESHOLD_SET)]
        self.session_segments = []
        self._sources = {}
        if len(f):
            for k, g in f.groupby(f[spec.kind_column].map(_value), dropna=False)["source"]:
                self._sources[k] = sorted(set(g.astype("str")))
        if since is not None and (asked is None or asked):
            self.session_segments = choose_segments(data_dir, ReviewPeriod(since, until), asked, engine=self.engine)
        self.segment_options = _segment_options(self.overview, spec, {}, self.session_segments, names)

    def segment_key(self, name: str):
        if name in ("source", THRESHOLD_SET):
            return None
        return next(x.label for x in self.session_segments if x.name == name)

    def _bounds(self, period):
        """The window of a period (clipped to the explorer's)."""
        if period == ALL:
            return self.since, self.until
        start = period_start(self._period_numbers[period:period + 1], self.freq)[0]
        end = period_start(self._period_numbers[period:period + 1] + 1, self.freq)[0]
        return max(start, self.since), min(end, self.until)

    def _kind(self, kind: int):
        return self.overview.kinds[kind]

    def histogram(self, kind: int, period, key) -> pd.DataFrame:
        from .engines import _explore as E

        since, until = self._bounds(period)
        seg = next((x for x in self.session_segments if x.label == key), None) if key else None
        return E.selection_histogram(self.data_dir, self.spec.table, self.spec.kind_column, self.spec.rule_columns,
                                     kind=self._kind(kind), segment=seg, since=since, until=until,
                                     engine=self.engine)

    def rows(self, kind: int, period, segment, *, cut, current, near, flips, k: int, expect: int = 0):
        from .engines import _explore as E

        since, until = self._bounds(period)
        where, seg, value = [], None, E.ALL
        if segment != ALL:
            name, v = segment
            if name == "source":
                where = [("source", None if v == MISSING else v)]
            elif name == THRESHOLD_SET:
                vals = self.overview.threshold_sets[None if v == MISSING else v]
                where = [(LEVEL_COLUMNS[lv], x) for lv, x in zip(LEVELS, vals)]
            else:
                seg = next(x for x in self.session_segments if x.name == name)
                value = None if v == MISSING else v
        return E.rows_near_cut(self.data_dir, self.spec.table, self.spec.kind_column, kind=self._kind(kind),
                               since=since, until=until, cut=cut, current=current, near=near, expect=expect, k=k,
                               flips=flips, strict=self.spec.strict, where=where, segment=seg, value=value,
                               sources=self._sources.get(self._kind(kind)), engine=self.engine)


# ---------------------------------------------------------------------------- the explorer's numbers

class Explorer:
    """The numbers behind one explorer: a source, histograms cached per (kind, period,
    segment key), an index per selection."""

    def __init__(self, source, spec: Spec, *, nearest: int = 10, binwidth: float | None = None):
        self.source, self.spec = source, spec
        self.overview: Overview = source.overview
        self.nearest_k = int(nearest)
        lo, hi = spec.scale
        self.binwidth = float(binwidth or spec.binwidth)
        self.nbins = int(round((hi - lo) / self.binwidth))
        self.edges = np.round(lo + np.arange(self.nbins + 1) * self.binwidth, 10)
        self._hists: OrderedDict = OrderedDict()
        self._indexes: OrderedDict = OrderedDict()
        self._rows: OrderedDict = OrderedDict()

    # -- selections
    def _histogram(self, kind: int, period, key) -> pd.DataFrame:
        ck = (kind, period, key)
        h = self._hists.get(ck)
        if h is None:
            h = self.source.histogram(kind, period, key)
            self._hists[ck] = h
            while sum(len(x) for x in self._hists.values()) > _CACHE_CELLS and len(self._hists) > 1:
                self._hists.popitem(last=False)
        else:
            self._hists.move_to_end(ck)
        return h

    def is_cached(self, kind: int, segment, period) -> bool:
        key = None if segment == ALL else self.source.segment_key(segment[0])
        return (kind, period, key) in self._hists or (kind, segment, period) in self._indexes

    def index(self, kind: int, segment, period) -> CutIndex:
        """The selection's :class:`CutIndex` (its histogram fetched once)."""
        ck = (kind, segment, period)
        ix = self._indexes.get(ck)
        if ix is not None:
            self._indexes.move_to_end(ck)
            return ix
        if not self.overview.kinds:
            h = confidence_histogram(pd.DataFrame({"confidence": pd.Series(dtype="float64")}))
        elif segment == ALL:
            h = self._histogram(kind, period, None)
        else:
            name, value = segment
            key = self.source.segment_key(name)
            h = self._histogram(kind, period, key)
            if name == THRESHOLD_SET:
                col = threshold_set_labels(h) if len(h) else pd.Series(dtype="str")
            else:
                col = h[key if key else name]
            keep = col.isna() if value == MISSING else (col.astype("str") == str(value))
            h = h[keep.to_numpy(dtype=bool, na_value=False)]
        ix = CutIndex.from_histogram(h, self.spec.rule_columns, strict=self.spec.strict,
                                     missing_in_scope=self.spec.missing_in_scope)
        self._indexes[ck] = ix
        while len(self._indexes) > 1 and (len(self._indexes) > 64 or
                                          sum(x.cells for x in self._indexes.values()) > _CACHE_CELLS):
            self._indexes.popitem(last=False)
        return ix

    def _cut(self, rule, cut: float):
        """What CutIndex.cuts takes for a rule name (its column), the custom cut, or none."""
        if rule == CUSTOM:
            return float(cut)
        if rule is None or rule not in self.spec.rules:
            return None
        return self.spec.rules[rule]

    def rule_available(self, kind: int, rule) -> bool:
        return rule == CUSTOM or (bool(self.overview.kinds) and rule in self.overview.kind_rules[kind])

    def cut_line(self, kind: int, segment, period, rule) -> float:
        """Where a rule's line goes for a selection: its most common threshold there."""
        if rule == CUSTOM or rule not in self.spec.rules:
            return np.nan
        ix = self.index(kind, segment, period)
        return ix.line(ix.cuts(self._cut(rule, 0.0)))[0]

    def query(self, kind: int, segment, period, rule, cut: float, current) -> dict:
        """Every count the explorer shows for one choice of the controls (no row is read)."""
        ix = self.index(kind, segment, period)
        c1, c0 = ix.cuts(self._cut(rule, cut)), ix.cuts(self._cut(current, cut))
        at, fl = ix.counts(c1), ix.flips(c1, c0)
        out = {"rows": ix.rows, "scored": ix.n_scored, "n": at.n, "positive": at.positive,
               "negative": at.negative, "n_current": fl.n, "positive_current": fl.positive_current,
               "to_negative": fl.to_negative, "to_positive": fl.to_positive,
               "hist": ix.display(self.spec.scale[0], self.binwidth, self.nbins)}
        out["line"], out["line_min"], out["line_max"] = ix.line(c1)
        out["current_line"] = ix.line(c0)[0]
        return out

    def rows(self, kind: int, segment, period, rule, cut: float, current, numbers: dict):
        """(the nearest rows, (sessions to negative, to positive)) for a choice whose counts are
        ``numbers``: what only the rows can tell, read with one narrow query."""
        r1, r0 = self._cut(rule, cut), self._cut(current, cut)
        ck = (kind, segment, period, r1, r0)
        hit = self._rows.get(ck)
        if hit is not None:                 # a level's nearest rows do not move with the slider
            self._rows.move_to_end(ck)
            return hit
        ix = self.index(kind, segment, period)
        c1, c0 = ix.cuts(r1), ix.cuts(r0)
        bound, expect = ix.nearest_bound(c1, self.nearest_k) if numbers["n"] else (np.nan, 0)
        near = None
        if not np.isnan(bound):
            # One narrow confidence range around each distinct cut the selection has.
            cuts = np.unique(c1[~np.isnan(c1) & (ix.in_scope(c1) > 0)])
            near = ([(float(x) - bound - 1e-6, float(x) + bound + 1e-6) for x in cuts], bound)
        flips = None
        down, up = numbers["to_negative"], numbers["to_positive"]
        repeats = bool(self.overview.kinds) and self.overview.kind_repeats[kind]
        if repeats and down + up:
            both = ~np.isnan(c1) & ~np.isnan(c0)
            flips = (float(min(c1[both].min(), c0[both].min())) - 1e-6, float(max(c1[both].max(), c0[both].max())) + 1e-6)
        if near is None and flips is None:
            cands, sessions = None, None
        else:
            cands, sessions = self.source.rows(kind, period, segment, cut=r1, current=r0, near=near, flips=flips,
                                               k=self.nearest_k, expect=expect)
        nearest = pick_nearest(cands if cands is not None else _no_rows(), self.nearest_k, self.spec)
        if sessions is None:
            sessions = (down, up) if not repeats or down + up == 0 else (0, 0)
        self._rows[ck] = (nearest, sessions)
        if len(self._rows) > 64:
            self._rows.popitem(last=False)
        return nearest, sessions


def _no_rows() -> pd.DataFrame:
    return pd.DataFrame({"source": pd.Series(dtype="str"), "session_id": pd.Series(dtype="str"),
                         "session_time": pd.Series(dtype="datetime64[us, UTC]"),
                         "attempt": pd.Series(dtype="Int32"), "confidence": pd.Series(dtype="float64"),
                         "threshold": pd.Series(dtype="float64"), "current_threshold": pd.Series(dtype="float64")})
