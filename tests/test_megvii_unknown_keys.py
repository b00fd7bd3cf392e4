"""A Megvii record (Lite, liveness, callback) whose only oddity is keys the spec lacks stays
on the columnar path: its documented keys are read column-wise, the others land in
``sessions.extra`` as ``megvii.flatten_megvii`` puts them there (names, paths, values, and
the personal data in them masked alike).  Where an unknown key means more than a note (an
image, a liveness detail, a comparison, an attack, a threshold level or legality key spelled
another way, a key beside a callback's data), or the keys ignored do not account for all of
the line's, the record is the Python path's, and only it."""
import copy
import hashlib
import json
import random
import sys
from pathlib import Path

import pandas as pd
import pytest

from faceanalytics.flatten import flatten_fast
from faceanalytics.pipeline.pii import Masker
from faceanalytics.storage.tables import load

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
import gen_records  # noqa: E402
from test_baidu_unknown_keys import _objects  # noqa: E402
from test_fast_path import _landed_alike, _same_on_both  # noqa: E402

_PERSON = {"real_name": "张三丰", "id_no": "110101199003071234", "k": [{"home_address": "北京市东城区景山前街4号"}]}
_PLAIN = ("张三丰", "110101199003071234", "景山前街")


@pytest.fixture(autouse=True)
def _secret(monkeypatch):
    monkeypatch.setenv("MEGVII_API_SECRET", gen_records.SECRET)  # signs the callbacks


def _has(p, path) -> bool:
    for k in path:
        if not isinstance(p, dict) or k not in p:
            return False
        p = p[k]
    return True


_NEEDS = {
    "megvii_lite": [("biz_info",), ("liveness_result", "face_genuineness"), ("verify_result", "result_faceid", "thresholds"),
                    ("idcard_info", "front_side", "ocr_result", "legality"), ("will_result",)],
    "megvii_liveness": [("biz_id",), ("liveness_result", "face_genuineness"), ("verify_result", "face_genuineness"),
                        ("verify_result", "result_faceid", "thresholds"), ("verify_result", "id_exceptions")],
}


def _base(source):
    """A generated payload (a callback's: its data) with every block the cases reshape."""
    spec = "megvii_liveness" if source == "megvii_notify" else source
    for rec in gen_records.records(spec, 400, seed=5):
        p = rec["payload"]
        if all(_has(p, path) for path in _NEEDS[spec]) and not p.get("error_message"):
            p = copy.deepcopy(p)
            p["images"] = {"image_best": "https://example.invalid/best.jpg"}
            return p
    raise AssertionError(f"no {spec} record with every block")


def _set(path, value):
    def f(p):
        *head, last = path
        node = p
        for k in head:
            node = node[k]
        node[last] = copy.deepcopy(value)
    return f


def _error(p):
    p.clear()
    p.update(error_message="BAD_ARGUMENTS: biz_id", request_id="r-1", time_used=3, x_top={"a": 1})


_VR, _LR = ("verify_result",), ("liveness_result",)
_COMMON = [
    (None, True, None),
    (_set(("x_new",), 1), True, {"x_new": 1}),
    (_set(("x_block",), {"a": 1, "b": [{"c": None}, "two"]}), True, {"x_block": {"a": 1, "b": [{"c": None}, "two"]}}),
    (_set(_VR + ("x_v",), "abc"), True, {"verify_result.x_v": "abc"}),
    (_set(_VR + ("x_vb",), {"k": {"kk": 2.5}}), True, {"verify_result.x_vb": {"k": {"kk": 2.5}}}),
    (_set(_LR + ("x_l",), True), True, {"liveness_result.x_l": True}),
    (_set(_LR + ("face_genuineness", "x_note"), "n"), True, {"liveness_result.face_genuineness.x_note": "n"}),
    (_set(_VR + ("result_faceid", "x_c"), 7), True, {"verify_result.result_faceid.x_c": 7}),
    (_set(_VR + ("result_faceid", "thresholds", "x_lvl"), 0.5), True,
     {"verify_result.result_faceid.thresholds.x_lvl": 0.5}),
    (_set(_VR + ("x_null",), None), True, {"verify_result.x_null": None}),
    (_set(("x_person",), _PERSON), True, None),  # personal data: masked (below)
    # more than a note: the Python path's
    (_set(_LR + ("face_genuineness", "x_confidence"), 0.5), False, None),  # an attack kind
    (_set(_VR + ("result_faceid", "thresholds", "1E-3"), 60), False, None),  # a level spelled so
    (_set(_VR + ("result_ref9",), {"confidence": 50}), False, None),  # a comparison
    (_set(("images", "image_x"), "https://example.invalid/x.jpg"), False, None),  # an image
    (_set(("liveness_result", "details"), {"X_NEW_DETAIL": 1}), False, None),  # a detail
    (_error, True, {"x_top": {"a": 1}}),  # an error body: only its top level is read
]
_CASES = {
    "megvii_lite": _COMMON + [
        (_set(("biz_info", "x_b"), "b"), True, {"biz_info.x_b": "b"}),
        (_set(("idcard_info", "front_side", "ocr_result", "x_o"), {"name": "李四"}), True, None),
        (_set(("idcard_info", "front_side", "ocr_result", "legality", "Fake"), 0.1), True,
         {"idcard_info.front_side.ocr_result.legality.Fake": 0.1}),
        (_set(("idcard_info", "front_side", "ocr_result", "legality", "id  photo"), 0.1), False, None),
        (_set(("will_result", 0, "x_w"), 1), True, {"will_result[1].x_w": 1}),
        (_set(("will_file",), {"will_video": "https://example.invalid/v.mp4", "x_f": 1}), True,
         {"will_file.x_f": 1}),
    ],
    "megvii_liveness": _COMMON + [
        (_set(_VR + ("id_exceptions", "x_e"), [1, 2]), True, {"verify_result.id_exceptions.x_e": [1, 2]}),
        (_set(_VR + ("face_genuineness", "x_g"), {"a": None}), True, {"verify_result.face_genuineness.x_g": {"a": None}}),
    ],
    "megvii_notify": _COMMON + [
        (_set(_VR + ("id_exceptions", "x_e"), [1, 2]), True, {"verify_result.id_exceptions.x_e": [1, 2]}),
    ],
}


def _line(source, p, sid, beside=None):
    if source == "megvii_notify":
        data = json.dumps(p, ensure_ascii=False, separators=(",", ":"))
        p = {"data": data, "sign": hashlib.sha1((gen_records.SECRET + data).encode()).hexdigest(), **(beside or {})}
    return json.dumps({"source": source, "session_id": sid, "http_status": 200,
                       "fetched_at": "2026-11-02T10:00:00Z", "payload": p}, ensure_ascii=False).encode()


def _lines():
    lines, taken, extras = [], [], {}
    for source, cases in _CASES.items():
        base = _base(source)
        for reshape, fast, extra in cases:
            p = copy.deepcopy(base)
            if reshape is not None:
                reshape(p)
            sid = f"17600000{len(lines):02d},sid-{len(lines)}"
            lines.append(_line(source, p, sid))
            taken.append(fast)
            if extra is not None:
                extras[sid] = extra
        # a key written twice beside an unknown one: the keys ignored do not account for the line
        p = copy.deepcopy(base)
        p["x_new"] = 1
        twice = _line(source, p, f"17600000{len(lines):02d},sid-{len(lines)}")
        twice = twice.replace(b'"x_new": 1', b'"x_new": 1, "x_new": 2') if source != "megvii_notify" else \
            twice.replace(b'\\"x_new\\":1', b'\\"x_new\\":1,\\"x_new\\":2')
        assert b'x_new' in twice and twice.count(b"x_new") == 2
        if source == "megvii_notify":  # signed again, as sent
            env = json.loads(twice)
            env["payload"]["sign"] = hashlib.sha1((gen_records.SECRET + env["payload"]["data"]).encode()).hexdigest()
            twice = json.dumps(env, ensure_ascii=False).encode()
        lines.append(twice)
        taken.append(False)
    # a callback with a key beside data and sign: the Python path notes it
    sid = f"17600000{len(lines):02d},sid-{len(lines)}"
    lines.append(_line("megvii_notify", _base("megvii_notify"), sid, beside={"x_beside": 1}))
    taken.append(False)
    extras[sid] = {"x_beside": 1}
    return lines, taken, extras


def test_records_with_unknown_keys_stay_columnar_and_land_as_the_python_path_lands_them(tmp_path):
    lines, taken, extras = _lines()
    fd, sd = _landed_alike(tmp_path, lines, taken, secret=gen_records.SECRET)
    extra = load(fd, "sessions").set_index("session_id")["extra"]
    for sid, want in extras.items():
        assert json.loads(extra[sid]) == want, sid
    # personal data in an unknown key's value is masked, on both paths alike
    for d in (fd, sd):
        text = " ".join(load(d, "sessions")["extra"].dropna())
        assert "x_person" in text and "idcard_info.front_side.ocr_result.x_o" in text
        for plain in _PLAIN + ("李四",):
            assert plain not in text


_VALUES = [None, 1, 2.5, True, "abc", "", "null", 'a":b', "back\\slash", "\x1f7", [1, {"x": None}], [], {},
           {"confidence": None}, {"result": "PASS", "status": 3}, _PERSON, '{"a": 1}']
# (documented spellings of a threshold level and a legality key among them: beside another
# spelling of its column, a null is no value on either path; spelled otherwise, the record is
# the Python path's)
_NAMES = ["x_new", "x2", "confidence", "result", "status", "biz_id", "image_best", "NEW_confidence",
          "id photo", "1E-3", "SIDE_FACE", "a\"q", "k\\", "0.001", "Temporary ID Photo "]


@pytest.mark.parametrize("source", ["megvii_lite", "megvii_liveness", "megvii_notify"])
def test_unknown_keys_anywhere_land_as_the_python_path_lands_them(tmp_path, source):
    """Unknown keys (some named as documented keys elsewhere, some null, some holding
    objects with documented names or personal data) put anywhere in generated records,
    some written twice: both paths land the same tables, and the columnar path takes most."""
    rng = random.Random(11)
    lines = []
    for rec in gen_records.records(source, 120, seed=9):
        p = rec["payload"]
        obj = json.loads(p["data"]) if source == "megvii_notify" else p
        for _ in range(rng.randint(1, 3)):
            target = rng.choice(_objects(obj, []))
            target.setdefault(rng.choice(_NAMES), copy.deepcopy(rng.choice(_VALUES)))
        sid = f"{rec['session_id']}-{len(lines)}"
        line = _line(source, obj, sid)
        if rng.random() < 0.1 and source != "megvii_notify":  # a key written twice (Python keeps the last)
            line = line.replace(b'"payload": {', b'"payload": {"x_dup": 1, "x_dup": 2, ', 1)
        lines.append(line)
    res = _same_on_both(tmp_path, lines)
    took = len(flatten_fast(lines, None, 0, Masker(b"k" * 32), secret=gen_records.SECRET).lines)
    assert 0.3 * len(lines) < took < 0.95 * len(lines), took
    extra = load(res[True][0], "sessions")["extra"].dropna()
    assert not any(plain in " ".join(extra) for plain in _PLAIN)
    assert pd.notna(extra).any()


def test_keys_written_counts_keys_nulls_escapes_and_spaced_keys():
    """The key count the unknown-key path and ``_key_mismatch`` rest on: a key is its
    quote and colon; an escaped quote before a colon is text; a key and its colon apart,
    or three backslashes before them, leave the line uncountable."""
    import numpy as np

    from faceanalytics.flatten._fast import _offsets, keys_written

    lines = [b'{"a":1,"b":null}', b'{"a" :1}', b'{"t":"x\\":1"}', b'{"t":"x\\\\\\":1"}', b'{"k": null,"j":2}',
             b'{"k"\t:1}', b'{"k\\\\":1,"f":3}']
    q, row, real, null, odd = keys_written(b"\n".join(lines), _offsets(lines))
    assert odd.tolist() == [False, True, False, True, False, True, False]
    counted = np.bincount(row[real & ~null], minlength=len(lines))
    assert counted[[0, 2, 4, 6]].tolist() == [1, 1, 1, 2]  # (an escaped backslash ends a key: line 6)
    assert np.bincount(row[real & null], minlength=len(lines)).tolist() == [1, 0, 0, 0, 1, 0, 0]
