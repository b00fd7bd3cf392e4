"""Storage: where a data directory lives and how it is written without losing anything.

* :mod:`.datadir` -- :class:`DataDir`, the layout (``tables/``, ``raw/``, ``state/``,
  ``media/``), resolved once where a data directory enters the package;
* :mod:`.paths` -- a local folder or ``s3://bucket/prefix`` as a path object;
* :mod:`.durable` -- atomic writes, moves, and the fsync'd append log;
* :mod:`.lock` -- one writer per data directory (``flock``, or a lease on S3) and its fence;
* :mod:`.s3` -- botocore: credentials, conditional writes, copies and deletes;
* :mod:`.archive` -- the raw archive, every record as received;
* :mod:`.tables` -- the Parquet tables: atomic commits, one row set per session, ``load``.

Nothing here imports the pipeline above it; reading needs no lock (and no ``fcntl``).
"""
from __future__ import annotations

from .datadir import DataDir

__all__ = ["DataDir"]
