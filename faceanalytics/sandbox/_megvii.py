"""Megvii FaceID payloads: Lite ``get_result`` and web liveness v2 ``get_result``.

A builder draws every detail of a session in a fixed order, then the request's
parameters only filter what is shown, so the same session always says the same thing.

By default a payload has the documents' shapes: the field tables' types, the fields each
state returns, the documented values. A "wild" session (``wild=True``) may also show what
deployments send beside the documents: numbers as strings, procedure types other than
``will`` (with their own ``details`` keys), ``screen_replay_*`` left out, a partial
``idcard_info`` after a cancel or timeout, ``multifaces_tag`` as a number, ``""``/``"null"``
as a v2 success's ``failure_reason``, and an extra top-level field. The wild draws come
from their own stream, so a session's documented content does not depend on them.
"""
from __future__ import annotations

import copy
import hashlib
import json
import random
import uuid
from typing import Any

from ._media import TINY_JPEG_DATA_URI
from ._synth import (
    GENUINE,
    MASK,
    SCREEN,
    SYNTHETIC,
    THRESHOLDS_V2_DOC,
    Session,
    identity,
    megvii_thresholds,
)

BILLABLE_VERIFY_ERRORS = ("NO_SUCH_ID_NUMBER", "ID_NUMBER_NAME_NOT_MATCH",
                          "IMAGE_ERROR_UNSUPPORTED_FORMAT", "NO_FACE_FOUND")
VERIFY_ERRORS = BILLABLE_VERIFY_ERRORS + ("DATA_SOURCE_ERROR", "INTERNAL_ERROR")
_VERIFY_ERROR_W = (2, 3, 1, 1, 1.5, 1.5)  # per cent of verified sessions
FAIL_REASONS = ("NETWORK_ERROR", "PERMISSIONS_ERROR", "SUPPORT_ERROR")
V2_FAILURES = ("action_mixed", "not_video", "timeout", "quality_check_timeout", "no_input_frame",
               "interrupt_in_mirro_state", "interrupt_in_action_state")
_V2_FAILURE_W_BONA_FIDE = (3, 1, 3, 2, 2, 1, 1)
_V2_FAILURE_W_ATTACK = (1, 12, 1, 0.5, 0.5, 0.2, 0.2)
WILL_ERRORS = ("ANSWER_INCONSISTENT", "NO_AUDIO", "MOUTH_NOT_OPEN", "FUNASR_ERR", "ACTION_FAIL",
               "NOT_STARTED")
_WILL_DETAILS = ("FACE_NOT_FOUND", "SIDE_FACE", "UPDOWN_FACE", "EYE_OCCLUSION", "MOUTH_OCCLUSION",
                 "AWAY_FROM_CAMERA", "CLOSE_TO_CAMERA", "FACE_OUT_OF_CAMERA", "HIGH_BRIGHTNESS",
                 "LOW_BRIGHTNESS", "LOW_FACE_QUALITY")
_VIDEO_DETAILS = ("FACE_NOT_FOUND", "LOW_FACE_QUALITY", "INVALID_VIDEO_DURATION", "SR_ERROR",
                  "NOT_SYNCHRONIZED", "VIDEO_FORMAT_UNSUPPORTED", "NO_AUDIO")
_QUESTIONS = (
    ("您好,为确保您本人操作,此次签约全程录音录像。请问您本次业务是本人自愿办理吗?请回答:我同意", "我同意"),
    ("请问您是否已知晓并理解本次业务的相关风险?请回答:知晓", "知晓"),
    ("请确认您本人正在办理本次业务,请回答:确认", "确认"),
)
_UNEDITABLE = ("", "idcard_number", "idcard_number,idcard_valid_date", "idcard_name,idcard_number")
_ATTACK_FIELD = {MASK: "mask", SCREEN: "screen_replay", SYNTHETIC: "synthetic_face"}


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _biz_no(rng: random.Random, epoch: int) -> str:
    if rng.random() < 0.6:
        return _uuid(rng)
    return f"ORD{epoch}{rng.randint(0, 999999):06d}"


def _extra_data(rng: random.Random) -> str:
    pick = rng.random()
    if pick < 0.3:
        return ""
    if pick < 0.7:
        return json.dumps({"channel": rng.choice(("app", "h5", "mini")),
                           "branch": rng.randint(100, 999)}, separators=(",", ":"))
    return f"user-{rng.randint(10000, 99999)}"


def _comparison(confidence: float, thresholds: dict[str, float]) -> dict[str, Any]:
    return {"confidence": confidence, "thresholds": dict(thresholds)}


def _beta(rng: random.Random, a: float, b: float) -> float:
    return round(rng.betavariate(a, b), 3)


def _genuineness(rng: random.Random, s: Session, detected: bool, with_screen: bool) -> dict[str, Any]:
    """Anti-spoofing confidences: low for bona fide, high for the session's attack type
    when it was caught, middling when it slipped through."""
    attack = _ATTACK_FIELD.get(s.cls)
    out: dict[str, Any] = {}
    for name in ("synthetic_face", "mask", "screen_replay"):
        if name == attack:
            conf = _beta(rng, 12, 2.5) if detected else _beta(rng, 3, 5)
        else:
            conf = _beta(rng, 1.5, 12)
        thr = 0.5 if rng.random() < 0.85 else rng.choice((0.4, 0.45, 0.6, 0.7))
        if name == "screen_replay" and not with_screen:
            continue  # only returned when the environment image was sent
        out[f"{name}_confidence"] = conf
        out[f"{name}_threshold"] = thr
    return out


def _legality(rng: random.Random) -> dict[str, float]:
    top = rng.choices(("ID Photo", "Screen", "Photocopy"), (95, 3, 2))[0]
    main = round(rng.uniform(0.75, 0.99), 3)
    rest = 1.0 - main
    split = [rng.random() for _ in range(3)]
    total = sum(split)
    others = [k for k in ("ID Photo", "Photocopy", "Screen", "Edited") if k != top]
    shares = {k: round(rest * w / total, 3) for k, w in zip(others, split)}
    shares[top] = main
    # The key with a trailing space is how the provider spells it.
    return {"ID Photo": shares["ID Photo"], "Temporary ID Photo ": 0,
            "Photocopy": shares["Photocopy"], "Screen": shares["Screen"], "Edited": shares["Edited"]}


def _quality(rng: random.Random, result: str) -> dict[str, Any]:
    return {"quality": round(rng.uniform(0.9, 0.999), 3), "logic": 0 if rng.random() < 0.97 else 1,
            "result": result}


def _details(rng: random.Random, procedure: str) -> dict[str, int]:
    keys = _WILL_DETAILS if procedure == "will" else _VIDEO_DETAILS
    out: dict[str, int] = {} if procedure == "will" else {"UPLOAD_TIMES": rng.randint(1, 5)}
    for key in keys:
        out[key] = 0 if rng.random() < 0.8 else rng.randint(1, 3)
    return out


def _stringify(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _stringify(v) for k, v in node.items()}
    if isinstance(node, (int, float)) and not isinstance(node, bool):
        return str(node)
    return node


def _wild_picks(s: Session, wild: bool) -> set[str]:
    """Which optional wild variations a wild session shows (numbers as strings always)."""
    if not wild:
        return set()
    rng = s.rng("wild")
    return {name for name in ("int_multifaces", "extra_field") if rng.random() < 0.5}


def _wild(payload: dict[str, Any]) -> None:
    """Numbers as strings, as some deployments send them."""
    for holder in (payload.get("verify_result"),):
        if isinstance(holder, dict):
            for key, value in list(holder.items()):
                if key.startswith("result_") and isinstance(value, dict):
                    holder[key] = _stringify(value)
                if key == "face_genuineness" and isinstance(value, dict):
                    holder[key] = _stringify(value)
    live = payload.get("liveness_result")
    if isinstance(live, dict) and isinstance(live.get("face_genuineness"), dict):
        live["face_genuineness"] = _stringify(live["face_genuineness"])


def media_url(base_url: str, name: str) -> str:
    return f"{base_url}/_sandbox/media/{name}"


# --- Lite -------------------------------------------------------------------------------

def lite_record(s: Session, base_url: str, wild: bool = False) -> dict[str, Any]:
    """Every field the session could return, before request parameters filter it.
    Private keys start with '_'. ``wild``: the session may show undocumented shapes."""
    rng = s.rng()
    ident = identity(rng, s.epoch)
    verify_epoch = s.epoch + rng.randint(5, 40)
    request_id = f"{verify_epoch},{_uuid(rng)}"
    biz = {"biz_extra_data": _extra_data(rng), "biz_id": s.session_id, "biz_no": _biz_no(rng, s.epoch)}
    mode = rng.choices(("0", "1", "2", "4"), (40, 25, 25, 10))[0]
    typo = rng.random() < 0.6
    uneditable = rng.choice(_UNEDITABLE)
    mode_user = rng.choice(("0", "1"))
    lite2 = rng.random() < 0.35
    # The document names one procedure_type, "will"; the others are wild. Deployments
    # without the will SKU still say "will" but return no will_result / will_file.
    procedure = rng.choices(("will", "video", "still", "flash"), (30, 35, 15, 20))[0]
    will_sku = procedure == "will"
    # screen_replay_* left out: seen in the wild, the document always lists it.
    with_screen = rng.random() < 0.6 or not wild
    r_failed_live, r_partial_idcard, r_pass = rng.random(), rng.random(), rng.random()
    r_err, r_explicit_null, r_ref, r_datasource = rng.random(), rng.random(), rng.random(), rng.random()
    multifaces = rng.random() < 0.03
    fail_reason = rng.choice(FAIL_REASONS)
    time_used = rng.randint(40, 400)

    status = s.status
    attack = s.cls in (MASK, SCREEN, SYNTHETIC)
    has_live = status == "OK" or (status == "FAILED" and r_failed_live < 0.6)
    live_pass = status == "OK" and r_pass < (0.25 if attack else 0.96)
    has_idcard = mode != "0" and (status in ("OK", "FAILED")
                                  or (wild and status in ("CANCELLED", "TIMEOUT") and r_partial_idcard < 0.5))
    has_front = mode in ("1", "2") or (mode == "4" and mode_user == "1")
    has_back = mode == "2"

    out: dict[str, Any] = {"request_id": request_id, "status": status, "biz_info": biz}
    if status == "WEBRTC_UNSUPPORTED":
        out["_fail_reason"] = fail_reason

    front_ocr = {
        "address": ident.address,
        "birthday": {"day": str(ident.birth.day), "month": str(ident.birth.month),
                     "year": str(ident.birth.year)},
        "gender": ident.gender, "id_card_number": ident.id_number, "name": ident.name,
        "race": ident.race, "legality": _legality(rng),
    }
    valid_date = f"{ident.valid_from:%Y.%m.%d}-{ident.valid_to:%Y.%m.%d}"
    back_ocr = {"issued_by": ident.issued_by, "valid_date": valid_date, "legality": _legality(rng)}
    front_quality = {
        "gender": _quality(rng, ident.gender), "address": _quality(rng, ident.address),
        "idcard_number": _quality(rng, ident.id_number), "name": _quality(rng, ident.name),
        "birth_month": _quality(rng, str(ident.birth.month)),
        "birth_day": _quality(rng, str(ident.birth.day)),
        "nationality": _quality(rng, ident.race), "birth_year": _quality(rng, str(ident.birth.year)),
    }
    back_quality = {
        "issued_by": _quality(rng, ident.issued_by),
        "valid_date_end": _quality(rng, f"{ident.valid_to:%Y%m%d}"),
        "valid_date_start": _quality(rng, f"{ident.valid_from:%Y%m%d}"),
    }
    upload_front, upload_back = rng.choices((1, 2, 3), (80, 15, 5))[0], rng.choices((1, 2, 3), (80, 15, 5))[0]
    if has_idcard:
        info: dict[str, Any] = {"idcard_mode": mode,
                                ("idcard_uneditable_feild" if typo else "idcard_uneditable_field"): uneditable}
        if mode == "4":
            info["idcard_mode_user"] = mode_user
        info["idcard_number"] = ident.id_number
        info["idcard_name"] = ident.name
        if has_back:
            info["idcard_valid_date"] = valid_date
            info["idcard_issued_by"] = ident.issued_by
        if has_front:
            info["front_side"] = {"ocr_result": front_ocr, "upload_times": upload_front}
        if has_back:
            info["back_side"] = {"ocr_result": back_ocr, "upload_times": upload_back}
        if lite2 and has_front:
            info["ocr_front_quality"] = front_quality
            if has_back:
                info["ocr_back_quality"] = back_quality
        out["idcard_info"] = info

    details = _details(rng, procedure)
    if not wild and procedure != "will":
        procedure, details = "will", _details(s.rng("details"), "will")
    genuineness = _genuineness(rng, s, detected=not live_pass, with_screen=with_screen)
    if has_live:
        out["liveness_result"] = {"procedure_type": procedure, "result": "PASS" if live_pass else "FAIL",
                                  "details": details, "face_genuineness": genuineness}

    thresholds = megvii_thresholds(s.old_era)
    conf_faceid = s.conf(rng)
    conf_ref = s.conf(rng)
    conf_photo = s.conf(rng, noise=2.5)
    conf_datasource = s.conf(rng, cls=GENUINE)
    id_attacked = int(rng.random() < (0.02 if s.cls == GENUINE else 0.25))
    monochrome = int(rng.random() < 0.05)
    error = None
    cumulative = 0.0
    for name, weight in zip(VERIFY_ERRORS, _VERIFY_ERROR_W):
        cumulative += weight / 100.0
        if r_err < cumulative:
            error = name
            break
    if has_live and live_pass:
        verify: dict[str, Any] = {"verify_time": verify_epoch}
        if error is not None or r_explicit_null < 0.85:
            verify["error_message"] = error
        all_blocked = error in ("NO_FACE_FOUND", "INTERNAL_ERROR")
        source_blocked = error is not None
        if not source_blocked:
            verify["result_faceid"] = _comparison(conf_faceid, thresholds)
        if r_ref < 0.3 and not all_blocked:
            verify["result_ref1"] = _comparison(conf_ref, thresholds)
        if has_front and not all_blocked:
            verify["result_idcard_photo"] = _comparison(conf_photo, thresholds)
        if has_front and r_datasource < 0.5 and not source_blocked:
            verify["result_idcard_datasource"] = _comparison(conf_datasource, thresholds)
        if not source_blocked:
            verify["id_exceptions"] = {"id_attacked": id_attacked, "id_photo_monochrome": monochrome}
        out["verify_result"] = verify

    eligible = live_pass and error in (None,) + BILLABLE_VERIFY_ERRORS
    out["_images"] = {
        "image_best": TINY_JPEG_DATA_URI if eligible else None,
        "image_idcard_front": TINY_JPEG_DATA_URI if eligible and has_front else None,
        "image_idcard_back": TINY_JPEG_DATA_URI if eligible and has_back else None,
    } if has_live else None

    # Will (intention) liveness: answers and encrypted downloads.
    will_type = 0 if rng.random() < 0.7 else 1
    no_urls = rng.random() < 0.1
    stand_key = "stand_answer" if rng.random() < 0.2 else "standard_answer"
    n_questions = rng.choices((1, 2), (70, 30))[0]
    questions = rng.sample(_QUESTIONS, n_questions)
    will_results, entries = [], []
    for k, (question, answer) in enumerate(questions, start=1):
        ok = live_pass and rng.random() < 0.92
        will_error = "" if ok else rng.choice(WILL_ERRORS)
        will_results.append({"will_error_message": will_error, "result": "PASS" if ok else "FAIL"}
                            if rng.random() < 0.5 else
                            {"result": "PASS" if ok else "FAIL", "will_error_message": will_error})

        def url(part: str, ext: str) -> str:
            return "" if no_urls else media_url(base_url, f"{s.uuid}_{part}.{ext}")

        if will_type == 0:
            entries.append({"user_audio": url(f"a{k}", "wav"),
                            "user_text": answer if ok else rng.choice(("", "不同意", "嗯")),
                            "question_text": question, "question_audio": url(f"q{k}", "wav"),
                            stand_key: answer})
        else:
            entries.append({"question_audio": url(f"q{k}", "wav"), "question_text": question})
    if procedure == "will" and will_sku and has_live:
        out["will_result"] = will_results
        files: dict[str, Any] = {"will_video": "" if no_urls else media_url(base_url, f"{s.uuid}_will_video.mp4")}
        if will_type == 0:
            files["will_audio"] = "" if no_urls else media_url(base_url, f"{s.uuid}_will_audio.wav")
        files["will_audio_details"] = entries
        out["will_file"] = files

    out["_multifaces"] = bool(multifaces and has_live)
    out["time_used"] = time_used
    return out


def lite_media_names(record: dict[str, Any]) -> set[str]:
    """The media names a Lite record links to (empty URLs excluded)."""
    files = record.get("will_file") or {}
    urls = [files.get("will_video"), files.get("will_audio")]
    for entry in files.get("will_audio_details") or []:
        urls += [entry.get("user_audio"), entry.get("question_audio")]
    return {u.rsplit("/", 1)[-1] for u in urls if u}


_LITE_ORDER = ("request_id", "status", "fail_reason", "biz_info", "idcard_info", "liveness_result",
               "verify_result", "images", "will_result", "will_file", "multifaces_tag",
               "multifaces_image", "time_used")


def lite_payload(s: Session, params: dict[str, int], *, base_url: str, wild: bool) -> dict[str, Any]:
    """The get_result body for ``params`` (return_verify_time, return_image,
    get_fail_reason, return_multifaces_tag, each already validated)."""
    record = lite_record(s, base_url, wild)
    picks = _wild_picks(s, wild)
    if params.get("get_fail_reason") == 1 and "_fail_reason" in record:
        record["fail_reason"] = record["_fail_reason"]
    verify = record.get("verify_result")
    if verify is not None and params.get("return_verify_time") != 1:
        verify.pop("verify_time", None)
    mode = params.get("return_image", 0)
    images = record["_images"] or {}
    if mode:
        wanted = {1: ("image_best",), 2: ("image_idcard_front",), 3: ("image_idcard_back",),
                  4: ("image_idcard_back", "image_idcard_front", "image_best")}[mode]
        # "或返回为null": asked for, but nothing to return.
        record["images"] = {k: images[k] for k in wanted if images.get(k)} or None
    if params.get("return_multifaces_tag") == 1:
        multifaces = record["_multifaces"]
        tag = 1 if multifaces else 0
        record["multifaces_tag"] = tag if "int_multifaces" in picks else str(tag)  # the table: String
        record["multifaces_image"] = TINY_JPEG_DATA_URI if multifaces else ""
    out = {k: record[k] for k in _LITE_ORDER if k in record}
    if wild:
        _wild(out)
        if "extra_field" in picks:
            out["comparison_type"] = 1
    return out


# --- web liveness v2 ----------------------------------------------------------------------

def _v2_thresholds(rng: random.Random, old_era: bool, doc_values: bool) -> dict[str, float]:
    levels = THRESHOLDS_V2_DOC if doc_values else {k: v for k, v in megvii_thresholds(old_era).items()
                                                  if k != "1e-6"}
    keys = list(levels)
    pick = rng.random()
    if pick < 0.35:
        keys.reverse()
    elif pick < 0.45:
        rng.shuffle(keys)
    return {k: levels[k] for k in keys}


def _v2_log(rng: random.Random, epoch: int) -> str:
    t, lines = 0, [str(epoch + 1)]
    for letter in rng.sample("ABEMOPSTUV", 5):
        lines.append(f"{t}:{letter}")
        t += rng.randint(800, 4500)
    return "\n".join(lines) + "\n"


def liveness_record(s: Session, wild: bool = False) -> dict[str, Any]:
    rng = s.rng()
    verify_epoch = s.epoch + rng.randint(5, 40)
    biz_extra, biz_no = _extra_data(rng), _biz_no(rng, s.epoch)
    request_id = f"{verify_epoch},{_uuid(rng)}"
    attack = s.cls in (MASK, SCREEN, SYNTHETIC)
    live_pass = rng.random() < (0.3 if attack else 0.93)
    failure = rng.choices(V2_FAILURES, _V2_FAILURE_W_ATTACK if attack else _V2_FAILURE_W_BONA_FIDE)[0]
    success_reason = rng.choices((None, "", "null"), (94, 3, 3))[0]
    if not wild:
        success_reason = None  # "如果成功则为null"
    version = rng.choice(("MegLive 2.4.0L", "MegLive 2.4.1L", "MegLive 2.5.0L"))
    log = _v2_log(rng, s.epoch)
    comparison_type = -1 if rng.random() < 0.08 else 1
    verify_error = rng.choices((None, "VERIFY_API_FAILED", "INTERNAL_ERROR"), (97, 2, 1))[0]
    doc_values = rng.random() < 0.3
    with_ref = rng.random() < 0.3
    with_exceptions = rng.random() < 0.75
    with_screen = rng.random() < 0.8 or not wild
    verify_request_id = f"{verify_epoch - rng.randint(0, 3)},{_uuid(rng)}"
    conf_faceid, conf_ref = s.conf(rng), s.conf(rng)
    thr_faceid = _v2_thresholds(rng, s.old_era, doc_values)
    thr_ref = _v2_thresholds(rng, s.old_era, doc_values)
    genuineness = _genuineness(rng, s, detected=not live_pass, with_screen=with_screen)
    id_attacked = int(rng.random() < (0.02 if s.cls == GENUINE else 0.25))
    monochrome = int(rng.random() < 0.05)
    verify_time_used = rng.randint(600, 1600)
    time_used = rng.randint(40, 200)
    n_actions = rng.choice((2, 3, 3))

    if not live_pass or comparison_type == -1:
        verify: dict[str, Any] | None = None
    elif verify_error:
        verify = {"error": verify_error}
    else:
        verify = {"request_id": verify_request_id,
                  "result_faceid": {"confidence": conf_faceid, "thresholds": thr_faceid}}
        if with_ref:
            verify["result_ref1"] = {"confidence": conf_ref, "thresholds": thr_ref}
        verify["face_genuineness"] = genuineness
        if with_exceptions:
            verify["id_exceptions"] = {"id_attacked": id_attacked, "id_photo_monochrome": monochrome}
        verify["time_used"] = verify_time_used
    images = None
    if live_pass:
        images = {f"image_action{k}": TINY_JPEG_DATA_URI for k in range(1, n_actions + 1)}
        images["image_best"] = TINY_JPEG_DATA_URI
    return {
        "biz_extra_data": biz_extra, "biz_id": s.session_id, "biz_no": biz_no, "_images": images,
        "_comparison_type": comparison_type,
        "liveness_result": {"failure_reason": success_reason if live_pass else failure, "log": log,
                            "result": "success" if live_pass else "failed", "version": version},
        "request_id": request_id, "time_used": time_used, "verify_result": verify,
    }


def liveness_payload(s: Session, params: dict[str, int], *, wild: bool) -> dict[str, Any]:
    record = liveness_record(s, wild)
    images = record.pop("_images")
    comparison_type = record.pop("_comparison_type")
    out: dict[str, Any] = {}
    for key, value in record.items():
        if key == "liveness_result":
            kind = params.get("get_image_type", 0)
            if kind:
                out["images"] = None if images is None else (
                    {"image_best": images["image_best"]} if kind == 1 else images)
        out[key] = value
    if wild:
        _wild(out)
        if "extra_field" in _wild_picks(s, wild):
            out["comparison_type"] = comparison_type
    return out


def callback_body(payload: dict[str, Any], api_secret: str) -> dict[str, str]:
    """A return_url/notify_url body: ``data`` (JSON text) and ``sign = sha1(secret + data)``."""
    body = copy.deepcopy(payload)
    body.pop("images", None)
    data = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    return {"data": data, "sign": hashlib.sha1((api_secret + data).encode("utf-8")).hexdigest()}


def error_body(message: str, rng: random.Random, now: float) -> dict[str, Any]:
    return {"error_message": message, "request_id": f"{int(now)},{_uuid(rng)}",
            "time_used": rng.randint(1, 12)}
