"""A pooled change that one segment alone explains is named with that segment.

Count series shaped as the review's (``report._findings.series_frame``): the faceid pass
rate at 1e-4, pooled and per segment value of two keys, over a 12-day window (short and
busy: where the pooled series finds a change its segments' own series miss).  ``channel``
carries the change when it is confined; ``platform`` splits every channel alike.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from faceanalytics.report._findings import _META, _detect, findings_of, parse_levels

SINCE = 20_500                 # day number of the period's first day
DAYS = 12
PER_DAY = {"app": 700, "web": 1600, None: 300}      # None: sessions without the key


def _series(seed: int, drop: dict[str, float], at: int = 6) -> pd.DataFrame:
    """Pooled and per-segment daily counts; ``drop`` moves a channel's rate from day ``at`` on."""
    rng = np.random.default_rng(seed)
    rows = []
    for day in range(SINCE, SINCE + DAYS):
        pool_k = pool_n = 0
        for channel, mean in PER_DAY.items():
            p = 0.85 - (drop.get(channel, 0.0) if day >= SINCE + at else 0.0)
            for platform in ("ios", "android"):
                n = int(rng.poisson(mean / 2))
                k = int(rng.binomial(n, p))
                pool_k, pool_n = pool_k + k, pool_n + n
                if channel is not None:
                    rows.append(("channel", channel, day, k, n))
                rows.append(("platform", platform, day, k, n))
        rows.append((None, None, day, pool_k, pool_n))
    return faceid_series(rows)


def faceid_series(rows) -> pd.DataFrame:
    """``(seg_key, seg_value, day, k, n)`` rows (None, None: the pool) as the review's faceid pass
    rate at 1e-4 series, rows of the same segment and day added up."""
    f = pd.DataFrame(rows, columns=["seg_key", "seg_value", "day", "k", "n"])
    f = f.groupby(["seg_key", "seg_value", "day"], dropna=False, sort=True)[["k", "n"]].sum().reset_index()
    meta = {"family": "pass_rate", "source": "megvii_lite", "comparison": "faceid", "level": "1e-4"}
    for c in _META:
        if c not in ("seg_key", "seg_value"):
            f[c] = meta.get(c)
    for c in _META:
        f[c] = f[c].astype("object").where(f[c].notna(), None)
    return f[[*_META, "day", "k", "n"]]


def _findings(series):
    levels = parse_levels(None)
    return findings_of(_detect(series, "D", 0.05, levels), series, SINCE, levels)


@pytest.mark.parametrize("seed", range(3))
def test_a_pooled_change_one_segment_explains_is_named_with_it(seed):
    series = _series(seed, {"app": 0.20})
    pooled = _detect(series, "D", 0.05, parse_levels(None))
    assert len(pooled[pooled["seg_key"].isna()]), "the pool carries the change"
    found = _findings(series)
    assert len(found) == 1, [f.text for f in found]
    f = found[0]
    assert f.segment == {"key": "channel", "value": "app"}
    assert -25 < f.change_points < -15 and f.ci_high_points < 0
    assert f.start[:10] == str((pd.Timestamp(SINCE * 86400, unit="s") + pd.Timedelta(days=6)).date())
    assert f.n_after + f.n_before == series[series["seg_value"] == "app"]["n"].sum()
    # the pool's change and the rest's are named beside it, in points
    assert any("all sessions" in a and "other sessions" in a for a in f.also), f.also
    assert "channel = app" in f.text


@pytest.mark.parametrize("seed", range(3))
def test_a_change_of_every_segment_stays_the_pools(seed):
    found = _findings(_series(seed, {"app": 0.08, "web": 0.08, None: 0.08}))
    assert found and all(f.segment is None for f in found), [f.text for f in found]


def test_a_segment_that_moved_with_the_rest_is_not_named_alone():
    """app drops 20 points, web 8: the rest moved too, so the change is the pool's."""
    found = _findings(_series(1, {"app": 0.20, "web": 0.08}))
    assert found and found[0].segment is None, [f.text for f in found]
    assert any("channel = app" in a for f in found for a in f.also)
