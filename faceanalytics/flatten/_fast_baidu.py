"""The columnar reading of Baidu faceprint payloads (detail, simple, stat, getall, media).

Column for column what ``baidu.py`` does row by row; where the Python flattener
tells an absent key from a null one, the line's bytes decide.
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .._coerce import integer
from ._fast import _MAX_OPENERS, Extracted, Group, Media, Rows, View, _unmark, envelope_columns, unknown_extra, whole
from ._fast_megvii import _Lines
from .baidu import unknown_keys
from .fields import EXPAND


def extract(g: Group, received_us: int, masker, secret) -> Extracted:
    n = g.table.num_rows
    slow = np.zeros(n, bool)  # keys the spec lacks (``g.slow``) are read last: ``_unknown``
    sids, fetched, http, payload = envelope_columns(g, slow, received_us)
    if sids is None:  # a bare Baidu payload carries no verify_token: Python quarantines it
        slow[:] = True
        sids = [None] * n
    slow |= np.fromiter((x is None for x in sids), bool, n)
    lines = _Lines(g)
    v = View(payload, slow)
    v.lines = lines
    out = Rows()
    rec = np.arange(n)
    s = v.get
    src = g.source

    # --- the envelope: two error forms, both answered with HTTP 200
    log_id = s(("log_id",), "code")
    success = s(("success",), "bool")
    code = s(("error_code",), "code")
    fcode = s(("code",), "code")
    err_msg = s(("error_msg",), "str")
    message = s(("message",), "str")
    result_valid = v.valid(("result",))
    status, error, use_msg, is_ok = _outcome(success, code, fcode)
    odd = np.flatnonzero(is_ok & np.asarray(success.is_null()) & ~result_valid)
    slow[odd[~lines.nulls(odd, "result")]] = True  # neither success, result nor an error code: quarantined
    body = is_ok & result_valid  # records with a result object to read
    sess = {"time_basis": None, "http_status": http, "status": status,
            "error": error, "log_id": log_id, "success": success,
            "error_message": pc.if_else(pa.array(use_msg), message, err_msg)}

    if src == "baidu_detail":
        top = s(("is_demote",), "bool")
        inner = pc.if_else(pa.array(body), s(("result", "is_demote"), "bool"), pa.scalar(None, pa.bool_()))
        sess["is_demote"] = pc.coalesce(inner, top)
        vr = ("result", "verify_result")
        vr_valid = v.valid(vr) & body
        score = s(vr + ("score",), "conf")
        sess["liveness_score"] = pc.if_else(pa.array(vr_valid), s(vr + ("liveness_score",), "float"),
                                            pa.scalar(None, pa.float64()))
        has_score = _present(v, lines, vr_valid, vr + ("score",))
        out.emit("comparisons", rec, {"comparison": pa.scalar("faceprint"), "confidence": score},
                 has_score)
        spoof = s(vr + ("spoofing",), "conf")
        out.emit("genuineness", rec, {"attack": pa.scalar("synthetic_face"), "confidence": spoof},
                 _present(v, lines, vr_valid, vr + ("spoofing",)))
        _identity(v, out, rec, body, ("result",), None, masker, lines)
    elif src == "baidu_getall":
        res = ("result",)
        for k in ("verify_count", "ocr_charge_count", "match_charge_count", "verify_charge_count"):
            sess[k] = pc.if_else(pa.array(body), s(res + (k,), "int"), pa.scalar(None, pa.int64()))
        sess["verify_time"] = _attempts(v, out, body, masker, lines)
    elif src == "baidu_stat":
        _stat(v, out, body, lines)
    elif src == "baidu_media":
        ext = v.node(("result", "extInfo"))
        if ext is not None:
            vals = [None if x is None else _unmark(x) for x in ext.to_pylist()]
            sess["ext_info"] = pa.array([None if not body[i] or x is None else
                                         (x if isinstance(x, str) else str(x)) for i, x in enumerate(vals)],
                                        pa.string())
    blobs = _media(v, out, body, sids, src, masker)

    vt = sess.get("verify_time")
    fetched_arr = pa.array(fetched, pa.int64())
    if vt is None:
        session_time, basis = fetched_arr, pa.scalar("fetched_at")
    else:
        session_time = pc.coalesce(vt, fetched_arr)
        basis = pc.if_else(pc.is_valid(vt), "verify_time", "fetched_at")
        sess["verify_time"] = vt.cast(pa.timestamp("us", tz="UTC"))
    sess["time_basis"] = basis
    sess["extra"] = _unknown(g, slow, body, src)
    out.emit("sessions", rec, sess)

    e = Extracted()
    e.slow = slow
    e.source = [src] * n
    e.session_id = sids
    e.fetched_us = fetched.tolist()
    e.session_time_us = session_time.to_pylist()
    e.ok = is_ok.tolist()
    e.tables = out.tables()
    e.blobs = blobs
    return e


def _unknown(g: Group, slow: np.ndarray, body: np.ndarray, src: str) -> pa.Array | None:
    """``sessions.extra`` of the records whose keys the spec lacks (``g.slow``), noted as
    the Python flattener notes them (:func:`.baidu.unknown_keys`, through
    :func:`._fast.unknown_extra`).  Such a record is still the Python path's (``slow``)
    where the line's keys are not those the reader read and those the spec lacks (a key
    written twice, say), or where an unknown key means more than a note (an image, a
    ``stat`` API with counts)."""
    odd = np.flatnonzero(g.slow & ~slow)
    slow |= g.slow
    if not len(odd):
        return None
    rec = odd.tolist()
    return unknown_extra(g, odd, rec, slow, lambda j, env: unknown_keys(src, env["payload"], bool(body[rec[j]])))


def _outcome(success: pa.Array, code: pa.Array, fcode: pa.Array):
    """Each record's status and error, and which message goes with it, from the two
    error forms: ``error_code`` (not 0, without success) is the platform's error, its
    message ``error_msg``; ``success`` false, or absent with a ``code`` other than 0, is
    the faceprint error ``code`` (``FAILED`` without one), its message ``message``;
    anything else is OK.  Column by column (a loop over the records cost half of a
    simple chunk's flattening).  -> (status, error, use ``message``, ok)."""
    def np_(a) -> np.ndarray:
        return np.asarray(pc.fill_null(a, False))
    succ_true, succ_null = np_(success), np.asarray(success.is_null())
    platform = np.asarray(code.is_valid()) & ~np_(pc.equal(code, "0")) & ~succ_true
    faceprint = ~platform & (np_(pc.equal(success, False))
                             | (succ_null & np.asarray(fcode.is_valid()) & ~np_(pc.equal(fcode, "0"))))
    ok = ~platform & ~faceprint
    named = np_(pc.not_equal(fcode, ""))  # a code written out (``code or "FAILED"``)
    failed = pc.if_else(pa.array(named), fcode, pa.scalar("FAILED"))
    status = pc.if_else(pa.array(platform), code,
                        pc.if_else(pa.array(faceprint), failed, pa.scalar("OK"))).cast(pa.string())
    error = pc.if_else(pa.array(ok), pa.scalar(None, pa.string()), status)
    return status, error, ~platform, ok


def _present(v: View, lines: _Lines, valid: np.ndarray, path: tuple) -> np.ndarray:
    """Where the Python path makes a row for ``key in block`` (``path`` ends with the key): a
    value, even one that reads as no number (``"null"``, ``""``), or a null written out (an
    absent key makes none)."""
    raw = v.node(path)
    has = valid & (np.asarray(raw.is_valid()) if raw is not None else False)
    r = v.rows[valid & ~has]
    v.slow[r[lines.nulls(r, path[-1])]] = True  # written as null: the Python path makes a row; let it
    return has


def _identity(v: View, out: Rows, rec, body, top: tuple, attempt, masker, lines) -> None:
    """idcard_confirm, and OCR and images beside it or inside it."""
    s = v.get
    conf = top + ("idcard_confirm",)
    cv = v.valid(conf) & body
    if cv.any():
        h, l4, plain = masker.id_numbers(s(conf + ("idcard_number",), "id"))
        out.emit("idcard", rec, {"attempt": attempt, "id_type": s(conf + ("idcard_type",), "str"),
                                 "id_number_hash": h, "id_number_last4": l4, "id_number": plain,
                                 "name": masker.names(s(conf + ("name",), "str"))}, cv)
    ocr = [top + ("idcard_ocr_result",), conf + ("idcard_ocr_result",)]
    beside = v.valid(ocr[0])
    ov = (beside | v.valid(ocr[1])) & body
    if ov.any():
        def pick(key, kind="str"):
            return pc.if_else(pa.array(beside), s(ocr[0] + (key,), kind), s(ocr[1] + (key,), kind))
        a, b = pick("id_card_number", "id"), pick("idcard_number", "id")
        amb = ov & ~np.asarray(a.is_valid()) & np.asarray(b.is_valid())
        r = v.rows[amb]
        v.slow[r[lines.nulls(r, "id_card_number")]] = True
        h, l4, plain = masker.id_numbers(pc.coalesce(a, b))
        birthday = pick("birthday")
        # the year: the first four digits among the first ten characters
        digits = pc.replace_substring_regex(pc.utf8_slice_codeunits(birthday, 0, 10), r"[^0-9]", "")
        years = pc.if_else(pc.greater_equal(pc.utf8_length(digits), 4),
                           pc.utf8_slice_codeunits(digits, 0, 4), pa.scalar(None, pa.string()))
        odd = pc.fill_null(pc.invert(pc.string_is_ascii(birthday)), False)
        if pc.any(odd).as_py():  # other digits (full-width, ...): as the Python path reads them
            years = pa.array([_year(b) if o else y for b, y, o in
                              zip(birthday.to_pylist(), years.to_pylist(), odd.to_pylist())], pa.string())
        out.emit("idcard_ocr", rec, {
            "attempt": attempt, "side": pa.scalar("both"), "id_number_hash": h, "id_number_last4": l4,
            "id_number": plain, "name": masker.names(pick("name")), "gender": pick("gender"),
            "ethnicity": pick("nation"), "birth_year": years.cast(pa.int32()),
            "birth_date": birthday if masker.keep_pii else None,
            "address": masker.addresses(pick("address")), "issued_by": pick("issue_authority"),
            "issue_date": pick("issue_time"), "expire_date": pick("expire_time"),
            "id_type": pick("idcard_type")}, ov)


def _year(birthday):
    digits = "".join(ch for ch in (birthday or "")[:10] if ch.isdigit())
    y = integer(digits[:4]) if len(digits) >= 4 else None
    return None if y is None else str(y)


def _attempts(v: View, out: Rows, body, masker, lines):
    """getall's verify_result[]: attempts, their comparisons and identity blocks.
    -> each record's latest attempt verify_time."""
    items, pos = v.items(("result", "verify_result"))
    n = v.n
    if items is None or not items.n:
        return pa.nulls(n, pa.int64())
    items.mark(~np.asarray(items.root.is_valid()))
    items.lines = None
    keep = body[items.rows]
    s = items.get
    order = s(("order",), "int")
    attempt = pc.coalesce(order, pa.array(pos, pa.int64()))
    vd = ("verify_detail",)
    score = s(vd + ("score",), "conf")
    threshold = s(vd + ("threshold",), "conf?")
    spoof = s(vd + ("spoofing_score",), "conf")
    vt = s(("verify_time",), "cntime")
    out.emit("attempts", items.rows, {
        "attempt": attempt, "passed": s(("is_verify_passed",), "bool"), "code": s(("code",), "code"),
        "message": s(("message",), "str"),
        "verify_time": vt.cast(pa.timestamp("us", tz="UTC")), "charged": s(("is_charged",), "bool"),
        "charge_type": s(("charge_type",), "str"),
        "charge_time": s(("charge_time",), "cntime").cast(pa.timestamp("us", tz="UTC")),
        "score": score, "threshold": threshold,
        "liveness_score": s(vd + ("liveness_score",), "float"), "spoofing_score": spoof,
        "risk_level": s(vd + ("risk_level",), "code"), "risk_tag": s(vd + ("risk_tag",), "str"),
        "is_demote": s(vd + ("is_demote",), "bool"), "ocr_charged": s(("is_ocr_charge",), "bool"),
        "ocr_charge_time": s(("ocr_charge_time",), "cntime").cast(pa.timestamp("us", tz="UTC")),
        "ocr_count": s(("ocr_count",), "int"), "verify_log_id": s(vd + ("verify_log_id",), "str"),
    }, keep)
    out.emit("comparisons", items.rows, {"comparison": pa.scalar("faceprint"), "attempt": attempt,
                                         "confidence": score, "threshold": threshold}, keep)
    out.emit("genuineness", items.rows, {"attack": pa.scalar("synthetic_face"), "attempt": attempt,
                                         "confidence": spoof},
             _present(items, lines, items.valid(vd) & keep, vd + ("spoofing_score",)))
    items.attempt = attempt
    _identity(items, out, items.rows, keep, (), attempt, masker, lines)
    # the latest attempt's time is the session's
    latest = np.full(n, np.iinfo(np.int64).min)
    t = vt.to_numpy(zero_copy_only=False)
    ok = np.asarray(vt.is_valid()) & keep
    np.maximum.at(latest, items.rows[ok], t[ok].astype(np.int64))
    return pa.array(latest, pa.int64(), mask=latest == np.iinfo(np.int64).min)


def _stat(v: View, out: Rows, body, lines) -> None:
    for api in EXPAND["result.*"]:
        path = ("result", api)
        node = v.node(path)
        if node is None:
            continue
        r = np.flatnonzero(body & ~np.asarray(node.is_valid()))
        v.slow[r[lines.nulls(r, api)]] = True  # a null list: the Python path notes it
        items, _ = v.items(path)
        if items is None or not items.n:
            continue
        items.mark(~np.asarray(items.root.is_valid()))
        out.emit("error_counts", items.rows, {"api": pa.scalar(api),
                                              "error_code": items.get(("error_code",), "code"),
                                              "count": items.get(("count",), "int")}, body[items.rows])


def _media(v: View, out: Rows, body, sids, src, masker) -> list:
    """Media rows, as the Python path makes them (see :class:`~._fast.Media`)."""
    media = Media(src, sids, masker, v.slow)

    def each(view, path, field, mt, expect, attempts=None, keep=None):
        a = view.node(path)
        if a is not None:
            media.add(view.rows, a, field, mt, expect, attempts, keep)

    def identity_images(view, top, expect, attempts, keep):
        # the block beside idcard_confirm, else the one inside it (as _identity reads them)
        beside = view.valid(top + ("idcard_images",))
        for inner, mask in (((), beside), (("idcard_confirm",), ~beside)):
            for key in EXPAND[f"{src}:idcard_images.*"]:
                each(view, top + inner + ("idcard_images", key), f"idcard_{key}", "image", expect,
                     attempts, keep & mask)

    if src == "baidu_detail":
        identity_images(v, ("result",), "blob", None, body)
    elif src == "baidu_simple":
        each(v, ("result", "image"), "image", "image", "any", keep=body)
    elif src == "baidu_getall":
        items, pos = v.items(("result", "verify_result"))
        if items is not None and items.n:
            keep = body[items.rows]
            att = getattr(items, "attempt", None)
            if att is None:
                att = pc.coalesce(items.get(("order",), "int"), pa.array(pos, pa.int64()))
            each(items, ("verify_detail", "face_image"), "face_image", "image", "any", att, keep)
            identity_images(items, (), "any", att, keep)
    elif src == "baidu_media":
        for key, mt in (("processVideo", "video"), ("video", "video"), ("images", "image")):
            a = v.node(("result", key))
            if a is None or not pa.types.is_list(a.type):
                continue
            items, pos = v.items(("result", key))
            if items is not None and items.n:
                names = pc.binary_join_element_wise(f"{key}_", pa.array(pos).cast(pa.string()), "")
                media.add(items.rows, items.root, names, mt, "url", None, body[items.rows])
    return media.emit(out)
