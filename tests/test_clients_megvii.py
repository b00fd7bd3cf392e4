"""MegviiClient against a real loopback server: requests sent, downloads, and the 3-call quota."""

from __future__ import annotations

import threading

import pytest

from faceanalytics.clients import (
    CLIENTS,
    NO_RETRY,
    DataDestroyed,
    InvalidResponse,
    MegviiClient,
    MissingCredentials,
    QuotaExhausted,
    QuotaLedger,
    ResultNotFound,
    RetryPolicy,
    client_for,
)
from faceanalytics.clients.testing import Reply, ScriptedServer

from _helpers import in_threads  # noqa: E402

LITE = "/faceid/lite/get_result"
LIVENESS = "/faceid/liveness/v2/get_result"
BIZ_ID = "1462259748,52b13fb5-8dfb-4537-a62b-a641d5e929f1"
KEY, SECRET = "megvii-test-key-1234", "megvii-test-secret-5678"
OK = {"request_id": "1462259763,e2d2f8d6-204b-4c43-92ea-1d62b071f83c", "status": "OK", "time_used": 93}


@pytest.fixture
def server():
    with ScriptedServer() as s:
        yield s


def no_wait(max_attempts=3) -> RetryPolicy:
    return RetryPolicy(max_attempts=max_attempts, sleep=lambda s: None)


def test_get_lite_result_sends_the_documented_parameters(server):
    server.script(LITE, Reply(200, OK))
    response = MegviiClient(KEY, SECRET, base_url=server.url).get_lite_result(BIZ_ID, return_image=4)
    assert response.json == OK
    (request,) = server.requests
    assert request.method == "GET" and request.path == LITE
    assert request.query == {
        "api_key": KEY,
        "api_secret": SECRET,
        "biz_id": BIZ_ID,  # comma intact after decoding
        "return_verify_time": "1",
        "return_image": "4",
        "get_fail_reason": "1",
        "return_multifaces_tag": "0",
    }


def test_get_liveness_result_sends_the_documented_parameters(server):
    server.script(LIVENESS, Reply(200, OK))
    MegviiClient(KEY, SECRET, base_url=server.url + "/").get_liveness_result(BIZ_ID, get_image_type=2)
    (request,) = server.requests
    assert request.path == LIVENESS
    assert request.query == {"api_key": KEY, "api_secret": SECRET, "biz_id": BIZ_ID, "get_image_type": "2"}


def test_result_not_found_carries_the_body_for_the_archive(server):
    body = b'{"error_message": "RESULT_NOT_FOUND", "request_id": "1462259901,fa79992d", "time_used": 4}'
    server.script(LITE, Reply(400, body))
    with pytest.raises(ResultNotFound) as info:
        MegviiClient(KEY, SECRET, base_url=server.url).get_lite_result(BIZ_ID)
    assert info.value.body == body and info.value.http_status == 400
    assert info.value.request_id == "1462259901,fa79992d"


def test_bad_ids_are_refused_before_sending(server):
    client = MegviiClient(KEY, SECRET, base_url=server.url)
    for bad in ("", "  ", None):
        with pytest.raises(ValueError):
            client.get_lite_result(bad)
    assert server.requests == []


def test_download_will_file_returns_raw_bytes(server):
    blob = bytes(range(256)) * 8  # binary, not JSON
    server.script("/will/v.mp4", Reply(200, blob))
    response = MegviiClient(KEY, SECRET, base_url=server.url).download_will_file(server.url + "/will/v.mp4")
    assert response.body == blob and response.json is None
    assert "api_secret" not in server.requests[0].query  # downloads carry no credentials


def test_download_will_file_follows_a_loopback_redirect(server):
    server.script("/will/a", Reply(302, b"", headers={"Location": "/will/b"}))
    server.script("/will/b", Reply(200, b"\x00\x01"))
    response = MegviiClient(KEY, SECRET, base_url=server.url).download_will_file(server.url + "/will/a")
    assert response.body == b"\x00\x01"


def test_download_will_file_errors(server):
    client = MegviiClient(KEY, SECRET, base_url=server.url, retry=NO_RETRY)
    server.script("/will/x", Reply(403, {"error_message": "DATA_DESTROYED", "request_id": "r"}))
    with pytest.raises(DataDestroyed):
        client.download_will_file(server.url + "/will/x")
    server.script("/will/y", Reply(404, b"<html>no</html>"))
    with pytest.raises(InvalidResponse):
        client.download_will_file(server.url + "/will/y")
    with pytest.raises(ValueError):
        client.download_will_file("")  # Megvii returns "" when no file was generated


def test_an_answer_denser_with_values_than_any_document_is_kept_as_bytes_not_parsed(server):
    """64 MiB of ``[{},{},…]`` (the client's answer cap) would parse into ~20 million Python
    objects, gigabytes per answer in flight: an answer of more than ``MAX_VALUES`` values is
    not parsed (an InvalidResponse that keeps its bytes; the ingest quarantines them).
    Commas inside strings do not count: a long text value is an ordinary answer."""
    from faceanalytics._coerce import MAX_VALUES
    from faceanalytics.clients._http import parse_json

    client = MegviiClient(KEY, SECRET, base_url=server.url, retry=NO_RETRY)
    dense = b'{"request_id": "r", "will_result": [' + b"{}," * MAX_VALUES + b"{}]}"
    server.script(LITE, Reply(200, dense))
    with pytest.raises(InvalidResponse) as e:
        client.get_lite_result("1700000000,dense")
    assert e.value.body == dense
    assert parse_json(b"[" + b"{}," * (MAX_VALUES - 1) + b"{}]") is not None      # at the limit: parsed
    texty = {"request_id": "r", "status": "OK", "note": "," * (3 * MAX_VALUES)}
    server.script(LITE, Reply(200, texty))
    assert client.get_lite_result("1700000000,texty").json == texty


# -- the quota ledger ----------------------------------------------------------------------


def test_ledger_counts_every_attempt_and_refuses_the_fourth(server, tmp_path):
    ledger = QuotaLedger(tmp_path / "state" / "quota" / "megvii.log", limit=3)
    server.script(LITE, Reply(500, {"error_message": "INTERNAL_ERROR", "request_id": "r500"}))
    client = MegviiClient(KEY, SECRET, base_url=server.url, retry=no_wait(max_attempts=10), ledger=ledger)

    with pytest.raises(QuotaExhausted) as info:
        client.get_lite_result(BIZ_ID)
    assert len(server.requests) == 3  # attempts 1-3 sent; the 4th was refused locally
    assert ledger.calls(BIZ_ID) == 3
    exc = info.value
    assert exc.last_error.code == "INTERNAL_ERROR" and exc.request_id == "r500" and exc.http_status == 500

    with pytest.raises(QuotaExhausted) as again:  # a later call: refused at once
        client.get_lite_result(BIZ_ID)
    assert again.value.last_error is None and again.value.body is None
    assert len(server.requests) == 3

    # Survives a restart: a new ledger on the same file refuses too.
    reopened = QuotaLedger(ledger.path, limit=3)
    fresh = MegviiClient(KEY, SECRET, base_url=server.url, ledger=reopened)
    with pytest.raises(QuotaExhausted):
        fresh.get_liveness_result(BIZ_ID)
    assert len(server.requests) == 3

    lines = ledger.path.read_text().splitlines()
    calls = [line for line in lines if line.endswith(("call 1/3", "call 2/3", "call 3/3"))]
    results = [line for line in lines if "\tresult " in line]
    assert len(calls) == 3 and len(results) == 3
    assert all(f"\tmegvii\t{BIZ_ID}\t" in line for line in calls + results)
    assert results[0].endswith("result 500 INTERNAL_ERROR")


def test_ledger_counts_successes_and_downloads_separately(server, tmp_path):
    ledger = QuotaLedger(tmp_path / "megvii.log", limit=3)
    server.script(LITE, Reply(200, OK))
    server.script("/will/v", Reply(200, b"blob"))
    client = MegviiClient(KEY, SECRET, base_url=server.url, ledger=ledger)
    for _ in range(3):
        client.get_lite_result(BIZ_ID)
    with pytest.raises(QuotaExhausted):
        client.get_lite_result(BIZ_ID)
    url = server.url + "/will/v"
    for _ in range(3):
        client.download_will_file(url)
    with pytest.raises(QuotaExhausted):
        client.download_will_file(url)
    assert ledger.calls(BIZ_ID) == 3 and ledger.calls(url) == 3
    assert len(server.requests) == 6


def test_ledger_with_eight_threads_never_lets_a_fourth_call_out(server, tmp_path):
    ledger = QuotaLedger(tmp_path / "megvii.log", limit=3)
    server.script(LITE, Reply(200, OK))
    client = MegviiClient(KEY, SECRET, base_url=server.url, ledger=ledger, retry=NO_RETRY)
    ids = [f"1462259748,{n:04d}" for n in range(25)]
    refused = []
    lock = threading.Lock()

    def work():
        for biz_id in ids:
            for _ in range(2):
                try:
                    client.get_lite_result(biz_id)
                except QuotaExhausted:
                    with lock:
                        refused.append(biz_id)

    in_threads(lambda _: work())
    # 8 threads x 2 tries = 16 wishes per id; exactly 3 reach the server.
    per_id = {biz_id: 0 for biz_id in ids}
    for request in server.requests:
        per_id[request.query["biz_id"]] += 1
    assert set(per_id.values()) == {3}
    assert len(refused) == len(ids) * 13
    assert all(ledger.calls(biz_id) == 3 for biz_id in ids)


# -- construction ---------------------------------------------------------------------------


def test_client_repr_hides_credentials(server):
    client = MegviiClient(KEY, SECRET, base_url=server.url)
    assert KEY not in repr(client) and SECRET not in repr(client)
    assert repr(client._api_secret) == "Secret('***')"


def test_from_env_and_registry(monkeypatch, server):
    monkeypatch.delenv("MEGVII_API_KEY", raising=False)
    monkeypatch.delenv("MEGVII_API_SECRET", raising=False)
    with pytest.raises(MissingCredentials):
        MegviiClient.from_env()
    monkeypatch.setenv("MEGVII_API_KEY", KEY)
    monkeypatch.setenv("MEGVII_API_SECRET", SECRET)
    client = client_for("megvii", base_url=server.url)
    assert isinstance(client, MegviiClient) and CLIENTS["megvii"] is MegviiClient
    with pytest.raises(ValueError):
        client_for("tencent")


def test_credentials_from_an_env_file_with_windows_line_ends_are_sent_without_them(monkeypatch, server):
    """``KEY\r`` (an env file saved with CRLF) was sent as it is: every signed call failed at
    the provider.  The whitespace around a credential is not part of it; a blank one is none."""
    from faceanalytics.clients import BaiduClient

    monkeypatch.setenv("MEGVII_API_KEY", f" {KEY}\r\n")
    monkeypatch.setenv("MEGVII_API_SECRET", f"{SECRET}\r")
    c = MegviiClient.from_env(base_url=server.url)
    assert (c._api_key.reveal(), c._api_secret.reveal()) == (KEY, SECRET)
    monkeypatch.setenv("MEGVII_API_SECRET", " \r\n")
    with pytest.raises(MissingCredentials):
        MegviiClient.from_env(base_url=server.url)
    monkeypatch.setenv("BAIDU_API_KEY", f"{KEY}\r")
    monkeypatch.setenv("BAIDU_SECRET_KEY", f"\t{SECRET}\r\n")
    b = BaiduClient.from_env(base_url=server.url)
    assert (b._api_key.reveal(), b._secret_key.reveal()) == (KEY, SECRET)


def test_default_retry_keeps_a_call_in_reserve():
    # Every send spends one of Megvii's 3 calls per biz_id: at most one retry by default.
    assert MegviiClient(KEY, SECRET).retry.max_attempts == 2
