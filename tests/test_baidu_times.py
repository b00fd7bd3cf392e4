"""Baidu's fast readings checked against the rules they stand for: Beijing times on the
Python path (``cn_time_to_us`` exactly, valid or not, every other form through it), and
the columnar path's reading of the two error forms."""
import random

from faceanalytics._coerce import _cn_time_any as cn_time_to_us  # the rule, every form
from faceanalytics._coerce import cn_time_to_us as _cn_time_us   # what the flatteners call


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


def test_envelope_outcome_column_by_column_is_the_rule_record_by_record():
    """The columnar reading of Baidu's two error forms (``_fast_baidu._outcome``) gives
    what the rule gives one record at a time, for every mix of success, error_code and
    code (absent, 0, another code, empty)."""
    import itertools

    import pyarrow as pa

    from faceanalytics.flatten._fast_baidu import _outcome

    combos = list(itertools.product([None, True, False], [None, "0", "110", ""], [None, "0", "X1", ""]))
    status, error, use_message, ok = _outcome(pa.array([c[0] for c in combos], pa.bool_()),
                                              pa.array([c[1] for c in combos], pa.string()),
                                              pa.array([c[2] for c in combos], pa.string()))
    for i, (success, code, fcode) in enumerate(combos):
        if code not in (None, "0") and not success:
            want = (code, code, False, False)
        elif success is False or (success is None and fcode not in ("0", None)):
            want = (fcode or "FAILED", fcode or "FAILED", True, False)
        else:
            want = ("OK", None, True, True)
        assert (status[i].as_py(), error[i].as_py(), bool(use_message[i]), bool(ok[i])) == want, combos[i]


def test_columnar_times_are_the_python_paths_or_left_to_it():
    """The columnar reading of Beijing times (``_fast._cn_times``) gives
    ``cn_time_to_us`` (in the window) or leaves the value to the Python path: a day, hour,
    minute or second that does not exist (30 February, a 60th second) is not rolled over
    into the next one, as Arrow's strptime does."""
    import pyarrow as pa

    from faceanalytics._coerce import in_window
    from faceanalytics.flatten._fast import _cn_times

    rng = random.Random(2)
    values = ["2023-02-30 10:00:00", "2024-02-29 23:59:60", "2023-6-31 08:00", "2025-10-09 24:00:00",
              "2024-02-29 23:59:59", "2025-10-09 16:55:41", " 2025-10-09 16:55:41 ", None, "", "null"]
    for _ in range(20_000):
        v = (f"{rng.choice([1999, 2020, 2023, 2024, 2025, 2026])}-{rng.randint(0, 13):0{rng.choice([1, 2])}d}"
             f"-{rng.randint(0, 32):0{rng.choice([1, 2])}d}")
        if rng.random() < 0.9:
            v += f"{rng.choice([' ', 'T'])}{rng.randint(0, 25):02d}:{rng.randint(0, 61):02d}"
            if rng.random() < 0.8:
                v += f":{rng.randint(0, 61):02d}"
        values.append(v)
    us, need = _cn_times(pa.array(values, pa.string()))
    need = need.to_pylist() if need is not None else [False] * len(values)
    for v, got, python in zip(values, us.to_pylist(), need):
        if not python:
            want = cn_time_to_us(v) if isinstance(v, str) else None
            assert got == (want if want is not None and in_window(want) else None), v
    assert need[:4] == [True] * 4 and us[5].as_py() == cn_time_to_us("2025-10-09 16:55:41")
