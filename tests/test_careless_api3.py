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
