"""Documented numbers sent as text: a JSON number in quotes is written bare and read typed
with the chunk's other rows (one group); any other text keeps the quoted route.  Both land
as the Python path lands them."""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest

from faceanalytics.flatten._fast import _offsets, _texty_pattern, _unquote_numbers, parse_chunk

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
import gen_records  # noqa: E402
from test_fast_path import _assert_same_tables, _both  # noqa: E402

# What ``_coerce.num`` and Arrow's typed reader read alike: written bare.  Some are out of
# a field's range or not whole where an integer is documented: those rows are the Python
# path's either way (it reads the line as it came).
ACCEPTED = ["12", "0", "-0", "0.5", "-3.25", "1e-05", "1E5", "2.5e+1", "81.193", "1760000037",
            "12345678901234567890"]
# Text that is not a bare JSON number Arrow reads as ``num`` does: the row keeps its route.
REJECTED = [" 12", "12 ", "NaN", "0x10", "", "1e400", "+1", "01", ".5", "1.", "Infinity", "1,5",
            "null", "1_000", "١٢"]

# (where in a Lite envelope, the kind the spec gives it)
PLACES = [
    (("payload", "time_used"), "int"),
    (("payload", "verify_result", "result_faceid", "confidence"), "conf"),
    (("payload", "verify_result", "result_faceid", "thresholds", "1e-3"), "conf"),
    (("payload", "verify_result", "verify_time"), "epoch"),
    (("payload", "liveness_result", "details", "UPDOWN_FACE"), "int"),
    (("payload", "liveness_result", "face_genuineness", "mask_confidence"), "gen"),
    (("http_status",), "envelope"),
]


def _set(rec: dict, path: tuple, value) -> bool:
    node = rec
    for k in path[:-1]:
        node = node.get(k)
        if not isinstance(node, dict):
            return False
    if path[-1] not in node and len(path) > 1 and path[-2] not in ("details", "thresholds"):
        return False
    node[path[-1]] = value
    return True


def _records(n: int) -> list[dict]:
    """Lite envelopes with a verify and a liveness result, none sending a number as text
    (the generator stringifies some): the rows made texty below are the chunk's only ones."""
    texty = re.compile(_texty_pattern("megvii_lite"))
    recs = [r for r in gen_records.records("megvii_lite", 3 * n, seed=5)
            if isinstance(r["payload"].get("verify_result"), dict)
            and isinstance(r["payload"].get("liveness_result"), dict)
            and not texty.search(json.dumps(r, ensure_ascii=False))]
    assert len(recs) >= n
    return recs[:n]


def _texty_chunk(forms: list[str], every: int = 3):
    """128 Lite envelopes; every ``every``-th sends one of ``forms`` as text in one of
    ``PLACES`` (cycling), the others are as generated.  -> (lines, {row: the form it sends})."""
    recs = _records(128)
    texty = {}
    k = 0
    for i in range(0, len(recs), every):
        path, _ = PLACES[k % len(PLACES)]
        if _set(recs[i], path, forms[k % len(forms)]):
            texty[i] = forms[k % len(forms)]
        k += 1
    assert len(texty) >= 30
    return [json.dumps(r, ensure_ascii=False).encode() for r in recs], texty


def test_numbers_sent_as_json_numbers_in_text_are_read_with_the_typed_rows(tmp_path):
    """Every accepted form in every kind of place: the chunk is read as one group, typed
    (it was two: the texty rows apart, quoted), and lands as the Python path lands it."""
    lines, texty = _texty_chunk(ACCEPTED)
    assert set(texty.values()) == set(ACCEPTED)
    groups = [g for _, g in parse_chunk(lines).groups]
    assert len(groups) == 1
    g, = groups
    assert not g.quoted and sorted(g.index.tolist()) == list(range(len(lines)))
    res = _both(tmp_path, lines)
    (fd, frep), (sd, srep) = res[True], res[False]
    assert (frep.read, frep.landed, frep.quarantined) == (srep.read, srep.landed, srep.quarantined)
    _assert_same_tables([fd, sd])


def test_other_text_keeps_the_quoted_route_and_lands_the_same(tmp_path):
    """Rejected forms beside accepted ones: the rows sending a rejected form are read apart
    (quoted), those sending only accepted forms with the typed rows; both land the same."""
    lines, texty = _texty_chunk(REJECTED + ACCEPTED)
    rejected = {i for i, form in texty.items() if form in REJECTED}
    assert set(texty.values()) == set(REJECTED + ACCEPTED)
    groups = [g for _, g in parse_chunk(lines).groups]
    assert len(groups) == 2
    typed, quoted = groups
    assert not typed.quoted and quoted.quoted
    assert rejected == set(quoted.index.tolist())
    assert set(texty) - rejected <= set(typed.index.tolist())
    res = _both(tmp_path, lines)
    (fd, frep), (sd, srep) = res[True], res[False]
    assert (frep.read, frep.landed, frep.quarantined) == (srep.read, srep.landed, srep.quarantined)
    _assert_same_tables([fd, sd])


def _unquoted(lines: list[bytes], source: str = "megvii_lite", envelope: bool = True):
    """Each line as the typed group reads it (a line still sending a number as text: as it
    came, for the quoted group), and whether it still sends one."""
    buf = b"\n".join(lines)
    got = _unquote_numbers(buf, _offsets(lines), np.ones(len(lines), bool), source, envelope)
    if got is None:  # no line reads typed now
        return list(lines), [True] * len(lines)
    new, nb, still = got
    typed = iter(new[int(nb[i]):int(nb[i + 1]) - 1] for i in range(len(nb) - 1))
    assert len(nb) - 1 == int((~still).sum()) and len(new) == nb[-1] - 1
    return [ln if st else next(typed) for ln, st in zip(lines, still)], still.tolist()


@pytest.mark.parametrize("form", ACCEPTED)
def test_an_accepted_form_is_written_bare_and_nothing_else_changes(form):
    line = ('{"source":"megvii_lite","http_status":"%s","payload":{"time_used":"%s","verify_result":'
            '{"result_faceid":{"confidence": "%s" ,"thresholds":{"1e-3":"%s","1e-4":"%s"}}}}}'
            % ((form,) * 5)).encode()
    (got,), (still,) = _unquoted([line])
    assert got == line.replace(f'"{form}"'.encode(), f" {form} ".encode())  # same length
    assert json.loads(got)["payload"]["time_used"] == json.loads(form)
    assert not still


@pytest.mark.parametrize("form", REJECTED)
def test_a_rejected_form_is_left_as_it_came(form):
    """...and so is the rest of its row (the row keeps its route), not the rows beside it."""
    line = ('{"source":"megvii_lite","payload":{"time_used":"%s","liveness_result":{"details":'
            '{"UPDOWN_FACE":"12"}}}}' % form).encode()
    other = b'{"source":"megvii_lite","payload":{"time_used":"12"}}'
    for rows, texty in (([line, other, line], [True, False, True]), ([other, line], [False, True]),
                        ([line, other], [True, False])):
        got, still = _unquoted(rows)
        assert got == [r if t else other.replace(b'"12"', b" 12 ") for r, t in zip(rows, texty)]
        assert still == texty


@pytest.mark.parametrize("line", [
    # inside JSON text (escaped quotes): a callback's data, an object sent as text
    rb'{"source":"megvii_lite","payload":{"biz_extra_data":"{\"time_used\":\"12\"}","time_used":"x"}}',
    # a key that is text in a payload, and one the spec does not have as a number
    b'{"source":"megvii_lite","payload":{"status":"12","request_id":"12","time_used":"x"}}',
    # a number followed by what ends no value: the row is not valid JSON, and stays so
    b'{"source":"megvii_lite","payload":{"time_used":"1"e5,"time_used":"x"}}',
    # an item of a list is no key's value
    b'{"source":"megvii_lite","payload":{"time_used":["12"],"mask_confidence":"x"}}',
])
def test_numbers_that_are_no_documented_number_value_are_left_alone(line):
    (got,), _ = _unquoted([line])
    assert got == line


def test_a_callback_s_data_text_and_baidu_rows_are_left_as_they_came():
    notify = (b'{"source":"megvii_notify","http_status":"200","payload":{"data":"{\\"time_used\\":\\"12\\"}",'
              b'"sign":"0"}}')
    (got,), (still,) = _unquoted([notify], "megvii_notify")
    # its data text is left as it came (signed so; its numbers are written bare when the texts
    # are read, test_callbacks_sending_numbers_as_text_are_read_with_the_others), the
    # envelope's number bare
    assert got == notify.replace(b'"200"', b" 200 ") and not still
    bare = notify.replace(b'\\"12\\"', b"12")
    (got,), (still,) = _unquoted([bare], "megvii_notify")
    assert got == bare.replace(b'"200"', b" 200 ") and not still  # the envelope's number only
    baidu = b'{"source":"baidu_detail","http_status":"200","payload":{"result":{"score":"12"}}}'
    (got,), (still,) = _unquoted([baidu], "baidu_detail")
    assert got == baidu and still  # (Baidu notes unknown keys from the lines: untouched)


def test_numbers_side_by_side_are_all_written_bare():
    line = (b'{"source":"megvii_lite","payload":{"liveness_result":{"details":{"UPDOWN_FACE":"1",'
            b'"SIDE_FACE":"2","NO_AUDIO":"3","SR_ERROR":"4","LOGIC":"x"}}}}')
    (got,), _ = _unquoted([line])
    assert got == line.replace(b'"1"', b" 1 ").replace(b'"2"', b" 2 ").replace(b'"3"', b" 3 ").replace(b'"4"', b" 4 ")


def test_a_key_after_an_escaped_quote_is_another_key_and_its_row_the_python_path_s(tmp_path):
    """``"a\\"time_used":"12"`` is the key ``a"time_used``: its number is written bare too
    (the pattern does not look behind the key's quote), and the key, which the spec lacks,
    sends the row to the Python path, which reads the line as it came."""
    lines, texty = _texty_chunk(ACCEPTED)
    odd = sorted(texty)[::4]
    for i in odd:
        rec = json.loads(lines[i])
        rec["payload"]['a"time_used'] = "12"
        rec["payload"]["liveness_result"]["details"]['b"UPDOWN_FACE'] = "3"
        lines[i] = json.dumps(rec, ensure_ascii=False).encode()
    (got,), _ = _unquoted([lines[odd[0]]])
    assert b'"a\\"time_used":  12 ' in got  # (json.dumps writes ": ")
    (_, g), = parse_chunk(lines).groups
    assert not g.quoted and set(odd) <= set(g.index[g.slow].tolist())
    res = _both(tmp_path, lines)
    (fd, frep), (sd, srep) = res[True], res[False]
    assert (frep.read, frep.landed, frep.quarantined) == (srep.read, srep.landed, srep.quarantined)
    _assert_same_tables([fd, sd])


def test_callbacks_sending_numbers_as_text_are_read_with_the_others(tmp_path, monkeypatch):
    """Callbacks whose signed data text sends numbers as text do not split their chunk: it is
    one group, the texts are read typed with those numbers written bare (``rewritten``), and
    the chunk lands as the Python path lands it.  (They were a second group, their texts
    read as text.)"""
    from faceanalytics.flatten._columnar import read_chunk

    monkeypatch.setenv("MEGVII_API_SECRET", gen_records.SECRET)  # signs the callbacks
    lines = gen_records.lines("megvii_notify", 400, seed=3)
    in_text = re.compile(_texty_pattern("megvii_liveness").encode())  # (escaped quotes too)
    texty = [i for i, ln in enumerate(lines) if in_text.search(ln)]
    assert 5 <= len(texty) < len(lines)
    groups = [g for _, g in read_chunk(lines).groups]
    assert len(groups) == 1
    g, = groups
    assert sorted(g.index.tolist()) == list(range(len(lines)))
    sub, rows = g.texts
    assert not sub.quoted and sub.rewritten is not None
    assert set(rows[sub.index[sub.rewritten]].tolist()) == set(texty)
    res = _both(tmp_path, lines)
    (fd, frep), (sd, srep) = res[True], res[False]
    assert (frep.read, frep.landed, frep.quarantined) == (srep.read, srep.landed, srep.quarantined) == (400, 400, 0)
    assert frep.python_path == 0
    _assert_same_tables([fd, sd])
