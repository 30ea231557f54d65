"""The Apolo emulator's HTTP and WebSocket surface, in process: error bodies, the log WebSocket's archive, separator
and debug lines, injected faults on request/reply and streamed routes, capacity."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import datetime, timezone
from typing import Any

import aiohttp
import pytest

from airflow_provider_batch.emulators.apolo import ApoloEmulator
from airflow_provider_batch.emulators.apolo.logs import LogOptions, epoch_ns
from airflow_provider_batch.emulators.base import CommonOptions
from airflow_provider_batch.emulators.faults import FaultPlan, StreamFault
from airflow_provider_batch.emulators.runner import OutputLine

BODY = {"project_name": "emulator-project", "preset_name": "cpu-small", "image": "ubuntu"}


@pytest.fixture
async def emulator() -> AsyncIterator[ApoloEmulator]:
    async with ApoloEmulator(CommonOptions(step_ms=2, max_running=1), minute_ms=200) as emu:
        yield emu


@pytest.fixture
async def http(emulator: ApoloEmulator) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {emulator.token}"}) as session:
        yield session


async def start(http: aiohttp.ClientSession, url: str, command: str, **extra: Any) -> dict[str, Any]:
    async with http.post(f"{url}/jobs?from_preset", json={**BODY, "command": command, **extra}) as response:
        assert response.status == 202, await response.text()
        job: dict[str, Any] = await response.json()
        return job


async def status(http: aiohttp.ClientSession, url: str, job_id: str) -> dict[str, Any]:
    async with http.get(f"{url}/jobs/{job_id}") as response:
        job: dict[str, Any] = await response.json()
        return job


async def wait_for(http: aiohttp.ClientSession, url: str, job_id: str, wanted: str) -> dict[str, Any]:
    for _ in range(2000):
        job = await status(http, url, job_id)
        if job["status"] == wanted:
            return job
        await asyncio.sleep(0.005)
    raise AssertionError(f"{job_id} never {wanted}")


async def read_log(http: aiohttp.ClientSession, url: str, job_id: str, query: str = "") -> bytes:
    data = b""
    async with http.ws_connect(f"{url}/jobs/{job_id}/log_ws{query}") as ws:
        async for message in ws:
            assert message.type is aiohttp.WSMsgType.BINARY
            data += message.data
    return data


async def test_error_bodies(emulator: ApoloEmulator, http: aiohttp.ClientSession) -> None:
    url = emulator.url
    async with aiohttp.ClientSession() as anonymous:
        async with anonymous.get(f"{url}/jobs/job-x") as response:
            assert (response.status, await response.text()) == (401, "401: Unauthorized")
            assert "X-Error" not in response.headers
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await anonymous.ws_connect(f"{url}/jobs/job-x/log_ws")
        assert refused.value.status == 401 and refused.value.headers["X-Error"] == "401: Unauthorized"
        async with anonymous.get(f"{url}/config") as response:
            assert "clusters" not in await response.json()
        async with anonymous.get(f"{url}/ping") as response:
            assert await response.text() == "Pong"
    async with http.get(f"{url}/config") as response:
        assert (await response.json())["authorized"] is True
    async with http.get(f"{url}/jobs/job-x") as response:
        assert (response.status, await response.json()) == (400, {"error": "no such job job-x"})
    async with http.post(f"{url}/jobs?from_preset", data=b"{not json") as response:
        assert response.status == 400 and "Expecting property name" in (await response.json())["error"]
    async with http.post(f"{url}/jobs?from_preset", json={**BODY, "project_name": "theirs"}) as response:
        assert response.status == 403 and (await response.json())["missing"][0]["action"] == "write"
    async with http.get(  # a WebSocket handshake refused: the body again in X-Error
        f"{url}/jobs/job-x/log_ws", headers={"Upgrade": "websocket", "Connection": "Upgrade"}
    ) as response:
        assert response.status == 400
        assert json.loads(response.headers["X-Error"]) == {"error": "no such job job-x"}


async def test_list_without_ndjson_is_one_document(emulator: ApoloEmulator, http: aiohttp.ClientSession) -> None:
    job = await start(http, emulator.url, "true", name="doc-list")
    async with http.get(f"{emulator.url}/jobs", params={"name": "doc-list"}) as response:
        assert response.content_type == "application/json"
        assert [item["id"] for item in (await response.json())["jobs"]] == [job["id"]]
    async with http.get(
        f"{emulator.url}/jobs", params={"name": "doc-list"}, headers={"Accept": "application/x-ndjson"}
    ) as response:
        assert response.content_type == "application/x-ndjson"
        assert [json.loads(line)["id"] for line in (await response.read()).splitlines()] == [job["id"]]
    async with http.get(f"{emulator.url}/jobs", params={"limit": "0"}) as response:
        assert (response.status, await response.json()) == (400, {"error": "limit should be > 0"})


async def test_log_ws_archive_separator_and_debug(emulator: ApoloEmulator, http: aiohttp.ClientSession) -> None:
    url = emulator.url
    job = await start(http, url, "sh -c 'echo run; sleep 1'", restart_policy="always")
    for _ in range(2000):  # the second run is running: the first run's line is "archived"
        current = await status(http, url, job["id"])
        if current["history"]["restarts"] >= 1 and current["status"] == "running":
            break
        await asyncio.sleep(0.005)
    reader = asyncio.ensure_future(read_log(http, url, job["id"], "?separator=SEP&debug=true"))
    await asyncio.sleep(0.1)
    async with http.delete(f"{url}/jobs/{job['id']}") as response:
        assert response.status == 204
    lines = (await asyncio.wait_for(reader, 10)).decode().splitlines()
    assert lines[0].startswith("~~~ Archive logs from None to ")
    live = next(i for i, line in enumerate(lines) if line.startswith("~~~ Live logs from None (started at "))
    assert live >= 2 and set(lines[1:live]) == {"run"}  # earlier runs' lines: the archive
    assert lines[live + 1 :] == ["SEP", "run"]  # the separator, then the current run's line
    async with http.get(
        f"{url}/jobs/{job['id']}/log_ws?timestamps=maybe", headers={"Upgrade": "websocket", "Connection": "Upgrade"}
    ) as response:
        assert response.status == 400 and "can be" in json.loads(response.headers["X-Error"])["error"]


async def test_capacity_counts_free_places(emulator: ApoloEmulator, http: aiohttp.ClientSession) -> None:
    async with http.get(f"{emulator.url}/jobs/capacity") as response:
        assert set((await response.json()).values()) == {1}
    job = await start(http, emulator.url, "sleep 30")
    await wait_for(http, emulator.url, job["id"], "running")
    async with http.get(f"{emulator.url}/jobs/capacity") as response:
        assert set((await response.json()).values()) == {0}
    async with http.post(f"{emulator.url}/jobs/job-x/kill") as response:
        assert response.status == 400
    async with http.delete(f"{emulator.url}/jobs/{job['id']}"):
        pass
    async with http.post(f"{emulator.url}/jobs/{job['id']}/kill") as response:
        assert response.status == 404 and "is not running" in (await response.json())["error"]


class StreamFaultAfter(FaultPlan):
    """Every stream breaks after `after` messages (0: the handshake is refused)."""

    def __init__(self, after: int) -> None:
        super().__init__()
        self.after = after

    def stream(self, method: str) -> StreamFault | None:
        return StreamFault(self.after)


async def test_a_faulted_log_stream_breaks_after_some_frames(
    emulator: ApoloEmulator, http: aiohttp.ClientSession
) -> None:
    url = emulator.url
    job = await start(http, url, "sh -c 'echo first; sleep 30'")
    await wait_for(http, url, job["id"], "running")
    await asyncio.sleep(0.1)
    emulator.monitoring.faults = StreamFaultAfter(1)
    received = []
    async with http.ws_connect(f"{url}/jobs/{job['id']}/log_ws") as ws:
        async for message in ws:
            received.append(message.data)
    assert (received, ws.close_code) == ([b"first\n"], 1011)  # the client must resume from its last line
    emulator.monitoring.faults = StreamFaultAfter(0)
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        async with http.ws_connect(f"{url}/jobs/{job['id']}/top"):
            pass
    assert refused.value.status == 503
    emulator.faults = StreamFaultAfter(1)  # the NDJSON list: one job, then platform-api's error line
    await start(http, url, "true")
    async with http.get(f"{url}/jobs", headers={"Accept": "application/x-ndjson"}) as response:
        lines = [json.loads(line) for line in (await response.read()).splitlines()]
    assert lines[0]["id"] == job["id"] and "fault injected" in lines[1]["error"] and len(lines) == 2
    async with http.delete(f"{url}/jobs/{job['id']}"):
        pass


async def test_request_faults_fail_whole_with_or_without_the_work() -> None:
    async with (
        ApoloEmulator(CommonOptions(step_ms=2, fault_rate=1.0, fault_seed=3)) as emulator,
        aiohttp.ClientSession(headers={"Authorization": f"Bearer {emulator.token}"}) as http,
    ):
        for _ in range(10):  # every call faulted: before the work (nothing done) or after it (the reply is lost)
            async with http.post(f"{emulator.url}/jobs?from_preset", json={**BODY, "command": "true"}) as response:
                assert (response.status, await response.text()) == (503, "503: Service Unavailable")
        assert 0 < len(emulator.state.jobs) < 10
        assert emulator.faults.injected.snapshot() == {"POST /api/v1/jobs": 10}


def test_since_is_inclusive_to_the_microsecond_and_timestamps_are_rfc3339_nano() -> None:
    at = datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=timezone.utc)
    ns = epoch_ns(at)
    lines = [
        OutputLine(ns - 1, "stdout", "before"),
        OutputLine(ns, "stdout", "at"),
        OutputLine(ns + 789, "stderr", "after"),
    ]
    options = LogOptions(since=at, timestamps=True, separator=b"SEP", debug=False)
    assert options.render(lines) == [b"2026-01-02T03:04:05.123456000Z at\n", b"2026-01-02T03:04:05.123456789Z after\n"]
    naive = LogOptions(since=at.replace(tzinfo=None), timestamps=False, separator=b"SEP", debug=False)
    assert naive.render(lines) == [b"at\n", b"after\n"]


async def test_stopping_closes_open_log_streams_at_once() -> None:
    emulator = ApoloEmulator(CommonOptions(step_ms=2))
    await emulator.start()
    try:
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {emulator.token}"}) as http:
            job = await start(http, emulator.url, "sleep 30")
            await wait_for(http, emulator.url, job["id"], "running")
            async with http.ws_connect(f"{emulator.url}/jobs/{job['id']}/log_ws") as ws:
                await asyncio.sleep(0.05)
                started = asyncio.get_running_loop().time()
                await emulator.stop()
                assert asyncio.get_running_loop().time() - started < 1.0
                message = await ws.receive()
                assert (message.type, message.data) == (aiohttp.WSMsgType.CLOSE, 1001)  # going away
    finally:
        await emulator.stop()


def test_command_line_flags() -> None:
    from airflow_provider_batch.emulators.cli import build_parser, options_from

    parser = build_parser()
    args = parser.parse_args(["--apolo-minute-ms", "100", "--apolo-suspend-ms", "5", "--apolo-secret", "k=v=w"])
    emulator = ApoloEmulator.from_arguments(args, options_from(args))
    lifecycle = emulator.state.lifecycle
    assert (lifecycle.minute_s, lifecycle.suspend_s, lifecycle.secrets) == (0.1, 0.005, {"k": "v=w"})
    with pytest.raises(SystemExit, match="--apolo-secret: expected KEY=VALUE"):
        ApoloEmulator.from_arguments(parser.parse_args(["--apolo-secret", "novalue"]), options_from(args))


async def test_the_chunked_log_route(emulator: ApoloEmulator, http: aiohttp.ClientSession) -> None:
    url = emulator.url
    job = await start(http, url, "sh -c 'echo one; echo two >&2'")
    await wait_for(http, url, job["id"], "succeeded")
    async with http.get(f"{url}/jobs/{job['id']}/log", params={"separator": "SEP"}) as response:
        assert response.headers["X-Separator"] == "SEP" and response.content_type == "text/plain"
        assert sorted((await response.read()).decode().splitlines()) == ["one", "two"]
    async with http.get(f"{url}/jobs/{job['id']}/log") as response:
        assert response.headers["X-Separator"].startswith("=== Live logs ===")
    running = await start(http, url, "sh -c 'echo first; sleep 30'")
    await wait_for(http, url, running["id"], "running")
    await asyncio.sleep(0.1)
    emulator.monitoring.faults = StreamFaultAfter(1)
    async with http.get(f"{url}/jobs/{running['id']}/log") as response:
        assert await response.content.readline() == b"first\n"
        with pytest.raises(aiohttp.ClientPayloadError):  # cut part-way: the body never completes
            await response.read()
    async with http.delete(f"{url}/jobs/{running['id']}"):
        pass
