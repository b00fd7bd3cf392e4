"""The review's counts, taken where the data lives: a few small frames from one scan of each table.

A review of half a year against the half before reads every comparison, session and
anti-spoofing check of the year.  Loading them costs ~400 bytes a row; counting them
here reads each row once and returns frames of a few thousand rows whatever the volume
(see ``benchmarks/bench_review.py``).  What comes back (one row per group, a count
``n``; :mod:`faceanalytics.report` derives every metric from it):

=====================  ==========================================================================
``comparisons``        per source, comparison kind, day, threshold set, *pass bits* (bit i:
                       ``confidence >= thr`` of level i; bit 4: ``>=`` Baidu's configured
                       ``threshold``; bit 5: no confidence) and ``first`` (a session's first
                       attempt: the change tests count Baidu sessions, not their retries):
                       every pass rate, era and would-flip count.  Passing is decided per row
                       against its own thresholds, so the bits are exact however they vary.
``comparison_hist``    per source, kind, side (0 previous period, 1 this one), threshold set,
                       bits and 0.1-point confidence bin: the distribution figures and PSI/KS.
``genuineness``        per source, attack, day, threshold and state (bit 0 no confidence, bit 1
                       no threshold, bit 2 flagged: ``confidence > threshold``, bit 3 within
                       0.05 under the threshold).
``sessions``           per source, day, time basis, status, errors, liveness result, late
                       fetch flag: statuses, errors, data quality.
``attempts``,          the other error tables pre-counted per day (what ``error_codes`` reads).
``verify_errors``,
``error_counts``
``quarantine``         per source, side and reason.
``quality``            this period, per partition (source, month): session rows, distinct
                       sessions, sessions sharing a request id, and sessions that should carry
                       a comparison and have none (``no_comparison``).
``seg_sessions``,      this period, per segment: the error columns, comparisons (day, first,
``seg_comparisons``,   kind, bits, ``has``: which thresholds the row has) and checks of the
``seg_genuineness``    sessions with a value of the segment, in its ``seg_<name>`` column (each
                       segment counted on its own: the other segments' columns are empty).
=====================  ==========================================================================

Segments are values of a ``biz_extra_data`` key (a JSON object, or ``k=v&...`` text) or
of a sessions column, read only for the chosen keys; values outside the kept list are
``"(other)"``.

How the rows are read.  The partitions before this period's first month are counted
with one query per table.  This period goes one (source, month) partition at a time:
its sessions are read once into a compact table in DuckDB's memory (session key, day,
segment digits, the columns the counts keep), counted, and joined to the partition's
comparisons and checks inside the very scan that counts them (GROUPING SETS: the pooled
counts and every segment's in one pass; the segments' digits carried packed in one integer,
:func:`segment_packs`, and taken back out of the counts).  Both tables are partitioned by the month of
``session_time`` and all rows of a session share it, so memory is bounded by the largest
partition, not by the number of rows.  Sessions are matched on the ``session_key``
column the store writes (8 bytes; :func:`faceanalytics.storage.tables.session_keys`) when every
file of the partition has it, else on a hash of ``session_id``.  On a local data
directory DuckDB reads exactly the files of the partitions it needs.

Counted once.  The counts of a whole partition -- every row of it inside the period it is
counted for, by its files' footers -- do not depend on the period's bounds; on a local data
directory they are kept in ``DATA/summaries`` and read back by the next review while the
partition's files are unchanged (:mod:`faceanalytics.engines._kept`): a scheduled review
counts only the partitions that changed since the last one.  The previous period is then
counted partition by partition too; the error tables likewise.

The same SQL runs on DuckDB and Spark (:mod:`faceanalytics.engines._sql` dialects); the
pandas counterpart is :func:`faceanalytics.report._counts.count_frames`.
"""
from __future__ import annotations

import contextlib
import logging
import os
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import orjson
import pandas as pd

from ..analytics._core import EVENT_BASES, LISTING_SOURCE, REPEAT_SOURCE
from ..schema import LEVEL_COLUMNS, LEVELS, SESSION_KEY
from . import _sql as S
from ._api import _window, get_engine
from ._base import arrow_frame
from ._kept import Kept
from ._placed import _JOINED, _identities, _kept_beside, _Layout, _Placed, _us, run_query

log = logging.getLogger(__name__)

__all__ = ["Segment", "count_tables", "segment_sample", "labelled_comparisons", "OTHER",
           "COMPARISON_KEYS", "GENUINENESS_KEYS", "SESSION_KEYS", "segment_values", "biz_keys"]

OTHER = "(other)"
_THR = [LEVEL_COLUMNS[lv] for lv in LEVELS]
COMPARISON_KEYS = ["source", "comparison", *_THR, "threshold", "bits", "first"]
GENUINENESS_KEYS = ["source", "attack", "threshold", "state"]
SESSION_KEYS = ["source", "time_basis", "status", "error", "error_message", "liveness_result",
                "failure_reason", "fail_reason", "verify_error", "late", "invalid"]
_DERIVED = ("late", "invalid")  # session keys computed, not read
# Retention (analytics._quality.RETENTION): results fetched later than this were at risk.
RETENTION_US = {"megvii": 86_400_000_000, "baidu": 3 * 86_400_000_000}
NEAR_UNDER = 0.05           # analytics.genuineness_near_threshold's default window


@dataclass(frozen=True)
class Segment:
    """A segment key: ``key`` of ``biz_extra_data`` (``column=None``) or a sessions ``column``.

    ``values``: the values kept as they are; any other value counts as ``"(other)"``
    (None: every value kept).  ``left_out``: values the sample held were not kept (too
    many, or too long to be a label), so ``"(other)"`` holds rows.
    """
    name: str
    column: str | None = None
    values: tuple[str, ...] | None = None
    left_out: bool = field(default=False, compare=False)

    @property
    def label(self) -> str:
        return f"seg_{self.name}" if self.column is None else f"seg_{self.column}"

    @property
    def other(self) -> str:
        """What the values outside ``values`` count under: ``"(other)"``, or ``"((other))"`` (and so
        on) when a value kept is literally that (a client's dropdown sending ``channel=(other)``
        was merged with the values left out: one digit, one row, one series)."""
        other = OTHER
        while other in (self.values or ()):
            other = f"({other})"
        return other


# ------------------------------------------------------------------ expressions

def _duck(d: S.Dialect) -> bool:
    return isinstance(d, S.DuckDBDialect)


def _json_path(d: S.Dialect, key: str) -> str:
    """The JSON path of member ``key`` (any text but empty: a backslash or a quote in a key of
    the data made DuckDB refuse the path, and the review stopped)."""
    if _duck(d):
        return d.text('$."' + key.replace("\\", "\\\\").replace('"', '\\"') + '"')
    return d.text("$['" + key.replace("'", "\\'") + "']")


def _is_object(d: S.Dialect) -> str:
    b = d.q("biz_extra_data")
    return f"(ltrim({b}) LIKE '{{%' AND json_valid({b}))" if _duck(d) else \
        f"(ltrim({b}) LIKE '{{%' AND get_json_object({b}, '$') IS NOT NULL)"


def _biz_key(d: S.Dialect, key: str, parsed: str | None = None) -> str:
    """The value of ``key`` in ``biz_extra_data``: a JSON object's member (strings as they are,
    other values as JSON text), else the first ``key=value`` of ``k=v&...`` text; empty = missing.
    ``parsed``: the member already extracted (DuckDB parses a text once for every key)."""
    return f"nullif({_biz_raw(d, key, parsed)}, '')"


def _biz_raw(d: S.Dialect, key: str, parsed: str | None = None) -> str:
    """:func:`_biz_key` before an empty value is read as missing."""
    b = d.q("biz_extra_data")
    rx = d.text("(^|&)" + re.escape(key) + "=")
    rv = d.text("(?:^|&)" + re.escape(key) + "=([^&]*)")
    if _duck(d):
        js = parsed or f"json_extract_string({b}, {_json_path(d, key)})"
        # the first "key=" at the start or after "&", up to the next "&" (string search: ~4x a regexp's speed)
        amp, tag = f"('&' || {b})", d.text("&" + key + "=")
        at = f"strpos({amp}, {tag})"
        kv = f"CASE WHEN {at} > 0 THEN split_part(substr({amp}, {at} + {len(key) + 2}), '&', 1) END"
    else:
        # no path of Spark's get_json_object names a key holding a quote: such a key is read from a map
        js = parsed or (f"from_json({b}, 'map<string,string>')[{d.text(key)}]" if "'" in key else
                        f"get_json_object({b}, {_json_path(d, key)})")
        kv = f"CASE WHEN {b} RLIKE {rx} THEN regexp_extract({b}, {rv}, 1) END"
    return f"(CASE WHEN {_is_object(d)} THEN {js} ELSE {kv} END)"


def _raw(d: S.Dialect, seg: Segment, parsed: str | None = None) -> str:
    """A sessions row's text of ``seg`` before an empty one is read as missing (NULL: missing)."""
    if seg.column is None:
        return _biz_raw(d, seg.name, parsed)
    c = d.q(seg.column)
    return f"lower(CAST({c} AS {_str(d)}))" if seg.column in _BOOL_COLUMNS else f"CAST({c} AS {_str(d)})"


def segment_expr(d: S.Dialect, seg: Segment, parsed: str | None = None) -> str:
    """SQL for a sessions row's value of ``seg`` (a string, NULL when missing)."""
    v = f"nullif({_raw(d, seg, parsed)}, '')"
    if seg.values is None:
        return v
    kept = ", ".join(d.text(x) for x in seg.values) or "NULL"
    return f"(CASE WHEN {v} IS NULL THEN NULL WHEN {v} IN ({kept}) THEN {v} ELSE {d.text(seg.other)} END)"


def segment_digit(d: S.Dialect, seg: Segment, parsed: str | None = None, raw: str | None = None) -> str:
    """A row's value of ``seg`` as a small integer: 0 missing, then the kept values in order,
    then ``seg.other`` (:func:`digit_values` turns it back).  ``raw``: a column holding the row's
    :func:`_raw` text, worked out once (else worked out here: a test per kept value reads it)."""
    if seg.values is None:
        raise ValueError(f"segment {seg.name!r} needs its values (choose_segments gives them)")
    r = raw or _raw(d, seg, parsed)
    # the text compared once with each kept value (segment_expr's value compared with each digit's
    # read the text three times over per comparison: two sessions-column segments' digits of a
    # month of 5.3M sessions took 0.21 s CPU, 0.07 s so); the first match wins, as it did there
    case = " ".join(f"WHEN {r} = {d.text(x)} THEN {i + 1}" for i, x in enumerate(seg.values))
    return f"(CASE WHEN {r} IS NULL OR {r} = '' THEN 0 {case} ELSE {len(seg.values) + 1} END)"


def digit_values(seg: Segment) -> np.ndarray:
    """Digit -> value of ``seg`` (see :func:`segment_digit`; 0: missing)."""
    return np.array([None, *seg.values, seg.other], dtype=object)


_BOOL_COLUMNS = {"is_demote", "success", "sign_verified"}


# ------------------------------------------------------------------ segment values, in pandas

def biz_keys(raw) -> dict[str, str]:
    """Every key of one ``biz_extra_data`` text with its value as text: a JSON object's members
    (strings as they are, other values as JSON, nulls left out), else ``k=v&...`` pairs (the
    first of a repeated key)."""
    if not isinstance(raw, str) or not raw:
        return {}
    if raw.lstrip().startswith("{"):
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError:
            obj = None
        if isinstance(obj, dict):
            return {str(k): (v if isinstance(v, str) else orjson.dumps(v).decode())
                    for k, v in obj.items() if v is not None}
    out = {}
    for part in raw.split("&"):
        k, sep, v = part.partition("=")
        if sep and k and k not in out:
            out[k] = v
    return out


def _biz_value(raw, key: str):
    """``key`` of one ``biz_extra_data`` text: a JSON object's member, else the first ``k=v``;
    empty values are missing (as :func:`_biz_key` reads it in SQL)."""
    return biz_keys(raw).get(key) or None


def segment_values(sessions: pd.DataFrame, seg: Segment) -> pd.Series:
    """The value of ``seg`` for each session (str, missing as NA), values outside
    ``seg.values`` as ``seg.other``; each distinct text parsed once."""
    if seg.column is None:
        col = sessions["biz_extra_data"] if "biz_extra_data" in sessions else pd.Series(
            [None] * len(sessions), index=sessions.index, dtype="str")
        codes, uniques = pd.factorize(col, use_na_sentinel=True)
        lut = np.array([_biz_value(u, seg.name) for u in uniques] + [None], dtype=object)
        v = pd.Series(lut[np.where(codes < 0, len(uniques), codes)], index=sessions.index, dtype="str")
    else:
        c = sessions[seg.column]
        if seg.column in _BOOL_COLUMNS or c.dtype.kind == "b":
            v = c.astype("boolean").map({True: "true", False: "false"}).astype("str")
        else:
            v = c.astype("str")
        v = v.where(v != "")
    if seg.values is not None:
        keep = v.isin(list(seg.values)) | v.isna()
        v = v.where(keep, seg.other)
    return v


def _clean(d: S.Dialect, col: str) -> str:
    return d.clean(col)


def _str(d: S.Dialect) -> str:
    return "VARCHAR" if _duck(d) else "STRING"


def pass_bits(d: S.Dialect, prefix: str = "_") -> str:
    """Bit i: ``confidence >= thr`` of level i; bit 4: ``>=`` Baidu's threshold; bit 5: no
    confidence (``_c`` against the columns named ``prefix + column``)."""
    c = d.q("_c")
    parts = [f"(CASE WHEN {c} >= {d.q(prefix + col)} THEN {1 << i} ELSE 0 END)" for i, col in enumerate(_THR)]
    parts.append(f"(CASE WHEN {c} >= {d.q(prefix + 'threshold')} THEN 16 ELSE 0 END)")
    parts.append(f"(CASE WHEN {c} IS NULL THEN 32 ELSE 0 END)")
    return "(" + " + ".join(parts) + ")"


def _has(d: S.Dialect, alias: str = "") -> str:
    """Bit i: the level-i threshold is there; bit 4: Baidu's."""
    parts = [f"(CASE WHEN {alias}{d.q(col)} IS NOT NULL THEN {1 << i} ELSE 0 END)" for i, col in enumerate(_THR)]
    return "(" + " + ".join([*parts, f"(CASE WHEN {alias}{d.q('threshold')} IS NOT NULL THEN 16 ELSE 0 END)"]) + ")"


def _hash(d: S.Dialect, col: str) -> str:
    """A 64-bit hash of a text column (NULL stays NULL): what sessions are matched on where
    the files have no ``session_key`` (two of a month's few million sessions sharing a
    hash has odds of about one in a million)."""
    h = f"hash({col})" if _duck(d) else f"xxhash64({col})"
    return f"(CASE WHEN {col} IS NULL THEN NULL ELSE {h} END)"


def _key(d: S.Dialect, keyed: bool) -> str:
    """A row's session: the stored ``session_key`` when every file of the partition has it,
    else a hash of ``session_id`` (one rule for all three tables of a partition)."""
    return d.q(SESSION_KEY) if keyed else _hash(d, d.q("session_id"))


def _first(d: S.Dialect, col: str = "attempt") -> str:
    """1 for a session's first attempt (Megvii has one; Baidu numbers its retries)."""
    a = d.q(col)
    return f"(CASE WHEN {a} IS NULL OR {a} <= 1 THEN 1 ELSE 0 END)"


def _bin(d: S.Dialect, col: str, per_unit: int) -> str:
    # The same IEEE operations as the pandas path (floor(x * per_unit + 1e-6)).
    return f"CAST(floor({col} * {per_unit} + CAST('1e-06' AS DOUBLE)) AS BIGINT)"


def _side(d: S.Dialect, since) -> str:
    return f"(CASE WHEN {d.q('session_time')} >= {d.ts(since)} THEN 1 ELSE 0 END)"


def _group(d: S.Dialect, inner: str, keys: Sequence[str], agg: str = "count(*)") -> str:
    ks = ", ".join(d.q(k) for k in keys)
    return f"SELECT {ks}, {agg} AS {d.q('n')} FROM ({inner}) AS x GROUP BY {ks}"


def _sets(d: S.Dialect, inner: str, sets: Sequence[Sequence[str]], fine: bool = False) -> str:
    """Rows of ``inner`` counted per each of several groupings in one pass (GROUPING SETS);
    ``gid`` tells them apart (:func:`_split_sets`).  ``fine``: first counted per every column
    of the sets together, the groupings then added up from those counts: each row is hashed
    once, not once per grouping (worth it where the sets together have far fewer groups than
    rows, as the segment groupings of a partition: days x a few values)."""
    cols = list(dict.fromkeys(c for s in sets for c in s))
    ks = ", ".join(d.q(c) for c in cols)
    body = ", ".join("(" + ", ".join(d.q(c) for c in s) + ")" for s in sets)
    n = "count(*)"
    if fine and len(sets) > 1:
        inner = f"SELECT {ks}, count(*) AS {d.q('n')} FROM ({inner}) AS f GROUP BY {ks}"
        n = f"CAST(sum({d.q('n')}) AS BIGINT)"
    return (f"SELECT {ks}, grouping_id({ks}) AS {d.q('gid')}, {n} AS {d.q('n')} FROM ({inner}) AS x "
            f"GROUP BY GROUPING SETS ({body})")


def _rolled(d: S.Dialect, inner: str, first: Sequence[Sequence[str]], sets: Sequence[Sequence[str]],
            derived: dict[str, str] | None = None) -> str:
    """:func:`_sets`' result (same columns, ``gid`` and rows) counted in two steps: the rows of
    ``inner`` per each of the ``first`` groupings (a few, wide: each row hashed once per one
    of them), then each of ``sets`` added up from the counts of the first grouping holding all
    its columns (``_h`` marks which grouping a count came from).  ``derived``: columns of
    ``sets`` worked out from the first level's counts (name -> SQL over its columns: a function
    of columns of the groupings they are added up from), so not hashed with every row."""
    derived = derived or {}
    cols = list(dict.fromkeys(c for s in sets for c in s))
    c1 = list(dict.fromkeys(c for f in first for c in f))

    def gid(cs, s):
        return sum(1 << (len(cs) - 1 - i) for i, c in enumerate(cs) if c not in s)

    k1, ks = ", ".join(d.q(c) for c in c1), ", ".join(d.q(c) for c in cols)
    h = d.q("_h")
    level1 = (f"SELECT {k1}, grouping_id({k1}) AS {h}, count(*) AS {d.q('n')} FROM ({inner}) AS x GROUP BY "
              "GROUPING SETS (" + ", ".join("(" + ", ".join(d.q(c) for c in f) + ")" for f in first) + ")")
    body = ", ".join("(" + ", ".join([h, *(d.q(c) for c in s)]) + ")" for s in sets)
    # ``_h`` first in every set and in grouping_id (Spark wants the grouping columns there, in
    # their order): its bit, the highest, is 0 in every set, so the number is :func:`_sets`' one
    if derived:
        level1 = ("SELECT *, " + ", ".join(f"{e} AS {d.q(c)}" for c, e in derived.items())
                  + f" FROM ({level1}) AS y1")
    level2 = (f"SELECT {ks}, {h}, grouping_id({h}, {ks}) AS {d.q('gid')}, CAST(sum({d.q('n')}) AS BIGINT) AS "
              f"{d.q('n')} FROM ({level1}) AS y GROUP BY GROUPING SETS ({body})")
    keep = []
    for s in sets:
        home = next(f for f in first if set(s) - set(derived) <= set(f))
        keep.append(f"({d.q('gid')} = {gid(cols, s)} AND {h} = {gid(c1, home)})")
    return f"SELECT {ks}, {d.q('gid')}, {d.q('n')} FROM ({level2}) AS z WHERE {' OR '.join(keep)}"


def _split_sets(t, sets: Sequence[Sequence[str]], table: str, counts=(), floats=(),
                source: str | None = None) -> list[pd.DataFrame]:
    """The result of :func:`_sets` (an Arrow table), one frame per grouping (its columns and
    ``n``; a ``source``, the result's or the partition's, first), split before it becomes pandas."""
    cols = list(dict.fromkeys(c for s in sets for c in s))
    gid = t.column("gid").to_numpy(zero_copy_only=False)
    out = []
    for s in sets:
        want = sum(1 << (len(cols) - 1 - i) for i, c in enumerate(cols) if c not in s)
        has_source = "source" not in s and ("source" in t.column_names or source is not None)
        sub = t.filter(gid == want).select([c for c in [*(["source"] if has_source else []), *s, "n"]
                                            if c in t.column_names])
        f = arrow_frame(sub, table, counts=counts, floats=floats)
        if has_source and "source" not in f.columns:
            f.insert(0, "source", source)
        out.append(f)
    return out


def _and(where: str, cond: str) -> str:
    if not cond:
        return where
    return f"{where} AND {cond}" if where else f" WHERE {cond}"


def _once(d: S.Dialect, listing: str, w: S.Window) -> str:
    """The condition that keeps a ``baidu_detail`` row: its token has no ``baidu_getall`` row
    in ``listing`` (the whole table) within ``w`` (null-safe, as ``analytics.repeated_attempts``)."""
    sid, s = d.q("session_id"), d.q("source")
    got = f"SELECT {sid} FROM {listing}{_and(w.where(d), s + ' = ' + d.text(LISTING_SOURCE))} AND {sid} IS NOT NULL"
    return f"({sid} IS NULL OR {sid} NOT IN ({got}))"


def _once_relation(d: S.Dialect, src: str, w: S.Window, listing: str | None) -> str:
    """``src`` with each verification attempt once (``analytics.once_per_attempt``: Baidu
    ``detail`` rows of tokens ``getall`` also returned in the window are left out); only the
    ``baidu_detail`` rows pay for the check.  ``listing``: the whole table (None: ``src``
    holds no detail row, taken as it is)."""
    if listing is None:
        return src
    s = d.q("source")
    return (f"(SELECT * FROM {src} WHERE {s} <> {d.text(REPEAT_SOURCE)} UNION ALL "
            f"SELECT * FROM {src} WHERE {s} = {d.text(REPEAT_SOURCE)} AND {_once(d, listing, w)}) AS o")


# ------------------------------------------------------------------ the queries

CMP_SOURCES = ("megvii_lite", "megvii_liveness", "megvii_notify", "baidu_detail", "baidu_getall")
SEG_SESSION_COLUMNS = ["status", "error", "error_message", "liveness_result", "failure_reason", "fail_reason",
                        "verify_error"]
_THRESHOLDS = [*_THR, "threshold"]
CMP_DAY = [*COMPARISON_KEYS, "day"]
CMP_HIST = [*COMPARISON_KEYS, "side", "bin"]
SEG_CMP = ["day", "first", "comparison", "bits", "has"]
SEG_GEN = ["day", "attack", "state"]
SEG_SES = ["day", *SEG_SESSION_COLUMNS]


def _seg(i: int) -> str:
    return f"_g{i}"


_PACK_BITS = 52     # a pack stays exact as a double: unpacked by a floor division, the same in every dialect


def segment_packs(segments: Sequence[Segment]) -> list[list[tuple[int, int, int]]]:
    """The segments' digits packed into few integer columns ``_p<j>`` (at most 52 bits each;
    one for any usual number of segments): each pack a list of (segment, shift, width in bits).
    What the joins carry from a partition's sessions: one column for all the segments, not one
    each, in the hash tables and in the first grouping's key."""
    packs: list[list[tuple[int, int, int]]] = []
    at = _PACK_BITS
    for i, x in enumerate(segments):
        w = (len(x.values or ()) + 1).bit_length()      # digits 0 .. len(values) + 1 (see segment_digit)
        if at + w > _PACK_BITS:
            packs.append([])
            at = 0
        packs[-1].append((i, at, w))
        at += w
    return packs


def _pack(d, pack) -> str:
    """Pack ``pack``'s digits (columns ``_g<i>``) into one integer."""
    return "(" + " + ".join(f"CAST({d.q(_seg(i))} AS BIGINT) * {1 << sh}" for i, sh, _ in pack) + ")"


def _unpacked(d, packs) -> dict[str, str]:
    """``_g<i>`` -> SQL taking segment ``i``'s digit back out of its pack's column (NULL stays NULL)."""
    out = {}
    for j, pack in enumerate(packs):
        for i, sh, w in pack:
            out[_seg(i)] = f"(CAST(floor({d.q(_pk(j))} / {d.num(float(1 << sh))}) AS BIGINT) % {1 << w})"
    return out


def _pk(j: int) -> str:
    return f"_p{j}"


def comparisons_query(d, src, where: str, since, *, sessions: str | None = None, key: str | None = None,
                      dup: str | None = None, packs: Sequence[Sequence[tuple[int, int, int]]] = (),
                      by: Sequence[str] = ()) -> tuple[str, list[list[str]]]:
    """One scan of comparison rows: per day (``CMP_DAY``) and per side and 0.1-point bin
    (``CMP_HIST``).  Joined to this period's ``sessions`` of the partition (see
    :func:`sessions_table`; ``key`` the rows' session key): also per segment
    (``SEG_CMP`` + segment ``i``, the session's value; rows ``dup`` marks, Baidu detail
    repeats of getall, left out as in the pooled counts) and the sessions that should carry
    a comparison and have none (``nc``).  ``by``: columns added to every grouping (without
    ``sessions``).  Returns the SQL and its grouping sets."""
    thr = ", ".join(f"{_clean(d, c)} AS {d.q('_' + c)}" for c in _THRESHOLDS)
    extra = ""
    if sessions is not None:
        flag = f"(CASE WHEN {dup} THEN 1 ELSE 0 END)" if dup else "0"
        extra = f", {key} AS {d.q('_k')}, {flag} AS {d.q('_dup')}"
    more = "".join(f", {d.q(c)}" for c in by)
    inner = (f"SELECT {d.q('source')}, {d.q('comparison')}, {d.period('D')} AS {d.q('day')}, "
             f"{_side(d, since)} AS {d.q('side')}, {_clean(d, 'confidence')} AS {d.q('_c')}, {thr}, "
             f"{_first(d)} AS {d.q('first')}{more}{extra} FROM {src}{where}")
    mid = (f"SELECT {d.q('source')}, {d.q('comparison')}, "
           + ", ".join(f"{d.q('_' + c)} AS {d.q(c)}" for c in _THRESHOLDS)
           + f", {pass_bits(d)} AS {d.q('bits')}, {d.q('first')}, {d.q('day')}, {d.q('side')}, "
           f"{_bin(d, d.q('_c'), 10)} AS {d.q('bin')}{more}"
           + (f", {d.q('_k')}, {d.q('_dup')}" if sessions is not None else "") + f" FROM ({inner}) AS i")
    # Every row is counted per day and per histogram bin (two hashings a row, not one per grouping),
    # each grouping of the result added up from one of those two (:func:`_rolled`).  The small
    # numbers (pass bits, first attempt, side, ``nc``) are hashed as one (``_s``, :data:`_SMALL`):
    # fewer key columns a row; they are taken back out of the counts, as the thresholds' ``has``
    # and the segments' digits (from their packs, :func:`segment_packs`) are worked out there.
    day_keys = [x for x in CMP_DAY if x not in _SMALL]
    hist_keys = [x for x in CMP_HIST if x not in _SMALL]
    if sessions is None:
        sets = [[*CMP_DAY, *by], [*CMP_HIST, *by]]
        rows = f"SELECT *, {_small(d, ('bits', 'first', 'side'))} AS {d.q('_s')} FROM ({mid}) AS m"
        return _rolled(d, rows, [[*day_keys, "_s", *by], [*hist_keys, "_s", *by]], sets,
                       derived=_small_unpacked(d, ("bits", "first", "side"))), sets
    c, s = "c.", "s."
    kept = f"c.{d.q('_dup')} = 0"
    nc = f"(CASE WHEN c.{d.q('_dup')} IS NULL AND {s}{d.q('expect')} THEN 1 ELSE 0 END)"
    cols = ([f"(CASE WHEN {kept} THEN c.{d.q('source')} END) AS {d.q('source')}"]
            + [f"{c}{d.q(x)} AS {d.q(x)}" for x in ["comparison", *_THRESHOLDS, "day", "bin"]]
            + [f"(CASE WHEN {kept} AND {s}{d.q('_k')} IS NOT NULL THEN {s}{d.q(_pk(j))} END) AS {d.q(_pk(j))}"
               for j in range(len(packs))]
            # (a session without a comparison has no bits, attempt or side: 0 in the pack, its rows
            # left out of every grouping but ``nc``'s, as rows without a source or a segment)
            + [f"{_small(d, ('bits', 'first', 'side'), 'c.', nc=nc)} AS {d.q('_s')}"])
    joined = (f"SELECT {', '.join(cols)} FROM ({mid}) AS c FULL OUTER JOIN {sessions} AS s "
              f"ON c.{d.q('_k')} = s.{d.q('_k')}")
    n_segments = sum(len(p) for p in packs)
    sets = [CMP_DAY, CMP_HIST, *([*SEG_CMP, _seg(i)] for i in range(n_segments)), ["nc"]]
    # (``nc`` is 0 on every comparison row, and ``side`` one value a day but the day holding
    # ``since``: in the pack, they add next to no group)
    fine = [*day_keys, *(_pk(j) for j in range(len(packs))), "_s"]
    return _rolled(d, joined, [fine, [*hist_keys, "_s"]], sets,
                   derived={"has": _has(d), **_unpacked(d, packs), **_small_unpacked(d, _SMALL)}), sets


#: The small numbers of a comparison row hashed as one (:func:`_small`): name -> (shift, bits).
_SMALL = {"bits": (0, 6), "first": (6, 1), "side": (7, 1), "nc": (8, 1)}


def _small(d, names: Sequence[str], alias: str = "", nc: str | None = None) -> str:
    """``names``' values (columns of ``alias``; ``nc``: its SQL) packed into one integer
    (:data:`_SMALL`; a missing value as 0)."""
    parts = [f"coalesce({alias}{d.q(x)}, 0) * {1 << _SMALL[x][0]}" for x in names]
    if nc is not None:
        parts.append(f"{nc} * {1 << _SMALL['nc'][0]}")
    return "(" + " + ".join(parts) + ")"


def _small_unpacked(d, names) -> dict[str, str]:
    """Each of ``names`` taken back out of ``_s`` (as the columns it came from: INTEGER)."""
    s = d.q("_s")
    return {x: f"CAST(CAST(floor({s} / {d.num(float(1 << sh))}) AS BIGINT) % {1 << w} AS INT)"
            for x, (sh, w) in _SMALL.items() if x in names}


def _genuineness_state(d, c: str | None = None, t: str | None = None) -> str:
    """Bit 0 no confidence, bit 1 no threshold, bit 2 flagged (``confidence > threshold``), bit 3
    within 0.05 under the threshold (exact on the 1e-4 grid, as ``genuineness_near_threshold``;
    the exact difference is only worked out for rows near the threshold)."""
    c, t = c or d.q("_c"), t or d.q("threshold")
    m = d.exact_diff(c, t)
    w = d.num(NEAR_UNDER)
    near = (f"(CASE WHEN {c} <= {t} + {d.num(1e-6)} AND {c} > {t} - {w} - {d.num(1e-6)} THEN "
            f"(CASE WHEN {m} <= 0 AND {m} > -{w} THEN 8 ELSE 0 END) ELSE 0 END)")
    return (f"((CASE WHEN {c} IS NULL THEN 1 ELSE 0 END) + (CASE WHEN {t} IS NULL THEN 2 ELSE 0 END)"
            f" + (CASE WHEN {c} > {t} THEN 4 ELSE 0 END) + {near})")


GEN_DAY = [*GENUINENESS_KEYS, "day"]


def genuineness_query(d, src, where: str, *, sessions: str | None = None, key: str | None = None,
                      packs: Sequence[Sequence[tuple[int, int, int]]] = (),
                      by: Sequence[str] = ()) -> tuple[str, list[list[str]]]:
    """Anti-spoofing checks per day (``GEN_DAY``); joined to this period's ``sessions``, also per
    segment (``SEG_GEN`` + segment ``i``; the segments' digits in ``packs``: :func:`segment_packs`).
    ``by``: columns added to the grouping (without ``sessions``)."""
    k = f", {key} AS {d.q('_k')}" if sessions is not None else ""
    more = "".join(f", {d.q(c)}" for c in by)
    inner = (f"SELECT {d.q('source')}, {d.q('attack')}, {d.period('D')} AS {d.q('day')}, "
             f"{_clean(d, 'confidence')} AS {d.q('_c')}, {_clean(d, 'threshold')} AS {d.q('threshold')}{more}{k} "
             f"FROM {src}{where}")
    mid = (f"SELECT {d.q('source')}, {d.q('attack')}, {d.q('day')}, {d.q('threshold')}, "
           f"{_genuineness_state(d)} AS {d.q('state')}{more}" + (f", {d.q('_k')}" if k else "")
           + f" FROM ({inner}) AS i")
    if sessions is None:
        sets = [[*GEN_DAY, *by]]
        return _sets(d, mid, sets), sets
    cols = ([f"g.{d.q(x)} AS {d.q(x)}" for x in GEN_DAY]
            + [f"(CASE WHEN s.{d.q('_k')} IS NOT NULL THEN s.{d.q(_pk(j))} END) AS {d.q(_pk(j))}"
               for j in range(len(packs))])
    joined = (f"SELECT {', '.join(cols)} FROM ({mid}) AS g LEFT JOIN {sessions} AS s "
              f"ON g.{d.q('_k')} = s.{d.q('_k')}")
    n_segments = sum(len(p) for p in packs)
    sets = [GEN_DAY, *([*SEG_GEN, _seg(i)] for i in range(n_segments))]
    # counted per day and packs first (each row hashed once), every grouping added up from those
    return _rolled(d, joined, [[*GEN_DAY, *(_pk(j) for j in range(len(packs)))]], sets,
                   derived=_unpacked(d, packs)), sets


def _late(d) -> str:
    """Fetched after the provider's retention, judged only on an event's time (``EVENT_BASES``:
    a placed row's is its token's getall verification; as ``analytics.late_fetches``)."""
    delay = f"({d.epoch_us(d.q('fetched_at'))} - {d.epoch_us(d.q('session_time'))})"
    ret = (f"(CASE WHEN {d.q('source')} LIKE 'megvii%' THEN {RETENTION_US['megvii']} "
           f"WHEN {d.q('source')} LIKE 'baidu%' THEN {RETENTION_US['baidu']} END)")
    bases = ", ".join(d.text(b) for b in EVENT_BASES)
    return f"coalesce({d.q('time_basis')} IN ({bases}) AND {delay} > {ret}, false)"


def _invalid(d, present: bool = True) -> str:
    """A session with a value nulled as not finite or out of range (``analytics.data_quality``);
    ``present``: some file has the column (files written before it existed have none)."""
    return f"coalesce({d.q('invalid_values')}, 0) > 0" if present else "false"


SES_DAY = [*SESSION_KEYS, "day"]


def sessions_query(d, src, where: str, invalid: bool = True, by: Sequence[str] = ()) -> str:
    cols = [d.q(c) for c in [*(c for c in SESSION_KEYS if c not in _DERIVED), *by]]
    inner = (f"SELECT {', '.join(cols)}, {_late(d)} AS {d.q('late')}, {_invalid(d, invalid)} AS {d.q('invalid')}, "
             f"{d.period('D')} AS {d.q('day')} FROM {src}{where}")
    return _group(d, inner, [*SES_DAY, *by])


def reduce_query(d, src, w, columns: Sequence[str], total: str | None = None, first: bool = False,
                 by: Sequence[str] = ()) -> str:
    columns = [*columns, *by]
    inner = (f"SELECT {', '.join(d.q(c) for c in columns)}, {d.period('D')} AS {d.q('day')}"
             + (f", {d.q(total)}" if total else "") + (f", {_first(d)} AS {d.q('first')}" if first else "")
             + f" FROM {src}{w.where(d)}")
    agg = f"CAST(sum({d.q(total)}) AS BIGINT)" if total else "count(*)"
    return _group(d, inner, [*columns, "day", *(["first"] if first else [])], agg)


def quarantine_query(d, src, w, since) -> str:
    inner = (f"SELECT {d.q('source')}, {_side(d, since)} AS {d.q('side')}, "
             f"coalesce({d.q('reason')}, '(no reason)') AS {d.q('reason')} FROM {src}{w.where(d)}")
    return _group(d, inner, ["source", "side", "reason"])


def _expect(d) -> str:
    """A session that should carry a comparison (``analytics.sessions_without_result``)."""
    st, lr = d.q("status"), f"upper({d.q('liveness_result')})"
    return (f"({d.q('error')} IS NULL AND coalesce({st} NOT IN ('NOT_STARTED', 'PROCESSING'), true) AND "
            f"(coalesce({lr} IN ('PASS', 'SUCCESS'), false) OR "
            f"({d.q('source')} LIKE 'baidu%' AND coalesce({st} = 'OK', false))))")


def sessions_table(d, src: str, where: str, segments: Sequence[Segment], key: str, invalid: bool = True,
                   dictionary: bool = False) -> str:
    """One partition's sessions of this period, compact, to count from and join to: ``_k``
    (session key), ``_rid`` (request-id hash), ``day``, ``expect`` (should carry a comparison),
    ``late``, the columns the counts keep, and ``_g<i>``: segment ``i``'s digit
    (:func:`segment_digit`).  ``biz_extra_data`` is parsed once a row, or, with ``dictionary``
    (DuckDB), once per distinct text: deployments repeat a handful of texts, and a join to
    their digits costs a fraction of parsing every row (:func:`repeats_texts` decides)."""
    b = d.q("biz_extra_data")
    keys = [x.name for x in segments if x.column is None]
    r = d.q("request_id")
    cols = [f"{key} AS {d.q('_k')}", f"{_hash(d, r)} AS {d.q('_rid')}", f"{d.period('D')} AS {d.q('day')}",
            f"{_expect(d)} AS {d.q('expect')}", f"{_late(d)} AS {d.q('late')}", f"{_invalid(d, invalid)} AS {d.q('invalid')}",
            *(d.q(c) for c in SESSION_KEYS if c != "source" and c not in _DERIVED)]
    if dictionary and keys and _duck(d):
        texts = f"SELECT DISTINCT {b} FROM {src}{_and(where, b + ' IS NOT NULL')}"
        digits = _biz_digits(d, texts, segments)
        cols += [f"coalesce(t.{d.q(_seg(i))}, 0) AS {d.q(_seg(i))}" if x.column is None else
                 f"{segment_digit(d, x)} AS {d.q(_seg(i))}" for i, x in enumerate(segments)]
        return (f"SELECT {', '.join(cols)} FROM (SELECT * FROM {src}{where}) AS s0 "
                f"LEFT JOIN ({digits}) AS t ON s0.{b} = t.{d.q('_b')}")
    inner, raw = _raws(d, f"SELECT * FROM {src}{where}", segments)
    cols += [f"{segment_digit(d, x, raw=raw.get(i))} AS {d.q(_seg(i))}" for i, x in enumerate(segments)]
    return f"SELECT {', '.join(cols)} FROM ({inner}) AS s0"


def _raws(d, rows: str, segments: Sequence[Segment]) -> tuple[str, dict[int, str]]:
    """``rows`` (a query of sessions rows) with each ``biz_extra_data`` segment's :func:`_raw`
    text in a column of its own (``_v<i>``), worked out once a row: (the query, segment -> its
    column).  The sessions columns' texts are read where they are."""
    keys = [x.name for x in segments if x.column is None]
    if not keys:
        return rows, {}
    parsed, inner_json = _parsed(d, keys)
    raw = {i: d.q(f"_v{i}") for i, x in enumerate(segments) if x.column is None}
    texts = ", ".join(f"{_raw(d, x, parsed.get(x.name))} AS {raw[i]}" for i, x in enumerate(segments)
                      if x.column is None)
    # (the parsed members, where DuckDB parses a text once for every key, a level below)
    return f"SELECT *, {texts} FROM (SELECT *{inner_json} FROM ({rows}) AS r0) AS r1", raw


def _parsed(d, keys: Sequence[str]) -> tuple[dict[str, str], str]:
    """DuckDB parses a JSON text once for every key: (key -> its member, the column computing them)."""
    if not (_duck(d) and len(keys) > 1):
        return {}, ""
    b = d.q("biz_extra_data")
    paths = ", ".join(_json_path(d, k) for k in keys)
    inner_json = f", (CASE WHEN {_is_object(d)} THEN json_extract_string({b}, [{paths}]) END) AS {d.q('_j')}"
    return {k: f"{d.q('_j')}[{i + 1}]" for i, k in enumerate(keys)}, inner_json


def _biz_digits(d, texts: str, segments: Sequence[Segment]) -> str:
    """``_b`` (a ``biz_extra_data`` text of ``texts``) and each ``biz_extra_data`` segment's digit
    of it, in its ``_g<i>`` column."""
    inner, raw = _raws(d, texts, segments)
    digits = [f"{segment_digit(d, x, raw=raw[i])} AS {d.q(_seg(i))}" for i, x in enumerate(segments)
              if x.column is None]
    return f"SELECT {d.q('biz_extra_data')} AS {d.q('_b')}, {', '.join(digits)} FROM ({inner}) AS b1"


def repeats_texts(eng, d, src: str, where: str) -> bool:
    """Whether a partition's ``biz_extra_data`` texts repeat (about one distinct text in ten rows
    or fewer, by a HyperLogLog count: constant memory): then its segments are read through a
    dictionary of the distinct texts (:func:`sessions_table`), bounded by that."""
    b = d.q("biz_extra_data")
    t = eng.query(f"SELECT approx_count_distinct({b}) AS k, count({b}) AS n FROM {src}{where}")
    k, n = t.column(0)[0].as_py(), t.column(1)[0].as_py()
    return bool(n) and k * 10 <= n


def sessions_counts_query(d, table: str, n_segments: int) -> tuple[str, list[list[str]]]:
    """From :func:`sessions_table`: sessions per day (``SES_DAY`` but ``source``) and per
    segment (``SEG_SES`` + segment ``i``)."""
    sets = [[c for c in SES_DAY if c != "source"], *([*SEG_SES, _seg(i)] for i in range(n_segments))]
    return _sets(d, f"SELECT * FROM {table} AS s", sets, fine=True), sets


def quality_query(d, table: str) -> str:
    """Session rows, distinct sessions, and sessions sharing a request id with another session
    (``repeated_request_ids``), in one partition (source, month) of this period; sessions and
    request ids compared by their 64-bit keys."""
    h, rid = d.q("_k"), d.q("_rid")
    # Request ids held by more than one row first (a count: cheaper than a min and a max per id,
    # over millions of ids a month at 200M comparisons), then, of those few, the ones held by
    # more than one session (plain aggregates: cheaper than count(DISTINCT)).
    twice = (f"SELECT {rid} FROM {table} AS b WHERE {rid} IS NOT NULL GROUP BY {rid} HAVING count(*) > 1")
    shared = (f"SELECT {rid} FROM {table} AS b2 WHERE {rid} IN (SELECT {rid} FROM ({twice}) AS t) "
              f"GROUP BY {rid} HAVING min({h}) <> max({h})")
    # sessions: distinct keys, a missing key one more (as a GROUP BY counts it)
    ids = (f"count(DISTINCT {h}) + coalesce(max(CASE WHEN {h} IS NULL THEN 1 ELSE 0 END), 0)")
    return (f"WITH {d.q('shr')} AS ({shared}) "
            f"SELECT (SELECT count(*) FROM {table} AS a) AS {d.q('rows')}, (SELECT {ids} FROM {table} AS a2) "
            f"AS {d.q('ids')}, "
            f"(SELECT count(DISTINCT {h}) FROM {table} AS x WHERE {rid} IN (SELECT {rid} FROM {d.q('shr')})) "
            f"AS {d.q('repeated')}")


def distinct_query(d, sessions: str, where: str, since, provider: str, key: str, month: str | None = None) -> str:
    """Distinct sessions of one provider per side: a Baidu token fetched by stat, getall and detail
    is one session, and so is a Megvii biz_id seen in a callback and in get_result."""
    cond = f"{d.q('source')} LIKE {d.text(provider + '%')}"
    if month is not None:
        cond += f" AND {d.q('month')} = {d.text(month)}"
    return (f"SELECT {_side(d, since)} AS {d.q('side')}, count(DISTINCT {key}) AS {d.q('n')} "
            f"FROM {sessions}{_and(where, cond)} GROUP BY {_side(d, since)}")


# ------------------------------------------------------------------ running them

def count_tables(data_dir, *, previous_since, since, until, segments: Sequence[Segment] = (),
                 engine="auto", progress=None, tz=None) -> dict[str, pd.DataFrame | None]:
    """Every count the review needs over ``[previous_since, until)`` (``since`` splits the two
    periods); see the module docstring.  ``day`` is the day number on the calendar of ``tz``
    (default UTC).  A table with no data gives None.  The counts of whole partitions are read
    back where kept, and kept (:mod:`faceanalytics.engines._kept`; a local data directory on
    DuckDB only)."""
    eng = get_engine(engine)
    d = eng.dialect.in_zone(tz)
    w = _window(previous_since, until)
    cur = _window(since, until)
    segments = list(segments)
    lay = _Layout(eng, data_dir, w, cur.since, tz=tz)
    if lay.local:                   # the error tables' files too: their whole partitions are kept
        lay.parts.update({t: lay._list(t) for t in _ERRORS})
        lay.footers.save()
    kept = _kept_beside(lay, data_dir)
    frames: dict[str, list] = {k: [] for k in ("comparisons", "comparison_hist", "genuineness", "sessions",
                                                "seg_sessions", "seg_comparisons", "seg_genuineness", "quality")}

    def step(name):
        if progress is not None:
            progress(name)

    listed, placed = _Listed(lay, w, kept), _Placed(lay, kept).leave_out(w)
    early = placed.before(_us(cur.since))
    step("the previous period")
    _previous(lay, w, cur.since, frames, kept, listed, placed, early)
    step("this period, partition by partition")
    lo, hi = _us(cur.since), _us(cur.until)
    spec = [[x.name, x.column, list(x.values) if x.values is not None else None] for x in segments]
    for part in (p for p in lay.current() if p not in early):
        def count(into, part=part):
            _current(lay, w, cur, part, segments, into)
        if _whole(kept, placed, part, _JOINED, lo, hi):
            extra = {"segments": spec, "keyed": lay.keyed([part]), "listed": listed.signature(part, _JOINED),
                     "placed": placed.signature(part, _JOINED)}
            kept.through("current", [part], _JOINED, extra, count, frames)
        else:
            count(frames)
    out = {k: _concat(v) for k, v in frames.items() if not k.startswith("seg_")}
    for k in ("seg_sessions", "seg_comparisons", "seg_genuineness"):     # (segment, its digits) of each partition
        out[k] = _concat([_segment_frame(f, segments, i) for i in range(len(segments))
                          if (f := _concat([g for j, g in frames[k] if j == i])) is not None])
    step("errors and quarantine")
    for table, query in _ERRORS.items():
        out[table] = _errors(lay, kept, placed, w, table, lambda src, by, query=query: query(d, src, w, by))
    out["quarantine"] = run_query(eng, data_dir, "quarantine", lambda src: quarantine_query(d, src, w, cur.since),
                                  counts=["n"])
    out["distinct"] = _distinct(lay, w, cur.since, kept)
    return out


_ERRORS = {     # the error tables, per day: what ``error_codes`` and ``billing`` read
    "attempts": lambda d, src, w, by: reduce_query(d, src, w, ["source", "code", "message", "charged", "passed",
                                                               "charge_type"], first=True, by=by),
    "verify_errors": lambda d, src, w, by: reduce_query(d, src, w, ["source", "error_message", "billed"], by=by),
    "error_counts": lambda d, src, w, by: reduce_query(d, src, w, ["source", "api", "error_code"], total="count",
                                                       by=by),
}


def _errors(lay: "_Layout", kept: Kept, placed: "_Placed", w: S.Window, table: str, query) -> pd.DataFrame | None:
    """One error table's counts over the window (``query(src, by)``): on a local directory
    partition by partition as :func:`_by_partition` counts them; elsewhere one query."""
    if not lay.local:
        return run_query(lay.eng, lay.data_dir, table, lambda src: query(src, ()), counts=["n"])
    frames: dict[str, list] = {table: []}

    def count(into, parts, by=()):
        with lay.relation(table, parts) as (src, _):
            if src is not None:
                into[table].append(arrow_frame(lay.eng.query(query(src, by)), table, counts=["n"]))

    _by_partition(kept, f"window-{table}", table, sorted(lay.parts[table]),
                  lambda p: _whole(kept, placed, p, [table], _us(w.since), _us(w.until)), count, frames,
                  extra=lambda p: placed.signature(p, [table]))
    return _concat(frames[table])


def _by_partition(kept: Kept, role: str, table: str, parts, whole, count, frames,
                  extra=lambda p: None) -> None:
    """Add the counts of ``table``'s ``parts`` to ``frames``: a whole partition's (every row inside
    the period counted: ``whole(part)``, :func:`_whole`) read back where kept; the whole ones not
    kept yet counted together, grouped by ``month`` too, then split and each kept; the others
    counted together.  ``count(into, parts, by=())`` counts ``parts`` into ``into``, ``by`` added to its
    groupings; ``extra(part)``: what else the counts depend on, in their key."""
    rest, todo = [], []
    for p in parts:
        if not whole(p):
            rest.append(p)
        elif (got := kept.get(role, [p], [table], extra(p), frames)) is None:
            todo.append(p)
        else:
            for k, v in got.items():
                frames[k] += v
    if todo:
        into: dict[str, list] = {k: [] for k in frames}
        count(into, todo, ["month"])
        split = {k: [_by_part(f) for f in v] for k, v in into.items()}
        for p in todo:
            got = {k: [g for by in v if (g := by.get(tuple(p))) is not None] for k, v in split.items()}
            kept.put(role, [p], [table], extra(p), got)
            for k, v in got.items():
                frames[k] += v
    if rest:
        count(frames, rest)


def _bounds(w: S.Window) -> list:
    """A window's bounds as kept counts name them (what a count of the window depends on)."""
    return [None if x is None else pd.Timestamp(x).isoformat() for x in (w.since, w.until)]


def _needs_listing(lay: "_Layout", part, tables) -> bool:
    """Whether ``part``'s counts depend on rows outside it: Baidu detail repeats are judged
    against getall's rows of the whole window (comparisons and checks; sessions are not)."""
    return part[0] == REPEAT_SOURCE and any(lay.has(t, LISTING_SOURCE) for t in tables if t in _LISTED)


_LISTED = ("comparisons", "genuineness")     # the tables whose detail rows getall's can leave out


class _Listed:
    """Which rows of each Baidu ``detail`` partition the once-per-attempt rule leaves out
    (their tokens are among getall's rows of the window), as a signature per partition and
    table: the rows' number and the sum of their tokens' hashes, all partitions in one query
    per table, on first use.

    A detail partition's counts depend on its own files and on that set of rows alone, so
    they can be kept with the signature in their key: a landing in getall (the latest
    month's, every day) then recounts only the detail partitions whose left-out rows it
    changed, where before every detail partition of both periods was counted on every
    review (measured on tables ingested from gen_records payloads: a third of the time of a
    review read back from kept counts).  DuckDB only (where counts are kept).  The signatures
    are kept too, keyed by the detail and getall files and the window: a review whose files did
    not change reads them back instead of hashing every detail token of the window again."""

    def __init__(self, lay: "_Layout", w: S.Window, kept: Kept) -> None:
        self.lay, self.w, self.kept = lay, w, kept
        self._got: dict[str, dict] = {}

    def _table(self, table: str) -> dict:
        if table not in self._got:
            lay = self.lay
            parts = sorted(p for p in lay.parts[table] if p[0] == REPEAT_SOURCE)
            got: dict = {}
            if parts and lay.has(table, LISTING_SOURCE):
                frames: dict[str, list] = {"listed": []}

                def count(into, table=table, parts=parts):
                    into["listed"].append(self._query(table, parts))
                if self.kept.root is None:
                    count(frames)
                else:
                    both = sorted(p for p in lay.parts[table] if p[0] in (REPEAT_SOURCE, LISTING_SOURCE))
                    self.kept.through(f"listed-{table}", both, [table],    # (detail rows placed by getall's sessions)
                                      {"window": _bounds(self.w), "anchors": _identities(lay.anchors)}, count, frames)
                for f in frames["listed"]:
                    for m, n, h in zip(f["month"].tolist(), f["n"].tolist(), f["h"].tolist()):
                        got[(REPEAT_SOURCE, str(m))] = [int(n), str(h)]
            self._got[table] = got
        return self._got[table]

    def _query(self, table: str, parts) -> pd.DataFrame:
        """Per detail month: the rows getall's leave out, their number and their tokens' hashes summed."""
        lay, d = self.lay, self.lay.d
        with lay.relation(table, parts) as (src, cond), lay.relation(table) as (listing, _):
            sql = (f"SELECT CAST({d.q('month')} AS VARCHAR) AS {d.q('month')}, count(*) AS n, "
                   f"CAST(sum(hash({d.q('session_id')})) AS VARCHAR) AS h "
                   f"FROM {src}{_and(_and(self.w.where(d), cond), 'NOT ' + _once(d, listing, self.w))} "
                   f"GROUP BY {d.q('month')}")
            return lay.eng.query(sql).to_pandas()

    def signature(self, part, tables) -> dict | None:
        """The key a detail partition's counts are kept under beside its files (None: not a
        detail partition judged against getall)."""
        if not _needs_listing(self.lay, part, tables):
            return None
        return {t: self._table(t).get(tuple(part), [0, "0"]) for t in tables if t in _LISTED}


def _extra(listed: _Listed, placed: _Placed, part, tables):
    """What else a partition's kept counts depend on: the rows getall's leave out, where its rows are placed."""
    a, b = listed.signature(part, tables), placed.signature(part, tables)
    return a if b is None else {"listed": a, "placed": b}


def _whole(kept: Kept, placed: _Placed, part, tables, lo_us, hi_us) -> bool:
    """Whether every row of ``part`` in ``tables`` lies in ``[lo_us, hi_us)``: by the files' footers,
    or, for rows placed at their token's getall time, by where they are placed."""
    if placed.lay.moved(part):
        return placed.whole(part, tables, lo_us, hi_us)
    return kept.whole([part], tables, lo_us, hi_us)


def _previous(lay: _Layout, w: S.Window, since, frames, kept: Kept, listed: _Listed, placed: _Placed,
              early=frozenset()) -> None:
    """The previous period, pooled counts: comparisons and checks of the partitions before this
    period's first month (that month's are split by date as they are scanned), sessions of
    every row before ``since``.  The counts of a whole partition (every row in the previous
    period) are read back where kept (:func:`_by_partition`; Baidu detail's with the rows getall's
    leave out, :class:`_Listed`)."""
    for table in ("comparisons", "genuineness", "sessions"):
        if table == "sessions":   # the month holding ``since`` too: this period's are read partition by partition
            # (and every partition of rows placed at getall's time, wherever they are stored)
            parts = sorted(p for p in lay.parts["sessions"] if p[1] <= lay.since_month or lay.moved(p))
        else:   # (and the partitions of rows placed before ``since``: ``early``, :meth:`_Placed.before`)
            parts = sorted({*lay.previous(table), *(p for p in early if p in lay.parts[table])})
        _by_partition(kept, f"previous-{table}", table, parts,
                      lambda p, table=table: _whole(kept, placed, p, [table], _us(w.since), _us(since)),
                      lambda into, ps, by=(), table=table: _previous_table(lay, w, since, table, ps, into, by),
                      frames, extra=lambda p, table=table: _extra(listed, placed, p, [table]))


def _by_part(f: pd.DataFrame) -> dict[tuple[str, str], pd.DataFrame]:
    """The rows of ``f`` (counted with a ``month`` column) split by (source, month) partition,
    in their order, ``month`` dropped: the keys read once for every partition (taking each
    partition's rows by comparing the whole frame's keys cost a pass per partition)."""
    if not len(f):
        return {}
    rows = f.drop(columns=["month"])
    at = pd.Series(np.arange(len(f))).groupby([f["source"].astype("str").to_numpy(),
                                                f["month"].astype("str").to_numpy()], sort=False).indices
    return {(str(s_), str(m)): rows.take(ix).reset_index(drop=True) for (s_, m), ix in at.items()}


def _previous_table(lay: _Layout, w: S.Window, since, table: str, parts, frames, by=()) -> None:
    """One table's counts of the previous period over ``parts``, one query; ``by``: columns
    added to its groupings."""
    eng, d = lay.eng, lay.d
    with lay.relation(table, parts) as (src, cond):
        if src is None:
            return
        if table == "sessions":
            inv = lay.has_column("sessions", parts, "invalid_values")
            before = S.Window(w.since, since).where(d)
            frames["sessions"].append(_frame(eng, sessions_query(d, src, _and(before, cond), inv, by), None,
                                             "sessions", ["n"]))
            return
        with _listing(lay, table, parts) as listing:
            rel, where = _once_relation(d, src, w, listing), _and(w.where(d), cond)
            if table == "comparisons":
                sql, sets = comparisons_query(d, rel, where, since, by=by)
                day, hist = _split_sets(eng.query(sql), sets, "comparisons", ["n"], _THRESHOLDS)
                frames["comparisons"].append(day)
                frames["comparison_hist"].append(hist)
            else:
                sql, sets = genuineness_query(d, rel, where, by=by)
                frames["genuineness"] += _split_sets(eng.query(sql), sets, "genuineness", ["n"], ["threshold"])


@contextlib.contextmanager
def _listing(lay: _Layout, table: str, parts):
    """The whole of ``table`` when ``parts`` hold Baidu detail rows (the once-per-attempt rule
    looks for their tokens among getall's rows of the window), else None."""
    if not any(s == REPEAT_SOURCE for s, _ in parts) or not lay.has(table, LISTING_SOURCE):
        yield None
        return
    with lay.relation(table) as (src, _):
        yield src


def _current(lay: _Layout, w: S.Window, cur: S.Window, part, segments, frames) -> None:
    """One partition of this period: its sessions once, compact (in DuckDB's memory: bounded by
    the largest partition), counted, and joined to the partition's comparisons and checks
    in the same scan that counts them."""
    eng, d = lay.eng, lay.d
    key = _key(d, lay.keyed([part]))
    n = len(segments)
    packs = segment_packs(segments)
    source = part[0]
    with contextlib.ExitStack() as stack:
        table = None
        src, cond = stack.enter_context(lay.relation("sessions", [part]))
        if src is not None:
            where = _and(cur.where(d), cond)
            dictionary = (_duck(d) and any(x.column is None for x in segments)
                          and repeats_texts(eng, d, src, where))
            with _materialized(eng, sessions_table(d, src, where, segments, key, lay.has_column(
                    "sessions", [part], "invalid_values"), dictionary)) as full:
                sql, sets = sessions_counts_query(d, full, n)
                with _one_thread(eng):
                    got = eng.query(sql)
                    q = _frame(eng, quality_query(d, full), part, "sessions", ["rows", "ids", "repeated"])
                day, *seg = _split_sets(got, sets, "sessions", ["n"], source=part[0])
                frames["sessions"].append(day)
                frames["seg_sessions"] += list(enumerate(seg))
                # What the joins need, numbers only: the text columns dropped before the joins
                # build their hash tables (at 200M comparisons a month of sessions and its texts
                # left the joins too little of the memory limit: they spilled to disk).
                keep = ", ".join([d.q("_k"), d.q("expect"), *(f"{_pack(d, p)} AS {d.q(_pk(j))}"
                                                               for j, p in enumerate(packs))])
                table = stack.enter_context(_materialized(eng, f"SELECT {keep} FROM {full} AS f"))
        if table is not None:
            stack.enter_context(_build_on_sessions(eng))
        src, cond = stack.enter_context(lay.relation("comparisons", [part]))
        nc = 0
        if src is not None:
            joined = table is not None and source in CMP_SOURCES
            dup = None
            if joined and source == REPEAT_SOURCE and lay.has("comparisons", LISTING_SOURCE):
                listing, _ = stack.enter_context(lay.relation("comparisons"))
                dup = f"NOT {_once(d, listing, w)}"
            where = _and(w.where(d), cond)
            if joined:
                sql, sets = comparisons_query(d, src, where, cur.since, sessions=table, key=key, dup=dup,
                                              packs=packs)
            else:
                listing = stack.enter_context(_listing(lay, "comparisons", [part]))
                sql, sets = comparisons_query(d, _once_relation(d, src, w, listing), where, cur.since)
            day, hist, *seg = _split_sets(eng.query(sql), sets, "comparisons", ["n", "nc"], _THRESHOLDS)
            frames["comparisons"].append(day[day["source"].notna().to_numpy()])
            frames["comparison_hist"].append(hist[hist["source"].notna().to_numpy()])
            if joined:
                *seg, none = seg
                nc = int(none.loc[none["nc"].to_numpy() == 1, "n"].sum())
                frames["seg_comparisons"] += [(i, f.assign(source=source)) for i, f in enumerate(seg)]
        elif table is not None and source in CMP_SOURCES:
            nc = int(eng.query(f"SELECT count(*) AS n FROM {table} WHERE {d.q('expect')}").column(0)[0].as_py())
        if table is not None:   # (a partition with no session in this period has no quality row, as in pandas)
            frames["quality"].append(q[q["rows"].to_numpy() > 0].assign(no_comparison=nc if source in CMP_SOURCES
                                                                       else 0))
        src, cond = stack.enter_context(lay.relation("genuineness", [part]))
        if src is not None:
            joined = table is not None and source in CMP_SOURCES and n > 0
            where = _and(w.where(d), cond)
            if source == REPEAT_SOURCE and lay.has("genuineness", LISTING_SOURCE):
                listing, _ = stack.enter_context(lay.relation("genuineness"))
                where = _and(where, _once(d, listing, w))
            sql, sets = genuineness_query(d, src, where, sessions=table if joined else None, key=key,
                                          packs=packs if joined else ())
            day, *seg = _split_sets(eng.query(sql), sets, "genuineness", ["n"], ["threshold"])
            frames["genuineness"].append(day)
            frames["seg_genuineness"] += [(i, f.assign(source=source)) for i, f in enumerate(seg)]


def _segment_frame(f: pd.DataFrame, segments: Sequence[Segment], i: int) -> pd.DataFrame:
    """One segment's rows of a grouping: digit -> value in its ``seg_<name>`` column (the
    other segments' columns NA: every segment is counted on its own), rows without a value
    left out."""
    dig = f[_seg(i)].to_numpy(dtype=np.float64, na_value=np.nan)
    keep = np.isfinite(dig) & (dig > 0)
    out = f[keep].drop(columns=[_seg(i)]).reset_index(drop=True)
    for j, x in enumerate(segments):
        vals = digit_values(x)[dig[keep].astype(np.int64)] if j == i else None
        out[x.label] = pd.Series(vals, index=out.index, dtype="str")
    cols = ["source", *[c for c in out.columns if c != "source"]] if "source" in out.columns else list(out.columns)
    return out[cols]


def _distinct(lay: _Layout, w: S.Window, since, kept: Kept) -> pd.DataFrame | None:
    """Sessions counted once per provider where several sources can hold the same one: Baidu
    tokens over the window (Baidu volumes are small); Megvii, when callbacks were received,
    within each month (bounded memory; a month wholly on one side of ``since`` is kept)."""
    eng, d = lay.eng, lay.d
    parts = sorted(lay.parts["sessions"])
    sources = {s_ for s_, _ in parts}
    frames: dict[str, list] = {"distinct": []}
    jobs = []
    if sum(x.startswith("baidu") for x in sources) > 1:
        jobs.append(("Baidu", "baidu", [p for p in parts if p[0].startswith("baidu")], None))
    if "megvii_notify" in sources:
        for m in sorted({m for s_, m in parts if s_.startswith("megvii")}):
            jobs.append(("Megvii", "megvii", [p for p in parts if p[0].startswith("megvii") and p[1] == m], m))

    def count(into, group, provider, ps, month):
        with lay.relation("sessions", ps) as (src, cond):
            if src is not None:
                key = _key(d, lay.keyed(ps))
                f = _frame(eng, distinct_query(d, src, _and(w.where(d), cond), since, provider, key, month), None,
                           "sessions", ["n", "side"])
                into["distinct"].append(f.assign(group=group))

    sides = [(_us(w.since), _us(since)), (_us(since), _us(w.until))]
    for job in jobs:
        side = next((i for i, (lo, hi) in enumerate(sides) if job[3] is not None and kept.whole(job[2], ["sessions"],
                                                                                               lo, hi)), None)
        if side is not None:  # the side is in the counts: the same month counted for the other side is another entry
            kept.through(f"distinct-{job[1]}", job[2], ["sessions"], {"side": side},
                         lambda into, job=job: count(into, *job), frames)
        elif job[3] is None and kept.root is not None:    # Baidu's tokens over the window: kept by files and bounds
            # (a role no other role's name starts with: an entry prunes those of its role by that prefix)
            kept.through(f"tokens-{job[1]}", job[2], ["sessions"],
                         {"window": _bounds(w), "since": pd.Timestamp(since).isoformat(),
                          "anchors": _identities(lay.anchors)},
                         lambda into, job=job: count(into, *job), frames)
        else:
            count(frames, *job)
    return _concat(frames["distinct"])


@contextlib.contextmanager
def _build_on_sessions(eng):
    """DuckDB builds a join's hash table on the side it estimates smaller.  A partition's rows
    read with the window's filters look small to it (each filter guessed selective), so it
    built the table on the comparisons or checks -- millions of rows and their columns, which
    spilled to disk at 200M comparisons -- rather than on the partition's compact sessions
    table.  While the joins run, the order written (sessions on the build side) is kept (the
    setting is the database's: put back afterwards)."""
    con = getattr(eng, "connection", None)
    if con is None:
        yield
        return
    con = con()
    old = con.execute("SELECT current_setting('disabled_optimizers')").fetchone()[0] or ""
    names = [x.strip() for x in old.split(",") if x.strip()]
    if "build_side_probe_side" in names:
        yield
        return
    con.execute(f"SET disabled_optimizers = '{','.join([*names, 'build_side_probe_side'])}'")
    try:
        yield
    finally:
        con.execute(f"SET disabled_optimizers = '{','.join(names)}'")


@contextlib.contextmanager
def _one_thread(eng):
    """DuckDB's queries on one thread while inside (the setting is the database's: put back
    afterwards).  For the queries over a partition's sessions table in memory (its counts and
    its quality: hash tables of about as many groups as rows, the distinct sessions and request
    ids), where two threads each built a table of nearly every group and merged them.  Replayed
    on five partitions of the 20M bench data (medians of five rounds), one thread took ~20% less
    CPU time (counts 0.41 -> 0.33 s, quality 0.24 -> 0.19 s) for about the same wall time: the
    queries are short.  The scans of the Parquet files keep both threads (their wall time)."""
    con = getattr(eng, "connection", None)
    if con is None:
        yield
        return
    con = con()
    threads = int(con.execute("SELECT current_setting('threads')").fetchone()[0])
    if threads <= 1:
        yield
        return
    con.execute("SET threads = 1")
    try:
        yield
    finally:
        con.execute(f"SET threads = {threads}")


@contextlib.contextmanager
def _materialized(eng, sql: str):
    """``sql`` as something to select from, computed once: a table in DuckDB's in-memory
    database (dropped afterwards), the subquery itself elsewhere (Spark plans it)."""
    if not hasattr(eng, "connection"):
        yield f"({sql})"
        return
    name = f"fa_review_{uuid.uuid4().hex[:12]}"
    eng.query(f"CREATE TABLE {name} AS {sql}")
    try:
        yield name
    finally:
        eng.query(f"DROP TABLE IF EXISTS {name}")


def _frame(eng, sql: str, part, table: str, counts, floats=()) -> pd.DataFrame:
    f = arrow_frame(eng.query(sql), table, counts=counts, floats=floats)
    if part is not None and "source" not in f.columns:
        f.insert(0, "source", part[0])
    return f


def _concat(frames):
    frames = [f for f in frames if f is not None and len(f)]
    return pd.concat(frames, ignore_index=True) if frames else None


def _shares(rows: dict, per_month: int) -> dict:
    """Rows to take from each (source, month) partition: ``per_month`` a month, split in
    proportion to the partitions' rows (all of them when the month has fewer)."""
    months: dict[str, int] = {}
    for (_, m), n in rows.items():
        months[m] = months.get(m, 0) + n
    return {p: n if months[p[1]] <= per_month else max(1, -(-per_month * n // months[p[1]])) for p, n in rows.items()}


def segment_sample(data_dir, *, since, until, columns: Sequence[str], per_month: int = 20_000,
                   engine="auto") -> pd.DataFrame:
    """About ``per_month`` sessions of each month of the period (``biz_extra_data`` and
    ``columns``), taken from every source in proportion to its sessions: what the default
    segment keys are chosen from.  Only the choice of keys comes from this sample; every
    count is exact.  The sessions are those the review counts in the period: rows without a
    verification time placed at their token's getall time (:func:`S.placed`), so a back-fill of
    Baidu stat or detail fetched in the period but verified months before neither crowds the
    period's sample nor dilutes its keys' coverage."""
    eng = get_engine(engine)
    empty = pd.DataFrame(columns=["biz_extra_data", *columns])
    if eng.name == "pandas":
        from ._api import load_placed

        f = load_placed(data_dir, "sessions", since=since, until=until, columns=["source", "month", "biz_extra_data",
                                                                                  *columns])
        if f.empty:
            return empty
        key = [f["source"].astype("str"), f["month"].astype("str")]
        take = _shares(f.groupby(key, sort=True).size().to_dict(), per_month)
        rank = f.groupby(key, sort=False).cumcount().to_numpy()
        limit = pd.Series(list(zip(*key))).map(take).to_numpy()
        return f[rank < limit].drop(columns=["source", "month"]).reset_index(drop=True)
    d = eng.dialect
    w = _window(since, until)
    lay = _Layout(eng, data_dir, w, w.since or pd.Timestamp("1970-01-01", tz="UTC"), tables=("sessions",))
    # Rows read placed (``lay.relation``); the partitions of placed rows with no row in the period
    # left out by the bounds the review keeps (local DuckDB), the others' shares taken from their
    # rows, as every partition's
    _Placed(lay, _kept_beside(lay, data_dir)).leave_out(w)
    rows = lay.rows("sessions")
    if not rows:
        return empty
    cols = ", ".join(d.q(c) for c in ["biz_extra_data", *columns])
    frames = []
    for part, n in sorted(_shares(rows, per_month).items()):
        with lay.relation("sessions", [part]) as (src, cond):
            if src is not None:
                sql = f"SELECT {cols} FROM {src}{_and(w.where(d), cond)} LIMIT {int(n)}"
                frames.append(arrow_frame(eng.query(sql), "sessions"))
    return pd.concat(frames, ignore_index=True) if frames else empty


def labelled_comparisons(data_dir, labels: pd.DataFrame, *, since, until, engine="auto") -> pd.DataFrame:
    """The comparisons of the labelled sessions in ``[since, until)`` (a few rows per label):
    what :func:`faceanalytics.analytics.error_rates_at_levels` needs, without the others."""
    from ..storage.tables import load

    eng = get_engine(engine)
    cols = ["source", "session_id", "comparison", "confidence", *_THR, "threshold", "session_time"]
    if eng.name == "pandas":
        from ._api import load_placed

        c = load_placed(data_dir, "comparisons", since=since, until=until, columns=cols)
        return c[c["session_id"].isin(set(labels["session_id"].astype("str")))].reset_index(drop=True)
    d = eng.dialect
    w = _window(since, until)
    sid = labels["session_id"].dropna().astype("str")
    # many ids go to DuckDB as they are (repeats are harmless there): a list of unique Python
    # strings held 2,000,000 labels at 0.3 GB more
    ids = sid.array if _duck(d) and len(sid) > 5000 else sid.unique().tolist()
    del sid
    if not len(ids):
        return load(data_dir, "comparisons", since="2999-01-01", columns=cols)
    frames = []
    if _duck(d) and len(ids) > 5000:
        # Past one IN list, DuckDB reads the ids from a file: an IN list per 5,000 ids scanned the
        # comparisons once per list (2,000,000 labels: 400 scans, 38 s parsing their SQL alone)
        import tempfile

        import pyarrow as pa
        import pyarrow.parquet as pq

        with tempfile.TemporaryDirectory(prefix="faceanalytics-labels-") as tmp:
            path = os.path.join(tmp, "ids.parquet")
            pq.write_table(pa.table({"session_id": pa.array(ids, pa.string())}), path)
            del ids
            f = run_query(eng, data_dir, "comparisons", lambda src: (
                f"SELECT {', '.join(d.q(c) for c in cols)} FROM {src}"
                f"{_and(w.where(d), d.q('session_id') + ' IN (SELECT session_id FROM read_parquet(' + d.text(path) + '))')}"),
                floats=["confidence", *_THR, "threshold"])
        ids = []
        if f is not None:
            frames.append(f)
    for i in range(0, len(ids), 5000):          # an IN list per 5,000 ids keeps the SQL small
        chunk = ", ".join(d.text(x) for x in ids[i:i + 5000])
        f = run_query(eng, data_dir, "comparisons", lambda src, chunk=chunk: (
            f"SELECT {', '.join(d.q(c) for c in cols)} FROM {src}"
            f"{_and(w.where(d), d.q('session_id') + ' IN (' + chunk + ')')}"), floats=["confidence", *_THR,
                                                                                        "threshold"])
        if f is not None:
            frames.append(f)
    if not frames:
        return load(data_dir, "comparisons", since="2999-01-01", columns=cols)
    return pd.concat(frames, ignore_index=True)
