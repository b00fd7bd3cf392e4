"""Encrypted "will" media: decrypting and downloading will_file videos and audio.

The Lite document's rule: the file's first 1024 bytes (space-padded when the
file is shorter) are encrypted with AES-ECB under the first 32 characters of
``api_secret`` (space-padded when shorter), and the ciphertext replaces them.
Downloads expire after a day and three downloads, like ``get_result``: every
download is counted in the quota ledger before it is sent.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from ._fs import fsync_dir, make_private_dirs
from .flatten._common import safe_name

__all__ = ["decrypt_will_file", "encrypt_will_file", "download_will_files", "DownloadReport"]

BLOCK = 1024
WILL_FIELDS = ("will_video", "will_audio", "will_question_audio_", "will_user_audio_")
_MAGIC = ((b"ftyp", 4, "mp4"), (b"RIFF", 0, "wav"), (b"ID3", 0, "mp3"), (b"\xff\xfb", 0, "mp3"),
          (b"\xff\xd8\xff", 0, "jpg"), (b"OggS", 0, "ogg"), (b"\x1aE\xdf\xa3", 0, "webm"))


def _key(api_secret: str) -> bytes:
    if not api_secret:
        raise ValueError("api_secret is empty: will files cannot be decrypted without it")
    return api_secret[:32].ljust(32).encode("utf-8")[:32].ljust(32, b" ")


def _cipher(api_secret: str):
    from Crypto.Cipher import AES

    return AES.new(_key(api_secret), AES.MODE_ECB)


def encrypt_will_file(plain: bytes, api_secret: str) -> bytes:
    """The provider's side of the rule (for tests and the sandbox)."""
    head = plain[:BLOCK].ljust(BLOCK, b" ")
    return _cipher(api_secret).encrypt(head) + plain[BLOCK:]


def decrypt_will_file(blob: bytes, api_secret: str, *, strip_padding: bool = True) -> bytes:
    """Decrypt a will_file download (``bytes`` in, ``bytes`` out).

    A download of exactly 1024 bytes came from a file of at most 1024 bytes that was
    space-padded before encryption; the padding is removed unless
    ``strip_padding=False`` (the rule cannot tell a padded file from one that really
    ended in spaces).

    >>> secret = "0123456789abcdef0123456789abcdef"
    >>> decrypt_will_file(encrypt_will_file(b"hello", secret), secret)
    b'hello'
    """
    if len(blob) < BLOCK:
        raise ValueError(f"a will_file download has at least {BLOCK} bytes; this one has "
                         f"{len(blob)} (not an encrypted will file, or cut short)")
    head = _cipher(api_secret).decrypt(bytes(blob[:BLOCK]))
    if len(blob) == BLOCK and strip_padding:
        head = head.rstrip(b" ")
    return head + bytes(blob[BLOCK:])


def _ext(data: bytes) -> str:
    for magic, at, ext in _MAGIC:
        if data[at:at + len(magic)] == magic:
            return ext
    return "bin"


@dataclass
class DownloadReport:
    downloaded: int = 0
    skipped: int = 0     # already downloaded, empty URL, or out of quota
    failed: int = 0
    refused: int = 0     # links not on a host of the provider (never requested)
    calls: int = 0
    reasons: dict = field(default_factory=dict)
    base_url: str | None = None

    def summary(self) -> str:
        return (f"downloaded {self.downloaded} / skipped {self.skipped} / failed {self.failed} / "
                f"refused {self.refused} / calls spent {self.calls}")

    def _count(self, reason: str) -> None:
        self.reasons[reason] = self.reasons.get(reason, 0) + 1


def download_will_files(data_dir, *, client=None, base_url: str | None = None,
                        api_secret: str | None = None, progress: bool = False,
                        allow_hosts: tuple[str, ...] = (), max_bytes: int | None = None
                        ) -> DownloadReport:
    """Download, decrypt and keep every will_file URL the tables reference.

    Files land as ``DATA/media/<source>/<session>/<field>.<ext>`` (names made
    file-safe and injective, see :func:`~faceanalytics.flatten._common.safe_name`);
    each download is recorded in ``DATA/raw/downloads.jsonl`` and in the
    ``media_files`` table.  URLs already downloaded, empty ones, and ones out of
    quota are skipped.

    The links come from provider answers, so they are not trusted: only hosts of
    the base URL (``base_url``, else ``MEGVII_BASE_URL``, else the real provider) or
    of ``allow_hosts`` are requested, redirects stay on the same host, ``user:pass@``
    is dropped (never sent, never stored), and a file is streamed to disk with a cap
    of ``max_bytes`` (256 MiB by default), never held in memory.  Holds the data
    directory's writer lock for the whole run.
    """
    from .clients import MegviiClient, ProviderError, QuotaExhausted, QuotaLedger
    from .clients._http import download_url_problem, without_userinfo
    from .clients.megvii import MAX_DOWNLOAD_BYTES
    from ._fs import require_local
    from .ingest import Ingestor
    from .store import load

    require_local(data_dir, "download-media")
    data_dir = Path(data_dir)
    secret = api_secret or os.environ.get("MEGVII_API_SECRET")
    if not secret:
        raise ValueError("MEGVII_API_SECRET is not set: will files cannot be decrypted")
    max_bytes = max_bytes or MAX_DOWNLOAD_BYTES
    allow_hosts = tuple(allow_hosts)
    rep = DownloadReport()
    with Ingestor(data_dir, archive=False) as ing:  # one writer: nothing sweeps our temporaries
        media = load(data_dir, "media")
        media = media[media["field"].astype(str).str.startswith(WILL_FIELDS) & media["url"].notna()]
        manifest = data_dir / "raw" / "downloads.jsonl"
        done = _downloaded(manifest)
        ledger = QuotaLedger(data_dir / "state" / "quota" / "megvii.log", limit=3, provider="megvii")
        own = client is None
        try:
            if own:
                client = MegviiClient.from_env(base_url, ledger=ledger)
            rep.base_url = client.base_url
            before = ledger.total()
            for row in media.itertuples(index=False):
                url = without_userinfo(str(row.url).strip())
                if url in done:
                    rep.skipped += 1
                    continue
                rec = {"source": row.source, "session_id": row.session_id, "field": row.field,
                       "url": url, "at": _dt.datetime.now(_dt.timezone.utc).isoformat()}
                problem = download_url_problem(url, client.base_url, allow_hosts)
                if problem is not None:
                    rep.refused += 1
                    rep._count(f"not allowed: {problem}")
                    rec["error"] = f"URL_NOT_ALLOWED: {problem}"
                    _append(manifest, rec)
                    continue
                folder = data_dir / "media" / safe_name(row.source) / safe_name(row.session_id)
                make_private_dirs(data_dir, folder)
                tmp = folder / f".tmp-{uuid.uuid4().hex[:12]}-{safe_name(row.field)}"
                try:
                    client.download_will_file(url, to=tmp, max_bytes=max_bytes, allow_hosts=allow_hosts)
                    n_bytes, sha256, ext = _decrypt_in_place(tmp, secret)
                except QuotaExhausted:
                    tmp.unlink(missing_ok=True)
                    rep.skipped += 1
                    rep._count("out of quota")
                    continue
                except (ProviderError, ValueError) as e:
                    tmp.unlink(missing_ok=True)
                    rep.failed += 1
                    reason = getattr(e, "code", None) or type(e).__name__
                    rep._count(reason)
                    rec["error"] = str(reason)
                    _append(manifest, rec)
                    continue
                final = folder / f"{safe_name(row.field)}.{ext}"
                os.replace(tmp, final)
                fsync_dir(folder)
                rec.update(path=str(final.relative_to(data_dir)), n_bytes=n_bytes, sha256=sha256)
                _append(manifest, rec)
                done.add(url)
                rep.downloaded += 1
            rep.calls = ledger.total() - before
        finally:
            if own and client is not None:
                client.close()
            ledger.close()
        land_media_files(data_dir, ing)
    return rep


def _downloaded(manifest: Path) -> set[str]:
    done = set()
    if manifest.exists():
        for line in manifest.read_bytes().splitlines():
            try:
                rec = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            if isinstance(rec, dict) and rec.get("path"):
                done.add(rec["url"])
    return done


def _decrypt_in_place(path: Path, api_secret: str) -> tuple[int, str, str]:
    """Decrypt a downloaded will file on disk (only its first 1024 bytes are
    encrypted), without reading it into memory -> (bytes, sha256, extension)."""
    size = path.stat().st_size
    if size < BLOCK:
        raise ValueError(f"a will_file download has at least {BLOCK} bytes; this one has {size}")
    with open(path, "r+b") as f:
        head = _cipher(api_secret).decrypt(f.read(BLOCK))
        if size == BLOCK:  # space-padded before encryption (see decrypt_will_file)
            head = head.rstrip(b" ")
        f.seek(0)
        f.write(head)
        if size == BLOCK:
            f.truncate(len(head))
        f.flush()
        os.fsync(f.fileno())
        f.seek(0)
        digest, n = hashlib.sha256(), 0
        while chunk := f.read(1 << 20):
            digest.update(chunk)
            n += len(chunk)
    os.chmod(path, 0o600)
    return n, digest.hexdigest(), _ext(head)


def land_media_files(data_dir, ing=None) -> int:
    """(Re)build the ``media_files`` table from ``raw/downloads.jsonl`` (with ``ing``,
    an open :class:`~faceanalytics.ingest.Ingestor`, under its writer lock)."""
    from .ingest import Ingestor

    t = media_files_table(data_dir)
    if ing is not None:
        ing.store.replace_table("media_files", t)
        return t.num_rows
    with Ingestor(data_dir, archive=False) as own:
        own.store.replace_table("media_files", t)
    return t.num_rows


def media_files_table(data_dir):
    """One row per downloaded will file (its path under ``media/``), derived from the
    download manifest ``raw/downloads.jsonl`` — so ``rebuild`` recreates it too."""
    from ._coerce import iso_to_us
    from .ingest import _common_arrays, _months, _rows_to_arrow, _with_common

    from ._fs import data_path

    manifest = data_path(data_dir) / "raw" / "downloads.jsonl"
    latest: dict[str, dict] = {}
    if manifest.exists():
        for line in manifest.read_bytes().splitlines():
            try:
                rec = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue  # a torn last line
            if isinstance(rec, dict) and rec.get("url") and (rec.get("path") or rec["url"] not in latest):
                latest[rec["url"]] = rec
    recs = list(latest.values())
    rows = [{"field": r.get("field"), "url": r.get("url"), "path": r.get("path"),
             "n_bytes": r.get("n_bytes"), "sha256": r.get("sha256"), "error": r.get("error")}
            for r in recs]
    when = [iso_to_us(r.get("at")) or 0 for r in recs]
    t = _rows_to_arrow("media_files", list(range(len(rows))), rows)
    return _with_common(t, _common_arrays([str(r.get("source")) for r in recs], _months(when),
                                          [r.get("session_id") for r in recs], when, when))


def _append(path: Path, rec: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.write(fd, orjson.dumps(rec) + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
