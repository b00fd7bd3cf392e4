"""Hostile and careless input, round 6: a journal a crash left behind is recovered in bounded
pieces; an id file's refused lines are shown masked; a fetch that fails midway makes no more
calls; no room to write is said so; decrypt-media copies in pieces; a line a full disk cut short
is cut off its journal or ledger; a writer waiting for the data directory says so; a ledger of
unreadable lines is named."""
from __future__ import annotations

import json

import pytest

from faceanalytics.pipeline import _journal
from faceanalytics.pipeline._journal import recover_journals
from faceanalytics.pipeline.ingest import Ingestor
from faceanalytics.storage.archive import RawArchive, read_segment
from faceanalytics.storage.tables import load

from _helpers import lite_session, traced_peak


# ---------------------------------------------------------------------------- 1. journal recovery

def _lite_lines(n: int, tag: str = "journal") -> list[bytes]:
    return [json.dumps(lite_session(i, tag)).encode() for i in range(n)]


def _leave_journal(data, body: bytes, name: str = "receive-crashed-00001"):
    """A journal as a killed run leaves it (written whole here: appending line by line fsyncs each)."""
    archive = RawArchive(data)
    archive.journal(name).close()            # the folder and file, owner-only, as a run makes them
    path = archive.ddir.journal / f"{name}.jsonl"
    path.write_bytes(body)
    return path


def _whole_lines(body: bytes) -> list[bytes]:
    """What the journal holds whole: its lines up to the last newline, blank ones left out."""
    return [ln for ln in body.rpartition(b"\n")[0].split(b"\n") if ln]


def test_a_large_journal_is_sealed_a_piece_at_a_time(tmp_path):
    """Sealing read the journal whole and split it (a 400 MB journal: 3 GB peak on recovery):
    now it is hashed and compressed as it is read, and the segment holds the same lines."""
    data = tmp_path / "d"
    line = b'{"source": "megvii_notify", "payload": "' + b"x" * 1000 + b'"}'
    body = b"\n\n" + b"\n".join([line] * 24_000) + b"\n\n\n" + line + b"\n" + b'{"cut sh'
    path = _leave_journal(data, body)
    archive = RawArchive(data)
    _, peak = traced_peak(_journal._seal, archive, path)
    assert len(body) > 24_000_000 and peak < 8 << 20, peak     # pieces of 1 MiB, not the 24 MB journal
    (seg,) = archive.segments()
    got = read_segment(seg)
    assert got.lines == _whole_lines(body) and got.meta["lines"] == 24_001
    assert got.meta["origin"] == "fetch:receive-crashed-00001" and not path.exists()
    # the same lines written whole (write_segment) are the same segment: nothing new
    assert archive.write_segment(_whole_lines(body), origin="x")[0] == seg


def test_recovery_lands_a_journal_in_blocks_and_archives_it_whole(tmp_path, monkeypatch):
    """Recovery read the journal whole into one list and landed it in one go; it goes through
    ingest's bounded line reader now: blocks of ``chunk`` lines, a line over ``MAX_LINE``
    quarantined by its length and first bytes, while the archive keeps every whole line."""
    data = tmp_path / "d"
    lines = _lite_lines(120)
    huge = b'{"source": "megvii_lite", "session_id": "1700000000,huge", "payload": {"x": "' + b"y" * (17 << 20) + b'"}}'
    body = b"\n".join(lines[:60] + [b"", huge] + lines[60:]) + b"\n" + lines[0][:40]
    path = _leave_journal(data, body)
    sizes = []
    land = Ingestor.land

    def counted(self, lines, **kw):
        sizes.append(len(lines))
        return land(self, lines, **kw)

    monkeypatch.setattr(Ingestor, "land", counted)
    with Ingestor(data) as ing:
        rep = recover_journals(ing, chunk=50)
        assert (rep.landed, rep.quarantined) == (120, 1)
        assert max(sizes) <= 50 and sum(sizes) == 121
        assert not path.exists()
        (seg,) = ing.archive.segments()
        assert read_segment(seg).lines == _whole_lines(body)     # the 17 MB line too, byte for byte
        assert recover_journals(ing).read == 0                   # nothing left: nothing again
    q = load(data, "quarantine")
    assert "only its first bytes were kept" in q["reason"].iloc[0] and q["origin"].iloc[0].endswith(":62")
    s = load(data, "sessions")
    assert len(s) == 120 and s.session_id.is_unique


def test_recovery_killed_before_sealing_lands_nothing_twice(tmp_path, monkeypatch):
    """Killed after landing a journal but before sealing it: the next run lands it again as
    rows that add nothing, and seals it once."""
    data = tmp_path / "d"
    body = b"\n".join(_lite_lines(30)) + b"\n"
    path = _leave_journal(data, body)

    def killed(*a, **kw):
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(_journal, "_seal", killed)
        with Ingestor(data) as ing, pytest.raises(KeyboardInterrupt):
            recover_journals(ing)
    assert path.exists() and len(load(data, "sessions")) == 30
    with Ingestor(data) as ing:
        rep = recover_journals(ing)
        assert (rep.landed, rep.skipped) == (0, 30)
        assert len(ing.archive.segments()) == 1 and not path.exists()
    assert len(load(data, "sessions")) == 30


# ---------------------------------------------------------------------------- 2. id files

def test_refused_lines_of_an_id_file_are_shown_with_their_personal_data_masked(tmp_path, monkeypatch, capsys):
    """A CSV of sessions given as ``--ids`` without a header (or a column of ID numbers) was
    echoed line by line to the terminal, ID and phone numbers in full: now masked as the tables
    mask them.  Nothing is sent either way."""
    from faceanalytics.cli import main

    for k, v in {"MEGVII_API_KEY": "k", "MEGVII_API_SECRET": "s", "MEGVII_BASE_URL": "http://127.0.0.1:9"}.items():
        monkeypatch.setenv(k, v)
    ids = tmp_path / "ids.csv"
    ids.write_text("1462259748,abc,张三,110101199003077777,13812345678\n110101199003077777\n"
                   "a name,11010519491231002X\n", encoding="utf-8")
    assert main(["fetch", "megvii-lite", "--ids", str(ids), "--data", str(tmp_path / "d"), "-q"]) == 2
    err = capsys.readouterr().err
    assert "line 1" in err and "line 3" in err and "7777" in err                  # still says which lines
    for number in ("110101199003077777", "11010519491231002X", "13812345678"):
        assert number not in err
    assert main(["fetch", "megvii-lite", "--ids", str(ids), "--column", "biz_id", "--data", str(tmp_path / "d"),
                 "-q"]) == 2
    err = capsys.readouterr().err
    assert "no column 'biz_id'" in err and "110101199003077777" not in err and "13812345678" not in err


# ---------------------------------------------------------------------------- 3. a full disk mid-fetch

def test_a_fetch_that_fails_midway_makes_no_more_calls(tmp_path, monkeypatch):
    """The disk full as answers were journaled: the fetch failed, but leaving its worker pool
    waited for the 64 calls queued ahead, each made (a call spent) and each answer lost with
    the disk full.  Now only the calls already in flight finish."""
    import errno

    from faceanalytics.pipeline.fetch import fetch_megvii
    from faceanalytics.pipeline._journal import Journals
    from faceanalytics.sandbox import Sandbox

    append = Journals.append
    n = {"appended": 0}

    def full(self, line):
        if n["appended"] >= 10:
            raise OSError(errno.ENOSPC, "No space left on device")
        n["appended"] += 1
        return append(self, line)

    monkeypatch.setattr(Journals, "append", full)
    with Sandbox(seed=3, n_lite=150, n_liveness=0, n_baidu=0, latency_ms=20) as sb:
        for k, v in sb.env().items():
            monkeypatch.setenv(k, v)
        ids = sb.ids("megvii-lite")
        with pytest.raises(OSError, match="No space left"):
            fetch_megvii(ids, tmp_path / "d", base_url=sb.url, progress=False, concurrency=2)
        calls = sum(sb.calls(b) for b in ids)
        assert 10 < calls <= 10 + 2 + 1, calls       # the journaled ten, the failed one and one in flight
        monkeypatch.setattr(Journals, "append", append)      # space again: the rerun completes
        rep = fetch_megvii(ids, tmp_path / "d", base_url=sb.url, progress=False, concurrency=2)
        s = load(tmp_path / "d", "sessions")
        assert sorted(s.session_id) == sorted(ids) and rep.calls == len(ids) - 10


def test_ingest_with_no_room_left_says_so_and_the_rerun_lands_everything_once(tmp_path):
    """A file size limit (as a full disk) mid-ingest: one line saying what is kept and to run
    again (it was the bare OS error), nothing half-written used; the rerun lands every record once."""
    import resource
    import subprocess
    import sys

    from _helpers import write_jsonl

    src = write_jsonl(tmp_path / "in.jsonl", [lite_session(i, "full") for i in range(2500)])
    cmd = [sys.executable, "-m", "faceanalytics", "ingest", str(src), "--data", str(tmp_path / "d"), "-q",
           "--chunk-size", "500"]

    def small_files():
        resource.setrlimit(resource.RLIMIT_FSIZE, (14_000, resource.RLIM_INFINITY))

    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300, preexec_fn=small_files)
    assert r.returncode == 1 and r.stderr.count("\n") == 1, r.stderr
    assert "File too large" in r.stderr and "run the same command again" in r.stderr
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    s = load(tmp_path / "d", "sessions")
    assert len(s) == 2500 and s.session_id.is_unique
    assert not [p for p in (tmp_path / "d").rglob(".tmp-*")]


# ---------------------------------------------------------------------------- 4. decrypt-media

@pytest.mark.parametrize("size", [1000, 1024, 8 << 20])
def test_decrypt_media_copies_all_but_the_first_block_a_piece_at_a_time(tmp_path, monkeypatch, capsys, size):
    """Only a will file's first 1,024 bytes are encrypted; the file was read whole, decrypted
    and joined (three times its size: 1.6 GB for 512 MiB).  Now the rest is copied in pieces;
    what comes out is the same, a file of exactly one block loses its padding, a short one is
    refused and OUT not written."""
    from faceanalytics.cli import main
    from faceanalytics.crypto import encrypt_will_file

    secret = "0123456789abcdef0123456789abcdef"
    monkeypatch.setenv("MEGVII_API_SECRET", secret)
    plain = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * (size // 256 + 1)
    plain = plain[:size] if size != 1024 else plain[:1000]
    blob = encrypt_will_file(plain, secret)[:size] if size == 1000 else encrypt_will_file(plain, secret)
    src, out = tmp_path / "in.bin", tmp_path / "out.mp4"
    src.write_bytes(blob)
    del blob
    rc, peak = traced_peak(main, ["decrypt-media", str(src), str(out), "-q"])
    if size == 1000:
        assert rc == 2 and "at least 1024 bytes; this one has 1000" in capsys.readouterr().err
        assert not out.exists()
        return
    assert rc == 0 and out.read_bytes() == plain
    assert peak < 4 << 20, peak                       # a piece at a time, not the 8 MiB file


# ---------------------------------------------------------------------------- 5. a line cut short by a full disk

def _disk_full_once(monkeypatch):
    """``os.write`` in storage.durable: the next write goes half through, then the disk is full."""
    import errno

    from faceanalytics.storage import durable

    write = durable.os.write
    state = {"armed": True, "half": False}

    def full(fd, data):
        if state["armed"] and not state["half"]:
            state["half"] = True
            return write(fd, bytes(data[:len(data) // 2]))
        if state["armed"]:
            state["armed"] = False
            raise OSError(errno.ENOSPC, "No space left on device")
        return write(fd, data)

    monkeypatch.setattr(durable.os, "write", full)


def test_a_journal_line_cut_short_by_a_full_disk_does_not_swallow_the_next(tmp_path, monkeypatch):
    """``receive`` answers 500 to a callback it could not journal (the disk full mid-line) and
    goes on; the half line stayed, and the next callback, answered 200 once there was room,
    was glued to it: a line nothing could read, quarantined, the callback lost from the tables."""
    journal = RawArchive(tmp_path / "d").journal("receive-x")
    first, second = b'{"n": 1, "pad": "' + b"a" * 4000 + b'"}', b'{"n": 2}'
    _disk_full_once(monkeypatch)
    with pytest.raises(OSError, match="No space"):
        journal.append(first)
    journal.append(second)                       # room again
    journal.close()
    assert journal.path.read_bytes() == second + b"\n"


def test_a_ledger_line_cut_short_by_a_full_disk_does_not_hide_the_next_call(tmp_path, monkeypatch):
    """The quota ledger's half line (a call refused, never sent) had the next call's line glued
    to it, read back as a note on the first key: the second key's call was not counted, and a
    biz_id could be asked a fourth time."""
    from faceanalytics.clients import QuotaLedger

    path = tmp_path / "megvii.log"
    ledger = QuotaLedger(path, limit=3, provider="megvii")
    _disk_full_once(monkeypatch)
    with pytest.raises(OSError, match="No space"):
        ledger.reserve("1700000000,first-" + "x" * 100)
    ledger.reserve("1700000000,second")
    ledger.close()
    again = QuotaLedger(path, limit=3, provider="megvii")
    assert again.calls("1700000000,second") == 1
    assert again.calls("1700000000,first-" + "x" * 100) == 0       # refused before any send
    again.close()


# ---------------------------------------------------------------------------- 6. two writers at once

def test_a_writer_waiting_for_the_data_directory_says_so(tmp_path, caplog):
    """``ingest`` into the folder a running ``receive`` holds waited without a word, as if hung
    (a receiver holds it for as long as it runs).  Now it says who holds it, then waits."""
    import os
    import threading

    from faceanalytics.storage.lock import WriterLock

    holder = WriterLock(tmp_path / "d").__enter__()
    got = threading.Event()

    def second():
        with WriterLock(tmp_path / "d"):
            got.set()

    with caplog.at_level("WARNING", logger="faceanalytics.lock"):
        t = threading.Thread(target=second)
        t.start()
        for _ in range(200):
            if caplog.records:
                break
            threading.Event().wait(0.01)
        assert not got.is_set()                                  # still waiting
        holder.__exit__(None, None, None)
        t.join(10)
    assert got.is_set()
    (rec,) = caplog.records
    assert f"(pid {os.getpid()})" in rec.getMessage() and "waiting for it to finish" in rec.getMessage()


# ---------------------------------------------------------------------------- 7. a corrupt quota ledger

def test_a_ledger_of_unreadable_lines_says_why_every_id_is_out_of_quota(tmp_path, caplog):
    """Lines that are no ledger lines count, conservatively, as a call of every id: a ledger
    overwritten with other data refused every id as "out of quota", the file never named."""
    from faceanalytics.clients import QuotaExhausted, QuotaLedger

    path = tmp_path / "megvii.log"
    path.write_bytes(b"\x00\x01garbage\n" * 3 + b"\xff\xfe")
    with caplog.at_level("WARNING", logger="faceanalytics.clients"):
        ledger = QuotaLedger(path, limit=3, provider="megvii")
    assert ledger.calls("1700000000,any") == 4                 # still counted: no call is risked
    with pytest.raises(QuotaExhausted):
        ledger.reserve("1700000000,any")
    ledger.close()
    (rec,) = caplog.records
    assert str(path) in rec.getMessage() and "4 lines that are not ledger lines" in rec.getMessage()
    caplog.clear()
    with caplog.at_level("WARNING", logger="faceanalytics.clients"):
        QuotaLedger(tmp_path / "fine.log", limit=3).close()   # a sound ledger: nothing said
    assert not caplog.records


# ---------------------------------------------------------------------------- 8. receive: a landing that fails

def test_a_receiver_whose_landing_fails_goes_on_landing(tmp_path, monkeypatch, capsys):
    """A full disk as the receiver landed: the landing thread died, nothing landed again until
    the receiver stopped (months, for a service) and what arrived piled up in memory.  Now it
    says so once, keeps what arrived, and lands it when there is room again."""
    import errno
    import time

    import requests

    from faceanalytics.pipeline.receive import CallbackReceiver
    from test_callbacks_media import SECRET, sign, v2_data

    rec = CallbackReceiver(tmp_path, port=0, api_secret=SECRET, land_every=0.05)
    land = rec.ing.land
    failures = {"left": 3}

    def full(*a, **kw):
        if failures["left"]:
            failures["left"] -= 1
            raise OSError(errno.ENOSPC, "No space left on device")
        return land(*a, **kw)

    monkeypatch.setattr(rec.ing, "land", full)
    rec.start()
    try:
        for i in range(6):
            data = v2_data(f"1700000000,cb-full-{i}")
            assert requests.post(rec.url, json={"data": data, "sign": sign(data)}, timeout=5).ok
            time.sleep(0.03)
        deadline = time.monotonic() + 20
        while rec.counts["landed"] < 6 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert rec.counts["landed"] == 6 and rec.counts["land_failed"] == 3   # while running
        assert len(load(tmp_path, "sessions")) == 6
    finally:
        rec.stop()
    err = capsys.readouterr().err
    assert err.count("landing failed (OSError") == 1 and "tried again" in err
    assert len(load(tmp_path, "sessions")) == 6 and not list((tmp_path / "raw" / "journal").glob("*.jsonl"))


# ---------------------------------------------------------------------------- 9. download-media: a full disk mid-file

def test_a_download_cut_by_a_full_disk_leaves_no_part_file(tmp_path, monkeypatch):
    """The disk full while a will file streamed in: the run stopped and the part written stayed
    under ``media/`` (up to 256 MiB; only a killed run's temporaries are swept).  Now it goes;
    the next run downloads the file whole."""
    import errno

    from faceanalytics.clients import MegviiClient
    from faceanalytics.clients.testing import Reply, ScriptedServer
    from faceanalytics.pipeline.media import download_will_files
    from test_callbacks_media import SECRET, _media_data, _will_blob

    monkeypatch.setenv("MEGVII_API_KEY", "mk-123456")
    monkeypatch.setenv("MEGVII_API_SECRET", SECRET)
    real = MegviiClient.download_will_file

    def full(self, url, *, to=None, **kw):
        with open(to, "wb") as f:
            f.write(b"\x00" * 5000)
        raise OSError(errno.ENOSPC, "No space left on device")

    with ScriptedServer() as base:
        base.script("/will/ok.mp4", Reply(200, _will_blob()))
        data = _media_data(tmp_path, [f"{base.url}/will/ok.mp4"])
        monkeypatch.setattr(MegviiClient, "download_will_file", full)
        with pytest.raises(OSError, match="No space"):
            download_will_files(data, base_url=base.url)
        assert not list((data / "media").rglob(".tmp-*"))
        monkeypatch.setattr(MegviiClient, "download_will_file", real)
        assert download_will_files(data, base_url=base.url).downloaded == 1


# ---------------------------------------------------------------------------- 10. a killed writer's raw temporaries

def test_a_killed_writers_raw_segment_temporary_is_swept(tmp_path):
    """Killed while a segment was compressed (a sealed journal can take a while), the writer
    left ``raw/<day>/.tmp-*``, never swept (only media/ and tables.rebuild/ were), never used."""
    from faceanalytics.storage.lock import WriterLock

    data = tmp_path / "d"
    with Ingestor(data):
        pass
    day = data / "raw" / "2026-12-07"
    day.mkdir(parents=True)
    tmp = day / ".tmp-0123456789ab-101010000000-0123456789abcdef01234567.jsonl.zst"
    tmp.write_bytes(b"\x28\xb5\x2f\xfd" + b"\x00" * 1000)
    (data / "state" / "writer.lock").write_text("999999\n")      # a holder that never let go
    with WriterLock(data) as lock:
        assert lock.crashed
    assert not tmp.exists() and day.is_dir()
