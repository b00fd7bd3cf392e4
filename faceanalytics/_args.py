"""argparse value types shared by ``faceanalytics`` and ``faceanalytics sandbox`` (a leaf:
the sandbox's command line must not import the main one, which imports the sandbox)."""
from __future__ import annotations

import argparse

__all__ = ["port_number"]


def port_number(s: str) -> int:
    """``--port``: 0 to 65535 (argparse's one-line error otherwise, not a traceback from bind())."""
    try:
        port = int(s)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"a port is a number from 0 to 65535, not {s!r}")
    return port
