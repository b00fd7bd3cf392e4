"""A Baidu record whose only oddity is keys the spec lacks stays on the columnar path: its
documented keys are read column-wise, the others land in ``sessions.extra`` as the Python
flattener puts them there.  Where an unknown key means more than ``extra`` (an image, an
API of ``stat``), or the keys ignored do not account for all of the line's, the record is
the Python path's, and only it."""
import copy
import json
import sys
from pathlib import Path

import pandas as pd

from faceanalytics.flatten import flatten_fast
from faceanalytics.pipeline.pii import Masker
from faceanalytics.storage.tables import load

sys.path.insert(0, str(Path(__file__).parent))
from test_fast_path import SEEDS, _assert_same_tables, _both, _landed_alike, _same_on_both  # noqa: E402


def _seed(source):
    return json.loads((SEEDS / f"{source}.json").read_text())


def _set(path, value):
    def f(p):
        *head, last = path
        node = p
        for k in head:
            node = node[k]
        node[last] = value
    return f


def _error(p):
    p.clear()
    p.update(success=False, code="5001", message="no such token", result={"x_inner": 1}, x_top=2)


_ATT = ("result", "verify_result", 0)
# source -> [(reshape, taken by the columnar path)]
_CASES = {
    "baidu_getall": [
        (None, True),
        (_set(("x_new",), 1), True),
        (_set(("result", "x_block"), {"a": 1, "b": [{"c": None}, "two"]}), True),
        # a code the parse quoted (an error code key), or text that opens as it does
        (_set(("result", "x_block"), {"code": 5}), False),
        (_set(("result", "x_block"), "\x1f5"), False),
        (_set(_ATT + ("x_att",), None), True),
        (_set(_ATT + ("verify_detail", "x_vd"), "abc"), True),
        (lambda p: (_set(_ATT + ("idcard_confirm", "x_c"), 1.5)(p),
                    _set(_ATT + ("idcard_confirm", "idcard_ocr_result", "x_o"), True)(p)), True),
        (_set(_ATT + ("idcard_confirm", "idcard_images", "x_img"), "https://a/b.jpg"), False),  # an image
        (_error, True),  # an error body: its result is not read, so its unknown key is no extra
        (lambda p: (p.clear(), p.update(success=False, code="5001", x_top="t")), True),
    ],
    "baidu_detail": [
        (_set(("result", "verify_result", "x_v"), {"k": "v"}), True),
        (_set(("result", "idcard_ocr_result", "x_o"), 1), True),
        (_set(("result", "idcard_images", "x_b64"), "AAAA"), False),
    ],
    "baidu_stat": [
        (_set(("result", "OCR", 0, "x_s"), 1), True),
        # a key the spec does not name is an API: with counts, rows; else notes
        (_set(("result", "NewApi"), [{"error_code": 0, "count": 1}]), False),
        (_set(("result", "NewApi"), {"error_code": 0, "count": 1}), False),
        (_set(("result", "NewApi"), '[{"error_code": 0}]'), False),
        (_set(("result", "NewApi"), float("nan")), False),  # an invalid value, counted
        (_set(("result", "NewApi"), "abc"), True),
        (_set(("result", "NewApi"), [1, "two", None, [3]]), True),
        (_set(("result", "NewApi"), None), True),
    ],
    "baidu_simple": [(_set(("result", "x_s"), [1, 2]), True)],
    "baidu_media": [(_set(("result", "x_m"), "m"), True)],
}


def _lines():
    lines, taken = [], []
    for source, cases in _CASES.items():
        seed = _seed(source)
        for reshape, fast in cases:
            p = copy.deepcopy(seed)
            if reshape is not None:
                reshape(p)
            i = len(lines)
            lines.append(json.dumps({"source": source, "session_id": f"tok-{i}", "http_status": 200,
                                     "fetched_at": "2026-11-02T10:00:00Z", "payload": p},
                                    ensure_ascii=False).encode())
            taken.append(fast)
    # a key written twice beside an unknown one: the keys ignored do not account for the line
    twice = lines[1].replace(b'"x_new": 1', b'"x_new": 1, "x_new": 2').replace(b"tok-1", b"tok-t")
    assert b'"x_new": 2' in twice
    lines.append(twice)
    taken.append(False)
    # a key outside the payload: neither path reads it
    lines.append(lines[1][:-1].replace(b"tok-1", b"tok-e") + b', "x_env": 1}')
    taken.append(True)
    return lines, taken


def test_records_with_unknown_keys_stay_columnar_and_land_as_the_python_path_lands_them(tmp_path):
    lines, taken = _lines()
    fd, _ = _landed_alike(tmp_path, lines, taken)
    extra = load(fd, "sessions").set_index("session_id")["extra"]
    assert json.loads(extra["tok-2"]) == {"result.x_block": {"a": 1, "b": [{"c": None}, "two"]}}
    assert json.loads(extra["tok-5"]) == {"result.verify_result[1].x_att": None}
    assert json.loads(extra["tok-7"]) == {"result.verify_result[1].idcard_confirm.x_c": 1.5,
                                          "result.verify_result[1].idcard_confirm.idcard_ocr_result.x_o": True}
    assert json.loads(extra["tok-9"]) == {"x_top": 2}
    assert json.loads(extra["tok-10"]) == {"x_top": "t"}
    assert json.loads(extra["tok-20"]) == {"_unreadable.result.NewApi[0]": 1, "_unreadable.result.NewApi[1]": "two",
                                           "_unreadable.result.NewApi[2]": None,
                                           "_unreadable.result.NewApi[3]": [3]}
    assert pd.isna(extra["tok-0"])


_VALUES = [None, 1, 2.5, True, "abc", "", "null", 'a":b', "back\\slash", "\x1f7", [1, {"x": None}], [],
           {}, {"score": None}, {"code": 7, "error_code": "0"}, {"name": "张三", "k": [{"order": 1}]}]
_NAMES = ["x_new", "x2", "score", "order", "result", "idcard_images", "NewApi", "front_image", "a\"q", "k\\"]


def _objects(node, out):
    """Every object in ``node``, items of lists included."""
    if isinstance(node, dict):
        out.append(node)
        for v in node.values():
            _objects(v, out)
    elif isinstance(node, list):
        for v in node:
            _objects(v, out)
    return out


def test_unknown_keys_anywhere_land_as_the_python_path_lands_them(tmp_path):
    """Unknown keys (some named as documented keys elsewhere, some null, some holding
    objects with documented names or error codes) put anywhere in generated records of
    every Baidu source, some written twice: both paths land the same tables."""
    import random

    sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
    import gen_records

    rng = random.Random(7)
    lines = []
    for source in _CASES:
        for rec in gen_records.records(source, 80, seed=9):
            for _ in range(rng.randint(1, 3)):
                target = rng.choice(_objects(rec["payload"], []))
                # (a documented name written as null where it is not documented included)
                name, value = rng.choice(_NAMES), copy.deepcopy(rng.choice(_VALUES))
                target.setdefault(name, value)
            rec["session_id"] = f"{rec['session_id']}-{len(lines)}"
            line = json.dumps(rec, ensure_ascii=False).encode()
            if rng.random() < 0.1:  # a key written twice (Python keeps the last)
                line = line.replace(b'"payload": {', b'"payload": {"x_dup": 1, "x_dup": 2, ', 1)
            lines.append(line)
    _same_on_both(tmp_path, lines)
    took = len(flatten_fast(lines, None, 0, Masker(b"k" * 32)).lines)
    assert 0.45 * len(lines) < took < 0.9 * len(lines), took


def test_the_depth_bound_is_the_python_paths():
    from faceanalytics import _records
    from faceanalytics.flatten import _fast_baidu

    assert _fast_baidu._MAX_OPENERS == _records.MAX_DEPTH


def test_an_unknown_key_nested_deeper_than_the_bound_is_quarantined_by_both_paths(tmp_path):
    p = _seed("baidu_getall")
    deep = "leaf"
    for _ in range(70):
        deep = [deep]
    p["x_deep"] = deep
    lines = [json.dumps({"source": "baidu_getall", "session_id": "tok-deep", "http_status": 200,
                         "fetched_at": "2026-11-02T10:00:00Z", "payload": p}).encode()]
    assert flatten_fast(lines, None, 0, Masker(b"k" * 32)).slow == [0]
    res = _both(tmp_path, lines)
    assert res[True][1].quarantined == res[False][1].quarantined == 1
    _assert_same_tables([res[True][0], res[False][0]])
