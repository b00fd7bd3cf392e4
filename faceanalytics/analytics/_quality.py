"""Data-quality checks: what the review numbers may be missing or double counting.

* quarantined records (input that could not be flattened);
* sessions with no result: pending (NOT_STARTED/PROCESSING), an API error, or a
  finished session that should carry a comparison but has none;
* a ``request_id`` shared by different sessions: a canned or replayed response;
* values nulled because they cannot be right (NaN, infinities, a confidence outside
  0-100, an anti-spoofing score outside 0-1): ``sessions.invalid_values``;
* results fetched after the provider's retention (Megvii keeps results 1 day,
  Baidu 3 days): ``fetched_at - session_time``.  Only rows whose ``session_time``
  is a real event time (``time_basis`` ``verify_time`` or ``biz_id``, or ``getall``: a
  row without one placed at its token's getall time, ``analytics.place_untimed``) are
  judged; a ``biz_id`` time is token creation, so it overstates the delay a little.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from ..schema import LITE_PENDING_STATUSES
from ._core import EVENT_BASES, mask_ids, require, time_us
from ._errors import repeats_latest_attempt

__all__ = ["RETENTION", "late_fetches", "repeated_request_ids", "sessions_without_result",
           "data_quality"]

RETENTION = {"megvii": pd.Timedelta(days=1), "baidu": pd.Timedelta(days=3)}
_COMPARISON_SOURCES = ("megvii_lite", "megvii_liveness", "megvii_notify", "baidu_detail", "baidu_getall")
_REAL_TIME = EVENT_BASES     # (rows placed at their token's getall time too: analytics.place_untimed)
#: The note of the ``fetched_after_retention`` check (``report._summary`` too; translated in
#: ``messages/*.toml``, ``quality.check.fetched_after_retention.note``).
RETENTION_NOTE = ("fetched_at - session_time over retention (Megvii 1 day, Baidu 3 days). session_time is the "
                  "verification's time; Baidu detail, simple and stat carry none: their rows are timed from their "
                  "token's getall verification (without a stored getall, dated by their fetch: not judged)")


def _retention_us(source: pd.Series, retention: Mapping[str, pd.Timedelta]) -> np.ndarray:
    prov = source.astype("str").str.extract(r"^([^_]*)", expand=False)
    us = {k: int(pd.Timedelta(v).total_seconds() * 1_000_000) for k, v in retention.items()}
    return prov.map(us).astype("float64").to_numpy()


def _retention(retention) -> dict:
    """The defaults overridden by ``retention``, keyed by provider; a key that is no provider
    (``"megvii_lite"``, a typo) was ignored without a word, the default kept."""
    if retention is None:
        return dict(RETENTION)
    if not hasattr(retention, "items"):
        raise TypeError(f"retention must map a provider ({', '.join(RETENTION)}) to a duration; "
                        f"got {type(retention).__name__}")
    bad = [k for k in retention if k not in RETENTION]
    if bad:
        raise ValueError(f"retention: unknown {', '.join(map(repr, bad))}; keys are the providers "
                         f"{', '.join(RETENTION)}")
    return {**RETENTION, **retention}


def late_fetches(sessions: pd.DataFrame, *, retention: Mapping[str, pd.Timedelta] | None = None,
                 mask: bool = True) -> pd.DataFrame:
    """Sessions fetched after the provider's retention period.

    Columns: ``source``, ``session_id`` (masked unless ``mask=False``),
    ``session_time``, ``fetched_at``, ``time_basis``, ``delay_hours``,
    ``retention_hours``.  Sorted by delay (longest first), then ids.
    """
    require(sessions, ["source", "session_id", "fetched_at", "session_time"], "late_fetches")
    retention = _retention(retention)
    ret = _retention_us(sessions["source"], retention)
    delay = (time_us(sessions["fetched_at"]) - time_us(sessions["session_time"])).astype("float64")
    real = sessions["time_basis"].isin(_REAL_TIME).to_numpy() if "time_basis" in sessions \
        else np.ones(len(sessions), bool)
    late = real & ~np.isnan(ret) & (delay > ret)
    cols = ["source", "session_id", "session_time", "fetched_at"] + \
        (["time_basis"] if "time_basis" in sessions else [])
    out = sessions.loc[late, cols].reset_index(drop=True)
    if mask:
        out["session_id"] = mask_ids(out["session_id"])
    out["delay_hours"] = delay[late] / 3.6e9
    out["retention_hours"] = ret[late] / 3.6e9
    return out.sort_values(["delay_hours", "source", "session_id"], ascending=[False, True, True],
                           kind="stable").reset_index(drop=True)


def repeated_request_ids(sessions: pd.DataFrame, *, mask: bool = True) -> pd.DataFrame:
    """Sessions sharing a ``request_id`` with a *different* session id.

    The same session fetched from two endpoints (a notify body and get_result) may
    share its request id; two different sessions must not.  Columns:
    ``request_id``, ``n_sessions`` (distinct session ids), ``source``,
    ``session_id`` (masked unless ``mask=False``), ``fetched_at``.
    """
    require(sessions, ["request_id", "session_id", "source"], "repeated_request_ids")
    s = sessions[sessions["request_id"].notna()]
    n = s.groupby("request_id", sort=False)["session_id"].transform("nunique")
    dup = s[(n > 1).to_numpy()]
    cols = ["request_id", "source", "session_id"] + (["fetched_at"] if "fetched_at" in s else [])
    out = dup[cols].copy()
    out.insert(1, "n_sessions", n[(n > 1).to_numpy()].astype("int64").to_numpy())
    out = out.sort_values(["request_id", "source", "session_id"], kind="stable").reset_index(drop=True)
    if mask:
        out["session_id"] = mask_ids(out["session_id"])
    return out


def sessions_without_result(sessions: pd.DataFrame, comparisons: pd.DataFrame | None = None, *,
                            mask: bool = True) -> pd.DataFrame:
    """Sessions that yield no comparison, and why.

    ``reason``: ``api_error`` (the provider refused the call; Baidu ``detail``'s repeat of a
    failed attempt's code is a failed verification, not one), ``pending`` (Lite NOT_STARTED/PROCESSING: fetch again
    later), or ``no_comparison`` (finished, liveness passed or Baidu OK, but no
    comparison row).  Columns: ``source``, ``session_id`` (masked unless
    ``mask=False``), ``status``, ``reason``.  Only sources that carry comparisons.
    """
    require(sessions, ["source", "session_id", "status"], "sessions_without_result (the sessions table)")
    s = sessions[sessions["source"].isin(_COMPARISON_SOURCES)]
    err = s["error"].notna().to_numpy() if "error" in s else np.zeros(len(s), bool)
    st = s["status"].astype("str")
    pending = st.isin(LITE_PENDING_STATUSES).to_numpy() & ~err
    lr = s["liveness_result"].astype("str").str.upper() if "liveness_result" in s else None
    passed_live = lr.isin(["PASS", "SUCCESS"]).to_numpy() if lr is not None else np.zeros(len(s), bool)
    baidu_ok = (s["source"].astype("str").str.startswith("baidu") & (st == "OK")).to_numpy()
    expect = ~err & ~pending & (passed_live | baidu_ok)
    if comparisons is not None and len(comparisons):
        have = pd.MultiIndex.from_frame(comparisons[["source", "session_id"]].astype("str")).unique()
        mine = pd.MultiIndex.from_frame(s[["source", "session_id"]].astype("str"))
        has_cmp = mine.isin(have)
    else:
        has_cmp = np.zeros(len(s), bool)
    missing = expect & ~has_cmp
    # a refused call; not Baidu detail's repeat of a failed attempt's code (the verification failed)
    refused = err & ~repeats_latest_attempt(s)
    reason = np.where(refused, "api_error", np.where(pending, "pending", np.where(missing, "no_comparison", "")))
    keep = reason != ""
    out = s.loc[keep, ["source", "session_id", "status"]].reset_index(drop=True)
    out["reason"] = pd.Series(reason[keep], dtype="str")
    out = out.sort_values(["reason", "source", "session_id"], kind="stable").reset_index(drop=True)
    if mask:
        out["session_id"] = mask_ids(out["session_id"])
    return out


def data_quality(sessions: pd.DataFrame, *, comparisons: pd.DataFrame | None = None,
                 quarantine: pd.DataFrame | None = None,
                 retention: Mapping[str, pd.Timedelta] | None = None) -> pd.DataFrame:
    """One row per (check, source): ``check``, ``source``, ``n``, ``of``, ``share``, ``note``.

    Checks: ``quarantined`` (of records read: sessions + quarantined),
    ``duplicate_session`` (rows repeating a (source, session_id); the store keeps
    one), ``invalid_value`` (sessions with a value nulled as not finite or out of
    range), ``api_error``, ``pending``, ``no_comparison`` (see
    :func:`sessions_without_result`), ``repeated_request_id`` (sessions sharing a
    request id with another session), ``fetched_after_retention`` (of sessions
    with a real event time).  Every check is listed for every source, zeros included.
    """
    require(sessions, ["source", "session_id", "status"], "data_quality (the sessions table)")
    sources = sorted(set(sessions["source"].dropna().astype("str"))
                     | (set(quarantine["source"].dropna().astype("str")) if quarantine is not None else set()))
    n_sess = sessions.groupby("source").size()
    rows = []

    def add(check, counts: pd.Series, of: pd.Series, note: str):
        for src in sources:
            n = int(counts.get(src, 0))
            o = int(of.get(src, 0))
            rows.append((check, src, n, o, n / o if o else np.nan, note))

    if quarantine is not None:
        q = quarantine.groupby("source").size()
        add("quarantined", q, n_sess.add(q, fill_value=0), "records that could not be flattened")
    dup = sessions[sessions.duplicated(["source", "session_id"], keep="first")].groupby("source").size()
    add("duplicate_session", dup, n_sess, "should be 0: the store keeps one row per session")
    nr = sessions_without_result(sessions, comparisons, mask=False)
    for reason, note in (("api_error", "the provider refused the call"),
                         ("pending", "NOT_STARTED/PROCESSING: fetch again later"),
                         ("no_comparison", "finished and passed liveness, but no comparison")):
        if reason == "no_comparison" and comparisons is None:
            continue
        add(reason, nr[nr["reason"] == reason].groupby("source").size(), n_sess, note)
    rr = repeated_request_ids(sessions, mask=False) if "request_id" in sessions else None
    if rr is not None:
        add("repeated_request_id", rr.drop_duplicates(["source", "session_id"]).groupby("source").size(),
            n_sess, "same request_id, different session: canned or replayed response")
    if "invalid_values" in sessions:
        bad = sessions[sessions["invalid_values"].fillna(0) > 0]
        add("invalid_value", bad.groupby("source").size(), n_sess,
            "a value not finite or out of range (confidence 0-100, anti-spoofing 0-1): "
            "null, reason in extra")
    late = late_fetches(sessions, retention=retention, mask=False)
    real = sessions[sessions["time_basis"].isin(_REAL_TIME)] if "time_basis" in sessions else sessions
    add("fetched_after_retention", late.groupby("source").size(), real.groupby("source").size(), RETENTION_NOTE)
    out = pd.DataFrame(rows, columns=["check", "source", "n", "of", "share", "note"])
    return out.astype({"check": "str", "source": "str", "n": "int64", "of": "int64", "share": "float64",
                       "note": "str"})
