"""Plots of errors: a Pareto of error codes and the Lite status funnel."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .._fonts import apply_font, cjk_label
from .._i18n import tr, tr_or
from ..analytics import error_codes, status_funnel
from ._common import BILLING_COLORS, get_ax, pct, plain, whole, with_lang

if TYPE_CHECKING:  # matplotlib is imported on first draw, not for an annotation
    from matplotlib.axes import Axes

__all__ = ["plot_error_codes", "plot_status_funnel"]

def _origin_tag(origin) -> str:
    """A short tag for where a code comes from (``plots.origin_tag.*``); "other" bars have none."""
    if origin == "other":
        return ""
    return tr_or(f"plots.origin_tag.{origin}", origin)


def _billing_state(r) -> str:
    parts = [k for k, c in (("billed", r["billed"]), ("not billed", r["not_billed"]),
                            ("unknown", r["billing_unknown"])) if c > 0]
    return parts[0] if len(parts) == 1 else "mixed" if parts else "unknown"


def _label(r) -> tuple[str, str | None]:
    base = plain(str(r["code"]))
    if isinstance(r.get("detail"), str) and r["detail"]:
        base += f" · {plain(r['detail'])}"
    tag = _origin_tag(r["origin"])
    fallback = f"{base} [{tag}]" if tag else base
    msg = r.get("message")
    if isinstance(msg, str) and msg and msg != r["code"]:
        msg = plain(msg)
        return cjk_label(f"{base} {msg} [{tag}]" if tag else f"{base} {msg}", fallback)
    return fallback, None


@with_lang
def plot_error_codes(errors: pd.DataFrame, *, top: int = 15, ax=None, **kwargs) -> Axes:
    """Pareto of error codes: bars (count, share) largest first, cumulative share on top.

    Shares and cumulative shares are within each ``origin`` (where the code was counted):
    one failure can be counted in several origins, so the cumulative share is drawn as one
    line per origin, through that origin's bars, and the title adds no origins up.

    ``errors`` is an :func:`error_codes` result or any one error-bearing table
    (sessions, verify_errors, error_counts, attempts).  Codes beyond ``top`` are
    merged into one "other" bar.  Bar colour says whether the provider bills the
    error (billed / not billed / unknown / mixed).  Chinese messages use the font of
    ``find_cjk_font`` (a system CJK font, else the bundled Noto Sans SC); with none, the
    bar shows the code only (with a one-time warning).
    ``kwargs`` go to ``ax.barh``.
    """
    top = whole("top", top, 1, "how many codes get a bar of their own")  # "3" failed in pandas; -1 dropped one
    ax = get_ax(ax)
    e = errors if {"origin", "code", "count", "cumulative_share"} <= set(errors.columns) \
        else error_codes(errors)
    head = e.head(top).copy()
    rest = e.iloc[top:]
    if len(rest):
        other = {"origin": "other", "code": tr("plots.errors.other", n=len(rest)), "detail": None, "message": None,
                 "count": int(rest["count"].sum()), "share": np.nan,     # of several origins: no share
                 "cumulative_share": np.nan, "billed": int(rest["billed"].sum()),
                 "not_billed": int(rest["not_billed"].sum()),
                 "billing_unknown": int(rest["billing_unknown"].sum())}
        head = pd.concat([head, pd.DataFrame([other])], ignore_index=True)
    y = np.arange(len(head))[::-1]                  # largest at the top
    states = [_billing_state(r) for _, r in head.iterrows()]
    colors = [BILLING_COLORS[s] for s in states]
    ax.barh(y, head["count"].to_numpy(), color=kwargs.pop("color", colors), height=0.7, **kwargs)
    labels, fonts = zip(*[_label(r) for _, r in head.iterrows()]) if len(head) else ((), ())
    ax.set_yticks(y, labels)
    for t, fam in zip(ax.get_yticklabels(), fonts):
        apply_font(t, fam)
    for yi, (_, r) in zip(y, head.iterrows()):
        share = f" ({pct(r['share'])})" if np.isfinite(r["share"]) else ""
        ax.text(r["count"], yi, f" {int(r['count']):,}{share}", va="center", fontsize="small")
    ax.set_xlabel(tr("plots.errors.xlabel"))
    ax.set_xlim(0, (head["count"].max() if len(head) else 1) * 1.25)
    ax.set_title(tr("plots.errors.title", codes=len(e)), pad=30)
    from matplotlib.patches import Patch
    present = [s for s in BILLING_COLORS if s in states]
    handles = [Patch(color=BILLING_COLORS[s], label=tr("plots.billing." + s.replace(" ", "_"))) for s in present]
    ax2 = ax.twiny()
    cum = head["cumulative_share"].to_numpy(dtype=np.float64) * 100
    for o in dict.fromkeys(head["origin"][np.isfinite(cum)]):     # one line per origin, largest first
        m = (head["origin"] == o).to_numpy() & np.isfinite(cum)
        ax2.plot(cum[m], y[m], color="k", marker="o", markersize=3, linewidth=1,
                 label=tr("plots.errors.cumulative"))
    ax2.set_xlim(0, 105)
    ax2.set_xlabel(tr("plots.errors.x2label"))
    from matplotlib.lines import Line2D
    handles.append(Line2D([], [], color="k", marker="o", markersize=3, label=tr("plots.errors.cumulative")))
    ax.legend(handles=handles, title=tr("plots.errors.legend_title"), fontsize="small", frameon=False,
              loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return ax


@with_lang
def plot_status_funnel(sessions: pd.DataFrame, *, source: str | None = "megvii_lite", ax=None, **kwargs) -> Axes:
    """Lite sessions per status in lifecycle order (NOT_STARTED … WEBRTC_UNSUPPORTED, then API errors).

    ``sessions`` is a sessions table or a :func:`status_funnel` result.  Pending
    statuses (may still change) and final ones are coloured apart.
    """
    ax = get_ax(ax)
    f = sessions if {"status", "stage", "count"} <= set(sessions.columns) else \
        status_funnel(sessions, source=source)
    colors = {"pending": "#fdae6b", "final": "#6baed6", "api_error": "#d62728", "other": "#9e9e9e"}
    y = np.arange(len(f))[::-1]
    ax.barh(y, f["count"].to_numpy(), color=kwargs.pop("color", [colors[s] for s in f["stage"]]),
            height=0.7, **kwargs)
    ax.set_yticks(y, [tr("plots.funnel.tick", status=s, stage=tr_or(f"stage.{st}", st))
                      for s, st in zip(f["status"], f["stage"])])
    for yi, (_, r) in zip(y, f.iterrows()):
        ax.text(r["count"], yi, f" {int(r['count']):,} ({pct(r['share'])})", va="center", fontsize="small")
    ax.set_xlim(0, max(int(f["count"].max()) if len(f) else 1, 1) * 1.2)
    ax.set_xlabel(tr("plots.funnel.xlabel"))
    ax.set_title(tr("plots.funnel.title", n=int(f["count"].sum())))
    return ax
