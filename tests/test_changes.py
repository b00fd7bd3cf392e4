"""detect_changes: calibrated on series with no change, finds planted steps and waves.

All series are generated with fixed seeds (no flakiness): the bounds below are the
targets with margin, and the measured figures sit well inside them.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import faceanalytics as fa
from faceanalytics.analytics import _changes as C
from faceanalytics.analytics import detect_changes

DAY = pd.Timedelta(days=1)


def matrices(df: pd.DataFrame):
    _, k, n, _, _ = C.count_matrices(df, keys=["series"])
    return k, n


def series_p_values(df: pd.DataFrame) -> np.ndarray:
    """Each series' p-value (corrected for the search over dates, before BH)."""
    r = C._scan_rows(*matrices(df), 30, C.MAX_WAVE)
    return r["p"][r["tested"].astype(bool)]


def planted(kind, diff, *, at=40, length=3, days=90, volume=2000, rate=0.9, changed=40, null=160, rho=0.0,
            seed=0):
    """``changed`` series with the change and ``null`` without (ids changed..), one frame."""
    a = C.simulate_counts(changed, days, volume, rate, rho=rho, change=(kind, at, length, diff), seed=seed)
    b = C.simulate_counts(null, days, volume, rate, rho=rho, seed=seed + 1)
    b["series"] += changed
    return pd.concat([a, b], ignore_index=True)


# ---------------------------------------------------------------- calibration on no change

@pytest.mark.parametrize("overdispersed, bound", [(False, 0.05), (True, 0.10)])
def test_no_change_families_rarely_alarm(overdispersed, bound):
    """40 reviews of 500 series (50-50,000 a day, 30-180 days, rates like pass rates, flagged
    shares and error codes): the share with any finding stays at most alpha (binomial) and
    near it (beta-binomial, thanks to the dispersion estimate)."""
    alarms = [len(detect_changes(C.review_family(seed, overdispersed=overdispersed), keys=["series"])) > 0
              for seed in range(100, 140)]
    assert np.mean(alarms) <= bound


def test_series_p_values_are_valid_on_no_change():
    """Per series, the search-corrected p-value is not below uniform (P(p <= x) <= x)."""
    p = np.concatenate([series_p_values(C.review_family(seed, series=1000)) for seed in range(3)])
    assert p.size >= 2900
    for x in (0.05, 0.01):
        assert np.mean(p <= x) <= x


def test_overdispersion_is_estimated_and_keeps_calibration():
    """Beta-binomial days at 20,000 a day: binomial p-values alarm on most series; the
    dispersion estimate recovers rho and brings the p-values back to valid."""
    k, n = matrices(C.simulate_counts(1000, 120, 20_000, 0.95, rho=1e-3, seed=5))
    scan = C._Scan(k, n, 30, C.MAX_WAVE)
    assert np.median(scan.rho) == pytest.approx(1e-3, rel=0.1)
    p = 2 * np.fmin(scan.step_p, scan.wave_p)             # the two scans, Bonferroni
    assert np.mean(p <= 0.05) <= 0.06
    naive = C._Scan(k, n, 30, C.MAX_WAVE, binomial=True)
    assert np.mean(2 * np.fmin(naive.step_p, naive.wave_p) <= 0.05) > 0.5


# ---------------------------------------------------------------- planted changes

@pytest.mark.parametrize("diff", [-0.03, -0.05, 0.05])
def test_planted_steps_found_with_dates_and_effect(diff):
    df = planted("step", diff, seed=3)
    r = detect_changes(df, keys=["series"])
    changed = r[r["series"] < 40]
    assert set(changed["series"]) == set(range(40))               # every planted step found
    first = changed.sort_values("q_value").drop_duplicates("series")
    assert (first["kind"] == "step").all()
    off = (first["start"] - pd.Timestamp("2026-01-05", tz="UTC")) / DAY - 40
    assert (off.abs() <= 1).mean() >= 0.95
    assert first["diff"].median() == pytest.approx(diff, abs=0.005)
    assert ((first["ci_low"] <= diff) & (diff <= first["ci_high"])).mean() >= 0.85
    assert (first["end"] == pd.Timestamp("2026-01-05", tz="UTC") + 90 * DAY).all()
    assert len(r[r["series"] >= 40]) <= 2                          # few false findings among 160


@pytest.mark.parametrize("diff, length", [(-0.10, 3), (-0.06, 5), (0.08, 2)])
def test_planted_waves_found_with_dates_and_effect(diff, length):
    df = planted("wave", diff, length=length, seed=4)
    r = detect_changes(df, keys=["series"])
    first = r[r["series"] < 40].sort_values("q_value").drop_duplicates("series")
    assert len(first) == 40
    assert (first["kind"] == "wave").mean() >= 0.95
    t0 = pd.Timestamp("2026-01-05", tz="UTC")
    assert (((first["start"] - t0) / DAY - 40).abs() <= 1).mean() >= 0.95
    assert (((first["end"] - t0) / DAY - (40 + length)).abs() <= 1).mean() >= 0.95
    assert first["diff"].median() == pytest.approx(diff, abs=0.01)
    assert first["rate_before"].median() == pytest.approx(0.9, abs=0.005)
    assert len(r[r["series"] >= 40]) <= 2


def test_step_and_wave_in_one_series_both_found():
    """Binary segmentation goes on either side of the first change."""
    a = C.simulate_counts(20, 120, 3000, 0.9, change=("step", 80, 0, -0.06), seed=8)
    b = C.simulate_counts(20, 120, 3000, 0.9, change=("wave", 30, 4, -0.08), seed=8)
    a["k"] = a["k"] + b["k"] - C.simulate_counts(20, 120, 3000, 0.9, seed=8)["k"]   # both changes, same days
    r = detect_changes(a, keys=["series"])
    t0 = pd.Timestamp("2026-01-05", tz="UTC")
    for kind, at in (("step", 80), ("wave", 30)):
        hit = r[(r["kind"] == kind) & ((((r["start"] - t0) / DAY) - at).abs() <= 1)]
        assert hit["series"].nunique() >= 18, kind
    wave = r[r["kind"] == "wave"]
    # the wave is measured against its own surroundings (before the step), not the whole series
    assert wave["rate_before"].median() == pytest.approx(0.9, abs=0.01)


def test_overdispersed_large_step_still_found():
    df = planted("step", -0.05, volume=30_000, rho=1e-3, seed=6)
    r = detect_changes(df, keys=["series"])
    assert r[r["series"] < 40]["series"].nunique() >= 38
    assert (r["dispersion"] > 5).all()                       # ~1 + 30,000 x 1e-3
    assert len(r[r["series"] >= 40]) <= 0.1 * len(r)        # false discoveries near the 5% rate


def test_small_days_pool_into_a_wave():
    """20 sessions a day is below min_n for a daily rate, yet 3 days at another rate show."""
    rng = np.random.default_rng(2)
    days = pd.date_range("2026-03-01", periods=60, freq="D", tz="UTC").as_unit("us")
    n = np.full(60, 20)
    p = np.full(60, 0.95)
    p[30:33] = 0.30
    df = pd.DataFrame({"series": 0, "day": days, "k": rng.binomial(n, p), "n": n})
    r = detect_changes(df, keys=["series"])
    assert len(r) == 1 and r["kind"].iloc[0] == "wave"
    assert r["start"].iloc[0] == days[30] and r["end"].iloc[0] == days[33]
    assert r["n_after"].iloc[0] == 60


def test_short_busy_window_step_is_not_taken_for_dispersion():
    """12 days of 700 trials: a 20-point step moves one successive difference of the daily
    rates, which outweighs the other ten.  The plain mean of the differences read the step
    as over-dispersion (factor 6.5, no series with p <= 0.05/400); the trimmed estimate
    leaves it out (factor about 1.25; about half the series pass, the rest held back by the
    few degrees of freedom 12 days give)."""
    k, n = matrices(C.simulate_counts(40, 12, 700, 0.85, change=("step", 6, 0, -0.20), seed=31))
    r = C._scan_rows(k, n, 30, C.MAX_WAVE)
    assert np.median(1 + 699 * r["rho"]) < 1.6
    assert np.mean(r["p"] <= 0.05 / 400) >= 0.35
    assert np.mean(~r["wave"].astype(bool) & (r["start"] == 6)) >= 0.9
    # a 4-day wave has two edges: both left out (factor 9.9 with the plain mean)
    k, n = matrices(C.simulate_counts(40, 12, 700, 0.05, change=("wave", 5, 4, 0.10), seed=31))
    assert np.median(1 + 699 * C._Scan(k, n, 30, C.MAX_WAVE).rho) < 3
    # among 160 unchanged series, in one review: the steps are found, on their day
    df = planted("step", -0.20, at=6, days=12, volume=700, rate=0.85, seed=32)
    found = detect_changes(df, keys=["series"])
    t0 = pd.Timestamp("2026-01-05", tz="UTC")
    hit = found[(found["series"] < 40) & (found["start"] == t0 + 6 * DAY)]
    assert hit["series"].nunique() >= 36 and (found["series"] >= 40).sum() <= 2


def test_short_overdispersed_windows_rarely_alarm():
    """12-day no-change reviews with beta-binomial days: an estimate of rho = 0 from eleven
    differences is often a noisy undershoot, so it is read with Student's t, not as
    binomial (read as binomial: 36 of 60 such reviews alarmed; the plain estimate: 5 of 30)."""
    alarms = [len(detect_changes(C.review_family(seed, overdispersed=True, days=12), keys=["series"])) > 0
              for seed in range(300, 330)]
    assert np.mean(alarms) <= 0.10


def test_short_window_step_found_by_borrowing_dispersion():
    """12 days, an error share 3.4% -> 6.5% from the middle day at 2,300 a day (the step the
    document benchmark planted), in 10 series among 490 no-change ones shaped like a review's:
    eleven differences alone leave about 5.6 degrees of freedom and z near 4, found in none;
    the dispersion moderated toward the prior fitted to all 500 (binomial here) finds them,
    on their day, and nothing else."""
    t0 = pd.Timestamp("2026-01-05", tz="UTC")
    for seed in (40, 41):
        base = C.review_family(seed, series=490, days=12)
        step = C.simulate_counts(10, 12, 2300, 0.034, change=("step", 6, 0, 0.031), seed=seed)
        step["series"] += 490
        r = detect_changes(pd.concat([base, step], ignore_index=True), keys=["series"])
        hit = r[(r["series"] >= 490) & (r["kind"] == "step") & (r["start"] == t0 + 6 * DAY)]
        assert hit["series"].nunique() >= 7, seed
        assert (r["series"] < 490).sum() == 0, seed
        assert hit["diff"].median() == pytest.approx(0.031, abs=0.01)
    # a 5-point drop of a pass rate at 700 a day, 40 of 200 series (before: none found)
    df = planted("step", -0.05, at=6, days=12, volume=700, rate=0.85, seed=33)
    r = detect_changes(df, keys=["series"])
    assert r[r["series"] < 40]["series"].nunique() >= 32 and (r["series"] >= 40).sum() <= 2


def test_prior_of_short_dispersion_fitted_across_series():
    """Binomial days: the prior is binomial with infinite degrees of freedom (every short
    series read with the normal, its dispersion its own or binomial, whichever is larger);
    one common rho: recovered, the series below it pulled up toward it."""
    k, n = matrices(C.simulate_counts(400, 12, (500, 20_000), (0.85, 0.99), seed=50))
    d = C._dispersion(k, n, 30)
    rho0, d0 = C._fit_prior(d)
    assert d.short.mean() > 0.9
    assert np.mean(np.isinf(d0[d.short])) > 0.8 and rho0.max() < 2e-5
    rho, df = C._moderate(d, rho0, d0)
    on = np.isinf(d0)
    assert np.allclose(rho[on], d.rho[on]) and np.isinf(df[on]).all() and np.isfinite(d.df[on]).all()
    k, n = matrices(C.simulate_counts(400, 12, (500, 20_000), (0.85, 0.99), rho=5e-4, seed=51))
    d = C._dispersion(k, n, 30)
    rho0, d0 = C._fit_prior(d)
    assert rho0[d.short][0] == pytest.approx(5e-4, rel=0.3)
    rho, df = C._moderate(d, rho0, d0)
    on = d.short & (d0 > 0)
    assert np.median(np.abs(np.log(rho[on] / 5e-4))) < np.median(np.abs(np.log(np.maximum(d.rho[on], 1e-9) / 5e-4)))
    assert (df[on] > d.df[on]).all() and (rho[on] >= d.rho[on] * (1 - 1e-9)).all()
    # too few short series: no prior, the series' own estimates
    d = C._dispersion(k[:10], n[:10], 30)
    assert (C._fit_prior(d)[1] == 0).all()


@pytest.mark.parametrize("odd, rho, volume", [(5, 3e-3, 30_000), (20, 1e-3, 2000)])
def test_short_overdispersed_minority_stays_quiet(odd, rho, volume):
    """No change, 12 days: a few over-dispersed series among binomial ones, which the prior
    fitted to all of them does not describe.  5 with a factor about 90 (rho 3e-3 at 30,000 a
    day): shrunk to the binomial prior they alarmed in 8 of 40 reviews; 20 with a factor
    about 3 (rho 1e-3 at 2,000 a day: hidden in the noise of eleven differences), 11 of 40.
    The prior only raises a series' dispersion, and those that stand out keep their own
    degrees of freedom: quiet."""
    alarms = 0
    for seed in range(20):
        a = C.simulate_counts(500 - odd, 12, (50, 50_000), (0.85, 0.99), seed=seed)
        b = C.simulate_counts(odd, 12, volume, (0.85, 0.99), rho=rho, seed=seed + 7919)
        b["series"] += 500 - odd
        alarms += len(detect_changes(pd.concat([a, b], ignore_index=True), keys=["series"])) > 0
    assert alarms <= 2


def test_family_fits_one_prior_per_family():
    """``family=``: the prior is fitted per family; a family of binomial series is read as
    binomial even beside an over-dispersed one."""
    a = C.simulate_counts(200, 12, 2000, 0.9, seed=60)
    b = C.simulate_counts(200, 12, 2000, 0.9, rho=2e-3, seed=61)
    b["series"] += 200
    df = pd.concat([a.assign(fam="pass"), b.assign(fam="error")], ignore_index=True)
    k, n = matrices(df)
    codes = np.r_[np.zeros(200, np.int64), np.ones(200, np.int64)]
    rho0, d0 = C._fit_prior(C._dispersion(k, n, 30), codes)
    assert rho0[:200].max() < 2e-5 and rho0[200:].max() == pytest.approx(2e-3, rel=0.35)
    pooled, _ = C._fit_prior(C._dispersion(k, n, 30))
    assert 2e-4 < pooled[0] < 2e-3
    r = detect_changes(df, keys=["series"], family="fam")
    assert len(r) == 0 and r.attrs["tested"] == 400
    with pytest.raises(KeyError):
        detect_changes(df, keys=["series"], family="nope")


def test_digamma_and_trigamma():
    x = np.array([0.5, 1.0, 2.0, 7.5])
    assert C._digamma(x) == pytest.approx([-1.9635100260214235, -0.5772156649015329, 0.42278433509846713,
                                            1.9467574842460866], abs=1e-8)
    assert C._trigamma(x) == pytest.approx([4.934802200544679, 1.6449340668482264, 0.6449340668482264,
                                             0.1426158966967038], abs=1e-8)
    assert C._trigamma_inverse(float(C._trigamma(3.3))) == pytest.approx(3.3, rel=1e-9)


# ---------------------------------------------------------------- options and shape

def test_min_effect_and_min_ratio():
    big = C.simulate_counts(10, 90, 50_000, 0.9, change=("step", 45, 0, -0.003), seed=9)
    assert len(detect_changes(big, keys=["series"])) >= 8          # significant on 50,000 a day
    assert len(detect_changes(big, keys=["series"], min_effect=0.01)) == 0
    rare = C.simulate_counts(10, 90, 5000, 0.005, change=("step", 45, 0, 0.01), seed=9)
    assert len(detect_changes(rare, keys=["series"], min_effect=0.02)) == 0
    r = detect_changes(rare, keys=["series"], min_effect=0.02, min_ratio=2)
    assert r["series"].nunique() == 10
    assert (r["rate_after"] / r["rate_before"]).min() >= 2


def test_output_columns_types_order_and_attrs():
    df = planted("step", -0.05, changed=10, null=10, seed=10)
    df["source"] = np.where(df["series"] % 2 == 0, "megvii_lite", "baidu_detail")
    df = df.rename(columns={"day": "period", "k": "passed"})
    r = detect_changes(df, keys=["source", "series"], time="period", k="passed", n="n")
    assert list(r.columns) == ["source", "series", *C.OUTPUT_COLUMNS]
    assert str(r["start"].dtype) == "datetime64[us, UTC]" and str(r["end"].dtype) == "datetime64[us, UTC]"
    assert r["score"].is_monotonic_decreasing
    assert np.allclose(r["diff"], r["rate_after"] - r["rate_before"])
    assert np.allclose(r["rate_after"], r["k_after"] / r["n_after"])
    assert (r["q_value"] <= 0.05).all() and (r["p_value"] <= r["q_value"] + 1e-12).all()
    assert r.attrs["tested"] == 20 and r.attrs["step"] == DAY
    assert "Benjamini-Hochberg" in r.attrs["method"] and "20 series" in r.attrs["method"]
    assert set(r.attrs["false_alarm_rate"]) == {"binomial", "overdispersed"}
    text = C.false_alarm_text()
    assert all(f"{v:.1%}" in text for v in C.FALSE_ALARM_RATE.values()) and "uses" not in text
    assert "this review uses 10%" in C.false_alarm_text(0.1)
    assert fa.detect_changes is detect_changes


def test_weekly_series_and_missing_buckets():
    df = C.simulate_counts(20, 30, 2000, 0.9, change=("step", 15, 0, -0.05), weekly=True, seed=12)
    # drop a whole week for every series: a missing bucket is n = 0
    wk = pd.Timestamp("2026-01-05", tz="UTC") + 15 * 7 * DAY
    df = df[df["day"] != wk]
    r = detect_changes(df, keys=["series"])
    assert r.attrs["step"] == pd.Timedelta(days=7)
    assert r["series"].nunique() == 20
    # the new rate's first bucket is the first with data after the missing week
    assert (r["start"] == wk + 7 * DAY).mean() >= 0.9
    assert (r["start"].dt.day_of_week == 0).all()


def test_empty_untestable_and_bad_input():
    empty = C.simulate_counts(3, 10, 100, 0.9).iloc[:0]
    r = detect_changes(empty, keys=["series"])
    assert len(r) == 0 and r.attrs["tested"] == 0 and list(r.columns) == ["series", *C.OUTPUT_COLUMNS]
    tiny = pd.DataFrame({"series": [1, 1], "day": pd.to_datetime(["2026-01-01", "2026-01-02"], utc=True),
                         "k": [1, 2], "n": [5, 5]})
    assert detect_changes(tiny, keys=["series"]).attrs["tested"] == 0       # under min_n either side
    bad = tiny.assign(k=[6, 2])
    with pytest.raises(ValueError, match="k > n"):
        detect_changes(bad, keys=["series"])
    with pytest.raises(KeyError, match="n"):
        detect_changes(tiny.drop(columns="n"), keys=["series"])
    with pytest.raises(ValueError, match="alpha"):
        detect_changes(tiny, keys=["series"], alpha=1.5)


def test_weighted_fdr_gives_the_primary_series_their_share():
    # weighted BH: p / w with the weights rescaled to average 1 (Genovese, Roeder & Wasserman 2006)
    p = np.r_[0.001, np.full(99, 0.5)]
    assert C._bh(p)[0] == pytest.approx(0.1)                  # plain: 0.001 x 100
    w = np.r_[10.0, np.ones(99)]
    assert C._bh(p, w)[0] == pytest.approx(0.001 * 100 / (10 * 100 / 109)) and C._bh(p, w)[0] < 0.05
    assert np.allclose(C._bh(p, np.full(100, 3.0)), C._bh(p))    # equal weights: plain BH
    assert C._bh(p, np.r_[0.0, np.ones(99)])[0] == 1.0          # weight 0: never rejected
    # end to end: one weak step among 200 quiet series; found only when its series weighs more
    df = planted("step", -0.02, changed=1, null=199, volume=300, seed=21)
    plain = detect_changes(df, keys=["series"])
    heavy = detect_changes(df.assign(w=np.where(df["series"] == 0, 40.0, 1.0)), keys=["series"], weight="w")
    assert 0 not in set(plain["series"]) and 0 in set(heavy["series"])
    same = detect_changes(df.assign(w=2.0), keys=["series"], weight="w")
    want = plain[["series", "start", "q_value"]].reset_index(drop=True)
    pd.testing.assert_frame_equal(same[["series", "start", "q_value"]].reset_index(drop=True), want)
    with pytest.raises(ValueError, match="negative"):
        detect_changes(df.assign(w=-1.0), keys=["series"], weight="w")


def test_a_wave_too_large_for_floating_point_p_values_is_still_a_wave():
    """0.1% -> 40% for four days of 2,900, then back: both scans' p-values underflow to 0,
    and the step had won the tie; its fall back then came out as a second change.  The
    scans are compared by the logarithms of their p-values."""
    rng = np.random.default_rng(1)
    n = rng.poisson(2900, (1, 13)).astype(float)
    p = np.full((1, 13), 0.001)
    p[0, 6:10] = 0.4
    k = rng.binomial(n.astype(int), p).astype(float)
    s = C._Scan(k, n, 30, C.MAX_WAVE, binomial=True)
    assert s.step_p[0] == 0 and s.wave_p[0] == 0                  # the case: a tie at 0
    assert s.wave_logp[0] < s.step_logp[0] < -1000
    # as a review reads it: a binomial prior (d0 = inf) lends the short series its dispersion
    r = C._scan_rows(k, n, 30, C.MAX_WAVE, prior=(np.zeros(1), np.full(1, np.inf)))
    assert r["p"][0] == 0 and r["z"][0] > 100
    assert r["wave"][0] and (r["start"][0], r["end"][0]) == (6, 10)
    # where p does not underflow, its logarithm is the p-value's own (the choice as before)
    q = C.simulate_counts(50, 40, 500, 0.9, change=("wave", 20, 3, -0.03), seed=2)
    s = C._Scan(*matrices(q), 30, C.MAX_WAVE)
    for p_, lp in ((s.step_p, s.step_logp), (s.wave_p, s.wave_logp)):
        assert (p_ > 1e-250).all() and np.allclose(lp, np.log(p_), rtol=0, atol=1e-12)


def test_a_wave_three_days_before_the_end_is_one_wave_with_both_dates():
    """Twelve days, 1% -> 11% for four days (of 10,000) ending three days before the end, in 100
    series beside 400 quiet ones: every one is found.  One of them (its day after the wave
    missing, so two days of data after it) has its own dispersion on 4.9 degrees of freedom:
    read through Student's t, the step's likelihood ratio 590 and the wave's 1,084 became z
    4.62 and 4.90, the wave's larger search space cost more than that, and it came out as a
    step with no fall back ("rose from day 5 on").  The shape is chosen on the statistics given
    the dispersion: every series is one wave, from day 5 to day 9 (end exclusive; its first and
    last day with data)."""
    changed = C.simulate_counts(100, 12, 10_000, 0.01, change=("wave", 5, 4, 0.10), seed=21)
    quiet = C.simulate_counts(400, 12, 10_000, 0.01, seed=22)
    quiet["series"] += 100
    r = detect_changes(pd.concat([changed, quiet], ignore_index=True), keys=["series"])
    mine = r[r["series"] < 100]
    assert sorted(mine["series"]) == list(range(100))                   # found, once each
    t0 = pd.Timestamp("2026-01-05", tz="UTC")
    assert (mine["kind"] == "wave").all(), mine[mine["kind"] != "wave"][["series", "kind", "start", "end"]]
    # the dates are those of the wave's first and last day with data (2% of days are missing)
    day = (changed["day"] - t0) / DAY
    inside = changed[(day >= 5) & (day < 9)].assign(day=day).groupby("series")["day"]
    mine = mine.set_index("series").sort_index()
    assert ((mine["start"] - t0) / DAY).tolist() == inside.min().tolist()
    assert ((mine["end"] - t0) / DAY).tolist() == (inside.max() + 1).tolist()
    assert mine["rate_after"].between(0.10, 0.12).all() and mine["rate_before"].between(0.008, 0.012).all()


@pytest.mark.parametrize("after", [1, 2, 3])
def test_a_step_near_the_end_stays_a_step(after):
    """The other side of choosing the shape on the statistics given the dispersion: a step
    one to three days before the end (90% -> 80% of 10,000 a day, beta-binomial days) is not
    read as a wave whose fall back is the last day's noise."""
    changed = C.simulate_counts(100, 12, 10_000, 0.9, rho=3e-4, change=("step", 12 - after, 0, -0.10), seed=after)
    quiet = C.simulate_counts(400, 12, 10_000, 0.9, rho=3e-4, seed=100 + after)
    quiet["series"] += 100
    r = detect_changes(pd.concat([changed, quiet], ignore_index=True), keys=["series"])
    first = r[r["series"] < 100].sort_values("q_value").drop_duplicates("series")
    assert len(first) >= 90 and (first["kind"] == "step").all()


def clustered(series, days, sessions, rate, seed, wave=None):
    """Count series whose trials come in sessions of 1-3 attempts that all fail or all pass
    together (a person's retries: Baidu's stat counts every attempt), about 16 a day: every
    day under min_n.  ``wave``: (first day, end day, rate) of every series."""
    rng = np.random.default_rng(seed)
    s = rng.poisson(sessions, (series, days))
    k, n = np.zeros((series, days)), np.zeros((series, days))
    p = np.full((series, days), rate)
    if wave:
        p[:, wave[0]:wave[1]] = wave[2]
    for size, share in ((1, 0.5), (2, 0.3), (3, 0.2)):
        c = rng.binomial(s, share)
        k += size * rng.binomial(c, p)
        n += size * c
    si, di = np.nonzero(n > 0)
    return pd.DataFrame({"series": si, "day": pd.Timestamp("2026-01-05", tz="UTC") + di * DAY,
                         "k": k[si, di], "n": n[si, di]})


def test_clustered_trials_on_small_days_are_not_read_as_binomial():
    """Every day under min_n left no pair to estimate the dispersion from, and the series was
    read as binomial (with a few days over it, from those few): clustered attempts (design
    effect about 1.6) alarmed in 40 of 40 no-change families of 200 series.  Read from every
    day with data, as a long series, none of 40 alarm; a step is still found in every series
    and a three-day wave 25% -> 90% in 38 of 40 (20 before); binomial small days stay
    calibrated (1 of 20 families)."""
    alarms = sum(len(detect_changes(clustered(200, 90, 9, 0.25, seed), keys=["series"])) > 0 for seed in range(40))
    assert alarms <= 3
    r = detect_changes(clustered(40, 90, 9, 0.25, 99, wave=(40, 90, 0.5)), keys=["series"])
    assert r["series"].nunique() == 40 and (r["kind"] == "step").all()
    r = detect_changes(clustered(40, 90, 9, 0.25, 99, wave=(40, 43, 0.9)), keys=["series"])
    assert r["series"].nunique() >= 30 and (r["kind"] == "wave").all()
    binomial = sum(len(detect_changes(C.simulate_counts(200, 90, 15, (0.05, 0.5), seed=s), keys=["series"])) > 0
                   for s in range(20))
    assert binomial <= 2
    _, k, n = C.count_matrices(clustered(50, 90, 9, 0.25, 7), keys=["series"])[:3]
    d = C._dispersion(k, n, C.MIN_N)
    assert (n[n > 0] < C.MIN_N).mean() > 0.9 and np.median(d.rho) * 15 > 0.3     # dispersion factor over 1.3


def test_a_clear_wave_in_a_short_series_is_not_taken_for_dispersion():
    """Twelve days of 1,000 a day, 90% -> 80% for three days ending two days before the end, in
    100 series beside 400 quiet ones.  The trimmed estimate drops the two largest differences
    and is calibrated as if they were noise; when they are the wave's edges, what is left is an
    untrimmed sample, and the series looked about 1.7 times as noisy as it was (binomial here):
    standing out of the prior, it kept its own few degrees of freedom, and 250 of 300 clear
    waves were found (now 271).  Two edges that stand out, one up and one down around a
    stretch shorter than the rest, are taken for a wave's: the dispersion from the others."""
    t0 = pd.Timestamp("2026-01-05", tz="UTC")
    found = 0
    for seed in (60, 61, 62):
        changed = C.simulate_counts(100, 12, 1000, 0.9, change=("wave", 7, 3, -0.10), seed=seed)
        quiet = C.simulate_counts(400, 12, 1000, 0.9, seed=seed + 500)
        quiet["series"] += 100
        r = detect_changes(pd.concat([changed, quiet], ignore_index=True), keys=["series"])
        mine = r[(r["series"] < 100) & (r["kind"] == "wave")]
        found += mine["series"].nunique()
        assert ((mine["start"] - t0) / DAY).between(6, 8).mean() > 0.95
        assert (r["series"] >= 100).sum() <= 2, seed
        d = C._dispersion(*matrices(changed), C.MIN_N)
        assert np.median(d.s2) < 1.2, seed
    assert found >= 265


def _no_edges(monkeypatch):
    """The dispersion as it was before wave edges were recognised: none is."""
    monkeypatch.setattr(C, "_wave_edges", lambda *a: (np.zeros(len(a[1]), bool), np.zeros(len(a[1]))))


def test_heavy_tailed_days_are_not_taken_for_wave_edges(monkeypatch):
    """No change: a low rate's beta-binomial days spike (heavy tails).  Two spikes, one on each
    end of the period, are one up and one down but around most of the period, not a few days:
    not a wave's edges, the trimmed estimate stands (taken for edges, the series' dispersion
    fell threefold and it alarmed).  12-day over-dispersed reviews stay quiet."""
    rate = np.array([0.0164, 0.0051, 0.0013, 0.0004, 0.0004, 0.0011, 0.0007, 0.0015, 0.0004, 0.0007, 0.0008, 0.0082])
    n = np.full((1, 12), 4600.0)
    k = np.rint(rate * n)
    wave_n = np.full((1, 12), 1000.0)
    wave_k = np.rint(np.array([0.90, 0.91, 0.89, 0.90, 0.90, 0.91, 0.89, 0.90, 0.78, 0.80, 0.81, 0.90]) * wave_n)
    now = C._dispersion(k, n, C.MIN_N).rho[0], C._dispersion(wave_k, wave_n, C.MIN_N).rho[0]
    alarms = sum(len(detect_changes(C.review_family(seed, overdispersed=True, days=12), keys=["series"])) > 0
                 for seed in range(400, 440))
    _no_edges(monkeypatch)
    before = C._dispersion(k, n, C.MIN_N).rho[0], C._dispersion(wave_k, wave_n, C.MIN_N).rho[0]
    assert now[0] == pytest.approx(before[0]) and now[0] > 0
    assert now[1] < 0.5 * before[1]               # the wave's edges: recognised
    assert alarms <= 2


def test_an_overdispersed_wave_near_the_end_is_not_taken_for_dispersion():
    """Twelve beta-binomial days (rho 3e-4) of 1,000 a day, 90% -> 85% for three days ending one
    day before the end, in 100 series beside 400 quiet ones.  The wave's edges rarely stand out
    of such days, so the trimmed estimate (its two largest pairs dropped, calibrated as if they
    were noise) read the changed series as 2.6 times as over-dispersed as the quiet ones and
    181 of 300 waves were found.  From the pairs that do not cross the best wave's boundaries,
    calibrated under no change, 1.6 times, and 203 found; the quiet series stay quiet."""
    t0 = pd.Timestamp("2026-01-05", tz="UTC")
    found, ratios = 0, []
    for seed in (70, 71, 72):
        changed = C.simulate_counts(100, 12, 1000, 0.9, rho=3e-4, change=("wave", 8, 3, -0.05), seed=seed)
        quiet = C.simulate_counts(400, 12, 1000, 0.9, rho=3e-4, seed=seed + 500)
        quiet["series"] += 100
        df = pd.concat([changed, quiet], ignore_index=True)
        r = detect_changes(df, keys=["series"])
        mine = r[(r["series"] < 100) & (r["kind"] == "wave")]
        right = ((mine["start"] - t0) / DAY).between(7, 9) & ((mine["end"] - t0) / DAY).between(10, 12)
        found += mine[right]["series"].nunique()
        assert (r["series"] >= 100).sum() <= 2, seed
        rho = C._scan_rows(*matrices(df), C.MIN_N, C.MAX_WAVE)["rho"]
        ratios.append(np.median(rho[:100]) / np.median(rho[100:]))
    assert found >= 195
    assert max(ratios) < 2.0


def test_wave_residual_dispersion_is_calibrated_on_no_change():
    """The second pass reads no-change short series as the first does: over 2,000 binomial
    series of 12 days (1,000 a day) whose best change is a wave, the residual estimate's ratio
    to binomial averages 1 (its target is the rest's mean under no change, not 1), and the
    series' p-values stay valid."""
    df = C.simulate_counts(2000, 12, 1000, 0.9, seed=80)
    k, n = matrices(df)
    d = C._dispersion(k, n, C.MIN_N)
    first = C._scan_blocks(k, n, C.MIN_N, C.MAX_WAVE, np.zeros(len(k)), np.full(len(k), np.inf))
    rows = np.flatnonzero(first["wave"].astype(bool) & (d.pairs >= C._EDGE_PAIRS) & ~d.edges)
    assert rows.size > 800
    with np.errstate(divide="ignore", invalid="ignore"):
        d2, _ = C._wave_residual(k[rows], n[rows], float(C.MIN_N), first["start"][rows], first["end"][rows],
                                 C._Dispersion(*(f[rows] for f in d)), np.zeros(rows.size), np.zeros(rows.size), None)
    assert abs(d2.ratio.mean() - 1.0) < 0.05
    assert np.median(d2.df) > 5
    p = C._scan_rows(k, n, C.MIN_N, C.MAX_WAVE)["p"]
    assert (p <= 0.05).mean() <= 0.05
