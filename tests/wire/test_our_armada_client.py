"""Our ArmadaClient and ArmadaAsyncIOClient against the emulator: the same steps the real SDK's wire tests take."""

from __future__ import annotations

import uuid

import grpc
import pytest
import requests

from airflow_provider_batch.clients.armada.client import (
    ArmadaAsyncIOClient,
    ArmadaClient,
    ArmadaJobState,
    ArmadaRpcError,
    EventType,
)
from airflow_provider_batch.common.channel import CallCredentials, GrpcChannelArguments
from airflow_provider_batch.common.retry import RetryPolicy
from airflow_provider_batch.emulators import launch

pytestmark = pytest.mark.wire


def pod(script: str) -> dict:
    quantities = {"cpu": "100m", "memory": "64Mi"}
    return {
        "containers": [
            {
                "name": "main",
                "image": "busybox",
                "command": ["sh", "-c", script],
                "env": [{"name": "GREETING", "value": "hello"}],
                "resources": {"requests": quantities, "limits": quantities},
            }
        ]
    }


@pytest.fixture
def client(armada_emulator):
    args = GrpcChannelArguments(armada_emulator.target)
    channel = args.channel(CallCredentials.bearer(armada_emulator.token))
    yield ArmadaClient(channel)
    channel.close()


def follow_to_end(client: ArmadaClient, queue: str, job_set: str, job_ids: set[str]) -> dict[str, list[EventType]]:
    seen: dict[str, list[EventType]] = {job_id: [] for job_id in job_ids}
    stream = client.get_job_events_stream(queue, job_set)
    done: set[str] = set()
    for message in stream:
        event = client.unmarshal_event_response(message)
        seen.setdefault(event.job_id, []).append(event.type)
        if event.state is not None and event.state.is_terminal():
            done.add(event.job_id)
        if done >= job_ids:
            break
    client.unwatch_events(stream)
    return seen


def test_submit_follow_status_details_errors_and_logs(client, armada_queue):
    job_set = f"js-{uuid.uuid4().hex[:8]}"
    items = [
        client.create_job_request_item(pod_spec=pod('echo "$GREETING world"'), namespace="default", client_id="ok"),
        client.create_job_request_item(pod_spec=pod("echo bad >&2; exit 3"), namespace="default", client_id="bad"),
    ]
    response = client.submit_jobs(armada_queue, job_set, items)
    ok, bad = (item.job_id for item in response.job_response_items)
    seen = follow_to_end(client, armada_queue, job_set, {ok, bad})
    assert seen[ok][0] is EventType.submitted and seen[ok][-1] is EventType.succeeded
    assert EventType.running in seen[ok]
    assert seen[bad][-1] is EventType.failed

    states = client.get_job_status([ok, bad, "01UNKNOWNJOB0000000000000"]).job_states
    assert (
        ArmadaJobState(states[ok]) is ArmadaJobState.SUCCEEDED and ArmadaJobState(states[bad]) is ArmadaJobState.FAILED
    )
    assert ArmadaJobState(states["01UNKNOWNJOB0000000000000"]) is ArmadaJobState.UNKNOWN
    assert "code 3" in client.get_job_errors([bad]).job_errors[bad]
    details = client.get_job_details([ok]).job_details[ok]
    assert details.queue == armada_queue and details.jobset == job_set and details.job_runs
    run_id = details.latest_run_id
    assert client.get_job_run_details([run_id]).job_run_details[run_id].job_id == ok
    assert [line.line for line in client.get_job_logs(ok)] == ["hello world"]


def test_client_id_deduplicates_and_external_uri_finds(client, armada_queue):
    job_set = "dedup"
    item = client.create_job_request_item(
        pod_spec=pod("true"), namespace="default", client_id="same", external_job_uri="airflow://d/t/r/-1"
    )
    first = client.submit_jobs(armada_queue, job_set, [item]).job_response_items[0].job_id
    second = client.submit_jobs(armada_queue, job_set, [item]).job_response_items[0].job_id
    assert first == second
    found = client.get_job_status_by_external_job_uri(armada_queue, job_set, "airflow://d/t/r/-1").job_states
    assert list(found) == [first]


def test_cancel_reprioritize_and_queues(client, armada_queue):
    job_set = "cancel"
    item = client.create_job_request_item(pod_spec=pod("sleep 30"), namespace="default")
    job_id = client.submit_jobs(armada_queue, job_set, [item]).job_response_items[0].job_id
    assert client.reprioritize_jobs(5.0, [job_id], job_set, armada_queue).reprioritization_results[job_id] == ""
    client.cancel_jobs(armada_queue, job_set, job_id=job_id)
    seen = follow_to_end(client, armada_queue, job_set, {job_id})
    assert seen[job_id][-1] is EventType.cancelled
    assert client.get_queue(armada_queue).name == armada_queue
    assert armada_queue in {q.name for q in client.get_queues()}
    with pytest.raises(ArmadaRpcError) as raised:
        client.get_queue("no-such-queue")
    assert raised.value.code() is grpc.StatusCode.NOT_FOUND


def test_the_servers_refusal_keeps_its_words(client):
    item = client.create_job_request_item(pod_spec=pod("true"), namespace="default")
    with pytest.raises(ArmadaRpcError) as raised:
        client.submit_jobs("queue-that-does-not-exist", "js", [item])
    assert raised.value.code() is grpc.StatusCode.NOT_FOUND
    assert "queue-that-does-not-exist" in raised.value.details()


def test_a_wrong_token_is_unauthenticated(armada_emulator):
    channel = GrpcChannelArguments(armada_emulator.target).channel(CallCredentials.bearer("zz-not-the-token-zz"))
    with pytest.raises(ArmadaRpcError) as raised:
        ArmadaClient(channel).health()
    assert raised.value.code() is grpc.StatusCode.UNAUTHENTICATED
    assert "zz-not-the-token-zz" not in str(raised.value)


async def test_asyncio_client_does_the_same(armada_emulator, armada_queue):
    args = GrpcChannelArguments(armada_emulator.target)
    channel = args.aio_channel(CallCredentials.bearer(armada_emulator.token))
    client = ArmadaAsyncIOClient(channel)
    assert (await client.health()).status == 1
    item = client.create_job_request_item(pod_spec=pod("echo async"), namespace="default", client_id="a1")
    job_id = (await client.submit_jobs(armada_queue, "async", [item])).job_response_items[0].job_id
    stream = client.get_job_events_stream(armada_queue, "async")
    async for message in stream:
        event = client.unmarshal_event_response(message)
        if event.state is not None and event.state.is_terminal():
            assert event.state is ArmadaJobState.SUCCEEDED
            break
    client.unwatch_events(stream)
    assert ArmadaJobState((await client.get_job_status([job_id])).job_states[job_id]) is ArmadaJobState.SUCCEEDED
    assert [line.line for line in await client.get_job_logs(job_id)] == ["async"]
    await channel.close()


def test_twenty_jobs_survive_a_thirty_percent_fault_rate():
    """Faults before and after the server did the work: nothing lost, nothing duplicated."""
    args = ["--only", "armada", "--armada-port", "0", "--admin-port", "0", "--step-ms", "5"]
    with launch([*args, "--fault-rate", "0.3", "--fault-seed", "7"]) as emulators:
        target, token = emulators["armada"]["target"], emulators["armada"]["token"]
        channel = GrpcChannelArguments(target).channel(CallCredentials.bearer(token))
        client = ArmadaClient(channel, retry=RetryPolicy(max_attempts=12, initial_backoff=0.01, max_backoff=0.2))
        try:
            client.create_queue(client.create_queue_request("faulty"))
        except ArmadaRpcError as error:  # a retry after a lost reply finds the queue made
            assert error.code() is grpc.StatusCode.ALREADY_EXISTS
        items = [
            client.create_job_request_item(pod_spec=pod(f"echo job {i}"), namespace="default", client_id=f"job-{i}")
            for i in range(20)
        ]
        job_ids = [client.submit_jobs("faulty", "load", [item]).job_response_items[0].job_id for item in items]
        assert len(set(job_ids)) == 20
        seen = follow_to_end(client, "faulty", "load", set(job_ids))
        assert set(seen) == set(job_ids), "an event stream delivered jobs nobody submitted"
        assert all(events[-1] is EventType.succeeded for events in seen.values())
        assert all(events.count(EventType.submitted) == 1 for events in seen.values())
        states = client.get_job_status(job_ids).job_states
        assert {ArmadaJobState(s) for s in states.values()} == {ArmadaJobState.SUCCEEDED}
        channel.close()
        faults = requests.get(f"{emulators.admin}/faults", timeout=5).json()["armada"]
        assert faults.get("/api.Submit/SubmitJobs", 0) > 0, f"no submit was faulted, the test proves nothing: {faults}"
        assert sum(faults.values()) >= 10


def test_event_stream_reopens_after_silence_without_losing_or_repeating(armada_emulator, armada_queue):
    from datetime import timedelta

    channel = GrpcChannelArguments(armada_emulator.target).channel(CallCredentials.bearer(armada_emulator.token))
    client = ArmadaClient(channel, event_timeout=timedelta(seconds=0.3))
    item = client.create_job_request_item(pod_spec=pod("sleep 1.5; echo late"), namespace="default")
    job_id = client.submit_jobs(armada_queue, "quiet", [item]).job_response_items[0].job_id
    before = armada_emulator.stats().get("/api.Event/GetJobSetEvents", 0)
    seen = follow_to_end(client, armada_queue, "quiet", {job_id})
    reopened = armada_emulator.stats().get("/api.Event/GetJobSetEvents", 0) - before
    assert reopened >= 2, "the stream was never reopened on silence"
    assert len(seen[job_id]) == len(set(seen[job_id])), f"events repeated after reopening: {seen[job_id]}"
    assert seen[job_id][-1] is EventType.succeeded
    channel.close()
