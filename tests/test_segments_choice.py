"""Which segment keys a review picks by default, and what picking them may cost."""
from __future__ import annotations

import json
import random

import pandas as pd

from faceanalytics.report import _segments as G
from faceanalytics.report._period import ReviewPeriod

PERIOD = ReviewPeriod(since=pd.Timestamp("2026-04-01", tz="UTC"), until=pd.Timestamp("2026-07-01", tz="UTC"),
                      default=False, latest=None, tz=None)


def _sessions(n: int, rng: random.Random, junk: int) -> pd.DataFrame:
    """Sessions whose biz_extra_data holds ``channel`` (3 values), ``tier`` in 1.5% of them,
    ``branch`` (40 values) and ``junk`` keys of their own."""
    texts = []
    for i in range(n):
        d = {f"k{rng.getrandbits(48):x}": i for _ in range(junk)}
        d["channel"] = rng.choice(["app", "web", "h5"])
        d["branch"] = f"b{rng.randrange(40)}"
        if rng.random() < 0.015:
            d["tier"] = rng.choice(["gold", "silver"])
        texts.append(json.dumps(d) if i % 2 else "&".join(f"{k}={v}" for k, v in d.items()))
    t = pd.date_range("2026-04-01", periods=n, freq="min", tz="UTC")
    return pd.DataFrame({"session_time": t, "biz_extra_data": texts})


def test_keys_of_their_own_in_every_session_cost_little_and_hide_nothing():
    """20,000 sessions each with 100 keys no other session has: the default choice still
    finds channel and the 1.5% key tier, leaves out branch (40 values), and holds counters
    for the few keys a random probe of the sample sees often, not for two million keys."""
    s = _sessions(20_000, random.Random(4), junk=100)
    counts = G._value_counts(s[["biz_extra_data"]])
    assert len(counts) < 10, len(counts)
    assert max(len(c) for c in counts.values()) <= G.MAX_VALUES + 2     # branch stopped gathering values
    chosen = {x.name: x.values for x in G.choose_segments({"sessions": s}, PERIOD)}
    assert chosen == {"channel": ("app", "h5", "web"), "tier": ("gold", "silver")}


def test_a_small_sample_counts_every_key():
    s = _sessions(500, random.Random(5), junk=3)
    counts = G._value_counts(s[["biz_extra_data"]])
    assert len(counts) == 3 * 500 + 3 - (0 if any("tier" in t for t in s.biz_extra_data) else 1)


def test_an_asked_key_keeps_all_its_values():
    s = _sessions(3_000, random.Random(6), junk=2)
    (seg,) = G.choose_segments({"sessions": s}, PERIOD, ["branch"])
    assert seg.name == "branch" and len(seg.values) == G.MAX_VALUES          # the most common 20 of 40
    assert sum(G._value_counts(s, ["branch"])[("branch", None)].values()) == 3_000
