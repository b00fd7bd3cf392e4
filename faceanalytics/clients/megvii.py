"""Megvii FaceID client: Lite/H5 ``get_result``, web liveness v2 ``get_result``, will-file downloads.

Megvii keeps a result for one day and serves it **three times** per ``biz_id``
(a will-file URL likewise: three downloads). Pass a :class:`~.ledger.QuotaLedger`
as ``ledger=`` so every send, retries included, is written down before it leaves
and a fourth is refused locally::

    ledger = QuotaLedger("data/state/quota/megvii.log", limit=3)
    client = MegviiClient.from_env(ledger=ledger)
    response = client.get_lite_result("1462259748,52b13fb5-8dfb-4537-a62b-a641d5e929f1")
    archive(response.body)          # raw bytes as received
    payload = response.json

Errors come back as ``{"error_message": "CODE[:detail]", "request_id": ..., "time_used": ...}``
with HTTP 400/403/404/500 and are raised as the classes in :data:`~.errors.MEGVII_ERRORS`.
"""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Any

from .._ids import BIZ_ID
from ._http import BaseClient, Response, credential, download_url_problem, parse_json, without_userinfo
from ..redact import MaskedParams, env_secret, redact
from .errors import MEGVII_ERRORS, InsecureURL, MegviiError, MissingCredentials, ProviderError
from .retry import RetryPolicy

__all__ = ["MegviiClient", "megvii_error"]

DEFAULT_BASE_URL = "https://api.megvii.com"
LITE_GET_RESULT = "/faceid/lite/get_result"
LIVENESS_GET_RESULT = "/faceid/liveness/v2/get_result"
#: The default cap on one will_file download (videos are a few MB).
MAX_DOWNLOAD_BYTES = 256 << 20


def megvii_error(response: Response) -> MegviiError | None:
    """The typed error a Megvii answer stands for, or ``None`` for a success.

    Does not handle non-JSON bodies (see :meth:`MegviiClient._error_for`).
    """
    payload = response.json
    status = response.http_status
    message = payload.get("error_message") if isinstance(payload, dict) else None
    if not message:
        if 200 <= status < 300:
            return None
        message = f"HTTP_{status}"
    code, _, detail = str(message).partition(":")
    code = code.strip()
    cls = MEGVII_ERRORS.get(code, MegviiError)
    request_id = payload.get("request_id") if isinstance(payload, dict) else None
    return cls(
        None if cls is not MegviiError else f"Megvii returned {code}",
        http_status=status,
        code=code,
        detail=detail.strip() or None,  # "MISSING_ARGUMENTS: api_key" has a space
        request_id=None if request_id is None else str(request_id),
        # An undocumented code is retried only if the server said it failed.
        retryable=(status >= 500 or status == 429) if cls is MegviiError else None,
        body=response.body,
        url=response.url,
    )


class MegviiClient(BaseClient):
    """Megvii FaceID: ``get_result`` calls and will-file downloads.

    Every method returns a :class:`~._http.Response` (raw ``body`` + parsed ``json``)
    or raises a :class:`~.errors.ProviderError`. The hook/ledger key is the ``biz_id``
    (or the will-file URL).
    """

    provider = "megvii"
    default_base_url = DEFAULT_BASE_URL
    base_url_env = "MEGVII_BASE_URL"

    def __init__(
        self,
        api_key: str,
        api_secret: str,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float | tuple[float, float] = (5, 30),
        retry: RetryPolicy | None = None,
        **options: Any,
    ) -> None:
        """*retry* defaults to two sends at most: every send spends one of the three
        calls Megvii allows per biz_id, so one is kept for a later re-fetch.
        *options*: ``before_call``, ``after_call``, ``ledger``, ``ca_bundle``,
        ``session_factory`` (see :class:`~._http.BaseClient`)."""
        self._api_key = credential("api_key", api_key)
        self._api_secret = credential("api_secret", api_secret)
        del api_key, api_secret  # out of this frame's locals, which some tracebacks print
        retry = retry if retry is not None else RetryPolicy(max_attempts=2)
        super().__init__(base_url, timeout=timeout, retry=retry, **options)

    @classmethod
    def from_env(cls, base_url: str | None = None, **options: Any) -> "MegviiClient":
        """A client with ``MEGVII_API_KEY`` / ``MEGVII_API_SECRET`` from the environment,
        talking to *base_url*, else ``MEGVII_BASE_URL``, else the real provider."""
        key, secret = env_secret("MEGVII_API_KEY"), env_secret("MEGVII_API_SECRET")
        if not key or not secret:
            raise MissingCredentials(
                "MEGVII_API_KEY and MEGVII_API_SECRET must both be set",
                provider=cls.provider,
                hint="Export MEGVII_API_KEY and MEGVII_API_SECRET (never put them in a file the tool writes).",
            )
        return cls(key, secret, cls.resolve_base_url(base_url)[0], **options)

    def _auth(self) -> MaskedParams:
        return MaskedParams(api_key=self._api_key.reveal(), api_secret=self._api_secret.reveal())

    def get_lite_result(
        self,
        biz_id: str,
        return_verify_time: int = 1,
        return_image: int = 0,
        get_fail_reason: int = 1,
        return_multifaces_tag: int = 0,
    ) -> Response:
        """``GET /faceid/lite/get_result`` for one FaceID Lite/H5 ``biz_id``."""
        params = self._auth()
        params.update(
            biz_id=_check_id(biz_id),
            return_verify_time=str(int(return_verify_time)),
            return_image=str(int(return_image)),
            get_fail_reason=str(int(get_fail_reason)),
            return_multifaces_tag=str(int(return_multifaces_tag)),
        )
        return self._request("GET", self._url(LITE_GET_RESULT), key=biz_id, params=params)

    def get_liveness_result(self, biz_id: str, get_image_type: int = 0) -> Response:
        """``GET /faceid/liveness/v2/get_result`` for one web-liveness ``biz_id``."""
        params = self._auth()
        params.update(biz_id=_check_id(biz_id), get_image_type=str(int(get_image_type)))
        return self._request("GET", self._url(LIVENESS_GET_RESULT), key=biz_id, params=params)

    def download_will_file(
        self,
        url: str,
        *,
        to: str | os.PathLike[str] | None = None,
        max_bytes: int = MAX_DOWNLOAD_BYTES,
        allow_hosts: tuple[str, ...] = (),
    ) -> Response:
        """GET a ``will_file`` URL: the still-encrypted file (``json`` is None).

        *to*: a path the file is streamed to (``body`` is then empty), so its size
        never sits in memory; without it ``body`` holds the file.  Either way at most
        *max_bytes* are read (``InvalidResponse`` code ``TOO_LARGE`` beyond).

        The URL comes from a provider's answer, so it is checked first
        (:func:`~._http.download_url_problem`: a host of this client's base URL, or
        one in *allow_hosts*); redirects are followed only on the same host, and
        ``user:pass@`` in the URL is dropped, never sent.  A refused URL raises
        :class:`~.errors.InsecureURL` (code ``URL_NOT_ALLOWED``) before any call is counted.

        Counts against the same hook/ledger as ``get_result`` (key: the URL without
        credentials) because Megvii serves each download URL three times. Decrypt with
        the api_secret (see the seed document's AES-ECB rule).
        """
        if not isinstance(url, str) or not url.strip():
            raise ValueError("empty will_file URL (Megvii returns '' when the file was not generated)")
        url = without_userinfo(url.strip())
        problem = download_url_problem(url, self.base_url, allow_hosts)
        if problem is not None:
            raise InsecureURL(f"not downloading {redact(url)!r}: {problem}", code="URL_NOT_ALLOWED",
                              provider=self.provider,
                              hint="A payload may point anywhere: only the provider's hosts are "
                                   "fetched. If the provider really serves files from that host, "
                                   "allow it (--allow-host / allow_hosts=).")
        if to is None:
            return self._request("GET", url, key=url, expect_json=False, follow_redirects=True,
                                 error_for=self._download_error, max_bytes=max_bytes)
        with open(to, "wb") as sink:
            return self._request("GET", url, key=url, expect_json=False, follow_redirects=True,
                                 error_for=self._download_error, sink=sink, max_bytes=max_bytes)

    def _error_for(self, response: Response) -> ProviderError | None:
        if response.json is None or not isinstance(response.json, dict):
            return self._invalid(response, "Megvii answered with a body that is not a JSON object")
        return megvii_error(response)

    def _download_error(self, response: Response) -> ProviderError | None:
        if 200 <= response.http_status < 300:
            return None
        payload = parse_json(response.body)
        if isinstance(payload, dict) and payload.get("error_message"):
            return megvii_error(replace(response, json=payload))
        return self._invalid(response, f"will_file download failed with HTTP {response.http_status}")


# A biz_id is ``<unix time>,<id>`` (:data:`faceanalytics._ids.BIZ_ID`).  Anything else (spaces, a
# newline, a verify_token, a number) is refused before a call is counted: Megvii answers each
# biz_id three times, so a send that cannot succeed wastes one of them.


def _shown(value: object) -> str:
    """A refused id as an error shows it: short, and with any registered credential masked."""
    text = repr(value)
    return redact(text if len(text) <= 80 else text[:77] + "...")


def _check_id(biz_id: str) -> str:
    """Refuse what cannot be a biz_id before anything is counted or sent."""
    if not isinstance(biz_id, str) or not biz_id.strip():
        raise ValueError(f"biz_id must be a non-empty string, not {type(biz_id).__name__} {_shown(biz_id)}")
    if not BIZ_ID.fullmatch(biz_id):
        why = "has spaces or a line break" if any(c.isspace() for c in biz_id) else "not <unix time>,<id>"
        raise ValueError(f"{_shown(biz_id)} is not a biz_id ({why}); nothing was sent")
    return biz_id
