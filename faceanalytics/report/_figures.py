"""Figures as embedded PNG data: drawn on a private Figure (no pyplot, nothing global).

Words come from the message catalogue of the review's language; in a language written in
Chinese characters every text artist of the figure gets :func:`~faceanalytics._fonts.find_cjk_font`'s
font (set on the artists and the axes' tick labels, never in rcParams).
"""
from __future__ import annotations

import base64
import io
import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd

from .._i18n import tr, tr_list

__all__ = ["figure", "draw_rate_series", "draw_change"]

_RC = {
    "font.size": 9, "axes.titlesize": 10, "axes.titleweight": "bold", "axes.labelsize": 9,
    "legend.fontsize": 8, "xtick.labelsize": 8, "ytick.labelsize": 8,
    "axes.spines.top": False, "axes.spines.right": False, "axes.edgecolor": "#888888",
    "axes.grid": True, "grid.color": "#dddddd", "grid.linewidth": 0.6, "axes.axisbelow": True,
    "figure.facecolor": "white", "savefig.facecolor": "white",
    # Text from the data (a segment value, a provider's message) is never TeX: '$\\frac{$' in a
    # Baidu message failed the whole errors section.
    "text.parse_math": False,
}
DPI = 110


def figure(draw: Callable, *, size=(8.0, 3.6), alt: str = "figure", id: str | None = None,
           caption: str | None = None) -> dict:
    """Run ``draw(ax)`` on a fresh figure and return a figure block (PNG data URI).

    Laid out once and drawn once, to raw pixels, then encoded once (:func:`_png`): a
    figure made with ``layout="tight"`` and saved as PNG was laid out in a first,
    unrendered draw, drawn again, encoded as a full-colour PNG, decoded and encoded again
    in 256 colours -- half of a review's figure time, for the same pixels."""
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    with matplotlib.rc_context(_RC), warnings.catch_warnings():
        # The report says this once, in the errors section.
        warnings.filterwarnings("ignore", message="no CJK-capable font")
        fig = Figure(figsize=size, dpi=DPI)
        canvas = FigureCanvasAgg(fig)
        draw(fig.subplots())
        language_font(fig)
        _tight_layout(fig)
        buf = io.BytesIO()
        fig.savefig(buf, format="rgba", dpi=DPI)
        renderer = canvas.get_renderer()
        png = _png(buf.getbuffer(), (int(renderer.width), int(renderer.height)))
    data = base64.b64encode(png).decode("ascii")
    return {"type": "figure", "id": id, "src": f"data:image/png;base64,{data}", "alt": alt,
            "width": int(size[0] * DPI), "caption": caption}


def _tight_layout(fig) -> None:
    """``fig.tight_layout()``'s subplot parameters, measured in one pass over the axes.

    Not ``fig.tight_layout()``: it leaves a placeholder layout engine, for which savefig
    lays the figure out again in an unrendered draw.  Not ``TightLayoutEngine().execute``
    either: with its default ``rect`` (the whole figure) Matplotlib measures every axes
    twice, the second time to fit the rect of the first pass's own margins: the same
    margins again (about 8% of the figures' time; the same pixels).  A Matplotlib without
    this private helper gets its engine."""
    from contextlib import nullcontext

    renderer = fig.canvas.get_renderer()
    try:
        from matplotlib._tight_layout import get_subplotspec_list, get_tight_layout_figure

        with getattr(renderer, "_draw_disabled", nullcontext)():
            kwargs = get_tight_layout_figure(fig, fig.axes, get_subplotspec_list(fig.axes), renderer, pad=1.08,
                                             rect=None)
    except (ImportError, TypeError):  # pragma: no cover - another Matplotlib: its own engine, two passes
        from matplotlib.layout_engine import TightLayoutEngine

        TightLayoutEngine().execute(fig)
        return
    if kwargs:
        fig.subplots_adjust(**kwargs)


def language_font(fig) -> None:
    """The catalogue's figure font on every text of ``fig`` (``meta.figure_font = "cjk"``:
    the font of :func:`~faceanalytics._fonts.find_cjk_font`, DejaVu Sans for other glyphs).
    In another language, the texts holding Chinese (a decoded segment value in a finding's
    title) get that font alone; and no text keeps a control character (drawn as a box)."""
    from matplotlib.text import Text

    from .._fonts import apply_font, cjk_font, has_cjk
    from ._shown import no_controls

    for t in fig.findobj(Text):
        text = t.get_text()
        if isinstance(text, str) and no_controls(text) != text:
            t.set_text(no_controls(text))
    if tr("meta.figure_font") != "cjk":
        mixed = [t for t in fig.findobj(Text) if has_cjk(t.get_text())]
        family = cjk_font() if mixed else None
        for t in mixed:
            apply_font(t, family)
        return
    family = cjk_font()
    if family is None:
        return
    from matplotlib import font_manager

    # a family with no bold face (the bundled Noto Sans SC) draws titles regular, without a findfont warning
    bold = any(e.name == family and _weight(e.weight) >= 600 for e in font_manager.fontManager.ttflist)
    for ax in fig.axes:                  # tick labels made later (date ticks at draw time) too
        ax.tick_params(which="both", labelfontfamily=[family, "DejaVu Sans"])
    for t in fig.findobj(Text):
        apply_font(t, family)
        if not bold and _weight(t.get_fontweight()) >= 600:
            t.set_fontweight("normal")


def _weight(w) -> int:
    from matplotlib.font_manager import weight_dict

    return w if isinstance(w, int) else weight_dict.get(str(w), 400)


def _png(rgba, size: tuple[int, int]) -> bytes:
    """Raw RGBA pixels as a PNG in 256 colours: about a third of the bytes of a full-colour
    one, no visible change (a chart has a few flat colours and their anti-aliased edges).
    zlib's default level: ``optimize`` (level 9) took seven times as long for 5% fewer bytes.
    Median cut, not the ten times faster octree: that one tints the white background."""
    from PIL import Image

    im = Image.frombuffer("RGBA", size, rgba, "raw", "RGBA", 0, 1)
    im = im.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    out = io.BytesIO()
    im.save(out, format="PNG")
    return out.getvalue()


def _dates(ax) -> None:
    import matplotlib.dates as mdates

    lo, hi = ax.dataLim.intervalx
    a, b = ax.get_xlim()
    if np.isfinite(lo) and np.isfinite(hi) and b - a > 2 * (hi - lo) + 2:
        # Series of one day: matplotlib widens a date axis with no span to four years
        # (its unit is the day), where the locator finds no interval for its ticks and
        # warns on the analyst's screen.  Data of more days keep matplotlib's own view.
        m = max(1.0, 0.05 * (hi - lo))
        ax.set_xlim(lo - m, hi + m)
    loc = mdates.AutoDateLocator(maxticks=8)
    ax.xaxis.set_major_locator(loc)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(
        loc, formats=tr_list("meta.date_formats"), zero_formats=tr_list("meta.date_zero_formats"),
        offset_formats=tr_list("meta.date_offset_formats")))


def _naive(t) -> np.ndarray:
    """Wall-clock times for matplotlib's date axis: a review in Asia/Shanghai shows its own days."""
    t = pd.DatetimeIndex(t)
    return (t.tz_localize(None) if t.tz is not None else t).to_numpy()


def draw_rate_series(ax, frame: pd.DataFrame, group: str, *, rate: str, label_fmt="{g}", since=None,
                     min_n: int = 30, title: str = "") -> None:
    """One line per ``group`` value of a rate frame with ``period``, ``n``, ``ci_low``/``ci_high``
    (periods with fewer than ``min_n`` are gaps), with the start of the period marked."""
    from ..plots._common import ATTACK_COLORS, percent_axis

    for i, (g, r) in enumerate(frame.groupby(group, sort=True)):
        r = r.sort_values("period")
        x = _naive(r["period"])
        low = (r["n"] < min_n).to_numpy()
        y = np.where(low, np.nan, r[rate].to_numpy(dtype=float) * 100)
        color = ATTACK_COLORS[i % len(ATTACK_COLORS)]
        ax.plot(x, y, marker="o", markersize=2.5, color=color, label=label_fmt.format(g=g))
        ax.fill_between(x, np.where(low, np.nan, r["ci_low"] * 100), np.where(low, np.nan, r["ci_high"] * 100),
                        color=color, alpha=0.15, lw=0)
    if since is not None:
        ax.axvline(_naive([since])[0], color="#555555", linestyle=":", linewidth=1)
    percent_axis(ax, "y")
    ax.set_title(title)
    ax.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    _dates(ax)


def draw_change(ax, series: pd.DataFrame, *, pool: pd.DataFrame | None, start, end, since, title: str,
                ylabel: str) -> None:
    """A finding's daily rate (95% Wilson band) with the changed stretch shaded; a segment's
    finding also shows the pooled rate, for comparison."""
    from ..analytics._stats import wilson_ci
    from ..plots._common import PASS_COLOR, percent_axis

    def line(f, color, label, band):
        f = f.sort_values("day")
        x = _naive(f["day"])
        k, n = f["k"].to_numpy(dtype=float), f["n"].to_numpy(dtype=float)
        y = np.where(n > 0, k / np.where(n > 0, n, 1), np.nan) * 100
        ax.plot(x, y, marker="o", markersize=2.5, linewidth=1.2, color=color, label=label)
        if band:
            lo, hi = wilson_ci(k, n)
            ax.fill_between(x, lo * 100, hi * 100, color=color, alpha=0.15, lw=0)

    if pool is not None and len(pool):
        line(pool, "#999999", tr("figures.change.pool"), False)
    line(series, "#d95f02", tr("figures.change.series"), True)
    s = _naive([start])[0]
    e = _naive([end])[0] if end is not None else _naive([series["day"].max() + pd.Timedelta(days=1)])[0]
    ax.axvspan(s, e, color=PASS_COLOR, alpha=0.18, lw=0, label=tr("figures.change.stretch"))
    ax.axvline(_naive([since])[0], color="#555555", linestyle=":", linewidth=1, label=tr("figures.change.since"))
    percent_axis(ax, "y")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    _dates(ax)
