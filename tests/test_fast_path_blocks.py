"""The columnar path's JSON read (``_fast._read``): a buffer is read in blocks of
``_fast._BLOCK`` bytes, and read on one thread (as ingest reads) its columns come whole,
one piece each, with every row in order: the extractors take a column as one array."""
import orjson
import pyarrow as pa

from faceanalytics.flatten import _fast


def _lines(n: int, pad: int = 0) -> bytes:
    return b"\n".join(orjson.dumps({"request_id": f"r{i}", "time_used": i, "biz_info": {"biz_no": f"n{i}" + "x" * pad},
                                    "will_result": [{"result": "PASS"}] * (i % 3)}) for i in range(n))


_SCHEMA = pa.schema([("request_id", pa.string()), ("time_used", pa.float64()),
                     ("biz_info", pa.struct([("biz_no", pa.string())])),
                     ("will_result", pa.list_(pa.struct([("result", pa.string())])))])


def test_a_buffer_of_many_blocks_reads_as_whole_columns_in_order():
    n = 60_000
    buf = _lines(n, pad=600)   # ~40 MB: ten blocks
    assert len(buf) > 8 * _fast._BLOCK
    t = _fast._read(buf, _SCHEMA, threads=False, strict=True)
    assert t.num_rows == n
    assert all(c.num_chunks == 1 for c in t.columns)
    assert t.column("request_id").to_pylist() == [f"r{i}" for i in range(n)]
    assert t.column("time_used").to_pylist() == [float(i) for i in range(n)]
    assert [len(x) for x in t.column("will_result").to_pylist()] == [i % 3 for i in range(n)]


def test_a_line_longer_than_a_block_is_read_with_the_others():
    long = orjson.dumps({"request_id": "long", "biz_info": {"biz_no": "y" * (_fast._BLOCK + (2 << 20))}})
    buf = _lines(3) + b"\n" + long + b"\n" + _lines(3)
    t = _fast._read(buf, _SCHEMA, threads=False, strict=True)
    assert t.column("request_id").to_pylist() == ["r0", "r1", "r2", "long", "r0", "r1", "r2"]
    assert len(t.column("biz_info").combine_chunks().field("biz_no")[3].as_py()) == _fast._BLOCK + (2 << 20)
