"""Inline images kept in packs (issue 12): one uncompressed ZIP per ingest chunk, source and
month; read back with ``fa.media_bytes`` / ``fa.load_media``; idempotent, crash-safe, and
``rebuild`` leaves no orphan pack behind."""
import base64
import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import faceanalytics as fa
from faceanalytics.errors import DataError, MediaError
from faceanalytics.pipeline.ingest import ingest, rebuild
from faceanalytics.storage import DataDir
from faceanalytics.storage import packs as packs_mod
from faceanalytics.storage import tables as store_mod
from faceanalytics.storage.media import load_media, media_bytes
from faceanalytics.storage.tables import load

from _helpers import envelope, seed, write_jsonl  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def jpeg(i: int, size: int = 300) -> bytes:
    """A distinct small JPEG-looking blob per ``i``."""
    body = hashlib.sha256(str(i).encode()).digest()
    return b"\xff\xd8\xff\xe0" + (body * (size // 32 + 1))[:size]


def uri(blob: bytes) -> str:
    return "data:image/jpeg;base64," + base64.b64encode(blob).decode()


def lite(i: int) -> dict:
    p = seed("megvii_lite_success.json")
    p["images"] = {"image_best": uri(jpeg(i)), "image_env": uri(jpeg(10_000 + i)),
                   "image_action1": "data:image/jpeg;base64,..."}  # no bytes: no member
    return envelope("megvii_lite", f"1700000000,s{i}", p)


def detail(i: int) -> dict:
    p = seed("baidu_detail.json")
    p["result"]["idcard_images"]["front_base64"] = base64.b64encode(jpeg(20_000 + i)).decode()
    return envelope("baidu_detail", f"tok-{i}", p)


def packs_in(data: Path) -> list[Path]:
    return sorted((data / DataDir.PACKS).rglob("*.zip"))


def media_files(data: Path) -> list[Path]:
    return sorted(p for p in (data / "media").rglob("*") if p.is_file())


def expected(recs) -> dict[tuple[str, str], bytes]:
    """(session, field) -> the image bytes the records carry."""
    out = {}
    for r in recs:
        if r["source"] == "megvii_lite":
            for f in ("image_best", "image_env"):
                out[(r["session_id"], f)] = base64.b64decode(r["payload"]["images"][f].split(",", 1)[1])
        else:
            out[(r["session_id"], "idcard_front_base64")] = base64.b64decode(
                r["payload"]["result"]["idcard_images"]["front_base64"])
    return out


def assert_all_readable(data, recs) -> None:
    m = load(data, "media")
    m = m[m.path.notna()]
    want = expected(recs)
    got = {(r.session_id, r.field): media_bytes(data, r) for r in m.itertuples()}
    assert got == want


def test_one_pack_per_chunk_and_source_that_any_zip_reader_opens(tmp_path):
    recs = [lite(i) for i in range(40)] + [detail(i) for i in range(15)]
    data = tmp_path / "d"
    rep = ingest([write_jsonl(tmp_path / "in.jsonl", recs)], data)
    assert rep.landed == 55
    packs = packs_in(data)
    assert media_files(data) == packs                     # no image as a file of its own
    assert [p.relative_to(data / DataDir.PACKS).parts[0] for p in packs] == ["baidu_detail", "megvii_lite"]
    assert all((p.stat().st_mode & 0o777) == 0o600 for p in packs)   # images are personal data
    assert_all_readable(data, recs)

    m = load(data, "media")
    imgs = m[m.path.notna()]
    assert len(imgs) == 95 and imgs.pack.notna().all() and imgs.offset.notna().all()
    assert m[m.field == "image_action1"].pack.isna().all()   # a placeholder: an error, no bytes
    for pack, rows in imgs.groupby("pack"):
        with zipfile.ZipFile(data / pack) as z:
            assert z.testzip() is None
            assert sorted(z.namelist()) == sorted(rows.path)
            for r in rows.itertuples():
                info = z.getinfo(r.path)
                assert info.compress_type == zipfile.ZIP_STORED and info.file_size == r.n_bytes
                assert z.read(r.path) == media_bytes(data, r)
                assert hashlib.sha256(z.read(r.path)).hexdigest() == r.sha256
    # members are named as the files were: <session>/<field>.<ext>
    assert set(imgs[imgs.source == "megvii_lite"].path) == {
        f"1700000000_s{i}~{hashlib.sha256(f'1700000000,s{i}'.encode()).hexdigest()[:12]}/{f}.jpg"
        for i in range(40) for f in ("image_best", "image_env")}


def test_reingest_adds_no_pack_and_no_row_and_chunks_get_their_own_packs(tmp_path):
    recs = [lite(i) for i in range(50)]
    path = write_jsonl(tmp_path / "in.jsonl", recs)
    data = tmp_path / "d"
    ingest([path], data, chunk_size=20)
    packs = packs_in(data)
    assert len(packs) == 3                                # 20 + 20 + 10 records
    before = {p: p.stat().st_mtime_ns for p in packs}
    n_rows = len(load(data, "media"))
    rep = ingest([path], data, chunk_size=20)
    assert (rep.landed, rep.skipped) == (0, 50)
    assert {p: p.stat().st_mtime_ns for p in packs_in(data)} == before
    assert len(load(data, "media")) == n_rows
    assert_all_readable(data, recs)


def test_a_crash_before_the_commit_leaves_no_row_and_the_rerun_reuses_the_pack(tmp_path, monkeypatch):
    recs = [lite(i) for i in range(30)]
    path = write_jsonl(tmp_path / "in.jsonl", recs)
    data = tmp_path / "d"
    real = store_mod.Store.commit

    def die(self, tables, *a, **k):
        if "media" in tables:
            raise KeyboardInterrupt
        return real(self, tables, *a, **k)

    with monkeypatch.context() as mp:
        mp.setattr(store_mod.Store, "commit", die)
        with pytest.raises(KeyboardInterrupt):
            ingest([path], data)
    orphan = packs_in(data)
    assert len(orphan) == 1 and load(data, "media").empty     # written, but nothing points into it
    rep = ingest([path], data)
    assert rep.landed == 30
    assert packs_in(data) == orphan                           # the same chunk names the same pack
    assert_all_readable(data, recs)


KILL_MID_PACK = """
import os, signal, sys
from faceanalytics.storage import packs
packs._SPILL = 1 << 10
real = packs._Spool.spill
def spill(self, force=False):
    if self.base:                       # some of the pack is in its file already: die
        os.kill(os.getpid(), signal.SIGKILL)
    return real(self, force)
packs._Spool.spill = spill
from faceanalytics.pipeline.ingest import ingest
ingest([sys.argv[1]], sys.argv[2])
"""


def test_killed_while_writing_a_pack_then_the_rerun_completes(tmp_path):
    recs = [lite(i) for i in range(30)]
    path = write_jsonl(tmp_path / "in.jsonl", recs)
    data = tmp_path / "d"
    r = subprocess.run([sys.executable, "-c", KILL_MID_PACK, str(path), str(data)], cwd=ROOT,
                       capture_output=True)
    assert r.returncode == -9
    half = [p for p in (data / "media").rglob("*") if p.is_file()]
    assert half and all(p.name.startswith(".tmp-") for p in half)   # never under a pack's name
    assert load(data, "media").empty
    rep = ingest([path], data)
    assert rep.landed == 30
    assert media_files(data) == packs_in(data) and len(packs_in(data)) == 1   # swept, written whole
    assert_all_readable(data, recs)


def test_rebuild_reuses_the_packs_and_removes_the_ones_no_row_points_into(tmp_path, monkeypatch):
    first, second = [lite(i) for i in range(25)], [detail(i) for i in range(10)]
    data = tmp_path / "d"
    ingest([write_jsonl(tmp_path / "a.jsonl", first)], data)
    ingest([write_jsonl(tmp_path / "b.jsonl", second)], data)
    kept = {p: p.stat().st_ino for p in packs_in(data)}
    # a crash before the commit: the lines are archived, their pack written, no row points into it
    third = [lite(i) for i in range(100, 105)]
    real = store_mod.Store.commit
    with monkeypatch.context() as mp:
        mp.setattr(store_mod.Store, "commit", lambda self, tables, *a, **k: (_ for _ in ()).throw(
            KeyboardInterrupt) if "media" in tables else real(self, tables, *a, **k))
        with pytest.raises(KeyboardInterrupt):
            ingest([write_jsonl(tmp_path / "c.jsonl", third)], data)
    kept.update({p: p.stat().st_ino for p in packs_in(data) if p not in kept})
    assert len(kept) == 3
    # and a pack no archived record gives
    stray = data / DataDir.PACKS / "megvii_lite" / "2020-01" / "0123456789abcdef.zip"
    stray.parent.mkdir(parents=True)
    stray.write_bytes(b"PK\x05\x06" + b"\0" * 18)

    rebuild(data)
    # the archive's chunks give the same packs (the crash's one too: its lines were archived),
    # left as they were; the stray one is gone
    assert {p: p.stat().st_ino for p in packs_in(data)} == kept
    assert_all_readable(data, first + second + third)
    rebuild(data)
    assert {p: p.stat().st_ino for p in packs_in(data)} == kept


def test_load_media_and_what_media_bytes_refuses(tmp_path):
    data = tmp_path / "d"
    ingest([write_jsonl(tmp_path / "in.jsonl", [lite(1), lite(2), detail(1)])], data)
    assert fa.load_media is load_media and fa.media_bytes is media_bytes   # the public names
    assert load_media(data, "1700000000,s1") == {"image_best": jpeg(1), "image_env": jpeg(10_001)}
    assert load_media(data, "tok-1", source="baidu_detail") == {"idcard_front_base64": jpeg(20_001)}
    assert load_media(data, "tok-1", source="megvii_lite") == {}

    m = load(data, "media")
    row = m[m.path.notna()].iloc[0].to_dict()
    with pytest.raises(MediaError, match="sha256"):
        media_bytes(data, {**row, "sha256": "0" * 64})
    with pytest.raises(MediaError, match="not valid base64"):
        media_bytes(data, m[m.field == "image_action1"].iloc[0])
    assert issubclass(MediaError, DataError) and issubclass(MediaError, ValueError)
    # a downloaded will file (media_files) is a file of its own: the same call reads it
    (data / "media" / "megvii_lite" / "x").mkdir(parents=True)
    (data / "media" / "megvii_lite" / "x" / "will_video.mp4").write_bytes(b"video")
    assert media_bytes(data, {"path": "media/megvii_lite/x/will_video.mp4", "sha256": None}) == b"video"
    (tmp_path / "secret").write_bytes(b"not for a media row")
    for outside in ("../secret", str(tmp_path / "secret")):
        with pytest.raises(MediaError, match="not inside the data directory"):
            media_bytes(data, {"path": outside})
        with pytest.raises(MediaError, match="not inside the data directory"):
            media_bytes(data, {**row, "pack": outside})


def test_pack_layout_matches_zipfile(tmp_path):
    """The offsets written into the rows are where zipfile puts each member's bytes, also
    when the pack is spilled to its file in several writes."""
    members = sorted((f"s{i}/image_best.jpg", "x", jpeg(i, 50 + 37 * i)) for i in range(60))
    old = packs_mod._SPILL
    packs_mod._SPILL = 700
    try:
        offsets = packs_mod.write_pack(tmp_path, "media/packs/t/2026-11/p.zip", members)
    finally:
        packs_mod._SPILL = old
    pack = tmp_path / "media/packs/t/2026-11/p.zip"
    raw = pack.read_bytes()
    with zipfile.ZipFile(pack) as z:
        for name, _, blob in members:
            assert z.read(name) == blob == raw[offsets[name]:offsets[name] + len(blob)]
    assert not [p for p in pack.parent.iterdir() if p.name.startswith(".tmp-")]
    # written again (a rerun): left alone, the same offsets
    mtime = pack.stat().st_mtime_ns
    assert packs_mod.write_pack(tmp_path, "media/packs/t/2026-11/p.zip", members) == offsets
    assert pack.stat().st_mtime_ns == mtime


def test_a_pack_name_is_never_masked_as_personal_data():
    """A pack's name is a hex digest, whose digits may look like a phone number: never scrubbed."""
    import pyarrow as pa

    from faceanalytics.pipeline.pii import scrub_table

    t = pa.table({"pack": ["media/packs/megvii_lite/2026-11/13812345678.zip"],
                  "path": ["1700000000_s1~0a/image_best.jpg"], "error": ["call 13812345678"]})
    out = scrub_table(t)
    assert out.column("pack").equals(t.column("pack")) and out.column("path").equals(t.column("path"))
    assert out.column("error")[0].as_py() != "call 13812345678"   # the scrub did run


def test_the_small_packs_of_small_landings_are_merged_at_the_end_of_a_run(tmp_path):
    """The receiver lands every few seconds and fetch every 500 answers: each landing its own
    small pack.  At the end of a run those of a (source, month) become one, rows re-pointed;
    a row read before the merge still reads (it finds where its image went)."""
    recs = [lite(i) for i in range(3 * packs_mod.COMPACT_AT)]
    data = tmp_path / "d"
    first = write_jsonl(tmp_path / "a.jsonl", recs[:packs_mod.COMPACT_AT - 1])
    ingest([first], data, chunk_size=1)
    small = packs_in(data)
    assert len(small) == packs_mod.COMPACT_AT - 1             # not yet enough to merge
    stale = load(data, "media")
    stale = stale[stale.path.notna()].iloc[0]
    ingest([write_jsonl(tmp_path / "b.jsonl", recs)], data, chunk_size=3)
    packs = packs_in(data)
    assert len(packs) == 1 and packs[0] not in small and media_files(data) == packs
    assert_all_readable(data, recs)
    assert set(load(data, "media").pack.dropna()) == {str(packs[0].relative_to(data))}
    assert media_bytes(data, stale) == expected(recs)[(stale.session_id, stale.field)]
    # rebuild lands the archive's small chunks again, merges them to the same pack, and
    # removes the small ones after its swap
    rebuild(data)
    assert packs_in(data) == packs
    assert_all_readable(data, recs)


def test_small_packs_are_merged_a_bounded_group_at_a_time(tmp_path, monkeypatch):
    """A merge holds its group's bytes in memory: a month of a busy receiver's small packs
    becomes several packs of at most MERGED bytes each, every image still readable."""
    recs = [lite(i) for i in range(2 * packs_mod.COMPACT_AT)]
    data = tmp_path / "d"
    ingest([write_jsonl(tmp_path / "a.jsonl", recs[:1])], data, chunk_size=1)
    one = packs_in(data)[0].stat().st_size
    monkeypatch.setattr(packs_mod, "MERGED", 4 * one)
    ingest([write_jsonl(tmp_path / "b.jsonl", recs)], data, chunk_size=1)
    packs = packs_in(data)
    assert 2 * packs_mod.COMPACT_AT // 5 <= len(packs) < 2 * packs_mod.COMPACT_AT // 2, [p.stat().st_size for p in packs]
    assert all(p.stat().st_size <= 5 * one for p in packs)
    assert_all_readable(data, recs)
    assert set(load(data, "media").pack.dropna()) == {str(p.relative_to(data)) for p in packs}


def test_a_chunks_pack_of_many_images_is_not_merged_and_groups_are_bounded_in_images(tmp_path, monkeypatch):
    """An ingest chunk's pack (SMALL_MEMBERS images or more) is left as it is however few
    its bytes; small packs merge in groups of at most MERGED_MEMBERS images."""
    recs = [lite(i) for i in range(4 * packs_mod.COMPACT_AT)]
    monkeypatch.setattr(packs_mod, "SMALL_MEMBERS", 3)             # a record here has 2 images
    big = tmp_path / "big"
    ingest([write_jsonl(tmp_path / "a.jsonl", recs)], big, chunk_size=2)
    assert len(packs_in(big)) == 2 * packs_mod.COMPACT_AT            # 4 images each: none merged
    monkeypatch.setattr(packs_mod, "MERGED_MEMBERS", 8)
    small = tmp_path / "small"
    ingest([write_jsonl(tmp_path / "b.jsonl", recs)], small, chunk_size=1)
    per_pack = load(small, "media").pack.dropna().value_counts()
    assert len(per_pack) == 2 * len(recs) // 8 and per_pack.max() == 8, per_pack.to_dict()
    assert_all_readable(small, recs)
