"""Request handling without sockets: routing, authentication, quotas, limits and faults.

``App.handle()`` takes a parsed request and returns a ``Response`` or ``DROP`` (close
the connection without answering); the HTTP layer in ``_server`` only moves bytes.
"""
from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from . import _baidu, _megvii
from ._config import SandboxConfig
from ._media import TINY_JPEG, encrypt_will_file, media_plaintext
from ._synth import Population, Session

LITE_PATH = "/faceid/lite/get_result"
LIVENESS_PATH = "/faceid/liveness/v2/get_result"
TOKEN_PATH = "/oauth/2.0/token"
BAIDU_PREFIX = "/rpc/2.0/brain/solution/faceprint/"
BAIDU_ENDPOINTS = ("verifyToken/generate", "idcard/submit", "uploadMatchImage", "result/simple",
                   "result/detail", "result/stat", "result/getall", "result/media/query")
# Optional Megvii parameters and the values each accepts.
LITE_OPTIONS = {"return_verify_time": (0, 1), "return_image": (0, 1, 2, 3, 4),
                "get_fail_reason": (0, 1), "return_multifaces_tag": (0, 1)}
LIVENESS_OPTIONS = {"get_image_type": (0, 1, 2)}
JSON_TYPE = "application/json; charset=utf-8"
_INVALID_PARAM = {"error_code": 216100, "error_msg": "invalid param"}
# "利用所获取的verify_token进行实名认证流程的有效期为2小时": a minted token unused this long is dead.
VERIFY_TOKEN_TTL = 2 * 3600


@dataclass
class Response:
    status: int
    body: bytes
    content_type: str = JSON_TYPE


DROP = object()  # close the socket without answering


def json_response(status: int, payload: Any) -> Response:
    return Response(status, json.dumps(payload, ensure_ascii=False).encode("utf-8"))


def parse_params(query: str, headers: Any, body: bytes) -> dict[str, str]:
    """Query string plus a form-encoded body; the first value of each key wins."""
    params = {k: v[0] for k, v in parse_qs(query, keep_blank_values=True).items()}
    ctype = (headers.get("Content-Type") or "").lower()
    if body and "application/x-www-form-urlencoded" in ctype:
        for k, v in parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True).items():
            params.setdefault(k, v[0])
    return params


def _route_name(path: str) -> str:
    if path.startswith(("/faceid/", "/oauth/", "/rpc/")):
        return path
    if path.startswith("/_sandbox/"):
        return "/_sandbox/" + path.split("/")[2]
    return "other"


def _baidu_body(headers: Any, body: bytes) -> dict[str, Any] | None:
    """The JSON object Baidu expects (a form body is tolerated); None if unreadable."""
    if not body.strip():
        return {}
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        data = parse_params("", headers, body) or None
    return data if isinstance(data, dict) else None


class App:
    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.population = Population(
            config.seed, config.n_lite, config.n_liveness, config.n_baidu,
            reference_date=str(config.reference_date), window_days=config.window_days,
            era_2016_share=config.era_2016_share, expired_rate=config.expired_rate,
            era_change_days=config.era_change_days, unused_rate=config.unused_rate)
        self.base_url = ""
        self._lock = threading.Lock()
        self._fault_rng = random.Random(f"{config.seed}:faults")
        self._misc_rng = random.Random(f"{config.seed}:misc")
        self._access_tokens: dict[str, float] = {}
        # Minted verify_tokens: when generated, and the session once a user went through.
        self._minted: dict[str, float] = {}
        self._flows: dict[str, Session] = {}
        self._submitted: dict[str, tuple[str, str]] = {}
        self.in_flight = {"megvii": 0, "baidu": 0}
        self.reset()

    # --- state -------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget calls, downloads, faults and counters (not access tokens or minted tokens)."""
        with self._lock:
            self.calls: Counter[str] = Counter()
            self.ok_answers: Counter[str] = Counter()  # results delivered (HTTP 200) per biz_id
            self.media_calls: Counter[str] = Counter()
            self.faults: Counter[str] = Counter()
            self.errors: Counter[str] = Counter()
            self.requests: Counter[str] = Counter()
            # Requests still running are not forgotten: in_flight stays as it is.
            self.peak_in_flight = dict(self.in_flight)
            self.baidu_total = 0
            self.baidu_daily: Counter[str] = Counter()
            self.connections = 0

    def set(self, **changes: Any) -> SandboxConfig:
        with self._lock:
            self.config = self.config.updated(**changes)
            return self.config

    def stats(self) -> dict[str, Any]:
        with self._lock:
            calls = dict(self.calls)
            return {
                "calls": calls,
                "max_calls": max(calls.values(), default=0),
                "ok_answers": dict(self.ok_answers),
                "media_downloads": dict(self.media_calls),
                "faults": dict(self.faults),
                "errors": dict(self.errors),
                "requests": dict(self.requests),
                "in_flight": dict(self.in_flight),
                "peak_in_flight": dict(self.peak_in_flight),
                "baidu_calls_total": self.baidu_total,
                "connections": self.connections,
            }

    def call_count(self, session_id: str) -> int:
        with self._lock:
            return self.calls.get(session_id, 0)

    def ids(self, kind: str) -> list[str]:
        ids = list(self.population.cohort(kind).ids)
        if kind == "baidu":
            with self._lock:
                ids += list(self._minted)
        return ids

    def note_connection(self) -> None:
        with self._lock:
            self.connections += 1

    def _admit(self, provider: str, limit: int | None) -> bool:
        with self._lock:
            if limit is not None and self.in_flight[provider] >= limit:
                self.faults[f"concurrency_{provider}"] += 1
                return False
            self.in_flight[provider] += 1
            self.peak_in_flight[provider] = max(self.peak_in_flight[provider], self.in_flight[provider])
            return True

    def _release(self, provider: str) -> None:
        with self._lock:
            self.in_flight[provider] -= 1

    def _draw_fault(self, cfg: SandboxConfig, *, encryption: bool) -> tuple[str | None, float]:
        """One draw per request: which fault (if any) and the latency jitter fraction."""
        with self._lock:
            u = self._fault_rng.random()
            fault = None
            edge = 0.0
            for name, rate in (("internal_error", cfg.fault_rate_500), ("drop", cfg.fault_rate_drop),
                               ("slow", cfg.fault_rate_slow),
                               ("encryption", cfg.fault_rate_encryption if encryption else 0.0)):
                edge += rate
                if u < edge:
                    fault = name
                    break
            if fault:
                self.faults[fault] += 1
            jitter = self._fault_rng.random()
        return fault, jitter

    @staticmethod
    def _pause(cfg: SandboxConfig, fault: str | None, jitter: float) -> None:
        delay = (cfg.latency_ms + cfg.jitter_ms * jitter) / 1000.0
        if fault == "slow":
            delay += cfg.slow_seconds
        if delay > 0:
            time.sleep(delay)

    def wild(self, session: Session) -> bool:
        """Whether this session is answered with wild (undocumented) shapes."""
        return session.u_wild < self.config.wild

    def _misc(self) -> random.Random:
        # A private generator per call keeps request ids unique without sharing state.
        with self._lock:
            return random.Random(self._misc_rng.getrandbits(64))

    # --- routing -----------------------------------------------------------------------

    def handle(self, method: str, path: str, query: str, headers: Any, body: bytes) -> Response | object:
        with self._lock:
            self.requests[_route_name(path)] += 1
        if path.startswith("/_sandbox/"):
            return self._admin(method, path, query, headers, body)
        if path in (LITE_PATH, LIVENESS_PATH):
            return self._megvii(path, parse_params(query, headers, body))
        if path == TOKEN_PATH:
            return self._oauth(parse_params(query, headers, body))
        if path.startswith(BAIDU_PREFIX) and path[len(BAIDU_PREFIX):] in BAIDU_ENDPOINTS and method == "POST":
            return self._baidu(path[len(BAIDU_PREFIX):], query, headers, body)
        if path.startswith(("/rpc/", "/oauth/")):
            return json_response(200, {"error_code": 3, "error_msg": "Unsupported openapi method"})
        return json_response(404, _megvii.error_body("API_NOT_FOUND", self._misc(), time.time()))

    # --- Megvii ------------------------------------------------------------------------

    def _megvii(self, path: str, params: dict[str, str]) -> Response | object:
        cfg = self.config
        lite = path == LITE_PATH
        cohort = self.population.lite if lite else self.population.liveness
        key, secret, biz_id = (params.get(k, "") for k in ("api_key", "api_secret", "biz_id"))
        creds_ok = key == cfg.megvii_api_key and secret == cfg.megvii_api_secret
        session = cohort.get(biz_id) if biz_id else None
        calls = 0
        if creds_ok and session is not None:
            # Every such request spends one of the id's calls, whatever the answer.
            with self._lock:
                self.calls[biz_id] += 1
                calls = self.calls[biz_id]
        rng = self._misc()

        def error(status: int, message: str) -> Response:
            with self._lock:
                self.errors[message] += 1
            return json_response(status, _megvii.error_body(message, rng, time.time()))

        if not self._admit("megvii", cfg.limit("megvii")):
            return error(403, "CONCURRENCY_LIMIT_EXCEEDED")
        try:
            # MESSAGE_ENCRYPTION_ERROR is in the Lite document's error table only.
            fault, jitter = self._draw_fault(cfg, encryption=lite)
            if fault == "drop":
                return DROP
            self._pause(cfg, fault, jitter)
            if fault == "internal_error":
                return error(500, "INTERNAL_ERROR")
            if fault == "encryption":
                return error(400, "MESSAGE_ENCRYPTION_ERROR")
            for name in ("api_key", "api_secret"):
                if not params.get(name):
                    return error(400, f"MISSING_ARGUMENTS:{name}")
            if key == cfg.megvii_disabled_api_key and secret == cfg.megvii_api_secret:
                return error(403, "AUTHORIZATION_ERROR:Denied.")
            if not creds_ok:
                return error(403, "AUTHENTICATION_ERROR")
            if not biz_id:
                return error(400, "MISSING_ARGUMENTS:biz_id")
            options: dict[str, int] = {}
            for name, allowed in (LITE_OPTIONS if lite else LIVENESS_OPTIONS).items():
                raw = params.get(name, "")
                if raw == "":
                    options[name] = 0
                    continue
                try:
                    options[name] = int(raw)
                except ValueError:
                    return error(400, f"BAD_ARGUMENTS:{name}")
                if options[name] not in allowed:
                    return error(400, f"BAD_ARGUMENTS:{name}")
            if session is None:
                return error(400, "RESULT_NOT_FOUND")
            wild = self.wild(session)
            # One day and three calls: the Lite document's rule. The v2 document states no
            # such limit (nor DATA_DESTROYED); only wild v2 sessions enforce it.
            if (lite or wild) and (session.expired or calls > cfg.quota):
                return error(403, "DATA_DESTROYED")
            if lite:
                payload = _megvii.lite_payload(session, options, base_url=self.base_url, wild=wild)
            else:
                payload = _megvii.liveness_payload(session, options, wild=wild)
            with self._lock:
                self.ok_answers[biz_id] += 1
            return json_response(200, payload)
        finally:
            self._release("megvii")

    def megvii_payload(self, biz_id: str, **options: int) -> dict[str, Any]:
        """A session's payload without spending a call (for tests and callbacks)."""
        for kind, cohort in (("lite", self.population.lite), ("liveness", self.population.liveness)):
            session = cohort.get(biz_id)
            if session is not None:
                wild = self.wild(session)
                if kind == "lite":
                    opts = {k: options.get(k, 0) for k in LITE_OPTIONS}
                    return _megvii.lite_payload(session, opts, base_url=self.base_url, wild=wild)
                opts = {k: options.get(k, 0) for k in LIVENESS_OPTIONS}
                return _megvii.liveness_payload(session, opts, wild=wild)
        raise KeyError(biz_id)

    # --- will_file downloads -----------------------------------------------------------

    def media_session(self, name: str) -> Session | None:
        session_uuid = name.split("_", 1)[0]
        i = self.population.lite.by_uuid.get(session_uuid)
        if i is None:
            return None
        session = self.population.lite.session(i)
        record = _megvii.lite_record(session, self.base_url, self.wild(session))
        return session if name in _megvii.lite_media_names(record) else None

    def media_plaintext(self, name: str) -> bytes:
        return media_plaintext(self.config.seed, name)

    def _media(self, name: str) -> Response | object:
        cfg = self.config
        session = self.media_session(name)
        rng = self._misc()
        if session is None:
            return json_response(404, _megvii.error_body("RESULT_NOT_FOUND", rng, time.time()))
        with self._lock:
            self.media_calls[name] += 1
            downloads = self.media_calls[name]
        fault, jitter = self._draw_fault(cfg, encryption=False)
        if fault == "drop":
            return DROP
        self._pause(cfg, fault, jitter)
        if fault == "internal_error":
            return json_response(500, _megvii.error_body("INTERNAL_ERROR", rng, time.time()))
        if session.expired or downloads > cfg.quota:
            return json_response(403, _megvii.error_body("DATA_DESTROYED", rng, time.time()))
        blob = encrypt_will_file(self.media_plaintext(name), cfg.megvii_api_secret)
        return Response(200, blob, "application/octet-stream")

    # --- Baidu -------------------------------------------------------------------------

    def _oauth(self, params: dict[str, str]) -> Response | object:
        cfg = self.config
        fault, jitter = self._draw_fault(cfg, encryption=False)
        if fault == "drop":
            return DROP
        self._pause(cfg, fault, jitter)
        if fault == "internal_error":
            return json_response(500, {"error": "internal_error", "error_description": "internal error"})
        if params.get("grant_type") != "client_credentials":
            return json_response(400, {"error": "unsupported_grant_type",
                                       "error_description": "The authorization grant type is not supported"})
        if params.get("client_id") != cfg.baidu_api_key:
            return json_response(401, {"error": "invalid_client", "error_description": "unknown client id"})
        if params.get("client_secret") != cfg.baidu_secret_key:
            return json_response(401, {"error": "invalid_client",
                                       "error_description": "Client authentication failed"})
        rng = self._misc()
        now = time.time()
        ttl = cfg.token_ttl
        token = (f"24.{rng.getrandbits(128):032x}.{int(ttl)}.{int(now + ttl)}."
                 f"{rng.randint(100000, 999999)}-{rng.randint(10000000, 99999999)}")
        with self._lock:
            self._access_tokens[token] = now + ttl
        return json_response(200, {
            "refresh_token": f"25.{rng.getrandbits(128):032x}.315360000.{int(now + 315360000)}."
                             f"{rng.randint(100000, 999999)}-{rng.randint(10000000, 99999999)}",
            "expires_in": int(ttl),
            "session_key": f"9mzd{rng.getrandbits(160):040x}",
            "access_token": token,
            "scope": "public brain_all_scope brain_solution_faceprint brain_face_verify wise_adapt",
            "session_secret": f"{rng.getrandbits(128):032x}",
        })

    def expire_access_tokens(self) -> None:
        """Make every issued Baidu access token expired (tests of error 111)."""
        with self._lock:
            for token in self._access_tokens:
                self._access_tokens[token] = 0.0

    def baidu_token(self, token: str) -> tuple[str, Session | None]:
        """The state of a verify_token and its session.

        'unknown'; 'expired' (past the three days results are kept); 'unused' (no user went
        through the H5 flow, and the two hours to do so are over: no results will come);
        'open' (minted, the user may still go through); 'done' (results exist)."""
        session = self.population.baidu.get(token)
        if session is not None:
            if session.expired:
                return "expired", session
            return ("unused" if session.unused else "done"), session
        with self._lock:
            minted = self._minted.get(token)
            session = self._flows.get(token)
        if session is not None:
            return "done", session
        if minted is None:
            return "unknown", None
        return ("unused" if time.time() - minted > VERIFY_TOKEN_TTL else "open"), None

    def _baidu(self, endpoint: str, query: str, headers: Any, body: bytes) -> Response | object:
        cfg = self.config
        params = {k: v[0] for k, v in parse_qs(query, keep_blank_values=True).items()}
        access = params.get("access_token", "")
        with self._lock:
            expiry = self._access_tokens.get(access)
        rng = self._misc()
        if expiry is None:
            return self._baidu_error(110, rng)
        if time.time() >= expiry:
            return self._baidu_error(111, rng)
        data = _baidu_body(headers, body)
        verify_token = str(data.get("verify_token", "")) if data else ""
        state, session = self.baidu_token(verify_token) if verify_token else ("unknown", None)
        with self._lock:
            if state != "unknown":
                self.calls[verify_token] += 1
            self.baidu_total += 1
            today = time.strftime("%Y-%m-%d", time.gmtime(time.time() + _baidu.BEIJING))
            self.baidu_daily[today] += 1
            total, daily = self.baidu_total, self.baidu_daily[today]
        if cfg.total_limit is not None and total > cfg.total_limit:
            return self._baidu_error(19, rng)
        if cfg.daily_limit is not None and daily > cfg.daily_limit:
            return self._baidu_error(17, rng)
        if not self._admit("baidu", cfg.limit("baidu")):
            return self._baidu_error(18, rng)
        try:
            fault, jitter = self._draw_fault(cfg, encryption=False)
            if fault == "drop":
                return DROP
            self._pause(cfg, fault, jitter)
            if fault == "internal_error":
                return json_response(500, {"error_code": 282000, "error_msg": "internal error"})
            if data is None:
                return json_response(200, _INVALID_PARAM)
            if endpoint == "verifyToken/generate":
                if data.get("plan_id") in (None, ""):
                    return json_response(200, _INVALID_PARAM)
                minted = self.mint_baidu_token()
                return json_response(200, {"success": True, "result": {"verify_token": minted},
                                           "log_id": str(_baidu.log_id(None, "", rng))})
            if not verify_token:
                return json_response(200, _INVALID_PARAM)
            return json_response(200, self._baidu_answer(endpoint, verify_token, state, session, data, rng))
        finally:
            self._release("baidu")

    def _baidu_error(self, code: int, rng: random.Random) -> Response:
        with self._lock:
            self.errors[f"baidu_{code}"] += 1
        return json_response(200, _baidu.access_error_body(code, rng))

    def mint_baidu_token(self) -> str:
        """verifyToken/generate: a token with no results until a user goes through the flow."""
        with self._lock:
            token = self.population.new_baidu_token()
            self._minted[token] = time.time()
        return token

    def complete_flow(self, token: str) -> Session:
        """Play a user through the H5 flow of a minted token: from now on it has results."""
        state, _ = self.baidu_token(token)
        if state != "open":
            raise ValueError(f"verify_token {token!r} cannot go through the flow ({state})")
        with self._lock:
            if token in self._flows:  # another request finished it meanwhile
                raise ValueError(f"verify_token {token!r} cannot go through the flow (done)")
            session = self.population.new_baidu_session(token, int(time.time()))
            self._flows[token] = session
        return session

    def _baidu_answer(self, endpoint: str, token: str, state: str, session: Session | None,
                      data: dict[str, Any], rng: random.Random) -> dict[str, Any]:
        if endpoint == "idcard/submit":
            name, number = data.get("id_name"), data.get("id_no")
            if not name or not number:
                return _INVALID_PARAM
        elif endpoint == "uploadMatchImage" and not data.get("image"):
            return _INVALID_PARAM
        # A population token is wild or not for good; others draw per request.
        wild = self.wild(session) if session is not None else rng.random() < self.config.wild
        if endpoint in ("idcard/submit", "uploadMatchImage"):
            # Set-up calls come before the user's flow; a used or dead token is invalid.
            if state != "open":
                return _baidu.token_invalid_body(rng, wild)
            if endpoint == "idcard/submit":
                with self._lock:
                    self._submitted[token] = (str(data["id_name"]), str(data["id_no"]))
                return {"success": True, "result": 1, "log_id": str(_baidu.log_id(None, "", rng))}
            return {"success": True, "result": None, "log_id": str(_baidu.log_id(None, "", rng))}
        # "用户进行操作后再查询接口,否则生成Token无法生效": no flow, no results.
        if state != "done" or session is None:
            return _baidu.token_invalid_body(rng, wild)
        story = _baidu.story(session, wild)
        return _baidu.result_body(story, endpoint[len("result/"):], self.base_url,
                                  self._submitted.get(token))

    def baidu_payload(self, token: str, endpoint: str) -> dict[str, Any]:
        """What ``result/<endpoint>`` answers for a token ('simple', 'detail', 'stat',
        'getall', 'media/query'), without counting a call."""
        state, session = self.baidu_token(token)
        if state == "unknown":
            raise KeyError(token)
        return self._baidu_answer(f"result/{endpoint}", token, state, session, {}, self._misc())

    # --- admin -------------------------------------------------------------------------

    def _admin(self, method: str, path: str, query: str, headers: Any, body: bytes) -> Response | object:
        params = {k: v[0] for k, v in parse_qs(query, keep_blank_values=True).items()}
        route = path[len("/_sandbox/"):]
        if route.startswith("media/") and method in ("GET", "HEAD"):
            return self._media(route[len("media/"):])
        if route.startswith("blob/") and method in ("GET", "HEAD"):
            name = route[len("blob/"):]
            if name.endswith(".jpg"):
                return Response(200, TINY_JPEG, "image/jpeg")
            return Response(200, media_plaintext(self.config.seed, name), "application/octet-stream")
        if route == "health":
            return json_response(200, {"ok": True})
        if route == "ids" and method == "GET":
            kind = params.get("kind")
            try:
                if kind:
                    return json_response(200, self.ids(kind))
                return json_response(200, {k: self.ids(k) for k in Population.KINDS})
            except ValueError as exc:
                return json_response(400, {"error": str(exc)})
        if route == "stats" and method == "GET":
            return json_response(200, self.stats())
        if route == "config":
            if method == "POST":
                try:
                    changes = json.loads(body.decode("utf-8") or "{}")
                    if not isinstance(changes, dict):
                        raise ValueError("expected a JSON object")
                    self.set(**changes)
                except (ValueError, TypeError, UnicodeDecodeError) as exc:
                    return json_response(400, {"error": str(exc)})
            return json_response(200, self.config.runtime())
        if route == "flow" and method == "POST":
            data = _baidu_body(headers, body) or {}
            token = str(data.get("verify_token") or params.get("verify_token") or "")
            state, _ = self.baidu_token(token)
            if state == "unknown":
                return json_response(404, {"error": "unknown verify_token"})
            try:
                self.complete_flow(token)
            except ValueError as exc:
                return json_response(409, {"error": str(exc)})
            return json_response(200, {"ok": True, "verify_token": token})
        if route == "reset" and method == "POST":
            self.reset()
            return json_response(200, {"ok": True})
        if route == "callback" and method == "GET":
            try:
                payload = self.megvii_payload(params.get("biz_id", ""))
            except KeyError:
                return json_response(404, {"error": "unknown biz_id"})
            return json_response(200, _megvii.callback_body(payload, self.config.megvii_api_secret))
        return json_response(404, {"error": f"no sandbox route {method} {path}"})
