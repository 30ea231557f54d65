"""What every backend's hook offers the operator base and the trigger.

A hook turns an Airflow connection into a client and answers in the common vocabulary (`JobRef`, `JobStatus`), so
the operator lifecycle and the trigger are written once for all schedulers. `BatchHook[RequestT]` is typed by what
its backend submits (`ArmadaHook` is a `BatchHook[ArmadaSubmission]`), as the Amazon provider types
`AwsBaseOperator[BatchClientHook]`; a backend operator is a `BatchJobOperator[ThatHook]`.

Which layer retries what
------------------------
A transient failure (UNAVAILABLE, a 429 or 5xx, a reset connection) is retried in ONE layer, never in two stacked:

- Status reads used while waiting (`get_status`, `aget_status`, `aget_statuses`, the Armada event stream that
  `afollow` reads) call their client WITHOUT the client's retry loop: one failed read raises at once, and the wait
  policy (common/wait.py, shared by the blocking wait and the trigger) decides when to ask again and when to give up.
  Retrying inside the hook as well would multiply the attempts (client x cache x trigger) and hide an outage for
  minutes.
- Everything else (submits, cancels, `find_jobs`, log reads, connection tests) keeps the client's retry policy:
  nothing else would retry them. Submits are also idempotent (common/submit.py), so a retried submit never
  makes a second job.
- A permanent refusal (a wrong token, an unknown queue: common/errors.py) is never retried by anyone.

The connection form
-------------------
A hook's `get_ui_field_behaviour` and `get_connection_form_widgets` (Airflow < 3.2) come from the same entry of the
backend table (backends.py) that feeds `get_provider_info`'s conn-fields (3.2+): one description of each field.
"""

from __future__ import annotations

import asyncio
from abc import abstractmethod
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any, Generic, TypeVar

from airflow.sdk import BaseHook

from airflow_provider_batch.common.errors import ConnectionSettingsError
from airflow_provider_batch.common.identity import JobIdentity
from airflow_provider_batch.common.jobref import JobRef
from airflow_provider_batch.common.states import JobStatus
from airflow_provider_batch.hooks.forms import connection_form_widgets, ui_field_behaviour

RequestT = TypeVar("RequestT")
SettingsT = TypeVar("SettingsT")

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


class BatchHook(BaseHook, Generic[RequestT]):
    """The backend interface, typed by the request its backend submits. Sync methods run on workers; `a*` methods
    run in the triggerer's event loop. `backend` names the hook's entry in the backend table (backends.py)."""

    backend: str = ""
    conn_type: str = ""
    # How many batched status reads (`aget_statuses`) the cache makes per poll interval for jobs not followed on a
    # stream. A job's end reaches its trigger on average interval / (2 x this) after it happens; each read costs a
    # handful of calls whatever the number of jobs, so a backend with no stream of its own may read more than once.
    sweeps_per_interval: int = 1

    def __init__(self, conn_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.conn_id = conn_id

    def read_connection(self, read: Callable[[Any], SettingsT], conn_id: str | None = None) -> SettingsT:
        """`read(connection)` for the hook's connection (or `conn_id`'s); a field or extra it cannot use becomes a
        ConnectionSettingsError naming the connection (the operator fails the task at once: a retry cannot help)."""
        conn_id = conn_id or self.conn_id
        connection = self.get_connection(conn_id)
        try:
            return read(connection)
        except ConnectionSettingsError:
            raise
        except (ValueError, TypeError) as error:
            raise ConnectionSettingsError(conn_id, str(error)) from None

    @classmethod
    def for_job(cls, conn_id: str, details: Mapping[str, str]) -> BatchHook[RequestT]:
        """The hook that reaches a job reference's scheduler: its connection, and any detail that says how to
        reach it (Armada's `channel`). Most backends need only the connection."""
        return cls(conn_id)

    # -- worker side -------------------------------------------------------------------------------------------

    @abstractmethod
    def submit_job(self, request: RequestT, identity: JobIdentity, generation: int) -> JobRef:
        """Submit once; `generation` salts the deduplication id (0 for a first submission)."""

    @abstractmethod
    def find_jobs(self, request: RequestT, identity: JobIdentity) -> list[tuple[JobRef, JobStatus]]:
        """Jobs an earlier try of this task instance submitted, newest first."""

    @abstractmethod
    def get_status(self, job: JobRef) -> JobStatus:
        """The job's state; on a failure, with the scheduler's reason. One try: a transient error is raised at once
        (the wait policy retries, see "Which layer retries what")."""

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
        """The asyncio form of get_status; never blocks the event loop. One try, as get_status."""

    async def aget_statuses(self, jobs: list[JobRef]) -> dict[str, JobStatus]:
        """States of many jobs at once, by job id. Backends override this with one batched call. One try, as
        get_status."""
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

    # -- the connection form on Airflow < 3.2 (3.2+ reads conn-fields from get_provider_info) ------------------

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        return ui_field_behaviour(cls.conn_type)

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        return connection_form_widgets(cls.conn_type)
