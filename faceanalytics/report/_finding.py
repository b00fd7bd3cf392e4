"""A finding, and the level in force per comparison kind: what the review's detector
(:mod:`._findings`) produces and the report's words (:mod:`._text`) describe."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import pandas as pd

from ..analytics._core import COMPARISON_KINDS, level_name
from ..schema import LEVELS

__all__ = ["Finding", "parse_levels", "level_for"]


# the ``comparison`` values the tables hold (one list, in the metrics: a test holds it equal to the
# field spec's result_* blocks plus Baidu's ``faceprint``); the kinds that carry reference levels are
# Megvii's: Baidu's score is judged against the threshold Baidu configured (level "configured")
LEVELLED_KINDS = tuple(k for k in COMPARISON_KINDS if k != "faceprint")


def parse_levels(spec) -> dict[str, str]:
    """``"1e-4"``, ``["faceid=1e-5", "1e-4"]`` or a mapping -> {comparison or "*": level}."""
    if spec is None:
        return {"*": "1e-4"}
    if isinstance(spec, dict):
        items = list(spec.items())
    else:
        items = []
        for part in ([spec] if isinstance(spec, str) else spec):
            for p in str(part).split(","):
                p = p.strip()
                if not p:
                    continue
                k, sep, v = p.partition("=")
                items.append((k.strip(), v.strip()) if sep else ("*", k))
    if not items:
        # `--level "$LEVEL"` with LEVEL unset kept the default without a word
        raise ValueError("no level given (empty: an unset shell variable?); give one such as 1e-4 or "
                         "faceid=1e-5, or leave it out for the default 1e-4")
    out: dict[str, str] = {}
    for k, v in items:
        k = k or "*"
        if k != "*" and k not in COMPARISON_KINDS:
            # a misspelt kind would otherwise leave the default in force without a word
            raise ValueError(f"no comparison kind {k!r}: the kinds with levels are {', '.join(LEVELLED_KINDS)}")
        if k != "*" and k not in LEVELLED_KINDS:
            # accepted, it changed nothing: faceprint rows have no thr_1e* columns to pick from
            raise ValueError(f"{k} has no reference levels: Baidu judges its score against the threshold "
                             f"configured in the plan (shown as level 'configured'), so there is no level "
                             f"to choose; give a level for every comparison (e.g. 1e-4) or for a Megvii "
                             f"kind ({', '.join(LEVELLED_KINDS)})")
        try:
            v = level_name(v)   # as the metrics read a level: "1e-4", "1e-04", "0.0001"
        except ValueError:
            raise ValueError(f"level must be one of {', '.join(LEVELS)}, not {v!r}") from None
        if out.get(k, v) != v:
            raise ValueError(f"two levels for {'every comparison' if k == '*' else k}: {out[k]} and {v}")
        out[k] = v
    out.setdefault("*", "1e-4")
    return out


def same_dates(a_start, a_end, b_start, b_end) -> bool:
    """Whether two changes' dates are those of one change seen twice: starts within 7 days of each
    other and stretches overlapping (``end`` exclusive; None or NaT: open, a step)."""
    def end(e):
        return pd.Timestamp.max.tz_localize("UTC") if e is None or e == "" or pd.isna(e) else pd.Timestamp(e)

    a0, b0 = pd.Timestamp(a_start), pd.Timestamp(b_start)
    return abs((a0 - b0) / pd.Timedelta(days=1)) <= 7 and a0 < end(b_end) and b0 < end(a_end)


def level_for(levels: dict[str, str], comparison) -> str:
    return levels.get(str(comparison), levels["*"])


@dataclass
class Finding:
    """One thing to look at: numbers, dates, segment, and where the report shows it."""
    rank: int
    kind: str                      # "step", "wave" or "thresholds"
    family: str                    # pass_rate, configured, flagged, error, billed, thresholds
    title: str                     # what changed, one line
    text: str                      # the sentence with numbers
    decision: str                  # what it asks of the analyst
    start: str
    end: str | None
    source: str | None = None
    comparison: str | None = None
    level: str | None = None
    attack: str | None = None
    code: str | None = None        # error code; for family "thresholds" the new set as text
    origin: str | None = None      # family "error": where the code comes from (verify_error, baidu_attempt,
    detail: str | None = None      # baidu_stat, ...) and, for a Baidu stat code, its api (Verify_FIN, ...)
    segment: dict | None = None
    thresholds: dict | None = None  # family "thresholds": the new set, {level: threshold}
    replaces: dict | None = None    # ... and the set whose share fell at the same time
    rate_before: float | None = None
    rate_after: float | None = None
    change_points: float | None = None
    ci_low_points: float | None = None
    ci_high_points: float | None = None
    k_before: int | None = None
    n_before: int | None = None
    k_after: int | None = None
    n_after: int | None = None
    q_value: float | None = None
    statistic: float | None = None
    frequency: str | None = None
    also: list[str] = field(default_factory=list)
    section: str = "#changes"
    figure: str | None = None      # the anchor of the figure that draws it; None: ``figure_note`` says why
    figure_note: str | None = None
    evidence: float | None = None  # the strictest false-discovery level its q-value passes (._findings.rank)
    affected: float | None = None  # decisions it changed: |change| x the trials in the change (._findings.rank)
    start_low: str | None = None   # the start's 95% date interval, days (detect_changes' start_low/start_high)
    start_high: str | None = None
    end_low: str | None = None     # a wave's end's 95% interval, days, exclusive as ``end`` (end_low/end_high)
    end_high: str | None = None

    def as_json(self) -> dict:
        d = asdict(self)
        for k, v in d.items():
            if isinstance(v, float) and not math.isfinite(v):
                d[k] = None
        return d
