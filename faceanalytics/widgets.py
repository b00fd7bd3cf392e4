"""Notebook explorers: move a cut and see what it does, on a frame or on 100M rows where they live.

    >>> ex = threshold_explorer(comparisons, sessions)                      # doctest: +SKIP
    >>> ex = threshold_explorer("data", since="2026-04-01", until="2026-10-01", segments=["channel"])  # doctest: +SKIP
    >>> ex.controls["level"].value = "custom"; ex.controls["cut"].value = 72.5   # doctest: +SKIP
    >>> ex.state()["to_reject"], ex.state()["nearest"]                      # doctest: +SKIP

:func:`threshold_explorer` (comparisons; pass = ``confidence >= threshold``) and
:func:`genuineness_explorer` (anti-spoofing checks; flagged = ``confidence > threshold``)
share one layout: pick the comparison kind / attack type, a segment and a period, judge
the rows at a level (each row at *its own* threshold) or at one custom cut, and read the
distribution with the cut, the counts, how many rows and sessions would flip against the
current level, and the rows nearest the cut (ids masked).

This module is the user interface only.  The numbers come from :mod:`faceanalytics._explore`:
the exact confidence histogram of each selection (taken where the data lives for a data
directory, by pandas for frames) indexed by :class:`faceanalytics.analytics._index.CutIndex`,
so a change costs microseconds once a selection's histogram is there, and the rows nearest
the cut are read with one narrow query.  Every word comes from the message catalogues (``lang=``;
:mod:`faceanalytics._widget_text`).
The figure (a matplotlib ``Figure``, no pyplot) is kept and its artists updated; in a
notebook it is shown as a PNG in the ``interactive_output`` area, re-rendered only when
something changed.  Over a data directory in a notebook, the nearest rows are fetched in a
background thread (the counts and the figure do not wait for them); :meth:`wait` waits.
"""
from __future__ import annotations

import functools
import html
import io
import os
import threading

import ipywidgets as widgets
import numpy as np
import pandas as pd

from . import _widget_text as X
from ._i18n import language, normalize_lang, tr
from ._explore import (ALL, COMPARISONS, CUSTOM, GENUINENESS, MISSING, NO_RULE, NO_TIME, DataSource, Explorer,
                       FrameSource, Spec, _no_rows, pick_nearest)
from .engines._review import OTHER
from .report._shown import shown_key, value_labels
from .analytics import MIN_N
from .analytics._core import level_name, number
from .analytics._stats import proportion_ci
from .plots._common import CONFIGURED_COLOR, LEVEL_COLORS, NEUTRAL_COLOR, PASS_COLOR, REJECT_COLOR

__all__ = ["threshold_explorer", "genuineness_explorer", "ThresholdExplorer", "GenuinenessExplorer"]


def _in_kernel() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:                       # pragma: no cover - IPython comes with ipywidgets
        return False
    ip = get_ipython()
    return ip is not None and getattr(ip, "kernel", None) is not None


class _Latest:
    """Runs the latest job submitted in one background thread; jobs superseded while they
    waited are dropped (a slider dragged past ten cuts fetches the rows of the last one)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._job = None
        self._thread: threading.Thread | None = None
        self._idle = threading.Event()
        self._idle.set()

    def submit(self, job) -> None:
        with self._lock:
            self._job = job
            self._idle.clear()
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="faceanalytics-explorer", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            with self._lock:
                job, self._job = self._job, None
                if job is None:
                    self._thread = None
                    self._idle.set()
                    return
            job()

    def wait(self, timeout: float | None = None) -> bool:
        return self._idle.wait(timeout)


def _speaks(method):
    """Run ``method`` in the explorer's language (observers and the background thread do not
    inherit the caller's context)."""
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with language(self._lang):
            return method(self, *args, **kwargs)
    return wrapper


class _Explorer(widgets.VBox):
    """Controls, a figure, the counts and the nearest rows; see :func:`threshold_explorer`."""

    _spec: Spec

    def __init__(self, data, sessions: pd.DataFrame | None = None, *, since=None, until=None, freq: str | None = "W",
                 segments=None, engine="auto", max_segment_values: int = 30, time_column: str = "session_time",
                 nearest: int = 10, binwidth: float | None = None, current: str | None = None, log: bool = False,
                 continuous_update: bool = False, background: bool | None = None, figsize=(7.5, 3.8),
                 lang: str = "en"):
        self._lang = normalize_lang(lang)
        # "5" or 2.5 were taken without a word (compared with nunique later, or never)
        max_segment_values = number(max_segment_values, "max_segment_values", low_ok=True, integer=True)
        with language(self._lang):
            spec = self._spec
            if isinstance(data, pd.DataFrame):
                _frame_engine(engine)
                source = FrameSource(data, sessions, spec, freq=freq, time_column=time_column, since=since, until=until,
                                     segments=segments, max_segment_values=max_segment_values)
            elif isinstance(data, (str, os.PathLike)):
                if sessions is not None:
                    raise TypeError("sessions= is for tables in memory; a data directory has its own sessions table")
                if engine == "pandas":              # asked for: the rows loaded, then counted as a frame's
                    from .engines import load_placed

                    # (placed as they are read, the window chosen on placed times: not placed again)
                    source = FrameSource(load_placed(data, spec.table, since=since, until=until),
                                         load_placed(data, "sessions", since=since, until=until), spec, freq=freq,
                                         time_column=time_column, segments=segments,
                                         max_segment_values=max_segment_values, placed=True)
                else:
                    source = DataSource(data, spec, freq=freq, since=since, until=until, segments=segments,
                                        engine=engine)
            else:
                raise TypeError(f"expected a DataFrame or a data directory, not {type(data).__name__}")
            self.model = m = Explorer(source, spec, nearest=nearest, binwidth=binwidth)
            ov = m.overview
            self._log = log
            self._noun = X.noun(spec.table)
            self._background = (background if background is not None
                                else isinstance(source, DataSource) and _in_kernel())
            self._jobs = _Latest()
            self._seq = 0
            # controls
            names = [MISSING if v is None else str(v) for v in ov.kinds]
            self._kind_index = {name: i for i, name in enumerate(names)}
            kind_opts = [(X.kind_label(spec.kind_column, v), name) for v, name in zip(ov.kinds, names)] or \
                [(tr("explorer.no_rows_option"), "")]
            if all(label == value for label, value in kind_opts):
                kind_opts = [value for _, value in kind_opts]       # codes shown as they are: plain options
            kind = widgets.Dropdown(options=kind_opts, description=X.word(spec.kind_column),
                                    value="faceid" if "faceid" in names else names[0] if names else "")
            shown = _segment_shown(source.segment_options)
            seg_opts = [(tr("explorer.all_segments"), ALL)] + [
                (X.segment_label(shown_key(c), shown.get((c, v), v), MISSING, OTHER), (c, v))
                for c, v in source.segment_options]
            segment = widgets.Dropdown(options=seg_opts, value=ALL, description=tr("explorer.segment"))
            per_opts = [(tr("explorer.all_periods"), ALL)] + [(X.period_label(p, source.freq, NO_TIME), p)
                                                              for p in ov.periods]
            period = widgets.Dropdown(options=per_opts, value=ALL, description=tr("explorer.period"))
            rules = ov.rules
            rule_opts = [(X.rule(r), r) for r in rules] + [(tr("explorer.custom_option"), CUSTOM)]
            cur_default = current if current in rules else \
                ("1e-4" if "1e-4" in rules else (rules[0] if rules else None))
            level = widgets.ToggleButtons(options=rule_opts, value=cur_default or CUSTOM,
                                          description=tr("explorer.judge_at"), style={"button_width": "auto"})
            cur = widgets.Dropdown(options=[(X.rule(r), r) for r in rules] or [(tr("explorer.no_rule"), NO_RULE)],
                                   value=cur_default or NO_RULE, description=tr("explorer.current"))
            lo, hi = spec.scale
            cut = widgets.FloatSlider(value=(lo + hi) / 2, min=lo, max=hi, step=spec.step, readout_format=".3f",
                                      description=tr("explorer.cut"), continuous_update=continuous_update,
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

    @_speaks
    def _before_change(self, change) -> None:
        """Keep the controls consistent: rules the kind has, slider at the level's threshold."""
        c = self.controls
        m = self.model
        k = self._kind_arg()
        if change["owner"] is c["kind"]:
            if c["level"].value != CUSTOM and not m.rule_available(k, c["level"].value):
                c["level"].value = next((v for _, v in c["level"].options if m.rule_available(k, v)), CUSTOM)
            if c["current"].value != NO_RULE and not m.rule_available(k, c["current"].value):
                alt = next((v for _, v in c["current"].options if m.rule_available(k, v)), None)
                if alt is not None:
                    c["current"].value = alt
        level = c["level"].value
        c["cut"].disabled = level != CUSTOM
        if level != CUSTOM:
            self._status()
            x = m.cut_line(k, self._segment_arg(), self._period_arg(), level)
            if not np.isnan(x):
                c["cut"].value = x

    def _kind_arg(self) -> int:
        return self._kind_index.get(self.controls["kind"].value, 0)

    def _segment_arg(self):
        return self.controls["segment"].value

    def _period_arg(self):
        v = self.controls["period"].value
        if isinstance(v, str) and v == ALL:
            return ALL
        return self.model.overview.periods.index(v)

    def _status(self) -> None:
        """Say so before a selection is counted where the data lives (it takes a moment)."""
        if isinstance(self.model.source, DataSource) and not self.model.is_cached(
                self._kind_arg(), self._segment_arg(), self._period_arg()):
            self.counts_html.value = f"<p><i>{html.escape(tr('explorer.counting', noun=self._noun, where=self._where()))}</i></p>"

    @_speaks
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
        """The last computed numbers: counts, flips, cut-line position and the nearest rows
        (``None`` while they are being fetched in the background: :meth:`wait`)."""
        out = dict(self._state)
        if isinstance(out.get("nearest"), pd.DataFrame):
            out["nearest"] = out["nearest"].copy()
        return out

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the rows nearest the cut being fetched in the background (True: done)."""
        return self._jobs.wait(timeout)

    @property
    def nearest(self) -> pd.DataFrame:
        """The rows nearest the cut (masked session ids), as shown in the table."""
        return self.state()["nearest"]

    # -- computing and drawing

    def _refresh(self, kind: int, level, current, cut: float) -> None:
        m, spec = self.model, self._spec
        seg, per = self._segment_arg(), self._period_arg()
        where = self._where()
        self._status()
        r = m.query(kind, seg, per, level, cut, current)
        pos_key, neg_key = spec.positive.replace(" ", "_"), spec.negative.replace(" ", "_")
        st = {spec.kind_column: (m.overview.kinds[kind] if m.overview.kinds else None),
              "segment": seg, "period": self.controls["period"].value,
              "level": level, "cut": cut if level == CUSTOM else r["line"], "current": current,
              "rows": r["rows"], "scored": r["scored"], "n": r["n"], pos_key: r["positive"], neg_key: r["negative"]}
        st["rate"] = r["positive"] / r["n"] if r["n"] else np.nan
        lo, hi = proportion_ci(np.array([r["positive"]]), np.array([r["n"]]))
        st["ci_low"], st["ci_high"] = float(lo[0]), float(hi[0])
        st["low_n"] = r["n"] < MIN_N
        st["n_current"], st[f"{pos_key}_current"] = r["n_current"], r["positive_current"]
        st[spec.to_negative], st[spec.to_positive] = r["to_negative"], r["to_positive"]
        st["line"], st["line_min"], st["line_max"] = r["line"], r["line_min"], r["line_max"]
        st["current_line"] = r["current_line"]
        if not m.overview.kinds or r["rows"] == 0:
            st["message"] = tr("explorer.empty", noun=self._noun, where=where)
        elif r["n"] == 0:
            st["message"] = tr("explorer.no_threshold", noun=self._noun, where=where, rule=self._rule_text(level))
        else:
            st["message"] = None
        self._seq += 1
        seq = self._seq
        self._state = st
        self._draw(r, st, kind, level, current)
        if st["message"] is not None:
            self._apply_rows(seq, pick_nearest(_no_rows(), 0, spec), (r["to_negative"], r["to_positive"]), where)
            return
        args = (kind, seg, per, level, cut, current, r)
        if self._background:
            st["nearest"] = None
            st[f"sessions_{spec.to_negative}"] = st[f"sessions_{spec.to_positive}"] = None
            self.counts_html.value = self._counts_text(st, level, current, where)
            self.table_html.value = f"<p><i>{html.escape(tr('explorer.fetching', noun=self._noun))}</i></p>"
            self._jobs.submit(lambda: self._fetch_rows(seq, args, where))
        else:
            self._apply_rows(seq, *self.model.rows(*args), where)

    @_speaks
    def _fetch_rows(self, seq: int, args, where: str) -> None:
        """The background job: the rows nearest the cut, shown if nothing changed meanwhile."""
        if seq != self._seq:
            return
        try:
            nearest, sessions = self.model.rows(*args)
        except Exception as e:          # shown, not raised: the thread has no caller to tell
            if seq == self._seq:
                self.table_html.value = f"<p>{html.escape(tr('explorer.error', error=f'{type(e).__name__}: {e}'))}</p>"
            return
        self._apply_rows(seq, nearest, sessions, where)

    def _apply_rows(self, seq: int, nearest: pd.DataFrame, sessions, where: str) -> None:
        if seq != self._seq:
            return
        spec, st = self._spec, dict(self._state)
        st["nearest"] = nearest
        st[f"sessions_{spec.to_negative}"], st[f"sessions_{spec.to_positive}"] = sessions
        self._state = st
        self.counts_html.value = self._counts_text(st, st["level"], st["current"], where)
        self.table_html.value = self._table_text(st)

    def _rule_text(self, rule) -> str:
        return X.rule(rule)

    def _where(self) -> str:
        c = self.controls
        return " · ".join([c["kind"].label or "", c["segment"].label or "", c["period"].label or ""])

    def _build_figure(self, figsize) -> None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        m = self.model
        fig = Figure(figsize=figsize)
        FigureCanvasAgg(fig)
        # Fixed margins: a layout engine would re-measure every text on every draw (~40 ms).
        fig.subplots_adjust(left=0.1, right=0.98, top=0.85, bottom=0.14)
        ax = fig.add_subplot()
        self.figure, self.ax = fig, ax
        self._legend_handles = None
        self._stairs = ax.stairs(np.zeros(m.nbins), m.edges, fill=True, color=NEUTRAL_COLOR, alpha=0.9,
                                 label=self._noun)
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
        ax.set_xlabel(tr("explorer.x_label", scale="0–100" if self._spec.scale[1] == 100 else "0–1"))
        ax.set_ylabel(tr("explorer.y_label", noun=self._noun, binwidth=f"{m.binwidth:g}"))

    @staticmethod
    def _span(patch, a: float, b: float) -> None:
        lo, hi = min(a, b), max(a, b)
        if hasattr(patch, "set_width"):                     # matplotlib >= 3.9: a Rectangle
            patch.set_x(lo)
            patch.set_width(hi - lo)
        else:                                               # older: a Polygon in axes-x/data-y
            patch.set_xy([[lo, 0], [lo, 1], [hi, 1], [hi, 0], [lo, 0]])

    def _draw(self, r: dict, st: dict, kind: int, level, current) -> None:
        m, spec, ax = self.model, self._spec, self.ax
        counts = r["hist"].astype(float)
        self._stairs.set_data(values=counts)
        top = float(counts.max()) if len(counts) else 0.0
        if self._log:
            ax.set_ylim(0.8, max(top, 1.0) * 2)
        else:
            ax.set_ylim(0, max(top, 1.0) * 1.08)
        ax.set_xlim(*(m.overview.kind_extent[kind] if m.overview.kinds else spec.scale))
        color = LEVEL_COLORS.get(level, "#000000") if level != CUSTOM else "#000000"
        has_cut = not np.isnan(st["line"]) and st["message"] is None
        self.cut_line.set_visible(has_cut)
        if has_cut:
            self.cut_line.set_xdata([st["line"], st["line"]])
            self.cut_line.set_color(color)
            x = f"{st['line']:g}"
            self.cut_line.set_label(tr("explorer.cut_custom", x=x) if level == CUSTOM
                                    else tr("explorer.cut_rule", rule=self._rule_text(level), x=x))
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
            self._current_line.set_label(tr("explorer.current_line", rule=self._rule_text(current), x=f"{cur:g}"))
        flips = st[spec.to_negative] + st[spec.to_positive]
        show_flip = has_cut and show_cur and flips > 0 and st["line"] != cur
        self._flip.set_visible(show_flip)
        if show_flip:
            self._span(self._flip, st["line"], cur)
            more_negative = st[spec.to_negative] >= st[spec.to_positive]
            self._flip.set_color(REJECT_COLOR if more_negative == (spec.positive == "pass") else PASS_COLOR)
            self._flip.set_label(tr("explorer.would_flip", n=flips))
        else:
            self._flip.set_label("_flip")
        if st["message"]:
            ax.set_title(st["message"], fontsize="medium")
        else:
            pos = st[spec.positive.replace(" ", "_")]
            at = tr("explorer.at_custom", x=f"{st['line']:g}") if level == CUSTOM else \
                tr("explorer.at_rule", rule=self._rule_text(level))
            words = dict(where=self._where(), positive=pos, n=st["n"], positive_word=X.word(spec.positive), at=at)
            ax.set_title(tr("explorer.title", **words) if st["low_n"]        # a few rows: counts only
                         else tr("explorer.title_rate", rate=X.pct(pos, st["n"]), **words),
                         fontsize="medium")
        self._band.set_label(tr("explorer.thresholds_vary", low=f"{st['line_min']:g}", high=f"{st['line_max']:g}")
                             if vary else "_band")
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
        if tr("meta.figure_font") == "cjk":             # the report's font for Chinese, on every text
            from .report._figures import language_font

            language_font(self.figure)

    def _counts_text(self, st: dict, level, current, where: str) -> str:
        spec = self._spec
        e = html.escape
        if st["message"]:
            return f"<p><b>{e(st['message'])}</b></p>"
        pos_key = spec.positive.replace(" ", "_")
        positive, negative = X.word(spec.positive), X.word(spec.negative)
        n, pos = st["n"], st[pos_key]
        if st["low_n"]:
            rate = e(tr("explorer.too_few", min_n=MIN_N))
        else:
            rate = e(tr("explorer.rate_ci", rate=X.pct(pos, n), low=f"{100 * st['ci_low']:.1f}",
                        high=f"{100 * st['ci_high']:.1f}"))
        at = tr("explorer.row_at_custom", x=f"{st['cut']:g}") if level == CUSTOM else \
            tr("explorer.row_at_rule", rule=self._rule_text(level))
        rows = [f"<tr><td>{e(at)}</td><td>{n:,}</td><td>{pos:,}</td><td>{n - pos:,}</td><td>{rate}</td></tr>"]
        if current is not None:
            n0, p0 = st["n_current"], st[f"{pos_key}_current"]
            rows.append(f"<tr><td>{e(tr('explorer.row_current', rule=self._rule_text(current)))}</td><td>{n0:,}</td>"
                        f"<td>{p0:,}</td><td>{n0 - p0:,}</td><td>{e(X.pct(p0, n0))}</td></tr>")
        head = (f"<tr><th></th><th>{e(tr('explorer.col_n'))}</th><th>{e(positive)}</th><th>{e(negative)}</th>"
                f"<th>{e(tr('explorer.col_rate', positive=positive))}</th></tr>")
        table = "<table style='border-collapse:collapse'>" + head + "".join(rows) + "</table>"
        if current is None:
            flip = f"<p>{e(tr('explorer.no_current'))}</p>"
        elif st["n_current"] == 0:
            flip = f"<p>{e(tr('explorer.no_current_here', rule=self._rule_text(current)))}</p>"
        else:
            a, b = spec.to_negative, spec.to_positive
            flip = "<p>" + tr(
                "explorer.would_flip_text", rule=e(self._rule_text(current)), down=f"<b>{st[a]:,}</b>",
                up=f"<b>{st[b]:,}</b>", positive=e(positive), negative=e(negative),
                sessions_down=e(X.sessions(st.get("sessions_" + a))), sessions_up=e(X.sessions(st.get("sessions_" + b))),
                n=st["n_current"], noun=e(self._noun)) + "</p>"
        extra = ""
        if spec.missing_in_scope and st["rows"] > 0:
            missing = st["rows"] - st["scored"]
            if missing:
                extra = f"<p>{e(tr('explorer.without_confidence', missing=missing, noun=self._noun, negative=negative))}</p>"
        return f"<p><b>{e(where)}</b></p>{table}{flip}{extra}"

    def _table_text(self, st: dict) -> str:
        e = html.escape
        near = st["nearest"]
        if st["message"] or near is None or near.empty:
            return ""
        cols = [c for c in X.COLUMNS if c in near]
        out = ["<table style='border-collapse:collapse;font-size:90%'><tr>"
               + "".join(f"<th style='padding:0 6px'>{e(X.column(c))}</th>" for c in cols) + "</tr>"]
        data = [near[c].tolist() for c in cols]
        words = {x: X.word(x) for x in (self._spec.positive, self._spec.negative)}
        for row in zip(*data):
            cells = []
            for c, v in zip(cols, row):
                if c == "session_time" and not pd.isna(v):
                    v = pd.Timestamp(v).strftime("%Y-%m-%d %H:%M")
                elif c in ("confidence", "threshold", "margin") and not pd.isna(v):
                    v = f"{v:+g}" if c == "margin" else f"{v:g}"
                elif c in ("decision", "current_decision") and v in words:
                    v = words[v]
                elif c == "change" and v:
                    v = "→".join(words.get(x, x) for x in v.split("→"))
                elif not isinstance(v, str) and pd.isna(v):
                    v = "–"
                cells.append(f"<td style='padding:0 6px'>{e(str(v))}</td>")
            out.append("<tr>" + "".join(cells) + "</tr>")
        out.append("</table>")
        head = tr("explorer.nearest_head", n=len(near), noun=self._noun)
        return f"<p><b>{e(head)}</b> {e(tr('explorer.nearest_masked'))}</p>" + "".join(out)


class ThresholdExplorer(_Explorer):
    """The widget :func:`threshold_explorer` returns (an ``ipywidgets.VBox``)."""
    _spec = COMPARISONS


class GenuinenessExplorer(_Explorer):
    """The widget :func:`genuineness_explorer` returns (an ``ipywidgets.VBox``)."""
    _spec = GENUINENESS


def threshold_explorer(comparisons, sessions: pd.DataFrame | None = None, *, since=None, until=None,
                       freq: str | None = "W", segments=None, engine="auto", nearest: int = 10,
                       binwidth: float = 0.5, current: str = "1e-4", continuous_update: bool = False,
                       lang: str = "en", **kwargs) -> ThresholdExplorer:
    """An ipywidgets explorer of decision thresholds on the comparisons: a ``DataFrame`` (the
    ``comparisons`` table, with ``sessions`` for their segments) or a data directory (``"data"``:
    counted where the data lives, see below).

    Pick the comparison kind, a segment and a period (``freq``: ``"D"``, ``"W"`` or
    ``"M"``); judge the rows at a level (each row at *its own* ``thr_1e*``), Baidu's
    configured threshold, or one custom cut on the slider.  It shows the confidence
    distribution with the cut, pass/reject counts with a Wilson interval, how many
    comparisons and sessions would flip against the ``current`` level, and the
    ``nearest`` rows to the cut (session ids masked).  Rows are ``[since, until)`` (UTC).
    Segments: ``source``, ``threshold_set`` and the review's segments (``segments=``: keys
    of ``biz_extra_data`` or sessions columns; by default the low-cardinality ones the
    sessions carry); for a frame, also columns of the table it already has.

    A data directory is never loaded: each selection's exact confidence histogram is
    counted where the data lives (``engine``: DuckDB by default, within the review's memory
    limit; ``"spark"``), so memory stays flat: on 92M comparisons it opens in about 2.5x the
    time of DuckDB's plain weekly pass-rate query on the same files, within 0.6 GB, and a
    selection already counted answers each control change in milliseconds
    (``benchmarks/bench_widgets.py``).  The rows nearest the cut are fetched with one narrow
    query (in a notebook, in the background: :meth:`wait` for them).  Picking a segment over
    the whole window joins the comparisons to their sessions one (source, month) at a time.

    The returned widget exposes ``controls`` (dict of widgets: ``comparison``/``kind``,
    ``segment``, ``period``, ``level``, ``current``, ``cut``), ``state()`` (the last
    numbers: ``n``, ``pass``, ``reject``, ``to_reject``, ``to_pass``,
    ``sessions_to_reject``, ``sessions_to_pass``, ``line``, ``nearest``, ``message``, …),
    ``figure``/``ax`` and ``render_png()``.  ``lang`` (``"en"``, ``"zh-CN"``): the language of
    every label, heading and message, from the report's message catalogues
    (``faceanalytics/messages``, ``[explorer]``); control values and ``state()`` keep their codes.

    >>> ex = threshold_explorer(fa.load("data", "comparisons"), fa.load("data", "sessions"))  # doctest: +SKIP
    >>> ex = threshold_explorer("data", since="2026-04-01", until="2026-10-01", segments=["channel"])  # doctest: +SKIP
    >>> ex.controls["level"].value = "custom"; ex.controls["cut"].value = 71.0             # doctest: +SKIP
    """
    binwidth, nearest, current = _checked_args(COMPARISONS, binwidth, nearest, current)
    return ThresholdExplorer(comparisons, sessions, since=since, until=until, freq=freq, segments=segments,
                             engine=engine, nearest=nearest, binwidth=binwidth, current=current,
                             continuous_update=continuous_update, lang=lang, **kwargs)


def genuineness_explorer(genuineness, sessions: pd.DataFrame | None = None, *, since=None, until=None,
                         freq: str | None = "W", segments=None, engine="auto", nearest: int = 10,
                         binwidth: float = 0.01, log: bool = True, continuous_update: bool = False,
                         lang: str = "en", **kwargs) -> GenuinenessExplorer:
    """:func:`threshold_explorer` for the anti-spoofing checks, per attack type (a ``DataFrame``
    of the ``genuineness`` table or a data directory).

    A check is flagged when ``confidence > threshold`` (each row's own threshold, or
    the custom cut on the 0–1 slider); checks without a confidence are not counted,
    and without a threshold only count under a custom cut.  "Would flip" compares with
    each row's own threshold: ``to_flagged`` / ``to_cleared`` (and their sessions).
    """
    binwidth, nearest, _ = _checked_args(GENUINENESS, binwidth, nearest)
    return GenuinenessExplorer(genuineness, sessions, since=since, until=until, freq=freq, segments=segments,
                               engine=engine, nearest=nearest, binwidth=binwidth, log=log,
                               continuous_update=continuous_update, lang=lang, **kwargs)


_MOST_BINS = 20_000        # histogram bins across an explorer's margin axis (both signs)


def _checked_args(spec, binwidth, nearest, current=None) -> tuple:
    """The explorers' numbers and level, checked before any work.

    ``binwidth=1e-7`` hung the notebook (minutes building bins), ``-1`` failed in numpy,
    ``0`` and ``nearest=-1`` were ignored, and ``current="1e-9"`` silently judged at
    1e-4 instead; a level written ``1e-4`` or ``"0.0001"`` is the level ``"1e-4"``."""
    if binwidth is not None:
        binwidth = number(binwidth, "binwidth")
        lo, hi = spec.scale
        if 2 * (hi - lo) / binwidth > _MOST_BINS:
            raise ValueError(f"binwidth={binwidth!r} makes {2 * (hi - lo) / binwidth:,.0f} bins across the "
                             f"margins (-{hi - lo:g} to {hi - lo:g}); at most {_MOST_BINS:,}: a wider binwidth")
    nearest = number(nearest, "nearest", low_ok=True, integer=True)
    if current is not None and current not in spec.rules:
        try:
            current = level_name(current)
        except ValueError:
            raise ValueError(f"current must be one of {', '.join(spec.rules)}; got {current!r}") from None
    return binwidth, nearest, current


def _frame_engine(engine) -> None:
    """``engine=`` with a frame in memory: the frame is counted with pandas whatever the engine
    (every engine gives the same numbers), so say so rather than take ``"spark"`` without a
    word; a name that is no engine is refused as for a data directory."""
    if engine is None or (isinstance(engine, str) and engine in ("auto", "pandas")):
        return
    from .engines._api import ENGINES

    if isinstance(engine, str) and engine not in ENGINES:
        raise ValueError(f"engine must be one of auto, {', '.join(ENGINES)}, not {engine!r}")
    import warnings

    shown = repr(engine) if isinstance(engine, str) else type(engine).__name__
    warnings.warn(f"engine={shown} is for a data directory; a DataFrame is counted in memory with pandas "
                  f"(the same numbers): pass the data directory to count where the data lives",
                  UserWarning, stacklevel=4)


def _segment_shown(options) -> dict:
    """{(column, stored value): text shown} for the segment options: percent-escaped values
    decoded as the review shows them (``report._shown.value_labels``: two values that decode
    alike read apart); the choice itself stays the stored value."""
    by_column: dict = {}
    for c, v in options:
        if v not in (MISSING, OTHER):
            by_column.setdefault(c, []).append(v)
    return {(c, v): t for c, vs in by_column.items() for v, t in value_labels(vs).items()}
