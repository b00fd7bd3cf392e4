"""Rows to Arrow: the columns every table shares, and a flattener's rows as a table of its schema."""
from __future__ import annotations

import contextlib
import datetime as _dt
import gc
import threading

import numpy as np
import orjson
import pyarrow as pa

from .._coerce import iso_to_us
from ..flatten._common import row_fields
from ..schema import COMMON
from ..storage import DataDir

__all__ = ["common_arrays", "with_common", "months", "month_of_int", "now_us", "rows_to_arrow", "tuples_to_arrow",
           "read_manifest", "media_files_table", "no_cycle_collection"]

_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)


def common_arrays(source, month, sid, fetched, stime) -> list[tuple[str, pa.Array]]:
    common = [("source", pa.array(source, pa.string())), ("month", pa.array(month, pa.string()))]
    return common + [(name, pa.array(v, typ)) for (name, typ), v in zip(COMMON, (sid, fetched, stime))]


def with_common(t: pa.Table, common) -> pa.Table:
    """Replace ``_rec`` by the partition keys and common columns of each row's record."""
    take = t.column("_rec")
    t = t.drop_columns(["_rec"])
    rec = take.to_numpy()
    identity = len(rec) == len(common[0][1]) and bool((rec == np.arange(len(rec))).all())
    for i, (name, arr) in enumerate(common):
        t = t.add_column(i, name, arr if identity else arr.take(take))
    return t


def months(us: list[int]) -> list[str]:
    """``YYYY-MM`` of each µs timestamp (vectorised: this runs for every record)."""
    if not us:
        return []
    m = np.asarray(us, np.int64).astype("datetime64[us]").astype("datetime64[M]")
    return np.datetime_as_string(m, unit="M").tolist()


def month_of_int(m: int) -> str:
    return f"{m // 100:04d}-{m % 100:02d}"


def now_us() -> int:
    return (_dt.datetime.now(_dt.timezone.utc) - _EPOCH) // _dt.timedelta(microseconds=1)


def tuples_to_arrow(table: str, idx: list[int], rows: list[tuple]) -> pa.Table:
    """Rows given as tuples in ``table``'s column order (:func:`..flatten._common.row_fields`)
    as its columns, with ``_rec``: transposed at once, each column converted by Arrow."""
    fields = _row_fields(table)
    cols = zip(*rows) if rows else [()] * len(fields)
    arrays = [_column(list(c), f.type) for c, f in zip(cols, fields)]
    return pa.Table.from_arrays([pa.array(idx, pa.int64()), *arrays], names=["_rec", *(f.name for f in fields)])


def rows_to_arrow(table: str, idx: list[int], rows: list[dict]) -> pa.Table:
    """Row dicts as ``table``'s columns (those the store does not add), with ``_rec``.

    Converted as one struct array (Arrow reads the dicts in C++: a tenth of the time of a
    list per column); should a value not fit its column, column by column instead."""
    fields = _row_fields(table)
    try:
        arrays = pa.array(rows, pa.struct(fields)).flatten() if rows else \
            [pa.array([], f.type) for f in fields]
    except _BAD_VALUE:
        arrays = [_column([r.get(f.name) for r in rows], f.type) for f in fields]
    return pa.Table.from_arrays([pa.array(idx, pa.int64()), *arrays], names=["_rec", *(f.name for f in fields)])


_BAD_VALUE = (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError, UnicodeEncodeError)


_row_fields = row_fields  # the columns a flattener fills (the store adds the others)


def _column(values, typ):
    try:
        return pa.array(values, typ)
    except _BAD_VALUE:
        # A value of the wrong type is a flattener bug; null it rather than lose the chunk.
        clean = []
        for v in values:
            try:
                pa.array([v], typ)
                clean.append(v)
            except _BAD_VALUE:
                clean.append(None)
        return pa.array(clean, typ)


def read_manifest(path) -> dict[str, dict]:
    """The downloads manifest (``raw/downloads.jsonl``): url -> its latest record, a
    download that succeeded winning over later failures; a torn last line is skipped."""
    latest: dict[str, dict] = {}
    if path.exists():
        for line in path.read_bytes().splitlines():
            try:
                rec = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            if isinstance(rec, dict) and rec.get("url") and (rec.get("path") or rec["url"] not in latest):
                latest[rec["url"]] = rec
    return latest


def media_files_table(data_dir) -> pa.Table:
    """One row per downloaded will file (its path under ``media/``), derived from the
    downloads manifest -- so ``rebuild`` recreates it too."""
    recs = list(read_manifest(DataDir.of(data_dir).downloads).values())
    rows = [{"field": r.get("field"), "url": r.get("url"), "path": r.get("path"),
             "n_bytes": r.get("n_bytes"), "sha256": r.get("sha256"), "error": r.get("error")}
            for r in recs]
    when = [iso_to_us(r.get("at")) or 0 for r in recs]
    t = rows_to_arrow("media_files", list(range(len(rows))), rows)
    return with_common(t, common_arrays([str(r.get("source")) for r in recs], months(when),
                                        [r.get("session_id") for r in recs], when, when))


_gc_lock = threading.Lock()
_gc_holders = 0
_gc_was_enabled = False


@contextlib.contextmanager
def no_cycle_collection():
    """Python's cycle collector paused while a chunk's records are flattened one by one.

    The Python path keeps a chunk's rows alive (dicts and lists, hundreds of thousands)
    until they become Arrow columns; every few hundred allocations the collector walks
    the young ones, and every so often all of them, to find cycles these rows never
    form: 30% of the Python path's CPU time (``bench_baidu_python.py``).  Reference
    counting frees them as before.  Process-wide, so counted across threads: the
    collector is resumed when the last holder leaves, and only if it ran before."""
    global _gc_holders, _gc_was_enabled
    with _gc_lock:
        if _gc_holders == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_holders += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_holders -= 1
            if _gc_holders == 0 and _gc_was_enabled:
                gc.enable()
