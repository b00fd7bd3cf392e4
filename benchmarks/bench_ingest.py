"""Ingest speed and memory, side by side with two baselines in the same run.

    python benchmarks/bench_ingest.py [--n 100000] [--big 1000000] [--sources all] [--repeat 1]
                                      [--skip 1,2,5] [--baseline DIR] [--flat-sources megvii_notify]

Each contender runs as its own process on the same file and is measured by wall
time and peak RSS (``wait4``'s ``ru_maxrss``):

- naive: ``json.loads`` per line + ``pandas.json_normalize`` + ``to_parquet`` (what
  analysts write today; mixed-type columns are written as text when Parquet refuses
  them, as they would have to be);
- floor: ``orjson.loads`` per line, one column to Parquet (the least any reader of
  the file can do);
- faceanalytics: ``faceanalytics ingest`` (raw archive, all tables, dedupe index,
  atomic commit).

Files (the load on this machine is printed first: the ratios, not the seconds, are
what the targets are about):

1. The original figures (issue 2): 100,000 Lite payloads of the first generator,
   ``--source megvii_lite``: >= 5x naive, <= 2.5x the floor, memory <= 25% of naive's.
2. Per source, records generated from the field spec by ``gen_records.py`` (every
   documented field, error bodies, numbers as text, images as data URIs, ...), in
   envelopes (issue 12): >= 10x naive and <= 2x the floor, memory <= 25% of naive's; beside
   it, the peak of an ingest of the file's first 200 records (what the process takes for
   any input: where that is near 25% of naive's, no chunking reaches the target).
3. Per source, half of the records given a wild shape: >= 5x naive.
4. The Python path alone (``--python-path``: every record through the Python
   flatteners) on the generated Lite records: >= 2x naive.
5. Memory flat from ``--n`` to ``--big`` generated Lite records (and records of each of
   ``--flat-sources``, by default Megvii notify: bigger rows), with the RSS of one
   more ``--big`` Lite run traced (its highest per tenth of the run: a rising line is
   memory growing with the records read, a spike one chunk's working set); and three hostile
   files: 10,000 records with 20 distinct unknown keys each (peak memory), a line
   nested 10,000 deep among good ones (no crash, the rest lands), and a Zstandard file
   of a few KB holding a 1 GiB line without a newline (peak memory; the rest lands).

Every contender's package is byte-compiled first, as an installed one is (``compile_package``).
Every target is printed with its figure and PASS or MISS.  ``--baseline DIR`` (a
copy of another version's ``faceanalytics`` package, e.g. ``git archive main
faceanalytics | tar -x -C DIR``) adds that version as a contender in parts 2-4, run
alternately with this one, so that old and new are compared under the same load.
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import orjson

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import gen_records  # noqa: E402

PY = sys.executable
SOURCES = ("megvii_lite", "megvii_liveness", "megvii_notify", "baidu_detail", "baidu_simple",
           "baidu_stat", "baidu_getall", "baidu_media")

NAIVE = r"""
import json, sys, pandas as pd
rows = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
df = pd.json_normalize(rows)
try:
    df.to_parquet(sys.argv[2] + "/naive.parquet")
except Exception:  # numbers and text in one column, lists of objects: write them as text
    for c in df.columns[df.dtypes == object]:
        df[c] = df[c].map(lambda v: v if v is None or isinstance(v, str) else json.dumps(v, ensure_ascii=False))
    df.to_parquet(sys.argv[2] + "/naive.parquet")
"""

FLOOR = r"""
import sys, orjson, pyarrow as pa, pyarrow.parquet as pq
key = sys.argv[3]
ids = [orjson.loads(l).get(key) for l in open(sys.argv[1], "rb")]
pq.write_table(pa.table({key: [str(i) for i in ids]}), sys.argv[2] + "/floor.parquet")
"""

OURS = r"""
import os, sys
if os.environ.get("FA_BASELINE"):  # another version's package (``--baseline``)
    sys.path.insert(0, os.environ["FA_BASELINE"])
from faceanalytics.cli import main
sys.exit(main(["ingest", sys.argv[1], "--data", sys.argv[2] + "/data", *sys.argv[3:]]))
"""

THRESHOLD_SETS = [(65.3, 71.8, 76.5, 79.9), (62.169, 69.315, 74.399, 78.038)]


def make_payload(rng: random.Random, i: int) -> dict:
    """The first generator's Lite payload (kept for the original figures)."""
    epoch = 1_700_000_000 + i * 13
    t = THRESHOLD_SETS[i % 7 == 0]
    genuine = rng.random() < 0.9

    def cmp():
        c = rng.gauss(80, 6) if genuine else rng.gauss(45, 12)
        return {"confidence": round(min(max(c, 0), 100), 3),
                "thresholds": dict(zip(("1e-3", "1e-4", "1e-5", "1e-6"), t))}
    return {
        "request_id": f"{epoch + 5},{rng.getrandbits(128):032x}",
        "status": "OK",
        "biz_info": {"biz_extra_data": f"channel=app&seg={i % 5}", "biz_id": f"{epoch},{rng.getrandbits(128):032x}",
                     "biz_no": f"{rng.getrandbits(96):024x}"},
        "idcard_info": {"idcard_mode": "1", "idcard_uneditable_field": "idcard_number",
                        "idcard_number": f"1101011990{i % 10000:04d}{rng.randint(100, 999)}X",
                        "idcard_name": "陈AB",
                        "front_side": {"ocr_result": {"address": "北京市海淀区XXXX", "gender": "男",
                                                      "name": "陈AB", "race": "汉",
                                                      "birthday": {"day": "2", "month": "6", "year": "1991"},
                                                      "legality": {"ID Photo": round(rng.random(), 3),
                                                                   "Temporary ID Photo ": 0, "Photocopy": 0.049,
                                                                   "Screen": 0.096, "Edited": 0}},
                                       "upload_times": 1},
                        "idcard_valid_date": "2010.11.13-2030.11.13", "idcard_issued_by": "北京市公安局",
                        "back_side": {"ocr_result": {"issued_by": "北京市公安局海淀分局",
                                                     "valid_date": "2010.11.13-2030.11.13",
                                                     "legality": {"ID Photo": round(rng.random(), 3),
                                                                  "Temporary ID Photo ": 0, "Photocopy": 0.01,
                                                                  "Screen": 0.02, "Edited": 0}},
                                      "upload_times": 1}},
        "liveness_result": {"procedure_type": "will", "result": "PASS" if genuine else "FAIL",
                            "details": {"UPLOAD_TIMES": 1, "FACE_NOT_FOUND": rng.randint(0, 2),
                                        "LOW_FACE_QUALITY": 0, "SIDE_FACE": rng.randint(0, 1)},
                            "face_genuineness": {"synthetic_face_confidence": round(rng.betavariate(1.5, 12), 3),
                                                 "synthetic_face_threshold": 0.5,
                                                 "mask_confidence": round(rng.betavariate(1.5, 12), 3),
                                                 "mask_threshold": 0.5,
                                                 "screen_replay_confidence": round(rng.betavariate(1.5, 12), 3),
                                                 "screen_replay_threshold": 0.5}},
        "verify_result": {"verify_time": epoch + 40, "error_message": None,
                          "result_faceid": cmp(), "result_idcard_photo": cmp(),
                          "id_exceptions": {"id_attacked": 0, "id_photo_monochrome": int(rng.random() < 0.1)}},
        "time_used": rng.randint(50, 200),
    }


def make_file(path: Path, n: int) -> float:
    rng = random.Random(42)
    size = 0
    with open(path, "wb") as f:
        for i in range(n):
            line = orjson.dumps(make_payload(rng, i)) + b"\n"
            size += len(line)
            f.write(line)
    return size / n


def compile_package(env) -> str:
    """Byte-compile the ``faceanalytics`` package a contender started with ``env`` imports
    (``FA_BASELINE``'s, or this checkout's) -> its directory.  An installed package is compiled;
    where ``PYTHONDONTWRITEBYTECODE`` is set (a sandbox, a CI image) every contender would
    otherwise compile the ~30 modules an ingest imports at every start, ~0.05-0.1 s of CPU a
    process that the naive script (pandas ships compiled) never pays."""
    import compileall

    code = ("import os, sys\nif os.environ.get('FA_BASELINE'): sys.path.insert(0, os.environ['FA_BASELINE'])\n"
            "import faceanalytics, os.path; print(os.path.dirname(faceanalytics.__file__))")
    pkg = subprocess.run([PY, "-c", code], env=env, check=True, capture_output=True, text=True).stdout.strip()
    compileall.compile_dir(pkg, quiet=1)
    return pkg


def run(code: str, path: Path, work: Path, *args: str, env=None, trace: list | None = None
        ) -> tuple[float, float, str, float]:
    """Wall seconds, peak RSS (MiB), output and CPU seconds (user + system, all threads)
    of one contender in its own process.  On a shared machine the wall time stretches
    with the load; the CPU time much less, so both are printed.  ``trace``: a list that
    receives the process's RSS (MiB) every 0.1 s."""
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    proc = subprocess.Popen([PY, "-c", code, str(path), str(work), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)
    done = threading.Event()
    if trace is not None:
        threading.Thread(target=_sample_rss, args=(proc.pid, done, trace), daemon=True).start()
    out = proc.stdout.read().decode()
    err = proc.stderr.read().decode()
    _, status, usage = os.wait4(proc.pid, 0)
    done.set()
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"contender failed with status {status}: {err[-2000:]}")
    return wall, usage.ru_maxrss / 1024, out, usage.ru_utime + usage.ru_stime


def _sample_rss(pid: int, done: threading.Event, into: list) -> None:
    """RSS of process ``pid`` (MiB) every 0.1 s until ``done`` (set once it is reaped: polling
    it here would reap it before ``run``'s ``wait4``)."""
    page = os.sysconf("SC_PAGE_SIZE")
    while not done.wait(0.1):
        try:
            with open(f"/proc/{pid}/statm") as f:
                rss = int(f.read().split()[1])
        except (OSError, ValueError, IndexError):
            return
        if rss:  # 0 once it has exited, before it is reaped
            into.append(rss * page / 2**20)


def trend(trace: list) -> str:
    """The highest RSS of each tenth of a run: a peak set by one chunk's working set shows
    as a spike; memory growing with the records read, as a rising line."""
    if len(trace) < 10:
        return "too short to trace"
    k = len(trace) // 10
    return " ".join(f"{max(trace[i * k:(i + 1) * k]):.0f}" for i in range(10)) + " MiB"


def best(code, path, tmp: Path, name: str, repeat: int, *args, env=None):
    """Best wall time, highest peak and least CPU time of ``repeat`` runs, each into a
    fresh directory."""
    runs = []
    for k in range(repeat):
        runs.append(run(code, path, tmp / f"{name}-{k}", *args, env=env))
        shutil.rmtree(tmp / f"{name}-{k}", ignore_errors=True)
    return min(r[0] for r in runs), max(r[1] for r in runs), runs[-1][2], min(r[3] for r in runs)


def alternate(path, tmp: Path, name: str, repeat: int, *args, env, base_env):
    """``best`` of this version and (``base_env`` not None) the baseline's, their runs
    alternated: ``(ours, baseline or None)``."""
    if base_env is None:
        return best(OURS, path, tmp, name, repeat, *args, env=env), None
    ours, base = [], []
    for _ in range(repeat):
        ours.append(best(OURS, path, tmp, name, 1, *args, env=env))
        base.append(best(OURS, path, tmp, name + "-base", 1, *args, env=base_env))

    def merge(runs):
        return (min(r[0] for r in runs), max(r[1] for r in runs), runs[-1][2], min(r[3] for r in runs))
    return merge(ours), merge(base)


def _base_line(label: str, naive, ours, base) -> None:
    """The baseline's figures beside this version's."""
    if base is not None:
        print(f"  {label:<16}baseline {base[0]:.2f} s ({naive[0] / base[0]:.2f}x naive, CPU {base[3]:.2f} s, "
              f"{naive[3] / base[3]:.2f}x naive CPU, peak {base[1]:.0f} MiB); this version {ours[0]:.2f} s "
              f"({naive[0] / ours[0]:.2f}x naive, CPU {ours[3]:.2f} s, {naive[3] / ours[3]:.2f}x naive CPU, "
              f"peak {ours[1]:.0f} MiB)")


def _bound(label: str, naive, floor, goal: float) -> None:
    """What a speed-up target asks of any reader: naive's time over ``goal`` as a multiple of
    the floor's (the least a reader of every line does).  Below 1x, no reader reaches it."""
    need = naive[0] / floor[0] / goal
    print(f"  {label}: naive takes {naive[0] / floor[0]:.1f}x the floor, so >= {goal:g}x naive means <= "
          f"{need:.2f}x the floor" + (" -- faster than the floor itself: no reader of every line reaches it"
                                      if need < 1 else ""))


def _floor_line(src: str, f: Path, tmp: Path, naive, ours, env) -> None:
    """The peak of an ingest of the file's first 200 records: what the process takes whatever
    the input (the interpreter, numpy, pyarrow and their code), as a share of naive's peak.
    Where it is near or over 25%, the memory target is out of reach for any chunking."""
    head = tmp / f"{src}-head.jsonl"
    with open(f, "rb") as src_fh, open(head, "wb") as out:
        for _, line in zip(range(200), src_fh):
            out.write(line)
    small = best(OURS, head, tmp, "head", 1, env=env)
    head.unlink()
    print(f"  {src}: the process's floor (200 records) peaks {small[1]:.0f} MiB, {100 * small[1] / naive[1]:.0f}% "
          f"of naive's peak; the whole file adds {ours[1] - small[1]:.0f} MiB to it")


_RESULTS: list[tuple[str, bool]] = []


def target(label: str, value: float, goal: float, unit: str, lower_is_better: bool) -> None:
    ok = value <= goal if lower_is_better else value >= goal
    _RESULTS.append((label, ok))
    sign = "<=" if lower_is_better else ">="
    print(f"  {label:<46}{value:8.2f}{unit:<2} target {sign} {goal:g}{unit:<2}  {'PASS' if ok else 'MISS'}")


def _python_path_count(out: str) -> str:
    import re
    m = re.search(r"python path (\d+)", out)
    return m.group(1) if m else "?"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--big", type=int, default=1_000_000, help="size for the flat-memory check (0: skip)")
    ap.add_argument("--repeat", type=int, default=1, help="runs per contender (best time is kept)")
    ap.add_argument("--flat-sources", default="megvii_notify",
                    help="comma-separated sources also checked for flat memory in part 5 ('' for none)")
    ap.add_argument("--sources", default="all", help="comma-separated sources for parts 2 and 3")
    ap.add_argument("--skip", default="", help="parts to skip, e.g. 1,3")
    ap.add_argument("--baseline", default=None,
                    help="a directory holding another version's faceanalytics package, run beside this one")
    args = ap.parse_args()
    sources = SOURCES if args.sources == "all" else tuple(args.sources.split(","))
    skip = set(args.skip.split(",")) - {""}
    tmp = Path(tempfile.mkdtemp(prefix="fa-bench-"))
    env = dict(os.environ, MEGVII_API_SECRET=gen_records.SECRET)
    base_env = None
    if args.baseline:
        base_env = dict(env, FA_BASELINE=str(Path(args.baseline).resolve()))
    print(f"byte-compiled, as an installed package is: {', '.join(compile_package(e) for e in (env, base_env) if e)}")
    print(f"load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores "
          f"(the machine may be shared: compare ratios, measured in the same run)\n")
    try:
        if "1" not in skip:
            f = tmp / "lite.jsonl"
            avg = make_file(f, args.n)
            print(f"1. {args.n:,} Megvii Lite payloads of the first generator, {avg:,.0f} bytes each")
            r = {name: best(code, f, tmp, name, args.repeat, *extra, env=env) for name, code, extra in
                 (("naive", NAIVE, ()), ("floor", FLOOR, ("request_id",)),
                  ("faceanalytics", OURS, ("--source", "megvii_lite")))}
            print(f"  {'contender':<16}{'seconds':>10}{'peak MiB':>12}{'CPU s':>8}")
            for name, (wall, rss, _, cpu) in r.items():
                print(f"  {name:<16}{wall:>10.2f}{rss:>12.0f}{cpu:>8.2f}")
            ours = r["faceanalytics"]
            target("speed-up over naive", r["naive"][0] / ours[0], 5, "x", False)
            target("time vs floor", ours[0] / r["floor"][0], 2.5, "x", True)
            target("peak memory vs naive", 100 * ours[1] / r["naive"][1], 25, "%", True)
            f.unlink()
            print()

        for part, wild in (("2", 0.0), ("3", 0.5)):
            if part in skip:
                continue
            what = "records generated from the field spec" if not wild else \
                "generated records, half with a wild shape"
            print(f"{part}. {args.n:,} {what}, per source")
            print(f"  {'source':<16}{'bytes':>7}{'naive s':>9}{'floor s':>9}{'ours s':>8}{'x naive':>9}"
                  f"{'x floor':>9}{'mem %':>7}{'python path':>13}{'CPU x naive':>13}{'CPU x floor':>13}")
            for src in sources:
                f = tmp / f"{src}.jsonl"
                avg = gen_records.write(f, src, args.n, seed=7, wild=wild)
                naive = best(NAIVE, f, tmp, "naive", args.repeat, env=env)
                floor = best(FLOOR, f, tmp, "floor", args.repeat, "session_id", env=env)
                ours, base = alternate(f, tmp, "ours", args.repeat, env=env, base_env=base_env)
                print(f"  {src:<16}{avg:>7.0f}{naive[0]:>9.2f}{floor[0]:>9.2f}{ours[0]:>8.2f}"
                      f"{naive[0] / ours[0]:>8.1f}x{ours[0] / floor[0]:>8.2f}x"
                      f"{100 * ours[1] / naive[1]:>6.0f}%{_python_path_count(ours[2]):>13}"
                      f"{naive[3] / ours[3]:>12.1f}x{ours[3] / floor[3]:>12.2f}x")
                _base_line(src, naive, ours, base)
                if not wild:
                    _bound(src, naive, floor, 10)
                    target(f"{src}: speed-up over naive", naive[0] / ours[0], 10, "x", False)
                    target(f"{src}: time vs floor", ours[0] / floor[0], 2, "x", True)
                    target(f"{src}: peak memory vs naive", 100 * ours[1] / naive[1], 25, "%", True)
                    _floor_line(src, f, tmp, naive, ours, env)
                else:
                    target(f"{src} (half wild): speed-up over naive", naive[0] / ours[0], 5, "x", False)
                f.unlink()
            print()

        if "4" not in skip:
            f = tmp / "lite-gen.jsonl"
            gen_records.write(f, "megvii_lite", args.n, seed=7)
            naive = best(NAIVE, f, tmp, "naive", args.repeat, env=env)
            py, base = alternate(f, tmp, "python", args.repeat, "--python-path", env=env, base_env=base_env)
            print(f"4. the Python path alone on {args.n:,} generated Lite records: naive {naive[0]:.2f} s "
                  f"(CPU {naive[3]:.2f} s), Python path {py[0]:.2f} s (CPU {py[3]:.2f} s, "
                  f"{naive[3] / py[3]:.2f}x naive CPU; python path {_python_path_count(py[2])} records)")
            _base_line("Python path", naive, py, base)
            target("Python path: speed-up over naive", naive[0] / py[0], 2, "x", False)
            print()

        if "5" not in skip:
            f = tmp / "lite-gen.jsonl"
            if not f.exists():
                gen_records.write(f, "megvii_lite", args.n, seed=7)
            small = best(OURS, f, tmp, "small", args.repeat, env=env)
            print(f"5. memory: {args.n:,} generated Lite records peak {small[1]:.0f} MiB", end="")
            if args.big:
                f.unlink()
                gen_records.write(f, "megvii_lite", args.big, seed=8)
                big = best(OURS, f, tmp, "big", args.repeat, env=env)
                print(f"; {args.big:,} records peak {big[1]:.0f} MiB ({big[0]:.1f} s)")
                target("peak memory 1M / 100k (flat)", big[1] / small[1], 1.15, "x", True)
                trace: list = []
                run(OURS, f, tmp / "big-trace", env=env, trace=trace)
                shutil.rmtree(tmp / "big-trace", ignore_errors=True)
                print(f"  RSS of one more {args.big:,}-record run, highest per tenth of it: {trend(trace)}")
            else:
                print()
            f.unlink(missing_ok=True)
            for src in (s for s in args.flat_sources.split(",") if s) if args.big else ():
                # a source of bigger rows (chunks of more bytes) flat too
                f = tmp / f"{src}-flat.jsonl"
                gen_records.write(f, src, args.n, seed=7)
                small = best(OURS, f, tmp, "small", args.repeat, env=env)
                gen_records.write(f, src, args.big, seed=8)
                big = best(OURS, f, tmp, "big", args.repeat, env=env)
                print(f"  {src}: {args.n:,} records peak {small[1]:.0f} MiB; {args.big:,} records peak "
                      f"{big[1]:.0f} MiB ({big[0]:.1f} s)")
                target(f"{src}: peak memory 1M / 100k (flat)", big[1] / small[1], 1.15, "x", True)
                f.unlink(missing_ok=True)
            hostile = tmp / "hostile.jsonl"
            rng = random.Random(5)
            with open(hostile, "wb") as fh:
                for i in range(10_000):
                    p = {"error_message": "RESULT_NOT_FOUND", "request_id": f"1700000000,{i}",
                         **{f"k{rng.getrandbits(40):x}": rng.randint(0, 9) for _ in range(20)}}
                    fh.write(orjson.dumps({"source": "megvii_lite", "session_id": f"1700000000,h{i}",
                                           "fetched_at": "2026-11-01T00:00:00Z", "http_status": 200,
                                           "payload": p}) + b"\n")
            h = best(OURS, hostile, tmp, "hostile", 1, env=env)
            print(f"  10,000 records with 20 distinct unknown keys each ({hostile.stat().st_size / 1e6:.1f} MB): "
                  f"{h[0]:.1f} s, peak {h[1]:.0f} MiB; {h[2].strip().splitlines()[0]}")
            target("unknown keys: peak memory", h[1], 600, "MiB", True)
            deep = tmp / "deep.jsonl"
            good = orjson.dumps(next(gen_records.records("megvii_lite", 1, seed=9)))
            deep.write_bytes(good + b"\n" + b'{"source":"megvii_lite","payload":' + b'{"a":' * 10_000
                             + b"1" + b"}" * 10_001 + b"\n" + good.replace(b'"session_id":"', b'"session_id":"x')
                             + b"\n")
            d = best(OURS, deep, tmp, "deep", 1, env=env)
            print(f"  a line nested 10,000 deep between two good ones: {d[2].strip().splitlines()[0]}")
            target("deep line: records landed", float(d[2].split("landed")[1].split()[0]), 2, "", False)
            import pyarrow as pa

            long = tmp / "long.jsonl.zst"
            with pa.output_stream(str(long), compression="zstd") as fh:
                fh.write(good + b"\n" + b'{"source":"megvii_lite","payload":{"x":"')
                for _ in range(64):
                    fh.write(b"a" * (16 << 20))  # 1 GiB without a newline
                fh.write(b'"}}\n' + good.replace(b'"session_id":"', b'"session_id":"x') + b"\n")
            z = best(OURS, long, tmp, "long", 1, env=env)
            print(f"  a {long.stat().st_size / 1e3:.0f} KB Zstandard file holding a 1 GiB line between two good ones: "
                  f"{z[0]:.1f} s, peak {z[1]:.0f} MiB; {z[2].strip().splitlines()[0]}")
            target("1 GiB line: peak memory", z[1], 600, "MiB", True)
            target("1 GiB line: records landed", float(z[2].split("landed")[1].split()[0]), 2, "", False)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    missed = [label for label, ok in _RESULTS if not ok]
    print(f"\n{len(_RESULTS) - len(missed)} of {len(_RESULTS)} targets met"
          + (f"; missed: {', '.join(missed)}" if missed else ""))
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
