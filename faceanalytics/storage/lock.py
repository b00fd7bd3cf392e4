"""One writer per data directory, and the fence before every commit point.

Locally, ``flock`` on ``state/writer.lock`` (:class:`WriterLock`); the lock needs
``fcntl`` (POSIX) and only writers take it, so reading a data directory works where
``fcntl`` is missing (Windows).

The writer lock (:class:`S3WriterLock`), since S3 has no ``flock``:

* acquire: ``PUT state/writer.lock`` with ``If-None-Match: *``.  Success means we
  hold it.  The first time a process locks a bucket it checks that the server
  really honours ``If-None-Match`` and ``If-Match`` (a server that ignored them
  would let two writers in): if it does not, the lock refuses to go on unless
  ``FACEANALYTICS_S3_SINGLE_WRITER=1`` says the operator guarantees one writer.
* hold: a lease.  A background thread rewrites the lock object every ``TTL/6``
  seconds with ``If-Match`` on its own ETag; before every commit point the store
  calls :func:`fence`, which refreshes the lease synchronously when the last
  confirmation is older than ``TTL/3`` and raises :class:`LockLost` if the object
  is no longer ours.
* a crashed holder: its lock object stops being rewritten.  Another writer waits
  while the object is younger than ``TTL`` (``FACEANALYTICS_S3_LOCK_TTL``, default
  60 s; the age is the server's ``Date`` minus the object's ``Last-Modified``, one
  clock), then deletes it (``If-Match`` its ETag) and takes it.  A holder on the same
  host whose process is gone is taken over at once.  ``FACEANALYTICS_S3_LOCK_WAIT``
  bounds the wait (default: wait as long as the holder is alive, like ``flock``).
* release: delete the object if it is still ours.

Residual risk, stated plainly: a writer that stalls for more than ``TTL/3`` between
its lease check and the PUT of its commit marker could commit after another writer
took over."""
from __future__ import annotations

import contextlib
import datetime as _dt
import logging
import os
import socket
import threading
import time
import uuid

import orjson

from .errors import LockLost, StorageConfigError, WriterBusy
from .datadir import DataDir
from .paths import S3Path
from .s3 import Response, S3Config, client, conditional_writes_supported, single_writer_declared

try:  # POSIX. Reading a data directory needs no lock, so the package imports without it (Windows)
    import fcntl
except ImportError:
    fcntl = None  # type: ignore[assignment]

__all__ = ["WriterLock", "S3WriterLock", "writer_lock", "fence", "sweep_temporaries"]


class WriterLock:
    """One writer per local data directory (ingest, fetch, receive, rebuild,
    download-media).

    The holder writes its pid into the lock file and empties it when it lets go, so
    the next holder that finds a pid there knows a writer was killed, and sweeps the
    hidden temporaries it left in ``media/``, ``raw/`` and ``tables.rebuild/``
    (:func:`sweep_temporaries`; ``tables/`` is the store's, after its roll-forward).
    Nothing else can be writing them: we hold the lock.
    """

    def __init__(self, data_dir):
        ddir = DataDir.of(data_dir)
        self.root, self.path = ddir.root, ddir.lock
        self._fd = None
        self.crashed = False  # the previous holder did not let go cleanly

    def __enter__(self):
        if fcntl is None:
            raise StorageConfigError(
                f"writing to a local data directory needs flock (POSIX: Linux, macOS), which this "
                f"platform lacks; reading {self.root} works, or write from WSL or into s3://")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            # Said before waiting: an ingest into the folder a `receive` keeps (for as long as
            # it runs) waited without a word, as if hung.
            pid = os.pread(self._fd, 32, 0).decode("ascii", "replace").strip()
            logging.getLogger("faceanalytics.lock").warning(
                "%s is being written by another process%s: waiting for it to finish (a receive "
                "holds its data directory while it runs; Ctrl-C stops waiting)", self.root,
                f" (pid {pid})" if pid.isdigit() else "")
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX)
            except BaseException:
                os.close(self._fd)
                self._fd = None
                raise
        self.crashed = os.fstat(self._fd).st_size > 0
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, f"{os.getpid()}\n".encode(), 0)
        if self.crashed:
            sweep_temporaries(self.root)
        return self

    def __exit__(self, *exc):
        if self._fd is not None:
            os.ftruncate(self._fd, 0)  # a clean exit: nothing for the next holder to sweep
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def sweep_temporaries(data_dir) -> int:
    """Delete the hidden ``.tmp-*`` files under ``media/``, ``raw/`` and ``tables.rebuild/`` of a
    local data directory (left by a killed writer: a write in progress is always under such a name;
    in ``raw/``, a segment being compressed, as large as a journal sealed whole, stayed for good)."""
    ddir = DataDir.of(data_dir)
    swept = 0
    for folder in (ddir.media, ddir.raw, ddir.tables_at(ddir.REBUILD)):
        for dirpath, _dirs, files in os.walk(folder):
            for name in files:
                if name.startswith(".tmp-"):
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(os.path.join(dirpath, name))
                        swept += 1
    return swept


def writer_lock(data_dir):
    """The writer lock for a data directory: ``flock`` locally, a lease object on S3."""
    ddir = DataDir.of(data_dir)
    if not ddir.local:
        return S3WriterLock(ddir.root.cfg, ddir.root.bucket, ddir.root.key, ddir.lock.key)
    return WriterLock(ddir)


def fence(root) -> None:
    """Before a commit point: make sure this process still holds the writer lock
    (a no-op locally, where ``flock`` cannot be lost)."""
    if isinstance(root, S3Path):
        lock = _HELD.get(f"{root.bucket}/{root.key.strip('/')}")
        if lock is not None:
            lock.fence()


# --- on S3: a lease ------------------------------------------------------------------
def _proc_identity(pid: int) -> str | None:
    """Boot id and start time of ``pid`` (Linux), so a reused pid is not taken for its
    predecessor; None if there is no such process."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            start = f.read().rsplit(b")", 1)[1].split()[19].decode()
        with open("/proc/sys/kernel/random/boot_id") as f:
            boot = f.read().strip()
        return f"{boot}:{start}"
    except (OSError, IndexError):
        if os.path.isdir("/proc/self"):
            return None
        try:  # not Linux: liveness only
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        return "alive"


def _env_seconds(name: str, default, *, least=None, above=None, most=None):
    """A number of seconds from the environment (unset or blank: ``default``).  Anything
    else that is not a finite number in range is refused, naming the variable: a TTL of
    ``-5`` let the next writer delete a live writer's lock at once, ``0`` spun the heartbeat
    (a PUT in a loop), ``inf`` crashed the heartbeat thread (a dead writer's lock then held
    for ever), ``abc`` said only "could not convert string to float"."""
    import math

    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if (not math.isfinite(value) or least is not None and value < least
            or above is not None and value <= above or most is not None and value > most):
        bounds = [f">= {least:g}" if least is not None else "", f"> {above:g}" if above is not None else "",
                  f"<= {most:g}" if most is not None else ""]
        raise StorageConfigError(f"{name}={raw[:40]!r} is not a number of seconds "
                                 f"{' and '.join(b for b in bounds if b)}")
    return value


_HELD: dict[str, "S3WriterLock"] = {}


class S3WriterLock:
    """One writer per ``s3://bucket/prefix`` (see the module docstring)."""

    def __init__(self, cfg: S3Config, bucket: str, prefix: str, key: str):
        self.client = client(cfg, bucket)
        self.bucket, self.prefix = bucket, prefix.strip("/")
        self.key = key  # DataDir(...).lock: PREFIX/state/writer.lock
        self.ttl = _env_seconds("FACEANALYTICS_S3_LOCK_TTL", 60.0, above=0.0, most=86400.0)
        self.wait = _env_seconds("FACEANALYTICS_S3_LOCK_WAIT", None, least=0.0)
        self.token = uuid.uuid4().hex
        self.etag: str | None = None
        self.lost = False
        self.enforced = True
        self._beats = 0
        self._confirmed = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._mutex = threading.Lock()

    @property
    def ident(self) -> str:
        return f"{self.bucket}/{self.prefix}"

    def _body(self) -> bytes:
        self._beats += 1
        return orjson.dumps({"token": self.token, "host": socket.gethostname(), "pid": os.getpid(),
                             "proc": _proc_identity(os.getpid()), "beat": self._beats,
                             "at": _dt.datetime.now(_dt.timezone.utc).isoformat()})

    def __enter__(self):
        probe = self.key.rsplit("/", 1)[0] + "/.lock-probe"
        if not conditional_writes_supported(self.client, probe):
            if not single_writer_declared():
                raise StorageConfigError(
                    f"the S3 server behind s3://{self.ident} ignores conditional writes "
                    "(If-None-Match/If-Match), so two writers could not be kept apart. If you "
                    "make sure only one ingest/rebuild runs at a time, set "
                    "FACEANALYTICS_S3_SINGLE_WRITER=1")
            self.enforced = False
            _HELD[self.ident] = self
            return self
        started = time.monotonic()
        delay = 0.2
        while True:
            etag = self.client.put_if_absent(self.key, self._body())
            if etag is not None:
                self.etag = etag
                break
            cur = self.client.get(self.key)
            if cur is None:
                continue  # released in between
            if self._stale(cur):
                self.client.delete(self.key, cur.etag)
                continue
            if self.wait is not None and time.monotonic() - started > self.wait:
                raise WriterBusy(f"another writer holds s3://{self.ident} ({_holder(cur.body)}); "
                                 f"its lock is {cur.age or 0:.0f} s old and expires "
                                 f"{self.ttl:.0f} s after its last heartbeat")
            time.sleep(delay)
            delay = min(delay * 1.5, 2.0)
        self._confirmed = time.monotonic()
        _HELD[self.ident] = self
        self._thread = threading.Thread(target=self._heartbeat, daemon=True,
                                        name="faceanalytics-s3-lock")
        self._thread.start()
        return self

    def _stale(self, cur: Response) -> bool:
        if cur.age is not None and cur.age > self.ttl:
            return True  # not renewed for a whole lease: its holder is gone
        try:
            holder = orjson.loads(cur.body)
        except orjson.JSONDecodeError:
            return False
        if not isinstance(holder, dict):
            return False
        pid = holder.get("pid")
        if holder.get("host") != socket.gethostname() or not isinstance(pid, int):
            return False
        ident = _proc_identity(pid)
        if ident is None:
            return True  # its process has exited
        if holder.get("proc") and ident not in (holder.get("proc"), "alive"):
            return True  # the pid now belongs to another process
        if pid == os.getpid():
            if any(h.token == holder.get("token") for h in _HELD.values()):
                raise RuntimeError(f"this process already holds the writer lock of s3://{self.ident}")
            return True  # left behind by this process (a release that failed)
        return False

    def _refresh(self) -> bool:
        with self._mutex:
            if self.lost or self.etag is None:
                return False
            try:
                etag = self.client.put_if_match(self.key, self._body(), self.etag)
            except OSError:
                return False  # network trouble: try again at the next beat
            if etag is None:
                self.lost = True
                return False
            self.etag = etag
            self._confirmed = time.monotonic()
            return True

    def _heartbeat(self) -> None:
        while not self._stop.wait(self.ttl / 6):
            self._refresh()

    def fence(self) -> None:
        """Raise :class:`LockLost` unless the lease is certainly still ours."""
        if not self.enforced:
            return
        if not self.lost and time.monotonic() - self._confirmed < self.ttl / 3:
            return
        if not self._refresh():
            raise LockLost(f"the writer lock of s3://{self.ident} was lost (another writer took "
                           "it after this one stopped renewing it); stopping before the commit point")

    def __exit__(self, *exc):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        if _HELD.get(self.ident) is self:
            del _HELD[self.ident]
        if self.enforced and not self.lost and self.etag is not None:
            with contextlib.suppress(OSError):
                cur = self.client.get(self.key)
                if cur is not None and _token(cur.body) == self.token:
                    self.client.delete(self.key, cur.etag)
        self.etag = None


def _token(body: bytes):
    try:
        return orjson.loads(body).get("token")
    except (orjson.JSONDecodeError, AttributeError):
        return None


def _holder(body: bytes) -> str:
    try:
        h = orjson.loads(body)
        return f"host {h.get('host')}, pid {h.get('pid')}"
    except (orjson.JSONDecodeError, AttributeError):
        return "unknown holder"
