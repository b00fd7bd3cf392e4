"""Ingest speed and memory, side by side with two baselines in the same run.

    python benchmarks/bench_ingest.py [--n 100000] [--big 1000000]

Each contender runs as its own process on the same file of Megvii Lite payloads
(~1.6 KB each, one per line) and is measured by wall time and peak RSS
(``wait4``'s ``ru_maxrss``):

- naive: ``json.loads`` per line + ``pandas.json_normalize`` + ``to_parquet``
  (what analysts write today; it keeps everything in memory);
- floor: ``orjson.loads`` per line, one column to Parquet (the least any reader
  of this file can do);
- faceanalytics: ``faceanalytics ingest --source megvii_lite`` (raw archive,
  all tables, dedupe index, atomic commit).

Targets (issue 2): >= 5x faster than naive, <= 2.5x the floor, peak memory
<= 25% of naive's, and flat memory from 100k to 1M payloads.
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

HERE = Path(__file__).resolve().parent
PY = sys.executable

NAIVE = r"""
import json, sys, pandas as pd
rows = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
df = pd.json_normalize(rows)
df.to_parquet(sys.argv[2] + "/naive.parquet")
"""

FLOOR = r"""
import sys, orjson, pyarrow as pa, pyarrow.parquet as pq
ids = [orjson.loads(l)["biz_info"]["biz_id"] for l in open(sys.argv[1], "rb")]
pq.write_table(pa.table({"biz_id": ids}), sys.argv[2] + "/floor.parquet")
"""

OURS = r"""
import sys
from faceanalytics.cli import main
sys.exit(main(["ingest", sys.argv[1], "--data", sys.argv[2] + "/data", "--source", "megvii_lite"]))
"""

THRESHOLD_SETS = [(65.3, 71.8, 76.5, 79.9), (62.169, 69.315, 74.399, 78.038)]


def make_payload(rng: random.Random, i: int) -> dict:
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


def run(code: str, path: Path, work: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one contender in its own process."""
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    proc = subprocess.Popen([PY, "-c", code, str(path), str(work)], stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"contender failed with status {status}")
    return wall, usage.ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--big", type=int, default=1_000_000, help="size for the flat-memory check (0: skip)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per contender (best time is kept)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="fa-bench-"))
    try:
        f = tmp / "lite.jsonl"
        avg = make_file(f, args.n)
        print(f"{args.n:,} Megvii Lite payloads, {avg:,.0f} bytes each on average\n")
        results = {}
        for name, code in (("naive", NAIVE), ("floor", FLOOR), ("faceanalytics", OURS)):
            # Best wall time of --repeat runs (this VM is noisy), each into a fresh directory.
            runs = [run(code, f, tmp / f"{name}-{k}") for k in range(args.repeat)]
            results[name] = (min(w for w, _ in runs), max(m for _, m in runs))
            for k in range(args.repeat):
                shutil.rmtree(tmp / f"{name}-{k}", ignore_errors=True)
        print(f"best of {args.repeat} runs each\n")
        print(f"{'contender':<16}{'seconds':>10}{'peak MiB':>12}")
        for name, (wall, rss) in results.items():
            print(f"{name:<16}{wall:>10.2f}{rss:>12.0f}")
        ours_t, ours_m = results["faceanalytics"]
        print()
        print(f"speed-up over naive:      {results['naive'][0] / ours_t:5.1f}x   (target >= 5x)")
        print(f"time vs floor:            {ours_t / results['floor'][0]:5.2f}x   (target <= 2.5x)")
        print(f"peak memory vs naive:     {100 * ours_m / results['naive'][1]:5.1f}%   (target <= 25%)")
        if args.big:
            big = tmp / "big.jsonl"
            make_file(big, args.big)
            f.unlink()
            # The highest peak of --repeat runs, as for the 100k figure above.
            runs = []
            for k in range(args.repeat):
                runs.append(run(OURS, big, tmp / f"big-{k}"))
                shutil.rmtree(tmp / f"big-{k}", ignore_errors=True)
            wall, rss = min(w for w, _ in runs), max(m for _, m in runs)
            print(f"\nflat memory (highest peak of {args.repeat} runs each): {args.n:,} payloads "
                  f"{ours_m:.0f} MiB; {args.big:,} payloads {rss:.0f} MiB (best time {wall:.1f} s; "
                  f"peaks {', '.join(f'{m:.0f}' for _, m in runs)}) -> ratio {rss / ours_m:.2f}, "
                  f"target <= 1.0 within noise")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
