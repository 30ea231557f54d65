"""Request messages for Armada calls and the handling of gRPC errors, shared by the sync and asyncio clients."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import grpc

from airflow_provider_batch._proto.armada import binoculars_pb2, event_pb2, job_pb2, submit_pb2
from airflow_provider_batch.clients.armada.spec import as_job_request_item, validate_job_set_id
from airflow_provider_batch.clients.armada.types import ArmadaJobState
from airflow_provider_batch.common import errors
from airflow_provider_batch.common.errors import InvalidJobSpecError, SchedulerError

MAX_IDS_PER_QUERY = 500  # Armada's queryapi.maxQueryItems: larger requests are refused
TRANSIENT_CODES = frozenset(
    {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.RESOURCE_EXHAUSTED}
)
# Refusals no retry can fix, and what to do about each (see common.errors); other codes are left to Airflow's retries.
PERMANENT_CODES: dict[grpc.StatusCode, tuple[str, str]] = {
    grpc.StatusCode.UNAUTHENTICATED: (
        errors.AUTHENTICATION,
        "check the connection's password (the bearer token), or login and password for basic auth",
    ),
    grpc.StatusCode.PERMISSION_DENIED: (
        errors.PERMISSION,
        "use a token whose user may submit to (and watch) the queue, or ask for the queue's permissions",
    ),
    grpc.StatusCode.NOT_FOUND: (errors.NOT_FOUND, ""),
    grpc.StatusCode.INVALID_ARGUMENT: (errors.INVALID, "correct the job request field the message names"),
}
QUEUE_FIX = "create the queue, or set queue= to an existing one"


def permanent_kind(status: grpc.StatusCode, details: str) -> tuple[str, str]:
    """(kind, fix) of a refusal; ("", "") for codes that a retry may get past (UNAVAILABLE, INTERNAL, ...)."""
    kind, fix = PERMANENT_CODES.get(status, ("", ""))
    if kind == errors.NOT_FOUND and "queue" in details.lower():
        fix = QUEUE_FIX
    return kind, fix


class ArmadaRpcError(SchedulerError, grpc.RpcError):
    """A call Armada refused or failed, in the server's own words.

    It is also a `grpc.RpcError` with `code()` and `details()`, so code written against armada_client that catches
    grpc.RpcError keeps working.
    """

    def __init__(self, call: str, status: grpc.StatusCode, details: str) -> None:
        kind, fix = permanent_kind(status, details)
        super().__init__("Armada", call, status.name, details, status in TRANSIENT_CODES, kind, fix)
        self._status = status

    def code(self) -> grpc.StatusCode:
        return self._status

    def details(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[type[ArmadaRpcError], tuple[str, grpc.StatusCode, str]]:
        return (type(self), (self.call, self._status, self.message))


def is_transient(error: BaseException) -> bool:
    """UNAVAILABLE, DEADLINE_EXCEEDED and RESOURCE_EXHAUSTED may succeed if tried again later."""
    return isinstance(error, grpc.RpcError) and _code(error) in TRANSIENT_CODES


def _code(error: grpc.RpcError) -> grpc.StatusCode | None:
    code = getattr(error, "code", None)
    return code() if callable(code) else None


def as_armada_error(error: grpc.RpcError, call: str) -> ArmadaRpcError:
    if isinstance(error, ArmadaRpcError):
        return error
    details = getattr(error, "details", None)
    text = details() if callable(details) else str(error)
    return ArmadaRpcError(call, _code(error) or grpc.StatusCode.UNKNOWN, text or "")


def batches(ids: Iterable[str], size: int = MAX_IDS_PER_QUERY) -> Iterator[list[str]]:
    """The ids in order, without repeats, in lists of at most `size`."""
    unique = list(dict.fromkeys(ids))
    for start in range(0, len(unique), size):
        yield unique[start : start + size]


def submit_request(queue: str, job_set_id: str, job_request_items: Sequence[Any]) -> submit_pb2.JobSubmitRequest:
    validate_job_set_id(queue, job_set_id)
    if isinstance(job_request_items, (str, bytes, Mapping)) or not isinstance(job_request_items, Sequence):
        raise InvalidJobSpecError(
            "job_request_items", f"is a {type(job_request_items).__name__}", "give a list of JobSubmitRequestItems"
        )
    if not job_request_items:
        raise InvalidJobSpecError("job_request_items", "is empty", "submit at least one job")
    items = [as_job_request_item(item, f"job_request_items[{i}]") for i, item in enumerate(job_request_items)]
    return submit_pb2.JobSubmitRequest(queue=queue, job_set_id=job_set_id, job_request_items=items)


def every_item_has_client_id(request: submit_pb2.JobSubmitRequest) -> bool:
    """SubmitJobs may be retried only then: Armada deduplicates by client_id, so a lost reply duplicates nothing."""
    return all(item.client_id for item in request.job_request_items)


def cancel_request(
    queue: str, job_set_id: str, job_id: str | None, job_ids: Sequence[str] | None, reason: str
) -> submit_pb2.JobCancelRequest:
    if not queue or not job_set_id:
        raise ValueError("queue and job_set_id are both needed to cancel jobs")
    return submit_pb2.JobCancelRequest(
        queue=queue, job_set_id=job_set_id, job_id=job_id or "", job_ids=list(job_ids or []), reason=reason
    )


def cancel_jobset_request(
    queue: str, job_set_id: str, filter_states: Sequence[ArmadaJobState | int] | None, reason: str
) -> submit_pb2.JobSetCancelRequest:
    validate_job_set_id(queue, job_set_id)
    states: list[Any] = [int(state) for state in filter_states or []]
    return submit_pb2.JobSetCancelRequest(
        queue=queue, job_set_id=job_set_id, filter=submit_pb2.JobSetFilter(states=states), reason=reason
    )


def reprioritize_request(
    new_priority: float, job_ids: Sequence[str] | None, job_set_id: str, queue: str
) -> submit_pb2.JobReprioritizeRequest:
    return submit_pb2.JobReprioritizeRequest(
        job_ids=list(job_ids or []), job_set_id=job_set_id, queue=queue, new_priority=new_priority
    )


def preempt_request(queue: str, job_set_id: str, job_ids: Sequence[str], reason: str) -> submit_pb2.JobPreemptRequest:
    return submit_pb2.JobPreemptRequest(queue=queue, job_set_id=job_set_id, job_ids=list(job_ids), reason=reason)


def job_set_request(
    queue: str, job_set_id: str, from_message_id: str | None, watch: bool, error_if_missing: bool
) -> event_pb2.JobSetRequest:
    return event_pb2.JobSetRequest(
        queue=queue,
        id=job_set_id,
        from_message_id=from_message_id or "",
        watch=watch,
        errorIfMissing=error_if_missing,
    )


def external_uri_request(queue: str, job_set_id: str, uri: str) -> job_pb2.JobStatusUsingExternalJobUriRequest:
    if not uri:
        raise ValueError("external_job_uri: is empty; Armada looks jobs up by a non-empty URI")
    return job_pb2.JobStatusUsingExternalJobUriRequest(queue=queue, jobset=job_set_id, external_job_uri=uri)


def log_request(job_id: str, since_time: str, pod_number: int, pod_namespace: str) -> binoculars_pb2.LogRequest:
    return binoculars_pb2.LogRequest(
        job_id=job_id, since_time=since_time, pod_number=pod_number, pod_namespace=pod_namespace
    )


def merge_status(responses: Iterable[job_pb2.JobStatusResponse]) -> job_pb2.JobStatusResponse:
    merged = job_pb2.JobStatusResponse()
    for response in responses:
        merged.job_states.update(response.job_states)
    return merged


def merge_details(responses: Iterable[job_pb2.JobDetailsResponse]) -> job_pb2.JobDetailsResponse:
    merged = job_pb2.JobDetailsResponse()
    for response in responses:
        for job_id, details in response.job_details.items():
            merged.job_details[job_id].CopyFrom(details)
    return merged


def merge_errors(responses: Iterable[job_pb2.JobErrorsResponse]) -> job_pb2.JobErrorsResponse:
    merged = job_pb2.JobErrorsResponse()
    for response in responses:
        merged.job_errors.update(response.job_errors)
    return merged


def merge_run_details(responses: Iterable[job_pb2.JobRunDetailsResponse]) -> job_pb2.JobRunDetailsResponse:
    merged = job_pb2.JobRunDetailsResponse()
    for response in responses:
        for run_id, details in response.job_run_details.items():
            merged.job_run_details[run_id].CopyFrom(details)
    return merged


def queue_request(
    name: str,
    priority_factor: float | None = 1.0,
    user_owners: Sequence[str] | None = None,
    group_owners: Sequence[str] | None = None,
    resource_limits: Mapping[str, float] | None = None,
    permissions: Sequence[Any] | None = None,
    labels: Mapping[str, str] | None = None,
) -> submit_pb2.Queue:
    """A Queue message; `permissions` are Queue.Permissions messages or dicts {subjects: [{kind, name}], verbs}."""
    if not name:
        raise ValueError("name: a queue needs a name")
    queue = submit_pb2.Queue(
        name=name,
        priority_factor=1.0 if priority_factor is None else priority_factor,
        user_owners=list(user_owners or []),
        group_owners=list(group_owners or []),
        resource_limits=dict(resource_limits or {}),
        labels=dict(labels or {}),
    )
    for permission in permissions or []:
        entry = queue.permissions.add()
        if isinstance(permission, Mapping):
            entry.verbs.extend(permission.get("verbs", []))
            for subject in permission.get("subjects", []):
                entry.subjects.add(kind=subject["kind"], name=subject["name"])
        else:
            entry.ParseFromString(permission.SerializeToString())
    return queue


def as_queue(queue: Any) -> submit_pb2.Queue:
    """Our Queue from ours or armada_client's."""
    if isinstance(queue, submit_pb2.Queue):
        return queue
    return submit_pb2.Queue.FromString(queue.SerializeToString())


def queue_info_unsupported(name: str) -> ArmadaRpcError:
    """What get_queue_info raises when the server no longer has GetQueueInfo (Armada removed it in 2024)."""
    return ArmadaRpcError(
        "GetQueueInfo",
        grpc.StatusCode.UNIMPLEMENTED,
        f"GetQueueInfo is not supported by this server (Armada removed it in 2024); queue {name!r} exists: use "
        "get_queue(name) for its settings and get_job_status(job_ids) for the states of your jobs",
    )
