"""Counts of the calls an emulator answered, per method: what `GET /stats` reports."""

from __future__ import annotations

import threading
from collections import Counter


class CallCounter:
    """A thread-safe count per method name (a gRPC path such as `/api.Submit/SubmitJobs`, or `GET /tasks`)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def add(self, method: str, n: int = 1) -> None:
        with self._lock:
            self._counts[method] += n

    def get(self, method: str) -> int:
        with self._lock:
            return self._counts[method]

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(sorted(self._counts.items()))

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()
