"""Flatteners for Baidu faceprint H5 post-verification payloads.

``result/detail``, ``result/simple``, ``result/stat``, ``result/getall`` and
``result/media/query``.  Errors come in two forms, both answered with HTTP 200:
``{"error_code": 110, "error_msg": …}`` (platform) and
``{"success": false, "code": …, "message": …}`` (faceprint); codes and log ids
arrive as ints or strings.  Baidu times (``"2023-6-20 18:00:00"``) are Beijing
time and are stored in UTC.
"""
from __future__ import annotations

from .._coerce import (TIME_MAX_US, TIME_MIN_US, Unreadable, boolean, check_time, cn_time_to_us, code_text,
                       integer,
                       is_nullish, non_finite, text)
from ..schema import CONFIDENCE_RANGE
from ._common import Context, Flat, _put, media_row, number, opt_num
from .fields import BAIDU, EXPAND, known_keys

_LO, _HI = CONFIDENCE_RANGE  # Baidu's scores, thresholds and spoofing scores: 0-100
_INF = float("inf")


def _score(flat: Flat, prefix: str, key: str, v, strict: bool = True):
    """``number(flat, prefix + key, v, strict=strict, lo=0, hi=100)``; a plain number in
    range (nearly every value) is taken without building the path a note would need."""
    t = type(v)
    if (t is float or t is int) and _LO <= v <= _HI:
        return float(v)
    return number(flat, prefix + key, v, strict=strict, lo=_LO, hi=_HI)


def _opt_num(flat: Flat, prefix: str, key: str, v):
    """``opt_num(flat, prefix + key, v)``; a finite float is taken as it is, the path
    built only for another value."""
    if type(v) is float and -_INF < v < _INF:
        return v
    return opt_num(flat, prefix + key, v)


def _time(flat: Flat, prefix: str, key: str, v):
    """A Beijing time, in the accepted window (else the record is quarantined); the path
    (``prefix + key``) is built only for a note or a reason."""
    us = cn_time_to_us(v)
    if us is not None and TIME_MIN_US <= us <= TIME_MAX_US:
        return us
    path = prefix + key
    us = check_time(us, v, path)
    if us is None and not is_nullish(v):
        flat.unreadable(path, v)
    return us


def _when(flat: Flat, i: int, key: str, v):
    """:func:`_time` of a getall attempt's field: the documents' form read in line, the
    path (``result.verify_result[i].key``) built only for a note or a reason."""
    if v is None:
        return None
    if type(v) is str and len(v) == 19:
        us = cn_time_to_us(v)
        if us is not None and TIME_MIN_US <= us <= TIME_MAX_US:
            return us
    return _time(flat, f"result.verify_result[{i}].", key, v)


from .megvii import _maybe_json, _Noted, keys_in

# The keys each documented object has, from the field spec (``fields.py``): any other
# key lands in ``extra``.
_ENVELOPE = {src: known_keys(src) for src in BAIDU}
_DETAIL = known_keys("baidu_detail", "result")
_DETAIL_VERIFY = known_keys("baidu_detail", "result.verify_result")
_OCR = known_keys("baidu_getall", "result.verify_result[].idcard_ocr_result")
_CONFIRM = known_keys("baidu_getall", "result.verify_result[].idcard_confirm")
_GETALL = known_keys("baidu_getall", "result")
_ATTEMPT = known_keys("baidu_getall", "result.verify_result[]")
_VERIFY_DETAIL = known_keys("baidu_getall", "result.verify_result[].verify_detail")
_STAT_ITEM = known_keys("baidu_stat", "result.Verify_FIN[]")
_SIMPLE = known_keys("baidu_simple", "result")
_MEDIA = known_keys("baidu_media", "result")


def _envelope(payload: dict, flat: Flat, source: str) -> dict | None:
    """Common fields; returns ``result`` for a success body, None for an error body."""
    s = flat.session
    known = _ENVELOPE[source]
    if not known.issuperset(payload):
        flat.unknown("", payload, known)
    # Every record passes here: the usual values (an int log id, a bool success, no
    # error code) are taken in line, any other through the readers.
    log_id = payload.get("log_id")
    s["log_id"] = str(log_id) if type(log_id) is int else code_text(log_id)
    success = payload.get("success")
    if type(success) is not bool:
        success = boolean(success)
    s["success"] = success
    code = payload.get("error_code")
    if code is not None:
        code = code_text(code)
    if code not in (None, "0") and not success:  # the platform's error_code 0 means success
        s["status"] = s["error"] = code
        s["error_message"] = text(payload.get("error_msg"))
        return None
    if success is False or (success is None and payload.get("code") is not None
                            and code_text(payload.get("code")) not in ("0", None)):
        code = code_text(payload.get("code"))
        s["status"] = s["error"] = code or "FAILED"
        s["error_message"] = text(payload.get("message"))
        return None
    if success is None and "result" not in payload:
        raise Unreadable("Baidu body has neither success, result nor an error code")
    s["status"] = "OK"
    s["error_message"] = text(payload.get("message"))
    result = payload.get("result")
    return _maybe_json(result, "result") if isinstance(result, str) else result


def _result(payload: dict, flat: Flat, source: str) -> dict | None:
    """The ``result`` object of a success body; None for an error body or no result."""
    result = _envelope(payload, flat, source)
    if result is None:
        return None
    if not isinstance(result, dict):
        flat.unreadable("result", result)
        return None
    return result


def flatten_detail(payload: dict, ctx: Context, flat: Flat) -> None:
    result = _result(payload, flat, "baidu_detail")
    if payload.get("is_demote") is not None:
        flat.session["is_demote"] = boolean(payload["is_demote"])
    if result is None:
        return
    flat.unknown("result.", result, _DETAIL)
    if not is_nullish(result.get("is_demote")):  # "" and "null" are not an answer either
        flat.session["is_demote"] = boolean(result["is_demote"])
    vr = _maybe_json(result.get("verify_result"), "result.verify_result")
    if isinstance(vr, dict):
        flat.unknown("result.verify_result.", vr, _DETAIL_VERIFY)
        if "score" in vr:
            _comparison(flat, None, _score(flat, "result.verify_result.", "score", vr.get("score")), None)
        flat.session["liveness_score"] = opt_num(flat, "result.verify_result.liveness_score",
                                                 vr.get("liveness_score"))
        if "spoofing" in vr:
            _spoofing(flat, None, _score(flat, "result.verify_result.", "spoofing", vr.get("spoofing")))
    elif vr is not None:
        flat.unreadable("result.verify_result", vr)
    _identity(result, None, ctx, flat, "result.")


def _comparison(flat: Flat, attempt, score, threshold) -> None:
    # a tuple in row_fields("comparisons") order: comparison, attempt, confidence, the four
    # threshold levels (Baidu gives one threshold, no levels), threshold
    _put(flat, "comparisons", ("faceprint", attempt, score, None, None, None, None, threshold))


def _spoofing(flat: Flat, attempt, score) -> None:
    # Baidu's "合成图" (synthetic image) score; the documents give it no threshold.
    # (attack, attempt, confidence, threshold, flagged)
    _put(flat, "genuineness", ("synthetic_face", attempt, score, None, None))


def _identity(block: dict, attempt, ctx: Context, flat: Flat, path: str) -> None:
    """idcard_confirm, idcard_ocr_result and idcard_images, wherever they sit.

    The getall table puts OCR and images beside ``idcard_confirm``; its example
    nests them inside.  Both are read.
    """
    m = ctx.masker
    confirm, ocr, images = block.get("idcard_confirm"), block.get("idcard_ocr_result"), block.get("idcard_images")
    if isinstance(confirm, str):  # an object sent as JSON text (the paths only then)
        confirm = _maybe_json(confirm, path + "idcard_confirm")
    if isinstance(ocr, str):
        ocr = _maybe_json(ocr, path + "idcard_ocr_result")
    if isinstance(images, str):
        images = _maybe_json(images, path + "idcard_images")
    ipath = opath = path
    if isinstance(confirm, dict):
        if not _CONFIRM.issuperset(confirm):  # the path built only for a note
            flat.unknown(path + "idcard_confirm.", confirm, _CONFIRM)
        if ocr is None and "idcard_ocr_result" in confirm:
            ocr, opath = _maybe_json(confirm["idcard_ocr_result"], "ocr"), path + "idcard_confirm."
        if images is None and "idcard_images" in confirm:
            images, ipath = _maybe_json(confirm["idcard_images"], "img"), path + "idcard_confirm."
        h, last4, plain = m.id_number(confirm.get("idcard_number"))
        # row_fields("idcard") order: attempt, idcard_mode, idcard_mode_user,
        # idcard_uneditable_field, id_type, id_number_hash, id_number_last4, id_number, name,
        # valid_date, issued_by, front_upload_times, back_upload_times
        _put(flat, "idcard", (attempt, None, None, None, text(confirm.get("idcard_type")), h, last4, plain,
                              m.name(text(confirm.get("name"))), None, None, None, None))
    elif confirm is not None:
        flat.unreadable(path + "idcard_confirm", confirm)
    if isinstance(ocr, dict):
        _ocr(ocr, attempt, ctx, flat, opath + "idcard_ocr_result.")
    elif ocr is not None:
        flat.unreadable(opath + "idcard_ocr_result", ocr)
    if isinstance(images, dict):
        for k, v in images.items():
            # detail: front_base64/back_base64 (bare base64); getall: front_image/back_image (URLs)
            expect = "blob" if str(k).endswith("base64") else "any"
            media_row(flat, ctx, f"idcard_{k}", v, attempt=attempt, expect=expect)
    elif images is not None:
        flat.unreadable(ipath + "idcard_images", images)


def _ocr(ocr: dict, attempt, ctx: Context, flat: Flat, path: str) -> None:
    m = ctx.masker
    if not _OCR.issuperset(ocr):
        flat.unknown(path, ocr, _OCR)
    get = ocr.get
    h, last4, plain = m.id_number(get("id_card_number", get("idcard_number")))
    birthday = text(get("birthday"))
    head = (birthday or "")[:10]
    digits = head if head.isdigit() else "".join(filter(str.isdigit, head))
    birth_year = integer(digits[:4]) if len(digits) >= 4 else None
    # row_fields("idcard_ocr") order: attempt, side, id_number_hash, id_number_last4, id_number,
    # name, gender, ethnicity, birth_year, birth_date, address, issued_by, valid_date,
    # issue_date, expire_date, id_type, then the five legality scores (none from Baidu)
    _put(flat, "idcard_ocr", (
        attempt, "both", h, last4, plain, m.name(text(get("name"))), text(get("gender")),
        text(get("nation")), birth_year, m.plain(birthday), m.address(text(get("address"))),
        text(get("issue_authority")), None, text(get("issue_time")), text(get("expire_time")),
        text(get("idcard_type")), None, None, None, None, None))


def flatten_simple(payload: dict, ctx: Context, flat: Flat) -> None:
    result = _result(payload, flat, "baidu_simple")
    if result is None:
        return
    flat.unknown("result.", result, _SIMPLE)
    if "image" in result:
        media_row(flat, ctx, "image", result["image"], expect="any")


def flatten_stat(payload: dict, ctx: Context, flat: Flat) -> None:
    result = _result(payload, flat, "baidu_stat")
    if result is None:
        return
    # Ten error counts a record, each a few values: the usual value (an int count, an
    # int or text code, no unknown key) is taken in line and every other goes through
    # the readers; the paths a note needs are built only for a note.
    rows = flat.dict_rows.get("error_counts")
    for api, items in result.items():
        if isinstance(items, str):
            items = _maybe_json(items, f"result.{api}")
        if isinstance(items, dict):
            items = [items]
        if not isinstance(items, list):
            flat.unreadable(f"result.{api}", items)
            continue
        api_s = str(api)
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                flat.unreadable(f"result.{api}[{i}]", item)
                continue
            if not _STAT_ITEM.issuperset(item):
                flat.unknown(f"result.{api}[{i}].", item, _STAT_ITEM)
            c = item.get("count")
            if type(c) is int:
                count = c
            else:
                count = integer(c)
                if count is None and not is_nullish(c):
                    flat.unreadable(f"result.{api}[{i}].count", c)
            code = item.get("error_code")
            row = {"api": api_s, "error_code": str(code) if type(code) is int else code_text(code),
                   "count": count}
            if rows is None:
                rows = flat.dict_rows["error_counts"] = [row]
            else:
                rows.append(row)


def flatten_getall(payload: dict, ctx: Context, flat: Flat) -> None:
    s = flat.session
    result = _result(payload, flat, "baidu_getall")
    if result is None:
        return
    flat.unknown("result.", result, _GETALL)
    for k in ("verify_count", "ocr_charge_count", "match_charge_count", "verify_charge_count"):
        s[k] = integer(result.get(k))
    attempts = _maybe_json(result.get("verify_result"), "result.verify_result")
    if isinstance(attempts, dict):
        attempts = [attempts]
    if attempts is None:
        return
    if not isinstance(attempts, list):
        flat.unreadable("result.verify_result", attempts)
        return
    latest = None
    attempt_rows = None
    for i, a in enumerate(attempts, 1):
        if not isinstance(a, dict):
            flat.unreadable(f"result.verify_result[{i}]", a)
            continue
        # The usual value of each field (a number in range, a time in the documents' form,
        # no unknown key) is taken in line; any other goes through the readers, which build
        # the path a note or a reason needs (in the order the fields are read: notes land
        # in ``extra`` in that order).
        if not _ATTEMPT.issuperset(a):
            flat.unknown(f"result.verify_result[{i}].", a, _ATTEMPT)
        get = a.get
        order = get("order")
        if type(order) is not int:
            order = integer(order)
        attempt = order if order is not None else i
        vd = get("verify_detail")
        if isinstance(vd, str):
            vd = _maybe_json(vd, f"result.verify_result[{i}].verify_detail")
        if not isinstance(vd, dict):
            if vd is not None:
                flat.unreadable(f"result.verify_result[{i}].verify_detail", vd)
            vd = {}
        elif not _VERIFY_DETAIL.issuperset(vd):
            flat.unknown(f"result.verify_result[{i}].verify_detail.", vd, _VERIFY_DETAIL)
        dget = vd.get
        v = dget("score")
        t = type(v)
        score = float(v) if (t is float or t is int) and _LO <= v <= _HI else \
            _score(flat, f"result.verify_result[{i}].verify_detail.", "score", v)
        v = dget("threshold")
        t = type(v)
        threshold = float(v) if (t is float or t is int) and _LO <= v <= _HI else \
            _score(flat, f"result.verify_result[{i}].verify_detail.", "threshold", v, strict=False)
        v = dget("spoofing_score")
        t = type(v)
        spoofing = float(v) if (t is float or t is int) and _LO <= v <= _HI else \
            _score(flat, f"result.verify_result[{i}].verify_detail.", "spoofing_score", v)
        verify_time = _when(flat, i, "verify_time", get("verify_time"))
        if verify_time is not None and (latest is None or verify_time > latest):
            latest = verify_time
        charge_time = _when(flat, i, "charge_time", get("charge_time"))
        v = dget("liveness_score")
        liveness = v if type(v) is float and -_INF < v < _INF else \
            _opt_num(flat, f"result.verify_result[{i}].verify_detail.", "liveness_score", v)
        ocr_charge_time = _when(flat, i, "ocr_charge_time", get("ocr_charge_time"))
        v = get("ocr_count")
        # row_fields("attempts") order: attempt, passed, code, message, verify_time, charged,
        # charge_type, charge_time, score, threshold, liveness_score, spoofing_score,
        # risk_level, risk_tag, is_demote, ocr_charged, ocr_charge_time, ocr_count, verify_log_id
        if attempt_rows is None:
            attempt_rows = flat.tuples.setdefault("attempts", [])
        attempt_rows.append((
            attempt, boolean(get("is_verify_passed")), code_text(get("code")), text(get("message")),
            verify_time, boolean(get("is_charged")), text(get("charge_type")), charge_time,
            score, threshold, liveness, spoofing, code_text(dget("risk_level")), text(dget("risk_tag")),
            boolean(dget("is_demote")), boolean(get("is_ocr_charge")), ocr_charge_time,
            v if type(v) is int else integer(v), text(dget("verify_log_id"))))
        # An attempt stopped before the comparison has no score: still a comparison row,
        # so a rejection is counted, with a null confidence.
        _comparison(flat, attempt, score, threshold)
        if "spoofing_score" in vd:
            _spoofing(flat, attempt, spoofing)
        if "face_image" in vd:
            media_row(flat, ctx, "face_image", vd["face_image"], attempt=attempt, expect="any")
        if "idcard_confirm" in a or "idcard_ocr_result" in a or "idcard_images" in a:
            _identity(a, attempt, ctx, flat, f"result.verify_result[{i}].")
    s["verify_time"] = latest


def flatten_media(payload: dict, ctx: Context, flat: Flat) -> None:
    result = _result(payload, flat, "baidu_media")
    if result is None:
        return
    flat.unknown("result.", result, _MEDIA)
    for key, kind in (("processVideo", "video"), ("video", "video"), ("images", "image")):
        items = result.get(key)
        if items is None:
            continue
        if isinstance(items, str):
            items = [items]
        if not isinstance(items, list):
            flat.unreadable(f"result.{key}", items)
            continue
        for i, url in enumerate(items, 1):
            media_row(flat, ctx, f"{key}_{i}", url, media_type=kind, expect="url")
    ext = result.get("extInfo")
    flat.session["ext_info"] = ext if isinstance(ext, str) or ext is None else str(ext)


def unknown_keys(source: str, payload: dict, body: bool) -> tuple[dict, int] | None:
    """The ``extra`` the flattener above gives ``payload``, where its only oddity is keys
    the spec lacks (the columnar path reads the rest): the same ``Flat.unknown`` calls,
    in the same order; and how many keys (with the keys inside them) it noted.
    ``body``: whether ``result`` is read (a success with an object).  None where an
    unknown key means more than ``extra`` (an ``idcard_images`` key is an image, a
    ``stat`` key an API that may have counts) or an object is not one: that record is
    the Python path's.  Keep in step with the flatteners
    (``tests/test_baidu_unknown_keys.py``)."""
    flat = _Noted()
    flat.unknown("", payload, _ENVELOPE[source])
    if not body:
        return flat.extra, flat.seen
    result = payload.get("result")
    if not isinstance(result, dict):
        return None
    if source == "baidu_detail":
        flat.unknown("result.", result, _DETAIL)
        vr = result.get("verify_result")
        if isinstance(vr, dict):
            flat.unknown("result.verify_result.", vr, _DETAIL_VERIFY)
        elif vr is not None:
            return None
        if not _identity_unknown(result, flat, "result.", source):
            return None
    elif source == "baidu_getall":
        flat.unknown("result.", result, _GETALL)
        attempts = result.get("verify_result")
        if attempts is not None and not isinstance(attempts, list):
            return None
        for i, a in enumerate(attempts or (), 1):
            path = f"result.verify_result[{i}]."
            if not isinstance(a, dict):
                return None
            flat.unknown(path, a, _ATTEMPT)
            vd = a.get("verify_detail")
            if isinstance(vd, dict):
                if not _VERIFY_DETAIL.issuperset(vd):
                    flat.unknown(path + "verify_detail.", vd, _VERIFY_DETAIL)
            elif vd is not None:
                return None
            if not _identity_unknown(a, flat, path, source):
                return None
    elif source == "baidu_stat":
        for api, items in result.items():
            if api not in _STAT_APIS:
                if not _unknown_api(flat, api, items):
                    return None
                continue
            if not isinstance(items, list):  # a null list is noted as unreadable
                return None
            for i, item in enumerate(items):
                if not isinstance(item, dict):
                    return None
                if not _STAT_ITEM.issuperset(item):  # the path built only for a note
                    flat.unknown(f"result.{api}[{i}].", item, _STAT_ITEM)
    else:
        flat.unknown("result.", result, _SIMPLE if source == "baidu_simple" else _MEDIA)
    return flat.extra, flat.seen


_STAT_APIS = frozenset(EXPAND["result.*"])


def _unknown_api(flat: _Noted, api: str, items) -> bool:
    """:func:`flatten_stat`'s notes on a ``result`` key the spec does not name (an API to
    it) whose value gives no ``error_counts`` row; False where it may give one (an
    object, JSON text) or counts an invalid value."""
    if isinstance(items, dict) or (isinstance(items, str) and items.strip()[:1] in ("{", "[")):
        return False
    if not isinstance(items, list):
        items, paths = [items], [f"result.{api}"]
    else:
        paths = [f"result.{api}[{i}]" for i in range(len(items))]
    for path, item in zip(paths, items):
        if isinstance(item, dict) or non_finite(item):
            return False
        flat.unreadable(path, item)
    if items is not None:
        flat.seen += 1 + keys_in(items)
    return True


_IMAGES = {src: frozenset(EXPAND[f"{src}:idcard_images.*"]) for src in ("baidu_detail", "baidu_getall")}


def _identity_unknown(block: dict, flat: _Noted, path: str, source: str) -> bool:
    """:func:`_identity`'s ``Flat.unknown`` calls; False where it would do more."""
    confirm, ocr, images = (block.get(k) for k in ("idcard_confirm", "idcard_ocr_result", "idcard_images"))
    opath = path
    if isinstance(confirm, dict):
        if not _CONFIRM.issuperset(confirm):  # the paths built only for a note
            flat.unknown(path + "idcard_confirm.", confirm, _CONFIRM)
        if ocr is None and "idcard_ocr_result" in confirm:
            ocr, opath = confirm["idcard_ocr_result"], path + "idcard_confirm."
        if images is None and "idcard_images" in confirm:
            images = confirm["idcard_images"]
    elif confirm is not None:
        return False
    if isinstance(ocr, dict):
        if not _OCR.issuperset(ocr):
            flat.unknown(opath + "idcard_ocr_result.", ocr, _OCR)
    elif ocr is not None:
        return False
    return images is None or (isinstance(images, dict) and _IMAGES[source].issuperset(images))
