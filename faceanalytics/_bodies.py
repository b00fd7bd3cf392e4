"""Reading a request body within a deadline, for the package's two HTTP servers (the
callback receiver, :mod:`faceanalytics.pipeline.receive`, and the sandbox)."""
from __future__ import annotations

import time

__all__ = ["read_body"]


def read_body(rfile, conn, length: int, deadline: float) -> bytes | None:
    """Read exactly ``length`` bytes within ``deadline`` seconds in all (a client
    dribbling a byte at a time cannot hold a slot for long); None if it did not."""
    end = time.monotonic() + deadline
    buf = bytearray()
    while len(buf) < length:
        left = end - time.monotonic()
        if left <= 0:
            return None
        conn.settimeout(min(left, 15.0))
        try:
            chunk = rfile.read1(min(length - len(buf), 64 << 10))
        except OSError:  # timeout or reset
            return None
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)
