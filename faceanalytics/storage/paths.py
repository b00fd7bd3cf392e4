"""Where a data directory lives: a local folder or an ``s3://bucket/prefix`` URI.

:func:`data_path` turns either into a path object: a :class:`pathlib.Path` (``~``
expanded), or an :class:`S3Path` that offers the subset of the ``pathlib`` API the
package uses (``/``, ``name``, ``glob``, ``read_bytes``, ``unlink``, ...) on top of
pyarrow's ``S3FileSystem``.  Code above handles both alike; what differs on writes
lives in :mod:`._durable` and :mod:`.lock`.

Parquet and dataset calls get the pair :func:`fs_path` returns (pyarrow filesystem
and path): ``fs_path(data_path("s3://b/p")) -> (S3FileSystem, "b/p")``.
"""
from __future__ import annotations

import fnmatch
import os
import posixpath
from pathlib import Path, PurePosixPath

from .errors import StorageConfigError

__all__ = ["data_path", "is_local", "fs_path", "S3Path", "not_a_data_dir", "names_a_folder"]


# --- locating a data directory --------------------------------------------------------
def _is_uri(s: str) -> bool:
    return "://" in s[:16]


def names_a_folder(text: str) -> bool:
    """Whether ``text`` names an existing folder or a URL: a data directory given in the place of
    another argument (a table name, a session id, a row)."""
    return "://" in text[:16] or os.path.isdir(os.path.expanduser(text))


def not_a_data_dir(data_dir, what: str = "a data directory") -> TypeError:
    """The error for a table, a row, None … given where a data directory goes (``os.fspath``
    answered "expected str, bytes or os.PathLike object, not DataFrame"); the value itself is
    never shown (a table's cells are personal data)."""
    kind = type(data_dir).__name__
    hint = ""
    if kind in ("DataFrame", "Series", "dict", "tuple") or type(data_dir).__module__.startswith("pandas"):
        hint = " (a table or a row: the data directory is the first argument)"
    return TypeError(f"{what} is a folder (str or pathlib.Path), s3://bucket/prefix or a DataDir; "
                     f"got {'None' if data_dir is None else kind}{hint}")


def data_path(data_dir) -> "Path | S3Path":
    """``data_dir`` (a folder, ``~`` expanded, or ``s3://bucket/prefix``) as a path object."""
    if isinstance(data_dir, S3Path):
        return data_dir
    if not isinstance(data_dir, (str, os.PathLike)):
        raise not_a_data_dir(data_dir)
    if isinstance(data_dir, Path):
        s = str(data_dir)
        if not s.startswith("s3:/"):
            return data_dir.expanduser()
        data_dir = "s3://" + s[4:].lstrip("/")  # Path("s3://b/p") collapsed the "//"
    s = os.fspath(data_dir)
    if not _is_uri(s):
        return Path(s).expanduser()
    scheme, _, rest = s.partition("://")
    if scheme.lower() != "s3":
        raise StorageConfigError(f"unsupported data directory {s!r}: use a local folder or "
                                 "s3://bucket/prefix")
    rest = rest.strip("/")
    if not rest or "?" in rest:
        raise StorageConfigError(f"give the data directory as s3://bucket/prefix, not {s!r} "
                                 "(the endpoint and region come from the environment)")
    from . import s3

    return S3Path(None, rest, s3.config_for(rest.split("/", 1)[0]))


def is_local(path) -> bool:
    return not isinstance(path, S3Path)


def fs_path(path):
    """-> (pyarrow filesystem, path string) for pyarrow's parquet and dataset calls."""
    if isinstance(path, S3Path):
        return path.fs, path.path
    from pyarrow.fs import LocalFileSystem

    return LocalFileSystem(), os.fspath(path)


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
        from . import s3

        return s3.filesystem(self.cfg)

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
        from . import s3

        return s3.client(self.cfg, self.bucket)

    def unlink(self, missing_ok: bool = False) -> None:
        """One DELETE (deleting what is not there is no error on S3, whatever
        ``missing_ok`` says).  Sent directly rather than through pyarrow, which would
        leave an empty "folder" object behind that fsspec readers take for a file."""
        self._client().delete(self.key)

    def mkdir(self, mode: int = 0o777, parents: bool = False, exist_ok: bool = False) -> None:
        """Nothing to do: S3 has no folders."""
