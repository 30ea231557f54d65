"""What the distributed benchmark samples while a run goes on (`benchmarks/distributed.py`).

- `StatsdCounter`: a UDP StatsD listener that Airflow's components send their metrics to; it counts Airflow's own
  `ti.start.<dag_id>.<task_id>` counter, which the task runner increments each time a task instance starts in a
  worker (its first start and every resume after a deferral).
- `Sampler`: every `every` seconds, the emulator's call counters (/stats) and each triggerer's process tree (CPU
  seconds, RSS) through the harness's `usage()`.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections import Counter
from typing import Any, Protocol

import psutil


class _Emulators(Protocol):
    def stats(self) -> dict[str, dict[str, int]]: ...


class _Airflow(Protocol):
    n_triggerers: int

    def usage(self, name: str, index: int = 0) -> tuple[float, float]: ...


class StatsdCounter:
    """Counts StatsD counters (`name:value|c`) sent to 127.0.0.1:`port` (a free port, chosen when entered)."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.bind(("127.0.0.1", 0))
        self._socket.settimeout(0.5)
        self.port = int(self._socket.getsockname()[1])
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="statsd", daemon=True)

    def __enter__(self) -> StatsdCounter:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._socket.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                packet = self._socket.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            for line in packet.decode("utf-8", "replace").splitlines():
                name, _, rest = line.partition(":")
                value, _, kind = rest.partition("|")
                if kind.startswith("c"):
                    with contextlib.suppress(ValueError), self._lock:
                        self.counts[name] += int(float(value))

    def count(self, name: str) -> int:
        with self._lock:
            return self.counts.get(name, 0)


class Sampler:
    """A thread keeping (time, emulator /stats) and (time, [(CPU s, RSS MB) per triggerer]) every `every` s."""

    def __init__(self, airflow: _Airflow, emulators: _Emulators, every: float = 1.0) -> None:
        self.airflow, self.emulators, self.every = airflow, emulators, every
        self.stats: list[tuple[float, dict[str, dict[str, int]]]] = []
        self.triggerers: list[tuple[float, list[tuple[float, float]]]] = []
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sampler", daemon=True)

    def __enter__(self) -> Sampler:
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        self.sample()

    def sample(self) -> None:
        try:
            self.stats.append((time.time(), self.emulators.stats()))
            usage = []
            for index in range(self.airflow.n_triggerers):
                try:
                    usage.append(self.airflow.usage("triggerer", index))
                except (LookupError, psutil.Error):
                    usage.append((float("nan"), float("nan")))
            self.triggerers.append((time.time(), usage))
        except Exception as error:  # keep sampling: a busy moment is not a failure
            self.errors.append(repr(error))

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.sample()

    def calls_between(self, began: float, ended: float, methods: set[str] | None = None) -> int:
        """Calls the Armada emulator answered between the samples nearest `began` and `ended` (only `methods` if
        given, else every method)."""
        before = _nearest(self.stats, began)
        after = _nearest(self.stats, ended)
        return _armada_calls(after, methods) - _armada_calls(before, methods)

    def peak_window(self, window: float, began: float, ended: float, exclude: set[str]) -> int:
        """The most Armada calls (all methods but `exclude`) in any `window` seconds between `began` and `ended`."""
        inside = [(at, stats) for at, stats in self.stats if began - 1 <= at <= ended + 1]
        peak, start = 0, 0
        for at, stats in inside:
            while at - inside[start][0] > window:
                start += 1
            calls = _armada_calls(stats) - _armada_calls(inside[start][1])
            calls -= _armada_calls(stats, exclude) - _armada_calls(inside[start][1], exclude)
            peak = max(peak, calls)
        return peak

    def triggerer_cpu(self, began: float, ended: float) -> float:
        """CPU seconds all triggerers (with their trigger runners) used between the two moments."""
        before = _nearest(self.triggerers, began)
        after = _nearest(self.triggerers, ended)
        return sum(a[0] - b[0] for a, b in zip(after, before, strict=True))

    def triggerer_rss(self, began: float, ended: float) -> tuple[float, float]:
        """(the larger triggerer's RSS MB at `began`, the largest RSS MB any triggerer reached until `ended`)."""
        start = max(rss for _, rss in _nearest(self.triggerers, began))
        peak = max(rss for at, usage in self.triggerers if began <= at <= ended + 2 for _, rss in usage)
        return start, peak


def _nearest(samples: list[tuple[float, Any]], at: float) -> Any:
    return min(samples, key=lambda sample: abs(sample[0] - at))[1]


def _armada_calls(stats: dict[str, dict[str, int]], methods: set[str] | None = None) -> int:
    calls = stats.get("armada", {})
    return sum(count for method, count in calls.items() if methods is None or method in methods)
