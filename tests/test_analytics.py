"""Review metrics on small tables whose answers are known by hand.

Tables are built with the dtypes ``faceanalytics.load`` returns (str columns,
nullable Int32/boolean, tz-aware UTC microsecond timestamps).
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from faceanalytics import analytics as A
from faceanalytics.analytics import _stats as S

NEW = (62.169, 69.315, 74.399, 78.038)
OLD = (65.3, 71.8, 76.5, 79.9)
NAN4 = (np.nan,) * 4


def ts(s):
    return pd.Timestamp(s, tz="UTC")


def comparisons(rows):
    """rows: (source, session_id, time, comparison, confidence, (thr x4), threshold)."""
    out = pd.DataFrame({
        "source": pd.Series([r[0] for r in rows], dtype="str"),
        "session_id": pd.Series([r[1] for r in rows], dtype="str"),
        "fetched_at": pd.to_datetime([r[2] for r in rows], utc=True).as_unit("us"),
        "session_time": pd.to_datetime([r[2] for r in rows], utc=True).as_unit("us"),
        "comparison": pd.Series([r[3] for r in rows], dtype="str"),
        "attempt": pd.array([1] * len(rows), dtype="Int32"),
        "confidence": np.array([r[4] for r in rows], dtype=float),
    })
    for i, c in enumerate(("thr_1e3", "thr_1e4", "thr_1e5", "thr_1e6")):
        out[c] = np.array([r[5][i] for r in rows], dtype=float)
    out["threshold"] = np.array([r[6] if len(r) > 6 else np.nan for r in rows], dtype=float)
    return out


@pytest.fixture
def small():
    return comparisons([
        ("megvii_lite", "s1", "2026-03-02 10:00", "faceid", 69.315, NEW),      # exactly at 1e-4: passes
        ("megvii_lite", "s2", "2026-03-03 10:00", "faceid", 70.0, OLD),        # 70 < 71.8: fails at 1e-4
        ("megvii_lite", "s3", "2026-03-08 23:59", "faceid", 80.0, NEW),        # Sunday
        ("megvii_lite", "s4", "2026-03-09 00:00", "faceid", 60.0, NEW),        # Monday: next week
        ("megvii_liveness", "s5", "2026-03-09 12:00", "faceid", 75.0, NEW[:3] + (np.nan,)),
        ("megvii_lite", "s1", "2026-03-02 10:00", "idcard_photo", 79.9, OLD),
    ])


# ---------------------------------------------------------------- intervals and distances

def test_wilson_known_values():
    lo, hi = S.wilson_ci(0, 100)
    assert lo == 0 and hi == pytest.approx(1.959964 ** 2 / (100 + 1.959964 ** 2), rel=1e-6)
    assert hi == pytest.approx(0.037, abs=5e-4)
    lo, hi = S.wilson_ci(81, 263)                       # Newcombe (1998a), example
    assert (round(float(lo), 4), round(float(hi), 4)) == (0.2553, 0.3662)
    lo, hi = S.wilson_ci(5, 5)
    assert hi == 1.0 and lo == pytest.approx(0.5655, abs=1e-4)
    lo, hi = S.wilson_ci(0, 0)
    assert np.isnan(lo) and np.isnan(hi)


def test_clopper_pearson_known_values():
    lo, hi = S.clopper_pearson_ci(0, 100)
    assert lo == 0 and hi == pytest.approx(1 - 0.025 ** (1 / 100), rel=1e-9)
    lo, hi = S.clopper_pearson_ci(100, 100)
    assert hi == 1 and lo == pytest.approx(0.025 ** (1 / 100), rel=1e-9)


def test_newcombe_difference_matches_published_example():
    # Newcombe (1998b) example (a): 56/70 - 48/80, method 10: 0.0524 to 0.3339.
    d, lo, hi = S.newcombe_diff_ci(48, 80, 56, 70)
    assert d == pytest.approx(0.2)
    assert (round(float(lo), 4), round(float(hi), 4)) == (0.0524, 0.3339)


def test_zero_events_are_described_not_printed_as_zero():
    text = S.describe_rate(0, 1000)
    assert "none observed" in text and "0.38%" in text and "3/N" in text
    assert S.describe_rate(3, 1000).startswith("3 of 1,000: 0.30%")


def test_psi_and_ks():
    assert S.psi([50, 50], [25, 75], smoothing=0) == pytest.approx(
        (0.25 - 0.5) * math.log(0.5) + (0.75 - 0.5) * math.log(1.5))
    assert S.psi([10, 20, 30], [10, 20, 30]) == 0
    assert [S.psi_flag(x) for x in (0.05, 0.1, 0.2, 0.25)] == ["stable", "watch", "watch", "act"]
    scipy_stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(1)
    x = np.round(rng.normal(0, 1, 400), 1)              # ties on purpose
    y = np.round(rng.normal(0.2, 1, 300), 1)
    d, p = S.ks_2samp(x, y)
    ref = scipy_stats.ks_2samp(x, y, method="asymp")
    assert d == pytest.approx(ref.statistic, abs=1e-12)
    assert p == pytest.approx(ref.pvalue, rel=0.1)


def test_probit_matches_scipy():
    special = pytest.importorskip("scipy.special")
    p = np.array([1e-6, 1e-4, 0.01, 0.02425, 0.1, 0.5, 0.9, 0.99, 1 - 1e-6])
    assert np.allclose(S.probit(p), special.ndtri(p), rtol=1e-8, atol=1e-8)
    assert np.isneginf(S.probit(np.array([0.0])))[0]


# ---------------------------------------------------------------- pass rates

def test_pass_rates_per_row_thresholds(small):
    r = A.pass_rates(small)
    assert list(r.columns) == ["level", "n", "passed", "pass_rate", "ci_low", "ci_high", "low_n"]
    assert r["level"].tolist() == ["1e-3", "1e-4", "1e-5", "1e-6"]
    # 1e-4: thresholds 69.315, 71.8, 69.315, 69.315, 69.315, 71.8; confidences
    # 69.315 (=, passes), 70 (<71.8), 80, 60, 75, 79.9 -> 4 of 6.
    row = r.set_index("level").loc["1e-4"]
    assert (row["n"], row["passed"]) == (6, 4)
    assert row["pass_rate"] == pytest.approx(4 / 6)
    lo, hi = S.wilson_ci(4, 6)
    assert (row["ci_low"], row["ci_high"]) == (pytest.approx(float(lo)), pytest.approx(float(hi)))
    assert bool(row["low_n"])
    # 1e-6 exists on 5 rows only (v2 payload without it).
    assert r.set_index("level").loc["1e-6", "n"] == 5
    assert r["n"].dtype == "int64" and r["pass_rate"].dtype == "float64" and r["low_n"].dtype == bool


def test_pass_rates_missing_confidence_is_a_rejection():
    c = comparisons([("baidu_getall", "b1", "2026-03-02", "faceprint", np.nan, NEW),
                     ("baidu_getall", "b2", "2026-03-02", "faceprint", 90.0, NEW)])
    r = A.pass_rates(c, levels=["1e-4"])
    assert r[["n", "passed"]].values.tolist() == [[2, 1]]


def test_pass_rates_by_segment_and_week(small):
    r = A.pass_rates(small, by="comparison", freq="W", levels=["1e-4"], min_n=1)
    assert list(r.columns[:3]) == ["comparison", "period", "level"]
    assert r["period"].dtype == "datetime64[us, UTC]"
    got = [(c, p.strftime("%Y-%m-%d"), n, k) for c, p, n, k in
           zip(r["comparison"], r["period"], r["n"], r["passed"])]
    # pandas' "W" (= "W-SUN"): Monday-to-Sunday weeks labelled by their Sunday, as resample
    # labels them; Monday 03-02 to Sunday 03-08 23:59 is the week of 03-08.
    assert got == [("faceid", "2026-03-08", 3, 2), ("faceid", "2026-03-15", 2, 1),
                   ("idcard_photo", "2026-03-08", 1, 1)]
    assert not r["low_n"].any()


@pytest.mark.parametrize("freq,expected", [
    ("D", ["2026-03-02", "2026-03-03", "2026-03-08", "2026-03-09"]),
    ("M", ["2026-03-31"]),                  # pandas' period "M": the month, labelled as "ME" labels it
    ("ME", ["2026-03-31"]),
    ("MS", ["2026-03-01"]),
    ("W-MON", ["2026-03-02", "2026-03-09"]),
    ("QE", ["2026-03-31"]),
])
def test_pass_rates_periods(small, freq, expected):
    r = A.pass_rates(small, freq=freq, levels=["1e-3"])
    assert [p.strftime("%Y-%m-%d") for p in r["period"]] == expected
    assert r["n"].sum() == 6


def test_pass_rates_missing_segment_sorts_last_and_output_is_deterministic(small):
    c = small.copy()
    c["segment"] = pd.Series(["b", None, "a", "b", "a", "a"], dtype="str")
    r1 = A.pass_rates(c, by="segment", levels=["1e-3"], min_n=1)
    r2 = A.pass_rates(c.sample(frac=1, random_state=3), by="segment", levels=["1e-3"], min_n=1)
    pd.testing.assert_frame_equal(r1, r2)
    assert r1["segment"].tolist()[:2] == ["a", "b"] and pd.isna(r1["segment"].iloc[2])
    assert r1["n"].tolist() == [3, 2, 1]


def test_pass_rates_accepts_nullable_dtypes(small):
    c = small.copy()
    c["confidence"] = c["confidence"].astype("Float64")
    c["thr_1e4"] = c["thr_1e4"].astype("Float64")
    pd.testing.assert_frame_equal(A.pass_rates(c), A.pass_rates(small))


def test_nullable_boolean_segment_with_missing_values(small):
    # with_segments gives is_demote as a nullable boolean, missing for most sessions
    c = small.copy()
    c["is_demote"] = pd.array([True, None, False, True, None, False], dtype="boolean")
    r = A.pass_rates(c, by="is_demote", levels=["1e-3"], min_n=1)
    assert r["is_demote"].tolist()[:2] == [False, True] and pd.isna(r["is_demote"].iloc[2])
    assert r["n"].tolist() == [2, 2, 2]


def test_pass_rates_clopper_pearson(small):
    pytest.importorskip("scipy")
    r = A.pass_rates(small, method="clopper-pearson", levels=["1e-4"])
    lo, hi = S.clopper_pearson_ci(4, 6)
    assert r["ci_low"].iloc[0] == pytest.approx(float(lo)) and r["ci_high"].iloc[0] == pytest.approx(float(hi))


def test_configured_pass_rates_keeps_baidu_apart():
    c = comparisons([
        ("baidu_getall", "b1", "2026-03-02", "faceprint", 85.0, NAN4, 80.0),
        ("baidu_getall", "b2", "2026-03-02", "faceprint", np.nan, NAN4, 80.0),   # stopped early
        ("baidu_getall", "b3", "2026-03-02", "faceprint", 79.9999, NAN4, 80.0),
        ("baidu_getall", "b4", "2026-03-02", "faceprint", 75.0, NAN4, 75.0),
        ("baidu_detail", "b1", "2026-03-02", "faceprint", 85.0, NAN4),           # no threshold
    ])
    assert A.pass_rates(c).empty                       # no false-accept level on Baidu rows
    r = A.configured_pass_rates(c)
    assert list(r.columns) == ["threshold", "n", "passed", "pass_rate", "ci_low", "ci_high", "low_n"]
    assert r[["threshold", "n", "passed"]].values.tolist() == [[75.0, 1, 1], [80.0, 3, 1]]


def test_liveness_pass_rates_are_keyed_by_false_reject_rate():
    t = pd.DataFrame({"source": "baidu_detail", "session_id": ["a", "b", "c", "d"],
                      "liveness_score": [0.95, 0.5, 0.0, np.nan]})
    r = A.liveness_pass_rates(t, {"frr_1e-2": 0.9, "frr_1e-3": 0.3}, min_n=1)
    assert r.columns[0] == "frr_level" and "level" not in r.columns
    assert r[["frr_level", "threshold", "n", "passed"]].values.tolist() == [
        ["frr_1e-2", 0.9, 4, 1], ["frr_1e-3", 0.3, 4, 2]]


# ---------------------------------------------------------------- exact histogram

def _random_table(n, seed):
    rng = np.random.default_rng(seed)
    sets = np.array([NEW, OLD, (64, 69, 74, np.nan), NAN4])
    which = rng.choice(4, n, p=[0.6, 0.2, 0.1, 0.1])
    conf = np.round(rng.uniform(50, 100, n), 3)
    conf[rng.random(n) < 0.05] = np.nan
    conf[:5] = [62.169, 69.315, 74.399, 78.038, 71.8]           # values sitting on thresholds
    days = rng.integers(0, 60, n)
    rows = [("megvii_lite" if w < 3 else "baidu_getall", f"s{i}",
             (ts("2026-01-01") + pd.Timedelta(days=int(d))).isoformat(),
             rng.choice(["faceid", "ref1"]), c, tuple(sets[w]), 80.0 if w == 3 else np.nan)
            for i, (w, c, d) in enumerate(zip(which, conf, days))]
    return comparisons(rows)


def test_histogram_is_exact_and_answers_pass_rates(small):
    h = A.confidence_histogram(small)
    assert list(h.columns) == ["thr_1e3", "thr_1e4", "thr_1e5", "thr_1e6", "threshold", "confidence", "count"]
    assert h["count"].sum() == 6 and h["count"].dtype == "int64"
    assert h.duplicated(["thr_1e3", "thr_1e4", "thr_1e5", "thr_1e6", "threshold", "confidence"]).sum() == 0
    # Sorted: threshold sets by their values, then confidence.
    assert h["thr_1e3"].tolist() == sorted(h["thr_1e3"].tolist())
    pd.testing.assert_frame_equal(A.pass_rates_from_histogram(h), A.pass_rates(small))


@pytest.mark.parametrize("by,freq", [(None, None), ("comparison", None), (["source", "comparison"], "W"),
                                     (None, "D")])
def test_histogram_pass_rates_equal_direct_ones(by, freq):
    c = _random_table(3000, 5)
    h = A.confidence_histogram(c, by=by, freq=freq)
    pd.testing.assert_frame_equal(A.pass_rates_from_histogram(h), A.pass_rates(c, by=by, freq=freq))


def test_histograms_merge_across_partitions():
    c = _random_table(2000, 6)
    early = c[c["session_time"] < ts("2026-02-01")]
    late = c[c["session_time"] >= ts("2026-02-01")]
    merged = A.merge_histograms(A.confidence_histogram(early, by="comparison"),
                                A.confidence_histogram(late, by="comparison"))
    pd.testing.assert_frame_equal(merged, A.confidence_histogram(c, by="comparison"))


def test_rates_at_any_cut_from_the_histogram():
    c = _random_table(2000, 7)
    h = A.confidence_histogram(c, by="source")
    r = A.rates_at_cut(h, 71.8)
    for _, row in r.iterrows():
        sub = c[c["source"] == row["source"]]
        assert row["n"] == len(sub)
        assert row["passed"] == int((sub["confidence"] >= 71.8).sum())


def test_histogram_keeps_four_decimals_exact():
    c = comparisons([("baidu_getall", "a", "2026-01-01", "faceprint", 79.9999, NAN4, 80.0),
                     ("baidu_getall", "b", "2026-01-01", "faceprint", 80.0, NAN4, 80.0),
                     ("baidu_getall", "c", "2026-01-01", "faceprint", 0.1 + 0.2, NAN4, 80.0)])
    h = A.confidence_histogram(c)
    assert h["confidence"].tolist() == [0.1 + 0.2, 79.9999, 80.0]
    assert A.rates_at_cut(h, 80.0)["passed"].iloc[0] == 1


# ---------------------------------------------------------------- segments and eras

def test_join_segments_keeps_rows_and_order(small):
    ie = pd.DataFrame({"source": ["megvii_lite", "megvii_lite", "megvii_lite"],
                       "session_id": ["s1", "s1", "s3"],           # s1 twice: the first row wins
                       "id_photo_monochrome": pd.array([1, 0, 0], dtype="Int32")})
    out = A.join_segments(small, ie, "id_photo_monochrome")
    assert len(out) == len(small) and out["session_id"].tolist() == small["session_id"].tolist()
    assert out["id_photo_monochrome"].tolist()[:3] == [1, pd.NA, 0]
    r = A.pass_rates(out, by="id_photo_monochrome", levels=["1e-4"], min_n=1)
    assert r["n"].tolist() == [1, 2, 3]                            # 0, 1, missing


def test_biz_extra_key_reads_json_only():
    s = pd.DataFrame({"source": "megvii_lite", "session_id": list("abcd"),
                      "biz_extra_data": pd.Series(['{"channel":"app","branch":3}', "user-1", None,
                                                   '{"channel":"h5"}'], dtype="str")})
    out = A.biz_extra_key(s, "channel")
    assert out["channel"].tolist()[0] == "app" and out["channel"].tolist()[3] == "h5"
    assert out["channel"].isna().tolist() == [False, True, True, False]
    assert A.biz_extra_key(s, "branch")["branch"].iloc[0] == "3"


def test_threshold_set_labels(small):
    lab = A.with_threshold_set(small)["threshold_set"].tolist()
    assert lab[0] == "62.169/69.315/74.399/78.038" and lab[1] == "65.3/71.8/76.5/79.9"
    assert lab[4] == "62.169/69.315/74.399/–"


def test_threshold_eras_detect_the_change():
    rows = []
    for i in range(20):
        rows.append(("megvii_lite", f"a{i}", f"2016-0{1 + i % 2}-10", "faceid", 70.0, OLD))
    for i in range(30):
        rows.append(("megvii_lite", f"b{i}", f"2016-0{3 + i % 2}-10", "faceid", 70.0 + i % 2, NEW))
    rows.append(("megvii_liveness", "c0", "2016-03-11", "faceid", 70.0, (64, 69, 74, np.nan)))
    c = comparisons(rows)
    e = A.threshold_eras(c)
    assert e["era"].tolist() == [1, 2]
    assert e["threshold_set"].tolist() == ["65.3/71.8/76.5/79.9", "62.169/69.315/74.399/78.038"]
    assert [x.strftime("%Y-%m-%d") for x in e["start"]] == ["2016-01-01", "2016-03-01"]
    assert [x.strftime("%Y-%m-%d") for x in e["end"]] == ["2016-03-01", "2016-05-01"]
    assert e["n"].tolist() == [20, 31] and e["other_sets"].tolist() == [0, 1]
    assert e["dominant_share"].iloc[1] == pytest.approx(30 / 31)
    r = A.pass_rates_by_era(c, levels=["1e-4"], min_n=1)
    # Era 1: 70 < 71.8 never passes; era 2: 70 and 71 >= 69.315 (and 70 >= 69) all pass.
    assert r[["era", "n", "passed"]].values.tolist() == [[1, 20, 0], [2, 31, 31]]
    s = A.threshold_sets(c)
    assert s["n"].tolist() == [20, 30, 1]
    assert s["threshold_set"].tolist() == ["65.3/71.8/76.5/79.9", "62.169/69.315/74.399/78.038", "64/69/74/–"]


# ---------------------------------------------------------------- would-flip and margins

def test_would_flip_between_levels():
    c = comparisons([
        ("megvii_lite", "1462259748,52b13fb5-8dfb-4537-a62b-a641d5e929f1", "2026-03-02", "faceid", 70.0, NEW),
        ("megvii_lite", "1462259748,52b13fb5-8dfb-4537-a62b-a641d5e929f1", "2026-03-02", "ref1", 71.0, NEW),
        ("megvii_lite", "s2", "2026-03-02", "faceid", 75.0, NEW),         # passes both
        ("megvii_lite", "s3", "2026-03-02", "faceid", 60.0, NEW),         # fails both
        ("megvii_lite", "s4", "2026-03-02", "faceid", np.nan, NEW),       # no score: fails both
        ("megvii_lite", "s5", "2026-03-02", "faceid", 74.399, NEW),       # exactly at 1e-5: passes
    ])
    s = A.would_flip_summary(c, "1e-4", "1e-5", window=1.0).iloc[0]
    assert (s["n"], s["passed_from"], s["passed_to"], s["to_reject"], s["to_pass"]) == (6, 4, 2, 2, 0)
    assert (s["sessions_to_reject"], s["sessions"]) == (1, 5)
    assert s["cut_shift"] == pytest.approx(5.084)
    assert (s["near_below_from"], s["near_above_from"]) == (0, 1)       # 70 (margin 0.685) only
    f = A.would_flip(c, "1e-4", "1e-5")
    assert f["session_id"].tolist() == ["1462…29f1", "1462…29f1"]
    assert f["change"].tolist() == ["pass→reject", "pass→reject"]
    assert f["margin_from"].tolist() == [0.685, 1.685]
    assert A.would_flip(c, "1e-4", "1e-5", mask=False)["session_id"].iloc[0].startswith("1462259748,")
    # A custom cut: 72 for everyone.
    s = A.would_flip_summary(c, "1e-4", 72).iloc[0]
    assert (s["to"], s["to_reject"]) == ("72", 2)
    # Moving down flips the other way.
    s = A.would_flip_summary(c, "1e-5", "1e-4").iloc[0]
    assert (s["to_reject"], s["to_pass"]) == (0, 2)


def test_margin_histogram_bins_exactly():
    c = comparisons([("megvii_lite", f"s{i}", "2026-03-02", "faceid", x, NEW)
                     for i, x in enumerate([69.815, 69.315, 69.314, 70.315, np.nan])])
    h = A.margin_histogram(c, "1e-4", binwidth=0.5)
    # margins 0.5, 0, -0.001, 1.0: 0.5 belongs to [0.5, 1.0), not to [0, 0.5).
    assert h[["bin_left", "count"]].values.tolist() == [[-0.5, 1], [0.0, 1], [0.5, 1], [1.0, 1]]
    m = A.margins(c, "1e-4")
    assert m["margin"].tolist()[:4] == [0.5, 0.0, -0.001, 1.0]
    assert m["passed"].tolist() == [True, True, False, True, False]


# ---------------------------------------------------------------- anti-spoofing

def _genuineness():
    rows = [
        ("megvii_lite", "s1", "mask", 0.5, 0.5),          # equal: not flagged
        ("megvii_lite", "s1", "synthetic_face", 0.51, 0.5),
        ("megvii_lite", "s1", "screen_replay", 0.9, 0.7),
        ("megvii_lite", "s2", "mask", 0.47, 0.5),          # just under
        ("megvii_lite", "s2", "synthetic_face", 0.1, 0.4),
        ("baidu_getall", "b1", "synthetic_face", 0.3, np.nan),   # Baidu: no threshold
    ]
    return pd.DataFrame({
        "source": pd.Series([r[0] for r in rows], dtype="str"),
        "session_id": pd.Series([r[1] for r in rows], dtype="str"),
        "session_time": pd.to_datetime(["2026-03-02"] * len(rows), utc=True).as_unit("us"),
        "attack": pd.Series([r[2] for r in rows], dtype="str"),
        "confidence": [r[3] for r in rows], "threshold": [r[4] for r in rows],
        "flagged": pd.array([r[3] > r[4] if r[4] == r[4] else None for r in rows], dtype="boolean"),
    })


def test_genuineness_rates_over_rows_that_have_the_field():
    r = A.genuineness_rates(_genuineness(), min_n=1).set_index("attack")
    assert r.loc["mask", ["n", "flagged"]].tolist() == [2, 0]
    assert r.loc["synthetic_face", ["n", "flagged", "n_no_threshold"]].tolist() == [2, 1, 1]
    # screen_replay came back for 1 of the 3 sessions that returned anti-spoofing fields.
    assert r.loc["screen_replay", ["n_sessions", "n_sessions_in_scope"]].tolist() == [1, 3]
    assert r.loc["screen_replay", "coverage"] == pytest.approx(1 / 3)
    assert r.loc["screen_replay", "flagged_rate"] == 1.0


def test_genuineness_mass_near_threshold():
    n = A.genuineness_near_threshold(_genuineness(), window=0.05).set_index("attack")
    assert n.loc["mask", ["n", "just_under", "just_over"]].tolist() == [2, 2, 0]
    assert n.loc["synthetic_face", ["just_under", "just_over", "n_thresholds"]].tolist() == [0, 1, 2]
    h = A.genuineness_histogram(_genuineness(), binwidth=0.1)
    mask = h[h["attack"] == "mask"]
    assert len(mask) == 10 and mask["count"].tolist()[4:6] == [1, 1]     # 0.47 in [0.4,0.5), 0.5 in [0.5,0.6)


# ---------------------------------------------------------------- errors, funnel, billing

def _sessions():
    rows = [
        # source, id, status, error, error_message, failure_reason, fail_reason, liveness_result, verify_error, request_id, time_basis, fetched, session_time
        ("megvii_lite", "m1", "OK", None, None, None, None, "PASS", None, "r1", "verify_time", "2026-03-02 12:00", "2026-03-02 10:00"),
        ("megvii_lite", "m2", "OK", None, None, None, None, "FAIL", None, "r2", "verify_time", "2026-03-04 12:00", "2026-03-02 10:00"),
        ("megvii_lite", "m3", "NOT_STARTED", None, None, None, None, None, None, "r3", "biz_id", "2026-03-02 12:00", "2026-03-02 10:00"),
        ("megvii_lite", "m4", "WEBRTC_UNSUPPORTED", None, None, None, "NETWORK_ERROR", None, None, "r1", "biz_id", "2026-03-02 12:00", "2026-03-02 10:00"),
        ("megvii_lite", "m5", "DATA_DESTROYED", "DATA_DESTROYED", None, None, None, None, None, "r5", "biz_id", "2026-03-02 12:00", "2026-03-02 10:00"),
        ("megvii_liveness", "v1", None, None, None, "not_video", None, "failed", None, "r6", "biz_id", "2026-03-02 12:00", "2026-03-02 10:00"),
        ("megvii_notify", "m1", "OK", None, None, None, None, "PASS", None, "r1", "biz_id", "2026-03-02 12:00", "2026-03-02 10:00"),
        ("baidu_detail", "b1", "223120", "223120", "活体检测未通过", None, None, None, None, None, "fetched_at", "2026-03-05 12:00", "2026-03-05 12:00"),
        ("baidu_getall", "b2", "OK", None, None, None, None, None, None, None, "verify_time", "2026-03-04 12:00", "2026-03-02 10:00"),
    ]
    cols = ["source", "session_id", "status", "error", "error_message", "failure_reason", "fail_reason",
            "liveness_result", "verify_error", "request_id", "time_basis", "fetched_at", "session_time"]
    df = pd.DataFrame(rows, columns=cols)
    for c in cols[:-2]:
        df[c] = df[c].astype("str")
    for c in cols[-2:]:
        df[c] = pd.to_datetime(df[c], utc=True).dt.as_unit("us")
    return df


def _verify_errors():
    return pd.DataFrame({"source": "megvii_lite", "session_id": ["m1", "m2", "m2"],
                         "session_time": pd.to_datetime(["2026-03-02"] * 3, utc=True).as_unit("us"),
                         "error_message": pd.Series(["NO_FACE_FOUND", "INTERNAL_ERROR", "VERIFY_API_FAILED"],
                                                    dtype="str"),
                         "billed": pd.array([True, False, None], dtype="boolean")})


def _error_counts():
    return pd.DataFrame({"source": "baidu_stat", "session_id": "b1",
                         "api": pd.Series(["Verify_FIN", "Verify_FIN", "OCR"], dtype="str"),
                         "error_code": pd.Series(["0", "223120", "0"], dtype="str"),
                         "count": pd.array([5, 2, 3], dtype="Int64")})


def _attempts():
    return pd.DataFrame({
        "source": "baidu_getall", "session_id": ["b2", "b2", "b3"],
        "session_time": pd.to_datetime(["2026-03-02"] * 3, utc=True).as_unit("us"),
        "attempt": pd.array([1, 2, 1], dtype="Int32"),
        "passed": pd.array([False, True, False], dtype="boolean"),
        "code": pd.Series(["222380", "0", "223120"], dtype="str"),
        "message": pd.Series(["人脸比对未通过,相似度低于阈值", "核验成功", "活体检测未通过"], dtype="str"),
        "verify_time": pd.to_datetime(["2026-03-02", "2026-03-02", "2026-04-01"], utc=True).as_unit("us"),
        "charged": pd.array([True, True, False], dtype="boolean"),
        "charge_type": pd.Series(["verify", "match", None], dtype="str"),
        "charge_time": pd.to_datetime(["2026-03-02", "2026-03-02", None], utc=True).as_unit("us"),
    })


def test_error_codes_one_pareto_across_sources():
    e = A.error_codes(_sessions(), _verify_errors(), _error_counts(), _attempts())
    assert list(e.columns) == ["origin", "code", "detail", "message", "count", "share", "cumulative_share",
                               "billed", "not_billed", "billing_unknown"]
    key = {(o, c, d if isinstance(d, str) else None): n
           for o, c, d, n in zip(e["origin"], e["code"], e["detail"], e["count"])}
    assert key == {
        ("baidu_stat", "223120", "Verify_FIN"): 2,                 # the "0" counts are successes
        # Baidu detail's 223120 is its latest attempt's code, as detail repeats it: not a refused call
        ("api_error", "DATA_DESTROYED", None): 1, ("baidu_latest", "223120", None): 1,
        ("verify_error", "NO_FACE_FOUND", None): 1, ("verify_error", "INTERNAL_ERROR", None): 1,
        ("verify_error", "VERIFY_API_FAILED", None): 1,
        ("liveness_failure", "FAIL", None): 1, ("liveness_failure", "not_video", None): 1,
        ("lite_fail_reason", "NETWORK_ERROR", None): 1,
        ("lite_status", "NOT_STARTED", None): 1, ("lite_status", "WEBRTC_UNSUPPORTED", None): 1,
        ("baidu_attempt", "222380", None): 1, ("baidu_attempt", "223120", None): 1,
    }
    assert e["count"].iloc[0] == 2 and e["count"].is_monotonic_decreasing
    for o, g in e.groupby("origin"):        # each origin its own Pareto: one failure is counted in several
        assert g["share"].sum() == pytest.approx(1) and g["cumulative_share"].iloc[-1] == pytest.approx(1), o
        assert np.allclose(g["cumulative_share"], g["share"].cumsum()), o
    b = e.set_index(["origin", "code"])
    assert b.loc[("verify_error", "NO_FACE_FOUND"), "billed"] == 1
    assert b.loc[("verify_error", "INTERNAL_ERROR"), "not_billed"] == 1
    assert b.loc[("verify_error", "VERIFY_API_FAILED"), "billing_unknown"] == 1
    assert b.loc[("baidu_attempt", "222380"), "billed"] == 1
    assert b.loc[("baidu_attempt", "223120"), "message"] == "活体检测未通过"
    assert b.loc[("baidu_latest", "223120"), "message"] == "活体检测未通过"
    # Sessions alone: verify errors come from sessions.verify_error then (none here).
    assert "verify_error" not in set(A.error_codes(_sessions())["origin"])
    with pytest.raises(TypeError):
        A.error_codes(pd.DataFrame({"x": [1]}))


def test_status_funnel_order_and_zeros():
    f = A.status_funnel(_sessions())
    assert f["status"].tolist() == ["NOT_STARTED", "PROCESSING", "OK", "FAILED", "CANCELLED", "TIMEOUT",
                                    "WEBRTC_UNSUPPORTED", "DATA_DESTROYED"]
    assert f["count"].tolist() == [1, 0, 2, 0, 0, 0, 1, 1]
    assert f["stage"].tolist()[:2] == ["pending", "pending"] and f["stage"].iloc[-1] == "api_error"
    assert f["share"].sum() == pytest.approx(1)


def test_billing_per_period():
    b = A.billing(_attempts(), _verify_errors(), freq="M")
    got = {(p.strftime("%Y-%m"), s, i): n for p, s, i, n in zip(b["period"], b["source"], b["item"], b["count"])}
    assert got == {("2026-03", "baidu_getall", "charged_verify"): 1, ("2026-03", "baidu_getall", "charged_match"): 1,
                   ("2026-03", "baidu_getall", "charged_errors"): 1, ("2026-04", "baidu_getall", "uncharged"): 1,
                   ("2026-03", "megvii_lite", "billable_errors"): 1, ("2026-03", "megvii_lite", "unbilled_errors"): 1,
                   ("2026-03", "megvii_lite", "errors_billing_unknown"): 1}


# ---------------------------------------------------------------- drift

def _normal_scores(mean, sd, n):
    return np.round(mean + sd * S.probit((np.arange(n) + 0.5) / n), 3)


def test_pass_rate_change_leads_where_psi_sees_nothing():
    n = 200_000
    base = pd.DataFrame({"confidence": _normal_scores(80, 8, n)})
    cur = pd.DataFrame({"confidence": _normal_scores(79, 8, n)})      # one point lower
    for df in (base, cur):
        for c, v in zip(("thr_1e3", "thr_1e4", "thr_1e5", "thr_1e6"), NEW):
            df[c] = v
    d = A.pass_rate_drift(base, cur).set_index("level")
    row = d.loc["1e-4"]
    assert row["change"] < 0 and bool(row["significant"]) and row["change_high"] < 0
    assert row["rejection_change"] == pytest.approx(0.25, abs=0.03)       # a quarter more rejections
    dd = A.distribution_drift(base, cur).iloc[0]
    assert dd["psi"] < 0.1 and dd["psi_flag"] == "stable"
    assert dd["ks"] == pytest.approx(0.0498, abs=0.002)


def test_pass_rate_drift_numbers():
    base = comparisons([("megvii_lite", f"a{i}", "2026-01-05", "faceid", 80.0 if i < 48 else 60.0, NEW)
                        for i in range(80)])
    cur = comparisons([("megvii_lite", f"b{i}", "2026-02-05", "faceid", 80.0 if i < 56 else 60.0, NEW)
                       for i in range(70)])
    d = A.pass_rate_drift(base, cur, levels=["1e-4"]).iloc[0]
    assert (d["n_baseline"], d["n_current"]) == (80, 70)
    assert d["change"] == pytest.approx(0.2)
    assert (round(d["change_low"], 4), round(d["change_high"], 4)) == (0.0524, 0.3339)
    both = pd.concat([base, cur], ignore_index=True)
    assert len(A.period_slice(both, "2026-02-01", "2026-03-01")) == 70
    assert len(A.period_slice(both, until="2026-02-01")) == 80


def test_distribution_drift_per_attack():
    g = _genuineness()
    d = A.distribution_drift(g, g, by="attack")
    assert d["attack"].tolist() == ["mask", "screen_replay", "synthetic_face"]
    assert (d["psi"] == 0).all() and (d["ks"] == 0).all()


# ---------------------------------------------------------------- data quality

def test_data_quality_checks():
    s = _sessions()
    c = comparisons([("megvii_lite", "m1", "2026-03-02", "faceid", 80.0, NEW)])
    late = A.late_fetches(s, mask=False)
    # m2: 2 days after a verify_time (Megvii keeps 1 day); b2: 2 days (Baidu keeps 3): fine;
    # b1's time is the fetch time itself: not judged.
    assert late["session_id"].tolist() == ["m2"] and late["delay_hours"].iloc[0] == pytest.approx(50)
    rr = A.repeated_request_ids(s, mask=False)
    # r1 is m1 (lite), m1 (notify: same session) and m4: a different session.
    assert sorted(rr["session_id"]) == ["m1", "m1", "m4"] and set(rr["n_sessions"]) == {2}
    nr = A.sessions_without_result(s, c, mask=False)
    got = dict(zip(zip(nr["source"], nr["session_id"]), nr["reason"]))
    # b1 (detail) repeats its failed attempt's code 223120: a failed verification, not a refused call
    assert got == {("megvii_lite", "m3"): "pending", ("megvii_lite", "m5"): "api_error",
                   ("megvii_notify", "m1"): "no_comparison", ("baidu_getall", "b2"): "no_comparison"}
    q = pd.DataFrame({"source": ["megvii_lite"], "session_id": [None], "reason": ["bad json"]})
    dq = A.data_quality(s, comparisons=c, quarantine=q).set_index(["check", "source"])
    assert dq.loc[("quarantined", "megvii_lite"), ["n", "of"]].tolist() == [1, 6]
    assert dq.loc[("fetched_after_retention", "megvii_lite"), ["n", "of"]].tolist() == [1, 5]
    assert dq.loc[("repeated_request_id", "megvii_lite"), "n"] == 2
    assert dq.loc[("pending", "megvii_lite"), "n"] == 1


# ---------------------------------------------------------------- labelled evaluation

def _labelled(n=600, seed=11):
    rng = np.random.default_rng(seed)
    genuine = rng.random(n) < 0.8
    conf = np.where(genuine, rng.normal(78, 6, n), rng.normal(60, 8, n))
    conf = np.round(conf, 1)                                  # ties on purpose
    rows = [("megvii_lite", f"s{i}", "2026-03-02", "faceid", c, NEW) for i, c in enumerate(conf)]
    labels = pd.DataFrame({"session_id": [f"s{i}" for i in range(n)], "genuine": genuine})
    return comparisons(rows), labels


def test_error_rates_match_sklearn_det_curve():
    metrics = pytest.importorskip("sklearn.metrics")
    c, labels = _labelled()
    fpr, fnr, thr = metrics.det_curve(labels["genuine"].astype(int), c["confidence"])
    r = A.error_rates(c, labels, thresholds=thr)
    assert list(r.columns[:5]) == ["threshold", "far", "frr", "n_genuine", "n_impostor"]
    order = np.argsort(thr)
    assert np.allclose(r["far"], fpr[order], rtol=0, atol=1e-15)
    assert np.allclose(r["frr"], fnr[order], rtol=0, atol=1e-15)
    full = A.error_rates(c, labels)
    assert len(full) == c["confidence"].nunique()
    assert set(thr) <= set(full["threshold"])
    assert (full["n_genuine"] == labels["genuine"].sum()).all()


def _error_rates_by_sorting(conf, gen, thresholds):
    """The definition, by sorted arrays and searchsorted (the implementation before the
    histogram): impostors with confidence >= t, genuine below t or without a score."""
    g = np.sort(conf[gen & ~np.isnan(conf)])
    i = np.sort(conf[~gen & ~np.isnan(conf)])
    t = np.sort(np.asarray(thresholds, dtype=float))
    fa = i.size - np.searchsorted(i, t, side="left")
    fr = np.searchsorted(g, t, side="left") + (int(gen.sum()) - g.size)
    return t, fa, fr


@pytest.mark.parametrize("decimals", [3, 4, None])
def test_error_rates_equal_the_definition(decimals):
    """Grid values (Megvii 3, Baidu 4 decimals) and arbitrary floats, missing scores,
    thresholds outside the range, at and between values, infinite and NaN."""
    rng = np.random.default_rng(decimals or 0)
    n = 5000
    gen = rng.random(n) < 0.7
    conf = np.where(gen, rng.normal(80, 8, n), rng.normal(55, 10, n))
    conf = np.round(conf, decimals) if decimals else conf
    conf[rng.random(n) < 0.02] = np.nan
    rows = [("baidu_getall", f"t{i}", "2026-03-02", "faceprint", x, NAN4, 80.0) for i, x in enumerate(conf)]
    labels = pd.DataFrame({"session_id": [f"t{i}" for i in range(n)], "genuine": gen}).sample(frac=1, random_state=1)
    c = comparisons(rows)
    full = A.error_rates(c, labels)
    t, fa, fr = _error_rates_by_sorting(conf, gen, np.unique(conf[~np.isnan(conf)]))
    assert np.array_equal(full["threshold"], t)
    assert np.array_equal(full["false_accepts"], fa) and np.array_equal(full["false_rejects"], fr)
    cuts = [-1.0, 0.0, float(np.nanmin(conf)), 60.5, float(np.nanmedian(conf)), 200.0, np.inf, -np.inf, np.nan]
    at = A.error_rates(c, labels, thresholds=cuts)
    t, fa, fr = _error_rates_by_sorting(conf, gen, cuts)
    assert np.array_equal(at["threshold"], t, equal_nan=True)
    assert at["false_accepts"].tolist() == fa.tolist() and at["false_rejects"].tolist() == fr.tolist()
    assert (at["n_genuine"] == gen.sum()).all() and (at["n_impostor"] == (~gen).sum()).all()
    # rows that carry their labels need no join and give the same curve
    assert A.error_rates(A.join_labels(c, labels)).equals(full)


def test_label_join_keys_order_and_duplicates():
    c = comparisons([("megvii_lite", "7", "2026-03-02", "faceid", 80.0, NEW),
                     ("baidu_getall", "7", "2026-03-02", "faceprint", 70.0, NAN4, 80.0),
                     ("megvii_lite", "8", "2026-03-02", "faceid", 60.0, NEW),
                     ("megvii_lite", "9", "2026-03-02", "idcard_photo", 50.0, NEW),
                     ("megvii_lite", "8", "2026-03-02", "idcard_photo", 65.0, NEW)])
    # a labels file read with numeric ids still matches; rows keep the table's order
    labels = pd.DataFrame({"session_id": [8, 7, 10], "genuine": [False, True, None]})
    j = A.join_labels(c, labels)
    assert j["session_id"].tolist() == ["7", "7", "8", "8"] and j["genuine"].tolist() == [True, True, False, False]
    merged = c.merge(labels.assign(session_id=labels["session_id"].astype(str)).dropna(), on="session_id")
    assert j["confidence"].tolist() == merged["confidence"].tolist()
    r = A.error_rates(c, labels, thresholds=[64])
    assert (r["n_genuine"].iloc[0], r["n_impostor"].iloc[0]) == (2, 2)
    assert (r["false_rejects"].iloc[0], r["false_accepts"].iloc[0]) == (0, 1)     # 65 >= 64 accepted
    assert A.error_rates(c, labels, thresholds=[64], comparison="faceid")["n_impostor"].iloc[0] == 1
    # with a source column on both sides the key is (source, session_id)
    by_source = pd.DataFrame({"source": ["megvii_lite", "baidu_getall"], "session_id": ["7", "7"],
                              "genuine": [True, False]})
    j = A.join_labels(c, by_source)
    assert list(zip(j["source"], j["genuine"])) == [("megvii_lite", True), ("baidu_getall", False)]
    # a row that two labels claim is ambiguous; a duplicate the table never uses is not
    with pytest.raises(ValueError, match="several rows for the same session_id"):
        A.error_rates(c, pd.DataFrame({"session_id": ["8", "8"], "genuine": [True, False]}))
    ok = A.join_labels(c, pd.DataFrame({"session_id": ["9", "x", "x"], "genuine": [True, True, False]}))
    assert ok["session_id"].tolist() == ["9"]
    empty = A.error_rates(c, pd.DataFrame({"session_id": ["nobody"], "genuine": [True]}))
    assert len(empty) == 0 and list(empty.columns[:3]) == ["threshold", "far", "frr"]


def test_error_rates_missing_confidence_is_a_rejection():
    c = comparisons([("baidu_getall", "g1", "2026-03-02", "faceprint", np.nan, NAN4, 80.0),
                     ("baidu_getall", "g2", "2026-03-02", "faceprint", 90.0, NAN4, 80.0),
                     ("baidu_getall", "i1", "2026-03-02", "faceprint", np.nan, NAN4, 80.0),
                     ("baidu_getall", "i2", "2026-03-02", "faceprint", 85.0, NAN4, 80.0)])
    labels = pd.DataFrame({"session_id": ["g1", "g2", "i1", "i2", "other"],
                           "genuine": [True, True, False, False, True]})
    r = A.error_rates(c, labels, thresholds=[0, 85, 95])
    assert r["false_rejects"].tolist() == [1, 1, 2] and r["false_accepts"].tolist() == [1, 1, 0]
    assert r["far"].tolist() == [0.5, 0.5, 0.0] and r["n_genuine"].iloc[0] == 2


def test_equal_error_rate():
    c = comparisons([("megvii_lite", f"g{i}", "2026-03-02", "faceid", x, NEW) for i, x in enumerate([3, 4, 5, 6])] +
                    [("megvii_lite", f"i{i}", "2026-03-02", "faceid", x, NEW) for i, x in enumerate([1, 2, 3, 4])])
    labels = pd.DataFrame({"session_id": [f"g{i}" for i in range(4)] + [f"i{i}" for i in range(4)],
                           "genuine": [True] * 4 + [False] * 4})
    e = A.equal_error_rate(A.error_rates(c, labels)).iloc[0]
    assert e["eer"] == pytest.approx(0.25) and e["threshold"] == pytest.approx(4.0)


def test_error_rates_at_levels_say_zero_is_not_zero():
    rows = [("megvii_lite", f"g{i}", "2026-03-02", "faceid", 80.0 if i % 10 else 65.0, NEW) for i in range(500)]
    rows += [("megvii_lite", f"i{i}", "2026-03-02", "faceid", 40.0, NEW) for i in range(1000)]
    labels = pd.DataFrame({"session_id": [r[1] for r in rows], "genuine": [r[1][0] == "g" for r in rows]})
    r = A.error_rates_at_levels(comparisons(rows), labels).set_index("level")
    row = r.loc["1e-4"]
    assert (row["false_accepts"], row["n_impostor"]) == (0, 1000)
    assert row["far_high"] == pytest.approx(3.8415 / 1003.8415, rel=1e-3)
    assert "none observed" in row["far_text"] and "0.38%" in row["far_text"]
    assert (row["false_rejects"], row["n_genuine"]) == (50, 500)        # 65 < 69.315
    assert r.loc["1e-3", "false_rejects"] == 0                          # 65 >= 62.169


def test_presentation_attack_rates():
    g = _genuineness()
    labels = pd.DataFrame({"session_id": ["s1", "s2", "b1"], "genuine": [False, True, True],
                           "pai": ["mask", None, None]})
    r = A.presentation_attack_rates(g, labels, min_n=1)
    key = {(d, p, m): (n, e) for d, p, m, n, e in zip(r["detector"], r["pai"], r["metric"], r["n"], r["errors"])}
    # s1 (fraud): mask not flagged (0.5 = threshold), synthetic_face and screen_replay flagged.
    assert key[("mask", "all", "APCER")] == (1, 1)
    assert key[("synthetic_face", "all", "APCER")] == (1, 0)
    assert key[("any", "all", "APCER")] == (1, 0)
    assert key[("any", "mask", "APCER")] == (1, 0)
    # s2 (genuine): nothing flagged; b1 has no threshold: not a presentation here.
    assert key[("any", "all", "BPCER")] == (1, 0)
    assert r["detector"].iloc[-1] == "any"


def test_mask_ids():
    s = pd.Series(["1462259748,52b13fb5-8dfb-4537-a62b-a641d5e929f1", "abcdef", "abc", None], dtype="str")
    assert A.mask_ids(s).tolist()[:3] == ["1462…29f1", "ab…ef", "…"] and pd.isna(A.mask_ids(s).iloc[3])
    assert A.mask_id("1462259748,52b13fb5") == "1462…3fb5" and A.mask_id(None) is None


# ---------------------------------------------------------------- one counting rule: each attempt once

def _baidu_repeats():
    """Comparisons and anti-spoofing checks of Baidu tokens fetched by getall and detail:
    ``both`` (getall lists attempts 1 and 2; detail repeats attempt 2), ``only_detail``,
    ``only_getall``, ``no_spoof`` (getall without spoofing_score: detail's check is the
    attempt's only one), one Megvii session, and a detail row without a token."""
    rows = [  # source, session_id, attempt, confidence, threshold
        ("baidu_getall", "both", 1, 71.5, 80.0), ("baidu_getall", "both", 2, 88.25, 80.0),
        ("baidu_detail", "both", None, 88.25, np.nan),
        ("baidu_detail", "only_detail", None, 91.0, np.nan),
        ("baidu_getall", "only_getall", 1, 79.9, 80.0),
        ("baidu_getall", "no_spoof", 1, 85.0, 80.0), ("baidu_detail", "no_spoof", None, 85.0, np.nan),
        ("baidu_detail", None, None, 60.0, np.nan),
        ("megvii_lite", "m1", 1, 70.0, np.nan),
    ]
    c = pd.DataFrame({
        "source": pd.Series([r[0] for r in rows], dtype="str"),
        "session_id": pd.Series([r[1] for r in rows], dtype="str"),
        "session_time": pd.to_datetime(["2026-03-02"] * len(rows), utc=True).as_unit("us"),
        "comparison": pd.Series(["faceid" if r[0] == "megvii_lite" else "faceprint" for r in rows], dtype="str"),
        "attempt": pd.array([r[2] for r in rows], dtype="Int32"),
        "confidence": [r[3] for r in rows], "threshold": [r[4] for r in rows],
    })
    for col, v in zip(("thr_1e3", "thr_1e4", "thr_1e5", "thr_1e6"), NEW):
        c[col] = np.where(c["source"] == "megvii_lite", v, np.nan)
    g = c[c["session_id"].ne("no_spoof").fillna(True) | c["source"].eq("baidu_detail")].copy()
    g = g[["source", "session_id", "session_time", "attempt"]].reset_index(drop=True)
    g["attack"] = pd.Series(["synthetic_face"] * len(g), dtype="str")
    g["confidence"] = np.linspace(0.1, 0.9, len(g))
    g["threshold"] = np.where(g["source"] == "megvii_lite", 0.5, np.nan)
    return c, g


def test_once_per_attempt_drops_detail_repeats_only():
    c, g = _baidu_repeats()
    kept = A.once_per_attempt(c)
    gone = c.loc[~c.index.isin(kept.index), ["source", "session_id"]]
    assert gone.values.tolist() == [["baidu_detail", "both"], ["baidu_detail", "no_spoof"]]
    # getall without spoofing rows: detail's check stays (the attempt's only check)
    kept_g = A.once_per_attempt(g)
    assert kept_g.loc[kept_g["source"] == "baidu_detail", "session_id"].fillna("-").tolist() == [
        "only_detail", "no_spoof", "-"]
    assert len(kept_g) == len(g) - 1
    # nothing to drop: the same frame back; a frame without source/session_id as it is
    assert A.once_per_attempt(kept) is kept
    no_ids = c[["confidence"]]
    assert A.once_per_attempt(no_ids) is no_ids
    only_detail = c[c["source"] == "baidu_detail"]
    assert A.once_per_attempt(only_detail) is only_detail


def test_metrics_count_each_attempt_once():
    c, g = _baidu_repeats()
    once = A.once_per_attempt(c)
    r = A.configured_pass_rates(c, by="source")
    assert r[["source", "n", "passed"]].values.tolist() == [["baidu_getall", 4, 2]]
    h = A.confidence_histogram(c)
    assert h["count"].sum() == len(once) == len(c) - 2
    assert A.confidence_histogram(c).equals(A.confidence_histogram(once))
    lines = A.threshold_lines(c).set_index("kind")
    assert lines.loc["configured", "n"] == 4
    assert A.confidence_distribution(c)["count"].sum() == once["confidence"].notna().sum()
    f = A.would_flip_summary(c, 80.0, 90.0).iloc[0]
    assert (f["n"], f["to_reject"]) == (len(once), 2)            # 88.25 (once) and 85.0 (once)
    assert A.value_histogram(c)["count"].sum() == len(once)
    assert len(A.margins(c, 80.0)) == len(once)
    s = A.genuineness_rates(g, min_n=1).set_index("attack").loc["synthetic_face"]
    assert (s["n"], s["n_no_threshold"]) == (1, len(g) - 2)
    assert s["n_sessions"] == s["n_sessions_in_scope"] == 6      # both, only_detail, only_getall, no_spoof,
    #                                                              the token-less detail row, m1
    labels = pd.DataFrame({"source": ["baidu_getall", "baidu_detail", "baidu_getall", "baidu_detail"],
                           "session_id": ["both", "both", "only_getall", "only_detail"],
                           "genuine": [True, True, False, True]})
    e = A.error_rates(c, labels, thresholds=[80.0])
    assert (e["n_genuine"].iloc[0], e["n_impostor"].iloc[0]) == (3, 1)   # attempts 1, 2 and only_detail
    # the sessions table is not a table of attempts: a value histogram of it keeps every row
    sessions = _sessions()
    sessions["session_id"] = sessions["session_id"].where(sessions["source"] != "baidu_detail", "b2")
    sessions["score"] = np.arange(len(sessions), dtype=float)
    assert A.value_histogram(sessions, "score")["count"].sum() == len(sessions)


def test_load_output_counts_each_baidu_attempt_once(tmp_path):
    """The seed payloads through ingest and load: a token fetched by getall and detail is
    one attempt in every metric; a token fetched by detail alone still counts."""
    import faceanalytics as fa
    from faceanalytics.pipeline.ingest import ingest

    from _helpers import envelope, seed, write_jsonl

    f = write_jsonl(tmp_path / "in.jsonl", [envelope("baidu_getall", "tokA", seed("baidu_getall.json")),
                                            envelope("baidu_detail", "tokA", seed("baidu_detail.json")),
                                            envelope("baidu_detail", "tokB", seed("baidu_detail.json"))])
    ingest([f], tmp_path / "data")
    c, g = fa.load(tmp_path / "data", "comparisons"), fa.load(tmp_path / "data", "genuineness")
    assert len(c) == len(g) == 3                                  # the tables keep every row as received
    assert A.confidence_histogram(c)["count"].sum() == 2
    assert A.configured_pass_rates(c)[["n", "passed"]].values.tolist() == [[1, 1]]
    s = A.genuineness_rates(g).set_index("attack").loc["synthetic_face"]
    assert (s["n_no_threshold"], s["n_sessions"]) == (2, 2)
    labels = pd.DataFrame({"session_id": ["tokA", "tokB"], "genuine": [True, True]})
    assert A.error_rates(c, labels, thresholds=[90.0])["n_genuine"].iloc[0] == 2


@pytest.mark.parametrize("call, named", [
    (lambda: A.merge_histograms(pd.DataFrame({"confidence": [1.0]}), pd.DataFrame({"confidence": [2.0]})),
     "merge_histograms"),
    (lambda: A.pass_rates_from_histogram(pd.DataFrame({"confidence": [70.0]})), "pass_rates_from_histogram"),
    (lambda: A.equal_error_rate(pd.DataFrame({"threshold": [1.0]})), "equal_error_rate"),
    (lambda: A.sessions_without_result(pd.DataFrame({"source": ["megvii_lite"]})), "sessions_without_result"),
    (lambda: A.data_quality(pd.DataFrame({"source": ["megvii_lite"]})), "data_quality"),
])
def test_the_wrong_table_is_named_not_a_bare_key_error(call, named):
    """Handed a table without the columns it reads, each says what it needs (it raised a bare
    KeyError such as 'count' from inside pandas)."""
    with pytest.raises(KeyError, match=f"{named} .* needs column"):
        call()


def test_group_codes_name_each_group_past_the_int64_radix():
    """Eight keys of ~1,000 values each pass 2**62 combined: the codes are made dense again on
    the way, and each group's keys must still be its rows' (the decoding by digits gave
    other keys)."""
    from faceanalytics.analytics._core import group_codes

    rng = np.random.default_rng(1)
    vals = [f"v{j:03d}" for j in range(997)]
    f = pd.DataFrame({f"k{i}": pd.Series(rng.choice(vals, 3000), dtype="str") for i in range(8)})
    f.loc[::7, "k3"] = None
    codes, keys = group_codes(f, list(f.columns))
    assert keys.take(codes).reset_index(drop=True).equals(f.reset_index(drop=True))
    assert keys.equals(keys.sort_values(list(keys.columns), na_position="last").reset_index(drop=True))
