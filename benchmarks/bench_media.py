"""Inline images as packs (issue 12): whole-process ``faceanalytics ingest`` of the working
tree against a baseline revision's code, side by side in one run, with the files and
bytes each leaves in the data directory.

    MEGVII_API_SECRET=x python benchmarks/bench_media.py [--n 100000] [--base main] [--repeat 1]
        [--sources baidu_detail,megvii_notify,megvii_liveness]

Records come from ``gen_records.py`` (the field spec's generator: images as data URIs at
the documents' rates).  The baseline is ``git archive <base>`` unpacked in a temporary
folder and run with the same interpreter (``PYTHONPATH``); each run is timed by
``/usr/bin/time`` (wall, user, system, peak RSS) into a fresh data directory, old and
new alternating.  The machine may be shared: compare the two columns of one run.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
import gen_records  # noqa: E402

OURS = r"""
import sys
from faceanalytics.cli import main
sys.exit(main(["ingest", sys.argv[1], "--data", sys.argv[2]]))
"""


def export(base: str, into: Path) -> Path:
    """The package as it is at ``base`` (git archive), unpacked under ``into``."""
    tar = into / "base.tar"
    with open(tar, "wb") as f:
        subprocess.run(["git", "-C", str(REPO), "archive", base, "faceanalytics"], stdout=f, check=True)
    with tarfile.open(tar) as t:
        t.extractall(into / "base", filter="data")
    tar.unlink()
    return into / "base"


def timed(code_root: Path, path: Path, data: Path, env: dict) -> dict:
    """One ingest in its own process: wall and CPU seconds, peak MiB, and what it left."""
    stats = data.parent / (data.name + ".time")
    cmd = ["/usr/bin/time", "-f", "%e %U %S %M", "-o", str(stats), sys.executable, "-c", OURS,
           str(path), str(data)]
    # cwd: not the repository, whose package `python -c` would import first
    r = subprocess.run(cmd, env=dict(env, PYTHONPATH=str(code_root)), capture_output=True, text=True,
                       cwd=data.parent)
    if r.returncode:
        raise SystemExit(f"ingest failed ({code_root}): {r.stderr[-2000:]}")
    wall, user, sys_, rss = stats.read_text().split()[-4:]
    files, size, disk, media_files = 0, 0, 0, 0
    for d, _, names in os.walk(data):
        for n in names:
            st = os.stat(os.path.join(d, n))
            files += 1
            size += st.st_size
            disk += st.st_blocks * 512
            media_files += os.path.relpath(d, data).split(os.sep)[0] == "media"
    return {"wall": float(wall), "user": float(user), "sys": float(sys_), "rss": int(rss) / 1024,
            "files": files, "media": media_files, "bytes": size, "disk": disk,
            "summary": r.stdout.strip().splitlines()[0] if r.stdout.strip() else ""}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--base", default="main", help="git revision of the baseline")
    ap.add_argument("--repeat", type=int, default=1, help="runs per contender (least CPU and wall kept)")
    ap.add_argument("--sources", default="baidu_detail,megvii_notify,megvii_liveness")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="fa-bench-media-"))
    env = dict(os.environ, MEGVII_API_SECRET=gen_records.SECRET)
    print(f"load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores "
          f"(the machine may be shared: compare the columns of one run)")
    try:
        base = export(args.base, tmp)
        print(f"{args.n:,} records per source; old = {args.base}, new = working tree\n")
        head = (f"  {'source':<16}{'':5}{'wall s':>8}{'user s':>8}{'sys s':>8}{'CPU s':>8}{'peak MiB':>10}"
                f"{'files':>9}{'media files':>13}{'MB':>9}{'MB on disk':>12}")
        print(head)
        for src in args.sources.split(","):
            f = tmp / f"{src}.jsonl"
            gen_records.write(f, src, args.n, seed=7)
            best: dict[str, dict] = {}
            for k in range(args.repeat):
                for name, root in (("old", base), ("new", REPO)):
                    data = tmp / f"{name}-{src}-{k}"
                    got = timed(root, f, data, env)
                    shutil.rmtree(data, ignore_errors=True)
                    prev = best.get(name)
                    if prev is None:
                        best[name] = got
                    else:
                        for key in ("wall", "user", "sys"):
                            prev[key] = min(prev[key], got[key])
            for name in ("old", "new"):
                r = best[name]
                print(f"  {src:<16}{name:<5}{r['wall']:>8.2f}{r['user']:>8.2f}{r['sys']:>8.2f}"
                      f"{r['user'] + r['sys']:>8.2f}{r['rss']:>10.0f}{r['files']:>9,}{r['media']:>13,}"
                      f"{r['bytes'] / 1e6:>9.1f}{r['disk'] / 1e6:>12.1f}")
            o, n = best["old"], best["new"]
            print(f"  {src:<16}{'new/old':<5}{n['wall'] / o['wall']:>8.2f}{'':>16}"
                  f"{(n['user'] + n['sys']) / (o['user'] + o['sys']):>8.2f}{'':>10}"
                  f"{n['files'] / o['files']:>9.3f}{'':>13}{'':>9}{n['disk'] / o['disk']:>12.3f}")
            print(f"  {'':<16}old: {o['summary']}\n  {'':<16}new: {n['summary']}")
            f.unlink()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
