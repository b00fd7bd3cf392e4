"""Flatteners for Megvii payloads: Lite ``get_result``, web liveness v2 ``get_result``
and ``return_url``/``notify_url`` callbacks.

One reader handles all three because the shapes overlap and drift: Lite nests
``biz_info`` while v2 puts ``biz_id`` at the top; Lite carries
``face_genuineness`` under ``liveness_result``, v2 under ``verify_result``; v2
thresholds have three levels, Lite four.  Every form is accepted wherever found.
"""
from __future__ import annotations

import re
from functools import partial
from urllib.parse import parse_qs

import orjson

from ..crypto import verify_callback_sign
from .._coerce import (Unreadable, epoch_checked, epoch_to_us, integer, is_nullish, num,
                       text)
from ..schema import CONFIDENCE_RANGE, GENUINENESS_RANGE, VERIFY_ERROR_BILLED
from ._common import Context, Flat, media_row, number, opt_num
from .fields import EXPAND, LEVEL_KEYS, known_keys

# The keys each documented object has, from the field spec (``fields.py``): any other
# key lands in ``extra``.
_K = partial(known_keys, "megvii_lite")
_TOP = _K()
_BIZ = _K("biz_info")
_LIVENESS = _K("liveness_result")
_VERIFY_FIXED = frozenset(k for k in _K("verify_result") if not k.startswith("result_"))
_COMPARISON = _K("verify_result.result_faceid")
_ID_EXC = _K("verify_result.id_exceptions")
_IDCARD = _K("idcard_info")
_SIDE = _K("idcard_info.front_side")
_OCR = _K("idcard_info.front_side.ocr_result")
_BIRTHDAY = _K("idcard_info.front_side.ocr_result.birthday")
_QUALITY = _K("idcard_info.ocr_front_quality.name")
_WILL = _K("will_result[]")
_WILL_FILE = _K("will_file")
_WILL_ANSWER = _K("will_file.will_audio_details[]")
ATTACKS = ("synthetic_face", "mask", "screen_replay")
_ATTACK_KEYS = tuple((a, f"{a}_confidence", f"{a}_threshold") for a in ATTACKS)
_ATTACK_KEY_SET = frozenset(k for _, c, t in _ATTACK_KEYS for k in (c, t))
_LEGALITY = {"id photo": "legality_id_photo", "temporary id photo": "legality_temporary_id_photo",
             "photocopy": "legality_photocopy", "screen": "legality_screen",
             "edited": "legality_edited"}
_PII_QUALITY_FIELDS = {"name": "name", "idcard_number": "id", "address": "address",
                       "birth_day": "drop", "birth_month": "drop"}

_LEVEL_BY_VALUE = {1e-3: "thr_1e3", 1e-4: "thr_1e4", 1e-5: "thr_1e5", 1e-6: "thr_1e6"}


def _level_column(key) -> str | None:
    col = LEVEL_KEYS.get(key)
    if col is None:
        f = num(key)
        col = _LEVEL_BY_VALUE.get(f) if f is not None else None
    return col


def _bounded(flat: Flat, path: str, key, v, lo: float, hi: float):
    """``number(flat, f"{path}.{key}", v, strict=True, lo=lo, hi=hi)``; a plain number in
    range (nearly every value) is taken without building the path a note would need."""
    t = type(v)
    if (t is float or t is int) and lo <= v <= hi:
        return float(v)
    return number(flat, f"{path}.{key}", v, strict=True, lo=lo, hi=hi)


def _maybe_json(v, path: str):
    """Objects that arrive as JSON text (callbacks, loggers) are read as objects."""
    if isinstance(v, str):
        s = v.strip()
        if s[:1] in ("{", "["):
            try:
                return orjson.loads(s)
            except orjson.JSONDecodeError:
                raise Unreadable(f"{path} is text that is not valid JSON") from None
    return v


def _error_parts(message: str):
    code, sep, detail = message.partition(":")
    return code.strip(), (detail.strip() or None) if sep else None


def flatten_megvii(payload: dict, ctx: Context, flat: Flat) -> None:
    """Flatten a Lite or v2 result (or an API error body) into ``flat``."""
    s = flat.session
    s["request_id"] = text(payload.get("request_id"))
    s["time_used"] = integer(payload.get("time_used"))
    flat.unknown("", payload, _TOP)

    err = payload.get("error_message")
    if not is_nullish(err) and "status" not in payload and "liveness_result" not in payload:
        message = text(err) or str(err)
        code, _detail = _error_parts(message)
        s["status"] = code
        s["error"] = message
        return
    if not is_nullish(err):  # an error message next to a result: keep it, never drop it
        s["error"] = text(err)

    s["status"] = text(payload.get("status"))
    s["fail_reason"] = text(payload.get("fail_reason"))
    s["multifaces_tag"] = integer(payload.get("multifaces_tag"))

    biz = _maybe_json(payload.get("biz_info"), "biz_info")
    if isinstance(biz, dict):
        flat.unknown("biz_info.", biz, _BIZ)
    else:
        if biz is not None:
            flat.unreadable("biz_info", biz)
        biz = {}
    for k in ("biz_id", "biz_no", "biz_extra_data"):
        v = biz.get(k, payload.get(k))
        s[k] = text(v) if not isinstance(v, (dict, list)) else orjson.dumps(v).decode()

    top_verify_time = payload.get("verify_time")
    if top_verify_time is not None:
        s["verify_time"] = epoch_checked(top_verify_time, "verify_time")

    lr = _maybe_json(payload.get("liveness_result"), "liveness_result")
    if isinstance(lr, dict):
        _liveness(lr, ctx, flat)
    elif lr is not None:
        s["liveness_result"] = text(lr)

    vr = _maybe_json(payload.get("verify_result"), "verify_result")
    if isinstance(vr, dict):
        _verify(vr, ctx, flat)
    elif isinstance(vr, str) and not is_nullish(vr):
        _verify_error(flat, vr, "verify_result")

    idc = _maybe_json(payload.get("idcard_info"), "idcard_info")
    if isinstance(idc, dict):
        _idcard(idc, ctx, flat)
    elif idc is not None:
        flat.unreadable("idcard_info", idc)

    images = payload.get("images")
    if isinstance(images, dict):
        for name, value in images.items():
            media_row(flat, ctx, str(name), value, expect="blob")
    elif images is not None:
        flat.unreadable("images", images)
    if payload.get("multifaces_image") is not None:
        media_row(flat, ctx, "multifaces_image", payload["multifaces_image"], expect="blob")

    _will(payload, ctx, flat)


def _liveness(lr: dict, ctx: Context, flat: Flat) -> None:
    s = flat.session
    flat.unknown("liveness_result.", lr, _LIVENESS)
    s["liveness_result"] = text(lr.get("result"))
    s["procedure_type"] = text(lr.get("procedure_type"))
    s["failure_reason"] = text(lr.get("failure_reason"))  # null, "" and "null" all mean none
    s["liveness_version"] = text(lr.get("version"))
    s["liveness_log"] = text(lr.get("log"))
    details = _maybe_json(lr.get("details"), "liveness_result.details")
    if isinstance(details, dict):
        for k, v in details.items():
            if is_nullish(v):  # null, "" and "null": not returned
                continue
            count = integer(v)
            if count is None:
                flat.unreadable(f"liveness_result.details.{k}", v)
            flat.add("liveness_details", {"key": str(k), "count": count})
    elif details is not None:
        flat.unreadable("liveness_result.details", details)
    _genuineness(lr.get("face_genuineness"), "liveness_result.face_genuineness", flat)


def _genuineness(fg, path: str, flat: Flat) -> None:
    if fg is None:
        return
    if isinstance(fg, str):
        try:
            fg = _maybe_json(fg, path)
        except Unreadable:
            pass
        if not isinstance(fg, dict):  # a plain verdict string: keep it, no numbers to read
            flat.extra[path] = fg
            return
    if not isinstance(fg, dict):
        flat.unreadable(path, fg)
        return
    attacks = _ATTACK_KEYS
    plain = _ATTACK_KEY_SET.issuperset(fg)  # the documented keys only (the usual case)
    if not plain:
        attacks = list(attacks)
        for k in fg:  # attack kinds the documents do not list yet
            if isinstance(k, str) and k.endswith("_confidence"):
                a = k[: -len("_confidence")]
                if a not in ATTACKS:  # (keys are unique: so is each new kind)
                    attacks.append((a, k, f"{a}_threshold"))
    seen = set()
    for a, ck, tk in attacks:
        if not plain:
            seen.update((ck, tk))
        if is_nullish(fg.get(ck)) and is_nullish(fg.get(tk)):
            continue  # not returned (null, "", "null") is not zero
        conf = _bounded(flat, path, ck, fg.get(ck), *GENUINENESS_RANGE)
        thr = _bounded(flat, path, tk, fg.get(tk), *GENUINENESS_RANGE)
        flat.add("genuineness", {
            "attack": a, "attempt": 1, "confidence": conf, "threshold": thr,
            "flagged": (conf > thr) if conf is not None and thr is not None else None,
        })
    if not plain:
        for k in fg:  # in the record's order, as ``Flat.unknown`` notes keys
            if k not in seen:
                flat.extra[f"{path}.{k}"] = fg[k]


def _verify_error(flat: Flat, message: str, origin: str) -> None:
    flat.session["verify_error"] = message
    code, _ = _error_parts(message)
    flat.add("verify_errors", {"error_message": message, "billed": VERIFY_ERROR_BILLED.get(code),
                               "origin": origin})


def _verify(vr: dict, ctx: Context, flat: Flat) -> None:
    s = flat.session
    if not is_nullish(vr.get("verify_time")):  # "", "null": not returned
        s["verify_time"] = epoch_checked(vr["verify_time"], "verify_result.verify_time")
        if s["verify_time"] is None:
            flat.unreadable("verify_result.verify_time", vr["verify_time"])
    s["verify_request_id"] = text(vr.get("request_id"))
    s["verify_time_used"] = integer(vr.get("time_used"))
    em = vr.get("error_message")
    if not is_nullish(em):
        _verify_error(flat, text(em) or str(em), "verify_result.error_message")
    e = vr.get("error")
    if not is_nullish(e):
        _verify_error(flat, text(e) or str(e), "verify_result.error")
    for key, value in vr.items():
        if key in _VERIFY_FIXED:
            continue
        if isinstance(key, str) and key.startswith("result_"):
            _comparison(key, _maybe_json(value, f"verify_result.{key}"), flat)
        else:
            flat.extra[f"verify_result.{key}"] = value
    _genuineness(vr.get("face_genuineness"), "verify_result.face_genuineness", flat)
    ie = _maybe_json(vr.get("id_exceptions"), "verify_result.id_exceptions")
    if isinstance(ie, dict):
        flat.unknown("verify_result.id_exceptions.", ie, _ID_EXC)
        flat.add("id_exceptions", {"id_attacked": integer(ie.get("id_attacked")),
                                   "id_photo_monochrome": integer(ie.get("id_photo_monochrome"))})
    elif ie is not None:
        flat.unreadable("verify_result.id_exceptions", ie)


def _comparison(key: str, value, flat: Flat) -> None:
    path = f"verify_result.{key}"
    if value is None:
        return
    if not isinstance(value, dict):
        flat.unreadable(path, value)
        return
    flat.unknown(path + ".", value, _COMPARISON)
    row = {"comparison": key[len("result_"):], "attempt": 1,
           "confidence": _bounded(flat, path, "confidence", value.get("confidence"), *CONFIDENCE_RANGE),
           "thr_1e3": None, "thr_1e4": None, "thr_1e5": None, "thr_1e6": None, "threshold": None}
    thresholds = value.get("thresholds")
    if isinstance(thresholds, str):
        thresholds = _maybe_json(thresholds, f"{path}.thresholds")
    if isinstance(thresholds, dict):
        tpath = path + ".thresholds"
        for level, t in thresholds.items():
            col = _level_column(level)
            if col is None:
                flat.extra[f"{tpath}.{level}"] = t
            elif t is not None:  # null: not returned, and no undoing of another spelling's value
                row[col] = _bounded(flat, tpath, level, t, *CONFIDENCE_RANGE)
    elif thresholds is not None:
        flat.unreadable(f"{path}.thresholds", thresholds)
    flat.add("comparisons", row)


def _idcard(idc: dict, ctx: Context, flat: Flat) -> None:
    m = ctx.masker
    flat.unknown("idcard_info.", idc, _IDCARD)
    h, last4, plain = m.id_number(idc.get("idcard_number"))
    uneditable = idc.get("idcard_uneditable_field", idc.get("idcard_uneditable_feild"))
    row = {
        "attempt": 1, "idcard_mode": text(idc.get("idcard_mode")),
        "idcard_mode_user": text(idc.get("idcard_mode_user")),
        "idcard_uneditable_field": text(uneditable), "id_type": None,
        "id_number_hash": h, "id_number_last4": last4, "id_number": plain,
        "name": m.name(text(idc.get("idcard_name"))),
        "valid_date": text(idc.get("idcard_valid_date")),
        "issued_by": text(idc.get("idcard_issued_by")),
        "front_upload_times": None, "back_upload_times": None,
    }
    for side in ("front", "back"):
        block = _maybe_json(idc.get(f"{side}_side"), f"idcard_info.{side}_side")
        if isinstance(block, dict):
            flat.unknown(f"idcard_info.{side}_side.", block, _SIDE)
            row[f"{side}_upload_times"] = integer(block.get("upload_times"))
            ocr = _maybe_json(block.get("ocr_result"), f"idcard_info.{side}_side.ocr_result")
            if isinstance(ocr, dict):
                _ocr(ocr, side, ctx, flat, f"idcard_info.{side}_side.ocr_result.")
            elif ocr is not None:
                flat.unreadable(f"idcard_info.{side}_side.ocr_result", ocr)
        elif block is not None:
            flat.unreadable(f"idcard_info.{side}_side", block)
        quality = _maybe_json(idc.get(f"ocr_{side}_quality"), f"idcard_info.ocr_{side}_quality")
        if isinstance(quality, dict):
            _quality(quality, side, ctx, flat)
    flat.add("idcard", row)


def _ocr(ocr: dict, side: str, ctx: Context, flat: Flat, path: str) -> None:
    m = ctx.masker
    flat.unknown(path, ocr, _OCR)
    h, last4, plain = m.id_number(ocr.get("id_card_number"))
    birth_year = birth_date = None
    bd = ocr.get("birthday")
    if isinstance(bd, dict):
        flat.unknown(path + "birthday.", bd, _BIRTHDAY)
        birth_year = integer(bd.get("year"))
        mo, d = integer(bd.get("month")), integer(bd.get("day"))
        if birth_year and mo and d:
            birth_date = m.plain(f"{birth_year:04d}-{mo:02d}-{d:02d}")
    elif bd is not None:
        flat.unreadable(path + "birthday", bd)
    row = {
        "attempt": 1, "side": side, "id_number_hash": h, "id_number_last4": last4,
        "id_number": plain, "name": m.name(text(ocr.get("name"))),
        "gender": text(ocr.get("gender")), "ethnicity": text(ocr.get("race")),
        "birth_year": birth_year, "birth_date": birth_date,
        "address": m.address(text(ocr.get("address"))),
        "issued_by": text(ocr.get("issued_by")), "valid_date": text(ocr.get("valid_date")),
        "issue_date": None, "expire_date": None, "id_type": None,
        "legality_id_photo": None, "legality_temporary_id_photo": None,
        "legality_photocopy": None, "legality_screen": None, "legality_edited": None,
    }
    legality = ocr.get("legality")
    if isinstance(legality, dict):
        for k, v in legality.items():
            col = _LEGALITY.get(" ".join(str(k).split()).lower())  # "Temporary ID Photo " too
            if col is None:
                flat.extra[f"{path}legality.{k}"] = v
            elif v is not None:  # (as a threshold level's null)
                row[col] = opt_num(flat, f"{path}legality.{k}", v)
    elif legality is not None:
        flat.unreadable(path + "legality", legality)
    flat.add("idcard_ocr", row)


def _quality(quality: dict, side: str, ctx: Context, flat: Flat) -> None:
    m = ctx.masker
    for field, q in quality.items():
        path = f"idcard_info.ocr_{side}_quality.{field}"
        if q is None:  # not returned: no row, nothing to note (as the columnar path reads it)
            continue
        if not isinstance(q, dict):
            flat.unreadable(path, q)
            continue
        flat.unknown(path + ".", q, _QUALITY)
        result = text(q.get("result"))
        kind = _PII_QUALITY_FIELDS.get(field)
        if kind == "name":
            result = m.name(result)
        elif kind == "address":
            result = m.address(result)
        elif kind == "id":
            result = m.plain(result) if m.keep_pii else (m.id_number(result)[1] if result else None)
        elif kind == "drop":
            result = m.plain(result)
        flat.add("ocr_quality", {"side": side, "field": str(field),
                                 "quality": opt_num(flat, path + ".quality", q.get("quality")),
                                 "logic": integer(q.get("logic")), "result": result})


def _will(payload: dict, ctx: Context, flat: Flat) -> None:
    wr = _maybe_json(payload.get("will_result"), "will_result")
    if isinstance(wr, dict):
        wr = [wr]
    if isinstance(wr, list):
        for i, item in enumerate(wr, 1):
            if not isinstance(item, dict):
                flat.unreadable(f"will_result[{i}]", item)
                continue
            flat.unknown(f"will_result[{i}].", item, _WILL)
            flat.add("will_results", {"position": i, "result": text(item.get("result")),
                                      "will_error_message": text(item.get("will_error_message"))})
    elif wr is not None:
        flat.unreadable("will_result", wr)

    wf = _maybe_json(payload.get("will_file"), "will_file")
    if wf is None:
        return
    if not isinstance(wf, dict):
        flat.unreadable("will_file", wf)
        return
    flat.unknown("will_file.", wf, _WILL_FILE)
    if "will_video" in wf:
        media_row(flat, ctx, "will_video", wf["will_video"] or "", media_type="video", expect="url")
    if "will_audio" in wf:
        media_row(flat, ctx, "will_audio", wf["will_audio"] or "", media_type="audio", expect="url")
    details = wf.get("will_audio_details")
    if isinstance(details, dict):
        details = [details]
    if isinstance(details, list):
        for i, d in enumerate(details, 1):
            if not isinstance(d, dict):
                flat.unreadable(f"will_file.will_audio_details[{i}]", d)
                continue
            flat.unknown(f"will_file.will_audio_details[{i}].", d, _WILL_ANSWER)
            qa, ua = text(d.get("question_audio")), text(d.get("user_audio"))
            flat.add("will_answers", {
                "position": i, "question_text": text(d.get("question_text")),
                "standard_answer": text(d.get("standard_answer", d.get("stand_answer"))),
                "user_text": text(d.get("user_text")), "question_audio": qa, "user_audio": ua,
            })
            for name in ("question_audio", "user_audio"):
                if name in d:
                    media_row(flat, ctx, f"will_{name}_{i}", d[name] or "", media_type="audio",
                              expect="url")
    elif details is not None:
        flat.unreadable("will_file.will_audio_details", details)


# --- unknown keys, for the columnar path ---------------------------------------

class _Noted(Flat):
    """A :class:`Flat` that also counts the keys with a value that ``unknown`` notes, and
    the keys inside them (``seen``: keys the columnar reader ignored)."""

    __slots__ = ("seen",)

    def __init__(self):
        super().__init__()
        self.seen = 0

    def unknown(self, prefix: str, obj: dict, known: frozenset) -> None:
        if known.issuperset(obj):
            return
        super().unknown(prefix, obj, known)
        self.seen += sum(keys_in(v) + 1 for k, v in obj.items() if k not in known and v is not None)

    def note(self, path: str, value) -> None:
        """One key noted as the flatteners note a key they do not know in a block they
        read key by key (``flat.extra[path] = value``)."""
        self.extra[path] = value
        if value is not None:
            self.seen += keys_in(value) + 1


def keys_in(v) -> int:
    """The keys with a value inside ``v``, at every depth."""
    if isinstance(v, dict):
        return sum(keys_in(x) + 1 for x in v.values() if x is not None)
    if isinstance(v, list):
        return sum(keys_in(x) for x in v)
    return 0


_DETAILS = frozenset(EXPAND["liveness_result.details.*"])
_IMAGES = frozenset(EXPAND["images.*"])
_COMPARISONS = frozenset(EXPAND["verify_result.result_*"])
_QUALITY_FIELDS = {side: frozenset(EXPAND[f"idcard_info.ocr_{side}_quality.*"]) for side in ("front", "back")}
_LEGALITY_KEYS = known_keys("megvii_lite", "idcard_info.front_side.ocr_result.legality")
_LEGALITY_COLUMN = {k: _LEGALITY[" ".join(k.split()).lower()] for k in _LEGALITY_KEYS}


def unknown_keys(payload: dict, body: bool) -> tuple[dict, int] | None:
    """The ``extra`` :func:`flatten_megvii` gives ``payload`` where its only oddity is keys
    the spec lacks (the columnar path reads the rest): the same notes in the same order,
    and how many keys (with the keys inside them) were noted.  ``body``: whether more than
    the top level is read (not an API error body).  None where an unknown key means more
    than a note (an image, a liveness detail, a quality field, a comparison, an attack,
    a threshold level or legality key spelled another way) or a block is not an object:
    that record is the Python path's.  Keep in step with the flattener above
    (``tests/test_megvii_unknown_keys.py``)."""
    flat = _Noted()
    flat.unknown("", payload, _TOP)
    if not body:
        return flat.extra, flat.seen
    for key, read in _BLOCKS:                      # in the flattener's order
        block = payload.get(key)
        if block is not None and not (isinstance(block, dict) and read(block, flat)):
            return None
    if not _only(payload.get("images"), _IMAGES):
        return None
    if not _will_unknown(payload, flat):
        return None
    return flat.extra, flat.seen


def _biz_unknown(biz: dict, flat: _Noted) -> bool:
    flat.unknown("biz_info.", biz, _BIZ)
    return True


def _liveness_unknown(lr: dict, flat: _Noted) -> bool:
    flat.unknown("liveness_result.", lr, _LIVENESS)
    return _only(lr.get("details"), _DETAILS) and \
        _genuineness_unknown(lr.get("face_genuineness"), "liveness_result.face_genuineness", flat)


def _spelled_twice(obj: dict, columns: dict) -> bool:
    """Whether two keys of ``obj`` are spellings of one column (``columns``: spelling ->
    column): the later value wins here (a null one is no value: the earlier stays), and
    the columnar path leaves both values' records to this path."""
    got = [columns[k] for k in obj if k in columns]
    return len(got) != len(set(got))


def _columns_unknown(obj: dict, spellings: dict, column_of, prefix: str, flat: _Noted) -> bool:
    """The notes of a block whose keys each name a column (threshold levels, legality
    kinds): ``spellings`` the documented keys, ``column_of(key)`` the column another
    spelling reads as.  False where one column is written twice or an undocumented key
    still names a column: the Python path decides those."""
    if _spelled_twice(obj, spellings):
        return False
    for k, v in obj.items():
        if k in spellings:
            continue
        if column_of(k) is not None:      # a documented key spelled another way: a column
            return False
        flat.note(prefix + k, v)
    return True


def _only(obj, known: frozenset) -> bool:
    """Whether ``obj`` is absent, or an object whose every key is documented (a block whose
    keys each make a row: images, liveness details, quality fields)."""
    return obj is None or (isinstance(obj, dict) and known.issuperset(obj))


def _genuineness_unknown(fg, path: str, flat: _Noted) -> bool:
    """:func:`_genuineness`'s notes; False where a key is an attack the documents do not list."""
    if fg is None:
        return True
    if not isinstance(fg, dict):
        return False
    if not _ATTACK_KEY_SET.issuperset(fg):
        if any(k.endswith("_confidence") for k in fg.keys() - _ATTACK_KEY_SET):
            return False
        flat.unknown(path + ".", fg, _ATTACK_KEY_SET)
    return True


def _verify_unknown(vr: dict, flat: _Noted) -> bool:
    """:func:`_verify`'s notes, in its order."""
    for key, value in vr.items():
        if key in _VERIFY_FIXED:
            continue
        if not key.startswith("result_"):
            flat.note(f"verify_result.{key}", value)
            continue
        if key not in _COMPARISONS or not (value is None or isinstance(value, dict)):
            return False
        if value is None:
            continue
        path = f"verify_result.{key}"
        flat.unknown(path + ".", value, _COMPARISON)
        thresholds = value.get("thresholds")
        if isinstance(thresholds, dict):
            if not _columns_unknown(thresholds, LEVEL_KEYS, _level_column, f"{path}.thresholds.", flat):
                return False
        elif thresholds is not None:
            return False
    if not _genuineness_unknown(vr.get("face_genuineness"), "verify_result.face_genuineness", flat):
        return False
    ie = vr.get("id_exceptions")
    if isinstance(ie, dict):
        flat.unknown("verify_result.id_exceptions.", ie, _ID_EXC)
    return ie is None or isinstance(ie, dict)


def _idcard_unknown(idc: dict, flat: _Noted) -> bool:
    """:func:`_idcard`'s (and :func:`_ocr`'s) notes, in their order."""
    flat.unknown("idcard_info.", idc, _IDCARD)
    for side in ("front", "back"):
        block = idc.get(f"{side}_side")
        if isinstance(block, dict):
            flat.unknown(f"idcard_info.{side}_side.", block, _SIDE)
            ocr = block.get("ocr_result")
            path = f"idcard_info.{side}_side.ocr_result."
            if isinstance(ocr, dict):
                flat.unknown(path, ocr, _OCR)
                bd = ocr.get("birthday")
                if isinstance(bd, dict):
                    flat.unknown(path + "birthday.", bd, _BIRTHDAY)
                elif bd is not None:
                    return False
                legality = ocr.get("legality")
                if isinstance(legality, dict):
                    if not _columns_unknown(legality, _LEGALITY_COLUMN,
                                            lambda k: _LEGALITY.get(" ".join(k.split()).lower()),
                                            f"{path}legality.", flat):
                        return False
                elif legality is not None:
                    return False
            elif ocr is not None:
                return False
        elif block is not None:
            return False
        quality = idc.get(f"ocr_{side}_quality")
        if quality is None:
            continue
        if not _only(quality, _QUALITY_FIELDS[side]):
            return False
        for field, q in quality.items():
            if isinstance(q, dict):
                flat.unknown(f"idcard_info.ocr_{side}_quality.{field}.", q, _QUALITY)
            elif q is not None:
                return False
    return True


def _will_unknown(payload: dict, flat: _Noted) -> bool:
    """:func:`_will`'s notes, in its order."""
    if not _items_unknown(payload.get("will_result"), "will_result", _WILL, flat):
        return False
    wf = payload.get("will_file")
    if wf is None:
        return True
    if not isinstance(wf, dict):
        return False
    flat.unknown("will_file.", wf, _WILL_FILE)
    return _items_unknown(wf.get("will_audio_details"), "will_file.will_audio_details", _WILL_ANSWER, flat)


def _items_unknown(items, path: str, known: frozenset, flat: _Noted) -> bool:
    """The notes of a list of objects (absent: none); False where it is not one."""
    if items is None:
        return True
    if not isinstance(items, list) or not all(isinstance(x, dict) for x in items):
        return False
    for i, item in enumerate(items, 1):
        flat.unknown(f"{path}[{i}].", item, known)
    return True


# the payload's blocks :func:`unknown_keys` reads, each an object or absent (else: Python's)
_BLOCKS = (("biz_info", _biz_unknown), ("liveness_result", _liveness_unknown),
           ("verify_result", _verify_unknown), ("idcard_info", _idcard_unknown))


# --- callbacks -------------------------------------------------------------

_NOTIFY = frozenset({"data", "sign"})


def read_callback(payload) -> tuple[object, object, dict]:
    """``{data, sign}`` as a dict, a JSON string or a form-encoded body -> (data, sign, rest)."""
    if isinstance(payload, (bytes, bytearray)):
        payload = payload.decode("utf-8", "replace")
    if isinstance(payload, str):
        s = payload.strip()
        if s.startswith("{"):
            payload = orjson.loads(s)
        else:
            form = parse_qs(s, keep_blank_values=True)
            if "data" not in form:
                raise Unreadable("callback body has no data field")
            payload = {k: v[0] for k, v in form.items()}
    if not isinstance(payload, dict):
        raise Unreadable("callback body is not an object")
    rest = {k: v for k, v in payload.items() if k not in _NOTIFY}
    return payload.get("data"), payload.get("sign"), rest


def flatten_notify(payload, ctx: Context, flat: Flat) -> None:
    """A callback: verify its sign with the api_secret, then flatten ``data``."""
    data, sign, rest = read_callback(payload)
    for k, v in rest.items():
        flat.extra[k] = v
    if data is None:
        raise Unreadable("callback has no data")
    if is_nullish(sign):
        raise Unreadable("callback has no sign: it cannot be verified, so it is not trusted")
    if not ctx.megvii_api_secret:
        raise Unreadable("MEGVII_API_SECRET is not set: the callback sign cannot be verified")
    if isinstance(data, str):
        candidates = (data,)
    elif isinstance(data, dict):
        # Logged after parsing: the bytes that were signed are gone; try the usual encodings.
        import json
        candidates = (json.dumps(data, ensure_ascii=False, separators=(",", ":")),
                      json.dumps(data, ensure_ascii=False), json.dumps(data),
                      json.dumps(data, separators=(",", ":")))
    else:
        raise Unreadable("callback data is neither JSON text nor an object")
    if not any(verify_callback_sign(c, str(sign), ctx.megvii_api_secret) for c in candidates):
        raise Unreadable("callback sign does not match sha1(api_secret + data): not trusted")
    body = data
    if isinstance(body, str):
        try:
            body = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise Unreadable("callback data is not valid JSON") from None
    if not isinstance(body, dict):
        raise Unreadable("callback data is not a JSON object")
    flat.session["sign_verified"] = True
    flatten_megvii(body, ctx, flat)


def session_id_of(payload) -> str | None:
    """The biz_id a Megvii payload (or callback) names, if any."""
    if not isinstance(payload, dict):
        return None
    biz = payload.get("biz_info")
    if isinstance(biz, dict) and biz.get("biz_id") is not None:
        return text(biz.get("biz_id"))
    if payload.get("biz_id") is not None:
        return text(payload.get("biz_id"))
    if "data" in payload:
        data = payload["data"]
        if isinstance(data, str):
            try:
                data = orjson.loads(data)
            except orjson.JSONDecodeError:
                return None
        return session_id_of(data)
    return None


_EPOCH_PREFIX = re.compile(r"^\s*(\d{10})(?:\.\d+)?\s*,")


def biz_id_epoch_us(biz_id):
    """The Unix time leading a Megvii biz_id (``"1462259748,52b1…"``), in µs."""
    if not isinstance(biz_id, str):
        return None
    m = _EPOCH_PREFIX.match(biz_id)
    return epoch_to_us(m.group(1)) if m else None


__all__ = ["flatten_megvii", "flatten_notify", "verify_callback_sign", "read_callback",
           "session_id_of", "biz_id_epoch_us"]
