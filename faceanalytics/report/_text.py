"""Every sentence the review report writes, in one place (English).

Sections are plain data; the words come from here, so a message catalogue (another
language) can replace this module's strings without touching the counting or the
template.  Numbers are formatted here too: rates as percentages, changes in points.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..analytics._core import MIN_N

__all__ = ["SECTIONS", "pct", "points", "change_finding", "threshold_finding", "also_tag", "ORIGIN", "T"]

#: (anchor, heading, the one sentence that opens the section)
SECTIONS: tuple[tuple[str, str, str], ...] = (
    ("headline", "Headline figures",
     "The period's volumes and outcomes beside the previous period's, rates with their 95% interval and "
     "changes in percentage points: the box lists what changed significantly, strongest first."),
    ("changes", "Changes within the period",
     "Steps and short waves found in the daily and weekly series of every rate, pooled and per segment, "
     "each drawn with the dates it covers: look at the segment and the dates before deciding what to do."),
    ("segments", "Segments",
     "The pass rate at the level in force per value of each segment key, this period and the previous one: "
     "look for one value that moves while the others hold."),
    ("funnel", "Status funnel",
     "Where Megvii Lite sessions ended, in lifecycle order: look for more sessions cancelled, timed out or "
     "failed, which means users dropping out."),
    ("pass-rates", "Pass rates per level and their trend",
     "The share of comparisons whose confidence reaches each false-accept level's threshold (every row judged "
     "at its own threshold), per source and comparison and over time: look for steps and slopes, and read "
     "segments marked as counts as too small for a rate."),
    ("confidence", "Confidence against thresholds",
     "The distribution of confidence for each comparison with the reference thresholds drawn over it: look "
     "for mass piling up just below a threshold and for thresholds that vary within the period."),
    ("would-flip", "Would-flip at the neighbouring levels",
     "How many comparisons would change decision if the cut moved one level stricter (moving back flips the "
     "same rows the other way): look for large flips at the level you use."),
    ("anti-spoofing", "Anti-spoofing per attack type",
     "The share of anti-spoofing checks flagged per attack type, each against its own threshold, and day by "
     "day: look for a wave of one attack type and for scores crowding the threshold."),
    ("errors", "Error codes and billed errors",
     "Every error of the period in one ranked (Pareto) list with whether the provider bills it: look for the "
     "few codes that make most of the errors and for billed errors you pay for."),
    ("drift", "Drift against the previous period",
     "The signed change in pass rate per level with its 95% interval first, then shifts in the confidence "
     "distributions (PSI, KS): a change whose interval excludes zero matters even when PSI reads stable."),
    ("thresholds", "Threshold changes per comparison kind and source",
     "The reference-threshold sets the provider returned for each comparison kind and source, and the dated "
     "eras in which each dominated: a new set moves pass rates with no change in users."),
    ("labels", "Error rates against labels",
     "False-accept and false-reject rates at each level from outcome labels you supplied (case management, "
     "confirmed fraud), with 95% intervals: the rates the thresholds are named after, measured."),
    ("quality", "Data quality",
     "What the figures above may miss or count twice: quarantined records, sessions without a result, request "
     "ids shared by different sessions and results fetched after the provider's retention; all should be "
     "close to zero."),
    ("method", "How this report counts",
     "How sessions are dated, which rows count once, how changes are found and how often the method raises "
     "a false alarm: read it before quoting a number."),
    ("decision", "Keep or review",
     "One row per source, comparison kind and level with the rule that marks it for review, ending the "
     "report with what to decide."),
)

ORIGIN = {"api_error": "API error", "verify_error": "Megvii verify error",
          "liveness_failure": "liveness failure", "lite_fail_reason": "Lite fail_reason",
          "lite_status": "Lite status", "baidu_stat": "Baidu stat", "baidu_attempt": "Baidu attempt"}
_UNIT = {"pass_rate": "comparisons", "configured": "comparisons", "flagged": "checks", "error": "sessions",
         "billed": "sessions"}


class T:
    """Short strings used by the sections and the template."""
    look_first = "Look at first"
    nothing = ("Nothing changed significantly: no step or wave within this period or at its start in any of the "
               "{tested:,} series tested (every rate, pooled and per segment; false-discovery rate {alpha:.0%}), and "
               "no new reference thresholds.")
    nothing_untested = "Too little data in this period to test for changes."
    more = "… and {n} more in Changes within the period."
    period = "Period"
    compared = "Compared with"
    sessions = "Sessions"
    level_in_force = "Level in force"
    no_sessions = "No sessions in this period: there is nothing to review. The previous period had {n:,}."
    few_sessions = ("Only {n:,} session(s) in this period: too few for rates, so figures below are shown as "
                    "counts (a rate needs n ≥ {min_n}).")
    footer = ("Made by faceanalytics {version} on {now} UTC from {data}. Rates: Wilson 95% intervals; changes: "
              "Newcombe 95% intervals; n < {min_n} shown as counts. Every comparison is judged at its own "
              "reference threshold. This file is self-contained: no script, no external link.")
    see_section = "section"
    see_figure = "figure"
    count_not_rate = "fewer than {min_n}: a count, not a rate"
    too_few = "too few to compare"
    none = "none"


def pct(x, digits: int = 1) -> str:
    if x is None or x is pd.NA or (isinstance(x, float) and not math.isfinite(x)):
        return "n/a"
    return f"{float(x) * 100:.{digits}f}%"


def points(x, digits: int = 1, sign: bool = True) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "n/a"
    return f"{float(x) * 100:{'+' if sign else ''}.{digits}f}"


def _day(t) -> str:
    return f"{pd.Timestamp(t):%Y-%m-%d}"


def _subject(r) -> tuple[str, str]:
    """(title, unit) of a series."""
    fam = r["family"]
    if fam == "pass_rate":
        return f"{r['comparison']} pass rate at {r['level']} ({r['source']})", "comparisons"
    if fam == "configured":
        return f"{r['comparison']} pass rate at Baidu's configured threshold ({r['source']})", "comparisons"
    if fam == "flagged":
        return f"{r['attack']} flagged share ({r['source']})", "checks"
    if fam == "billed":
        unit = "attempts" if r["source"] == "Baidu" else "sessions"
        return f"Billed errors, {r['source']}", unit
    code = str(r["code"]) + (f" · {r['detail']}" if _s(r.get("detail")) else "")
    unit = "attempts" if r["origin"] == "baidu_attempt" else "stat calls" if r["origin"] == "baidu_stat" \
        else "sessions"
    return f"{code} ({ORIGIN.get(r['origin'], r['origin'])})", unit


def _decision(fam: str, diff: float, seg: str, level) -> str:
    up = diff > 0
    where = f" {seg}" if seg else ""
    if fam in ("pass_rate", "configured"):
        cut = f"the {level} cut" if fam == "pass_rate" else "the configured threshold"
        return (f"More rejections{where}: find who is being rejected before keeping {cut}." if not up else
                f"More acceptances{where}: rule out attacks and threshold changes before keeping {cut}.")
    if fam == "flagged":
        return (f"More checks flagged{where}: look at the flagged sessions (an attack wave, or the detector "
                f"drifting)." if up else f"Fewer checks flagged{where}: make sure the check still runs.")
    if fam == "billed":
        return "You pay for these: find what causes them." if up else "Fewer billed errors than before."
    return (f"Find what changed for these users{where} (an app release, a data-source outage)." if up else
            f"This error became rarer{where}: confirm it is not hidden elsewhere.")


def change_finding(r, levels):
    """A :class:`~faceanalytics.report._findings.Finding` from one row of ``detect_changes``."""
    from ._findings import Finding, level_for

    title, unit = _subject(r)
    seg = None
    seg_text = ""
    if _s(r.get("seg_key")) is not None and _s(r.get("seg_value")) is not None:
        seg = {"key": str(r["seg_key"]), "value": str(r["seg_value"])}
        seg_text = f"{seg['key']} = {seg['value']}"
    start = pd.Timestamp(r["start"])
    end = pd.Timestamp(r["end"]) if r["end"] is not None and not pd.isna(r["end"]) else None
    if r["kind"] == "wave":
        when = f"from {_day(start)} to {_day(end - pd.Timedelta(days=1))}, then back" if end is not None else \
            f"from {_day(start)}"
    else:
        when = f"from {_day(start)} on"
    diff, lo, hi = float(r["diff"]), float(r["ci_low"]), float(r["ci_high"])
    head = title + (f", {seg_text}" if seg_text else "")
    text = (f"{head}: {pct(r['rate_before'])} → {pct(r['rate_after'])} {when} ({points(diff)} points, "
            f"95% CI {points(lo)} to {points(hi)}; {int(r['k_after']):,} of {int(r['n_after']):,} {unit} in the "
            f"changed stretch, {r['frequency']} series).")
    lv = r["level"] if r["family"] == "pass_rate" else None
    score = float(r["statistic"]) * abs(diff)
    if lv is not None and lv == level_for(levels, r["comparison"]):
        score *= 1.5
    return Finding(rank=0, kind=str(r["kind"]), family=str(r["family"]), title=head, text=text,
                   decision=_decision(r["family"], diff, f"for {seg_text}" if seg_text else "", lv),
                   start=start.isoformat(), end=end.isoformat() if end is not None else None,
                   source=_s(r.get("source")), comparison=_s(r.get("comparison")), level=_s(r.get("level")),
                   attack=_s(r.get("attack")), code=_s(r.get("code")), segment=seg,
                   rate_before=float(r["rate_before"]), rate_after=float(r["rate_after"]),
                   change_points=diff * 100, ci_low_points=lo * 100, ci_high_points=hi * 100,
                   k_before=int(r["k_before"]), n_before=int(r["n_before"]), k_after=int(r["k_after"]),
                   n_after=int(r["n_after"]), q_value=float(r["q_value"]), statistic=float(r["statistic"]),
                   frequency=str(r["frequency"]), score=score)


def _s(v):
    return None if v is None or (isinstance(v, float) and np.isnan(v)) else str(v)


def threshold_finding(r, changes):
    """A new reference-threshold set for a comparison kind and source: the step (or wave) of its
    share, naming the set whose share fell at the same time."""
    from ._findings import Finding

    start = pd.Timestamp(r["start"])
    end = pd.Timestamp(r["end"]) if r["kind"] == "wave" and not pd.isna(r["end"]) else None
    old = changes[(changes["family"] == "thresholds") & (changes["source"] == r["source"])
                  & (changes["comparison"] == r["comparison"]) & (changes["diff"] < 0)
                  & ((changes["start"] - r["start"]).abs() <= pd.Timedelta(days=7))]
    title = f"New reference thresholds for {r['comparison']} ({r['source']})"
    when = (f"from {_day(start)} to {_day(end - pd.Timedelta(days=1))} only" if end is not None
            else f"from {_day(start)} on")
    replaced = f", replacing {old.sort_values('diff').iloc[0]['code']}" if len(old) else ""
    text = (f"{title}: {r['code']} (1e-3/1e-4/1e-5/1e-6) {when}{replaced}; its share of the "
            f"comparisons went {pct(r['rate_before'])} → {pct(r['rate_after'])} ({int(r['k_after']):,} of "
            f"{int(r['n_after']):,}).")
    return Finding(rank=0, kind=str(r["kind"]), family="thresholds", title=title, text=text,
                   decision="The provider moved its cuts: compare pass rates within each era and re-check the "
                            "level in force.",
                   start=start.isoformat(), end=end.isoformat() if end is not None else None,
                   source=str(r["source"]), comparison=str(r["comparison"]), code=str(r["code"]),
                   rate_before=float(r["rate_before"]), rate_after=float(r["rate_after"]),
                   change_points=float(r["diff"]) * 100, ci_low_points=float(r["ci_low"]) * 100,
                   ci_high_points=float(r["ci_high"]) * 100, k_before=int(r["k_before"]),
                   n_before=int(r["n_before"]), k_after=int(r["k_after"]), n_after=int(r["n_after"]),
                   q_value=float(r["q_value"]), statistic=float(r["statistic"]), frequency=str(r["frequency"]),
                   section="#thresholds", score=1e3 + float(r["statistic"]) * abs(float(r["diff"])))


def also_tag(f) -> str:
    """How a merged finding is named in its lead's "also seen" list."""
    bits = [f"at {f.level}"] if f.level and f.family == "pass_rate" else []
    bits.append(f"{f.segment['key']} = {f.segment['value']}" if f.segment else "all sessions")
    bits.append(f"({f.frequency})" if f.frequency else "")
    return " ".join(b for b in bits if b)


def rate_text(k, n, lo=None, hi=None, min_n: int = MIN_N) -> str:
    """A rate as plain text with its interval, or a count when n is small."""
    if not n:
        return T.none
    if n < min_n:
        return f"{int(k):,} of {int(n):,}"
    return f"{pct(k / n)} [{pct(lo)}–{pct(hi)}] n={int(n):,}"
