"""The tidy tables: names, columns and Arrow types.

Every table also carries ``source`` and ``month`` as hive partition keys
(``tables/<table>/source=<source>/month=<YYYY-MM>/part-*.parquet``) and the
common columns ``session_id``, ``fetched_at`` and ``session_time``.

``session_time`` is when the verification happened, as best the payload says:
the provider's ``verify_time`` when returned, else the Unix time that leads every
Megvii ``biz_id`` (``"1462259748,52b1…"``: the token's creation), else
``fetched_at``.  ``sessions.time_basis`` says which one was used.  Partitions and
``load(since=, until=)`` use it, so a review period means "verified in", not
"downloaded in".

Every file also ends with ``session_key`` (int64): a fixed 64-bit hash of ``session_id``
(:func:`faceanalytics.storage.tables.session_keys`), the same in every table, written by the store.
Engines join and count sessions on it instead of hashing id strings; :func:`full_schema`
(what :func:`faceanalytics.load` returns) leaves it out.  Files written before it existed
lack it (``rebuild`` writes it); readers treat it as optional.
"""
from __future__ import annotations

import pyarrow as pa

TS = pa.timestamp("us", tz="UTC")
STR, F64, I32, I64, BOOL = pa.string(), pa.float64(), pa.int32(), pa.int64(), pa.bool_()

SOURCES = (
    "megvii_lite", "megvii_liveness", "megvii_notify",
    "baidu_detail", "baidu_simple", "baidu_stat", "baidu_getall", "baidu_media",
)
MEGVII_SOURCES = SOURCES[:3]
BAIDU_SOURCES = SOURCES[3:]

COMMON = (("session_id", STR), ("fetched_at", TS), ("session_time", TS))
PARTITION_KEYS = ("source", "month")
SESSION_KEY = "session_key"

# Where a confidence can be: face comparisons (Megvii and Baidu, thresholds too) are
# 0-100, Megvii's anti-spoofing (face_genuineness) 0-1.  A value outside, or not
# finite, is null in its column with the reason kept (``sessions.invalid_values``).
CONFIDENCE_RANGE = (0.0, 100.0)
GENUINENESS_RANGE = (0.0, 1.0)

LEVELS = ("1e-3", "1e-4", "1e-5", "1e-6")
LEVEL_COLUMNS = {"1e-3": "thr_1e3", "1e-4": "thr_1e4", "1e-5": "thr_1e5", "1e-6": "thr_1e6"}

_TABLES: dict[str, tuple[tuple[str, pa.DataType], ...]] = {
    "sessions": (
        ("time_basis", STR), ("http_status", I32),
        ("status", STR), ("error", STR), ("error_message", STR),
        ("request_id", STR), ("log_id", STR),
        ("biz_id", STR), ("biz_no", STR), ("biz_extra_data", STR),
        ("liveness_result", STR), ("procedure_type", STR),
        ("failure_reason", STR), ("fail_reason", STR),
        ("liveness_version", STR), ("liveness_log", STR),
        ("verify_time", TS), ("verify_error", STR), ("verify_request_id", STR),
        ("time_used", I64), ("verify_time_used", I64),
        ("multifaces_tag", I32),
        ("success", BOOL), ("liveness_score", F64), ("is_demote", BOOL),
        ("verify_count", I32), ("ocr_charge_count", I32),
        ("match_charge_count", I32), ("verify_charge_count", I32),
        ("ext_info", STR), ("sign_verified", BOOL),
        ("extra", STR), ("invalid_values", I32),
    ),
    "comparisons": (
        ("comparison", STR), ("attempt", I32), ("confidence", F64),
        ("thr_1e3", F64), ("thr_1e4", F64), ("thr_1e5", F64), ("thr_1e6", F64),
        ("threshold", F64),
    ),
    "genuineness": (
        ("attack", STR), ("attempt", I32), ("confidence", F64), ("threshold", F64), ("flagged", BOOL),
    ),
    "error_counts": (("api", STR), ("error_code", STR), ("count", I64)),
    "attempts": (
        ("attempt", I32), ("passed", BOOL), ("code", STR), ("message", STR),
        ("verify_time", TS), ("charged", BOOL), ("charge_type", STR), ("charge_time", TS),
        ("score", F64), ("threshold", F64), ("liveness_score", F64), ("spoofing_score", F64),
        ("risk_level", STR), ("risk_tag", STR), ("is_demote", BOOL),
        ("ocr_charged", BOOL), ("ocr_charge_time", TS), ("ocr_count", I32),
        ("verify_log_id", STR),
    ),
    "liveness_details": (("key", STR), ("count", I64)),
    "idcard": (
        ("attempt", I32), ("idcard_mode", STR), ("idcard_mode_user", STR),
        ("idcard_uneditable_field", STR), ("id_type", STR),
        ("id_number_hash", STR), ("id_number_last4", STR), ("id_number", STR),
        ("name", STR), ("valid_date", STR), ("issued_by", STR),
        ("front_upload_times", I32), ("back_upload_times", I32),
    ),
    "idcard_ocr": (
        ("attempt", I32), ("side", STR),
        ("id_number_hash", STR), ("id_number_last4", STR), ("id_number", STR),
        ("name", STR), ("gender", STR), ("ethnicity", STR),
        ("birth_year", I32), ("birth_date", STR), ("address", STR),
        ("issued_by", STR), ("valid_date", STR), ("issue_date", STR), ("expire_date", STR),
        ("id_type", STR),
        ("legality_id_photo", F64), ("legality_temporary_id_photo", F64),
        ("legality_photocopy", F64), ("legality_screen", F64), ("legality_edited", F64),
    ),
    "ocr_quality": (("side", STR), ("field", STR), ("quality", F64), ("logic", I32), ("result", STR)),
    "id_exceptions": (("id_attacked", I32), ("id_photo_monochrome", I32)),
    "verify_errors": (("error_message", STR), ("billed", BOOL), ("origin", STR)),
    "will_results": (("position", I32), ("result", STR), ("will_error_message", STR)),
    "will_answers": (
        ("position", I32), ("question_text", STR), ("standard_answer", STR), ("user_text", STR),
        ("question_audio", STR), ("user_audio", STR),
    ),
    "media": (
        ("field", STR), ("attempt", I32), ("media_type", STR), ("url", STR), ("path", STR),
        ("n_bytes", I64), ("sha256", STR), ("error", STR),
        # an inline image's bytes: ``n_bytes`` at ``offset`` of the ZIP ``pack`` (relative to the
        # data directory), whose member ``path`` it is (storage.packs)
        ("pack", STR), ("offset", I64),
    ),
    "media_files": (
        ("field", STR), ("url", STR), ("path", STR), ("n_bytes", I64), ("sha256", STR),
        ("error", STR),
    ),
    "quarantine": (("reason", STR), ("raw", STR), ("raw_sha1", STR), ("origin", STR)),
}

TABLES: tuple[str, ...] = tuple(_TABLES)


def columns(table: str) -> tuple[str, ...]:
    """Own columns of ``table`` (without the common and partition columns)."""
    return tuple(c for c, _ in _TABLES[table])


def file_schema(table: str) -> pa.Schema:
    """The schema of one Parquet file of ``table`` (partition keys live in the path), ending
    with :data:`SESSION_KEY`."""
    return pa.schema(list(COMMON) + list(_TABLES[table]) + [(SESSION_KEY, I64)])


def full_schema(table: str) -> pa.Schema:
    """The schema a reader sees: partition keys as plain strings, then the file columns
    (without the internal :data:`SESSION_KEY`)."""
    return pa.schema([("source", STR), ("month", STR)] + list(COMMON) + list(_TABLES[table]))


# Verify error messages (Lite doc): which ones the provider bills.  ``None`` = the
# document does not say (for example v2's VERIFY_API_FAILED depends on the Verify error).
VERIFY_ERROR_BILLED = {
    "NO_SUCH_ID_NUMBER": True,
    "ID_NUMBER_NAME_NOT_MATCH": True,
    "IMAGE_ERROR_UNSUPPORTED_FORMAT": True,
    "NO_FACE_FOUND": True,
    "DATA_SOURCE_ERROR": False,
    "INTERNAL_ERROR": False,
}

# Lite statuses after which a result no longer changes.
LITE_FINAL_STATUSES = frozenset({"OK", "FAILED", "CANCELLED", "TIMEOUT", "WEBRTC_UNSUPPORTED"})
LITE_PENDING_STATUSES = frozenset({"NOT_STARTED", "PROCESSING"})
