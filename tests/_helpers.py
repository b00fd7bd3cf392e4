"""Shared test helpers: the seed fixtures and envelopes around them."""
import json
from pathlib import Path

SEEDS = Path(__file__).parent / "data" / "seeds"
LITE_ID = "1462259748,52b13fb5-8dfb-4537-a62b-a641d5e929f1"


def seed(name):
    return json.loads((SEEDS / name).read_text())


def envelope(source, sid, payload, fetched_at="2026-11-20T10:00:00Z", status=200):
    return {"source": source, "session_id": sid, "fetched_at": fetched_at,
            "http_status": status, "payload": payload}


def write_jsonl(path, records):
    with open(path, "w", encoding="utf-8") as f:
        for r in records:
            f.write(r if isinstance(r, str) else json.dumps(r, ensure_ascii=False))
            f.write("\n")
    return path


def escape_every(text: str) -> str:
    """Every character percent-escaped (``quote`` leaves letters and digits: this does not)."""
    return "".join(f"%{b:02X}" for b in text.encode())


def lite_session(i: int, tag: str = "careless") -> dict:
    """The ``i``-th of a run of Lite sessions: the success seed under an id of its own."""
    sid = f"1700000000,{tag}-{i:04d}"
    return envelope("megvii_lite", sid, {**seed("megvii_lite_success.json"), "biz_id": sid})


def small_data_dir(tmp_path, tag: str = "careless"):
    """A data directory with three Lite sessions landed by ``faceanalytics ingest``."""
    from faceanalytics import cli

    d = tmp_path / "data"
    assert cli.main(["ingest", str(write_jsonl(tmp_path / "a.jsonl", [lite_session(i, tag) for i in range(3)])),
                     "--data", str(d), "-q"]) == 0
    return d


def liveness_in_three_months(path):
    """A file of three web-liveness results whose biz_ids date them in 2016-05, 2023-11 and
    2025-10 (for partition-pruning tests)."""
    recs = []
    for i, epoch in enumerate([1462259748, 1700000000, 1760000000]):
        p = seed("megvii_liveness_success.json")
        p["biz_id"] = f"{epoch},id{i}"
        recs.append(envelope("megvii_liveness", p["biz_id"], p))
    return write_jsonl(path, recs)


def traced_peak(work, *args, **kwargs):
    """``work(*args, **kwargs)`` and the peak of Python's own allocations while it ran (bytes)."""
    import tracemalloc

    tracemalloc.start()
    try:
        out = work(*args, **kwargs)
        return out, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def in_threads(work, n=8):
    """Run ``work(i)`` for i in 0..n-1, each in its own thread, and wait for all."""
    import threading

    threads = [threading.Thread(target=work, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def assert_prints_ok(code):
    """Run ``code`` in a fresh interpreter; it must print ``ok`` (import-cost checks)."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "ok", out.stderr


def all_table_text(data) -> str:
    """Every non-null value of every table of a data directory, one per line."""
    from faceanalytics.schema import TABLES
    from faceanalytics.storage.tables import load

    parts = []
    for table in TABLES:
        df = load(data, table)
        for col in df.columns:
            parts.extend(str(v) for v in df[col].dropna().tolist())
    return "\n".join(parts)


def offline_aws_env(monkeypatch, tmp_path, endpoint: str) -> None:
    """An S3 endpoint on loopback and test credentials, never the machine's own AWS settings
    (profiles, ``~/.aws`` files, the instance metadata service)."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("FACEANALYTICS_S3_ENDPOINT", endpoint)


def local_spark(app: str, cores: int):
    """A local Spark session for a test module's fixture (yield it, then ``stop()``): ``cores``
    threads and shuffle partitions, no UI.  The JIT's first tier only, and one GC thread: these
    queries are small and short-lived, and C2 compiling them costs more than it saves (driver
    JVM CPU for test_engines.py 177 -> 125 s)."""
    import os

    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    from pyspark.sql import SparkSession

    s = (SparkSession.builder.master(f"local[{cores}]").appName(app)
         .config("spark.sql.shuffle.partitions", str(cores)).config("spark.default.parallelism", str(cores))
         .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
         .config("spark.sql.adaptive.coalescePartitions.enabled", "true")
         .config("spark.driver.extraJavaOptions", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC")
         .getOrCreate())
    s.sparkContext.setLogLevel("ERROR")
    return s


def baidu_getall(when: str, attempts=None) -> dict:
    """The document's getall answer (``seeds/baidu_getall.json``), every attempt verified,
    charged and OCR-charged at ``when`` (Beijing wall-clock time, ``YYYY-MM-DD HH:MM:SS``).
    ``attempts(first)``: the attempts to list instead, made from the document's first attempt
    (``verify_count`` follows)."""
    p = seed("baidu_getall.json")
    if attempts is not None:
        p["result"]["verify_result"] = attempts(p["result"]["verify_result"][0])
        p["result"]["verify_count"] = len(p["result"]["verify_result"])
    for a in p["result"]["verify_result"]:
        a["verify_time"] = a["charge_time"] = a["ocr_charge_time"] = when
    return p


def same_counts(a, b) -> None:
    """Two reviews' summaries (``report._summary.summarize``) hold the same count tables."""
    from pandas.testing import assert_frame_equal

    assert set(a.counts) == set(b.counts)
    for name in a.counts:
        if a.counts[name] is None or b.counts[name] is None:
            assert a.counts[name] is None and b.counts[name] is None, name
        else:
            assert_frame_equal(a.counts[name], b.counts[name], obj=name)
