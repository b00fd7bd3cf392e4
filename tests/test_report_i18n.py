"""The review in other languages: catalogues, a pseudo-locale that proves every visible word comes
from the catalogue, the Chinese report and its figures' fonts, the workbook, --fail-on-findings."""
from __future__ import annotations

import json
import re
import string
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import _planted as P
from faceanalytics import __version__, _i18n
from faceanalytics._fonts import find_cjk_font, has_cjk
from faceanalytics.cli import EXIT_FINDINGS, main
from faceanalytics.pipeline.ingest import ingest
from faceanalytics.report import findings_path, review
from faceanalytics.report._workbook import SHEETS, header, sheet_name
from faceanalytics.schema import TABLES
from faceanalytics.storage.tables import load

SINCE, UNTIL = "2026-06-01", "2026-07-01"
PSEUDO = "x-pseudo"
OPEN, CLOSE, HOLE_OPEN, HOLE_CLOSE = "«", "»", "‹", "›"
ROOT = Path(__file__).resolve().parents[1] / "faceanalytics"


def _data(tmp_path_factory, name, plants, seed, n):
    d = tmp_path_factory.mktemp(name) / "data"
    recs = P.records(seed, n_lite=n, n_liveness=n // 6, n_baidu=n // 10, reference_date="2026-07-01",
                     window_days=60, plants=plants)
    ingest([P.write(d.parent / "records.jsonl", recs)], d)
    return d


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """Two months with a new threshold set, a wave of mask attacks and a step of a billed verify
    error in June, and outcome labels for some of June's sessions."""
    plants = [P.KeyValueExtra(0.5), P.SegmentDrop(45, "2026-06-06"), P.AttackWave(0.5, "2026-06-12", days=4),
              P.ThresholdChange("2026-06-08", comparison="ref1"),
              P.ErrorStep(0.12, "2026-06-05", code="ID_NUMBER_NAME_NOT_MATCH")]
    d = _data(tmp_path_factory, "planted", plants, seed=7, n=1500)
    c = load(d, "comparisons", since=SINCE, until=UNTIL)
    ids = c.loc[c["comparison"] == "faceid", "session_id"].drop_duplicates().iloc[:300]
    labels = pd.DataFrame({"session_id": ids, "genuine": np.arange(len(ids)) % 5 != 0})
    return d, labels


@pytest.fixture(scope="module")
def quiet(tmp_path_factory):
    return _data(tmp_path_factory, "quiet", [], seed=8, n=600)


# ------------------------------------------------------------------------------ catalogues

def test_catalogues_have_the_same_keys_and_placeholders():
    en = _i18n.catalogue("en")
    for lang in _i18n.LANGS:
        cat = _i18n.catalogue(lang)
        assert set(cat) == set(en), (lang, sorted(set(cat) ^ set(en)))
        for key, text in en.items():
            assert type(cat[key]) is type(text), (lang, key)
            assert _i18n.placeholders(cat[key]) == _i18n.placeholders(text), (lang, key)
            if isinstance(text, list):
                assert len(cat[key]) == len(text), (lang, key)


def test_every_key_the_code_names_is_in_the_catalogue():
    """Keys written out in the code (``tr("x.y")``, ``cols("name")``) exist; a key built from a
    code (``tr(f"stage.{stage}")``) is checked by the pseudo-locale report below."""
    en = _i18n.catalogue("en")
    named = set()
    for path in ROOT.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        named |= set(re.findall(r"\btr(?:_or|_list)?\(\s*\"([\w.\-]+)\"\s*[,)]", text))
        for args in re.findall(r"\bcols\(([^)]*)\)", text):
            named |= {f"col.{x}" for x in re.findall(r"\"(\w+)\"", args)}
    assert len(named) > 200
    assert sorted(k for k in named if k not in en) == []


def _glossary() -> dict[str, str]:
    """The zh-CN catalogue's glossary: English term -> the Chinese term to use."""
    text = (ROOT / "messages" / "zh-CN.toml").read_text(encoding="utf-8")
    out = {}
    for line in text.split("术语表", 1)[1].splitlines()[1:]:
        if not line.startswith("#"):
            break
        m = re.match(r"#\s+(.+?)\s{2,}(\S.*)$", line)
        if m:
            out[m.group(1).strip()] = m.group(2).strip()
    return out


@pytest.mark.parametrize("en_term, zh_term", [
    ("pass rate", "通过率"), ("CI", "置信区间"), ("interval", "置信区间"), ("percentage point", "百分点"),
    ("threshold", "阈值"), ("false-discovery rate", "错误发现率"), ("billed", "计费"), ("FAR", "误识率"),
    ("FRR", "拒识率"), ("anti-spoofing", "活体防伪"), ("flagged", "判为攻击"), ("session", "会话"),
])
def test_chinese_terms_follow_the_glossary(en_term, zh_term):
    """Wherever the English message uses a glossary term, the Chinese one uses the glossary's
    translation (one term for one idea, as a risk committee reads them)."""
    glossary = _glossary()
    assert any(zh_term in v for v in glossary.values()), (zh_term, glossary)
    en, zh = _i18n.catalogue("en"), _i18n.catalogue("zh-CN")
    pattern = re.compile(rf"(?<![\w-]){re.escape(en_term)}", re.I if en_term.islower() else 0)
    used = [k for k, v in en.items() if isinstance(v, str) and pattern.search(_words(v))
            and not k.startswith(("meta.", "plots.det.", "plots.margins."))]
    assert used, en_term
    assert [k for k in used if zh_term not in zh[k]] == []


def _words(text: str) -> str:
    """A message without its placeholders and code-like tokens (``--level``, ``session_id``)."""
    text = re.sub(r"\{[^}]*\}", " ", text)
    return re.sub(r"\S*[_/][\S]*|--\S+", " ", text)


def test_language_names():
    assert _i18n.normalize_lang("zh_CN") == _i18n.normalize_lang("zh-cn") == _i18n.normalize_lang("zh") == "zh-CN"
    assert _i18n.normalize_lang(None) == "en"
    with pytest.raises(ValueError, match="en, zh-CN"):
        _i18n.normalize_lang("fr")


# ------------------------------------------------------------------------------ the pseudo-locale

def _pseudo() -> dict:
    """Every message replaced by a marker: «key‹placeholder›…»; settings ([meta]) as in English."""
    out = {}
    for key, text in _i18n.catalogue("en").items():
        if key.startswith("meta.") or isinstance(text, list):
            out[key] = text
            continue
        holes = "".join(HOLE_OPEN + "{" + name + (f"!{conv}" if conv else "") + (f":{spec}" if spec else "") + "}"
                        + HOLE_CLOSE for _, name, spec, conv in string.Formatter().parse(text) if name)
        out[key] = f"{OPEN}{key}{holes}{CLOSE}"
    return out


@pytest.fixture(scope="module")
def pseudo_review(planted):
    d, labels = planted
    _i18n._register(PSEUDO, _pseudo())
    try:
        rv = review(d, SINCE, UNTIL, labels=labels, lang=PSEUDO)
        html, findings, tables = rv.html(), json.loads(rv.findings_json()), rv.tables()
    finally:
        _i18n._unregister(PSEUDO)
    return rv, html, findings, tables


class _Visible(HTMLParser):
    """Text nodes outside <style>, and the attributes a reader sees (alt, title)."""

    def __init__(self):
        super().__init__()
        self.texts, self._skip = [], False

    def handle_starttag(self, tag, attrs):
        self._skip = tag == "style"
        self.texts += [v for k, v in attrs if k in ("alt", "title") and v]

    def handle_endtag(self, tag):
        self._skip = False

    def handle_data(self, data):
        if not self._skip and data.strip():
            self.texts.append(data)


_MARK = re.compile(rf"{OPEN}[\w.\-]+|[{CLOSE}{HOLE_OPEN}{HOLE_CLOSE}]")
_NUMBER = re.compile(r"\d{4}-\d\d-\d\d(?: \d\d:\d\d)?|[+\-−]?\d[\d,]*(?:\.\d+)?(?:e[+\-]?\d+)?%?"
                     r"|(?<![A-Za-z])[np](?=[=<])")          # the symbols of n=1,234 and p=0.01


def _data_values(d: Path, *extra) -> list[str]:
    """Every text value of the data (codes, statuses, messages, segment keys and values, sources),
    the data directory and the version: what a report may show that is not a word of its own."""
    values = {str(d), __version__, "duckdb", *extra}
    for table in TABLES:
        try:
            f = load(d, table)
        except Exception:  # a table the data has no rows for
            continue
        for col in f.columns:
            if col in ("raw", "fetched_at") or f[col].dtype.kind not in "OUS" and str(f[col].dtype) != "string":
                continue
            for v in f[col].dropna().astype(str).unique()[:5000]:
                values.add(v)
                if col == "biz_extra_data":            # JSON or k=v&… text: its keys and values
                    values.update(re.findall(r"[\w.\-]+", v))
    # values without a letter (digits, 1e-4, thresholds) are numbers to the check below
    return sorted((v for v in values if any(ch.isalpha() for ch in v)), key=len, reverse=True)


def _rest(text: str, values: list[str]) -> str:
    """``text`` without the markers, the data's values, numbers and dates."""
    rest = " ".join(_MARK.split(text))
    for v in values:
        if v in rest:
            rest = re.sub(rf"(?<![\w]){re.escape(v)}(?![\w])", " ", rest)
    return _NUMBER.sub(" ", rest)


def _stray_words(text: str, values: list[str]) -> str:
    """The letters left of ``text`` after the markers, the data's values, numbers and dates: words
    the code wrote instead of the catalogue."""
    return "".join(ch for ch in _rest(text, values) if ch.isalpha())


def test_every_visible_string_of_the_report_comes_from_the_catalogue(planted, pseudo_review):
    d, _ = planted
    rv, html, findings, _ = pseudo_review
    # the time zone's IANA name (UTC here) is an identifier the user chose, as the data directory
    values = _data_values(d, rv.summaries.tz or "UTC", *(x.name for x in rv.summaries.segments))
    parser = _Visible()
    parser.feed(html)
    assert len(parser.texts) > 500
    stray = {t: s for t in parser.texts if (s := _stray_words(t, values))}
    assert stray == {}
    # the report has its sections, findings (box, table, figures), labels and a decision table
    assert html.count(f"{OPEN}sections.") == 3 * 15                      # nav, heading and lead of each
    assert f"{OPEN}findings.heading{CLOSE}" in html and f"{OPEN}labels.intro" in html
    assert len(rv.findings) >= 2 and f"{OPEN}finding.text" in html and re.search(r'id="fig-change-\d+"', html)
    assert f"{OPEN}decision.keep{CLOSE}" in html or f"{OPEN}decision.review{CLOSE}" in html
    assert '<html lang="x-pseudo">' in html


def test_findings_json_keeps_keys_and_codes_and_translates_text(planted, pseudo_review):
    d, labels = planted
    _, _, pseudo, tables = pseudo_review
    english = json.loads(review(d, SINCE, UNTIL, labels=labels).findings_json())
    assert [list(f) for f in pseudo] == [list(f) for f in english]          # the same keys, in order
    text_fields = {"title", "text", "decision", "also"}
    for p, e in zip(pseudo, english):
        assert {k: v for k, v in p.items() if k not in text_fields} == \
            {k: v for k, v in e.items() if k not in text_fields}
        for k in ("title", "text", "decision", *([] if not p["also"] else ["also"])):
            for part in (p[k] if isinstance(p[k], list) else [p[k]]):
                assert part.startswith(OPEN) and not _stray_words(part, _data_values(d)), (k, part)
    # the workbook's text cells come from the catalogue too
    for name, frame in tables.items():
        for col in frame.columns:
            if frame[col].dtype == object:
                for v in frame[col].dropna().astype(str):
                    assert not _stray_words(v, _data_values(d)), (name, col, v)


# ------------------------------------------------------------------------------ Chinese

@pytest.fixture(scope="module")
def chinese(planted, tmp_path_factory):
    """The zh-CN review written by the CLI (report, findings, workbook), every figure's texts recorded."""
    from matplotlib.figure import Figure
    from matplotlib.text import Text

    d, labels = planted
    lab = tmp_path_factory.mktemp("labels") / "labels.csv"
    labels.to_csv(lab, index=False)
    out = tmp_path_factory.mktemp("zh") / "评估.html"
    texts = []
    save = Figure.savefig

    def spy(fig, *args, **kwargs):
        r = save(fig, *args, **kwargs)                  # drawn: tick labels are made
        texts.extend((t.get_text(), t.get_fontfamily()) for t in fig.findobj(Text)
                     if t.get_visible() and t.get_text().strip())
        return r

    mp = pytest.MonkeyPatch()
    mp.setattr(Figure, "savefig", spy)
    try:
        code = main(["review", "--data", str(d), "--out", str(out), "--since", SINCE, "--until", UNTIL,
                     "--labels", str(lab), "--lang", "zh-CN", "--xlsx", str(out.with_suffix(".xlsx"))])
    finally:
        mp.undo()
    assert code == 0
    return d, out, texts


def test_chinese_report(chinese):
    d, out, _ = chinese
    html = out.read_text(encoding="utf-8")
    zh = _i18n.catalogue("zh-CN")
    assert '<html lang="zh-CN">' in html
    for key in ("headline", "changes", "decision", "method"):
        assert f"<h2>{zh[f'sections.{key}.heading']}</h2>" in html
    assert "人脸核验评估报告，2026-06-01 至 2026-06-30" in html
    assert "优先关注" in html and "通过率" in html and "置信区间" in html and "误识率（FAR）" in html
    for english in ("Look at first", "Headline figures", "pass rate", "this period", "too few"):
        assert english not in html
    findings = json.loads(findings_path(out).read_text(encoding="utf-8"))
    assert findings and all(has_cjk(f["text"]) and has_cjk(f["decision"]) for f in findings)
    assert {f["family"] for f in findings} <= {"pass_rate", "configured", "flagged", "error", "billed", "thresholds"}


def test_chinese_figures_use_the_cjk_font_with_every_glyph(chinese):
    from matplotlib.ft2font import FT2Font

    d, _, texts = chinese
    font = find_cjk_font()
    assert font is not None                           # the bundled Noto Sans SC at least
    glyphs = FT2Font(font.path)
    values = _data_values(d)
    chinese_texts = 0
    for text, family in texts:
        words = _stray_words(text, values)
        if not words:
            continue                                  # numbers, dates, codes from the data
        assert has_cjk(words), text                   # a word of the figure is Chinese …
        latin = set(re.findall(r"[A-Za-z]+", _rest(text, values)))
        assert latin <= {"PSI", "KS", "API", "UTC", "Lite", "stat"}, (text, latin)   # … acronyms aside
        assert family[0] == font.family, (text, family)   # … drawn in the CJK font
        missing = [c for c in text if has_cjk(c) and glyphs.get_char_index(ord(c)) == 0]
        assert missing == [], (text, missing)
        chinese_texts += 1
    assert chinese_texts >= 40
    titles = [t for t, _ in texts if "通过率" in t or "置信度" in t or "攻击" in t]
    assert titles


# ------------------------------------------------------------------------------ the workbook

def test_workbook_reads_back_as_the_review_frames(chinese, planted):
    from openpyxl import load_workbook

    d, out, _ = chinese
    book = out.with_suffix(".xlsx")
    labels = planted[1]
    rv = review(d, SINCE, UNTIL, labels=labels, lang="zh-CN")
    tables = rv.tables()
    with _i18n.language("zh-CN"):
        names = {k: sheet_name(k) for k in SHEETS}
        headers = {k: [header(c) for c in tables[k].columns] for k in SHEETS}
    assert names["pass_rates"] == "通过率" and headers["pass_rates"][:3] == ["来源", "比对类型", "等级"]
    sheets = pd.read_excel(book, sheet_name=None, dtype=object)
    assert list(sheets) == [names[k] for k in SHEETS]
    for key in SHEETS:
        got, want = sheets[names[key]], tables[key]
        assert list(got.columns) == headers[key], key
        assert len(got) == len(want), key
        for col, h in zip(want.columns, headers[key]):
            for a, b in zip(got[h], want[col]):
                _same(a, b, (key, col))
    assert len(tables["findings"]) == len(rv.findings) >= 2
    assert len(tables["headline"]) >= 8 and len(tables["errors"]) >= 5 and len(tables["decision"]) >= 8
    # numbers are numbers, rates are formatted as percentages, dates as dates, the header row stays
    wb = load_workbook(book)
    ws = wb[names["pass_rates"]]
    assert ws.freeze_panes == "A2"
    col = {c.value: c.column for c in ws[1]}
    rate = ws.cell(row=2, column=col["通过率"])
    assert rate.data_type == "n" and "%" in rate.number_format
    n = ws.cell(row=2, column=col["n"])
    assert n.data_type == "n" and n.number_format == "#,##0"
    ws = wb[names["findings"]]
    col = {c.value: c.column for c in ws[1]}
    start = ws.cell(row=2, column=col["开始"])
    assert start.is_date and start.number_format == "yyyy-mm-dd"
    assert ws.cell(row=2, column=col["变化后比率"]).number_format == "0.0%"
    headline = wb[names["headline"]]
    kinds = {r[1].value: r[2] for r in headline.iter_rows(min_row=2)}
    assert kinds["比率"].number_format == "0.0%" and kinds["计数"].number_format == "#,##0"
    for key in SHEETS:                                 # no number stored as text
        ws, frame = wb[names[key]], tables[key]
        for j, col in enumerate(frame.columns, 1):
            if frame[col].dtype.kind in "iuf" or str(frame[col].dtype) == "Int64":
                cells = [c for (c,) in ws.iter_rows(min_row=2, min_col=j, max_col=j) if c.value is not None]
                assert all(c.data_type == "n" for c in cells), (key, col)


def _same(got, want, where):
    if want is None or (not isinstance(want, str) and pd.isna(want)) or want == "":
        assert got is None or (isinstance(got, float) and np.isnan(got)) or pd.isna(got), (where, got)
    elif isinstance(want, pd.Timestamp):
        assert pd.Timestamp(got) == want.tz_convert("UTC").tz_localize(None), (where, got, want)
    elif isinstance(want, (int, float, np.integer, np.floating)) and not isinstance(want, bool):
        assert float(got) == pytest.approx(float(want), rel=1e-12, abs=1e-12), (where, got, want)
    else:
        assert str(got) == str(want), (where, got, want)


# ------------------------------------------------------------------------------ a scheduled review

def test_fail_on_findings_exits_3_after_writing_every_file(planted, tmp_path, capsys):
    d, _ = planted
    out = tmp_path / "weekly.html"
    args = ["review", "--data", str(d), "--out", str(out), "--since", SINCE, "--until", UNTIL,
            "--xlsx", str(tmp_path / "weekly.xlsx")]
    assert main([*args, "--fail-on-findings"]) == EXIT_FINDINGS == 3
    cap = capsys.readouterr()
    assert "finding(s)" in cap.err and str(out) in cap.out
    assert out.exists() and (tmp_path / "weekly.xlsx").exists()
    assert json.loads(findings_path(out).read_text(encoding="utf-8"))
    assert main(args[:-2]) == 0                      # without the option: findings are not a failure


def test_fail_on_findings_exits_0_without_findings(quiet, tmp_path, capsys):
    out = tmp_path / "weekly.html"
    assert main(["review", "--data", str(quiet), "--out", str(out), "--since", SINCE, "--until", UNTIL,
                 "--fail-on-findings"]) == 0
    assert json.loads(findings_path(out).read_text(encoding="utf-8")) == []
    assert out.exists() and capsys.readouterr().err == ""


def test_usage_errors_keep_status_2(quiet, tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["review", "--data", str(quiet), "--out", str(tmp_path / "r.html"), "--lang", "fr",
              "--fail-on-findings"])
    assert e.value.code == 2 and "en, zh-CN" in capsys.readouterr().err
    assert main(["review", "--data", str(tmp_path / "missing"), "--out", str(tmp_path / "r.html"),
                 "--fail-on-findings"]) == 2
    assert main(["review", "--data", str(quiet), "--out", str(tmp_path / "r.html"), "--xlsx", str(tmp_path),
                 "--fail-on-findings"]) == 2
    assert "is a directory" in capsys.readouterr().err
    assert not (tmp_path / "r.html").exists()
