"""A pooled change confined to one segment is dated by the segment's own series.

A 4-point drop in ``channel=store`` (800 of 2,800 sessions a day) from day 15 of 30: the pool
finds it and :mod:`faceanalytics.report._confined` names it with the segment, but the pool's
other sessions did not move, so they only blur its date.  On this draw the pool dated it day 18
(95% interval days 18-19, missing the planted day) while the segment's own series, where the
detector found it too, dated it day 15 (interval 15-16); the finding showed the pool's date.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from faceanalytics.report._findings import _detect, findings_of, parse_levels
from test_confined import faceid_series

SINCE = 20_500
DAYS, AT = 30, 15
PER_DAY = {"app": 1050, "web": 600, "store": 800, "wechat": 350, "partner": 200}


def _series(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for day in range(SINCE, SINCE + DAYS):
        pool_k = pool_n = 0
        for channel, mean in PER_DAY.items():
            n = int(rng.poisson(mean))
            k = int(rng.binomial(n, 0.87 - (0.04 if channel == "store" and day >= SINCE + AT else 0.0)))
            pool_k, pool_n = pool_k + k, pool_n + n
            rows.append(("channel", channel, day, k, n))
        rows.append((None, None, day, pool_k, pool_n))
    return faceid_series(rows)


def _day(n: int) -> str:
    return str((pd.Timestamp(SINCE * 86400, unit="s") + pd.Timedelta(days=n)).date())


def test_a_change_confined_to_a_segment_takes_the_segments_own_date_and_says_the_pools():
    series = _series(10)
    levels = parse_levels(None)
    changes = _detect(series, "D", 0.05, levels)
    pool = changes[changes["seg_key"].isna()]
    assert len(pool) == 1 and str(pool["start"].iloc[0].date()) == _day(18)     # the pool's date, off by 3
    found = findings_of(changes, series, SINCE, levels)
    assert len(found) == 1, [f.text for f in found]
    f = found[0]
    assert f.segment == {"key": "channel", "value": "store"}
    assert any("other sessions" in a for a in f.also), f.also                   # confined, as before
    assert f.start[:10] == _day(AT) and f.start_low <= _day(AT) <= f.start_high
    # its numbers are counted at its own date
    store = series[series["seg_value"] == "store"]
    after = store[store["day"] >= SINCE + AT]
    assert (f.k_after, f.n_after) == (after["k"].sum(), after["n"].sum())
    assert f.n_before + f.n_after == store["n"].sum()
    assert f"from {_day(AT)} on" in f.text
    assert f"all sessions date it from {_day(18)}" in " ".join(f.also), f.also


def test_a_confined_change_the_segments_own_series_did_not_find_keeps_the_pools_date():
    """test_confined's short window: the segment's own series finds nothing, the pool's date stands."""
    from test_confined import _findings
    from test_confined import _series as short_series

    found = _findings(short_series(0, {"app": 0.20}))
    assert len(found) == 1 and found[0].segment == {"key": "channel", "value": "app"}
    assert not any("date it from" in a for a in found[0].also), found[0].also
