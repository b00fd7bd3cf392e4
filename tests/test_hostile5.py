"""Hostile and careless input, round 5: a review of a period with no data says so; ..."""
from __future__ import annotations

import json
import time
import warnings

import pytest

import faceanalytics as fa
from faceanalytics.cli import main
from faceanalytics.report import review

from test_careless_api2 import datadir  # noqa: F401  (a small ingested population, 2026-03-18 .. 2026-03-31)


# ---------------------------------------------------------------------------- 1. review of an empty period

@pytest.mark.parametrize("period,where", [(["--since", "2030-01-01"], "the data ends before this period begins"),
                                          (["--until", "2020-01-01"], "the data begins after this period ends")])
def test_review_of_a_period_without_data_says_so_on_stderr(datadir, tmp_path, capsys, period, where):  # noqa: F811
    """``review --since`` after the last data wrote a report with the "no sessions" banner and
    said nothing on the terminal, exit 0: a typo in a year read as a quiet month."""
    out = tmp_path / "r.html"
    assert main(["review", "-q", "--json", "--data", str(datadir), "--out", str(out), *period]) == 0
    cap = capsys.readouterr()
    err = cap.err.strip()
    assert err.count("\n") == 0 and err.startswith("faceanalytics review: warning: no sessions in the period ")
    assert "2026-03-31" in err and where in err            # where the data ends
    assert json.loads(cap.out)["empty_period"] is True
    assert out.exists()                                     # the report is still written (exit 0)
    assert main(["review", "-q", "--json", "--data", str(datadir), "--out", str(out), "--since", "2026-03-01",
                 "--until", "2026-04-02"]) == 0
    cap = capsys.readouterr()
    assert cap.err == "" and json.loads(cap.out)["empty_period"] is False


def test_review_of_a_period_without_data_warns_from_python(datadir, tmp_path):  # noqa: F811
    """From Python the same review returned quietly; now a ``UserWarning`` names the period and
    where the data lies."""
    with pytest.warns(UserWarning, match=r"no sessions in the period 2030-01-01 .*the data's sessions run from 2026-03-1\d .* to "
                                                r"2026-03-31 .*ends before this period begins") as rec:
        fa.write_report(datadir, tmp_path / "r.html", since="2030-01-01")
    assert rec[0].filename == __file__                      # pointed at the caller's line
    with pytest.warns(UserWarning, match="no sessions in the period 2030-01-01"):
        review({"comparisons": fa.load(datadir, "comparisons"), "sessions": fa.load(datadir, "sessions")},
               "2030-01-01", "2030-02-01")
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        review(datadir, "2026-03-01", "2026-04-02")


# ---------------------------------------------------------------------------- 2. labels Parquet files

def test_a_labels_parquet_of_one_row_repeated_is_refused_from_its_footer(datadir, tmp_path, capsys):  # noqa: F811
    """20,000,000 copies of one label compress to 175 KB of Parquet; reading them took 1.9 GB
    (exit 0), a few more the machine's memory.  The footer's row count is read first."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    n = 1_100_000
    idx = pa.array(np.zeros(n, dtype=np.int32))
    f = tmp_path / "labels.parquet"
    pq.write_table(pa.table({"session_id": pa.array(["x" * 30]).take(idx), "genuine": pa.array([True]).take(idx)}),
                   f, compression="zstd")
    assert f.stat().st_size < 64 << 10
    out = tmp_path / "r.html"
    assert main(["review", "-q", "--data", str(datadir), "--out", str(out), "--labels", str(f)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and f"{n:,} rows in" in err and "not labels" in err and str(f) in err
    assert not out.exists()


def test_labels_parquet_that_cannot_be_labels_is_one_line_naming_the_file(tmp_path):
    """A binary session_id that is not UTF-8 was a bare ``'utf-8' codec can't decode byte 0xff``
    naming no file; a text file named .parquet, or two ``genuine`` columns, pyarrow's message
    (the second, the schema over seven lines); a bad flag in the first row was "row 2"."""
    import pyarrow as pa

    from faceanalytics.report import read_labels

    cases = [
        (pa.table({"session_id": pa.array([b"\xff\xfe", b"b"]), "genuine": [True, False]}),
         "session_id holds bytes that are not UTF-8 text"),
        (pa.Table.from_arrays([pa.array(["a"]), pa.array([True]), pa.array([False])],
                              names=["session_id", "genuine", "genuine"]),
         "not a readable Parquet file of labels (ArrowInvalid)"),
        (pa.table({"session_id": ["a", "b"], "genuine": pa.array([[True], [False]])}),
         "genuine must be true/false (or 1/0, yes/no); row 1 has"),
    ]
    for i, (table, says) in enumerate(cases):
        f = tmp_path / f"l{i}.parquet"
        import pyarrow.parquet as pq

        pq.write_table(table, f)
        with pytest.raises(ValueError) as e:
            read_labels(f)
        assert str(e.value).startswith(f"{f}: ") and says in str(e.value) and "\n" not in str(e.value)
    f = tmp_path / "text.parquet"
    f.write_text("session_id,genuine\na,true\n")
    with pytest.raises(ValueError, match=r"text.parquet: not a readable Parquet file of labels \(ArrowInvalid\)$"):
        read_labels(f)


# ---------------------------------------------------------------------------- 3. a foreign file among the tables

@pytest.mark.parametrize("kind", ["other types", "nested"])
def test_a_foreign_parquet_file_among_the_tables_is_named(datadir, tmp_path, capsys, kind):  # noqa: F811
    """A Parquet file of another schema copied into ``tables/comparisons``: ``fa.load`` said "a
    table file: not a readable table file" (which?) or raised pyarrow's ``Unsupported cast``;
    ``review`` ended in DuckDB's ``Binder Error`` traceback.  Now each names the file."""
    import shutil

    import pyarrow as pa
    import pyarrow.parquet as pq

    from faceanalytics.storage.errors import DamagedTable

    d = tmp_path / "data"
    shutil.copytree(datadir, d)
    part = sorted((d / "tables" / "comparisons").glob("source=megvii_lite/month=*"))[0]
    f = part / "part-foreign.parquet"
    table = (pa.table({"confidence": ["high", "low"], "session_id": [1, 2]}) if kind == "other types" else
             pa.table({"session_id": pa.array([{"a": 1}]), "confidence": pa.array([[1.0]])}))
    pq.write_table(table, f)
    with pytest.raises(DamagedTable) as e:
        fa.load(d, "comparisons")
    assert str(e.value).startswith(f"{f}: not a readable table file (") and e.value.path == str(f)
    out = tmp_path / "r.html"
    assert main(["review", "-q", "--data", str(d), "--out", str(out), "--since", "2026-03-01",
                 "--until", "2026-04-02"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith(f"faceanalytics review: {f}: not a readable table file")
    assert "rebuild" in err and not out.exists()


# ---------------------------------------------------------------------------- 4. the callback receiver

def test_receiver_headers_over_64_kib_are_431_and_the_next_callback_lands(tmp_path):
    """http.server reads 100 header lines of 64 KiB each: 40 connections sending them held
    258 MB in the receiver (its 256 connections, 1.6 GB).  The request line and headers now
    end at 64 KiB: 431, the connection closed, the rejection kept in the rejected store."""
    import requests
    import socket

    from faceanalytics.pipeline.receive import CallbackReceiver
    from test_callbacks_media import SECRET, sign, v2_data

    rec = CallbackReceiver(tmp_path, port=0, api_secret=SECRET, land_every=60).start()
    try:
        with socket.create_connection(rec.server.server_address) as s:
            s.settimeout(5)
            try:
                s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\n")
                for i in range(3):                   # each line under http.server's 64 KiB, all three over
                    s.sendall(b"X-Pad-%d: " % i + b"a" * (32 << 10) + b"\r\n")
            except OSError:                          # closed by the receiver while still sending
                pass
            answer = s.recv(200)
        assert answer.startswith(b"HTTP/1.1 431 ")
        data = v2_data("1700000000,cb-after-headers")
        assert requests.post(rec.url, json={"data": data, "sign": sign(data)}, timeout=5).ok
    finally:
        rec.stop()
    rejected = (tmp_path / "raw" / "rejected" / "rejected.jsonl").read_text()
    assert '"status":431' in rejected and rec.counts["accepted"] == 1


def test_a_client_hanging_up_mid_request_prints_no_traceback(tmp_path, capfd):
    """Each connection reset before its headers ended printed socketserver's ~20-line
    traceback on the receiver's stderr: any client could fill its log."""
    import socket
    import struct

    import requests

    from faceanalytics.pipeline.receive import CallbackReceiver
    from test_callbacks_media import SECRET

    rec = CallbackReceiver(tmp_path, port=0, api_secret=SECRET, land_every=60).start()
    try:
        for _ in range(5):
            s = socket.create_connection(rec.server.server_address)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))   # close = reset
            s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\n")
            time.sleep(0.05)
            s.close()
        time.sleep(0.3)
        assert requests.get(rec.url + "/health", timeout=5).status_code == 200
    finally:
        rec.stop()
    err = capfd.readouterr().err
    assert "Traceback" not in err and "Exception occurred" not in err


# ---------------------------------------------------------------------------- 5. environment variables

@pytest.mark.parametrize("endpoint,why", [("http://[::1", "Invalid IPv6 URL"), ("http://127.0.0.1:99999", "Port out of range"),
                                          ("http://127.0.0.1:abc", "Port could not be cast")])
def test_an_s3_endpoint_that_is_no_url_is_named(tmp_path, monkeypatch, capsys, endpoint, why):
    """``FACEANALYTICS_S3_ENDPOINT=http://[::1`` was "faceanalytics ingest: Invalid IPv6 URL" (which
    setting?); a port out of range went as far as a PUT ("HTTP 0 EndpointResolutionError")."""
    monkeypatch.setenv("FACEANALYTICS_S3_ENDPOINT", endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLEEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-a-real-secret-but-never-shown")
    f = tmp_path / "in.jsonl"
    f.write_text("{}\n")
    assert main(["ingest", "-q", str(f), "--data", "s3://bucket/prefix"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("faceanalytics ingest: FACEANALYTICS_S3_ENDPOINT is not a usable URL (") and "\n" not in err
    assert why in err and "not-a-real-secret" not in err


def test_a_labels_csv_of_repeated_rows_is_read_without_a_list_of_its_lines(tmp_path):
    """The two-column labels CSV was read as its text, a list of its lines, a slice of that
    list and a list of rows: 32 MB of ``a,1`` rows peaked at 1.58 GB (49 times the file;
    now 0.19 GB, the import included).  Python's own allocations while reading 1.6 MB of them
    stay within 3 times the file."""
    from _helpers import traced_peak
    from faceanalytics.report import _label_csv, read_labels

    f = tmp_path / "labels.csv"
    f.write_text("session_id,genuine\n" + "a,1\n" * 400_000 + "b,0\r\n\r\nc,maybe\r")
    size = f.stat().st_size
    lab, peak = traced_peak(_label_csv, f)
    assert peak < 3 * size, f"peak {peak:,} bytes for a file of {size:,}"
    assert lab.values.tolist() == [["a", "1"], ["b", "0"], ["c", "maybe"]]    # a row repeated, kept once
    with pytest.raises(ValueError, match=r"row 400003 has 'maybe'"):    # numbered as in the file
        read_labels(f)
