"""Every word the explorers show, in one place (English).

:mod:`faceanalytics.widgets` draws controls, a figure and two HTML panes; the words come
from here, so a message catalogue (another language) can replace this module's strings
without touching the counting (:mod:`faceanalytics._explore`) or the layout.  State keys
(``"pass"``, ``"to_reject"``, ...) and control values are not words: they stay as they are.
"""
from __future__ import annotations

import pandas as pd

__all__ = ["T", "NOUN", "WORD", "RULE", "FREQ", "TABLE_COLUMNS", "sessions", "pct"]

#: Control labels, option labels, figure labels and messages; ``{}`` fields by name.
T = {
    "segment": "segment",
    "period": "period",
    "judge_at": "judge at",
    "current": "current",
    "cut": "cut",
    "all_segments": "all segments",
    "all_periods": "all periods",
    "no_rows_option": "(no rows)",
    "no_rule": "none",
    "custom_option": "custom cut",
    "segment_option": "{column} = {value}",
    "missing": "(missing)",
    "no_time": "(no time)",
    # figure
    "x_label": "confidence ({scale})",
    "y_label": "{noun} per {binwidth} bin",
    "cut_custom": "custom cut: {x}",
    "cut_rule": "{rule} (each row at its own): {x}",
    "current_line": "current {rule}: {x}",
    "would_flip": "would flip: {n:,}",
    "thresholds_vary": "thresholds vary {lo}–{hi}",
    "title": "{where}\n{positive:,} of {n:,} {positive_word}{rate} at {at}",
    "at_custom": "the custom cut {x}",
    "at_rule": "{rule} (each row at its own threshold)",
    # messages
    "empty": "No {noun} in this selection ({where}).",
    "no_threshold": "No {noun} in this selection ({where}) have a {rule} threshold.",
    "counting": "Counting {noun} ({where}) where the data lives…",
    "fetching": "Fetching the {noun} nearest the cut…",
    # counts pane
    "too_few": "n<{min_n}: too few for a rate",
    "row_at_custom": "at custom cut {x}",
    "row_at_rule": "at {rule} (each row at its own threshold)",
    "row_current": "current {rule} (rows with both)",
    "col_n": "n",
    "col_rate": "{positive} rate (95% CI)",
    "no_current": "No current threshold to compare with.",
    "no_current_here": "No row here has a {rule} threshold to compare with.",
    "would_flip_text": ("Would flip against current {rule}: <b>{down:,}</b> {positive}→{negative} ({sessions_down}), "
                        "<b>{up:,}</b> {negative}→{positive} ({sessions_up}), of {n:,} {noun} judged under both."),
    "sessions_pending": "sessions: fetching…",
    "without_confidence": "{missing:,} {noun} without a confidence count as {negative}.",
    # nearest rows pane
    "nearest_head": "{n} {noun} nearest the cut",
    "nearest_masked": " (session ids masked)",
    "custom_rule": "custom",
}

#: What one row is called, per explorer (``spec.table``).
NOUN = {"comparisons": "comparisons", "genuineness": "checks"}

#: The words for the decisions and the kind control (state keys -> shown).
WORD = {"pass": "pass", "reject": "reject", "flagged": "flagged", "not flagged": "not flagged",
        "comparison": "comparison", "attack": "attack"}

#: Rule names -> how they are shown.
RULE = {"1e-3": "1e-3", "1e-4": "1e-4", "1e-5": "1e-5", "1e-6": "1e-6", "configured": "Baidu configured",
        "threshold": "row threshold", "custom": "custom"}

#: Period words per ``freq``, and the date format.
FREQ = {"D": ("day", "%Y-%m-%d"), "W": ("week of", "%Y-%m-%d"), "M": ("month", "%Y-%m")}

#: The nearest-rows table's column headings.
TABLE_COLUMNS = {"session_id": "session", "source": "source", "session_time": "time (UTC)", "attempt": "attempt",
                 "confidence": "confidence", "threshold": "cut", "margin": "margin", "decision": "decision",
                 "current_decision": "current", "change": "change"}


def sessions(k) -> str:
    """``"3 sessions"`` (``None``: still being counted)."""
    if k is None:
        return "… sessions"
    return f"{k:,} session" + ("" if k == 1 else "s")


def pct(k: int, n: int) -> str:
    return f"{100 * k / n:.1f}%" if n else "n/a"


def period_label(p, freq: str | None) -> str:
    """How a period option reads: ``"week of 2026-03-09"``."""
    if isinstance(p, str):
        return T["no_time"] if p == "(no time)" else p
    word, fmt = FREQ.get(freq or "", ("", "%Y-%m-%d"))
    return f"{word} {pd.Timestamp(p).strftime(fmt)}".strip()


__all__ += ["period_label"]
