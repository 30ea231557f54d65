"""The real `qarnot` SDK and our client make the same calls for the same work: the emulator records every request
(`GET /requests`, credential redacted), and for each call both make we compare the route, the method, the headers
that matter (the raw-token Authorization, the JSON content type) and every body field."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from conftest import QarnotEmulatorEndpoint
from qarnot.connection import Connection

from airflow_provider_batch.clients.qarnot.client import QarnotClient
from airflow_provider_batch.clients.qarnot.config import QarnotConfig

pytestmark = pytest.mark.wire
CONSTANTS = {"DOCKER_REPO": "library/alpine", "DOCKER_TAG": "3", "DOCKER_CMD": "echo same > same.txt"}


def recorded(endpoint: QarnotEmulatorEndpoint) -> dict[str, list[dict[str, Any]]]:
    by_route: dict[str, list[dict[str, Any]]] = {}
    for request in endpoint.requests():
        by_route.setdefault(f"{request['method']} {request['route']}", []).append(request)
    return by_route


@pytest.fixture(scope="module")
def both(qarnot_emulator: QarnotEmulatorEndpoint) -> tuple[dict[str, Any], dict[str, Any]]:
    """(SDK's requests, ours) by route, for: connect, submit one task with resources and results, list tasks by
    tag, fresh stdout, abort, create and delete a job, create and close a pool."""
    ours = QarnotClient(QarnotConfig(token=qarnot_emulator.token, cluster_url=qarnot_emulator.url))
    inputs, results = f"agree-in-{uuid.uuid4().hex[:8]}", f"agree-out-{uuid.uuid4().hex[:8]}"
    ours.create_bucket(inputs)
    ours.create_bucket(results)
    launched = qarnot_emulator.launched

    launched.reset_requests()
    sdk = Connection(cluster_url=qarnot_emulator.url, client_token=qarnot_emulator.token, retry_count=0)
    task = sdk.create_task("agree", "docker-batch", 2, shortname="agree-sdk")
    for key, value in CONSTANTS.items():
        task.constants[key] = value
    task.tags = ["agree", "sdk"]
    task.resources = [sdk.retrieve_bucket(inputs)]
    task.results = sdk.retrieve_bucket(results)
    task.submit()
    sdk.tasks_page(tags=["agree", "sdk"], maximum=50)
    task.fresh_stdout()
    task.abort()
    job = sdk.create_job("agree-job", shortname="agree-job-sdk", useDependencies=True)
    job.submit()
    job.delete(forceAbort=True)
    pool = sdk.create_pool("agree-pool", "docker-batch", 2, shortname="agree-pool-sdk")
    pool.submit()
    pool.close()
    sdk_requests = recorded(qarnot_emulator)

    launched.reset_requests()
    ours.settings()
    ours.user_info()
    spec = ours.create_task(
        "agree",
        "docker-batch",
        2,
        shortname="agree-ours",
        constants=CONSTANTS,
        tags=["agree", "sdk"],
        resources=[inputs],
        result_bucket=results,
    )
    uuid_ = ours.submit_task(spec)
    ours.tasks_page(maximum=50, tags=["agree", "sdk"])
    ours.fresh_stdout(uuid_)
    ours.abort_task(uuid_)
    job_uuid = ours.submit_job(ours.create_job("agree-job", shortname="agree-job-ours", use_dependencies=True)).uuid
    ours.delete_job(job_uuid, force=True)
    pool_uuid = ours.submit_pool(ours.create_pool("agree-pool", "docker-batch", 2, shortname="agree-pool-ours")).uuid
    ours.close_pool(pool_uuid)
    our_requests = recorded(qarnot_emulator)
    ours.close()
    return sdk_requests, our_requests


ROUTES = [
    "GET /settings",
    "GET /info",
    "POST /tasks",
    "POST /tasks/paginate",
    "POST /tasks/{uuid}/{stream}",
    "POST /tasks/{uuid}/abort",
    "POST /jobs/",
    "GET /jobs/{uuid}",
    "DELETE /jobs/{uuid}",
    "POST /pools",
    "POST /pools/{uuid}/close",
]


def test_both_make_the_same_calls(both):
    sdk, ours = both
    for route in ROUTES:
        assert route in sdk and route in ours, route
    assert set(ours) <= set(sdk)  # ours makes no call the SDK would not


@pytest.mark.parametrize("route", ROUTES)
def test_headers_agree(both, route):
    sdk, ours = both
    theirs, mine = sdk[route][0]["headers"], ours[route][0]["headers"]
    assert theirs["authorization"] == mine["authorization"] == "<redacted>"  # the raw token, no scheme
    assert theirs.get("content-type") == mine.get("content-type")


@pytest.mark.parametrize("route", ["POST /tasks", "POST /tasks/paginate", "POST /jobs/", "POST /pools"])
def test_bodies_agree_field_for_field(both, route):
    sdk, ours = both
    theirs, mine = sdk[route][0]["body"], ours[route][0]["body"]
    assert isinstance(theirs, dict) and isinstance(mine, dict)
    assert set(theirs) == set(mine)
    differing = {key: (theirs[key], mine[key]) for key in theirs if theirs[key] != mine[key]}
    # Shortnames are unique per account, so each side sets its own; every other field is the same.
    assert set(differing) <= {"shortname"}
    assert "shortname" not in theirs or mine["shortname"].endswith("-ours")


def test_query_strings_agree(both):
    sdk, ours = both
    assert sdk["DELETE /jobs/{uuid}"][0]["query"] == ours["DELETE /jobs/{uuid}"][0]["query"] == {"force": "True"}
