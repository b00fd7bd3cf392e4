"""The explorers' words: the ``[explorer]`` tables of the message catalogues, and how a value
reads in them.

:mod:`faceanalytics.widgets` names a message (``tr("explorer.cut")``) or asks here for a
code's words (a rule, a decision, a period); every word comes from
``faceanalytics/messages/<lang>.toml`` through :mod:`faceanalytics._i18n`, in the language
the explorer was opened with.  State keys (``"pass"``, ``"to_reject"``, ...), control values
and the nearest-rows frame keep their codes: only what is shown is translated.
"""
from __future__ import annotations

import pandas as pd

from ._i18n import tr, tr_or

__all__ = ["COLUMNS", "noun", "word", "rule", "kind_label", "segment_label", "period_label", "sessions", "pct",
           "column"]

#: The nearest-rows table's columns, in order (headings: ``explorer.col.<name>``).
COLUMNS = ("session_id", "source", "session_time", "attempt", "confidence", "threshold", "margin", "decision",
           "current_decision", "change")


def noun(table: str) -> str:
    """What one row of ``table`` is called (``"comparisons"``, ``"checks"``)."""
    return tr(f"explorer.noun.{table}")


def word(code: str) -> str:
    """A decision or a control's name (``"pass"``, ``"not flagged"``, ``"attack"``)."""
    return tr(f"explorer.word.{code.replace(' ', '_')}")


def rule(name) -> str:
    """A rule as shown: levels as they are (``1e-4``), the others from the catalogue."""
    return tr_or(f"explorer.rule.{name}", name)


def kind_label(kind_column: str, value) -> str:
    """A kind option: attack types in the reader's words (as the report shows them), comparison
    kinds as their codes; missing as ``(missing)``."""
    if value is None:
        return tr("explorer.missing")
    return tr_or(f"attack.{value}", value) if kind_column == "attack" else str(value)


def segment_label(column: str, value, missing: str, other: str) -> str:
    """A segment option: ``column = value`` (the ``missing`` / ``other`` codes in words)."""
    v = tr("explorer.missing") if value == missing else tr("segments.other") if value == other else value
    return tr("explorer.segment_option", column=tr_or(f"explorer.segment_name.{column}", column), value=v)


def period_label(p, freq: str | None, no_time: str) -> str:
    """How a period option reads: ``"week of 2026-03-09"``."""
    if isinstance(p, str):
        return tr("explorer.no_time") if p == no_time else p
    date = pd.Timestamp(p).strftime("%Y-%m" if freq == "M" else "%Y-%m-%d")
    return tr(f"explorer.period_label.{freq}", date=date) if freq in ("D", "W", "M") else date


def sessions(k) -> str:
    """``"3 sessions"`` (``None``: still being counted)."""
    if k is None:
        return tr("explorer.sessions_pending")
    return tr("explorer.session" if k == 1 else "explorer.sessions", n=k)


def pct(k: int, n: int) -> str:
    return f"{100 * k / n:.1f}%" if n else tr("na")


def column(name: str) -> str:
    """A nearest-rows table heading."""
    return tr(f"explorer.col.{name}")
