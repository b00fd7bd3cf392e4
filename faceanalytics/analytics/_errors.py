"""Every error in one distribution, the Lite status funnel, and billing.

Sources of errors (``origin``):

* ``api_error`` — ``sessions.error``: the provider refused the call (Megvii
  ``error_message`` such as DATA_DESTROYED, Baidu ``error_code``/``code``).
* ``baidu_latest`` — ``sessions.error`` of a Baidu ``detail`` (or ``simple``) answer that is
  not a refused call: the document's ``code`` "仅认证失败时展示", the latest attempt's code as
  detail repeats it (getall lists the same attempt; :func:`repeats_latest_attempt`).
* ``verify_error`` — Megvii verify error messages (``verify_errors``, else
  ``sessions.verify_error``); the Lite document says which are billed
  (``schema.VERIFY_ERROR_BILLED``: NO_SUCH_ID_NUMBER, ID_NUMBER_NAME_NOT_MATCH,
  IMAGE_ERROR_UNSUPPORTED_FORMAT and NO_FACE_FOUND are; DATA_SOURCE_ERROR and
  INTERNAL_ERROR are not; v2's VERIFY_API_FAILED depends on the verify error: unknown).
* ``liveness_failure`` — v2 ``failure_reason`` (action_mixed, not_video, timeout, …),
  or ``FAIL`` for a Lite liveness failure that gives no reason.
* ``lite_fail_reason`` — Lite ``fail_reason`` (NETWORK_ERROR, PERMISSIONS_ERROR, SUPPORT_ERROR).
* ``lite_status`` — Lite sessions that did not end ``OK`` (NOT_STARTED, PROCESSING,
  FAILED, CANCELLED, TIMEOUT, WEBRTC_UNSUPPORTED).
* ``baidu_stat`` — Baidu ``stat`` counts per api with a non-zero ``error_code``.
* ``baidu_attempt`` — Baidu ``getall`` attempts with a non-zero ``code``; billed when
  the attempt says ``is_charged``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..schema import LITE_FINAL_STATUSES, LITE_PENDING_STATUSES, SOURCES, VERIFY_ERROR_BILLED
from .._time import freq_of, parse_tz
from ._core import _not_a_table, as_list, known_names, period_codes, period_label, require

__all__ = ["error_codes", "origin_totals", "status_funnel", "billing", "repeats_latest_attempt", "ORIGINS",
           "REPEATING_SOURCES", "LITE_STATUS_ORDER", "ROWS"]

ORIGINS = ("api_error", "verify_error", "liveness_failure", "lite_fail_reason", "lite_status",
           "baidu_stat", "baidu_attempt", "baidu_latest")
# Baidu result APIs whose failure ``code`` repeats the latest attempt's (the document: "错误码
# (仅认证失败时展示)"); getall lists every attempt with its own ``code``.
REPEATING_SOURCES = ("baidu_detail", "baidu_simple")
LITE_STATUS_ORDER = ("NOT_STARTED", "PROCESSING", "OK", "FAILED", "CANCELLED", "TIMEOUT",
                     "WEBRTC_UNSUPPORTED")
_COLUMNS = ["origin", "code", "detail", "message", "count", "share", "cumulative_share",
            "billed", "not_billed", "billing_unknown"]
# A table may come pre-counted (one row per distinct combination of the columns read
# here, as an engine that counts returns it): this column then says how many rows each
# stands for.  Results are the same as on the rows themselves.
ROWS = "_rows"


def _kind(df: pd.DataFrame) -> str:
    if isinstance(df, (list, tuple)):
        raise TypeError("error_codes and billing take each table as an argument of its own: "
                        "error_codes(sessions, verify_errors), or error_codes(*tables); got a list")
    if not isinstance(df, pd.DataFrame):
        raise _not_a_table(df, "error_codes and billing")
    cols = set(df.columns)
    if {"api", "error_code", "count"} <= cols:
        return "error_counts"
    if {"error_message", "billed"} <= cols:
        return "verify_errors"
    if {"code", "charged"} <= cols:
        return "attempts"
    if {"status", "error"} <= cols:
        return "sessions"
    raise TypeError("error_codes takes sessions, verify_errors, error_counts and attempts tables; "
                    f"got one with columns {', '.join(map(str, df.columns))}")


def _code_part(s: pd.Series) -> pd.Series:
    """``"AUTHORIZATION_ERROR:Denied."`` -> ``"AUTHORIZATION_ERROR"`` (vectorised)."""
    s = s.astype("str")
    return s.str.extract(r"^([^:]*)", expand=False).str.strip() if len(s) else s


def _detail_part(s: pd.Series) -> pd.Series:
    """``"AUTHORIZATION_ERROR:Denied."`` -> ``"Denied."``; missing when there is none."""
    s = s.astype("str")
    if not len(s):
        return s
    d = s.str.extract(r"^[^:]*:(.*)$", expand=False).str.strip()
    return d.where(d.str.len() > 0)


def _events(df: pd.DataFrame, origin: str, code, message, detail=None, count=None,
            billed=None, by=()) -> pd.DataFrame:
    n = len(df)
    out = pd.DataFrame({c: df[c].to_numpy() for c in by}) if by else pd.DataFrame(index=pd.RangeIndex(n))
    out["origin"] = origin
    out["code"] = np.asarray(code, dtype=object)
    out["detail"] = np.asarray(detail, dtype=object) if detail is not None else None
    out["message"] = np.asarray(message, dtype=object) if message is not None else None
    if count is None and ROWS in df.columns:        # a pre-counted row stands for ROWS rows
        count = df[ROWS]
    out["count"] = np.ones(n, np.int64) if count is None else np.asarray(count, dtype=np.int64)
    b = pd.array(billed if billed is not None else [pd.NA] * n, dtype="boolean")
    out["_b"] = np.asarray(b.fillna(False), dtype=bool) & ~np.asarray(b.isna())
    out["_nb"] = ~np.asarray(b.fillna(True), dtype=bool)
    out["_u"] = np.asarray(b.isna())
    return out


def repeats_latest_attempt(sessions: pd.DataFrame) -> np.ndarray:
    """Which sessions rows' ``error`` is the latest verification attempt's code as Baidu
    ``detail`` (or ``simple``) repeats it, not a refused call: rows of ``REPEATING_SOURCES``
    with an error that the Baidu client does not take for a failed call (a platform code it
    knows, such as 18 or 110, or "Token无效或者已过期": ``clients.baidu.baidu_error``'s rule,
    read from there).  A platform code the client does not know counts as the attempt's."""
    s = sessions
    if "source" not in s or "error" not in s:
        return np.zeros(len(s), dtype=bool)
    m = s["source"].isin(REPEATING_SOURCES).to_numpy() & s["error"].notna().to_numpy()
    if not m.any():
        return m
    from ..clients.baidu import is_verify_token_message
    from ..clients.errors import BAIDU_ERRORS

    code = s["error"].astype("str").str.strip()
    m &= ~code.isin(list(BAIDU_ERRORS)).to_numpy()
    if "error_message" in s:
        msg = s["error_message"]
        texts = msg[m & msg.notna().to_numpy()].astype("str").unique()
        call = [t for t in texts if is_verify_token_message(t)]
        m &= ~msg.isin(call).to_numpy()
    return m


def _sessions_events(s: pd.DataFrame, by, with_verify: bool) -> list[pd.DataFrame]:
    out = []
    err = s["error"].notna()
    if err.any():
        e = s[err]
        msg = e["error_message"] if "error_message" in e else _none(e)
        detail = _detail_part(e["error"])
        origin = np.where(repeats_latest_attempt(e), "baidu_latest", "api_error")
        out.append(_events(e, origin, _code_part(e["error"]), msg.where(msg.notna(), detail),
                           by=by))
    ok = ~err
    if "failure_reason" in s or "liveness_result" in s:
        fr = s["failure_reason"] if "failure_reason" in s else _none(s)
        lr = s["liveness_result"].astype("str").str.upper() if "liveness_result" in s else _none(s)
        reason = fr.where(fr.notna() & (fr.astype("str").str.len() > 0))
        failed = ok & (reason.notna() | lr.isin(["FAIL", "FAILED"]))
        if failed.any():
            f = s[failed]
            code = reason[failed].where(reason[failed].notna(), "FAIL")
            out.append(_events(f, "liveness_failure", code, None, by=by))
    if "fail_reason" in s:
        m = ok & s["fail_reason"].notna()
        if m.any():
            out.append(_events(s[m], "lite_fail_reason", s.loc[m, "fail_reason"], None, by=by))
    lite = ok & (s["source"] == "megvii_lite") if "source" in s else ok & False
    st = s["status"]
    m = lite & st.notna() & (st != "OK")
    if m.any():
        out.append(_events(s[m], "lite_status", st[m], None, by=by))
    if with_verify and "verify_error" in s:
        m = s["verify_error"].notna()
        if m.any():
            v = s[m]
            code = _code_part(v["verify_error"])
            out.append(_events(v, "verify_error", code, None,
                               billed=[VERIFY_ERROR_BILLED.get(c) for c in code], by=by))
    return out


def _none(df):
    return pd.Series([None] * len(df), index=df.index, dtype="str")


def error_codes(*tables: pd.DataFrame, by=None) -> pd.DataFrame:
    """Error codes from every source of errors, each origin its own Pareto distribution.

    Pass any of ``sessions``, ``verify_errors``, ``error_counts`` and ``attempts``
    (recognised by their columns).  One row per (``by``, ``origin``, ``code``,
    ``detail``): ``detail`` is the Baidu ``stat`` api, else missing; ``message`` the
    most common message seen with the code (Baidu's Chinese text, Megvii's error
    detail); ``count``; ``share`` of the errors of its ``origin`` in the ``by`` group;
    ``cumulative_share`` (Pareto within the origin, in row order); ``billed``, ``not_billed``,
    ``billing_unknown`` (counts).  Sorted by ``by``, then count (descending), origin,
    code, detail.  Success codes (``0``) and ``OK`` statuses are not errors.

    Each origin counts its own events and is its own Pareto: the same failure can be
    seen in several origins (a failed Baidu attempt is also counted by Baidu ``stat``,
    once per api that tallies it; a Lite session's status and its ``fail_reason`` or
    liveness failure), so counts are never added up across origins
    (:func:`origin_totals` gives each origin's).

    A table may also be given pre-counted, one row per distinct combination of the
    columns read here with a ``_rows`` column saying how many rows it stands for
    (what :func:`faceanalytics.engines.error_codes` has DuckDB or Spark compute).
    """
    by = as_list(by)
    kinds = {}
    for t in tables:
        kinds.setdefault(_kind(t), []).append(t)
        require(t, by, "error_codes by=")           # a bare KeyError('nope') from deep inside
    parts = []
    for s in kinds.get("sessions", []):
        parts += _sessions_events(s, by, with_verify="verify_errors" not in kinds)
    for v in kinds.get("verify_errors", []):
        code = _code_part(v["error_message"])
        parts.append(_events(v, "verify_error", code, _detail_part(v["error_message"]),
                             billed=v["billed"].astype("boolean"), by=by))
    for e in kinds.get("error_counts", []):
        m = e["error_code"].notna() & (e["error_code"].astype("str") != "0")
        e = e[m]
        parts.append(_events(e, "baidu_stat", e["error_code"], None, detail=e["api"],
                             count=e["count"].fillna(0).astype("int64"), by=by))
    for a in kinds.get("attempts", []):
        m = a["code"].notna() & (a["code"].astype("str") != "0")
        a = a[m]
        parts.append(_events(a, "baidu_attempt", a["code"], a["message"],
                             billed=a["charged"].astype("boolean"), by=by))
    parts = [p for p in parts if len(p)]
    if not parts:
        return pd.DataFrame({**{c: pd.Series(dtype="str") for c in by},
                             **{c: pd.Series(dtype=t) for c, t in zip(
                                 _COLUMNS, ["str"] * 4 + ["int64", "float64", "float64"] + ["int64"] * 3)}})
    ev = pd.concat(parts, ignore_index=True)
    for c in ("origin", "code", "detail", "message"):
        ev[c] = ev[c].astype("str")
    keys = [*by, "origin", "code", "detail"]
    ev["_bc"] = ev["_b"] * ev["count"]
    ev["_nbc"] = ev["_nb"] * ev["count"]
    ev["_uc"] = ev["_u"] * ev["count"]
    g = ev.groupby(keys, dropna=False, sort=True)
    out = g.agg(count=("count", "sum"), billed=("_bc", "sum"), not_billed=("_nbc", "sum"),
                billing_unknown=("_uc", "sum")).reset_index()
    # Most common message per key (ties: the first in sort order); messages need no loop.
    msg = ev[ev["message"].notna()].groupby([*keys, "message"], dropna=False, sort=True)["count"].sum()
    msg = msg.reset_index().sort_values([*keys, "count", "message"],
                                        ascending=[True] * len(keys) + [False, True], kind="stable",
                                        na_position="last")
    msg = msg.drop_duplicates(keys, keep="first")[[*keys, "message"]]
    out = out.merge(msg, on=keys, how="left", sort=False)
    out["origin_rank"] = out["origin"].map({o: i for i, o in enumerate(ORIGINS)})
    out = out.sort_values([*by, "count", "origin_rank", "code", "detail"],
                          ascending=[True] * len(by) + [False, True, True, True],
                          kind="stable", na_position="last").drop(columns="origin_rank")
    # Shares within each origin: one failure is seen in several origins (a failed Baidu attempt
    # is also in stat's per-API tally, under Verify_FIN and again under verify; a Lite session
    # ended WEBRTC_UNSUPPORTED also gives its fail_reason), so the origins are never pooled.
    grp = out.groupby([*by, "origin"], dropna=False)["count"]
    tot = grp.transform("sum")
    cum = grp.cumsum()
    out["share"] = (out["count"] / tot).astype("float64")
    out["cumulative_share"] = (cum / tot).astype("float64")
    for c in ("count", "billed", "not_billed", "billing_unknown"):
        out[c] = out[c].astype("int64")
    return out[[*by, *_COLUMNS]].reset_index(drop=True)


def origin_totals(errors: pd.DataFrame, by=None) -> pd.DataFrame:
    """Each origin's own total of an :func:`error_codes` result: ``by``, ``origin``,
    ``count``, ``codes`` (rows), ``billed``, ``not_billed``, ``billing_unknown``, ``top_code``,
    ``top_detail`` and ``top_share`` (its largest row); origins in the order of their largest row.  The
    origins are not added up: one failure can be counted in several."""
    by = as_list(by)
    cols = [*by, "origin", "count", "codes", "billed", "not_billed", "billing_unknown", "top_code", "top_detail",
            "top_share"]
    if errors.empty:
        return pd.DataFrame(columns=cols)
    e = errors.reset_index(drop=True)
    g = e.groupby([*by, "origin"], dropna=False, sort=False)
    out = g.agg(count=("count", "sum"), codes=("code", "size"), billed=("billed", "sum"),
                not_billed=("not_billed", "sum"), billing_unknown=("billing_unknown", "sum")).reset_index()
    first = e.loc[g["count"].idxmax().to_numpy()]   # rows are sorted by count: the first is the largest
    out["top_code"] = first["code"].to_numpy()
    out["top_detail"] = first["detail"].to_numpy()
    out["top_share"] = first["share"].to_numpy(dtype=np.float64)
    return out[cols].reset_index(drop=True)


def status_funnel(sessions: pd.DataFrame, by=None, *, source: str | None = "megvii_lite") -> pd.DataFrame:
    """Lite sessions per status, in lifecycle order.

    Columns: ``by``, ``status``, ``stage`` (``pending``: NOT_STARTED, PROCESSING may
    still change; ``final``; ``api_error``: the call failed, e.g. DATA_DESTROYED;
    ``other``), ``count``, ``share`` (of the group's sessions).  Statuses with no
    session are listed with 0 so the funnel always has the same bars.
    """
    by = as_list(by)
    require(sessions, ["status"], "status_funnel")
    s = sessions
    if source is not None:
        # a source the contract does not name was a funnel of zeros: refused, naming the sources
        known_names(source, "status_funnel source", SOURCES,
                    lambda: s["source"].dropna().astype("str").unique() if "source" in s else ())
        if not isinstance(source, str):
            raise TypeError(f"status_funnel source must be one source name (or None: every source); "
                            f"got {type(source).__name__}")
        if "source" in s:
            s = s[s["source"] == source]
    st = s["status"].astype("str")
    err = s["error"].notna() if "error" in s else pd.Series(False, index=s.index)
    stage = np.where(err, "api_error",
                     np.where(st.isin(LITE_PENDING_STATUSES), "pending",
                              np.where(st.isin(LITE_FINAL_STATUSES), "final", "other")))
    df = pd.DataFrame({**{c: s[c].to_numpy() for c in by}, "status": st.fillna("(none)").to_numpy(),
                       "stage": stage})
    counts = df.groupby([*by, "status", "stage"], dropna=False, sort=False).size().rename("count")
    counts = counts.reset_index()
    # Every lifecycle status present in every group.
    groups = counts[by].drop_duplicates() if by else pd.DataFrame(index=[0])
    base = pd.DataFrame({"status": list(LITE_STATUS_ORDER),
                         "stage": ["pending" if x in LITE_PENDING_STATUSES else "final"
                                   for x in LITE_STATUS_ORDER]})
    full = groups.merge(base, how="cross") if by else base
    out = full.merge(counts, on=[*by, "status", "stage"], how="outer", sort=False)
    out["count"] = out["count"].fillna(0).astype("int64")
    order = {s_: i for i, s_ in enumerate(LITE_STATUS_ORDER)}
    stage_rank = {"pending": 0, "final": 0, "other": 1, "api_error": 2}
    out["_r"] = out["stage"].map(stage_rank) * 100 + out["status"].map(order).fillna(50)
    out = out.sort_values([*by, "_r", "status"], kind="stable", na_position="last").drop(columns="_r")
    tot = out.groupby(by, dropna=False)["count"].transform("sum") if by else out["count"].sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        out["share"] = (out["count"] / tot).astype("float64")
    out["status"] = out["status"].astype("str")
    out["stage"] = out["stage"].astype("str")
    return out.reset_index(drop=True)[[*by, "status", "stage", "count", "share"]]


def billing(*tables: pd.DataFrame, freq: str = "M", tz=None) -> pd.DataFrame:
    """Charged attempts and billable errors per period.

    From Baidu ``attempts``: ``charged_verify`` / ``charged_match`` (attempts charged,
    by ``charge_type``), ``charged_other``, ``uncharged`` (attempts not charged),
    ``charged_errors`` (charged attempts that did not pass: billable errors),
    ``ocr_charged``.  From Megvii ``verify_errors``: ``billable_errors``,
    ``unbilled_errors``, ``errors_billing_unknown``.  Period from ``charge_time``
    when present, else ``verify_time``, else ``session_time``; ``freq`` a pandas alias
    (``"M"``/``"ME"``: calendar months labelled by their last day, ``"MS"`` by their first),
    days counted in ``tz`` (default UTC).
    Columns: ``period``, ``source``, ``item``, ``count``; sorted.
    """
    freq_of(freq)                                   # a bad alias fails before any work
    parts = []
    for t in tables:
        kind = _kind(t)
        if kind == "attempts":
            when = t["session_time"]
            for c in ("verify_time", "charge_time"):
                if c in t:
                    when = t[c].where(t[c].notna(), when)
            charged = t["charged"].astype("boolean").fillna(False).to_numpy(dtype=bool)
            ctype = t["charge_type"].astype("str").fillna("other") if "charge_type" in t else \
                pd.Series("other", index=t.index)
            ctype = ctype.where(ctype.isin(["verify", "match"]), "other")
            passed = t["passed"].astype("boolean").fillna(False).to_numpy(dtype=bool) if "passed" in t \
                else np.zeros(len(t), bool)
            items = {
                "charged_" + k: charged & (ctype.to_numpy() == k) for k in ("verify", "match", "other")
            }
            items["uncharged"] = ~charged & t["charged"].notna().to_numpy()
            items["charged_errors"] = charged & ~passed
            if "ocr_charged" in t:
                items["ocr_charged"] = t["ocr_charged"].astype("boolean").fillna(False).to_numpy(dtype=bool)
            for item, m in items.items():
                parts.append(pd.DataFrame({"when": when[m].to_numpy(), "source": t.loc[m, "source"].to_numpy(),
                                           "item": item}))
        elif kind == "verify_errors":
            b = t["billed"].astype("boolean")
            for item, m in (("billable_errors", b.fillna(False)), ("unbilled_errors", ~b.fillna(True)),
                            ("errors_billing_unknown", b.isna())):
                m = m.to_numpy(dtype=bool)
                parts.append(pd.DataFrame({"when": t.loc[m, "session_time"].to_numpy(),
                                           "source": t.loc[m, "source"].to_numpy(), "item": item}))
        else:
            raise TypeError("billing takes attempts and verify_errors tables")
    cols = ["period", "source", "item", "count"]
    ev = pd.concat([p for p in parts if len(p)], ignore_index=True) if any(len(p) for p in parts) else None
    if ev is None:
        return pd.DataFrame({"period": pd.Series(dtype=f"datetime64[us, {parse_tz(tz) or 'UTC'}]"), "source": pd.Series(dtype="str"),
                             "item": pd.Series(dtype="str"), "count": pd.Series(dtype="int64")})
    when = pd.to_datetime(ev["when"], utc=True)
    num, valid = period_codes(when, freq, tz)
    ev["period"] = period_label(num, freq, tz)
    ev.loc[~valid, "period"] = pd.NaT
    out = ev.groupby(["period", "source", "item"], dropna=False, sort=True).size().rename("count").reset_index()
    out["count"] = out["count"].astype("int64")
    out["source"] = out["source"].astype("str")
    out["item"] = out["item"].astype("str")
    return out[cols]
