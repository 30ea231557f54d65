"""Clients of the job service (`jobservice.JobService`): the seed's JobServiceClient and its asyncio twin.

`get_job_status(queue, job_set_id, job_id)` and `health()` are the seed's calls; `get_job_statuses(jobs)` asks
about a batch of jobs of any backend at once.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Any

import grpc
from google.protobuf import empty_pb2

from airflow_provider_batch._proto.jobservice import jobservice_pb2 as pb
from airflow_provider_batch._proto.jobservice import jobservice_pb2_grpc as pb_grpc
from airflow_provider_batch.common.errors import AUTHENTICATION, PERMISSION, SchedulerError
from airflow_provider_batch.common.jobref import JobRef
from airflow_provider_batch.common.states import JobState as CommonState
from airflow_provider_batch.common.states import JobStatus

JobServiceRequest = pb.JobServiceRequest
JobServiceResponse = pb.JobServiceResponse


class JobServiceState(enum.IntEnum):
    """The seed's job-service states (its `JobState`), with the numbers of the wire (JobServiceResponse.state)."""

    SUBMITTED = 0
    DUPLICATE_FOUND = 1
    RUNNING = 2
    FAILED = 3
    SUCCEEDED = 4
    CANCELLED = 5
    JOB_ID_NOT_FOUND = 6
    CONNECTION_ERR = 7


assert {s.name: s.value for s in JobServiceState} == dict(pb.JobServiceResponse.State.items())


def statuses_request(jobs: Sequence[JobRef], poll_interval: float) -> pb.JobStatusesRequest:
    return pb.JobStatusesRequest(
        jobs=[pb.WatchedJob(backend=j.backend, conn_id=j.conn_id, job_id=j.job_id, details=j.details) for j in jobs],
        poll_interval=poll_interval,
    )


TRANSIENT = frozenset(
    {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.RESOURCE_EXHAUSTED}
)

# A wrong token or a refused one: no retry fixes these (see common.errors).
REFUSALS = {
    grpc.StatusCode.UNAUTHENTICATED: (AUTHENTICATION, "set the connection's password to the job service's --token"),
    grpc.StatusCode.PERMISSION_DENIED: (PERMISSION, "set the connection's password to the job service's --token"),
}


def as_error(error: grpc.RpcError, call: str) -> SchedulerError:
    """The service's refusal in its own words; UNAVAILABLE and the like are marked retryable."""
    code = error.code() if callable(getattr(error, "code", None)) else grpc.StatusCode.UNKNOWN
    details = error.details() if callable(getattr(error, "details", None)) else str(error)
    kind, fix = REFUSALS.get(code, ("", ""))
    return SchedulerError("job service", call, code.name, details or "", code in TRANSIENT, kind, fix)


def read_statuses(response: Any) -> dict[str, JobStatus | SchedulerError]:
    """Each job's state, or the error the service met learning it."""
    out: dict[str, JobStatus | SchedulerError] = {}
    for answer in response.statuses:
        if answer.error:
            out[answer.job_id] = SchedulerError(
                "job service", "GetJobStatuses", "ERROR", answer.error, answer.retryable
            )
        else:
            out[answer.job_id] = JobStatus(CommonState(answer.state), answer.native_state, answer.reason)
    return out


class JobServiceClient:
    def __init__(self, channel: Any, timeout: float = 30.0) -> None:
        self._stub = pb_grpc.JobServiceStub(channel)
        self.timeout = timeout

    def get_job_status(self, queue: str, job_set_id: str, job_id: str) -> pb.JobServiceResponse:
        request = pb.JobServiceRequest(queue=queue, job_set_id=job_set_id, job_id=job_id)
        return self._stub.GetJobStatus(request, timeout=self.timeout)

    def get_job_statuses(
        self, jobs: Sequence[JobRef], poll_interval: float = 5.0
    ) -> dict[str, JobStatus | SchedulerError]:
        try:
            response = self._stub.GetJobStatuses(statuses_request(jobs, poll_interval), timeout=self.timeout)
        except grpc.RpcError as error:
            raise as_error(error, "GetJobStatuses") from None
        return read_statuses(response)

    def health(self) -> pb.HealthCheckResponse:
        return self._stub.Health(empty_pb2.Empty(), timeout=self.timeout)


class JobServiceAsyncIOClient:
    def __init__(self, channel: Any, timeout: float = 30.0) -> None:
        self._stub = pb_grpc.JobServiceStub(channel)
        self.timeout = timeout

    async def get_job_status(self, queue: str, job_set_id: str, job_id: str) -> pb.JobServiceResponse:
        request = pb.JobServiceRequest(queue=queue, job_set_id=job_set_id, job_id=job_id)
        return await self._stub.GetJobStatus(request, timeout=self.timeout)

    async def get_job_statuses(
        self, jobs: Sequence[JobRef], poll_interval: float = 5.0
    ) -> dict[str, JobStatus | SchedulerError]:
        request = statuses_request(jobs, poll_interval)
        try:
            response = await self._stub.GetJobStatuses(request, timeout=self.timeout)
        except grpc.RpcError as error:
            raise as_error(error, "GetJobStatuses") from None
        return read_statuses(response)

    async def health(self) -> pb.HealthCheckResponse:
        return await self._stub.Health(empty_pb2.Empty(), timeout=self.timeout)
