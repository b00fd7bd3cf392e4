"""Columnar fast path for the bulk of Megvii results (Lite and web liveness v2).

A chunk of lines is parsed by Arrow's multithreaded JSON reader and the tidy
tables are cut out of the nested columns with vectorised kernels, instead of
walking every payload in Python.  It handles only what it can prove it handles
exactly like the Python flatteners (``megvii.py``): a row with any field this
module does not know, a value of a type it does not expect, images, will
results, error bodies, callbacks or Baidu payloads is handed back to the Python
path.  ``tests/test_fast_path.py`` checks both paths give the same tables.
"""
from __future__ import annotations

import logging
import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from .._coerce import (_NULL_STRINGS, TIME_MAX_US, TIME_MIN_US, epoch_to_us, in_window, integer,
                       iso_to_us, num, text)
from .._records import MAX_LINE
from ..schema import (CONFIDENCE_RANGE, GENUINENESS_RANGE, VERIFY_ERROR_BILLED, columns,
                      file_schema)
from .megvii import _LEGALITY, _PII_QUALITY_FIELDS, ATTACKS, _level_column

FAST_SOURCES = ("megvii_lite", "megvii_liveness")
_log = logging.getLogger(__name__)

_NULLS: list = []  # built on first use: pa.array() of Python objects imports pandas


def _nulls() -> pa.Array:
    if not _NULLS:
        _NULLS.append(pa.array(sorted(_NULL_STRINGS), pa.string()))
    return _NULLS[0]
_ENVELOPE_KEYS = {"source", "session_id", "fetched_at", "http_status", "payload"}

# Known leaves: path -> kind.  Kinds: str, int, float, epoch, raw (an ID number, as given).
_TOP = {
    ("request_id",): "str", ("status",): "str", ("fail_reason",): "str", ("time_used",): "int",
    ("multifaces_tag",): "int", ("verify_time",): "epoch",
    ("biz_info", "biz_id"): "str", ("biz_info", "biz_no"): "str",
    ("biz_info", "biz_extra_data"): "str",
    ("biz_id",): "str", ("biz_no",): "str", ("biz_extra_data",): "str",
    ("liveness_result", "result"): "str", ("liveness_result", "procedure_type"): "str",
    ("liveness_result", "failure_reason"): "str", ("liveness_result", "version"): "str",
    ("liveness_result", "log"): "str",
    ("verify_result", "verify_time"): "epoch", ("verify_result", "request_id"): "str",
    ("verify_result", "time_used"): "int", ("verify_result", "error_message"): "str",
    ("verify_result", "id_exceptions", "id_attacked"): "int",
    ("verify_result", "id_exceptions", "id_photo_monochrome"): "int",
    ("idcard_info", "idcard_mode"): "str", ("idcard_info", "idcard_mode_user"): "str",
    ("idcard_info", "idcard_uneditable_field"): "str",
    ("idcard_info", "idcard_uneditable_feild"): "str",
    ("idcard_info", "idcard_number"): "raw", ("idcard_info", "idcard_name"): "str",
    ("idcard_info", "idcard_valid_date"): "str", ("idcard_info", "idcard_issued_by"): "str",
    ("idcard_info", "front_side", "upload_times"): "int",
    ("idcard_info", "back_side", "upload_times"): "int",
}
_OCR_FIELDS = {"address": "str", "gender": "str", "id_card_number": "raw", "name": "str",
               "race": "str", "issued_by": "str", "valid_date": "str"}
_BIRTHDAY = {"year", "month", "day"}
_QUALITY = {"quality": "float", "logic": "int", "result": "str"}
_KNOWN_STRUCTS = {(), ("biz_info",), ("liveness_result",), ("liveness_result", "details"),
                  ("liveness_result", "face_genuineness"), ("verify_result",),
                  ("verify_result", "face_genuineness"), ("verify_result", "id_exceptions"),
                  ("idcard_info",), ("idcard_info", "front_side"), ("idcard_info", "back_side")}
_PY = {"str": text, "int": integer, "float": num, "epoch": epoch_to_us,
       "raw": lambda v: v if isinstance(v, str) else None}
_RANGE = {"conf": CONFIDENCE_RANGE, "gen": GENUINENESS_RANGE}


def classify(path: tuple) -> str | None:
    """The kind of a leaf the fast path reads, or None (the row goes to Python)."""
    kind = _TOP.get(path)
    if kind is not None:
        return kind
    n = len(path)
    if n == 3 and path[:2] == ("liveness_result", "details"):
        return "int"
    if n == 3 and path[1] == "face_genuineness" and path[0] in ("liveness_result", "verify_result"):
        # A new attack is discovered by its ``_confidence`` key (as in megvii.py).
        if path[2].endswith("_confidence") or path[2][: -len("_threshold")] in ATTACKS:
            return "gen"
        return None
    if n >= 3 and path[0] == "verify_result" and path[1].startswith("result_"):
        if n == 3 and path[2] == "confidence":
            return "conf"
        if n == 4 and path[2] == "thresholds" and _level_column(path[3]) is not None:
            return "conf"
        return None
    if n >= 4 and path[0] == "idcard_info" and path[1] in ("front_side", "back_side") \
            and path[2] == "ocr_result":
        if n == 4:
            return _OCR_FIELDS.get(path[3])
        if n == 5 and path[3] == "birthday" and path[4] in _BIRTHDAY:
            return "int"
        if n == 5 and path[3] == "legality" and " ".join(path[4].split()).lower() in _LEGALITY:
            return "float"
        return None
    if n == 4 and path[0] == "idcard_info" and path[1] in ("ocr_front_quality", "ocr_back_quality"):
        return _QUALITY.get(path[3])
    return None


def _struct_known(path: tuple) -> bool:
    if path in _KNOWN_STRUCTS:
        return True
    n = len(path)
    if n == 2 and path[0] == "verify_result" and path[1].startswith("result_"):
        return True
    if n == 3 and path[0] == "verify_result" and path[1].startswith("result_") and path[2] == "thresholds":
        return True
    if path[:1] == ("idcard_info",) and n >= 3 and path[1] in ("front_side", "back_side"):
        return path[2:] in (("ocr_result",), ("ocr_result", "birthday"), ("ocr_result", "legality"))
    if n in (2, 3) and path[0] == "idcard_info" and path[1] in ("ocr_front_quality", "ocr_back_quality"):
        return True
    return False


def _walk(arr: pa.Array, path: tuple, leaves: dict, structs: dict, bad: list) -> None:
    if pa.types.is_struct(arr.type):
        if not _struct_known(path):
            bad.append(arr.is_valid())
            return
        structs[path] = arr.is_valid()
        for f, child in zip(arr.type, arr.flatten()):
            _walk(child, path + (f.name,), leaves, structs, bad)
        return
    kind = classify(path)
    if kind is None:
        bad.append(arr.is_valid())
    else:
        leaves[path] = (kind, arr)


def _convert(kind: str, arr: pa.Array):
    """-> (values, rows that need Python).  Native types are converted in C++."""
    t = arr.type
    if pa.types.is_null(t):
        return arr, None
    if kind == "str" and pa.types.is_string(t):
        nullish = pc.or_(pc.is_in(arr, value_set=_nulls()),
                         pc.equal(pc.utf8_trim_whitespace(arr), ""))
        return pc.if_else(nullish, pa.scalar(None, pa.string()), arr), None
    if kind == "raw" and pa.types.is_string(t):
        return arr, None
    if kind == "int" and pa.types.is_integer(t):
        return arr.cast(pa.int64()), None
    if kind == "int" and pa.types.is_floating(t):  # the reader reads every number as float64
        whole = pc.fill_null(pc.and_(pc.is_finite(arr), pc.equal(pc.floor(arr), arr)), False)
        return (pc.if_else(whole, arr, pa.scalar(None, t)).cast(pa.int64()),
                pc.and_(arr.is_valid(), pc.invert(whole)))
    rng = _RANGE.get(kind)
    if rng is not None:
        kind = "float"
    if kind == "float" and (pa.types.is_integer(t) or pa.types.is_floating(t)):
        f = arr.cast(pa.float64())
        # NaN, infinities and out-of-range confidences: the Python path nulls them and
        # keeps the reason, so their rows go there.
        bad = pc.invert(pc.is_finite(f))
        if rng is not None:
            bad = pc.or_(bad, pc.or_(pc.less(f, rng[0]), pc.greater(f, rng[1])))
        bad = pc.fill_null(bad, False)
        return f, (bad if pc.any(bad).as_py() else None)
    if kind == "epoch" and (pa.types.is_integer(t) or pa.types.is_floating(t)):
        f = arr.cast(pa.float64()).to_numpy(zero_copy_only=False)
        with np.errstate(invalid="ignore"):
            f = np.where(f > 4102444800 * 100, f / 1000.0, f)
            ok = (f >= TIME_MIN_US // 1_000_000) & (f <= TIME_MAX_US // 1_000_000)
        us = np.where(ok, np.round(np.nan_to_num(f) * 1_000_000), 0).astype(np.int64)
        present = np.asarray(arr.is_valid())
        return pa.array(us, pa.int64(), mask=~(present & ok)), pa.array(present & ~ok)
    if kind in ("int", "float") and pa.types.is_string(t):
        # Numbers sent as text ("1991", "68.918"): Arrow's cast when every value is plain.
        try:
            out = arr.cast(pa.int64() if kind == "int" else pa.float64())
            if kind == "int":
                return out, None
            bad = pc.invert(pc.is_finite(out))
            if rng is not None:
                bad = pc.or_(bad, pc.or_(pc.less(out, rng[0]), pc.greater(out, rng[1])))
            if not pc.any(pc.fill_null(bad, False)).as_py():
                return out, None
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
    # Anything else goes through the same coercion as the Python path; a value that
    # would need a note in ``extra`` sends its row there.
    py = _PY[kind]
    values = arr.to_pylist()
    out = [py(v) for v in values]
    need = [v is not None and o is None for v, o in zip(values, out)]
    if rng is not None:
        need = [nd or (o is not None and not rng[0] <= o <= rng[1]) for nd, o in zip(need, out)]
    typ = {"str": pa.string(), "raw": pa.string(), "int": pa.int64(), "float": pa.float64(),
           "epoch": pa.int64()}[kind]
    return pa.array(out, typ), pa.array(need, pa.bool_())


class FastResult:
    """Rows for the records the fast path took, and the line numbers it did not."""

    __slots__ = ("lines", "source", "session_id", "fetched_us", "session_time_us", "ok",
                 "tables", "slow")

    def __init__(self):
        self.lines: list[int] = []
        self.tables: dict[str, pa.Table] = {}
        self.slow: list[int] = []


_ROW = re.compile(r"in row (\d+)")
_DETAIL_KEYS = ("UPLOAD_TIMES", "FACE_NOT_FOUND", "SIDE_FACE", "UPDOWN_FACE", "EYE_OCCLUSION",
                "MOUTH_OCCLUSION", "AWAY_FROM_CAMERA", "CLOSE_TO_CAMERA", "FACE_OUT_OF_CAMERA",
                "HIGH_BRIGHTNESS", "LOW_BRIGHTNESS", "LOW_FACE_QUALITY", "INVALID_VIDEO_DURATION",
                "SR_ERROR", "NOT_SYNCHRONIZED", "VIDEO_FORMAT_UNSUPPORTED", "NO_AUDIO")
_COMPARISONS = ("faceid", "ref1", "ref2", "ref3", "idcard_photo", "idcard_datasource")
_QUALITY_FIELDS = {"front": ("gender", "address", "idcard_number", "name", "birth_month",
                             "birth_day", "nationality", "birth_year"),
                   "back": ("issued_by", "valid_date_end", "valid_date_start")}


def _payload_schema() -> pa.DataType:
    """The documented leaves' types, given to Arrow's JSON reader: a value of another
    type then fails on *its* row (not on whichever row happened to come first), so
    that row alone goes to Python.  Numbers are all read as float64, so no
    conversion can fail without naming its row.  Fields not listed are inferred."""
    F, S = pa.float64(), pa.string()
    spec: dict = {}
    for path, kind in _TOP.items():
        node = spec
        for k in path[:-1]:
            node = node.setdefault(k, {})
        node[path[-1]] = S if kind in ("str", "raw") else F
    vr = spec.setdefault("verify_result", {})
    for c in _COMPARISONS:
        vr[f"result_{c}"] = {"confidence": F,
                             "thresholds": {lv: F for lv in ("1e-3", "1e-4", "1e-5", "1e-6")}}
    for block in (spec.setdefault("liveness_result", {}), vr):
        block["face_genuineness"] = {f"{a}_{x}": F for a in ATTACKS for x in ("confidence", "threshold")}
    spec["liveness_result"]["details"] = {k: F for k in _DETAIL_KEYS}
    idc = spec.setdefault("idcard_info", {})
    for side in ("front", "back"):
        ocr = {k: S for k in _OCR_FIELDS}
        ocr["birthday"] = {k: S for k in sorted(_BIRTHDAY)}
        ocr["legality"] = {k: F for k in ("ID Photo", "Temporary ID Photo ", "Temporary ID Photo",
                                          "Photocopy", "Screen", "Edited")}
        idc.setdefault(f"{side}_side", {})["ocr_result"] = ocr
        idc[f"ocr_{side}_quality"] = {f: {"quality": F, "logic": F, "result": S}
                                      for f in _QUALITY_FIELDS[side]}

    def tree(node: dict) -> pa.DataType:
        return pa.struct([(k, tree(v) if isinstance(v, dict) else v) for k, v in node.items()])

    return tree(spec)


_PAYLOAD = _payload_schema()
_SCHEMAS = {
    "bare": pa.schema(list(_PAYLOAD)),
    "envelope": pa.schema([("source", pa.string()), ("session_id", pa.string()),
                           ("fetched_at", pa.string()), ("http_status", pa.float64()),
                           ("payload", _PAYLOAD)]),
}
_ERRORS = (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError)


def _read(buf: pa.Buffer, schema: pa.Schema | None, mode: str) -> pa.Table:
    """Read JSON lines; ``schema=None`` infers every type (about twice as fast as
    materialising the whole documented schema, so it is tried first).

    ``mode``: "threads" (4 MiB blocks on Arrow's threads: least wall time), "one"
    (4 MiB blocks on this thread: least CPU, for callers that already keep every
    core busy) or "whole" (one block, so an error names its row in the buffer)."""
    block = buf.size + 1 if mode == "whole" else 4 << 20
    opts = (pj.ParseOptions(newlines_in_values=False) if schema is None else
            pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="infer",
                            newlines_in_values=False))
    return pj.read_json(pa.BufferReader(buf), parse_options=opts,
                        read_options=pj.ReadOptions(block_size=block, use_threads=mode == "threads"))


def parse_blocks(lines: list[bytes], joined: bytes | None = None, threads: bool = True):
    """Yield ``(line indices, Arrow table or None)``: tables for what Arrow can read,
    None for lines left to the Python path.  ``joined``: ``b"\n".join(lines)``;
    ``threads``: parse on Arrow's threads (see :func:`_read`)."""
    mode = "threads" if threads else "one"
    if not lines:
        return
    schema = _SCHEMAS["envelope" if b'"payload"' in lines[0] else "bare"]
    buf = pa.py_buffer(b"\n".join(lines) if joined is None else joined)
    try:
        t = _read(buf, None, mode)
        if t.num_rows == len(lines):
            yield np.arange(len(lines)), t
            return
    except _ERRORS:
        pass
    # Find the rows Arrow cannot take: reading stops at the first one and names it.
    starts = np.cumsum([0] + [len(ln) + 1 for ln in lines[:-1]])
    good, odd, start = [], [], 0
    while start < len(lines):
        try:
            t = _read(buf.slice(int(starts[start])), schema, "whole")
            if t.num_rows != len(lines) - start:
                raise pa.ArrowInvalid("row count")
            good.extend(range(start, len(lines)))
            break
        except _ERRORS as e:
            m = _ROW.search(str(e))
            if m is None:  # an error that names no row: leave the rest to Python
                odd.extend(range(start, len(lines)))
                break
            r = int(m.group(1))
            good.extend(range(start, start + r))
            odd.append(start + r)
            start += r + 1
    if odd:
        yield np.asarray(odd), None
    if good:
        sub = pa.py_buffer(b"\n".join(lines[i] for i in good))
        for s in (None, schema):
            try:
                t = _read(sub, s, mode)
                if t.num_rows == len(good):
                    yield np.asarray(good), t
                    return
            except _ERRORS:
                pass
        yield np.asarray(good), None


# Arrow's reader recurses per nesting level and overflows its stack past ~10,000: a line
# is handed to it only when it cannot nest deeper than this (it has fewer openers).  The
# Python path then applies the real bound (``_records.MAX_DEPTH``) to what is left.
_ARROW_MAX_OPENERS = 2000


def _arrow_safe(line: bytes) -> bool:
    n = len(line)
    return n <= MAX_LINE and (n <= _ARROW_MAX_OPENERS
                              or line.count(b"{") + line.count(b"[") <= _ARROW_MAX_OPENERS)


def parse_chunk(lines: list[bytes], joined: bytes | None = None,
                threads: bool = True) -> tuple[list, list[int]]:
    """Arrow tables for a chunk: ``([(line indices, table or None)], lines left out)``.

    Only lines that open a JSON object go to Arrow (a block starting with a bare
    `null` crashes pyarrow's reader; such lines are not payloads anyway), and only
    lines too short to nest deep enough to crash it, or that have few enough brackets
    (counted in C; see ``_ARROW_MAX_OPENERS``), and are not over ``MAX_LINE``.
    ``joined``: ``b"\n".join(lines)`` when the caller has it already.
    """
    if getattr(lines, "all_objects", False):  # ingest's file blocks know it already
        long = np.flatnonzero(np.diff(lines.bounds) > _ARROW_MAX_OPENERS + 1)
        if not any(not _arrow_safe(lines[i]) for i in long.tolist()):
            return list(parse_blocks(lines, joined, threads)), []
    objects = [i for i, ln in enumerate(lines) if ln[:1] == b"{" and _arrow_safe(ln)]
    if len(objects) == len(lines):
        return list(parse_blocks(lines, joined, threads)), []
    mapping = np.asarray(objects, np.int64)
    parsed = [(mapping[index], table)
              for index, table in parse_blocks([lines[i] for i in objects], threads=threads)]
    return parsed, sorted(set(range(len(lines))) - set(objects))


def flatten_fast(lines: list[bytes], source_hint: str | None, received_us: int, masker,
                 parsed=None):
    """Flatten what the fast path can; return a :class:`FastResult`.  ``parsed`` is
    :func:`parse_chunk`'s result when another thread already parsed the lines."""
    res = FastResult()
    parts, sources, sids, fetched, stimes, oks = [], [], [], [], [], []
    n_done = 0
    blocks, left_out = parsed if parsed is not None else parse_chunk(lines)
    res.slow.extend(left_out)
    for index, table in blocks:
        got = None
        if table is not None:
            try:
                got = _block(table, source_hint, received_us, masker)
            except (pa.ArrowException, ValueError, TypeError, OverflowError) as e:
                # Arrow can choke on odd nesting; the Python path reads those rows instead.
                _log.debug("fast path gave %d rows to Python: %s", table.num_rows, e)
        if got is None:
            res.slow.extend(index.tolist())
            continue
        take, slow, rec, tables = got
        res.slow.extend(index[np.asarray(slow, np.int64)].tolist())
        res.lines.extend(index[np.asarray(take, np.int64)].tolist())
        for name, t in tables.items():
            t = t.set_column(0, "_rec", pc.add(t.column("_rec"), n_done))
            parts.append((name, t))
        sources.extend(rec["source"])
        sids.extend(rec["session_id"])
        fetched.extend(rec["fetched_us"])
        stimes.extend(rec["session_time_us"])
        oks.extend([True] * len(take))
        n_done += len(take)
    res.source, res.session_id, res.fetched_us = sources, sids, fetched
    res.session_time_us, res.ok = stimes, oks
    by_table: dict[str, list[pa.Table]] = {}
    for name, t in parts:
        by_table.setdefault(name, []).append(t)
    res.tables = {k: pa.concat_tables(v) for k, v in by_table.items()}
    res.slow.sort()
    return res


def _block(t: pa.Table, source_hint, received_us, masker):
    names = set(t.column_names)
    n = t.num_rows
    if "payload" in names:  # envelopes
        if not {"source", "payload"} <= names or names - _ENVELOPE_KEYS:
            return None
        payload = t.column("payload").combine_chunks()
        if not pa.types.is_struct(payload.type):
            return None
        src = t.column("source").combine_chunks()
        if not pa.types.is_string(src.type):
            return None
        eligible = pc.and_(pc.fill_null(pc.is_in(src, value_set=pa.array(FAST_SOURCES)), False),
                           payload.is_valid())
        source_list = src.to_pylist()
        env_sid = (t.column("session_id").to_pylist() if "session_id" in names else [None] * n)
        if "fetched_at" not in names:
            return None
        fa = t.column("fetched_at").combine_chunks()
        if pa.types.is_timestamp(fa.type):  # Arrow reads "…T10:00:00Z" as a UTC timestamp
            env_fetched = [v if in_window(v) else None for v in
                           fa.cast(pa.timestamp("us", tz=fa.type.tz)).cast(pa.int64()).to_pylist()]
        elif pa.types.is_string(fa.type):
            env_fetched = fa.to_pylist()
        else:
            return None
        hs = t.column("http_status").combine_chunks() if "http_status" in names else pa.nulls(n, pa.int64())
        try:
            http = hs.cast(pa.int32())  # a status that is not a whole number: Python decides
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return None
    else:  # bare payloads
        if source_hint not in FAST_SOURCES or names & {"source", "session_id", "fetched_at"}:
            return None
        if not t.num_columns:
            return None
        payload = pa.StructArray.from_arrays([c.combine_chunks() for c in t.columns],
                                             names=t.column_names)
        eligible = pa.array(np.ones(n, bool))
        source_list = [source_hint] * n
        env_sid, env_fetched = [None] * n, [None] * n
        http = pa.nulls(n, pa.int32())

    leaves, structs, bad = {}, {}, []
    _walk(payload, (), leaves, structs, bad)
    conv = {}
    for path, (kind, arr) in leaves.items():
        values, need = _convert(kind, arr)
        conv[path] = values
        if need is not None:
            bad.append(need)
    slow = np.zeros(n, bool)
    for m in bad:
        slow |= np.asarray(pc.fill_null(m, False))
    slow |= ~np.asarray(eligible)

    # Session id and fetch time, exactly as ``_records.read_record`` reads them.
    biz_valid = structs.get(("biz_info",))
    bv = np.asarray(biz_valid) if biz_valid is not None else np.zeros(n, bool)
    if "payload" in names:
        sids, fetched = _envelope_ids(n, env_sid, env_fetched, bv,
                                      leaves.get(("biz_info", "biz_id"), (None, None))[1],
                                      leaves.get(("biz_id",), (None, None))[1])
        missing = np.fromiter((s is None or f is None for s, f in zip(sids, fetched)), bool, n)
        sid_all = pa.array(sids, pa.string())
        fetched_all = pa.array(fetched, pa.int64())
    else:
        # Bare payloads: the biz_id of a present ``biz_info`` that has one, else the
        # top-level biz_id; ``conv`` already holds them as ``text()`` gives them.
        raw_bi = leaves.get(("biz_info", "biz_id"), (None, None))[1]
        use_bi = pa.array(bv) if raw_bi is None else pc.and_(pa.array(bv), raw_bi.is_valid())
        null = pa.nulls(n, pa.string())
        sid_all = pc.if_else(use_bi, conv.get(("biz_info", "biz_id"), null).cast(pa.string()),
                             conv.get(("biz_id",), null).cast(pa.string()))
        missing = np.asarray(sid_all.is_null())
        fetched_all = pa.array(np.full(n, received_us, np.int64))
    slow |= missing
    take = np.flatnonzero(~slow)
    slow_idx = np.flatnonzero(slow).tolist()
    if not len(take):
        return take.tolist(), slow_idx, {"source": [], "session_id": [], "fetched_us": [],
                                         "session_time_us": []}, {}
    m = len(take)
    every = m == n  # the usual case: no row left to Python, so no row needs picking out
    idx = None if every else pa.array(take)

    def pick(a):
        return a if every else a.take(idx)

    def col(path, typ=pa.string()):
        a = conv.get(path)
        if a is None:
            return pa.nulls(m, typ)
        a = pick(a)
        return a if a.type == typ else a.cast(typ)

    def valid(path):
        v = structs.get(path)
        return np.zeros(m, bool) if v is None else np.asarray(pick(v))

    rec = np.arange(m, dtype=np.int64)
    out: dict[str, list] = {}

    def emit(table, mask, cols):
        sel = np.flatnonzero(mask)
        if not len(sel):
            return
        whole = len(sel) == m
        s = None if whole else pa.array(sel)
        schema = file_schema(table)
        arrays = [pa.array(rec[sel])]
        for name in columns(table):
            v = cols.get(name)
            typ = schema.field(name).type
            if v is None:
                arrays.append(pa.nulls(len(sel), typ))
            elif isinstance(v, pa.Scalar):
                arrays.append(pa.repeat(v if v.type == typ else v.cast(typ), len(sel)))
            elif len(v) == m:
                v = v if whole else v.take(s)
                arrays.append(v if v.type == typ else v.cast(typ))
            else:
                arrays.append(v)
        out.setdefault(table, []).append(pa.Table.from_arrays(arrays, ["_rec", *columns(table)]))

    # sessions -----------------------------------------------------------------
    vt = pc.coalesce(col(("verify_result", "verify_time"), pa.int64()), col(("verify_time",), pa.int64()))
    biz_id = pc.coalesce(col(("biz_info", "biz_id")), col(("biz_id",)))
    sid_arr = pick(sid_all)
    epoch = pc.extract_regex(pc.coalesce(biz_id, sid_arr), r"^\s*(?P<e>\d{10})(?:\.\d+)?\s*,")
    epoch_s = pc.struct_field(epoch, [0]).cast(pa.int64())
    epoch_ok = pc.and_(pc.greater_equal(epoch_s, TIME_MIN_US // 1_000_000),
                       pc.less_equal(epoch_s, TIME_MAX_US // 1_000_000))
    epoch_us = pc.if_else(epoch_ok, pc.multiply(epoch_s, 1_000_000), pa.scalar(None, pa.int64()))
    fetched_take = pick(fetched_all)
    session_time = pc.coalesce(vt, epoch_us, fetched_take)
    basis = pc.if_else(pc.is_valid(vt), "verify_time",
                       pc.if_else(pc.is_valid(epoch_us), "biz_id", "fetched_at"))
    emit("sessions", np.ones(m, bool), {
        "time_basis": basis, "http_status": pick(http),
        "status": col(("status",)), "request_id": col(("request_id",)),
        "biz_id": biz_id, "biz_no": pc.coalesce(col(("biz_info", "biz_no")), col(("biz_no",))),
        "biz_extra_data": pc.coalesce(col(("biz_info", "biz_extra_data")), col(("biz_extra_data",))),
        "liveness_result": col(("liveness_result", "result")),
        "procedure_type": col(("liveness_result", "procedure_type")),
        "failure_reason": col(("liveness_result", "failure_reason")),
        "fail_reason": col(("fail_reason",)),
        "liveness_version": col(("liveness_result", "version")),
        "liveness_log": col(("liveness_result", "log")),
        "verify_time": vt.cast(pa.timestamp("us", tz="UTC")),
        "verify_error": col(("verify_result", "error_message")),
        "verify_request_id": col(("verify_result", "request_id")),
        "time_used": col(("time_used",), pa.int64()),
        "verify_time_used": col(("verify_result", "time_used"), pa.int64()),
        "multifaces_tag": col(("multifaces_tag",), pa.int64()),
    })

    # comparisons ----------------------------------------------------------------
    for path in sorted(p for p in structs if len(p) == 2 and p[0] == "verify_result"
                       and p[1].startswith("result_")):
        cols = {"comparison": pa.scalar(path[1][len("result_"):]), "attempt": pa.scalar(1),
                "confidence": col(path + ("confidence",), pa.float64())}
        for lp in [p for p in conv if p[:3] == path + ("thresholds",)]:
            cols[_level_column(lp[3])] = col(lp, pa.float64())
        emit("comparisons", valid(path), cols)

    # genuineness ------------------------------------------------------------------
    for block in (("liveness_result", "face_genuineness"), ("verify_result", "face_genuineness")):
        attacks = []
        for p in conv:
            if p[:2] == block:
                a = p[2].rsplit("_", 1)[0]
                if a not in attacks:
                    attacks.append(a)
        for a in attacks:
            conf = col(block + (f"{a}_confidence",), pa.float64())
            thr = col(block + (f"{a}_threshold",), pa.float64())
            present = np.asarray(pc.or_(pc.is_valid(conf), pc.is_valid(thr)))
            emit("genuineness", present, {"attack": pa.scalar(a), "attempt": pa.scalar(1),
                                          "confidence": conf, "threshold": thr,
                                          "flagged": pc.greater(conf, thr)})

    # liveness details --------------------------------------------------------------
    for p in [p for p in conv if p[:2] == ("liveness_result", "details")]:
        c = col(p, pa.int64())
        emit("liveness_details", np.asarray(pc.is_valid(c)), {"key": pa.scalar(p[2]), "count": c})

    # id exceptions, verify errors ------------------------------------------------------
    emit("id_exceptions", valid(("verify_result", "id_exceptions")), {
        "id_attacked": col(("verify_result", "id_exceptions", "id_attacked"), pa.int64()),
        "id_photo_monochrome": col(("verify_result", "id_exceptions", "id_photo_monochrome"), pa.int64())})
    ve = col(("verify_result", "error_message"))
    if ve.null_count < m:
        billed = pa.array([None if v is None else VERIFY_ERROR_BILLED.get(v.partition(":")[0].strip())
                           for v in ve.to_pylist()], pa.bool_())
        emit("verify_errors", np.asarray(pc.is_valid(ve)), {
            "error_message": ve, "billed": billed, "origin": pa.scalar("verify_result.error_message")})

    # ID card, OCR, field quality ------------------------------------------------------------
    idc = valid(("idcard_info",))
    if idc.any():
        h, l4, plain = _ids(masker, col(("idcard_info", "idcard_number")))
        emit("idcard", idc, {
            "attempt": pa.scalar(1), "idcard_mode": col(("idcard_info", "idcard_mode")),
            "idcard_mode_user": col(("idcard_info", "idcard_mode_user")),
            "idcard_uneditable_field": pc.coalesce(col(("idcard_info", "idcard_uneditable_field")),
                                                   col(("idcard_info", "idcard_uneditable_feild"))),
            "id_number_hash": h, "id_number_last4": l4, "id_number": plain,
            "name": masker.names(col(("idcard_info", "idcard_name"))),
            "valid_date": col(("idcard_info", "idcard_valid_date")),
            "issued_by": col(("idcard_info", "idcard_issued_by")),
            "front_upload_times": col(("idcard_info", "front_side", "upload_times"), pa.int64()),
            "back_upload_times": col(("idcard_info", "back_side", "upload_times"), pa.int64()),
        })
        for side in ("front", "back"):
            base = ("idcard_info", f"{side}_side", "ocr_result")
            ocr = valid(base)
            if ocr.any():
                h, l4, plain = _ids(masker, col(base + ("id_card_number",)))
                year = col(base + ("birthday", "year"), pa.int64())
                month = col(base + ("birthday", "month"), pa.int64())
                day = col(base + ("birthday", "day"), pa.int64())
                birth = None
                if masker.keep_pii:
                    birth = pa.array([f"{y:04d}-{mo:02d}-{d:02d}" if y and mo and d else None
                                      for y, mo, d in zip(year.to_pylist(), month.to_pylist(),
                                                          day.to_pylist())], pa.string())
                cols = {"attempt": pa.scalar(1), "side": pa.scalar(side), "id_number_hash": h,
                        "id_number_last4": l4, "id_number": plain,
                        "name": masker.names(col(base + ("name",))),
                        "gender": col(base + ("gender",)), "ethnicity": col(base + ("race",)),
                        "birth_year": year, "birth_date": birth,
                        "address": masker.addresses(col(base + ("address",))),
                        "issued_by": col(base + ("issued_by",)),
                        "valid_date": col(base + ("valid_date",))}
                for p in [p for p in conv if p[:4] == base + ("legality",)]:
                    name = _LEGALITY[" ".join(p[4].split()).lower()]  # "Temporary ID Photo " too
                    v = col(p, pa.float64())
                    cols[name] = v if name not in cols else pc.coalesce(cols[name], v)
                emit("idcard_ocr", ocr, cols)
            qbase = ("idcard_info", f"ocr_{side}_quality")
            for field in sorted({p[2] for p in structs if len(p) == 3 and p[:2] == qbase}):
                result = col(qbase + (field, "result"))
                kind = _PII_QUALITY_FIELDS.get(field)
                if kind == "name":
                    result = _map(masker.name, result)
                elif kind == "address":
                    result = _map(masker.address, result)
                elif kind == "id" and not masker.keep_pii:
                    result = _map(lambda v: masker.id_number(v)[1], result)
                elif kind == "drop":
                    result = _map(masker.plain, result)
                emit("ocr_quality", valid(qbase + (field,)), {
                    "side": pa.scalar(side), "field": pa.scalar(field),
                    "quality": col(qbase + (field, "quality"), pa.float64()),
                    "logic": col(qbase + (field, "logic"), pa.int64()), "result": result})

    tables = {k: pa.concat_tables(v) for k, v in out.items()}
    recs = {"source": [source_list[i] for i in take], "session_id": sid_arr.to_pylist(),
            "fetched_us": fetched_take.to_pylist(),
            "session_time_us": session_time.to_pylist()}
    return take.tolist(), slow_idx, recs, tables


def _envelope_ids(n, env_sid, env_fetched, bv, raw_bi, raw_bt):
    """Per row, as ``read_record``: the envelope's session_id, else the payload's biz_id."""
    bi = raw_bi.to_pylist() if raw_bi is not None else [None] * n
    bt = raw_bt.to_pylist() if raw_bt is not None else [None] * n
    sids, fetched = [], []
    for i in range(n):
        sid = text(env_sid[i]) if not isinstance(env_sid[i], (dict, list)) else None
        if sid is None:
            if bv[i] and bi[i] is not None:
                sid = text(bi[i])
            elif bt[i] is not None:
                sid = text(bt[i])
        sids.append(sid)
        f = env_fetched[i]
        f = iso_to_us(f) if isinstance(f, str) else f
        fetched.append(f if in_window(f) else None)  # outside the window: Python quarantines it
    return sids, fetched


def _map(fn, arr: pa.Array) -> pa.Array:
    return pa.array([None if v is None else fn(v) for v in arr.to_pylist()], pa.string())


def _ids(masker, arr: pa.Array):
    return masker.id_numbers(arr)

