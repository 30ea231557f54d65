"""Bounded exponential backoff with jitter, for sync and asyncio calls alike."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from airflow_provider_batch.common.errors import is_permanent

T = TypeVar("T")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a transient failure is retried.

    `max_attempts` counts the first try; delays grow from `initial_backoff` by `multiplier` up to `max_backoff`
    seconds, each scaled by a random factor in [1 - jitter, 1] so that many clients do not retry in step.
    """

    max_attempts: int = 6
    initial_backoff: float = 0.2
    max_backoff: float = 10.0
    multiplier: float = 2.0
    jitter: float = 0.5

    def delays(self) -> list[float]:
        """The sleep before each retry (one fewer than max_attempts)."""
        out = []
        delay = self.initial_backoff
        for _ in range(max(self.max_attempts - 1, 0)):
            out.append(min(delay, self.max_backoff) * (1 - self.jitter * random.random()))
            delay *= self.multiplier
        return out

    def call(self, fn: Callable[[], T], retryable: Callable[[BaseException], bool], what: str = "call") -> T:
        """Run fn, retrying while `retryable(error)` says so and attempts remain; re-raise the last error. A permanent
        refusal (a wrong token, an unknown queue: see common.errors) is never retried, whatever `retryable` says."""
        for delay in [*self.delays(), None]:
            try:
                return fn()
            except Exception as error:
                if delay is None or is_permanent(error) or not retryable(error):
                    raise
                log.warning("%s failed (%s); retrying in %.2fs", what, _short(error), delay)
                time.sleep(delay)
        raise AssertionError("unreachable")

    async def acall(
        self, fn: Callable[[], Awaitable[T]], retryable: Callable[[BaseException], bool], what: str = "call"
    ) -> T:
        """The asyncio form of `call`: never blocks the event loop while waiting."""
        for delay in [*self.delays(), None]:
            try:
                return await fn()
            except Exception as error:
                if delay is None or is_permanent(error) or not retryable(error):
                    raise
                log.warning("%s failed (%s); retrying in %.2fs", what, _short(error), delay)
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")


NO_RETRY = RetryPolicy(max_attempts=1)


def _short(error: BaseException) -> str:
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    return text[:200]
