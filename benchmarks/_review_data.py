"""Synthetic sessions, comparisons and anti-spoofing checks at any volume, laid out as the store writes them.

Used by ``bench_review.py``.  Extends ``bench_engines.py``'s comparisons generator (same
months, sources, threshold sets, confidence shapes, file size, zstd, sorted by
``session_time``) with the tables a review reads beside it, of matching size:

* ``sessions``: ~0.39 per comparison row (``--rows`` comparisons -> ~0.39x sessions), every
  column of the table; ``biz_extra_data`` carries segment keys the way integrators pass
  them: JSON (``{"channel": "app", "product": "loan", "branch": 417}``) for half the Megvii
  sessions, ``k=v&`` text (``channel=h5&product=card``) for a fifth, empty otherwise;
  statuses, API errors, verify errors and request ids as the provider documents list them.
* ``comparisons``: the session's comparisons (Lite: faceid, idcard_photo, ref1; web
  liveness: faceid, idcard_photo; Baidu: one faceprint score per attempt), ~2.6 a session.
* ``genuineness``: ~0.97 per comparison row (Megvii: synthetic_face, mask and, when the
  environment image was taken, screen_replay; Baidu: a spoofing score per attempt, no
  threshold).
* ``attempts`` (Baidu getall) and ``verify_errors`` (Megvii), small.

Each file covers consecutive days of one (source, month) partition and the three big tables
hold the same sessions, as ingest writes them.
"""
from __future__ import annotations

import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_engines import SETS, _hex_ids, plan_files  # noqa: E402

COMPARISONS_PER_SESSION = 1 / 0.39          # ~2.56
ROWS_PER_FILE = 2_500_000                   # comparisons per file (bench_engines' size)
CHANNELS = ("app", "h5", "mini")
PRODUCTS = ("loan", "card", "insurance", "wealth")
LITE_STATUSES = ("OK", "NOT_STARTED", "PROCESSING", "WEBRTC_UNSUPPORTED", "FAILED", "CANCELLED", "TIMEOUT")
LITE_STATUS_P = (0.85, 0.03, 0.02, 0.03, 0.03, 0.02, 0.02)
API_ERRORS = ("DATA_DESTROYED", "RESULT_NOT_FOUND", "CONCURRENCY_LIMIT_EXCEEDED")
VERIFY_ERRORS = ("NO_SUCH_ID_NUMBER", "ID_NUMBER_NAME_NOT_MATCH", "DATA_SOURCE_ERROR", "NO_FACE_FOUND")


def _strings(rng, values, p, n, null_share=0.0):
    """``n`` draws from ``values`` as an Arrow string array (built from a dictionary, no Python strings)."""
    import pyarrow as pa

    idx = rng.choice(len(values), n, p=p).astype(np.int32)
    arr = pa.DictionaryArray.from_arrays(pa.array(idx), pa.array(list(values), pa.string())).cast(pa.string())
    if null_share:
        arr = pa.compute.if_else(pa.array(rng.random(n) < null_share), pa.nulls(n, pa.string()), arr)
    return arr


def _biz_extra(rng, n):
    """JSON for half, ``k=v&`` for a fifth, empty text otherwise: 3 x 4 x 900 distinct JSON strings."""
    import pyarrow as pa

    ch = rng.integers(0, len(CHANNELS), n)
    pr = rng.integers(0, len(PRODUCTS), n)
    br = rng.integers(100, 1000, n)
    form = rng.choice(3, n, p=[0.5, 0.2, 0.3])
    code = np.where(form == 0, (ch * len(PRODUCTS) + pr) * 900 + (br - 100),
                    np.where(form == 1, 10_800 + ch * len(PRODUCTS) + pr, 10_800 + 12))
    words = [f'{{"channel":"{c}","product":"{p}","branch":{b}}}' for c in CHANNELS for p in PRODUCTS
             for b in range(100, 1000)]
    words += [f"channel={c}&product={p}" for c in CHANNELS for p in PRODUCTS] + [""]
    return pa.DictionaryArray.from_arrays(pa.array(code.astype(np.int32)), pa.array(words)).cast(pa.string())


def _ts(us):
    import pyarrow as pa

    return pa.array(us, pa.timestamp("us", tz="UTC"))


def _write(table_name, root, source, month, name, cols, n):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from faceanalytics.schema import SESSION_KEY, file_schema

    schema = file_schema(table_name)
    arrays = [cols[f.name] if f.name in cols else pa.nulls(n, f.type) for f in schema]
    t = pa.Table.from_arrays(arrays, schema=schema)
    d = Path(root) / "tables" / table_name / f"source={source}" / f"month={month}"
    d.mkdir(parents=True, exist_ok=True)
    path = d / name
    # As the store writes: zstd, statistics on the columns readers filter on.
    pq.write_table(t, path, compression="zstd", row_group_size=1_000_000,
                   write_statistics=["session_id", "fetched_at", "session_time", SESSION_KEY])
    return os.path.getsize(path)


def write_chunk(task) -> tuple[int, int, int, int]:
    """One file of each table for ``n`` comparisons of ``source`` between t0 and t1 (microseconds)."""
    import pyarrow as pa

    from faceanalytics.storage.tables import session_keys

    root, source, month, t0, t1, n_comp, seed, name = task
    rng = np.random.default_rng(seed)
    ns = max(1, round(n_comp / COMPARISONS_PER_SESSION))
    t = np.sort(rng.integers(t0, t1, ns))
    ids = _hex_ids(rng, ns)
    keys = session_keys(ids)                      # as the store writes them
    megvii = source != "baidu_getall"
    # ---- comparisons: per session, its comparison kinds (or Baidu attempts).
    if source == "megvii_lite":
        per = 1 + (rng.random(ns) < 0.95) + (rng.random(ns) < 0.61)
    elif source == "megvii_liveness":
        per = 2 + (rng.random(ns) < 0.56)
    else:
        per = rng.choice([1, 2, 3, 4], ns, p=[0.2, 0.3, 0.3, 0.2])
    sess = np.repeat(np.arange(ns), per)
    nc = len(sess)
    rank = np.arange(nc) - np.repeat(np.cumsum(per) - per, per)          # 0, 1, 2 within the session
    genuine_s = rng.random(ns) < 0.93
    base = np.where(genuine_s, rng.normal(80, 7, ns), rng.normal(45, 12, ns))
    if megvii:
        kinds = np.array(["faceid", "idcard_photo", "ref1"])
        comparison = kinds[np.minimum(rank, 2)]
        p = [0.85, 0.08, 0.04, 0.03] if source == "megvii_lite" else [0.0, 0.0, 1.0, 0.0]
        thr = SETS[rng.choice(4, ns, p=p)][sess]
        conf = np.round(np.clip(base[sess] + rng.normal(0, 1.5, nc), 0, 100), 3)
        threshold = np.full(nc, np.nan)
        attempt = np.ones(nc, np.int32)
    else:
        comparison = np.full(nc, "faceprint")
        thr = np.full((nc, 4), np.nan)
        conf = np.round(np.clip(base[sess] + 8 + rng.normal(0, 1.5, nc), 0, 100), 4)
        threshold = rng.choice([70.0, 80.0], ns, p=[0.3, 0.7])[sess]
        attempt = (rank + 1).astype(np.int32)
    conf[rng.random(nc) < 0.001] = np.nan
    st = t[sess]
    fetched = st + rng.integers(60_000_000, 3_600_000_000, nc)
    sid = ids.take(pa.array(sess))
    c_size = _write("comparisons", root, source, month, name, {
        "session_id": sid, "session_key": keys.take(pa.array(sess)), "fetched_at": _ts(fetched), "session_time": _ts(st),
        "comparison": pa.array(comparison, pa.string()), "attempt": pa.array(attempt),
        "confidence": pa.array(conf, from_pandas=True),
        **{c: pa.array(thr[:, i], from_pandas=True) for i, c in enumerate(("thr_1e3", "thr_1e4", "thr_1e5",
                                                                          "thr_1e6"))},
        "threshold": pa.array(threshold, from_pandas=True)}, nc)
    # ---- genuineness: Megvii three attack types (screen replay needs the environment image); Baidu per attempt.
    if megvii:
        pg = np.stack([np.ones(ns, bool), rng.random(ns) < 0.92, rng.random(ns) < 0.6], axis=1)
        gs, ga = np.nonzero(pg)
        attacks = np.array(["synthetic_face", "mask", "screen_replay"])[ga]
        attack_s = rng.random(ns) < 0.05
        gconf = np.round(np.where(attack_s[gs], rng.beta(6, 2, len(gs)), rng.beta(1.5, 12, len(gs))), 3)
        gthr = np.array([0.5, 0.5, 0.5])[ga]
        gatt = np.ones(len(gs), np.int32)
    else:
        gs = sess
        attacks = np.full(nc, "synthetic_face")
        gconf = np.round(rng.beta(1.5, 12, nc), 4)
        gthr = np.full(nc, np.nan)
        gatt = attempt
    g_size = _write("genuineness", root, source, month, name, {
        "session_id": ids.take(pa.array(gs)), "session_key": keys.take(pa.array(gs)),
        "fetched_at": _ts(t[gs] + 600_000_000), "session_time": _ts(t[gs]),
        "attack": pa.array(attacks, pa.string()), "attempt": pa.array(gatt),
        "confidence": pa.array(gconf), "threshold": pa.array(gthr, from_pandas=True),
        "flagged": pa.array(np.where(np.isnan(gthr), False, gconf > np.nan_to_num(gthr, nan=2.0)))}, len(gs))
    # ---- sessions.
    if source == "megvii_lite":
        status = _strings(rng, LITE_STATUSES, LITE_STATUS_P, ns)
    else:
        status = _strings(rng, ("OK",), None, ns)
    err = rng.random(ns) < 0.01
    error = pa.compute.if_else(pa.array(err), _strings(rng, API_ERRORS, None, ns), pa.nulls(ns, pa.string()))
    scols = {
        "session_id": ids, "session_key": keys, "fetched_at": _ts(t + rng.integers(60_000_000, 3_600_000_000, ns)),
        "session_time": _ts(t), "time_basis": _strings(rng, ("verify_time",), None, ns),
        "http_status": pa.array(np.where(err, 400, 200).astype(np.int32)),
        "status": status, "error": error, "error_message": error,
        "request_id": pa.compute.binary_join_element_wise(
            pa.array((t // 1_000_000).astype(str)), _hex_ids(rng, ns, 36), ","),
        "verify_time": _ts(t),
    }
    if megvii:
        scols.update({
            "biz_id": pa.compute.binary_join_element_wise(pa.array((t // 1_000_000).astype(str)), ids, ","),
            "biz_no": _hex_ids(rng, ns, 16), "biz_extra_data": _biz_extra(rng, ns),
            "liveness_result": _strings(rng, ("PASS", "FAIL"), (0.93, 0.07), ns),
            "procedure_type": _strings(rng, ("will", "video", "still", "flash"), (0.3, 0.35, 0.15, 0.2), ns),
            "verify_error": _strings(rng, VERIFY_ERRORS, None, ns, null_share=0.985),
            "time_used": pa.array(rng.integers(40, 400, ns)),
            "liveness_version": _strings(rng, ("2.0.0", "3.1.2"), None, ns),
        })
    else:
        scols.update({"log_id": _hex_ids(rng, ns, 16), "verify_count": pa.array(per.astype(np.int32)),
                      "success": pa.array(rng.random(ns) < 0.85)})
    s_size = _write("sessions", root, source, month, name, scols, ns)
    # ---- Baidu attempts (getall) / Megvii verify errors: small tables.
    o_size = 0
    if not megvii:
        passed = (conf >= threshold)
        o_size = _write("attempts", root, source, month, name, {
            "session_id": sid, "session_key": keys.take(pa.array(sess)), "fetched_at": _ts(fetched),
            "session_time": _ts(st), "attempt": pa.array(attempt),
            "passed": pa.array(passed), "code": pa.array(np.where(passed, "0", "222380")),
            "message": pa.array(np.where(passed, "", "人脸比对分数低")), "verify_time": _ts(st),
            "charged": pa.array(rng.random(nc) < 0.9), "charge_type": _strings(rng, ("verify", "match"), None, nc),
            "score": pa.array(conf, from_pandas=True), "threshold": pa.array(threshold)}, nc)
    return c_size, g_size, s_size, o_size


def make_dataset(root: Path, rows: int, workers: int) -> tuple[int, float]:
    """~``rows`` comparisons and the sessions and checks beside them; returns (bytes, seconds)."""
    tasks = [(str(root), source, m, t0, t1, n, 1000 + i, f"part-bench-{f:04d}.parquet")
             for i, (source, m, f, t0, t1, n) in enumerate(plan_files(rows, ROWS_PER_FILE))]
    t = time.perf_counter()
    with ProcessPoolExecutor(max_workers=workers) as ex:
        size = sum(sum(x) for x in ex.map(write_chunk, tasks))
    return size, time.perf_counter() - t


if __name__ == "__main__":
    out = Path(sys.argv[1])
    size, secs = make_dataset(out, int(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 2)
    print(f"{size / 1e9:.2f} GB in {secs:.0f} s")
