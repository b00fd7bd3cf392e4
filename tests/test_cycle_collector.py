"""The Python path pauses the cycle collector while it flattens a chunk, and puts it back."""
import gc
import threading

import pytest

from faceanalytics.flatten import baidu
from faceanalytics.pipeline import ingest as ingest_mod
from faceanalytics.pipeline._rows import no_cycle_collection
from faceanalytics.storage.tables import load

from _helpers import LITE_ID, envelope, seed, write_jsonl


@pytest.fixture
def collector_on():
    was = gc.isenabled()
    gc.enable()
    yield
    (gc.enable if was else gc.disable)()


def test_the_collector_is_resumed_only_by_the_last_holder(collector_on):
    entered, leave = threading.Event(), threading.Event()

    def hold():
        with no_cycle_collection():
            entered.set()
            leave.wait(10)

    t = threading.Thread(target=hold)
    t.start()
    entered.wait(10)
    with no_cycle_collection():
        assert not gc.isenabled()
    assert not gc.isenabled()        # the other thread still flattens
    leave.set()
    t.join(10)
    assert gc.isenabled()


def test_a_collector_the_user_paused_stays_paused(collector_on):
    gc.disable()
    with no_cycle_collection():
        pass
    assert not gc.isenabled()


def test_python_path_flattens_with_the_collector_paused_and_resumes_it(tmp_path, collector_on, monkeypatch):
    seen = []
    real = baidu.flatten_stat

    def spy(payload, ctx, flat):
        seen.append(gc.isenabled())
        if ctx.session_id == "tokBug":
            raise RuntimeError("a flattener bug")
        real(payload, ctx, flat)

    monkeypatch.setitem(ingest_mod.flatten_payload.__globals__["FLATTENERS"], "baidu_stat", spy)
    f = write_jsonl(tmp_path / "in.jsonl", [
        envelope("baidu_stat", "tokA", seed("baidu_stat.json")),
        envelope("baidu_stat", "tokBug", seed("baidu_stat.json")),
        envelope("megvii_lite", LITE_ID, seed("megvii_lite_success.json")),
    ])
    rep = ingest_mod.ingest([f], tmp_path / "data", fast=False)
    assert seen == [False, False]
    assert gc.isenabled()
    assert (rep.read, rep.landed, rep.quarantined) == (3, 2, 1)
    assert set(load(tmp_path / "data", "error_counts")["session_id"]) == {"tokA"}


def test_a_chunks_records_are_freed_before_the_collector_resumes(tmp_path, collector_on, monkeypatch):
    """Every Flat of a chunk is gone when the collector resumes: one still referenced (by
    a bound ``append`` of their list, say) would be walked by the collections the next
    allocations start: +5 us a record (a sixth) on Baidu stat records, measured."""
    import contextlib
    import weakref

    from faceanalytics.flatten import Flat

    class _Watched(Flat):
        __slots__ = ("__weakref__",)

    refs, alive_at_resume = [], []
    real_flatten = ingest_mod.flatten_payload
    real_paused = ingest_mod.no_cycle_collection

    def flatten(source, payload, ctx):
        flat = real_flatten(source, payload, ctx)
        watched = _Watched()
        for name in Flat.__slots__:
            setattr(watched, name, getattr(flat, name))
        refs.append(weakref.ref(watched))
        return watched

    @contextlib.contextmanager
    def paused():
        with real_paused():
            yield
            alive_at_resume.append(sum(r() is not None for r in refs))

    monkeypatch.setattr(ingest_mod, "flatten_payload", flatten)
    monkeypatch.setattr(ingest_mod, "no_cycle_collection", paused)
    f = write_jsonl(tmp_path / "in.jsonl", [envelope("baidu_stat", f"tok{i}", seed("baidu_stat.json"))
                                            for i in range(5)])
    rep = ingest_mod.ingest([f], tmp_path / "data", fast=False)
    assert rep.landed == 5 and len(refs) == 5
    assert alive_at_resume == [0]
