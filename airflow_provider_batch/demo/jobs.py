"""The jobs of one Armada job set as the scheduler (here the emulator) saw them, found without Airflow.

The job set's event stream (`GetJobSetEvents`, watch=False) lists every job ever submitted to it; each `submitted`
event carries the job with the annotations the operator set (`airflow.apache.org/task_id`, `map_index`,
`try_number`). States come from `GetJobStatus`, failure reasons from `GetJobErrors`, log lines from Binoculars.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from airflow_provider_batch.clients.armada.client import ArmadaClient
from airflow_provider_batch.clients.armada.types import ArmadaJobState as ArmadaState

# The same as hooks.armada.AIRFLOW_ANNOTATION_PREFIX, not imported from there: the hook imports Airflow, and the
# demo's own process must not (it would create an Airflow home outside the sandbox).
ANNOTATION_PREFIX = "airflow.apache.org/"
FAILED_STATES = frozenset({ArmadaState.FAILED, ArmadaState.PREEMPTED, ArmadaState.REJECTED, ArmadaState.CANCELLED})


@dataclass(frozen=True)
class JobReport:
    job_id: str
    task_id: str
    map_index: int
    try_number: int
    state: str  # Armada's name for it: SUCCEEDED, FAILED, ...
    reason: str = ""
    log_lines: list[str] = field(default_factory=list)

    @property
    def task_key(self) -> tuple[str, int]:
        return self.task_id, self.map_index


def job_set_report(client: ArmadaClient, queue: str, job_set_id: str, logs: bool = True) -> list[JobReport]:
    """Every job of the job set, in submission order."""
    annotations: dict[str, dict[str, str]] = {}
    for message in client.get_job_events_stream(queue, job_set_id, watch=False):
        if message.message.WhichOneof("events") == "submitted":
            submitted = message.message.submitted
            annotations[submitted.job_id] = dict(submitted.job.annotations)
    job_ids = list(annotations)
    if not job_ids:
        return []
    states = {job_id: ArmadaState(state) for job_id, state in client.get_job_status(job_ids).job_states.items()}
    failed = [job_id for job_id in job_ids if states.get(job_id) in FAILED_STATES]
    reasons = dict(client.get_job_errors(failed).job_errors) if failed else {}
    reports = []
    for job_id in job_ids:
        tags = {
            key[len(ANNOTATION_PREFIX) :]: value
            for key, value in annotations[job_id].items()
            if key.startswith(ANNOTATION_PREFIX)
        }
        lines = [line.line for line in client.get_job_logs(job_id)] if logs else []
        reports.append(
            JobReport(
                job_id=job_id,
                task_id=tags.get("task_id", "?"),
                map_index=int(tags.get("map_index", "-1")),
                try_number=int(tags.get("try_number", "0")),
                state=states.get(job_id, ArmadaState.UNKNOWN).name,
                reason=reasons.get(job_id, ""),
                log_lines=lines,
            )
        )
    return reports
