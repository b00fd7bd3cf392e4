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

from ._core import LEVEL_COLUMNS, LEVELS, MIN_N, floats, require
from ._stats import describe_rate, proportion_ci

__all__ = ["join_labels", "error_rates", "error_rates_at_levels", "equal_error_rate",
           "presentation_attack_rates"]


def join_labels(table: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    """``table`` rows that have a label, with the boolean ``genuine`` (and ``pai``) added."""
    require(labels, ["session_id", "genuine"], "labels")
    on = ["source", "session_id"] if "source" in labels.columns and "source" in table.columns \
        else ["session_id"]
    cols = [*on, "genuine"] + (["pai"] if "pai" in labels.columns else [])
    lab = labels[cols]
    if lab.duplicated(on).any():
        raise ValueError(f"labels has several rows for the same {'/'.join(on)}")
    lab = lab[lab["genuine"].notna()].copy()
    lab["genuine"] = lab["genuine"].astype(bool)
    base = table.drop(columns=[c for c in ("genuine", "pai") if c in table.columns])
    return base.merge(lab, on=on, how="inner", sort=False, validate="many_to_one")


def _scores(comparisons, labels, comparison):
    df = comparisons
    if comparison is not None:
        df = df[df["comparison"].isin([comparison] if isinstance(comparison, str) else comparison)]
    j = join_labels(df, labels)
    conf = floats(j["confidence"])
    gen = j["genuine"].to_numpy(dtype=bool)
    return j, conf, gen


def error_rates(comparisons: pd.DataFrame, labels: pd.DataFrame, thresholds=None, *,
                comparison: str | Sequence[str] | None = None) -> pd.DataFrame:
    """FAR and FRR at global thresholds (a DET curve by default).

    Returns ``threshold`` (ascending), ``far``, ``frr``, ``n_genuine``, ``n_impostor``,
    then ``false_accepts`` and ``false_rejects`` (counts).  ``thresholds`` defaults
    to every distinct confidence of the labelled rows.  ``comparison`` keeps one kind
    (e.g. ``"faceid"``); by default every labelled comparison row counts.
    Matches ``sklearn.metrics.det_curve`` at its thresholds.
    """
    _, conf, gen = _scores(comparisons, labels, comparison)
    g = np.sort(conf[gen & ~np.isnan(conf)])
    i = np.sort(conf[~gen & ~np.isnan(conf)])
    n_gen = int(gen.sum())
    n_imp = int((~gen).sum())
    g_missing = n_gen - g.size                    # no score: always rejected
    if thresholds is None:
        t = np.unique(conf[~np.isnan(conf)])
    else:
        t = np.sort(np.asarray(thresholds, dtype=np.float64).reshape(-1))
    fa = (i.size - np.searchsorted(i, t, side="left")).astype(np.int64)
    fr = (np.searchsorted(g, t, side="left") + g_missing).astype(np.int64)
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
    j, conf, gen = _scores(comparisons, labels, comparison)
    rows = []
    for lv in levels:
        thr = floats(j[LEVEL_COLUMNS[lv]])
        has = ~np.isnan(thr)
        ok = conf >= thr
        ng, ni = int((has & gen).sum()), int((has & ~gen).sum())
        fr = int((has & gen & ~ok).sum())
        fa = int((has & ~gen & ok).sum())
        rows.append((lv, ng, fr, ni, fa))
    out = pd.DataFrame(rows, columns=["level", "n_genuine", "false_rejects", "n_impostor", "false_accepts"])
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
