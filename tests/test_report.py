"""The review report: sections, self-containment, escaping, numbers, tiny and empty periods, CLI."""
from __future__ import annotations

import base64
import html
import json
import re
import warnings
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

from faceanalytics import analytics as A
from faceanalytics.cli import main
from faceanalytics.fetch import fetch_baidu, fetch_megvii
from faceanalytics.ingest import ingest
from faceanalytics.report import SECTIONS, build_report, review_period, write_report
from faceanalytics.sandbox import Sandbox
from faceanalytics.store import load

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
    row = re.search(r"<tr><td class=\"wrap\">" + re.escape(html.escape(label)) + r".*?</tr>", text)
    assert row, label
    return re.findall(r"<td class=\"num\">(.*?)</td>", row.group(0))[column - 1]


def period_table(data, table):
    return load(data, table, since=SINCE, until=UNTIL)


# ------------------------------------------------------------------------------ contents

def test_every_section_with_its_one_sentence(report):
    for key, heading, lead in SECTIONS:
        assert f'<section id="{key}"><h2>{html.escape(heading)}</h2>' in report
        assert f'<p class="lead">{html.escape(lead)}</p>' in report
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
    rates = A.pass_rates(c[c.comparison == "faceid"]).set_index("level")
    for lv in ("1e-3", "1e-4", "1e-5"):
        r = rates.loc[lv]
        cell = headline_cell(report, f"Face pass rate at {lv}")
        assert float(re.search(r'data-value="([^"]+)"', cell).group(1)) == pytest.approx(r.pass_rate)
        assert f"{r.pass_rate * 100:.1f}%" in cell and f"n={int(r.n):,}" in cell
        assert f"[{r.ci_low * 100:.1f}%–{r.ci_high * 100:.1f}%]" in cell
    s = period_table(data, "sessions")
    provider = s.source.str.split("_").str[0]
    n_sessions = len(pd.DataFrame({"p": provider, "s": s.session_id}).drop_duplicates())
    assert headline_cell(report, "Sessions").startswith(f"{n_sessions:,}<br>")
    errors = int(s.error.notna().sum())
    assert re.search(rf'data-value="{errors / len(s):.10g}"', headline_cell(report, "API errors"))
    e = A.error_codes(s, period_table(data, "verify_errors"), period_table(data, "error_counts"),
                      period_table(data, "attempts"))
    assert int(e.billed.sum()) >= 1                              # the injected charged attempt
    assert headline_cell(report, "Billed errors") == f"{int(e.billed.sum()):,}"
    assert headline_cell(report, "Quarantined records") == "1"


def test_default_period_is_the_last_30_days_of_data(data):
    latest = load(data, "sessions").session_time.max()
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
    text = build_report(data, "2031-01-01", "2031-02-01")
    assert "No sessions in this period: there is nothing to review." in text
    for _, heading, _ in SECTIONS:
        assert html.escape(heading) in text
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
    assert html.escape(XSS) in text
    assert [p.name for p in tmp_path.iterdir() if p.suffix == ".html" or p.name.startswith(".")] == ["tiny.html"]


# ------------------------------------------------------------------------------ command line

def test_cli_review_writes_the_file(data, tmp_path, capsys):
    out = tmp_path / "r" / "review.html"
    assert main(["review", "--data", str(data), "--out", str(out), "--since", SINCE, "--until", UNTIL]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    text = out.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    assert "2026-06-01 to 2026-06-30" in text


@pytest.mark.parametrize("args", [
    ["--since", "2026-13-45"],
    ["--until", "yesterday"],
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
    assert not out.exists()
