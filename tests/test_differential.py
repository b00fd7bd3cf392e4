"""The columnar fast path lands exactly what the Python flatteners land, for every source.

Input: records generated from the field spec (``benchmarks/gen_records.py``: every
documented field at realistic rates, error bodies, numbers as text, ties, threshold
levels spelled three ways, wild shapes), and hypothesis mutations of them.  Both
paths ingest the same lines; every table must come out the same, and the fast path
must take every record whose shape the spec describes.
"""
from __future__ import annotations

import hashlib
import json
import math
import re
import sys
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from faceanalytics.pipeline.pii import Masker
from faceanalytics.flatten import fields
from faceanalytics.flatten import flatten_fast
from faceanalytics.flatten._fast import _texty_pattern
from faceanalytics.pipeline.ingest import Ingestor
from faceanalytics.schema import SOURCES
from faceanalytics.storage.tables import load

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
import gen_records  # noqa: E402
from test_fast_path import _assert_same_tables, _both, _same_on_both  # noqa: E402
from test_property import _OPS, mutate  # noqa: E402


@pytest.fixture(autouse=True)
def _secret(monkeypatch):
    monkeypatch.setenv("MEGVII_API_SECRET", gen_records.SECRET)  # signs the callbacks


def _fast_took(lines) -> list[int]:
    """The lines the fast path takes (the rest go to the Python path)."""
    return flatten_fast(lines, None, 0, Masker(b"k" * 32), secret=gen_records.SECRET).lines


@pytest.mark.parametrize("source", SOURCES)
def test_generated_records_land_the_same_on_both_paths(tmp_path, source):
    lines = gen_records.lines(source, 600, seed=1)
    res = _both(tmp_path, lines)
    (fd, frep), (sd, srep) = res[True], res[False]
    assert (frep.read, frep.landed, frep.quarantined) == (srep.read, srep.landed, srep.quarantined)
    _assert_same_tables([fd, sd])
    # every record's shape is documented: the fast path takes them all
    assert len(_fast_took(lines)) == len(lines)


@pytest.mark.parametrize("source", SOURCES)
def test_wild_shapes_go_to_python_row_by_row_and_land_the_same(tmp_path, source):
    lines = gen_records.lines(source, 400, seed=2, wild=0.5)
    res = _both(tmp_path, lines)
    assert res[True][1].landed == res[False][1].landed
    _assert_same_tables([res[True][0], res[False][0]])
    took = len(_fast_took(lines))
    # about the half without a wild shape; records whose only wild shape is a key the
    # spec lacks (Baidu: three kinds in five, Megvii: two) stay columnar too, with their ``extra``
    assert 0.35 * len(lines) < took < 0.95 * len(lines), took


# Fields of the Lite document that the web liveness v2 document (and its callbacks) lacks.
_NOT_V2 = ("idcard_info", "will_result", "will_file", "status", "fail_reason", "multifaces_",
           "verify_time", "liveness_result.details", "liveness_result.procedure_type",
           "verify_result.result_*.thresholds.1e-6")  # v2 thresholds have three levels


def _documented(source: str, payload: dict):
    """(leaf path with [] for list items, value) of every non-null leaf."""
    if source == "megvii_notify":
        payload = json.loads(payload["data"])
    yield from fields.leaf_paths(payload)


@pytest.mark.parametrize("source", SOURCES)
def test_every_spec_field_is_generated_and_lands_through_the_fast_path(tmp_path, source):
    """A field the spec documents is read by the fast path (it takes the record) into
    its column; a spec field no path reads fails here or in the equality above."""
    recs = list(gen_records.records(source, 1500, seed=3))
    lines = [json.dumps(r, ensure_ascii=False).encode() for r in recs]
    seen: dict[str, set] = {}
    for r in recs:
        for path, value in _documented(source, r["payload"]):
            if value is not None and value != "":
                f = fields.find(source, path)
                if f is not None:
                    seen.setdefault(f, set()).add(path)
    spec = {(f.table, f.column, f.how) for f in fields.fields_of(source)
            if f.path not in ("data", "sign") and not (source in ("megvii_liveness", "megvii_notify")
                                                           and f.path.startswith(_NOT_V2))}
    # error fields (API error bodies) are drawn apart from the leaves
    missing = {t for t in spec if t not in seen and t[1] not in ("error", "error_message")}
    assert not missing, f"spec fields the generator never produced: {sorted(missing)}"
    with Ingestor(tmp_path / "d", megvii_api_secret=gen_records.SECRET) as ing:
        rep = ing.ingest_lines(lines, origin="t")
    assert len(_fast_took(lines)) == len(lines)
    for (table, column, how), paths in seen.items():
        if how in ("key", "derived") or table == "media" or column.startswith("id_number"):
            continue
        t = load(tmp_path / "d", table)
        assert len(t) and t[column].notna().any(), (table, column, sorted(paths)[:3], rep)


def test_ties_are_not_flagged_and_threshold_keys_are_read_in_every_spelling(tmp_path):
    p = json.loads((Path(__file__).parent / "data" / "seeds" / "megvii_lite_success.json").read_text())
    fg = p["liveness_result"]["face_genuineness"]
    fg["mask_confidence"] = fg["mask_threshold"] = 0.5          # a tie: not flagged
    fg["synthetic_face_confidence"] = 0.5000001                 # just over: flagged
    lines = []
    for i, keys in enumerate([("1e-3", "1e-4", "1e-5", "1e-6"), ("0.001", "0.0001", "0.00001", "0.000001"),
                              ("1e-03", "1e-04", "1e-05", "1e-06")]):
        q = json.loads(json.dumps(p))
        q["verify_result"]["result_faceid"]["thresholds"] = dict(zip(keys, (61, 71, 81, 91)))
        lines.append(json.dumps({"source": "megvii_lite", "session_id": f"1462259748,t{i}",
                                 "fetched_at": "2026-11-01T00:00:00Z", "http_status": 200,
                                 "payload": q}).encode())
    res = _both(tmp_path, lines)
    _assert_same_tables([res[True][0], res[False][0]])
    assert len(_fast_took(lines)) == 3
    g = load(res[True][0], "genuineness")
    assert not g[g.attack == "mask"]["flagged"].any()
    assert g[g.attack == "synthetic_face"]["flagged"].all()
    c = load(res[True][0], "comparisons")
    c = c[c.comparison == "faceid"]
    assert c[["thr_1e3", "thr_1e4", "thr_1e5", "thr_1e6"]].drop_duplicates().values.tolist() == [[61, 71, 81, 91]]


_LEVEL_VALUES = {"thr_1e3": 61.0, "thr_1e4": 71.0, "thr_1e5": 81.0, "thr_1e6": 91.0}


@pytest.mark.parametrize("keys", [
    ("1E-3", "1E-4", "1E-5", "1E-6"),                       # read as numbers, not as spellings
    ("0.0010", "0.00010", "0.000010", "0.0000010"),
    ("1.0e-03", "1.0e-04", "1.0e-05", "1.0e-06"),
    (" 1e-3", "1e-4 ", "10e-6", "1e-06"),                   # 10e-6 is 1e-5
    (1e-3, 1e-4, 1e-5, 1e-6),                               # a payload built in Python: float keys
    ("1e-6", "1e-5", "1e-4", "1e-3"),                       # the document's keys, listed backwards
])
def test_numeric_threshold_keys_land_in_their_own_level(tmp_path, keys):
    """A threshold key that is a number in any spelling goes to the level it equals
    (issue 14: a planted swap of two levels for numeric keys passed every test)."""
    from faceanalytics.flatten import Context, flatten_payload

    p = json.loads((Path(__file__).parent / "data" / "seeds" / "megvii_lite_success.json").read_text())
    exponent = {-3: 61.0, -4: 71.0, -5: 81.0, -6: 91.0}  # the threshold each level's key carries
    by_level = {k: exponent[round(math.log10(float(k)))] for k in keys}
    p["verify_result"]["result_faceid"]["thresholds"] = by_level
    ctx = Context("megvii_lite", "1462259748,k", Masker(b"k" * 32))
    row = next(r for r in flatten_payload("megvii_lite", p, ctx).rows["comparisons"]
               if r["comparison"] == "faceid")
    assert {c: row[c] for c in _LEVEL_VALUES} == _LEVEL_VALUES
    if all(isinstance(k, str) for k in keys):  # as received, through both ingest paths
        line = json.dumps({"source": "megvii_lite", "session_id": "1462259748,k", "http_status": 200,
                           "fetched_at": "2026-11-01T00:00:00Z", "payload": p}).encode()
        res = _both(tmp_path, [line])
        _assert_same_tables([res[True][0], res[False][0]])
        c = load(res[True][0], "comparisons")
        assert c[c.comparison == "faceid"][list(_LEVEL_VALUES)].values.tolist() == [list(_LEVEL_VALUES.values())]


# --- hypothesis mutations of generated records, for every source ------------------------------

_POOL = {src: list(gen_records.records(src, 40, seed=4)) for src in SOURCES}


@st.composite
def _mutated(draw, source, ops=_OPS + ("number", "add"), steps=(0, 4)):
    rec = json.loads(json.dumps(draw(st.sampled_from(_POOL[source]))))
    obj = rec["payload"]
    if source == "megvii_notify":
        obj = json.loads(obj["data"])
    mutate(draw, obj, ops=ops, steps=steps)
    if source == "megvii_notify":
        import hashlib
        data = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
        rec["payload"] = {"data": data, "sign": hashlib.sha1((gen_records.SECRET + data).encode()).hexdigest()}
    return rec


def _collect(source, examples, **kw) -> list[bytes]:
    lines = []

    @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(_mutated(source, **kw))
    def collect(rec):
        rec["session_id"] = f"{rec['session_id']}-{len(lines)}"
        lines.append(json.dumps(rec, ensure_ascii=False).encode())

    collect()
    return lines


@pytest.mark.parametrize("source", SOURCES)
def test_keys_moved_a_level_up_land_the_same(tmp_path, source):
    """A key copied or moved to its parent's level (the documents place ``biz_id`` both in
    ``biz_info`` and at the top): both paths read the same place.  Found biz fields absent
    from ``biz_info`` landing null on the columnar path."""
    res = _both(tmp_path, _collect(source, 120, ops=("hoist",), steps=(1, 3)))
    assert res[True][1].landed == res[False][1].landed
    _assert_same_tables([res[True][0], res[False][0]])


# Where a name the spec knows is written as null where the spec does not put it:
# (object path, name).  The first place a record has is used.
_ASTRAY = {
    "megvii_lite": [(("liveness_result",), "biz_no"), (("verify_result",), "failure_reason"),
                    ((), "will_error_message"), (("biz_info",), "error_message")],
    "megvii_notify": [(("liveness_result",), "error"), ((), "failure_reason")],
    "baidu_detail": [(("result", "verify_result"), "log_id"), (("result",), "score"), ((), "spoofing")],
    "baidu_getall": [(("result", "verify_result", 0, "verify_detail"), "order"),
                     (("result", "verify_result", 0), "score"), (("result",), "order")],
}


def _dotted(where: tuple, item) -> str:
    """``where`` as a dotted path, a list index written by ``item``."""
    parts: list[str] = []
    for k in where:
        if isinstance(k, int):
            parts[-1] += item(k)
        else:
            parts.append(k)
    return ".".join(parts)


def _place_astray(source: str, payload: dict):
    """Write a spec-known name as null in the first place of ``_ASTRAY`` the payload has;
    -> the dotted path the Python path notes it under, or None."""
    from faceanalytics.flatten._fast import _names

    spec = "megvii_liveness" if source == "megvii_notify" else source
    for where, name in _ASTRAY[source]:
        node = payload
        for k in where:
            has = k in node if isinstance(node, dict) else isinstance(node, list) and len(node) > k
            node = node[k] if has else None
        if not isinstance(node, dict) or name in node:
            continue
        assert name.encode() in _names(spec)  # a name the spec knows ...
        assert name not in fields.known_keys(spec, _dotted(where, lambda k: "[]"))  # ... not there
        node[name] = None
        return ".".join(filter(None, (_dotted(where, lambda k: f"[{k + 1}]"), name)))
    return None


@pytest.mark.parametrize("source", sorted(_ASTRAY))
def test_a_known_name_written_as_null_where_the_spec_does_not_put_it_lands_the_same(tmp_path, source):
    """A name the spec knows, written as null in a place the spec does not give it
    (``liveness_result.biz_no``, ``result.verify_result.log_id``): the Python path notes it
    in ``extra``; the columnar path gave Arrow no value to count there, and took the name
    alone for known.  Now such a record is found by its key's place: both paths land the
    same tables, the note in ``extra`` included.  The record stays columnar (its ``extra``
    is noted as for any key the spec lacks)."""
    recs = list(gen_records.records(source, 90, seed=12))
    astray = {}
    for i, rec in enumerate(recs):
        if i % 3:
            continue
        p = rec["payload"]
        obj = json.loads(p["data"]) if source == "megvii_notify" else p
        path = _place_astray(source, obj)
        if path is None:
            continue
        if source == "megvii_notify":
            p["data"] = json.dumps(obj, ensure_ascii=False)
            p["sign"] = hashlib.sha1((gen_records.SECRET + p["data"]).encode()).hexdigest()
        astray[rec["session_id"]] = path
    assert len(astray) > 15
    lines = [json.dumps(r, ensure_ascii=False).encode() for r in recs]
    res = _both(tmp_path, lines)
    assert res[True][1].landed == res[False][1].landed == len(lines)
    _assert_same_tables([res[True][0], res[False][0]])
    extra = load(res[True][0], "sessions").set_index("session_id")["extra"]
    noted = [sid for sid, path in astray.items()
             if isinstance(extra[sid], str) and path in json.loads(extra[sid])]
    assert len(noted) > 0.6 * len(astray), (len(noted), len(astray))
    took = {recs[i]["session_id"] for i in _fast_took(lines)}
    # (a record that also sends numbers as text has them written bare for Arrow's typed read:
    # its unknown keys are then noted by the Python path, from the line as it came; a
    # callback's, in its data text, since they are written bare where its text is read)
    texty = re.compile(_texty_pattern("megvii_liveness" if source == "megvii_notify" else source).encode())
    plain = {r["session_id"] for r, line in zip(recs, lines)
             if r["session_id"] not in astray or not texty.search(line)}
    assert plain <= took and len(took) > 0.9 * len(recs)


@pytest.mark.parametrize("source", SOURCES)
def test_mutations_of_generated_records_land_the_same(tmp_path, source):
    lines = _collect(source, 150)
    _same_on_both(tmp_path, lines)


def test_ingest_reports_how_many_records_took_the_python_path(tmp_path, capsys):
    from faceanalytics.cli import main

    recs = list(gen_records.records("baidu_getall", 30, seed=6))
    odd = [r for r in recs if isinstance(r["payload"].get("result"), dict)][:4]
    for r in odd:  # an object sent as JSON text (a key the spec lacks stays columnar)
        r["payload"]["result"] = json.dumps(r["payload"]["result"], ensure_ascii=False)
    assert len(odd) == 4
    f = tmp_path / "in.jsonl"
    f.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in recs) + "\n")
    assert main(["ingest", str(f), "--data", str(tmp_path / "d")]) == 0
    out = capsys.readouterr().out
    assert "read 30  landed 30" in out and "python path 4:" in out, out


@pytest.mark.parametrize("source", ["megvii_lite", "megvii_notify", "baidu_detail"])
def test_records_sending_numbers_as_text_are_parsed_apart(tmp_path, source):
    """Only the rows that send documented numbers as text are read quoted (Megvii's, only
    when the text is no JSON number: ``tests/test_numbers_as_text.py``); the rest are read
    typed, and both land as the Python path lands them."""
    from faceanalytics.flatten._fast import parse_chunk

    recs = list(gen_records.records(source, 300, seed=5))
    for r in recs[::10]:  # every tenth record through a logger that stringifies numbers
        p = r["payload"]
        if source == "megvii_notify":
            data = json.dumps(gen_records._stringify(json.loads(p["data"])), ensure_ascii=False)
            p["data"], p["sign"] = data, hashlib.sha1((gen_records.SECRET + data).encode()).hexdigest()
        else:
            r["payload"] = gen_records._stringify(p)
    lines = [json.dumps(r, ensure_ascii=False).encode() for r in recs]
    groups = parse_chunk(lines).groups
    if source != "baidu_detail":  # its numbers as text are JSON numbers: written bare, read typed
        (_, g), = groups
        assert not g.quoted and len(g.index) == 300
        if source == "megvii_notify":  # (a callback's, in its data text: where the texts are read)
            from faceanalytics.flatten._fast_megvii import read_texts

            texts, rows = read_texts(g)
            assert not texts.quoted and len(texts.index) == 300
            assert set(range(0, 300, 10)) <= set(rows[texts.index[texts.rewritten]].tolist())
    else:
        assert len(groups) == 2
        typed, quoted = (g for _, g in groups)
        assert not typed.quoted and quoted.quoted
        assert set(range(0, 300, 10)) <= set(quoted.index.tolist())  # stringified ones (at least) quoted
        assert len(typed.index) > 0.8 * 300
    res = _both(tmp_path, lines)
    assert res[True][1].landed == res[False][1].landed == 300
    _assert_same_tables([res[True][0], res[False][0]])


def test_a_key_written_as_null_in_biz_info_is_told_from_an_absent_one(tmp_path):
    """``biz_info`` wins where it has the key: written as null there, the top level's value is
    not taken; absent there, it is.  Arrow reads both as null; the lines' bytes tell them apart
    (looked for once in the chunk's buffer), and only the rows writing null go to Python."""
    recs = list(gen_records.records("megvii_lite", 120, seed=4))
    nulls, both = [], 0
    for i, rec in enumerate(recs):
        p = rec["payload"]
        if p.get("error_message") is not None or "biz_info" not in p:
            continue
        both += 1
        p["biz_info"].pop("biz_no", None)
        p["biz_no"] = f"top-{i}"
        if i % 3 == 0:
            p["biz_info"]["biz_no"] = None
            nulls.append(i)
    assert both > 32 and nulls  # more than _NULLS_AT_ONCE: the whole-buffer search
    lines = [json.dumps(r, ensure_ascii=False).encode() for r in recs]
    res = _both(tmp_path, lines)
    _assert_same_tables([res[True][0], res[False][0]])
    assert not set(nulls) & set(_fast_took(lines))
    sessions = load(res[True][0], "sessions")
    biz_no = sessions.set_index("session_id")["biz_no"]
    assert biz_no[[recs[i]["session_id"] for i in nulls]].isna().all()
    absent = [r for r in recs if "biz_no" not in r["payload"].get("biz_info", {"biz_no": 0})]
    assert absent and [biz_no[r["session_id"]] for r in absent] == [r["payload"]["biz_no"] for r in absent]


def test_a_baidu_score_that_reads_as_no_number_still_makes_its_row(tmp_path):
    """``"score": "null"`` (or ``""``) is a key with a value: the Python path makes the
    comparison (and the spoofing check) with no confidence, and so does the columnar path
    (it went by the number read, and made none: found by the mutation hunt)."""
    recs, changed = [], []
    for source, n in (("baidu_detail", 60), ("baidu_getall", 60)):
        for i, rec in enumerate(gen_records.records(source, n, seed=5)):
            res = rec["payload"].get("result")
            odd = ["null", "", "n/a"][i % 3]
            if source == "baidu_detail" and isinstance(res, dict) and isinstance(res.get("verify_result"), dict):
                res["verify_result"]["score"] = odd
                res["verify_result"]["spoofing"] = odd
                changed.append(rec["session_id"])
            elif source == "baidu_getall" and isinstance(res, dict) and res.get("verify_result"):
                vd = res["verify_result"][0].get("verify_detail")
                if isinstance(vd, dict):
                    vd["score"], vd["spoofing_score"] = odd, odd
                    changed.append(rec["session_id"])
            recs.append(rec)
    lines = [json.dumps(r, ensure_ascii=False).encode() for r in recs]
    res = _both(tmp_path, lines)
    _assert_same_tables([res[True][0], res[False][0]])
    cmp = load(res[True][0], "comparisons")
    gen = load(res[True][0], "genuineness")
    assert len(changed) > 20  # (records that are errors make no rows on either path)
    for t in (cmp, gen):
        assert t[t["session_id"].isin(changed)]["confidence"].isna().sum() > 10


@pytest.mark.parametrize("odd", ["null", "", " null "])
def test_an_anti_spoofing_confidence_sent_as_null_text_is_not_returned(tmp_path, odd):
    """``"mask_confidence": "null"`` with no threshold is not returned (as liveness details
    read null, "" and "null"): no check row on either path.  The Python path made a row of
    nulls where the columnar path made none."""
    recs = []
    for r in gen_records.records("megvii_lite", 60, seed=9):
        for block in ("liveness_result", "verify_result"):
            fg = (r["payload"].get(block) or {}).get("face_genuineness")
            if isinstance(fg, dict):
                fg["mask_confidence"] = odd
                fg.pop("mask_threshold", None)
        recs.append(r)
    lines = [json.dumps(r, ensure_ascii=False).encode() for r in recs]
    res = _both(tmp_path, lines)
    _assert_same_tables([res[True][0], res[False][0]])
    gen = load(res[False][0], "genuineness")
    assert len(gen) and not (gen["attack"] == "mask").any()


def test_an_ocr_quality_field_written_as_null_is_not_returned(tmp_path):
    """``ocr_front_quality.gender: null``: no quality row and nothing noted, on both paths
    (the Python path noted it as unreadable; found by the mutation hunt)."""
    recs, nulled = [], 0
    for r in gen_records.records("megvii_lite", 60, seed=6):
        q = (r["payload"].get("idcard_info") or {}).get("ocr_front_quality")
        if isinstance(q, dict) and q:
            q[next(iter(q))] = None
            nulled += 1
        recs.append(r)
    lines = [json.dumps(r, ensure_ascii=False).encode() for r in recs]
    res = _both(tmp_path, lines)
    _assert_same_tables([res[True][0], res[False][0]])
    assert nulled and load(res[False][0], "sessions")["extra"].isna().all()


def test_callback_texts_parsed_ahead_keep_only_the_signed_ones(tmp_path):
    """The reader thread parses every callback's text before the signs are checked
    (``read_texts``): an unsigned text, parsed ahead or (nested too deep for the columnar
    path) left to Python, lands nowhere, and the signed ones land as the Python path lands them."""
    import hashlib

    from faceanalytics.flatten import _fast_megvii
    from faceanalytics.flatten._fast import parse_chunk

    for forged in ('{"request_id":"forged","time_used":1}', '{"a":' + "[" * 2500 + "1" + "]" * 2500 + "}"):
        recs = list(gen_records.records("megvii_notify", 8, seed=3))
        for i, rec in enumerate(recs):
            p = rec["payload"]
            if i == 5:
                p["data"] = forged
            p["sign"] = hashlib.sha1((gen_records.SECRET + p["data"]).encode()).hexdigest()
        recs[5]["payload"]["sign"] = "0" * 40
        lines = [json.dumps(r, ensure_ascii=False).encode() for r in recs]
        (_, g), = parse_chunk(lines).groups
        sub, rows = _fast_megvii.read_texts(g)
        assert (5 in g.index[rows[sub.index]]) == (len(forged) < 100)
        (tmp_path / str(len(forged))).mkdir()
        res = _both(tmp_path / str(len(forged)), lines)
        assert res[True][1].landed == res[False][1].landed == 7
        assert res[True][1].quarantined == res[False][1].quarantined == 1
        _assert_same_tables([res[True][0], res[False][0]])
        assert _fast_took(lines) == [0, 1, 2, 3, 4, 6, 7]


def test_callbacks_with_odd_signs_and_texts_land_the_same(tmp_path):
    """The signs are checked column-wise: a sign in capitals or padded, a wrong sign, a
    data text with a line break or that is not an object, all as the Python path says."""
    import hashlib

    recs = list(gen_records.records("megvii_notify", 12, seed=8))
    for i, rec in enumerate(recs):
        p = rec["payload"]
        data = p["data"]
        if i == 1:
            data = data.replace('{"', '{\n"', 1)  # a line break in the signed text
        if i == 2:
            data = " " + data
        sign = hashlib.sha1((gen_records.SECRET + data).encode()).hexdigest()
        p["data"], p["sign"] = data, [sign, sign, sign, f" {sign.upper()} ", "0" * 40, sign][i % 6]
    lines = [json.dumps(r, ensure_ascii=False).encode() for r in recs]
    _same_on_both(tmp_path, lines)
    took = set(_fast_took(lines))
    assert {0, 3, 5, 6} <= took and not {1, 2, 4, 10} & took



_TWICE = [  # a threshold set written with one level spelled twice (the spec accepts each spelling)
    ({"1e-3": 61, "0.001": None, "1e-4": 71, "1e-5": 81}, {"thr_1e3": 61, "thr_1e4": 71}),  # later null
    ({"0.001": None, "1e-3": 61, "1e-4": 71, "1e-5": 81}, {"thr_1e3": 61, "thr_1e4": 71}),  # earlier null
    ({"1e-3": 61, "1e-04": 71, "0.0001": None, "1e-5": 81}, {"thr_1e3": 61, "thr_1e4": 71}),
    ({"1e-3": 61, "1e-4": None, "1e-5": 81}, {"thr_1e3": 61, "thr_1e4": None}),  # one spelling, null
]
_LEGALITY_TWICE = [
    ({"ID Photo": 0.9, "Temporary ID Photo": 0.2, "Temporary ID Photo ": None, "Screen": 0.1}, 0.2),
    ({"Temporary ID Photo ": None, "Temporary ID Photo": 0.2, "Edited": 0.3}, 0.2),
]


@pytest.mark.parametrize("source", ["megvii_lite", "megvii_liveness", "megvii_notify"])
def test_a_level_or_legality_key_spelled_twice_one_null_lands_the_same(tmp_path, source):
    """A threshold level or legality key spelled twice in one block, one of them null: the
    Python path took the later one (a null too), the columnar path the other (Arrow reads a
    null as no value).  A null is no value on both paths now: the level keeps the other
    spelling's value, whatever the order, and the records stay columnar.  A key name written
    with an escape (``"0.00\\u0031"``) reads the same."""
    recs = list(gen_records.records(source, 160, seed=13))
    want_thr, want_leg = {}, {}
    for i, rec in enumerate(recs):
        p = rec["payload"]
        obj = json.loads(p["data"]) if source == "megvii_notify" else p
        vr = obj.get("verify_result")
        blocks = [(k, b) for k, b in vr.items() if k.startswith("result_") and isinstance(b, dict)] \
            if isinstance(vr, dict) and i % 2 == 0 else []
        for j, (k, b) in enumerate(blocks):
            b["thresholds"], want = _TWICE[(i // 2 + j) % len(_TWICE)]
            want_thr[(rec["session_id"], k[len("result_"):])] = want
        idc = obj.get("idcard_info")
        for side in ("front", "back") if isinstance(idc, dict) else ():
            block = idc.get(f"{side}_side")
            ocr = block.get("ocr_result") if isinstance(block, dict) else None
            if isinstance(ocr, dict) and isinstance(ocr.get("legality"), dict):
                ocr["legality"], want_leg[(rec["session_id"], side)] = _LEGALITY_TWICE[i % 2]
        if source == "megvii_notify":
            p["data"] = json.dumps(obj, ensure_ascii=False)
            p["sign"] = hashlib.sha1((gen_records.SECRET + p["data"]).encode()).hexdigest()
    lines = [json.dumps(r, ensure_ascii=False).encode() for r in recs]
    if source != "megvii_notify":  # a few key names with an escape in them, as JSON allows
        lines = [ln.replace(b'"0.001": null', b'"0.00\\u0031": null') if k % 4 == 0 else ln
                 for k, ln in enumerate(lines)]
    assert len(want_thr) > 40 and (source != "megvii_lite" or len(want_leg) > 5)
    res = _same_on_both(tmp_path, lines)
    assert res[True][1].landed == len(lines)
    c = load(res[True][0], "comparisons").set_index(["session_id", "comparison"])
    for key, want in want_thr.items():
        for col, value in want.items():
            got = c.loc[key, col]
            assert (value is None and pd.isna(got)) or got == value, (key, col, got)
    if want_leg:
        o = load(res[True][0], "idcard_ocr").set_index(["session_id", "side"])
        assert [o.loc[k, "legality_temporary_id_photo"] for k in want_leg] == list(want_leg.values())
    assert len(_fast_took(lines)) == len(lines)  # a null spelling is no reason to leave the columnar path
