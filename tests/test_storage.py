"""The local storage primitives (``faceanalytics.storage.durable`` and ``.lock``): a write is all or nothing, even when
the process dies in the middle of it; one writer at a time; a killed writer's leftovers are
swept by the next.  (The store built on them is in test_store.py; S3 in test_s3.py.)"""
from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from faceanalytics.storage import durable
from faceanalytics.storage.lock import writer_lock

OLD, NEW = b"old contents\n" * 100, b"new contents\n" * 5000


def _run(code: str, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True,
                          timeout=60)


def test_atomic_write_survives_a_crash_mid_write(tmp_path):
    """Killed after the new bytes are written but before they replace the file: the reader
    still sees the whole old file, and only a hidden temporary is left beside it."""
    target = tmp_path / "tables" / "part.parquet"
    target.parent.mkdir(parents=True)
    target.write_bytes(OLD)
    code = (
        "import os, sys\n"
        "from faceanalytics.storage import durable\nfrom faceanalytics.storage.lock import writer_lock\n"
        "os.fsync = lambda fd: os._exit(9)  # the power goes at the first fsync\n"
        f"durable.atomic_write_bytes(sys.argv[1], {NEW!r})\n"
    )
    out = _run(code, target)
    assert out.returncode == 9, out.stderr
    assert target.read_bytes() == OLD
    left = [p.name for p in target.parent.iterdir() if p != target]
    assert len(left) == 1 and left[0].startswith(".tmp-")   # hidden: readers skip it
    # the next write goes through whole
    durable.atomic_write_bytes(target, NEW)
    assert target.read_bytes() == NEW


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / "f.json"
    target.write_bytes(OLD)

    def full_disk(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(durable.os, "fsync", full_disk)
    with pytest.raises(OSError, match="No space"):
        durable.atomic_write_bytes(target, NEW)
    assert target.read_bytes() == OLD and sorted(tmp_path.iterdir()) == [target]


def test_exclusive_write_never_replaces(tmp_path):
    target = tmp_path / "state" / "pii.key"
    durable.atomic_write_bytes(target, b"first", mode=0o600, exclusive=True)
    with pytest.raises(FileExistsError):
        durable.atomic_write_bytes(target, b"second", mode=0o600, exclusive=True)
    assert target.read_bytes() == b"first" and os.listdir(target.parent) == ["pii.key"]


def test_one_writer_at_a_time(tmp_path):
    """A second process waits for the lock until the first lets go."""
    code = (
        "import sys, time\n"
        "from faceanalytics.storage import durable\nfrom faceanalytics.storage.lock import writer_lock\n"
        "t0 = time.monotonic()\n"
        "with writer_lock(sys.argv[1]):\n"
        "    print(round(time.monotonic() - t0, 2), flush=True)\n"
    )
    with writer_lock(tmp_path):
        proc = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        time.sleep(1.0)
        assert proc.poll() is None  # still waiting
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert float(out) >= 0.5


def test_a_killed_writer_is_noticed_and_its_temporaries_swept(tmp_path):
    code = (
        "import os, sys\n"
        "from pathlib import Path\n"
        "from faceanalytics.storage import durable\nfrom faceanalytics.storage.lock import writer_lock\n"
        "lock = writer_lock(sys.argv[1]).__enter__()\n"
        "for d in ('media/megvii_lite/s1', 'tables.rebuild/sessions'):\n"
        "    (Path(sys.argv[1]) / d).mkdir(parents=True)\n"
        "    (Path(sys.argv[1]) / d / '.tmp-abc-part').write_bytes(b'half')\n"
        "os._exit(9)\n"
    )
    keep = tmp_path / "media" / "megvii_lite" / "s1" / "will_video.mp4"
    assert _run(code, tmp_path).returncode == 9
    keep.write_bytes(b"a finished download")
    with writer_lock(tmp_path) as lock:
        assert lock.crashed
    assert not list(tmp_path.rglob(".tmp-*")) and keep.read_bytes() == b"a finished download"
    with writer_lock(tmp_path) as lock:   # that holder let go cleanly
        assert not lock.crashed


def test_an_atomic_write_never_replaces_a_fifo_but_replaces_a_symlink(tmp_path):
    """A rename replaces whatever has the name: a device or a FIFO would be swapped for a
    regular file (``/dev/null`` as root); a symbolic link is replaced as a link, its target
    untouched."""
    import stat

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(FileExistsError, match="not a regular file"):
        durable.atomic_write_bytes(fifo, b"x")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode) and os.listdir(tmp_path) == ["pipe"]
    target = tmp_path / "target"
    target.write_bytes(b"old")
    (tmp_path / "link").symlink_to(target)
    durable.atomic_write_bytes(tmp_path / "link", b"new")
    assert target.read_bytes() == b"old" and (tmp_path / "link").read_bytes() == b"new"
