"""The DET curve: FRR against FAR on normal-deviate (probit) axes."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .._i18n import tr
from ..analytics import equal_error_rate
from ..analytics._core import require
from ..analytics._stats import probit
from ._common import get_ax, with_lang

if TYPE_CHECKING:  # matplotlib is imported on first draw, not for an annotation
    from matplotlib.axes import Axes

__all__ = ["plot_det"]

_TICKS = (0.0001, 0.001, 0.01, 0.02, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 0.95)


def _tick_label(p: float) -> str:
    return f"{p * 100:g}%"


def _count(col: pd.Series) -> int:
    """The title's count (the first row's; a table's rows share it): 0 when empty or missing, as
    ``int(NaN)`` failed the whole plot with "cannot convert float NaN to integer"."""
    v = pd.to_numeric(col, errors="coerce").iloc[0] if len(col) else np.nan
    return 0 if pd.isna(v) else int(v)


@with_lang
def plot_det(rates: pd.DataFrame, *, eer: bool = True, ax=None, **kwargs) -> Axes:
    """DET curve of an :func:`error_rates` table, with the equal-error rate marked.

    Both axes are on the normal-deviate scale (points are ``probit(far)``,
    ``probit(frr)``; ticks are labelled in %).  Points where either rate is 0 or 1
    have no place on that scale and are left out.  ``kwargs`` go to ``ax.plot``.
    """
    require(rates, ["far", "frr", "n_genuine", "n_impostor"],
            "plot_det (an error_rates table: plot_det(error_rates(comparisons, labels)))")
    ax = get_ax(ax)
    far = rates["far"].to_numpy(dtype=float)
    frr = rates["frr"].to_numpy(dtype=float)
    x, y = probit(far), probit(frr)
    ok = np.isfinite(x) & np.isfinite(y)
    n_g, n_i = (_count(rates[c]) for c in ("n_genuine", "n_impostor"))
    kwargs.setdefault("color", "#1f77b4")
    ax.plot(x[ok], y[ok], label=kwargs.pop("label", "DET"), **kwargs)
    if eer and len(rates):
        e = equal_error_rate(rates).iloc[0]
        if np.isfinite(e["eer"]) and 0 < e["eer"] < 1:
            p = float(probit(np.array([e["eer"]]))[0])
            ax.plot([p], [p], "o", color="#d62728",
                    label=tr("plots.det.eer", eer=e["eer"] * 100, threshold=e["threshold"]))
    lo = max(min(x[ok].min() if ok.any() else -3, y[ok].min() if ok.any() else -3), probit(np.array([1e-4]))[0])
    hi = min(max(x[ok].max() if ok.any() else 1, y[ok].max() if ok.any() else 1), probit(np.array([0.95]))[0])
    ticks = [t for t in _TICKS if lo - 0.3 <= probit(np.array([t]))[0] <= hi + 0.3]
    pos = probit(np.array(ticks))
    ax.set_xticks(pos, [_tick_label(t) for t in ticks])
    ax.set_yticks(pos, [_tick_label(t) for t in ticks])
    ax.set_xlim(lo - 0.2, hi + 0.2)
    ax.set_ylim(lo - 0.2, hi + 0.2)
    ax.set_xlabel(tr("plots.det.xlabel"))
    ax.set_ylabel(tr("plots.det.ylabel"))
    ax.set_title(tr("plots.det.title", genuine=n_g, impostor=n_i))
    ax.grid(True, linewidth=0.3)
    ax.legend(fontsize="small", frameon=False)
    return ax
