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


def test_keys_with_quotes_backslashes_or_no_name_do_not_stop_the_review(tmp_path):
    """biz_extra_data keys are the integrator's: a backslash before a quote, or a lone
    backslash, made DuckDB refuse the JSON path and the review stopped; an empty key was a
    candidate segment and stopped it too."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    import _planted as P

    from pandas.testing import assert_frame_equal

    from faceanalytics.pipeline.ingest import ingest
    from faceanalytics.report import review
    from faceanalytics.report._summary import summarize

    odd = ['we\\"ird', "back\\"]
    recs = P.records(3, n_lite=600, n_liveness=0, n_baidu=0, reference_date="2026-07-01", window_days=30)
    rng = random.Random(7)
    for rec in recs:
        rec["payload"]["biz_info"]["biz_extra_data"] = json.dumps(
            {odd[0]: rng.choice("xy"), odd[1]: rng.choice("pq"), "": rng.choice("ef")})
    ingest([P.write(tmp_path / "r.jsonl", recs)], tmp_path / "data")
    a = summarize(tmp_path / "data", "2026-06-01", "2026-07-01", engine="duckdb")
    b = summarize(tmp_path / "data", "2026-06-01", "2026-07-01", engine="pandas")
    names = {x.name for x in a.segments}
    assert set(odd) <= names and "" not in names and a.segments == b.segments
    for name in ("seg_sessions", "seg_comparisons"):       # counted under their values, as pandas counts them
        assert_frame_equal(a.counts[name], b.counts[name], obj=name)
    assert set(a.counts["seg_sessions"][f"seg_{odd[0]}"].dropna()) == {"x", "y"}
    assert review(tmp_path / "data", "2026-06-01", "2026-07-01").summaries.segments == a.segments
