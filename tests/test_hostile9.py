"""Hostile and careless input, round 9: a labels file of millions of lines, a raw segment that
decompresses huge, the Python API's output folder, a stored segment value reading ``(other)``."""
from __future__ import annotations

import json

import pytest
from test_hostile8 import SINCE, UNTIL, _landed


# ---------------------------------------------------------------------------- 4. a stored "(other)" in zh-CN

def test_a_stored_other_is_shown_as_stored_in_a_chinese_report(tmp_path):
    """A client's dropdown sending ``channel=(other)``: counted apart from the values left out
    since round 8 (``((other))``), but a zh-CN report showed the stored value as the translated
    catch-all (（其他）), and the values left out as ``((other))``: the two swapped.  The stored
    value is shown as stored; the catch-all translated (in parentheses once more)."""
    from faceanalytics.report import review

    blob = "B" * 400
    chan = ["app", "h5", "(other)", blob + "1", blob + "2"]
    d = _landed(tmp_path, lambda i: json.dumps({"channel": chan[i % 5]}), n_lite=200)
    en = review(d, SINCE, UNTIL, segments=["channel"]).tables()["segments"]
    zh = review(d, SINCE, UNTIL, segments=["channel"], lang="zh-CN")
    seg = zh.tables()["segments"]
    n_en = dict(zip(en["value"], en["n"]))
    n_zh = dict(zip(seg["value"], seg["n"]))
    assert set(n_zh) == {"app", "h5", "(other)", "(（其他）)"}, n_zh
    assert n_zh["(other)"] == n_en["(other)"] and n_zh["(（其他）)"] == n_en["((other))"]
    html = zh.html()
    assert ">(other)<" in html and ">(（其他）)<" in html


# ---------------------------------------------------------------------------- 3. the Python API's output folder

def test_write_report_into_a_missing_folder_is_refused_as_the_cli_does(tmp_path, monkeypatch):
    """``fa.write_report(data, "missing/folder/r.html")`` made the whole tree while ``review --out``
    refuses it (a typo in a folder): one rule for both, as ``open()`` has.  Refused before the
    review's work, naming the folder; nothing is made; an existing folder still gets the report."""
    import faceanalytics as fa

    d = _landed(tmp_path, lambda i: "channel=app")
    out = tmp_path / "missing" / "folder" / "r.html"
    monkeypatch.setattr("faceanalytics.report.review", lambda *a, **k: pytest.fail("reviewed first"))
    with pytest.raises(FileNotFoundError, match=r"out .*r\.html: there is no folder .*missing/folder to write it "
                                                r"in .*create the folder first"):
        fa.write_report(d, out, SINCE, UNTIL)
    with pytest.raises(FileNotFoundError, match=r"xlsx .*b\.xlsx: there is no folder"):
        fa.write_report(d, tmp_path / "r.html", SINCE, UNTIL, xlsx=tmp_path / "nope" / "b.xlsx")
    assert not (tmp_path / "missing").exists() and not (tmp_path / "nope").exists()
    assert not (tmp_path / "r.html").exists() and not list(tmp_path.glob("*.findings.json"))
    monkeypatch.undo()
    with pytest.raises(IsADirectoryError, match="is a directory; give the file to write"):
        fa.write_report(d, tmp_path, SINCE, UNTIL)
    assert fa.write_report(d, tmp_path / "r.html", SINCE, UNTIL).is_file()


# ---------------------------------------------------------------------------- 2. a segment that decompresses huge

def test_a_raw_segment_that_decompresses_huge_is_refused_not_read_whole(tmp_path, monkeypatch):
    """``read_segment`` (``RawArchive.iter_segments``) decompressed a whole segment into memory:
    a small zstd file expanding to GBs (a bomb, a damaged or hostile archive) took all memory.
    Read in blocks and refused past the limit, naming the file (here a 1 MiB limit, a 40 MiB
    bomb of ~4 KB); a segment under it reads as before."""
    import pyarrow as pa

    from faceanalytics.storage import archive
    from faceanalytics.storage.archive import RawArchive, read_segment

    monkeypatch.setattr(archive, "READ_LIMIT", 1 << 20, raising=False)
    day = tmp_path / "data" / "raw" / "2026-06-01"
    day.mkdir(parents=True)
    bomb = day / "000000000000-bomb.jsonl.zst"
    with pa.CompressedOutputStream(str(bomb), "zstd") as out:
        out.write(b'{"_segment": {"lines": 1}}\n')
        for _ in range(40):
            out.write(b" " * (1 << 20))
    assert bomb.stat().st_size < 64 << 10
    with pytest.raises(RuntimeError, match=r"raw segment .*bomb\.jsonl\.zst decompresses to more than 1 MiB"):
        read_segment(bomb)
    with pytest.raises(RuntimeError, match="decompresses to more than 1 MiB"):
        list(RawArchive(tmp_path / "data").iter_segments())
    small = day / "000000000001-small.jsonl.zst"
    with pa.CompressedOutputStream(str(small), "zstd") as out:
        out.write(b'{"_segment": {"lines": 2}}\n{"a": 1}\n{"b": 2}\n')
    seg = read_segment(small)
    assert seg.meta == {"lines": 2} and seg.lines == [b'{"a": 1}', b'{"b": 2}']
