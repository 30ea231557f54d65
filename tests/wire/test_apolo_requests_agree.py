"""The real `apolo-sdk` and our client make the same calls for the same work: the emulator records every request
(`GET /requests`, credential redacted), and for each call both make we compare the route, the method, the headers
that matter (the Bearer Authorization, the JSON content type, the NDJSON Accept) and every body and query field."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import apolo_sdk
import pytest
from conftest import ApoloEmulatorEndpoint
from yarl import URL

from airflow_provider_batch.clients.apolo.client import ApoloClient
from airflow_provider_batch.clients.apolo.config import ApoloConfig
from airflow_provider_batch.clients.apolo.types import HTTPPort, JobPriority, Volume

pytestmark = pytest.mark.wire

COMMAND = "sh -c 'echo same; sleep 30'"
ENV = {"GREETING": "hello"}
LIST_TAG = "agree-list"


def recorded(endpoint: ApoloEmulatorEndpoint) -> dict[str, list[dict[str, Any]]]:
    by_route: dict[str, list[dict[str, Any]]] = {}
    for request in endpoint.requests():
        by_route.setdefault(f"{request['method']} {request['route']}", []).append(request)
    return by_route


async def sdk_calls(endpoint: ApoloEmulatorEndpoint, folder: Path) -> None:
    factory = apolo_sdk.Factory(folder)
    await factory.login_with_passed_config(endpoint.passed_config)
    client = await factory.get()
    try:
        endpoint.launched.reset_requests()
        job = await client.jobs.start(
            image=client.parse.remote_image("ubuntu:22.04"),
            preset_name="cpu-small",
            command=COMMAND,
            entrypoint="/bin/sh -c",
            working_dir="/tmp",
            env=ENV,
            volumes=[apolo_sdk.Volume(URL("storage:data"), "/var/data", read_only=True)],
            secret_env={"TOKEN": URL("secret:emulator-secret")},
            http=apolo_sdk.HTTPPort(8080, requires_auth=True),
            name="agree-sdk",
            tags=["agree", LIST_TAG],
            description="the same job",
            life_span=600,
            schedule_timeout=30,
            priority=apolo_sdk.JobPriority.HIGH,
        )
        await client.jobs.status(job.id)
        async with client.jobs.list(tags=[LIST_TAG], reverse=True, limit=5) as jobs:
            assert [found.id async for found in jobs]
        await client.jobs.kill(job.id)
    finally:
        await client.close()


async def our_calls(endpoint: ApoloEmulatorEndpoint) -> None:
    async with ApoloClient(ApoloConfig.from_passed_config(endpoint.passed_config)) as ours:
        await ours.get_config()
        endpoint.launched.reset_requests()
        job = await ours.start(
            image="ubuntu:22.04",
            preset_name="cpu-small",
            command=COMMAND,
            entrypoint="/bin/sh -c",
            working_dir="/tmp",
            env=ENV,
            volumes=[Volume("storage:data", "/var/data", read_only=True)],
            secret_env={"TOKEN": "secret:emulator-secret"},
            http=HTTPPort(8080, requires_auth=True),
            name="agree-ours",
            tags=["agree", LIST_TAG],
            description="the same job",
            life_span=600,
            schedule_timeout=30,
            priority=JobPriority.HIGH,
        )
        await ours.status(job.id)
        assert [found.id async for found in ours.list(tags=[LIST_TAG], reverse=True, limit=5)]
        await ours.kill(job.id)


@pytest.fixture(scope="module")
def both(
    apolo_emulator: ApoloEmulatorEndpoint, tmp_path_factory: pytest.TempPathFactory
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the SDK's requests, ours) by route, for: start one job with every common field, its status, a filtered
    list, kill."""
    asyncio.run(sdk_calls(apolo_emulator, tmp_path_factory.mktemp("sdk") / "apolo"))
    sdk_requests = recorded(apolo_emulator)
    asyncio.run(our_calls(apolo_emulator))
    return sdk_requests, recorded(apolo_emulator)


ROUTES = ("POST /api/v1/jobs", "GET /api/v1/jobs/{job_id}", "GET /api/v1/jobs", "DELETE /api/v1/jobs/{job_id}")


def test_the_same_routes_are_called(both: tuple[dict[str, Any], dict[str, Any]]) -> None:
    sdk, ours = both
    assert set(sdk) == set(ours) == set(ROUTES), (sorted(sdk), sorted(ours))


@pytest.mark.parametrize("route", ROUTES)
def test_headers_agree(both: tuple[dict[str, Any], dict[str, Any]], route: str) -> None:
    sdk, ours = both
    for name in ("authorization", "content-type", "accept"):
        theirs = {k.lower(): v for k, v in sdk[route][0]["headers"].items()}
        mine = {k.lower(): v for k, v in ours[route][0]["headers"].items()}
        if name == "accept" and route != "GET /api/v1/jobs":
            continue
        assert theirs.get(name) == mine.get(name), (route, name, theirs, mine)
    assert str(mine.get("authorization", "")).startswith("Bearer")


def test_the_start_bodies_agree_field_for_field(both: tuple[dict[str, Any], dict[str, Any]]) -> None:
    sdk, ours = both
    theirs, mine = sdk["POST /api/v1/jobs"][0], ours["POST /api/v1/jobs"][0]
    assert theirs["query"] == mine["query"] == {"from_preset": ""}
    assert theirs["body"].pop("name") == "agree-sdk" and mine["body"].pop("name") == "agree-ours"
    assert mine["body"] == theirs["body"]


def test_the_list_queries_agree(both: tuple[dict[str, Any], dict[str, Any]]) -> None:
    sdk, ours = both
    assert ours["GET /api/v1/jobs"][0]["query"] == sdk["GET /api/v1/jobs"][0]["query"]
