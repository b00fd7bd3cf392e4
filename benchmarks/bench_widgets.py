"""The threshold explorer side by side: a data directory of 100M comparisons counted where it
lives, the in-memory explorer on what fits, and DuckDB's plain weekly query on the same files.

    python benchmarks/bench_widgets.py [--rows 100000000] [--small-rows 1000000] [--changes 40]
                                       [--dir DIR] [--keep] [--reuse BIG SMALL]

1. Writes two data directories with ``benchmarks/_review_data.py`` (the review's generator:
   ``bench_engines.py``'s comparisons for a year, 2025-11 to 2026-10, with the sessions beside
   them, whose ``biz_extra_data`` carries a ``channel`` key as JSON or ``k=v&`` text, and the
   anti-spoofing checks): ``--rows`` and ``--small-rows`` comparisons.  The disk is checked
   first (~70 bytes a comparison); both are deleted at the end unless ``--keep``.
2. Each in its own process (peak RSS from ``wait4``'s ``ru_maxrss``, interpreter included):
   - the baseline: ``engines.pass_rates(DATA, freq="W")`` with DuckDB (2 threads), the plain
     weekly pass-rate query over every comparison;
   - the data-directory explorer, ``threshold_explorer(DATA, since, until, segments=["channel"])``
     (DuckDB within the review's 1 GB): the time to open, then one scripted sequence of
     ``--changes`` control changes as a notebook user makes them (``control.value = ...``:
     custom-cut slider moves, levels, the current level, weeks, segment values, comparison
     kinds), each timed until the counts and the figure are updated and until the rows
     nearest the cut are there too (in a notebook they arrive in the background);
   - the in-memory explorer on the small data: ``fa.load`` of the comparisons and sessions,
     then ``threshold_explorer(frames, ...)`` and the same sequence.
   The same sequence is replayed a second time in each process ("warm": histograms and rows
   already fetched).
3. Checks that the small data's two explorers show equal numbers after every change of the
   sequence (counts, flips, sessions, nearest rows), then prints the figures side by side.

Timings on a shared machine are noisy: the load average is printed, and the baseline runs in
the same run, before the explorers.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _review_data import make_dataset  # noqa: E402
from bench_engines import clean_up  # noqa: E402
from bench_review import measure_rss  # noqa: E402

SINCE, UNTIL = "2025-11-01", "2026-11-01"
SEGMENTS = ["channel"]

COMMON = r"""
import contextlib, io, json, sys, time
import numpy as np

def script(c, changes, seed=5):
    '''A mix of control changes a reviewer makes, most of them slider moves.'''
    rng = np.random.default_rng(seed)
    periods = [v for _, v in c["period"].options][1:]
    segs = [v for _, v in c["segment"].options if v != "all"]
    now = {name: w.value for name, w in c.items()}
    steps = []
    def add(name, value):
        if now[name] != value:                  # a no-op assignment would not be a change
            steps.append((name, value))
            now[name] = value
    add("level", "custom")
    cycle = ["cut"] * 6 + ["level", "cut", "period", "cut", "segment", "current", "level", "kind"]
    i = 0
    while len(steps) < changes:
        what = cycle[i % len(cycle)]
        i += 1
        if what == "cut":
            add("level", "custom")
            add("cut", float(np.round(rng.uniform(55, 85), 3)))
        elif what == "level":
            add("level", str(rng.choice(["1e-3", "1e-4", "1e-5", "custom"])))
        elif what == "period":
            add("period", periods[int(rng.integers(0, len(periods)))] if rng.random() < 0.7 else "all")
        elif what == "segment":
            add("segment", segs[int(rng.integers(0, len(segs)))] if rng.random() < 0.7 else "all")
        elif what == "current":
            add("current", str(rng.choice(["1e-3", "1e-4", "1e-5"])))
        else:
            add("kind", "idcard_photo" if now["kind"] == "faceid" else "faceid")
    return steps[:changes]

quiet = contextlib.redirect_stdout(io.StringIO())      # headless clear_output() writes escape codes
"""

EXPLORER = COMMON + r"""
import faceanalytics as fa
data, mode, changes, since, until = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
segments = json.loads(sys.argv[6])
out = {}
t = time.perf_counter()
with quiet:
    if mode == "frames":
        c = fa.load(data, "comparisons", since=since, until=until)
        s = fa.load(data, "sessions", since=since, until=until)
        out["load"] = time.perf_counter() - t
        t = time.perf_counter()
        ex = fa.threshold_explorer(c, s, segments=segments)
    else:
        ex = fa.threshold_explorer(data, since=since, until=until, segments=segments)
out["open"] = time.perf_counter() - t
spent = [0.0]
rows = ex.model.rows
def timed_rows(*a, **k):
    t0 = time.perf_counter()
    try:
        return rows(*a, **k)
    finally:
        spent[0] += time.perf_counter() - t0
ex.model.rows = timed_rows
ctl = ex.controls
steps = script(ctl, changes)
start = {name: w.value for name, w in ctl.items()}
for rep in ("cold", "warm"):
    res = []
    for name, value in steps:
        spent[0] = 0.0
        t0 = time.perf_counter()
        with quiet:
            ctl[name].value = value
        total = time.perf_counter() - t0
        res.append((name, total - spent[0], total))
    out[rep] = res
    with quiet:
        for name in ("kind", "segment", "period", "level", "current"):
            ctl[name].value = start[name]
out["rows"] = ex.model.overview.rows
print(json.dumps(out))
"""

EQUAL = COMMON + r"""
import pandas as pd
import faceanalytics as fa
data, changes, since, until = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
segments = json.loads(sys.argv[5])
with quiet:
    d = fa.threshold_explorer(data, since=since, until=until, segments=segments)
    f = fa.threshold_explorer(fa.load(data, "comparisons", since=since, until=until),
                              fa.load(data, "sessions", since=since, until=until), segments=segments)
for name in ("kind", "segment", "period", "level", "current"):
    assert d.controls[name].options == f.controls[name].options, name

def check(what):
    a, b = d.state(), f.state()
    na, nb = a.pop("nearest"), b.pop("nearest")
    for k in a:
        x, y = a[k], b[k]
        assert x == y or (isinstance(x, float) and np.isnan(x) and np.isnan(y)), (what, k, x, y)
    pd.testing.assert_frame_equal(na, nb)

check("opened")
n = 0
for name, value in script(d.controls, changes):
    with quiet:
        d.controls[name].value = value
        f.controls[name].value = value
    check((name, value))
    n += 1
print(json.dumps({"checked": n, "n": d.state()["n"]}))
"""

BASELINE = r"""
import json, sys, time
from faceanalytics import engines as E
t = time.perf_counter()
out = E.pass_rates(sys.argv[1], freq="W", engine=E.DuckDBEngine(threads=2))
print(json.dumps({"seconds": time.perf_counter() - t, "rows": int(out.loc[out["level"] == "1e-4", "n"].sum())}))
"""


def _ms(x: float) -> str:
    return f"{x * 1000:9.0f} ms" if x < 10 else f"{x:10.1f} s"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=100_000_000)
    ap.add_argument("--small-rows", type=int, default=1_000_000)
    ap.add_argument("--changes", type=int, default=40)
    ap.add_argument("--dir", default=None, help="where to write the data (default: the system temp dir)")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--keep", action="store_true", help="keep the data afterwards")
    ap.add_argument("--reuse", nargs=2, default=None, metavar=("BIG", "SMALL"),
                    help="data directories written by an earlier --keep run")
    a = ap.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="fa-bench-widgets-", dir=a.dir))
    big, small = (Path(a.reuse[0]), Path(a.reuse[1])) if a.reuse else (work / "big", work / "small")
    try:
        if not a.reuse:
            need = (a.rows + a.small_rows) * 75
            free = shutil.disk_usage(work).free
            if free < need * 1.2:
                raise SystemExit(f"{work}: {free / 1e9:.0f} GB free, about {need / 1e9:.0f} GB needed")
            for path, rows in ((small, a.small_rows), (big, a.rows)):
                size, secs = make_dataset(path, rows, a.workers)
                print(f"wrote {rows:,} comparisons with their sessions and checks ({size / 1e9:.2f} GB) in {secs:.0f} s",
                      flush=True)
        segs = json.dumps(SEGMENTS)
        eq = measure_rss(EQUAL, str(small), str(a.changes), SINCE, UNTIL, segs)
        print(f"small data: the data-directory explorer equals the in-memory one after each of {eq['checked']} "
              f"changes", flush=True)
        runs = {}
        for name, code, args in (
                ("baseline big", BASELINE, [str(big)]), ("baseline small", BASELINE, [str(small)]),
                ("dir big", EXPLORER, [str(big), "dir"]), ("dir small", EXPLORER, [str(small), "dir"]),
                ("frames small", EXPLORER, [str(small), "frames"])):
            extra = [] if code is BASELINE else [str(a.changes), SINCE, UNTIL, segs]
            runs[name] = r = measure_rss(code, *args, *extra)
            print(f"{name}: {r.get('seconds', r.get('open', 0)):.1f} s, peak {r['rss_gib']:.2f} GiB", flush=True)
        load = os.getloadavg()
        print(f"\nload average {load[0]:.1f} (1 min) / {load[2]:.1f} (15 min) on {os.cpu_count()} cores, shared "
              f"machine: timings are noisy")
        rows_big, rows_small = runs["baseline big"]["rows"], runs["baseline small"]["rows"]
        print(f"comparisons in the window: {rows_big:,} (big), {rows_small:,} (small)\n")
        print(f"{'':<52}{'open':>12}{'peak RSS':>11}")
        print(f"{'DuckDB weekly pass rates, big (baseline)':<52}{_ms(runs['baseline big']['seconds'])}"
              f"{runs['baseline big']['rss_gib']:>7.2f} GiB")
        print(f"{'DuckDB weekly pass rates, small':<52}{_ms(runs['baseline small']['seconds'])}"
              f"{runs['baseline small']['rss_gib']:>7.2f} GiB")
        for name, label in (("dir big", "explorer on the data directory, big"),
                            ("dir small", "explorer on the data directory, small"),
                            ("frames small", "explorer on frames in memory, small")):
            r = runs[name]
            extra = f"   (+ {r['load']:.1f} s to load the frames)" if "load" in r else ""
            print(f"{label:<52}{_ms(r['open'])}{r['rss_gib']:>7.2f} GiB{extra}")
        print(f"\nopening the big data directory: {runs['dir big']['open'] / runs['baseline big']['seconds']:.1f}x "
              f"the baseline query on the same files")
        print(f"\nper control change ({a.changes}: slider moves, levels, weeks, segment values, kinds), median / max;"
              f"\n'counts' = counts and figure updated, 'all' = with the rows nearest the cut fetched too")
        print(f"{'':<40}{'counts median':>15}{'counts max':>13}{'all median':>13}{'all max':>13}")
        for name, label in (("dir big", "data directory, big"), ("dir small", "data directory, small"),
                            ("frames small", "frames in memory, small")):
            for rep in ("cold", "warm"):
                xs = runs[name][rep]
                counts, total = [x[1] for x in xs], [x[2] for x in xs]
                print(f"{label + ', ' + rep:<40}{_ms(statistics.median(counts)):>15}{_ms(max(counts)):>13}"
                      f"{_ms(statistics.median(total)):>13}{_ms(max(total)):>13}")
        print("\nslowest changes on the big data directory (cold):")
        for name, counts, total in sorted(runs["dir big"]["cold"], key=lambda x: -x[2])[:5]:
            print(f"  {name:<10} counts {_ms(counts)}  all {_ms(total)}")
        by = {}
        for name, counts, total in runs["dir big"]["cold"]:
            by.setdefault(name, []).append(total)
        print("median per kind of change, big, cold: " + ", ".join(
            f"{k} {statistics.median(v):.2f} s ({len(v)})" for k, v in sorted(by.items())))
        print(f"\npeak RSS, data-directory explorer: {runs['dir small']['rss_gib']:.2f} GiB at {rows_small:,} rows, "
              f"{runs['dir big']['rss_gib']:.2f} GiB at {rows_big:,} rows")
    finally:
        clean_up(work, big, keep=a.keep, reuse=a.reuse)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
