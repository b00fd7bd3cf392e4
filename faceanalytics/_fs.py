"""Where a data directory lives, and the few primitives the store needs there.

A data directory is a local folder or an ``s3://bucket/prefix`` URI.
:func:`data_path` turns either into a path object: a :class:`pathlib.Path`, or an
:class:`S3Path` that offers the subset of the ``pathlib`` API the package uses
(``/``, ``name``, ``glob``, ``read_bytes``, ``unlink``, ...) on top of pyarrow's
``S3FileSystem``.  Code above this module handles both alike; what differs lives in
a handful of functions here:

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
writer_lock            ``flock`` on ``state/writer.lock``          lock object with a lease,
                                                                   see :mod:`faceanalytics._s3`
=====================  ==========================================  ===========================

Parquet and dataset calls get the pair :func:`fs_path` returns (pyarrow filesystem
and path), or :func:`resolve` for a data directory: ``resolve("s3://b/p") ->
(S3FileSystem, "b/p")``.
"""
from __future__ import annotations

import contextlib
import fnmatch
import os
import posixpath
import uuid
from pathlib import Path, PurePosixPath

from .errors import UsageError

try:  # POSIX. Reading a data directory needs no lock, so the package imports without it (Windows)
    import fcntl
except ImportError:
    fcntl = None  # type: ignore[assignment]

__all__ = ["data_path", "resolve", "is_local", "fs_path", "S3Path", "atomic_write_bytes",
           "replace", "rmtree", "fsync_dir", "writer_lock", "fence", "require_local",
           "StorageConfigError", "sweep_temporaries", "make_private_dirs"]


class StorageConfigError(UsageError, ValueError):
    """The data directory's location or its S3 configuration is not usable."""


# --- locating a data directory --------------------------------------------------------
def _is_uri(s: str) -> bool:
    return "://" in s[:16]


def data_path(data_dir) -> "Path | S3Path":
    """``data_dir`` (a folder, or ``s3://bucket/prefix``) as a path object."""
    if isinstance(data_dir, S3Path):
        return data_dir
    if isinstance(data_dir, Path):
        s = str(data_dir)
        if not s.startswith("s3:/"):
            return data_dir
        data_dir = "s3://" + s[4:].lstrip("/")  # Path("s3://b/p") collapsed the "//"
    s = os.fspath(data_dir)
    if not _is_uri(s):
        return Path(s)
    scheme, _, rest = s.partition("://")
    if scheme.lower() != "s3":
        raise StorageConfigError(f"unsupported data directory {s!r}: use a local folder or "
                                 "s3://bucket/prefix")
    rest = rest.strip("/")
    if not rest or "?" in rest:
        raise StorageConfigError(f"give the data directory as s3://bucket/prefix, not {s!r} "
                                 "(the endpoint and region come from the environment)")
    from . import _s3

    return S3Path(None, rest, _s3.config_for(rest.split("/", 1)[0]))


def resolve(data_dir):
    """-> (pyarrow filesystem, base path) of a data directory."""
    return fs_path(data_path(data_dir))


def is_local(path) -> bool:
    return not isinstance(path, S3Path)


def fs_path(path):
    """-> (pyarrow filesystem, path string) for pyarrow's parquet and dataset calls."""
    if isinstance(path, S3Path):
        return path.fs, path.path
    from pyarrow.fs import LocalFileSystem

    return LocalFileSystem(), os.fspath(path)


def require_local(data_dir, what: str) -> None:
    if not is_local(data_path(data_dir)):
        raise StorageConfigError(
            f"{what} needs a local data directory (its journals and quota ledger are appended "
            "and fsync'd as each response arrives, which object storage cannot do); "
            f"{what} into a local folder, or ingest exported records into {data_dir}")


# --- S3 paths -----------------------------------------------------------------------
class S3Path:
    """An object key (or key prefix) in S3, with the pathlib methods this package uses.

    "Folders" are key prefixes: ``mkdir`` does nothing, ``is_dir`` is true when a key
    starts with ``<key>/``.  It is deliberately not ``os.PathLike``, so it can never be
    mistaken for a local path.

    ``fs`` is looked up at each use when the path has an S3 configuration (``cfg``), so
    a path kept for hours reads with botocore's refreshed credentials, never expired
    ones; a given ``fs`` is used only for a path without one.
    """

    __slots__ = ("_fs", "path", "cfg")

    def __init__(self, fs, path: str, cfg=None):
        self._fs, self.path, self.cfg = fs, path.strip("/"), cfg

    @property
    def fs(self):
        """The pyarrow filesystem, with the credentials botocore holds now."""
        if self.cfg is None:
            return self._fs
        from . import _s3

        return _s3.filesystem(self.cfg)

    def _at(self, path: str) -> "S3Path":
        return S3Path(self._fs, path, self.cfg)

    # --- pure path operations
    def __truediv__(self, other) -> "S3Path":
        other = str(other).strip("/")
        return self._at(f"{self.path}/{other}" if other else self.path)

    @property
    def bucket(self) -> str:
        return self.path.split("/", 1)[0]

    @property
    def key(self) -> str:
        return self.path.partition("/")[2]

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    @property
    def stem(self) -> str:
        return PurePosixPath(self.name).stem

    @property
    def suffix(self) -> str:
        return PurePosixPath(self.name).suffix

    @property
    def parent(self) -> "S3Path":
        return self._at(posixpath.dirname(self.path) or self.path)

    @property
    def parts(self) -> tuple:
        return tuple(self.path.split("/"))

    def with_name(self, name: str) -> "S3Path":
        return self.parent / name

    def relative_to(self, other) -> PurePosixPath:
        return PurePosixPath(self.path).relative_to(other.path if isinstance(other, S3Path) else other)

    def __str__(self):
        return f"s3://{self.path}"

    def __repr__(self):
        return f"S3Path({str(self)!r})"

    def __eq__(self, other):
        return isinstance(other, S3Path) and other.path == self.path

    def __hash__(self):
        return hash(("s3", self.path))

    def __lt__(self, other):
        return self.path < other.path

    # --- queries
    def _info(self):
        return self.fs.get_file_info(self.path)

    def exists(self) -> bool:
        from pyarrow.fs import FileType

        return self._info().type != FileType.NotFound

    def is_dir(self) -> bool:
        from pyarrow.fs import FileType

        return self._info().type == FileType.Directory

    def is_file(self) -> bool:
        from pyarrow.fs import FileType

        return self._info().type == FileType.File

    def stat(self):
        from types import SimpleNamespace

        from pyarrow.fs import FileType

        info = self._info()
        if info.type == FileType.NotFound:
            raise FileNotFoundError(str(self))
        mtime = info.mtime.timestamp() if info.mtime is not None else 0.0
        return SimpleNamespace(st_size=info.size or 0, st_mtime=mtime, st_mode=0o600)

    def _listing(self, recursive: bool):
        from pyarrow.fs import FileSelector

        return self.fs.get_file_info(FileSelector(self.path, allow_not_found=True, recursive=recursive))

    def iterdir(self):
        for info in self._listing(False):
            yield self._at(info.path)

    def glob(self, pattern: str):
        """Keys below this prefix matching ``pattern`` segment by segment (one listing)."""
        pat = pattern.strip("/").split("/")
        if "**" in pat:
            raise ValueError("S3Path.glob does not support '**'; use rglob")
        base = len(self.path) + 1
        recursive = len(pat) > 1
        for info in self._listing(recursive):
            rel = info.path[base:].split("/")
            if len(rel) == len(pat) and all(fnmatch.fnmatchcase(r, p) for r, p in zip(rel, pat)):
                yield self._at(info.path)

    def rglob(self, pattern: str):
        from pyarrow.fs import FileType

        for info in self._listing(True):
            if info.type == FileType.File and fnmatch.fnmatchcase(info.base_name, pattern):
                yield self._at(info.path)

    # --- reading and writing
    def open_input(self, compression=None):
        return self.fs.open_input_stream(self.path, compression=compression)

    def read_bytes(self) -> bytes:
        # compression=None: pyarrow would otherwise "detect" .zst and decompress
        with self.fs.open_input_stream(self.path, compression=None) as f:
            return f.read()

    def read_text(self, encoding: str = "utf-8") -> str:
        return self.read_bytes().decode(encoding)

    def write_bytes(self, data: bytes) -> int:
        """One PUT: readers see the previous object or the whole new one."""
        with self.fs.open_output_stream(self.path, compression=None) as f:
            f.write(data)
        return len(data)

    def _client(self):
        from . import _s3

        return _s3.client(self.cfg, self.bucket)

    def unlink(self, missing_ok: bool = False) -> None:
        """One DELETE (deleting what is not there is no error on S3, whatever
        ``missing_ok`` says).  Sent directly rather than through pyarrow, which would
        leave an empty "folder" object behind that fsspec readers take for a file."""
        self._client().delete(self.key)

    def mkdir(self, mode: int = 0o777, parents: bool = False, exist_ok: bool = False) -> None:
        """Nothing to do: S3 has no folders."""


# --- primitives -------------------------------------------------------------------------
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
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = tmp_name(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
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
    from . import _s3

    client = _s3.client(path.cfg, path.bucket)
    probe = posixpath.join(posixpath.dirname(path.key), ".create-probe")
    if _s3.conditional_writes_supported(client, probe):
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


# --- the writer lock ---------------------------------------------------------------------
class WriterLock:
    """One writer per local data directory (ingest, fetch, receive, rebuild,
    download-media).

    The holder writes its pid into the lock file and empties it when it lets go, so
    the next holder that finds a pid there knows a writer was killed, and sweeps the
    hidden temporaries it left in ``media/`` and ``tables.rebuild/``
    (:func:`sweep_temporaries`; ``tables/`` is the store's, after its roll-forward).
    Nothing else can be writing them: we hold the lock.
    """

    def __init__(self, data_dir):
        self.root = Path(data_dir)
        self.path = self.root / "state" / "writer.lock"
        self._fd = None
        self.crashed = False  # the previous holder did not let go cleanly

    def __enter__(self):
        if fcntl is None:
            raise StorageConfigError(
                f"writing to a local data directory needs flock (POSIX: Linux, macOS), which this "
                f"platform lacks; reading {self.root} works, or write from WSL or into s3://")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        self.crashed = os.fstat(self._fd).st_size > 0
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, f"{os.getpid()}\n".encode(), 0)
        if self.crashed:
            sweep_temporaries(self.root)
        return self

    def __exit__(self, *exc):
        if self._fd is not None:
            os.ftruncate(self._fd, 0)  # a clean exit: nothing for the next holder to sweep
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def sweep_temporaries(data_dir, folders=("media", "tables.rebuild")) -> int:
    """Delete the hidden ``.tmp-*`` files under ``folders`` of a local data directory
    (left by a killed writer: a write in progress is always under such a name)."""
    swept = 0
    for folder in folders:
        for dirpath, _dirs, files in os.walk(Path(data_dir) / folder):
            for name in files:
                if name.startswith(".tmp-"):
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(os.path.join(dirpath, name))
                        swept += 1
    return swept


def writer_lock(data_dir):
    """The writer lock for a data directory: ``flock`` locally, a lease object on S3."""
    root = data_path(data_dir)
    if isinstance(root, S3Path):
        from ._s3 import S3WriterLock

        return S3WriterLock(root.cfg, root.bucket, root.key)
    return WriterLock(root)


def fence(root) -> None:
    """Before a commit point: make sure this process still holds the writer lock
    (a no-op locally, where ``flock`` cannot be lost)."""
    if isinstance(root, S3Path):
        from ._s3 import fence as _fence

        _fence(root.bucket, root.key)
