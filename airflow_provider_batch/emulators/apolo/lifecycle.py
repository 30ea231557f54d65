"""Drives one Apolo job: pending (Creating, Scheduling, ContainerCreating) -> running -> succeeded (Completed) or
failed (Error, ContainerCannotRun, with the exit code), restarting when its restart policy says so, suspended once
if preemptible and --apolo-suspend-ms says so; `cancel` ends it as cancelled (UserRequested, LifeSpanEnded) and
kills its process."""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import shlex
import shutil
import signal
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_batch.emulators.apolo.records import JobRecord, Reason, Status, StatusItem, now
from airflow_provider_batch.emulators.runner import OutputLine, ProcessRunner, RunResult, RunSpec

log = logging.getLogger(__name__)

MAX_LOG_LINES = 100_000  # kept per job for log_ws
SIGKILL_EXIT = 128 + signal.SIGKILL  # what the container runtime reports for a killed container
START_ERROR_EXIT = 128  # Kubernetes' exit code for a container that could not start
DESCRIPTION_LINES = 10  # output lines kept in a failed job's description...
DESCRIPTION_CHARS = 2000  # ...and at most this many characters of them
PASSED_CONFIG_VARIABLES = ("APOLO_PASSED_CONFIG", "NEURO_PASSED_CONFIG")


def exit_code_of(result: RunResult) -> int:
    """Exit codes as a container reports them: a process killed by signal N exits with 128 + N."""
    code = result.exit_code if result.exit_code is not None else START_ERROR_EXIT
    return 128 - code if code < 0 else code


def argv_of(container: Mapping[str, object]) -> list[str]:
    """The process to run: entrypoint then command, each split like a shell would (the image is ignored)."""
    argv: list[str] = []
    for key in ("entrypoint", "command"):
        value = container.get(key)
        if isinstance(value, str) and value:
            argv += shlex.split(value)
    return argv


class Interrupt(enum.Enum):
    """Why a run ended before its process did."""

    NONE = "none"
    SIGNAL = "signal"  # send_signal (platform-monitoring's kill): SIGKILL, exit code 137
    SUSPEND = "suspend"  # a preemptible job suspended by the scheduler


@dataclass(frozen=True)
class LifecycleOptions:
    """step_s: the pace of pending steps; minute_s: how long one minute of max_run_time_minutes lasts;
    suspend_s: after how long a preemptible (scheduler_enabled) job is suspended once, and for how long (0: never);
    secrets: what secret_env resolves to; passed_config: the blob `pass_config=True` jobs get."""

    step_s: float = 0.05
    minute_s: float = 60.0
    suspend_s: float = 0.0
    secrets: Mapping[str, str] = field(default_factory=dict)
    passed_config: str = ""


class Lifecycle:
    """Runs jobs through the shared ProcessRunner; one asyncio task per job."""

    def __init__(self, runner: ProcessRunner, options: LifecycleOptions) -> None:
        self.runner = runner
        self.step_s = options.step_s
        self.minute_s = options.minute_s
        self.suspend_s = options.suspend_s
        self.secrets = dict(options.secrets)
        self.passed_config = options.passed_config
        self.holding = 0  # jobs holding a place of --max-running (capacity)
        self._signals: dict[str, asyncio.Event] = {}

    # -- transitions --------------------------------------------------------------------------------------------

    @staticmethod
    def move(
        job: JobRecord,
        status: Status,
        reason: str | None = None,
        description: str | None = None,
        exit_code: int | None = None,
    ) -> bool:
        """Record a new status item now; False if the job had already finished (a finished job never changes)."""
        return job.move(StatusItem(status, now(), reason, description, exit_code))

    def start(self, job: JobRecord) -> None:
        job.task = asyncio.get_running_loop().create_task(self._drive(job), name=f"apolo-job-{job.id}")
        self.watch_life_span(job)

    def watch_life_span(self, job: JobRecord) -> None:
        """Start enforcing the job's max_run_time_minutes, unless already done or there is none."""
        if job.spec.max_run_time_minutes is None or job.finished:
            return
        if job.watcher is None or job.watcher.done():
            job.watcher = asyncio.get_running_loop().create_task(
                self._watch_life_span(job), name=f"apolo-life-span-{job.id}"
            )

    def cancel(self, job: JobRecord, reason: str) -> bool:
        """Cancel a job that is not finished yet (its process is killed); False if it had already finished."""
        if not self.move(job, Status.CANCELLED, reason):
            return False
        if job.task is not None:
            job.task.cancel()
        return True

    def send_signal(self, job: JobRecord) -> bool:
        """Kill the job's container (SIGKILL); what happens next is its restart policy's call. False if not running."""
        event = self._signals.get(job.id)
        if event is None or job.status is not Status.RUNNING:
            return False
        event.set()
        return True

    # -- the run ------------------------------------------------------------------------------------------------

    async def _drive(self, job: JobRecord) -> None:
        try:
            await asyncio.sleep(self.step_s)
            self.move(job, Status.PENDING, Reason.SCHEDULING)
            slot = contextlib.AsyncExitStack()
            try:  # a job that cannot get a place of --max-running within its schedule_timeout fails
                await asyncio.wait_for(slot.enter_async_context(self.runner.slot()), job.spec.schedule_timeout)
            except asyncio.TimeoutError:
                description = "Failed to scale up the cluster to get more resources"
                self.move(job, Status.FAILED, Reason.CLUSTER_SCALE_UP_FAILED, description)
                return
            async with slot:
                self.holding += 1
                try:
                    await self._run_until_done(job)
                finally:
                    self.holding -= 1
        except asyncio.CancelledError:
            raise
        except Exception as err:  # the emulator's own bug: the job fails, the server lives on
            log.exception("job %s: emulator error", job.id)
            self.move(job, Status.FAILED, Reason.ERROR, f"emulator internal error: {err}")

    async def _run_until_done(self, job: JobRecord) -> None:
        suspend_after = self.suspend_s if job.spec.scheduler_enabled and self.suspend_s > 0 else None
        while True:
            await asyncio.sleep(self.step_s)
            if not self.move(job, Status.PENDING, Reason.CONTAINER_CREATING):
                return
            await asyncio.sleep(self.step_s)
            result, interrupt = await self._run_once(job, suspend_after)
            if job.finished:
                return
            if interrupt is Interrupt.SUSPEND:  # preempted once: its process is gone, it runs again later
                suspend_after = None
                self.move(job, Status.SUSPENDED)
                await asyncio.sleep(self.suspend_s)
                continue
            killed = interrupt is Interrupt.SIGNAL
            code = SIGKILL_EXIT if killed else exit_code_of(result)
            succeeded = code == 0 and result.start_error is None and not killed
            policy = job.spec.restart_policy
            if policy == "always" or (policy == "on-failure" and not succeeded):
                job.restarts += 1
                self.move(job, Status.PENDING, Reason.RESTARTING)
                continue
            self._finish(job, result, code, succeeded)
            return

    def environment(self, job: JobRecord) -> dict[str, str] | str:
        """The job's env: `env`, `secret_env` resolved from --apolo-secret, and with `pass_config` the platform's
        passed-config variables. A string names the secrets that do not exist."""
        env = dict(job.spec.container.get("env") or {})
        missing = []
        for name, uri in (job.spec.container.get("secret_env") or {}).items():
            key = uri.rstrip("/").rsplit("/", 1)[-1]
            if key in self.secrets:
                env[name] = self.secrets[key]
            else:
                missing.append(key)
        if missing:
            return f"secret(s) not found: {', '.join(sorted(missing))}"
        if job.spec.pass_config and self.passed_config:
            env.update({name: self.passed_config for name in PASSED_CONFIG_VARIABLES})
        return env

    async def _run_once(self, job: JobRecord, suspend_after: float | None) -> tuple[RunResult, Interrupt]:
        env = self.environment(job)
        if isinstance(env, str):
            return RunResult(exit_code=None, start_error=env), Interrupt.NONE
        # The run's folder is the job's while it runs: exec (interactive.py) runs its commands there.
        job.workdir = await asyncio.to_thread(tempfile.mkdtemp, prefix="emulator-apolo-job-")
        spec = RunSpec(argv_of(job.spec.container), env, workdir=job.workdir)  # life span: _watch_life_span

        def started() -> None:
            job.live_from = len(job.logs)
            self.move(job, Status.RUNNING)

        def keep(line: OutputLine) -> None:
            if len(job.logs) < MAX_LOG_LINES:  # a runaway job cannot eat the emulator's memory
                job.logs.append(line)
                job.notify()

        signalled = asyncio.Event()
        self._signals[job.id] = signalled
        run = asyncio.ensure_future(self.runner.run(spec, on_line=keep, on_start=started))
        waiters: dict[asyncio.Future[Any], Interrupt] = {asyncio.ensure_future(signalled.wait()): Interrupt.SIGNAL}
        if suspend_after is not None:
            waiters[asyncio.ensure_future(asyncio.sleep(suspend_after))] = Interrupt.SUSPEND
        try:
            done, _ = await asyncio.wait({run, *waiters}, return_when=asyncio.FIRST_COMPLETED)
            if run in done:
                return run.result(), Interrupt.NONE
            interrupt = next(waiters[waiter] for waiter in waiters if waiter in done)
            run.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await run
            return RunResult(exit_code=-signal.SIGKILL), interrupt
        finally:
            self._signals.pop(job.id, None)
            for waiter in waiters:
                waiter.cancel()
            if not run.done():
                run.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await run
            workdir, job.workdir = job.workdir, None
            if workdir is not None:
                await asyncio.to_thread(shutil.rmtree, workdir, True)

    def _finish(self, job: JobRecord, result: RunResult, code: int, succeeded: bool) -> None:
        if succeeded:
            self.move(job, Status.SUCCEEDED, Reason.COMPLETED, exit_code=0)
            return
        tail = "\n".join(line.text for line in job.logs[-DESCRIPTION_LINES:])[-DESCRIPTION_CHARS:]
        if result.start_error is not None:
            self.move(job, Status.FAILED, Reason.CONTAINER_CANNOT_RUN, result.start_error, START_ERROR_EXIT)
        elif result.timed_out:
            limit = self.runner.default_timeout_s
            description = f"killed after the emulator's --max-job-seconds ({limit:g} s)"
            self.move(job, Status.FAILED, Reason.ERROR, description, code)
        else:
            self.move(job, Status.FAILED, Reason.ERROR, tail or None, code)

    async def _watch_life_span(self, job: JobRecord) -> None:
        """platform-api's policy enforcer: a job that ran longer than max_run_time_minutes is cancelled."""
        while not job.finished:
            minutes = job.spec.max_run_time_minutes
            if minutes is None:
                return
            remaining = minutes * self.minute_s - job.run_time().total_seconds()
            if remaining <= 0:
                self.cancel(job, Reason.LIFE_SPAN_ENDED)
                return
            await asyncio.sleep(min(remaining, 1.0) if job.status is Status.RUNNING else max(self.step_s, 0.01))

    async def shutdown(self, jobs: list[JobRecord]) -> None:
        tasks = [task for job in jobs for task in (job.task, job.watcher) if task is not None and not task.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
