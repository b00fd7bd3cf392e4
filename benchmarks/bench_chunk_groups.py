"""CPU of the columnar path per 10,000-record chunk, and how many groups a chunk is read as,
side by side with a baseline package in the same run.

    python benchmarks/bench_chunk_groups.py --baseline DIR [--sources megvii_lite,megvii_liveness]
                                            [--chunks 3] [--repeat 3] [--wild 0.0]

Records from ``gen_records.py`` (5% of them send every number as text).  Each contender
runs in its own process, alternated; each reads the same chunks (``_columnar.read_chunk``
on one thread: the reading thread's work) and flattens them (``flatten_fast``: the flattening thread's),
timed by the process's CPU (``getrusage``), best of ``--repeat`` passes, per chunk.  The
ingest benchmark (``bench_ingest.py``) gives the whole process's figures; this one the two
steps a change of grouping moves, with less of the machine's noise.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _measure(source: str, chunks: int, repeat: int, wild: float) -> dict:
    """In the contender's process: CPU ms per chunk of reading and flattening, groups per chunk."""
    import gen_records
    from faceanalytics.flatten._columnar import flatten_fast, read_chunk
    from faceanalytics.pipeline.pii import Masker

    data = [gen_records.lines(source, 10000, seed=s, wild=wild) for s in range(chunks)]
    masker = Masker(b"k" * 32)
    best_read = best_flat = float("inf")
    groups = 0
    for _ in range(repeat):
        t_read = t_flat = 0.0
        groups = 0
        for lines in data:
            joined = b"\n".join(lines)
            t0 = _cpu()
            parsed = read_chunk(lines, joined, threads=False)  # as the ingest pipeline reads
            t1 = _cpu()
            flatten_fast(lines, None, 0, masker, parsed=parsed, secret=gen_records.SECRET)
            t_read, t_flat = t_read + t1 - t0, t_flat + _cpu() - t1
            groups += len(parsed.groups)
        best_read, best_flat = min(best_read, t_read), min(best_flat, t_flat)
    return {"read_ms": 1000 * best_read / chunks, "flatten_ms": 1000 * best_flat / chunks,
            "groups": groups / chunks}


def _run(pkg: str | None, source: str, args) -> dict:
    env = dict(os.environ, MEGVII_API_SECRET="x")
    if pkg:
        env["PYTHONPATH"] = pkg
    code = ("import sys, json; sys.path.insert(0, %r); sys.path.insert(1, %r); import bench_chunk_groups as b; "
            "print(json.dumps(b._measure(%r, %d, %d, %r)))"
            % (pkg or str(HERE.parent), str(HERE), source, args.chunks, args.repeat, args.wild))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True,
                         cwd="/")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--baseline", required=True, help="a directory holding another version's faceanalytics")
    ap.add_argument("--sources", default="megvii_lite,megvii_liveness")
    ap.add_argument("--chunks", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--wild", type=float, default=0.0)
    args = ap.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    print(f"  {'source':<16} {'version':<9} {'groups':>6} {'read ms':>8} {'flatten ms':>10} {'sum ms':>7}")
    for source in args.sources.split(","):
        runs = {"baseline": [], "this": []}
        for _ in range(2):  # alternated: each contender twice, the better kept
            runs["baseline"].append(_run(str(Path(args.baseline).resolve()), source, args))
            runs["this"].append(_run(None, source, args))
        sums = {}
        for name, got in runs.items():
            best = min(got, key=lambda r: r["read_ms"] + r["flatten_ms"])
            sums[name] = best["read_ms"] + best["flatten_ms"]
            print(f"  {source:<16} {name:<9} {best['groups']:>6.1f} {best['read_ms']:>8.1f} "
                  f"{best['flatten_ms']:>10.1f} {sums[name]:>7.1f}")
        print(f"  {source:<16} this version: {100 * (sums['this'] / sums['baseline'] - 1):+.1f}% CPU per chunk")
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
