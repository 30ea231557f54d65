"""The REST emulators' shared middleware: counting by route template, recording with the credential redacted,
token check, faults before and after the work."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestClient, TestServer

from airflow_provider_batch.emulators.auth import TokenAuth
from airflow_provider_batch.emulators.faults import FaultPlan
from airflow_provider_batch.emulators.rest import (
    MAX_JSON_DEPTH,
    MAX_RECORDED_BODY,
    BodyError,
    RequestLog,
    http_url,
    json_type,
    nesting,
    parse_json,
    rest_middleware,
    serve,
)
from airflow_provider_batch.emulators.stats import CallCounter

TOKEN = "s3cret-token"


async def client_for(
    faults: FaultPlan, max_body: int = 16 * 1024 * 1024
) -> tuple[TestClient, CallCounter, RequestLog, list[str]]:
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
        max_body=max_body,
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


def test_parse_json_refuses_what_is_not_a_plain_json_document() -> None:
    assert parse_json(b"") is None and parse_json(b"  ") is None
    assert parse_json(b'{"a": [1, {"b": null}]}') == {"a": [1, {"b": None}]}
    cases = {
        b"{": "not valid JSON",
        b'{"n": NaN}': "not valid JSON",
        b"[Infinity]": "not valid JSON",
        b"\xff\xfe": "not valid JSON",
        b"1" * 5000: "not valid JSON",  # longer than Python converts to an int
        b"[" * 50_000 + b"]" * 50_000: f"deeper than {MAX_JSON_DEPTH} levels",  # json.loads: RecursionError
        b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1): f"deeper than {MAX_JSON_DEPTH} levels",
    }
    for raw, words in cases.items():
        with pytest.raises(BodyError) as caught:
            parse_json(raw)
        assert caught.value.status == 400 and words in caught.value.message, raw[:20]
    at_the_limit = b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH
    assert nesting(parse_json(at_the_limit)) == MAX_JSON_DEPTH


def test_nesting_and_json_type() -> None:
    assert nesting(1) == 0 and nesting([]) == 1 and nesting({"a": [[], {"b": 1}]}) == 3
    assert [json_type(v) for v in ({}, [], "s", 1, 1.5, True, None)] == [
        "an object", "an array", "a string", "a number", "a number", "a boolean", "null",
    ]  # fmt: skip


async def test_an_unauthorized_body_is_neither_read_nor_recorded() -> None:
    client, _, log, done = await client_for(FaultPlan())
    try:
        response = await client.post("/tasks/x", data=b"[" * 100_000, headers={"Authorization": "nope"})
        assert response.status == 401
    finally:
        await client.close()
    assert done == [] and log.snapshot()[0]["body"] is None


@pytest.mark.parametrize("chunked", [False, True])
async def test_a_body_over_max_body_is_refused_413_before_the_handler(chunked: bool) -> None:
    client, _, log, done = await client_for(FaultPlan(), max_body=1024)
    body = b'{"name": "' + b"x" * 2048 + b'"}'

    async def chunks() -> Any:
        yield body

    try:
        response = await client.post("/tasks/x", data=chunks() if chunked else body, headers={"Authorization": TOKEN})
        assert response.status == 413
        assert "larger than" in (await response.json())["error"]  # the default refusal
    finally:
        await client.close()
    assert done == [] and str(log.snapshot()[0]["body"]).startswith("<refused: ")


async def test_a_malformed_json_body_is_refused_400_before_the_handler() -> None:
    client, _, _, done = await client_for(FaultPlan())
    try:
        headers = {"Authorization": TOKEN, "Content-Type": "application/json"}
        response = await client.post("/tasks/x", data=b'{"name": ', headers=headers)
        assert response.status == 400
        assert "not valid JSON" in (await response.json())["error"]
    finally:
        await client.close()
    assert done == []


async def test_a_large_body_is_recorded_by_its_size_only() -> None:
    client, _, log, done = await client_for(FaultPlan())
    try:
        name = "x" * MAX_RECORDED_BODY
        response = await client.post("/tasks/x", json={"name": name}, headers={"Authorization": TOKEN})
        assert response.status == 201
    finally:
        await client.close()
    assert done == [name]
    assert log.snapshot()[0]["body"] == f"<{MAX_RECORDED_BODY + 12} bytes, not recorded>"
