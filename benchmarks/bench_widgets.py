"""Threshold explorer on a million comparisons: build time and time per control change.

    python benchmarks/bench_widgets.py [--rows 1000000] [--changes 50] [--nearest 10]

Synthetic comparisons shaped like the tables: five comparison kinds (Baidu
``faceprint`` rows repeat sessions over attempts), four Megvii threshold sets plus
Baidu's configured threshold, a year of session times (weekly periods), and a
sessions table whose ``procedure_type`` and ``liveness_version`` become segments.

One scripted sequence of ``--changes`` control changes (custom-cut slider moves, levels,
the current level, periods, segments, comparison kinds) is applied to the explorer,
exactly as a notebook user would (``control.value = ...``; ipywidgets runs the
``interactive_output`` function synchronously):

- ours, without drawing: the change, the new counts, flips, nearest rows, HTML and
  figure artists updated;
- ours, with drawing: the same plus rendering the figure to PNG (what the notebook
  shows after each change);
- baseline: the same numbers recomputed with a pandas scan of the rows per change
  (boolean masks on the table, ``nunique`` of flipped sessions, ``nsmallest`` for the
  nearest rows, ``np.histogram`` for the bars).  Every change's numbers are checked
  equal to ours before timing.

The first pass over the sequence is "cold" (it builds the index of each segment
column the first time a segment of it is picked); the medians and maxima below are
over a second, warm pass, with the cold maximum shown beside them.
"""
from __future__ import annotations

import argparse
import contextlib
import gc
import io
import statistics
import time

import numpy as np
import pandas as pd

SETS = np.array([[62.169, 69.315, 74.399, 78.038],
                 [62.169, 69.315, 74.399, np.nan],
                 [64.0, 69.0, 74.0, np.nan],
                 [65.3, 71.8, 76.5, 79.9]])
THR = ("thr_1e3", "thr_1e4", "thr_1e5", "thr_1e6")
DAY_US = 86_400_000_000


def make(n: int, seed: int = 11) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    kinds = np.array(["faceid", "idcard_photo", "ref1", "idcard_datasource", "faceprint"])
    # Megvii: sessions of two rows, faceid and one other kind; Baidu (8%): faceprint, up to
    # three attempts per session.
    other = rng.choice([1, 2, 3], size=n, p=[0.5, 0.25, 0.25])
    kind = np.where(np.arange(n) % 2 == 0, 0, other)
    baidu = rng.random(n) < 0.08
    kind[baidu] = 4
    sess = np.where(baidu, n + rng.integers(0, max(n // 40, 1), n), np.arange(n) // 2)
    genuine = rng.random(n) < 0.93
    conf = np.where(genuine, rng.normal(80, 7, n), rng.normal(45, 12, n))
    conf = np.where(baidu, np.round(np.clip(conf, 0, 100), 4), np.round(np.clip(conf, 0, 100), 3))
    conf[rng.random(n) < 0.001] = np.nan
    t0 = pd.Timestamp("2025-11-01", tz="UTC").value // 1000
    t = t0 + rng.integers(0, 365 * DAY_US, n)
    which = rng.choice(4, size=n, p=[0.85, 0.08, 0.04, 0.03])
    liveness = (sess * 2654435761 % 100) < 15                 # per session, not per row
    source = np.where(baidu, "baidu_getall", np.where(liveness, "megvii_liveness", "megvii_lite"))
    sess = np.where(baidu, sess - n, sess)
    sid = np.char.add(np.where(baidu, "T0EQ", "1789"), np.char.zfill(sess.astype(str), 20))
    df = pd.DataFrame({
        "source": pd.Series(source, dtype="str"),
        "session_id": pd.Series(sid, dtype="str"),
        "session_time": pd.DatetimeIndex(t.astype("datetime64[us]")).tz_localize("UTC"),
        "comparison": pd.Series(kinds[kind], dtype="str"),
        "attempt": pd.array(np.where(baidu, rng.integers(1, 4, n), 1), dtype="Int32"),
        "confidence": conf,
    })
    for i, c in enumerate(THR):
        df[c] = np.where(baidu, np.nan, SETS[which, i])
    df["threshold"] = np.where(baidu, 80.0, np.nan)
    s = df[["source", "session_id"]].drop_duplicates().reset_index(drop=True)
    m = len(s)
    s["procedure_type"] = pd.Series(np.array(["video", "still", "flash", "will"])[rng.integers(0, 4, m)],
                                    dtype="str")
    s["liveness_version"] = pd.Series(np.array(["2.4.0L", "2.4.1L", "2.5.0L"])[rng.integers(0, 3, m)],
                                      dtype="str")
    return df, s


def script(ex, changes: int, seed: int = 5) -> list[tuple[str, object]]:
    """A mix of control changes a reviewer makes, most of them slider moves."""
    rng = np.random.default_rng(seed)
    c = ex.controls
    periods = [v for _, v in c["period"].options][1:]
    segs = [v for _, v in c["segment"].options if v != "all" and v[0] in ("procedure_type", "liveness_version",
                                                                          "threshold_set")]
    now = {name: w.value for name, w in c.items()}
    steps: list[tuple[str, object]] = []

    def add(name, value):
        if now[name] != value:                  # a no-op assignment would not be a change
            steps.append((name, value))
            now[name] = value

    add("level", "custom")
    cycle = ["cut"] * 6 + ["level", "cut", "period", "cut", "segment", "current", "level", "kind"]
    i = 0
    while len(steps) < changes:
        what = cycle[i % len(cycle)]
        i += 1
        if what == "cut":
            add("level", "custom")
            add("cut", float(np.round(rng.uniform(55, 85), 3)))
        elif what == "level":
            add("level", str(rng.choice(["1e-3", "1e-4", "1e-5", "custom"])))
        elif what == "period":
            add("period", periods[int(rng.integers(0, len(periods)))] if rng.random() < 0.7 else "all")
        elif what == "segment":
            add("segment", segs[int(rng.integers(0, len(segs)))] if rng.random() < 0.7 else "all")
        elif what == "current":
            add("current", str(rng.choice(["1e-3", "1e-4", "1e-5"])))
        else:
            add("kind", "idcard_photo" if now["kind"] == "faceid" else "faceid")
    return steps[:changes]


def baseline(df: pd.DataFrame, kind, segment, period, level, cut, current, k: int, edges):
    """The explorer's numbers from a pandas scan of the rows."""
    m = df["comparison"] == kind
    if segment != "all":
        m &= df[segment[0]] == segment[1]
    if period != "all":
        m &= df["period"] == period
    sub = df[m]
    conf = sub["confidence"]
    thr = pd.Series(float(cut), index=sub.index) if level == "custom" else sub[f"thr_{level.replace('-', '')}"]
    cur = sub[f"thr_{current.replace('-', '')}"]
    scope = thr.notna()
    n = int(scope.sum())
    passed = (conf >= thr) & scope
    both = scope & cur.notna()
    p0 = (conf >= cur) & both
    p1 = passed & both
    down, up = p0 & ~p1, ~p0 & p1
    ids = sub["source"] + "/" + sub["session_id"]
    near = sub[scope & conf.notna()].assign(margin=(conf - thr)[scope & conf.notna()])
    near = near.loc[near["margin"].abs().nsmallest(k).index]
    hist = np.histogram(conf.dropna(), bins=edges)[0]
    return {"n": n, "pass": int(passed.sum()), "to_reject": int(down.sum()), "to_pass": int(up.sum()),
            "sessions_to_reject": int(ids[down].nunique()), "sessions_to_pass": int(ids[up].nunique()),
            "pass_current": int(p0.sum()), "nearest": len(near), "hist": hist}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--changes", type=int, default=50)
    ap.add_argument("--nearest", type=int, default=10)
    a = ap.parse_args(argv)

    import matplotlib
    matplotlib.use("Agg")
    from faceanalytics.widgets import threshold_explorer

    t = time.perf_counter()
    df, sessions = make(a.rows)
    print(f"generated {len(df):,} comparison rows, {len(sessions):,} sessions in {time.perf_counter() - t:.1f} s")

    gc.collect()
    t = time.perf_counter()
    ex = threshold_explorer(df, sessions, nearest=a.nearest)
    t_build = time.perf_counter() - t
    c = ex.controls
    steps = script(ex, a.changes)
    quiet = contextlib.redirect_stdout(io.StringIO())   # headless clear_output() writes escape codes

    def run(draw: bool) -> list[float]:
        times = []
        for name, value in steps:
            gc.collect()
            t = time.perf_counter()
            with quiet:
                c[name].value = value
            if draw:
                ex.render_png()
            times.append(time.perf_counter() - t)
        return times

    def reset():
        with quiet:
            c["kind"].value, c["segment"].value, c["period"].value = "faceid", "all", "all"
            c["level"].value, c["current"].value = "1e-4", "1e-4"

    cold = run(False)
    reset()
    warm = run(False)
    reset()
    drawn = run(True)
    reset()

    # Baseline: the same sequence replayed on the rows (period column precomputed once, as a user would).
    joined = ex.engine.table
    week = ((joined["session_time"].array.asi8 // DAY_US + 3) // 7) * 7 - 3
    bdf = joined.assign(period=pd.DatetimeIndex((week * DAY_US).astype("datetime64[us]")).tz_localize("UTC"))
    edges = ex.engine.edges
    base_t, checked = [], 0
    for name, value in steps:
        with quiet:
            c[name].value = value
        sel = (c["kind"].value, c["segment"].value, c["period"].value, c["level"].value, c["cut"].value,
               c["current"].value)
        gc.collect()
        t = time.perf_counter()
        b = baseline(bdf, *sel, a.nearest, edges)
        base_t.append(time.perf_counter() - t)
        st = ex.state()
        ours = {k: st[k] for k in ("n", "pass", "to_reject", "to_pass", "sessions_to_reject",
                                   "sessions_to_pass", "pass_current")}
        assert ours == {k: b[k] for k in ours}, (sel, ours, b)
        assert len(st["nearest"]) == b["nearest"] and np.array_equal(ex._stairs.get_data().values, b["hist"]), sel
        checked += 1

    ms = lambda x: f"{x * 1000:8.1f} ms"          # noqa: E731
    print(f"\nexplorer built in {t_build:.2f} s ({len(df):,} rows; index per segment column on first use)")
    print(f"{checked} control changes checked equal to the pandas baseline "
          f"({sum(1 for s in steps if s[0] == 'cut')} slider moves, the rest levels/periods/segments/kinds)\n")
    slider = [i for i, (name, _) in enumerate(steps) if name == "cut"]
    other = [i for i in range(len(steps)) if i not in set(slider)]
    print(f"{'per control change':<44}{'median':>11}{'max':>11}"
          f"{'slider median':>15}{'other median':>14}")
    rows = [("ours, without drawing", warm), ("ours, with drawing (PNG render)", drawn),
            ("baseline: pandas scan of the rows", base_t)]
    for name, xs in rows:
        print(f"{name:<44}{ms(statistics.median(xs)):>11}{ms(max(xs)):>11}"
              f"{ms(statistics.median([xs[i] for i in slider])):>15}"
              f"{ms(statistics.median([xs[i] for i in other])):>14}")
    print(f"{'ours, cold (first use of segment columns)':<44}{ms(statistics.median(cold)):>11}{ms(max(cold)):>11}")
    print(f"\nspeed-up without drawing, median: {statistics.median(base_t) / statistics.median(warm):.0f}x; "
          f"drawing is {statistics.median(drawn) / statistics.median(warm):.0f}x the computation")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
