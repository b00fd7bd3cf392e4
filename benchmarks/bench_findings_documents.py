"""False alarms of the review on records built from the provider documents, not the sandbox.

    python benchmarks/bench_findings_documents.py [--seeds 3] [--n 30000] [--sources megvii_lite]

``bench_findings.py`` measures false alarms and detection on the sandbox population.  This one
takes records of ``benchmarks/gen_records.py`` (every documented field at the rates a deployment
shows, 3% API errors, non-terminal statuses, 3- and 4-level threshold sets, numbers as text,
ties): record ``i`` of each source at about ``i`` x 37 s, every record drawn in full, nothing
changing over time, so any finding of the review over the days the data covers is a false alarm.  Prints the findings of each seed.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).parent))
import gen_records  # noqa: E402

from faceanalytics import ingest, load  # noqa: E402
from faceanalytics.report import review  # noqa: E402


def one(seed: int, n: int, sources: list[str], work: Path) -> tuple[int, list[str], str]:
    d = work / f"data-{seed}"
    files = []
    for src in sources:
        f = work / f"{src}-{seed}.jsonl"
        with open(f, "wb") as out:
            for env in gen_records._drawn(src, n, seed=seed):    # every record drawn in full (no copies:
                out.write(orjson.dumps(env) + b"\n")              # derived copies keep their template's time)
        files.append(f)
    ingest(files, d)
    t0, t1 = 1_760_000_000, 1_760_000_000 + 37 * n     # gen_records: record i at about t0 + 37 i

    since = time.strftime("%Y-%m-%d", time.gmtime(t0 + 2 * 86400))     # whole days inside the data
    until = time.strftime("%Y-%m-%d", time.gmtime(t1 - 86400))
    rv = review(d, since, until, engine="duckdb")
    n_cmp = len(load(d, "comparisons", since=since, until=until, columns=["confidence"]))
    shutil.rmtree(d, ignore_errors=True)
    for f in files:
        os.unlink(f)
    found = [orjson.dumps(f.as_json()).decode()[:240] for f in rv.findings]
    return len(found), found, f"{since} to {until}, {n_cmp:,} comparisons"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--n", type=int, default=30_000, help="records of each source (30,000: 12.8 days)")
    ap.add_argument("--sources", default="megvii_lite")
    a = ap.parse_args(argv)
    os.environ.setdefault("MEGVII_API_SECRET", gen_records.SECRET)
    work = Path(tempfile.mkdtemp(prefix="fa-bench-docs-"))
    alarms = 0
    try:
        for seed in range(a.seeds):
            t = time.perf_counter()
            k, found, window = one(seed, a.n, a.sources.split(","), work)
            alarms += k > 0
            print(f"seed {seed}: {a.n:,} records of {a.sources}, review {window}: {k} finding(s) "
                  f"({time.perf_counter() - t:.0f} s)", flush=True)
            for f in found:
                print("    " + f)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"False alarms: {alarms} of {a.seeds} no-change datasets built from the documents had any finding")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
