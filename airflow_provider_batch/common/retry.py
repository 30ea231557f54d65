"""Bounded exponential backoff with jitter, for sync and asyncio calls alike."""

from __future__ import annotations

import asyncio
import logging
import math
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

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts: {self.max_attempts} is below 1 (1 means: no retry)")
        for name in ("initial_backoff", "max_backoff"):
            value = getattr(self, name)
            if not 0 <= value < math.inf:
                raise ValueError(f"{name}: {value} is not a finite number of seconds, 0 or more")
        if not 1 <= self.multiplier < math.inf:
            raise ValueError(f"multiplier: {self.multiplier} is not a finite number, 1 or more")
        if not 0 <= self.jitter <= 1:
            raise ValueError(f"jitter: {self.jitter} is not between 0 and 1")

    @property
    def retries(self) -> int:
        """How many retries follow the first try."""
        return self.max_attempts - 1

    def delay(self, retry: int, rand: Callable[[], float] = random.random) -> float:
        """The sleep before retry number `retry` (0 is the first retry): `initial_backoff * multiplier ** retry`,
        capped at `max_backoff` for any `retry` (also past `retries`), then scaled by 1 - jitter * rand(), where
        rand() is in [0, 1)."""
        try:
            grown = self.initial_backoff * self.multiplier ** max(retry, 0)
        except OverflowError:
            grown = math.inf if self.initial_backoff else 0.0
        return min(grown, self.max_backoff) * (1 - self.jitter * rand())

    def delays(self, rand: Callable[[], float] = random.random) -> list[float]:
        """The sleep before each retry (one fewer than max_attempts)."""
        return [self.delay(retry, rand) for retry in range(self.retries)]

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
