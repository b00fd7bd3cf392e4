"""A fetch of many ids: the quota ledger is read a bounded number of times before the first call
(not once per id), and the quota still holds when another process spends calls meanwhile.
Against the sandbox on 127.0.0.1."""
import subprocess
import sys

import pytest

from faceanalytics.clients import QuotaLedger
from faceanalytics.pipeline.fetch import fetch_baidu, fetch_megvii
from faceanalytics.sandbox import Sandbox


@pytest.fixture
def reads(monkeypatch):
    """Counts the ledger's reads of its file (each under the file lock), and how many had been
    made when the first call was reserved."""
    got = {"reads": 0, "at_first_call": None}
    catch_up, reserve = QuotaLedger._catch_up, QuotaLedger.reserve

    def counted_catch_up(self):
        got["reads"] += 1
        return catch_up(self)

    def noted_reserve(self, key):
        if got["at_first_call"] is None:
            got["at_first_call"] = got["reads"]
        return reserve(self, key)

    monkeypatch.setattr(QuotaLedger, "_catch_up", counted_catch_up)
    monkeypatch.setattr(QuotaLedger, "reserve", noted_reserve)
    return got


def test_megvii_ledger_read_a_bounded_number_of_times_before_the_first_call(tmp_path, creds, reads):
    with Sandbox(seed=31, n_lite=400, n_liveness=0, n_baidu=0) as sb:
        creds(sb)
        ids = sb.ids("megvii-lite")
        # Some ids already at the quota (written by an earlier run): still skipped, never sent.
        spent = ids[:5]
        with QuotaLedger(tmp_path / "state" / "quota" / "megvii.log", limit=3, provider="megvii") as other:
            for b in spent:
                for _ in range(3):
                    other.reserve(b)
        reads.update(reads=0, at_first_call=None)  # from here on: the fetch's reads
        ids_file = tmp_path / "ids.txt"
        ids_file.write_text("".join(f"{b}\n" for b in ids))
        rep = fetch_megvii(ids_file, tmp_path, base_url=sb.url, progress=False, chunk_size=100)
        # opening the ledger, every id's count, the run's starting total: not one read per id
        assert reads["at_first_call"] is not None and reads["at_first_call"] <= 4, reads
        assert rep.fetched == len(ids) - len(spent) and rep.failed == 0
        assert rep.reasons["out of quota"] == len(spent)
        assert all(sb.calls(b) == 0 for b in spent)
        assert all(sb.calls(b) == 1 for b in ids[len(spent):])


def test_baidu_ledger_read_once_per_result_api_before_the_first_call(tmp_path, creds, reads):
    with Sandbox(seed=32, n_lite=0, n_liveness=0, n_baidu=150) as sb:
        creds(sb)
        tokens = sb.ids("baidu")
        rep = fetch_baidu(tokens, tmp_path, what=("stat", "simple"), base_url=sb.url, progress=False)
        assert reads["at_first_call"] is not None and reads["at_first_call"] <= 5, reads
        assert rep.fetched == 2 * len(tokens) and rep.failed == 0


_SPEND = """
import sys
from faceanalytics.clients import QuotaLedger
with QuotaLedger(sys.argv[1], limit=3, provider="megvii") as ledger:
    for _ in range(3):
        ledger.reserve(sys.argv[2])
"""


def test_calls_spent_by_another_process_after_the_counts_are_read_still_count(tmp_path, creds, monkeypatch):
    """The counts read for every id at the start may be passed by another process before an
    id's turn: the reserve before each send reads the ledger again, under its lock, and the id
    is refused (never sent, the quota of 3 never exceeded)."""
    with Sandbox(seed=33, n_lite=60, n_liveness=0, n_baidu=0) as sb:
        creds(sb)
        ids = sb.ids("megvii-lite")
        last = ids[-1]
        path = tmp_path / "state" / "quota" / "megvii.log"
        reserve, done = QuotaLedger.reserve, []

        def reserve_after_another_process(self, key):
            if not done:  # at the first send, another process uses up the last id's quota
                done.append(subprocess.run([sys.executable, "-c", _SPEND, str(path), last], check=True))
            return reserve(self, key)

        monkeypatch.setattr(QuotaLedger, "reserve", reserve_after_another_process)
        rep = fetch_megvii(ids, tmp_path, base_url=sb.url, progress=False, concurrency=1)
        assert done
        assert sb.calls(last) == 0
        assert rep.fetched == len(ids) - 1 and rep.reasons["out of quota"] == 1
        assert QuotaLedger(path, limit=3).calls(last) == 3
        assert all(sb.calls(b) == 1 for b in ids[:-1])
