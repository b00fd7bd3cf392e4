"""The two secrets rules of the Megvii documents, in one place.

* Will files (the Lite document): a download's first 1024 bytes (space-padded when the
  file is shorter) are encrypted with AES-ECB under the first 32 characters of
  ``api_secret`` (space-padded when shorter), and the ciphertext replaces them.
* Callbacks (``notify_url`` / ``return_url``): ``sign == sha1(api_secret + data)`` in
  lower-case hex, where ``data`` is the JSON text as sent.

The sandbox implements the provider's side on its own (``sandbox/_media.py``,
``sandbox/_megvii.py``), so the tests check these against an independent reading of
the documents.
"""
from __future__ import annotations

import hashlib
import hmac

__all__ = ["will_key", "encrypt_will_file", "decrypt_will_file", "verify_callback_sign", "BLOCK", "media_ext"]

BLOCK = 1024


_BYTES = (bytes, bytearray, memoryview)


def _secret_text(api_secret) -> str:
    """``api_secret`` as text: bytes (``os.environb``) are decoded; any other type is a TypeError
    naming only the type (the value is a secret, never shown)."""
    if isinstance(api_secret, _BYTES):
        try:
            return bytes(api_secret).decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError("api_secret (bytes) is not UTF-8 text") from None
    if api_secret is not None and not isinstance(api_secret, str):
        raise TypeError(f"api_secret is text (str), not {type(api_secret).__name__}")
    return api_secret or ""


def will_key(api_secret: str) -> bytes:
    from .redact import not_utf8

    api_secret = _secret_text(api_secret)
    if not api_secret:
        raise ValueError("api_secret is empty: will files cannot be decrypted without it")
    if not_utf8(api_secret):
        # encoding it failed quoting one of its characters and where it stands
        raise ValueError("api_secret is not UTF-8 text (bytes of another encoding?): its value is not shown")
    return api_secret[:32].ljust(32).encode("utf-8")[:32].ljust(32, b" ")


def _cipher(api_secret: str):
    from Crypto.Cipher import AES

    return AES.new(will_key(api_secret), AES.MODE_ECB)


def encrypt_will_file(plain: bytes, api_secret: str) -> bytes:
    """The provider's side of the rule (for tests and the sandbox)."""
    head = plain[:BLOCK].ljust(BLOCK, b" ")
    return _cipher(api_secret).encrypt(head) + plain[BLOCK:]


# What a decrypted will file (video or audio; an image too) opens with: its extension.
_MAGIC = ((b"ftyp", 4, "mp4"), (b"WAVE", 8, "wav"), (b"AVI ", 8, "avi"), (b"ID3", 0, "mp3"),
          (b"\xff\xfb", 0, "mp3"), (b"\xff\xd8\xff", 0, "jpg"), (b"\x89PNG", 0, "png"), (b"GIF8", 0, "gif"),
          (b"OggS", 0, "ogg"), (b"\x1aE\xdf\xa3", 0, "webm"), (b"FLV", 0, "flv"),
          (b"\x00\x00\x01\xba", 0, "mpg"), (b"\x00\x00\x01\xb3", 0, "mpg"))


def media_ext(data: bytes) -> str | None:
    """The extension of the container ``data`` opens as (its first bytes), None for none of
    :data:`_MAGIC`'s: AES with another account's secret decrypts to such noise, no error."""
    for magic, at, ext in _MAGIC:
        if data[at:at + len(magic)] == magic:
            return ext
    return None


def decrypt_will_file(blob: bytes, api_secret: str, *, strip_padding: bool = True) -> bytes:
    """Decrypt a will_file download (``bytes`` in, ``bytes`` out).

    A download of exactly 1024 bytes came from a file of at most 1024 bytes that was
    space-padded before encryption; the padding is removed unless
    ``strip_padding=False`` (the rule cannot tell a padded file from one that really
    ended in spaces).

    >>> secret = "0123456789abcdef0123456789abcdef"
    >>> decrypt_will_file(encrypt_will_file(b"hello", secret), secret)
    b'hello'
    """
    if not isinstance(blob, _BYTES):
        hint = (": a path? read the file first (open(path, 'rb').read())" if isinstance(blob, str)
                else ": read it first (.read())" if hasattr(blob, "read") else "")
        raise TypeError(f"decrypt_will_file takes the download as bytes, not {type(blob).__name__}{hint}")
    if len(blob) < BLOCK:
        raise ValueError(f"a will_file download has at least {BLOCK} bytes; this one has "
                         f"{len(blob)} (not an encrypted will file, or cut short)")
    head = _cipher(api_secret).decrypt(bytes(blob[:BLOCK]))
    if len(blob) == BLOCK and strip_padding:
        head = head.rstrip(b" ")
    return head + bytes(blob[BLOCK:])


def verify_callback_sign(data: str | bytes, sign: str, api_secret: str) -> bool:
    """``sign == sha1(api_secret + data)`` in lower-case hex, compared in constant time.

    ``data`` is the JSON text as received, or the request body's bytes (its UTF-8): a
    parsed ``dict`` is a TypeError, as re-serialising it would not give the signed text.

    >>> verify_callback_sign('{"a":1}', hashlib.sha1(b'k{"a":1}').hexdigest(), "k")
    True
    """
    if isinstance(data, (dict, list)):
        # request.json instead of the body: the sign covers the text exactly as sent, which
        # json.dumps does not give back (spacing, key order, escapes); False would read "forged"
        raise TypeError("data is the callback's JSON text as received (str, or the body's bytes), "
                        f"not a parsed {type(data).__name__}: the sign covers the exact text")
    api_secret = _secret_text(api_secret)
    if isinstance(sign, _BYTES):
        sign = bytes(sign).decode("ascii", "replace")
    if not isinstance(data, (str, *_BYTES)) or not isinstance(sign, str) or not api_secret:
        return False
    # the body's bytes (request.body) are the text's UTF-8: hashed as they are
    raw = bytes(data) if isinstance(data, _BYTES) else data.encode("utf-8", "surrogatepass")
    expected = hashlib.sha1(api_secret.encode("utf-8", "surrogatepass") + raw).hexdigest()
    sign = sign.strip().lower()
    # compare_digest refuses text that is not ASCII (TypeError): such a sign simply does not match
    return sign.isascii() and hmac.compare_digest(expected, sign)
