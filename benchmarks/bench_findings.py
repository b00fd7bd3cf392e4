"""How often the review's findings are false alarms, and how often they catch a planted change.

    python benchmarks/bench_findings.py [--seeds 20] [--plant-seeds 4] [--n-lite 12000 [50000 ...]]
                                        [--kinds segment ...] [--workers 2]

Each dataset is a quarter (2026-04-01 to 2026-06-30) of the sandbox population at one seed
(``--n-lite`` Lite sessions, a sixth as many web-liveness, a tenth Baidu tokens with getall,
detail and stat; half the biz_extra_data as k=v& text), rendered from the sandbox's payload
code without a server, changed by the plants of ``tests/_planted.py`` (the records are
edited: the sandbox is not changed), ingested, and reviewed (``report.review``: summaries,
segments chosen from the data, findings; no HTML).

Each ``--n-lite`` volume is its own set of datasets (what size of change is found at what
volume); ``--kinds`` keeps the plant kinds whose name contains one of the words.

* **False alarms**: ``--seeds`` datasets with no plant; a dataset with any finding is a
  false alarm.
* **Detection**: for each kind and size below, ``--plant-seeds`` datasets (other seeds) with
  that one change; detected when a finding names it (same family, segment / attack /
  comparison kind / code, starting within 7 days of the plant, a wave overlapping it).
  Findings that name something else in those datasets are counted as false too.

  - faceid pass-rate drop in channel = app only (about 13% of Lite sessions), from 2026-05-16;
  - a four-day wave of flagged ``mask`` checks from 2026-06-01;
  - a new threshold set for Lite ``ref1`` from 2026-05-20, on a share of its comparisons;
  - a step of the verify error NO_SUCH_ID_NUMBER in Lite sessions from 2026-05-20.
"""
from __future__ import annotations

import argparse
import copy
import os
import random
import shutil
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
import _planted as P  # noqa: E402



@dataclass(frozen=True)
class Plan:
    """Where a benchmark's changes go: the review window and each kind's start day."""
    since: str
    until: str
    segment: str           # the segment drop from this day on
    wave: str              # the four-day attack wave from this day
    threshold: str         # the new threshold set from this day on
    error: str             # the error step from this day on


SANDBOX = Plan("2026-04-01", "2026-07-01", segment="2026-05-16", wave="2026-06-01", threshold="2026-05-20",
               error="2026-05-20")
SINCE, UNTIL = SANDBOX.since, SANDBOX.until
# kind -> (sizes, plant of a plan and a size)
PLANTS = {
    "segment drop (points)": ((5, 10, 20), lambda plan, v: P.SegmentDrop(v, plan.segment)),
    "attack wave (share flagged)": ((0.1, 0.2, 0.4), lambda plan, v: P.AttackWave(v, plan.wave, days=4)),
    "threshold change (share of ref1)": ((0.3, 0.6, 1.0), lambda plan, v: _Rollout(v, plan.threshold)),
    "error step (share of sessions)": ((0.01, 0.02, 0.04), lambda plan, v: P.ErrorStep(v, plan.error)),
}


class _Rollout:
    """A new threshold set for Lite ref1 from ``start`` on, for ``share`` of its comparisons."""

    def __init__(self, share, start):
        self.share = share
        self.change = P.ThresholdChange(start, comparison="ref1")

    def __call__(self, source, session, payload, rng):
        if rng.random() < self.share:
            self.change(source, session, payload, rng)


def planted(recs: list[dict], kind: str, size: float, plan: Plan, seed: int, *, secret: str | None = None) -> None:
    """Apply the plant of ``kind`` and ``size`` to the Megvii records, in place."""
    plant = PLANTS[kind][1](plan, size)
    rng = random.Random(f"bench:{seed}:{kind}:{size}")
    for r in recs:
        if r["source"].startswith("megvii"):
            P.apply(plant, r, rng, secret=secret)


def _detected(kind: str, f, plan: Plan = SANDBOX) -> bool:
    def near(when, day, days=7):
        return abs(pd.Timestamp(when) - pd.Timestamp(day, tz="UTC")) <= pd.Timedelta(days=days)

    if kind.startswith("segment"):
        return (f.family == "pass_rate" and f.comparison == "faceid" and f.segment == {"key": "channel", "value": "app"}
                and (f.change_points or 0) < 0 and near(f.start, plan.segment))
    if kind.startswith("attack"):
        wave = pd.Timestamp(plan.wave, tz="UTC")
        end = pd.Timestamp(f.end) if f.end else pd.Timestamp(plan.until, tz="UTC")
        return (f.family == "flagged" and f.attack == "mask" and (f.change_points or 0) > 0
                and pd.Timestamp(f.start) < wave + pd.Timedelta(days=4) and end > wave)
    if kind.startswith("threshold"):
        return f.family == "thresholds" and f.comparison == "ref1" and near(f.start, plan.threshold)
    return (f.family in ("error", "billed") and (f.code in (None, "NO_SUCH_ID_NUMBER"))
            and (f.change_points or 0) > 0 and near(f.start, plan.error))


# The series each kind is planted in (the thresholds kind is dated from eras, not tested).
_SERIES = {
    "segment": lambda s: (s["family"] == "pass_rate") & (s["comparison"] == "faceid") & (s["level"] == "1e-4")
    & (s["source"] == "megvii_lite") & (s["seg_value"] == "app"),
    "attack": lambda s: (s["family"] == "flagged") & (s["attack"] == "mask") & (s["source"] == "megvii_lite")
    & s["seg_key"].isna(),
    "error": lambda s: (s["family"] == "error") & (s["code"] == "NO_SUCH_ID_NUMBER") & s["seg_key"].isna(),
}


def _scan(ser, word: str) -> dict | None:
    """The detector's scan of the series a kind is planted in, alone: the statistic on the
    normal scale and the dispersion factor it was divided by (1 + (n - 1) rho at the
    series' mean trials a day; 1 = binomial days)."""
    from faceanalytics.analytics import _changes as C

    f = ser[_SERIES[word](ser).to_numpy(dtype=bool)] if len(ser) else ser
    if not len(f):
        return None
    f = f.groupby("day")[["k", "n"]].sum()
    _, k, n, *_ = C.count_matrices(pd.DataFrame({"s": 0, "day": pd.to_datetime(f.index.to_numpy() * 86400, unit="s",
                                                                                   utc=True), "k": f["k"].to_numpy(),
                                                 "n": f["n"].to_numpy()}), keys=["s"], time="day")
    r = C._scan_rows(k, n, C.MIN_N, C.MAX_WAVE)
    if not r["tested"][0]:
        return None
    return dict(z=float(r["z"][0]), phi=float(1 + (n[0][n[0] > 0].mean() - 1) * r["rho"][0]))


def outcome(rv, kind, plan: Plan, days: float) -> dict:
    """What a benchmark keeps of one review: its findings (which name the plant), the
    series tested, channel=app's first-attempt Lite faceid comparisons a day, and the
    scan of each kind's series alone (:func:`_scan`)."""
    found = [dict(family=f.family, title=f.title, text=f.text, detected=kind is not None and _detected(kind, f, plan))
             for f in rv.findings]
    ser = rv.info["series"]
    app = ser[(ser["seg_value"] == "app") & (ser["comparison"] == "faceid") & (ser["level"] == "1e-4")
              & (ser["source"] == "megvii_lite")] if len(ser) else ser
    return dict(found=found, app_per_day=float(app["n"].sum() / days), tested=rv.info.get("tested", 0),
                segments=[s.name for s in rv.summaries.segments], scans={w: _scan(ser, w) for w in _SERIES})


def _run(job) -> dict:
    """One dataset: records, plant, ingest, review; the findings (as dicts) and timings."""
    seed, kind, size, n_lite, tmp = job
    from faceanalytics.pipeline.ingest import ingest
    from faceanalytics.report import review

    t0 = time.perf_counter()
    recs = P.records(seed, n_lite=n_lite, n_liveness=n_lite // 6, n_baidu=n_lite // 10, reference_date=UNTIL,
                     window_days=91, plants=[P.KeyValueExtra(0.5)])
    if kind is not None:
        recs = copy.deepcopy(recs)
        planted(recs, kind, size, SANDBOX, seed)
    d = Path(tempfile.mkdtemp(prefix=f"fa-findings-{seed}-", dir=tmp))
    try:
        ingest([P.write(d / "records.jsonl", recs)], d / "data")
        t1 = time.perf_counter()
        r = review(d / "data", SINCE, UNTIL)
        t2 = time.perf_counter()
        return dict(seed=seed, kind=kind, size=size, n_lite=n_lite, make=t1 - t0, review=t2 - t1,
                    **outcome(r, kind, SANDBOX, 91))
    finally:
        shutil.rmtree(d, ignore_errors=True)


def run(fn, jobs: list, workers: int) -> list[dict]:
    """``fn`` over ``jobs`` in ``workers`` processes (each job gives one dataset's result or a
    list of them); a line per dataset as it comes."""
    t = time.perf_counter()
    results = []
    with ProcessPoolExecutor(max_workers=workers) as ex:
        for out in ex.map(fn, jobs):
            for res in (out if isinstance(out, list) else [out]):
                results.append(res)
                tag = "no change" if res["kind"] is None else f"{res['kind']} {res['size']:g}"
                print(f"seed {res['seed']:>4} {res['n_lite']:>7,} Lite {tag:<40} {len(res['found'])} finding(s), "
                      f"{sum(f['detected'] for f in res['found'])} on the plant; {res['tested']:,} series; "
                      f"make {res['make']:.0f} s, review {res['review']:.1f} s", flush=True)
    print(f"\n{len(results)} datasets in {time.perf_counter() - t:.0f} s ({workers} workers)")
    return results


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=20, help="no-change datasets")
    ap.add_argument("--plant-seeds", type=int, default=4, help="datasets per planted kind and size")
    ap.add_argument("--n-lite", type=int, nargs="+", default=[12_000], help="Lite sessions per quarter (one or more)")
    ap.add_argument("--kinds", nargs="*", default=None, help="plant kinds to run (words of their names)")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--dir", default=None)
    a = ap.parse_args(argv)
    kinds = [k for k in PLANTS if a.kinds is None or any(w in k for w in a.kinds)]
    jobs = []
    for vol in a.n_lite:
        jobs += [(100 + i, None, None, vol, a.dir) for i in range(a.seeds)]
        for kind in kinds:
            for size in PLANTS[kind][0]:
                jobs += [(500 + j, kind, size, vol, a.dir) for j in range(a.plant_seeds)]
    results = run(_run, jobs, a.workers)
    for vol in a.n_lite:
        summary([r for r in results if r["n_lite"] == vol], kinds,
                f"{vol:,} Lite, {vol // 6:,} web-liveness, {vol // 10:,} Baidu sessions per quarter")
    return 0


def summary(results: list[dict], kinds: list[str], title: str) -> None:
    """False alarms on the no-change datasets; per kind and size, detected / datasets."""
    print(f"\n== {title}")
    quiet = [r for r in results if r["kind"] is None]
    if results:
        print(f"channel=app: {sum(r['app_per_day'] for r in results) / len(results):.1f} Lite faceid comparisons a "
              f"day (first attempts, the series the segment drop is tested in); "
              f"{sum(r['tested'] for r in results) / len(results):.0f} series tested per review")
    alarms = [r for r in quiet if r["found"]]
    print(f"False alarms: {len(alarms)} of {len(quiet)} no-change datasets had any finding "
          f"({len(alarms) / max(len(quiet), 1):.0%})")
    for r in alarms:
        for f in r["found"]:
            print(f"    seed {r['seed']}: {f['text']}")
    print("Detection (datasets where a finding names the planted change; other findings in them):")
    for kind in kinds:
        for size in PLANTS[kind][0]:
            rs = [r for r in results if r["kind"] == kind and r["size"] == size]
            hit = sum(any(f["detected"] for f in r["found"]) for r in rs)
            other = [f["text"] for r in rs for f in r["found"] if not f["detected"]]
            print(f"  {kind:<36} {size:>5g}: {hit} of {len(rs)} detected; {len(other)} other finding(s)"
                  f"{_scans(rs, kind)}")
            for text in other:
                print(f"      other: {text}")
    print("  (z: the scan's statistic on the normal scale of the planted series alone, median; dispersion: the factor "
          "it was divided by, 1 = binomial days; for no-change datasets: "
          + ", ".join(f"{w} {_scans(quiet, w).strip('; ')}" for w in _SERIES) + ")")


def _scans(results: list[dict], kind: str) -> str:
    word = kind.split()[0]
    got = [r["scans"][word] for r in results if r.get("scans", {}).get(word)]
    if not got:
        return ""
    return (f"; z {np.median([g['z'] for g in got]):.1f}, dispersion {np.median([g['phi'] for g in got]):.1f}")


if __name__ == "__main__":
    raise SystemExit(main())
