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

import pyarrow.parquet as pq
import pytest
import requests
from Crypto.Cipher import AES

from faceanalytics import decrypt_will_file, verify_callback_sign
from faceanalytics.crypto import encrypt_will_file
from faceanalytics.pipeline.media import download_will_files
from faceanalytics.pipeline.receive import CallbackReceiver
from faceanalytics.sandbox import Sandbox
from faceanalytics.storage.media import media_bytes
from faceanalytics.storage.tables import load

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
    """The document's rule, written out independently of faceanalytics.crypto."""
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
    # Rejected requests are not archived or landed (issue 13, item 7): they are kept, with
    # their reason, size and digest, in the bounded rotating store only.
    assert load(tmp_path, "quarantine").empty
    kept = receiver.rejected.read()
    assert [r["status"] for r in kept] == [403, 403, 400, 413]
    reasons = " | ".join(r["reason"] for r in kept)
    assert "sign does not match" in reasons and "no sign" in reasons
    assert kept[0]["body"] and kept[0]["sha256"] and "body" not in kept[3]
    assert SECRET not in (tmp_path / "raw" / "rejected" / "rejected.jsonl").read_text()


def test_replayed_callback_adds_no_row(receiver, tmp_path):
    data = v2_data("1700000000,cb-replay")
    for _ in range(3):
        assert requests.post(receiver.url, json={"data": data, "sign": sign(data)}, timeout=5).ok
        time.sleep(0.3)  # lands between replays
    receiver.stop()
    assert len(load(tmp_path, "sessions")) == 1
    assert len(load(tmp_path, "comparisons")) == 2  # faceid and ref1, once


def test_a_running_receiver_merges_the_files_its_landings_leave(tmp_path, monkeypatch):
    """Landing every few seconds for months left one file per landing in each partition
    until the receiver stopped: it now compacts every ``compact_every`` seconds."""
    import faceanalytics.storage.tables as store_mod

    monkeypatch.setattr(store_mod, "COMPACT_AT", 3)
    rec = CallbackReceiver(tmp_path, port=0, api_secret=SECRET, land_every=0.1, compact_every=0.5)
    rec.start()
    try:
        part = tmp_path / "tables" / "sessions" / "source=megvii_notify"

        def files():
            return sum(1 for p in part.glob("month=*/part-*.parquet") if pq.read_metadata(p).num_rows)

        for i in range(12):
            data = v2_data(f"1700000000,cb-many-{i}")
            assert requests.post(rec.url, json={"data": data, "sign": sign(data)}, timeout=5).ok
            time.sleep(0.15)  # one landing each
        deadline = time.monotonic() + 20
        while (rec.counts["landed"] < 12 or files() > 2) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert rec.counts["landed"] == 12 and files() <= 2, files()     # merged while running
        assert len(load(tmp_path, "sessions")) == 12                 # nothing lost
        assert rec.counts["compact_failed"] == 0
    finally:
        rec.stop()
    assert len(load(tmp_path, "sessions")) == 12


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
    from faceanalytics.pipeline.fetch import fetch_megvii

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


# --- downloads of links nobody vouched for (issue 13, item 6) ---------------------------------

def _lite_with_will(biz_id, url):
    from _helpers import seed

    p = seed("megvii_lite_success.json")
    p["biz_info"]["biz_id"] = biz_id
    p["will_file"] = {"will_video": url, "will_audio": ""}
    return {"source": "megvii_lite", "session_id": biz_id, "fetched_at": "2026-11-20T10:00:00Z",
            "http_status": 200, "payload": p}


def _media_data(tmp_path, urls):
    from _helpers import write_jsonl
    from faceanalytics.pipeline.ingest import ingest

    recs = [_lite_with_will(f"1700000000,will-{i}", u) for i, u in enumerate(urls)]
    tmp_path.mkdir(parents=True, exist_ok=True)
    data = tmp_path / "d"
    ingest([write_jsonl(tmp_path / "in.jsonl", recs)], data)
    return data


def _will_blob(size=3000, secret=SECRET):
    return _reference_encrypt(b"\x00\x00\x00\x18ftypmp42" + os.urandom(size - 12), secret)


def test_download_media_fetches_only_the_provider_hosts(tmp_path, monkeypatch):
    from faceanalytics.clients.testing import Reply, ScriptedServer

    monkeypatch.setenv("MEGVII_API_KEY", "mk-123456")
    monkeypatch.setenv("MEGVII_API_SECRET", SECRET)
    with ScriptedServer() as base, ScriptedServer() as other:
        base.script("/will/ok.mp4", Reply(200, _will_blob()))
        other.script("/will/x.mp4", Reply(200, _will_blob()))
        bad = ["https://169.254.169.254/latest/meta-data/iam", "https://10.0.0.7/will/x.mp4",
               "https://metadata.google.internal/computeMetadata/v1/", "https://evil.example.com/x.mp4",
               f"{other.url}/will/x.mp4", f"http://localhost:{base.url.rsplit(':', 1)[1]}/will/ok.mp4",
               "ftp://127.0.0.1/x", "file:///etc/passwd"]
        data = _media_data(tmp_path, [f"{base.url}/will/ok.mp4", *bad])
        rep = download_will_files(data, base_url=base.url)
        assert (rep.downloaded, rep.refused, rep.failed) == (1, len(bad), 0)
        assert other.requests == [] and rep.calls == 1
        assert all(r.path == "/will/ok.mp4" for r in base.requests)
        files = load(data, "media_files")
        refused = files[files.path.isna()]
        assert len(refused) == len(bad) and refused.error.str.startswith("URL_NOT_ALLOWED").all()
        ledger = (data / "state" / "quota" / "megvii.log").read_text()
        assert "169.254" not in ledger and "evil" not in ledger


def test_download_url_allow_list_for_real_provider_hosts():
    from faceanalytics.clients._http import download_url_problem

    base = "https://api.megvii.com"
    assert download_url_problem("https://api.megvii.com/f/1.mp4", base) is None
    assert download_url_problem("https://faceid-media.megvii.com/f/1.mp4", base) is None
    for url in ("http://api.megvii.com/f", "https://api.megvii.com:8443/f", "https://megvii.com.evil.io/f",
                "https://169.254.169.254/", "https://[::1]/f", "https://notmegvii.com/f"):
        assert download_url_problem(url, base) is not None, url
    assert download_url_problem("https://cdn.example.net/f", base, (".example.net",)) is None
    assert download_url_problem("https://a.b.example.com.cn/f", "https://api.example.com.cn") is None
    assert download_url_problem("https://other.com.cn/f", "https://api.example.com.cn") is not None


def test_download_media_follows_no_redirect_off_the_host(tmp_path, monkeypatch):
    from faceanalytics.clients.testing import Reply, ScriptedServer

    monkeypatch.setenv("MEGVII_API_KEY", "mk-123456")
    monkeypatch.setenv("MEGVII_API_SECRET", SECRET)
    with ScriptedServer() as base, ScriptedServer() as other:
        other.script("/x.mp4", Reply(200, _will_blob()))
        base.script("/will/off.mp4", Reply(302, b"", headers={"Location": f"{other.url}/x.mp4"}))
        base.script("/will/on.mp4", Reply(302, b"", headers={"Location": "/files/on.mp4"}))
        base.script("/files/on.mp4", Reply(200, _will_blob()))
        data = _media_data(tmp_path, [f"{base.url}/will/off.mp4", f"{base.url}/will/on.mp4"])
        rep = download_will_files(data, base_url=base.url)
        assert rep.downloaded == 1 and rep.failed == 1 and other.requests == []
        assert "INSECURE_REDIRECT" in rep.reasons


def test_download_media_streams_to_disk_under_a_size_cap(tmp_path, monkeypatch):
    from _helpers import traced_peak

    from faceanalytics.clients.testing import Reply, ScriptedServer

    monkeypatch.setenv("MEGVII_API_KEY", "mk-123456")
    monkeypatch.setenv("MEGVII_API_SECRET", SECRET)
    big = _will_blob(24 << 20)                      # made before tracing starts
    with ScriptedServer() as base:
        base.script("/will/big.mp4", Reply(200, big))
        base.script("/will/huge.mp4", Reply(200, big))
        data = _media_data(tmp_path, [f"{base.url}/will/big.mp4"])
        rep, peak = traced_peak(download_will_files, data, base_url=base.url, max_bytes=64 << 20)
        assert rep.downloaded == 1
        assert peak < 8 << 20, f"peak {peak >> 20} MiB while downloading a 24 MiB file"
        row = load(data, "media_files").iloc[0]
        assert (data / row.path).stat().st_size == len(big)
        data2 = _media_data(tmp_path / "2", [f"{base.url}/will/huge.mp4"])
        rep = download_will_files(data2, base_url=base.url, max_bytes=1 << 20)
        assert rep.failed == 1 and "TOO_LARGE" in rep.reasons
        assert not [p for p in (data2 / "media").rglob("*") if p.is_file()]  # nothing left behind


def test_url_credentials_are_never_sent_or_stored(tmp_path, monkeypatch):
    from faceanalytics.clients.testing import Reply, ScriptedServer

    monkeypatch.setenv("MEGVII_API_KEY", "mk-123456")
    monkeypatch.setenv("MEGVII_API_SECRET", SECRET)
    with ScriptedServer() as base:
        base.script("/will/a.mp4", Reply(200, _will_blob()))
        host = base.url.split("//", 1)[1]
        data = _media_data(tmp_path, [f"http://alice:pw-s3cret-77@{host}/will/a.mp4"])
        rep = download_will_files(data, base_url=base.url)
        assert rep.downloaded == 1
        assert "authorization" not in base.requests[0].headers
    for f in data.rglob("*"):
        if f.is_file() and not f.name.endswith(".zst") and "media" not in f.parts[-4:-1]:
            assert b"pw-s3cret-77" not in f.read_bytes(), f
    for table in ("media", "media_files"):
        assert "pw-s3cret-77" not in load(data, table).to_csv()


# --- media file names (issue 13, item 11) ------------------------------------------------------

def test_media_file_names_are_injective(tmp_path):
    """Ids that differ only in characters a file name cannot hold, or in case, get their own files."""
    import base64

    from _helpers import envelope, seed, write_jsonl
    from faceanalytics.flatten._common import safe_name
    from faceanalytics.pipeline.ingest import ingest

    ids = ["a/b", "a_b", "a\x00b", "a\nb", "A_B", "a:b", ".", "..", "a" * 300, "a" * 299 + "b"]
    recs = []
    for i, sid in enumerate(ids):
        p = seed("megvii_lite_success.json")
        jpeg = b"\xff\xd8\xff\xe0" + bytes([i]) * 40          # a different image per session
        p["images"]["image_best"] = "data:image/jpeg;base64," + base64.b64encode(jpeg).decode()
        recs.append(envelope("megvii_lite", sid, p))
    data = tmp_path / "d"
    ingest([write_jsonl(tmp_path / "in.jsonl", recs)], data)
    m = load(data, "media")
    m = m[m.field == "image_best"].set_index("session_id")
    paths = [m.loc[sid, "path"] for sid in ids]
    assert len({p.lower() for p in paths}) == len(ids)        # distinct even case-insensitively
    for i, (sid, path) in enumerate(zip(ids, paths)):
        assert media_bytes(data, m.loc[sid])[4:5] == bytes([i]), sid
        assert all(part not in (".", "..") and "\x00" not in part and "\n" not in part
                   for part in path.split("/"))
    assert safe_name("image_best") == "image_best" and safe_name("tok_1") == "tok_1"
    assert safe_name("1462259748,52b13fb5").startswith("1462259748_52b13fb5~")


def test_temporaries_of_a_killed_run_are_swept_at_the_next_start(tmp_path):
    from faceanalytics.pipeline.ingest import Ingestor

    data = tmp_path / "d"
    code = f"""
import os, signal
from pathlib import Path
from faceanalytics.pipeline.ingest import Ingestor
ing = Ingestor({str(data)!r})
for rel in ("media/megvii_lite/x~1/.tmp-0a1b2c-image_best.jpg",
            "tables.rebuild/sessions/source=megvii_lite/month=2026-11/.tmp-9f-0000.parquet"):
    p = Path({str(data)!r}) / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(b"half written")
os.kill(os.getpid(), signal.SIGKILL)
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == -signal.SIGKILL, r.stderr
    keep = data / "media" / "megvii_lite" / "x~1" / "image_best.jpg"
    keep.write_bytes(b"a finished file")
    assert len(list(data.rglob(".tmp-*"))) == 2
    with Ingestor(data):
        pass
    assert list(data.rglob(".tmp-*")) == []
    assert keep.read_bytes() == b"a finished file"
    # only a run that did not end cleanly is swept after: a writer's files are its own while it runs
    with Ingestor(data):
        t = data / "media" / ".tmp-in-flight"
        t.write_bytes(b"mine")
    with Ingestor(data):
        assert t.exists()


# --- what an unverified request may cost (issue 13, item 7) -----------------------------------

def test_rejected_requests_cost_bounded_disk_and_nothing_in_the_archive(tmp_path):
    rec = CallbackReceiver(tmp_path, port=0, api_secret=SECRET, land_every=60, max_body=8192,
                           rejected_bytes=64 << 10).start()
    try:
        data = v2_data("1700000000,cb-ok")
        assert requests.post(rec.url, json={"data": data, "sign": sign(data)}, timeout=5).ok
        session = requests.Session()
        for i in range(300):           # 300 bodies of ~8 KB with a bad sign: 2.4 MB sent
            bad = v2_data(f"1700000000,cb-bad-{i}") + " " * (7600 - len(data))
            r = session.post(rec.url, json={"data": bad, "sign": "0" * 40}, timeout=5)
            assert r.status_code == 403
        journal = sum(p.stat().st_size for p in (tmp_path / "raw" / "journal").glob("*.jsonl"))
        assert journal < 8192           # only the verified callback was journaled
    finally:
        rec.stop()
    kept = sum(p.stat().st_size for p in (tmp_path / "raw" / "rejected").iterdir())
    assert kept <= (64 << 10) + 8192 * 2
    assert rec.counts["rejected"] == 300 and rec.counts["accepted"] == 1
    assert list(load(tmp_path, "sessions").session_id) == ["1700000000,cb-ok"]
    assert load(tmp_path, "quarantine").empty
    assert all(p.stat().st_mode & 0o077 == 0 for p in (tmp_path / "raw" / "rejected").iterdir())


def test_the_default_body_limit_is_small_and_checked_before_reading(tmp_path):
    from faceanalytics.pipeline.receive import MAX_BODY

    assert MAX_BODY <= 64 << 10
    with CallbackReceiver(tmp_path, port=0, api_secret=SECRET) as rec:
        with socket.create_connection(rec.server.server_address) as s:
            s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 104857600\r\n\r\n")
            s.settimeout(5)
            assert b" 413 " in s.recv(200).split(b"\r\n")[0] + b" "  # answered without the body


def test_a_slow_sender_cannot_hold_a_slot(tmp_path):
    rec = CallbackReceiver(tmp_path, port=0, api_secret=SECRET, max_in_flight=1,
                           read_deadline=0.5, wait_for_slot=0.2).start()
    try:
        with socket.create_connection(rec.server.server_address) as slow:
            slow.sendall(b"POST / HTTP/1.1\r\nContent-Length: 500\r\n\r\n{\"data\"")  # then nothing
            time.sleep(0.1)
            r = requests.post(rec.url, data=b"x", timeout=5)
            assert r.status_code == 503 and r.headers["Retry-After"]
            time.sleep(0.8)               # past the read deadline the slot is free again
            data = v2_data("1700000000,cb-after")
            assert requests.post(rec.url, json={"data": data, "sign": sign(data)}, timeout=5).ok
    finally:
        rec.stop()
    assert rec.counts["busy"] == 1


def test_connections_that_never_finish_their_headers_are_capped(tmp_path):
    """Slowloris: each open connection holds a thread; past max_connections a new one gets
    503 at once (no thread), and once they close the receiver serves again."""
    rec = CallbackReceiver(tmp_path, port=0, api_secret=SECRET, max_connections=3, header_deadline=60).start()
    try:
        idle = [socket.create_connection(rec.server.server_address) for _ in range(3)]
        for s in idle:
            s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\n")                  # headers never end
        with socket.create_connection(rec.server.server_address) as extra:
            extra.settimeout(5)
            assert extra.recv(200).startswith(b"HTTP/1.1 503 ")
        assert rec.server.refused == 1
        for s in idle:
            s.close()
        for _ in range(100):                       # their threads see the close and free their places
            try:
                if requests.get(rec.url + "/health", timeout=5).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            time.sleep(0.05)
        data = v2_data("1700000000,cb-after-idle")
        assert requests.post(rec.url, json={"data": data, "sign": sign(data)}, timeout=5).ok
    finally:
        rec.stop()


def test_receive_refuses_to_start_without_the_secret(tmp_path, monkeypatch):
    monkeypatch.delenv("MEGVII_API_SECRET", raising=False)
    with pytest.raises(ValueError, match="MEGVII_API_SECRET"):
        CallbackReceiver(tmp_path, port=0)
    env = {k: v for k, v in os.environ.items() if k != "MEGVII_API_SECRET"}
    r = subprocess.run([sys.executable, "-m", "faceanalytics.cli", "receive", "--data", str(tmp_path),
                        "--port", "0"], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "MEGVII_API_SECRET" in r.stderr


def test_headers_sent_a_byte_at_a_time_are_dropped_at_the_deadline(tmp_path):
    """Slowloris within the cap: a connection that has not finished its headers by the
    header deadline is closed, however steadily it drips, and its place is free again."""
    rec = CallbackReceiver(tmp_path, port=0, api_secret=SECRET, max_connections=1, header_deadline=0.5).start()
    try:
        with socket.create_connection(rec.server.server_address) as slow:
            slow.settimeout(5)
            closed = False
            for byte in b"POST / HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"y" * 200:   # a byte every 50 ms: 10 s
                try:
                    slow.sendall(bytes([byte]))
                except OSError:
                    closed = True
                    break
                time.sleep(0.05)
            assert closed or slow.recv(100) == b""      # not served, not kept: closed
        data = v2_data("1700000000,cb-after-slow")
        assert requests.post(rec.url, json={"data": data, "sign": sign(data)}, timeout=5).ok
    finally:
        rec.stop()


@pytest.mark.parametrize("args", [["--max-body", "-5"], ["--max-body", "0"], ["--max-body", str(1 << 40)],
                                  ["--rejected-bytes", "-1"]])
def test_receive_refuses_a_body_or_store_limit_out_of_range(tmp_path, args, capsys):
    """``--max-body -5`` answered every callback 413 (all of them lost to a typo); a limit of
    1 TiB let each of 16 requests hold that much in memory."""
    from faceanalytics.cli import main

    with pytest.raises(SystemExit) as e:
        main(["receive", "--data", str(tmp_path), "--port", "0", *args])
    assert e.value.code == 2 and "a number of bytes" in capsys.readouterr().err


def test_a_blank_secret_is_no_secret(tmp_path):
    """``MEGVII_API_SECRET=" "`` started a receiver that rejected every callback (403)."""
    with pytest.raises(ValueError, match="MEGVII_API_SECRET"):
        CallbackReceiver(tmp_path, port=0, api_secret="  ")
