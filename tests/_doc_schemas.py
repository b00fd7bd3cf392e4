"""JSON Schemas of every provider answer, written from the documents in ``shared/seeds/``.

Types come from the documents' field tables (类型 columns), required fields from their
必选 columns and "此字段必定返回" notes, enumerations from the listed values, and the
state rules from the text (which fields NOT_STARTED returns, when images come back, ...).
Where a table and its own example disagree, the table wins; where the text itself gives
two forms (``idcard_uneditable_field``/``feild``, ``stand_answer``/``standard_answer``,
padded or unpadded getall times, ``error_message: null`` or left out), both are allowed.

``"float"`` is a type of its own here: a JSON number written with a fraction or exponent
(Python ``float``), for the Baidu fields the tables call float. ``"integer"`` excludes
``true``/``false`` and ``1.0``.
"""
from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator, validators

# --- building blocks ------------------------------------------------------------------------

STR = {"type": "string"}
INT = {"type": "integer"}
NUM = {"type": "number"}
BOOL = {"type": "boolean"}
FLOAT = {"type": "float"}
UNIT = {"type": "number", "minimum": 0, "maximum": 1}
PERCENT = {"type": "number", "minimum": 0, "maximum": 100}
DIGITS = {"type": "string", "pattern": r"^\d+$"}
REQUEST_ID = {"type": "string", "pattern": r"^\d{10},[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"}
DATA_URI = {"type": "string", "pattern": r"^data: ?image/jpeg;base64,"}


def obj(props: dict[str, Any], required: Any = (), **more: Any) -> dict[str, Any]:
    """A closed object: no field beyond ``props`` (and ``patternProperties``)."""
    required = list(props) if required == "all" else list(required)
    return {"type": "object", "properties": props, "required": required,
            "additionalProperties": False, **more}


def arr(items: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {"type": "array", "items": items, **more}


def absent(*names: str) -> dict[str, Any]:
    return {"not": {"anyOf": [{"required": [n]} for n in names]}}


def when(condition: dict[str, Any], then: dict[str, Any], otherwise: dict[str, Any] | None = None) -> dict[str, Any]:
    rule = {"if": condition, "then": then}
    if otherwise is not None:
        rule["else"] = otherwise
    return rule


def field_is(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"properties": {name: schema}, "required": [name]}


# --- Megvii FaceID Lite get_result (megvii_faceid_lite_get_result.txt) --------------------------

LITE_STATUSES = ["NOT_STARTED", "PROCESSING", "WEBRTC_UNSUPPORTED", "OK", "FAILED", "CANCELLED", "TIMEOUT"]
FAIL_REASONS = ["NETWORK_ERROR", "PERMISSIONS_ERROR", "SUPPORT_ERROR"]
BILLABLE_VERIFY_ERRORS = ["NO_SUCH_ID_NUMBER", "ID_NUMBER_NAME_NOT_MATCH", "IMAGE_ERROR_UNSUPPORTED_FORMAT",
                          "NO_FACE_FOUND"]
VERIFY_ERRORS = BILLABLE_VERIFY_ERRORS + ["DATA_SOURCE_ERROR", "INTERNAL_ERROR"]
WILL_DETAILS = ["FACE_NOT_FOUND", "SIDE_FACE", "UPDOWN_FACE", "EYE_OCCLUSION", "MOUTH_OCCLUSION",
                "AWAY_FROM_CAMERA", "CLOSE_TO_CAMERA", "FACE_OUT_OF_CAMERA", "HIGH_BRIGHTNESS",
                "LOW_BRIGHTNESS", "LOW_FACE_QUALITY"]
WILL_ERRORS = ["", "ANSWER_INCONSISTENT", "NO_AUDIO", "MOUTH_NOT_OPEN", "FUNASR_ERR", "ACTION_FAIL", "NOT_STARTED"]

GENUINENESS = obj({f"{attack}_{part}": UNIT for attack in ("synthetic_face", "mask", "screen_replay")
                   for part in ("confidence", "threshold")}, "all")


def comparison(levels: tuple[str, ...]) -> dict[str, Any]:
    return obj({"confidence": PERCENT, "thresholds": obj({lv: PERCENT for lv in levels}, "all")}, "all")


LITE_COMPARISON = comparison(("1e-3", "1e-4", "1e-5", "1e-6"))
ID_EXCEPTIONS = obj({"id_attacked": {"enum": [0, 1]}, "id_photo_monochrome": {"enum": [0, 1]}}, "all")
LEGALITY = obj({k: NUM for k in ("ID Photo", "Temporary ID Photo ", "Photocopy", "Screen", "Edited")}, "all")
QUALITY = obj({"quality": NUM, "logic": INT, "result": STR}, "all")
FRONT_OCR = obj({"address": STR, "birthday": obj({"day": STR, "month": STR, "year": STR}, "all"),
                 "gender": STR, "id_card_number": STR, "name": STR, "race": STR, "legality": LEGALITY}, "all")
BACK_OCR = obj({"issued_by": STR, "valid_date": STR, "legality": LEGALITY}, "all")

IDCARD_INFO = obj(
    {"idcard_mode": STR, "idcard_uneditable_field": STR, "idcard_uneditable_feild": STR,
     "idcard_mode_user": {"enum": ["0", "1"]}, "idcard_number": STR, "idcard_name": STR,
     "idcard_valid_date": STR, "idcard_issued_by": STR,
     "front_side": obj({"ocr_result": FRONT_OCR, "upload_times": INT}, "all"),
     "back_side": obj({"ocr_result": BACK_OCR, "upload_times": INT}, "all"),
     "ocr_front_quality": obj({k: QUALITY for k in ("gender", "address", "idcard_number", "name", "birth_month",
                                                    "birth_day", "nationality", "birth_year")}, "all"),
     "ocr_back_quality": obj({k: QUALITY for k in ("issued_by", "valid_date_end", "valid_date_start")}, "all")},
    ["idcard_mode", "idcard_number", "idcard_name"],
    # The table spells it "field", the success example "feild": one of the two.
    oneOf=[{"required": ["idcard_uneditable_field"]}, {"required": ["idcard_uneditable_feild"]}],
    allOf=[when(field_is("idcard_mode", {"const": "4"}), {"required": ["idcard_mode_user"]},
                absent("idcard_mode_user"))],
    # "如果不用拍摄身份证国徽面则不返回此字段"
    dependentRequired={"idcard_valid_date": ["back_side"], "idcard_issued_by": ["back_side"],
                       "ocr_back_quality": ["back_side"], "ocr_front_quality": ["front_side"]},
)

LITE_LIVENESS = obj({"result": {"enum": ["PASS", "FAIL"]}, "procedure_type": {"enum": ["will"]},
                     "details": obj({k: INT for k in WILL_DETAILS}, "all"), "face_genuineness": GENUINENESS},
                    "all")

ANSWERED = {"question_audio": STR, "user_audio": STR, "question_text": STR, "user_text": STR}
WILL_FILE = {"oneOf": [
    # will_type = 0 (the table says stand_answer, the example standard_answer)
    obj({"will_video": STR, "will_audio": STR, "will_audio_details": arr({"oneOf": [
        obj({**ANSWERED, "stand_answer": STR}, "all"), obj({**ANSWERED, "standard_answer": STR}, "all")]})},
        "all"),
    # will_type = 1
    obj({"will_video": STR, "will_audio_details": arr(obj({"question_audio": STR, "question_text": STR}, "all"))},
        "all"),
]}
WILL_RESULT = arr(obj({"result": {"enum": ["PASS", "FAIL"]}, "will_error_message": {"enum": WILL_ERRORS}}, "all"),
                  minItems=1)
LITE_IMAGES = {"image_best": DATA_URI, "image_idcard_front": DATA_URI, "image_idcard_back": DATA_URI,
               "image_face_front": DATA_URI, "image_face_side": DATA_URI}
_RETURN_IMAGE = {1: ("image_best",), 2: ("image_idcard_front",), 3: ("image_idcard_back",),
                 4: tuple(LITE_IMAGES)}


def lite_schema(*, return_verify_time: int = 0, return_image: int = 0, get_fail_reason: int = 0,
                return_multifaces_tag: int = 0) -> dict[str, Any]:
    """A Lite get_result answer (HTTP 200) to a request with these options."""
    verify = obj({"error_message": {"enum": [None, *VERIFY_ERRORS]}, "result_faceid": LITE_COMPARISON,
                  "result_idcard_photo": LITE_COMPARISON, "result_idcard_datasource": LITE_COMPARISON,
                  "id_exceptions": ID_EXCEPTIONS, "verify_time": INT},
                 ["verify_time"] if return_verify_time == 1 else [],
                 patternProperties={r"^result_ref\d+$": LITE_COMPARISON})
    if return_verify_time != 1:
        verify["allOf"] = [absent("verify_time")]
    props: dict[str, Any] = {
        "request_id": REQUEST_ID, "status": {"enum": LITE_STATUSES}, "fail_reason": {"enum": FAIL_REASONS},
        "biz_info": obj({"biz_extra_data": STR, "biz_id": REQUEST_ID, "biz_no": STR}, "all"),
        "idcard_info": IDCARD_INFO, "liveness_result": LITE_LIVENESS, "verify_result": verify,
        "will_result": WILL_RESULT, "will_file": WILL_FILE, "time_used": INT,
    }
    required = ["request_id", "status", "biz_info", "time_used"]  # time_used: "此字段必定返回"
    rules: list[dict[str, Any]] = [
        # "当处于NOT_STARTED或者PROCESSING状态时,idcard_info / liveness_result / verify_result字段均不会返回";
        # "如果用户中途中断了活体流程,则此字段不返回": a cancel or a timeout interrupts it.
        when(field_is("status", {"enum": ["NOT_STARTED", "PROCESSING", "CANCELLED", "TIMEOUT"]}),
             absent("idcard_info", "liveness_result", "verify_result")),
        when({"required": ["verify_result"]}, {"required": ["liveness_result"]}),
        when({"required": ["will_result"]}, {"required": ["liveness_result", "will_file"]}),
        when({"required": ["will_file"]}, {"required": ["will_result"]}),
    ]
    if get_fail_reason == 1:
        rules.append(when(field_is("status", {"const": "WEBRTC_UNSUPPORTED"}), {"required": ["fail_reason"]},
                          absent("fail_reason")))
    else:
        rules.append(absent("fail_reason"))
    if return_image:
        props["images"] = {"oneOf": [{"type": "null"},
                                     obj({k: LITE_IMAGES[k] for k in _RETURN_IMAGE[return_image]}, minProperties=1)]}
        required.append("images")
        # "当活体验证通过,存在比对结果且比对结果中error_message为计费字段时,图像才会返回"
        rules.append(when(field_is("images", {"type": "object"}), {
            "required": ["liveness_result", "verify_result"],
            "properties": {"liveness_result": field_is("result", {"const": "PASS"}),
                           "verify_result": {"properties": {"error_message": {
                               "enum": [None, *BILLABLE_VERIFY_ERRORS]}}}}}))
    if return_multifaces_tag == 1:
        props["multifaces_tag"] = {"enum": ["0", "1"]}  # the table: String
        props["multifaces_image"] = STR
        required += ["multifaces_tag", "multifaces_image"]
        rules.append(when(field_is("multifaces_tag", {"const": "1"}), field_is("multifaces_image", DATA_URI),
                          field_is("multifaces_image", {"const": ""})))
    return obj(props, required, allOf=rules)


# --- Megvii web liveness v2 get_result and callbacks (megvii_liveness_v2_get_result_and_callbacks.txt) ---

V2_FAILURES = ["action_mixed", "not_video", "timeout", "quality_check_timeout", "no_input_frame",
               "interrupt_in_mirro_state", "interrupt_in_action_state"]
V2_COMPARISON = comparison(("1e-3", "1e-4", "1e-5"))
V2_VERIFY = obj({"request_id": REQUEST_ID, "result_faceid": V2_COMPARISON, "face_genuineness": GENUINENESS,
                 "id_exceptions": ID_EXCEPTIONS, "time_used": INT},
                ["request_id", "time_used"], patternProperties={r"^result_ref\d+$": V2_COMPARISON})


def liveness_schema(*, get_image_type: int | None = 0, callback: bool = False) -> dict[str, Any]:
    """A v2 get_result answer (HTTP 200), or with ``callback`` the ``data`` of a callback."""
    props: dict[str, Any] = {
        "biz_extra_data": STR, "biz_id": REQUEST_ID, "biz_no": STR, "request_id": REQUEST_ID, "time_used": INT,
        "liveness_result": obj({"failure_reason": {"enum": [None, *V2_FAILURES]}, "log": STR,
                                "result": {"enum": ["success", "failed"]}, "version": STR}, "all"),
        # null when comparison_type is -1 or the liveness check failed; {"error": ...} when Verify failed
        "verify_result": {"oneOf": [{"type": "null"},
                                    obj({"error": {"enum": ["VERIFY_API_FAILED", "INTERNAL_ERROR"]}}, "all"),
                                    V2_VERIFY]},
    }
    required = list(props)
    rules = [
        # "failure_reason:活体失败的原因,如果成功则为null"
        when({"properties": {"liveness_result": field_is("result", {"const": "success"})}},
             {"properties": {"liveness_result": field_is("failure_reason", {"const": None})}},
             {"properties": {"liveness_result": field_is("failure_reason", {"enum": V2_FAILURES}),
                             "verify_result": {"type": "null"}}}),
    ]
    if not callback and get_image_type:  # images: get_result only, when asked for
        images = obj({"image_best": DATA_URI}, ["image_best"],
                     patternProperties={r"^image_action\d+$": DATA_URI} if get_image_type == 2 else {})
        props["images"] = {"oneOf": [{"type": "null"}, images]}
        required.append("images")
    return obj(props, required, allOf=rules)


CALLBACK = obj({"data": STR, "sign": {"type": "string", "pattern": r"^[0-9a-f]{40}$"}}, "all")

# --- Megvii error bodies: the documents' error tables, with their HTTP statuses -----------------

MEGVII_ERROR = obj({"error_message": STR, "request_id": REQUEST_ID, "time_used": INT}, "all")
MEGVII_ERROR_STATUS = {
    "RESULT_NOT_FOUND": 400, "AUTHENTICATION_ERROR": 403, "AUTHORIZATION_ERROR": 403,
    "MESSAGE_ENCRYPTION_ERROR": 400, "CONCURRENCY_LIMIT_EXCEEDED": 403, "MISSING_ARGUMENTS": 400,
    "DATA_DESTROYED": 403, "BAD_ARGUMENTS": 400, "API_NOT_FOUND": 404, "INTERNAL_ERROR": 500,
}
# The v2 error table has no MESSAGE_ENCRYPTION_ERROR and no DATA_DESTROYED.
LIVENESS_ERRORS = set(MEGVII_ERROR_STATUS) - {"MESSAGE_ENCRYPTION_ERROR", "DATA_DESTROYED"}

# --- Baidu H5 faceprint (baidu_faceprint_h5_api.txt) -------------------------------------------

LOG_ID = DIGITS  # every table: log_id string


def baidu_ok(result: dict[str, Any]) -> dict[str, Any]:
    return obj({"success": {"const": True}, "result": result, "log_id": LOG_ID}, "all")


# "code 否 int 错误码 (仅认证失败时展示)"; result holds data only on success.
BAIDU_FAILURE = obj({"success": {"const": False}, "code": INT, "message": STR, "log_id": LOG_ID}, "all")
TOKEN_INVALID = {"allOf": [BAIDU_FAILURE, field_is("message", {"const": "Token无效或者已过期"})]}
# Platform errors; the FAQ: error 18 comes "且有返回logid".
BAIDU_PLATFORM_ERROR = obj({"error_code": INT, "error_msg": STR, "log_id": LOG_ID}, ["error_code", "error_msg"])

GENERATE = baidu_ok(obj({"verify_token": STR}, "all"))
IDCARD_SUBMIT = baidu_ok({"const": 1})
UPLOAD_MATCH_IMAGE = baidu_ok({"type": ["object", "null"]})

SIMPLE = {"oneOf": [baidu_ok(obj({"image": STR}, "all")), BAIDU_FAILURE]}

DETAIL_OCR = obj({k: STR for k in ("address", "birthday", "name", "id_card_number", "gender", "nation",
                                   "expire_time", "issue_authority", "issue_time")})
DETAIL = {"oneOf": [baidu_ok(obj({
    "idcard_ocr_result": DETAIL_OCR,
    "idcard_images": obj({"front_base64": STR, "back_base64": STR}, ["front_base64"]),
    "verify_result": obj({"liveness_score": FLOAT, "score": FLOAT, "spoofing": FLOAT}, "all"),
    "is_demote": BOOL,
    "idcard_confirm": obj({"name": STR, "idcard_number": STR}, "all"),
}, ["verify_result", "idcard_confirm"], dependentRequired={"idcard_images": ["idcard_ocr_result"]})),
    BAIDU_FAILURE]}

STAT_INT = obj({"error_code": DIGITS, "count": INT}, "all")
STAT_STR = obj({"error_code": DIGITS, "count": DIGITS}, "all")   # the table: count string here
STAT = baidu_ok(obj({"Verify_FIN": arr(STAT_INT), "Sessioncode": arr(STAT_INT), "OCR": arr(STAT_INT),
                     "verify": arr(STAT_INT), "VideoLiveness": arr(STAT_STR), "Livenesscolorful": arr(STAT_STR),
                     "VerifySec": arr(STAT_STR)}, "all"))

ONE_VIDEO = arr(STR, minItems=1, maxItems=1)   # "一个verify_token仅对应一个视频"
MEDIA = baidu_ok(obj({"processVideo": ONE_VIDEO, "video": ONE_VIDEO, "images": arr(STR), "extInfo": STR},
                     ["images", "extInfo"],
                     # "video和processVideo不会同时返回"
                     oneOf=[{"required": ["processVideo"]}, {"required": ["video"]}]))

BEIJING_TIME = {"type": "string", "pattern": r"^\d{4}-\d{1,2}-\d{1,2} \d{1,2}:\d{2}:\d{2}$"}
GETALL_ENTRY = obj(
    {"order": {"type": "integer", "minimum": 1}, "is_verify_passed": BOOL, "code": DIGITS, "message": STR,
     "verify_time": BEIJING_TIME, "is_charged": BOOL, "charge_type": {"enum": ["verify", "match"]},
     "charge_time": {"anyOf": [BEIJING_TIME, {"const": ""}]}, "is_ocr_charge": BOOL,
     "ocr_charge_time": {"anyOf": [BEIJING_TIME, {"const": ""}]}, "ocr_count": INT,
     "verify_detail": obj({"face_image": STR, "verify_log_id": STR,
                           "score": {"oneOf": [FLOAT, {"type": "null"}]},  # "该项为空"
                           "threshold": FLOAT, "liveness_score": FLOAT, "spoofing_score": FLOAT,
                           "risk_level": {"enum": ["1", "2", "3", "4"]}, "risk_tag": STR, "is_demote": BOOL},
                          ["face_image", "verify_log_id", "score", "threshold", "liveness_score"],
                          dependentRequired={"risk_level": ["risk_tag"], "risk_tag": ["risk_level"]},
                          allOf=[when(field_is("risk_level", {"enum": ["3", "4"]}),
                                      field_is("risk_tag", {"const": ""}))]),
     "idcard_confirm": obj({"name": STR, "idcard_number": STR, "idcard_type": STR}, "all"),
     "idcard_ocr_result": obj({k: STR for k in ("address", "birthday", "name", "idcard_number", "idcard_type",
                                                "gender", "nation", "issue_time", "expire_time",
                                                "issue_authority")}),
     "idcard_images": obj({"front_image": STR, "back_image": STR})},
    ["order", "is_verify_passed", "code", "message", "verify_time", "is_charged", "charge_type", "charge_time",
     "verify_detail", "idcard_confirm"],
    allOf=[
        # "核验成功时返回 0 ... 核验成功时返回“核验成功”"
        when(field_is("is_verify_passed", {"const": True}),
             {"properties": {"code": {"const": "0"}, "message": {"const": "核验成功"}}},
             {"properties": {"code": {"not": {"const": "0"}}}}),
        # "如不计费则该字段为空"
        when(field_is("is_charged", {"const": False}), field_is("charge_time", {"const": ""}),
             field_is("charge_time", BEIJING_TIME)),
    ],
)
GETALL = baidu_ok(obj({"verify_count": INT, "ocr_charge_count": INT, "match_charge_count": INT,
                       "verify_charge_count": INT, "verify_result": arr(GETALL_ENTRY, minItems=1)}, "all"))

# simple and detail list code/message for a failed verification; every result API answers
# "Token无效或者已过期" for a token without results (the FAQ).
BAIDU_RESULTS = {"simple": SIMPLE, "detail": DETAIL, **{name: {"oneOf": [schema, TOKEN_INVALID]} for name, schema in
                                                      (("stat", STAT), ("getall", GETALL), ("media/query", MEDIA))}}

# --- validation ---------------------------------------------------------------------------------


def _is_int(checker: Any, instance: Any) -> bool:
    return isinstance(instance, int) and not isinstance(instance, bool)


def _is_float(checker: Any, instance: Any) -> bool:
    return isinstance(instance, float)


_TYPES = Draft202012Validator.TYPE_CHECKER.redefine_many({"integer": _is_int, "float": _is_float})
DocValidator = validators.extend(Draft202012Validator, type_checker=_TYPES)


def errors(schema: dict[str, Any], instance: Any) -> list[str]:
    """Every way ``instance`` departs from ``schema``, as readable lines (empty: it conforms)."""
    found = DocValidator(schema).iter_errors(instance)
    return [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message[:200]}" for e in found]
