"""The emulator's memory of Armada jobs and their runs, and their Query API (api.Jobs) views."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_batch._proto.armada import job_pb2, submit_pb2
from airflow_provider_batch.emulators.runner import OutputLine

JobState = submit_pb2.JobState
RunState = job_pb2.JobRunState

TERMINAL_STATES = frozenset(
    {JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED, JobState.PREEMPTED, JobState.REJECTED}
)
EXTERNAL_JOB_URI_ANNOTATION = "armadaproject.io/externalJobUri"


def _timestamp(message: Any, field_name: str, epoch_ns: int | None) -> None:
    if epoch_ns is not None:
        getattr(message, field_name).FromNanoseconds(epoch_ns)


@dataclass
class RunRecord:
    run_id: str
    job_id: str
    cluster: str
    node: str
    state: RunState = RunState.RUN_STATE_LEASED
    leased_ns: int | None = None
    pending_ns: int | None = None
    started_ns: int | None = None
    finished_ns: int | None = None

    def to_proto(self) -> Any:
        details = job_pb2.JobRunDetails(
            run_id=self.run_id, job_id=self.job_id, state=self.state, cluster=self.cluster, node=self.node
        )
        _timestamp(details, "leased_ts", self.leased_ns)
        _timestamp(details, "pending_ts", self.pending_ns)
        _timestamp(details, "started_ts", self.started_ns)
        _timestamp(details, "finished_ts", self.finished_ns)
        return details


@dataclass
class JobRecord:
    job: Any  # api.Job, as carried by the submitted event
    external_job_uri: str
    submitted_ns: int
    state: JobState = JobState.SUBMITTED
    last_transition_ns: int = 0
    runs: list[RunRecord] = field(default_factory=list)
    error: str = ""
    cancel_ns: int | None = None
    cancel_reason: str = ""
    cancel_user: str = ""
    logs: list[OutputLine] = field(default_factory=list)
    task: asyncio.Task[None] | None = None
    stopping: bool = False  # a cancel or preempt is under way

    @property
    def id(self) -> str:
        return str(self.job.id)

    @property
    def queue(self) -> str:
        return str(self.job.queue)

    @property
    def job_set_id(self) -> str:
        return str(self.job.job_set_id)

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL_STATES

    @property
    def latest_run(self) -> RunRecord | None:
        return self.runs[-1] if self.runs else None

    def details(self, expand_job_spec: bool, expand_job_run: bool) -> Any:
        run = self.latest_run
        details = job_pb2.JobDetails(
            job_id=self.id,
            queue=self.queue,
            jobset=self.job_set_id,
            namespace=self.job.namespace,
            state=self.state,
            cancel_reason=self.cancel_reason,
            cancel_user=self.cancel_user,
            latest_run_id=run.run_id if run else "",
        )
        _timestamp(details, "submitted_ts", self.submitted_ns)
        _timestamp(details, "last_transition_ts", self.last_transition_ns or self.submitted_ns)
        _timestamp(details, "cancel_ts", self.cancel_ns)
        if expand_job_spec:
            details.job_spec.CopyFrom(self.job)
        if expand_job_run:
            details.job_runs.extend(r.to_proto() for r in self.runs)
        return details
