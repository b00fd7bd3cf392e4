"""Engines side by side: DuckDB on 200M comparison rows, pandas on what it can hold, Spark local.

    python benchmarks/bench_engines.py [--rows 200000000] [--dir /tmp] [--pandas-budget-gb 12]
                                       [--spark-rows 20000000] [--keep DIR] [--reuse DIR]

1. Writes ``--rows`` synthetic comparison rows as the store lays them out
   (``tables/comparisons/source=*/month=*/part-*.parquet``, zstd, every column of
   the table; one year, 2025-11 to 2026-10; per-row thresholds from four sets;
   three decimals; 0.1% without a confidence; files of ~2.5M rows, each covering
   consecutive days, sorted by ``session_time`` as ingest appends them), in
   parallel processes.
2. Weekly pass rates per level (``engines.pass_rates(DATA, freq="W")``) with
   DuckDB over all of it, in its own process, ``memory_limit=3GB``, 2 threads;
   wall time and peak RSS (``wait4``'s ``ru_maxrss``).  Target: under 4 GB.
3. The pandas path (``engine="pandas"``: ``load`` of the six columns it needs,
   then ``analytics.pass_rates``) on growing windows of whole months, each in its
   own process: its peak RSS per row gives the largest window that fits
   ``--pandas-budget-gb`` (the machine is shared: 24 GB, 2 cores); DuckDB runs on
   the same window, and the two results are checked equal.
   For scale, the peak RSS per row of the whole table as ``fa.load`` returns it.
4. For information: the exact confidence histogram per comparison kind over all
   rows with DuckDB (what ``plot_confidence_thresholds`` draws from).
5. Spark in local mode (``local[2]``, driver 2 GB) on a window of whole days with
   at least ``--spark-rows`` rows: the same weekly pass rates, cold and warm
   (the session start is quoted apart), checked equal to DuckDB's.

Prints the figures side by side, then deletes the data unless ``--keep``
(``--reuse DIR`` measures again on kept data).  Disk: ~4.2 GB for 200M rows.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

PY = sys.executable
DAY_US = 86_400_000_000
START = "2025-11-01"
MONTHS = [f"{2025 + (10 + i) // 12}-{(10 + i) % 12 + 1:02d}" for i in range(12)]   # 2025-11 .. 2026-10
SOURCES = (("megvii_lite", 0.80), ("megvii_liveness", 0.12), ("baidu_getall", 0.08))
SETS = np.array([[62.169, 69.315, 74.399, 78.038],
                 [62.169, 69.315, 74.399, np.nan],
                 [64.0, 69.0, 74.0, np.nan],
                 [65.3, 71.8, 76.5, 79.9]])
ROWS_PER_FILE = 2_500_000


# ------------------------------------------------------------------ data

def _month_bounds(m: str) -> tuple[int, int]:
    y, mo = map(int, m.split("-"))
    a = np.datetime64(f"{y:04d}-{mo:02d}-01", "us").astype(np.int64)
    y2, mo2 = (y + mo // 12, mo % 12 + 1)
    b = np.datetime64(f"{y2:04d}-{mo2:02d}-01", "us").astype(np.int64)
    return int(a), int(b)


def _hex_ids(rng, n: int, width: int = 32):
    """``n`` random hex strings as an Arrow string array, without Python strings."""
    import pyarrow as pa

    digits = np.frombuffer(b"0123456789abcdef", np.uint8)
    buf = digits[rng.integers(0, 16, n * width, dtype=np.uint8)]
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(buf.tobytes()))


def _write_file(task) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from faceanalytics.schema import file_schema

    path, source, t0, t1, n, seed = task
    rng = np.random.default_rng(seed)
    t = np.sort(rng.integers(t0, t1, n))
    if source == "baidu_getall":
        conf = np.round(np.clip(np.where(rng.random(n) < 0.9, rng.normal(85, 6, n), rng.normal(50, 12, n)),
                                0, 100), 4)
        thr = np.full((n, 4), np.nan)
        threshold = rng.choice([70.0, 80.0], n)
        comparison = np.full(n, "faceprint")
        attempt = rng.integers(1, 4, n).astype(np.int32)
    else:
        p = [0.85, 0.08, 0.04, 0.03] if source == "megvii_lite" else [0.0, 0.0, 1.0, 0.0]
        thr = SETS[rng.choice(4, n, p=p)]
        genuine = rng.random(n) < 0.93
        conf = np.round(np.clip(np.where(genuine, rng.normal(80, 7, n), rng.normal(45, 12, n)), 0, 100), 3)
        threshold = np.full(n, np.nan)
        comparison = np.where(rng.random(n) < 0.6, "faceid", np.where(rng.random(n) < 0.8, "idcard_photo", "ref1"))
        attempt = np.ones(n, np.int32)
    conf[rng.random(n) < 0.001] = np.nan
    ids = _hex_ids(rng, (n + 1) // 2).take(pa.array(np.arange(n) // 2))      # ~2 comparisons a session
    ts = pa.array(t, pa.timestamp("us", tz="UTC"))
    cols = {
        "session_id": ids, "fetched_at": pa.array(t + rng.integers(0, 3_600_000_000, n), pa.timestamp("us", tz="UTC")),
        "session_time": ts, "comparison": pa.array(comparison, pa.string()), "attempt": pa.array(attempt),
        "confidence": pa.array(conf, from_pandas=True),
        "thr_1e3": pa.array(thr[:, 0], from_pandas=True), "thr_1e4": pa.array(thr[:, 1], from_pandas=True),
        "thr_1e5": pa.array(thr[:, 2], from_pandas=True), "thr_1e6": pa.array(thr[:, 3], from_pandas=True),
        "threshold": pa.array(threshold, from_pandas=True),
    }
    table = pa.table(cols, schema=file_schema("comparisons"))
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, compression="zstd", row_group_size=1_000_000)
    return os.path.getsize(path)


def plan_files(rows: int, rows_per_file: int = ROWS_PER_FILE):
    """(source, month, file number, t0, t1, rows) of each file: rows spread over the months in
    proportion to their length and over the sources by ``SOURCES``' shares, each file a span
    of consecutive days."""
    spans = [_month_bounds(m) for m in MONTHS]
    total_us = spans[-1][1] - spans[0][0]
    left = rows
    for mi, (m, (a, b)) in enumerate(zip(MONTHS, spans)):
        m_rows = left if mi == len(MONTHS) - 1 else round(rows * (b - a) / total_us)
        left -= m_rows
        s_left = m_rows
        for si, (source, share) in enumerate(SOURCES):
            n = s_left if si == len(SOURCES) - 1 else round(m_rows * share)
            s_left -= n
            files = max(1, math.ceil(n / rows_per_file))
            cuts = np.linspace(a, b, files + 1).astype(np.int64)
            counts = np.diff(np.linspace(0, n, files + 1).round().astype(np.int64))
            for f in range(files):
                yield source, m, f, int(cuts[f]), int(cuts[f + 1]), int(counts[f])


def make_dataset(root: Path, rows: int, workers: int) -> tuple[int, float]:
    """Write ``rows`` comparisons; returns (bytes, seconds)."""
    tasks = []
    for seed, (source, m, f, t0, t1, n) in enumerate(plan_files(rows)):
        d = root / "tables" / "comparisons" / f"source={source}" / f"month={m}"
        tasks.append((str(d / f"part-bench-{f:04d}.parquet"), source, t0, t1, n, seed))
    t = time.perf_counter()
    with ProcessPoolExecutor(max_workers=workers) as ex:
        size = sum(ex.map(_write_file, tasks))
    return size, time.perf_counter() - t


# ------------------------------------------------------------------ one measurement, its own process

CHILD = r"""
import json, pickle, sys, time, warnings
warnings.filterwarnings("ignore")
args = json.loads(sys.argv[1])
from faceanalytics import engines as E
kind = args["engine"]
t_start = time.perf_counter()
if kind == "duckdb":
    eng = E.DuckDBEngine(memory_limit=args.get("memory_limit", "3GB"), threads=args.get("threads", 2))
elif kind == "spark":
    import os
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    from pyspark.sql import SparkSession
    spark = (SparkSession.builder.master("local[2]").appName("bench-engines")
             .config("spark.driver.memory", "2g").config("spark.sql.shuffle.partitions", "4")
             .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false").getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    eng = E.SparkEngine(spark)
else:
    eng = "pandas"
startup = time.perf_counter() - t_start
metric = args.get("metric", "weekly")
win = dict(since=args.get("since"), until=args.get("until"))
times = []
for _ in range(args.get("repeat", 1)):
    t = time.perf_counter()
    if metric == "weekly":
        out = E.pass_rates(args["data"], freq="W", engine=eng, **win)
    elif metric == "histogram":
        out = E.confidence_histogram(args["data"], by="comparison", engine=eng, **win)
    else:                                  # what an analyst does first: the whole table as a DataFrame
        import faceanalytics as fa
        out = fa.load(args["data"], "comparisons", **win)
        out = out.head(0)
    times.append(time.perf_counter() - t)
jvm_gib = None
if kind == "spark":
    try:                                   # the JVM's own peak RSS (a grandchild: wait4 does not see it)
        pid = spark.sparkContext._gateway.proc.pid
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmHWM:"):
                jvm_gib = int(line.split()[1]) / 1024 ** 2
    except Exception:
        pass
    spark.stop()
pickle.dump(out, open(args["out"], "wb"))
print(json.dumps({"times": times, "startup": startup, "jvm_gib": jvm_gib}))
"""


def measure(work: Path, **args) -> dict:
    """Run one engine in a fresh process: its timings, result and peak RSS (GiB)."""
    out = work / f"result-{time.monotonic_ns()}.pkl"
    args["out"] = str(out)
    log = work / "child-stderr.txt"
    with open(log, "wb") as err:              # a file, not a pipe: Spark may log a lot
        t = time.perf_counter()
        proc = subprocess.Popen([PY, "-c", CHILD, json.dumps(args)], stdout=subprocess.PIPE, stderr=err)
        stdout = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{args['engine']} failed ({status}):\n{log.read_text(errors='replace')[-3000:]}")
    res = json.loads(stdout.decode().strip().splitlines()[-1])
    res["wall"] = wall
    res["rss_gib"] = usage.ru_maxrss / 1024 ** 2
    with open(out, "rb") as f:
        res["frame"] = pickle.load(f)
    out.unlink()
    return res


def count_rows(data: Path, since=None, until=None) -> int:
    import duckdb

    from faceanalytics.engines._sql import DuckDBDialect
    from faceanalytics.engines._api import _window

    glob = str(data / "tables" / "comparisons" / "source=*" / "month=*" / "part-*.parquet")
    w = _window(since, until)
    sql = (f"SELECT count(*) FROM read_parquet('{glob}', hive_partitioning=true, "
           f"hive_types={{'source': 'VARCHAR', 'month': 'VARCHAR'}}){w.where(DuckDBDialect())}")
    return duckdb.connect().sql(sql).fetchall()[0][0]


def month_window(k: int) -> tuple[str, str]:
    """The first ``k`` months of the year."""
    end = MONTHS[k] + "-01" if k < len(MONTHS) else "2026-11-01"
    return START, end


def fmt_row(name, rows, r, note=""):
    t = r["times"]
    tt = f"{t[0]:8.1f} s" + (f" (warm {min(t[1:]):.1f} s)" if len(t) > 1 else "")
    rss = f"{r['rss_gib']:>8.2f} GiB"
    if r.get("jvm_gib"):
        rss = f"{r['rss_gib']:.2f} + JVM {r['jvm_gib']:.2f} GiB"
    return f"{name:<26}{rows:>14,}  {tt:<24}{rss:>12}  {note}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=200_000_000)
    ap.add_argument("--dir", default=None, help="where to write the data (default: the system temp dir)")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--pandas-budget-gb", type=float, default=12.0,
                    help="largest pandas peak RSS to allow (the machine is shared)")
    ap.add_argument("--spark-rows", type=int, default=20_000_000)
    ap.add_argument("--skip-spark", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the data afterwards")
    ap.add_argument("--reuse", default=None, help="a data directory written by an earlier --keep run")
    a = ap.parse_args(argv)
    import pandas as pd
    from pandas.testing import assert_frame_equal

    work = Path(tempfile.mkdtemp(prefix="fa-bench-engines-", dir=a.dir))
    data = Path(a.reuse) if a.reuse else work / "data"
    lines = []
    try:
        if not a.reuse:
            du = shutil.disk_usage(work)
            need = a.rows * 60
            if du.free < need:
                raise SystemExit(f"{work}: {du.free / 1e9:.0f} GB free, about {need / 1e9:.0f} GB needed")
            size, secs = make_dataset(data, a.rows, a.workers)
            print(f"wrote {a.rows:,} comparison rows ({size / 1e9:.1f} GB Parquet, zstd) in {secs:.0f} s "
                  f"with {a.workers} processes: {data}", flush=True)
        total = count_rows(data)
        nfiles = len(list((data / "tables" / "comparisons").glob("source=*/month=*/part-*.parquet")))
        print(f"{total:,} rows in {nfiles} files", flush=True)

        # 2. DuckDB over everything.
        big = measure(work, engine="duckdb", data=str(data))
        print(fmt_row("duckdb, all", total, big), flush=True)
        # 3. pandas: calibrate on one month, then the largest window within the budget.
        w1 = month_window(1)
        n1 = count_rows(data, *w1)
        p1 = measure(work, engine="pandas", data=str(data), since=w1[0], until=w1[1])
        d1 = measure(work, engine="duckdb", data=str(data), since=w1[0], until=w1[1])
        assert_frame_equal(p1["frame"], d1["frame"], check_exact=True)
        base_gib = measure(work, engine="pandas", data=str(data), since="2100-01-01")["rss_gib"]   # imports only
        per_row = max(p1["rss_gib"] - base_gib, 1e-9) / n1
        fit_rows = int((a.pandas_budget_gb - base_gib) / per_row)
        k = 1
        while k < len(MONTHS) and count_rows(data, *month_window(k + 1)) <= fit_rows:
            k += 1
        wk = month_window(k)
        nk = count_rows(data, *wk)
        print(fmt_row("pandas, 1 month", n1, p1), flush=True)
        print(fmt_row("duckdb, 1 month", n1, d1), flush=True)
        if k > 1:
            pk = measure(work, engine="pandas", data=str(data), since=wk[0], until=wk[1])
            dk = measure(work, engine="duckdb", data=str(data), since=wk[0], until=wk[1])
            assert_frame_equal(pk["frame"], dk["frame"], check_exact=True)
        else:
            pk, dk = p1, d1
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024 ** 3
        per_row_k = (pk["rss_gib"] - base_gib) / nk
        # What the whole table costs in pandas (all 13 columns, as fa.load gives it).
        full1 = measure(work, engine="pandas", metric="load", data=str(data), since=w1[0], until=w1[1])
        per_row_full = (full1["rss_gib"] - base_gib) / n1
        # The exact histogram over everything (what a plot of every row draws from).
        hist = measure(work, engine="duckdb", metric="histogram", data=str(data))
        # 4. Spark local on ~spark_rows rows: whole days from the start.
        sp = None
        if not a.skip_spark:
            days = max(1, math.ceil(a.spark_rows / (total / 365)))
            ws = (START, str((pd.Timestamp(START) + pd.Timedelta(days=days)).date()))
            ns = count_rows(data, *ws)
            sp = measure(work, engine="spark", data=str(data), since=ws[0], until=ws[1], repeat=2)
            ds = measure(work, engine="duckdb", data=str(data), since=ws[0], until=ws[1])
            assert_frame_equal(sp["frame"], ds["frame"], check_exact=True)

        print()
        lines.append(f"load average during the run: {os.getloadavg()[0]:.1f} (1 min) / "
                     f"{os.getloadavg()[2]:.1f} (15 min) on a shared machine")
        lines.append(f"Weekly pass rates per level (engines.pass_rates(DATA, freq='W')), "
                     f"{os.cpu_count()} cores, {ram:.0f} GiB RAM; each run in its own process")
        lines.append(f"{'':<26}{'rows':>14}  {'time':<24}{'peak RSS':>12}")
        lines.append(fmt_row("DuckDB (3 GB limit)", total, big, "target < 4 GiB: " +
                             ("ok" if big["rss_gib"] < 4 else "MISSED")))
        lines.append(fmt_row(f"pandas ({k} month(s))", nk, pk, f"{per_row_k * 2**30:.0f} bytes/row above imports"))
        lines.append(fmt_row(f"DuckDB ({k} month(s))", nk, dk,
                             f"{pk['times'][0] / dk['times'][0]:.1f}x faster than pandas, equal frames"))
        if sp is not None:
            lines.append(fmt_row(f"Spark local[2] (to {ws[1]})", ns, sp,
                                 f"+{sp['startup']:.0f} s session start; equal to DuckDB"))
            lines.append(fmt_row(f"DuckDB (to {ws[1]})", ns, ds, ""))
        lines.append(fmt_row("DuckDB exact histogram", total, hist,
                             f"by comparison: {len(hist['frame']):,} cells (what the plots draw from)"))
        cap = int((ram - base_gib) / per_row_k)
        cap_full = int((ram - base_gib) / per_row_full)
        lines.append("")
        lines.append(f"pandas peaks at about {per_row_k * 2**30:.0f} bytes per comparison for this metric (six "
                     f"columns loaded, then period and level codes): ~{cap / 1e6:.0f}M rows would fill all "
                     f"{ram:.0f} GiB; the run above stays within --pandas-budget-gb={a.pandas_budget_gb:g} "
                     f"(the machine is shared): {fit_rows / 1e6:.0f}M rows -> {k} whole month(s).  The whole "
                     f"table as fa.load returns it costs {per_row_full * 2**30:.0f} bytes per row "
                     f"(~{cap_full / 1e6:.0f}M rows in {ram:.0f} GiB).")
        print("\n".join(lines))
    finally:
        for p in [*work.glob("result-*.pkl"), work / "child-stderr.txt"]:
            p.unlink(missing_ok=True)
        clean_up(work, data, keep=a.keep, reuse=a.reuse)
    return 0


def clean_up(work: Path, data: Path, *, keep: bool, reuse) -> None:
    """Delete the benchmark's work directory, unless its data is to be kept for ``--reuse``."""
    if keep and not reuse:
        print(f"\ndata kept in {data} (measure again with --reuse {data})")
    else:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
