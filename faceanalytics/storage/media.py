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


def media_bytes(data_dir, row) -> bytes:
    """The bytes of one row of the ``media`` table (an inline image, read from its pack)
    or of the ``media_files`` table (a downloaded will file), checked against the row's
    ``sha256``.  ``row``: a pandas row (``df.iloc[i]``, ``itertuples()``) or a dict.

    >>> m = fa.load("data", "media")                                 # doctest: +SKIP
    >>> jpeg = fa.media_bytes("data", m[m.path.notna()].iloc[0])     # doctest: +SKIP
    """
    pack, path, n = _field(row, "pack"), _field(row, "path"), _field(row, "n_bytes")
    if path is None:
        why = _field(row, "error") or ("a link: " + str(_field(row, "url")) if _field(row, "url") else None)
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
    """Every inline image of one session: ``{"<field>[_<attempt>]": bytes}``."""
    import pyarrow.dataset as ds

    from .tables import load_arrow

    where = (ds.field("session_id") == session_id) & ds.field("path").is_valid()
    if source is not None:
        where &= ds.field("source") == source
    out = {}
    for row in load_arrow(data_dir, "media", where=where).to_pylist():
        key = row["field"] if row["attempt"] is None else f"{row['field']}_{row['attempt']}"
        out[key] = media_bytes(data_dir, row)
    return out
