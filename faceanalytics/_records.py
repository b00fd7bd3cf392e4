"""Reading one raw line: an envelope, or a bare payload when a source is given.

Envelope: ``{"source", "session_id", "fetched_at", "http_status", "payload"}``.
"""
from __future__ import annotations

import json

import numpy as np
import orjson

from ._coerce import _STRINGS, MAX_VALUES, Unreadable, check_time, dense_values, integer, iso_to_us, text
from .flatten import MAX_DEPTH, MAX_LINE, session_id_of
from .schema import BAIDU_SOURCES, SOURCES

__all__ = ["Record", "read_record", "make_envelope", "parse_json", "line_problem", "dense_values",
           "dense_stand_in", "MAX_LINE", "MAX_DEPTH", "MAX_VALUES"]

# What stands for a line cut as it was read (pipeline._chunks.over_long_line): not JSON.
OVER_LONG = b"\x00faceanalytics: over-long line of "
# What stands, once archived whole, for a line of more values than any record has
# (:func:`dense_stand_in`): not JSON either.
OVER_DENSE = b"\x00faceanalytics: over-dense line of "


def nesting_depth(line: bytes) -> int:
    """How deep objects and arrays nest in ``line`` (brackets inside strings do not count)."""
    a = np.frombuffer(_STRINGS.sub(b"", line), np.uint8)
    step = (a == 123).astype(np.int32) + (a == 91) - (a == 125) - (a == 93)  # { [ } ]
    return int(np.cumsum(step).max(initial=0))


def dense_stand_in(line: bytes, n: int, keep: int = 1 << 16) -> bytes:
    """What the parsers see instead of a line of ``n`` values (the raw archive keeps the
    line whole): every value of a record becomes Python objects and rows (5,000,000
    ``{}`` in one 15 MB ``will_result`` peaked at 1.8 GB), so such a line is quarantined
    with its value count and first bytes."""
    return OVER_DENSE + b"%d values, the first %d bytes: " % (n, min(keep, len(line))) + line[:keep].replace(b"\n", b" ")


def line_problem(line: bytes) -> str | None:
    """Why ``line`` must not be parsed (too long, nested too deep, too many values), or None."""
    if line.startswith(OVER_LONG):  # cut as it was read (pipeline._chunks.iter_chunks)
        n = int(line[len(OVER_LONG):].split(b" ", 1)[0])
        return f"line of {n:,} bytes is over the {MAX_LINE:,}-byte limit (only its first bytes were kept)"
    if line.startswith(OVER_DENSE):  # pipeline.ingest.Ingestor._read, once archived
        n = int(line[len(OVER_DENSE):].split(b" ", 1)[0])
        return f"line of {n:,} values is over the limit of {MAX_VALUES:,} (the raw archive keeps it whole)"
    if len(line) > MAX_LINE:
        return f"line of {len(line):,} bytes is over the {MAX_LINE:,}-byte limit"
    # Depth needs at least that many openers: count them (in C) before walking the line.
    if line.count(b"{") + line.count(b"[") > MAX_DEPTH:
        d = nesting_depth(line)
        if d > MAX_DEPTH:
            return f"nested {d:,} levels deep, over the limit of {MAX_DEPTH}"
    n = dense_values(line)
    if n:
        return f"line of {n:,} values is over the limit of {MAX_VALUES:,}"
    return None


def parse_json(line):
    """The one bounded JSON parser every raw record and callback body goes through:
    depth and size are checked first; ``NaN``/``Infinity`` and numbers beyond a double
    are read (as Arrow's reader reads them) so that the field rules, not the parser,
    decide what they are worth.  Raises :class:`Unreadable` with the reason."""
    if isinstance(line, str):
        line = line.encode("utf-8", "surrogatepass")
    problem = line_problem(line)
    if problem is not None:
        raise Unreadable(problem)
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError as e:
        try:
            # orjson refuses a lone UTF-16 surrogate escape ("\ud800"); the standard parser
            # reads it, and it becomes U+FFFD here: no table can hold it (Parquet text is
            # UTF-8), and the raw archive keeps the line as it came.
            # UTF-8 only: handed bytes, json sniffs UTF-16 and UTF-32 too, and every line but
            # the first of a UTF-16 file (cut at its newline bytes, shifted a byte) read as
            # valid UTF-16-BE: one record of the file landed, the rest were "not valid JSON".
            return _no_lone_surrogates(json.loads(line.decode("utf-8")))
        except (ValueError, RecursionError):
            pass
        if _utf16(line):
            raise Unreadable("UTF-16 text, not UTF-8 (a NUL byte between its characters; save the file "
                             "as UTF-8)") from None
        s = line.decode("utf-8", "replace").strip()
        if s.startswith("{'") or s.startswith("[{'") or ("'" in s[:40] and '"' not in s[:40]):
            raise Unreadable("single-quoted pseudo-JSON (a Python repr?), not JSON") from None
        if not s:
            raise Unreadable("empty line") from None
        raise Unreadable(f"not valid JSON: {str(e).split(':')[0]}") from None


def _utf16(line: bytes) -> bool:
    """Whether ``line`` looks like UTF-16 text: a byte-order mark, or a NUL in every other
    byte of its start (what Excel's "Unicode text" and PowerShell's ``>`` write)."""
    head = line[:64]
    return head.startswith((b"\xff\xfe", b"\xfe\xff")) or (len(head) >= 8 and head.count(0) * 3 >= len(head))


def _no_lone_surrogates(obj):
    if isinstance(obj, str):
        try:
            obj.encode("utf-8")
            return obj
        except UnicodeEncodeError:
            return obj.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if isinstance(obj, dict):
        return {_no_lone_surrogates(k): _no_lone_surrogates(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_no_lone_surrogates(v) for v in obj]
    return obj


class Record:
    __slots__ = ("source", "session_id", "fetched_us", "http_status", "payload")

    def __init__(self, source, session_id, fetched_us, http_status, payload):
        self.source = source
        self.session_id = session_id
        self.fetched_us = fetched_us
        self.http_status = http_status
        self.payload = payload


def read_record(line, source_hint: str | None, received_us: int) -> Record:
    """Parse one line; raise :class:`Unreadable` with the reason it cannot be read."""
    if source_hint == "megvii_notify" and _is_form_body(line):
        # A callback body logged as received: ``data=...&sign=...`` (form-encoded).
        body = (line.decode("utf-8", "replace") if isinstance(line, (bytes, bytearray))
                else str(line)).strip()
        sid = session_id_of(_notify_dict(body))
        if sid is None:
            raise Unreadable("no session id: the callback's data has no biz_id")
        return Record(source_hint, sid, received_us, None, body)
    obj = parse_json(line)
    if not isinstance(obj, dict):
        raise Unreadable(f"not a JSON object ({type(obj).__name__})")
    if "payload" in obj and ("source" in obj or source_hint):
        source = obj.get("source", source_hint)
        if not isinstance(source, str) or source not in SOURCES:
            raise Unreadable(f"unknown source {str(source)[:40]!r}")
        payload = obj["payload"]
        if isinstance(payload, str) and source != "megvii_notify" and payload.lstrip()[:1] == "{":
            try:
                payload = parse_json(payload)
            except Unreadable as e:
                raise Unreadable(f"payload is text that is not valid JSON ({e})") from None
        fetched = obj.get("fetched_at")
        fetched_us = iso_to_us(fetched) if isinstance(fetched, str) else None
        if fetched_us is None:
            raise Unreadable("envelope fetched_at is missing or not ISO-8601")
        check_time(fetched_us, fetched, "envelope fetched_at")
        sid = text(obj.get("session_id")) if not isinstance(obj.get("session_id"), (dict, list)) else None
        http_status = integer(obj.get("http_status"))
    elif source_hint:
        if source_hint in BAIDU_SOURCES:
            raise Unreadable("a bare Baidu payload carries no verify_token: wrap it in an envelope")
        source, payload, sid, http_status, fetched_us = source_hint, obj, None, None, received_us
    elif "source" in obj:
        raise Unreadable("envelope has no payload")
    else:
        raise Unreadable("not an envelope (no source/payload) and no --source given")
    if sid is None and source not in BAIDU_SOURCES:
        sid = session_id_of(payload if not isinstance(payload, str) else _notify_dict(payload))
    if sid is None:
        raise Unreadable("no session id: the envelope has no session_id and the payload no biz_id")
    return Record(source, sid, fetched_us, http_status, payload)


def _is_form_body(line) -> bool:
    s = line.strip() if isinstance(line, (bytes, bytearray)) else str(line).strip().encode()
    return s.startswith(b"data=") or (s[:1] not in (b"{", b"[") and b"&data=" in s)


def _notify_dict(payload: str):
    from .flatten.megvii import read_callback
    try:
        data, _, _ = read_callback(payload)
    except Exception:
        return None
    return {"data": data}


def make_envelope(source: str, session_id: str, fetched_at: str, http_status, body: bytes) -> bytes:
    """An archive line for a response body, keeping the body's bytes as received.

    A JSON body is embedded verbatim; anything else is kept as a string under
    ``"body"`` so nothing is lost.
    """
    head = orjson.dumps({"source": source, "session_id": session_id, "fetched_at": fetched_at,
                         "http_status": http_status})[:-1]
    if dense_values(body):  # not parsed even to check it (see dense_values): kept as text
        return head + b',"payload":null,"body":' + orjson.dumps(body.decode("utf-8", "replace")) + b"}"
    try:
        orjson.loads(body)
        ok = b"\n" not in body and b"\r" not in body
    except orjson.JSONDecodeError:
        ok = False
    if ok:
        return head + b',"payload":' + body.strip() + b"}"
    try:
        parsed = orjson.loads(body)
        return head + b',"payload":' + orjson.dumps(parsed) + b"}"
    except orjson.JSONDecodeError:
        return head + b',"payload":null,"body":' + orjson.dumps(body.decode("utf-8", "replace")) + b"}"
