"""Personal data written percent-escaped character by character (``%31%31%30…``): an ID or
phone number hidden so from the column screen reached the tidy tables plain; ordinary
escaped text (a date, a word, a time in milliseconds) is left as it is."""
from __future__ import annotations

import json
from urllib.parse import quote

import pyarrow as pa
import pytest

from faceanalytics.pipeline import pii as _pii
from faceanalytics.pipeline.ingest import ingest
from faceanalytics.storage.tables import load

from _helpers import LITE_ID, all_table_text, envelope, escape_every, seed, write_jsonl  # noqa: E402

ID18, PHONE = "11010119900307123X", "13912345678"


_every = escape_every


@pytest.mark.parametrize("text,want", [
    (_every(ID18), "**************123X"),
    (_every(PHONE), "*******5678"),
    (_every("139 1234 5678"), "*******5678"),
    (_every("１３９１２３４５６７８"), "*******5678"),                    # full-width digits, escaped
    (quote(_every(ID18)), "**************123X"),                           # escaped twice (%2531…)
    (f"ch=app&idno={_every(ID18)}", "ch=app&idno=" + "%2A" * 14 + "123X"),   # a value escaped alone stays so
    (f'{{"ch": "app", "m": "{_every(PHONE)}"}}', '{"ch":"app","m":"*******5678"}'),
    (_every(f"ch=app&idno={ID18}"), "ch=app&idno=**************123X"),
    # the % signs escaped too, each character again (%25%33%31...)
    (_every(_every(ID18)), "**************123X"),
    (_every(_every(PHONE)), "*******5678"),
    (_every(_every("139 1234 5678")), "*******5678"),
    (_every(_every(_every(ID18))), "**************123X"),                  # three times
    (_every(_every("１３９１２３４５６７８")), "*******5678"),              # full-width digits
    (f"ch=app&m={_every(_every(PHONE))}", "ch=app&m=" + "%2A" * 7 + "5678"),
])
def test_escaped_numbers_are_masked_in_any_string_column(text, want):
    t = pa.table({"biz_extra_data": [text, "plain", None], "message": ["x", text, None]})
    got = _pii.scrub_table(t)
    assert got.column("biz_extra_data").to_pylist() == [want, "plain", None]
    assert got.column("message").to_pylist() == ["x", want, None]


@pytest.mark.parametrize("text", [
    _every("1700000000123"), _every("2026-11-05"), _every("hello 2024 world"), "q=%E5%BC%A0%E4%B8%89",
    "order%3D2024%26page%3D3", _every("12345678"), "100%25", _every("ref 1101-0119"),
    # escaped twice
    _every(_every("1700000000123")), _every(_every("2026-11-05")), _every(_every("hello 2024 world")),
    "q%3D%25E5%25BC%25A0%25E4%25B8%2589", "100%2525", _every(_every("12345678")), "%2520%2520%2520%2520",
])
def test_ordinary_escaped_text_is_left_as_it_is(text):
    t = pa.table({"biz_extra_data": [text]})
    assert _pii.scrub_table(t).column("biz_extra_data").to_pylist() == [text]


def test_escaped_numbers_never_reach_the_tidy_tables(tmp_path):
    p = seed("megvii_lite_success.json")
    p["biz_info"]["biz_id"] = LITE_ID
    p["biz_info"]["biz_extra_data"] = f"channel=app&idno={_every(ID18)}&m={_every(PHONE)}&t={_every('1700000000123')}"
    p["holder"] = {"memo": _every(ID18), "k": f"tel%3D{_every(PHONE)}"}          # unknown fields: sessions.extra
    data = tmp_path / "d"
    rep = ingest([write_jsonl(tmp_path / "in.jsonl", [envelope("megvii_lite", LITE_ID, p)])], data)
    assert rep.landed == 1
    text = all_table_text(data)
    for hidden in (_every(ID18), _every(PHONE), _every(ID18)[:30], _every(PHONE)[:30]):
        assert hidden not in text
    s = load(data, "sessions").iloc[0]
    assert s["biz_extra_data"] == (f"channel=app&idno={'%2A' * 14}123X&m={'%2A' * 7}5678"
                                   f"&t={_every('1700000000123')}")
    extra = json.loads(s["extra"])
    assert extra["holder"]["memo"] == "**************123X"
    assert PHONE[-4:] in extra["holder"]["k"] and PHONE not in extra["holder"]["k"]
