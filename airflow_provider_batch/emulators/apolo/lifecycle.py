"""Drives one Apolo job: pending (Creating, Scheduling, ContainerCreating) -> running -> succeeded (Completed) or
failed (Error, ContainerCannotRun, with the exit code), restarting when its restart policy says so; `cancel` ends
it as cancelled (UserRequested, LifeSpanEnded) and kills its process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shlex
import signal
from collections.abc import Mapping

from airflow_provider_batch.emulators.apolo.records import JobRecord, Reason, Status, StatusItem, now
from airflow_provider_batch.emulators.runner import OutputLine, ProcessRunner, RunResult, RunSpec

log = logging.getLogger(__name__)

MAX_LOG_LINES = 100_000  # kept per job for log_ws
SIGKILL_EXIT = 128 + signal.SIGKILL  # what the container runtime reports for a killed container
START_ERROR_EXIT = 128  # Kubernetes' exit code for a container that could not start
DESCRIPTION_LINES = 10  # output lines kept in a failed job's description


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


class Lifecycle:
    """Runs jobs through the shared ProcessRunner; one asyncio task per job."""

    def __init__(
        self, runner: ProcessRunner, step_s: float, minute_s: float, secrets: Mapping[str, str] | None = None
    ) -> None:
        self.runner = runner
        self.step_s = step_s
        self.minute_s = minute_s  # how long one minute of max_run_time_minutes lasts (tests shorten it)
        self.secrets = dict(secrets or {})
        self.holding = 0  # jobs holding a place of --max-running (capacity)
        self._signals: dict[str, asyncio.Event] = {}

    # -- transitions --------------------------------------------------------------------------------------------

    @staticmethod
    def move(job: JobRecord, status: Status, reason: str | None = None, description: str | None = None,
             exit_code: int | None = None) -> bool:  # fmt: skip
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
                self.move(
                    job, Status.FAILED, Reason.CLUSTER_SCALE_UP_FAILED,
                    "Failed to scale up the cluster to get more resources",
                )  # fmt: skip
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
        while True:
            await asyncio.sleep(self.step_s)
            if not self.move(job, Status.PENDING, Reason.CONTAINER_CREATING):
                return
            await asyncio.sleep(self.step_s)
            result, killed = await self._run_once(job)
            if job.finished:
                return
            code = SIGKILL_EXIT if killed else exit_code_of(result)
            succeeded = code == 0 and result.start_error is None and not killed
            policy = job.spec.restart_policy
            if policy == "always" or (policy == "on-failure" and not succeeded):
                job.restarts += 1
                self.move(job, Status.PENDING, Reason.RESTARTING)
                continue
            self._finish(job, result, code, succeeded)
            return

    async def _run_once(self, job: JobRecord) -> tuple[RunResult, bool]:
        env = dict(job.spec.container.get("env") or {})
        missing = []
        for name, uri in (job.spec.container.get("secret_env") or {}).items():
            key = uri.rstrip("/").rsplit("/", 1)[-1]
            if key in self.secrets:
                env[name] = self.secrets[key]
            else:
                missing.append(key)
        if missing:
            return RunResult(exit_code=None, start_error=f"secret(s) not found: {', '.join(sorted(missing))}"), False
        spec = RunSpec(argv_of(job.spec.container), env)  # life span: _watch_life_span; else --max-job-seconds

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
        waiter = asyncio.ensure_future(signalled.wait())
        try:
            await asyncio.wait({run, waiter}, return_when=asyncio.FIRST_COMPLETED)
            if run.done():
                return run.result(), False
            run.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await run
            return RunResult(exit_code=-signal.SIGKILL), True
        finally:
            self._signals.pop(job.id, None)
            waiter.cancel()
            if not run.done():
                run.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await run

    def _finish(self, job: JobRecord, result: RunResult, code: int, succeeded: bool) -> None:
        if succeeded:
            self.move(job, Status.SUCCEEDED, Reason.COMPLETED, exit_code=0)
            return
        tail = os.linesep.join(line.text for line in job.logs[-DESCRIPTION_LINES:])
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
