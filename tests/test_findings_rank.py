"""How the review's "Look at first" box ranks its findings, and that every finding links a figure
(issue 11: "ranks findings by effect and evidence"; an outside audit saw a weak finding no plant
explained, q 0.035, ranked first above a true 3-day attack wave, because the rank was
statistic x effect; and findings ranked 9th and lower had no figure).

The rule (:func:`faceanalytics.report._findings.rank`): evidence tier first (the strictest
false-discovery level the q-value passes), then the decisions the change cost (|change| x the
trials in the changed stretch), then the earlier start.  The findings here are built in the
test, not replayed from the audit.
"""
from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from faceanalytics.report import _findings as F
from faceanalytics.report import review
from faceanalytics.report._finding import Finding

from _helpers import small_data_dir


def finding(name, *, q, points, n, start="2026-08-10", stat=None, kind="step", end=None, **kw) -> Finding:
    """A finding as the detector's words would make it: ``points`` of change over ``n`` trials."""
    stat = abs(points) if stat is None else stat
    return Finding(rank=0, kind=kind, family=kw.pop("family", "flagged"), title=name, text=name, decision="",
                   start=pd.Timestamp(start, tz="UTC").isoformat(),
                   end=pd.Timestamp(end, tz="UTC").isoformat() if end else None, source="megvii_lite",
                   attack=kw.pop("attack", name), rate_before=0.1, rate_after=0.1 + points / 100,
                   change_points=points, ci_low_points=points - 1, ci_high_points=points + 1, k_before=100,
                   n_before=1000, k_after=int(n * (0.1 + points / 100)), n_after=n, q_value=q, statistic=stat,
                   frequency="daily", **kw)


def test_a_finding_that_survives_a_stricter_level_ranks_before_a_larger_one_that_passes_only_5_percent():
    """The audit's case: a weak idcard_photo wave (q 0.035, a large statistic x effect) ranked above a
    true wave (q well under 1%, a smaller effect).  Evidence first."""
    weak = finding("weak wave", q=0.035, points=-6.0, n=40_000, stat=9.0)       # statistic x effect 0.54
    wave = finding("true wave", q=0.0004, points=2.0, n=3_000, stat=6.0)        # 0.12
    middle = finding("middle", q=0.004, points=1.5, n=90_000, stat=5.0)
    ranked = F.rank([weak, middle, wave])
    assert [f.title for f in ranked] == ["true wave", "middle", "weak wave"]
    assert [f.rank for f in ranked] == [1, 2, 3]
    assert [f.evidence for f in ranked] == [0.001, 0.01, 0.05]


def test_within_a_tier_the_change_that_cost_more_decisions_ranks_first():
    """2 points over 50,000 sessions is 1,000 decisions; 10 points over 2,000 is 200: the bigger
    cost first, though its change in points is five times smaller."""
    small_pts = finding("2 points, 50,000", q=0.0001, points=-2.0, n=50_000)
    big_pts = finding("10 points, 2,000", q=0.0002, points=10.0, n=2_000)
    ranked = F.rank([big_pts, small_pts])
    assert [f.title for f in ranked] == ["2 points, 50,000", "10 points, 2,000"]
    assert [f.affected for f in ranked] == [1000.0, 200.0]


def test_ties_go_to_the_earlier_start_and_the_json_says_what_ranked():
    late = finding("late", q=0.02, points=1.0, n=1_000, start="2026-08-20")
    early = finding("early", q=0.03, points=-1.0, n=1_000, start="2026-08-02")
    ranked = F.rank([late, early])
    assert [f.title for f in ranked] == ["early", "late"]
    got = ranked[0].as_json()
    assert (got["rank"], got["evidence"], got["affected"]) == (1, 0.05, 10.0)
    assert "score" not in got


def test_a_stricter_review_level_keeps_the_tiers_under_it():
    """With ``alpha`` 1%, a finding at q 0.004 passes only the review's level: tiers 0.1% then 1%."""
    a = finding("a", q=0.004, points=5.0, n=10_000)
    b = finding("b", q=0.0008, points=1.0, n=1_000)
    assert [f.title for f in F.rank([a, b], alpha=0.01)] == ["b", "a"]
    assert F.evidence_level(0.004, 0.01) == 0.01 and F.evidence_level(0.0008, 0.01) == 0.001


# ------------------------------------------------------------------ in the report

N_FINDINGS = 11


@pytest.fixture(scope="module")
def many(tmp_path_factory):
    """A review whose findings are eleven flagged-share waves of eleven attack types, with their
    daily series (the series and findings replaced in a real review of three sessions)."""
    tmp = tmp_path_factory.mktemp("rank")
    r = review(small_data_dir(tmp), "2016-05-01", "2016-06-01")
    first = int(pd.Timestamp("2016-04-01", tz="UTC").value // 86_400_000_000_000)
    days = np.arange(first, first + 61)
    rows = []
    for i in range(N_FINDINGS):
        meta = {c: None for c in F._META}
        meta.update(family="flagged", source="megvii_lite", attack=f"attack{i}")
        rows.append(pd.DataFrame({**meta, "day": days, "k": 10.0 + i, "n": 1000.0}))
    r.info["series"] = pd.concat(rows, ignore_index=True).astype({c: object for c in F._META})
    fs = [finding(f"attack{i}", q=0.001 * (i + 1), points=3.0, n=1000 * (i + 1), start="2016-05-10",
                  end="2016-05-13", kind="wave", attack=f"attack{i}") for i in range(N_FINDINGS)]
    for i, f in enumerate(fs, 1):          # ranked as built (the figures do not depend on the rule)
        f.rank = i
    r.findings[:] = fs
    return r


def test_every_finding_links_a_figure_that_is_in_the_report(many):
    """Findings ranked 9th and lower had ``figure: null``."""
    html = many.html()
    ids = set(re.findall(r'\bid="([^"]+)"', html))
    assert len(many.findings) == N_FINDINGS
    for f in many.findings:
        assert f.figure == f"#fig-change-{f.rank}", (f.rank, f.figure, getattr(f, "figure_note", None))
        assert f.figure[1:] in ids
        assert getattr(f, "figure_note", None) is None
    data = json.loads(many.findings_json())
    assert [x["figure"] for x in data] == [f"#fig-change-{i}" for i in range(1, N_FINDINGS + 1)]
    sheet = many.tables()["findings"]
    assert list(sheet["figure"]) == [f"#fig-change-{i}" for i in range(1, N_FINDINGS + 1)]


def test_a_finding_past_the_figure_budget_says_why_it_has_none(many, monkeypatch):
    from faceanalytics.report import _sections

    monkeypatch.setattr(_sections, "FIGURES_MAX", 9)
    many._sections = None
    try:
        html = many.html()
    finally:
        many._sections = None
    late = [f for f in many.findings if f.rank > 9]
    assert late and all(f.figure is None and "first 9 findings" in f.figure_note for f in late)
    assert 'id="fig-change-10"' not in html and 'id="fig-change-9"' in html
    assert json.loads(many.findings_json())[-1]["figure_note"]


def test_the_report_says_how_it_ranks(many):
    html = many.html()
    method = re.search(r'<section id="method">.*?</section>', html, re.S).group(0)
    assert "Ranking" in method and "0.1%, 1%, 5%" in method and "decisions it changed" in method
    box = re.search(r'<div class="findings" id="look-at-first">.*?</div>', html, re.S).group(0)
    assert "Ranked by evidence, then by the decisions each changed" in box


# ------------------------------------------------------------------ a new threshold set's consequences

def _pass(name, start, comparison="idcard_photo", segment=None):
    f = finding(name, q=0.01, points=-3.0, n=2_000, start=start, family="pass_rate", attack=None,
                comparison=comparison, level="1e-4", segment=segment)
    f.decision = "More rejections: find who is being rejected before keeping the 1e-4 cut."
    return f


def test_a_consequence_of_a_new_set_dated_days_late_in_a_small_segment_says_the_new_cut_may_explain_it():
    """The audit: a new idcard_photo set from day 60 whose pass-rate consequence in a small segment
    was dated 9 days late kept "find who is being rejected"."""
    new = finding("set", q=1e-9, points=30.0, n=10_000, start="2026-08-30", family="thresholds", attack=None,
                  comparison="idcard_photo", code="65.3/71.8/76.5/79.9")
    late = _pass("late, in a segment", "2026-09-08", segment={"key": "channel", "value": "store"})
    early = _pass("early by 4 days", "2026-08-26")
    same_day = _pass("same day", "2026-08-30")
    before = _pass("before the era", "2026-08-10")
    other = _pass("another kind", "2026-09-08", comparison="faceid")
    F._at_threshold_changes([new, late, early, same_day, before, other])
    for f in (late, early, same_day):
        assert "the new cut, not the users, may explain it" in f.decision, f.title
        assert "2026-08-30" in f.decision and any("2026-08-30" in a for a in f.also)
        assert "find who is being rejected" not in f.decision
    assert "9 days after" in late.decision and "4 days before" in early.decision
    assert "starts the day" in same_day.decision
    for f in (before, other):
        assert "find who is being rejected" in f.decision and not f.also, f.title


def test_the_era_ends_where_the_set_ends_or_the_next_set_begins():
    first = finding("first", q=1e-9, points=30.0, n=10_000, start="2026-08-01", family="thresholds", attack=None,
                    comparison="idcard_photo", code="A")
    wave = finding("short-lived", q=1e-9, points=30.0, n=1_000, start="2026-09-01", end="2026-09-05",
                   kind="wave", family="thresholds", attack=None, comparison="idcard_photo", code="B")
    in_first = _pass("in the first era", "2026-08-20")
    in_wave = _pass("in the wave", "2026-09-03")
    after_wave = _pass("after the wave", "2026-09-20")
    assert F.era_of(in_first, [first, wave]) is first
    assert F.era_of(in_wave, [first, wave]) is wave
    assert F.era_of(after_wave, [wave]) is None


def test_a_consequence_dated_before_a_new_set_is_read_by_its_date_interval_where_it_has_one():
    """A step dated 9 days before the new set, its 95% interval of the start reaching the day before
    the set: the set may have caused it (the fixed 7-day slack said no).  One dated 5 days before,
    its interval a single day: the data say it started before the set (the slack said yes)."""
    new = finding("set", q=1e-9, points=30.0, n=10_000, start="2026-08-30", family="thresholds", attack=None,
                  comparison="idcard_photo", code="65.3/71.8/76.5/79.9")
    loose = _pass("loosely dated", "2026-08-21")
    loose.start_low, loose.start_high = "2026-08-19", "2026-08-29"
    sharp = _pass("sharply dated", "2026-08-25")
    sharp.start_low = sharp.start_high = "2026-08-25"
    undated = _pass("no interval", "2026-08-25")
    assert F.era_of(loose, [new]) is new
    assert F.era_of(sharp, [new]) is None
    assert F.era_of(undated, [new]) is new          # the fixed slack where there is no interval
    F._at_threshold_changes([new, loose, sharp])
    assert "the new cut, not the users, may explain it" in loose.decision and "9 days before" in loose.decision
    assert "find who is being rejected" in sharp.decision and not sharp.also


def test_a_new_sets_own_date_interval_counts_too():
    """The set dated 08-30 but possibly from 08-26 (its own 95% interval): a step sharply dated
    08-25 may be its consequence; the set's point date alone said no."""
    new = finding("set", q=1e-9, points=30.0, n=10_000, start="2026-08-30", family="thresholds", attack=None,
                  comparison="idcard_photo", code="65.3/71.8/76.5/79.9")
    sharp = _pass("sharply dated", "2026-08-25")
    sharp.start_low = sharp.start_high = "2026-08-25"
    assert F.era_of(sharp, [new]) is None
    new.start_low, new.start_high = "2026-08-26", "2026-08-31"
    assert F.era_of(sharp, [new]) is new
    earlier = _pass("dated before the set's interval", "2026-08-20")
    earlier.start_low = earlier.start_high = "2026-08-20"
    assert F.era_of(earlier, [new]) is None
