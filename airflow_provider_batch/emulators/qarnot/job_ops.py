"""Jobs: creation (with a wall-clock limit), their tasks, terminate and delete."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from airflow_provider_batch.emulators.qarnot.errors import bad_request, forbidden, not_found
from airflow_provider_batch.emulators.qarnot.records import (
    CANCELLED,
    JOB_ACTIVE,
    JOB_COMPLETED,
    JOB_DELETING,
    JOB_TERMINATING,
    PENDING_CANCEL,
    PENDING_DELETE,
    JobRecord,
    TaskRecord,
)
from airflow_provider_batch.emulators.qarnot.store import Store, checked_body


class JobOps(Store):
    def get_job(self, job_uuid: str) -> JobRecord:
        job = self.jobs.get(job_uuid)
        if job is None:
            raise not_found(f"Job {job_uuid} not found.")
        return job

    def submit_job(self, body: Any) -> JobRecord:
        body = checked_body(body, "job")
        pool_uuid = body.get("poolUuid")
        if pool_uuid and pool_uuid not in self.pools:
            raise bad_request(f"Pool {pool_uuid} not found.")
        wall = self.wall_seconds(body.get("maxWallTime"), "maxWallTime")
        if self.limits.max_jobs and len(self.jobs) >= self.limits.max_jobs:
            raise forbidden(f"Maximum number of jobs reached ({self.limits.max_jobs}).")
        self.check_shortname(self.jobs.values(), body, "job")
        job = JobRecord(uuid=str(uuid.uuid4()), seq=next(self._seq), body=dict(body))
        self.jobs[job.uuid] = job
        if wall:

            async def wall_clock() -> None:
                await asyncio.sleep(wall)
                await self.terminate_job(job.uuid)

            job.timer = asyncio.get_running_loop().create_task(wall_clock())
        return job

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
