"""The review's tables as an Excel workbook: one sheet per table, for the committee's own analysis.

:func:`review_tables` turns a :class:`~faceanalytics.report.Review` into plain frames
(column names are codes, text cells are in the review's language; rates, shares and
changes of rates are fractions); :func:`workbook_bytes` writes them with openpyxl:
numbers as numbers (never text), rates as percentages, counts with thousands
separators, dates as dates, headers and sheet names from the message catalogue, the
header row frozen and filterable, columns sized to their contents.

    >>> rv = review("data", lang="zh-CN")                 # doctest: +SKIP
    >>> rv.tables()["pass_rates"].head()                  # doctest: +SKIP
    >>> write_report("data", "report.html", xlsx="review.xlsx")   # doctest: +SKIP
"""
from __future__ import annotations

import io
import math

import numpy as np
import pandas as pd

from .._i18n import join, tr, tr_or
from ..schema import LEVELS

__all__ = ["SHEETS", "review_tables", "workbook_bytes"]

#: sheet order; each has ``workbook.sheet.<name>`` in the catalogue
SHEETS = ("headline", "findings", "pass_rates", "would_flip", "anti_spoofing", "errors", "segments", "thresholds",
          "decision")

# Number formats by column (the rest: text, or numbers in Excel's General format).
_PCT = {"pass_rate", "ci_low", "ci_high", "pass_rate_previous", "ci_low_previous", "ci_high_previous",
        "change", "change_low", "change_high", "pass_rate_from", "pass_rate_to", "flagged_rate",
        "flagged_rate_previous", "share", "cumulative_share", "rate_before", "rate_after", "pass_rate_first",
        "pass_rate_second", "current_ci_low", "current_ci_high", "previous_ci_low",
        "previous_ci_high", "ci_low_change", "ci_high_change"}
_SIGNED = {"change", "change_low", "change_high", "ci_low_change", "ci_high_change"}
_INT = {"n", "passed", "n_previous", "passed_previous", "passed_from", "passed_to", "to_reject", "to_pass",
        "flagged", "flagged_previous", "n_no_threshold", "just_under", "count", "count_previous", "billed",
        "not_billed", "billing_unknown", "n_first", "passed_first", "n_second", "passed_second", "k_before",
        "n_before", "k_after", "n_after", "rank", "reject_if_stricter", "pass_if_looser", "current_n",
        "previous_n"}
_DEC = {"psi"}
_DATE = {"start", "end", "first_seen", "last_seen"}
_WIDE = {"text", "decision_text", "reason", "message", "title", "item", "also"}
_PCT_FMT, _SIGNED_FMT, _INT_FMT, _DATE_FMT = "0.0%", "+0.0%;-0.0%;0.0%", "#,##0", "yyyy-mm-dd"


# ------------------------------------------------------------------ the frames

def review_tables(review) -> dict[str, pd.DataFrame]:
    """The review's tables (see :data:`SHEETS`), in the current language."""
    from ._sections import _Builder, decision_table

    b = _Builder(review)
    s = review.summaries
    out = {"headline": _headline(b), "findings": _findings(review.findings), "pass_rates": _pass_rates(s),
           "would_flip": _would_flip(b), "anti_spoofing": _anti_spoofing(s), "errors": _errors(s),
           "segments": _segments(b), "thresholds": _thresholds(b),
           "decision": _decision(decision_table(s, review.levels, review.findings))}
    return {k: out[k] for k in SHEETS}


def _rate(k, n) -> float:
    return float(k) / float(n) if n else np.nan


def _headline(b) -> pd.DataFrame:
    """One row per headline item: rates as fractions with their interval and n, volumes as counts
    (``n`` columns empty); ``change``: in points (a fraction) for rates, relative for volumes."""
    rows = []
    for r in b.headline_rows():
        if r["kind"] == "count":
            cur, prev = r["cur"], r["prev"]
            rows.append({"item": r["item"], "kind": tr("workbook.kind.count"), "current": cur,
                         "current_ci_low": np.nan, "current_ci_high": np.nan, "current_n": np.nan, "previous": prev,
                         "previous_ci_low": np.nan, "previous_ci_high": np.nan, "previous_n": np.nan,
                         "change": (cur - prev) / prev if prev else np.nan, "ci_low_change": np.nan,
                         "ci_high_change": np.nan})
            continue
        ch = r["change"] or (np.nan, np.nan, np.nan)
        rows.append({"item": r["item"], "kind": tr("workbook.kind.rate"), "current": _rate(r["k"], r["n"]),
                     "current_ci_low": _f(r["lo"]), "current_ci_high": _f(r["hi"]), "current_n": r["n"],
                     "previous": _rate(r["k_prev"], r["n_prev"]), "previous_ci_low": _f(r["lo_prev"]),
                     "previous_ci_high": _f(r["hi_prev"]), "previous_n": r["n_prev"], "change": ch[0],
                     "ci_low_change": ch[1], "ci_high_change": ch[2]})
    return pd.DataFrame(rows, columns=["item", "kind", "current", "current_ci_low", "current_ci_high", "current_n",
                                       "previous", "previous_ci_low", "previous_ci_high", "previous_n", "change",
                                       "ci_low_change", "ci_high_change"])


def _f(x) -> float:
    return np.nan if x is None else float(x)


_FINDING_COLUMNS = ["rank", "title", "text", "decision_text", "kind", "family", "source", "comparison", "level",
                    "attack", "code", "origin", "detail", "segment_key", "segment_value", "start", "start_low",
                    "start_high", "end", "end_low", "end_high", "frequency", "rate_before",
                    "rate_after", "change", "ci_low_change", "ci_high_change", "k_before", "n_before", "k_after",
                    "n_after", "q_value", "evidence", "affected", "figure", "also"]


def _findings(findings) -> pd.DataFrame:
    """The findings JSON as a table: codes kept (family, source, level …), words in the language,
    changes as fractions, dates as UTC timestamps (``end`` exclusive, as in the JSON)."""
    rows = []
    for f in findings:
        seg = f.segment or {}
        rows.append({"rank": f.rank, "title": f.title, "text": f.text, "decision_text": f.decision,
                     "kind": tr_or(f"kind.{f.kind}", f.kind), "family": f.family, "source": f.source,
                     "comparison": f.comparison, "level": f.level, "attack": f.attack, "code": f.code,
                     "origin": f.origin, "detail": f.detail,
                     "segment_key": seg.get("key"), "segment_value": seg.get("value"),
                     "start": pd.Timestamp(f.start), "end": pd.Timestamp(f.end) if f.end else pd.NaT,
                     **{c: _day(getattr(f, c)) for c in _INTERVALS},
                     "frequency": tr_or(f"finding.frequency.{f.frequency}", f.frequency) if f.frequency else None,
                     "rate_before": f.rate_before, "rate_after": f.rate_after,
                     "change": _points(f.change_points), "ci_low_change": _points(f.ci_low_points),
                     "ci_high_change": _points(f.ci_high_points), "k_before": f.k_before, "n_before": f.n_before,
                     "k_after": f.k_after, "n_after": f.n_after, "q_value": f.q_value, "evidence": f.evidence,
                     "affected": f.affected, "figure": f.figure or f.figure_note, "also": join(f.also)})
    return pd.DataFrame(rows, columns=_FINDING_COLUMNS)


#: a change's 95% date intervals (days; ``end_*`` exclusive, as ``end``): the finding's, the JSON's
_INTERVALS = ("start_low", "start_high", "end_low", "end_high")


def _day(x) -> pd.Timestamp:
    return pd.Timestamp(x, tz="UTC") if x else pd.NaT


def _points(x) -> float:
    return np.nan if x is None else float(x) / 100


def _pass_rates(s) -> pd.DataFrame:
    """Pass rates per source, comparison kind and level, this period and the previous one; Baidu's
    configured thresholds as rows of their own (``level`` says so, ``threshold`` is set)."""
    by = ["source", "comparison"]
    cols = ["n", "passed", "pass_rate", "ci_low", "ci_high"]
    prev_names = {c: f"{c}_previous" for c in cols}
    parts = []
    cur, prev = s.pass_rates("current", by), s.pass_rates("previous", by)
    if len(cur) or len(prev):
        m = cur[[*by, "level", *cols]].merge(prev[[*by, "level", *cols]].rename(columns=prev_names),
                                             on=[*by, "level"], how="outer")
        m["_l"] = m["level"].map({lv: i for i, lv in enumerate(LEVELS)})
        parts.append(m.sort_values([*by, "_l"], kind="stable").drop(columns="_l").assign(threshold=np.nan))
    cc, cp = s.configured_pass_rates("current", by), s.configured_pass_rates("previous", by)
    if len(cc) or len(cp):
        m = cc[[*by, "threshold", *cols]].merge(cp[[*by, "threshold", *cols]].rename(columns=prev_names),
                                                on=[*by, "threshold"], how="outer")
        parts.append(m.sort_values([*by, "threshold"], kind="stable").assign(level=tr("workbook.configured")))
    order = [*by, "level", "threshold", *cols, *prev_names.values()]
    if not parts:
        return pd.DataFrame(columns=order)
    out = pd.concat(parts, ignore_index=True)[order]
    for c in ("n", "passed", "n_previous", "passed_previous"):
        out[c] = out[c].fillna(0).astype("int64")
    return out


def _would_flip(b) -> pd.DataFrame:
    w = b.would_flip_rows()
    w = w.assign(pass_rate_from=[_rate(k, n) for k, n in zip(w["passed_from"], w["n"])],
                 pass_rate_to=[_rate(k, n) for k, n in zip(w["passed_to"], w["n"])])
    return w[["comparison", "level_from", "level_to", "n", "passed_from", "pass_rate_from", "passed_to",
              "pass_rate_to", "to_reject", "to_pass"]].reset_index(drop=True)


def _anti_spoofing(s) -> pd.DataFrame:
    key = ["source", "attack"]
    cur = s.genuineness_rates("current", by="source")
    prev = s.genuineness_rates("previous", by="source")[[*key, "n", "flagged", "flagged_rate"]]
    near = s.genuineness_near("current", by="source")[[*key, "threshold", "threshold_min", "threshold_max",
                                                       "just_under"]]
    out = cur[[*key, "n", "flagged", "flagged_rate", "ci_low", "ci_high", "n_no_threshold"]].merge(
        prev.rename(columns={"n": "n_previous", "flagged": "flagged_previous",
                             "flagged_rate": "flagged_rate_previous"}), on=key, how="left").merge(near, on=key, how="left")
    for c in ("n_previous", "flagged_previous", "just_under"):
        out[c] = out[c].fillna(0).astype("int64")
    from ._text import attack

    out["attack"] = out["attack"].map(attack)
    return out[["attack", "source", "threshold", "threshold_min", "threshold_max", "n", "flagged", "flagged_rate",
                "ci_low", "ci_high", "n_previous", "flagged_previous", "flagged_rate_previous", "just_under",
                "n_no_threshold"]].reset_index(drop=True)


def _errors(s) -> pd.DataFrame:
    from ._text import origin

    e = s.error_codes("current")
    p = s.error_codes("previous")
    key = ["origin", "code", "detail"]
    prev = p.groupby(key, dropna=False)["count"].sum().rename("count_previous").reset_index() if len(p) else \
        pd.DataFrame(columns=[*key, "count_previous"])
    out = e.merge(prev, on=key, how="left")
    out["count_previous"] = out["count_previous"].fillna(0).astype("int64")
    out["origin"] = out["origin"].map(origin)
    return out[["code", "detail", "origin", "message", "count", "share", "cumulative_share", "billed", "not_billed",
                "billing_unknown", "count_previous"]].reset_index(drop=True)


def _segments(b) -> pd.DataFrame:
    from ._sections import _seg_value
    from ._shown import shown_key

    rows = b.segment_rows()
    out = pd.DataFrame(rows, columns=["key", "value", "n", "passed", "n_first", "passed_first", "n_second",
                                      "passed_second"])
    segs = {seg.name: seg for seg in b.s.segments}
    out["value"] = [_seg_value(v, k, b.seg_labels, segs[k]) for k, v in zip(out["key"], out["value"])]
    out["key"] = [shown_key(k) for k in out["key"]]
    for part in ("", "_first", "_second"):
        out[f"pass_rate{part}"] = [_rate(k, n) for k, n in zip(out[f"passed{part}"], out[f"n{part}"])]
    return out[["key", "value", "n", "passed", "pass_rate", "n_first", "passed_first", "pass_rate_first", "n_second",
                "passed_second", "pass_rate_second"]]


def _thresholds(b) -> pd.DataFrame:
    return b.threshold_rows().reset_index(drop=True)


def _decision(t: pd.DataFrame) -> pd.DataFrame:
    t = t.copy()
    t["recommendation"] = [tr_or(f"decision.{x}", x) for x in t["recommendation"]]
    return t.reset_index(drop=True)


# ------------------------------------------------------------------ the workbook

def header(column: str) -> str:
    """A column's header in the current language (``workbook.col.<column>``)."""
    return tr_or(f"workbook.col.{column}", column)


def sheet_name(name: str) -> str:
    """A sheet's title (Excel allows 31 characters and none of ``[]:*?/\\``)."""
    title = tr_or(f"workbook.sheet.{name}", name)
    for c in "[]:*?/\\":
        title = title.replace(c, " ")
    return title[:31]


def _cell(v):
    """A value as openpyxl takes it: no NaN/NA (empty cell), naive datetimes (UTC), plain Python numbers."""
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, (float, np.floating)):
        return None if not math.isfinite(float(v)) else float(v)
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, pd.Timestamp):
        v = v.tz_convert("UTC").tz_localize(None) if v.tzinfo is not None else v
        return v.to_pydatetime()
    # Control characters (a segment value, a provider's message) are refused by the xlsx format
    # (openpyxl raises, and the whole report was lost): each becomes U+FFFD, as in the report
    # (bidirectional controls too).
    from ._shown import no_controls

    return no_controls(str(v))


def _width(v) -> int:
    """Display width: CJK characters take two columns."""
    if v is None:
        return 0
    if isinstance(v, float):
        return 9
    text = f"{v:,}" if isinstance(v, int) else str(v)[:10] if hasattr(v, "year") else str(v)
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def workbook_bytes(tables: dict[str, pd.DataFrame]) -> bytes:
    """The frames as an xlsx workbook, one sheet each (headers and sheet names in the current language)."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    wb.remove(wb.active)
    bold = Font(bold=True)
    wrap = Alignment(wrap_text=True, vertical="top")
    for name, frame in tables.items():
        ws = wb.create_sheet(sheet_name(name))
        columns = list(frame.columns)
        ws.append([header(c) for c in columns])
        for c in ws[1]:
            c.font = bold
        widths = [_width(header(c)) for c in columns]
        headline = name == "headline"
        for row in frame.itertuples(index=False):
            values = [_cell(v) for v in row]
            ws.append(values)
            r = ws.max_row
            is_rate = headline and values[columns.index("current_n")] is not None
            for j, (col, v) in enumerate(zip(columns, values)):
                widths[j] = max(widths[j], _width(v))
                if v is None:
                    continue
                cell = ws.cell(row=r, column=j + 1)
                if isinstance(v, str) and v.startswith("="):
                    # openpyxl stores text that opens with "=" as a formula: a segment value or a
                    # provider's message ('=HYPERLINK(...)') would run in the reader's Excel
                    cell.data_type = "s"
                fmt = _format(col, v, headline, is_rate)
                if fmt:
                    cell.number_format = fmt
                if col in _WIDE:
                    cell.alignment = wrap
        for j, w in enumerate(widths, 1):
            ws.column_dimensions[get_column_letter(j)].width = min(max(w + 2, 8), 70)
        ws.freeze_panes = "A2"
        if ws.max_row > 1:
            ws.auto_filter.ref = ws.dimensions
    if not wb.sheetnames:
        wb.create_sheet("-")
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _format(col: str, v, headline: bool, is_rate: bool) -> str | None:
    if isinstance(v, str) or isinstance(v, bool):
        return None
    if hasattr(v, "year"):
        return _DATE_FMT
    if headline and col in ("current", "previous"):
        return _PCT_FMT if is_rate else _INT_FMT
    if headline and col == "change":
        return _SIGNED_FMT
    if col in _SIGNED:
        return _SIGNED_FMT
    if col in _PCT:
        return _PCT_FMT
    if col in _INT:
        return _INT_FMT
    if col in _DEC:
        return "0.000"
    return None
