"""The Python path alone on Baidu records, this version beside another, in the same run.

    python benchmarks/bench_baidu_python.py --baseline DIR [--n 50000] [--wild 0.5]
                                            [--sources baidu_detail,baidu_getall] [--repeat 3]

What is left to the Python flatteners of a Baidu file is its records of a shape the spec
does not describe (an object sent as JSON text, an object where a value is documented):
``faceanalytics ingest --python-path`` sends every record there, so that their cost
per record is measured on a whole file.  Records from ``gen_records.py`` (``--wild``:
the share given a wild shape).  Each contender runs in its own process, the two
alternately (``bench_ingest.alternate``); the best of ``--repeat`` runs is kept, and
the CPU time (``wait4``: user + system) is printed beside the wall time, which
stretches with the load of a shared machine.
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
    print(f"the Python path alone (--python-path), {args.n:,} records, {args.wild:.0%} wild, "
          f"best of {args.repeat}")
    print(f"  {'source':<14}{'baseline s':>11}{'CPU s':>8}{'this s':>9}{'CPU s':>8}{'CPU x':>8}"
          f"{'us/record':>11}")
    try:
        for src in args.sources.split(","):
            f = tmp / f"{src}.jsonl"
            gen_records.write(f, src, args.n, seed=5, wild=args.wild)
            ours, base = bench_ingest.alternate(f, tmp, src, args.repeat, "--python-path",
                                                env=env, base_env=base_env)
            print(f"  {src:<14}{base[0]:>11.2f}{base[3]:>8.2f}{ours[0]:>9.2f}{ours[3]:>8.2f}"
                  f"{base[3] / ours[3]:>7.2f}x{ours[3] / args.n * 1e6:>11.1f}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
