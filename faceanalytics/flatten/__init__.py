"""Pure flatteners: one raw record in, rows of tidy tables out.

``flatten_record(record, ctx)`` takes a parsed envelope and returns a
:class:`Flat`, or raises :class:`Unreadable` with the reason the record goes to
``quarantine``.  Nothing here does I/O.
"""
from __future__ import annotations

from .._coerce import Unreadable
from . import baidu, megvii
from ._common import MAX_DEPTH, MAX_LINE, Context, Flat, safe_name
from .megvii import biz_id_epoch_us, session_id_of

FLATTENERS = {
    "megvii_lite": megvii.flatten_megvii,
    "megvii_liveness": megvii.flatten_megvii,
    "megvii_notify": megvii.flatten_notify,
    "baidu_detail": baidu.flatten_detail,
    "baidu_simple": baidu.flatten_simple,
    "baidu_stat": baidu.flatten_stat,
    "baidu_getall": baidu.flatten_getall,
    "baidu_media": baidu.flatten_media,
}


def flatten_payload(source: str, payload, ctx: Context) -> Flat:
    fn = FLATTENERS.get(source)
    if fn is None:
        raise Unreadable(f"unknown source {source!r}")
    if source != "megvii_notify" and not isinstance(payload, dict):
        raise Unreadable(f"payload is not a JSON object ({type(payload).__name__})")
    flat = Flat()
    fn(payload, ctx, flat)
    # When the verification happened: the provider's own time, else the epoch that
    # leads a Megvii biz_id (the token's creation), else when it was fetched.
    s = flat.session
    if s.get("verify_time") is not None:
        flat.session_time_us, flat.time_basis = s["verify_time"], "verify_time"
    else:
        t = biz_id_epoch_us(s.get("biz_id") or ctx.session_id) if source.startswith("megvii") else None
        if t is not None:
            flat.session_time_us, flat.time_basis = t, "biz_id"
    return flat


__all__ = ["Context", "Flat", "Unreadable", "FLATTENERS", "flatten_payload", "session_id_of",
           "safe_name", "flatten_fast", "parse_chunk", "read_chunk", "MAX_LINE", "MAX_DEPTH"]


def __getattr__(name: str):
    """The columnar path (:mod:`._fast`: Arrow's JSON reader), imported on first use."""
    if name == "flatten_fast":
        from ._columnar import flatten_fast

        return flatten_fast
    if name == "read_chunk":
        from ._columnar import read_chunk

        return read_chunk
    if name == "parse_chunk":
        from ._fast import parse_chunk

        return parse_chunk
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
