"""Where an ingest's "rest" goes: its CPU time per stage, per record, beside another version.

    python benchmarks/bench_rest.py [--baseline DIR] [--n 100000] [--repeat 1]
                                    [--sources megvii_lite,megvii_liveness,baidu_getall,baidu_getall:wild]

``bench_baidu_python.py`` splits a whole ingest's CPU time into start, read, flatten, to
Arrow, and the rest (its time less those): the archive, the Parquet files and the commit.
This script splits that rest.  Each contender (this checkout, and ``--baseline``'s package)
ingests the same file in a process of its own (``ingest()`` in that process, its pipeline's
threads as they run), with the CPU time of its own thread counted around each stage below
(``time.thread_time``; a stage inside another is counted in both), and the process's CPU
time, minor page faults and peak RSS beside them.  ``SOURCE:wild``: the source's records,
every one given a wild shape, through the Python flatteners alone (``--python-path``).
Records from ``gen_records.py``.  The process's allocator is set as the CLI sets it for
a streaming command (``cli._streaming_memory`` and ``pipeline._arrow``, whichever the
version has), before pyarrow loads.

Stages (us/record):

- ``parse``: the reader thread's columnar parse of a chunk (``flatten.read_chunk``);
- ``flatten``: the flattening of a chunk, fast path and Python path (``Ingestor._flatten``:
  ``flatten_fast`` + the Python flatteners + their rows to Arrow + ``_Batch.finalize``);
- ``archive``: naming and writing a chunk's raw segment (``Ingestor._archive``), of which
  ``hash`` (``archive._digest``) and ``zstd`` (``archive._compress``);
- ``finish``: deciding what lands and committing it (``Ingestor.finish``), of which
  ``plan`` (dedupe against the index, ``_plan``, with ``packs``: the images written,
  ``_pack_media``, and ``mask``: names seen masked in text, ``mask_seen_in_text``),
  ``keys`` (``session_key`` of every row, ``tables._with_keys``), ``scrub`` (personal data
  masked, ``scrub_table``), ``parquet`` (the files encoded and written, ``_write_parquet``)
  and ``record`` (the commit record written, fsync'd, applied: ``_commit_plan``);
- ``other``: the process's CPU time less parse, flatten, archive and finish (start-up,
  imports, reading the file, the pipeline's threads, freeing what a chunk held).
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
import gen_records  # noqa: E402

STAGES = ("parse", "flatten", "archive", "hash", "zstd", "finish", "plan", "packs", "mask", "keys", "scrub",
          "parquet", "record", "other")

CHILD = r"""
import json, os, resource, sys, threading, time
pkg = sys.argv[3]
sys.path.insert(0, pkg)
from faceanalytics import cli
if hasattr(cli, "_STREAMING"):   # the allocator as the CLI sets it for a streaming command
    try:
        from faceanalytics.pipeline._arrow import arrow_with_system_allocator, arrow_without_pandas
        arrow_with_system_allocator()
    except ImportError:
        arrow_without_pandas = None
    if hasattr(cli, "_streaming_memory"):
        cli._streaming_memory()
    if arrow_without_pandas is not None:
        arrow_without_pandas()
import faceanalytics.pipeline.ingest as ing
import faceanalytics.storage.archive as ar
import faceanalytics.storage.tables as tb
import faceanalytics.pipeline.pii as pii

spent, lock = {}, threading.Lock()

def timed(label, f):
    def w(*a, **k):
        t = time.thread_time()
        try:
            return f(*a, **k)
        finally:
            d = time.thread_time() - t
            with lock:
                spent[label] = spent.get(label, 0.0) + d
    return w

for owner, name, label in ((ing, "read_chunk", "parse"), (ing.Ingestor, "_flatten", "flatten"),
                           (ing.Ingestor, "_archive", "archive"), (ar, "_digest", "hash"),
                           (ar, "_compress", "zstd"), (ing.Ingestor, "finish", "finish"),
                           (ing.Ingestor, "_plan", "plan"), (ing.Ingestor, "_pack_media", "packs"),
                           (ing, "mask_seen_in_text", "mask"), (tb, "_with_keys", "keys"),
                           (ing, "scrub_table", "scrub"), (tb, "_write_parquet", "parquet"),
                           (tb.Store, "_commit_plan", "record")):
    if hasattr(owner, name):
        setattr(owner, name, timed(label, getattr(owner, name)))
t0 = time.process_time()
rep = ing.ingest([sys.argv[1]], sys.argv[2], fast=sys.argv[4] != "wild")
ru = resource.getrusage(resource.RUSAGE_SELF)
spent["cpu"] = ru.ru_utime + ru.ru_stime
spent["other"] = spent["cpu"] - sum(spent.get(k, 0.0) for k in ("parse", "flatten", "archive", "finish"))
spent["faults"] = ru.ru_minflt
spent["peak_mib"] = ru.ru_maxrss / 1024
spent["landed"] = rep.landed
print(json.dumps(spent))
"""


def run(pkg: Path, path: Path, work: Path, mode: str) -> dict:
    data = work / "data"
    shutil.rmtree(data, ignore_errors=True)
    env = dict(os.environ, MEGVII_API_SECRET=gen_records.SECRET)
    out = subprocess.run([sys.executable, "-c", CHILD, str(path), str(data), str(pkg), mode],
                         capture_output=True, text=True, env=env, check=True)
    shutil.rmtree(data, ignore_errors=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--baseline", help="a directory holding another version's faceanalytics package")
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=1, help="runs of each contender, alternately; the least CPU kept")
    ap.add_argument("--sources", default="megvii_lite,megvii_liveness,baidu_getall,baidu_getall:wild")
    args = ap.parse_args()
    this = HERE.parent
    contenders = [("this", this)] + ([("baseline", Path(args.baseline).resolve())] if args.baseline else [])
    tmp = Path(tempfile.mkdtemp(prefix="fa-bench-rest-"))
    print(f"load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; {args.n:,} records a source, "
          f"best of {args.repeat} (CPU)")
    print(f"  {'source':<22}{'version':<10}" + "".join(f"{s:>9}" for s in STAGES)
          + f"{'CPU s':>8}{'faults':>9}{'peak MiB':>10}")
    try:
        for spec in args.sources.split(","):
            src, _, mode = spec.partition(":")
            f = tmp / f"{src}-{mode or 'clean'}.jsonl"
            gen_records.write(f, src, args.n, seed=5, wild=1.0 if mode == "wild" else 0.0)
            best: dict[str, dict] = {}
            for _ in range(args.repeat):
                for name, pkg in contenders:
                    got = run(pkg, f, tmp, mode or "fast")
                    if name not in best or got["cpu"] < best[name]["cpu"]:
                        best[name] = got
            for name, _ in contenders:
                b = best[name]
                us = 1e6 / args.n
                print(f"  {spec:<22}{name:<10}" + "".join(f"{b.get(s, 0.0) * us:>9.1f}" for s in STAGES)
                      + f"{b['cpu']:>8.2f}{b['faults']:>9,}{b['peak_mib']:>10.0f}")
            f.unlink()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
