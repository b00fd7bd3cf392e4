"""Raw records of every source, generated from the field spec and the provider documents.

    python benchmarks/gen_records.py SOURCE N [--wild 0.5] [--seed 0] > records.jsonl

Not the sandbox and not our own examples: every documented leaf of a source
(``faceanalytics.flatten.fields.leaves``) is generated at a rate a real deployment
shows (``RATES``, by path prefix), with a value of its kind; wildcards draw from
their documented names, alternatives (``biz_info.biz_id`` or ``biz_id``, the
``idcard_uneditable_feild`` typo, OCR beside or inside ``idcard_confirm``, threshold
levels spelled ``1e-4``, ``1e-04`` or ``0.0001``) are chosen per record.  On top:
API error bodies (3%), non-terminal statuses, 3- and 4-level threshold sets, ties
(an anti-spoofing confidence equal to its threshold), numbers sent as strings, images
as data URIs, both ID-card sides, will results.  ``wild`` is the share of records
given one shape the spec does not describe (an unknown key, an unknown nested
object, a wild type, an object sent as JSON text, an undocumented comparison).

Used by ``benchmarks/bench_ingest.py`` and the differential tests.
"""
from __future__ import annotations

import base64
import hashlib
import json
import random
import sys
from typing import Iterator

import orjson

from faceanalytics.flatten.fields import leaves

SECRET = "bench-api-secret-0123456789abcdef"  # signs megvii_notify records (MEGVII_API_SECRET)
ERROR_RATE = 0.03
STRING_NUMBERS_RATE = 0.05  # records whose numbers all arrive as text (a logger, a proxy)
TIE_RATE = 0.05

# Share of records carrying each optional block (by path prefix; the longest match wins).
RATES = {
    "megvii": {
        "fail_reason": 0.1, "verify_time": 0.1, "multifaces_tag": 0.2, "multifaces_image": 0.02,
        "images": 0.05, "will_result": 0.7, "will_file": 0.2, "idcard_info": 0.6,
        "idcard_info.idcard_mode_user": 0.2, "idcard_info.ocr_front_quality": 0.3,
        "idcard_info.ocr_back_quality": 0.3, "liveness_result.face_genuineness": 0.7,
        "liveness_result.failure_reason": 0.3, "liveness_result.log": 0.5,
        "liveness_result.version": 0.5, "verify_result.verify_time": 0.5,
        "verify_result.face_genuineness": 0.7, "verify_result.id_exceptions": 0.5,
        "verify_result.error": 0.02, "verify_result.error_message": 0.5,
        "verify_result.request_id": 0.7, "verify_result.time_used": 0.7,
    },
    "baidu": {
        "is_demote": 0.2, "message": 0.5, "result.is_demote": 0.5,
        "result.idcard_images": 0.05, "result.idcard_confirm.idcard_images": 0.05,
        "result.idcard_ocr_result": 0.8,
        "result.verify_result[].idcard_images": 0.3, "result.verify_result[].idcard_ocr_result": 0.7,
        "result.verify_result[].idcard_confirm": 0.8, "result.extInfo": 0.5,
    },
}
# Keys of one object of which a record carries one (documented alternatives).
ONE_OF = [
    ("idcard_uneditable_field", "idcard_uneditable_feild"), ("standard_answer", "stand_answer"),
    ("Temporary ID Photo", "Temporary ID Photo "),
]
_OCR_NUMBER = ("id_card_number", "idcard_number")  # Baidu's OCR block spells it both ways
SUBSETS = {  # wildcard names: the share of records carrying each
    "result_faceid": 0.95, "result_ref1": 0.3, "result_ref2": 0.05, "result_ref3": 0.02,
    "result_idcard_photo": 0.5, "result_idcard_datasource": 0.3,
    "image_best": 1.0, "image_env": 0.1, "image_action1": 0.15, "image_action2": 0.15,
    "image_action3": 0.15, "image_idcard_front": 0.15, "image_idcard_back": 0.15,
    "image_face_front": 0.1, "image_face_side": 0.1,
    **{k: 0.5 for k in ("UPLOAD_TIMES", "FACE_NOT_FOUND", "SIDE_FACE", "UPDOWN_FACE", "EYE_OCCLUSION",
                        "MOUTH_OCCLUSION", "AWAY_FROM_CAMERA", "CLOSE_TO_CAMERA", "FACE_OUT_OF_CAMERA",
                        "HIGH_BRIGHTNESS", "LOW_BRIGHTNESS", "LOW_FACE_QUALITY", "INVALID_VIDEO_DURATION",
                        "SR_ERROR", "NOT_SYNCHRONIZED", "VIDEO_FORMAT_UNSUPPORTED", "NO_AUDIO")},
}
_LITE_THRESHOLDS = [(62.169, 69.315, 74.399, 78.038), (65.3, 71.8, 76.5, 79.9)]
_V2_THRESHOLDS = [(64, 69, 74), (62.169, 69.315, 74.399)]
_SPELLINGS = [("1e-3", "1e-4", "1e-5", "1e-6"), ("1e-03", "1e-04", "1e-05", "1e-06"),
              ("0.001", "0.0001", "0.00001", "0.000001")]
_JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00"
_NAMES = ["陈AB", "张三", "李四四", "王五", "赵敏"]
_ADDRESSES = ["北京市海淀区XXXX", "山东省青岛市黄岛区XX路", "江西省赣州市章贡区"]
_ERRORS_MEGVII = ["RESULT_NOT_FOUND", "DATA_DESTROYED", "BAD_ARGUMENTS:biz_id",
                  "AUTHENTICATION_ERROR", "CONCURRENCY_LIMIT_EXCEEDED"]
_VERIFY_ERRORS = ["NO_SUCH_ID_NUMBER", "ID_NUMBER_NAME_NOT_MATCH", "DATA_SOURCE_ERROR",
                  "INTERNAL_ERROR", "NO_FACE_FOUND"]


def _id_number(rng: random.Random) -> str:
    return f"{rng.randint(110000, 659000)}{rng.randint(1950, 2005)}{rng.randint(1, 12):02d}" \
           f"{rng.randint(1, 28):02d}{rng.randint(0, 999):03d}{rng.choice('0123456789X')}"


def _data_uri(rng: random.Random, bare: bool = False) -> str:
    blob = _JPEG + rng.randbytes(rng.randint(200, 1500))
    b64 = base64.b64encode(blob).decode()
    return b64 if bare else "data:image/jpeg;base64," + b64


def _cn_time(rng: random.Random, epoch: int) -> str:
    import datetime as dt
    d = dt.datetime.fromtimestamp(epoch + 8 * 3600, dt.timezone.utc)
    if rng.random() < 0.3:  # Baidu pads some fields and not others
        return f"{d.year}-{d.month}-{d.day} {d.hour:02d}:{d.minute:02d}:{d.second:02d}"
    return d.strftime("%Y-%m-%d %H:%M:%S")


class _Record:
    """One record's draws: who, when, genuine or not, which alternatives."""

    def __init__(self, rng: random.Random, i: int, family: str):
        self.rng, self.i, self.family = rng, i, family
        self.epoch = 1_760_000_000 + i * 37 + rng.randint(0, 30)
        self.genuine = rng.random() < 0.9
        self.one_of = {grp: rng.choice(grp) for grp in ONE_OF}
        self.biz_info = rng.random() < 0.7  # Lite nests biz_info; v2 puts biz_id at the top
        self.nested = rng.random() < 0.3  # Baidu OCR and images inside idcard_confirm (the example)
        self.ocr_number = rng.choice(_OCR_NUMBER)
        self.spelling = _SPELLINGS[0] if rng.random() < 0.8 else rng.choice(_SPELLINGS[1:])
        self.name = rng.choice(_NAMES)
        self.id_number = _id_number(rng)
        self.tie = rng.random() < TIE_RATE

    def include(self, path: str) -> bool:
        rates = RATES[self.family]
        best, rate = -1, 1.0
        for prefix, r in rates.items():
            if (path == prefix or path.startswith(prefix + ".") or path.startswith(prefix + "[")) \
                    and len(prefix) > best:
                best, rate = len(prefix), r
        return self.rng.random() < rate

    def value(self, source: str, path: tuple[str, ...], kind: str):
        rng, key = self.rng, path[-1]
        parent = path[-2] if len(path) > 1 else ""
        if kind == "conf":
            if parent == "thresholds":
                return None  # filled per comparison block
            if source.startswith("baidu") and key in ("spoofing", "spoofing_score"):
                return round(rng.choice([0.0, rng.random() * 5]), 4)
            c = rng.gauss(80, 6) if self.genuine else rng.gauss(45, 12)
            return round(min(max(c, 0), 100), 3)
        if kind == "conf?":
            return rng.choice([80, 70, 75.5])
        if kind == "gen":
            if key.endswith("_threshold"):
                return 0.5
            return 0.5 if self.tie and key.startswith("mask") else round(rng.betavariate(1.5, 12), 3)
        if kind == "epoch":
            return self.epoch + rng.randint(5, 120)
        if kind == "cntime":
            return _cn_time(rng, self.epoch + rng.randint(5, 120))
        if kind == "bool":
            return rng.random() < 0.8
        if kind == "textint":
            return str(self.value(source, path, "int"))
        if kind == "int":
            if key in ("year",):
                return str(rng.randint(1950, 2005))
            if key in ("month", "day"):
                return str(rng.randint(1, 12))
            if key == "multifaces_tag":
                return rng.choice([0, 0, 0, 1])
            if parent == "details":
                return rng.choice([0, 0, 0, 1, 2])
            if key in ("time_used",):
                return rng.randint(50, 3000)
            return rng.randint(0, 3)
        if kind == "float":
            if key in ("liveness_score",):
                return round(rng.uniform(0.9, 1.0), 7)
            return round(rng.random(), 3)
        if kind == "code":
            if key == "log_id":
                return rng.choice([str(rng.getrandbits(50)), rng.getrandbits(50)])
            return rng.choice(["0", 0, "0"])
        if kind == "id":
            return self.id_number
        if kind == "blob":
            return _data_uri(rng, bare=source.startswith("baidu"))
        if kind in ("url", "media"):
            return f"https://files.example.com/{source}/{self.i}/{key}.{'mp4' if 'video' in key else 'jpg'}"
        if kind == "text":
            return rng.choice([f"channel=app&seg={self.i % 5}", '{"channel":"web","store":"A17"}', "..."])
        # str
        return self._text(source, path)

    def _text(self, source, path):
        rng, key = self.rng, path[-1]
        if key in ("name", "idcard_name"):
            return self.name
        if key == "address":
            return rng.choice(_ADDRESSES)
        if key in ("biz_id",):
            return f"{self.epoch},{hashlib.md5(str(self.i).encode()).hexdigest()}"
        if key == "request_id":
            return f"{self.epoch + 5},{rng.getrandbits(64):016x}-{rng.getrandbits(32):08x}"
        if key == "status":
            return rng.choices(["OK", "NOT_STARTED", "PROCESSING", "FAILED", "CANCELLED", "TIMEOUT"],
                               [85, 4, 3, 4, 2, 2])[0]
        if key == "result" and path[:1] == ("liveness_result",):
            return "PASS" if self.genuine else rng.choice(["FAIL", "TIMEOUT"])
        if key == "result":
            return rng.choice(["PASS", "PASS", "FAIL"])
        if key == "gender":
            return rng.choice(["男", "女"])
        if key in ("race", "nation"):
            return "汉"
        if key in ("idcard_mode", "idcard_mode_user", "idcard_type", "risk_level"):
            return rng.choice(["0", "1", "2"])
        if key in ("valid_date", "idcard_valid_date"):
            return "2010.11.13-2030.11.13"
        if key in ("issued_by", "idcard_issued_by", "issue_authority"):
            return "北京市公安局海淀分局"
        if key in ("birthday", "expire_time", "issue_time"):
            return rng.choice(["19960216", "2020-10-10 10:10:10"])
        if key in ("error_message", "error") and path[:1] == ("verify_result",):
            return rng.choice(_VERIFY_ERRORS) if rng.random() < 0.1 else None
        if key == "failure_reason":  # v2: "null if it succeeded", else one of the documented causes
            return None if self.genuine else rng.choice(_FAILURE_REASONS)
        if key == "fail_reason":  # Lite, with get_fail_reason=1
            return rng.choice([None, "NETWORK_ERROR", "PERMISSIONS_ERROR", "SUPPORT_ERROR"])
        if key == "will_error_message":
            return rng.choice([None, "", "ACTION_FAIL"])
        if key == "log":
            return f"{self.epoch}\n0:A\n2596:M\n3862:E\n"
        if key == "version":
            return "MegLive 2.4.0L"
        if key == "procedure_type":
            return rng.choice(["will", "video", "still"])
        if key == "message":
            return rng.choice(["核验成功", ""])
        if key == "charge_type":
            return rng.choice(["verify", "ocr"])
        return f"{key}-{rng.randint(0, 99)}"


# liveness_result.failure_reason in the v2 document's field table
_FAILURE_REASONS = ("action_mixed", "not_video", "timeout", "quality_check_timeout", "no_input_frame",
                    "interrupt_in_mirro_state", "interrupt_in_action_state")


def _set(obj: dict, path: tuple[str, ...], value) -> None:
    for k in path[:-1]:
        obj = obj.setdefault(k, {})
    obj[path[-1]] = value


def _build(source: str, rec: _Record, items: dict[str, int]) -> dict:
    """A payload with every documented leaf of ``source`` the record's draws include."""
    out: dict = {}
    decided: dict[str, bool] = {}
    lists: dict[tuple, list] = {}

    def included(prefix: tuple[str, ...]) -> bool:
        for n in range(1, len(prefix) + 1):
            p = ".".join(prefix[:n])
            if p not in decided:
                decided[p] = rec.include(p)
            if not decided[p]:
                return False
        return True

    for path, kind in leaves(source):
        plain = tuple(k.replace("[]", "") for k in path)
        skip = plain == ("error_message",)  # the top-level error body is drawn apart
        for grp, pick in rec.one_of.items():
            if plain[-1] in grp and plain[-1] != pick:
                skip = True
        if len(plain) > 1 and plain[-2] == "idcard_ocr_result" and plain[-1] in _OCR_NUMBER \
                and plain[-1] != rec.ocr_number:
            skip = True
        if plain[0] in ("biz_id", "biz_no", "biz_extra_data") and rec.biz_info:
            skip = True
        if plain[0] == "biz_info" and not rec.biz_info:
            skip = True
        if "idcard_ocr_result" in plain or "idcard_images" in plain:
            skip = skip or (("idcard_confirm" in plain) != rec.nested)
        if skip or not included(plain[:-1] if len(plain) > 1 else plain):
            continue
        wild = [k for k in plain if k in SUBSETS]
        if wild:
            key = "/" + ".".join(plain[:plain.index(wild[-1]) + 1])
            if key not in decided:
                decided[key] = rec.rng.random() < SUBSETS[wild[-1]]
            if not decided[key]:
                continue
        if "thresholds" in plain:
            continue  # a comparison's threshold set is written whole, below
        # list items: the keys up to a [] are a list; the record draws how many items
        cut = [i for i, k in enumerate(path) if k.endswith("[]")]
        v = rec.value(source, plain, kind)
        if v is None and kind in ("conf", "gen"):
            continue
        if not cut:
            _set(out, plain, v)
            continue
        i = cut[0]
        head = plain[:i + 1]
        if head not in lists:
            n = items.get(".".join(head), 1 + (rec.rng.random() < 0.3) + (rec.rng.random() < 0.1))
            lists[head] = [{} for _ in range(n)]
            _set(out, head, lists[head])
        for j, item in enumerate(lists[head]):
            vv = v if j == 0 else rec.value(source, plain, kind)
            if len(plain) == i + 1:  # a list of scalars
                lists[head][j] = vv
            else:
                _set(item, plain[i + 1:], vv)
    return out


def _thresholds(rec: _Record, source: str, payload: dict) -> None:
    vr = payload.get("verify_result")
    if not isinstance(vr, dict):
        return
    four = source == "megvii_lite"
    t = rec.rng.choice(_LITE_THRESHOLDS if four else _V2_THRESHOLDS)
    for k, block in vr.items():
        if k.startswith("result_") and isinstance(block, dict):
            block["thresholds"] = dict(zip(rec.spelling, t))


def _stringify(obj):
    if isinstance(obj, dict):
        return {k: _stringify(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_stringify(v) for v in obj]
    if isinstance(obj, bool) or obj is None:
        return obj
    if isinstance(obj, (int, float)):
        return str(obj)
    return obj


def _megvii(source: str, rec: _Record) -> dict:
    rng = rec.rng
    if rng.random() < ERROR_RATE:
        return {"error_message": rng.choice(_ERRORS_MEGVII), "request_id": f"{rec.epoch},{rec.i:x}",
                "time_used": rng.randint(2, 40)}
    p = _build("megvii_lite" if source == "megvii_lite" else "megvii_liveness", rec, {})
    for k in ("status", "fail_reason", "multifaces_tag", "multifaces_image", "idcard_info",
              "will_file", "verify_time") if source != "megvii_lite" else ():
        p.pop(k, None)  # the v2 document has none of these
    if source != "megvii_lite":
        p.pop("will_result", None)
        p.get("liveness_result", {}).pop("details", None)
        p.get("liveness_result", {}).pop("procedure_type", None)
    if str(p.get("multifaces_tag")) != "1":
        p.pop("multifaces_image", None)
    if p.get("status") in ("NOT_STARTED", "PROCESSING"):  # nothing to report yet
        keep = {"request_id", "status", "biz_info", "biz_id", "biz_no", "biz_extra_data", "time_used"}
        p = {k: v for k, v in p.items() if k in keep}
    _thresholds(rec, source, p)
    return p


def _baidu(source: str, rec: _Record) -> dict:
    rng = rec.rng
    if rng.random() < ERROR_RATE:
        if rng.random() < 0.5:
            return {"error_code": rng.choice([110, 111, 18, "216100"]), "error_msg": "Access token invalid",
                    "log_id": rng.getrandbits(40)}
        return {"success": False, "code": rng.choice([216600, "216601"]), "message": "id number format error",
                "log_id": str(rng.getrandbits(40))}
    p = _build(source, rec, {"result.processVideo": 1, "result.video": 1})
    p["success"] = True
    p.pop("code", None), p.pop("error_code", None), p.pop("error_msg", None)
    res = p.setdefault("result", {})
    if source == "baidu_stat":
        for api, items in list(res.items()):
            if isinstance(items, list):
                for it in items:
                    it["error_code"] = rng.choice([0, "0", 222202, "223120"])
                    it["count"] = rng.randint(1, 20)
    if source == "baidu_getall":
        for j, a in enumerate(res.get("verify_result") or [], 1):
            a["order"] = j
    if source == "baidu_media":
        res.setdefault("extInfo", None)
    return p


_WILD = ("unknown_key", "unknown_object", "wild_type", "json_text", "undocumented_name")


def _wild(rec: _Record, source: str, p: dict) -> None:
    """Give the payload one shape the spec does not describe."""
    rng = rec.rng
    kind = rng.choice(_WILD)
    objects = [(None, p)]
    stack = [p]
    while stack:
        o = stack.pop()
        for k, v in o.items():
            if isinstance(v, dict):
                objects.append((k, v))
                stack.append(v)
    _, target = rng.choice(objects)
    if kind == "unknown_key":
        target[f"x_new_field_{rng.randint(0, 3)}"] = rng.choice([1, "abc", 2.5, True])
    elif kind == "unknown_object":
        target["x_new_block"] = {"a": 1, "b": "two"}
    elif kind == "wild_type":
        scalars = [k for k, v in target.items() if not isinstance(v, (dict, list))]
        if scalars:
            target[rng.choice(scalars)] = {"value": "wrapped"}
        else:
            target["x_new_field"] = 1
    elif kind == "json_text":
        objs = [k for k, v in target.items() if isinstance(v, dict)]
        if objs:
            k = rng.choice(objs)
            target[k] = json.dumps(target[k], ensure_ascii=False)
        else:
            target["x_new_field"] = "1"
    else:
        vr = p.get("verify_result")
        if source.startswith("megvii") and isinstance(vr, dict) and "result_faceid" in vr:
            vr["result_ref7"] = vr["result_faceid"]
        elif isinstance(p.get("result"), dict):
            p["result"]["x_undocumented"] = [1, 2]
        else:
            p["x_new_field"] = 1


def payload(source: str, rec: _Record) -> dict:
    if source.startswith("megvii"):
        p = _megvii("megvii_liveness" if source == "megvii_notify" else source, rec)
    else:
        p = _baidu(source, rec)
    if rec.rng.random() < STRING_NUMBERS_RATE:
        p = _stringify(p)
    return p


# Records drawn in full; past these, a record is one of them with a session id of its
# own (and a fresh signature for callbacks): every rate holds, and a million records
# take seconds, not the half hour full draws take.
TEMPLATES = 5000


def records(source: str, n: int, *, seed: int = 0, wild: float = 0.0) -> Iterator[dict]:
    """``n`` envelopes of ``source`` (``{source, session_id, fetched_at, http_status, payload}``)."""
    for line in _lines(source, n, seed=seed, wild=wild):
        yield orjson.loads(line)


def _lines(source: str, n: int, *, seed: int = 0, wild: float = 0.0) -> Iterator[bytes]:
    """:func:`records` serialised: the first :data:`TEMPLATES` drawn in full, the rest
    derived from them (:func:`_derive`)."""
    pool: list[tuple[bytes, str]] = []
    for env in _drawn(source, min(n, TEMPLATES), seed=seed, wild=wild):
        line = orjson.dumps(env)
        pool.append((line, env["session_id"]))
        yield line
    if n > len(pool):
        pick = random.Random(f"{source}:{seed}:derive")
        for i in range(len(pool), n):
            yield _derive(source, *pool[pick.randrange(len(pool))], i, seed)


def _derive(source: str, line: bytes, sid: str, i: int, seed: int) -> bytes:
    """Record ``i`` as a copy of ``line`` under a new session id: the id's time prefix is
    kept, its unique part replaced everywhere it occurs (a Megvii biz_id also sits in the
    payload); a callback's ``data`` is signed again."""
    if source.startswith("megvii"):
        new = f"{sid.rsplit(',', 1)[0]},{hashlib.md5(str(i).encode()).hexdigest()}"
    else:
        new = f"tok-{seed}-{i:08d}"
    line = line.replace(sid.encode(), new.encode())
    if source == "megvii_notify":
        env = orjson.loads(line)
        data = env["payload"]["data"]
        env["payload"]["sign"] = hashlib.sha1((SECRET + data).encode()).hexdigest()
        line = orjson.dumps(env)
    return line


def _drawn(source: str, n: int, *, seed: int = 0, wild: float = 0.0) -> Iterator[dict]:
    """``n`` envelopes, every value drawn from the spec's rates."""
    rng = random.Random(f"{source}:{seed}")
    for i in range(n):
        rec = _Record(rng, i, "megvii" if source.startswith("megvii") else "baidu")
        p = payload(source, rec)
        if wild and rng.random() < wild:
            _wild(rec, source, p)
        if source.startswith("megvii"):
            biz = p.get("biz_info", {}).get("biz_id") if isinstance(p.get("biz_info"), dict) else None
            sid = biz or p.get("biz_id") or f"{rec.epoch},err-{i}"
        else:
            sid = f"tok-{seed}-{i:08d}"
        if source == "megvii_notify":
            data = orjson.dumps(p).decode()
            p = {"data": data, "sign": hashlib.sha1((SECRET + data).encode()).hexdigest()}
        fetched = rec.epoch + rng.randint(60, 3000)
        import datetime as dt
        yield {"source": source, "session_id": str(sid),
               "fetched_at": dt.datetime.fromtimestamp(fetched, dt.timezone.utc).isoformat().replace("+00:00", "Z"),
               "http_status": 200, "payload": p}


def lines(source: str, n: int, **kw) -> list[bytes]:
    return list(_lines(source, n, **kw))


def write(path, source: str, n: int, **kw) -> float:
    """Write ``n`` records to ``path``; return the average line size in bytes."""
    size = 0
    with open(path, "wb") as f:
        for line in _lines(source, n, **kw):
            size += len(line) + 1
            f.write(line + b"\n")
    return size / max(n, 1)


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser()
    ap.add_argument("source")
    ap.add_argument("n", type=int)
    ap.add_argument("--wild", type=float, default=0.0)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    out = sys.stdout.buffer
    for line in _lines(a.source, a.n, seed=a.seed, wild=a.wild):
        out.write(line + b"\n")
