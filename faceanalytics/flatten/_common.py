"""What every flattener shares: the output record, unknown-field capture, media."""
from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import re

from .._coerce import Unreadable, is_nullish, non_finite, num, num_strict
from ..schema import SESSION_KEY, file_schema

__all__ = ["Flat", "Context", "Unreadable", "media_row", "safe_name", "number", "MAX_LINE", "MAX_DEPTH"]

MAX_LINE = 16 << 20  # bytes: a longer input line is quarantined unread (and never handed to Arrow)
# The documents nest six levels deep (eight with an envelope around a Baidu getall attempt);
# Arrow's JSON reader overflows its stack somewhere past 10,000, so depth is checked before
# any parser sees a line (``_records.line_problem``).
MAX_DEPTH = 64


class Context:
    """What a flattener needs beside the payload; nothing here does I/O."""

    __slots__ = ("source", "session_id", "masker", "megvii_api_secret")

    def __init__(self, source, session_id, masker, megvii_api_secret=None):
        self.source = source
        self.session_id = session_id
        self.masker = masker
        self.megvii_api_secret = megvii_api_secret


@functools.lru_cache(maxsize=None)
def row_fields(table: str) -> tuple:
    """The columns of ``table`` a flattener fills (the store adds the others), in the
    schema's order: the order of a row given as a tuple (:attr:`Flat.tuples`)."""
    return tuple(f for f in file_schema(table)
                 if f.name not in ("session_id", "fetched_at", "session_time", SESSION_KEY))


@functools.lru_cache(maxsize=None)
def row_names(table: str) -> tuple[str, ...]:
    return tuple(f.name for f in row_fields(table))


class Flat:
    """Rows of every table for one record, plus blobs to write and unknown fields.

    ``session`` is the record's ``sessions`` row; ``rows`` maps table -> list of
    row dicts; ``blobs`` is ``[(relative path, bytes)]``; ``extra`` maps the
    dotted path of every field the flattener does not know to its value.

    A flattener that makes many rows a record (Baidu's attempts, ID cards, scores) gives
    them as tuples in :func:`row_fields` order instead (``tuples``: table -> list of
    tuples): no dict per row, and a chunk's tuples become Arrow columns at once.  ``rows``
    shows them as dicts too (for a reader of one record); :attr:`dict_rows` is the dict
    rows alone.
    """

    __slots__ = ("session", "dict_rows", "tuples", "blobs", "extra", "session_time_us", "time_basis",
                 "n_invalid")

    def __init__(self):
        self.session: dict = {}
        self.dict_rows: dict[str, list[dict]] = {}
        self.tuples: dict[str, list[tuple]] = {}
        self.blobs: list[tuple[str, bytes]] = []
        self.extra: dict = {}
        self.session_time_us = None
        self.time_basis = None
        self.n_invalid = 0

    @property
    def rows(self) -> dict[str, list[dict]]:
        """Every row as a dict (the tuple rows turned into dicts here, once)."""
        if self.tuples:
            for table, tuples in self.tuples.items():
                if tuples:
                    names = row_names(table)
                    self.dict_rows.setdefault(table, []).extend(dict(zip(names, t)) for t in tuples)
            self.tuples = {}
        return self.dict_rows

    def add(self, table: str, row: dict) -> None:
        try:
            self.dict_rows[table].append(row)
        except KeyError:
            self.dict_rows[table] = [row]

    def unknown(self, prefix: str, obj: dict, known: frozenset) -> None:
        """Keep every key of ``obj`` that is not in ``known`` under ``extra``."""
        if known.issuperset(obj):  # the usual case: nothing to note
            return
        for k in obj:  # in the record's order (a set's order changes with the hash seed)
            if k not in known:
                self.extra[prefix + str(k)] = obj[k]

    def unreadable(self, path: str, value) -> None:
        """A documented field whose value could not be read: null in its column, kept here."""
        if non_finite(value):
            self.invalid(path, value, "not finite")
        else:
            self.extra["_unreadable." + path] = value

    def invalid(self, path: str, value, reason: str) -> None:
        """A number that reads but cannot be right (not finite, out of range): null in its
        column, the value (as text: JSON has no infinity) and the reason kept here, and
        counted in ``sessions.invalid_values`` for the data-quality check."""
        self.extra["_invalid." + path] = {"value": value if isinstance(value, str) else repr(value),
                                          "reason": reason}
        self.n_invalid += 1


def opt_num(flat: Flat, path: str, v):
    """Lenient number: null when absent; unreadable values kept in ``extra``."""
    f = num(v)
    if f is None and not is_nullish(v):
        flat.unreadable(path, v)
    return f


def strict_num(v, path: str):
    return num_strict(v, path)


def number(flat: Flat, path: str, v, *, strict: bool = False, lo=None, hi=None):
    """A number for a column, read the one way every path reads it: absent is null;
    text that is no number raises :class:`Unreadable` (``strict``: the values an
    analysis rests on) or is null and kept; NaN, infinities and values outside
    ``[lo, hi]`` are null with the reason kept (:meth:`Flat.invalid`)."""
    f = num_strict(v, path) if strict else num(v)
    if f is None:
        if non_finite(v):
            flat.invalid(path, v, "not finite")
        elif not strict and not is_nullish(v):
            flat.unreadable(path, v)
        return None
    if lo is not None and not lo <= f <= hi:
        flat.invalid(path, v, f"outside {lo:g}-{hi:g}")
        return None
    return f


_SAFE = re.compile(r"[^0-9A-Za-z._-]+")


_PLAIN = re.compile(r"[0-9a-z][0-9a-z._-]{0,79}")


def _memo_name(names: dict, s) -> str:
    """:func:`safe_name` of ``s``, kept in ``names``."""
    got = names.get(s)
    if got is None:
        got = names[s] = safe_name(s)
    return got


def safe_name(s: str) -> str:
    """A file-name-safe and injective rendering of an id (distinct ids never share a name).

    A short, lower-case name of letters, digits, ``.``, ``_``, ``-`` stays as it is
    (``image_best``); any other becomes a readable part (other characters as ``_``)
    plus ``~`` and 12 hex digits of its SHA-256 (``1462259748_52b13fb5-...~3f09a1c2b4d5``).
    ``~`` never occurs in a name kept as it is, and the digest keeps ``a/b``, ``a_b``
    and ``A_B`` apart, also on case-insensitive file systems.
    """
    s = str(s)
    if _PLAIN.fullmatch(s):
        return s
    readable = _SAFE.sub("_", s).strip("._")[:60] or "_"
    return f"{readable}~{hashlib.sha256(s.encode('utf-8', 'surrogatepass')).hexdigest()[:12]}"


_DATA_URI = re.compile(r"^\s*data:\s*([\w.+-]+/[\w.+-]+)?\s*;\s*base64\s*,", re.I)
_MAGIC = ((b"\xff\xd8\xff", "jpg", "image"), (b"\x89PNG", "png", "image"),
          (b"GIF8", "gif", "image"), (b"RIFF", "webp", "image"))


def media_row(flat: Flat, ctx: Context, field: str, value, *, media_type: str = "image",
              attempt=None, expect: str = "blob", names: dict | None = None) -> None:
    """Record one media reference: a URL, or an inline blob written as a file.

    ``expect`` is ``"blob"`` for fields documented as inline images
    (``data:image/jpeg;base64,…`` or Baidu's bare base64), ``"url"`` for download
    links, ``"any"`` where the documents allow both.  Blobs never go into a table:
    each is named ``media/<source>/<session>/<field>[_<attempt>].<ext>`` here, and
    ingest keeps it as the member ``<session>/<field>[_<attempt>].<ext>`` of its chunk's
    pack (:mod:`faceanalytics.storage.packs`), which the row then names.  ``names``: a
    memo of :func:`safe_name` for a caller naming many images (a chunk's share session
    ids and fields; the session id's name costs a hash).
    """
    if value is None:
        return
    # a tuple in row_fields("media") order: field, attempt, media_type, url, path, n_bytes,
    # sha256, error, then pack and offset (set when the chunk's images are packed)
    if not isinstance(value, str):
        flat.unreadable(field, value)
        _put(flat, "media", (field, attempt, media_type, None, None, None, None,
                             f"not a string: {type(value).__name__}", None, None))
        return
    v = value.strip()
    if not v:
        _put(flat, "media", (field, attempt, media_type, None, None, None, None, "empty (not generated)",
                             None, None))
        return
    if v[:8].lower().startswith(("http://", "https://")):  # the usual value: never a data URI
        _put(flat, "media", (field, attempt, media_type, v, None, None, None, None, None, None))
        return
    m = _DATA_URI.match(v)
    if m is None and expect == "url":
        _put(flat, "media", (field, attempt, media_type, v, None, None, None, None, None, None))
        return
    b64 = v[m.end():] if m else v
    try:
        blob = base64.b64decode(b64.replace("\n", "").replace(" ", ""), validate=True)
    except (binascii.Error, ValueError):
        blob = b""
    if not blob:
        if m is None and expect == "any":
            row = (field, attempt, media_type, v, None, None, None, None, None, None)
        else:  # e.g. the documents' "data:image/jpeg;base64,..." placeholders
            row = (field, attempt, media_type, None, None, None, None, "not valid base64", None, None)
        _put(flat, "media", row)
        return
    ext, kind = "bin", media_type
    for magic, e, k in _MAGIC:
        if blob.startswith(magic):
            ext, kind = e, k
            break
    digest = hashlib.sha256(blob).hexdigest()
    name = field if attempt is None else f"{field}_{attempt}"  # attempts must not overwrite each other
    if names is None:
        rel = f"media/{ctx.source}/{safe_name(ctx.session_id)}/{safe_name(name)}.{ext}"
    else:
        rel = f"media/{ctx.source}/{_memo_name(names, ctx.session_id)}/{_memo_name(names, name)}.{ext}"
    flat.blobs.append((rel, blob))
    _put(flat, "media", (field, attempt, kind, None, rel, len(blob), digest, None, None, None))


def _put(flat: Flat, table: str, row: tuple) -> None:
    """One row of ``table`` as a tuple (:attr:`Flat.tuples`)."""
    try:
        flat.tuples[table].append(row)
    except KeyError:
        flat.tuples[table] = [row]
