"""Sandbox settings: what the population looks like and how the server misbehaves."""
from __future__ import annotations

import dataclasses
import datetime as _dt
from dataclasses import dataclass, field
from typing import Any

# Fake credentials the sandbox accepts. They are printed by `faceanalytics sandbox`
# on purpose; hyphens keep them from looking like real secrets.
DEFAULT_MEGVII_KEY = "sandbox-key"
DEFAULT_MEGVII_PASS = "sandbox-secret-0123"
DEFAULT_MEGVII_DISABLED_KEY = "sandbox-key-disabled"
DEFAULT_BAIDU_AK = "sandbox-baidu-ak"
DEFAULT_BAIDU_SK = "sandbox-baidu-sk-0123"

# Population shape is fixed when the server starts; these may change at run time
# through Sandbox.set() / POST /_sandbox/config.
RUNTIME_FIELDS = frozenset({
    "latency_ms", "jitter_ms",
    "concurrency", "megvii_concurrency", "baidu_concurrency",
    "fault_rate_500", "fault_rate_drop", "fault_rate_slow", "fault_rate_encryption",
    "slow_seconds", "token_ttl", "daily_limit", "total_limit", "quota", "wild",
})

_OPTIONAL_INT_FIELDS = frozenset({
    "concurrency", "megvii_concurrency", "baidu_concurrency", "daily_limit", "total_limit",
})


@dataclass
class SandboxConfig:
    """Everything the sandbox can be told.

    Population (fixed at start): ``seed``, ``n_lite``, ``n_liveness``, ``n_baidu``,
    ``reference_date`` (ISO day, default today UTC; sessions fall in the ``window_days``
    before it), ``era_change_days`` (Megvii switched from the older reference thresholds
    to the current ones this many days before ``reference_date``; None: no change in the
    window), ``era_2016_share`` (share of Megvii sessions dated 2016, with the older
    thresholds), ``expired_rate`` (Megvii Lite sessions past their one-day retention,
    Baidu tokens past three days), ``unused_rate`` (Baidu verify_tokens that were
    generated but that no user went through: no results, as the document says).

    Behaviour (changeable at run time, see ``RUNTIME_FIELDS``): latency, per-provider
    in-flight limits (``None``/0 = unlimited; ``megvii_concurrency``/``baidu_concurrency``
    override ``concurrency``), fault rates per request, Baidu access-token lifetime and
    daily/total call limits, the Megvii per-id call quota, and ``wild``: the share of
    sessions answered with shapes seen in the wild but not in the documents (numbers as
    strings, extra and missing fields, the examples' types where the tables say
    otherwise, undocumented values). 0, the default, serves the documented shapes only.
    """

    seed: int = 0
    n_lite: int = 2000
    n_liveness: int = 500
    n_baidu: int = 300
    reference_date: str | None = None
    window_days: float = 120.0
    era_change_days: float | None = None
    era_2016_share: float = 0.0
    expired_rate: float = 0.01
    unused_rate: float = 0.02

    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    concurrency: int | None = 8
    megvii_concurrency: int | None = None
    baidu_concurrency: int | None = None
    fault_rate_500: float = 0.0
    fault_rate_drop: float = 0.0
    fault_rate_slow: float = 0.0
    fault_rate_encryption: float = 0.0
    slow_seconds: float = 5.0
    token_ttl: float = 2592000.0
    daily_limit: int | None = None
    total_limit: int | None = None
    quota: int = 3
    wild: float = 0.0

    megvii_api_key: str = DEFAULT_MEGVII_KEY
    megvii_api_secret: str = field(default=DEFAULT_MEGVII_PASS, repr=False)
    megvii_disabled_api_key: str = DEFAULT_MEGVII_DISABLED_KEY
    baidu_api_key: str = DEFAULT_BAIDU_AK
    baidu_secret_key: str = field(default=DEFAULT_BAIDU_SK, repr=False)

    def __post_init__(self) -> None:
        if self.reference_date is None:
            self.reference_date = _dt.datetime.now(_dt.timezone.utc).date().isoformat()
        self.validate()

    def validate(self) -> None:
        for name in ("n_lite", "n_liveness", "n_baidu", "quota"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0")
        for name in ("fault_rate_500", "fault_rate_drop", "fault_rate_slow",
                     "fault_rate_encryption", "era_2016_share", "expired_rate", "unused_rate", "wild"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be within [0, 1], got {value!r}")
        total = (self.fault_rate_500 + self.fault_rate_drop + self.fault_rate_slow
                 + self.fault_rate_encryption)
        if total > 1.0:
            raise ValueError("fault rates add up to more than 1")
        for name in ("latency_ms", "jitter_ms", "slow_seconds", "token_ttl", "window_days"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0")
        if self.era_change_days is not None and not 0 <= self.era_change_days <= self.window_days:
            raise ValueError("era_change_days must be within [0, window_days]")
        try:
            _dt.date.fromisoformat(str(self.reference_date))
        except ValueError:
            raise ValueError(f"reference_date must be an ISO day (YYYY-MM-DD), got {self.reference_date!r}") from None

    def limit(self, provider: str) -> int | None:
        """In-flight request limit for 'megvii' or 'baidu' (None = unlimited)."""
        specific = self.megvii_concurrency if provider == "megvii" else self.baidu_concurrency
        value = specific if specific is not None else self.concurrency
        return value or None

    def runtime(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in sorted(RUNTIME_FIELDS)}

    def updated(self, **changes: Any) -> SandboxConfig:
        """A copy with run-time fields changed; unknown or start-only fields raise ValueError."""
        bad = sorted(set(changes) - RUNTIME_FIELDS)
        if bad:
            raise ValueError(f"cannot change at run time: {', '.join(bad)}")
        for name, value in changes.items():
            optional = name in _OPTIONAL_INT_FIELDS
            if value is None and optional:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"{name} must be a number, got {value!r}")
            if (optional or name == "quota") and value != int(value):
                raise ValueError(f"{name} must be an integer, got {value!r}")
        return dataclasses.replace(self, **changes)
