"""The plants of ``tests/_planted.py`` on records built from the provider documents.

``benchmarks/bench_findings_documents.py`` measures what the review finds when the plants
edit ``benchmarks/gen_records.py`` records; a plant that does nothing on one of their shapes
would make a missed change look like the review's fault.  Every plant is checked here on
every shape gen_records emits: Lite ``get_result``, web liveness and its callbacks (signed
again), thresholds keyed ``1e-4`` / ``1e-04`` / ``0.0001``, 3- and 4-level sets, numbers
sent as text, ``biz_extra_data`` beside or inside ``biz_info`` as ``k=v&`` text or JSON;
and records without the plant's field (API errors, pending sessions, Baidu) are left alone.
Then the tidy tables say what the plant meant.
"""
from __future__ import annotations

import copy
import json
import random
import sys
from pathlib import Path

import orjson
import pytest

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
import _planted as P  # noqa: E402
import gen_records  # noqa: E402

from faceanalytics.flatten.megvii import verify_callback_sign  # noqa: E402

MEGVII = ("megvii_lite", "megvii_liveness", "megvii_notify")
BAIDU = ("baidu_getall", "baidu_detail", "baidu_stat")
FROM = "2025-10-01"      # before every gen_records record (t0 = 2025-10-09): the plants apply to all
SPELLING = {"1e-4": "keys 1e-4", "1e-04": "keys 1e-04", "0.0001": "keys 0.0001"}


@pytest.fixture(scope="module")
def drawn():
    return {s: list(gen_records._drawn(s, 400, seed=11)) for s in MEGVII + BAIDU}


def _inner(env) -> dict:
    p = env["payload"]
    return json.loads(p["data"]) if env["source"] == "megvii_notify" else p


def _planted(recs, plant, seed=0) -> list[dict]:
    out = copy.deepcopy(recs)
    rng = random.Random(seed)
    for e in out:
        P.apply(plant, e, rng, secret=gen_records.SECRET)
    return out


def _shapes(env) -> set[str]:
    """The shapes of one record a plant must handle."""
    p = _inner(env)
    tags = {env["source"]}
    biz = p.get("biz_info") if isinstance(p.get("biz_info"), dict) else p
    extra = biz.get("biz_extra_data")
    tags.add("biz_info" if "biz_info" in p else "biz at the top")
    if isinstance(extra, str):
        tags.add("extra JSON" if extra.startswith("{") else "extra k=v" if "=" in extra else "extra other")
    v = p.get("verify_result")
    for k, block in (v.items() if isinstance(v, dict) else ()):
        if k.startswith("result_") and isinstance(block, dict):
            th = block.get("thresholds") or {}
            tags |= {SPELLING[key] for key in th if key in SPELLING}
            tags.add(f"{len(th)} levels")
            if isinstance(block.get("confidence"), str):
                tags.add("text numbers")
    for where in ("liveness_result", "verify_result"):
        h = p.get(where)
        if isinstance(h, dict) and isinstance(h.get("face_genuineness"), dict):
            tags.add(f"genuineness in {where}")
    return tags


def _changed(before, after) -> list[tuple[dict, dict, set[str]]]:
    """(payload before, payload after, shapes) of the records the plant changed; a changed
    callback must carry a valid signature."""
    out = []
    for a, b in zip(before, after):
        if a != b:
            if a["source"] == "megvii_notify":
                assert verify_callback_sign(b["payload"]["data"], b["payload"]["sign"], gen_records.SECRET)
            out.append((_inner(a), _inner(b), _shapes(a)))
    return out


def _all(drawn, sources=MEGVII + BAIDU) -> list[dict]:
    return [e for s in sources for e in drawn[s]]


def test_the_sample_has_every_shape(drawn):
    """The shapes below are all in the sample (else the checks below would prove nothing)."""
    seen = set().union(*(_shapes(e) for e in _all(drawn, MEGVII)))
    need = {*MEGVII, *SPELLING.values(), "3 levels", "4 levels", "text numbers", "biz_info", "biz at the top",
            "extra JSON", "extra k=v", "genuineness in liveness_result", "genuineness in verify_result"}
    assert need <= seen
    statuses = {_inner(e).get("status") for e in drawn["megvii_lite"]}
    assert {"NOT_STARTED", "PROCESSING"} <= statuses
    assert any("verify_result" not in _inner(e) and "error_message" in _inner(e) for e in drawn["megvii_lite"])


@pytest.mark.parametrize("channel", ["app", "web"])          # app: k=v text; web: JSON
def test_segment_drop_pushes_the_segments_faceid_under_its_threshold(drawn, channel):
    recs = _all(drawn)
    after = _planted(recs, P.SegmentDrop(85, FROM, value=channel))       # 85 / 0.85: every passing one
    changed = _changed(recs, after)
    assert changed
    shapes = set()
    for a, b, tags in changed:
        assert P._channel(a) == channel
        ra, rb = a["verify_result"]["result_faceid"], b["verify_result"]["result_faceid"]
        t = P._threshold(ra, "1e-4")
        assert float(ra["confidence"]) >= t > float(rb["confidence"]) >= t - 4.0
        assert isinstance(rb["confidence"], str) == isinstance(ra["confidence"], str)      # text stays text
        assert {**a, "verify_result": None} == {**b, "verify_result": None}
        shapes |= tags
    need = {*MEGVII, *SPELLING.values(), "3 levels", "4 levels", "text numbers", "biz_info", "biz at the top",
            "extra k=v" if channel == "app" else "extra JSON"}
    assert need <= shapes
    # every passing faceid comparison of the segment was pushed under: none left passing
    for e in after:
        p = _inner(e)
        r = (P._verify(p) or {}).get("result_faceid")
        if e["source"].startswith("megvii") and P._channel(p) == channel and isinstance(r, dict):
            assert float(r["confidence"]) < P._threshold(r, "1e-4")


def test_attack_wave_flags_the_attack_in_both_places_it_is_reported(drawn):
    recs = _all(drawn)
    after = _planted(recs, P.AttackWave(1.0, FROM, days=60, attack="mask"))
    changed = _changed(recs, after)
    shapes = set()
    for a, b, tags in changed:
        for where in ("liveness_result", "verify_result"):
            fa, fb = ((x.get(where) or {}).get("face_genuineness") for x in (a, b))
            if isinstance(fa, dict) and "mask_confidence" in fa:
                assert float(fb["mask_confidence"]) > float(fb["mask_threshold"])
                assert isinstance(fb["mask_confidence"], str) == isinstance(fa["mask_confidence"], str)
                assert {k: v for k, v in fa.items() if k != "mask_confidence"} == \
                       {k: v for k, v in fb.items() if k != "mask_confidence"}
        shapes |= tags
    assert {*MEGVII, "text numbers", "genuineness in liveness_result", "genuineness in verify_result"} <= shapes
    n_fg = sum(isinstance((_inner(e).get(w) or {}).get("face_genuineness"), dict)
               for e in recs if e["source"].startswith("megvii") for w in ("liveness_result", "verify_result"))
    assert len(changed) > n_fg / 3      # share 1: every record with a mask check (ties at 0.5 included)


@pytest.mark.parametrize("source", MEGVII)
def test_threshold_change_keeps_each_levels_spelling(drawn, source):
    recs = _all(drawn)
    new = (60.0, 66.6, 72.2, 77.7)
    after = _planted(recs, P.ThresholdChange(FROM, thresholds=new, comparison="faceid", source=source))
    changed = _changed(recs, after)
    shapes = set()
    for a, b, tags in changed:
        assert a["verify_result"].keys() == b["verify_result"].keys()
        ta, tb = a["verify_result"]["result_faceid"]["thresholds"], b["verify_result"]["result_faceid"]["thresholds"]
        assert list(ta) == list(tb)
        for k, v in tb.items():
            assert float(v) == new[P.FAR_LEVELS.index(P._level(k))]
            assert isinstance(v, str) == isinstance(ta[k], str)
        shapes |= tags
    assert {source} == shapes & set(MEGVII)
    need = {*SPELLING.values(), "4 levels" if source == "megvii_lite" else "3 levels", "text numbers"}
    assert need <= shapes
    n_faceid = sum(isinstance((P._verify(_inner(e)) or {}).get("result_faceid"), dict) for e in drawn[source])
    assert len(changed) == n_faceid


def test_error_step_gives_the_code_to_sessions_that_reached_verification(drawn):
    recs = _all(drawn)
    after = _planted(recs, P.ErrorStep(1.0, FROM, code="NO_SUCH_ID_NUMBER"))
    changed = _changed(recs, after)
    shapes = set()
    for a, b, tags in changed:
        assert not a["verify_result"].get("error_message") and not a["verify_result"].get("error")
        assert b["verify_result"]["error_message"] == "NO_SUCH_ID_NUMBER"
        assert "result_faceid" not in b["verify_result"]
        shapes |= tags
    assert shapes & set(MEGVII) == {"megvii_lite"}
    assert {"biz_info", "biz at the top", "text numbers"} <= shapes
    reached = [e for e in drawn["megvii_lite"] if isinstance(P._verify(_inner(e)), dict)
               and not (_inner(e)["verify_result"].get("error_message") or _inner(e)["verify_result"].get("error"))]
    assert len(changed) == len(reached)


@pytest.mark.parametrize("plant", [P.SegmentDrop(85, FROM), P.AttackWave(1.0, FROM, days=60),
                                   P.ThresholdChange(FROM), P.ErrorStep(1.0, FROM)], ids=lambda p: type(p).__name__)
def test_records_without_the_field_are_left_alone(drawn, plant):
    """API errors, sessions still pending, Baidu records, null and empty blocks."""
    recs = [e for e in _all(drawn) if e["source"].startswith("baidu") or "verify_result" not in _inner(e)]
    assert any(e["source"].startswith("megvii") for e in recs)
    odd = [{"source": "megvii_lite", "session_id": "1760000000,x", "payload": p} for p in (
        {"biz_extra_data": "channel=app", "verify_result": None},
        {"biz_extra_data": "channel=app",
         "verify_result": {"error_message": "NO_FACE_FOUND", "result_faceid": {"confidence": None, "thresholds": {}}}},
        {"biz_extra_data": "channel=app",
         "verify_result": {"error": "INTERNAL_ERROR", "result_faceid": {"confidence": "", "thresholds": None}}},
        {"biz_info": None, "liveness_result": {"face_genuineness": {"mask_confidence": None}}},
        {"biz_info": {"biz_extra_data": "{not json"}, "verify_result": {"error_message": "X", "result_faceid": {}}},
    )]
    assert _planted(recs + odd, plant) == recs + odd


@pytest.mark.parametrize("plant,check", [
    (P.SegmentDrop(85, FROM), "segment"), (P.AttackWave(1.0, FROM, days=60), "attack"),
    (P.ThresholdChange(FROM, comparison="ref1"), "thresholds"), (P.ErrorStep(1.0, FROM), "error"),
], ids=lambda x: x if isinstance(x, str) else "")
def test_the_tidy_tables_show_the_plant(drawn, tmp_path, monkeypatch, plant, check):
    """Ingested, the planted records say what the plant meant (so the review can see it)."""
    from faceanalytics import ingest, load

    monkeypatch.setenv("MEGVII_API_SECRET", gen_records.SECRET)
    recs = _planted([e for s in MEGVII for e in drawn[s][:200]], plant)
    f = tmp_path / "r.jsonl"
    f.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in recs))
    ingest([f], tmp_path / "d")
    if check == "segment":
        c = load(tmp_path / "d", "comparisons")
        s = load(tmp_path / "d", "sessions", columns=["source", "session_id", "biz_extra_data"])
        c = c.merge(s, on=["source", "session_id"])         # sources share session ids: join on both
        app = c[(c["comparison"] == "faceid") & c["biz_extra_data"].fillna("").str.contains("channel=app")]
        assert set(app["source"]) == set(MEGVII) and len(app) > 50
        assert (app["confidence"] < app["thr_1e4"]).all()
    elif check == "attack":
        g = load(tmp_path / "d", "genuineness")
        mask = g[g["attack"] == "mask"]
        assert set(mask["source"]) == set(MEGVII) and len(mask) > 100 and mask["flagged"].all()
        assert not g.loc[g["attack"] != "mask", "flagged"].all()
    elif check == "thresholds":
        c = load(tmp_path / "d", "comparisons")
        ref1 = c[c["comparison"] == "ref1"]
        lite = ref1["source"] == "megvii_lite"
        assert lite.sum() > 10 and (~lite).sum() > 10
        assert (ref1.loc[lite, ["thr_1e3", "thr_1e4", "thr_1e5", "thr_1e6"]].to_numpy() == [64.0, 70.5, 75.5, 79.0]).all()
        assert not (ref1.loc[~lite, "thr_1e4"] == 70.5).any()       # the other sources keep theirs
    else:
        s = load(tmp_path / "d", "sessions")
        lite = s[(s["source"] == "megvii_lite") & s["status"].isin(["OK", "FAILED", "CANCELLED", "TIMEOUT"])]
        assert len(lite) > 100
        assert (lite["verify_error"].notna() | lite["error_message"].notna()).all()
        assert (lite["verify_error"] == "NO_SUCH_ID_NUMBER").mean() > 0.8
