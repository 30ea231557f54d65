"""The one table between the common job states and the job service's original answer (`JobServiceResponse.state`,
the states of the original Armada job service: SUBMITTED, DUPLICATE_FOUND, RUNNING, ...), read both ways.

The server answers the original `GetJobStatus` with it; the trigger and the original-API surfaces read such answers
back with it. No Airflow import.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_batch._proto.jobservice import jobservice_pb2 as pb
from airflow_provider_batch.common.errors import SchedulerError
from airflow_provider_batch.common.states import JobState, JobStatus

WireState = pb.JobServiceResponse.State

TO_WIRE: dict[JobState, Any] = {
    JobState.QUEUED: WireState.SUBMITTED,
    JobState.RUNNING: WireState.RUNNING,
    JobState.SUCCEEDED: WireState.SUCCEEDED,
    JobState.FAILED: WireState.FAILED,
    JobState.REJECTED: WireState.FAILED,
    JobState.CANCELLED: WireState.CANCELLED,
    JobState.UNKNOWN: WireState.JOB_ID_NOT_FOUND,
}
# Read back: DUPLICATE_FOUND is a job the service found already submitted (still queued); CONNECTION_ERR is not a
# state of the job but the service failing to learn it, so it is raised as a retryable error (see `from_wire`).
FROM_WIRE: dict[int, JobState] = {
    WireState.SUBMITTED: JobState.QUEUED,
    WireState.DUPLICATE_FOUND: JobState.QUEUED,
    WireState.RUNNING: JobState.RUNNING,
    WireState.FAILED: JobState.FAILED,
    WireState.SUCCEEDED: JobState.SUCCEEDED,
    WireState.CANCELLED: JobState.CANCELLED,
    WireState.JOB_ID_NOT_FOUND: JobState.UNKNOWN,
}
# Every wire state but CONNECTION_ERR is read back as the state it was written from (REJECTED reads back FAILED).
assert all(FROM_WIRE[wire] in (state, JobState.FAILED) for state, wire in TO_WIRE.items())
assert set(FROM_WIRE) | {WireState.CONNECTION_ERR} == set(WireState.values())


def wire_name(state: int) -> str:
    return WireState.Name(state)


def from_wire(state: int, error: str) -> JobStatus:
    """A `GetJobStatus` answer as a JobStatus (native_state: the wire name); CONNECTION_ERR raises a retryable
    SchedulerError with the service's words, and a state this provider does not know raises a permanent one."""
    if state == WireState.CONNECTION_ERR:
        raise SchedulerError("job service", "GetJobStatus", "CONNECTION_ERR", error, retryable=True)
    if state not in FROM_WIRE:
        raise SchedulerError("job service", "GetJobStatus", "UNKNOWN_STATE", f"state {state!r}: {error}")
    return JobStatus(FROM_WIRE[state], wire_name(state), error)
