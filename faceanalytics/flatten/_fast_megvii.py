"""The columnar reading of Megvii payloads (Lite, web liveness v2, callbacks).

Column for column what ``megvii.py`` does row by row; where the Python flattener
tells an absent key from a null one (``"status" in payload``), the line's bytes
decide, and a row whose answer is not certain goes to the Python path.
"""
from __future__ import annotations

import hashlib
import hmac

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .._coerce import TIME_MAX_US, TIME_MIN_US
from ..schema import VERIFY_ERROR_BILLED
from ._fast import (Extracted, Group, Media, Rows, View, _Cut, _line_astray, _numbers_as_text, _parse_group,
                    _shape_tree, _subset, _unquote_numbers, envelope_columns, keys_written, unknown_extra, whole)
from .fields import EXPAND, LEVEL_KEYS
from .megvii import _LEGALITY, _PII_QUALITY_FIELDS, ATTACKS, unknown_keys

_LEVELS = {}
for _k, _col in LEVEL_KEYS.items():
    _LEVELS.setdefault(_col, []).append(_k)
_LR, _VR, _IDC = ("liveness_result",), ("verify_result",), ("idcard_info",)
_FG = (("liveness_result", "face_genuineness"), ("verify_result", "face_genuineness"))


_NULLS_AT_ONCE = 32  # fewer records than this are asked one by one
_BYTES_PER_RECORD_FIND = 4096  # buffer bytes one search of the whole costs as much as a record's two finds


def _per_record(n_rows: int, buf_size: int) -> bool:
    """Whether ``n_rows`` records are asked one by one rather than the whole buffer searched.
    The two whole-buffer searches of a key written as null scan every byte (~4 ms each for a
    17 MB Lite chunk; a chunk's error bodies and ambiguous keys asked so took a fifth of its
    flattening), two finds in one record's line cost ~2 µs of call overhead: one by one below
    a record per 4 KiB of buffer."""
    return n_rows < max(_NULLS_AT_ONCE, buf_size // _BYTES_PER_RECORD_FIND)


class _Lines:
    """The group's lines as bytes, to ask whether a key is written out as null.
    ``rows``: the line of each record, when they differ (callbacks: the signed texts)."""

    def __init__(self, g: Group, rows: np.ndarray | None = None):
        self.group = g  # (callbacks: the group of the signed texts)
        self.buf, self.bounds, self.rows = g.buf, g.bounds, rows
        self._found: dict[str, np.ndarray] = {}  # key -> lines writing it as null

    def null(self, i: int, key: str) -> bool:
        if self.rows is not None:
            i = int(self.rows[i])
            if i < 0:
                return True  # no line: not certain
        s, e = int(self.bounds[i]), int(self.bounds[i + 1]) - 1
        k = f'"{key}"'.encode()
        return self.buf.find(k + b":null", s, e) >= 0 or self.buf.find(k + b": null", s, e) >= 0

    def nulls(self, rows: np.ndarray, key: str) -> np.ndarray:
        """``null`` of each record in ``rows``, at once: the key written as null is looked
        for once in the whole buffer (it is rare), not once per record (a ``find`` per
        record cost a twentieth of a getall chunk) -- unless the records are few for the
        buffer's size (:func:`_per_record`)."""
        rows = np.asarray(rows, np.int64)
        found = self._found.get(key)
        if self.rows is not None or (found is None and _per_record(len(rows), len(self.buf))):
            return np.fromiter((self.null(int(r), key) for r in rows.tolist()), bool, len(rows))
        if found is None:
            k, pos = f'"{key}"'.encode(), []
            for pattern in (k + b":null", k + b": null"):
                at = self.buf.find(pattern)
                while at >= 0:
                    pos.append(at)
                    at = self.buf.find(pattern, at + len(pattern))
            # a pattern holds no newline: each is inside one line
            found = self._found[key] = np.unique(np.searchsorted(self.bounds, np.asarray(pos, np.int64),
                                                                 "right") - 1)
        return np.isin(rows, found)

    def mark_explicit_nulls(self, view: View, mask: np.ndarray, *keys: str) -> None:
        """Records of the items in ``mask`` where one of ``keys`` is written as null: the
        Python path tells that from an absent key, so it reads them."""
        rows = np.asarray(view.rows)[np.flatnonzero(mask)]
        if not len(rows):
            return
        hit = np.zeros(len(rows), bool)
        for k in keys:
            hit |= self.nulls(rows, k)
        view.slow[rows[hit]] = True


class _Joined:
    """Lines already joined in one buffer, known by their bounds (``_parse_group``)."""

    __slots__ = ("bounds",)

    def __init__(self, bounds: np.ndarray):
        self.bounds = bounds

    def __len__(self) -> int:
        return len(self.bounds) - 1


def _candidates(data: pa.Array) -> np.ndarray:
    """Records whose ``data`` may be a signed payload's text: one line opening an object."""
    cand = pc.and_(pc.is_valid(data), pc.starts_with(data, "{"))
    text = data.buffers()[2]
    text = np.frombuffer(text, np.uint8) if text is not None else np.zeros(0, np.uint8)
    for eol in (10, 13):  # rare: looked for in the whole column first
        if (text == eol).any():
            cand = pc.and_(cand, pc.invert(pc.match_substring(data, chr(eol))))
    return np.asarray(pc.fill_null(cand, False))


def _parse_texts(data: pa.Array, rows: np.ndarray):
    """The ``data`` texts of ``rows`` (a mask) parsed as payloads, one block of lines cut
    from the column's buffer -> ``(group, the records its lines are)``, or None when a text
    is too long or nested too deep for the columnar path."""
    from ._common import MAX_LINE
    from ._fast import _ARROW_MAX_OPENERS, bytes_of
    texts = data if rows.all() else data.filter(pa.array(rows))
    size = np.asarray(pc.binary_length(texts.cast(pa.binary())))
    if (size > MAX_LINE).any():
        return None
    long = size > _ARROW_MAX_OPENERS  # nested too deep for Arrow's reader? (``_arrow_safe``)
    if long.any():
        lt = texts.filter(pa.array(long))
        openers = np.asarray(pc.count_substring(lt, "{")) + np.asarray(pc.count_substring(lt, "["))
        if (openers > _ARROW_MAX_OPENERS).any():
            return None
    lined = pc.binary_join_element_wise(texts, "", "\n")  # each text and a newline
    offsets = np.frombuffer(lined.buffers()[1], np.int32, len(lined) + 1, lined.offset).astype(np.int64)
    joined = bytes_of(lined.buffers()[2], offsets[0], offsets[-1] - 1)
    del lined, texts  # the texts are in ``joined`` now: not held while they are parsed
    sub = _texts_group(_Joined(offsets - offsets[0]), joined)
    return sub, np.flatnonzero(rows)


def _texts_group(texts: "_Joined", joined: bytes) -> Group:
    """The callbacks' texts as one group, read typed when some send numbers as text: those
    are written bare (``_fast._unquote_numbers``, as a chunk of liveness records is), and
    ``Group.rewritten`` tells ``_unknown`` their lines are not as they came.  Split off by the
    chunk as before, a callback sending them cost a second group, its texts read as text
    (~20% more CPU per chunk at 5% of such callbacks).  A text still sending one after that
    (``" 12"``, ``"NaN"``: ``still``) is left out of the group, its callback the Python path's:
    the texts are one group, and read all as text for its sake, the others' wild values sent
    more callbacks to Python (~1,700 of 10,000 half-wild ones, against ~30 so)."""
    texty = _numbers_as_text(texts, joined, "megvii_liveness")
    if texty is not None:
        got = _unquote_numbers(joined, texts.bounds, texty, "megvii_liveness", False)
        if got is not None:
            buf, bounds, still = got
            sub = _parse_group(_Cut(buf, bounds), buf, "megvii_liveness", False, False)
            sub.rewritten = (texty & ~still)[~still][sub.index]
            sub.index = np.flatnonzero(~still)[sub.index]
            return sub
    return _parse_group(texts, joined, "megvii_liveness", False, False)


def read_texts(g: Group):
    """On the reader thread (``_columnar.read_chunk``): the callbacks' ``data`` texts parsed ahead,
    before their signs are checked (``_notify`` keeps the signed ones; the flattening
    thread, the busier one for callbacks, is spared the second parse)."""
    if g.table is None or not g.table.num_rows:
        return None
    t = g.table
    if g.envelope:
        payload = whole(t.column("payload"))
        if not pa.types.is_struct(payload.type) or payload.type.get_field_index("data") < 0:
            return None
        g.table = t.set_column(t.schema.get_field_index("payload"), "payload", payload)  # combined once
        data = payload.field("data")
    elif "data" in t.column_names:
        data = whole(t.column("data"))
    else:
        return None
    if not pa.types.is_string(data.type):
        return None
    cand = _candidates(data)
    return _parse_texts(data, cand) if cand.any() else None


def _notify(g: Group, v_slow: np.ndarray, payload: pa.StructArray, secret):
    """Callbacks: verify each sign, then read the signed ``data`` texts as payloads
    (parsed ahead by :func:`read_texts`, or here)."""
    n = len(payload)
    before = v_slow.copy()  # what the envelope and the keys beside data and sign said
    data, sign = payload.field("data"), payload.field("sign")
    ok = np.zeros(n, bool)
    if secret and pa.types.is_string(data.type) and pa.types.is_string(sign.type):
        cand = _candidates(data) & np.asarray(pc.fill_null(pc.is_valid(sign), False))
        idx = np.flatnonzero(cand)
        if len(idx):
            signs = pc.utf8_lower(pc.utf8_trim_whitespace(sign.take(pa.array(idx)))).to_pylist()
            # Each text hashed where it lies in the column (no copy of the texts as objects).
            at = np.frombuffer(data.buffers()[1], np.int32, len(data) + 1, data.offset * 4).tolist()
            whole = memoryview(data.buffers()[2] or b"")
            key = hashlib.sha1(secret.encode("utf-8"))
            for i, sg in zip(idx.tolist(), signs):
                h = key.copy()
                h.update(whole[at[i]:at[i + 1]])
                ok[i] = sg.isascii() and hmac.compare_digest(h.hexdigest(), sg)  # (non-ASCII: TypeError)
            del whole
    v_slow |= ~ok
    if not ok.any():
        return None
    got = getattr(g, "texts", None)  # the candidates' texts: every signed one among them
    if got is None:
        got = _parse_texts(data, ok)
    if got is None:
        return None
    sub, rows = got
    where = np.flatnonzero(ok)
    parsed = rows[sub.index]  # the record of each of the table's rows
    signed = np.flatnonzero(ok[parsed])  # the table's rows whose record is signed
    pos = np.full(n, -1, np.int64)
    pos[parsed[signed]] = signed
    v_slow[where] = True
    v_slow[parsed[signed]] = before[parsed[signed]]  # the texts' own unknown keys: ``_unknown``
    if sub.table is None:
        return None
    inner = pa.StructArray.from_arrays([c.combine_chunks() for c in sub.table.columns],
                                       names=sub.table.column_names)
    if len(signed) == n:  # every callback signed and parsed, in order: no reordering needed
        return inner, _Lines(sub, pos)
    take = pa.array(np.where(pos >= 0, pos, 0), mask=pos < 0)
    return inner.take(take), _Lines(sub, pos)


def extract(g: Group, received_us: int, masker, secret) -> Extracted:
    n = g.table.num_rows
    notify = g.source == "megvii_notify"
    # keys the spec lacks (``g.slow``) are read last (``_unknown``); beside a callback's
    # data and sign, they are the Python path's
    slow = _beside_data(g) if notify else np.zeros(n, bool)
    sids, fetched, http, payload = envelope_columns(g, slow, received_us)
    lines = _Lines(g)
    if notify:
        got = _notify(g, slow, payload, secret)
        if got is None:
            slow[:] = True
            return _empty(n, slow)
        payload, lines = got  # the signed texts stand for the lines
    v = View(payload, slow)
    v.lines = lines
    out = Rows()
    rec = np.arange(n)

    def s(path, kind="str"):
        return v.get(path, kind)

    # --- an API error body: error_message and neither status nor liveness_result
    err = s(("error_message",))
    has_err = np.asarray(err.is_valid())
    is_error = has_err & ~v.valid(("status",)) & ~v.valid(_LR)
    if is_error.any():
        if lines is None:
            v.mark(is_error)
        else:
            lines.mark_explicit_nulls(v, is_error, "status", "liveness_result")
    err_code = pc.utf8_trim_whitespace(pc.list_element(pc.split_pattern(err, ":", max_splits=1), 0))
    iserr = pa.array(is_error)
    body = ~is_error  # what a result (not an error body) carries

    def res(a):  # a session column that error bodies leave null
        return pc.if_else(iserr, pa.scalar(None, a.type), a) if is_error.any() else a

    # --- biz fields: from biz_info when it has the key, else the top level
    biz_valid = v.valid(("biz_info",))
    biz = {}
    for k in ("biz_id", "biz_no", "biz_extra_data"):
        kind = "text" if k == "biz_extra_data" else "str"
        inner, top = s(("biz_info", k), kind), s((k,), kind)
        has = np.asarray(inner.is_valid())
        ambiguous = biz_valid & ~has & np.asarray(top.is_valid())
        if ambiguous.any():
            if lines is None:
                v.mark(ambiguous)
            else:
                lines.mark_explicit_nulls(v, ambiguous, k)
        # biz_info's value where it has the key (written as null there: those rows went to
        # Python above), else the top level's, as ``biz.get(k, payload.get(k))``
        biz[k] = pc.if_else(pa.array(biz_valid & has), inner, top)

    # --- session ids and times, as read_record and flatten_payload take them
    if sids is None:
        sids = [None] * n
    if notify:
        sid_payload = biz["biz_id"]
    else:
        bi = s(("biz_info", "biz_id"))
        bi_raw = v.node(("biz_info", "biz_id"))
        use_bi = pa.array(biz_valid & (np.asarray(bi_raw.is_valid()) if bi_raw is not None else False))
        sid_payload = pc.if_else(use_bi, bi, s(("biz_id",)))
    sp = sid_payload.to_pylist()
    sid = [a if a is not None else b for a, b in zip(sids, sp)]
    missing = np.fromiter((x is None for x in sid), bool, n)
    slow |= missing
    sid_arr = pa.array(sid, pa.string())

    vt = pc.coalesce(s(_VR + ("verify_time",), "epoch"), s(("verify_time",), "epoch"))
    vt = res(vt)
    # (an error body names no biz_id: the session id's epoch, as ``flatten_payload`` takes it)
    epoch = pc.extract_regex(pc.coalesce(res(biz["biz_id"]), sid_arr), r"^\s*(?P<e>\d{10})(?:\.\d+)?\s*,")
    epoch_s = pc.struct_field(epoch, [0]).cast(pa.int64())
    epoch_ok = pc.and_(pc.greater_equal(epoch_s, TIME_MIN_US // 1_000_000),
                       pc.less_equal(epoch_s, TIME_MAX_US // 1_000_000))
    epoch_us = pc.if_else(epoch_ok, pc.multiply(epoch_s, 1_000_000), pa.scalar(None, pa.int64()))
    fetched_arr = pa.array(fetched, pa.int64())
    session_time = pc.coalesce(vt, epoch_us, fetched_arr)
    basis = pc.if_else(pc.is_valid(vt), "verify_time",
                       pc.if_else(pc.is_valid(epoch_us), "biz_id", "fetched_at"))

    # --- verify errors (error_message, then error: the later one is the session's)
    verrs = []
    for key in ("error_message", "error"):
        e = s(_VR + (key,))
        verrs.append(e)
        if e.null_count < n:
            codes = pc.utf8_trim_whitespace(pc.list_element(pc.split_pattern(e, ":", max_splits=1), 0))
            billed = pa.array([None if c is None else VERIFY_ERROR_BILLED.get(c)
                               for c in codes.to_pylist()], pa.bool_())
            out.emit("verify_errors", rec, {"error_message": e, "billed": billed,
                                            "origin": pa.scalar(f"verify_result.{key}")},
                     np.asarray(e.is_valid()) & body)
    verify_error = pc.coalesce(verrs[1], verrs[0])

    sess = {
        "time_basis": basis, "http_status": http,
        "status": pc.if_else(iserr, err_code, s(("status",))) if is_error.any() else s(("status",)),
        "error": err,
        "request_id": s(("request_id",)),
        "biz_id": res(biz["biz_id"]), "biz_no": res(biz["biz_no"]),
        "biz_extra_data": res(biz["biz_extra_data"]),
        "liveness_result": res(s(_LR + ("result",))),
        "procedure_type": res(s(_LR + ("procedure_type",))),
        "failure_reason": res(s(_LR + ("failure_reason",))),
        "fail_reason": res(s(("fail_reason",))),
        "liveness_version": res(s(_LR + ("version",))),
        "liveness_log": res(s(_LR + ("log",))),
        "verify_time": vt.cast(pa.timestamp("us", tz="UTC")),
        "verify_error": res(verify_error),
        "verify_request_id": res(s(_VR + ("request_id",))),
        "time_used": s(("time_used",), "int"),
        "verify_time_used": res(s(_VR + ("time_used",), "int")),
        "multifaces_tag": res(s(("multifaces_tag",), "int")),
        "sign_verified": pa.scalar(True) if notify else None,
    }

    # --- comparisons, one per result_* block
    for name in EXPAND["verify_result.result_*"]:
        path = _VR + (name,)
        valid = v.valid(path) & body
        if not valid.any():
            continue
        cols = {"comparison": pa.scalar(name[len("result_"):]), "attempt": pa.scalar(1),
                "confidence": s(path + ("confidence",), "conf")}
        for col, spellings in _LEVELS.items():
            got = [s(path + ("thresholds", sp), "conf") for sp in spellings]
            # as written ("null" and "" too: they read as none, yet the later spelling wins;
            # a JSON null is no value on both paths, so a spelling written so is none here)
            present = [v.valid(path + ("thresholds", sp)) for sp in spellings]
            if sum(present).max(initial=0) > 1:  # two spellings of one level: the later wins
                v.mark(sum(present) > 1)
            cols[col] = pc.coalesce(*got)
        out.emit("comparisons", rec, cols, valid)

    # --- anti-spoofing, per block and attack
    for block in _FG:
        for a in ATTACKS:
            conf = s(block + (f"{a}_confidence",), "gen")
            thr = s(block + (f"{a}_threshold",), "gen")
            present = (np.asarray(conf.is_valid()) | np.asarray(thr.is_valid())) & body
            if present.any():
                out.emit("genuineness", rec, {"attack": pa.scalar(a), "attempt": pa.scalar(1),
                                              "confidence": conf, "threshold": thr,
                                              "flagged": pc.greater(conf, thr)}, present)

    # --- liveness details
    for key in EXPAND["liveness_result.details.*"]:
        c = s(_LR + ("details", key), "int")
        present = np.asarray(c.is_valid()) & body
        if present.any():
            out.emit("liveness_details", rec, {"key": pa.scalar(key), "count": c}, present)

    # --- id exceptions
    ie = _VR + ("id_exceptions",)
    out.emit("id_exceptions", rec, {"id_attacked": s(ie + ("id_attacked",), "int"),
                                    "id_photo_monochrome": s(ie + ("id_photo_monochrome",), "int")},
             v.valid(ie) & body)

    _idcard(v, out, rec, body, masker, lines)
    _will(v, out, rec, body, lines)
    blobs = _media(v, out, rec, body, sid, g.source, masker)
    sess["extra"] = _unknown(g, lines, slow, body, notify)
    out.emit("sessions", rec, sess)

    e = Extracted()
    e.slow = slow
    e.source = [g.source] * n
    e.session_id = sid
    e.fetched_us = fetched.tolist()
    e.session_time_us = session_time.to_pylist()
    e.ok = (~has_err).tolist()
    e.tables = out.tables()
    e.blobs = blobs
    return e


def _unknown(g: Group, lines: _Lines, slow: np.ndarray, body: np.ndarray, notify: bool) -> pa.Array | None:
    """``sessions.extra`` of the records whose keys the spec lacks (``g.slow``; callbacks:
    in their signed texts), noted as the Python flattener notes them
    (:func:`.megvii.unknown_keys`, through :func:`._fast.unknown_extra`).  Such a record
    is still the Python path's (``slow``) where an unknown key means more than a note (an
    image, a comparison, ...) or the line's keys are not those the reader read and those
    the spec lacks."""
    if notify:
        grp, pos = lines.group, lines.rows  # record -> row of the texts' group (-1: none)
        flagged = np.zeros(len(slow), bool)
        has = pos >= 0
        flagged[has] = grp.slow[pos[has]]
    else:
        grp, pos, flagged = g, None, g.slow
    odd = np.flatnonzero(flagged & ~slow)
    slow |= flagged
    if grp.rewritten is not None:  # its numbers written bare: the notes are the line's as it came
        odd = odd[~grp.rewritten[odd if pos is None else pos[odd]]]
    if not len(odd):
        return None
    rec = odd.tolist()

    def notes(j, obj):
        return unknown_keys(obj["payload"] if grp.envelope else obj, bool(body[rec[j]]))

    return unknown_extra(grp, odd if pos is None else pos[odd], rec, slow, notes)


def _beside_data(g: Group) -> np.ndarray:
    """Callbacks with a key the spec lacks beside ``data`` and ``sign`` (or in the envelope):
    the Python path notes it.  ``g.slow`` counts a line's keys, and those of a ``data`` text
    that holds JSON text in turn (a quote escaped twice before a colon) cannot be counted
    so: those lines are walked over the spec's places instead (the text is one value there)."""
    flagged = np.flatnonzero(g.slow)
    out = g.slow.copy()
    if not len(flagged):
        return out
    sub, bounds = _subset(g.buf, g.bounds, flagged)
    uncounted = keys_written(sub, bounds)[4]
    tree = _shape_tree(g.source, g.envelope)
    for j in np.flatnonzero(uncounted).tolist():
        out[flagged[j]] = _line_astray(sub[int(bounds[j]):int(bounds[j + 1]) - 1], tree)
    return out


def _empty(n, slow) -> Extracted:
    e = Extracted()
    e.slow, e.source, e.session_id, e.fetched_us, e.session_time_us, e.ok = slow, [], [], [], [], []
    e.tables, e.blobs = {}, []
    return e


def _idcard(v: View, out: Rows, rec, body, masker, lines) -> None:
    idc = v.valid(_IDC) & body
    if not idc.any():
        return
    s = v.get
    h, l4, plain = masker.id_numbers(s(_IDC + ("idcard_number",), "id"))
    field = s(_IDC + ("idcard_uneditable_field",), "str")
    feild = s(_IDC + ("idcard_uneditable_feild",), "str")
    ambiguous = idc & ~np.asarray(field.is_valid()) & np.asarray(feild.is_valid())
    if ambiguous.any():
        if lines is None:
            v.mark(ambiguous)
        else:
            lines.mark_explicit_nulls(v, ambiguous, "idcard_uneditable_field")
    out.emit("idcard", rec, {
        "attempt": pa.scalar(1), "idcard_mode": s(_IDC + ("idcard_mode",), "str"),
        "idcard_mode_user": s(_IDC + ("idcard_mode_user",), "str"),
        "idcard_uneditable_field": pc.coalesce(field, feild),
        "id_number_hash": h, "id_number_last4": l4, "id_number": plain,
        "name": masker.names(s(_IDC + ("idcard_name",), "str")),
        "valid_date": s(_IDC + ("idcard_valid_date",), "str"),
        "issued_by": s(_IDC + ("idcard_issued_by",), "str"),
        "front_upload_times": s(_IDC + ("front_side", "upload_times"), "int"),
        "back_upload_times": s(_IDC + ("back_side", "upload_times"), "int"),
    }, idc)
    for side in ("front", "back"):
        base = _IDC + (f"{side}_side", "ocr_result")
        ocr = v.valid(base) & body
        if ocr.any():
            h, l4, plain = masker.id_numbers(s(base + ("id_card_number",), "id"))
            year = s(base + ("birthday", "year"), "int")
            month = s(base + ("birthday", "month"), "int")
            day = s(base + ("birthday", "day"), "int")
            birth = None
            if masker.keep_pii:
                birth = pa.array([f"{y:04d}-{mo:02d}-{d:02d}" if y and mo and d else None
                                  for y, mo, d in zip(year.to_pylist(), month.to_pylist(),
                                                      day.to_pylist())], pa.string())
            cols = {"attempt": pa.scalar(1), "side": pa.scalar(side), "id_number_hash": h,
                    "id_number_last4": l4, "id_number": plain,
                    "name": masker.names(s(base + ("name",), "str")),
                    "gender": s(base + ("gender",), "str"), "ethnicity": s(base + ("race",), "str"),
                    "birth_year": year, "birth_date": birth,
                    "address": masker.addresses(s(base + ("address",), "str")),
                    "issued_by": s(base + ("issued_by",), "str"),
                    "valid_date": s(base + ("valid_date",), "str")}
            by_col: dict[str, list] = {}
            for key in ("ID Photo", "Temporary ID Photo", "Temporary ID Photo ", "Photocopy", "Screen",
                        "Edited"):
                by_col.setdefault(_LEGALITY[" ".join(key.split()).lower()], []).append(
                    s(base + ("legality", key), "float"))
            for col, got in by_col.items():
                present = sum(np.asarray(x.is_valid()) for x in got)
                if (present > 1).any():  # two spellings of one key: the later wins (a null is none)
                    v.mark(present > 1)
                cols[col] = pc.coalesce(*got)
            out.emit("idcard_ocr", rec, cols, ocr)
        qbase = _IDC + (f"ocr_{side}_quality",)
        for fld in EXPAND[f"idcard_info.ocr_{side}_quality.*"]:
            q = qbase + (fld,)
            valid = v.valid(q) & body
            if not valid.any():
                continue
            result = s(q + ("result",), "str")
            kind = _PII_QUALITY_FIELDS.get(fld)
            if kind == "name":
                result = masker.names(result)
            elif kind == "address":
                result = masker.addresses(result)
            elif kind == "id" and not masker.keep_pii:
                result = masker.id_numbers(result)[1]
            elif kind == "drop" and not masker.keep_pii:
                result = pa.nulls(len(result), pa.string())
            out.emit("ocr_quality", rec, {"side": pa.scalar(side), "field": pa.scalar(fld),
                                          "quality": s(q + ("quality",), "float"),
                                          "logic": s(q + ("logic",), "int"), "result": result}, valid)


def _will(v: View, out: Rows, rec, body, lines) -> None:
    items, pos = v.items(("will_result",))
    if items is not None and items.n:
        items.mark(~np.asarray(items.root.is_valid()))  # an item that is not an object
        keep = body[items.rows]
        out.emit("will_results", items.rows, {"position": pos, "result": items.get(("result",), "str"),
                                              "will_error_message": items.get(("will_error_message",),
                                                                              "str")}, keep)


def _media(v: View, out: Rows, rec, body, sid, source, masker) -> list:
    """Media rows (inline images are decoded and written as files), as the Python path
    makes them (see :class:`~._fast.Media`)."""
    media = Media(source, sid, masker, v.slow)
    for key in EXPAND["images.*"]:
        media.add(v.rows, v.node(("images", key)), key, "image", "blob", keep=body)
    media.add(v.rows, v.node(("multifaces_image",)), "multifaces_image", "image", "blob", keep=body)
    wf = v.valid(("will_file",)) & body
    if wf.any():
        for key, mt in (("will_video", "video"), ("will_audio", "audio")):
            a = v.node(("will_file", key))
            if a is None:
                continue
            # a key written as null is an empty link (``wf[key] or ""``); an absent one no row
            null = [r for r in np.flatnonzero(wf & ~np.asarray(a.is_valid())).tolist() if _explicit(v, r, key)]
            if null:
                filled = np.zeros(v.n, bool)
                filled[null] = True
                a = pc.if_else(pa.array(filled), "", a)
            media.add(v.rows, a, key, mt, "url", keep=wf)
        details, pos = v.items(("will_file", "will_audio_details"))
        if details is not None and details.n:
            details.mark(~np.asarray(details.root.is_valid()))
            keep = body[details.rows]
            sa, st = details.get(("standard_answer",), "str"), details.get(("stand_answer",), "str")
            amb = ~np.asarray(sa.is_valid()) & np.asarray(st.is_valid())
            for i in np.flatnonzero(amb).tolist():
                if _explicit(v, int(details.rows[i]), "standard_answer"):
                    v.slow[details.rows[i]] = True
            qa, ua = details.get(("question_audio",), "str"), details.get(("user_audio",), "str")
            out.emit("will_answers", details.rows, {
                "position": pos, "question_text": details.get(("question_text",), "str"),
                "standard_answer": pc.coalesce(sa, st), "user_text": details.get(("user_text",), "str"),
                "question_audio": qa, "user_audio": ua}, keep)
            for name in ("question_audio", "user_audio"):
                raw = details.node((name,))
                if raw is None:
                    continue
                for i in np.flatnonzero(keep & ~np.asarray(raw.is_valid())).tolist():
                    if _explicit(v, int(details.rows[i]), name):
                        v.slow[details.rows[i]] = True  # a null among items: Python decides
                names = pc.binary_join_element_wise(f"will_{name}_", pa.array(pos).cast(pa.string()), "")
                media.add(details.rows, raw, names, "audio", "url", keep=keep)
    return media.emit(out)


def _explicit(v: View, r: int, key: str) -> bool:
    """Whether record ``r`` writes ``key`` out as null (the Python path then makes a row);
    without the line at hand (callbacks), not certain: the record goes to Python."""
    lines = getattr(v, "lines", None)
    if lines is None:
        v.slow[r] = True
        return False
    return lines.null(r, key)
