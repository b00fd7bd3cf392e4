"""The review's queries over a partition's sessions table in DuckDB's memory (the sessions'
counts and quality: about as many groups as rows) run on one thread
(``engines._review._one_thread``): two threads each built a hash table of nearly every group
and merged them, for ~20% more CPU time (``benchmarks/profile_review.py``).  The database's
setting is put back afterwards, also when a query fails, and every count is the same."""
from __future__ import annotations

import shutil

import pytest

from faceanalytics.engines import DuckDBEngine
from faceanalytics.engines import _review
from faceanalytics.report._summary import summarize
from _helpers import same_counts
from test_report import SINCE, UNTIL, data, monkeypatch_module  # noqa: F401  (fixtures)


def _threads(eng) -> int:
    cur = eng.connection().cursor()
    try:
        return int(cur.execute("SELECT current_setting('threads')").fetchone()[0])
    finally:
        cur.close()


def test_sessions_table_queries_run_on_one_thread_and_count_the_same(data, tmp_path, monkeypatch):  # noqa: F811
    d = tmp_path / "data"                     # nothing kept: every partition counted
    shutil.copytree(data, d, ignore=shutil.ignore_patterns("summaries"))
    single = summarize(d, SINCE, UNTIL, engine=DuckDBEngine(threads=1))
    shutil.rmtree(d / "summaries", ignore_errors=True)

    eng = DuckDBEngine(threads=2)
    seen: dict[str, set] = {"sessions table": set(), "rows": set()}
    query = DuckDBEngine.query

    def spy(self, sql):
        if sql.startswith("SELECT") and "FROM fa_review_" in sql and ('"shr"' in sql or "GROUPING SETS" in sql):
            seen["sessions table"].add(_threads(self))      # quality, and the sessions' counts
        elif "read_parquet" in sql and "GROUPING SETS" in sql:
            seen["rows"].add(_threads(self))                # the scans of the tables' files
        return query(self, sql)

    monkeypatch.setattr(DuckDBEngine, "query", spy)
    both = summarize(d, SINCE, UNTIL, engine=eng)
    assert seen == {"sessions table": {1}, "rows": {2}}
    assert _threads(eng) == 2
    assert single.segments == both.segments and both.segments
    same_counts(both, single)


def test_the_thread_setting_is_put_back_when_a_query_fails():
    eng = DuckDBEngine(threads=2)
    with pytest.raises(RuntimeError, match="failed"):
        with _review._one_thread(eng):
            assert _threads(eng) == 1
            raise RuntimeError("a query failed")
    assert _threads(eng) == 2
    one = DuckDBEngine(threads=1)
    with _review._one_thread(one):
        assert _threads(one) == 1
    assert _threads(one) == 1
