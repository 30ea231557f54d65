"""The original Armada operator's helpers (`armada.operators.utils`), with their meaning and without their faults.

- `airflow_error` raises AirflowException (retries work), never AirflowFailException.
- `search_for_job_complete(_async)` sleep between questions only, and a CONNECTION_ERR (or an unreachable job
  service) is retried with bounded backoff, then ends the search with CONNECTION_ERR and a clear message; the
  original retried it forever.
- A custom ANNOTATION_KEY_PREFIX changes only these annotations: reattaching to an earlier try's job uses the
  job's external_job_uri and client_id, never them.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable, Mapping, MutableSequence
from typing import Any, Protocol

import grpc
from airflow.sdk.exceptions import AirflowException

from airflow_provider_batch.clients.jobservice import JobServiceAsyncIOClient, JobServiceClient, JobState
from airflow_provider_batch.common.retry import RetryPolicy

log = logging.getLogger(__name__)

ANNOTATION_KEY_PREFIX = "armadaproject.io/"
DEFAULT_TIME_OUT_FOR_FAILURE = 7200  # seconds a job may stay JOB_ID_NOT_FOUND (env ARMADA_AIRFLOW_TIME_OUT_JOB_ID)
# CONNECTION_ERR answers (or an unreachable job service) in a row before the search gives up: about 2-4 minutes.
CONNECTION_RETRY = RetryPolicy(max_attempts=10, initial_backoff=1.0, max_backoff=60.0)
TERMINAL = frozenset({JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED})
FAILED_STATES = frozenset({JobState.FAILED, JobState.CANCELLED, JobState.JOB_ID_NOT_FOUND, JobState.CONNECTION_ERR})


class StatusAnswer(Protocol):
    state: int
    error: str


def job_state_from_pb(state: int) -> JobState:
    """The job service's JobServiceResponse.state as a JobState."""
    try:
        return JobState(state)
    except ValueError:
        raise ValueError(f"job service state {state!r} is not one of {[s.value for s in JobState]}") from None


def _as_job_state(job_state: JobState | int | str) -> JobState:
    if isinstance(job_state, str):
        name = job_state.upper().replace("JOB_NOT_FOUND", "JOB_ID_NOT_FOUND")
        return JobState.__members__[name.removeprefix("JOBSTATE.")]
    return job_state_from_pb(int(job_state))


def airflow_error(job_state: JobState | int | str, name: str, job_id: str, message: str = "") -> None:
    """Return on SUCCEEDED (and on states that are not an end); raise AirflowException on FAILED, CANCELLED,
    JOB_ID_NOT_FOUND and CONNECTION_ERR, so that the task's retries apply. `message` is added to the text."""
    state = _as_job_state(job_state)
    if state in FAILED_STATES:
        text = f"The Armada job {name}:{job_id} {state.name}"
        raise AirflowException(f"{text}: {message}" if message else text)


def get_annotation_key_prefix() -> str:
    """The prefix of the annotations set by annotate_job_request_items: env ANNOTATION_KEY_PREFIX, else
    `armadaproject.io/`."""
    return os.environ.get("ANNOTATION_KEY_PREFIX", ANNOTATION_KEY_PREFIX)


def annotate_job_request_items(context: Mapping[str, Any], job_request_items: MutableSequence[Any]) -> Any:
    """Add `<prefix>taskId`, `<prefix>taskRunId` and `<prefix>dagId` to each item (messages or dicts); returns
    the same list."""
    ti = context["ti"]
    dag = context.get("dag")
    values = {
        "taskId": str(ti.task_id),
        "taskRunId": str(context.get("run_id") or ti.run_id),
        "dagId": str(dag.dag_id if dag is not None else ti.dag_id),
    }
    prefix = get_annotation_key_prefix()
    for item in job_request_items:
        annotations = item.setdefault("annotations", {}) if isinstance(item, dict) else item.annotations
        for key, value in values.items():
            annotations[prefix + key] = value
    return job_request_items


def default_job_status_callable(
    armada_queue: str, job_set_id: str, job_id: str, job_service_client: JobServiceClient
) -> Any:
    """Ask the job service about one job (JobServiceResponse: state, error)."""
    return job_service_client.get_job_status(queue=armada_queue, job_set_id=job_set_id, job_id=job_id)


def _time_out(time_out_for_failure: float) -> float:
    env = os.environ.get("ARMADA_AIRFLOW_TIME_OUT_JOB_ID")
    return float(env) if env else float(time_out_for_failure)


class _Search:
    """One search's bookkeeping, shared by the blocking and asyncio loops (which differ only in how they wait)."""

    def __init__(
        self, name: str, job_id: str, time_out_for_failure: float, retry: RetryPolicy, logger: logging.Logger = log
    ) -> None:
        self.name, self.job_id, self.log = name, job_id, logger
        self.started = time.monotonic()
        self.time_out = _time_out(time_out_for_failure)
        self.delays = retry.delays()
        self.errors_in_a_row = 0

    def judge(self, answer: StatusAnswer | BaseException) -> tuple[JobState, str] | float | None:
        """The search's result, or a backoff delay after a connection error, or None to keep polling."""
        where = f"Armada {self.name}:{self.job_id}"
        if isinstance(answer, BaseException):
            state, reason = JobState.CONNECTION_ERR, f"{type(answer).__name__}: {answer}"
        else:
            state, reason = job_state_from_pb(answer.state), answer.error
        if state is JobState.CONNECTION_ERR:
            if self.errors_in_a_row >= len(self.delays):
                attempts = self.errors_in_a_row + 1
                return (
                    state,
                    f"{where} connection error: the job service could not follow the job after {attempts} tries "
                    f"(the last: {reason})",
                )
            self.log.warning("%s connection error (will retry): %s", where, reason)
            self.errors_in_a_row += 1
            return self.delays[self.errors_in_a_row - 1]
        self.errors_in_a_row = 0
        if state is JobState.SUCCEEDED:
            return state, f"{where} succeeded"
        if state is JobState.FAILED:
            return state, f"{where} failed\nfailed with reason {reason}"
        if state is JobState.CANCELLED:
            return state, f"{where} cancelled"
        if state is JobState.JOB_ID_NOT_FOUND and time.monotonic() - self.started > self.time_out:
            return state, f"{where} could not find a job id and\nhit a timeout"
        return None


def search_for_job_complete(
    armada_queue: str,
    job_set_id: str,
    airflow_task_name: str,
    job_id: str,
    poll_interval: float = 30,
    job_service_client: JobServiceClient | None = None,
    job_status_callable: Callable[..., Any] = default_job_status_callable,
    time_out_for_failure: float = DEFAULT_TIME_OUT_FOR_FAILURE,
    connection_retry: RetryPolicy = CONNECTION_RETRY,
) -> tuple[JobState, str]:
    """Ask the job service until the job SUCCEEDED, FAILED or was CANCELLED; (JobState, message).

    It also ends with JOB_ID_NOT_FOUND after `time_out_for_failure` seconds without the job being known, and with
    CONNECTION_ERR after `connection_retry` is exhausted. Pass the result to airflow_error.
    job_status_callable(armada_queue=, job_set_id=, job_id=[, job_service_client=]) replaces the question (tests).
    """
    search = _Search(airflow_task_name, job_id, time_out_for_failure, connection_retry)
    kwargs: dict[str, Any] = {"armada_queue": armada_queue, "job_set_id": job_set_id, "job_id": job_id}
    if job_service_client is not None:
        kwargs["job_service_client"] = job_service_client
    while True:
        answer: Any
        try:
            answer = job_status_callable(**kwargs)
        except grpc.RpcError as error:
            answer = error
        verdict = search.judge(answer)
        if isinstance(verdict, tuple):
            return verdict
        time.sleep(poll_interval if verdict is None else verdict)


async def search_for_job_complete_async(
    armada_queue: str,
    job_set_id: str,
    airflow_task_name: str,
    job_id: str,
    job_service_client: JobServiceAsyncIOClient,
    poll_interval: float = 30,
    time_out_for_failure: float = DEFAULT_TIME_OUT_FOR_FAILURE,
    log: logging.Logger | None = None,
    connection_retry: RetryPolicy = CONNECTION_RETRY,
) -> tuple[JobState, str]:
    """The asyncio form of search_for_job_complete, with a JobServiceAsyncIOClient (never blocks the loop)."""
    search = _Search(
        airflow_task_name, job_id, time_out_for_failure, connection_retry, log or logging.getLogger(__name__)
    )
    while True:
        answer: Any
        try:
            answer = await job_service_client.get_job_status(queue=armada_queue, job_set_id=job_set_id, job_id=job_id)
        except grpc.RpcError as error:
            answer = error
        verdict = search.judge(answer)
        if isinstance(verdict, tuple):
            return verdict
        await asyncio.sleep(poll_interval if verdict is None else verdict)


__all__ = [
    "ANNOTATION_KEY_PREFIX",
    "JobState",
    "airflow_error",
    "annotate_job_request_items",
    "default_job_status_callable",
    "get_annotation_key_prefix",
    "job_state_from_pb",
    "search_for_job_complete",
    "search_for_job_complete_async",
]
