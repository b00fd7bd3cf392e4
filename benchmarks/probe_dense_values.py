"""Peak memory of ``ingest`` on lines dense with values, and of ``fetch`` on answers dense
with values, with the value limits and without them (baseline), side by side in one run.

    python benchmarks/probe_dense_values.py [--lines 100] [--per-line 99000] [--one 5000000]
                                            [--answers 4] [--answer-mb 20]

Two inputs, both valid JSON a careless exporter or an attacker can send (a Zstandard file
of either is a few KB):
- ``one``: a single Lite record whose ``will_result`` lists ``--one`` empty objects (15 MB);
- ``many``: ``--lines`` records of ``--per-line`` empty objects each (~300 KB a line);
- ``fetch``: ``faceanalytics fetch megvii-lite`` of ``--answers`` biz_ids (``--concurrency 2``)
  from a loopback server whose every answer is ``--answer-mb`` MB of ``{"will_result":
  [{},{},…]}`` (the client reads answers of up to 64 MiB).
Each runs in its own process (``ingest FILE --data DIR``), and the peak RSS is that process's
``ru_maxrss``.  The baseline process sets ``MAX_VALUES`` and the block's comma budget
(``_chunks.BLOCK_VALUES``) out of reach first, which is the code before the limits.
"""
from __future__ import annotations

import argparse
import http.server
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "tests" / "data" / "seeds" / "megvii_lite_success.json"

_CHILD = """
import os, sys
os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")  # as the CLI sets it before pyarrow loads
from faceanalytics import _coerce, _records
from faceanalytics.pipeline import _chunks, ingest
if sys.argv[1] == "baseline":
    big = 1 << 62
    _coerce.MAX_VALUES = big
    _records.MAX_VALUES = big
    ingest.MAX_VALUES = big
    _chunks.BLOCK_VALUES = big
    _chunks._by_values.__defaults__ = (big,)
from faceanalytics.cli import main
if sys.argv[2] == "fetch":
    sys.exit(main(["fetch", "megvii-lite", "--ids", sys.argv[3], "--data", sys.argv[4], "--base-url",
                   sys.argv[5], "--concurrency", "2", "-q", "--json"]))
sys.exit(main(["ingest", sys.argv[2], "--data", sys.argv[3], "-q", "--json"]))
"""


def _record(sid: str, n: int) -> bytes:
    p = json.loads(SEED.read_text("utf-8"))
    p["biz_info"]["biz_id"] = sid
    p["will_result"] = "@@"
    env = {"source": "megvii_lite", "session_id": sid, "fetched_at": "2026-11-20T10:00:00Z",
           "http_status": 200, "payload": p}
    return json.dumps(env).encode().replace(b'"@@"', b"[" + b",".join([b"{}"] * n) + b"]")


def _serve(body: bytes) -> http.server.ThreadingHTTPServer:
    """A loopback server answering every request with ``body`` (as a provider gone wrong would)."""
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the stdlib's name
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def _run(mode: str, path: Path, tmp: Path, fetch_from: str | None = None) -> tuple[float, float, str]:
    data = tmp / f"data-{mode}-{path.stem}"
    t = time.monotonic()
    args = ["fetch", str(path), str(data), fetch_from] if fetch_from else [str(path), str(data)]
    env = {**os.environ, "MEGVII_API_KEY": "probe-key", "MEGVII_API_SECRET": "probe-secret"}
    p = subprocess.Popen([sys.executable, "-c", _CHILD, mode, *args],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=ROOT, env=env)
    out = p.stdout.read().decode()
    _, status, ru = os.wait4(p.pid, 0)
    p.stdout.close()
    rep = json.loads(out) if out.strip() else {"exit": status}
    if fetch_from:
        rep = rep.get("reports", [rep])[0] if isinstance(rep.get("reports"), list) else rep
    summary = f"landed {rep.get('landed')}, quarantined {rep.get('quarantined')}"
    return ru.ru_maxrss / 1024, time.monotonic() - t, summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lines", type=int, default=100)
    ap.add_argument("--per-line", type=int, default=99_000)
    ap.add_argument("--one", type=int, default=5_000_000)
    ap.add_argument("--answers", type=int, default=4)
    ap.add_argument("--answer-mb", type=int, default=20)
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
        n = args.answer_mb * (1 << 20) // 3
        srv = _serve(b'{"request_id": "r", "will_result": [' + b"{}," * n + b"{}]}")
        try:
            ids = tmp / "ids.txt"
            ids.write_text("".join(f"1462259748,a{i}\n" for i in range(args.answers)))
            what = f"fetch: {args.answers} answers of {args.answer_mb} MB ({n:,} values)"
            for mode in ("baseline", "limits"):
                rss, wall, summary = _run(mode, ids, tmp, f"http://127.0.0.1:{srv.server_port}")
                print(f"{what:<44} {mode:<9} {rss:>9.0f} {wall:>7.1f}  {summary}", flush=True)
        finally:
            srv.shutdown()


if __name__ == "__main__":
    main()
