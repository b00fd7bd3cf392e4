"""Findings: what the review surfaces on planted changes, and that it stays quiet without one.

The data are the sandbox population's payloads (no server), ingested; the changes are
planted by editing the payloads (tests/_planted.py): a drop in one segment's faceid pass
rate from mid-quarter, a four-day wave of one attack type, a new threshold set for one
comparison kind, a step of one verify error.
"""
from __future__ import annotations

import json
import re

import pandas as pd
import pytest
from markupsafe import escape

import _planted as P
from faceanalytics.pipeline.ingest import ingest
from faceanalytics.report import findings_path, review, write_report
from faceanalytics.report import _findings as F
from faceanalytics.report._findings import parse_levels
from faceanalytics.report._sections import _Builder

SINCE, UNTIL = "2026-04-01", "2026-07-01"
QUARTER = dict(n_lite=5000, n_liveness=800, n_baidu=500, reference_date="2026-07-01", window_days=91)
HOSTILE = '<img src=x onerror=alert(1)>"&'


def near(when: str, day: str, days: int) -> bool:
    return abs(pd.Timestamp(when) - pd.Timestamp(day, tz="UTC")) <= pd.Timedelta(days=days)


def _data(tmp_path_factory, name, plants, seed):
    d = tmp_path_factory.mktemp(name) / "data"
    src = P.write(d.parent / "records.jsonl", P.records(seed, **QUARTER, plants=plants))
    ingest([src], d)
    return d


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    plants = [P.KeyValueExtra(0.5), P.SegmentDrop(25, "2026-05-16", value="app"),
              P.AttackWave(0.4, "2026-06-01", days=4, attack="mask"),
              P.ThresholdChange("2026-05-20", comparison="ref1"), P.ErrorStep(0.08, "2026-05-20")]
    d = _data(tmp_path_factory, "planted", plants, seed=5)
    return d, review(d, SINCE, UNTIL)


@pytest.fixture(scope="module")
def quiet(tmp_path_factory):
    d = _data(tmp_path_factory, "quiet", [P.KeyValueExtra(0.5)], seed=6)
    return d, review(d, SINCE, UNTIL)


def test_segment_drop_is_named_with_its_segment(planted):
    _, r = planted
    f = [x for x in r.findings if x.family == "pass_rate" and x.segment == {"key": "channel", "value": "app"}]
    assert f, [x.text for x in r.findings]
    f = f[0]
    assert (f.comparison, f.level, f.source, f.kind) == ("faceid", "1e-4", "megvii_lite", "step")
    assert near(f.start, "2026-05-16", 3)                  # an estimate: within a few days of the plant
    assert f.change_points < -15 and f.ci_high_points < 0
    assert "channel = app" in f.text and f"from {f.start[:10]} on" in f.text and "points" in f.text
    # the same change at the other levels is one finding that names them, not three
    assert not [x for x in r.findings if x is not f and x.family == "pass_rate" and x.segment == f.segment
                and x.comparison == "faceid"]
    assert any("1e-5" in a for a in f.also)
    # the pooled faceid rate barely moved: no pooled finding hides the segment
    assert not [x for x in r.findings if x.family == "pass_rate" and x.segment is None and x.comparison == "faceid"]


def test_attack_wave_of_one_type(planted):
    _, r = planted
    waves = [x for x in r.findings if x.family == "flagged" and x.attack == "mask" and x.segment is None]
    assert {x.source for x in waves} == {"megvii_lite", "megvii_liveness"}
    for x in waves:
        assert x.kind == "wave" and x.change_points > 20
        assert near(x.start, "2026-06-01", 1) and near(x.end, "2026-06-05", 1)
        # the counts behind both rates: inside the stretch and outside it (around a wave)
        assert (f"{x.k_after:,} of {x.n_after:,} checks in the changed stretch against "
                f"{x.k_before:,} of {x.n_before:,} outside it") in x.text
        assert x.n_before > x.n_after and x.k_after / x.n_after > x.k_before / x.n_before
    assert not [x for x in r.findings if x.family == "flagged" and x.attack != "mask"]


def _mask_beside_errors(days, k, n) -> pd.DataFrame:
    """Daily series: row 0 the mask checks flagged, the other rows error shares."""
    from faceanalytics.report import _findings as F

    parts = []
    for i in range(len(k)):
        meta = dict(family="flagged", source="megvii_lite", attack="mask") if i == 0 else \
            dict(family="error", origin="verify_error", code=f"E{i}")
        parts.append(pd.DataFrame({**{c: meta.get(c) for c in F._META}, "day": days, "k": k[i], "n": n[i]}))
    return pd.concat(parts, ignore_index=True).astype({c: object for c in F._META})


def test_a_large_wave_in_a_short_window_is_one_finding_with_both_dates():
    """A twelve-day window (the document-built benchmark's): 0.1% -> 40% of mask checks
    flagged for four days of 2,900, then back.  The scans' p-values both underflow to 0;
    the step had won the tie, and the wave came out as two findings, a step up and a step
    down.  It is one wave, with its start and its end."""
    import numpy as np

    from faceanalytics.report import _findings as F

    rng = np.random.default_rng(1)
    days = np.arange(20370, 20383)                          # 2025-10-09 .. 2025-10-21
    n = rng.poisson(2900, (201, days.size)).astype(float)
    p = np.repeat(rng.uniform(0.02, 0.2, 201)[:, None], days.size, axis=1)   # 200 quiet error shares
    p[0] = 0.001
    p[0, 6:10] = 0.4
    k = rng.binomial(n.astype(int), p).astype(float)
    series = _mask_beside_errors(days, k, n)
    levels = parse_levels(None)
    found = F.findings_of(F._detect(series, "D", F.ALPHA, levels), series, int(days[1]), levels)
    assert len(found) == 1, [x.text for x in found]
    f = found[0]
    assert (f.kind, f.family, f.attack) == ("wave", "flagged", "mask")
    assert (f.start[:10], f.end[:10]) == ("2025-10-15", "2025-10-19")          # end exclusive
    assert "from 2025-10-15 to 2025-10-18, then back" in f.text
    assert f.change_points > 35


def test_a_wave_three_days_before_the_end_is_one_wave_finding_with_both_dates():
    """A twelve-day window: 1% -> 11% of mask checks flagged for four days of 10,000, ending
    three days before the window's end (its day after missing: two days of data after it),
    beside 200 quiet error shares.  Its dispersion is its own, on 4.9 degrees of freedom; read
    through Student's t the step and the wave were nearly tied (z 4.62 and 4.90) and the
    wave's larger search space decided: "a step from 2025-10-14 on" with the fall back
    averaged in.  The shape is chosen on the statistics given the dispersion: one wave finding,
    with its start and its end."""
    import numpy as np

    from faceanalytics.analytics import _changes as C
    from faceanalytics.report import _findings as F

    wave = C.simulate_counts(100, 12, 10_000, 0.01, change=("wave", 5, 4, 0.10), seed=21)
    wave = wave[wave["series"] == 31]                        # the one the step had won
    rng = np.random.default_rng(1)
    days = np.arange(20370, 20382)                          # 2025-10-09 .. 2025-10-20
    n = rng.poisson(2900, (201, days.size)).astype(float)
    p = np.repeat(rng.uniform(0.02, 0.2, 201)[:, None], days.size, axis=1)   # 200 quiet error shares
    k = rng.binomial(n.astype(int), p).astype(float)
    at = (wave["day"] - pd.Timestamp("2026-01-05", tz="UTC")).dt.days.to_numpy()   # simulate_counts' day 0
    k[0], n[0] = 0.0, 0.0
    k[0, at], n[0, at] = wave["k"].to_numpy(), wave["n"].to_numpy()
    assert n[0, 9] == 0 and (n[0, 10:] > 0).all()           # the day after the wave is missing
    series = _mask_beside_errors(days, k, n)
    series = series[series["n"] > 0]
    levels = parse_levels(None)
    found = F.findings_of(F._detect(series, "D", F.ALPHA, levels), series, int(days[1]), levels)
    assert len(found) == 1, [x.text for x in found]
    f = found[0]
    assert (f.kind, f.family, f.attack) == ("wave", "flagged", "mask"), f.text
    assert (f.start[:10], f.end[:10]) == ("2025-10-14", "2025-10-18")          # end exclusive
    assert "from 2025-10-14 to 2025-10-17, then back" in f.text


def test_threshold_change_per_comparison_kind_and_source(planted):
    d, r = planted
    t = [x for x in r.findings if x.family == "thresholds"]
    assert [(x.source, x.comparison) for x in t] == [("megvii_lite", "ref1")]
    assert near(t[0].start, "2026-05-20", 0)
    assert "64/70.5/75.5/79" in t[0].text and "replacing 62.169/69.315/74.399/78.038" in t[0].text
    # ... and as numbers per level, for a job that reads the findings JSON
    assert t[0].thresholds == {"1e-3": 64.0, "1e-4": 70.5, "1e-5": 75.5, "1e-6": 79.0}
    assert t[0].replaces == {"1e-3": 62.169, "1e-4": 69.315, "1e-5": 74.399, "1e-6": 78.038}
    assert t[0].rank == 1                                  # a new set moves every rate: first
    # the text agrees with the tables: the section names the change its table shows
    sec = next(s for s in r.sections if s["id"] == "thresholds")
    assert "1 change(s) of reference thresholds" in sec["blocks"][0]["text"]
    rows = sec["blocks"][1]["rows"]
    new = [row for row in rows if row[2] == "64/70.5/75.5/79"]
    assert [(row[0], row[1]) for row in new] == [("ref1", "megvii_lite")] and new[0][3] == "0"
    # faceid kept its set: not a change
    assert not [x for x in t if x.comparison == "faceid"]
    # the keep/review table names the same change, dated, and no other
    dec = r.decision_table
    moved = dec[dec["reason"].str.contains("threshold", regex=False)]
    assert set(zip(moved["source"], moved["comparison"])) == {("megvii_lite", "ref1")}
    one = moved[moved["level"] == "1e-4"]["reason"].iloc[0]
    assert "threshold moved 69.315 → 70.5 from 2026-05-20" in one


def _threshold_series(new_share: float, known_before: bool):
    """ref1's sets per day for 13 days of 300 comparisons: set A alone, then from day 6 set B
    on ``new_share`` of them (``known_before``: B had 10% of them before as well, the rise is
    ``new_share - 0.1``); with 200 quiet error shares beside them."""
    import numpy as np

    from faceanalytics.report import _findings as F

    rng = np.random.default_rng(3)
    days = np.arange(20370, 20383)
    n = rng.poisson(300, days.size).astype(float)
    share = np.where(np.arange(days.size) >= 6, new_share, 0.1 if known_before else 0.0)
    b = rng.binomial(n.astype(int), share).astype(float)
    meta = dict(family="thresholds", source="megvii_lite", comparison="ref1")
    parts = [pd.DataFrame({**{c: meta.get(c) for c in F._META}, "code": code, "day": days, "k": k, "n": n})
             for code, k in (("62.169/69.315/74.399/78.038", n - b), ("64/70.5/75.5/79", b))]
    en = rng.poisson(2900, (200, days.size)).astype(float)
    ek = rng.binomial(en.astype(int), rng.uniform(0.02, 0.2, 200)[:, None]).astype(float)
    parts += [pd.DataFrame({**{c: None for c in F._META}, "family": "error", "origin": "verify_error", "code": f"E{i}",
                            "day": days, "k": ek[i], "n": en[i]}) for i in range(200)]
    return pd.concat(parts, ignore_index=True).astype({c: object for c in F._META}), int(days[1])


@pytest.mark.parametrize("share", [0.1, 0.25])
def test_a_new_threshold_set_on_a_share_of_a_kind_is_a_finding(share):
    """A set never seen before is a fact, not an effect to weigh: rolled out to 29% of ref1's
    comparisons it fell under the 30% asked of a shifting mix of known sets, and the section
    said no kind changed its thresholds above a table listing the set, first seen that day."""
    from faceanalytics.report import _findings as F

    series, since = _threshold_series(share, known_before=False)
    levels = parse_levels(None)
    found = F.findings_of(F._detect(series, "D", F.ALPHA, levels), series, since, levels)
    assert [(f.family, f.comparison, f.code, f.start[:10]) for f in found] == \
        [("thresholds", "ref1", "64/70.5/75.5/79", "2025-10-15")]
    assert "replacing 62.169/69.315/74.399/78.038" in found[0].text
    # a known set whose share rises as much is a shifting mix: no finding
    series, since = _threshold_series(share + 0.1, known_before=True)
    assert F.findings_of(F._detect(series, "D", F.ALPHA, levels), series, since, levels) == []


def _mixed_sets(tmp_path, per_day=12):
    """Lite sessions of May and June 2026, every one passing, whose faceid threshold sets
    alternate at a steady 50-50 mix: one set leads May by one session, the other June."""
    a = {"1e-3": 62.169, "1e-4": 69.315, "1e-5": 74.399, "1e-6": 78.038}
    b = {"1e-3": 65.3, "1e-4": 71.8, "1e-5": 76.5, "1e-6": 79.9}
    t0 = int(pd.Timestamp("2026-05-01", tz="UTC").timestamp())
    recs, i = [], 0
    for day in range(61):
        for j in range(per_day):
            june = day >= 31
            first = day in (0, 31) and j == 0          # the extra session that tips each month
            pick = (a if not june else b) if first else (a if (i % 2 == 0) else b)
            i += 0 if first else 1
            at = t0 + day * 86400 + 600 * j + 60
            sid = f"{at},mix{day:02d}{j:02d}"
            fetched = f"{pd.Timestamp(at + 240, unit='s'):%Y-%m-%dT%H:%M:%SZ}"
            recs.append({"source": "megvii_lite", "session_id": sid, "fetched_at": fetched, "http_status": 200,
                         "payload": {"request_id": f"{t0},{sid}", "status": "OK", "biz_info": {"biz_id": sid},
                                     "verify_result": {"result_faceid": {"confidence": 90.0,
                                                                         "thresholds": dict(pick)}}}})
    d = tmp_path / "data"
    ingest([P.write(tmp_path / "mix.jsonl", recs)], d)
    return d


def test_a_steady_mix_of_threshold_sets_is_no_change_in_the_decision_table(tmp_path):
    """Two sets returned side by side at a steady mix (gen_records' payloads carry two per
    source): the most common one flips between periods by chance, which is no change --
    the Threshold changes section says so, and the keep/review table must not say the
    threshold moved (it did, level by level, from each period's most common set)."""
    r = review(_mixed_sets(tmp_path), "2026-06-01", "2026-07-01")
    assert not [x for x in r.findings if x.family == "thresholds"], [x.text for x in r.findings]
    sec = next(s for s in r.sections if s["id"] == "thresholds")
    assert "No comparison kind changed its reference thresholds" in sec["blocks"][0]["text"]
    dec = r.decision_table
    assert len(dec) == 4 and (dec["threshold"] != dec["threshold_previous"]).all()   # the modes did flip
    assert (dec["recommendation"] == "keep").all(), dec["reason"].tolist()
    html = r.html()
    assert "threshold moved" not in html


def test_error_step_and_billed_errors(planted):
    _, r = planted
    e = [x for x in r.findings if x.family == "error" and x.code == "NO_SUCH_ID_NUMBER" and x.segment is None]
    assert len(e) == 1 and e[0].kind == "step" and e[0].change_points > 1
    assert near(e[0].start, "2026-05-20", 5)
    assert [x for x in r.findings if x.family == "billed" and x.source == "Megvii"]


def test_no_change_no_finding(quiet):
    _, r = quiet
    assert r.findings == [], [x.text for x in r.findings]
    assert r.info["tested"] > 100
    html = r.html()
    assert "Nothing changed significantly" in html


def test_box_ranks_and_links(planted):
    _, r = planted
    html = r.html()
    box = re.search(r'<div class="findings" id="look-at-first">.*?</div>', html, re.S).group(0)
    items = re.findall(r"<li>.*?</li>", box, re.S)
    assert len(items) == min(8, len(r.findings))
    ids = set(re.findall(r'\bid="([^"]+)"', html))
    for f, item in zip(r.findings, items):
        assert str(escape(f.text)) in item
        for href in re.findall(r'href="#([^"]+)"', item):
            assert href in ids                             # every link lands on a section or a figure
        assert f'href="#fig-change-{f.rank}"' in item     # a new threshold set too
    keys = [F.rank_key(f) for f in r.findings]
    assert keys == sorted(keys)                            # evidence tier, decisions changed, start


def test_findings_json_beside_the_report(planted, tmp_path):
    d, r = planted
    out = r.write(tmp_path / "q2.html")
    data = json.loads(findings_path(out).read_text(encoding="utf-8"))
    assert findings_path(out).name == "q2.findings.json"
    assert [x["title"] for x in data] == [f.title for f in r.findings]
    seg = next(x for x in data if x["segment"] == {"key": "channel", "value": "app"})
    for k in ("change_points", "ci_low_points", "ci_high_points", "rate_before", "rate_after", "n_after", "q_value",
              "start"):
        assert seg[k] is not None, k
    assert seg["figure"].startswith("#fig-change-") and seg["section"] == "#changes"
    thr = next(x for x in data if x["family"] == "thresholds")
    assert thr["thresholds"]["1e-4"] == 70.5 and thr["replaces"]["1e-4"] == 69.315
    assert seg["thresholds"] is None and seg["replaces"] is None


def test_levels_in_force():
    assert parse_levels(None) == {"*": "1e-4"}
    assert parse_levels(["faceid=1e-5", "1e-3"]) == {"faceid": "1e-5", "*": "1e-3"}
    assert parse_levels("faceid=1e-6,idcard_photo=1e-3") == {"faceid": "1e-6", "idcard_photo": "1e-3", "*": "1e-4"}
    with pytest.raises(ValueError, match="level must be one of"):
        parse_levels("1e-7")
    # spelt as the metrics read a level (fa.pass_rates(levels="0.0001") and the tables' keys)
    assert parse_levels(["faceid=0.00001", "1e-04"]) == {"faceid": "1e-5", "*": "1e-4"}
    assert parse_levels("ref3=1e-3,faceid=1e-4,faceid=1e-4")["ref3"] == "1e-3"
    # Baidu's faceprint has no reference levels (its threshold is configured): refused, not ignored
    with pytest.raises(ValueError, match="faceprint has no reference levels.*'configured'"):
        parse_levels("ref3=1e-3,faceprint=1e-5")
    # a misspelt kind, or two levels for one kind, is an error, not the default silently in force
    with pytest.raises(ValueError, match="no comparison kind 'facied'.*faceid, ref1"):
        parse_levels("facied=1e-5")
    with pytest.raises(ValueError, match="two levels for faceid: 1e-4 and 1e-5"):
        parse_levels(["faceid=1e-4", "faceid=1e-5"])
    with pytest.raises(ValueError, match="two levels for every comparison: 1e-3 and 1e-6"):
        parse_levels({"*": "1e-3", "": "1e-6"})


def test_weights_ask_the_level_once_per_kind_as_per_row(planted):
    """The FDR weights with the level in force looked up once per comparison kind, and the
    series numbered by the caller, are the per-row computation's (the code they replaced)."""
    import numpy as np

    from faceanalytics.report._findings import _META, PRIMARY_SHARE, _weights, level_for

    series = planted[1].info["series"]
    extra = series.iloc[:5].assign(comparison=np.nan, family="pass_rate", level="1e-4")   # a kind missing
    for f in (series, pd.concat([series, extra], ignore_index=True)):
        for spec in (None, "1e-5", ["faceid=1e-5", "1e-3"], {"idcard_photo": "1e-4", "*": "1e-6"}):
            levels = parse_levels(spec)
            lv, comp = f["level"].to_numpy(dtype=object), f["comparison"].to_numpy(dtype=object)
            in_force = np.array([a == "configured" or a == level_for(levels, c) for a, c in zip(lv, comp)], bool)
            primary = np.where(np.isin(f["family"].to_numpy(dtype=object), ["pass_rate", "configured"]), in_force,
                               pd.isna(f["seg_key"]).to_numpy())
            sid = f.groupby(_META, dropna=False, sort=False).ngroup().to_numpy()
            first = np.unique(sid, return_index=True)[1]
            n1 = int(primary[first].sum())
            want = np.where(primary, PRIMARY_SHARE / n1, (1 - PRIMARY_SHARE) / (len(first) - n1)) * len(first)
            assert 0 < n1 < len(first)
            np.testing.assert_array_equal(_weights(f, levels), want)
            other = f.groupby(_META, dropna=False, sort=True).ngroup().to_numpy()     # another numbering
            np.testing.assert_array_equal(_weights(f, levels, sid=other), want)


def _landed_with(tmp_path, channel: str, message: str):
    """A month of data whose Lite sessions all have ``channel`` in biz_extra_data and whose
    Baidu attempts all answer ``message``: the data directory."""
    recs = P.records(8, n_lite=300, n_liveness=0, n_baidu=20, reference_date="2026-07-01", window_days=30)
    for rec in recs:
        if rec["source"] == "megvii_lite":
            rec["payload"]["biz_info"]["biz_extra_data"] = json.dumps({"channel": channel})
        if rec["source"] == "baidu_getall":
            # a token no user went through answers an error with no result (the sandbox models it)
            for a in (rec["payload"].get("result") or {}).get("verify_result", []):
                a.update(code="222380", message=message)
    d = tmp_path / "data"
    ingest([P.write(tmp_path / "r.jsonl", recs)], d)
    return d


def test_hostile_text_is_escaped_through_the_template(tmp_path):
    """A segment value, a title and a Baidu message that hold markup stay text."""
    d = _landed_with(tmp_path, HOSTILE, HOSTILE)
    out = write_report(d, tmp_path / "r.html", "2026-06-01", "2026-07-01", segments=["channel"],
                       title=f"Review {HOSTILE}")
    text = out.read_text(encoding="utf-8")
    assert HOSTILE not in text and "<img src=x" not in text and "onerror=alert" not in text.replace(
        str(escape(HOSTILE)), "")
    assert str(escape(HOSTILE)) in text
    assert f"<title>Review {escape(HOSTILE)}</title>" in text
    assert "<script" not in text.lower()


def test_hostile_text_in_the_workbook_and_the_figures(tmp_path):
    """openpyxl writes text opening with "=" as a formula (a segment value or a Baidu message
    like '=HYPERLINK(...)' would have run in the reader's Excel) and refuses control
    characters (the whole report was lost); Matplotlib read '$...$' in a message as TeX (a
    '$\\frac{$' failed the errors section)."""
    import warnings
    import zipfile

    from openpyxl import load_workbook

    formula = '=HYPERLINK("http://example.invalid/?"&A1,"open")'
    d = _landed_with(tmp_path, formula, "time\x0cout $\\frac{1}{$")
    book = tmp_path / "r.xlsx"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        write_report(d, tmp_path / "r.html", "2026-06-01", "2026-07-01", segments=["channel"], xlsx=book)
    assert not [w for w in caught if "failed" in str(w.message)], [str(w.message)[:200] for w in caught]
    with zipfile.ZipFile(book) as z:
        xml = "".join(z.read(n).decode() for n in z.namelist() if n.startswith("xl/worksheets/"))
    assert "<f>" not in xml                              # no formula anywhere
    cells = [c for ws in load_workbook(book) for row in ws.iter_rows() for c in row if c.value == formula]
    assert cells and all(c.data_type == "s" for c in cells)
    assert "time\ufffdout $\\frac{1}{$" in xml         # the control character replaced, the rest kept


def test_labels_add_far_and_frr(planted, tmp_path):
    from faceanalytics import analytics as A
    from faceanalytics.storage.tables import load

    d, _ = planted
    c = load(d, "comparisons", since=SINCE, until=UNTIL)
    ids = c.loc[c.comparison == "faceid", "session_id"].drop_duplicates().head(400)
    lab = pd.DataFrame({"session_id": ids, "genuine": [i % 5 != 0 for i in range(len(ids))]})
    path = tmp_path / "labels.csv"
    lab.to_csv(path, index=False)
    r = review(d, SINCE, UNTIL, labels=path, segments=[])
    t = r.labels_table
    want = A.error_rates_at_levels(c, lab, comparison="faceid")
    got = t[t.comparison == "faceid"].drop(columns="comparison").reset_index(drop=True)
    pd.testing.assert_frame_equal(got, want)
    sec = _Builder(r).labels()
    assert "400 labelled session(s) (400 with a comparison in this period)" in sec["blocks"][0]["text"]
    far = sec["blocks"][1]["rows"][1][2]                   # faceid at 1e-4
    x = want.set_index("level").loc["1e-4"]
    assert far["value"] == f"{x.far:.10g}" or far["text"].endswith(f"of {int(x.n_impostor):,}")


def test_counting_rule_and_engines_on_repeated_attempts(planted):
    """Baidu detail repeats getall's latest attempt: counted once, by DuckDB and pandas alike,
    as the metrics count it; k=v& segments read the same by both."""
    from pandas.testing import assert_frame_equal

    from faceanalytics import analytics as A
    from faceanalytics.report._summary import summarize
    from faceanalytics.storage.tables import load

    d, r = planted
    a = r.summaries
    b = summarize(d, SINCE, UNTIL, engine="pandas")
    assert a.segments == b.segments
    for name in a.counts:
        if a.counts[name] is None or b.counts[name] is None:
            assert a.counts[name] is None and b.counts[name] is None, name
        else:
            assert_frame_equal(a.counts[name], b.counts[name], obj=name)
    c = load(d, "comparisons", since=SINCE, until=UNTIL)
    assert (c.source == "baidu_detail").any() and (c.source == "baidu_getall").any()
    assert_frame_equal(a.configured_pass_rates("current", ["source", "comparison"]),
                       A.configured_pass_rates(c, ["source", "comparison"]))
    assert set(a.configured_pass_rates("current", "source").source) == {"baidu_getall"}   # detail repeats getall
    g = load(d, "genuineness", since=SINCE, until=UNTIL)
    want = A.genuineness_rates(g, by="source")
    mine = a.genuineness_rates("current", by="source")
    assert_frame_equal(mine, want[mine.columns])
    s = load(d, "sessions", since=SINCE, until=UNTIL)
    kv = s.biz_extra_data.str.contains("channel=", na=False)
    assert kv.any()
    ch = a.frame("seg_sessions").groupby("seg_channel")["n"].sum()
    from faceanalytics.engines._review import segment_values
    from faceanalytics.engines._review import Segment

    assert ch.to_dict() == segment_values(s, Segment("channel", values=("app", "h5", "mini"))).value_counts().to_dict()


def test_exact_histogram_of_one_segment_and_week_on_demand(planted):
    """What an explorer asks: the exact confidence histogram of one kind, segment value and week."""
    from pandas.testing import assert_frame_equal

    from faceanalytics import analytics as A
    from faceanalytics.engines._review import segment_values
    from faceanalytics.storage.tables import load

    d, r = planted
    seg = next(x for x in r.summaries.segments if x.name == "channel")
    week = ("2026-05-18", "2026-05-25")
    h = r.summaries.histogram(comparison="faceid", segment="channel", value="app", since=week[0], until=week[1])
    s = load(d, "sessions", since=week[0], until=week[1])
    app = s[(segment_values(s, seg) == "app").to_numpy(dtype=bool, na_value=False)]
    c = load(d, "comparisons", since=week[0], until=week[1])
    c = c[(c.comparison == "faceid") & c.session_id.isin(set(app.session_id))]
    want = A.confidence_histogram(c)
    assert int(want["count"].sum()) > 30
    assert_frame_equal(h, want)
    assert A.pass_rates_from_histogram(h).equals(A.pass_rates(c))


# ------------------------------------------------------------------ the fixed costs, cut without a change

def test_segment_error_series_count_what_error_codes_counts_on_their_rows(planted):
    """Each segment's error series read the codes once per combination of the error columns
    (_combo_events), not once per row and segment: the same counts and billed counts as
    analytics.error_codes on the segment's rows, per day and value."""
    from pandas.testing import assert_frame_equal

    from faceanalytics import analytics as A
    from faceanalytics.report._findings import _SESSION_ERROR_COLUMNS, _combo_events, _error_counts

    _, r = planted
    s = r.summaries
    ss = s.frame("seg_sessions")
    codes, ev = _combo_events(ss)
    assert len(ev) and ev["billed"].sum() > 0                     # the planted verify error is billed
    for seg in s.segments:
        by = ["day", seg.label]
        m = ss[seg.label].notna().to_numpy()
        got = _error_counts(ss[m], by, codes[m], ev)
        rows = ss[m].rename(columns={"n": "_rows"})[[*_SESSION_ERROR_COLUMNS, *by, "_rows"]]
        want = A.error_codes(rows, by=by)[[*by, "origin", "code", "detail", "count", "billed"]]
        want = want.sort_values([*by, "origin", "code", "detail"], kind="stable").reset_index(drop=True)
        assert len(got) > 50, seg
        assert_frame_equal(got, want, check_dtype=False, obj=seg.name)


def test_error_codes_of_a_period_from_its_rows_summed_first(planted, monkeypatch):
    """A period's error tables are summed over the columns error_codes does not read (day,
    time basis, flags) before it reads them: the same frame as from the daily rows."""
    import dataclasses

    from pandas.testing import assert_frame_equal

    from faceanalytics.report import _summary

    s = planted[1].summaries
    got = {side: s.error_codes(side) for side in ("current", "previous", "both")}
    by_day = s.error_codes("both", by=["day"])
    sessions = s._side(s.frame("sessions"), "current")
    assert len(_summary._precounted(sessions.rename(columns={"n": "_rows"})[
        [*_summary._ERROR_SESSION_COLUMNS, "_rows"]], "_rows")) < len(sessions) / 5       # it sums something
    monkeypatch.setattr(_summary, "_precounted", lambda f, total: f.reset_index(drop=True))
    fresh = dataclasses.replace(s)                                  # nothing computed yet
    assert len(got["current"]) > 5 and got["current"]["billed"].sum() > 0
    for side, frame in got.items():                 # (the quarter has no previous period: an empty frame)
        assert_frame_equal(frame, fresh.error_codes(side), check_exact=True, obj=side)
    assert_frame_equal(by_day, fresh.error_codes("both", by=["day"]), check_exact=True)


def test_series_days_summed_per_series_number_as_grouped_on_every_column(planted):
    """_per_series_day: the series columns grouped once, into numbers, and the days summed per
    number, give groupby([*_META, "day"]).sum()'s frame: values, order, dtypes, labels."""
    import numpy as np
    from pandas.testing import assert_frame_equal

    from faceanalytics.report._findings import _META, _per_series_day

    def want(f):
        return f.groupby([*_META, "day"], dropna=False, sort=True)[["k", "n"]].sum().reset_index()

    series = planted[1].info["series"]
    rng = np.random.default_rng(3)
    rows = series.astype({c: object for c in _META})
    rows = rows.where(rows.notna(), None)                         # the parts' objects, None for missing
    again = rows.sample(n=len(rows) // 3, random_state=1).assign(k=1.0, n=2.0)   # series days twice
    for f in (rows, pd.concat([rows, again]).iloc[rng.permutation(len(rows) + len(again))],
              rows.assign(attack=None, detail=np.nan), rows.iloc[:0], rows.iloc[:1]):
        assert_frame_equal(_per_series_day(f), want(f), check_exact=True)
    assert len(_per_series_day(pd.concat([rows, again]))) == len(rows)


def test_summaries_compute_a_metric_once_and_hand_out_copies(planted, monkeypatch):
    """The findings, sections and workbook ask for the same frames many times: counted once per
    arguments (``by`` as a list or a tuple alike), each caller given its own copy."""
    from pandas.testing import assert_frame_equal

    from faceanalytics import analytics as A
    from faceanalytics.report._summary import summarize

    d, _ = planted
    s = summarize(d, SINCE, UNTIL, engine="pandas")
    calls = []
    real = A.error_codes
    monkeypatch.setattr(A, "error_codes", lambda *a, **k: calls.append(k) or real(*a, **k))
    first = s.error_codes("current", by=["source"])
    want = first.copy()
    first.loc[:, "count"] = -1                                      # a caller changing its frame
    again = s.error_codes("current", by=("source",))
    assert len(calls) == 1
    assert_frame_equal(again, want)
    s.error_codes("previous", by=["source"])
    assert len(calls) == 2
    assert_frame_equal(s.pass_rates("current", ["source", "comparison"]),
                       summarize(d, SINCE, UNTIL, engine="pandas").pass_rates("current", ["source", "comparison"]))


def test_figures_are_matplotlibs_tight_layout_pixels():
    """figure() lays out once and draws once to raw pixels: the PNG holds the pixels of a
    layout="tight" figure saved as PNG (what it did before), in the same 256 colours."""
    import base64
    import io

    import matplotlib
    import numpy as np
    from matplotlib.figure import Figure
    from PIL import Image

    from faceanalytics.report._figures import _RC, DPI, figure

    def draw(ax):
        ax.plot([0, 1, 2, 3], [3.0, 1.0, 2.5, 2.0], marker="o", label="a legend label beside the axes")
        ax.fill_between([0, 1, 2, 3], [2.5, 0.5, 2.0, 1.5], [3.5, 1.5, 3.0, 2.5], alpha=0.15)
        ax.set_title("a title")
        ax.set_ylabel("share")
        ax.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))

    block = figure(draw, size=(5.0, 3.0), id="fig-x", alt="x")
    assert block["src"].startswith("data:image/png;base64,") and block["width"] == int(5.0 * DPI)
    got = Image.open(io.BytesIO(base64.b64decode(block["src"].split(",", 1)[1])))
    assert got.format == "PNG" and got.mode == "P" and got.size == (int(5.0 * DPI), int(3.0 * DPI))
    with matplotlib.rc_context(_RC):
        fig = Figure(figsize=(5.0, 3.0), dpi=DPI, layout="tight")
        draw(fig.subplots())
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=DPI)
    want = Image.open(buf).convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    assert np.array_equal(np.asarray(got.convert("RGB")), np.asarray(want.convert("RGB")))


def test_a_closed_period_with_data_to_its_end_cuts_no_day(tmp_path):
    """A review of June asked with --since/--until over data that runs to June's last day:
    every day of June is tested, and the method section does not say the data ends
    part-way through July 1 (the day after the period) at midnight."""
    r = review(_mixed_sets(tmp_path), "2026-06-01", "2026-07-01")
    assert r.info["last_day"] == r.summaries.period.until_day and not r.info["partial"]
    assert "part-way" not in r.html()


def _fifty_a_month(tmp_path, seed, shift=0.0):
    """Fifty Lite sessions in May and fifty in June 2026, faceid confidence drawn from one
    normal distribution (June's moved by ``shift`` points), one threshold set."""
    import numpy as np

    rng = np.random.default_rng(seed)
    thr = {"1e-3": 62.169, "1e-4": 69.315, "1e-5": 74.399, "1e-6": 78.038}
    recs = []
    for m, month in enumerate(("2026-05", "2026-06")):
        t0 = int(pd.Timestamp(f"{month}-01", tz="UTC").timestamp())
        for j in range(50):
            at = t0 + j * 40_000 + 60
            sid = f"{at},psi{m}{j:03d}"
            conf = round(float(rng.normal(75, 6)) + (shift if m else 0.0), 3)
            recs.append({"source": "megvii_lite", "session_id": sid, "http_status": 200,
                         "fetched_at": f"{pd.Timestamp(at + 240, unit='s'):%Y-%m-%dT%H:%M:%SZ}",
                         "payload": {"request_id": f"{at},{sid}", "status": "OK", "biz_info": {"biz_id": sid},
                                     "verify_result": {"result_faceid": {"confidence": conf, "thresholds": thr}}}})
    d = tmp_path / f"data{seed}"
    ingest([P.write(tmp_path / f"r{seed}.jsonl", recs)], d)
    return review(d, "2026-06-01", "2026-07-01")


@pytest.mark.parametrize("seed", [2, 4, 6])
def test_psi_on_fifty_comparisons_of_one_distribution_is_no_shift(tmp_path, seed):
    """Fifty comparisons a side drawn from one distribution give a PSI over 0.25 more often than
    not (a rare kind such as ref3 in gen_records' payloads): the decision table said 'review:
    confidence distribution shifted'.  The KS test on the same counts must confirm it."""
    r = _fifty_a_month(tmp_path, seed)
    drift = r.summaries.distribution_drift(by=["source", "comparison"])
    assert float(drift["psi"].iloc[0]) >= 0.25 and float(drift["ks_pvalue"].iloc[0]) >= 0.05   # the case
    dec = r.decision_table
    assert (dec["recommendation"] == "keep").all(), dec["reason"].tolist()


def test_a_real_shift_on_fifty_comparisons_is_still_flagged(tmp_path):
    r = _fifty_a_month(tmp_path, 2, shift=-8.0)
    dec = r.decision_table
    assert (dec["recommendation"] == "review").all()
    assert all("confidence distribution shifted" in x for x in dec["reason"]), dec["reason"].tolist()



def test_a_review_of_one_day_draws_its_date_axes_without_a_warning():
    """One day of data: the rate series have one point, and matplotlib's date locator, asked
    for ticks in a span of no width, warned on the analyst's screen (the figure was drawn)."""
    import warnings

    from faceanalytics.report._figures import draw_rate_series, figure

    day = pd.Timestamp("2025-10-09", tz="UTC")
    frame = pd.DataFrame({"period": [day, day], "kind": ["faceid", "idcard"], "n": [400, 400], "rate": [0.9, 0.8],
                          "ci_low": [0.87, 0.76], "ci_high": [0.93, 0.84]})
    for since in (day, day - pd.Timedelta(days=29)):     # the period's start that day, or a month before
        seen = []

        def draw(ax, since=since):
            draw_rate_series(ax, frame, "kind", rate="rate", since=since)
            seen.append(ax.get_xlim())
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            block = figure(draw)
        assert block["src"].startswith("data:image/png;base64,")
        lo, hi = seen[0]
        assert hi - lo < 40          # days: the data's span, not years around it


def test_the_keep_or_review_table_names_a_change_within_the_period(tmp_path):
    """A drop confined to one segment from mid-quarter moves the pooled rate against the
    previous quarter by under the table's 2 points: the box said 'find who is being rejected
    before keeping the 1e-4 cut' while the table said 'keep' at 1e-4.  The table now names
    the change within the period, with its segment and date, at that level only."""
    src = P.write(tmp_path / "records.jsonl", P.records(
        8, n_lite=5000, n_liveness=800, n_baidu=200, reference_date=UNTIL, window_days=182,
        plants=[P.KeyValueExtra(0.5), P.SegmentDrop(25, "2026-05-16", value="app")]))
    ingest([src], tmp_path / "data")
    r = review(tmp_path / "data", SINCE, UNTIL)
    f = [x for x in r.findings if x.family == "pass_rate" and x.segment == {"key": "channel", "value": "app"}]
    assert [(x.comparison, x.level) for x in f] == [("faceid", "1e-4")], [x.text for x in r.findings]
    dec = r.decision_table.set_index(["source", "comparison", "level"])
    row = dec.loc[("megvii_lite", "faceid", "1e-4")]
    assert row["n_previous"] >= 30 and abs(row["change"]) < 0.02       # the case: the pooled rate barely moves
    assert row["recommendation"] == "review"
    assert row["reason"].startswith("channel = app: pass rate -") and "within the period" in row["reason"]
    assert f"from {pd.Timestamp(f[0].start):%Y-%m-%d} on" in row["reason"]
    others = dec.drop(index=("megvii_lite", "faceid", "1e-4"))
    assert not others["reason"].str.contains("channel = app", regex=False).any()
    # the report's own table says the same
    html = write_report(tmp_path / "data", tmp_path / "r.html", SINCE, UNTIL)
    assert "channel = app: pass rate -" in html.read_text()


def test_a_first_review_keeps_what_did_not_change_within_the_period(quiet):
    """No previous period: every row used to read 'review: too few to judge (0 previous)',
    whatever the period showed.  With nothing to set against, the period itself is judged."""
    _, r = quiet
    dec = r.decision_table
    assert (dec["n_previous"] == 0).all() and (dec["n"] >= 30).all()             # the case
    assert (dec["recommendation"] == "keep").all() and (dec["reason"] == "").all(), dec["reason"].tolist()
    rule = next(s for s in r.sections if s["id"] == "decision")["blocks"][0]["text"]
    assert "Where the previous period has fewer than 30, there is nothing to set against" in rule


def test_a_baidu_only_review_ends_with_a_decision_on_its_configured_thresholds(tmp_path):
    """Baidu compares against the threshold configured in the plan, not against levels: a
    Baidu-only deployment's report ended with 'No comparison with reference thresholds' and
    an empty keep/review table.  Now each configured threshold has a row, by the same rule;
    here a drop of the pass rate from mid-quarter marks every one for review."""
    import random

    recs = [r for r in P.records(9, n_lite=20, n_liveness=5, n_baidu=3000, reference_date=UNTIL, window_days=182)
            if r["source"].startswith("baidu")]
    rng = random.Random(9)
    for r in recs:
        res = r["payload"].get("result") if r["source"] == "baidu_getall" else None
        for a in (res or {}).get("verify_result") or []:
            d = a.get("verify_detail") or {}
            y, m, day = (int(x) for x in str(a.get("verify_time", "0-0-0")).split()[0].split("-"))
            if (y, m, day) >= (2026, 5, 16) and isinstance(d.get("score"), float) and d["score"] >= d["threshold"] \
                    and rng.random() < 0.4:
                d["score"] = round(d["threshold"] - rng.uniform(0.5, 5.0), 4)
    ingest([P.write(tmp_path / "records.jsonl", recs)], tmp_path / "data")
    r = review(tmp_path / "data", SINCE, UNTIL)
    dec = r.decision_table
    assert set(dec["source"]) == {"baidu_getall"} and set(dec["level"]) == {"configured"}
    cur = r.summaries.configured_pass_rates("current", ["source", "comparison"])
    assert sorted(dec["threshold"]) == sorted(cur["threshold"]) and list(dec["n"]) == \
        list(cur.set_index("threshold").loc[dec["threshold"], "n"])
    assert (dec["recommendation"] == "review").all(), dec["reason"].tolist()
    assert dec["reason"].str.contains("within the period", regex=False).all()
    sec = next(s for s in r.sections if s["id"] == "decision")
    rows = sec["blocks"][1]["rows"]
    assert sorted(row[2]["text"] for row in rows) == sorted(f"configured {t:g}" for t in cur["threshold"])
