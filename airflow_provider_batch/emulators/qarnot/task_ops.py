"""Submitting, gating, aborting, deleting and changing tasks, and reading their output."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from typing import Any

from airflow_provider_batch.emulators.qarnot.errors import (
    QarnotError,
    bad_request,
    forbidden,
    not_enough_credits,
    not_found,
)
from airflow_provider_batch.emulators.qarnot.profiles import PROFILES
from airflow_provider_batch.emulators.qarnot.ranges import MAX_INSTANCES, parse_ranges
from airflow_provider_batch.emulators.qarnot.records import (
    JOB_ACTIVE,
    PENDING_CANCEL,
    PENDING_DELETE,
    JobRecord,
    PoolRecord,
    TaskRecord,
)
from airflow_provider_batch.emulators.qarnot.storage import ResourceSpec
from airflow_provider_batch.emulators.qarnot.store import Store, check_tags, checked_body, parse_constants


class TaskOps(Store):
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

    def _validate_task(self, body: Any) -> tuple[list[int], dict[str, str], PoolRecord | None, JobRecord | None]:
        """Everything a submission is checked for before it exists (bucket checks excepted: they need S3)."""
        body = checked_body(body, "task")
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
        if not isinstance(deps, dict):
            raise bad_request("dependencies must be an object: {dependsOn: [uuid]} or {advancedDependsOn: [...]}")
        for key in ("advancedResourceBuckets", "resourceBuckets"):
            if not isinstance(body.get(key) or [], list):
                raise bad_request(f"{key} must be a list of buckets")
        if deps.get("dependsOn") or deps.get("advancedDependsOn"):
            if job is None or not job.use_dependencies:
                raise bad_request("dependencies: a task with dependencies must be in a job with useDependencies")
            for dependency in self._dependencies(body):
                if dependency[0] not in self.tasks:
                    raise bad_request(f"dependencies: task {dependency[0]} not found.")
        ids = self._instance_ids(body)
        self.wall_seconds(body.get("completionTimeToLive"), "completionTimeToLive")
        base = dict(PROFILES[profile]) if profile else dict(pool.constants) if pool is not None else {}
        base.update(parse_constants(body.get("constants"), "task"))
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
        self.check_shortname(self.tasks.values(), body, "task")
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
        ttl = self.wall_seconds(task.body.get("completionTimeToLive"))
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
        check_tags(body, "task")
        for key in ("name", "tags", "labels", "snapshotWhitelist", "snapshotBlacklist"):
            if key in body:
                task.body[key] = body[key]
        if "constants" in body and task.state == "Submitted":
            task.constants.update(parse_constants(body["constants"], "task"))

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
