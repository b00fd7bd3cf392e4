"""An in-memory DuckDB connection as every part of the package opens one (the engine, the
labels' checks, the label join of the metrics): one place for what each must set."""
from __future__ import annotations


def connect(config: dict | None = None):
    """``duckdb.connect(":memory:", config=config)`` without progress bars: DuckDB draws them
    on standard output, past ``review -q`` and into ``--json`` output."""
    import duckdb

    con = duckdb.connect(":memory:", config=config or {})
    con.execute("SET enable_progress_bar_print = false")
    return con
