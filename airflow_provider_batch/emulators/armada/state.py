"""Armada's server-side state in memory: queues, jobs, client_id deduplication, and the operations on them.

Wire-independent: the gRPC servicers translate requests into these calls and EmulatorError into status codes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from airflow_provider_batch._proto.armada import submit_pb2
from airflow_provider_batch.emulators.armada.events import EventBus
from airflow_provider_batch.emulators.armada.lifecycle import Lifecycle
from airflow_provider_batch.emulators.armada.records import EXTERNAL_JOB_URI_ANNOTATION, JobRecord, JobState
from airflow_provider_batch.emulators.armada.validation import (
    require_queue_and_job_set,
    the_pod_spec,
    validate_submit,
)
from airflow_provider_batch.emulators.errors import EmulatorError, ErrorKind, invalid, not_found
from airflow_provider_batch.emulators.runner import ProcessRunner
from airflow_provider_batch.emulators.timefmt import MonotonicClock
from airflow_provider_batch.emulators.ulid import UlidGenerator

# CancelJobSet filters name QUEUED, PENDING, RUNNING; the finer states the emulator also passes through map onto them.
_FILTER_STATE = {JobState.SUBMITTED: JobState.QUEUED, JobState.LEASED: JobState.PENDING}


class ArmadaState:
    def __init__(self, runner: ProcessRunner, step_s: float = 0.05, ingest_lag_s: float = 0.0) -> None:
        self.clock = MonotonicClock()
        self.events = EventBus()
        self.lifecycle = Lifecycle(self.events, runner, step_s, self.clock)
        self.ingest_lag_ns = int(ingest_lag_s * 1e9)
        self.queues: dict[str, Any] = {}  # name -> api.Queue
        self.jobs: dict[str, JobRecord] = {}
        self.dedup: dict[str, str] = {}  # "<queue>:<client_id>" -> job id
        self._ids = UlidGenerator()

    # -- queues -------------------------------------------------------------------------------------------------

    def create_queue(self, queue: Any) -> None:
        if not queue.name:
            raise invalid("queue name must not be empty")
        if queue.name in self.queues:
            raise EmulatorError(ErrorKind.ALREADY_EXISTS, f"queue {queue.name!r} already exists")
        self.queues[queue.name] = submit_pb2.Queue()
        self.queues[queue.name].CopyFrom(queue)

    def update_queue(self, queue: Any) -> None:
        self.get_queue(queue.name)
        self.queues[queue.name].CopyFrom(queue)

    def delete_queue(self, name: str) -> None:
        self.get_queue(name)
        del self.queues[name]

    def get_queue(self, name: str) -> Any:
        if not name:
            raise invalid("queue name must not be empty")
        if name not in self.queues:
            raise not_found(f"queue {name!r} does not exist")
        return self.queues[name]

    def set_cordoned(self, name: str, cordoned: bool) -> None:
        self.get_queue(name).cordoned = cordoned

    # -- submission ---------------------------------------------------------------------------------------------

    def submit(self, request: Any) -> list[str]:
        """Validate, deduplicate by client_id and start every new job; the job ids in request order."""
        validate_submit(request)
        queue = self.get_queue(request.queue)
        if queue.cordoned:
            raise EmulatorError(ErrorKind.FAILED_PRECONDITION, f"queue {request.queue!r} is cordoned")
        ids: list[str] = []
        for item in request.job_request_items:
            key = f"{request.queue}:{item.client_id}"
            if item.client_id and key in self.dedup:
                ids.append(self.dedup[key])
                continue
            job = self._new_job(request, item)
            self.jobs[job.id] = job
            if item.client_id:
                self.dedup[key] = job.id
            self.lifecycle.start(job)
            ids.append(job.id)
        return ids

    def _new_job(self, request: Any, item: Any) -> JobRecord:
        now = self.clock.now_ns()
        job = submit_pb2.Job(
            id=self._ids.new(),
            client_id=item.client_id,
            job_set_id=request.job_set_id,
            queue=request.queue,
            namespace=item.namespace,
            labels=dict(item.labels),
            annotations=dict(item.annotations),
            required_node_labels=dict(item.required_node_labels),
            owner="emulator",
            priority=item.priority,
            pod_specs=[the_pod_spec(item)],
            ingress=list(item.ingress),
            services=list(item.services),
            scheduler=item.scheduler,
        )
        job.created.FromNanoseconds(now)
        uri = item.external_job_uri or item.annotations.get(EXTERNAL_JOB_URI_ANNOTATION, "")
        return JobRecord(job=job, external_job_uri=uri, submitted_ns=now, last_transition_ns=now)

    # -- control ------------------------------------------------------------------------------------------------

    def _select(self, queue: str, job_set_id: str, job_ids: Iterable[str]) -> list[JobRecord]:
        selected = []
        for job_id in job_ids:
            job = self.jobs.get(job_id)
            if job is None or (queue and job.queue != queue) or (job_set_id and job.job_set_id != job_set_id):
                continue
            selected.append(job)
        return selected

    def jobs_in_set(self, queue: str, job_set_id: str) -> list[JobRecord]:
        return [job for job in self.jobs.values() if job.queue == queue and job.job_set_id == job_set_id]

    async def cancel_jobs(self, queue: str, job_set_id: str, job_ids: list[str], reason: str) -> list[str]:
        """Cancel the given live jobs (all of the job set when no id is given); the ids actually cancelled."""
        if not job_ids:
            require_queue_and_job_set(queue, job_set_id)
            jobs = self.jobs_in_set(queue, job_set_id)
        else:
            jobs = self._select(queue, job_set_id, job_ids)
        return [job.id for job in jobs if await self.lifecycle.cancel(job, reason)]

    async def cancel_job_set(self, queue: str, job_set_id: str, states: Iterable[JobState], reason: str) -> list[str]:
        require_queue_and_job_set(queue, job_set_id)
        wanted = set(states)
        cancelled = []
        for job in self.jobs_in_set(queue, job_set_id):
            if wanted and _FILTER_STATE.get(job.state, job.state) not in wanted:
                continue
            if await self.lifecycle.cancel(job, reason):
                cancelled.append(job.id)
        return cancelled

    async def preempt(self, queue: str, job_set_id: str, job_ids: list[str], reason: str) -> dict[str, str]:
        require_queue_and_job_set(queue, job_set_id)
        results = {}
        for job_id in job_ids:
            found = self._select(queue, job_set_id, [job_id])
            if not found:
                results[job_id] = f"job {job_id} not found in queue {queue!r}, job set {job_set_id!r}"
            elif await self.lifecycle.preempt(found[0], reason):
                results[job_id] = ""
            else:
                results[job_id] = f"job {job_id} has already ended ({JobState.Name(found[0].state)})"
        return results

    def reprioritize(self, queue: str, job_set_id: str, job_ids: list[str], priority: float) -> dict[str, str]:
        if not job_ids:
            require_queue_and_job_set(queue, job_set_id)
            job_ids = [job.id for job in self.jobs_in_set(queue, job_set_id)]
        results = {}
        for job_id in job_ids:
            found = self._select(queue, job_set_id, [job_id])
            if not found:
                results[job_id] = f"job {job_id} not found"
                continue
            if not found[0].terminal:
                self.lifecycle.reprioritize(found[0], priority)
            results[job_id] = ""
        return results

    # -- queries ------------------------------------------------------------------------------------------------

    def visible(self, job_id: str) -> JobRecord | None:
        """The job as the Query API sees it: not at all until the ingestion lag has passed."""
        job = self.jobs.get(job_id)
        if job is None or self.clock.now_ns() - job.submitted_ns < self.ingest_lag_ns:
            return None
        return job

    def by_external_uri(self, queue: str, job_set_id: str, uri: str) -> list[JobRecord]:
        if not uri:
            raise invalid("external_job_uri must not be empty")
        return [
            job
            for job in self.jobs_in_set(queue, job_set_id)
            if job.external_job_uri == uri and self.visible(job.id) is not None
        ]

    def run(self, run_id: str) -> Any | None:
        for job in self.jobs.values():
            for run in job.runs:
                if run.run_id == run_id:
                    return run
        return None

    async def shutdown(self) -> None:
        await self.lifecycle.shutdown(list(self.jobs.values()))
