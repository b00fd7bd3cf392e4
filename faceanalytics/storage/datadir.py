"""A data directory's layout, known in one place.

:class:`DataDir` is built once where a data directory enters the package (``ingest``,
``fetch_*``, ``load``, ``review``, the engines, the CLI) and passed down; nothing
below spells a folder name.  Every entry point resolves the location the same way:
``~`` expanded, a relative folder relative to the working directory, ``s3://bucket/prefix``
as an :class:`~.paths.S3Path`.  The layout::

    DATA/
      tables/<table>/source=<source>/month=<YYYY-MM>/part-*.parquet   tidy tables (storage.tables)
      tables.rebuild/, tables.old/                                    a rebuild in progress
      raw/<YYYY-MM-DD>/*.jsonl.zst                                    raw archive (storage.archive)
      raw/journal/*.jsonl                                             fetch journals not yet sealed
      raw/rejected/                                                   callbacks refused (bounded)
      raw/downloads.jsonl                                             will-file downloads manifest
      state/quota/<provider>.log                                      quota ledgers
      state/pii.key                                                   the key that masks personal data
      state/writer.lock                                               one writer at a time (storage.lock)
      state/txn-<tables>/                                             commit plans of the store
      media/packs/<source>/<YYYY-MM>/<digest>.zip                     inline images, one ZIP per chunk (storage.packs)
      media/<source>/<session>/                                       will files, decrypted
      summaries/review/source=<source>/month=<YYYY-MM>/               a review's counts of whole partitions
                                                                      (engines._kept; derived, safe to delete)
      summaries/review/footers.json                                   each data file's footer facts, by identity
                                                                      (engines._placed._Footers; derived, safe to delete)
"""
from __future__ import annotations

import os
from pathlib import Path

from .errors import StorageConfigError
from .paths import S3Path, data_path, is_local

__all__ = ["DataDir"]


class DataDir:
    """Where each part of a data directory lives (see the module docstring)."""

    __slots__ = ("root",)

    def __init__(self, where):
        self.root: Path | S3Path = data_path(where.root if isinstance(where, DataDir) else where)

    @classmethod
    def of(cls, where) -> "DataDir":
        """``where`` itself if it is a DataDir, else the DataDir of that location."""
        return where if isinstance(where, DataDir) else cls(where)

    def __repr__(self) -> str:
        return f"DataDir({str(self.root)!r})"

    def __str__(self) -> str:
        return str(self.root)

    def __eq__(self, other) -> bool:
        return isinstance(other, DataDir) and other.root == self.root

    def __hash__(self) -> int:
        return hash(self.root)

    @property
    def local(self) -> bool:
        return is_local(self.root)

    # --- tables: the live ones, and a rebuild's (built beside them, then moved in)
    TABLES, REBUILD, OLD = "tables", "tables.rebuild", "tables.old"

    @property
    def tables(self):
        return self.root / self.TABLES

    def table(self, name: str):
        return self.tables / name

    def tables_at(self, tables_dir: str):
        """The folder of ``tables_dir``: :attr:`TABLES`, :attr:`REBUILD` or :attr:`OLD`."""
        return self.root / tables_dir

    def txn(self, tables_dir: str = TABLES):
        """Where the store keeps its commit plans for ``tables_dir``."""
        return self.state / f"txn-{tables_dir}"

    # --- raw
    @property
    def raw(self):
        return self.root / "raw"

    @property
    def journal(self):
        return self.raw / "journal"

    @property
    def rejected(self):
        return self.raw / "rejected"

    @property
    def downloads(self):
        return self.raw / "downloads.jsonl"

    # --- derived: the review's counts of whole partitions (engines._kept), safe to delete
    @property
    def summaries(self):
        return self.root / "summaries"

    # --- state
    @property
    def state(self):
        return self.root / "state"

    def quota(self, provider: str):
        return self.state / "quota" / f"{provider}.log"

    @property
    def pii_key(self):
        return self.state / "pii.key"

    @property
    def lock(self):
        return self.state / "writer.lock"

    # --- media
    PACKS = "media/packs"  # inline images (storage.packs); rows name a pack relative to the root

    @property
    def media(self):
        return self.root / "media"

    @property
    def packs(self):
        return self.root / self.PACKS

    # the folders a data directory holds: ``--data`` naming one of them is a slip for the root
    PARTS = (TABLES, REBUILD, OLD, "raw", "state", "media", "summaries")

    def is_data_dir(self) -> bool:
        """A local folder some command has already written (it holds ``state/pii.key`` or
        ``state/writer.lock``, the first files every writer makes)."""
        return self.local and (self.pii_key.is_file() or self.lock.is_file())

    @classmethod
    def enclosing(cls, where) -> "tuple[DataDir, str] | None":
        """The data directory ``where`` lies inside, and the part it lies in (``"raw"``,
        ``"tables"``, ...), or None.  ``ingest --data DATA/raw`` used to make a second data
        directory inside the first: its own masking key (the same person masked two ways),
        its own raw archive, tables the review of DATA never sees."""
        path = data_path(where)
        if not is_local(path):
            return None
        path = Path(os.path.abspath(path))  # `DATA/raw/..` is DATA itself
        for parent, part in ((a, path.relative_to(a).parts[0]) for a in path.parents):
            if part in cls.PARTS and cls(parent).is_data_dir():
                return cls(parent), part
        return None

    def require_local(self, what: str) -> None:
        """Refuse ``what`` (fetch, receive, download-media) on object storage."""
        if not self.local:
            raise StorageConfigError(
                f"{what} needs a local data directory (its journals and quota ledger are appended "
                "and fsync'd as each response arrives, which object storage cannot do); "
                f"{what} into a local folder, or ingest exported records into {self.root}")
