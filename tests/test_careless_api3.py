"""Clients, fetch from Python, crypto and plots misused as an analyst in a notebook would:
each case gets a clear error naming the argument (or the right answer), nothing is sent that
cannot be an id, no quota is charged for it, and no secret is echoed."""
from __future__ import annotations

import hashlib
import math

import numpy as np
import pandas as pd
import pytest

from faceanalytics.clients import BaiduClient, MegviiClient, QuotaLedger
from faceanalytics.clients.testing import Reply, ScriptedServer

KEY, SECRET = "careless-key-0123", "careless-secret-4567-abcdefghijklmnop"
BIZ = "1462259748,52b13fb5-8dfb-4537-a62b-a641d5e929f1"
TOKEN = "cIupeyP51sn28XzxGVTfYqoN"

NOT_BIZ_IDS = [BIZ + " ", " " + BIZ, BIZ + "\n", BIZ + "\n" + BIZ, "hello world", TOKEN, "1462259748",
               "1462259748, 52b13fb5", "1.5"]


@pytest.mark.parametrize("biz_id", NOT_BIZ_IDS)
@pytest.mark.parametrize("call", ["get_lite_result", "get_liveness_result"])
def test_megvii_client_never_sends_what_is_not_a_biz_id(tmp_path, biz_id, call):
    """Each send spends one of the three calls Megvii allows per biz_id: a value with spaces,
    a line break or no ``<unix time>,`` was sent and answered RESULT_NOT_FOUND."""
    ledger = QuotaLedger(tmp_path / "megvii.log", limit=3, provider="megvii")
    with ScriptedServer() as server:
        server.script("/faceid/lite/get_result", Reply(200, {"status": "OK", "request_id": "r"}))
        server.script("/faceid/liveness/v2/get_result", Reply(200, {"status": "OK", "request_id": "r"}))
        client = MegviiClient(KEY, SECRET, base_url=server.url, ledger=ledger)
        with pytest.raises(ValueError, match="not a biz_id") as err:
            getattr(client, call)(biz_id)
        assert server.requests == []
    assert ledger.total() == 0
    assert SECRET not in str(err.value) and KEY not in str(err.value)
    ledger.close()


@pytest.mark.parametrize("value", [None, math.nan, 1.5, "", "  ", [BIZ], pd.DataFrame({"a": [BIZ]})])
def test_megvii_client_refuses_non_text_ids_naming_the_type(value):
    with ScriptedServer() as server:
        client = MegviiClient(KEY, SECRET, base_url=server.url)
        with pytest.raises(ValueError, match="biz_id must be a non-empty string"):
            client.get_lite_result(value)
        assert server.requests == []


@pytest.mark.parametrize("token", [TOKEN + " ", TOKEN + "\n", "a b", BIZ, "tok/../x", "ä" * 20])
def test_baidu_client_never_sends_what_is_not_a_verify_token(token):
    """Not even the access token is asked for: the refusal comes first."""
    with ScriptedServer() as server:
        server.script("/oauth/2.0/token", Reply(200, {"access_token": "at-1", "expires_in": 2592000}))
        client = BaiduClient(KEY, SECRET, base_url=server.url)
        with pytest.raises(ValueError, match="not a verify_token"):
            client.result("detail", token)
        assert server.requests == []


def test_the_megvii_client_still_sends_a_real_biz_id():
    with ScriptedServer() as server:
        server.script("/faceid/lite/get_result", Reply(200, {"status": "OK", "request_id": "r"}))
        MegviiClient(KEY, SECRET, base_url=server.url).get_lite_result(BIZ)
        assert [r.query["biz_id"] for r in server.requests] == [BIZ]


@pytest.mark.parametrize("base_url", [None, 8800, b"http://127.0.0.1"])
def test_a_base_url_that_is_not_text_is_a_clear_type_error(base_url):
    with pytest.raises(TypeError, match="base_url is a URL as text"):
        MegviiClient(KEY, SECRET, base_url=base_url)


# -- crypto -----------------------------------------------------------------------------------

from faceanalytics.crypto import decrypt_will_file, encrypt_will_file, verify_callback_sign  # noqa: E402

CB_DATA = '{"biz_id": "1462259748,52b13fb5", "status": "OK"}'
CB_SIGN = hashlib.sha1((SECRET + CB_DATA).encode()).hexdigest()


def test_a_callback_body_as_bytes_is_verified_as_the_text_it_carries():
    """A web framework's ``request.body`` is bytes: every genuine callback was "forged" (False)."""
    assert verify_callback_sign(CB_DATA.encode(), CB_SIGN, SECRET) is True
    assert verify_callback_sign(bytearray(CB_DATA.encode()), CB_SIGN.encode(), SECRET) is True
    assert verify_callback_sign(CB_DATA, CB_SIGN, SECRET.encode()) is True
    assert verify_callback_sign(CB_DATA.encode() + b" ", CB_SIGN, SECRET) is False


def test_a_parsed_callback_is_refused_not_called_forged():
    import json
    with pytest.raises(TypeError, match="JSON text as received") as err:
        verify_callback_sign(json.loads(CB_DATA), CB_SIGN, SECRET)
    assert SECRET not in str(err.value)


@pytest.mark.parametrize("secret", [12345, 3.5, ["s"]])
def test_a_secret_of_the_wrong_type_is_named_by_type_never_shown(secret):
    blob = encrypt_will_file(b"x" * 2000, SECRET)
    for call in (lambda: verify_callback_sign(CB_DATA, CB_SIGN, secret), lambda: decrypt_will_file(blob, secret)):
        with pytest.raises(TypeError, match="api_secret is text") as err:
            call()
        assert str(secret) not in str(err.value)


@pytest.mark.parametrize("blob,hint", [("a" * 2000, "a path"), ("/tmp/will.mp4", "a path"), (None, "NoneType"),
                                       (12, "int")])
def test_decrypt_will_file_of_what_is_not_bytes_says_so(blob, hint):
    with pytest.raises(TypeError, match="takes the download as bytes") as err:
        decrypt_will_file(blob, SECRET)
    assert hint in str(err.value) and SECRET not in str(err.value)


def test_decrypt_will_file_of_an_open_file_says_read_it_first(tmp_path):
    p = tmp_path / "w.bin"
    p.write_bytes(encrypt_will_file(b"x" * 2000, SECRET))
    with open(p, "rb") as fh, pytest.raises(TypeError, match=r"read it first"):
        decrypt_will_file(fh, SECRET)
    assert decrypt_will_file(p.read_bytes(), SECRET.encode()) == b"x" * 2000      # a bytes secret works


def test_decrypt_will_file_with_swapped_arguments_never_shows_the_secret():
    blob = encrypt_will_file(b"x" * 2000, SECRET)
    with pytest.raises(TypeError) as err:
        decrypt_will_file(SECRET, blob)
    assert SECRET not in str(err.value) and SECRET not in repr(err.value.args)


# -- fetch from Python ------------------------------------------------------------------------

from faceanalytics.pipeline.fetch import fetch_baidu, fetch_megvii  # noqa: E402
from faceanalytics.sandbox import Sandbox  # noqa: E402


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(seed=31, n_lite=4, n_liveness=0, n_baidu=2) as sb:
        yield sb


def _calls(sb) -> int:
    import json
    import urllib.request
    stats = json.loads(urllib.request.urlopen(sb.url + "/_sandbox/stats").read())
    return sum(v for k, v in stats.get("requests", {}).items() if not k.startswith("/_sandbox"))


def _quota(data) -> str:
    d = data / "state" / "quota"
    return "".join(p.read_text() for p in d.glob("*")) if d.exists() else ""


@pytest.mark.parametrize("ids,error,match", [
    (None, TypeError, "not NoneType"), (math.nan, TypeError, "not float"), (12, TypeError, "not int"),
    (b"1462259748,52b13fb5", TypeError, "as bytes"), ({BIZ: 1}, TypeError, "not dict"),
    ("", ValueError, "empty string"), (BIZ, ValueError, "for one id pass a list"),
])
def test_fetch_megvii_of_what_is_not_ids_says_so_and_sends_nothing(tmp_path, monkeypatch, sandbox, ids, error,
                                                                  match):
    for k, v in sandbox.env().items():
        monkeypatch.setenv(k, v)
    before = _calls(sandbox)
    with pytest.raises(error, match=match) as err:
        fetch_megvii(ids, tmp_path / "data", progress=False)
    assert _calls(sandbox) == before and _quota(tmp_path / "data") == ""
    assert sandbox.env()["MEGVII_API_SECRET"] not in str(err.value)


def test_fetch_with_the_data_directory_as_ids_says_they_look_swapped(tmp_path, monkeypatch, sandbox):
    for k, v in sandbox.env().items():
        monkeypatch.setenv(k, v)
    (tmp_path / "data").mkdir()
    with pytest.raises(ValueError, match="swapped with the data directory"):
        fetch_megvii(tmp_path / "data", tmp_path / "other", progress=False)


def test_fetch_with_a_column_the_dataframe_lacks_lists_its_columns(tmp_path, monkeypatch, sandbox):
    for k, v in sandbox.env().items():
        monkeypatch.setenv(k, v)
    df = pd.DataFrame({"biz": sandbox.ids("megvii-lite"), "n": range(4)})
    with pytest.raises(ValueError, match=r"no column 'biz_id' in the DataFrame \(its columns: biz, n\)"):
        fetch_megvii(df, tmp_path / "data", column="biz_id", progress=False)


@pytest.mark.parametrize("chunk_size", [0, -1, "500", 2.5, True])
def test_a_chunk_size_that_is_not_a_count_is_refused_before_any_call(tmp_path, monkeypatch, sandbox, chunk_size):
    for k, v in sandbox.env().items():
        monkeypatch.setenv(k, v)
    before = _calls(sandbox)
    with pytest.raises(ValueError, match="chunk_size must be a whole number"):
        fetch_megvii(sandbox.ids("megvii-lite"), tmp_path / "data", chunk_size=chunk_size, progress=False)
    with pytest.raises(ValueError, match="chunk_size must be a whole number"):
        fetch_baidu(sandbox.ids("baidu"), tmp_path / "data", chunk_size=chunk_size, progress=False)
    assert _calls(sandbox) == before


def test_fetch_baidu_what_none_is_a_clear_error(tmp_path, monkeypatch, sandbox):
    for k, v in sandbox.env().items():
        monkeypatch.setenv(k, v)
    with pytest.raises(TypeError, match="what is a list of result APIs"):
        fetch_baidu(sandbox.ids("baidu"), tmp_path / "data", what=None, progress=False)


def test_fetch_still_takes_a_list_an_array_and_a_series(tmp_path, monkeypatch, sandbox):
    for k, v in sandbox.env().items():
        monkeypatch.setenv(k, v)
    ids = sandbox.ids("megvii-lite")
    before = _calls(sandbox)
    rep = fetch_megvii(np.array(ids[:2]), tmp_path / "data", progress=False)
    assert rep.fetched == 2 and _calls(sandbox) == before + 2 and ids[0] in _quota(tmp_path / "data")
    rep = fetch_megvii(pd.Series(ids), tmp_path / "data", progress=False)
    assert (rep.fetched, rep.skipped) == (2, 2)
