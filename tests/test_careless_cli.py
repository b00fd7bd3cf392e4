"""The careless operator at the command line: ``--data`` given as a folder inside a data
directory.  In-process ``cli.main``."""
from __future__ import annotations

import pytest

import faceanalytics.cli as cli

from _helpers import envelope, seed, write_jsonl


def _lite(i: int) -> dict:
    sid = f"1700000000,careless-{i:04d}"
    return envelope("megvii_lite", sid, {**seed("megvii_lite_success.json"), "biz_id": sid})


@pytest.fixture()
def data(tmp_path):
    """A data directory with a few sessions in it."""
    d = tmp_path / "data"
    assert cli.main(["ingest", str(write_jsonl(tmp_path / "a.jsonl", [_lite(i) for i in range(3)])),
                     "--data", str(d), "-q"]) == 0
    return d


@pytest.mark.parametrize("part", ["raw", "tables", "state", "raw/2026-11-20", "tables/sessions"])
def test_data_inside_a_data_directory_is_refused_naming_the_directory(data, tmp_path, capsys, part):
    # `ingest --data DATA/raw` made a second data directory inside the first: its own
    # masking key, its own archive, tables the review of DATA never sees.
    before = sorted(p.relative_to(data) for p in data.rglob("*"))
    more = write_jsonl(tmp_path / "b.jsonl", [_lite(9)])
    capsys.readouterr()
    assert cli.main(["ingest", str(more), "--data", str(data / part)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"inside the data directory {data}" in err and f"give --data {data}" in err
    assert sorted(p.relative_to(data) for p in data.rglob("*")) == before   # nothing written anywhere


@pytest.mark.parametrize("argv", [
    ["review", "--out", "{tmp}/r.html"],
    ["rebuild"],
    ["fetch", "megvii-lite", "--ids", "{tmp}/a.jsonl"],
    ["download-media"],
])
def test_every_command_refuses_data_inside_a_data_directory(data, tmp_path, capsys, argv):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    assert cli.main([*argv, "--data", str(data / "tables")]) == 2
    assert f"give --data {data}" in capsys.readouterr().err


def test_a_folder_merely_named_raw_or_a_path_through_dotdot_is_a_data_directory(data, tmp_path, capsys):
    assert cli.main(["ingest", str(tmp_path / "a.jsonl"), "--data", str(data / "raw" / ".."), "-q"]) == 0
    plain = tmp_path / "elsewhere" / "raw"                 # no data directory around it
    assert cli.main(["ingest", str(tmp_path / "a.jsonl"), "--data", str(plain), "-q"]) == 0
    assert (plain / "tables" / "sessions").is_dir()
