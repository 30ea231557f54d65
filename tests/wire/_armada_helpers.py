"""Raw-stub helpers for the emulator wire tests (no project client involved)."""

from __future__ import annotations

from typing import Any

import grpc

from airflow_provider_batch._proto.armada import event_pb2, event_pb2_grpc, submit_pb2
from airflow_provider_batch._proto.armada.k8s import core_v1_pb2, resource_pb2

TERMINAL_EVENTS = {"succeeded", "failed", "cancelled", "preempted"}


def job_item(command: list[str], client_id: str = "", **item_fields: Any) -> Any:
    quantity = {"cpu": resource_pb2.Quantity(string="100m"), "memory": resource_pb2.Quantity(string="64Mi")}
    container = core_v1_pb2.Container(
        name="main",
        image="busybox",
        command=command,
        resources=core_v1_pb2.ResourceRequirements(requests=quantity, limits=quantity),
    )
    return submit_pb2.JobSubmitRequestItem(
        namespace="default", client_id=client_id, pod_specs=[core_v1_pb2.PodSpec(containers=[container])], **item_fields
    )


def follow_until(channel: grpc.Channel, queue: str, job_set: str, job_id: str, kinds: set[str]) -> list[Any]:
    """The job's events up to the first of `kinds`, read from a watching stream that is then cancelled."""
    stream = event_pb2_grpc.EventStub(channel).GetJobSetEvents(
        event_pb2.JobSetRequest(id=job_set, queue=queue, watch=True), timeout=30
    )
    seen = []
    try:
        for message in stream:
            kind = message.message.WhichOneof("events")
            if getattr(message.message, kind).job_id == job_id:
                seen.append(message)
                if kind in kinds:
                    return seen
    finally:
        stream.cancel()
    raise AssertionError(f"stream ended before any of {kinds}")


def kind_of(message: Any) -> str:
    return str(message.message.WhichOneof("events"))
