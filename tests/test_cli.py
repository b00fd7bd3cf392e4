"""Command-line conventions: --version, python -m, help lines, -q/--json, progress bars, and
one-line errors (exit 2, no traceback) where a raw OS message or a traceback used to come out."""
import argparse
import json
import os
import subprocess
import sys

import pytest

from faceanalytics import __version__
from faceanalytics.cli import _parser, main
from faceanalytics.sandbox import Sandbox
from faceanalytics.sandbox._cli import build_parser as sandbox_parser

from _helpers import LITE_ID, envelope, seed, write_jsonl


def _walk(parser: argparse.ArgumentParser, path=()):
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _walk(sub, (*path, name))


def test_every_subcommand_and_option_has_a_help_line():
    missing = []
    subcommands = set()
    for path, parser in [*_walk(_parser()), (("sandbox",), sandbox_parser())]:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for choice in action._choices_actions:
                    subcommands.add(choice.dest)
                    if not (choice.help or "").strip():
                        missing.append((*path, choice.dest))
            elif action.help is not argparse.SUPPRESS and not (action.help or "").strip():
                missing.append((*path, action.option_strings[0] if action.option_strings else action.dest))
    assert {"ingest", "rebuild", "fetch", "review", "sandbox", "receive", "demo"} <= subcommands
    assert missing == []


def test_version_and_python_m():
    p = subprocess.run([sys.executable, "-m", "faceanalytics", "--version"], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0 and p.stdout.strip() == f"faceanalytics {__version__}"
    p = subprocess.run([sys.executable, "-m", "faceanalytics", "rebuild", "--data", "no/such/dir"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and p.stderr.strip() == "faceanalytics rebuild: no such data directory: no/such/dir"


@pytest.fixture
def records(tmp_path):
    return write_jsonl(tmp_path / "in.jsonl", [
        envelope("megvii_lite", LITE_ID, seed("megvii_lite_success.json")),
        envelope("baidu_getall", "tokA", seed("baidu_getall.json")),
        "not json",
    ])


def _one_line_error(capsys, code, *words):
    out, err = capsys.readouterr()
    assert code == 2, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    for w in words:
        assert w in err, err
    return err


def test_clear_errors(tmp_path, records, capsys):
    d = tmp_path / "d"
    empty = tmp_path / "empty"
    empty.mkdir()
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    cases = [
        (["ingest", str(tmp_path), "--data", str(d)], ["is a directory, not a file"]),
        (["ingest", str(tmp_path / "nope.jsonl"), "--data", str(d)], ["no such file"]),
        (["ingest", str(records), "--data", str(a_file)], ["is a file, not a data directory"]),
        (["rebuild", "--data", str(tmp_path / "typo")], ["no such data directory"]),
        (["rebuild", "--data", str(empty)], ["nothing to rebuild"]),
        (["rebuild", "--data", str(a_file)], ["is a file, not a data directory"]),
        (["review", "--data", str(empty), "--out", str(tmp_path / "r.html")], ["nothing to review"]),
        (["review", "--data", str(tmp_path / "typo"), "--out", str(tmp_path / "r.html")], ["no such data directory"]),
        (["fetch", "megvii-lite", "--ids", str(tmp_path), "--data", str(d)], ["is a directory, not a file of ids"]),
        (["fetch", "megvii-lite", "--ids", str(records), "--data", str(a_file)], ["is a file"]),
        # before any network use (no DNS lookup of an AWS endpoint)
        (["fetch", "megvii-lite", "--ids", str(records), "--data", "s3://bucket/x",
          "--base-url", "https://203.0.113.1"], ["must be a local data directory", "s3://bucket/x"]),
        (["decrypt-media", str(tmp_path), str(tmp_path / "out")], ["is a directory, not a file"]),
    ]
    os.environ.setdefault("MEGVII_API_SECRET", "x" * 32)
    for argv, words in cases:
        _one_line_error(capsys, main(argv), *words)
    assert not d.exists()
    ingested = tmp_path / "ok"
    assert main(["ingest", str(records), "--data", str(ingested)]) == 0
    capsys.readouterr()
    _one_line_error(capsys, main(["review", "--data", str(ingested), "--out", str(tmp_path)]), "--out", "is a directory")
    _one_line_error(capsys, main(["review", "--data", str(ingested), "--out", str(tmp_path / "r.html"),
                                  "--labels", str(tmp_path)]), "is a directory, not a labels file")


@pytest.mark.parametrize("argv", [["sandbox", "--port", "80000"], ["receive", "--data", "d", "--port", "-1"]])
def test_a_port_out_of_range_is_a_usage_error(argv, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "a port is a number from 0 to 65535" in err and "Traceback" not in err


def test_https_to_a_plain_http_server_says_so(tmp_path):
    with Sandbox(seed=3, n_lite=3, n_liveness=0, n_baidu=0) as sb:
        ids = tmp_path / "ids.txt"
        ids.write_text("\n".join(sb.ids("megvii-lite")) + "\n")
        url = sb.url.replace("http://", "https://")
        p = subprocess.run([sys.executable, "-m", "faceanalytics", "fetch", "megvii-lite", "--ids", str(ids),
                            "--data", str(tmp_path / "d"), "--base-url", url, "-q"],
                           env={**os.environ, **sb.env()}, capture_output=True, text=True, timeout=120)
    assert p.returncode == 2, p.stderr
    assert "answered in plain HTTP, not TLS" in p.stderr and "CONNECTION_ERROR" not in p.stderr + p.stdout
    assert "Traceback" not in p.stderr


def test_verbose_logs_what_is_done_to_stderr_and_no_secret(tmp_path):
    """-v: the fetch says where it fetches from; -vv: every request with its answer; never a
    credential; stdout is the same with or without them."""
    with Sandbox(seed=3, n_lite=3, n_liveness=0, n_baidu=0) as sb:
        ids = tmp_path / "ids.txt"
        ids.write_text("\n".join(sb.ids("megvii-lite")) + "\n")
        env = {**os.environ, **sb.env()}

        def run(*flags):
            return subprocess.run([sys.executable, "-m", "faceanalytics", "fetch", "megvii-lite", "--ids", str(ids),
                                   "--data", str(tmp_path / f"d{len(flags)}{flags[0] if flags else ''}"),
                                   "--base-url", sb.url, *flags],
                                  env=env, capture_output=True, text=True, timeout=120)

        plain, v, vv = run(), run("-v"), run("-vv")
    for p in (plain, v, vv):
        assert p.returncode == 0, p.stderr
        assert p.stdout.splitlines()[-1].startswith("fetched 3  landed 3")  # stdout: the base URL and the counts
        assert len(p.stdout.splitlines()) == 2
    assert "faceanalytics.fetch:" not in plain.stderr
    assert f"fetching from {sb.url}" in v.stderr and "attempt" not in v.stderr
    requests = [line for line in vv.stderr.splitlines() if "-> 200" in line and "(attempt 1)" in line]
    assert len(requests) >= 3
    secret = sb.env()["MEGVII_API_SECRET"]
    assert secret and all(secret not in p.stderr + p.stdout for p in (plain, v, vv))


def test_json_summaries_and_quiet(tmp_path, records, capsys):
    d = tmp_path / "d"
    assert main(["ingest", str(records), "--data", str(d), "--json"]) == 0
    out, err = capsys.readouterr()
    summary = json.loads(out)                       # the whole of stdout is one JSON object
    assert summary["command"] == "ingest"
    assert (summary["read"], summary["landed"], summary["quarantined"]) == (3, 2, 1)
    assert sum(summary["reasons"].values()) == 1
    assert "quarantined" in err                     # the detail lines go to stderr
    assert main(["ingest", str(records), "--data", str(d), "-q"]) == 0
    out, err = capsys.readouterr()
    assert len(out.splitlines()) == 1 and out.startswith("read 3  landed 0  quarantined 1  skipped 2") and err == ""
    assert main(["rebuild", "--data", str(d), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["landed"] == 2
    report = tmp_path / "r.html"
    assert main(["review", "--data", str(d), "--out", str(report), "--json", "--engine", "pandas"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["report"] == str(report) and report.is_file() and os.path.isfile(summary["findings"])
    with open(summary["findings"], encoding="utf-8") as f:
        assert summary["findings_count"] == len(json.load(f)) and summary["xlsx"] is None


def test_progress_bars_on_a_terminal_only(tmp_path, records, capsys, monkeypatch):
    d = tmp_path / "d"
    assert main(["ingest", str(records), "--data", str(d)]) == 0
    assert capsys.readouterr().err == ""            # not a terminal: no bar
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert main(["ingest", str(records), "--data", str(d)]) == 0
    err = capsys.readouterr().err
    assert "ingest" in err and "100%" in err
    assert main(["rebuild", "--data", str(d)]) == 0
    err = capsys.readouterr().err
    assert "rebuild" in err and "1/1" in err
    assert main(["rebuild", "--data", str(d), "-q"]) == 0
    assert capsys.readouterr().err == ""
