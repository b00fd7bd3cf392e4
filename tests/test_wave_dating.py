"""A wave's start and end each get a 95% date interval, as a step's start does.

Each edge's interval is the set of dates whose profile 2 log likelihood ratio (the other edge
at its best for that date) is within the step's bound (Hinkley 1970) of the best wave's.
``benchmarks/bench_changes.py --only 8`` measures the coverage (92-100% per edge; holding the
other edge fixed instead covered 84-94% of long, loosely dated waves).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from faceanalytics.analytics import _changes as C
from faceanalytics.analytics import detect_changes

T0 = pd.Timestamp("2026-01-05", tz="UTC")
AT = 45


def _days(t: pd.Series) -> np.ndarray:
    return ((t - T0) / pd.Timedelta(days=1)).to_numpy()


def test_a_long_loose_waves_intervals_cover_its_planted_start_and_end():
    """2 points for 14 days at 1,000 a day: dated within a day in ~85%, the intervals cover ~97%."""
    df = C.simulate_counts(60, 90, 1000, 0.87, change=("wave", AT, 14, -0.02), seed=21)
    r = detect_changes(df, keys=["series"])
    r = r.sort_values("q_value", kind="stable").drop_duplicates("series").query("kind == 'wave'")
    assert len(r) >= 35
    _, k, n, _, _ = C.count_matrices(df, keys=["series"])
    ids = r["series"].to_numpy()
    seen = n[ids, AT:AT + 14] > 0                   # the wave's edges as the data show them
    s0 = AT + np.argmax(seen, axis=1)
    e0 = AT + 14 - np.argmax(seen[:, ::-1], axis=1)
    slo, shi, elo, ehi = (_days(r[c]) for c in ("start_low", "start_high", "end_low", "end_high"))
    assert ((slo <= _days(r["start"])) & (_days(r["start"]) <= shi)).all()
    assert ((elo <= _days(r["end"])) & (_days(r["end"]) <= ehi)).all()
    assert np.mean((slo <= s0) & (s0 <= shi)) >= 0.9
    assert np.mean((elo <= e0) & (e0 <= ehi)) >= 0.9
    assert np.median(shi - slo) >= 1 and np.median(ehi - elo) >= 1     # loose: an interval, not a day
    assert max(np.median(shi - slo), np.median(ehi - elo)) <= 7


def test_a_waves_intervals_are_the_profile_likelihood_ratio_sets_of_the_one_series():
    """By hand: every wave of up to MAX_WAVE days with data on both sides; a start's ratio is its
    best over the ends, an end's its best over the starts."""
    rng = np.random.default_rng(5)
    t = 60
    n = rng.poisson(800, t).astype(float)
    k = rng.binomial(n.astype(int), np.where((np.arange(t) >= 30) & (np.arange(t) < 36), 0.84, 0.87)).astype(float)
    df = pd.DataFrame({"series": 0, "day": T0 + pd.to_timedelta(np.arange(t), unit="D"), "k": k, "n": n})
    r = detect_changes(df, keys=["series"])
    assert len(r) == 1 and r["kind"].iloc[0] == "wave"
    rho = float(C._scan_rows(k[None], n[None], C.MIN_N, C.MAX_WAVE)["rho"][0])   # the scan's weighing of the days
    phi = 1.0 + (n - 1.0) * rho
    ke, ne = k / phi, n / phi
    kt, nt = ke.sum(), ne.sum()
    lr = {}
    for i in range(1, t):
        for j in range(i + 1, min(i + C.MAX_WAVE, t - 1) + 1):
            lr[i, j] = C._lr(ke[i:j].sum(), ne[i:j].sum(), kt, nt, C._loglik(kt, nt))
    best = max(lr.values())
    starts = sorted({i for (i, j), v in lr.items() if v >= best - C._DATE_BOUND})
    ends = sorted({j for (i, j), v in lr.items() if v >= best - C._DATE_BOUND})
    assert (_days(r["start_low"])[0], _days(r["start_high"])[0]) == (starts[0], starts[-1])
    assert (_days(r["end_low"])[0], _days(r["end_high"])[0]) == (ends[0], ends[-1])


def test_a_wave_findings_text_and_json_give_both_intervals():
    """"from <start> to <last>, then back (95% intervals: of the start <low> to <high>, of the last day
    <low> to <high>)"; the JSON carries ``end_low``/``end_high`` as ``end``, exclusive."""
    from faceanalytics.report._findings import _META, _detect, findings_of, parse_levels

    since = 20_500
    rng = np.random.default_rng(6)
    rows = []
    for day in range(since, since + 90):     # a mask wave 0.6% -> 1.2% for 10 days at 2,500 a day
        n = int(rng.poisson(2500))
        rows.append((day, int(rng.binomial(n, 0.012 if since + 50 <= day < since + 60 else 0.006)), n))
    f = pd.DataFrame(rows, columns=["day", "k", "n"])
    meta = {"family": "flagged", "source": "megvii_lite", "attack": "mask"}
    for c in _META:
        f[c] = meta.get(c)
    f = f[[*_META, "day", "k", "n"]]
    levels = parse_levels(None)
    found = findings_of(_detect(f, "D", 0.05, levels), f, since, levels)
    waves = [x for x in found if x.kind == "wave"]
    assert len(waves) == 1, [(x.kind, x.start, x.end) for x in found]
    x = waves[0]
    assert x.start_low <= x.start[:10] <= x.start_high and x.end_low <= x.end[:10] <= x.end_high
    assert (x.start_low, x.end_high) != (x.start_high, x.end_low)
    last = lambda d: f"{pd.Timestamp(d) - pd.Timedelta(days=1):%Y-%m-%d}"   # noqa: E731
    assert (f"95% intervals: of the start {x.start_low} to {x.start_high}, of the last day "
            f"{last(x.end_low)} to {last(x.end_high)}") in x.text, x.text
    j = x.as_json()
    assert (j["end_low"], j["end_high"]) == (x.end_low, x.end_high)
