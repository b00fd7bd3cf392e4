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
print(json.dumps(cpu))
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
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="fa-stages-"))
    env = dict(os.environ, MEGVII_API_SECRET=gen_records.SECRET)
    contenders = [("this", env)]
    if args.baseline:
        contenders.insert(0, ("baseline", dict(env, FA_BASELINE=str(Path(args.baseline).resolve()))))
    print(f"load average at start: {os.getloadavg()[0]:.2f}; CPU seconds per stage, least of {args.repeat}")
    try:
        for src in args.sources.split(","):
            f = tmp / f"{src}.jsonl"
            gen_records.write(f, src, args.n, seed=7, wild=args.wild)
            best = {name: dict.fromkeys(STAGES, float("inf")) for name, _ in contenders}
            for _ in range(args.repeat):
                for name, e in contenders:
                    got = _stage_cpu(f, tmp / "data", e)
                    best[name] = {s: min(best[name][s], got[s]) for s in STAGES}
            print(f"{src} ({args.n:,} records" + (f", {args.wild:g} wild)" if args.wild else ")"))
            print(f"  {'':<10}" + "".join(f"{s:>10}" for s in STAGES) + f"{'total':>10}")
            for name, _ in contenders:
                b = best[name]
                print(f"  {name:<10}" + "".join(f"{b[s]:>10.3f}" for s in STAGES) + f"{sum(b.values()):>10.3f}")
            f.unlink()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
