"""The one wait policy: given a job's status, or a failed status read, and the time, keep waiting (for how long) or
finish (how the wait ended, in the words a task log shows).

It is pure: no I/O, no sleeping, no clock and no Airflow. The caller reads the status, reads its clock (one clock for
`now`, `submitted_at` and `deadline`: epoch seconds from `time.time()`), sleeps for the delay it is given and
reports what came back. The blocking wait (`BatchJobOperator`), the trigger (`BatchJobTrigger`) and the original
Armada API's `search_for_job_complete` all wait through it, so a job ends the same way whichever waits for it.

Who retries what:

- Clients (`clients/`) retry the calls that change the scheduler: submits and cancels, with their own RetryPolicy
  (the scheduler's deduplication of the job's identity makes a repeated submit safe).
- A status read is tried once by the client and the hook. When it fails, this policy alone decides whether to ask
  again (after a backoff, while `STATUS_READ_ERRORS` allows) or to give up with an "error".
- The job-service cache's watcher polls the scheduler at its own pace (after a failed poll it backs off with
  `STATUS_READ_ERRORS`' delays, and never gives up while jobs are watched) and hands its errors to the triggers
  waiting on it, which count them here like any other failed read.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Literal, TypeAlias

from airflow_provider_batch.common.errors import is_permanent, is_transient
from airflow_provider_batch.common.retry import RetryPolicy
from airflow_provider_batch.common.states import JobState, JobStatus

Outcome = Literal["success", "failed", "cancelled", "error", "timeout"]
OUTCOMES: frozenset[str] = frozenset({"success", "failed", "cancelled", "error", "timeout"})
# How a terminal state ends the wait (the trigger's event `status`).
EVENT_STATUS: dict[JobState, Outcome] = {
    JobState.SUCCEEDED: "success",
    JobState.FAILED: "failed",
    JobState.REJECTED: "failed",
    JobState.CANCELLED: "cancelled",
}
# Failed status reads in a row before a wait gives up, and the backoff between them (about 2 to 4 minutes in all).
STATUS_READ_ERRORS = RetryPolicy(max_attempts=10, initial_backoff=1.0, max_backoff=60.0)
FIRST_POLL = 1.0  # seconds: a blocking wait asks this soon first, then doubles up to poll_interval
UNKNOWN_GRACE_PERIOD = 300.0  # seconds a scheduler may not know a job (e.g. Armada before ingestion)
TIMEOUT_MESSAGE = "the task's timeout passed before the job ended"


@dataclass(frozen=True)
class KeepWaiting:
    """Ask again in `delay` seconds. `note` says why the wait goes on, for a log line: empty while the job is
    simply queued or running, the failed read's words after a transient error."""

    delay: float
    note: str = ""


@dataclass(frozen=True)
class Finish:
    """The wait is over. `outcome` is success, failed or cancelled (the job ended), error (the job's state could not
    be learnt: a refused read, too many failed reads, or a job the scheduler did not know for too long) or timeout
    (the deadline passed first: the caller cancels the job). `status` is the status this decision was made on (None
    after a failed read), `message` the words for the task log: the scheduler's reason when the job ended, otherwise
    why the wait ended. `error` is the failed read that ended it, so that a caller can raise it as it is (e.g. a
    permanent SchedulerError, which the operator turns into its fail-at-once message)."""

    outcome: Outcome
    status: JobStatus | None
    message: str
    error: BaseException | None = None


Decision: TypeAlias = KeepWaiting | Finish


@dataclass(frozen=True)
class WaitState:
    """What one wait remembers between two reads; made by `WaitPolicy.start`, replaced by every decision.

    `job` names the job in messages ("job 01ABC", "armada job 01ABC (queue q)"); `unknown_since` is when the
    scheduler began not knowing it (None while it knows it); `errors_in_a_row` counts failed reads since the last
    good one; `next_poll` is the delay after the next good read.
    """

    job: str
    unknown_since: float | None
    errors_in_a_row: int
    next_poll: float


@dataclass(frozen=True)
class WaitPolicy:
    """How to wait for one job.

    poll_interval: seconds between two status reads once the job is under way.
    deadline: when to give up (same clock as `now`); past it the wait finishes with "timeout". No delay runs past it.
    unknown_grace_period: seconds the scheduler may answer "unknown job" before the wait finishes with "error";
        counted from `submitted_at` when given to `start`, else from the first unknown answer, and again from the
        next unknown answer once the scheduler knew the job.
    first_delay: a blocking wait's first delay; each good read doubles it up to poll_interval (None: poll_interval
        from the start).
    errors: failed reads in a row allowed (`max_attempts`) and the backoff between them.
    rand: the jitter source, in [0, 1) (a seeded `random.Random(...).random`, or `lambda: 0.0`, in tests).
    """

    poll_interval: float
    deadline: float | None = None
    unknown_grace_period: float = UNKNOWN_GRACE_PERIOD
    first_delay: float | None = None
    errors: RetryPolicy = STATUS_READ_ERRORS
    rand: Callable[[], float] = field(default=random.random, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not 0 <= self.poll_interval < math.inf:
            raise ValueError(f"poll_interval: {self.poll_interval} is not a finite number of seconds, 0 or more")
        if self.first_delay is not None and not 0 < self.first_delay < math.inf:
            raise ValueError(f"first_delay: {self.first_delay} is not a finite number of seconds above 0")
        if math.isnan(self.unknown_grace_period):
            raise ValueError("unknown_grace_period: NaN is not a number of seconds")
        if self.deadline is not None and math.isnan(self.deadline):
            raise ValueError("deadline: NaN is not a time")

    def start(self, job: str = "the job", submitted_at: float | None = None) -> WaitState:
        """A new wait for `job` (its name in messages), submitted at `submitted_at` (None when not known, e.g. a job
        an earlier try submitted: then the grace period starts at the first unknown answer)."""
        first = self.poll_interval if self.first_delay is None else min(self.first_delay, self.poll_interval)
        return WaitState(job=job, unknown_since=submitted_at, errors_in_a_row=0, next_poll=first)

    def after_status(self, state: WaitState, status: JobStatus, now: float) -> tuple[WaitState, Decision]:
        """A read answered `status` at `now`. A terminal state finishes (even past the deadline: the job ended, and
        how is what matters); an unknown job past the grace period is an error; past the deadline it is a timeout;
        otherwise ask again in the next poll delay."""
        state = replace(state, errors_in_a_row=0)
        if status.state.is_terminal:
            return state, Finish(EVENT_STATUS[status.state], status, status.reason)
        if status.state is JobState.UNKNOWN:
            since = now if state.unknown_since is None else state.unknown_since
            state = replace(state, unknown_since=since)
            if now - since > self.unknown_grace_period:
                message = f"the scheduler has not known {state.job} for {self.unknown_grace_period:.0f}s"
                return state, Finish("error", status, message)
        else:
            state = replace(state, unknown_since=None)
        if self._expired(now):
            return state, Finish("timeout", status, TIMEOUT_MESSAGE)
        delay = state.next_poll
        state = replace(state, next_poll=min(delay * 2, self.poll_interval))
        return state, KeepWaiting(self._within_deadline(delay, now))

    def after_error(self, state: WaitState, error: BaseException, now: float) -> tuple[WaitState, Decision]:
        """A read failed with `error` at `now`. A refusal no retry can fix (not transient, or permanent) finishes
        with "error" at once; past the deadline it is a timeout; a transient error is asked again after a backoff
        until `errors.max_attempts` reads in a row have failed, then the wait finishes with "error"."""
        errors = state.errors_in_a_row + 1
        state = replace(state, errors_in_a_row=errors)
        if is_permanent(error) or not is_transient(error):
            return state, Finish("error", None, f"could not get the state of {state.job}: {error}", error)
        if self._expired(now):
            return state, Finish("timeout", None, TIMEOUT_MESSAGE, error)
        if errors > self.errors.retries:
            message = f"could not get the state of {state.job} ({errors} reads in a row failed; the last: {error})"
            return state, Finish("error", None, message, error)
        delay = self.errors.delay(errors - 1, self.rand)
        return state, KeepWaiting(self._within_deadline(delay, now), f"status of {state.job} not available: {error}")

    def _expired(self, now: float) -> bool:
        return self.deadline is not None and now >= self.deadline

    def _within_deadline(self, delay: float, now: float) -> float:
        if self.deadline is None:
            return delay
        return max(0.0, min(delay, self.deadline - now))
