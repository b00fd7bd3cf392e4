"""Error codes sent as numbers and as text: before a Baidu chunk is read, every bare number
that is the value of an error-code key is written as marked text (``_fast._quote_codes``),
byte for byte as one RE2 pass of the regex below over each line writes it (what the
columnar path did before; its tables are checked against the Python path's in
``test_differential.py``)."""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from faceanalytics.flatten._fast import _code_names, _quote_codes

NAMES = _code_names("baidu_getall")
PATTERN = r'([^\\]")(' + "|".join(n.decode() for n in NAMES) + r')(":\s*)(-?[0-9][0-9.eE+-]*)(\s*[,}\]])'
REPL = "\\1\\2\\3\"" + "\\\\u001f" + "\\4\"\\5"


def _by_regex(lines: list[bytes]) -> tuple[bytes, np.ndarray]:
    """The lines joined with each line's codes quoted by the regex, and the new line bounds."""
    out = pc.replace_substring_regex(pa.array(lines, pa.binary()), pattern=PATTERN, replacement=REPL)
    new = out.to_pylist()
    return b"\n".join(new), np.cumsum([0] + [len(x) + 1 for x in new], dtype=np.int64)


def _quoted(lines: list[bytes]) -> tuple[bytes, np.ndarray]:
    buf = b"\n".join(lines)
    return _quote_codes(buf, np.cumsum([0] + [len(x) + 1 for x in lines], dtype=np.int64), NAMES)


def _same(lines: list[bytes]) -> None:
    want, got = _by_regex(lines), _quoted(lines)
    assert got[0] == want[0]
    assert got[1].tolist() == want[1].tolist()


def test_names_are_the_spec_s_code_keys():
    assert {b"code", b"error_code", b"log_id"} <= set(NAMES)


@pytest.mark.parametrize("lines", [
    [b'{"code":0,"msg":"x"}', b'{"code":"0"}', b'{"error_code": -12 ,"log_id":7}'],
    [b'{"code":1,"error_code":2}'],            # a key right after the comma that ended a match: left bare
    [b'{"a":"\\"code\\":5,"}', b'{"b":"x\\\\"code":6}'],  # an escaped quote, an escaped backslash
    [b'"code":1}', b'{"code":1.5e+3]', b'{"code":5x}', b'{"code":\t5\t}', b'{"code":5', b'}'],
    [b'{"xcode":1,"code_x":2,"risk_level":3}', b'{"code":-}', b'{"code":-0}'],
    [b'{"code":0}'],                           # the buffer ends right after the match
    [b""],
])
def test_codes_are_quoted_as_the_regex_quotes_them(lines):
    _same(lines)


def test_lines_without_a_bare_code_are_the_same_buffer():
    lines = [b'{"code":"0","x":1}', b'{"y":[1,2]}']
    buf, bounds = _quoted(lines)
    assert buf == b"\n".join(lines) and bounds.tolist() == [0, 19, 31]


_ATOMS = [b'"code"', b'"error_code"', b'"log_id"', b'"risk_level"', b'"xcode"', b'"cods"', b'\\"', b'\\\\',
          b":", b": ", b"\t", b"\f", b"\r", b" ", b"0", b"-1", b"12.5e+3", b"-", b"e", b'"0"', b",", b"}",
          b"]", b"{", b"[", b'"', b"x", "中".encode(), b"\n", b"null", b"\x85", b"\xa0"]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(_ATOMS), max_size=40))
def test_any_text_is_quoted_as_the_regex_quotes_it(atoms):
    _same(b"".join(atoms).split(b"\n"))
