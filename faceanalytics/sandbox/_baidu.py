"""Baidu H5 faceprint payloads: attempts of one verify_token and the five result APIs.

``story()`` draws the whole history of a token (plan settings, 1-3 attempts, billing);
the ``*_body`` functions render it with the types of the document's field tables:
``log_id`` a string, a failure's ``code`` an int, stat ``error_code`` a string and its
``count`` an int or a string as each table row says, floats as floats, getall's
``idcard_ocr_result`` beside ``idcard_confirm``, ``score`` null when there is none.
Where the document's own examples or deployments differ (numeric ``log_id``, string
``code``, the stat example's numbers, the getall example's nesting, ``"message": ""``,
``"extInfo": null``, integral floats as ints, a missing ``score``, extra top-level
fields), a story shows it only when drawn ``wild``.
"""
from __future__ import annotations

import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ._media import TINY_JPEG_B64
from ._synth import GENUINE, IMPOSTOR, Identity, Session, identity

TOKEN_INVALID_MESSAGE = "Token无效或者已过期"
TOKEN_INVALID_CODE = 216401  # not documented; the sandbox's choice
CODE_LIVENESS = "223120"
CODE_QUALITY = "222356"
CODE_NAME = "222351"
CODE_LOW_SCORE = "222380"  # not documented; a comparison below the plan's threshold
MESSAGES = {
    CODE_LIVENESS: "活体检测未通过",
    CODE_QUALITY: "人脸图片质量不符合要求",
    CODE_NAME: "身份证号与姓名不匹配",
    CODE_LOW_SCORE: "人脸比对未通过,相似度低于阈值",
}
ACCESS_ERRORS = {
    17: "Open api daily request limit reached",
    18: "Open api qps request limit reached",
    19: "Open api total request limit reached",
    110: "Access token invalid or no longer valid",
    111: "Access token expired",
}
_RISK_TAGS = {2: "疑似面具攻击", 3: "疑似翻拍攻击", 4: "疑似合成图攻击"}
BEIJING = 8 * 3600


@dataclass
class Attempt:
    order: int
    epoch: int
    code: str
    score: float | None
    liveness_ok: bool
    ocr_count: int
    verify_log_id: str
    liveness_score: float
    spoofing_score: float
    risk_level: str
    risk_tag: str
    is_demote: bool

    @property
    def passed(self) -> bool:
        return self.code == "0"

    @property
    def charged(self) -> bool:
        # The backend verify/match API ran: a score came back, or the data source answered.
        return self.score is not None or self.code == CODE_NAME


@dataclass
class Story:
    session: Session
    ident: Identity
    charge_type: str
    ocr: bool
    ocr_back: bool
    realtime: bool
    colorful: bool
    risk_control: bool
    threshold: float
    stat_style: str
    int_log_id: bool
    int_code: bool
    padded_time: bool
    nested_idcard: bool
    null_score: bool
    success_message: str
    verify_sec: bool
    ext_info: str | None
    int_floats: bool = False
    extra_fields: bool = False
    attempts: list[Attempt] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.attempts[-1].passed

    @property
    def last(self) -> Attempt:
        return self.attempts[-1]


def story(s: Session, wild: bool = False) -> Story:
    """A token's history; ``wild`` lets its answers show undocumented shapes."""
    rng = s.rng()
    ident = identity(rng, s.epoch)
    # Every draw is made whether or not the story is wild, so wildness changes only shapes.
    st = Story(
        session=s, ident=ident,
        charge_type="verify" if rng.random() < 0.8 else "match",
        ocr=rng.random() < 0.6, ocr_back=rng.random() < 0.7,
        realtime=rng.random() < 0.5, colorful=rng.random() < 0.4,
        risk_control=rng.random() < 0.6,
        threshold=rng.choices((80, 70, 75, 85), (70, 10, 10, 10))[0],
        stat_style=rng.choice(("example", "table")),
        int_log_id=rng.random() < 0.5, int_code=rng.random() < 0.5,
        padded_time=rng.random() < 0.5, nested_idcard=rng.random() < 0.85,
        null_score=rng.random() < 0.5, success_message=rng.choice(("", "核验成功")),
        verify_sec=rng.random() < 0.3, ext_info=rng.choices((None, ""), (90, 10))[0],
    )
    if wild:
        picks = s.rng("wild")
        st.int_floats, st.extra_fields = picks.random() < 0.5, picks.random() < 0.5
    else:
        st.stat_style, st.int_log_id, st.int_code = "table", False, False
        st.nested_idcard, st.null_score = False, True
        st.success_message, st.ext_info = "核验成功", ""
    st.colorful = st.colorful and st.realtime
    retry_allowed = rng.random() < 0.6
    zero_liveness = rng.random() < 0.5  # "reserved field, currently 0"
    attack = s.cls not in (GENUINE, IMPOSTOR)
    t = s.epoch
    for order in (1, 2, 3):
        t += rng.randint(20, 240)
        u = rng.random()
        if attack:
            stage = CODE_LIVENESS if u < 0.75 else None
        elif s.cls == GENUINE:
            stage = CODE_LIVENESS if u < 0.06 else CODE_QUALITY if u < 0.10 else (
                CODE_NAME if u < 0.13 and order == 1 else None)
        else:
            stage = CODE_LIVENESS if u < 0.03 else CODE_QUALITY if u < 0.06 else (
                CODE_NAME if u < 0.08 else None)
        noise_score = s.base_conf + 8.0 + rng.gauss(0.0, 1.5)  # Baidu scores run higher
        score = round(min(max(noise_score, 0.0), 100.0), 4)
        if stage is None:
            code = "0" if score >= st.threshold else CODE_LOW_SCORE
        else:
            code, score = stage, None
        liveness_ok = stage not in (CODE_LIVENESS, CODE_QUALITY)
        attempt = Attempt(
            order=order, epoch=t, code=code, score=score, liveness_ok=liveness_ok,
            ocr_count=rng.randint(1, 2) if st.ocr else 0,
            verify_log_id=str(rng.randint(10**15, 10**16 - 1)) if liveness_ok else "",
            liveness_score=0.0 if zero_liveness or not liveness_ok else round(rng.uniform(0.8, 0.999), 4),
            spoofing_score=0.0 if zero_liveness else round(
                rng.betavariate(12, 2.5) if attack else rng.betavariate(1.5, 12), 4),
            risk_level="", risk_tag="", is_demote=st.realtime and rng.random() < 0.05,
        )
        if st.risk_control:
            risky = attack and rng.random() < 0.7
            attempt.risk_level = rng.choice(("1", "2")) if risky else rng.choice(("3", "4"))
            attempt.risk_tag = _RISK_TAGS.get(s.cls, "疑似攻击") if risky else ""
        st.attempts.append(attempt)
        if attempt.passed or not retry_allowed or rng.random() < 0.3:
            break
    return st


# --- rendering helpers ---------------------------------------------------------------

def beijing_time(epoch: int, padded: bool) -> str:
    tm = time.gmtime(epoch + BEIJING)
    if padded:
        return time.strftime("%Y-%m-%d %H:%M:%S", tm)
    return f"{tm.tm_year}-{tm.tm_mon}-{tm.tm_mday} {tm.tm_hour:02d}:{tm.tm_min:02d}:{tm.tm_sec:02d}"


def log_id(st: Story | None, endpoint: str, rng: random.Random | None = None,
           wild: bool = False) -> int | str:
    """A string, as documented; a number in wild answers."""
    if st is None:
        rng = rng or random.Random()
        value = rng.randint(10**9, 10**16)
        return value if wild and rng.random() < 0.5 else str(value)
    value = random.Random(f"{st.session.sub_seed}:log:{endpoint}").randint(10**9, 10**16)
    return value if st.int_log_id else str(value)


def _code(st: Story, code: str) -> int | str:
    # The tables: code int. Wild answers send it as a string.
    return code if st.int_code else int(code)


def _float(st: Story, value: float) -> float | int:
    """A documented float; integral ones as ints in wild answers (the getall example's 80)."""
    value = float(value)
    return int(value) if st.int_floats and value.is_integer() else value


def _blob_url(base_url: str, st: Story, part: str) -> str:
    return f"{base_url}/_sandbox/blob/{st.session.session_id}-{part}"


def failure_body(st: Story, endpoint: str) -> dict[str, Any]:
    code = st.last.code
    return {"success": False, "code": _code(st, code), "message": MESSAGES.get(code, "认证失败"),
            "log_id": log_id(st, endpoint)}


def token_invalid_body(rng: random.Random, wild: bool = False) -> dict[str, Any]:
    """Unknown, expired or never used token: "Token无效或者已过期" (the document's FAQ)."""
    return {"success": False, "code": TOKEN_INVALID_CODE, "message": TOKEN_INVALID_MESSAGE,
            "log_id": log_id(None, "", rng, wild)}


def access_error_body(code: int, rng: random.Random | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"error_code": code, "error_msg": ACCESS_ERRORS[code]}
    if code in (17, 18, 19):  # the FAQ: error 18 "且有返回logid"; 17 and 19 are its kin
        body["log_id"] = str(log_id(None, "", rng))
    return body


def _confirm(st: Story, override: tuple[str, str] | None) -> tuple[str, str]:
    return override if override else (st.ident.name, st.ident.id_number)


def _ocr_detail(ident: Identity) -> dict[str, str]:
    return {"birthday": f"{ident.birth:%Y%m%d}", "issue_authority": ident.issued_by,
            "address": ident.address, "gender": ident.gender, "nation": ident.race,
            "expire_time": f"{ident.valid_to:%Y%m%d}", "name": ident.name,
            "issue_time": f"{ident.valid_from:%Y%m%d}", "id_card_number": ident.id_number}


def _ocr_getall(ident: Identity) -> dict[str, str]:
    return {"address": ident.address, "birthday": f"{ident.birth:%Y%m%d}", "name": ident.name,
            "idcard_number": ident.id_number, "idcard_type": "0", "gender": ident.gender,
            "nation": ident.race + "族", "issue_time": f"{ident.valid_from:%Y%m%d}",
            "expire_time": f"{ident.valid_to:%Y%m%d}", "issue_authority": ident.issued_by}


# --- endpoint bodies ----------------------------------------------------------------------

def simple_body(st: Story, base_url: str) -> dict[str, Any]:
    if not st.passed:
        return failure_body(st, "simple")
    return {"success": True, "result": {"image": _blob_url(base_url, st, f"{st.last.order}-face.jpg")},
            "log_id": log_id(st, "simple")}


def detail_body(st: Story, override: tuple[str, str] | None = None) -> dict[str, Any]:
    if not st.passed:
        return failure_body(st, "detail")
    last = st.last
    result: dict[str, Any] = {"verify_result": {"score": _float(st, last.score),
                                                "liveness_score": _float(st, last.liveness_score),
                                                "spoofing": _float(st, last.spoofing_score)}}
    if st.ocr:
        result["idcard_ocr_result"] = _ocr_detail(st.ident)
        images = {"front_base64": TINY_JPEG_B64}
        if st.ocr_back:
            images["back_base64"] = TINY_JPEG_B64
        result["idcard_images"] = images
    name, number = _confirm(st, override)
    result["idcard_confirm"] = {"idcard_number": number, "name": name}
    if st.realtime:
        result["is_demote"] = last.is_demote
    return {"success": True, "result": result, "log_id": log_id(st, "detail")}


def _stat_list(st: Story, counts: Counter, string_count: bool) -> list[dict[str, Any]]:
    table = st.stat_style == "table"
    out = []
    for code, n in sorted(counts.items(), key=lambda kv: (kv[0] != "0", kv[0])):
        out.append({"error_code": code if table else int(code),
                    "count": str(n) if table and string_count else n})
    return out


def stat_body(st: Story) -> dict[str, Any]:
    attempts = st.attempts
    backend = Counter(a.code for a in attempts if a.verify_log_id)
    liveness = Counter("0" if a.liveness_ok else a.code for a in attempts)
    verify = backend if st.charge_type == "verify" else Counter()
    result = {
        "Verify_FIN": _stat_list(st, Counter(a.code for a in attempts), False),
        "Sessioncode": _stat_list(st, Counter({"0": len(attempts)}) if not st.realtime else Counter(), False),
        "OCR": _stat_list(st, Counter({"0": sum(a.ocr_count for a in attempts)}) if st.ocr else Counter(), False),
        "verify": _stat_list(st, verify, False),
        "VideoLiveness": _stat_list(st, liveness if not st.realtime else Counter(), True),
        "Livenesscolorful": _stat_list(st, liveness if st.colorful else Counter(), True),
        "VerifySec": _stat_list(st, verify if st.verify_sec else Counter(), True),
    }
    return {"success": True, "result": result, "log_id": log_id(st, "stat")}


def getall_body(st: Story, base_url: str, override: tuple[str, str] | None = None) -> dict[str, Any]:
    name, number = _confirm(st, override)
    entries = []
    for a in st.attempts:
        when = beijing_time(a.epoch, st.padded_time)
        entry: dict[str, Any] = {
            "order": a.order, "is_verify_passed": a.passed, "code": a.code,
            "message": st.success_message if a.passed else MESSAGES.get(a.code, "认证失败"),
            "verify_time": when, "is_charged": a.charged, "charge_type": st.charge_type,
            "charge_time": when if a.charged else "",
        }
        if st.ocr:
            entry["is_ocr_charge"] = True
            entry["ocr_count"] = a.ocr_count
            entry["ocr_charge_time"] = when
        detail: dict[str, Any] = {"face_image": _blob_url(base_url, st, f"{a.order}-face.jpg"),
                                  "verify_log_id": a.verify_log_id}
        if a.score is not None or st.null_score:  # "该项为空": null; left out in wild answers
            detail["score"] = None if a.score is None else _float(st, a.score)
        detail["threshold"] = _float(st, st.threshold)
        detail["liveness_score"] = _float(st, a.liveness_score)
        detail["spoofing_score"] = _float(st, a.spoofing_score)
        if st.risk_control:
            detail["risk_level"] = a.risk_level
            detail["risk_tag"] = a.risk_tag
        if st.realtime:
            detail["is_demote"] = a.is_demote
        entry["verify_detail"] = detail
        confirm: dict[str, Any] = {"name": name, "idcard_number": number, "idcard_type": "0"}
        extra: dict[str, Any] = {}
        if st.ocr:
            extra["idcard_ocr_result"] = _ocr_getall(st.ident)
            images = {"front_image": _blob_url(base_url, st, f"{a.order}-idcard-front.jpg")}
            if st.ocr_back:
                images["back_image"] = _blob_url(base_url, st, f"{a.order}-idcard-back.jpg")
            extra["idcard_images"] = images
        if st.nested_idcard:
            confirm.update(extra)
            entry["idcard_confirm"] = confirm
        else:
            entry["idcard_confirm"] = confirm
            entry.update(extra)
        entries.append(entry)
    charged = [a for a in st.attempts if a.charged]
    result = {
        "verify_count": len(st.attempts),
        "ocr_charge_count": sum(1 for _ in st.attempts) if st.ocr else 0,
        "match_charge_count": len(charged) if st.charge_type == "match" else 0,
        "verify_charge_count": len(charged) if st.charge_type == "verify" else 0,
        "verify_result": entries,
    }
    return {"success": True, "log_id": log_id(st, "getall"), "result": result}


def media_body(st: Story, base_url: str) -> dict[str, Any]:
    result: dict[str, Any] = {}
    if st.realtime:
        result["processVideo"] = [_blob_url(base_url, st, "process.mp4")]
        result["images"] = [_blob_url(base_url, st, f"frame{k}.jpg") for k in range(1, 5)]
    else:
        result["video"] = [_blob_url(base_url, st, "video.mp4")]
        result["images"] = []
    result["extInfo"] = st.ext_info
    return {"success": True, "result": result, "log_id": log_id(st, "media")}


def result_body(st: Story, endpoint: str, base_url: str,
                override: tuple[str, str] | None = None) -> dict[str, Any]:
    """The answer of ``result/<endpoint>`` (simple, detail, stat, getall, media/query)."""
    builders = {
        "simple": lambda: simple_body(st, base_url),
        "detail": lambda: detail_body(st, override),
        "stat": lambda: stat_body(st),
        "getall": lambda: getall_body(st, base_url, override),
        "media/query": lambda: media_body(st, base_url),
    }
    body = builders[endpoint]()
    if st.extra_fields:  # what Baidu's other AI APIs add to every answer
        body["timestamp"] = st.last.epoch + 3 * 86400
        body["cached"] = 0
    return body
