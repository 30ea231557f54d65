"""`ArmadaJobCompleteTrigger`: the original deferrable operator's trigger, as a thin form of BatchJobTrigger.

With `job_service_channel_args` it asks that standalone job service with the original call,
`GetJobStatus(queue, job_set_id, job_id)`; without, it reads the embedded job-service cache like BatchJobTrigger.
Its events carry BatchJobTrigger's keys plus the original `job_state` (a JobState name) and `job_message`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import grpc
import grpc.aio
from airflow.triggers.base import TriggerEvent

from airflow_provider_batch.clients.jobservice import JobServiceAsyncIOClient, as_error
from airflow_provider_batch.clients.jobservice import JobState as SeedState
from airflow_provider_batch.common.errors import SchedulerError
from airflow_provider_batch.common.jobref import JobRef
from airflow_provider_batch.common.states import JobState, JobStatus
from airflow_provider_batch.hooks.armada_channel import acredentials
from airflow_provider_batch.hooks.armada_channel_args import ChannelSpec, parse_channel_args
from airflow_provider_batch.triggers import sources
from airflow_provider_batch.triggers.batch import BatchJobTrigger

# The job service's answer in the common vocabulary; CONNECTION_ERR is raised as a retryable error instead, so the
# trigger's bounded retry (BatchJobTrigger's ERROR_RETRY) decides, never an endless loop.
FROM_SEED = {
    SeedState.SUBMITTED: JobState.QUEUED,
    SeedState.DUPLICATE_FOUND: JobState.QUEUED,
    SeedState.RUNNING: JobState.RUNNING,
    SeedState.FAILED: JobState.FAILED,
    SeedState.SUCCEEDED: JobState.SUCCEEDED,
    SeedState.CANCELLED: JobState.CANCELLED,
    SeedState.JOB_ID_NOT_FOUND: JobState.UNKNOWN,
}
TO_SEED = {"success": SeedState.SUCCEEDED, "failed": SeedState.FAILED, "cancelled": SeedState.CANCELLED}


def seed_status(state: int, error: str) -> JobStatus:
    """A GetJobStatus answer as a JobStatus; CONNECTION_ERR raises a retryable SchedulerError."""
    seed = SeedState(state)
    if seed is SeedState.CONNECTION_ERR:
        raise SchedulerError("job service", "GetJobStatus", seed.name, error, retryable=True)
    return JobStatus(FROM_SEED[seed], seed.name, error)


class JobServiceChannelSource(sources.CachedStatusSource):
    """Asks a standalone job service reached through channel arguments; cancels through the job's hook."""

    def __init__(self, job: JobRef, spec: ChannelSpec) -> None:
        super().__init__(job.backend, job.conn_id)
        self._spec = spec
        self._channel: grpc.aio.Channel | None = None

    async def _client(self) -> JobServiceAsyncIOClient:
        if self._channel is None:
            credentials = await acredentials(self._spec.credentials)
            self._channel = self._spec.channel.aio_channel(credentials)
        return JobServiceAsyncIOClient(self._channel)

    async def status(self, job: JobRef, poll_interval: float) -> JobStatus:
        client = await self._client()
        try:
            answer = await client.get_job_status(job["queue"], job["job_set_id"], job.job_id)
        except grpc.RpcError as error:
            raise as_error(error, "GetJobStatus") from None
        return seed_status(answer.state, answer.error)

    async def wait_for_change(self, job: JobRef, previous: JobStatus, timeout: float) -> None:
        await asyncio.sleep(timeout)

    async def close(self) -> None:
        if self._channel is not None:
            await self._channel.close()
            self._channel = None


class ArmadaJobCompleteTrigger(BatchJobTrigger):
    """Waits for one Armada job to end (the original operator's trigger).

    job_id, armada_queue, job_set_id: the job. airflow_task_name: its name in the event's message.
    job_service_channel_args: a standalone job service to ask (GrpcChannelArgsDict, no secret; None: the embedded
        cache). poll_interval: seconds between questions (30, as the original).
    job: the job reference (`JobRef.to_json()`) when the operator knows it (its connection, for cancelling);
        otherwise the job is an `armada` job of connection `armada_default`. deadline, unknown_grace_period,
        submitted_at: as on BatchJobTrigger.
    """

    def __init__(
        self,
        job_id: str,
        job_service_channel_args: dict[str, Any] | None = None,
        armada_queue: str = "",
        job_set_id: str = "",
        airflow_task_name: str = "",
        poll_interval: float = 30.0,
        job: dict[str, Any] | None = None,
        deadline: float | None = None,
        unknown_grace_period: float = 300.0,
        submitted_at: float | None = None,
    ) -> None:
        if job is None:
            job = JobRef(
                "armada", "armada_default", job_id, {"queue": armada_queue, "job_set_id": job_set_id}
            ).to_json()
        super().__init__(job, poll_interval, deadline, unknown_grace_period, submitted_at)
        self.job_id = job_id
        self.armada_queue = armada_queue
        self.job_set_id = job_set_id
        self.airflow_task_name = airflow_task_name
        spec = (
            parse_channel_args(job_service_channel_args, "job_service_channel_args")
            if job_service_channel_args
            else None
        )
        self.job_service_channel_args = spec.to_json() if spec else None

    def serialize(self) -> tuple[str, dict[str, Any]]:
        classpath, kwargs = super().serialize()
        return classpath, {
            **kwargs,
            "job_id": self.job_id,
            "job_service_channel_args": self.job_service_channel_args,
            "armada_queue": self.armada_queue,
            "job_set_id": self.job_set_id,
            "airflow_task_name": self.airflow_task_name,
        }

    async def run(self) -> AsyncIterator[TriggerEvent]:
        job = JobRef.from_json(self.job)
        if self.job_service_channel_args is not None:
            spec = ChannelSpec.from_json(self.job_service_channel_args)
            self.log.info("Waiting for Armada job %s; asking the job service at %s", job.job_id, spec.channel.target)
            source: sources.StatusSource = JobServiceChannelSource(job, spec)
        else:
            source = sources.open_source(job)
        try:
            event = await self._wait(job, source)
        finally:
            await source.close()
        yield TriggerEvent(self._with_seed_keys(event))

    def _with_seed_keys(self, event: dict[str, Any]) -> dict[str, Any]:
        """The original event's job_state and job_message, next to BatchJobTrigger's keys."""
        name, job_id = self.airflow_task_name, self.job_id
        state = TO_SEED.get(event["status"])
        if state is None:  # error or timeout: the job's end is not known
            state = (
                SeedState.JOB_ID_NOT_FOUND if event.get("state") == JobState.UNKNOWN.value else SeedState.CONNECTION_ERR
            )
        message = f"Armada {name}:{job_id} {state.name.lower()}"
        if event.get("message"):
            message += f": {event['message']}"
        return {**event, "job_state": state.name, "job_message": message}
