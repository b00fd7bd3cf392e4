"""An analyst's audit of the review on quarters planted independently of ``tests/_planted.py``.

    python benchmarks/audit_quarter.py [--out /tmp/audit] [--per-day 2500] [--baidu-per-day 300]
                                       [--days 90] [--prior 28] [--only NAME,...] [--keep]

Each dataset is a quarter of Megvii Lite sessions (and Baidu H5 tokens: getall, detail and
stat) written as the envelopes of ``/work/shared/CONTRACT.md`` from the provider documents'
field tables -- not from the sandbox, ``gen_records.py`` or ``_planted.py`` -- landed with
``faceanalytics ingest`` and reviewed with ``faceanalytics review`` as a user would
(``--segment channel``, ``--level 1e-4`` and ``--labels`` on some).  Sessions fall into five
channels and three products carried in ``biz_extra_data`` (half as JSON, half as ``k=v&``
text, with a per-session ``order`` key of its own).  Pass/fail is drawn first, then a
confidence on the right side of the 1e-4 threshold, so every planted rate is known exactly.

Plants (each dated from the quarter's first day):

* ``segment``   faceid pass rate at 1e-4 in ``channel=store`` (12% of sessions) down 5 points
                from day 45 on; the pool moves ~0.6 points.
* ``wave``      mask flagged share 0.6% -> 3.6% for days 50-53 (screen replay, synthetic untouched).
* ``threshold`` a new reference-threshold set for ``idcard_photo`` in megvii_lite from day 60
                (faceid keeps its set; confidences unchanged).
* ``baidu``     Baidu attempt code 223120 (liveness failed, not billed) 4% -> 10% for days 30-34,
                and billed errors (code 222351, name/ID mismatch, billed) 2% -> 5% from day 55.
* ``fresh``     all of the above together, and no earlier data at all (``--prior`` ignored).
* ``none0..2``  no change at three seeds: the box must say that nothing changed.

Prints, per dataset and plant, found / found wrong / missed (with what the finding said), the
findings that match no plant (false findings), and what the report's text says where an
analyst reads it.  Every dataset but ``fresh`` has ``--prior`` days of earlier data.
"""
from __future__ import annotations

import argparse
import calendar
import datetime as dt
import json
import os
import random
import re
import shutil
import subprocess
import sys
import time
import uuid
import zlib
from dataclasses import dataclass, field

Q_START = "2026-07-01"
CHANNELS = [("app", 0.42), ("web", 0.24), ("store", 0.12), ("wechat", 0.14), ("partner", 0.08)]
PRODUCTS = [("loan", 0.5), ("card", 0.3), ("account", 0.2)]
SET_A = {"1e-3": 62.169, "1e-4": 69.315, "1e-5": 74.399, "1e-6": 78.038}
SET_B = {"1e-3": 65.3, "1e-4": 71.8, "1e-5": 76.5, "1e-6": 79.9}
PASS = {"faceid": 0.90, "idcard_photo": 0.93, "ref1": 0.95}  # at 1e-4 of SET_A
FLAG = {"synthetic_face": 0.008, "mask": 0.006, "screen_replay": 0.015}
BAIDU_THRESHOLD = 80
# Baidu attempt outcomes: (code, message, billed, share)
BAIDU_CODES = [("223120", "活体检测未通过", False, 0.04), ("222351", "身份证号与姓名不匹配", True, 0.02),
               ("222354", "公安网图片不存在或质量过低", True, 0.01), ("223131", "人脸比对未通过", True, 0.05)]


@dataclass
class Plants:
    segment: tuple | None = None     # (channel, drop in points, from day)
    wave: tuple | None = None        # (attack, flagged share in the wave, first day, last day)
    threshold: tuple | None = None   # (comparison kind, from day)
    baidu_wave: tuple | None = None  # (code, share in the wave, first day, last day)
    billed: tuple | None = None      # (code, share after, from day)
    names: list = field(default_factory=list)


SIZES = {"segment_drop": 0.05, "wave_share": 0.036, "wave_days": 4}   # --segment-drop, --wave-share, --wave-days


def plants_for(name: str) -> Plants:
    """The plants of dataset ``name`` (``segment``, ``wave``, ... ``fresh``; a name ending in digits
    after the kind, ``segment2``, plants the same at another seed)."""
    p = Plants()
    name = name.rstrip("0123456789") if not name.startswith("none") else name
    if name in ("segment", "fresh"):
        p.segment = ("store", SIZES["segment_drop"], 45)
    if name in ("wave", "fresh"):
        p.wave = ("mask", SIZES["wave_share"], 50, 50 + SIZES["wave_days"] - 1)
    if name in ("threshold", "fresh"):
        p.threshold = ("idcard_photo", 60)
    if name in ("baidu", "fresh"):
        p.baidu_wave = ("223120", 0.10, 30, 34)
        p.billed = ("222351", 0.05, 55)
    p.names = [k for k in ("segment", "wave", "threshold", "baidu_wave", "billed") if getattr(p, k)]
    return p


def _pick(rng, pairs):
    x, acc = rng.random(), 0.0
    for v, w in pairs:
        acc += w
        if x < acc:
            return v
    return pairs[-1][0]


def _iso(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _cn(epoch: float) -> str:  # Baidu's times are Beijing wall-clock text
    return dt.datetime.fromtimestamp(epoch + 8 * 3600, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def _conf(rng, passed: bool, thr: float) -> float:
    c = thr + abs(rng.gauss(0, 7)) + 0.01 if passed else thr - abs(rng.gauss(0, 9)) - 0.01
    return round(min(max(c, 0.0), 100.0), 3)


def _extra(rng, channel, product) -> str:
    order = uuid.UUID(int=rng.getrandbits(128)).hex[:12]
    if rng.random() < 0.5:
        return json.dumps({"channel": channel, "product": product, "order": order})
    return f"channel={channel}&product={product}&order={order}"


def megvii_lite(rng, day: int, epoch: float, p: Plants) -> tuple[dict, dict]:
    """One Lite get_result envelope; and the truth (genuine) for the labels file."""
    channel, product = _pick(rng, CHANNELS), _pick(rng, PRODUCTS)
    start = int(epoch)
    biz_id = f"{start},{uuid.UUID(int=rng.getrandbits(128))}"
    vt = start + rng.randint(20, 240)
    payload = {"request_id": f"{vt + 3},{uuid.UUID(int=rng.getrandbits(128))}", "time_used": rng.randint(20, 400),
               "biz_info": {"biz_id": biz_id, "biz_no": str(uuid.UUID(int=rng.getrandbits(128))),
                            "biz_extra_data": _extra(rng, channel, product)}}
    u = rng.random()
    status = "OK" if u < 0.965 else "FAILED" if u < 0.985 else "CANCELLED" if u < 0.995 else "TIMEOUT"
    payload["status"] = status
    genuine = rng.random() < 0.97
    if status == "OK":
        gen = {}
        for attack, q in FLAG.items():
            if p.wave and attack == p.wave[0] and p.wave[2] <= day <= p.wave[3]:
                q = p.wave[1]
            flagged = rng.random() < q
            gen[f"{attack}_confidence"] = round(rng.uniform(0.51, 0.99) if flagged else rng.betavariate(1.2, 14), 3)
            gen[f"{attack}_threshold"] = 0.5
        live_pass = rng.random() < 0.97
        payload["liveness_result"] = {"procedure_type": "video", "result": "PASS" if live_pass else "FAIL",
                                      "face_genuineness": gen}
        if live_pass:
            vr: dict = {}
            e = rng.random()
            if e < 0.004:
                vr["error_message"] = "NO_SUCH_ID_NUMBER"
            elif e < 0.009:
                vr["error_message"] = "ID_NUMBER_NAME_NOT_MATCH"
            else:
                kinds = ["faceid"] + (["idcard_photo"] if rng.random() < 0.6 else []) + \
                        (["ref1"] if rng.random() < 0.2 else [])
                for kind in kinds:
                    q = PASS[kind]
                    if p.segment and kind == "faceid" and channel == p.segment[0] and day >= p.segment[2]:
                        q -= p.segment[1]
                    thr = SET_B if p.threshold and kind == p.threshold[0] and day >= p.threshold[1] else SET_A
                    if not genuine:      # an impostor rarely reaches the cut
                        q = 0.03
                    vr[f"result_{kind}"] = {"confidence": _conf(rng, rng.random() < q, SET_A["1e-4"]),
                                            "thresholds": dict(thr)}
                vr["id_exceptions"] = {"id_attacked": 0, "id_photo_monochrome": 0}
            if rng.random() < 0.5:       # return_verify_time=1 for part of the integrations
                vr["verify_time"] = vt
            payload["verify_result"] = vr
    fetched = epoch + rng.randint(1800, 6 * 3600)  # an hourly fetch job
    env = {"source": "megvii_lite", "session_id": biz_id, "fetched_at": _iso(fetched), "http_status": 200,
           "payload": payload}
    return env, {"session_id": biz_id, "genuine": genuine}


def day_epoch_of(epoch: float) -> int:
    return int(epoch) // 86400 * 86400


def baidu(rng, day: int, epoch: float, p: Plants) -> list[dict]:
    """getall, detail and stat envelopes of one verify_token."""
    token = "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789") for _ in range(24))
    attempts, t = [], epoch
    for order in (1, 2, 3):
        codes = []
        for code, msg, billed, share in BAIDU_CODES:
            if p.baidu_wave and code == p.baidu_wave[0] and p.baidu_wave[2] <= day <= p.baidu_wave[3]:
                share = p.baidu_wave[1]
            if p.billed and code == p.billed[0] and day >= p.billed[2]:
                share = p.billed[1]
            codes.append((code, msg, billed, share))
        u, acc, outcome = rng.random(), 0.0, None
        for c in codes:
            acc += c[3]
            if u < acc:
                outcome = c
                break
        passed = outcome is None
        code, msg, charged = ("0", "核验成功", True) if passed else (outcome[0], outcome[1], outcome[2])
        score = None
        if passed:
            score = round(min(BAIDU_THRESHOLD + abs(rng.gauss(0, 8)) + 0.01, 100), 4)
        elif code == "223131":
            score = round(max(BAIDU_THRESHOLD - abs(rng.gauss(0, 10)) - 0.01, 0), 4)
        attempts.append({
            "order": order, "is_verify_passed": passed, "code": code, "message": msg, "verify_time": _cn(t),
            "is_charged": charged, "charge_type": "verify", "charge_time": _cn(t) if charged else "",
            "verify_detail": {"face_image": f"https://files.example.com/{token}/{order}.jpg",
                              "verify_log_id": str(rng.getrandbits(50)), "score": score,
                              "threshold": BAIDU_THRESHOLD, "liveness_score": 0, "spoofing_score": 0},
            "idcard_confirm": {"name": "张三", "idcard_number": "36213219923232X", "idcard_type": "0"}})
        if passed or rng.random() > 0.3:   # a third of the failed retry
            break
        t += rng.randint(30, 300)
    fetched = _iso(t + rng.randint(1800, 6 * 3600))
    getall = {"success": True, "log_id": str(rng.getrandbits(50)),
              "result": {"verify_count": len(attempts), "ocr_charge_count": 0,
                         "match_charge_count": 0,
                         "verify_charge_count": sum(a["is_charged"] for a in attempts),
                         "verify_result": attempts}}
    last = attempts[-1]
    detail_vr = {"score": last["verify_detail"]["score"] or 0, "liveness_score": 0.97 if last["code"] != "223120" else 0,
                 "spoofing": 0.0}
    detail = {"success": True, "log_id": str(rng.getrandbits(50)),
              "result": {"verify_result": detail_vr, "idcard_confirm": {"idcard_number": "362***********232X",
                                                                        "name": "张*"}}}
    if not last["is_verify_passed"]:
        detail["code"], detail["message"] = int(last["code"]), last["message"]
    verify_counts: dict[str, int] = {}
    for a in attempts:
        verify_counts[a["code"]] = verify_counts.get(a["code"], 0) + 1
    stat = {"success": True, "log_id": str(rng.getrandbits(50)),
            "result": {"Verify_FIN": [{"error_code": c, "count": n} for c, n in verify_counts.items()],
                       "Sessioncode": [{"error_code": "0", "count": 1}],
                       "verify": [{"error_code": c, "count": n} for c, n in verify_counts.items()]}}
    return [{"source": s, "session_id": token, "fetched_at": fetched, "http_status": 200, "payload": pl}
            for s, pl in (("baidu_getall", getall), ("baidu_detail", detail), ("baidu_stat", stat))]


def generate(path: str, name: str, seed: int, *, per_day: int, baidu_per_day: int, days: int, prior: int,
             labels_path: str | None = None, plants: Plants | None = None) -> Plants:
    """Write dataset ``name``'s envelopes to ``path`` (``plants``: other plants than the name's)."""
    p = plants if plants is not None else plants_for(name)
    rng = random.Random(seed)
    q0 = calendar.timegm(dt.date.fromisoformat(Q_START).timetuple())
    first = 0 if name == "fresh" else -prior
    labels = []
    with open(path, "w", encoding="utf-8") as out:
        for day in range(first, days):
            d0 = q0 + day * 86400
            # weekly rhythm: weekends a little quieter
            wk = 0.8 if dt.datetime.fromtimestamp(d0, dt.timezone.utc).weekday() >= 5 else 1.0
            n = int(rng.gauss(per_day * wk, per_day * 0.04))
            for _ in range(max(n, 0)):
                env, truth = megvii_lite(rng, day, d0 + rng.uniform(0, 86400 - 600), p)
                out.write(json.dumps(env, ensure_ascii=False) + "\n")
                if labels_path and rng.random() < 0.1:
                    labels.append(truth)
            for _ in range(max(int(rng.gauss(baidu_per_day * wk, baidu_per_day * 0.05)), 0)):
                for env in baidu(rng, day, d0 + rng.uniform(0, 86400 - 1200), p):
                    out.write(json.dumps(env, ensure_ascii=False) + "\n")
    if labels_path:
        with open(labels_path, "w", encoding="utf-8") as f:
            f.write("session_id,genuine\n")
            for r in labels:
                f.write(f"\"{r['session_id']}\",{str(r['genuine']).lower()}\n")
    return p


def _date(day: int) -> str:
    return (dt.date.fromisoformat(Q_START) + dt.timedelta(days=day)).isoformat()


# ------------------------------------------------------------------ judging

def expected(p: Plants) -> list[dict]:
    """The plants as an analyst would want them named."""
    out = []
    if p.segment:
        ch, drop, d = p.segment
        out.append({"plant": "segment", "family": "pass_rate", "comparison": "faceid", "segment": ("channel", ch),
                    "start": _date(d), "end": None, "points": -100 * drop})
    if p.wave:
        a, share, d0, d1 = p.wave
        out.append({"plant": "wave", "family": "flagged", "attack": a, "start": _date(d0), "end": _date(d1),
                    "points": 100 * (share - FLAG[a])})
    if p.threshold:
        kind, d = p.threshold
        out.append({"plant": "threshold", "family": "thresholds", "comparison": kind, "source": "megvii_lite",
                    "start": _date(d), "end": None, "set": SET_B,
                    # the kind's pass rates move with its cuts (confidences unchanged)
                    "explains": [{"family": "pass_rate", "comparison": kind}]})
    if p.baidu_wave:
        code, share, d0, d1 = p.baidu_wave
        out.append({"plant": "baidu_wave", "family": "error", "code": code, "start": _date(d0), "end": _date(d1),
                    "points": 100 * (share - 0.04),
                    # an attempt without a score is a rejection at the configured threshold
                    "explains": [{"family": "configured"}]})
    if p.billed:
        code, share, d = p.billed
        out.append({"plant": "billed", "family": "billed", "source": "Baidu", "start": _date(d), "end": None,
                    "points": 100 * (share - 0.02),
                    "explains": [{"family": "error", "code": code}, {"family": "configured"}]})
    return out


def _days_apart(a: str | None, b: str | None) -> int:
    if not a or not b:
        return 999
    return abs((dt.date.fromisoformat(a[:10]) - dt.date.fromisoformat(b[:10])).days)


def _matches(e: dict, f: dict) -> bool:
    if f.get("family") != e["family"]:
        return False
    for k in ("comparison", "attack", "code"):
        if e["family"] == "thresholds" and k == "code":
            continue
        if k in e and f.get(k) != e[k]:
            return False
    if e["family"] == "billed" and f.get("source") != "Baidu":
        return False
    return True


def judge(e: dict, findings: list[dict]) -> tuple[str, str]:
    cands = [f for f in findings if _matches(e, f)]
    if not cands:
        return "missed", ""
    f = min(cands, key=lambda f: _days_apart(f.get("start"), e["start"]))
    wrong = []
    if _days_apart(f.get("start"), e["start"]) > 2:
        wrong.append(f"start {f.get('start')} (planted {e['start']})")
    if e.get("end") and (f.get("kind") != "wave" or _days_apart(f.get("end"), e["end"]) > 2):
        wrong.append(f"{f.get('kind')} ending {f.get('end')} (planted wave to {e['end']})")
    if e.get("end") is None and f.get("kind") == "wave" and e["family"] != "thresholds":
        wrong.append(f"a wave ending {f.get('end')} (planted a step)")
    if "segment" in e:
        seg = f.get("segment") or {}
        if (seg.get("key"), seg.get("value")) != e["segment"]:
            wrong.append(f"segment {seg or 'pooled'} (planted {e['segment'][0]}={e['segment'][1]})")
    if "points" in e and f.get("change_points") is not None:
        lo, hi = f.get("ci_low_points"), f.get("ci_high_points")
        pts = f["change_points"]
        if lo is None or hi is None:
            wrong.append("no interval")
        elif not (lo - 0.5 <= e["points"] <= hi + 0.5) and abs(pts - e["points"]) > 0.4 * abs(e["points"]):
            wrong.append(f"{pts:+.2f} pt [{lo:+.2f}, {hi:+.2f}] (planted {e['points']:+.2f})")
    if e["family"] == "thresholds":
        got = {str(k): float(v) for k, v in (f.get("thresholds") or {}).items()}
        if got != e["set"]:
            wrong.append(f"set {got} (planted {e['set']})")
    if not f.get("section") or not f.get("figure"):
        wrong.append(f"links section={f.get('section')} figure={f.get('figure')}")
    desc = f"#{f.get('rank')} {f.get('kind')} {f.get('start')}..{f.get('end') or ''} " \
           f"{f.get('change_points') if f.get('change_points') is None else round(f['change_points'], 2)} pt"
    return ("found wrong" if wrong else "found"), desc + ("; " + "; ".join(wrong) if wrong else "")


def read_checks(text: str, findings: list[dict]) -> list[str]:
    """What an analyst would call wrong when reading the report beside its findings JSON."""
    bad = []
    if any(f["family"] == "thresholds" for f in findings) and "No comparison kind changed its reference" in text:
        bad.append("threshold section says no change beside a threshold finding")
    if findings and "Nothing changed significantly" in text:
        bad.append("box says nothing changed beside findings")
    if not findings and "Nothing changed significantly" not in text:
        bad.append("no finding, and the box does not say nothing changed")
    tail = text[text.rfind("Keep or review"):]
    if "decision" not in tail or "How this report counts" in tail:
        bad.append("the report does not end with the keep/review table")
    if "getall" not in text[text.find("How this report counts"):]:
        bad.append("Baidu placement not said")
    for f in findings:
        if f.get("change_points") is not None and f["family"] != "thresholds" and " points" not in f["text"]:
            bad.append(f"#{f['rank']} change not in points")
        if f["family"] == "pass_rate" and "reject" in f["decision"] and any(
                t["family"] == "thresholds" and t["comparison"] == f["comparison"] and t["start"] == f["start"]
                for t in findings):
            bad.append(f"#{f['rank']} asks who is rejected of a drop that starts with new thresholds")
        if not f.get("figure"):
            bad.append(f"#{f['rank']} links no figure")
    return bad


def _run(cmd: list[str], env=None) -> subprocess.CompletedProcess:
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if r.returncode not in (0,):
        sys.stderr.write(f"$ {' '.join(cmd)}\n{r.stdout[-2000:]}\n{r.stderr[-3000:]}\n")
    return r


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="/tmp/audit-quarter")
    ap.add_argument("--per-day", type=int, default=2500)
    ap.add_argument("--baidu-per-day", type=int, default=300)
    ap.add_argument("--days", type=int, default=90)
    ap.add_argument("--prior", type=int, default=28)
    ap.add_argument("--only", default="segment,wave,threshold,baidu,fresh,none0,none1,none2")
    ap.add_argument("--segment-drop", type=float, default=SIZES["segment_drop"], help="points / 100")
    ap.add_argument("--wave-share", type=float, default=SIZES["wave_share"], help="mask flagged share in the wave")
    ap.add_argument("--wave-days", type=int, default=SIZES["wave_days"])
    ap.add_argument("--segment-flag", action="store_true", help="also review with --segment channel")
    ap.add_argument("--keep", action="store_true", help="keep data directories already landed")
    a = ap.parse_args(argv)
    SIZES.update(segment_drop=a.segment_drop, wave_share=a.wave_share, wave_days=a.wave_days)
    exe = os.path.join(os.path.dirname(sys.executable), "faceanalytics")
    rows, false_findings = [], []
    since, until = Q_START, _date(a.days)
    for name in a.only.split(","):
        root = os.path.join(a.out, name)
        data, src = os.path.join(root, "data"), os.path.join(root, "records.jsonl")
        labels = os.path.join(root, "labels.csv")
        seed = zlib.crc32(name.encode())        # a dataset's seed is its name's
        t0 = time.time()
        if not (a.keep and os.path.isdir(data)):
            shutil.rmtree(root, ignore_errors=True)
            os.makedirs(root)
            generate(src, name, seed, per_day=a.per_day, baidu_per_day=a.baidu_per_day, days=a.days,
                     prior=a.prior, labels_path=labels)
            r = _run([exe, "ingest", src, "--data", data, "-q", "--json"])
            if r.returncode:
                return 1
        p = plants_for(name)
        runs = [("default", [])]
        if a.segment_flag or name.rstrip("0123456789") in ("segment", "fresh"):
            runs.append(("segment", ["--segment", "channel", "--level", "1e-4", "--labels", labels]))
        for label, extra in runs:
            rep = os.path.join(root, f"report-{label}.html")
            r = _run([exe, "review", "--data", data, "--out", rep, "--since", since, "--until", until, "-q", *extra])
            if r.returncode:
                return 1
            with open(rep.replace(".html", ".findings.json"), encoding="utf-8") as f:
                findings = json.load(f)
            with open(rep, encoding="utf-8") as f:
                text = _text(f.read())
            used, explained = set(), []
            for e in expected(p):
                verdict, desc = judge(e, findings)
                rows.append((name, label, e["plant"], verdict, desc))
                for j, f in enumerate(findings):
                    if _matches(e, f):
                        used.add(j)
                    elif j not in used and any(all(f.get(k) == v for k, v in x.items()) for x in e.get("explains", [])) \
                            and _days_apart(f.get("start"), e["start"]) <= 10:
                        used.add(j)
                        explained.append(f"#{f.get('rank')} {f.get('title')} {str(f.get('start'))[:10]} "
                                         f"({e['plant']})")
            if explained:
                rows.append((name, label, "follows", f"{len(explained)} findings", "; ".join(explained)))
            for j, f in enumerate(findings):
                if j not in used:
                    false_findings.append((name, label, f"#{f.get('rank')} {f.get('title')} {f.get('start')}"))
            rows.append((name, label, "reading", "", "; ".join(read_checks(text, findings)) or "no contradiction seen"))
            box = re.search(r"Look at first(.{0,300})", text)
            rows.append((name, label, "box", f"{len(findings)} findings",
                         (box.group(1)[:160] if box else "(no 'Look at first' box)")))
        print(f"# {name}: {time.time() - t0:.0f} s", file=sys.stderr, flush=True)
    print(f"{'dataset':10} {'review':8} {'plant':11} {'verdict':12} what the review said")
    for r in rows:
        print(f"{r[0]:10} {r[1]:8} {r[2]:11} {r[3]:12} {r[4]}")
    print("\n(follows: findings a plant explains -- a kind's pass rates at its new cuts, Baidu's pass rate "
          "when attempts fail without a score, the billed code itself)")
    print(f"\nfindings that match no plant and follow from none: {len(false_findings)}")
    for r in false_findings:
        print(f"  {r[0]:10} {r[1]:8} {r[2]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
