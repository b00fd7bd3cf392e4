"""The review report: sections, self-containment, escaping through the template, numbers equal to the
pandas metrics, DuckDB and pandas counts equal, segments, tiny and empty periods, findings JSON, CLI."""
from __future__ import annotations

import base64

from markupsafe import escape
import json
import re
import warnings
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from faceanalytics import analytics as A
from faceanalytics.cli import main
from faceanalytics.pipeline.fetch import fetch_baidu, fetch_megvii
from faceanalytics.pipeline.ingest import ingest, rebuild
from faceanalytics.report import SECTIONS, build_report, findings_path, review_period, write_report
from faceanalytics.engines._review import segment_values
from faceanalytics.report._summary import summarize
from faceanalytics.engines._review import Segment
from faceanalytics.sandbox import Sandbox
from faceanalytics.storage.tables import load

from _helpers import same_counts

SEEDS = Path(__file__).parent / "data" / "seeds"
SINCE, UNTIL = "2026-06-01", "2026-07-01"          # the sandbox population spans May and June 2026
XSS = '<script>alert("x")</script> 请<重试> https://evil.example/x'


def seed(name):
    return json.loads((SEEDS / name).read_text(encoding="utf-8"))


def envelope(source, sid, payload, fetched_at="2026-06-20T10:00:00Z"):
    return {"source": source, "session_id": sid, "fetched_at": fetched_at, "http_status": 200,
            "payload": payload}


def write_jsonl(path, records):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def baidu_attempt(message, verify_time="2026-06-15 10:00:00"):
    """A Baidu getall payload whose one attempt failed, was charged, and says ``message``."""
    p = seed("baidu_getall.json")
    a = p["result"]["verify_result"][0]
    a.update(code="222380", message=message, is_verify_passed=False, is_charged=True,
             verify_time=verify_time, charge_time=verify_time)
    return p


def lite_at(biz_time: int, suffix: str):
    p = seed("megvii_lite_success.json")
    p["biz_info"]["biz_id"] = f"{biz_time},{suffix}"
    return p


@pytest.fixture(scope="module")
def data(tmp_path_factory, monkeypatch_module):
    """Sandbox sessions of May and June 2026 fetched through the real clients, plus a Baidu
    attempt whose message holds markup and a record that lands in quarantine."""
    d = tmp_path_factory.mktemp("review") / "data"
    with Sandbox(seed=11, n_lite=260, n_liveness=60, n_baidu=40, reference_date="2026-06-30",
                 window_days=60, concurrency=None) as sb:
        for k, v in sb.env().items():
            monkeypatch_module.setenv(k, v)
        fetch_megvii(sb.ids("megvii-lite"), d, kind="lite", base_url=sb.url, progress=False, concurrency=16)
        fetch_megvii(sb.ids("megvii-liveness"), d, kind="liveness", base_url=sb.url, progress=False,
                     concurrency=16)
        fetch_baidu(sb.ids("baidu"), d, what="stat,getall,detail", base_url=sb.url, progress=False,
                    concurrency=16)
    extra = write_jsonl(d.parent / "extra.jsonl", [
        envelope("baidu_getall", "tokXSS", baidu_attempt(XSS)),
        envelope("megvii_lite", "1781000000,quarantined", "not a payload"),
    ])
    rep = ingest([extra], d)
    assert (rep.landed, rep.quarantined) == (1, 1)
    return d


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


@pytest.fixture(scope="module")
def report(data):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        text = build_report(data, SINCE, UNTIL)
    assert not [w for w in caught if "review report" in str(w.message)]
    return text


class _Scan(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.attrs, self.styles = [], [], []
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs += [(tag, k, v or "") for k, v in attrs]
        self._in_style = tag == "style"

    def handle_endtag(self, tag):
        self._in_style = False

    def handle_data(self, text):
        if self._in_style:
            self.styles.append(text)


def scan(text) -> _Scan:
    s = _Scan()
    s.feed(text)
    return s


def headline_cell(text, label, column=1) -> str:
    table = re.search(r'<table class="headline">.*?</table>', text, re.S).group(0)
    row = re.search(r"<tr><td class=\"wrap\">(?:<span>)?" + re.escape(str(escape(label))) + r".*?</tr>", table)
    assert row, label
    return re.findall(r"<td class=\"num\">(.*?)</td>", row.group(0))[column - 1]


def period_table(data, table, since=SINCE, until=UNTIL):
    """A period's rows as every count dates them: Baidu stat and detail (fetched today, months after
    the sessions) placed at their token's getall time (engines.load_placed)."""
    from faceanalytics.engines import load_placed

    return load_placed(data, table, since=since, until=until)


# ------------------------------------------------------------------------------ contents

def test_every_section_with_its_one_sentence(report):
    for key, heading, lead in SECTIONS:
        assert f'<section id="{key}"><h2>{escape(heading)}</h2>' in report
        assert f'<p class="lead">{escape(lead)}</p>' in report
        assert lead.endswith(".") and ". " not in lead          # one sentence
    assert "could not be built" not in report
    assert report.count("<section") == len(SECTIONS)
    assert "Period</b> 2026-06-01 to 2026-06-30 (30 days" in report
    assert "2026-05-02 to 2026-05-31" in report                 # the previous 30 days


def test_self_contained_offline(report):
    s = scan(report)
    assert not {"script", "link", "iframe", "object", "embed", "base"} & set(s.tags)
    imgs = [v for tag, k, v in s.attrs if tag == "img" and k == "src"]
    assert len(imgs) >= 8
    for src in imgs:
        assert src.startswith("data:image/png;base64,")
    png = base64.b64decode(imgs[0].split(",", 1)[1])
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    for tag, k, v in s.attrs:                                   # links stay inside the file
        if k == "href":
            assert v.startswith("#")
        assert "://" not in v or v.startswith("data:"), (tag, k, v[:80])
    css = "".join(s.styles)
    assert "url(" not in css and "@import" not in css and "@font-face" not in css
    # A URL appears only as escaped text from the data (the injected Baidu message).
    without_data_uris = re.sub(r'src="data:[^"]*"', "", report)
    for m in re.finditer(r"https?://", without_data_uris):
        assert without_data_uris[m.start():m.start() + 22] == "https://evil.example/x"
    assert "<script" not in report.lower()


def test_headline_numbers_are_the_metrics(data, report):
    c = period_table(data, "comparisons")
    r = A.pass_rates(c[c.comparison == "faceid"]).set_index("level").loc["1e-4"]
    cell = headline_cell(report, "faceid pass rate at 1e-4 (level in force)")
    assert float(re.search(r'data-value="([^"]+)"', cell).group(1)) == pytest.approx(r.pass_rate)
    assert f"{r.pass_rate * 100:.1f}%" in cell and f"n={int(r.n):,}" in cell
    assert f"[{r.ci_low * 100:.1f}%–{r.ci_high * 100:.1f}%]" in cell
    # every level of every source and comparison kind, in the pass-rate section
    rates = A.pass_rates(c, by=["source", "comparison"])
    section = re.search(r'<section id="pass-rates">.*?</section>', report, re.S).group(0)
    for _, x in rates[~rates.low_n].iterrows():
        assert f'data-value="{x.passed / x.n:.10g}"' in section
    s = period_table(data, "sessions")
    lite = int((s.source == "megvii_lite").sum())
    assert f"Megvii Lite {lite:,}" in headline_cell(report, "Sessions")
    e = A.error_codes(s, period_table(data, "verify_errors"), period_table(data, "error_counts"),
                      period_table(data, "attempts"))
    assert int(e.billed.sum()) >= 1                              # the injected charged attempt
    assert headline_cell(report, "Billed errors").startswith(f"{int(e.billed.sum()):,}")
    assert headline_cell(report, "Quarantined records") == "1"
    # a rate's change is in points, never a count change beside rates; and no row-by-row colour
    # that could contradict the box (which tests every rate at once)
    assert 'class="sig"' not in re.search(r'<table class="headline">.*?</table>', report, re.S).group(0)
    for row in re.findall(r"<tr>.*?</tr>", re.search(r'<table class="headline">.*?</table>', report, re.S).group(0)):
        if "pass rate" in row or "flagged" in row:
            assert re.search(r"[+-]\d+\.\d pts|too few to compare", row), row
            assert not re.search(r"[+-]\d+%<", row)



PREVIOUS = ("2026-05-02", "2026-06-01")   # the 30 days before SINCE


def _rate_in(cell: str) -> tuple[float, int]:
    """(rate, n) as a headline cell shows them: a rate with its n, or "k of n" below MIN_N."""
    few = re.search(r"([\d,]+) of ([\d,]+)<", cell)
    if few:
        k, n = (int(v.replace(",", "")) for v in few.groups())
        return k / n, n
    return (float(re.search(r'data-value="([^"]+)"', cell).group(1)),
            int(re.search(r"n=([\d,]+)", cell).group(1).replace(",", "")))


def test_every_headline_row_shows_this_period_beside_the_previous(data, report):
    """Anti-spoofing, comparisons and Baidu-configured rows: this period's value in the first
    column, the previous period's in the second (issue 14: a headline that showed the
    previous period's anti-spoofing value passed every test)."""
    cur = {t: period_table(data, t) for t in ("comparisons", "genuineness")}
    prev = {t: period_table(data, t, *PREVIOUS) for t in ("comparisons", "genuineness")}
    for side, tables in ((1, cur), (2, prev)):
        g = A.genuineness_rates(tables["genuineness"])
        shown = 0
        for _, x in g[g.n > 0].iterrows():
            cell = headline_cell(report, f"Anti-spoofing: {x.attack} flagged", side)
            assert _rate_in(cell) == (pytest.approx(x.flagged / x.n), x.n), (side, x.attack)
            shown += 1
        assert shown >= 2, side
        b = A.configured_pass_rates(tables["comparisons"])
        cell = headline_cell(report, "Baidu pass rate at its configured threshold", side)
        assert _rate_in(cell) == (pytest.approx(b.passed.sum() / b.n.sum()), b.n.sum()), side
        c = A.once_per_attempt(tables["comparisons"])    # (Baidu detail, placed with getall, repeats it)
        assert headline_cell(report, "Comparisons", side) == f"{len(c):,}", side
    # the two periods differ, so showing one for the other cannot pass
    assert len(cur["comparisons"]) != len(prev["comparisons"])


def test_summaries_equal_the_pandas_metrics(data):
    s = summarize(data, SINCE, UNTIL)
    c, cp = period_table(data, "comparisons"), period_table(data, "comparisons", "2026-05-02", SINCE)
    by = ["source", "comparison"]
    assert_frame_equal(s.pass_rates("current", by), A.pass_rates(c, by))
    assert_frame_equal(s.pass_rates("current", "comparison", freq="W"), A.pass_rates(c, "comparison", freq="W"))
    assert_frame_equal(s.configured_pass_rates("current", by), A.configured_pass_rates(c, by))
    assert_frame_equal(s.pass_rate_drift(by), A.pass_rate_drift(cp, c, by))
    flip = A.would_flip_summary(c, "1e-4", "1e-5", by="comparison")
    assert_frame_equal(s.would_flip("1e-4", "1e-5", by="comparison"), flip[s.would_flip().columns])
    g = period_table(data, "genuineness")
    gr = A.genuineness_rates(g, by="source")
    assert_frame_equal(s.genuineness_rates("current", by="source"), gr[s.genuineness_rates(by="source").columns])
    near = A.genuineness_near_threshold(g, by="source")
    mine = s.genuineness_near("current", by="source")
    assert_frame_equal(mine, near[mine.columns])
    tables = [period_table(data, t) for t in ("sessions", "verify_errors", "error_counts", "attempts")]
    assert_frame_equal(s.error_codes("current"), A.error_codes(*tables))
    assert_frame_equal(s.status_funnel("current"), A.status_funnel(tables[0]))
    dq = A.data_quality(tables[0], comparisons=c, quarantine=period_table(data, "quarantine"))
    assert_frame_equal(s.data_quality().drop(columns="note"), dq.drop(columns="note"))  # (the note says "within a month")
    # drift on confidence in 0.1-point bins is the pandas metric on the binned rows
    binned = lambda f: f.assign(confidence=np.floor(f.confidence.to_numpy(dtype=float) * 10 + 1e-6) / 10)
    assert_frame_equal(s.distribution_drift("comparison"),
                       A.distribution_drift(binned(cp), binned(c), "comparison"), check_exact=False)
    # the figures' histogram draws the rows' pass rates at every threshold
    h = s.figure_histogram("current")
    lines_h = A.threshold_lines(h[h.comparison == "faceid"])
    lines_r = A.threshold_lines(c[c.comparison == "faceid"])
    assert_frame_equal(lines_h[["label", "n", "passed"]], lines_r[["label", "n", "passed"]])


def test_duckdb_and_pandas_count_the_same(data):
    a = summarize(data, SINCE, UNTIL, engine="duckdb")
    b = summarize(data, SINCE, UNTIL, engine="pandas")
    assert a.segments == b.segments and a.segments
    # chosen from the data: the sandbox's JSON channel (3 values) is a segment, its branch
    # number (900 values) and "user-12345" texts are not
    names = {x.name for x in a.segments}
    assert "channel" in names and "branch" not in names
    assert next(x for x in a.segments if x.name == "channel").values == ("app", "h5", "mini")
    same_counts(a, b)
    # and from tables already in memory
    tables = {t: load(data, t, since="2026-05-02", until=UNTIL) for t in
              ("comparisons", "genuineness", "sessions", "attempts", "verify_errors", "error_counts", "quarantine")}
    m = summarize(tables, SINCE, UNTIL, segments=[x.name for x in a.segments])
    assert_frame_equal(m.pass_rates("current", ["source", "comparison"]), a.pass_rates("current", ["source", "comparison"]))


def test_segments_packed_in_several_columns_count_the_same(data, tmp_path, monkeypatch):
    """The joins carry the segments' digits packed into integers (``engines._review.segment_packs``)
    and the counts take them back out: by default one column, the second segment at a shift
    (``test_duckdb_and_pandas_count_the_same``).  With packs of at most 3 bits, one column a
    segment: every count is still pandas'."""
    import shutil

    from faceanalytics.engines import _review

    d = tmp_path / "data"            # nothing kept: every partition counted with these packs
    shutil.copytree(data, d, ignore=shutil.ignore_patterns("summaries"))
    b = summarize(d, SINCE, UNTIL, engine="pandas")
    packs = _review.segment_packs(b.segments)
    assert len(b.segments) >= 2 and len(packs) == 1 and packs[0][1][1] > 0
    monkeypatch.setattr(_review, "_PACK_BITS", 3)
    a = summarize(d, SINCE, UNTIL, engine="duckdb")
    assert a.segments == b.segments and len(_review.segment_packs(a.segments)) == len(a.segments)
    same_counts(a, b)
    assert len(a.counts["seg_comparisons"]) and len(a.counts["seg_genuineness"])
    # a key of many values: its top digit, "(other)", fills the pack's width
    wide = ["channel", "branch"]
    a, b = (summarize(d, SINCE, UNTIL, engine=e, segments=wide) for e in ("duckdb", "pandas"))
    assert len(a.segments[1].values) == 20     # top 20 kept, the rest "(other)": digits 0 to 21, 5 bits
    sc = a.frame("seg_comparisons")
    assert "(other)" in set(sc[[c for c in sc.columns if "branch" in c][0]].dropna())
    same_counts(a, b)


def test_counts_equal_on_files_written_before_the_session_key(data, tmp_path):
    """Files without ``session_key`` (written before it existed) are joined on hashed ids, files
    without ``invalid_values`` read it as null: the same counts, whichever files lack them."""
    import shutil

    import pyarrow.parquet as pq

    from faceanalytics.schema import SESSION_KEY

    keyed = summarize(data, SINCE, UNTIL, engine="duckdb")
    old = tmp_path / "old"
    shutil.copytree(data, old)
    files = sorted((old / "tables").rglob("part-*.parquet"))
    stripped = 0
    for i, f in enumerate(files):
        if i % 2 == 0:                      # half the files: some partitions keyed, some not
            t = pq.read_table(f)
            if SESSION_KEY in t.column_names:
                t = t.drop_columns([SESSION_KEY])
                stripped += 1
            if "invalid_values" in t.column_names and not any(t.column("invalid_values").to_pylist()):
                t = t.drop_columns(["invalid_values"])     # and before sessions.invalid_values existed
                stripped += 1
            pq.write_table(t, f)
    assert stripped > 3
    plain = summarize(old, SINCE, UNTIL, engine="duckdb")
    same_counts(plain, keyed)


def test_data_files_footers_are_read_once_and_again_when_a_file_changes(data, tmp_path, monkeypatch):
    """Which partitions are whole comes from every data file's footer; the footers' facts are
    kept under each file's identity (``summaries/review/footers.json``, owner-only), read back
    by the next review, read again for a file that changed, and a damaged or unwritable
    record of them changes no count."""
    import json
    import os
    import shutil

    from faceanalytics.engines import _placed

    d = tmp_path / "data"
    shutil.copytree(data, d, ignore=shutil.ignore_patterns("summaries"))
    read = []
    real = _placed._file_info
    monkeypatch.setattr(_placed, "_file_info", lambda f: (read.append(str(f)), real(f))[1])
    since = "2026-06-01"
    fresh = summarize(d, since, UNTIL, engine="duckdb")
    kept = d / "summaries" / "review" / "footers.json"
    files = json.loads(kept.read_bytes())["files"]
    assert read and set(files) == set(read) and oct(kept.stat().st_mode & 0o777) == "0o600"
    for f, v in files.items():   # the facts kept are the footer's
        rows, keyed, cols, lo, hi = real(f)
        assert v[3:] == [rows, keyed, sorted(cols), lo, hi]
    read.clear()
    same_counts(summarize(d, since, UNTIL, engine="duckdb"), fresh)
    assert read == []                                  # every footer read back
    f = next((d / "tables" / "comparisons").rglob("month=2026-06/part-*.parquet"))
    os.utime(f, ns=(f.stat().st_atime_ns, f.stat().st_mtime_ns + 1_000_000_000))
    same_counts(summarize(d, since, UNTIL, engine="duckdb"), fresh)
    assert read == [str(f)]                            # the changed file, and only it, read again
    read.clear()
    kept.write_bytes(b"{not json")
    same_counts(summarize(d, since, UNTIL, engine="duckdb"), fresh)
    assert len(read) == len(files) and json.loads(kept.read_bytes())["files"].keys() == files.keys()
    kept.unlink()
    kept.mkdir()                                       # cannot be written: the review goes on
    same_counts(summarize(d, since, UNTIL, engine="duckdb"), fresh)


def test_whole_partitions_are_counted_once_and_read_back(data, tmp_path, monkeypatch):
    """A (source, month) partition wholly inside the period it is counted for is counted once
    and its counts kept in ``DATA/summaries``; the next review reads them back (no scan of
    it), equal to DuckDB's and pandas' fresh counts.  A changed file, a damaged entry or a
    folder that cannot be written make it count again, never fail or count stale rows."""
    import os
    import shutil

    from faceanalytics.engines import _review

    d = tmp_path / "data"
    shutil.copytree(data, d, ignore=shutil.ignore_patterns("summaries"))
    # callbacks received for the Lite sessions: Megvii sessions are then counted once a month
    shutil.copytree(d / "tables" / "sessions" / "source=megvii_lite", d / "tables" / "sessions" / "source=megvii_notify")
    scanned, distinct = [], []
    timed = lambda: [p for p in scanned if p[0] not in ("baidu_detail", "baidu_stat")]  # noqa: E731 (those: above)
    real, real_distinct = _review._current, _review.distinct_query
    monkeypatch.setattr(_review, "_current", lambda lay, w, cur, part, *a: (scanned.append(part),
                                                                            real(lay, w, cur, part, *a)))
    monkeypatch.setattr(_review, "distinct_query", lambda *a, **k: (distinct.append(a[-1]), real_distinct(*a, **k))[1])
    # June is whole in this period; the previous one starts on 2026-05-02, so May is counted every time
    since = "2026-06-01"
    fresh = summarize(d, since, UNTIL, engine="duckdb")
    entries = sorted((d / "summaries" / "review").rglob("*.arrows"))
    june = sorted(p for p in scanned if p[1] == "2026-06")
    # (Baidu stat and detail, fetched today, are placed in May and June: "placed" keeps where, "tokens"
    # Baidu's distinct tokens of the window)
    assert june and {e.name.split("-")[0] for e in entries} == {"current", "previous", "window", "distinct",
                                                                 "placed", "tokens"}
    assert len([e for e in entries if e.name.startswith("current-")]) == len(june)
    assert sorted(m for m in distinct if m) == ["2026-05", "2026-06"] and distinct.count(None) == 1   # (Baidu's)
    assert {oct(e.stat().st_mode & 0o777) for e in entries} == {"0o600"}               # owner-only, as the tables
    assert oct((d / "summaries").stat().st_mode & 0o777) == "0o700"
    scanned.clear()
    distinct.clear()
    again = summarize(d, since, UNTIL, engine="duckdb")
    # every whole partition read back: all but Baidu stat's and detail's, fetched today, whose rows are
    # placed in both periods (whole in neither)
    assert sorted(p[0] for p in scanned) == ["baidu_detail", "baidu_stat"] and distinct == ["2026-05"]
    assert again.counts["distinct"] is not None and set(again.counts["distinct"]["group"]) == {"Megvii", "Baidu"}
    same_counts(again, fresh)
    same_counts(again, summarize(d, since, UNTIL, engine="pandas"))

    # a file of one partition changed (a landing, a compaction): that partition, and only it, again
    scanned.clear()
    f = next((d / "tables" / "comparisons" / f"source={june[0][0]}" / "month=2026-06").glob("part-*.parquet"))
    os.utime(f, ns=(f.stat().st_atime_ns, f.stat().st_mtime_ns + 1_000_000_000))
    same_counts(summarize(d, since, UNTIL, engine="duckdb"), fresh)
    assert timed() == [june[0]]
    assert len(list((d / "summaries" / "review" / f"source={june[0][0]}" / "month=2026-06").glob("current-*"))) == 1

    # June wholly in the previous period of July's review: its counts there are its own, not June's review's
    same_counts(summarize(d, "2026-07-01", "2026-08-01", engine="duckdb"),
                 summarize(d, "2026-07-01", "2026-08-01", engine="pandas"))

    # an entry cut short is counted again; so is every partition when nothing can be kept
    entry = next((d / "summaries" / "review").rglob("current-*.arrows"))
    entry.write_bytes(entry.read_bytes()[:100])
    scanned.clear()
    same_counts(summarize(d, since, UNTIL, engine="duckdb"), fresh)
    assert len(timed()) == 1
    shutil.rmtree(d / "summaries")
    (d / "summaries").write_text("not a folder")
    scanned.clear()
    same_counts(summarize(d, since, UNTIL, engine="duckdb"), fresh)
    assert sorted(p for p in scanned if p[1] == "2026-06") == june

    # a rebuild writes other files: what was kept of the old ones goes with them
    (d / "summaries").unlink()
    summarize(d, since, UNTIL, engine="duckdb")
    assert list((d / "summaries").rglob("*.arrows"))
    rebuild(d)
    assert not (d / "summaries").exists()


def test_a_period_starting_mid_month_is_counted_alike(data):
    """A period that starts inside a month partition: that month's sessions before the start
    belong to the previous period, and DuckDB counts them there as pandas does."""
    a = summarize(data, "2026-06-12", UNTIL, engine="duckdb")
    b = summarize(data, "2026-06-12", UNTIL, engine="pandas")
    assert a.counts["sessions"] is not None and len(a.counts["sessions"])
    same_counts(a, b)


def test_a_review_counts_the_days_of_its_time_zone(data):
    """``tz="Asia/Shanghai"``: the period is Beijing's days, days and weeks are counted on
    Beijing's calendar, by DuckDB and by pandas alike, and the summaries equal the pandas
    metrics with the same ``tz``."""
    tz = "Asia/Shanghai"
    a = summarize(data, SINCE, UNTIL, engine="duckdb", tz=tz)
    b = summarize(data, SINCE, UNTIL, engine="pandas", tz=tz)
    assert a.period.since == pd.Timestamp(SINCE, tz=tz) and a.period.until == pd.Timestamp(UNTIL, tz=tz)
    same_counts(a, b)
    c = load(data, "comparisons", since=a.period.since, until=a.period.until)
    for freq in ("D", "W", "W-MON"):
        assert_frame_equal(a.pass_rates("current", "comparison", freq=freq),
                           A.pass_rates(c, "comparison", freq=freq, tz=tz))
    daily = a.pass_rates("current", freq="D", levels=["1e-4"])
    assert str(daily["period"].dtype) == f"datetime64[us, {tz}]" and daily["period"].iloc[0] == a.period.since
    # not the UTC days: the sandbox's sessions spread over the day, so some fall on another date
    utc = summarize(data, SINCE, UNTIL, engine="duckdb")
    assert not a.counts["comparisons"]["day"].equals(utc.counts["comparisons"]["day"])
    assert a.since_day == utc.since_day        # both periods start on 2026-06-01, each at its own midnight


def _values(x) -> list:
    return [None if pd.isna(v) else v for v in x]


def test_segment_values_from_json_kv_and_columns():
    import duckdb

    from faceanalytics.engines._review import segment_expr
    from faceanalytics.engines._sql import DuckDBDialect

    s = pd.DataFrame({"biz_extra_data": ['{"channel": "app", "n": 3, "x": null}', "channel=h5&product=loan",
                                         "product=card&channel=", "user-1234", "", None, ' {"channel": "<b>"}',
                                         "{not json channel=mini", "a=1&channel=mini&channel=app"],
                      "procedure_type": ["still", "video", None, "", "flash", "still", "will", "video", None]})
    segs = [Segment("channel"), Segment("n"), Segment("product"), Segment("x"),
            Segment("channel", values=("app",)), Segment("procedure_type", column="procedure_type")]
    mine = [_values(segment_values(s, x)) for x in segs]
    assert mine[0] == ["app", "h5", None, None, None, None, "<b>", None, "mini"]
    assert mine[1][0] == "3" and mine[3] == [None] * 9
    assert mine[2][:3] == [None, "loan", "card"]
    assert mine[4][:2] == ["app", "(other)"]
    assert mine[5][2:4] == [None, None]
    # the SQL the engines run gives the same values
    d = DuckDBDialect()
    con = duckdb.connect()
    con.register("s", s)
    for x, expected in zip(segs, mine):
        got = con.sql(f"SELECT {segment_expr(d, x)} AS v FROM s").fetchall()
        assert [r[0] for r in got] == expected, x


def test_default_period_is_the_last_30_days_of_data(data):
    s = load(data, "sessions")
    latest = A.place_untimed(s, s).session_time.max()     # not the day Baidu stat and detail were fetched
    assert latest < s.session_time.max()
    p = review_period(data)
    assert p.default and p.latest == latest
    assert p.until == latest.floor("D") + pd.Timedelta(days=1)
    assert p.since == p.until - pd.Timedelta(days=30)
    assert p.previous_since == p.since - pd.Timedelta(days=30) and p.previous_until == p.since
    q = review_period(data, since="2026-06-01")
    assert (q.since, q.until) == (pd.Timestamp("2026-06-01", tz="UTC"), p.until) and not q.default
    with pytest.raises(ValueError, match="before"):
        review_period(data, "2026-07-01", "2026-06-01")
    with pytest.raises(ValueError, match="not a date"):
        review_period(data, "June")


def test_empty_period_says_so(data):
    with pytest.warns(UserWarning, match="no sessions in the period 2031-01-01"):
        text = build_report(data, "2031-01-01", "2031-02-01")
    assert "No sessions in this period: there is nothing to review." in text
    for _, heading, _ in SECTIONS:
        assert escape(heading) in text
    assert "could not be built" not in text
    assert "<img" not in text


def test_tiny_period_shows_counts(tmp_path):
    d = tmp_path / "data"
    ingest([write_jsonl(tmp_path / "two.jsonl", [
        envelope("megvii_lite", "1781000000,a", lite_at(1781000000, "a")),     # 2026-06-09
        envelope("baidu_getall", "tokTiny", baidu_attempt(XSS, "2026-06-10 09:00:00")),
    ])], d)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = write_report(d, tmp_path / "tiny.html")
    assert not [w for w in caught if "review report" in str(w.message)]
    text = out.read_text(encoding="utf-8")
    assert "Only 2 session(s) in this period" in text
    # Baidu's verify_time is Beijing time: 09:00 there is 01:00 UTC.
    assert "the default: the last 30 days up to the latest session in the data (2026-06-10 01:00 UTC)" in text
    assert "could not be built" not in text
    assert re.search(r'title="fewer than 30: a count, not a rate">\d+ of \d+<', text)
    # The Baidu message is shown as text: escaped, never as markup.
    assert XSS not in text and "<重试>" not in text and "<script" not in text.lower()
    assert escape(XSS) in text
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix in (".html", ".json") or p.name.startswith(".")) \
        == ["tiny.findings.json", "tiny.html"]
    assert json.loads((tmp_path / "tiny.findings.json").read_text(encoding="utf-8")) == []


# ------------------------------------------------------------------------------ command line

def test_cli_review_writes_the_file(data, tmp_path, capsys):
    out = tmp_path / "r" / "review.html"
    out.parent.mkdir()                  # a folder that is not there is refused (test_hostile8)
    assert main(["review", "--data", str(data), "--out", str(out), "--since", SINCE, "--until", UNTIL,
                 "--segment", "channel", "--level", "faceid=1e-5", "--level", "1e-3", "--engine", "pandas"]) == 0
    assert capsys.readouterr().out.split() == [str(out), str(out.with_name("review.findings.json"))]
    text = out.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    assert "2026-06-01 to 2026-06-30" in text
    assert "faceid pass rate at 1e-5 (level in force)" in text and "Level in force</b> 1e-3; faceid at 1e-5" in text
    assert "Segment keys as asked (--segment): channel (biz_extra_data)" in text
    assert isinstance(json.loads(findings_path(out).read_text(encoding="utf-8")), list)


@pytest.mark.parametrize("args", [
    ["--since", "2026-13-45"],
    ["--until", "yesterday"],
    ["--engine", "excel"],
])
def test_cli_review_bad_date_is_a_usage_error(data, tmp_path, args):
    with pytest.raises(SystemExit) as e:
        main(["review", "--data", str(data), "--out", str(tmp_path / "r.html"), *args])
    assert e.value.code == 2
    assert not (tmp_path / "r.html").exists()


def test_cli_review_usage_errors_exit_2(data, tmp_path, capsys):
    out = tmp_path / "r.html"
    assert main(["review", "--data", str(data), "--out", str(out), "--since", UNTIL, "--until", SINCE]) == 2
    assert "before" in capsys.readouterr().err
    assert main(["review", "--data", str(tmp_path / "missing"), "--out", str(out)]) == 2
    assert main(["review", "--data", str(data), "--out", str(out), "--level", "1e-7"]) == 2
    assert "level must be one of" in capsys.readouterr().err
    assert main(["review", "--data", str(data), "--out", str(out), "--level", "face_id=1e-5"]) == 2
    assert "no comparison kind 'face_id'" in capsys.readouterr().err
    # "everything": a traceback (OverflowError) before; an empty segment key: DuckDB's
    assert main(["review", "--data", str(data), "--out", str(out), "--since", "1900-01-01", "--until", "2400-01-01"]) == 2
    assert "a review period lies between 2000-01-01 and 2100-01-01" in capsys.readouterr().err
    assert main(["review", "--data", str(data), "--out", str(out), "--segment", ""]) == 2
    assert "not an empty name" in capsys.readouterr().err
    assert main(["review", "--data", str(data), "--out", str(out), "--labels", str(tmp_path / "none.csv")]) == 2
    assert "no such labels file" in capsys.readouterr().err
    bad = tmp_path / "bad.csv"
    bad.write_text("session_id,genuine\nabc,maybe\n")
    assert main(["review", "--data", str(data), "--out", str(out), "--labels", str(bad)]) == 2
    assert "genuine must be true/false" in capsys.readouterr().err
    # a session labelled both ways (a traceback, exit 1, before), and a file that is not text
    bad.write_text("session_id,genuine\nabc,1\nabc,0\nxyz,1\nxyz,1\n")
    assert main(["review", "--data", str(data), "--out", str(out), "--labels", str(bad)]) == 2
    assert "1 session(s) labelled both genuine and not, e.g. 'abc'" in capsys.readouterr().err
    bad.write_bytes(b"\x00\xff\xfe" * 100)
    assert main(["review", "--data", str(data), "--out", str(out), "--labels", str(bad)]) == 2
    assert f"{bad}: not a readable UTF-8 CSV file of labels" in capsys.readouterr().err
    assert not out.exists() and not findings_path(out).exists()


def test_repeated_request_ids_and_no_comparison_counted_alike(tmp_path):
    """Two sessions answered with one request id (a canned response), and a finished session
    without a comparison: DuckDB and pandas count them as data_quality does."""
    recs = []
    for i, epoch in enumerate((1781000000, 1781000100, 1781000200)):
        p = lite_at(epoch, f"s{i}")
        p["request_id"] = "1781000000,shared" if i < 2 else p["request_id"]
        p["liveness_result"]["result"] = "PASS"                        # the seed lists the choices
        if i == 2:
            p["verify_result"] = {"verify_time": epoch + 5}           # verified, but no comparison
        recs.append(envelope("megvii_lite", p["biz_info"]["biz_id"], p))
    d = tmp_path / "data"
    ingest([write_jsonl(tmp_path / "q.jsonl", recs)], d)
    want = A.data_quality(load(d, "sessions"), comparisons=load(d, "comparisons"), quarantine=load(d, "quarantine"))
    want = want.set_index("check")["n"]
    assert want["repeated_request_id"] == 2 and want["no_comparison"] == 1
    for engine in ("duckdb", "pandas"):
        got = summarize(d, "2026-06-01", "2026-07-01", engine=engine).data_quality().set_index("check")["n"]
        assert got.to_dict() == want.to_dict(), engine


def test_a_session_labelled_twice_the_same_way_counts_once(tmp_path):
    from faceanalytics.report import read_labels

    f = tmp_path / "labels.csv"
    f.write_text("session_id,genuine\nabc,yes\nabc,1\nxyz,0\n")
    lab = read_labels(f)
    assert lab[["session_id", "genuine"]].values.tolist() == [["abc", True], ["xyz", False]]
    # the words the metrics read (analytics GENUINE_TEXT): one vocabulary for file and frame
    f.write_text("session_id,genuine\nabc,Genuine\nxyz,impostor\nuvw, N \n")
    assert read_labels(f)["genuine"].tolist() == [True, False, False]


# ------------------------------------------------------------------ frames an analyst built by hand

def _frames(data):
    return {t: load(data, t) for t in ("sessions", "comparisons", "genuineness", "attempts", "error_counts",
                                      "verify_errors", "quarantine")}


@pytest.mark.parametrize("table, column", [("comparisons", "confidence"), ("comparisons", "session_time"),
                                           ("genuineness", "attack"), ("sessions", "status"),
                                           ("attempts", "code"), ("error_counts", "count")])
def test_review_of_frames_names_the_table_and_the_missing_column(data, table, column):
    from faceanalytics.report import review

    frames = _frames(data)
    frames[table] = frames[table].drop(columns=[column])
    with pytest.raises(KeyError, match=rf"review: the {table} table needs column\(s\) {column};"):
        review(frames, SINCE, UNTIL, segments=[])


@pytest.mark.parametrize("table, column, value", [("comparisons", "confidence", "high"),
                                                  ("comparisons", "session_time", "last tuesday"),
                                                  ("sessions", "fetched_at", "x"), ("error_counts", "count", "many")])
def test_review_of_frames_names_a_column_of_the_wrong_kind(data, table, column, value):
    from faceanalytics.report import review

    frames = _frames(data)
    frames[table] = frames[table].assign(**{column: value})
    with pytest.raises(ValueError, match=rf"review: the {table} table's {column} column holds a value that is not"):
        review(frames, SINCE, UNTIL, segments=[])


def test_review_of_frames_takes_what_it_can_and_refuses_what_is_no_table(data):
    from faceanalytics.report import review

    frames = _frames(data)
    whole = review(frames, SINCE, UNTIL, segments=[]).summaries.session_counts()
    frames["sessions"] = frames["sessions"].drop(columns=["request_id"])      # optional: no repeats to count
    assert review(frames, SINCE, UNTIL, segments=[]).summaries.session_counts().equals(whole)
    labels = pd.DataFrame({"session_id": ["a", "b"], "genuine": [True, False]})
    r = review({"sessions": frames["sessions"]}, SINCE, UNTIL, segments=[], labels=labels)  # no comparisons
    assert r.n_labels == 2 and r.n_labels_matched == 0
    with pytest.raises(TypeError, match="the comparisons table is a list, not a DataFrame"):
        review({"comparisons": [1, 2]}, SINCE, UNTIL, segments=[])


def _baidu_pair(tmp_path, name, rows):
    """Ingest Baidu ``(source, token, day, score)`` rows (detail dated by its fetch, getall by
    its attempt, China time) into ``tmp_path/data``; return the data directory."""
    recs = []
    for source, token, day, score in rows:
        if source == "baidu_detail":
            p = seed("baidu_detail.json")
            p["result"]["verify_result"].update(score=score, spoofing=0.01)
            recs.append(envelope(source, token, p, fetched_at=f"{day}T02:00:00Z"))
        else:
            p = seed("baidu_getall.json")
            a = p["result"]["verify_result"][0]
            a.update(verify_time=f"{day} 09:00:00", charge_time=f"{day} 09:00:00")
            a["verify_detail"].update(score=score, spoofing_score=0.02)
            recs.append(envelope(source, token, p, fetched_at=f"{day}T02:00:00Z"))
    d = tmp_path / "data"
    ingest([write_jsonl(tmp_path / f"{name}.jsonl", recs)], d)
    return d


def test_baidu_detail_counts_are_kept_and_counted_again_when_getall_repeats_change(tmp_path, monkeypatch):
    """A Baidu detail partition's rows that repeat getall's are left out, so its counts depend on
    getall's rows too.  They are kept with those rows named in their key: read back when a
    getall landing does not touch them (before, every detail partition of both periods was
    counted on every review), counted again -- and equal to fresh counts -- when it does."""
    from faceanalytics.engines import _review

    rows = [("baidu_detail", f"tokj{i}", "2026-06-10", 60.0 + i) for i in range(20)]
    rows += [("baidu_getall", f"tokj{i}", "2026-06-10", 60.0 + i) for i in range(10)]
    rows += [("baidu_detail", f"tokm{i}", "2026-05-12", 70.0 + i) for i in range(10)]
    rows += [("baidu_getall", f"tokm{i}", "2026-05-12", 70.0 + i) for i in range(5)]
    d = _baidu_pair(tmp_path, "first", rows)
    scanned, previous = [], []
    real, real_prev = _review._current, _review._previous_table
    monkeypatch.setattr(_review, "_current", lambda lay, w, cur, part, *a: (scanned.append(part),
                                                                            real(lay, w, cur, part, *a)))
    monkeypatch.setattr(_review, "_previous_table", lambda lay, w, since, table, parts, *a: (
        previous.append((table, tuple(parts))), real_prev(lay, w, since, table, parts, *a)))
    # the rows getall's leave out (their signature) and Baidu's distinct tokens: queried or read back
    listed, distinct = [], []
    real_listed, real_distinct = _review._Listed._query, _review.distinct_query
    monkeypatch.setattr(_review._Listed, "_query", lambda self, table, parts: (
        listed.append(table), real_listed(self, table, parts))[1])
    monkeypatch.setattr(_review, "distinct_query", lambda *a, **k: (distinct.append(a[4]), real_distinct(*a, **k))[1])
    since, until = "2026-06-01", "2026-07-01"

    def review_again(expect_scanned, expect_previous, expect_queried):
        scanned.clear()
        previous.clear()
        listed.clear()
        distinct.clear()
        got = summarize(d, since, until, engine="duckdb")
        assert sorted(scanned) == expect_scanned
        assert sorted({p for t, ps in previous if t != "sessions" for p in ps}) == expect_previous
        assert (sorted(listed), distinct) == expect_queried
        same_counts(got, summarize(d, since, until, engine="pandas"))
        return got

    queried = (["comparisons", "genuineness"], ["baidu"])
    fresh = review_again([("baidu_detail", "2026-06"), ("baidu_getall", "2026-06")],
                         [("baidu_detail", "2026-05"), ("baidu_getall", "2026-05")], queried)
    detail = "source == 'baidu_detail'"
    assert int(fresh.counts["comparisons"].query(detail)["n"].sum()) == 15       # June 20 - 10, May 10 - 5
    review_again([], [], ([], []))                    # every whole partition read back, detail's too
    # getall lands a token detail does not hold: getall's June again, detail's read back
    ingest([write_jsonl(tmp_path / "b.jsonl", [envelope("baidu_getall", "toknew", _getall_at("2026-06-15"),
                                                        fetched_at="2026-06-15T02:00:00Z")])], d)
    review_again([("baidu_getall", "2026-06")], [], queried)
    # getall lands June and May tokens detail holds: those detail partitions are counted again
    ingest([write_jsonl(tmp_path / "c.jsonl", [
        envelope("baidu_getall", "tokj15", _getall_at("2026-06-16"), fetched_at="2026-06-16T02:00:00Z"),
        envelope("baidu_getall", "tokm7", _getall_at("2026-06-16"), fetched_at="2026-06-16T02:00:00Z")])], d)
    # (tokm7's detail row, stored in May, is placed at its getall time in June: May's detail
    # partition now has a row in this period, so it is counted with this period's partitions)
    got = review_again([("baidu_detail", "2026-05"), ("baidu_detail", "2026-06"), ("baidu_getall", "2026-06")], [],
                       queried)
    assert int(got.counts["comparisons"].query(detail)["n"].sum()) == 13


def _getall_at(day):
    p = seed("baidu_getall.json")
    a = p["result"]["verify_result"][0]
    a.update(verify_time=f"{day} 09:00:00", charge_time=f"{day} 09:00:00")
    return p


def test_a_labels_file_with_a_line_no_id_could_fill_is_refused_before_it_is_read(tmp_path):
    """pandas holds a CSV field many times over (one 50 MB "id" peaked at 868 MB): a line over
    LABEL_LINE is refused first, wherever it falls among the blocks the check reads."""
    from faceanalytics.report import LABEL_LINE, _short_lines, read_labels

    f = tmp_path / "labels.csv"
    f.write_text("session_id,genuine\nabc,1\n" + "x" * (LABEL_LINE + 1) + ",0\nxyz,0\n")
    with pytest.raises(ValueError, match=r"line 3 is over 65,536 bytes: not a labels file"):
        read_labels(f)
    for block in (5, 7, 64, 1 << 20):          # the long line across block edges, and in one block
        with pytest.raises(ValueError, match="line 3 is over"):
            _short_lines(f, block=block)
    f.write_text("session_id,genuine\nabc,1\n" + "y" * (LABEL_LINE + 1))        # the last line, no newline
    with pytest.raises(ValueError, match="line 3 is over"):
        _short_lines(f, block=1000)
    f.write_text("session_id,genuine\n" + "".join(f"id{i},{i % 2}\n" for i in range(500))
                 + "z" * (LABEL_LINE - 2) + ",1\n")                             # at the limit: read
    for block in (3, 64, 1 << 20):
        _short_lines(f, block=block)
    assert len(read_labels(f)) == 501


def test_a_report_never_replaces_a_device_or_a_fifo(data, tmp_path, capsys):
    """The report is written whole and renamed into place, and a rename replaces whatever
    has the name: ``--out /dev/null`` or ``--xlsx /dev/full`` run as root replaced the device
    itself with the file (found so on this machine).  A FIFO stands in for the device here."""
    import os
    import stat

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    out = tmp_path / "r.html"
    assert main(["review", "--data", str(data), "--out", str(fifo), "--engine", "pandas"]) == 2
    assert main(["review", "--data", str(data), "--out", str(out), "--xlsx", str(fifo), "--engine", "pandas"]) == 2
    assert capsys.readouterr().err.count("is not a regular file") == 2
    with pytest.raises(FileExistsError, match="not a regular file"):
        write_report(data, fifo, since=SINCE, until=UNTIL, engine="pandas")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert not findings_path(fifo).exists() and not out.exists()
