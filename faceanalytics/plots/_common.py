"""Shared pieces of the plot helpers: axes, colours, percentage text.

matplotlib is imported inside functions only, so importing the package (or the
metrics) never pulls it in.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:  # matplotlib is imported on first draw, not for an annotation
    from matplotlib.axes import Axes

LEVEL_COLORS = {"1e-3": "#1b9e77", "1e-4": "#d95f02", "1e-5": "#7570b3", "1e-6": "#e7298a"}
CONFIGURED_COLOR = "#444444"
PASS_COLOR, REJECT_COLOR, NEUTRAL_COLOR = "#6baed6", "#fc9272", "#9ecae1"
ATTACK_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#17becf")
BILLING_COLORS = {"billed": "#d62728", "not billed": "#2ca02c", "unknown": "#9e9e9e", "mixed": "#ff7f0e"}


def get_ax(ax: Axes | None) -> Axes:
    """``ax``, or the current Axes when None.  Anything else (a Figure, the array of
    ``plt.subplots(1, 2)``, a string) is a TypeError that says which Axes to pass: it failed
    later, deep inside, as "'Figure' object has no attribute 'bar'"."""
    if ax is None:
        import matplotlib.pyplot as plt
        return plt.gca()
    from matplotlib.axes import Axes
    from matplotlib.figure import FigureBase

    if isinstance(ax, Axes):
        return ax
    if isinstance(ax, FigureBase):
        hint = ": pass one of its Axes (fig.axes[0], or fig.add_subplot())"
    elif isinstance(ax, np.ndarray):
        hint = f" of shape {ax.shape} (plt.subplots with several panels): pass one, e.g. axes[0]"
    else:
        hint = ""
    raise TypeError(f"ax is a matplotlib Axes (or None for the current one), not {type(ax).__name__}{hint}")


def whole(name: str, value, least: int, what: str) -> int:
    """``value`` as a whole number of at least ``least`` (an int or a NumPy integer; not
    ``True``, 2.5 or "5"), else a ValueError naming the argument and ``what`` it counts:
    text failed later inside pandas or numpy ("'<' not supported between 'int' and 'str'")."""
    from .._coerce import count_arg

    n = count_arg(value)
    if n is None or n < least:
        raise ValueError(f"{name} is {what}: a whole number of at least {least}, not {value!r}")
    return n


def with_lang(func):
    """Give a plot helper ``lang=`` ("en", "zh-CN"; None keeps the current language, a report's):
    its words are drawn in that language.  ``lang`` went on to ``ax.bar`` and failed there as
    an unknown artist property; an unknown language is now a ValueError before anything is drawn."""
    import functools
    import inspect

    from .._i18n import language

    @functools.wraps(func)
    def wrapper(*args, lang=None, **kwargs):
        if lang is None:
            return func(*args, **kwargs)
        with language(lang):
            return func(*args, **kwargs)

    sig = inspect.signature(func)
    params = list(sig.parameters.values())
    at = next((i for i, p in enumerate(params) if p.kind is p.VAR_KEYWORD), len(params))
    params.insert(at, inspect.Parameter("lang", inspect.Parameter.KEYWORD_ONLY, default=None))
    wrapper.__signature__ = sig.replace(parameters=params)
    return wrapper


# ``ax.bar``'s words for what a collection calls otherwise ("color" there is the face's alone)
_BAR_TO_COLLECTION = {"color": "facecolor", "linewidth": "linewidths", "edgecolor": "edgecolors"}


def histogram_bars(ax, left, height, width, *, label=None, **kwargs):
    """Vertical bars from 0 as *one* artist (a ``PolyCollection``): what ``ax.bar`` draws,
    without a ``Rectangle`` per bar.  A confidence histogram has about a hundred bins; as
    patches, each was placed, measured for the data limits and drawn on its own: two fifths
    of the time of each of the review's confidence figures.  The same rectangles, colours,
    edges, data limits and stickiness to 0 as ``ax.bar(..., align="edge")``; ``kwargs`` are
    the collection's (``color``, ``edgecolor``, ``linewidth``, ``alpha``, ...)."""
    from matplotlib.collections import PolyCollection

    x = np.asarray(left, dtype=float)
    h = np.asarray(height, dtype=float)
    w = np.broadcast_to(np.asarray(width, dtype=float), x.shape)
    zero = np.zeros_like(h)
    verts = np.stack([np.column_stack([x, zero]), np.column_stack([x, h]), np.column_stack([x + w, h]),
                      np.column_stack([x + w, zero])], axis=1)
    kwargs = {_BAR_TO_COLLECTION.get(k, k): v for k, v in kwargs.items()}
    coll = PolyCollection(verts, label=label, **kwargs)
    coll.sticky_edges.y.append(0.0)                  # as a bar's bottom: no margin below 0
    ax.add_collection(coll, autolim=True)
    getattr(ax, "_request_autoscale_view", ax.autoscale_view)()     # as ax.bar does (add_collection does not)
    return coll


def plain(text: str) -> str:
    """Text from the data (a provider's message) as Matplotlib shows it: ``$`` escaped where
    it would read ``$...$`` as TeX (an unbalanced or bad one fails the whole figure)."""
    import matplotlib

    return text.replace("$", "\\$") if matplotlib.rcParams["text.parse_math"] else text


def pct(x: float, digits: int = 1) -> str:
    if x is None or (isinstance(x, float) and np.isnan(x)):
        return "n/a"
    return f"{x * 100:.{digits}f}%"


def percent_axis(ax, axis: str = "y", decimals: int | None = None) -> None:
    from matplotlib.ticker import PercentFormatter
    fmt = PercentFormatter(xmax=100, decimals=decimals)
    (ax.yaxis if axis == "y" else ax.xaxis).set_major_formatter(fmt)


def naive_utc(s: pd.Series) -> np.ndarray:
    """tz-aware timestamps as naive datetime64 (their wall-clock time, so periods labelled in
    Asia/Shanghai keep their dates) for matplotlib's date axis."""
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        s = s.dt.tz_localize(None)
    return s.to_numpy()
