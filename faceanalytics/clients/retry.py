"""When to send a failed call again, and how long to wait first.

Only failures that can succeed on a second try are retried: connection errors,
timeouts, HTTP 5xx / ``INTERNAL_ERROR``, Megvii ``CONCURRENCY_LIMIT_EXCEEDED`` and
Baidu QPS error 18 – i.e. errors whose ``retryable`` is true. ``RESULT_NOT_FOUND``,
``AUTHENTICATION_ERROR``, ``DATA_DESTROYED``, ``MISSING/BAD_ARGUMENTS`` and Baidu
17/19 fail at once. Every retry of a Megvii ``get_result`` spends one of the three
calls Megvii allows per biz_id, which is why attempts are few and counted by the ledger.

The wait is exponential backoff with *full jitter* (a uniform draw in
``[0, min(backoff_max, backoff_base * 2**(n-1))]`` before attempt ``n+1``), and the
whole call is bounded both in attempts and in seconds. ``sleep``, ``random`` and
``clock`` are injectable so tests neither wait nor depend on chance::

    >>> delays = []
    >>> policy = RetryPolicy(max_attempts=4, sleep=delays.append, random=lambda: 1.0)
    >>> [policy.backoff(n) for n in (1, 2, 3)]
    [0.5, 1.0, 2.0]
"""

from __future__ import annotations

import random as _random
import time
from dataclasses import dataclass, field
from typing import Callable

from .errors import ProviderError

__all__ = ["RetryPolicy", "NO_RETRY"]


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded exponential backoff with full jitter.

    max_attempts: total sends of one call, first one included (1 = never retry).
    backoff_base, backoff_max: seconds; the jitter cap doubles from base up to max.
    max_total: no retry starts once this many seconds have passed since the first
        send, nor if its wait would cross that line.
    """

    max_attempts: int = 3
    backoff_base: float = 0.5
    backoff_max: float = 8.0
    max_total: float = 60.0
    sleep: Callable[[float], object] = field(default=time.sleep, repr=False, compare=False)
    random: Callable[[], float] = field(default=_random.random, repr=False, compare=False)
    clock: Callable[[], float] = field(default=time.monotonic, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")
        if self.backoff_base < 0 or self.backoff_max < 0 or self.max_total < 0:
            raise ValueError("backoff_base, backoff_max and max_total must be >= 0")

    def is_retryable(self, error: BaseException) -> bool:
        return isinstance(error, ProviderError) and error.retryable

    def backoff(self, attempts: int) -> float:
        """Seconds to wait after *attempts* sends have failed (full jitter)."""
        cap = min(self.backoff_max, self.backoff_base * (2 ** max(attempts - 1, 0)))
        return max(0.0, min(1.0, self.random())) * cap

    def next_delay(self, error: BaseException, attempts: int, started: float) -> float | None:
        """The wait before the next send, or ``None`` to give up and raise *error*.

        *started* is ``clock()`` at the first send.
        """
        if attempts >= self.max_attempts or not self.is_retryable(error):
            return None
        delay = self.backoff(attempts)
        if self.clock() - started + delay > self.max_total:
            return None
        return delay


#: A policy that sends every call exactly once.
NO_RETRY = RetryPolicy(max_attempts=1)
