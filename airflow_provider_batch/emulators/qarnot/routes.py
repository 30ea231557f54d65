"""The REST routes of the Qarnot API that the `qarnot` SDK calls (paths from `qarnot.get_url`), on aiohttp."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from airflow_provider_batch.emulators.qarnot.errors import QarnotError, bad_request, error_response, not_found
from airflow_provider_batch.emulators.qarnot.listing import page, search
from airflow_provider_batch.emulators.qarnot.payloads import job_json, pool_json, pool_summary, task_json, task_summary
from airflow_provider_batch.emulators.qarnot.profiles import PROFILES, profile_json
from airflow_provider_batch.emulators.qarnot.state import QarnotState
from airflow_provider_batch.emulators.rest import BodyError, ExpectHandler, json_body, json_type

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Account:
    """Who the emulator's single user is, and where its storage is (None = switched off)."""

    def __init__(self, email: str) -> None:
        self.email = email
        self.storage_url: str | None = None


async def _body(request: web.Request, *kinds: type) -> Any:
    """The JSON body (None if empty); with `kinds`, a body of another type is refused with 400."""
    try:
        body = await json_body(request)
    except BodyError as err:
        raise QarnotError(err.status, err.message) from None
    if kinds and body is not None and not isinstance(body, kinds):
        names = " or ".join("a JSON object" if kind is dict else "a JSON array" for kind in kinds)
        route = f"{request.method} {request.path}"
        raise bad_request(f"the body of {route} must be {names}, not {json_type(body)}; see the Qarnot API")
    return body


def _text(text: str) -> web.Response:
    return web.Response(text=text, content_type="text/plain")


class QarnotRoutes:
    def __init__(self, state: QarnotState, account: Account) -> None:
        self.state = state
        self.account = account

    def install(self, app: web.Application, expect: ExpectHandler | None = None) -> None:
        """Add every route; `expect` answers `Expect: 100-continue` (aiohttp's default handler if None)."""
        add = app.router.add_route
        routes: list[tuple[str, str, Handler]] = [
            ("GET", "/settings", self.settings),
            ("GET", "/info", self.info),
            ("GET", "/profiles", self.profiles),
            ("GET", "/profiles/{name}", self.profile),
            ("GET", "/hardware-constraints", self.hardware_constraints),
            ("POST", "/tasks", self.submit_tasks),
            ("POST", "/tasks/paginate", self.tasks_page),
            ("POST", "/tasks/summaries/paginate", self.task_summaries_page),
            ("POST", "/tasks/search", self.tasks_search),
            ("GET", "/tasks/{uuid}", self.get_task),
            ("PUT", "/tasks/{uuid}", self.put_task),
            ("PATCH", "/tasks/{uuid}", self.patch_task),
            ("DELETE", "/tasks/{uuid}", self.delete_task),
            ("POST", "/tasks/{uuid}/abort", self.abort_task),
            ("POST", "/tasks/{uuid}/snapshot/periodic", self.periodic_snapshots),
            ("POST", "/tasks/{uuid}/snapshot", self.instant_snapshot),
            ("GET", "/tasks/{uuid}/snapshot/{id}", self.snapshot_status),
            ("GET", "/tasks/{uuid}/{stream:stdout|stderr}", self.output),
            ("POST", "/tasks/{uuid}/{stream:stdout|stderr}", self.output),
            ("GET", "/tasks/{uuid}/{stream:stdout|stderr}/{instance}", self.output),
            ("POST", "/tasks/{uuid}/{stream:stdout|stderr}/{instance}", self.output),
            ("POST", "/jobs/", self.submit_job),
            ("POST", "/jobs", self.submit_job),
            ("POST", "/jobs/paginate", self.jobs_page),
            ("POST", "/jobs/search", self.jobs_search),
            ("GET", "/jobs/{uuid}", self.get_job),
            ("DELETE", "/jobs/{uuid}", self.delete_job),
            ("POST", "/jobs/{uuid}/terminate", self.terminate_job),
            ("GET", "/jobs/{uuid}/tasks", self.job_tasks),
            ("POST", "/pools", self.submit_pool),
            ("POST", "/pools/paginate", self.pools_page),
            ("POST", "/pools/summaries/paginate", self.pool_summaries_page),
            ("POST", "/pools/search", self.pools_search),
            ("GET", "/pools/{uuid}", self.get_pool),
            ("PUT", "/pools/{uuid}", self.put_pool),
            ("PATCH", "/pools/{uuid}", self.patch_pool),
            ("DELETE", "/pools/{uuid}", self.delete_pool),
            ("POST", "/pools/{uuid}/close", self.close_pool),
            ("GET", "/pools/{uuid}/{stream:stdout|stderr}", self.pool_output),
            ("POST", "/pools/{uuid}/{stream:stdout|stderr}", self.pool_output),
        ]
        for method, path, handler in routes:
            add(method, path, self._guard(handler), expect_handler=expect)

    @staticmethod
    def _guard(handler: Handler) -> Handler:
        async def guarded(request: web.Request) -> web.StreamResponse:
            try:
                return await handler(request)
            except QarnotError as err:
                return error_response(err)

        return guarded

    # -- account ----------------------------------------------------------------------------------------------------

    async def settings(self, request: web.Request) -> web.Response:
        return web.json_response({"storage": self.account.storage_url})

    async def info(self, request: web.Request) -> web.Response:
        state, limits = self.state, self.state.limits
        return web.json_response(
            {
                "email": self.account.email,
                "maxBucket": 0,
                "bucketCount": -1,
                "quotaBytesBucket": 0,
                "usedQuotaBytesBucket": 0,
                "taskCount": len(state.tasks),
                "maxTask": limits.max_tasks,
                "runningTaskCount": state.running_tasks(),
                "maxRunningTask": limits.max_tasks,
                "maxJob": limits.max_jobs,
                "jobCount": len(state.jobs),
                "maxPool": limits.max_pools,
                "poolCount": len(state.pools),
                "maxRunningPool": limits.max_pools,
                "runningPoolCount": sum(1 for pool in state.pools.values() if pool.is_open),
                "maxInstances": state.lifecycle.runner.max_running,
                "maxFlexCores": state.lifecycle.runner.max_running,
                "runningInstanceCount": state.lifecycle.runner.running,
                "runningCoreCount": state.lifecycle.runner.running,
                "projects": [],
            }
        )

    async def profiles(self, request: web.Request) -> web.Response:
        return web.json_response(list(PROFILES))

    async def profile(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in PROFILES:
            raise not_found(f"Profile {name} not found.")
        return web.json_response(profile_json(name))

    async def hardware_constraints(self, request: web.Request) -> web.Response:
        offset = int(request.query.get("offset") or 0)
        limit = int(request.query.get("limit") or 50)
        return web.json_response({"data": [], "offset": offset, "limit": limit, "total": 0})

    # -- tasks ------------------------------------------------------------------------------------------------------

    async def submit_tasks(self, request: web.Request) -> web.Response:
        body = await _body(request)
        if isinstance(body, list):
            return web.json_response(await self.state.submit_tasks(body))
        task = await self.state.submit_task(body)
        return web.json_response({"uuid": task.uuid}, status=201)

    async def tasks_page(self, request: web.Request) -> web.Response:
        tasks = self.state.tasks.values()
        return web.json_response(page(tasks, task_json, await _body(request, dict), task_summary))

    async def task_summaries_page(self, request: web.Request) -> web.Response:
        return web.json_response(page(self.state.tasks.values(), task_summary, await _body(request, dict)))

    async def tasks_search(self, request: web.Request) -> web.Response:
        tasks = self.state.tasks.values()
        return web.json_response(search(tasks, task_json, await _body(request, dict), task_summary))

    async def get_task(self, request: web.Request) -> web.Response:
        return web.json_response(task_json(self.state.get_task(request.match_info["uuid"])))

    async def put_task(self, request: web.Request) -> web.Response:
        self.state.update_task(request.match_info["uuid"], await _body(request))
        return web.json_response({})

    async def patch_task(self, request: web.Request) -> web.Response:
        await self.state.update_resources(request.match_info["uuid"])
        return web.json_response({})

    async def delete_task(self, request: web.Request) -> web.Response:
        await self.state.delete_task(request.match_info["uuid"])
        return web.json_response({})

    async def abort_task(self, request: web.Request) -> web.Response:
        await self.state.abort_task(request.match_info["uuid"])
        return web.json_response({})

    async def periodic_snapshots(self, request: web.Request) -> web.Response:
        await self.state.periodic_snapshots(request.match_info["uuid"], await _body(request))
        return web.json_response({})

    async def instant_snapshot(self, request: web.Request) -> web.Response:
        snapshot_id = await self.state.instant_snapshot(request.match_info["uuid"], await _body(request))
        return web.json_response({"id": snapshot_id})

    async def snapshot_status(self, request: web.Request) -> web.Response:
        info = request.match_info
        return web.json_response(self.state.snapshot_status(info["uuid"], info["id"]))

    async def output(self, request: web.Request) -> web.Response:
        info = request.match_info
        fresh = request.method == "POST"
        return _text(self.state.output(info["uuid"], info["stream"], info.get("instance"), fresh))

    # -- jobs -------------------------------------------------------------------------------------------------------

    async def submit_job(self, request: web.Request) -> web.Response:
        job = self.state.submit_job(await _body(request))
        return web.json_response({"uuid": job.uuid}, status=201)

    async def jobs_page(self, request: web.Request) -> web.Response:
        return web.json_response(page(self.state.jobs.values(), job_json, await _body(request, dict)))

    async def jobs_search(self, request: web.Request) -> web.Response:
        return web.json_response(search(self.state.jobs.values(), job_json, await _body(request, dict)))

    async def get_job(self, request: web.Request) -> web.Response:
        return web.json_response(job_json(self.state.get_job(request.match_info["uuid"])))

    async def delete_job(self, request: web.Request) -> web.Response:
        force = request.query.get("force", "false").lower() in ("true", "1")
        await self.state.delete_job(request.match_info["uuid"], force)
        return web.json_response({})

    async def terminate_job(self, request: web.Request) -> web.Response:
        await self.state.terminate_job(request.match_info["uuid"])
        return web.json_response({})

    async def job_tasks(self, request: web.Request) -> web.Response:
        return web.json_response([task_summary(t) for t in self.state.job_tasks(request.match_info["uuid"])])

    # -- pools ------------------------------------------------------------------------------------------------------

    def _pool_json(self, pool: Any) -> dict[str, Any]:
        return pool_json(pool, self.state.pool_running_tasks(pool))

    async def submit_pool(self, request: web.Request) -> web.Response:
        pool = await self.state.submit_pool(await _body(request))
        return web.json_response({"uuid": pool.uuid}, status=201)

    async def pools_page(self, request: web.Request) -> web.Response:
        return web.json_response(page(self.state.pools.values(), self._pool_json, await _body(request, dict)))

    async def pool_summaries_page(self, request: web.Request) -> web.Response:
        return web.json_response(page(self.state.pools.values(), pool_summary, await _body(request, dict)))

    async def pools_search(self, request: web.Request) -> web.Response:
        return web.json_response(search(self.state.pools.values(), self._pool_json, await _body(request, dict)))

    async def get_pool(self, request: web.Request) -> web.Response:
        return web.json_response(self._pool_json(self.state.get_pool(request.match_info["uuid"])))

    async def put_pool(self, request: web.Request) -> web.Response:
        pool = self.state.get_pool(request.match_info["uuid"])
        body = await _body(request, dict)
        if isinstance(body, dict):
            for key in ("name", "tags", "labels", "elasticProperty", "scaling"):
                if key in body:
                    pool.body[key] = body[key]
        return web.json_response({})

    async def patch_pool(self, request: web.Request) -> web.Response:
        self.state.get_pool(request.match_info["uuid"])
        return web.json_response({})

    async def delete_pool(self, request: web.Request) -> web.Response:
        await self.state.delete_pool(request.match_info["uuid"])
        return web.json_response({})

    async def close_pool(self, request: web.Request) -> web.Response:
        await self.state.close_pool(request.match_info["uuid"])
        return web.json_response({})

    async def pool_output(self, request: web.Request) -> web.Response:
        pool = self.state.get_pool(request.match_info["uuid"])
        buffer = pool.stdout if request.match_info["stream"] == "stdout" else pool.stderr
        return _text(buffer.fresh() if request.method == "POST" else buffer.all())
