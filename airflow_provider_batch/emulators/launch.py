"""Start the emulators' command line as a child process and wait for its READY line (tests, the demo)."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import urllib.request
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import IO, Any

from airflow_provider_batch.emulators.connections import connections

READY_PREFIX = "READY "


class LaunchedEmulators:
    """A running `python -m airflow_provider_batch.emulators`; `ready` is its parsed READY line."""

    def __init__(self, process: subprocess.Popen[bytes], ready: dict[str, Any], log_path: str) -> None:
        self.process = process
        self.ready = ready
        self.log_path = log_path

    @property
    def admin(self) -> str:
        return str(self.ready["admin"])

    def __getitem__(self, name: str) -> dict[str, Any]:
        """One emulator's READY entry, e.g. `launched["armada"]["target"]`."""
        entry: dict[str, Any] = self.ready[name]
        return entry

    def connections(self) -> dict[str, dict[str, Any]]:
        """conn_id -> the Airflow connection (JSON form) to each emulator started, as `--print-connections` and
        the `connections` command print them."""
        return connections(self.ready)

    def stats(self) -> dict[str, dict[str, int]]:
        with urllib.request.urlopen(f"{self.admin}/stats", timeout=10) as response:
            stats: dict[str, dict[str, int]] = json.load(response)
        return stats

    def reset_stats(self) -> None:
        request = urllib.request.Request(f"{self.admin}/stats/reset", method="POST", data=b"")
        with urllib.request.urlopen(request, timeout=10):
            pass

    def requests(self, name: str) -> list[dict[str, Any]]:
        """The last requests the REST emulator `name` was sent (method, route, path, query, headers, body)."""
        with urllib.request.urlopen(f"{self.admin}/requests", timeout=10) as response:
            recorded: dict[str, list[dict[str, Any]]] = json.load(response)
        return recorded[name]

    def reset_requests(self) -> None:
        request = urllib.request.Request(f"{self.admin}/requests/reset", method="POST", data=b"")
        with urllib.request.urlopen(request, timeout=10):
            pass

    def read_log(self) -> str:
        with open(self.log_path, encoding="utf-8", errors="replace") as handle:
            return handle.read()

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM, then SIGKILL after `timeout`; the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()
        return self.process.returncode

    def __enter__(self) -> LaunchedEmulators:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _read_ready(stdout: IO[bytes], lines: queue.Queue[str | None]) -> None:
    for raw in iter(stdout.readline, b""):
        text = raw.decode("utf-8", errors="replace").rstrip("\n")
        lines.put(text)
        if text.startswith(READY_PREFIX):
            return
    lines.put(None)


def launch(
    args: Sequence[str] = (),
    *,
    timeout: float = 30.0,
    python: str = sys.executable,
    env: Mapping[str, str] | None = None,
    log_path: str | None = None,
) -> LaunchedEmulators:
    """Run the emulators with these command-line flags; return once READY (RuntimeError with the log otherwise).
    stderr goes to `log_path` (default: a new temporary file)."""
    if log_path is None:
        handle, log_path = tempfile.mkstemp(prefix="emulators-", suffix=".log")
        os.close(handle)
    with open(log_path, "ab") as log_file:
        process = subprocess.Popen(
            [python, "-m", "airflow_provider_batch.emulators", *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log_file,
            env=dict(env) if env is not None else None,
        )
    assert process.stdout is not None
    lines: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=_read_ready, args=(process.stdout, lines), daemon=True).start()
    launched = LaunchedEmulators(process, {}, log_path)
    try:
        while True:
            line = lines.get(timeout=timeout)
            if line is None:
                raise RuntimeError(f"the emulators exited before READY:\n{launched.read_log()}")
            if line.startswith(READY_PREFIX):
                launched.ready = json.loads(line[len(READY_PREFIX) :])
                return launched
    except queue.Empty:
        launched.stop()
        raise RuntimeError(f"the emulators were not READY within {timeout} s:\n{launched.read_log()}") from None
    except BaseException:
        launched.stop()
        raise
