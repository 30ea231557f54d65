"""The Armada emulator's state machine, in process: no gRPC, real local processes."""

from __future__ import annotations

import asyncio
import os
import pathlib
import tempfile
from collections.abc import AsyncIterator
from typing import Any

import pytest

from airflow_provider_batch._proto.armada import event_pb2, submit_pb2
from airflow_provider_batch._proto.armada.k8s import core_v1_pb2, resource_pb2
from airflow_provider_batch.emulators.armada.state import ArmadaState
from airflow_provider_batch.emulators.errors import EmulatorError, ErrorKind
from airflow_provider_batch.emulators.runner import ProcessRunner

JobState = submit_pb2.JobState
TERMINAL = {"succeeded", "failed", "cancelled", "preempted"}


def item(command: list[str] | None, client_id: str = "", **pod: Any) -> Any:
    quantity = {"cpu": resource_pb2.Quantity(string="100m"), "memory": resource_pb2.Quantity(string="64Mi")}
    container = core_v1_pb2.Container(
        name="main",
        command=command or [],
        env=[core_v1_pb2.EnvVar(name="WHO", value="world")],
        resources=core_v1_pb2.ResourceRequirements(requests=quantity, limits=quantity),
    )
    return submit_pb2.JobSubmitRequestItem(
        namespace="default", client_id=client_id, pod_specs=[core_v1_pb2.PodSpec(containers=[container], **pod)]
    )


@pytest.fixture
async def state() -> AsyncIterator[ArmadaState]:
    armada = ArmadaState(ProcessRunner(max_running=4, default_timeout_s=30), step_s=0.001)
    armada.create_queue(submit_pb2.Queue(name="q", priority_factor=1))
    yield armada
    await armada.shutdown()


def submit(state: ArmadaState, *items: Any, job_set: str = "js") -> list[str]:
    return state.submit(submit_pb2.JobSubmitRequest(queue="q", job_set_id=job_set, job_request_items=list(items)))


async def events_until(state: ArmadaState, job_id: str, last: set[str], job_set: str = "js") -> list[Any]:
    """The job's event messages up to the first whose kind is in `last` (follows the stream, no polling)."""
    seen = []
    stream = state.events.stream("q", job_set)
    async with asyncio.timeout(20):
        async for message in stream.follow(0, watch=True):
            kind = message.message.WhichOneof("events")
            inner = getattr(message.message, kind)
            if inner.job_id == job_id:
                seen.append(message.message)
                if kind in last:
                    return seen
    raise AssertionError("stream ended")


def kinds(messages: list[Any]) -> list[str]:
    return [m.WhichOneof("events") for m in messages]


async def test_a_job_runs_through_every_state_to_success(state: ArmadaState) -> None:
    (job_id,) = submit(state, item(["sh", "-c", 'echo "hello $WHO"']))
    events = await events_until(state, job_id, TERMINAL)
    assert kinds(events) == ["submitted", "queued", "leased", "pending", "running", "succeeded"]
    submitted = events[0].submitted
    assert (submitted.job_id, submitted.job_set_id, submitted.queue) == (job_id, "js", "q")
    assert submitted.job.id == job_id and submitted.job.namespace == "default"
    assert submitted.job.pod_specs[0].containers[0].command == ["sh", "-c", 'echo "hello $WHO"']
    assert all(getattr(e, e.WhichOneof("events")).created.seconds > 0 for e in events)
    job = state.jobs[job_id]
    assert job.state == JobState.SUCCEEDED and job.error == ""
    assert [line.text for line in job.logs] == ["hello world"]


async def test_a_failing_job_reports_its_exit_code(state: ArmadaState) -> None:
    (job_id,) = submit(state, item(["sh", "-c", "echo broken >&2; exit 3"]))
    failed = (await events_until(state, job_id, TERMINAL))[-1].failed
    assert failed.reason == "process exited with code 3"
    assert dict(failed.exit_codes) == {"main": 3}
    assert failed.container_statuses[0].exitCode == 3
    assert failed.container_statuses[0].message == "broken"
    assert failed.cause == event_pb2.Cause.Error
    assert state.jobs[job_id].state == JobState.FAILED
    assert state.jobs[job_id].error == "process exited with code 3"


async def test_no_command_fails_with_a_clear_reason(state: ArmadaState) -> None:
    (job_id,) = submit(state, item(None))
    failed = (await events_until(state, job_id, TERMINAL))[-1].failed
    assert failed.reason == "the emulator runs the container's command; this pod spec has none"


async def test_active_deadline_fails_with_deadline_exceeded(state: ArmadaState) -> None:
    (job_id,) = submit(state, item(["sleep", "30"], activeDeadlineSeconds=1))
    failed = (await events_until(state, job_id, TERMINAL))[-1].failed
    assert failed.cause == event_pb2.Cause.DeadlineExceeded
    assert "deadline of 1 s (activeDeadlineSeconds)" in failed.reason


async def test_client_id_deduplicates_per_queue(state: ArmadaState) -> None:
    first = submit(state, item(["true"], client_id="same"))
    again = submit(state, item(["true"], client_id="same"), job_set="other-set")
    other = submit(state, item(["true"], client_id="different"))
    assert first == again != other
    state.create_queue(submit_pb2.Queue(name="q2"))
    in_other_queue = state.submit(
        submit_pb2.JobSubmitRequest(queue="q2", job_set_id="js", job_request_items=[item(["true"], client_id="same")])
    )
    assert in_other_queue != first


async def test_submit_to_a_missing_queue_is_not_found(state: ArmadaState) -> None:
    with pytest.raises(EmulatorError) as caught:
        state.submit(submit_pb2.JobSubmitRequest(queue="nope", job_set_id="js", job_request_items=[item(["true"])]))
    assert caught.value.kind is ErrorKind.NOT_FOUND and "'nope'" in caught.value.message


async def test_cancel_kills_a_running_job(state: ArmadaState) -> None:
    pid_file = os.path.join(tempfile.mkdtemp(), "pid")
    # Kubernetes turns "$$" in a command into "$", so the shell sees "echo $$".
    (job_id,) = submit(state, item(["sh", "-c", f"echo $$$$ > {pid_file}; exec sleep 30"]))
    await events_until(state, job_id, {"running"})
    pid_path = pathlib.Path(pid_file)
    while not pid_path.exists() or not pid_path.read_text().strip():  # the shell writes it right after starting
        await asyncio.sleep(0.01)
    pid = int(pid_path.read_text())
    assert await state.cancel_jobs("q", "js", [job_id], "no longer needed") == [job_id]
    assert kinds(await events_until(state, job_id, {"cancelled"}))[-2:] == ["cancelling", "cancelled"]
    job = state.jobs[job_id]
    assert job.state == JobState.CANCELLED and job.cancel_reason == "no longer needed"
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    # cancelling a terminal job is a no-op
    assert await state.cancel_jobs("q", "js", [job_id], "again") == []
    assert kinds(await events_until(state, job_id, {"cancelled"})).count("cancelling") == 1


async def test_cancel_job_set_honours_the_state_filter(state: ArmadaState) -> None:
    done, running = submit(state, item(["true"]), item(["sleep", "30"]))
    await events_until(state, done, TERMINAL)
    await events_until(state, running, {"running"})
    assert await state.cancel_job_set("q", "js", [JobState.QUEUED, JobState.PENDING], "") == []
    assert await state.cancel_job_set("q", "js", [JobState.RUNNING], "") == [running]
    assert state.jobs[done].state == JobState.SUCCEEDED
    assert state.jobs[running].state == JobState.CANCELLED


async def test_preempt(state: ArmadaState) -> None:
    (job_id,) = submit(state, item(["sleep", "30"]))
    await events_until(state, job_id, {"running"})
    assert await state.preempt("q", "js", [job_id], "make room") == {job_id: ""}
    events = await events_until(state, job_id, {"preempted"})
    assert kinds(events)[-2:] == ["preempting", "preempted"]
    assert events[-1].preempted.run_id == state.jobs[job_id].runs[0].run_id
    assert state.jobs[job_id].state == JobState.PREEMPTED
    assert state.jobs[job_id].error == "preempted: make room"


async def test_reprioritize(state: ArmadaState) -> None:
    (job_id,) = submit(state, item(["sleep", "30"]))
    assert state.reprioritize("q", "js", [job_id], 5.0) == {job_id: ""}
    events = await events_until(state, job_id, {"reprioritized"})
    assert kinds(events)[-2:] == ["reprioritizing", "reprioritized"]
    assert events[-1].reprioritized.new_priority == 5.0
    assert state.jobs[job_id].job.priority == 5.0
    assert state.reprioritize("q", "js", ["unknown"], 1.0) == {"unknown": "job unknown not found"}


async def test_jobs_beyond_max_running_wait_queued() -> None:
    armada = ArmadaState(ProcessRunner(max_running=1), step_s=0.001)
    armada.create_queue(submit_pb2.Queue(name="q"))
    try:
        first, second = submit(armada, item(["sleep", "30"]), item(["sleep", "30"]))
        await events_until(armada, first, {"running"})
        await events_until(armada, second, {"queued"})
        await asyncio.sleep(0.05)  # ample time for the second to be leased if nothing held it back
        assert armada.jobs[second].state == JobState.QUEUED
        await armada.cancel_jobs("q", "js", [first], "")
        await events_until(armada, second, {"running"})
    finally:
        await armada.shutdown()


async def test_ingest_lag_hides_new_jobs_from_queries() -> None:
    armada = ArmadaState(ProcessRunner(), step_s=0.001, ingest_lag_s=0.2)
    armada.create_queue(submit_pb2.Queue(name="q"))
    try:
        (job_id,) = submit(armada, item(["true"]))
        assert armada.visible(job_id) is None
        await asyncio.sleep(0.25)
        assert armada.visible(job_id) is not None
    finally:
        await armada.shutdown()


async def test_external_job_uri_from_field_or_annotation(state: ArmadaState) -> None:
    by_field = item(["true"])
    by_field.external_job_uri = "airflow://a"
    by_annotation = item(["true"])
    by_annotation.annotations["armadaproject.io/externalJobUri"] = "airflow://a"
    other = item(["true"])
    ids = submit(state, by_field, by_annotation, other)
    assert {job.id for job in state.by_external_uri("q", "js", "airflow://a")} == set(ids[:2])
    with pytest.raises(EmulatorError, match="external_job_uri must not be empty"):
        state.by_external_uri("q", "js", "")


async def test_queue_crud(state: ArmadaState) -> None:
    with pytest.raises(EmulatorError) as caught:
        state.create_queue(submit_pb2.Queue(name="q"))
    assert caught.value.kind is ErrorKind.ALREADY_EXISTS
    state.update_queue(submit_pb2.Queue(name="q", priority_factor=3))
    assert state.get_queue("q").priority_factor == 3
    state.delete_queue("q")
    with pytest.raises(EmulatorError) as caught:
        state.get_queue("q")
    assert caught.value.kind is ErrorKind.NOT_FOUND


def test_kubernetes_variable_expansion_in_command() -> None:
    from airflow_provider_batch.emulators.armada.podspec import expand, to_run_spec

    env = {"WHO": "world"}
    assert expand("hi $(WHO) $(MISSING) $$(WHO) $$", env) == "hi world $(MISSING) $(WHO) $"
    spec = item(["echo", "$(WHO)"]).pod_specs[0]
    run_spec = to_run_spec(spec)
    assert not isinstance(run_spec, str)
    assert list(run_spec.argv) == ["echo", "world"] and run_spec.env == {"WHO": "world"}
