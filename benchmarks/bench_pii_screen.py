"""CPU of the personal-data column screen (``pii._candidates``: one RE2 over an Arrow column)
and of the whole ``scrub_table``, side by side with a baseline package in the same run.

    python benchmarks/bench_pii_screen.py --baseline DIR [--n 3000] [--repeat 3]

Columns built from ``gen_records.py`` records (megvii_lite, megvii_liveness, baidu_detail):
``leaves`` (every string value of every payload), ``json`` (each payload as JSON text, as
``quarantine.raw`` and ``sessions.extra`` hold), ``escaped`` (that text percent-escaped once,
as a ``biz_extra_data`` or a URL carries it) and ``escaped2`` (escaped twice).  Each contender
runs in its own process, alternated, twice; the best of ``--repeat`` passes is kept (process CPU,
``getrusage``).  ``hits`` is how many values the screen hands to Python.
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
SOURCES = ("megvii_lite", "megvii_liveness", "baidu_detail")


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _strings(v, out: list) -> None:
    if isinstance(v, dict):
        for x in v.values():
            _strings(x, out)
    elif isinstance(v, list):
        for x in v:
            _strings(x, out)
    elif isinstance(v, str) and len(v) < 4096:   # data URIs left out: no text column holds them
        out.append(v)


def _columns(n: int) -> dict:
    from urllib.parse import quote

    import gen_records
    import orjson
    import pyarrow as pa

    leaves, docs = [], []
    for source in SOURCES:
        for rec in gen_records.records(source, n, seed=1):
            _strings(rec["payload"], leaves)
            docs.append(orjson.dumps({k: v for k, v in rec["payload"].items()
                                      if not (isinstance(v, str) and len(v) >= 4096)}).decode())
    esc = [quote(d, safe="") for d in docs]
    return {"leaves": pa.array(leaves), "json": pa.array(docs), "escaped": pa.array(esc),
            "escaped2": pa.array([quote(e, safe="") for e in esc])}


def _measure(n: int, repeat: int) -> dict:
    import pyarrow as pa
    import pyarrow.compute as pc

    from faceanalytics.pipeline import pii

    out = {}
    for name, col in _columns(n).items():
        best_screen = best_scrub = float("inf")
        hits = 0
        t = pa.table({"message": col})
        for _ in range(repeat):
            t0 = _cpu()
            hit = pii._candidates(col)
            t1 = _cpu()
            pii.scrub_table(t)
            t2 = _cpu()
            best_screen, best_scrub = min(best_screen, t1 - t0), min(best_scrub, t2 - t1)
            hits = 0 if hit is None else int(pc.sum(hit).as_py() or 0)
        out[name] = {"rows": len(col), "hits": hits, "screen_ms": 1000 * best_screen, "scrub_ms": 1000 * best_scrub}
    return out


def _run(pkg: str, args) -> dict:
    env = dict(os.environ, PYTHONPATH=pkg)
    code = ("import sys, json; sys.path.insert(0, %r); sys.path.insert(1, %r); import bench_pii_screen as b; "
            "print(json.dumps(b._measure(%d, %d)))" % (pkg, str(HERE), args.n, args.repeat))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True, cwd="/")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--baseline", required=True, help="a directory holding another version's faceanalytics")
    ap.add_argument("--n", type=int, default=3000, help="records per source")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    runs: dict[str, list] = {"baseline": [], "this": []}
    for _ in range(2):   # alternated: each contender twice, the better kept per column
        runs["baseline"].append(_run(str(Path(args.baseline).resolve()), args))
        runs["this"].append(_run(str(HERE.parent), args))
    print(f"  {'column':<9} {'rows':>8} {'version':<9} {'hits':>7} {'screen ms':>10} {'scrub_table ms':>15}")
    for col in runs["this"][0]:
        for name, got in runs.items():
            best = {k: min(g[col][k] for g in got) for k in ("screen_ms", "scrub_ms")}
            r = got[0][col]
            print(f"  {col:<9} {r['rows']:>8} {name:<9} {r['hits']:>7} {best['screen_ms']:>10.1f} "
                  f"{best['scrub_ms']:>15.1f}")
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
