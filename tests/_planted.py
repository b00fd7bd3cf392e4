"""Review data with known changes: the sandbox population's payloads, transformed.

:func:`records` renders every session of a sandbox population as the records ``fetch``
would land (Lite and web-liveness results, Baidu getall, detail and stat), without a
server or HTTP, then applies *plants* -- each a function of (source, session, payload)
that edits the payload in place.  The sandbox itself is not changed; the plants follow
the provider documents' field names, so they apply as well to records built from the
documents (``benchmarks/gen_records.py``): thresholds keyed ``1e-4``, ``1e-04`` or
``0.0001``, 3- and 4-level sets, numbers sent as text (an edited number stays text),
``biz_extra_data`` beside or inside ``biz_info``, as JSON or ``k=v&`` text, callbacks
(:func:`apply` opens a ``megvii_notify`` record's ``data`` and signs it again).  Records
without the field a plant edits (API errors, sessions still pending, a missing or null
block) are left as they are.

Used by ``tests/test_report_findings.py``, ``tests/test_planted.py`` and
``benchmarks/bench_findings*.py``.
"""
from __future__ import annotations

import calendar
import datetime as dt
import hashlib
import json
import random
from dataclasses import dataclass
from types import SimpleNamespace

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


def _num(x) -> float | None:
    """A number, or a number sent as text; None for anything else (null, empty, a word)."""
    if isinstance(x, bool):
        return None
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


def _like(old, new):
    """``new`` in the type ``old`` came in: text stays text."""
    return str(new) if isinstance(old, str) else new


def _level(key) -> str | None:
    """The FAR level a threshold key names, however it is spelled (``1e-4``, ``1e-04``, ``0.0001``)."""
    x = _num(key)
    return next((lv for lv in FAR_LEVELS if x is not None and abs(x / float(lv) - 1) < 1e-9), None)


def _threshold(block: dict, level: str) -> float | None:
    """A comparison block's reference threshold at ``level``."""
    th = block.get("thresholds")
    if not isinstance(th, dict):
        return None
    return next((_num(v) for k, v in th.items() if _level(k) == level), None)


def session_of(env: dict) -> SimpleNamespace:
    """What the plants read of a record's session: ``epoch``, the time leading a Megvii
    ``biz_id`` (None when the session id carries none, as Baidu tokens)."""
    head = str(env.get("session_id", "")).split(",")[0]
    return SimpleNamespace(epoch=int(head) if head.isdigit() else None)


def apply(plant, env: dict, rng, *, secret: str | None = None) -> None:
    """Apply ``plant`` to one record in place.  A ``megvii_notify`` record's ``data`` (JSON
    text) is edited and signed again with ``secret`` (``sha1(secret + data)``)."""
    source, payload = env["source"], env["payload"]
    if source == "megvii_notify" and isinstance(payload, dict) and isinstance(payload.get("data"), str):
        try:
            inner = json.loads(payload["data"])
        except ValueError:
            return
        if not isinstance(inner, dict):
            return
        before = json.dumps(inner, sort_keys=True)
        plant(source, session_of(env), inner, rng)
        if json.dumps(inner, sort_keys=True) == before:
            return
        if secret is None:
            raise ValueError("apply: a megvii_notify record was changed and needs the api secret to be signed again")
        data = json.dumps(inner, ensure_ascii=False)
        payload["data"] = data
        payload["sign"] = hashlib.sha1((secret + data).encode("utf-8")).hexdigest()
        return
    if isinstance(payload, dict):
        plant(source, session_of(env), payload, rng)


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
        if not source.startswith("megvii") or session.epoch is None or session.epoch < _epoch(self.start) \
                or _channel(payload) != self.value:
            return
        v = _verify(payload)
        r = v.get("result_faceid") if v else None
        if not isinstance(r, dict) or rng.random() >= min(1.0, self.points / 100 / self.pass_rate):
            return
        t, c = _threshold(r, "1e-4"), _num(r.get("confidence"))
        if t is not None and c is not None and c >= t:
            r["confidence"] = _like(r["confidence"], round(t - rng.uniform(0.3, 4.0), 3))


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
        if not source.startswith("megvii") or session.epoch is None or not t0 <= session.epoch < t0 + self.days * 86400:
            return
        key = f"{self.attack}_confidence"
        for holder in ((payload.get("liveness_result") or {}), (_verify(payload) or {})):
            fg = holder.get("face_genuineness") if isinstance(holder, dict) else None
            if isinstance(fg, dict) and _num(fg.get(key)) is not None and rng.random() < self.share:
                thr = _num(fg.get(f"{self.attack}_threshold"))
                thr = 0.5 if thr is None else thr      # the documents' threshold when a payload omits it
                fg[key] = _like(fg[key], round(rng.uniform(thr + 0.05, 0.99), 3))


@dataclass
class ThresholdChange:
    """From ``start`` on, ``comparison`` of ``source`` comes with another reference-threshold set."""
    start: str
    thresholds: tuple = (64.0, 70.5, 75.5, 79.0)
    comparison: str = "faceid"
    source: str = "megvii_lite"

    def __call__(self, source, session, payload, rng):
        if source != self.source or session.epoch is None or session.epoch < _epoch(self.start):
            return
        r = (_verify(payload) or {}).get(f"result_{self.comparison}")
        th = r.get("thresholds") if isinstance(r, dict) else None
        if isinstance(th, dict):                # each level keeps its key's spelling and its value's type
            new = dict(zip(FAR_LEVELS, self.thresholds))
            r["thresholds"] = {k: _like(v, new[_level(k)]) if _level(k) else v for k, v in th.items()}


@dataclass
class ErrorStep:
    """From ``start`` on, ``share`` of the Lite sessions that reached verification get the verify
    error ``code`` (no data-source comparison, as the sandbox does for such errors)."""
    share: float
    start: str
    code: str = "NO_SUCH_ID_NUMBER"

    def __call__(self, source, session, payload, rng):
        if source != "megvii_lite" or session.epoch is None or session.epoch < _epoch(self.start):
            return
        v = _verify(payload)
        if v is None or v.get("error_message") or v.get("error") or rng.random() >= self.share:
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
