"""A percent-encoded segment *key* (``%E6%B8%A0%E9%81%93=app``: the key 渠道) is shown decoded in
the report like a value is -- HTML, findings JSON, workbook -- and asked for and counted as
stored (the findings JSON keeps the stored key in ``raw_key``)."""
from __future__ import annotations

import json

import pytest

import _planted as P
from faceanalytics.pipeline.ingest import ingest
from faceanalytics.report import findings_path, review

KEY = "%E6%B8%A0%E9%81%93"                       # 渠道
SINCE, UNTIL = "2026-04-01", "2026-07-01"


class _EncodeKey:
    """``channel=`` written with the key percent-encoded (after every biz_extra_data became
    ``k=v&`` text)."""

    def __call__(self, source, session, payload, rng):
        holder = payload.get("biz_info") if isinstance(payload.get("biz_info"), dict) else payload
        raw = holder.get("biz_extra_data") if isinstance(holder, dict) else None
        if isinstance(raw, str) and not raw.startswith("{"):
            holder["biz_extra_data"] = "&".join(KEY + p[len("channel"):] if p.startswith("channel=") else p
                                                for p in raw.split("&"))


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("encoded_key") / "data"
    plants = [P.KeyValueExtra(1.0), P.SegmentDrop(25, "2026-05-16", value="app"), _EncodeKey()]
    recs = P.records(7, n_lite=5000, n_liveness=0, n_baidu=100, reference_date="2026-07-01", window_days=91,
                     plants=plants)
    ingest([P.write(d.parent / "records.jsonl", recs)], d)
    return d


def test_an_encoded_key_is_shown_decoded_and_counted_as_stored(data, tmp_path):
    from openpyxl import load_workbook

    r = review(data, SINCE, UNTIL, segments=[KEY], engine="duckdb")
    (seg,) = r.summaries.segments
    assert seg.name == KEY and {"app", "h5", "mini"} <= set(seg.values)       # counted as stored
    out = r.write(tmp_path / "r.html", xlsx=tmp_path / "r.xlsx")
    html = out.read_text(encoding="utf-8")
    assert "渠道 (biz_extra_data)" in html and KEY not in html
    f = [x for x in r.findings if x.family == "pass_rate" and x.segment and x.segment.get("raw_key") == KEY]
    assert f, [x.text for x in r.findings]
    assert f[0].segment == {"key": "渠道", "value": "app", "raw_key": KEY}
    assert "渠道 = app" in f[0].title and f[0].figure                         # its figure found by the stored key
    js = json.loads(findings_path(out).read_text(encoding="utf-8"))
    assert KEY not in json.dumps(js, ensure_ascii=False).replace(f'"raw_key": "{KEY}"', "")
    book = load_workbook(tmp_path / "r.xlsx")
    cells = {c.value for ws in book for row in ws.iter_rows() for c in row if isinstance(c.value, str)}
    assert "渠道" in cells and not [c for c in cells if KEY in c]
    default = review(data, SINCE, UNTIL, engine="duckdb").html()                # chosen without being asked
    assert "渠道 (biz_extra_data)" in default and KEY not in default


def test_the_explorer_shows_an_encoded_key_decoded():
    import pandas as pd

    import faceanalytics as fa
    from test_careless_api2 import _frames

    c, s = _frames()
    s = s.assign(biz_extra_data=f"{KEY}=app&x=1")
    ex = fa.threshold_explorer(c, s, segments=[KEY])
    assert ("渠道 = app", (KEY, "app")) in ex.controls["segment"].options
    assert not [label for label, _ in ex.controls["segment"].options if KEY in label]
    ex.controls["segment"].value = (KEY, "app")                                 # chosen as stored
    assert ex.state()["n"] == fa.threshold_explorer(c, s).state()["n"] and isinstance(s, pd.DataFrame)
