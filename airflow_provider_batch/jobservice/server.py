"""The job-service cache behind gRPC (`jobservice.JobService`), with its state in a store that survives restarts.

Every request is checked at the trust boundary (`jobservice.boundary`, `common.limits`) before a hook is built or a
connection is looked up; what fails is refused with INVALID_ARGUMENT and the field's name. The service listens
with TLS (and optionally asks clients for certificates) when given a certificate and key.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import grpc.aio

from airflow_provider_batch._proto.jobservice import jobservice_pb2 as pb
from airflow_provider_batch._proto.jobservice import jobservice_pb2_grpc as pb_grpc
from airflow_provider_batch.backends import hook_for
from airflow_provider_batch.common.errors import InvalidJobSpecError, is_transient
from airflow_provider_batch.common.jobref import JobRef
from airflow_provider_batch.common.limits import (
    check_conn_id,
    check_job_id,
    check_job_set_id,
    check_poll_interval,
    check_queue,
)
from airflow_provider_batch.common.states import JobStatus
from airflow_provider_batch.hooks.base import BatchHook
from airflow_provider_batch.jobservice.boundary import checked_job, checked_jobs
from airflow_provider_batch.jobservice.cache import FOLLOW_MIN_JOBS, JobServiceCache
from airflow_provider_batch.jobservice.states import TO_WIRE, WireState
from airflow_provider_batch.jobservice.store import JobStore, Key

log = logging.getLogger(__name__)
DEFAULT_INTERVAL = 5.0
PRUNE_EVERY = 60.0  # seconds between two prunings of the store's forgotten rows
ConnectionExists = Callable[[str], Awaitable[bool]]
HookFactory = Callable[[JobRef], BatchHook]


def remote_hook(job: JobRef) -> BatchHook:
    """The hook for a job the service was asked about. Every request was checked at the boundary already; this
    checks again (defence in depth), so that only a backend, connection id and details a caller may name ever
    reach a hook."""
    checked = checked_job(job.backend, job.conn_id, job.job_id, job.details)
    return hook_for(checked.backend, checked.conn_id, checked.details)


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
        make_hook: HookFactory,
        token: str,
        store: JobStore | None = None,
        armada_conn_id: str = "armada_default",
        forget_after: float = 300.0,
        follow_min_jobs: int = FOLLOW_MIN_JOBS,
        connection_exists: ConnectionExists | None = None,
    ) -> None:
        """make_hook: builds the hook for a job reference (only ever called with checked references).
        connection_exists: whether an Airflow connection exists; rows of missing connections are skipped on resume.
        """
        self._token = token
        self._store = store
        self._armada_conn_id = check_conn_id(armada_conn_id, "--armada-conn-id")
        self._connection_exists = connection_exists
        # When a caller last asked about each job (epoch seconds), and what the store does not know yet.
        self._asked: dict[Key, float] = {}
        self._untouched: dict[Key, float] = {}
        self._pruned_at = 0.0
        self._unsaved: dict[tuple[str, str, str], tuple[JobRef, JobStatus | None]] = {}
        self._writing = asyncio.Lock()
        self.flusher: asyncio.Task[None] | None = None
        self.cache = JobServiceCache(
            make_hook, forget_after, on_update=self._save if store else None, follow_min_jobs=follow_min_jobs
        )

    async def resume(self) -> int:
        """Watch again what the store remembers: jobs a caller asked about within `forget_after`.

        A row the service cannot serve (an unknown backend, a missing connection, garbage) is logged and skipped:
        it never keeps the service from listening. Rows older than the forget period are pruned.
        """
        if self._store is None:
            return 0
        now = time.time()
        cutoff = now - self.cache.forget_after
        try:
            await asyncio.to_thread(self._store.prune, cutoff)
            self._pruned_at = now  # the first flush need not prune again
            remembered = await asyncio.to_thread(self._store.load_with_times, cutoff)
        except Exception as error:  # a store that cannot be read must not keep the service from answering
            log.error("could not read the store (%s); starting with nothing watched", error)
            return 0
        exists: dict[str, bool] = {}
        resumed = 0
        for job, status, asked_at in remembered:
            if not await self._usable(job, exists):
                continue
            try:
                self.cache.watcher(job, DEFAULT_INTERVAL).watch(
                    job, DEFAULT_INTERVAL, known=status, asked_ago=now - asked_at
                )
            except Exception as error:
                log.warning("skipped stored job %s of %s/%s: %s", job.job_id, job.backend, job.conn_id, error)
                continue
            key = (job.backend, job.conn_id, job.job_id)
            self._asked[key] = asked_at
            resumed += 1
        log.info("resumed watching %d of %d stored jobs", resumed, len(remembered))
        return resumed

    async def _usable(self, job: JobRef, exists: dict[str, bool]) -> bool:
        if self._connection_exists is None:
            return True
        if job.conn_id not in exists:
            try:
                exists[job.conn_id] = await self._connection_exists(job.conn_id)
            except Exception as error:  # a secrets backend down: keep the row, its polls report the error
                log.warning("could not look up connection %s (%s); keeping its jobs", job.conn_id, error)
                exists[job.conn_id] = True
            if not exists[job.conn_id]:
                log.warning("skipping stored jobs of connection %s: it does not exist (any more)", job.conn_id)
        return exists[job.conn_id]

    async def _save(self, updates: list[tuple[JobRef, JobStatus]]) -> None:
        await self._write(updates)

    async def _remember(self, jobs: list[JobRef]) -> None:
        """Note that callers asked about these jobs now; new ones are written at once, the others' time later."""
        now = time.time()
        new = []
        for job in jobs:
            key = (job.backend, job.conn_id, job.job_id)
            if key not in self._asked:
                new.append(job)
            else:
                self._untouched[key] = now
            self._asked[key] = now
        await self._write([(job, None) for job in new], asked_at=now)

    async def _write(self, rows: Sequence[tuple[JobRef, JobStatus | None]], asked_at: float | None = None) -> None:
        """Write to the store; when it is down (a database restart), keep the rows and write them next time.

        The cache goes on answering from memory meanwhile: a store outage never fails a caller. A row the store
        refuses for itself is logged and dropped by the store; the others are written.
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
                # New rows take their time of asking from `_asked`; an update leaves the stored time alone.
                await asyncio.to_thread(self._store.save, [row for _, row in pending], asked_at)
            except Exception as error:
                log.warning("could not write %d jobs to the store (%s); will retry", len(pending), error)
                return
            for key, row in pending:
                if self._unsaved.get(key) is row:
                    del self._unsaved[key]

    async def _touch_and_prune(self) -> None:
        """Record when callers last asked about jobs, and prune the rows of jobs nobody asked about for long."""
        if self._store is None:
            return
        touched, self._untouched = self._untouched, {}
        try:
            await asyncio.to_thread(self._store.touch, touched)
        except Exception as error:
            log.warning("could not record when %d jobs were asked about (%s); will retry", len(touched), error)
            self._untouched = {**touched, **self._untouched}
            return
        now = time.time()
        if now - self._pruned_at < PRUNE_EVERY:
            return
        cutoff = now - self.cache.forget_after
        for key in [key for key, asked in self._asked.items() if asked < cutoff]:
            del self._asked[key]  # asked again later, it is written again as a new row
        try:
            pruned = await asyncio.to_thread(self._store.prune, cutoff)
        except Exception as error:
            log.warning("could not prune the store (%s); will retry", error)
            return
        self._pruned_at = now
        if pruned:
            log.info("pruned %d stored jobs nobody asked about for %.0fs", pruned, self.cache.forget_after)

    async def flush_forever(self, every: float = 5.0) -> None:
        """Write what a store outage left unsaved, even when no job changes to trigger a write."""
        while True:
            await asyncio.sleep(every)
            await self._write([])
            await self._touch_and_prune()

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
        try:
            details = {"queue": check_queue(request.queue), "job_set_id": check_job_set_id(request.job_set_id)}
            job = JobRef("armada", self._armada_conn_id, check_job_id(request.job_id), details)
        except InvalidJobSpecError as error:
            await self._refuse(context, error)
            raise
        await self._remember([job])
        status = await self._status(job, DEFAULT_INTERVAL)
        if isinstance(status, BaseException):
            return pb.JobServiceResponse(state=WireState.CONNECTION_ERR, error=str(status))
        return pb.JobServiceResponse(state=TO_WIRE[status.state], error=status.reason)

    async def GetJobStatuses(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        await self._authorize(context)
        jobs, interval = await self._jobs(request, context)
        answers = await asyncio.gather(*(self._status(job, interval) for job in jobs))
        return pb.JobStatusesResponse(statuses=[self._answer(job, a) for job, a in zip(jobs, answers, strict=True)])

    async def WatchJobs(self, request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        await self._authorize(context)
        jobs, interval = await self._jobs(request, context)
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

    async def _jobs(self, request: Any, context: grpc.aio.ServicerContext) -> tuple[list[JobRef], float]:
        """The request's jobs and poll interval, checked at the trust boundary before anything else happens."""
        try:
            interval = check_poll_interval(request.poll_interval)
            jobs = checked_jobs(request.jobs)
        except InvalidJobSpecError as error:
            await self._refuse(context, error)
            raise
        await self._remember(jobs)
        return jobs, interval

    @staticmethod
    async def _refuse(context: grpc.aio.ServicerContext, error: InvalidJobSpecError) -> None:
        log.warning("refused a request: %s", error)
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"refused: {error}")

    @staticmethod
    def _answer(job: JobRef, answer: JobStatus | BaseException) -> Any:
        if isinstance(answer, BaseException):
            return error_to_pb(job.job_id, answer)
        return status_to_pb(job.job_id, answer)


@dataclass(frozen=True)
class ServerTls:
    """The service's certificate chain and key (PEM files); with `client_ca`, clients must show a certificate
    signed by it (mutual TLS)."""

    cert: Path
    key: Path
    client_ca: Path | None = None

    def credentials(self) -> grpc.ServerCredentials:
        pair = [(self.key.read_bytes(), self.cert.read_bytes())]
        if self.client_ca is None:
            return grpc.ssl_server_credentials(pair)
        return grpc.ssl_server_credentials(
            pair, root_certificates=self.client_ca.read_bytes(), require_client_auth=True
        )


async def serve(
    servicer: JobServiceServicer, host: str = "127.0.0.1", port: int = 0, tls: ServerTls | None = None
) -> tuple[grpc.aio.Server, int]:
    server = grpc.aio.server()
    pb_grpc.add_JobServiceServicer_to_server(servicer, server)
    address = f"{host}:{port}"
    bound = server.add_secure_port(address, tls.credentials()) if tls else server.add_insecure_port(address)
    await servicer.resume()
    await server.start()
    servicer.flusher = asyncio.create_task(servicer.flush_forever())
    return server, bound
