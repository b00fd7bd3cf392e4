"""The same review again (every partition's counts kept): another version against this one, alternating.

    python benchmarks/bench_review_again.py --data DATA --copy COPY --baseline DIR [--repeat 5]

``bench_review_documents.py --baseline`` runs each version's first review, the same again
and again after the latest month changed once, one version after the other: on a shared
machine one run of a 7-second review moves by a second.  This one measures the review a
schedule runs most -- the same review again, the counts of whole partitions read back --
``--repeat`` times per version, alternating, and prints each version's runs and best (CPU
time of the process and its threads, ``wait4``; wall time).

Each version keeps counts under names of its own code and drops the other's, so each
reads its own copy of the data directory: ``--copy`` (made with ``cp -al DATA COPY``: the
tables hard-linked, no space taken; a review writes only ``summaries/``, replacing files,
never changing one in place) is the baseline's, ``--data`` this version's.  Both are
reviewed once first (counts kept), then the runs.  ``--baseline``: a folder holding another
version's ``faceanalytics`` (``git archive REV faceanalytics | tar -x -C DIR``).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_review import REVIEW, SINCE, UNTIL, measure_rss  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="this version's data directory")
    ap.add_argument("--copy", required=True, help="the baseline's copy of it (cp -al DATA COPY)")
    ap.add_argument("--baseline", required=True, help="a folder holding another version's faceanalytics")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--since", default=SINCE)
    ap.add_argument("--until", default=UNTIL)
    a = ap.parse_args(argv)
    sides = (("baseline", a.copy, str(Path(a.baseline).resolve())), ("this version", a.data, None))
    with tempfile.TemporaryDirectory(prefix="fa-bench-again-") as work:
        def run(name, data, package):
            return measure_rss(REVIEW, data, os.path.join(work, f"{name[:4]}.html"), a.since, a.until, "auto",
                               package=package)

        for name, data, package in sides:          # the counts kept, by each version in its copy
            x = run(name, data, package)
            print(f"{name:<14} first (counts kept)  {x['seconds']:6.1f} s {x['cpu']:6.1f} s CPU", flush=True)
        got = {name: [] for name, *_ in sides}
        for i in range(a.repeat):
            for name, data, package in sides:
                x = run(name, data, package)
                got[name].append(x)
                print(f"{name:<14} again {i + 1}             {x['seconds']:6.1f} s {x['cpu']:6.1f} s CPU "
                      f"{x['rss_gib']:5.2f} GiB (load {os.getloadavg()[0]:.1f})", flush=True)
    print()
    for name, runs in got.items():
        cpu = sorted(x["cpu"] for x in runs)
        wall = sorted(x["seconds"] for x in runs)
        print(f"{name:<14} the same review again, {len(runs)} runs: best {cpu[0]:.2f} s CPU / {wall[0]:.2f} s wall, "
              f"median {cpu[len(cpu) // 2]:.2f} s CPU / {wall[len(wall) // 2]:.2f} s wall")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
