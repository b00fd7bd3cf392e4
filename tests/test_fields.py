"""Every leaf field of every example in the provider documents lands in a table column."""
import hashlib
import json
from pathlib import Path

import pytest

from faceanalytics.pipeline.pii import Masker
from faceanalytics.flatten import Context, flatten_payload
from faceanalytics.flatten.fields import find, leaf_paths, render_markdown

SEEDS = Path(__file__).parent / "data" / "seeds"
ROOT = Path(__file__).parents[1]
SECRET = "test-secret"

FIXTURES = {
    "megvii_lite_success.json": "megvii_lite",
    "megvii_lite_error.json": "megvii_lite",
    "megvii_lite_table_fields.json": "megvii_lite",
    "megvii_liveness_success.json": "megvii_liveness",
    "megvii_liveness_error.json": "megvii_liveness",
    "megvii_liveness_verify_result_table.json": "megvii_liveness",
    "megvii_notify_callback.json": "megvii_notify",
    "baidu_detail.json": "baidu_detail",
    "baidu_detail_table_fields.json": "baidu_detail",
    "baidu_detail_failure.json": "baidu_detail",
    "baidu_simple.json": "baidu_simple",
    "baidu_stat.json": "baidu_stat",
    "baidu_getall.json": "baidu_getall",
    "baidu_getall_table_fields.json": "baidu_getall",
    "baidu_media.json": "baidu_media",
}


def _norm(v):
    if v is None or v == "":
        return None
    if isinstance(v, bool):
        return v
    try:
        return float(v)
    except (TypeError, ValueError):
        return str(v)


def _flatten(name, source):
    payload = json.loads((SEEDS / name).read_text())
    documented = payload
    if source == "megvii_notify":
        documented = json.loads(payload["data"])
        payload = {"data": payload["data"],
                   "sign": hashlib.sha1((SECRET + payload["data"]).encode()).hexdigest()}
    ctx = Context(source, "1462259748,x", Masker(b"k" * 32, keep_pii=True), SECRET)
    return documented, flatten_payload(source, payload, ctx)


def _rows(flat, table):
    return [flat.session] if table == "sessions" else flat.rows.get(table, [])


@pytest.mark.parametrize("name,source", sorted(FIXTURES.items()))
def test_every_documented_leaf_lands(name, source):
    documented, flat = _flatten(name, source)
    nowhere = []
    for path, value in leaf_paths(documented):
        entry = find(source, path)
        if entry is None:
            nowhere.append(f"{path} (no mapping)")
            continue
        table, column, how = entry
        rows = _rows(flat, table)
        last = path.rsplit(".", 1)[-1].replace("[]", "")
        if how == "value":
            got = {_norm(r.get(column)) for r in rows}
            ok = _norm(value) in got or _norm(value) is None  # null lands as null
        elif how == "key":
            ok = any(r.get(column) == last for r in rows)
        elif how == "media":
            field = last if column == "field" else column.replace("<key>", last)
            ok = any(str(r.get("field")) == field and (r.get("path") or r.get("url") or r.get("error"))
                     for r in rows)
        else:  # masked, time, derived: present in the column
            ok = any(r.get(column) is not None for r in rows) or value in (None, "")
        if not ok:
            nowhere.append(f"{path}={value!r} -> {table}.{column} ({how})")
    assert not nowhere, "documented fields that land nowhere:\n" + "\n".join(nowhere)
    assert not {k for k in flat.extra if not k.startswith("_unreadable")}, flat.extra


def test_unmapped_leaf_is_caught():
    # The walker itself must fail on a field nobody mapped.
    assert find("megvii_lite", "brand_new_block.value") is None
    assert find("megvii_lite", "verify_result.result_faceid.thresholds.1e-4") is not None


def test_fields_document_is_current():
    assert (ROOT / "docs" / "fields.md").read_text() == render_markdown(), \
        "docs/fields.md is stale: python -m faceanalytics.flatten.fields > docs/fields.md"
