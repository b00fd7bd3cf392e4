"""The sandbox's HTTP server facing hostile clients: its peak memory and threads, beside a baseline.

    python benchmarks/probe_sandbox_hostile.py --baseline /tmp/base-h8 [--clients 40] [--idle 300]

Each contender (``--baseline DIR``: a directory holding another ``faceanalytics`` package, e.g.
``git archive main faceanalytics | tar -x -C DIR``; and this tree) runs the sandbox in a child
process of its own; this process is the clients, on loopback:

- ``idle``: ``--idle`` connections each send a request line, headers announcing a 32 MiB body,
  and 10 bytes of it, then nothing;
- ``bodies``: ``--clients`` of those connections then send the rest of their 32 MiB body at once;
- a plain request (a Lite get_result) is timed while they are open.

Printed per contender: the child's threads with the idle connections open, its peak resident
memory (VmHWM) after the bodies, the plain request's status and seconds.
"""
from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_CHILD = """
import sys, time
from faceanalytics.sandbox import Sandbox
with Sandbox(seed=1, n_lite=5, n_liveness=0, n_baidu=0) as sb:
    print(sb.url, flush=True)
    sys.stdin.read()
"""


def _status(pid: int, field: str) -> int:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _one(root: Path, clients: int, idle: int) -> tuple:
    env = {**os.environ, "PYTHONPATH": str(root)}
    child = subprocess.Popen([sys.executable, "-c", _CHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             text=True, env=env, cwd="/")
    try:
        url = child.stdout.readline().strip()
        host, port = url.split("//")[1].rsplit(":", 1)
        socks = []
        head = b"POST /faceid/lite/get_result HTTP/1.1\r\nHost: x\r\nContent-Length: 33554432\r\n\r\n"
        for _ in range(idle):
            s = socket.create_connection((host, int(port)))
            s.sendall(head + b"a" * 10)
            socks.append(s)
        time.sleep(2)
        threads = _status(child.pid, "Threads")
        big = b"a" * ((32 << 20) - 10)

        def send(s):
            try:
                s.sendall(big)
            except OSError:
                pass

        ts = [threading.Thread(target=send, args=(s,), daemon=True) for s in socks[:clients]]
        for t in ts:
            t.start()
        import urllib.request
        t0 = time.monotonic()
        try:
            code = urllib.request.urlopen(f"{url}/faceid/lite/get_result?api_key=x&api_secret=y&biz_id=1",
                                          timeout=60).status
        except urllib.error.HTTPError as e:
            code = e.code
        except OSError as e:
            code = type(e).__name__
        plain = time.monotonic() - t0
        for t in ts:
            t.join(120)
        time.sleep(3)
        peak = _status(child.pid, "VmHWM") / 1024
        for s in socks:
            s.close()
        return threads, peak, code, plain
    finally:
        child.kill()
        child.wait()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--baseline", required=True, type=Path)
    ap.add_argument("--clients", type=int, default=40)
    ap.add_argument("--idle", type=int, default=300)
    args = ap.parse_args()
    print(f"{'code':<9} {'threads':>8} {'peak MiB':>9} {'plain request':>14}", flush=True)
    for code, root in (("baseline", args.baseline), ("this", ROOT)):
        threads, peak, status, plain = _one(root, args.clients, args.idle)
        print(f"{code:<9} {threads:>8} {peak:>9.0f} {status!s:>8} {plain:>5.2f} s", flush=True)


if __name__ == "__main__":
    main()
