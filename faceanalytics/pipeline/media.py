"""Encrypted "will" media: downloading will_file videos and audio and decrypting them
(the rule is :mod:`faceanalytics.crypto`'s).

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

from ..crypto import BLOCK, decrypt_will_file, media_ext
from ..flatten import safe_name
from ..redact import env_secret, redact
from ..storage import DataDir
from ..storage.durable import AppendLog, fsync_dir, make_private_dirs
from ._rows import media_files_table, read_manifest
from .ingest import Ingestor

__all__ = ["download_will_files", "DownloadReport", "land_media_files"]

WILL_FIELDS = ("will_video", "will_audio", "will_question_audio_", "will_user_audio_")
def _ext(data: bytes) -> str:
    return media_ext(data) or "bin"


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
    file-safe and injective, see :func:`~faceanalytics.flatten.safe_name`);
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
    from ..clients import MegviiClient, ProviderError, QuotaExhausted, QuotaLedger
    from ..clients.megvii import MAX_DOWNLOAD_BYTES, download_url_problem, without_userinfo
    from ..storage.tables import load

    ddir = DataDir.of(data_dir)
    ddir.require_local("download-media")
    secret = api_secret or env_secret("MEGVII_API_SECRET")
    if not secret:
        raise ValueError("MEGVII_API_SECRET is not set: will files cannot be decrypted")
    max_bytes = max_bytes or MAX_DOWNLOAD_BYTES
    allow_hosts = tuple(allow_hosts)
    rep = DownloadReport()
    if client is None:
        MegviiClient.resolve_base_url(base_url)    # blank (MEGVII_BASE_URL=""): refused before the ledger
    with Ingestor(ddir, archive=False) as ing:  # one writer: nothing sweeps our temporaries
        media = load(ddir, "media")
        media = media[media["field"].astype(str).str.startswith(WILL_FIELDS) & media["url"].notna()]
        done = {url for url, rec in read_manifest(ddir.downloads).items() if rec.get("path")}
        ddir.downloads.parent.mkdir(parents=True, exist_ok=True)
        manifest = AppendLog(ddir.downloads)
        ledger = QuotaLedger(ddir.quota("megvii"), limit=3, provider="megvii")
        own = client is None
        try:
            if own:
                client = MegviiClient.from_env(base_url, ledger=ledger)
            rep.base_url = redact(client.base_url)  # shown: a user:password@ or token in it masked
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
                    manifest.append(orjson.dumps(rec))
                    continue
                folder = ddir.media / safe_name(row.source) / safe_name(row.session_id)
                make_private_dirs(ddir.root, folder)
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
                    manifest.append(orjson.dumps(rec))
                    continue
                except BaseException:
                    # A full disk mid-file, Ctrl-C: the part written goes (up to 256 MiB of it; only
                    # a killed run's temporaries are swept by the next writer)
                    tmp.unlink(missing_ok=True)
                    raise
                final = folder / f"{safe_name(row.field)}.{ext}"
                os.replace(tmp, final)
                fsync_dir(folder)
                rec.update(path=str(final.relative_to(ddir.root)), n_bytes=n_bytes, sha256=sha256)
                manifest.append(orjson.dumps(rec))
                done.add(url)
                rep.downloaded += 1
            rep.calls = ledger.total() - before
        finally:
            if own and client is not None:
                client.close()
            ledger.close()
            manifest.close()
        land_media_files(ddir, ing)
    return rep


def _decrypt_in_place(path: Path, api_secret: str) -> tuple[int, str, str]:
    """Decrypt a downloaded will file on disk (only its first 1024 bytes are
    encrypted), without reading it into memory -> (bytes, sha256, extension)."""
    size = path.stat().st_size
    if size < BLOCK:
        raise ValueError(f"a will_file download has at least {BLOCK} bytes; this one has {size}")
    with open(path, "r+b") as f:
        # a download of exactly one block was space-padded before encryption
        head = decrypt_will_file(f.read(BLOCK), api_secret, strip_padding=size == BLOCK)
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
    an open :class:`~faceanalytics.pipeline.ingest.Ingestor`, under its writer lock)."""
    t = media_files_table(data_dir)
    if ing is not None:
        ing.store.replace_table("media_files", t)
        return t.num_rows
    with Ingestor(data_dir, archive=False) as own:
        own.store.replace_table("media_files", t)
    return t.num_rows
