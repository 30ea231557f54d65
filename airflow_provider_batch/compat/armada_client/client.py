"""`armada_client.client`: the original `ArmadaClient`, with its documented signatures, on this provider's client.

Change `from armada_client.client import ArmadaClient` to
`from airflow_provider_batch.compat.armada_client.client import ArmadaClient`. Every call goes through
`airflow_provider_batch.clients.armada.client.ArmadaClient` (kept as `.core`), so transient errors are retried and
requests are checked before they are sent. Calls the original documents in a form today's Armada no longer takes
are bridged here:

- `cancel_jobs(job_id=...)` and `reprioritize_jobs(p, job_ids=[...])` without the queue or job set: today's server
  needs both, so the job's queue and job set are looked up first (GetJobDetails).
- `cancel_jobs(queue=..., job_set_id=...)` cancels the job set (CancelJobSet, as today's server asks).
- `get_queue_info(name)`: asked of servers that still have it; on today's servers (Armada removed GetQueueInfo in
  2024) an `ArmadaRpcError` UNIMPLEMENTED names what to call instead: `get_queue(name)`, `get_job_status(ids)`.

Methods the original gained later (get_job_status, get_job_details, cancel_jobset, preempt_jobs, health checks,
...) are the core client's, with the same names.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import grpc
from google.protobuf import empty_pb2
from google.protobuf.message import Message

from airflow_provider_batch._proto.armada import event_pb2, submit_pb2
from airflow_provider_batch.clients.armada.client import ArmadaClient as CoreArmadaClient
from airflow_provider_batch.clients.armada.client import ArmadaRpcError
from airflow_provider_batch.compat.armada_client.event import Event


class ArmadaClient:
    """Client for accessing Armada over gRPC.

    channel: a gRPC channel (e.g. `grpc.insecure_channel("armada:50051")`, or
        `GrpcChannelArguments(target, tls=True).channel(CallCredentials.bearer(token))` for a token).
    max_workers: how many batches of a large status query are sent at once (default: the number of CPUs).
    """

    def __init__(self, channel: Any, max_workers: int | None = None) -> None:
        self.channel = channel
        self.max_workers = max_workers or os.cpu_count() or 1
        self.core = CoreArmadaClient(channel, self.max_workers)

    def __getattr__(self, name: str) -> Any:
        """The core client's other methods (get_job_status, cancel_jobset, submit_health, ...)."""
        if name in ("core", "channel", "max_workers"):  # not set yet (during unpickling): no recursion
            raise AttributeError(name)
        return getattr(self.core, name)

    # -- jobs --------------------------------------------------------------------------------------------------

    def submit_jobs(self, queue: str, job_set_id: str, job_request_items: Sequence[Any]) -> Any:
        """Submit the items (JobSubmitRequestItem messages, ours or armada_client's, or dicts) as one SubmitJobs
        call; a JobSubmitResponse with one job_response_item (job_id, error) per item."""
        return self.core.submit_jobs(queue, job_set_id, job_request_items)

    def cancel_jobs(
        self, queue: str | None = None, job_id: str | None = None, job_set_id: str | None = None
    ) -> submit_pb2.CancellationResult:
        """Cancel one job (job_id; its queue and job set are looked up when not given) or a whole job set
        (queue and job_set_id). A CancellationResult: the ids cancelled (empty for a job set)."""
        if job_id:
            if not queue or not job_set_id:
                queue, job_set_id = self._where(job_id, queue, job_set_id, "cancel_jobs")
            return self.core.cancel_jobs(queue, job_set_id, job_id=job_id)
        if not job_set_id:
            raise ValueError("cancel_jobs: give job_id, or queue and job_set_id (one of them is required)")
        if not queue:
            raise ValueError(
                f"cancel_jobs: queue is missing; Armada cancels job set {job_set_id!r} within its queue: "
                "pass queue= too"
            )
        self.core.cancel_jobset(queue, job_set_id)
        return submit_pb2.CancellationResult()

    def reprioritize_jobs(
        self,
        new_priority: float,
        job_ids: Sequence[str] | None = None,
        job_set_id: str | None = None,
        queue: str | None = None,
    ) -> submit_pb2.JobReprioritizeResponse:
        """Set new_priority on the jobs (job_ids; their queue and job set are looked up when not given) or on a
        whole job set (job_set_id and queue). A JobReprioritizeResponse: a map of job id to error ("" for done)."""
        if job_ids and (not queue or not job_set_id):
            queue, job_set_id = self._where(job_ids[0], queue, job_set_id, "reprioritize_jobs")
        if not queue or not job_set_id:
            raise ValueError("reprioritize_jobs: give job_ids, or job_set_id and queue (one of them is required)")
        return self.core.reprioritize_jobs(new_priority, list(job_ids or []), job_set_id, queue)

    def _where(self, job_id: str, queue: str | None, job_set_id: str | None, call: str) -> tuple[str, str]:
        """The queue and job set of a job, as Armada knows them (today's server needs both to act on a job)."""
        details = self.core.get_job_details([job_id]).job_details
        if job_id not in details:
            raise ArmadaRpcError(
                call, grpc.StatusCode.NOT_FOUND, f"job {job_id!r} is not known to Armada, so its job set is not known"
            )
        found = details[job_id]
        return queue or found.queue, job_set_id or found.jobset

    # -- queues ------------------------------------------------------------------------------------------------

    def create_queue(self, name: str, **queue_params: Any) -> empty_pb2.Empty:
        """Create the queue `name` with the Queue fields in queue_params (priority_factor, user_owners,
        group_owners, resource_limits, permissions as Permissions objects or messages, labels). A Queue message
        alone is taken as it is."""
        return self.core.create_queue(_queue(name, queue_params))

    def update_queue(self, name: str, **queue_params: Any) -> None:
        """Update the queue `name` to the Queue fields in queue_params (as create_queue)."""
        self.core.update_queue(_queue(name, queue_params))

    def delete_queue(self, name: str) -> None:
        """Delete an empty queue by name."""
        self.core.delete_queue(name)

    def get_queue(self, name: str) -> submit_pb2.Queue:
        """The queue's settings (a Queue message); ArmadaRpcError NOT_FOUND when it does not exist."""
        return self.core.get_queue(name)

    def get_queue_info(self, name: str) -> submit_pb2.QueueInfo:
        """The queue's active job sets (GetQueueInfo), from servers that still have it. Today's servers do not:
        then ArmadaRpcError UNIMPLEMENTED says to call get_queue(name) and get_job_status(job_ids) instead (or
        NOT_FOUND when the queue does not exist)."""
        return self.core.get_queue_info(name)

    # -- events ------------------------------------------------------------------------------------------------

    def get_job_events_stream(
        self, queue: str, job_set_id: str, from_message_id: str | None = None
    ) -> Iterator[event_pb2.EventStreamMessage]:
        """The job set's events as they come (a stream that reopens itself); stop it with unwatch_events."""
        return self.core.get_job_events_stream(queue, job_set_id, from_message_id)

    @staticmethod
    def unmarshal_event_response(event: event_pb2.EventStreamMessage) -> Event:
        """An Event (type, message, id) from a message of get_job_events_stream."""
        return Event(event)

    @staticmethod
    def unwatch_events(event_stream: Any) -> None:
        """Close an event stream from get_job_events_stream."""
        event_stream.cancel()

    # -- builders ----------------------------------------------------------------------------------------------

    @staticmethod
    def create_job_request(
        queue: str, job_set_id: str, job_request_items: Sequence[Any]
    ) -> submit_pb2.JobSubmitRequest:
        """A checked JobSubmitRequest from the queue, job set and items."""
        return CoreArmadaClient.create_job_request(queue, job_set_id, job_request_items)

    @staticmethod
    def create_job_request_item(pod_spec: Any, priority: float = 1, **job_item_params: Any) -> Any:
        """A checked JobSubmitRequestItem: pod_spec (a PodSpec message, ours or armada_client's, a dict or YAML),
        priority, and any other item field as a keyword (namespace, client_id, labels, annotations,
        required_node_labels, ingress, services, pod_specs)."""
        if isinstance(pod_spec, (int, float)) and isinstance(priority, (Message, Mapping, str)):
            pod_spec, priority = priority, pod_spec  # the later armada_client order: (priority, pod_spec)
        return CoreArmadaClient.create_job_request_item(priority=priority, pod_spec=pod_spec, **job_item_params)


def _queue(name: Any, params: Mapping[str, Any]) -> submit_pb2.Queue:
    if isinstance(name, Message):  # the later armada_client form: create_queue(queue_message)
        if params:
            raise TypeError("create_queue/update_queue: give a Queue message alone, or a name and Queue fields")
        return _as_queue(name)
    fields = dict(params)
    if "permissions" in fields:
        fields["permissions"] = [_permission(p) for p in fields["permissions"] or []]
    return submit_pb2.Queue(name=name, **fields)


def _as_queue(queue: Message) -> submit_pb2.Queue:
    return queue if isinstance(queue, submit_pb2.Queue) else submit_pb2.Queue.FromString(queue.SerializeToString())


def _permission(permission: Any) -> submit_pb2.Queue.Permissions:
    """A Queue.Permissions message from a Permissions object (to_grpc), a message (ours or armada_client's)."""
    message = permission.to_grpc() if hasattr(permission, "to_grpc") else permission
    return submit_pb2.Queue.Permissions.FromString(message.SerializeToString())


__all__ = ["ArmadaClient"]
