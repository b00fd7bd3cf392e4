"""Segment columns from other tables, joined onto comparisons by (source, session_id).

Every metric takes ``by=`` any column of the table it is given; these helpers put
the columns worth segmenting by (liveness procedure, SDK version, ID-card mode,
monochrome reference photo, a key of ``biz_extra_data``, the threshold set) there.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import orjson
import pandas as pd

from ._core import LEVEL_COLUMNS, LEVELS, as_list, float_codes, floats, require

__all__ = ["join_segments", "join_session_columns", "with_segments", "biz_extra_key", "threshold_set_labels",
           "with_threshold_set", "SESSION_SEGMENTS", "IDCARD_SEGMENTS", "ID_EXCEPTION_SEGMENTS"]

SESSION_SEGMENTS = ("procedure_type", "liveness_version", "is_demote")
IDCARD_SEGMENTS = ("idcard_mode", "idcard_mode_user", "id_type")
ID_EXCEPTION_SEGMENTS = ("id_attacked", "id_photo_monochrome")


def join_segments(table: pd.DataFrame, other: pd.DataFrame, columns, *,
                  on: Sequence[str] = ("source", "session_id"), suffix: str | None = None) -> pd.DataFrame:
    """``table`` with ``columns`` of ``other`` added, matched on ``on``; rows and order kept.

    When ``other`` has several rows per key (Baidu ``getall`` has one per attempt) the
    first row in ``other``'s order is used; pass ``on=(..., "attempt")`` to match
    attempts instead.  Rows without a match get missing values.  A column already in
    ``table`` is not overwritten: the joined one gets ``suffix`` (default ``"_joined"``).

    >>> c = join_segments(comparisons, id_exceptions, "id_photo_monochrome")   # doctest: +SKIP
    >>> pass_rates(c, by="id_photo_monochrome")                                # doctest: +SKIP
    """
    on = list(on)
    columns = as_list(columns)
    require(table, on, "join_segments (table)")
    require(other, [*on, *columns], "join_segments (other)")
    right = other[[*on, *columns]]
    right = right[~right.duplicated(on, keep="first")]
    rename = {}
    for c in columns:
        if c in table.columns:
            rename[c] = c + (suffix or "_joined")
    right = right.rename(columns=rename)
    out = table.merge(right, on=on, how="left", validate="many_to_one", sort=False)
    out.index = table.index
    return out


def with_segments(comparisons: pd.DataFrame, *, sessions: pd.DataFrame | None = None,
                  idcard: pd.DataFrame | None = None, id_exceptions: pd.DataFrame | None = None,
                  columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Comparisons with the usual segment columns of the other tables joined on.

    From ``sessions``: procedure_type, liveness_version, is_demote; from ``idcard``:
    idcard_mode, idcard_mode_user, id_type; from ``id_exceptions``: id_attacked,
    id_photo_monochrome (only those present; ``columns`` narrows the choice).
    """
    out = comparisons
    for other, defaults in ((sessions, SESSION_SEGMENTS), (idcard, IDCARD_SEGMENTS),
                            (id_exceptions, ID_EXCEPTION_SEGMENTS)):
        if other is None:
            continue
        cols = [c for c in defaults if c in other.columns and (columns is None or c in columns)]
        if cols:
            out = join_segments(out, other, cols)
    return out


def biz_extra_key(sessions: pd.DataFrame, key: str, *, name: str | None = None,
                  column: str = "biz_extra_data") -> pd.DataFrame:
    """``sessions`` with one key of the JSON in ``biz_extra_data`` as a string column.

    ``biz_extra_data`` is whatever the integrator passed to get_token; only JSON
    objects are read (anything else gives a missing value).  Each distinct string is
    parsed once.

    >>> s = biz_extra_key(sessions, "channel")                        # doctest: +SKIP
    >>> pass_rates(join_segments(comparisons, s, "channel"), by="channel")  # doctest: +SKIP
    """
    require(sessions, [column], "biz_extra_key")
    col = sessions[column]
    codes, uniques = pd.factorize(col, use_na_sentinel=True)
    values = []
    for raw in uniques:                     # distinct strings only, not rows
        v = None
        if isinstance(raw, str) and raw.lstrip().startswith("{"):
            try:
                obj = orjson.loads(raw)
            except orjson.JSONDecodeError:
                obj = None
            if isinstance(obj, dict) and obj.get(key) is not None:
                x = obj[key]
                v = x if isinstance(x, str) else orjson.dumps(x).decode()
        values.append(v)
    lut = np.array(values + [None], dtype=object)
    out = sessions.copy()
    out[name or key] = pd.Series(lut[np.where(codes < 0, len(values), codes)], index=sessions.index,
                                 dtype="str")
    return out


def _fmt(x: float) -> str:
    return "–" if np.isnan(x) else f"{x:g}"


def threshold_set_labels(comparisons: pd.DataFrame) -> pd.Series:
    """The row's reference-threshold set as text, ``"62.169/69.315/74.399/78.038"``.

    Levels a payload did not return show as ``–``; rows with no level at all (Baidu)
    get a missing value.  Formatting runs once per distinct set.
    """
    cols = [LEVEL_COLUMNS[lv] for lv in LEVELS]
    require(comparisons, cols, "threshold_set_labels")
    n = len(comparisons)
    code = np.zeros(n, np.int64)
    vals = []
    for c in cols:
        cc, u = float_codes(floats(comparisons[c]))
        vals.append(u)
        code = code * len(u) + cc
    uniq, inv = np.unique(code, return_inverse=True)
    labels = []
    for u in uniq:
        digits = []
        rest = int(u)
        for v in reversed(vals):
            rest, d = divmod(rest, len(v))
            digits.append(v[d])
        digits.reverse()
        labels.append(None if all(np.isnan(d) for d in digits) else "/".join(_fmt(d) for d in digits))
    lut = np.array(labels, dtype=object)
    return pd.Series(lut[inv.reshape(-1)] if n else np.array([], dtype=object), index=comparisons.index,
                     dtype="str", name="threshold_set")


def with_threshold_set(comparisons: pd.DataFrame) -> pd.DataFrame:
    """Comparisons with a ``threshold_set`` column (see :func:`threshold_set_labels`)."""
    out = comparisons.copy()
    out["threshold_set"] = threshold_set_labels(comparisons)
    return out


def join_session_columns(table: pd.DataFrame, sessions: pd.DataFrame, cols) -> pd.DataFrame:
    """:func:`~faceanalytics.analytics.join_segments` on (source, session_id), same result
    (first sessions row per key, missing where none), with the keys factorized once
    instead of a validated merge: a third of the time on a million rows."""
    right = sessions[["source", "session_id", *cols]]
    n = len(table)
    sid = pd.factorize(pd.concat([table["session_id"], right["session_id"]], ignore_index=True))[0]
    src = pd.factorize(pd.concat([table["source"], right["source"]], ignore_index=True))[0]
    key = sid.astype(np.int64) * (int(src.max(initial=0)) + 2) + src + 1     # -1 (missing) stays apart
    key -= int(key.min(initial=0))
    kt, kr = key[:n], key[n:]
    first = np.full(int(key.max(initial=0)) + 1, -1, np.int64)
    first[kr[::-1]] = np.arange(len(kr) - 1, -1, -1)          # the first row of each key wins
    idx = first[kt]
    return table.assign(**{c: pd.Series(right[c].array.take(idx, allow_fill=True), index=table.index)
                           for c in cols})
