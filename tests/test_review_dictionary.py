"""The review reads ``biz_extra_data`` segments through a dictionary of distinct texts when they
repeat (``engines._review.sessions_table(dictionary=True)``): every session gets the digit the
per-row parse gives, texts that are not JSON, empty, missing or malformed included."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from faceanalytics.engines import DuckDBEngine
from faceanalytics.engines._review import Segment, repeats_texts, sessions_table
from faceanalytics.engines.duckdb_engine import parquet_scan
from faceanalytics.engines._sql import DuckDBDialect
from faceanalytics.engines._review import segment_values
from faceanalytics.schema import file_schema

TEXTS = ['{"channel": "app", "n": 3, "product": "loan"}', "channel=h5&product=loan", "product=card&channel=",
         "user-1234", "", None, ' {"channel": "<b>"}', "{not json channel=mini", "a=1&channel=mini&channel=app",
         '{"channel": "mini", "product": "card", "branch": 417}', '{"product": ["x"], "channel": 7}',
         "channel=app&product=wealth", '{"channel":"h5"}']
SEGMENTS = [Segment("channel", values=("app", "h5", "mini")), Segment("product", values=("card", "loan")),
            Segment("procedure_type", column="procedure_type", values=("still", "video")), Segment("n", values=("3",))]


def _write(path, texts) -> str:
    n = len(texts)
    schema = file_schema("sessions")
    t0 = pd.Timestamp("2026-06-01", tz="UTC").value // 1000
    cols = {"session_id": pa.array([f"s{i}" for i in range(n)]), "session_key": pa.array(np.arange(n) + 1),
            "session_time": pa.array(t0 + np.arange(n) * 60_000_000, pa.timestamp("us", tz="UTC")),
            "fetched_at": pa.array(t0 + np.arange(n) * 60_000_000, pa.timestamp("us", tz="UTC")),
            "biz_extra_data": pa.array(texts, pa.string()),
            "procedure_type": pa.array([["still", "video", "flash", None][i % 4] for i in range(n)], pa.string())}
    arrays = [cols[f.name].cast(f.type) if f.name in cols else pa.nulls(n, f.type) for f in schema]
    path = path / "source=megvii_lite" / "month=2026-06"
    path.mkdir(parents=True)
    pq.write_table(pa.Table.from_arrays(arrays, schema=schema), path / "part-0.parquet")
    return parquet_scan(f"'{path / 'part-0.parquet'}'")


def test_dictionary_gives_every_session_the_digits_of_the_per_row_parse(tmp_path):
    texts = TEXTS * 20                                       # each text repeated: the dictionary is chosen
    src = _write(tmp_path / "s", texts)
    eng, d = DuckDBEngine(threads=1), DuckDBDialect()
    assert repeats_texts(eng, d, src, "")
    got = {}
    for dictionary in (False, True):
        sql = sessions_table(d, src, "", SEGMENTS, d.q("session_key"), dictionary=dictionary)
        f = eng.query(f"SELECT * FROM ({sql}) AS x ORDER BY {d.q('_k')}").to_pandas()
        got[dictionary] = f[[f"_g{i}" for i in range(len(SEGMENTS))]]
    pd.testing.assert_frame_equal(got[True], got[False])
    # and both are the pandas values (digit: 0 missing, then the kept values, then "(other)")
    frame = pd.DataFrame({"biz_extra_data": texts,
                          "procedure_type": [["still", "video", "flash", None][i % 4] for i in range(len(texts))]})
    for i, seg in enumerate(SEGMENTS):
        want = segment_values(frame, seg)
        codes = {None: 0, **{v: j + 1 for j, v in enumerate([*seg.values, "(other)"])}}
        assert got[True][f"_g{i}"].tolist() == [codes[None if pd.isna(v) else v] for v in want], seg.name
    assert (got[True]["_g0"] == 4).any() and (got[True]["_g0"] == 0).any()    # "(other)" and missing both there


def test_texts_that_do_not_repeat_are_parsed_row_by_row(tmp_path):
    src = _write(tmp_path / "u", [f'{{"channel": "app", "order": {i}}}' for i in range(500)])
    assert not repeats_texts(DuckDBEngine(threads=1), DuckDBDialect(), src, "")


def test_joins_keep_the_sessions_on_the_build_side_and_put_the_setting_back():
    from faceanalytics.engines._review import _build_on_sessions

    eng = DuckDBEngine(threads=1)
    con = eng.connection()
    setting = "SELECT current_setting('disabled_optimizers')"
    con.execute("SET disabled_optimizers = 'late_materialization'")
    with _build_on_sessions(eng):
        assert set(con.execute(setting).fetchone()[0].split(",")) == {"late_materialization", "build_side_probe_side"}
    assert con.execute(setting).fetchone()[0] == "late_materialization"
    try:
        with _build_on_sessions(eng):
            raise RuntimeError("a query failed")
    except RuntimeError:
        pass
    assert con.execute(setting).fetchone()[0] == "late_materialization"
