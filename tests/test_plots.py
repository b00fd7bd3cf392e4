"""Plot helpers: artists checked, not pixels (positions, heights, labels)."""
from __future__ import annotations

import warnings

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest

import faceanalytics as fa
from faceanalytics import _fonts
from faceanalytics import analytics as A
from faceanalytics import plots as P
from faceanalytics.analytics._stats import probit

from _helpers import assert_prints_ok  # noqa: E402
from test_analytics import (NAN4, NEW, OLD, _attempts, _error_counts, _genuineness, _labelled, _sessions,
                            _verify_errors, comparisons)


@pytest.fixture
def table():
    rows = []
    for i, x in enumerate([60.5, 65.0, 69.315, 70.2, 72.0, 75.5, 80.1, 81.0, 85.0, 90.0]):
        rows.append(("megvii_lite", f"s{i}", f"2026-03-0{2 + i % 3}", "faceid", x, NEW))
    rows.append(("megvii_lite", "old", "2016-03-02", "faceid", 70.0, OLD))
    rows.append(("megvii_liveness", "v2", "2026-03-02", "faceid", 68.0, (64, 69, 74, np.nan)))
    rows.append(("baidu_getall", "b1", "2026-03-02", "faceprint", 85.0, NAN4, 80.0))
    rows.append(("baidu_getall", "b2", "2026-03-02", "faceprint", np.nan, NAN4, 80.0))
    return comparisons(rows)


def vlines(ax):
    """x positions and labels of the full-height vertical lines."""
    out = []
    for ln in ax.lines:
        x = ln.get_xdata()
        if len(x) == 2 and x[0] == x[1] and tuple(ln.get_ydata()) == (0, 1):
            out.append((float(x[0]), ln.get_label()))
    return out


def test_confidence_thresholds_lines_and_bars(table):
    fig, ax = plt.subplots()
    rc = dict(matplotlib.rcParams)
    out = P.plot_confidence_thresholds(table, ax=ax, min_n=5)
    assert out is ax
    assert dict(matplotlib.rcParams) == rc                       # never touches global state
    dist = A.confidence_distribution(table)
    heights = [p.get_height() for p in ax.containers[0].patches]
    assert heights == dist["count"].tolist()
    assert sum(heights) == 13                                    # the row with no score is not a bar
    lines = vlines(ax)
    xs = [x for x, _ in lines]
    # Most common threshold per level (10 rows of the new set, 1 old, 1 v2), and Baidu's 80.
    assert xs == [62.169, 69.315, 74.399, 78.038, 80.0]
    labels = [lab for _, lab in lines]
    lt = A.threshold_lines(table).set_index("label")
    assert labels[1].startswith("1e-4 at 69.315: ")
    assert f"{lt.loc['1e-4', 'pass_rate'] * 100:.1f}% pass" in labels[1]
    assert "thresholds vary 69–71.8 (3 values)" in labels[1]
    assert labels[4].startswith("Baidu configured 80") and "too few" in labels[4]
    assert ax.lines[-1].get_linestyle() == ":"
    # A band over each level's range of thresholds (all four vary here: the 2016 row).
    spans = sorted((round(p.get_x(), 3), round(p.get_x() + p.get_width(), 3)) for p in ax.patches
                   if p.get_width() != pytest.approx(1.0))
    assert spans == [(62.169, 65.3), (69.0, 71.8), (74.0, 76.5), (78.038, 79.9)]
    assert "1 without a score" in ax.get_legend().get_texts()[-1].get_text() or any(
        "without a score" in t.get_text() for t in ax.get_legend().get_texts())
    assert ax.get_xlabel().startswith("confidence") and ax.get_title()


def test_plots_draw_on_current_axes_and_never_show(table, monkeypatch):
    monkeypatch.setattr(plt, "show", lambda *a, **k: pytest.fail("plt.show() called"))
    fig, ax = plt.subplots()
    assert P.plot_confidence_thresholds(table) is ax
    assert P.plot_pass_rates(table, freq="D") is not None


def _rgba(fig) -> np.ndarray:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba()).copy()


def test_confidence_thresholds_one_artist_same_picture(table):
    """The report's histogram as one collection: the same pixels, legend and limits as the
    bars (a Rectangle per bin), one artist instead of a hundred."""
    from matplotlib.collections import PolyCollection
    from matplotlib.figure import Figure

    big = table.assign(confidence=np.linspace(5, 99, len(table)))       # bins across the axis
    for t in (table, big):
        figs = []
        for one in (False, True):
            fig = Figure(figsize=(5.0, 3.9), dpi=80)
            ax = fig.subplots()
            P.plot_confidence_thresholds(t, ax=ax, min_n=5, one_artist=one)
            figs.append((fig, ax))
        (f0, a0), (f1, a1) = figs
        assert not a1.containers and len(a1.collections) == 1 and isinstance(a1.collections[0], PolyCollection)
        assert len(a1.patches) == len(a0.patches) - len(a0.containers[0].patches)        # the bands only
        assert [x.get_text() for x in a1.get_legend().get_texts()] == \
            [x.get_text() for x in a0.get_legend().get_texts()]
        assert a1.get_xlim() == a0.get_xlim() and a1.get_ylim() == a0.get_ylim()
        assert (_rgba(f1) == _rgba(f0)).all()


def test_margins_plot(table):
    c = table[table["source"] == "megvii_lite"]
    ax = P.plot_margins(c, level="1e-4", to="1e-5", binwidth=0.5)
    hist = A.margin_histogram(c, "1e-4", binwidth=0.5)
    bars = ax.containers[0].patches
    assert [b.get_height() for b in bars] == hist["count"].tolist()
    assert [b.get_x() for b in bars] == hist["bin_left"].tolist()
    s = A.would_flip_summary(c, "1e-4", "1e-5").iloc[0]
    assert [x for x, _ in vlines(ax)] == [0.0, pytest.approx(s["cut_shift"])]
    assert f"{int(s['to_reject'])} comparisons" in ax.get_title()


def test_pass_rates_plot_lines_and_low_n(table):
    c = table[table["source"] == "megvii_lite"]
    ax = P.plot_pass_rates(c, freq="D", min_n=4)
    r = A.pass_rates(c, freq="D", min_n=4)
    lines = {ln.get_label().split(" ")[0]: ln for ln in ax.lines}
    assert set(lines) == {"1e-3", "1e-4", "1e-5", "1e-6"}
    exp = r[r["level"] == "1e-4"]
    y = lines["1e-4"].get_ydata()
    want = np.where(exp["low_n"], np.nan, exp["pass_rate"] * 100)
    assert np.allclose(y, want, equal_nan=True)
    assert np.isnan(y).sum() == exp["low_n"].sum() >= 1           # 2016's single row: not a rate
    assert "not shown" in lines["1e-4"].get_label()
    # A pass_rates result is drawn as given.
    ax2 = plt.figure().gca()
    P.plot_pass_rates(A.pass_rates(c), ax=ax2)
    assert len(ax2.lines) >= 1
    with pytest.raises(ValueError):
        P.plot_pass_rates(A.pass_rates(c, by="source", freq="D").assign(source=["a", "b"] * 10 + ["a"] * (
            len(A.pass_rates(c, by="source", freq="D")) - 20)))


def test_genuineness_plot():
    g = _genuineness()
    ax = P.plot_genuineness(g, binwidth=0.1)
    hist = A.genuineness_histogram(g, binwidth=0.1)
    stairs = [p for p in ax.patches if isinstance(p, matplotlib.patches.StepPatch)]
    assert len(stairs) == 3
    for st, (attack, h) in zip(stairs, hist.groupby("attack", sort=True)):
        assert st.get_data().values.tolist() == h["count"].tolist()
        assert st.get_label().startswith(attack)
    lines = vlines(ax)
    assert [x for x, _ in lines] == [0.5, 0.7, 0.4]               # mask, screen_replay, synthetic_face (mode; tie -> smaller)
    labels = [s.get_label() for s in stairs]
    assert "no threshold" not in labels[0]
    assert "flagged" in labels[1] or "too few" in labels[1]


def test_error_codes_pareto(monkeypatch):
    monkeypatch.setattr(_fonts, "cjk_font", lambda: None)
    monkeypatch.setattr(_fonts, "_warned", True)
    e = A.error_codes(_sessions(), _verify_errors(), _error_counts(), _attempts())
    ax = P.plot_error_codes(e, top=5)
    bars = ax.containers[0].patches
    widths = [b.get_width() for b in bars]
    assert widths[:5] == e["count"].head(5).tolist()
    assert widths[5] == e["count"].iloc[5:].sum()               # "other"
    ys = [b.get_y() for b in bars]
    assert ys == sorted(ys, reverse=True)                          # largest at the top
    twin = [a for a in ax.figure.axes if a is not ax][0]
    head = e.head(5)
    origins = list(dict.fromkeys(head["origin"]))           # one cumulative line per origin, through its bars
    assert len(twin.lines) == len(origins)
    for line, o in zip(twin.lines, origins):
        assert np.allclose(line.get_xdata(), head.loc[head["origin"] == o, "cumulative_share"] * 100), o
    texts = [t.get_text() for t in ax.texts]
    assert texts[0].strip().startswith(f"{e['count'].iloc[0]} (") and "%" in texts[0]
    # Colour says billing: NO_FACE_FOUND is billed.
    ticks = [t.get_text() for t in ax.get_yticklabels()]
    assert ticks[-1].startswith("other (")


def test_error_codes_from_a_raw_table():
    ax = P.plot_error_codes(_verify_errors())
    assert sorted(b.get_width() for b in ax.containers[0].patches) == [1, 1, 1]


def test_chinese_messages_fall_back_to_codes_and_warn_once(monkeypatch):
    monkeypatch.setattr(_fonts, "cjk_font", lambda: None)
    monkeypatch.setattr(_fonts, "_warned", False)
    e = A.error_codes(_attempts())
    with pytest.warns(UserWarning, match="CJK"):
        ax = P.plot_error_codes(e)
    ticks = [t.get_text() for t in ax.get_yticklabels()]
    assert all(not _fonts.has_cjk(t) for t in ticks)
    assert any(t.startswith("222380") for t in ticks)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        P.plot_error_codes(e, ax=plt.figure().gca())              # no second warning


def test_chinese_messages_use_a_cjk_font_when_installed(monkeypatch):
    monkeypatch.setattr(_fonts, "cjk_font", lambda: "DejaVu Sans")
    ax = P.plot_error_codes(A.error_codes(_attempts()))
    ticks = {t.get_text(): t for t in ax.get_yticklabels()}
    cn = [t for name, t in ticks.items() if "活体检测未通过" in name]
    assert cn and cn[0].get_fontfamily()[0] == "DejaVu Sans"


def test_status_funnel_plot():
    ax = P.plot_status_funnel(_sessions())
    f = A.status_funnel(_sessions())
    bars = ax.containers[0].patches
    assert [b.get_width() for b in bars] == f["count"].tolist()
    assert [t.get_text().split(" ")[0] for t in ax.get_yticklabels()] == f["status"].tolist()


def test_drift_plot():
    base = comparisons([("megvii_lite", f"a{i}", "2026-01-05", "faceid", 80.0 if i < 48 else 60.0, NEW)
                        for i in range(80)])
    cur = comparisons([("megvii_lite", f"b{i}", "2026-02-05", "faceid", 80.0 if i < 56 else 60.0, NEW)
                       for i in range(70)])
    ax = P.plot_drift(base, cur)
    d = A.pass_rate_drift(base, cur)
    assert np.allclose(ax.lines[0].get_ydata(), d["change"] * 100)
    assert "PSI" in ax.get_title()
    assert [t.get_text().split("\n")[0] for t in ax.get_xticklabels()] == [
        lv + (" *" if s else "") for lv, s in zip(d["level"], d["significant"])]


def test_det_plot():
    c, labels = _labelled()
    r = A.error_rates(c, labels)
    ax = P.plot_det(r)
    x, y = probit(r["far"].to_numpy()), probit(r["frr"].to_numpy())
    ok = np.isfinite(x) & np.isfinite(y)
    assert np.allclose(ax.lines[0].get_xdata(), x[ok]) and np.allclose(ax.lines[0].get_ydata(), y[ok])
    e = A.equal_error_rate(r).iloc[0]
    assert ax.lines[1].get_xdata()[0] == pytest.approx(probit(np.array([e["eer"]]))[0])
    assert "EER" in ax.lines[1].get_label()
    assert all(t.get_text().endswith("%") for t in ax.get_xticklabels())


def test_import_stays_light():
    code = ("import sys, faceanalytics as fa; assert 'pandas' not in sys.modules; "
            "fa.pass_rates; fa.plot_confidence_thresholds; assert 'matplotlib' not in sys.modules; "
            "import faceanalytics.analytics; assert 'matplotlib' not in sys.modules; print('ok')")
    assert_prints_ok(code)


def test_public_names_are_exported():
    for name in ("pass_rates", "error_rates", "plot_confidence_thresholds", "plot_genuineness",
                 "plot_error_codes", "plot_pass_rates", "plot_det", "would_flip", "error_codes"):
        assert callable(getattr(fa, name)) and name in fa.__all__


def test_a_message_with_dollar_signs_is_drawn_as_text():
    """A provider's message is not TeX: '$\\frac{1}{$' failed the whole figure at draw time."""
    e = _verify_errors().assign(error_message="timeout $\\frac{1}{$ and $x$")
    ax = P.plot_error_codes(e)
    ax.figure.canvas.draw()                                    # TeX was parsed here
    ticks = [t.get_text() for t in ax.get_yticklabels()]
    assert any("\\$\\frac{1}{\\$" in t for t in ticks)
