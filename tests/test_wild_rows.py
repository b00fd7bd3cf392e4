"""Rows of a shape the spec does not describe leave the columnar path alone: exactly
those rows go to the Python path, wherever they sit in a chunk, and the rest of the
chunk is still read with typed leaves."""
import copy
import json
import sys
from pathlib import Path

from faceanalytics.flatten import flatten_fast, parse_chunk
from faceanalytics.pipeline.pii import Masker

sys.path.insert(0, str(Path(__file__).parent))
from test_fast_path import SEEDS, _assert_same_tables, _both  # noqa: E402

_PAD = "x" * 6000  # lines of ~8 KB: 600 of them span more than one 4 MB block of Arrow's reader


def _lines(n: int, odd: dict) -> list[bytes]:
    """``n`` Lite envelopes of the documents' example; ``odd[i]`` reshapes line ``i``."""
    seed = json.loads((SEEDS / "megvii_lite_success.json").read_text())
    out = []
    for i in range(n):
        p = copy.deepcopy(seed)
        sid = f"1462259748,{i:08d}"
        p["biz_info"].update(biz_id=sid, biz_extra_data=f"{_PAD}{i}")
        if i in odd:
            odd[i](p)
        out.append(json.dumps({"source": "megvii_lite", "session_id": sid, "http_status": 200,
                               "fetched_at": "2026-11-02T10:00:00Z", "payload": p},
                              ensure_ascii=False).encode())
    return out


def _ocr(p):
    return p["idcard_info"]["front_side"]["ocr_result"]


def _slow(lines) -> list[int]:
    return flatten_fast(lines, None, 0, Masker(b"k" * 32)).slow


_RESHAPE = {
    # an object sent as JSON text, in the first block
    300: lambda p: p.update(biz_info=json.dumps(p["biz_info"], ensure_ascii=False)),
    # an object where text is documented, past the first block; ``gender`` is also the
    # name of an OCR quality block, which opens with ``result``: no screen sees this one
    900: lambda p: _ocr(p).update(gender={"result": "男"}),
    # an object where text is documented, past the first block
    950: lambda p: p["liveness_result"].update(result={"value": "PASS"}),
}


def test_rows_of_another_shape_go_to_python_exactly_past_the_first_block(tmp_path):
    lines = _lines(1000, dict(_RESHAPE))
    assert sum(map(len, lines[301:900])) > 4 << 20
    assert _slow(lines) == [300, 900, 950]
    res = _both(tmp_path, lines)
    assert res[True][1].landed == res[False][1].landed == 1000
    _assert_same_tables([res[True][0], res[False][0]])


def test_a_row_of_another_shape_leaves_the_rest_of_its_chunk_typed():
    lines = _lines(200, {50: _RESHAPE[950]})
    parsed = parse_chunk(lines)
    assert [(len(g.index), g.quoted) for _, g in parsed.groups] == [(199, False)]


def test_a_number_where_text_is_documented_beside_a_row_of_another_shape(tmp_path):
    """Text and numbers mixed in a column still quote the chunk: only the row of another
    shape leaves, the row with the number is read."""
    odd = {20: _RESHAPE[950], 120: lambda p: p["biz_info"].update(biz_no=12345),
           150: _RESHAPE[900]}
    lines = _lines(200, odd)
    assert _slow(lines) == [20, 150]
    assert [g.quoted for _, g in parse_chunk(lines).groups] == [True]
    res = _both(tmp_path, lines)
    assert res[True][1].landed == res[False][1].landed == 200
    _assert_same_tables([res[True][0], res[False][0]])


def test_scores_read_in_range_or_noted_and_new_attack_kinds_kept():
    """The Python path's reading of scores (a plain number in range taken as it is, any
    other noted), attack kinds the documents do not list, and unknown keys."""
    import pytest

    from faceanalytics.flatten import Context, Unreadable, flatten_payload

    p = json.loads((SEEDS / "megvii_lite_success.json").read_text())
    fg = p["liveness_result"]["face_genuineness"]
    fg.update(mask_confidence=1, mask_threshold=0, deepfake_confidence=0.7,
              deepfake_threshold="0.5", note="x")
    cmp_ = p["verify_result"]["result_faceid"]
    cmp_.update(confidence=100, thresholds={"1e-3": 0, "1e-4": 100.5, "1e-5": "70", "1e-6": float("nan"),
                                            "1e-9": 99})
    ctx = Context("megvii_lite", "1462259748,x", Masker(b"k" * 32))
    flat = flatten_payload("megvii_lite", p, ctx)
    g = {r["attack"]: r for r in flat.rows["genuineness"] if r["attack"] in ("mask", "deepfake")}
    assert (g["mask"]["confidence"], g["mask"]["threshold"], g["mask"]["flagged"]) == (1.0, 0.0, True)
    assert (g["deepfake"]["confidence"], g["deepfake"]["threshold"], g["deepfake"]["flagged"]) == (0.7, 0.5, True)
    assert flat.extra["liveness_result.face_genuineness.note"] == "x"
    row = next(r for r in flat.rows["comparisons"] if r["comparison"] == "faceid")
    assert (row["confidence"], row["thr_1e3"], row["thr_1e4"], row["thr_1e5"], row["thr_1e6"]) == \
        (100.0, 0.0, None, 70.0, None)
    assert flat.extra["_invalid.verify_result.result_faceid.thresholds.1e-4"]["reason"] == "outside 0-100"
    assert flat.extra["_invalid.verify_result.result_faceid.thresholds.1e-6"]["reason"] == "not finite"
    assert flat.extra["verify_result.result_faceid.thresholds.1e-9"] == 99
    fg["mask_threshold"] = True  # a boolean is no score: the record cannot be read
    with pytest.raises(Unreadable, match="mask_threshold is not a number"):
        flatten_payload("megvii_lite", p, ctx)
