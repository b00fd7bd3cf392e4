"""Crash-safe writes: a file appears whole or not at all, a move is atomic where the
storage allows it, and appended lines are on disk before the append returns.

=====================  ==========================================  ===========================
primitive              local disk                                  S3
=====================  ==========================================  ===========================
atomic_write_bytes     hidden temp, fsync, rename (or link for     one PUT (an object appears
                       ``exclusive``), fsync the folder            whole or not at all);
                                                                   ``exclusive``: conditional
                                                                   PUT ``If-None-Match: *``
replace                ``os.replace`` (atomic)                     server-side copy, then delete
                                                                   the source (not atomic: the
                                                                   store only moves files that
                                                                   a committed plan names, and
                                                                   redoes a move after a crash)
fsync_dir, chmod       as named                                    nothing (no folders, no
                                                                   modes: access is the
                                                                   bucket's IAM policy)
AppendLog              ``O_APPEND`` + fsync, group commit          (local only: journals,
                                                                   ledgers and manifests)
=====================  ==========================================  ===========================
"""
from __future__ import annotations

import contextlib
import os
import posixpath
import threading
import uuid
from pathlib import Path

from .paths import S3Path

__all__ = ["atomic_write_bytes", "atomic_file", "check_replaceable", "check_output_file", "replace", "rmtree", "fsync_dir", "chmod", "make_private_dirs",
           "tmp_name", "AppendLog"]


def fsync_dir(path) -> None:
    if isinstance(path, S3Path):
        return
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def tmp_name(path: Path) -> Path:
    """A hidden sibling (readers skip names starting with '.')."""
    return path.with_name(f".tmp-{uuid.uuid4().hex[:12]}-{path.name}")


def atomic_write_bytes(path, data: bytes, *, mode: int = 0o644, exclusive: bool = False,
                       durable: bool = True) -> None:
    """Write ``data`` to ``path`` so a reader sees the old file or the whole new one.

    ``exclusive``: fail with ``FileExistsError`` if ``path`` exists.  ``durable=False``
    skips the fsyncs (for derived files).  On S3 ``mode`` does not apply.
    """
    if isinstance(path, S3Path):
        if exclusive:
            _s3_create_exclusive(path, data)
        else:
            path.write_bytes(data)
        return
    with atomic_file(path, mode=mode, exclusive=exclusive, durable=durable) as f:
        f.write(data)


def check_replaceable(path) -> None:
    """Refuse to put a file in place of a device, a FIFO or a socket: the rename replaces
    whatever has the name, so ``write_report(..., "/dev/null")`` run as root replaced
    ``/dev/null`` itself with the report (and ``/dev/full``, ``/dev/stdout``'s target...).
    A symbolic link is replaced as a link, never followed, so it may stay."""
    import errno
    import stat

    if isinstance(path, S3Path):
        return
    try:
        st = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return
    if not (stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode)):
        raise FileExistsError(errno.EEXIST, "exists and is not a regular file (a device, a FIFO, a socket "
                              "or a folder): not replaced", str(path))


def check_output_file(path, what: str) -> None:
    """Refuse a file to write (the CLI's ``--out``, ``write_report``'s ``out``) that is a
    folder, a device, a FIFO or a socket, or whose folder is not there.  One rule for the
    command line and Python: a typo in a folder (``/hmoe/me/r.html``) silently made the whole
    tree; like ``open()``, ``cp``, ``curl -o`` or a shell's ``>``, a file is written only into
    a folder that is there.  ``what`` names the path in the message.  ``path``: a local
    :class:`~pathlib.Path` (as :func:`.paths.data_path` gives); anything else (S3, which has no
    folders; None) is let through."""
    if not isinstance(path, Path):
        return
    if path.is_dir():
        raise IsADirectoryError(f"{what} {path} is a directory; give the file to write")
    if path.exists() and not path.is_file():
        # written whole and renamed into place: --out /dev/null (as root) replaced the device
        raise FileExistsError(f"{what} {path} is not a regular file (a device, a FIFO or a "
                              "socket); give the file to write")
    if not path.parent.is_dir():
        where = (f"{path.parent} is not a folder" if path.parent.exists() else f"there is no folder {path.parent}")
        raise FileNotFoundError(f"{what} {path}: {where} to write it in (a mistyped path?); "
                                "create the folder first: no folder is made for a file written")


@contextlib.contextmanager
def atomic_file(path, *, mode: int = 0o644, exclusive: bool = False, durable: bool = True):
    """A local file to write ``path`` through (a hidden temporary), put in place when the
    block ends without an error: a reader sees the old file or the whole new one.  The
    options as :func:`atomic_write_bytes`'s."""
    path = Path(path)
    check_replaceable(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = tmp_name(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            if durable:
                f.flush()
                os.fsync(f.fileno())
        os.chmod(tmp, mode)
        if exclusive:
            os.link(tmp, path)  # fails with FileExistsError when path exists
            os.unlink(tmp)
        else:
            os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    if durable:
        fsync_dir(path.parent)


def _s3_create_exclusive(path: "S3Path", data: bytes) -> None:
    from . import s3

    client = s3.client(path.cfg, path.bucket)
    probe = posixpath.join(posixpath.dirname(path.key), ".create-probe")
    if s3.conditional_writes_supported(client, probe):
        if client.put_if_absent(path.key, data) is None:
            raise FileExistsError(str(path))
        return
    # No conditional writes: the operator declared a single writer (the writer lock
    # refuses to run otherwise), and callers hold that lock.
    if path.exists():
        raise FileExistsError(str(path))
    path.write_bytes(data)


def replace(src, dst) -> bool:
    """Move ``src`` to ``dst`` (replacing it); False if ``src`` does not exist."""
    if isinstance(src, S3Path):
        # CopyObject, then DeleteObject of the source (not pyarrow's move, which leaves
        # "folder" objects behind)
        if not src._client().copy(src.key, dst.key):
            return False
        src.unlink()
        return True
    try:
        os.replace(src, dst)
    except FileNotFoundError:
        return False
    return True


def rmtree(path) -> None:
    """Remove a folder (a key prefix on S3) and everything in it; absent is fine."""
    if isinstance(path, S3Path):
        from pyarrow.fs import FileType

        for info in path._listing(True):
            if info.type == FileType.File:
                path._at(info.path).unlink(missing_ok=True)
        return
    import shutil

    shutil.rmtree(path, ignore_errors=True)


def chmod(path, mode: int) -> None:
    if not isinstance(path, S3Path):
        os.chmod(path, mode)


def make_private_dirs(root, folder) -> None:
    """Create local ``folder`` and the missing folders between it and ``root``,
    owner-only (0700) whatever the umask."""
    missing = []
    p = Path(folder)
    while p != Path(root) and not p.is_dir():
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        d.mkdir(mode=0o700, exist_ok=True)
        os.chmod(d, 0o700)


class AppendLog:
    """A local file of lines, each on disk before :meth:`append` returns.

    Threads append concurrently: data is written under a lock (``O_APPEND``: each
    write lands at the end, whoever else appends), then fsync'd outside it; a thread
    whose write an fsync begun after it already covered does not fsync again (group
    commit).  Used by the fetch journals, the quota ledgers and the downloads manifest.
    """

    def __init__(self, path, mode: int = 0o600):
        self.path = Path(path)
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, mode)
        self._lock = threading.Lock()
        self._sync_lock = threading.Lock()
        self._written = 0  # writes made
        self._synced = 0   # writes known to be on disk

    def write(self, data: bytes) -> int:
        """Append ``data`` (whole lines), not yet durable; -> its number for :meth:`sync`."""
        view = memoryview(data)
        with self._lock:
            if self.fd < 0:
                raise ValueError(f"{self.path} is closed")
            try:
                while view:  # loop on a short write
                    view = view[os.write(self.fd, view):]
            except BaseException:
                if len(view) < len(data):
                    # A disk full mid-write left part of it: cut off, or the next line (once there
                    # is room) was glued to it, and a journaled answer or a ledger's call was lost
                    # in a line nothing could read.
                    with contextlib.suppress(OSError):
                        os.ftruncate(self.fd, os.fstat(self.fd).st_size - (len(data) - len(view)))
                raise
            self._written += 1
            return self._written

    def sync(self, upto: int | None = None) -> None:
        """fsync, unless an fsync begun after write number ``upto`` already covered it."""
        with self._sync_lock:
            if upto is not None and self._synced >= upto:
                return
            covered = self._written  # every write made before this fsync starts
            os.fsync(self.fd)
            self._synced = max(self._synced, covered)

    def append(self, line: bytes) -> None:
        """One line (without its newline), on disk before this returns."""
        if b"\n" in line:
            raise ValueError("an appended line must not contain a newline")
        self.sync(self.write(line + b"\n"))

    def close(self) -> None:
        with self._lock, self._sync_lock:
            if self.fd >= 0:
                os.close(self.fd)
                self.fd = -1

    def __enter__(self) -> "AppendLog":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
