"""A new reference-threshold set is dated as every other change: the 95% interval of its start
(and of a wave's last day) in its finding's text, its JSON and the workbook's findings sheet.

The thresholds finding said "from <day> on" with no interval, and its JSON had
``start_low``/``start_high`` null, while the pass-rate finding the set explains carried them;
the workbook's findings sheet had no interval columns for any finding."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

SINCE = 20_500          # 2025-02-16; the set appears on day SINCE + 50 (2025-04-07)
NEW, OLD = "64/70.5/76/79", "62/69/75/78"


def _found(seed: int, wave: int | None):
    """Findings of a ref1 series where set ``NEW`` takes 4% of ~40 comparisons a day from day 50
    (for ``wave`` days, or to the end), ``OLD`` the rest."""
    from faceanalytics.report._findings import _META, _detect, findings_of, parse_levels

    rng = np.random.default_rng(seed)
    rows = []
    for day in range(SINCE, SINCE + 90):
        n = int(rng.poisson(40))
        on = day >= SINCE + 50 if wave is None else SINCE + 50 <= day < SINCE + 50 + wave
        k = int(rng.binomial(n, 0.04)) if on else 0
        rows += [(NEW, day, k, n), (OLD, day, n - k, n)]
    f = pd.DataFrame(rows, columns=["code", "day", "k", "n"])
    meta = {"family": "thresholds", "source": "megvii_lite", "comparison": "ref1"}
    for c in _META:
        if c != "code":
            f[c] = meta.get(c)
    f = f[[*_META, "day", "k", "n"]]
    levels = parse_levels(None)
    found = findings_of(_detect(f, "D", 0.05, levels), f, SINCE, levels)
    return [x for x in found if x.family == "thresholds"]


def _day(d) -> str:
    return f"{pd.Timestamp(d):%Y-%m-%d}"


def test_a_new_sets_start_is_dated_with_its_interval():
    (x,) = _found(0, None)
    assert x.kind == "step" and x.code == NEW
    assert x.start_low < x.start_high and x.start_low <= x.start[:10] <= x.start_high
    assert f"from {x.start[:10]} on (95% interval of the start: {x.start_low} to {x.start_high})" in x.text, x.text
    j = x.as_json()
    assert (j["start_low"], j["start_high"]) == (x.start_low, x.start_high)
    assert j["end_low"] is None and j["end_high"] is None


def test_a_sets_wave_is_dated_at_both_edges():
    (x,) = _found(2, 10)
    assert x.kind == "wave"
    assert x.start_low <= x.start[:10] <= x.start_high and x.end_low <= x.end[:10] <= x.end_high
    last = _day(pd.Timestamp(x.end) - pd.Timedelta(days=1))
    assert (f"from {x.start[:10]} to {last} only (95% intervals: of the start {x.start_low} to {x.start_high}, "
            f"of the last day {_day(pd.Timestamp(x.end_low) - pd.Timedelta(days=1))} to "
            f"{_day(pd.Timestamp(x.end_high) - pd.Timedelta(days=1))})") in x.text, x.text
    assert (x.as_json()["end_low"], x.as_json()["end_high"]) == (x.end_low, x.end_high)


@pytest.mark.parametrize("wave", [None, 10])
def test_the_workbooks_findings_sheet_has_the_intervals(wave):
    from faceanalytics.report._workbook import _findings

    found = _found(2, wave)
    t = _findings(found)
    for c in ("start_low", "start_high", "end_low", "end_high"):
        got = [None if pd.isna(v) else _day(v) for v in t[c]]
        assert got == [getattr(x, c) for x in found], c
        assert all(pd.isna(v) or v.tz is not None for v in t[c])
