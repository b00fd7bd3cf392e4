"""The columnar fast path lands exactly what the Python flatteners land."""
import json
import random
import sys
from pathlib import Path

import pytest
from pandas.testing import assert_frame_equal

from faceanalytics.flatten import flatten_fast
from faceanalytics.pipeline.ingest import Ingestor
from faceanalytics.sandbox import Sandbox
from faceanalytics.schema import TABLES
from faceanalytics.storage.tables import load

sys.path.insert(0, str(Path(__file__).parent))
from test_property import PAYLOADS, mutated  # noqa: E402

SEEDS = Path(__file__).parent / "data" / "seeds"


def _envelope(source, sid, payload, i):
    return json.dumps({"source": source, "session_id": sid, "http_status": 200,
                       "fetched_at": f"2026-11-{1 + i % 28:02d}T10:00:00Z", "payload": payload},
                      ensure_ascii=False).encode()


def _both(tmp_path, lines, source_hint=None, keep_pii=False):
    out = {}
    key = tmp_path / "pii.key"
    key.write_text("ab" * 32)
    for fast in (True, False):
        d = tmp_path / ("fast" if fast else "slow")
        (d / "state").mkdir(parents=True)
        (d / "state" / "pii.key").write_text(key.read_text())  # same key: same ID hashes
        with Ingestor(d, fast=fast, keep_pii=keep_pii) as ing:
            rep = ing.ingest_lines(lines, source_hint=source_hint, origin="t")
        out[fast] = (d, rep)
    return out


def _same_on_both(tmp_path, lines):
    """Both paths land and quarantine as many of ``lines`` and the same tables: ``_both``'s result."""
    res = _both(tmp_path, lines)
    assert res[True][1].landed == res[False][1].landed
    assert res[True][1].quarantined == res[False][1].quarantined
    _assert_same_tables([res[True][0], res[False][0]])
    return res


def _landed_alike(tmp_path, lines, taken, **kw):
    """``lines`` land the same tables on both paths, the columnar path taking exactly the
    lines ``taken`` marks (``kw``: to ``flatten_fast``, e.g. a callback secret): the two
    data directories (columnar, Python)."""
    from faceanalytics.pipeline.pii import Masker

    slow = flatten_fast(lines, None, 0, Masker(b"k" * 32), **kw).slow
    assert slow == [i for i, t in enumerate(taken) if not t]
    res = _both(tmp_path, lines)
    (fd, frep), (sd, srep) = res[True], res[False]
    assert frep.landed == srep.landed == len(lines)
    assert frep.python_path == len(slow)
    _assert_same_tables([fd, sd])
    return fd, sd


def _assert_same_tables(dirs, ignore=()):
    for table in TABLES:
        frames = []
        for d in dirs:
            df = load(d, table).drop(columns=list(ignore))
            if table == "quarantine":
                df = df.drop(columns=[c for c in ("fetched_at", "session_time", "month") if c in df])
            cols = [c for c in df.columns if c != "extra"]
            frames.append(df.sort_values(cols, na_position="first").reset_index(drop=True))
        assert_frame_equal(frames[0], frames[1], obj=table)


@pytest.fixture(scope="module")
def sandbox_payloads():
    sb = Sandbox(seed=11, n_lite=600, n_liveness=300, n_baidu=0, wild=0.05, era_2016_share=0.1)
    lite = [(b, sb.payload(b, return_verify_time=1, get_fail_reason=1)) for b in sb.ids("megvii-lite")]
    live = [(b, sb.payload(b)) for b in sb.ids("megvii-liveness")]
    return lite, live


def test_fast_equals_python_on_sandbox_envelopes(tmp_path, sandbox_payloads):
    lite, live = sandbox_payloads
    lines = [_envelope("megvii_lite", b, p, i) for i, (b, p) in enumerate(lite)]
    lines += [_envelope("megvii_liveness", b, p, i) for i, (b, p) in enumerate(live)]
    random.Random(3).shuffle(lines)
    res = _both(tmp_path, lines)
    (fd, frep), (sd, srep) = res[True], res[False]
    assert (frep.read, frep.landed, frep.quarantined) == (srep.read, srep.landed, srep.quarantined)
    _assert_same_tables([fd, sd])
    # and the fast path really took most rows
    taken = flatten_fast(lines, None, 0, Ingestor(tmp_path / "x").masker)
    assert len(taken.lines) > 0.6 * len(lines), len(taken.lines)


def test_fast_equals_python_on_bare_payloads_with_pii(tmp_path, sandbox_payloads):
    lite, _ = sandbox_payloads
    lines = [json.dumps(p, ensure_ascii=False).encode() for _, p in lite]
    res = _both(tmp_path, lines, source_hint="megvii_lite", keep_pii=True)
    # bare payloads are stamped with their receive time, which differs between the two runs
    _assert_same_tables([res[True][0], res[False][0]], ignore=["fetched_at"])


def test_fast_equals_python_on_seed_examples_and_mutations(tmp_path):
    from hypothesis import HealthCheck, given, settings

    lines = []

    @settings(max_examples=400, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(mutated())
    def collect(x):
        src, payload = x
        if src.startswith("megvii"):
            lines.append(_envelope(src, f"1462259748,m{len(lines)}", payload, len(lines)))

    collect()
    for src, payload in PAYLOADS:
        lines.append(_envelope(src, f"1700000000,s{len(lines)}" if src.startswith("megvii")
                               else f"tok{len(lines)}", payload, len(lines)))
    res = _both(tmp_path, lines)
    assert res[True][1].landed == res[False][1].landed
    _assert_same_tables([res[True][0], res[False][0]])


ODD_TIMES = ["2026-11-01T10:00:00Z", "2026-02-30T10:00:00Z", "2024-02-29T23:59:59+00:00",
             "2026-11-01T24:00:00Z", "2026-11-01T10:00:60Z", "2026-11-01T10:00:00.5Z",
             "2026-11-01 10:00:00", "1900-01-01T00:00:00Z", "2026-11-01T10:00:00+08:00", None, "x",
             "5", "2023-04-31T00:00:00", "2026-11-01T10:00:00", "2200-01-01T00:00:00Z"]


def test_envelope_times_read_column_wise_as_iso_to_us_reads_them():
    import pyarrow as pa

    from faceanalytics._coerce import in_window, iso_to_us
    from faceanalytics.flatten._fast import _iso_times

    fetched, bad = _iso_times(pa.array(ODD_TIMES + ["\x1f5"]))  # and a number the quoting marked
    for t, us, b in zip(ODD_TIMES + [None], fetched.tolist(), bad.tolist()):
        want = iso_to_us(t)
        assert b == (want is None or not in_window(want)), t
        if not b:
            assert us == want, t


def test_fast_equals_python_on_odd_envelope_times_and_statuses(tmp_path):
    payload = json.loads((SEEDS / "megvii_lite_success.json").read_text())
    lines = []
    for i, t in enumerate(ODD_TIMES * 3):
        status = [200, 200.0, None, 412.5, 404][i % 5]
        lines.append(json.dumps({"source": "megvii_lite", "session_id": f"1700000000,t{i}",
                                 "http_status": status, "fetched_at": t, "payload": payload}).encode())
    res = _both(tmp_path, lines)
    good = 3 * 6  # the plain, offset, fractional and space-separated times in the window
    assert res[True][1].landed == res[False][1].landed == good
    assert res[True][1].python_path == len(lines) - good  # the rest are quarantined by Python
    _assert_same_tables([res[True][0], res[False][0]])


def test_plain_envelope_times_are_read_column_wise(monkeypatch):
    import pyarrow as pa

    from faceanalytics.flatten import _fast

    def no(*a):
        raise AssertionError("read one by one")
    monkeypatch.setattr(_fast, "iso_to_us", no)
    fetched, bad = _fast._iso_times(pa.array(["2026-11-01T10:00:00Z", "2024-02-29T23:59:59"]))
    assert not bad.any() and fetched.tolist() == [1_793_527_200_000_000, 1_709_251_199_000_000]


def test_notify_signs_are_checked_where_the_texts_lie_in_a_sliced_column():
    """Each callback text is hashed in place in the column's buffer (no copy of the texts):
    a column that starts mid-buffer (a slice) is read from its own offset."""
    import hashlib

    import numpy as np
    import pyarrow as pa

    from faceanalytics.flatten._fast_megvii import _notify

    secret = "notify-secret"
    texts = ['{"request_id":"x0"}', '{"request_id":"a1","time_used":5}', '{"request_id":"b2"}',
             '{"request_id":"c3","time_used":7}']
    signs = [hashlib.sha1((secret + t).encode()).hexdigest() for t in texts]
    signs[2] = "0" * 40  # a wrong sign: that callback goes to the Python path
    payload = pa.StructArray.from_arrays([pa.array(texts), pa.array(signs)], names=["data", "sign"]).slice(1)
    slow = np.zeros(3, bool)
    inner, _ = _notify(None, slow, payload, secret)
    assert slow.tolist() == [False, True, False]
    assert inner.field("request_id").to_pylist() == ["a1", None, "c3"]


def test_a_key_written_as_null_is_found_alike_record_by_record_and_in_the_whole_buffer(monkeypatch):
    """``_Lines.nulls`` asks a few records one by one and many by one search of the whole
    buffer: both give the same answer (an escaped one in a text, in a nested object, with
    a space, in the last line without its newline)."""
    import numpy as np

    from faceanalytics.flatten import _fast_megvii as fm

    lines = [b'{"status":null,"a":1}', b'{"status": null}', b'{"status":"OK"}',
             b'{"x":"\\"status\\":null"}', b'{"b":{"status":null}}', b'{"statuses":null}',
             b'{"a":"status","status" :null}', b'{"status":null}']
    g = type("G", (), {})()
    g.buf = b"\n".join(lines)
    g.bounds = np.cumsum([0] + [len(ln) + 1 for ln in lines])
    rows = np.arange(len(lines))
    per_record = fm._per_record
    answers = []
    for one_by_one in (True, False):
        monkeypatch.setattr(fm, "_per_record", lambda n, size, one=one_by_one: one)
        answers.append(fm._Lines(g).nulls(rows, "status").tolist())
    assert answers[0] == answers[1] == [True, True, False, False, True, False, False, True]
    assert per_record(31, 0) and not per_record(32, 0)  # few records: one by one
    assert per_record(4000, 17 << 20) and not per_record(5000, 17 << 20)


def test_lines_of_one_buffer_are_grouped_as_lines_read_one_by_one():
    """``parse_chunk`` names the sources of a block's lines at once (numpy) and reads only the
    other lines one by one: the groups, their order and the lines left to Python are those of
    the line-by-line reading, for envelopes of every kind, bare payloads, odd openings, lines
    too long or nested too deep for Arrow's reader."""
    import numpy as np

    from faceanalytics.flatten import _fast
    from faceanalytics.pipeline._chunks import Lines

    pieces = [b'{"source":"megvii_lite","payload":{}}', b'{"source":"baidu_simple","x":1}',
              b'{"source":"nope","a":1}', b'{"source":"","a":1}', b'{"source":"ABC","a":1}',
              b'{ "source" : "megvii_liveness"}', b'{"a":1}', b'[1]', b'x', b'{"source":"megvii_lite"',
              b'{' + b'[' * 2500 + b']' * 2500 + b'}', b'{"source":"megvii_lite","p":"' + b'{' * 2100 + b'"}',
              b'{"source":"megvii_lite","p":"' + b'a' * 2100 + b'"}', b' {"source":"megvii_lite"}',
              b'{"source":"megvii_notify","data":"{}"}', b'{"source":"megvii_lite_x"}']
    rng = random.Random(5)
    # (chunks whose lines all open alike, then one that opens otherwise: named at once, or not)
    alike = [[pc] * 3 for pc in pieces] + [[pc] * 3 + [other] for pc in pieces[:2] for other in pieces]
    for lines in alike + [[rng.choice(pieces) for _ in range(rng.randint(1, 12))] for _ in range(200)]:
        buf = b"\n".join(lines)
        block = Lines(buf, np.cumsum([0] + [len(ln) + 1 for ln in lines[:-1]]).astype(np.int64))
        for hint in (None, "megvii_lite", "baidu_stat"):
            groups, left_out = {}, []
            for i, line in enumerate(lines):
                key = _fast._key_of_line(line, hint)
                (left_out if key is None else groups.setdefault(key, [])).append(i)
            got = _fast._grouped(buf, block.bounds, hint)
            assert got == (groups, left_out) and list(got[0]) == list(groups)


def test_a_chunk_read_on_one_thread_comes_as_one_block():
    """The ingest pipeline reads a chunk on one thread: Arrow's reader then takes the buffer as
    one block, so every column is one piece (blocks of 4 MB gave a 12-18 MB chunk three to five,
    which the extractors concatenated again), and the rows are those a threaded read gives."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import gen_records
    from faceanalytics.flatten import _fast

    lines = gen_records.lines("megvii_liveness", 5000, seed=3)
    buf, _ = _fast._quote(b"\n".join(lines), _fast._offsets(lines))  # (some send numbers as text)
    assert len(buf) > 4 << 20
    schema = _fast._schema("megvii_liveness", True, True)
    one = _fast._read(buf, schema, threads=False)
    assert {c.num_chunks for c in one.columns} == {1}
    assert one.num_rows == len(lines)
    assert one.equals(_fast._read(buf, schema, threads=True).combine_chunks())
