"""Bytes the sandbox serves: a tiny valid JPEG and Megvii-encrypted will_file downloads."""
from __future__ import annotations

import base64
import random
import struct

from Crypto.Cipher import AES

ENCRYPTED_PREFIX = 1024


def _segment(marker: int, payload: bytes) -> bytes:
    return struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload


def _tiny_jpeg() -> bytes:
    """An 8x8 mid-grey baseline JPEG (one block, DC difference 0, end-of-block).

    Each Huffman table holds a single one-bit code, so the whole scan is the bits
    ``00`` padded with ones: 0x3F. Decoders (libjpeg, ImageMagick) read it.
    """
    jfif = b"JFIF\x00" + struct.pack(">BBBHHBB", 1, 1, 0, 1, 1, 0, 0)
    dqt = b"\x00" + bytes([1] * 64)
    sof0 = struct.pack(">BHHB", 8, 8, 8, 1) + b"\x01\x11\x00"
    one_code = bytes([1] + [0] * 15) + b"\x00"
    dht_dc = b"\x00" + one_code
    dht_ac = b"\x10" + one_code
    sos = b"\x01" + b"\x01\x00" + b"\x00\x3f\x00"
    return (b"\xff\xd8" + _segment(0xE0, jfif) + _segment(0xDB, dqt) + _segment(0xC0, sof0)
            + _segment(0xC4, dht_dc) + _segment(0xC4, dht_ac) + _segment(0xDA, sos)
            + b"\x3f" + b"\xff\xd9")


TINY_JPEG = _tiny_jpeg()
TINY_JPEG_B64 = base64.b64encode(TINY_JPEG).decode("ascii")
TINY_JPEG_DATA_URI = "data:image/jpeg;base64," + TINY_JPEG_B64


def will_key(api_secret: str) -> bytes:
    """Megvii's rule: the first 32 characters of api_secret, space-padded to 32."""
    return api_secret[:32].ljust(32).encode("utf-8")[:32]


def encrypt_will_file(plain: bytes, api_secret: str) -> bytes:
    """Encrypt a will_file download as Megvii does: AES-ECB over the first 1024 bytes
    (space-padded when the file is shorter), which replace those bytes."""
    head = plain[:ENCRYPTED_PREFIX].ljust(ENCRYPTED_PREFIX, b" ")
    return AES.new(will_key(api_secret), AES.MODE_ECB).encrypt(head) + plain[ENCRYPTED_PREFIX:]


_HEADERS = {
    "mp4": b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom",
    "wav": b"RIFF\x00\x00\x00\x00WAVEfmt ",
    "jpg": TINY_JPEG[:20],
}


def media_plaintext(seed: int, name: str) -> bytes:
    """The synthetic file behind a media name: a few KB, about a third under 1024 bytes."""
    rng = random.Random(f"{seed}:media:{name}")
    size = rng.randint(200, 1000) if rng.random() < 0.35 else rng.randint(1500, 6000)
    header = _HEADERS.get(name.rsplit(".", 1)[-1], b"")
    if name.endswith(".jpg"):
        return TINY_JPEG
    return header + rng.randbytes(max(size - len(header), 0))
