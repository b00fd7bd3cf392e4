"""Findings: what an analyst must see first, found in the counts and ranked.

Every rate the review knows becomes a daily count series, pooled and per segment: each comparison kind's pass rate at each level (per source), Baidu's pass rate at
its configured threshold, each attack type's flagged share, each error code's share of the
sessions (or attempts, or stat calls) it can occur in, and the billed errors.  All of them
go through :func:`faceanalytics.analytics.detect_changes` at once (steps and short waves,
the false-discovery rate controlled over every series, each series tested once).  The
rate is weighted (:func:`_weights`): the pass rates at the level in force, pooled and per
segment, and every pooled rate get most of it; the other levels and the segments' error
and flagged shares, which explain a finding more than they make one, the rest.  Series run over both periods, so a step at the start of this one is found too;
only changes that start in this period are findings.

What is left out, because it says how the data was fetched rather than what happened:
API errors of the fetch itself (DATA_DESTROYED, RESULT_NOT_FOUND, ...), Lite sessions
still NOT_STARTED/PROCESSING, and the last day when the data ends part-way through it.

Threshold changes are dated per comparison kind and source from each reference-threshold
set's share of the kind's comparisons (a step of the share).  A set seen for the first time
is a finding at any share (a new set is a fact); a known set's share must move by
``MIN_EFFECT["thresholds"]`` (a shifting mix of known sets is no change).

Findings rank by evidence, then by what they cost (:func:`rank`, the one rule; the report's
method section says it in words): first the strictest false-discovery level a finding's
q-value passes (``EVIDENCE_LEVELS``, then the review's own), then the decisions it changed
(``|change| x`` the trials in the changed stretch: comparisons rejected or accepted, checks
flagged, sessions failed), then the earlier start.  The same change seen at several levels, or in a segment and the pool
with the same dates, is one finding that names the others.  A pooled change that one
segment alone explains is named with that segment (:mod:`._confined`).
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .. import analytics as A
from ..analytics._changes import detect_changes
from ..analytics._core import sums_by
from ..analytics._errors import REPEATING_SOURCES
from ..schema import LEVEL_COLUMNS, LEVELS
from .._time import local_day
from ._confined import confine, dated_by_segment
from ._finding import Finding, level_for, parse_levels, same_dates
from ._shown import segment_labels
from ._summary import Summaries, day_start

__all__ = ["Finding", "find", "rank", "rank_key", "evidence_level", "evidence_levels", "affected", "series_frame",
           "ALPHA", "EVIDENCE_LEVELS", "MIN_EFFECT", "FETCH_ARTEFACTS", "parse_levels", "level_for"]
# (family "thresholds": ``code`` is the threshold set, its share of the kind's comparisons the rate)

ALPHA = 0.05
# The stricter false-discovery levels that rank a finding before those that pass only the
# review's own (ALPHA): a finding that would survive a 0.1% or 1% false-discovery rate is
# better evidence than one that passes 5% alone, whatever its size (see rank).
EVIDENCE_LEVELS = (0.001, 0.01)
# Smallest change worth a decision per family (absolute, a fraction) and, for rare events,
# the rate ratio that counts as well (0.2% -> 0.6% of sessions is news; 0.2 points is not).
MIN_EFFECT = {"pass_rate": 0.01, "configured": 0.01, "flagged": 0.01, "error": 0.005, "billed": 0.005,
              "thresholds": 0.3}
MIN_RATIO = {"flagged": 2.0, "error": 2.0, "billed": 2.0}
# What benchmarks/bench_findings.py measured on no-change data (quoted in the report's method
# section, in the words of the message catalogue's ``method.measured``).
MEASURED = {"date": "2026-12-06", "with_finding": 0, "quarters": 20, "sessions": 12_000}
# Share of the false-discovery rate given to the primary series (see _weights).
PRIMARY_SHARE = 0.9
FETCH_ARTEFACTS = {("api_error", None), ("lite_status", "NOT_STARTED"), ("lite_status", "PROCESSING")}
_META = ["family", "source", "comparison", "level", "attack", "origin", "code", "detail", "seg_key", "seg_value"]


# ------------------------------------------------------------------ series

def _frame(meta: dict, day, k, n) -> dict[str, np.ndarray]:
    """One part of the series frame, as its columns (arrays; the ``_META`` ones objects):
    :func:`series_frame` joins the parts' columns and makes one frame of them.  A frame per
    part (a review has some 130 parts) then ``pd.concat`` took a quarter of the time of the
    series."""
    day = np.asarray(day, dtype=np.int64)
    cols = {"day": day, "k": np.asarray(k, dtype=np.float64), "n": np.asarray(n, dtype=np.float64)}
    for c in _META:
        v = meta.get(c)
        if isinstance(v, (pd.Series, np.ndarray)):
            cols[c] = np.asarray(v, dtype=object)
        else:
            cols[c] = np.full(len(day), v, dtype=object)
    return cols


def _pass_parts(f: pd.DataFrame, bits_col: str, has_col: str | None, seg: str | None) -> list[dict[str, np.ndarray]]:
    """Pass-rate series per source, comparison kind and level (and Baidu's configured
    threshold), of one comparison per session: its first attempt."""
    f = f[f["first"].to_numpy() == 1]          # a session's retries are not new trials
    if f.empty:
        return []
    keys = ["source", "comparison", "day", *([seg] if seg else [])]
    bits = f[bits_col].to_numpy()
    n = f["n"].to_numpy(dtype=np.float64)
    weights, labels = [], []
    for i, lv in enumerate(LEVELS):
        has = ((f[has_col].to_numpy() & (1 << i)) > 0) if has_col else f[LEVEL_COLUMNS[lv]].notna().to_numpy()
        weights += [np.where(has, n, 0.0), np.where(has & ((bits & (1 << i)) > 0), n, 0.0)]
        labels.append(("pass_rate", lv))
    has = ((f[has_col].to_numpy() & 16) > 0) if has_col else f["threshold"].notna().to_numpy()
    weights += [np.where(has, n, 0.0), np.where(has & ((bits & 16) > 0), n, 0.0)]
    labels.append(("configured", "configured"))
    kf, sums = sums_by(f, keys, weights, counts=False)      # a count cube's million rows -> its series
    parts = []
    for j, (family, lv) in enumerate(labels):
        nn, kk = sums[2 * j], sums[2 * j + 1]
        ok = nn > 0
        if not ok.any():
            continue
        g = kf[ok]
        parts.append(_frame({"family": family, "source": g["source"].to_numpy(), "comparison": g["comparison"].to_numpy(),
                             "level": lv, "seg_key": seg, "seg_value": g[seg].to_numpy() if seg else None},
                            g["day"], kk[ok], nn[ok]))
    return parts


def _flag_parts(f: pd.DataFrame, seg: str | None) -> list[dict[str, np.ndarray]]:
    """Flagged share per source and attack type (checks with a confidence and a threshold)."""
    st = f["state"].to_numpy()
    rated = (st & 3) == 0
    if not rated.any():
        return []
    n = f["n"].to_numpy(dtype=np.float64)
    kf, (nn, kk) = sums_by(f, ["source", "attack", "day", *([seg] if seg else [])],
                           [np.where(rated, n, 0.0), np.where(rated & ((st & 4) > 0), n, 0.0)], counts=False)
    ok = nn > 0
    g = kf[ok]
    return [_frame({"family": "flagged", "source": g["source"].to_numpy(), "attack": g["attack"].to_numpy(),
                    "seg_key": seg, "seg_value": g[seg].to_numpy() if seg else None}, g["day"], kk[ok], nn[ok])]


_SESSION_ERROR_COLUMNS = ["source", "status", "error", "error_message", "failure_reason", "fail_reason",
                          "liveness_result", "verify_error"]


def _combo_events(f: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame]:
    """Each row's combination of the error columns (a code per row) and the error events of
    each combination (:func:`faceanalytics.analytics.error_codes` by ``_combo``, one trial
    each).  The segments' session rows are tens of thousands of days x values x
    combinations; the combinations a few hundred, read once for every segment: the codes
    read per row (a regular expression per text), once per segment, were most of the time
    of the findings."""
    from ..analytics._core import group_codes

    codes, combos = group_codes(f, _SESSION_ERROR_COLUMNS)
    combos = combos.assign(_combo=np.arange(len(combos)), _rows=1)
    ev = A.error_codes(combos, by=["_combo"])[["_combo", "origin", "code", "detail", "count", "billed"]]
    return codes, ev


def _error_counts(f: pd.DataFrame, by: list[str], codes: np.ndarray, ev: pd.DataFrame) -> pd.DataFrame:
    """``count`` and ``billed`` of :func:`faceanalytics.analytics.error_codes` per ``by``,
    origin, code and detail over counted session rows (``n``): each row's events are its
    combination's (``codes``, ``ev``: :func:`_combo_events`) times its count."""
    rows = pd.DataFrame({**{c: f[c].to_numpy() for c in by}, "_combo": codes, "_n": f["n"].to_numpy(np.int64)})
    m = rows.merge(ev, on="_combo", how="inner", sort=False)
    n = m["_n"].to_numpy()
    m = m.assign(count=m["count"].to_numpy() * n, billed=m["billed"].to_numpy() * n)
    return m.groupby([*by, "origin", "code", "detail"], dropna=False, sort=True)[["count", "billed"]].sum() \
        .reset_index()


def _error_parts(s: Summaries, seg: str | None, events: tuple | None = None) -> list[dict[str, np.ndarray]]:
    """Each error code's share per day: of the sessions of the sources it can occur in
    (attempts for Baidu attempt codes, the api's stat calls for Baidu stat codes).
    ``events``: :func:`_combo_events` of the segments' session rows, when already read."""
    by = ["day", *([seg] if seg else [])]
    if seg:
        f = s.frame("seg_sessions")
        if f is None:
            return []
        codes, ev = _combo_events(f) if events is None else events
        m = f[seg].notna().to_numpy()
        f = f[m]
        e = _error_counts(f, by, codes[m], ev)
        tot = f.groupby(["source", *by], dropna=False)["n"].sum()
    else:
        e = s.error_codes("both", by=["day"])
        f = s.frame("sessions")
        tot = f.groupby(["source", "day"])["n"].sum() if f is not None else pd.Series(dtype="int64")
    if e.empty:
        return []
    parts = []
    keys = by
    sess = tot.reset_index() if len(tot) else pd.DataFrame(columns=["source", *keys, "n"])
    scope = {"api_error": None, "verify_error": "megvii", "liveness_failure": "megvii",
             "lite_fail_reason": "megvii_lite", "lite_status": "megvii_lite",
             "baidu_latest": REPEATING_SOURCES}      # of the detail (simple) answers that repeat it
    denominators = {}
    for origin, prefix in scope.items():
        m = np.ones(len(sess), bool) if prefix is None else sess["source"].astype("str").str.startswith(prefix).to_numpy()
        denominators[origin] = sess[m].groupby(keys, dropna=False)["n"].sum()
    if not seg:
        # Baidu attempts: a session's retries are not independent trials: its first attempt counts
        a = s.frame("attempts")
        a = a[a["first"].to_numpy() == 1] if a is not None else None
        if a is not None and len(a):
            denominators["baidu_attempt"] = a.groupby("day")["n"].sum()
            errs = a[a["code"].notna().to_numpy() & (a["code"].astype("str") != "0").to_numpy()]
            first_codes = errs.groupby(["code", "day"])["n"].sum()
            first_billed = errs[errs["charged"].fillna(False).astype(bool).to_numpy()].groupby("day")["n"].sum()
        ec = s.frame("error_counts")
        stat = ec.groupby(["api", "day"], dropna=False)["n"].sum() if ec is not None else None
    for (origin, code, detail), g in e.groupby(["origin", "code", "detail"], dropna=False, sort=True):
        if (origin, None) in FETCH_ARTEFACTS or (origin, code) in FETCH_ARTEFACTS:
            continue
        idx = pd.MultiIndex.from_frame(g[keys]) if len(keys) > 1 else pd.Index(g[keys[0]])
        if origin == "baidu_attempt":
            if seg or "baidu_attempt" not in denominators:
                continue
            k_first = first_codes.get(code, pd.Series(dtype="int64"))
            days = k_first.index.to_numpy()
            parts.append(_frame({"family": "error", "origin": origin, "code": code, "detail": None, "seg_key": None,
                                 "seg_value": None}, days, k_first.to_numpy(dtype=np.float64),
                                denominators["baidu_attempt"].reindex(days).fillna(0).to_numpy(dtype=np.float64)))
            continue
        if origin == "baidu_stat":
            if seg or stat is None:
                continue
            n = stat.reindex(pd.MultiIndex.from_arrays([g["detail"].to_numpy(), g["day"].to_numpy()])).to_numpy()
        else:
            d = denominators.get(origin)
            if d is None:
                continue
            n = d.reindex(idx).to_numpy()
        n = np.nan_to_num(np.asarray(n, dtype=np.float64))
        k = g["count"].to_numpy(dtype=np.float64)
        parts.append(_frame({"family": "error", "origin": origin, "code": code,
                             "detail": None if pd.isna(detail) else detail, "seg_key": seg,
                             "seg_value": g[seg].to_numpy() if seg else None}, g["day"], k, np.maximum(n, k)))
    # billed errors: per provider, of its sessions (Megvii) or attempts (Baidu)
    billed = e[e["billed"] > 0]
    for prov, origins, den in (("Megvii", ("verify_error",), denominators.get("verify_error")),
                               ("Baidu", ("baidu_attempt",), None if seg else denominators.get("baidu_attempt"))):
        b = billed[billed["origin"].isin(origins).to_numpy()]
        if den is None or b.empty:
            continue
        bk = first_billed if prov == "Baidu" else b.groupby(keys, dropna=False)["billed"].sum()
        allk = den.index
        k = bk.reindex(allk).fillna(0).to_numpy(dtype=np.float64)
        n = den.to_numpy(dtype=np.float64)
        kf = allk.to_frame(index=False)
        parts.append(_frame({"family": "billed", "source": prov, "seg_key": seg,
                             "seg_value": kf[seg].to_numpy() if seg else None}, kf["day"], k, np.maximum(n, k)))
    return parts


def _threshold_parts(c: pd.DataFrame, since_day: int) -> list[dict[str, np.ndarray]]:
    """Each reference-threshold set's share of the comparisons of its kind and source, per day:
    a new set shows as a step of its share (a stable mixture of sets does not)."""
    c = c.assign(_set=A.threshold_set_labels(c))
    c = c[c["_set"].notna().to_numpy()]
    if c.empty:
        return []
    tot = c.groupby(["source", "comparison", "day"], sort=True)["n"].sum()
    per = c.groupby(["source", "comparison", "_set", "day"], sort=True)["n"].sum()
    # each kind's days and each set's, split once (not three masks over every set's rows per set)
    kinds = {key: t.droplevel([0, 1]) for key, t in tot.groupby(level=[0, 1], sort=False)}
    sets = {key: m.droplevel([0, 1, 2]) for key, m in per.groupby(level=[0, 1, 2], sort=False)}
    parts = []
    for src, comp, label in sets:                       # sorted, as per is
        mine = sets[(src, comp, label)]
        if not (mine.index.to_numpy() >= since_day).any():
            continue                                    # a set seen only before this period
        t = kinds[(src, comp)]
        k = mine.reindex(t.index).fillna(0).to_numpy()
        parts.append(_frame({"family": "thresholds", "source": src, "comparison": comp, "code": label},
                            t.index.to_numpy(), k, t.to_numpy()))
    return parts


def series_frame(s: Summaries, *, last_day: int | None = None) -> pd.DataFrame:
    """Every count series of the review, long: the ``_META`` columns, ``day`` (number), ``k``, ``n``.

    Pooled series cover both periods; per-segment series this period only.  Days from
    ``last_day`` on (a partial last day) are left out."""
    parts: list[dict[str, np.ndarray]] = []
    c = s.frame("comparisons")
    if c is not None:
        parts += _pass_parts(c, "bits", None, None)
        parts += _threshold_parts(c, s.since_day)
    g = s.frame("genuineness")
    if g is not None:
        parts += _flag_parts(g, None)
    parts += _error_parts(s, None)
    sc, sg, ss = s.frame("seg_comparisons"), s.frame("seg_genuineness"), s.frame("seg_sessions")
    events = _combo_events(ss) if ss is not None and s.segments else None
    for seg in s.segments:
        label = seg.label
        if sc is not None:
            m = sc[label].notna().to_numpy()
            if m.any():
                parts += _pass_parts(sc[m], "bits", "has", label)
        if sg is not None:
            m = sg[label].notna().to_numpy()
            if m.any():
                parts += _flag_parts(sg[m], label)
        parts += _error_parts(s, label, events)
    if not parts:
        return pd.DataFrame(columns=[*_META, "day", "k", "n"])
    # A missing value None or NaN groups alike, so they are not made None first (a pass
    # over ten columns: 0.07 s of 0.8).
    f = pd.DataFrame({c_: np.concatenate([part[c_] for part in parts]) for c_ in parts[0]})
    for x in s.segments:                     # name the key as the analyst gave it
        f.loc[f["seg_key"] == x.label, "seg_key"] = x.name
    f = f[f["n"] > 0]
    if last_day is not None:
        f = f[f["day"] < last_day]
    return _per_series_day(f)


def _per_series_day(f: pd.DataFrame) -> pd.DataFrame:
    """``k`` and ``n`` summed per series and day, sorted by the series columns (missing last)
    then the day: ``f.groupby([*_META, "day"], dropna=False, sort=True)[["k", "n"]].sum()
    .reset_index()``, with the ten text columns grouped once, into series numbers, and the
    days summed per number (the series columns then taken from a frame of one row per
    series, grouped the same way: the same values and dtypes).  The review's 178,117
    series days of bench_review_documents.py's data: 0.15-0.20 s grouped on all eleven columns at once,
    0.12-0.15 s so."""
    if not len(f):
        return f.groupby([*_META, "day"], dropna=False, sort=True)[["k", "n"]].sum().reset_index()
    g = f.groupby(_META, dropna=False, sort=True)
    sid = g.ngroup().to_numpy()
    day = f["day"].to_numpy()
    order = np.lexsort((day, sid))                   # stable: a series day's rows in their order
    sid, day = sid[order], day[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = (sid[1:] != sid[:-1]) | (day[1:] != day[:-1])
    starts = np.flatnonzero(first)
    out = g.size().reset_index()[_META].take(sid[starts]).reset_index(drop=True)
    out["day"] = day[starts]
    for c in ("k", "n"):
        out[c] = np.add.reduceat(f[c].to_numpy(dtype=np.float64)[order], starts)
    out.columns = pd.Index([*_META, "day", "k", "n"])       # text labels, as reset_index names them
    return out


# ------------------------------------------------------------------ detection

def _weights(series: pd.DataFrame, levels: dict[str, str], share: float = PRIMARY_SHARE,
             sid: np.ndarray | None = None) -> np.ndarray:
    """Each series' weight in the false-discovery rate: the *primary* series (the pass rates
    at the level in force, pooled and per segment, and every pooled rate) share ``share`` of
    it, the others (pass rates at the other levels, the segments' error and flagged shares:
    what explains a finding more than it makes one) the rest.  A review has a few hundred
    series, three in four of them secondary; spread evenly, a segment's drop at the level in
    force would need about four times the evidence it needs here.

    ``sid``: each row's series, when the caller has numbered them (any numbering)."""
    fam = series["family"].to_numpy(dtype=object)
    lv = series["level"].to_numpy(dtype=object)
    pooled = pd.isna(series["seg_key"]).to_numpy()
    rate = np.isin(fam, ["pass_rate", "configured"])
    in_force = (lv == "configured") | (lv == _level_in_force(series["comparison"].to_numpy(dtype=object), levels))
    primary = np.where(rate, in_force, pooled)
    if sid is None:
        sid = series.groupby(_META, dropna=False, sort=False).ngroup().to_numpy()
    first = np.unique(sid, return_index=True)[1]
    n1 = int(primary[first].sum())
    n2 = len(first) - n1
    if not n1 or not n2:
        return np.ones(len(series))
    return np.where(primary, share / n1, (1 - share) / n2) * len(first)


def _level_in_force(comp: np.ndarray, levels: dict[str, str]) -> np.ndarray:
    """:func:`level_for` of each row's comparison kind, asked once per kind (a review's
    series have a hundred thousand days of a dozen kinds); a missing kind as it is spelled
    in ``comp``."""
    codes, kinds = pd.factorize(comp)
    per = [level_for(levels, c) for c in kinds]
    if (codes < 0).any():
        per.append(level_for(levels, comp[np.argmax(codes < 0)]))      # code -1: the last entry
    return np.asarray(per, dtype=object)[codes]


def _detect(series: pd.DataFrame, freq: str, alpha: float, levels: dict[str, str] | None = None) -> pd.DataFrame:
    f = series
    if freq == "W":
        f = f.assign(day=np.floor_divide(f["day"].to_numpy() + 3, 7) * 7 - 3)
        f = f.groupby([*_META, "day"], dropna=False, sort=True)[["k", "n"]].sum().reset_index()
    f = f.assign(sid=f.groupby(_META, dropna=False, sort=True).ngroup())
    meta = f.drop_duplicates("sid").set_index("sid")[_META].astype(object)
    meta = meta.where(meta.notna(), None)
    counts = pd.DataFrame({"sid": f["sid"].to_numpy(), "day": day_start(f["day"].to_numpy()),
                           "k": f["k"].to_numpy(), "n": f["n"].to_numpy()})
    if levels is not None:
        counts["w"] = _weights(f, levels, sid=f["sid"].to_numpy())
    out = detect_changes(counts, keys=["sid"], time="day", alpha=alpha, weight="w" if levels is not None else None)
    tested, method = out.attrs.get("tested", 0), out.attrs.get("method", "")
    out = out.join(meta, on="sid")
    out["frequency"] = "daily" if freq == "D" else "weekly"
    out.attrs.update(tested=tested, method=method)
    return out


def _partial_last_day(s: Summaries) -> int | None:
    """Day number from which series are cut: after the data's end, and its last day when
    the data stops more than an hour before the day ends."""
    end = s.data_end
    until_day = s.period.until_day
    if end is None:
        return until_day
    day = local_day(end, s.tz)
    partial = end < day_start([day], s.tz)[0] + pd.Timedelta(hours=23)
    return min(until_day, day if partial else day + 1)


def find(s: Summaries, *, levels=None, alpha: float = ALPHA) -> tuple[list[Finding], dict]:
    """Findings of the period, ranked; and what was done (method, series tested, cut days)."""
    levels = parse_levels(levels)
    last = _partial_last_day(s)
    series = series_frame(s, last_day=last)
    since_day = s.since_day
    info = {"tested": 0, "method": "", "last_day": last, "series": series,
            "partial": s.data_end is not None and last is not None and last <= local_day(s.data_end, s.tz)}
    changes = None
    if len(series):
        changes = _detect(series, "D", alpha, levels)      # each series once: daily counts in information time
        info["tested"] = int(changes.attrs.get("tested", 0))
        info["method"] = changes.attrs.get("method", "")
        info["method_args"] = {"m": info["tested"], "alpha": alpha, "primary": PRIMARY_SHARE}   # for its sentence
    findings = findings_of(changes, series, since_day, levels, alpha, labels=segment_labels(s.segments))
    return rank(findings, alpha), info


# ------------------------------------------------------------------ ranking

def evidence_levels(alpha: float = ALPHA) -> list[float]:
    """The evidence tiers, strictest first: ``EVIDENCE_LEVELS`` under ``alpha``, then ``alpha``."""
    return [*sorted(x for x in EVIDENCE_LEVELS if x < alpha), alpha]


def evidence_level(q, alpha: float = ALPHA) -> float:
    """The strictest of :func:`evidence_levels` that the q-value ``q`` passes; ``alpha`` when
    none does (a finding the detector reported passed it)."""
    for lv in evidence_levels(alpha)[:-1]:
        if q is not None and math.isfinite(q) and q <= lv:
            return lv
    return alpha


def affected(f: Finding) -> float:
    """The decisions a finding changed: ``|change|`` times the trials of the changed stretch
    (``n_after``: the comparisons, checks, sessions, attempts or stat calls from the start of
    a step to the end of the data, or within a wave), i.e. how many more (or fewer) were
    rejected, flagged or failed than at the rate before.  For a new threshold set, the
    comparisons judged at the new cut."""
    if f.change_points is None or f.n_after is None or not math.isfinite(f.change_points):
        return 0.0
    return abs(f.change_points) / 100.0 * f.n_after


def rank_key(f: Finding, alpha: float = ALPHA) -> tuple:
    """The sort key of :func:`rank`: evidence tier, then decisions changed (more first), then start."""
    return (evidence_level(f.q_value, alpha), -affected(f), str(f.start))


def rank(findings: list[Finding], alpha: float = ALPHA) -> list[Finding]:
    """The findings in the order an analyst should read them, numbered from 1: evidence first
    (the strictest false-discovery level each passes, :func:`evidence_level`: a finding that
    survives 0.1% before one that survives 1%, before one that passes only ``alpha``), then
    the decisions it changed (:func:`affected`), then the earlier start.  Each finding's
    ``evidence`` and ``affected`` are set to what ranked it."""
    out = sorted(findings, key=lambda f: rank_key(f, alpha))
    for i, f in enumerate(out, 1):
        f.rank = i
        f.evidence = evidence_level(f.q_value, alpha)
        f.affected = round(affected(f), 1)
    return out


def findings_of(changes: pd.DataFrame | None, series: pd.DataFrame, since_day: int, levels: dict[str, str],
                alpha: float = ALPHA, *, labels: dict | None = None) -> list[Finding]:
    """The detector's changes (rows with the series keys) as findings, one per change:
    those that start in this period and are large enough to act on; a pooled change
    that one segment explains named with the segment (:mod:`._confined`).  ``labels``:
    the segment values as shown (:func:`._shown.segment_labels`; default: each decoded)."""
    from . import _text as T

    if changes is None or not len(changes):
        return []
    # change dates are days of the review's calendar (midnights on a UTC grid, see _detect)
    changes = changes[(changes["start"] >= day_start([since_day])[0]).to_numpy()]
    findings: list[Finding] = []
    confined: set[int] = set()          # segment findings the pool's change was confined to
    for _, r in changes.iterrows():
        fam = r["family"]
        eff = abs(float(r["diff"]))
        ratio = _ratio(float(r["rate_before"]), float(r["rate_after"]))
        if fam == "thresholds" and float(r["diff"]) <= 0:
            continue                # the set that took over is the finding; the one it replaced is named
        if not (eff >= MIN_EFFECT[fam] or (fam in MIN_RATIO and ratio >= MIN_RATIO[fam] and eff >= 0.001)
                or (fam == "thresholds" and _new_set(r, series))):
            continue
        if fam == "thresholds":
            findings.append(T.threshold_finding(r, changes))
            continue
        got = confine(r, series, since_day, alpha)
        if got is None:
            findings.append(T.change_finding(r, levels, labels))
            continue
        got, pool_start = dated_by_segment(r, got, changes, series, since_day, alpha)
        f = T.change_finding(pd.Series(got[0]), levels, labels)
        f.also.append(T.confined_tag(**got[1]))
        if pool_start is not None:
            f.also.append(T.pool_dated_tag(pool_start))
        confined.add(id(f))
        findings.append(f)
    out = _collapse(findings, levels, confined, alpha)
    _at_threshold_changes(out)
    return out


# How far before a new threshold set a pass-rate change of its kind may be dated and still be
# read as its consequence, when the change has no date interval: the detector dates a step in a
# small segment a few days off (3-5 days early in the audit); after the set's start, its whole
# era counts.  A change with a 95% interval of its start (``start_high``) may be dated before the
# set when the set starts within a day after that interval ends.
ERA_SLACK_DAYS = 7


def _latest_start(f: Finding) -> pd.Timestamp:
    """The latest day the change ``f`` may have started for an era to hold it: a day after its
    start interval's end, or :data:`ERA_SLACK_DAYS` after its start without one."""
    if f.start_high:
        return max(pd.Timestamp(f.start_high).tz_localize("UTC") + pd.Timedelta(days=1), pd.Timestamp(f.start))
    return pd.Timestamp(f.start) + pd.Timedelta(days=ERA_SLACK_DAYS)


def era_of(f: Finding, new: list[Finding]) -> Finding | None:
    """The new reference-threshold set (a finding of family ``thresholds``) whose era holds the
    pass-rate finding ``f``: same kind and source, ``f`` dated from the set's start (or before it,
    the set starting by :func:`_latest_start`: its start, or the start of its own 95% interval)
    until the set's end (a wave) or the next set of the kind; the latest such set."""
    start, latest = pd.Timestamp(f.start), _latest_start(f)
    mine = sorted((t for t in new if (t.source, t.comparison) == (f.source, f.comparison)),
                  key=lambda t: pd.Timestamp(t.start))
    era = None
    for i, t in enumerate(mine):
        t0 = pd.Timestamp(t.start)
        if t.start_low:
            t0 = min(t0, pd.Timestamp(t.start_low).tz_localize("UTC"))
        ends = [pd.Timestamp(x) for x in (t.end, *(u.start for u in mine[i + 1:])) if x]
        if t0 <= latest and (not ends or start < min(ends)):
            era = t
    return era


def _at_threshold_changes(findings: list[Finding]) -> None:
    """A pass-rate change of a comparison kind and source within the era of a new
    reference-threshold set of the same kind and source (:func:`era_of`) is said to follow it,
    whatever the detector's error in dating either."""
    from . import _text as T

    new = [f for f in findings if f.family == "thresholds"]
    for f in findings:
        if f.family != "pass_rate" or not new:
            continue
        t = era_of(f, new)
        if t is not None:
            T.at_new_thresholds(f, t)


def _new_set(r, series: pd.DataFrame) -> bool:
    """Whether a threshold set's rise (a detector row of family ``thresholds``) is the set's
    first appearance: none of the kind's comparisons had it on any day before the change.
    A new set is a fact, not an effect to weigh: rolled out to 29% of ref1's comparisons it
    fell under the 30% asked of a shifting mix of known sets, and the text said "no change"
    above a table that listed the set, first seen that day.  (The detector still has to
    find the rise: a set seen once is not a change of the kind's thresholds.)"""
    day = local_day(r["start"])
    m = ((series["family"] == "thresholds") & (series["source"] == r["source"])
         & (series["comparison"] == r["comparison"]) & (series["code"] == r["code"])).to_numpy(dtype=bool)
    f = series[m]
    return not bool(((f["day"].to_numpy() < day) & (f["k"].to_numpy() > 0)).any())


def _ratio(a: float, b: float) -> float:
    hi, lo = max(a, b), min(a, b)
    return hi / lo if lo > 0 else (math.inf if hi > 0 else 1.0)


def _same(a: Finding, b: Finding) -> bool:
    """The same change seen twice: same family, series (level aside) and segment, dates overlapping."""
    if a.family != b.family:
        return False
    if (a.source, a.comparison, a.attack, a.code) != (b.source, b.comparison, b.attack, b.code):
        return False
    if np.sign(a.change_points or 0) != np.sign(b.change_points or 0):
        return False
    return same_dates(a.start, a.end, b.start, b.end)


def _collapse(findings: list[Finding], levels: dict[str, str], confined: set[int] = frozenset(),
              alpha: float = ALPHA) -> list[Finding]:
    """One finding per change.  Of the same change at several levels, daily and weekly, the
    level in force (else a change named with its segment, else the first by :func:`rank_key`) leads
    and names the others.  A change the pool shows
    is the pool's, naming the segments that moved with it, unless it is confined to one
    segment (``confined``: ids of such findings, :mod:`._confined`), which then leads and
    names the pool.  A segment's change the pool does not show is a finding of its own."""
    from . import _text as T

    def merge(home: Finding, f: Finding) -> None:
        tag = T.also_tag(f)
        if tag and tag not in home.also and tag != T.also_tag(home):
            home.also.append(tag)

    def lead(f: Finding) -> tuple:
        in_force = f.level is not None and f.level == level_for(levels, f.comparison)
        # a change named with its segment (:mod:`._confined`) leads its segment's group: it carries
        # the pool's evidence and says what the pool and the rest did
        return (not in_force, f.frequency != "daily", id(f) not in confined, *rank_key(f, alpha))

    # 1. within one segment (or the pool): levels and frequencies
    groups: list[list[Finding]] = []
    for f in sorted(findings, key=lead):
        g = next((g for g in groups if g[0].segment == f.segment and _same(g[0], f)), None)
        if g is None:
            groups.append([f])
        else:
            g.append(f)
    heads, named = [], []
    for g in groups:
        head = g[0]
        for f in g[1:]:
            merge(head, f)
        heads.append(head)
        if any(id(f) in confined for f in g):
            named.append(head)
    # 2. segment against pool: a pooled change confined to a segment is that segment's
    pools = [h for h in heads if h.segment is None]
    home = {id(p): next((s for s in named if _same(s, p)), p) for p in pools}
    out = [p for p in pools if home[id(p)] is p] + named
    for p in pools:
        if home[id(p)] is not p:
            merge(home[id(p)], p)
    named_ids = {id(s) for s in named}
    for f in (h for h in heads if h.segment is not None and id(h) not in named_ids):
        p = next((p for p in [*pools, *named] if _same(p, f) and p.level == f.level), None)
        if p is None:
            out.append(f)
        else:
            merge(home.get(id(p), p), f)
    return out
