"""The review on tables *ingested* from document-built payloads, side by side with DuckDB's weekly pass-rate query.

    python benchmarks/bench_review_documents.py [--n 400000] [--dir /work/bench] [--keep] [--reuse DIR]
                                                [--sources all] [--repeat 1]

``bench_review.py`` measures the review on tables its generator writes directly (volume, not
the shapes documents give).  This one builds the data directory the way a deployment does:
``faceanalytics ingest`` of payloads from ``benchmarks/gen_records.py`` (every documented
field at a deployment's rates, 3% API error bodies, non-terminal statuses, will results,
numbers as text, 3- and 4-level threshold sets spelled three ways, ties, images as data
URIs), for the Megvii and the Baidu sources together, spread over a year (2025-11-01 to
2026-11-01) so that ``review --since 2026-05-01 --until 2026-11-01`` is half a year against
the half before.

1. Per source, ``gen_records`` draws its :data:`gen_records.TEMPLATES` records in full once;
   every record written is a copy of one of them (as ``gen_records._derive`` makes copies)
   *moved in time*: record ``i`` of ``n`` is placed at 2025-11-01 + (i + u) / n of the year
   (u uniform in [0, 1)), and every time the template carries moves by the same amount --
   ``fetched_at``, the epoch leading a Megvii ``biz_id`` / ``request_id`` (and the session
   id; a request id's unique part is new too, as each session has its own), epoch ``verify_time``\\ s (numbers or text), Baidu's ``YYYY-M-D hh:mm:ss`` China times
   (padded or not, as the template wrote them) -- so each copy keeps its template's
   spacing between fetch, verification and token.  Times outside the templates' days (ID
   card dates, birthdays) are left alone.  The session id's unique part is new (Megvii: an
   md5 of the source and index; Baidu: a token, half of ``detail``'s also in ``getall`` at
   the same time -- ``detail`` repeats the latest attempt ``getall`` lists -- and the other
   Baidu sources' their own); a callback's ``data`` is signed again.  A template
   is cut once into its literal pieces and its times; a copy is the pieces joined with the
   moved times (no JSON parsing, except a callback's signature).  The files are Zstandard.
2. ``faceanalytics ingest FILES --data DATA`` in one process (its wall time, CPU and peak
   RSS are printed).
3. The side-by-side of ``bench_review.py`` (:func:`bench_review.side_by_side`): DuckDB's
   weekly pass rates, the first review (nothing kept), the same review again, again after
   the latest month's files changed, the first without segments; wall, CPU, peak RSS,
   ratios to the baseline, the review's steps.  Then what the report says: the number of
   findings and their kinds, sections, the first few findings' text
   (``report.findings.json`` beside ``review.html``, both kept in the work directory with
   ``--keep``).

``--baseline DIR`` (another version's package, e.g. ``git archive REV faceanalytics | tar -x
-C DIR``) runs instead, on the same files, that version's first review, the same again and
again after the latest month changed, then this version's.

Disk: the input files are deleted once ingested; the data directory takes about 1.2 KB per
record (raw archive included).
"""
from __future__ import annotations

import argparse
import calendar
import hashlib
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import orjson

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import gen_records  # noqa: E402
from bench_engines import clean_up  # noqa: E402
from bench_review import REVIEW, SINCE, UNTIL, measure_rss, side_by_side  # noqa: E402

PY = sys.executable
START = calendar.timegm((2025, 11, 1, 0, 0, 0))
END = calendar.timegm((2026, 11, 1, 0, 0, 0))
# Records of each source per record of --n: the sources a lender calls most get the most.
# ``detail`` and ``getall`` must have the same weight (:func:`_slot`).
WEIGHTS = {"megvii_lite": 1.0, "megvii_liveness": 0.3, "megvii_notify": 0.3, "baidu_detail": 0.3,
           "baidu_simple": 0.2, "baidu_getall": 0.3, "baidu_stat": 0.02, "baidu_media": 0.05}
_T0 = 1_760_000_000                       # gen_records: template i at about _T0 + 37 i
_NEAR = (_T0 - 86_400, _T0 + 37 * gen_records.TEMPLATES + 3 * 86_400)   # the templates' own times
_CN = 8 * 3600                           # Baidu writes China time

_TIMES = re.compile(rb"(?<![0-9])(?P<rid>1[67][0-9]{8}),(?:[0-9a-f]{16}-[0-9a-f]{8}|[0-9a-f]{1,5}(?=\\?\"))"
                    rb"|(?P<iso>(20[0-9]{2})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})Z)"
                    rb"|(?P<cn>(20[0-9]{2})-([0-9]{1,2})-([0-9]{1,2}) ([0-9]{2}):([0-9]{2}):([0-9]{2}))"
                    rb"|(?<![0-9])(?P<epoch>1[67][0-9]{8})(?![0-9])")


def _cut(line: bytes, sid: str) -> tuple[list[bytes], list[tuple[str, int]], int]:
    """A template line as literal pieces and the times between them: ``(pieces, times, fetched)``
    with ``times[k] = (kind, epoch)`` between ``pieces[k]`` and ``pieces[k + 1]``; the session
    id is the kind ``"sid"`` (its epoch prefix, if any, moves with the rest)."""
    pieces, times, at = [], [], 0
    fetched = None
    pat = re.compile(re.escape(sid.encode()) + rb"|" + _TIMES.pattern)
    for m in pat.finditer(line):
        kind, epoch = _time_of(m, sid)
        if kind is None:
            continue
        pieces.append(line[at:m.start()])
        times.append((kind, epoch))
        at = m.end()
        if kind == "iso" and fetched is None:
            fetched = epoch
    pieces.append(line[at:])
    return pieces, times, fetched


def _time_of(m, sid: str) -> tuple[str | None, int]:
    """The kind and epoch of a match of :func:`_cut`'s pattern; ``(None, 0)`` for a time outside
    the templates' days (an ID card's dates)."""
    text = m.group(0).decode()
    if text == sid:
        head = sid.split(",", 1)[0]
        return "sid", int(head) if head.isdigit() else 0
    if m.group("rid"):              # a Megvii request_id: its time moves, its unique part is new
        e = int(m.group("rid"))
        return ("rid" if _NEAR[0] <= e <= _NEAR[1] else None), e
    if m.group("epoch"):
        e = int(text)
    else:
        g = [int(x) for x in re.findall(r"\d+", text)]
        e = calendar.timegm((*g, 0, 0, 0)) - (_CN if m.group("cn") else 0)
        if m.group("cn") and len(text) == 19:
            return ("cn0" if _NEAR[0] <= e <= _NEAR[1] else None), e
    return ((("iso" if m.group("iso") else "cn" if m.group("cn") else "epoch")
             if _NEAR[0] <= e <= _NEAR[1] else None), e)


def _fmt(kind: str, e: int, sid: str, rid: str) -> bytes:
    """A time of ``kind`` written as the template wrote it (a request id's with ``rid`` after it)."""
    if kind == "epoch":
        return str(e).encode()
    if kind == "sid":
        return sid.encode()
    if kind == "rid":
        return f"{e},{rid}".encode()
    if kind == "iso":
        t = time.gmtime(e)
        return b"%04d-%02d-%02dT%02d:%02d:%02dZ" % t[:6]
    t = time.gmtime(e + _CN)
    return (b"%04d-%02d-%02d %02d:%02d:%02d" if kind == "cn0" else b"%d-%d-%d %02d:%02d:%02d") % t[:6]


def _new_sid(source: str, sid: str, i: int, seed: int, delta: int) -> str:
    """Record ``i``'s session id: Megvii's epoch prefix moved, its unique part new; Baidu's token
    (:func:`_token`)."""
    if not source.startswith("megvii"):
        return _token(source, i, seed)
    head, unique = sid.split(",", 1)
    new = f"err-{i}" if unique.startswith("err-") else hashlib.md5(f"{source}:{seed}:{i}".encode()).hexdigest()
    return f"{int(head) + delta},{new}" if head.isdigit() else f"{head},{new}"


def _slot(source: str, i: int) -> int:
    """The index of Baidu record ``i``'s token: ``detail`` takes the tokens k with k % 3 in
    (0, 1), ``getall`` those in (1, 2), so that half of each source's tokens are in both
    (``detail`` repeating the latest attempt ``getall`` lists) and placed at the same time."""
    if source == "baidu_detail":
        return 3 * (i // 2) + i % 2
    if source == "baidu_getall":
        return 3 * (i // 2) + 1 + i % 2
    return i


def _token(source: str, i: int, seed: int) -> str:
    """Baidu record ``i``'s token: shared by ``detail`` and ``getall`` (:func:`_slot`), the
    source's own otherwise."""
    if source in ("baidu_detail", "baidu_getall"):
        return f"tok-{seed}-{_slot(source, i):08d}"
    return f"tok-{seed}-{source[6:]}-{i:08d}"


def place(source: str, i: int, n: int, pick: random.Random) -> int:
    """When record ``i`` of ``n`` is fetched (epoch seconds): spread evenly over the year; a
    Baidu token's time is a function of its index alone, so ``detail`` and ``getall`` place a
    shared token at the same time."""
    span = END - START
    if source in ("baidu_detail", "baidu_getall"):
        k, tokens = _slot(source, i), n * 3 // 2 + 2
        return START + int((k + (k * 0.6180339887) % 1.0) * span / tokens)
    return START + int((i + pick.random()) * span / n)


def copy(source: str, tpl, i: int, at: int, seed: int) -> bytes:
    """Template ``tpl`` (:func:`_cut`'s, with the session id) as record ``i`` fetched at ``at``."""
    pieces, times, fetched, sid = tpl
    delta = at - fetched
    new_sid = _new_sid(source, sid, i, seed, delta)
    h = hashlib.md5(f"request:{source}:{seed}:{i}".encode()).hexdigest()
    rid = f"{h[:16]}-{h[16:24]}"           # each copy its own request id (repeats are a quality check)
    out = [pieces[0]]
    for (kind, e), piece in zip(times, pieces[1:]):
        out.append(_fmt(kind, e + delta, new_sid, rid))
        out.append(piece)
    line = b"".join(out)
    if source == "megvii_notify":
        env = orjson.loads(line)
        data = env["payload"]["data"]
        env["payload"]["sign"] = hashlib.sha1((gen_records.SECRET + data).encode()).hexdigest()
        line = orjson.dumps(env)
    return line


def templates(source: str, seed: int = 0) -> list:
    """The source's :data:`gen_records.TEMPLATES` records drawn in full, each cut by :func:`_cut`."""
    out = []
    for env in gen_records._drawn(source, gen_records.TEMPLATES, seed=seed):
        pieces, times, fetched = _cut(orjson.dumps(env), env["session_id"])
        out.append((pieces, times, fetched, env["session_id"]))
    return out


def write_source(job) -> tuple[str, int, int, float]:
    """``n`` records of one source spread over the year, to a Zstandard file: (path, n, bytes, seconds)."""
    import pyarrow as pa

    source, n, seed, path = job
    t = time.perf_counter()
    pool = templates(source, seed)
    pick = random.Random(f"{source}:{seed}:move")
    size = 0
    with pa.output_stream(path, compression="zstd") as f:
        buf = []
        for i in range(n):
            at = place(source, i, n, pick)
            line = copy(source, pool[pick.randrange(len(pool))], i, at, seed)
            size += len(line) + 1
            buf.append(line)
            if len(buf) == 4096:
                f.write(b"\n".join(buf) + b"\n")
                buf = []
        if buf:
            f.write(b"\n".join(buf) + b"\n")
    return path, n, size, time.perf_counter() - t


INGEST = r"""
import json, sys, time
t = time.perf_counter()
from faceanalytics import ingest
r = ingest(sys.argv[2:], sys.argv[1])
print(json.dumps({"seconds": time.perf_counter() - t, "report": str(r)}))
"""


def build(data: Path, work: Path, n: int, sources: list[str], workers: int, seed: int = 0) -> dict:
    """Write each source's records (in parallel), ingest them all in one process, delete the inputs."""
    os.environ.setdefault("MEGVII_API_SECRET", gen_records.SECRET)
    jobs = [(s, max(1, int(n * WEIGHTS.get(s, 0.1))), seed, str(work / f"{s}.jsonl.zst")) for s in sources]
    t = time.perf_counter()
    with ProcessPoolExecutor(max_workers=workers) as ex:
        made = list(ex.map(write_source, jobs))
    gen = time.perf_counter() - t
    for path, k, size, secs in made:
        print(f"  {Path(path).name:<28} {k:>10,} records {size / k:>7,.0f} B/record (uncompressed) "
              f"{os.path.getsize(path) / 1e6:>8.0f} MB  {secs:6.0f} s", flush=True)
    print(f"generated {sum(m[1] for m in made):,} records in {gen:.0f} s ({workers} processes; "
          f"load {os.getloadavg()[0]:.1f})", flush=True)
    ing = measure_rss(INGEST, str(data), *(m[0] for m in made))
    print(f"ingest: {ing['seconds']:.0f} s, {ing['cpu']:.0f} s CPU, {ing['rss_gib']:.2f} GiB peak "
          f"(load {os.getloadavg()[0]:.1f}): {ing['report']}", flush=True)
    for m in made:
        os.unlink(m[0])
    return {"records": sum(m[1] for m in made), "generate": gen, "ingest": ing}


def table_rows(data: Path) -> dict[str, int]:
    """Rows of each table of ``data`` (DuckDB over its Parquet files)."""
    import duckdb

    out = {}
    for t in sorted(p.name for p in (data / "tables").iterdir() if p.is_dir()):
        files = list((data / "tables" / t).glob("*/*/*.parquet"))
        if files:
            glob = f"{data}/tables/{t}/*/*/*.parquet"
            out[t] = duckdb.sql(f"SELECT count(*) FROM read_parquet('{glob}')").fetchall()[0][0]
    return out


def against(data: Path, work: Path, baseline: Path) -> None:
    """The reviews a schedule runs, by another version of the package (``baseline``: a folder
    holding its ``faceanalytics``) and by this one, one after the other on the same files: the
    first (nothing kept), the same again, again after the latest month's files changed.  Each
    version keeps counts under its own names and drops the other's, so each starts afresh."""
    latest = max(p.name for p in (data / "tables" / "comparisons").glob("source=*/month=*"))
    rows = []
    for name, package in (("baseline", str(baseline)), ("this version", None)):
        shutil.rmtree(data / "summaries", ignore_errors=True)
        got = []
        for step in ("first", "again", "latest month changed"):
            if step == "latest month changed":
                for f in (data / "tables").glob(f"*/source=*/{latest}/part-*.parquet"):
                    os.utime(f)
            x = measure_rss(REVIEW, str(data), str(work / f"{name[:4]}-{step[:5]}.html"), SINCE, UNTIL, "auto",
                            package=package)
            got.append(x)
            print(f"{name:<14}{step:<24}{x['seconds']:7.1f} s {x['cpu']:7.1f} s CPU {x['rss_gib']:6.2f} GiB "
                  f"(load {os.getloadavg()[0]:.1f})", flush=True)
        rows.append((name, got))
    (_, old), (_, new) = rows
    for i, step in enumerate(("first", "again", "latest month changed")):
        print(f"{step:<24} baseline {old[i]['seconds']:6.1f} s / {old[i]['cpu']:6.1f} s CPU, this version "
              f"{new[i]['seconds']:6.1f} s / {new[i]['cpu']:6.1f} s CPU")


def report_summary(html: Path) -> None:
    """What the first review's report says: its findings (``report.findings.json``) by kind,
    the first few in words, and each section's first sentence."""
    import json
    import re
    from collections import Counter

    from faceanalytics.report import findings_path

    found = json.loads(findings_path(html).read_text(encoding="utf-8"))
    kinds = Counter(f"{f['family']}/{f['kind']}" for f in found)
    print(f"\n{html.name}: {html.stat().st_size / 1e6:.1f} MB, {len(found)} finding(s)"
          + (": " + ", ".join(f"{k} {n}" for k, n in kinds.most_common()) if found else ""))
    for f in found[:8]:
        print(f"  {f['rank']}. {f['text']}")
    text = html.read_text(encoding="utf-8")
    box = re.search(r'id="look-at-first">(.*?)</div>', text, re.S)
    if box:
        print("  box: " + re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", box.group(1))).strip()[:600])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=400_000, help="Megvii Lite records; the other sources in proportion "
                                                           "(WEIGHTS)")
    ap.add_argument("--sources", default="all", help="comma-separated gen_records sources (default: all eight)")
    ap.add_argument("--dir", default=None, help="where to write the data (default: the system temp dir)")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--keep", action="store_true", help="keep the data and the reports afterwards")
    ap.add_argument("--reuse", default=None, help="a data directory written by an earlier --keep run")
    ap.add_argument("--repeat", type=int, default=1, help="baseline and review pairs to run (the machine is shared)")
    ap.add_argument("--build-only", action="store_true", help="build the data directory (with --keep) and stop")
    ap.add_argument("--baseline", default=None,
                    help="a folder holding another version's faceanalytics package (git archive REV faceanalytics "
                         "| tar -x -C DIR): its reviews, then this version's, instead of the side-by-side")
    a = ap.parse_args(argv)
    sources = list(WEIGHTS) if a.sources == "all" else a.sources.split(",")
    work = Path(tempfile.mkdtemp(prefix="fa-bench-review-docs-", dir=a.dir))
    data = Path(a.reuse) if a.reuse else work / "data"
    try:
        if not a.reuse:
            print(f"building {data}: {a.n:,} Lite records and the other sources in proportion, "
                  f"2025-11-01 to 2026-11-01", flush=True)
            build(data, work, a.n, sources, a.workers)
        rows = table_rows(data)
        du = subprocess.run(["du", "-sh", str(data)], capture_output=True, text=True).stdout.split()[0]
        print(f"{data}: {du}; rows: " + ", ".join(f"{t} {k:,}" for t, k in rows.items()), flush=True)
        if a.build_only:
            return 0
        if a.baseline:
            against(data, work, Path(a.baseline).resolve())
            return 0
        side_by_side(data, work, repeat=a.repeat)
        report_summary(work / "review.html")
    finally:
        if a.keep and a.reuse:      # the work directory holds the reports only
            print(f"\nreports kept in {work}")
        else:
            clean_up(work, data, keep=a.keep, reuse=a.reuse)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
