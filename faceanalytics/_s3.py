"""S3 specifics: where the endpoint and credentials come from, the few requests
pyarrow's ``S3FileSystem`` cannot make, and the writer lock.

Configuration comes from the standard AWS environment: ``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN`` (or ``AWS_PROFILE`` and the shared
credentials file), ``AWS_REGION``/``AWS_DEFAULT_REGION``; a custom endpoint (MinIO,
Ceph, a test server) from ``FACEANALYTICS_S3_ENDPOINT``, ``AWS_ENDPOINT_URL_S3`` or
``AWS_ENDPOINT_URL``.  Plain ``http://`` endpoints are refused unless they are on
loopback.

Reads, listings and uploads go through pyarrow's ``S3FileSystem`` (an upload,
single-part or multipart, becomes visible whole when it completes; a bucket
lifecycle rule "abort incomplete multipart uploads" cleans up after crashes).
:class:`Client` sends the rest itself, signed with AWS Signature Version 4
(``requests`` is already a dependency; no SDK needed): conditional writes
(``If-None-Match: *`` to create an object only if it does not exist, ``If-Match:
<etag>`` to overwrite only our own version), which pyarrow does not expose, and
copies and deletes, which pyarrow follows with an empty "folder" object
(``.../month=2026-11/``) that fsspec readers (pandas with s3fs) take for a file.

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
took over.
"""
from __future__ import annotations

import configparser
import contextlib
import datetime as _dt
import email.utils
import hashlib
import hmac
import ipaddress
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

import orjson

from ._fs import StorageConfigError

__all__ = ["S3Config", "Client", "S3WriterLock", "LockLost", "WriterBusy", "StorageConfigError",
           "config_for", "filesystem"]


class LockLost(OSError):
    """Another writer took the data directory's lock: this writer must stop."""


class WriterBusy(OSError):
    """Another writer holds the data directory's lock (after FACEANALYTICS_S3_LOCK_WAIT)."""


# --- configuration -----------------------------------------------------------------
@dataclass(frozen=True)
class S3Config:
    endpoint: str | None  # "http://127.0.0.1:9000" (path-style addressing), None for AWS
    region: str

    @property
    def loopback(self) -> bool:
        return self.endpoint is not None and _is_loopback(urlsplit(self.endpoint).hostname or "")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _endpoint_from_env() -> str | None:
    for name in ("FACEANALYTICS_S3_ENDPOINT", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"):
        v = os.environ.get(name, "").strip()
        if v:
            if "://" not in v:
                raise StorageConfigError(f"{name} must be a URL such as https://s3.example.com:9000")
            u = urlsplit(v)
            if u.scheme not in ("http", "https") or not u.hostname:
                raise StorageConfigError(f"{name} must be an http(s) URL, not {v!r}")
            if u.scheme == "http" and not _is_loopback(u.hostname):
                raise StorageConfigError(
                    f"{name} is plain http on a non-loopback host: use https (http is allowed "
                    "only for 127.0.0.1/localhost)")
            return f"{u.scheme}://{u.netloc}"
    return None


_CONFIGS: dict[tuple, S3Config] = {}
_FILESYSTEMS: dict[tuple, object] = {}
_cache_lock = threading.Lock()


def config_for(bucket: str) -> S3Config:
    endpoint = _endpoint_from_env()
    region = (os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "").strip()
    key = (bucket, endpoint, region)
    with _cache_lock:
        cfg = _CONFIGS.get(key)
    if cfg is None:
        if not region:
            if endpoint is not None:
                region = "us-east-1"
            else:
                from pyarrow.fs import resolve_s3_region

                region = resolve_s3_region(bucket)
        cfg = S3Config(endpoint, region)
        with _cache_lock:
            _CONFIGS[key] = cfg
    return cfg


def filesystem(cfg: S3Config):
    """A pyarrow ``S3FileSystem`` for ``cfg`` (one per configuration and credentials)."""
    from pyarrow import fs as pafs

    key = (cfg, os.environ.get("AWS_ACCESS_KEY_ID"), os.environ.get("AWS_PROFILE"))
    with _cache_lock:
        s3 = _FILESYSTEMS.get(key)
        if s3 is None:
            # allow_delayed_open: a small object is one PUT (not a three-request multipart
            # upload); either way an object appears whole or not at all.
            kw = {"region": cfg.region, "allow_delayed_open": True}
            if cfg.endpoint is not None:
                u = urlsplit(cfg.endpoint)
                kw.update(endpoint_override=u.netloc, scheme=u.scheme)
            s3 = _FILESYSTEMS[key] = pafs.S3FileSystem(**kw)
    return s3


# --- credentials and signing (SigV4) ---------------------------------------------------
@dataclass(frozen=True)
class Credentials:
    access_key: str
    secret_key: str
    token: str | None = None

    def __repr__(self):  # never print a secret
        return f"Credentials(access_key={self.access_key[:4]}…)"


def credentials() -> Credentials | None:
    """Environment, then the shared credentials file, then botocore's chain if installed."""
    ak, sk = os.environ.get("AWS_ACCESS_KEY_ID"), os.environ.get("AWS_SECRET_ACCESS_KEY")
    if ak and sk:
        return Credentials(ak, sk, os.environ.get("AWS_SESSION_TOKEN") or None)
    path = os.environ.get("AWS_SHARED_CREDENTIALS_FILE") or os.path.expanduser("~/.aws/credentials")
    profile = os.environ.get("AWS_PROFILE") or "default"
    cp = configparser.RawConfigParser()
    try:
        cp.read(path)
        if cp.has_option(profile, "aws_access_key_id") and cp.has_option(profile, "aws_secret_access_key"):
            return Credentials(cp.get(profile, "aws_access_key_id"), cp.get(profile, "aws_secret_access_key"),
                               cp.get(profile, "aws_session_token", fallback=None))
    except configparser.Error:
        pass
    return _botocore_credentials()


_BOTO: list = []  # [botocore credentials object or None], looked up once


def _botocore_credentials() -> Credentials | None:
    """Instance roles, SSO, ...: through botocore's chain, only if it is installed."""
    if not _BOTO:
        try:
            import botocore.session

            _BOTO.append(botocore.session.get_session().get_credentials())
        except Exception:
            _BOTO.append(None)
    if _BOTO[0] is None:
        return None
    f = _BOTO[0].get_frozen_credentials()  # refreshes temporary credentials when due
    return Credentials(f.access_key, f.secret_key, f.token)


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def sign_v4(method: str, url: str, creds: Credentials, region: str, payload_hash: str,
            now: _dt.datetime, amz_headers: dict[str, str] | None = None) -> dict[str, str]:
    """Headers (``Authorization`` included) for an S3 request, per AWS Signature V4.

    ``url`` must already be percent-encoded (S3 does not encode the path twice);
    ``amz_headers``: further ``x-amz-*`` headers to send (S3 wants them all signed).
    """
    u = urlsplit(url)
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    day = amz_date[:8]
    headers = {"host": u.netloc, "x-amz-content-sha256": payload_hash, "x-amz-date": amz_date}
    for k, v in (amz_headers or {}).items():
        headers[k.lower()] = v
    if creds.token:
        headers["x-amz-security-token"] = creds.token
    names = sorted(headers)
    query = []
    for part in filter(None, u.query.split("&")):
        k, _, v = part.partition("=")
        query.append((k, v))
    canonical = "\n".join([
        method, u.path or "/", "&".join(f"{k}={v}" for k, v in sorted(query)),
        "".join(f"{n}:{headers[n].strip()}\n" for n in names), ";".join(names), payload_hash])
    scope = f"{day}/{region}/s3/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                         hashlib.sha256(canonical.encode()).hexdigest()])
    key = _hmac(_hmac(_hmac(_hmac(("AWS4" + creds.secret_key).encode(), day), region), "s3"),
                "aws4_request")
    sig = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = (f"AWS4-HMAC-SHA256 Credential={creds.access_key}/{scope}, "
                                f"SignedHeaders={';'.join(names)}, Signature={sig}")
    return headers


class S3Error(OSError):
    def __init__(self, status: int, code: str, what: str):
        super().__init__(f"S3 {what}: HTTP {status} {code}".strip())
        self.status, self.code = status, code


@dataclass
class Response:
    status: int
    body: bytes
    etag: str | None
    age: float | None  # server Date - Last-Modified, seconds


class Client:
    """Signed single requests against one bucket (conditional PUT, GET, DELETE)."""

    def __init__(self, cfg: S3Config, bucket: str):
        self.cfg, self.bucket = cfg, bucket
        self._session = None

    def url(self, key: str) -> str:
        k = quote(key, safe="/~")
        if self.cfg.endpoint is not None:
            return f"{self.cfg.endpoint}/{self.bucket}/{k}"
        if "." in self.bucket:  # dotted names break the virtual-host TLS certificate
            return f"https://s3.{self.cfg.region}.amazonaws.com/{self.bucket}/{k}"
        return f"https://{self.bucket}.s3.{self.cfg.region}.amazonaws.com/{k}"

    def request(self, method: str, key: str, body: bytes = b"", headers=None) -> Response:
        import requests

        creds = credentials()
        if creds is None:
            raise StorageConfigError(
                "no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or "
                "AWS_PROFILE (instance roles and SSO need botocore installed)")
        if self._session is None:
            self._session = requests.Session()
            if self.cfg.loopback:
                self._session.trust_env = False  # never send loopback traffic to a proxy
        url = self.url(key)
        headers = headers or {}
        amz = {k: v for k, v in headers.items() if k.lower().startswith("x-amz-")}
        h = sign_v4(method, url, creds, self.cfg.region, hashlib.sha256(body).hexdigest(),
                    _dt.datetime.now(_dt.timezone.utc), amz)
        h.pop("host")
        h.update({k: v for k, v in headers.items() if k not in amz})
        try:
            r = self._session.request(method, url, data=body or None, headers=h, timeout=30)
        except requests.RequestException as e:
            raise S3Error(0, type(e).__name__, f"{method} s3://{self.bucket}/{key}") from None
        age = None
        lm, date = r.headers.get("Last-Modified"), r.headers.get("Date")
        if lm and date:
            try:
                age = (email.utils.parsedate_to_datetime(date)
                       - email.utils.parsedate_to_datetime(lm)).total_seconds()
            except (TypeError, ValueError):
                age = None
        return Response(r.status_code, r.content, r.headers.get("ETag"), age)

    def check(self, r: Response, what: str, ok=(200, 204)) -> Response:
        if r.status not in ok:
            code = ""
            if b"<Code>" in r.body:
                code = r.body.split(b"<Code>", 1)[1].split(b"</Code>", 1)[0].decode(errors="replace")
            raise S3Error(r.status, code, what)
        return r

    def put_if_absent(self, key: str, body: bytes) -> str | None:
        """Create ``key``; its ETag, or None if it exists already."""
        r = self.request("PUT", key, body, {"If-None-Match": "*"})
        if r.status in (409, 412):  # 409: a concurrent conditional write; treat as taken
            return None
        return self.check(r, f"PUT s3://{self.bucket}/{key}").etag

    def put_if_match(self, key: str, body: bytes, etag: str) -> str | None:
        """Overwrite ``key`` if it still has ``etag``; the new ETag, or None if it changed."""
        r = self.request("PUT", key, body, {"If-Match": etag})
        if r.status in (404, 409, 412):
            return None
        return self.check(r, f"PUT s3://{self.bucket}/{key}").etag

    def put(self, key: str, body: bytes) -> str | None:
        return self.check(self.request("PUT", key, body), f"PUT s3://{self.bucket}/{key}").etag

    def get(self, key: str) -> Response | None:
        r = self.request("GET", key)
        if r.status == 404:
            return None
        return self.check(r, f"GET s3://{self.bucket}/{key}")

    def copy(self, src_key: str, dst_key: str) -> bool:
        """Server-side copy (one request; the new object appears whole); False if
        ``src_key`` does not exist."""
        source = "/" + quote(f"{self.bucket}/{src_key}", safe="/~")
        r = self.request("PUT", dst_key, headers={"x-amz-copy-source": source})
        if r.status == 404:
            return False
        # CopyObject can fail after answering 200: the error is then in the body.
        if r.status == 200 and b"<Error>" in r.body[:512]:
            r = Response(500, r.body, None, None)
        self.check(r, f"COPY s3://{self.bucket}/{src_key} to {dst_key}")
        return True

    def delete(self, key: str, etag: str | None = None) -> bool:
        """Delete ``key`` (only if it has ``etag``, where the server supports it)."""
        r = self.request("DELETE", key, headers={"If-Match": etag} if etag else None)
        if r.status in (400, 501) and etag:  # conditional delete not supported: plain
            r = self.request("DELETE", key)
        if r.status in (404, 409, 412):
            return False
        self.check(r, f"DELETE s3://{self.bucket}/{key}")
        return True


_CLIENTS: dict[tuple, Client] = {}


def client(cfg: S3Config, bucket: str) -> Client:
    with _cache_lock:
        c = _CLIENTS.get((cfg, bucket))
        if c is None:
            c = _CLIENTS[(cfg, bucket)] = Client(cfg, bucket)
    return c


_PROBED: dict[tuple, bool] = {}


def conditional_writes_supported(client: Client, probe_key: str) -> bool:
    """Does the server honour If-None-Match and If-Match on PUT?  (Once per bucket.)"""
    k = (client.cfg, client.bucket)
    if k in _PROBED:
        return _PROBED[k]
    client.put(probe_key, b"probe")
    try:
        ok = client.put_if_absent(probe_key, b"probe again") is None
        ok = ok and client.put_if_match(probe_key, b"probe", '"0000000000000000000000000000000f"') is None
    except S3Error as e:
        if e.status not in (400, 501):  # 501 NotImplemented: no conditional writes
            raise
        ok = False
    client.delete(probe_key)
    _PROBED[k] = ok
    return ok


def single_writer_declared() -> bool:
    return os.environ.get("FACEANALYTICS_S3_SINGLE_WRITER", "").strip().lower() in ("1", "true", "yes")


# --- the writer lock ----------------------------------------------------------------
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


_HELD: dict[str, "S3WriterLock"] = {}


class S3WriterLock:
    """One writer per ``s3://bucket/prefix`` (see the module docstring)."""

    def __init__(self, cfg: S3Config, bucket: str, prefix: str):
        self.client = Client(cfg, bucket)
        self.bucket, self.prefix = bucket, prefix.strip("/")
        self.key = f"{self.prefix}/state/writer.lock" if self.prefix else "state/writer.lock"
        self.ttl = float(os.environ.get("FACEANALYTICS_S3_LOCK_TTL") or 60)
        wait = os.environ.get("FACEANALYTICS_S3_LOCK_WAIT")
        self.wait = float(wait) if wait else None
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


def fence(bucket: str, prefix: str) -> None:
    lock = _HELD.get(f"{bucket}/{prefix.strip('/')}")
    if lock is not None:
        lock.fence()


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
