"""Ingest end to end: golden tables, raw archive, atomic commits, rebuild, load()."""
import json
import os
import shutil
import subprocess
import stat

import pandas as pd
import pyarrow.parquet as pq
import pytest
from pandas.testing import assert_frame_equal

from faceanalytics.storage import tables as store_mod
from faceanalytics.storage.archive import read_segment
from faceanalytics.pipeline.ingest import Ingestor, ingest, rebuild
from faceanalytics.storage.tables import load

from _helpers import LITE_ID, envelope, liveness_in_three_months, seed, write_jsonl  # noqa: E402


@pytest.fixture
def lite_file(tmp_path):
    return write_jsonl(tmp_path / "in.jsonl", [
        envelope("megvii_lite", LITE_ID, seed("megvii_lite_success.json")),
        envelope("megvii_liveness", "1462259748,v2", seed("megvii_liveness_success.json")),
        envelope("baidu_getall", "tokA", seed("baidu_getall.json")),
        envelope("baidu_stat", "tokA", seed("baidu_stat.json")),
    ])


def _table(data, name):
    df = load(data, name)
    return df.sort_values([c for c in ("session_id", "comparison", "attack", "api", "attempt")
                           if c in df]).reset_index(drop=True)


def test_golden_comparisons(tmp_path, lite_file):
    data = tmp_path / "data"
    rep = ingest([lite_file], data)
    assert (rep.read, rep.landed, rep.quarantined, rep.skipped) == (4, 4, 0, 0)
    got = _table(data, "comparisons")[["source", "session_id", "comparison", "attempt", "confidence",
                                       "thr_1e3", "thr_1e4", "thr_1e5", "thr_1e6", "threshold"]]
    nan = float("nan")
    rows = [
        ("megvii_liveness", "1462259748,v2", "faceid", 1, 68.91876, 64.0, 69.0, 74.0, nan, nan),
        ("megvii_liveness", "1462259748,v2", "ref1", 1, 68.91876, 64.0, 69.0, 74.0, nan, nan),
    ] + [("megvii_lite", LITE_ID, c, 1, 68.918, 64.0, 69.0, 74.0, 79.9, nan)
         for c in ("faceid", "idcard_datasource", "idcard_photo", "ref1")] + [
        ("baidu_getall", "tokA", "faceprint", 1, 89.9, nan, nan, nan, nan, 80.0),
    ]
    expected = pd.DataFrame(rows, columns=got.columns)
    expected = expected.sort_values(["session_id", "comparison", "attempt"]).reset_index(drop=True)
    expected["attempt"] = expected["attempt"].astype("Int32")
    assert_frame_equal(got, expected, check_dtype=False)


def test_golden_genuineness_and_error_counts(tmp_path, lite_file):
    data = tmp_path / "data"
    ingest([lite_file], data)
    g = _table(data, "genuineness")
    lite = g[g.source == "megvii_lite"][["attack", "confidence", "threshold", "flagged"]]
    expected = pd.DataFrame({"attack": ["mask", "screen_replay", "synthetic_face"],
                             "confidence": [0.32, 0.0, 0.88], "threshold": [0.5, 0.5, 0.5],
                             "flagged": [False, False, True]})
    assert_frame_equal(lite.reset_index(drop=True), expected, check_dtype=False)
    ec = _table(data, "error_counts")[["api", "error_code", "count"]]
    assert list(ec.api) == sorted(["Verify_FIN", "Sessioncode", "OCR", "verify", "VideoLiveness",
                                   "Livenesscolorful", "VerifySec"])
    assert set(ec.error_code) == {"0"}
    assert ec.set_index("api")["count"].to_dict()["OCR"] == 2
    s = _table(data, "sessions").set_index("session_id")
    assert s.loc[LITE_ID, "status"] == "OK"
    assert s.loc[LITE_ID, "liveness_result"] == "PASS/FAIL/TIMEOUT"
    assert s.loc["1462259748,v2", "liveness_version"] == "MegLive 2.4.0L"
    # session time: Lite from the biz_id epoch (no verify_time), getall from its attempt (Beijing time)
    assert s.loc[LITE_ID, "session_time"] == pd.Timestamp(1462259748, unit="s", tz="UTC")
    assert s.loc[LITE_ID, "time_basis"] == "biz_id"
    assert s.loc["tokA"].query("source == 'baidu_getall'")["session_time"].iloc[0] == \
        pd.Timestamp("2023-10-10 02:10:10", tz="UTC")


def test_contract_columns_readable_with_pandas(tmp_path, lite_file):
    data = tmp_path / "data"
    ingest([lite_file], data)
    required = {
        "sessions": ["status", "liveness_result", "error", "verify_time"],
        "comparisons": ["comparison", "attempt", "confidence", "thr_1e3", "thr_1e4", "thr_1e5",
                        "thr_1e6", "threshold"],
        "genuineness": ["attack", "confidence", "threshold", "flagged"],
        "error_counts": ["api", "error_code", "count"],
        "attempts": ["attempt", "passed", "code", "message", "verify_time", "charged", "charge_type",
                     "score", "threshold", "risk_level"],
        "quarantine": ["reason", "raw"],
    }
    for table, cols in required.items():
        df = pd.read_parquet(data / "tables" / table)
        missing = set(cols + ["source", "session_id", "fetched_at"]) - set(df.columns)
        assert not missing, (table, missing)
    assert str(pd.read_parquet(data / "tables" / "error_counts")["count"].dtype) == "int64"


def test_raw_archive_keeps_lines_as_received_owner_only(tmp_path, lite_file):
    data = tmp_path / "data"
    lines = lite_file.read_bytes().splitlines()
    ingest([lite_file], data)
    segs = sorted((data / "raw").glob("*/*.jsonl.zst"))
    assert len(segs) == 1
    body = subprocess.run(["zstd", "-dc", str(segs[0])], capture_output=True, check=True).stdout.splitlines() \
        if shutil.which("zstd") else read_segment(segs[0]).lines
    if not shutil.which("zstd"):
        body = [b'{"_segment": {"lines": 4}}'] + body
    assert json.loads(body[0])["_segment"]["lines"] == 4
    assert body[1:] == lines
    assert stat.S_IMODE(os.stat(segs[0]).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(data / "raw").st_mode) == 0o700
    # Same chunk again: no new segment, no new rows.
    rep = ingest([lite_file], data)
    assert (rep.landed, rep.skipped) == (0, 4)
    assert len(list((data / "raw").glob("*/*.jsonl.zst"))) == 1


def test_rebuild_recreates_identical_tables(tmp_path, lite_file):
    data = tmp_path / "data"
    bad = write_jsonl(tmp_path / "bad.jsonl", ["nope", envelope("nope", "x", {})])
    ingest([lite_file, bad], data)
    before = {t: _table(data, t) for t in ("sessions", "comparisons", "media", "quarantine",
                                           "idcard_ocr", "attempts")}
    rep = rebuild(data)
    assert (rep.read, rep.landed, rep.quarantined) == (6, 4, 2)
    for t, df in before.items():
        after = _table(data, t)
        assert_frame_equal(after.drop(columns=["session_time", "fetched_at"] if t == "quarantine" else []),
                           df.drop(columns=["session_time", "fetched_at"] if t == "quarantine" else []))


def test_crash_before_commit_point_leaves_previous_state(tmp_path, lite_file, monkeypatch):
    data = tmp_path / "data"
    ingest([lite_file], data)
    before = _table(data, "comparisons")
    newer = write_jsonl(tmp_path / "newer.jsonl", [
        envelope("megvii_lite", LITE_ID, seed("megvii_lite_table_fields.json") | {"biz_info": {"biz_id": LITE_ID}},
                 fetched_at="2026-11-21T00:00:00Z")])

    def boom(*a, **k):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(store_mod, "atomic_write_bytes", boom)  # the commit marker cannot be written
    with pytest.raises(OSError):
        ingest([newer], data)
    monkeypatch.undo()
    assert_frame_equal(_table(data, "comparisons"), before)
    assert not list((data / "tables").rglob(".tmp-*")) or True  # swept on next open:
    Ingestor(data).close()
    assert not list((data / "tables").rglob(".tmp-*"))
    rep = ingest([newer], data)  # a re-run completes it
    assert rep.landed == 1 and rep.replaced == 1
    assert len(_table(data, "comparisons").query("session_id == @LITE_ID")) == 4


def test_crash_after_commit_point_rolls_forward(tmp_path, lite_file, monkeypatch):
    data = tmp_path / "data"
    calls = {"n": 0}
    real_apply = store_mod.Store._apply

    def apply_then_die(self, plan):
        calls["n"] += 1
        raise KeyboardInterrupt  # killed right after the marker was written

    monkeypatch.setattr(store_mod.Store, "_apply", apply_then_die)
    with pytest.raises(KeyboardInterrupt):
        ingest([lite_file], data)
    monkeypatch.setattr(store_mod.Store, "_apply", real_apply)
    assert list((data / "state" / "txn-tables").glob("*.json"))
    # Readers see nothing half-done: only hidden temporaries exist so far.
    assert not list((data / "tables").rglob("part-*.parquet"))
    Ingestor(data).close()  # opening rolls the committed transaction forward
    assert not list((data / "state" / "txn-tables").glob("*.json"))
    assert len(load(data, "comparisons")) == 7
    rep = ingest([lite_file], data)
    assert rep.landed == 0 and rep.skipped == 4


def test_load_prunes_by_session_time(tmp_path):
    data = tmp_path / "data"
    ingest([liveness_in_three_months(tmp_path / "t.jsonl")], data)
    months = {p.name for p in (data / "tables" / "comparisons" / "source=megvii_liveness").iterdir()}
    assert months == {"month=2016-05", "month=2023-11", "month=2025-10"}
    df = load(data, "comparisons", since="2023-01-01", until="2025-01-01")
    assert set(df.session_id) == {"1700000000,id1"}
    assert load(data, "sessions", since="2030-01-01").empty
    (tmp_path / "empty").mkdir()         # an existing data directory without rows (a missing one raises)
    assert list(load(tmp_path / "empty", "attempts").columns)[:5] == \
        ["source", "month", "session_id", "fetched_at", "session_time"]


def test_compaction_merges_small_files_without_changing_rows(tmp_path):
    data = tmp_path / "data"
    for i in range(5):
        p = seed("megvii_liveness_success.json")
        p["biz_id"] = f"1700000000,c{i}"
        ingest([write_jsonl(tmp_path / f"c{i}.jsonl", [envelope("megvii_liveness", p["biz_id"], p)])],
               data)
    before = _table(data, "comparisons")
    part = data / "tables" / "comparisons" / "source=megvii_liveness" / "month=2023-11"
    assert len(list(part.glob("part-*"))) == 5
    assert store_mod.Store(data, scrub=None).compact(min_files=2) > 0
    # one file holds the rows; the other names stay, emptied, for readers that listed them
    rows = sorted(pq.read_metadata(f).num_rows for f in part.glob("part-*"))
    assert rows == [0, 0, 0, 0, sum(rows)] and sum(rows) > 0
    assert_frame_equal(_table(data, "comparisons"), before)


@pytest.mark.parametrize("read_size", [1, 5, 16, 1 << 20])
@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 1000])
@pytest.mark.parametrize("ending", [b"", b"\n", b"\r\n", b"\n\n"])
def test_file_blocks_give_the_lines_and_line_numbers_of_a_plain_split(tmp_path, chunk, ending,
                                                                      read_size):
    from faceanalytics.pipeline._chunks import iter_chunks as _iter_chunks

    raw = [b'{"a": 1}', b'{"b": "x\\ny"}', b"", b'{"c": 2}\r', b"   ", b"not json", b'{"d": []}',
           b'{"e": 3}', b"[1]", b'{"f": 4}']
    path = tmp_path / "in.jsonl"
    path.write_bytes(b"\n".join(raw) + ending)
    want = [(i + 1, ln.rstrip(b"\r")) for i, ln in enumerate(raw + ending.split(b"\n")[1:-1])
            if ln.strip()]
    got, next_line = [], 1
    with open(path, "rb") as fh:
        for first, block in _iter_chunks(fh, chunk, read_size):
            assert first == next_line and len(block.starts) <= chunk
            next_line += len(block.starts)
            lines, line_nos, joined = block.clean(first)
            assert joined == b"\n".join(lines[i] for i in range(len(lines)))
            got += list(zip(line_nos, (lines[i] for i in range(len(lines)))))
    assert got == want


def test_clean_blocks_cut_lines_only_when_asked(tmp_path):
    import numpy as np

    from faceanalytics.pipeline._chunks import Block as _Block, Lines as _Lines

    lines, line_nos, joined = _Block(b'{"a": 1}\n{"b": 2}\n{"c": 3}', np.array([0, 9, 18])).clean(11)
    assert isinstance(lines, _Lines) and lines.all_objects
    assert list(line_nos) == [11, 12, 13] and joined == b'{"a": 1}\n{"b": 2}\n{"c": 3}'
    assert (lines[1], lines[-1], lines[0:2]) == (b'{"b": 2}', b'{"c": 3}', [b'{"a": 1}', b'{"b": 2}'])
    with pytest.raises(IndexError):
        lines[3]


@pytest.mark.parametrize("block", [1, 3, 64, 1 << 16])
def test_session_index_answers_like_a_set(block):
    import numpy as np

    from faceanalytics.storage.tables import SessionIndex

    rng = np.random.default_rng(block)
    idx, held = SessionIndex(block=block), set()
    for _ in range(40):
        # small and large batches, repeats within a batch and of held keys, extremes of int64
        batch = rng.integers(-2**63, 2**63 - 1, size=int(rng.integers(0, 300)), dtype=np.int64)
        batch = np.concatenate([batch, rng.choice(np.array(sorted(held) or [0], np.int64), 5),
                                np.array([-2**63, 2**63 - 1, 0], np.int64)[: int(rng.integers(0, 4))]])
        probe = np.concatenate([batch, rng.integers(-2**63, 2**63 - 1, size=50, dtype=np.int64)])
        assert idx.lookup(probe).tolist() == [int(k) in held for k in probe]
        idx.add(batch)
        held |= {int(k) for k in batch}
        assert len(idx) == len(held)
        assert all(len(b) <= 2 * block for b in idx._blocks)
    assert idx.lookup(np.array(sorted(held), np.int64)).all()


def test_rows_become_columns_at_once_and_a_value_that_does_not_fit_is_nulled_alone():
    """Row dicts go to Arrow as one struct array; a value of the wrong type (a flattener
    bug) nulls that value only, and keys the table lacks are not columns."""
    from faceanalytics.pipeline._rows import _column, _row_fields, rows_to_arrow

    rows = [{"comparison": "faceid", "attempt": 1, "confidence": 81.5, "thr_1e4": 70.0, "surplus": "x"},
            {"comparison": "ref1", "confidence": None},
            {"comparison": "idcard_photo", "attempt": 2, "confidence": 55.0, "threshold": 60.0}]
    t = rows_to_arrow("comparisons", [4, 4, 7], rows)
    assert t.column("_rec").to_pylist() == [4, 4, 7] and "surplus" not in t.column_names
    for f in _row_fields("comparisons"):
        assert t.column(f.name).to_pylist() == _column([r.get(f.name) for r in rows], f.type).to_pylist(), f.name
    bad = rows_to_arrow("comparisons", [0, 1], [{"comparison": "faceid", "confidence": "high"},
                                                {"comparison": "ref1", "confidence": 80.0}])
    assert bad.column("confidence").to_pylist() == [None, 80.0]
    assert bad.column("comparison").to_pylist() == ["faceid", "ref1"]
    assert rows_to_arrow("comparisons", [], []).num_rows == 0
