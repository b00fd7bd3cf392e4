"""Rows without a verification time (Baidu detail, simple, stat, media) read only where they can hold the window.

    python benchmarks/bench_placed.py --baseline DIR [--n 200000] [--dir /tmp] [--keep] [--reuse DIR] [--repeat 3]
                                      [--only 1|2]

Those rows are placed at their token's getall time, so their stored month bounds nothing.
Two measurements, each side by side with another version of the package (``--baseline``: a
folder holding its ``faceanalytics``, e.g. ``git archive main faceanalytics | tar -x -C DIR``),
every run in its own process (wall time, CPU time of all threads and peak RSS from ``wait4``):

1. **An engine function over one month** of a data directory holding a year of Baidu rows
   (getall, detail, simple, stat, ingested from ``gen_records.py`` payloads spread over the
   year by ``bench_review_documents.build``): ``engines.confidence_histogram``,
   ``engines.genuineness_rates`` and ``engines.error_codes`` over 2026-09, DuckDB.  This
   version's first call works out each partition's placed-time bounds (none kept) and keeps
   them; later calls read them back.  Then the partitions each version opens, counted by
   ``strace -f -e trace=openat`` on one call of each function (this version's bounds kept):
   distinct (table, source, month) folders of the Parquet files opened.  The frames of both
   versions are compared (a digest of each).
2. **A review after a getall landing that moves one partition's rows**: on a copy of the data
   per version, the review of 2026-05 to 2026-11 (nothing kept), then one getall answer landed
   (``faceanalytics ingest``) for a token whose detail is stored in 2026-01, verified again on
   2026-10-20 (its detail row moves from January to October), then the review again.  Printed:
   its time, and the partitions whose placed bounds were worked out again (a counter on
   ``_Placed._query``) and, for a version that has it (the state store tried in
   `issue-q`, not kept), those whose tokens were looked up in the landed file
   (``_Placed._touched``).

Input: ``bench_review_documents.build`` (document-built payloads, ``faceanalytics ingest``),
never tuned to the code.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import gen_records  # noqa: E402
from bench_review import measure_rss  # noqa: E402
import bench_review_documents as docs  # noqa: E402

PY = sys.executable
SOURCES = ["baidu_getall", "baidu_detail", "baidu_simple", "baidu_stat"]
MONTH = ("2026-09-01", "2026-10-01")
SINCE, UNTIL = "2026-05-01", "2026-11-01"
FUNCTIONS = ("confidence_histogram", "genuineness_rates", "error_codes")

ENGINE = r"""
import hashlib, json, sys, time
t = time.perf_counter()
from faceanalytics import engines as E
data, since, until, *fns = sys.argv[1:]
out = {}
for fn in fns:
    kw = {} if fn == "error_codes" else {"by": "source"}
    f = getattr(E, fn)(data, since=since, until=until, engine=E.DuckDBEngine(threads=2), **kw)
    out[fn] = hashlib.sha256(f.to_csv(index=False).encode()).hexdigest()[:12] + f" ({len(f)} rows)"
print(json.dumps({"seconds": time.perf_counter() - t, "digests": out}))
"""

REVIEW = r"""
import json, sys, time
t0 = time.perf_counter()
try:
    from faceanalytics.engines import _placed as M
except ImportError:                         # (a version where _Placed lives in _review)
    from faceanalytics.engines import _review as M
worked, touched = [], []
real = M._Placed._query
def query(self, table, parts, *args):
    worked.extend((table, *p) for p in parts)
    return real(self, table, parts, *args)
M._Placed._query = query
if hasattr(M._Placed, "_touched"):
    real_t = M._Placed._touched
    def touch(self, table, parts, files):
        touched.extend((table, *p) for p in parts)
        return real_t(self, table, parts, files)
    M._Placed._touched = touch
spent = [0.0]
real_table = M._Placed._table
def table(self, name):
    t = time.perf_counter()
    try:
        return real_table(self, name)
    finally:
        spent[0] += time.perf_counter() - t
M._Placed._table = table
from faceanalytics.report import review
data, out, since, until = sys.argv[1:5]
r = review(data, since, until, segments=[])
r.write(out)
c = r.summaries.counts
print(json.dumps({"seconds": time.perf_counter() - t0, "worked": len(worked), "touched": len(touched),
                  "bounds_s": spent[0],
                  "worked_months": sorted({p[2] for p in worked}),
                  "sessions": int(c["sessions"]["n"].sum()), "comparisons": int(c["comparisons"]["n"].sum())}))
"""


def opened(code: str, args, package: str | None) -> set:
    """The (table, source, month) folders of the Parquet files ``code`` opens (``strace``)."""
    env = None if package is None else {**os.environ, "PYTHONPATH": str(package)}
    with tempfile.NamedTemporaryFile(suffix=".strace") as log:
        subprocess.run(["strace", "-f", "-qq", "-e", "trace=openat", "-o", log.name, PY, "-c", code, *args],
                       check=True, stdout=subprocess.DEVNULL, env=env, cwd=package)
        text = Path(log.name).read_text(errors="replace")
    pat = re.compile(r'openat\([^"]*"[^"]*/tables/([^/"]+)/source=([^/"]+)/month=([^/"]+)/part-[^"]*\.parquet"'
                     r'[^)]*\)\s*=\s*\d')
    return {m.groups() for m in pat.finditer(text)}


def _engine_runs(data: Path, versions, repeat: int) -> None:
    print(f"\n1. engine functions over {MONTH[0]} .. {MONTH[1]}: {', '.join(FUNCTIONS)} (DuckDB, 2 threads); "
          f"load {os.getloadavg()[0]:.1f}", flush=True)
    shutil.rmtree(data / "summaries", ignore_errors=True)
    runs: dict[str, list] = {name: [] for name, _ in versions}
    digests = {}
    for name, package in versions:           # this version's first call: the bounds worked out and kept
        x = measure_rss(ENGINE, str(data), *MONTH, *FUNCTIONS, package=package)
        digests[name] = x["digests"]
        print(f"  {name:<14} first call  {x['wall']:6.2f} s wall {x['cpu']:6.2f} s CPU {x['rss_gib']:5.2f} GiB",
              flush=True)
    for _ in range(repeat):
        for name, package in versions:
            runs[name].append(measure_rss(ENGINE, str(data), *MONTH, *FUNCTIONS, package=package))
    for name, _ in versions:
        w = [x["wall"] for x in runs[name]]
        c = [x["cpu"] for x in runs[name]]
        print(f"  {name:<14} again x{len(w)}    {statistics.median(w):6.2f} s wall (best {min(w):.2f}) "
              f"{statistics.median(c):6.2f} s CPU (best {min(c):.2f}) {max(x['rss_gib'] for x in runs[name]):5.2f} "
              f"GiB", flush=True)
    same = len({json.dumps(d, sort_keys=True) for d in digests.values()}) == 1
    print(f"  frames equal in both versions: {same} {digests[versions[-1][0]]}")
    for name, package in versions:
        parts = opened(ENGINE, [str(data), *MONTH, *FUNCTIONS], package)
        untimed = sorted(p for p in parts if p[1] in ("baidu_detail", "baidu_simple", "baidu_stat", "baidu_media"))
        print(f"  {name:<14} partitions opened: {len(parts)}, of untimed sources {len(untimed)} "
              f"(months: {', '.join(sorted({p[2] for p in untimed}))})", flush=True)


def _landing(work: Path, n: int) -> Path:
    """One getall answer for a token shared with detail whose detail is stored in 2026-01, verified
    again on 2026-10-20 (as ``bench_review_documents`` writes getall records)."""
    import calendar
    import random

    os.environ.setdefault("MEGVII_API_SECRET", gen_records.SECRET)
    k = int(n * docs.WEIGHTS["baidu_getall"]) * 3 // 2 + 2      # docs.place: getall's tokens over the year
    jan = calendar.timegm((2026, 1, 15, 0, 0, 0))
    slot = int((jan - docs.START) * k / (docs.END - docs.START))
    slot -= (slot - 1) % 3      # a token getall and detail share (slot % 3 == 1)
    i = 2 * ((slot - 1) // 3)   # getall's record index of that slot (docs._slot)
    assert docs._slot("baidu_getall", i) == slot and docs._slot("baidu_detail", i + 1) == slot
    pool = docs.templates("baidu_getall")
    line = docs.copy("baidu_getall", pool[random.Random(0).randrange(len(pool))], i,
                     calendar.timegm((2026, 10, 20, 2, 0, 0)), 0)
    path = work / "landing.jsonl"
    path.write_bytes(line + b"\n")
    print(f"  landing: getall of {docs._token('baidu_getall', i, 0)}, verified 2026-10-20", flush=True)
    return path


def _review_runs(data: Path, work: Path, versions, n: int) -> None:
    print(f"\n2. review {SINCE} .. {UNTIL} (no segments) after a getall landing that moves one partition's rows; "
          f"load {os.getloadavg()[0]:.1f}", flush=True)
    landing = _landing(work, n)
    rows = []
    for name, package in versions:
        copy = work / f"copy-{name.split()[0]}"
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(data, copy, ignore=shutil.ignore_patterns("summaries"))
        first = measure_rss(REVIEW, str(copy), str(work / "r.html"), SINCE, UNTIL, package=package)
        env = dict(os.environ, **({} if package is None else {"PYTHONPATH": package}))
        subprocess.run([PY, "-m", "faceanalytics", "ingest", str(landing), "--data", str(copy), "-q"], check=True,
                       env=env, cwd=package, stdout=subprocess.DEVNULL)
        after = measure_rss(REVIEW, str(copy), str(work / "r.html"), SINCE, UNTIL, package=package)
        rows.append((name, first, after))
        shutil.rmtree(copy, ignore_errors=True)
    for name, first, after in rows:
        print(f"  {name:<14} first {first['wall']:6.2f} s wall {first['cpu']:6.2f} s CPU (bounds of "
              f"{first['worked']} partitions) | after the landing {after['wall']:6.2f} s wall {after['cpu']:6.2f} s "
              f"CPU {after['rss_gib']:5.2f} GiB; the bounds step {after['bounds_s']:.2f} s (first review's "
              f"{first['bounds_s']:.2f} s); bounds worked out again: {after['worked']} partitions "
              f"(months {', '.join(after['worked_months']) or '-'}), tokens looked up: {after['touched']} partitions; "
              f"sessions {after['sessions']:,}, comparisons {after['comparisons']:,}", flush=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--baseline", required=True, help="a folder holding another version's faceanalytics")
    ap.add_argument("--n", type=int, default=200_000, help="scale: Baidu getall and detail 0.3 n records each, "
                                                           "simple 0.2 n, stat 0.02 n (bench_review_documents)")
    ap.add_argument("--dir", default=None)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--reuse", default=None, help="a data directory written by an earlier --keep run (same --n)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--only", type=int, choices=(1, 2), default=None, help="run measurement 1 or 2 alone")
    a = ap.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bench-placed-", dir=a.dir))
    data = Path(a.reuse) if a.reuse else work / "data"
    try:
        if not a.reuse:
            docs.build(data, work, a.n, SOURCES, workers=2)
        print("rows: " + ", ".join(f"{t} {k:,}" for t, k in docs.table_rows(data).items()), flush=True)
        versions = [("baseline", str(Path(a.baseline).resolve())), ("this version", None)]
        if a.only in (None, 1):
            _engine_runs(data, versions, a.repeat)
        if a.only in (None, 2):
            _review_runs(data, work, versions, a.n)
    finally:
        if a.keep:
            print(f"kept: {data}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
