"""Explorers, driven as a user drives them: set a control's ``.value``, read what changed.

No Jupyter needed: ipywidgets work headless and ``interactive_output`` runs its function
synchronously on every change.  Small tables have answers known by hand; a random table
is checked against the analytics functions the explorers must agree with.
"""
from __future__ import annotations


import ipywidgets
import numpy as np
import pandas as pd
import pytest

import faceanalytics as fa
from faceanalytics import analytics as A
from faceanalytics import widgets as W
from faceanalytics.analytics import mask_id

from _helpers import assert_prints_ok  # noqa: E402
from test_analytics import NAN4, NEW, OLD, comparisons


def sid(name: str) -> str:
    return f"1772460000,0a1b2c3d-{name}-9f8e"


ROWS = [
    # name, source, time, comparison, confidence, thresholds, Baidu threshold, attempt
    ("s1", "megvii_lite", "2026-03-02 10:00", "faceid", 69.315, NEW, np.nan, 1),   # exactly at 1e-4
    ("s2", "megvii_lite", "2026-03-03 10:00", "faceid", 70.0, OLD, np.nan, 1),     # 70 < 71.8
    ("s3", "megvii_lite", "2026-03-08 23:59", "faceid", 80.0, NEW, np.nan, 1),     # Sunday: week 1
    ("s4", "megvii_lite", "2026-03-09 00:00", "faceid", 60.0, NEW, np.nan, 1),     # Monday: week 2
    ("s5", "megvii_liveness", "2026-03-09 12:00", "faceid", 75.0, NEW[:3] + (np.nan,), np.nan, 1),
    ("s6", "megvii_lite", "2026-03-10 08:00", "faceid", 73.0, NEW, np.nan, 1),
    ("s1", "megvii_lite", "2026-03-02 10:00", "idcard_photo", 79.9, OLD, np.nan, 1),
    ("b1", "baidu_getall", "2026-03-04 09:00", "faceprint", 85.0, NAN4, 80.0, 1),
    ("b1", "baidu_getall", "2026-03-04 09:00", "faceprint", 78.0, NAN4, 80.0, 2),
    ("b1", "baidu_getall", "2026-03-04 09:00", "faceprint", 79.0, NAN4, 80.0, 3),
    ("b2", "baidu_getall", "2026-03-05 09:00", "faceprint", np.nan, NAN4, 80.0, 1),  # no score
]
FULL_IDS = sorted({sid(r[0]) for r in ROWS})
WEEK1, WEEK2 = pd.Timestamp("2026-03-02", tz="UTC"), pd.Timestamp("2026-03-09", tz="UTC")


@pytest.fixture
def table():
    c = comparisons([(r[1], sid(r[0]), r[2], r[3], r[4], r[5], r[6]) for r in ROWS])
    c["attempt"] = pd.array([r[7] for r in ROWS], dtype="Int32")
    return c


@pytest.fixture
def sessions():
    proc = {"s1": "video", "s2": "still", "s3": "video", "s4": "video", "s6": "still"}
    names = ["s1", "s2", "s3", "s4", "s5", "s6", "b1", "b2"]
    src = {r[0]: r[1] for r in ROWS}
    return pd.DataFrame({"source": pd.Series([src[n] for n in names], dtype="str"),
                         "session_id": pd.Series([sid(n) for n in names], dtype="str"),
                         "procedure_type": pd.Series([proc.get(n) for n in names], dtype="str")})


@pytest.fixture
def ex(table, sessions):
    return fa.threshold_explorer(table, sessions, nearest=3)


def counts(e, *keys):
    st = e.state()
    return tuple(st[k] for k in keys)


def line_x(e, gid="cut"):
    (ln,) = [ln for ln in e.ax.lines if ln.get_gid() == gid]
    return float(ln.get_xdata()[0]) if ln.get_visible() else None


# ---------------------------------------------------------------- the widget and its controls

def test_is_a_widget_with_named_controls(ex):
    assert isinstance(ex, ipywidgets.VBox) and isinstance(ex, W.ThresholdExplorer)
    assert fa.threshold_explorer is W.threshold_explorer and fa.genuineness_explorer is W.genuineness_explorer
    c = ex.controls
    assert c["comparison"] is c["kind"]
    assert list(c["comparison"].options) == ["faceid", "faceprint", "idcard_photo"]
    assert c["comparison"].value == "faceid" and c["level"].value == "1e-4" and c["current"].value == "1e-4"
    assert [v for _, v in c["level"].options] == ["1e-3", "1e-4", "1e-5", "1e-6", "configured", "custom"]
    assert [v for _, v in c["period"].options] == ["all", WEEK1, WEEK2]
    assert c["period"].label == "all periods" and c["segment"].label == "all segments"
    # at a level the slider shows that level's (most common) threshold and is not used
    assert c["cut"].disabled and c["cut"].value == 69.315
    assert isinstance(ex.output, ipywidgets.Output)


def test_levels_judge_each_row_at_its_own_threshold(ex):
    st = ex.state()
    assert (st["n"], st["pass"], st["reject"]) == (6, 4, 2)        # s2 (old set) and s4 fail at 1e-4
    assert (st["to_reject"], st["to_pass"]) == (0, 0)
    assert (st["line"], st["line_min"], st["line_max"]) == (69.315, 69.315, 71.8)
    assert line_x(ex) == 69.315 and line_x(ex, "current") == 69.315
    ex.controls["level"].value = "1e-5"
    assert counts(ex, "n", "pass", "to_reject", "to_pass", "sessions_to_reject") == (6, 2, 2, 0, 2)
    assert ex.controls["cut"].value == 74.399 and ex.controls["cut"].disabled
    assert line_x(ex) == 74.399 and (ex.state()["line_min"], ex.state()["line_max"]) == (74.399, 76.5)
    ex.controls["level"].value = "1e-6"                              # s5 has no 1e-6 threshold
    assert counts(ex, "n", "pass", "n_current", "pass_current", "to_reject") == (5, 1, 5, 3, 2)


def test_custom_cut_counts_and_flips(ex):
    c = ex.controls
    c["level"].value = "custom"
    assert not c["cut"].disabled
    c["cut"].value = 72.0
    assert counts(ex, "n", "pass", "reject", "to_reject", "to_pass") == (6, 3, 3, 1, 0)
    assert line_x(ex) == 72.0 and ex.state()["cut"] == 72.0
    c["cut"].value = 70.0                   # s1 (69.315) now fails, s2 (70, failed its 71.8) passes
    assert counts(ex, "pass", "to_reject", "to_pass", "sessions_to_reject", "sessions_to_pass") == (4, 1, 1, 1, 1)
    assert line_x(ex) == 70.0
    assert "4 of 6 pass" in ex.ax.get_title()
    html = ex.counts_html.value
    assert "<b>1</b> pass→reject (1 session)" in html and "<b>1</b> reject→pass (1 session)" in html
    c["current"].value = "1e-3"             # everything but s4 passes at 1e-3
    assert counts(ex, "pass_current", "to_reject", "to_pass") == (5, 1, 0)
    assert line_x(ex, "current") == 62.169


def test_nearest_rows_around_the_cut_are_masked(ex):
    c = ex.controls
    near = ex.nearest                        # at 1e-4: margins s1 0, s2 -1.8, s6 +3.685
    assert near["confidence"].tolist() == [70.0, 69.315, 73.0]
    assert near["threshold"].tolist() == [71.8, 69.315, 69.315]
    assert near["margin"].tolist() == [-1.8, 0.0, 3.685]
    c["level"].value = "custom"
    c["cut"].value = 70.0                    # margins s1 -0.685, s2 0, s6 +3
    near = ex.nearest
    assert near["confidence"].tolist() == [69.315, 70.0, 73.0]
    assert near["margin"].tolist() == [-0.685, 0.0, 3.0]
    assert near["decision"].tolist() == ["reject", "pass", "pass"]
    assert near["current_decision"].tolist() == ["pass", "reject", "pass"]
    assert near["change"].tolist() == ["pass→reject", "reject→pass", ""]
    assert near["session_id"].tolist() == [mask_id(sid(n)) for n in ("s1", "s2", "s6")]
    shown = ex.table_html.value + ex.counts_html.value + near.to_string()
    assert "69.315" in ex.table_html.value and "pass→reject" in ex.table_html.value
    for full in FULL_IDS:
        assert full not in shown and full[4:-4] not in shown


def test_periods_filter(ex):
    c = ex.controls
    c["period"].value = WEEK2                # s4, s5, s6
    assert counts(ex, "n", "pass") == (3, 2)
    assert ex._stairs.get_data().values.sum() == 3
    assert ex.state()["period"] == WEEK2 and "week of 2026-03-09" in ex.counts_html.value
    c["period"].value = WEEK1                # s1, s2 (old set), s3
    assert counts(ex, "n", "pass", "line_min", "line_max") == (3, 2, 69.315, 71.8)
    c["level"].value = "custom"
    c["cut"].value = 70.0
    assert counts(ex, "pass", "to_reject", "to_pass") == (2, 1, 1)
    c["period"].value = "all"
    assert counts(ex, "n", "pass") == (6, 4)


def test_segments_filter(ex):
    c = ex.controls
    opts = [v for _, v in c["segment"].options]
    assert ("source", "megvii_liveness") in opts and ("procedure_type", "video") in opts
    assert ("threshold_set", "65.3/71.8/76.5/79.9") in opts
    c["segment"].value = ("procedure_type", "video")     # joined from sessions: s1, s3, s4
    assert counts(ex, "n", "pass") == (3, 2)
    c["segment"].value = ("threshold_set", "65.3/71.8/76.5/79.9")
    assert counts(ex, "n", "pass", "line") == (1, 0, 71.8)
    c["segment"].value = ("source", "megvii_liveness")    # s5 alone
    st = ex.state()
    assert (st["n"], st["pass"], st["low_n"]) == (1, 1, True)
    assert "too few for a rate" in ex.counts_html.value
    c["segment"].value = ("procedure_type", "(missing)")  # s5 has no procedure
    assert counts(ex, "n") == (1,)


def test_empty_selections_show_a_message(ex, table):
    c = ex.controls
    c["segment"].value = ("source", "megvii_liveness")
    c["period"].value = WEEK1                            # s5 is in week 2
    st = ex.state()
    assert st["n"] == 0 and st["rows"] == 0 and st["message"].startswith("No comparisons in this selection")
    assert "No comparisons in this selection" in ex.counts_html.value and ex.table_html.value == ""
    assert line_x(ex) is None and ex._stairs.get_data().values.sum() == 0
    assert ex.nearest.empty
    c["period"].value = WEEK2
    c["level"].value = "1e-6"                            # s5 has no 1e-6 threshold
    assert "have a 1e-6 threshold" in ex.state()["message"]
    c["level"].value = "custom"
    assert ex.state()["message"] is None and ex.state()["n"] == 1
    empty = fa.threshold_explorer(table.iloc[:0])
    assert empty.state()["message"].startswith("No comparisons")
    empty.controls["level"].value = "custom"
    empty.controls["cut"].value = 50.0
    assert empty.state()["n"] == 0


def test_baidu_kind_uses_the_configured_threshold(ex):
    c = ex.controls
    c["comparison"].value = "faceprint"          # no Megvii level: both rules move to Baidu's configured one
    assert c["level"].value == "configured" and c["current"].value == "configured"
    assert counts(ex, "n", "pass", "reject", "line") == (4, 1, 3, 80.0)   # the row without a score is a rejection
    assert "without a confidence count as reject" in ex.counts_html.value
    c["level"].value = "custom"
    c["cut"].value = 77.0                        # b1's attempts 2 and 3 (78, 79) would pass: one session
    assert counts(ex, "pass", "to_pass", "sessions_to_pass", "to_reject") == (3, 2, 1, 0)
    assert ex.nearest["attempt"].tolist() == [2, 3, 1]


def test_figure_bars_and_lines_follow_the_controls(ex):
    c = ex.controls
    values = ex._stairs.get_data().values
    edges = ex._stairs.get_data().edges
    assert values.sum() == 6 and edges[1] - edges[0] == 0.5
    assert values[np.searchsorted(edges, 69.0)] == 1 and values[np.searchsorted(edges, 69.5)] == 0  # 69.315
    c["level"].value = "custom"
    c["cut"].value = 72.0
    (flip,) = [p for p in ex.ax.patches if p.get_gid() == "flip_zone"]
    assert flip.get_visible() and flip.get_label() == "would flip: 1"
    assert (flip.get_x(), flip.get_x() + flip.get_width()) == pytest.approx((69.315, 72.0))
    labels = [t.get_text() for t in ex.ax.get_legend().get_texts()]
    assert "custom cut: 72" in labels and "current 1e-4: 69.315" in labels
    c["cut"].value = 69.0                        # relabelled in place
    assert "custom cut: 69" in [t.get_text() for t in ex.ax.get_legend().get_texts()]
    c["level"].value = "1e-4"
    (band,) = [p for p in ex.ax.patches if p.get_gid() == "cut_range"]
    assert band.get_visible() and (band.get_x(), band.get_x() + band.get_width()) == pytest.approx((69.315, 71.8))
    png = ex.render_png()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and ex.render_png() is png      # cached until a change
    c["period"].value = WEEK2
    assert ex.render_png() is not png


def test_notebook_shows_the_figure_in_the_output(ex, monkeypatch):
    import IPython.display

    shown = []
    monkeypatch.setattr(W, "_in_kernel", lambda: True)
    monkeypatch.setattr(IPython.display, "display", lambda obj: shown.append(obj))
    ex.controls["level"].value = "custom"
    assert shown and isinstance(shown[-1], IPython.display.Image) and shown[-1].data == ex.render_png()


def test_sessions_with_several_rows_count_once():
    rows = [("baidu_getall", "T0EQAcV27VYaaXZj1Kq", "2026-03-04", "faceprint", x, NAN4, 80.0)
            for x in (79.1, 79.2, 79.3, 85.0)]
    rows.append(("baidu_getall", "IKKL3J4OuXdeOvNdRE", "2026-03-04", "faceprint", 79.5, NAN4, 80.0))
    e = fa.threshold_explorer(comparisons(rows))
    e.controls["level"].value = "custom"
    e.controls["cut"].value = 79.0
    assert counts(e, "to_pass", "sessions_to_pass") == (4, 2)


# ---------------------------------------------------------------- agreement with the analytics

def _random_table(n=3000, seed=3):
    rng = np.random.default_rng(seed)
    sets = np.array([NEW, OLD, NEW[:3] + (np.nan,), (64.0, 69.0, 74.0, np.nan)])
    which = rng.choice(4, n, p=[0.6, 0.2, 0.1, 0.1])
    baidu = rng.random(n) < 0.15
    conf = np.round(rng.normal(72, 9, n).clip(0, 100), 3)
    conf[rng.random(n) < 0.01] = np.nan
    days = rng.integers(0, 40, n)
    rows = []
    for i in range(n):
        b = bool(baidu[i])
        rows.append(("baidu_getall" if b else ("megvii_lite", "megvii_liveness")[i % 2],
                     f"sess-{rng.integers(0, n // 3) if b else i // 2:06d}-xyz",
                     str(pd.Timestamp("2026-02-01") + pd.Timedelta(days=int(days[i]), hours=int(i % 24))),
                     "faceprint" if b else ("faceid", "idcard_photo")[int(rng.integers(0, 2))],
                     conf[i], NAN4 if b else tuple(sets[which[i]]), 80.0 if b else np.nan))
    return comparisons(rows)


def test_numbers_agree_with_the_analytics_functions():
    c = _random_table()
    e = fa.threshold_explorer(c, nearest=5)
    ctl = e.controls
    weeks = [v for _, v in ctl["period"].options][1:]
    cases = [("faceid", "all", "all", "1e-5", None, "1e-4"),
             ("faceid", ("source", "megvii_liveness"), weeks[2], "custom", 71.2, "1e-4"),
             ("idcard_photo", "all", weeks[1], "custom", 65.0, "1e-3"),
             ("idcard_photo", ("source", "megvii_lite"), "all", "1e-3", None, "1e-6"),
             ("faceprint", "all", "all", "custom", 75.5, "configured"),
             ("faceprint", "all", weeks[3], "configured", None, "configured")]
    for kind, seg, period, level, cut, current in cases:
        ctl["comparison"].value = kind
        ctl["segment"].value, ctl["period"].value = seg, period
        ctl["level"].value, ctl["current"].value = level, current
        if cut is not None:
            ctl["cut"].value = cut
        sub = c[c["comparison"] == kind]
        if seg != "all":
            sub = sub[sub[seg[0]] == seg[1]]
        if period != "all":
            sub = sub[(sub["session_time"] >= period) & (sub["session_time"] < period + pd.Timedelta(days=7))]
        st = e.state()
        assert len(sub) > 0 and st["message"] is None
        to = cut if level == "custom" else level
        frm = current if current != "configured" else 80.0          # Baidu's configured threshold is 80 here
        if level == "custom":
            r = A.rates_at_cut(A.confidence_histogram(sub), cut, by=[]).iloc[0]
        elif level == "configured":
            r = A.configured_pass_rates(sub).iloc[0]
        else:
            r = A.pass_rates(sub, levels=[level]).iloc[0]
        assert (st["n"], st["pass"]) == (r["n"], r["passed"]), (kind, seg, period, level)
        to = to if to != "configured" else 80.0
        s = A.would_flip_summary(sub, frm, to).iloc[0]
        got = (st["n_current"], st["to_reject"], st["to_pass"], st["sessions_to_reject"], st["sessions_to_pass"])
        assert got == (s["n"], s["to_reject"], s["to_pass"], s["sessions_to_reject"], s["sessions_to_pass"]), \
            (kind, seg, period, level)
        # nearest: the smallest |margin| of the scored rows, whatever the ties
        if level == "custom":
            thr = np.full(len(sub), float(cut))
        else:
            thr = sub["threshold" if level == "configured" else f"thr_{level.replace('-', '')}"].to_numpy(float)
        m = np.abs(sub["confidence"].to_numpy() - thr)
        m = np.sort(m[~np.isnan(m)])[:5]
        assert np.allclose(np.sort(np.abs(st["nearest"]["margin"].to_numpy())), m)


# ---------------------------------------------------------------- anti-spoofing

@pytest.fixture
def checks():
    rows = [
        ("megvii_lite", "s1", "mask", 0.5, 0.5),          # equal: not flagged
        ("megvii_lite", "s1", "synthetic_face", 0.51, 0.5),
        ("megvii_lite", "s1", "screen_replay", 0.9, 0.7),
        ("megvii_lite", "s2", "mask", 0.47, 0.5),
        ("megvii_lite", "s2", "synthetic_face", 0.1, 0.4),
        ("baidu_getall", "b1", "synthetic_face", 0.3, np.nan),   # Baidu: no threshold
    ]
    return pd.DataFrame({
        "source": pd.Series([r[0] for r in rows], dtype="str"),
        "session_id": pd.Series([sid(r[1]) for r in rows], dtype="str"),
        "session_time": pd.to_datetime(["2026-03-02"] * len(rows), utc=True).as_unit("us"),
        "attack": pd.Series([r[2] for r in rows], dtype="str"),
        "confidence": [r[3] for r in rows], "threshold": [r[4] for r in rows],
    })


def test_genuineness_explorer_flags_above_the_threshold(checks):
    g = fa.genuineness_explorer(checks, nearest=2)
    c = g.controls
    assert isinstance(g, ipywidgets.VBox) and c["attack"] is c["kind"]
    assert list(c["attack"].options) == ["mask", "screen_replay", "synthetic_face"]
    c["attack"].value = "mask"
    assert c["level"].value == "threshold"
    assert counts(g, "n", "flagged", "not_flagged") == (2, 0, 2)       # 0.5 is not above 0.5
    c["level"].value = "custom"
    c["cut"].value = 0.45
    assert counts(g, "n", "flagged", "to_flagged", "to_cleared", "sessions_to_flagged") == (2, 2, 2, 0, 2)
    assert line_x(g) == 0.45 and line_x(g, "current") == 0.5
    c["cut"].value = 0.5
    assert counts(g, "flagged", "to_flagged") == (0, 0)
    c["attack"].value = "synthetic_face"            # 0.51 (threshold 0.5), 0.1 (0.4), Baidu 0.3 (none)
    assert counts(g, "n", "flagged", "n_current", "to_flagged", "to_cleared") == (3, 1, 2, 0, 0)
    c["cut"].value = 0.05                            # the custom cut also judges Baidu's score
    assert counts(g, "n", "flagged", "to_flagged", "to_cleared") == (3, 3, 1, 0)
    c["cut"].value = 0.52
    assert counts(g, "flagged", "to_flagged", "to_cleared") == (0, 0, 1)
    c["level"].value = "threshold"
    assert counts(g, "n", "flagged", "line_min", "line_max") == (2, 1, 0.4, 0.5)
    near = g.nearest
    assert near["decision"].tolist() == ["not flagged", "flagged"] and near["margin"].tolist() == [-0.3, 0.01]
    for full in {sid(n) for n in ("s1", "s2", "b1")}:
        assert full not in g.table_html.value
    assert g.ax.get_yscale() == "log"


# ---------------------------------------------------------------- import cost

def test_importing_the_package_does_not_import_widgets():
    code = ("import sys, faceanalytics as fa; assert 'ipywidgets' not in sys.modules; "
            "assert 'matplotlib' not in sys.modules; fa.threshold_explorer; "
            "assert 'ipywidgets' in sys.modules; print('ok')")
    assert_prints_ok(code)


def test_session_segments_join_like_join_segments(table, sessions):
    from faceanalytics.analytics._segments import join_session_columns as _join_session_columns

    s = pd.concat([sessions, sessions.assign(procedure_type="later duplicate")], ignore_index=True)
    s.loc[len(s)] = ["megvii_lite", "not-in-the-table", "x"]
    want = A.join_segments(table, s, "procedure_type")
    got = _join_session_columns(table, s, ["procedure_type"])
    pd.testing.assert_frame_equal(got, want)


# ---------------------------------------------------------------- a data directory, counted where it lives

import _planted as P  # noqa: E402
from faceanalytics.analytics._index import CutIndex  # noqa: E402

SEGMENTS = ["source", "threshold_set", "channel", "liveness_version"]


@pytest.fixture(scope="module")
def datadir(tmp_path_factory):
    """Four weeks of the sandbox population landed by ingest: Megvii Lite and web liveness, Baidu
    getall and detail (detail repeats getall's latest attempt), ``biz_extra_data`` carrying a
    ``channel`` key as JSON for half the sessions and as ``k=v&`` text for the other half."""
    from faceanalytics.pipeline.ingest import ingest

    d = tmp_path_factory.mktemp("explorer") / "data"
    recs = P.records(3, n_lite=600, n_liveness=150, n_baidu=120, reference_date="2026-04-01", window_days=28,
                     plants=[P.KeyValueExtra(0.5)])
    ingest([P.write(d.parent / "records.jsonl", recs)], d)
    return d


def _states_equal(a, b, what):
    sa, sb = a.state(), b.state()
    na, nb = sa.pop("nearest"), sb.pop("nearest")
    assert sa.keys() == sb.keys(), what
    for k in sa:
        x, y = sa[k], sb[k]
        assert x == y or (isinstance(x, float) and np.isnan(x) and np.isnan(y)), (what, k, x, y)
    pd.testing.assert_frame_equal(na, nb, obj=str(what))


def _set(explorers, **values):
    for e in explorers:
        for name, v in values.items():
            e.controls[name].value = v


def test_data_directory_explorer_equals_the_frame_explorer(datadir):
    d = fa.threshold_explorer(datadir, segments=SEGMENTS, nearest=4)
    f = fa.threshold_explorer(fa.load(datadir, "comparisons"), fa.load(datadir, "sessions"), segments=SEGMENTS,
                              nearest=4)
    assert isinstance(d.model.source, W.DataSource) and isinstance(f.model.source, W.FrameSource)
    for name in ("kind", "segment", "period", "level", "current"):
        assert d.controls[name].options == f.controls[name].options, name
    opts = [v for _, v in d.controls["segment"].options]
    assert {("channel", "app"), ("channel", "h5"), ("channel", "mini"), ("channel", "(missing)")} <= set(opts)
    assert ("liveness_version", "MegLive 2.4.1L") in opts and ("source", "baidu_getall") in opts
    weeks = [v for _, v in d.controls["period"].options][1:]
    assert len(weeks) >= 4
    _states_equal(d, f, "opened")
    rng = np.random.default_rng(1)
    checked = 0
    for kind in ("faceid", "ref1", "faceprint"):
        for seg in ["all", ("channel", "app"), ("channel", "(missing)"), ("liveness_version", "MegLive 2.4.1L"),
                    ("source", "megvii_liveness"), ("threshold_set", "62.169/69.315/74.399/–")]:
            for period in ("all", weeks[1]):
                _set((d, f), kind=kind, segment=seg, period=period)
                _states_equal(d, f, (kind, seg, period, "level"))
                _set((d, f), level="custom", cut=float(np.round(rng.uniform(60, 85), 3)))
                _states_equal(d, f, (kind, seg, period, "custom"))
                _set((d, f), current=[v for _, v in d.controls["current"].options][-1])
                _states_equal(d, f, (kind, seg, period, "current"))
                _set((d, f), level=d.controls["current"].options[0][1], current=d.controls["current"].options[0][1])
                checked += 3
    assert checked == 108
    # Baidu's attempts: a lower cut lets several failed attempts of some sessions pass
    _set((d, f), kind="faceprint", segment="all", period="all", level="custom", cut=60.0, current="configured")
    st = d.state()
    assert st["to_pass"] > st["sessions_to_pass"] > 0
    _states_equal(d, f, "faceprint sessions")


def test_segments_from_biz_extra_data(datadir):
    """A ``biz_extra_data`` key as JSON and as ``k=v&`` text, joined to the comparisons where the
    data lives: the counts of the pandas metrics on the rows of that segment."""
    from faceanalytics.engines._review import Segment
    from faceanalytics.engines._review import segment_values

    s = fa.load(datadir, "sessions")
    assert s["biz_extra_data"].str.startswith("{", na=False).any()
    assert s["biz_extra_data"].str.contains("channel=", na=False).any()
    ch = segment_values(s, Segment("channel", values=("app", "h5", "mini")))
    c = A.join_segments(fa.load(datadir, "comparisons"), s.assign(channel=ch), "channel")
    ex = fa.threshold_explorer(datadir, segments=["channel"])
    assert [v for _, v in ex.controls["segment"].options] == [
        "all", ("channel", "app"), ("channel", "h5"), ("channel", "mini"), ("channel", "(missing)")]
    for value in ("app", "mini", "(missing)"):
        ex.controls["segment"].value = ("channel", value)
        sub = c[(c["comparison"] == "faceid") & (c["channel"].isna() if value == "(missing)" else c["channel"] == value)]
        want = A.pass_rates(sub, levels=["1e-4"]).iloc[0]
        assert len(sub) > 30 and (ex.state()["n"], ex.state()["pass"]) == (want["n"], want["passed"]), value


class _Counting:
    """A DuckDB engine that keeps the SQL it was given."""

    def __init__(self):
        from faceanalytics.engines import DuckDBEngine

        self.engine = DuckDBEngine(memory_limit="1GB")
        self.sql: list[str] = []
        query = self.engine.query

        def counted(sql):
            self.sql.append(sql)
            return query(sql)

        self.engine.query = counted


def test_nearest_rows_are_fetched_by_one_narrow_query(datadir):
    eng = _Counting()
    ex = fa.threshold_explorer(datadir, engine=eng.engine, nearest=5)
    c = A.once_per_attempt(fa.load(datadir, "comparisons"))
    c = c[c["comparison"] == "faceid"]
    ex.controls["level"].value = "custom"
    eng.sql.clear()
    ex.controls["cut"].value = 71.5
    assert len(eng.sql) == 1                      # the histogram is there: only the rows nearest the cut
    sql = eng.sql[0]    # (no GROUP BY but the getall times that place Baidu detail rows: engines._sql.placed)
    assert "BETWEEN" in sql and "LIMIT" not in sql and sql.count("GROUP BY") == sql.count('AS "_placed"')
    near = ex.nearest
    m = np.abs(c["confidence"].to_numpy() - 71.5)
    assert np.allclose(np.sort(np.abs(near["margin"].to_numpy())), np.sort(m[~np.isnan(m)])[:5])
    assert near["margin"].is_monotonic_increasing
    full = set(c["session_id"])
    assert not full & set(near["session_id"]) and near["session_id"].str.contains("…").all()
    eng.sql.clear()
    ex.controls["period"].value = ex.controls["period"].options[2][1]     # a week: its histogram, then its rows
    assert len(eng.sql) == 2 and "GROUP BY" in eng.sql[0]


def test_background_rows_arrive_after_the_counts(datadir):
    bg = fa.threshold_explorer(datadir, nearest=3, background=True)
    fg = fa.threshold_explorer(datadir, nearest=3)
    assert bg.wait(60)
    _states_equal(bg, fg, "opened")
    _set((bg, fg), level="custom", cut=70.25)
    assert bg.state()["n"] == fg.state()["n"] and bg.state()[ "pass"] == fg.state()["pass"]
    assert bg.wait(60)
    _states_equal(bg, fg, "custom")
    assert "nearest the cut" in bg.table_html.value


def test_genuineness_on_a_data_directory_equals_frames(datadir):
    d = fa.genuineness_explorer(datadir, segments=["source", "channel"], nearest=3)
    f = fa.genuineness_explorer(fa.load(datadir, "genuineness"), fa.load(datadir, "sessions"),
                                segments=["source", "channel"], nearest=3)
    assert d.controls["attack"].options == f.controls["attack"].options
    assert d.controls["segment"].options == f.controls["segment"].options
    for attack in d.controls["attack"].options:
        for seg in ("all", ("channel", "h5")):
            _set((d, f), attack=attack, segment=seg, level="threshold")
            _states_equal(d, f, (attack, seg))
            _set((d, f), level="custom", cut=0.3)
            _states_equal(d, f, (attack, seg, "custom"))


def test_pandas_engine_on_a_data_directory(datadir):
    p = fa.threshold_explorer(datadir, engine="pandas", segments=["channel"], nearest=3)
    d = fa.threshold_explorer(datadir, segments=["channel"], nearest=3)
    assert isinstance(p.model.source, W.FrameSource)
    _set((p, d), segment=("channel", "h5"), level="custom", cut=72.0)
    _states_equal(p, d, "pandas engine")


def test_cut_index_counts_like_the_rows():
    """The index answers from the histogram what a scan of the rows answers."""
    rng = np.random.default_rng(7)
    n = 5000
    sets = np.array([[62.169, 69.315], [65.3, 71.8], [64.0, np.nan]])
    which = rng.choice(3, n)
    conf = np.round(rng.normal(70, 6, n), 3)
    conf[rng.random(n) < 0.02] = np.nan
    rows = pd.DataFrame({"thr_1e3": sets[which, 0], "thr_1e4": sets[which, 1], "confidence": conf})
    h = A.confidence_histogram(rows)
    for strict, scope in ((False, True), (True, False)):
        ix = CutIndex.from_histogram(h, ["thr_1e3", "thr_1e4"], strict=strict, missing_in_scope=scope)
        assert ix.rows == n and ix.n_scored == int((~np.isnan(conf)).sum())
        for rule, cur in (("thr_1e4", "thr_1e3"), (70.123, "thr_1e4"), (69.315, 71.8)):
            t1 = rows[rule].to_numpy() if isinstance(rule, str) else np.full(n, rule)
            t0 = rows[cur].to_numpy() if isinstance(cur, str) else np.full(n, cur)
            with np.errstate(invalid="ignore"):
                p1 = (conf > t1) if strict else (conf >= t1)
                p0 = (conf > t0) if strict else (conf >= t0)
            scope1 = ~np.isnan(t1) & (True if scope else ~np.isnan(conf))
            got = ix.counts(ix.cuts(rule))
            assert (got.n, got.positive) == (int(scope1.sum()), int((p1 & scope1).sum()))
            both = scope1 & ~np.isnan(t0)
            fl = ix.flips(ix.cuts(rule), ix.cuts(cur))
            assert (fl.n, fl.positive_current, fl.to_negative, fl.to_positive) == (
                int(both.sum()), int((p0 & both).sum()), int((p0 & ~p1 & both).sum()), int((p1 & ~p0 & both).sum()))
            for k in (1, 7, 50):
                bound, within = ix.nearest_bound(ix.cuts(rule), k)
                m = np.abs(conf - t1)
                m = np.sort(m[~np.isnan(m)])
                assert bound == pytest.approx(m[k - 1]) and within == int((m <= bound + 1e-9).sum())


# ---------------------------------------------------------------- the explorers' words (lang=)

def _visible(e) -> list[str]:
    """Every string the explorer shows: control names and option labels, the two HTML panes'
    text and the figure's texts (title, axis labels, legend)."""
    from test_report_i18n import _Visible

    out = []
    for name, w in e.controls.items():
        out.append(w.description)
        for opt in getattr(w, "options", ()):
            out.append(opt[0] if isinstance(opt, tuple) else str(opt))
    for pane in (e.counts_html, e.table_html):
        p = _Visible()
        p.feed(pane.value)
        out += p.texts
    ax = e.ax
    out += [ax.get_title(), ax.get_xlabel(), ax.get_ylabel()]
    if ax.get_legend() is not None:
        out += [t.get_text() for t in ax.get_legend().get_texts()]
    return [t for t in out if t]


def _walk(e, kinds):
    """Open, then a custom cut, a segment value (and missing), a week, another kind, another
    current level: the texts shown after each step."""
    c = e.controls
    seen = [_visible(e)]
    steps = [("level", "custom"), ("cut", 0.4 if e._spec is W.GENUINENESS else 71.5),
             ("segment", ("channel", "app")), ("segment", ("channel", "(missing)")),
             ("period", c["period"].options[2][1]), ("segment", "all")]
    steps += [("kind", k) for k in kinds] + [("current", c["current"].options[-1][1])]
    for name, value in steps:
        c[name].value = value
        seen.append(_visible(e))
    return [t for texts in seen for t in texts]


def test_every_visible_string_of_the_explorers_comes_from_the_catalogue(datadir):
    """With a pseudo-locale (every message «key‹…›»), no word the explorers show is written in
    the code: what is left after the markers, numbers, dates and the data's own values (kinds,
    segment keys and values, sources, masked ids) has no letter."""
    from faceanalytics import _i18n
    from test_report_i18n import OPEN, PSEUDO, _data_values, _pseudo, _stray_words

    _i18n._register(PSEUDO, _pseudo())
    try:
        t = fa.threshold_explorer(datadir, segments=SEGMENTS, nearest=4, lang=PSEUDO)
        texts = _walk(t, ["faceprint", "ref1"])
        g = fa.genuineness_explorer(datadir, segments=["source", "channel"], nearest=4, lang=PSEUDO)
        texts += _walk(g, [v for _, v in g.controls["attack"].options][1:])
        assert t.nearest is not None and len(t.nearest) and len(g.nearest)
    finally:
        _i18n._unregister(PSEUDO)
    ids = {mask_id(x) for x in fa.load(datadir, "sessions")["session_id"].dropna().unique()}   # shown masked
    values = _data_values(datadir, *SEGMENTS, *ids)
    assert len(texts) > 300
    assert {x: s for x in texts if (s := _stray_words(x, values))} == {}
    joined = "\n".join(texts)
    for key in ("explorer.segment", "explorer.judge_at", "explorer.col.session_id", "explorer.would_flip_text",
                "explorer.word.flagged", "explorer.period_label.W", "explorer.segment_name.threshold_set",
                "explorer.rule.configured", "attack.mask", "explorer.title_rate", "explorer.x_label"):
        assert OPEN + key in joined, key
    # the language is the explorer's, not the caller's: an English explorer next to it stays English
    assert fa.threshold_explorer(datadir, nearest=2).controls["segment"].description == "segment"


def test_explorers_in_chinese(datadir):
    """``lang="zh-CN"``: the labels, the panes and the figure in Chinese (a CJK font on the
    figure's texts), the numbers and control values the same as in English."""
    from faceanalytics._fonts import cjk_font

    zh = fa.threshold_explorer(datadir, segments=["channel"], nearest=3, lang="zh-CN")
    en = fa.threshold_explorer(datadir, segments=["channel"], nearest=3)
    assert [v for _, v in zh.controls["segment"].options] == [v for _, v in en.controls["segment"].options]
    _set((zh, en), level="custom", cut=70.5, segment=("channel", "h5"))
    _states_equal(zh, en, "zh-CN")
    assert zh.controls["segment"].description == "分群" and zh.controls["cut"].description == "判定阈值"
    assert "判定翻转" in zh.counts_html.value and "会话" in zh.table_html.value
    assert "通过" in zh.table_html.value and "pass" not in zh.table_html.value
    assert zh.ax.get_xlabel().startswith("置信度") and "通过" in zh.ax.get_title()
    assert "confidence" in en.ax.get_xlabel()
    if cjk_font() is not None:
        assert cjk_font() in zh.ax.title.get_fontfamily()
    g = fa.genuineness_explorer(datadir, nearest=3, lang="zh")
    assert {label for label, _ in g.controls["attack"].options} >= {"面具"}
    assert g.controls["attack"].description == "活体攻击类型"
    with pytest.raises(ValueError, match="zh-CN"):
        fa.threshold_explorer(datadir, lang="fr")


def test_percent_encoded_segment_values_read_decoded_in_the_choice(table, sessions):
    """A ``k=v`` segment's values are often percent-encoded: the option reads as the review
    shows it (``视频``, not ``%E8%A7%86%E9%A2%91``); the choice is still the stored value, and
    two stored values that decode alike read apart."""
    enc = {"video": "%E8%A7%86%E9%A2%91", "still": "still"}
    s = sessions.assign(procedure_type=sessions["procedure_type"].map(enc.get).astype("str"))
    s.loc[s.index[-3], "procedure_type"] = "sti%6Cl"          # s6: "still", written another way
    ex = fa.threshold_explorer(table, s, nearest=3)
    opts = dict((v, label) for label, v in ex.controls["segment"].options)
    assert "视频" in opts[("procedure_type", "%E8%A7%86%E9%A2%91")]
    assert "%E8" not in opts[("procedure_type", "%E8%A7%86%E9%A2%91")]
    assert opts[("procedure_type", "still")] != opts[("procedure_type", "sti%6Cl")]
    assert "stored as sti%6Cl" in opts[("procedure_type", "sti%6Cl")]
    ex.controls["segment"].value = ("procedure_type", "%E8%A7%86%E9%A2%91")   # s1, s3, s4
    assert counts(ex, "n", "pass") == (3, 2)
