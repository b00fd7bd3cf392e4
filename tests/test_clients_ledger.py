"""QuotaLedger: durable before the call, conservative after a crash, safe across threads and processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from datetime import datetime
from pathlib import Path

import pytest

from faceanalytics.clients import MegviiClient, MegviiInternalError, QuotaExhausted, QuotaLedger, RetryPolicy
from faceanalytics.clients.testing import RecordedRequest, Reply, ScriptedServer

from _helpers import in_threads  # noqa: E402

BIZ = "1462259748,52b13fb5-8dfb-4537-a62b-a641d5e929f1"
ROOT = Path(__file__).resolve().parents[1]


def test_reserve_counts_and_refuses_past_the_limit(tmp_path):
    ledger = QuotaLedger(tmp_path / "quota" / "megvii.log", limit=3)
    assert ledger.provider == "megvii" and ledger.calls(BIZ) == 0
    for n in (1, 2, 3):
        ledger.reserve(BIZ)
        assert ledger.calls(BIZ) == n
    assert ledger.remaining(BIZ) == 0
    with pytest.raises(QuotaExhausted) as info:
        ledger.reserve(BIZ)
    exc = info.value
    assert (exc.key, exc.calls, exc.limit, exc.path) == (BIZ, 3, 3, str(ledger.path))
    assert exc.hint and "3 of 3" in str(exc)
    assert ledger.calls(BIZ) == 3  # a refusal is not a call
    assert ledger.calls("other") == 0


def test_file_is_human_readable(tmp_path):
    ledger = QuotaLedger(tmp_path / "megvii.log")
    ledger.reserve(BIZ)
    ledger.record(BIZ, "400 RESULT_NOT_FOUND")
    header, call, note = ledger.path.read_text(encoding="utf-8").splitlines()
    assert header.startswith("#")
    when, provider, key, event = call.split("\t")
    assert datetime.fromisoformat(when).tzinfo is not None
    assert (provider, key, event) == ("megvii", BIZ, "call 1/3")
    assert note.split("\t")[1:] == ["megvii", BIZ, "result 400 RESULT_NOT_FOUND"]


def test_survives_reopen(tmp_path):
    path = tmp_path / "megvii.log"
    first = QuotaLedger(path)
    first.reserve("a")
    first.reserve("a")
    first.record("a", "200")
    first.reserve("b")
    first.close()
    again = QuotaLedger(path)
    assert (again.calls("a"), again.calls("b"), again.calls("c")) == (2, 1, 0)
    again.reserve("a")
    with pytest.raises(QuotaExhausted):
        again.reserve("a")


def test_torn_last_line_with_a_whole_key_counts_as_a_call(tmp_path):
    path = tmp_path / "megvii.log"
    ledger = QuotaLedger(path)
    ledger.reserve(BIZ)
    ledger.close()
    with open(path, "ab") as f:  # what kill -9 / power loss mid-write could leave
        f.write(f"2024-05-03T08:12:09.114+00:00\tmegvii\t{BIZ}\tca".encode())
    reopened = QuotaLedger(path)
    assert reopened.calls(BIZ) == 2
    reopened.reserve(BIZ)  # the next line starts on a line of its own
    with pytest.raises(QuotaExhausted):
        reopened.reserve(BIZ)
    lines = path.read_text().splitlines()
    assert lines[-2].endswith("\tca") and lines[-1].endswith("\tcall 3/3")
    assert QuotaLedger(path).calls(BIZ) == 3


def test_torn_line_inside_the_key_charges_every_key_it_could_start(tmp_path):
    path = tmp_path / "megvii.log"
    QuotaLedger(path).close()
    with open(path, "ab") as f:
        f.write(b"2024-05-03T08:12:09.114+00:00\tmegvii\t1462259748,52b1")
    ledger = QuotaLedger(path)
    assert ledger.calls(BIZ) == 1  # could have been this one
    assert ledger.calls("1462259748,52b2") == 0  # cannot have been this one
    with open(path, "ab") as f:  # cut before the key: could have been any key
        f.write(b"2024-05-03T08:1")
    assert ledger.calls("anything") == 1 and ledger.calls(BIZ) == 2


def test_a_torn_note_still_counts_but_a_whole_note_does_not(tmp_path):
    path = tmp_path / "megvii.log"
    ledger = QuotaLedger(path)
    ledger.reserve("k")
    ledger.record("k", "200")
    assert ledger.calls("k") == 1
    with open(path, "ab") as f:
        f.write(b"2024-05-03T08:12:09.114+00:00\tmegvii\tk\tresu")
    assert QuotaLedger(path).calls("k") == 2  # conservative: a cut line is a call


def test_keys_with_commas_tabs_and_newlines_round_trip(tmp_path):
    path = tmp_path / "m.log"
    keys = [BIZ, "https://x/will?a=1,b=2", "tab\there", "new\nline", "back\\slash\\t"]
    ledger = QuotaLedger(path)
    for key in keys:
        ledger.reserve(key)
    reopened = QuotaLedger(path)
    assert [reopened.calls(k) for k in keys] == [1] * len(keys)
    assert reopened.calls("tab") == 0 and reopened.calls("back\\slash\t") == 0
    assert len(path.read_text().splitlines()) == 1 + len(keys)


def test_invalid_keys_are_refused(tmp_path):
    ledger = QuotaLedger(tmp_path / "m.log")
    with pytest.raises(ValueError):
        ledger.reserve("")


def test_eight_threads_on_one_key_get_exactly_the_limit(tmp_path):
    ledger = QuotaLedger(tmp_path / "m.log", limit=3)
    granted, refused = [], []
    barrier = threading.Barrier(8)

    def work():
        barrier.wait()
        for _ in range(5):
            try:
                ledger.reserve(BIZ)
                granted.append(1)
            except QuotaExhausted:
                refused.append(1)

    in_threads(lambda _: work())
    assert len(granted) == 3 and len(refused) == 37
    assert QuotaLedger(ledger.path).calls(BIZ) == 3


def test_eight_threads_thousands_of_ids_is_fast(tmp_path):
    ledger = QuotaLedger(tmp_path / "m.log", limit=3)
    per_thread = 300

    def work(t):
        for n in range(per_thread):
            key = f"1462259748,{t}-{n}"
            ledger.reserve(key)
            ledger.record(key, "200")

    started = time.perf_counter()
    in_threads(work)
    elapsed = time.perf_counter() - started
    reopened = QuotaLedger(ledger.path)
    assert all(reopened.calls(f"1462259748,{t}-{n}") == 1 for t in range(8) for n in range(per_thread))
    assert elapsed < 10, f"2400 durable reservations took {elapsed:.1f}s"


def test_fsyncs_are_batched_across_threads(tmp_path, monkeypatch):
    ledger = QuotaLedger(tmp_path / "m.log", limit=3)
    real_fsync, count = os.fsync, [0]

    def slow_fsync(fd):
        count[0] += 1
        time.sleep(0.005)  # a slow disk: other threads queue up behind this fsync
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", slow_fsync)
    in_threads(lambda t: [ledger.reserve(f"{t}-{n}") for n in range(20)])
    assert count[0] < 160  # fewer fsyncs than reservations, yet every reserve returned after one


def test_two_ledgers_on_one_file_share_counts(tmp_path):
    path = tmp_path / "m.log"
    a, b = QuotaLedger(path), QuotaLedger(path)  # e.g. two fetch processes
    a.reserve(BIZ)
    b.reserve(BIZ)
    assert a.calls(BIZ) == 2 and b.calls(BIZ) == 2
    a.reserve(BIZ)
    with pytest.raises(QuotaExhausted):
        b.reserve(BIZ)


def _python(code: str, **kw) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], env=env, stdout=subprocess.PIPE, text=True, **kw)


def test_processes_racing_on_one_key_get_exactly_the_limit(tmp_path):
    path = tmp_path / "m.log"
    code = f"""
        from faceanalytics.clients import QuotaLedger, QuotaExhausted
        ledger = QuotaLedger({str(path)!r}, limit=3)
        granted = 0
        for _ in range(5):
            try:
                ledger.reserve({BIZ!r}); granted += 1
            except QuotaExhausted:
                pass
        print(granted)
    """
    procs = [_python(code) for _ in range(4)]
    granted = sum(int(p.communicate(timeout=20)[0]) for p in procs)
    assert granted == 3
    assert QuotaLedger(path).calls(BIZ) == 3


def test_kill_minus_9_never_loses_a_call_that_was_sent(tmp_path):
    path = tmp_path / "m.log"
    code = f"""
        import sys
        from faceanalytics.clients import QuotaLedger
        ledger = QuotaLedger({str(path)!r}, limit=3)
        n = 0
        while True:
            ledger.reserve(f"id-{{n}}")
            print(f"id-{{n}}", flush=True)  # "sent": only after reserve returned
            n += 1
    """
    proc = _python(code)
    sent = []
    deadline = time.monotonic() + 10
    while len(sent) < 50 and time.monotonic() < deadline:
        sent.append(proc.stdout.readline().strip())
    os.kill(proc.pid, signal.SIGKILL)
    sent += proc.stdout.read().split()
    proc.wait()
    ledger = QuotaLedger(path)
    assert len(sent) >= 50
    assert all(ledger.calls(key) >= 1 for key in sent)


def test_the_call_is_on_disk_before_the_request_arrives(tmp_path):
    path = tmp_path / "megvii.log"
    ledger = QuotaLedger(path, limit=3)
    seen_on_disk = []

    def check(request: RecordedRequest) -> Reply:
        on_disk = QuotaLedger(path, limit=3).calls(request.query["biz_id"])
        seen_on_disk.append(on_disk)
        return Reply(500, {"error_message": "INTERNAL_ERROR", "request_id": "r"})

    with ScriptedServer() as server:
        server.script("/faceid/lite/get_result", check)
        client = MegviiClient("ledger-key-1234", "ledger-secret-5678", base_url=server.url, ledger=ledger,
                              retry=RetryPolicy(max_attempts=3, sleep=lambda s: None))  # fmt: skip
        with pytest.raises(MegviiInternalError):
            client.get_lite_result(BIZ)
    assert seen_on_disk == [1, 2, 3]


# -- calls that never left (issue 13, item 3) ------------------------------------------------


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unsent_note_cancels_its_call_and_survives_reopen(tmp_path):
    path = tmp_path / "megvii.log"
    ledger = QuotaLedger(path, limit=3)
    for _ in range(3):
        ledger.reserve(BIZ)
        ledger.record(BIZ, "unsent NOT_CONNECTED")
    ledger.reserve(BIZ)
    assert ledger.calls(BIZ) == 1 and ledger.total() == 1
    assert QuotaLedger(path).calls(BIZ) == 1
    events = [ln.split("\t")[3] for ln in path.read_text().splitlines()[1:]]
    assert events[:2] == ["call 1/3", "unsent NOT_CONNECTED"]


def test_a_torn_unsent_note_cancels_nothing(tmp_path):
    path = tmp_path / "megvii.log"
    ledger = QuotaLedger(path)
    ledger.reserve(BIZ)
    ledger.close()
    with open(path, "ab") as f:
        f.write(f"2024-05-03T08:12:09.114+00:00\tmegvii\t{BIZ}\tuns".encode())  # cut by a crash
    assert QuotaLedger(path).calls(BIZ) == 2  # conservative: both count


def test_connection_refused_is_written_down_then_marked_not_sent(tmp_path):
    seen = []

    class Spy(QuotaLedger):
        def reserve(self, key):
            super().reserve(key)
            seen.append(self.path.read_text().count("\tcall "))  # on disk before the send

    ledger = Spy(tmp_path / "megvii.log", limit=3)
    client = MegviiClient("k-123456", "s-123456", base_url=f"http://127.0.0.1:{_free_port()}",
                          retry=RetryPolicy(max_attempts=3, sleep=lambda s: None), ledger=ledger)
    for _ in range(2):
        with pytest.raises(Exception) as info:
            client.get_lite_result(BIZ)
        assert info.value.sent is False and info.value.code == "NOT_CONNECTED"
    assert seen == [1, 2, 3, 4, 5, 6]            # each attempt recorded before it left
    assert ledger.calls(BIZ) == 0 and ledger.total() == 0
    assert ledger.path.read_text().count("\tunsent ") == 6


def test_a_tls_handshake_failure_is_not_a_call(tmp_path):
    with ScriptedServer() as server:                      # plain HTTP: the TLS handshake fails
        ledger = QuotaLedger(tmp_path / "megvii.log", limit=3)
        client = MegviiClient("k-123456", "s-123456", base_url=server.url.replace("http:", "https:"),
                              retry=RetryPolicy(max_attempts=2, sleep=lambda s: None), ledger=ledger)
        with pytest.raises(Exception) as info:
            client.get_lite_result(BIZ)
        assert info.value.sent is False
        assert ledger.calls(BIZ) == 0
        assert not server.requests                        # nothing reached the handler


def test_a_connection_dropped_after_the_request_still_counts(tmp_path):
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    port = listener.getsockname()[1]

    def serve():
        for _ in range(2):
            conn, _ = listener.accept()
            conn.recv(65536)                                # the request arrived ...
            conn.close()                                    # ... and no answer came back

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    ledger = QuotaLedger(tmp_path / "megvii.log", limit=3)
    client = MegviiClient("k-123456", "s-123456", base_url=f"http://127.0.0.1:{port}",
                          retry=RetryPolicy(max_attempts=2, sleep=lambda s: None), ledger=ledger)
    with pytest.raises(Exception) as info:
        client.get_lite_result(BIZ)
    t.join(5)
    listener.close()
    assert info.value.sent is True
    assert ledger.calls(BIZ) == 2                           # it may have reached the provider
