"""Input that must not corrupt the store or take the process down.

Times outside the sane window (issue 13.8), non-finite and out-of-range confidences
(13.9), lines nested too deep or too long, and many distinct unknown keys (12.5).
Each check runs on both the columnar fast path and the Python path: they must agree.
"""
from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from faceanalytics import _records
from faceanalytics.analytics import data_quality
from faceanalytics.pipeline.ingest import Ingestor
from faceanalytics.pipeline.receive import judge
from faceanalytics.storage.tables import load

SEEDS = Path(__file__).parent / "data" / "seeds"
SID = "1462259748,52b13fb5-8dfb-4537-a62b-a641d5e929f1"


def seed(name: str) -> dict:
    return json.loads((SEEDS / f"{name}.json").read_text("utf-8"))


def env(source, sid, payload, fetched_at="2026-11-20T10:00:00Z") -> bytes:
    return json.dumps({"source": source, "session_id": sid, "fetched_at": fetched_at,
                       "http_status": 200, "payload": payload}, ensure_ascii=False).encode()


def land(tmp_path: Path, lines: list[bytes], fast: bool, name: str = "d"):
    d = tmp_path / f"{name}-{'fast' if fast else 'python'}"
    with Ingestor(d, fast=fast) as ing:
        rep = ing.ingest_lines(lines, origin="t")
    return rep, d


both = pytest.mark.parametrize("fast", [True, False], ids=["fast", "python"])


# --- 13.8: times outside 2000 .. ten years ahead are quarantined ------------------------

@both
def test_far_future_fetched_at_is_quarantined_not_partitioned(tmp_path, fast):
    lite = seed("megvii_lite_success")
    lines = [env("megvii_lite", SID, lite, fetched_at="9999-12-31T23:59:59-23:59"),
             env("megvii_lite", "1462259748,ok", lite)]
    rep, d = land(tmp_path, lines, fast)
    assert (rep.landed, rep.quarantined) == (1, 1)
    q = load(d, "quarantine")
    assert "outside the accepted time window" in q["reason"].iloc[0]
    assert "fetched_at" in q["reason"].iloc[0]
    months = {p.name for p in (d / "tables").glob("*/source=*/month=*")}
    assert months and all(m[len("month="):] < "2100" for m in months), months
    # a sane fetch of the same session lands once, and is not duplicated by the bad one
    with Ingestor(d, fast=fast) as ing:
        ing.ingest_lines([env("megvii_lite", SID, lite, fetched_at="2026-11-21T10:00:00Z")], origin="t2")
    s = load(d, "sessions")
    assert sorted(s["session_id"]) == sorted([SID, "1462259748,ok"])


@both
@pytest.mark.parametrize("where", ["verify_result", "top"])
def test_far_future_verify_time_is_quarantined(tmp_path, fast, where):
    p = seed("megvii_lite_success")
    if where == "top":
        p["verify_time"] = 253402300799  # 9999-12-31
    else:
        p["verify_result"]["verify_time"] = 253402300799
    rep, d = land(tmp_path, [env("megvii_lite", SID, p)], fast)
    assert (rep.landed, rep.quarantined) == (0, 1)
    assert "verify_time" in load(d, "quarantine")["reason"].iloc[0]


@both
def test_far_past_and_far_future_baidu_times_are_quarantined(tmp_path, fast):
    old, new = seed("baidu_getall"), seed("baidu_getall")
    old["result"]["verify_result"][0]["verify_time"] = "1970-01-02 00:00:00"
    new["result"]["verify_result"][0]["charge_time"] = "9999-12-31 23:59:59"
    rep, d = land(tmp_path, [env("baidu_getall", "tok-old", old), env("baidu_getall", "tok-new", new),
                             env("baidu_getall", "tok-ok", seed("baidu_getall"))], fast)
    assert (rep.landed, rep.quarantined) == (1, 2)
    reasons = load(d, "quarantine").set_index("session_id")["reason"]
    assert "verify_time" in reasons["tok-old"] and "charge_time" in reasons["tok-new"]


# --- 13.9: non-finite and out-of-range values: null, reason kept, counted ------------------

def _with_confidence(raw: str, extra_field: bool) -> bytes:
    """A Lite record whose faceid confidence is the bare JSON token ``raw``."""
    p = seed("megvii_lite_success")
    p["verify_result"]["result_faceid"]["confidence"] = "@@"
    if extra_field:
        p["brand_new_field"] = 1
    return env("megvii_lite", SID, p).replace(b'"@@"', raw.encode())


@both
@pytest.mark.parametrize("raw", ["Infinity", "-Infinity", "NaN", "1e999", '"Infinity"', "120.5", "-3"])
@pytest.mark.parametrize("extra_field", [False, True], ids=["plain", "plus-unknown-field"])
def test_confidence_not_finite_or_out_of_range_is_null_with_reason(tmp_path, fast, raw, extra_field):
    rep, d = land(tmp_path, [_with_confidence(raw, extra_field)], fast)
    assert (rep.landed, rep.quarantined) == (1, 0)  # one way, with or without the other field
    c = load(d, "comparisons").set_index("comparison")
    assert pd.isna(c.loc["faceid", "confidence"])  # never a pass at any level
    assert c.loc["ref1", "confidence"] == pytest.approx(68.918)  # the rest of the record lands
    s = load(d, "sessions")
    extra = json.loads(s["extra"].iloc[0])
    note = extra["_invalid.verify_result.result_faceid.confidence"]
    assert note["reason"] in ("not finite", "outside 0-100")
    assert s["invalid_values"].iloc[0] == 1
    dq = data_quality(s, comparisons=load(d, "comparisons")).set_index(["check", "source"])
    assert dq.loc[("invalid_value", "megvii_lite"), ["n", "of"]].tolist() == [1, 1]


@both
def test_anti_spoofing_outside_0_1_and_thresholds_out_of_range(tmp_path, fast):
    p = seed("megvii_lite_success")
    fg = p["liveness_result"]["face_genuineness"]
    fg["mask_confidence"] = 1.5
    p["verify_result"]["result_faceid"]["thresholds"]["1e-4"] = 1000
    rep, d = land(tmp_path, [env("megvii_lite", SID, p)], fast)
    assert rep.landed == 1
    g = load(d, "genuineness").set_index("attack")
    assert pd.isna(g.loc["mask", "confidence"]) and pd.isna(g.loc["mask", "flagged"])
    assert g.loc["synthetic_face", "confidence"] == pytest.approx(fg["synthetic_face_confidence"])
    c = load(d, "comparisons").set_index("comparison")
    assert pd.isna(c.loc["faceid", "thr_1e4"]) and c.loc["faceid", "thr_1e3"] == 64
    s = load(d, "sessions")
    extra = json.loads(s["extra"].iloc[0])
    assert extra["_invalid.liveness_result.face_genuineness.mask_confidence"]["reason"] == "outside 0-1"
    assert extra["_invalid.verify_result.result_faceid.thresholds.1e-4"]["reason"] == "outside 0-100"
    assert s["invalid_values"].iloc[0] == 2


@both
def test_baidu_scores_out_of_range_and_non_finite_counts(tmp_path, fast):
    p = seed("baidu_getall")
    p["result"]["verify_result"][0]["verify_detail"]["score"] = 150
    line = env("baidu_getall", "tok", p)
    p2 = seed("baidu_getall")
    p2["result"]["verify_result"][0]["verify_detail"]["liveness_score"] = "@@"
    line2 = env("baidu_getall", "tok2", p2).replace(b'"@@"', b"NaN")
    rep, d = land(tmp_path, [line, line2], fast)
    assert rep.landed == 2
    a = load(d, "attempts").set_index("session_id")
    assert pd.isna(a.loc["tok", "score"]) and pd.isna(a.loc["tok2", "liveness_score"])
    s = load(d, "sessions").set_index("session_id")
    assert s["invalid_values"].to_dict() == {"tok": 1, "tok2": 1}


# --- depth and size bounds ------------------------------------------------------------------

def _deep(depth: int) -> bytes:
    return b'{"source":"megvii_lite","payload":' + b'{"a":' * depth + b"1" + b"}" * depth + b"}"


def test_parse_json_bounds_depth_and_size(monkeypatch):
    with pytest.raises(_records.Unreadable, match="nested 10,001 levels deep"):
        _records.parse_json(_deep(10_000))
    assert _records.parse_json(b'{"a": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}')
    monkeypatch.setattr(_records, "MAX_LINE", 100)
    with pytest.raises(_records.Unreadable, match="over the 100-byte limit"):
        _records.parse_json(b'{"a": "' + b"x" * 200 + b'"}')


def _cli(*args) -> subprocess.CompletedProcess:
    code = "import sys; from faceanalytics.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          timeout=120)


def test_a_10000_deep_line_is_quarantined_and_rebuild_survives_it(tmp_path):
    good = env("megvii_lite", SID, seed("megvii_lite_success"))
    f = tmp_path / "in.jsonl"
    f.write_bytes(b"\n".join([good, _deep(10_000), _deep(70), env("baidu_stat", "tok", seed("baidu_stat"))])
                  + b"\n")
    data = tmp_path / "data"
    # Own processes: a crash in a C parser would take pytest down with it.
    r = _cli("ingest", str(f), "--data", str(data))
    assert r.returncode == 0, r.stderr
    q = load(data, "quarantine")
    assert sorted(q["reason"].str.extract(r"nested ([\d,]+)")[0]) == ["10,001", "71"]
    assert sorted(load(data, "sessions")["session_id"]) == sorted([SID, "tok"])
    r = _cli("rebuild", "--data", str(data))
    assert r.returncode == 0, r.stderr
    assert sorted(load(data, "sessions")["session_id"]) == sorted([SID, "tok"])
    assert len(load(data, "quarantine")) == 2


@both
def test_an_over_long_line_is_quarantined_and_the_rest_lands(tmp_path, monkeypatch, fast):
    from faceanalytics.flatten import _fast

    monkeypatch.setattr(_records, "MAX_LINE", 5000)
    monkeypatch.setattr(_fast, "MAX_LINE", 5000)
    big = seed("megvii_lite_success")
    big["biz_info"]["biz_extra_data"] = "x" * 6000
    rep, d = land(tmp_path, [env("megvii_lite", "1462259748,big", big),
                             env("megvii_lite", SID, seed("megvii_lite_success"))], fast)
    assert (rep.landed, rep.quarantined) == (1, 1)
    assert "over the 5,000-byte limit" in load(d, "quarantine")["reason"].iloc[0]


def test_a_lone_surrogate_escape_does_not_stop_the_batch(tmp_path):
    """``"\\ud800"`` is valid JSON that no UTF-8 text can hold: it aborted the whole ingest
    (nothing landed) when the row reached Arrow.  It becomes U+FFFD; the raw archive keeps
    the line as it came; the rest lands; rebuild reads it again."""
    odd = seed("megvii_lite_success")
    odd["biz_info"]["biz_no"] = "order-LONE1"
    line = env("megvii_lite", "1462259748,LONE2-odd", odd).replace(b"LONE1", b"\\ud800").replace(
        b"LONE2", b"\\udfff")
    f = tmp_path / "in.jsonl"
    f.write_bytes(b"\n".join([line, env("megvii_lite", SID, seed("megvii_lite_success"))]) + b"\n")
    data = tmp_path / "data"
    r = _cli("ingest", str(f), "--data", str(data))
    assert r.returncode == 0, r.stderr
    s = load(data, "sessions").set_index("session_id")
    assert sorted(s.index) == sorted([SID, "1462259748,\ufffd-odd"])
    assert s.loc["1462259748,\ufffd-odd", "biz_no"] == "order-\ufffd"
    r = _cli("rebuild", "--data", str(data))
    assert r.returncode == 0, r.stderr
    assert sorted(load(data, "sessions")["session_id"]) == sorted([SID, "1462259748,\ufffd-odd"])


@both
def test_a_sign_that_is_not_ascii_does_not_match(tmp_path, fast):
    """hmac.compare_digest raises TypeError on text that is not ASCII: the receiver answered
    500 (not 403) and ingest quarantined the callback as "could not flatten: TypeError"."""
    from faceanalytics import verify_callback_sign

    secret = "s" * 32
    data = json.dumps(seed("megvii_liveness_success"))
    for sign in ("\u202e", "１２３", "é" * 40):
        assert verify_callback_sign(data, sign, secret) is False
        status, reason, _, _ = judge(json.dumps({"data": data, "sign": sign}).encode(), "application/json", secret)
        assert (status, reason) == (403, "sign does not match sha1(api_secret + data)")
    d = tmp_path / f"d-{fast}"
    with Ingestor(d, fast=fast, megvii_api_secret=secret) as ing:
        rep = ing.ingest_lines([env("megvii_notify", SID, {"data": data, "sign": "１２３"})], origin="t")
    assert rep.quarantined == 1
    assert load(d, "quarantine")["reason"].iloc[0].startswith("callback sign does not match")


def _lines_of(blocks) -> list[bytes]:
    out = []
    for _, blk in blocks:
        st = [*blk.starts.tolist(), len(blk.buf) + 1]
        out += [blk.buf[st[i]:st[i + 1] - 1] for i in range(len(blk.starts))]
    return out


def test_a_line_over_the_limit_is_cut_as_it_is_read():
    """Reading never holds more of a line than the limit and one read: a longer line becomes
    a short stand-in with its real length and first bytes; every other line is as it was."""
    import io
    import random

    from faceanalytics.pipeline._chunks import iter_chunks

    rng = random.Random(11)
    for _ in range(400):
        lines = [bytes(rng.choice(b'ab{}"') for _ in range(rng.choice([0, 3, 49, 50, 51, 90, 400])))
                 for _ in range(rng.randint(1, 10))]
        data = b"\n".join(lines) + (b"\n" if rng.random() < 0.5 else b"")
        read = rng.choice([1, 4, 16, 64])
        got = _lines_of(iter_chunks(io.BytesIO(data), rng.choice([1, 3, 100]), read_size=read, max_line=50))
        want = data.split(b"\n")[:-1] if data.endswith(b"\n") else data.split(b"\n")
        got, want = (x[:-1] if x and x[-1] == b"" else x for x in (got, want))  # a final empty line, as before
        assert len(got) == len(want)
        for g, w in zip(got, want):
            if g.startswith(_records.OVER_LONG):
                assert len(w) > 50 and _records.line_problem(g).startswith(f"line of {len(w):,} bytes")
                assert w.startswith(g[g.index(b": ", len(_records.OVER_LONG)) + 2:])   # its first bytes
            else:
                assert g == w and len(g) <= 50 + read


def test_a_zstd_file_holding_a_huge_line_lands_the_rest(tmp_path, monkeypatch):
    """A few KB of Zstandard holding a line far over the limit (no newline for 1 GiB in the
    benchmark) was held whole as it was read; now only its first bytes are."""
    import pyarrow as pa

    from faceanalytics.flatten import _common
    from faceanalytics.pipeline.ingest import ingest, rebuild

    monkeypatch.setattr(_common, "MAX_LINE", 100_000)
    monkeypatch.setattr(_records, "MAX_LINE", 100_000)
    f = tmp_path / "in.jsonl.zst"
    with pa.output_stream(str(f), compression="zstd") as fh:
        fh.write(env("megvii_lite", SID, seed("megvii_lite_success")) + b"\n")
        fh.write(b'{"source":"megvii_lite","payload":{"x":"' + b"a" * 9_000_000 + b'"}}\n')
        fh.write(env("baidu_stat", "tok", seed("baidu_stat")) + b"\n")
    assert f.stat().st_size < 10_000
    rep = ingest([f], tmp_path / "data")
    assert (rep.landed, rep.quarantined) == (2, 1)
    reason = load(tmp_path / "data", "quarantine")["reason"].iloc[0]
    assert reason == ("line of 9,000,043 bytes is over the 100,000-byte limit (only its first bytes were kept)")
    raw = b"".join(p.read_bytes() for p in (tmp_path / "data" / "raw").rglob("*.zst"))
    assert len(raw) < 100_000                                 # the archive holds the stand-in, not the line
    rebuild(tmp_path / "data")
    assert sorted(load(tmp_path / "data", "sessions")["session_id"]) == sorted([SID, "tok"])
    assert load(tmp_path / "data", "quarantine")["reason"].tolist() == [reason]


def test_rebuild_cuts_a_huge_line_an_older_version_archived(tmp_path, monkeypatch):
    """A segment archived before lines were cut as read may hold a line of any length:
    rebuild read each segment whole into memory, that line with it.  It now reads segments
    as ingest reads files: the line is cut as it is read, the rest lands."""
    import pyarrow as pa

    from faceanalytics.flatten import _common
    from faceanalytics.pipeline.ingest import ingest, rebuild

    monkeypatch.setattr(_common, "MAX_LINE", 100_000)
    monkeypatch.setattr(_records, "MAX_LINE", 100_000)
    good = tmp_path / "good.jsonl"
    good.write_bytes(env("baidu_stat", "tok", seed("baidu_stat")) + b"\n")
    ingest([good], tmp_path / "data")
    old = tmp_path / "data" / "raw" / "2026-01-01" / "000000000001-old.jsonl.zst"
    old.parent.mkdir(parents=True)
    with pa.output_stream(str(old), compression="zstd") as fh:
        fh.write(b'{"_segment":{"source_hint":null,"received_at":"2026-01-01T00:00:00Z","origin":"old.jsonl",'
                 b'"lines":2}}\n')
        fh.write(env("megvii_lite", SID, seed("megvii_lite_success")) + b"\n")
        fh.write(b'{"source":"megvii_lite","payload":{"x":"' + b"a" * 9_000_000 + b'"}}\n')
    rep = rebuild(tmp_path / "data")
    assert (rep.landed, rep.quarantined) == (2, 1)
    assert sorted(load(tmp_path / "data", "sessions")["session_id"]) == sorted([SID, "tok"])
    assert load(tmp_path / "data", "quarantine")["reason"].tolist() == [
        "line of 9,000,043 bytes is over the 100,000-byte limit (only its first bytes were kept)"]


def test_receiver_reads_bodies_through_the_bounded_parser():
    body = json.dumps({"data": "{}", "sign": "x"}).encode()
    deep = b'{"data": "x", "sign": "y", "z": ' + b"[" * 10_000 + b"]" * 10_000 + b"}"
    assert judge(body, "application/json", "s")[0] == 403  # parsed: a callback with a bad sign
    status, reason, _, _ = judge(deep, "application/json", "s")
    assert status == 400 and "nested" in reason


# --- unknown keys ---------------------------------------------------------------------------

@both
def test_many_distinct_unknown_keys_land_in_extra(tmp_path, fast):
    lines = []
    for i in range(300):
        p = seed("megvii_lite_error")
        p.update({f"k{i}_{j}": j for j in range(20)})
        lines.append(env("megvii_lite", f"1462259748,u{i}", p))
    rep, d = land(tmp_path, lines, fast)
    assert rep.landed == 300
    s = load(d, "sessions").set_index("session_id")
    assert json.loads(s.loc["1462259748,u7", "extra"]) == {f"k7_{j}": j for j in range(20)}


def test_journal_recovery_reads_lines_through_the_bounded_parser(tmp_path):
    """A receiver killed with a hostile body in its journal: the next start lands the
    good lines, quarantines the deep one with the reason, and does not crash."""
    code = f"""
import sys
from faceanalytics.storage.archive import RawArchive
from faceanalytics.pipeline._journal import recover_journals
from faceanalytics.pipeline.ingest import Ingestor
from faceanalytics.storage.tables import load
data = sys.argv[1]
j = RawArchive(__import__("pathlib").Path(data)).journal("receive-crashed")
j.append({env("megvii_lite", SID, seed("megvii_lite_success"))!r})
j.append({_deep(10_000)!r})
j.close()
with Ingestor(data) as ing:
    rep = recover_journals(ing)
print(rep.landed, rep.quarantined, load(data, "quarantine")["reason"].iloc[0])
"""
    r = subprocess.run([sys.executable, "-c", code, str(tmp_path / "data")], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    landed, quarantined, reason = r.stdout.split(" ", 2)
    assert (landed, quarantined) == ("1", "1") and "nested 10,001 levels deep" in reason


# --- lines dense with values: a record's values become Python objects and rows ---------

def _dense(sid: str, n: int) -> bytes:
    """A Lite envelope whose ``will_result`` lists ``n`` empty objects."""
    p = seed("megvii_lite_success")
    p["biz_info"]["biz_id"] = sid
    p["will_result"] = "@@"
    return env("megvii_lite", sid, p).replace(b'"@@"', b"[" + b",".join([b"{}"] * n) + b"]")


@both
def test_a_line_of_more_values_than_a_record_has_is_quarantined_and_archived_whole(tmp_path, fast):
    """One 15 MB line, a will_result of 5,000,000 ``{}``, landed 5,000,000 will_results rows at
    a 1.8 GB peak (benchmarks/probe_dense_values.py).  Past MAX_VALUES a line is quarantined
    unparsed with its value count; the raw archive keeps it whole; the rest lands."""
    from faceanalytics.storage.archive import read_segment

    big = _dense("1462259748,dense", _records.MAX_VALUES + 10)
    lines = [env("megvii_lite", SID, seed("megvii_lite_success")), big, _dense("1462259748,small", 5)]
    rep, d = land(tmp_path, lines, fast)
    assert (rep.read, rep.landed, rep.quarantined) == (3, 2, 1)
    q = load(d, "quarantine")
    assert q["reason"].iloc[0] == (f"line of {_records.dense_values(big):,} values is over the limit of "
                                   f"{_records.MAX_VALUES:,} (the raw archive keeps it whole)")
    w = load(d, "will_results")
    assert (w.session_id == "1462259748,small").sum() == 5 and "1462259748,dense" not in set(w.session_id)
    (seg,) = (d / "raw").glob("*/*.jsonl.zst")
    assert read_segment(seg).lines == lines
    assert _records.line_problem(big).startswith("line of ")  # a parser handed it directly refuses it too


@pytest.mark.parametrize("size", [0, 1, 7, 8, 9, 64, 1000])
def test_a_blocks_commas_are_counted_across_the_slices(size):
    """``_commas`` (NumPy, a slice at a time) counts what ``bytes.count`` counts, commas at the
    edges of the slices and a last slice shorter than the others included."""
    from faceanalytics.pipeline._chunks import _commas

    rng = random.Random(size)
    buf = bytes(rng.choice(b',,a"{') for _ in range(size))
    for step in (1, 3, 8, 1 << 18):
        assert _commas(buf, step) == buf.count(b",")


def test_a_block_dense_with_values_is_cut_at_line_ends(tmp_path):
    """64 MB of lines of 99,000 values each (200 records) was one block: 6.8 GB peak.  A
    block now ends past BLOCK_VALUES commas, at a line end; every line keeps its number."""
    import io

    from faceanalytics.pipeline import _chunks
    from faceanalytics.pipeline.ingest import ingest

    lines = [_dense(f"1462259748,d{i}", 40) for i in range(10)]
    lines[6] = b"not json"
    data = b"\n".join(lines) + b"\n"
    budget = 3 * lines[0].count(b",")
    got = list(_chunks._by_values(1, next(_chunks.iter_chunks(io.BytesIO(data), 100))[1], budget=budget))
    assert [first for first, _ in got] == [1, 4, 8]  # line 7 (no comma) joins lines 4-6
    assert [ln for _, b in got for ln in b.clean(1)[0]] == lines
    assert all(b.buf.count(b",") <= budget for _, b in got)
    f = tmp_path / "in.jsonl"
    f.write_bytes(data)
    old = _chunks._by_values.__defaults__
    try:
        _chunks._by_values.__defaults__ = (budget,)
        rep = ingest([f], tmp_path / "d")
    finally:
        _chunks._by_values.__defaults__ = old
    assert (rep.landed, rep.quarantined) == (9, 1)
    assert len(list((tmp_path / "d" / "raw").glob("*/*.jsonl.zst"))) == 3  # one segment per block


@both
def test_a_utf16_file_is_quarantined_whole_with_a_reason_that_says_so(tmp_path, fast):
    """A JSONL file saved as UTF-16 (Excel's "Unicode text", PowerShell's ``>``): cut at its
    newline bytes, every line but the first is the text shifted a byte, which ``json.loads``
    handed bytes sniffed as valid UTF-16-BE, so one record of five landed and the rest were
    "not valid JSON".  Now each says what the file is."""
    good = [env("megvii_lite", f"1462259748,u{i}", seed("megvii_lite_success")).decode() for i in range(5)]
    lines = ("\n".join(good) + "\n").encode("utf-16").split(b"\n")
    rep, d = land(tmp_path, [ln for ln in lines if len(ln) > 1], fast)
    assert (rep.landed, rep.quarantined) == (0, 5)
    assert set(load(d, "quarantine")["reason"]) == {
        "UTF-16 text, not UTF-8 (a NUL byte between its characters; save the file as UTF-8)"}
    # a lone surrogate escape in UTF-8 text is still read (the standard parser's fallback)
    ok = env("megvii_lite", "1462259748,s", seed("megvii_lite_success")).replace(b'"OK"', b'"OK\\ud800"', 1)
    assert land(tmp_path, [ok], fast, name="s")[0].landed == 1


def test_a_fetched_answer_dense_with_values_is_archived_as_text_and_quarantined(tmp_path):
    """The fetch's envelope checked an answer by parsing it whole (64 MiB of ``{},`` is some
    20 million Python objects a request in flight; ``benchmarks/probe_dense_values.py``: four
    20 MB answers 1.8 GB -> 0.46 GB).  Past MAX_VALUES the answer is kept as text under
    ``body``, unparsed, and the ingest quarantines it; an ordinary answer is embedded as it is."""
    body = b'{"request_id": "r", "will_result": [' + b"{}," * _records.MAX_VALUES + b"{}]}"
    line = _records.make_envelope("megvii_lite", "1462259748,dense", "2026-11-20T10:00:00Z", 200, body)
    doc = json.loads(line)
    assert doc["payload"] is None and doc["body"].encode() == body
    plain = json.dumps(seed("megvii_lite_success")).encode()
    ok = _records.make_envelope("megvii_lite", SID, "2026-11-20T10:00:00Z", 200, plain)
    assert json.loads(ok)["payload"] == json.loads(plain)
    rep, d = land(tmp_path, [line, ok], True)
    assert (rep.landed, rep.quarantined) == (1, 1)
    assert load(d, "quarantine")["session_id"].tolist() == ["1462259748,dense"]
