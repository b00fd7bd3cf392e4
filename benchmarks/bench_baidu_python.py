"""The Python path alone on Baidu records, beside the naive script and another version, in one run.

    python benchmarks/bench_baidu_python.py --baseline DIR [--n 50000] [--wild 0.5]
                                            [--sources baidu_detail,baidu_getall] [--repeat 3]

Issue 12 asks the Python path to be at least 2x faster than the naive script
(``bench_ingest.NAIVE``: ``json.loads`` + ``json_normalize`` + ``to_parquet``) on input
where every row takes it; ``bench_ingest.py`` part 4 measures that on Lite records, this
script on Baidu's (``x naive``: the naive script's time over ours; the target is printed).

What is left to the Python flatteners of a Baidu file is its records of a shape the spec
does not describe (an object sent as JSON text, an object where a value is documented):
``faceanalytics ingest --python-path`` sends every record there, so that their cost
per record is measured on a whole file.  Records from ``gen_records.py`` (``--wild``:
the share given a wild shape).  Each contender runs in its own process, the two
alternately (``bench_ingest.alternate``); the best of ``--repeat`` runs is kept, and
the CPU time (``wait4``: user + system) is printed beside the wall time, which
stretches with the load of a shared machine (``x naive CPU``: the naive script's CPU
time over ours).

Both packages are byte-compiled first (``compileall``), as an installed package is:
where ``PYTHONDONTWRITEBYTECODE`` is set (a sandbox, a CI image) every contender
would otherwise compile the ~30 modules an ingest imports from source at every start,
~0.05-0.07 s of CPU a process (0.38 -> 0.31 s for 10 records) that the naive script (pandas ships compiled) never pays.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import bench_ingest  # noqa: E402
import gen_records  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--baseline", required=True,
                    help="a directory holding another version's faceanalytics package")
    ap.add_argument("--n", type=int, default=50_000)
    ap.add_argument("--wild", type=float, default=0.5)
    ap.add_argument("--sources", default="baidu_detail,baidu_getall")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="fa-bench-py-"))
    env = dict(os.environ, MEGVII_API_SECRET=gen_records.SECRET)
    base_env = dict(env, FA_BASELINE=str(Path(args.baseline).resolve()))
    print(f"load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    print(f"byte-compiled: {bench_ingest.compile_package(env)} and {bench_ingest.compile_package(base_env)}")
    print(f"the Python path alone (--python-path), {args.n:,} records, {args.wild:.0%} wild, "
          f"best of {args.repeat}")
    print(f"  {'source':<14}{'naive s':>9}{'CPU s':>8}{'baseline s':>11}{'CPU s':>8}{'this s':>9}{'CPU s':>8}"
          f"{'CPU x':>8}{'us/record':>11}{'x naive':>9}{'x naive CPU':>13}")
    results = []
    try:
        for src in args.sources.split(","):
            f = tmp / f"{src}.jsonl"
            gen_records.write(f, src, args.n, seed=5, wild=args.wild)
            naive = bench_ingest.best(bench_ingest.NAIVE, f, tmp, "naive", args.repeat, env=env)
            ours, base = bench_ingest.alternate(f, tmp, src, args.repeat, "--python-path",
                                                env=env, base_env=base_env)
            print(f"  {src:<14}{naive[0]:>9.2f}{naive[3]:>8.2f}{base[0]:>11.2f}{base[3]:>8.2f}{ours[0]:>9.2f}"
                  f"{ours[3]:>8.2f}{base[3] / ours[3]:>7.2f}x{ours[3] / args.n * 1e6:>11.1f}{naive[0] / ours[0]:>8.2f}x"
                  f"{naive[3] / ours[3]:>12.2f}x")
            results.append((src, naive[0] / ours[0]))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for src, x in results:
        bench_ingest.target(f"{src}: Python path over naive", x, 2, "x", False)
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
