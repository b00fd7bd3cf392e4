"""Ingest: archive raw lines, flatten them, land the rows — in chunks, resumably.

Order per chunk: (1) the lines go to the raw archive, durably; (2) each line is
read and flattened, a bad one going to ``quarantine`` with its reason; (3) rows
that add nothing (the same fetch again, or an older or error fetch of a session
that has a result) are skipped; (4) the inline images of the rest are written, one
pack per source and month (:mod:`~faceanalytics.storage.packs`); (5) the rows, and
the removal of rows they supersede, are committed atomically.  A crash anywhere
leaves the previous tables readable; running again completes the work, and
``rebuild`` can always recreate every table from the archive.

The data directory may be ``s3://bucket/prefix`` (:mod:`faceanalytics.storage`): the
input files stay local, the archive, tables, PII key and commit records go to S3,
and the writer lock is a lease object there (:mod:`faceanalytics.storage.lock`).
``rebuild`` builds ``tables.rebuild/`` and then moves it in with one committed
transaction (:meth:`Store.adopt`): folders are never renamed (not on S3, and not
locally, where a reader may be listing them).
"""
from __future__ import annotations

import hashlib
import os
import shutil
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from .._coerce import Unreadable, iso_to_us
from ..redact import env_secret
from .._records import MAX_VALUES, dense_stand_in, dense_values, read_record
from ..flatten import Context, flatten_fast, flatten_payload, read_chunk
from ..schema import SOURCES
from ..storage import DataDir
from ..storage.archive import RawArchive, open_segment
from ..storage.durable import rmtree
from ..storage.errors import DamagedFile
from ..storage.paths import is_local
from ..storage.lock import writer_lock
from ..storage.packs import pack_name, remove_unreferenced, write_pack
from ..storage.tables import Store, key_of
from ._chunks import Block, ZstdInput, iter_chunks, open_input, segment_chunks
from ._rows import (common_arrays, media_files_table, month_of_int, months, no_cycle_collection, now_us, rows_to_arrow,
                    tuples_to_arrow, with_common)
from .pii import Masker, load_or_create_key, mask_seen_in_text, scrub_table, scrub_text

__all__ = ["IngestReport", "Ingestor", "ingest", "rebuild"]

CHUNK = 10_000
_QUARANTINE_RAW = 1 << 20  # a quarantined line longer than this keeps its first MiB in `raw`


@dataclass
class IngestReport:
    read: int = 0
    landed: int = 0
    quarantined: int = 0
    skipped: int = 0
    replaced: int = 0
    python_path: int = 0  # records the columnar path left to the Python flatteners
    reasons: dict = field(default_factory=dict)
    # "FILE line N": a last line with no newline, not yet whole JSON (a file still being
    # written), neither archived nor quarantined: the next run reads it once it is finished
    unfinished: list = field(default_factory=list)

    def add(self, other: "IngestReport") -> None:
        self.read += other.read
        self.landed += other.landed
        self.quarantined += other.quarantined
        self.skipped += other.skipped
        self.replaced += other.replaced
        self.python_path += other.python_path
        for k, v in other.reasons.items():
            self.reasons[k] = self.reasons.get(k, 0) + v
        self.unfinished += other.unfinished

    def summary(self) -> str:
        return (f"read {self.read} / landed {self.landed} / quarantined {self.quarantined} / "
                f"skipped {self.skipped} / python path {self.python_path}"
                + (f" / left unfinished {len(self.unfinished)}" if self.unfinished else ""))


def _dense_lines_stood_in(lines, joined: bytes):
    """``(lines, joined)`` with each line of more than ``MAX_VALUES`` values replaced by its
    stand-in (:func:`~faceanalytics._records.dense_stand_in`), after the lines were handed
    to the archive as they are; unchanged (the same objects) when there is none."""
    # Only a line longer than MAX_VALUES bytes can hold that many commas: the line lengths
    # (a Lines' bounds, in C) find the few to count, so the usual chunk costs nothing here.
    bounds = getattr(lines, "bounds", None)
    if bounds is not None:
        long = np.flatnonzero(np.diff(bounds) - 1 > MAX_VALUES).tolist()
    else:
        long = [i for i, ln in enumerate(lines) if len(ln) > MAX_VALUES]
    dense = {i: n for i in long if (n := dense_values(lines[i]))}
    if not dense:
        return lines, joined
    lines = [dense_stand_in(ln, dense[i]) if i in dense else ln for i, ln in enumerate(lines)]
    return lines, b"\n".join(lines)


class Ingestor:
    """Holds the data directory open for one writer (see :func:`~faceanalytics.storage.lock.writer_lock`)."""

    def __init__(self, data_dir, *, keep_pii: bool = False, megvii_api_secret: str | None = None,
                 archive: bool = True, fast: bool = True):
        if megvii_api_secret is None:     # before anything is made or locked: it may be refused
            megvii_api_secret = env_secret("MEGVII_API_SECRET")
        self.ddir = DataDir.of(data_dir)
        self.data_dir = self.ddir.root
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._lock = writer_lock(self.data_dir).__enter__()
        try:
            _finish_swap(self.ddir)
            self.store = Store(self.ddir, scrub=None if keep_pii else scrub_table)
            self.archive = RawArchive(self.ddir)
            self.masker = Masker(load_or_create_key(self.ddir), keep_pii=keep_pii)
        except BaseException:
            self._lock.__exit__(None, None, None)
            raise
        self._secret = megvii_api_secret
        self._archive_enabled = archive
        self.fast = fast
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="archive")

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self._lock.__exit__(None, None, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # --------------------------------------------------------------------------
    def ingest_lines(self, lines: list[bytes], *, source_hint=None, origin=None,
                     first_line_no: int = 1) -> IngestReport:
        """Archive, flatten and land one chunk of input lines."""
        return self.finish(self.prepare(lines, source_hint=source_hint, origin=origin,
                                        first_line_no=first_line_no))

    def ingest_chunks(self, chunks, *, source_hint=None, origin=None) -> IngestReport:
        """Land ``(first line number, lines[, segment context])`` chunks (a context, from a raw
        segment's header, overrides ``source_hint`` and ``origin``) through a three-stage pipeline:
        a reader thread cleans, hashes and parses chunk N+2 (Arrow's JSON reader runs
        outside the GIL) while this thread flattens chunk N+1 and a committer thread
        commits chunk N."""
        total = IngestReport()
        pending = None
        it = iter(chunks)

        def read_next():
            item = next(it, None)
            if item is None:
                return None
            first, lines, *ctx = item
            if ctx:  # the lines of a raw archive segment: read as its header says
                c = ctx[0]
                return self._read(lines, source_hint=c.source_hint, origin=c.origin, first_line_no=first,
                                  received_at=c.received_at)
            return self._read(lines, source_hint=source_hint, origin=origin, first_line_no=first)

        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="read") as reader, \
                ThreadPoolExecutor(max_workers=1, thread_name_prefix="commit") as committer:
            ahead = reader.submit(read_next)
            # Idle until the first chunk is read: pay pyarrow's one-time import of pandas
            # now (its first conversion of Python objects triggers it, ~0.2 s).
            pa.array([0])
            while True:
                read = ahead.result()
                if read is None:
                    break
                ahead = reader.submit(read_next)
                prepared = self._prepare_read(read, source_hint=read.source_hint, origin=read.origin)
                read = None  # the parsed chunk is not needed while the commit is awaited
                if pending is not None:
                    total.add(pending.result())
                pending = committer.submit(self.finish, prepared)
                prepared = None  # once committed, the chunk is not held through the next one's flattening
            if pending is not None:
                total.add(pending.result())
        return total

    def prepare(self, lines: list[bytes], *, source_hint=None, origin=None,
                first_line_no: int = 1, received_us: int | None = None) -> "_Prepared":
        """Start archiving the lines and flatten them (nothing is committed yet)."""
        read = self._read(lines, source_hint=source_hint, origin=origin,
                          first_line_no=first_line_no, received_us=received_us, parse=False)
        return self._prepare_read(read, source_hint=source_hint, origin=origin)

    def _read(self, lines, *, source_hint, origin, first_line_no, received_us=None,
              parse=True, received_at: str | None = None) -> "_Read":
        """Clean the lines, start archiving them, and (optionally) parse them with Arrow.
        ``lines``: a list of lines, or a :class:`Block` read from a file.  ``received_at``:
        when they were first received (a raw segment's header), kept in their segment."""
        if isinstance(lines, Block):
            lines, line_nos, joined = lines.clean(first_line_no)
        else:
            kept = [(first_line_no + i, ln.rstrip(b"\r\n")) for i, ln in enumerate(lines)
                    if ln.strip()]
            line_nos = [n for n, _ in kept]
            lines = [ln for _, ln in kept]
            joined = b"\n".join(lines)  # hashed, archived and parsed as one buffer
        archived = planned = None
        if lines and self._archive_enabled:
            # The segment is named (a hash of the chunk: ~7 ms of a 12 MB liveness chunk) and
            # written on the archive thread, beside the parse; the receive time its name gives
            # is awaited where it is first needed (``_prepare_read``).  Rows are committed only
            # once the raw lines are durable.
            planned = Future()
            archived = self._pool.submit(self._archive, planned, lines, joined, source_hint, origin,
                                         received_at)
            received_us = None
        lines, joined = _dense_lines_stood_in(lines, joined)
        if received_us is None and planned is None:
            received_us = iso_to_us(received_at) if received_at else now_us()
        # One thread: the pipeline keeps both cores busy already (and Arrow's threads
        # would spend a quarter more CPU on the same parse).
        parsed = (read_chunk(lines, joined, threads=False, source_hint=source_hint)
                  if parse and self.fast else None)
        return _Read(lines, line_nos, received_us, archived, parsed, source_hint, origin, planned)

    def _archive(self, planned: Future, lines, joined: bytes, source_hint, origin, received_at) -> None:
        """On the archive thread: name the lines' segment (``planned`` gets the plan), then write it."""
        try:
            plan = self.archive.plan_segment(lines, source_hint=source_hint, origin=origin,
                                             joined=joined, received_at=received_at)
        except BaseException as e:
            planned.set_exception(e)
            raise
        planned.set_result(plan)
        self.archive.write_planned(plan, lines, joined)

    def _prepare_read(self, read: "_Read", *, source_hint, origin) -> "_Prepared":
        received_us = read.received_us
        if received_us is None:  # the receive time the lines' segment gives (a new one: now)
            received_us = iso_to_us(read.planned.result().meta.get("received_at"))
        batch, bad = self._flatten(read.lines, source_hint, received_us, read.line_nos,
                                   parsed=read.parsed)
        return _Prepared(len(read.lines), batch, bad, received_us, origin, read.archived)

    def land(self, lines: list[bytes], *, source_hint, received_us: int, origin=None,
             line_nos=None) -> IngestReport:
        """Flatten and commit lines that are already archived (rebuild)."""
        if line_nos is None:
            line_nos = range(1, len(lines) + 1)
        batch, bad = self._flatten(lines, source_hint, received_us, line_nos)
        return self.finish(_Prepared(len(lines), batch, bad, received_us, origin, None))

    def _flatten(self, lines, source_hint, received_us, line_nos, parsed=None):
        batch = _Batch()
        self.masker.seen = batch.seen  # the names and addresses this chunk's fields hold
        if self.fast:
            fast = flatten_fast(lines, source_hint, received_us, self.masker, parsed=parsed,
                                secret=self._secret)
            batch.add_fast(fast)
            slow = fast.slow
        else:
            slow = range(len(lines))
        bad, flats = [], []
        with no_cycle_collection():
            for i in slow:
                line, rec = lines[i], None
                try:
                    rec = read_record(line, source_hint, received_us)
                    ctx = Context(rec.source, rec.session_id, self.masker, self._secret)
                    flats.append((rec, flatten_payload(rec.source, rec.payload, ctx)))
                except Unreadable as e:
                    bad.append((line, str(e), rec, line_nos[i]))
                except Exception as e:  # a flattener bug must not sink the batch
                    bad.append((line, f"could not flatten: {type(e).__name__}: {e}"[:300], rec,
                                line_nos[i]))
            batch.add_flats(flats)
            del flats           # freed while the collector is paused: it never walks them
        batch.python_path = len(slow)
        self.masker.seen = None
        return batch.finalize(), bad

    def finish(self, p: "_Prepared") -> IngestReport:
        """Decide what lands (dedupe, replacement) and commit it atomically."""
        rep = IngestReport(read=p.n)
        if not p.n:
            return rep
        tables, replace, idx_update, counts = self._plan(p.batch, p.bad, p.received_us, p.origin)
        rep.landed, rep.skipped, rep.replaced, rep.quarantined, rep.reasons = counts
        rep.python_path = p.batch.python_path
        if p.archived is not None:
            p.archived.result()
        self.store.commit(tables, replace, idx_update)
        return rep

    # --------------------------------------------------------------------------
    def _plan(self, batch: "_Batch", bad, received_us, origin):
        index = self.store.index
        n = len(batch.source)
        keys = np.fromiter((key_of(src, sid) for src, sid in zip(batch.source, batch.session_id)),
                           np.int64, n)
        ok = np.asarray(batch.ok, bool)
        fetched = np.asarray(batch.fetched_us, np.int64)
        # The best record per session within the chunk: a result over an error, then the
        # latest fetch, then the earliest line.
        if len(np.unique(keys)) == n:
            chosen = np.arange(n)
        else:
            order = np.lexsort((-np.arange(n), fetched, ok, keys))
            last = np.append(keys[order][1:] != keys[order][:-1], True)
            chosen = np.sort(order[last])
        skipped = n - len(chosen)
        found = index.lookup(keys[chosen])
        accepted = np.zeros(n, bool)
        accepted[chosen[~found]] = True
        replace: dict[tuple[str, str], set[str]] = {}
        hit = chosen[found]
        if len(hit):
            # What the tables hold for the sessions this chunk hits (usually none).
            wanted: dict[str, list[str]] = {}
            for j in hit:
                wanted.setdefault(batch.source[j], []).append(batch.session_id[j])
            stored = {src: self.store.stored_sessions(src, sids) for src, sids in wanted.items()}
            for j in hit:
                old = stored[batch.source[j]].get(batch.session_id[j])
                if old is not None:
                    if old[:2] >= (bool(ok[j]), int(fetched[j])):
                        skipped += 1
                        continue
                    replace.setdefault((batch.source[j], month_of_int(old[2])),
                                       set()).add(batch.session_id[j])
                accepted[j] = True
        n_replaced = sum(len(v) for v in replace.values())

        # Quarantine, deduplicated on the raw bytes.
        q_rows, q_keys, seen = [], [], set()
        reasons: dict[str, int] = {}
        for line, reason, rec, line_no in bad:
            sha = hashlib.sha1(line).hexdigest()
            qk = key_of("quarantine", sha)
            # The reason's gist ("not valid JSON"), cut at ": " (a time's colons stay), masked as
            # the table masks it: these counts are printed, and a reason may quote a value (a
            # verify_time that is an ID number was printed plain).
            short = reason.split(": ", 1)[0]
            if not self.masker.keep_pii:
                short = scrub_text(short)
            reasons[short] = reasons.get(short, 0) + 1
            if qk in seen:
                continue
            seen.add(qk)
            q_rows.append((line, reason, rec, line_no, sha))
            q_keys.append(qk)
        qf = index.lookup(np.array(q_keys, np.int64))
        q_rows = [r for r, f in zip(q_rows, qf) if not f]
        q_keys = [k for k, f in zip(q_keys, qf) if not f]

        self._pack_media(batch, accepted)
        tables = batch.tables_for(accepted)
        tables["quarantine"] = self._build_quarantine(q_rows, received_us, origin)
        if not self.masker.keep_pii:
            tables = mask_seen_in_text(tables, batch.seen)
        acc = np.flatnonzero(accepted)
        idx_update = np.concatenate([keys[acc], np.asarray(q_keys, np.int64)])
        counts = (len(acc), skipped, n_replaced, len(bad), reasons)
        return tables, replace, idx_update, counts

    def _pack_media(self, batch: "_Batch", accepted: np.ndarray) -> None:
        """Write the accepted records' inline images as packs, one per (source, month)
        (:mod:`~faceanalytics.storage.packs`), and point their ``media`` rows into them.

        Before the commit: a row is never committed before the pack it points into is
        whole and on disk; a pack left by a crash is the one the rerun names again."""
        got = batch.tables.get("media")
        if got is None or not batch.blobs:
            return
        rec, t = got
        recs = rec.to_numpy()
        paths = t.column("path").to_pylist()
        shas = t.column("sha256").to_pylist()
        keys = list(zip(t.column("source").to_pylist(), t.column("month").to_pylist()))
        # (record, path) names one image: media_row gives each field of a record its own name
        blobs = {(j, rel): blob for j, rel, blob in batch.blobs if accepted[j]}
        groups: dict[tuple[str, str], dict[str, tuple[str, bytes]]] = {}
        where: dict[int, tuple[tuple[str, str], str]] = {}
        for i, rel in enumerate(paths):
            blob = None if rel is None else blobs.get((int(recs[i]), rel))
            if blob is None:
                continue
            member = _member(rel)
            groups.setdefault(keys[i], {})[member] = (shas[i], blob)
            where[i] = (keys[i], member)
        packs = {}
        for key, group in groups.items():
            members = [(name, *group[name]) for name in sorted(group)]
            rel = pack_name(key[0], key[1], members)
            packs[key] = (rel, write_pack(self.ddir, rel, members))
        pack_col, offset_col = [None] * len(paths), [None] * len(paths)
        for i, (key, member) in where.items():
            rel, offsets = packs[key]
            paths[i], pack_col[i], offset_col[i] = member, rel, offsets[member]
        for name, values, typ in (("path", paths, pa.string()), ("pack", pack_col, pa.string()),
                                  ("offset", offset_col, pa.int64())):
            t = t.set_column(t.schema.get_field_index(name), name, pa.array(values, typ))
        batch.tables["media"] = (rec, t)

    def _build_quarantine(self, q_rows, received_us, origin):
        if not q_rows:
            return None
        rows, source, sid, fetched = [], [], [], []
        for line, reason, rec, line_no, sha in q_rows:
            f = rec.fetched_us if rec is not None else received_us
            source.append(rec.source if rec is not None else "unknown")
            sid.append(rec.session_id if rec is not None else None)
            fetched.append(f)
            raw = line[:_QUARANTINE_RAW].decode("utf-8", "replace")
            if len(line) > _QUARANTINE_RAW:  # the whole line is in the raw archive
                raw += f"… [{len(line) - _QUARANTINE_RAW:,} more bytes in the raw archive]"
            # masked by the store's choke point, with every table
            rows.append({"reason": reason, "raw": raw, "raw_sha1": sha,
                         "origin": f"{origin or '-'}:{line_no}"})
        t = rows_to_arrow("quarantine", list(range(len(rows))), rows)
        return with_common(t, common_arrays(source, months(fetched), sid, fetched, fetched))


class _Read:
    __slots__ = ("lines", "line_nos", "received_us", "archived", "parsed", "source_hint", "origin", "planned")

    def __init__(self, lines, line_nos, received_us, archived, parsed, source_hint=None, origin=None,
                 planned=None):
        self.lines, self.line_nos, self.received_us = lines, line_nos, received_us
        self.archived, self.parsed = archived, parsed
        self.source_hint, self.origin = source_hint, origin
        self.planned = planned  # the segment's plan (received_us None: its receive time is the plan's)


class _Prepared:
    __slots__ = ("n", "batch", "bad", "received_us", "origin", "archived")

    def __init__(self, n, batch, bad, received_us, origin, archived):
        self.n, self.batch, self.bad = n, batch, bad
        self.received_us, self.origin, self.archived = received_us, origin, archived


class _Batch:
    """One chunk's records (columnar) and their rows per table, keyed by record number."""

    def __init__(self):
        self.python_path = 0
        self.source: list[str] = []
        self.session_id: list[str] = []
        self.fetched_us: list[int] = []
        self.session_time_us: list[int] = []
        self.ok: list[bool] = []
        self.parts: dict[str, list[pa.Table]] = {}
        self.tables: dict[str, tuple[pa.ChunkedArray, pa.Table]] = {}
        self.blobs: list[tuple[int, str, bytes]] = []
        self.seen: dict[str, str] = {}

    def _add_tables(self, tables: dict[str, pa.Table], offset: int) -> None:
        for name, t in tables.items():
            if offset:
                t = t.set_column(0, "_rec", pc.add(t.column("_rec"), offset))
            self.parts.setdefault(name, []).append(t)

    def add_fast(self, fast) -> None:
        offset = len(self.source)
        self.source += fast.source
        self.session_id += fast.session_id
        self.fetched_us += fast.fetched_us
        self.session_time_us += fast.session_time_us
        self.ok += fast.ok
        self._add_tables(fast.tables, offset)
        self.blobs += [(offset + r, rel, blob) for r, rel, blob in fast.blobs]

    def add_flats(self, flats) -> None:
        offset = len(self.source)
        per_table: dict[str, tuple[list, list]] = {}
        per_tuple: dict[str, tuple[list, list]] = {}  # rows given as tuples (Flat.tuples)
        for r, (rec, flat) in enumerate(flats):
            s = flat.session
            self.source.append(rec.source)
            self.session_id.append(rec.session_id)
            self.fetched_us.append(rec.fetched_us)
            self.session_time_us.append(flat.session_time_us if flat.session_time_us is not None
                                        else rec.fetched_us)
            self.ok.append(s.get("error") is None)
            s["time_basis"] = flat.time_basis or "fetched_at"
            s["http_status"] = rec.http_status
            s["extra"] = orjson.dumps(flat.extra, default=str).decode() if flat.extra else None
            s["invalid_values"] = flat.n_invalid or None
            per_table.setdefault("sessions", ([], []))
            per_table["sessions"][0].append(r)
            per_table["sessions"][1].append(s)
            for table, rows in flat.dict_rows.items():
                idx, lst = per_table.setdefault(table, ([], []))
                idx.extend([r] * len(rows))
                lst.extend(rows)
            for table, rows in flat.tuples.items():
                idx, lst = per_tuple.setdefault(table, ([], []))
                idx.extend([r] * len(rows))
                lst.extend(rows)
            for rel, blob in flat.blobs:
                self.blobs.append((offset + r, rel, blob))
        self._add_tables({t: rows_to_arrow(t, idx, rows) for t, (idx, rows) in per_table.items()},
                         offset)
        self._add_tables({t: tuples_to_arrow(t, idx, rows) for t, (idx, rows) in per_tuple.items() if rows},
                         offset)

    def finalize(self) -> "_Batch":
        """Give every table its partition keys and common columns (on the flattening
        thread: only the filtering by what is accepted is left for the commit)."""
        common = common_arrays(self.source, months(self.session_time_us), self.session_id,
                                self.fetched_us, self.session_time_us)
        for name, parts in self.parts.items():
            t = pa.concat_tables(parts) if len(parts) > 1 else parts[0]
            rec = t.column("_rec")
            self.tables[name] = (rec, with_common(t, common))
        self.parts = {}
        return self

    def tables_for(self, accepted: np.ndarray) -> dict[str, pa.Table]:
        out = {}
        everything = bool(accepted.all())
        acc = None if everything else pa.array(accepted)
        for name, (rec, t) in self.tables.items():
            if not everything:
                t = t.filter(pc.take(acc, rec))
            if t.num_rows:
                out[name] = t
        return out


def _member(rel: str) -> str:
    """An image's name in its pack: its file name of old without ``media/<source>/``
    (``<session>/<field>[_<attempt>].<ext>``; the pack is per source)."""
    return rel.split("/", 2)[2] if rel.startswith("media/") else rel


def ingest(paths: Iterable, data_dir, *, source: str | None = None, keep_pii: bool = False,
           chunk_size: int = CHUNK, progress: bool = False, fast: bool = True) -> IngestReport:
    """Ingest JSONL files (envelopes, or bare Megvii payloads with ``source=``).

    The tool's own raw archive files (``DATA/raw/<day>/*.jsonl.zst``, or their ``zstd -dc``)
    are read too: each segment's lines as its header says (source hint, receive time,
    origin), so re-ingesting the archive adds nothing and ingesting it into a fresh data
    directory gives the tables :func:`rebuild` gives.  ``fast=False`` flattens every record
    with the Python flatteners."""
    if source is not None and source not in SOURCES:
        raise ValueError(f"unknown source {source!r}; sources are: {', '.join(SOURCES)}")
    total = IngestReport()
    paths = _input_paths(paths)
    bar = _bar(sum(_size(p) for p in paths), "ingest", "B", progress)
    damaged = []  # (path, why): Zstandard files read up to their damage
    with Ingestor(data_dir, keep_pii=keep_pii, fast=fast) as ing:
        for path in paths:
            with open_input(path) as fh:
                src = fh if bar is None or isinstance(fh, ZstdInput) else _Counted(fh, bar)
                # a plain file may still be being written: its cut-off last line waits for the next run
                cut = None if isinstance(fh, ZstdInput) else []
                total.add(ing.ingest_chunks(segment_chunks(iter_chunks(src, chunk_size, unfinished=cut),
                                                           chunk_size),
                                            source_hint=source, origin=path.name))
            total.unfinished += [f"{path} line {n}" for n in cut or ()]
            if getattr(fh, "damage", None) is not None:
                damaged.append((path, fh.damage))  # what came before it landed; the next file is read
            if bar is not None and isinstance(fh, ZstdInput):
                bar.update(_size(path))          # its compressed size: what the total counts
        ing.store.compact()
    if bar is not None:
        bar.close()
    if damaged:
        raise DamagedFile(damaged, total)
    return total


def _input_paths(paths) -> list[Path]:
    """``paths``: one path or an iterable of them.  A path given alone was iterated character by
    character ("No such file or directory: 'r'"), a DataFrame column by column ("... 'source'"):
    records held in memory are refused, saying how to land them."""
    if isinstance(paths, (str, bytes, os.PathLike)):
        return [Path(os.fsdecode(paths))]
    how = "ingest reads JSONL files (one envelope per line): write records held in memory to one first"
    if hasattr(paths, "columns") or isinstance(paths, dict) or not isinstance(paths, Iterable):
        raise TypeError(f"{how}; got {'None' if paths is None else type(paths).__name__}")
    out = []
    for p in paths:
        if not isinstance(p, (str, bytes, os.PathLike)):
            raise TypeError(f"{how}; got a list holding {'None' if p is None else type(p).__name__}")
        out.append(Path(os.fsdecode(p)))
    return out


def _size(path: Path) -> int:
    try:
        return path.stat().st_size if path.is_file() else 0
    except OSError:
        return 0


def _bar(total: int, desc: str, unit: str, enabled: bool):
    """A tqdm progress bar on stderr (None when not asked for)."""
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit, unit_scale=unit == "B", dynamic_ncols=True)


class _Counted:
    """A file whose reads move a progress bar."""

    def __init__(self, fh, bar):
        self.fh, self.bar = fh, bar

    def read(self, n: int) -> bytes:
        data = self.fh.read(n)
        self.bar.update(len(data))
        return data


def rebuild(data_dir, *, keep_pii: bool = False, progress: bool = False) -> IngestReport:
    """Recreate every table from the raw archive (the tables are derived data).
    ``progress``: a progress bar over the archive's segments (stderr)."""
    ddir = DataDir.of(data_dir)
    staging = ddir.tables_at(ddir.REBUILD)
    total = IngestReport()
    with Ingestor(ddir, keep_pii=keep_pii, archive=False) as ing:
        live = ing.store
        rmtree(staging)
        rmtree(ddir.txn(ddir.REBUILD))
        ing.store = Store(ddir, tables_dir=ddir.REBUILD, scrub=live.scrub)  # fresh tables
        segments = ing.archive.segments()
        bar = _bar(len(segments), "rebuild", "segment", progress)
        damaged = []
        for path in segments:
            if is_local(path) and not path.is_file():
                # a FIFO (or a device, or a link to one) among the segments held rebuild forever
                # on its open; a folder failed it: named as damaged, never opened
                damaged.append((path, "not a regular file: a FIFO, a device, a socket or a folder; never opened"))
                continue
            # Read as ingest reads a segment file: in blocks, a line over the limit cut as it is
            # read (a segment written whole into memory held an archived line of any length).
            with ZstdInput(path, open_segment(path)) as fh:
                total.add(ing.ingest_chunks(segment_chunks(iter_chunks(fh, CHUNK), CHUNK)))
            if fh.damage is not None:
                damaged.append((path, fh.damage))
            if bar is not None:
                bar.update()
        if bar is not None:
            bar.close()
        if damaged:
            # Tables without the damaged segments' rows would lose what the live ones hold:
            # they stay as they are, and every damaged segment is named (the whole archive read).
            rmtree(staging)
            rmtree(ddir.txn(ddir.REBUILD))
            raise DamagedFile(damaged, total, tables_kept=True)
        ing.store.compact()
        staging.mkdir(parents=True, exist_ok=True)
        ing.store.replace_table("media_files", media_files_table(ddir))
        # One committed transaction moves the new files in and empties the old ones
        # (rolled forward on the next open after a crash): the tables folder is never
        # renamed away, so a reader listing it can still open what it listed.
        live.adopt(ing.store)
        rmtree(staging)
        rmtree(ddir.txn(ddir.REBUILD))
        # Only now, with the rebuilt tables committed, can a pack none of them points
        # into go (one a crash left, or one the rebuild regrouped).
        remove_unreferenced(ddir, _referenced_packs(ddir))
        rmtree(ddir.summaries)      # a review's counts kept from the old files (engines._kept): none applies now
    return total


def _referenced_packs(ddir: DataDir) -> set[str]:
    from ..storage.tables import load_arrow

    col = load_arrow(ddir, "media", columns=["pack"]).column("pack")
    return {p for p in pc.unique(col).to_pylist() if p is not None}


def _finish_swap(ddir: DataDir) -> None:
    if not ddir.local:
        return  # S3 rebuilds swap through a store transaction (Store.recover)
    tables, staging, old = ddir.tables, ddir.tables_at(ddir.REBUILD), ddir.tables_at(ddir.OLD)
    if not tables.exists() and old.exists():
        if staging.exists():
            os.replace(staging, tables)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(old, tables)
    elif old.exists():
        shutil.rmtree(old, ignore_errors=True)
