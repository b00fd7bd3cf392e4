"""Review data with known changes: the sandbox population's payloads, transformed.

:func:`records` renders every session of a sandbox population as the records ``fetch``
would land (Lite and web-liveness results, Baidu getall, detail and stat), without a
server or HTTP, then applies *plants* -- each a function of (source, session, payload)
that edits the payload in place.  The sandbox itself is not changed; the plants follow
the provider documents' field names.

Used by ``tests/test_report_findings.py`` and ``benchmarks/bench_findings.py``.
"""
from __future__ import annotations

import calendar
import datetime as dt
import json
import random
from dataclasses import dataclass

FAR_LEVELS = ("1e-3", "1e-4", "1e-5", "1e-6")


def _epoch(day: str) -> int:
    return calendar.timegm(dt.date.fromisoformat(day).timetuple())


def _iso(epoch: int) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _channel(payload) -> str | None:
    """The ``channel`` the integrator passed in ``biz_extra_data`` (JSON or ``k=v&`` text)."""
    raw = (payload.get("biz_info") or {}).get("biz_extra_data") if "biz_info" in payload else \
        payload.get("biz_extra_data")
    if isinstance(raw, str) and raw.startswith("{"):
        try:
            return json.loads(raw).get("channel")
        except ValueError:
            return None
    if isinstance(raw, str):
        for part in raw.split("&"):
            k, _, v = part.partition("=")
            if k == "channel":
                return v
    return None


def _verify(payload) -> dict | None:
    v = payload.get("verify_result")
    return v if isinstance(v, dict) else None


@dataclass
class SegmentDrop:
    """From ``start`` on, the faceid pass rate at 1e-4 of sessions whose ``biz_extra_data``
    says ``channel = value`` falls by about ``points``: that share of them is pushed just
    under the row's own 1e-4 threshold."""
    points: float
    start: str
    value: str = "app"
    pass_rate: float = 0.85

    def __call__(self, source, session, payload, rng):
        if not source.startswith("megvii") or session.epoch < _epoch(self.start) or _channel(payload) != self.value:
            return
        v = _verify(payload)
        r = v.get("result_faceid") if v else None
        if not isinstance(r, dict) or rng.random() >= min(1.0, self.points / 100 / self.pass_rate):
            return
        t = float(r["thresholds"]["1e-4"])
        if float(r["confidence"]) >= t:
            r["confidence"] = round(t - rng.uniform(0.3, 4.0), 3)


@dataclass
class AttackWave:
    """For ``days`` days from ``start``, ``share`` more of the ``attack`` checks come back
    flagged (confidence over the row's threshold)."""
    share: float
    start: str
    days: int = 4
    attack: str = "mask"

    def __call__(self, source, session, payload, rng):
        t0 = _epoch(self.start)
        if not source.startswith("megvii") or not t0 <= session.epoch < t0 + self.days * 86400:
            return
        for holder in ((payload.get("liveness_result") or {}), (_verify(payload) or {})):
            fg = holder.get("face_genuineness") if isinstance(holder, dict) else None
            if isinstance(fg, dict) and f"{self.attack}_confidence" in fg and rng.random() < self.share:
                thr = float(fg[f"{self.attack}_threshold"])
                fg[f"{self.attack}_confidence"] = round(rng.uniform(thr + 0.05, 0.99), 3)


@dataclass
class ThresholdChange:
    """From ``start`` on, ``comparison`` of ``source`` comes with another reference-threshold set."""
    start: str
    thresholds: tuple = (64.0, 70.5, 75.5, 79.0)
    comparison: str = "faceid"
    source: str = "megvii_lite"

    def __call__(self, source, session, payload, rng):
        if source != self.source or session.epoch < _epoch(self.start):
            return
        r = (_verify(payload) or {}).get(f"result_{self.comparison}")
        if isinstance(r, dict):
            r["thresholds"] = {lv: t for lv, t in zip(FAR_LEVELS, self.thresholds) if lv in r["thresholds"]}


@dataclass
class ErrorStep:
    """From ``start`` on, ``share`` of the Lite sessions that reached verification get the verify
    error ``code`` (no data-source comparison, as the sandbox does for such errors)."""
    share: float
    start: str
    code: str = "NO_SUCH_ID_NUMBER"

    def __call__(self, source, session, payload, rng):
        if source != "megvii_lite" or session.epoch < _epoch(self.start):
            return
        v = _verify(payload)
        if v is None or v.get("error_message") or rng.random() >= self.share:
            return
        v["error_message"] = self.code
        v.pop("result_faceid", None)
        v.pop("result_idcard_datasource", None)


def records(seed: int, *, n_lite: int, n_liveness: int, n_baidu: int, reference_date: str, window_days: float,
            plants=(), baidu=("getall", "detail", "stat")) -> list[dict]:
    """Envelopes of every session of the sandbox population ``seed``, plants applied."""
    from faceanalytics.sandbox import Sandbox

    sb = Sandbox(seed=seed, n_lite=n_lite, n_liveness=n_liveness, n_baidu=n_baidu, reference_date=reference_date,
                 window_days=window_days, expired_rate=0.0)
    app, pop = sb.app, sb.population
    rng = random.Random(f"plant:{seed}")
    out = []
    for kind, source, cohort in (("megvii-lite", "megvii_lite", pop.lite),
                                 ("megvii-liveness", "megvii_liveness", pop.liveness)):
        for sid in app.ids(kind):
            s = cohort.get(sid)
            p = app.megvii_payload(sid, return_verify_time=1, get_fail_reason=1) if source == "megvii_lite" \
                else app.megvii_payload(sid)
            for plant in plants:
                plant(source, s, p, rng)
            out.append({"source": source, "session_id": sid, "fetched_at": _iso(s.epoch + 600),
                        "http_status": 200, "payload": p})
    for token in app.ids("baidu"):
        s = pop.baidu.get(token)
        for what in baidu:
            p = app.baidu_payload(token, what)
            for plant in plants:
                plant(f"baidu_{what}", s, p, rng)
            out.append({"source": f"baidu_{what}", "session_id": token, "fetched_at": _iso(s.epoch + 900),
                        "http_status": 200, "payload": p})
    return out


def write(path, recs) -> object:
    with open(path, "w", encoding="utf-8") as f:
        for r in recs:
            f.write(json.dumps(r, ensure_ascii=False))
            f.write("\n")
    return path


@dataclass
class KeyValueExtra:
    """``biz_extra_data`` written as ``k=v&...`` text instead of JSON, for ``share`` of the sessions
    (integrators pass either)."""
    share: float = 0.5

    def __call__(self, source, session, payload, rng):
        holder = payload.get("biz_info") if isinstance(payload.get("biz_info"), dict) else payload
        raw = holder.get("biz_extra_data") if isinstance(holder, dict) else None
        if not (isinstance(raw, str) and raw.startswith("{")) or rng.random() >= self.share:
            return
        obj = json.loads(raw)
        holder["biz_extra_data"] = "&".join(f"{k}={v}" for k, v in obj.items())
