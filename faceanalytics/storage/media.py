"""Reading media back: one image's bytes from a row of ``media`` (from its pack) or
``media_files`` (a downloaded file), or all of a session's images."""
from __future__ import annotations

import hashlib

from .errors import MediaError
from .packs import inside, read_member

__all__ = ["media_bytes", "load_media"]


def _field(row, name):
    try:
        v = row[name]
    except (KeyError, IndexError, TypeError):
        v = getattr(row, name, None)
    try:
        import pandas as pd

        if v is not None and not isinstance(v, (bytes, str)) and pd.isna(v):
            return None
    except (TypeError, ValueError):
        pass
    return v


_ROW_FIELDS = ("path", "pack", "sha256")      # what a row of media / media_files carries


def _row_fields(row):
    """The field names of a row (pandas row, dict, ``itertuples()`` tuple), or None."""
    if isinstance(row, dict):
        return row.keys()
    fields = getattr(row, "_fields", None)          # a namedtuple: itertuples()
    if fields is not None:
        return fields
    index = getattr(row, "index", None)             # a pandas Series: df.iloc[i]
    return index if index is not None and getattr(row, "ndim", None) == 1 else None


def _kind(value) -> str:
    return "None" if value is None else f"a {type(value).__name__}"


def _a_path(value) -> bool:
    """A path object, a DataDir, or text naming an existing folder or a URL: a data directory
    given in the wrong place."""
    import os

    from .datadir import DataDir
    from .paths import names_a_folder

    if isinstance(value, (os.PathLike, DataDir)):
        return True
    return isinstance(value, str) and names_a_folder(value)


def _data_dir_first(data_dir, other, call: str, what: str) -> None:
    """Refuse a ``data_dir`` that is no data directory: said to be swapped with ``other`` (``what``
    comes second in ``call``) when ``other`` looks like one; the values are never shown."""
    import os

    from .datadir import DataDir
    from .paths import not_a_data_dir

    if isinstance(data_dir, (str, os.PathLike, DataDir)):
        return
    if _a_path(other):
        raise TypeError(f"{call}: the data directory comes first, then {what}; got {_kind(data_dir)} then a path")
    raise not_a_data_dir(data_dir)


def _check_row(data_dir, row) -> None:
    """Refuse anything but one row of ``media``/``media_files``: a whole table answered "the
    truth value of a Series is ambiguous", a sessions row or None "holds no bytes"; the
    value itself is never shown (its cells are personal data)."""
    _data_dir_first(data_dir, row, "media_bytes(data_dir, row)", "the row")
    if getattr(row, "ndim", None) == 2:
        raise TypeError(f"media_bytes reads one row: pass df.iloc[i] or a row of df.itertuples(), "
                        f"not a table ({len(row)} rows)")
    fields = _row_fields(row)
    if fields is None:
        raise TypeError(f"media_bytes needs one row of the media or media_files table (df.iloc[i], "
                        f"a row of df.itertuples() or a dict); got {'None' if row is None else type(row).__name__}")
    if "path" not in fields:
        raise TypeError("media_bytes needs a row of the media or media_files table; this row has no "
                        "path (a row of another table?)")


def media_bytes(data_dir, row) -> bytes:
    """The bytes of one row of the ``media`` table (an inline image, read from its pack)
    or of the ``media_files`` table (a downloaded will file), checked against the row's
    ``sha256``.  ``row``: a pandas row (``df.iloc[i]``, ``itertuples()``) or a dict.

    >>> m = fa.load("data", "media")                                 # doctest: +SKIP
    >>> jpeg = fa.media_bytes("data", m[m.path.notna()].iloc[0])     # doctest: +SKIP
    """
    _check_row(data_dir, row)
    pack, path, n = _field(row, "pack"), _field(row, "path"), _field(row, "n_bytes")
    if path is None:
        from ..redact import redact

        why = _field(row, "error") or ("a link: " + redact(_field(row, "url")) if _field(row, "url") else None)
        raise MediaError(f"this media row holds no bytes ({why or 'no path'})")
    if pack is not None:
        offset = _field(row, "offset")
        if offset is None or n is None:
            raise MediaError(f"media row for {path} names pack {pack} but no offset or size")
        try:
            data = read_member(data_dir, str(pack), int(offset), int(n))
        except FileNotFoundError:  # merged into another pack since the row was read
            moved = _current_row(data_dir, row)
            if moved is None or moved["pack"] == pack:
                raise MediaError(f"the pack {pack} of {path} is gone") from None
            return media_bytes(data_dir, moved)
    else:  # a downloaded file, or an image written before packs
        data = inside(data_dir, str(path)).read_bytes()
    sha = _field(row, "sha256")
    if sha is not None and hashlib.sha256(data).hexdigest() != sha:
        raise MediaError(f"the bytes read for {path} do not match the row's sha256")
    return data


def _current_row(data_dir, row) -> dict | None:
    import pyarrow.dataset as ds

    from .tables import load_arrow

    source, sid = _field(row, "source"), _field(row, "session_id")
    if source is None or sid is None:
        return None
    got = load_arrow(data_dir, "media", where=(ds.field("source") == source) & (
        ds.field("session_id") == sid) & (ds.field("path") == _field(row, "path"))).to_pylist()
    return got[0] if got else None


def load_media(data_dir, session_id: str, *, source: str | None = None) -> dict[str, bytes]:
    """Every inline image of one session: ``{"<field>[_<attempt>]": bytes}``.

    ``session_id`` is one id (text); ``source`` one of :data:`faceanalytics.SOURCES` (or
    None: any).  A table, a row or None there is a ``TypeError`` that names what goes where
    (a table was echoed cell by cell inside pyarrow's error)."""
    import pyarrow.dataset as ds

    from ..schema import SOURCES
    from .tables import load_arrow

    _data_dir_first(data_dir, session_id, "load_media(data_dir, session_id)", "the session id")
    if not isinstance(session_id, str):
        hint = ": loop over its session_id column" if getattr(session_id, "ndim", 0) in (1, 2) else ""
        raise TypeError(f"load_media takes one session id (text); got "
                        f"{'None' if session_id is None else type(session_id).__name__}{hint}")
    if source is not None and source not in SOURCES:
        raise ValueError(f"load_media source: unknown {source!r}; known: {', '.join(SOURCES)}")

    where = (ds.field("session_id") == session_id) & ds.field("path").is_valid()
    if source is not None:
        where &= ds.field("source") == source
    out = {}
    for row in load_arrow(data_dir, "media", where=where).to_pylist():
        key = row["field"] if row["attempt"] is None else f"{row['field']}_{row['attempt']}"
        out[key] = media_bytes(data_dir, row)
    return out
