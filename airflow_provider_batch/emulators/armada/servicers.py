"""gRPC servicers for api.Submit, api.QueueService, api.Event, api.Jobs and binoculars.Binoculars over one
ArmadaState. They translate messages and map EmulatorError to gRPC status codes; the logic is in the state."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import grpc
from google.protobuf import empty_pb2

from airflow_provider_batch._proto.armada import (
    binoculars_pb2,
    binoculars_pb2_grpc,
    event_pb2,
    event_pb2_grpc,
    health_pb2,
    job_pb2,
    job_pb2_grpc,
    submit_pb2,
    submit_pb2_grpc,
)
from airflow_provider_batch.emulators.armada.state import ArmadaState
from airflow_provider_batch.emulators.armada.validation import check_query_size
from airflow_provider_batch.emulators.errors import EmulatorError, ErrorKind, invalid, not_found
from airflow_provider_batch.emulators.timefmt import format_ns, parse_ns

GRPC_CODES = {
    ErrorKind.INVALID_ARGUMENT: grpc.StatusCode.INVALID_ARGUMENT,
    ErrorKind.NOT_FOUND: grpc.StatusCode.NOT_FOUND,
    ErrorKind.ALREADY_EXISTS: grpc.StatusCode.ALREADY_EXISTS,
    ErrorKind.FAILED_PRECONDITION: grpc.StatusCode.FAILED_PRECONDITION,
}
Context = Any  # grpc.aio.ServicerContext; grpc ships no type information
F = TypeVar("F", bound=Callable[..., Awaitable[Any]])


def answers_errors(method: F) -> F:
    """Turn an EmulatorError raised by a unary method into its gRPC status."""

    @functools.wraps(method)
    async def wrapper(self: Any, request: Any, context: Context) -> Any:
        try:
            return await method(self, request, context)
        except EmulatorError as err:
            await context.abort(GRPC_CODES[err.kind], err.message)

    return wrapper  # type: ignore[return-value]


def _serving() -> Any:
    return health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.SERVING)


class _QueueMethods:
    """Queue CRUD, served both by api.Submit (legacy duplicates) and api.QueueService."""

    def __init__(self, state: ArmadaState) -> None:
        self.state = state

    @answers_errors
    async def CreateQueue(self, request: Any, context: Context) -> Any:
        self.state.create_queue(request)
        return empty_pb2.Empty()

    @answers_errors
    async def CreateQueues(self, request: Any, context: Context) -> Any:
        response = submit_pb2.BatchQueueCreateResponse()
        for queue in request.queues:
            try:
                self.state.create_queue(queue)
            except EmulatorError as err:
                response.failed_queues.add(queue=queue, error=err.message)
        return response

    @answers_errors
    async def UpdateQueue(self, request: Any, context: Context) -> Any:
        self.state.update_queue(request)
        return empty_pb2.Empty()

    @answers_errors
    async def UpdateQueues(self, request: Any, context: Context) -> Any:
        response = submit_pb2.BatchQueueUpdateResponse()
        for queue in request.queues:
            try:
                self.state.update_queue(queue)
            except EmulatorError as err:
                response.failed_queues.add(queue=queue, error=err.message)
        return response

    @answers_errors
    async def DeleteQueue(self, request: Any, context: Context) -> Any:
        self.state.delete_queue(request.name)
        return empty_pb2.Empty()

    @answers_errors
    async def GetQueue(self, request: Any, context: Context) -> Any:
        return self.state.get_queue(request.name)

    async def GetQueues(self, request: Any, context: Context) -> AsyncIterator[Any]:
        queues = list(self.state.queues.values())
        if request.num:
            queues = queues[: request.num]
        for queue in queues:
            yield submit_pb2.StreamingQueueMessage(queue=queue)
        yield submit_pb2.StreamingQueueMessage(end=submit_pb2.EndMarker())


class SubmitServicer(_QueueMethods, submit_pb2_grpc.SubmitServicer):
    @answers_errors
    async def SubmitJobs(self, request: Any, context: Context) -> Any:
        ids = self.state.submit(request)
        return submit_pb2.JobSubmitResponse(
            job_response_items=[submit_pb2.JobSubmitResponseItem(job_id=job_id) for job_id in ids]
        )

    @answers_errors
    async def CancelJobs(self, request: Any, context: Context) -> Any:
        job_ids = [*([request.job_id] if request.job_id else []), *request.job_ids]
        if not job_ids and not request.job_set_id:
            raise invalid("give job_id, job_ids, or a queue and job_set_id to cancel a whole job set")
        cancelled = await self.state.cancel_jobs(request.queue, request.job_set_id, job_ids, request.reason)
        return submit_pb2.CancellationResult(cancelled_ids=cancelled)

    @answers_errors
    async def CancelJobSet(self, request: Any, context: Context) -> Any:
        await self.state.cancel_job_set(request.queue, request.job_set_id, request.filter.states, request.reason)
        return empty_pb2.Empty()

    @answers_errors
    async def ReprioritizeJobs(self, request: Any, context: Context) -> Any:
        results = self.state.reprioritize(
            request.queue, request.job_set_id, list(request.job_ids), request.new_priority
        )
        return submit_pb2.JobReprioritizeResponse(reprioritization_results=results)

    @answers_errors
    async def PreemptJobs(self, request: Any, context: Context) -> Any:
        results = await self.state.preempt(request.queue, request.job_set_id, list(request.job_ids), request.reason)
        return submit_pb2.PreemptionResult(preemption_results=results)

    # No GetQueueInfo: Armada removed it in 2024, and gRPC answers UNIMPLEMENTED for it, as today's servers do.

    async def Health(self, request: Any, context: Context) -> Any:
        return _serving()


class QueueServiceServicer(_QueueMethods, submit_pb2_grpc.QueueServiceServicer):
    @answers_errors
    async def CordonQueue(self, request: Any, context: Context) -> Any:
        self.state.set_cordoned(request.name, True)
        return empty_pb2.Empty()

    @answers_errors
    async def UncordonQueue(self, request: Any, context: Context) -> Any:
        self.state.set_cordoned(request.name, False)
        return empty_pb2.Empty()


class EventServicer(event_pb2_grpc.EventServicer):
    def __init__(self, state: ArmadaState) -> None:
        self.state = state

    async def GetJobSetEvents(self, request: Any, context: Context) -> AsyncIterator[Any]:
        try:
            if not request.queue:
                raise invalid("queue must not be empty")
            if not request.id:
                raise invalid("id (the job set id) must not be empty")
            self.state.get_queue(request.queue)
            if request.errorIfMissing and not self.state.events.exists(request.queue, request.id):
                raise not_found(f"job set {request.id!r} does not exist in queue {request.queue!r}")
            stream = self.state.events.stream(request.queue, request.id)
            start = stream.position_after(request.from_message_id)
        except EmulatorError as err:
            await context.abort(GRPC_CODES[err.kind], err.message)
            return
        async for message in stream.follow(start, request.watch):
            yield message

    async def Watch(self, request: Any, context: Context) -> AsyncIterator[Any]:
        """The deprecated rpc: GetJobSetEvents with watch on."""
        job_set_request = event_pb2.JobSetRequest(
            id=request.job_set_id, queue=request.queue, from_message_id=request.from_id, watch=True
        )
        async for message in self.GetJobSetEvents(job_set_request, context):
            yield message

    async def Health(self, request: Any, context: Context) -> Any:
        return _serving()


class JobsServicer(job_pb2_grpc.JobsServicer):
    def __init__(self, state: ArmadaState) -> None:
        self.state = state

    @answers_errors
    async def GetJobStatus(self, request: Any, context: Context) -> Any:
        check_query_size("job_ids", len(request.job_ids))
        states: dict[str, submit_pb2.JobState] = {}
        for job_id in request.job_ids:
            job = self.state.visible(job_id)
            states[job_id] = job.state if job is not None else submit_pb2.JobState.UNKNOWN
        return job_pb2.JobStatusResponse(job_states=states)

    @answers_errors
    async def GetJobStatusUsingExternalJobUri(self, request: Any, context: Context) -> Any:
        jobs = self.state.by_external_uri(request.queue, request.jobset, request.external_job_uri)
        return job_pb2.JobStatusResponse(job_states={job.id: job.state for job in jobs})

    @answers_errors
    async def GetJobDetails(self, request: Any, context: Context) -> Any:
        check_query_size("job_ids", len(request.job_ids))
        response = job_pb2.JobDetailsResponse()
        for job_id in request.job_ids:
            job = self.state.visible(job_id)
            if job is not None:
                response.job_details[job_id].CopyFrom(job.details(request.expand_job_spec, request.expand_job_run))
        return response

    @answers_errors
    async def GetJobErrors(self, request: Any, context: Context) -> Any:
        check_query_size("job_ids", len(request.job_ids))
        errors = {}
        for job_id in request.job_ids:
            job = self.state.visible(job_id)
            if job is not None:
                errors[job_id] = job.error if job.terminal else ""
        return job_pb2.JobErrorsResponse(job_errors=errors)

    @answers_errors
    async def GetJobRunDetails(self, request: Any, context: Context) -> Any:
        check_query_size("run_ids", len(request.run_ids))
        response = job_pb2.JobRunDetailsResponse()
        for run_id in request.run_ids:
            run = self.state.run(run_id)
            if run is not None and self.state.visible(run.job_id) is not None:
                response.job_run_details[run_id].CopyFrom(run.to_proto())
        return response


class BinocularsServicer(binoculars_pb2_grpc.BinocularsServicer):
    def __init__(self, state: ArmadaState) -> None:
        self.state = state

    @answers_errors
    async def Logs(self, request: Any, context: Context) -> Any:
        job = self.state.jobs.get(request.job_id)
        if job is None:
            raise not_found(f"job {request.job_id!r} does not exist")
        if not job.runs:
            raise not_found(f"job {request.job_id!r} has no pod yet (state {submit_pb2.JobState.Name(job.state)})")
        since_ns = -1
        if request.since_time:
            try:
                since_ns = parse_ns(request.since_time)
            except ValueError as err:
                raise invalid(f"since_time: {err}") from None
        lines = [
            binoculars_pb2.LogLine(timestamp=format_ns(line.timestamp_ns), line=line.text)
            for line in list(job.logs)
            if line.timestamp_ns > since_ns
        ]
        return binoculars_pb2.LogResponse(log=lines)
