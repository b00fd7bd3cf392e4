"""Rows given as tuples (``Flat.tuples``: Baidu's attempts, scores and ID cards, every media
row) are the same rows as dicts: in the schema's column order, shown as dicts by ``Flat.rows``,
and turned into the same Arrow columns as the dict rows were (``tuples_to_arrow`` beside
``rows_to_arrow``), a value that does not fit its column nulled the same way."""
from __future__ import annotations

import sys
from pathlib import Path

import pyarrow as pa
import pytest

from faceanalytics._records import read_record
from faceanalytics.flatten import Context, Unreadable, flatten_payload
from faceanalytics.flatten._common import Flat, row_names
from faceanalytics.pipeline._rows import rows_to_arrow, tuples_to_arrow
from faceanalytics.pipeline.pii import Masker

sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
import gen_records  # noqa: E402

_SOURCES = ("baidu_getall", "baidu_detail", "baidu_simple", "baidu_media", "megvii_lite")


def _flats(source: str, n: int = 300) -> list[Flat]:
    masker = Masker(b"k" * 32)
    out = []
    for line in gen_records.lines(source, n, seed=3, wild=0.5):
        rec = read_record(line, None, 0)
        try:
            out.append(flatten_payload(rec.source, rec.payload, Context(rec.source, rec.session_id, masker)))
        except Unreadable:
            pass
    return out


@pytest.mark.parametrize("source", _SOURCES)
def test_tuple_rows_convert_as_their_dicts_do(source):
    flats = _flats(source)
    tuples: dict[str, tuple[list, list]] = {}
    for r, flat in enumerate(flats):
        for table, rows in flat.tuples.items():
            idx, lst = tuples.setdefault(table, ([], []))
            idx += [r] * len(rows)
            lst += rows
    assert tuples, "the flatteners gave no tuple rows"
    for table, (idx, rows) in tuples.items():
        assert all(len(t) == len(row_names(table)) for t in rows), table
        dicts = [dict(zip(row_names(table), t)) for t in rows]
        assert tuples_to_arrow(table, idx, rows).equals(rows_to_arrow(table, idx, dicts)), table
    # Flat.rows shows every row as a dict, the tuple rows named by the schema's columns
    for flat in flats:
        want = {t: [dict(zip(row_names(t), row)) for row in rows] for t, rows in flat.tuples.items() if rows}
        got = flat.rows
        assert not flat.tuples
        for table, rows in want.items():
            assert got[table][-len(rows):] == rows


def test_a_value_that_does_not_fit_is_nulled_as_in_dict_rows():
    names = row_names("attempts")
    good = tuple(None for _ in names)
    bad = tuple({"x": 1} if n == "code" else (1 if n == "attempt" else None) for n in names)
    rows = [good, bad]
    got = tuples_to_arrow("attempts", [0, 1], rows)
    assert got.equals(rows_to_arrow("attempts", [0, 1], [dict(zip(names, t)) for t in rows]))
    assert got.column("code").to_pylist() == [None, None] and got.column("attempt").to_pylist() == [None, 1]
    empty = tuples_to_arrow("attempts", [], [])
    assert empty.num_rows == 0 and empty.schema.equals(rows_to_arrow("attempts", [], []).schema)
    assert isinstance(empty.column("attempt").type, pa.DataType)
