"""The review's fixed costs (findings, sections, figures, HTML, JSON, workbook), before and after, one run.

    python benchmarks/bench_report_fixed.py --data /work/bench/r20 --since 2026-05-01 --until 2026-11-01 \
        [--baseline REF] [--repeat 3] [--lang en]

What does not depend on the volume of the data: the review counts once (:func:`summarize`,
where the data lives), then everything after works on a few thousand rows of counts.  This
script counts once, keeps the summaries (pickled, without their engine), then runs, each in
its own interpreter and alternating (the machine is shared), the package at ``--baseline``
(a git ref, extracted with ``git archive``; default: the merge base with ``main``) and the working tree's, on the
same summaries:

- ``find``: the change-point tests over every series and the findings;
- ``sections``: the sections as data (figures drawn, PNG data URIs);
- ``html``: the Jinja2 rendering; ``json``: the findings JSON; ``workbook``: the xlsx.

It prints, per step, CPU time (``getrusage``: steadier than wall time when others share the
cores) and wall time, the best of ``--repeat`` runs of each side, and checks that both sides
wrote the same report: the same findings JSON, the same HTML once figures (data URIs) and the
footer's clock are set aside, the same workbook cells.

``--whole N``: also run the whole review N times per side, alternating (``python -m
faceanalytics review --data ... --out ...``: counting where the data lives included, the
same for both sides unless the engines differ at ``--baseline``), and print each side's
best CPU and wall time.  Mind what the baseline's review writes: a package that keeps
counts beside the tables (``summaries/`` in the data directory) writes there.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
STEPS = ("find", "sections", "html", "json", "workbook")

SUMMARIZE = r"""
import pickle, sys, dataclasses
from faceanalytics.report import summarize
s = summarize(sys.argv[1], sys.argv[2], sys.argv[3])
s = dataclasses.replace(s, _engine=None)
with open(sys.argv[4], "wb") as fh:
    pickle.dump(s, fh)
"""

RUN = r"""
import json, pickle, resource, sys, time

def cpu():
    u = resource.getrusage(resource.RUSAGE_SELF)
    return u.ru_utime + u.ru_stime

marks = [("start", cpu(), time.perf_counter())]
def mark(name):
    marks.append((name, cpu(), time.perf_counter()))

from faceanalytics._i18n import language
from faceanalytics.report import Review
from faceanalytics.report._findings import ALPHA, find, parse_levels
with open(sys.argv[1], "rb") as fh:
    s = pickle.load(fh)
out, lang = sys.argv[2], sys.argv[3]
mark("import")
lv = parse_levels(None)
with language(lang):
    findings, info = find(s, levels=lv, alpha=ALPHA)
mark("find")
r = Review(summaries=s, findings=findings, info=info, levels=lv, level_given=False, alpha=ALPHA, lang=lang,
           data_dir="DATA")
r.sections
mark("sections")
html = r.html()
mark("html")
js = r.findings_json()
mark("json")
book = r.workbook()
mark("workbook")
for ext, data in (("html", html.encode()), ("json", js.encode()), ("xlsx", book)):
    with open(f"{out}.{ext}", "wb") as fh:
        fh.write(data)
steps = {b[0]: {"cpu": b[1] - a[1], "wall": b[2] - a[2]} for a, b in zip(marks, marks[1:])}
print(json.dumps({"steps": steps, "findings": len(findings), "tested": info.get("tested")}))
"""


def _run(code: str, args: list[str], pythonpath: str) -> dict:
    """``code`` in a fresh interpreter with ``pythonpath`` first: its JSON line, plus the whole
    process's CPU time (``wait4``, interpreter start and imports included)."""
    env = {**os.environ, "PYTHONPATH": pythonpath, "MPLBACKEND": "Agg"}
    t = time.perf_counter()
    with tempfile.TemporaryFile() as errf:
        proc = subprocess.Popen([PY, "-c", code, *args], stdout=subprocess.PIPE, stderr=errf, env=env, cwd="/")
        stdout = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            errf.seek(0)
            raise SystemExit(f"failed ({status}):\n{errf.read().decode(errors='replace')[-3000:]}")
    lines = stdout.decode().strip().splitlines()
    res = json.loads(lines[-1]) if lines else {}
    res["process_cpu"] = usage.ru_utime + usage.ru_stime
    res["process_wall"] = time.perf_counter() - t
    return res


def _baseline_tree(ref: str, into: Path) -> Path:
    """The package as it is at ``ref``, extracted (``git archive``) into ``into``."""
    into.mkdir(parents=True, exist_ok=True)
    arch = subprocess.run(["git", "-C", str(ROOT), "archive", ref, "faceanalytics"], check=True, capture_output=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=arch.stdout, check=True)
    return into


_URI = re.compile(r"data:image/png;base64,[A-Za-z0-9+/=]+")


def _comparable_html(text: str) -> str:
    """The HTML with what may differ set aside: figures' pixels and the footer's clock."""
    text = _URI.sub("data:image/png;base64,...", text)
    return re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d", "(time)", text)


def _same_report(a: str, b: str) -> list[str]:
    """What differs between two runs' outputs (``a``/``b``: path prefixes); empty when nothing."""
    import pandas as pd

    diffs = []
    if Path(f"{a}.json").read_bytes() != Path(f"{b}.json").read_bytes():
        diffs.append("findings JSON")
    ha, hb = (_comparable_html(Path(f"{x}.html").read_text()) for x in (a, b))
    if ha != hb:
        i = next((i for i, (x, y) in enumerate(zip(ha, hb)) if x != y), min(len(ha), len(hb)))
        diffs.append(f"HTML (first difference at {i}: {ha[max(0, i - 80):i + 80]!r} vs {hb[max(0, i - 80):i + 80]!r})")
    wa, wb = (pd.read_excel(f"{x}.xlsx", sheet_name=None) for x in (a, b))
    if list(wa) != list(wb):
        diffs.append("workbook sheets")
    else:
        for name in wa:
            if not wa[name].equals(wb[name]):
                diffs.append(f"workbook sheet {name}")
    return diffs


WHOLE = r"""
import json, runpy, sys, time
t = time.perf_counter()
sys.argv = ["faceanalytics", "review", *sys.argv[1:]]
try:
    runpy.run_module("faceanalytics", run_name="__main__")
except SystemExit as e:
    if e.code not in (0, None):
        raise
print(json.dumps({"seconds": time.perf_counter() - t}))
"""


def _whole(a, sides: dict[str, str], tmp: Path) -> None:
    """The whole review command per side, alternating: best CPU (``wait4``) and wall time."""
    best = {k: [] for k in sides}
    for i in range(a.whole):
        for name, path in sides.items():
            out = tmp / f"whole-{name}{i}.html"
            args = ["-q", "--data", a.data, "--out", str(out), "--since", a.since, "--until", a.until, "--lang", a.lang]
            best[name].append(_run(WHOLE, args, path))
    print(f"whole review command, best of {a.whole} each (load {os.getloadavg()[0]:.1f}):")
    for name in sides:
        cpu = min(r["process_cpu"] for r in best[name])
        wall = min(r["process_wall"] for r in best[name])
        print(f"  {name:<10} {cpu:>7.2f} s CPU {wall:>7.2f} s wall")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True)
    ap.add_argument("--since", default="2026-05-01")
    ap.add_argument("--until", default="2026-11-01")
    ap.add_argument("--baseline", default=None,
                    help="git ref of the package to compare with (default: where this branch left main)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--lang", default="en")
    ap.add_argument("--summaries", default=None, help="a pickle written by an earlier run (skips the counting)")
    ap.add_argument("--whole", type=int, default=0, help="also time the whole review command this many times a side")
    a = ap.parse_args(argv)
    if a.baseline is None:
        a.baseline = subprocess.run(["git", "-C", str(ROOT), "merge-base", "main", "HEAD"], check=True,
                                    capture_output=True, text=True).stdout.strip()[:12]
    with tempfile.TemporaryDirectory(prefix="fa-bench-fixed-") as tmp:
        tmp = Path(tmp)
        base = _baseline_tree(a.baseline, tmp / "baseline")
        pkl = Path(a.summaries) if a.summaries else tmp / "summaries.pkl"
        if not pkl.exists():
            t = time.perf_counter()
            _run(SUMMARIZE, [a.data, a.since, a.until, str(pkl)], str(ROOT))
            print(f"counted {a.data} ({a.since} to {a.until}) in {time.perf_counter() - t:.1f} s", flush=True)
        sides = {"baseline": str(base), "after": str(ROOT)}
        runs: dict[str, list[dict]] = {k: [] for k in sides}
        for i in range(max(1, a.repeat)):
            for name, path in sides.items():
                runs[name].append(_run(RUN, [str(pkl), str(tmp / f"{name}{i}"), a.lang], path))
        print(f"load average {os.getloadavg()[0]:.1f}, {os.cpu_count()} cores; best of {a.repeat} runs each, "
              f"baseline {a.baseline} ({runs['baseline'][0]['findings']} findings, "
              f"{runs['baseline'][0]['tested']} series tested) vs the working tree "
              f"({runs['after'][0]['findings']} findings, {runs['after'][0]['tested']} series tested)")
        print(f"{'step':<30}{'baseline CPU':>14}{'after CPU':>12}{'baseline wall':>15}{'after wall':>12}")
        tot = {k: [0.0, 0.0] for k in sides}
        for step in ("import", *STEPS):
            cells = []
            for kind in ("cpu", "wall"):
                for name in sides:
                    v = min(r["steps"][step][kind] for r in runs[name])
                    cells.append(v)
                    if step != "import":
                        tot[name][kind == "wall"] += v
            print(f"{step:<30}{cells[0]:>12.2f} s{cells[1]:>10.2f} s{cells[2]:>13.2f} s{cells[3]:>10.2f} s")
        print(f"{'find to workbook (sum of bests)':<30}{tot['baseline'][0]:>12.2f} s{tot['after'][0]:>10.2f} s"
              f"{tot['baseline'][1]:>13.2f} s{tot['after'][1]:>10.2f} s")
        pc = {k: min(r["process_cpu"] for r in v) for k, v in runs.items()}
        print(f"{'whole process CPU (wait4)':<30}{pc['baseline']:>12.2f} s{pc['after']:>10.2f} s")
        if a.whole:
            _whole(a, sides, tmp)
        diffs = _same_report(str(tmp / "baseline0"), str(tmp / "after0"))
        print("same report (findings JSON, HTML without figures, workbook): " +
              ("yes" if not diffs else "NO: " + "; ".join(diffs)))
        return 1 if diffs else 0


if __name__ == "__main__":
    raise SystemExit(main())
