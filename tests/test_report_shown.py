"""What a reader sees of segment values and data-derived text.

A ``k=v&...`` biz_extra_data with percent-encoded values (``channel=%E5%BA%94%E7%94%A8``) is
counted as stored but shown decoded, in the HTML, the findings JSON and the workbook; two
stored values that decode alike stay two rows that read apart; a NUL or a bell from the
data never reaches the HTML, and the workbook is still written.
"""
from __future__ import annotations

import json
import warnings
from io import BytesIO

import pandas as pd
import pytest

import _planted as P
from faceanalytics.pipeline.ingest import ingest
from faceanalytics.report import findings_path, review, write_report
from faceanalytics.report._shown import decoded, no_controls, value_labels

APP, H5 = "%E5%BA%94%E7%94%A8", "%E7%BD%91%E9%A1%B5"          # 应用, 网页
MINI_TOO = "mi%6Ei"                                             # decodes to "mini", a value of its own
SINCE, UNTIL = "2026-04-01", "2026-07-01"


class _Encode:
    """``channel`` app and h5 written percent-encoded; a third of ``mini`` written ``mi%6Ei``
    (after :class:`_planted.KeyValueExtra` made every biz_extra_data ``k=v&`` text)."""

    def __call__(self, source, session, payload, rng):
        holder = payload.get("biz_info") if isinstance(payload.get("biz_info"), dict) else payload
        raw = holder.get("biz_extra_data") if isinstance(holder, dict) else None
        if not isinstance(raw, str) or raw.startswith("{"):
            return
        mini = MINI_TOO if rng.random() < 1 / 3 else "mini"
        parts = []
        for part in raw.split("&"):
            k, _, v = part.partition("=")
            parts.append(f"{k}={ {'app': APP, 'h5': H5, 'mini': mini}.get(v, v)}" if k == "channel" else part)
        holder["biz_extra_data"] = "&".join(parts)


@pytest.fixture(scope="module")
def encoded(tmp_path_factory):
    d = tmp_path_factory.mktemp("encoded") / "data"
    plants = [P.KeyValueExtra(1.0), _Encode(), P.SegmentDrop(25, "2026-05-16", value=APP)]
    recs = P.records(5, n_lite=5000, n_liveness=0, n_baidu=100, reference_date="2026-07-01", window_days=91,
                     plants=plants)
    ingest([P.write(d.parent / "records.jsonl", recs)], d)
    return d


def test_decoding_rule():
    assert decoded(APP) == "应用" and decoded("a+b%20c") == "a b c"       # '+' a space where escapes are
    assert decoded("a+b") == "a+b"                                          # no escape: as stored
    assert decoded("100%") == "100%" and decoded("50%+%E5%BA%94") == "50%+%E5%BA%94"    # a lone '%'
    assert decoded("%E5%BA") == "%E5%BA" and decoded("%FF") == "%FF"        # not UTF-8
    assert decoded(None) is None and decoded(3) == 3
    assert value_labels(["app", "ap%70", APP]) == {"app": "app", "ap%70": "app (stored as ap%70)", APP: "应用"}
    assert no_controls("a\x00b\x07c\td\ne\rf\x7f") == "a\ufffdb\ufffdc\td\ne\rf\ufffd"


def test_percent_encoded_values_are_shown_decoded_and_counted_as_stored(encoded, tmp_path):
    from openpyxl import load_workbook

    r = review(encoded, SINCE, UNTIL, segments=["channel"], engine="duckdb")
    # counted as stored, by DuckDB as by pandas
    p = review(encoded, SINCE, UNTIL, segments=["channel"], engine="pandas")
    for name in r.summaries.counts:
        a, b = r.summaries.counts[name], p.summaries.counts[name]
        if a is None or b is None:
            assert a is None and b is None, name
        else:
            pd.testing.assert_frame_equal(a, b, obj=name)
    (seg,) = r.summaries.segments
    assert set(seg.values) == {APP, H5, "mini", MINI_TOO}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = r.write(tmp_path / "r.html", xlsx=tmp_path / "r.xlsx")
    assert not [w for w in caught if "failed" in str(w.message) or "Glyph" in str(w.message)], \
        [str(w.message)[:200] for w in caught]
    html = out.read_text(encoding="utf-8")
    # the segments table: one row per stored value, read apart
    for text in ("应用", "网页", "<td>mini</td>", "mini (stored as mi%6Ei)"):
        assert text in html, text
    assert APP not in html and H5 not in html
    # the finding of the drop: named decoded, in the box, the changes table and the JSON
    f = [x for x in r.findings if x.family == "pass_rate" and x.segment and x.segment["key"] == "channel"
         and x.segment.get("raw") == APP]
    assert f, [x.text for x in r.findings]
    assert f[0].segment == {"key": "channel", "value": "应用", "raw": APP}
    assert "channel = 应用" in f[0].title and f[0].figure                 # its figure found by the stored value
    js = json.loads(findings_path(out).read_text(encoding="utf-8"))
    mine = next(x for x in js if x["segment"] == {"key": "channel", "value": "应用", "raw": APP})
    assert "应用" in mine["title"] and APP not in mine["title"] + mine["text"] + mine["decision"]
    assert APP not in json.dumps(js, ensure_ascii=False).replace(f'"raw": "{APP}"', "")
    # the workbook
    book = load_workbook(tmp_path / "r.xlsx")
    cells = {c.value for ws in book for row in ws.iter_rows() for c in row if isinstance(c.value, str)}
    assert {"应用", "网页", "mini", "mini (stored as mi%6Ei)"} <= cells
    assert not [c for c in cells if APP in c or H5 in c]
    # and in Chinese
    zh = review(encoded, SINCE, UNTIL, segments=["channel"], lang="zh-CN").html()
    assert "应用" in zh and "mini（原文 mi%6Ei）" in zh and APP not in zh


def test_control_characters_never_reach_the_html(tmp_path):
    """A NUL and a bell in a segment value and in a provider's message: gone from the HTML
    (replaced), the findings JSON stays JSON, and the workbook is written."""
    from openpyxl import load_workbook

    recs = P.records(8, n_lite=300, n_liveness=0, n_baidu=20, reference_date="2026-07-01", window_days=30)
    for rec in recs:
        if rec["source"] == "megvii_lite":
            rec["payload"]["biz_info"]["biz_extra_data"] = "channel=ap\x00p\x07&x=1"
        if rec["source"] == "baidu_getall":
            for a in (rec["payload"].get("result") or {}).get("verify_result", []):
                a.update(code="222380", message="time\x00out\x07")
    d = tmp_path / "data"
    ingest([P.write(tmp_path / "r.jsonl", recs)], d)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = write_report(d, tmp_path / "r.html", "2026-06-01", "2026-07-01", segments=["channel"],
                           xlsx=tmp_path / "r.xlsx")
    html = out.read_text(encoding="utf-8")
    assert "\x00" not in html and "\x07" not in html
    assert "ap\ufffdp\ufffd" in html and "time\ufffdout\ufffd" in html
    # nor the figures (Matplotlib drew a box and warned per character)
    assert not [w for w in caught if "failed" in str(w.message) or "Glyph" in str(w.message)], \
        [str(w.message)[:200] for w in caught]
    assert isinstance(json.loads(findings_path(out).read_text(encoding="utf-8")), list)
    book = load_workbook(BytesIO((tmp_path / "r.xlsx").read_bytes()))
    cells = {c.value for ws in book for row in ws.iter_rows() for c in row if isinstance(c.value, str)}
    assert "ap\ufffdp\ufffd" in cells
