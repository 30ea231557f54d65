"""Where a trigger gets a job's state from: the "status source".

By default the embedded job-service cache, shared by every trigger of the triggerer process, which asks the
scheduler about all watched jobs of a connection together; `DirectStatusSource` asks one job at a time.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from typing import Protocol

from airflow_provider_batch.common.jobref import JobRef
from airflow_provider_batch.common.limits import MAX_POLL_INTERVAL, MIN_POLL_INTERVAL, check_conn_id
from airflow_provider_batch.common.states import JobStatus
from airflow_provider_batch.hooks.base import BatchHook
from airflow_provider_batch.jobservice.boundary import REMOTE_BACKENDS, check_backend
from airflow_provider_batch.jobservice.cache import FOLLOW_MIN_JOBS, JobServiceCache, embedded_cache

log = logging.getLogger(__name__)

HOOKS = {
    "armada": "airflow_provider_batch.hooks.armada.ArmadaHook",
    "armada_channel": "airflow_provider_batch.hooks.armada_channel.ArmadaChannelHook",
    "qarnot": "airflow_provider_batch.hooks.qarnot.QarnotHook",
    "apolo": "airflow_provider_batch.hooks.apolo.ApoloHook",
}


class StatusSource(Protocol):
    async def status(self, job: JobRef, poll_interval: float) -> JobStatus: ...

    async def wait_for_change(self, job: JobRef, previous: JobStatus, timeout: float) -> None:
        """Return when the job's state may have moved on from `previous`, at the latest after `timeout`."""

    async def cancel(self, job: JobRef, reason: str) -> None: ...

    async def close(self) -> None: ...


def hook_for(backend: str, conn_id: str) -> BatchHook:
    """The backend's hook for a connection id (backends are named in job references: "armada", ...)."""
    try:
        path = HOOKS[backend]
    except KeyError:
        raise ValueError(f"backend {backend!r} is not one of {sorted(HOOKS)}") from None
    module, _, name = path.rpartition(".")
    hook_class: type[BatchHook] = getattr(importlib.import_module(module), name)
    return hook_class(conn_id)


def remote_hook_for(backend: str, conn_id: str) -> BatchHook:
    """`hook_for` as the standalone job service may use it: a backend it may serve remotely (never
    armada_channel, whose "connection id" is channel arguments) and a plain connection id."""
    return hook_for(check_backend(backend), check_conn_id(conn_id))


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
    return embedded_cache(hook_for, _event_stream_min_jobs)


class DirectStatusSource:
    """Asks the scheduler directly through the backend hook's asyncio client."""

    def __init__(self, backend: str, conn_id: str) -> None:
        self._hook = hook_for(backend, conn_id)

    async def status(self, job: JobRef, poll_interval: float) -> JobStatus:
        return await self._hook.aget_status(job)

    async def wait_for_change(self, job: JobRef, previous: JobStatus, timeout: float) -> None:
        await asyncio.sleep(timeout)

    async def cancel(self, job: JobRef, reason: str) -> None:
        await self._hook.acancel_job(job, reason)

    async def close(self) -> None:
        await self._hook.aclose()


class CachedStatusSource:
    """Reads states from the embedded cache of this event loop; cancels through the backend's hook."""

    def __init__(self, backend: str, conn_id: str) -> None:
        self._backend, self._conn_id = backend, conn_id

    async def status(self, job: JobRef, poll_interval: float) -> JobStatus:
        return await shared_cache().status(job, poll_interval)

    async def wait_for_change(self, job: JobRef, previous: JobStatus, timeout: float) -> None:
        await shared_cache().wait_for_change(job, previous, timeout)

    async def cancel(self, job: JobRef, reason: str) -> None:
        hook = hook_for(self._backend, self._conn_id)
        try:
            await hook.acancel_job(job, reason)
        finally:
            await hook.aclose()

    async def close(self) -> None:
        """The cache is shared: it forgets jobs nobody asks about by itself."""


class RemoteStatusSource(CachedStatusSource):
    """Asks a standalone job service (a `batch_jobservice` connection) instead of the embedded cache."""

    def __init__(self, backend: str, conn_id: str, jobservice_conn_id: str) -> None:
        super().__init__(backend, conn_id)
        from airflow_provider_batch.hooks.jobservice import JobServiceHook

        self._service = JobServiceHook(jobservice_conn_id)

    async def status(self, job: JobRef, poll_interval: float) -> JobStatus:
        client = await self._service.aget_client()
        # The service refuses intervals outside its bounds; a trigger's own (trusted) interval is brought inside.
        interval = min(max(poll_interval, MIN_POLL_INTERVAL), MAX_POLL_INTERVAL)
        answer = (await client.get_job_statuses([job], interval))[job.job_id]
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def wait_for_change(self, job: JobRef, previous: JobStatus, timeout: float) -> None:
        await asyncio.sleep(timeout)

    async def close(self) -> None:
        await self._service.aclose()


def open_source(job: JobRef) -> StatusSource:
    """The standalone job service when `[batch] jobservice_conn_id` names one, else the embedded cache.

    Jobs the service does not serve (armada_channel: channel arguments from the DAG author, trusted here but never
    sent over the wire) are watched by the embedded cache of this triggerer.
    """
    from airflow.sdk import conf

    jobservice_conn_id = conf.get("batch", "jobservice_conn_id", fallback="")
    if jobservice_conn_id and job.backend in REMOTE_BACKENDS:
        return RemoteStatusSource(job.backend, job.conn_id, jobservice_conn_id)
    if jobservice_conn_id:
        log.debug("%s jobs are watched in the triggerer, not by the job service", job.backend)
    return CachedStatusSource(job.backend, job.conn_id)
