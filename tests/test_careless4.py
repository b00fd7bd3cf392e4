"""The careless analyst and operator, the leftovers: a level for Baidu's faceprint (which has
none), personal data escaped twice, text where a count goes, a file still being written,
a base URL variable set but blank, fetch without credentials, ``--what`` where it means
nothing, a plot of nothing but NaN."""
from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pytest

import faceanalytics as fa
import faceanalytics.cli as cli
from faceanalytics import analytics as A
from faceanalytics.pipeline import pii

from _helpers import escape_every, lite_session, small_data_dir


def _lite(i: int) -> dict:
    return lite_session(i, "careless4")


@pytest.fixture()
def data(tmp_path):
    """A data directory with a few sessions in it."""
    return small_data_dir(tmp_path, "careless4")


# ---------------------------------------------------------------- 1. a level for faceprint

def test_a_level_for_faceprint_is_refused_saying_why_and_what_to_give(data, tmp_path, capsys):
    """Baidu's score has no reference levels (its threshold is configured in the plan):
    ``--level faceprint=1e-5`` was accepted and changed nothing."""
    capsys.readouterr()
    out = tmp_path / "r.html"
    assert cli.main(["review", "--data", str(data), "--out", str(out), "--level", "faceprint=1e-5"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "faceprint has no reference levels" in err and "'configured'" in err and "faceid" in err
    assert not out.exists()
    with pytest.raises(ValueError, match="faceprint has no reference levels"):
        fa.review(str(data), levels=["faceid=1e-5", "faceprint=1e-4"])


def test_a_level_for_every_comparison_and_for_a_megvii_kind_still_reads(data, tmp_path):
    from faceanalytics.report._finding import parse_levels

    assert parse_levels(["faceid=1e-5", "1e-3"]) == {"faceid": "1e-5", "*": "1e-3"}
    assert cli.main(["review", "--data", str(data), "--out", str(tmp_path / "r.html"), "--level", "1e-5",
                     "-q"]) == 0


@pytest.mark.parametrize("level", ["", " , ", []])
def test_an_empty_level_is_refused_not_read_as_the_default(data, tmp_path, capsys, level):
    """``--level "$LEVEL"`` with LEVEL unset reviewed at the default 1e-4 without a word."""
    with pytest.raises(ValueError, match="no level given"):
        fa.review(str(data), levels=level)
    if isinstance(level, str):
        assert cli.main(["review", "--data", str(data), "--out", str(tmp_path / "r.html"), "--level", level]) == 2
        assert "no level given" in capsys.readouterr().err
        assert not (tmp_path / "r.html").exists()


# ---------------------------------------------------------------- 2. personal data escaped twice

ID18, PHONE = "11010119900307123X", "13912345678"


_every = escape_every


# The masked and the ordinary text escaped twice: tests/test_pii_escaped.py


def test_text_escaped_a_thousand_times_is_read_in_bounded_passes():
    """Each escape of ``%`` decoded one recursion at a time: 500 of them was a RecursionError
    (the chunk's scrub died), 20,000 a second of CPU per value."""
    import time

    deep = ("%" + "25" * 20000 + "31") * 4
    t0 = time.process_time()
    got = pii.scrub_table(pa.table({"m": [deep]})).column("m").to_pylist()
    assert got == [deep] and time.process_time() - t0 < 0.5
    hostile = _every(ID18)
    for _ in range(9):                          # each round triples it: 18 digits -> 700 KB
        hostile = _every(hostile)
    t0 = time.process_time()
    pii.scrub_text(hostile)                      # past the bound it is left, and it ends
    assert time.process_time() - t0 < 5


# ---------------------------------------------------------------- 3. text where a count goes

def _comparisons() -> pd.DataFrame:
    return pd.DataFrame({"source": ["megvii_lite"] * 3, "session_id": ["a", "b", "c"],
                         "session_time": pd.to_datetime(["2026-11-02", "2026-11-03", "2026-11-04"], utc=True),
                         "comparison": ["faceid"] * 3, "confidence": [70.0, 80.0, 60.0],
                         "thr_1e3": [62.0] * 3, "thr_1e4": [69.0] * 3, "thr_1e5": [74.0] * 3,
                         "thr_1e6": [78.0] * 3})


def _genuineness() -> pd.DataFrame:
    return pd.DataFrame({"source": ["megvii_lite"] * 2, "session_id": ["a", "b"], "attack": ["mask"] * 2,
                         "confidence": [0.4, 0.6], "threshold": [0.5] * 2})


_LABELS = pd.DataFrame({"session_id": ["a", "b", "c"], "genuine": [True, False, True]})
_MIN_N_CALLS = {
    "pass_rates": lambda m: A.pass_rates(_comparisons(), min_n=m),
    "configured_pass_rates": lambda m: A.configured_pass_rates(
        _comparisons().assign(threshold=70.0), min_n=m),
    "liveness_pass_rates": lambda m: A.liveness_pass_rates(
        _comparisons().assign(liveness_score=0.5), {"1e-2": 0.4}, min_n=m),
    "pass_rates_from_histogram": lambda m: A.pass_rates_from_histogram(
        A.confidence_histogram(_comparisons()), min_n=m),
    "rates_at_cut": lambda m: A.rates_at_cut(A.confidence_histogram(_comparisons()), 70, min_n=m),
    "genuineness_rates": lambda m: A.genuineness_rates(_genuineness(), min_n=m),
    "pass_rate_drift": lambda m: A.pass_rate_drift(_comparisons(), _comparisons(), min_n=m),
    "pass_rate_drift_from_rates": lambda m: A.pass_rate_drift_from_rates(
        A.pass_rates(_comparisons()), A.pass_rates(_comparisons()), min_n=m),
    "error_rates_at_levels": lambda m: A.error_rates_at_levels(_comparisons(), _LABELS, min_n=m),
    "presentation_attack_rates": lambda m: A.presentation_attack_rates(_genuineness(), _LABELS[:2], min_n=m),
    "pass_rates_by_era": lambda m: A.pass_rates_by_era(_comparisons(), min_n=m),
}


@pytest.mark.parametrize("name", sorted(_MIN_N_CALLS))
@pytest.mark.parametrize("bad", ["5", 5.0, 2.5, True, None])
def test_min_n_must_be_a_whole_number(name, bad):
    """``min_n="5"`` failed inside numpy ("ufunc 'less' did not contain a loop"); 2.5, True
    and 5.0 were taken (True as 1) without a word."""
    with pytest.raises(TypeError, match=r"min_n .*must be a whole number; got"):
        _MIN_N_CALLS[name](bad)


@pytest.mark.parametrize("name", sorted(_MIN_N_CALLS))
def test_min_n_below_zero_is_refused_and_a_numpy_integer_is_fine(name):
    import numpy as np

    with pytest.raises(ValueError, match=r"min_n .*must be at least 0; got -1"):
        _MIN_N_CALLS[name](-1)
    out = _MIN_N_CALLS[name](np.int64(5))
    assert len(out) and "low_n" in out.columns


def test_the_engines_check_min_n_before_any_query(data):
    from faceanalytics import engines

    for call in (lambda: engines.pass_rates(data, min_n="5", engine="duckdb"),
                 lambda: engines.genuineness_rates(data, min_n="5", engine="duckdb"),
                 lambda: engines.pass_rate_drift(data, ("2023-01-01", "2024-01-01"), ("2024-01-01", "2025-01-01"),
                                                 min_n="5", engine="duckdb")):
        with pytest.raises(TypeError, match="min_n .*must be a whole number"):
            call()


@pytest.mark.parametrize("bad,exc", [("5", TypeError), (2.5, TypeError), (True, TypeError), (-1, ValueError)])
def test_the_explorers_max_segment_values_is_a_count(bad, exc):
    """``max_segment_values="5"`` or 2.5 was taken without a word."""
    with pytest.raises(exc, match="max_segment_values must be"):
        fa.threshold_explorer(_comparisons(), max_segment_values=bad)


@pytest.mark.parametrize("k,n,exc", [("3", 10, TypeError), (3.5, 10, TypeError), (True, 10, TypeError),
                                     (3, "10", TypeError), (11, 10, ValueError), (-1, 10, ValueError)])
def test_describe_rate_takes_counts(k, n, exc):
    """3.5 was read as 3, "3" and True taken as counts."""
    with pytest.raises(exc):
        A.describe_rate(k, n)
    assert A.describe_rate(3, 10).startswith("3 of 10")


@pytest.mark.parametrize("method", ["wilson", "clopper-pearson"])
@pytest.mark.parametrize("bad,exc", [("0.95", TypeError), (True, TypeError), (95, ValueError), (0, ValueError)])
def test_confidence_is_a_number_between_0_and_1(method, bad, exc):
    """``confidence="0.95"``: "'<' not supported between 'int' and 'str'"; Clopper-Pearson
    took 95 without a word."""
    with pytest.raises(exc, match="confidence must be"):
        A.pass_rates(_comparisons(), confidence=bad, method=method)


# ---------------------------------------------------------------- 4. a file still being written

def _line(i: int) -> str:
    import json

    return json.dumps(_lite(i))


def test_a_cut_off_last_line_waits_for_the_next_run_and_then_lands_once(tmp_path, capsys):
    """Read while its writer was mid-line, the fragment was archived and quarantined; once the
    line was finished and ingested again it landed, but the fragment stayed in quarantine,
    counted as bad."""
    from faceanalytics.pipeline.ingest import ingest

    f, d = tmp_path / "live.jsonl", tmp_path / "data"
    whole = _line(2)
    f.write_text(_line(0) + "\n" + _line(1) + "\n" + whole[:120])
    rep = ingest([f], d)
    assert (rep.read, rep.landed, rep.quarantined) == (2, 2, 0)
    assert rep.unfinished == [f"{f} line 3"] and "left unfinished 1" in rep.summary()
    assert len(fa.load(d, "quarantine")) == 0
    with open(f, "a") as fh:                       # the writer finishes the line (and the next one)
        fh.write(whole[120:] + "\n" + _line(3) + "\n")
    rep = ingest([f], d)
    assert (rep.landed, rep.skipped, rep.quarantined, rep.unfinished) == (2, 2, 0, [])
    assert len(fa.load(d, "quarantine")) == 0
    assert sorted(fa.load(d, "sessions")["session_id"]) == [f"1700000000,careless4-{i:04d}" for i in range(4)]
    # the command line says so, on the counts line and a detail line
    f.write_text(_line(4) + "\n" + whole[:50])
    capsys.readouterr()
    assert cli.main(["ingest", str(f), "--data", str(d)]) == 0
    out = capsys.readouterr().out
    assert "left unfinished 1" in out and f"{f} line 2 has no newline and is not whole JSON yet" in out


def test_a_whole_last_record_without_a_newline_lands_and_a_non_record_is_quarantined(tmp_path):
    from faceanalytics.pipeline.ingest import ingest

    f, d = tmp_path / "done.jsonl", tmp_path / "data"
    f.write_text(_line(0) + "\n" + _line(1))              # many writers end without a newline
    rep = ingest([f], d)
    assert (rep.landed, getattr(rep, "unfinished", [])) == (2, [])
    f.write_text(_line(2) + "\nnot json at all")
    rep = ingest([f], d)
    assert (rep.landed, rep.quarantined, getattr(rep, "unfinished", [])) == (1, 1, [])


# ---------------------------------------------------------------- 5, 6, 7. fetch refuses before anything

@pytest.fixture()
def ids(tmp_path):
    p = tmp_path / "ids.txt"
    p.write_text("1700000000,abc-1\n")
    return p


_CREDS = {"MEGVII_API_KEY": "key-c4", "MEGVII_API_SECRET": "secret-c4-do-not-show",
          "BAIDU_API_KEY": "bkey-c4", "BAIDU_SECRET_KEY": "bsecret-c4-do-not-show"}


@pytest.fixture(autouse=True)
def _no_real_provider(monkeypatch):
    """The real providers' defaults point at a closed loopback port here: what these tests
    guard against is a call reaching the real provider, and a regression must not do it."""
    from faceanalytics.clients import BaiduClient, MegviiClient

    monkeypatch.setattr(MegviiClient, "default_base_url", "http://127.0.0.1:9")
    monkeypatch.setattr(BaiduClient, "default_base_url", "http://127.0.0.1:9")


@pytest.mark.parametrize("cmd,var,ids_opt", [("megvii-lite", "MEGVII_BASE_URL", "--ids"),
                                             ("megvii-liveness", "MEGVII_BASE_URL", "--ids"),
                                             ("baidu", "BAIDU_BASE_URL", "--tokens")])
@pytest.mark.parametrize("blank", ["", "  "])
def test_a_base_url_variable_set_but_blank_is_refused_before_anything(tmp_path, ids, monkeypatch, capsys,
                                                                      cmd, var, ids_opt, blank):
    """``export MEGVII_BASE_URL="$URL"`` with URL unset read as unset: the real provider, with
    real quota, instead of the sandbox meant."""
    for k, v in _CREDS.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv(var, blank)
    d = tmp_path / "data"
    if cmd == "baidu":
        ids.write_text("a" * 24 + "\n")
    assert cli.main(["fetch", cmd, ids_opt, str(ids), "--data", str(d)]) == 2
    out = capsys.readouterr()
    assert f"{var} is set but empty" in out.err and "Traceback" not in out.err
    assert "unset it to use the real provider" in out.err
    assert not any(s in out.out + out.err for s in _CREDS.values())
    assert not d.exists()                            # no ledger, no state, nothing


def test_a_blank_base_url_from_python_is_refused_before_anything(tmp_path, monkeypatch):
    for k, v in _CREDS.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("MEGVII_BASE_URL", "")
    with pytest.raises(ValueError, match="MEGVII_BASE_URL is set but empty") as e:
        fa.fetch_megvii(["1700000000,abc-1"], tmp_path / "d")
    assert _CREDS["MEGVII_API_SECRET"] not in str(e.value)
    monkeypatch.delenv("MEGVII_BASE_URL")
    with pytest.raises(ValueError, match="base_url is empty"):
        fa.fetch_megvii(["1700000000,abc-1"], tmp_path / "d", base_url=" ")
    assert not (tmp_path / "d").exists()


@pytest.mark.parametrize("cmd", ["megvii-lite", "baidu"])
def test_fetch_without_credentials_creates_nothing(tmp_path, ids, monkeypatch, capsys, cmd):
    """It created DATA/state (writer lock, PII key, quota ledger) before refusing."""
    for k in _CREDS:
        monkeypatch.delenv(k, raising=False)
    d = tmp_path / "data"
    argv = ["fetch", cmd, "--ids" if cmd != "baidu" else "--tokens", str(ids), "--data", str(d)]
    if cmd == "baidu":
        ids.write_text("a" * 24 + "\n")
    assert cli.main(argv) == 2
    assert "must both be set" in capsys.readouterr().err
    assert not d.exists()
    d.mkdir()                                        # an existing data directory gains nothing either
    assert cli.main(argv) == 2
    assert list(d.iterdir()) == []


@pytest.mark.parametrize("argv,says", [
    (["megvii-lite", "--what", "stat"], "--what is for baidu"),
    (["megvii-liveness", "--what", "getall,detail"], "--what is for baidu"),
    (["megvii-liveness", "--return-image", "2"], "--return-image is for megvii-lite"),
    (["baidu", "--refresh-pending"], "--refresh-pending is for Megvii"),
])
def test_an_option_of_another_fetch_is_a_usage_error(tmp_path, ids, monkeypatch, capsys, argv, says):
    """``fetch megvii-lite --what stat`` fetched get_result as if --what were not there."""
    for k, v in _CREDS.items():
        monkeypatch.setenv(k, v)
    d = tmp_path / "data"
    cmd, *opts = argv
    assert cli.main(["fetch", cmd, "--tokens" if cmd == "baidu" else "--ids", str(ids), *opts,
                     "--data", str(d)]) == 2
    err = capsys.readouterr().err
    assert says in err and err.count("\n") == 1
    assert not d.exists()


# ---------------------------------------------------------------- 8. a plot of nothing but NaN

@pytest.mark.parametrize("rows", [2, 0])
def test_plot_genuineness_of_no_confidence_says_there_is_nothing_to_draw(rows):
    """All-NaN confidences gave only matplotlib's log-scale warning ("Data has no positive
    values") and an empty frame; the legend said "no threshold returned (0 scores)"."""
    import warnings

    import numpy as np

    g = _genuineness().assign(confidence=np.nan).iloc[:rows]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ax = fa.plot_genuineness(g)
    assert [t.get_text() for t in ax.texts] == [f"nothing to draw: {rows} checks, none with a confidence"]
    assert ax.get_yscale() == "linear"
    labels = ax.get_legend_handles_labels()[1]
    assert labels == ([f"mask: none of {rows} checks has a confidence (nothing to draw)"] if rows else [])
    import matplotlib.pyplot as plt

    ax2 = fa.plot_genuineness(_genuineness(), ax=plt.subplots()[1])   # scores: drawn, log scale, no such text
    assert ax2.get_yscale() == "log" and not ax2.texts
