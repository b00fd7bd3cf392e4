"""The storage layer's exceptions (a leaf module: every storage module imports it, it imports
nothing of theirs)."""
from __future__ import annotations

from ..errors import DataError, UsageError

__all__ = ["StorageConfigError", "S3Error", "WriterBusy", "LockLost", "MediaError", "DamagedTable", "DamagedFile",
           "SegmentTooLarge"]


class StorageConfigError(UsageError, ValueError):
    """The data directory's location or its S3 configuration is not usable."""


class LockLost(DataError, OSError):
    """Another writer took the data directory's lock: this writer must stop."""


class WriterBusy(DataError, OSError):
    """Another writer holds the data directory's lock (after FACEANALYTICS_S3_LOCK_WAIT)."""


class DamagedTable(DataError, ValueError):
    """A table file that is not readable Parquet (a disk error, a copy cut short): the tables
    are derived data, ``faceanalytics rebuild`` recreates them from the raw archive."""

    def __init__(self, path, why: str):
        super().__init__(f"{path}: not a readable table file ({why}); `faceanalytics rebuild --data DIR` "
                         "recreates every table from the raw archive")
        self.path = str(path)

    @classmethod
    def of(cls, error: Exception, path=None) -> "DamagedTable":
        """The error for the file pyarrow could not read: ``path``, else the one pyarrow's
        message names ("... source '<path>': <why>."), and the first sentence of its why."""
        import re

        text = str(error)
        m = re.search(r"source '([^']+)'", text)
        if path is None:
            path = m.group(1) if m else "a table file"
            text = text.split(": ", 1)[-1]
        elif m:                                 # the file is named already: its why alone
            text = text[m.end():].lstrip(": ")
        return cls(path, text.split(".")[0])


class DamagedFile(DataError, ValueError):
    """A Zstandard file (an input, or a raw archive segment) cut short or corrupt: what it held
    before the damage was read, the rest cannot be.  ``files``: (path, why) for each one;
    ``report``: what was landed all the same (an ``IngestReport``), when there is one."""

    def __init__(self, files, report=None, *, tables_kept: bool = False):
        self.files, self.report = list(files), report
        what = "; ".join(f"{path}: not a readable Zstandard file ({why})" for path, why in self.files)
        if tables_kept:
            what += (" -- the tables were left as they were: ingest the file that segment came from "
                     "again (the damaged segment is written anew), or move it out of DATA/raw and rebuild")
        super().__init__(what)


class MediaError(DataError, ValueError):
    """A media row that points at no bytes, or at bytes that are not the ones it names."""


class S3Error(DataError, OSError):
    """S3 answered with an error, or could not be reached (``status`` 0)."""

    def __init__(self, status: int, code: str, what: str):
        super().__init__(f"S3 {what}: HTTP {status} {code}".strip())
        self.status, self.code = status, code


class SegmentTooLarge(DataError, RuntimeError):
    """A raw segment decompresses past :func:`.archive.read_segment`'s limit (a bomb, or a
    damaged or hostile archive): not read whole (``rebuild`` reads segments of any size)."""
