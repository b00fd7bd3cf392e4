"""A review on hostile table content and careless options: peak memory, CPU and wall time, beside a baseline.

    python benchmarks/probe_review_hostile.py --baseline /tmp/base-h [--n 2000] [--blob-kb 50] [--labels 2000000]
    python benchmarks/probe_review_hostile.py --baseline /tmp/base-h --ids 40000000

The data are Megvii Lite records generated from the provider documents
(``benchmarks/gen_records.py``), ingested once by this tree's code; then each contender
(``--baseline DIR``: a directory holding another ``faceanalytics`` package, e.g. ``git archive
main faceanalytics | tar -x -C DIR``; and this tree) runs ``python -m faceanalytics review`` as a
whole process, its kept counts (``data/summaries``) removed before every run:

- ``blobs``: every session's ``biz_extra_data`` carries a ``note`` whose value is one of ten
  texts of ``--blob-kb`` KB (what a client may put there), beside a ``channel``; the review
  chooses its segments itself;
- ``no labels``: the same review of the labels' data without them (what labels add to it);
- ``labels``: ``--labels FILE`` of ``--labels`` lines, ``session_id,genuine``: the data's sessions
  and as many generated biz_ids (``<unix time>,<uuid>``, as the documents give them) as make up
  the count, unquoted as a script writes them.

``--ids N`` measures instead the labels' count alone (``LabelFile.finish``: distinct ids,
ids labelled both ways), on the review's temporary Parquet file of N labels made here by
DuckDB, a random label each: ids in the form of Baidu's verify_token (24 letters and digits,
``--id-form token``) or Megvii's biz_id (``<unix time>,<uuid>``, ``--id-form biz_id``).  Its
grouping by id ran out of DuckDB's memory limit on 40M tokens.

Printed per run (the better of ``--repeat``, alternated): peak resident MiB (ru_maxrss), user +
system CPU seconds (wait4), wall seconds, and the exit status.  The data are made by a child
process of their own: a child's ru_maxrss counts the memory of the process it was forked from.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))


def _records(n: int, blob_kb: int, seed: int = 0):
    """gen_records' Lite records, spread over 30 days (gen_records gives one every 37 s): each
    biz_id's leading Unix time (what dates a session without a verify_time) moved, the optional
    verify_time fields left out, fetched an hour later."""
    import datetime as dt

    import gen_records

    rng = random.Random(seed)
    blobs = ["".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=blob_kb * 1024)) for _ in range(10)]
    for i, rec in enumerate(gen_records.records("megvii_lite", n, seed=seed)):
        p = rec["payload"]
        t = 1_760_000_000 + i * (30 * 86_400 // max(n, 1))
        old, sid = rec["session_id"], f"{t},{rec['session_id'].split(',', 1)[1]}"
        for holder in (p, p.get("biz_info") if isinstance(p.get("biz_info"), dict) else {}):
            if holder.get("biz_id") == old:
                holder["biz_id"] = sid
        rec["session_id"] = sid
        p.pop("verify_time", None)
        if isinstance(p.get("verify_result"), dict):
            p["verify_result"].pop("verify_time", None)
        rec["fetched_at"] = dt.datetime.fromtimestamp(t + 3600, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        extra = json.dumps({"channel": ["app", "h5", "mini"][i % 3], "note": blobs[i % 10]}) if blob_kb else None
        if extra is not None:
            if isinstance(p.get("biz_info"), dict):
                p["biz_info"]["biz_extra_data"] = extra
            else:
                p["biz_extra_data"] = extra
        yield rec


def _data(tmp: Path, name: str, n: int, blob_kb: int) -> Path:
    from faceanalytics.pipeline.ingest import ingest

    src = tmp / f"{name}.jsonl"
    with open(src, "w", encoding="utf-8") as f:
        for rec in _records(n, blob_kb):
            f.write(json.dumps(rec) + "\n")
    data = tmp / name
    ingest([src], data, progress=False)
    src.unlink()
    return data


def _labels(tmp: Path, data: Path, lines: int) -> Path:
    import faceanalytics as fa

    ids = fa.load(data, "sessions", columns=["session_id"])["session_id"].drop_duplicates().tolist()
    rng = random.Random(1)
    path = tmp / "labels.csv"
    with open(path, "w", encoding="utf-8") as f:
        f.write("session_id,genuine\n")
        for sid in ids:
            f.write(f"{sid},{rng.choice(['1', '0'])}\n")
        for i in range(max(lines - len(ids), 0)):
            f.write(f"{1_760_000_000 + i},{uuid.UUID(int=rng.getrandbits(128), version=4)},{i % 2}\n")
    return path


def _run(package_root: Path, data: Path, out: Path, more: list[str]) -> tuple[float, float, float, int]:
    shutil.rmtree(data / "summaries", ignore_errors=True)
    env = {**os.environ, "PYTHONPATH": str(package_root)}
    t = time.monotonic()
    p = subprocess.Popen([sys.executable, "-m", "faceanalytics", "review", "-q", "--data", str(data),
                          "--out", str(out), *more], cwd=out.parent, env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    return ru.ru_maxrss / 1024, ru.ru_utime + ru.ru_stime, time.monotonic() - t, os.waitstatus_to_exitcode(status)


_FINISH = """
import os, sys
from faceanalytics.engines._labels import LabelFile

class Written:                         # the probe wrote the file: finish() only closes it
    def close(self):
        pass

lf = LabelFile(sys.argv[1])
os.link(sys.argv[1], lf.parquet)
lf._writer, lf.rows = Written(), int(sys.argv[2])
try:
    print(lf.finish()[:2])
finally:
    lf.close()
"""


_ID_FORMS = {"token": "substr(md5(i::VARCHAR || 'token'), 1, 24)",
             "biz_id": "(1760000000 + i)::VARCHAR || ',' || uuid()::VARCHAR"}


def _ids(tmp: Path, n: int, form: str) -> Path:
    import duckdb

    path = tmp / "labels.parquet"
    duckdb.connect().execute(
        f"COPY (SELECT {_ID_FORMS[form]} AS session_id, random() < 0.5 AS genuine, "
        f"i::BIGINT AS row FROM range({n}) t(i)) TO '{path}' (FORMAT parquet, ROW_GROUP_SIZE 131072)")
    return path


def _finish(package_root: Path, labels: Path, n: int) -> tuple[float, float, float, int, str]:
    """(peak MiB, CPU s, wall s, exit status, what it printed or its error's last line)."""
    env = {**os.environ, "PYTHONPATH": str(package_root)}
    said = labels.with_suffix(".said")
    t = time.monotonic()
    with open(said, "w") as out:
        p = subprocess.Popen([sys.executable, "-c", _FINISH, str(labels), str(n)], env=env, stdout=out, stderr=out,
                             cwd=labels.parent)       # not this tree's folder: "-c" puts the cwd first on sys.path
        _, status, ru = os.wait4(p.pid, 0)
    lines = [ln for ln in said.read_text().splitlines() if ln.strip() and "%" not in ln] or ["?"]
    status = os.waitstatus_to_exitcode(status)
    line = lines[-1] if status == 0 else next((ln for ln in lines if "Error" in ln), lines[-1])
    return ru.ru_maxrss / 1024, ru.ru_utime + ru.ru_stime, time.monotonic() - t, status, line[:70]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--baseline", required=True, type=Path, help="a directory holding another faceanalytics package")
    ap.add_argument("--n", type=int, default=2000, help="Lite records generated")
    ap.add_argument("--blob-kb", type=int, default=50)
    ap.add_argument("--labels", type=int, default=2_000_000)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--labels-only", action="store_true",
                    help="only the labels case, beside the same review without labels")
    ap.add_argument("--ids", type=int, default=0,
                    help="only the labels' count (LabelFile.finish) on a file of this many labels")
    ap.add_argument("--id-form", choices=sorted(_ID_FORMS), default="token")
    ap.add_argument("--make", type=Path, help=argparse.SUPPRESS)      # the child that makes the data
    args = ap.parse_args()
    if args.make is not None:
        _labels(args.make, _data(args.make, "plain", args.n, 0), args.labels)
        _data(args.make, "blobs", args.n, args.blob_kb)
        return
    if not (args.baseline / "faceanalytics" / "__init__.py").exists():
        sys.exit(f"{args.baseline}: no faceanalytics package in it")
    if args.ids:
        with tempfile.TemporaryDirectory(prefix="probe-labels-") as d:
            labels = _ids(Path(d), args.ids, args.id_form)
            print(f"{args.ids:,} labels, ids as {args.id_form} ({labels.stat().st_size >> 20} MB as Parquet): "
                  "counted by LabelFile.finish")
            print(f"{'code':<9} {'peak MiB':>9} {'CPU s':>7} {'wall s':>7} exit  (ids, both ways) or error", flush=True)
            for _ in range(args.repeat):
                for code, root in (("baseline", args.baseline), ("this", ROOT)):
                    rss, cpu, wall, status, said = _finish(root, labels, args.ids)
                    print(f"{code:<9} {rss:>9.0f} {cpu:>7.1f} {wall:>7.1f} {status:>4}  {said}", flush=True)
        return
    with tempfile.TemporaryDirectory(prefix="probe-review-") as d:
        tmp = Path(d)
        subprocess.run([sys.executable, __file__, "--baseline", str(args.baseline), "--n", str(args.n),
                        "--blob-kb", str(args.blob_kb), "--labels", str(args.labels), "--make", str(tmp)],
                       check=True, cwd=ROOT)
        blobs, plain, labels = tmp / "blobs", tmp / "plain", tmp / "labels.csv"
        cases = [(f"{args.n:,} sessions, notes of {args.blob_kb} KB", blobs, []),
                 (f"{args.n:,} sessions, no labels", plain, []),
                 (f"{args.n:,} sessions, {args.labels:,} labels ({labels.stat().st_size >> 20} MB)", plain,
                  ["--labels", str(labels)])]
        if args.labels_only:
            cases = cases[1:]
        print(f"{'case':<48} {'code':<9} {'peak MiB':>9} {'CPU s':>7} {'wall s':>7} exit", flush=True)
        for what, data, more in cases:
            best: dict[str, tuple] = {}
            for _ in range(args.repeat):
                for code, root in (("baseline", args.baseline), ("this", ROOT)):
                    r = _run(root, data, tmp / f"report-{code}.html", more)
                    best[code] = min(best.get(code, r), r)
            for code in ("baseline", "this"):
                rss, cpu, wall, status = best[code]
                print(f"{what:<48} {code:<9} {rss:>9.0f} {cpu:>7.1f} {wall:>7.1f} {status}", flush=True)


if __name__ == "__main__":
    main()
