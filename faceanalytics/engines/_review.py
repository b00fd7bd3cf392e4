"""The review's counts, taken where the data lives: a few small frames from a few scans.

A review of half a year against the half before reads every comparison, session and
anti-spoofing check of the year.  Loading them costs ~400 bytes a row; counting them
here costs one scan per table and returns frames of a few thousand rows whatever the
volume (see ``benchmarks/bench_review.py``).  What comes back (one row per group, a
count ``n``; :mod:`faceanalytics.report` derives every metric from it):

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
``genuineness_hist``   per source, attack, side, state and 0.01 confidence bin.
``sessions``           per source, day, time basis, status, errors, liveness result, late
                       fetch flag and the segments: statuses, errors, data quality.
``attempts``,          the other error tables pre-counted per day (what ``error_codes`` reads).
``verify_errors``,
``error_counts``
``quarantine``         per source, side and reason.
``seg_comparisons``,   this period only, per partition (source, month): comparisons and checks
``seg_genuineness``    joined to their session's segments; also the sessions that should have
                       a comparison and have none (``no_comparison``).
=====================  ==========================================================================

Segments are values of a ``biz_extra_data`` key (a JSON object, or ``k=v&...`` text) or
of a sessions column, read only for the chosen keys; values outside the kept list are
``"(other)"``.  The joins run one (source, month) partition at a time (both tables are
partitioned by the month of ``session_time``, and all rows of a session share it), so
memory is bounded by the largest partition, not by the number of rows.

The same SQL runs on DuckDB and Spark (:mod:`faceanalytics.engines._sql` dialects); the
pandas counterpart is :func:`faceanalytics.report._summaries.count_frames`.
"""
from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import Sequence
from pathlib import Path
from dataclasses import dataclass

import pandas as pd

from ..analytics._core import LISTING_SOURCE, REPEAT_SOURCE
from ..schema import LEVEL_COLUMNS, LEVELS
from . import _sql as S
from ._api import _run, _window, get_engine
from ._base import Engine, table_root

__all__ = ["Segment", "count_tables", "segment_sample", "labelled_comparisons", "OTHER",
           "COMPARISON_KEYS", "GENUINENESS_KEYS", "SESSION_KEYS"]

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
    (None: every value kept).
    """
    name: str
    column: str | None = None
    values: tuple[str, ...] | None = None

    @property
    def label(self) -> str:
        return f"seg_{self.name}" if self.column is None else f"seg_{self.column}"


# ------------------------------------------------------------------ expressions

def _duck(d: S.Dialect) -> bool:
    return isinstance(d, S.DuckDBDialect)


def _json_path(d: S.Dialect, key: str) -> str:
    return d.text('$."' + key.replace('"', '\\"') + '"') if _duck(d) else d.text("$['" + key.replace("'", "\\'") + "']")


def _is_object(d: S.Dialect) -> str:
    b = d.q("biz_extra_data")
    return f"(ltrim({b}) LIKE '{{%' AND json_valid({b}))" if _duck(d) else \
        f"(ltrim({b}) LIKE '{{%' AND get_json_object({b}, '$') IS NOT NULL)"


def _biz_key(d: S.Dialect, key: str, parsed: str | None = None) -> str:
    """The value of ``key`` in ``biz_extra_data``: a JSON object's member (strings as they are,
    other values as JSON text), else the first ``key=value`` of ``k=v&...`` text; empty = missing.
    ``parsed``: the member already extracted (DuckDB parses a text once for every key)."""
    b = d.q("biz_extra_data")
    rx = d.text("(^|&)" + re.escape(key) + "=")
    rv = d.text("(?:^|&)" + re.escape(key) + "=([^&]*)")
    if _duck(d):
        js = parsed or f"json_extract_string({b}, {_json_path(d, key)})"
        kv = f"CASE WHEN regexp_matches({b}, {rx}) THEN regexp_extract({b}, {rv}, 1) END"
    else:
        js = parsed or f"get_json_object({b}, {_json_path(d, key)})"
        kv = f"CASE WHEN {b} RLIKE {rx} THEN regexp_extract({b}, {rv}, 1) END"
    v = f"(CASE WHEN {_is_object(d)} THEN {js} ELSE {kv} END)"
    return f"nullif({v}, '')"


def segment_expr(d: S.Dialect, seg: Segment, parsed: str | None = None) -> str:
    """SQL for a sessions row's value of ``seg`` (a string, NULL when missing)."""
    if seg.column is None:
        v = _biz_key(d, seg.name, parsed)
    else:
        c = d.q(seg.column)
        v = f"nullif(lower(CAST({c} AS {_str(d)})), '')" if seg.column in _BOOL_COLUMNS else \
            f"nullif(CAST({c} AS {_str(d)}), '')"
    if seg.values is None:
        return v
    kept = ", ".join(d.text(x) for x in seg.values) or "NULL"
    return f"(CASE WHEN {v} IS NULL THEN NULL WHEN {v} IN ({kept}) THEN {v} ELSE {d.text(OTHER)} END)"


def segment_code(d: S.Dialect, segments: Sequence[Segment], parsed: dict[str, str] | None = None) -> str:
    """All of a row's segment values as one integer (mixed radix; digit 0: missing, then the
    kept values in order, then ``(other)``): a compact join payload, decoded by :func:`decode`."""
    terms, radix = [], 1
    for seg in segments:
        if seg.values is None:
            raise ValueError(f"segment {seg.name!r} needs its values (choose_segments gives them)")
        v = segment_expr(d, seg, (parsed or {}).get(seg.name))
        vals = [*seg.values, OTHER]
        case = " ".join(f"WHEN {d.text(x)} THEN {i + 1}" for i, x in enumerate(vals))
        terms.append(f"(CASE {v} {case} ELSE 0 END) * {radix}")
        radix *= len(vals) + 1
    return "(" + " + ".join(terms) + ")" if terms else "0"


def decode(frame: pd.DataFrame, segments: Sequence[Segment], column: str = "code") -> pd.DataFrame:
    """``column`` (see :func:`segment_code`) back to one text column per segment (missing: NA)."""
    import numpy as np

    code = frame[column].to_numpy(dtype=np.int64)
    out = frame.drop(columns=[column])
    for seg in segments:
        vals = [*seg.values, OTHER]
        code, digit = np.divmod(code, len(vals) + 1)
        lut = np.array([None, *vals], dtype=object)
        out[seg.label] = pd.Series(lut[digit], index=frame.index, dtype="str")
    return out


_BOOL_COLUMNS = {"is_demote", "success", "sign_verified"}


def _clean(d: S.Dialect, col: str) -> str:
    return d.clean(col)


def _str(d: S.Dialect) -> str:
    return "VARCHAR" if _duck(d) else "STRING"


def pass_bits(d: S.Dialect) -> str:
    c = d.q("_c")
    parts = [f"(CASE WHEN {c} >= {d.q('_' + col)} THEN {1 << i} ELSE 0 END)" for i, col in enumerate(_THR)]
    parts.append(f"(CASE WHEN {c} >= {d.q('_threshold')} THEN 16 ELSE 0 END)")
    parts.append(f"(CASE WHEN {c} IS NULL THEN 32 ELSE 0 END)")
    return "(" + " + ".join(parts) + ")"


def _hash(d: S.Dialect, col: str) -> str:
    """A 64-bit hash of a column: what the per-partition joins match sessions on (an 8-byte
    key instead of a 32-48 character id; two of a month's few million sessions sharing a
    hash has odds of about one in a million)."""
    return f"hash({col})" if _duck(d) else f"xxhash64({col})"


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


def _and(where: str, cond: str) -> str:
    return f"{where} AND {cond}" if where else f" WHERE {cond}"


def _once_relation(d: S.Dialect, src: str, w: S.Window, detail: bool) -> str:
    """``src`` with each verification attempt once (``analytics.once_per_attempt``: Baidu
    ``detail`` rows of tokens ``getall`` also returned in the window are left out).

    :func:`faceanalytics.engines._sql.once_per_attempt`'s rule, split so that only the
    ``baidu_detail`` partitions pay for the check (the other rows' ids are never read for
    it); no detail partition at all: ``src`` as it is."""
    if not detail:
        return src
    s = d.q("source")
    return (f"(SELECT * FROM {src} WHERE {s} <> {d.text(REPEAT_SOURCE)} UNION ALL "
            f"SELECT * FROM {src} WHERE {s} = {d.text(REPEAT_SOURCE)} AND {_once(d, src, w)}) AS o")


def _once(d: S.Dialect, src: str, w: S.Window) -> str:
    """The condition that keeps a ``baidu_detail`` row: its token has no ``baidu_getall`` row
    in ``src`` within ``w`` (null-safe, as ``analytics.repeated_attempts``)."""
    sid, s = d.q("session_id"), d.q("source")
    listed = f"SELECT {sid} FROM {src}{_and(w.where(d), s + ' = ' + d.text(LISTING_SOURCE))} AND {sid} IS NOT NULL"
    return f"({sid} IS NULL OR {sid} NOT IN ({listed}))"


# ------------------------------------------------------------------ whole-window queries

def comparisons_query(d, src, w, since, *, detail: bool = True) -> str:
    """One scan, two groupings: per day (``g = 0``) and per side and 0.1-point bin (``g = 1``)."""
    thr = [f"{_clean(d, c)} AS {d.q(c)}" for c in [*_THR, "threshold"]]
    inner0 = (f"SELECT {d.q('source')}, {d.q('comparison')}, {d.period('D')} AS {d.q('day')}, "
              f"{_side(d, since)} AS {d.q('side')}, {_clean(d, 'confidence')} AS {d.q('_c')}, {', '.join(thr)}, "
              f"{_first(d)} AS {d.q('first')} FROM {_once_relation(d, src, w, detail)}{w.where(d)}")
    bits = pass_bits(d)
    for c in [*_THR, "threshold"]:
        bits = bits.replace(d.q("_" + c), d.q(c))
    inner = (f"SELECT {d.q('source')}, {d.q('comparison')}, {', '.join(d.q(c) for c in [*_THR, 'threshold'])}, "
             f"{bits} AS {d.q('bits')}, {d.q('first')}, {d.q('day')}, {d.q('side')}, "
             f"{_bin(d, d.q('_c'), 10)} AS {d.q('bin')} "
             f"FROM ({inner0}) AS i")
    keys = ", ".join(d.q(k) for k in COMPARISON_KEYS)
    return (f"SELECT {keys}, {d.q('day')}, {d.q('side')}, {d.q('bin')}, GROUPING({d.q('day')}) AS {d.q('g')}, "
            f"count(*) AS {d.q('n')} FROM ({inner}) AS x GROUP BY GROUPING SETS "
            f"(({keys}, {d.q('day')}), ({keys}, {d.q('side')}, {d.q('bin')}))")


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


def genuineness_query(d, src, w, *, detail: bool = True) -> str:
    inner = (f"SELECT {d.q('source')}, {d.q('attack')}, {d.period('D')} AS {d.q('day')}, "
             f"{_clean(d, 'confidence')} AS {d.q('_c')}, {_clean(d, 'threshold')} AS {d.q('threshold')} "
             f"FROM {_once_relation(d, src, w, detail)}{w.where(d)}")
    outer = (f"SELECT {d.q('source')}, {d.q('attack')}, {d.q('day')}, {d.q('threshold')}, "
             f"{_genuineness_state(d)} AS {d.q('state')} FROM ({inner}) AS i")
    return _group(d, outer, [*GENUINENESS_KEYS, "day"])


def _late(d) -> str:
    """Fetched after the provider's retention, judged only on a real event time (as
    ``analytics.late_fetches``)."""
    delay = f"({d.epoch_us(d.q('fetched_at'))} - {d.epoch_us(d.q('session_time'))})"
    ret = (f"(CASE WHEN {d.q('source')} LIKE 'megvii%' THEN {RETENTION_US['megvii']} "
           f"WHEN {d.q('source')} LIKE 'baidu%' THEN {RETENTION_US['baidu']} END)")
    return (f"coalesce({d.q('time_basis')} IN ('verify_time', 'biz_id') AND {delay} > {ret}, false)")


def _invalid(d) -> str:
    """A session with a value nulled as not finite or out of range (``analytics.data_quality``)."""
    return f"coalesce({d.q('invalid_values')}, 0) > 0"


def sessions_query(d, src, w) -> str:
    cols = [d.q(c) for c in SESSION_KEYS if c not in _DERIVED]
    inner = (f"SELECT {', '.join(cols)}, {_late(d)} AS {d.q('late')}, {_invalid(d)} AS {d.q('invalid')}, "
             f"{d.period('D')} AS {d.q('day')} "
             f"FROM {src}{w.where(d)}")
    return _group(d, inner, [*SESSION_KEYS, "day"])


def reduce_query(d, src, w, columns: Sequence[str], total: str | None = None, first: bool = False) -> str:
    inner = (f"SELECT {', '.join(d.q(c) for c in columns)}, {d.period('D')} AS {d.q('day')}"
             + (f", {d.q(total)}" if total else "") + (f", {_first(d)} AS {d.q('first')}" if first else "")
             + f" FROM {src}{w.where(d)}")
    agg = f"CAST(sum({d.q(total)}) AS BIGINT)" if total else "count(*)"
    return _group(d, inner, [*columns, "day", *(["first"] if first else [])], agg)


def quarantine_query(d, src, w, since) -> str:
    inner = (f"SELECT {d.q('source')}, {_side(d, since)} AS {d.q('side')}, "
             f"coalesce({d.q('reason')}, '(no reason)') AS {d.q('reason')} FROM {src}{w.where(d)}")
    return _group(d, inner, ["source", "side", "reason"])


# ------------------------------------------------------------------ this period, per partition

def _expect(d) -> str:
    """A session that should carry a comparison (``analytics.sessions_without_result``)."""
    st, lr = d.q("status"), f"upper({d.q('liveness_result')})"
    return (f"({d.q('error')} IS NULL AND coalesce({st} NOT IN ('NOT_STARTED', 'PROCESSING'), true) AND "
            f"(coalesce({lr} IN ('PASS', 'SUCCESS'), false) OR "
            f"({d.q('source')} LIKE 'baidu%' AND coalesce({st} = 'OK', false))))")


_CMP_SOURCES = ("megvii_lite", "megvii_liveness", "megvii_notify", "baidu_detail", "baidu_getall")


def _part(d, part) -> str:
    return f"{d.q('source')} = {d.text(part[0])} AND {d.q('month')} = {d.text(part[1])}"


_SEG_SESSION_COLUMNS = ["status", "error", "error_message", "liveness_result", "failure_reason", "fail_reason",
                        "verify_error"]


def seg_sessions(d, sessions: str, w: S.Window, segments: Sequence[Segment], part) -> str:
    """The partition's sessions this period, compact: ``_h`` (id hash), ``_rid`` (request-id
    hash), ``day``, ``expect`` (should carry a comparison), ``code`` (every segment value, see
    :func:`segment_code`) and the error columns.  ``biz_extra_data`` is parsed once a row."""
    b = d.q("biz_extra_data")
    keys = [x.name for x in segments if x.column is None]
    parsed = {}
    inner_json = ""
    if _duck(d) and len(keys) > 1:
        paths = ", ".join(_json_path(d, k) for k in keys)
        inner_json = f", (CASE WHEN {_is_object(d)} THEN json_extract_string({b}, [{paths}]) END) AS {d.q('_j')}"
        parsed = {k: f"{d.q('_j')}[{i + 1}]" for i, k in enumerate(keys)}
    r = d.q("request_id")
    inner = (f"SELECT *{inner_json} FROM {sessions}{_and(w.where(d), _part(d, part))}")
    return (f"SELECT {_hash(d, d.q('session_id'))} AS {d.q('_h')}, "
            f"(CASE WHEN {r} IS NULL THEN NULL ELSE {_hash(d, r)} END) AS {d.q('_rid')}, "
            f"{d.period('D')} AS {d.q('day')}, {_expect(d)} AS {d.q('expect')}, "
            f"{segment_code(d, segments, parsed)} AS {d.q('code')}, "
            + ", ".join(d.q(c) for c in _SEG_SESSION_COLUMNS) + f" FROM ({inner}) AS s0")


def seg_sessions_query(d, segs: str) -> str:
    """Per day, error columns and segment values: the error series of each segment."""
    inner = (f"SELECT {d.q('day')}, " + ", ".join(d.q(c) for c in _SEG_SESSION_COLUMNS)
             + f", {d.q('code')} FROM {segs} AS s WHERE {d.q('code')} <> 0")
    return _group(d, inner, ["day", *_SEG_SESSION_COLUMNS, "code"])


def quality_query(d, segs: str) -> str:
    """Session rows, distinct sessions, and sessions sharing a request id with another session
    (``repeated_request_ids``), in one partition (source, month) of this period; ids compared
    by their 64-bit hashes."""
    h, rid = d.q("_h"), d.q("_rid")
    by_h = f"SELECT {h}, count(*) AS {d.q('c')} FROM {segs} AS a GROUP BY {h}"
    shared = (f"SELECT {rid} FROM {segs} AS b WHERE {rid} IS NOT NULL GROUP BY {rid} "
              f"HAVING min({h}) <> max({h})")           # plain aggregates: cheaper than count(DISTINCT)
    return (f"WITH {d.q('byh')} AS ({by_h}), {d.q('shr')} AS ({shared}) "
            f"SELECT (SELECT coalesce(sum({d.q('c')}), 0) FROM {d.q('byh')}) AS {d.q('rows')}, "
            f"(SELECT count(*) FROM {d.q('byh')}) AS {d.q('ids')}, "
            f"(SELECT count(DISTINCT {h}) FROM {segs} AS x WHERE {rid} IN (SELECT {rid} FROM {d.q('shr')})) "
            f"AS {d.q('repeated')}")


def seg_comparisons_query(d, segs: str, comparisons: str | None, w, segments, part, dup: str | None) -> str:
    """Sessions of the partition LEFT JOIN their comparisons: per day, segment values, comparison
    kind, pass bits and ``has`` (bit i: the level-i threshold is there; bit 4: Baidu's); ``dup``
    marks Baidu detail rows that getall also returned; a session with no comparison has
    ``matched = 0`` (what ``no_comparison`` counts)."""
    if comparisons is None:             # no comparisons table: every session lacks one
        c = (f"SELECT * FROM (SELECT CAST(NULL AS BIGINT) AS {d.q('_h')}, CAST(NULL AS {_str(d)}) "
             f"AS {d.q('comparison')}, 0 AS {d.q('_dup')}, 1 AS {d.q('_first')}, "
             + ", ".join(f"CAST(NULL AS DOUBLE) AS {d.q('_' + x)}" for x in ["c", *_THR, "threshold"])
             + ") AS e WHERE 1 = 0")
    else:
        thr = ", ".join(f"{_clean(d, x)} AS {d.q('_' + x)}" for x in [*_THR, "threshold"])
        flag = f"(CASE WHEN {dup} THEN 0 ELSE 1 END)" if dup else "0"
        c = (f"SELECT {_hash(d, d.q('session_id'))} AS {d.q('_h')}, {d.q('comparison')}, {flag} AS {d.q('_dup')}, "
             f"{_first(d)} AS "
             f"{d.q('_first')}, {_clean(d, 'confidence')} AS {d.q('_c')}, {thr} "
             f"FROM {comparisons}{_and(w.where(d), _part(d, part))}")
    has = " + ".join(f"(CASE WHEN c.{d.q('_' + col)} IS NOT NULL THEN {1 << i} ELSE 0 END)"
                     for i, col in enumerate(_THR))
    has += f" + (CASE WHEN c.{d.q('_threshold')} IS NOT NULL THEN 16 ELSE 0 END)"
    bits = pass_bits(d).replace(d.q("_c"), "c." + d.q("_c"))
    for x in [*_THR, "threshold"]:
        bits = bits.replace(d.q("_" + x), "c." + d.q("_" + x))
    matched = f"c.{d.q('_h')} IS NOT NULL"
    build = (f"(SELECT {d.q('_h')}, {d.q('day')}, {d.q('expect')}, {d.q('code')} FROM {segs} AS s1 "
             f"WHERE {d.q('expect')} OR {d.q('code')} <> 0)")
    inner = (f"SELECT s.{d.q('day')} AS {d.q('day')}, s.{d.q('expect')} AS {d.q('expect')}, "
             f"c.{d.q('comparison')} AS {d.q('comparison')}, coalesce(c.{d.q('_dup')}, 0) AS {d.q('dup')}, "
             f"coalesce(c.{d.q('_first')}, 1) AS {d.q('first')}, "
             f"(CASE WHEN {matched} THEN {bits} END) AS {d.q('bits')}, "
             f"(CASE WHEN {matched} THEN {has} END) AS {d.q('has')}, "
             f"(CASE WHEN {matched} THEN 1 ELSE 0 END) AS {d.q('matched')}, s.{d.q('code')} AS {d.q('code')}"
             f" FROM {build} AS s LEFT JOIN ({c}) AS c ON s.{d.q('_h')} = c.{d.q('_h')}")
    return _group(d, inner, ["day", "expect", "matched", "dup", "first", "comparison", "bits", "has", "code"])


def seg_genuineness_query(d, segs: str, genuineness: str, w, part, once: str | None) -> str:
    where = _and(w.where(d), _part(d, part)) + (f" AND {once}" if once else "")
    g = (f"SELECT {_hash(d, d.q('session_id'))} AS {d.q('_h')}, {d.q('attack')}, {_clean(d, 'confidence')} AS "
         f"{d.q('_c')}, {_clean(d, 'threshold')} AS {d.q('_t')} FROM {genuineness}{where}")
    state = _genuineness_state(d, "g." + d.q("_c"), "g." + d.q("_t"))
    build = f"(SELECT {d.q('_h')}, {d.q('day')}, {d.q('code')} FROM {segs} AS s1 WHERE {d.q('code')} <> 0)"
    inner = (f"SELECT s.{d.q('day')} AS {d.q('day')}, g.{d.q('attack')} AS {d.q('attack')}, {state} AS {d.q('state')}, "
             f"s.{d.q('code')} AS {d.q('code')} FROM ({g}) AS g JOIN {build} AS s ON s.{d.q('_h')} = g.{d.q('_h')}")
    return _group(d, inner, ["day", "attack", "state", "code"])


def distinct_query(d, sessions: str, w, since, provider: str, month: str | None = None) -> str:
    """Distinct sessions of one provider per side: a Baidu token fetched by stat, getall and detail
    is one session, and so is a Megvii biz_id seen in a callback and in get_result."""
    cond = f"{d.q('source')} LIKE {d.text(provider + '%')}"
    if month is not None:
        cond += f" AND {d.q('month')} = {d.text(month)}"
    return (f"SELECT {_side(d, since)} AS {d.q('side')}, count(DISTINCT {d.q('session_id')}) AS {d.q('n')} "
            f"FROM {sessions}{_and(w.where(d), cond)} GROUP BY {_side(d, since)}")


# ------------------------------------------------------------------ running them

def _has_source(data_dir, table: str, source: str) -> bool:
    """Whether ``table`` has a ``source`` partition (always assumed for a URL)."""
    root = table_root(data_dir, table)
    return "://" in root or Path(root, f"source={source}").is_dir()


def _partitions(eng: Engine, data_dir, table: str, w: S.Window) -> list[tuple[str, str]]:
    """(source, month) partitions of ``table`` the window touches."""
    d = eng.dialect
    out = _run(eng, data_dir, table, lambda src: (
        f"SELECT DISTINCT {d.q('source')}, {d.q('month')} FROM {src}{w.where(d)}"))
    if out is None:
        return []
    return sorted(zip(out["source"].astype("str"), out["month"].astype("str")))


def count_tables(data_dir, *, previous_since, since, until, segments: Sequence[Segment] = (),
                 engine="auto", progress=None, tz=None) -> dict[str, pd.DataFrame | None]:
    """Every count the review needs over ``[previous_since, until)`` (``since`` splits the two
    periods); see the module docstring.  ``day`` is the day number on the calendar of ``tz``
    (default UTC).  A table with no data gives None."""
    eng = get_engine(engine)
    d = eng.dialect.in_zone(tz)
    w = _window(previous_since, until)
    cur = _window(since, until)
    s0 = cur.since
    segments = list(segments)
    out: dict[str, pd.DataFrame | None] = {}
    counts = ["n"]

    def step(name):
        if progress is not None:
            progress(name)

    step("comparisons")
    thr = [*_THR, "threshold"]
    dc = _has_source(data_dir, "comparisons", "baidu_detail")
    both = _run(eng, data_dir, "comparisons", lambda src: comparisons_query(d, src, w, s0, detail=dc),
                counts=counts, floats=thr)
    if both is None:
        out["comparisons"] = out["comparison_hist"] = None
    else:
        g = both["g"].to_numpy() == 0
        out["comparisons"] = both[g].drop(columns=["g", "side", "bin"]).reset_index(drop=True)
        out["comparison_hist"] = both[~g].drop(columns=["g", "day"]).reset_index(drop=True)
    step("anti-spoofing")
    dg = _has_source(data_dir, "genuineness", "baidu_detail")
    out["genuineness"] = _run(eng, data_dir, "genuineness", lambda src: genuineness_query(d, src, w, detail=dg),
                              counts=counts, floats=["threshold"])
    step("sessions")
    out["sessions"] = _run(eng, data_dir, "sessions", lambda src: sessions_query(d, src, w), counts=counts)
    out["attempts"] = _run(eng, data_dir, "attempts", lambda src: reduce_query(
        d, src, w, ["source", "code", "message", "charged", "passed", "charge_type"], first=True), counts=counts)
    out["verify_errors"] = _run(eng, data_dir, "verify_errors", lambda src: reduce_query(
        d, src, w, ["source", "error_message", "billed"]), counts=counts)
    out["error_counts"] = _run(eng, data_dir, "error_counts", lambda src: reduce_query(
        d, src, w, ["source", "api", "error_code"], total="count"), counts=counts)
    out["quarantine"] = _run(eng, data_dir, "quarantine", lambda src: quarantine_query(d, src, w, s0), counts=counts)
    out["distinct"] = _distinct(eng, data_dir, w, s0)
    step("segments and data quality")
    out.update(_per_partition(eng, data_dir, w, cur, segments, d))
    return out


def _distinct(eng, data_dir, w: S.Window, since) -> pd.DataFrame | None:
    """Sessions counted once per provider where several sources can hold the same one: Baidu
    tokens over the window (Baidu volumes are small); Megvii, when callbacks were received,
    within each month (bounded memory)."""
    d = eng.dialect
    frames = []
    with eng.relation(data_dir, "sessions") as ss:
        if ss is None:
            return None
        sources = {s_ for s_, _ in _partitions(eng, data_dir, "sessions", w)}
        if sum(x.startswith("baidu") for x in sources) > 1:
            f = _frame(eng, distinct_query(d, ss, w, since, "baidu"), None, "sessions", ["n", "side"])
            frames.append(f.assign(group="Baidu"))
        if "megvii_notify" in sources:
            for m in sorted({m for s_, m in _partitions(eng, data_dir, "sessions", w) if s_.startswith("megvii")}):
                f = _frame(eng, distinct_query(d, ss, w, since, "megvii", m), None, "sessions", ["n", "side"])
                frames.append(f.assign(group="Megvii"))
    return _concat(frames)


@contextlib.contextmanager
def _materialized(eng, sql: str):
    """``sql`` as something to select from, computed once: a table in DuckDB's in-memory
    database (dropped afterwards), the subquery itself elsewhere (Spark plans it)."""
    if not hasattr(eng, "connection"):
        yield f"({sql})"
        return
    name = f"fa_review_{uuid.uuid4().hex[:12]}"
    con = eng.connection()
    con.execute(f"CREATE TABLE {name} AS {sql}")
    try:
        yield name
    finally:
        con.execute(f"DROP TABLE IF EXISTS {name}")


def _per_partition(eng, data_dir, w: S.Window, cur: S.Window, segments, d) -> dict[str, pd.DataFrame | None]:
    """This period, one partition (source, month) at a time (memory bounded by the largest):
    the sessions once, compact (id hashes, day, segment code), then the data-quality counts,
    the segments' error counts, and the comparisons and checks joined to their session
    (``d``: the engine's dialect, in the review's time zone)."""
    parts = _partitions(eng, data_dir, "sessions", cur)
    frames: dict[str, list] = {"seg_sessions": [], "seg_comparisons": [], "seg_genuineness": [], "quality": []}
    with eng.relation(data_dir, "sessions") as ss, eng.relation(data_dir, "comparisons") as cs, \
            eng.relation(data_dir, "genuineness") as gs:
        for part in parts:
            with _materialized(eng, seg_sessions(d, ss, cur, segments, part)) as segs:
                frames["quality"].append(_frame(eng, quality_query(d, segs), part, "sessions",
                                                ["rows", "ids", "repeated"]))
                if segments:
                    frames["seg_sessions"].append(decode(_frame(eng, seg_sessions_query(d, segs), part, "sessions",
                                                                ["n", "code"]), segments))
                if part[0] not in _CMP_SOURCES:
                    continue
                detail = part[0] == "baidu_detail"
                dup = _once(d, cs, w) if detail and cs is not None else None
                frames["seg_comparisons"].append(decode(_frame(
                    eng, seg_comparisons_query(d, segs, cs, cur, segments, part, dup), part, "sessions",
                    ["n", "bits", "has", "first", "code"]), segments))
                if gs is not None and segments:
                    once = _once(d, gs, w) if detail else None
                    frames["seg_genuineness"].append(decode(_frame(
                        eng, seg_genuineness_query(d, segs, gs, cur, part, once), part, "genuineness",
                        ["n", "state", "code"]), segments))
    return {k: _concat(v) for k, v in frames.items()}


def _frame(eng, sql: str, part, table: str, counts) -> pd.DataFrame:
    from ._base import arrow_frame

    f = arrow_frame(eng.query(sql), table, counts=counts)
    if part is not None:
        f.insert(0, "source", part[0])
    return f


def _concat(frames):
    frames = [f for f in frames if f is not None and len(f)]
    return pd.concat(frames, ignore_index=True) if frames else None


def segment_sample(data_dir, *, since, until, columns: Sequence[str], per_month: int = 20_000,
                   engine="auto") -> pd.DataFrame:
    """Up to ``per_month`` sessions of each month of the period (``biz_extra_data`` and
    ``columns``): what the default segment keys are chosen from.  Only the choice of keys
    comes from this sample; every count is exact."""
    eng = get_engine(engine)
    if eng.name == "pandas":
        from ..store import load

        f = load(data_dir, "sessions", since=since, until=until, columns=["month", "biz_extra_data", *columns])
        return f.groupby("month", sort=True).head(per_month).drop(columns="month").reset_index(drop=True)
    d = eng.dialect
    w = _window(since, until)
    months = sorted({m for _, m in _partitions(eng, data_dir, "sessions", w)})
    if not months:
        return pd.DataFrame(columns=["biz_extra_data", *columns])
    cols = ", ".join(d.q(c) for c in ["biz_extra_data", *columns])
    frames = []
    for m in months:
        f = _run(eng, data_dir, "sessions", lambda src, m=m: (
            f"SELECT {cols} FROM {src}{_and(w.where(d), d.q('month') + ' = ' + d.text(m))} LIMIT {int(per_month)}"))
        if f is not None:
            frames.append(f)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["biz_extra_data", *columns])


def labelled_comparisons(data_dir, labels: pd.DataFrame, *, since, until, engine="auto") -> pd.DataFrame:
    """The comparisons of the labelled sessions in ``[since, until)`` (a few rows per label):
    what :func:`faceanalytics.analytics.error_rates_at_levels` needs, without the others."""
    from ..store import load

    eng = get_engine(engine)
    cols = ["source", "session_id", "comparison", "confidence", *_THR, "threshold", "session_time"]
    if eng.name == "pandas":
        c = load(data_dir, "comparisons", since=since, until=until, columns=cols)
        return c[c["session_id"].isin(set(labels["session_id"].astype("str")))].reset_index(drop=True)
    d = eng.dialect
    w = _window(since, until)
    ids = labels["session_id"].dropna().astype("str").unique().tolist()
    if not ids:
        return load(data_dir, "comparisons", since="2999-01-01", columns=cols)
    frames = []
    for i in range(0, len(ids), 5000):          # an IN list per 5,000 ids keeps the SQL small
        chunk = ", ".join(d.text(x) for x in ids[i:i + 5000])
        f = _run(eng, data_dir, "comparisons", lambda src, chunk=chunk: (
            f"SELECT {', '.join(d.q(c) for c in cols)} FROM {src}"
            f"{_and(w.where(d), d.q('session_id') + ' IN (' + chunk + ')')}"), floats=["confidence", *_THR,
                                                                                        "threshold"])
        if f is not None:
            frames.append(f)
    if not frames:
        return load(data_dir, "comparisons", since="2999-01-01", columns=cols)
    return pd.concat(frames, ignore_index=True)
