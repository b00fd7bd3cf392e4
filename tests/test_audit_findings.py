"""The review read as an analyst reads it, on a quarter planted by ``benchmarks/audit_quarter.py``
(written from the provider documents, independently of ``tests/_planted.py``): a small version
of it, a new threshold set for one comparison kind and a wave of one Baidu error code (which
the attempts and the stat API both count)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
import audit_quarter as Q  # noqa: E402

from faceanalytics.pipeline.ingest import ingest  # noqa: E402
from faceanalytics.report import _sections, findings_path, review  # noqa: E402

DAYS = 40
SINCE, UNTIL = Q.Q_START, Q._date(DAYS)


@pytest.fixture(scope="module")
def audited(tmp_path_factory):
    root = tmp_path_factory.mktemp("audit")
    plants = Q.Plants(threshold=("idcard_photo", 20), baidu_wave=("223120", 0.35, 12, 15))
    Q.generate(str(root / "records.jsonl"), "small", 7, per_day=150, baidu_per_day=80, days=DAYS, prior=0,
               plants=plants)
    ingest([root / "records.jsonl"], root / "data")
    return root, review(root / "data", SINCE, UNTIL)


def test_an_error_finding_says_where_its_code_was_counted(audited):
    """The Baidu code 223120 is counted in getall's attempts and in stat's Verify_FIN and verify
    calls: the text named one of them ("223120 · Verify_FIN (Baidu stat)") while the JSON held only
    the code, and the other two were merged into it without a word."""
    _, r = audited
    f = [x for x in r.findings if x.family == "error" and x.code == "223120"]
    assert len(f) == 1, [x.text for x in r.findings]
    f = f[0]
    assert f.origin in ("baidu_attempt", "baidu_stat")
    assert (f.detail is not None) == (f.origin == "baidu_stat")
    assert f.as_json()["origin"] == f.origin and "detail" in f.as_json()
    # the same wave where else the code is counted is named, not dropped
    others = {"Baidu attempt", "Baidu stat"} - ({"Baidu attempt"} if f.origin == "baidu_attempt" else set())
    assert any("223120" in a and any(o in a for o in others) for a in f.also), f.also
    assert not [a for a in f.also if "223120" in a and "all sessions" in a]     # a code's origin, not a pool


def test_an_error_findings_figure_draws_its_own_series(audited, monkeypatch):
    """The figure of "223120 · Verify_FIN (Baidu stat)" drew the three series of code 223120 as one
    line (attempts, Verify_FIN and verify calls: each day three times)."""
    _, r = audited
    drawn = {}

    def spy(ax, mine, **kw):
        drawn[kw["title"]] = mine

    monkeypatch.setattr(_sections, "draw_change", spy)
    f = next(x for x in r.findings if x.family == "error" and x.code == "223120")
    b = _sections._Builder(r)
    fig = b._change_figure(f, r.info["series"])
    assert fig is not None
    mine = drawn[f"{f.rank}. {f.title}"]
    assert mine["day"].is_unique
    assert set(mine["origin"]) == {f.origin}


def test_a_new_threshold_set_links_a_figure_of_its_share(audited, tmp_path):
    _, r = audited
    t = [x for x in r.findings if x.family == "thresholds"]
    assert len(t) == 1 and t[0].comparison == "idcard_photo"
    out = tmp_path / "report.html"
    html = r.html()
    out.write_text(html, encoding="utf-8")
    t = r.findings[[x.family for x in r.findings].index("thresholds")]
    assert t.figure is not None and f'id="{t.figure[1:]}"' in html


def test_a_pass_rate_that_falls_with_new_thresholds_says_so(audited):
    """idcard_photo's pass rate fell the day its thresholds rose, the confidences unchanged: the
    finding asked to "find who is being rejected", with no word of the new cut."""
    _, r = audited
    t = next(x for x in r.findings if x.family == "thresholds")
    drops = [x for x in r.findings if x.family == "pass_rate" and x.comparison == "idcard_photo"
             and abs(pd.Timestamp(x.start) - pd.Timestamp(t.start)) <= pd.Timedelta(days=1)]
    assert drops, [x.text for x in r.findings]
    for x in drops:
        assert "find who is being rejected" not in x.decision
        assert "thresholds" in x.decision and t.start[:10] in x.decision
        assert any(t.start[:10] in a for a in x.also)


def test_the_findings_json_holds_what_the_box_says(audited, tmp_path):
    _, r = audited
    out = tmp_path / "r.html"
    r.write(out)
    got = json.loads(findings_path(out).read_text(encoding="utf-8"))
    assert [g["text"] for g in got] == [f.text for f in r.findings]
    for g in got:
        if g["family"] == "error":
            assert g["origin"] and g["figure"]
