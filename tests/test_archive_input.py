"""The tool's own files as input: ``ingest DATA/raw/<day>/*.jsonl.zst`` (and ``zstd -dc`` of them)."""
import json
import shutil

import pytest
from pandas.testing import assert_frame_equal

from faceanalytics.storage import DataDir
from faceanalytics.storage.archive import read_segment
from faceanalytics.cli import main
from faceanalytics.pipeline.ingest import ingest, rebuild
from faceanalytics.schema import TABLES
from faceanalytics.storage.tables import load

from _helpers import LITE_ID, envelope, seed, write_jsonl


def _sorted(df):
    return df.sort_values(list(df.columns[:6]), kind="stable").reset_index(drop=True)


def _tables(data) -> dict:
    return {t: _sorted(load(data, t)) for t in TABLES}


def _same_tables(a, b):
    for t, df in a.items():
        assert_frame_equal(df, b[t], obj=t)


@pytest.fixture
def archive(tmp_path):
    """A data directory from three inputs (envelopes, bare payloads with a source, bad lines),
    so three segments, two of them read by their header's source hint."""
    data = tmp_path / "a"
    envelopes = write_jsonl(tmp_path / "env.jsonl", [
        envelope("megvii_lite", LITE_ID, seed("megvii_lite_success.json")),
        envelope("baidu_getall", "tokA", seed("baidu_getall.json")),
        envelope("baidu_stat", "tokA", seed("baidu_stat.json")),
        "not json", "", envelope("nope", "x", {}),
    ])
    bare = write_jsonl(tmp_path / "bare.jsonl", [seed("megvii_liveness_success.json")])
    ingest([envelopes], data)
    ingest([bare], data, source="megvii_liveness")
    segs = sorted((data / "raw").glob("*/*.jsonl.zst"))
    assert len(segs) == 2 and {read_segment(s).meta["source_hint"] for s in segs} == {None, "megvii_liveness"}
    return data, segs


def _fresh(tmp_path, name, a):
    """An empty data directory with ``a``'s masking key (masked values are keyed per directory)."""
    d = tmp_path / name
    (d / "state").mkdir(parents=True)
    shutil.copy(DataDir(a).pii_key, DataDir(d).pii_key)
    return d


def test_reingesting_the_archive_adds_nothing(archive):
    data, segs = archive
    before = _tables(data)
    rep = ingest(segs, data)
    # 5 records and the 2 bad lines read again; the header lines are not records
    assert (rep.read, rep.landed, rep.quarantined) == (6, 0, 2)
    assert sorted((data / "raw").glob("*/*.jsonl.zst")) == segs          # no new segment
    after = _tables(data)
    assert (after["quarantine"]["reason"].str.contains("_segment").sum()) == 0
    for t in TABLES:
        if t != "quarantine":         # the bad lines are quarantined again on every ingest, as today
            assert_frame_equal(after[t], before[t], obj=t)


def test_the_archive_into_a_fresh_dir_gives_the_tables_rebuild_gives(archive, tmp_path):
    data, segs = archive
    rebuild(data)
    want = _tables(data)
    fresh = _fresh(tmp_path, "b", data)
    rep = ingest(segs, fresh)
    assert (rep.read, rep.landed, rep.quarantined) == (6, 4, 2)
    _same_tables(want, _tables(fresh))
    # each segment was kept as it was: same digest, same lines, same header
    digest = lambda p: p.name.split("-", 1)[1]     # noqa: E731  (<time written>-<digest>.jsonl.zst)
    assert sorted(map(digest, (fresh / "raw").glob("*/*.jsonl.zst"))) == sorted(map(digest, segs))
    for s in segs:
        mine = next((fresh / "raw").glob(f"*/*-{digest(s)}"))
        assert read_segment(mine).meta == read_segment(s).meta and read_segment(mine).lines == read_segment(s).lines


def test_zstd_dc_output_is_read_with_its_headers(archive, tmp_path):
    """``zstd -dc`` of several segments into one file: every header line is understood, the lines
    after it read as it says (numbered from 1 as rebuild numbers them); none is quarantined."""
    data, segs = archive
    rebuild(data)
    want = _tables(data)
    plain = tmp_path / "all.jsonl"
    plain.write_bytes(b"".join(b'{"_segment": %s}\n' % json.dumps(read_segment(s).meta).encode()
                               + b"\n".join(read_segment(s).lines) + b"\n" for s in segs))
    assert plain.read_bytes().count(b'{"_segment"') == 2
    fresh = _fresh(tmp_path, "c", data)
    rep = ingest([plain], fresh, chunk_size=2)          # segments cut into chunks after their header
    assert (rep.read, rep.landed, rep.quarantined) == (6, 4, 2)
    got = _tables(fresh)
    _same_tables({t: f for t, f in want.items() if t != "quarantine"}, got)
    q = ["reason", "origin", "source", "session_id"]
    assert_frame_equal(got["quarantine"][q], want["quarantine"][q])


def test_a_line_that_only_looks_like_a_header_is_a_bad_record(tmp_path):
    f = write_jsonl(tmp_path / "x.jsonl", ['{"_segment": 5}', '{"_segment": {"source_hint": "nope"}}',
                                           envelope("baidu_getall", "tokA", seed("baidu_getall.json"))])
    rep = ingest([f], tmp_path / "d")
    assert (rep.read, rep.landed, rep.quarantined) == (3, 1, 2)


def test_cli_ingests_the_archive_and_refuses_a_damaged_one(archive, tmp_path, capsys):
    data, segs = archive
    fresh = _fresh(tmp_path, "e", data)
    assert main(["ingest", *map(str, segs), "--data", str(fresh)]) == 0
    assert "landed 4" in capsys.readouterr().out
    broken = tmp_path / "broken.jsonl.zst"
    broken.write_bytes(segs[0].read_bytes()[:-9] + b"\0" * 9)
    assert main(["ingest", str(broken), "--data", str(fresh)]) == 2
    err = capsys.readouterr().err
    assert "broken.jsonl.zst" in err and "Zstandard" in err and "Traceback" not in err


def test_a_segment_header_is_looked_for_at_the_start_of_each_line_only():
    """``segment_chunks`` looks at the first bytes of each line of a block for a raw
    segment's header: one at the start of any line is found, the mark inside a line or
    cut short at the end of the block is not."""
    import io

    from faceanalytics.pipeline._chunks import _SEGMENT_MARK, _opens_a_line, iter_chunks

    cases = {b'{"_segment":{}}\n{"a":1}': True, b'{"a":1}\n{"_segment":{}}': True,
             b'{"a":1}\n{"_segment":{}}\n{"b":2}': True, b'{"a":"{\\"_segment\\""}\n{"b":2}': False,
             b'x{"_segment":{}}': False, b' {"_segment":{}}': False, b'{"a":1}\n{"_segmen': False,
             b'{"a":1}\n\n{"_segment"': True, b'{"a":1}': False}
    for data, want in cases.items():
        blocks = [b for _, b in iter_chunks(io.BytesIO(data), 100)]
        assert len(blocks) == 1
        assert _opens_a_line(blocks[0], _SEGMENT_MARK) is want, data
        assert want == any(ln.startswith(_SEGMENT_MARK) for ln in blocks[0].buf.split(b"\n"))


def _zstd(path, data: bytes):
    import pyarrow as pa

    with pa.output_stream(str(path), compression="zstd") as out:
        out.write(data)
    return path


def _padded_lite(n: int, pad: int = 16 << 10) -> bytes:
    """``n`` Lite envelopes, each with an unknown key of ``pad`` incompressible characters
    (a Zstandard file cut at half its bytes then holds about half of them)."""
    import os

    lines = []
    for i in range(n):
        p = dict(seed("megvii_lite_success.json"), pad=os.urandom(pad // 2).hex())
        sid = f"1462259748,{i:08d}-8dfb-4537-a62b-a641d5e929f1"
        p["biz_info"] = dict(p["biz_info"], biz_id=sid)
        lines.append(json.dumps(envelope("megvii_lite", sid, p)))
    return ("\n".join(lines) + "\n").encode()


def test_a_damaged_zstd_input_lands_what_came_before_and_the_files_after_it(tmp_path, capsys):
    """A .jsonl.zst cut short among several inputs: the records before the cut land (they
    were dropped with the block being read), and so do the files after it (never read), with
    the counts printed before the one line that names it."""
    whole = _zstd(tmp_path / "whole.jsonl.zst", _padded_lite(600))
    cut = tmp_path / "cut.jsonl.zst"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    after = write_jsonl(tmp_path / "after.jsonl", [envelope("baidu_getall", "tokA", seed("baidu_getall.json"))])
    data = tmp_path / "d"
    assert main(["ingest", str(cut), str(after), "--data", str(data), "--json"]) == 2
    out, err = capsys.readouterr()
    rep = json.loads(out)
    assert 200 < rep["landed"] < 600 and rep["quarantined"] <= 1  # the line the cut went through
    assert "cut.jsonl.zst: not a readable Zstandard file" in err and "Traceback" not in err
    sessions = load(data, "sessions")
    assert "tokA" in set(sessions.session_id) and len(sessions) == rep["landed"]


def test_rebuild_with_a_damaged_segment_names_it_and_keeps_the_tables(archive, capsys):
    """A raw segment cut short (a disk error, a copy cut short) made rebuild die with a
    traceback; now every damaged segment is named and the tables stay as they were."""
    data, segs = archive
    before = _tables(data)
    segs[0].write_bytes(segs[0].read_bytes()[:-40])
    assert main(["rebuild", "--data", str(data)]) == 1
    err = capsys.readouterr().err
    assert segs[0].name in err and "Zstandard" in err and "left as they were" in err
    assert "Traceback" not in err
    _same_tables(before, _tables(data))
    assert not DataDir(data).tables_at(DataDir(data).REBUILD).exists()


@pytest.mark.parametrize("n", [3, 600])
def test_ingesting_the_original_again_writes_a_damaged_segment_anew(tmp_path, n):
    """The archive dedupes a chunk by its digest: a damaged segment used to be trusted, so the
    original ingested again failed on its header (a small segment: ``Truncated compressed
    stream``) or was skipped, leaving the archive damaged for good (a large one)."""
    src = tmp_path / "in.jsonl"
    src.write_bytes(_padded_lite(n, pad=1 << 10 if n < 10 else 16 << 10))
    data = tmp_path / "d"
    assert ingest([src], data).landed == n
    (seg,) = (data / "raw").glob("*/*.jsonl.zst")
    seg.write_bytes(seg.read_bytes()[: seg.stat().st_size // 2])
    rep = ingest([src], data)
    assert (rep.read, rep.skipped) == (n, n)
    (again,) = (data / "raw").glob("*/*.jsonl.zst")
    assert again == seg and len(read_segment(seg).lines) == n
    assert rebuild(data).landed == n
