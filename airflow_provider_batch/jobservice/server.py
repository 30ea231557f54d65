"""The job-service cache behind gRPC (`jobservice.JobService`), with its state in a store that survives restarts."""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import grpc
import grpc.aio

from airflow_provider_batch._proto.jobservice import jobservice_pb2 as pb
from airflow_provider_batch._proto.jobservice import jobservice_pb2_grpc as pb_grpc
from airflow_provider_batch.common.errors import is_transient
from airflow_provider_batch.common.jobref import JobRef
from airflow_provider_batch.common.states import JobState, JobStatus
from airflow_provider_batch.hooks.base import BatchHook
from airflow_provider_batch.jobservice.cache import FOLLOW_MIN_JOBS, JobServiceCache
from airflow_provider_batch.jobservice.store import JobStore

log = logging.getLogger(__name__)
State = pb.JobServiceResponse.State
SEED_STATE = {
    JobState.QUEUED: State.SUBMITTED,
    JobState.RUNNING: State.RUNNING,
    JobState.SUCCEEDED: State.SUCCEEDED,
    JobState.FAILED: State.FAILED,
    JobState.REJECTED: State.FAILED,
    JobState.CANCELLED: State.CANCELLED,
    JobState.UNKNOWN: State.JOB_ID_NOT_FOUND,
}
DEFAULT_INTERVAL = 5.0


def job_from_pb(message: pb.WatchedJob) -> JobRef:
    return JobRef.from_json(
        {"backend": message.backend, "conn_id": message.conn_id, "job_id": message.job_id, "details": message.details}
    )


def status_to_pb(job_id: str, status: JobStatus) -> pb.WatchedJobStatus:
    return pb.WatchedJobStatus(
        job_id=job_id, state=status.state.value, native_state=status.native_state, reason=status.reason
    )


def error_to_pb(job_id: str, error: BaseException) -> pb.WatchedJobStatus:
    return pb.WatchedJobStatus(job_id=job_id, error=str(error), retryable=is_transient(error))


class JobServiceServicer(pb_grpc.JobServiceServicer):
    """Answers from the cache; every call but Health needs `authorization: Bearer <token>`."""

    def __init__(
        self,
        hook_for: Callable[[str, str], BatchHook],
        token: str,
        store: JobStore | None = None,
        armada_conn_id: str = "armada_default",
        forget_after: float = 300.0,
        follow_min_jobs: int = FOLLOW_MIN_JOBS,
    ) -> None:
        self._token = token
        self._store = store
        self._armada_conn_id = armada_conn_id
        self._persisted: set[tuple[str, str, str]] = set()
        self._unsaved: dict[tuple[str, str, str], tuple[JobRef, JobStatus | None]] = {}
        self._writing = asyncio.Lock()
        self.flusher: asyncio.Task[None] | None = None
        self.cache = JobServiceCache(
            hook_for, forget_after, on_update=self._save if store else None, follow_min_jobs=follow_min_jobs
        )

    async def resume(self) -> int:
        """Watch again what the store remembers (jobs asked about within `forget_after`)."""
        if self._store is None:
            return 0
        remembered = await asyncio.to_thread(self._store.load, time.time() - self.cache.forget_after)
        for job, status in remembered:
            self.cache.watcher(job, DEFAULT_INTERVAL).watch(job, DEFAULT_INTERVAL, known=status)
            self._persisted.add((job.backend, job.conn_id, job.job_id))
        log.info("resumed watching %d jobs from the store", len(remembered))
        return len(remembered)

    async def _save(self, updates: list[tuple[JobRef, JobStatus]]) -> None:
        await self._write(updates)

    async def _remember(self, jobs: list[JobRef]) -> None:
        new = [job for job in jobs if (job.backend, job.conn_id, job.job_id) not in self._persisted]
        self._persisted.update((job.backend, job.conn_id, job.job_id) for job in new)
        await self._write([(job, None) for job in new])

    async def _write(self, rows: Sequence[tuple[JobRef, JobStatus | None]]) -> None:
        """Write to the store; when it is down (a database restart), keep the rows and write them next time.

        The cache goes on answering from memory meanwhile: a store outage never fails a caller.
        """
        if self._store is None:
            return
        for job, status in rows:
            key = (job.backend, job.conn_id, job.job_id)
            kept = self._unsaved.get(key)
            self._unsaved[key] = (job, status if status is not None else (kept[1] if kept else None))
        if not self._unsaved:
            return
        async with self._writing:
            pending = list(self._unsaved.items())
            try:
                await asyncio.to_thread(self._store.save, [row for _, row in pending])
            except Exception as error:
                log.warning("could not write %d jobs to the store (%s); will retry", len(pending), error)
                return
            for key, row in pending:
                if self._unsaved.get(key) is row:
                    del self._unsaved[key]

    async def flush_forever(self, every: float = 5.0) -> None:
        """Write what a store outage left unsaved, even when no job changes to trigger a write."""
        while True:
            await asyncio.sleep(every)
            await self._write([])

    async def _authorize(self, context: grpc.aio.ServicerContext) -> None:
        sent = dict(context.invocation_metadata() or ()).get("authorization", "")
        if not hmac.compare_digest(str(sent), f"Bearer {self._token}"):
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "a valid bearer token is required")

    async def _status(self, job: JobRef, interval: float) -> JobStatus | BaseException:
        try:
            return await self.cache.status(job, interval)
        except Exception as error:
            return error

    async def GetJobStatus(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        await self._authorize(context)
        details = {"queue": request.queue, "job_set_id": request.job_set_id}
        job = JobRef("armada", self._armada_conn_id, request.job_id, details)
        await self._remember([job])
        status = await self._status(job, DEFAULT_INTERVAL)
        if isinstance(status, BaseException):
            return pb.JobServiceResponse(state=State.CONNECTION_ERR, error=str(status))
        return pb.JobServiceResponse(state=SEED_STATE[status.state], error=status.reason)

    async def GetJobStatuses(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        await self._authorize(context)
        jobs = await self._jobs(request, context)
        interval = request.poll_interval or DEFAULT_INTERVAL
        answers = await asyncio.gather(*(self._status(job, interval) for job in jobs))
        return pb.JobStatusesResponse(statuses=[self._answer(job, a) for job, a in zip(jobs, answers, strict=True)])

    async def WatchJobs(self, request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        await self._authorize(context)
        jobs = await self._jobs(request, context)
        interval = request.poll_interval or DEFAULT_INTERVAL
        last: dict[str, Any] = {}
        while True:
            answers = await asyncio.gather(*(self._status(job, interval) for job in jobs))
            for job, answer in zip(jobs, answers, strict=True):
                message = self._answer(job, answer)
                if last.get(job.job_id) != message:
                    last[job.job_id] = message
                    yield message
            if all(isinstance(a, JobStatus) and a.state.is_terminal for a in answers):
                return
            await asyncio.sleep(interval / 2)

    async def Health(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        return pb.HealthCheckResponse(status=pb.HealthCheckResponse.SERVING)

    async def _jobs(self, request: Any, context: grpc.aio.ServicerContext) -> list[JobRef]:
        try:
            jobs = [job_from_pb(job) for job in request.jobs]
        except ValueError as error:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))
            raise
        await self._remember(jobs)
        return jobs

    @staticmethod
    def _answer(job: JobRef, answer: JobStatus | BaseException) -> Any:
        if isinstance(answer, BaseException):
            return error_to_pb(job.job_id, answer)
        return status_to_pb(job.job_id, answer)


async def serve(servicer: JobServiceServicer, host: str = "127.0.0.1", port: int = 0) -> tuple[grpc.aio.Server, int]:
    server = grpc.aio.server()
    pb_grpc.add_JobServiceServicer_to_server(servicer, server)
    bound = server.add_insecure_port(f"{host}:{port}")
    await servicer.resume()
    await server.start()
    servicer.flusher = asyncio.create_task(servicer.flush_forever())
    return server, bound
