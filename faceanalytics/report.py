"""The review report: one self-contained HTML file for a period, next to the previous one.

    >>> write_report("data", "report.html", since="2026-10-01", until="2026-11-01")  # doctest: +SKIP

The period is ``since <= session_time < until`` (UTC).  Without dates it is the last
30 days up to the latest session in the data, whole days; the baseline is the
period of equal length just before it.  Only those two periods are read from the
store (``load`` prunes the other months).

Sections, each opening with one sentence on what it shows and what to look for
(:data:`SECTIONS`): headline figures, status funnel, pass rates per level and their
trend, confidence against thresholds, would-flip, anti-spoofing, error codes with
billing, drift, threshold-set changes, data quality.  Every number comes from a
metric of :mod:`faceanalytics.analytics` and every figure from a plot helper of
:mod:`faceanalytics.plots`; this module only lays them out.

The file opens offline: figures are PNG data URIs, CSS is inline, there is no
script and no external link or font.  Every text taken from the data is
HTML-escaped (Baidu messages are Chinese; payload text can hold ``<``).  A period
with no or very few sessions gives a report that says so.
"""
from __future__ import annotations

import base64
import datetime as _dt
import html
import io
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from . import __version__
from ._fs import atomic_write_bytes, data_path
from .analytics import (LEVELS, MIN_N, configured_pass_rates, data_quality, distribution_drift,
                        error_codes, genuineness_near_threshold, genuineness_rates, pass_rate_drift,
                        pass_rates, status_funnel, threshold_eras, threshold_sets, would_flip_summary)
from .analytics._stats import newcombe_diff_ci, proportion_ci
from .schema import LEVEL_COLUMNS, full_schema
from .store import load, load_arrow

__all__ = ["write_report", "build_report", "review_period", "ReviewPeriod", "SECTIONS", "DEFAULT_DAYS"]

DEFAULT_DAYS = 30

#: (anchor, heading, the one sentence that opens the section)
SECTIONS: tuple[tuple[str, str, str], ...] = (
    ("headline", "Headline figures",
     "The period's volumes and outcomes beside the previous period's: look for pass-rate changes "
     "whose interval excludes zero and for jumps in API errors, billed errors or quarantined records."),
    ("funnel", "Status funnel",
     "Where Megvii Lite sessions ended, in lifecycle order: look for more sessions left pending "
     "(NOT_STARTED, PROCESSING), cancelled or timed out, or refused by the API, which means users "
     "dropping out or results fetched too late."),
    ("pass-rates", "Pass rates per level and their trend",
     "The share of comparisons whose confidence reaches each false-accept level's threshold (every "
     "row judged at its own threshold), per source and comparison and over time: look for steps and "
     "slopes, and read segments marked as counts as too small for a rate."),
    ("confidence", "Confidence against thresholds",
     "The distribution of confidence for each comparison with the reference thresholds drawn over it: "
     "look for mass piling up just below a threshold and for thresholds that vary within the period."),
    ("would-flip", "Would-flip at the neighbouring levels",
     "How many comparisons and sessions would change decision if the cut moved one level stricter "
     "(moving back flips the same rows the other way): look for large flips and for mass close to "
     "the cut you use."),
    ("anti-spoofing", "Anti-spoofing",
     "The share of anti-spoofing checks flagged per attack type, each against its own threshold, and "
     "how often the check was returned: look for a rising flagged share, scores crowding the "
     "threshold, or falling coverage."),
    ("errors", "Error codes and billed errors",
     "Every error of the period in one ranked (Pareto) list with whether the provider bills it: look "
     "for the few codes that make most of the errors and for billed errors you pay for."),
    ("drift", "Drift against the previous period",
     "The signed change in pass rate per level with its 95% interval first, then shifts in the "
     "confidence distributions (PSI, KS): a change whose interval excludes zero matters even when "
     "PSI reads stable."),
    ("thresholds", "Threshold-set changes",
     "The reference-threshold sets the provider returned and the eras in which each dominated: a new "
     "set moves every pass rate with no change in users, so compare rates within one era."),
    ("quality", "Data quality",
     "What the figures above may miss or count twice: quarantined records, sessions without a result, "
     "request ids shared by different sessions and results fetched after the provider's retention; "
     "all should be close to zero."),
)

_TABLES = ("sessions", "comparisons", "genuineness", "error_counts", "attempts", "verify_errors",
           "quarantine")
# Columns no section reads; large (JSON, raw records), so not loaded.
_SKIP_COLUMNS = {"extra", "liveness_log", "ext_info", "raw", "biz_extra_data"}
_COMPARISON_ORDER = ("faceid", "idcard_datasource", "idcard_photo", "faceprint")
_ONE_DAY = pd.Timedelta(days=1)
_UNIT = {"D": "day", "W": "week", "M": "month"}


# --- the period ------------------------------------------------------------------------
@dataclass(frozen=True)
class ReviewPeriod:
    """``since <= session_time < until`` and the baseline of equal length before it (UTC)."""

    since: pd.Timestamp
    until: pd.Timestamp
    default: bool = False                 # chosen from the data, not given
    latest: pd.Timestamp | None = None    # latest session_time in the data

    @property
    def length(self) -> pd.Timedelta:
        return self.until - self.since

    @property
    def previous_since(self) -> pd.Timestamp:
        return self.since - self.length

    @property
    def previous_until(self) -> pd.Timestamp:
        return self.since


def _utc(value, what: str) -> pd.Timestamp | None:
    if value is None:
        return None
    try:
        # Text must be ISO 8601 (pandas alone would read "June" as June of this year).
        t = pd.Timestamp(_dt.datetime.fromisoformat(value) if isinstance(value, str) else value)
    except (ValueError, TypeError):
        raise ValueError(f"{what}: not a date or time (YYYY-MM-DD or ISO 8601): {value!r}") from None
    if t is pd.NaT:
        raise ValueError(f"{what}: not a date or time: {value!r}")
    return t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")


def _latest_session_time(data_dir) -> pd.Timestamp | None:
    import pyarrow.compute as pc

    latest = None
    for table in ("sessions", "quarantine"):
        col = load_arrow(data_dir, table, columns=["session_time"]).column("session_time")
        m = pc.max(col).as_py() if len(col) else None
        if m is not None:
            m = pd.Timestamp(m).tz_convert("UTC") if pd.Timestamp(m).tzinfo else \
                pd.Timestamp(m).tz_localize("UTC")
            latest = m if latest is None else max(latest, m)
    return latest


def review_period(data_dir, since=None, until=None, *, days: int = DEFAULT_DAYS) -> ReviewPeriod:
    """The period a report covers.

    Without ``until``: the end of the day of the latest ``session_time`` in the data
    (today when there is none).  Without ``since``: ``days`` before ``until``.
    Raises ``ValueError`` for an unreadable date or ``since >= until``.
    """
    s, u = _utc(since, "since"), _utc(until, "until")
    latest = _latest_session_time(data_dir) if (s is None or u is None) else None
    if u is None:
        base = latest if latest is not None else pd.Timestamp.now(tz="UTC")
        u = base.floor("D") + _ONE_DAY
        if s is not None and u <= s:               # a ``since`` after the data: an empty period
            u = s + pd.Timedelta(days=days)
    if s is None:
        s = u - pd.Timedelta(days=days)
    if s >= u:
        raise ValueError(f"since ({s:%Y-%m-%d %H:%M}) must be before until ({u:%Y-%m-%d %H:%M})")
    return ReviewPeriod(since=s, until=u, default=since is None and until is None, latest=latest)


def _fmt_time(t: pd.Timestamp) -> str:
    return f"{t:%Y-%m-%d}" if t == t.floor("D") else f"{t:%Y-%m-%d %H:%M}"


def _fmt_range(since: pd.Timestamp, until: pd.Timestamp) -> str:
    """Whole days read inclusively ("2026-10-01 to 2026-10-31"), else with an exclusive end."""
    if since == since.floor("D") and until == until.floor("D"):
        last = until - _ONE_DAY
        return _fmt_time(since) if last == since else f"{_fmt_time(since)} to {_fmt_time(last)}"
    return f"{_fmt_time(since)} to {_fmt_time(until)} (exclusive)"


def _fmt_length(d: pd.Timedelta) -> str:
    if d % _ONE_DAY == pd.Timedelta(0):
        n = d // _ONE_DAY
        return f"{n} day" + ("s" if n != 1 else "")
    hours = d / pd.Timedelta(hours=1)
    return f"{hours:g} hours"


# --- HTML pieces ------------------------------------------------------------------------
class _Html(str):
    """Text that is already HTML, built here from escaped parts.

    Adding plain text to it escapes that text, so ``_Html`` never absorbs raw data.
    """

    def __add__(self, other):
        return _Html(str.__add__(self, esc(other)))

    def __radd__(self, other):
        return _Html(str.__add__(esc(other), self))


def esc(value) -> _Html:
    """``value`` as HTML text: escaped unless it already is HTML."""
    if isinstance(value, _Html):
        return value
    return _Html(html.escape(_plain(value), quote=True))


def _plain(v) -> str:
    if v is None or v is pd.NA or v is pd.NaT:
        return ""
    if isinstance(v, (float, np.floating)):
        return "" if np.isnan(v) else f"{v:,.4g}"
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    if isinstance(v, (int, np.integer)):
        return f"{int(v):,}"
    if isinstance(v, pd.Timestamp):
        return _fmt_time(v)
    return str(v)


def _join(parts) -> _Html:
    return _Html("".join(esc(p) for p in parts))


def _tag(name: str, content="", **attrs) -> _Html:
    a = "".join(f' {k.rstrip("_").replace("_", "-")}="{esc(v)}"' for k, v in attrs.items() if v is not None)
    return _Html(f"<{name}{a}>{esc(content)}</{name}>")


def _p(text, cls: str | None = None) -> _Html:
    return _tag("p", text, class_=cls)


def _muted(text) -> _Html:
    return _tag("span", text, class_="muted")


def _pct(x, digits: int = 1) -> str:
    if x is None or x is pd.NA or not np.isfinite(float(x)):
        return "n/a"
    return f"{float(x) * 100:.{digits}f}%"


def _int(x) -> int:
    return 0 if x is None or x is pd.NA or (isinstance(x, float) and np.isnan(x)) else int(x)


def _rate(k, n, lo=None, hi=None, low_n=None, *, min_n: int = MIN_N) -> _Html:
    """A rate as the reader should see it: with its interval, or as a count when n is small."""
    k, n = _int(k), _int(n)
    if n == 0:
        return _muted("none")
    if low_n is None:
        low_n = n < min_n
    if lo is None or hi is None:
        lo, hi = (float(v) for v in proportion_ci(k, n))
    if low_n:
        return _Html(f'<span class="count" title="fewer than {min_n}: a count, not a rate">'
                     f'{k:,} of {n:,}</span>')
    return _Html(f'<span data-value="{k / n:.10g}">{_pct(k / n)}</span> '
                 f'<span class="ci">[{_pct(lo)}–{_pct(hi)}]</span> <span class="n">n={n:,}</span>')


def _rate_cell(r, p) -> _Html:
    """A pivot cell: this period's rate (interval and n below it) and the previous period's."""
    if r is None:
        now = _muted("none")
    elif r["low_n"]:
        now = _rate(r["passed"], r["n"], low_n=True)
    else:
        now = _Html(f'<span data-value="{r["passed"] / r["n"]:.10g}">{_pct(r["pass_rate"])}</span><br>'
                    f'<span class="ci">[{_pct(r["ci_low"])}–{_pct(r["ci_high"])}] n={int(r["n"]):,}</span>')
    if p is None:
        before = "before: none"
    elif p["low_n"]:
        before = f"before: {int(p['passed']):,} of {int(p['n']):,}"
    else:
        before = f"before: {_pct(p['pass_rate'])}"
    return _Html(f'{now}<br><span class="prev">{esc(before)}</span>')


def _change(d, lo, hi, significant, low_n) -> _Html:
    if low_n or d is None or not np.isfinite(float(d)):
        return _muted("too few to compare")
    txt = f"{float(d) * 100:+.1f} pts"
    ci = f"[{float(lo) * 100:+.1f}, {float(hi) * 100:+.1f}]"
    cls = "sig" if significant else None
    return _Html(f'{_tag("span", txt, class_=cls)} <span class="ci">{esc(ci)}</span>')


def _num(x, digits: int = 3) -> str:
    return "n/a" if x is None or not np.isfinite(float(x)) else f"{float(x):.{digits}f}"


def _pvalue(x) -> str:
    if x is None or not np.isfinite(float(x)):
        return "n/a"
    return "< 0.001" if x < 0.001 else f"{float(x):.3f}"


def _count_change(cur: int, prev: int) -> _Html:
    if prev == 0:
        return _muted("new" if cur else "–")
    r = (cur - prev) / prev
    return esc(f"{r * 100:+.0f}%")


def _table(header: Sequence, rows: Sequence[Sequence], *, numeric: Sequence[int] = (),
           wrap: Sequence[int] = (), cls: str | None = None, empty: str = "nothing to show") -> _Html:
    """An HTML table; every cell is escaped unless it is already :class:`_Html`.
    Cells do not wrap except in the ``wrap`` columns (messages, notes)."""
    if not rows:
        return _p(empty, "empty")

    def attr(i):
        c = " ".join(x for x, on in (("num", i in numeric), ("wrap", i in wrap)) if on)
        return f' class="{c}"' if c else ""

    head = "".join(f"<th{attr(i)}>{esc(h)}</th>" for i, h in enumerate(header))
    body = []
    for r in rows:
        body.append("<tr>" + "".join(f"<td{attr(i)}>{esc(c)}</td>" for i, c in enumerate(r)) + "</tr>")
    c = f' class="{esc(cls)}"' if cls else ""
    return _Html(f'<div class="scroll"><table{c}><thead><tr>{head}</tr></thead>'
                 f'<tbody>{"".join(body)}</tbody></table></div>')


# --- figures ----------------------------------------------------------------------------
_RC = {
    "font.size": 9, "axes.titlesize": 10, "axes.titleweight": "bold", "axes.labelsize": 9,
    "legend.fontsize": 8, "xtick.labelsize": 8, "ytick.labelsize": 8,
    "axes.spines.top": False, "axes.spines.right": False, "axes.edgecolor": "#888888",
    "axes.grid": True, "grid.color": "#dddddd", "grid.linewidth": 0.6, "axes.axisbelow": True,
    "figure.facecolor": "white", "savefig.facecolor": "white",
}
_DPI = 110


def _figure(draw: Callable, *, size=(8.0, 3.6), alt: str = "figure") -> _Html:
    """Run ``draw(ax)`` on a fresh figure (no pyplot: nothing global) and embed it as PNG."""
    import matplotlib
    from matplotlib.figure import Figure

    with matplotlib.rc_context(_RC), warnings.catch_warnings():
        # Said once in the report instead (see the error section).
        warnings.filterwarnings("ignore", message="no CJK-capable font")
        fig = Figure(figsize=size, dpi=_DPI, layout="constrained")
        draw(fig.subplots())
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=_DPI, metadata={"Software": None})
    data = base64.b64encode(_smaller_png(buf.getvalue())).decode("ascii")
    width = int(size[0] * _DPI)
    return _Html(f'<figure><img alt="{esc(alt)}" width="{width}" '
                 f'src="data:image/png;base64,{data}"></figure>')


def _smaller_png(png: bytes) -> bytes:
    """The same chart in 256 colours: about a third of the bytes, no visible change
    (flat colours and anti-aliased text).  Pillow comes with matplotlib."""
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - matplotlib requires Pillow
        return png
    im = Image.open(io.BytesIO(png)).convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    out = io.BytesIO()
    im.save(out, format="PNG", optimize=True)
    return out.getvalue() if out.tell() < len(png) else png


def _naive(t: pd.Timestamp):
    return t.tz_convert("UTC").tz_localize(None).to_datetime64()


# --- the data of the two periods --------------------------------------------------------
class _Periods:
    """The tables of the period (``cur``) and of the baseline (``prev``), read once."""

    def __init__(self, data_dir, period: ReviewPeriod):
        self.period = period
        self.cur: dict[str, pd.DataFrame] = {}
        self.prev: dict[str, pd.DataFrame] = {}
        for t in _TABLES:
            cols = [c for c in full_schema(t).names if c not in _SKIP_COLUMNS]
            df = load(data_dir, t, since=period.previous_since, until=period.until, columns=cols)
            if t in ("comparisons", "genuineness"):
                df = _once_per_baidu_attempt(df)
            in_cur = (df["session_time"] >= period.since).to_numpy(dtype=bool)
            self.cur[t] = df[in_cur].reset_index(drop=True)
            self.prev[t] = df[~in_cur].reset_index(drop=True)

    def both(self, table: str) -> pd.DataFrame:
        return pd.concat([self.prev[table], self.cur[table]], ignore_index=True)


def _once_per_baidu_attempt(df: pd.DataFrame) -> pd.DataFrame:
    """Drop ``baidu_detail`` rows of tokens that ``baidu_getall`` also returned.

    ``detail`` repeats the latest attempt that ``getall`` lists with the others; counting
    both would count that attempt twice (and put it in the period of its fetch, as
    ``detail`` carries no verify time).
    """
    src = df["source"].astype("str")
    detail = (src == "baidu_detail").to_numpy(dtype=bool)
    if not detail.any():
        return df
    getall = set(df.loc[(src == "baidu_getall").to_numpy(dtype=bool), "session_id"])
    dup = detail & df["session_id"].isin(getall).to_numpy(dtype=bool)
    return df[~dup].reset_index(drop=True) if dup.any() else df


def _n_sessions(s: pd.DataFrame) -> int:
    """Verification sessions: a Baidu token fetched by stat, getall and detail is one session,
    and so is a Megvii biz_id seen in a callback and in get_result."""
    if s.empty:
        return 0
    provider = s["source"].astype("str").str.split("_", n=1).str[0]
    return int(pd.DataFrame({"p": provider, "s": s["session_id"]}).drop_duplicates().shape[0])


def _by_provider(s: pd.DataFrame) -> dict[str, int]:
    out = {}
    for label, m in (("Megvii Lite", s["source"] == "megvii_lite"),
                     ("Megvii liveness", s["source"].isin(["megvii_liveness", "megvii_notify"])),
                     ("Baidu", s["source"].astype("str").str.startswith("baidu"))):
        n = int(s.loc[m.to_numpy(dtype=bool), "session_id"].nunique()) if len(s) else 0
        if n:
            out[label] = n
    return out


def _comparison_order(names) -> list[str]:
    names = sorted(set(names))
    head = [c for c in ("faceid", "idcard_datasource", "idcard_photo") if c in names]
    refs = sorted((c for c in names if c.startswith("ref")), key=lambda c: (len(c), c))
    tail = [c for c in names if c not in head and c not in refs]
    return head + refs + tail


def _has_levels(c: pd.DataFrame) -> pd.Series:
    return c[[LEVEL_COLUMNS[lv] for lv in LEVELS]].notna().any(axis=1)


def _faceid(c: pd.DataFrame) -> pd.DataFrame:
    return c[(c["comparison"] == "faceid").to_numpy(dtype=bool)]


def _error_tables(t: dict[str, pd.DataFrame]) -> list[pd.DataFrame]:
    return [t["sessions"], t["verify_errors"], t["error_counts"], t["attempts"]]


def _pooled_configured(c: pd.DataFrame) -> tuple[int, int]:
    b = c[c["threshold"].notna().to_numpy(dtype=bool)]
    if b.empty:
        return 0, 0
    r = configured_pass_rates(b)
    return int(r["passed"].sum()), int(r["n"].sum())


def _pooled_flagged(g: pd.DataFrame) -> tuple[int, int]:
    if g.empty:
        return 0, 0
    r = genuineness_rates(g)
    return int(r["flagged"].sum()), int(r["n"].sum())


# --- sections ---------------------------------------------------------------------------
class _Report:
    def __init__(self, data_dir, period: ReviewPeriod, title: str | None):
        self.data_dir = data_dir
        self.period = period
        self.title = title
        self.d = _Periods(data_dir, period)
        self.cur, self.prev = self.d.cur, self.d.prev
        self.n_cur = _n_sessions(self.cur["sessions"])
        self.n_prev = _n_sessions(self.prev["sessions"])
        self.findings: list[_Html] = []          # "Look at first", filled by the sections

    # The sections --------------------------------------------------------------------
    def headline(self) -> _Html:
        cur, prev = self.cur, self.prev
        rows = []
        split = _by_provider(cur["sessions"])
        detail = ", ".join(f"{k} {v:,}" for k, v in split.items())
        rows.append(["Sessions", _Html(f"{self.n_cur:,}" + (f'<br><span class="n">{esc(detail)}</span>'
                                                            if detail else "")),
                     self.n_prev, _count_change(self.n_cur, self.n_prev)])
        nc, npv = len(cur["comparisons"]), len(prev["comparisons"])
        rows.append(["Comparisons", nc, npv, _count_change(nc, npv)])
        fc, fp = _faceid(cur["comparisons"]), _faceid(prev["comparisons"])
        rc = pass_rates(fc).set_index("level")
        rp = pass_rates(fp).set_index("level")
        drift = pass_rate_drift(fp, fc).set_index("level")
        for lv in LEVELS:
            if lv not in rc.index and lv not in rp.index:
                continue
            a = rc.loc[lv] if lv in rc.index else None
            b = rp.loc[lv] if lv in rp.index else None
            dr = drift.loc[lv]
            rows.append([f"Face pass rate at {lv}",
                         _rate(a["passed"], a["n"], a["ci_low"], a["ci_high"], a["low_n"]) if a is not None
                         else _muted("none"),
                         _rate(b["passed"], b["n"], b["ci_low"], b["ci_high"], b["low_n"]) if b is not None
                         else _muted("none"),
                         _change(dr["change"], dr["change_low"], dr["change_high"], dr["significant"],
                                 dr["low_n"])])
        kc, ncc = _pooled_configured(cur["comparisons"])
        kp, ncp = _pooled_configured(prev["comparisons"])
        if ncc or ncp:
            rows.append(["Baidu pass rate at its configured threshold", _rate(kc, ncc), _rate(kp, ncp),
                         self._diff(kp, ncp, kc, ncc, finding="Baidu pass rate at its configured threshold")])
        kc, ncc = _pooled_flagged(cur["genuineness"])
        kp, ncp = _pooled_flagged(prev["genuineness"])
        rows.append(["Anti-spoofing checks flagged", _rate(kc, ncc), _rate(kp, ncp),
                     self._diff(kp, ncp, kc, ncc, finding="Share of anti-spoofing checks flagged")])
        ec = int(cur["sessions"]["error"].notna().sum())
        ep = int(prev["sessions"]["error"].notna().sum())
        rows.append([_Html('API errors <span class="n">of fetched results</span>'),
                     _rate(ec, len(cur["sessions"])), _rate(ep, len(prev["sessions"])),
                     _count_change(ec, ep)])
        bc = int(error_codes(*_error_tables(cur))["billed"].sum())
        bp = int(error_codes(*_error_tables(prev))["billed"].sum())
        rows.append([_Html('Billed errors <span class="n">the provider charges for them</span>'),
                     bc, bp, _count_change(bc, bp)])
        qc, qp = len(cur["quarantine"]), len(prev["quarantine"])
        rows.append([_Html('Quarantined records <span class="n">could not be read</span>'), qc, qp,
                     _count_change(qc, qp)])
        if qc:
            self.findings.append(esc(f"{qc:,} record(s) quarantined in the period (see Data quality)."))
        table = _table(["", "this period", "previous period", "change"], rows, numeric=(1, 2, 3),
                       wrap=(0,), cls="headline")
        note = _p("Face pass rates: Megvii faceid comparisons (live face against the data-source photo), "
                  "each judged at its own reference threshold at that false-accept level; [95% interval]; "
                  f"fewer than {MIN_N} shown as a count. Changes in percentage points with Newcombe's "
                  "95% interval, in colour when it excludes zero. Sessions count a Baidu token once "
                  "whatever the number of result APIs fetched.", "note")
        return _Html(table + note)

    def _diff(self, k1, n1, k2, n2, *, finding: str | None = None) -> _Html:
        """Change of a pooled rate k1/n1 -> k2/n2 with Newcombe's interval."""
        k1, n1, k2, n2 = (_int(x) for x in (k1, n1, k2, n2))
        if n1 == 0 and n2 == 0:
            return _muted("–")
        if n1 == 0 or n2 == 0:
            return _muted("too few to compare")
        dd, lo, hi = (float(x) for x in newcombe_diff_ci(k1, n1, k2, n2))
        low = n1 < MIN_N or n2 < MIN_N
        sig = (lo > 0) or (hi < 0)
        if finding and sig and not low:
            self.findings.append(esc(f"{finding}: {_pct(k1 / n1)} → {_pct(k2 / n2)} "
                                     f"({dd * 100:+.1f} points; the interval excludes zero)."))
        return _change(dd, lo, hi, sig, low)

    def funnel(self) -> _Html:
        s, sp = self.cur["sessions"], self.prev["sessions"]
        lite = s[(s["source"] == "megvii_lite").to_numpy(dtype=bool)]
        if lite.empty:
            return _p("No Megvii Lite session in this period.", "empty")
        fc = status_funnel(s)
        fp = status_funnel(sp).set_index(["status", "stage"]) if len(sp) else None
        rows = []
        for _, r in fc.iterrows():
            p = fp.loc[(r["status"], r["stage"])] if fp is not None and (r["status"], r["stage"]) in fp.index \
                else None
            rows.append([r["status"], r["stage"], int(r["count"]), _pct(r["share"]),
                         int(p["count"]) if p is not None else 0,
                         _pct(p["share"]) if p is not None else "n/a"])
        fig = _figure(lambda ax: _plots().plot_status_funnel(fc, ax=ax), size=(7.0, 2.9),
                      alt="Megvii Lite sessions by status")
        pend = fc.loc[fc["stage"] == "pending", "count"].sum()
        note = _Html(f"<p>{int(pend):,} session(s) still pending: fetch them again later "
                     "(<code>faceanalytics fetch … --refresh-pending</code>, within the three-call "
                     "quota).</p>") if pend else _Html("")
        return _Html(fig + note + _table(["status", "stage", "sessions", "share", "previous", "share"],
                                         rows, numeric=(2, 3, 4, 5)))

    def pass_rate_section(self) -> _Html:
        c, cp = self.cur["comparisons"], self.prev["comparisons"]
        if c.empty:
            return _p("No comparison in this period.", "empty")
        by = ["source", "comparison"]
        cur_r = pass_rates(c, by=by).set_index([*by, "level"])
        prev_r = pass_rates(cp, by=by).set_index([*by, "level"]) if len(cp) else None
        rows = []
        for comp in _comparison_order(c["comparison"].dropna()):
            sub = c[(c["comparison"] == comp).to_numpy(dtype=bool)]
            for src in sorted(sub["source"].dropna().astype("str").unique()):
                if not any((src, comp, lv) in cur_r.index for lv in LEVELS):
                    continue
                cells = []
                for lv in LEVELS:
                    key = (src, comp, lv)
                    r = cur_r.loc[key] if key in cur_r.index else None
                    p = prev_r.loc[key] if prev_r is not None and key in prev_r.index else None
                    cells.append(_rate_cell(r, p) if r is not None else _muted("–"))
                rows.append([comp, src, *cells])
        table = _table(["comparison", "source", *LEVELS], rows, numeric=(2, 3, 4, 5), cls="rates",
                       empty="No comparison with Megvii reference thresholds in this period.")
        b = c[c["threshold"].notna().to_numpy(dtype=bool)]
        if len(b):
            conf = configured_pass_rates(b, by=by)
            bp = cp[cp["threshold"].notna().to_numpy(dtype=bool)] if len(cp) else cp
            confp = configured_pass_rates(bp, by=by).set_index([*by, "threshold"]) if len(bp) else None
            brows = []
            for _, r in conf.iterrows():
                key = (r["source"], r["comparison"], r["threshold"])
                p = confp.loc[key] if confp is not None and key in confp.index else None
                brows.append([r["comparison"], r["source"], float(r["threshold"]), _rate_cell(r, p)])
            table += _p("Baidu: pass rate at the threshold configured in the plan (an attempt without a "
                        "score is a rejection).", "subhead")
            table += _table(["comparison", "source", "configured threshold", "pass rate"], brows,
                            numeric=(2, 3), cls="rates")
        both = _faceid(self.d.both("comparisons"))
        freq = "D" if self.period.length <= pd.Timedelta(days=14) else \
            "W" if self.period.length <= pd.Timedelta(days=180) else "M"
        trend = pass_rates(both, freq=freq) if len(both) else None
        if trend is None or trend["low_n"].all():
            fig = _p("Too few faceid comparisons per "
                     f"{_UNIT[freq]} for a trend.", "empty")
        else:
            since = _naive(self.period.since)

            def draw(ax):
                _plots().plot_pass_rates(trend, ax=ax)
                ax.axvline(since, color="#555555", linestyle=":", linewidth=1)
                ax.annotate("this period →", (since, 1), xycoords=("data", "axes fraction"),
                            xytext=(4, -10), textcoords="offset points", fontsize=8, color="#555555")
                ax.set_title(f"faceid pass rate per {_UNIT[freq]} at "
                             "each row's own threshold, both periods (95% CI)")
                ax.legend(title="level", fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
                import matplotlib.dates as mdates

                loc = mdates.AutoDateLocator(maxticks=8)
                ax.xaxis.set_major_locator(loc)
                ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(loc))

            fig = _figure(draw, size=(9.5, 3.4), alt="faceid pass rate over time")
        return _Html(table + fig)

    def confidence(self) -> _Html:
        c = self.cur["comparisons"]
        if c.empty:
            return _p("No comparison in this period.", "empty")
        figs = []
        for comp in _comparison_order(c["comparison"].dropna()):
            sub = c[(c["comparison"] == comp).to_numpy(dtype=bool)]
            if sub["confidence"].notna().sum() == 0:
                continue
            srcs = ", ".join(sorted(sub["source"].dropna().astype("str").unique()))

            def draw(ax, sub=sub, comp=comp, srcs=srcs):
                _plots().plot_confidence_thresholds(sub, ax=ax)
                ax.set_title(f"{comp} ({srcs}): n={len(sub):,}")
                ax.legend(loc="upper left", bbox_to_anchor=(0.0, -0.2), fontsize=7, frameon=False)

            figs.append(_figure(draw, size=(5.0, 3.9), alt=f"confidence of {comp} against thresholds"))
        if not figs:
            return _p("No scored comparison in this period.", "empty")
        return _Html('<div class="grid">' + "".join(figs) + "</div>")

    def would_flip(self) -> _Html:
        c = self.cur["comparisons"]
        c = c[_has_levels(c).to_numpy(dtype=bool)] if len(c) else c
        if c.empty:
            return _p("No comparison with reference thresholds in this period.", "empty")
        rows = []
        for comp in _comparison_order(c["comparison"].dropna()):
            sub = c[(c["comparison"] == comp).to_numpy(dtype=bool)]
            for frm, to in zip(LEVELS[:-1], LEVELS[1:]):
                s = would_flip_summary(sub, frm, to).iloc[0]
                if s["n"] == 0:
                    continue
                n = int(s["n"])
                rows.append([comp, f"{frm} → {to}", n,
                             _rate(s["passed_from"], n) if n < MIN_N else _pct(s["passed_from"] / n),
                             _rate(s["passed_to"], n) if n < MIN_N else _pct(s["passed_to"] / n),
                             _Html(f'{int(s["to_reject"]):,} <span class="n">'
                                   f'({int(s["sessions_to_reject"]):,} sessions)</span>'),
                             int(s["to_pass"]),
                             int(s["near_below_to"]) + int(s["near_above_to"])])
        if rows and not any(r[6] for r in rows):
            rows = [r[:6] + r[7:] for r in rows]
            header = ["comparison", "cut moves", "comparisons", "pass before", "pass after",
                      "newly rejected", "within ±1 pt of the new cut"]
        else:
            header = ["comparison", "cut moves", "comparisons", "pass before", "pass after",
                      "newly rejected", "newly accepted", "within ±1 pt of the new cut"]
        table = _table(header, rows, numeric=tuple(range(2, len(header))))
        f = _faceid(c)
        fig = _Html("")
        if len(f) and f["thr_1e4"].notna().any() and f["thr_1e5"].notna().any():
            fig = _figure(lambda ax: _plots().plot_margins(f, level="1e-4", to="1e-5", ax=ax),
                          size=(8.0, 3.6), alt="faceid margins to the 1e-4 threshold")
        return _Html(table + fig)

    def anti_spoofing(self) -> _Html:
        g, gp = self.cur["genuineness"], self.prev["genuineness"]
        if g.empty:
            return _p("No anti-spoofing check in this period.", "empty")
        r = genuineness_rates(g)
        rp = genuineness_rates(gp).set_index("attack") if len(gp) else None
        near = genuineness_near_threshold(g).set_index("attack")
        rows = []
        for _, x in r.iterrows():
            a = x["attack"]
            p = rp.loc[a] if rp is not None and a in rp.index else None
            nr = near.loc[a] if a in near.index else None
            thr = "–" if nr is None or not np.isfinite(nr["threshold"]) else (
                f"{nr['threshold']:g}" if nr["n_thresholds"] <= 1 else
                f"{nr['threshold']:g} ({nr['threshold_min']:g}–{nr['threshold_max']:g})")
            change = self._diff(p["flagged"], p["n"], x["flagged"], x["n"]) if p is not None \
                else _muted("none before")
            rows.append([a, thr,
                         _rate(x["flagged"], x["n"], x["ci_low"], x["ci_high"], x["low_n"]) if x["n"]
                         else _muted(f"{int(x['n_no_threshold']):,} scores, no threshold"),
                         _rate(p["flagged"], p["n"], p["ci_low"], p["ci_high"], p["low_n"])
                         if p is not None and p["n"] else _muted("none"),
                         change,
                         int(nr["just_under"]) if nr is not None else 0,
                         _pct(x["coverage"], 0)])
        table = _table(["attack", "threshold", "flagged this period", "previous period", "change",
                        "just under (0.05)", "returned in"],
                       rows, numeric=(2, 3, 4, 5, 6))
        table += _p("Threshold: the most common (range when it varies). Just under: checks within 0.05 "
                    "below their threshold, not flagged but close. Returned in: share of the sessions "
                    "with any anti-spoofing check that carried this one (screen replay needs the "
                    "environment image).", "note")

        def draw(ax):
            _plots().plot_genuineness(g, ax=ax)
            ax.legend(loc="upper left", bbox_to_anchor=(0.0, -0.18), fontsize=7, frameon=False)

        fig = _figure(draw, size=(8.0, 4.6), alt="anti-spoofing confidence per attack type")
        return _Html(fig + table)

    def errors(self) -> _Html:
        e = error_codes(*_error_tables(self.cur))
        if e.empty:
            return _p("No error in this period.", "empty")
        ep = error_codes(*_error_tables(self.prev))
        prev_count = ep.set_index(["origin", "code", "detail"])["count"] if len(ep) else pd.Series(dtype="int64")
        total, billed = int(e["count"].sum()), int(e["billed"].sum())
        unknown = int(e["billing_unknown"].sum())
        top = e.head(20)
        rows = []
        for _, r in top.iterrows():
            key = (r["origin"], r["code"], r["detail"])
            p = int(prev_count.get(key, 0)) if len(prev_count) else 0
            code = r["code"] if pd.isna(r["detail"]) else f"{r['code']} · {r['detail']}"
            rows.append([code, _ORIGIN.get(r["origin"], r["origin"]), r["message"], int(r["count"]),
                         _pct(r["share"]), _pct(r["cumulative_share"]), _billing(r), p])
        head = _p(f"{total:,} errors in {len(e):,} codes; {billed:,} billed by the provider"
                  + (f" ({unknown:,} are of a kind whose billing the documents do not state)" if unknown else "")
                  + f". The top {min(3, len(e))} code(s) make {_pct(e['cumulative_share'].iloc[min(3, len(e)) - 1])}"
                  " of all errors.")
        fig = _figure(lambda ax: _plots().plot_error_codes(e, top=12, ax=ax), size=(9.0, 4.4),
                      alt="errors by code, Pareto")
        from ._fonts import cjk_font, has_cjk

        note = _Html("")
        if cjk_font() is None and any(has_cjk(m) for m in top["message"].dropna()):
            note = _p("No Chinese font is installed where this report was made, so the figure shows "
                      "codes only; the table has the messages (install fonts-noto-cjk to see them "
                      "in the figure).", "muted")
        more = _p(f"{len(e) - len(top):,} more code(s) not listed.", "muted") if len(e) > len(top) else ""
        table = _table(["code", "where", "message", "count", "share", "cumulative", "billing",
                        "previous period"], rows, numeric=(3, 4, 5, 7), wrap=(2,), cls="errors")
        return _join([head, fig, note, table, more])

    def drift(self) -> _Html:
        c, cp = self.cur["comparisons"], self.prev["comparisons"]
        parts = []
        if c.empty or cp.empty:
            parts.append(_p("No baseline to compare with: " + (
                "the previous period has no comparison." if cp.empty else "this period has no comparison."),
                "empty"))
        else:
            d = pass_rate_drift(cp, c, by="comparison")
            order = {k: i for i, k in enumerate(_comparison_order(d["comparison"].dropna()))}
            d = d.assign(_o=d["comparison"].map(order)).sort_values("_o", kind="stable")
            rows = []
            for _, r in d.iterrows():
                rc = r["rejection_change"]
                rows.append([r["comparison"], r["level"],
                             _rate(round(r["pass_rate_baseline"] * r["n_baseline"])
                                   if r["n_baseline"] else 0, r["n_baseline"]),
                             _rate(round(r["pass_rate_current"] * r["n_current"])
                                   if r["n_current"] else 0, r["n_current"]),
                             _change(r["change"], r["change_low"], r["change_high"], r["significant"],
                                     r["low_n"]),
                             "" if r["low_n"] or not np.isfinite(rc) else f"{rc * 100:+.0f}%"])
                if r["significant"] and not r["low_n"]:
                    self.findings.append(_Html(
                        f"{esc(r['comparison'])} pass rate at {esc(r['level'])}: "
                        f"{esc(_pct(r['pass_rate_baseline']))} → {esc(_pct(r['pass_rate_current']))} "
                        f"({float(r['change']) * 100:+.1f} points; the interval excludes zero, see "
                        '<a href="#drift">Drift</a>).'))
            parts.append(_table(["comparison", "level", "previous period", "this period",
                                 "change (95% CI)", "rejections, relative change"], rows,
                                numeric=(2, 3, 4, 5)))
            f, fp = _faceid(c), _faceid(cp)
            if len(f) >= MIN_N and len(fp) >= MIN_N:
                parts.append(_figure(lambda ax: _plots().plot_drift(fp, f, ax=ax), size=(8.0, 3.6),
                                     alt="faceid pass-rate change per level"))
        dists = []
        if len(c) and len(cp):
            dd = distribution_drift(cp, c, by="comparison")
            dists += [(f"confidence, {r['comparison']}", r) for _, r in dd.iterrows()]
        g, gp = self.cur["genuineness"], self.prev["genuineness"]
        if len(g) and len(gp):
            dg = distribution_drift(gp, g, by="attack")
            dists += [(f"anti-spoofing confidence, {r['attack']}", r) for _, r in dg.iterrows()]
        rows = []
        for label, r in dists:
            rows.append([label, int(r["n_baseline"]), int(r["n_current"]), _num(r["psi"]),
                         self._flag(r["psi_flag"]), _num(r["ks"]), _pvalue(r["ks_pvalue"])])
            if r["psi_flag"] == "act":
                self.findings.append(esc(f"{label}: PSI {_num(r['psi'])} (act) against the previous period."))
        if rows:
            parts.append(_p("Second-line evidence: population stability index (baseline deciles; 0.10 "
                            "watch, 0.25 act) and the two-sample Kolmogorov-Smirnov statistic."))
            parts.append(_table(["variable", "n previous", "n this period", "PSI", "flag", "KS", "KS p-value"],
                                rows, numeric=(1, 2, 3, 5, 6)))
        return _join(parts)

    @staticmethod
    def _flag(flag: str) -> _Html:
        return _tag("span", flag, class_=f"flag {flag}" if flag in ("stable", "watch", "act") else "muted")

    def thresholds(self) -> _Html:
        c, cp = self.cur["comparisons"], self.prev["comparisons"]
        both = self.d.both("comparisons")
        both = both[_has_levels(both).to_numpy(dtype=bool)] if len(both) else both
        if both.empty:
            return _p("No comparison with reference thresholds in either period.", "empty")
        sc = threshold_sets(c, by="source") if len(c) else None
        sp = threshold_sets(cp, by="source") if len(cp) else None
        keys = ["source", "threshold_set"]
        frames = [x.assign(_side=side) for x, side in ((sc, "cur"), (sp, "prev")) if x is not None and len(x)]
        allsets = pd.concat(frames, ignore_index=True)
        rows, new = [], []
        for key, grp in allsets.groupby(keys, sort=True):
            cur = grp[grp["_side"] == "cur"]
            prv = grp[grp["_side"] == "prev"]
            n_c = int(cur["n"].sum()) if len(cur) else 0
            n_p = int(prv["n"].sum()) if len(prv) else 0
            status = "new in this period" if n_p == 0 and sp is not None and len(sp) else \
                "not seen this period" if n_c == 0 else "both periods"
            if status == "new in this period":
                new.append(f"{key[1]} ({key[0]})")
            first = f'{grp["first_seen"].min():%Y-%m-%d}'
            last = f'{grp["last_seen"].max():%Y-%m-%d}'
            rows.append([key[0], key[1], n_p, n_c, _pct(cur["share"].iloc[0]) if len(cur) else "–",
                         first, last, status])
        freq = "D" if self.period.length <= pd.Timedelta(days=45) else "W"
        eras = threshold_eras(both, freq=freq)
        erows = [[int(r["era"]), r["threshold_set"], r["start"], r["end"] - _ONE_DAY, int(r["n"]),
                  _pct(r["dominant_share"]), int(r["other_sets"])] for _, r in eras.iterrows()]
        if len(eras) <= 1 and not new:
            lead = "One dominant threshold set over both periods: no change of thresholds to account for."
        else:
            lead = (f"{len(eras)} era(s) over both periods"
                    + (f"; new in this period: {', '.join(new)}" if new else "")
                    + ". Compare pass rates within one era.")
            self.findings.append(esc("The reference thresholds changed: " + lead + " (see Threshold-set "
                                     "changes)."))
        unit = {"D": "day", "W": "week"}[freq]
        return _join([
            _p(lead),
            _table(["source", "set: 1e-3/1e-4/1e-5/1e-6", "previous period", "this period",
                    "share", "first seen", "last seen", "seen in"], rows, numeric=(2, 3, 4)),
            _p(f"Eras within these two periods: runs of {unit}s with the same most common set "
               "(dates inclusive).", "muted"),
            _table(["era", "dominant set", "from", "to", "comparisons", "dominant share",
                    "other sets seen"], erows, numeric=(0, 4, 5, 6)),
        ])

    def quality(self) -> _Html:
        s, c, q = self.cur["sessions"], self.cur["comparisons"], self.cur["quarantine"]
        if s.empty and q.empty:
            return _p("No session and no quarantined record in this period.", "empty")
        dq = data_quality(s, comparisons=c, quarantine=q)
        sources = sorted(dq["source"].unique())
        notes = dict(zip(dq["check"], dq["note"]))
        rows = []
        for check in dict.fromkeys(dq["check"]):
            sub = dq[dq["check"] == check].set_index("source")
            cells = []
            for src in sources:
                n, of = int(sub.loc[src, "n"]), int(sub.loc[src, "of"])
                cells.append(_muted("0") if n == 0 else
                             _Html(f'<span class="warn">{n:,}</span> <span class="n">of {of:,}</span>'))
            rows.append([_Html(f'{esc(check.replace("_", " "))}<br><span class="n">{esc(notes[check])}</span>'),
                         *cells])
        out = [_table(["check", *sources], rows, numeric=tuple(range(1, len(sources) + 1)), wrap=(0,),
                      cls="quality")]
        for check, label in (("repeated_request_id", "request ids shared by different sessions"),
                             ("fetched_after_retention", "results fetched after the provider's retention")):
            n = int(dq.loc[dq["check"] == check, "n"].sum())
            if n:
                self.findings.append(esc(f"{n:,} {label} (see Data quality)."))
        if len(q):
            reasons = q.groupby(q["reason"].fillna("(no reason)").astype("str")).size() \
                .sort_values(ascending=False).head(10)
            out.append(_p("Quarantine reasons (most common first; the records are kept in the "
                          "quarantine table, unreadable parts included):"))
            out.append(_table(["reason", "records"], [[k, int(v)] for k, v in reasons.items()], numeric=(1,)))
        return _join(out)

    # Assembly -----------------------------------------------------------------------
    def sections(self) -> list[tuple[str, str, str, _Html]]:
        builders = {"headline": self.headline, "funnel": self.funnel, "pass-rates": self.pass_rate_section,
                    "confidence": self.confidence, "would-flip": self.would_flip,
                    "anti-spoofing": self.anti_spoofing, "errors": self.errors, "drift": self.drift,
                    "thresholds": self.thresholds, "quality": self.quality}
        out = []
        for key, heading, lead in SECTIONS:
            try:
                body = builders[key]()
            except Exception as e:  # one broken section must not cost the whole report
                warnings.warn(f"review report: section {heading!r} failed: {type(e).__name__}: {e}",
                              RuntimeWarning, stacklevel=2)
                body = _p(f"This section could not be built: {type(e).__name__}: {e}", "error")
            out.append((key, heading, lead, body))
        return out

    def render(self) -> str:
        p = self.period
        sections = self.sections()       # fills self.findings
        title = self.title or f"Face-verification review, {_fmt_range(p.since, p.until)}"
        if not p.default:
            how = "as asked"
        elif p.latest is not None:
            how = (f"the default: the last {_fmt_length(p.length)} up to the latest session in the data "
                   f"({p.latest:%Y-%m-%d %H:%M} UTC)")
        else:
            how = f"the default: no session in the data, so the last {_fmt_length(p.length)} up to today"
        meta = [
            _Html(f"<b>Period</b> {esc(_fmt_range(p.since, p.until))} ({esc(_fmt_length(p.length))}, UTC, "
                  f"by session time; {esc(how)})"),
            _Html(f"<b>Compared with</b> {esc(_fmt_range(p.previous_since, p.previous_until))} "
                  f"(the {esc(_fmt_length(p.length))} before)"),
            _Html(f"<b>Sessions</b> {self.n_cur:,} this period, {self.n_prev:,} the period before"),
        ]
        banner = _Html("")
        if self.n_cur == 0 and self.cur["comparisons"].empty and self.cur["quarantine"].empty:
            banner = _p(f"No sessions in this period: there is nothing to review. "
                        f"The previous period had {self.n_prev:,}.", "banner")
        elif self.n_cur < MIN_N:
            banner = _p(f"Only {self.n_cur:,} session(s) in this period: too few for rates, so figures "
                        f"below are shown as counts (a rate needs n ≥ {MIN_N}).", "banner")
        findings = _Html("")
        if self.findings:
            shown, rest = self.findings[:8], len(self.findings) - 8
            more = f"<li>… and {rest} more in the sections below.</li>" if rest > 0 else ""
            findings = _Html('<div class="findings"><b>Look at first</b><ul>'
                             + "".join(f"<li>{esc(f)}</li>" for f in shown) + more + "</ul></div>")
        toc = "".join(f'<li><a href="#{esc(k)}">{esc(h)}</a></li>' for k, h, _, _ in sections)
        body = []
        for key, heading, lead, content in sections:
            extra = findings if key == "headline" else ""
            body.append(f'<section id="{esc(key)}"><h2>{esc(heading)}</h2><p class="lead">{esc(lead)}</p>'
                        f"{extra}{content}</section>")
        now = _dt.datetime.now(_dt.timezone.utc)
        return (
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{esc(title)}</title><style>{_CSS}</style></head><body><main>"
            f"<header><h1>{esc(title)}</h1><ul class=\"meta\">"
            + "".join(f"<li>{m}</li>" for m in meta)
            + f"</ul>{banner}<nav><ol>{toc}</ol></nav></header>"
            + "".join(body)
            + f"<footer>Made by faceanalytics {esc(__version__)} on {now:%Y-%m-%d %H:%M} UTC from "
              f"{esc(str(self.data_dir))}. Rates: Wilson 95% intervals; changes: Newcombe 95% intervals; "
              f"n &lt; {MIN_N} shown as counts. Every comparison is judged at its own reference threshold. "
              "A Baidu attempt returned by both getall and detail is counted once (from getall). "
              "This file is self-contained: no script, no external link.</footer>"
            "</main></body></html>\n")


_ORIGIN = {"api_error": "API error", "verify_error": "Megvii verify error",
           "liveness_failure": "liveness failure", "lite_fail_reason": "Lite fail_reason",
           "lite_status": "Lite status", "baidu_stat": "Baidu stat", "baidu_attempt": "Baidu attempt"}


def _billing(r) -> _Html:
    parts = [f"{int(r[c]):,} {label}" for c, label in (("billed", "billed"), ("not_billed", "not billed"))
             if r[c]]
    if r["billing_unknown"]:
        parts.append(f"{int(r['billing_unknown']):,} not stated" if parts else "not stated")
    html_ = esc(", ".join(parts))
    return _Html(f'<span class="warn">{html_}</span>') if r["billed"] else _muted(", ".join(parts))


def _plots():
    from . import plots

    return plots


_CSS = """
:root{--fg:#1f2328;--muted:#6b7280;--line:#e5e7eb;--bg:#ffffff;--accent:#1f4e79;--soft:#f6f8fa}
*{box-sizing:border-box}
body{margin:0;background:#eef1f4;color:var(--fg);font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,
"Noto Sans","Helvetica Neue",Arial,"Noto Sans CJK SC","Microsoft YaHei","PingFang SC",sans-serif}
main{max-width:1120px;margin:0 auto;padding:24px 32px 40px;background:var(--bg)}
h1{font-size:24px;margin:0 0 8px;color:var(--accent)}
h2{font-size:19px;margin:0 0 4px;padding-top:8px;color:var(--accent);border-top:2px solid var(--accent)}
section{margin-top:28px}
.meta{list-style:none;padding:0;margin:0 0 12px;color:#374151}
.meta li{margin:2px 0}
nav ol{columns:2;margin:8px 0 0;padding-left:22px;font-size:13px}
nav a{color:var(--accent);text-decoration:none}
p.lead{margin:2px 0 12px;color:#374151;font-style:italic}
.banner{background:#fff4e5;border-left:4px solid #f59e0b;padding:8px 12px;font-weight:600}
.findings{background:#eef6ff;border-left:4px solid var(--accent);padding:6px 12px;margin:0 0 12px}
.findings ul{margin:4px 0;padding-left:20px}
.findings a{color:var(--accent)}
.empty{color:var(--muted);font-style:italic}
.error{color:#b91c1c}
.muted{color:var(--muted)}
.scroll{overflow-x:auto;margin:8px 0 12px}
table{border-collapse:collapse;font-size:13px;min-width:50%}
th,td{padding:4px 10px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top;white-space:nowrap}
td.wrap,th.wrap{white-space:normal;min-width:14em}
.prev{color:var(--muted);font-size:12px}
p.note{color:var(--muted);font-size:12px;margin:-4px 0 12px}
p.subhead{font-weight:600;margin:14px 0 0}
thead th{background:var(--soft);border-bottom:2px solid #d0d7de;font-weight:600;white-space:nowrap}
tbody tr:nth-child(even){background:#fafbfc}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
table.headline{font-size:14px;min-width:70%}
table.headline td:first-child{font-weight:600;min-width:12em}
.ci,.n{color:var(--muted);font-size:12px}
.n{display:inline-block}
.count{border-bottom:1px dotted var(--muted)}
.sig{font-weight:700;color:#b45309}
.warn{color:#b45309;font-weight:600}
.flag{padding:0 6px;border-radius:8px;font-size:12px}
.flag.stable{background:#e6f4ea;color:#1e7e34}.flag.watch{background:#fff4e5;color:#b45309}
.flag.act{background:#fde8e8;color:#b91c1c;font-weight:700}
figure{margin:8px 0 12px}
figure img{max-width:100%;height:auto;display:block}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(480px,1fr));gap:12px 16px}
.grid figure{margin:0}
footer{margin-top:36px;padding-top:8px;border-top:1px solid var(--line);color:var(--muted);font-size:12px}
"""


# --- entry points -----------------------------------------------------------------------
def build_report(data_dir, since=None, until=None, *, title: str | None = None) -> str:
    """The review report for ``since <= session_time < until`` as one HTML string.

    Without dates: the last 30 days up to the latest session in the data (see
    :func:`review_period`), compared with the 30 days before.
    """
    period = review_period(data_dir, since, until)
    return _Report(data_dir, period, title).render()


def write_report(data_dir, out, since=None, until=None, *, title: str | None = None) -> Path:
    """Write the review report (see :func:`build_report`) to ``out``, atomically; return its path.

    >>> write_report("data", "report.html")           # doctest: +SKIP
    PosixPath('report.html')
    """
    text = build_report(data_dir, since, until, title=title)
    path = data_path(out)
    atomic_write_bytes(path, text.encode("utf-8"), mode=0o644, durable=False)
    return path
