"""Peak memory of recovering a large journal a killed ``receive`` (or ``fetch``) left behind,
this version and a baseline side by side in one run.

    python benchmarks/probe_journal_recovery.py --baseline /tmp/base [--mb 400] [--source megvii_notify]

The journal is ``--mb`` MB of ``benchmarks/gen_records.py`` envelopes of ``--source`` (what
``receive`` journals: signed ``notify_url`` callbacks), plus a last line a crash cut short.
Each contender recovers it in its own process (``recover_journals`` on a fresh copy of the data
directory, with the system allocator the streaming commands use), run under
``/usr/bin/time -v``: the row shows its "Maximum resident set size", its CPU seconds, what
landed and was quarantined, and the lines its raw segment holds (the same on both rows: nothing
lost).  ``--baseline``: a package of another version (``git archive main faceanalytics | tar -x
-C /tmp/base``).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

_CHILD = """
import json, os, sys
sys.path.insert(0, sys.argv[1])
import pyarrow as pa
pa.set_memory_pool(pa.system_memory_pool())     # as the streaming commands (cli._streaming_memory)
from faceanalytics.pipeline.ingest import Ingestor
from faceanalytics.pipeline._journal import recover_journals
from faceanalytics.storage.archive import RawArchive, read_meta
with Ingestor(sys.argv[2], megvii_api_secret=sys.argv[3]) as ing:
    rep = recover_journals(ing)
segs = RawArchive(sys.argv[2]).segments()
print(json.dumps({"landed": rep.landed, "quarantined": rep.quarantined,
                  "segment_lines": sum(read_meta(p).get("lines", 0) for p in segs),
                  "journals_left": len(list((__import__("pathlib").Path(sys.argv[2]) / "raw" / "journal").glob("*.jsonl")))}))
"""


def _journal(path: Path, source: str, mb: int) -> int:
    import gen_records

    n = 0
    with open(path, "wb") as f:
        for line in gen_records._lines(source, 10 ** 9):
            f.write(line + b"\n")
            n += 1
            if f.tell() >= mb << 20:
                break
        f.write(b'{"source": "megvii_notify", "session_id": "cut-sh')   # the line the kill cut short
    return n


def _run(src: str, data: Path) -> dict:
    r = subprocess.run(["/usr/bin/time", "-v", sys.executable, "-c", _CHILD, src, str(data), gen_records_secret()],
                       capture_output=True, text=True, env={**os.environ, "PYTHONPATH": src})
    if r.returncode:
        raise SystemExit(r.stderr[-3000:])
    out = json.loads(r.stdout.strip().splitlines()[-1])
    err = r.stderr
    out["peak_mib"] = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", err).group(1)) / 1024
    cpu = sum(float(re.search(rf"{k} time \(seconds\): ([\d.]+)", err).group(1)) for k in ("User", "System"))
    out["cpu_s"] = cpu
    return out


def gen_records_secret() -> str:
    import gen_records

    return gen_records.SECRET


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--baseline", required=True, help="a package of another version (its faceanalytics/ inside)")
    ap.add_argument("--mb", type=int, default=400)
    ap.add_argument("--source", default="megvii_notify")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        journal = tmp / "receive-crashed-00001.jsonl"
        n = _journal(journal, a.source, a.mb)
        print(f"journal: {journal.stat().st_size / 2**20:.0f} MiB, {n:,} whole {a.source} lines and one cut short")
        print(f"{'version':<10} {'peak MiB':>9} {'CPU s':>7} {'landed':>8} {'quarantined':>11} {'segment lines':>13} {'left':>4}")
        for name, src in (("baseline", a.baseline), ("this", str(ROOT))):
            data = tmp / name
            (data / "raw" / "journal").mkdir(parents=True, mode=0o700)
            shutil.copyfile(journal, data / "raw" / "journal" / journal.name)
            r = _run(src, data)
            print(f"{name:<10} {r['peak_mib']:>9.0f} {r['cpu_s']:>7.1f} {r['landed']:>8,} {r['quarantined']:>11,} "
                  f"{r['segment_lines']:>13,} {r['journals_left']:>4}", flush=True)
            shutil.rmtree(data)


if __name__ == "__main__":
    main()
