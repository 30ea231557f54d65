"""The original armada_client, called as its documentation shows (positionally and by keyword), against the Armada
emulator: only the import lines differ from a script written for `armada_client`."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import grpc
import pytest

from airflow_provider_batch.common.channel import CallCredentials, GrpcChannelArguments

# -- the original imports, with this provider's prefix ------------------------------------------------------------
from airflow_provider_batch.compat.armada_client.armada import submit_pb2
from airflow_provider_batch.compat.armada_client.client import ArmadaClient
from airflow_provider_batch.compat.armada_client.event import Event
from airflow_provider_batch.compat.armada_client.k8s.io.api.core.v1 import generated_pb2 as core_v1
from airflow_provider_batch.compat.armada_client.k8s.io.apimachinery.pkg.api.resource import (
    generated_pb2 as api_resource,
)
from airflow_provider_batch.compat.armada_client.permissions import Permissions, Subject

pytestmark = [pytest.mark.wire, pytest.mark.timeout(120)]


@pytest.fixture
def client(armada_emulator: Any) -> Iterator[ArmadaClient]:
    channel = GrpcChannelArguments(armada_emulator.target).channel(CallCredentials.bearer(armada_emulator.token))
    yield ArmadaClient(channel)
    channel.close()


def pod_spec(script: str) -> core_v1.PodSpec:
    """The pod spec as the original examples build it, from the k8s message modules."""
    quantity = {"cpu": api_resource.Quantity(string="100m"), "memory": api_resource.Quantity(string="64Mi")}
    return core_v1.PodSpec(
        containers=[
            core_v1.Container(
                name="main",
                image="busybox",
                command=["sh", "-c", script],
                resources=core_v1.ResourceRequirements(requests=quantity, limits=quantity),
            )
        ]
    )


def submit(client: ArmadaClient, queue: str, job_set: str, script: str) -> str:
    item = client.create_job_request_item(pod_spec(script), 1, namespace="default")  # documented order, positional
    response = client.submit_jobs(queue, job_set, [item])
    assert response.job_response_items[0].error == ""
    return str(response.job_response_items[0].job_id)


def state_of(client: ArmadaClient, job_id: str, until: set[str], seconds: float = 30) -> str:
    deadline = time.monotonic() + seconds
    while True:
        state = submit_pb2.JobState.Name(client.get_job_status([job_id]).job_states[job_id])
        if state in until or time.monotonic() > deadline:
            return state
        time.sleep(0.1)


def test_create_and_update_queue_by_name_and_fields(client: ArmadaClient) -> None:
    name = f"compat-{uuid.uuid4().hex[:8]}"
    owner = Permissions([Subject("Group", "team")], ["submit", "cancel"])
    client.create_queue(name, priority_factor=2.0, user_owners=["alice"], permissions=[owner])
    queue = client.get_queue(name)
    assert (queue.priority_factor, list(queue.user_owners)) == (2.0, ["alice"])
    assert [(s.kind, s.name) for s in queue.permissions[0].subjects] == [("Group", "team")]
    assert client.update_queue(name=name, priority_factor=3.0) is None  # documented: returns None
    assert client.get_queue(name).priority_factor == 3.0
    client.update_queue(submit_pb2.Queue(name=name, priority_factor=4.0))  # the later form, a Queue message
    assert client.get_queue(name).priority_factor == 4.0
    client.delete_queue(name)
    with pytest.raises(grpc.RpcError) as missing:
        client.get_queue(name)
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND


def test_an_unknown_queue_field_is_refused_before_anything_is_sent(client: ArmadaClient) -> None:
    with pytest.raises(ValueError, match="no_such_field"):
        client.create_queue("q", no_such_field=1)


def test_create_job_request_item_positional_and_keyword_give_the_same_item(client: ArmadaClient) -> None:
    spec = pod_spec("true")
    positional = client.create_job_request_item(spec, 3, namespace="default")
    keyword = client.create_job_request_item(pod_spec=spec, priority=3, namespace="default")
    later_order = client.create_job_request_item(3, spec, namespace="default")  # armada_client >= 0.3 order
    assert positional == keyword == later_order
    assert (positional.priority, positional.namespace, len(positional.pod_specs)) == (3, "default", 1)
    request = client.create_job_request("q", "js", [positional])
    assert (request.queue, request.job_set_id, len(request.job_request_items)) == ("q", "js", 1)


def test_cancel_jobs_by_job_id_alone_looks_the_job_set_up(client: ArmadaClient, armada_queue: str) -> None:
    job_id = submit(client, armada_queue, "compat-cancel", "sleep 30")
    result = client.cancel_jobs(job_id=job_id)  # no queue, no job set: as the original documents
    assert list(result.cancelled_ids) == [job_id]
    assert state_of(client, job_id, {"CANCELLED"}) == "CANCELLED"


def test_cancel_jobs_positionally_and_by_job_set(client: ArmadaClient, armada_queue: str) -> None:
    first = submit(client, armada_queue, "compat-cancel-set", "sleep 30")
    second = submit(client, armada_queue, "compat-cancel-set", "sleep 30")
    client.cancel_jobs(armada_queue, first)  # (queue, job_id): the documented positional order
    assert state_of(client, first, {"CANCELLED"}) == "CANCELLED"
    client.cancel_jobs(queue=armada_queue, job_set_id="compat-cancel-set")
    assert state_of(client, second, {"CANCELLED"}) == "CANCELLED"
    with pytest.raises(ValueError, match="pass queue= too"):
        client.cancel_jobs(job_set_id="compat-cancel-set")
    with pytest.raises(grpc.RpcError) as unknown:
        client.cancel_jobs(job_id="01NOSUCHJOB0000000000000000")
    assert unknown.value.code() == grpc.StatusCode.NOT_FOUND


def test_reprioritize_jobs_with_defaults(client: ArmadaClient, armada_queue: str) -> None:
    job_id = submit(client, armada_queue, "compat-prio", "sleep 30")
    answer = client.reprioritize_jobs(5, [job_id])  # job set and queue looked up
    assert not answer.reprioritization_results.get(job_id)  # no error for the job
    answer = client.reprioritize_jobs(new_priority=6, job_set_id="compat-prio", queue=armada_queue)
    assert not any(answer.reprioritization_results.values())
    with pytest.raises(ValueError, match="reprioritize_jobs"):
        client.reprioritize_jobs(1)
    client.cancel_jobs(job_id=job_id)


def test_events_unmarshal_into_event_objects(client: ArmadaClient, armada_queue: str) -> None:
    job_id = submit(client, armada_queue, "compat-events", "true")
    stream = client.get_job_events_stream(armada_queue, "compat-events")
    kinds = []
    try:
        for message in stream:
            event = client.unmarshal_event_response(message)
            assert isinstance(event, Event) and event.message.job_id == job_id and event.id == message.id
            assert Event(message).type == event.type
            kinds.append(event.type.value)
            if event.type.value == "succeeded":
                break
    finally:
        client.unwatch_events(stream)
    assert kinds[0] == "submitted" and kinds[-1] == "succeeded"
    assert "Job ID: " + job_id in repr(event)


def test_get_queue_info_names_what_to_call_instead(client: ArmadaClient, armada_queue: str) -> None:
    """The emulator answers as today's servers: GetQueueInfo was removed (UNIMPLEMENTED)."""
    with pytest.raises(grpc.RpcError) as unsupported:
        client.get_queue_info(armada_queue)
    assert unsupported.value.code() == grpc.StatusCode.UNIMPLEMENTED
    details = str(unsupported.value.details())
    assert "use get_queue(name)" in details and "get_job_status(job_ids)" in details
    with pytest.raises(grpc.RpcError) as missing:
        client.get_queue_info(f"missing-{uuid.uuid4().hex[:6]}")
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND


def test_later_methods_come_from_the_core_client(client: ArmadaClient) -> None:
    assert client.submit_health().status == 1
    assert client.max_workers >= 1 and client.channel is not None
