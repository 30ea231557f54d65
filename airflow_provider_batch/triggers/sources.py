"""Where a trigger gets a job's state from: the "status source".

For now the source asks the backend's asyncio client through its hook, one job at a time; the job-service cache
(batched watching, embedded or standalone) plugs in behind the same interface.
"""

from __future__ import annotations

import importlib
from typing import Protocol

from airflow_provider_batch.common.jobref import JobRef
from airflow_provider_batch.common.states import JobStatus
from airflow_provider_batch.hooks.base import BatchHook

HOOKS = {
    "armada": "airflow_provider_batch.hooks.armada.ArmadaHook",
}


class StatusSource(Protocol):
    async def status(self, job: JobRef) -> JobStatus: ...

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


class DirectStatusSource:
    """Asks the scheduler directly through the backend hook's asyncio client."""

    def __init__(self, backend: str, conn_id: str) -> None:
        self._hook = hook_for(backend, conn_id)

    async def status(self, job: JobRef) -> JobStatus:
        return await self._hook.aget_status(job)

    async def cancel(self, job: JobRef, reason: str) -> None:
        await self._hook.acancel_job(job, reason)

    async def close(self) -> None:
        await self._hook.aclose()


def open_source(job: JobRef) -> StatusSource:
    return DirectStatusSource(job.backend, job.conn_id)
