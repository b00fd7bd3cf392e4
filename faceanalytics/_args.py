"""argparse value types, and the message for a port that cannot be listened on, shared by
``faceanalytics`` and ``faceanalytics sandbox`` (a leaf: the sandbox's command line must not
import the main one, which imports the sandbox)."""
from __future__ import annotations

import argparse
import errno
import socket

__all__ = ["port_number", "byte_count", "listen_error"]


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


def listen_error(exc: OSError, host: str, port: int, port_option: str = "--port") -> str | None:
    """One line for a server that could not bind ``host:port``, or None when ``exc`` is not
    about the address.  The bare ``[Errno 98] Address already in use`` named neither the
    address nor what to change."""
    where = f"cannot listen on {host}:{port}"
    if isinstance(exc, socket.gaierror):
        return f"{where}: no such host {host!r} (give an address of this machine, e.g. 127.0.0.1)"
    if exc.errno == errno.EADDRINUSE:
        return f"{where}: the port is in use (another server holds it); choose another {port_option}"
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"{where}: {host} is not an address of this machine"
    return None
