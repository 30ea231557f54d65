"""The original Armada operator's helpers (`armada.operators.utils`), with their documented signatures.

- `airflow_error` raises AirflowFailException (no retry) on FAILED, CANCELLED and JOB_ID_NOT_FOUND, as documented;
  on CONNECTION_ERR (the search gave up reaching the job service: the job's end is not known) it raises
  AirflowException, so the task's retries apply.
- `search_for_job_complete(_async)` sleep between questions only, and a CONNECTION_ERR (or an unreachable job
  service) is retried with bounded backoff, then ends the search with CONNECTION_ERR and a clear message; the
  original retried it forever. They wait through the provider's one wait policy (common.wait), as every
  operator and trigger does. What this provider added (poll_interval, connection_retry) comes last, keyword only,
  so the documented positional calls bind as documented.
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
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from airflow_provider_batch.clients.jobservice import JobServiceAsyncIOClient, JobServiceClient
from airflow_provider_batch.clients.jobservice import JobServiceState as JobState  # the original name
from airflow_provider_batch.common.retry import RetryPolicy
from airflow_provider_batch.common.states import JobState as CommonState
from airflow_provider_batch.common.states import JobStatus
from airflow_provider_batch.common.wait import STATUS_READ_ERRORS, Finish, WaitPolicy

log = logging.getLogger(__name__)

ANNOTATION_KEY_PREFIX = "armadaproject.io/"
DEFAULT_TIME_OUT_FOR_FAILURE = 7200  # seconds a job may stay JOB_ID_NOT_FOUND (env ARMADA_AIRFLOW_TIME_OUT_JOB_ID)
# CONNECTION_ERR answers (or an unreachable job service) in a row before the search gives up: about 2-4 minutes,
# as for every wait (common.wait).
CONNECTION_RETRY = STATUS_READ_ERRORS
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


def airflow_error(job_state: JobState | int | str, name: str, job_id: str, *, message: str = "") -> None:
    """Return on SUCCEEDED and on states that are not an end. Raise AirflowFailException (the task is not retried)
    on FAILED, CANCELLED and JOB_ID_NOT_FOUND, with `The Armada job <name>:<job_id> <STATE>`; raise AirflowException
    (retries apply) on CONNECTION_ERR. `message` (keyword only, added here) is appended to the text."""
    state = _as_job_state(job_state)
    if state in FAILED_STATES:
        text = f"The Armada job {name}:{job_id} {state.name}"
        text = f"{text}: {message}" if message else text
        if state is JobState.CONNECTION_ERR:
            raise AirflowException(text)
        raise AirflowFailException(text)


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


class JobServiceConnectionError(ConnectionError):
    """The job service answered CONNECTION_ERR, or could not be reached: a transient failure to learn the state."""


# The job service's answers as the common states the wait policy reads (CONNECTION_ERR is a failed read instead).
_COMMON_STATES: dict[JobState, CommonState] = {
    JobState.SUBMITTED: CommonState.QUEUED,
    JobState.DUPLICATE_FOUND: CommonState.QUEUED,
    JobState.RUNNING: CommonState.RUNNING,
    JobState.FAILED: CommonState.FAILED,
    JobState.SUCCEEDED: CommonState.SUCCEEDED,
    JobState.CANCELLED: CommonState.CANCELLED,
    JobState.JOB_ID_NOT_FOUND: CommonState.UNKNOWN,
}
_ENDED: dict[str, JobState] = {
    "success": JobState.SUCCEEDED,
    "failed": JobState.FAILED,
    "cancelled": JobState.CANCELLED,
}


class _Search:
    """One search, as the blocking and asyncio loops share it (they differ only in how they ask and sleep): the wait
    policy decides, this adapter turns the job service's answers into its terms and its decision into the original
    (JobState, message) results."""

    def __init__(
        self,
        name: str,
        job_id: str,
        poll_interval: float,
        time_out_for_failure: float,
        retry: RetryPolicy,
        logger: Any = log,
    ) -> None:
        self.where = f"Armada {name}:{job_id}"
        self.log = logger
        # JOB_ID_NOT_FOUND is counted from the search's start (the original's time-out), and again from the next
        # such answer once the job service knew the job.
        self.policy = WaitPolicy(poll_interval, unknown_grace_period=_time_out(time_out_for_failure), errors=retry)
        self.state = self.policy.start(job=self.where, submitted_at=time.monotonic())

    def judge(self, answer: StatusAnswer | BaseException) -> tuple[JobState, str] | float:
        """The search's result, or the seconds to sleep before asking again."""
        read = self._read(answer)
        if isinstance(read, JobStatus):
            self.state, decision = self.policy.after_status(self.state, read, time.monotonic())
        else:
            self.state, decision = self.policy.after_error(self.state, read, time.monotonic())
        if isinstance(decision, Finish):
            return self._result(decision)
        if decision.note:
            self.log.warning("%s connection error (will retry): %s", self.where, read)
        return decision.delay

    @staticmethod
    def _read(answer: StatusAnswer | BaseException) -> JobStatus | JobServiceConnectionError:
        """An answer as the policy reads it: a job's status, or a failed read (CONNECTION_ERR, or an RpcError)."""
        if isinstance(answer, BaseException):
            return JobServiceConnectionError(f"{type(answer).__name__}: {answer}")
        state = job_state_from_pb(answer.state)
        if state is JobState.CONNECTION_ERR:
            return JobServiceConnectionError(answer.error)
        return JobStatus(_COMMON_STATES[state], state.name, answer.error)

    def _result(self, finish: Finish) -> tuple[JobState, str]:
        if finish.error is not None:
            tries = self.state.errors_in_a_row
            return (
                JobState.CONNECTION_ERR,
                f"{self.where} connection error: the job service could not follow the job after {tries} tries "
                f"(the last: {finish.error})",
            )
        if finish.outcome == "error":  # the job service did not know the job for longer than the time-out
            return JobState.JOB_ID_NOT_FOUND, f"{self.where} could not find a job id and\nhit a timeout"
        state = _ENDED[finish.outcome]
        if state is JobState.FAILED:
            return state, f"{self.where} failed\nfailed with reason {finish.message}"
        return state, f"{self.where} {state.name.lower()}"


def search_for_job_complete(
    armada_queue: str,
    job_set_id: str,
    airflow_task_name: str,
    job_id: str,
    job_service_client: JobServiceClient | None = None,
    job_status_callable: Callable[..., Any] = default_job_status_callable,
    time_out_for_failure: float = DEFAULT_TIME_OUT_FOR_FAILURE,
    *,
    poll_interval: float = 30,
    connection_retry: RetryPolicy = CONNECTION_RETRY,
) -> tuple[JobState, str]:
    """Ask the job service until the job SUCCEEDED, FAILED or was CANCELLED; (JobState, message).

    It also ends with JOB_ID_NOT_FOUND after `time_out_for_failure` seconds without the job being known (env
    ARMADA_AIRFLOW_TIME_OUT_JOB_ID wins), and with CONNECTION_ERR after `connection_retry` is exhausted. Pass the
    result to airflow_error. job_status_callable(armada_queue=, job_set_id=, job_id=[, job_service_client=])
    replaces the question (tests). poll_interval: seconds between questions.
    """
    _check_client(job_service_client)
    search = _Search(airflow_task_name, job_id, poll_interval, time_out_for_failure, connection_retry)
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
        time.sleep(verdict)


async def search_for_job_complete_async(
    armada_queue: str,
    job_set_id: str,
    airflow_task_name: str,
    job_id: str,
    job_service_client: JobServiceAsyncIOClient,
    log: logging.Logger | Any | None = None,
    time_out_for_failure: float = DEFAULT_TIME_OUT_FOR_FAILURE,
    *,
    poll_interval: float = 30,
    connection_retry: RetryPolicy = CONNECTION_RETRY,
) -> tuple[JobState, str]:
    """The asyncio form of search_for_job_complete, with a JobServiceAsyncIOClient (never blocks the loop); `log`
    (a logger, e.g. the trigger's) gets the connection-error warnings."""
    _check_client(job_service_client)
    search = _Search(
        airflow_task_name,
        job_id,
        poll_interval,
        time_out_for_failure,
        connection_retry,
        log or logging.getLogger(__name__),
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
        await asyncio.sleep(verdict)


def _check_client(job_service_client: Any) -> None:
    """A number where the job service client goes is the later releases' positional poll_interval."""
    if isinstance(job_service_client, (int, float)):
        raise TypeError(
            f"job_service_client: got the number {job_service_client!r}; poll_interval is a keyword argument here "
            f"(search_for_job_complete(queue, job_set_id, name, job_id, client, poll_interval={job_service_client!r}))"
        )


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
