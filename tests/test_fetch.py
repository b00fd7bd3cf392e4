"""Batch fetching against the sandbox over real sockets (127.0.0.1 only)."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from faceanalytics.storage.archive import read_segment
from faceanalytics.clients import MegviiClient, QuotaLedger
from faceanalytics.pipeline.fetch import fetch_baidu, fetch_megvii, read_ids
from faceanalytics.sandbox import Sandbox
from faceanalytics.storage.tables import load

ROOT = Path(__file__).parents[1]


def sessions(data, source):
    s = load(data, "sessions")
    return s[s.source == source]


def test_fetch_lands_each_id_once_and_never_refetches_final(tmp_path, creds):
    with Sandbox(seed=1, n_lite=120, n_liveness=0, n_baidu=0) as sb:
        creds(sb)
        ids = sb.ids("megvii-lite")
        rep = fetch_megvii(ids, tmp_path, base_url=sb.url, progress=False, chunk_size=25)
        assert rep.fetched == len(ids) and rep.failed == 0
        assert rep.calls == len(ids)
        s = sessions(tmp_path, "megvii_lite")
        assert sorted(s.session_id) == sorted(ids)
        assert max(sb.calls(b) for b in ids) == 1
        # Again: everything final is skipped and no call is spent.
        rep2 = fetch_megvii(ids, tmp_path, base_url=sb.url, progress=False)
        assert (rep2.fetched, rep2.calls) == (0, 0)
        assert rep2.skipped == len(ids)
        assert max(sb.calls(b) for b in ids) == 1
        assert len(sessions(tmp_path, "megvii_lite")) == len(ids)
        # Every response went to the raw archive (journals sealed into segments).
        lines = [ln for seg in (tmp_path / "raw").glob("*/*.jsonl.zst") for ln in read_segment(seg).lines]
        assert len(lines) == len(ids)
        assert not list((tmp_path / "raw" / "journal").glob("*.jsonl"))


def test_quota_never_exceeded_under_faults(tmp_path, creds):
    with Sandbox(seed=2, n_lite=150, n_liveness=0, n_baidu=0, fault_rate_500=0.35,
                 fault_rate_drop=0.1) as sb:
        creds(sb)
        ids = sb.ids("megvii-lite")
        for _ in range(4):  # keep asking: never more than three calls per biz_id
            fetch_megvii(ids, tmp_path, base_url=sb.url, progress=False, refresh_pending=True)
        assert sb.stats()["max_calls"] <= 3
        ledger = QuotaLedger(tmp_path / "state" / "quota" / "megvii.log")
        for b in ids:
            assert ledger.calls(b) >= sb.calls(b)  # the ledger never under-counts
        got = sessions(tmp_path, "megvii_lite")
        assert got.session_id.is_unique
        # With 35% 500s and two sends per fetch, four runs get almost every result.
        assert len(got) >= 0.9 * len(ids)


def test_pending_refetched_only_when_asked(tmp_path, creds):
    with Sandbox(seed=3, n_lite=400, n_liveness=0, n_baidu=0) as sb:
        creds(sb)
        ids = sb.ids("megvii-lite")
        fetch_megvii(ids, tmp_path, base_url=sb.url, progress=False)
        s = sessions(tmp_path, "megvii_lite")
        pending = s[s.status.isin(["NOT_STARTED", "PROCESSING"])].session_id.tolist()
        assert pending, "the sandbox serves pending sessions"
        rep = fetch_megvii(ids, tmp_path, base_url=sb.url, progress=False)
        assert rep.calls == 0 and rep.reasons["pending"] == len(pending)
        for _ in range(3):
            fetch_megvii(ids, tmp_path, base_url=sb.url, progress=False, refresh_pending=True)
        assert all(sb.calls(b) == 3 for b in pending)  # re-polled up to, never past, the quota
        assert max(sb.calls(b) for b in set(ids) - set(pending)) == 1


def test_error_bodies_land_as_sessions(tmp_path, creds):
    with Sandbox(seed=4, n_lite=30, n_liveness=0, n_baidu=0) as sb:
        creds(sb)
        ids = sb.ids("megvii-lite")[:5] + ["1700000000,no-such-id"]
        fetch_megvii(ids, tmp_path, base_url=sb.url, progress=False)
        s = sessions(tmp_path, "megvii_lite").set_index("session_id")
        assert s.loc["1700000000,no-such-id", "status"] == "RESULT_NOT_FOUND"
        assert s.loc["1700000000,no-such-id", "http_status"] == 400
        rep = fetch_megvii(ids, tmp_path, base_url=sb.url, progress=False)
        assert rep.calls == 0  # RESULT_NOT_FOUND is final


def test_liveness_and_ids_from_dataframe(tmp_path, creds):
    with Sandbox(seed=5, n_lite=0, n_liveness=60, n_baidu=0) as sb:
        creds(sb)
        df = pd.DataFrame({"biz": sb.ids("megvii-liveness") + [None]})
        rep = fetch_megvii(df, tmp_path, kind="liveness", column="biz", base_url=sb.url,
                           progress=False)
        assert rep.fetched == 60
        c = load(tmp_path, "comparisons")
        assert set(c.source) == {"megvii_liveness"} and c.thr_1e6.isna().all()


def test_baidu_token_cached_and_results_land(tmp_path, creds):
    # wild: string codes and numeric log_ids too, as deployments send them
    with Sandbox(seed=6, n_lite=0, n_liveness=0, n_baidu=40, concurrency=20, wild=0.5) as sb:
        creds(sb)
        tokens = sb.ids("baidu")
        rep = fetch_baidu(tokens, tmp_path, what="stat,getall,detail", base_url=sb.url,
                          progress=False, concurrency=8)
        assert rep.fetched == 3 * len(tokens) and rep.failed == 0
        assert sb.stats()["requests"].get("/oauth/2.0/token", 0) == 1
        assert set(load(tmp_path, "error_counts").session_id) <= set(tokens)
        assert load(tmp_path, "attempts").attempt.max() >= 2
        rep2 = fetch_baidu(tokens, tmp_path, what="stat,getall,detail", base_url=sb.url,
                           progress=False)
        assert rep2.calls < rep.calls / 3  # only failed (success:false) answers are asked again


def test_read_ids_forms(tmp_path):
    f = tmp_path / "ids.txt"
    f.write_text("a\n\n b \na\nc\n")
    assert read_ids(f) == ["a", "b", "c"]
    assert read_ids(["x", "x", None, "y"]) == ["x", "y"]


def _run_cli(args, env, **kw):
    return subprocess.Popen([sys.executable, "-m", "faceanalytics.cli", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)


def test_kill_9_and_resume_loses_and_duplicates_nothing(tmp_path):
    with Sandbox(seed=7, n_lite=300, n_liveness=0, n_baidu=0, latency_ms=40) as sb:
        ids_file = tmp_path / "ids.txt"
        ids = sb.ids("megvii-lite")
        ids_file.write_text("\n".join(ids) + "\n")
        env = {**os.environ, **sb.env()}
        args = ["fetch", "megvii-lite", "--ids", str(ids_file), "--data", str(tmp_path / "d"),
                "--base-url", sb.url, "--concurrency", "4", "--no-progress"]
        p = _run_cli(args, env)
        deadline = time.time() + 30
        while time.time() < deadline and sum(sb.calls(b) for b in ids) < 60:
            time.sleep(0.05)
        p.send_signal(signal.SIGKILL)
        p.wait()
        before = {b: sb.calls(b) for b in ids}
        assert 0 < sum(before.values()) < len(ids)
        journals = list((tmp_path / "d" / "raw" / "journal").glob("*.jsonl"))
        received = sum(len(j.read_bytes().splitlines()) for j in journals)
        p = _run_cli(args, env)
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err.decode()
        s = sessions(tmp_path / "d", "megvii_lite")
        assert sorted(s.session_id) == sorted(ids) and s.session_id.is_unique
        refetched = [b for b in ids if before[b] and sb.calls(b) > before[b]]
        # Only answers in flight at the kill (at most the worker count) are asked again.
        assert len(refetched) <= 4
        assert received > 0 or not journals
        for t in ("comparisons", "genuineness"):
            df = load(tmp_path / "d", t)
            assert not df.duplicated(["session_id", "attempt"] + (["comparison"] if t == "comparisons"
                                                                  else ["attack"])).any()


def test_cli_fetch_bad_credentials_exit_2_and_no_secret_anywhere(tmp_path):
    secret = "wrong-secret-value-77"
    with Sandbox(seed=8, n_lite=10, n_liveness=0, n_baidu=5) as sb:
        ids_file = tmp_path / "ids.txt"
        ids_file.write_text("\n".join(sb.ids("megvii-lite")) + "\n")
        env = {**os.environ, **sb.env(), "MEGVII_API_SECRET": secret}
        p = _run_cli(["fetch", "megvii-lite", "--ids", str(ids_file), "--data", str(tmp_path / "d"),
                      "--base-url", sb.url, "--no-progress"], env)
        out, err = p.communicate(timeout=60)
        assert p.returncode == 2
        assert b"AUTHENTICATION_ERROR" in out + err
        good = {**os.environ, **sb.env()}
        tok = tmp_path / "tok.txt"
        tok.write_text("\n".join(sb.ids("baidu")) + "\n")
        p = _run_cli(["fetch", "megvii-lite", "--ids", str(ids_file), "--data", str(tmp_path / "d"),
                      "--base-url", sb.url, "--no-progress"], good)
        out2, err2 = p.communicate(timeout=60)
        p = _run_cli(["fetch", "baidu", "--tokens", str(tok), "--data", str(tmp_path / "d"),
                      "--base-url", sb.url, "--no-progress"], good)
        out3, err3 = p.communicate(timeout=60)
        assert p.returncode == 0, err3
        secrets = [secret.encode(), sb.megvii_api_secret.encode(), sb.baidu_secret_key.encode()]
        blobs = [out, err, out2, err2, out3, err3]
        for f in (tmp_path / "d").rglob("*"):
            if f.is_file():
                data = f.read_bytes()
                if f.suffix == ".zst":
                    data = b"\n".join(read_segment(f).lines)
                blobs.append(data)
        for t in ("sessions", "media", "quarantine"):
            blobs.append(load(tmp_path / "d", t).to_csv().encode())
        for s in secrets:
            assert not any(s in b for b in blobs), s
        # and the Baidu access token never reached a file either
        assert not any(b"access_token=" in b for b in blobs)


def test_refuses_plain_http_to_remote_hosts(tmp_path, monkeypatch):
    monkeypatch.setenv("MEGVII_API_KEY", "k")
    monkeypatch.setenv("MEGVII_API_SECRET", "s")
    from faceanalytics.clients import InsecureURL

    with pytest.raises(InsecureURL):
        fetch_megvii(["1,a"], tmp_path, base_url="http://api.megvii.com", progress=False)
    assert MegviiClient("k", "s", base_url="http://127.0.0.1:1").base_url.startswith("http://127.")


def test_a_callers_client_still_goes_through_the_ledger(tmp_path):
    with Sandbox(seed=10, n_lite=20, n_liveness=0, n_baidu=0) as sb:
        client = MegviiClient(sb.megvii_api_key, sb.megvii_api_secret, base_url=sb.url)
        ids = sb.ids("megvii-lite")
        rep = fetch_megvii(ids, tmp_path, client=client, progress=False)
        assert rep.calls == len(ids)
        ledger = QuotaLedger(tmp_path / "state" / "quota" / "megvii.log")
        assert all(ledger.calls(b) == sb.calls(b) == 1 for b in ids)


def _dead_url() -> str:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def test_a_wrong_port_spends_no_quota_and_exits_non_zero(tmp_path):
    """Connection refused: nothing counted against the three calls; the run says so."""
    with Sandbox(seed=11, n_lite=12, n_liveness=0, n_baidu=0) as sb:
        ids_file = tmp_path / "ids.txt"
        ids = sb.ids("megvii-lite")
        ids_file.write_text("\n".join(ids) + "\n")
        env = {**os.environ, **sb.env()}
        dead = _dead_url()
        args = ["fetch", "megvii-lite", "--ids", str(ids_file), "--data", str(tmp_path / "d"),
                "--no-progress"]
        p = _run_cli([*args, "--base-url", dead], env)
        out, err = p.communicate(timeout=120)
        assert p.returncode == 1, (out, err)
        assert b"could not connect" in err and dead.encode() in err and b"no call was spent" in err
        ledger = QuotaLedger(tmp_path / "d" / "state" / "quota" / "megvii.log")
        assert all(ledger.calls(b) == 0 for b in ids)
        # the right port afterwards: every id fetched, each with one call, none "out of quota"
        p = _run_cli([*args, "--base-url", sb.url], env)
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        assert len(sessions(tmp_path / "d", "megvii_lite")) == len(ids)
        assert all(sb.calls(b) == 1 for b in ids)
        assert b"out of quota" not in out


def test_fetch_report_counts_calls_not_sent(tmp_path, creds):
    with Sandbox(seed=12, n_lite=5, n_liveness=0, n_baidu=0) as sb:
        creds(sb)
        rep = fetch_megvii(sb.ids("megvii-lite"), tmp_path, base_url=_dead_url(), progress=False)
        assert rep.calls == 0 and rep.fetched == 0 and rep.failed == 5
        assert rep.unsent >= 5 and rep.fatal and "could not connect" in rep.fatal


# -- base URLs from the environment (issue 13, item 5) ----------------------------------------


def test_cli_reads_base_urls_from_the_environment_and_says_which_it_uses(tmp_path):
    with Sandbox(seed=13, n_lite=6, n_liveness=0, n_baidu=4) as sb:
        env = {**os.environ, **sb.env()}           # MEGVII_BASE_URL / BAIDU_BASE_URL included
        ids, tokens = tmp_path / "ids.txt", tmp_path / "tokens.txt"
        ids.write_text("\n".join(sb.ids("megvii-lite")) + "\n")
        tokens.write_text("\n".join(sb.ids("baidu")) + "\n")
        d = str(tmp_path / "d")
        p = _run_cli(["fetch", "megvii-lite", "--ids", str(ids), "--data", d, "--no-progress"], env)
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        assert f"{sb.url} (MEGVII_BASE_URL)".encode() in out
        p = _run_cli(["fetch", "baidu", "--tokens", str(tokens), "--what", "stat", "--data", d,
                      "--no-progress"], env)
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        assert f"{sb.url} (BAIDU_BASE_URL)".encode() in out
        assert len(load(d, "sessions")) == 6 + 4
        # --base-url wins over the environment (and is said to)
        env["MEGVII_BASE_URL"] = _dead_url()
        p = _run_cli(["fetch", "megvii-lite", "--ids", str(ids), "--data", d, "--no-progress",
                      "--base-url", sb.url], env)
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0 and f"{sb.url} (--base-url)".encode() in out


def test_python_fetch_reads_base_url_from_the_environment(tmp_path, creds):
    with Sandbox(seed=14, n_lite=4, n_liveness=0, n_baidu=3) as sb:
        creds(sb)
        rep = fetch_megvii(sb.ids("megvii-lite"), tmp_path, progress=False)
        assert rep.fetched == 4 and rep.base_url == sb.url
        assert fetch_baidu(sb.ids("baidu"), tmp_path, what="stat", progress=False).fetched == 3
        assert MegviiClient.from_env().base_url == sb.url


def test_the_readme_python_fetch_example_runs_against_the_sandbox_as_written(tmp_path):
    import re

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"From Python[^\n]*:\s*```python\n(.*?)```", readme, re.S).group(1)
    assert 'fa.fetch_megvii("ids.txt", "data"' in block   # the example a new user copies
    with Sandbox(seed=15, n_lite=8, n_liveness=0, n_baidu=0) as sb:
        sb.write_ids(tmp_path / "ids.txt", "megvii-lite")
        env = {**os.environ, **sb.env()}            # what `faceanalytics sandbox` says to export
        r = subprocess.run([sys.executable, "-c", block + "\nprint('fetched', rep.fetched)"],
                           cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        assert "fetched 8" in r.stdout
        assert sorted(sessions(tmp_path / "data", "megvii_lite").session_id) == sorted(sb.ids("megvii-lite"))


# -- reading id files like a careful tool (issue 13, item 4) ----------------------------------

BIZ = ["1462259748,52b13fb5-8dfb-4537-a62b-a641d5e929f1", "1700000000,0f8e6b2a-1c3d-4e5f-8a9b-0c1d2e3f4a5b"]
TOK = ["Yz9rWITm4vak16PBAh5x8oG7", "cIupeyP51sn28XzxGVTfYqoN"]


def test_bom_crlf_blanks_comments_whitespace_and_a_header_are_not_ids(tmp_path):
    from faceanalytics.pipeline.fetch import load_ids

    f = tmp_path / "ids.txt"
    f.write_bytes(("\ufeffbiz_id\r\n# exported 2026-11-20\r\n\r\n  " + BIZ[0] + " \r\n\t"
                   + BIZ[1] + "\r\n" + BIZ[0] + "\r\n").encode("utf-8"))
    got = load_ids(f, kind="biz_id")
    assert got.ids == BIZ and got.rejected == [] and got.header == "biz_id"


def test_a_csv_with_a_header_gives_the_named_column_quoted_commas_and_all(tmp_path):
    from faceanalytics.pipeline.fetch import load_ids

    f = tmp_path / "export.csv"   # as Excel writes it: BOM, CRLF, fields with commas quoted
    f.write_bytes(("\ufeffname,biz_id,phone\r\n"
                   f'张三,"{BIZ[0]}",13912345678\r\n李四,"{BIZ[1]}",13812345678\r\n').encode())
    assert load_ids(f, kind="biz_id").ids == BIZ
    g = tmp_path / "other.csv"
    g.write_text(f'Case,Session ID\n1,"{BIZ[0]}"\n2,"{BIZ[1]}"\n')
    assert load_ids(g, kind="biz_id", column="Session ID").ids == BIZ
    with pytest.raises(ValueError, match="no column 'nope'.*Case, Session ID"):
        load_ids(g, kind="biz_id", column="nope")
    t = tmp_path / "tokens.tsv"   # Excel's "Unicode text": UTF-16 with a BOM, tab-separated
    t.write_bytes("verify_token\tuser\n{}\tx\n{}\ty\n".format(*TOK).encode("utf-16"))
    assert load_ids(t, kind="verify_token").ids == TOK


def test_lines_that_cannot_be_ids_are_rejected_with_their_line_and_why(tmp_path):
    from faceanalytics.pipeline.fetch import load_ids

    f = tmp_path / "ids.txt"
    f.write_text(f"{BIZ[0]}\nhello world\n1462259748\n{BIZ[1]},13912345678\n\"{BIZ[1]}\"\n")
    got = load_ids(f, kind="biz_id")
    assert got.ids == BIZ   # the quoted one is a one-column CSV cell: unquoted
    lines = {n: why for n, _, why in got.rejected}
    assert sorted(lines) == [2, 3, 4]
    assert "CSV" in lines[4] and "--column" in lines[4]
    text = got.describe_rejected()
    assert "line 2" in text and "hello world" in text
    # a two-column export without a header: nothing is an id, and the error says why
    g = tmp_path / "excel.csv"
    g.write_text(f"{BIZ[0]},yes\n{BIZ[1]},no\n")
    with pytest.raises(ValueError, match="header"):
        load_ids(g, kind="biz_id")
    tokens = tmp_path / "tokens.txt"
    tokens.write_text(f"{TOK[0]}\n{BIZ[0]}\nshort\n")
    got = load_ids(tokens, kind="verify_token")
    assert got.ids == [TOK[0]] and [n for n, _, _ in got.rejected] == [2, 3]


def test_the_cli_rejects_non_ids_before_any_call(tmp_path):
    with Sandbox(seed=16, n_lite=3, n_liveness=0, n_baidu=0) as sb:
        ids = sb.ids("megvii-lite")
        f = tmp_path / "ids.csv"
        f.write_bytes(("\ufeffbiz_id,note\r\n# first batch\r\n" + "".join(f'"{b}",ok\r\n' for b in ids)
                       + "not an id,x\r\n").encode())
        env = {**os.environ, **sb.env()}
        p = _run_cli(["fetch", "megvii-lite", "--ids", str(f), "--data", str(tmp_path / "d"),
                      "--no-progress"], env)
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        assert b"line 6" in err and b"not an id" in err
        assert err.index(b"line 6") < (err + out).index(b"fetched") or b"fetched" in out
        s = sessions(tmp_path / "d", "megvii_lite")
        assert sorted(s.session_id) == sorted(ids)          # nothing else was sent
        assert sum(sb.stats()["requests"].values()) == len(ids)
        p = _run_cli(["fetch", "megvii-lite", "--ids", str(f), "--column", "note", "--data",
                      str(tmp_path / "d"), "--no-progress"], env)
        out, err = p.communicate(timeout=120)
        assert p.returncode == 2 and b"no biz_id" in err
        assert sum(sb.stats()["requests"].values()) == len(ids)


def test_a_line_with_a_field_past_the_csv_limit_is_refused_not_a_traceback(tmp_path, monkeypatch, capsys):
    """``--ids records.jsonl`` (long JSON lines, given by mistake) or a CSV with one huge
    cell ended in ``_csv.Error: field larger than field limit (131072)``."""
    from faceanalytics.pipeline.fetch import load_ids

    huge = '{"payload": {"image": "' + "a" * 200_000 + '", "biz_id": 1}}'
    f = tmp_path / "records.jsonl"
    f.write_text(huge + "\n" + huge + "\n")
    with pytest.raises(ValueError, match="no biz_id in"):
        load_ids(f, kind="biz_id")
    g = tmp_path / "export.csv"
    g.write_text(f'biz_id,note\n"{BIZ[0]}",ok\n"{BIZ[1]}",{huge}\n')
    got = load_ids(g, kind="biz_id")
    assert got.ids == [BIZ[0]] and [n for n, _, _ in got.rejected] == [3]
    from faceanalytics.cli import main

    monkeypatch.setenv("MEGVII_API_KEY", "k")
    monkeypatch.setenv("MEGVII_API_SECRET", "s")
    assert main(["fetch", "megvii-lite", "--ids", str(f), "--data", str(tmp_path / "d"),
                 "--base-url", "http://127.0.0.1:9"]) == 2
    assert "no biz_id in" in capsys.readouterr().err


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _quota_calls(data) -> list[str]:
    from pathlib import Path

    log = Path(data) / "state" / "quota" / "megvii.log"
    return [ln for ln in log.read_text().splitlines() if ln.endswith("/3")] if log.exists() else []


def test_fetch_json_with_reasons_and_a_base_url_holding_credentials(tmp_path, monkeypatch, capsys):
    """``fetch --json`` died with a traceback (dataclasses.asdict rebuilt the reasons Counter
    from its pairs: 'keys must be str ..., not tuple') whenever a reason was counted, e.g. a
    provider that could not be reached; and a base URL's ``user:password@`` or token was
    printed plain in 'megvii-lite: URL' and 'could not connect to URL'."""
    from faceanalytics.cli import main

    monkeypatch.setenv("MEGVII_API_KEY", "k")
    monkeypatch.setenv("MEGVII_API_SECRET", "s")
    ids = tmp_path / "ids.txt"
    ids.write_text(BIZ[0] + "\n")
    url = f"http://gate:hunter2pass@127.0.0.1:{_closed_port()}/?access_token=TOKSECRET123"
    assert main(["fetch", "megvii-lite", "--ids", str(ids), "--data", str(tmp_path / "d"), "--base-url", url,
                 "--json"]) == 1
    out, err = capsys.readouterr()
    rep = json.loads(out)
    assert rep["reasons"] == {"not sent: NOT_CONNECTED": 1} and (rep["unsent"], rep["calls"]) == (1, 0)
    assert "hunter2pass" not in out + err and "TOKSECRET123" not in out + err and "could not connect" in err


@pytest.mark.parametrize("url", ["http://127.0.0.1:99999", "http://127.0.0.1:port"])
def test_a_base_url_with_a_bad_port_is_refused_before_any_call(tmp_path, monkeypatch, capsys, url):
    """Port 99999 passed the URL check, then requests refused the URL (InvalidURL) as each call
    was made: every id's call was counted as spent ('call 1/3'), so three runs with a typo
    in the port used up the three calls Megvii answers for every id of the list."""
    from faceanalytics.cli import main

    monkeypatch.setenv("MEGVII_API_KEY", "k")
    monkeypatch.setenv("MEGVII_API_SECRET", "s")
    ids = tmp_path / "ids.txt"
    ids.write_text(BIZ[0] + "\n")
    assert main(["fetch", "megvii-lite", "--ids", str(ids), "--data", str(tmp_path / "d"), "--base-url", url]) == 2
    assert "its port is not a number from 1 to 65535" in capsys.readouterr().err
    assert _quota_calls(tmp_path / "d") == []


def test_a_url_requests_cannot_parse_spends_no_call(tmp_path, monkeypatch):
    """A URL that requests refuses before connecting (a space in the host) spends no call: it
    is refused before any (it was a call that never left, marked unsent; a URL holds no space,
    see test_hostile8), and nothing is written."""
    monkeypatch.setenv("MEGVII_API_KEY", "k")
    monkeypatch.setenv("MEGVII_API_SECRET", "s")
    with pytest.raises(ValueError, match="space"):
        fetch_megvii([BIZ[0]], tmp_path / "d", kind="lite", base_url="https://exa mple.com")
    assert not (tmp_path / "d").exists()


@pytest.mark.parametrize("concurrency", [0, -1, 65, 100_000, 2.5, "8", True])
def test_a_concurrency_out_of_range_is_refused_before_any_call(tmp_path, capsys, monkeypatch, concurrency):
    """``concurrency=100000`` started as many threads, each able to hold a 64 MiB answer."""
    import numpy as np

    from faceanalytics.cli import main

    with Sandbox(seed=16, n_lite=2, n_liveness=0, n_baidu=1) as sb:
        client = MegviiClient("k", "s", base_url=sb.url)
        with pytest.raises(ValueError, match="from 1 to 64"):
            fetch_megvii(sb.ids("megvii-lite"), tmp_path / "d", client=client, concurrency=concurrency,
                         progress=False)
        with pytest.raises(ValueError, match="from 1 to 64"):
            fetch_baidu(sb.ids("baidu"), tmp_path / "d", base_url=sb.url, concurrency=concurrency,
                        progress=False)
        assert sum(sb.stats()["requests"].values()) == 0
        if isinstance(concurrency, int) and not isinstance(concurrency, bool):
            ids = tmp_path / "ids.txt"
            ids.write_text("\n".join(sb.ids("megvii-lite")) + "\n")
            for k, v in sb.env().items():
                monkeypatch.setenv(k, v)
            assert main(["fetch", "megvii-lite", "--ids", str(ids), "--data", str(tmp_path / "d"),
                         "--concurrency", str(concurrency)]) == 2
            assert "--concurrency must be from 1 to 64" in capsys.readouterr().err
        rep = fetch_megvii(sb.ids("megvii-lite"), tmp_path / "e", client=client,
                           concurrency=np.int64(2), progress=False)     # a NumPy integer is a number
        # it ran; "k"/"s" do not match, and the first call goes alone: the run stops at its answer
        assert rep.fetched == rep.calls == 1 and "AUTHENTICATION_ERROR" in rep.fatal
