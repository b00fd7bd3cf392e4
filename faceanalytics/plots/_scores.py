"""Plots of confidences against thresholds: distribution, margins, trend, drift, anti-spoofing.

Each draws what a metric of :mod:`faceanalytics.analytics` computed, on ``ax`` (or
the current Axes), and returns the Axes.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..analytics import (LEVELS, MIN_N, confidence_distribution, distribution_drift,
                         genuineness_histogram, genuineness_near_threshold, genuineness_rates,
                         margin_histogram, pass_rate_drift, pass_rates, threshold_lines,
                         would_flip_summary)
from .._i18n import tr, tr_or
from ..analytics._core import histogram_weights, level_names, once_per_attempt, require
from ._common import (ATTACK_COLORS, CONFIGURED_COLOR, LEVEL_COLORS, NEUTRAL_COLOR, PASS_COLOR,
                      REJECT_COLOR, get_ax, histogram_bars, naive_utc, pct, percent_axis, whole, with_lang)

if TYPE_CHECKING:  # matplotlib is imported on first draw, not for an annotation
    from matplotlib.axes import Axes

__all__ = ["plot_confidence_thresholds", "plot_margins", "plot_pass_rates", "plot_drift",
           "plot_genuineness"]


def _line_label(row, min_n: int) -> str:
    head = tr("plots.confidence.line_level", level=row["label"], threshold=row["threshold"]) \
        if row["kind"] == "far_level" else tr("plots.confidence.line_configured", threshold=row["threshold"])
    if row["n"] < min_n:
        text = tr("plots.confidence.line_few", head=head, n=row["n"])
    else:
        text = tr("plots.confidence.line_rate", head=head, rate=pct(row["pass_rate"]), n=row["n"])
    if row["n_thresholds"] > 1:
        text += tr("plots.confidence.line_vary", low=row["threshold_min"], high=row["threshold_max"],
                   count=row["n_thresholds"])
    return text


@with_lang
def plot_confidence_thresholds(comparisons: pd.DataFrame, *, levels: Sequence[str] = LEVELS,
                               binwidth: float = 1.0, bins: int | None = None,
                               binrange: tuple[float, float] | None = None, configured: bool = True,
                               min_n: int = MIN_N, legend: bool = True, one_artist: bool = False, ax=None,
                               **kwargs) -> Axes:
    """Distribution of confidence with one vertical line per level at its threshold.

    Each line sits at the level's most common threshold and is labelled with the
    level and the share passing *at each row's own threshold*; when a level's
    thresholds vary, the line's label says so and a band spans their range.  Baidu's
    configured thresholds, when present, are dotted lines of their own (never a
    false-accept level).  ``kwargs`` go to ``ax.bar``.  ``one_artist=True`` draws the bars
    as one collection instead (the same picture, drawn faster; no ``BarContainer`` of patches
    to restyle one by one): the review's figures do.

    ``comparisons`` may also be a :func:`~faceanalytics.analytics.confidence_histogram`
    (for example from :func:`faceanalytics.engines.confidence_histogram` over any
    number of rows): the same plot, drawn from the counts.

    >>> ax = plot_confidence_thresholds(comparisons[comparisons.comparison == "faceid"])  # doctest: +SKIP
    """
    if "attack" in getattr(comparisons, "columns", ()):
        # the genuineness table has a confidence column too (0-1, anti-spoofing): drawn here it
        # read as face comparisons against no threshold, silently
        raise ValueError("plot_confidence_thresholds draws comparisons (fa.load(DATA, 'comparisons')); "
                         "this is the genuineness table (it has 'attack'): use plot_genuineness")
    min_n = whole("min_n", min_n, 0, "the fewest rows a rate is shown for")
    ax = get_ax(ax)
    dist = confidence_distribution(comparisons, binwidth=binwidth, bins=bins, binrange=binrange)
    lines = threshold_lines(comparisons, levels=levels, configured=configured)
    n_scored = int(dist["count"].sum())
    missing = comparisons["confidence"].isna()
    w = histogram_weights(comparisons)
    n_missing = int(missing.sum()) if w is None else int(round(float(w[missing.to_numpy()].sum())))
    kwargs.setdefault("color", NEUTRAL_COLOR)
    kwargs.setdefault("edgecolor", "white")
    kwargs.setdefault("linewidth", 0.3)
    label = tr("plots.confidence.bars", n=n_scored)
    if n_missing:
        label += tr("plots.confidence.bars_missing", n=n_missing)
    if not one_artist:
        ax.bar(dist["bin_left"], dist["count"], width=dist["bin_right"] - dist["bin_left"], align="edge",
               label=label, **kwargs)
    for _, row in lines.iterrows():              # one artist per level, not per data row
        far = row["kind"] == "far_level"
        color = LEVEL_COLORS.get(row["label"], CONFIGURED_COLOR) if far else CONFIGURED_COLOR
        if row["n_thresholds"] > 1:
            ax.axvspan(row["threshold_min"], row["threshold_max"], color=color, alpha=0.12, lw=0)
        ax.axvline(row["threshold"], color=color, linestyle="-" if far else ":", linewidth=1.6,
                   label=_line_label(row, min_n))
    if one_artist:
        # Added last, as the legend lists a BarContainer after the lines; drawn first, below the
        # bands (patches, zorder 1), as the bars were.
        kwargs.setdefault("zorder", 0.9)
        histogram_bars(ax, dist["bin_left"], dist["count"], dist["bin_right"] - dist["bin_left"], label=label,
                       **kwargs)
    width = dist["bin_right"].iloc[0] - dist["bin_left"].iloc[0] if len(dist) else binwidth
    ax.set_xlabel(tr("plots.confidence.xlabel"))
    ax.set_ylabel(tr("plots.per_bin", width=width))
    ax.set_title(tr("plots.confidence.title"))
    if legend and ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper left", fontsize="small", frameon=False)
    return ax


@with_lang
def plot_margins(comparisons: pd.DataFrame, *, level: str = "1e-4", to=None, binwidth: float = 0.5,
                 binrange: tuple[float, float] | None = None, window: float = 1.0,
                 summary: pd.DataFrame | None = None, legend: bool = True, ax=None, **kwargs) -> Axes:
    """Margins to ``level`` (confidence − the row's threshold), and what moving the cut flips.

    Bars below 0 are rejections at ``level``, at or above 0 passes; the band marks
    the mass within ``±window`` of the cut.  With ``to`` (another level or a number),
    a second line marks the new cut (its most common position on this axis) and the
    title says how many comparisons and sessions would change decision.

    Over more rows than memory holds: pass a :func:`~faceanalytics.analytics.confidence_histogram`
    as ``comparisons`` and the matching would-flip ``summary`` (one row), both from
    :mod:`faceanalytics.engines`; e.g. ``summary=engines.would_flip_summary(DATA, "1e-4",
    "1e-5", window=1.0)`` (sessions are counted there: a histogram has no session ids).
    """
    ax = get_ax(ax)
    hist = margin_histogram(comparisons, level, binwidth=binwidth, binrange=binrange)
    if summary is None:
        if histogram_weights(comparisons) is not None:
            raise TypeError("plot_margins of a histogram needs summary= (a would_flip_summary result "
                            "for the same level, to and window)")
        summary = would_flip_summary(comparisons, level, level if to is None else to, window=window)
    s = summary.iloc[0]
    colors = np.where(hist["bin_left"].to_numpy() >= 0, PASS_COLOR, REJECT_COLOR)
    kwargs.setdefault("edgecolor", "white")
    kwargs.setdefault("linewidth", 0.3)
    ax.bar(hist["bin_left"], hist["count"], width=hist["bin_right"] - hist["bin_left"], align="edge",
           color=kwargs.pop("color", colors), **kwargs)
    near = int(s["near_below_from"] + s["near_above_from"])
    n = int(s["n"])
    ax.axvspan(-window, window, color="#bbbbbb", alpha=0.25, lw=0,
               label=tr("plots.margins.near", window=window, near=near, share=pct(near / n if n else np.nan),
                        below=int(s["near_below_from"]), above=int(s["near_above_from"])))
    ax.axvline(0, color=LEVEL_COLORS.get(level, "k"), linewidth=1.6,
               label=tr("plots.margins.cut", level=level, passed=int(s["passed_from"]), n=n,
                        share=pct(s["passed_from"] / n if n else np.nan)))
    title = tr("plots.margins.title", level=level)
    if to is not None:
        shift = float(s["cut_shift"])
        ax.axvline(shift, color=LEVEL_COLORS.get(str(to), CONFIGURED_COLOR), linestyle="--", linewidth=1.6,
                   label=tr("plots.margins.cut_to", to=to, shift=shift, passed=int(s["passed_to"]),
                            share=pct(s["passed_to"] / n if n else np.nan)))
        title += "\n" + tr("plots.margins.title_to", level=level, to=to, reject=int(s["to_reject"]),
                           reject_sessions=int(s["sessions_to_reject"]), accept=int(s["to_pass"]),
                           accept_sessions=int(s["sessions_to_pass"]))
    ax.set_xlabel(tr("plots.margins.xlabel"))
    ax.set_ylabel(tr("plots.per_bin", width=binwidth))
    ax.set_title(title)
    if legend and ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper left", fontsize="small", frameon=False)
    return ax


@with_lang
def plot_pass_rates(data: pd.DataFrame, *, freq: str = "W", levels: Sequence[str] = LEVELS,
                    min_n: int = MIN_N, ci: bool = True, legend: bool = True, ax=None, tz=None,
                    **kwargs) -> Axes:
    """Pass rate per level over time, with its interval; periods below ``min_n`` not drawn as rates.

    ``data`` is a comparisons table (rates computed with :func:`pass_rates` at
    ``freq`` on the calendar of ``tz``) or a :func:`pass_rates` result.  Without a ``period`` column the levels
    are drawn side by side with their intervals.  ``kwargs`` go to ``ax.plot``.
    """
    levels = level_names(levels)
    min_n = whole("min_n", min_n, 0, "the fewest rows a rate is shown for")
    ax = get_ax(ax)
    rates = data if {"level", "pass_rate"} <= set(data.columns) else \
        pass_rates(data, freq=freq, tz=tz, levels=levels, min_n=min_n)
    rates = rates[rates["level"].isin(levels)]
    extra = [c for c in rates.columns if c not in ("period", "level", "n", "passed", "pass_rate", "ci_low",
                                                   "ci_high", "low_n")]
    for c in extra:
        if rates[c].nunique(dropna=False) > 1:
            raise ValueError(f"plot_pass_rates draws one segment; filter {c!r} to one value first")
    if "period" in rates.columns:
        for lv in [lv for lv in levels if lv in set(rates["level"])]:
            r = rates[rates["level"] == lv].sort_values("period")
            x = naive_utc(r["period"])
            low = r["low_n"].to_numpy(dtype=bool)
            y = np.where(low, np.nan, r["pass_rate"].to_numpy() * 100)
            last = r[~r["low_n"]].tail(1)
            label = tr("plots.pass_rates.line", level=lv, rate=pct(float(last["pass_rate"].iloc[0])),
                       n=int(last["n"].iloc[0])) if len(last) else lv
            if low.any():
                label += tr("plots.pass_rates.line_hidden", count=int(low.sum()), min_n=min_n)
            color = LEVEL_COLORS.get(lv)
            ax.plot(x, y, marker="o", markersize=3, color=color, label=label, **kwargs)
            if ci:
                ax.fill_between(x, np.where(low, np.nan, r["ci_low"] * 100),
                                np.where(low, np.nan, r["ci_high"] * 100), color=color, alpha=0.15, lw=0)
        tz = getattr(rates["period"].dtype, "tz", None)
        ax.set_xlabel(tr("plots.pass_rates.xlabel", zone=str(tz) if tz is not None else "UTC"))
        ax.set_title(tr("plots.pass_rates.title_trend"))
    else:
        r = rates.set_index("level").reindex([lv for lv in levels if lv in set(rates["level"])])
        x = np.arange(len(r))
        ok = ~r["low_n"].to_numpy(dtype=bool)
        y = np.where(ok, r["pass_rate"] * 100, np.nan)
        ax.errorbar(x, y, yerr=[np.where(ok, (r["pass_rate"] - r["ci_low"]) * 100, np.nan),
                                np.where(ok, (r["ci_high"] - r["pass_rate"]) * 100, np.nan)],
                    fmt="o", capsize=4, color="k", **kwargs)
        ax.set_xticks(x, [f"{lv}\nn={int(n):,}" + ("" if o else f"\n(n<{min_n})")
                          for lv, n, o in zip(r.index, r["n"], ok)])
        ax.set_title(tr("plots.pass_rates.title"))
    ax.set_ylabel(tr("plots.pass_rates.ylabel"))
    percent_axis(ax, "y")
    if legend and "period" in rates.columns and ax.get_legend_handles_labels()[0]:
        ax.legend(title=tr("plots.pass_rates.legend_title"), fontsize="small", frameon=False)
    return ax


@with_lang
def plot_drift(baseline: pd.DataFrame, current: pd.DataFrame | None = None, *,
               levels: Sequence[str] = LEVELS, min_n: int = MIN_N, ax=None, **kwargs) -> Axes:
    """Change in pass rate per level, current − baseline, in percentage points with 95% CI.

    The title adds the population stability index and KS statistic of confidence
    (second-line evidence; PSI cut-offs 0.10 watch / 0.25 act).  ``kwargs`` go to
    ``ax.errorbar``.

    ``baseline`` and ``current`` are two comparisons tables, or already computed
    results: a :func:`~faceanalytics.analytics.pass_rate_drift` result first and,
    optionally, a :func:`~faceanalytics.analytics.distribution_drift` result (e.g.
    from :mod:`faceanalytics.engines`, over any number of rows).
    """
    min_n = whole("min_n", min_n, 0, "the fewest rows a rate is shown for")
    ax = get_ax(ax)
    if "change" in baseline.columns and "level" in baseline.columns:
        d = baseline[baseline["level"].isin(levels)].reset_index(drop=True)
        dd = current if current is not None else pd.DataFrame(columns=["psi"])
    else:
        if current is None:
            raise TypeError("plot_drift needs two comparisons tables, or a pass_rate_drift result")
        d = pass_rate_drift(baseline, current, levels=levels, min_n=min_n)
        dd = distribution_drift(baseline, current)
    x = np.arange(len(d))
    y = d["change"].to_numpy() * 100
    lo = (d["change"] - d["change_low"]).to_numpy() * 100
    hi = (d["change_high"] - d["change"]).to_numpy() * 100
    kwargs.setdefault("fmt", "o")
    kwargs.setdefault("capsize", 4)
    kwargs.setdefault("color", "k")
    ax.errorbar(x, y, yerr=[lo, hi], **kwargs)
    ax.axhline(0, color="#888888", linewidth=1)
    labels = []
    for _, r in d.iterrows():
        star = " *" if r["significant"] else ""
        labels.append(f"{r['level']}{star}\n{pct(r['pass_rate_baseline'])} → {pct(r['pass_rate_current'])}"
                      + (f"\n(n<{min_n})" if r["low_n"] else ""))
    ax.set_xticks(x, labels)
    ax.set_ylabel(tr("plots.drift.ylabel"))
    s = dd.iloc[0] if len(dd) else None
    sub = "" if s is None or np.isnan(s["psi"]) else "\n" + tr(
        "plots.drift.psi", psi=s["psi"], flag=tr_or(f"flag.{s['psi_flag']}", s["psi_flag"]), ks=s["ks"],
        p=s["ks_pvalue"])
    ax.set_title(tr("plots.drift.title") + sub)
    return ax


@with_lang
def plot_genuineness(genuineness: pd.DataFrame, *, attacks: Sequence[str] | None = None,
                     binwidth: float = 0.02, log: bool = True, legend: bool = True, ax=None, **kwargs) -> Axes:
    """Anti-spoofing confidence per attack type against its threshold, flagged share in the legend.

    One step histogram per attack type; a dashed line at its most common threshold
    (a band when the thresholds vary).  A check is flagged when its confidence
    exceeds its own threshold.  ``kwargs`` go to ``ax.stairs``.
    """
    require(genuineness, ["attack", "confidence"],
            "plot_genuineness (a genuineness table: fa.load(DATA, 'genuineness'))")
    ax = get_ax(ax)
    if isinstance(attacks, str):  # attacks="mask": one attack, not its letters (isin raised TypeError)
        attacks = [attacks]
    g = genuineness if attacks is None else genuineness[genuineness["attack"].isin(attacks)]
    hist = genuineness_histogram(g, binwidth=binwidth)
    rates = genuineness_rates(g).set_index("attack")
    near = genuineness_near_threshold(g).set_index("attack")
    checks = once_per_attempt(g)["attack"].value_counts()      # as the histogram counts them
    for i, (attack, h) in enumerate(hist.groupby("attack", sort=True)):
        color = ATTACK_COLORS[i % len(ATTACK_COLORS)]
        r = rates.loc[attack]
        edges = np.append(h["bin_left"].to_numpy(), h["bin_right"].to_numpy()[-1])
        if not h["count"].any():
            # every confidence missing: "no threshold returned (0 scores)" was said of checks with a threshold
            label = tr("plots.genuineness.no_scores", attack=attack, n=int(checks.get(attack, 0)))
        elif r["n"] == 0:
            label = tr("plots.genuineness.no_threshold", attack=attack, n=int(r["n_no_threshold"]))
        elif r["low_n"]:
            label = tr("plots.genuineness.few", attack=attack, k=int(r["flagged"]), n=int(r["n"]))
        else:
            label = tr("plots.genuineness.rate", attack=attack, rate=pct(r["flagged_rate"]), low=pct(r["ci_low"]),
                       high=pct(r["ci_high"]), n=int(r["n"]), coverage=pct(r["coverage"], 0))
        ax.stairs(h["count"].to_numpy(), edges, color=color, label=label, linewidth=1.4, **kwargs)
        nr = near.loc[attack]
        if r["n"] > 0 and not np.isnan(nr["threshold"]):
            if nr["n_thresholds"] > 1:
                ax.axvspan(nr["threshold_min"], nr["threshold_max"], color=color, alpha=0.08, lw=0)
            vary = tr("plots.genuineness.vary", low=nr["threshold_min"], high=nr["threshold_max"]) \
                if nr["n_thresholds"] > 1 else ""
            ax.axvline(nr["threshold"], color=color, linestyle="--", linewidth=1.2,
                       label=tr("plots.genuineness.threshold", attack=attack, threshold=nr["threshold"], vary=vary))
    drawn = bool(hist["count"].any())
    if not drawn:
        # all-NaN confidences (or no rows) gave only matplotlib's "Data has no positive values,
        # and therefore cannot be log-scaled" and an empty frame: the axes says so instead
        ax.text(0.5, 0.5, tr("plots.genuineness.nothing", n=int(checks.sum())), transform=ax.transAxes,
                ha="center", va="center", color="0.35")
    if log and drawn:
        ax.set_yscale("log")
    ax.set_xlim(0, 1)
    ax.set_xlabel(tr("plots.genuineness.xlabel"))
    ax.set_ylabel(tr("plots.genuineness.ylabel_log" if log and drawn else "plots.genuineness.ylabel", width=binwidth))
    ax.set_title(tr("plots.genuineness.title"))
    if legend and ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize="small", frameon=False, loc="upper right")
    return ax
