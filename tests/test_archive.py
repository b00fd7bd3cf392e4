"""The raw archive (``faceanalytics.storage.archive``): segments keep every line byte for byte,
once; journals hold each line on disk as it is appended."""
from __future__ import annotations

import os
import stat
import subprocess
import sys
import time

import pyarrow as pa
import pytest

from faceanalytics.storage.archive import RawArchive, read_meta, read_segment

from _helpers import in_threads

# Lines as they come: JSON with Chinese text, bytes that are not UTF-8, a CR, an empty line,
# a line that is not JSON at all.
LINES = [
    '{"source": "megvii_lite", "payload": {"name": "张三", "x": 1.50}}'.encode(),
    b'\xff\xfe not utf-8 \x00',
    b'{"a": 1}\r',
    b'',
    b'not json',
]


def test_segment_round_trip_keeps_every_line_and_the_meta(tmp_path):
    archive = RawArchive(tmp_path / "data")
    path, meta = archive.write_segment(LINES, source_hint="megvii_lite", origin="in.jsonl",
                                       received_at="2026-11-20T10:00:00Z")
    seg = read_segment(path)
    assert seg.lines == LINES
    assert seg.meta == meta == {"source_hint": "megvii_lite", "received_at": "2026-11-20T10:00:00Z",
                                "origin": "in.jsonl", "lines": len(LINES)}
    assert read_meta(path) == meta
    # one standard zstd frame whose first line says how to read the rest (as `zstd -dc` shows it)
    with pa.input_stream(str(path), compression="zstd") as f:
        first, rest = f.read().split(b"\n", 1)
    assert b'"_segment"' in first and rest == b"\n".join(LINES) + b"\n"
    assert [p.name for p in archive.segments()] == [path.name]
    assert [s.lines for s in RawArchive(tmp_path / "data").iter_segments()] == [LINES]


def test_segments_are_owner_only(tmp_path):
    path, _ = RawArchive(tmp_path / "data").write_segment(LINES)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    for folder in (path.parent, tmp_path / "data" / "raw"):
        assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700


def test_the_same_lines_are_archived_once(tmp_path):
    first, meta = RawArchive(tmp_path / "data").write_segment(LINES, received_at="2026-11-20T10:00:00Z")
    # a later run (a new archive object, so nothing cached) writes nothing and keeps the first meta
    again, meta2 = RawArchive(tmp_path / "data").write_segment(LINES, received_at="2026-12-01T00:00:00Z")
    assert again == first and meta2 == meta
    # the same lines read with another --source are another segment
    other, _ = RawArchive(tmp_path / "data").write_segment(LINES, source_hint="megvii_liveness")
    assert other != first
    assert len(RawArchive(tmp_path / "data").segments()) == 2


def test_a_damaged_segment_is_reported_not_skipped(tmp_path):
    path, _ = RawArchive(tmp_path / "data").write_segment(LINES)
    path.write_bytes(path.read_bytes()[:20])
    with pytest.raises(RuntimeError, match="damaged"):
        read_segment(path)


def test_journal_lines_survive_a_killed_writer(tmp_path):
    """A process killed right after append() has its lines in the journal, whole (no buffer)."""
    code = (
        "import os, sys\n"
        "from faceanalytics.storage.archive import RawArchive\n"
        "j = RawArchive(sys.argv[1]).journal('fetch-1')\n"
        "j.append(b'{\"n\": 1}')\n"
        "j.append(b'{\"n\": 2}')\n"
        "os._exit(9)\n"  # no close, no flush of anything else
    )
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "data")], capture_output=True,
                         timeout=60)
    assert out.returncode == 9, out.stderr
    pending = RawArchive(tmp_path / "data").pending_journals()
    assert [p.name for p in pending] == ["fetch-1.jsonl"]
    assert pending[0].read_bytes() == b'{"n": 1}\n{"n": 2}\n'
    assert stat.S_IMODE(os.stat(pending[0]).st_mode) == 0o600


def test_journal_lines_are_on_disk_before_append_returns_under_concurrency(tmp_path, monkeypatch):
    from faceanalytics.storage import durable

    journal = RawArchive(tmp_path / "data").journal("j")
    syncs, real_fsync = [], os.fsync

    def fsync(fd):
        syncs.append(journal._written)  # lines written when this fsync starts
        time.sleep(0.001)             # a slow disk, so threads pile up behind it
        real_fsync(fd)

    monkeypatch.setattr(durable.os, "fsync", fsync)  # the journal is an AppendLog
    late = []

    def work(t):
        for i in range(50):
            line = f'{{"t": {t}, "i": {i}}}'.encode()
            journal.append(line)
            k = journal.path.read_bytes().split(b"\n").index(line) + 1
            if not any(s >= k for s in syncs):
                late.append(line)

    in_threads(work)
    journal.close()
    lines = journal.path.read_bytes().split(b"\n")
    assert lines[-1] == b"" and len(lines) == 401 and len(set(lines)) == 401
    assert late == []                 # every append returned after an fsync that covered it
    assert len(syncs) < 400           # ... and fsyncs were shared between threads
