"""DuckDB's spill folder: one per engine, private, removed with it (not one folder for every process)."""
from __future__ import annotations

import gc
import os
import stat

from faceanalytics import engines as E


def _temp_directory(eng) -> str:
    con = eng.connection()
    return con.execute("SELECT current_setting('temp_directory')").fetchone()[0]


def test_each_engine_spills_in_a_private_folder_of_its_own_removed_with_it():
    a, b = E.DuckDBEngine(memory_limit="64MB", threads=1), E.DuckDBEngine(memory_limit="64MB", threads=1)
    ta, tb = _temp_directory(a), _temp_directory(b)
    assert ta != tb                                   # a shared one was removed by whichever closed first
    for t in (ta, tb):
        assert os.path.isdir(t)
        assert stat.S_IMODE(os.stat(t).st_mode) == 0o700, oct(os.stat(t).st_mode)
    # a query that outgrows 64 MB spills there and still answers
    n = a.connection().execute("SELECT count(*) FROM (SELECT i, count(*) FROM range(3000000) t(i) GROUP BY i)"
                               ).fetchone()[0]
    assert n == 3_000_000
    del a
    gc.collect()
    assert not os.path.exists(ta)                     # its folder went with it ...
    assert os.path.isdir(tb)                          # ... and the other engine's is untouched
    assert b.connection().execute("SELECT 1").fetchone()[0] == 1


def test_a_temp_directory_given_is_used_and_left_in_place(tmp_path):
    eng = E.DuckDBEngine(temp_directory=str(tmp_path / "spill"))
    assert _temp_directory(eng) == str(tmp_path / "spill")
    del eng
    gc.collect()
    assert tmp_path.exists()


def test_no_progress_bar_reaches_standard_output(capfd, tmp_path):
    """DuckDB draws a progress bar on standard output for a query past its time (2 s): it
    reached the output of ``review -q`` on large tables.  The engine's connection and the
    labels' own draw none."""
    from faceanalytics.engines._labels import LabelFile

    labels = LabelFile(tmp_path / "labels.csv")
    try:
        for con in (E.DuckDBEngine(threads=1).connection(), labels._connection()):
            con.execute("SET progress_bar_time = 0")          # draw from the first moment
            assert con.execute("SELECT count(*) FROM (SELECT i % 1000 AS k FROM range(20000000) t(i)) "
                               "WHERE k = 7").fetchone()[0] == 20_000
    finally:
        labels.close()
    out, err = capfd.readouterr()
    assert out == "" and err == ""
