"""Pools: creation (they open in two steps), close (their tasks are aborted) and delete."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from airflow_provider_batch.emulators.qarnot.errors import bad_request, forbidden, not_found
from airflow_provider_batch.emulators.qarnot.profiles import PROFILES
from airflow_provider_batch.emulators.qarnot.records import (
    CANCELLED,
    FULLY_DISPATCHED,
    FULLY_EXECUTING,
    POOL_CLOSED,
    POOL_CLOSING,
    TASK_TERMINAL,
    PoolRecord,
)
from airflow_provider_batch.emulators.qarnot.store import Store, checked_body, parse_constants


class PoolOps(Store):
    def get_pool(self, pool_uuid: str) -> PoolRecord:
        pool = self.pools.get(pool_uuid)
        if pool is None:
            raise not_found(f"Pool {pool_uuid} not found.")
        return pool

    async def submit_pool(self, body: Any) -> PoolRecord:
        body = checked_body(body, "pool")
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
        self.check_shortname(self.pools.values(), body, "pool")
        constants = dict(PROFILES[profile])
        constants.update(parse_constants(body.get("constants"), "pool"))
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
