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
