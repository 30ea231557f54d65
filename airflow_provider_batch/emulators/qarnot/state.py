"""Every task, job and pool of the Qarnot emulator, and the operations the routes call; refusals are QarnotErrors
with the status and message the real API would give."""

from __future__ import annotations

import asyncio
import base64
import itertools
import shutil
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from airflow_provider_batch.emulators.qarnot.errors import (
    QarnotError,
    bad_request,
    forbidden,
    not_enough_credits,
    not_found,
)
from airflow_provider_batch.emulators.qarnot.filters import fields_of, matches
from airflow_provider_batch.emulators.qarnot.lifecycle import TaskLifecycle
from airflow_provider_batch.emulators.qarnot.payloads import api_date
from airflow_provider_batch.emulators.qarnot.profiles import PROFILES
from airflow_provider_batch.emulators.qarnot.ranges import MAX_INSTANCES, parse_ranges
from airflow_provider_batch.emulators.qarnot.records import (
    CANCELLED,
    FULLY_DISPATCHED,
    FULLY_EXECUTING,
    JOB_ACTIVE,
    JOB_COMPLETED,
    JOB_DELETING,
    JOB_TERMINATING,
    PENDING_CANCEL,
    PENDING_DELETE,
    POOL_CLOSED,
    POOL_CLOSING,
    TASK_TERMINAL,
    JobRecord,
    PoolRecord,
    TaskRecord,
    now_s,
)
from airflow_provider_batch.emulators.qarnot.storage import BucketSync, ResourceSpec

DEFAULT_PAGE = 50
MAX_PAGE = 1000
R = TypeVar("R", TaskRecord, JobRecord, PoolRecord)


@dataclass(frozen=True)
class Limits:
    """Account quotas (0 = none): tasks, jobs and pools alive at once, and instance credits for all submissions."""

    max_tasks: int = 0
    max_jobs: int = 0
    max_pools: int = 0
    credits: int = 0


def _constants(items: Any, what: str) -> dict[str, str]:
    if items is None:
        return {}
    if not isinstance(items, list) or not all(isinstance(i, dict) and "key" in i for i in items):
        raise bad_request(f"{what}: constants must be a list of {{key, value}}")
    return {str(i["key"]): "" if i.get("value") is None else str(i["value"]) for i in items}


def _tags(body: dict[str, Any], what: str) -> None:
    tags = body.get("tags")
    if tags is not None and (not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags)):
        raise bad_request(f"{what}: tags must be a list of strings")


class QarnotState:
    def __init__(
        self, lifecycle: TaskLifecycle, sync: Callable[[], BucketSync | None], limits: Limits | None = None
    ) -> None:
        self.lifecycle = lifecycle
        self.step_s = lifecycle.step_s
        self.limits = limits or Limits()
        self._sync = sync
        self._seq = itertools.count(1)
        self.tasks: dict[str, TaskRecord] = {}
        self.jobs: dict[str, JobRecord] = {}
        self.pools: dict[str, PoolRecord] = {}
        self.credits_used = 0
        self._background: set[asyncio.Task[None]] = set()

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # -- tasks ----------------------------------------------------------------------------------------------------

    def get_task(self, task_uuid: str) -> TaskRecord:
        task = self.tasks.get(task_uuid)
        if task is None:
            raise not_found(f"Task {task_uuid} not found.")
        return task

    def _instance_ids(self, body: dict[str, Any]) -> list[int]:
        ranges = body.get("advancedRanges")
        if ranges:
            try:
                return parse_ranges(str(ranges))
            except ValueError as err:
                raise bad_request(str(err)) from None
        count = body.get("instanceCount")
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise bad_request("instanceCount must be a positive integer (or give advancedRanges such as '0-3,7')")
        if count > MAX_INSTANCES:
            raise bad_request(f"instanceCount: more than {MAX_INSTANCES} instances")
        return list(range(count))

    def _check_buckets(self, body: dict[str, Any]) -> None:
        names = [ResourceSpec.from_json(entry).bucket for entry in body.get("advancedResourceBuckets") or []]
        names += [str(name) for name in body.get("resourceBuckets") or []]
        if body.get("resultBucket"):
            names.append(str(body["resultBucket"]))
        if not names:
            return
        sync = self._sync()
        if sync is None:
            raise bad_request("buckets are not available: the storage is switched off")
        for name in names:
            if not name:
                raise bad_request("advancedResourceBuckets: an entry has no bucketName")
            if not sync.exists(name):
                raise not_found(f"Bucket {name} not found.")

    def _validate_task(self, body: Any) -> tuple[list[int], dict[str, str], PoolRecord | None, JobRecord | None]:
        """Everything a submission is checked for before it exists (bucket checks excepted: they need S3)."""
        if not isinstance(body, dict):
            raise bad_request("a task must be a JSON object")
        if not isinstance(body.get("name"), str) or not body["name"].strip():
            raise bad_request("name: a task needs a non-empty name")
        _tags(body, "task")
        profile, pool_uuid, job_uuid = body.get("profile"), body.get("poolUuid"), body.get("jobUuid")
        job = pool = None
        if job_uuid:
            job = self.jobs.get(str(job_uuid))
            if job is None:
                raise bad_request(f"Job {job_uuid} not found.")
            if job.state != JOB_ACTIVE:
                raise bad_request(f"Job {job_uuid} is {job.state}: tasks can only be added to an Active job.")
            pool_uuid = pool_uuid or job.body.get("poolUuid")
        if pool_uuid:
            if profile:
                raise bad_request("a task runs either on a profile or in a pool, not both")
            pool = self.pools.get(str(pool_uuid))
            if pool is None:
                raise bad_request(f"Pool {pool_uuid} not found.")
            if not pool.is_open:
                raise bad_request(f"Pool {pool_uuid} is {pool.state}: tasks can only run in an open pool.")
        elif not profile:
            raise bad_request("profile: a task needs a profile (such as docker-batch) or a poolUuid")
        elif profile not in PROFILES:
            raise bad_request(f"Profile {profile} not found; available: {', '.join(PROFILES)}.")
        deps = body.get("dependencies") or {}
        if deps.get("dependsOn") or deps.get("advancedDependsOn"):
            if job is None or not job.use_dependencies:
                raise bad_request("dependencies: a task with dependencies must be in a job with useDependencies")
            for dependency in self._dependencies(body):
                if dependency[0] not in self.tasks:
                    raise bad_request(f"dependencies: task {dependency[0]} not found.")
        ids = self._instance_ids(body)
        self._wall_seconds(body.get("completionTimeToLive"), "completionTimeToLive")
        base = dict(PROFILES[profile]) if profile else dict(pool.constants) if pool is not None else {}
        base.update(_constants(body.get("constants"), "task"))
        return ids, base, pool, job

    def _check_quotas(self, instances: int) -> None:
        if self.limits.max_tasks and len(self.tasks) >= self.limits.max_tasks:
            raise forbidden(f"Maximum number of tasks reached ({self.limits.max_tasks}).")
        if self.limits.credits and self.credits_used + instances > self.limits.credits:
            left = self.limits.credits - self.credits_used
            raise not_enough_credits(f"Not enough credits: {instances} instances asked, {left} left.")

    async def submit_task(self, body: Any) -> TaskRecord:
        ids, constants, pool, job = self._validate_task(body)
        self._check_quotas(len(ids))
        await asyncio.to_thread(self._check_buckets, body)
        self.credits_used += len(ids)
        task = TaskRecord(
            uuid=str(uuid.uuid4()), seq=next(self._seq), body=dict(body), instance_ids=ids, constants=constants
        )
        if pool is not None:
            task.body["poolUuid"] = pool.uuid
            task.body["profile"] = None
            pool.task_uuids.append(task.uuid)
        if job is not None:
            job.task_uuids.append(task.uuid)
        self.tasks[task.uuid] = task
        self.lifecycle.start(task, self._gate)
        if task.body.get("autoDeleteOnCompletion"):
            self._spawn(self._auto_delete(task))
        return task

    async def _auto_delete(self, task: TaskRecord) -> None:
        """`autoDeleteOnCompletion`: the task is deleted `completionTimeToLive` after it ends."""
        ttl = self._wall_seconds(task.body.get("completionTimeToLive"))
        while not task.terminal:
            await asyncio.sleep(self.step_s)
        await asyncio.sleep(ttl)
        if self.tasks.get(task.uuid) is task:
            self._forget_task(task)

    async def submit_tasks(self, bodies: Sequence[Any]) -> list[dict[str, Any]]:
        """The bulk POST: one answer per body, in order (`statusCode`, `uuid`, `message`)."""
        answers = []
        for body in bodies:
            try:
                task = await self.submit_task(body)
            except QarnotError as err:
                answers.append({"statusCode": err.status, "uuid": None, "message": err.message})
            else:
                answers.append({"statusCode": 201, "uuid": task.uuid, "message": "Task created."})
        return answers

    @staticmethod
    def _dependencies(body: dict[str, Any]) -> list[tuple[str, list[str] | None]]:
        """(task uuid, final states that fulfil it, None = any) for each dependency of the task."""
        deps = body.get("dependencies") or {}
        found: list[tuple[str, list[str] | None]] = [(str(u), ["success"]) for u in deps.get("dependsOn") or []]
        for item in deps.get("advancedDependsOn") or []:
            condition = item.get("taskFinalStateCondition")
            found.append((str(item.get("taskUuid")), [str(c).lower() for c in condition] if condition else None))
        return found

    async def _gate(self, task: TaskRecord) -> str | None:
        """Wait for the pool to open and the dependencies to end; a message if the task cannot run."""
        if task.pool_uuid is not None:
            pool = self.pools.get(task.pool_uuid)
            while pool is not None and not pool.opened.is_set():
                if not pool.is_open:
                    return f"pool {pool.uuid} closed before the task could run"
                await asyncio.sleep(self.step_s)
        for dep_uuid, condition in self._dependencies(task.body):
            while True:
                dependency = self.tasks.get(dep_uuid)
                if dependency is None:
                    return f"dependency {dep_uuid} was deleted before it ended"
                if dependency.terminal:
                    break
                await asyncio.sleep(self.step_s)
            if condition is not None and dependency.state.lower() not in condition:
                return f"dependency {dep_uuid} ended {dependency.state}, not {' or '.join(condition)}"
        return None

    async def abort_task(self, task_uuid: str) -> None:
        task = self.get_task(task_uuid)
        if task.state in (PENDING_CANCEL, PENDING_DELETE):
            return
        if task.terminal:
            raise forbidden(f"Task {task_uuid} is {task.state}: only a running task can be aborted.")
        task.move(PENDING_CANCEL)
        self._spawn(self.lifecycle.cancel(task))

    def _forget_task(self, task: TaskRecord) -> None:
        self.tasks.pop(task.uuid, None)
        for owner in (self.jobs.get(task.job_uuid or ""), self.pools.get(task.pool_uuid or "")):
            if owner is not None and task.uuid in owner.task_uuids:
                owner.task_uuids.remove(task.uuid)
        if task.folder is not None:
            shutil.rmtree(task.folder, ignore_errors=True)

    async def delete_task(self, task_uuid: str) -> None:
        """A finished task goes at once; a live one is PendingDelete while it is stopped, then goes."""
        task = self.get_task(task_uuid)
        if task.terminal:
            self._forget_task(task)
            return
        if task.state == PENDING_DELETE:
            return
        task.move(PENDING_DELETE)

        async def stop_then_forget() -> None:
            await self.lifecycle.halt(task)
            await asyncio.sleep(self.step_s)
            self._forget_task(task)

        self._spawn(stop_then_forget())

    def update_task(self, task_uuid: str, body: Any) -> None:
        """PUT: the mutable fields (tags, labels, name, constants before it runs) take the new values."""
        task = self.get_task(task_uuid)
        if not isinstance(body, dict):
            raise bad_request("a task must be a JSON object")
        if task.terminal:
            raise forbidden(f"Task {task_uuid} is {task.state}: a finished task cannot be changed.")
        _tags(body, "task")
        for key in ("name", "tags", "labels", "snapshotWhitelist", "snapshotBlacklist"):
            if key in body:
                task.body[key] = body[key]
        if "constants" in body and task.state == "Submitted":
            task.constants.update(_constants(body["constants"], "task"))

    async def update_resources(self, task_uuid: str) -> None:
        """PATCH: copy the resource buckets again into the folders of running instances (additive)."""
        task = self.get_task(task_uuid)
        if task.terminal:
            raise forbidden(f"Task {task_uuid} is {task.state}: resources of a finished task cannot be updated.")
        sync = self._sync()
        if sync is None or task.folder is None:
            return
        specs = [ResourceSpec.from_json(e) for e in task.body.get("advancedResourceBuckets") or []]
        for instance in task.instances.values():
            if instance.state == "Executing":
                for spec in specs:
                    await asyncio.to_thread(sync.download, spec, f"{task.folder}/{instance.instance_id}")

    def output(self, task_uuid: str, stream: str, instance_id: str | None, fresh: bool) -> str:
        task = self.get_task(task_uuid)
        source: Any = task
        if instance_id is not None:
            try:
                source = task.instances[int(instance_id)]
            except (KeyError, ValueError):
                raise not_found(f"Instance {instance_id} of task {task_uuid} not found.") from None
        buffer = source.stdout if stream == "stdout" else source.stderr
        return str(buffer.fresh() if fresh else buffer.all())

    # -- snapshots ------------------------------------------------------------------------------------------------

    def _snapshot_config(self, task: TaskRecord, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise bad_request("a snapshot configuration must be a JSON object")
        if task.terminal:
            raise forbidden(f"Task {task.uuid} is {task.state}: only a running task can be snapshotted.")
        bucket = body.get("bucket") or task.body.get("resultBucket")
        if not bucket:
            raise bad_request("bucket: the task has no result bucket; name the bucket to upload the snapshot to")
        return {key: body.get(key) for key in ("whitelist", "blacklist", "bucket", "bucketPrefix")}

    async def periodic_snapshots(self, task_uuid: str, body: Any) -> None:
        """`POST /tasks/{uuid}/snapshot/periodic`: upload what running instances wrote every `interval` seconds."""
        task = self.get_task(task_uuid)
        interval = body.get("interval") if isinstance(body, dict) else None
        if isinstance(interval, bool) or not isinstance(interval, int) or interval < 1:
            raise bad_request("interval: periodic snapshots need a positive whole number of seconds")
        config = self._snapshot_config(task, body)
        if config["bucket"] and config["bucket"] != task.body.get("resultBucket"):
            await asyncio.to_thread(self._check_buckets, {"resultBucket": config["bucket"]})
        running = task.snapshot_interval > 0
        task.snapshot_interval, task.snapshot_config = interval, config
        if not running:
            self._spawn(self._every(task))

    async def _every(self, task: TaskRecord) -> None:
        while True:
            await asyncio.sleep(task.snapshot_interval)
            if task.terminal or self.tasks.get(task.uuid) is not task:
                return
            await self.lifecycle.snapshot(task, task.snapshot_config)

    async def instant_snapshot(self, task_uuid: str, body: Any) -> str:
        """`POST /tasks/{uuid}/snapshot`: one snapshot now; its id, for `GET /tasks/{uuid}/snapshot/{id}`."""
        task = self.get_task(task_uuid)
        config = self._snapshot_config(task, body)
        if config["bucket"] != task.body.get("resultBucket"):
            await asyncio.to_thread(self._check_buckets, {"resultBucket": config["bucket"]})
        now = api_date(now_s())
        record: dict[str, Any] = {
            "id": str(uuid.uuid4()),
            "taskUuid": task.uuid,
            "triggerDate": now,
            "lastUpdateDate": now,
            "snapshotConfig": config,
            "status": "Triggered",
            "sizeToUpload": None,
            "transferredSize": None,
        }
        task.snapshots[record["id"]] = record

        async def take() -> None:
            record["status"] = "InProgress"
            try:
                await self.lifecycle.snapshot(task, config)
            except Exception as err:
                record["status"], record["error"] = "Failure", str(err)
            else:
                record["status"] = "Success"
            record["lastUpdateDate"] = api_date(now_s())

        self._spawn(take())
        return str(record["id"])

    def snapshot_status(self, task_uuid: str, snapshot_id: str) -> dict[str, Any]:
        record = self.get_task(task_uuid).snapshots.get(snapshot_id)
        if record is None:
            raise not_found(f"Snapshot {snapshot_id} of task {task_uuid} not found.")
        return record

    # -- jobs -----------------------------------------------------------------------------------------------------

    def get_job(self, job_uuid: str) -> JobRecord:
        job = self.jobs.get(job_uuid)
        if job is None:
            raise not_found(f"Job {job_uuid} not found.")
        return job

    def submit_job(self, body: Any) -> JobRecord:
        if not isinstance(body, dict):
            raise bad_request("a job must be a JSON object")
        if not isinstance(body.get("name"), str) or not body["name"].strip():
            raise bad_request("name: a job needs a non-empty name")
        _tags(body, "job")
        pool_uuid = body.get("poolUuid")
        if pool_uuid and pool_uuid not in self.pools:
            raise bad_request(f"Pool {pool_uuid} not found.")
        wall = self._wall_seconds(body.get("maxWallTime"), "maxWallTime")
        if self.limits.max_jobs and len(self.jobs) >= self.limits.max_jobs:
            raise forbidden(f"Maximum number of jobs reached ({self.limits.max_jobs}).")
        job = JobRecord(uuid=str(uuid.uuid4()), seq=next(self._seq), body=dict(body))
        self.jobs[job.uuid] = job
        if wall:

            async def wall_clock() -> None:
                await asyncio.sleep(wall)
                await self.terminate_job(job.uuid)

            job.timer = asyncio.get_running_loop().create_task(wall_clock())
        return job

    @staticmethod
    def _wall_seconds(value: Any, field: str = "time span") -> float:
        """Seconds of a TimeSpan such as `maxWallTime` ("d.hh:mm:ss" or "hh:mm:ss"); 0 for none."""
        if value in (None, "", "00:00:00"):
            return 0.0
        text = str(value)
        head, _, clock = text.partition(":")
        days, _, hours = head.rpartition(".")
        try:
            minutes, seconds = (float(part) for part in clock.split(":"))
            return float(days or 0) * 86_400 + float(hours) * 3_600 + minutes * 60 + seconds
        except ValueError:
            raise bad_request(f"{field}: {text!r} is not a time span such as '1.02:00:00' or '00:30:00'") from None

    def job_tasks(self, job_uuid: str) -> list[TaskRecord]:
        return [self.tasks[u] for u in self.get_job(job_uuid).task_uuids if u in self.tasks]

    async def terminate_job(self, job_uuid: str) -> None:
        """Abort every live task of the job; it is Terminating until they are Cancelled, then Completed."""
        job = self.get_job(job_uuid)
        if job.state != JOB_ACTIVE:
            return
        job.move(JOB_TERMINATING)
        live = [task for task in self.job_tasks(job_uuid) if not task.terminal]
        for task in live:
            if task.state not in (PENDING_CANCEL, PENDING_DELETE):
                task.move(PENDING_CANCEL)

        async def finish() -> None:
            await asyncio.gather(*(self.lifecycle.cancel(task) for task in live if task.state == PENDING_CANCEL))
            if job.state == JOB_TERMINATING:
                job.move(JOB_COMPLETED)

        self._spawn(finish())

    async def delete_job(self, job_uuid: str, force: bool) -> None:
        job = self.get_job(job_uuid)
        live = [task for task in self.job_tasks(job_uuid) if not task.terminal]
        if live and not force:
            raise forbidden(f"Job {job_uuid} still has {len(live)} running task(s); delete it with force=true.")
        job.move(JOB_DELETING)
        if job.timer is not None:
            job.timer.cancel()
        for task in live:
            await self.lifecycle.halt(task)
            task.move(CANCELLED)
        for task in self.job_tasks(job_uuid):
            self._forget_task(task)
        self.jobs.pop(job_uuid, None)

    # -- pools ----------------------------------------------------------------------------------------------------

    def get_pool(self, pool_uuid: str) -> PoolRecord:
        pool = self.pools.get(pool_uuid)
        if pool is None:
            raise not_found(f"Pool {pool_uuid} not found.")
        return pool

    async def submit_pool(self, body: Any) -> PoolRecord:
        if not isinstance(body, dict):
            raise bad_request("a pool must be a JSON object")
        if not isinstance(body.get("name"), str) or not body["name"].strip():
            raise bad_request("name: a pool needs a non-empty name")
        _tags(body, "pool")
        profile = body.get("profile")
        if profile not in PROFILES:
            raise bad_request(f"Profile {profile} not found; available: {', '.join(PROFILES)}.")
        count = body.get("instanceCount")
        elastic = (body.get("elasticProperty") or {}).get("isElastic")
        if not elastic and (isinstance(count, bool) or not isinstance(count, int) or count < 1):
            raise bad_request("instanceCount: a pool needs a positive instance count (or an elastic setting)")
        if self.limits.max_pools and len(self.pools) >= self.limits.max_pools:
            raise forbidden(f"Maximum number of pools reached ({self.limits.max_pools}).")
        await asyncio.to_thread(self._check_buckets, {"advancedResourceBuckets": body.get("advancedResourceBuckets")})
        constants = dict(PROFILES[profile])
        constants.update(_constants(body.get("constants"), "pool"))
        pool = PoolRecord(uuid=str(uuid.uuid4()), seq=next(self._seq), body=dict(body), constants=constants)
        self.pools[pool.uuid] = pool

        async def open_pool() -> None:
            await asyncio.sleep(self.step_s)
            if pool.is_open:
                pool.move(FULLY_DISPATCHED)
            await asyncio.sleep(self.step_s)
            if pool.is_open:
                pool.move(FULLY_EXECUTING)
                pool.opened.set()

        pool.driver = asyncio.get_running_loop().create_task(open_pool())
        return pool

    def pool_running_tasks(self, pool: PoolRecord) -> int:
        return sum(1 for u in pool.task_uuids if u in self.tasks and not self.tasks[u].terminal)

    async def close_pool(self, pool_uuid: str) -> None:
        """Closing: the pool's live tasks are cancelled, then it is Closed."""
        pool = self.get_pool(pool_uuid)
        if not pool.is_open:
            if pool.state in (POOL_CLOSING, POOL_CLOSED):
                return
            raise forbidden(f"Pool {pool_uuid} is {pool.state}: only an open pool can be closed.")
        pool.move(POOL_CLOSING)
        if pool.driver is not None:
            pool.driver.cancel()
        live = [self.tasks[u] for u in pool.task_uuids if u in self.tasks and not self.tasks[u].terminal]

        async def finish() -> None:
            await asyncio.gather(*(self.lifecycle.cancel(task) for task in live if task.state not in TASK_TERMINAL))
            await asyncio.sleep(self.step_s)
            pool.move(POOL_CLOSED)

        self._spawn(finish())

    async def delete_pool(self, pool_uuid: str) -> None:
        pool = self.get_pool(pool_uuid)
        if pool.driver is not None:
            pool.driver.cancel()
        for task_uuid in list(pool.task_uuids):
            task = self.tasks.get(task_uuid)
            if task is not None and not task.terminal:
                await self.lifecycle.halt(task)
                task.move(CANCELLED)
        pool.move(POOL_CLOSED)
        self.pools.pop(pool_uuid, None)

    # -- listing --------------------------------------------------------------------------------------------------

    @staticmethod
    def _selected(
        records: Iterable[R],
        to_json: Callable[[R], dict[str, Any]],
        view: Callable[[R], dict[str, Any]] | None,
        node: Any,
    ) -> Iterator[tuple[R, dict[str, Any]]]:
        """The records passing the filter, in creation order, with their JSON. The filter is read on `view` (a
        summary, cheap) when that has every field the filter names, else on the full JSON."""
        wanted = fields_of(node)
        for record in sorted(records, key=lambda r: r.seq):
            cheap = view(record) if view is not None and node is not None else None
            if cheap is not None and wanted <= {key.lower() for key in cheap}:
                if matches(cheap, node):
                    yield record, to_json(record)
                continue
            item = to_json(record)
            if matches(item, node):
                yield record, item

    def page(
        self,
        records: Iterable[R],
        to_json: Callable[[R], dict[str, Any]],
        body: Any,
        view: Callable[[R], dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """Token paging in creation order: `{data, token, nextToken, isTruncated}` for `{filter, token,
        maximumResults}`; the token is opaque to clients (the last sequence number returned)."""
        body = body if isinstance(body, dict) else {}
        token = body.get("token")
        maximum = body.get("maximumResults") or DEFAULT_PAGE
        if isinstance(maximum, bool) or not isinstance(maximum, int) or maximum < 1:
            raise bad_request("maximumResults must be a positive integer")
        maximum = min(maximum, MAX_PAGE)
        after = 0
        if token:
            try:
                after = int(base64.urlsafe_b64decode(str(token).encode()).decode())
            except ValueError:
                raise bad_request(f"token {token!r} is not a token this API gave") from None
        later = (r for r in records if r.seq > after)
        data: list[dict[str, Any]] = []
        last = after
        for record, item in self._selected(later, to_json, view, body.get("filter")):
            if len(data) == maximum:
                next_token = base64.urlsafe_b64encode(str(last).encode()).decode()
                return {"data": data, "token": token, "nextToken": next_token, "isTruncated": True}
            data.append(item)
            last = record.seq
        return {"data": data, "token": token, "nextToken": None, "isTruncated": False}

    def search(
        self,
        records: Iterable[R],
        to_json: Callable[[R], dict[str, Any]],
        body: Any,
        view: Callable[[R], dict[str, Any]] | None = None,
    ) -> list[dict[str, Any]]:
        """`POST /{kind}/search`: `{filter, select, maximumResults}` -> the matching items (only `select` fields)."""
        body = body if isinstance(body, dict) else {}
        maximum = body.get("maximumResults")
        select = body.get("select")
        found = []
        for _, item in self._selected(records, to_json, view, body.get("filter")):
            found.append({k: v for k, v in item.items() if k in select} if select else item)
            if maximum and len(found) >= maximum:
                break
        return found

    # -- account --------------------------------------------------------------------------------------------------

    def running_tasks(self) -> int:
        return sum(1 for task in self.tasks.values() if not task.terminal)

    async def shutdown(self) -> None:
        for job in self.jobs.values():
            if job.timer is not None:
                job.timer.cancel()
        for pool in self.pools.values():
            if pool.driver is not None:
                pool.driver.cancel()
        for background in list(self._background):
            background.cancel()
        await asyncio.gather(*(self.lifecycle.halt(task) for task in self.tasks.values()), return_exceptions=True)
