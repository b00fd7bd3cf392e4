"""Summaries: the review's small count frames, and every metric the report shows derived from them.

:func:`summarize` counts once (DuckDB or Spark over the Parquet tables, or pandas for
tables in memory); each method of :class:`Summaries` then returns exactly the frame
the pandas metric of the same name gives on the rows (``pass_rates``,
``pass_rate_drift``, ``genuineness_rates``, ``error_codes``, ``status_funnel``, ...;
``tests/test_report_summaries.py`` holds them equal), from a few thousand rows of
counts whatever the number of comparisons.

>>> s = summarize("data", since="2026-04-01", until="2026-10-01", segments=["channel"])  # doctest: +SKIP
>>> s.pass_rates("current", by=["source", "comparison"], freq="W")                       # doctest: +SKIP
>>> s.histogram(comparison="faceid", since="2026-09-01")      # exact, fetched on demand   # doctest: +SKIP
"""
from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .. import analytics as A
from .._time import period_bounds, period_label, period_of_days
from ..analytics._core import EVENT_BASES, MIN_N, as_list, sums_by
from ..analytics._errors import repeats_latest_attempt
from ..analytics._quality import RETENTION_NOTE
from ..analytics._rates import rate_frame
from ..engines._review import OTHER, Segment, count_tables
from ..schema import LEVEL_COLUMNS, LEVELS
from ._counts import TABLES, check_frames, count_frames, normalize
from ._period import ReviewPeriod, review_engine

__all__ = ["Summaries", "summarize", "SIDES"]

_THR = [LEVEL_COLUMNS[lv] for lv in LEVELS]
SIDES = ("previous", "current", "both")
_ERROR_SESSION_COLUMNS = ["source", "status", "error", "error_message", "failure_reason", "fail_reason",
                          "liveness_result", "verify_error"]


def day_start(day, tz=None) -> pd.DatetimeIndex:
    """The local midnight (in ``tz``; default UTC) starting each local day number."""
    return period_label(np.asarray(day, dtype=np.int64), "D", tz)


def _frozen(x):
    """Arguments as a hashable key (``by=["source"]`` and ``by=("source",)`` alike)."""
    if isinstance(x, (list, tuple)):
        return tuple(_frozen(v) for v in x)
    return x


def _once(method):
    """A metric of the summaries computed once per arguments, a copy handed out each time
    (callers may change theirs).  A review's findings, sections and workbook ask for the
    same frames again and again: the error codes of a period nine times, each time from
    tens of thousands of count rows."""
    @functools.wraps(method)
    def once(self, *args, **kwargs):
        key = (method.__name__, _frozen(args), _frozen(tuple(sorted(kwargs.items()))))
        try:
            hash(key)
        except TypeError:                       # an argument that cannot be a key: computed each time
            return method(self, *args, **kwargs)
        memo = self.__dict__.setdefault("_memo", {})
        if key not in memo:
            memo[key] = method(self, *args, **kwargs)
        return memo[key].copy()
    return once


@dataclass
class Summaries:
    """The counts of a review (see :mod:`faceanalytics.engines._review`) and the metrics from them."""

    period: ReviewPeriod
    counts: dict[str, pd.DataFrame | None]
    segments: tuple[Segment, ...] = ()
    engine: str = "duckdb"
    data_dir: object = None
    data_end: pd.Timestamp | None = None       # latest session_time seen (partial last day)
    _engine: object = field(default=None, repr=False)
    _memo: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    # -------------------------------------------------------------- plumbing
    def frame(self, name: str) -> pd.DataFrame | None:
        f = self.counts.get(name)
        return None if f is None or f.empty else f

    @property
    def since_day(self) -> int:
        """The local day number of the period's start (days are counted in :attr:`tz`)."""
        return self.period.since_day

    @property
    def tz(self) -> str | None:
        return self.period.tz

    def _side(self, f: pd.DataFrame | None, side: str) -> pd.DataFrame | None:
        """Rows of a daily frame in the previous period, this one, or both."""
        if f is None:
            return None
        if side not in SIDES:
            raise ValueError(f"side must be one of {', '.join(SIDES)}, not {side!r}")
        if "day" in f.columns:
            d = f["day"].to_numpy()
            keep = np.ones(len(f), bool) if side == "both" else (d >= self.since_day) if side == "current" \
                else (d < self.since_day)
        else:
            s = f["side"].to_numpy()
            keep = np.ones(len(f), bool) if side == "both" else (s == (1 if side == "current" else 0))
        out = f[keep]
        return out if len(out) else None

    def _with_period(self, f: pd.DataFrame, freq: str | None) -> pd.DataFrame:
        if freq is None:
            return f
        f = f.copy()
        f["period"] = period_label(period_of_days(f["day"].to_numpy(), freq), freq, self.tz)
        return f

    @staticmethod
    def _sum(f: pd.DataFrame, keys: list[str], masks: Sequence[np.ndarray]):
        """(keys frame, [sum of n where mask] per mask), groups sorted as the metrics sort them."""
        n = f["n"].to_numpy(dtype=np.float64)
        return sums_by(f, keys, [np.where(m, n, 0.0) for m in masks])

    # -------------------------------------------------------------- pass rates
    @_once
    def pass_rates(self, side: str = "current", by=None, *, freq: str | None = None,
                   levels: Sequence[str] = LEVELS, min_n: int = MIN_N) -> pd.DataFrame:
        """:func:`faceanalytics.analytics.pass_rates` of the period's comparisons."""
        by, levels = as_list(by), list(levels)
        f = self._side(self.frame("comparisons"), side)
        if f is None:
            return A.pass_rates(_empty_comparisons(by), by, freq=freq, tz=self.tz, levels=levels, min_n=min_n)
        f = self._with_period(f, freq)
        keys = [*by, *(["period"] if freq else [])]
        bits = f["bits"].to_numpy()
        masks = []
        for lv in levels:
            i = LEVELS.index(lv)
            masks += [f[LEVEL_COLUMNS[lv]].notna().to_numpy(), (bits & (1 << i)) > 0]
        kf, sums = self._sum(f, keys, masks)
        return rate_frame(kf, levels, "level", sums[0::2], sums[1::2], min_n=min_n)

    @_once
    def configured_pass_rates(self, side: str = "current", by=None, *, freq: str | None = None,
                              min_n: int = MIN_N) -> pd.DataFrame:
        """:func:`faceanalytics.analytics.configured_pass_rates` (Baidu's plan threshold)."""
        by = as_list(by)
        f = self._side(self.frame("comparisons"), side)
        f = None if f is None else f[f["threshold"].notna().to_numpy()]
        if f is None or f.empty:
            return A.configured_pass_rates(_empty_comparisons(by), by, freq=freq, tz=self.tz, min_n=min_n)
        f = self._with_period(f, freq)
        kf, (n, k) = self._sum(f, [*by, "threshold", *(["period"] if freq else [])],
                               [np.ones(len(f), bool), (f["bits"].to_numpy() & 16) > 0])
        out = rate_frame(kf, ["configured"], "rule", [n], [k], min_n=min_n)
        cols = [c for c in kf.columns if c != "threshold"] + ["threshold"]
        return out[cols + ["n", "passed", "pass_rate", "ci_low", "ci_high", "low_n"]]

    @_once
    def pass_rate_drift(self, by=None, *, min_n: int = MIN_N) -> pd.DataFrame:
        """:func:`faceanalytics.analytics.pass_rate_drift`, previous period -> this one."""
        by = as_list(by)
        return A.pass_rate_drift_from_rates(self.pass_rates("previous", by, min_n=min_n),
                                            self.pass_rates("current", by, min_n=min_n), by, min_n=min_n)

    @_once
    def value_histogram(self, side: str, by=None) -> pd.DataFrame:
        """Confidence in 0.1-point bins (the bin's lower edge), per ``by``: the drift input."""
        by = as_list(by)
        f = self._side(self.frame("comparison_hist"), side)
        if f is None:
            return pd.DataFrame({**{c: pd.Series(dtype="str") for c in by}, "confidence": pd.Series(dtype="float64"),
                                 "count": pd.Series(dtype="int64")})
        b = f["bin"]
        ok = b.notna().to_numpy()
        g = f[ok]
        v = g["bin"].to_numpy(dtype=np.int64) / 10.0
        h = pd.DataFrame({**{c: g[c].to_numpy() for c in by}, "confidence": v, "count": g["n"].to_numpy()})
        out = h.groupby([*by, "confidence"], sort=True, dropna=False)["count"].sum().reset_index()
        out["count"] = out["count"].astype("int64")
        return out

    @_once
    def distribution_drift(self, by=None) -> pd.DataFrame:
        """PSI and KS of confidence (0.1-point bins), previous period -> this one."""
        by = as_list(by)
        return A.distribution_drift_from_histograms(self.value_histogram("previous", by),
                                                    self.value_histogram("current", by), by)

    @_once
    def figure_histogram(self, side: str = "current", *, comparison: str | None = None) -> pd.DataFrame:
        """A :func:`~faceanalytics.analytics.confidence_histogram`-shaped frame for the figures:
        each 0.1-point bin's rows at a confidence that keeps every pass decision of their own
        thresholds (the bin's edge, raised to the highest threshold they pass), so
        ``plot_confidence_thresholds`` draws the same bars and pass rates as from the rows."""
        f = self._side(self.frame("comparison_hist"), side)
        cols = ["source", "comparison", *_THR, "threshold", "confidence", "count"]
        if f is None:
            return pd.DataFrame({c: pd.Series(dtype="float64" if c not in ("source", "comparison", "count")
                                              else "int64" if c == "count" else "str") for c in cols})
        if comparison is not None:
            f = f[(f["comparison"] == comparison).to_numpy()]
        bits = f["bits"].to_numpy()
        v = np.where(f["bin"].notna().to_numpy(), f["bin"].to_numpy(dtype=np.float64, na_value=np.nan) / 10.0, np.nan)
        for i, c in enumerate([*_THR, "threshold"]):
            t = f[c].to_numpy(dtype=np.float64)
            passed = (bits & (1 << i)) > 0
            v = np.where(passed & (t > v), t, v)
        out = pd.DataFrame({"source": f["source"].to_numpy(), "comparison": f["comparison"].to_numpy(),
                            **{c: f[c].to_numpy(dtype=np.float64) for c in [*_THR, "threshold"]},
                            "confidence": v, "count": f["n"].to_numpy(dtype=np.int64)})
        return out.reset_index(drop=True)

    # -------------------------------------------------------------- thresholds
    @_once
    def threshold_sets(self, side: str = "both", by=("source", "comparison")) -> pd.DataFrame:
        """:func:`faceanalytics.analytics.threshold_sets`, first/last seen as days."""
        by = as_list(by)
        f = self._side(self.frame("comparisons"), side)
        cols = [*by, "threshold_set", *_THR, "n", "share", "first_seen", "last_seen"]
        if f is None:
            return pd.DataFrame(columns=cols)
        f = f.assign(threshold_set=A.threshold_set_labels(f))
        f = f[f["threshold_set"].notna().to_numpy()]
        if f.empty:
            return pd.DataFrame(columns=cols)
        g = f.groupby([*by, "threshold_set"], sort=True, dropna=False)
        out = g.agg(**{c: (c, "first") for c in _THR}, n=("n", "sum"), first=("day", "min"),
                    last=("day", "max")).reset_index()
        tot = out.groupby(by, dropna=False)["n"].transform("sum") if by else out["n"].sum()
        out["share"] = out["n"] / tot
        out["first_seen"] = day_start(out["first"], self.tz)
        out["last_seen"] = day_start(out["last"], self.tz)
        out = out.sort_values([*by, "first_seen", "threshold_set"], kind="stable").reset_index(drop=True)
        return out[cols]

    @_once
    def threshold_eras(self, by=("source", "comparison"), *, freq: str = "D") -> pd.DataFrame:
        """:func:`faceanalytics.analytics.threshold_eras` per ``by`` group over both periods:
        runs of days (or weeks) whose most common reference-threshold set is the same."""
        by = as_list(by)
        f = self._side(self.frame("comparisons"), "both")
        cols = [*by, "era", "threshold_set", *_THR, "start", "end", "n", "dominant_share", "other_sets"]
        if f is None:
            return pd.DataFrame(columns=cols)
        f = f.assign(threshold_set=A.threshold_set_labels(f), p=period_of_days(f["day"].to_numpy(), freq))
        f = f[f["threshold_set"].notna().to_numpy()]
        rows = []
        for key, grp in f.groupby(by, sort=True, dropna=False) if by else [((), f)]:
            key = key if isinstance(key, tuple) else (key,)
            per = grp.groupby(["p", "threshold_set"], sort=True)["n"].sum().reset_index()
            per = per.sort_values(["p", "n", "threshold_set"], ascending=[True, False, True], kind="stable")
            dom = per.drop_duplicates("p", keep="first").reset_index(drop=True)
            run = (dom["threshold_set"] != dom["threshold_set"].shift()).cumsum().to_numpy()
            for era in np.unique(run):
                d = dom[run == era]
                p0, p1 = int(d["p"].iloc[0]), int(d["p"].iloc[-1])
                inside = per[(per["p"] >= p0) & (per["p"] <= p1)]
                name = d["threshold_set"].iloc[0]
                n = int(inside["n"].sum())
                nd = int(inside.loc[inside["threshold_set"] == name, "n"].sum())
                others = int(inside.loc[inside["threshold_set"] != name, "threshold_set"].nunique())
                vals = grp.loc[grp["threshold_set"] == name, _THR].iloc[0].to_numpy(dtype=float)
                rows.append((*key, int(era), name, *vals, period_bounds([p0], freq, self.tz)[0][0],
                             period_bounds([p1], freq, self.tz)[1][0], n, nd / n, others))
        out = pd.DataFrame(rows, columns=cols)
        return out.astype({"era": "int64", "n": "int64", "other_sets": "int64", "threshold_set": "str"})

    # -------------------------------------------------------------- would-flip
    @_once
    def would_flip(self, frm: str = "1e-4", to: str = "1e-5", by=("comparison",), side: str = "current"
                   ) -> pd.DataFrame:
        """The comparison counts of :func:`faceanalytics.analytics.would_flip_summary`
        (``n``, ``passed_from``, ``passed_to``, ``to_reject``, ``to_pass``, ``changed_share``)."""
        by = as_list(by)
        f = self._side(self.frame("comparisons"), side)
        cols = [*by, "from", "to", "n", "passed_from", "passed_to", "to_reject", "to_pass", "changed_share"]
        if f is None:
            return pd.DataFrame(columns=cols)
        i0, i1 = LEVELS.index(frm), LEVELS.index(to)
        both = f[LEVEL_COLUMNS[frm]].notna().to_numpy() & f[LEVEL_COLUMNS[to]].notna().to_numpy()
        bits = f["bits"].to_numpy()
        p0, p1 = both & ((bits & (1 << i0)) > 0), both & ((bits & (1 << i1)) > 0)
        kf, (n, a, b, down, up) = self._sum(f, by, [both, p0, p1, p0 & ~p1, ~p0 & p1])
        out = kf.copy() if by else pd.DataFrame(index=pd.RangeIndex(1))
        out["from"], out["to"] = frm, to
        out["n"], out["passed_from"], out["passed_to"], out["to_reject"], out["to_pass"] = n, a, b, down, up
        with np.errstate(divide="ignore", invalid="ignore"):
            out["changed_share"] = ((out["to_reject"] + out["to_pass"]) / out["n"].where(out["n"] > 0)).astype(
                "float64")
        out = out[out["n"] > 0] if by else out
        return out[cols].reset_index(drop=True)

    # -------------------------------------------------------------- anti-spoofing
    @_once
    def genuineness_rates(self, side: str = "current", by=None, *, freq: str | None = None,
                          min_n: int = MIN_N) -> pd.DataFrame:
        """The rate columns of :func:`faceanalytics.analytics.genuineness_rates` (``attack``,
        ``n``, ``flagged``, ``flagged_rate``, ``ci_low``, ``ci_high``, ``low_n``,
        ``n_no_threshold``)."""
        by = as_list(by)
        f = self._side(self.frame("genuineness"), side)
        keys = [*by, "attack", *(["period"] if freq else [])]
        if f is None:
            return pd.DataFrame(columns=[*keys, "n", "flagged", "flagged_rate", "ci_low", "ci_high", "low_n",
                                         "n_no_threshold"])
        f = self._with_period(f, freq)
        st = f["state"].to_numpy()
        rated = (st & 3) == 0
        kf, (n, k, nt) = self._sum(f, keys, [rated, rated & ((st & 4) > 0), (st & 3) == 2])
        out = rate_frame(kf, ["_"], "_", [n], [k], count_name="flagged", rate_name="flagged_rate",
                         min_n=min_n, keep_empty=True).drop(columns="_")
        out["n_no_threshold"] = nt
        return out

    @_once
    def genuineness_near(self, side: str = "current", by=None) -> pd.DataFrame:
        """Per attack: ``n``, ``just_under`` (within 0.05 under the threshold), the most common
        threshold and its range (:func:`faceanalytics.analytics.genuineness_near_threshold`)."""
        by = as_list(by)
        f = self._side(self.frame("genuineness"), side)
        cols = [*by, "attack", "n", "just_under", "threshold", "threshold_min", "threshold_max", "n_thresholds"]
        if f is None:
            return pd.DataFrame(columns=cols)
        st = f["state"].to_numpy()
        rated = (st & 3) == 0
        kf, (n, under) = self._sum(f, [*by, "attack"], [rated, rated & ((st & 8) > 0)])
        out = kf.copy()
        out["n"], out["just_under"] = n, under
        r = f[rated].groupby([*by, "attack", "threshold"], sort=True, dropna=False)["n"].sum().reset_index()
        r = r.sort_values([*by, "attack", "n", "threshold"], ascending=[True] * (len(by) + 1) + [False, True],
                          kind="stable")
        mode = r.drop_duplicates([*by, "attack"]).set_index([*by, "attack"])["threshold"]
        agg = r.groupby([*by, "attack"], dropna=False)["threshold"].agg(["min", "max", "nunique"])
        idx = pd.MultiIndex.from_frame(out[[*by, "attack"]]) if by else pd.Index(out["attack"])
        out["threshold"] = mode.reindex(idx).to_numpy(dtype=np.float64) if len(mode) else np.nan
        out["threshold_min"] = agg["min"].reindex(idx).to_numpy(dtype=np.float64) if len(agg) else np.nan
        out["threshold_max"] = agg["max"].reindex(idx).to_numpy(dtype=np.float64) if len(agg) else np.nan
        out["n_thresholds"] = agg["nunique"].reindex(idx).fillna(0).to_numpy(dtype=np.int64) if len(agg) else 0
        return out[cols]

    # -------------------------------------------------------------- errors, funnel, quality
    def _error_inputs(self, side: str, extra: Sequence[str] = ()) -> list[pd.DataFrame]:
        """The four error tables pre-counted (``_rows``/``count``), as ``analytics.error_codes`` reads them."""
        extra = list(extra)
        out = []
        for name, cols, total in (("sessions", _ERROR_SESSION_COLUMNS, None),
                                  ("verify_errors", ["source", "error_message", "billed"], None),
                                  ("error_counts", ["source", "api", "error_code"], "count"),
                                  ("attempts", ["source", "code", "message", "charged"], None)):
            f = self._side(self.frame(name), side)
            if f is None:
                cols_all = [*cols, *extra, total or "_rows"]
                out.append(pd.DataFrame({c: pd.Series(dtype="int64" if c in ("count", "_rows", "day") else
                                                      "boolean" if c in ("billed", "charged") else "str")
                                         for c in cols_all}))
                continue
            f = f.rename(columns={"n": total or "_rows"})[[*cols, *extra, total or "_rows"]]
            out.append(f.reset_index(drop=True) if "day" in extra else _precounted(f, total or "_rows"))
        return out

    @_once
    def error_codes(self, side: str = "current", *, by=None) -> pd.DataFrame:
        """:func:`faceanalytics.analytics.error_codes` over the sessions, verify errors, Baidu stat
        counts and attempts (``by`` may include ``day``)."""
        by = as_list(by)
        return A.error_codes(*self._error_inputs(side, [c for c in by if c != "source"]), by=by)

    @_once
    def status_funnel(self, side: str = "current") -> pd.DataFrame:
        """:func:`faceanalytics.analytics.status_funnel` (Megvii Lite sessions)."""
        f = self._side(self.frame("sessions"), side)
        if f is None:
            return A.status_funnel(pd.DataFrame({"source": pd.Series(dtype="str"), "status": pd.Series(dtype="str"),
                                                 "error": pd.Series(dtype="str")}))
        rows = f.loc[f.index.repeat(f["n"].to_numpy()), ["source", "status", "error"]] \
            if int(f["n"].sum()) <= 200_000 else None
        if rows is not None:
            return A.status_funnel(rows.reset_index(drop=True))
        # Many sessions: the same rule on the counts (LITE_* sets from the schema).
        from ..analytics._errors import LITE_STATUS_ORDER
        from ..schema import LITE_FINAL_STATUSES, LITE_PENDING_STATUSES

        lite = f[(f["source"] == "megvii_lite").to_numpy()]
        st = lite["status"].astype("str")
        err = lite["error"].notna().to_numpy()
        stage = np.where(err, "api_error", np.where(st.isin(LITE_PENDING_STATUSES), "pending",
                                                    np.where(st.isin(LITE_FINAL_STATUSES), "final", "other")))
        c = pd.DataFrame({"status": st.fillna("(none)").to_numpy(), "stage": stage, "n": lite["n"].to_numpy()})
        c = c.groupby(["status", "stage"], sort=False)["n"].sum().rename("count").reset_index()
        base = pd.DataFrame({"status": list(LITE_STATUS_ORDER),
                             "stage": ["pending" if x in LITE_PENDING_STATUSES else "final" for x in LITE_STATUS_ORDER]})
        out = base.merge(c, on=["status", "stage"], how="outer", sort=False)
        out["count"] = out["count"].fillna(0).astype("int64")
        order = {s_: i for i, s_ in enumerate(LITE_STATUS_ORDER)}
        rank = {"pending": 0, "final": 0, "other": 1, "api_error": 2}
        out["_r"] = out["stage"].map(rank) * 100 + out["status"].map(order).fillna(50)
        out = out.sort_values(["_r", "status"], kind="stable").drop(columns="_r").reset_index(drop=True)
        out["share"] = (out["count"] / out["count"].sum()).astype("float64")
        return out[["status", "stage", "count", "share"]].astype({"status": "str", "stage": "str"})

    @_once
    def session_counts(self, side: str = "current") -> pd.Series:
        """Session rows per source."""
        f = self._side(self.frame("sessions"), side)
        if f is None:
            return pd.Series(dtype="int64")
        return f.groupby("source")["n"].sum().astype("int64")

    @_once
    def time_basis(self, side: str = "current") -> pd.DataFrame:
        """Sessions per source and what dates them (verify_time, biz_id, fetched_at)."""
        f = self._side(self.frame("sessions"), side)
        if f is None:
            return pd.DataFrame(columns=["source", "time_basis", "n"])
        return f.groupby(["source", "time_basis"], dropna=False, sort=True)["n"].sum().reset_index()

    @_once
    def data_quality(self) -> pd.DataFrame:
        """:func:`faceanalytics.analytics.data_quality` of this period (request ids compared
        within each source and calendar month)."""
        s = self._side(self.frame("sessions"), "current")
        q = self._side(self.frame("quarantine"), "current")
        qual = self.frame("quality")
        sources = sorted((set(s["source"]) if s is not None else set())
                         | (set(q["source"]) if q is not None else set()))
        n_sess = s.groupby("source")["n"].sum() if s is not None else pd.Series(dtype="int64")
        rows = []

        def add(check, counts: pd.Series, of: pd.Series, note: str):
            for src in sources:
                n, o = int(counts.get(src, 0)), int(of.get(src, 0))
                rows.append((check, src, n, o, n / o if o else np.nan, note))

        empty = pd.Series(dtype="int64")
        qn = q.groupby("source")["n"].sum() if q is not None else empty
        add("quarantined", qn, n_sess.add(qn, fill_value=0), "records that could not be flattened")
        dup = (qual.groupby("source")["rows"].sum() - qual.groupby("source")["ids"].sum()) if qual is not None else empty
        add("duplicate_session", dup, n_sess, "should be 0: the store keeps one row per session")
        if s is not None:
            cmp_src = s["source"].isin(["megvii_lite", "megvii_liveness", "megvii_notify", "baidu_detail",
                                        "baidu_getall"]).to_numpy()
            err = s["error"].notna().to_numpy()
            pend = s["status"].isin(["NOT_STARTED", "PROCESSING"]).to_numpy() & ~err
            api = s[cmp_src & err & ~repeats_latest_attempt(s)].groupby("source")["n"].sum()
            pending = s[cmp_src & pend].groupby("source")["n"].sum()
        else:
            api = pending = empty
        add("api_error", api, n_sess, "the provider refused the call")
        add("pending", pending, n_sess, "NOT_STARTED/PROCESSING: fetch again later")
        if self.frame("comparisons") is not None or qual is not None:
            nc = qual.groupby("source")["no_comparison"].sum() if qual is not None else empty
            add("no_comparison", nc, n_sess, "finished and passed liveness, but no comparison")
        rep = qual.groupby("source")["repeated"].sum() if qual is not None else empty
        add("repeated_request_id", rep, n_sess,
            "same request_id, different session (within a source and month): canned or replayed response")
        bad = s[s["invalid"].astype(bool).to_numpy()].groupby("source")["n"].sum() if s is not None else empty
        add("invalid_value", bad, n_sess, "a value not finite or out of range (confidence 0-100, anti-spoofing 0-1): "
                                          "null, reason in extra")
        if s is not None:
            real = s[s["time_basis"].isin(EVENT_BASES).to_numpy()]
            late = s[s["late"].astype(bool).to_numpy()].groupby("source")["n"].sum()
            of = real.groupby("source")["n"].sum()
        else:
            late = of = empty
        add("fetched_after_retention", late, of, RETENTION_NOTE)
        out = pd.DataFrame(rows, columns=["check", "source", "n", "of", "share", "note"])
        return out.astype({"check": "str", "source": "str", "n": "int64", "of": "int64", "share": "float64",
                           "note": "str"})

    @_once
    def quarantine(self, side: str = "current") -> pd.DataFrame:
        q = self._side(self.frame("quarantine"), side)
        if q is None:
            return pd.DataFrame(columns=["reason", "records"])
        return q.groupby("reason")["n"].sum().sort_values(ascending=False, kind="stable").rename(
            "records").reset_index()

    # -------------------------------------------------------------- on demand
    def histogram(self, *, comparison: str | None = None, segment: str | None = None, value: str | None = None,
                  since=None, until=None, by=None, freq: str | None = None) -> pd.DataFrame:
        """The exact :func:`~faceanalytics.analytics.confidence_histogram` of some comparisons,
        counted where the data lives when asked: an explorer's "this kind, this segment value,
        this week" (``segment``: one of :attr:`segments`, by name; ``value``: its value).

        >>> s.histogram(comparison="faceid", segment="channel", value="app", since="2026-09-07",
        ...             until="2026-09-14")                                        # doctest: +SKIP
        """
        from .. import engines

        if self.data_dir is None:
            raise ValueError("histogram() needs summaries of a data directory")
        if comparison is not None:       # a kind naming nothing answered an empty histogram
            from ..analytics._core import COMPARISON_KINDS, known_names

            f = self.frame("comparison_hist")
            known_names(comparison, "histogram comparison", COMPARISON_KINDS,
                        lambda: () if f is None else f["comparison"].dropna().astype("str").unique())
        since = since or self.period.previous_since
        until = until or self.period.until
        eng = self._engine or self.engine
        if segment is None:
            h = engines.confidence_histogram(self.data_dir, by=["comparison", *as_list(by)], freq=freq, since=since,
                                             until=until, tz=self.tz, engine=eng)
            return h[(h["comparison"] == comparison).to_numpy()].reset_index(drop=True) if comparison is not None else h
        seg = next((x for x in self.segments if x.name == segment), None)
        if seg is None:
            raise ValueError(f"no segment {segment!r}; the review's segments are "
                             f"{', '.join(x.name for x in self.segments) or 'none'}")
        from ..analytics._hist import THRESHOLD_COLUMNS
        from ..engines._explore import ALL, selection_histogram

        # Counted where the data lives (memory flat however many rows the segment holds).
        h = selection_histogram(self.data_dir, "comparisons", "comparison", THRESHOLD_COLUMNS,
                                kind=ALL if comparison is None else comparison, segment=seg, by=as_list(by), freq=freq,
                                since=since, until=until, tz=self.tz, engine=eng)
        v = h[seg.label]
        keep = v.isna() if value is None else v == value
        return h[keep.to_numpy(dtype=bool, na_value=False)].drop(columns=seg.label).reset_index(drop=True)


def _precounted(f: pd.DataFrame, total: str) -> pd.DataFrame:
    """The rows of ``f`` with the same values summed into one (``total`` added up).

    :func:`faceanalytics.analytics.error_codes` reads a pre-counted row as the rows it
    stands for, so the result is the same; but a period's session counts have a row per
    day, time basis and flag besides the error columns (55,000 rows for a half year of
    bench_review_documents.py's data, 330 once summed), and it reads each row's codes from its texts."""
    keys = [c for c in f.columns if c != total]
    if not len(f) or not keys:
        return f.reset_index(drop=True)
    kf, (n,) = sums_by(f, keys, [f[total].to_numpy(dtype=np.float64)])
    kf[total] = n
    return kf


def _empty_comparisons(by) -> pd.DataFrame:
    cols = {c: pd.Series(dtype="str") for c in as_list(by)}
    cols.update({"confidence": pd.Series(dtype="float64"), **{c: pd.Series(dtype="float64") for c in _THR},
                 "threshold": pd.Series(dtype="float64"),
                 "session_time": pd.Series(dtype="datetime64[us, UTC]")})
    return pd.DataFrame(cols)


# ------------------------------------------------------------------ building them

def summarize(data, since=None, until=None, *, segments=None, engine="auto", period: ReviewPeriod | None = None,
              progress=None, tz=None) -> Summaries:
    """Count everything a review needs for ``[since, until)`` and the period before it,
    by the calendar days of ``tz`` (an IANA time zone; default UTC).

    ``data``: a data directory (counted by DuckDB, Spark or pandas: ``engine``), or a
    mapping of table name -> DataFrame already in memory (counted by pandas).
    ``segments``: keys to segment by (``biz_extra_data`` keys or sessions columns);
    None picks the low-cardinality keys the sessions carry (see
    :func:`faceanalytics.report._segments.choose_segments`).
    """
    from ._period import review_period
    from ._segments import choose_segments

    in_memory = isinstance(data, Mapping)
    if in_memory:
        check_frames(data)                      # before any column is read: errors name the table
    if period is None:
        latest = _latest_in_frames(data) if in_memory else None
        period = review_period(None if in_memory else data, since, until, latest=latest, tz=tz)
    eng = None if in_memory else review_engine(engine)
    eng_name = "pandas" if in_memory else eng.name
    segs = choose_segments(data, period, segments, engine=eng)
    if in_memory or eng_name == "pandas":
        tables = data if in_memory else _load_tables(data, period)
        counts = count_frames(tables, previous_since=period.previous_since, since=period.since, until=period.until,
                              segments=segs, tz=period.tz)
    else:
        counts = count_tables(data, previous_since=period.previous_since, since=period.since, until=period.until,
                              segments=segs, engine=eng, progress=progress, tz=period.tz)
    counts = {k: normalize(v) for k, v in counts.items()}
    end = _data_end(counts, period)
    return Summaries(period=period, counts=counts, segments=tuple(segs), engine=eng_name,
                     data_dir=None if in_memory else data, data_end=end, _engine=eng)


def _load_tables(data_dir, period: ReviewPeriod) -> dict[str, pd.DataFrame]:
    from ..engines._api import load_placed

    return {t: load_placed(data_dir, t, since=period.previous_since, until=period.until) for t in TABLES}


def _latest_in_frames(frames: Mapping[str, pd.DataFrame]) -> pd.Timestamp | None:
    latest = None
    for t in ("sessions", "quarantine", "comparisons"):
        f = frames.get(t)
        if f is not None and len(f) and "session_time" in f:
            m = pd.Timestamp(f["session_time"].max())
            if m is not pd.NaT:
                m = m.tz_convert("UTC") if m.tzinfo else m.tz_localize("UTC")
                latest = m if latest is None else max(latest, m)
    return latest


def _data_end(counts, period: ReviewPeriod) -> pd.Timestamp | None:
    """The latest session time of the period: the time itself when the period was chosen from
    the data; else, from the daily counts, the last instant of the last day with a session
    (that day is whole as far as they tell, so no day is cut as partial)."""
    if period.latest is not None:
        return period.latest
    days = [int(f["day"].max()) for k, f in counts.items() if f is not None and "day" in f.columns and len(f)]
    return day_start([max(days) + 1], period.tz)[0] - pd.Timedelta(microseconds=1) if days else None


__all__ += ["OTHER", "day_start"]
