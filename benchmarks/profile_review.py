"""Where the first review's CPU time goes, query by query (what to cut, before cutting it).

    python benchmarks/profile_review.py DATA [--package DIR] [--no-segments] [--explain KIND PART]

Runs the review of ``bench_review.py`` (half a year, 2026-05-01 to 2026-11-01, against the half
before) on ``DATA`` with nothing kept (``DATA/summaries`` is removed first: never point it at
data you share; make a hard-linked copy, ``cp -al``, and remove its ``summaries``), times
every query DuckDB runs for it (process CPU time, all threads, and wall time), and prints them
summed by kind: the previous period's three scans, and for each partition of this period its
sessions table, the sessions' counts, quality, the comparisons and checks joined to the
sessions.  ``--package``: a folder holding another version's ``faceanalytics`` (as
``bench_review.py --baseline``).  ``--explain KIND PART`` (e.g. ``cmp source=megvii_lite/month=2026-07``)
then replays that partition's statements on a fresh one-thread database and prints DuckDB's
profile (operators, rows, seconds) of the statement of that kind.

The CPU time of a query includes whatever else runs in the process meanwhile (nothing, here);
on a shared machine compare kinds within one run, not across runs.
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import re
import shutil
import sys
import tempfile
import time
import traceback

SINCE, UNTIL = "2026-05-01", "2026-11-01"


def kind(sql: str) -> str:
    """What a statement of the review counts (by its text)."""
    if sql.startswith("DROP"):
        return "drop"
    if "FULL OUTER JOIN" in sql:
        return "cmp"            # this period's comparisons, joined to the partition's sessions
    if "LEFT JOIN" in sql and '"attack"' in sql:
        return "gen"            # this period's checks, joined
    if sql.startswith("CREATE TABLE") and '"_rid"' in sql:
        return "sessions"       # a partition's sessions, compact
    if sql.startswith("CREATE TABLE"):
        return "keep"           # what the joins need of them
    if '"shr"' in sql:
        return "quality"
    if "GROUPING SETS" in sql and '"status"' in sql:
        return "session counts"
    if "GROUPING SETS" in sql and '"attack"' in sql:
        return "previous gen"
    if "GROUPING SETS" in sql and '"comparison"' in sql:
        return "previous cmp"
    if '"time_basis"' in sql and "GROUP BY" in sql and "read_parquet" in sql:
        return "previous sessions"
    if "approx_count_distinct" in sql:
        return "texts repeat?"
    if " LIMIT " in sql:
        return "segment sample"
    return "other: " + sql[:40]


def profile(data: str, segments: bool) -> list[tuple[str, float, float, str]]:
    from faceanalytics.engines import duckdb_engine as de

    shutil.rmtree(os.path.join(data, "summaries"), ignore_errors=True)
    query = de.DuckDBEngine.query
    runs: list[tuple[str, float, float, str]] = []

    def timed(self, sql):
        c0, w0 = time.process_time(), time.perf_counter()
        try:
            return query(self, sql)
        finally:
            runs.append((kind(sql), time.process_time() - c0, time.perf_counter() - w0, sql))

    de.DuckDBEngine.query = timed
    from faceanalytics.report import review

    c0, w0 = time.process_time(), time.perf_counter()
    review(data, SINCE, UNTIL, segments=None if segments else [])
    print(f"review (counts and report, nothing written): {time.perf_counter() - w0:.1f} s, "
          f"{time.process_time() - c0:.1f} s CPU; load {os.getloadavg()[0]:.1f}")
    return runs


def explain(runs, want: str, part: str) -> None:
    """Replay ``part``'s statements on a fresh database (one thread) and profile the ``want`` one."""
    import duckdb

    con = duckdb.connect(":memory:", config={"preserve_insertion_order": False, "memory_limit": "1GB", "threads": 1,
                                             "temp_directory": tempfile.mkdtemp()})
    made: set[str] = set()
    out = os.path.join(tempfile.mkdtemp(), "profile.json")
    for k, _, _, sql in runs:
        names = set(re.findall(r"fa_review_[0-9a-f]{12}", sql))
        if part not in sql and not names & made:
            continue
        con.execute("SET disabled_optimizers = '%s'" % ("build_side_probe_side" if k in ("cmp", "gen") else ""))
        if k == want:
            q = sql.split(" AS ", 1)[1] if sql.startswith("CREATE") else sql
            con.execute("PRAGMA enable_profiling = 'json'")
            con.execute(f"PRAGMA profiling_output = '{out}'")
            con.execute(q).fetchall()
            con.execute("PRAGMA disable_profiling")

            def walk(n, depth=0):
                extra = n.get("extra_info") or {}
                what = " ".join(f"{x}={str(extra[x])[:120]}" for x in ("Groups", "Join Type", "Conditions", "Function")
                                if x in extra)
                print(f"{'  ' * depth}{n.get('name', 'query')} {n.get('timing') or 0:.3f} s, "
                      f"{n.get('intermediate_rows', 0):,} rows {what}")
                for c in n.get("children", n.get("operator", [])):
                    walk(c, depth + 1)
            with open(out) as f:
                walk(json.load(f))
            return
        if sql.startswith("CREATE TABLE"):
            made |= names
        if sql.startswith(("CREATE", "DROP")):
            con.execute(sql)
    print(f"no {want} statement in {part}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data")
    ap.add_argument("--package", default=None, help="a folder holding another version's faceanalytics")
    ap.add_argument("--no-segments", action="store_true")
    ap.add_argument("--explain", nargs=2, metavar=("KIND", "PART"))
    a = ap.parse_args(argv)
    if a.package:
        sys.path.insert(0, os.path.abspath(a.package))
    try:
        runs = profile(os.path.abspath(a.data), not a.no_segments)
    except Exception:      # pragma: no cover - printed for the person running it
        traceback.print_exc()
        return 1
    by: dict[str, list] = collections.defaultdict(lambda: [0, 0.0, 0.0])
    for k, cpu, wall, _ in runs:
        by[k][0] += 1
        by[k][1] += cpu
        by[k][2] += wall
    total = sum(v[1] for v in by.values())
    print(f"{'queries':<22}{'n':>5}{'CPU s':>9}{'wall s':>9}{'share':>8}")
    for k, (n, cpu, wall) in sorted(by.items(), key=lambda kv: -kv[1][1]):
        if k != "drop":
            print(f"{k:<22}{n:>5}{cpu:>9.2f}{wall:>9.2f}{cpu / total:>8.0%}")
    print(f"{'all queries':<22}{len(runs):>5}{total:>9.2f}")
    if a.explain:
        explain(runs, *a.explain)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
