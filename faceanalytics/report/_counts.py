"""The review's counts from tables already in memory: the pandas twin of
:mod:`faceanalytics.engines._review` (same frames, same rules; a test holds them equal).

Used for ``engine="pandas"`` (the tables loaded with :func:`faceanalytics.load`) and for
DataFrames an analyst already has.  The rules shared with the SQL:

* pass bits: bit i = ``confidence >= thr`` of level i, bit 4 = ``>= threshold`` (Baidu),
  bit 5 = no confidence; NaN never passes;
* confidence bins: ``floor(confidence * 10 + 1e-6)`` (anti-spoofing: ``* 100``), the same
  IEEE operations as the SQL;
* rows of the sources without a verification time (Baidu detail, simple, stat, media) are placed
  at their token's getall time where the sessions table has it, before the window is
  applied (``analytics.place_untimed``);
* Baidu ``detail`` rows of tokens that ``getall`` also returned (same table, same window)
  are not counted;
* segment values: :func:`faceanalytics.engines._review.segment_values`.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from .._time import local_us
from ..analytics._core import (EVENT_BASES, floats, group_codes, once_per_attempt, place_untimed, repeated_attempts,
                               require, sums_by, time_us)
from ..engines._sql import PLACED_TABLES
from ..analytics._flip import exact_difference
from ..engines._review import (CMP_SOURCES, COMPARISON_KEYS, GENUINENESS_KEYS, NEAR_UNDER, RETENTION_US,
                               SEG_SESSION_COLUMNS, SESSION_KEYS, Segment, segment_values)
from ..schema import LEVEL_COLUMNS, LEVELS

__all__ = ["count_frames", "check_frames", "normalize", "TABLES"]

_THR = [LEVEL_COLUMNS[lv] for lv in LEVELS]
_DAY_US = 86_400_000_000
TABLES = ("comparisons", "genuineness", "sessions", "attempts", "verify_errors", "error_counts", "quarantine")
#: The columns each table must have to be counted (others are optional): a frame built by
#: hand without one gets an error naming the table and the column, not a bare KeyError.
_NEEDS = {
    "comparisons": ("source", "session_id", "session_time", "comparison", "confidence", *_THR, "threshold"),
    "genuineness": ("source", "session_time", "attack", "confidence", "threshold"),
    "sessions": ("source", "session_id", "session_time", "fetched_at", "status", "error", "liveness_result"),
    "attempts": ("source", "session_time", "code", "message", "charged", "passed", "charge_type"),
    "verify_errors": ("source", "session_time", "error_message", "billed"),
    "error_counts": ("source", "session_time", "api", "error_code", "count"),
    "quarantine": ("source", "session_time", "reason"),
}


# ------------------------------------------------------------------ helpers

def _day(t: pd.Series, tz=None) -> np.ndarray:
    """Day numbers on the calendar of ``tz`` (default UTC)."""
    return np.floor_divide(local_us(time_us(t), tz), _DAY_US)


def _side(t: pd.Series, since) -> np.ndarray:
    return (time_us(t) >= time_us(pd.Series([since]))[0]).astype(np.int64)


def _first(df: pd.DataFrame) -> np.ndarray:
    """1 for a session's first attempt (``attempt`` missing or <= 1)."""
    if "attempt" not in df:
        return np.ones(len(df), np.int64)
    a = df["attempt"].astype("Float64").to_numpy(dtype=np.float64, na_value=np.nan)
    with np.errstate(invalid="ignore"):
        return (np.isnan(a) | (a <= 1)).astype(np.int64)


def _bits(conf: np.ndarray, thr: Mapping[str, np.ndarray]) -> np.ndarray:
    bits = np.zeros(conf.shape, np.int64)
    with np.errstate(invalid="ignore"):
        for i, col in enumerate(_THR):
            bits += (conf >= thr[col]) * (1 << i)
        bits += (conf >= thr["threshold"]) * 16
    bits += np.isnan(conf) * 32
    return bits


def _bin(x: np.ndarray, per_unit: int) -> pd.arrays.IntegerArray:
    with np.errstate(invalid="ignore"):
        b = np.floor(x * per_unit + 1e-06)
    nan = np.isnan(b)
    return pd.arrays.IntegerArray(np.where(nan, 0, b).astype(np.int64), nan)


def _state(conf: np.ndarray, thr: np.ndarray) -> np.ndarray:
    m = exact_difference(conf, thr)
    with np.errstate(invalid="ignore"):
        st = (np.isnan(conf) * 1 + np.isnan(thr) * 2 + (conf > thr) * 4
              + ((m <= 0) & (m > -NEAR_UNDER)) * 8)
    return st.astype(np.int64)


def _count(frame: pd.DataFrame, keys: Sequence[str], weights: np.ndarray | None = None) -> pd.DataFrame:
    """Rows per distinct key (missing values are a key of their own), as ``n``."""
    keys = list(keys)
    if weights is None:
        out = frame.groupby(keys, dropna=False, sort=False, observed=True).size().rename("n")
    else:
        out = frame.assign(_w=weights).groupby(keys, dropna=False, sort=False, observed=True)["_w"].sum() \
            .rename("n")
    out = out.reset_index()
    out["n"] = out["n"].astype("int64")
    return out


def _in(df: pd.DataFrame, lo, hi) -> pd.DataFrame:
    t = time_us(df["session_time"])
    a, b = time_us(pd.Series([lo, hi]))
    return df[(t >= a) & (t < b) & (t != np.iinfo(np.int64).min)]


def check_frames(tables) -> dict[str, pd.DataFrame | None]:
    """The tables to count (None: absent or empty), each checked to be a DataFrame with
    the columns :data:`_NEEDS` names, so an analyst's frame fails with its table named."""
    if not isinstance(tables, Mapping):
        raise TypeError(f"review: the data is a mapping of table name -> DataFrame (or a data directory), "
                        f"not {type(tables).__name__}")
    for name in TABLES:
        f = tables.get(name)
        if f is not None and not isinstance(f, pd.DataFrame):
            raise TypeError(f"review: the {name} table is a {type(f).__name__}, not a DataFrame")
        if f is not None and len(f):
            require(f, _NEEDS[name], f"review: the {name} table")
            _check_types(name, f)
    return _present(tables)


def _present(tables: Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame | None]:
    """Each table of :data:`TABLES` with rows (None: absent or empty)."""
    return {name: f if (f := tables.get(name)) is not None and len(f) else None for name in TABLES}


_TIMES = ("session_time", "fetched_at")
_NUMBERS = ("confidence", "threshold", *_THR, "count", "attempt")


def _check_types(name: str, f: pd.DataFrame) -> None:
    """Refuse a time or number column whose values are neither (``"high"`` as a confidence),
    naming the table and the column; columns already of a time or number type are not read."""
    for col in (*_TIMES, *_NUMBERS):
        if col not in f or f[col].dtype.kind in "iufbM" or isinstance(f[col].dtype, pd.DatetimeTZDtype):
            continue
        kind = "time" if col in _TIMES else "number"
        try:
            time_us(f[col]) if col in _TIMES else floats(f[col])
        except (ValueError, TypeError) as e:
            raise ValueError(f"review: the {name} table's {col} column holds a value that is not a {kind} "
                             f"({type(e).__name__}: {str(e)[:80]})") from None


# ------------------------------------------------------------------ the frames

def count_frames(tables: Mapping[str, pd.DataFrame], *, previous_since, since, until,
                 segments: Sequence[Segment] = (), tz=None) -> dict[str, pd.DataFrame | None]:
    """:func:`faceanalytics.engines._review.count_tables` of tables in memory (each as
    :func:`faceanalytics.load` returns it; missing tables count as empty).  Frames an analyst
    built are checked by :func:`check_frames` first (``summarize``), once."""
    segments = list(segments)
    out: dict[str, pd.DataFrame | None] = {}
    present = _present(tables)
    sessions = present["sessions"]
    t = {name: None if f is None else _in(place_untimed(f, sessions) if sessions is not None and name in PLACED_TABLES
                                          else f, previous_since, until) for name, f in present.items()}

    c = t["comparisons"]
    if c is None or c.empty:
        out["comparisons"] = out["comparison_hist"] = None
    else:
        c = once_per_attempt(c)
        conf = floats(c["confidence"])
        thr = {col: floats(c[col]) for col in [*_THR, "threshold"]}
        f = pd.DataFrame({"source": c["source"].astype("str").to_numpy(),
                          "comparison": c["comparison"].astype("str").to_numpy(),
                          **{col: thr[col] for col in [*_THR, "threshold"]},
                          "bits": _bits(conf, thr), "first": _first(c), "day": _day(c["session_time"], tz),
                          "side": _side(c["session_time"], since)})
        f["bin"] = _bin(conf, 10)
        out["comparisons"] = _count(f, [*COMPARISON_KEYS, "day"])
        out["comparison_hist"] = _count(f, [*COMPARISON_KEYS, "side", "bin"])

    g = t["genuineness"]
    if g is None or g.empty:
        out["genuineness"] = None
    else:
        g = once_per_attempt(g)
        conf, thr = floats(g["confidence"]), floats(g["threshold"])
        f = pd.DataFrame({"source": g["source"].astype("str").to_numpy(), "attack": g["attack"].astype("str").to_numpy(),
                          "threshold": thr, "state": _state(conf, thr), "day": _day(g["session_time"], tz)})
        out["genuineness"] = _count(f, [*GENUINENESS_KEYS, "day"])

    s = t["sessions"]
    if s is None or s.empty:
        out["sessions"] = None
    else:
        f = pd.DataFrame({c_: s[c_].astype("str").to_numpy() if c_ in s else None
                          for c_ in SESSION_KEYS if c_ not in ("late", "invalid")})
        f["late"] = _late(s)
        f["invalid"] = (s["invalid_values"].fillna(0) > 0).to_numpy(dtype=bool) if "invalid_values" in s \
            else np.zeros(len(s), bool)
        f["day"] = _day(s["session_time"], tz)
        out["sessions"] = _count(f, [*SESSION_KEYS, "day"])

    for name, cols, total in (("attempts", ["source", "code", "message", "charged", "passed", "charge_type"], None),
                              ("verify_errors", ["source", "error_message", "billed"], None),
                              ("error_counts", ["source", "api", "error_code"], "count")):
        x = t[name]
        if x is None or x.empty:
            out[name] = None
            continue
        f = x[cols].copy()
        f["day"] = _day(x["session_time"], tz)
        keys = [*cols, "day"]
        if name == "attempts":
            f["first"] = _first(x)
            keys.append("first")
        w = x[total].fillna(0).to_numpy(dtype=np.int64) if total else None
        out[name] = _count(f, keys, w)

    q = t["quarantine"]
    if q is None or q.empty:
        out["quarantine"] = None
    else:
        f = pd.DataFrame({"source": q["source"].astype("str").to_numpy(),
                          "side": _side(q["session_time"], since),
                          "reason": q["reason"].astype("str").fillna("(no reason)").to_numpy()})
        out["quarantine"] = _count(f, ["source", "side", "reason"])
    out["distinct"] = _distinct(t["sessions"], since)
    out.update(_this_period(t, previous_since, since, until, segments, tz))
    return out


def _distinct(s: pd.DataFrame | None, since) -> pd.DataFrame | None:
    """Sessions counted once per provider (see ``engines._review._distinct``)."""
    if s is None or s.empty:
        return None
    src = s["source"].astype("str")
    side = _side(s["session_time"], since)
    frames = []
    if src[src.str.startswith("baidu")].nunique() > 1:
        b = pd.DataFrame({"side": side, "sid": s["session_id"].to_numpy()})[src.str.startswith("baidu").to_numpy()]
        frames.append(b.groupby("side")["sid"].nunique().rename("n").reset_index().assign(group="Baidu"))
    if (src == "megvii_notify").any():
        mg = src.str.startswith("megvii").to_numpy()
        month = pd.DatetimeIndex(s["session_time"]).strftime("%Y-%m") if "month" not in s else s["month"].astype("str")
        m = pd.DataFrame({"side": side, "month": np.asarray(month), "sid": s["session_id"].to_numpy()})[mg]
        g = m.groupby(["month", "side"])["sid"].nunique().rename("n").reset_index()
        frames.append(g.drop(columns="month").assign(group="Megvii"))
    if not frames:
        return None
    return pd.concat(frames, ignore_index=True)[["side", "n", "group"]]


def _late(s: pd.DataFrame) -> np.ndarray:
    basis = s["time_basis"].astype("str") if "time_basis" in s else pd.Series([None] * len(s), dtype="str")
    real = basis.isin(EVENT_BASES).to_numpy(dtype=bool)
    prov = s["source"].astype("str").str.extract(r"^([^_]*)", expand=False)
    ret = prov.map(RETENTION_US).astype("float64").to_numpy()
    ft, st = time_us(s["fetched_at"]), time_us(s["session_time"])
    nat = np.iinfo(np.int64).min
    delay = np.where((ft == nat) | (st == nat), np.nan, (ft - st).astype(np.float64))
    with np.errstate(invalid="ignore"):
        return real & ~np.isnan(ret) & (delay > ret)


def _expect(s: pd.DataFrame) -> np.ndarray:
    err = s["error"].notna().to_numpy(dtype=bool)
    st = s["status"].astype("str")
    pending = st.isin(["NOT_STARTED", "PROCESSING"]).to_numpy(dtype=bool)
    lr = s["liveness_result"].astype("str").str.upper()
    live = lr.isin(["PASS", "SUCCESS"]).to_numpy(dtype=bool)
    baidu_ok = (s["source"].astype("str").str.startswith("baidu") & (st == "OK")).fillna(False).to_numpy(dtype=bool)
    return ~err & ~pending & (live | baidu_ok)


def _repeated_request_ids(g: pd.DataFrame) -> int:
    """Sessions of ``g`` that share a ``request_id`` with another session (0 without the column)."""
    if "request_id" not in g:
        return 0
    rid = g[g["request_id"].notna()]
    nids = rid.groupby("request_id")["session_id"].transform("nunique")
    return int(rid.loc[(nids > 1).to_numpy(), "session_id"].nunique())


def _stacked(f: pd.DataFrame, keys: Sequence[str], labels: Sequence[str]) -> pd.DataFrame | None:
    """Rows per ``keys`` and one segment's value, for each segment on its own (the other
    segments' columns NA), as ``engines._review`` counts them."""
    parts = []
    for lab in labels:
        g = f[f[lab].notna().to_numpy()]
        if len(g):
            c = _count(g, [*keys, lab])
            for other in labels:
                if other != lab:
                    c[other] = pd.Series([None] * len(c), index=c.index, dtype="str")
            parts.append(c[[*keys, *labels, "n"]])
    return pd.concat(parts, ignore_index=True) if parts else None


def _this_period(t, previous_since, since, until, segments, tz=None) -> dict[str, pd.DataFrame | None]:
    out: dict[str, pd.DataFrame | None] = {"seg_sessions": None, "seg_comparisons": None, "seg_genuineness": None,
                                           "quality": None}
    s = t["sessions"]
    if s is None:
        return out
    s = _in(s, since, until)
    if s.empty:
        return out
    c = t["comparisons"]
    cur_c = _in(c, since, until) if c is not None else None
    # data quality per partition (source, month): rows, distinct sessions, sessions sharing a request id,
    # sessions that should carry a comparison and have none
    month = s["month"].astype("str") if "month" in s else \
        pd.Series(pd.DatetimeIndex(s["session_time"]).strftime("%Y-%m"), index=s.index)
    pair = lambda f: pd.MultiIndex.from_arrays([f["source"].astype("str"), f["session_id"].astype("str")])
    lacking = _expect(s) & s["source"].astype("str").isin(CMP_SOURCES).to_numpy() & (
        ~pair(s).isin(pair(cur_c)) if cur_c is not None else True)
    q = []
    for (src, m), g in s.groupby([s["source"].astype("str"), month], sort=True):
        rep = _repeated_request_ids(g)
        nc = int(lacking[s.index.get_indexer(g.index)].sum())
        q.append((src, len(g), int(g["session_id"].nunique()), int(rep), nc))
    out["quality"] = pd.DataFrame(q, columns=["source", "rows", "ids", "repeated", "no_comparison"]).astype(
        {"source": "str", "rows": "int64", "ids": "int64", "repeated": "int64", "no_comparison": "int64"})
    labels = [x.label for x in segments]
    if not labels:
        return out

    segs = pd.DataFrame({"source": s["source"].astype("str").to_numpy(), "session_id": s["session_id"].to_numpy(),
                         "day": _day(s["session_time"], tz)}, index=s.index)
    for col in SEG_SESSION_COLUMNS:
        segs[col] = s[col].astype("str") if col in s else pd.Series([None] * len(s), index=s.index, dtype="str")
    for x in segments:
        segs[x.label] = segment_values(s, x)
    segs = segs.reset_index(drop=True)
    out["seg_sessions"] = _stacked(segs, ["source", "day", *SEG_SESSION_COLUMNS], labels)

    cmp = segs[segs["source"].isin(CMP_SOURCES).to_numpy()][["source", "session_id", *labels]]
    if len(cmp) and cur_c is not None and len(cur_c):
        # the rule over the whole window (a getall row of the previous period counts too)
        rep = repeated_attempts(c)
        dup = pd.Series(rep if rep is not None else np.zeros(len(c), bool), index=c.index) \
            .reindex(cur_c.index).to_numpy(dtype=bool)
        k = cur_c[~dup]
        conf = floats(k["confidence"])
        thr = {col: floats(k[col]) for col in [*_THR, "threshold"]}
        has = sum((~np.isnan(thr[col])) * (1 << i) for i, col in enumerate(_THR)) + (~np.isnan(thr["threshold"])) * 16
        cc = pd.DataFrame({"source": k["source"].astype("str").to_numpy(), "session_id": k["session_id"].to_numpy(),
                           "day": _day(k["session_time"], tz), "first": _first(k),
                           "comparison": k["comparison"].astype("str").to_numpy(),
                           "bits": _bits(conf, thr), "has": np.asarray(has, dtype=np.int64)})
        j = cc.merge(cmp, on=["source", "session_id"], how="inner")
        out["seg_comparisons"] = _stacked(j, ["source", "day", "first", "comparison", "bits", "has"], labels)
    g = t["genuineness"]
    if g is not None and len(cmp):
        g = _in(once_per_attempt(g), since, until)
        conf, thr = floats(g["confidence"]), floats(g["threshold"])
        gg = pd.DataFrame({"source": g["source"].astype("str").to_numpy(), "session_id": g["session_id"].to_numpy(),
                           "day": _day(g["session_time"], tz), "attack": g["attack"].astype("str").to_numpy(),
                           "state": _state(conf, thr)})
        j = gg.merge(cmp, on=["source", "session_id"], how="inner")
        out["seg_genuineness"] = _stacked(j, ["source", "day", "attack", "state"], labels)
    return out


# ------------------------------------------------------------------ one canonical form for both paths

_INT = {"day", "side", "bits", "has", "state", "first", "n", "rows", "ids", "repeated", "no_comparison"}
# ("group" of the distinct counts is text)
_NULLABLE_INT = {"bin"}
_FLOAT = {*_THR, "threshold"}
_BOOL = {"late", "invalid", "expect", "charged", "passed", "billed"}


def normalize(frame: pd.DataFrame | None) -> pd.DataFrame | None:
    """Canonical dtypes and row order, so frames from every engine compare equal: the rows
    summed per distinct key (every column but ``n``; missing values a key of their own),
    those with ``n > 0``, sorted by the keys (missing last), the keys then ``n``.

    Each key column is factorized once (:func:`~faceanalytics.analytics._core.group_codes`),
    for the grouping and the order both: a ``groupby`` then a ``sort_values`` factorized
    every text column twice (the review's 13 frames of half a year of counts: 0.45 s, then 0.23 s)."""
    if frame is None or frame.empty:
        return None
    f = pd.DataFrame({col: _canonical(col, frame[col]) for col in frame.columns})
    keys = [c for c in f.columns if c != "n"]
    if not keys:
        return f.assign(n=f["n"].astype("int64"))[f["n"].to_numpy() > 0].reset_index(drop=True) \
            if "n" in f.columns else f.reset_index(drop=True)
    if "n" not in f.columns:
        codes, _ = group_codes(f, keys)
        return f.take(np.argsort(codes, kind="stable")).reset_index(drop=True)
    kf, (n,) = sums_by(f, keys, [f["n"].to_numpy(dtype=np.float64)])
    out = pd.DataFrame({col: _canonical(col, kf[col]) for col in keys})
    out["n"] = n
    return out[n > 0].reset_index(drop=True)


def _canonical(col: str, s: pd.Series) -> pd.Series:
    """A count column in its canonical dtype (by its name)."""
    if col in _INT:
        return s.fillna(0).astype("int64")
    if col in _NULLABLE_INT:
        return s.astype("Int64")
    if col in _FLOAT:
        return s.astype("float64")
    if col in _BOOL:
        return s.astype("boolean")
    return s.astype("str")
