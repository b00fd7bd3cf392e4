"""Batch fetching: every response archived as it arrives, tables updated per chunk,
no call spent twice.

Per run:

1. Journals left by a killed run are landed and sealed first, so the tables know
   everything that was ever received.
2. Each id is checked against the tables and the quota ledger: a session whose
   archived result is final is never fetched again; a pending one (NOT_STARTED,
   PROCESSING) only with ``refresh_pending``; none past the provider's quota.
3. Workers (at most ``concurrency``) call the provider through the real client,
   whose ledger writes every attempt to disk *before* it is sent.  Each answer,
   success or error body, is appended to a journal and fsync'd the moment it
   arrives.
4. Every ``chunk_size`` answers the main thread lands them in the tables; a
   journal whose answers have all landed is sealed into a compressed segment of
   the raw archive.

Killed at any point (even ``kill -9``) and run again, nothing received is lost,
nothing lands twice, and nothing archived is fetched again.
"""
from __future__ import annotations

import contextlib
import csv
import itertools
import logging
import os
import re
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from .._ids import BIZ_ID, TOKEN_CHAR
from .._coerce import count_arg
from .._records import make_envelope
from ..schema import LITE_FINAL_STATUSES, LITE_PENDING_STATUSES
from ..redact import redact
from ..storage import DataDir
from ..storage.tables import load_arrow
from ._journal import Journals, now_iso, recover_journals
from ._rows import now_us
from .ingest import Ingestor
from .pii import scrub_text

__all__ = ["FetchReport", "IdList", "fetch_megvii", "fetch_baidu", "load_ids", "read_ids"]

log = logging.getLogger("faceanalytics.fetch")

# Megvii errors after which asking again cannot give a result.
FINAL_ERRORS = frozenset({"RESULT_NOT_FOUND", "DATA_DESTROYED", "BAD_ARGUMENTS",
                          "MISSING_ARGUMENTS"})
BAIDU_WHAT = ("stat", "getall", "detail", "simple", "media")
MEGVII_QUOTA = 3   # get_result calls per biz_id (the Lite document)
BAIDU_QUOTA = 5    # no documented limit; a cap so a loop never hammers one token
# Requests in flight at most: each holds a thread and an answer of up to 64 MiB, and the
# providers' accounts allow a few concurrent calls (the sandbox, as the documents, 2-10).
MAX_CONCURRENCY = 64


@dataclass
class FetchReport:
    requested: int = 0
    fetched: int = 0        # answers received and archived (results and error bodies)
    landed: int = 0
    quarantined: int = 0
    skipped: int = 0        # final already, pending (no --refresh-pending), or out of quota
    rejected: int = 0       # input values that cannot be an id (never sent)
    failed: int = 0         # no answer after retries (connection errors, timeouts)
    unsent: int = 0         # ... of which never left: could not connect (no quota spent)
    calls: int = 0          # provider calls spent by this run (retries included)
    reasons: Counter = field(default_factory=Counter)
    fatal: str | None = None
    unreachable: bool = False  # stopped because no call could connect
    base_url: str | None = None

    def summary(self) -> str:
        return (f"fetched {self.fetched} / landed {self.landed} / quarantined {self.quarantined} / "
                f"skipped {self.skipped} / failed {self.failed} / calls spent {self.calls}"
                + (f" (from {self.base_url})" if self.base_url else ""))


# What an id can look like.  A Megvii biz_id is "<unix time>,<id>" (the documents:
# "1462259748,52b13fb5-8dfb-4537-a62b-a641d5e929f1"); a Baidu verify_token is a run of
# letters and digits ("Yz9rWITm4vak16PBAh5x8oG7").
ID_PATTERNS = {
    "biz_id": BIZ_ID,   # the client's own check, which refuses any other before it is sent
    "verify_token": re.compile(rf"{TOKEN_CHAR}{{16,128}}"),   # in a file: 16 or more, told from words
}
# Header names that say "this column holds the ids" (compared lower-case, without
# spaces, underscores, dashes).
_ID_COLUMNS = {"biz_id": {"bizid", "biz_id", "id", "sessionid", "业务编号", "业务流串号"},
               "verify_token": {"verifytoken", "token", "id", "sessionid"}}
_DELIMITERS = (",", "\t", ";", "|")


@dataclass
class IdList:
    """Ids read from a file, list or column, and what was refused (before any call)."""

    ids: list[str]
    rejected: list[tuple[int, str, str]] = field(default_factory=list)  # (line, text, why)
    header: str | None = None   # the header line, if the file had one
    column: str | None = None   # the CSV column read, if any

    def describe_rejected(self, limit: int = 10) -> str:
        """One line per refused entry (the first ``limit``), for a person to fix the file."""
        rows = [f"  line {n}: {_shown(text, 80)!r}: {why}" for n, text, why in self.rejected[:limit]]
        more = len(self.rejected) - limit
        if more > 0:
            rows.append(f"  ... and {more} more")
        return "\n".join(rows)


def _shown(text: str, n: int) -> str:
    """At most ``n`` characters of a line of an id file, as an error shows it: its personal data
    masked as the tables mask it (a CSV of sessions given whole, or a column of ID numbers, was
    echoed to the terminal and its logs), masked before it is cut so no number is cut in two."""
    return scrub_text(text[:n + 40])[:n]


def _norm_name(name: str) -> str:
    return re.sub(r"[\s_\-]+", "", name.strip().strip('"').lower())


def _why_not(text: str, kind: str) -> str | None:
    """Why ``text`` cannot be a ``kind`` (None if it can)."""
    if ID_PATTERNS[kind].fullmatch(text):
        return None
    what = "a biz_id (<unix time>,<id>)" if kind == "biz_id" else "a verify_token (16+ letters/digits)"
    parts = next((text.split(d) for d in _DELIMITERS if d in text), [text])
    if kind == "biz_id" and len(parts) > 2 and ID_PATTERNS[kind].fullmatch(",".join(parts[:2])):
        return (f"{len(parts)} comma-separated fields: a CSV? give it a header row naming the "
                "biz_id column, or --column")
    if kind == "verify_token" and len(parts) > 1 and any(ID_PATTERNS[kind].fullmatch(p.strip())
                                                         for p in parts):
        return "several fields: a CSV? give it a header row naming the verify_token column, or --column"
    if any(c.isspace() for c in text):
        return f"has spaces: not {what}"
    return f"not {what}"


def _decode(raw: bytes) -> str:
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ValueError(f"the id file is not UTF-8 (byte {e.start}): save it as UTF-8") from None


def _fields(line: str, delimiter: str) -> list[str] | None:
    """The CSV fields of one line; None for a line with a field over the csv module's limit
    (131,072 characters: no id is that long).  ``--ids records.jsonl``, a file of long JSON
    lines given by mistake, ended in a ``_csv.Error`` traceback."""
    try:
        return next(csv.reader([line], delimiter=delimiter))
    except csv.Error:
        return None


def _find_header(first: str, kind: str, column: str | None) -> tuple[str, int] | None:
    """(delimiter, index of the id column) if ``first`` is a header row naming it."""
    wanted = {_norm_name(column)} if column else _ID_COLUMNS[kind]
    # A one-column header ("biz_id") has no delimiter: its rows are whole lines, commas kept.
    for d in [d for d in _DELIMITERS if d in first] or [""]:
        names = _fields(first, d) if d else [first]
        for i, name in enumerate(names or ()):
            if _norm_name(name) in wanted:
                return d, i
    return None


def load_ids(ids, column: str | None = None, *, kind: str | None = None) -> IdList:
    """Read ids from a file, a list, a pandas Series or a DataFrame column.

    Files: UTF-8 (or UTF-16 with a BOM); BOM and surrounding whitespace stripped, blank
    lines and ``#`` comments skipped.  A first line that names the id column
    (``biz_id``/``verify_token``, or ``column``) makes the file a CSV (comma, tab,
    semicolon or bar separated, quoted as Excel writes it) and that column is read;
    otherwise each whole line is one id, so a Megvii biz_id keeps its comma.
    With ``kind`` (``"biz_id"`` or ``"verify_token"``) every value is checked and
    those that cannot be one are returned in ``rejected`` with their line number and
    why, never sent.  Duplicates are dropped, order kept.  Raises ValueError when a
    file has values but none is an id.
    """
    if kind is not None and kind not in ID_PATTERNS:
        raise ValueError(f"kind is one of {sorted(ID_PATTERNS)}")
    header = None
    if isinstance(ids, (str, os.PathLike)):
        entries, header, column = _read_id_file(_id_file(ids), kind, column)
    elif hasattr(ids, "columns"):  # DataFrame
        if column is None:
            if len(ids.columns) != 1:
                raise ValueError("pass column= to say which DataFrame column holds the ids")
            column = ids.columns[0]
        if column not in ids.columns:
            names = ", ".join(map(str, ids.columns[:20]))
            raise ValueError(f"no column {column!r} in the DataFrame (its columns: {names})")
        entries = list(enumerate(ids[column].tolist(), 1))
    else:
        _check_id_collection(ids)
        entries = list(enumerate(ids, 1))
    out = IdList([], header=header, column=column)
    seen = set()
    for n, v in entries:
        if v is None or (isinstance(v, float) and v != v):
            continue
        text = str(v).strip().lstrip("\ufeff")
        if not text or text in seen:
            continue
        why = _why_not(text, kind) if kind else None
        if why is not None:
            out.rejected.append((n, text, why))
            continue
        seen.add(text)
        out.ids.append(text)
    if kind and out.rejected and not out.ids:
        hint = (f"; if it is a CSV, its first line must name the {kind} column (or use --column)"
                if header is None else "")
        raise ValueError(f"no {kind} in {ids if isinstance(ids, (str, os.PathLike)) else 'the input'}"
                         f"{hint}:\n{out.describe_rejected(5)}")
    return out


def _id_file(ids) -> Path:
    """The id file ``ids`` names; one id given as text, or a directory, is said to be one
    (it was FileNotFoundError naming the id, or IsADirectoryError of ``.``)."""
    text = os.fspath(ids)
    if isinstance(text, str) and not text.strip():
        raise ValueError("ids is an empty string: pass a file of ids, a list, or a DataFrame column")
    path = Path(ids)
    if path.is_dir():
        raise ValueError(f"ids is a directory ({path}), not a file of ids: swapped with the data directory?")
    if not path.exists() and isinstance(text, str) and any(p.fullmatch(text.strip()) for p in ID_PATTERNS.values()):
        raise ValueError(f"ids is text, read as a file name, and there is no file {text!r}: "
                         f"for one id pass a list ([{text.strip()!r}])")
    return path


def _check_id_collection(ids) -> None:
    """Refuse, before anything is read or sent, what is not a collection of ids: None, a number
    (a NaN from an empty cell), bytes (iterated as numbers), a mapping (its keys)."""
    if isinstance(ids, (bytes, bytearray, memoryview)):
        raise TypeError("ids as bytes: decode them, or pass a file, a list, or a DataFrame column")
    if isinstance(ids, dict) or not hasattr(ids, "__iter__"):
        raise TypeError(f"ids is a file of ids, a list, a pandas Series or a DataFrame column; "
                        f"not {type(ids).__name__}")


def _read_id_file(path: Path, kind: str | None, column: str | None):
    """-> (iterator of (line number, value), header line or None, column name or None).

    The values are made as they are read: lists of them (two tuples and a line number per id)
    doubled the memory a file of a million ids took."""
    lines = _decode(path.read_bytes()).splitlines()
    content = ((n, s) for n, s in zip(itertools.count(1), map(str.strip, lines))
               if s and not s.startswith("#"))
    head = next(content, None)
    if head is None:
        return [], None, column
    first_no, first = head
    found = _find_header(first, kind or "biz_id", column)
    is_id = kind is not None and _why_not(first, kind) is None
    if found is None or (is_id and column is None):
        if column is not None:
            delimiter = next((d for d in _DELIMITERS if d in first), ",")
            names = ", ".join(_fields(first, delimiter) or [first])
            raise ValueError(f"{path}: no column {column!r} in its first line ({_shown(names, 200)})")
        return ((n, _unquote(v)) for n, v in itertools.chain([head], content)), None, None
    delimiter, index = found
    name = next(csv.reader([first], delimiter=delimiter))[index] if delimiter else first
    return _column_rows(content, delimiter, index), first, name.strip()


def _column_rows(content, delimiter: str, index: int):
    """(line number, value of the id column) for each line of a CSV after its header."""
    for n, v in content:
        fields = _fields(v, delimiter) if delimiter else [_unquote(v)]
        if fields is None:
            yield n, v  # listed as refused, never sent
            continue
        yield n, fields[index] if index < len(fields) else ""


def _unquote(v: str) -> str:
    """A one-column CSV cell as Excel writes it: ``"1462259748,52b1..."``."""
    if len(v) >= 2 and v[0] == v[-1] == '"':
        return v[1:-1].replace('""', '"').strip()
    return v


def read_ids(ids, column: str | None = None, *, kind: str | None = None) -> list[str]:
    """The ids of :func:`load_ids` (rejected values dropped)."""
    return load_ids(ids, column, kind=kind).ids


def _state(data_dir, source: str, ids: list[str]) -> dict[str, tuple]:
    """session id -> (status, error) of what the tables hold for ``source``, for ``ids`` only.

    Chosen in Arrow (``source``'s files only, then the rows of ``ids``): every session of the
    tables, of every source, was made a Python row, whatever the number of ids asked for."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.dataset as ds

    t = load_arrow(data_dir, "sessions", columns=["session_id", "status", "error"],
                   where=ds.field("source") == source)
    if not t.num_rows or not ids:
        return {}
    t = t.filter(pc.is_in(t.column("session_id"), value_set=pa.array(ids, t.schema.field("session_id").type)))
    return dict(zip(t.column("session_id").to_pylist(),
                    zip(t.column("status").to_pylist(), t.column("error").to_pylist())))


def _megvii_decision(kind: str, st: tuple | None, refresh_pending: bool) -> str:
    """'fetch', 'final' or 'pending' for a biz_id given what the tables hold."""
    if st is None:
        return "fetch"
    status, error = st
    if error is not None:
        code = str(error).split(":")[0].strip()
        return "final" if code in FINAL_ERRORS else "fetch"
    if kind == "liveness":
        return "final"  # v2 answers only once the procedure is over
    if status in LITE_PENDING_STATUSES:
        return "fetch" if refresh_pending else "pending"
    if status in LITE_FINAL_STATUSES:
        return "final"
    return "fetch"


def _progress(total: int, desc: str, enabled: bool):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="id", dynamic_ncols=True)


class _Jobs:
    """The calls of a run, ``(source, session id, call)``, made as they are taken: a tuple per
    id, held from the start, was a fifth of what a fetch of a million ids took."""

    def __init__(self) -> None:
        self._parts: list[tuple[str, Callable, list[str]]] = []

    def add(self, source: str, call: Callable, ids: list[str]) -> None:
        self._parts.append((source, call, ids))

    def __len__(self) -> int:
        return sum(len(ids) for _, _, ids in self._parts)

    def __iter__(self):
        for source, call, ids in self._parts:
            for sid in ids:
                yield source, sid, call


def _run(jobs: _Jobs, ing: Ingestor, *, concurrency: int,
         chunk_size: int, progress: bool, desc: str, rep: FetchReport,
         is_quota: Callable[[BaseException], bool]) -> None:
    """Run ``(source, session id, call)`` jobs (``call(session id)`` asks the provider, one
    callable shared by every job of a source); land answers per chunk."""
    from ..clients import ProviderError, QuotaExhausted

    journals = Journals(ing.archive, f"{time.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:6]}")
    stop = threading.Event()

    def work(job):
        source, sid, call = job
        if stop.is_set():
            return "cancelled", None, None
        fetched_at = now_iso()
        try:
            r = call(sid)
            status, body = r.http_status, r.body
        except (ProviderError, QuotaExhausted) as e:  # QuotaExhausted: nothing was sent
            if is_quota(e):
                return "quota", None, None
            if e.fatal:
                stop.set()
                rep.fatal = str(e)
            if e.body is None:
                return "failed" if e.sent else "unsent", e.code or type(e).__name__, None
            status, body = e.http_status, e.body
        line = make_envelope(source, sid, fetched_at, status, body)
        return "ok", line, journals.append(line)

    bar = _progress(len(jobs), desc, progress)
    buffer: list[tuple[bytes, int]] = []

    def land_buffer():
        if not buffer:
            return
        lines = [ln for ln, _ in buffer]
        r = ing.land(lines, source_hint=None, received_us=now_us(), origin="fetch")
        rep.landed += r.landed
        rep.quarantined += r.quarantined
        journals.landed(j for _, j in buffer)
        buffer.clear()
        journals.rotate()
        journals.seal_ready()

    try:
        with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="fetch") as pool, _stop_on_error(stop):
            it = iter(jobs)
            running = set()
            first = True
            while True:
                # Keep well ahead of the workers: this thread also lands chunks, and the
                # workers must not run dry meanwhile.  The first call goes alone: credentials
                # that do not match (a fatal answer) then cost one call, not one per worker.
                while len(running) < (1 if first else max(64, concurrency * 8)) and not stop.is_set():
                    job = next(it, None)
                    if job is None:
                        break
                    running.add(pool.submit(work, job))
                if not running:
                    break
                done, running = wait(running, return_when=FIRST_COMPLETED)
                first = False
                for fut in done:
                    what, line, jid = fut.result()
                    if what == "ok":
                        rep.fetched += 1
                        buffer.append((line, jid))
                    elif what == "quota":
                        rep.skipped += 1
                        rep.reasons["out of quota"] += 1
                    elif what == "failed":
                        rep.failed += 1
                        rep.reasons[f"no answer: {line}"] += 1
                    elif what == "unsent":
                        rep.failed += 1
                        rep.unsent += 1
                        rep.reasons[f"not sent: {line}"] += 1
                    if bar is not None:
                        bar.update(1)
                # Nothing ever connected: stop rather than try every id against a dead address.
                if not rep.fetched and rep.unsent >= max(8, 2 * concurrency) and not stop.is_set():
                    stop.set()
                if len(buffer) >= chunk_size:
                    land_buffer()
        land_buffer()
        journals.seal_ready(final=True)
    finally:
        if bar is not None:
            bar.close()


@contextlib.contextmanager
def _stop_on_error(stop: threading.Event):
    """Inside a worker pool: an error (a full disk, Ctrl-C, a failed commit) sets ``stop``
    before the pool is left, so the calls queued behind it (up to 64) are not made.  Leaving
    the pool waited for every one, and each spent a call (the disk full, on an answer that
    could not be kept: the next run asked again)."""
    try:
        yield
    except BaseException:
        stop.set()
        raise


class _Session:
    """What a fetch run holds open: the data directory (writer lock, journals landed),
    the quota ledger, and a client whose every send goes through that ledger."""

    def __init__(self, data_dir, provider: str, limit: int, client, base_url, keep_pii: bool):
        from ..clients import CLIENTS, QuotaLedger

        ddir = DataDir.of(data_dir)
        ddir.require_local("fetch")  # journals and the quota ledger need append + fsync
        if client is not None and getattr(client, "provider", None) != provider:
            # a Baidu client for Megvii ids (or a name): AttributeError from every worker
            raise TypeError(f"client is a {CLIENTS[provider].__name__} for this fetch, "
                            f"not {type(client).__name__}")
        self._own = client is None
        if self._own:
            # Credentials and the base URL first: refused (unset, blank), the data directory
            # is left as it was -- it was created, with its state/ folder, before the refusal.
            client = CLIENTS[provider].from_env(base_url)
        self.client, self.ledger, self.ing = client, None, None
        self.rep = FetchReport()
        try:
            self.ing = Ingestor(ddir, keep_pii=keep_pii)
            rec = recover_journals(self.ing)
            self.rep.landed += rec.landed
            self.rep.quarantined += rec.quarantined
            self.ledger = QuotaLedger(ddir.quota(provider), limit=limit, provider=provider)
            if self._own or client.before_call is None:  # a caller's client still counts every send
                client.before_call, client.after_call = self.ledger.reserve, self.ledger.record
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self._own and self.client is not None:
            self.client.close()
        if self.ledger is not None:
            self.ledger.close()
        if self.ing is not None:
            self.ing.close()

    def run(self, jobs, *, concurrency, chunk_size, progress, desc) -> FetchReport:
        from ..clients import QuotaExhausted

        before = self.ledger.total()
        rep = self.rep
        rep.base_url = redact(self.client.base_url)  # shown: a user:password@ or token in it masked
        log.info("%s: fetching from %s", desc, rep.base_url)
        _run(jobs, self.ing, concurrency=concurrency, chunk_size=chunk_size, progress=progress,
             desc=desc, rep=rep, is_quota=lambda e: isinstance(e, QuotaExhausted))
        rep.calls = self.ledger.total() - before
        if rep.unsent and not rep.fetched and not rep.fatal:
            rep.unreachable = True
            rep.fatal = (f"could not connect to {rep.base_url}: none of {rep.unsent} calls left "
                         "this machine (connection refused, unknown host or TLS handshake failed), "
                         "so no call was spent; check the base URL")
        self.ing.store.compact()
        return rep


def _wanted(ids, column, kind: str) -> IdList:
    """The ids to fetch: an :class:`IdList` as given, else read and checked now."""
    if isinstance(ids, IdList):
        return ids
    wanted = load_ids(ids, column, kind=kind)
    if wanted.rejected:  # said before any call
        log.warning("%d value(s) are not a %s and will not be sent:\n%s", len(wanted.rejected),
                    kind, wanted.describe_rejected())
    return wanted


def _note_rejected(rep: FetchReport, wanted: IdList) -> None:
    rep.rejected = len(wanted.rejected)
    if rep.rejected:
        rep.reasons["not an id (never sent)"] += rep.rejected


def check_concurrency(concurrency) -> None:
    """Refuse a number of requests in flight outside 1..``MAX_CONCURRENCY`` before anything is
    sent (``--concurrency 100000`` started as many threads)."""
    n = count_arg(concurrency)       # an int, a NumPy integer; not 2.5 or "8"
    if n is None or not 1 <= n <= MAX_CONCURRENCY:
        raise ValueError(f"concurrency must be a whole number from 1 to {MAX_CONCURRENCY} "
                         f"(requests in flight), not {concurrency!r}")


def _check_flags(**flags) -> None:
    """Refuse a yes/no option given as anything but True/False (or 1/0) before anything is sent:
    ``refresh_pending="no"`` and ``keep_pii="no"`` are truthy text, so pending sessions were
    re-polled (quota spent) and personal data kept, silently."""
    for name, value in flags.items():
        if isinstance(value, str) or not any(value is v or (type(value) is not float and value == v)
                                             for v in (True, False)):
            raise TypeError(f"{name} is True or False, not {value!r}")


def _check_image_options(**options) -> None:
    """``return_image``/``get_image_type`` are the documents' small whole numbers: text failed in
    every worker as "invalid literal for int()" naming neither the argument nor the value's use."""
    for name, value in options.items():
        n = count_arg(value)
        if n is None or n < 0:
            raise ValueError(f"{name} is a whole number from the Megvii document (0 = none), not {value!r}")


def check_chunk_size(chunk_size) -> None:
    """Refuse a chunk size that is not a whole number of at least 1 (0, -1 or "500" were taken
    as they came) before anything is sent."""
    if (count_arg(chunk_size) or 0) < 1:
        raise ValueError(f"chunk_size must be a whole number of at least 1 (answers landed at a time), "
                         f"not {chunk_size!r}")


def fetch_megvii(ids, data_dir, *, kind: str = "lite", client=None, base_url: str | None = None,
                 concurrency: int = 8, refresh_pending: bool = False, progress: bool = True,
                 chunk_size: int = 500, keep_pii: bool = False, column: str | None = None,
                 return_image: int = 0, get_image_type: int = 0) -> FetchReport:
    """Fetch Megvii results (``kind="lite"`` or ``"liveness"``) for ``ids`` into ``data_dir``.

    ``ids``: a list, a file (see :func:`load_ids`: one biz_id per line, or the
    ``column`` of a CSV with a header), a DataFrame column (``column=``), or an
    :class:`IdList`; values that cannot be a biz_id are reported and never sent.  Credentials come from ``MEGVII_API_KEY``/``MEGVII_API_SECRET``
    unless ``client`` is given; the base URL from ``base_url``, else
    ``MEGVII_BASE_URL``, else the real provider (``FetchReport.base_url`` says which
    was used).  Images, when asked for, land as files.
    """
    if kind not in ("lite", "liveness"):
        raise ValueError("kind is 'lite' or 'liveness'")
    check_concurrency(concurrency)
    check_chunk_size(chunk_size)
    _check_flags(refresh_pending=refresh_pending, progress=progress, keep_pii=keep_pii)
    _check_image_options(return_image=return_image, get_image_type=get_image_type)
    source = f"megvii_{kind}"
    wanted = _wanted(ids, column, "biz_id")
    run = _Session(data_dir, "megvii", MEGVII_QUOTA, client, base_url, keep_pii)
    try:
        client, ledger, rep = run.client, run.ledger, run.rep
        _note_rejected(rep, wanted)
        state = _state(data_dir, source, wanted.ids)
        if kind == "lite":
            call = (lambda b: client.get_lite_result(b, return_verify_time=1, return_image=return_image,
                                                     get_fail_reason=1))
        else:
            call = lambda b: client.get_liveness_result(b, get_image_type=get_image_type)
        todo: list[str] = []
        # every id's calls so far from one read of the ledger (reserve checks again before each send)
        for biz_id, spent in zip(wanted.ids, ledger.calls_of(wanted.ids)):
            decision = _megvii_decision(kind, state.get(biz_id), refresh_pending)
            if decision == "fetch" and spent >= MEGVII_QUOTA:
                decision = "out of quota"
            if decision != "fetch":
                rep.skipped += 1
                rep.reasons[decision] += 1
                continue
            todo.append(biz_id)
        jobs = _Jobs()
        jobs.add(source, call, todo)
        rep.requested = len(wanted.ids)
        return run.run(jobs, concurrency=concurrency, chunk_size=chunk_size, progress=progress,
                       desc=f"megvii {kind}")
    finally:
        run.close()


def fetch_baidu(tokens, data_dir, *, what: Iterable[str] = ("stat", "getall", "detail"),
                client=None, base_url: str | None = None, concurrency: int = 8,
                progress: bool = True, chunk_size: int = 500, keep_pii: bool = False,
                column: str | None = None) -> FetchReport:
    """Fetch Baidu post-verification results (``what``: stat, getall, detail, simple,
    media) for each verify_token into ``data_dir``; base URL from ``base_url``, else
    ``BAIDU_BASE_URL``, else the real provider."""
    from ..clients.baidu import RESULT_APIS

    check_concurrency(concurrency)
    check_chunk_size(chunk_size)
    _check_flags(progress=progress, keep_pii=keep_pii)
    if what is None or not hasattr(what, "__iter__"):
        raise TypeError(f"what is a list of result APIs ({', '.join(BAIDU_WHAT)}), not {what!r}")
    # each API once: "stat,stat" asked stat twice per token (two calls of quota for one answer)
    what = list(dict.fromkeys(str(w).strip() for w in (what.split(",") if isinstance(what, str) else what)
                              if str(w).strip()))
    bad = [w for w in what if w not in BAIDU_WHAT]
    if bad:
        raise ValueError(f"unknown --what {', '.join(bad)}; choose from {', '.join(BAIDU_WHAT)}")
    wanted = _wanted(tokens, column, "verify_token")
    run = _Session(data_dir, "baidu", BAIDU_QUOTA, client, base_url, keep_pii)
    try:
        client, ledger, rep = run.client, run.ledger, run.rep
        _note_rejected(rep, wanted)
        jobs = _Jobs()
        for w in what:
            source = f"baidu_{w}"
            state = _state(data_dir, source, wanted.ids)
            call = lambda t, w=w: client.result(w, t)
            spent = ledger.calls_of(f"{RESULT_APIS[w]}:{token}" for token in wanted.ids)
            todo: list[str] = []
            for token, n in zip(wanted.ids, spent):
                st = state.get(token)
                if st is not None and st[1] is None:
                    rep.skipped += 1
                    rep.reasons["final"] += 1
                elif n >= BAIDU_QUOTA:
                    rep.skipped += 1
                    rep.reasons["out of quota"] += 1
                else:
                    todo.append(token)
            jobs.add(source, call, todo)
        rep.requested = len(wanted.ids) * len(what)
        return run.run(jobs, concurrency=concurrency, chunk_size=chunk_size, progress=progress,
                       desc="baidu " + ",".join(what))
    finally:
        run.close()
