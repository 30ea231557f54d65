"""The REST emulators' shared middleware: counting by route template, recording with the credential redacted,
token check, faults before and after the work."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestClient, TestServer

from airflow_provider_batch.emulators.auth import TokenAuth
from airflow_provider_batch.emulators.faults import FaultPlan
from airflow_provider_batch.emulators.rest import RequestLog, http_url, rest_middleware, serve
from airflow_provider_batch.emulators.stats import CallCounter

TOKEN = "s3cret-token"


async def client_for(faults: FaultPlan) -> tuple[TestClient, CallCounter, RequestLog, list[str]]:
    counter, log, done = CallCounter(), RequestLog(), []

    async def create(request: web.Request) -> web.Response:
        body = await request.json()
        done.append(body["name"])
        return web.json_response({"uuid": request.match_info["uuid"]}, status=201)

    middleware = rest_middleware(
        auth=TokenAuth(TOKEN, bare=True),
        counter=counter,
        faults=faults,
        requests=log,
        unauthorized=lambda request: web.json_response({"message": "Unauthorized"}, status=401),
        unavailable=lambda request: web.json_response({"message": "Service unavailable"}, status=503),
        public=("/settings",),
    )
    app = web.Application(middlewares=[middleware])
    app.router.add_post("/tasks/{uuid}", create)
    app.router.add_get("/settings", lambda request: web.json_response({"storage": "s3"}))  # type: ignore[arg-type,return-value]
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    return client, counter, log, done


async def test_counts_by_template_records_body_and_redacts_the_token() -> None:
    client, counter, log, done = await client_for(FaultPlan())
    try:
        for uuid in ("a", "b"):
            response = await client.post(f"/tasks/{uuid}", json={"name": uuid}, headers={"Authorization": TOKEN})
            assert response.status == 201
        assert (await client.get("/settings")).status == 200  # public: no token needed
    finally:
        await client.close()
    assert counter.snapshot() == {"GET /settings": 1, "POST /tasks/{uuid}": 2}
    recorded: list[dict[str, Any]] = log.snapshot()
    assert [item["path"] for item in recorded] == ["/tasks/a", "/tasks/b", "/settings"]
    assert recorded[0]["route"] == "/tasks/{uuid}" and recorded[0]["body"] == {"name": "a"}
    assert recorded[0]["headers"]["authorization"] == "<redacted>"
    assert TOKEN not in str(recorded)
    assert done == ["a", "b"]


async def test_wrong_token_is_refused_before_the_work() -> None:
    client, _, log, done = await client_for(FaultPlan())
    try:
        response = await client.post("/tasks/x", json={"name": "x"}, headers={"Authorization": "Bearer nope"})
        assert response.status == 401
        assert await response.json() == {"message": "Unauthorized"}
    finally:
        await client.close()
    assert done == []
    assert log.snapshot()[0]["headers"]["authorization"] == "Bearer <redacted>"


@pytest.mark.parametrize("seed", range(6))
async def test_faults_strike_before_or_after_the_work(seed: int) -> None:
    client, _, _, done = await client_for(FaultPlan(rate=1.0, seed=seed))
    try:
        response = await client.post("/tasks/x", json={"name": "x"}, headers={"Authorization": TOKEN})
        assert response.status == 503
    finally:
        await client.close()
    assert done in ([], ["x"])


async def test_serve_binds_a_free_port_and_refuses_a_busy_one() -> None:
    async def ping(request: web.Request) -> web.Response:
        return web.json_response({"pong": True})

    app = web.Application()
    app.router.add_get("/ping", ping)
    runner, port = await serve(app, "127.0.0.1", 0)
    try:
        assert port > 0 and http_url("127.0.0.1", port) == f"http://127.0.0.1:{port}"
        async with ClientSession() as session, session.get(f"http://127.0.0.1:{port}/ping") as response:
            assert await response.json() == {"pong": True}
        with pytest.raises(OSError):
            await serve(web.Application(), "127.0.0.1", port)
    finally:
        await runner.cleanup()
    assert http_url("::1", 8080) == "http://[::1]:8080"
