"""`Task`, like the seed's `qarnot.task.Task`: build it (`conn.create_task(...)`), set `constants`, `resources`,
`results`, then `submit()` + `wait()` or `run()`; read `state`, `stdout()`, `download_results()`. Built on
`QarnotClient`: every call has a timeout and transient errors are retried; properties follow the seed's cache
(`auto_update`, `update_cache_time`, `update(flushcache)`)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_provider_batch.clients.qarnot.types import CompletedInstance, QarnotTask, TaskError, TaskSpec, TaskState
from airflow_provider_batch.compat.qarnot._cache import CachedObject
from airflow_provider_batch.compat.qarnot.bucket import Bucket
from airflow_provider_batch.compat.qarnot.pool import Pool
from airflow_provider_batch.compat.qarnot.snapshot import TaskSnapshots

if TYPE_CHECKING:
    from airflow_provider_batch.compat.qarnot.connection import Connection
    from airflow_provider_batch.compat.qarnot.job import Job

DEFAULT_WAIT_INTERVAL = 1.0
UNSUBMITTED = "UnSubmitted"


class Task(CachedObject, TaskSnapshots):
    """name: the task's name; profile_or_pool: a profile name (e.g. "docker-batch") or a submitted `Pool`;
    instancecount_or_range: a number of instances or ranges such as "0-3,7"; shortname: a unique friendly id;
    job: a submitted `Job` to attach the task to."""

    _kind = "task"

    wait_interval = DEFAULT_WAIT_INTERVAL  # seconds between polls in wait() (the seed sleeps up to 10 s)

    def __init__(
        self,
        connection: Connection,
        name: str,
        profile_or_pool: str | Pool | None = None,
        instancecount_or_range: int | str = 1,
        shortname: str | None = None,
        job: Job | None = None,
    ) -> None:
        super().__init__()
        if job is not None and isinstance(profile_or_pool, Pool):
            raise ValueError("Cannot attach a same task to pool and a job simultaneously")
        self._connection = connection
        self._name = name
        self._shortname = shortname
        self._profile = None if isinstance(profile_or_pool, Pool) else profile_or_pool
        self._pool_uuid = profile_or_pool.uuid if isinstance(profile_or_pool, Pool) else None
        self._job_uuid = job.uuid if job is not None else None
        self._instancecount = instancecount_or_range if isinstance(instancecount_or_range, int) else 0
        self._advanced_range = instancecount_or_range if isinstance(instancecount_or_range, str) else None
        self.constants: dict[str, str] = {}
        self.resources: list[Bucket] = []
        self.results: Bucket | None = None
        self._tags: list[str] = []
        self.labels: dict[str, str] = {}
        self._depends_on: list[str] = []
        self._snapshots: int | bool = False
        self._snapshot_whitelist: str | None = None
        self._snapshot_blacklist: str | None = None
        self._state = UNSUBMITTED
        self._api: QarnotTask | None = None

    @classmethod
    def _from_api(cls, connection: Connection, api: QarnotTask) -> Task:
        task = cls(connection, api.name, api.profile or None, api.instance_count or 1, api.shortname or None)
        task._uuid = api.uuid
        task._stored(api)
        return task

    # -- the cache ---------------------------------------------------------------------------------------------

    def _fetch(self) -> QarnotTask:
        assert self._uuid is not None
        return self._connection._client.retrieve_task(self._uuid)

    def _apply(self, api: QarnotTask) -> None:
        self._api = api
        self._state = api.state
        self._name = api.name
        self._shortname = api.shortname or self._shortname
        self._pool_uuid = api.pool_uuid or None
        self._job_uuid = api.job_uuid or None
        self._profile = api.profile or self._profile
        self.constants = dict(api.constants)
        self._tags = list(api.tags)
        self.labels = dict(api.labels)
        self.resources = [Bucket(self._connection, name, create=False) for name in api.resource_buckets]
        self.results = Bucket(self._connection, api.result_bucket, create=False) if api.result_bucket else None
        if api.advanced_ranges:
            self._advanced_range = api.advanced_ranges
        self._instancecount = api.instance_count
        self._snapshot_whitelist = api.raw.get("snapshotWhitelist")
        self._snapshot_blacklist = api.raw.get("snapshotBlacklist")

    # -- submitting ----------------------------------------------------------------------------------------------

    def _spec(self) -> TaskSpec:
        client = self._connection._client
        return client.create_task(
            self._name,
            self._profile,
            self._advanced_range if self._advanced_range else self._instancecount,
            pool_uuid=self._pool_uuid,
            job_uuid=self._job_uuid,
            constants={str(k): str(v) for k, v in self.constants.items()},
            tags=self._tags,
            shortname=self._shortname,
            resources=[bucket.uuid for bucket in self.resources],
            result_bucket=self.results.uuid if self.results is not None else None,
            labels=dict(self.labels),
            depends_on=list(self._depends_on),
            snapshot_whitelist=self._snapshot_whitelist,
            snapshot_blacklist=self._snapshot_blacklist,
        )

    def submit(self) -> None:
        """Send the task to the API; its uuid and state are then known. A task is submitted once."""
        if self._uuid is not None:
            raise ValueError(f"task {self._uuid} was already submitted")
        self._uuid = self._connection._client.submit_task(self._spec())
        if not isinstance(self._snapshots, bool):  # snapshot(interval) was asked for before submit
            self.snapshot(self._snapshots)
        self.update(True)

    def wait(self, timeout: float | None = None, **_: Any) -> bool:
        """Poll until the task ends or `timeout` seconds pass; True if it ended."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            self.update(True)
            if self._state in TaskState.TERMINAL:
                return True
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(self.wait_interval if deadline is None else min(self.wait_interval, deadline - time.monotonic()))

    def run(self, output_dir: str | None = None, job_timeout: float | None = None, **_: Any) -> None:
        """submit(), wait() (abort if it is still running after `job_timeout` s), then download the results into
        `output_dir` when given."""
        self.submit()
        finished = self.wait(timeout=job_timeout)
        if not finished:
            self.abort()
        if output_dir is not None:
            self.download_results(output_dir)

    def abort(self) -> None:
        self._connection._client.abort_task(self._require_uuid())
        self.update(True)

    def delete(self, purge_resources: bool = False, purge_results: bool = False) -> None:
        """Delete the task (the API cancels it if it runs), and its resource/result buckets when asked. As in the
        seed, `uuid` stays and auto_update is switched off (the object is gone from the API)."""
        self._auto_update = False
        if self._uuid is None:
            return
        self._connection._client.delete_task(self._uuid)
        if purge_resources:
            for bucket in self.resources:
                bucket.delete()
        if purge_results and self.results is not None:
            self.results.delete()

    def set_task_dependencies_from_tasks(self, tasks: Sequence[Task]) -> None:
        """Run only after these (submitted) tasks succeed; the job needs use_dependencies."""
        self._depends_on = [t.uuid for t in tasks if t.uuid]

    def set_task_dependencies_from_uuids(self, uuids: Sequence[str]) -> None:
        self._depends_on = list(uuids)

    # -- outputs -------------------------------------------------------------------------------------------------

    def download_results(self, output_dir: str, progress: Any = None) -> None:
        """Download the results bucket into `output_dir` (created if missing)."""
        self.update()
        Path(output_dir).mkdir(parents=True, exist_ok=True)
        if self.results is not None:
            self.results.get_all_files(output_dir)

    def stdout(self, instanceId: int | None = None) -> str:
        """The whole standard output so far (of one instance when given)."""
        return self._connection._client.stdout(self._require_uuid(), instanceId)

    def fresh_stdout(self, instanceId: int | None = None) -> str:
        """The standard output written since the last fresh_stdout() call."""
        return self._connection._client.fresh_stdout(self._require_uuid(), instanceId)

    def stderr(self, instanceId: int | None = None) -> str:
        return self._connection._client.stderr(self._require_uuid(), instanceId)

    def fresh_stderr(self, instanceId: int | None = None) -> str:
        return self._connection._client.fresh_stderr(self._require_uuid(), instanceId)

    # -- properties ----------------------------------------------------------------------------------------------

    @property
    def tags(self) -> list[str]:
        return self._tags

    @tags.setter
    def tags(self, value: Sequence[str]) -> None:
        self._tags = list(value)

    @property
    def profile(self) -> str | None:
        return self._profile

    @property
    def pool(self) -> Pool | None:
        """The pool the task runs in, if any."""
        self._fresh()
        return self._connection.retrieve_pool(self._pool_uuid) if self._pool_uuid else None

    @property
    def job(self) -> Job | None:
        """The job the task belongs to, if any."""
        self._fresh()
        return self._connection.retrieve_job(self._job_uuid) if self._job_uuid else None

    @property
    def instancecount(self) -> int:
        self._fresh()
        return self._instancecount

    @property
    def advanced_range(self) -> str | None:
        return self._advanced_range

    @property
    def creation_date(self) -> datetime | None:
        self._fresh()
        return self._api.creation_date if self._api else None

    @property
    def errors(self) -> list[TaskError]:
        self._fresh()
        return list(self._api.errors) if self._api else []

    @property
    def completed_instances(self) -> list[CompletedInstance]:
        self._fresh()
        return list(self._api.completed_instances) if self._api else []

    @property
    def snapshot_interval(self) -> int:
        """Seconds between periodic snapshots (0: none), as the API reports it."""
        self._fresh()
        return int(self._api.raw.get("snapshotInterval") or 0) if self._api else 0

    @property
    def previous_state(self) -> str | None:
        self._fresh()
        return self._api.previous_state if self._api else None

    def __repr__(self) -> str:
        return f"Task({self._name!r}, uuid={self._uuid!r}, state={self._state!r})"
