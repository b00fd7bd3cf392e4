"""``faceanalytics demo``: the main job end to end, on the local sandbox.

Starts the sandbox on loopback, fetches a few thousand Megvii sessions and a few
hundred Baidu tokens through the real clients (quota ledger, retries, progress
bars), lands the tables, writes the review report when that module is present,
prints where everything is and a short summary, and stops the sandbox.  Run it
again: results already archived are not fetched again.
"""
from __future__ import annotations

import datetime as _dt
import os
import sys
import time
from pathlib import Path

from .storage import DataDir

N_LITE, N_LIVENESS, N_BAIDU = 3000, 600, 300


def run_demo(data_dir, *, n_lite: int = N_LITE, n_liveness: int = N_LIVENESS,
             n_baidu: int = N_BAIDU, progress: bool = True, out=sys.stdout) -> int:
    from .pipeline.fetch import fetch_baidu, fetch_megvii
    from .sandbox import Sandbox

    ddir = DataDir.of(data_dir)
    data_dir = ddir.root
    t0 = time.perf_counter()
    today = _dt.datetime.now(_dt.timezone.utc).date().isoformat()
    # The last 120 days; Megvii moved to its current reference thresholds 45 days ago,
    # so the report's two 30-day periods show a threshold-era change.
    with Sandbox(seed=2026, n_lite=n_lite, n_liveness=n_liveness, n_baidu=n_baidu,
                 reference_date=today, window_days=120, era_change_days=45,
                 latency_ms=2, concurrency=16, fault_rate_500=0.01) as sb:
        print(f"sandbox serving Megvii and Baidu protocols at {sb.url} (loopback only)", file=out)
        # The sandbox's credentials are fake; real ones come from the environment the same way.
        saved = {k: os.environ.get(k) for k in sb.env()}
        os.environ.update(sb.env())
        try:
            reports = {
                "megvii lite": fetch_megvii(sb.ids("megvii-lite"), data_dir, kind="lite",
                                            base_url=sb.url, concurrency=12, progress=progress),
                "megvii liveness": fetch_megvii(sb.ids("megvii-liveness"), data_dir,
                                                kind="liveness", base_url=sb.url, concurrency=12,
                                                progress=progress),
                "baidu": fetch_baidu(sb.ids("baidu"), data_dir, what="stat,getall,detail",
                                     base_url=sb.url, concurrency=12, progress=progress),
            }
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
    for name, rep in reports.items():
        print(f"{name:<16} {rep.summary()}", file=out)
    report_path = _review(data_dir, out)
    _summary(data_dir, out)
    print(f"\ntables:      {ddir.tables}/<table>/  (pandas.read_parquet or faceanalytics.load)", file=out)
    print(f"raw archive: {ddir.raw}/  (zstd -dc FILE | head)", file=out)
    if report_path is not None:
        from .report import findings_path

        print(f"report:      {report_path}  (findings: {findings_path(report_path)})", file=out)
    print(f"done in {time.perf_counter() - t0:.1f} s", file=out)
    return 0


def _review(data_dir: Path, out):
    try:
        from .report import write_report
    except ImportError:
        return None
    path = data_dir / "report.html"
    write_report(data_dir, path)
    return path


def _summary(data_dir: Path, out) -> None:
    from .analytics._errors import repeats_latest_attempt
    from .storage.tables import load

    s = load(data_dir, "sessions")
    c = load(data_dir, "comparisons")
    g = load(data_dir, "genuineness")
    q = load(data_dir, "quarantine")
    faceid = c[(c.comparison == "faceid") & c.confidence.notna() & c.thr_1e4.notna()]
    pass_1e4 = (faceid.confidence >= faceid.thr_1e4).mean() if len(faceid) else float("nan")
    flagged = g.flagged.astype("boolean")
    print("\nsummary", file=out)
    print(f"  sessions        {len(s):>7}  ({s.session_id.nunique()} distinct ids, "
          f"{int((s.error.notna().to_numpy() & ~repeats_latest_attempt(s)).sum())} API errors)", file=out)
    print(f"  comparisons     {len(c):>7}  faceid pass rate at its 1e-4 threshold: {pass_1e4:.1%}",
          file=out)
    print(f"  anti-spoofing   {len(g):>7}  flagged {int(flagged.sum())} "
          f"({flagged.mean():.1%} of checks with a threshold)", file=out)
    statuses = s[s.source == "megvii_lite"].status.value_counts().head(4)
    print("  lite statuses   " + ", ".join(f"{k} {v}" for k, v in statuses.items()), file=out)
    print(f"  quarantined     {len(q):>7}", file=out)
