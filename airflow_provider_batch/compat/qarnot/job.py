"""`Job`, like the seed's `qarnot.job.Job`: a group of tasks (with `use_dependencies`, tasks may wait for each
other), with the properties issue 8 lists and the seed's cache (`auto_update`, `update_cache_time`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow_provider_batch.clients.qarnot.types import JobSpec, QarnotJob, parse_date
from airflow_provider_batch.compat.qarnot._cache import CachedObject
from airflow_provider_batch.compat.qarnot.pool import Pool
from airflow_provider_batch.compat.qarnot.task import Task

if TYPE_CHECKING:
    from airflow_provider_batch.compat.qarnot.connection import Connection

SUBMITTED = "can't set attribute on a submitted job"  # the seed's words
LAUNCHED = "can't set attribute on a launched job"


class Job(CachedObject):
    """name: the job's name; pool: a submitted `Pool` its tasks run in; shortname: a unique friendly id;
    use_dependencies: let its tasks depend on each other (`task.set_task_dependencies_from_tasks`). These, and
    max_wall_time, auto_delete and completion_ttl, may be set until `submit()`; after it their setters raise
    AttributeError, as the seed's do."""

    _kind = "job"

    def __init__(
        self,
        connection: Connection,
        name: str,
        pool: Pool | None = None,
        shortname: str | None = None,
        use_dependencies: bool = False,
    ) -> None:
        super().__init__()
        self._connection = connection
        self._name = name
        self._pool_uuid = pool.uuid if pool is not None else None
        self._shortname = shortname
        self._use_dependencies = use_dependencies
        self._state = "UnSubmitted"
        self._api: QarnotJob | None = None
        self._max_wall_time: timedelta | None = None
        self._auto_delete = False
        self._completion_ttl: timedelta | None = None
        self._tags: list[str] = []

    @classmethod
    def from_json(cls, connection: Connection, payload: dict[str, Any]) -> Job:
        """A Job from the API's JSON of one (`GET /jobs/{uuid}`, or a listing's item), as the seed's."""
        return cls._from_api(connection, QarnotJob.from_json(payload))

    @classmethod
    def _from_api(cls, connection: Connection, api: QarnotJob) -> Job:
        job = cls(connection, api.name, None, api.shortname or None, api.use_dependencies)
        job._uuid = api.uuid
        job._stored(api)
        return job

    def _fetch(self) -> QarnotJob:
        assert self._uuid is not None
        return self._connection._client.retrieve_job(self._uuid)

    def _apply(self, api: QarnotJob) -> None:
        self._api = api
        self._state = api.state
        self._name = api.name
        self._shortname = api.shortname or self._shortname
        self._pool_uuid = api.pool_uuid or None
        self._use_dependencies = api.use_dependencies
        self._max_wall_time = api.max_wall_time
        self._auto_delete = api.auto_delete
        self._completion_ttl = api.completion_ttl
        self._tags = list(api.tags)

    def submit(self) -> None:
        """Create the job; tasks created with `job=` this job can then be submitted."""
        if self._uuid is not None:
            raise ValueError(f"job {self._uuid} was already submitted")
        spec = JobSpec(
            self._name,
            self._shortname,
            self._pool_uuid,
            self._use_dependencies,
            self._max_wall_time,
            self._auto_delete,
            self._completion_ttl,
            list(self._tags),
        )
        api = self._connection._client.submit_job(spec)
        self._uuid = api.uuid
        self._stored(api)

    def terminate(self) -> None:
        """Cancel the job's tasks and end it."""
        self._connection._client.terminate_job(self._require_uuid())
        self.update(True)

    def delete(self, forceAbort: bool = False, *, forceall: bool | None = None) -> None:
        """Delete the job; forceAbort: abort its running tasks first (otherwise the API refuses with
        UnauthorizedException while some run); `forceall=` is the same, a name earlier versions used. `uuid` stays,
        as in the seed."""
        force = forceAbort if forceall is None else forceall
        self._connection._client.delete_job(self._require_uuid(), force)
        self._auto_update = False  # as the seed: `uuid` stays, the object is gone from the API

    @property
    def use_dependencies(self) -> bool:
        return self._use_dependencies

    @use_dependencies.setter
    def use_dependencies(self, value: bool) -> None:
        self._unsubmitted()
        self._use_dependencies = bool(value)

    def _unsubmitted(self, error: str = SUBMITTED) -> None:
        """The seed's rule: what a job is made of is set before submit; after, its setters raise AttributeError."""
        if self._uuid is not None:
            raise AttributeError(error)

    @property
    def name(self) -> str:
        return self._name

    @name.setter
    def name(self, value: str) -> None:
        self._unsubmitted()
        self._name = value

    @property
    def shortname(self) -> str | None:
        return self._shortname

    @shortname.setter
    def shortname(self, value: str | None) -> None:
        self._unsubmitted()
        self._shortname = value

    @property
    def pool(self) -> Pool | None:
        self._fresh()
        return self._connection.retrieve_pool(self._pool_uuid) if self._pool_uuid else None

    @pool.setter
    def pool(self, value: Pool | None) -> None:
        """A submitted Pool the job's tasks run in (set before submit)."""
        self._unsubmitted()
        self._pool_uuid = value.uuid if value is not None else None

    @property
    def max_wall_time(self) -> timedelta | None:
        """How long the job may last in all; a timedelta, or seconds (set before submit)."""
        return self._max_wall_time

    @max_wall_time.setter
    def max_wall_time(self, value: timedelta | float | None) -> None:
        self._unsubmitted()
        self._max_wall_time = value if value is None or isinstance(value, timedelta) else timedelta(seconds=value)

    @property
    def auto_delete(self) -> bool:
        """Delete the job once it is over (after `completion_ttl`); set before submit."""
        return self._auto_delete

    @auto_delete.setter
    def auto_delete(self, value: bool) -> None:
        self._unsubmitted(LAUNCHED)
        self._auto_delete = bool(value)

    @property
    def completion_ttl(self) -> timedelta | None:
        return self._completion_ttl

    @completion_ttl.setter
    def completion_ttl(self, value: timedelta | float | None) -> None:
        self._unsubmitted()
        self._completion_ttl = value if value is None or isinstance(value, timedelta) else timedelta(seconds=value)

    @property
    def tags(self) -> list[str]:
        return self._tags

    @tags.setter
    def tags(self, value: Sequence[str]) -> None:
        self._tags = list(value)

    @property
    def creation_date(self) -> datetime | None:
        self._fresh()
        return self._api.creation_date if self._api else None

    @property
    def state_transition_time(self) -> datetime | None:
        """When the job last changed state (from the API's `stateTransitionTime`)."""
        self._fresh()
        if self._api is None:
            return None
        return parse_date(self._api.raw.get("stateTransitionTime"))

    @property
    def previous_state(self) -> str | None:
        """The state before the current one (from the API's `previousState`)."""
        self._fresh()
        return self._api.raw.get("previousState") if self._api else None

    @property
    def previous_state_transition_time(self) -> datetime | None:
        self._fresh()
        return parse_date(self._api.raw.get("previousStateTransitionTime")) if self._api else None

    @property
    def tasks(self) -> list[Task]:
        """The job's tasks, fetched now."""

        return [Task._from_api(self._connection, t) for t in self._connection._client.job_tasks(self._require_uuid())]

    def __repr__(self) -> str:
        return f"Job({self._name!r}, uuid={self._uuid!r}, state={self._state!r})"
