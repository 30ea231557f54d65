"""`BatchJobTrigger`: waits in the triggerer for any backend's job to end, and says how it ended."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_batch.common.jobref import JobRef
from airflow_provider_batch.common.states import JobStatus
from airflow_provider_batch.common.wait import STATUS_READ_ERRORS, Finish, WaitPolicy
from airflow_provider_batch.triggers.sources import StatusSource
from airflow_provider_batch.triggers.where import WhereToAsk, configured_jobservice, open_source


class BatchJobTrigger(BaseTrigger):
    """Asks for a job's state every `poll_interval` seconds until it is terminal, then fires one event.

    job: the job reference (`JobRef.to_json()`: backend, conn_id, job_id, details).
    deadline: epoch seconds after which it fires a "timeout" event (the operator then cancels the job).
    unknown_grace_period: seconds the scheduler may answer "unknown job" (e.g. Armada before ingestion) before
    the trigger gives up with an "error" event; counted from `submitted_at` (epoch seconds), or from the first
    unknown answer.
    cancel_with: other jobs of the same task (JobRef JSON), cancelled with this one in `on_kill`.
    where: where to ask (`WhereToAsk.to_json()`: this triggerer's cache, a job service, or the scheduler); when
    absent, the triggerer's `[batch] jobservice_conn_id` decides, as `WhereToAsk.default_for` does.

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
        where: dict[str, Any] | None = None,
        cancel_with: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__()
        self.job = JobRef.from_json(job).to_json()
        self.cancel_with = [JobRef.from_json(other).to_json() for other in cancel_with or []]
        self.where = WhereToAsk.from_json(where).to_json() if where else None
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
                "where": self.where,
                "cancel_with": self.cancel_with,
            },
        )

    def _where(self, job: JobRef) -> WhereToAsk:
        if self.where:
            return WhereToAsk.from_json(self.where)
        return WhereToAsk.default_for(job, configured_jobservice())

    async def run(self) -> AsyncIterator[TriggerEvent]:
        job = JobRef.from_json(self.job)
        where = self._where(job)
        self.log.info("Waiting for %s job %s; asking %s", job.backend, job.job_id, where.describe())
        source = open_source(where, job)
        try:
            event = await self._wait(job, source)
        finally:
            await source.close()
        yield TriggerEvent(self.final_event(event))

    def final_event(self, event: dict[str, Any]) -> dict[str, Any]:
        """The event as fired; a subclass may add keys (the original Armada trigger adds its own)."""
        return event

    async def _wait(self, job: JobRef, source: StatusSource) -> dict[str, Any]:
        """Ask until the wait policy (common/wait.py) says how the wait ended."""
        policy = WaitPolicy(self.poll_interval, self.deadline, self.unknown_grace_period, errors=STATUS_READ_ERRORS)
        state = policy.start(f"job {job.job_id}", self.submitted_at)
        while True:
            status: JobStatus | None = None
            try:
                status = await source.status(job, self.poll_interval)
            except Exception as error:
                state, decision = policy.after_error(state, error, time.time())
            else:
                state, decision = policy.after_status(state, status, time.time())
            if isinstance(decision, Finish):
                return self._event(job, decision.outcome, decision.status, decision.message)
            if decision.note:
                self.log.warning("%s; asking again in %.1fs", decision.note, decision.delay)
            if status is None:
                await asyncio.sleep(decision.delay)
            else:
                self.log.debug("job %s is %s", job.job_id, status.native_state or status.state.value)
                await source.wait_for_change(job, status, decision.delay)

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
        """A user marked the deferred task failed or success, or cleared it: stop the job too (and the jobs that
        share its task, `cancel_with`)."""
        for data in [self.job, *self.cancel_with]:
            job = JobRef.from_json(data)
            source = open_source(self._where(job), job)
            try:
                await source.cancel(job, "the Airflow task was stopped by a user")
            except Exception as error:  # the others are still cancelled
                self.log.error("Could not cancel %s job %s: %s", job.backend, job.job_id, error)
            finally:
                await source.close()
