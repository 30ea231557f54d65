"""The real armada_client 0.5.1 SDK against the emulator: proof that the emulator speaks Armada's wire protocol."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import grpc
import pytest

armada_client = pytest.importorskip("armada_client.client")
from armada_client.k8s.io.api.core.v1 import generated_pb2 as core_v1  # noqa: E402
from armada_client.k8s.io.apimachinery.pkg.api.resource import generated_pb2 as resource  # noqa: E402
from armada_client.typings import EventType, JobState  # noqa: E402

pytestmark = pytest.mark.wire
ArmadaClient = armada_client.ArmadaClient
TERMINAL = {EventType.succeeded, EventType.failed, EventType.cancelled, EventType.preempted}


@pytest.fixture
def client(armada_channel: grpc.Channel) -> ArmadaClient:
    return ArmadaClient(armada_channel)


@pytest.fixture
def queue(client: ArmadaClient) -> str:
    name = f"sdk-{uuid.uuid4().hex[:10]}"
    client.create_queue(client.create_queue_request(name, priority_factor=1.0))
    return name


def pod(command: list[str]) -> Any:
    amount = {"cpu": resource.Quantity(string="100m"), "memory": resource.Quantity(string="64Mi")}
    return core_v1.PodSpec(
        restartPolicy="Never",
        containers=[
            core_v1.Container(
                name="main",
                image="busybox:latest",
                command=command,
                resources=core_v1.ResourceRequirements(requests=amount, limits=amount),
            )
        ],
    )


def submit(client: ArmadaClient, queue: str, job_set: str, command: list[str], client_id: str | None = None) -> str:
    item = client.create_job_request_item(priority=1, pod_spec=pod(command), namespace="default", client_id=client_id)
    response = client.submit_jobs(queue=queue, job_set_id=job_set, job_request_items=[item])
    assert response.job_response_items[0].error == ""
    return str(response.job_response_items[0].job_id)


def events_until(client: ArmadaClient, queue: str, job_set: str, job_id: str, until: set[EventType]) -> list[Any]:
    """Follow the job set with the SDK's own (watching) stream until one of `until`, then unwatch."""
    stream = client.get_job_events_stream(queue=queue, job_set_id=job_set)
    seen = []
    try:
        for message in stream:
            event = client.unmarshal_event_response(message)
            if event.message.job_id == job_id:
                seen.append(event)
                if event.type in until:
                    return seen
    finally:
        client.unwatch_events(stream)
    raise AssertionError("the event stream ended")


@pytest.fixture
def job_set() -> Iterator[str]:
    yield f"set-{uuid.uuid4().hex[:8]}"


def test_health(client: ArmadaClient) -> None:
    assert client.submit_health().status == 1  # SERVING
    assert client.event_health().status == 1


def test_successful_job(client: ArmadaClient, queue: str, job_set: str) -> None:
    job_id = submit(client, queue, job_set, ["sh", "-c", "echo hello; exit 0"])
    events = events_until(client, queue, job_set, job_id, TERMINAL)
    assert [e.type for e in events] == [
        EventType.submitted,
        EventType.queued,
        EventType.leased,
        EventType.pending,
        EventType.running,
        EventType.succeeded,
    ]
    assert events[0].message.job.pod_specs[0].containers[0].command == ["sh", "-c", "echo hello; exit 0"]
    assert JobState(client.get_job_status([job_id]).job_states[job_id]) == JobState.SUCCEEDED
    details = client.get_job_details([job_id]).job_details[job_id]
    assert details.queue == queue and details.jobset == job_set and len(details.job_runs) == 1
    assert client.get_job_errors([job_id]).job_errors[job_id] == ""
    runs = client.get_job_run_details([details.latest_run_id]).job_run_details
    assert runs[details.latest_run_id].job_id == job_id


def test_failing_job_reports_its_reason(client: ArmadaClient, queue: str, job_set: str) -> None:
    job_id = submit(client, queue, job_set, ["sh", "-c", "echo bad >&2; exit 3"])
    failed = events_until(client, queue, job_set, job_id, TERMINAL)[-1]
    assert failed.type == EventType.failed
    assert "exited with code 3" in failed.message.reason
    assert JobState(client.get_job_status([job_id]).job_states[job_id]) == JobState.FAILED
    assert client.get_job_errors([job_id]).job_errors[job_id] == "process exited with code 3"


def test_cancel_a_long_running_job(client: ArmadaClient, queue: str, job_set: str) -> None:
    job_id = submit(client, queue, job_set, ["sleep", "30"])
    events_until(client, queue, job_set, job_id, {EventType.running})
    assert list(client.cancel_jobs(queue=queue, job_set_id=job_set, job_id=job_id).cancelled_ids) == [job_id]
    events = events_until(client, queue, job_set, job_id, TERMINAL)
    assert [e.type for e in events][-2:] == [EventType.cancelling, EventType.cancelled]
    assert JobState(client.get_job_status([job_id]).job_states[job_id]) == JobState.CANCELLED


def test_cancel_job_set_with_state_filter(client: ArmadaClient, queue: str, job_set: str) -> None:
    job_id = submit(client, queue, job_set, ["sleep", "30"])
    events_until(client, queue, job_set, job_id, {EventType.running})
    client.cancel_jobset(queue=queue, job_set_id=job_set, filter_states=[JobState.RUNNING])
    assert events_until(client, queue, job_set, job_id, TERMINAL)[-1].type == EventType.cancelled


def test_reprioritize(client: ArmadaClient, queue: str, job_set: str) -> None:
    job_id = submit(client, queue, job_set, ["sleep", "30"])
    response = client.reprioritize_jobs(new_priority=3.0, job_ids=[job_id], job_set_id=job_set, queue=queue)
    assert dict(response.reprioritization_results) == {job_id: ""}
    reprioritized = events_until(client, queue, job_set, job_id, {EventType.reprioritized})[-1]
    assert reprioritized.message.new_priority == 3.0
    client.cancel_jobs(queue=queue, job_set_id=job_set, job_id=job_id)


def test_client_id_deduplicates(client: ArmadaClient, queue: str, job_set: str) -> None:
    first = submit(client, queue, job_set, ["true"], client_id="airflow-dag-task-run-0")
    second = submit(client, queue, job_set, ["true"], client_id="airflow-dag-task-run-0")
    assert first == second
    assert submit(client, queue, job_set, ["true"], client_id="airflow-dag-task-run-1") != first


def test_queue_calls(client: ArmadaClient, queue: str) -> None:
    assert client.get_queue(queue).name == queue
    assert queue in {q.name for q in client.get_queues()}
    client.delete_queue(queue)
    with pytest.raises(grpc.RpcError) as caught:
        client.get_queue(queue)
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


async def test_asyncio_client_against_the_in_process_emulator() -> None:
    from armada_client.asyncio_client import ArmadaAsyncIOClient

    from airflow_provider_batch.emulators import ArmadaEmulator
    from airflow_provider_batch.emulators.testing import authorized_aio_channel

    async with ArmadaEmulator(port=0, step_ms=5) as emulator:
        async with authorized_aio_channel(emulator.target, emulator.token) as channel:
            client = ArmadaAsyncIOClient(channel)
            await client.create_queue(client.create_queue_request("aio", priority_factor=1.0))
            item = client.create_job_request_item(pod_spec=pod(["sh", "-c", "exit 7"]), namespace="default")
            response = await client.submit_jobs(queue="aio", job_set_id="js", job_request_items=[item])
            job_id = response.job_response_items[0].job_id
            stream = await client.get_job_events_stream(queue="aio", job_set_id="js")
            async for message in stream:
                event = client.unmarshal_event_response(message)
                if event.type in TERMINAL:
                    break
            client.unwatch_events(stream)
            assert event.type == EventType.failed and event.message.reason == "process exited with code 7"
            assert (await client.get_job_errors([job_id])).job_errors[job_id] == "process exited with code 7"
        assert emulator.counter.get("/api.Submit/SubmitJobs") == 1
