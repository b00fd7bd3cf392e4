"""HTTP clients for the providers, their typed errors, retry policy and quota ledger.

    >>> from faceanalytics.clients import MegviiClient, QuotaLedger, client_for
    >>> ledger = QuotaLedger("data/state/quota/megvii.log", limit=3)          # doctest: +SKIP
    >>> client = client_for("megvii", ledger=ledger)                           # doctest: +SKIP
    >>> response = client.get_lite_result(biz_id)                              # doctest: +SKIP

Clients return :class:`Response` (raw ``body`` bytes + parsed ``json``) or raise a
:class:`ProviderError` subclass (see :mod:`faceanalytics.clients.errors` for the tree).
"""

from __future__ import annotations

from typing import Any

from ._http import BaseClient, Response, ThreadLocalSessions, check_url, is_loopback_host
from ..redact import Secret, redact
from .baidu import BaiduClient, baidu_error
from .errors import *  # noqa: F403 - the error tree is part of this package's API
from .errors import __all__ as _error_names
from .ledger import QuotaLedger
from .megvii import MegviiClient, megvii_error
from .retry import NO_RETRY, RetryPolicy

#: Provider name -> client class (the ``fetch`` command's registry).
CLIENTS: dict[str, type[BaseClient]] = {"megvii": MegviiClient, "baidu": BaiduClient}


def client_for(provider: str, *, base_url: str | None = None, **options: Any) -> BaseClient:
    """A client for *provider* (``"megvii"``/``"baidu"``) with credentials from the environment.

    *options* go to the client (``timeout``, ``retry``, ``ledger``, ...).
    """
    try:
        cls = CLIENTS[provider]
    except KeyError:
        raise ValueError(f"unknown provider {provider!r}; choose from {sorted(CLIENTS)}") from None
    return cls.from_env(base_url or cls.default_base_url, **options)  # type: ignore[attr-defined]


__all__ = [
    "CLIENTS",
    "client_for",
    "BaseClient",
    "MegviiClient",
    "BaiduClient",
    "Response",
    "RetryPolicy",
    "NO_RETRY",
    "QuotaLedger",
    "ThreadLocalSessions",
    "Secret",
    "check_url",
    "is_loopback_host",
    "megvii_error",
    "baidu_error",
    *_error_names,
]
