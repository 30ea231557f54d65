"""The measured side of a benchmark child process: what it costs (CPU, peak RSS) and how it talks to its parent.

A child imports what it needs, says `READY` on stdout, reads one JSON request line from stdin (the jobs to wait
for, submitted by the parent only then, so imports never delay a job's end from being seen), waits for every job,
and prints one `RESULT <json>` line: when each job's end was seen, wall and CPU seconds, and the peak RSS over the
RSS it had once ready. Each mode runs in a process of its own, so no mode reuses a heap another grew.
"""

from __future__ import annotations

import json
import resource
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import psutil

RESULT_PREFIX = "RESULT "


class PeakRss:
    """Samples this process's RSS every 0.1 s; `baseline` is the RSS when entered."""

    def __init__(self) -> None:
        self.process = psutil.Process()
        self.baseline = self.process.memory_info().rss
        self.peak = self.baseline
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.1):
            self.peak = max(self.peak, self.process.memory_info().rss)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.process.memory_info().rss)


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def serve_one(wait_for: Callable[[dict[str, Any]], dict[str, float]]) -> None:
    """READY, read the request, run `wait_for(request)` (job id -> epoch seconds its end was seen), print RESULT."""
    print("READY", flush=True)
    request = json.loads(sys.stdin.readline())
    cpu_before, wall_before = cpu_seconds(), time.monotonic()
    with PeakRss() as rss:
        received = wait_for(request)
    result = {
        "received": received,
        "wall_s": time.monotonic() - wall_before,
        "cpu_s": cpu_seconds() - cpu_before,
        "rss_ready_mb": rss.baseline / 2**20,
        "peak_extra_rss_mb": (rss.peak - rss.baseline) / 2**20,
    }
    print(RESULT_PREFIX + json.dumps(result), flush=True)
