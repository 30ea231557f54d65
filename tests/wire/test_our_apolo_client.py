"""Our Apolo clients (asyncio and sync) and hook against the Apolo emulator: passed-config login, a job's life,
its log, list filters, kill, typed errors, and many deferred jobs watched with one list call per interval."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import time
import urllib.request
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from conftest import ApoloEmulatorEndpoint

from airflow_provider_batch.clients.apolo.client import ApoloClient, ApoloSyncClient
from airflow_provider_batch.clients.apolo.config import ApoloConfig
from airflow_provider_batch.clients.apolo.errors import ApoloAuthError, ApoloBadRequestError, ApoloNotFoundError
from airflow_provider_batch.clients.apolo.logs import follow_log, read_new_lines, timestamp_ns
from airflow_provider_batch.clients.apolo.types import ApoloJobStatus
from airflow_provider_batch.common.identity import JobIdentity
from airflow_provider_batch.common.jobref import JobRef
from airflow_provider_batch.common.retry import RetryPolicy
from airflow_provider_batch.common.states import JobState
from airflow_provider_batch.emulators import launch
from airflow_provider_batch.hooks import apolo as hook_module
from airflow_provider_batch.hooks.apolo import PROVIDER_TAG, ApoloHook, ApoloSubmission
from airflow_provider_batch.triggers.batch import BatchJobTrigger

pytestmark = pytest.mark.wire

COUNT_TO_40 = "sh -c 'for i in $(seq 1 40); do echo n$i; sleep 0.01; done'"
FAST_RETRY = RetryPolicy(max_attempts=8, initial_backoff=0.05, max_backoff=0.3)


def config(endpoint: ApoloEmulatorEndpoint, token: str | None = None) -> ApoloConfig:
    made = ApoloConfig.from_passed_config(endpoint.passed_config, retry=FAST_RETRY)
    return dataclasses.replace(made, token=token) if token else made


def tag() -> str:
    return f"t-{uuid.uuid4().hex[:10]}"


async def wait_finished(client: ApoloClient, job_id: str, timeout: float = 20.0) -> list[ApoloJobStatus]:
    """The statuses seen, polling until the job is over."""
    seen: list[ApoloJobStatus] = []
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        status = (await client.status(job_id)).status
        if not seen or seen[-1] is not status:
            seen.append(status)
        if status.is_finished:
            return seen
        await asyncio.sleep(0.02)
    raise AssertionError(f"{job_id} did not finish: {seen}")


async def test_passed_config_login_and_a_job_from_pending_to_succeeded(apolo_emulator: ApoloEmulatorEndpoint) -> None:
    async with ApoloClient(config(apolo_emulator)) as apolo:
        assert await apolo.where() == (
            apolo_emulator.entry["cluster"],
            apolo_emulator.entry["org"],
            apolo_emulator.entry["project"],
        )
        server = await apolo.get_config()
        assert server.authorized and "cpu-small" in server.clusters[apolo_emulator.entry["cluster"]].presets
        job = await apolo.start(
            image="ubuntu:22.04",
            preset_name="cpu-small",
            command="sh -c 'sleep 0.3; echo \"$WHO says hi\"; echo second line'",
            env={"WHO": "wire"},
            name=f"wire-{uuid.uuid4().hex[:8]}",
            tags=["wire"],
            description="wire test",
            life_span=600,
        )
        assert job.status is ApoloJobStatus.PENDING and job.tags == ["wire"] and job.life_span == 600
        seen = await wait_finished(apolo, job.id)
        assert (
            seen[0] is ApoloJobStatus.PENDING
            and ApoloJobStatus.RUNNING in seen
            and seen[-1] is ApoloJobStatus.SUCCEEDED
        )
        done = await apolo.status(job.name or "")  # by name too
        assert done.id == job.id and done.history.exit_code == 0 and done.history.reason == "Completed"
        lines = [line async for line in follow_log(apolo, job.id)]
        assert [line.text for line in lines] == ["wire says hi", "second line"]
        assert lines[0].ns < lines[1].ns
        raw = b"".join([chunk async for chunk in apolo.monitor(job.id)])
        assert raw == b"wire says hi\nsecond line\n"
        after_first, cursor = await read_new_lines(apolo, job.id, lines[0].timestamp)
        assert [line.text for line in after_first] == ["second line"] and cursor == lines[1].timestamp


async def test_a_failing_job_reports_reason_and_exit_code(apolo_emulator: ApoloEmulatorEndpoint) -> None:
    async with ApoloClient(config(apolo_emulator)) as apolo:
        job = await apolo.start(image="ubuntu:22.04", preset_name="cpu-small", command="sh -c 'echo bad; exit 3'")
        await wait_finished(apolo, job.id)
        failed = await apolo.status(job.id)
        assert failed.status is ApoloJobStatus.FAILED and failed.history.exit_code == 3
        assert failed.failure_reason().startswith("failed (Error)") and "exit code 3" in failed.failure_reason()


async def test_list_filters_kill_and_typed_errors(apolo_emulator: ApoloEmulatorEndpoint) -> None:
    marker = tag()
    async with ApoloClient(config(apolo_emulator)) as apolo:
        jobs = [
            await apolo.start(image="ubuntu:22.04", preset_name="cpu-small", command="sleep 30", tags=[marker, f"n{i}"])
            for i in range(3)
        ]
        listed = [job.id async for job in apolo.list(tags=[marker])]
        assert listed == [job.id for job in jobs]
        assert [job.id async for job in apolo.list(tags=[marker], reverse=True, limit=2)] == [jobs[2].id, jobs[1].id]
        assert [job.id async for job in apolo.list(tags=[marker, "n1"])] == [jobs[1].id]
        since = datetime.now(timezone.utc) + timedelta(hours=1)
        assert [job.id async for job in apolo.list(tags=[marker], since=since)] == []
        await apolo.kill(jobs[0].id)
        await wait_finished(apolo, jobs[0].id)
        cancelled = await apolo.status(jobs[0].id)
        assert cancelled.status is ApoloJobStatus.CANCELLED and cancelled.history.reason == "UserRequested"
        finished = [job.id async for job in apolo.list(tags=[marker], statuses=ApoloJobStatus.finished_items())]
        assert finished == [jobs[0].id]
        for job in jobs[1:]:
            await apolo.kill(job.id)
        with pytest.raises(ApoloNotFoundError, match="no such job"):
            await apolo.status("job-does-not-exist")
        with pytest.raises(ApoloBadRequestError, match="preset"):
            await apolo.start(image="ubuntu:22.04", preset_name="no-such-preset", command="true")
        capacity = await apolo.get_capacity()
        assert capacity["cpu-small"] >= 1
    async with ApoloClient(config(apolo_emulator, token="wrong")) as intruder:
        with pytest.raises(ApoloAuthError):
            await intruder.get_config()


def test_the_sync_facade(apolo_emulator: ApoloEmulatorEndpoint) -> None:
    plain = ApoloConfig(token=apolo_emulator.token, url=apolo_emulator.url, retry=FAST_RETRY)
    with ApoloSyncClient(plain) as apolo:
        marker = tag()
        job = apolo.start(image="ubuntu:22.04", preset_name="cpu-small", command="echo from-sync", tags=[marker])
        assert [found.id for found in apolo.list(tags=[marker])] == [job.id]
        assert b"".join(apolo.monitor(job.id)) == b"from-sync\n"
        assert apolo.status(job.id).status is ApoloJobStatus.SUCCEEDED
        with pytest.raises(ApoloNotFoundError):
            apolo.kill("job-missing")


async def test_a_log_stream_that_breaks_is_resumed_without_loss_or_repeat() -> None:
    """With faults failing calls and cutting streams, follow_log still reads every line once, in order. (The
    unit tests break a log stream at a chosen point; here the emulator's own faults strike where they fall.)"""
    flags = ["--only", "apolo", "--apolo-port", "0", "--admin-port", "0", "--step-ms", "10"]
    emulators = await asyncio.to_thread(launch, [*flags, "--fault-rate", "0.5", "--fault-seed", "1"])
    try:
        ready = emulators["apolo"]
        retry = RetryPolicy(max_attempts=20, initial_backoff=0.02, max_backoff=0.1)
        async with ApoloClient(ApoloConfig.from_passed_config(ready["passed_config"], retry=retry)) as apolo:
            job = await retry.acall(
                lambda: apolo.start(
                    image="ubuntu:22.04",
                    preset_name="cpu-small",
                    command=COUNT_TO_40,
                ),
                lambda error: True,
            )
            lines = [line async for line in follow_log(apolo, job.id)]
        assert [line.text for line in lines] == [f"n{i}" for i in range(1, 41)]
        assert [timestamp_ns(line.timestamp) for line in lines] == sorted({line.ns for line in lines})
        with urllib.request.urlopen(f"{emulators.admin}/faults", timeout=10) as response:
            injected = json.load(response)["apolo"]
        assert sum(injected.values()) > 0, injected  # faults really struck
    finally:
        await asyncio.to_thread(emulators.stop)


def connection_env(endpoint: ApoloEmulatorEndpoint) -> str:
    return json.dumps({"conn_type": "apolo", "host": endpoint.url, "password": endpoint.passed_config})


async def test_many_deferred_jobs_are_watched_with_one_list_call_per_interval(
    apolo_emulator: ApoloEmulatorEndpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_APOLO_WIRE", connection_env(apolo_emulator))
    n = 100
    hook = ApoloHook("apolo_wire")
    run = f"run-{uuid.uuid4().hex[:6]}"
    refs = []
    for i in range(n):
        request = ApoloSubmission(
            "ubuntu:22.04", "cpu-small", command=f"sh -c 'sleep {1 + i % 3}; exit {3 if i % 25 == 0 else 0}'"
        )
        refs.append(await asyncio.to_thread(hook.submit_job, request, JobIdentity("wire_dag", "many", run, i), 0))
    async with ApoloClient(config(apolo_emulator)) as apolo:
        assert PROVIDER_TAG in (await apolo.status(refs[0].job_id)).tags
    before = apolo_emulator.stats()
    triggers = [BatchJobTrigger(ref.to_json(), poll_interval=0.5) for ref in refs]
    loop = asyncio.get_running_loop()
    started = loop.time()
    events = await asyncio.wait_for(asyncio.gather(*(t.run().__anext__() for t in triggers)), timeout=90)
    intervals = (loop.time() - started) / 0.5
    after = apolo_emulator.stats()

    def calls(route: str) -> int:
        return after.get(route, 0) - before.get(route, 0)

    statuses = [event.payload["status"] for event in events]
    assert statuses == ["failed" if i % 25 == 0 else "success" for i in range(n)]
    assert all("exit code 3" in e.payload["message"] for i, e in enumerate(events) if i % 25 == 0)
    assert calls("GET /api/v1/jobs/{job_id}") == 0  # no per-job poll
    lists = calls("GET /api/v1/jobs")
    sweeps = ApoloHook.sweeps_per_interval  # the cache reads twice per interval: one list call a read
    assert 1 <= lists <= sweeps * intervals + 2, f"{lists} list calls in {intervals:.0f} intervals"
    print(f"{n} deferred jobs: {lists} list calls in {intervals:.0f} poll intervals")
    await hook.aclose()
    hook.close()


def test_the_hook_starts_once_and_finds_its_job_again(
    apolo_emulator: ApoloEmulatorEndpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_APOLO_WIRE", connection_env(apolo_emulator))
    hook = ApoloHook("apolo_wire")
    identity = JobIdentity("wire_dag", "reattach", f"run-{uuid.uuid4().hex[:6]}")
    request = ApoloSubmission("ubuntu:22.04", "cpu-small", command="sleep 30", tags=["mine"])
    ref = hook.submit_job(request, identity, 0)
    assert ref.details["name"].startswith("reattach-") and ref.details["tag"].startswith("airflow-job-")
    # the same submission again: the name is taken by the live job, which the hook hands back
    assert hook.submit_job(request, identity, 0).job_id == ref.job_id
    found = hook.find_jobs(request, identity)
    assert [(job.job_id, status.state) for job, status in found] == [(ref.job_id, found[0][1].state)]
    assert found[0][1].state in (JobState.QUEUED, JobState.RUNNING)
    hook.cancel_job(ref, "test")
    for _ in range(200):
        status = hook.get_status(ref)
        if status.state.is_terminal:
            break
        time.sleep(0.02)
    assert status.state is JobState.CANCELLED and "UserRequested" in status.reason
    assert hook.get_status(hook.job_ref("job-gone", {})).state is JobState.UNKNOWN
    hook.close()


def states_until_over(hook: ApoloHook, ref: JobRef, timeout: float = 20.0) -> list[str]:
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = hook.get_status(ref)
        if not seen or seen[-1] != status.native_state:
            seen.append(status.native_state)
        if status.state.is_terminal:
            return [*seen, status.reason]
        time.sleep(0.02)
    raise AssertionError(f"{ref.job_id} did not end: {seen}")


def test_a_preempted_job_waits_and_a_life_span_cancels(
    apolo_emulator: ApoloEmulatorEndpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The session emulator suspends a cpu-spot job after 0.3 s of running, and one life-span minute lasts 0.5 s."""
    monkeypatch.setenv("AIRFLOW_CONN_APOLO_WIRE", connection_env(apolo_emulator))
    hook = ApoloHook("apolo_wire")
    run = f"run-{uuid.uuid4().hex[:6]}"
    spot = ApoloSubmission("ubuntu:22.04", "cpu-spot", command="sh -c 'sleep 0.5; echo done'")
    seen = states_until_over(hook, hook.submit_job(spot, JobIdentity("wire_dag", "spot", run), 0))
    assert "suspended" in seen and seen[-2:] == ["succeeded", ""], seen
    assert seen.index("running") < seen.index("suspended")
    short = ApoloSubmission("ubuntu:22.04", "cpu-small", command="sleep 30", life_span=60)
    seen = states_until_over(hook, hook.submit_job(short, JobIdentity("wire_dag", "short", run), 0))
    assert seen[-2:] == ["cancelled", "cancelled (LifeSpanEnded)"], seen
    hook.close()


def test_starts_survive_lost_answers_without_duplicates(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """At a 30% fault rate half the faults strike after the work: the job exists but its answer is lost. The hook
    finds it by its submission tag instead of starting it again, so every task instance ends with one job."""
    flags = ["--fault-rate", "0.3", "--fault-seed", "7", "--step-ms", "10"]
    with launch(["--only", "apolo", "--apolo-port", "0", "--admin-port", "0", *flags]) as emulators:
        ready = emulators["apolo"]
        monkeypatch.setenv(
            "AIRFLOW_CONN_APOLO_FAULTY",
            json.dumps({"conn_type": "apolo", "host": ready["url"], "password": ready["passed_config"]}),
        )
        monkeypatch.setattr(hook_module, "SUBMIT_RETRY", RetryPolicy(max_attempts=10, initial_backoff=0.01))
        hook = ApoloHook("apolo_faulty")
        patient = RetryPolicy(max_attempts=12, initial_backoff=0.01, max_backoff=0.05)
        hook.__dict__["client"] = ApoloSyncClient(dataclasses.replace(hook.settings.config, retry=patient))
        run = uuid.uuid4().hex[:6]
        identities = [JobIdentity("faulty_dag", f"task{i}", run) for i in range(12)]
        request = ApoloSubmission("ubuntu:22.04", "cpu-small", command="sleep 5")
        with caplog.at_level(logging.INFO, logger=hook_module.__name__):
            started = [hook.submit_job(request, identity, 0) for identity in identities]
        starts = emulators.stats()["apolo"].get("POST /api/v1/jobs", 0)
        mine = hook.client.list(tags=[f"airflow.run_id={run}"])
        assert sorted(job.id for job in mine) == sorted(ref.job_id for ref in started)  # one job per identity
        assert starts > len(identities)  # faults really struck the starts
        recovered = [r for r in caplog.records if "from an earlier start whose answer was lost" in r.getMessage()]
        assert recovered  # and some struck after the job was started
        for ref in started:
            hook.cancel_job(ref, "test over")
        hook.close()
