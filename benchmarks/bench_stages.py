"""CPU per ingest stage, this version beside another in the same run.

    python benchmarks/bench_stages.py [--n 100000] [--sources megvii_lite,megvii_liveness]
                                      [--repeat 3] [--baseline DIR] [--wild 0.5]

``ingest`` runs three threads (reader: clean and parse a chunk; flattener: the columnar
extract; committer: dedupe, media packs, Parquet writes) and an archive thread.  On a
shared machine their wall times say little; this runs each stage alone, on one thread,
over the same chunks of records generated from the field spec (``gen_records.py``), and
prints the CPU seconds of each (``time.thread_time``), least of ``--repeat`` runs, each
contender in its own process, runs alternated.  ``--baseline DIR``: a copy of another
version's ``faceanalytics`` package (``git archive REV faceanalytics | tar -x -C DIR``).
``--wild 0.5``: half of the records given a wild shape (``bench_ingest.py``'s part 3).
``--steps``: the read stage's CPU by sub-step too (the functions of ``flatten._fast`` it
spends it in, each timed where it is called (one inside another counts in both), least of
the runs; a function another version lacks is absent).
The whole process's figures are ``bench_ingest.py``'s.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

STAGES = ("archive", "read", "flatten", "commit")

CHILD = r"""
import json, os, shutil, sys, time
if os.environ.get("FA_BASELINE"):
    sys.path.insert(0, os.environ["FA_BASELINE"])
from faceanalytics.pipeline._chunks import iter_chunks, segment_chunks
from faceanalytics.pipeline.ingest import Ingestor

path, work = sys.argv[1], sys.argv[2]
shutil.rmtree(work, ignore_errors=True)
steps = {}
if os.environ.get("FA_STEPS"):  # the read stage's sub-steps: each function timed where it is called
    import faceanalytics.flatten._fast as F

    def timed(name, f):
        def g(*a, **k):
            c = time.thread_time()
            try:
                return f(*a, **k)
            finally:
                steps[name] = steps.get(name, 0.0) + time.thread_time() - c
        return g
    for name in ("_read", "_grouped", "_numbers_as_text", "_unquote_numbers", "_quote_codes", "_quote",
                 "_probe_names", "_subset", "_key_mismatch", "_read_around"):
        if hasattr(F, name):
            setattr(F, name, timed(name, getattr(F, name)))
ing = Ingestor(work, archive=False)  # the archive stage is timed apart, on this thread
cpu = dict.fromkeys(("archive", "read", "flatten", "commit"), 0.0)
fh = open(path, "rb")
chunks = segment_chunks(iter_chunks(fh, 10_000), 10_000)
while True:
    c = time.thread_time()
    item = next(chunks, None)  # the file read in blocks: the reader thread's work too
    cpu["read"] += time.thread_time() - c
    if item is None:
        break
    first, block = item
    c = time.thread_time()
    lines, line_nos, joined = block.clean(first)
    plan = ing.archive.plan_segment(lines, source_hint=None, origin="bench", joined=joined, received_at=None)
    ing.archive.write_planned(plan, lines, joined)
    cpu["archive"] += time.thread_time() - c
    c = time.thread_time()
    read = ing._read(block, source_hint=None, origin="bench", first_line_no=first)
    cpu["read"] += time.thread_time() - c
    c = time.thread_time()
    prepared = ing._prepare_read(read, source_hint=None, origin="bench")
    cpu["flatten"] += time.thread_time() - c
    c = time.thread_time()
    ing.finish(prepared)
    cpu["commit"] += time.thread_time() - c
fh.close()
ing.close()
print(json.dumps(dict(cpu, **{"read:" + k: v for k, v in steps.items()})))
"""


def _stage_cpu(path: Path, work: Path, env: dict) -> dict:
    """One contender's CPU per stage (its own process)."""
    out = subprocess.run([sys.executable, "-c", CHILD, str(path), str(work)], env=env, check=True,
                         capture_output=True, text=True).stdout
    shutil.rmtree(work, ignore_errors=True)
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    import gen_records

    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--sources", default="megvii_lite,megvii_liveness")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--baseline", default=None)
    ap.add_argument("--wild", type=float, default=0.0, help="share of records given a wild shape")
    ap.add_argument("--steps", action="store_true", help="the read stage's CPU by sub-step too")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="fa-stages-"))
    env = dict(os.environ, MEGVII_API_SECRET=gen_records.SECRET)
    if args.steps:
        env["FA_STEPS"] = "1"
    contenders = [("this", env)]
    if args.baseline:
        contenders.insert(0, ("baseline", dict(env, FA_BASELINE=str(Path(args.baseline).resolve()))))
    print(f"load average at start: {os.getloadavg()[0]:.2f}; CPU seconds per stage, least of {args.repeat}")
    try:
        for src in args.sources.split(","):
            f = tmp / f"{src}.jsonl"
            gen_records.write(f, src, args.n, seed=7, wild=args.wild)
            best = {name: {} for name, _ in contenders}
            for _ in range(args.repeat):
                for name, e in contenders:
                    got = _stage_cpu(f, tmp / "data", e)
                    best[name] = {k: min(best[name].get(k, float("inf")), v) for k, v in got.items()}
            print(f"{src} ({args.n:,} records" + (f", {args.wild:g} wild)" if args.wild else ")"))
            print(f"  {'':<10}" + "".join(f"{s:>10}" for s in STAGES) + f"{'total':>10}")
            for name, _ in contenders:
                b = best[name]
                print(f"  {name:<10}" + "".join(f"{b[s]:>10.3f}" for s in STAGES) + f"{sum(b[s] for s in STAGES):>10.3f}")
            if args.steps:
                names = sorted({k for b in best.values() for k in b if k.startswith("read:")},
                               key=lambda k: -max(b.get(k, 0.0) for b in best.values()))
                for name, _ in contenders:
                    print(f"  {name:<10} read by sub-step: " + "  ".join(
                        f"{k[5:].lstrip('_')} {best[name][k]:.3f}" for k in names if k in best[name]))
            f.unlink()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
