"""Where every documented field lands: the mapping behind ``docs/fields.md``.

Each entry is ``(sources, path pattern, table, column, how)``.  Path patterns are
dotted; ``[]`` is any list item, ``*`` any one key, ``<N>`` a number in a key
(``result_ref<N>``).  ``how`` says how the value lands:

- ``value``: the column holds the value (numbers and strings as read);
- ``key``: the key lands as the column's value (with its value beside it);
- ``masked``: personal data, masked by default (plain with ``keep_pii``);
- ``time``: a timestamp, converted to UTC;
- ``media``: an inline blob written as a file (``media.path``) or a URL (``media.url``);
- ``derived``: read into the column in another form (say, a birth date to ``birth_year``).

``python -m faceanalytics.flatten.fields > docs/fields.md`` regenerates the document.
"""
from __future__ import annotations

import fnmatch
import re

MEGVII = ("megvii_lite", "megvii_liveness", "megvii_notify")
_MV = MEGVII
_CMP = "verify_result.result_{0}"

FIELDS: list[tuple[tuple[str, ...], str, str, str, str]] = [
    # --- Megvii: Lite / web liveness v2 / callbacks --------------------------------
    (_MV, "request_id", "sessions", "request_id", "value"),
    (_MV, "status", "sessions", "status", "value"),
    (_MV, "error_message", "sessions", "error", "value"),
    (_MV, "fail_reason", "sessions", "fail_reason", "value"),
    (_MV, "time_used", "sessions", "time_used", "value"),
    (_MV, "biz_info.biz_id", "sessions", "biz_id", "value"),
    (_MV, "biz_info.biz_no", "sessions", "biz_no", "value"),
    (_MV, "biz_info.biz_extra_data", "sessions", "biz_extra_data", "value"),
    (_MV, "biz_id", "sessions", "biz_id", "value"),
    (_MV, "biz_no", "sessions", "biz_no", "value"),
    (_MV, "biz_extra_data", "sessions", "biz_extra_data", "value"),
    (_MV, "multifaces_tag", "sessions", "multifaces_tag", "value"),
    (_MV, "multifaces_image", "media", "multifaces_image", "media"),
    (_MV, "images.*", "media", "field", "media"),
    (_MV, "liveness_result.result", "sessions", "liveness_result", "value"),
    (_MV, "liveness_result.procedure_type", "sessions", "procedure_type", "value"),
    (_MV, "liveness_result.failure_reason", "sessions", "failure_reason", "value"),
    (_MV, "liveness_result.log", "sessions", "liveness_log", "value"),
    (_MV, "liveness_result.version", "sessions", "liveness_version", "value"),
    (_MV, "liveness_result.details.*", "liveness_details", "key", "key"),
    (_MV, "liveness_result.face_genuineness.*_confidence", "genuineness", "confidence", "value"),
    (_MV, "liveness_result.face_genuineness.*_threshold", "genuineness", "threshold", "value"),
    (_MV, "verify_result.face_genuineness.*_confidence", "genuineness", "confidence", "value"),
    (_MV, "verify_result.face_genuineness.*_threshold", "genuineness", "threshold", "value"),
    (_MV, "verify_result.verify_time", "sessions", "verify_time", "time"),
    (_MV, "verify_result.error_message", "verify_errors", "error_message", "value"),
    (_MV, "verify_result.error", "verify_errors", "error_message", "value"),
    (_MV, "verify_result.request_id", "sessions", "verify_request_id", "value"),
    (_MV, "verify_result.time_used", "sessions", "verify_time_used", "value"),
    (_MV, "verify_result.result_*.confidence", "comparisons", "confidence", "value"),
    (_MV, "verify_result.result_*.thresholds.1e-3", "comparisons", "thr_1e3", "value"),
    (_MV, "verify_result.result_*.thresholds.1e-4", "comparisons", "thr_1e4", "value"),
    (_MV, "verify_result.result_*.thresholds.1e-5", "comparisons", "thr_1e5", "value"),
    (_MV, "verify_result.result_*.thresholds.1e-6", "comparisons", "thr_1e6", "value"),
    (_MV, "verify_result.id_exceptions.id_attacked", "id_exceptions", "id_attacked", "value"),
    (_MV, "verify_result.id_exceptions.id_photo_monochrome", "id_exceptions", "id_photo_monochrome", "value"),
    (_MV, "idcard_info.idcard_mode", "idcard", "idcard_mode", "value"),
    (_MV, "idcard_info.idcard_mode_user", "idcard", "idcard_mode_user", "value"),
    (_MV, "idcard_info.idcard_uneditable_field", "idcard", "idcard_uneditable_field", "value"),
    (_MV, "idcard_info.idcard_uneditable_feild", "idcard", "idcard_uneditable_field", "value"),
    (_MV, "idcard_info.idcard_number", "idcard", "id_number_hash", "masked"),
    (_MV, "idcard_info.idcard_name", "idcard", "name", "masked"),
    (_MV, "idcard_info.idcard_valid_date", "idcard", "valid_date", "value"),
    (_MV, "idcard_info.idcard_issued_by", "idcard", "issued_by", "value"),
    (_MV, "idcard_info.front_side.upload_times", "idcard", "front_upload_times", "value"),
    (_MV, "idcard_info.back_side.upload_times", "idcard", "back_upload_times", "value"),
    (_MV, "idcard_info.*_side.ocr_result.address", "idcard_ocr", "address", "masked"),
    (_MV, "idcard_info.*_side.ocr_result.birthday.year", "idcard_ocr", "birth_year", "value"),
    (_MV, "idcard_info.*_side.ocr_result.birthday.month", "idcard_ocr", "birth_date", "derived"),
    (_MV, "idcard_info.*_side.ocr_result.birthday.day", "idcard_ocr", "birth_date", "derived"),
    (_MV, "idcard_info.*_side.ocr_result.gender", "idcard_ocr", "gender", "value"),
    (_MV, "idcard_info.*_side.ocr_result.id_card_number", "idcard_ocr", "id_number_hash", "masked"),
    (_MV, "idcard_info.*_side.ocr_result.name", "idcard_ocr", "name", "masked"),
    (_MV, "idcard_info.*_side.ocr_result.race", "idcard_ocr", "ethnicity", "value"),
    (_MV, "idcard_info.*_side.ocr_result.issued_by", "idcard_ocr", "issued_by", "value"),
    (_MV, "idcard_info.*_side.ocr_result.valid_date", "idcard_ocr", "valid_date", "value"),
    (_MV, "idcard_info.*_side.ocr_result.legality.ID Photo", "idcard_ocr", "legality_id_photo", "value"),
    (_MV, "idcard_info.*_side.ocr_result.legality.Temporary ID Photo*", "idcard_ocr", "legality_temporary_id_photo", "value"),
    (_MV, "idcard_info.*_side.ocr_result.legality.Photocopy", "idcard_ocr", "legality_photocopy", "value"),
    (_MV, "idcard_info.*_side.ocr_result.legality.Screen", "idcard_ocr", "legality_screen", "value"),
    (_MV, "idcard_info.*_side.ocr_result.legality.Edited", "idcard_ocr", "legality_edited", "value"),
    (_MV, "idcard_info.ocr_*_quality.*.quality", "ocr_quality", "quality", "value"),
    (_MV, "idcard_info.ocr_*_quality.*.logic", "ocr_quality", "logic", "value"),
    (_MV, "idcard_info.ocr_*_quality.*.result", "ocr_quality", "result", "masked"),
    (_MV, "will_result[].result", "will_results", "result", "value"),
    (_MV, "will_result[].will_error_message", "will_results", "will_error_message", "value"),
    (_MV, "will_file.will_video", "media", "will_video", "media"),
    (_MV, "will_file.will_audio", "media", "will_audio", "media"),
    (_MV, "will_file.will_audio_details[].question_audio", "will_answers", "question_audio", "value"),
    (_MV, "will_file.will_audio_details[].user_audio", "will_answers", "user_audio", "value"),
    (_MV, "will_file.will_audio_details[].question_text", "will_answers", "question_text", "value"),
    (_MV, "will_file.will_audio_details[].standard_answer", "will_answers", "standard_answer", "value"),
    (_MV, "will_file.will_audio_details[].stand_answer", "will_answers", "standard_answer", "value"),
    (_MV, "will_file.will_audio_details[].user_text", "will_answers", "user_text", "value"),
    (("megvii_notify",), "sign", "sessions", "sign_verified", "derived"),
    # --- Baidu: every post-verification endpoint ------------------------------------
    (("baidu_*",), "success", "sessions", "success", "value"),
    (("baidu_*",), "log_id", "sessions", "log_id", "value"),
    (("baidu_*",), "code", "sessions", "error", "value"),
    (("baidu_*",), "message", "sessions", "error_message", "value"),
    (("baidu_*",), "error_code", "sessions", "error", "value"),
    (("baidu_*",), "error_msg", "sessions", "error_message", "value"),
    (("baidu_detail",), "is_demote", "sessions", "is_demote", "value"),
    (("baidu_detail",), "result.is_demote", "sessions", "is_demote", "value"),
    (("baidu_detail",), "result.verify_result.score", "comparisons", "confidence", "value"),
    (("baidu_detail",), "result.verify_result.liveness_score", "sessions", "liveness_score", "value"),
    (("baidu_detail",), "result.verify_result.spoofing", "genuineness", "confidence", "value"),
    (("baidu_detail", "baidu_getall"), "result.*idcard_confirm.name", "idcard", "name", "masked"),
    (("baidu_detail", "baidu_getall"), "result.*idcard_confirm.idcard_number", "idcard", "id_number_hash", "masked"),
    (("baidu_getall",), "result.*idcard_confirm.idcard_type", "idcard", "id_type", "value"),
    (("baidu_detail", "baidu_getall"), "result.*idcard_ocr_result.address", "idcard_ocr", "address", "masked"),
    (("baidu_detail", "baidu_getall"), "result.*idcard_ocr_result.birthday", "idcard_ocr", "birth_year", "derived"),
    (("baidu_detail", "baidu_getall"), "result.*idcard_ocr_result.name", "idcard_ocr", "name", "masked"),
    (("baidu_detail", "baidu_getall"), "result.*idcard_ocr_result.id_card_number", "idcard_ocr", "id_number_hash", "masked"),
    (("baidu_detail", "baidu_getall"), "result.*idcard_ocr_result.idcard_number", "idcard_ocr", "id_number_hash", "masked"),
    (("baidu_detail", "baidu_getall"), "result.*idcard_ocr_result.idcard_type", "idcard_ocr", "id_type", "value"),
    (("baidu_detail", "baidu_getall"), "result.*idcard_ocr_result.gender", "idcard_ocr", "gender", "value"),
    (("baidu_detail", "baidu_getall"), "result.*idcard_ocr_result.nation", "idcard_ocr", "ethnicity", "value"),
    (("baidu_detail", "baidu_getall"), "result.*idcard_ocr_result.expire_time", "idcard_ocr", "expire_date", "value"),
    (("baidu_detail", "baidu_getall"), "result.*idcard_ocr_result.issue_authority", "idcard_ocr", "issued_by", "value"),
    (("baidu_detail", "baidu_getall"), "result.*idcard_ocr_result.issue_time", "idcard_ocr", "issue_date", "value"),
    (("baidu_detail",), "result.idcard_images.front_base64", "media", "idcard_front_base64", "media"),
    (("baidu_detail",), "result.idcard_images.back_base64", "media", "idcard_back_base64", "media"),
    (("baidu_getall",), "result.*idcard_images.front_image", "media", "idcard_front_image", "media"),
    (("baidu_getall",), "result.*idcard_images.back_image", "media", "idcard_back_image", "media"),
    (("baidu_simple",), "result.image", "media", "image", "media"),
    (("baidu_stat",), "result.*[].error_code", "error_counts", "error_code", "value"),
    (("baidu_stat",), "result.*[].count", "error_counts", "count", "value"),
    (("baidu_getall",), "result.verify_count", "sessions", "verify_count", "value"),
    (("baidu_getall",), "result.ocr_charge_count", "sessions", "ocr_charge_count", "value"),
    (("baidu_getall",), "result.match_charge_count", "sessions", "match_charge_count", "value"),
    (("baidu_getall",), "result.verify_charge_count", "sessions", "verify_charge_count", "value"),
    (("baidu_getall",), "result.verify_result[].order", "attempts", "attempt", "value"),
    (("baidu_getall",), "result.verify_result[].is_verify_passed", "attempts", "passed", "value"),
    (("baidu_getall",), "result.verify_result[].code", "attempts", "code", "value"),
    (("baidu_getall",), "result.verify_result[].message", "attempts", "message", "value"),
    (("baidu_getall",), "result.verify_result[].verify_time", "attempts", "verify_time", "time"),
    (("baidu_getall",), "result.verify_result[].is_charged", "attempts", "charged", "value"),
    (("baidu_getall",), "result.verify_result[].charge_type", "attempts", "charge_type", "value"),
    (("baidu_getall",), "result.verify_result[].charge_time", "attempts", "charge_time", "time"),
    (("baidu_getall",), "result.verify_result[].is_ocr_charge", "attempts", "ocr_charged", "value"),
    (("baidu_getall",), "result.verify_result[].ocr_charge_time", "attempts", "ocr_charge_time", "time"),
    (("baidu_getall",), "result.verify_result[].ocr_count", "attempts", "ocr_count", "value"),
    (("baidu_getall",), "result.verify_result[].verify_detail.face_image", "media", "face_image", "media"),
    (("baidu_getall",), "result.verify_result[].verify_detail.verify_log_id", "attempts", "verify_log_id", "value"),
    (("baidu_getall",), "result.verify_result[].verify_detail.score", "attempts", "score", "value"),
    (("baidu_getall",), "result.verify_result[].verify_detail.threshold", "attempts", "threshold", "value"),
    (("baidu_getall",), "result.verify_result[].verify_detail.liveness_score", "attempts", "liveness_score", "value"),
    (("baidu_getall",), "result.verify_result[].verify_detail.spoofing_score", "attempts", "spoofing_score", "value"),
    (("baidu_getall",), "result.verify_result[].verify_detail.risk_level", "attempts", "risk_level", "value"),
    (("baidu_getall",), "result.verify_result[].verify_detail.risk_tag", "attempts", "risk_tag", "value"),
    (("baidu_getall",), "result.verify_result[].verify_detail.is_demote", "attempts", "is_demote", "value"),
    (("baidu_media",), "result.processVideo[]", "media", "url", "value"),
    (("baidu_media",), "result.video[]", "media", "url", "value"),
    (("baidu_media",), "result.images[]", "media", "url", "value"),
    (("baidu_media",), "result.extInfo", "sessions", "ext_info", "value"),
]

# Fields the comparison and media entries also fill, for the reader of docs/fields.md.
NOTES = {
    "comparisons": "one row per `result_*` block (`comparison` = the name after `result_`: "
                   "faceid, ref1, idcard_photo, idcard_datasource); Baidu: one row per score, "
                   "`comparison` = faceprint, `threshold` = the plan's threshold",
    "genuineness": "one row per attack (`attack` = synthetic_face, mask, screen_replay, or any "
                   "new `<attack>_confidence` key); Baidu `spoofing`/`spoofing_score` -> "
                   "synthetic_face with no threshold",
    "media": "inline images are written to `DATA/media/<source>/<session>/<field>[_<attempt>].<ext>`; the "
             "row keeps `path`, `n_bytes`, `sha256`; URLs land in `url`",
}


def _norm_key(k: str) -> str:
    return re.sub(r"^(result_ref|image_action)\d+$", r"\1<N>", k)


def leaf_paths(obj, prefix: str = ""):
    """Yield ``(path, value, last key)`` for every leaf of a JSON value."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from leaf_paths(v, f"{prefix}.{_norm_key(str(k))}" if prefix else _norm_key(str(k)))
    elif isinstance(obj, list):
        for v in obj:
            yield from leaf_paths(v, prefix + "[]")
    else:
        yield prefix, obj


def _pattern_match(pattern: str, path: str) -> bool:
    return fnmatch.fnmatchcase(path.replace("[]", "\x00"), pattern.replace("[]", "\x00"))


def find(source: str, path: str):
    """The mapping entry for a documented leaf, or None."""
    for sources, pattern, table, column, how in FIELDS:
        if any(fnmatch.fnmatchcase(source, s) for s in sources) and _pattern_match(pattern, path):
            return table, column, how
    return None


def render_markdown() -> str:
    lines = ["# Where every documented field lands", "",
             "Generated by `python -m faceanalytics.flatten.fields`; checked by "
             "`tests/test_fields.py`, which walks every example in the provider documents and "
             "fails if a documented leaf field lands nowhere.", "",
             "Unknown fields are never dropped: they land in `sessions.extra` (JSON, keyed by "
             "dotted path); a documented field whose value cannot be read is null in its column "
             "and kept in `extra` under `_unreadable.<path>`.", "",
             "| sources | payload field | table | column | how |", "| --- | --- | --- | --- | --- |"]
    for sources, pattern, table, column, how in FIELDS:
        lines.append(f"| {', '.join(sources)} | `{pattern}` | `{table}` | `{column}` | {how} |")
    lines += ["", "## Notes", ""]
    lines += [f"- `{t}`: {n}" for t, n in NOTES.items()]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render_markdown(), end="")
