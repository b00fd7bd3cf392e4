"""The report's sections as plain data: dicts and lists of text and numbers, figures as data URIs.

Each builder reads the :class:`~faceanalytics.report._summary.Summaries` (and the findings)
and returns ``{"id", "heading", "lead", "blocks"}``; a block is a paragraph, a table
(header, rows of cells, which columns are numeric or wrap), a figure or a group of
figures.  A cell is text, or a dict: ``text`` plus optional ``cls``, ``value`` (the exact
number, as ``data-value``), ``ci``, ``n``, ``sub`` (a second line), ``prev`` (the
previous period) and ``title``.  No markup is made here: the template does it, escaping
everything.  Every word comes from the message catalogue (``tr``), in the review's language.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from ..analytics._core import MIN_N
from ..analytics._errors import origin_totals
from ..analytics._stats import newcombe_diff_ci, proportion_ci
from ..engines._review import OTHER
from ..schema import LEVEL_COLUMNS, LEVELS
from . import _text as T
from ._figures import draw_change, draw_rate_series, figure
from ._findings import PRIMARY_SHARE, level_for
from ._period import ONE_DAY
from ._segments import describe
from ._shown import no_controls, segment_labels, shown, shown_key
from ._text import join, tr, tr_or

__all__ = ["build_sections"]

_STRICTER = dict(zip(LEVELS[:-1], LEVELS[1:]))
MATERIAL_CHANGE = 0.02          # the decision table's rule (as notebook 02 had it)
PSI_ACT = 0.25
PSI_CONFIRM = 0.05              # ... and the KS test's p-value below this (see _decision_rows)
FIGURES_OF_CHANGES = 8          # findings' figures above the changes table (the rest below it)
FIGURES_MAX = 60                # findings with a figure of their own (about 0.1 s of CPU each)


# ------------------------------------------------------------------ cells

def p(text, cls=None) -> dict:
    return {"type": "p", "text": text, "cls": cls}


def table(header, rows, *, numeric=(), wrap=(), cls=None, empty=None, id=None) -> dict:
    if not rows:
        return p(tr("cell.nothing") if empty is None else empty, "empty")
    return {"type": "table", "header": list(header), "rows": rows, "numeric": set(numeric), "wrap": set(wrap),
            "cls": cls, "id": id}


def cols(*names) -> list[str]:
    """Column headers by name (``col.<name>`` in the catalogue)."""
    return [tr(f"col.{x}") for x in names]


def muted(text) -> dict:
    return {"text": text, "cls": "muted"}


def _int(x) -> int:
    return 0 if x is None or x is pd.NA or (isinstance(x, float) and np.isnan(x)) else int(x)


def rate(k, n, lo=None, hi=None, *, prev: str | None = None, stacked: bool = False) -> dict:
    """A rate as the reader should see it: with its interval, or as a count when n is small."""
    k, n = _int(k), _int(n)
    if n == 0:
        return {"text": tr("cell.none"), "cls": "muted", "prev": prev}
    if n < MIN_N:
        return {"text": tr("cell.count", k=k, n=n), "cls": "count", "title": tr("cell.count_title", min_n=MIN_N),
                "prev": prev}
    if lo is None or hi is None:
        lo, hi = (float(v) for v in proportion_ci(k, n))
    return {"text": T.pct(k / n), "value": f"{k / n:.10g}", "ci": f"[{T.pct(lo)}–{T.pct(hi)}]",
            "n": tr("cell.n", n=n), "prev": prev, "stacked": stacked}


def change(d, lo, hi, significant, low_n, *, mark: bool = True) -> dict:
    """A change in points with its interval; ``mark``: in colour when the interval excludes 0."""
    if low_n or d is None or not np.isfinite(float(d)):
        return muted(tr("cell.too_few"))
    return {"text": tr("cell.points", points=T.points(d)), "cls": "sig" if significant and mark else None,
            "ci": f"[{T.points(lo)}, {T.points(hi)}]"}


def diff_cell(k1, n1, k2, n2, *, mark: bool = True) -> dict:
    """Change of a pooled rate k1/n1 -> k2/n2 in points with Newcombe's interval."""
    k1, n1, k2, n2 = (_int(x) for x in (k1, n1, k2, n2))
    if n1 == 0 and n2 == 0:
        return muted("–")
    if n1 == 0 or n2 == 0:
        return muted(tr("cell.too_few"))
    dd, lo, hi = (float(x) for x in newcombe_diff_ci(k1, n1, k2, n2))
    return change(dd, lo, hi, lo > 0 or hi < 0, n1 < MIN_N or n2 < MIN_N, mark=mark)


def count_change(cur: int, prev: int) -> dict | str:
    """Volumes change as a relative share (counts are not rates)."""
    if prev == 0:
        return muted(tr("cell.new") if cur else "–")
    return f"{(cur - prev) / prev * 100:+.0f}%"


def _plots():
    from .. import plots

    return plots


def _comparison_order(names) -> list[str]:
    names = sorted(set(names))
    head = [c for c in ("faceid", "idcard_datasource", "idcard_photo") if c in names]
    refs = sorted((c for c in names if c.startswith("ref")), key=lambda c: (len(c), c))
    return head + refs + [c for c in names if c not in head and c not in refs]


def _count_row(item: str, cur: int, prev: int, *, sub: str | None = None, cur_sub: str | None = None) -> dict:
    return {"item": item, "sub": sub, "kind": "count", "cur": int(cur), "prev": int(prev), "cur_sub": cur_sub}


def _rate_row(item: str, k, n, lo, hi, k_prev, n_prev, lo_prev=None, hi_prev=None, *, change=None) -> dict:
    """A headline rate this period and the one before; ``change``: (diff, low, high, too few)
    when known (pass rates: the drift table's), else Newcombe's on the two pooled rates."""
    k, n, k_prev, n_prev = _int(k), _int(n), _int(k_prev), _int(n_prev)
    if n and (lo is None or hi is None):
        lo, hi = (float(v) for v in proportion_ci(k, n))
    if n_prev and (lo_prev is None or hi_prev is None):
        lo_prev, hi_prev = (float(v) for v in proportion_ci(k_prev, n_prev))
    no_change = tr("cell.too_few")
    if change is None:
        if n == 0 and n_prev == 0:
            no_change = "–"
        elif min(n, n_prev) >= MIN_N:
            change = (*(float(x) for x in newcombe_diff_ci(k_prev, n_prev, k, n)), False)
    if change is not None and (change[3] or not np.isfinite(change[0])):
        change = None
    return {"item": item, "sub": None, "kind": "rate", "k": k, "n": n, "lo": lo, "hi": hi, "k_prev": k_prev,
            "n_prev": n_prev, "lo_prev": lo_prev, "hi_prev": hi_prev,
            "change": None if change is None else change[:3], "no_change": no_change}


def _seg_value(v, key=None, labels=None, seg=None) -> str:
    """A segment value as shown: the catch-all for values outside the listed ones (``seg``'s
    :attr:`~faceanalytics.engines._review.Segment.other`) is translated; the others, values
    as stored, percent-decoded (:mod:`._shown`; ``labels``: the review's
    :func:`._shown.segment_labels`, which keep apart two values that decode alike).  A stored
    value that is literally ``"(other)"`` is shown as stored, and the catch-all then in
    parentheses once more for each level ``seg.other`` has (and until no value shown reads the
    same): in zh-CN a client's ``(other)`` is not the translated catch-all."""
    other = OTHER if seg is None else seg.other
    if v != other:
        return shown(labels, key, v)
    text, taken = tr("segments.other"), {shown(labels, key, x) for x in (seg.values or ())} if seg else set()
    for _ in range(0, len(other) - len(OTHER), 2):
        text = f"({text})"
    while text in taken:
        text = f"({text})"
    return text


def _drawable(e: pd.DataFrame) -> pd.DataFrame:
    """The error codes' texts (code, detail, message) without control characters: Matplotlib
    draws a NUL or a bell from a provider's message as a box, with a warning each."""
    return e.assign(**{c: e[c].map(no_controls) for c in ("code", "detail", "message") if c in e.columns})


# ------------------------------------------------------------------ sections

class _Builder:
    def __init__(self, review):
        self.r = review
        self.s = review.summaries
        self.period = review.period
        self.levels = review.levels
        self.seg_labels = segment_labels(self.s.segments)      # segment values as shown

    # headline -----------------------------------------------------------------------
    def sessions(self, side) -> tuple[int, dict[str, int]]:
        """Sessions this period (or the previous one), total and per kind of source
        (``megvii_lite``, ``megvii_liveness``, ``megvii_notify``, ``baidu``): a Baidu token
        fetched by several result APIs, or a Megvii biz_id also received as a callback, once."""
        counts = self.s.session_counts(side)
        distinct = self.s.frame("distinct")
        sd = 1 if side == "current" else 0
        split = {label: int(sum(int(counts.get(x, 0)) for x in srcs)) for label, srcs in (
            ("megvii_lite", ["megvii_lite"]), ("megvii_liveness", ["megvii_liveness"]),
            ("megvii_notify", ["megvii_notify"]),
            ("baidu", [x for x in counts.index if str(x).startswith("baidu")]))}
        total = {"Megvii": split["megvii_lite"] + split["megvii_liveness"] + split["megvii_notify"],
                 "Baidu": split["baidu"]}
        if distinct is not None:
            for g in ("Megvii", "Baidu"):
                d = distinct[(distinct["group"] == g) & (distinct["side"] == sd)]
                if len(d) or (distinct["group"] == g).any():
                    total[g] = int(d["n"].sum())
            if (distinct["group"] == "Baidu").any():
                split["baidu"] = total["Baidu"]
        return sum(total.values()), {k: v for k, v in split.items() if v}

    def headline_rows(self) -> list[dict]:
        """The headline as numbers, one dict per row: ``item`` (its label), ``sub``, ``kind``
        (``"count"``: ``cur``/``prev`` are volumes; ``"rate"``: ``k``/``n`` and their 95%
        interval per side, and the change in points with its interval, None when too few)."""
        s = self.s
        n_cur, split = self.sessions("current")
        n_prev, _ = self.sessions("previous")
        sub = join(tr("headline.split_item", name=tr(f"headline.split.{k}"), n=v) for k, v in split.items())
        rows = [_count_row(tr("headline.sessions"), n_cur, n_prev, cur_sub=sub)]
        c_cur = s.frame("comparisons")
        cur_side, prev_side = s._side(c_cur, "current"), s._side(c_cur, "previous")
        rows.append(_count_row(tr("headline.comparisons"), int(cur_side["n"].sum()) if cur_side is not None else 0,
                               int(prev_side["n"].sum()) if prev_side is not None else 0))
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
            key = "headline.pass_rate_in_force" if comp == "faceid" else "headline.pass_rate"
            low = bool(d["low_n"]) or not np.isfinite(float(d["change"]))
            rows.append(_rate_row(tr(key, comparison=comp, level=lvc), a["passed"], a["n"], a["ci_low"], a["ci_high"],
                                  *((b["passed"], b["n"], b["ci_low"], b["ci_high"]) if b is not None else (0, 0)),
                                  change=(float(d["change"]), float(d["change_low"]), float(d["change_high"]),
                                          low)))
        bc, bp = s.configured_pass_rates("current"), s.configured_pass_rates("previous")
        if len(bc) or len(bp):
            rows.append(_rate_row(tr("headline.configured"), int(bc["passed"].sum()), int(bc["n"].sum()), None, None,
                                  int(bp["passed"].sum()), int(bp["n"].sum())))
        gc = s.genuineness_rates("current", by="source")
        gp = s.genuineness_rates("previous", by="source")
        for attack in sorted(set(gc["attack"]) | set(gp["attack"])):
            a, b = gc[gc["attack"] == attack], gp[gp["attack"] == attack]
            ka, na, kb, nb = int(a["flagged"].sum()), int(a["n"].sum()), int(b["flagged"].sum()), int(b["n"].sum())
            if na == 0 and nb == 0:
                continue
            rows.append(_rate_row(tr("headline.flagged", attack=T.attack(attack)), ka, na, None, None, kb, nb))
        ec, ep = s.error_codes("current"), s.error_codes("previous")
        rows.append(_count_row(tr("headline.billed"), int(ec["billed"].sum()) if len(ec) else 0,
                               int(ep["billed"].sum()) if len(ep) else 0, sub=tr("headline.billed_sub")))
        qc, qp = s.quarantine("current"), s.quarantine("previous")
        rows.append(_count_row(tr("headline.quarantined"), int(qc["records"].sum()) if len(qc) else 0,
                               int(qp["records"].sum()) if len(qp) else 0, sub=tr("headline.quarantined_sub")))
        return rows

    def headline(self) -> dict:
        rows = []
        for r in self.headline_rows():
            label = {"text": r["item"], "sub": r["sub"]} if r["sub"] else r["item"]
            if r["kind"] == "count":
                first = {"text": f"{r['cur']:,}", "sub": r["cur_sub"]} if r.get("cur_sub") else f"{r['cur']:,}"
                rows.append([label, first, f"{r['prev']:,}", count_change(r["cur"], r["prev"])])
                continue
            ch = r["change"]
            rows.append([label, rate(r["k"], r["n"], r["lo"], r["hi"]),
                         rate(r["k_prev"], r["n_prev"], r["lo_prev"], r["hi_prev"]),
                         muted(r["no_change"]) if ch is None else change(*ch, False, False, mark=False)])
        blocks = [self.findings_box(),
                  table(["", *cols("this_period", "previous_period", "change")], rows, numeric=(1, 2, 3), wrap=(0,),
                        cls="headline"),
                  p(tr("headline.note", min_n=MIN_N, levels=self._levels_text()), "note")]
        return self._section("headline", blocks)

    def _levels_text(self) -> str:
        extra = [tr("levels.extra", comparison=k, level=v) for k, v in self.levels.items() if k != "*"]
        base = self.levels["*"] if self.r.level_given else tr("levels.assumed", level=self.levels["*"])
        return tr("levels.with_extra", base=base, extra=join(extra)) if extra else base

    def findings_box(self) -> dict:
        f = self.r.findings
        info = self.r.info
        items = [{"rank": x.rank, "title": x.title, "text": x.text, "decision": x.decision,
                  "section": x.section, "figure": x.figure, "figure_note": x.figure_note,
                  "also": tr("findings.also_seen", also=join(x.also)) if x.also else ""} for x in f[:8]]
        if f:
            empty = None
        elif info.get("tested"):
            empty = tr("findings.nothing", tested=info["tested"], alpha=self.r.alpha)
        else:
            empty = tr("findings.untested")
        return {"type": "findings", "heading": tr("findings.heading"), "items": items, "empty": empty,
                "order": tr("findings.ranked") if f else None,
                "more": tr("findings.more", n=len(f) - 8) if len(f) > 8 else None,
                "quality": self.r.quality_note}

    # changes ------------------------------------------------------------------------
    def changes(self) -> dict:
        findings = [x for x in self.r.findings]
        series = self.r.info.get("series")
        blocks = []
        if not findings:
            blocks.append(p(tr("changes.none"), "empty"))
            return self._section("changes", blocks)
        # every finding its own figure (the box and the JSON link to it), the first few above the
        # table, the rest below it; past FIGURES_MAX (some 0.1 s of CPU each) the note says why none
        figs = []
        for f in findings:
            if f.rank > FIGURES_MAX:
                f.figure, f.figure_note = None, tr("changes.no_figure.capped", n=FIGURES_MAX)
                continue
            fig = self._change_figure(f, series) if series is not None else None
            if fig is None:
                f.figure, f.figure_note = None, tr("changes.no_figure.no_series")
            else:
                f.figure_note = None
                figs.append(fig)
        if figs[:FIGURES_OF_CHANGES]:
            blocks.append({"type": "grid", "figures": figs[:FIGURES_OF_CHANGES]})
        rows = []
        for f in findings:
            start = f"{pd.Timestamp(f.start):%Y-%m-%d}"
            when = tr("changes.when_wave", start=start, end=f"{pd.Timestamp(f.end) - ONE_DAY:%Y-%m-%d}") \
                if f.kind == "wave" and f.end else tr("changes.when_step", start=start)
            rows.append([f.rank, {"text": f.title, "sub": f.decision}, tr(f"kind.{f.kind}"), when,
                         f"{T.pct(f.rate_before)} → {T.pct(f.rate_after)}",
                         {"text": tr("cell.points", points=f"{f.change_points:+.1f}"),
                          "ci": f"[{f.ci_low_points:+.1f}, {f.ci_high_points:+.1f}]"},
                         f"{f.n_after:,}" if f.n_after is not None else "",
                         _qvalue(f.q_value), join(f.also)])
        blocks.append(table(cols("rank", "what", "kind", "when", "rate", "change_ci", "n_in_change", "q_value",
                                 "also_seen"), rows, numeric=(0, 4, 5, 6, 7), wrap=(1, 8), cls="changes"))
        if figs[FIGURES_OF_CHANGES:]:
            blocks.append(p(tr("changes.more_figures"), "subhead"))
            blocks.append({"type": "grid", "figures": figs[FIGURES_OF_CHANGES:]})
        return self._section("changes", blocks)

    def _change_figure(self, f, series: pd.DataFrame) -> dict | None:
        m = series["family"] == f.family
        for col, val in (("source", f.source), ("comparison", f.comparison), ("level", f.level),
                         ("attack", f.attack), ("code", f.code), ("origin", f.origin), ("detail", f.detail)):
            m &= (series[col] == val) if val is not None else series[col].isna()
        pool = series[m & series["seg_key"].isna()]
        if f.segment:
            mine = series[m & (series["seg_key"] == T.stored_key(f.segment))
                          & (series["seg_value"] == T.stored_value(f.segment))]
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
        unit = tr(f"changes.ylabel.{f.family}" if f.family in ("flagged", "error", "billed", "thresholds") else
                  "changes.ylabel.pass_rate")
        return figure(lambda ax: draw_change(ax, mine, pool=pool, start=start, end=end, since=self.period.since,
                                             title=f"{f.rank}. {f.title}", ylabel=unit),
                      size=(5.6, 2.9), alt=tr("changes.fig_alt", title=f.title), id=fid)

    # segments -----------------------------------------------------------------------
    def segment_rows(self) -> list[dict]:
        """Per segment key and value: the faceid pass rate at the level in force this period
        and in its two halves (``key``, ``value``, ``n``, ``passed``, ``n_first``,
        ``passed_first``, ``n_second``, ``passed_second``)."""
        s = self.s
        sc = s.frame("seg_comparisons")
        if sc is None or not s.segments:
            return []
        sc = sc[(sc["comparison"] == "faceid").to_numpy()]
        i = LEVELS.index(level_for(self.levels, "faceid"))
        out = []
        for seg in s.segments:
            g = sc[sc[seg.label].notna().to_numpy()]
            if g.empty:
                continue
            has = (g["has"].to_numpy() & (1 << i)) > 0
            ok = (g["bits"].to_numpy() & (1 << i)) > 0
            day = g["day"].to_numpy()
            half = s.since_day + (int(self.period.length / ONE_DAY) // 2)
            tab = pd.DataFrame({"v": g[seg.label].to_numpy(), "n": np.where(has, g["n"], 0),
                                "k": np.where(has & ok, g["n"], 0), "first": day < half})
            for v, t in tab.groupby("v", sort=True):
                n, k = int(t["n"].sum()), int(t["k"].sum())
                n1, k1 = int(t.loc[t["first"], "n"].sum()), int(t.loc[t["first"], "k"].sum())
                out.append({"key": seg.name, "value": v, "n": n, "passed": k, "n_first": n1, "passed_first": k1,
                            "n_second": n - n1, "passed_second": k - k1})
        return out

    def segments(self) -> dict:
        s = self.s
        if not s.segments:
            return self._section("segments", [p(tr("segments.none"), "empty")])
        how = tr("segments.how_asked") if self.r.segments_asked else tr("segments.how_chosen")
        blocks = [p(tr("segments.intro", how=how, keys=join(describe(x) for x in s.segments)))]
        if s.frame("seg_comparisons") is None:
            blocks.append(p(tr("common.no_comparison"), "empty"))
            return self._section("segments", blocks)
        lv = level_for(self.levels, "faceid")
        rows = self.segment_rows()
        for seg in s.segments:
            mine = [r for r in rows if r["key"] == seg.name]
            if not mine:
                continue
            blocks.append(p(tr("segments.subhead", name=shown_key(seg.name), level=lv), "subhead"))
            blocks.append(table([shown_key(seg.name), *cols("this_period", "first_half", "second_half", "change")],
                                [[_seg_value(r["value"], seg.name, self.seg_labels, seg), rate(r["passed"], r["n"]),
                                  rate(r["passed_first"], r["n_first"]), rate(r["passed_second"], r["n_second"]),
                                  diff_cell(r["passed_first"], r["n_first"], r["passed_second"], r["n_second"])]
                                 for r in mine], numeric=(1, 2, 3, 4)))
        return self._section("segments", blocks)

    # funnel -------------------------------------------------------------------------
    def funnel(self) -> dict:
        fc = self.s.status_funnel("current")
        if int(fc["count"].sum()) == 0:
            return self._section("funnel", [p(tr("funnel.none"), "empty")])
        fp = self.s.status_funnel("previous").set_index(["status", "stage"])
        rows = []
        for _, r in fc.iterrows():
            key = (r["status"], r["stage"])
            pr = fp.loc[key] if key in fp.index else None
            rows.append([r["status"], tr_or(f"stage.{r['stage']}", r["stage"]), f"{int(r['count']):,}",
                         T.pct(r["share"]),
                         f"{int(pr['count']):,}" if pr is not None else "0",
                         T.pct(pr["share"]) if pr is not None else tr("na")])
        fig = figure(lambda ax: _plots().plot_status_funnel(fc, ax=ax), size=(7.0, 2.9),
                     alt=tr("funnel.fig_alt"), id="fig-funnel")
        blocks = [fig]
        pend = int(fc.loc[fc["stage"] == "pending", "count"].sum())
        if pend:
            blocks.append(p(tr("funnel.pending", n=pend)))
        blocks.append(table(cols("status", "stage", "sessions", "share", "previous", "share"), rows,
                            numeric=(2, 3, 4, 5)))
        return self._section("funnel", blocks)

    # pass rates ---------------------------------------------------------------------
    def pass_rate_section(self) -> dict:
        s = self.s
        by = ["source", "comparison"]
        cur = s.pass_rates("current", by)
        if cur.empty and s.configured_pass_rates("current").empty:
            return self._section("pass-rates", [p(tr("common.no_comparison"), "empty")])
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
                    before = tr("pass_rates.before_none") if pr is None else (
                        tr("pass_rates.before_count", k=int(pr["passed"]), n=int(pr["n"])) if pr["low_n"] else
                        tr("pass_rates.before_rate", rate=T.pct(pr["pass_rate"])))
                    c = rate(r["passed"], r["n"], r["ci_low"], r["ci_high"], prev=before, stacked=True)
                    if lv == level_for(self.levels, comp):
                        c["cls"] = ((c.get("cls") or "") + " inforce").strip()
                    cells.append(c)
                rows.append([comp, src, *cells])
        blocks = [table([*cols("comparison", "source"), *LEVELS], rows, numeric=(2, 3, 4, 5), cls="rates",
                        empty=tr("pass_rates.no_megvii"))]
        conf = s.configured_pass_rates("current", by)
        if len(conf):
            confp = s.configured_pass_rates("previous", by).set_index([*by, "threshold"])
            brows = []
            for _, r in conf.iterrows():
                key = (r["source"], r["comparison"], r["threshold"])
                pr = confp.loc[key] if key in confp.index else None
                before = tr("pass_rates.before_none") if pr is None else \
                    tr("pass_rates.before_rate", rate=T.pct(pr["pass_rate"]))
                brows.append([r["comparison"], r["source"], f"{r['threshold']:g}",
                              rate(r["passed"], r["n"], r["ci_low"], r["ci_high"], prev=before, stacked=True)])
            blocks.append(p(tr("pass_rates.configured"), "subhead"))
            blocks.append(table(cols("comparison", "source", "configured_threshold", "pass_rate"), brows,
                                numeric=(2, 3), cls="rates"))
        length = self.period.length
        freq = "D" if length <= pd.Timedelta(days=14) else "W" if length <= pd.Timedelta(days=190) else "M"
        unit = tr("unit." + {"D": "day", "W": "week", "M": "month"}[freq])
        trend = s.pass_rates("both", by="comparison", freq=freq)
        trend = trend[trend["comparison"] == "faceid"].drop(columns="comparison")
        if trend.empty or trend["low_n"].all():
            blocks.append(p(tr("pass_rates.no_trend", unit=unit), "empty"))
        else:
            since = self.period.since

            def draw(ax):
                _plots().plot_pass_rates(trend, ax=ax)
                ax.axvline(since.tz_convert("UTC").tz_localize(None), color="#555555", linestyle=":", linewidth=1)
                ax.set_title(tr("pass_rates.fig_title", unit=unit))
                ax.legend(title=tr("pass_rates.legend_title"), fontsize=8, frameon=False, loc="upper left",
                          bbox_to_anchor=(1.0, 1.0))

            blocks.append(figure(draw, size=(9.5, 3.4), alt=tr("pass_rates.fig_alt"), id="fig-pass-trend"))
        return self._section("pass-rates", blocks)

    # confidence ---------------------------------------------------------------------
    def confidence(self) -> dict:
        h = self.s.figure_histogram("current")
        if h.empty:
            return self._section("confidence", [p(tr("common.no_comparison"), "empty")])
        figs = []
        for comp in _comparison_order(h["comparison"].dropna()):
            sub = h[h["comparison"] == comp]
            if sub["confidence"].notna().sum() == 0:
                continue
            srcs = join(sorted(sub["source"].unique()))
            n = int(sub["count"].sum())

            def draw(ax, sub=sub, comp=comp, srcs=srcs, n=n):
                _plots().plot_confidence_thresholds(sub, ax=ax, one_artist=True)
                ax.set_title(tr("confidence.fig_title", comparison=comp, sources=srcs, n=n))
                ax.legend(loc="upper left", bbox_to_anchor=(0.0, -0.2), fontsize=7, frameon=False)

            figs.append(figure(draw, size=(5.0, 3.9), alt=tr("confidence.fig_alt", comparison=comp),
                               id=f"fig-confidence-{comp}"))
        if not figs:
            return self._section("confidence", [p(tr("confidence.no_scores"), "empty")])
        return self._section("confidence", [{"type": "grid", "figures": figs}])

    # would-flip ---------------------------------------------------------------------
    def would_flip_rows(self) -> pd.DataFrame:
        """Per comparison kind and pair of neighbouring levels: comparisons, passing at each,
        and how many would flip (:meth:`Summaries.would_flip`)."""
        parts = []
        cur = self.s.pass_rates("current", "comparison")
        for frm, to in _STRICTER.items():
            w = self.s.would_flip(frm, to, by="comparison")
            if len(w):
                parts.append(w.assign(level_from=frm, level_to=to))
        if not parts:
            return pd.DataFrame(columns=["comparison", "level_from", "level_to", "n", "passed_from", "passed_to",
                                         "to_reject", "to_pass"])
        w = pd.concat(parts, ignore_index=True)
        order = {c: i for i, c in enumerate(_comparison_order(cur["comparison"].dropna()))}
        w = w[w["comparison"].isin(order)]
        w = w.assign(_o=w["comparison"].map(order), _l=w["level_from"].map(LEVELS.index))
        w = w.sort_values(["_o", "_l"], kind="stable").drop(columns=["_o", "_l"]).reset_index(drop=True)
        return w[["comparison", "level_from", "level_to", "n", "passed_from", "passed_to", "to_reject", "to_pass"]]

    def would_flip(self) -> dict:
        rows = []
        for _, r in self.would_flip_rows().iterrows():
            n = int(r["n"])
            inforce = r["level_from"] == level_for(self.levels, r["comparison"])
            rows.append([r["comparison"], {"text": f"{r['level_from']} → {r['level_to']}",
                                           "cls": "inforce" if inforce else None}, f"{n:,}",
                         rate(r["passed_from"], n), rate(r["passed_to"], n), f"{int(r['to_reject']):,}",
                         f"{int(r['to_pass']):,}"])
        names = ["comparison", "cut_moves", "comparisons", "pass_before", "pass_after", "newly_rejected",
                 "newly_accepted"]
        if rows and not any(r[6] != "0" for r in rows):
            rows = [r[:6] for r in rows]
            names = names[:6]
        header = cols(*names)
        return self._section("would-flip", [table(header, rows, numeric=tuple(range(2, len(header))),
                                                  empty=tr("common.no_thresholds")),
                                            p(tr("would_flip.note"), "note")])

    # anti-spoofing ------------------------------------------------------------------
    def anti_spoofing(self) -> dict:
        s = self.s
        r = s.genuineness_rates("current", by="source")
        if r.empty:
            return self._section("anti-spoofing", [p(tr("anti_spoofing.none"), "empty")])
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
            rows.append([T.attack(x["attack"]), x["source"], thr,
                         rate(x["flagged"], x["n"], x["ci_low"], x["ci_high"]) if x["n"] else
                         muted(tr("anti_spoofing.no_threshold", n=int(x["n_no_threshold"]))),
                         rate(pr["flagged"], pr["n"], pr["ci_low"], pr["ci_high"]) if pr is not None and pr["n"]
                         else muted(tr("cell.none")),
                         diff_cell(pr["flagged"], pr["n"], x["flagged"], x["n"]) if pr is not None
                         else muted(tr("anti_spoofing.none_before")),
                         f"{int(nr['just_under']):,}" if nr is not None else "0"])
        blocks = []
        daily = s.genuineness_rates("both", freq="D")
        daily = daily[daily["n"] > 0]
        daily = daily.assign(attack=daily["attack"].map(T.attack))
        if len(daily) and not (daily["n"] < MIN_N).all():
            since = self.period.since
            blocks.append(figure(lambda ax: draw_rate_series(
                ax, daily, "attack", rate="flagged_rate", since=since, title=tr("anti_spoofing.fig_title")),
                size=(9.5, 3.4), alt=tr("anti_spoofing.fig_alt"), id="fig-attacks"))
        blocks.append(table(cols("attack", "source", "threshold", "flagged_this_period", "previous_period", "change",
                                 "just_under"), rows, numeric=(3, 4, 5, 6)))
        blocks.append(p(tr("anti_spoofing.note"), "note"))
        return self._section("anti-spoofing", blocks)

    # errors -------------------------------------------------------------------------
    def errors(self) -> dict:
        e = self.s.error_codes("current")
        if e.empty:
            return self._section("errors", [p(tr("errors.none"), "empty")])
        ep = self.s.error_codes("previous")
        prev = ep.set_index(["origin", "code", "detail"])["count"] if len(ep) else pd.Series(dtype="int64")
        # Each origin is its own Pareto (one failure is counted in several): never added up.
        o = origin_totals(e)
        billed = int(o["billed"].sum())
        stated = o[(o["billed"] + o["not_billed"]) > 0]       # origins whose billing the documents state
        unknown = int(stated["billing_unknown"].sum())
        top = _by_origin(e, o, 20)
        rows = []
        for _, r in top.iterrows():
            key = (r["origin"], r["code"], r["detail"])
            pv = int(prev.get(key, 0)) if len(prev) else 0
            rows.append([_code(r), T.origin(r["origin"]), "" if pd.isna(r["message"]) else r["message"],
                         f"{int(r['count']):,}", T.pct(r["share"]), T.pct(r["cumulative_share"]), _billing(r),
                         f"{pv:,}"])
        origins = [tr("errors.origin", origin=T.origin(r["origin"]), count=int(r["count"]), codes=int(r["codes"]),
                      top=_code({"code": r["top_code"], "detail": r["top_detail"]}), share=T.pct(r["top_share"]))
                   for _, r in o.iterrows()]
        head = p(tr("errors.summary", billed=billed, unknown=tr("errors.unknown", n=unknown) if unknown else "",
                    origins=join(origins, "clause")))
        fig = figure(lambda ax: _plots().plot_error_codes(_drawable(_by_origin(e, o, 12, rest=True)), top=12, ax=ax), size=(9.0, 4.4),
                     alt=tr("errors.fig_alt"), id="fig-errors")
        from .._fonts import cjk_font, has_cjk

        blocks = [head, fig]
        if cjk_font() is None and any(has_cjk(m) for m in top["message"].dropna()):
            blocks.append(p(tr("errors.no_font"), "muted"))
        blocks.append(table(cols("code", "where", "message", "count", "share", "cumulative", "billing",
                                 "previous_period"), rows, numeric=(3, 4, 5, 7), wrap=(2,), cls="errors"))
        if len(e) > len(top):
            blocks.append(p(tr("errors.more", n=len(e) - len(top)), "muted"))
        return self._section("errors", blocks)

    # drift --------------------------------------------------------------------------
    def drift(self) -> dict:
        s = self.s
        d = s.pass_rate_drift(by="comparison")
        blocks = []
        if d.empty or (d["n_baseline"] == 0).all() or (d["n_current"] == 0).all():
            blocks.append(p(tr("drift.no_previous") if d.empty or (d["n_baseline"] == 0).all()
                            else tr("drift.no_current"), "empty"))
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
            blocks.append(table(cols("comparison", "level", "previous_period", "this_period", "change_ci",
                                     "rejections_change"), rows, numeric=(2, 3, 4, 5)))
            blocks.append(p(tr("drift.note"), "note"))
            f = d[d["comparison"] == "faceid"].drop(columns=["comparison", "_o"])
            dd = s.distribution_drift(by="comparison")
            ddf = dd[dd["comparison"] == "faceid"].drop(columns="comparison")
            if len(f) and (f["n_baseline"] >= MIN_N).any() and (f["n_current"] >= MIN_N).any():
                blocks.append(figure(lambda ax: _plots().plot_drift(f, ddf, ax=ax), size=(8.0, 3.6),
                                     alt=tr("drift.fig_alt"), id="fig-drift"))
        dd = s.distribution_drift(by="comparison")
        rows = [[tr("drift.variable", comparison=r["comparison"]), f"{int(r['n_baseline']):,}",
                 f"{int(r['n_current']):,}", _num(r["psi"]), _flag(r["psi_flag"]), _num(r["ks"]),
                 _pvalue(r["ks_pvalue"])]
                for _, r in dd.iterrows() if r["n_baseline"] and r["n_current"]]
        if rows:
            blocks.append(p(tr("drift.second_line")))
            blocks.append(table(cols("variable", "n_previous", "n_this_period", "psi", "flag", "ks", "ks_pvalue"),
                                rows, numeric=(1, 2, 3, 5, 6)))
        return self._section("drift", blocks)

    # thresholds ---------------------------------------------------------------------
    def threshold_rows(self) -> pd.DataFrame:
        """Each reference-threshold set per source and comparison kind: comparisons in each
        period, its share this period, first and last seen."""
        s = self.s
        cur, prev = s.threshold_sets("current"), s.threshold_sets("previous")
        keys = ["source", "comparison", "threshold_set"]
        out = pd.DataFrame(columns=[*keys, "n_previous", "n", "share", "first_seen", "last_seen"])
        if cur.empty and prev.empty:
            return out
        allsets = pd.concat([cur.assign(_side="cur"), prev.assign(_side="prev")], ignore_index=True)
        rows = []
        for (src, comp, ts), g in allsets.groupby(keys, sort=True):
            c, pv = g[g["_side"] == "cur"], g[g["_side"] == "prev"]
            rows.append({"source": src, "comparison": comp, "threshold_set": ts, "n_previous": int(pv["n"].sum()),
                         "n": int(c["n"].sum()), "share": float(c["share"].iloc[0]) if len(c) else np.nan,
                         "first_seen": g["first_seen"].min(), "last_seen": g["last_seen"].max()})
        return pd.DataFrame(rows, columns=out.columns)

    def thresholds(self) -> dict:
        t = self.threshold_rows()
        if t.empty:
            return self._section("thresholds", [p(tr("thresholds.none"), "empty")])
        rows = [[r["comparison"], r["source"], r["threshold_set"], f"{r['n_previous']:,}", f"{r['n']:,}",
                 T.pct(r["share"]) if np.isfinite(r["share"]) else "–", f"{r['first_seen']:%Y-%m-%d}",
                 f"{r['last_seen']:%Y-%m-%d}"] for _, r in t.iterrows()]
        changes = [f for f in self.r.findings if f.family == "thresholds"]
        if changes:
            lead = tr("thresholds.changed", n=len(changes), texts=" ".join(f.text for f in changes))
        else:
            lead = tr("thresholds.unchanged")
        blocks = [p(lead), table(cols("comparison", "source", "threshold_set", "previous_period", "this_period",
                                      "share_this_period", "first_seen", "last_seen"), rows, numeric=(3, 4, 5))]
        return self._section("thresholds", blocks)

    # labels -------------------------------------------------------------------------
    def labels(self) -> dict:
        lab = self.r.labels_table
        if lab is None:
            return self._section("labels", [p(tr("labels.none"), "empty")])
        if lab.empty:
            return self._section("labels", [p(tr("labels.none_matched"), "empty")])
        rows = []
        for _, r in lab.iterrows():
            rows.append([r["comparison"], {"text": r["level"], "cls": "inforce"
                                           if r["level"] == level_for(self.levels, r["comparison"]) else None},
                         rate(r["false_accepts"], r["n_impostor"], r["far_low"], r["far_high"]),
                         rate(r["false_rejects"], r["n_genuine"], r["frr_low"], r["frr_high"]),
                         _far_text(r["false_accepts"], r["n_impostor"], r["far_low"], r["far_high"])])
        return self._section("labels", [
            p(tr("labels.intro", n=self.r.n_labels, matched=self.r.n_labels_matched)),
            table(cols("comparison", "level", "far", "frr", "false_accepts"), rows, numeric=(2, 3), wrap=(4,))])

    # quality ------------------------------------------------------------------------
    def quality(self) -> dict:
        dq = self.s.data_quality()
        if dq.empty:
            return self._section("quality", [p(tr("quality.none"), "empty")])
        sources = sorted(dq["source"].unique())
        notes = dict(zip(dq["check"], dq["note"]))
        rows = []
        for check in dict.fromkeys(dq["check"]):
            sub = dq[dq["check"] == check].set_index("source")
            cells = []
            for src in sources:
                n, of = int(sub.loc[src, "n"]), int(sub.loc[src, "of"])
                cells.append(muted("0") if n == 0 else {"text": f"{n:,}", "cls": "warn", "n": tr("quality.of", n=of)})
            rows.append([{"text": tr_or(f"quality.check.{check}.name", check.replace("_", " ")),
                          "sub": tr_or(f"quality.check.{check}.note", notes[check])}, *cells])
        blocks = [table([*cols("check"), *sources], rows, numeric=tuple(range(1, len(sources) + 1)), wrap=(0,),
                        cls="quality")]
        q = self.s.quarantine("current")
        if len(q):
            blocks.append(p(tr("quality.reasons")))
            blocks.append(table(cols("reason", "records"), [[r["reason"], f"{int(r['records']):,}"]
                                                           for _, r in q.head(10).iterrows()], numeric=(1,), wrap=(0,)))
        return self._section("quality", blocks)

    # method -------------------------------------------------------------------------
    def method(self) -> dict:
        s, info = self.s, self.r.info
        tb = s.time_basis("current")
        rows = []
        for _, r in tb.iterrows():
            rows.append([r["source"], tr_or(f"method.basis.{r['time_basis']}", r["time_basis"]), f"{int(r['n']):,}"])
        last = info.get("last_day")
        cut = ""
        if info.get("partial") and last is not None:
            day = pd.Timestamp(last * 86_400_000_000_000, tz="UTC")
            cut = tr("method.partial_day", day=f"{day:%Y-%m-%d}", last=f"{s.data_end:%Y-%m-%d %H:%M}",
                     zone=s.tz or "UTC")
        blocks = [
            p(tr("method.dating")),
            table(cols("source", "dated_by", "sessions"), rows, numeric=(2,)),
            p(tr("method.detail_once")),
            p(tr("method.changes", detector=_detector_text(info), primary=PRIMARY_SHARE, min_effects=_min_effects(),
                 cut=cut, false_alarm=_false_alarm_text(self.r.alpha), measured=_measured_text())),
            p(tr("method.ranking", levels=_ranking_levels(self.r.alpha))),
            p(tr("method.counting", engine=s.engine)),
        ]
        return self._section("method", blocks)

    # decision -----------------------------------------------------------------------
    def decision(self) -> dict:
        t = _decision_rows(self.s, self.levels, self.r.findings)
        if t.empty:
            return self._section("decision", [p(tr("common.no_thresholds"), "empty")])
        rows = []
        for _, r in t.iterrows():
            level = tr("decision.configured_level", threshold=r["threshold"]) if r["level"] == CONFIGURED \
                else r["level"]
            rows.append([r["comparison"], r["source"], {"text": level, "cls": "inforce" if r["in_force"] else None},
                         rate(r["passed"], r["n"], r["ci_low"], r["ci_high"]),
                         rate(round(r["pass_rate_previous"] * r["n_previous"]) if r["n_previous"] else 0,
                              r["n_previous"]),
                         change(r["change"], r["change_low"], r["change_high"], r["significant"],
                                r["n"] < MIN_N or r["n_previous"] < MIN_N),
                         "" if pd.isna(r["reject_if_stricter"]) else f"{int(r['reject_if_stricter']):,}",
                         "" if pd.isna(r["psi"]) else f"{r['psi']:.3f}",
                         {"text": tr(f"decision.{r['recommendation']}"),
                          "cls": "warn" if r["recommendation"] == "review" else None},
                         r["reason"]])
        blocks = [p(tr("decision.rule", material=MATERIAL_CHANGE * 100, psi=PSI_ACT, ks=PSI_CONFIRM,
                       min_n=MIN_N)),
                  table(cols("comparison", "source", "level", "pass_rate", "previous", "change", "reject_if_stricter",
                             "psi", "decision", "reason"), rows, numeric=(3, 4, 5, 6, 7), wrap=(9,), cls="decision")]
        return self._section("decision", blocks)

    # plumbing -----------------------------------------------------------------------
    def _section(self, key: str, blocks: list) -> dict:
        return {"id": key, "heading": tr(f"sections.{key}.heading"), "lead": tr(f"sections.{key}.lead"),
                "blocks": blocks}

    def all(self) -> list[dict]:
        builders = {"headline": self.headline, "changes": self.changes, "segments": self.segments,
                    "funnel": self.funnel, "pass-rates": self.pass_rate_section, "confidence": self.confidence,
                    "would-flip": self.would_flip, "anti-spoofing": self.anti_spoofing, "errors": self.errors,
                    "drift": self.drift, "thresholds": self.thresholds, "labels": self.labels,
                    "quality": self.quality, "method": self.method, "decision": self.decision}
        out = {}
        # changes first: it sets each finding's figure anchor, which the box links to
        for key in ["changes", *[k for k in T.SECTION_IDS if k != "changes"]]:
            try:
                out[key] = builders[key]()
            except Exception as e:  # one broken section must not cost the whole report
                warnings.warn(f"review report: section {key!r} failed: {type(e).__name__}: {e}", RuntimeWarning,
                              stacklevel=2)
                sec = self._section(key, [p(tr("report.section_failed", error=f"{type(e).__name__}: {e}"), "error")])
                out[key] = sec
        return [out[k] for k in T.SECTION_IDS]


def _days(day_numbers) -> pd.DatetimeIndex:
    from ._summary import day_start

    return day_start(np.asarray(day_numbers, dtype=np.int64))


def _by_origin(e: pd.DataFrame, totals: pd.DataFrame, n: int, rest: bool = False) -> pd.DataFrame:
    """The ``n`` largest error rows, those of one origin together (origins in ``totals``' order), so
    each origin's cumulative share reads as its own Pareto; with ``rest``, the other rows after them."""
    order = {k: i for i, k in enumerate(totals["origin"])}
    top = e.head(n)
    top = top.assign(_o=top["origin"].map(order)).sort_values("_o", kind="stable").drop(columns="_o")
    return pd.concat([top, e.iloc[n:]]) if rest else top


def _code(r) -> str:
    """An error code as shown: with its detail (a Baidu stat api, a Megvii verify field) when it has one."""
    return r["code"] if pd.isna(r["detail"]) else tr("finding.code_detail", code=r["code"], detail=r["detail"])


def _billing(r) -> dict:
    parts = [tr(f"billing.{c}", n=int(r[c])) for c in ("billed", "not_billed") if r[c]]
    if r["billing_unknown"]:
        parts.append(tr("billing.unknown", n=int(r["billing_unknown"])) if parts else tr("billing.unknown_only"))
    return {"text": join(parts), "cls": "warn" if r["billed"] else "muted"}


def _far_text(k, n, lo, hi) -> str:
    """False accepts as a reader should see them: never a bare 0% when none was observed
    (:func:`faceanalytics.analytics._stats.describe_rate`, in words of the catalogue)."""
    from ..analytics._stats import small_percent

    k, n = _int(k), _int(n)
    if n == 0:
        return tr("labels.far.no_observations")
    if k == 0:
        return tr("labels.far.none", n=n, high=small_percent(float(hi)))
    return tr("labels.far.some", k=k, n=n, rate=small_percent(k / n), low=small_percent(float(lo)), high=small_percent(float(hi)))


def _qvalue(q) -> str:
    if q is None or not np.isfinite(q):
        return ""
    return "< 1e-12" if q < 1e-12 else f"{q:.2g}"


def _num(x, digits: int = 3) -> str:
    return tr("na") if x is None or not np.isfinite(float(x)) else f"{float(x):.{digits}f}"


def _pvalue(x) -> str:
    if x is None or not np.isfinite(float(x)):
        return tr("na")
    return "< 0.001" if x < 0.001 else f"{float(x):.3f}"


def _flag(flag: str) -> dict:
    known = flag in ("stable", "watch", "act")
    return {"text": tr_or(f"flag.{flag}", flag), "cls": f"flag {flag}" if known else "muted"}


def _min_effects() -> str:
    from ._findings import MIN_EFFECT, MIN_RATIO

    return tr("method.min_effects", rate=MIN_EFFECT["pass_rate"] * 100, error=MIN_EFFECT["error"] * 100,
              ratio=MIN_RATIO["error"])


def _ranking_levels(alpha: float) -> str:
    """The false-discovery levels that rank the findings (:func:`._findings.evidence_level`), as text."""
    from ._findings import evidence_levels

    return join(f"{x * 100:g}%" for x in evidence_levels(alpha))


def _detector_text(info: dict) -> str:
    """What the change test is (:func:`faceanalytics.analytics.detect_changes`), with its run's numbers."""
    from ..analytics._changes import MAX_WAVE

    args = info.get("method_args")
    if not info.get("method") or not args:
        return tr("method.no_series")
    return tr("method.detector", max_wave=MAX_WAVE, alpha=args["alpha"], m=args["m"])


def _false_alarm_text(alpha: float) -> str:
    """:func:`faceanalytics.analytics._changes.false_alarm_text` in the catalogue's words."""
    import math

    from ..analytics._changes import FALSE_ALARM_RATE

    used = "" if math.isclose(alpha, 0.05) else tr("method.false_alarm_used", alpha=alpha)
    return tr("method.false_alarm", binomial=FALSE_ALARM_RATE["binomial"],
              overdispersed=FALSE_ALARM_RATE["overdispersed"], used=used)


def _measured_text() -> str:
    from ._findings import MEASURED

    return tr("method.measured", **MEASURED)


DECISION_COLUMNS = ["source", "comparison", "level", "n", "pass_rate", "ci_low", "ci_high", "n_previous",
                    "pass_rate_previous", "change", "change_low", "change_high", "reject_if_stricter",
                    "pass_if_looser", "psi", "threshold", "threshold_previous", "recommendation", "reason"]


def decision_table(summaries, levels=None, findings=()) -> pd.DataFrame:
    """Notebook 02's keep/review table: one row per source, comparison and level, and per
    threshold Baidu's plan configures (level :data:`CONFIGURED`) (:data:`DECISION_COLUMNS`);
    see :func:`_decide` for the rule.  ``recommendation``
    is a code (``keep``/``review``); ``reason`` is text in the current language.
    ``findings``: the review's, whose threshold changes the table names."""
    t = _decision_rows(summaries, levels or {"*": "1e-4"}, findings)
    return t[DECISION_COLUMNS] if len(t) else pd.DataFrame(columns=DECISION_COLUMNS)


def _decision_rows(summaries, levels, findings=()) -> pd.DataFrame:
    """The decision table with the counts behind it (``passed``, ``significant``, ``in_force``).

    A level's threshold counts as changed when the review found a new reference-threshold
    set for the kind and source (``findings`` of family ``thresholds``, :func:`_threshold_moves`),
    the rule the Threshold changes section states; not when the most common threshold of one
    period differs from the other's (``threshold``, ``threshold_previous``): providers return
    sets side by side at a steady mix, whose most common one flips between periods by chance.

    A PSI of at least :data:`PSI_ACT` counts when the two-sample KS test on the same counts
    confirms the shift (p < :data:`PSI_CONFIRM`): PSI alone has no allowance for sample size,
    and with fifty comparisons a side (a rare kind, ``ref3`` in gen_records' payloads) it
    averages about 0.35 between two draws of one distribution."""
    s = summaries
    key = ["source", "comparison"]
    rates = s.pass_rates("current", key)
    if rates.empty:
        return _configured_rows(s, findings)
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
    psi = s.distribution_drift(by=key)[[*key, "psi", "ks_pvalue"]]
    out = out.merge(psi, on=key, how="left")
    out = out.merge(_typical(s, "current", "threshold"), on=[*key, "level"], how="left")
    out = out.merge(_typical(s, "previous", "threshold_previous"), on=[*key, "level"], how="left")
    out["n_previous"] = out["n_previous"].fillna(0).astype("int64")
    out["in_force"] = [lv == level_for(levels, c) for lv, c in zip(out["level"], out["comparison"])]
    out = _decide(out, _changes_within(findings), _threshold_moves(findings))
    order = {k: i for i, k in enumerate(_comparison_order(out["comparison"].dropna()))}
    out = out.assign(_o=out["comparison"].map(order)).sort_values(["_o", "source", "level"], kind="stable")
    baidu = _configured_rows(s, findings)
    out = out.drop(columns="_o")
    return (pd.concat([out, baidu], ignore_index=True) if len(baidu) else out).reset_index(drop=True)


CONFIGURED = "configured"       # the decision table's level of a Baidu row: the plan's threshold


def _configured_rows(s, findings) -> pd.DataFrame:
    """Baidu's rows of the decision table: one per source, comparison and threshold configured
    in the plan (``level`` :data:`CONFIGURED`, ``threshold`` the value; the one in force), by
    the rule of the reference levels' rows: a significant change of at least
    :data:`MATERIAL_CHANGE` against the previous period, a change within the period (the
    review's ``configured`` findings, per source and comparison), a shifted score
    distribution, too few comparisons this period.  A Baidu-only deployment had no row to
    decide on."""
    from .. import analytics as A

    by = ["source", "comparison", "threshold"]
    cur = s.configured_pass_rates("current", ["source", "comparison"])
    if cur.empty:
        return pd.DataFrame()
    prev = s.configured_pass_rates("previous", ["source", "comparison"])
    drift = A.pass_rate_drift_from_rates(prev.assign(level=CONFIGURED), cur.assign(level=CONFIGURED), by)
    out = cur[[*by, "n", "passed", "pass_rate", "ci_low", "ci_high"]].merge(
        drift.rename(columns={"n_baseline": "n_previous", "pass_rate_baseline": "pass_rate_previous"})[
            [*by, "n_previous", "pass_rate_previous", "change", "change_low", "change_high", "significant"]],
        on=by, how="left")
    psi = s.distribution_drift(by=["source", "comparison"])[["source", "comparison", "psi", "ks_pvalue"]]
    out = out.merge(psi, on=["source", "comparison"], how="left")
    out["n_previous"] = out["n_previous"].fillna(0).astype("int64")
    out = out.assign(level=CONFIGURED, reject_if_stricter=pd.array([pd.NA] * len(out), dtype="Int64"),
                     pass_if_looser=pd.array([pd.NA] * len(out), dtype="Int64"), threshold_previous=out["threshold"],
                     in_force=True)
    return _decide(out, _changes_within(findings, family=CONFIGURED))


def _decide(out: pd.DataFrame, *named: dict) -> pd.DataFrame:
    """``out`` with its ``recommendation`` and ``reason``: review when the change against the
    previous period is significant and at least :data:`MATERIAL_CHANGE`, a reason of ``named``
    ({(source, comparison, level): reasons}) names the row, the confidence distribution shifted
    (a PSI the KS test confirms), or this period has too few comparisons; else keep."""
    rec, why = [], []
    for _, r in out.iterrows():
        reasons = []
        if r["significant"] is True and abs(r["change"]) >= MATERIAL_CHANGE:
            reasons.append(tr("decision.why.change", change=100 * r["change"], low=100 * r["change_low"],
                              high=100 * r["change_high"]))
        for reasons_of in named:
            reasons += reasons_of.get((r["source"], r["comparison"], r["level"]), [])
        if pd.notna(r["psi"]) and r["psi"] >= PSI_ACT and not r["ks_pvalue"] >= PSI_CONFIRM:
            reasons.append(tr("decision.why.psi", psi=r["psi"]))
        if r["n"] < MIN_N:
            reasons.append(tr("decision.why.few", current=f"{r['n']:,}"))
        rec.append("review" if reasons else "keep")
        why.append(tr("sep.clause").join(reasons))
    return out.assign(recommendation=rec, reason=why)


def _changes_within(findings, family: str = "pass_rate") -> dict[tuple, list[str]]:
    """{(source, comparison, level): reasons}: each pass-rate change the review found within
    the period at the level, pooled or in one segment (the box names it; the table must too,
    even when the period's rate against the previous one barely moves).  ``family``
    ``"configured"``: Baidu's, level ``"configured"``."""
    out: dict[tuple, list[str]] = {}
    for f in findings:
        if f.family != family or f.change_points is None:
            continue
        seg = f.segment
        where = tr("decision.why.within_where", segment=T.segment_text(seg["key"], seg["value"])) if seg else ""
        start = f"{pd.Timestamp(f.start):%Y-%m-%d}"
        when = tr("decision.why.within_wave", start=start, last=f"{pd.Timestamp(f.end) - ONE_DAY:%Y-%m-%d}") \
            if f.kind == "wave" and f.end else tr("decision.why.within_step", start=start)
        out.setdefault((f.source, f.comparison, f.level or family), []).append(
            tr("decision.why.within", where=where, change=f.change_points, low=f.ci_low_points,
               high=f.ci_high_points, when=when))
    return out


def _threshold_moves(findings) -> dict[tuple, list[str]]:
    """{(source, comparison, level): reasons}: each threshold finding's new threshold at the
    level, beside the one it replaced when that is known and differs."""
    out: dict[tuple, list[str]] = {}
    for f in findings:
        if f.family != "thresholds":
            continue
        start = f"{pd.Timestamp(f.start):%Y-%m-%d}"
        for lv, after in (f.thresholds or {}).items():
            before = (f.replaces or {}).get(lv)
            if before is None:
                text = tr("decision.why.threshold_new", after=after, start=start)
            elif before != after:
                text = tr("decision.why.threshold", before=before, after=after, start=start)
            else:
                continue
            out.setdefault((f.source, f.comparison, lv), []).append(text)
    return out


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

