"""The Python API misused as an analyst in a notebook would: each case gets a clear
error naming the argument, or the right number; never a silently wrong one or a
traceback from deep inside pandas/numpy."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from faceanalytics import analytics as A

from test_analytics import NEW, comparisons


def _labelled():
    confs = [90.0, 85.0, 80.0, 60.0, 75.0, 50.0]
    rows = [("megvii_lite", f"s{i}", "2026-03-02", "faceid", c, NEW) for i, c in enumerate(confs)]
    labels = pd.DataFrame({"session_id": [f"s{i}" for i in range(len(confs))],
                           "genuine": [True, True, True, True, False, False]})
    return comparisons(rows), labels


@pytest.mark.parametrize("yes,no", [("yes", "no"), ("True", "False"), ("true", "false"),
                                    ("1", "0"), (1, 0), (1.0, 0.0), ("Y", "N")])
def test_genuine_written_as_text_or_numbers_is_read_for_what_it_says(yes, no):
    """``astype(bool)`` took "no" and "False" as True: no impostor, FAR NaN, silently."""
    c, labels = _labelled()
    want = A.error_rates(c, labels, thresholds=[70.0])
    as_text = labels.assign(genuine=[yes if g else no for g in labels["genuine"]])
    got = A.error_rates(c, as_text, thresholds=[70.0])
    pd.testing.assert_frame_equal(got, want)
    assert got.loc[0, "n_impostor"] == 2 and got.loc[0, "far"] == 0.5
    lv = A.error_rates_at_levels(c, as_text)
    assert (lv["n_impostor"] == 2).all()


def test_genuine_with_missing_values_leaves_those_rows_unlabelled():
    c, labels = _labelled()
    text = labels.assign(genuine=pd.Series(["yes", "yes", "yes", None, "no", "no"], dtype=object))
    got = A.error_rates(c, text, thresholds=[70.0])
    assert (got.loc[0, "n_genuine"], got.loc[0, "n_impostor"]) == (3, 2)


@pytest.mark.parametrize("bad", [2, "maybe", "genuine?"])
def test_genuine_neither_yes_nor_no_is_refused(bad):
    c, labels = _labelled()
    odd = labels.assign(genuine=pd.Series([True, True, True, True, False, bad], dtype=object))
    with pytest.raises(ValueError, match="genuine"):
        A.error_rates(c, odd)


def test_rows_carrying_genuine_as_text_are_read_too():
    c, labels = _labelled()
    rows = c.assign(genuine=np.where(labels["genuine"], "yes", "no"))
    got = A.error_rates(rows, thresholds=[70.0])
    assert got.loc[0, "n_impostor"] == 2


def test_presentation_attack_rates_read_text_labels():
    g = pd.DataFrame({
        "source": pd.Series(["megvii_lite"] * 4, dtype="str"),
        "session_id": pd.Series(["a", "b", "c", "d"], dtype="str"),
        "session_time": pd.to_datetime(["2026-03-02"] * 4, utc=True),
        "attack": pd.Series(["mask"] * 4, dtype="str"),
        "attempt": pd.array([1] * 4, dtype="Int32"),
        "confidence": [0.9, 0.1, 0.8, 0.2], "threshold": [0.5] * 4,
        "flagged": pd.array([True, False, True, False], dtype="boolean"),
    })
    labels = pd.DataFrame({"session_id": ["a", "b", "c", "d"], "genuine": [True, True, False, False]})
    want = A.presentation_attack_rates(g, labels)
    got = A.presentation_attack_rates(g, labels.assign(genuine=["yes", "yes", "no", "no"]))
    pd.testing.assert_frame_equal(got, want)
    assert (got["n"] > 0).all()


# ---------------------------------------------------------------- levels as an analyst writes them

@pytest.fixture
def megvii():
    return comparisons([
        ("megvii_lite", "s1", "2026-03-02", "faceid", 70.0, NEW),      # passes 1e-4 (69.315), not 1e-5
        ("megvii_lite", "s2", "2026-03-03", "faceid", 80.0, NEW),      # passes both
        ("megvii_lite", "s3", "2026-03-04", "faceid", 60.0, NEW),      # fails both
    ])


@pytest.mark.parametrize("levels", ["1e-4", 1e-4, ["0.0001"], ["1E-04"], [1e-4], np.float64(1e-4)])
def test_one_level_or_a_level_written_as_a_number_names_the_level(megvii, levels):
    """``levels="1e-4"`` was iterated into "1", "e", …; ``1e-4``/"0.0001" were refused."""
    want = A.pass_rates(megvii, levels=["1e-4"])
    pd.testing.assert_frame_equal(A.pass_rates(megvii, levels=levels), want)
    assert list(want["level"]) == ["1e-4"] and want.loc[0, "passed"] == 2
    c, labels = _labelled()
    assert list(A.error_rates_at_levels(c, labels, levels=levels)["level"]) == ["1e-4"]
    hist = A.confidence_histogram(megvii)
    pd.testing.assert_frame_equal(A.pass_rates_from_histogram(hist, levels=levels), want)
    assert list(A.pass_rate_drift(megvii, megvii, levels=levels)["level"]) == ["1e-4"]


@pytest.mark.parametrize("bad", ["faceid=1e-5", "1e-9", ["1e-4", "x"], 0.5])
def test_unknown_level_is_refused_naming_the_levels(megvii, bad):
    with pytest.raises(ValueError, match="levels are 1e-3, 1e-4, 1e-5, 1e-6"):
        A.pass_rates(megvii, levels=bad)


def test_would_flip_between_levels_written_as_numbers_is_between_the_levels(megvii):
    """``would_flip_summary(c, 1e-4, 1e-5)`` cut at confidence 0.0001 and 0.00001: every
    scored row passed both, 0 flips, silently."""
    want = A.would_flip_summary(megvii, "1e-4", "1e-5")
    got = A.would_flip_summary(megvii, 1e-4, 1e-5)
    pd.testing.assert_frame_equal(got, want)
    assert got.loc[0, "to_reject"] == 1 and (got.loc[0, "from"], got.loc[0, "to"]) == ("1e-4", "1e-5")
    assert len(A.would_flip(megvii, 1e-4, "0.00001")) == 1
    pd.testing.assert_frame_equal(A.margins(megvii, 1e-4), A.margins(megvii, "1e-4"))


def test_would_flip_to_a_global_cut_still_works(megvii):
    got = A.would_flip_summary(megvii, "1e-4", 75)
    assert got.loc[0, "to"] == "75" and got.loc[0, "to_reject"] == 1


@pytest.mark.parametrize("bad,err", [(0.8, ValueError), (float("nan"), ValueError), (None, TypeError),
                                     ("80", ValueError), ([1, 2], TypeError)])
def test_would_flip_refuses_a_cut_that_is_not_one(megvii, bad, err):
    """0.8 (a share, not a 0-100 confidence) passed every row; NaN passed none."""
    with pytest.raises(err, match="to"):
        A.would_flip_summary(megvii, "1e-4", bad)


# ---------------------------------------------------------------- not a table

@pytest.mark.parametrize("name", ["pass_rates", "configured_pass_rates", "margins", "would_flip",
                                  "would_flip_summary", "threshold_sets", "threshold_eras",
                                  "genuineness_rates", "genuineness_near_threshold", "period_slice",
                                  "confidence_histogram", "status_funnel"])
@pytest.mark.parametrize("arg,hint", [(pd.Series([80.0, 70.0], name="confidence"), "Series"),
                                      ([{"confidence": 80.0}], "DataFrame\\(rows\\)"), (None, "None")])
def test_a_series_a_list_of_dicts_or_none_is_a_type_error_naming_a_table(name, arg, hint):
    """They answered AttributeError: 'Series' object has no attribute 'columns', from pandas."""
    with pytest.raises(TypeError, match=f"needs a table.*{hint}"):
        getattr(A, name)(arg)


def test_labels_as_a_series_is_a_type_error(megvii):
    with pytest.raises(TypeError, match="labels needs a table"):
        A.error_rates(megvii, megvii["session_id"])


def test_threshold_eras_without_the_time_column_names_it(megvii):
    with pytest.raises(KeyError, match="threshold_eras needs column.*session_time"):
        A.threshold_eras(megvii.drop(columns="session_time"))


def test_plot_det_of_a_comparisons_table_says_what_it_needs(megvii):
    pytest.importorskip("matplotlib")
    from faceanalytics.plots import plot_det
    with pytest.raises(KeyError, match="error_rates table"):
        plot_det(megvii)


# ---------------------------------------------------------------- periods and numbers

def test_period_slice_since_after_until_is_refused(megvii):
    """It returned an empty table, as if the period had no data."""
    with pytest.raises(ValueError, match="since .* must not be after until"):
        A.period_slice(megvii, "2026-04-01", "2026-03-01")
    assert len(A.period_slice(megvii, "2026-03-03", "2026-03-03")) == 0      # [t, t): empty, as asked
    assert len(A.period_slice(megvii, "2026-03-03", "2026-03-04")) == 1


@pytest.mark.parametrize("call,match", [
    (lambda c: A.margin_histogram(c, binwidth=0), "binwidth must be more than 0"),
    (lambda c: A.margin_histogram(c, binwidth=-0.5), "binwidth must be more than 0"),
    (lambda c: A.margin_histogram(c, binrange=(5, -5)), "binrange must be"),
    (lambda c: A.would_flip_summary(c, window=-1), "window must be at least 0"),
    (lambda c: A.distribution_drift(c, c, bins=0), "bins must be at least 2"),
    (lambda c: A.distribution_drift(c, c, bins=-3), "bins must be at least 2"),
    (lambda c: A.confidence_distribution(c, binwidth=-1), "binwidth must be more than 0"),
    (lambda c: A.confidence_distribution(c, binwidth=0), "binwidth must be more than 0"),
])
def test_nonsense_bins_and_windows_are_refused(megvii, call, match):
    """They gave one bin holding everything, nothing near the cut or a PSI of 0 (or a numpy
    error from inside): numbers that look like an answer."""
    with pytest.raises(ValueError, match=match):
        call(megvii)


def test_bins_as_a_fraction_is_a_type_error(megvii):
    with pytest.raises(TypeError, match="bins must be a whole number"):
        A.distribution_drift(megvii, megvii, bins=2.5)


def test_genuineness_near_threshold_refuses_a_negative_window():
    g = pd.DataFrame({"source": ["megvii_lite"], "session_id": ["a"], "attack": ["mask"],
                      "confidence": [0.4], "threshold": [0.5]})
    with pytest.raises(ValueError, match="window must be at least 0"):
        A.genuineness_near_threshold(g, window=-0.1)
    assert A.genuineness_near_threshold(g, window=0.2).loc[0, "just_under"] == 1


@pytest.mark.parametrize("call", [
    lambda c: A.margin_histogram(c, binwidth=1e-7),
    lambda c: A.confidence_distribution(c, binwidth=1e-7),
])
def test_a_tiny_binwidth_is_refused_before_allocating(megvii, call):
    """binwidth=1e-7 over the demo's margins asked 6.6 GiB (MemoryError, or the kernel killed)."""
    with pytest.raises(ValueError, match="bins; at most 1,000,000"):
        call(megvii)


# ---------------------------------------------------------------- load, text numbers, by, error_codes

@pytest.fixture
def stored(tmp_path):
    import orjson
    from _helpers import envelope, seed
    from faceanalytics.pipeline.ingest import Ingestor

    p = seed("megvii_liveness_success.json")
    p["biz_id"] = "1700000000,a"
    with Ingestor(tmp_path) as ing:
        ing.ingest_lines([orjson.dumps(envelope("megvii_liveness", "1700000000,a", p,
                                                fetched_at="2026-11-20T09:00:00Z"))])
    return tmp_path


def test_load_columns_unknown_is_named_not_a_damaged_table(stored):
    """columns=["nope"] reached pyarrow and came back as DamagedTable, "not a readable table file"."""
    from faceanalytics.storage.tables import load
    with pytest.raises(ValueError, match="no column.*'nope'.*its columns are source"):
        load(stored, "comparisons", columns=["confidence", "nope"])
    with pytest.raises(ValueError, match="no column.*'nope'"):
        load(stored, "quarantine", columns=["nope"])              # a table with no rows yet
    with pytest.raises(TypeError, match="columns must be a list"):
        load(stored, "comparisons", columns=5)


def test_load_columns_as_one_name_or_a_tuple(stored):
    """A str or a tuple gave pyarrow's "Expected a list or a dict for 'columns'"."""
    from faceanalytics.storage.tables import load
    want = load(stored, "comparisons", columns=["confidence"])
    assert len(want) > 0 and list(want.columns) == ["confidence"]
    pd.testing.assert_frame_equal(load(stored, "comparisons", columns="confidence"), want)
    pd.testing.assert_frame_equal(load(stored, "comparisons", columns=("confidence",)), want)


def test_load_since_after_until_is_refused(stored):
    from faceanalytics.storage.tables import load
    with pytest.raises(ValueError, match="since .* must not be after until"):
        load(stored, "comparisons", since="2027-01-01", until="2026-01-01")


def test_confidence_as_text_that_is_not_a_number_names_the_column(megvii):
    """A deep pandas/pyarrow "could not convert string to float" before."""
    text = megvii.assign(confidence=pd.Series(["70.0", "n/a", "60,5"], dtype="str"))
    with pytest.raises(ValueError, match="column 'confidence' must hold numbers.*2 value"):
        A.pass_rates(text)
    ok = megvii.assign(confidence=megvii["confidence"].astype(str))
    pd.testing.assert_frame_equal(A.pass_rates(ok), A.pass_rates(megvii))


def test_by_that_is_not_a_name_is_a_type_error(megvii):
    with pytest.raises(TypeError, match="by must be a column name"):
        A.pass_rates(megvii, by=5)


def test_rates_at_cut_of_rows_says_it_wants_a_histogram(megvii):
    with pytest.raises(KeyError, match="rates_at_cut \\(a confidence_histogram\\) needs column.*count"):
        A.rates_at_cut(megvii, 80)


def test_error_codes_of_a_list_says_to_pass_the_tables_apart():
    with pytest.raises(TypeError, match="each table as an argument of its own"):
        A.error_codes([pd.DataFrame({"status": ["OK"], "error": [None]})])
    with pytest.raises(TypeError, match="needs a table"):
        A.billing(None)


# ---------------------------------------------------------------- explorers' arguments

@pytest.mark.parametrize("kw,err,match", [
    (dict(binwidth=1e-7), ValueError, "bins across the margins"),      # hung for minutes
    (dict(binwidth=-1), ValueError, "binwidth must be more than 0"),   # a numpy error
    (dict(binwidth=0), ValueError, "binwidth must be more than 0"),    # ignored
    (dict(nearest=-1), ValueError, "nearest must be at least 0"),      # ignored
    (dict(current="1e-9"), ValueError, "current must be one of 1e-3"),  # judged at 1e-4, silently
])
def test_threshold_explorer_refuses_nonsense_before_any_work(megvii, kw, err, match):
    pytest.importorskip("ipywidgets")
    import faceanalytics as fa
    with pytest.raises(err, match=match):
        fa.threshold_explorer(megvii, **kw)


def test_threshold_explorer_current_level_as_a_number(megvii):
    pytest.importorskip("ipywidgets")
    import faceanalytics as fa
    assert fa.threshold_explorer(megvii, current=1e-5).state()["current"] == "1e-5"


@pytest.mark.parametrize("kw,match", [(dict(binwidth=1e-9), "bins across the margins"),
                                      (dict(binwidth=-0.01), "binwidth must be more than 0")])
def test_genuineness_explorer_refuses_nonsense_binwidth(kw, match):
    pytest.importorskip("ipywidgets")
    import faceanalytics as fa
    g = pd.DataFrame({"source": pd.Series(["megvii_lite"], dtype="str"),
                      "session_id": pd.Series(["a"], dtype="str"),
                      "session_time": pd.to_datetime(["2026-03-02"], utc=True).as_unit("us"),
                      "attack": pd.Series(["mask"], dtype="str"), "attempt": pd.array([1], dtype="Int32"),
                      "confidence": [0.4], "threshold": [0.5], "flagged": pd.array([False], dtype="boolean")})
    with pytest.raises(ValueError, match=match):
        fa.genuineness_explorer(g, **kw)


def test_times_as_text_iso_are_read_and_others_refused(megvii):
    """"yesterday" failed deep in pandas; "02/03/2026" (2 March, day first) was read as
    3 February, silently moving rows to another period."""
    want = A.pass_rates(megvii, freq="D")
    iso = megvii.assign(session_time=megvii["session_time"].dt.strftime("%Y-%m-%dT%H:%M:%SZ"))
    pd.testing.assert_frame_equal(A.pass_rates(iso, freq="D"), want)
    for bad in ("yesterday", "2026-13-01"):
        with pytest.raises(ValueError, match="column 'session_time' must hold times"):
            A.pass_rates(megvii.assign(session_time=bad), freq="D")
    dayfirst = megvii.assign(session_time=megvii["session_time"].dt.strftime("%d/%m/%Y"))
    with pytest.raises(ValueError, match="not guessed"):
        A.pass_rates(dayfirst, freq="D")
