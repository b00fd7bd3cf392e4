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
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
import _planted as P  # noqa: E402

SINCE, UNTIL = "2026-04-01", "2026-07-01"
PLANTS = {
    "segment drop (points)": [(5, lambda v: P.SegmentDrop(v, "2026-05-16")), (10, None), (20, None)],
    "attack wave (share flagged)": [(0.1, lambda v: P.AttackWave(v, "2026-06-01", days=4)), (0.2, None), (0.4, None)],
    "threshold change (share of ref1)": [(0.3, lambda v: _Rollout(v)), (0.6, None), (1.0, None)],
    "error step (share of sessions)": [(0.01, lambda v: P.ErrorStep(v, "2026-05-20")), (0.02, None), (0.04, None)],
}


class _Rollout:
    """A new threshold set for Lite ref1 from 2026-05-20 on, for ``share`` of its comparisons."""

    def __init__(self, share):
        self.share = share
        self.change = P.ThresholdChange("2026-05-20", comparison="ref1")

    def __call__(self, source, session, payload, rng):
        if rng.random() < self.share:
            self.change(source, session, payload, rng)


def _make(kind: str, size: float):
    for s, make in PLANTS[kind]:
        if make is not None:
            return make(size)
    raise KeyError(kind)


def _detected(kind: str, f) -> bool:
    def near(when, day, days=7):
        import pandas as pd

        return abs(pd.Timestamp(when) - pd.Timestamp(day, tz="UTC")) <= pd.Timedelta(days=days)

    if kind.startswith("segment"):
        return (f.family == "pass_rate" and f.comparison == "faceid" and f.segment == {"key": "channel", "value": "app"}
                and (f.change_points or 0) < 0 and near(f.start, "2026-05-16"))
    if kind.startswith("attack"):
        import pandas as pd

        end = pd.Timestamp(f.end) if f.end else pd.Timestamp(UNTIL, tz="UTC")
        return (f.family == "flagged" and f.attack == "mask" and (f.change_points or 0) > 0
                and pd.Timestamp(f.start) < pd.Timestamp("2026-06-05", tz="UTC")
                and end > pd.Timestamp("2026-06-01", tz="UTC"))
    if kind.startswith("threshold"):
        return f.family == "thresholds" and f.comparison == "ref1" and near(f.start, "2026-05-20")
    return (f.family in ("error", "billed") and (f.code in (None, "NO_SUCH_ID_NUMBER"))
            and (f.change_points or 0) > 0 and near(f.start, "2026-05-20"))


def _run(job) -> dict:
    """One dataset: records, plant, ingest, review; the findings (as dicts) and timings."""
    seed, kind, size, n_lite, tmp = job
    from faceanalytics.pipeline.ingest import ingest
    from faceanalytics.report import review

    t0 = time.perf_counter()
    recs = P.records(seed, n_lite=n_lite, n_liveness=n_lite // 6, n_baidu=n_lite // 10, reference_date=UNTIL,
                     window_days=91, plants=[P.KeyValueExtra(0.5)])
    if kind is not None:
        plant = _make(kind, size)
        rng = random.Random(f"bench:{seed}:{kind}:{size}")
        recs = copy.deepcopy(recs)
        for r in recs:
            if r["source"].startswith("megvii"):
                plant(r["source"], SimpleNamespace(epoch=int(str(r["session_id"]).split(",")[0])), r["payload"], rng)
    d = Path(tempfile.mkdtemp(prefix=f"fa-findings-{seed}-", dir=tmp))
    try:
        ingest([P.write(d / "records.jsonl", recs)], d / "data")
        t1 = time.perf_counter()
        r = review(d / "data", SINCE, UNTIL)
        t2 = time.perf_counter()
        found = [dict(family=f.family, title=f.title, text=f.text, detected=kind is not None and _detected(kind, f))
                 for f in r.findings]
        ser = r.info["series"]
        app = ser[(ser["seg_value"] == "app") & (ser["comparison"] == "faceid") & (ser["level"] == "1e-4")
                  & (ser["source"] == "megvii_lite")] if len(ser) else ser
        per_day = float(app["n"].sum() / 91)       # first-attempt faceid comparisons of channel=app a day
        return dict(seed=seed, kind=kind, size=size, n_lite=n_lite, found=found, app_per_day=per_day, tested=r.info.get("tested", 0),
                    make=t1 - t0, review=t2 - t1, segments=[s.name for s in r.summaries.segments])
    finally:
        shutil.rmtree(d, ignore_errors=True)


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
            for size, _ in PLANTS[kind]:
                jobs += [(500 + j, kind, size, vol, a.dir) for j in range(a.plant_seeds)]
    t = time.perf_counter()
    results = []
    with ProcessPoolExecutor(max_workers=a.workers) as ex:
        for res in ex.map(_run, jobs):
            results.append(res)
            tag = "no change" if res["kind"] is None else f"{res['kind']} {res['size']:g}"
            print(f"seed {res['seed']:>4} {res['n_lite']:>7,} Lite {tag:<40} {len(res['found'])} finding(s), "
                  f"{sum(f['detected'] for f in res['found'])} on the plant; {res['tested']:,} series; "
                  f"make {res['make']:.0f} s, review {res['review']:.1f} s", flush=True)
    print(f"\n{len(results)} datasets in {time.perf_counter() - t:.0f} s ({a.workers} workers)")
    for vol in a.n_lite:
        _summary([r for r in results if r["n_lite"] == vol], vol, kinds)
    return 0


def _summary(results: list[dict], n_lite: int, kinds: list[str]) -> None:
    print(f"\n== {n_lite:,} Lite, {n_lite // 6:,} web-liveness, {n_lite // 10:,} Baidu sessions per quarter")
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
        for size, _ in PLANTS[kind]:
            rs = [r for r in results if r["kind"] == kind and r["size"] == size]
            hit = sum(any(f["detected"] for f in r["found"]) for r in rs)
            other = [f["text"] for r in rs for f in r["found"] if not f["detected"]]
            print(f"  {kind:<36} {size:>5g}: {hit} of {len(rs)} detected; {len(other)} other finding(s)")
            for text in other:
                print(f"      other: {text}")


if __name__ == "__main__":
    raise SystemExit(main())
