"""The careless operator at the command line: ``--data`` given as a folder inside a data
directory, Ctrl-C in the middle of a command (one line saying what was kept, exit 130,
no traceback; running again loses nothing and lands nothing twice), a one-value option given
twice, ``--what`` naming an API twice or none.  In-process ``cli.main``."""
from __future__ import annotations

import json
import socket

import pandas as pd
import pytest

import faceanalytics.cli as cli
import faceanalytics.pipeline.fetch as fetch_mod
import faceanalytics.pipeline.ingest as ingest_mod
from faceanalytics.sandbox import Sandbox

from _helpers import lite_session, small_data_dir, write_jsonl


def _lite(i: int) -> dict:
    return lite_session(i, "careless")


@pytest.fixture()
def data(tmp_path):
    """A data directory with a few sessions in it."""
    return small_data_dir(tmp_path, "careless")


def _main(argv) -> int:
    """``cli.main``, a KeyboardInterrupt escaping it turned into a test failure (not the end of the run)."""
    try:
        return cli.main(argv)
    except KeyboardInterrupt:
        pytest.fail("KeyboardInterrupt escaped cli.main (a traceback at the terminal)")


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


def test_ctrl_c_in_ingest_says_what_was_kept_and_running_again_lands_the_rest_once(tmp_path, capsys,
                                                                                    monkeypatch):
    first = write_jsonl(tmp_path / "first.jsonl", [_lite(i) for i in range(4)])
    second = write_jsonl(tmp_path / "second.jsonl", [_lite(i) for i in range(4, 10)])
    real = ingest_mod.ingest

    def cut_short(files, data, **kw):     # Ctrl-C once the first file's chunk has landed
        real(files[:1], data, **kw)
        raise KeyboardInterrupt

    monkeypatch.setattr(ingest_mod, "ingest", cut_short)
    data = tmp_path / "data"
    assert _main(["ingest", str(first), str(second), "--data", str(data)]) == 130
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("faceanalytics ingest: interrupted; ")
    assert "kept" in err and "again" in err and "twice" in err
    monkeypatch.setattr(ingest_mod, "ingest", real)
    assert _main(["ingest", str(first), str(second), "--data", str(data), "--json"]) == 0
    out = capsys.readouterr().out
    assert '"landed": 6' in out and '"skipped": 4' in out
    ids = pd.read_parquet(data / "tables" / "sessions", columns=["session_id"]).session_id
    assert len(ids) == ids.nunique() == 10


@pytest.mark.parametrize("command,words", [
    (["fetch", "megvii-lite", "--ids", "{tmp}/ids.txt", "--data", "{tmp}/d"], ["journal", "again"]),
    (["rebuild", "--data", "{data}"], ["as they were", "again"]),
])
def test_ctrl_c_in_fetch_and_rebuild_says_what_was_kept(data, tmp_path, capsys, monkeypatch, command, words):
    (tmp_path / "ids.txt").write_text("1700000000,careless-0001\n")
    monkeypatch.setenv("MEGVII_BASE_URL", "http://127.0.0.1:9")      # never reached: interrupted first

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(fetch_mod, "fetch_megvii", interrupted)
    monkeypatch.setattr(ingest_mod, "rebuild", interrupted)
    argv = [a.replace("{tmp}", str(tmp_path)).replace("{data}", str(data)) for a in command]
    capsys.readouterr()
    assert _main(argv) == 130
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"faceanalytics {command[0]}: interrupted; ")
    assert all(w in err for w in words), err


def test_ctrl_c_while_the_command_line_is_parsed_is_no_traceback(monkeypatch, capsys):
    def slow_import():
        raise KeyboardInterrupt     # pressed while pyarrow was being imported

    monkeypatch.setattr(cli, "_parser", slow_import)
    assert _main(["ingest", "x.jsonl", "--data", "d"]) == 130
    assert capsys.readouterr().err.startswith("faceanalytics ingest: interrupted")


def test_a_baidu_api_named_twice_is_asked_once(tmp_path, capsys, monkeypatch):
    with Sandbox(seed=5, n_lite=0, n_liveness=0, n_baidu=4) as sb:
        for k, v in sb.env().items():
            monkeypatch.setenv(k, v)
        tokens = tmp_path / "tokens.txt"
        tokens.write_text("\n".join(sb.ids("baidu")) + "\n")
        assert cli.main(["fetch", "baidu", "--tokens", str(tokens), "--what", "stat, stat,", "--data",
                         str(tmp_path / "d"), "--base-url", sb.url, "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["calls"] == rep["landed"] == 4        # was 8 calls: stat asked twice per token


@pytest.mark.parametrize("argv,msg", [
    (["fetch", "baidu", "--tokens", "t.txt", "--what", " , ", "--data", "d"], "name at least one Baidu result API"),
    (["fetch", "megvii-lite", "--ids", "a.txt", "--ids", "b.txt", "--data", "d"], "--ids given twice (a.txt, b.txt)"),
    (["ingest", "x.jsonl", "--data", "a", "--data", "b"], "--data given twice (a, b)"),
    (["review", "--data", "d", "--out", "r1.html", "--out", "r2.html"], "--out given twice"),
])
def test_an_empty_what_or_a_one_value_option_given_twice_is_a_usage_error(tmp_path, monkeypatch, capsys, argv, msg):
    # argparse kept the last --ids / --data silently: a's ids never fetched, nothing said
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as e:
        cli.main(argv)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert msg in err and "Traceback" not in err
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists() and not (tmp_path / "d").exists()


def test_the_same_value_given_twice_is_accepted(tmp_path, capsys):
    f = write_jsonl(tmp_path / "a.jsonl", [_lite(1)])
    d = str(tmp_path / "d")
    assert cli.main(["ingest", str(f), "--data", d, "--data", d, "-q"]) == 0


def test_a_base_url_given_twice_is_refused_without_echoing_it(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["fetch", "megvii-lite", "--ids", "a.txt", "--data", "d", "--base-url",
                  "https://u:hunter2@127.0.0.1:1", "--base-url", "https://127.0.0.1:2"])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "--base-url given twice; it takes one value" in err and "hunter2" not in err


@pytest.fixture()
def taken_port():
    """A loopback port another server holds."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


def test_receive_and_sandbox_on_a_port_in_use_say_which_and_what_to_change(tmp_path, capsys, monkeypatch,
                                                                          taken_port):
    # was the bare "[Errno 98] Address already in use"
    monkeypatch.setenv("MEGVII_API_SECRET", "sandbox-secret-0123")
    assert cli.main(["receive", "--data", str(tmp_path / "d"), "--port", str(taken_port)]) == 1
    assert cli.main(["sandbox", "--port", str(taken_port)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [f"faceanalytics {c}: cannot listen on 127.0.0.1:{taken_port}: the port is in use (another "
                   "server holds it); choose another --port" for c in ("receive", "sandbox")]


def test_receive_on_an_address_not_of_this_machine_says_so(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MEGVII_API_SECRET", "sandbox-secret-0123")
    assert cli.main(["receive", "--data", str(tmp_path / "d"), "--host", "192.0.2.1", "--port", "0"]) == 1
    assert capsys.readouterr().err == ("faceanalytics receive: cannot listen on 192.0.2.1:0: 192.0.2.1 is not "
                                       "an address of this machine\n")


SECRET = "sandbox-secret-0123"


def _will_file(path):
    from faceanalytics.crypto import encrypt_will_file

    path.write_bytes(encrypt_will_file(bytes(range(256)) * 8, SECRET))
    return path


def test_decrypt_media_onto_its_own_input_is_refused_and_the_download_kept(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MEGVII_API_SECRET", SECRET)
    blob = _will_file(tmp_path / "will file ü.bin")
    before = blob.read_bytes()
    assert cli.main(["decrypt-media", str(blob), str(tmp_path / "." / "will file ü.bin")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is IN itself" in err
    assert blob.read_bytes() == before


def test_a_quoted_tilde_is_the_home_folder_as_for_data(tmp_path, capsys, monkeypatch):
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir(), work.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(work)
    monkeypatch.setenv("MEGVII_API_SECRET", SECRET)
    _will_file(home / "w.bin")
    assert cli.main(["decrypt-media", "~/w.bin", "~/w.mp4", "-q"]) == 0
    assert (home / "w.mp4").read_bytes() == bytes(range(256)) * 8
    write_jsonl(home / "a.jsonl", [_lite(1)])
    assert cli.main(["ingest", "~/a.jsonl", "--data", "~/d", "-q"]) == 0
    assert (home / "d" / "tables" / "sessions").is_dir()
    assert list(work.iterdir()) == []            # no folder named "~" in the working directory


@pytest.mark.parametrize("more,msg", [
    (["--xlsx", "{tmp}/r.html"], "--xlsx {tmp}/r.html is the same file as --out"),
    (["--xlsx", "{tmp}/r.findings.json"], "is the same file as its findings file"),
    (["--xlsx", "{tmp}/./labels.csv", "--labels", "{tmp}/labels.csv"], "is the same file as --xlsx"),
    (["--xlsx", "{data}/tables/b.xlsx"], "--xlsx {data}/tables/b.xlsx is inside the data directory {data}"),
])
def test_review_files_that_would_overwrite_each_other_or_sit_among_the_tables_are_refused(
        data, tmp_path, capsys, more, msg):
    # --out r.html --xlsx r.html wrote the workbook over the report, exit 0
    labels = tmp_path / "labels.csv"
    labels.write_text("session_id,genuine\n1700000000,careless-0001,true\n")
    fill = lambda a: a.replace("{tmp}", str(tmp_path)).replace("{data}", str(data))  # noqa: E731
    before = sorted(tmp_path.rglob("*"))
    assert cli.main(["review", "--data", str(data), "--out", str(tmp_path / "r.html"), *map(fill, more)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and fill(msg) in err
    assert sorted(tmp_path.rglob("*")) == before and labels.read_text().startswith("session_id,genuine\n")


def test_review_out_inside_the_tables_is_refused_and_beside_them_written(data, capsys):
    assert cli.main(["review", "--data", str(data), "--out", str(data / "tables" / "r.html")]) == 2
    assert f"write it elsewhere, e.g. {data / 'r.html'}" in capsys.readouterr().err
    assert cli.main(["review", "--data", str(data), "--out", str(data / "r.html"), "-q"]) == 0
    assert (data / "r.html").is_file()


@pytest.mark.parametrize("kind", ["gzip", "zip", "parquet"])
def test_a_compressed_file_or_a_table_given_to_ingest_is_refused_and_nothing_ingested(tmp_path, capsys, kind):
    # each line was quarantined as "not valid JSON", exit 0
    import gzip
    import zipfile

    good = write_jsonl(tmp_path / "good.jsonl", [_lite(1)])
    bad = tmp_path / f"records.{kind}"
    if kind == "gzip":
        bad.write_bytes(gzip.compress(good.read_bytes()))
    elif kind == "zip":
        with zipfile.ZipFile(bad, "w") as z:
            z.write(good, "good.jsonl")
    else:
        pd.DataFrame({"session_id": ["x"]}).to_parquet(bad)
    assert cli.main(["ingest", str(good), str(bad), "--data", str(tmp_path / "d")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{bad} is " in err and "not JSONL" in err and "nothing was ingested" in err
    assert not (tmp_path / "d").exists()


@pytest.mark.parametrize("command", [["fetch", "megvii-lite", "--ids", "{tmp}/ids.txt"], ["download-media"]])
@pytest.mark.parametrize("url", ["", "  "])
def test_an_empty_base_url_is_refused_not_the_default_provider(data, tmp_path, capsys, monkeypatch, command, url):
    # `--base-url "$URL"`, URL unset: fell back to MEGVII_BASE_URL, else the real provider
    (tmp_path / "ids.txt").write_text("1700000000,careless-0001\n")
    monkeypatch.setenv("MEGVII_BASE_URL", "http://127.0.0.1:9")     # what main fell back to (closed port)
    monkeypatch.setenv("MEGVII_API_KEY", "k")
    monkeypatch.setenv("MEGVII_API_SECRET", "s")
    target = str(tmp_path / "f") if command[0] == "fetch" else str(data)
    argv = [a.replace("{tmp}", str(tmp_path)) for a in command]
    capsys.readouterr()
    with pytest.raises(SystemExit) as e:
        cli.main([*argv, "--data", target, "--base-url", url])
    assert e.value.code == 2
    assert "argument --base-url: empty (an unset shell variable?)" in capsys.readouterr().err
    assert not (tmp_path / "f").exists()


def test_fetch_baidu_from_python_asks_an_api_named_twice_once(tmp_path, monkeypatch):
    """The command line's --what was deduplicated; fa.fetch_baidu(what="stat,stat") still asked
    stat twice per token (two calls of quota for one answer)."""
    import faceanalytics as fa

    with Sandbox(seed=5, n_lite=0, n_liveness=0, n_baidu=3) as sb:
        for k, v in sb.env().items():
            monkeypatch.setenv(k, v)
        rep = fa.fetch_baidu(sb.ids("baidu"), tmp_path / "d", what=["stat", " stat"], base_url=sb.url,
                             progress=False)
    assert rep.calls == rep.landed == 3


def test_a_byte_order_mark_opening_an_ingest_file_is_no_record(tmp_path, capsys):
    """A file saved by a Windows editor opens with a UTF-8 BOM: its first record was
    quarantined as "not valid JSON" (4 of 5 landed)."""
    env = {"source": "megvii_lite", "fetched_at": "2026-01-01T00:00:00Z", "http_status": 200}
    lines = [json.dumps({**env, "session_id": f"1700000000,id{i}",
                         "payload": {"request_id": f"r{i}", "biz_id": f"1700000000,id{i}", "status": "OK"}})
             for i in range(5)]
    f = tmp_path / "bom.jsonl"
    f.write_bytes(b"\xef\xbb\xbf" + "\n".join(lines).encode() + b"\n")
    assert cli.main(["ingest", str(f), "--data", str(tmp_path / "d"), "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert (rep["read"], rep["landed"], rep["quarantined"]) == (5, 5, 0)


def test_decrypt_media_with_another_accounts_secret_warns_that_the_file_is_not_media(tmp_path, capsys, monkeypatch):
    """AES with the wrong key decrypts to noise without an error: decrypt-media wrote it and
    said nothing.  Now a file that opens like no common video or image container is written
    with a warning naming the secret; the right secret gives no warning."""
    from faceanalytics.crypto import encrypt_will_file

    mp4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + bytes(range(256)) * 8
    blob = tmp_path / "w.bin"
    blob.write_bytes(encrypt_will_file(mp4, SECRET))
    monkeypatch.setenv("MEGVII_API_SECRET", SECRET)
    assert cli.main(["decrypt-media", str(blob), str(tmp_path / "ok.mp4"), "-q"]) == 0
    assert (tmp_path / "ok.mp4").read_bytes() == mp4 and capsys.readouterr().err == ""
    monkeypatch.setenv("MEGVII_API_SECRET", "another-accounts-secret-0123456789")
    assert cli.main(["decrypt-media", str(blob), str(tmp_path / "bad.mp4"), "-q"]) == 0
    err = capsys.readouterr().err
    assert "does not begin like a video or image" in err and "MEGVII_API_SECRET" in err
    assert "another-accounts-secret" not in err and err.count("\n") == 1


def test_decrypt_media_of_a_will_audio_file_gives_no_warning(tmp_path, capsys, monkeypatch):
    """A will_audio download decrypts to MP3, WAV or Ogg: the check that the file opens like
    media knows the containers the downloads' own extensions come from (it warned of the audio
    as if the secret were wrong)."""
    from faceanalytics.crypto import encrypt_will_file

    monkeypatch.setenv("MEGVII_API_SECRET", SECRET)
    for name, head in (("a.mp3", b"ID3\x04\x00\x00\x00\x00\x00\x00"), ("b.ogg", b"OggS\x00\x02"),
                       ("c.wav", b"RIFF\x24\x08\x00\x00WAVEfmt ")):
        blob = tmp_path / f"{name}.bin"
        blob.write_bytes(encrypt_will_file(head + bytes(range(256)) * 8, SECRET))
        assert cli.main(["decrypt-media", str(blob), str(tmp_path / name), "-q"]) == 0
        assert capsys.readouterr().err == "", name
