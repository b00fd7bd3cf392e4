"""What the review finds on records built from the provider documents, not the sandbox.

    python benchmarks/bench_findings_documents.py [--seeds 8] [--n 30000] [--sources megvii_lite]
                                                  [--kinds segment ...] [--workers 2]

``bench_findings.py`` measures false alarms and detection on the sandbox population, whose
records our own code shapes.  This one takes records of ``benchmarks/gen_records.py`` (every
documented field at the rates a deployment shows, 3% API errors, non-terminal statuses, 3-
and 4-level threshold sets spelled three ways, numbers as text, ties), every record drawn in
full (derived copies keep their template's time): record ``i`` of each source at about
t0 + 37 i s (t0 = 2025-10-09 08:53 UTC), so ``--n`` records of a source cover ``--n`` x 37 s
(30,000: 12.8 days, about 2,300 a day).  ``biz_extra_data`` is ``channel=app&seg=...``,
``{"channel":"web",...}`` or ``...`` in about a third of the records each.

The review window is the whole days inside the data (30,000: 2025-10-10 to 2025-10-22, 12
days); the changes are those of ``bench_findings.py``, same kinds and sizes, placed like
its quarter's: the faceid drop in channel = app, the new ref1 threshold set and the step of
NO_SUCH_ID_NUMBER from the window's middle day, the four-day mask wave from the day before
it.  Each seed is drawn once; the no-change dataset and one dataset per kind and size are
made from it (the plants of ``tests/_planted.py``, which apply to every Megvii shape
gen_records emits; callbacks are signed again), each ingested and reviewed
(``report.review`` with DuckDB).  Prints each dataset's findings count, then false alarms
(no-change datasets with any finding) and, per kind and size, detected / datasets, in the
words of ``bench_findings.py``.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).parent))
import bench_findings as B  # noqa: E402
import gen_records  # noqa: E402

T0 = 1_760_000_000       # gen_records: record i at about T0 + 37 i
SPACING = 37


def plan_for(n: int) -> B.Plan:
    """The window of whole days inside ``n`` records, the changes placed in it."""
    first = dt.datetime.fromtimestamp(T0, dt.timezone.utc).date() + dt.timedelta(days=1)
    last = dt.datetime.fromtimestamp(T0 + SPACING * n, dt.timezone.utc).date()       # exclusive
    if (last - first).days < 8:
        raise SystemExit(f"--n {n} covers {(last - first).days} whole days: at least 8 are needed (--n 24000)")
    mid = first + (last - first) / 2
    return B.Plan(str(first), str(last), segment=str(mid), wave=str(mid - dt.timedelta(days=1)),
                  threshold=str(mid), error=str(mid))


def _seed(job) -> list[dict]:
    """One seed: draw the records once; the no-change dataset and each planted one."""
    seed, n, sources, todo, tmp = job
    from faceanalytics import ingest
    from faceanalytics.report import review

    os.environ.setdefault("MEGVII_API_SECRET", gen_records.SECRET)
    plan = plan_for(n)
    days = (dt.date.fromisoformat(plan.until) - dt.date.fromisoformat(plan.since)).days
    t = time.perf_counter()
    lines = [orjson.dumps(env) for src in sources for env in gen_records._drawn(src, n, seed=seed)]
    draw = time.perf_counter() - t
    out = []
    for kind, size in todo:
        t0 = time.perf_counter()
        d = Path(tempfile.mkdtemp(prefix=f"fa-docs-{seed}-", dir=tmp))
        try:
            f = d / "records.jsonl"
            if kind is None:
                f.write_bytes(b"\n".join(lines) + b"\n")
            else:
                recs = [orjson.loads(x) for x in lines]
                B.planted(recs, kind, size, plan, seed, secret=gen_records.SECRET)
                f.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in recs))
            ingest([f], d / "data")
            t1 = time.perf_counter()
            rv = review(d / "data", plan.since, plan.until, engine="duckdb")
            t2 = time.perf_counter()
        finally:
            shutil.rmtree(d, ignore_errors=True)
        out.append(dict(seed=seed, kind=kind, size=size, n_lite=n, make=t1 - t0 + draw / len(todo), review=t2 - t1,
                        **B.outcome(rv, kind, plan, days)))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=8, help="seeds: each gives a no-change and every planted dataset")
    ap.add_argument("--n", type=int, default=30_000, help="records of each source (30,000: 12.8 days)")
    ap.add_argument("--sources", default="megvii_lite", help="comma-separated gen_records sources")
    ap.add_argument("--kinds", nargs="*", default=None, help="plant kinds to run (words of their names)")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--dir", default=None)
    a = ap.parse_args(argv)
    kinds = [k for k in B.PLANTS if a.kinds is None or any(w in k for w in a.kinds)]
    todo = [(None, None)] + [(k, size) for k in kinds for size in B.PLANTS[k][0]]
    plan = plan_for(a.n)
    sources = a.sources.split(",")
    print(f"{a.n:,} records of {', '.join(sources)} per seed; review {plan.since} to {plan.until}; segment drop, "
          f"threshold set and error step from {plan.segment}, mask wave {plan.wave} for 4 days", flush=True)
    results = B.run(_seed, [(seed, a.n, sources, todo, a.dir) for seed in range(a.seeds)], a.workers)
    B.summary(results, kinds, f"records built from the provider documents: {a.n:,} of each of {', '.join(sources)} "
                              f"({plan.since} to {plan.until}), {a.seeds} seeds")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
