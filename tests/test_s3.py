"""The data directory on S3, against a real S3-protocol server (moto, server mode) on
127.0.0.1: same tables as on local disk, re-ingest and replacement, the commit
protocol under crashes, rebuild, pruning, pandas, the writer lock, the CLI.

No traffic leaves loopback: the endpoint is the local server, and instance-metadata
lookups are switched off.
"""
import datetime as _dt
import json
import logging
import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pandas as pd
import pytest
from pandas.testing import assert_frame_equal
from pyarrow import fs as pafs

from faceanalytics.storage import durable, paths
from faceanalytics.storage import lock as lock_mod
from faceanalytics.storage import errors as storage_errors
from faceanalytics.storage import s3 as _s3
from faceanalytics.storage import tables as store_mod
from faceanalytics.pipeline.ingest import Ingestor, ingest, rebuild
from faceanalytics.schema import TABLES
from faceanalytics.storage.errors import DamagedTable
from faceanalytics.storage.tables import load

from _helpers import LITE_ID, envelope, liveness_in_three_months, offline_aws_env, seed, write_jsonl  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


# --- the server ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def endpoint():
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    srv = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    srv.start()
    host, port = srv.get_host_and_port()
    assert host == "127.0.0.1"
    yield f"http://{host}:{port}"
    srv.stop()


@pytest.fixture
def s3env(endpoint, monkeypatch, tmp_path):
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "AWS_DEFAULT_REGION",
                 "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE",
                 "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                 "FACEANALYTICS_S3_LOCK_WAIT", "FACEANALYTICS_S3_SINGLE_WRITER"):
        monkeypatch.delenv(name, raising=False)
    offline_aws_env(monkeypatch, tmp_path, endpoint)
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)  # for pyarrow's and pandas' own S3 access
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    return endpoint


@pytest.fixture
def raw_s3(s3env):
    host_port = s3env.split("://", 1)[1]
    return pafs.S3FileSystem(endpoint_override=host_port, scheme="http", region="us-east-1",
                             access_key="testing", secret_key="testing", allow_bucket_creation=True)


@pytest.fixture
def data(raw_s3):
    """A fresh bucket; the data directory is a prefix in it."""
    bucket = f"fa-{uuid.uuid4().hex[:12]}"
    raw_s3.create_dir(bucket)
    return f"s3://{bucket}/team/data"


def keys(raw_s3, uri, sub=""):
    """Object keys under the data directory (relative), directory markers left out."""
    base = uri[len("s3://"):] + ("/" + sub if sub else "")
    infos = raw_s3.get_file_info(pafs.FileSelector(base, recursive=True, allow_not_found=True))
    root = uri[len("s3://"):] + "/"
    return sorted(i.path[len(root):] for i in infos if i.type == pafs.FileType.File)


def copy_key(raw_s3, local_data: Path, uri: str) -> None:
    """Give the S3 data directory the local one's PII key, so the hashes compare equal."""
    with raw_s3.open_output_stream(uri[len("s3://"):] + "/state/pii.key") as f:
        f.write((local_data / "state" / "pii.key").read_bytes())


def _table(data, name):
    df = load(data, name)
    order = [c for c in ("source", "session_id", "comparison", "attack", "api", "attempt", "field",
                         "raw_sha1", "detail", "question") if c in df]
    return df.sort_values(order).reset_index(drop=True)


@pytest.fixture
def seeds_file(tmp_path):
    """Every source's seed payloads in envelopes, plus three lines that cannot land (two
    unreadable, one callback whose sign cannot be checked without MEGVII_API_SECRET)."""
    return write_jsonl(tmp_path / "seeds.jsonl", [
        envelope("megvii_lite", LITE_ID, seed("megvii_lite_success.json")),
        envelope("megvii_lite", "1700000000,tablefields", seed("megvii_lite_table_fields.json")),
        envelope("megvii_lite", "1700000001,err", seed("megvii_lite_error.json"), status=400),
        envelope("megvii_liveness", "1462259748,v2", seed("megvii_liveness_success.json")),
        envelope("megvii_liveness", "1462259748,vt", seed("megvii_liveness_verify_result_table.json")),
        envelope("megvii_notify", "1462259748,cb", seed("megvii_notify_callback.json")),
        envelope("baidu_getall", "tokA", seed("baidu_getall.json")),
        envelope("baidu_getall", "tokB", seed("baidu_getall_table_fields.json")),
        envelope("baidu_stat", "tokA", seed("baidu_stat.json")),
        envelope("baidu_detail", "tokA", seed("baidu_detail.json")),
        envelope("baidu_detail", "tokC", seed("baidu_detail_table_fields.json")),
        envelope("baidu_simple", "tokA", seed("baidu_simple.json")),
        envelope("baidu_media", "tokA", seed("baidu_media.json")),
        "not json at all",
        envelope("nope", "x", {}),
    ])


def newer_lite(tmp_path):
    payload = seed("megvii_lite_table_fields.json") | {"biz_info": {"biz_id": LITE_ID}}
    return write_jsonl(tmp_path / "newer.jsonl", [
        envelope("megvii_lite", LITE_ID, payload, fetched_at="2026-11-21T00:00:00Z")])


def _comparable(df, table):
    # Quarantine rows carry the time each copy was received.
    return df.drop(columns=["session_time", "fetched_at"]) if table == "quarantine" else df


# --- the tests ----------------------------------------------------------------------------
def test_s3_ingest_gives_the_local_tables_and_reingest_adds_nothing(tmp_path, seeds_file, data, raw_s3):
    local = tmp_path / "local"
    rep_local = ingest([seeds_file], local)
    copy_key(raw_s3, local, data)
    rep = ingest([seeds_file], data)
    assert (rep.read, rep.landed, rep.quarantined) == (rep_local.read, rep_local.landed,
                                                      rep_local.quarantined) == (15, 12, 3)
    for t in TABLES:
        assert_frame_equal(_comparable(_table(data, t), t), _comparable(_table(local, t), t),
                           obj=t)
    assert len(load(data, "comparisons")) > 0 and len(load(data, "sessions")) == 12

    objects = keys(raw_s3, data)
    segs = [k for k in objects if k.startswith("raw/")]
    assert len(segs) == 1 and segs[0].endswith(".jsonl.zst")
    assert "state/pii.key" in objects
    assert not [k for k in objects if "/.tmp-" in k or k.startswith("state/txn-")]
    assert "state/writer.lock" not in objects  # released
    assert all(k.startswith(("raw/", "state/", "tables/", "media/")) for k in objects)

    # The same input again: no new segment, no new row.
    rep = ingest([seeds_file], data)
    assert (rep.landed, rep.skipped) == (0, 12)
    assert keys(raw_s3, data, "raw") == segs
    assert len(load(data, "sessions")) == 12


def test_newer_fetch_replaces_older_rows(tmp_path, seeds_file, data):
    ingest([seeds_file], data)
    before = _table(data, "comparisons")
    rep = ingest([newer_lite(tmp_path)], data)
    assert (rep.landed, rep.replaced) == (1, 1)
    after = _table(data, "comparisons")
    mine = after[after.session_id == LITE_ID]
    assert len(mine) == 4 and set(mine.fetched_at) == {pd.Timestamp("2026-11-21", tz="UTC")}
    others = lambda df: df[df.session_id != LITE_ID].reset_index(drop=True)  # noqa: E731
    assert_frame_equal(others(after), others(before))
    s = load(data, "sessions")
    assert (s.session_id == LITE_ID).sum() == 1
    # The older fetch again ranks lower: skipped.
    assert ingest([seeds_file], data).landed == 0


def test_crash_before_commit_point_leaves_previous_state(tmp_path, seeds_file, data, raw_s3):
    ingest([seeds_file], data)
    before = _table(data, "comparisons")

    def boom(*a, **k):
        raise OSError("connection reset (simulated)")

    with pytest.MonkeyPatch.context() as mp, pytest.raises(OSError):
        mp.setattr(store_mod, "atomic_write_bytes", boom)  # the commit record cannot be PUT
        ingest([newer_lite(tmp_path)], data)
    assert [k for k in keys(raw_s3, data, "tables") if "/.tmp-" in k]  # hidden, unreferenced
    assert_frame_equal(_table(data, "comparisons"), before)
    assert not keys(raw_s3, data, "state/txn-tables")
    Ingestor(data).close()  # the next open sweeps them
    assert not [k for k in keys(raw_s3, data) if "/.tmp-" in k]
    rep = ingest([newer_lite(tmp_path)], data)  # a re-run completes the work
    assert (rep.landed, rep.replaced) == (1, 1)
    assert len(_table(data, "comparisons").query("session_id == @LITE_ID")) == 4


def test_crash_after_commit_point_rolls_forward(seeds_file, data, raw_s3):
    def apply_then_die(self, plan):
        raise KeyboardInterrupt  # killed right after the record was written

    with pytest.MonkeyPatch.context() as mp, pytest.raises(KeyboardInterrupt):
        mp.setattr(store_mod.Store, "_apply", apply_then_die)
        ingest([seeds_file], data)
    assert len(keys(raw_s3, data, "state/txn-tables")) == 1
    # Readers see nothing half-done: only hidden temporaries exist so far.
    assert not [k for k in keys(raw_s3, data, "tables") if "/part-" in k]
    assert load(data, "comparisons").empty
    Ingestor(data).close()  # opening rolls the committed transaction forward
    assert not keys(raw_s3, data, "state/txn-tables")
    assert len(load(data, "sessions")) == 12
    rep = ingest([seeds_file], data)
    assert rep.landed == 0 and rep.skipped == 12


def test_crash_midway_through_applying_a_replacement(tmp_path, seeds_file, data, raw_s3):
    """What a reader can see between the commit point and its completion on S3."""
    ingest([seeds_file], data)
    before = _table(data, "sessions")
    real_move = store_mod._move
    moved = []

    def move_some(src, dst):
        if len(moved) == 2:
            raise OSError("killed between two copies (simulated)")
        moved.append(dst)
        return real_move(src, dst)

    with pytest.MonkeyPatch.context() as mp, pytest.raises(OSError):
        mp.setattr(store_mod, "_move", move_some)
        ingest([newer_lite(tmp_path)], data)
    mid = _table(data, "sessions")
    # Partly applied: nothing lost, nothing torn; the superseded fetch may show twice.
    assert set(before.session_id) <= set(mid.session_id)
    assert len(mid) >= len(before)
    Ingestor(data).close()
    after = _table(data, "sessions")
    assert len(after) == len(before) and (after.session_id == LITE_ID).sum() == 1
    assert after.set_index("session_id").loc[LITE_ID, "fetched_at"] == pd.Timestamp("2026-11-21", tz="UTC")
    assert not keys(raw_s3, data, "state/txn-tables")


def test_rebuild_from_the_s3_archive_and_a_crash_during_its_swap(seeds_file, data, raw_s3):
    ingest([seeds_file], data)
    before = {t: _comparable(_table(data, t), t) for t in TABLES}
    rep = rebuild(data)
    assert (rep.read, rep.landed, rep.quarantined) == (15, 12, 3)
    for t in TABLES:
        assert_frame_equal(_comparable(_table(data, t), t), before[t], obj=t)
    assert not [k for k in keys(raw_s3, data) if k.startswith(("tables.rebuild/", "state/txn-"))]

    # Killed after the swap's record: the next open finishes moving the new tables in.
    real_apply = store_mod.Store._apply

    def die_on_swap(self, plan):
        if plan.get("src"):
            raise KeyboardInterrupt
        return real_apply(self, plan)

    with pytest.MonkeyPatch.context() as mp, pytest.raises(KeyboardInterrupt):
        mp.setattr(store_mod.Store, "_apply", die_on_swap)
        rebuild(data)
    assert len(load(data, "sessions")) == 12  # the old tables, still whole
    Ingestor(data).close()
    for t in TABLES:
        assert_frame_equal(_comparable(_table(data, t), t), before[t], obj=t)
    assert not keys(raw_s3, data, "state/txn-tables")


def test_load_prunes_months_on_s3(tmp_path, data, raw_s3):
    ingest([liveness_in_three_months(tmp_path / "t.jsonl")], data)
    parts = keys(raw_s3, data, "tables/comparisons/source=megvii_liveness")
    assert {k.split("/")[3] for k in parts} == {"month=2016-05", "month=2023-11", "month=2025-10"}
    # Plant an unreadable file in a month outside the range: pruning never opens it.
    bad = data[len("s3://"):] + "/tables/comparisons/source=megvii_liveness/month=2016-05/part-zz.parquet"
    with raw_s3.open_output_stream(bad) as f:
        f.write(b"not parquet")
    df = load(data, "comparisons", since="2023-01-01", until="2025-01-01")
    assert set(df.session_id) == {"1700000000,id1"}
    assert load(data, "comparisons", since="2025-10-01")["session_id"].nunique() == 1
    with pytest.raises(DamagedTable, match="not a readable table file"):
        load(data, "comparisons")  # no range: every month is read
    assert load(data, "sessions", since="2030-01-01").empty
    assert list(load(data, "attempts").columns)[:5] == \
        ["source", "month", "session_id", "fetched_at", "session_time"]


def test_pandas_reads_the_s3_tables(seeds_file, data, s3env):
    ingest([seeds_file], data)
    expected = len(load(data, "comparisons"))
    # pandas hands s3:// to pyarrow's S3 filesystem (endpoint from AWS_ENDPOINT_URL).
    assert len(pd.read_parquet(f"{data}/tables/comparisons")) == expected
    assert {"attempt", "passed", "score"} <= set(pd.read_parquet(f"{data}/tables/attempts").columns)
    try:
        import s3fs  # noqa: F401
    except ImportError:
        return  # the fsspec route needs s3fs; the rest of this test has run
    opts = {"key": "testing", "secret": "testing", "client_kwargs": {"endpoint_url": s3env}}
    df = pd.read_parquet(f"{data}/tables/comparisons", storage_options=opts)
    assert len(df) == expected and {"confidence", "source", "month"} <= set(df.columns)
    assert len(pd.read_parquet(f"{data}/tables/quarantine", storage_options=opts)) == 3


def test_cli_ingest_and_rebuild_with_s3_data(seeds_file, data, tmp_path):
    env = {k: v for k, v in os.environ.items()}
    run = lambda *args: subprocess.run([sys.executable, "-m", "faceanalytics.cli", *args],  # noqa: E731
                                       capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    r = run("ingest", str(seeds_file), "--data", data)
    assert r.returncode == 0, r.stderr
    assert "landed 12" in r.stdout
    r = run("rebuild", "--data", data)
    assert r.returncode == 0, r.stderr
    assert "landed 12" in r.stdout and len(load(data, "sessions")) == 12
    ids = write_jsonl(tmp_path / "ids.txt", ["1700000000,x"])
    r = run("fetch", "megvii-lite", "--ids", str(ids), "--data", data)
    assert r.returncode == 2 and "local data directory" in r.stderr


def test_fetch_and_receive_refuse_s3(data):
    from faceanalytics.pipeline.fetch import fetch_megvii
    from faceanalytics.pipeline.receive import CallbackReceiver

    with pytest.raises(storage_errors.StorageConfigError, match="local data directory"):
        fetch_megvii(["1700000000,x"], data, progress=False)
    with pytest.raises(storage_errors.StorageConfigError, match="local data directory"):
        CallbackReceiver(data, port=0)


def test_plain_http_endpoint_only_on_loopback(monkeypatch, s3env):
    monkeypatch.setenv("FACEANALYTICS_S3_ENDPOINT", "http://s3.example.com:9000")
    with pytest.raises(storage_errors.StorageConfigError, match="loopback"):
        paths.data_path("s3://bucket/prefix")
    monkeypatch.setenv("FACEANALYTICS_S3_ENDPOINT", "http://localhost:9000")
    assert paths.data_path("s3://bucket/prefix").cfg.endpoint == "http://localhost:9000"
    assert isinstance(paths.data_path(Path("s3://bucket/p")), paths.S3Path)  # argparse's Path()
    with pytest.raises(storage_errors.StorageConfigError):
        paths.data_path("gs://bucket/prefix")


# --- the writer lock ------------------------------------------------------------------
def test_a_second_writer_waits_for_the_first(data, tmp_path):
    code = ("import sys; from faceanalytics.pipeline.ingest import Ingestor\n"
            "try:\n    Ingestor(sys.argv[1]).close()\n"
            "except OSError as e:\n    print(type(e).__name__, e); sys.exit(3)\n")
    env = dict(os.environ, FACEANALYTICS_S3_LOCK_WAIT="1")
    with Ingestor(data):
        r = subprocess.run([sys.executable, "-c", code, data], capture_output=True, text=True,
                           env=env, cwd=ROOT, timeout=120)
        assert r.returncode == 3 and "WriterBusy" in r.stdout, r.stdout + r.stderr
        assert f"host {socket.gethostname()}" in r.stdout
    r = subprocess.run([sys.executable, "-c", code, data], capture_output=True, text=True,
                       env=env, cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr


def test_a_dead_writers_lock_is_taken_over(data, raw_s3):
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()  # a pid that no longer runs on this host
    lock = data[len("s3://"):] + "/state/writer.lock"
    with raw_s3.open_output_stream(lock) as f:
        f.write(json.dumps({"token": "dead", "host": socket.gethostname(), "pid": p.pid,
                            "proc": "x:1", "at": _dt.datetime.now().isoformat()}).encode())
    with Ingestor(data) as ing:  # no wait for the lease to expire
        body = json.loads(raw_s3.open_input_stream(lock).read())
        assert body["token"] == lock_mod._HELD[ing._lock.ident].token
    assert not raw_s3.get_file_info(lock).is_file


def test_a_writer_that_lost_its_lock_does_not_commit(seeds_file, data, raw_s3):
    lock = data[len("s3://"):] + "/state/writer.lock"
    with pytest.raises(storage_errors.LockLost):
        with Ingestor(data) as ing:
            # Another writer broke the lease and took over.
            with raw_s3.open_output_stream(lock) as f:
                f.write(b'{"token": "someone else"}')
            ing._lock._confirmed = 0.0  # as if the last renewal were long ago
            ing.ingest_lines(seeds_file.read_bytes().splitlines())
    assert not keys(raw_s3, data, "state/txn-tables")
    assert not [k for k in keys(raw_s3, data, "tables") if "/part-" in k]
    assert raw_s3.open_input_stream(lock).read() == b'{"token": "someone else"}'  # left alone


def test_the_lease_is_renewed_with_if_match(data, monkeypatch):
    monkeypatch.setenv("FACEANALYTICS_S3_LOCK_TTL", "0.6")  # a beat every 0.1 s
    import time

    with Ingestor(data) as ing:
        first = ing._lock._beats
        time.sleep(0.5)
        assert ing._lock._beats > first and not ing._lock.lost
        ing._lock.fence()


def test_servers_without_conditional_writes_need_a_declared_single_writer(seeds_file, data,
                                                                          monkeypatch):
    monkeypatch.setattr(lock_mod, "conditional_writes_supported", lambda client, key: False)
    with pytest.raises(storage_errors.StorageConfigError, match="FACEANALYTICS_S3_SINGLE_WRITER"):
        ingest([seeds_file], data)
    monkeypatch.setenv("FACEANALYTICS_S3_SINGLE_WRITER", "1")
    assert ingest([seeds_file], data).landed == 12  # the PII key is created check-then-put
    assert len(load(data, "sessions")) == 12


# --- botocore: credentials, endpoints, conditional writes ----------------------------------
def _signed_with(cfg):
    """Access key ids of the Authorization headers botocore sends from now on."""
    seen = []

    def hook(request, **_):
        auth = request.headers.get("Authorization", b"")
        auth = auth.decode() if isinstance(auth, bytes) else auth
        seen.append(auth.split("Credential=", 1)[1].split("/", 1)[0])

    _s3._boto_client(cfg).meta.events.register("before-send.s3", hook)
    return seen


def _fs_credentials(fs):
    """What a pyarrow S3FileSystem was built with (from its pickling arguments)."""
    kw = fs.__reduce__()[1][0]
    return kw["access_key"], kw["secret_key"], kw["session_token"] or None


def _no_env_credentials(monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                 "FACEANALYTICS_S3_ENDPOINT", "AWS_ENDPOINT_URL", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)


def test_a_profile_from_the_shared_files_gives_credentials_region_and_endpoint(
        tmp_path, seeds_file, data, s3env, monkeypatch):
    (tmp_path / "config").write_text(
        f"[profile analyst]\nregion = eu-central-1\nendpoint_url = {s3env}\n\n"
        "[profile dev]\nservices = local\n\n"
        "[services local]\ns3 =\n  endpoint_url = http://127.0.0.1:1\n\n"
        "[profile remote]\nendpoint_url = http://s3.example.com\n")
    (tmp_path / "credentials").write_text(
        "[analyst]\naws_access_key_id = AKIDANALYST\naws_secret_access_key = analyst-secret-1\n"
        "[dev]\naws_access_key_id = AKIDDEV\naws_secret_access_key = dev-secret-12\n"
        "[remote]\naws_access_key_id = AKIDREMOTE\naws_secret_access_key = remote-secret\n")
    _no_env_credentials(monkeypatch)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_PROFILE", "analyst")

    root = paths.data_path(data)
    assert root.cfg == _s3.S3Config(s3env, "eu-central-1")  # both from the profile
    signed = _signed_with(root.cfg)
    assert ingest([seeds_file], data).landed == 12
    assert signed and set(signed) == {"AKIDANALYST"}  # every write, the lock's too
    assert _fs_credentials(root.fs) == ("AKIDANALYST", "analyst-secret-1", None)  # and the reads
    assert len(load(data, "sessions")) == 12

    monkeypatch.setenv("AWS_PROFILE", "dev")  # the endpoint from a services section
    assert _s3.config_for("bucket").endpoint == "http://127.0.0.1:1"
    monkeypatch.setenv("AWS_PROFILE", "remote")  # plain http off loopback: refused
    with pytest.raises(storage_errors.StorageConfigError, match="endpoint_url is plain http"):
        paths.data_path("s3://bucket/prefix")
    monkeypatch.setenv("AWS_PROFILE", "nobody")
    with pytest.raises(storage_errors.StorageConfigError, match="nobody"):
        paths.data_path("s3://bucket/prefix")


CREDENTIAL_PROCESS = """\
import datetime, json, pathlib, sys
counter = pathlib.Path(sys.argv[1])
n = int(counter.read_text() or 0) + 1 if counter.exists() else 1
counter.write_text(str(n))
if pathlib.Path(sys.argv[2]).exists():
    sys.stderr.write("refused: proc-leaked-secret-in-stderr\\n")
    sys.exit(1)
expires = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=n)
print(json.dumps({"Version": 1, "AccessKeyId": f"ASIAPROC{n:04d}",
                  "SecretAccessKey": f"proc-secret-{n}-abcdef", "SessionToken": f"proc-token-{n}-abcdef",
                  "Expiration": expires.strftime("%Y-%m-%dT%H:%M:%SZ")}))
"""


def test_a_credential_process_profile_and_its_refresh_reach_reads_and_writes(
        tmp_path, seeds_file, data, s3env, monkeypatch):
    import botocore.credentials

    script, counter, broken = tmp_path / "creds.py", tmp_path / "n", tmp_path / "broken"
    script.write_text(CREDENTIAL_PROCESS)
    (tmp_path / "config").write_text(
        f"[profile proc]\ncredential_process = {sys.executable} {script} {counter} {broken}\n")
    _no_env_credentials(monkeypatch)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_PROFILE", "proc")
    monkeypatch.setenv("FACEANALYTICS_S3_ENDPOINT", s3env)

    root = paths.data_path(data)
    signed = _signed_with(root.cfg)
    assert ingest([seeds_file], data).landed == 12
    assert set(signed) == {"ASIAPROC0001"}
    fs = root.fs
    assert _fs_credentials(fs) == ("ASIAPROC0001", "proc-secret-1-abcdef", "proc-token-1-abcdef")
    assert root.fs is fs  # not rebuilt while the credentials hold

    # 55 minutes later the credentials are inside botocore's refresh window: the process
    # runs again, and reads and writes move to the new credentials together.
    later = botocore.credentials._local_now() + _dt.timedelta(minutes=55)
    monkeypatch.setattr(_s3._credentials(), "_time_fetcher", lambda: later)  # botocore's clock
    assert _fs_credentials(root.fs) == ("ASIAPROC0002", "proc-secret-2-abcdef", "proc-token-2-abcdef")
    assert _fs_credentials((root / "tables").fs) == _fs_credentials(root.fs)
    assert len(load(data, "sessions")) == 12
    del signed[:]
    ingest([newer_lite(tmp_path)], data)
    assert signed and set(signed) == {"ASIAPROC0002"}
    assert counter.read_text() == "2"

    # A process that fails: a clear error that does not quote what the process printed.
    broken.touch()
    monkeypatch.setenv("AWS_PROFILE", "proc")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "other"))  # a new session
    with pytest.raises(storage_errors.StorageConfigError) as e:
        load(data, "sessions")
    assert "custom-process" in str(e.value) and "leaked" not in str(e.value)


def test_no_credentials_is_a_clear_error(data, s3env, monkeypatch):
    _no_env_credentials(monkeypatch)
    monkeypatch.setenv("FACEANALYTICS_S3_ENDPOINT", s3env)
    with pytest.raises(storage_errors.StorageConfigError, match="no AWS credentials found"):
        load(data, "sessions")
    with pytest.raises(storage_errors.StorageConfigError, match="no AWS credentials found"):
        ingest([], data)


def test_conditional_writes_copy_and_delete(data):
    root = paths.data_path(data)
    c = _s3.client(root.cfg, root.bucket)
    key = f"{root.key}/state/x"
    first = c.put_if_absent(key, b"one")
    assert first is not None
    assert c.put_if_absent(key, b"two") is None  # a second create fails
    assert c.get(key).body == b"one"
    second = c.put_if_match(key, b"three", first)
    assert second not in (None, first) and c.get(key).body == b"three"
    assert c.put_if_match(key, b"four", first) is None  # a stale ETag fails
    assert c.get(key).body == b"three"
    assert c.put_if_match(f"{key}-missing", b"five", first) is None
    assert c.get(f"{key}-missing") is None
    assert c.copy(key, f"{key}-copy") and c.get(f"{key}-copy").body == b"three"
    assert not c.copy(f"{key}-missing", f"{key}-copy2")
    assert not c.delete(key, first)  # a stale ETag: kept
    assert c.get(key) is not None
    assert c.delete(key, second) and c.get(key) is None
    assert c.delete(f"{key}-copy") and c.get(f"{key}-copy") is None
    assert _s3.conditional_writes_supported(c, f"{root.key}/state/.probe")
    # The same through the store's primitive: an exclusive create of an existing object fails.
    durable.atomic_write_bytes(root / "state" / "y", b"1", exclusive=True)
    with pytest.raises(FileExistsError):
        durable.atomic_write_bytes(root / "state" / "y", b"2", exclusive=True)
    assert (root / "state" / "y").read_bytes() == b"1"


def test_a_conditional_write_whose_answer_was_lost_is_recognised_on_retry(data):
    """botocore retries a dropped connection; when the first attempt had landed, the retry's
    412 is our own write, not another writer's."""
    import botocore.exceptions
    import requests

    root = paths.data_path(data)
    c = _s3.client(root.cfg, root.bucket)
    key = f"{root.key}/state/retried"
    dropped = []

    def land_then_drop(request, **_):
        if dropped or request.method != "PUT":
            return None
        dropped.append(request.url)
        with requests.Session() as s:  # the request reaches the server ...
            s.trust_env = False
            s.request(request.method, request.url, headers=dict(request.headers), data=request.body)
        raise botocore.exceptions.ConnectionClosedError(endpoint_url=request.url)  # ... its answer not

    events = _s3._boto_client(root.cfg).meta.events
    events.register("before-send.s3.PutObject", land_then_drop)
    try:
        etag = c.put_if_absent(key, b"mine")
        assert dropped and etag == c.get(key).etag and c.get(key).body == b"mine"
        dropped.clear()
        assert c.put_if_match(key, b"mine, beat 2", etag) == c.get(key).etag
        # A refusal stays a refusal when the retry finds another body.
        dropped.clear()
        assert c.put_if_absent(key, b"another body") is None
        assert dropped  # (the first attempt was refused too: it carried If-None-Match)
    finally:
        events.unregister("before-send.s3.PutObject", land_then_drop)
    assert c.get(key).body == b"mine, beat 2"


def test_without_botocore_s3_names_the_extra(monkeypatch, seeds_file, s3env):
    for name in ("botocore", "botocore.session", "botocore.exceptions", "botocore.config"):
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(storage_errors.StorageConfigError, match=r"pip install 'faceanalytics\[s3\]'"):
        paths.data_path("s3://bucket/prefix")
    with pytest.raises(storage_errors.StorageConfigError, match=r"faceanalytics\[s3\]"):
        load("s3://bucket/prefix", "sessions")
    assert paths.data_path("local/dir") == Path("local/dir")  # local directories need nothing
    code = ("import sys; sys.modules['botocore'] = None\n"
            "from faceanalytics.cli import main; sys.exit(main(sys.argv[1:]))")
    r = subprocess.run([sys.executable, "-c", code, "ingest", str(seeds_file), "--data",
                        "s3://bucket/prefix"], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 2 and "pip install 'faceanalytics[s3]'" in r.stderr, r.stderr


def test_secrets_stay_out_of_botocore_logs_messages_and_reprs(data, monkeypatch, caplog):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDLOGTEST")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "log-test-secret-key")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "log-test-session-token")
    caplog.set_level(logging.DEBUG, logger="botocore")
    root = paths.data_path(data)
    c = _s3.client(root.cfg, root.bucket)
    c.put(f"{root.key}/state/x", b"x")
    assert c.get(f"{root.key}/state/x").body == b"x"
    assert (root / "state" / "x").read_bytes() == b"x"
    # an STS or SSO answer, as botocore's parser logs it
    logging.getLogger("botocore.parsers").debug(
        "Response body:\n%r", b"<SecretAccessKey>sts-secret-abcdef</SecretAccessKey>"
        b"<SessionToken>sts-token-abcdef</SessionToken>")
    logging.getLogger("botocore.parsers").debug(
        "%s", '{"roleCredentials": {"secretAccessKey": "sso-secret-abcdef", "sessionToken": "x"}}')
    text = caplog.text
    assert "X-Amz-Security-Token" in text or "x-amz-security-token" in text  # the filter saw them
    for secret in ("log-test-secret-key", "log-test-session-token", "sts-secret-abcdef",
                   "sts-token-abcdef", "sso-secret-abcdef"):
        assert secret not in text
    for shown in (repr(root), str(root), repr(root.cfg), repr(c), repr(_s3.frozen_credentials())):
        assert "log-test-secret-key" not in shown and "log-test-session-token" not in shown
    with pytest.raises(storage_errors.S3Error) as e:
        _s3.client(root.cfg, "no-such-bucket-here").put("k", b"x")
    assert "log-test" not in str(e.value) and e.value.status == 404
    monkeypatch.setenv("FACEANALYTICS_S3_ENDPOINT", "http://user:log-test-pw@127.0.0.1:9")
    with pytest.raises(storage_errors.StorageConfigError) as e:
        paths.data_path("s3://bucket/p")
    assert "log-test-pw" not in str(e.value)


def test_inline_images_land_as_one_pack_object_per_chunk_and_read_back(tmp_path, data, raw_s3):
    """Issue 12: one PUT per pack, not per image; ``media_bytes`` reads a member with a ranged GET."""
    import base64

    from faceanalytics.storage.media import load_media, media_bytes

    recs, want = [], {}
    for i in range(12):
        p = seed("megvii_lite_success.json")
        blob = b"\xff\xd8\xff\xe0" + bytes([i]) * (100 + i)
        p["images"] = {"image_best": "data:image/jpeg;base64," + base64.b64encode(blob).decode()}
        recs.append(envelope("megvii_lite", f"1700000000,p{i}", p))
        want[f"1700000000,p{i}"] = blob
    path = write_jsonl(tmp_path / "img.jsonl", recs)
    ingest([path], data)
    packs = keys(raw_s3, data, "media")
    assert len(packs) == 1 and packs[0].startswith("media/packs/megvii_lite/") and packs[0].endswith(".zip")
    m = load(data, "media")
    assert {r.session_id: media_bytes(data, r) for r in m.itertuples()} == want
    assert load_media(data, "1700000000,p3") == {"image_best": want["1700000000,p3"]}
    ingest([path], data)                                  # again: no new object, no new row
    assert keys(raw_s3, data, "media") == packs and len(load(data, "media")) == 12
    rebuild(data)                                         # the same chunk names the same pack
    assert keys(raw_s3, data, "media") == packs
    assert {r.session_id: media_bytes(data, r) for r in load(data, "media").itertuples()} == want

    # small landings: their packs merged into one at the end of the run, the small ones deleted
    from faceanalytics.storage import packs as packs_mod

    data2 = data + "-small"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(packs_mod, "COMPACT_AT", 3)
        ingest([path], data2, chunk_size=2)               # six chunks, six packs, then one
    # named by its members: the pack the whole file gave as one chunk
    assert keys(raw_s3, data2, "media") == packs
    assert {r.session_id: media_bytes(data2, r) for r in load(data2, "media").itertuples()} == want


@pytest.mark.parametrize("name, value", [
    ("FACEANALYTICS_S3_LOCK_TTL", "abc"), ("FACEANALYTICS_S3_LOCK_TTL", "-5"), ("FACEANALYTICS_S3_LOCK_TTL", "0"),
    ("FACEANALYTICS_S3_LOCK_TTL", "inf"), ("FACEANALYTICS_S3_LOCK_TTL", "nan"),
    ("FACEANALYTICS_S3_LOCK_WAIT", "soon"), ("FACEANALYTICS_S3_LOCK_WAIT", "-1")])
def test_a_lock_time_that_is_not_a_number_of_seconds_is_refused_by_name(data, monkeypatch, name, value):
    """A TTL of -5 let the next writer delete a live writer's lock at once, ``inf`` crashed the
    heartbeat thread (a traceback, the lease never renewed), ``abc`` said only "could not
    convert string to float": each is now a configuration error that names the variable,
    before the lock is taken."""
    monkeypatch.setenv(name, value)
    with pytest.raises(storage_errors.StorageConfigError, match=name):
        Ingestor(data)


def test_blank_lock_times_are_the_defaults(data, monkeypatch):
    monkeypatch.setenv("FACEANALYTICS_S3_LOCK_TTL", " ")
    monkeypatch.setenv("FACEANALYTICS_S3_LOCK_WAIT", "")
    with Ingestor(data) as ing:
        assert (ing._lock.ttl, ing._lock.wait) == (60.0, None)
