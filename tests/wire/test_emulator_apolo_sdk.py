"""The real `apolo-sdk` against the Apolo emulator started through its command line (the `apolo_emulator` session
fixture): passed-config login, start, the status path, the log WebSocket, list filters, kill, errors, life span,
restarts, top and capacity. If the SDK accepts what the emulator serves, so should the platform's own clients."""

from __future__ import annotations

import asyncio
import base64
import json
import os
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import apolo_sdk
import pytest
from apolo_sdk import Container, JobDescription, JobRestartPolicy, JobStatus, Resources
from conftest import ApoloEmulatorEndpoint
from yarl import URL

from airflow_provider_batch.emulators.apolo import ApoloEmulator
from airflow_provider_batch.emulators.base import CommonOptions
from airflow_provider_batch.emulators.faults import FaultPlan, StreamFault

pytestmark = pytest.mark.wire

FINISHED = (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)


@pytest.fixture
async def client(
    apolo_emulator: ApoloEmulatorEndpoint, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[apolo_sdk.Client]:
    """An SDK client logged in with the READY entry's passed-config blob; its config lives in `tmp_path/apolo`
    and HOME points at an empty folder that must stay empty."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(tmp_path)  # no stray .apolo.toml from the checkout
    factory = apolo_sdk.Factory(tmp_path / "apolo")
    await factory.login_with_passed_config(apolo_emulator.passed_config)
    sdk_client = await factory.get()
    try:
        yield sdk_client
    finally:
        await sdk_client.close()
    assert list(home.iterdir()) == []


async def start(client: apolo_sdk.Client, command: str, **kwargs: object) -> JobDescription:
    image = client.parse.remote_image("ubuntu:22.04")
    return await client.jobs.start(image=image, preset_name="cpu-small", command=command, **kwargs)  # type: ignore[arg-type]


async def wait_finished(client: apolo_sdk.Client, job_id: str, timeout: float = 20.0) -> JobDescription:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        job = await client.jobs.status(job_id)
        if job.status in FINISHED:
            return job
        assert asyncio.get_running_loop().time() < deadline, f"{job_id} still {job.status} after {timeout} s"
        await asyncio.sleep(0.02)


async def wait_status(client: apolo_sdk.Client, job_id: str, status: JobStatus, timeout: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while (await client.jobs.status(job_id)).status is not status:
        assert asyncio.get_running_loop().time() < deadline, f"{job_id} never {status}"
        await asyncio.sleep(0.02)


async def logs_of(client: apolo_sdk.Client, job_id: str, **kwargs: object) -> bytes:
    chunks = []
    async with client.jobs.monitor(job_id, **kwargs) as stream:  # type: ignore[arg-type]
        async for chunk in stream:
            chunks.append(chunk)
    return b"".join(chunks)


def test_ready_entry_and_passed_config(apolo_emulator: ApoloEmulatorEndpoint) -> None:
    entry = apolo_emulator.entry
    blob = json.loads(base64.b64decode(entry["passed_config"]))
    assert blob == {
        "token": entry["token"],
        "cluster": entry["cluster"],
        "url": entry["url"],
        "org_name": entry["org"],
        "project_name": entry["project"],
    }
    assert entry["url"].startswith("http://127.0.0.1:") and entry["url"].endswith("/api/v1")


async def test_passed_config_login_selects_cluster_org_project(
    client: apolo_sdk.Client, apolo_emulator: ApoloEmulatorEndpoint
) -> None:
    entry = apolo_emulator.entry
    assert (client.config.cluster_name, client.config.org_name, client.config.project_name) == (
        entry["cluster"],
        entry["org"],
        entry["project"],
    )
    assert client.username == entry["user"]  # the JWT's identity claim
    assert client.config.api_url == URL(entry["url"])
    assert {"cpu-small", "gpu-small"} <= set(client.config.presets)
    assert client.config.presets["gpu-small"].nvidia_gpu is not None
    assert client.config.get_cluster(entry["cluster"]).monitoring_url == URL(entry["url"]) / "jobs"
    configs = [r for r in apolo_emulator.requests() if r["route"] == "/api/v1/config"]
    assert configs and configs[-1]["headers"]["authorization"] == "Bearer <redacted>"


async def test_login_with_a_wrong_token_is_refused(apolo_emulator: ApoloEmulatorEndpoint, tmp_path: Path) -> None:
    factory = apolo_sdk.Factory(tmp_path / "apolo")
    with pytest.raises(apolo_sdk.AuthError, match="Cannot authorize user"):
        await factory.login_with_token("not-the-token", url=URL(apolo_emulator.url))


async def test_start_goes_pending_running_succeeded_with_env_and_logs(
    client: apolo_sdk.Client, apolo_emulator: ApoloEmulatorEndpoint
) -> None:
    apolo_emulator.launched.reset_requests()
    job = await start(
        client, "sh -c 'echo hello $GREETING; echo to-stderr >&2; sleep 0.3; echo bye'", env={"GREETING": "world"}
    )
    assert job.status is JobStatus.PENDING and job.history.reason == "Creating"
    assert job.id.startswith("job-") and job.preset_name == "cpu-small"
    assert str(job.uri) == f"job://default/emulator-org/emulator-project/{job.id}"
    await wait_status(client, job.id, JobStatus.RUNNING)
    logs = await logs_of(client, job.id)  # opened while running: ends when the job ends
    assert logs == b"hello world\nto-stderr\nbye\n"
    done = await wait_finished(client, job.id)
    assert done.status is JobStatus.SUCCEEDED
    assert (done.history.reason, done.history.exit_code) == ("Completed", 0)
    assert done.history.started_at is not None and done.history.finished_at is not None
    assert done.history.created_at <= done.history.started_at <= done.history.finished_at
    steps = [(item.status, item.reason) for item in done.history.transitions]
    assert steps[0] == (JobStatus.PENDING, "Creating")
    assert (JobStatus.PENDING, "ContainerCreating") in steps
    assert steps[-2:] == [(JobStatus.RUNNING, None), (JobStatus.SUCCEEDED, "Completed")]  # null reason, as sent
    assert done.history.transitions[-1].exit_code == 0
    sent = [r for r in apolo_emulator.requests() if r["method"] == "POST" and r["route"] == "/api/v1/jobs"]
    assert sent[0]["query"] == {"from_preset": ""}
    assert sent[0]["body"]["env"] == {"GREETING": "world"} and sent[0]["body"]["preset_name"] == "cpu-small"


async def test_monitor_after_the_end_with_timestamps_and_since(client: apolo_sdk.Client) -> None:
    job = await start(client, "sh -c 'echo one; sleep 0.3; echo two'")
    await wait_finished(client, job.id)
    stamped = (await logs_of(client, job.id, timestamps=True)).decode().splitlines()
    assert [line.split(" ", 1)[1] for line in stamped] == ["one", "two"]
    second = datetime.fromisoformat(stamped[1].split(" ", 1)[0][:26] + "+00:00")  # nanoseconds cut to micro
    assert await logs_of(client, job.id, since=second) == b"two\n"  # resuming from a line's time: inclusive
    assert await logs_of(client, job.id, since=second + timedelta(microseconds=1)) == b""


async def test_a_failing_command_fails_with_its_exit_code(client: apolo_sdk.Client) -> None:
    job = await start(client, "sh -c 'echo boom >&2; exit 3'")
    done = await wait_finished(client, job.id)
    assert done.status is JobStatus.FAILED
    assert (done.history.reason, done.history.exit_code) == ("Error", 3)
    assert "boom" in done.history.description


async def test_a_command_that_cannot_start(client: apolo_sdk.Client) -> None:
    job = await start(client, "no-such-program-anywhere --flag")
    done = await wait_finished(client, job.id)
    assert (done.status, done.history.reason) == (JobStatus.FAILED, "ContainerCannotRun")
    assert "no-such-program-anywhere" in done.history.description


async def test_kill_cancels_a_running_job(client: apolo_sdk.Client) -> None:
    job = await start(client, "sleep 30")
    await wait_status(client, job.id, JobStatus.RUNNING)
    await client.jobs.kill(job.id)
    done = await client.jobs.status(job.id)
    assert (done.status, done.history.reason) == (JobStatus.CANCELLED, "UserRequested")
    assert done.history.finished_at is not None
    await client.jobs.kill(job.id)  # killing a finished job is a no-op, as on the platform
    assert (await client.jobs.status(job.id)).status is JobStatus.CANCELLED


async def test_a_missing_job_is_a_bad_request_as_on_the_platform(client: apolo_sdk.Client) -> None:
    # platform-api answers 400 {"error": "no such job <id>"} (a JobError): the SDK raises IllegalArgumentError
    with pytest.raises(apolo_sdk.IllegalArgumentError, match="no such job job-does-not-exist"):
        await client.jobs.status("job-does-not-exist")
    with pytest.raises(apolo_sdk.IllegalArgumentError, match="no such job job-does-not-exist"):
        await client.jobs.kill("job-does-not-exist")
    with pytest.raises(ValueError, match="no such job job-does-not-exist"):  # the handshake's X-Error
        async with client.jobs.top("job-does-not-exist") as stream:
            async for _ in stream:
                pass


async def test_status_by_name_and_one_live_job_per_name(client: apolo_sdk.Client) -> None:
    job = await start(client, "sleep 30", name="named-once", tags=["kind:test"])
    assert (await client.jobs.status("named-once")).id == job.id
    with pytest.raises(apolo_sdk.IllegalArgumentError, match=r"job with name 'named-once' .* already exists"):
        await start(client, "true", name="named-once")
    await client.jobs.kill(job.id)
    again = await start(client, "true", name="named-once")  # the name is free once the first job is over
    assert (await client.jobs.status("named-once")).id == again.id


async def test_list_filters(client: apolo_sdk.Client) -> None:
    before = datetime.now(timezone.utc)
    tag = f"run:{os.getpid()}-{before.timestamp()}"
    first = await start(client, "true", tags=[tag, "first"], name="list-first")
    second = await start(client, "sleep 30", tags=[tag], description="second")
    await wait_finished(client, first.id)

    async def ids(**kwargs: object) -> list[str]:
        async with client.jobs.list(**kwargs) as jobs:  # type: ignore[arg-type]
            return [job.id async for job in jobs]

    assert await ids(tags=[tag]) == [first.id, second.id]
    assert await ids(tags=[tag], reverse=True) == [second.id, first.id]
    assert await ids(tags=[tag], limit=1) == [first.id]
    assert await ids(tags=[tag, "first"]) == [first.id]
    assert await ids(tags=[tag], statuses=[JobStatus.SUCCEEDED]) == [first.id]
    assert await ids(tags=[tag], statuses=[JobStatus.PENDING, JobStatus.RUNNING]) == [second.id]
    assert await ids(name="list-first") == [first.id]
    assert await ids(tags=[tag], owners=["emulator-user"]) == [first.id, second.id]
    assert await ids(tags=[tag], owners=["someone-else"]) == []
    assert await ids(tags=[tag], since=before, until=datetime.now(timezone.utc)) == [first.id, second.id]
    assert await ids(tags=[tag], since=datetime.now(timezone.utc)) == []
    assert await ids(tags=[tag], project_names=["emulator-project"]) == [first.id, second.id]
    assert await ids(tags=[tag], project_names=["other-project"]) == []
    assert await ids(tags=[tag], org_names=["other-org"]) == []
    assert await ids(tags=[tag], cluster_name="other-cluster") == []
    await client.jobs.kill(second.id)


async def test_life_span_ends_a_job_as_cancelled(client: apolo_sdk.Client) -> None:
    job = await start(client, "sleep 30", life_span=60)  # one minute; the fixture's minute lasts 0.5 s
    assert job.life_span == 60
    done = await wait_finished(client, job.id)
    assert (done.status, done.history.reason) == (JobStatus.CANCELLED, "LifeSpanEnded")
    assert done.history.run_time_seconds is not None and done.history.run_time_seconds >= 0.5


async def test_run_with_a_container_and_explicit_resources(client: apolo_sdk.Client) -> None:
    container = Container(
        image=client.parse.remote_image("ubuntu:22.04"),
        resources=Resources(memory=512 * 2**20, cpu=0.5),
        command="sh -c 'echo from-run'",
    )
    job = await client.jobs.run(container)
    assert job.container.resources.cpu == 0.5 and job.preset_name is None
    done = await wait_finished(client, job.id)
    assert done.status is JobStatus.SUCCEEDED
    assert await logs_of(client, job.id) == b"from-run\n"


async def test_secret_env_comes_from_the_emulator_secrets(client: apolo_sdk.Client) -> None:
    job = await start(client, "sh -c 'echo $TOKEN'", secret_env={"TOKEN": URL("secret:emulator-secret")})
    assert str(job.container.secret_env["TOKEN"]).endswith("/emulator-secret")
    assert (await wait_finished(client, job.id)).status is JobStatus.SUCCEEDED
    assert await logs_of(client, job.id) == b"s3cr3t-value\n"


async def test_bad_requests_carry_the_platform_messages(client: apolo_sdk.Client) -> None:
    image = client.parse.remote_image("ubuntu:22.04")
    with pytest.raises(apolo_sdk.IllegalArgumentError, match="Preset was not found"):
        await client.jobs.start(image=image, preset_name="no-such-preset", command="true")
    with pytest.raises(apolo_sdk.AuthorizationError, match="not allowed to submit jobs to the specified cluster"):
        await client.jobs.start(image=image, preset_name="cpu-small", command="true", cluster_name="elsewhere")
    with pytest.raises(apolo_sdk.IllegalArgumentError, match="name"):
        await client.jobs.start(image=image, preset_name="cpu-small", command="true", name="Bad_Name")


async def test_send_signal_restarts_an_on_failure_job_and_fails_a_never_job(client: apolo_sdk.Client) -> None:
    restarting = await start(client, "sleep 30", restart_policy=JobRestartPolicy.ON_FAILURE)
    plain = await start(client, "sleep 30")
    for job in (restarting, plain):
        await wait_status(client, job.id, JobStatus.RUNNING)
        await client.jobs.send_signal(job.id)
    done = await wait_finished(client, plain.id)
    assert (done.status, done.history.reason, done.history.exit_code) == (JobStatus.FAILED, "Error", 137)
    await wait_status(client, restarting.id, JobStatus.RUNNING)
    again = await client.jobs.status(restarting.id)
    assert again.history.restarts == 1
    assert (JobStatus.PENDING, "Restarting") in [(i.status, i.reason) for i in again.history.transitions]
    await client.jobs.kill(restarting.id)


async def test_top_streams_telemetry_while_running(client: apolo_sdk.Client) -> None:
    job = await start(client, "sleep 30")
    await wait_status(client, job.id, JobStatus.RUNNING)
    async with client.jobs.top(job.id) as stream:
        async for telemetry in stream:
            assert telemetry.memory_bytes > 0 and telemetry.timestamp > 0
            break
    await client.jobs.kill(job.id)
    with pytest.raises(ValueError, match="Job is not running"):
        async with client.jobs.top(job.id) as stream:
            async for _ in stream:
                pass


async def test_capacity_and_bump_life_span(client: apolo_sdk.Client, apolo_emulator: ApoloEmulatorEndpoint) -> None:
    capacity = await client.jobs.get_capacity()
    assert set(capacity) == set(client.config.presets) and all(value >= 0 for value in capacity.values())
    job = await start(client, "sleep 30", life_span=60)
    await client.jobs.bump_life_span(job.id, 120)
    assert (await client.jobs.status(job.id)).life_span == 180
    await client.jobs.kill(job.id)
    stats = apolo_emulator.stats()
    assert stats["GET /api/v1/jobs/capacity"] >= 1 and stats["PUT /api/v1/jobs/{job_id}/max_run_time_minutes"] >= 1


async def test_a_preemptible_job_is_suspended_then_resumes(client: apolo_sdk.Client) -> None:
    image = client.parse.remote_image("ubuntu:22.04")
    job = await client.jobs.start(image=image, preset_name="cpu-spot", command="sh -c 'echo go; sleep 0.6'")
    assert job.scheduler_enabled
    await wait_status(client, job.id, JobStatus.SUSPENDED)
    done = await wait_finished(client, job.id)
    assert done.status is JobStatus.SUCCEEDED
    assert [item.status for item in done.history.transitions].count(JobStatus.SUSPENDED) == 1
    assert await logs_of(client, job.id) == b"go\ngo\n"  # the command ran again from the start


async def test_pass_config_hands_the_job_the_platform_blob(
    client: apolo_sdk.Client, apolo_emulator: ApoloEmulatorEndpoint
) -> None:
    job = await start(client, "sh -c 'echo $APOLO_PASSED_CONFIG'", pass_config=True)
    assert job.pass_config
    assert (await wait_finished(client, job.id)).status is JobStatus.SUCCEEDED
    assert (await logs_of(client, job.id)).decode().strip() == apolo_emulator.passed_config


async def test_get_logs_in_from_the_apolo_passed_config_variable(
    apolo_emulator: ApoloEmulatorEndpoint, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("APOLO_PASSED_CONFIG", apolo_emulator.passed_config)
    monkeypatch.setenv("HOME", str(tmp_path))
    async with apolo_sdk.get(path=tmp_path / "config") as sdk_client:
        assert sdk_client.config.project_name == apolo_emulator.entry["project"]
        async with sdk_client.jobs.list(statuses=[JobStatus.RUNNING], limit=5) as jobs:
            statuses = {job.status async for job in jobs}
        assert statuses <= {JobStatus.RUNNING}
    assert sorted(path.name for path in tmp_path.iterdir()) == ["config"]


async def test_a_broken_log_stream_looks_like_an_end_to_the_sdk(tmp_path: Path) -> None:
    """Why a client must check the job's status when `monitor` ends, and resume with `since`: a stream broken by
    the platform (here an injected fault, close code 1011) ends the SDK's iterator without an error."""

    class BreakAfterOneFrame(FaultPlan):
        def stream(self, method: str) -> StreamFault | None:
            return StreamFault(1)

    async with ApoloEmulator(CommonOptions(step_ms=2)) as emulator:
        factory = apolo_sdk.Factory(tmp_path / "apolo")
        entry = emulator.ready_info()
        await factory.login_with_passed_config(entry["passed_config"])
        async with await factory.get() as sdk_client:
            job = await start(sdk_client, "sh -c 'echo first; sleep 1; echo second'")
            await wait_status(sdk_client, job.id, JobStatus.RUNNING)
            await asyncio.sleep(0.1)
            emulator.monitoring.faults = BreakAfterOneFrame()
            cut = (await logs_of(sdk_client, job.id, timestamps=True)).decode()
            assert cut.split(" ", 1)[1] == "first\n"  # one frame, then the stream is cut: no error raised
            assert (await sdk_client.jobs.status(job.id)).status is JobStatus.RUNNING  # ...while the job runs on
            emulator.monitoring.faults = FaultPlan()
            done = await wait_finished(sdk_client, job.id)
            assert done.status is JobStatus.SUCCEEDED
            assert (await logs_of(sdk_client, job.id)).endswith(b"second\n")
