"""The field spec: every documented field of every source, described once.

Each :class:`Field` says where a payload field sits (``path``), where it lands
(``table``, ``column``, ``how``) and how its value is read (``kind``).  Everything
else is derived from this table:

- the keys the Python flatteners know (:func:`known_keys`; any other key of a
  documented object lands in ``sessions.extra``);
- the Arrow schema and the leaf kinds the columnar fast path reads
  (:func:`leaves`, :func:`arrow_type`), so a field the spec names is read by both
  paths, and ``tests/test_fields.py`` fails when one path handles a field the other
  does not;
- ``docs/fields.md`` (``python -m faceanalytics.flatten.fields > docs/fields.md``);
- the benchmark and test payload generator (``benchmarks/gen_records.py``).

Paths are dotted; ``[]`` is any list item; a component with ``*`` is one key
matching that pattern, whose documented names are listed in :data:`EXPAND` (other
names matching the pattern are read by the Python path, e.g. ``result_ref4``).

``how``: ``value`` (the column holds the value), ``key`` (the key lands as the
column's value), ``masked`` (personal data, masked by default), ``time`` (converted
to UTC), ``media`` (an inline blob written as a file, or a URL), ``derived`` (read
into the column in another form).

``kind`` (how a value is read; every form seen is accepted, see ``_coerce``):
``str``, ``int``, ``float`` (lenient: unreadable text is null and kept),
``textint`` (the same, sent as text in the documents: ``"1991"``),
``conf`` (a 0-100 confidence or threshold: text that is no number quarantines the
record; NaN, infinities and values outside the range are null with the reason kept),
``conf?`` (the same, lenient), ``gen`` (Megvii anti-spoofing, 0-1), ``epoch``
(Unix seconds), ``cntime`` (Baidu's Beijing time), ``bool``, ``code`` (an error
code: ``0``, ``"0"`` and ``0.0`` alike), ``id`` (an ID number), ``blob``/``url``/
``media`` (an inline image, a link, either), ``text`` (JSON text or an object).
"""
from __future__ import annotations

import fnmatch
import re
from functools import lru_cache
from typing import NamedTuple

MEGVII = ("megvii_lite", "megvii_liveness", "megvii_notify")
BAIDU = ("baidu_detail", "baidu_simple", "baidu_stat", "baidu_getall", "baidu_media")
_MV = MEGVII
_BD = BAIDU


class Field(NamedTuple):
    sources: tuple[str, ...]
    path: str
    table: str
    column: str
    how: str
    kind: str


def _f(sources, path, table, column, how, kind):
    return Field(tuple(sources), path, table, column, how, kind)


_CMP = "verify_result.result_*"
_FG = ("liveness_result.face_genuineness", "verify_result.face_genuineness")
_GA = "result.verify_result[]"  # a getall attempt


def _identity_fields(src: str, top: str) -> list[Field]:
    """Baidu's identity blocks: ``idcard_confirm`` at ``top``, OCR and images beside it
    (the getall table) or inside it (the getall example); both are read."""
    s = (src,)
    out = [_f(s, f"{top}.idcard_confirm.name", "idcard", "name", "masked", "str"),
           _f(s, f"{top}.idcard_confirm.idcard_number", "idcard", "id_number_hash", "masked", "id"),
           _f(s, f"{top}.idcard_confirm.idcard_type", "idcard", "id_type", "value", "str")]
    image = "blob" if src == "baidu_detail" else "media"
    for where in (top, f"{top}.idcard_confirm"):
        o = f"{where}.idcard_ocr_result"
        out += [_f(s, f"{o}.address", "idcard_ocr", "address", "masked", "str"),
                _f(s, f"{o}.birthday", "idcard_ocr", "birth_year", "derived", "str"),
                _f(s, f"{o}.name", "idcard_ocr", "name", "masked", "str"),
                _f(s, f"{o}.id_card_number", "idcard_ocr", "id_number_hash", "masked", "id"),
                _f(s, f"{o}.idcard_number", "idcard_ocr", "id_number_hash", "masked", "id"),
                _f(s, f"{o}.idcard_type", "idcard_ocr", "id_type", "value", "str"),
                _f(s, f"{o}.gender", "idcard_ocr", "gender", "value", "str"),
                _f(s, f"{o}.nation", "idcard_ocr", "ethnicity", "value", "str"),
                _f(s, f"{o}.expire_time", "idcard_ocr", "expire_date", "value", "str"),
                _f(s, f"{o}.issue_authority", "idcard_ocr", "issued_by", "value", "str"),
                _f(s, f"{o}.issue_time", "idcard_ocr", "issue_date", "value", "str"),
                _f(s, f"{where}.idcard_images.*", "media", "idcard_<key>", "media", image)]
    return out


FIELDS: list[Field] = [
    # --- Megvii: Lite / web liveness v2 / callbacks --------------------------------
    _f(_MV, "request_id", "sessions", "request_id", "value", "str"),
    _f(_MV, "status", "sessions", "status", "value", "str"),
    _f(_MV, "error_message", "sessions", "error", "value", "str"),
    _f(_MV, "fail_reason", "sessions", "fail_reason", "value", "str"),
    _f(_MV, "time_used", "sessions", "time_used", "value", "int"),
    _f(_MV, "verify_time", "sessions", "verify_time", "time", "epoch"),
    _f(_MV, "biz_info.biz_id", "sessions", "biz_id", "value", "str"),
    _f(_MV, "biz_info.biz_no", "sessions", "biz_no", "value", "str"),
    _f(_MV, "biz_info.biz_extra_data", "sessions", "biz_extra_data", "value", "text"),
    _f(_MV, "biz_id", "sessions", "biz_id", "value", "str"),
    _f(_MV, "biz_no", "sessions", "biz_no", "value", "str"),
    _f(_MV, "biz_extra_data", "sessions", "biz_extra_data", "value", "text"),
    _f(_MV, "multifaces_tag", "sessions", "multifaces_tag", "value", "textint"),
    _f(_MV, "multifaces_image", "media", "multifaces_image", "media", "blob"),
    _f(_MV, "images.*", "media", "field", "media", "blob"),
    _f(_MV, "liveness_result.result", "sessions", "liveness_result", "value", "str"),
    _f(_MV, "liveness_result.procedure_type", "sessions", "procedure_type", "value", "str"),
    _f(_MV, "liveness_result.failure_reason", "sessions", "failure_reason", "value", "str"),
    _f(_MV, "liveness_result.log", "sessions", "liveness_log", "value", "str"),
    _f(_MV, "liveness_result.version", "sessions", "liveness_version", "value", "str"),
    _f(_MV, "liveness_result.details.*", "liveness_details", "key", "key", "int"),
    *[_f(_MV, f"{b}.*_confidence", "genuineness", "confidence", "value", "gen") for b in _FG],
    *[_f(_MV, f"{b}.*_threshold", "genuineness", "threshold", "value", "gen") for b in _FG],
    _f(_MV, "verify_result.verify_time", "sessions", "verify_time", "time", "epoch"),
    _f(_MV, "verify_result.error_message", "verify_errors", "error_message", "value", "str"),
    _f(_MV, "verify_result.error", "verify_errors", "error_message", "value", "str"),
    _f(_MV, "verify_result.request_id", "sessions", "verify_request_id", "value", "str"),
    _f(_MV, "verify_result.time_used", "sessions", "verify_time_used", "value", "int"),
    _f(_MV, f"{_CMP}.confidence", "comparisons", "confidence", "value", "conf"),
    *[_f(_MV, f"{_CMP}.thresholds.{lv}", "comparisons", f"thr_{lv.replace('-', '')}", "value", "conf")
      for lv in ("1e-3", "1e-4", "1e-5", "1e-6")],
    _f(_MV, "verify_result.id_exceptions.id_attacked", "id_exceptions", "id_attacked", "value", "int"),
    _f(_MV, "verify_result.id_exceptions.id_photo_monochrome", "id_exceptions", "id_photo_monochrome",
       "value", "int"),
    _f(_MV, "idcard_info.idcard_mode", "idcard", "idcard_mode", "value", "str"),
    _f(_MV, "idcard_info.idcard_mode_user", "idcard", "idcard_mode_user", "value", "str"),
    _f(_MV, "idcard_info.idcard_uneditable_field", "idcard", "idcard_uneditable_field", "value", "str"),
    _f(_MV, "idcard_info.idcard_uneditable_feild", "idcard", "idcard_uneditable_field", "value", "str"),
    _f(_MV, "idcard_info.idcard_number", "idcard", "id_number_hash", "masked", "id"),
    _f(_MV, "idcard_info.idcard_name", "idcard", "name", "masked", "str"),
    _f(_MV, "idcard_info.idcard_valid_date", "idcard", "valid_date", "value", "str"),
    _f(_MV, "idcard_info.idcard_issued_by", "idcard", "issued_by", "value", "str"),
    _f(_MV, "idcard_info.front_side.upload_times", "idcard", "front_upload_times", "value", "int"),
    _f(_MV, "idcard_info.back_side.upload_times", "idcard", "back_upload_times", "value", "int"),
    _f(_MV, "idcard_info.*_side.ocr_result.address", "idcard_ocr", "address", "masked", "str"),
    _f(_MV, "idcard_info.*_side.ocr_result.birthday.year", "idcard_ocr", "birth_year", "value", "textint"),
    _f(_MV, "idcard_info.*_side.ocr_result.birthday.month", "idcard_ocr", "birth_date", "derived", "textint"),
    _f(_MV, "idcard_info.*_side.ocr_result.birthday.day", "idcard_ocr", "birth_date", "derived", "textint"),
    _f(_MV, "idcard_info.*_side.ocr_result.gender", "idcard_ocr", "gender", "value", "str"),
    _f(_MV, "idcard_info.*_side.ocr_result.id_card_number", "idcard_ocr", "id_number_hash", "masked", "id"),
    _f(_MV, "idcard_info.*_side.ocr_result.name", "idcard_ocr", "name", "masked", "str"),
    _f(_MV, "idcard_info.*_side.ocr_result.race", "idcard_ocr", "ethnicity", "value", "str"),
    _f(_MV, "idcard_info.*_side.ocr_result.issued_by", "idcard_ocr", "issued_by", "value", "str"),
    _f(_MV, "idcard_info.*_side.ocr_result.valid_date", "idcard_ocr", "valid_date", "value", "str"),
    _f(_MV, "idcard_info.*_side.ocr_result.legality.ID Photo", "idcard_ocr", "legality_id_photo",
       "value", "float"),
    _f(_MV, "idcard_info.*_side.ocr_result.legality.Temporary ID Photo*", "idcard_ocr",
       "legality_temporary_id_photo", "value", "float"),
    _f(_MV, "idcard_info.*_side.ocr_result.legality.Photocopy", "idcard_ocr", "legality_photocopy",
       "value", "float"),
    _f(_MV, "idcard_info.*_side.ocr_result.legality.Screen", "idcard_ocr", "legality_screen",
       "value", "float"),
    _f(_MV, "idcard_info.*_side.ocr_result.legality.Edited", "idcard_ocr", "legality_edited",
       "value", "float"),
    _f(_MV, "idcard_info.ocr_*_quality.*.quality", "ocr_quality", "quality", "value", "float"),
    _f(_MV, "idcard_info.ocr_*_quality.*.logic", "ocr_quality", "logic", "value", "int"),
    _f(_MV, "idcard_info.ocr_*_quality.*.result", "ocr_quality", "result", "masked", "str"),
    _f(_MV, "will_result[].result", "will_results", "result", "value", "str"),
    _f(_MV, "will_result[].will_error_message", "will_results", "will_error_message", "value", "str"),
    _f(_MV, "will_file.will_video", "media", "will_video", "media", "url"),
    _f(_MV, "will_file.will_audio", "media", "will_audio", "media", "url"),
    _f(_MV, "will_file.will_audio_details[].question_audio", "will_answers", "question_audio", "value", "url"),
    _f(_MV, "will_file.will_audio_details[].user_audio", "will_answers", "user_audio", "value", "url"),
    _f(_MV, "will_file.will_audio_details[].question_text", "will_answers", "question_text", "value", "str"),
    _f(_MV, "will_file.will_audio_details[].standard_answer", "will_answers", "standard_answer",
       "value", "str"),
    _f(_MV, "will_file.will_audio_details[].stand_answer", "will_answers", "standard_answer", "value", "str"),
    _f(_MV, "will_file.will_audio_details[].user_text", "will_answers", "user_text", "value", "str"),
    _f(("megvii_notify",), "data", "sessions", "biz_id", "derived", "text"),
    _f(("megvii_notify",), "sign", "sessions", "sign_verified", "derived", "str"),
    # --- Baidu: every post-verification endpoint ------------------------------------
    _f(_BD, "success", "sessions", "success", "value", "bool"),
    _f(_BD, "log_id", "sessions", "log_id", "value", "code"),
    _f(_BD, "code", "sessions", "error", "value", "code"),
    _f(_BD, "message", "sessions", "error_message", "value", "str"),
    _f(_BD, "error_code", "sessions", "error", "value", "code"),
    _f(_BD, "error_msg", "sessions", "error_message", "value", "str"),
    _f(("baidu_detail",), "is_demote", "sessions", "is_demote", "value", "bool"),
    _f(("baidu_detail",), "result.is_demote", "sessions", "is_demote", "value", "bool"),
    _f(("baidu_detail",), "result.verify_result.score", "comparisons", "confidence", "value", "conf"),
    _f(("baidu_detail",), "result.verify_result.liveness_score", "sessions", "liveness_score", "value",
       "float"),
    _f(("baidu_detail",), "result.verify_result.spoofing", "genuineness", "confidence", "value", "conf"),
    *[f for src, top in (("baidu_detail", "result"), ("baidu_getall", _GA))
      for f in _identity_fields(src, top)],
    _f(("baidu_simple",), "result.image", "media", "image", "media", "media"),
    _f(("baidu_stat",), "result.*[].error_code", "error_counts", "error_code", "value", "code"),
    _f(("baidu_stat",), "result.*[].count", "error_counts", "count", "value", "int"),
    _f(("baidu_getall",), "result.verify_count", "sessions", "verify_count", "value", "int"),
    _f(("baidu_getall",), "result.ocr_charge_count", "sessions", "ocr_charge_count", "value", "int"),
    _f(("baidu_getall",), "result.match_charge_count", "sessions", "match_charge_count", "value", "int"),
    _f(("baidu_getall",), "result.verify_charge_count", "sessions", "verify_charge_count", "value", "int"),
    _f(("baidu_getall",), f"{_GA}.order", "attempts", "attempt", "value", "int"),
    _f(("baidu_getall",), f"{_GA}.is_verify_passed", "attempts", "passed", "value", "bool"),
    _f(("baidu_getall",), f"{_GA}.code", "attempts", "code", "value", "code"),
    _f(("baidu_getall",), f"{_GA}.message", "attempts", "message", "value", "str"),
    _f(("baidu_getall",), f"{_GA}.verify_time", "attempts", "verify_time", "time", "cntime"),
    _f(("baidu_getall",), f"{_GA}.is_charged", "attempts", "charged", "value", "bool"),
    _f(("baidu_getall",), f"{_GA}.charge_type", "attempts", "charge_type", "value", "str"),
    _f(("baidu_getall",), f"{_GA}.charge_time", "attempts", "charge_time", "time", "cntime"),
    _f(("baidu_getall",), f"{_GA}.is_ocr_charge", "attempts", "ocr_charged", "value", "bool"),
    _f(("baidu_getall",), f"{_GA}.ocr_charge_time", "attempts", "ocr_charge_time", "time", "cntime"),
    _f(("baidu_getall",), f"{_GA}.ocr_count", "attempts", "ocr_count", "value", "int"),
    _f(("baidu_getall",), f"{_GA}.verify_detail.face_image", "media", "face_image", "media", "media"),
    _f(("baidu_getall",), f"{_GA}.verify_detail.verify_log_id", "attempts", "verify_log_id", "value", "str"),
    _f(("baidu_getall",), f"{_GA}.verify_detail.score", "attempts", "score", "value", "conf"),
    _f(("baidu_getall",), f"{_GA}.verify_detail.threshold", "attempts", "threshold", "value", "conf?"),
    _f(("baidu_getall",), f"{_GA}.verify_detail.liveness_score", "attempts", "liveness_score", "value",
       "float"),
    _f(("baidu_getall",), f"{_GA}.verify_detail.spoofing_score", "attempts", "spoofing_score", "value",
       "conf"),
    _f(("baidu_getall",), f"{_GA}.verify_detail.risk_level", "attempts", "risk_level", "value", "code"),
    _f(("baidu_getall",), f"{_GA}.verify_detail.risk_tag", "attempts", "risk_tag", "value", "str"),
    _f(("baidu_getall",), f"{_GA}.verify_detail.is_demote", "attempts", "is_demote", "value", "bool"),
    _f(("baidu_media",), "result.processVideo[]", "media", "url", "value", "url"),
    _f(("baidu_media",), "result.video[]", "media", "url", "value", "url"),
    _f(("baidu_media",), "result.images[]", "media", "url", "value", "url"),
    _f(("baidu_media",), "result.extInfo", "sessions", "ext_info", "value", "str"),
]

# The documented names behind each wildcard: what the columnar path's schema lists
# and what the generator draws from.  Other names matching a pattern are still read
# (by the Python path): they are shapes the documents do not list.
_LEVEL_SPELLINGS = {"1e-3": ("1e-3", "1e-03", "0.001"), "1e-4": ("1e-4", "1e-04", "0.0001"),
                    "1e-5": ("1e-5", "1e-05", "0.00001"), "1e-6": ("1e-6", "1e-06", "0.000001")}
EXPAND: dict[str, tuple[str, ...]] = {
    "verify_result.result_*": ("result_faceid", "result_ref1", "result_ref2", "result_ref3",
                               "result_idcard_photo", "result_idcard_datasource"),
    "images.*": ("image_best", "image_env", "image_action1", "image_action2", "image_action3",
                 "image_idcard_front", "image_idcard_back", "image_face_front", "image_face_side"),
    "liveness_result.details.*": (
        "UPLOAD_TIMES", "FACE_NOT_FOUND", "SIDE_FACE", "UPDOWN_FACE", "EYE_OCCLUSION",
        "MOUTH_OCCLUSION", "AWAY_FROM_CAMERA", "CLOSE_TO_CAMERA", "FACE_OUT_OF_CAMERA",
        "HIGH_BRIGHTNESS", "LOW_BRIGHTNESS", "LOW_FACE_QUALITY", "INVALID_VIDEO_DURATION", "SR_ERROR",
        "NOT_SYNCHRONIZED", "VIDEO_FORMAT_UNSUPPORTED", "NO_AUDIO"),
    "*_confidence": ("synthetic_face_confidence", "mask_confidence", "screen_replay_confidence"),
    "*_threshold": ("synthetic_face_threshold", "mask_threshold", "screen_replay_threshold"),
    "idcard_info.*_side": ("front_side", "back_side"),
    "idcard_info.ocr_*_quality": ("ocr_front_quality", "ocr_back_quality"),
    "idcard_info.ocr_front_quality.*": ("gender", "address", "idcard_number", "name", "birth_month",
                                        "birth_day", "nationality", "birth_year"),
    "idcard_info.ocr_back_quality.*": ("issued_by", "valid_date_end", "valid_date_start"),
    "legality.Temporary ID Photo*": ("Temporary ID Photo", "Temporary ID Photo "),
    "baidu_detail:idcard_images.*": ("front_base64", "back_base64"),
    "baidu_getall:idcard_images.*": ("front_image", "back_image"),
    "result.*": ("Verify_FIN", "Sessioncode", "OCR", "verify", "VideoLiveness", "Livenesscolorful",
                 "VerifySec"),
}
# Threshold levels arrive as "1e-4", "1e-04" or "0.0001": all are the same level.
LEVEL_KEYS = {spelling: f"thr_{lv.replace('-', '')}" for lv, sp in _LEVEL_SPELLINGS.items()
              for spelling in sp}

# Fields the comparison and media entries also fill, for the reader of docs/fields.md.
NOTES = {
    "comparisons": "one row per `result_*` block (`comparison` = the name after `result_`: "
                   "faceid, ref1, idcard_photo, idcard_datasource); Baidu: one row per score, "
                   "`comparison` = faceprint, `threshold` = the plan's threshold; threshold levels "
                   "may be spelled `1e-4`, `1e-04` or `0.0001` (two spellings in one set: the later value "
                   "wins; one written `null` is no value, the other stays; so with ID-card legality keys)",
    "genuineness": "one row per attack (`attack` = synthetic_face, mask, screen_replay, or any "
                   "new `<attack>_confidence` key); Baidu `spoofing`/`spoofing_score` -> "
                   "synthetic_face with no threshold; `flagged` is `confidence > threshold`",
    "media": "inline images are kept in packs, one uncompressed ZIP per ingest chunk, source and month "
             "(`DATA/media/packs/<source>/<YYYY-MM>/<digest>.zip`); the row keeps `pack`, `path` (the "
             "member: `<session>/<field>[_<attempt>].<ext>`), `offset`, `n_bytes`, `sha256` "
             "(`fa.media_bytes(data, row)` reads it); URLs land in `url`",
    "sessions": "`invalid_values` counts values nulled because they cannot be right (NaN, "
                "infinities, a confidence outside 0-100, Megvii anti-spoofing outside 0-1); each "
                "is kept in `extra` under `_invalid.<path>` with its reason",
    "times": "a time outside 2000-01-01 .. ten years from now (`fetched_at`, `verify_time`, Baidu "
             "times) sends the record to `quarantine` with the reason",
}


# --- what the paths derive ----------------------------------------------------------

def _applies(sources: tuple[str, ...], source: str) -> bool:
    return source in sources


@lru_cache(maxsize=None)
def fields_of(source: str) -> tuple[Field, ...]:
    return tuple(f for f in FIELDS if _applies(f.sources, source))


def _expand(source: str, prefix: str, component: str) -> tuple[str, ...]:
    """The documented names of a wildcard path component."""
    last = prefix.rsplit(".", 1)[-1]
    for key in (f"{prefix}.{component}" if prefix else component, f"{source}:{last}.{component}",
                component, f"{last}.{component}"):
        if key in EXPAND:
            return EXPAND[key]
    raise KeyError(f"no documented names for {prefix}.{component}")


def _split(path: str) -> list[str]:
    return path.split(".")


@lru_cache(maxsize=None)
def leaves(source: str) -> tuple[tuple[tuple[str, ...], str], ...]:
    """Every documented leaf of ``source`` with wildcards expanded: ``((keys...), kind)``.

    A key ending in ``[]`` is a list; the keys after it are inside each item.  The
    threshold levels are expanded to every documented spelling.
    """
    out: dict[tuple[str, ...], str] = {}
    for f in fields_of(source):
        paths: list[tuple[str, ...]] = [()]
        for comp in _split(f.path):
            nxt = []
            for p in paths:
                prefix = ".".join(k.replace("[]", "") for k in p)
                if "*" in comp:
                    names = _expand(source, prefix, comp.replace("[]", ""))
                    suffix = "[]" if comp.endswith("[]") else ""
                    nxt.extend(p + (n + suffix,) for n in names)
                elif p and p[-1] == "thresholds" and comp in _LEVEL_SPELLINGS:
                    nxt.extend(p + (s,) for s in _LEVEL_SPELLINGS[comp])
                else:
                    nxt.append(p + (comp,))
            paths = nxt
        for p in paths:
            out.setdefault(p, f.kind)
    return tuple(out.items())


@lru_cache(maxsize=None)
def known_keys(source: str, path: str = "") -> frozenset:
    """The keys an object at ``path`` is documented to have in ``source``: a dotted
    path of actual keys (``[]`` after a list), matched against the spec's patterns;
    a wildcard key is given as its documented names (:data:`EXPAND`)."""
    query = _split(path) if path else []
    keys = set()
    for f in fields_of(source):
        parts = _split(f.path)
        if len(parts) <= len(query) or not all(
                fnmatch.fnmatchcase(q, p) for q, p in zip(query, parts)):
            continue
        k = parts[len(query)]
        if "*" in k:
            bare = k.replace("[]", "")
            keys.update(_expand(source, ".".join(query).replace("[]", ""), bare))
        else:
            keys.add(k.replace("[]", ""))
    return frozenset(keys)


def _pattern_match(pattern: str, path: str) -> bool:
    return fnmatch.fnmatchcase(path.replace("[]", "\x00"), pattern.replace("[]", "\x00"))


def _norm_key(k: str) -> str:
    return re.sub(r"^(result_ref|image_action)\d+$", r"\1<N>", k)


def leaf_paths(obj, prefix: str = ""):
    """Yield ``(path, value)`` for every leaf of a JSON value."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from leaf_paths(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(obj, list):
        for v in obj:
            yield from leaf_paths(v, prefix + "[]")
    else:
        yield prefix, obj


def find(source: str, path: str):
    """The mapping entry for a documented leaf, or None."""
    for f in fields_of(source):
        if _pattern_match(f.path, path):
            return f.table, f.column, f.how
    return None


def render_markdown() -> str:
    lines = ["# Where every documented field lands", "",
             "Generated by `python -m faceanalytics.flatten.fields` from the field spec "
             "(`faceanalytics/flatten/fields.py`), which both the columnar fast path and the Python "
             "flatteners are built from; checked by `tests/test_fields.py`, which walks every "
             "example in the provider documents and fails if a documented leaf field lands "
             "nowhere, or if the two paths land a documented field differently.", "",
             "Unknown fields are never dropped: they land in `sessions.extra` (JSON, keyed by "
             "dotted path); a documented field whose value cannot be read is null in its column "
             "and kept in `extra` under `_unreadable.<path>`.", "",
             "| sources | payload field | table | column | how | read as |",
             "| --- | --- | --- | --- | --- | --- |"]
    for f in FIELDS:
        srcs = ", ".join(f.sources) if f.sources not in (MEGVII, BAIDU) else \
            ("megvii_*" if f.sources == MEGVII else "baidu_*")
        lines.append(f"| {srcs} | `{f.path}` | `{f.table}` | `{f.column}` | {f.how} | {f.kind} |")
    lines += ["", "## Documented names behind each `*`", ""]
    lines += [f"- `{k}`: {', '.join(f'`{v}`' for v in vs)}" for k, vs in EXPAND.items()]
    lines += ["- threshold levels: " + "; ".join(", ".join(f"`{s}`" for s in sp)
                                                 for sp in _LEVEL_SPELLINGS.values())]
    lines += ["", "## Notes", ""]
    lines += [f"- `{t}`: {n}" for t, n in NOTES.items()]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render_markdown(), end="")
