"""The review at volume, side by side with DuckDB's plain weekly pass-rate query on the same files.

    python benchmarks/bench_review.py [--rows 200000000] [--dir /tmp] [--keep] [--reuse DIR] [--repeat 2] [--scan]
                                      [--baseline DIR]

1. Writes ``--rows`` comparison rows with the sessions (~0.39 per comparison, with
   ``biz_extra_data`` segment keys as JSON and ``k=v&`` text) and anti-spoofing checks
   (~0.97 per comparison) beside them, laid out as the store writes them
   (``benchmarks/_review_data.py``, which extends ``bench_engines.py``'s generator): a year,
   2025-11 to 2026-10.
2. In its own process each (wall time, peak RSS from ``wait4``), same machine, same run:
   - the baseline: ``engines.pass_rates(DATA, freq="W")`` with DuckDB (2 threads, as
     ``bench_engines.py``) over every comparison;
   - the review: ``faceanalytics review --data DATA --out R.html --since 2026-05-01
     --until 2026-11-01`` (half a year against the half before: every row of the year),
     segments chosen from the data, DuckDB; the report and its findings written.  The
     first counts every row (``DATA/summaries`` removed before it);
   - the same review again: the counts of whole (source, month) partitions are read back
     from ``DATA/summaries`` (:mod:`faceanalytics.engines._kept`);
   - again after the files of the latest month changed (their modification time moved, as
     a day's landing would): that month is counted again, the others read back -- what a
     daily or weekly scheduled review costs;
   - the first review without segments (``segments=[]``): this period counted again;
   - with ``--scan``, the bare scan of every column a review reads in the three tables
     (``SCAN``): the floor under any count taken from the rows (at 200M: 2.0x the baseline's
     CPU, 2.5x its wall time, on a loaded machine).
3. Prints them side by side, the ratios (target: <= 3x the baseline's time) and the peak
   RSS (target: <= 2 GB), each process's CPU time (all threads: steadier than wall time when
   others share the cores), and how long each step of the first review and of the latest
   month's took.

Timings on a shared machine are noisy: the baseline runs before and after the review and
both are printed.  Disk: ~70 bytes per comparison row for the three tables.

``--baseline DIR`` (a folder holding another version's ``faceanalytics``: ``git archive REV
faceanalytics | tar -x -C DIR``) measures instead the first review (nothing kept), with and
without segments, of that version and of this one, alternating, ``--repeat`` rounds beside
DuckDB's weekly pass rates: each version's best and median wall and CPU time, its peak RSS and
the steps of its fastest first review, side by side (same run, same load).  Each run starts
with ``DATA/summaries`` removed, so neither reads what the other kept.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _review_data import make_dataset  # noqa: E402
from bench_engines import clean_up  # noqa: E402

PY = sys.executable
SINCE, UNTIL = "2026-05-01", "2026-11-01"

BASELINE = r"""
import json, sys, time
from faceanalytics import engines as E
t = time.perf_counter()
out = E.pass_rates(sys.argv[1], freq="W", engine=E.DuckDBEngine(threads=2))
print(json.dumps({"seconds": time.perf_counter() - t, "rows": int(out["n"].sum())}))
"""

REVIEW = r"""
import json, sys, time
steps = []
t0 = time.perf_counter()
from faceanalytics.report import review
from faceanalytics.report import _summary
data, out, since, until, segs = sys.argv[1:6]
def progress(name):
    steps.append((name, time.perf_counter() - t0))
r = review(data, since, until, progress=progress, segments=None if segs == "auto" else [])
steps.append(("writing the report", time.perf_counter() - t0))
path = r.write(out)
steps.append(("done", time.perf_counter() - t0))
print(json.dumps({"seconds": time.perf_counter() - t0, "steps": steps, "findings": len(r.findings),
                  "segments": [s.name for s in r.summaries.segments], "tested": r.info.get("tested")}))
"""

# What no counting from the rows can go under: each column a review reads, read once (every value
# touched by a max), the three tables in one process (one interpreter start, as the baseline), on
# DuckDB with the baseline's 2 threads.
SCAN = r"""
import json, sys, time
from faceanalytics import engines as E
data, since, until = sys.argv[1:4]
cols = {"comparisons": ["source", "comparison", "confidence", "thr_1e3", "thr_1e4", "thr_1e5", "thr_1e6",
                        "threshold", "session_time", "attempt", "session_key"],
        "sessions": ["source", "session_key", "request_id", "session_time", "status", "error", "error_message",
                     "liveness_result", "failure_reason", "fail_reason", "verify_error", "time_basis", "fetched_at",
                     "invalid_values", "biz_extra_data"],
        "genuineness": ["source", "attack", "session_time", "confidence", "threshold", "session_key"]}
t = time.perf_counter()
con = E.DuckDBEngine(threads=2).connection()
for table, cs in cols.items():
    src = f"read_parquet('{data}/tables/{table}/*/*/*.parquet', hive_partitioning = true, union_by_name = true)"
    con.sql("SELECT " + ", ".join(f"max({c})" for c in cs) + f" FROM {src} WHERE session_time >= "
            f"TIMESTAMPTZ '{since}' AND session_time < TIMESTAMPTZ '{until}'").fetchall()
print(json.dumps({"seconds": time.perf_counter() - t}))
"""


def scan_floor(data: Path) -> dict:
    """The bare scan of the three tables a review reads (see ``SCAN``), over both periods."""
    prev = (pd_timestamp(SINCE) - (pd_timestamp(UNTIL) - pd_timestamp(SINCE))).isoformat()
    return measure_rss(SCAN, str(data), prev, UNTIL)


def pd_timestamp(x):
    import pandas as pd

    return pd.Timestamp(x, tz="UTC")


def measure_rss(code: str, *args: str, package: str | None = None) -> dict:
    """Run ``code`` in a fresh interpreter: its JSON line, wall time and peak RSS (GiB, ``wait4``'s
    ``ru_maxrss``).  ``package``: a folder holding another version's ``faceanalytics`` to run."""
    t = time.perf_counter()
    env = None if package is None else {**os.environ, "PYTHONPATH": str(package)}
    with tempfile.TemporaryFile() as errf:
        proc = subprocess.Popen([PY, "-c", code, *args], stdout=subprocess.PIPE, stderr=errf, env=env,
                                cwd=package)
        stdout = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t
        if os.waitstatus_to_exitcode(status) != 0:
            errf.seek(0)
            raise SystemExit(f"failed ({status}):\n{errf.read().decode(errors='replace')[-3000:]}")
    res = json.loads(stdout.decode().strip().splitlines()[-1])
    res["wall"] = wall
    res["rss_gib"] = usage.ru_maxrss / 1024 ** 2
    res["cpu"] = usage.ru_utime + usage.ru_stime        # all threads; steadier than wall time on a busy machine
    return res


def side_by_side(data: Path, work: Path, *, repeat: int = 1, scan: bool = False) -> dict:
    """The baseline and the reviews of ``data``, each in its own process, printed side by side
    (what :func:`main` measures; ``bench_review_documents.py`` runs it on ingested tables).
    The reports are written to ``work``; returns the measurements."""
    import duckdb

    counts = {t: duckdb.sql(f"SELECT count(*) FROM read_parquet('{data}/tables/{t}/*/*/*.parquet')").fetchall()[0][0]
              for t in ("comparisons", "sessions", "genuineness")}
    print(", ".join(f"{t} {n:,}" for t, n in counts.items()), flush=True)
    shutil.rmtree(data / "summaries", ignore_errors=True)   # the first review counts every row
    pairs = []
    for i in range(max(1, repeat)):
        b = measure_rss(BASELINE, str(data))
        print(f"baseline (weekly pass rates): {b['seconds']:.1f} s, {b['rss_gib']:.2f} GiB, {b['cpu']:.1f} s CPU",
              flush=True)
        r = measure_rss(REVIEW, str(data), str(work / "review.html"), SINCE, UNTIL, "auto")
        print(f"review{' (first: nothing kept)' if i == 0 else ''}: {r['seconds']:.1f} s, {r['rss_gib']:.2f} GiB, "
              f"{r['cpu']:.1f} s CPU ({r['seconds'] / b['seconds']:.1f}x the baseline just before; "
              f"load {os.getloadavg()[0]:.1f})", flush=True)
        pairs.append((b, r))
    base1, rev = pairs[0]
    warm = measure_rss(REVIEW, str(data), str(work / "again.html"), SINCE, UNTIL, "auto")
    print(f"the same review again: {warm['seconds']:.1f} s, {warm['rss_gib']:.2f} GiB, {warm['cpu']:.1f} s CPU",
          flush=True)
    latest = max(p.name for p in (data / "tables" / "comparisons").glob("source=*/month=*"))
    for f in (data / "tables").glob(f"*/source=*/{latest}/part-*.parquet"):   # as a day's landing would
        os.utime(f)
    moved = measure_rss(REVIEW, str(data), str(work / "moved.html"), SINCE, UNTIL, "auto")
    print(f"again after the files of {latest} changed: {moved['seconds']:.1f} s, {moved['rss_gib']:.2f} GiB, "
          f"{moved['cpu']:.1f} s CPU", flush=True)
    flat = measure_rss(REVIEW, str(data), str(work / "flat.html"), SINCE, UNTIL, "none")
    print(f"review without segments: {flat['seconds']:.1f} s, {flat['rss_gib']:.2f} GiB, {flat['cpu']:.1f} s CPU",
          flush=True)
    base2 = measure_rss(BASELINE, str(data))
    floor = scan_floor(data) if scan else None
    base = min([base2["seconds"], *(b["seconds"] for b, _ in pairs)])
    print()
    print(f"load average: {os.getloadavg()[0]:.1f} (1 min) / {os.getloadavg()[2]:.1f} (15 min), "
          f"{os.cpu_count()} cores, shared machine")
    print(f"{'':<52}{'time':>10}{'peak RSS':>12}")
    print(f"{'DuckDB weekly pass rates, all comparisons':<52}{base1['seconds']:>8.1f} s{base1['rss_gib']:>8.2f} GiB"
          f"   (again after the reviews: {base2['seconds']:.1f} s)")
    rows = [("review, half a year vs the half before", rev, "every row counted"),
            ("the same review again", warm, "whole partitions read back"),
            (f"again, the files of {latest} changed", moved, "that month counted again"),
            ("the first without segments", flat, "this period counted again")]
    for label, x, why in rows:
        print(f"{label:<52}{x['seconds']:>8.1f} s{x['rss_gib']:>8.2f} GiB   ({x['seconds'] / base:.1f}x the "
              f"baseline; {why})")
    for i, (b, r) in enumerate(pairs[1:], 2):
        print(f"{f'pair {i}: baseline / review':<52}{b['seconds']:>8.1f} s / {r['seconds']:.1f} s, "
              f"{r['rss_gib']:.2f} GiB   ({r['seconds'] / b['seconds']:.1f}x)")
    cpu_base = min([base2["cpu"], *(b["cpu"] for b, _ in pairs)])
    print(f"{'CPU time (all threads, with interpreter start)':<52}{rev['cpu']:>8.1f} s first review, "
          f"{warm['cpu']:.1f} s again, {cpu_base:.1f} s baseline ({rev['cpu'] / cpu_base:.1f}x, "
          f"{warm['cpu'] / cpu_base:.1f}x)")
    if floor is not None:
        print(f"{'bare scan of what a review reads (3 tables)':<52}{floor['seconds']:>8.1f} s   ({floor['seconds'] / base:.1f}x "
              f"the baseline; {floor['cpu']:.1f} s CPU, {floor['cpu'] / cpu_base:.1f}x its CPU: no count from the rows "
              f"goes under it)")
    peak = max(x["rss_gib"] for _, x, _ in rows)
    for label, x in (("first review", rev), ("again, latest month changed", moved)):
        ratio = x["seconds"] / base
        print(f"{label}: {ratio:.1f}x the fastest baseline (target <= 3x: {'ok' if ratio <= 3 else 'MISSED'})")
    print(f"peak RSS {peak:.2f} GiB (target <= 2 GB = 1.86 GiB: {'ok' if peak * 1.0737 <= 2 else 'MISSED'})")
    for label, x in (("first review", rev), ("again, latest month changed", moved)):
        print(label)
        # each step runs from its mark to the next one
        marks = [("the period and its segment keys", 0.0), *x["steps"]]
        for (name, at), (_, nxt) in zip(marks, marks[1:]):
            name = {"errors and quarantine": "errors, quarantine, then the findings"}.get(name, name)
            print(f"  {name:<38} {nxt - at:7.1f} s   ({at:.1f} to {nxt:.1f} s)")
    print(f"segments {rev['segments']}, {rev['tested']:,} series tested, {rev['findings']} finding(s)")
    return {"baseline": base, "first": rev, "again": warm, "moved": moved, "flat": flat}


def against(data: Path, work: Path, baseline: Path, *, repeat: int = 3) -> dict:
    """The first review (nothing kept; with the segments chosen from the data, and without any)
    of ``baseline``'s package and of this one, alternating, ``repeat`` rounds, beside DuckDB's
    weekly pass rates: printed side by side; returns the runs."""
    import duckdb

    counts = {t: duckdb.sql(f"SELECT count(*) FROM read_parquet('{data}/tables/{t}/*/*/*.parquet')").fetchall()[0][0]
              for t in ("comparisons", "sessions", "genuineness")}
    print(", ".join(f"{t} {n:,}" for t, n in counts.items()), flush=True)
    sides = (("baseline", str(baseline)), ("this version", None))
    runs: dict = {("weekly", None): []}
    runs.update({(kind, name): [] for kind in ("first", "flat") for name, _ in sides})
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (shared machine)", flush=True)
    for i in range(max(1, repeat)):
        b = measure_rss(BASELINE, str(data))
        runs[("weekly", None)].append(b)
        print(f"round {i + 1}: DuckDB weekly pass rates {b['seconds']:.1f} s, {b['cpu']:.1f} s CPU", flush=True)
        for kind, segs in (("first", "auto"), ("flat", "none")):
            for name, package in (sides if i % 2 == 0 else sides[::-1]):
                shutil.rmtree(data / "summaries", ignore_errors=True)      # nothing kept: the first review
                x = measure_rss(REVIEW, str(data), str(work / f"{name[:4]}-{kind}.html"), SINCE, UNTIL, segs,
                                package=package)
                runs[(kind, name)].append(x)
                print(f"  {name:<13} {kind:<6} {x['seconds']:6.1f} s {x['cpu']:6.1f} s CPU {x['rss_gib']:5.2f} GiB "
                      f"(load {os.getloadavg()[0]:.1f})", flush=True)
    shutil.rmtree(data / "summaries", ignore_errors=True)

    def best(xs, k):
        v = sorted(x[k] for x in xs)
        return v[0], v[len(v) // 2]
    wk = runs[("weekly", None)]
    bw, bc = best(wk, "seconds")[0], best(wk, "cpu")[0]
    print()
    print(f"load average: {os.getloadavg()[0]:.1f} (1 min) / {os.getloadavg()[2]:.1f} (15 min), "
          f"{os.cpu_count()} cores, shared machine; {repeat} round(s), versions alternated")
    print(f"{'':<44}{'wall best/median':>18}{'CPU best/median':>18}{'peak':>10}   ratio to weekly (wall, CPU)")
    print(f"{'DuckDB weekly pass rates':<44}{bw:>8.1f} /{best(wk, 'seconds')[1]:>6.1f} s{bc:>9.1f} /"
          f"{best(wk, 'cpu')[1]:>6.1f} s{max(x['rss_gib'] for x in wk):>6.2f} GiB")
    for kind, label in (("first", "first review, segments chosen"), ("flat", "first review, no segment")):
        for name, _ in sides:
            xs = runs[(kind, name)]
            w, c = best(xs, "seconds"), best(xs, "cpu")
            print(f"{label + ', ' + name:<44}{w[0]:>8.1f} /{w[1]:>6.1f} s{c[0]:>9.1f} /{c[1]:>6.1f} s"
                  f"{max(x['rss_gib'] for x in xs):>6.2f} GiB   {w[0] / bw:.1f}x, {c[0] / bc:.1f}x")
    for name, _ in sides:
        x = min(runs[("first", name)], key=lambda r: r["cpu"])
        marks = [("the period and its segment keys", 0.0), *x["steps"]]
        print(f"steps of {name}'s first review with the least CPU ({x['cpu']:.1f} s CPU, {x['seconds']:.1f} s):")
        for (step, at), (_, nxt) in zip(marks, marks[1:]):
            print(f"  {step:<38} {nxt - at:7.1f} s")
    return runs


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=200_000_000)
    ap.add_argument("--dir", default=None, help="where to write the data (default: the system temp dir)")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--keep", action="store_true", help="keep the data afterwards")
    ap.add_argument("--reuse", default=None, help="a data directory written by an earlier --keep run")
    ap.add_argument("--repeat", type=int, default=1, help="baseline and review pairs to run (the machine is shared)")
    ap.add_argument("--scan", action="store_true", help="also time the bare scan of the columns a review reads")
    ap.add_argument("--baseline", default=None,
                    help="a folder holding another version's faceanalytics package: its first review and this "
                         "one's, alternating, side by side (see above)")
    a = ap.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="fa-bench-review-", dir=a.dir))
    data = Path(a.reuse) if a.reuse else work / "data"
    try:
        if not a.reuse:
            need = a.rows * 75
            free = shutil.disk_usage(work).free
            if free < need:
                raise SystemExit(f"{work}: {free / 1e9:.0f} GB free, about {need / 1e9:.0f} GB needed")
            size, secs = make_dataset(data, a.rows, a.workers)
            print(f"wrote {a.rows:,} comparison rows and the sessions and checks beside them ({size / 1e9:.1f} GB "
                  f"Parquet) in {secs:.0f} s: {data}", flush=True)
        if a.baseline:
            against(data, work, Path(a.baseline).resolve(), repeat=a.repeat)
            if a.scan:
                floor = scan_floor(data)
                print(f"bare scan of what a review reads (3 tables): {floor['seconds']:.1f} s, {floor['cpu']:.1f} s CPU")
        else:
            side_by_side(data, work, repeat=a.repeat, scan=a.scan)
    finally:
        clean_up(work, data, keep=a.keep, reuse=a.reuse)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
