"""Hostile and careless input, round 8: provider text on the terminal, careless output paths,
segment values and keys that look like the review's own words, and what no round probed yet
(S3 storage, rebuild on hostile archives, environment variables, the sandbox server, the
callback decryption)."""
from __future__ import annotations

import json
import time

import pytest

from faceanalytics.cli import main

ESC = "\x1b]0;pwned\x07\x1b[2J\x9b"          # retitles and clears a terminal
RLO = "\u202e"


def _no_controls(text: str) -> None:
    assert "\x1b" not in text and "\x07" not in text and "\x9b" not in text and RLO not in text, text


# ---------------------------------------------------------------------------- 1. provider text on the terminal

def test_a_provider_error_that_stops_a_fetch_is_printed_escaped(tmp_path, monkeypatch, capsys):
    """Baidu's token endpoint answering ``{"error": "invalid_client<ESC ...>"}`` stops the fetch
    (the credentials cannot work), and ``fetch: stopped: ...`` printed the provider's text as it
    came: a stand-in (or anyone on the path of a plain-HTTP base URL) retitled and cleared the
    analyst's terminal.  Each control character is shown as its escape, as the command line's
    other errors are (``cli._message``)."""
    from faceanalytics.clients.testing import Reply, ScriptedServer

    with ScriptedServer() as server:
        server.script("/oauth/2.0/token", Reply(401, {"error": f"invalid_client{ESC}",
                                                      "error_description": f"unknown client id{RLO}x"}))
        monkeypatch.setenv("BAIDU_API_KEY", "bk-123456")
        monkeypatch.setenv("BAIDU_SECRET_KEY", "bs-secret-0987654321")
        tokens = tmp_path / "t.txt"
        tokens.write_text("a" * 24 + "\n" + "b" * 24 + "\n")
        code = main(["fetch", "baidu", "--tokens", str(tokens), "--data", str(tmp_path / "d"),
                     "--base-url", server.url, "--no-progress"])
    out, err = capsys.readouterr()
    assert code == 2
    assert "stopped:" in err and "invalid_client\\x1b]0;pwned\\x07\\x1b[2J\\x9b" in err
    _no_controls(out + err)
    assert "bs-secret-0987654321" not in out + err


def test_download_reasons_quoting_a_provider_code_are_printed_escaped(tmp_path, monkeypatch, capsys):
    """``download-media`` counts a failed download under the provider's error code (the text
    before ``:`` of its ``error_message``) and printed those counts as they came."""
    from _helpers import seed, write_jsonl

    from faceanalytics.clients.testing import Reply, ScriptedServer
    from faceanalytics.pipeline.ingest import ingest

    monkeypatch.setenv("MEGVII_API_KEY", "mk-123456")
    monkeypatch.setenv("MEGVII_API_SECRET", "ms-secret-0987654321")
    with ScriptedServer() as base:
        base.script("/will/a.mp4", Reply(403, {"error_message": f"DENIED{ESC}\nforged line: no"}))
        p = seed("megvii_lite_success.json")
        p["biz_info"]["biz_id"] = "1700000000,will-1"
        p["will_file"] = {"will_video": f"{base.url}/will/a.mp4", "will_audio": ""}
        rec = {"source": "megvii_lite", "session_id": "1700000000,will-1", "fetched_at": "2026-11-20T10:00:00Z",
               "http_status": 200, "payload": p}
        ingest([write_jsonl(tmp_path / "in.jsonl", [rec])], tmp_path / "d")
        capsys.readouterr()
        assert main(["download-media", "--data", str(tmp_path / "d"), "--base-url", base.url]) == 0
    out, err = capsys.readouterr()
    assert "DENIED\\x1b]0;pwned\\x07\\x1b[2J\\x9b\\nforged line" in out       # one line
    _no_controls(out + err)


def test_a_file_name_holding_an_escape_sequence_is_printed_escaped(tmp_path, capsys):
    """``ingest shared/*.jsonl`` over a folder others write to: a file named ``x<ESC ...>.jsonl``
    whose last line is not finished yet was named in ``left unfinished: ...`` as it was, and the
    terminal retitled and cleared."""
    rec = {"source": "megvii_lite", "session_id": "1700000000,a", "fetched_at": "2026-01-01T00:00:00Z",
           "http_status": 200, "payload": {"biz_id": "1700000000,a"}}
    f = tmp_path / f"x{ESC}.jsonl"
    f.write_text(json.dumps(rec)[:-1])                   # no newline, not whole JSON: unfinished
    assert main(["ingest", str(f), "--data", str(tmp_path / "d")]) == 0
    out, err = capsys.readouterr()
    assert "left unfinished: " in out and "x\\x1b]0;pwned\\x07\\x1b[2J\\x9b.jsonl" in out
    _no_controls(out + err)


# ---------------------------------------------------------------------------- 2. careless output paths

def test_an_output_file_in_a_folder_that_is_not_there_is_refused_and_nothing_is_made(tmp_path, monkeypatch, capsys):
    """``review --out /hmoe/me/r.html`` (a typo) made the whole tree ``/hmoe/me`` and wrote the
    report where nobody would look.  A file is written only into a folder that is there, as
    ``cp``, ``curl -o`` or the shell's ``>`` do: exit 2 with one line naming the folder, and
    nothing made (the report, its findings, the workbook; ``decrypt-media``'s OUT alike)."""
    import _planted as P

    from faceanalytics.pipeline.ingest import ingest

    recs = P.records(8, n_lite=40, n_liveness=0, n_baidu=0, reference_date="2026-07-01", window_days=30)
    d = tmp_path / "data"
    ingest([P.write(tmp_path / "r.jsonl", recs)], d)
    (tmp_path / "afile").write_text("x")
    base = ["review", "-q", "--data", str(d), "--since", "2026-06-01", "--until", "2026-07-02"]
    for out, xlsx in ((tmp_path / "typo" / "deeper" / "r.html", None),
                      (tmp_path / "afile" / "r.html", None),
                      (tmp_path / "r.html", tmp_path / "typo" / "b.xlsx")):
        capsys.readouterr()
        assert main([*base, "--out", str(out), *(["--xlsx", str(xlsx)] if xlsx else [])]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "create the folder first" in err, err
        assert str((xlsx or out).parent) in err
    assert not (tmp_path / "typo").exists() and not (tmp_path / "r.html").exists()
    blob = tmp_path / "in.bin"
    blob.write_bytes(b"\0" * 64)
    monkeypatch.setenv("MEGVII_API_SECRET", "s" * 32)
    assert main(["decrypt-media", str(blob), str(tmp_path / "typo" / "out.mp4")]) == 2
    assert not (tmp_path / "typo").exists()
    # a folder that is there: written as before
    assert main([*base, "--out", str(tmp_path / "r.html")]) == 0 and (tmp_path / "r.html").is_file()


# ---------------------------------------------------------------------------- 3. segment keys and values

SINCE, UNTIL = "2026-06-01", "2026-07-02"


def _landed(tmp_path, extra, n_lite=160):
    """A month of Lite sessions whose ``biz_extra_data`` is ``extra(i)``: the data directory."""
    import _planted as P

    from faceanalytics.pipeline.ingest import ingest

    recs = P.records(8, n_lite=n_lite, n_liveness=0, n_baidu=0, reference_date="2026-07-01", window_days=30)
    i = 0
    for rec in recs:
        if rec["source"] == "megvii_lite":
            rec["payload"]["biz_info"]["biz_extra_data"] = extra(i)
            i += 1
    tmp_path.mkdir(parents=True, exist_ok=True)
    d = tmp_path / "data"
    ingest([P.write(tmp_path / "r.jsonl", recs)], d)
    return d


def test_a_segment_key_stored_percent_encoded_is_asked_for_as_it_reads(tmp_path, capsys):
    """``k=v&`` texts are often URL-encoded as a whole: the key 名字 stored as
    ``%E5%90%8D%E5%AD%97``.  The report shows it decoded, so ``--segment 名字`` is what an analyst
    types, and it was refused (no such key; the refusal listed the escapes).  The stored key
    that reads as the name asked is counted; two stored spellings of it are refused, naming both."""
    from urllib.parse import quote

    import pandas as pd

    from faceanalytics.report import review

    enc = quote("名字")
    d = _landed(tmp_path, lambda i: f"{enc}={quote(['应用', '网页'][i % 2])}&n={i}")
    asked = review(d, SINCE, UNTIL, segments=["名字"]).tables()["segments"]
    stored = review(d, SINCE, UNTIL, segments=[enc]).tables()["segments"]
    assert sorted(asked["value"]) == ["应用", "网页"] and asked["n"].sum() > 50      # shown decoded
    pd.testing.assert_frame_equal(asked, stored)
    assert main(["review", "-q", "--data", str(d), "--out", str(tmp_path / "r.html"), "--since", SINCE,
                 "--until", UNTIL, "--segment", "名字"]) == 0
    assert "应用" in (tmp_path / "r.html").read_text()
    # stored two ways: which one is meant is not guessed
    d2 = _landed(tmp_path / "2", lambda i: f"{[enc, enc.lower()][i % 2]}=x{i % 3}")
    with pytest.raises(ValueError, match="store it as 2 keys"):
        review(d2, SINCE, UNTIL, segments=["名字"])


def test_a_stored_value_that_reads_other_is_not_merged_into_the_values_left_out(tmp_path):
    """A client whose dropdown sends ``channel=(other)`` wrote the very text the review counts
    the values it leaves out under: both got the same digit, so those sessions and the blobs
    left out were one row, one series, one finding.  The stored value is counted as stored;
    the values left out go under another text for that key (``((other))``), in DuckDB, in
    pandas and in the explorer."""
    import faceanalytics as fa
    from faceanalytics.report import review

    blob = "B" * 400
    chan = ["app", "h5", "(other)", blob + "1", blob + "2"]
    d = _landed(tmp_path, lambda i: json.dumps({"channel": chan[i % 5]}), n_lite=200)
    sessions = fa.load(d, "sessions")
    want = sessions["biz_extra_data"].map(lambda s: json.loads(s)["channel"]).value_counts()
    for engine in ("duckdb", "pandas"):
        seg = review(d, SINCE, UNTIL, segments=["channel"], engine=engine).tables()["segments"]
        counts = dict(zip(seg["value"], seg["n"]))
        assert set(counts) == {"app", "h5", "(other)", "((other))"}, (engine, counts)
        # n counts comparisons: each value's share follows its sessions'
        total = sum(counts.values())
        assert counts["(other)"] < counts["((other))"] and counts["(other)"] > 0, counts
        assert abs(counts["(other)"] / total - want["(other)"] / want.sum()) < 0.1
    ex = fa.threshold_explorer(d, segments=["channel"], since=SINCE, until=UNTIL)
    options = [v for _, v in ex.controls["segment"].options]
    assert ("channel", "(other)") in options and ("channel", "((other))") in options
    ex.controls["segment"].value = ("channel", "(other)")
    n_stored = ex.state()["n"]
    ex.controls["segment"].value = ("channel", "((other))")
    assert 0 < n_stored < ex.state()["n"]


# ---------------------------------------------------------------------------- 4. environment variables

LATIN1_SECRET = "Zq\udce9Xw-secret-value-31"      # os.environ's reading of b"Zq\xe9Xw...": an env file saved as Latin-1


@pytest.mark.parametrize("command", ["fetch", "decrypt-media", "ingest"])
def test_a_secret_whose_bytes_are_not_utf8_is_refused_by_name_and_never_quoted(tmp_path, monkeypatch, capsys,
                                                                               command):
    """``MEGVII_API_SECRET`` from an env file saved as Latin-1: Python reads the byte as a lone
    surrogate, and its first use failed with ``'utf-8' codec can't encode character '\\udce9' in
    position 2``: a character of the secret and where it stands, printed.  Refused naming the
    variable, exit 2, before the data directory is made; from Python a ValueError alike."""
    import faceanalytics as fa
    from faceanalytics.clients import MegviiClient

    monkeypatch.setenv("MEGVII_API_KEY", "mk-123456")
    monkeypatch.setenv("MEGVII_API_SECRET", LATIN1_SECRET)
    ids = tmp_path / "ids.txt"
    ids.write_text("1700000000,abc-def\n")
    blob = tmp_path / "in.bin"
    blob.write_bytes(b"\0" * 2048)
    rec = {"source": "megvii_lite", "session_id": "1700000000,a", "fetched_at": "2026-01-01T00:00:00Z",
           "http_status": 200, "payload": {"biz_id": "1700000000,a"}}
    (tmp_path / "r.jsonl").write_text(json.dumps(rec) + "\n")
    argv = {"fetch": ["fetch", "megvii-lite", "--ids", str(ids), "--data", str(tmp_path / "d"),
                      "--base-url", "http://127.0.0.1:9"],
            "decrypt-media": ["decrypt-media", str(blob), str(tmp_path / "out.mp4")],
            "ingest": ["ingest", str(tmp_path / "r.jsonl"), "--data", str(tmp_path / "d")]}[command]
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert "MEGVII_API_SECRET" in err and "not UTF-8" in err
    assert "udce9" not in out + err and "position" not in err and "Xw-secret" not in out + err
    assert not (tmp_path / "d").exists() and not (tmp_path / "out.mp4").exists()
    for call in (lambda: MegviiClient("k", LATIN1_SECRET, base_url="http://127.0.0.1:9"),
                 lambda: fa.decrypt_will_file(b"\0" * 2048, LATIN1_SECRET)):
        with pytest.raises(ValueError, match="not UTF-8") as e:
            call()
        assert "udce9" not in str(e.value) and "Xw-secret" not in str(e.value)


# ---------------------------------------------------------------------------- 5. rebuild on a damaged archive

@pytest.mark.parametrize("damage", ["cut short", "zero-filled tail"])
def test_rebuild_writes_again_a_media_pack_cut_short(tmp_path, damage):
    """A media pack cut short (a copy or a sync that stopped) or whose tail a disk error
    zeroed: a pack is named by its content, and one that was there was taken as written, so
    ``rebuild`` (and ingesting the records again) left it as it was and every image of it stayed
    unreadable (sha256 mismatch) although the raw archive holds them all.  A pack is reused
    only when its size and its zip end record are those of its members; else written again."""
    from _helpers import write_jsonl
    from test_packs import assert_all_readable, lite, packs_in

    from faceanalytics.pipeline.ingest import rebuild
    from faceanalytics.pipeline.ingest import ingest

    recs = [lite(i) for i in range(30)]
    d = tmp_path / "d"
    ingest([write_jsonl(tmp_path / "in.jsonl", recs)], d)
    [pack] = packs_in(d)
    whole = pack.read_bytes()
    pack.write_bytes(whole[: len(whole) // 2] if damage == "cut short" else whole[:-100] + b"\0" * 100)
    rebuild(d)
    assert pack.read_bytes() == whole
    assert_all_readable(d, recs)
    before = pack.stat().st_mtime_ns
    rebuild(d)                                         # a whole pack is left as it is
    assert pack.stat().st_mtime_ns == before


def _in_thread(fn, timeout=120):
    """``fn()`` in a thread: (finished, result or exception) -- a call that hangs fails the test
    rather than the suite."""
    import threading

    out = {}

    def run():
        try:
            out["r"] = fn()
        except BaseException as e:  # noqa: BLE001 - handed back
            out["r"] = e

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(timeout)
    return not t.is_alive(), out.get("r")


def test_a_fifo_among_the_raw_segments_or_journals_holds_no_writer(tmp_path, monkeypatch):
    """A FIFO named like a segment in ``DATA/raw/<day>/`` (or a link to one) held ``rebuild``
    forever on its open; one named like a journal in ``raw/journal/`` held the next ``fetch``
    (and ``receive``) that lands a killed run's journals.  ``rebuild`` names it as a damaged
    segment without opening it (exit 1, the tables left as they were); a journal that is no
    regular file is left alone and the fetch goes on."""
    import os

    from _helpers import seed, write_jsonl

    from test_packs import lite

    import faceanalytics as fa
    from faceanalytics.clients.testing import Reply, ScriptedServer
    from faceanalytics.pipeline.ingest import ingest, rebuild
    from faceanalytics.storage.errors import DamagedFile

    d = tmp_path / "d"
    ingest([write_jsonl(tmp_path / "in.jsonl", [lite(i) for i in range(5)])], d)
    before = fa.load(d, "sessions")
    [day] = [p for p in (d / "raw").iterdir() if p.name != "journal"]
    os.mkfifo(day / "zz.jsonl.zst")
    done, got = _in_thread(lambda: rebuild(d))
    assert done, "rebuild hung on a FIFO in the raw archive"
    assert isinstance(got, DamagedFile) and "zz.jsonl.zst" in str(got) and "regular file" in str(got)
    assert len(fa.load(d, "sessions")) == len(before) == 5
    os.unlink(day / "zz.jsonl.zst")

    (d / "raw" / "journal").mkdir(exist_ok=True)
    os.mkfifo(d / "raw" / "journal" / "20260101000000-abcdef.jsonl")
    monkeypatch.setenv("MEGVII_API_KEY", "mk-123456")
    monkeypatch.setenv("MEGVII_API_SECRET", "ms-secret-0987654321")
    p = seed("megvii_lite_success.json")
    p["biz_info"]["biz_id"] = "1700000000,new-1"
    with ScriptedServer() as server:
        server.script("/faceid/lite/get_result", Reply(200, p))
        done, rep = _in_thread(lambda: fa.fetch_megvii(["1700000000,new-1"], d, kind="lite",
                                                       base_url=server.url, progress=False))
    assert done, "fetch hung on a FIFO among the journals"
    assert not isinstance(rep, BaseException), rep
    assert rep.landed == 1 and len(fa.load(d, "sessions")) == 6


# ---------------------------------------------------------------------------- 6. the sandbox facing hostile clients

def _recv_all(s, timeout):
    s.settimeout(timeout)
    got = b""
    try:
        while chunk := s.recv(65536):
            got += chunk
    except (TimeoutError, ConnectionError):
        pass
    return got


def test_the_sandbox_bounds_the_bodies_it_holds_and_the_time_one_may_take(monkeypatch):
    """Every connection of the sandbox has a thread and a body of up to 32 MiB was read whole:
    100 clients sending one took it to 1.36 GB (``benchmarks/probe_sandbox_hostile.py``), and a
    client dripping its body a byte every 29 s held its thread for as long as it liked.  At most
    ``MAX_BODIES`` bodies are held at once (a request with a body waits ``WAIT_FOR_BODY`` for a
    slot, then 503), and a body must arrive whole within ``BODY_DEADLINE`` (else 408)."""
    import socket

    from faceanalytics.sandbox import Sandbox, _server

    monkeypatch.setattr(_server, "MAX_BODIES", 1, raising=False)
    monkeypatch.setattr(_server, "BODY_DEADLINE", 2.0, raising=False)
    monkeypatch.setattr(_server, "WAIT_FOR_BODY", 0.5, raising=False)
    head = b"POST /faceid/lite/get_result HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n"
    with Sandbox(seed=1, n_lite=2, n_liveness=0, n_baidu=0) as sb:
        host, port = sb.url.split("//")[1].rsplit(":", 1)
        slow = socket.create_connection((host, int(port)))
        slow.sendall(head + b"api_key=")                      # then nothing: holds the one slot
        time.sleep(0.3)
        other = socket.create_connection((host, int(port)))
        other.sendall(head + b"a" * 1000)
        assert _recv_all(other, 10).startswith(b"HTTP/1.1 503")
        t0 = time.monotonic()
        assert _recv_all(slow, 10).startswith(b"HTTP/1.1 408")   # dropped at its deadline
        assert time.monotonic() - t0 < 5
        again = socket.create_connection((host, int(port)))     # the slot is free again
        again.sendall(head.replace(b"1000", b"8") + b"api_key=")
        assert _recv_all(again, 10).startswith(b"HTTP/1.1 4")    # answered (no credentials)
        for s in (slow, other, again):
            s.close()


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/x\nHost: evil", "http://alice:pa ss-0987@127.0.0.1:9",
                                 "http://127.0.0.1:9\x1b[2J", "http://127.0.0.1:9/\tx"])
def test_a_base_url_holding_a_space_or_a_control_character_is_refused_unshown(tmp_path, monkeypatch, capsys, url):
    """``MEGVII_BASE_URL`` from an env file with a line break inside, or with a password holding a
    space: it was used as it was, and ``fetch`` printed it whole on its first line and in
    ``stopped: could not connect to ...`` (the ``user:password@`` mask stops at a space).  No
    URL holds a space or a control character: refused (exit 2) naming the variable, not showing
    the value, before the data directory is made; from Python a ValueError alike."""
    import faceanalytics as fa

    monkeypatch.setenv("MEGVII_API_KEY", "mk-123456")
    monkeypatch.setenv("MEGVII_API_SECRET", "ms-secret-0987654321")
    monkeypatch.setenv("MEGVII_BASE_URL", url)
    ids = tmp_path / "ids.txt"
    ids.write_text("1700000000,abc-def\n")
    assert main(["fetch", "megvii-lite", "--ids", str(ids), "--data", str(tmp_path / "d")]) == 2
    out, err = capsys.readouterr()
    assert "MEGVII_BASE_URL" in err and "space, a line break or a control character" in err
    assert "ss-0987" not in out + err and "evil" not in out + err and "\x1b" not in out + err
    assert not (tmp_path / "d").exists()
    monkeypatch.delenv("MEGVII_BASE_URL")
    with pytest.raises(ValueError, match="control character"):
        fa.fetch_megvii(["1700000000,abc-def"], tmp_path / "d", kind="lite", base_url=url, progress=False)
    assert not (tmp_path / "d").exists()


# ---------------------------------------------------------------------------- 7. S3 configuration

@pytest.mark.parametrize("endpoint", ["http://127.0.0.1:9000/minio", "https://s3.example.com/s3/",
                                      "http://127.0.0.1:9000/?X-Amz-Security-Token=tok-0987654321"])
def test_an_s3_endpoint_with_a_path_is_refused_not_cut(tmp_path, monkeypatch, endpoint):
    """``FACEANALYTICS_S3_ENDPOINT=https://s3.example.com/s3`` (a MinIO behind a proxy's path) was
    read as ``https://s3.example.com``: only scheme, host and port reach pyarrow's and botocore's
    clients, so every request went to another service's root.  Refused with a clear message
    (which does not echo the URL: a query may carry a token)."""
    from faceanalytics.storage import paths
    from faceanalytics.storage.errors import StorageConfigError

    from _helpers import offline_aws_env

    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    offline_aws_env(monkeypatch, tmp_path, endpoint)
    with pytest.raises(StorageConfigError, match="address alone") as e:
        paths.data_path("s3://bucket/prefix")
    assert "tok-0987654321" not in str(e.value)
    monkeypatch.setenv("FACEANALYTICS_S3_ENDPOINT", "http://127.0.0.1:9000/")        # a bare "/" is fine
    assert paths.data_path("s3://bucket/prefix").cfg.endpoint == "http://127.0.0.1:9000"


def test_a_stray_file_among_the_pack_folders_fails_no_ingest_nor_rebuild(tmp_path):
    """Finder leaves a ``.DS_Store`` in every folder it shows: one in ``DATA/media/packs/`` (or
    in a source's folder there) failed the pack compaction that ends every ingest and rebuild
    with ``NotADirectoryError`` -- after the ingest's commit, exit 1; the rebuild lost.  Files
    there are not pack folders: passed over."""
    from _helpers import write_jsonl
    from test_packs import assert_all_readable, lite

    from faceanalytics.pipeline.ingest import ingest, rebuild

    d = tmp_path / "d"
    ingest([write_jsonl(tmp_path / "a.jsonl", [lite(i) for i in range(3)])], d)
    for where in (d / "media" / "packs", d / "media" / "packs" / "megvii_lite"):
        (where / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    recs = [lite(i) for i in range(6)]
    assert ingest([write_jsonl(tmp_path / "b.jsonl", recs[3:])], d).landed == 3
    assert rebuild(d).landed == 6
    assert_all_readable(d, recs)


@pytest.mark.parametrize("change", [{"n_bytes": 10**12}, {"n_bytes": 2**63}, {"n_bytes": -5}, {"offset": -1}])
def test_a_media_row_naming_bytes_outside_its_pack_is_a_media_error(tmp_path, change):
    """``fa.media_bytes`` on a row of a table that was tampered with or built by hand: an
    ``n_bytes`` of 10**12 was allocated before the read (MemoryError), 2**63 overflowed, a
    negative one was EINVAL.  The row is checked against its pack's size: a MediaError."""
    from _helpers import write_jsonl
    from test_packs import lite

    import faceanalytics as fa
    from faceanalytics.errors import MediaError
    from faceanalytics.pipeline.ingest import ingest

    d = tmp_path / "d"
    ingest([write_jsonl(tmp_path / "a.jsonl", [lite(0)])], d)
    row = fa.load(d, "media").dropna(subset=["pack"]).iloc[0].to_dict()
    assert fa.media_bytes(d, row)[:3] == b"\xff\xd8\xff"
    with pytest.raises(MediaError, match="which has"):
        fa.media_bytes(d, {**row, **change})
