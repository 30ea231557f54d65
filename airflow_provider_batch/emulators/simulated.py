"""Benchmark mode (`--simulate-jobs`): a job is a simulated duration, not a local process.

With thousands of jobs, one process per job makes the emulator measure itself: 5000 `sleep` processes on a 2-core
machine cost the emulator more CPU than the client under test. In benchmark mode no process is started: a job's
command is read for how long it would run and how it would end, and the job holds its place for that long.

- duration: the sum of the `sleep SECONDS` in the command (argv joined with spaces, so `["sleep", "12.5"]`,
  `sh -c "sleep 3; sleep 2"` and a Qarnot `DOCKER_CMD` of `sleep 5` all count); no `sleep` means it ends at once.
- exit code: the last `exit CODE` in the command, else 0.
- output: none. A duration over the job's wall-clock limit ends it as timed out at the limit, as a process would.

Every state machine, event and call counter stays the same: only the process is missing.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Sequence

from airflow_provider_batch.emulators.runner import OutputLine, ProcessRunner, RunResult, RunSpec

_SLEEP = re.compile(r"(?:^|[\s;&|(])sleep\s+(\d+(?:\.\d*)?|\.\d+)(?=$|[\s;&|)])")
_EXIT = re.compile(r"(?:^|[\s;&|(])exit\s+(\d+)(?=$|[\s;&|)])")


def simulated_outcome(argv: Sequence[str]) -> tuple[float, int]:
    """(seconds, exit code) a command would take and end with, read from its `sleep` and `exit` words."""
    text = " ".join(argv)
    seconds = sum(float(match) for match in _SLEEP.findall(text))
    exits = _EXIT.findall(text)
    return seconds, int(exits[-1]) if exits else 0


class SimulatedRunner(ProcessRunner):
    """A `ProcessRunner` that starts no process: each run waits its command's simulated duration."""

    def __init__(self, max_running: int = 64, default_timeout_s: float = 600.0) -> None:
        super().__init__(max_running, default_timeout_s)
        self._sleeping = 0

    @property
    def running(self) -> int:
        return self._sleeping

    async def run(
        self,
        spec: RunSpec,
        on_line: Callable[[OutputLine], None] | None = None,
        on_start: Callable[[], None] | None = None,
    ) -> RunResult:
        del on_line  # a simulated job prints nothing
        if not spec.argv:
            return RunResult(exit_code=None, start_error="no command to run")
        seconds, exit_code = simulated_outcome(spec.argv)
        timeout = spec.timeout_s if spec.timeout_s is not None else self.default_timeout_s
        workdir = spec.workdir or ""
        self._sleeping += 1
        try:
            if on_start is not None:
                on_start()
            if seconds > timeout:
                await asyncio.sleep(timeout)
                return RunResult(exit_code=-9, timed_out=True, workdir=workdir)  # killed at the limit (SIGKILL)
            await asyncio.sleep(seconds)
            return RunResult(exit_code=exit_code, workdir=workdir)
        finally:
            self._sleeping -= 1

    async def kill_all(self) -> None:
        """Nothing to kill: cancelling the jobs' tasks ends their waits."""
