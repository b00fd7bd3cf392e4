"""Masking of personal data in tidy tables.

An ID number becomes ``id_number_hash`` (HMAC-SHA256 under a key kept in the data
directory, so the same number hashes the same across runs and can be counted
and joined) plus ``id_number_last4``; names keep their first character, addresses
their first three (province level), birth dates their year.  ``keep_pii=True``
also writes the plain values.

The key is ``DATA/state/pii.key``, created once (exclusively: by ``O_EXCL``-style
link locally, by a conditional PUT ``If-None-Match: *`` on S3) and owner-only on
local disk.  On S3 there are no file modes: whoever may read ``state/`` can undo
the hashing of ID numbers by brute force, so give analysts read access to
``tables/`` only.
"""
from __future__ import annotations

import hashlib
import os
import re
import secrets
from ._fs import atomic_write_bytes, data_path

KEY_FILE = "state/pii.key"

_ID_RE = re.compile(r"(?<![0-9A-Za-z])(\d{6})(\d{8})(\d{3}[0-9Xx])(?![0-9A-Za-z])")


def load_or_create_key(data_dir) -> bytes:
    path = data_path(data_dir) / KEY_FILE
    try:
        return bytes.fromhex(path.read_text().strip())
    except FileNotFoundError:
        pass
    key = secrets.token_bytes(32)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        atomic_write_bytes(path, key.hex().encode(), mode=0o600, exclusive=True)
    except FileExistsError:  # another process made it first
        return bytes.fromhex(path.read_text().strip())
    return key


class Masker:
    __slots__ = ("_key", "keep_pii", "_cache")

    def __init__(self, key: bytes, keep_pii: bool = False):
        self._key = key
        self.keep_pii = keep_pii
        self._cache: dict[str, str] = {}

    def id_number(self, v):
        """-> (hash, last4, plain or None)."""
        if not isinstance(v, str) or not v.strip():
            if isinstance(v, int) and not isinstance(v, bool):
                v = str(v)
            else:
                return None, None, None
        s = v.strip().upper()
        h = self._cache.get(s)
        if h is None:
            # Keyed BLAKE2b is a MAC (RFC 7693 §2.5) and one C call, several times hmac's speed.
            h = hashlib.blake2b(s.encode(), key=self._key, digest_size=10).hexdigest()
            if len(self._cache) < 100_000:
                self._cache[s] = h
        return h, s[-4:], (s if self.keep_pii else None)

    def id_numbers(self, arr):
        """Vectorised :meth:`id_number` over an Arrow string array -> three arrays."""
        import pyarrow as pa
        import pyarrow.compute as pc

        norm = pc.utf8_upper(pc.utf8_trim_whitespace(arr))
        norm = pc.if_else(pc.equal(norm, ""), pa.scalar(None, pa.string()), norm)
        uniq = pc.unique(norm).drop_null()
        key = self._key
        b2 = hashlib.blake2b
        hashes = pa.array([b2(s.encode(), key=key, digest_size=10).hexdigest()
                           for s in uniq.to_pylist()], pa.string())
        h = hashes.take(pc.index_in(norm, value_set=uniq))
        last4 = pc.utf8_slice_codeunits(norm, -4)
        plain = norm if self.keep_pii else pa.nulls(len(arr), pa.string())
        return h, last4, plain

    def names(self, arr):
        """Vectorised :meth:`name`."""
        import pyarrow.compute as pc

        if self.keep_pii:
            return arr
        arr = pc.if_else(pc.equal(arr, ""), None, arr)
        stars = pc.binary_repeat("*", pc.max_element_wise(pc.subtract(pc.utf8_length(arr), 1), 0))
        return pc.binary_join_element_wise(pc.utf8_slice_codeunits(arr, 0, 1), stars, "")

    def addresses(self, arr):
        """Vectorised :meth:`address`."""
        import pyarrow.compute as pc

        if self.keep_pii:
            return arr
        arr = pc.if_else(pc.equal(arr, ""), None, arr)
        return pc.binary_join_element_wise(pc.utf8_slice_codeunits(arr, 0, 3), "***", "")

    def name(self, v):
        if not isinstance(v, str) or not v:
            return None
        return v if self.keep_pii else v[0] + "*" * (len(v) - 1)

    def address(self, v):
        if not isinstance(v, str) or not v:
            return None
        return v if self.keep_pii else v[:3] + "***"

    def plain(self, v):
        """A value kept only with keep_pii (e.g. a full birth date)."""
        return v if self.keep_pii else None


def mask_id_numbers(text: str) -> str:
    """Mask every 18-character PRC ID number in free text (keeps the last four)."""
    return _ID_RE.sub(lambda m: "*" * 14 + m.group(3), text)


def secret_free(text: str, *secrets_: str) -> str:
    for s in secrets_:
        if s:
            text = text.replace(s, "***")
    return text


def owner_only(path) -> None:
    try:
        os.chmod(path, 0o600)
    except OSError:
        pass
