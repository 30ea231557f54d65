"""Snapshots of running tasks: periodic ones, instant ones and their status."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from airflow_provider_batch.emulators.qarnot.errors import bad_request, forbidden, not_found
from airflow_provider_batch.emulators.qarnot.payloads import api_date
from airflow_provider_batch.emulators.qarnot.records import TaskRecord, now_s
from airflow_provider_batch.emulators.qarnot.store import Store


class SnapshotOps(Store):
    def _snapshot_config(self, task: TaskRecord, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise bad_request("a snapshot configuration must be a JSON object")
        if task.terminal:
            raise forbidden(f"Task {task.uuid} is {task.state}: only a running task can be snapshotted.")
        bucket = body.get("bucket") or task.body.get("resultBucket")
        if not bucket:
            raise bad_request("bucket: the task has no result bucket; name the bucket to upload the snapshot to")
        config = {key: body.get(key) for key in ("whitelist", "blacklist", "bucket", "bucketPrefix")}
        # A snapshot without its own lists takes the task's snapshot lists (then, in the lifecycle, its results lists).
        config["whitelist"] = config["whitelist"] or task.body.get("snapshotWhitelist")
        config["blacklist"] = config["blacklist"] or task.body.get("snapshotBlacklist")
        return config

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
