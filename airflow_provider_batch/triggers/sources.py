"""Status sources: what a trigger reads a job's state from, and cancels it through. `where.open_source` picks one.

- `CachedStatusSource`: the job-service cache embedded in this triggerer (one per event loop, shared by every
  trigger), which asks the scheduler about all watched jobs of a connection together.
- `RemoteStatusSource`: a standalone job service (`python -m airflow_provider_batch.jobservice serve`).
- `DirectStatusSource`: the scheduler itself, one call per job.

Each cancels through the job's own hook: a job service never cancels anything.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

import grpc

from airflow_provider_batch.backends import hook_for
from airflow_provider_batch.clients.jobservice import JobServiceAsyncIOClient, as_error
from airflow_provider_batch.common.errors import InvalidJobSpecError
from airflow_provider_batch.common.jobref import JobRef
from airflow_provider_batch.common.limits import MAX_POLL_INTERVAL, MIN_POLL_INTERVAL
from airflow_provider_batch.common.states import JobStatus
from airflow_provider_batch.hooks.armada_channel import acredentials
from airflow_provider_batch.hooks.armada_channel_args import ChannelSpec
from airflow_provider_batch.hooks.base import BatchHook
from airflow_provider_batch.hooks.jobservice import JobServiceHook
from airflow_provider_batch.jobservice.boundary import checked_job
from airflow_provider_batch.jobservice.cache import FOLLOW_MIN_JOBS, JobServiceCache, embedded_cache
from airflow_provider_batch.jobservice.states import from_wire


class StatusSource(Protocol):
    async def status(self, job: JobRef, poll_interval: float) -> JobStatus: ...

    async def wait_for_change(self, job: JobRef, previous: JobStatus, timeout: float) -> None:
        """Return when the job's state may have moved on from `previous`, at the latest after `timeout`."""

    async def cancel(self, job: JobRef, reason: str) -> None: ...

    async def close(self) -> None: ...


def remotely_servable(job: JobRef) -> bool:
    """Whether the standalone job service would accept this job reference (its trust boundary)."""
    try:
        checked_job(job.backend, job.conn_id, job.job_id, job.details)
    except InvalidJobSpecError:
        return False
    return True


def job_hook(job: JobRef) -> BatchHook:
    """The hook that reaches a job's scheduler (its backend, connection and channel detail)."""
    return hook_for(job.backend, job.conn_id, job.details)


async def connection_exists(conn_id: str) -> bool:
    """Whether Airflow knows this connection (environment, secrets backend or metadata database)."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        await BaseHook.aget_connection(conn_id)
    except AirflowNotFoundException:
        return False
    return True


def _event_stream_min_jobs() -> int:
    from airflow.sdk import conf

    return conf.getint("batch", "event_stream_min_jobs", fallback=FOLLOW_MIN_JOBS)


def shared_cache() -> JobServiceCache:
    """The cache every trigger of this triggerer's event loop shares."""
    return embedded_cache(job_hook, _event_stream_min_jobs)


async def _cancel(job: JobRef, reason: str) -> None:
    hook = job_hook(job)
    try:
        await hook.acancel_job(job, reason)
    finally:
        await hook.aclose()


class CachedStatusSource:
    """Reads states from the embedded cache of this event loop."""

    async def status(self, job: JobRef, poll_interval: float) -> JobStatus:
        return await shared_cache().status(job, poll_interval)

    async def wait_for_change(self, job: JobRef, previous: JobStatus, timeout: float) -> None:
        await shared_cache().wait_for_change(job, previous, timeout)

    async def cancel(self, job: JobRef, reason: str) -> None:
        await _cancel(job, reason)

    async def close(self) -> None:
        """The cache is shared: it forgets jobs nobody asks about by itself."""


class DirectStatusSource:
    """Asks the scheduler directly through the job's hook, one call per job."""

    def __init__(self, job: JobRef) -> None:
        self._hook = job_hook(job)

    async def status(self, job: JobRef, poll_interval: float) -> JobStatus:
        return await self._hook.aget_status(job)

    async def wait_for_change(self, job: JobRef, previous: JobStatus, timeout: float) -> None:
        await asyncio.sleep(timeout)

    async def cancel(self, job: JobRef, reason: str) -> None:
        await self._hook.acancel_job(job, reason)

    async def close(self) -> None:
        await self._hook.aclose()


class RemoteStatusSource:
    """Asks a standalone job service, reached through a `batch_jobservice` connection or channel arguments.

    A job the service may serve is asked about with `GetJobStatuses` (its backend, connection and job). An Armada
    job it may not (one reached through channel arguments, which never go over the wire) is asked about with the
    original job-service call, `GetJobStatus(queue, job_set_id, job_id)`, which the service answers through its own
    Armada connection, as the original job service did.
    """

    def __init__(self, conn_id: str = "", channel: ChannelSpec | None = None) -> None:
        self._conn_id, self._channel_spec = conn_id, channel
        self._channel: grpc.aio.Channel | None = None
        self._service_hook: JobServiceHook | None = None
        self._client: JobServiceAsyncIOClient | None = None

    async def _service(self) -> JobServiceAsyncIOClient:
        if self._client is None:
            if self._channel_spec is not None:
                credentials = await acredentials(self._channel_spec.credentials)
                self._channel = self._channel_spec.channel.aio_channel(credentials)
                self._client = JobServiceAsyncIOClient(self._channel)
            else:
                self._service_hook = JobServiceHook(self._conn_id)
                self._client = await self._service_hook.aget_client()
        return self._client

    async def status(self, job: JobRef, poll_interval: float) -> JobStatus:
        client = await self._service()
        if not remotely_servable(job) and {"queue", "job_set_id"} <= job.details.keys():
            try:
                answer = await client.get_job_status(job.details["queue"], job.details["job_set_id"], job.job_id)
            except grpc.RpcError as error:
                raise as_error(error, "GetJobStatus") from None
            return from_wire(answer.state, answer.error)
        # The service refuses intervals outside its bounds; a trigger's own (trusted) one is brought inside.
        interval = min(max(poll_interval, MIN_POLL_INTERVAL), MAX_POLL_INTERVAL)
        status = (await client.get_job_statuses([job], interval))[job.job_id]
        if isinstance(status, Exception):
            raise status
        return status

    async def wait_for_change(self, job: JobRef, previous: JobStatus, timeout: float) -> None:
        await asyncio.sleep(timeout)

    async def cancel(self, job: JobRef, reason: str) -> None:
        await _cancel(job, reason)

    async def close(self) -> None:
        if self._channel is not None:
            await self._channel.close()
            self._channel = None
        if self._service_hook is not None:
            await self._service_hook.aclose()
        self._client = None
