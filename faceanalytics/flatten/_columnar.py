"""The columnar path's entry point: a chunk parsed by :func:`._fast.parse_chunk`, each group
of rows handed to its provider's extractor (:mod:`._fast_megvii`, :mod:`._fast_baidu`), their
tables put together.  Kept apart from :mod:`._fast`, which the extractors build on, so that
nothing imports in a circle."""
from __future__ import annotations

import logging

import numpy as np
import pyarrow as pa

from . import _fast_baidu, _fast_megvii
from ._fast import Parsed, parse_chunk

__all__ = ["FastResult", "flatten_fast", "read_chunk"]

_log = logging.getLogger(__name__)


class FastResult:
    """Rows for the records the fast path took, and the line numbers it did not."""

    __slots__ = ("lines", "source", "session_id", "fetched_us", "session_time_us", "ok",
                 "http_status", "tables", "slow", "blobs")

    def __init__(self):
        self.lines: list[int] = []
        self.source: list[str] = []
        self.session_id: list[str] = []
        self.fetched_us: list[int] = []
        self.session_time_us: list[int] = []
        self.ok: list[bool] = []
        self.tables: dict[str, pa.Table] = {}
        self.slow: list[int] = []
        self.blobs: list[tuple[int, str, bytes]] = []


def read_chunk(lines, joined: bytes | None = None, threads: bool = True,
               source_hint: str | None = None) -> Parsed:
    """:func:`._fast.parse_chunk`, and the callbacks' signed texts parsed ahead
    (:func:`._fast_megvii.read_texts`): the ingest pipeline reads chunks on one thread and
    flattens them on another, and for callbacks the second parse is what keeps the
    flattening thread the busier one."""
    parsed = parse_chunk(lines, joined, threads=threads, source_hint=source_hint)
    for _, g in parsed.groups:
        if g.source == "megvii_notify":
            g.texts = _fast_megvii.read_texts(g)
    return parsed


def flatten_fast(lines, source_hint: str | None, received_us: int, masker, parsed=None,
                 secret: str | None = None) -> FastResult:
    """Flatten what the fast path can; return a :class:`FastResult`.  ``parsed`` is
    :func:`read_chunk`'s result when another thread already read the lines."""
    res = FastResult()
    if parsed is None:
        parsed = read_chunk(lines, source_hint=source_hint)
    res.slow.extend(parsed.left_out)
    parts: dict[str, list[pa.Table]] = {}
    n_done = 0
    for index, g in parsed.groups:
        got = None
        if g.table is not None and len(g.index):
            try:
                extract = (_fast_megvii.extract if g.source.startswith("megvii")
                           else _fast_baidu.extract)
                got = extract(g, received_us, masker, secret)
            except (pa.ArrowException, ValueError, TypeError, OverflowError, KeyError) as e:
                # Arrow can choke on odd nesting; the Python path reads those rows instead.
                _log.debug("fast path gave %d rows to Python: %s", len(g.index), e)
        if got is None:
            res.slow.extend(index.tolist())
            continue
        rows = g.index  # line numbers of the group's parsed rows
        taken = np.flatnonzero(~got.slow)
        res.slow.extend(sorted(set(index.tolist()) - set(rows[taken].tolist())))
        if not len(taken):
            continue
        renumber = np.full(len(rows), -1, np.int64)
        renumber[taken] = np.arange(len(taken)) + n_done
        keep_all = len(taken) == len(rows)
        for name, t in got.tables.items():
            rec = np.asarray(t.column("_rec"))
            if not keep_all:
                t = t.filter(pa.array(~got.slow[rec]))
                rec = np.asarray(t.column("_rec"))
            t = t.set_column(0, "_rec", pa.array(renumber[rec]))
            parts.setdefault(name, []).append(t)
        for r, rel, blob in got.blobs:
            if not got.slow[r]:
                res.blobs.append((int(renumber[r]), rel, blob))
        res.lines.extend(rows[taken].tolist())
        for attr in ("source", "session_id", "fetched_us", "session_time_us", "ok"):
            vals = getattr(got, attr)
            getattr(res, attr).extend(vals if keep_all else [vals[i] for i in taken])
        n_done += len(taken)
    res.tables = {k: pa.concat_tables(v) for k, v in parts.items()}
    res.slow.sort()
    return res
