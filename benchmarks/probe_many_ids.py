"""A fetch of many ids: time to its first call, CPU and peak memory, beside a baseline package.

    python benchmarks/probe_many_ids.py --baseline /tmp/base-hf [--n 1000000,100000] [--repeat 2]

The ids are generated as the documents give them: a Megvii biz_id is
``<unix time>,<uuid>`` ("1462259748,52b13fb5-8dfb-4537-a62b-a641d5e929f1"), a Baidu
verify_token a run of 24 letters and digits ("Yz9rWITm4vak16PBAh5x8oG7").  Each contender is
a whole process, ``python -m faceanalytics fetch megvii-lite --ids FILE`` (or ``baidu --tokens
FILE --what stat``) into a fresh data directory, against a stub on loopback that notes when the
first request arrives and answers it as the provider answers credentials that do not match
(Megvii 401 AUTHENTICATION_ERROR, Baidu's token endpoint 401 invalid_client): fatal, so the run
stops after that one call.  Printed per contender (the better of ``--repeat`` runs, alternated):

- first call s: wall seconds from starting the process to the first request reaching the stub;
- CPU s: user + system seconds of the whole process (wait4), almost all of it before that call;
- peak MB: its peak resident set (ru_maxrss), and bytes per id above a 3-id run of the same version.

``--kept K`` (Megvii): each run starts from a copy of a data directory already holding K Lite
sessions (``gen_records.py``, ingested once), and the id file lists those K ids (final: skipped)
before its N new ones; the 3-id floor run uses the same directory.
"""
from __future__ import annotations

import argparse
import http.server
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def write_ids(path: Path, provider: str, n: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8") as f:
        for i in range(n):
            if provider == "megvii":
                f.write(f"{1_760_000_000 + i * 37 + rng.randint(0, 30)},{uuid.UUID(int=rng.getrandbits(128), version=4)}\n")
            else:
                f.write("".join(rng.choices(ALNUM, k=24)) + "\n")


class _Stub(http.server.ThreadingHTTPServer):
    daemon_threads = True
    first: float | None = None


class _Handler(http.server.BaseHTTPRequestHandler):
    def _answer(self) -> None:
        if self.server.first is None:
            self.server.first = time.monotonic()
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(n)
        if self.path.startswith("/oauth/"):
            body = b'{"error": "invalid_client", "error_description": "unknown client id"}'
        else:
            body = b'{"error_message": "AUTHENTICATION_ERROR", "request_id": "1462259748,probe"}'
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, *args) -> None:
        pass


def run_once(pkg: str, provider: str, ids: Path, work: Path, seed_dir: Path | None = None) -> dict:
    stub = _Stub(("127.0.0.1", 0), _Handler)
    threading.Thread(target=stub.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{stub.server_address[1]}"
    data = work / "data"
    shutil.rmtree(data, ignore_errors=True)
    if seed_dir is not None:
        shutil.copytree(seed_dir, data)
    env = dict(os.environ, PYTHONPATH=pkg, MEGVII_API_KEY="probe-key", MEGVII_API_SECRET="probe-secret",
               BAIDU_API_KEY="probe-key", BAIDU_SECRET_KEY="probe-secret")
    if provider == "megvii":
        args = ["megvii-lite", "--ids", str(ids)]
    else:
        args = ["baidu", "--tokens", str(ids), "--what", "stat"]
    cmd = [sys.executable, "-m", "faceanalytics", "fetch", *args, "--data", str(data), "--base-url", url,
           "--no-progress"]
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, env=env, cwd=str(work), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    stub.shutdown()
    stub.server_close()
    if stub.first is None:
        raise SystemExit(f"{pkg}: no call reached the stub (exit {proc.returncode}):\n{err[-2000:]}")
    return {"first": stub.first - t0, "cpu": usage.ru_utime + usage.ru_stime, "rss_mb": usage.ru_maxrss / 1024}


def _kept(work: Path, k: int) -> tuple[Path, str]:
    """A data directory holding ``k`` Lite sessions (generated from the documents), and their ids."""
    sys.path.insert(0, str(HERE))
    import gen_records

    records = work / "kept.jsonl"
    gen_records.write(records, "megvii_lite", k)
    data = work / "kept-data"
    env = dict(os.environ, PYTHONPATH=str(HERE.parent))
    subprocess.run([sys.executable, "-m", "faceanalytics", "ingest", "-q", "--data", str(data), str(records)],
                   env=env, check=True, stdout=subprocess.DEVNULL)
    records.unlink()
    code = ("import sys; from faceanalytics.storage.tables import load_arrow; "
            "t = load_arrow(sys.argv[1], 'sessions', columns=['session_id']); "
            "sys.stdout.write(''.join(s + chr(10) for s in t.column('session_id').to_pylist()))")
    out = subprocess.run([sys.executable, "-c", code, str(data)], env=env, check=True, capture_output=True, text=True)
    return data, out.stdout


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--baseline", required=True, help="a directory holding another version's faceanalytics")
    ap.add_argument("--n", default="1000000,100000", help="id counts, comma-separated")
    ap.add_argument("--providers", default="megvii,baidu")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--kept", type=int, default=0, help="Lite sessions already in the tables (Megvii)")
    args = ap.parse_args()
    versions = {"baseline": str(Path(args.baseline).resolve()), "this": str(HERE.parent)}
    print(f"load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    print(f"  {'provider':<8} {'ids':>8} {'version':<9} {'first call s':>12} {'CPU s':>7} {'peak MB':>8} "
          f"{'B/id':>6}")
    with tempfile.TemporaryDirectory(prefix="probe-many-ids-") as tmp:
        work = Path(tmp)
        seed_dir, kept_ids = (_kept(work, args.kept) if args.kept else (None, ""))
        for provider in args.providers.split(","):
            seed = seed_dir if provider == "megvii" else None
            small = work / f"{provider}-3.txt"
            write_ids(small, provider, 3, seed=1)
            floor = {name: run_once(pkg, provider, small, work, seed)["rss_mb"] for name, pkg in versions.items()}
            print(f"  {provider:<8} peak MB of a 3-id run (the floor of B/id): "
                  + ", ".join(f"{name} {mb:.0f}" for name, mb in floor.items()))
            for n in (int(x) for x in args.n.split(",")):
                ids = work / f"{provider}-{n}.txt"
                write_ids(ids, provider, n)
                if seed is not None:
                    ids.write_text(kept_ids + ids.read_text())
                runs: dict[str, list[dict]] = {name: [] for name in versions}
                for r in range(args.repeat):
                    order = list(versions.items()) if r % 2 == 0 else list(versions.items())[::-1]
                    for name, pkg in order:
                        runs[name].append(run_once(pkg, provider, ids, work, seed))
                n_kept = args.kept if seed is not None else 0
                for name, got in runs.items():
                    best = min(got, key=lambda x: x["first"])
                    per_id = (min(x["rss_mb"] for x in got) - floor[name]) * 2**20 / (n + n_kept)
                    print(f"  {provider:<8} {n:>8} {name:<9} {best['first']:>12.2f} "
                          f"{min(x['cpu'] for x in got):>7.2f} {min(x['rss_mb'] for x in got):>8.0f} "
                          f"{per_id:>6.0f}")
                firsts = "; ".join(k + " " + ", ".join(f"{x['first']:.2f}" for x in v) for k, v in runs.items())
                print(f"  {provider:<8} {n:>8} (+{n_kept} kept) id file {ids.stat().st_size / (n + n_kept):.0f} B/id; "
                      f"all first-call s: {firsts}")
                ids.unlink()
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
