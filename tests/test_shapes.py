"""One test (or parametrized group) per payload shape seen in the wild.

Variants are built by mutating the provider-document seeds in ``tests/data/seeds``
and every test asserts the flattened values, not merely that nothing raised.
Pure flatteners where possible; ``ingest`` + ``load`` end to end where the
behaviour lives there (quarantine, replacement, files written, PII key).
"""
from __future__ import annotations

import base64
import copy
import hashlib
import json
import random
import zipfile
from pathlib import Path
from urllib.parse import urlencode

import pandas as pd
import pytest

from faceanalytics.pipeline.pii import Masker
from faceanalytics.flatten import Context, Unreadable, flatten_payload
from faceanalytics.pipeline.ingest import ingest
from faceanalytics.schema import TABLES
from faceanalytics.storage.media import media_bytes
from faceanalytics.storage.tables import load

from _helpers import all_table_text as _all_text  # noqa: E402

SEEDS = Path(__file__).parent / "data" / "seeds"
SID = "1462259748,52b13fb5-8dfb-4537-a62b-a641d5e929f1"  # the seeds' biz_id
SECRET = "unit-test-api-secret-0000"
ID_NUMBER = "110101199003071234"
T1, T2, T3, T4 = ("2024-03-01T10:00:00Z", "2024-03-02T10:00:00Z",
                  "2024-03-03T10:00:00Z", "2024-03-04T10:00:00Z")

_SEED_CACHE: dict[str, str] = {}


def seed(name: str) -> dict:
    """A fresh (mutable) copy of a seed payload."""
    if name not in _SEED_CACHE:
        _SEED_CACHE[name] = (SEEDS / f"{name}.json").read_text("utf-8")
    return json.loads(_SEED_CACHE[name])


def flat_of(source: str, payload, *, sid: str = SID, keep_pii: bool = False, secret=None):
    ctx = Context(source, sid, Masker(b"k" * 32, keep_pii=keep_pii), megvii_api_secret=secret)
    return flatten_payload(source, payload, ctx)


def rows(flat, table: str) -> list[dict]:
    return flat.rows.get(table, [])


def by(rows_: list[dict], key: str) -> dict:
    return {r[key]: r for r in rows_}


def env(source: str, sid, payload, fetched_at: str = T1, http_status=200) -> dict:
    return {"source": source, "session_id": sid, "fetched_at": fetched_at,
            "http_status": http_status, "payload": payload}


def write_jsonl(path: Path, lines) -> Path:
    out = []
    for ln in lines:
        out.append(ln if isinstance(ln, str) else json.dumps(ln, ensure_ascii=False))
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return path


_N = [0]


def run(tmp_path: Path, lines, *, data: Path | None = None, source=None, keep_pii=False):
    """Write ``lines`` to a fresh JSONL file and ingest it into ``data``."""
    _N[0] += 1
    data = data or tmp_path / "data"
    path = write_jsonl(tmp_path / f"in{_N[0]}.jsonl", lines)
    return ingest([path], data, source=source, keep_pii=keep_pii), data


def lite_pending(status: str) -> dict:
    """What the Lite document says a NOT_STARTED/PROCESSING result looks like."""
    p = seed("megvii_lite_success")
    for k in ("idcard_info", "liveness_result", "verify_result", "images", "will_result"):
        del p[k]
    p["status"] = status
    return p


def fake_jpeg(n: int = 50_000) -> bytes:
    return b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + random.Random(7).randbytes(n) + b"\xff\xd9"


def sign_of(data: str, secret: str = SECRET) -> str:
    return hashlib.sha1((secret + data).encode("utf-8")).hexdigest()


# ----------------------------------------------------------------------------
# numbers as strings
# ----------------------------------------------------------------------------

def test_numbers_given_as_strings_are_read_as_numbers():
    p = seed("megvii_lite_table_fields")
    p["time_used"] = "93"
    vr = p["verify_result"]
    vr["result_faceid"] = {"confidence": "68.918",
                           "thresholds": {"1e-3": "64", "1e-4": "69", "1e-5": "74", "1e-6": "79.9"}}
    vr["verify_time"] = "1462259763"
    lr = p["liveness_result"]
    lr["details"]["UPLOAD_TIMES"] = "2"
    lr["face_genuineness"]["mask_confidence"] = "0.32"
    lr["face_genuineness"]["mask_threshold"] = "0.5"
    p["idcard_info"]["front_side"]["upload_times"] = "1"
    f = flat_of("megvii_lite", p)

    assert f.session["time_used"] == 93
    assert f.session["multifaces_tag"] == 1  # the table's "1"
    assert f.session["verify_time"] == 1462259763 * 1_000_000
    faceid = by(rows(f, "comparisons"), "comparison")["faceid"]
    assert faceid["confidence"] == pytest.approx(68.918)
    assert (faceid["thr_1e3"], faceid["thr_1e4"], faceid["thr_1e5"], faceid["thr_1e6"]) == \
        (64.0, 69.0, 74.0, pytest.approx(79.9))
    assert all(isinstance(faceid[c], float) for c in ("confidence", "thr_1e3", "thr_1e6"))
    assert by(rows(f, "liveness_details"), "key")["UPLOAD_TIMES"]["count"] == 2
    mask = by(rows(f, "genuineness"), "attack")["mask"]
    assert (mask["confidence"], mask["threshold"], mask["flagged"]) == (0.32, 0.5, False)
    assert rows(f, "idcard")[0]["front_upload_times"] == 1
    assert not any(k.startswith("_unreadable") for k in f.extra)


def test_baidu_counts_and_scores_as_strings():
    p = seed("baidu_getall")
    a = p["result"]["verify_result"][0]
    a["order"] = "1"
    a["ocr_count"] = "2"
    a["verify_detail"]["score"] = "89.9"
    a["verify_detail"]["threshold"] = "80"
    p["result"]["verify_count"] = "3"
    f = flat_of("baidu_getall", p, sid="tok")
    att = rows(f, "attempts")[0]
    assert (att["attempt"], att["ocr_count"], att["score"], att["threshold"]) == (1, 2, 89.9, 80.0)
    assert f.session["verify_count"] == 3
    cmp_ = rows(f, "comparisons")[0]
    assert (cmp_["comparison"], cmp_["attempt"], cmp_["confidence"], cmp_["threshold"]) == \
        ("faceprint", 1, 89.9, 80.0)


# ----------------------------------------------------------------------------
# thresholds: three or four levels, any order, per-row values
# ----------------------------------------------------------------------------

def test_v2_three_level_thresholds_in_any_key_order():
    f = flat_of("megvii_liveness", seed("megvii_liveness_success"))
    c = by(rows(f, "comparisons"), "comparison")
    assert set(c) == {"faceid", "ref1"}
    for name in ("faceid", "ref1"):  # ref1's keys come as 1e-5, 1e-4, 1e-3
        r = c[name]
        assert r["confidence"] == pytest.approx(68.91876)
        assert (r["thr_1e3"], r["thr_1e4"], r["thr_1e5"]) == (64.0, 69.0, 74.0)
        assert r["thr_1e6"] is None  # v2 has no 1e-6: null, not 0
        assert r["threshold"] is None and r["attempt"] == 1


def test_lite_four_level_thresholds_in_shuffled_order():
    p = seed("megvii_lite_table_fields")
    p["verify_result"]["result_ref1"]["thresholds"] = {"1e-6": 79.9, "1e-3": 64, "1e-5": 74,
                                                       "1e-4": 69}
    f = flat_of("megvii_lite", p)
    c = by(rows(f, "comparisons"), "comparison")
    assert set(c) == {"faceid", "ref1", "idcard_photo", "idcard_datasource"}
    for r in c.values():
        assert (r["thr_1e3"], r["thr_1e4"], r["thr_1e5"], r["thr_1e6"]) == (64.0, 69.0, 74.0, 79.9)
        assert r["confidence"] == pytest.approx(68.918)


def test_threshold_sets_of_different_eras_are_stored_per_row(tmp_path):
    old = {"1e-3": 65.3, "1e-4": 71.8, "1e-5": 76.5, "1e-6": 79.9}  # 2016
    new = {"1e-6": "78.038", "1e-5": 74.399, "1e-4": "69.315", "1e-3": 62.169}  # later, shuffled
    a = seed("megvii_lite_table_fields")
    a["verify_result"] = {"result_faceid": {"confidence": 70.1, "thresholds": old}}
    b = seed("megvii_lite_table_fields")
    b["biz_info"]["biz_id"] = "1650000000,later"
    b["verify_result"] = {"result_faceid": {"confidence": 70.1, "thresholds": new}}
    rep, data = run(tmp_path, [env("megvii_lite", SID, a), env("megvii_lite", "1650000000,later", b)])
    assert (rep.read, rep.landed, rep.quarantined) == (2, 2, 0)
    c = load(data, "comparisons").set_index("session_id")
    assert c.loc[SID, ["thr_1e3", "thr_1e4", "thr_1e5", "thr_1e6"]].tolist() == [65.3, 71.8, 76.5, 79.9]
    assert c.loc["1650000000,later", ["thr_1e3", "thr_1e4", "thr_1e5", "thr_1e6"]].tolist() == \
        [62.169, 69.315, 74.399, 78.038]
    # the contract's pandas entry point reads the same rows
    pdf = pd.read_parquet(data / "tables" / "comparisons")
    assert sorted(pdf["thr_1e3"].dropna().tolist()) == [62.169, 65.3]


# ----------------------------------------------------------------------------
# Lite pending statuses
# ----------------------------------------------------------------------------

@pytest.mark.parametrize("status", ["NOT_STARTED", "PROCESSING"])
def test_lite_pending_status_gives_one_session_and_no_comparisons(status):
    f = flat_of("megvii_lite", lite_pending(status))
    assert f.session["status"] == status
    assert f.session.get("error") is None
    assert f.session["biz_id"] == SID
    assert f.session.get("liveness_result") is None
    assert f.rows == {}
    assert f.extra == {}
    assert f.time_basis == "biz_id" and f.session_time_us == 1462259748 * 1_000_000


def test_lite_pending_status_end_to_end(tmp_path):
    rep, data = run(tmp_path, [env("megvii_lite", SID, lite_pending("PROCESSING"))])
    assert (rep.landed, rep.quarantined) == (1, 0)
    s = load(data, "sessions")
    assert len(s) == 1
    r = s.iloc[0]
    assert (r["status"], r["session_id"], r["biz_no"]) == ("PROCESSING", SID,
                                                           "cc47190f-5502-44a2-ab74-ea4f0f649f61")
    assert pd.isna(r["error"]) and pd.isna(r["liveness_result"]) and pd.isna(r["verify_time"])
    assert len(load(data, "comparisons")) == 0 and len(load(data, "genuineness")) == 0


# ----------------------------------------------------------------------------
# biz_id: v2 top level vs Lite biz_info; session id from a bare payload
# ----------------------------------------------------------------------------

@pytest.mark.parametrize("source,name,biz_as_text", [
    ("megvii_lite", "megvii_lite_success", False),
    ("megvii_lite", "megvii_lite_success", True),   # biz_info logged as JSON text
    ("megvii_liveness", "megvii_liveness_success", False),
])
def test_biz_fields_from_biz_info_or_top_level(source, name, biz_as_text):
    p = seed(name)
    if biz_as_text:
        p["biz_info"] = json.dumps(p["biz_info"])
    f = flat_of(source, p)
    assert f.session["biz_id"] == SID
    assert f.session["biz_no"] == "cc47190f-5502-44a2-ab74-ea4f0f649f61"
    assert f.session["biz_extra_data"] == "..."
    assert f.extra == {}


@pytest.mark.parametrize("source,name", [("megvii_lite", "megvii_lite_success"),
                                         ("megvii_liveness", "megvii_liveness_success")])
def test_bare_payload_session_id_comes_from_the_payload(tmp_path, source, name):
    p = seed(name)
    p2 = seed(name)
    if "biz_info" in p2:
        p2["biz_info"]["biz_id"] = "1462259999,second"
    else:
        p2["biz_id"] = "1462259999,second"
    rep, data = run(tmp_path, [p, p2], source=source)
    assert (rep.read, rep.landed, rep.quarantined) == (2, 2, 0)
    s = load(data, "sessions").sort_values("session_id")
    assert s["session_id"].tolist() == [SID, "1462259999,second"]
    assert s["biz_id"].tolist() == [SID, "1462259999,second"]
    assert set(s["source"]) == {source}
    c = load(data, "comparisons")
    assert set(c["session_id"]) == {SID, "1462259999,second"}


# ----------------------------------------------------------------------------
# verify_result: null, {"error": ...}, Lite error messages (billed per the table)
# ----------------------------------------------------------------------------

@pytest.mark.parametrize("value", [None, "null"])
def test_verify_result_null(value):
    p = seed("megvii_liveness_success")
    p["verify_result"] = value
    f = flat_of("megvii_liveness", p)
    assert rows(f, "comparisons") == [] and rows(f, "verify_errors") == []
    assert f.session.get("verify_error") is None
    assert f.session["liveness_result"] == "success"
    assert f.extra == {}


def test_v2_verify_api_failed():
    p = seed("megvii_liveness_success")
    p["verify_result"] = {"error": "VERIFY_API_FAILED"}
    f = flat_of("megvii_liveness", p)
    assert f.session["verify_error"] == "VERIFY_API_FAILED"
    assert f.session.get("error") is None  # not an API-level error: the session is a result
    assert rows(f, "verify_errors") == [{"error_message": "VERIFY_API_FAILED", "billed": None,
                                         "origin": "verify_result.error"}]
    assert rows(f, "comparisons") == []


@pytest.mark.parametrize("message,billed", [
    ("NO_SUCH_ID_NUMBER", True), ("ID_NUMBER_NAME_NOT_MATCH", True),
    ("IMAGE_ERROR_UNSUPPORTED_FORMAT", True), ("NO_FACE_FOUND", True),
    ("DATA_SOURCE_ERROR", False), ("INTERNAL_ERROR", False), ("SOME_NEW_ERROR", None),
])
def test_lite_verify_error_message_billing(message, billed):
    p = seed("megvii_lite_table_fields")
    p["verify_result"] = {"verify_time": 1462259763, "error_message": message}
    f = flat_of("megvii_lite", p)
    assert f.session["verify_error"] == message
    assert rows(f, "verify_errors") == [{"error_message": message, "billed": billed,
                                         "origin": "verify_result.error_message"}]
    assert rows(f, "comparisons") == []
    assert f.session["verify_time"] == 1462259763_000000


def test_verify_error_lands_end_to_end(tmp_path):
    p = seed("megvii_liveness_success")
    p["verify_result"] = {"error": "VERIFY_API_FAILED"}
    q = seed("megvii_lite_table_fields")
    q["verify_result"]["error_message"] = "NO_SUCH_ID_NUMBER"
    rep, data = run(tmp_path, [env("megvii_liveness", SID, p), env("megvii_lite", SID, q)])
    assert rep.landed == 2
    s = load(data, "sessions").set_index("source")
    assert s.loc["megvii_liveness", "verify_error"] == "VERIFY_API_FAILED"
    assert pd.isna(s.loc["megvii_liveness", "error"])
    v = load(data, "verify_errors").set_index("source")
    assert pd.isna(v.loc["megvii_liveness", "billed"])
    assert bool(v.loc["megvii_lite", "billed"]) is True
    assert v.loc["megvii_lite", "error_message"] == "NO_SUCH_ID_NUMBER"


# ----------------------------------------------------------------------------
# failure_reason null / "" / "null"
# ----------------------------------------------------------------------------

@pytest.mark.parametrize("value", [None, "", "null"])
def test_failure_reason_nullish_forms_are_null(value):
    p = seed("megvii_liveness_success")
    p["liveness_result"]["failure_reason"] = value
    f = flat_of("megvii_liveness", p)
    assert f.session["failure_reason"] is None
    assert f.session["liveness_result"] == "success"
    assert f.session["liveness_version"] == "MegLive 2.4.0L"


def test_failure_reason_value_is_kept():
    p = seed("megvii_liveness_success")
    p["liveness_result"].update(result="failed", failure_reason="action_mixed")
    f = flat_of("megvii_liveness", p)
    assert (f.session["liveness_result"], f.session["failure_reason"]) == ("failed", "action_mixed")


# ----------------------------------------------------------------------------
# face_genuineness shapes
# ----------------------------------------------------------------------------

def test_face_genuineness_plain_string_kept_in_extra():
    p = seed("megvii_lite_success")
    p["liveness_result"]["face_genuineness"] = "PASS"
    f = flat_of("megvii_lite", p)
    assert rows(f, "genuineness") == []
    assert f.extra == {"liveness_result.face_genuineness": "PASS"}


def test_face_genuineness_as_json_text_is_parsed():
    p = seed("megvii_liveness_success")
    p["verify_result"]["face_genuineness"] = json.dumps(
        {"synthetic_face_confidence": "0.88", "synthetic_face_threshold": "0.5",
         "mask_confidence": 0.5, "mask_threshold": 0.5,
         "screen_replay_confidence": 0.33, "screen_replay_threshold": 0.5})
    f = flat_of("megvii_liveness", p)
    g = by(rows(f, "genuineness"), "attack")
    assert set(g) == {"synthetic_face", "mask", "screen_replay"}
    assert (g["synthetic_face"]["confidence"], g["synthetic_face"]["threshold"],
            g["synthetic_face"]["flagged"]) == (0.88, 0.5, True)
    assert g["mask"]["flagged"] is False  # equal is not above the threshold
    assert (g["screen_replay"]["confidence"], g["screen_replay"]["flagged"]) == (0.33, False)
    assert not any("face_genuineness" in k for k in f.extra)


def test_face_genuineness_absent_pair_gives_no_row_not_zero():
    p = seed("megvii_liveness_success")
    fg = p["verify_result"]["face_genuineness"]
    del fg["screen_replay_confidence"], fg["screen_replay_threshold"]
    f = flat_of("megvii_liveness", p)
    g = by(rows(f, "genuineness"), "attack")
    assert set(g) == {"synthetic_face", "mask"}
    assert g["synthetic_face"]["flagged"] is True and g["mask"]["flagged"] is False
    assert all(r["attempt"] == 1 for r in g.values())


def test_lite_genuineness_flagged_is_confidence_above_threshold():
    f = flat_of("megvii_lite", seed("megvii_lite_success"))
    g = by(rows(f, "genuineness"), "attack")
    assert {a: (r["confidence"], r["threshold"], r["flagged"]) for a, r in g.items()} == {
        "synthetic_face": (0.88, 0.5, True), "mask": (0.32, 0.5, False),
        "screen_replay": (0.0, 0.5, False)}


# ----------------------------------------------------------------------------
# Baidu: codes, counts and log ids as ints or strings
# ----------------------------------------------------------------------------

@pytest.mark.parametrize("code,count,log_id", [(0, 1, "1405335905"), ("0", "1", 1405335905),
                                               (0.0, 1.0, "1405335905")])
def test_baidu_stat_codes_counts_and_log_id(code, count, log_id):
    p = seed("baidu_stat")
    p["log_id"] = log_id
    for items in p["result"].values():
        items[0]["error_code"] = code
        items[0]["count"] = count
    p["result"]["OCR"].append({"error_code": "216600", "count": "2"})
    f = flat_of("baidu_stat", p, sid="tok")
    assert f.session["log_id"] == "1405335905"
    assert f.session["status"] == "OK" and f.session["success"] is True
    ec = rows(f, "error_counts")
    assert len(ec) == 8
    assert {r["api"] for r in ec} == {"Verify_FIN", "Sessioncode", "OCR", "verify",
                                      "VideoLiveness", "Livenesscolorful", "VerifySec"}
    for r in ec:
        assert isinstance(r["error_code"], str) and isinstance(r["count"], int)
    assert sorted((r["error_code"], r["count"]) for r in ec if r["api"] == "OCR") == \
        [("0", 1), ("216600", 2)]


def test_baidu_stat_end_to_end_types(tmp_path):
    p = seed("baidu_stat")
    p["log_id"] = 1405335905
    p["result"]["OCR"][0]["error_code"] = "0"
    p["result"]["OCR"][0]["count"] = "2"
    rep, data = run(tmp_path, [env("baidu_stat", "tok-1", p)])
    assert rep.landed == 1
    ec = load(data, "error_counts")
    assert len(ec) == 7
    assert set(ec["error_code"]) == {"0"}
    assert ec.set_index("api").loc["OCR", "count"] == 2
    assert str(ec["count"].dtype) == "Int64"
    s = load(data, "sessions")
    assert s["log_id"].tolist() == ["1405335905"]


def test_baidu_success_body_with_error_code_zero_is_not_an_error():
    # The platform's form: error_code 0 (or "0") means success.
    for code in (0, "0"):
        p = seed("baidu_stat")
        del p["success"]
        p["error_code"], p["error_msg"] = code, "SUCCESS"
        f = flat_of("baidu_stat", p, sid="tok")
        assert f.session["status"] == "OK" and f.session.get("error") is None
        assert len(rows(f, "error_counts")) == 7


# ----------------------------------------------------------------------------
# Baidu: spoofing vs spoofing_score; getall OCR nested or sibling; early stop
# ----------------------------------------------------------------------------

def test_detail_spoofing_and_getall_spoofing_score_are_synthetic_face():
    d = flat_of("baidu_detail", seed("baidu_detail"), sid="tok")
    assert rows(d, "genuineness") == [{"attack": "synthetic_face", "attempt": None,
                                       "confidence": 0.0, "threshold": None, "flagged": None}]
    assert d.session["liveness_score"] == pytest.approx(0.9672966)
    c = rows(d, "comparisons")
    assert [(r["comparison"], r["confidence"], r["thr_1e3"], r["threshold"]) for r in c] == \
        [("faceprint", 93.7835, None, None)]
    assert d.session["log_id"] == "160931948204246"

    g = flat_of("baidu_getall", seed("baidu_getall"), sid="tok")
    assert rows(g, "genuineness") == [{"attack": "synthetic_face", "attempt": 1,
                                       "confidence": 80.0, "threshold": None, "flagged": None}]
    assert rows(g, "attempts")[0]["spoofing_score"] == 80.0


@pytest.mark.parametrize("name", ["baidu_getall", "baidu_getall_table_fields"])
def test_getall_ocr_nested_or_sibling(name):
    f = flat_of("baidu_getall", seed(name), sid="tok")
    ocr = rows(f, "idcard_ocr")
    assert len(ocr) == 1
    o = ocr[0]
    assert (o["attempt"], o["side"], o["name"], o["gender"], o["ethnicity"], o["birth_year"]) == \
        (1, "both", "张*", "男", "汉族", 2020)
    assert (o["id_number_last4"], o["id_number"], o["address"]) == ("232X", None, "江西省***")
    assert (o["issued_by"], o["issue_date"], o["expire_date"], o["id_type"]) == \
        ("江西省赣州市", "2020-10-10 10:10:10", "2028-10-10 10:10:10", "0")
    assert o["birth_date"] is None  # full birth date is PII
    idc = rows(f, "idcard")
    assert len(idc) == 1 and idc[0]["id_number_last4"] == "232X" and idc[0]["name"] == "张*"
    assert idc[0]["id_number_hash"] == o["id_number_hash"] is not None
    media = by(rows(f, "media"), "field")
    assert set(media) >= {"idcard_front_image", "idcard_back_image", "face_image"}
    assert media["idcard_front_image"]["url"] == "xxx.jpg"
    a = rows(f, "attempts")[0]
    assert (a["passed"], a["code"], a["charged"], a["charge_type"], a["risk_level"]) == \
        (True, "0", True, "verify", "1")
    # 2023-10-10 10:10:10 Beijing time = 02:10:10 UTC
    assert a["verify_time"] == pd.Timestamp("2023-10-10 02:10:10", tz="UTC").value // 1000
    assert f.session["verify_time"] == a["verify_time"]
    assert not any(k.startswith("_unreadable") for k in f.extra)


def test_getall_attempt_stopped_before_the_comparison():
    p = seed("baidu_getall_table_fields")
    first = p["result"]["verify_result"][0]
    stopped = copy.deepcopy(first)
    stopped.update(order=2, is_verify_passed=False, code="222351", message="活体检测未通过",
                   is_charged=False)
    for k in ("idcard_confirm", "idcard_ocr_result", "idcard_images"):
        del stopped[k]
    stopped["verify_detail"] = {"verify_log_id": "", "liveness_score": 0.1, "risk_level": 0}
    p["result"]["verify_result"].append(stopped)
    f = flat_of("baidu_getall", p, sid="tok")
    att = by(rows(f, "attempts"), "attempt")
    assert set(att) == {1, 2}
    assert att[2]["score"] is None and att[2]["threshold"] is None
    assert (att[2]["passed"], att[2]["code"], att[2]["charged"], att[2]["risk_level"]) == \
        (False, "222351", False, "0")
    cmp_ = by(rows(f, "comparisons"), "attempt")
    assert set(cmp_) == {1, 2}
    assert cmp_[2]["confidence"] is None and cmp_[1]["confidence"] == 89.9
    assert cmp_[1]["threshold"] == 80.0
    # no spoofing_score in the stopped attempt: no genuineness row for it
    assert [r["attempt"] for r in rows(f, "genuineness")] == [1]


# ----------------------------------------------------------------------------
# the documents' typos
# ----------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["megvii_lite_success", "megvii_lite_table_fields"])
def test_document_typos(name):
    f = flat_of("megvii_lite", seed(name))
    idc = rows(f, "idcard")[0]
    assert idc["idcard_uneditable_field"] == "idcard_number,idcard_valid_date"
    ocr = by(rows(f, "idcard_ocr"), "side")
    for side in ("front", "back"):
        o = ocr[side]
        assert o["legality_temporary_id_photo"] == 0.0  # "Temporary ID Photo " (trailing space)
        assert (o["legality_id_photo"], o["legality_photocopy"], o["legality_screen"],
                o["legality_edited"]) == (0.855, 0.049, 0.096, 0.0)
    assert f.extra == {}


# ----------------------------------------------------------------------------
# callbacks
# ----------------------------------------------------------------------------

def _callback_data() -> str:
    return seed("megvii_notify_callback")["data"]


def _assert_v2_like(f):
    assert f.session["sign_verified"] is True
    assert f.session["biz_id"] == SID and f.session["liveness_result"] == "success"
    assert f.session["time_used"] == 93 and f.session["verify_time_used"] == 1020
    c = by(rows(f, "comparisons"), "comparison")
    assert set(c) == {"faceid", "ref1"}
    assert c["ref1"]["thr_1e5"] == 74.0 and c["ref1"]["thr_1e6"] is None
    assert len(rows(f, "genuineness")) == 3


@pytest.mark.parametrize("form", ["data_text", "data_object", "sign_upper_case", "body_text",
                                  "form_encoded"])
def test_callback_with_valid_sign(form):
    data = _callback_data()
    sign = sign_of(data)
    if form == "data_text":
        body = {"data": data, "sign": sign}
    elif form == "data_object":  # logged after parsing
        body = {"data": json.loads(data), "sign": sign}
    elif form == "sign_upper_case":
        body = {"data": data, "sign": sign.upper()}
    elif form == "body_text":
        body = json.dumps({"data": data, "sign": sign})
    else:
        body = urlencode({"data": data, "sign": sign})
    f = flat_of("megvii_notify", body, secret=SECRET)
    _assert_v2_like(f)
    assert f.extra == {}


@pytest.mark.parametrize("body,secret,needle", [
    ({"data": "DATA", "sign": "0" * 40}, SECRET, "sign does not match"),
    ({"data": "DATA", "sign": "SIGN_OF_OTHER_SECRET"}, SECRET, "sign does not match"),
    ({"data": "DATA"}, SECRET, "no sign"),
    ({"data": "DATA", "sign": ""}, SECRET, "no sign"),
    ({"data": "DATA", "sign": "SIGN"}, None, "MEGVII_API_SECRET"),
    ("FORM_WRONG", SECRET, "sign does not match"),
])
def test_callback_unverifiable_is_unreadable(body, secret, needle):
    data = _callback_data()

    def fill(v):
        return {"DATA": data, "SIGN": sign_of(data),
                "SIGN_OF_OTHER_SECRET": sign_of(data, "another-secret")}.get(v, v)

    if body == "FORM_WRONG":
        body = urlencode({"data": data, "sign": sign_of(data + " ")})
    else:
        body = {k: fill(v) for k, v in body.items()}
    with pytest.raises(Unreadable) as e:
        flat_of("megvii_notify", body, secret=secret)
    assert needle in str(e.value)
    assert SECRET not in str(e.value)


def test_callbacks_end_to_end(tmp_path, monkeypatch):
    monkeypatch.setenv("MEGVII_API_SECRET", SECRET)
    data = _callback_data()
    good_form = env("megvii_notify", SID, urlencode({"data": data, "sign": sign_of(data)}))
    other = json.loads(data)
    other["biz_id"] = "1462259800,bare"
    other_text = json.dumps(other, separators=(",", ":"))
    bare = {"data": other_text, "sign": sign_of(other_text)}  # bare body, id from data
    bad = env("megvii_notify", "1462259801,bad", {"data": data, "sign": "f" * 40}, T2)
    unsigned = env("megvii_notify", "1462259802,nosign", {"data": data}, T2)
    rep, dd = run(tmp_path, [good_form, bare, bad, unsigned], source="megvii_notify")
    assert (rep.read, rep.landed, rep.quarantined) == (4, 2, 2)
    s = load(dd, "sessions").sort_values("session_id")
    assert s["session_id"].tolist() == [SID, "1462259800,bare"]
    assert s["sign_verified"].tolist() == [True, True]
    assert set(s["source"]) == {"megvii_notify"}
    c = load(dd, "comparisons")
    assert len(c) == 4 and c["thr_1e6"].isna().all()
    q = load(dd, "quarantine").set_index("session_id")
    assert "sign does not match" in q.loc["1462259801,bad", "reason"]
    assert "no sign" in q.loc["1462259802,nosign", "reason"]
    for col in ("reason", "raw"):
        assert not q[col].str.contains(SECRET).any()

    # a receiver's log of raw bodies: one form-encoded body per line
    third = json.loads(data)
    third["biz_id"] = "1462259804,form"
    third["biz_extra_data"] = "a+b&c=d 陈"
    third_text = json.dumps(third, ensure_ascii=False, separators=(",", ":"))
    form_line = urlencode({"data": third_text, "sign": sign_of(third_text)})
    rep3, _ = run(tmp_path, [form_line], data=dd, source="megvii_notify")
    assert (rep3.landed, rep3.quarantined) == (1, 0)
    s = load(dd, "sessions").set_index("session_id")
    assert s.loc["1462259804,form", "biz_extra_data"] == "a+b&c=d 陈"
    assert bool(s.loc["1462259804,form", "sign_verified"]) is True

    monkeypatch.delenv("MEGVII_API_SECRET")
    rep2, _ = run(tmp_path, [env("megvii_notify", "1462259803,nosecret",
                                 {"data": data, "sign": sign_of(data)})], data=dd)
    assert (rep2.landed, rep2.quarantined) == (0, 1)
    q = load(dd, "quarantine").set_index("session_id")
    assert "MEGVII_API_SECRET is not set" in q.loc["1462259803,nosecret", "reason"]


# ----------------------------------------------------------------------------
# API error bodies
# ----------------------------------------------------------------------------

@pytest.mark.parametrize("source,payload,status,error,message", [
    ("megvii_lite", {"error_message": "RESULT_NOT_FOUND", "request_id": "1462259901,fa79",
                     "time_used": 4}, "RESULT_NOT_FOUND", "RESULT_NOT_FOUND", None),
    ("megvii_liveness", {"error_message": "AUTHORIZATION_ERROR:Denied.", "request_id": "r",
                         "time_used": "3"}, "AUTHORIZATION_ERROR", "AUTHORIZATION_ERROR:Denied.", None),
    ("megvii_lite", {"error_message": "BAD_ARGUMENTS:biz_id", "request_id": "r", "time_used": 1},
     "BAD_ARGUMENTS", "BAD_ARGUMENTS:biz_id", None),
    ("baidu_detail", {"success": False, "code": 216600, "message": "id number format error",
                      "log_id": 160931948204247}, "216600", "216600", "id number format error"),
    ("baidu_getall", {"success": "false", "code": "216600", "message": "m", "log_id": "1"},
     "216600", "216600", "m"),
    ("baidu_stat", {"error_code": 110, "error_msg": "Access token invalid or no longer valid",
                    "log_id": 1}, "110", "110", "Access token invalid or no longer valid"),
    ("baidu_media", {"error_code": "18", "error_msg": "Open api qps request limit reached"},
     "18", "18", "Open api qps request limit reached"),
])
def test_api_error_bodies(source, payload, status, error, message):
    f = flat_of(source, payload, sid="tok")
    assert f.session["status"] == status
    assert f.session["error"] == error
    assert f.session.get("error_message") == message
    assert f.rows == {}
    if source.startswith("megvii"):
        assert f.session["time_used"] == int(payload["time_used"])  # "3" too


def test_api_error_bodies_land_as_session_rows(tmp_path):
    lines = [env("megvii_lite", "1462259901,x", seed("megvii_lite_error"), http_status=400),
             env("megvii_liveness", "1462259902,y",
                 {"error_message": "AUTHORIZATION_ERROR:Denied.", "request_id": "r", "time_used": 3},
                 http_status=403),
             env("baidu_detail", "tok-f", seed("baidu_detail_failure")),
             env("baidu_getall", "tok-g", {"error_code": 110, "error_msg": "Access token invalid"})]
    rep, data = run(tmp_path, lines)
    assert (rep.landed, rep.quarantined) == (4, 0)
    s = load(data, "sessions").set_index("session_id")
    assert s.loc["1462259901,x", ["status", "error"]].tolist() == ["RESULT_NOT_FOUND"] * 2
    assert s.loc["1462259901,x", "http_status"] == 400
    assert s.loc["1462259902,y", ["status", "error"]].tolist() == \
        ["AUTHORIZATION_ERROR", "AUTHORIZATION_ERROR:Denied."]
    assert s.loc["tok-f", ["status", "error", "error_message", "log_id"]].tolist() == \
        ["216600", "216600", "id number format error", "160931948204247"]
    assert s.loc["tok-g", ["status", "error"]].tolist() == ["110", "110"]
    assert s["verify_time"].isna().all()


# ----------------------------------------------------------------------------
# unreadable records: quarantined with a reason, the rest lands
# ----------------------------------------------------------------------------

def test_unreadable_records_are_quarantined_and_the_rest_lands(tmp_path):
    good = seed("megvii_liveness_success")
    abc = seed("megvii_liveness_success")
    abc["verify_result"]["result_faceid"]["confidence"] = "abc"
    no_fetch = env("megvii_lite", "1462259748,nofetch", seed("megvii_lite_success"))
    del no_fetch["fetched_at"]
    lines = [
        env("megvii_liveness", SID, good),
        "this is not json",
        "[1, 2, 3]",
        env("megvii_foo", "x", good),
        env("megvii_liveness", "1462259748,abc", abc),
        "{'source': 'megvii_lite', 'payload': {'status': 'OK'}}",
        no_fetch,
        env("baidu_detail", "tok-ok", seed("baidu_detail")),
        env("baidu_stat", "tok-text", json.dumps(seed("baidu_stat"))),  # payload logged as text
    ]
    rep, data = run(tmp_path, lines)
    assert (rep.read, rep.landed, rep.quarantined) == (9, 3, 6)
    s = load(data, "sessions")
    assert sorted(s["session_id"]) == [SID, "tok-ok", "tok-text"]
    assert len(load(data, "error_counts")) == 7
    q = load(data, "quarantine")
    assert len(q) == 6
    reasons = dict(zip(q["raw"], q["reason"]))
    assert reasons["this is not json"].startswith("not valid JSON")
    assert reasons["[1, 2, 3]"] == "not a JSON object (list)"
    assert "single-quoted" in reasons["{'source': 'megvii_lite', 'payload': {'status': 'OK'}}"]
    by_sid = q.set_index(q["session_id"].fillna("-"))
    assert "unknown source 'megvii_foo'" in \
        [r for raw, r in reasons.items() if "megvii_foo" in raw][0]
    assert by_sid.loc["1462259748,abc", "reason"] == \
        "verify_result.result_faceid.confidence is not a number: 'abc'"
    assert "fetched_at" in [r for raw, r in reasons.items() if "nofetch" in raw][0]
    # the raw record is kept as received
    assert json.loads([raw for raw in reasons if "1462259748,abc" in raw][0])["payload"] == abc
    # nothing of the quarantined confidence record landed anywhere
    assert "1462259748,abc" not in set(load(data, "comparisons")["session_id"])


def test_bare_baidu_payload_is_quarantined(tmp_path):
    lines = [seed("baidu_getall"), env("baidu_getall", "tok-env", seed("baidu_getall"))]
    rep, data = run(tmp_path, lines, source="baidu_getall")
    assert (rep.read, rep.landed, rep.quarantined) == (2, 1, 1)
    assert load(data, "sessions")["session_id"].tolist() == ["tok-env"]
    q = load(data, "quarantine")
    assert len(q) == 1 and "verify_token" in q["reason"].iloc[0]


def test_unknown_source_in_pure_api_and_non_object_payload():
    with pytest.raises(Unreadable, match="unknown source"):
        flat_of("megvii_foo", {})
    with pytest.raises(Unreadable, match="not a JSON object"):
        flat_of("megvii_lite", [1, 2])
    with pytest.raises(Unreadable, match="not a number"):
        p = seed("megvii_lite_success")
        p["verify_result"]["result_ref1"]["thresholds"]["1e-4"] = "abc"
        flat_of("megvii_lite", p)


# ----------------------------------------------------------------------------
# a value is never invented
# ----------------------------------------------------------------------------

def test_unreadable_lenient_field_is_null_and_kept(tmp_path):
    p = seed("megvii_lite_success")
    p["idcard_info"]["front_side"]["ocr_result"]["legality"]["ID Photo"] = "abc"
    p["liveness_result"]["details"]["SR_ERROR"] = "many"
    f = flat_of("megvii_lite", p)
    front = by(rows(f, "idcard_ocr"), "side")["front"]
    assert front["legality_id_photo"] is None
    assert front["legality_photocopy"] == 0.049  # its siblings are still read
    assert f.extra["_unreadable.idcard_info.front_side.ocr_result.legality.ID Photo"] == "abc"
    assert by(rows(f, "liveness_details"), "key")["SR_ERROR"]["count"] is None
    assert f.extra["_unreadable.liveness_result.details.SR_ERROR"] == "many"

    rep, data = run(tmp_path, [env("megvii_lite", SID, p)])
    assert rep.landed == 1
    extra = json.loads(load(data, "sessions")["extra"].iloc[0])
    assert extra["_unreadable.idcard_info.front_side.ocr_result.legality.ID Photo"] == "abc"
    ocr = load(data, "idcard_ocr").set_index("side")
    assert pd.isna(ocr.loc["front", "legality_id_photo"])
    assert ocr.loc["back", "legality_id_photo"] == 0.855


def test_absent_values_stay_null():
    f = flat_of("megvii_liveness", seed("megvii_liveness_success"))
    assert f.session.get("verify_time") is None  # not fetched_at, not 0
    assert f.time_basis == "biz_id"
    p = seed("megvii_lite_table_fields")
    p["verify_result"]["verify_time"] = "yesterday"
    f = flat_of("megvii_lite", p)
    assert f.session["verify_time"] is None
    assert f.extra["_unreadable.verify_result.verify_time"] == "yesterday"


# ----------------------------------------------------------------------------
# unknown fields are kept
# ----------------------------------------------------------------------------

def test_unknown_fields_are_kept(tmp_path):
    p = seed("megvii_lite_table_fields")
    p["new_top"] = {"a": 1}
    p["biz_info"]["biz_tag"] = "x"
    p["verify_result"]["result_faceid"]["new_field"] = 7
    p["verify_result"]["result_ref2"] = {"confidence": 55.5, "thresholds": {"1e-3": 64}}
    p["verify_result"]["risk_hint"] = "low"
    p["liveness_result"]["new_liveness_field"] = [1, 2]
    p["liveness_result"]["face_genuineness"].update(deepfake_confidence=0.7, deepfake_threshold=0.6,
                                                    model_version="v9")
    p["idcard_info"]["front_side"]["ocr_result"]["legality"]["AI Generated"] = 0.01
    f = flat_of("megvii_lite", p)
    assert f.extra["new_top"] == {"a": 1}
    assert f.extra["biz_info.biz_tag"] == "x"
    assert f.extra["verify_result.result_faceid.new_field"] == 7
    assert f.extra["verify_result.risk_hint"] == "low"
    assert f.extra["liveness_result.new_liveness_field"] == [1, 2]
    assert f.extra["liveness_result.face_genuineness.model_version"] == "v9"
    assert f.extra["idcard_info.front_side.ocr_result.legality.AI Generated"] == 0.01
    g = by(rows(f, "genuineness"), "attack")
    assert (g["deepfake"]["confidence"], g["deepfake"]["threshold"], g["deepfake"]["flagged"]) == \
        (0.7, 0.6, True)
    assert len(g) == 4
    ref2 = by(rows(f, "comparisons"), "comparison")["ref2"]
    assert (ref2["confidence"], ref2["thr_1e3"], ref2["thr_1e4"]) == (55.5, 64.0, None)

    rep, data = run(tmp_path, [env("megvii_lite", SID, p)])
    assert rep.landed == 1
    extra = json.loads(load(data, "sessions")["extra"].iloc[0])
    assert extra["verify_result.result_faceid.new_field"] == 7
    assert extra["new_top"] == {"a": 1}
    assert "deepfake" in set(load(data, "genuineness")["attack"])


def test_unknown_baidu_fields_are_kept():
    p = seed("baidu_getall_table_fields")
    p["trace"] = "t1"
    p["result"]["new_count"] = 3
    p["result"]["verify_result"][0]["verify_detail"]["deepfake_score"] = 0.2
    p["result"]["verify_result"][0]["idcard_ocr_result"]["new_ocr_field"] = "n"
    f = flat_of("baidu_getall", p, sid="tok")
    assert f.extra["trace"] == "t1"
    assert f.extra["result.new_count"] == 3
    assert f.extra["result.verify_result[1].verify_detail.deepfake_score"] == 0.2
    assert f.extra["result.verify_result[1].idcard_ocr_result.new_ocr_field"] == "n"


# ----------------------------------------------------------------------------
# images
# ----------------------------------------------------------------------------

def test_images_are_files_never_table_cells(tmp_path):
    jpeg = fake_jpeg()
    b64 = base64.b64encode(jpeg).decode()
    p = seed("megvii_lite_table_fields")
    p["images"] = {"image_best": "data:image/jpeg;base64," + b64,
                   "image_idcard_front": "data: image/jpeg;base64," + b64,  # the doc's space
                   "image_idcard_back": "data: image/jpeg;base64,..."}       # doc placeholder
    p["multifaces_image"] = "data:image/jpeg;base64," + b64
    d = seed("baidu_detail")
    d["result"]["idcard_images"]["front_base64"] = b64  # Baidu: bare base64
    lines = [env("megvii_lite", SID, p), env("baidu_detail", "tok/1", d)]
    rep, data = run(tmp_path, lines)
    assert (rep.landed, rep.quarantined) == (2, 0)

    m = load(data, "media")
    lite = m[m["source"] == "megvii_lite"].set_index("field")
    sha = hashlib.sha256(jpeg).hexdigest()
    for field in ("image_best", "image_idcard_front", "multifaces_image"):
        r = lite.loc[field]
        # in the chunk's pack (issue 12): the member is named as the file was
        assert r["path"].endswith(".jpg") and r["pack"].startswith("media/packs/megvii_lite/")
        assert media_bytes(data, r) == jpeg
        with zipfile.ZipFile(data / r["pack"]) as z:   # any zip reader opens a pack
            assert z.read(r["path"]) == jpeg
        assert (r["n_bytes"], r["sha256"], r["media_type"]) == (len(jpeg), sha, "image")
        assert pd.isna(r["error"])
    back = lite.loc["image_idcard_back"]
    assert pd.isna(back["path"]) and back["error"] == "not valid base64"
    bd = m[m["source"] == "baidu_detail"].set_index("field")
    assert media_bytes(data, bd.loc["idcard_front_base64"]) == jpeg
    # the session id "tok/1" is made file-name safe (and injective: a digest keeps it apart from
    # "tok_1"): the member is one folder deep in its pack
    path = bd.loc["idcard_front_base64", "path"]
    assert path.startswith("tok_1~") and path.endswith("/idcard_front_base64.jpg")
    assert path.count("/") == 1
    assert bd.loc["idcard_back_base64", "error"] == "not valid base64"  # "/9j/4AAQ...."

    for table in TABLES:
        df = load(data, table)
        for col in df.columns:
            vals = df[col].dropna()
            if len(vals) and isinstance(vals.iloc[0], str):
                assert vals.str.len().max() < 2000, (table, col)


def test_inline_images_of_several_attempts_do_not_overwrite_each_other(tmp_path):
    one, two = fake_jpeg(3000), b"\xff\xd8\xff\xe1" + b"second attempt" * 100
    p = seed("baidu_getall_table_fields")
    first = p["result"]["verify_result"][0]
    second = copy.deepcopy(first)
    second["order"] = 2
    first["verify_detail"]["face_image"] = base64.b64encode(one).decode()
    second["verify_detail"]["face_image"] = base64.b64encode(two).decode()
    p["result"]["verify_result"].append(second)
    rep, data = run(tmp_path, [env("baidu_getall", "tok", p)])
    assert rep.landed == 1
    m = load(data, "media")
    faces = m[m["field"] == "face_image"].set_index("attempt")
    assert set(faces.index) == {1, 2}
    assert faces.loc[1, "path"] != faces.loc[2, "path"]
    for attempt, blob in ((1, one), (2, two)):
        r = faces.loc[attempt]
        assert media_bytes(data, r) == blob
        assert r["sha256"] == hashlib.sha256(blob).hexdigest()


def test_image_shapes_pure():
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 40
    p = seed("megvii_liveness_success")
    p["images"] = {"image_best": "data:image/png;base64," + base64.b64encode(png).decode(),
                   "image_action1": "", "image_action2": "data:image/jpeg;base64,..."}
    f = flat_of("megvii_liveness", p)
    m = by(rows(f, "media"), "field")
    assert m["image_best"]["path"].endswith("image_best.png")
    assert f.blobs == [(m["image_best"]["path"], png)]
    assert m["image_action1"]["error"] == "empty (not generated)"
    assert m["image_action2"]["error"] == "not valid base64" and m["image_action2"]["path"] is None


# ----------------------------------------------------------------------------
# PII
# ----------------------------------------------------------------------------

def _pii_payload(biz_id: str) -> dict:
    p = seed("megvii_lite_table_fields")
    p["biz_info"]["biz_id"] = biz_id
    p["idcard_info"]["idcard_number"] = ID_NUMBER
    p["idcard_info"]["front_side"]["ocr_result"]["id_card_number"] = ID_NUMBER
    p["idcard_info"]["ocr_front_quality"]["idcard_number"]["result"] = ID_NUMBER
    return p


def test_pii_masked_by_default_and_hash_stable(tmp_path):
    _, data = run(tmp_path, [env("megvii_lite", SID, _pii_payload(SID))])
    run(tmp_path, [env("megvii_lite", "1462259800,other", _pii_payload("1462259800,other"))],
        data=data)
    idc = load(data, "idcard").set_index("session_id")
    assert len(idc) == 2
    assert idc["id_number"].isna().all()
    assert idc["id_number_last4"].tolist() == ["1234", "1234"]
    h = idc["id_number_hash"].tolist()
    assert h[0] == h[1] and h[0] and ID_NUMBER not in h[0]
    assert idc["name"].tolist() == ["陈**", "陈**"]
    ocr = load(data, "idcard_ocr")
    front = ocr[ocr["side"] == "front"]
    assert set(front["id_number_hash"]) == {h[0]}
    assert set(front["name"]) == {"陈**"} and set(front["address"]) == {"北京市***"}
    assert front["birth_date"].isna().all() and set(front["birth_year"]) == {1991}
    q = load(data, "ocr_quality").set_index(["session_id", "field"])
    assert q.loc[(SID, "idcard_number"), "result"] == "1234"
    assert q.loc[(SID, "name"), "result"] == "张*"
    text = _all_text(data)
    for plain in (ID_NUMBER, "陈AB", "陈XX", "张三", "北京市海淀区XXXX"):
        assert plain not in text


def test_keep_pii_writes_plain_values(tmp_path):
    _, data = run(tmp_path, [env("megvii_lite", SID, _pii_payload(SID))], keep_pii=True)
    idc = load(data, "idcard").iloc[0]
    assert (idc["id_number"], idc["id_number_last4"], idc["name"]) == (ID_NUMBER, "1234", "陈AB")
    assert idc["id_number_hash"]
    front = load(data, "idcard_ocr").set_index("side").loc["front"]
    assert (front["id_number"], front["name"], front["address"], front["birth_date"]) == \
        (ID_NUMBER, "陈XX", "北京市海淀区XXXX", "1991-06-02")


def test_quarantined_raw_masks_id_numbers(tmp_path):
    p = _pii_payload(SID)
    p["verify_result"]["result_faceid"]["confidence"] = "abc"
    rep, data = run(tmp_path, [env("megvii_lite", SID, p)])
    assert rep.quarantined == 1
    raw = load(data, "quarantine")["raw"].iloc[0]
    assert ID_NUMBER not in raw and "**************1234" in raw


# ----------------------------------------------------------------------------
# re-ingest and replacement
# ----------------------------------------------------------------------------

def _counts(data: Path) -> dict:
    return {t: len(load(data, t)) for t in TABLES}


def test_reingesting_the_same_file_adds_no_rows(tmp_path):
    lines = [env("megvii_lite", SID, seed("megvii_lite_table_fields")),
             env("baidu_getall", "tok", seed("baidu_getall")),
             env("baidu_stat", "tok", seed("baidu_stat")),
             "not json"]
    path = write_jsonl(tmp_path / "batch.jsonl", lines)
    data = tmp_path / "data"
    r1 = ingest([path], data)
    before = _counts(data)
    r2 = ingest([path], data)
    assert (r1.landed, r1.quarantined) == (3, 1)
    assert (r2.landed, r2.skipped) == (0, 3)
    assert _counts(data) == before
    assert before["quarantine"] == 1 and before["sessions"] == 3
    # bare payloads too (their fetch time is the first receive time)
    bare = write_jsonl(tmp_path / "bare.jsonl", [seed("megvii_liveness_success")])
    ingest([bare], data, source="megvii_liveness")
    mid = _counts(data)
    r4 = ingest([bare], data, source="megvii_liveness")
    assert r4.landed == 0 and _counts(data) == mid


def test_newer_fetch_replaces_rows_in_every_table(tmp_path):
    data = tmp_path / "data"
    run(tmp_path, [env("megvii_lite", SID, lite_pending("PROCESSING"), T1)], data=data)
    rep, _ = run(tmp_path, [env("megvii_lite", SID, seed("megvii_lite_table_fields"), T2)], data=data)
    assert (rep.landed, rep.replaced) == (1, 1)
    s = load(data, "sessions")
    assert len(s) == 1 and s["status"].iloc[0] == "OK"
    assert s["fetched_at"].iloc[0] == pd.Timestamp(T2)
    ok_counts = _counts(data)
    assert ok_counts["comparisons"] == 4 and ok_counts["liveness_details"] == 17

    # a later fetch, now with a verify_time in another month: every table's rows move
    newer = seed("megvii_lite_table_fields")
    newer["verify_result"]["verify_time"] = 1467331200  # 2016-07-01
    newer["verify_result"]["result_faceid"]["confidence"] = 80.5
    rep, _ = run(tmp_path, [env("megvii_lite", SID, newer, T3)], data=data)
    assert (rep.landed, rep.replaced) == (1, 1)
    assert _counts(data) == ok_counts
    for table in TABLES:
        if table == "quarantine":
            continue
        df = load(data, table)
        assert (df["fetched_at"] == pd.Timestamp(T3)).all(), table
    assert load(data, "sessions")["verify_time"].iloc[0] == pd.Timestamp("2016-07-01", tz="UTC")
    c = load(data, "comparisons").set_index("comparison")
    assert c.loc["faceid", "confidence"] == 80.5
    assert set(load(data, "sessions")["month"]) == {"2016-07"}

    # an API error fetched later does not wipe the result
    destroyed = {"error_message": "DATA_DESTROYED", "request_id": "r", "time_used": 2}
    rep, _ = run(tmp_path, [env("megvii_lite", SID, destroyed, T4, http_status=403)], data=data)
    assert (rep.landed, rep.skipped) == (0, 1)
    s = load(data, "sessions")
    assert len(s) == 1 and s["status"].iloc[0] == "OK" and pd.isna(s["error"].iloc[0])
    assert _counts(data) == ok_counts


def test_result_replaces_an_earlier_api_error_and_within_one_file(tmp_path):
    err = {"error_message": "CONCURRENCY_LIMIT_EXCEEDED", "request_id": "r", "time_used": 1}
    # same file: the error (later) does not beat the result; PROCESSING (earlier) neither
    lines = [env("megvii_lite", SID, lite_pending("PROCESSING"), T1),
             env("megvii_lite", SID, seed("megvii_lite_table_fields"), T2),
             env("megvii_lite", SID, err, T3, http_status=403)]
    rep, data = run(tmp_path, lines)
    assert (rep.landed, rep.skipped) == (1, 2)
    s = load(data, "sessions")
    assert s["status"].tolist() == ["OK"]

    other = tmp_path / "other"
    run(tmp_path, [env("megvii_lite", SID, err, T3, http_status=403)], data=other)
    assert load(other, "sessions")["status"].tolist() == ["CONCURRENCY_LIMIT_EXCEEDED"]
    rep, _ = run(tmp_path, [env("megvii_lite", SID, seed("megvii_lite_table_fields"), T1)], data=other)
    assert rep.landed == 1
    s = load(other, "sessions")
    assert s["status"].tolist() == ["OK"] and s["error"].isna().all()
    assert len(load(other, "comparisons")) == 4
