"""`BatchJobTrigger`: waits in the triggerer for any backend's job to end, and says how it ended."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_batch.common.errors import is_transient
from airflow_provider_batch.common.jobref import JobRef
from airflow_provider_batch.common.retry import RetryPolicy
from airflow_provider_batch.common.states import JobState, JobStatus
from airflow_provider_batch.triggers import sources

# How a terminal state is reported in the event's `status`.
EVENT_STATUS = {
    JobState.SUCCEEDED: "success",
    JobState.FAILED: "failed",
    JobState.REJECTED: "failed",
    JobState.CANCELLED: "cancelled",
}
ERROR_RETRY = RetryPolicy(max_attempts=10, initial_backoff=1.0, max_backoff=60.0)


class BatchJobTrigger(BaseTrigger):
    """Asks for a job's state every `poll_interval` seconds until it is terminal, then fires one event.

    job: the job reference (`JobRef.to_json()`: backend, conn_id, job_id, details).
    deadline: epoch seconds after which it fires a "timeout" event (the operator then cancels the job).
    unknown_grace_period: seconds the scheduler may answer "unknown job" (e.g. Armada before ingestion) before
    the trigger gives up with an "error" event; counted from `submitted_at` (epoch seconds), or from the first
    unknown answer.

    The event payload is plain JSON: {status: success|failed|cancelled|error|timeout, job_id, state, native_state,
    message, job}. It never submits, may be run again from the start after a triggerer restart, and cancels the
    job only in `on_kill` (a user marked the task failed or success), never in `cleanup`.
    """

    def __init__(
        self,
        job: dict[str, Any],
        poll_interval: float = 10.0,
        deadline: float | None = None,
        unknown_grace_period: float = 300.0,
        submitted_at: float | None = None,
    ) -> None:
        super().__init__()
        self.job = JobRef.from_json(job).to_json()
        self.poll_interval = float(poll_interval)
        self.deadline = deadline
        self.unknown_grace_period = float(unknown_grace_period)
        self.submitted_at = submitted_at

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "job": self.job,
                "poll_interval": self.poll_interval,
                "deadline": self.deadline,
                "unknown_grace_period": self.unknown_grace_period,
                "submitted_at": self.submitted_at,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        job = JobRef.from_json(self.job)
        source = sources.open_source(job)
        try:
            event = await self._wait(job, source)
        finally:
            await source.close()
        yield TriggerEvent(event)

    async def _wait(self, job: JobRef, source: sources.StatusSource) -> dict[str, Any]:
        error_delays = ERROR_RETRY.delays()
        errors_in_a_row = 0
        unknown_since = self.submitted_at
        while True:
            if self.deadline is not None and time.time() >= self.deadline:
                return self._event(job, "timeout", None, "the task's timeout passed before the job ended")
            try:
                status = await source.status(job, self.poll_interval)
            except Exception as error:
                if not is_transient(error) or errors_in_a_row >= len(error_delays):
                    return self._event(job, "error", None, f"could not get the job's state: {error}")
                self.log.warning("status of job %s not available (%s); asking again", job.job_id, error)
                await asyncio.sleep(error_delays[errors_in_a_row])
                errors_in_a_row += 1
                continue
            errors_in_a_row = 0
            if status.state.is_terminal:
                return self._event(job, EVENT_STATUS[status.state], status, status.reason)
            if status.state is JobState.UNKNOWN:
                unknown_since = unknown_since or time.time()
                if time.time() - unknown_since > self.unknown_grace_period:
                    message = f"the scheduler has not known job {job.job_id} for {self.unknown_grace_period:.0f}s"
                    return self._event(job, "error", status, message)
            else:
                unknown_since = None
            self.log.debug("job %s is %s", job.job_id, status.native_state or status.state.value)
            await source.wait_for_change(job, status, self._next_sleep())

    def _next_sleep(self) -> float:
        if self.deadline is None:
            return self.poll_interval
        return max(0.0, min(self.poll_interval, self.deadline - time.time()))

    @staticmethod
    def _event(job: JobRef, status: str, job_status: JobStatus | None, message: str) -> dict[str, Any]:
        return {
            "status": status,
            "job_id": job.job_id,
            "state": job_status.state.value if job_status else None,
            "native_state": job_status.native_state if job_status else None,
            "message": message,
            "job": job.to_json(),
        }

    async def on_kill(self) -> None:
        """A user marked the deferred task failed or success, or cleared it: stop the job too."""
        job = JobRef.from_json(self.job)
        source = sources.open_source(job)
        try:
            await source.cancel(job, "the Airflow task was stopped by a user")
        finally:
            await source.close()
