"""argparse value types shared by ``faceanalytics`` and ``faceanalytics sandbox`` (a leaf:
the sandbox's command line must not import the main one, which imports the sandbox)."""
from __future__ import annotations

import argparse

__all__ = ["port_number", "byte_count"]


def port_number(s: str) -> int:
    """``--port``: 0 to 65535 (argparse's one-line error otherwise, not a traceback from bind())."""
    try:
        port = int(s)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"a port is a number from 0 to 65535, not {s!r}")
    return port


def byte_count(least: int, most: int | None = None):
    """An argparse type for a size in bytes from ``least`` to ``most``: ``--max-body -5``
    had the receiver answer every callback 413 (all lost to a typo), and a body limit of
    ``99999999999999999999`` let one request hold as many bytes in memory (16 at once)."""
    def parse(s: str) -> int:
        try:
            n = int(s)
        except ValueError:
            n = None
        if n is None or n < least or most is not None and n > most:
            span = f"from {least:,} to {most:,}" if most is not None else f"of at least {least:,}"
            raise argparse.ArgumentTypeError(f"a number of bytes {span}, not {s!r}")
        return n

    parse.__name__ = "byte count"
    return parse
