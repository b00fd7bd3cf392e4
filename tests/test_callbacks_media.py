"""Callback signs, the callback receiver over real HTTP, will_file decryption and downloads."""
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

import pytest
import requests
from Crypto.Cipher import AES

from faceanalytics import decrypt_will_file, verify_callback_sign
from faceanalytics.media import download_will_files, encrypt_will_file
from faceanalytics.receive import CallbackReceiver
from faceanalytics.sandbox import Sandbox
from faceanalytics.store import load

SEEDS = Path(__file__).parent / "data" / "seeds"
SECRET = "cb-secret-for-tests-0123456789abcdef"  # 36 characters: the key is the first 32


def sign(data: str, secret: str = SECRET) -> str:
    return hashlib.sha1((secret + data).encode()).hexdigest()


def v2_data(biz_id="1700000000,cb-1", confidence=71.5) -> str:
    p = json.loads((SEEDS / "megvii_liveness_success.json").read_text())
    p.pop("images")
    p["biz_id"] = biz_id
    p["verify_result"]["result_faceid"]["confidence"] = confidence
    return json.dumps(p, separators=(",", ":"), ensure_ascii=False)


# --- sign ---------------------------------------------------------------------------

def test_verify_callback_sign_follows_the_rule():
    data = v2_data()
    good = hashlib.sha1((SECRET + data).encode("utf-8")).hexdigest()
    assert verify_callback_sign(data, good, SECRET)
    assert verify_callback_sign(data, good.upper(), SECRET)  # hex case does not matter
    assert not verify_callback_sign(data + " ", good, SECRET)  # tampered data
    assert not verify_callback_sign(data, good, SECRET + "x")  # other secret
    assert not verify_callback_sign(data, "", SECRET)
    assert not verify_callback_sign(data, good, "")
    # the document's example sign is sha1 of secret + the JSON text, 40 lower-case hex chars
    assert len(good) == 40 and good == good.lower()


# --- will_file decryption -------------------------------------------------------------

def _reference_encrypt(plain: bytes, secret: str) -> bytes:
    """The document's rule, written out independently of faceanalytics.media."""
    key = (secret[:32] + " " * 32)[:32].encode()
    head = (plain[:1024] + b" " * 1024)[:1024]
    return AES.new(key, AES.MODE_ECB).encrypt(head) + plain[1024:]


@pytest.mark.parametrize("secret", ["0123456789abcdef0123456789abcdef",    # exactly 32
                                    "0123456789abcdef0123456789abcdef-extra",  # longer: first 32
                                    "short-secret"])                         # shorter: space-padded
@pytest.mark.parametrize("size", [0, 10, 1023, 1024, 1025, 5000])
def test_decrypt_will_file_vectors(secret, size):
    plain = bytes((i * 7 + 3) % 251 for i in range(size))
    blob = _reference_encrypt(plain, secret)
    assert len(blob) == max(size, 1024)
    assert blob[:1024] != plain[:1024].ljust(1024, b" ")  # really encrypted
    assert encrypt_will_file(plain, secret) == blob
    assert decrypt_will_file(blob, secret) == plain
    if size > 1024:
        assert blob[1024:] == plain[1024:]  # only the first 1024 bytes are encrypted


def test_decrypt_wrong_secret_or_short_blob():
    blob = _reference_encrypt(b"A" * 2000, "right-secret")
    assert decrypt_will_file(blob, "wrong-secret") != b"A" * 2000
    with pytest.raises(ValueError, match="at least 1024"):
        decrypt_will_file(b"x" * 100, "s")
    with pytest.raises(ValueError, match="empty"):
        decrypt_will_file(blob, "")


def test_decrypt_media_cli(tmp_path):
    plain = b"\x00\x00\x00\x18ftypmp42" + os.urandom(3000)
    src, out = tmp_path / "in.bin", tmp_path / "out.mp4"
    src.write_bytes(_reference_encrypt(plain, SECRET))
    env = {**os.environ, "MEGVII_API_SECRET": SECRET}
    r = subprocess.run([sys.executable, "-m", "faceanalytics.cli", "decrypt-media", str(src), str(out)],
                       env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert out.read_bytes() == plain
    assert SECRET not in r.stdout + r.stderr
    env.pop("MEGVII_API_SECRET")
    r = subprocess.run([sys.executable, "-m", "faceanalytics.cli", "decrypt-media", str(src), str(out)],
                       env=env, capture_output=True, text=True)
    assert r.returncode == 2 and "MEGVII_API_SECRET" in r.stderr


# --- receiver -------------------------------------------------------------------------

@pytest.fixture
def receiver(tmp_path):
    rec = CallbackReceiver(tmp_path, port=0, api_secret=SECRET, land_every=0.2, max_body=50_000)
    rec.start()
    yield rec
    if not rec._stop.is_set():
        rec.stop()


def test_receiver_json_form_bad_sign_garbage_oversize(receiver, tmp_path):
    url = receiver.url
    data = v2_data("1700000000,cb-json")
    r = requests.post(url, json={"data": data, "sign": sign(data)}, timeout=5)
    assert r.status_code == 200 and r.json()["ok"]
    data2 = v2_data("1700000000,cb-form")
    r = requests.post(url, data=urlencode({"data": data2, "sign": sign(data2)}),
                      headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=5)
    assert r.status_code == 200
    tampered = v2_data("1700000000,cb-bad", confidence=99.9)
    r = requests.post(url, json={"data": tampered, "sign": sign(data)}, timeout=5)
    assert r.status_code == 403 and "sign" in r.json()["reason"]
    r = requests.post(url, json={"data": data}, timeout=5)
    assert r.status_code == 403 and "no sign" in r.json()["reason"]
    r = requests.post(url, data=b"\x00\xffnot a callback", timeout=5)
    assert r.status_code == 400
    r = requests.post(url, data=b"x" * 60_000, timeout=5)
    assert r.status_code == 413
    # a malformed request line and a client that hangs up do not take it down
    with socket.create_connection(receiver.server.server_address) as s:
        s.sendall(b"GARBAGE\r\n\r\n")
        s.recv(100)
    with socket.create_connection(receiver.server.server_address) as s:
        s.sendall(b"POST / HTTP/1.1\r\nContent-Length: 500\r\n\r\n{\"data\"")
    assert requests.get(url + "/health", timeout=5).status_code == 200
    receiver.stop()
    s = load(tmp_path, "sessions")
    assert sorted(s.session_id) == ["1700000000,cb-form", "1700000000,cb-json"]
    assert s.sign_verified.all()
    c = load(tmp_path, "comparisons")
    assert 99.9 not in set(c.confidence)  # the tampered result never landed
    q = load(tmp_path, "quarantine")
    reasons = " | ".join(q.reason)
    assert len(q) == 3 and "sign does not match" in reasons and "no sign" in reasons
    assert SECRET not in " ".join(q.raw)


def test_replayed_callback_adds_no_row(receiver, tmp_path):
    data = v2_data("1700000000,cb-replay")
    for _ in range(3):
        assert requests.post(receiver.url, json={"data": data, "sign": sign(data)}, timeout=5).ok
        time.sleep(0.3)  # lands between replays
    receiver.stop()
    assert len(load(tmp_path, "sessions")) == 1
    assert len(load(tmp_path, "comparisons")) == 2  # faceid and ref1, once


def test_answer_only_after_durable_in_archive(receiver, tmp_path):
    data = v2_data("1700000000,cb-durable")
    assert requests.post(receiver.url, json={"data": data, "sign": sign(data)}, timeout=5).ok
    # Before any landing: the journal already holds the record, fsync'd.
    journals = list((tmp_path / "raw" / "journal").glob("*.jsonl"))
    assert any(b"cb-durable" in j.read_bytes() for j in journals)


def test_receive_cli_flushes_on_sigterm(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "MEGVII_API_SECRET": SECRET}
    p = subprocess.Popen([sys.executable, "-m", "faceanalytics.cli", "receive", "--data", str(tmp_path),
                          "--port", str(port)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            requests.get(url + "/health", timeout=1)
            break
        except requests.ConnectionError:
            time.sleep(0.1)
    data = v2_data("1700000000,cb-cli")
    assert requests.post(url, json={"data": data, "sign": sign(data)}, timeout=5).ok
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=30)
    assert p.returncode == 0, err
    assert b"accepted 1" in out
    assert list(load(tmp_path, "sessions").session_id) == ["1700000000,cb-cli"]
    assert SECRET.encode() not in out + err


# --- downloads ---------------------------------------------------------------------------

def test_download_will_files_decrypts_and_respects_quota(tmp_path, monkeypatch):
    from faceanalytics.fetch import fetch_megvii

    with Sandbox(seed=9, n_lite=300, n_liveness=0, n_baidu=0) as sb:
        for k, v in sb.env().items():
            monkeypatch.setenv(k, v)
        fetch_megvii(sb.ids("megvii-lite"), tmp_path, base_url=sb.url, progress=False)
        m = load(tmp_path, "media")
        will = m[m.field.str.startswith("will_") & m.url.notna()]
        assert len(will) > 0, "the sandbox serves will sessions"
        rep = download_will_files(tmp_path, base_url=sb.url)
        assert rep.downloaded == len(will.url.unique()) and rep.failed == 0
        files = load(tmp_path, "media_files")
        assert len(files) == rep.downloaded and files.path.notna().all()
        sizes = set()
        for row in files.itertuples():
            plain = sb.media_plaintext(row.url.rsplit("/", 1)[-1])
            if len(plain) < 1024:  # padded to 1024 with spaces: trailing spaces are ambiguous
                plain = plain.rstrip(b" ")
            assert (tmp_path / row.path).read_bytes() == plain
            sizes.add(len(plain) > 1024)
        assert sizes == {True, False}  # files shorter and longer than the encrypted block
        again = download_will_files(tmp_path, base_url=sb.url)
        assert again.downloaded == 0 and again.calls == 0  # never downloaded twice
        assert max(sb.stats()["media_downloads"].values()) == 1
