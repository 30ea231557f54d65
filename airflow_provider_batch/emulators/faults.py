"""Fault injection and latency settings shared by every emulator, whatever its wire (gRPC, REST, WebSocket).

A fault makes a call fail as a transient server error (gRPC UNAVAILABLE, HTTP 503). For a request/reply call the
plan picks whether the fault strikes BEFORE the work (nothing happened) or AFTER it (the work is done, the reply is
lost: only clients that deduplicate their retries survive that). For a stream it strikes at the start or after a
few messages.
"""

from __future__ import annotations

import enum
import random
import threading
from dataclasses import dataclass

from airflow_provider_batch.emulators.stats import CallCounter


class FaultPoint(enum.Enum):
    NONE = "none"
    BEFORE = "before"
    AFTER = "after"


@dataclass(frozen=True)
class StreamFault:
    """Fail a stream after `after_messages` messages (0 = before the first)."""

    after_messages: int


class FaultPlan:
    """Decides, call by call, whether to inject a fault; counts what it injected per method."""

    def __init__(self, rate: float = 0.0, latency_ms: float = 0.0, seed: int | None = None) -> None:
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"fault rate must be between 0 and 1, not {rate}")
        if latency_ms < 0:
            raise ValueError(f"latency must not be negative, not {latency_ms}")
        self.rate = rate
        self.latency_s = latency_ms / 1000.0
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self.injected = CallCounter()

    def unary(self, method: str) -> FaultPoint:
        """Where a request/reply call fails, if it does: about half before the work and half after."""
        with self._lock:
            if self.rate <= 0 or self._random.random() >= self.rate:
                return FaultPoint.NONE
            point = FaultPoint.BEFORE if self._random.random() < 0.5 else FaultPoint.AFTER
        self.injected.add(method)
        return point

    def stream(self, method: str) -> StreamFault | None:
        """Whether a server stream breaks, and after how many messages (0 to 3)."""
        with self._lock:
            if self.rate <= 0 or self._random.random() >= self.rate:
                return None
            after = 0 if self._random.random() < 0.5 else self._random.randint(1, 3)
        self.injected.add(method)
        return StreamFault(after)
