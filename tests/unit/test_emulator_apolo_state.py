"""The Apolo emulator's job store and state machine, in process: list filters, names, queueing on --max-running,
schedule_timeout, restart policies, life span, and the JobDescription the SDK parses."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from apolo_sdk import JobStatus
from apolo_sdk._jobs import _job_description_from_api
from multidict import MultiDict

from airflow_provider_batch.emulators.apolo.config import Site
from airflow_provider_batch.emulators.apolo.errors import ApiError
from airflow_provider_batch.emulators.apolo.lifecycle import LifecycleOptions
from airflow_provider_batch.emulators.apolo.payloads import job_json
from airflow_provider_batch.emulators.apolo.records import JobRecord, Status
from airflow_provider_batch.emulators.apolo.spec import parse_start
from airflow_provider_batch.emulators.apolo.state import ApoloState, JobFilter
from airflow_provider_batch.emulators.runner import ProcessRunner

SITE = Site()


class FakeParser:
    """Enough of the SDK's Parser for `_job_description_from_api`."""

    def remote_image(self, image: str, cluster_name: str | None = None) -> Any:
        from apolo_sdk import RemoteImage

        return RemoteImage.new_external_image(name=image)


@pytest.fixture
async def state() -> AsyncIterator[ApoloState]:
    options = LifecycleOptions(step_s=0.002, minute_s=0.2, suspend_s=0.2, passed_config="blob")
    store = ApoloState(SITE, ProcessRunner(max_running=1), options)
    yield store
    await store.shutdown()


def start(state: ApoloState, command: str, **extra: Any) -> JobRecord:
    body = {"project_name": SITE.project, "image": "ubuntu", "command": command, **extra}
    return state.create(parse_start(body, SITE, from_preset=True))


async def until(job: JobRecord, *statuses: Status, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while job.status not in statuses:
        assert asyncio.get_running_loop().time() < deadline, f"{job.id} is {job.status}, never {statuses}"
        await asyncio.sleep(0.005)


def reasons(job: JobRecord) -> list[tuple[str, str | None]]:
    return [(item.status.value, item.reason) for item in job.history]


async def test_success_path_and_the_sdk_reads_every_step(state: ApoloState) -> None:
    job = start(state, "sh -c 'echo out; echo err >&2'", name="first-job", tags=["t"])
    parsed = []
    while not job.finished:
        parsed.append(_job_description_from_api(job_json(job), FakeParser()))  # type: ignore[arg-type]
        await asyncio.sleep(0.002)
    parsed.append(_job_description_from_api(job_json(job), FakeParser()))  # type: ignore[arg-type]
    assert parsed[0].status is JobStatus.PENDING and parsed[-1].status is JobStatus.SUCCEEDED
    assert reasons(job) == [
        ("pending", "Creating"),
        ("pending", "Scheduling"),
        ("pending", "ContainerCreating"),
        ("running", None),
        ("succeeded", "Completed"),
    ]
    last = parsed[-1]
    assert last.history.exit_code == 0 and last.name == "first-job" and last.tags == ["t"]
    assert last.price_credits_per_hour == 0.5 and last.total_price_credits >= 0
    assert sorted((line.stream, line.text) for line in job.logs) == [("stderr", "err"), ("stdout", "out")]
    container = job_json(job)["container"]  # as platform-api echoes it
    assert container["env"] == {} and container["volumes"] == []
    assert container["resources"] == {"cpu": 1.0, "memory": 2 * 1024**3, "memory_mb": 2048, "shm": False}


async def test_jobs_beyond_max_running_wait_in_scheduling_and_schedule_timeout_fails_them(state: ApoloState) -> None:
    first = start(state, "sleep 30")
    await until(first, Status.RUNNING)
    waiting = start(state, "true")
    timed_out = start(state, "true", schedule_timeout=1)
    await until(timed_out, Status.FAILED, timeout=5)
    assert timed_out.current.reason == "ClusterScaleUpFailed"
    assert waiting.status is Status.PENDING and waiting.current.reason == "Scheduling"
    assert state.lifecycle.holding == 1
    state.kill(first.id)
    await until(waiting, Status.SUCCEEDED)


async def test_restart_policies(state: ApoloState) -> None:
    always = start(state, "true", restart_policy="always")
    deadline = asyncio.get_running_loop().time() + 10
    while always.restarts < 2:
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.005)
    assert ("pending", "Restarting") in reasons(always)
    state.kill(always.id)
    assert always.status is Status.CANCELLED and always.current.reason == "UserRequested"
    on_failure = start(state, "sh -c 'exit 4'", restart_policy="on-failure")
    while on_failure.restarts < 1:
        await asyncio.sleep(0.005)
    state.kill(on_failure.id)
    never = start(state, "sh -c 'echo bad; exit 4'")
    await until(never, Status.FAILED)
    assert (never.current.reason, never.current.exit_code, never.current.description) == ("Error", 4, "bad")
    assert never.restarts == 0


async def test_life_span_counts_running_time_and_can_be_bumped(state: ApoloState) -> None:
    job = start(state, "sleep 30", max_run_time_minutes=1)  # 0.2 s in this state
    state.bump_life_span(job.id, {"additional_max_run_time_minutes": 2})
    assert job.spec.max_run_time_minutes == 3
    await until(job, Status.CANCELLED)
    assert job.current.reason == "LifeSpanEnded"
    assert job.run_time() >= timedelta(seconds=0.6)
    plain = start(state, "sleep 30")
    state.bump_life_span(plain.id, {"additional_max_run_time_minutes": 1})  # a job without a limit gets one
    await until(plain, Status.CANCELLED)
    assert plain.current.reason == "LifeSpanEnded"


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({}, "Exactly one of"),
        ({"max_run_time_minutes": 1, "additional_max_run_time_minutes": 1}, "Exactly one of"),
        ({"additional_max_run_time_minutes": 0}, "greater or equal than 1"),
        ({"max_run_time_minutes": "5"}, "greater or equal than 1"),
        ({"minutes": 5}, "minutes is not allowed key"),
        ([5], "value is not a dict"),
    ],
)
async def test_bump_life_span_refuses_bad_bodies(state: ApoloState, payload: Any, message: str) -> None:
    job = start(state, "true")
    with pytest.raises(ApiError, match=message):
        state.bump_life_span(job.id, payload)


async def test_names_resolve_to_the_newest_job_and_one_live_job_per_name(state: ApoloState) -> None:
    first = start(state, "sleep 30", name="same-name")
    with pytest.raises(ApiError, match="already exists: 'job-") as caught:
        start(state, "true", name="same-name")
    assert caught.value.status == 400 and first.id in caught.value.body["error"]
    state.kill("same-name")
    second = start(state, "true", name="same-name")
    assert state.resolve("same-name") is second and state.resolve(first.id) is first
    with pytest.raises(ApiError, match="no such job nothing-here") as missing:
        state.resolve("nothing-here")
    assert missing.value.status == 400
    assert state.lifecycle.cancel(first, "UserRequested") is False  # already over: nothing changes


def query(**items: Any) -> MultiDict[str]:
    pairs: list[tuple[str, str]] = []
    for key, value in items.items():
        for one in value if isinstance(value, list) else [value]:
            pairs.append((key, str(one)))
    return MultiDict(pairs)


async def test_list_filters_order_and_limit(state: ApoloState) -> None:
    before = datetime.now(timezone.utc)
    a = start(state, "sleep 30", tags=["x", "y"], name="job-a")
    b = start(state, "sleep 30", tags=["x"])
    after = datetime.now(timezone.utc)

    def ids(**items: Any) -> list[str]:
        return [job.id for job in state.select(JobFilter.from_query(query(**items)))]

    assert ids() == [a.id, b.id]
    assert ids(reverse="1") == [b.id, a.id]
    assert ids(limit="1", reverse="true") == [b.id]
    assert ids(tag=["x", "y"]) == [a.id]
    assert ids(name="job-a") == [a.id]
    assert ids(status=["pending", "running"]) == [a.id, b.id]
    assert ids(status="succeeded") == []
    assert ids(owner=SITE.user, cluster_name=SITE.cluster, org_name=SITE.org, project_name=SITE.project) == [a.id, b.id]
    assert ids(org_name="nope") == [] and ids(project_name="nope") == [] and ids(cluster_name="nope") == []
    assert ids(since=before.isoformat(), until=after.isoformat()) == [a.id, b.id]
    assert ids(until=before.isoformat()) == []
    assert ids(being_dropped="False", logs_removed="False", materialized="True") == [a.id, b.id]
    assert ids(materialized="false") == []


@pytest.mark.parametrize(
    ("items", "message"),
    [
        ({"limit": "0"}, "limit should be > 0"),
        ({"limit": "many"}, "invalid literal"),
        ({"status": "sleeping"}, "'sleeping' is not a valid JobStatus"),
        ({"reverse": "maybe"}, 'Required "0", "1", "false" or "true"'),
        ({"since": "yesterday"}, "Invalid isoformat string"),
    ],
)
def test_list_query_errors(items: dict[str, str], message: str) -> None:
    with pytest.raises(ApiError, match=message) as caught:
        JobFilter.from_query(query(**items))
    assert caught.value.status == 400


async def test_a_preemptible_job_is_suspended_once_then_runs_again(state: ApoloState) -> None:
    job = start(state, "sh -c 'echo go; sleep 0.4'", preset_name="cpu-spot")
    await until(job, Status.SUSPENDED)
    assert [line.text for line in job.logs] == ["go"]
    await until(job, Status.SUCCEEDED)
    statuses = [status for status, _ in reasons(job)]
    assert statuses.count("running") == 2 and statuses.count("suspended") == 1
    assert [line.text for line in job.logs] == ["go", "go"] and job.live_from == 1
    plain = start(state, "sh -c 'sleep 0.4'")  # not preemptible: never suspended
    await until(plain, Status.SUCCEEDED)
    assert "suspended" not in [status for status, _ in reasons(plain)]


async def test_pass_config_gives_the_job_the_platform_variables(state: ApoloState) -> None:
    job = start(state, "sh -c 'echo $APOLO_PASSED_CONFIG $NEURO_PASSED_CONFIG'", pass_config=True)
    await until(job, Status.SUCCEEDED)
    assert [line.text for line in job.logs] == ["blob blob"]
    missing = start(state, "true", secret_env={"X": "secret://default/emulator-org/emulator-project/nope"})
    await until(missing, Status.FAILED)
    assert (missing.current.reason, missing.current.description) == ("ContainerCannotRun", "secret(s) not found: nope")


async def test_a_job_past_max_job_seconds_fails() -> None:
    store = ApoloState(SITE, ProcessRunner(max_running=2, default_timeout_s=0.2), LifecycleOptions(step_s=0.002))
    try:
        job = start(store, "sleep 30")
        await until(job, Status.FAILED)
        assert job.current.reason == "Error" and job.current.exit_code == 137
        assert job.current.description == "killed after the emulator's --max-job-seconds (0.2 s)"
    finally:
        await store.shutdown()
