"""detect_changes: false alarms on no change, detection of planted changes, speed.

    python benchmarks/bench_changes.py [--families 100] [--days 12] [--seed 1000] [--repeat 3] [--only 1 2 3 4 5 6 7 8] [--reviews 100] [--rho 0]

1. False alarms: ``--families`` no-change reviews of 500 series each
   (``analytics._changes.review_family``: one period of 30-180 days, 50-50,000
   trials a day per series, a third each shaped like pass rates, flagged shares and
   error-code shares), binomial and beta-binomial (intra-class correlation 1e-4 to
   3e-3 per series), each tested twice: unweighted (every series weighs 1) and
   weighted as the review weighs them (``report._findings._weights``: a quarter of
   the series, like the review's primary ones, share ``PRIMARY_SHARE`` = 90% of the
   false-discovery rate, the other three quarters the rest).  Prints the share of
   reviews with any finding at alpha = 0.05 (target: <= alpha), with its 95% Wilson
   interval, and the share of series whose search-corrected p-value is <= 0.05
   (valid p-values: <= 0.05).  The weighted figures are ``FALSE_ALARM_RATE``.  ``--days 12``:
   every review 12 days long (short windows, where the dispersion has few differences and is
   moderated toward the prior fitted across the review's series).
2. Detection: steps and 3-day waves (Tuesday to Thursday) of 1, 2, 5 and 10 points
   (pass rate 90% -> 89% ... 80%) at 100, 1,000 and 10,000 trials a weekday (60% at
   weekends), planted on day 43 in 50 of 500 series of 90 days (the other 450 unchanged; binomial).  A planted change counts as found
   when its series has a finding of the same kind starting within one bucket of the
   planted date (a wave: ending within one bucket too).  Prints the detection rate,
   the median estimated effect, and false findings among the 450.  ``--days 12``: 12 days, the
   change on day 6 (short windows, where the dispersion is moderated).
3. Speed: 2,000 series x 180 days (review_family shapes), best of ``--repeat``,
   beside a baseline in the same run: a bare NumPy scan of the same counts for the
   largest standardised step (one cumulative sum, no waves, no dispersion, no
   p-values), the least any change scan has to do.

4. Period length and volume: 200 series with a 5- or 20-point step at mid-period (pass rate
   85%, binomial days), 12, 30 and 91 days of 10, 100 and 700 trials a day; per cell the
   median statistic of the scan (normal scale), the median dispersion factor it was divided
   by (1 + (n - 1) rho, 1 = binomial) and the share of series with p <= 0.05 / 400 (about
   what a review's false-discovery control over ~400 series asks of its one changed series).
   The dispersion is estimated from successive differences of the daily rates; a step moves
   one of them, which in a short series at high volume outweighs the rest: the estimate leaves
   out the two largest (a dispersion near 1 here).  Alone, the few differences of a short series
   (12 days: about 5.6 degrees of freedom, read through Student's t) capped z near 4-5; moderated
   toward the prior fitted across the 200 series (empirical Bayes, binomial here: infinite
   degrees of freedom), short series are read as long ones are.

5. A change near the end of the period: in 100 of 500 series (12 days or ``--days``, pass rate
   90%, 1,000 and 10,000 trials a weekday, binomial or ``--rho``: beta-binomial days with that
   intra-class correlation), a 3-day wave that ends 1, 2, 3 or 4 days
   before the period's end, or a step that many days before it, of 5, 10 and 20 points.  Per
   cell, of the 100: *as planted* (one finding, of the planted kind, its dates within one
   bucket: a wave's start and end, a step's start), *as the other kind* (the series' first
   finding is of the other kind: a wave read as a step with no fall back, "rose and stayed",
   or a step read as a wave), *other* (found, but with other dates or more findings) and
   *missed*; and findings in the 400 unchanged series.  Days are missing at random (2%), so
   about 2 in 100 waves that end one day before the end have no day after them in the data.

6. Dating a step: in 100 of 500 series of 90 days (pass rate 87%, binomial, or ``--rho``), a step of
   2, 3, 5 and 10 points planted on day 45 (a Saturday, as the audit's segment drop), at 100, 300
   (the audit's ``channel=store`` segment), 1,000 and 10,000 trials a weekday; and the audit's pool,
   2,500 a day over 118 days, down 0.36 and 0.6 points from day 73.  Per cell, of the changed series
   whose first finding is a step: the estimated minus the planted start (mean, 10th/50th/90th
   percentiles, share within 1 and 3 days), and the date interval's (``start_low`` to
   ``start_high``: the days whose likelihood ratio is within the 95% bound of the best's) coverage
   of the planted day and median width in days.  A biased estimator shows as a mean or median off 0.

7. Small steps in one segment, at the audit's volumes: ``--reviews`` (default 100) reviews of 215
   series of 90 days (``review_family``'s shapes, as many series as the audit's default review
   tests; weighted as the review weighs them, the planted series primary), one of them the
   audit's ``channel=store`` faceid pass rate at 1e-4: 290 comparisons a weekday (258 a day), 87.4%, down 2,
   3, 4 or 5 points from day 45 (``--rho``: beta-binomial days).  Per size, the share of reviews
   in which that series has a step finding (``review``), beside what tests that know more would
   find at 5%: the series alone, its date searched (``series alone``: its own search-corrected
   p-value <= 0.05, no other series), and the date and series known (``oracle``: a two-sample
   test of the counts before and after the planted day at the series' own dispersion).  The
   gap between ``review`` and ``oracle`` is the price of searching 215 series and 90 days.

8. Dating a wave: in 100 of 500 series of 90 days (binomial, or ``--rho``), a wave from day 45 of 3, 5
   and 10 points down from 87% for 4 days (the audit's mask wave's length) at 300, 1,000 and 10,000
   trials a weekday; near the edge of detection, 2 points at 3,000 and 4 at 600 for 4 days, 10 at 1,000
   for 1 day, 5 at 1,000 for 2, and 3 at 500 and 2 at 1,000 for 14 days; and the audit's two waves (mask flagged
   share 0.6% -> 3.6% for 4 days at 2,500 a day; Baidu code 223120 4% -> 10% for 5 days at 300).  Of
   the changed series whose first finding is a wave: the start and the end within a day, the 95%
   intervals' (``start_low``..``start_high``, ``end_low``..``end_high``, each edge by its profile over
   the other) coverage of the planted start and end, of both, and their median widths; beside them
   the coverage of intervals with the other edge held at its estimate instead of profiled.  The
   planted dates are as the data show them: the first day with data in the wave, the day after the
   last (2% of days are missing).

Timings are wall-clock on a shared machine: compare them with the baseline beside
them, not across runs.
"""
from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
from bench_analytics import best

from faceanalytics.analytics import _changes as C
from faceanalytics.analytics._stats import wilson_ci
from faceanalytics.report._findings import PRIMARY_SHARE

SIZES = (0.01, 0.02, 0.05, 0.10)
VOLUMES = (100, 1_000, 10_000)
AT = 43                  # a Tuesday: a 3-day wave is three full weekdays
NEAR_END = (1, 2, 3, 4)  # section 5: days between the change and the period's end
NEAR_SIZES = (0.05, 0.10, 0.20)
NEAR_VOLUMES = (1_000, 10_000)
PRIMARY = 0.25           # share of a review's series that are primary (pass rates at the level in force, pooled rates)


def matrices(df: pd.DataFrame):
    _, k, n, _, _ = C.count_matrices(df, keys=["series"])
    return k, n


def review_weights(df: pd.DataFrame, seed: int) -> pd.Series:
    """The review's weights (``_findings._weights``) on a family: a random ``PRIMARY`` of the
    series share ``PRIMARY_SHARE`` of the false-discovery rate, the others the rest."""
    ids = np.unique(df["series"].to_numpy())
    primary = np.random.default_rng([seed, 12]).random(ids.size) < PRIMARY
    n1, n2 = int(primary.sum()), int((~primary).sum())
    w = np.where(primary, PRIMARY_SHARE / max(n1, 1), (1 - PRIMARY_SHARE) / max(n2, 1)) * ids.size
    return df["series"].map(dict(zip(ids, w)))


def false_alarms(families: int, seed: int, days: int | None = None) -> list[tuple[str, str, int, int, float]]:
    """(days, weighting, reviews with any finding, reviews, share of series with p <= 0.05)."""
    out = []
    for label, od in (("binomial", False), ("overdispersed", True)):
        alarms, weighted, small_p, series = 0, 0, 0, 0
        for f in range(families):
            df = C.review_family(seed + f, overdispersed=od, days=days)
            alarms += len(C.detect_changes(df, keys=["series"])) > 0
            df["w"] = review_weights(df, seed + f)
            weighted += len(C.detect_changes(df, keys=["series"], weight="w")) > 0
            r = C._scan_rows(*matrices(df), C.MIN_N, C.MAX_WAVE)
            p = r["p"][r["tested"].astype(bool)]
            small_p += int((p <= 0.05).sum())
            series += p.size
        out.append((label, "unweighted", alarms, families, small_p / series))
        out.append((label, "weighted", weighted, families, small_p / series))
    return out


def detection(seed: int, days: int | None = None) -> list[tuple]:
    rows = []
    t0 = pd.Timestamp("2026-01-05", tz="UTC")
    span, at = (90, AT) if days is None else (days, days // 2)
    for kind, length in (("step", 0), ("wave", 3)):
        for size in SIZES:
            for vol in VOLUMES:
                changed = C.simulate_counts(50, span, vol, 0.9, change=(kind, at, length, -size), seed=seed)
                null = C.simulate_counts(450, span, vol, 0.9, seed=seed + 1)
                null["series"] += 50
                r = C.detect_changes(pd.concat([changed, null], ignore_index=True), keys=["series"])
                start = (r["start"] - t0) / pd.Timedelta(days=1)
                end = (r["end"] - t0) / pd.Timedelta(days=1)
                ok = (r["series"] < 50) & (r["kind"] == kind) & ((start - at).abs() <= 1)
                if kind == "wave":
                    ok &= (end - at - length).abs() <= 1
                found = r[ok].drop_duplicates("series")
                rows.append((kind, size, vol, found["series"].nunique() / 50,
                             found["diff"].median() if len(found) else np.nan,
                             int((r["series"] >= 50).sum())))
    return rows


def short_periods(seed: int) -> list[tuple]:
    rows = []
    for days in (12, 30, 91):
        for vol in (10, 100, 700):
            for size in (0.05, 0.20):
                df = C.simulate_counts(200, days, vol, 0.85, change=("step", days // 2, 0, -size), seed=seed)
                r = C._scan_rows(*matrices(df), C.MIN_N, C.MAX_WAVE)
                rows.append((days, vol, size, float(np.median(r["z"])), float(np.median(1 + (vol - 1) * r["rho"])),
                             float(np.mean(r["p"] <= 0.05 / 400))))
    return rows


def near_end(seed: int, days: int = 12, rho: float = 0.0) -> list[tuple]:
    """Section 5: (kind, size, volume, days after, as planted, as the other kind, other, missed,
    findings in the unchanged series) per cell, 100 changed series of 500."""
    rows, length = [], 3
    t0 = pd.Timestamp("2026-01-05", tz="UTC")
    for kind in ("wave", "step"):
        for size in NEAR_SIZES:
            for vol in NEAR_VOLUMES:
                for after in NEAR_END:
                    at = days - after - (length if kind == "wave" else 0)
                    changed = C.simulate_counts(100, days, vol, 0.9, rho=rho, change=(kind, at, length, -size),
                                                seed=seed + after)
                    null = C.simulate_counts(400, days, vol, 0.9, rho=rho, seed=seed + 100 + after)
                    null["series"] += 100
                    r = C.detect_changes(pd.concat([changed, null], ignore_index=True), keys=["series"])
                    rows.append((kind, size, vol, after, *_near_end_counts(r, kind, at, length, t0)))
    return rows


def _near_end_counts(r: pd.DataFrame, kind: str, at: int, length: int, t0) -> tuple[int, int, int, int, int]:
    """(as planted, as the other kind, other, missed, findings in series >= 100) of one cell."""
    false = int((r["series"] >= 100).sum())
    r = r[r["series"] < 100]
    start = ((r["start"] - t0) / pd.Timedelta(days=1)).to_numpy()
    end = ((r["end"] - t0) / pd.Timedelta(days=1)).to_numpy()
    right = (r["kind"] == kind).to_numpy() & (np.abs(start - at) <= 1)
    if kind == "wave":
        right &= np.abs(end - at - length) <= 1
    per = r.assign(right=right).groupby("series")
    count = per.size()
    planted = int(((count == 1) & per["right"].all()).sum())
    first = r.sort_values("q_value", kind="stable").drop_duplicates("series")
    other_kind = int((first["kind"] != kind).sum())
    missed = 100 - int(count.size)
    return planted, other_kind, int(count.size) - planted - other_kind, missed, false


DATING_SIZES = (0.02, 0.03, 0.05, 0.10)
DATING_VOLUMES = (100, 300, 1_000, 10_000)
DATING_AT = 45           # simulate_counts starts on a Monday: day 45 is a Saturday


def dating(seed: int, rho: float = 0.0) -> list[tuple]:
    """Section 6: (size, volume, days, found steps, mean, p10, p50, p90 of estimated - planted,
    within 1, within 3, interval coverage, median interval width) per cell."""
    cells = [(size, vol, 90, DATING_AT) for size in DATING_SIZES for vol in DATING_VOLUMES]
    cells += [(0.0036, 2_500, 118, 73), (0.006, 2_500, 118, 73)]       # the audit's pool
    rows = []
    t0 = pd.Timestamp("2026-01-05", tz="UTC")
    for i, (size, vol, days, at) in enumerate(cells):
        changed = C.simulate_counts(100, days, vol, 0.87, rho=rho, change=("step", at, 0, -size), seed=seed + i)
        null = C.simulate_counts(400, days, vol, 0.87, rho=rho, seed=seed + 500 + i)
        null["series"] += 100
        r = C.detect_changes(pd.concat([changed, null], ignore_index=True), keys=["series"])
        r = r[r["series"] < 100].sort_values("q_value", kind="stable").drop_duplicates("series")
        r = r[r["kind"] == "step"]
        err = ((r["start"] - t0) / pd.Timedelta(days=1)).to_numpy() - at
        if "start_low" in r:
            lo = ((r["start_low"] - t0) / pd.Timedelta(days=1)).to_numpy()
            hi = ((r["start_high"] - t0) / pd.Timedelta(days=1)).to_numpy()
            cover, width = float(np.mean((lo <= at) & (at <= hi))), float(np.median(hi - lo)) if len(r) else np.nan
        else:
            cover = width = np.nan
        q = np.percentile(err, [10, 50, 90]) if err.size else [np.nan] * 3
        rows.append((size, vol, days, err.size, float(err.mean()) if err.size else np.nan, *q,
                     float(np.mean(np.abs(err) <= 1)) if err.size else np.nan,
                     float(np.mean(np.abs(err) <= 3)) if err.size else np.nan, cover, width))
    return rows


WAVE_LENGTH = 4         # section 8: the audit's mask wave (days 50-53)


def wave_cells() -> list[tuple]:
    """Section 8's cells: (rate, change, volume a weekday, length in days)."""
    cells = [(0.87, -size, vol, WAVE_LENGTH) for size in (0.03, 0.05, 0.10) for vol in (300, 1_000, 10_000)]
    # near the edge of detection, where a wave is dated loosely: other lengths and volumes
    cells += [(0.87, -0.02, 3_000, WAVE_LENGTH), (0.87, -0.04, 600, WAVE_LENGTH), (0.87, -0.10, 1_000, 1),
              (0.87, -0.05, 1_000, 2), (0.87, -0.03, 500, 14), (0.87, -0.02, 1_000, 14)]
    cells += [(0.006, 0.03, 2_500, WAVE_LENGTH),    # the audit's mask flagged share
              (0.04, 0.06, 300, 5)]                 # the audit's Baidu liveness code 223120
    return cells


def _seen(n: np.ndarray, at: int, length: int) -> tuple[np.ndarray, np.ndarray]:
    """Per series, the wave ``[at, at + length)`` as its data show it: the first day with data
    in it and the day after the last (a day without data cannot be told in or out)."""
    inside = n[:, at:at + length] > 0
    first = at + np.argmax(inside, axis=1)
    last = at + length - np.argmax(inside[:, ::-1], axis=1)
    return np.where(inside.any(axis=1), first, -1), np.where(inside.any(axis=1), last, -1)


def wave_dating(seed: int, rho: float = 0.0) -> list[tuple]:
    """Section 8: per cell (rate, change, volume, length, waves found, start within 1, end within 1,
    start covered, end covered, both covered, median start width, median end width, and the same
    three coverages with the other edge held at its estimate)."""
    rows = []
    t0 = pd.Timestamp("2026-01-05", tz="UTC")
    for i, (rate, change, vol, length) in enumerate(wave_cells()):
        changed = C.simulate_counts(100, 90, vol, rate, rho=rho, change=("wave", DATING_AT, length, change),
                                    seed=seed + i)
        null = C.simulate_counts(400, 90, vol, rate, rho=rho, seed=seed + 500 + i)
        null["series"] += 100
        r = C.detect_changes(pd.concat([changed, null], ignore_index=True), keys=["series"])
        r = r[r["series"] < 100].sort_values("q_value", kind="stable").drop_duplicates("series")
        r = r[r["kind"] == "wave"]
        k, n = matrices(changed)
        first, last = _seen(n, DATING_AT, length)
        ids = r["series"].to_numpy()
        s0, e0 = first[ids], last[ids]

        def days(col):
            return ((r[col] - t0) / pd.Timedelta(days=1)).to_numpy()

        s, e = days("start"), days("end")
        slo, shi, elo, ehi = days("start_low"), days("start_high"), days("end_low"), days("end_high")
        cs, ce = (slo <= s0) & (s0 <= shi), (elo <= e0) & (e0 <= ehi)
        # the other edge held at its estimate (whole series: the first finding's stretch, nearly always)
        rho_row = C._scan_rows(k, n, C.MIN_N, C.MAX_WAVE)["rho"]
        fs, fe = [], []
        for j, sid in enumerate(ids):
            sf = C._wave_surface(k[sid], n[sid], 0, n.shape[1], float(rho_row[sid]), C.MIN_N, C.MAX_WAVE)
            best = sf.max()
            near_s = np.flatnonzero(sf[:, int(e[j])] >= best - C._DATE_BOUND)
            near_e = np.flatnonzero(sf[int(s[j]), :] >= best - C._DATE_BOUND)
            fs.append(near_s.size > 0 and near_s[0] <= s0[j] <= near_s[-1])
            fe.append(near_e.size > 0 and near_e[0] <= e0[j] <= near_e[-1])
        fs, fe = np.array(fs, bool), np.array(fe, bool)

        def share(x):
            return float(np.mean(x)) if x.size else np.nan

        rows.append((rate, change, vol, length, ids.size, share(np.abs(s - s0) <= 1), share(np.abs(e - e0) <= 1),
                     share(cs), share(ce), share(cs & ce),
                     float(np.median(shi - slo)) if ids.size else np.nan,
                     float(np.median(ehi - elo)) if ids.size else np.nan,
                     share(fs), share(fe), share(fs & fe)))
    return rows


SMALL_SIZES = (0.02, 0.03, 0.04, 0.05)
SMALL_SERIES = 215       # series the audit's default review tests
SMALL_VOLUME = 290       # the audit's channel=store faceid comparisons a weekday (258 a day on average)
SMALL_RATE = 0.874       # its pass rate at 1e-4 (97% genuine at 90%, 3% impostors at 3%)


def small_steps(reviews: int, seed: int, rho: float = 0.0) -> list[tuple]:
    """Section 7: (size, reviews, found by the review, by the series alone, by the oracle) per size."""
    rows = []
    for size in SMALL_SIZES:
        review = alone = oracle = 0
        for j in range(reviews):
            s = seed + 7919 * j
            bg = C.review_family(s, series=SMALL_SERIES - 1, days=90)
            bg["series"] += 1
            seg = C.simulate_counts(1, 90, SMALL_VOLUME, SMALL_RATE, rho=rho,
                                    change=("step", DATING_AT, 0, -size * 0.97), seed=s + 1)
            df = pd.concat([seg, bg], ignore_index=True)
            df["w"] = review_weights(df, s).where(df["series"] != 0, np.nan)
            ids = df["series"].unique()
            prim = np.random.default_rng([s, 12]).random(ids.size) < PRIMARY
            n1 = int(prim.sum()) + 1
            df.loc[df["series"] == 0, "w"] = PRIMARY_SHARE / n1 * ids.size
            r = C.detect_changes(df, keys=["series"], weight="w")
            review += bool(((r["series"] == 0) & (r["kind"] == "step")).any())
            k, n = matrices(seg)
            one = C._scan_rows(k, n, C.MIN_N, C.MAX_WAVE)
            alone += bool(one["p"][0] <= 0.05)
            ch = C._Scan(k, n, C.MIN_N, C.MAX_WAVE)
            phi = 1.0 + np.maximum(n - 1.0, 0.0) * ch.rho[:, None]
            kb, nb = (k / phi)[0, :DATING_AT].sum(), (n / phi)[0, :DATING_AT].sum()
            ka, na = (k / phi)[0, DATING_AT:].sum(), (n / phi)[0, DATING_AT:].sum()
            pp = (kb + ka) / (nb + na)
            z = (kb / nb - ka / na) / np.sqrt(pp * (1 - pp) * (1 / nb + 1 / na))
            oracle += bool(abs(z) >= 1.959964)
        rows.append((size, reviews, review, alone, oracle))
    return rows


def baseline_scan(k: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Largest standardised step per series: one cumulative sum over the same counts."""
    kc, nc = np.cumsum(k, axis=1)[:, :-1], np.cumsum(n, axis=1)[:, :-1]
    kt, nt = k.sum(axis=1, keepdims=True), n.sum(axis=1, keepdims=True)
    p = kt / nt
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (kc - nc * p) / np.sqrt(p * (1 - p) * nc * (nt - nc) / nt)
    return np.nanmax(np.abs(np.where(np.isfinite(z), z, np.nan)), axis=1)


def speed(repeat: int, seed: int) -> tuple[float, float, int]:
    parts = []
    for i in range(4):
        f = C.simulate_counts(500, 180, (50, 50_000), (0.001, 0.99), seed=seed + i)
        f["series"] += 500 * i
        parts.append(f)
    df = pd.concat(parts, ignore_index=True)

    def ours():
        return C.detect_changes(df, keys=["series"])

    def base():
        return baseline_scan(*matrices(df))

    ours(), base()
    return best(ours, repeat), best(base, repeat), len(df)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--families", type=int, default=100)
    ap.add_argument("--seed", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--days", type=int, default=None,
                    help="sections 1 and 2: every review this many days (default 30-180, and 90)")
    ap.add_argument("--rho", type=float, default=0.0,
                    help="sections 5, 6 and 7: intra-class correlation of the days (default 0: binomial)")
    ap.add_argument("--reviews", type=int, default=100, help="section 7: reviews per size")
    ap.add_argument("--only", type=int, nargs="+", default=[1, 2, 3, 4, 5, 6, 7, 8], help="sections to run")
    a = ap.parse_args(argv)
    sections = {1: _false_alarms, 2: _detection, 3: _speed, 4: _short, 5: _near_end, 6: _dating, 7: _small_steps,
                8: _wave_dating}
    for number in sorted(set(a.only) & set(sections)):
        sections[number](a)
    return 0


def _days_are(a) -> str:
    return "binomial" if a.rho == 0 else f"rho {a.rho:g}"


def _short(a) -> None:
    print("\n4. One series, a step at mid-period (pass rate 85%, binomial days): the scan by period and volume")
    print(f"   {'days':>5}{'per day':>9}{'step':>7}{'z (median)':>12}{'dispersion':>12}{'p <= 0.05/400':>15}")
    for days, vol, size, z, phi, share in short_periods(a.seed):
        print(f"   {days:>5}{vol:>9,}{size * 100:>5.0f}pt{z:>12.1f}{phi:>12.1f}{share:>15.0%}")


def _wave_dating(a) -> None:
    days_are = _days_are(a)
    print(f"\n8. Dating a wave: 100 of 500 series changed (90 days, {days_are}, the wave from day {DATING_AT}); "
          f"of the changed series whose first finding is a wave, the 95% intervals of its start and end")
    print(f"   {'rate':>6}{'change':>8}{'per day':>9}{'days':>5}{'waves':>6}{'start+-1':>9}{'end+-1':>8}"
          f"{'covers start':>13}{'end':>6}{'both':>6}{'width start':>12}{'end':>5}"
          f"{'| other edge fixed: start':>26}{'end':>6}{'both':>6}")
    for rate, change, vol, length, found, s1, e1, cs, ce, cb, ws, we, fs, fe, fb in wave_dating(a.seed, a.rho):
        print(f"   {rate:>6.1%}{change * 100:>+6.1f}pt{vol:>9,}{length:>5}{found:>6}{s1:>9.0%}{e1:>8.0%}"
              f"{cs:>13.0%}{ce:>6.0%}{cb:>6.0%}{ws:>12.0f}{we:>5.0f}{fs:>26.0%}{fe:>6.0%}{fb:>6.0%}")


def _small_steps(a) -> None:
    days_are = _days_are(a)
    print(f"\n7. A small step in one segment ({SMALL_VOLUME} a weekday, {SMALL_RATE:.1%}, {days_are}, day {DATING_AT} of 90) "
          f"among {SMALL_SERIES} series: share found")
    print(f"   {'size':>6}{'reviews':>9}{'review':>9}{'series alone':>14}{'oracle':>9}")
    for size, reviews, review, alone, oracle in small_steps(a.reviews, a.seed, a.rho):
        print(f"   {size * 100:>4.0f}pt{reviews:>9}{review / reviews:>9.0%}{alone / reviews:>14.0%}{oracle / reviews:>9.0%}")


def _dating(a) -> None:
    days_are = _days_are(a)
    print(f"\n6. Dating a step: 100 of 500 series changed (pass rate 87%, {days_are}); estimated - planted start "
          f"in days, of the changed series whose first finding is a step")
    print(f"   {'size':>7}{'per day':>9}{'days':>6}{'steps':>7}{'mean':>7}{'p10':>6}{'p50':>6}{'p90':>6}"
          f"{'within 1':>10}{'within 3':>10}{'interval covers':>17}{'width':>7}")
    for size, vol, days, found, mean, p10, p50, p90, w1, w3, cover, width in dating(a.seed, a.rho):
        print(f"   {size * 100:>5.2f}pt{vol:>9,}{days:>6}{found:>7}{mean:>+7.2f}{p10:>+6.0f}{p50:>+6.0f}{p90:>+6.0f}"
              f"{w1:>10.0%}{w3:>10.0%}{cover:>17.0%}{width:>7.0f}")


def _near_end(a) -> None:
    days = 12 if a.days is None else a.days
    days_are = _days_are(a)
    print(f"\n5. A change near the end: 100 of 500 series changed ({days} days, pass rate 90%, {days_are}), "
          f"a 3-day wave ending, or a step, that many days before the end")
    print(f"   {'kind':<6}{'size':>6}{'per day':>9}{'days after':>12}{'as planted':>12}{'other kind':>12}"
          f"{'other':>7}{'missed':>8}{'false (of 400)':>16}")
    for kind, size, vol, after, planted, other_kind, other, missed, false in near_end(a.seed, days, a.rho):
        print(f"   {kind:<6}{size * 100:>4.0f}pt{vol:>9,}{after:>12}{planted:>12}{other_kind:>12}{other:>7}"
              f"{missed:>8}{false:>16}")


def _false_alarms(a) -> None:
    span = "30-180" if a.days is None else f"{a.days}"
    print(f"1. False alarms: {a.families} no-change reviews of 500 series each, {span} days, alpha = 0.05")
    print(f"   {'':<15}{'FDR':<12}{'reviews with any finding':>28}{'95% CI':>18}{'series with p <= 0.05':>24}")
    for label, how, alarms, fam, small in false_alarms(a.families, a.seed, a.days):
        lo, hi = wilson_ci(alarms, fam)
        print(f"   {label:<15}{how:<12}{alarms:>10} of {fam:<4} = {alarms / fam:>6.1%}{float(lo):>10.1%}-"
              f"{float(hi):.1%}{small:>20.2%}     target <= 5%")
    print(f"   (weighted: {PRIMARY:.0%} of the series share {PRIMARY_SHARE:.0%} of the FDR, as the review's primary "
          f"series do; FALSE_ALARM_RATE quotes the weighted rows)")


def _detection(a) -> None:
    span = "90 days" if a.days is None else f"{a.days} days, the change on day {a.days // 2}"
    print(f"\n2. Detection: 50 of 500 series changed ({span}, pass rate 90%), found = right kind, date +-1")
    print(f"   {'kind':<6}{'size':>6}{'per day':>9}{'detected':>10}{'median effect':>15}{'false (of 450)':>16}")
    for kind, size, vol, rate, eff, false in detection(a.seed, a.days):
        print(f"   {kind:<6}{size * 100:>4.0f}pt{vol:>9,}{rate:>10.0%}{eff * 100:>13.2f}pt{false:>16}")


def _speed(a) -> None:
    ours, base, rows = speed(a.repeat, a.seed)
    print(f"\n3. Speed: 2,000 series x 180 days ({rows:,} count rows), best of {a.repeat}")
    print(f"   {'detect_changes':<44}{ours:>8.3f} s   target < 1 s {'ok' if ours < 1 else 'MISSED'}")
    print(f"   {'baseline: NumPy max standardised step only':<44}{base:>8.3f} s   ratio {ours / base:.1f}x")


if __name__ == "__main__":
    raise SystemExit(main())
