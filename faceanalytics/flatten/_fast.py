"""Columnar fast path: every source, read with the field spec's schema.

A chunk of lines is grouped by source and each group is parsed by Arrow's JSON
reader with the schema derived from the field spec (``fields.py``): unknown keys
cost nothing per row (the reader ignores them), and the tidy tables are cut out of
the nested columns with vectorised kernels (``_fast_megvii``, ``_fast_baidu``).

A row leaves for the Python flatteners only when the spec does not describe its
shape, and then only that row:

- a key the spec does not list where it is written, which the Python path keeps in
  ``extra`` (a chunk the reader reads strictly has none; else they are found by
  counting keys: the ``":`` in a line against the values Arrow read for it, and a
  line with a key written as null, which gives Arrow nothing to count, is walked
  over the spec's places);
- a value of another shape (an object where text is documented, an object sent as
  JSON text, ...), which Arrow's reader refuses by row;
- a value the field rules would null with a note, or quarantine (unreadable text,
  NaN, a confidence out of range, a time out of the window);
- a line too long or nested too deep to hand to a C parser.

Numbers and booleans sent as text (or text as numbers) are no reason: when the
reader meets a column of mixed types, every bare number and boolean of the chunk is
quoted (one RE2 pass) and the chunk is read with text leaves, which the readers of
each kind convert exactly as ``_coerce`` does.  ``tests/test_differential.py``
checks both paths give the same tables, table for table, for every source.
"""
from __future__ import annotations

import re
from functools import lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from .._coerce import (CN_OFFSET_US, NULL_STRINGS, TIME_MAX_US, TIME_MIN_US, boolean, cn_time_to_us,
                       code_text, in_window, integer, iso_to_us, num, text)
from ..schema import CONFIDENCE_RANGE, GENUINENESS_RANGE, SOURCES, columns, file_schema
from ._common import MAX_DEPTH, MAX_LINE
from .fields import leaves

FAST_SOURCES = SOURCES
_MARK = "\x1f"  # leads a bare number or boolean that the quoting pass turned into text

# --- schemas from the field spec ------------------------------------------------------

_ENVELOPE_KEYS = ("source", "session_id", "fetched_at", "http_status", "payload", "receiver")
_NUMERIC = {"int", "float", "conf", "conf?", "gen", "epoch"}


def _tree(source: str) -> dict:
    """The spec's leaves of ``source`` as nested dicts; a list is ``("list", item)``."""
    root: dict = {}
    for path, kind in leaves(source):
        node = root
        for k in path[:-1]:
            if k.endswith("[]"):
                node = node.setdefault(k[:-2], ("list", {}))[1]
            else:
                node = node.setdefault(k, {})
        last = path[-1]
        if last.endswith("[]"):
            node[last[:-2]] = ("list", kind)
        else:
            node.setdefault(last, kind)
    return root


def _leaf_type(kind: str, quoted: bool) -> pa.DataType:
    if quoted:
        return pa.string()
    if kind in _NUMERIC:
        return pa.float64()  # every number as float64: no conversion can fail without its row
    if kind == "bool":
        return pa.bool_()
    return pa.string()


def _arrow(node, quoted: bool) -> pa.DataType:
    if isinstance(node, tuple):
        return pa.list_(_arrow(node[1], quoted))
    if isinstance(node, dict):
        return pa.struct([(k, _arrow(v, quoted)) for k, v in node.items()])
    return _leaf_type(node, quoted)


@lru_cache(maxsize=None)
def _shape_tree(source: str, envelope: bool) -> dict:
    """The spec's shape of a record (for :func:`_shape_ok` and :func:`_screen`)."""
    if source == "megvii_notify":
        payload = {"data": "str", "sign": "str"}
    else:
        payload = _tree(source)
    if not envelope:
        return payload
    return {"source": "str", "session_id": "str", "fetched_at": "str", "http_status": "str",
            "payload": payload, "receiver": {"status": "str", "reason": "str"}}


@lru_cache(maxsize=None)
def _schema(source: str, envelope: bool, quoted: bool) -> pa.Schema:
    payload = _arrow(_tree(source if source != "megvii_notify" else "megvii_liveness"), quoted)
    if source == "megvii_notify":  # the callback body: {data: JSON text, sign}
        payload = pa.struct([("data", pa.string()), ("sign", pa.string())])
    if not envelope:
        return pa.schema(list(payload))
    num = pa.string() if quoted else pa.float64()
    return pa.schema([("source", pa.string()), ("session_id", pa.string()),
                      ("fetched_at", pa.string()), ("http_status", num), ("payload", payload),
                      ("receiver", pa.struct([("status", num), ("reason", pa.string())]))])


# --- parsing ------------------------------------------------------------------------------

_ERRORS = (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError)
_ROW = re.compile(r"in row (\d+)")
_SOURCE = re.compile(rb'\{\s*"source"\s*:\s*"([a-z_]{1,40})"')
_QUOTE_PATTERN = r'([^\\])":\s*(-?[0-9][0-9.eE+-]*|true|false)\s*([,}\]])'
_QUOTE_REPL = "\\1\":\"" + "\\\\u001f" + "\\2\"\\3"
# Arrow's reader recurses per nesting level and overflows its stack past ~10,000: a line
# is handed to it only when it cannot nest deeper than this (it has fewer openers).  The
# Python path then applies the real bound (``_common.MAX_DEPTH``) to what is left.
_ARROW_MAX_OPENERS = 2000
_MAX_RESTARTS = 8
_PROBE = 256  # lines read first to learn whether a chunk needs quoting  # rows a chunk's reader may stop at before its rows are checked one by one


def _arrow_safe(buf: bytes, start: int = 0, end: int | None = None) -> bool:
    """Whether the line ``buf[start:end]`` may be handed to Arrow's reader: not over
    ``MAX_LINE``, and not able to nest past ``_ARROW_MAX_OPENERS`` (counted where it lies)."""
    end = len(buf) if end is None else end
    n = end - start
    return n <= MAX_LINE and (n <= _ARROW_MAX_OPENERS
                              or buf.count(b"{", start, end) + buf.count(b"[", start, end) <= _ARROW_MAX_OPENERS)


_BLOCK = 4 << 20  # the JSON reader's block: its working state is per block


def _read(buf, schema: pa.Schema, threads: bool, strict: bool = False) -> pa.Table:
    opts = pj.ParseOptions(explicit_schema=schema,
                           unexpected_field_behavior="error" if strict else "ignore",
                           newlines_in_values=False)
    # Read 4 MB at a time, and on one thread the pieces put together at once (columns that
    # come whole: the extractors concatenated 3-5 pieces again each, and their copies were
    # held beside the table).  A chunk's 12 MB read as one block needed working state of its
    # size, past the streaming commands' mmap threshold: mapped fresh and faulted in for every
    # chunk (~2,300 faults), 80-85 ms of CPU against 71-74 ms in blocks with the pieces
    # combined, for a 10,000-record liveness chunk; Lite's 18 MB chunk alike either way (148 ms);
    # a 62 MB buffer peaked 100 MiB above its start as one block, 55 MiB in blocks.
    t = pj.read_json(pa.BufferReader(buf), parse_options=opts,
                     read_options=pj.ReadOptions(block_size=_BLOCK, use_threads=threads))
    return t if threads else t.combine_chunks()


def _offsets(lines) -> np.ndarray:
    """Where each line starts in ``b"\\n".join(lines)``, and the joined length + 1."""
    bounds = getattr(lines, "bounds", None)
    if bounds is not None:
        return np.asarray(bounds, np.int64)
    return np.cumsum([0] + [len(ln) + 1 for ln in lines], dtype=np.int64)


@lru_cache(maxsize=None)
def _code_names(source: str) -> tuple[bytes, ...]:
    """The names of the source's error-code keys (text in the schema: providers send ``0``
    and ``"0"`` alike), as bytes; none for a source without them."""
    return tuple(sorted({path[-1].replace("[]", "").encode() for path, kind in leaves(source)
                         if kind == "code"}))


def _class(chars: bytes) -> np.ndarray:
    """A byte class as a lookup table (``_CLASS[a]`` tells each byte of ``a``)."""
    t = np.zeros(256, bool)
    t[np.frombuffer(chars, np.uint8)] = True
    return t


# RE2's ``\s`` but the newline, which ends a line (the lines are searched one by one)
_SPACE, _NUMBER, _AFTER = _class(b" \t\f\r"), _class(b"0123456789.eE+-"), _class(b",}]")
_DIGIT = _class(b"0123456789")
_MARKED = b'"\\u001f'  # what opens a quoted bare number: a quote and the mark, escaped


def _code_numbers(buf: bytes, names: tuple[bytes, ...], step: int = 2 << 20) -> tuple[np.ndarray, np.ndarray]:
    r"""Where each bare number that is the value of a key ``names`` starts and ends in
    ``buf``, as one RE2 pass of ``([^\\]")(NAME)(":\s*)(-?[0-9][0-9.eE+-]*)(\s*[,}\]])``
    over each line finds them (its matches do not overlap: a key right after the ``,`` or
    ``}`` that ended a match is not one).  With numpy, from the keys' colons, a slice of
    ``step`` bytes at a time (an array as large as the chunk is mapped fresh, and its pages
    faulted in, each time)."""
    a = np.frombuffer(buf, np.uint8)
    n = len(a)
    if not n or not names or min(map(len, names)) < 1:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    ends = np.zeros(1 << 16, bool)  # the names' last two bytes
    ends[[(name[-2] if len(name) > 1 else 34) << 8 | name[-1] for name in names]] = True  # (or the quote)
    scratch = np.empty(min(step, n), bool)
    shortest = min(len(name) for name in names) + 3  # a byte, the quotes and the name before the colon
    opens, colons = [], []
    for i in range(0, n, step):
        part = a[i:i + step]
        hit = scratch[:len(part)]
        np.equal(part, 58, out=hit)
        c = np.flatnonzero(hit) + i  # the colons; a key's closing quote is right before one
        c = c[c >= shortest]
        c = c[a[c - 1] == 34]
        c = c[ends[a[c - 3].astype(np.int64) << 8 | a[c - 2]]]
        for name in names:
            k = c[c >= len(name) + 3]
            start = k - len(name) - 2  # the key's opening quote
            m = a[start] == 34
            k, start = k[m], start[m]
            for j in range(len(name) - 1, -1, -1):
                m = a[start + 1 + j] == name[j]
                k, start = k[m], start[m]
            before = a[start - 1]
            m = (before != 92) & (before != 10)  # not escaped, and not the first byte of its line
            opens.append(start[m])
            colons.append(k[m])
    start, colon = np.concatenate(opens), np.concatenate(colons)
    if not len(start):
        return start, start
    order = np.argsort(start, kind="stable")
    start, pos = start[order], colon[order] + 1

    def at(x: np.ndarray) -> np.ndarray:  # the bytes at x (0 past the end)
        return np.where(x < n, a[np.minimum(x, n - 1)], 0)

    while True:  # spaces after the colon
        w = _SPACE[at(pos)]
        if not w.any():
            break
        pos = pos + w
    begin = pos
    pos = pos + (at(pos) == 45)  # a minus
    ok = _DIGIT[at(pos)]
    pos = pos + 1
    while True:  # the rest of the number (as the regex reads it: any of [0-9.eE+-])
        w = ok & _NUMBER[at(pos)]
        if not w.any():
            break
        pos = pos + w
    end = pos
    while True:  # spaces after it
        w = ok & _SPACE[at(pos)]
        if not w.any():
            break
        pos = pos + w
    ok &= _AFTER[at(pos)]
    start, begin, end, last = start[ok], begin[ok], end[ok], pos[ok]
    # a match takes the byte before its key's quote: one right after another's last byte is none
    clash = np.flatnonzero(start[1:] - 1 == last[:-1]) + 1
    if len(clash):
        keep = np.ones(len(start), bool)
        for i in clash.tolist():
            if keep[i - 1]:
                keep[i] = False
        begin, end = begin[keep], end[keep]
    return begin, end


def _quote_codes(buf: bytes, bounds: np.ndarray, names: tuple[bytes, ...]) -> tuple[bytes, np.ndarray]:
    """``buf`` with every bare number that is the value of an error-code key written as text
    led by ``_MARK`` (``"\\u001f0"``), as ``_quote`` with that regex gives it; -> (the new
    buffer, its line bounds).  The regex's replace took ~60 ms of a 17 MB getall chunk (a
    microsecond or so a match, and there are 3-4 a record); this is one join of the pieces
    between the numbers and the text put around them."""
    begin, end = _code_numbers(buf, names)
    k = len(begin)
    if not k:
        return buf, bounds
    cuts = np.empty(2 * k + 2, np.int64)  # the pieces: before, a number, between, ..., the rest
    cuts[0], cuts[-1] = 0, len(buf)
    cuts[1:-1:2], cuts[2:-1:2] = begin, end
    cuts = cuts.tolist()
    # (bytes slices: a memoryview slice cost twice as much to make as a short copy)
    pieces = [buf[x:y] for x, y in zip(cuts[:-1], cuts[1:])]
    out = [None] * (4 * k + 1)
    out[0::4] = pieces[0::2]   # what comes before each number, and the rest
    out[1::4] = [_MARKED] * k
    out[2::4] = pieces[1::2]   # the numbers
    out[3::4] = [b'"'] * k
    return b"".join(out), bounds + (len(_MARKED) + 1) * np.searchsorted(begin, bounds)


def _quote(buf: bytes, bounds: np.ndarray, pattern: str = _QUOTE_PATTERN,
           replacement: str = _QUOTE_REPL) -> tuple[bytes, np.ndarray]:
    """Every bare number and boolean that is a value of a key, as text led by ``_MARK``
    (one RE2 pass over the lines): a column then never mixes numbers and text.
    -> (the new buffer, its line bounds)."""
    n = len(bounds) - 1
    offs = bounds.copy()
    offs[-1] = len(buf)
    arr = pa.BinaryArray.from_buffers(pa.binary(), n, [None, pa.py_buffer(offs.astype(np.int32)),
                                                       pa.py_buffer(buf)])
    out = pc.replace_substring_regex(arr, pattern=pattern, replacement=replacement)
    o = np.frombuffer(out.buffers()[1], np.int32, n + 1, out.offset * 4).astype(np.int64)
    new = bytes_of(out.buffers()[2], o[0], o[-1])
    del out
    nb = o - o[0]
    nb[-1] += 1
    return new, nb


class Group:
    """Lines of one source parsed together: ``index`` (line numbers in the chunk),
    ``table`` (None when no row could be read), ``slow`` (rows to leave to Python)."""

    __slots__ = ("source", "envelope", "index", "table", "slow", "quoted", "buf", "bounds", "texts", "rewritten")

    def __init__(self, source, envelope, index, table, slow, quoted, buf=b"", bounds=None):
        self.source, self.envelope, self.index = source, envelope, index
        self.table, self.slow, self.quoted = table, slow, quoted
        self.buf, self.bounds = buf, bounds  # the table's rows as lines: buf[bounds[i]:bounds[i+1]-1]
        self.texts = None  # callbacks: their texts parsed ahead (``_columnar.read_chunk``)
        # rows whose numbers sent as text were written bare (``_unquote_numbers``): their
        # ``buf`` is not the line as it came (None: none)
        self.rewritten = None


def _key_mismatch(buf: bytes, bounds: np.ndarray, table: pa.Table, tree: dict) -> np.ndarray:
    """Rows with a key the schema does not have (``tree``: the spec's shape of a record).

    A line has as many keys with a value (:func:`keys_written`) as Arrow read values for
    it, unless it has a key the schema lacks.  A key whose value is null gives Arrow no
    value to count, and a name the spec knows may be written where the spec does not put
    it (``biz_no`` in ``liveness_result``): the lines with such a key and no other oddity
    are read with orjson and walked over the spec's places (:func:`_astray`).  Rows whose
    keys cannot be counted so go to the Python path.
    """
    n = len(bounds) - 1
    arrow = np.zeros(n, np.int64)
    for col in table.columns:
        _count_valid(whole(col), None, arrow)
    if len(buf) < 2:
        return np.zeros(n, bool)
    q, row, real, null, odd = keys_written(buf, bounds)
    flagged = (np.bincount(row[real & ~null], minlength=n) != arrow) | odd
    check = np.zeros(n, bool)
    check[row[real & null]] = True
    for r in np.flatnonzero(check & ~flagged).tolist():
        flagged[r] = _line_astray(buf[bounds[r]:bounds[r + 1] - 1], tree)
    return flagged


def _line_astray(line: bytes, tree: dict) -> bool:
    """Whether a line holds a key where the spec's ``tree`` has none, or does not read."""
    import orjson

    try:
        return _astray(orjson.loads(line), tree)
    except orjson.JSONDecodeError:
        return True


def _astray(obj, node: dict) -> bool:
    """Whether ``obj`` (at the spec's ``node``), or an object below it where the spec
    places one, has a key the spec does not place there, whatever its value."""
    if not isinstance(obj, dict):
        return False  # another shape: the reader refused it, or the extractors tell
    if not _node_keys(node).issuperset(obj):
        return True
    for k, sub, many in _node_objects(node):
        v = obj.get(k)
        if v is None:
            continue
        if not many:
            if _astray(v, sub):
                return True
        elif isinstance(v, list):
            for x in v:
                if _astray(x, sub):
                    return True
    return False


_NODE_KEYS: dict[int, frozenset] = {}
_NODE_OBJECTS: dict[int, tuple] = {}


def _node_keys(node: dict) -> frozenset:
    """The keys of a node of a ``_shape_tree`` (kept by its id: the trees are cached for good)."""
    got = _NODE_KEYS.get(id(node))
    if got is None:
        got = _NODE_KEYS[id(node)] = frozenset(node)
    return got


def _node_objects(node: dict) -> tuple:
    """The keys of a ``_shape_tree`` node that hold objects (or lists of them): ``(key,
    their node, a list)``."""
    got = _NODE_OBJECTS.get(id(node))
    if got is None:
        got = _NODE_OBJECTS[id(node)] = tuple(
            (k, c[1] if isinstance(c, tuple) else c, isinstance(c, tuple)) for k, c in node.items()
            if isinstance(c, dict) or (isinstance(c, tuple) and isinstance(c[1], dict)))
    return got


_SPACED = re.compile(rb'"\s+:')


def keys_written(buf: bytes, bounds: np.ndarray):
    """The keys of each line, found with numpy: a key is its closing quote and colon
    (``":``); one backslash before them is an escaped quote inside a string (JSON text
    in a string, say), two an escaped backslash.  -> ``(q, row, real, null, odd)``: where
    each ``":`` is, its line, whether it ends a key, whether the key's value is ``null``
    (which gives Arrow no value), and the lines whose keys cannot be counted so (three
    backslashes before a colon, space between a key and its colon).  Every test is made on
    the colons and the byte before each: three ``b" :" in buf`` scans of a chunk with no
    such pair took more than half of the time (53 of 90 ms for 10,000 half-wild Lite lines)."""
    n = len(bounds) - 1
    a = np.frombuffer(buf, np.uint8)
    c = np.flatnonzero(a == 58)  # every colon (a key's closing quote is right before one)
    c = c[c > 0]
    before = a[c - 1]
    q = c[before == 34] - 1
    row = np.searchsorted(bounds, q, "right") - 1
    odd = np.zeros(n, bool)
    bs1 = a[np.maximum(q - 1, 0)] == 92
    if bs1.any():  # a backslash before a key's quote and colon: b'\\":' in buf
        bs2 = bs1 & (a[np.maximum(q - 2, 0)] == 92)
        odd[row[bs2 & (a[np.maximum(q - 3, 0)] == 92)]] = True
        real = ~(bs1 & ~bs2)  # one backslash: an escaped quote; two: an escaped backslash
    else:
        real = np.ones(len(q), bool)
    start = np.minimum(q + 2, len(a) - 1)
    start = start + (a[start] == 32)
    null = np.zeros(len(q), bool)
    ok = start + 3 < len(a)
    i = start[ok]
    null[ok] = (a[i] == 110) & (a[i + 1] == 117) & (a[i + 2] == 108) & (a[i + 3] == 108)
    if ((before == 32) | (before == 9) | (before == 13)).any():  # b" :", b"\t:" or b"\r:" in buf
        for m in _SPACED.finditer(buf):
            odd[np.searchsorted(bounds, m.start(), "right") - 1] = True
    return q, row, real, null, odd


@lru_cache(maxsize=None)
def _names(source: str) -> frozenset:
    """Every key name the spec knows for ``source`` (as bytes), envelope keys included."""
    out = {k.encode() for k in _ENVELOPE_KEYS} | {b"status", b"reason", b"data", b"sign"}
    for src in (source, "megvii_liveness") if source == "megvii_notify" else (source,):
        for path, _ in leaves(src):
            out.update(k.replace("[]", "").encode() for k in path)
    return frozenset(out)


def _list_parents(arr: pa.Array) -> np.ndarray:
    """The row of each value ``arr.flatten()`` gives (null lists give none)."""
    offsets = np.asarray(arr.offsets)
    lengths = np.diff(offsets) * np.asarray(arr.is_valid())
    return np.repeat(np.arange(len(arr)), lengths)


def _count_valid(arr: pa.Array, rows: np.ndarray | None, out: np.ndarray) -> None:
    """Add to ``out[row]`` one per non-null value at every depth of ``arr``."""
    valid = np.asarray(arr.is_valid())
    if rows is None:
        out += valid
    elif len(rows):
        out += np.bincount(rows, weights=valid, minlength=len(out)).astype(np.int64)
    t = arr.type
    if pa.types.is_struct(t):
        for child in arr.flatten():
            _count_valid(child, rows, out)
    elif pa.types.is_list(t) and pa.types.is_struct(t.value_type):
        parents = _list_parents(arr)
        items = arr.flatten()  # an item is no key; its fields are
        for child in items.flatten():
            _count_valid(child, parents if rows is None else rows[parents], out)


def _parse_group(lines, joined: bytes | None, source: str, envelope: bool, threads: bool,
                 texty: bool = False) -> Group:
    """Parse one source's lines: with typed leaves, else (numbers and text mixed in a
    column) quoted; rows the reader refuses are odd.  ``Group.index``: the positions
    (in ``lines``) of the table's rows; ``Group.slow``: those of them with unknown keys.
    ``texty``: the lines send numbers as text (:func:`_numbers_as_text`): read quoted at
    once (a typed read of them fails; it was ~5 ms of a getall chunk's reading)."""
    n = len(lines)
    bounds = _offsets(lines)
    buf = b"\n".join(lines) if joined is None else joined
    codes = _code_names(source)
    if codes:
        # Error codes come as numbers and as text in every chunk: quote just those, so
        # the rest of the row is still read typed.
        buf, bounds = _quote_codes(buf, bounds, codes)
    # Read strictly (a key the schema lacks fails the read) with the schema pruned to the
    # keys the first lines use: a chunk that reads so has no unknown key, and its keys
    # need no count.  A key the first lines lack fails it: then the whole schema, and
    # only when that fails too, the keys are counted (``_key_mismatch``).
    names = _probe_names(buf, bounds, source)
    if names is not None and _little_pruned(source, envelope, names):
        names = None
    tries = ([(names, True)] if names is not None else []) + [(None, True), (None, False)]
    table = None
    keep = np.arange(n)
    for quoted in (True,) if texty else (False, True):
        if quoted:
            buf, bounds = _quote(buf, bounds)
        shape = False
        while table is None:
            keys, strict = tries[0]
            schema = _schema(source, envelope, quoted) if keys is None else \
                _pruned(source, envelope, quoted, keys)
            try:
                # A few hundred lines tell whether the chunk mixes numbers and text (a
                # share of records sent by a logger that stringifies them, say): then
                # quote it at once.  Only for a threaded read, whose blocks are all parsed
                # before an error in the first is told: read on one thread, the whole read
                # stops at the same row the probe would (and a probe that passes, nearly
                # every one now that such rows are split off, was ~4 ms of a liveness
                # chunk's reading for nothing).
                probe = min(n, _PROBE)
                if threads and probe < n and not quoted:
                    _read(buf[:bounds[probe] - 1], schema, False, strict)
                table = _read(buf, schema, threads, strict)
            except _ERRORS as e:
                if not (strict and "unexpected field" in str(e)):
                    # Numbers and text mixed in a column, or a row of another shape: quoted,
                    # only the second kind is left, and the reader then names those rows.
                    shape = _shape_error(e)
                    break
                tries.pop(0)
        if table is not None:
            break
        if not quoted and shape:
            # A row of another shape (an object where text is documented, ...), and no sign
            # yet of numbers and text mixed: the rows around it are read typed, unquoted.
            got = _read_around(buf, bounds, _schema(source, envelope, False), threads, source, envelope,
                               typed=True)
            if got is not None:
                tries = [(None, False)]
                table, keep, buf, bounds = got
                break
    if table is None:
        tries = [(None, False)]
        table, keep, buf, bounds = _read_around(buf, bounds, _schema(source, envelope, quoted), threads,
                                                source, envelope)
    if table is None or not len(keep):
        return Group(source, envelope, np.zeros(0, np.int64), None, np.zeros(0, bool), quoted)
    slow = (np.zeros(len(keep), bool) if tries[0][1]
            else _key_mismatch(buf, bounds, table, _shape_tree(source, envelope)))
    return Group(source, envelope, keep, table, slow, quoted, buf, bounds)


_NAME_PROBE = 1000  # lines whose keys prune the schema a chunk is first read with


def _probe_names(buf: bytes, bounds: np.ndarray, source: str) -> frozenset | None:
    """The spec's key names found in the first lines (None: all of them, or no line)."""
    k = min(len(bounds) - 1, _NAME_PROBE)
    if k < 1:
        return None
    a = np.frombuffer(buf, np.uint8, int(bounds[k]) - 1)
    q = np.flatnonzero((a[:-1] == 34) & (a[1:] == 58))  # a key's closing quote: '"' then ':'
    quotes = np.flatnonzero(a == 34)
    j = np.searchsorted(quotes, q) - 1
    q = q[j >= 0]
    start = quotes[j[j >= 0]] + 1  # after the quote before it (escaped ones give junk names)
    offsets = np.empty(2 * len(q) + 1, np.int64)
    offsets[0] = 0
    offsets[1::2], offsets[2::2] = start, q
    spans = pa.LargeBinaryArray.from_buffers(pa.large_binary(), 2 * len(q),
                                             [None, pa.py_buffer(offsets), pa.py_buffer(buf)])
    found = set(pc.unique(spans.take(pa.array(np.arange(1, 2 * len(q), 2)))).to_pylist())
    spec = _names(source)
    found &= spec
    return None if found == spec else frozenset(found)


_PRUNED_AT_MOST = 0.9  # a pruned schema keeping more of the schema's nodes than this is not tried


@lru_cache(maxsize=256)
def _little_pruned(source: str, envelope: bool, names: frozenset) -> bool:
    """Whether the schema pruned to ``names`` keeps nearly all of its nodes.  Reading with it
    then saves next to nothing (Arrow's reader costs per node and row; Lite: 280 of 282), and a
    key the first lines lack fails the read: 4 in 10 chunks of generated Lite records were read
    twice so, ~25 ms each on the reading thread.  Then the whole schema is tried first."""
    def nodes(t: pa.DataType) -> int:
        if pa.types.is_struct(t):
            return 1 + sum(nodes(f.type) for f in t)
        if pa.types.is_list(t):
            return 1 + nodes(t.value_type)
        return 1
    full = sum(nodes(f.type) for f in _schema(source, envelope, False))
    return sum(nodes(f.type) for f in _pruned(source, envelope, False, names)) > _PRUNED_AT_MOST * full


@lru_cache(maxsize=256)
def _pruned(source: str, envelope: bool, quoted: bool, names: frozenset) -> pa.Schema:
    """``_schema`` without the keys not in ``names`` below the top level (at any depth)."""
    def prune(t: pa.DataType) -> pa.DataType:
        if pa.types.is_struct(t):
            return pa.struct([pa.field(f.name, prune(f.type)) for f in t if f.name.encode() in names])
        if pa.types.is_list(t):
            return pa.list_(prune(t.value_type))
        return t
    full = _schema(source, envelope, quoted)
    return pa.schema([pa.field(f.name, prune(f.type)) for f in full])


def _read_around(buf: bytes, bounds: np.ndarray, schema, threads: bool, source: str, envelope: bool,
                 typed: bool = False):
    """Rows Arrow refuses.  Rows the spec's shapes screen out (``_screen``) are checked
    one by one (orjson), and the others read at once; should one of them be refused
    still, reading stops there and names it, and after a few such stops the rows left
    are checked one by one too; what passes is read at once (halved until it reads,
    should the check have let a row through).  ``typed``: the leaves are typed, and a
    column that mixes numbers and text gives up (None): the chunk is to be quoted.
    -> (table of the other rows, their positions, their buffer, its bounds)."""
    import orjson

    n = len(bounds) - 1
    odd = np.zeros(n, bool)
    tree = _shape_tree(source, envelope)

    def check(rows) -> None:
        for i in rows:
            try:
                ok = _shape_ok(orjson.loads(buf[bounds[i]:bounds[i + 1] - 1]), tree)
            except orjson.JSONDecodeError:
                ok = False
            odd[i] = not ok

    check(np.flatnonzero(_screen(buf, bounds, source, envelope)).tolist())
    keep = np.flatnonzero(~odd)
    sub, sub_bounds = _subset(buf, bounds, keep)
    whole = pa.py_buffer(sub)
    m = len(keep)
    start = restarts = 0
    while start < m and restarts < _MAX_RESTARTS:
        try:
            # one block: Arrow names a refused row by its row in the block
            t = _read_one(whole.slice(int(sub_bounds[start])), schema)
            if t.num_rows != m - start:
                raise pa.ArrowInvalid("row count")
            if start == 0:  # the screen found them all: this is the table
                return t, keep, sub, sub_bounds
            start = m
        except _ERRORS as e:
            found = _ROW.search(str(e))
            if found is None:
                break
            if typed and not _shape_error(e):
                return None
            r = start + int(found.group(1))
            odd[keep[r]] = True
            start = r + 1
            restarts += 1
    if start < m:
        check(keep[start:].tolist())
    keep = np.flatnonzero(~odd)
    tables = []
    _read_halves(buf, bounds, keep, schema, threads, tables, odd)
    keep = np.flatnonzero(~odd)
    if not len(keep) or not tables:
        return None, keep[:0], buf, bounds
    t = pa.concat_tables(tables) if len(tables) > 1 else tables[0]
    sub, sub_bounds = _subset(buf, bounds, keep)
    return t, keep, sub, sub_bounds


def _subset(buf: bytes, bounds: np.ndarray, rows: np.ndarray) -> tuple[bytes, np.ndarray]:
    """The lines ``rows`` joined, and their bounds.  Each run of consecutive lines is one
    slice of ``buf`` and the runs are joined at once: the data copied once, where an Arrow
    ``take`` over the lines and its result made bytes copied it twice (~30 ms of a getall
    chunk's ~240 ms of reading, whose rows sending numbers as text are cut out of it), and a
    Python slice per line cost a twentieth of a chunk's parse when a chunk is split."""
    if len(rows) == len(bounds) - 1:
        return buf, bounds
    rows = np.asarray(rows, np.int64)
    lengths = bounds[rows + 1] - bounds[rows]
    new_bounds = np.concatenate([[0], np.cumsum(lengths)])
    if not len(rows):
        return b"", new_bounds
    cut = np.flatnonzero(np.diff(rows) != 1) + 1  # where a run of consecutive lines ends
    first = rows[np.concatenate([[0], cut])]
    last = rows[np.concatenate([cut - 1, [len(rows) - 1]])]
    view = memoryview(buf)
    # a run is its lines and the newlines between them (line i ends at bounds[i + 1] - 1)
    out = b"\n".join([view[s:e] for s, e in zip(bounds[first].tolist(), (bounds[last + 1] - 1).tolist())])
    return out, new_bounds


def bytes_of(buf: pa.Buffer, start, stop) -> bytes:
    """``buf[start:stop]`` as bytes, copied once: ``to_pybytes()[start:stop]`` copies the
    whole buffer first, one more chunk's size at the peak of a chunk's parse."""
    return bytes(memoryview(buf)[int(start):int(stop)])


class _Cut:
    """Lines already joined in one buffer (``_subset``): what :func:`_parse_group` and
    :func:`_numbers_as_text` ask of their lines (how many, where each starts)."""

    __slots__ = ("buf", "bounds")

    def __init__(self, buf: bytes, bounds: np.ndarray):
        self.buf, self.bounds = buf, bounds

    def __len__(self) -> int:
        return len(self.bounds) - 1

    def __getitem__(self, i: int) -> bytes:
        return self.buf[int(self.bounds[i]):int(self.bounds[i + 1]) - 1]


def _read_one(buf, schema: pa.Schema) -> pa.Table:
    """Read ``buf`` leniently as one block, on this thread."""
    opts = pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore",
                           newlines_in_values=False)
    return pj.read_json(pa.BufferReader(buf), parse_options=opts,
                        read_options=pj.ReadOptions(block_size=max(len(buf) + 1, 1 << 16), use_threads=False))


_CHANGED = re.compile(r"changed from (\w+) to (\w+)")
_NESTED = {"object", "array"}


def _shape_error(e: Exception) -> bool:
    """Whether Arrow refused a row for its shape (an object or a list where the schema
    has another kind of value, or the reverse), not for a number where text is, say."""
    m = _CHANGED.search(str(e))
    return m is not None and bool(_NESTED & {m.group(1), m.group(2)})


@lru_cache(maxsize=None)
def _screen_patterns(source: str, envelope: bool) -> tuple[str | None, str | None, str | None]:
    """RE2 patterns of what :func:`_screen` looks for: ``(odd, objects, documented
    objects)``.  ``odd``: a key the spec has only as a value followed by an object or a
    list, one it has only as an object (a list) followed by anything but one or null,
    or one it has both ways followed by JSON text of an object.  Of a key it has both
    ways, ``objects`` finds every object, ``documented objects`` those that open with a
    key the spec gives such an object."""
    leaf, obj, lst, kids = set(), set(), set(), {}

    def walk(node: dict) -> None:
        for k, v in node.items():
            if isinstance(v, dict):
                obj.add(k)
                kids.setdefault(k, set()).update(v)
                walk(v)
            elif isinstance(v, tuple):
                lst.add(k)
                if isinstance(v[1], dict):
                    walk(v[1])
            else:
                leaf.add(k)
    walk(_shape_tree(source, envelope))

    def alt(names) -> str:
        return "(?:" + "|".join(sorted(re.escape(k) for k in names)) + ")"
    both = (leaf & obj) | (leaf & lst) | (obj & lst)
    parts = [r'"' + alt(names) + r'"\s*:\s*' + after
             for names, after in ((leaf - both, r"[\[{]"), (obj - both, r"[^\s{n]"), (lst - both, r"[^\s\[n]"),
                                  (both, r'"\s*[\[{]'))
             if names]
    two = leaf & obj - lst
    if not two:
        return "|".join(parts) or None, None, None
    children = set().union(*(kids[k] for k in two))
    return ("|".join(parts), r'"' + alt(two) + r'"\s*:\s*\{',
            r'"' + alt(two) + r'"\s*:\s*\{\s*"' + alt(children) + r'"\s*:')


def _screen(buf: bytes, bounds: np.ndarray, source: str, envelope: bool) -> np.ndarray:
    """Rows that may have a shape the spec does not describe (RE2 passes): a value where
    an object is documented (an object sent as JSON text, say) or an object where a
    value is.  It may miss some and take a row wrongly (a known key inside an unknown
    object): its rows are checked one by one, and the rest are read."""
    n = len(bounds) - 1
    odd, objects, documented = _screen_patterns(source, envelope)
    if odd is None or len(buf) >= 2 ** 31 or not n:
        return np.zeros(n, bool)
    offs = bounds.copy()
    offs[-1] = len(buf)
    arr = pa.BinaryArray.from_buffers(pa.binary(), n, [None, pa.py_buffer(offs.astype(np.int32)),
                                                       pa.py_buffer(buf)])
    out = np.asarray(pc.match_substring_regex(arr, pattern=odd).fill_null(False))
    if objects is not None:  # an object that opens with no key such an object has
        out |= (np.asarray(pc.count_substring_regex(arr, pattern=objects).fill_null(0))
                != np.asarray(pc.count_substring_regex(arr, pattern=documented).fill_null(0)))
    return out


def _read_halves(buf, bounds, rows: np.ndarray, schema, threads, tables: list, odd: np.ndarray) -> None:
    """Read ``rows`` in one call, else each half (a row alone that will not read is odd)."""
    if not len(rows):
        return
    sub = b"\n".join(buf[bounds[i]:bounds[i + 1] - 1] for i in rows.tolist())
    try:
        t = _read(sub, schema, threads)
        if t.num_rows == len(rows):
            tables.append(t)
            return
    except _ERRORS:
        pass
    if len(rows) == 1:
        odd[rows[0]] = True
        return
    half = len(rows) // 2
    _read_halves(buf, bounds, rows[:half], schema, threads, tables, odd)
    _read_halves(buf, bounds, rows[half:], schema, threads, tables, odd)


def _shape_ok(obj, node) -> bool:
    """Whether a (quoted) record has the spec's shape where the spec describes it: an
    object where an object is documented, a list where a list is, text in a list of
    text, no object or list where a value is.  Unknown keys are no matter here."""
    if not isinstance(obj, dict):
        return False
    for k, v in obj.items():
        child = node.get(k)
        if child is None or v is None:
            continue
        if isinstance(child, dict):
            if not _shape_ok(v, child):
                return False
        elif isinstance(child, tuple):
            if not isinstance(v, list):
                return False
            item = child[1]
            for x in v:
                if x is None:
                    continue
                if isinstance(item, dict):
                    if not _shape_ok(x, item):
                        return False
                elif not isinstance(x, str):
                    return False
        elif isinstance(v, (dict, list)) or (isinstance(v, float) and not -_INF < v < _INF):
            return False
    return True


_INF = float("inf")


class Parsed:
    """A chunk's groups, and the lines no group took (for the Python path)."""

    __slots__ = ("groups", "left_out")

    def __init__(self, groups, left_out):
        self.groups, self.left_out = groups, left_out


def parse_chunk(lines, joined: bytes | None = None, threads: bool = True,
                source_hint: str | None = None) -> Parsed:
    """Group the lines by source and parse each group with its spec schema.

    Envelopes name their source first (``{"source": ...``, as every writer of them
    here does); other lines are bare payloads of ``source_hint``.  Only lines that
    open a JSON object and are safe to hand to Arrow (``_arrow_safe``) are parsed.
    """
    n = len(lines)
    bounds = getattr(lines, "bounds", None)
    if bounds is not None:
        groups, left_out = _grouped(lines.buf, bounds, source_hint)
    else:
        groups, left_out = {}, []
        for i in range(n):
            key = _key_of_line(lines[i], source_hint)
            if key is None:
                left_out.append(i)
            else:
                groups.setdefault(key, []).append(i)
    out = []
    for (source, envelope), idx in groups.items():
        whole = len(idx) == n
        sub = lines if whole else [lines[i] for i in idx]
        index = np.asarray(idx, np.int64)
        texty = _numbers_as_text(sub, joined if whole else None, source)
        rewritten = None
        if texty is None:
            parts = [(index, sub, joined if whole else None, False)]
        else:  # typed rows apart from rows that send numbers as text: only those are quoted
            buf = joined if whole and joined is not None else b"\n".join(sub)
            bounds = _offsets(sub)
            got = _unquote_numbers(buf, bounds, texty, source, envelope)
            if got is not None:  # those whose numbers are now bare read with the typed rows
                typed_buf, typed_bounds, still = got
                rewritten = (texty & ~still)[~still]
                parts = [(index[~still], _Cut(typed_buf, typed_bounds), typed_buf, False)]
                ms = [(still, True)] if still.any() else []
            else:
                parts, ms = [], [(~texty, False), (texty, True)]
            for m, quoted in ms:
                cut = _Cut(*_subset(buf, bounds, np.flatnonzero(m)))
                parts.append((index[m], cut, cut.buf, quoted))
        for i, (part_index, part, part_joined, quoted) in enumerate(parts):
            g = _parse_group(part, part_joined, source, envelope, threads, quoted)
            if i == 0 and rewritten is not None:
                g.rewritten = rewritten[g.index]
            g.index = part_index[g.index]
            out.append((part_index, g))
    return Parsed(out, left_out)


def _key_of_line(line: bytes, source_hint: str | None):
    """The group of one line: ``(source, True)`` for an envelope naming a source of the fast
    path, ``(source_hint, False)`` for a bare payload; None: the line is left to Python (it
    opens no JSON object, it is unsafe for Arrow's reader, or its source has no fast path)."""
    if line[:1] != b"{" or not _arrow_safe(line):
        return None
    m = _SOURCE.match(line)
    if m is not None:
        src = m.group(1).decode()
        return (src, True) if src in FAST_SOURCES else None
    return (source_hint, False) if source_hint in FAST_SOURCES else None


def _grouped(buf: bytes, bounds: np.ndarray, source_hint: str | None):
    """:func:`_key_of_line` for the lines of one buffer, the usual ones at once: lines opening
    with ``{"source":"`` are named with numpy (:func:`_envelope_codes`), a line's openers are
    counted where it lies (only lines longer than the limit need it), and only the other
    lines are read one by one.  -> (rows of each group, in order of their first line; rows
    left to Python), as the line-by-line reading gives them (a Python loop over every line
    cost a fifteenth of a Lite chunk's reading)."""
    codes, texts = _envelope_codes(buf, bounds)
    hint = (source_hint, False) if source_hint in FAST_SOURCES else None
    keys = [(t, True) if t in FAST_SOURCES else None for t in texts] + [hint]  # code -1: the last
    slots: dict = {}
    table = np.array([-1 if k is None else slots.setdefault(k, len(slots)) for k in keys], np.int64)
    kid = np.where(codes >= -1, table[np.maximum(codes, -1)], -1)
    one_by_one = codes == -2  # not opening with ``{"source":"``: the regex reads them
    long = np.flatnonzero(np.diff(bounds) - 1 > _ARROW_MAX_OPENERS)  # (bounds as Python ints: a
    unsafe = [i for i, s, e in zip(long.tolist(), bounds[long].tolist(),  # NumPy scalar each cost
                                   (bounds[long + 1] - 1).tolist())       # more than the counts)
              if not _arrow_safe(buf, s, e)]
    kid[unsafe], one_by_one[unsafe] = -1, False  # unsafe for Arrow's reader: left to Python
    for i in np.flatnonzero(one_by_one).tolist():
        key = _key_of_line(buf[int(bounds[i]):int(bounds[i + 1]) - 1], source_hint)
        kid[i] = -1 if key is None else slots.setdefault(key, len(slots))
    order = sorted((int(np.argmax(kid == k)), key) for key, k in slots.items() if (kid == k).any())
    groups = {key: np.flatnonzero(kid == slots[key]).tolist() for _, key in order}
    return groups, np.flatnonzero(kid == -1).tolist()


_OPEN = b'{"source":"'  # how every envelope writer here opens a line
_NAME_MAX = 40  # as ``_SOURCE``


def _envelope_codes(buf: bytes, bounds: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """The source each line names when it opens exactly with ``{"source":"``: ``_SOURCE``'s
    answer for it, read for all the lines at once with numpy.  -> (a code per line: the
    name's place in the list of names, -1 when no name of its form follows, -2 for a line
    that does not open so (the regex reads it); the names)."""
    n = len(bounds) - 1
    codes = np.full(n, -2, np.int64)
    p, w = len(_OPEN), _NAME_MAX + 1
    a = np.frombuffer(buf, np.uint8)
    if n == 0 or len(a) == 0:
        return codes, []
    starts, lens = bounds[:-1], np.diff(bounds) - 1
    one = _one_source(buf, a, starts, lens)
    if one is not None:
        return np.zeros(n, np.int64), [one]
    rows = np.flatnonzero(lens >= p)
    win = a[np.minimum(starts[rows, None] + np.arange(p + w), len(a) - 1)]
    ok = (win[:, :p] == np.frombuffer(_OPEN, np.uint8)).all(1)
    rows, win = rows[ok], win[ok, p:]
    quote = win == 34
    pos = quote.argmax(1)  # the name's closing quote (0 when none: no name)
    inside = np.arange(w) < pos[:, None]
    letters = ((win >= 97) & (win <= 122)) | (win == 95)  # [a-z_]
    good = quote.any(1) & (pos >= 1) & (p + pos < lens[rows]) & (letters | ~inside).all(1)
    codes[rows[~good]] = -1
    if not good.any():
        return codes, []
    names = np.where(inside[good], win[good], 0).astype(np.uint8)
    uniq, which = np.unique(names.view(f"V{w}").ravel(), return_inverse=True)
    codes[rows[good]] = which.ravel()
    return codes, [bytes(u).rstrip(b"\0").decode() for u in uniq]


def _one_source(buf: bytes, a: np.ndarray, starts: np.ndarray, lens: np.ndarray) -> str | None:
    """The source every line names when each opens exactly as the first does
    (``{"source":"<name>"``, a name of ``_SOURCE``'s form), as a chunk of one source's
    envelopes does; None otherwise.  One comparison of each line's opening with the
    first's: the window of every line and its checks cost ~4 ms of a 10,000-line chunk."""
    first = buf[int(starts[0]):int(starts[0]) + min(int(lens[0]), len(_OPEN) + _NAME_MAX + 1)]
    if not first.startswith(_OPEN):
        return None
    end = first.find(b'"', len(_OPEN))
    name = first[len(_OPEN):end]
    if end < 0 or not 1 <= len(name) <= _NAME_MAX or name.strip(b"abcdefghijklmnopqrstuvwxyz_"):
        return None
    head = np.frombuffer(first[:end + 1], np.uint8)  # the opening, the name and its closing quote
    if (lens < len(head)).any():
        return None
    win = a[starts[:, None] + np.arange(len(head))]
    return name.decode() if (win == head).all() else None


_SPLIT_MIN = 64  # groups smaller than this are parsed whole


@lru_cache(maxsize=None)
def _texty_pattern(source: str) -> str:
    """A documented number or boolean key whose value opens a string.  Of callbacks, only
    where the envelope and ``payload`` have them, with their quotes as they are: a number
    sent as text inside a ``data`` text (its quotes escaped) does not split the chunk; its
    text is read with the others and rewritten there (``_fast_megvii._texts_group``)."""
    if source == "megvii_notify":
        return _texty_pattern("megvii_liveness").replace("\\\\?", "")
    names = set()
    for src in (source, "megvii_liveness") if source == "megvii_notify" else (source,):
        for path, kind in leaves(src):
            if kind in _NUMERIC or kind == "bool":
                names.add(path[-1].replace("[]", ""))
    names.add("http_status")
    alt = "|".join(sorted(re.escape(k) for k in names))
    # (a backslash before the opening quote is no matter to an unanchored search, and
    # leaving it out lets RE2 scan faster)
    return r'"(?:' + alt + r')\\?"\s*:\s*\\?"'


# A JSON number as ``_coerce.num`` and Arrow's typed reader read it alike: at most 20 digits
# before the point and 20 after, an exponent of at most two digits (Arrow's reader refuses a
# number past a double's range, where ``num`` reads infinity: ``"1e400"`` keeps its route).
_JSON_NUMBER = r"-?(?:0|[1-9][0-9]{0,19})(?:\.[0-9]{1,20})?(?:[eE][+-]?[0-9]{1,2})?"
_UNQUOTE_SOURCES = frozenset({"megvii_lite", "megvii_liveness", "megvii_notify"})


@lru_cache(maxsize=None)
def _unquote_pattern(source: str, envelope: bool) -> str | None:
    """The RE2 pattern of a documented number sent as text that :func:`_unquote_numbers`
    writes bare: a key that is a number wherever the spec's shape of the record has it
    (``status`` is text in a payload: it never is one), followed by a JSON number in
    quotes and by the end of its value.  A key inside JSON text (a callback's ``data``)
    has escaped quotes and is never matched.  None: the source's fast extractor takes
    values from the lines themselves (Baidu notes unknown keys from them), so its rows
    keep their route."""
    if source not in _UNQUOTE_SOURCES:
        return None
    kinds: dict = {}

    def walk(node: dict) -> None:
        for k, v in node.items():
            if isinstance(v, dict):
                kinds.setdefault(k, set()).add("object")
                walk(v)
            elif isinstance(v, tuple):
                kinds.setdefault(k, set()).add("list")
                if isinstance(v[1], dict):
                    walk(v[1])
            else:
                kinds.setdefault(k, set()).add(v)
    walk(_shape_tree(source, envelope))
    if envelope:  # the envelope's number (``_schema``; ``_shape_tree`` has it as text)
        kinds["http_status"] = {"int"}
    names = sorted(k for k, ks in kinds.items() if ks <= _NUMERIC)
    if not names:
        return None
    alt = "|".join(re.escape(k) for k in names)
    # (no check of the character before the key's quote: a single pass then takes numbers
    # side by side, three times faster than two passes.  Should that quote be escaped, the
    # key is another one (``"a\"time_used"``), which sends its row to the Python path.)
    return r'("(?:' + alt + r')":\s*)"(' + _JSON_NUMBER + r')"(\s*[,}])'


# The quotes become spaces: each line keeps its length, so the rows are written back where
# they lie (no new bounds) and JSON reads them alike.
_UNQUOTE_REPL = "\\1 \\2 \\3"


def _unquote_numbers(buf: bytes, bounds: np.ndarray, texty: np.ndarray, source: str, envelope: bool):
    """The rows ``texty`` with each documented number sent as text (``"0.5"``) written
    bare (`` 0.5 ``) when it is a JSON number, and which of them still send one (``" 12"``,
    ``"NaN"``, one inside JSON text...).  A chunk whose texty rows are all rewritten so
    is read as one group, typed: a second group cost a read's fixed part again, and its
    extraction's (~35 ms of a Lite chunk's ~380 ms; this costs ~10).  Exact: the field
    rules read ``"0.5"`` and ``0.5`` alike (``num``, ``integer``, ``epoch_checked``); a
    value they would null with a note or quarantine is the Python path's either way, and
    it reads the line as it came.  A Megvii table takes from the group's lines only nulls
    and the notes on keys the spec lacks, which a rewritten row leaves to the Python path
    (``Group.rewritten``).  -> None when no row reads typed so, else ``(the lines that read
    typed now, joined; their bounds; the rows still sending one)``: those keep their
    bytes and their route, and are cut out of ``buf`` by the caller."""
    pattern = _unquote_pattern(source, envelope)
    rows = np.flatnonzero(texty)
    if pattern is None or not len(rows) or len(buf) >= 2 ** 31:
        return None
    n = len(bounds) - 1
    offs = bounds.copy()
    offs[-1] = len(buf)
    arr = pa.BinaryArray.from_buffers(pa.binary(), n, [None, pa.py_buffer(offs.astype(np.int32)),
                                                       pa.py_buffer(buf)])
    sub = arr.take(pa.array(rows))
    if not pc.any(pc.match_substring_regex(sub, pattern=pattern)).as_py():
        return None  # (a callback's numbers are in its data text: a scan, not a rewrite)
    sub = pc.replace_substring_regex(sub, pattern=pattern, replacement=_UNQUOTE_REPL)
    still = np.asarray(pc.match_substring_regex(sub, pattern=_texty_pattern(source)).fill_null(False))
    if still.all():
        return None
    # The typed rows in one copy: the untouched runs, each rewritten row where it lies, and
    # no row that still sends a number as text (the caller cuts those out as they came).
    so = np.frombuffer(sub.buffers()[1], np.int32, len(rows) + 1, sub.offset * 4).tolist()
    new_rows = memoryview(sub.buffers()[2])
    whole = memoryview(buf)
    pieces, at = [], 0
    for j, r in enumerate(rows.tolist()):
        s, e = int(offs[r]), int(offs[r + 1])
        pieces.append(whole[at:s])
        if not still[j]:
            pieces.append(new_rows[so[j]:so[j + 1]])
        at = e
    pieces.append(whole[at:])
    if still[-1] and rows[-1] == n - 1:  # the last line went: so does the newline before it
        last = max(i for i, p in enumerate(pieces) if len(p))
        pieces[last] = pieces[last][:-1]
    new = b"".join(pieces)
    del pieces, new_rows, whole, sub, arr
    left = texty.copy()
    left[rows] = still
    keep = np.flatnonzero(~left)
    new_bounds = np.concatenate([[0], np.cumsum(bounds[keep + 1] - bounds[keep])])
    if len(new) != new_bounds[-1] - 1:  # (cannot be: the pattern keeps a row's length) keep the route
        return None
    return new, new_bounds, left


def _numbers_as_text(lines, joined: bytes | None, source: str) -> np.ndarray | None:
    """Rows that send a documented number or boolean as text, when some rows do and
    others not (None otherwise).  Quoting every bare number of a chunk because a few of
    its records are stringified costs a regex pass and a text read of every row; split,
    the typed rows are read as they are.  A row this misses fails the typed read and
    its part is quoted whole, as before; one it takes wrongly is only read quoted."""
    n = len(lines)
    if n < _SPLIT_MIN:
        return None
    if joined is None:
        joined = b"\n".join(lines)
    bounds = _offsets(lines)
    offs = bounds.copy()
    offs[-1] = len(joined)
    if offs[-1] >= 2 ** 31:
        return None
    arr = pa.BinaryArray.from_buffers(pa.binary(), n, [None, pa.py_buffer(offs.astype(np.int32)),
                                                       pa.py_buffer(joined)])
    pattern = _texty_pattern(source)
    if n > _PROBE and not pc.any(pc.match_substring_regex(arr.slice(0, _PROBE), pattern=pattern)).as_py():
        return None  # none in the first lines: most likely none at all (else the read quotes)
    hit = pc.match_substring_regex(arr, pattern=pattern)
    mask = np.asarray(hit.fill_null(False))
    k = int(mask.sum())
    return mask if 0 < k < n else None


# --- reading columns by kind ----------------------------------------------------------------

_NULLS: list = []


def _nulls() -> pa.Array:
    if not _NULLS:
        _NULLS.append(pa.array(sorted(NULL_STRINGS), pa.string()))
    return _NULLS[0]


def _py_value(kind: str, v):
    """One value as the Python path reads it (``v`` as Arrow gave it; a quoted bare
    token is read back as the JSON value it was)."""
    v = _unmark(v)
    if kind in ("str", "text"):
        return text(v)
    if kind == "id":
        return v if isinstance(v, str) else (str(v) if isinstance(v, int) and not isinstance(v, bool) else None)
    if kind == "int":
        return integer(v)
    if kind == "bool":
        return boolean(v)
    if kind == "code":
        return code_text(v)
    if kind == "cntime":
        us = cn_time_to_us(v)
        return us if in_window(us) else None
    if kind == "epoch":
        from .._coerce import epoch_to_us
        return epoch_to_us(v)
    return num(v)


def _token(tok: str):
    import orjson
    try:
        return orjson.loads(tok)
    except orjson.JSONDecodeError:
        import json
        try:
            return json.loads(tok)
        except ValueError:
            return tok


_TYPES = {"str": pa.string(), "text": pa.string(), "id": pa.string(), "int": pa.int64(), "textint": pa.int64(),
          "float": pa.float64(), "conf": pa.float64(), "conf?": pa.float64(), "gen": pa.float64(),
          "epoch": pa.int64(), "cntime": pa.int64(), "bool": pa.bool_(), "code": pa.string()}
_RANGE = {"conf": CONFIDENCE_RANGE, "conf?": CONFIDENCE_RANGE, "gen": GENUINENESS_RANGE}


def read_kind(kind: str, arr: pa.Array):
    """-> (values, rows whose value needs the Python path or None).  A value needs it
    when the field rules would null it with a note, or quarantine its record."""
    if kind == "textint":
        kind = "int"
    t = arr.type
    if pa.types.is_null(t):
        return pa.nulls(len(arr), _TYPES[kind]), None
    rng = _RANGE.get(kind)
    if pa.types.is_string(t) and not _has_mark(arr):
        if kind in ("str", "text"):
            nullish = pc.or_(pc.is_in(arr, value_set=_nulls()),
                             pc.equal(pc.utf8_trim_whitespace(arr), ""))
            return pc.if_else(nullish, pa.scalar(None, pa.string()), arr), None
        if kind == "id":
            return arr, None
    if kind in _NUMERIC and kind not in ("epoch",) and (pa.types.is_floating(t) or pa.types.is_string(t)):
        f = arr
        if pa.types.is_string(t):
            try:
                f = pc.replace_substring(arr, _MARK, "").cast(pa.float64())
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                f = None
        if f is not None:
            bad = _refused_numbers(f, rng, kind == "int")
            need = None if bad is None else pa.array(bad)
            if need is not None:
                f = pc.if_else(need, pa.scalar(None, pa.float64()), f)
            return (f.cast(pa.int64()) if kind == "int" else f), need
    if kind == "epoch" and pa.types.is_string(t):
        try:
            arr, t = pc.replace_substring(arr, _MARK, "").cast(pa.float64()), pa.float64()
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
    if kind == "epoch" and pa.types.is_floating(t):
        f = arr.to_numpy(zero_copy_only=False)
        with np.errstate(invalid="ignore"):
            f = np.where(f > 4102444800 * 100, f / 1000.0, f)
            ok = (f >= TIME_MIN_US // 1_000_000) & (f <= TIME_MAX_US // 1_000_000)
        us = np.where(ok, np.round(np.nan_to_num(f) * 1_000_000), 0).astype(np.int64)
        present = np.asarray(arr.is_valid())
        return pa.array(us, pa.int64(), mask=~(present & ok)), pa.array(present & ~ok)
    if kind == "bool" and pa.types.is_boolean(t):
        return arr, None
    if kind == "cntime" and pa.types.is_string(t) and not _has_mark(arr):
        return _cn_times(arr)
    if kind in ("bool", "code") and pa.types.is_string(t):
        got = _bool_or_code(kind, arr)
        if got is not None:
            return got
    # Anything else: value by value, with the very readers of the Python path.
    values = arr.to_pylist()
    out = [None if v is None else _py_value(kind, v) for v in values]
    need = [v is not None and o is None and not _nullish(v) for v, o in zip(values, out)]
    if rng is not None:
        need = [nd or (o is not None and not rng[0] <= o <= rng[1]) for nd, o in zip(need, out)]
        out = [None if nd else o for nd, o in zip(need, out)]
    return pa.array(out, _TYPES[kind]), (pa.array(need, pa.bool_()) if any(need) else None)


def _refused_numbers(f: pa.Array, rng, whole: bool) -> np.ndarray | None:
    """The present values of a float64 column the field rules refuse (not finite, out of
    ``rng``, not a whole number where one is asked), or None when there are none.  With
    numpy on the column's values: a column read so costs two Arrow calls instead of up to
    ten (a group reads some 200 columns: the calls' overhead was a fifth of a group of a
    few hundred records)."""
    v = f.to_numpy(zero_copy_only=False)  # nulls as NaN: masked below
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(v)
        if rng is not None:
            bad |= (v < rng[0]) | (v > rng[1])
        if whole:
            bad |= np.floor(v) != v
    if f.null_count:
        bad &= np.asarray(f.is_valid())
    return bad if bad.any() else None


_TRUE = pa.array(["true", "1", "yes", "y", "t"])
_FALSE = pa.array(["false", "0", "no", "n", "f"])


def _bool_or_code(kind: str, arr: pa.Array):
    """``boolean`` and ``code_text`` of a text column, vectorised; None when a value
    needs them one by one (a bare number that is not a whole one, say)."""
    marked = pc.fill_null(pc.starts_with(arr, _MARK), False)
    tok = pc.if_else(marked, pc.utf8_slice_codeunits(arr, 1), arr)
    if kind == "bool":
        s = pc.utf8_lower(pc.utf8_trim_whitespace(tok))
        yes, no = pc.is_in(s, value_set=_TRUE), pc.is_in(s, value_set=_FALSE)
        out = pc.if_else(yes, True, pc.if_else(no, False, pa.scalar(None, pa.bool_())))
        unknown = pc.and_(pc.is_valid(arr), pc.is_null(out))
        unknown = pc.and_(unknown, pc.invert(pc.or_(pc.is_in(arr, value_set=_nulls()),
                                                    pc.equal(pc.utf8_trim_whitespace(arr), ""))))
        return out, (unknown if pc.any(unknown).as_py() else None)
    # code_text: a bare whole number as it is written; text stripped, null-ish text null
    whole = pc.match_substring_regex(tok, r"^-?(0|[1-9][0-9]*)$")
    if pc.any(pc.and_(marked, pc.invert(whole))).as_py():
        return None
    s = pc.utf8_trim_whitespace(tok)
    nullish = pc.or_(pc.is_in(s, value_set=_nulls()), pc.equal(s, ""))
    return pc.if_else(pc.and_(pc.invert(marked), nullish), pa.scalar(None, pa.string()),
                      pc.if_else(marked, tok, s)), None


_CN = r"^\s*(?P<y>\d{4})-(?P<mo>\d{1,2})-(?P<d>\d{1,2})(?:[ T](?P<h>\d{1,2}):(?P<mi>\d{1,2})(?::(?P<s>\d{1,2}))?)?\s*$"


def _cn_times(arr: pa.Array):
    """``cn_time_to_us`` of a text column, vectorised: Beijing wall time -> µs (UTC);
    a present time that does not read, or falls outside the window, needs Python."""
    plain = np.asarray(pc.match_substring_regex(arr, _CN_PLAIN).fill_null(True))
    if plain.all():
        text_ = arr  # every time written in full (as the documents do): read as it is
    else:  # only the others rewritten so (all of them: ~14 ms of a getall chunk's 10,000)
        odd = ~plain
        text_ = pc.replace_with_mask(arr, pa.array(odd), _cn_text(arr.filter(pa.array(odd))))
    ts = pc.strptime(text_, format="%Y-%m-%d %H:%M:%S", unit="us", error_is_null=True)
    ts = _not_rolled(ts, text_)
    us = pc.subtract(ts.cast(pa.int64()), CN_OFFSET_US)
    ok = pc.and_(pc.greater_equal(us, TIME_MIN_US), pc.less_equal(us, TIME_MAX_US))
    us = pc.if_else(pc.fill_null(ok, False), us, pa.scalar(None, pa.int64()))
    nullish = pc.or_(pc.is_in(arr, value_set=_nulls()), pc.equal(pc.utf8_trim_whitespace(arr), ""))
    need = pc.and_(pc.and_(pc.is_valid(arr), pc.is_null(us)), pc.invert(nullish))
    need = pc.fill_null(need, False)
    return us, (need if pc.any(need).as_py() else None)


# A day, hour, minute or second of ``YYYY-MM-DD HH:MM:SS`` that strptime may roll over.
_CN_ROLL = r"^.{8}(?:29|3[0-9])|^.{11}(?:2[4-9]|[3-9][0-9])|^.{14}[6-9][0-9]|^.{17}[6-9][0-9]"


def _not_rolled(ts: pa.Array, text_: pa.Array) -> pa.Array:
    """``ts`` (strptime of ``text_``), null where a field did not read back as written:
    strptime rolls 30 February over into March and a 60th second into the next minute,
    where ``cn_time_to_us`` refuses them.  Only the times that may roll are checked."""
    may = np.flatnonzero(np.asarray(pc.fill_null(pc.match_substring_regex(text_, _CN_ROLL), False)))
    if not len(may):
        return ts
    at = pa.array(may)
    t, txt = ts.take(at), text_.take(at)
    same = np.ones(len(may), bool)
    for field, pos in ((pc.day, 8), (pc.hour, 11), (pc.minute, 14), (pc.second, 17)):
        same &= np.asarray(pc.fill_null(pc.equal(field(t), pc.utf8_slice_codeunits(txt, pos, pos + 2)
                                                 .cast(pa.int64())), False))
    if same.all():
        return ts
    rolled = np.zeros(len(ts), bool)
    rolled[may[~same]] = True
    return pc.if_else(pa.array(rolled), pa.scalar(None, ts.type), ts)


# What ``_CN`` reads without padding: the extract and its eleven-part join below cost
# a twentieth of a getall chunk, for text that is already in this form.
_CN_PLAIN = r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$"


def _cn_text(arr: pa.Array) -> pa.Array:
    """``_CN``'s reading of each time as ``YYYY-MM-DD HH:MM:SS`` (null: none)."""
    m = pc.extract_regex(arr, _CN)
    parts = []
    for i, width in enumerate((4, 2, 2, 2, 2, 2)):
        f = pc.struct_field(m, [i])
        f = pc.if_else(pc.equal(f, ""), "0", f) if i >= 3 else f
        parts.append(pc.utf8_lpad(f, width, "0"))
    return pc.binary_join_element_wise(parts[0], "-", parts[1], "-", parts[2], " ", parts[3], ":",
                                       parts[4], ":", parts[5], "")


def _has_mark(arr: pa.Array) -> bool:
    return bool(pc.any(pc.starts_with(arr, _MARK)).as_py())


def _nullish(v) -> bool:
    return isinstance(v, str) and (v in NULL_STRINGS or not v.strip())


# --- what the extractors share ------------------------------------------------------------

class View:
    """The payload columns of one group, read by path and kind: every read marks the
    rows whose value needs the Python path in ``slow``."""

    lines = None  # the group's lines (to tell a null key from an absent one), when at hand

    def __init__(self, root: pa.StructArray, slow: np.ndarray, rows: np.ndarray | None = None):
        self.root = root
        self.n = len(root)
        self.slow = slow          # shared with the group: one flag per record
        self.rows = np.arange(self.n) if rows is None else rows  # item -> record
        self._nodes: dict = {(): root}
        self._kids: dict = {}

    def node(self, path: tuple):
        a = self._nodes.get(path, False)
        if a is not False:
            return a
        parent = self.node(path[:-1])
        a = None
        if parent is not None and pa.types.is_struct(parent.type):
            kids = self._kids.get(path[:-1])
            if kids is None:  # children with the parent's nulls merged in
                kids = self._kids[path[:-1]] = dict(zip((f.name for f in parent.type), parent.flatten()))
            a = kids.get(path[-1])
        self._nodes[path] = a
        return a

    def valid(self, path: tuple) -> np.ndarray:
        a = self.node(path)
        return np.zeros(self.n, bool) if a is None else np.asarray(a.is_valid())

    def get(self, path: tuple, kind: str) -> pa.Array:
        a = self.node(path)
        if a is None:
            return pa.nulls(self.n, _TYPES[kind])
        values, need = read_kind(kind, a)
        if need is not None:
            self.mark(np.asarray(pc.fill_null(need, False)))
        return values

    def mark(self, mask: np.ndarray) -> None:
        """Send the records of the items in ``mask`` to the Python path."""
        if mask.any():
            self.slow[self.rows[mask]] = True

    def items(self, path: tuple) -> tuple["View", np.ndarray]:
        """The items of the list at ``path`` as a view, and their 1-based positions."""
        a = self.node(path)
        if a is None or not pa.types.is_list(a.type):
            return None, np.zeros(0, np.int64)
        parents = _list_parents(a)
        lengths = np.diff(np.asarray(a.offsets)) * np.asarray(a.is_valid())
        starts = np.concatenate([[0], np.cumsum(lengths)])[:-1]
        pos = np.arange(len(parents)) - starts[parents] + 1
        return View(a.flatten(), self.slow, self.rows[parents]), pos


class Rows:
    """The tidy tables of one group, built column-wise: ``emit(table, records, cols)``."""

    def __init__(self):
        self.out: dict[str, list[pa.Table]] = {}

    def emit(self, table: str, rec: np.ndarray, cols: dict, mask: np.ndarray | None = None) -> None:
        if mask is not None:
            sel = np.flatnonzero(mask)
            if not len(sel):
                return
            take = None if len(sel) == len(rec) else pa.array(sel)
            rec = rec[sel]
        else:
            take = None
            if not len(rec):
                return
        m = len(rec)
        schema = file_schema(table)
        arrays = [pa.array(rec, pa.int64())]
        for name in columns(table):
            v = cols.get(name)
            typ = schema.field(name).type
            if v is None:
                arrays.append(pa.nulls(m, typ))
            elif isinstance(v, pa.Scalar):
                arrays.append(pa.repeat(v if v.type == typ else v.cast(typ), m))
            else:
                if not isinstance(v, pa.Array):
                    v = pa.array(v, typ)
                if take is not None:
                    v = v.take(take)
                arrays.append(v if v.type == typ else v.cast(typ))
        self.out.setdefault(table, []).append(pa.Table.from_arrays(arrays, ["_rec", *columns(table)]))

    def tables(self) -> dict[str, pa.Table]:
        return {k: pa.concat_tables(v) for k, v in self.out.items()}


class Media:
    """The media rows of one group.  Links and empty values are built column-wise;
    inline images (and anything not plainly a link) go one by one through the Python
    path's :func:`~faceanalytics.flatten._common.media_row`, which decodes, hashes and
    names the file.  A value that is not text sends its record to the Python path."""

    def __init__(self, source: str, sids: list, masker, slow: np.ndarray):
        self.source, self.sids, self.masker, self.slow = source, sids, masker, slow
        self.parts: list[tuple] = []
        self.jobs: list[tuple] = []

    def add(self, rows: np.ndarray, values: pa.Array, field, media_type: str, expect: str,
            attempt=None, keep: np.ndarray | None = None) -> None:
        """``values`` (one per item, ``rows`` their records); ``field`` and ``attempt`` a
        scalar or one per item."""
        if values is None or not len(values) or values.null_count == len(values):
            return
        use = np.asarray(values.is_valid())
        if keep is not None:
            use &= keep
        if not use.any():
            return
        if not pa.types.is_string(values.type):
            self.slow[rows[use]] = True
            return
        marked = np.asarray(pc.fill_null(pc.starts_with(values, _MARK), False)) & use
        if marked.any():  # a number or boolean where text is documented: Python notes it
            self.slow[rows[marked]] = True
            use &= ~marked
        v = pc.utf8_trim_whitespace(values)
        head = pc.ascii_lower(pc.utf8_slice_codeunits(v, 0, 8))
        empty = np.asarray(pc.fill_null(pc.equal(v, ""), False))
        data = np.asarray(pc.fill_null(pc.starts_with(head, "data:"), False))
        link = np.asarray(pc.fill_null(pc.or_(pc.starts_with(head, "http://"),
                                              pc.starts_with(head, "https://")), False))
        url = ~empty & ~data & (link if expect != "url" else True)
        vec = use & (empty | url)
        if vec.any():
            sel = pa.array(np.flatnonzero(vec))
            self.parts.append((rows[vec], {
                "field": field if isinstance(field, str) else field.take(sel),
                "attempt": attempt if attempt is None or isinstance(attempt, int) else attempt.take(sel),
                "media_type": media_type,
                "url": pc.if_else(pa.array(url[vec]), v.take(sel), pa.scalar(None, pa.string())),
                "error": pc.if_else(pa.array(empty[vec]), "empty (not generated)",
                                    pa.scalar(None, pa.string()))}))
        rest = np.flatnonzero(use & ~vec)
        if len(rest):
            vals = values.take(pa.array(rest)).to_pylist()
            fields = [field] * len(rest) if isinstance(field, str) else field.take(pa.array(rest)).to_pylist()
            atts = ([attempt] * len(rest) if attempt is None or isinstance(attempt, int)
                    else attempt.take(pa.array(rest)).to_pylist())
            for i, val, f, a in zip(rest.tolist(), vals, fields, atts):
                self.jobs.append((int(rows[i]), f, val, media_type, expect, a))

    def emit(self, out: "Rows") -> list:
        """Emit the rows; -> the blobs to write ``(record, path, bytes)``."""
        from ._common import Context, Flat, media_row, row_names

        for rows, cols in self.parts:
            out.emit("media", rows, {k: (pa.scalar(v) if isinstance(v, (str, int)) else v)
                                     for k, v in cols.items()})
        # One Flat and one Context for every job (the record's session id set per job), each
        # job's rows and blobs told apart by where they end; names made once per chunk: ~900
        # inline images of a liveness chunk cost ~12 ms, a Flat, a Context and two names each.
        flat, ctx, names = Flat(), Context(self.source, None, self.masker), {}
        recs, blob_recs = [], []
        for r, field, value, mt, expect, att in self.jobs:
            ctx.session_id = self.sids[r]
            media_row(flat, ctx, field, value, media_type=mt, attempt=att, expect=expect, names=names)
            rows = flat.tuples.get("media", ())
            recs += [r] * (len(rows) - len(recs))
            blob_recs += [r] * (len(flat.blobs) - len(blob_recs))
        rows = flat.tuples.get("media", [])
        if rows:  # tuples in row_fields("media") order; pack and offset are set later
            out.emit("media", np.asarray(recs, np.int64),
                     {c: list(col) for c, col in zip(row_names("media"), zip(*rows))
                      if c not in ("pack", "offset")})
        return [(r, rel, blob) for r, (rel, blob) in zip(blob_recs, flat.blobs)]


class Extracted:
    """What an extractor gives back for a group: per parsed row, and the tables."""

    __slots__ = ("slow", "source", "session_id", "fetched_us", "session_time_us", "ok", "tables",
                 "blobs")


def whole(col: pa.ChunkedArray) -> pa.Array:
    """``col`` as one array: its one chunk as it is (``combine_chunks`` copies even that)."""
    if col.num_chunks == 1 and col.chunk(0).offset == 0:
        return col.chunk(0)
    return col.combine_chunks()


def envelope_columns(g: Group, slow: np.ndarray, received_us: int):
    """``(session ids or None, fetched µs, http status, payload)`` per row, read as
    ``_records.read_record`` reads them (a row it would quarantine is marked slow)."""
    t = g.table
    n = t.num_rows
    if not g.envelope:
        payload = pa.StructArray.from_arrays([c.combine_chunks() for c in t.columns],
                                             names=t.column_names)
        return None, np.full(n, received_us, np.int64), pa.nulls(n, pa.int32()), payload
    payload = whole(t.column("payload"))
    slow |= ~np.asarray(payload.is_valid())
    sid_col = t.column("session_id").combine_chunks()
    if pa.types.is_string(sid_col.type) and not _has_mark(sid_col):
        sids = read_kind("str", sid_col)[0].to_pylist()  # ``text`` of each, column-wise
    else:
        sids = [None if s is None else text(_unmark(s)) for s in sid_col.to_pylist()]
    fetched, bad = _iso_times(t.column("fetched_at").combine_chunks())
    slow |= bad  # the Python path quarantines them, with the reason
    hs = t.column("http_status").combine_chunks()
    if pa.types.is_floating(hs.type) and pc.all(pc.equal(pc.floor(hs), hs)).as_py() is not False \
            and pc.all(pc.less(pc.abs(hs), 2 ** 31)).as_py() is not False:
        http = hs.cast(pa.int32())  # whole numbers, as ``integer`` reads them
    elif hs.null_count < n:
        http = pa.array([None if v is None else integer(_unmark(v)) for v in hs.to_pylist()], pa.int32())
    else:
        http = pa.nulls(n, pa.int32())
    return sids, fetched, http, payload


_ISO_PLAIN = (r"^\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])"
              r"T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:Z|\+00:00)?$")


def _iso_times(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """``iso_to_us`` of each envelope time, and where it is missing, unreadable or out
    of the window.  Plain UTC times (as every writer here gives them) are read
    column-wise, the rest one by one."""
    n = len(arr)
    fetched = np.zeros(n, np.int64)
    plain = np.zeros(n, bool)
    if pa.types.is_string(arr.type):
        plain = np.asarray(pc.fill_null(pc.match_substring_regex(arr, _ISO_PLAIN), False))
    if plain.any():
        head = pc.utf8_slice_codeunits(arr, 0, 19)
        ts = pc.strptime(head, format="%Y-%m-%dT%H:%M:%S", unit="us", error_is_null=True)
        # strptime rolls 30 February over into March (a later month, another day): the day
        # must read back as written (compared as numbers: strftime costs ten times more)
        day = pc.if_else(pa.array(plain), pc.utf8_slice_codeunits(arr, 8, 10), "0").cast(pa.int64())
        same = pc.equal(pc.day(ts), day)
        us = np.asarray(pc.if_else(same, ts.cast(pa.int64()), TIME_MIN_US - 1).fill_null(TIME_MIN_US - 1))
        plain &= (us >= TIME_MIN_US) & (us <= TIME_MAX_US)  # else one by one: in_window decides
        fetched[plain] = us[plain]
    bad = ~plain
    rest = np.flatnonzero(bad)
    if len(rest):
        for i, f in zip(rest.tolist(), arr.take(pa.array(rest)).to_pylist()):
            us = iso_to_us(f) if isinstance(f, str) and f[:1] != _MARK else None
            if us is not None and in_window(us):
                fetched[i], bad[i] = us, False
    return fetched, bad


def _unmark(v):
    """A value as JSON gave it: a quoted bare token is read back."""
    if isinstance(v, str) and v[:1] == _MARK:
        tok = v[1:]
        return True if tok == "true" else False if tok == "false" else _token(tok)
    return v


# --- keys the spec lacks, noted as the Python path notes them ------------------------------

def unknown_extra(g: Group, rows: np.ndarray, rec: np.ndarray, slow: np.ndarray, notes) -> pa.Array:
    """``sessions.extra`` of records whose lines have keys the spec lacks (``g.slow``): the
    columnar path reads their documented keys like any other record's (the reader ignores
    the rest), and the keys it ignored are found here, one line at a time.  ``rows``: the
    lines (rows of ``g.table``), ``rec``: their records (in ``slow``, which they leave when
    taken); ``notes(j, obj)`` (``obj``: the ``j``-th line, parsed) gives the notes the
    Python flattener makes of them and how many keys it noted (``baidu.unknown_keys``,
    ``megvii.unknown_keys``), or None where it would do more than note them.  A record is
    taken only where its line's keys (counted as :func:`_key_mismatch` counts them) are
    those the reader read and those noted, or those the spec lacks (a key written twice,
    say, leaves it to the Python path).  -> each record's ``extra`` (JSON text, or null)."""
    import orjson

    m = len(rows)
    extra = [None] * len(slow)
    arrow = np.zeros(m, np.int64)  # the values the reader read, as _key_mismatch counts them
    for col in g.table.take(pa.array(rows)).columns:
        _count_valid(whole(col), None, arrow)
    sub, bounds = _subset(g.buf, g.bounds, rows)
    written = _written_keys(sub, bounds)
    # A line is read as ``_records.parse_json`` (the Python path's parser) reads it, or left
    # to that path where it may do more than ``orjson.loads``: a line it may refuse for its
    # depth (openers counted for all the lines at once), or text orjson refuses (NaN, a lone
    # surrogate, ...).  The loop's numbers are Python ints (a NumPy scalar per test of each
    # record cost a tenth of it).
    readable = ((written >= 0) & (_openers(sub, bounds) <= _MAX_OPENERS)).tolist()
    arrow, written, at = arrow.tolist(), written.tolist(), bounds.tolist()
    tree = _shape_tree(g.source, g.envelope)
    taken = []
    for j in range(m):
        if not readable[j]:
            continue
        try:
            obj = orjson.loads(sub[at[j]:at[j + 1] - 1])
            got = notes(j, obj)
            if got is None:
                continue
            found, seen = got
            text = orjson.dumps(found, default=str) if found else None
            # (text opening with ``_MARK`` is written ``"\u001f``: only then is it looked for)
            if text is not None and b'"\\u001f' in text and _marked(found):
                continue
            # the keys noted are usually all the reader ignored; else they are counted
            if written[j] != arrow[j] + seen and written[j] != arrow[j] + _ignored(obj, tree):
                continue
            if text is not None:
                extra[rec[j]] = text.decode()
        except Exception:  # noqa: BLE001 - a record this cannot read is the Python path's
            continue
        taken.append(rec[j])
    slow[taken] = False
    return pa.array(extra, pa.string())


def _openers(buf: bytes, bounds: np.ndarray) -> np.ndarray:
    """``line.count(b"{") + line.count(b"[")`` of each line of ``buf``, at once."""
    a = np.frombuffer(buf, np.uint8)
    at = np.flatnonzero((a == 123) | (a == 91))
    return np.bincount(np.searchsorted(bounds, at, "right") - 1, minlength=len(bounds) - 1)[:len(bounds) - 1]


_MAX_OPENERS = MAX_DEPTH  # a line with more openers may nest deeper than the Python path reads


def _written_keys(buf: bytes, bounds: np.ndarray) -> np.ndarray:
    """The keys with a value written in each line, counted as :func:`_key_mismatch`
    counts them (:func:`keys_written`); -1 where it flags a line whatever the count."""
    n = len(bounds) - 1
    if len(buf) < 2:
        return np.zeros(n, np.int64)
    _, row, real, null, odd = keys_written(buf, bounds)
    out = np.bincount(row[real & ~null], minlength=n)
    out[odd] = -1
    return out


def _ignored(obj: dict, tree: dict) -> int:
    """The keys with a value in ``obj`` that the spec's ``tree`` lacks (the reader ignored
    them), and the keys inside them."""
    from .megvii import keys_in

    n = 0
    if not tree.keys() >= obj.keys():
        for k in obj.keys() - tree.keys():
            v = obj[k]
            if v is not None:
                n += 1 + keys_in(v)
    for k, sub, many in _node_objects(tree):
        v = obj.get(k)
        if many:
            if isinstance(v, list):
                n += sum(_ignored(x, sub) for x in v if isinstance(x, dict))
        elif isinstance(v, dict):
            n += _ignored(v, sub)
    return n


def _marked(v) -> bool:
    """Whether text in ``v`` opens with ``_MARK``: a bare number the parse quoted, or text
    that opened so as it came; which of them is not known, so the record is the Python
    path's."""
    if isinstance(v, dict):
        return any(_marked(x) for x in v.values())
    if isinstance(v, list):
        return any(_marked(x) for x in v)
    return isinstance(v, str) and v[:1] == _MARK
