"""detect_changes dates a step without bias and gives the date an interval that covers it.

The audit's segment drop (5 points at ~300 comparisons a day, planted 2026-08-15) was dated
08-12: that quarter's own counts put the likelihood ratio's maximum there (08-12 and 08-14
happened to be low days).  These tests hold the estimator unbiased over many draws and the
95% date interval (``start_low`` .. ``start_high``) at its coverage, as
``benchmarks/bench_changes.py --only 6`` measures them.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from faceanalytics.analytics import _changes as C
from faceanalytics.analytics import detect_changes

T0 = pd.Timestamp("2026-01-05", tz="UTC")
AT = 45


def _steps(size, volume, *, rho=0.0, seed=0, series=100):
    df = C.simulate_counts(series, 90, volume, 0.87, rho=rho, change=("step", AT, 0, -size), seed=seed)
    r = detect_changes(df, keys=["series"])
    return r.sort_values("q_value", kind="stable").drop_duplicates("series").query("kind == 'step'")


def _days(t: pd.Series) -> np.ndarray:
    return ((t - T0) / pd.Timedelta(days=1)).to_numpy()


@pytest.mark.parametrize("size, volume, rho", [(0.05, 300, 0.0), (0.03, 300, 0.0), (0.03, 1000, 3e-4)])
def test_step_dates_are_unbiased_and_their_interval_covers_the_planted_day(size, volume, rho):
    r = _steps(size, volume, rho=rho, seed=int(size * 1000) + volume)
    assert len(r) >= 90
    err = _days(r["start"]) - AT
    assert np.median(err) == 0 and abs(err.mean()) < 0.6, (np.median(err), err.mean())
    lo, hi = _days(r["start_low"]), _days(r["start_high"])
    assert (lo <= _days(r["start"])).all() and (_days(r["start"]) <= hi).all()
    cover = np.mean((lo <= AT) & (AT <= hi))
    assert cover >= 0.9, cover                      # 95% nominal; 96-100% measured
    assert np.median(hi - lo) <= 12                 # an interval an analyst can use: days, not weeks


def test_a_clear_change_has_a_narrow_interval_and_a_step_no_end_interval():
    step = _steps(0.10, 10_000, seed=3, series=20)
    assert (step["start_low"] == step["start"]).mean() >= 0.9
    assert (step["start_high"] - step["start_low"]).max() <= pd.Timedelta(days=1)
    assert step[["end_low", "end_high"]].isna().all().all()
    wave = C.simulate_counts(20, 90, 5000, 0.9, change=("wave", 40, 3, -0.10), seed=4)
    r = detect_changes(wave, keys=["series"])
    w = r[r["kind"] == "wave"]
    assert len(w)
    for edge in ("start", "end"):
        assert (w[f"{edge}_low"] == w[edge]).mean() >= 0.9, edge
        assert (w[f"{edge}_high"] - w[f"{edge}_low"]).max() <= pd.Timedelta(days=1), edge


def test_the_interval_is_the_likelihood_ratio_set_of_the_one_series():
    """The audit's store series, by hand: 2 log LR within the 95% bound of the best split."""
    rng = np.random.default_rng(7)
    n = rng.poisson(260, 90).astype(float)
    k = rng.binomial(n.astype(int), np.where(np.arange(90) >= AT, 0.825, 0.874)).astype(float)
    df = pd.DataFrame({"series": 0, "day": T0 + pd.to_timedelta(np.arange(90), unit="D"), "k": k, "n": n})
    r = detect_changes(df, keys=["series"])
    assert len(r) == 1 and r["kind"].iloc[0] == "step" and r["dispersion"].iloc[0] == 1.0
    kt, nt = k.sum(), n.sum()
    lr = np.array([C._lr(k[i:].sum(), n[i:].sum(), kt, nt, C._loglik(kt, nt)) for i in range(1, 90)])
    near = np.flatnonzero(lr >= lr.max() - C._DATE_BOUND) + 1
    assert _days(r["start"])[0] == np.argmax(lr) + 1
    assert (_days(r["start_low"])[0], _days(r["start_high"])[0]) == (near[0], near[-1])


def test_a_findings_text_gives_the_steps_date_interval():
    """The review's finding says the interval: "from <start> on (95% interval of the start: <low> to <high>)"."""
    from faceanalytics.report._findings import _META, _detect, findings_of, parse_levels

    since = 20_500
    rng = np.random.default_rng(11)
    rows = []
    for day in range(since, since + 90):
        n = int(rng.poisson(260))
        rows.append((day, int(rng.binomial(n, 0.845 if day >= since + AT else 0.874)), n))
    f = pd.DataFrame(rows, columns=["day", "k", "n"])
    meta = {"family": "pass_rate", "source": "megvii_lite", "comparison": "faceid", "level": "1e-4"}
    for c in _META:
        f[c] = meta.get(c)
    f = f[[*_META, "day", "k", "n"]]
    levels = parse_levels(None)
    found = findings_of(_detect(f, "D", 0.05, levels), f, since, levels)
    assert len(found) == 1 and found[0].kind == "step"
    x = found[0]
    assert x.start_low is not None and x.start_low <= x.start[:10] <= x.start_high
    assert f"95% interval of the start: {x.start_low} to {x.start_high}" in x.text, x.text
    assert x.as_json()["start_low"] == x.start_low
