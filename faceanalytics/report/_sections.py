"""The report's sections as plain data: dicts and lists of text and numbers, figures as data URIs.

Each builder reads the :class:`~faceanalytics.report._summary.Summaries` (and the findings)
and returns ``{"id", "heading", "lead", "blocks"}``; a block is a paragraph, a table
(header, rows of cells, which columns are numeric or wrap), a figure or a group of
figures.  A cell is text, or a dict: ``text`` plus optional ``cls``, ``value`` (the exact
number, as ``data-value``), ``ci``, ``n``, ``sub`` (a second line), ``prev`` (the
previous period) and ``title``.  No markup is made here: the template does it, escaping
everything.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from ..analytics._core import MIN_N
from ..analytics._stats import newcombe_diff_ci, proportion_ci
from ..schema import LEVEL_COLUMNS, LEVELS
from . import _text as T
from ._figures import draw_change, draw_rate_series, figure
from ._findings import level_for
from ._period import ONE_DAY
from ._segments import describe

__all__ = ["build_sections"]

_STRICTER = dict(zip(LEVELS[:-1], LEVELS[1:]))
MATERIAL_CHANGE = 0.02          # the decision table's rule (as notebook 02 had it)
PSI_ACT = 0.25
FIGURES_OF_CHANGES = 8


# ------------------------------------------------------------------ cells

def p(text, cls=None) -> dict:
    return {"type": "p", "text": text, "cls": cls}


def table(header, rows, *, numeric=(), wrap=(), cls=None, empty="nothing to show", id=None) -> dict:
    if not rows:
        return p(empty, "empty")
    return {"type": "table", "header": list(header), "rows": rows, "numeric": set(numeric), "wrap": set(wrap),
            "cls": cls, "id": id}


def muted(text) -> dict:
    return {"text": text, "cls": "muted"}


def _int(x) -> int:
    return 0 if x is None or x is pd.NA or (isinstance(x, float) and np.isnan(x)) else int(x)


def rate(k, n, lo=None, hi=None, *, prev: str | None = None, stacked: bool = False) -> dict:
    """A rate as the reader should see it: with its interval, or as a count when n is small."""
    k, n = _int(k), _int(n)
    if n == 0:
        return {"text": T.T.none, "cls": "muted", "prev": prev}
    if n < MIN_N:
        return {"text": f"{k:,} of {n:,}", "cls": "count", "title": T.T.count_not_rate.format(min_n=MIN_N),
                "prev": prev}
    if lo is None or hi is None:
        lo, hi = (float(v) for v in proportion_ci(k, n))
    return {"text": T.pct(k / n), "value": f"{k / n:.10g}", "ci": f"[{T.pct(lo)}–{T.pct(hi)}]", "n": f"n={n:,}",
            "prev": prev, "stacked": stacked}


def change(d, lo, hi, significant, low_n, *, mark: bool = True) -> dict:
    """A change in points with its interval; ``mark``: in colour when the interval excludes 0."""
    if low_n or d is None or not np.isfinite(float(d)):
        return muted(T.T.too_few)
    return {"text": f"{T.points(d)} pts", "cls": "sig" if significant and mark else None,
            "ci": f"[{T.points(lo)}, {T.points(hi)}]"}


def diff_cell(k1, n1, k2, n2, *, mark: bool = True) -> dict:
    """Change of a pooled rate k1/n1 -> k2/n2 in points with Newcombe's interval."""
    k1, n1, k2, n2 = (_int(x) for x in (k1, n1, k2, n2))
    if n1 == 0 and n2 == 0:
        return muted("–")
    if n1 == 0 or n2 == 0:
        return muted(T.T.too_few)
    dd, lo, hi = (float(x) for x in newcombe_diff_ci(k1, n1, k2, n2))
    return change(dd, lo, hi, lo > 0 or hi < 0, n1 < MIN_N or n2 < MIN_N, mark=mark)


def count_change(cur: int, prev: int) -> dict | str:
    """Volumes change as a relative share (counts are not rates)."""
    if prev == 0:
        return muted("new" if cur else "–")
    return f"{(cur - prev) / prev * 100:+.0f}%"


def _plots():
    from .. import plots

    return plots


def _comparison_order(names) -> list[str]:
    names = sorted(set(names))
    head = [c for c in ("faceid", "idcard_datasource", "idcard_photo") if c in names]
    refs = sorted((c for c in names if c.startswith("ref")), key=lambda c: (len(c), c))
    return head + refs + [c for c in names if c not in head and c not in refs]


# ------------------------------------------------------------------ sections

class _Builder:
    def __init__(self, review):
        self.r = review
        self.s = review.summaries
        self.period = review.period
        self.levels = review.levels

    # headline -----------------------------------------------------------------------
    def sessions(self, side) -> tuple[int, dict[str, int]]:
        """Sessions this period (or the previous one), total and per provider: a Baidu token
        fetched by several result APIs, or a Megvii biz_id also received as a callback, once."""
        counts = self.s.session_counts(side)
        distinct = self.s.frame("distinct")
        sd = 1 if side == "current" else 0
        split = {label: int(sum(int(counts.get(x, 0)) for x in srcs)) for label, srcs in (
            ("Megvii Lite", ["megvii_lite"]), ("Megvii liveness", ["megvii_liveness"]),
            ("Megvii callbacks", ["megvii_notify"]),
            ("Baidu", [x for x in counts.index if str(x).startswith("baidu")]))}
        total = {"Megvii": split["Megvii Lite"] + split["Megvii liveness"] + split["Megvii callbacks"],
                 "Baidu": split["Baidu"]}
        if distinct is not None:
            for g in ("Megvii", "Baidu"):
                d = distinct[(distinct["group"] == g) & (distinct["side"] == sd)]
                if len(d) or (distinct["group"] == g).any():
                    total[g] = int(d["n"].sum())
            if (distinct["group"] == "Baidu").any():
                split["Baidu"] = total["Baidu"]
        return sum(total.values()), {k: v for k, v in split.items() if v}

    def headline(self) -> dict:
        s, lv = self.s, level_for(self.levels, "faceid")
        n_cur, split = self.sessions("current")
        n_prev, _ = self.sessions("previous")
        rows = [["Sessions", {"text": f"{n_cur:,}", "sub": ", ".join(f"{k} {v:,}" for k, v in split.items())},
                 f"{n_prev:,}", count_change(n_cur, n_prev)]]
        c_cur = s.frame("comparisons")
        ncomp = int(s._side(c_cur, "current")["n"].sum()) if s._side(c_cur, "current") is not None else 0
        ncomp_p = int(s._side(c_cur, "previous")["n"].sum()) if s._side(c_cur, "previous") is not None else 0
        rows.append(["Comparisons", f"{ncomp:,}", f"{ncomp_p:,}", count_change(ncomp, ncomp_p)])
        rc = s.pass_rates("current", by="comparison")
        rp = s.pass_rates("previous", by="comparison")
        dr = s.pass_rate_drift(by="comparison")
        for comp in _comparison_order(rc["comparison"].dropna()):
            lvc = level_for(self.levels, comp)
            a = rc[(rc["comparison"] == comp) & (rc["level"] == lvc)]
            if a.empty:
                continue
            a = a.iloc[0]
            b = rp[(rp["comparison"] == comp) & (rp["level"] == lvc)]
            b = b.iloc[0] if len(b) else None
            d = dr[(dr["comparison"] == comp) & (dr["level"] == lvc)].iloc[0]
            rows.append([f"{comp} pass rate at {lvc}" + (" (level in force)" if comp == "faceid" else ""),
                         rate(a["passed"], a["n"], a["ci_low"], a["ci_high"]),
                         rate(b["passed"], b["n"], b["ci_low"], b["ci_high"]) if b is not None else muted(T.T.none),
                         change(d["change"], d["change_low"], d["change_high"], d["significant"], d["low_n"],
                                mark=False)])
        bc, bp = s.configured_pass_rates("current"), s.configured_pass_rates("previous")
        if len(bc) or len(bp):
            kc, ncc = int(bc["passed"].sum()), int(bc["n"].sum())
            kp, ncp = int(bp["passed"].sum()), int(bp["n"].sum())
            rows.append(["Baidu pass rate at its configured threshold", rate(kc, ncc), rate(kp, ncp),
                         diff_cell(kp, ncp, kc, ncc, mark=False)])
        gc = s.genuineness_rates("current", by="source")
        gp = s.genuineness_rates("previous", by="source")
        for attack in sorted(set(gc["attack"]) | set(gp["attack"])):
            a, b = gc[gc["attack"] == attack], gp[gp["attack"] == attack]
            ka, na, kb, nb = int(a["flagged"].sum()), int(a["n"].sum()), int(b["flagged"].sum()), int(b["n"].sum())
            if na == 0 and nb == 0:
                continue
            rows.append([f"Anti-spoofing: {attack} flagged", rate(ka, na), rate(kb, nb),
                         diff_cell(kb, nb, ka, na, mark=False)])
        ec, ep = s.error_codes("current"), s.error_codes("previous")
        bc_, bp_ = int(ec["billed"].sum()) if len(ec) else 0, int(ep["billed"].sum()) if len(ep) else 0
        rows.append([{"text": "Billed errors", "sub": "the provider charges for them"}, f"{bc_:,}", f"{bp_:,}",
                     count_change(bc_, bp_)])
        qc = int(s.quarantine("current")["records"].sum()) if len(s.quarantine("current")) else 0
        qp = int(s.quarantine("previous")["records"].sum()) if len(s.quarantine("previous")) else 0
        rows.append([{"text": "Quarantined records", "sub": "could not be read"}, f"{qc:,}", f"{qp:,}",
                     count_change(qc, qp)])
        blocks = [self.findings_box(),
                  table(["", "this period", "previous period", "change"], rows, numeric=(1, 2, 3), wrap=(0,),
                        cls="headline"),
                  p(f"Rates: share with 95% interval and n; fewer than {MIN_N} shown as a count. Changes of rates in "
                    "percentage points with Newcombe's 95% interval, row by row; which changes hold up, tested with "
                    "every rate and segment accounted for, is in the box above. Changes of volumes in per cent. "
                    f"Level in force: {self._levels_text()}.", "note")]
        return self._section("headline", blocks)

    def _levels_text(self) -> str:
        extra = [f"{k} at {v}" for k, v in self.levels.items() if k != "*"]
        base = f"{self.levels['*']}" + (" (not given: --level 1e-4 assumed)" if not self.r.level_given else "")
        return base + (f"; {', '.join(extra)}" if extra else "")

    def findings_box(self) -> dict:
        f = self.r.findings
        info = self.r.info
        items = [{"rank": x.rank, "title": x.title, "text": x.text, "decision": x.decision,
                  "section": x.section, "figure": x.figure, "also": ", ".join(x.also)} for x in f[:8]]
        if f:
            empty = None
        elif info.get("tested"):
            empty = T.T.nothing.format(tested=info["tested"], alpha=self.r.alpha)
        else:
            empty = T.T.nothing_untested
        return {"type": "findings", "heading": T.T.look_first, "items": items, "empty": empty,
                "more": T.T.more.format(n=len(f) - 8) if len(f) > 8 else None,
                "quality": self.r.quality_note}

    # changes ------------------------------------------------------------------------
    def changes(self) -> dict:
        findings = [x for x in self.r.findings]
        series = self.r.info.get("series")
        blocks = []
        if not findings:
            blocks.append(p("No significant change in this period (see How this report counts for the method).",
                            "empty"))
            return self._section("changes", blocks)
        figs = []
        for f in findings[:FIGURES_OF_CHANGES]:
            if f.family == "thresholds" or series is None:
                continue
            fig = self._change_figure(f, series)
            if fig is not None:
                figs.append(fig)
        if figs:
            blocks.append({"type": "grid", "figures": figs})
        rows = []
        for f in findings:
            rows.append([f.rank, {"text": f.title, "sub": f.decision}, f.kind,
                         f"{pd.Timestamp(f.start):%Y-%m-%d}" + (f" to {pd.Timestamp(f.end) - ONE_DAY:%Y-%m-%d}"
                                                                if f.kind == "wave" and f.end else " on"),
                         f"{T.pct(f.rate_before)} → {T.pct(f.rate_after)}",
                         {"text": f"{f.change_points:+.1f} pts", "ci": f"[{f.ci_low_points:+.1f}, {f.ci_high_points:+.1f}]"},
                         f"{f.n_after:,}" if f.n_after is not None else "",
                         _qvalue(f.q_value), ", ".join(f.also)])
        blocks.append(table(["#", "what", "kind", "when", "rate", "change (95% CI)", "n in the change",
                             "q-value", "also seen"], rows, numeric=(0, 4, 5, 6, 7), wrap=(1, 8), cls="changes"))
        return self._section("changes", blocks)

    def _change_figure(self, f, series: pd.DataFrame) -> dict | None:
        m = series["family"] == f.family
        for col, val in (("source", f.source), ("comparison", f.comparison), ("level", f.level),
                         ("attack", f.attack), ("code", f.code)):
            m &= (series[col] == val) if val is not None else series[col].isna()
        pool = series[m & series["seg_key"].isna()]
        if f.segment:
            mine = series[m & (series["seg_key"] == f.segment["key"]) & (series["seg_value"] == f.segment["value"])]
        else:
            mine, pool = pool, None
        if mine.empty:
            return None
        mine = mine.assign(day=pd.DatetimeIndex(_days(mine["day"])))
        if pool is not None:
            pool = pool.assign(day=pd.DatetimeIndex(_days(pool["day"])))
            pool = pool[pool["day"] >= mine["day"].min()]
        fid = f"fig-change-{f.rank}"
        f.figure = f"#{fid}"
        start = pd.Timestamp(f.start)
        end = pd.Timestamp(f.end) if f.kind == "wave" and f.end else None
        unit = {"flagged": "flagged", "error": "of sessions", "billed": "billed"}.get(f.family, "pass rate")
        return figure(lambda ax: draw_change(ax, mine, pool=pool, start=start, end=end, since=self.period.since,
                                             title=f"{f.rank}. {f.title}", ylabel=unit),
                      size=(5.6, 2.9), alt=f"daily rate: {f.title}", id=fid)

    # segments -----------------------------------------------------------------------
    def segments(self) -> dict:
        s = self.s
        if not s.segments:
            return self._section("segments", [p("No segment key: none was asked for (--segment KEY) and the sessions "
                                                "carry no key with 2 to 20 values in at least 1% of them.", "empty")])
        how = "as asked (--segment)" if self.r.segments_asked else "chosen from the data (2 to 20 values, present in " \
            "at least 1% of sessions)"
        blocks = [p(f"Segment keys {how}: " + ", ".join(describe(x) for x in s.segments) + ". Values outside the "
                    "listed ones count as “(other)”. Per-segment series cover this period (the changes section "
                    "tests them).")]
        sc = s.frame("seg_comparisons")
        if sc is None:
            blocks.append(p("No comparison in this period.", "empty"))
            return self._section("segments", blocks)
        sc = sc[(sc["comparison"] == "faceid").to_numpy()]
        lv = level_for(self.levels, "faceid")
        i = LEVELS.index(lv)
        for seg in s.segments:
            g = sc[sc[seg.label].notna().to_numpy()]
            if g.empty:
                continue
            has = (g["has"].to_numpy() & (1 << i)) > 0
            ok = (g["bits"].to_numpy() & (1 << i)) > 0
            day = g["day"].to_numpy()
            half = s.since_day + (int(self.period.length / ONE_DAY) // 2)
            rows = []
            tab = pd.DataFrame({"v": g[seg.label].to_numpy(), "n": np.where(has, g["n"], 0),
                                "k": np.where(has & ok, g["n"], 0), "first": day < half})
            for v, t in tab.groupby("v", sort=True):
                n, k = int(t["n"].sum()), int(t["k"].sum())
                n1, k1 = int(t.loc[t["first"], "n"].sum()), int(t.loc[t["first"], "k"].sum())
                n2, k2 = n - n1, k - k1
                rows.append([v, rate(k, n), rate(k1, n1), rate(k2, n2), diff_cell(k1, n1, k2, n2)])
            blocks.append(p(f"{seg.name}: faceid pass rate at {lv}, this period and its two halves", "subhead"))
            blocks.append(table([seg.name, "this period", "first half", "second half", "change"], rows,
                                numeric=(1, 2, 3, 4)))
        return self._section("segments", blocks)

    # funnel -------------------------------------------------------------------------
    def funnel(self) -> dict:
        fc = self.s.status_funnel("current")
        if int(fc["count"].sum()) == 0:
            return self._section("funnel", [p("No Megvii Lite session in this period.", "empty")])
        fp = self.s.status_funnel("previous").set_index(["status", "stage"])
        rows = []
        for _, r in fc.iterrows():
            key = (r["status"], r["stage"])
            pr = fp.loc[key] if key in fp.index else None
            rows.append([r["status"], r["stage"], f"{int(r['count']):,}", T.pct(r["share"]),
                         f"{int(pr['count']):,}" if pr is not None else "0",
                         T.pct(pr["share"]) if pr is not None else "n/a"])
        fig = figure(lambda ax: _plots().plot_status_funnel(fc, ax=ax), size=(7.0, 2.9),
                     alt="Megvii Lite sessions by status", id="fig-funnel")
        blocks = [fig]
        pend = int(fc.loc[fc["stage"] == "pending", "count"].sum())
        if pend:
            blocks.append(p(f"{pend:,} session(s) still pending when fetched: fetch them again later "
                            "(faceanalytics fetch … --refresh-pending, within the three-call quota); they are left "
                            "out of the changes."))
        blocks.append(table(["status", "stage", "sessions", "share", "previous", "share"], rows,
                            numeric=(2, 3, 4, 5)))
        return self._section("funnel", blocks)

    # pass rates ---------------------------------------------------------------------
    def pass_rate_section(self) -> dict:
        s = self.s
        by = ["source", "comparison"]
        cur = s.pass_rates("current", by)
        if cur.empty and s.configured_pass_rates("current").empty:
            return self._section("pass-rates", [p("No comparison in this period.", "empty")])
        prev = s.pass_rates("previous", by).set_index([*by, "level"])
        cur_i = cur.set_index([*by, "level"])
        rows = []
        for comp in _comparison_order(cur["comparison"].dropna()):
            for src in sorted(cur.loc[cur["comparison"] == comp, "source"].unique()):
                cells = []
                for lv in LEVELS:
                    key = (src, comp, lv)
                    if key not in cur_i.index:
                        cells.append(muted("–"))
                        continue
                    r = cur_i.loc[key]
                    pr = prev.loc[key] if key in prev.index else None
                    before = "before: none" if pr is None else (
                        f"before: {int(pr['passed']):,} of {int(pr['n']):,}" if pr["low_n"] else
                        f"before: {T.pct(pr['pass_rate'])}")
                    c = rate(r["passed"], r["n"], r["ci_low"], r["ci_high"], prev=before, stacked=True)
                    if lv == level_for(self.levels, comp):
                        c["cls"] = ((c.get("cls") or "") + " inforce").strip()
                    cells.append(c)
                rows.append([comp, src, *cells])
        blocks = [table(["comparison", "source", *LEVELS], rows, numeric=(2, 3, 4, 5), cls="rates",
                        empty="No comparison with Megvii reference thresholds in this period.")]
        conf = s.configured_pass_rates("current", by)
        if len(conf):
            confp = s.configured_pass_rates("previous", by).set_index([*by, "threshold"])
            brows = []
            for _, r in conf.iterrows():
                key = (r["source"], r["comparison"], r["threshold"])
                pr = confp.loc[key] if key in confp.index else None
                before = "before: none" if pr is None else f"before: {T.pct(pr['pass_rate'])}"
                brows.append([r["comparison"], r["source"], f"{r['threshold']:g}",
                              rate(r["passed"], r["n"], r["ci_low"], r["ci_high"], prev=before, stacked=True)])
            blocks.append(p("Baidu: pass rate at the threshold configured in the plan (an attempt without a score is "
                            "a rejection).", "subhead"))
            blocks.append(table(["comparison", "source", "configured threshold", "pass rate"], brows,
                                numeric=(2, 3), cls="rates"))
        length = self.period.length
        freq = "D" if length <= pd.Timedelta(days=14) else "W" if length <= pd.Timedelta(days=190) else "M"
        unit = {"D": "day", "W": "week", "M": "month"}[freq]
        trend = s.pass_rates("both", by="comparison", freq=freq)
        trend = trend[trend["comparison"] == "faceid"].drop(columns="comparison")
        if trend.empty or trend["low_n"].all():
            blocks.append(p(f"Too few faceid comparisons per {unit} for a trend.", "empty"))
        else:
            since = self.period.since

            def draw(ax):
                _plots().plot_pass_rates(trend, ax=ax)
                ax.axvline(since.tz_convert("UTC").tz_localize(None), color="#555555", linestyle=":", linewidth=1)
                ax.set_title(f"faceid pass rate per {unit} at each row's own threshold, both periods (95% CI; "
                             "dotted: this period starts)")
                ax.legend(title="level", fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))

            blocks.append(figure(draw, size=(9.5, 3.4), alt="faceid pass rate over time", id="fig-pass-trend"))
        return self._section("pass-rates", blocks)

    # confidence ---------------------------------------------------------------------
    def confidence(self) -> dict:
        h = self.s.figure_histogram("current")
        if h.empty:
            return self._section("confidence", [p("No comparison in this period.", "empty")])
        figs = []
        for comp in _comparison_order(h["comparison"].dropna()):
            sub = h[h["comparison"] == comp]
            if sub["confidence"].notna().sum() == 0:
                continue
            srcs = ", ".join(sorted(sub["source"].unique()))
            n = int(sub["count"].sum())

            def draw(ax, sub=sub, comp=comp, srcs=srcs, n=n):
                _plots().plot_confidence_thresholds(sub, ax=ax)
                ax.set_title(f"{comp} ({srcs}): n={n:,}")
                ax.legend(loc="upper left", bbox_to_anchor=(0.0, -0.2), fontsize=7, frameon=False)

            figs.append(figure(draw, size=(5.0, 3.9), alt=f"confidence of {comp} against thresholds",
                               id=f"fig-confidence-{comp}"))
        if not figs:
            return self._section("confidence", [p("No scored comparison in this period.", "empty")])
        return self._section("confidence", [{"type": "grid", "figures": figs}])

    # would-flip ---------------------------------------------------------------------
    def would_flip(self) -> dict:
        rows = []
        cur = self.s.pass_rates("current", "comparison")
        for comp in _comparison_order(cur["comparison"].dropna()):
            for frm, to in _STRICTER.items():
                w = self.s.would_flip(frm, to, by="comparison")
                w = w[w["comparison"] == comp]
                if w.empty:
                    continue
                r = w.iloc[0]
                n = int(r["n"])
                inforce = frm == level_for(self.levels, comp)
                rows.append([comp, {"text": f"{frm} → {to}", "cls": "inforce" if inforce else None}, f"{n:,}",
                             rate(r["passed_from"], n), rate(r["passed_to"], n), f"{int(r['to_reject']):,}",
                             f"{int(r['to_pass']):,}"])
        if rows and not any(r[6] != "0" for r in rows):
            rows = [r[:6] for r in rows]
            header = ["comparison", "cut moves", "comparisons", "pass before", "pass after", "newly rejected"]
        else:
            header = ["comparison", "cut moves", "comparisons", "pass before", "pass after", "newly rejected",
                      "newly accepted"]
        return self._section("would-flip", [table(header, rows, numeric=tuple(range(2, len(header))),
                                                  empty="No comparison with reference thresholds in this period."),
                                            p("A Megvii session has one comparison of each kind, so the comparisons "
                                              "that flip are also the sessions.", "note")])

    # anti-spoofing ------------------------------------------------------------------
    def anti_spoofing(self) -> dict:
        s = self.s
        r = s.genuineness_rates("current", by="source")
        if r.empty:
            return self._section("anti-spoofing", [p("No anti-spoofing check in this period.", "empty")])
        rp = s.genuineness_rates("previous", by="source").set_index(["source", "attack"])
        near = s.genuineness_near("current", by="source").set_index(["source", "attack"])
        rows = []
        for _, x in r.iterrows():
            key = (x["source"], x["attack"])
            pr = rp.loc[key] if key in rp.index else None
            nr = near.loc[key] if key in near.index else None
            thr = "–" if nr is None or not np.isfinite(nr["threshold"]) else (
                f"{nr['threshold']:g}" if nr["n_thresholds"] <= 1 else
                f"{nr['threshold']:g} ({nr['threshold_min']:g}–{nr['threshold_max']:g})")
            rows.append([x["attack"], x["source"], thr,
                         rate(x["flagged"], x["n"], x["ci_low"], x["ci_high"]) if x["n"] else
                         muted(f"{int(x['n_no_threshold']):,} scores, no threshold"),
                         rate(pr["flagged"], pr["n"], pr["ci_low"], pr["ci_high"]) if pr is not None and pr["n"]
                         else muted(T.T.none),
                         diff_cell(pr["flagged"], pr["n"], x["flagged"], x["n"]) if pr is not None
                         else muted("none before"),
                         f"{int(nr['just_under']):,}" if nr is not None else "0"])
        blocks = []
        daily = s.genuineness_rates("both", freq="D")
        daily = daily[daily["n"] > 0]
        if len(daily) and not (daily["n"] < MIN_N).all():
            since = self.period.since
            blocks.append(figure(lambda ax: draw_rate_series(
                ax, daily, "attack", rate="flagged_rate", since=since,
                title="Share of checks flagged per attack type, per day (95% CI; days with n<30 left out)"),
                size=(9.5, 3.4), alt="flagged share per attack type per day", id="fig-attacks"))
        blocks.append(table(["attack", "source", "threshold", "flagged this period", "previous period", "change",
                             "just under (0.05)"], rows, numeric=(3, 4, 5, 6)))
        blocks.append(p("Each attack type on its own: a wave of one type is not diluted by the others. Threshold: "
                        "the most common (range when it varies). Just under: checks within 0.05 below their "
                        "threshold, not flagged but close.", "note"))
        return self._section("anti-spoofing", blocks)

    # errors -------------------------------------------------------------------------
    def errors(self) -> dict:
        e = self.s.error_codes("current")
        if e.empty:
            return self._section("errors", [p("No error in this period.", "empty")])
        ep = self.s.error_codes("previous")
        prev = ep.set_index(["origin", "code", "detail"])["count"] if len(ep) else pd.Series(dtype="int64")
        total, billed = int(e["count"].sum()), int(e["billed"].sum())
        unknown = int(e["billing_unknown"].sum())
        top = e.head(20)
        rows = []
        for _, r in top.iterrows():
            key = (r["origin"], r["code"], r["detail"])
            pv = int(prev.get(key, 0)) if len(prev) else 0
            code = r["code"] if pd.isna(r["detail"]) else f"{r['code']} · {r['detail']}"
            rows.append([code, T.ORIGIN.get(r["origin"], r["origin"]), "" if pd.isna(r["message"]) else r["message"],
                         f"{int(r['count']):,}", T.pct(r["share"]), T.pct(r["cumulative_share"]), _billing(r),
                         f"{pv:,}"])
        k = min(3, len(e))
        head = p(f"{total:,} errors in {len(e):,} codes; {billed:,} billed by the provider"
                 + (f" ({unknown:,} are of a kind whose billing the documents do not state)" if unknown else "")
                 + f". The top {k} code(s) make {T.pct(e['cumulative_share'].iloc[k - 1])} of all errors.")
        fig = figure(lambda ax: _plots().plot_error_codes(e, top=12, ax=ax), size=(9.0, 4.4),
                     alt="errors by code, Pareto", id="fig-errors")
        from .._fonts import cjk_font, has_cjk

        blocks = [head, fig]
        if cjk_font() is None and any(has_cjk(m) for m in top["message"].dropna()):
            blocks.append(p("No Chinese font is installed where this report was made, so the figure shows codes "
                            "only; the table has the messages (install fonts-noto-cjk to see them in the figure).",
                            "muted"))
        blocks.append(table(["code", "where", "message", "count", "share", "cumulative", "billing",
                             "previous period"], rows, numeric=(3, 4, 5, 7), wrap=(2,), cls="errors"))
        if len(e) > len(top):
            blocks.append(p(f"{len(e) - len(top):,} more code(s) not listed.", "muted"))
        return self._section("errors", blocks)

    # drift --------------------------------------------------------------------------
    def drift(self) -> dict:
        s = self.s
        d = s.pass_rate_drift(by="comparison")
        blocks = []
        if d.empty or (d["n_baseline"] == 0).all() or (d["n_current"] == 0).all():
            blocks.append(p("No baseline to compare with: " + (
                "the previous period has no comparison." if d.empty or (d["n_baseline"] == 0).all()
                else "this period has no comparison."), "empty"))
        else:
            order = {k: i for i, k in enumerate(_comparison_order(d["comparison"].dropna()))}
            d = d.assign(_o=d["comparison"].map(order)).sort_values("_o", kind="stable")
            rows = []
            for _, r in d.iterrows():
                rc = r["rejection_change"]
                rows.append([r["comparison"], r["level"],
                             rate(round(r["pass_rate_baseline"] * r["n_baseline"]) if r["n_baseline"] else 0,
                                  r["n_baseline"]),
                             rate(round(r["pass_rate_current"] * r["n_current"]) if r["n_current"] else 0,
                                  r["n_current"]),
                             change(r["change"], r["change_low"], r["change_high"], r["significant"], r["low_n"]),
                             "" if r["low_n"] or not np.isfinite(rc) else f"{rc * 100:+.0f}%"])
            blocks.append(table(["comparison", "level", "previous period", "this period", "change (95% CI)",
                                 "rejections, relative change"], rows, numeric=(2, 3, 4, 5)))
            blocks.append(p("Intervals row by row, in colour when one excludes zero: with many rows a few do so by "
                            "chance (about one in twenty); the changes that hold up over all rates and segments "
                            "are in Look at first.", "note"))
            f = d[d["comparison"] == "faceid"].drop(columns=["comparison", "_o"])
            dd = s.distribution_drift(by="comparison")
            ddf = dd[dd["comparison"] == "faceid"].drop(columns="comparison")
            if len(f) and (f["n_baseline"] >= MIN_N).any() and (f["n_current"] >= MIN_N).any():
                blocks.append(figure(lambda ax: _plots().plot_drift(f, ddf, ax=ax), size=(8.0, 3.6),
                                     alt="faceid pass-rate change per level", id="fig-drift"))
        dd = s.distribution_drift(by="comparison")
        rows = [[f"confidence, {r['comparison']}", f"{int(r['n_baseline']):,}", f"{int(r['n_current']):,}",
                 _num(r["psi"]), _flag(r["psi_flag"]), _num(r["ks"]), _pvalue(r["ks_pvalue"])]
                for _, r in dd.iterrows() if r["n_baseline"] and r["n_current"]]
        if rows:
            blocks.append(p("Second-line evidence: population stability index (baseline deciles; 0.10 watch, 0.25 "
                            "act) and the two-sample Kolmogorov-Smirnov statistic, on confidence in 0.1-point bins."))
            blocks.append(table(["variable", "n previous", "n this period", "PSI", "flag", "KS", "KS p-value"], rows,
                                numeric=(1, 2, 3, 5, 6)))
        return self._section("drift", blocks)

    # thresholds ---------------------------------------------------------------------
    def thresholds(self) -> dict:
        s = self.s
        cur, prev = s.threshold_sets("current"), s.threshold_sets("previous")
        if cur.empty and prev.empty:
            return self._section("thresholds", [p("No comparison with reference thresholds in either period.",
                                                  "empty")])
        keys = ["source", "comparison", "threshold_set"]
        allsets = pd.concat([cur.assign(_side="cur"), prev.assign(_side="prev")], ignore_index=True)
        rows = []
        for (src, comp, ts), g in allsets.groupby(keys, sort=True):
            c, pv = g[g["_side"] == "cur"], g[g["_side"] == "prev"]
            n_c, n_p = int(c["n"].sum()), int(pv["n"].sum())
            rows.append([comp, src, ts, f"{n_p:,}", f"{n_c:,}", T.pct(c["share"].iloc[0]) if len(c) else "–",
                         f"{g['first_seen'].min():%Y-%m-%d}", f"{g['last_seen'].max():%Y-%m-%d}"])
        changes = [f for f in self.r.findings if f.family == "thresholds"]
        if changes:
            lead = (f"{len(changes)} change(s) of reference thresholds in this period, per comparison kind and source "
                    "(each also in the box above): " + " ".join(f.text for f in changes)
                    + " Compare pass rates within one era.")
        else:
            lead = ("No comparison kind changed its reference thresholds in this period: the share of each set per "
                    "kind and source held (sets seen together at a steady mix are concurrent, not a change).")
        blocks = [p(lead), table(["comparison", "source", "set: 1e-3/1e-4/1e-5/1e-6", "previous period",
                                  "this period", "share this period", "first seen", "last seen"], rows,
                                 numeric=(3, 4, 5))]
        return self._section("thresholds", blocks)

    # labels -------------------------------------------------------------------------
    def labels(self) -> dict:
        lab = self.r.labels_table
        if lab is None:
            return self._section("labels", [p("No labels given: pass --labels FILE (columns session_id, genuine; CSV "
                                              "or Parquet) to measure false-accept and false-reject rates.",
                                              "empty")])
        if lab.empty:
            return self._section("labels", [p("None of the labelled sessions has a comparison in this period.",
                                              "empty")])
        rows = []
        for _, r in lab.iterrows():
            rows.append([r["comparison"], {"text": r["level"], "cls": "inforce"
                                           if r["level"] == level_for(self.levels, r["comparison"]) else None},
                         rate(r["false_accepts"], r["n_impostor"], r["far_low"], r["far_high"]),
                         rate(r["false_rejects"], r["n_genuine"], r["frr_low"], r["frr_high"]),
                         r["far_text"]])
        return self._section("labels", [
            p(f"{self.r.n_labels:,} labelled session(s) ({self.r.n_labels_matched:,} with a comparison in this period). "
              "FAR: impostor comparisons accepted; FRR: genuine comparisons rejected; each at the row's own "
              "threshold."),
            table(["comparison", "level", "FAR", "FRR", "false accepts"], rows, numeric=(2, 3), wrap=(4,))])

    # quality ------------------------------------------------------------------------
    def quality(self) -> dict:
        dq = self.s.data_quality()
        if dq.empty:
            return self._section("quality", [p("No session and no quarantined record in this period.", "empty")])
        sources = sorted(dq["source"].unique())
        notes = dict(zip(dq["check"], dq["note"]))
        rows = []
        for check in dict.fromkeys(dq["check"]):
            sub = dq[dq["check"] == check].set_index("source")
            cells = []
            for src in sources:
                n, of = int(sub.loc[src, "n"]), int(sub.loc[src, "of"])
                cells.append(muted("0") if n == 0 else {"text": f"{n:,}", "cls": "warn", "n": f"of {of:,}"})
            rows.append([{"text": check.replace("_", " "), "sub": notes[check]}, *cells])
        blocks = [table(["check", *sources], rows, numeric=tuple(range(1, len(sources) + 1)), wrap=(0,),
                        cls="quality")]
        q = self.s.quarantine("current")
        if len(q):
            blocks.append(p("Quarantine reasons (most common first; the records are kept in the quarantine table, "
                            "unreadable parts included):"))
            blocks.append(table(["reason", "records"], [[r["reason"], f"{int(r['records']):,}"]
                                                        for _, r in q.head(10).iterrows()], numeric=(1,), wrap=(0,)))
        return self._section("quality", blocks)

    # method -------------------------------------------------------------------------
    def method(self) -> dict:
        s, info = self.s, self.r.info
        tb = s.time_basis("current")
        rows = []
        explain = {"verify_time": "the provider's verification time", "biz_id": "the time leading the Megvii biz_id "
                   "(token creation)", "fetched_at": "when it was fetched (the payload has no verification time)"}
        for _, r in tb.iterrows():
            rows.append([r["source"], explain.get(r["time_basis"], str(r["time_basis"])), f"{int(r['n']):,}"])
        from ..analytics._changes import false_alarm_text

        last = info.get("last_day")
        cut = ""
        if info.get("partial") and last is not None:
            day = pd.Timestamp(last * 86_400_000_000_000, tz="UTC")
            cut = (f" The data ends part-way through {day:%Y-%m-%d} (last session {s.data_end:%Y-%m-%d %H:%M} UTC): "
                   "that day is left out of the change tests.")
        blocks = [
            p("Each session is dated by its verification time where the payload has one: Megvii's verify_time, else "
              "the time leading the biz_id, and Baidu getall's latest attempt. Baidu detail and stat carry none: "
              "their rows are placed at the time they were fetched, so fetch Baidu results soon after the sessions "
              "end. This period's sessions by what dates them:"),
            table(["source", "dated by", "sessions"], rows, numeric=(2,)),
            p("Baidu detail repeats the latest attempt that getall lists: a token's detail rows count only when getall "
              "did not return it, so no attempt counts twice."),
            p(f"Changes: {info.get('method') or 'no series to test'} Daily and weekly series are two families at "
              f"{self.r.alpha / 2:.1%} each; pooled series run over both periods (a step at the start of this period "
              "is found), per-segment series over this period; only changes starting in this period are reported, "
              f"and only those of at least {_min_effects()}.{cut} Left out as artefacts of fetching: API errors of "
              "the fetch itself (DATA_DESTROYED, RESULT_NOT_FOUND, …) and Lite sessions still NOT_STARTED or "
              "PROCESSING. " + false_alarm_text(self.r.alpha) + " " + _measured_text()),
            p("Pass rates judge every comparison at its own reference threshold; the confidence figures draw each "
              "0.1-point bin at a value that keeps every pass decision of its rows, so their bars and pass rates are "
              "those of the rows. Numbers come from counts taken where the data lives "
              f"({s.engine}); the pandas metric functions give the same on the rows."),
        ]
        return self._section("method", blocks)

    # decision -----------------------------------------------------------------------
    def decision(self) -> dict:
        t = _decision_rows(self.s, self.levels)
        if t.empty:
            return self._section("decision", [p("No comparison with reference thresholds in this period.", "empty")])
        rows = []
        for _, r in t.iterrows():
            rows.append([r["comparison"], r["source"], {"text": r["level"], "cls": "inforce" if r["in_force"] else None},
                         rate(r["passed"], r["n"], r["ci_low"], r["ci_high"]),
                         rate(round(r["pass_rate_previous"] * r["n_previous"]) if r["n_previous"] else 0,
                              r["n_previous"]),
                         change(r["change"], r["change_low"], r["change_high"], r["significant"],
                                r["n"] < MIN_N or r["n_previous"] < MIN_N),
                         "" if pd.isna(r["reject_if_stricter"]) else f"{int(r['reject_if_stricter']):,}",
                         "" if pd.isna(r["psi"]) else f"{r['psi']:.3f}",
                         {"text": r["recommendation"], "cls": "warn" if r["recommendation"] == "review" else None},
                         r["reason"]])
        blocks = [p("Rule: review when the change is significant and at least 2 points either way, the provider's "
                    "threshold for the level changed between the periods, the confidence distribution shifted "
                    "(PSI ≥ 0.25), or either period has fewer than 30 comparisons; else keep. The level in force is "
                    "marked."),
                  table(["comparison", "source", "level", "pass rate", "previous", "change", "rejected if stricter",
                         "PSI", "decision", "reason"], rows, numeric=(3, 4, 5, 6, 7), wrap=(9,), cls="decision")]
        return self._section("decision", blocks)

    # plumbing -----------------------------------------------------------------------
    def _section(self, key: str, blocks: list) -> dict:
        heading, lead = next((h, lead) for k, h, lead in T.SECTIONS if k == key)
        return {"id": key, "heading": heading, "lead": lead, "blocks": blocks}

    def all(self) -> list[dict]:
        builders = {"headline": self.headline, "changes": self.changes, "segments": self.segments,
                    "funnel": self.funnel, "pass-rates": self.pass_rate_section, "confidence": self.confidence,
                    "would-flip": self.would_flip, "anti-spoofing": self.anti_spoofing, "errors": self.errors,
                    "drift": self.drift, "thresholds": self.thresholds, "labels": self.labels,
                    "quality": self.quality, "method": self.method, "decision": self.decision}
        out = {}
        # changes first: it sets each finding's figure anchor, which the box links to
        for key in ["changes", *[k for k, _, _ in T.SECTIONS if k != "changes"]]:
            try:
                out[key] = builders[key]()
            except Exception as e:  # one broken section must not cost the whole report
                warnings.warn(f"review report: section {key!r} failed: {type(e).__name__}: {e}", RuntimeWarning,
                              stacklevel=2)
                sec = self._section(key, [p(f"This section could not be built: {type(e).__name__}: {e}", "error")])
                out[key] = sec
        return [out[k] for k, _, _ in T.SECTIONS]


def _days(day_numbers) -> pd.DatetimeIndex:
    from ._summary import day_start

    return day_start(np.asarray(day_numbers, dtype=np.int64))


def _billing(r) -> dict:
    parts = [f"{int(r[c]):,} {label}" for c, label in (("billed", "billed"), ("not_billed", "not billed")) if r[c]]
    if r["billing_unknown"]:
        parts.append(f"{int(r['billing_unknown']):,} not stated" if parts else "not stated")
    return {"text": ", ".join(parts), "cls": "warn" if r["billed"] else "muted"}


def _qvalue(q) -> str:
    if q is None or not np.isfinite(q):
        return ""
    return "< 1e-12" if q < 1e-12 else f"{q:.2g}"


def _num(x, digits: int = 3) -> str:
    return "n/a" if x is None or not np.isfinite(float(x)) else f"{float(x):.{digits}f}"


def _pvalue(x) -> str:
    if x is None or not np.isfinite(float(x)):
        return "n/a"
    return "< 0.001" if x < 0.001 else f"{float(x):.3f}"


def _flag(flag: str) -> dict:
    return {"text": flag, "cls": f"flag {flag}" if flag in ("stable", "watch", "act") else "muted"}


def _min_effects() -> str:
    from ._findings import MIN_EFFECT, MIN_RATIO

    return (f"{MIN_EFFECT['pass_rate'] * 100:g} point(s) for pass rates and flagged shares, "
            f"{MIN_EFFECT['error'] * 100:g} for error shares (or {MIN_RATIO['error']:g} times the rate before)")


def _measured_text() -> str:
    from ._findings import MEASURED

    return MEASURED


DECISION_COLUMNS = ["source", "comparison", "level", "n", "pass_rate", "ci_low", "ci_high", "n_previous",
                    "pass_rate_previous", "change", "change_low", "change_high", "reject_if_stricter",
                    "pass_if_looser", "psi", "threshold", "threshold_previous", "recommendation", "reason"]


def decision_table(summaries, levels=None) -> pd.DataFrame:
    """Notebook 02's keep/review table: one row per source, comparison and level
    (:data:`DECISION_COLUMNS`); see :func:`_decision_rows` for the rule."""
    t = _decision_rows(summaries, levels or {"*": "1e-4"})
    return t[DECISION_COLUMNS] if len(t) else pd.DataFrame(columns=DECISION_COLUMNS)


def _decision_rows(summaries, levels) -> pd.DataFrame:
    """The decision table with the counts behind it (``passed``, ``significant``, ``in_force``)."""
    s = summaries
    key = ["source", "comparison"]
    rates = s.pass_rates("current", key)
    if rates.empty:
        return pd.DataFrame()
    drift = s.pass_rate_drift(key).rename(columns={"n_baseline": "n_previous",
                                                   "pass_rate_baseline": "pass_rate_previous"})
    out = rates[[*key, "level", "n", "passed", "pass_rate", "ci_low", "ci_high"]].merge(
        drift[[*key, "level", "n_previous", "pass_rate_previous", "change", "change_low", "change_high",
               "significant"]], on=[*key, "level"], how="left")
    for name, count, at in (("reject_if_stricter", "to_reject", 0), ("pass_if_looser", "to_pass", 1)):
        parts = []
        for pair in _STRICTER.items():
            w = s.would_flip(*pair, by=key)
            if len(w):
                parts.append(w[[*key, count]].assign(level=pair[at]))
        if parts:
            out = out.merge(pd.concat(parts).rename(columns={count: name}), on=[*key, "level"], how="left")
        else:
            out[name] = np.nan
    for c in ("reject_if_stricter", "pass_if_looser"):
        out[c] = out[c].astype("Int64")
    psi = s.distribution_drift(by=key)[[*key, "psi"]]
    out = out.merge(psi, on=key, how="left")
    out = out.merge(_typical(s, "current", "threshold"), on=[*key, "level"], how="left")
    out = out.merge(_typical(s, "previous", "threshold_previous"), on=[*key, "level"], how="left")
    out["n_previous"] = out["n_previous"].fillna(0).astype("int64")
    out["in_force"] = [lv == level_for(levels, c) for lv, c in zip(out["level"], out["comparison"])]
    rec, why = [], []
    for _, r in out.iterrows():
        reasons = []
        if r["significant"] is True and abs(r["change"]) >= MATERIAL_CHANGE:
            reasons.append(f"pass rate {100 * r['change']:+.1f} pts (95% CI {100 * r['change_low']:+.1f} to "
                           f"{100 * r['change_high']:+.1f})")
        if pd.notna(r["threshold_previous"]) and pd.notna(r["threshold"]) and r["threshold"] != r["threshold_previous"]:
            reasons.append(f"threshold moved {r['threshold_previous']:g} → {r['threshold']:g}")
        if pd.notna(r["psi"]) and r["psi"] >= PSI_ACT:
            reasons.append(f"confidence distribution shifted (PSI {r['psi']:.2f})")
        if min(r["n"], r["n_previous"]) < MIN_N:
            reasons.append(f"too few to judge ({r['n_previous']} previous, {r['n']} current)")
        rec.append("review" if reasons else "keep")
        why.append("; ".join(reasons))
    out["recommendation"] = rec
    out["reason"] = why
    order = {k: i for i, k in enumerate(_comparison_order(out["comparison"].dropna()))}
    out = out.assign(_o=out["comparison"].map(order)).sort_values(["_o", "source", "level"], kind="stable")
    return out.drop(columns="_o").reset_index(drop=True)


def _typical(s, side: str, name: str) -> pd.DataFrame:
    """The most common threshold per source, comparison and level (ties: the smallest)."""
    f = s._side(s.frame("comparisons"), side)
    if f is None:
        return pd.DataFrame(columns=["source", "comparison", "level", name])
    parts = []
    for lv in LEVELS:
        col = LEVEL_COLUMNS[lv]
        g = f[f[col].notna().to_numpy()]
        if g.empty:
            continue
        c = g.groupby(["source", "comparison", col], sort=True)["n"].sum().reset_index()
        c = c.sort_values(["source", "comparison", "n", col], ascending=[True, True, False, True], kind="stable")
        c = c.drop_duplicates(["source", "comparison"]).rename(columns={col: name}).drop(columns="n")
        parts.append(c.assign(level=lv))
    if not parts:
        return pd.DataFrame(columns=["source", "comparison", "level", name])
    return pd.concat(parts, ignore_index=True)


def build_sections(review) -> list[dict]:
    return _Builder(review).all()

