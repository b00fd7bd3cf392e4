"""Labelled evaluation: false accepts and rejects once an analyst joins outcome labels.

``labels`` is a DataFrame with ``session_id`` and a boolean ``genuine`` (True: the
person is who they claimed; False: fraud), optionally ``source`` (then the join is on
``(source, session_id)``) and ``pai`` (the presentation-attack instrument species of a
fraud session, e.g. ``"mask"``, for APCER per species).

* FAR at threshold t: impostor comparisons with ``confidence >= t``; FRR: genuine
  ones with ``confidence < t``.  A comparison with no confidence (a Baidu attempt
  stopped before the comparison) is a rejection: it counts toward FRR for a genuine
  user and never as a false accept.
* ISO/IEC 30107-3 terms for anti-spoofing: APCER (attack presentations classified
  as bona fide, per attack type) and BPCER (bona fide presentations classified as
  attacks).
* With 0 false accepts among N impostors the 95 % upper bound is still about 3/N:
  ``far_text`` says so rather than printing 0.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .._duck import connect
from ._core import (COMPARISON_KINDS, LEVELS, MIN_N, float_codes, floats, known_names, level_names,
                    min_count, once_per_attempt, require)
from ._stats import describe_rate, proportion_ci

__all__ = ["join_labels", "error_rates", "error_rates_at_levels", "equal_error_rate",
           "presentation_attack_rates"]


def join_labels(table: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    """``table`` rows that have a label, with the boolean ``genuine`` (and ``pai``) added."""
    lab, pos = _label_positions(table, labels)
    rows = np.flatnonzero(pos >= 0)
    base = table.drop(columns=[c for c in ("genuine", "pai") if c in table.columns])
    out = base.iloc[rows].reset_index(drop=True)
    picked = lab.iloc[pos[rows]].reset_index(drop=True)
    for c in [c for c in ("genuine", "pai") if c in picked.columns]:
        out[c] = picked[c]
    return out


def _label_keys(table: pd.DataFrame, labels: pd.DataFrame) -> list[str]:
    require(labels, ["session_id", "genuine"], "labels")
    return ["source", "session_id"] if "source" in labels.columns and "source" in table.columns \
        else ["session_id"]


def _label_positions(table: pd.DataFrame, labels: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """The usable labels and, per row of ``table``, the position of its label in them (-1: none)."""
    lab, i, j = _label_matches(table, labels)
    pos = np.full(len(table), -1, np.int64)
    pos[i] = j
    return lab, pos


def _label_matches(table: pd.DataFrame, labels: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """The usable labels (``genuine`` known, as bool) and the matched pairs: rows ``i`` of
    ``table`` and ``j`` of those labels (in no particular order).

    Keys compare as strings (a labels file read with numeric ids still matches).  The
    join is one hash join in an embedded DuckDB on the Arrow buffers: several times
    pandas' merge on string keys, which made the join most of :func:`error_rates`' time.
    Keys missing on either side match nothing.
    """
    on = _label_keys(table, labels)
    require(table, on, "the table joined to labels")
    cols = [*on, "genuine"] + (["pai"] if "pai" in labels.columns else [])
    lab = labels[cols]
    lab = lab[lab["genuine"].notna()].reset_index(drop=True)
    lab["genuine"] = _genuine_bools(lab["genuine"], "labels")
    if not len(table) or not len(lab):
        return lab, np.zeros(0, np.int64), np.zeros(0, np.int64)
    import pyarrow as pa

    def keys(df, index_name):
        arrays = {f"k{i}": _arrow_str(df[c]) for i, c in enumerate(on)}
        arrays[index_name] = pa.array(np.arange(len(df), dtype=np.int32 if len(df) < 2**31 else np.int64))
        return pa.table(arrays)

    con = connect()
    try:
        con.register("fa_rows", keys(table, "i"))
        con.register("fa_labels", keys(lab, "j"))
        using = ", ".join(f"k{i}" for i in range(len(on)))
        rel = con.sql(f"SELECT i, j FROM fa_rows JOIN fa_labels USING ({using})")
        got = rel.to_arrow_table() if hasattr(rel, "to_arrow_table") else rel.fetch_arrow_table()
    finally:
        con.close()
    i, j = got.column("i").to_numpy(), got.column("j").to_numpy()
    hits = np.bincount(i, minlength=len(table)) if i.size else np.zeros(0, np.int64)
    if i.size and hits.max() > 1:
        raise ValueError(f"labels has several rows for the same {'/'.join(on)} "
                         f"({int((hits > 1).sum()):,} rows of the table match more than one label)")
    return lab, i, j


#: ``genuine`` written as text (lower case, trimmed) -> its value: one vocabulary for the
#: metrics and the review's labels file (``report.read_labels``).
GENUINE_TEXT = {**dict.fromkeys(("true", "t", "yes", "y", "1", "1.0", "genuine"), True),
                **dict.fromkeys(("false", "f", "no", "n", "0", "0.0", "impostor"), False)}


def _one_genuine(v, what: str) -> bool:
    """One ``genuine`` value as bool; a value that is neither yes nor no raises."""
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, float, np.integer, np.floating)) and v in (0, 1):
        return bool(v)
    if isinstance(v, str) and v.strip().lower() in GENUINE_TEXT:
        return GENUINE_TEXT[v.strip().lower()]
    raise ValueError(f"{what}: column 'genuine' must be True/False (or 1/0, \"yes\"/\"no\", "
                     f"\"true\"/\"false\"; missing = unlabelled); got {v!r}")


def _genuine_bools(s: pd.Series, what: str = "labels") -> np.ndarray:
    """The known (non-missing) ``genuine`` values as a bool array.

    ``astype(bool)`` would read every non-empty string as True, so a labels file with
    "no"/"false"/"0" text gave no impostor at all and a FAR of NaN without a word:
    text and 0/1 numbers are read for what they say, anything else raises.
    """
    if s.dtype == bool or isinstance(s.dtype, pd.BooleanDtype):
        return s.to_numpy(dtype=bool)
    codes, uniq = pd.factorize(s, use_na_sentinel=True)
    if (codes < 0).any():
        raise ValueError(f"{what}: column 'genuine' has missing values here; drop them first")
    table = np.array([_one_genuine(v, what) for v in uniq], dtype=bool)
    return table[codes] if len(table) else np.zeros(0, bool)


def _arrow_str(s: pd.Series):
    """A key column as an Arrow string array (zero-copy for the tables' str columns)."""
    import pyarrow as pa

    if not isinstance(s.dtype, pd.StringDtype):
        s = s.astype("str")
    return pa.array(s.array)


def _scores(comparisons, labels, comparison) -> tuple[np.ndarray, np.ndarray]:
    """Confidence and ``genuine`` of every labelled comparison row (any order)."""
    df = once_per_attempt(_of_kind(comparisons, comparison))
    require(df, ["confidence"], "error_rates")
    if labels is None:
        require(df, ["genuine"], "error_rates without labels (rows that carry them)")
        known = df["genuine"].notna().to_numpy()
        return floats(df["confidence"])[known], _genuine_bools(df["genuine"][known], "comparisons")
    lab, i, j = _label_matches(df, labels)
    return floats(df["confidence"])[i], lab["genuine"].to_numpy(dtype=bool)[j]


def _of_kind(comparisons: pd.DataFrame, comparison) -> pd.DataFrame:
    """The rows of the ``comparison`` kind(s); a kind neither documented nor in the rows is
    refused (``comparison="nope"`` answered an empty curve)."""
    if comparison is None:
        return comparisons
    require(comparisons, ["comparison"], "comparison=")
    kinds = known_names(comparison, "comparison", COMPARISON_KINDS,
                        lambda: comparisons["comparison"].dropna().astype("str").unique())
    return comparisons[comparisons["comparison"].isin(kinds)]


def error_rates(comparisons: pd.DataFrame, labels: pd.DataFrame | None = None, thresholds=None, *,
                comparison: str | Sequence[str] | None = None) -> pd.DataFrame:
    """FAR and FRR at global thresholds (a DET curve by default).

    Returns ``threshold`` (ascending), ``far``, ``frr``, ``n_genuine``, ``n_impostor``,
    then ``false_accepts`` and ``false_rejects`` (counts).  ``thresholds`` defaults
    to every distinct confidence of the labelled rows.  ``comparison`` keeps one kind
    (e.g. ``"faceid"``); by default every labelled comparison row counts.  Without
    ``labels``, the rows carry ``genuine`` themselves (e.g. :func:`join_labels` output).
    Matches ``sklearn.metrics.det_curve`` at its thresholds.

    Counted from the exact histogram of the confidences (one count per distinct value
    and class, no sort of the rows): every cut is a cumulative count.
    """
    conf, gen = _scores(comparisons, labels, comparison)
    n_gen = int(np.count_nonzero(gen))
    n_imp = int(gen.size - n_gen)
    codes, uniq = float_codes(conf, dense=False)    # values ascending (grid steps), NaN (no score) last
    per = np.bincount(codes * 2 + gen, minlength=2 * len(uniq)).reshape(-1, 2)   # (impostor, genuine)
    seen = per.any(axis=1)                          # the distinct values: steps some score sits on
    if not seen.all():
        per, uniq = per[seen], uniq[seen]
    m = int(np.count_nonzero(~np.isnan(uniq)))
    per_imp, per_gen = per[:, 0], per[:, 1]
    g_below = np.concatenate([[0], np.cumsum(per_gen[:m])])     # genuine scores below each value
    i_below = np.concatenate([[0], np.cumsum(per_imp[:m])])
    g_missing = n_gen - int(g_below[-1])                        # no score: always rejected
    if thresholds is None:
        t = uniq[:m].astype(np.float64)
        at = np.arange(m)
    else:
        t = np.sort(np.asarray(thresholds, dtype=np.float64).reshape(-1))
        at = np.searchsorted(uniq[:m], t, side="left")
    fa = (i_below[-1] - i_below[at]).astype(np.int64)
    fr = (g_below[at] + g_missing).astype(np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        far = fa / n_imp if n_imp else np.full(t.shape, np.nan)
        frr = fr / n_gen if n_gen else np.full(t.shape, np.nan)
    return pd.DataFrame({"threshold": t, "far": far, "frr": frr,
                         "n_genuine": np.full(t.shape, n_gen, np.int64),
                         "n_impostor": np.full(t.shape, n_imp, np.int64),
                         "false_accepts": fa, "false_rejects": fr})


def error_rates_at_levels(comparisons: pd.DataFrame, labels: pd.DataFrame, *,
                          levels: Sequence[str] = LEVELS, comparison=None, min_n: int = MIN_N,
                          confidence: float = 0.95, method: str = "wilson") -> pd.DataFrame:
    """FAR and FRR at each Megvii level, each row judged at its own threshold.

    Columns: ``level``, ``n_genuine``, ``false_rejects``, ``frr``, ``frr_low``,
    ``frr_high``, ``n_impostor``, ``false_accepts``, ``far``, ``far_low``,
    ``far_high``, ``far_text`` (e.g. "0 of 1,000: none observed; 95% upper bound
    0.38% (about 3/N)"), ``low_n`` (either class below ``min_n``).
    """
    from ._hist import confidence_histogram

    min_n, levels = min_count(min_n), level_names(levels)      # refused before the join
    j = join_labels(once_per_attempt(_of_kind(comparisons, comparison)), labels)
    return error_rates_from_histogram(confidence_histogram(j, by="genuine"), levels=levels, min_n=min_n,
                                      confidence=confidence, method=method)


def error_rates_from_histogram(hist: pd.DataFrame, *, levels: Sequence[str] = LEVELS, min_n: int = MIN_N,
                               confidence: float = 0.95, method: str = "wilson") -> pd.DataFrame:
    """:func:`error_rates_at_levels` from a :func:`~faceanalytics.analytics.confidence_histogram`
    of labelled comparisons keyed by ``genuine`` alone (what an engine counts where the data
    lives): a genuine comparison that does not pass its level's threshold is a false reject,
    an impostor one that passes a false accept (:func:`pass_rates_from_histogram`'s rule)."""
    from ._hist import pass_rates_from_histogram

    min_n = min_count(min_n)
    levels = level_names(levels)
    hist = hist.assign(genuine=hist["genuine"].to_numpy(dtype=bool))
    got = pass_rates_from_histogram(hist, by=["genuine"], levels=levels, min_n=min_n)
    n = {(bool(g), str(lv)): (int(k), int(m)) for g, lv, k, m in
         zip(got["genuine"], got["level"], got["n"], got["passed"])}
    rows = []
    for lv in levels:
        ng, passed_g = n.get((True, lv), (0, 0))
        ni, passed_i = n.get((False, lv), (0, 0))
        rows.append((lv, ng, ng - passed_g, ni, passed_i))
    out = pd.DataFrame(rows, columns=["level", "n_genuine", "false_rejects", "n_impostor", "false_accepts"])
    out = out.astype({c: "int64" for c in out.columns if c != "level"})
    out = out[(out["n_genuine"] + out["n_impostor"]) > 0].reset_index(drop=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["frr"] = out["false_rejects"] / out["n_genuine"].where(out["n_genuine"] > 0)
        out["far"] = out["false_accepts"] / out["n_impostor"].where(out["n_impostor"] > 0)
    out["frr_low"], out["frr_high"] = proportion_ci(out["false_rejects"], out["n_genuine"], confidence, method)
    out["far_low"], out["far_high"] = proportion_ci(out["false_accepts"], out["n_impostor"], confidence, method)
    out["far_text"] = [describe_rate(k, n, confidence=confidence, method=method, noun="impostors accepted")
                       for k, n in zip(out["false_accepts"], out["n_impostor"])]   # one per level
    out["low_n"] = (out["n_genuine"] < min_n) | (out["n_impostor"] < min_n)
    out = out.astype({"level": "str", "far_text": "str", "frr": "float64", "far": "float64"})
    return out[["level", "n_genuine", "false_rejects", "frr", "frr_low", "frr_high", "n_impostor",
                "false_accepts", "far", "far_low", "far_high", "far_text", "low_n"]]


def equal_error_rate(rates: pd.DataFrame) -> pd.DataFrame:
    """The equal-error rate of an :func:`error_rates` table (linear interpolation).

    One row: ``eer``, ``threshold``, ``far``, ``frr`` (the two rates at the nearest
    tabulated threshold at or above the crossing).
    """
    require(rates, ["threshold", "far", "frr"], "equal_error_rate (an error_rates table)")
    r = rates.sort_values("threshold", kind="stable")
    t = r["threshold"].to_numpy(dtype=float)
    far = r["far"].to_numpy(dtype=float)
    frr = r["frr"].to_numpy(dtype=float)
    d = far - frr                                    # decreasing in the threshold
    cols = ["eer", "threshold", "far", "frr"]
    if len(t) == 0 or np.all(np.isnan(d)):
        return pd.DataFrame([[np.nan] * 4], columns=cols)
    j = int(np.argmax(d <= 0)) if np.any(d <= 0) else len(d) - 1
    if j == 0 or d[j] > 0:
        return pd.DataFrame([[(far[j] + frr[j]) / 2, t[j], far[j], frr[j]]], columns=cols)
    w = d[j - 1] / (d[j - 1] - d[j])
    eer = far[j - 1] + w * (far[j] - far[j - 1])
    thr = t[j - 1] + w * (t[j] - t[j - 1])
    return pd.DataFrame([[eer, thr, far[j], frr[j]]], columns=cols)


def presentation_attack_rates(genuineness: pd.DataFrame, labels: pd.DataFrame, *,
                              min_n: int = MIN_N, confidence: float = 0.95,
                              method: str = "wilson") -> pd.DataFrame:
    """APCER and BPCER per detector (attack type checked) and overall (``"any"``).

    A session's presentation is classified as an attack by a detector when its
    check is flagged (``confidence > threshold``); ``"any"``: flagged by at least one
    detector.  Only checks with a threshold count.  When ``labels`` has ``pai``
    (species of each fraud session), APCER is given per species as well.
    Columns: ``detector``, ``pai`` (``"all"`` or the species), ``metric`` (``APCER``
    or ``BPCER``), ``n`` (presentations), ``errors``, ``rate``, ``ci_low``,
    ``ci_high``, ``low_n``.  Sorted by detector, metric, pai.
    """
    min_n = min_count(min_n)
    genuineness = once_per_attempt(genuineness)
    g = genuineness[genuineness["confidence"].notna() & genuineness["threshold"].notna()]
    j = join_labels(g, labels)
    flagged = (floats(j["confidence"]) > floats(j["threshold"]))
    key = [c for c in ("source", "session_id") if c in j.columns]
    frame = j[key].copy()
    frame["genuine"] = j["genuine"].to_numpy()
    frame["pai"] = j["pai"].astype("str").fillna("unknown").to_numpy() if "pai" in j.columns else "all"
    frame["detector"] = j["attack"].astype("str").to_numpy()
    frame["flagged"] = flagged
    # One decision per session and detector (any attempt flagged), then "any" detector.
    per = frame.groupby([*key, "genuine", "pai", "detector"], sort=True, dropna=False)["flagged"].any().reset_index()
    anyd = per.groupby([*key, "genuine", "pai"], sort=True, dropna=False)["flagged"].any().reset_index()
    anyd["detector"] = "any"
    allp = pd.concat([per, anyd], ignore_index=True)
    rows = []
    for det, d in allp.groupby("detector", sort=True):
        bona = d[d["genuine"]]
        rows.append((det, "all", "BPCER", len(bona), int(bona["flagged"].sum())))
        att = d[~d["genuine"]]
        rows.append((det, "all", "APCER", len(att), int((~att["flagged"]).sum())))
        if "pai" in labels.columns:
            for species, a in att.groupby("pai", sort=True):
                rows.append((det, str(species), "APCER", len(a), int((~a["flagged"]).sum())))
    out = pd.DataFrame(rows, columns=["detector", "pai", "metric", "n", "errors"])
    out = out.drop_duplicates(["detector", "pai", "metric"], keep="first")
    with np.errstate(divide="ignore", invalid="ignore"):
        out["rate"] = (out["errors"] / out["n"].where(out["n"] > 0)).astype("float64")
    out["ci_low"], out["ci_high"] = proportion_ci(out["errors"], out["n"], confidence, method)
    out["low_n"] = out["n"] < min_n
    out["_d"] = (out["detector"] == "any").astype(int)
    out["_p"] = (out["pai"] != "all").astype(int)
    out = out.sort_values(["_d", "detector", "metric", "_p", "pai"], kind="stable").drop(columns=["_d", "_p"])
    return out.astype({"detector": "str", "pai": "str", "metric": "str", "n": "int64",
                       "errors": "int64"}).reset_index(drop=True)
