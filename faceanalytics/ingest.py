"""Ingest: archive raw lines, flatten them, land the rows — in chunks, resumably.

Order per chunk: (1) the lines go to the raw archive, durably; (2) each line is
read and flattened, a bad one going to ``quarantine`` with its reason; (3) rows
that add nothing (the same fetch again, or an older or error fetch of a session
that has a result) are skipped; (4) the rest, and the removal of rows they
supersede, are committed atomically.  A crash anywhere leaves the previous
tables readable; running again completes the work, and ``rebuild`` can always
recreate every table from the archive.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

import orjson
import pyarrow as pa

from ._coerce import Unreadable, iso_to_us
from ._fs import WriterLock, atomic_write_bytes
from ._pii import Masker, load_or_create_key, mask_id_numbers
from ._records import read_record
from .archive import RawArchive
from .flatten import Context, flatten_payload
from .schema import COMMON, TABLES, columns, file_schema
from .store import Store, key_of

__all__ = ["IngestReport", "Ingestor", "ingest", "rebuild"]

CHUNK = 20_000
_SESSION_COLS = columns("sessions")
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)


@dataclass
class IngestReport:
    read: int = 0
    landed: int = 0
    quarantined: int = 0
    skipped: int = 0
    replaced: int = 0
    reasons: dict = field(default_factory=dict)

    def add(self, other: "IngestReport") -> None:
        self.read += other.read
        self.landed += other.landed
        self.quarantined += other.quarantined
        self.skipped += other.skipped
        self.replaced += other.replaced
        for k, v in other.reasons.items():
            self.reasons[k] = self.reasons.get(k, 0) + v

    def summary(self) -> str:
        return (f"read {self.read} / landed {self.landed} / quarantined {self.quarantined} / "
                f"skipped {self.skipped}")


def _month(us: int) -> str:
    d = _EPOCH + _dt.timedelta(microseconds=us)
    return f"{d.year:04d}-{d.month:02d}"


class Ingestor:
    """Holds the data directory open for one writer (see :class:`~faceanalytics._fs.WriterLock`)."""

    def __init__(self, data_dir, *, keep_pii: bool = False, megvii_api_secret: str | None = None,
                 archive: bool = True):
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._lock = WriterLock(self.data_dir).__enter__()
        _finish_swap(self.data_dir)
        self.store = Store(self.data_dir)
        self.archive = RawArchive(self.data_dir)
        self.masker = Masker(load_or_create_key(self.data_dir), keep_pii=keep_pii)
        if megvii_api_secret is None:
            megvii_api_secret = os.environ.get("MEGVII_API_SECRET") or None
        self._secret = megvii_api_secret
        self._archive_enabled = archive

    def close(self) -> None:
        self._lock.__exit__(None, None, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # --------------------------------------------------------------------------
    def ingest_lines(self, lines: list[bytes], *, source_hint=None, origin=None,
                     first_line_no: int = 1) -> IngestReport:
        lines = [ln.rstrip(b"\r\n") for ln in lines]
        lines = [ln for ln in lines if ln.strip()]
        if not lines:
            return IngestReport()
        meta = {"received_at": None}
        if self._archive_enabled:
            _, meta = self.archive.write_segment(lines, source_hint=source_hint, origin=origin)
        received_us = iso_to_us(meta.get("received_at")) if meta.get("received_at") else _now_us()
        return self.land(lines, source_hint=source_hint, received_us=received_us, origin=origin,
                         first_line_no=first_line_no)

    def land(self, lines: list[bytes], *, source_hint, received_us: int, origin=None,
             first_line_no: int = 1) -> IngestReport:
        """Flatten and commit lines that are already archived."""
        rep = IngestReport(read=len(lines))
        ok_recs, bad = [], []
        for i, line in enumerate(lines):
            rec = None
            try:
                rec = read_record(line, source_hint, received_us)
                ctx = Context(rec.source, rec.session_id, self.masker, self._secret)
                flat = flatten_payload(rec.source, rec.payload, ctx)
                ok_recs.append((rec, flat))
            except Unreadable as e:
                bad.append((line, str(e), rec, first_line_no + i))
            except Exception as e:  # a flattener bug must not sink the batch
                bad.append((line, f"could not flatten: {type(e).__name__}: {e}"[:300], rec,
                            first_line_no + i))
        tables, replace, idx_update, counts = self._plan(ok_recs, bad, received_us, origin)
        rep.landed, rep.skipped, rep.replaced, rep.quarantined, rep.reasons = counts
        self.store.commit(tables, replace, idx_update)
        return rep

    # --------------------------------------------------------------------------
    def _plan(self, ok_recs, bad, received_us, origin):
        index = self.store.index
        # Best record per session within the chunk.
        best: dict[int, int] = {}
        keys = []
        for j, (rec, flat) in enumerate(ok_recs):
            k = key_of(rec.source, rec.session_id)
            keys.append(k)
            b = best.get(k)
            if b is None or _rank(ok_recs[j]) > _rank(ok_recs[b]):
                best[k] = j
        chosen = sorted(best.values())
        skipped = len(ok_recs) - len(chosen)
        import numpy as np

        ck = np.array([keys[j] for j in chosen], np.int64)
        found, pos = index.lookup(ck)
        accepted, replace = [], {}
        for n, j in enumerate(chosen):
            rec, flat = ok_recs[j]
            if found[n]:
                p = pos[n]
                old = (bool(index.ok[p]), int(index.fetched[p]))
                if old >= _rank(ok_recs[j]):
                    skipped += 1
                    continue
                m = int(index.month[p])
                replace.setdefault((rec.source, f"{m // 100:04d}-{m % 100:02d}"), set()).add(rec.session_id)
            accepted.append(j)
        n_replaced = sum(len(v) for v in replace.values())

        # Quarantine, deduplicated on the raw bytes.
        q_rows, q_keys, seen = [], [], set()
        reasons: dict[str, int] = {}
        for line, reason, rec, line_no in bad:
            sha = hashlib.sha1(line).hexdigest()
            qk = key_of("quarantine", sha)
            short = reason.split(":")[0]
            reasons[short] = reasons.get(short, 0) + 1
            if qk in seen:
                continue
            seen.add(qk)
            q_rows.append((line, reason, rec, line_no, sha))
            q_keys.append(qk)
        qf, _ = index.lookup(np.array(q_keys, np.int64))
        n_quarantined = len(bad)
        q_rows = [r for r, f in zip(q_rows, qf) if not f]
        q_keys = [k for k, f in zip(q_keys, qf) if not f]

        tables = self._build(ok_recs, accepted, received_us)
        tables["quarantine"] = self._build_quarantine(q_rows, received_us, origin)
        for j in accepted:
            for rel, blob in ok_recs[j][1].blobs:
                self._write_blob(rel, blob)
        idx_keys = [keys[j] for j in accepted] + q_keys
        idx_fetched = [ok_recs[j][0].fetched_us for j in accepted] + [received_us] * len(q_keys)
        idx_ok = [ok_recs[j][1].session.get("error") is None for j in accepted] + [False] * len(q_keys)
        idx_month = [_month_int(_month(_stime(ok_recs[j]))) for j in accepted] + \
            [_month_int(_month(received_us))] * len(q_keys)
        counts = (len(accepted), skipped, n_replaced, n_quarantined, reasons)
        return tables, replace, (idx_keys, idx_fetched, idx_ok, idx_month), counts

    def _write_blob(self, rel: str, blob: bytes) -> None:
        path = self.data_dir / rel
        try:
            if path.stat().st_size == len(blob) and path.read_bytes() == blob:
                return
        except FileNotFoundError:
            pass
        atomic_write_bytes(path, blob, mode=0o600)

    def _build(self, ok_recs, accepted, received_us) -> dict[str, pa.Table]:
        n = len(accepted)
        sources, months, sids, fetched, stimes = [], [], [], [], []
        per_table: dict[str, tuple[list, list]] = {t: ([], []) for t in TABLES if t != "quarantine"}
        sess_rows = per_table["sessions"]
        for r, j in enumerate(accepted):
            rec, flat = ok_recs[j]
            st = _stime(ok_recs[j])
            sources.append(rec.source)
            months.append(_month(st))
            sids.append(rec.session_id)
            fetched.append(rec.fetched_us)
            stimes.append(st)
            s = flat.session
            s["time_basis"] = flat.time_basis or "fetched_at"
            s["http_status"] = rec.http_status
            s["extra"] = orjson.dumps(flat.extra, default=str).decode() if flat.extra else None
            sess_rows[0].append(r)
            sess_rows[1].append(s)
            for table, rows in flat.rows.items():
                idx, lst = per_table[table]
                idx.extend([r] * len(rows))
                lst.extend(rows)
        out = {}
        common = {"source": sources, "month": months, "session_id": sids, "fetched_at": fetched,
                  "session_time": stimes}
        for table, (idx, rows) in per_table.items():
            if not rows:
                continue
            out[table] = _arrow(table, idx, rows, common)
        return out

    def _build_quarantine(self, q_rows, received_us, origin):
        if not q_rows:
            return None
        idx, rows = [], []
        common = {"source": [], "month": [], "session_id": [], "fetched_at": [], "session_time": []}
        for r, (line, reason, rec, line_no, sha) in enumerate(q_rows):
            fetched = rec.fetched_us if rec is not None else received_us
            common["source"].append(rec.source if rec is not None else "unknown")
            common["month"].append(_month(fetched))
            common["session_id"].append(rec.session_id if rec is not None else None)
            common["fetched_at"].append(fetched)
            common["session_time"].append(fetched)
            raw = line.decode("utf-8", "replace")
            if not self.masker.keep_pii:
                raw = mask_id_numbers(raw)
            idx.append(r)
            rows.append({"reason": reason, "raw": raw, "raw_sha1": sha,
                         "origin": f"{origin or '-'}:{line_no}"})
        return _arrow("quarantine", idx, rows, common)


def _rank(rec_flat):
    rec, flat = rec_flat
    return (flat.session.get("error") is None, rec.fetched_us)


def _stime(rec_flat) -> int:
    rec, flat = rec_flat
    return flat.session_time_us if flat.session_time_us is not None else rec.fetched_us


def _month_int(m: str) -> int:
    return int(m[:4]) * 100 + int(m[5:7])


def _now_us() -> int:
    return (_dt.datetime.now(_dt.timezone.utc) - _EPOCH) // _dt.timedelta(microseconds=1)


def _arrow(table: str, idx: list[int], rows: list[dict], common: dict) -> pa.Table:
    schema = file_schema(table)
    arrays, names = [], []
    import numpy as np

    take = np.asarray(idx, np.int64)
    for name in ("source", "month"):
        arrays.append(pa.array(common[name], pa.string()).take(take))
        names.append(name)
    for name, typ in COMMON:
        arrays.append(pa.array(common[name], typ).take(take))
        names.append(name)
    for f in schema:
        if f.name in ("session_id", "fetched_at", "session_time"):
            continue
        values = [r.get(f.name) for r in rows]
        arrays.append(_column(values, f.type, table, f.name))
        names.append(f.name)
    return pa.Table.from_arrays(arrays, names=names)


def _column(values, typ, table, name):
    try:
        return pa.array(values, typ)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError):
        # A value of the wrong type is a flattener bug; null it rather than lose the chunk.
        clean = []
        for v in values:
            try:
                pa.array([v], typ)
                clean.append(v)
            except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError):
                clean.append(None)
        return pa.array(clean, typ)


# ------------------------------------------------------------------------------
def _iter_chunks(fh, chunk: int) -> Iterator[tuple[int, list[bytes]]]:
    buf, first, n = [], 1, 0
    for line in fh:
        n += 1
        buf.append(line)
        if len(buf) >= chunk:
            yield first, buf
            buf, first = [], n + 1
    if buf:
        yield first, buf


def ingest(paths: Iterable, data_dir, *, source: str | None = None, keep_pii: bool = False,
           chunk_size: int = CHUNK, progress: bool = False) -> IngestReport:
    """Ingest JSONL files (envelopes, or bare Megvii payloads with ``source=``)."""
    from .schema import SOURCES

    if source is not None and source not in SOURCES:
        raise ValueError(f"unknown source {source!r}; sources are: {', '.join(SOURCES)}")
    total = IngestReport()
    with Ingestor(data_dir, keep_pii=keep_pii) as ing:
        for path in paths:
            path = Path(path)
            with open(path, "rb") as fh:
                for first, lines in _iter_chunks(fh, chunk_size):
                    total.add(ing.ingest_lines(lines, source_hint=source, origin=path.name,
                                               first_line_no=first))
        ing.store.compact()
    return total


def rebuild(data_dir, *, keep_pii: bool = False) -> IngestReport:
    """Recreate every table from the raw archive (the tables are derived data)."""
    data_dir = Path(data_dir)
    tables = data_dir / "tables"
    staging = data_dir / "tables.rebuild"
    old = data_dir / "tables.old"
    total = IngestReport()
    with Ingestor(data_dir, keep_pii=keep_pii, archive=False) as ing:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(data_dir / "state" / "txn-tables.rebuild", ignore_errors=True)
        ing.store = Store(data_dir, tables_dir="tables.rebuild")  # same PII key, fresh tables
        for seg in ing.archive.iter_segments():
            meta = seg.meta
            received = iso_to_us(meta.get("received_at")) if meta.get("received_at") else _now_us()
            for start in range(0, len(seg.lines), CHUNK):
                total.add(ing.land([ln for ln in seg.lines[start:start + CHUNK] if ln.strip()],
                                   source_hint=meta.get("source_hint"), received_us=received,
                                   origin=meta.get("origin"), first_line_no=start + 1))
        ing.store.compact()
        staging.mkdir(parents=True, exist_ok=True)
        # Swap: tables -> tables.old, staging -> tables; a crash between is finished on next open.
        if tables.exists():
            os.replace(tables, old)
        os.replace(staging, tables)
        shutil.rmtree(old, ignore_errors=True)
    return total


def _finish_swap(data_dir: Path) -> None:
    tables, staging, old = data_dir / "tables", data_dir / "tables.rebuild", data_dir / "tables.old"
    if not tables.exists() and old.exists():
        if staging.exists():
            os.replace(staging, tables)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(old, tables)
    elif old.exists():
        shutil.rmtree(old, ignore_errors=True)
