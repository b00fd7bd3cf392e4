"""Hostile and careless input, round 5: a review of a period with no data says so; ..."""
from __future__ import annotations

import json
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
    """From Python the same review returned quietly; now an ``EmptyPeriodWarning`` (a
    ``UserWarning``) names the period and where the data lies."""
    from faceanalytics.report import EmptyPeriodWarning

    with pytest.warns(EmptyPeriodWarning, match=r"2030-01-01 .*the data's sessions run from 2026-03-1\d .* to "
                                                r"2026-03-31 .*ends before this period begins") as rec:
        fa.write_report(datadir, tmp_path / "r.html", since="2030-01-01")
    assert rec[0].filename == __file__                      # pointed at the caller's line
    with pytest.warns(EmptyPeriodWarning):
        review({"comparisons": fa.load(datadir, "comparisons"), "sessions": fa.load(datadir, "sessions")},
               "2030-01-01", "2030-02-01")
    with warnings.catch_warnings():
        warnings.simplefilter("error", EmptyPeriodWarning)
        review(datadir, "2026-03-01", "2026-04-02")
