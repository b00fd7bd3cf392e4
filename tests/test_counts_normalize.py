"""normalize(): one factorization per key for the grouping and the order gives what a
groupby then a sort_values gave (the reference below, the code it replaced)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from faceanalytics.report._counts import _BOOL, _FLOAT, _INT, _NULLABLE_INT, normalize


def _reference(frame):
    if frame is None or frame.empty:
        return None
    f = frame.copy()
    for col in f.columns:
        if col in _INT:
            f[col] = f[col].fillna(0).astype("int64")
        elif col in _NULLABLE_INT:
            f[col] = f[col].astype("Int64")
        elif col in _FLOAT:
            f[col] = f[col].astype("float64")
        elif col in _BOOL:
            f[col] = f[col].astype("boolean")
        else:
            f[col] = f[col].astype("str")
    keys = [c for c in f.columns if c != "n"]
    if "n" in f.columns:
        f = f.groupby(keys, dropna=False, sort=False).agg(n=("n", "sum")).reset_index() if len(keys) else f
        f["n"] = f["n"].astype("int64")
        f = f[f["n"] > 0]
    return f.sort_values(keys, kind="stable", na_position="last").reset_index(drop=True)


def _frame(rng, rows: int, *, with_n: bool = True, wide: int = 0) -> pd.DataFrame:
    """Count rows with repeated keys and missing values in every kind of key column."""
    def pick(values, dtype):
        v = pd.array(rng.choice(np.array(values, dtype=object), rows), dtype=dtype)
        return v
    f = pd.DataFrame({
        "source": pick(["megvii_lite", "baidu_detail", "baidu_getall", None, "Z", "é", "刷脸"], "str"),
        "day": pick([20300, 20301, 20299, None], "Int64"),
        "thr_1e4": pick([69.315, 71.0, np.nan, -0.0, 0.0], "float64"),
        "bits": pick([0, 3, 31, None], "Int32"),
        "bin": pick([None, 5, 700, -1], "Int64"),
        "late": pick([True, False, None], "boolean"),
        "error": pick(["E1", "", None, "e1", "E10", "E2"], "str"),
    })
    for i in range(wide):           # enough distinct values over enough keys to pass 2**62 combined
        f[f"k{i}"] = pick([f"v{j:03d}" for j in range(997)] + [None], "str")
    if with_n:
        f.insert(2, "n", rng.integers(-2, 50, rows))         # n in the middle: the result puts it last
    return f


@pytest.mark.parametrize("seed", range(6))
def test_normalize_as_groupby_then_sort(seed):
    rng = np.random.default_rng(seed)
    for f in (_frame(rng, 3000), _frame(rng, 400, with_n=False), _frame(rng, 2000, wide=8),
              _frame(rng, 1), _frame(rng, 50).iloc[::-1]):
        got, want = normalize(f), _reference(f)
        pd.testing.assert_frame_equal(got, want, check_exact=True)


def test_normalize_edges():
    assert normalize(None) is None and normalize(pd.DataFrame({"n": []})) is None
    f = pd.DataFrame({"source": ["b", "a", "b", "a"], "n": [0, 2, 0, -1]})      # sums of 0 or less go
    pd.testing.assert_frame_equal(normalize(f), _reference(f), check_exact=True)
    assert normalize(f).to_dict("list") == {"source": ["a"], "n": [1]}
