"""Baidu's fast readings checked against the rules they stand for: Beijing times on the
Python path (``cn_time_to_us`` exactly, valid or not, every other form through it)."""
import random

from faceanalytics._coerce import cn_time_to_us
from faceanalytics.flatten.baidu import _cn_time_us


def test_full_form_times_read_as_cn_time_to_us_reads_them():
    rng = random.Random(0)
    for _ in range(50_000):  # days, hours, minutes and seconds in range and out of it
        v = (f"{rng.randint(0, 9999):04d}-{rng.randint(0, 13):02d}-{rng.randint(0, 32):02d} "
             f"{rng.randint(0, 25):02d}:{rng.randint(0, 61):02d}:{rng.randint(0, 61):02d}")
        assert _cn_time_us(v) == cn_time_to_us(v), v


def test_other_forms_and_values_are_cn_time_to_us():
    for v in ["2023-6-20 18:00:00", "2023-06-20T18:00:00", " 2023-06-20 18:00:00 ", "2023-06-20",
              "2023-06-20 18:00", "２０２３-06-20 18:00:00", "2024-02-29 23:59:59", "2023-02-29 00:00:00",
              "2023-06-20 18:00:00\n", "", None, 1687255200, 16872552.5, True, [], "not a time"]:
        assert _cn_time_us(v) == cn_time_to_us(v), v
    assert _cn_time_us("2023-06-20 18:00:00") == cn_time_to_us("2023-06-20 18:00:00") is not None

