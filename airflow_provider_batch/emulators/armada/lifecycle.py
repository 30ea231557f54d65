"""Drives one Armada job through submitted -> queued -> leased -> pending -> running -> succeeded | failed, running
its command for real, and stops it on cancel or preempt. Every step is an event on the job's job-set stream."""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import uuid
from typing import Any

from airflow_provider_batch._proto.armada import event_pb2
from airflow_provider_batch.emulators.armada.events import EventBus, make_event
from airflow_provider_batch.emulators.armada.podspec import container_name, to_run_spec
from airflow_provider_batch.emulators.armada.records import JobRecord, JobState, RunRecord, RunState
from airflow_provider_batch.emulators.runner import OutputLine, ProcessRunner, RunResult
from airflow_provider_batch.emulators.timefmt import MonotonicClock

log = logging.getLogger(__name__)

CLUSTER_ID = "emulator"
POOL = "default"
REQUESTOR = "emulator"
MAX_LOG_LINES = 100_000  # kept per job for Binoculars Logs
Cause = event_pb2.Cause


class Lifecycle:
    def __init__(self, events: EventBus, runner: ProcessRunner, step_s: float, clock: MonotonicClock) -> None:
        self.events = events
        self.runner = runner
        self.step_s = step_s
        self.clock = clock
        self.node = socket.gethostname() or "localhost"

    # -- events and transitions ---------------------------------------------------------------------------------

    def emit(self, record: JobRecord, kind: str, /, **fields: Any) -> None:
        now = self.clock.now_ns()
        self.events.publish(make_event(kind, record.id, record.job_set_id, record.queue, now, **fields))

    def move(self, record: JobRecord, state: JobState, kind: str, /, **fields: Any) -> None:
        record.state = state
        record.last_transition_ns = self.clock.now_ns()
        self.emit(record, kind, **fields)

    def _pod_fields(self, job: JobRecord, run: RunRecord) -> dict[str, Any]:
        return {
            "cluster_id": CLUSTER_ID,
            "kubernetes_id": run.run_id,
            "pod_number": 0,
            "pod_name": f"armada-{job.id.lower()}-0",
            "pod_namespace": job.job.namespace,
        }

    # -- the happy path -----------------------------------------------------------------------------------------

    def start(self, job: JobRecord) -> None:
        self.emit(job, "submitted", job=job.job)
        job.task = asyncio.get_running_loop().create_task(self._drive(job), name=f"armada-job-{job.id}")

    async def _drive(self, job: JobRecord) -> None:
        try:
            await asyncio.sleep(self.step_s)
            self.move(job, JobState.QUEUED, "queued")
            async with self.runner.slot():
                await asyncio.sleep(self.step_s)
                run = RunRecord(run_id=str(uuid.uuid4()), job_id=job.id, cluster=CLUSTER_ID, node=self.node)
                run.leased_ns = self.clock.now_ns()
                job.runs.append(run)
                self.move(job, JobState.LEASED, "leased", cluster_id=CLUSTER_ID, pool=POOL)
                await asyncio.sleep(self.step_s)
                run.state, run.pending_ns = RunState.RUN_STATE_PENDING, self.clock.now_ns()
                self.move(job, JobState.PENDING, "pending", pool=POOL, **self._pod_fields(job, run))
                await self._run(job, run)
        except asyncio.CancelledError:
            raise
        except Exception as err:  # the emulator's own bug: the job fails, the server lives on
            log.exception("job %s: emulator error", job.id)
            if not job.terminal and job.latest_run is not None:
                self._fail(job, job.latest_run, f"emulator internal error: {err}", None, Cause.Error, "")

    async def _run(self, job: JobRecord, run: RunRecord) -> None:
        spec = job.job.pod_specs[0]
        run_spec = to_run_spec(spec)
        if isinstance(run_spec, str):
            self._fail(job, run, run_spec, None, Cause.Error, "")
            return

        def started() -> None:
            run.state, run.started_ns = RunState.RUN_STATE_RUNNING, self.clock.now_ns()
            self.move(job, JobState.RUNNING, "running", node_name=self.node, pool=POOL, **self._pod_fields(job, run))

        def keep(line: OutputLine) -> None:
            if len(job.logs) < MAX_LOG_LINES:  # a runaway job cannot eat the emulator's memory
                job.logs.append(line)

        result = await self.runner.run(run_spec, on_line=keep, on_start=started)
        self._finish(job, run, result, run_spec.timeout_s)

    def _finish(self, job: JobRecord, run: RunRecord, result: RunResult, deadline_s: float | None) -> None:
        stderr_tail = next((line.text for line in reversed(job.logs) if line.stream == "stderr"), "")
        if result.start_error is not None:
            self._fail(job, run, result.start_error, None, Cause.Error, stderr_tail)
        elif result.timed_out:
            limit = deadline_s if deadline_s is not None else self.runner.default_timeout_s
            source = "activeDeadlineSeconds" if deadline_s is not None else "the emulator's --max-job-seconds"
            reason = f"job exceeded its deadline of {limit:g} s ({source}) and was killed"
            self._fail(job, run, reason, result.exit_code, Cause.DeadlineExceeded, stderr_tail)
        elif result.exit_code == 0:
            run.state, run.finished_ns = RunState.RUN_STATE_SUCCEEDED, self.clock.now_ns()
            self.move(job, JobState.SUCCEEDED, "succeeded", node_name=self.node, **self._pod_fields(job, run))
        else:
            code = result.exit_code if result.exit_code is not None else -1
            if code < 0:
                reason = f"process was killed by signal {-code} ({signal.Signals(-code).name})"
            else:
                reason = f"process exited with code {code}"
            self._fail(job, run, reason, code, Cause.Error, stderr_tail)

    def _fail(
        self, job: JobRecord, run: RunRecord, reason: str, exit_code: int | None, cause: Cause, message: str
    ) -> None:
        run.state, run.finished_ns = RunState.RUN_STATE_FAILED, self.clock.now_ns()
        job.error = reason
        name = container_name(job.job.pod_specs[0])
        code = exit_code if exit_code is None or exit_code >= 0 else 128 - exit_code
        status = event_pb2.ContainerStatus(
            name=name, exitCode=code or 0, message=message or reason, reason="Error", cause=cause
        )
        self.move(
            job,
            JobState.FAILED,
            "failed",
            reason=reason,
            exit_codes={name: code} if code is not None else {},
            container_statuses=[status],
            cause=cause,
            node_name=self.node,
            **self._pod_fields(job, run),
        )

    # -- stopping on request ------------------------------------------------------------------------------------

    async def _halt(self, job: JobRecord) -> None:
        task = job.task
        if task is not None and not task.done():
            task.cancel()
            await asyncio.wait([task])

    async def cancel(self, job: JobRecord, reason: str) -> bool:
        """Cancel a live job (events cancelling, cancelled); False if it had already ended."""
        if job.terminal or job.stopping:
            return False
        job.stopping = True
        self.emit(job, "cancelling", requestor=REQUESTOR, reason=reason)
        await self._halt(job)
        now = self.clock.now_ns()
        job.cancel_ns, job.cancel_reason, job.cancel_user = now, reason, REQUESTOR
        job.error = f"cancelled: {reason}" if reason else "cancelled"
        if (run := job.latest_run) is not None and run.finished_ns is None:
            run.state, run.finished_ns = RunState.RUN_STATE_CANCELLED, now
        self.move(job, JobState.CANCELLED, "cancelled", requestor=REQUESTOR, reason=reason)
        return True

    async def preempt(self, job: JobRecord, reason: str) -> bool:
        """Preempt a live job (events preempting, preempted); False if it had already ended."""
        if job.terminal or job.stopping:
            return False
        job.stopping = True
        self.emit(job, "preempting", requestor=REQUESTOR, reason=reason)
        await self._halt(job)
        run = job.latest_run
        if run is not None and run.finished_ns is None:
            run.state, run.finished_ns = RunState.RUN_STATE_PREEMPTED, self.clock.now_ns()
        job.error = f"preempted: {reason}" if reason else "preempted"
        self.move(
            job,
            JobState.PREEMPTED,
            "preempted",
            cluster_id=CLUSTER_ID,
            run_id=run.run_id if run else "",
            reason=reason,
            requestor=REQUESTOR,
        )
        return True

    def reprioritize(self, job: JobRecord, priority: float) -> None:
        self.emit(job, "reprioritizing", new_priority=priority, requestor=REQUESTOR)
        job.job.priority = priority
        self.emit(job, "reprioritized", new_priority=priority, requestor=REQUESTOR)

    async def shutdown(self, jobs: list[JobRecord]) -> None:
        """Stop every job's driver (their processes are killed); no events."""
        await asyncio.gather(*(self._halt(job) for job in jobs))
        self.events.close()
