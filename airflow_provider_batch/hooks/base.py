"""What every backend's hook offers the operator base and the trigger.

A hook turns an Airflow connection into a client and answers in the common vocabulary (`JobRef`, `JobStatus`), so
the operator lifecycle and the trigger are written once for all schedulers.
"""

from __future__ import annotations

import asyncio
from abc import abstractmethod
from collections.abc import AsyncIterator, Mapping
from typing import Any

from airflow.sdk import BaseHook

from airflow_provider_batch.common.identity import JobIdentity
from airflow_provider_batch.common.jobref import JobRef
from airflow_provider_batch.common.states import JobStatus

TRUE_STRINGS = frozenset({"true", "1", "yes", "on"})
FALSE_STRINGS = frozenset({"false", "0", "no", "off", ""})


def as_bool(value: Any, field: str) -> bool:
    """Connection extras arrive as strings from env-var URIs ("false"); take those as well as real booleans."""
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    text = str(value).strip().lower()
    if text in TRUE_STRINGS:
        return True
    if text in FALSE_STRINGS:
        return False
    raise ValueError(f"connection field {field}: {value!r} is not a boolean (use true or false)")


def as_float(value: Any, field: str, default: float) -> float:
    if value in (None, ""):
        return default
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"connection field {field}: {value!r} is not a number") from None


class BatchHook(BaseHook):
    """The backend interface. Sync methods run on workers; `a*` methods run in the triggerer's event loop."""

    backend: str = ""

    def __init__(self, conn_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.conn_id = conn_id

    @classmethod
    def for_job(cls, conn_id: str, details: Mapping[str, str]) -> BatchHook:
        """The hook that reaches a job reference's scheduler: its connection, and any detail that says how to
        reach it (Armada's `channel`). Most backends need only the connection."""
        return cls(conn_id)

    # -- worker side -------------------------------------------------------------------------------------------

    @abstractmethod
    def submit_job(self, request: Any, identity: JobIdentity, generation: int) -> JobRef:
        """Submit once; `generation` salts the deduplication id (0 for a first submission)."""

    @abstractmethod
    def find_jobs(self, request: Any, identity: JobIdentity) -> list[tuple[JobRef, JobStatus]]:
        """Jobs an earlier try of this task instance submitted, newest first."""

    @abstractmethod
    def get_status(self, job: JobRef) -> JobStatus:
        """The job's state; on a failure, with the scheduler's reason."""

    @abstractmethod
    def cancel_job(self, job: JobRef, reason: str) -> None:
        """Ask the scheduler to stop the job (a finished job is left as it is)."""

    def read_logs(self, job: JobRef, cursor: str) -> tuple[list[str], str]:
        """Log lines after `cursor`, and the cursor to pass next time. Backends without logs return none."""
        return [], cursor

    def job_url(self, job: JobRef) -> str | None:
        """A page about the job in the scheduler's UI, if the connection says where that is."""
        return None

    def endpoint(self) -> str:
        """Where the connection points (a gRPC target or an API URL, never a credential), for messages."""
        return ""

    def job_ref(self, job_id: str, details: Mapping[str, str]) -> JobRef:
        return JobRef(self.backend, self.conn_id, job_id, dict(details))

    # -- triggerer side ----------------------------------------------------------------------------------------

    @abstractmethod
    async def aget_status(self, job: JobRef) -> JobStatus:
        """The asyncio form of get_status; never blocks the event loop."""

    async def aget_statuses(self, jobs: list[JobRef]) -> dict[str, JobStatus]:
        """States of many jobs at once, by job id. Backends override this with one batched call."""
        answers = await asyncio.gather(*(self.aget_status(job) for job in jobs))
        return {job.job_id: status for job, status in zip(jobs, answers, strict=True)}

    @abstractmethod
    async def acancel_job(self, job: JobRef, reason: str) -> None:
        """The asyncio form of cancel_job."""

    def stream_key(self, job: JobRef) -> str | None:
        """Jobs with the same key can be followed together on one stream of state changes (Armada: a job set);
        None when the backend has no such stream and its jobs are only polled."""
        return None

    def afollow(self, key: str, jobs: list[JobRef]) -> AsyncIterator[tuple[str, JobStatus]]:
        """(job id, new state) as the scheduler reports changes for the jobs of one stream key, until cancelled.

        The stream starts from the beginning, so the current state of each job comes first. Only called when
        `stream_key` gives a key."""
        raise NotImplementedError(f"{type(self).__name__} has no stream of state changes")

    async def aclose(self) -> None:
        """Release channels or sessions opened by the a* methods."""
