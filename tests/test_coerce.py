"""Reading the value shapes providers send (``faceanalytics._coerce``): every documented
number, boolean and null form reads as itself; nothing is invented."""
from __future__ import annotations

import math

import pytest

from faceanalytics._coerce import (
    TIME_MAX_US, TIME_MIN_US, Unreadable, boolean, check_time, cn_time_to_us, epoch_checked,
    epoch_to_us, integer, is_nullish, iso_to_us, non_finite, num, num_strict, text,
)

# The documents' confidences and thresholds arrive as JSON numbers (75.53, 62.169), as text
# ("75.53"), in exponent form (thresholds keyed "1e-4"; values such as 7.5e1), as integers.
NUMBERS = [
    (75.53, 75.53), (62, 62.0), (0, 0.0), (-1.5, -1.5),
    ("75.53", 75.53), (" 75.53 ", 75.53), ("62", 62.0), ("7.553e1", 75.53), ("1e-4", 1e-4),
    ("0.0001", 1e-4), ("+3", 3.0), ("-0", 0.0),
]
NULLS = [None, "", " ", "null", "NULL", "None", "nil"]
NOT_NUMBERS = ["abc", "75,53", "1.2.3", "七十五"]
NOT_FINITE = [math.nan, math.inf, -math.inf, "NaN", "inf", "-Infinity", "1e999"]


@pytest.mark.parametrize("value, expected", NUMBERS)
def test_each_documented_number_form_reads_as_its_value(value, expected):
    assert num(value) == pytest.approx(expected)
    assert num_strict(value, "confidence") == pytest.approx(expected)


@pytest.mark.parametrize("value", NULLS)
def test_null_forms_are_absent_not_zero(value):
    assert is_nullish(value)
    assert num(value) is None and num_strict(value, "confidence") is None
    assert integer(value) is None and text(value) is None and boolean(value) is None


@pytest.mark.parametrize("value", NOT_NUMBERS + [True, [1], {"v": 1}])
def test_what_is_not_a_number_is_none_leniently_and_unreadable_strictly(value):
    assert num(value) is None
    with pytest.raises(Unreadable, match="confidence is not a number"):
        num_strict(value, "confidence")


@pytest.mark.parametrize("value", NOT_FINITE)
def test_nan_and_infinities_are_never_values(value):
    assert non_finite(value)
    assert num(value) is None and num_strict(value, "confidence") is None
    assert integer(value) is None


@pytest.mark.parametrize("value, expected", [
    (3, 3), ("3", 3), (3.0, 3), ("3.0", 3), (" 3 ", 3), (True, 1), (3.5, None), ("3.5", None), ("x", None)])
def test_integers(value, expected):
    assert integer(value) == expected


@pytest.mark.parametrize("value, expected", [
    (True, True), (False, False), (1, True), (0, False), (2, None),
    ("true", True), ("True", True), ("1", True), ("yes", True), ("false", False), ("0", False),
    ("no", False), ("maybe", None), (1.0, None)])
def test_booleans_as_bools_ints_or_strings(value, expected):
    assert boolean(value) is expected


def test_text_from_strings_and_numbers():
    assert text("SUCCESS") == "SUCCESS" and text(18) == "18" and text(0.5) == "0.5"
    assert text(True) == "true" and text({"a": 1}) is None


NOV_20_UTC = 1763632800 * 1_000_000  # 2025-11-20T10:00:00Z


@pytest.mark.parametrize("value", [1763632800, 1763632800.0, "1763632800", 1763632800000, "1763632800000"])
def test_unix_times_in_seconds_or_milliseconds(value):
    assert epoch_to_us(value) == NOV_20_UTC
    assert epoch_checked(value, "verify_time") == NOV_20_UTC


def test_times_outside_the_window_are_refused_not_invented():
    assert epoch_to_us(0) is None and epoch_to_us("soon") is None
    with pytest.raises(Unreadable, match="outside the accepted time window"):
        epoch_checked(1, "verify_time")
    assert epoch_checked("soon", "verify_time") is None  # unreadable text: absent
    assert check_time(TIME_MIN_US, 0, "t") == TIME_MIN_US and check_time(TIME_MAX_US, 0, "t") == TIME_MAX_US
    with pytest.raises(Unreadable, match="2000-01-01 to"):
        check_time(TIME_MAX_US + 1, "far", "t")


def test_iso_and_beijing_times():
    assert iso_to_us("2025-11-20T10:00:00Z") == NOV_20_UTC
    assert iso_to_us("2025-11-20 18:00:00+08:00") == NOV_20_UTC
    assert iso_to_us("2025-11-20T10:00:00") == NOV_20_UTC  # naive: UTC
    assert iso_to_us("yesterday") is None and iso_to_us(1) is None
    # Baidu writes Beijing time (UTC+8), months and days with or without a leading zero
    assert cn_time_to_us("2025-11-20 18:00:00") == NOV_20_UTC
    assert cn_time_to_us("2025-11-20 18:00") == NOV_20_UTC
    assert cn_time_to_us("2023-6-5 08:00:00") == cn_time_to_us("2023-06-05 08:00:00")
    assert cn_time_to_us("2025-02-30 10:00:00") is None and cn_time_to_us(None) is None
