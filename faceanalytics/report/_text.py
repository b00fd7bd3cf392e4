"""The report's words, formatted: every sentence comes from the message catalogue.

The wording lives in ``faceanalytics/messages/<lang>.toml`` (see :mod:`faceanalytics._i18n`);
this module picks the message and fills in the numbers, in the language of the review
being built.  Numbers are formatted here too: rates as percentages, changes in points.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .._i18n import join, language, tr, tr_or
from ..schema import LEVELS
from ._finding import Finding

__all__ = ["SECTIONS", "SECTION_IDS", "sections", "pct", "points", "change_finding", "threshold_finding", "also_tag",
           "confined_tag", "pool_dated_tag", "at_new_thresholds", "origin", "provider", "attack", "tr", "tr_or", "join"]

#: the sections in report order (each has ``sections.<id>.heading`` and ``.lead`` in the catalogue)
SECTION_IDS = ("headline", "changes", "segments", "funnel", "pass-rates", "confidence", "would-flip",
               "anti-spoofing", "errors", "drift", "thresholds", "labels", "quality", "method", "decision")


def sections() -> tuple[tuple[str, str, str], ...]:
    """(anchor, heading, the one sentence that opens the section), in the current language."""
    return tuple((k, tr(f"sections.{k}.heading"), tr(f"sections.{k}.lead")) for k in SECTION_IDS)


with language("en"):
    #: :func:`sections` in English
    SECTIONS: tuple[tuple[str, str, str], ...] = sections()


def pct(x, digits: int = 1) -> str:
    if x is None or x is pd.NA or (isinstance(x, float) and not math.isfinite(x)):
        return tr("na")
    return f"{float(x) * 100:.{digits}f}%"


def points(x, digits: int = 1, sign: bool = True) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return tr("na")
    return f"{float(x) * 100:{'+' if sign else ''}.{digits}f}"


def origin(code) -> str:
    """Where an error code comes from (``api_error`` -> "API error")."""
    return tr_or(f"origin.{code}", code)


def attack(name) -> str:
    """An attack type as the reader names it (``synthetic_face`` -> 合成脸 in Chinese)."""
    return tr_or(f"attack.{name}", name)


def provider(name) -> str:
    """A provider as the reader names it ("Megvii", "Baidu"); other values as they are."""
    return tr_or(f"provider.{name}", name)


def _day(t) -> str:
    return f"{pd.Timestamp(t):%Y-%m-%d}"


def _subject(r) -> tuple[str, str]:
    """(title, unit) of a series."""
    fam = r["family"]
    if fam in ("pass_rate", "configured"):
        return tr(f"finding.subject.{fam}", comparison=r["comparison"], level=r["level"], source=r["source"]), \
            tr("unit.comparisons")
    if fam == "flagged":
        return tr("finding.subject.flagged", attack=attack(r["attack"]), source=r["source"]), tr("unit.checks")
    if fam == "billed":
        unit = tr("unit.attempts") if r["source"] == "Baidu" else tr("unit.sessions")
        return tr("finding.subject.billed", source=provider(r["source"])), unit
    code = str(r["code"])
    if _s(r.get("detail")):
        code = tr("finding.code_detail", code=code, detail=r["detail"])
    unit = tr("unit.attempts") if r["origin"] == "baidu_attempt" else tr("unit.stat_calls") \
        if r["origin"] == "baidu_stat" else tr("unit.sessions")
    return tr("finding.subject.error", code=code, origin=origin(r["origin"])), unit


def _decision(fam: str, diff: float, seg: str, level) -> str:
    up = diff > 0
    where = tr("finding.where", segment=seg) if seg else ""
    if fam in ("pass_rate", "configured"):
        cut = tr("finding.cut.level", level=level) if fam == "pass_rate" else tr("finding.cut.configured")
        return tr("finding.decision.accept_more" if up else "finding.decision.reject_more", where=where, cut=cut)
    if fam == "flagged":
        return tr("finding.decision.flagged_more" if up else "finding.decision.flagged_less", where=where)
    if fam == "billed":
        return tr("finding.decision.billed_more" if up else "finding.decision.billed_less")
    return tr("finding.decision.error_more" if up else "finding.decision.error_less", where=where)


def segment_text(key, value) -> str:
    return tr("finding.segment", key=key, value=value)


def finding_segment(key, raw, labels=None) -> dict:
    """A finding's ``segment``: the key and the value as shown (:mod:`._shown`: percent-escapes
    decoded), with ``raw``, the value as stored, when the two differ (what the series and
    the engines' tables hold; two stored values shown alike stay two segments); a key shown
    decoded keeps its stored form in ``raw_key``."""
    from ._shown import shown

    from ._shown import shown_key

    key, raw = str(key), str(raw)
    value = str(shown(labels, key, raw))
    out = {"key": str(shown_key(key)), "value": value}
    if value != raw:
        out["raw"] = raw
    if out["key"] != key:            # a percent-encoded key: shown decoded, kept as stored
        out["raw_key"] = key
    return out


def stored_key(segment: dict):
    """The key of a finding's ``segment`` as the series hold it."""
    return segment.get("raw_key", segment["key"])


def stored_value(segment: dict):
    """The value of a finding's ``segment`` as the series hold it."""
    return segment.get("raw", segment["value"])


def change_finding(r, levels, labels=None):
    """A :class:`~faceanalytics.report._findings.Finding` from one row of ``detect_changes``;
    ``labels``: the segment values as shown (:func:`._shown.segment_labels`)."""
    title, unit = _subject(r)
    seg = None
    seg_text = ""
    if _s(r.get("seg_key")) is not None and _s(r.get("seg_value")) is not None:
        seg = finding_segment(r["seg_key"], r["seg_value"], labels)
        seg_text = segment_text(seg["key"], seg["value"])
    start = pd.Timestamp(r["start"])
    end = pd.Timestamp(r["end"]) if r["end"] is not None and not pd.isna(r["end"]) else None
    when, (first, last, end_first, end_last) = _when(r, start, end if r["kind"] == "wave" else None)
    diff, lo, hi = float(r["diff"]), float(r["ci_low"]), float(r["ci_high"])
    head = tr("finding.head_segment", title=title, segment=seg_text) if seg_text else title
    text = tr("finding.text", head=head, before=pct(r["rate_before"]), after=pct(r["rate_after"]), when=when,
              diff=points(diff), low=points(lo), high=points(hi), k=int(r["k_after"]), n=int(r["n_after"]),
              k_out=int(r["k_before"]), n_out=int(r["n_before"]), unit=unit, frequency=tr(f"finding.frequency.{r['frequency']}"))
    lv = r["level"] if r["family"] == "pass_rate" else None
    return Finding(rank=0, kind=str(r["kind"]), family=str(r["family"]), title=head, text=text,
                   decision=_decision(r["family"], diff, seg_text, lv),
                   start=start.isoformat(), end=end.isoformat() if end is not None else None,
                   source=_s(r.get("source")), comparison=_s(r.get("comparison")), level=_s(r.get("level")),
                   attack=_s(r.get("attack")), code=_s(r.get("code")), origin=_s(r.get("origin")),
                   detail=_s(r.get("detail")), segment=seg,
                   rate_before=float(r["rate_before"]), rate_after=float(r["rate_after"]),
                   change_points=diff * 100, ci_low_points=lo * 100, ci_high_points=hi * 100,
                   k_before=int(r["k_before"]), n_before=int(r["n_before"]), k_after=int(r["k_after"]),
                   n_after=int(r["n_after"]), q_value=float(r["q_value"]), statistic=float(r["statistic"]),
                   frequency=str(r["frequency"]), start_low=first, start_high=last, end_low=end_first,
                   end_high=end_last)


def _when(r, start: pd.Timestamp, end: pd.Timestamp | None, wave: str = "finding.when.wave",
          between: str = "finding.when.wave_between", open_: str = "finding.when.open"):
    """The words that date a change of ``detect_changes`` (row ``r``, its ``start``; ``end``: a
    wave's exclusive end, None for a step or a wave still open), with the 95% intervals where
    they are wider than the day (``wave``, ``between``, ``open_``: a wave's catalogue keys), and
    the intervals as days: (start_low, start_high, end_low, end_high), None where it has none."""
    first, last = _date_interval(r, "start")
    end_first, end_last = _date_interval(r, "end") if r["kind"] == "wave" else (None, None)
    dates = (first, last, end_first, end_last)
    if r["kind"] != "wave":
        if first is not None and (first != _day(start) or last != _day(start)):
            return tr("finding.when.step_between", start=_day(start), low=first, high=last), dates
        return tr("finding.when.step", start=_day(start)), dates
    if end is None:
        return tr(open_, start=_day(start)), dates
    shown = dict(start=_day(start), end=_day(end - pd.Timedelta(days=1)))
    if first is not None and end_first is not None \
            and dates != (_day(start), _day(start), _day(end), _day(end)):
        return tr(between, **shown, low=first, high=last, end_low=_last_day(end_first),
                  end_high=_last_day(end_last)), dates
    return tr(wave, **shown), dates


def _date_interval(r, edge: str) -> tuple[str | None, str | None]:
    """The 95% date interval of a change's ``edge`` (``"start"``, or a wave's ``"end"``, exclusive:
    ``detect_changes``' ``<edge>_low``/``<edge>_high``) as days; None for a row without one."""
    low, high = r.get(f"{edge}_low"), r.get(f"{edge}_high")
    if low is None or high is None or pd.isna(low) or pd.isna(high):
        return None, None
    return _day(low), _day(high)


def _last_day(end: str) -> str:
    """The last day of a stretch whose exclusive end is the day ``end``."""
    return _day(pd.Timestamp(end) - pd.Timedelta(days=1))


def _s(v):
    return None if v is None or (isinstance(v, float) and np.isnan(v)) else str(v)


def set_levels(label) -> dict[str, float]:
    """A threshold set's text (``analytics.threshold_set_labels``: ``"64/70.5/–/79"``, levels
    in ``LEVELS`` order) as {level: threshold}, the levels it lacks left out."""
    return {lv: float(v) for lv, v in zip(LEVELS, str(label).split("/")) if v != "–"}


def threshold_finding(r, changes):
    """A new reference-threshold set for a comparison kind and source: the step (or wave) of its
    share, naming the set whose share fell at the same time."""
    start = pd.Timestamp(r["start"])
    end = pd.Timestamp(r["end"]) if r["kind"] == "wave" and not pd.isna(r["end"]) else None
    old = changes[(changes["family"] == "thresholds") & (changes["source"] == r["source"])
                  & (changes["comparison"] == r["comparison"]) & (changes["diff"] < 0)
                  & ((changes["start"] - r["start"]).abs() <= pd.Timedelta(days=7))]
    title = tr("finding.thresholds.title", comparison=r["comparison"], source=r["source"])
    when, (first, last, end_first, end_last) = _when(r, start, end, wave="finding.thresholds.when_wave",
                                                     between="finding.thresholds.when_wave_between",
                                                     open_="finding.when.step")
    gone = old.sort_values("diff").iloc[0]["code"] if len(old) else None
    replaced = tr("finding.thresholds.replacing", code=gone) if gone is not None else ""
    text = tr("finding.thresholds.text", title=title, code=r["code"], when=when, replaced=replaced,
              before=pct(r["rate_before"]), after=pct(r["rate_after"]), k=int(r["k_after"]), n=int(r["n_after"]))
    return Finding(rank=0, kind=str(r["kind"]), family="thresholds", title=title, text=text,
                   decision=tr("finding.thresholds.decision"),
                   start=start.isoformat(), end=end.isoformat() if end is not None else None,
                   source=str(r["source"]), comparison=str(r["comparison"]), code=str(r["code"]),
                   thresholds=set_levels(r["code"]), replaces=set_levels(gone) if gone is not None else None,
                   rate_before=float(r["rate_before"]), rate_after=float(r["rate_after"]),
                   change_points=float(r["diff"]) * 100, ci_low_points=float(r["ci_low"]) * 100,
                   ci_high_points=float(r["ci_high"]) * 100, k_before=int(r["k_before"]),
                   n_before=int(r["n_before"]), k_after=int(r["k_after"]), n_after=int(r["n_after"]),
                   q_value=float(r["q_value"]), statistic=float(r["statistic"]), frequency=str(r["frequency"]),
                   section="#thresholds", start_low=first, start_high=last, end_low=end_first, end_high=end_last)


def at_new_thresholds(f, t) -> None:
    """A pass-rate finding ``f`` in the era of its kind's new reference thresholds (``t``, the
    thresholds finding; :func:`._findings.era_of`): its decision says the new cut may explain
    it (and how far from the set's day it is dated, when not within a day), and it names the change (the text said "find who is being rejected" of a drop the provider's
    new thresholds made, with no word of them)."""
    date = _day(t.start)
    cut = tr("finding.cut.level", level=f.level)
    days = round((pd.Timestamp(f.start) - pd.Timestamp(t.start)) / pd.Timedelta(days=1))
    if abs(days) <= 1:
        f.decision = tr("finding.decision.at_new_thresholds", comparison=f.comparison, date=date, cut=cut)
    else:       # dated off the set's day (a small segment's change is dated loosely): in its era
        offset = tr("finding.offset.after" if days > 0 else "finding.offset.before", n=abs(days))
        f.decision = tr("finding.decision.in_new_thresholds_era", comparison=f.comparison, date=date, cut=cut,
                        offset=offset)
    f.also.insert(0, tr("finding.also.thresholds", date=date))


def confined_tag(pool: float, rest: float) -> str:
    """What a change named with its segment says of the pool and of the rest."""
    return tr("finding.also.confined", pool=points(pool), rest=points(rest))


def pool_dated_tag(start) -> str:
    """What a change named with its segment, dated by the segment's own series, says of the pool's date."""
    return tr("finding.also.pool_dated", start=_day(start))


def also_tag(f) -> str:
    """How a merged finding is named in its lead's "also seen" list."""
    bits = [tr("finding.also.level", level=f.level)] if f.level and f.family == "pass_rate" else []
    if f.family == "error" and f.origin:
        # the same code seen where else it is counted (a Baidu attempt's code is in stat too): named, not dropped
        code = tr("finding.code_detail", code=f.code, detail=f.detail) if f.detail else f.code
        bits.append(tr("finding.subject.error", code=code, origin=origin(f.origin)))
    if f.segment:
        bits.append(segment_text(f.segment["key"], f.segment["value"]))
    elif not (f.family == "error" and f.origin):    # "223120 (Baidu stat)" needs no "all sessions"
        bits.append(tr("finding.also.pool"))
    bits.append(tr("finding.also.frequency", frequency=tr(f"finding.frequency.{f.frequency}")) if f.frequency
                else "")
    return tr("finding.also.sep").join(b for b in bits if b)
