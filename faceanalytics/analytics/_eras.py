"""When did the provider's reference thresholds change?

Megvii's thresholds are per call and have changed over time (65.3/71.8/76.5/79.9 in
2016, 62.169/69.315/74.399/78.038 later); several sets can also be live at once.
An *era* is a run of consecutive periods whose most common threshold set is the same.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .._time import parse_tz, period_bounds
from ._core import LEVEL_COLUMNS, LEVELS, as_list, group_codes, period_codes, require, time_us
from ._rates import pass_rates
from ._segments import threshold_set_labels

__all__ = ["threshold_sets", "threshold_eras", "era_of", "pass_rates_by_era"]

_THR = [LEVEL_COLUMNS[lv] for lv in LEVELS]


def threshold_sets(comparisons: pd.DataFrame, by=None, *,
                   time_column: str = "session_time") -> pd.DataFrame:
    """Each distinct reference-threshold set: where and when it was seen.

    Columns: ``by``, ``threshold_set`` (text), ``thr_1e3`` … ``thr_1e6``, ``n``, ``share``
    (of rows with any level, within the ``by`` group), ``first_seen``, ``last_seen``.
    Sorted by ``by``, then ``first_seen``, then ``threshold_set``.
    """
    by = as_list(by)
    require(comparisons, [*by, *_THR, time_column], "threshold_sets")
    df = comparisons[[*by, *_THR, time_column]].copy()
    df["threshold_set"] = threshold_set_labels(comparisons)
    df = df[df["threshold_set"].notna()]
    if df.empty:
        return pd.DataFrame({**{c: pd.Series(dtype=comparisons[c].dtype) for c in by},
                             "threshold_set": pd.Series(dtype="str"),
                             **{c: pd.Series(dtype="float64") for c in _THR},
                             "n": pd.Series(dtype="int64"), "share": pd.Series(dtype="float64"),
                             "first_seen": pd.Series(dtype="datetime64[us, UTC]"),
                             "last_seen": pd.Series(dtype="datetime64[us, UTC]")})
    g = df.groupby([*by, "threshold_set"], dropna=False, sort=True)
    out = g.agg(**{c: (c, "first") for c in _THR}, n=(time_column, "size"),
                first_seen=(time_column, "min"), last_seen=(time_column, "max")).reset_index()
    tot = out.groupby(by, dropna=False)["n"].transform("sum") if by else out["n"].sum()
    out.insert(out.columns.get_loc("n") + 1, "share", out["n"] / tot)
    out["n"] = out["n"].astype("int64")
    return out.sort_values([*by, "first_seen", "threshold_set"], kind="stable",
                           na_position="last").reset_index(drop=True)


def threshold_eras(comparisons: pd.DataFrame, *, freq: str = "M", tz=None,
                   time_column: str = "session_time") -> pd.DataFrame:
    """Eras of the dominant threshold set, period by period.

    Columns: ``era`` (1, 2, …), ``threshold_set`` (dominant), ``thr_1e3`` … ``thr_1e6``,
    ``start`` (when its first period starts: local midnight in ``tz``), ``end`` (when the
    period after the era's last starts, exclusive), ``n`` (rows with any level in the era), ``dominant_share`` and
    ``other_sets`` (distinct other sets seen in the era: concurrent sets, not a change).
    """
    require(comparisons, [time_column, *_THR], "threshold_eras")
    labels = threshold_set_labels(comparisons)
    keep = labels.notna().to_numpy()
    df = comparisons.loc[keep, [time_column, *_THR]].reset_index(drop=True)
    df["threshold_set"] = labels[keep].reset_index(drop=True)
    cols = ["era", "threshold_set", *_THR, "start", "end", "n", "dominant_share", "other_sets"]
    when = f"datetime64[us, {parse_tz(tz) or 'UTC'}]"
    if df.empty:
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in zip(
            cols, ["int64", "str", *["float64"] * 4, when, when, "int64", "float64", "int64"])})
    codes, keys = group_codes(df, ["threshold_set"], freq=freq, time_column=time_column, tz=tz)
    counts = np.bincount(codes, minlength=len(keys))
    keys["count"] = counts
    keys = keys[keys["period"].notna()]
    # Most common set per period (ties: the first label in sort order).
    per = keys.sort_values(["period", "count", "threshold_set"], ascending=[True, False, True],
                           kind="stable")
    dom = per.drop_duplicates("period", keep="first").reset_index(drop=True)
    tot = keys.groupby("period")["count"].sum()
    dom["total"] = dom["period"].map(tot).to_numpy()
    run = (dom["threshold_set"] != dom["threshold_set"].shift()).cumsum().to_numpy()
    rows = []
    pnum = period_codes(pd.Series(dom["period"].array), freq, tz)[0]
    for era in np.unique(run):
        sel = run == era
        d = dom[sel]
        p0, p1 = d["period"].iloc[0], d["period"].iloc[-1]
        inside = keys[(keys["period"] >= p0) & (keys["period"] <= p1)]
        name = d["threshold_set"].iloc[0]
        n = int(inside["count"].sum())
        nd = int(inside.loc[inside["threshold_set"] == name, "count"].sum())
        others = int(inside.loc[inside["threshold_set"] != name, "threshold_set"].nunique())
        start = period_bounds(pnum[sel][:1], freq, tz)[0][0]
        end = period_bounds(pnum[sel][-1:], freq, tz)[1][0]
        vals = df.loc[df["threshold_set"] == name, _THR].iloc[0].to_numpy(dtype=float)
        rows.append((int(era), name, *vals, start, end, n, nd / n, others))
    out = pd.DataFrame(rows, columns=cols)
    return out.astype({"era": "int64", "threshold_set": "str", "n": "int64", "other_sets": "int64",
                       **{c: "float64" for c in _THR}, "start": when, "end": when})


def era_of(table: pd.DataFrame, eras: pd.DataFrame, *, time_column: str = "session_time") -> pd.Series:
    """The era (Int64, missing outside every era) each row's ``time_column`` falls in."""
    t = time_us(table[time_column])
    starts = time_us(eras["start"])
    ends = time_us(eras["end"])
    i = np.searchsorted(starts, t, side="right") - 1
    ok = (i >= 0) & (t != np.iinfo(np.int64).min)
    ii = np.where(ok, i, 0)
    ok &= t < ends[ii] if len(ends) else False
    era = eras["era"].to_numpy()[ii] if len(eras) else np.zeros(len(t), np.int64)
    return pd.Series(pd.array(np.where(ok, era, 0), dtype="Int64"), index=table.index,
                     name="era").mask(~ok)


def pass_rates_by_era(comparisons: pd.DataFrame, by=None, *, freq: str = "M", tz=None,
                      time_column: str = "session_time", **kwargs) -> pd.DataFrame:
    """:func:`pass_rates` per threshold era (each row still judged at its own thresholds).

    Columns: ``era``, ``threshold_set``, ``start``, ``end``, the ``by`` columns, then
    the :func:`pass_rates` columns.  Rows outside every era (no level) are left out.
    """
    by = as_list(by)
    eras = threshold_eras(comparisons, freq=freq, tz=tz, time_column=time_column)
    df = comparisons.copy()
    df["era"] = era_of(comparisons, eras, time_column=time_column)
    df = df[df["era"].notna()]
    rates = pass_rates(df, by=["era", *by], time_column=time_column, **kwargs)
    info = eras[["era", "threshold_set", "start", "end"]]
    rates["era"] = rates["era"].astype("int64")
    out = info.merge(rates, on="era", how="inner", sort=False)
    return out.reset_index(drop=True)
