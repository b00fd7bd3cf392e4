"""The Parquet store as a plain reader sees it: commits never pull a file from under a reader."""
from __future__ import annotations

import threading
import time

import pandas as pd
import pytest
import pyarrow.parquet as pq

from faceanalytics.pipeline.ingest import Ingestor
import faceanalytics.storage.tables as store_mod
from faceanalytics.storage.tables import Store, load

from _helpers import envelope, seed  # noqa: E402

import orjson


def _lines(ids, fetched_at):
    out = []
    for sid in ids:
        p = seed("megvii_liveness_success.json")
        p["biz_id"] = sid
        out.append(orjson.dumps(envelope("megvii_liveness", sid, p, fetched_at=fetched_at)))
    return out


def _writer(data, stop, rounds, errors):
    """Commits without pause: new sessions, replacements of stored ones, compactions."""
    try:
        with Ingestor(data) as ing:
            n = 0
            while not stop.is_set() and n < rounds:
                n += 1
                fresh = [f"1700000000,s{n}-{i}" for i in range(5)]
                again = [f"1700000000,s{max(1, n - 1)}-{i}" for i in range(5)]  # refetched later
                ing.ingest_lines(_lines(fresh, f"2026-11-20T10:{n // 60 % 60:02d}:{n % 60:02d}Z")
                                 + _lines(again, f"2026-11-21T10:{n // 60 % 60:02d}:{n % 60:02d}Z"))
                ing.store.compact(min_files=3)
    except BaseException as e:  # pragma: no cover - reported by the test
        errors.append(e)


def test_plain_pandas_readers_never_fail_while_a_writer_commits(tmp_path):
    """pandas.read_parquet lists the folder, then opens the files: no commit may remove a
    file between the two (issue 13, item 10)."""
    data = tmp_path / "d"
    with Ingestor(data) as ing:  # the tables exist before the readers start
        ing.ingest_lines(_lines([f"1700000000,s0-{i}" for i in range(5)], "2026-11-20T09:00:00Z"))
    stop, writer_errors = threading.Event(), []
    writer = threading.Thread(target=_writer, args=(data, stop, 400, writer_errors))
    writer.start()
    failures, reads = [], 0
    deadline = time.monotonic() + 6
    try:
        while time.monotonic() < deadline and writer.is_alive():
            for table in ("sessions", "comparisons"):
                try:
                    df = pd.read_parquet(data / "tables" / table)
                except Exception as e:
                    failures.append(repr(e)[:200])
                else:
                    reads += 1
                    assert "session_id" in df.columns
    finally:
        stop.set()
        writer.join()
    assert not writer_errors, writer_errors
    assert reads >= 50
    assert failures == [], f"{len(failures)} of {len(failures) + reads} reads failed: {failures[:3]}"
    # and what a reader sees at rest is exact: one row per session, nothing lost
    s = pd.read_parquet(data / "tables" / "sessions")
    assert s.session_id.is_unique
    assert set(s.session_id) == set(load(data, "sessions").session_id)


def test_replaced_and_compacted_files_are_emptied_in_place_and_their_names_reused(tmp_path):
    data = tmp_path / "d"
    with Ingestor(data) as ing:
        for n in range(6):
            ing.ingest_lines(_lines([f"1700000000,r{n}"], "2026-11-20T09:00:00Z"))
        part = data / "tables" / "comparisons" / "source=megvii_liveness" / "month=2023-11"
        names = sorted(p.name for p in part.glob("part-*.parquet"))
        assert len(names) == 6
        assert ing.store.compact(min_files=3) >= 1
        rows = {p.name: pq.read_metadata(p).num_rows for p in part.glob("part-*.parquet")}
        assert sorted(rows) == names                  # no name went away ...
        assert sorted(rows.values()) == [0] * 5 + [12]  # ... five are empty, one holds every row
        for n in range(6, 10):                        # new rows go into the emptied names first
            ing.ingest_lines(_lines([f"1700000000,r{n}"], "2026-11-20T09:00:00Z"))
        assert sorted(p.name for p in part.glob("part-*.parquet")) == names
        assert sum(pq.read_metadata(p).num_rows for p in part.glob("part-*.parquet")) == 20
    assert len(load(data, "comparisons")) == 20
    assert len(pd.read_parquet(data / "tables" / "comparisons")) == 20


def test_rebuild_swaps_tables_without_moving_the_folder(tmp_path):
    """A reader that listed tables/x before a rebuild can still open what it listed."""
    from faceanalytics.pipeline.ingest import rebuild

    data = tmp_path / "d"
    with Ingestor(data) as ing:
        ing.ingest_lines(_lines([f"1700000000,b{i}" for i in range(4)], "2026-11-20T09:00:00Z"))
    listed = sorted((data / "tables" / "sessions").rglob("part-*.parquet"))
    inode = (data / "tables").stat().st_ino
    rebuild(data)
    assert (data / "tables").stat().st_ino == inode
    for f in listed:                                  # still there (emptied or refilled)
        pq.read_metadata(f)
    assert len(pd.read_parquet(data / "tables" / "sessions")) == 4


def test_tables_and_their_folders_are_owner_only(tmp_path):
    data = tmp_path / "d"
    with Ingestor(data) as ing:
        ing.ingest_lines(_lines(["1700000000,p1"], "2026-11-20T09:00:00Z"))
    tables = data / "tables"
    for p in [tables, *tables.rglob("*")]:
        mode = p.stat().st_mode & 0o777
        assert mode == (0o700 if p.is_dir() else 0o600), (p, oct(mode))
    assert Store(data, scrub=None).root == tables


def test_rebuild_keeps_every_row_when_a_partition_has_many_files(tmp_path):
    from faceanalytics.pipeline.ingest import rebuild

    data = tmp_path / "d"
    for n in range(4):  # four raw segments: four files per partition in the rebuilt tables
        with Ingestor(data) as ing:
            ing.ingest_lines(_lines([f"1700000000,m{n}-{i}" for i in range(3)], "2026-11-20T09:00:00Z"))
    before = pd.read_parquet(data / "tables" / "comparisons").sort_values(["session_id", "comparison"])
    for _ in range(2):  # twice: the second adopts into names the first emptied
        rebuild(data)
        after = pd.read_parquet(data / "tables" / "comparisons").sort_values(["session_id", "comparison"])
        assert len(after) == len(before) == 24
        assert list(after.session_id) == list(before.session_id)


def test_every_table_carries_the_session_key_and_readers_do_not_see_it(tmp_path):
    import hashlib

    import pyarrow as pa

    from faceanalytics.schema import SESSION_KEY
    from faceanalytics.storage.tables import session_keys

    ids = [f"1700000000,k{i}" for i in range(5)]
    data = tmp_path / "d"
    with Ingestor(data) as ing:
        ing.ingest_lines(_lines(ids, "2026-11-20T09:00:00Z"))
    want = {sid: int.from_bytes(hashlib.md5(sid.encode()).digest()[:8], "little", signed=True) for sid in ids}
    seen = set()
    for f in (data / "tables").rglob("part-*.parquet"):
        t = pq.read_table(f)
        if not t.num_rows or "session_id" not in t.column_names:
            continue
        assert t.column_names[-1] == SESSION_KEY and t.column(SESSION_KEY).type == pa.int64()
        got = dict(zip(t.column("session_id").to_pylist(), t.column(SESSION_KEY).to_pylist()))
        assert got == {k: want[k] for k in got}, f
        seen.add(f.parent.parent.parent.name)
    assert {"sessions", "comparisons", "genuineness"} <= seen
    assert SESSION_KEY not in load(data, "comparisons").columns
    # the same key in any process and for any spelling of the array; nulls stay null
    k = session_keys(pa.chunked_array([pa.array(["a", None]), pa.array(["a"])]))
    assert k.to_pylist()[1] is None and k.to_pylist()[0] == k.to_pylist()[2]


def test_compaction_merges_the_small_files_and_leaves_the_large_ones(tmp_path, monkeypatch):
    """A partition fed all month is compacted again and again: files already merged to
    size are not rewritten each time (only those under ``COMPACT_SMALL`` are merged)."""
    data = tmp_path / "d"
    part = data / "tables" / "comparisons" / "source=megvii_liveness" / "month=2023-11"
    with Ingestor(data) as ing:
        for n in range(4):
            ing.ingest_lines(_lines([f"1700000000,b{n}"], "2026-11-20T09:00:00Z"))
        assert ing.store.compact(min_files=3) >= 1
        big = {p.name for p in part.glob("part-*.parquet") if pq.read_metadata(p).num_rows}
        assert len(big) == 1
        (name,) = big
        before = (part / name).read_bytes()
        # the merged file now counts as large; three more landings, compacted again
        monkeypatch.setattr(store_mod, "COMPACT_SMALL", (part / name).stat().st_size)
        for n in range(4, 7):
            ing.ingest_lines(_lines([f"1700000000,b{n}"], "2026-11-20T09:00:00Z"))
        assert ing.store.compact(min_files=3) >= 1
        assert (part / name).read_bytes() == before       # the large file was not rewritten
        live = [p for p in part.glob("part-*.parquet") if pq.read_metadata(p).num_rows]
        assert len(live) == 2                              # it and the merge of the three new ones
    assert len(load(data, "comparisons")) == 14


def test_a_damaged_table_file_is_named_never_skipped(tmp_path, capsys):
    """A table file cut short (a disk error, a copy that stopped): the review had left it out
    silently (one month's comparisons fewer, no word), load and ingest said only "Parquet
    magic bytes not found".  Each now names the file and says rebuild recreates it."""
    from faceanalytics.cli import main
    from faceanalytics.pipeline.ingest import rebuild
    from faceanalytics.report import review
    from faceanalytics.storage.errors import DamagedTable

    data = tmp_path / "d"
    with Ingestor(data) as ing:
        ing.ingest_lines(_lines([f"1700000000,x{i}" for i in range(5)], "2026-11-20T09:00:00Z"))
    (victim,) = (data / "tables" / "comparisons").glob("source=*/month=*/part-*.parquet")
    victim.write_bytes(victim.read_bytes()[:100])
    for call in (lambda: load(data, "comparisons"),
                 lambda: review(data, "2023-11-01", "2023-12-01", segments=[])):
        with pytest.raises(DamagedTable, match="rebuild") as e:
            call()
        assert e.value.path == str(victim)
    assert main(["review", "--data", str(data), "--out", str(tmp_path / "r.html"), "--since", "2023-11-01",
                 "--until", "2023-12-01"]) == 1
    assert f"{victim}: not a readable table file" in capsys.readouterr().err
    (sessions,) = (data / "tables" / "sessions").glob("source=*/month=*/part-*.parquet")
    sessions.write_bytes(b"PAR1 not really")
    with pytest.raises(DamagedTable, match="rebuild"), Ingestor(data) as ing:
        ing.ingest_lines(_lines(["1700000000,y"], "2026-11-20T09:00:00Z"))
    rebuild(data)                                     # the tables are derived: all back
    assert len(load(data, "sessions")) == 6 and len(load(data, "comparisons")) == 12
