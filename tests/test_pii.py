"""Personal data in tidy tables: masked wherever it sits, by default (issue 13, item 2).

The flatteners mask the documented fields; these tests are about everything else:
unknown fields kept in ``sessions.extra``, what a customer put in ``biz_extra_data``,
the raw text of quarantined records, and ID numbers in other spellings.
"""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from faceanalytics.pipeline import pii as _pii
from faceanalytics.storage.archive import read_segment
from faceanalytics.pipeline.ingest import ingest
from faceanalytics.storage.tables import load

from _helpers import LITE_ID, all_table_text, envelope, seed, write_jsonl  # noqa: E402

ID18 = "110101199003071234"
ID18X = "11010119900307123X"
ID15 = "110101900307123"
PHONE = "13912345678"
NAME = "张三丰"
ADDRESS = "北京市海淀区中关村大街1号"
LANDLINE = "010-62345678"
PLAIN = [ID18, ID18X, ID15, PHONE, NAME, ADDRESS, LANDLINE, "62345678", "1101-0119-9003-0712-34", "110101 19900307 1234",
         "139-1234-5678", "139 1234 5678", "+8613912345678"]
KEPT = ["1700000000123", LITE_ID, "71.5"]  # a ms time, a biz_id, a confidence are not personal


def _payload(biz_id=LITE_ID):
    p = seed("megvii_lite_success.json")
    p["biz_info"]["biz_id"] = biz_id
    p["biz_info"]["biz_extra_data"] = (f"name={NAME}&idcard=ID{ID18}&mobile=139-1234-5678"
                                       f"&ts=1700000000123&addr={ADDRESS}")
    p["verify_result"]["result_faceid"]["confidence"] = 71.5
    # unknown fields, kept in sessions.extra: a holder's name, ID numbers in other spellings
    p["holder"] = {"real_name": NAME, "id_no": int(ID18), "idNumber": "110101 19900307 1234",
                   "contact": {"phone": "+8613912345678", "home_address": ADDRESS, "office_tel": LANDLINE,
                               "telNo": "62345678"},
                   "note": f"old id {ID15}, new id 1101-0119-9003-0712-34, tel 139 1234 5678",
                   "signed_at_ms": 1700000000123, "ref": LITE_ID}
    p["customer_json"] = json.dumps({"姓名": NAME, "id": ID18X, "地址": ADDRESS}, ensure_ascii=False)
    # the holder's name said again in free text of the same document (no name field of the
    # record holds it: only the key it sits under above tells it is a name)
    p["remark"] = f"客户{NAME}本人办理,寄往{ADDRESS}"
    return p


def _lines():
    good = envelope("megvii_lite", LITE_ID, _payload())
    bad = envelope("megvii_lite", "1700000000,bad", _payload("1700000000,bad"))
    bad["payload"]["verify_result"]["result_faceid"]["confidence"] = "not a number"  # quarantined
    broken = (f'{{"source": "megvii_lite", "session_id": "x", "payload": {{"idcard_name": "{NAME}", '
              f'"idcard_number": "{ID18}", "address": "{ADDRESS}", "memo": "{NAME}本人", "tel": {PHONE}')  # not even JSON
    return [good, bad, broken]


def test_no_tidy_table_holds_plain_personal_data_by_default(tmp_path):
    data = tmp_path / "d"
    rep = ingest([write_jsonl(tmp_path / "in.jsonl", _lines())], data)
    assert (rep.landed, rep.quarantined) == (1, 2)
    text = all_table_text(data)
    for plain in PLAIN:
        assert plain not in text, plain
    for kept in KEPT:
        assert kept in text, kept
    s = load(data, "sessions").set_index("session_id")
    extra = json.loads(s.loc[LITE_ID, "extra"])
    assert extra["holder"]["real_name"] == "张**"
    assert extra["remark"] == "客户张**本人办理,寄往北京市***"
    assert extra["holder"]["id_no"] == "**************1234"
    assert extra["holder"]["signed_at_ms"] == 1700000000123 and extra["holder"]["ref"] == LITE_ID
    biz = s.loc[LITE_ID, "biz_extra_data"]
    assert "ts=1700000000123" in biz and "idcard=ID**************1234" in biz
    q = load(data, "quarantine")
    assert len(q) == 2 and all(ID18 not in r and NAME not in r for r in q.raw)
    # the raw archive keeps the original, owner-only
    raw = b"\n".join(ln for seg in (data / "raw").rglob("*.jsonl.zst") for ln in read_segment(seg).lines)
    assert ID18.encode() in raw and NAME.encode() in raw
    assert all(f.stat().st_mode & 0o077 == 0 for f in (data / "raw").rglob("*"))


def test_keep_pii_keeps_todays_behaviour(tmp_path):
    data = tmp_path / "d"
    ingest([write_jsonl(tmp_path / "in.jsonl", _lines())], data, keep_pii=True)
    text = all_table_text(data)
    for plain in (ID18, PHONE, NAME, ADDRESS, "110101 19900307 1234"):
        assert plain in text, plain


def test_cli_masks_by_default_and_keep_pii_keeps(tmp_path):
    path = write_jsonl(tmp_path / "in.jsonl", _lines())
    for flag, present in (([], False), (["--keep-pii"], True)):
        d = tmp_path / ("keep" if flag else "mask")
        r = subprocess.run([sys.executable, "-m", "faceanalytics.cli", "ingest", str(path), "--data", str(d),
                            *flag], capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        assert (ID18 in all_table_text(d)) is present


@pytest.mark.parametrize("text,expected", [
    (f"id {ID18} ok", "id **************1234 ok"),
    (f"ID{ID18X.lower()}", "ID**************123X"),
    ("身份证号:110101 19900307 1234。", "身份证号:**************1234。"),
    (f"old {ID15}", "old ***********7123"),
    (f"电话{PHONE}", "电话*******5678"),
    ("tel: +86 139-1234-5678", "tel: +** ***-****-5678"),     # by its label (a phone-like key)
    ("call +86 139-1234-5678", "call *******5678"),            # by its shape
    ("at 1700000000123 and 1462259748,52b13fb5-8dfb-4537-a62b-a641d5e929f1", None),
    ("uuid 139a4537-1234-5678-9abc-139123456789, x", None),
    ("score 99.123456789012 / 12345678901234567890", None),
    ("region 990101199003071234 is not one", None),
    ("2023-11-14T22:13:20Z", None),
    # landlines with their area code set apart; not a date, a version or a decimal
    ("call 021-6234-5678 or (0755) 1234 5678", "call ***-****-5678 or (****) **** 5678"),
    ("座机010-62345678", "座机***-****5678"),
    ("call 010-623-4567 now", "call ***-***-4567 now"),      # the shortest: ten digits in all
    ("order 2025-10091234, v 010-12, x 0.0000123456789", None),
    # "label: value" in prose
    ("姓名：张三，住址：北京市海淀区中关村大街1号。", "姓名：张*，住址：北京市***。"),
    ("客户姓名:李四 联系电话:62345678", "客户姓名:李* 联系电话:****5678"),
    ("name: Zhang San; status: OK", "name: Z********; status: OK"),
    ("姓名：张三，备注：张三本人办理", "姓名：张*，备注：张*本人办理"),      # said again, unlabelled
    ("name=张三&note=我是张三", "name=张*&note=我是张*"),
    ("error: ID_NUMBER_NAME_NOT_MATCH, file_name: a.jpg, at 10:00:00", None),
    # a k=v text percent-encoded as a whole (biz_extra_data encoded once more): the escape
    # before the number hid it, and the keys, from every pattern
    (f"idno%3D{ID18}%26ch%3Dapp", "idno=**************1234&ch=app"),
    (f"name%3D%E5%BC%A0%E4%B8%89%26tel%3D{PHONE}", "name=%E5%BC%A0*&tel=*******5678"),
    ("https://files.example.com/a%2Fb.jpg?x=1 100% 50%zz", None),
    # right after other letters: an 18-character number whose check digit is right (ISO 7064)
    ("idno110101199003071233&x=1", "idno**************1233&x=1"),
    ("h11010119900307123X", None),                                # its check digit is 3
    (f"token a{ID18}", None),                                     # ID18's check digit is wrong
    # full-width digits: masked, and written back in ASCII digits where masked
    ("身份证号１１０１０１１９９００３０７１２３４，电话１３９１２３４５６７８",
     "身份证号**************1234，电话*******5678"),
    ("订单号２０２６０１０１ 共１２件", None),
])
def test_free_text_values(text, expected):
    assert _pii.scrub_text(text) == (text if expected is None else expected)


def test_a_phone_like_key_masks_any_number_under_it():
    """A landline or a foreign number has no shape of its own; under a key named like a
    phone (``tel``, ``mobilePhone``, ``联系电话``) every digit but the last four goes."""
    doc = json.dumps({"tel": "62345678", "contact": {"mobilePhone": "+1 415 555 0100", "联系电话": 1062345678},
                      "fax": ["(010) 6234-5678"], "is_mobile": True, "mobile_os": "ios 17",
                      "device_model": "iPhone15,2", "hotel": "12345678", "phone_brand": "Mate 60"},
                     ensure_ascii=False)
    out = json.loads(_pii.scrub_text(doc))
    assert out["tel"] == "****5678" and out["fax"] == ["(***) ****-5678"]
    assert out["contact"] == {"mobilePhone": "+* *** *** 0100", "联系电话": "******5678"}
    assert (out["is_mobile"], out["mobile_os"], out["device_model"], out["hotel"], out["phone_brand"]) == \
        (True, "ios 17", "iPhone15,2", "12345678", "Mate 60")
    assert _pii.scrub_text("tel=62345678&n=12345678") == "tel=****5678&n=12345678"


def test_json_and_query_strings_are_masked_by_key_and_value():
    doc = json.dumps({"user": {"fullName": NAME, "address": {"city": "北京", "street": "中关村大街1号"}},
                      "list": [ID18, 5], "n": int(PHONE), "conf": 71.5, "t": 1700000000123},
                     ensure_ascii=False)
    out = json.loads(_pii.scrub_text(doc))
    assert out["user"]["fullName"] == "张**"
    assert out["user"]["address"] == {"city": "北京***", "street": "中关村***"}
    assert out["list"] == ["**************1234", 5] and out["n"] == "*******5678"
    assert (out["conf"], out["t"]) == (71.5, 1700000000123)
    assert _pii.scrub_text("name=%E5%BC%A0%E4%B8%89&x=1") == "name=%E5%BC%A0%2A&x=1"
    inner = json.dumps({"data": json.dumps({"idcard_name": NAME})}, ensure_ascii=False)
    assert NAME not in _pii.scrub_text(inner)
    # JSON that does not parse is still masked by key
    assert NAME not in _pii.scrub_text(f'{{"idcard_name": "{NAME}", "x": [1, 2')
    assert _pii.scrub_text('{"api_name": "result/detail", "plan_name": "H5"}') == \
        '{"api_name": "result/detail", "plan_name": "H5"}'


def test_credentials_and_url_userinfo_never_reach_a_table(tmp_path):
    p = _payload()
    p["will_file"] = {"will_video": "https://alice:pw-s3cret-77@x.megvii.com/v.mp4?api_secret=zz-9876",
                      "will_audio": ""}
    data = tmp_path / "d"
    ingest([write_jsonl(tmp_path / "in.jsonl", [envelope("megvii_lite", LITE_ID, p)])], data)
    text = all_table_text(data)
    assert "pw-s3cret-77" not in text and "zz-9876" not in text
    assert "x.megvii.com/v.mp4" in text


# --- the Masker, one kind of personal data at a time ---------------------------------------

def test_id_numbers_become_a_keyed_hash_and_the_last_four():
    import hashlib

    import pyarrow as pa

    m = _pii.Masker(b"k" * 32)
    h, last4, plain = m.id_number(f"  {ID18X.lower()} ")
    assert (last4, plain) == ("123X", None)
    # keyed BLAKE2b (as the module says), 20 hex characters: same number, same hash; the key matters
    assert h == hashlib.blake2b(ID18X.encode(), key=b"k" * 32, digest_size=10).hexdigest()
    assert m.id_number(ID18X)[0] == h and _pii.Masker(b"q" * 32).id_number(ID18X)[0] != h
    assert m.id_number(int(ID18))[1] == "1234"                          # sent as a number
    assert m.id_number("") == m.id_number(None) == m.id_number(True) == (None, None, None)
    # the columnar path gives the same answers
    hs, l4, pl = m.id_numbers(pa.array([ID18X.lower(), " ", None, ID18]))
    assert hs.to_pylist() == [h, None, None, m.id_number(ID18)[0]]
    assert l4.to_pylist() == ["123X", None, None, "1234"] and pl.null_count == 4
    assert _pii.Masker(b"k" * 32, keep_pii=True).id_number(ID18)[2] == ID18


def test_names_keep_their_first_character_and_addresses_their_first_three():
    import pyarrow as pa

    m = _pii.Masker(b"k" * 32)
    assert m.name(NAME) == "张**" and m.name("Li") == "L*" and m.name("") is None
    assert m.address(ADDRESS) == "北京市***" and m.address(None) is None
    assert m.names(pa.array([NAME, "", None])).to_pylist() == ["张**", None, None]
    assert m.addresses(pa.array([ADDRESS, ""])).to_pylist() == ["北京市***", None]
    assert m.plain("1990-03-07") is None                                 # a full birth date
    keep = _pii.Masker(b"k" * 32, keep_pii=True)
    assert (keep.name(NAME), keep.address(ADDRESS), keep.plain("1990-03-07")) == (NAME, ADDRESS, "1990-03-07")


def test_the_key_is_made_once_owner_only_and_reused(tmp_path):
    import os
    import stat

    key = _pii.load_or_create_key(tmp_path)
    from faceanalytics.storage import DataDir

    path = DataDir(tmp_path).pii_key
    assert len(key) == 32 and stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert _pii.load_or_create_key(tmp_path) == key                     # hashes stable across runs
    assert _pii.load_or_create_key(tmp_path / "other") != key


def _own_name_lines(name: str):
    """Lite records whose name field holds ``name``, which they also carry elsewhere: in
    free text the documents give (a will question and answer, an error message), in
    biz_extra_data under keys that are not name-like, and in unknown fields."""
    lines = []
    for i, place in enumerate(("question", "answer", "error", "biz_json", "biz_query", "unknown", "nested",
                               "address")):
        sid = f"1700000000,own{i}"
        p = seed("megvii_lite_success.json")
        p["biz_info"]["biz_id"] = sid
        p["idcard_info"]["idcard_name"] = name
        p["will_file"] = {"will_audio_details": [{"question_text": "请问您本次业务是本人自愿办理吗?",
                                                  "user_text": "我同意", "standard_answer": "我同意"}]}
        d = p["will_file"]["will_audio_details"][0]
        if place == "question":
            d["question_text"] = f"请问您是{name}本人吗?"
        elif place == "answer":
            d["user_text"] = f"我是{name},我同意"
        elif place == "error":
            p["verify_result"]["error_message"] = f"{name}: ID_NUMBER_NAME_NOT_MATCH"
        elif place == "biz_json":
            p["biz_info"]["biz_extra_data"] = json.dumps({"customer": name, "channel": "app"}, ensure_ascii=False)
        elif place == "biz_query":
            p["biz_info"]["biz_extra_data"] = f"customer={name}&channel=app"
        elif place == "unknown":
            p["customer"] = name
        elif place == "nested":
            p["idcard_info"]["holder"] = {"who": [name]}
        else:  # the OCR address, told again in a note under a key not named like an address
            p["idcard_info"]["front_side"]["ocr_result"]["address"] = ADDRESS
            p["note"] = f"寄往{ADDRESS}"
        lines.append(envelope("megvii_lite", sid, p))
    return lines


@pytest.mark.parametrize("fast", [True, False])
def test_a_name_its_field_holds_is_masked_wherever_else_the_record_carries_it(tmp_path, fast):
    """Names are masked by the key they sit under; one the record's name field holds is
    also masked in its will question and answer, messages, biz_extra_data and unknown
    fields, and so is an address its address field holds (each leaked before), on both paths."""
    name = "欧阳·娜娜"
    data = tmp_path / "d"
    rep = ingest([write_jsonl(tmp_path / "in.jsonl", _own_name_lines(name))], data, fast=fast)
    assert rep.landed == 8
    text = all_table_text(data)
    assert name not in text and "欧阳" not in text and ADDRESS not in text and "海淀区" not in text
    w = load(data, "will_answers")
    assert "请问您是欧****本人吗?" in set(w.question_text) and "我是欧****,我同意" in set(w.user_text)
    assert "我同意" in set(w.standard_answer)          # the rest of the text stays
    s = load(data, "sessions").set_index("session_id")
    assert s.loc["1700000000,own4", "biz_extra_data"] == "customer=欧****&channel=app"
    assert s.loc["1700000000,own2", "verify_error"] == "欧****: ID_NUMBER_NAME_NOT_MATCH"
    assert json.loads(s.loc["1700000000,own7", "extra"])["note"] == "寄往北京市***"
    keep = tmp_path / "k"
    ingest([write_jsonl(tmp_path / "in.jsonl", _own_name_lines(name))], keep, keep_pii=True, fast=fast)
    kept = all_table_text(keep)
    assert kept.count(name) >= 8 and f"寄往{ADDRESS}" in kept


def test_names_in_text_spare_latin_and_one_character_names_and_exempt_columns():
    """Only names with a Chinese character, two or more long, are searched for: a short
    Latin name would mask codes (``LI`` in LIVENESS_FAIL).  Keys are never touched."""
    import pyarrow as pa

    t = pa.table({"session_id": ["王五-1", "x"], "status": ["LIVENESS_FAIL", "王五来了"],
                  "note": ["[王]五 -王五- 王五王五 ^王六", None], "name": ["王五", None]})
    seen = {n: n[0] + "*" * (len(n) - 1) for n in ("王五", "LI", "王", "^王六")}
    got = _pii.mask_seen_in_text({"t": t}, seen)["t"]
    assert got.column("session_id").to_pylist() == ["王五-1", "x"]
    assert got.column("status").to_pylist() == ["LIVENESS_FAIL", "王*来了"]
    assert got.column("note").to_pylist() == ["[王]五 -王*- 王*王* ^**", None]
    assert got.column("name").to_pylist() == ["王五", None]       # the name column: masked by its flattener
    assert _pii.mask_seen_in_text({"t": t}, {"LI": "L*", "x": "x"})["t"] is t


def test_a_quarantine_reason_is_printed_as_masked_as_the_table_keeps_it(tmp_path, capsys):
    """A reason may quote the value it refuses: a verify_time that is an ID number was
    masked in the quarantine table but printed plain in ingest's counts (stdout, --json,
    a scheduled job's log); a percent-encoded biz_extra_data kept its ID number plain."""
    from faceanalytics.cli import main

    p = seed("megvii_lite_success.json")
    p["verify_time"] = int(ID18)
    q = seed("megvii_lite_success.json")
    q["biz_info"] = dict(q["biz_info"], biz_id="1700000001,enc", biz_extra_data=f"idno%3D{ID18}%26ch%3Dapp")
    f = write_jsonl(tmp_path / "in.jsonl", [envelope("megvii_lite", LITE_ID, p),
                                            envelope("megvii_lite", "1700000001,enc", q)])
    rep = ingest([f], tmp_path / "d")
    assert (rep.landed, rep.quarantined) == (1, 1)
    assert not any(ID18 in r for r in rep.reasons) and any("*1234" in r for r in rep.reasons)
    assert ID18 not in all_table_text(tmp_path / "d")
    assert main(["ingest", str(f), "--data", str(tmp_path / "e"), "--json"]) == 0
    out, err = capsys.readouterr()
    assert ID18 not in out + err and "**1234" in out


def test_full_width_and_glued_id_numbers_are_masked_in_any_string_column():
    """Arrow's candidate screen (RE2: ``\\d`` is ASCII there) let a full-width ID number
    through to the tables whole, and one right after letters was never matched."""
    import pyarrow as pa

    wide = "１１０１０１１９９００３０７１２３４"
    t = pa.table({"biz_extra_data": [f"idcard={wide}&ch=app", "idno110101199003071233", "plain", None]})
    got = _pii.scrub_table(t).column("biz_extra_data").to_pylist()
    assert got == ["idcard=**************1234&ch=app", "idno**************1233", "plain", None]
