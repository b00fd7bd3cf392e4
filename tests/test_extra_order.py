"""Keys the spec lacks are noted in ``extra`` in the order the record writes them, on both
paths: a set's order (``obj.keys() - known``) changed with the process's hash seed, so the
same file ingested twice could land ``extra`` texts that differ in their keys' order."""
import json
import os
import subprocess
import sys
from pathlib import Path

from faceanalytics.flatten import Context, flatten_payload
from faceanalytics.flatten._common import Flat
from faceanalytics.pipeline.pii import Masker

sys.path.insert(0, str(Path(__file__).parent))
from _helpers import envelope, seed, write_jsonl  # noqa: E402

_NEW = [f"x_{c}{i}" for i, c in enumerate("qwertyuiopasdfghjklzxcvb")]  # 24 names, no order of their own


def test_flat_notes_unknown_keys_in_the_records_order():
    flat = Flat()
    obj = {"a": 0, **{k: i for i, k in enumerate(_NEW)}, "b": 1}
    flat.unknown("p.", obj, frozenset({"a", "b"}))
    assert list(flat.extra) == [f"p.{k}" for k in _NEW]


def test_megvii_unknown_attack_keys_are_noted_in_the_records_order():
    p = seed("megvii_lite_success.json")
    fg = p["liveness_result"]["face_genuineness"]
    fg.update({k: i for i, k in enumerate(_NEW)})
    flat = flatten_payload("megvii_lite", p, Context("megvii_lite", "1462259748,o", Masker(b"k" * 32)))
    assert [k for k in flat.extra if k.startswith("liveness_result.face_genuineness.")] == \
        [f"liveness_result.face_genuineness.{k}" for k in _NEW]


def test_extra_is_the_same_whatever_the_hash_seed(tmp_path):
    """The same lines ingested by two processes with other hash seeds (one record on the
    columnar path, one on the Python path): the same ``extra`` text."""
    lite = seed("megvii_lite_success.json")
    lite["x_block"] = {k: i for i, k in enumerate(_NEW)}
    odd = json.loads(json.dumps(lite))
    odd["liveness_result"]["face_genuineness"]["x_new_confidence"] = 0.5  # an attack kind: Python path
    odd["liveness_result"]["face_genuineness"].update({k: i for i, k in enumerate(_NEW)})
    f = write_jsonl(tmp_path / "in.jsonl", [envelope("megvii_lite", "1462259748,a", lite),
                                             envelope("megvii_lite", "1462259748,b", odd)])
    got = []
    for hash_seed in ("1", "2"):
        d = tmp_path / f"d{hash_seed}"
        code = ("import sys; from faceanalytics.pipeline.ingest import Ingestor; "
                "from faceanalytics.storage.tables import load; "
                "ing = Ingestor(sys.argv[1]); ing.ingest_lines(open(sys.argv[2], 'rb').read().splitlines(), origin='t'); "
                "ing.close(); print(load(sys.argv[1], 'sessions').sort_values('session_id')['extra'].to_json())")
        out = subprocess.run([sys.executable, "-c", code, str(d), str(f)], capture_output=True, text=True,
                             env=dict(os.environ, PYTHONHASHSEED=hash_seed), timeout=120)
        assert out.returncode == 0, out.stderr[-2000:]
        got.append(out.stdout.strip().splitlines()[-1])
    assert got[0] == got[1]
    assert all(k in got[0] for k in _NEW)
