"""The Qarnot emulator in-process (no storage): the task state machine, abort and delete, instance ranges and
errors from exit codes, the stdout cursors, jobs and pools, paging, and the error bodies and status codes."""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from airflow_provider_batch.emulators.qarnot import QarnotEmulator
from airflow_provider_batch.emulators.qarnot.state import Limits

TOKEN = "unit-token"
TERMINAL = ("Success", "Failure", "Cancelled")


class Api:
    def __init__(self, emulator: QarnotEmulator, session: aiohttp.ClientSession) -> None:
        self.emulator = emulator
        self.session = session

    async def call(self, method: str, path: str, body: Any = None, token: str = TOKEN) -> tuple[int, Any]:
        async with self.session.request(
            method, self.emulator.url + path, json=body, headers={"Authorization": token}
        ) as response:
            text = await response.text()
            if response.content_type == "application/json":
                return response.status, await response.json()
            return response.status, text

    async def submit(self, command: str, instances: int | str = 1, **fields: Any) -> str:
        body: dict[str, Any] = {
            "name": "t",
            "profile": "docker-batch",
            "constants": [{"key": "DOCKER_CMD", "value": command}],
        }
        body["advancedRanges" if isinstance(instances, str) else "instanceCount"] = instances
        body.update(fields)
        status, answer = await self.call("POST", "/tasks", body)
        assert status == 201, answer
        return str(answer["uuid"])

    async def wait(self, uuid: str, states: tuple[str, ...] = TERMINAL, timeout: float = 10.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            status, task = await self.call("GET", f"/tasks/{uuid}")
            assert status == 200, task
            if task["state"] in states:
                return dict(task)
            assert time.monotonic() < deadline, f"still {task['state']}"
            await asyncio.sleep(0.01)


@pytest.fixture
async def api() -> AsyncIterator[Api]:
    limits = Limits(max_tasks=50, max_jobs=3, max_pools=2, credits=200)
    emulator = QarnotEmulator(port=0, storage=False, limits=limits, token=TOKEN, step_ms=10)
    async with emulator, aiohttp.ClientSession() as session:
        yield Api(emulator, session)


async def test_state_machine_of_a_successful_task(api: Api) -> None:
    uuid = await api.submit("echo hello; echo oops >&2")
    task = await api.wait(uuid)
    history = api.emulator.state.tasks[uuid].history
    assert history == ["Submitted", "FullyDispatched", "FullyExecuting", "UploadingResults", "Success"]
    assert task["previousState"] == "UploadingResults" and task["progress"] == 100.0
    assert task["errors"] == [] and task["completedInstances"][0]["state"] == "Success"
    assert task["status"]["executionTimeByCpuModel"] and task["status"]["succeededRange"] == "0"
    assert task["creationDate"].endswith("Z") and task["endDate"] is not None
    assert {"key": "DOCKER_CMD", "value": "echo hello; echo oops >&2"} in task["constants"]
    assert {c["key"] for c in task["constants"]} >= {"DOCKER_REPO", "DOCKER_TAG"}  # profile defaults
    assert await api.call("GET", f"/tasks/{uuid}/stdout") == (200, "hello\n")
    assert await api.call("GET", f"/tasks/{uuid}/stderr/0") == (200, "oops\n")


async def test_ranges_exit_codes_and_signals(api: Api) -> None:
    uuid = await api.submit('[ "$INSTANCE_ID" = 2 ] && exit 4; [ "$INSTANCE_ID" = 7 ] && kill -9 $$; true', "1-2,7")
    task = await api.wait(uuid)
    assert task["state"] == "Failure" and task["advancedRanges"] == "1-2,7"
    assert {i["instanceId"]: i["state"] for i in task["completedInstances"]} == {
        1: "Success",
        2: "Failure",
        7: "Failure",
    }
    messages = sorted(error["message"] for error in task["errors"])
    assert messages == ["instance 2: exited with code 4", "instance 7: killed by signal 9 (SIGKILL)"]
    assert task["status"]["failedRange"] == "2,7" and task["status"]["succeededRange"] == "1"


async def test_empty_command_fails_with_a_clear_error(api: Api) -> None:
    task = await api.wait(await api.submit("  "))
    assert task["state"] == "Failure" and "DOCKER_CMD is empty" in task["errors"][0]["message"]


async def test_abort_and_delete(api: Api) -> None:
    uuid = await api.submit("sleep 30", 2)
    await api.wait(uuid, ("FullyExecuting",))
    assert api.emulator.runner.running == 2
    assert await api.call("POST", f"/tasks/{uuid}/abort") == (200, {})
    assert (await api.call("GET", f"/tasks/{uuid}"))[1]["state"] == "PendingCancel"
    task = await api.wait(uuid, ("Cancelled",))
    assert api.emulator.runner.running == 0
    assert api.emulator.state.tasks[uuid].history[-2:] == ["PendingCancel", "Cancelled"]
    assert {i["state"] for i in task["completedInstances"]} == {"Cancelled"}
    status, body = await api.call("POST", f"/tasks/{uuid}/abort")
    assert status == 403 and "only a running task" in body["message"]

    live = await api.submit("sleep 30")
    await api.wait(live, ("FullyExecuting",))
    assert await api.call("DELETE", f"/tasks/{live}") == (200, {})
    assert (await api.call("GET", f"/tasks/{live}"))[1]["state"] == "PendingDelete"
    deadline = time.monotonic() + 5
    while (await api.call("GET", f"/tasks/{live}"))[0] != 404:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.01)
    assert await api.call("DELETE", f"/tasks/{uuid}") == (200, {})  # a finished task goes at once
    assert (await api.call("GET", f"/tasks/{uuid}"))[0] == 404


async def test_fresh_output_per_task_and_per_instance(api: Api) -> None:
    uuid = await api.submit('echo "line $INSTANCE_ID"', 2)
    await api.wait(uuid)
    assert sorted((await api.call("POST", f"/tasks/{uuid}/stdout"))[1].splitlines()) == ["line 0", "line 1"]
    assert await api.call("POST", f"/tasks/{uuid}/stdout") == (200, "")
    assert await api.call("POST", f"/tasks/{uuid}/stdout/1") == (200, "line 1\n")  # its own cursor
    assert await api.call("POST", f"/tasks/{uuid}/stdout/1") == (200, "")
    status, body = await api.call("GET", f"/tasks/{uuid}/stdout/5")
    assert status == 404 and "Instance 5" in body["message"]


async def test_error_bodies_and_codes(api: Api) -> None:
    status, body = await api.call("GET", "/info", token="wrong")
    assert status == 401 and body["message"].startswith("Unauthorized")
    status, body = await api.call("GET", "/tasks/missing-uuid")
    assert (status, body) == (404, {"message": "Task missing-uuid not found."})
    assert (await api.call("GET", "/jobs/nope"))[1] == {"message": "Job nope not found."}
    assert (await api.call("GET", "/pools/nope"))[1] == {"message": "Pool nope not found."}
    assert (await api.call("GET", "/profiles/nope"))[0] == 404
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"profile": "docker-batch", "instanceCount": 1}, 400, "name"),
        ({"name": "x", "instanceCount": 1}, 400, "profile"),
        ({"name": "x", "profile": "gpu-magic", "instanceCount": 1}, 400, "Profile gpu-magic not found"),
        ({"name": "x", "profile": "docker-batch", "instanceCount": 0}, 400, "instanceCount"),
        ({"name": "x", "profile": "docker-batch", "advancedRanges": "2-1"}, 400, "advancedRanges"),
        ({"name": "x", "profile": "docker-batch", "instanceCount": 1, "jobUuid": "nope"}, 400, "Job nope not found"),
        ({"name": "x", "instanceCount": 1, "poolUuid": "nope"}, 400, "Pool nope not found"),
        ({"name": "x", "profile": "docker-batch", "instanceCount": 1, "tags": "a"}, 400, "tags"),
        ({"name": "x", "profile": "docker-batch", "instanceCount": 1, "dependencies": [1]}, 400, "dependencies"),
        ({"name": "x", "profile": "docker-batch", "instanceCount": 1, "advancedResourceBuckets": "b"}, 400, "list"),
        ({"name": "x", "profile": "docker-batch", "instanceCount": 201}, 402, "Not enough credits"),
        ({"name": "x", "profile": "docker-batch", "instanceCount": 1, "resultBucket": "b"}, 400, "storage"),
    ]
    for body, code, text in cases:
        status, answer = await api.call("POST", "/tasks", body)
        assert status == code and text in answer["message"], (body, status, answer)
    status, answers = await api.call(
        "POST",
        "/tasks",
        [
            {
                "name": "ok",
                "profile": "docker-batch",
                "instanceCount": 1,
                "constants": [{"key": "DOCKER_CMD", "value": "true"}],
            },
            {"name": "bad"},
        ],
    )
    assert status == 200 and answers[0]["statusCode"] == 201 and answers[0]["uuid"]
    assert answers[1]["statusCode"] == 400 and answers[1]["uuid"] is None
    for _ in range(3):
        assert (await api.call("POST", "/jobs/", {"name": "j"}))[0] == 201
    status, body = await api.call("POST", "/jobs/", {"name": "j"})
    assert status == 403 and body["message"].startswith("Maximum number of jobs reached")


async def test_paging_by_token_with_filters(api: Api) -> None:
    uuids = [await api.submit("true", tags=["even" if i % 2 == 0 else "odd", "all"]) for i in range(7)]
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        status, page = await api.call(
            "POST",
            "/tasks/paginate",
            {"filter": {"operator": "Equal", "field": "Tags", "value": "even"}, "token": token, "maximumResults": 2},
        )
        assert status == 200
        seen += [task["uuid"] for task in page["data"]]
        pages += 1
        if not page["isTruncated"]:
            assert page["nextToken"] is None
            break
        token = page["nextToken"]
    assert seen == uuids[0::2] and pages == 2
    status, page = await api.call(
        "POST", "/tasks/summaries/paginate", {"filter": None, "token": None, "maximumResults": None}
    )
    assert [t["uuid"] for t in page["data"]] == uuids and "constants" not in page["data"][0]
    assert (await api.call("POST", "/tasks/paginate", {"token": "bogus!"}))[0] == 400
    # A field a summary lacks (progress) is read on the full task.
    progress = {"operator": "GreaterOrEqual", "field": "Progress", "value": 0}
    status, page = await api.call("POST", "/tasks/paginate", {"filter": progress, "maximumResults": 100})
    assert [t["uuid"] for t in page["data"]] == uuids
    status, found = await api.call(
        "POST",
        "/tasks/search",
        {"filter": {"operator": "Equal", "field": "Tags", "value": "odd"}, "select": ["uuid"], "maximumResults": 2},
    )
    assert found == [{"uuid": uuids[1]}, {"uuid": uuids[3]}]


async def test_job_dependencies_not_fulfilled_cancel_the_task(api: Api) -> None:
    status, job = await api.call("POST", "/jobs/", {"name": "j", "useDependencies": True})
    first = await api.submit("exit 1", jobUuid=job["uuid"])
    second = await api.submit("echo never", jobUuid=job["uuid"], dependencies={"dependsOn": [first]})
    any_end = await api.submit(
        "echo runs",
        jobUuid=job["uuid"],
        dependencies={"advancedDependsOn": [{"taskUuid": first, "taskFinalStateCondition": None}]},
    )
    assert (await api.wait(second))["state"] == "Cancelled"
    assert "dependency" in (await api.wait(second))["errors"][0]["message"]
    assert (await api.wait(any_end))["state"] == "Success"
    status, body = await api.call(
        "POST",
        "/tasks",
        {"name": "x", "profile": "docker-batch", "instanceCount": 1, "dependencies": {"dependsOn": [first]}},
    )
    assert status == 400 and "useDependencies" in body["message"]
    status, tasks = await api.call("GET", f"/jobs/{job['uuid']}/tasks")
    assert [t["uuid"] for t in tasks] == [first, second, any_end]


async def test_job_max_wall_time_terminates_it(api: Api) -> None:
    status, job = await api.call("POST", "/jobs/", {"name": "j", "maxWallTime": "00:00:01"})
    uuid = await api.submit("sleep 30", jobUuid=job["uuid"])
    assert (await api.wait(uuid, timeout=5))["state"] == "Cancelled"
    assert (await api.call("GET", f"/jobs/{job['uuid']}"))[1]["state"] in ("Terminating", "Completed")
    status, body = await api.call(
        "POST", "/tasks", {"name": "x", "profile": "docker-batch", "instanceCount": 1, "jobUuid": job["uuid"]}
    )
    assert status == 400 and "Active" in body["message"]


async def test_pool_opens_runs_tasks_and_closes(api: Api) -> None:
    status, pool = await api.call(
        "POST",
        "/pools",
        {
            "name": "p",
            "profile": "docker-batch",
            "instanceCount": 1,
            "constants": [{"key": "DOCKER_CMD", "value": "echo pooled"}],
        },
    )
    assert status == 201
    status, answer = await api.call("POST", "/tasks", {"name": "t", "poolUuid": pool["uuid"], "instanceCount": 1})
    task = await api.wait(answer["uuid"])
    assert task["state"] == "Success" and task["profile"] is None and task["poolUuid"] == pool["uuid"]
    assert (await api.call("GET", f"/tasks/{answer['uuid']}/stdout"))[1] == "pooled\n"
    assert (await api.call("GET", f"/pools/{pool['uuid']}"))[1]["state"] == "FullyExecuting"
    assert await api.call("POST", f"/pools/{pool['uuid']}/close") == (200, {})
    deadline = time.monotonic() + 5
    while (await api.call("GET", f"/pools/{pool['uuid']}"))[1]["state"] != "Closed":
        assert time.monotonic() < deadline
        await asyncio.sleep(0.01)
    status, body = await api.call("POST", "/tasks", {"name": "t", "poolUuid": pool["uuid"], "instanceCount": 1})
    assert status == 400 and "Closed" in body["message"]
    assert await api.call("DELETE", f"/pools/{pool['uuid']}") == (200, {})
    assert (await api.call("GET", f"/pools/{pool['uuid']}"))[0] == 404


async def test_settings_without_storage_and_counts(api: Api) -> None:
    assert await api.call("GET", "/settings") == (200, {"storage": None})
    _, info = await api.call("GET", "/info")
    assert info["email"] == api.emulator.account.email and info["maxTask"] == 50
    stats = api.emulator.counter.snapshot()
    assert stats == {"GET /info": 1, "GET /settings": 1}


async def test_auto_delete_after_completion_ttl(api: Api) -> None:
    uuid = await api.submit("true", autoDeleteOnCompletion=True, completionTimeToLive="00:00:00")
    deadline = time.monotonic() + 5
    while (await api.call("GET", f"/tasks/{uuid}"))[0] != 404:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.01)
    status, body = await api.call(
        "POST", "/tasks", {"name": "x", "profile": "docker-batch", "instanceCount": 1, "completionTimeToLive": "soon"}
    )
    assert status == 400 and "completionTimeToLive" in body["message"]


async def test_an_instance_over_the_wall_clock_limit_fails() -> None:
    emulator = QarnotEmulator(port=0, storage=False, token=TOKEN, step_ms=10, max_job_seconds=0.3)
    async with emulator, aiohttp.ClientSession() as session:
        api = Api(emulator, session)
        task = await api.wait(await api.submit("echo slow >&2; sleep 30"))
    assert task["state"] == "Failure"
    error = task["errors"][0]
    assert error["code"] == "MaxWallTimeExceeded" and "0.3 s" in error["message"] and error["debug"] == "slow"


async def test_busy_ports_fail_to_start() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        cases = ((QarnotEmulator(s3_port=port), "cannot serve S3"), (QarnotEmulator(port=port), "in use"))
        for emulator, problem in cases:
            with pytest.raises(OSError, match=problem):
                await emulator.start()
            assert not os.path.exists(emulator.folder)  # stopped: nothing left behind


async def test_snapshot_requests_are_checked(api: Api) -> None:
    uuid = await api.submit("sleep 30")
    for body, code, text in (
        ({"interval": 0}, 400, "interval"),
        ({"interval": "1"}, 400, "interval"),
        ({"interval": 1}, 400, "no result bucket"),  # and the storage is off here
    ):
        status, answer = await api.call("POST", f"/tasks/{uuid}/snapshot/periodic", body)
        assert status == code and text in answer["message"]
    status, answer = await api.call("POST", f"/tasks/{uuid}/snapshot", {"bucket": "b"})
    assert status == 400 and "storage" in answer["message"]
    assert (await api.call("GET", f"/tasks/{uuid}/snapshot/nope"))[0] == 404
    await api.call("POST", f"/tasks/{uuid}/abort")
    await api.wait(uuid)
    status, answer = await api.call("POST", f"/tasks/{uuid}/snapshot", {})
    assert status == 403 and "Cancelled" in answer["message"]


async def test_shortnames_are_unique_per_kind(api: Api) -> None:
    first = await api.submit("true", shortname="render-1")
    status, body = await api.call(
        "POST", "/tasks", {"name": "again", "profile": "docker-batch", "instanceCount": 1, "shortname": "render-1"}
    )
    assert status == 409 and "render-1" in body["message"]
    assert (await api.call("GET", f"/tasks/{first}"))[1]["shortname"] == "render-1"
    assert (await api.call("POST", "/jobs/", {"name": "j", "shortname": "render-1"}))[0] == 201  # another kind
    assert (await api.call("POST", "/jobs/", {"name": "j", "shortname": "render-1"}))[0] == 409
    await api.wait(first)
    await api.call("DELETE", f"/tasks/{first}")
    await api.submit("true", shortname="render-1")  # free again once the task is deleted


async def test_an_abort_while_uploading_results_ends_cancelled() -> None:
    emulator = QarnotEmulator(port=0, storage=False, token=TOKEN, step_ms=100)
    async with emulator, aiohttp.ClientSession() as session:
        api = Api(emulator, session)
        uuid = await api.submit("true")
        record = emulator.state.tasks[uuid]
        deadline = time.monotonic() + 5
        while record.state != "UploadingResults":
            assert time.monotonic() < deadline
            await asyncio.sleep(0.001)
        await emulator.state.abort_task(uuid)
        await api.wait(uuid)
    assert record.history[-3:] == ["UploadingResults", "PendingCancel", "Cancelled"]


async def test_urls_are_advertised_with_the_host_as_given() -> None:
    async with QarnotEmulator(host="localhost", token=TOKEN) as emulator:
        ready = emulator.ready_info()
        assert ready["url"] == f"http://localhost:{emulator.port}"
        assert ready["storage_url"] == f"http://localhost:{emulator.s3_port}" and emulator.s3_port > 0
        async with aiohttp.ClientSession() as session:
            assert await Api(emulator, session).call("GET", "/settings") == (200, {"storage": ready["storage_url"]})
