"""Hostile and careless input, round 7: the review and its outputs on hostile table content
(what a provider or a client's ``biz_extra_data`` can carry) and careless review options."""
from __future__ import annotations

import json

import pytest


import faceanalytics as fa
from faceanalytics.pipeline.ingest import ingest
from faceanalytics.report import review

import _planted as P

SINCE, UNTIL = "2026-06-01", "2026-07-02"


def _landed(tmp_path, extra) -> object:
    """A month of Lite sessions whose ``biz_extra_data`` is ``extra(i)`` (the i-th Lite session):
    the data directory."""
    recs = P.records(8, n_lite=160, n_liveness=0, n_baidu=0, reference_date="2026-07-01", window_days=30)
    i = 0
    for rec in recs:
        if rec["source"] == "megvii_lite":
            rec["payload"]["biz_info"]["biz_extra_data"] = extra(i)
            i += 1
    d = tmp_path / "data"
    tmp_path.mkdir(parents=True, exist_ok=True)
    ingest([P.write(tmp_path / "r.jsonl", recs)], d)
    return d


# ---------------------------------------------------------------------------- 1. long segment values

def test_a_segment_value_too_long_to_be_a_label_counts_under_other(tmp_path):
    """A client's ``biz_extra_data`` value of 100 KB was a segment value like any other: every row
    of the review's count frames held its own copy (ten such values took a review of 360
    sessions from 0.28 to 1.37 GB; ``benchmarks/probe_review_hostile.py``), and the report, the
    workbook and the findings carried the blob.  A value over 256 characters is counted under
    "(other)"; the explorer offers "(other)" for it."""
    blob = "B" * 20_000
    d = _landed(tmp_path, lambda i: json.dumps({"channel": ["app", "h5", blob + str(i % 2)][i % 3]}))
    for segments in (None, ["channel"]):                     # chosen by default, and asked for
        rv = review(d, SINCE, UNTIL, segments=segments)
        seg = rv.tables()["segments"]
        seg = seg[seg["key"] == "channel"]
        assert sorted(seg["value"]) == ["(other)", "app", "h5"], segments
        other = seg.loc[seg["value"] == "(other)", "n"].iloc[0]
        assert other == seg["n"].sum() - seg.loc[seg["value"] != "(other)", "n"].sum() > 0
        assert all(len(v) <= 256 for v in seg["value"])
        assert "B" * 300 not in rv.html()
    ex = fa.threshold_explorer(d, segments=["channel"], since=SINCE, until=UNTIL)
    options = [v for _, v in ex.controls["segment"].options]
    assert ("channel", "(other)") in options and not any(blob in str(v) for v in options)
    ex.controls["segment"].value = ("channel", "(other)")
    assert ex.state()["n"] > 0
    # a key whose every value is a blob is no segment by default, and asked for, all "(other)"
    d2 = _landed(tmp_path / "2", lambda i: json.dumps({"blob": blob + str(i % 3)}))
    assert "blob" not in set(review(d2, SINCE, UNTIL).tables()["segments"]["key"])
    seg = review(d2, SINCE, UNTIL, segments=["blob"]).tables()["segments"]
    assert list(seg["value"]) == ["(other)"] and seg["n"].iloc[0] > 0


# ---------------------------------------------------------------------------- 2. many labels

def test_many_labels_are_matched_in_one_scan_of_the_comparisons(tmp_path):
    """A labels file of many sessions (an export of every case, most outside the period) was
    matched with one query per 5,000 ids, each scanning the comparisons and parsing an IN list
    of 5,000 literals: 2,000,000 labels took 400 scans, 38 s of SQL parsing on 360 sessions
    (a review 48 s -> 24 s).  Past one list DuckDB reads the ids from a file, in one scan."""
    import pandas as pd

    from faceanalytics.engines import DuckDBEngine
    from faceanalytics.engines._review import labelled_comparisons
    from faceanalytics.report._period import utc

    d = _landed(tmp_path, lambda i: None)
    ids = fa.load(d, "comparisons")["session_id"].drop_duplicates().tolist()
    lab = pd.DataFrame({"session_id": ids[::2] + [f"1760000000,{i:032x}" for i in range(12_000)] + ["it's \\ x"],
                        "genuine": True})
    eng = DuckDBEngine(memory_limit="1GB")
    sql, query = [], eng.query
    eng.query = lambda q: (sql.append(q), query(q))[1]
    since, until = utc(SINCE, "since"), utc(UNTIL, "until")
    got = labelled_comparisons(d, lab, since=since, until=until, engine=eng)
    want = labelled_comparisons(d, lab, since=since, until=until, engine="pandas")
    assert len(sql) == 1 and len(sql[0]) < 2_000
    key = ["session_id", "comparison", "confidence"]
    pd.testing.assert_frame_equal(got.sort_values(key).reset_index(drop=True)[want.columns],
                                  want.sort_values(key).reset_index(drop=True), check_dtype=False)
    assert set(got["session_id"]) == set(ids[::2]) and len(got) > 50


def test_a_labels_file_of_many_sessions_is_read_without_a_python_string_per_id(tmp_path):
    """Every case of a year exported as labels (10,000,000 lines): each id was a Python string in
    a dict of tuples, then hashed again by pandas (``duplicated``, ``nunique``) and listed for the
    query; 2,000,000 labels took a review to 1.2 GB, five times its own.  They are now read,
    trimmed, checked and matched in Arrow arrays: Python's own allocations while reading
    600,000 labels (31 MB) stay within twice the file's size (0.23 GB before) (``benchmarks/probe_review_hostile.py`` has the
    whole review's peak)."""
    import uuid

    from _helpers import traced_peak
    from faceanalytics.report import read_labels

    f = tmp_path / "labels.csv"
    n = 600_000
    with open(f, "w", encoding="utf-8") as out:
        out.write("session_id,genuine\n")
        for i in range(n):
            out.write(f"{1_760_000_000 + i},{uuid.UUID(int=i)},{'yes' if i % 3 else 'no'}\n")
        out.write(f"{1_760_000_000 + 5},{uuid.UUID(int=5)},yes\n")        # a repeat, labelled alike
    size = f.stat().st_size
    lab, peak = traced_peak(read_labels, f)
    assert peak < 2 * size, f"peak {peak:,} bytes for a file of {size:,}"
    assert len(lab) == n and lab["session_id"].is_unique
    assert lab.iloc[3].tolist() == [f"1760000003,{uuid.UUID(int=3)}", False]
    assert int(lab["genuine"].sum()) == n - (n + 2) // 3
    with open(f, "a", encoding="utf-8") as out:
        out.write(f"{1_760_000_000 + 7},{uuid.UUID(int=7)},no\n")         # labelled both ways
    with pytest.raises(ValueError, match=r"1 session\(s\) labelled both genuine and not, e.g. '1760000007,"):
        read_labels(f)


# ---------------------------------------------------------------------------- 3. text that turns or drives the reader

RLO = "\u202e"          # right-to-left override: what follows reads backwards, to the end of the paragraph


def test_bidirectional_controls_in_a_segment_are_shown_as_replacement_characters(tmp_path):
    """A channel ``"\\u202egnp.exe"`` reached the report, the workbook and the findings JSON as it
    was: the override turned the rest of its cell and of the finding's title backwards, so the
    text read what it did not say.  Shown as U+FFFD, as control characters are; the findings
    JSON escapes it (``\\u202e``, the same string to a JSON reader)."""
    import zipfile

    value = f"{RLO}gnp.exe"
    recs = P.records(8, n_lite=1500, n_liveness=0, n_baidu=0, reference_date="2026-07-01", window_days=30,
                     plants=[P.SegmentDrop(85, "2026-06-16", value="app")])
    for rec in recs:
        b = rec["payload"].get("biz_info") or {}
        if isinstance(b.get("biz_extra_data"), str):
            b["biz_extra_data"] = b["biz_extra_data"].replace('"app"', json.dumps(value))
    ingest([P.write(tmp_path / "r.jsonl", recs)], tmp_path / "data")
    rv = review(tmp_path / "data", SINCE, UNTIL, segments=["channel"])
    assert [f.segment for f in rv.findings] == [{"key": "channel", "value": value}]    # the data as it is
    html = rv.html()
    assert RLO not in html and "\ufffdgnp.exe" in html
    with zipfile.ZipFile(__import__("io").BytesIO(rv.workbook())) as z:
        xml = "".join(z.read(n).decode() for n in z.namelist() if n.endswith(".xml"))
    assert RLO not in xml and "\ufffdgnp.exe" in xml
    raw = rv.findings_json()
    assert RLO not in raw and "\\u202egnp.exe" in raw
    assert json.loads(raw)[0]["segment"] == {"key": "channel", "value": value}


def test_a_refusal_quoting_the_data_sends_no_escape_sequence_to_the_terminal(tmp_path, capsys):
    """``--segment chanel`` lists the keys the sessions carry; a client's key holding
    ``ESC ] 0 ; … BEL ESC [ 2 J`` retitled and cleared the terminal the refusal was printed to
    (and an override turned the line).  Each control character is shown as its escape."""
    from faceanalytics.cli import main

    key = "\x1b]0;pwned\x07\x1b[2J\x9b"
    d = _landed(tmp_path, lambda i: json.dumps({key: "x", f"ch{RLO}ab": "y", "渠道": "z"}))
    assert main(["review", "-q", "--data", str(d), "--out", str(tmp_path / "r.html"), "--since", SINCE,
                 "--until", UNTIL, "--segment", "chanel"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "\x1b" not in err and "\x07" not in err and "\x9b" not in err and RLO not in err
    assert "\\x1b]0;pwned\\x07\\x1b[2J\\x9b" in err and "ch\\u202eab" in err and "渠道" in err


def test_a_key_too_long_to_be_a_label_is_no_default_segment_and_is_listed_cut(tmp_path, capsys):
    """A client's ``biz_extra_data`` whose key is 5,000 characters (text pasted as a key) with
    three values was chosen as a segment by default: its 5 KB name headed a section of the
    report and every line that named it; a ``--segment`` refusal printed it whole.  A key over
    256 characters is a segment only when asked for, and a refusal lists it cut."""
    from faceanalytics.cli import main

    long_key = "K" * 5_000
    d = _landed(tmp_path, lambda i: json.dumps({long_key: ["a", "b", "c"][i % 3], "channel": ["app", "h5"][i % 2]}))
    rv = review(d, SINCE, UNTIL)
    assert "channel" in set(rv.tables()["segments"]["key"]) and long_key not in set(rv.tables()["segments"]["key"])
    assert "K" * 300 not in rv.html()
    seg = review(d, SINCE, UNTIL, segments=[long_key]).tables()["segments"]     # asked for: counted
    assert sorted(seg["value"]) == ["a", "b", "c"]
    assert main(["review", "-q", "--data", str(d), "--out", str(tmp_path / "r.html"), "--since", SINCE,
                 "--until", UNTIL, "--segment", "chanel"]) == 2
    err = capsys.readouterr().err
    assert "K" * 60 + "…" in err and "K" * 61 not in err and len(err) < 600
