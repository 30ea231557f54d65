"""The lifecycle every batch operator shares, written once.

render -> validate -> find an earlier submission -> submit (or reattach) -> record -> wait (blocking) or defer ->
finish. A backend operator only says how to build its request (`build_request`) and which hook speaks to its
scheduler (`hook_class`); the hook knows how to submit, find, cancel, read state and logs.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import timedelta
from functools import cached_property
from typing import Any, Generic, NoReturn, TypeVar

from airflow.sdk import BaseOperator, conf
from airflow.sdk.exceptions import AirflowException, AirflowFailException
from airflow.triggers.base import BaseTrigger

from airflow_provider_batch.common.errors import (
    ConnectionSettingsError,
    InvalidJobSpecError,
    SchedulerError,
    is_permanent,
    is_transient,
    permanent_failure_message,
)
from airflow_provider_batch.common.identity import JobIdentity
from airflow_provider_batch.common.jobref import JobRef
from airflow_provider_batch.common.limits import check_poll_interval
from airflow_provider_batch.common.reattach import ReattachPolicy, check_policy, should_reattach
from airflow_provider_batch.common.states import JobState, JobStatus
from airflow_provider_batch.common.wait import FIRST_POLL, OUTCOMES, Finish, WaitPolicy
from airflow_provider_batch.hooks.base import BatchHook
from airflow_provider_batch.operators.base_keys import STATE_STORE_KEY, XCOM_JOB, XCOM_JOB_URL
from airflow_provider_batch.triggers.batch import BatchJobTrigger
from airflow_provider_batch.triggers.where import WhereToAsk, configured_jobservice

HookT = TypeVar("HookT", bound=BatchHook)


class BatchJobOperator(BaseOperator, Generic[HookT]):
    """Base of the batch operators. DAG authors use ArmadaOperator and its siblings, not this class.

    deferrable: wait in the triggerer instead of holding a worker slot ([operators] default_deferrable).
    poll_interval: seconds between status checks ([batch] default_poll_interval, 10); a finite number from 0.5 to
        3600, anything else (NaN, inf, 0, negatives, more than an hour) is refused with ValueError.
    timeout: how long the job may take (seconds or a timedelta); past it the job is cancelled and the task fails.
    reattach_policy: what a retry does with the job an earlier try submitted: "live" (reattach to a queued,
        running or succeeded job; submit anew after a failure), "always", "never", or a callable(state, reason)
        -> bool ([batch] default_reattach_policy).
    wait_for_completion: False submits (or reattaches) and returns at once.
    container_logs: copy the job's log lines into the task log.
    """

    hook_class: type[HookT]
    # The method Airflow calls when the trigger fires (the original Armada operator names its own).
    resume_method = "execute_complete"
    ui_color = "#e4f0e8"

    def __init__(
        self,
        *,
        conn_id: str,
        deferrable: bool | None = None,
        poll_interval: float | None = None,
        timeout: timedelta | float | None = None,
        reattach_policy: ReattachPolicy | None = None,
        wait_for_completion: bool = True,
        container_logs: bool | str = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.conn_id = conn_id
        self.deferrable = (
            conf.getboolean("operators", "default_deferrable", fallback=False) if deferrable is None else deferrable
        )
        interval = (
            poll_interval if poll_interval is not None else conf.getfloat("batch", "default_poll_interval", fallback=10)
        )
        self.poll_interval = check_poll_interval(interval)  # InvalidJobSpecError, a ValueError naming the bounds
        self.timeout = timeout.total_seconds() if isinstance(timeout, timedelta) else timeout
        self.reattach_policy = check_policy(
            reattach_policy or conf.get("batch", "default_reattach_policy", fallback="live")
        )
        self.wait_for_completion = wait_for_completion
        self.container_logs = container_logs
        self._job: JobRef | None = None

    # -- what a backend fills in -------------------------------------------------------------------------------

    def build_request(self, context: Mapping[str, Any]) -> Any:
        """The validated request to submit, from the rendered fields; raise InvalidJobSpecError when it is wrong."""
        raise NotImplementedError

    def after_success(self, job: JobRef, status: JobStatus) -> None:
        """A step once the job succeeded, blocking or deferred (e.g. download its results); raise to fail the task."""

    @cached_property
    def hook(self) -> HookT:
        return self.hook_class(self.conn_id)

    def resume_kwargs(self, job: JobRef) -> dict[str, Any] | None:
        """Keyword arguments Airflow passes to the resume method besides the event (none: the event says it all)."""
        return None

    def build_trigger(self, job: JobRef, deadline: float | None) -> BaseTrigger:
        """The trigger a deferred task waits with: BatchJobTrigger, asking where `[batch] jobservice_conn_id` says."""
        return BatchJobTrigger(
            job=job.to_json(),
            poll_interval=self.poll_interval,
            deadline=deadline,
            unknown_grace_period=conf.getfloat("batch", "unknown_job_grace_period", fallback=300),
            submitted_at=time.time(),
            where=WhereToAsk.default_for(job, configured_jobservice()).to_json(),
        )

    # -- the lifecycle -----------------------------------------------------------------------------------------

    def execute(self, context: Any) -> dict[str, Any]:
        with self._failing_at_once_on_permanent_errors():
            return self._execute(context)

    def _execute(self, context: Any) -> dict[str, Any]:
        request = self._validated_request(context)
        identity = JobIdentity.from_context(context)
        job, status = self._find_or_submit(context, request, identity)
        if not self.wait_for_completion:
            return self._result(job, status)
        if not status.state.is_terminal:
            status = self._look(job, status)
        if status.state.is_terminal:
            # Over before any wait (a quick job, or an earlier try's finished job): _wait copied none of its logs.
            return self._finish(job, status, logs_from_start=True)
        if self.deferrable:
            self._defer(job)
        return self._finish(job, self._wait(job))

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None) -> dict[str, Any]:
        """Resume after the trigger fired: succeed, or fail with the scheduler's reason."""
        with self._failing_at_once_on_permanent_errors():
            return self._execute_complete(event)

    def _execute_complete(self, event: dict[str, Any] | None) -> dict[str, Any]:
        if not isinstance(event, dict) or event.get("status") not in OUTCOMES or "job" not in event:
            raise AirflowException(f"the trigger sent an event this operator does not understand: {event!r}")
        job = self._job = JobRef.from_json(event["job"])
        if event["status"] == "timeout":
            self._cancel(job, "the task's timeout passed")
            raise AirflowException(f"{self._describe(job)} timed out and was cancelled: {event.get('message')}")
        if event["status"] == "error":
            raise AirflowException(f"{self._describe(job)}: {event.get('message')}")
        status = JobStatus(JobState(event["state"]), event.get("native_state") or "", event.get("message") or "")
        return self._finish(job, status, logs_from_start=True)

    def on_kill(self) -> None:
        if self._job is not None:
            self._cancel(self._job, "the Airflow task was killed")

    def _hand_over(self) -> None:
        """The trigger owns the job from now on (it cancels it if a user stops the deferred task): this process must
        no longer cancel it when killed. Airflow kills a task process whose deferral it has already recorded when
        the process's own report of it timed out ("the task shouldn't be running anymore"); the job must go on."""
        self._job = None

    # -- steps -------------------------------------------------------------------------------------------------

    @contextmanager
    def _failing_at_once_on_permanent_errors(self) -> Iterator[None]:
        """A refusal no retry can fix (wrong token, unknown queue or project, no permission, quota or credits used
        up, a request the scheduler calls invalid, a connection whose fields cannot be used) fails the task at once,
        naming the connection and the fix on a short first line. Other errors go on to Airflow's retries as they
        are."""
        try:
            yield
        except InvalidJobSpecError as error:  # refused by a client check after build_request: no retry can fix it
            raise AirflowFailException(f"Invalid job request: {error}") from None
        except ConnectionSettingsError as error:  # nothing was sent; a retry reads the same connection
            raise AirflowFailException(f"{error}. Fix the connection, then clear the task.") from None
        except SchedulerError as error:
            if not is_permanent(error):
                raise
            raise AirflowFailException(permanent_failure_message(error, self.conn_id, self._endpoint())) from error

    def _endpoint(self) -> str:
        """Where the hook's connection points, for error messages ("" when the connection cannot be read)."""
        try:
            return self.hook.endpoint()
        except Exception:
            return ""

    def _validated_request(self, context: Mapping[str, Any]) -> Any:
        try:
            return self.build_request(context)
        except InvalidJobSpecError as error:
            raise AirflowFailException(f"Invalid job request, nothing was submitted. {error}") from None

    def _find_or_submit(self, context: Any, request: Any, identity: JobIdentity) -> tuple[JobRef, JobStatus]:
        earlier = self._earlier_job(context, request, identity)
        if earlier is not None and should_reattach(self.reattach_policy, earlier[1]):
            job, status = earlier
            self.log.info("Reattaching to %s, which is %s", self._describe(job), status.native_state or status.state)
        else:
            # A first submission is generation 0; a deliberate new one gets the try number, so that the scheduler's
            # deduplication does not hand back the earlier job.
            renew = earlier is not None or self.reattach_policy == "never"
            generation = identity.try_number if renew else 0
            if earlier is not None:
                ended = earlier[1].native_state or earlier[1].state.value
                self.log.info("Submitting anew: the earlier %s is %s", self._describe(earlier[0]), ended)
            job = self.hook.submit_job(request, identity, generation)
            status = JobStatus(JobState.QUEUED, "SUBMITTED")
            self.log.info("Submitted %s", self._describe(job))
        self._record(context, job)
        return job, status

    def _earlier_job(self, context: Any, request: Any, identity: JobIdentity) -> tuple[JobRef, JobStatus] | None:
        store = context.get("task_state_store")
        stored = store.get(STATE_STORE_KEY) if store is not None else None
        if stored:
            job = JobRef.from_json(stored)
            return job, self.hook.get_status(job)
        found = self.hook.find_jobs(request, identity)
        return found[0] if found else None

    def _record(self, context: Any, job: JobRef) -> None:
        """Write the job's identity everywhere a later try or the UI looks, the moment it exists."""
        self._job = job
        store = context.get("task_state_store")
        if store is not None:
            store.set(STATE_STORE_KEY, job.to_json())
        ti = context["ti"]
        ti.xcom_push(key=XCOM_JOB, value=job.to_json())
        ti.xcom_push(key="job_id", value=job.job_id)
        # Pushed even when empty: the extra link reads this key at the end of every try, and a missing key makes
        # Airflow log an "XCom not found" error in each task log of a connection without a Lookout URL.
        url = self.hook.job_url(job) or ""
        ti.xcom_push(key=XCOM_JOB_URL, value=url)
        if url:
            self.log.info("Job page: %s", url)

    def _look(self, job: JobRef, known: JobStatus) -> JobStatus:
        """One status read before waiting (a quick job may be over already); a transient failure leaves the wait
        to find out, a refusal no retry can fix fails the task."""
        try:
            return self.hook.get_status(job)
        except Exception as error:
            if is_permanent(error) or not is_transient(error):
                raise
            self.log.warning("Status of %s not available yet (%s)", self._describe(job), error)
            return known

    def _defer(self, job: JobRef) -> NoReturn:
        deadline = time.time() + self.timeout if self.timeout else None
        trigger = self.build_trigger(job, deadline)
        self._hand_over()
        self.defer(
            trigger=trigger,
            method_name=self.resume_method,
            kwargs=self.resume_kwargs(job),
            # A backstop only: the trigger fires its own "timeout" event first, so that the job gets cancelled.
            timeout=timedelta(seconds=self.timeout + max(60.0, 2 * self.poll_interval)) if self.timeout else None,
        )

    def _wait(self, job: JobRef) -> JobStatus:
        """Blocking wait on the worker: poll (quickly at first, then every poll_interval) and copy log lines as they
        come, until the wait policy (common/wait.py) says how the wait ended."""
        policy = WaitPolicy(
            self.poll_interval,
            deadline=time.time() + self.timeout if self.timeout else None,
            unknown_grace_period=conf.getfloat("batch", "unknown_job_grace_period", fallback=300),
            first_delay=FIRST_POLL,
        )
        state = policy.start(self._describe(job))
        cursor = ""
        while True:
            try:
                status = self.hook.get_status(job)
            except Exception as error:
                state, decision = policy.after_error(state, error, time.time())
            else:
                cursor = self._copy_logs(job, cursor)
                state, decision = policy.after_status(state, status, time.time())
            if isinstance(decision, Finish):
                return self._ended(job, decision)
            if decision.note:
                self.log.warning("%s; asking again in %.1fs", decision.note, decision.delay)
            time.sleep(decision.delay)

    def _ended(self, job: JobRef, decision: Finish) -> JobStatus:
        """The job's final status, or the exception that says why the wait could not learn it."""
        if decision.outcome == "timeout":
            self._cancel(job, "the task's timeout passed")
            raise AirflowException(f"{self._describe(job)} did not finish within {self.timeout:.0f}s; cancelled")
        if decision.outcome == "error":
            if decision.error is not None and is_permanent(decision.error):
                raise decision.error  # failed at once, naming the connection and the fix
            raise AirflowException(f"{self._describe(job)}: {decision.message}")
        assert decision.status is not None  # success, failed and cancelled come with the job's status
        return decision.status

    def _finish(self, job: JobRef, status: JobStatus, logs_from_start: bool = False) -> dict[str, Any]:
        if logs_from_start:
            self._copy_logs(job, "")
        if status.state is JobState.SUCCEEDED:
            self.log.info("%s succeeded", self._describe(job))
            self.after_success(job, status)
            return self._result(job, status)
        ended = status.native_state or status.state.value
        message = f"{self._describe(job)} ended {ended}: {status.reason or 'no reason given'}"
        if status.state is JobState.REJECTED:
            raise AirflowFailException(message + " (rejected by the scheduler: retrying cannot help)")
        raise AirflowException(message)

    def _copy_logs(self, job: JobRef, cursor: str) -> str:
        if not self.container_logs:
            return cursor
        try:
            lines, cursor = self.hook.read_logs(job, cursor)
        except Exception as error:  # logs are a courtesy: never let them decide the task's outcome
            self.log.warning("Could not read the job's logs: %s", error)
            return cursor
        for line in lines:
            self.log.info("[%s] %s", job.job_id, line)
        return cursor

    def _cancel(self, job: JobRef, reason: str) -> None:
        try:
            self.hook.cancel_job(job, reason)
            self.log.info("Cancelled %s (%s)", self._describe(job), reason)
        except Exception as error:
            self.log.error("Could not cancel %s: %s", self._describe(job), error)

    def _result(self, job: JobRef, status: JobStatus) -> dict[str, Any]:
        return {"job_id": job.job_id, **job.details, "state": status.state.value}

    def _describe(self, job: JobRef) -> str:
        where = ", ".join(f"{key} {value}" for key, value in job.details.items())
        return f"{job.backend} job {job.job_id}" + (f" ({where})" if where else "")
