"""Peak memory of ``ingest`` on lines dense with values, with the value limits and without
them (baseline), side by side in one run.

    python benchmarks/probe_dense_values.py [--lines 100] [--per-line 99000] [--one 5000000]

Two inputs, both valid JSON a careless exporter or an attacker can send (a Zstandard file
of either is a few KB):
- ``one``: a single Lite record whose ``will_result`` lists ``--one`` empty objects (15 MB);
- ``many``: ``--lines`` records of ``--per-line`` empty objects each (~300 KB a line).
Each runs in its own process (``ingest FILE --data DIR``), and the peak RSS is that process's
``ru_maxrss``.  The baseline process sets ``_records.MAX_VALUES`` and the block's comma budget
(``_chunks.BLOCK_VALUES``) out of reach first, which is the code before the limits.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "tests" / "data" / "seeds" / "megvii_lite_success.json"

_CHILD = """
import os, sys
os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")  # as the CLI sets it before pyarrow loads
from faceanalytics import _records
from faceanalytics.pipeline import _chunks, ingest
if sys.argv[1] == "baseline":
    big = 1 << 62
    _records.MAX_VALUES = big
    ingest.MAX_VALUES = big
    _chunks.BLOCK_VALUES = big
    _chunks._by_values.__defaults__ = (big,)
from faceanalytics.cli import main
sys.exit(main(["ingest", sys.argv[2], "--data", sys.argv[3], "-q", "--json"]))
"""


def _record(sid: str, n: int) -> bytes:
    p = json.loads(SEED.read_text("utf-8"))
    p["biz_info"]["biz_id"] = sid
    p["will_result"] = "@@"
    env = {"source": "megvii_lite", "session_id": sid, "fetched_at": "2026-11-20T10:00:00Z",
           "http_status": 200, "payload": p}
    return json.dumps(env).encode().replace(b'"@@"', b"[" + b",".join([b"{}"] * n) + b"]")


def _run(mode: str, path: Path, tmp: Path) -> tuple[float, float, str]:
    data = tmp / f"data-{mode}-{path.stem}"
    t = time.monotonic()
    p = subprocess.Popen([sys.executable, "-c", _CHILD, mode, str(path), str(data)],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=ROOT)
    out = p.stdout.read().decode()
    _, status, ru = os.wait4(p.pid, 0)
    p.stdout.close()
    rep = json.loads(out) if out.strip() else {"exit": status}
    summary = f"landed {rep.get('landed')}, quarantined {rep.get('quarantined')}"
    return ru.ru_maxrss / 1024, time.monotonic() - t, summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lines", type=int, default=100)
    ap.add_argument("--per-line", type=int, default=99_000)
    ap.add_argument("--one", type=int, default=5_000_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        one = tmp / "one.jsonl"
        one.write_bytes(_record("1462259748,one", args.one) + b"\n")
        many = tmp / "many.jsonl"
        many.write_bytes(b"\n".join(_record(f"1462259748,m{i}", args.per_line) for i in range(args.lines)) + b"\n")
        print(f"{'input':<44} {'mode':<9} {'peak MiB':>9} {'wall s':>7}  result")
        for path, what in ((one, f"one line, {args.one:,} values ({one.stat().st_size >> 20} MB)"),
                           (many, f"{args.lines} lines of {args.per_line:,} values ({many.stat().st_size >> 20} MB)")):
            for mode in ("baseline", "limits"):
                rss, wall, summary = _run(mode, path, tmp)
                print(f"{what:<44} {mode:<9} {rss:>9.0f} {wall:>7.1f}  {summary}", flush=True)


if __name__ == "__main__":
    main()
