"""Where a table's rows are, and what a query reads of them: the layer below the metrics
(:mod:`._api`), the review (:mod:`._review`) and the explorers (:mod:`._explore`).

* :func:`run_query`: a query over a table of a data directory, listed and run again when a
  writer replaced a file in between; its default relation is the whole table with its rows
  that carry no verification time placed at their token's getall time (:func:`_placing`).
* :class:`_Layout`: a table's (source, month) partitions in a window and, for a local data
  directory read by DuckDB, their files and footers (:class:`_Footers`).
* :class:`_Placed`: where the rows of Baidu detail, simple, stat and media lie once placed
  (the first and last placed time of each partition, kept beside the tables): a back-fill
  moves a row by months, so their stored month bounds nothing, and a windowed read leaves out
  the partitions whose every placed row lies outside the window (:meth:`_Placed.leave_out`).
* :func:`in_window`: :func:`run_query`'s relation for a window: only the partitions that can
  hold the window's rows (every engine function, the explorers).
"""
from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import orjson
import pandas as pd

from ..analytics._core import LISTING_SOURCE, UNTIMED_SOURCES
from ..schema import SESSION_KEY
from ..storage.durable import atomic_write_bytes, make_private_dirs
from ..storage.errors import DamagedTable
from . import _sql as S
from ._base import Engine, arrow_frame, source_files, table_root
from ._kept import Kept

log = logging.getLogger(__name__)

__all__ = ["run_query", "in_window"]


def _vanished(e: Exception) -> bool:
    msg = str(e)
    return any(m in msg for m in ("No such file", "does not exist", "FileNotFound", "NO_SUCH_KEY",
                                  "No files found"))


def run_query(eng: Engine, data_dir, table: str, build, *, counts=(), floats=(), relation=None):
    """Run ``build(src)`` against ``table``; None when the table has no data.
    ``relation(eng, data_dir, table)``: a context manager giving ``src`` (None: no row); by
    default the whole table, its rows without a verification time placed (:func:`_placing`).

    A writer may replace a file (replaced rows, compaction) between the engine's
    listing and its read: list and run again, as :func:`faceanalytics.load` does.
    A local data directory that does not exist raises ``FileNotFoundError`` (as ``load``).
    """
    from ..storage import DataDir
    from ..storage.paths import S3Path, not_a_data_dir

    if not isinstance(data_dir, (str, os.PathLike, DataDir, S3Path)):
        raise not_a_data_dir(data_dir)      # a table given as the data directory: named, never shown
    where = str(data_dir) if isinstance(data_dir, (DataDir, S3Path)) else os.fspath(data_dir)
    if "://" not in where:  # a local data directory must exist (URLs: the engine will tell)
        from ..storage.tables import require_data_dir

        require_data_dir(DataDir(where).root)
    for attempt in range(3):
        try:
            with (relation or _whole)(eng, data_dir, table) as rel:
                if rel is None:
                    return None
                return arrow_frame(eng.query(build(rel)), table, counts=counts, floats=floats)
        except Exception as e:
            if attempt == 2 or not _vanished(e):
                raise
            time.sleep(0.05 * (attempt + 1))
    raise AssertionError("unreachable")


@contextlib.contextmanager
def _whole(eng: Engine, data_dir, table: str):
    """The whole of ``table``, its rows without a verification time placed (:func:`_placing`)."""
    with eng.relation(data_dir, table) as src, _placing(eng, data_dir, table, src) as rel:
        yield rel


@contextlib.contextmanager
def _placing(eng: Engine, data_dir, table: str, src):
    """``src`` with its rows that carry no verification time placed at their token's getall time
    (:func:`S.placed`), when the table can hold such rows and getall sessions may be stored."""
    from ..analytics._core import LISTING_SOURCE, UNTIMED_SOURCES
    from ._base import source_files, table_root

    if src is None or table not in S.PLACED_TABLES or ("://" not in table_root(data_dir, table) and not (
            any(source_files(data_dir, table, x) for x in UNTIMED_SOURCES)
            and source_files(data_dir, "sessions", LISTING_SOURCE))):
        yield src
        return
    with eng.relation(data_dir, "sessions") as anchors:
        yield src if anchors is None else S.placed(eng.dialect, src, anchors, table)


def _part(d, part) -> str:
    """The condition that keeps one (source, month) partition."""
    return f"{d.q('source')} = {d.text(part[0])} AND {d.q('month')} = {d.text(part[1])}"

_JOINED = ("sessions", "comparisons", "genuineness")


def _file_info(path: Path) -> tuple[int, bool, frozenset, int | None, int | None]:
    """(rows, every row has its session key, column names, first and last ``session_time`` in
    µs: None when the footer does not say) of one data file, from its footer."""
    import pyarrow.parquet as pq

    md = pq.read_metadata(path)
    names = md.schema.names
    cols = frozenset(names)
    lo, hi = _time_bounds(md, names)
    if SESSION_KEY not in names or "session_id" not in names:
        return md.num_rows, False, cols, lo, hi
    ik, isid = names.index(SESSION_KEY), names.index("session_id")
    for g in range(md.num_row_groups):
        rg = md.row_group(g)
        a, b = rg.column(ik).statistics, rg.column(isid).statistics
        if a is None or b is None or not a.has_null_count or not b.has_null_count or a.null_count != b.null_count:
            return md.num_rows, False, cols, lo, hi
    return md.num_rows, True, cols, lo, hi


def _time_bounds(md, names) -> tuple[int | None, int | None]:
    """The first and last ``session_time`` of a file in µs, from its row groups' statistics
    (None, None when a group has none, or a null time: such a file is never taken as whole)."""
    if "session_time" not in names or not md.num_row_groups:
        return None, None
    i = names.index("session_time")
    unit = md.schema.to_arrow_schema().field("session_time").type
    per_us = {"s": 1e-6, "ms": 1e-3, "us": 1, "ns": 1000}.get(getattr(unit, "unit", ""), None)
    if per_us is None:
        return None, None
    lo = hi = None
    for g in range(md.num_row_groups):
        st = md.row_group(g).column(i).statistics
        if st is None or not st.has_min_max or not st.has_null_count or st.null_count:
            return None, None
        a, b = st.min_raw, st.max_raw
        if not isinstance(a, int) or not isinstance(b, int):
            return None, None
        lo = a if lo is None else min(lo, a)
        hi = b if hi is None else max(hi, b)
    if per_us == 1000:
        return lo // 1000, -(-hi // 1000)
    return int(lo / per_us), int(hi / per_us)


class _Footers:
    """:func:`_file_info` of each data file, kept beside the kept counts
    (``summaries/review/footers.json``) under the file's identity: path, size, modification
    time and inode, what names a partition's kept counts (:mod:`._kept`).  Reading every
    footer took 0.56-0.63 s of each review of 11.6M comparisons (1,694 files in its window); read
    back, 0.04-0.05 s.  A
    file not in it, or changed since, is read; a record that cannot be read or written is not
    an error (every footer is then read, as before).  ``data_dir`` None: nothing is kept."""

    _NAME = "footers.json"

    def __init__(self, data_dir) -> None:
        self.path, self.known, self.new = None, {}, {}
        if data_dir is None:
            return
        from ..storage import DataDir

        ddir = DataDir.of(data_dir)
        self.root = Path(ddir.root)
        self.path = Path(ddir.summaries) / "review" / self._NAME
        self.known = self._load()

    def _load(self) -> dict:
        with contextlib.suppress(OSError, ValueError, TypeError, KeyError, AttributeError):
            got = orjson.loads(self.path.read_bytes())
            if got.get("version") == _FOOTERS_VERSION:
                return {k: v for k, v in got["files"].items() if isinstance(v, list) and len(v) == 8}
        return {}

    def info(self, f: Path, st) -> tuple[int, bool, frozenset, int | None, int | None]:
        key = str(f)
        ident = [st.st_size, st.st_mtime_ns, st.st_ino]
        got = self.known.get(key)
        if got is not None and got[:3] == ident:
            return got[3], got[4], frozenset(got[5]), got[6], got[7]
        rows, keyed, cols, lo, hi = _file_info(f)
        self.known[key] = [*ident, rows, keyed, sorted(cols), lo, hi]
        if self.path is not None:
            self.new[key] = self.known[key]
        return rows, keyed, cols, lo, hi

    def save(self) -> None:
        """Add the facts of the files read to the record (one review lays out its tables
        more than once, some at once: what is on disk is read again first); those of files
        gone since are dropped."""
        if self.path is None or not self.new:
            return
        try:
            with _FOOTERS_LOCK:
                files = self._load()
                files.update(self.new)
                files = {k: v for k, v in files.items() if os.path.exists(k)}
                data = orjson.dumps({"version": _FOOTERS_VERSION, "files": files})
                make_private_dirs(self.root, self.path.parent)      # owner-only, as the tables
                atomic_write_bytes(self.path, data, mode=0o600, durable=False)
        except (OSError, TypeError, ValueError) as e:
            log.debug("data files' footers not kept: %s", e)
        self.new = {}


_FOOTERS_LOCK = threading.Lock()
_FOOTERS_VERSION = 1      # what ``_file_info`` gives; another meaning, another number


class _Layout:
    """Where the rows of the joined tables are: their (source, month) partitions in the window
    and, for a local data directory on DuckDB, their files (a query then reads exactly the
    files it needs, and a partition's sessions are joined on the stored ``session_key`` when
    every file of the partition in all three tables has it).  Elsewhere (Spark, object
    storage) queries read the table and filter on the partition keys, joining on hashed ids.
    Files written before a column was added (``session_key``, ``invalid_values``) are read
    with the others, the missing column as null."""

    def __init__(self, eng: Engine, data_dir, w: S.Window, since, tables: Sequence[str] = _JOINED, tz=None,
                 place: bool = True):
        from .duckdb_engine import DuckDBEngine

        self.eng, self.data_dir, self.w = eng, data_dir, w
        self.d = eng.dialect.in_zone(tz)  # days and periods on the review's calendar
        self.since_month = since.strftime("%Y-%m")
        self.local = isinstance(eng, DuckDBEngine) and "://" not in str(data_dir)
        # Rows without a verification time placed at their token's getall time (``S.placed``): on a
        # local directory when getall sessions are stored (their files, every month: ``anchors``);
        # elsewhere always (the query finds the getall rows, if any).
        self.anchors = source_files(data_dir, "sessions", LISTING_SOURCE) if place and self.local else []
        self.placing = place and (bool(self.anchors) or not self.local)
        self.counted: dict[str, dict[tuple[str, str], int]] = {}      # rows per partition, where not local
        self.footers = _Footers(data_dir if self.local else None)
        # file -> [size, mtime ns, inode, rows, keyed, columns, first and last session_time µs]
        self.info: dict[str, list] = self.footers.known
        self.parts: dict[str, dict[tuple[str, str], list[tuple[str, int, bool, frozenset]]]] = {
            t: self._list(t) for t in tables}
        self.footers.save()

    def _list(self, table: str) -> dict[tuple[str, str], list[tuple[str, int, bool, frozenset]]]:
        lo = self.w.since.strftime("%Y-%m") if self.w.since else "0000-00"
        hi = self.w.until.strftime("%Y-%m") if self.w.until else "9999-99"
        if not self.local:
            self.counted[table] = _partitions(self.eng, self.data_dir, table, self.w)
            return {p: [] for p in self.counted[table]}
        out: dict[tuple[str, str], list[tuple[str, int, bool, frozenset]]] = {}
        root = Path(table_root(self.data_dir, table))
        for d in sorted(root.glob("source=*/month=*")):
            part = (d.parent.name.split("=", 1)[1], d.name.split("=", 1)[1])
            month = part[1]
            # rows placed at getall's time may lie in any month (S.Window): every month of those sources
            if not self.moved(part) and not lo <= month <= hi:
                continue
            files = []
            for f in sorted(d.glob("part-*.parquet")):
                try:
                    st = f.stat()
                    rows, keyed, cols, *_ = self.footers.info(f, st)
                except FileNotFoundError:             # gone since listed (not on local disk: kept there)
                    continue
                except (OSError, ValueError) as e:    # files are written whole and renamed: damaged
                    raise DamagedTable.of(e, f) from None
                if rows:
                    files.append((str(f), rows, keyed, cols))
            if files:
                out[part] = files
        return out

    def moved(self, part) -> bool:
        """Whether ``part``'s rows may be placed away from their stored month (:func:`S.placed`):
        its counts then depend on getall's rows too, and are not kept."""
        return self.placing and part[0] in UNTIMED_SOURCES

    def _placed(self, table: str, src: str, anchors: str | None) -> str:
        if src is None or anchors is None or table not in S.PLACED_TABLES:
            return src
        return S.placed(self.eng.dialect, src, anchors, table)

    def previous(self, table: str) -> list[tuple[str, str]]:
        return sorted(p for p in self.parts[table] if p[1] < self.since_month and not self.moved(p))

    def current(self) -> list[tuple[str, str]]:
        """The partitions counted one at a time (:func:`_current`): those from this period's first
        month on, and every partition of rows placed at getall's time (wherever they are stored)."""
        return sorted({p for t in _JOINED for p in self.parts[t] if p[1] >= self.since_month or self.moved(p)})

    def keyed(self, parts) -> bool:
        return self.local and all(k for t in self.parts if t in _JOINED for p in parts
                                  for _, _, k, _ in self.parts[t].get(p, []))

    def has_column(self, table: str, parts, column: str) -> bool:
        """Whether any file of ``table``'s ``parts`` has ``column`` (elsewhere: taken as there)."""
        return not self.local or any(column in c for p in parts for *_, c in self.parts[table].get(p, []))

    def rows(self, table: str) -> dict[tuple[str, str], int]:
        """Rows per partition (local: the files' footers; elsewhere: counted in the window)."""
        if not self.local:
            return dict(self.counted[table])
        return {p: sum(n for _, n, *_ in fs) for p, fs in self.parts[table].items()}

    def has(self, table: str, source: str) -> bool:
        return any(s == source for s, _ in self.parts[table])

    @contextlib.contextmanager
    def relation(self, table: str, parts=None):
        """``(src, cond)``: what to read ``table``'s ``parts`` from (all of them: None) and the
        condition that keeps them; ``src`` None when there is no row."""
        d = self.eng.dialect
        if self.local:
            want = self.parts[table] if parts is None else {p: self.parts[table].get(p, []) for p in parts}
            mixed = len({c for fs in want.values() for *_, c in fs}) > 1
            src = _files_scan(d, [f for fs in want.values() for f, *_ in fs], by_name=mixed)
            if any(self.moved(p) for p in want):
                src = self._placed(table, src, _files_scan(d, self.anchors))
            yield src, ""
            return
        with self.eng.relation(self.data_dir, table) as raw, \
                (_placing(self.eng, self.data_dir, table, raw) if self.placing else contextlib.nullcontext(raw)) as src:
            if parts is None or src is None:
                yield src, ""
                return
            conds = [f"({_part(d, p)})" for p in parts]
            yield src, "(" + " OR ".join(conds or ["1 = 0"]) + ")"


def _files_scan(d: S.Dialect, files: Sequence[str], by_name: bool = True) -> str | None:
    """DuckDB's scan of ``files`` (None: no file)."""
    from .duckdb_engine import parquet_scan

    if not files:
        return None
    return parquet_scan("[" + ", ".join(d.text(f) for f in files) + "]", by_name=by_name)


def _identities(files: Sequence[str]) -> list:
    """Path, size, modification time and inode of each file (what kept counts are named by)."""
    out = []
    for f in files:
        with contextlib.suppress(OSError):
            st = os.stat(f)
            out.append([f, st.st_size, st.st_mtime_ns, st.st_ino])
    return out



def _partitions(eng: Engine, data_dir, table: str, w: S.Window) -> dict[tuple[str, str], int]:
    """(source, month) partitions of ``table`` the window touches -> their rows in it."""
    d = eng.dialect
    out = run_query(eng, data_dir, table, lambda src: (
        f"SELECT {d.q('source')}, {d.q('month')}, count(*) AS n FROM {src}{w.where(d)} "
        f"GROUP BY {d.q('source')}, {d.q('month')}"))
    if out is None:
        return {}
    return dict(sorted(zip(zip(out["source"].astype("str"), out["month"].astype("str")),
                           out["n"].astype("int64").tolist())))



def _us(t) -> int | None:
    """An instant (aware datetime or Timestamp; None: unbounded) in µs since the epoch."""
    return None if t is None else int(pd.Timestamp(t).value // 1000)


def _kept_beside(lay: "_Layout", data_dir) -> Kept:
    """Where whole partitions' counts are kept: beside a local data directory's tables, read by DuckDB."""
    root = None
    if lay.local:
        from ..storage import DataDir

        root = Path(DataDir.of(data_dir).summaries) / "review"
    files = {t: {p: [f for f, *_ in fs] for p, fs in parts.items()} for t, parts in lay.parts.items()}
    return Kept(root, files, lay.info, lay.d.tz)



class _Placed:
    """Where the rows of each partition of a source without a verification time lie once placed
    at their token's getall time (:func:`S.placed`): per table and partition, the first and last
    placed ``session_time`` (µs) and a signature of the placement (rows, and the sum of a hash
    of each row's token and placed time), all partitions in one query per table, on first use.

    Such a partition's counts depend on its files and on where its rows are placed alone: they
    are kept when every placed row lies inside the period counted (:meth:`whole`), with the
    signature in their key (:meth:`signature`), so a getall landing recounts only the partitions
    whose rows it moves.  The bounds and signatures are kept too, keyed by the partitions' files
    and every getall file: a getall landing works them out again for every partition (keying
    each partition's by the getall files holding its tokens was tried: the semi-joins that
    find them cost what they saved, at 164k and at 1.6M Baidu records).  DuckDB on a local
    directory only (where counts are kept)."""

    def __init__(self, lay: "_Layout", kept: Kept) -> None:
        self.lay, self.kept = lay, kept
        self._got: dict[str, dict] = {}

    def _table(self, table: str) -> dict:
        if table not in self._got:
            lay = self.lay
            parts = sorted(p for p in lay.parts.get(table, {}) if lay.moved(p))
            got: dict = {}
            if parts and table in S.PLACED_TABLES and self.kept.root is not None:
                frames: dict[str, list] = {"placed": []}

                def count(into, table=table, parts=parts):
                    into["placed"].append(self._query(table, parts))
                self.kept.through(f"placed-{table}", parts, [table], {"anchors": _identities(lay.anchors)}, count,
                                  frames)
                for f in frames["placed"]:
                    for row in zip(f["source"].tolist(), f["month"].tolist(), f["lo"].tolist(), f["hi"].tolist(),
                                   f["n"].tolist(), f["h"].tolist()):
                        got[(str(row[0]), str(row[1]))] = [None if pd.isna(x) else int(x) for x in row[2:5]] + [
                            str(row[5])]
            self._got[table] = got
        return self._got[table]

    def _query(self, table: str, parts) -> pd.DataFrame:
        lay, d = self.lay, self.lay.d
        t, sid = d.q("session_time"), d.q("session_id")
        with lay.relation(table, parts) as (src, _):
            sql = (f"SELECT CAST({d.q('source')} AS VARCHAR) AS {d.q('source')}, CAST({d.q('month')} AS VARCHAR) AS "
                   f"{d.q('month')}, min(epoch_us({t})) AS lo, max(epoch_us({t})) AS hi, count(*) AS n, "
                   f"CAST(sum(hash(coalesce({sid}, '') || '|' || coalesce(CAST(epoch_us({t}) AS VARCHAR), ''))) "
                   f"AS VARCHAR) AS h, count({t}) AS timed FROM {src} GROUP BY 1, 2")
            f = lay.eng.query(sql).to_pandas()
        # a row with no time: never whole
        f.loc[f["timed"] < f["n"], ["lo", "hi"]] = None
        return f.drop(columns="timed")

    def whole(self, part, tables, lo_us, hi_us) -> bool:
        """Whether every placed row of ``part`` in ``tables`` lies in ``[lo_us, hi_us)``."""
        if self.kept.root is None:
            return False
        for t in tables:
            if part not in self.lay.parts.get(t, {}):
                continue
            got = self._table(t).get(tuple(part))
            if got is None or got[0] is None or got[1] is None or (lo_us is not None and got[0] < lo_us) or \
                    (hi_us is not None and got[1] >= hi_us):
                return False
        return True

    def leave_out(self, w: S.Window) -> "_Placed":
        """Drop from the layout the partitions of placed rows whose every row lies outside the
        window ``w`` (its ``since``/``until``, None: unbounded); return ``self``.

        Placement moves a row by however long its fetch came after its getall (a back-fill of
        120 days moves it four months), so the stored month alone bounds nothing and every
        month of these sources is listed (:meth:`_Layout._list`).  The bound is each partition's
        first and last placed time (:meth:`_table`, kept with its files and the getall files):
        the partitions it puts wholly outside the window are not counted, neither here nor in
        the error tables.  A partition with a row without a time, or without bounds, stays."""
        if self.kept.root is None:
            return self
        lo_us, hi_us = _us(w.since), _us(w.until)
        for table, parts in self.lay.parts.items():
            if table not in S.PLACED_TABLES:
                continue
            for part in [p for p in parts if self.lay.moved(p)]:
                got = self._table(table).get(tuple(part))
                if got is None or got[0] is None or got[1] is None:
                    continue
                if (hi_us is not None and got[0] >= hi_us) or (lo_us is not None and got[1] < lo_us):
                    del parts[part]
        return self

    def before(self, since_us: int) -> set:
        """The partitions of placed rows whose every row lies before ``since_us``: counted with the
        previous period's partitions (and kept there), not one at a time with this period's."""
        out = set()
        for part in {p for t in _JOINED for p in self.lay.parts.get(t, {}) if self.lay.moved(p)}:
            got = [self._table(t).get(tuple(part)) for t in _JOINED if part in self.lay.parts.get(t, {})]
            if self.kept.root is not None and got and all(g is not None and g[1] is not None and g[1] < since_us
                                                          for g in got):
                out.add(part)
        return out

    def signature(self, part, tables) -> dict | None:
        """Where ``part``'s rows are placed, per table (None: a partition whose rows stay where stored)."""
        if not self.lay.moved(part):
            return None
        return {t: self._table(t).get(tuple(part), [None, None, 0, "0"])[2:] for t in tables
                if part in self.lay.parts.get(t, {})}


def _placed_parts(data_dir, table: str, w: S.Window, duck: Engine | None) -> list[tuple[str, str]] | None:
    """The (source, month) partitions of ``table``'s sources without a verification time that
    can hold rows of ``w`` once placed: those :meth:`_Placed.leave_out` does not leave out
    (from each partition's first and last placed time, kept beside the tables and worked out
    by ``duck``, a DuckDB engine, when they are not).  None: every partition (no bound on the
    window, a data directory that is not local, no ``duck``)."""
    if duck is None or (w.since is None and w.until is None) or not _local(duck, data_dir):
        return None
    lay = _Layout(duck, data_dir, w, w.since or pd.Timestamp(0, tz="UTC"), tables=(table,))
    _Placed(lay, _kept_beside(lay, data_dir)).leave_out(w)
    return sorted(p for p in lay.parts[table] if p[0] in UNTIMED_SOURCES)


def _among_sql(d: S.Dialect, parts) -> str:
    """The rows of sources with a verification time, and of ``parts`` ((source, month) pairs of
    the others): :func:`_api._among` in SQL, on the partition keys alone (so the engine prunes)."""
    s, m = d.q("source"), d.q("month")
    months: dict[str, list[str]] = {}
    for source, month in parts:
        months.setdefault(source, []).append(month)
    keep = "".join(f" OR ({s} = {d.text(x)} AND {m} IN ({', '.join(d.text(v) for v in ms)}))"
                   for x, ms in months.items())
    return f"({s} NOT IN ({', '.join(d.text(x) for x in UNTIMED_SOURCES)}){keep})"


def _local(eng: Engine, data_dir) -> bool:
    """DuckDB on a local data directory: where the review lists files and keeps the placed
    rows' bounds (as :attr:`_Layout.local`)."""
    from .duckdb_engine import DuckDBEngine

    return isinstance(eng, DuckDBEngine) and "://" not in str(data_dir)


@contextlib.contextmanager
def _window_relations(eng: Engine, data_dir, w: S.Window, tables: Sequence[str], duck: Engine | None = None):
    """What to read each of ``tables`` from (a list; None: no row), its rows that carry no
    verification time placed at their token's getall time (:func:`_placing`).  On a local
    data directory (DuckDB) only the partitions that can hold rows of ``w`` are read: the
    window's months and, of the sources placed at getall's time (stored in any month: a
    back-fill moves a row by months), those whose first and last placed time, kept by the
    review (:meth:`_Placed.leave_out`), do not put every row outside ``w``.  Spark on a
    local directory reads the same partitions (the bounds worked out and kept by DuckDB,
    :func:`_placed_parts`, ``duck``); on object storage every month of those sources (nothing is
    kept there: ``spark_engine`` says why)."""
    with contextlib.ExitStack() as stack:
        if not _local(eng, data_dir):
            out = []
            for t in tables:
                src = stack.enter_context(eng.relation(data_dir, t))
                keep = None if src is None or t not in S.PLACED_TABLES else _placed_parts(data_dir, t, w, duck)
                if keep is not None:
                    src = f"(SELECT * FROM {src} WHERE {_among_sql(eng.dialect, keep)})"
                out.append(stack.enter_context(_placing(eng, data_dir, t, src)))
            yield out
            return
        lay = _Layout(eng, data_dir, w, w.since or pd.Timestamp(0, tz="UTC"), tables=tuple(tables))
        if w.since is not None or w.until is not None:      # (unbounded: every partition, no bound needed)
            _Placed(lay, _kept_beside(lay, data_dir)).leave_out(w)
        yield [stack.enter_context(lay.relation(t))[0] for t in tables]


def in_window(w: S.Window, duck: Engine | None):
    """:func:`run_query`'s ``relation`` for the rows of window ``w``: a table read as
    :func:`_window_relations` reads it (listed again on each of run_query's attempts);
    ``duck``: the DuckDB engine that works out the bounds for another engine (Spark)."""
    @contextlib.contextmanager
    def relation(eng, data_dir, table):
        if table not in S.PLACED_TABLES:        # (no row placed: the month filter prunes, as for the whole table)
            with _whole(eng, data_dir, table) as src:
                yield src
            return
        with _window_relations(eng, data_dir, w, [table], duck) as (src,):
            yield src
    return relation
