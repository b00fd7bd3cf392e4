"""S3 specifics: where the endpoint and credentials come from, the few requests
pyarrow's ``S3FileSystem`` cannot make, and the writer lock.

Everything here goes through botocore (the ``[s3]`` extra: ``pip install
'faceanalytics[s3]'``), so ``s3://`` data directories get the SDK's whole credential
chain: ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``/``AWS_SESSION_TOKEN``,
``AWS_PROFILE`` with the shared config and credentials files (``AWS_CONFIG_FILE``,
``AWS_SHARED_CREDENTIALS_FILE``), profiles with ``role_arn``, ``sso_session`` or
``credential_process``, web identity, container and instance roles; and its request
signing.  The region is ``AWS_REGION``, else botocore's (``AWS_DEFAULT_REGION``, the
profile's ``region``), else the bucket's own.  A custom endpoint (MinIO, Ceph, a test
server) comes from ``FACEANALYTICS_S3_ENDPOINT``, ``AWS_ENDPOINT_URL_S3``,
``AWS_ENDPOINT_URL`` or the profile (``endpoint_url``, or ``s3 = endpoint_url = ...``
in its ``services`` section).  Plain ``http://`` endpoints are refused unless they
are on loopback.

Reads, listings and uploads go through pyarrow's ``S3FileSystem`` (an upload,
single-part or multipart, becomes visible whole when it completes; a bucket
lifecycle rule "abort incomplete multipart uploads" cleans up after crashes).  It is
built from the credentials botocore resolved (session token included), for the same
endpoint and region, and rebuilt when botocore refreshes temporary credentials, so
reads and writes always act as the same identity.  :class:`Client` sends the rest
through a botocore client: conditional writes (``IfNoneMatch='*'`` to create an object
only if it does not exist, ``IfMatch=<etag>`` to overwrite only our own version),
which pyarrow does not expose, and copies and deletes, which pyarrow follows with an
empty "folder" object (``.../month=2026-11/``) that fsspec readers (pandas with
s3fs) take for a file.

Secrets never leave botocore's credential objects except into the pyarrow
filesystem: messages name a profile or a provider, never a key, and botocore's debug
log (whose request and response dumps carry session tokens and assumed-role keys)
is passed through a redacting filter.

The writer lock built on these requests is :mod:`faceanalytics.storage.lock`'s.
"""
from __future__ import annotations

import contextlib
import email.utils
import hashlib
import ipaddress
import logging
import os
import re
import threading
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from .errors import S3Error, StorageConfigError
from ..errors import DataError

__all__ = ["S3Config", "Client", "config_for", "filesystem", "client", "conditional_writes_supported",
           "INSTALL_HINT"]

#: Minimum botocore: the first release whose S3 model has ``IfMatch`` on PutObject
#: (1.35.69; ``IfNoneMatch`` on PutObject and ``IfMatch`` on DeleteObject came earlier).
BOTOCORE_MIN = "1.35.69"
INSTALL_HINT = "pip install 'faceanalytics[s3]'"


# --- botocore: present, one session per credential environment ------------------------
def _botocore():
    """``botocore.session``, or a clear error naming the extra to install."""
    try:
        import botocore.session
    except ImportError:
        raise StorageConfigError(
            f"s3:// data directories need botocore: {INSTALL_HINT}") from None
    return botocore.session


# The variables botocore's credential chain reads: a change of any gives a new session
# (tests and long-lived notebooks switch profiles).  Hashed: the key holds no secret.
_CREDENTIAL_ENV = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_CONFIG_FILE",
                   "AWS_SHARED_CREDENTIALS_FILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                   "AWS_SESSION_TOKEN", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE",
                   "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                   "AWS_EC2_METADATA_DISABLED", "AWS_DEFAULT_REGION")

_cache_lock = threading.RLock()
_SESSIONS: dict[str, object] = {}


def _env_key() -> str:
    raw = "\0".join(os.environ.get(n, "") for n in _CREDENTIAL_ENV)
    return hashlib.sha256(raw.encode()).hexdigest()


def _session():
    key = _env_key()
    with _cache_lock:
        s = _SESSIONS.get(key)
        if s is None:
            s = _SESSIONS[key] = _botocore().Session()
    return s


def _config_problem(e: Exception) -> StorageConfigError:
    """A botocore configuration or credential failure, as a message without secrets.

    Only botocore's messages that name a profile or a file are passed on; others (a
    ``credential_process``'s stderr, an STS answer) could quote what they were given.
    """
    from botocore import exceptions as bx

    safe = (bx.ProfileNotFound, bx.ConfigNotFound, bx.ConfigParseError, bx.PartialCredentialsError,
            bx.InvalidConfigError)
    detail = str(e) if isinstance(e, safe) else type(e).__name__
    provider = getattr(e, "kwargs", {}).get("provider")
    where = f" (from {provider})" if provider and not isinstance(e, safe) else ""
    return StorageConfigError(f"AWS configuration for s3:// is not usable{where}: {detail}")


def _credentials():
    """botocore's credentials object (refreshable or not); resolved once per session."""
    from botocore import exceptions as bx

    s = _session()
    try:
        with _cache_lock:
            creds = s.get_credentials()
    except bx.BotoCoreError as e:
        raise _config_problem(e) from None
    if creds is None:
        raise StorageConfigError(
            "no AWS credentials found for s3://: set AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY, or AWS_PROFILE (a profile with keys, role_arn, SSO or "
            "credential_process), or run where an instance or container role applies")
    return creds


@dataclass(frozen=True)
class Credentials:
    """One consistent set of keys (``repr`` shows the access key id only)."""

    access_key: str
    secret_key: str = field(repr=False)
    token: str | None = field(repr=False, default=None)


def frozen_credentials() -> Credentials:
    """The current access key, secret and token, refreshed by botocore when they are
    close to expiry (so a filesystem built from them lives at least ten minutes)."""
    from botocore import exceptions as bx

    try:
        f = _credentials().get_frozen_credentials()
    except bx.BotoCoreError as e:
        raise _config_problem(e) from None
    return Credentials(f.access_key, f.secret_key, f.token or None)


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


def _checked_endpoint(name: str, v: str) -> str:
    if "://" not in v:
        raise StorageConfigError(f"{name} must be a URL such as https://s3.example.com:9000")
    try:
        u = urlsplit(v)
        u.port                          # a port that is not one (":99999", ":abc") raises here
    except ValueError as e:             # "Invalid IPv6 URL", "Port out of range": which variable?
        raise StorageConfigError(f"{name} is not a usable URL ({e})") from None
    if u.username is not None or u.password is not None:
        raise StorageConfigError(f"{name} must not carry credentials in the URL")
    if u.scheme not in ("http", "https") or not u.hostname:
        from ..redact import redact

        raise StorageConfigError(f"{name} must be an http(s) URL, not {redact(v)!r}")
    if u.path not in ("", "/") or u.query or u.fragment:
        # only scheme://host:port reaches the S3 clients: https://s3.example.com/minio was
        # silently read as https://s3.example.com, another service's root
        raise StorageConfigError(f"{name} must be the server's address alone (scheme, host and port, such "
                                 "as https://s3.example.com:9000): a path, a query or a fragment would be "
                                 "dropped, and the requests sent elsewhere (the path-style bucket goes after it)")
    if u.scheme == "http" and not _is_loopback(u.hostname):
        raise StorageConfigError(
            f"{name} is plain http on a non-loopback host: use https (http is allowed "
            "only for 127.0.0.1/localhost)")
    return f"{u.scheme}://{u.netloc}"


def _profile_endpoint(session) -> tuple[str, str] | None:
    """The profile's S3 endpoint, as botocore would read it from the config file."""
    from botocore import exceptions as bx

    try:
        scoped = session.get_scoped_config()
        full = session.full_config
    except bx.BotoCoreError as e:
        raise _config_problem(e) from None
    services = scoped.get("services")
    if services:
        s3 = full.get("services", {}).get(services, {}).get("s3")
        if isinstance(s3, dict) and s3.get("endpoint_url"):
            return f"[services {services}] s3 endpoint_url", s3["endpoint_url"]
    if scoped.get("endpoint_url"):
        return "the profile's endpoint_url", scoped["endpoint_url"]
    return None


def _endpoint(session) -> str | None:
    for name in ("FACEANALYTICS_S3_ENDPOINT", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"):
        v = os.environ.get(name, "").strip()
        if v:
            return _checked_endpoint(name, v)
    found = _profile_endpoint(session)
    return _checked_endpoint(*found) if found else None


def _region(session, bucket: str, endpoint: str | None) -> str:
    from botocore import exceptions as bx

    region = os.environ.get("AWS_REGION", "").strip()
    if not region:
        try:
            region = (session.get_config_variable("region") or "").strip()
        except bx.BotoCoreError as e:
            raise _config_problem(e) from None
    if region:
        return region
    if endpoint is not None:
        return "us-east-1"
    from pyarrow.fs import resolve_s3_region

    return resolve_s3_region(bucket)


_CONFIGS: dict[tuple, S3Config] = {}


def config_for(bucket: str) -> S3Config:
    """Endpoint and region for ``bucket`` (raises if botocore is missing)."""
    session = _session()
    key = (bucket, _env_key(), os.environ.get("AWS_REGION"),
           *(os.environ.get(n) for n in ("FACEANALYTICS_S3_ENDPOINT", "AWS_ENDPOINT_URL_S3",
                                         "AWS_ENDPOINT_URL")))
    with _cache_lock:
        cfg = _CONFIGS.get(key)
    if cfg is None:
        endpoint = _endpoint(session)
        cfg = S3Config(endpoint, _region(session, bucket, endpoint))
        with _cache_lock:
            _CONFIGS[key] = cfg
    return cfg


_FILESYSTEMS: dict[S3Config, tuple[str, object]] = {}


def filesystem(cfg: S3Config):
    """A pyarrow ``S3FileSystem`` for ``cfg`` with botocore's current credentials; a new
    one whenever botocore has refreshed them."""
    from pyarrow import fs as pafs

    f = frozen_credentials()
    ident = hashlib.sha256(f"{f.access_key}\0{f.secret_key}\0{f.token}".encode()).hexdigest()
    with _cache_lock:
        held = _FILESYSTEMS.get(cfg)
        if held is not None and held[0] == ident:
            return held[1]
        # allow_delayed_open: a small object is one PUT (not a three-request multipart
        # upload); either way an object appears whole or not at all.
        kw = {"region": cfg.region, "allow_delayed_open": True, "access_key": f.access_key,
              "secret_key": f.secret_key, "session_token": f.token}
        if cfg.endpoint is not None:
            u = urlsplit(cfg.endpoint)
            kw.update(endpoint_override=u.netloc, scheme=u.scheme)
        s3 = pafs.S3FileSystem(**kw)
        _FILESYSTEMS[cfg] = (ident, s3)
    _hide(f.secret_key, f.token)
    return s3


# --- secrets out of logs -------------------------------------------------------------
# botocore's DEBUG log dumps signed requests (X-Amz-Security-Token) and response bodies
# (an STS or SSO answer carries a fresh secret key and token).
_AWS_FIELDS = re.compile(
    r"(?i)(<(?:SecretAccessKey|SessionToken)>)[^<]*"
    r"|([\"'](?:SecretAccessKey|SessionToken|Token)[\"']\s*:\s*[\"'])[^\"']*"
    r"|(x-amz-security-token[\"']?\s*[:=]\s*b?[\"']?)[^\s\"',}]*")
_LOGGERS = ("botocore.endpoint", "botocore.auth", "botocore.parsers", "botocore.credentials",
            "botocore.httpsession", "botocore.hooks", "botocore.retryhandler",
            "botocore.retries.standard", "botocore.awsrequest", "botocore.client",
            "botocore.utils", "botocore.tokens", "botocore.handlers")


def _mask_aws(text: str) -> str:
    from ..redact import MASK, redact

    return _AWS_FIELDS.sub(lambda m: (m.group(1) or m.group(2) or m.group(3)) + MASK, redact(text))


class _AwsLogFilter(logging.Filter):
    """botocore's log lines (and tracebacks) with credentials masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            return True
        record.msg, record.args = _mask_aws(message), None
        if record.exc_info:
            record.exc_text = _mask_aws(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = _mask_aws(record.exc_text)
        return True


_LOG_FILTER = _AwsLogFilter()


def _hide(*secrets: str | None) -> None:
    """Register ``secrets`` for redaction wherever the package masks credentials."""
    from ..redact import register_secret

    for s in secrets:
        register_secret(s)
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        if _LOG_FILTER not in logger.filters:
            logger.addFilter(_LOG_FILTER)


# --- single requests through botocore ----------------------------------------------------
@dataclass
class Response:
    body: bytes
    etag: str | None
    age: float | None  # server Date - Last-Modified, seconds


class _Refused(DataError):
    """S3 refused a conditional request (or found nothing) with one of the expected codes."""

    def __init__(self, status: int, retried: bool):
        self.status, self.retried = status, retried


_BOTO_CLIENTS: dict[tuple, object] = {}


def _boto_client(cfg: S3Config):
    """One botocore S3 client per configuration and credential environment (thread-safe)."""
    key = (cfg, _env_key())
    with _cache_lock:
        c = _BOTO_CLIENTS.get(key)
        if c is not None:
            return c
    f = frozen_credentials()  # a clear error now rather than NoCredentialsError later
    _hide(f.secret_key, f.token)
    from botocore.config import Config

    kw = dict(signature_version="s3v4", connect_timeout=10, read_timeout=30,
              retries={"mode": "standard", "max_attempts": 3},
              # the endpoint is ours (resolved above, shared with pyarrow), never botocore's own
              ignore_configured_endpoint_urls=True,
              s3={"addressing_style": "path" if cfg.endpoint is not None else "auto"})
    if cfg.loopback:
        kw["proxies"] = {}  # never send loopback traffic to a proxy
    try:  # botocore >= 1.36 checksums every upload unless told; some S3 servers refuse them
        config = Config(**kw, request_checksum_calculation="when_required",
                        response_checksum_validation="when_required")
    except TypeError:
        config = Config(**kw)
    with _cache_lock:
        c = _BOTO_CLIENTS.get(key)
        if c is None:
            c = _BOTO_CLIENTS[key] = _session().create_client(
                "s3", region_name=cfg.region, endpoint_url=cfg.endpoint, config=config)
    return c


def _age(resp: dict) -> float | None:
    date = resp.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("date")
    lm = resp.get("LastModified")
    if not date or lm is None:
        return None
    try:
        return (email.utils.parsedate_to_datetime(date) - lm).total_seconds()
    except (TypeError, ValueError):
        return None


class Client:
    """Single requests against one bucket (conditional PUT, GET, copy, DELETE)."""

    def __init__(self, cfg: S3Config, bucket: str):
        self.cfg, self.bucket = cfg, bucket

    def _call(self, op: str, what: str, refused: tuple[int, ...] = (), **kw) -> dict:
        """``op`` on this bucket; :class:`_Refused` for a status in ``refused``, else
        :class:`S3Error` for any failure.  botocore retries throttling, 5xx and dropped
        connections (a retried conditional write is resolved by the caller)."""
        from botocore import exceptions as bx

        s3 = _boto_client(self.cfg)
        try:
            return getattr(s3, op)(Bucket=self.bucket, **kw)
        except bx.ClientError as e:
            meta = e.response.get("ResponseMetadata", {})
            status = int(meta.get("HTTPStatusCode") or 0)
            if status in refused:
                raise _Refused(status, bool(meta.get("RetryAttempts"))) from None
            raise S3Error(status, str(e.response.get("Error", {}).get("Code", "")), what) from None
        except (bx.NoCredentialsError, bx.CredentialRetrievalError, bx.PartialCredentialsError,
                bx.ProfileNotFound, bx.SSOError, bx.TokenRetrievalError) as e:
            raise _config_problem(e) from None
        except bx.BotoCoreError as e:  # unreachable, timed out, ...
            raise S3Error(0, type(e).__name__, what) from None

    def _put_conditional(self, key: str, body: bytes, **cond) -> str | None:
        what = f"PUT s3://{self.bucket}/{key}"
        try:  # 409: a concurrent conditional write; 404: If-Match on a vanished object
            return self._call("put_object", what, (404, 409, 412), Key=key, Body=body, **cond)["ETag"]
        except _Refused as e:
            if e.retried:
                # The first attempt may have landed before its answer was lost: then the
                # object is exactly what we sent.
                cur = self.get(key)
                if cur is not None and cur.body == body:
                    return cur.etag
            return None

    def put_if_absent(self, key: str, body: bytes) -> str | None:
        """Create ``key``; its ETag, or None if it exists already."""
        return self._put_conditional(key, body, IfNoneMatch="*")

    def put_if_match(self, key: str, body: bytes, etag: str) -> str | None:
        """Overwrite ``key`` if it still has ``etag``; the new ETag, or None if it changed."""
        return self._put_conditional(key, body, IfMatch=etag)

    def put(self, key: str, body: bytes) -> str | None:
        return self._call("put_object", f"PUT s3://{self.bucket}/{key}", Key=key, Body=body).get("ETag")

    def get(self, key: str) -> Response | None:
        try:
            r = self._call("get_object", f"GET s3://{self.bucket}/{key}", (404,), Key=key)
        except _Refused:
            return None
        with contextlib.closing(r["Body"]) as body:
            data = body.read()
        return Response(data, r.get("ETag"), _age(r))

    def copy(self, src_key: str, dst_key: str) -> bool:
        """Server-side copy (one request; the new object appears whole); False if
        ``src_key`` does not exist.  (botocore turns CopyObject's "200 with an error in
        the body" into an error.)"""
        try:
            self._call("copy_object", f"COPY s3://{self.bucket}/{src_key} to {dst_key}", (404,),
                       Key=dst_key, CopySource={"Bucket": self.bucket, "Key": src_key})
        except _Refused:
            return False
        return True

    def delete(self, key: str, etag: str | None = None) -> bool:
        """Delete ``key`` (only if it has ``etag``, where the server supports it)."""
        what = f"DELETE s3://{self.bucket}/{key}"
        try:
            try:
                self._call("delete_object", what, (404, 409, 412), Key=key,
                           **({"IfMatch": etag} if etag else {}))
            except S3Error as e:
                if not etag or e.status not in (400, 501):
                    raise
                self._call("delete_object", what, (404,), Key=key)  # no conditional delete
        except _Refused:
            return False
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
        ok = ok and client.put_if_match(probe_key, b"probe if-match",
                                        '"0000000000000000000000000000000f"') is None
    except S3Error as e:
        if e.status not in (400, 501):  # 501 NotImplemented: no conditional writes
            raise
        ok = False
    client.delete(probe_key)
    _PROBED[k] = ok
    return ok


def single_writer_declared() -> bool:
    return os.environ.get("FACEANALYTICS_S3_SINGLE_WRITER", "").strip().lower() in ("1", "true", "yes")
