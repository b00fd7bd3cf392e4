"""What unverified callbacks cost the receiver: peak memory and disk, side by side.

    python benchmarks/bench_receive.py [--n 600] [--body 1048576] [--baseline-src DIR]

Each contender is ``faceanalytics receive`` in its own process.  A client posts ``n``
callbacks with a bad sign from 32 connections at once, each ``body`` bytes: the
document's ``notify_url`` example (``tests/data/seeds/megvii_notify_callback.json``)
with its ``biz_extra_data`` padded to size and a sign that does not match.  Then the
receiver is stopped (SIGTERM: it lands what it holds) and we read its peak RSS
(``VmHWM``) and the bytes it left in the data directory.

Rows: the receiver with nothing posted (the floor), with n/10, n and 2n rejected
requests at ``--max-body`` = ``body`` (so it must read and judge every body), and with n
at the default body limit (64 KiB: the bodies are refused unread).  With
``--baseline-src`` (a checkout of another version, e.g. ``git archive main
faceanalytics | tar -x -C /tmp/base``) the same n requests go to that version too.

Target (issue 13, item 7): memory independent of how many requests were rejected,
and disk bounded (the rotating store, 16 MiB by default).

``--headers C``: instead, C connections each send a request line and 99 header lines of
64,000 bytes (each under http.server's own 64 KiB line limit) and hold the connection open
without ending the headers; the rows are this version and, with ``--baseline-src``, the
other (round 5: the request line and headers end at 64 KiB, 431).
"""
from __future__ import annotations

import argparse
import base64
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEED = HERE.parent / "tests" / "data" / "seeds" / "megvii_notify_callback.json"
SECRET = "bench-secret-0123456789abcdef0123"


def make_body(size: int, i: int) -> bytes:
    """The document's callback, padded to ``size`` bytes (random letters: the archive
    cannot compress them away), with a sign that does not match."""
    cb = json.loads(SEED.read_text(encoding="utf-8"))
    data = json.loads(cb["data"])
    data["biz_id"] = f"1700000000,bench-{i}"
    base = len(json.dumps({"data": json.dumps(data), "sign": "0" * 40}))
    rng = random.Random(i)
    data["biz_extra_data"] = base64.b64encode(rng.randbytes(max(0, size - base - 8) * 3 // 4)).decode()
    return json.dumps({"data": json.dumps(data), "sign": "0" * 40}).encode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def in_threads(worker, connections: int) -> dict:
    """``worker`` run by ``connections`` threads until each returns None: how many times it
    returned each status."""
    statuses: dict = {}
    lock = threading.Lock()

    def loop():
        while (status := worker()) is not None:
            with lock:
                statuses[status] = statuses.get(status, 0) + 1

    threads = [threading.Thread(target=loop) for _ in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return statuses


def status_of(s: socket.socket) -> str:
    """The status code of the answer waiting on ``s`` ("closed": none; the error's name)."""
    try:
        head = s.recv(64).split(b" ")
    except OSError as e:
        return type(e).__name__
    return head[1].decode() if len(head) > 1 else "closed"


def post_all(port: int, bodies: list[bytes], connections: int = 32) -> dict:
    lock = threading.Lock()
    it = iter(bodies)

    def worker():
        with lock:
            body = next(it, None)
        if body is None:
            return None
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
                s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                          b"Content-Length: %d\r\n\r\n" % len(body))
                try:
                    s.sendall(body)
                except OSError:
                    pass  # refused before the body was read (413): the answer is waiting
                return status_of(s)
        except OSError as e:
            return type(e).__name__

    return in_threads(worker, connections)


def hold_headers(port: int, connections: int) -> dict:
    """``connections`` clients sending 99 headers of 64,000 bytes, never the blank line; all
    held open until every one has sent what it could (the receiver may close them first)."""
    socks = []
    done = threading.local()

    def worker():
        if getattr(done, "sent", False):
            return None
        done.sent = True
        s = socket.create_connection(("127.0.0.1", port), timeout=60)
        socks.append(s)
        try:
            s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\n")
            for i in range(99):
                s.sendall(b"X-Pad-%d: " % i + b"a" * 64_000 + b"\r\n")
        except OSError:
            s.settimeout(5)
            return status_of(s)
        return "held"

    statuses = in_threads(worker, connections)
    time.sleep(1)
    for s in socks:
        s.close()
    return statuses


def run(src: str | None, n: int, size: int, max_body: int | None, headers: int = 0) -> dict:
    work = Path(tempfile.mkdtemp(prefix="bench-receive-"))
    port = free_port()
    env = {**os.environ, "MEGVII_API_SECRET": SECRET}
    if src:
        env["PYTHONPATH"] = src
    args = [sys.executable, "-m", "faceanalytics.cli", "receive", "--data", str(work / "d"),
            "--port", str(port)]
    if max_body is not None:
        args += ["--max-body", str(max_body)]
    # cwd outside the checkout, so PYTHONPATH decides which version runs
    p = subprocess.Popen(args, env=env, cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    for _ in range(300):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
            break
        except OSError:
            time.sleep(0.1)
    t0 = time.perf_counter()
    if headers:
        statuses = hold_headers(port, headers)
    else:
        statuses = post_all(port, [make_body(size, i) for i in range(n)]) if n else {}
    elapsed = time.perf_counter() - t0
    time.sleep(2.5)  # one landing cycle
    hwm = 0
    for line in Path(f"/proc/{p.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            hwm = int(line.split()[1]) // 1024
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=600)
    disk = sum(f.stat().st_size for f in (work / "d").rglob("*") if f.is_file())
    shutil.rmtree(work, ignore_errors=True)
    return {"statuses": statuses, "seconds": elapsed, "peak_mib": hwm, "disk_mib": disk / 2**20}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=600)
    ap.add_argument("--body", type=int, default=1 << 20)
    ap.add_argument("--baseline-src", help="PYTHONPATH of another version to run the same load")
    ap.add_argument("--headers", type=int, default=0, metavar="C",
                    help="C connections holding 99 header lines of 64,000 bytes each instead")
    a = ap.parse_args()
    if a.headers:
        print(f"{a.headers} connections, each a request line and 99 headers of 64,000 bytes, never ended\n")
        print(f"{'receiver':40s} {'answers':22s} {'seconds':>8s} {'peak MiB':>9s}")
        for label, src in [("this", None), *([("baseline", a.baseline_src)] if a.baseline_src else [])]:
            r = run(src, 0, 0, None, headers=a.headers)
            answers = ", ".join(f"{k}x{v}" for k, v in sorted(r["statuses"].items())) or "-"
            print(f"{label:40s} {answers:22s} {r['seconds']:8.1f} {r['peak_mib']:9d}", flush=True)
        return
    rows = [("this, nothing posted", None, 0, a.body),
            (f"this, {a.n // 10} rejected", None, a.n // 10, a.body),
            (f"this, {a.n} rejected", None, a.n, a.body),
            (f"this, {2 * a.n} rejected", None, 2 * a.n, a.body),
            (f"this, {a.n} rejected, default limit", None, a.n, None)]
    if a.baseline_src:
        rows.append((f"baseline, {a.n} rejected", a.baseline_src, a.n, a.body))
    print(f"{a.n} callbacks with a bad sign, {a.body} bytes each, 32 connections\n")
    print(f"{'receiver':40s} {'answers':22s} {'seconds':>8s} {'peak MiB':>9s} {'disk MiB':>9s}")
    for label, src, n, max_body in rows:
        r = run(src, n, a.body, max_body)
        answers = ", ".join(f"{k}x{v}" for k, v in sorted(r["statuses"].items())) or "-"
        print(f"{label:40s} {answers:22s} {r['seconds']:8.1f} {r['peak_mib']:9d} {r['disk_mib']:9.1f}",
              flush=True)


if __name__ == "__main__":
    main()
