"""Runs a job's command as a local process: fresh temporary folder, given environment, wall-clock limit.

Generic over the emulated scheduler: an emulator turns its job spec into a `RunSpec`, holds a `slot()` while the job
occupies capacity (so jobs beyond `max_running` wait), and gets every output line back through a callback.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import tempfile
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field

from airflow_provider_batch.emulators.timefmt import MonotonicClock

log = logging.getLogger(__name__)

# Only these come from the emulator's own environment: enough to find programs, nothing secret.
INHERITED_ENV = ("PATH", "LANG", "LC_ALL", "TZ", "SYSTEMROOT")
_CHUNK = 64 * 1024


@dataclass(frozen=True)
class RunSpec:
    """What to run: argv (argv[0] looked up on PATH), extra environment, wall-clock limit in seconds, and the
    folder to run in: an existing one the caller owns and keeps (`workdir`), or by default a fresh temporary folder
    removed after the run."""

    argv: Sequence[str]
    env: Mapping[str, str] = field(default_factory=dict)
    timeout_s: float | None = None
    workdir: str | None = None


@dataclass(frozen=True)
class OutputLine:
    """One line a job printed: when (ns since the epoch), on which stream ("stdout" or "stderr"), and the text."""

    timestamp_ns: int
    stream: str
    text: str


@dataclass(frozen=True)
class RunResult:
    """How a run ended: exit code (negative = killed by that signal), timeout, or a start failure."""

    exit_code: int | None
    timed_out: bool = False
    start_error: str | None = None
    workdir: str = ""

    @property
    def succeeded(self) -> bool:
        return self.exit_code == 0 and not self.timed_out and self.start_error is None


class ProcessRunner:
    """Starts job processes, bounds how many run at once, and kills them all on shutdown."""

    def __init__(self, max_running: int = 64, default_timeout_s: float = 600.0, kill_grace_s: float = 0.0) -> None:
        if max_running < 1:
            raise ValueError("max_running must be at least 1")
        self.max_running = max_running
        self.default_timeout_s = default_timeout_s
        self.kill_grace_s = kill_grace_s
        self._slots = asyncio.Semaphore(max_running)
        self._processes: set[asyncio.subprocess.Process] = set()
        self._clock = MonotonicClock()

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one of the `max_running` places while a job is leased or running."""
        async with self._slots:
            yield

    @property
    def running(self) -> int:
        return len(self._processes)

    async def run(
        self,
        spec: RunSpec,
        on_line: Callable[[OutputLine], None] | None = None,
        on_start: Callable[[], None] | None = None,
    ) -> RunResult:
        """Run to completion; `on_start` is called once the process exists, `on_line` for every output line.
        Cancelling the awaiting task kills the process group; the temporary folder is always removed (a given
        `spec.workdir` is kept)."""
        if not spec.argv:
            return RunResult(exit_code=None, start_error="no command to run")
        timeout = spec.timeout_s if spec.timeout_s is not None else self.default_timeout_s
        workdir = spec.workdir if spec.workdir is not None else tempfile.mkdtemp(prefix="emulator-job-")
        env = {name: os.environ[name] for name in INHERITED_ENV if name in os.environ}
        env["HOME"] = workdir
        env["TMPDIR"] = workdir
        env.update(spec.env)
        try:
            creating = asyncio.ensure_future(
                asyncio.create_subprocess_exec(
                    *spec.argv,
                    cwd=workdir,
                    env=env,
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.PIPE,
                    start_new_session=True,
                )
            )
            try:
                # Shielded: a cancel in the middle of the start would leave the process running unseen (asyncio
                # kills only the direct child and then waits for the pipes, which its children hold open).
                process = await asyncio.shield(creating)
            except asyncio.CancelledError:
                await self._reap(creating)
                raise
            except OSError as err:
                return RunResult(exit_code=None, start_error=f"cannot start {spec.argv[0]!r}: {err}", workdir=workdir)
            self._processes.add(process)
            if on_start is not None:
                on_start()
            try:
                return await self._supervise(process, timeout, on_line, workdir)
            finally:
                self._processes.discard(process)
                await self._kill(process)
        finally:
            if spec.workdir is None:
                await asyncio.to_thread(shutil.rmtree, workdir, True)

    async def _supervise(
        self,
        process: asyncio.subprocess.Process,
        timeout: float,
        on_line: Callable[[OutputLine], None] | None,
        workdir: str,
    ) -> RunResult:
        assert process.stdout is not None and process.stderr is not None
        readers = [
            asyncio.ensure_future(self._pump(process.stdout, "stdout", on_line)),
            asyncio.ensure_future(self._pump(process.stderr, "stderr", on_line)),
        ]
        try:
            try:
                exit_code = await asyncio.wait_for(process.wait(), timeout)
            except asyncio.TimeoutError:
                await self._kill(process)
                await asyncio.wait(readers, timeout=1.0)
                return RunResult(exit_code=process.returncode, timed_out=True, workdir=workdir)
            # Like a container, the job ends with its main process: what it left behind in its group goes too.
            await self._kill(process)
            await asyncio.wait(readers, timeout=1.0)
            return RunResult(exit_code=exit_code, workdir=workdir)
        finally:
            for reader in readers:
                reader.cancel()

    async def _pump(
        self, stream: asyncio.StreamReader, name: str, on_line: Callable[[OutputLine], None] | None
    ) -> None:
        pending = b""
        while True:
            chunk = await stream.read(_CHUNK)
            if not chunk:
                break
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for raw in lines:
                self._emit(raw, name, on_line)
        if pending:
            self._emit(pending, name, on_line)

    def _emit(self, raw: bytes, name: str, on_line: Callable[[OutputLine], None] | None) -> None:
        if on_line is None:
            return
        text = raw.decode("utf-8", errors="replace").rstrip("\r")
        try:
            on_line(OutputLine(self._clock.now_ns(), name, text))
        except Exception:
            log.exception("output callback failed")

    async def _reap(self, creating: asyncio.Future[asyncio.subprocess.Process]) -> None:
        """After a cancel during the start: let the start finish, then kill what it started, process group and all."""
        try:
            process = await creating
        except Exception:
            return
        await self._kill(process)

    async def _kill(self, process: asyncio.subprocess.Process) -> None:
        if process.returncode is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            return
        for sig in (signal.SIGTERM, signal.SIGKILL) if self.kill_grace_s > 0 else (signal.SIGKILL,):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, sig)
            try:
                await asyncio.wait_for(process.wait(), self.kill_grace_s if sig == signal.SIGTERM else 5.0)
                return
            except asyncio.TimeoutError:
                continue

    async def kill_all(self) -> None:
        """Kill every process still running (shutdown)."""
        await asyncio.gather(*(self._kill(process) for process in list(self._processes)))
