"""Armada's gRPC API as a Python client: `ArmadaClient` (blocking) and `ArmadaAsyncIOClient` (asyncio).

Both have the same method names (those of the `armada_client` package, plus what the current API adds) and know
nothing of Airflow. They take a channel you build, e.g. with `GrpcChannelArguments(...).channel(credentials)`.

Transient errors (UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED) are retried with bounded exponential backoff
and jitter; SubmitJobs only when every item carries a client_id, so a lost reply never duplicates a job. Requests
that Armada would refuse for their shape raise `InvalidJobSpecError` before anything is sent; what the server
refuses raises `ArmadaRpcError` (also a `grpc.RpcError`) with its words.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any, TypeVar

import grpc
import grpc.aio
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
from airflow_provider_batch.clients.armada import requests as req
from airflow_provider_batch.clients.armada.requests import ArmadaRpcError, is_transient
from airflow_provider_batch.clients.armada.spec import build_job_request_item
from airflow_provider_batch.clients.armada.streams import AsyncEventStream, EventStream
from airflow_provider_batch.clients.armada.types import ArmadaJobState, Event, EventType
from airflow_provider_batch.common.retry import NO_RETRY, RetryPolicy

__all__ = [
    "ArmadaAsyncIOClient",
    "ArmadaClient",
    "ArmadaJobState",
    "ArmadaRpcError",
    "Event",
    "EventType",
]

T = TypeVar("T")
DEFAULT_TIMEOUT = 30.0  # seconds per unary call
DEFAULT_EVENT_TIMEOUT = timedelta(minutes=15)  # silence after which an event stream is reopened


class _ArmadaBase:
    """What both clients share: stubs, retry policy and the local builders."""

    def __init__(
        self,
        channel: Any,
        binoculars_channel: Any | None,
        retry: RetryPolicy | None,
        timeout: float,
        event_timeout: timedelta,
    ) -> None:
        self._submit = submit_pb2_grpc.SubmitStub(channel)
        self._queues = submit_pb2_grpc.QueueServiceStub(channel)
        self._events = event_pb2_grpc.EventStub(channel)
        self._jobs = job_pb2_grpc.JobsStub(channel)
        self._binoculars = binoculars_pb2_grpc.BinocularsStub(binoculars_channel or channel)
        self.retry = retry or RetryPolicy()
        self.timeout = timeout
        self.event_timeout = event_timeout

    @staticmethod
    def create_job_request_item(
        priority: float = 1.0,
        pod_spec: Any = None,
        pod_specs: list[Any] | None = None,
        namespace: str | None = None,
        client_id: str | None = None,
        labels: Mapping[str, str] | None = None,
        annotations: Mapping[str, str] | None = None,
        required_node_labels: Mapping[str, str] | None = None,
        ingress: list[Any] | None = None,
        services: list[Any] | None = None,
        scheduler: str | None = None,
        external_job_uri: str | None = None,
    ) -> submit_pb2.JobSubmitRequestItem:
        """A validated job: pod_spec is a PodSpec message, a dict (k8s camelCase keys) or a YAML string."""
        return build_job_request_item(
            pod_spec,
            pod_specs=pod_specs,
            namespace=namespace,
            priority=priority,
            client_id=client_id,
            labels=labels,
            annotations=annotations,
            required_node_labels=required_node_labels,
            ingress=ingress,
            services=services,
            scheduler=scheduler,
            external_job_uri=external_job_uri,
        )

    @staticmethod
    def create_job_request(
        queue: str, job_set_id: str, job_request_items: Sequence[Any]
    ) -> submit_pb2.JobSubmitRequest:
        """A validated JobSubmitRequest (armada_client's builder): items are JobSubmitRequestItem messages or dicts."""
        return req.submit_request(queue, job_set_id, job_request_items)

    @staticmethod
    def create_queue_request(
        name: str,
        priority_factor: float | None = 1.0,
        user_owners: Sequence[str] | None = None,
        group_owners: Sequence[str] | None = None,
        resource_limits: Mapping[str, float] | None = None,
        permissions: Sequence[Any] | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> submit_pb2.Queue:
        return req.queue_request(name, priority_factor, user_owners, group_owners, resource_limits, permissions, labels)

    @staticmethod
    def unmarshal_event_response(event: event_pb2.EventStreamMessage) -> Event:
        return Event.from_stream_message(event)

    @staticmethod
    def unwatch_events(event_stream: EventStream | AsyncEventStream) -> None:
        event_stream.cancel()


class ArmadaClient(_ArmadaBase):
    """Blocking client. `max_workers` > 1 sends the batches of a large status query in parallel."""

    def __init__(
        self,
        channel: grpc.Channel,
        max_workers: int | None = None,
        *,
        binoculars_channel: grpc.Channel | None = None,
        retry: RetryPolicy | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        event_timeout: timedelta = DEFAULT_EVENT_TIMEOUT,
    ) -> None:
        super().__init__(channel, binoculars_channel, retry, timeout, event_timeout)
        self.max_workers = max_workers or 1

    def _call(self, method: Callable[..., T], request: Any, name: str, retry: bool = True) -> T:
        def once() -> T:
            try:
                return method(request, timeout=self.timeout)
            except grpc.RpcError as error:
                raise req.as_armada_error(error, name) from None

        policy = self.retry if retry else NO_RETRY
        return policy.call(once, is_transient, f"Armada {name}")

    def _batched(
        self,
        method: Callable[..., T],
        build: Callable[[list[str]], Any],
        ids: Sequence[str],
        name: str,
        retry: bool = True,
    ) -> list[T]:
        chunks = list(req.batches(ids))
        if self.max_workers <= 1 or len(chunks) <= 1:
            return [self._call(method, build(chunk), name, retry) for chunk in chunks]
        with ThreadPoolExecutor(max_workers=min(self.max_workers, len(chunks))) as pool:
            return list(pool.map(lambda chunk: self._call(method, build(chunk), name, retry), chunks))

    # -- submit, cancel, priority ------------------------------------------------------------------------------

    def submit_jobs(
        self, queue: str, job_set_id: str, job_request_items: Sequence[Any]
    ) -> submit_pb2.JobSubmitResponse:
        request = req.submit_request(queue, job_set_id, job_request_items)
        return self._call(self._submit.SubmitJobs, request, "SubmitJobs", req.every_item_has_client_id(request))

    def cancel_jobs(
        self,
        queue: str,
        job_set_id: str,
        job_id: str | None = None,
        job_ids: Sequence[str] | None = None,
        reason: str = "",
    ) -> submit_pb2.CancellationResult:
        """Cancel one job, several, or (with neither job_id nor job_ids) every job of the job set."""
        if not job_id and not job_ids:
            self.cancel_jobset(queue, job_set_id, [], reason)
            return submit_pb2.CancellationResult()
        return self._call(
            self._submit.CancelJobs, req.cancel_request(queue, job_set_id, job_id, job_ids, reason), "CancelJobs"
        )

    def cancel_jobset(
        self, queue: str, job_set_id: str, filter_states: Sequence[ArmadaJobState | int] | None = None, reason: str = ""
    ) -> empty_pb2.Empty:
        """Cancel the job set's jobs that are in one of `filter_states` (all of them when empty)."""
        request = req.cancel_jobset_request(queue, job_set_id, filter_states, reason)
        return self._call(self._submit.CancelJobSet, request, "CancelJobSet")

    def reprioritize_jobs(
        self, new_priority: float, job_ids: Sequence[str] | None, job_set_id: str, queue: str
    ) -> submit_pb2.JobReprioritizeResponse:
        request = req.reprioritize_request(new_priority, job_ids, job_set_id, queue)
        return self._call(self._submit.ReprioritizeJobs, request, "ReprioritizeJobs")

    def preempt_jobs(
        self, queue: str, job_set_id: str, job_id: str | Sequence[str], reason: str = ""
    ) -> submit_pb2.PreemptionResult:
        job_ids = [job_id] if isinstance(job_id, str) else list(job_id)
        return self._call(
            self._submit.PreemptJobs, req.preempt_request(queue, job_set_id, job_ids, reason), "PreemptJobs"
        )

    # -- queues ------------------------------------------------------------------------------------------------

    def create_queue(self, queue: Any) -> empty_pb2.Empty:
        return self._call(self._queues.CreateQueue, req.as_queue(queue), "CreateQueue")

    def update_queue(self, queue: Any) -> empty_pb2.Empty:
        return self._call(self._queues.UpdateQueue, req.as_queue(queue), "UpdateQueue")

    def create_queues(self, queues: Sequence[Any]) -> submit_pb2.BatchQueueCreateResponse:
        request = submit_pb2.QueueList(queues=[req.as_queue(q) for q in queues])
        return self._call(self._queues.CreateQueues, request, "CreateQueues")

    def update_queues(self, queues: Sequence[Any]) -> submit_pb2.BatchQueueUpdateResponse:
        request = submit_pb2.QueueList(queues=[req.as_queue(q) for q in queues])
        return self._call(self._queues.UpdateQueues, request, "UpdateQueues")

    def delete_queue(self, name: str) -> None:
        self._call(self._queues.DeleteQueue, submit_pb2.QueueDeleteRequest(name=name), "DeleteQueue")

    def get_queue(self, name: str) -> submit_pb2.Queue:
        return self._call(self._queues.GetQueue, submit_pb2.QueueGetRequest(name=name), "GetQueue")

    def get_queue_info(self, name: str) -> submit_pb2.QueueInfo:
        """The queue's active job sets with their queued and leased job counts (GetQueueInfo, older servers).

        Newer servers removed the call: then the queue is looked up (NOT_FOUND when it does not exist) and an
        ArmadaRpcError with code UNIMPLEMENTED says that this server does not support it.
        """
        try:
            return self._call(self._submit.GetQueueInfo, submit_pb2.QueueInfoRequest(name=name), "GetQueueInfo")
        except ArmadaRpcError as error:
            if error.code() != grpc.StatusCode.UNIMPLEMENTED:
                raise
        self.get_queue(name)
        raise req.queue_info_unsupported(name)

    def get_queues(self) -> list[submit_pb2.Queue]:
        def read_all() -> list[submit_pb2.Queue]:
            try:
                stream = self._queues.GetQueues(submit_pb2.StreamingQueueGetRequest(), timeout=self.timeout)
                return [m.queue for m in stream if m.WhichOneof("event") == "queue"]
            except grpc.RpcError as error:
                raise req.as_armada_error(error, "GetQueues") from None

        return self.retry.call(read_all, is_transient, "Armada GetQueues")

    # -- events ------------------------------------------------------------------------------------------------

    def get_job_events_stream(
        self,
        queue: str,
        job_set_id: str,
        from_message_id: str | None = None,
        *,
        watch: bool = True,
        retry: bool = True,
    ) -> EventStream:
        """The job set's events from after `from_message_id` (from the start when None).

        With watch=True the stream waits for new events until `unwatch_events(stream)`; with watch=False it ends at
        the last event so far. It reopens itself on silence and on UNAVAILABLE, from the last message it gave out;
        with retry=False it still reopens on silence, but raises the first UNAVAILABLE (its caller retries).
        """

        def open_call(last_id: str) -> Any:
            request = req.job_set_request(queue, job_set_id, last_id, watch, error_if_missing=False)
            return self._events.GetJobSetEvents(request)

        policy = self.retry if retry else NO_RETRY
        return EventStream(open_call, from_message_id, self.event_timeout.total_seconds(), policy)

    # -- query API ---------------------------------------------------------------------------------------------

    def get_job_status(self, job_ids: Sequence[str], *, retry: bool = True) -> job_pb2.JobStatusResponse:
        """States of any number of jobs (asked in batches of 500); unknown ids answer UNKNOWN. retry=False: one try
        (a caller that retries on its own, such as a wait policy)."""
        build = lambda ids: job_pb2.JobStatusRequest(job_ids=ids)  # noqa: E731
        return req.merge_status(self._batched(self._jobs.GetJobStatus, build, job_ids, "GetJobStatus", retry))

    def get_job_status_by_external_job_uri(
        self, queue: str, job_set_id: str, external_job_uri: str
    ) -> job_pb2.JobStatusResponse:
        request = req.external_uri_request(queue, job_set_id, external_job_uri)
        return self._call(self._jobs.GetJobStatusUsingExternalJobUri, request, "GetJobStatusUsingExternalJobUri")

    def get_job_details(
        self, job_ids: Sequence[str], expand_job_spec: bool = False, expand_job_run: bool = True
    ) -> job_pb2.JobDetailsResponse:
        build = lambda ids: job_pb2.JobDetailsRequest(  # noqa: E731
            job_ids=ids, expand_job_spec=expand_job_spec, expand_job_run=expand_job_run
        )
        return req.merge_details(self._batched(self._jobs.GetJobDetails, build, job_ids, "GetJobDetails"))

    def get_job_errors(self, job_ids: Sequence[str], *, retry: bool = True) -> job_pb2.JobErrorsResponse:
        build = lambda ids: job_pb2.JobErrorsRequest(job_ids=ids)  # noqa: E731
        return req.merge_errors(self._batched(self._jobs.GetJobErrors, build, job_ids, "GetJobErrors", retry))

    def get_job_run_details(self, run_ids: Sequence[str]) -> job_pb2.JobRunDetailsResponse:
        build = lambda ids: job_pb2.JobRunDetailsRequest(run_ids=ids)  # noqa: E731
        return req.merge_run_details(self._batched(self._jobs.GetJobRunDetails, build, run_ids, "GetJobRunDetails"))

    # -- logs and health ---------------------------------------------------------------------------------------

    def get_job_logs(
        self, job_id: str, since_time: str = "", pod_number: int = 0, pod_namespace: str = "default"
    ) -> list[binoculars_pb2.LogLine]:
        """The job's log lines after `since_time` (the timestamp of the last line already read), from Binoculars."""
        request = req.log_request(job_id, since_time, pod_number, pod_namespace)
        return list(self._call(self._binoculars.Logs, request, "Logs").log)

    def iter_job_logs(self, job_id: str, since_time: str = "", **kwargs: Any) -> Iterator[binoculars_pb2.LogLine]:
        yield from self.get_job_logs(job_id, since_time, **kwargs)

    def submit_health(self) -> health_pb2.HealthCheckResponse:
        return self._call(self._submit.Health, empty_pb2.Empty(), "Health")

    def event_health(self) -> health_pb2.HealthCheckResponse:
        return self._call(self._events.Health, empty_pb2.Empty(), "Health")

    health = submit_health


class ArmadaAsyncIOClient(_ArmadaBase):
    """The asyncio client: the same methods as `ArmadaClient`, as coroutines, on a `grpc.aio` channel."""

    def __init__(
        self,
        channel: grpc.aio.Channel,
        *,
        binoculars_channel: grpc.aio.Channel | None = None,
        retry: RetryPolicy | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        event_timeout: timedelta = DEFAULT_EVENT_TIMEOUT,
    ) -> None:
        super().__init__(channel, binoculars_channel, retry, timeout, event_timeout)

    async def _call(self, method: Callable[..., Any], request: Any, name: str, retry: bool = True) -> Any:
        async def once() -> Any:
            try:
                return await method(request, timeout=self.timeout)
            except grpc.RpcError as error:
                raise req.as_armada_error(error, name) from None

        policy = self.retry if retry else NO_RETRY
        return await policy.acall(once, is_transient, f"Armada {name}")

    async def _batched(
        self,
        method: Callable[..., Any],
        build: Callable[[list[str]], Any],
        ids: Sequence[str],
        name: str,
        retry: bool = True,
    ) -> list[Any]:
        calls = (self._call(method, build(chunk), name, retry) for chunk in req.batches(ids))
        return list(await asyncio.gather(*calls))

    async def submit_jobs(
        self, queue: str, job_set_id: str, job_request_items: Sequence[Any]
    ) -> submit_pb2.JobSubmitResponse:
        request = req.submit_request(queue, job_set_id, job_request_items)
        return await self._call(self._submit.SubmitJobs, request, "SubmitJobs", req.every_item_has_client_id(request))

    async def cancel_jobs(
        self,
        queue: str,
        job_set_id: str,
        job_id: str | None = None,
        job_ids: Sequence[str] | None = None,
        reason: str = "",
    ) -> submit_pb2.CancellationResult:
        if not job_id and not job_ids:
            await self.cancel_jobset(queue, job_set_id, [], reason)
            return submit_pb2.CancellationResult()
        request = req.cancel_request(queue, job_set_id, job_id, job_ids, reason)
        return await self._call(self._submit.CancelJobs, request, "CancelJobs")

    async def cancel_jobset(
        self, queue: str, job_set_id: str, filter_states: Sequence[ArmadaJobState | int] | None = None, reason: str = ""
    ) -> empty_pb2.Empty:
        request = req.cancel_jobset_request(queue, job_set_id, filter_states, reason)
        return await self._call(self._submit.CancelJobSet, request, "CancelJobSet")

    async def reprioritize_jobs(
        self, new_priority: float, job_ids: Sequence[str] | None, job_set_id: str, queue: str
    ) -> submit_pb2.JobReprioritizeResponse:
        request = req.reprioritize_request(new_priority, job_ids, job_set_id, queue)
        return await self._call(self._submit.ReprioritizeJobs, request, "ReprioritizeJobs")

    async def preempt_jobs(
        self, queue: str, job_set_id: str, job_id: str | Sequence[str], reason: str = ""
    ) -> submit_pb2.PreemptionResult:
        job_ids = [job_id] if isinstance(job_id, str) else list(job_id)
        request = req.preempt_request(queue, job_set_id, job_ids, reason)
        return await self._call(self._submit.PreemptJobs, request, "PreemptJobs")

    async def create_queue(self, queue: Any) -> empty_pb2.Empty:
        return await self._call(self._queues.CreateQueue, req.as_queue(queue), "CreateQueue")

    async def update_queue(self, queue: Any) -> empty_pb2.Empty:
        return await self._call(self._queues.UpdateQueue, req.as_queue(queue), "UpdateQueue")

    async def create_queues(self, queues: Sequence[Any]) -> submit_pb2.BatchQueueCreateResponse:
        request = submit_pb2.QueueList(queues=[req.as_queue(q) for q in queues])
        return await self._call(self._queues.CreateQueues, request, "CreateQueues")

    async def update_queues(self, queues: Sequence[Any]) -> submit_pb2.BatchQueueUpdateResponse:
        request = submit_pb2.QueueList(queues=[req.as_queue(q) for q in queues])
        return await self._call(self._queues.UpdateQueues, request, "UpdateQueues")

    async def delete_queue(self, name: str) -> None:
        await self._call(self._queues.DeleteQueue, submit_pb2.QueueDeleteRequest(name=name), "DeleteQueue")

    async def get_queue(self, name: str) -> submit_pb2.Queue:
        return await self._call(self._queues.GetQueue, submit_pb2.QueueGetRequest(name=name), "GetQueue")

    async def get_queue_info(self, name: str) -> submit_pb2.QueueInfo:
        """See ArmadaClient.get_queue_info."""
        try:
            request = submit_pb2.QueueInfoRequest(name=name)
            return await self._call(self._submit.GetQueueInfo, request, "GetQueueInfo")
        except ArmadaRpcError as error:
            if error.code() != grpc.StatusCode.UNIMPLEMENTED:
                raise
        await self.get_queue(name)
        raise req.queue_info_unsupported(name)

    async def get_queues(self) -> list[submit_pb2.Queue]:
        async def read_all() -> list[submit_pb2.Queue]:
            try:
                stream = self._queues.GetQueues(submit_pb2.StreamingQueueGetRequest(), timeout=self.timeout)
                return [m.queue async for m in stream if m.WhichOneof("event") == "queue"]
            except grpc.RpcError as error:
                raise req.as_armada_error(error, "GetQueues") from None

        return await self.retry.acall(read_all, is_transient, "Armada GetQueues")

    def get_job_events_stream(
        self,
        queue: str,
        job_set_id: str,
        from_message_id: str | None = None,
        *,
        watch: bool = True,
        retry: bool = True,
    ) -> AsyncEventStream:
        """`async for message in client.get_job_events_stream(...)`; see ArmadaClient.get_job_events_stream."""

        def open_call(last_id: str) -> Any:
            request = req.job_set_request(queue, job_set_id, last_id, watch, error_if_missing=False)
            return self._events.GetJobSetEvents(request)

        policy = self.retry if retry else NO_RETRY
        return AsyncEventStream(open_call, from_message_id, self.event_timeout.total_seconds(), policy)

    async def get_job_status(self, job_ids: Sequence[str], *, retry: bool = True) -> job_pb2.JobStatusResponse:
        build = lambda ids: job_pb2.JobStatusRequest(job_ids=ids)  # noqa: E731
        return req.merge_status(await self._batched(self._jobs.GetJobStatus, build, job_ids, "GetJobStatus", retry))

    async def get_job_status_by_external_job_uri(
        self, queue: str, job_set_id: str, external_job_uri: str
    ) -> job_pb2.JobStatusResponse:
        request = req.external_uri_request(queue, job_set_id, external_job_uri)
        return await self._call(self._jobs.GetJobStatusUsingExternalJobUri, request, "GetJobStatusUsingExternalJobUri")

    async def get_job_details(
        self, job_ids: Sequence[str], expand_job_spec: bool = False, expand_job_run: bool = True
    ) -> job_pb2.JobDetailsResponse:
        build = lambda ids: job_pb2.JobDetailsRequest(  # noqa: E731
            job_ids=ids, expand_job_spec=expand_job_spec, expand_job_run=expand_job_run
        )
        return req.merge_details(await self._batched(self._jobs.GetJobDetails, build, job_ids, "GetJobDetails"))

    async def get_job_errors(self, job_ids: Sequence[str], *, retry: bool = True) -> job_pb2.JobErrorsResponse:
        build = lambda ids: job_pb2.JobErrorsRequest(job_ids=ids)  # noqa: E731
        return req.merge_errors(await self._batched(self._jobs.GetJobErrors, build, job_ids, "GetJobErrors", retry))

    async def get_job_run_details(self, run_ids: Sequence[str]) -> job_pb2.JobRunDetailsResponse:
        build = lambda ids: job_pb2.JobRunDetailsRequest(run_ids=ids)  # noqa: E731
        return req.merge_run_details(
            await self._batched(self._jobs.GetJobRunDetails, build, run_ids, "GetJobRunDetails")
        )

    async def get_job_logs(
        self, job_id: str, since_time: str = "", pod_number: int = 0, pod_namespace: str = "default"
    ) -> list[binoculars_pb2.LogLine]:
        request = req.log_request(job_id, since_time, pod_number, pod_namespace)
        return list((await self._call(self._binoculars.Logs, request, "Logs")).log)

    async def submit_health(self) -> health_pb2.HealthCheckResponse:
        return await self._call(self._submit.Health, empty_pb2.Empty(), "Health")

    async def event_health(self) -> health_pb2.HealthCheckResponse:
        return await self._call(self._events.Health, empty_pb2.Empty(), "Health")

    health = submit_health
