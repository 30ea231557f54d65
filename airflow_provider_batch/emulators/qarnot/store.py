"""The Qarnot emulator's stores of tasks, jobs and pools, and what every kind of operation on them needs: quotas,
bucket checks, time spans, background work."""

from __future__ import annotations

import asyncio
import itertools
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from airflow_provider_batch.emulators.qarnot.errors import bad_request, conflict, not_found
from airflow_provider_batch.emulators.qarnot.lifecycle import TaskLifecycle
from airflow_provider_batch.emulators.qarnot.records import JobRecord, PoolRecord, TaskRecord, Tracked
from airflow_provider_batch.emulators.qarnot.storage import BucketSync, ResourceSpec


@dataclass(frozen=True)
class Limits:
    """Account quotas (0 = none): tasks, jobs and pools alive at once, and instance credits for all submissions."""

    max_tasks: int = 0
    max_jobs: int = 0
    max_pools: int = 0
    credits: int = 0


def parse_constants(items: Any, what: str) -> dict[str, str]:
    if items is None:
        return {}
    if not isinstance(items, list) or not all(isinstance(i, dict) and "key" in i for i in items):
        raise bad_request(f"{what}: constants must be a list of {{key, value}}")
    return {str(i["key"]): "" if i.get("value") is None else str(i["value"]) for i in items}


def check_tags(body: dict[str, Any], what: str) -> None:
    tags = body.get("tags")
    if tags is not None and (not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags)):
        raise bad_request(f"{what}: tags must be a list of strings")


def checked_body(body: Any, what: str) -> dict[str, Any]:
    """A task, job or pool submission: a JSON object with a non-empty name and a list of string tags."""
    if not isinstance(body, dict):
        raise bad_request(f"a {what} must be a JSON object")
    if not isinstance(body.get("name"), str) or not body["name"].strip():
        raise bad_request(f"name: a {what} needs a non-empty name")
    check_tags(body, what)
    return body


class Store:
    """Every task, job and pool, by uuid; the operations live in the mixins (task_ops, job_ops, pool_ops,
    snapshot_ops) that QarnotState puts together. Refusals are QarnotErrors with the real API's status."""

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

    @staticmethod
    def check_shortname(records: Iterable[Tracked], body: dict[str, Any], what: str) -> None:
        """A shortname is unique among the account's tasks (or jobs, or pools): 409 for one already taken."""
        shortname = body.get("shortname")
        if shortname and any(record.body.get("shortname") == shortname for record in records):
            raise conflict(f"A {what} with the shortname {shortname!r} already exists.")

    def get_task(self, task_uuid: str) -> TaskRecord:
        task = self.tasks.get(task_uuid)
        if task is None:
            raise not_found(f"Task {task_uuid} not found.")
        return task

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

    def _forget_task(self, task: TaskRecord) -> None:
        self.tasks.pop(task.uuid, None)
        for owner in (self.jobs.get(task.job_uuid or ""), self.pools.get(task.pool_uuid or "")):
            if owner is not None and task.uuid in owner.task_uuids:
                owner.task_uuids.remove(task.uuid)
        if task.folder is not None:
            shutil.rmtree(task.folder, ignore_errors=True)

    @staticmethod
    def wall_seconds(value: Any, field: str = "time span") -> float:
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
