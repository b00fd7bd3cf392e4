"""A data directory is resolved one way wherever it enters (``DataDir``): ``~``, a relative
folder and a ``DataDir`` itself name the same place for writing, reading, the engines and
the command line."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import faceanalytics as fa
from faceanalytics.engines import pass_rates
from faceanalytics.storage import DataDir

from _helpers import liveness_in_three_months  # noqa: E402


def test_the_layout_is_spelled_by_one_object(tmp_path):
    d = DataDir(tmp_path / "data")
    root = tmp_path / "data"
    assert d.root == root and DataDir.of(d) is d and DataDir(d) == d and d.local
    assert (d.tables, d.table("sessions"), d.raw, d.journal, d.rejected, d.downloads) == (
        root / "tables", root / "tables" / "sessions", root / "raw", root / "raw" / "journal",
        root / "raw" / "rejected", root / "raw" / "downloads.jsonl")
    assert (d.state, d.quota("megvii"), d.pii_key, d.lock, d.txn("tables.rebuild"), d.media) == (
        root / "state", root / "state" / "quota" / "megvii.log", root / "state" / "pii.key",
        root / "state" / "writer.lock", root / "state" / "txn-tables.rebuild", root / "media")


def test_home_and_relative_folders_resolve_alike_for_every_entry_point(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(home)
    assert DataDir("~/data").root == home / "data" == DataDir("data").root.resolve()

    fa.ingest([liveness_in_three_months(tmp_path / "in.jsonl")], "~/data")  # written where ~ points
    assert (home / "data" / "tables" / "sessions").is_dir() and not (home / "~").exists()
    expected = len(fa.load(home / "data", "sessions"))
    assert expected > 0
    for where in ("~/data", "data", Path("~/data"), DataDir("~/data")):
        assert len(fa.load(where, "sessions")) == expected, where
        assert pass_rates(where, engine="duckdb")["n"].sum() == \
            pass_rates(home / "data", engine="duckdb")["n"].sum(), where
    with pytest.raises(FileNotFoundError):
        fa.load("~/nowhere", "sessions")

    out = subprocess.run([sys.executable, "-m", "faceanalytics", "rebuild", "--data", "~/data", "--json"],
                         capture_output=True, text=True, timeout=300, cwd=home,
                         env={**__import__("os").environ, "HOME": str(home)})
    assert out.returncode == 0, out.stderr
    assert not (home / "~").exists() and len(fa.load("~/data", "sessions")) == expected
