"""The one wait policy (common.wait): every branch as a table, and properties over any run of answers."""

from __future__ import annotations

import math
import random
from typing import get_args

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_batch.common.errors import SchedulerError
from airflow_provider_batch.common.retry import RetryPolicy
from airflow_provider_batch.common.states import JobState, JobStatus
from airflow_provider_batch.common.wait import (
    EVENT_STATUS,
    OUTCOMES,
    STATUS_READ_ERRORS,
    TIMEOUT_MESSAGE,
    Finish,
    KeepWaiting,
    Outcome,
    WaitPolicy,
    WaitState,
)

NO_JITTER = lambda: 0.0  # noqa: E731
UNAVAILABLE = SchedulerError("Armada", "GetJobStatus", "UNAVAILABLE", "connection reset", retryable=True)
DENIED = SchedulerError("Armada", "GetJobStatus", "PERMISSION_DENIED", "no access to queue q", kind="permission")


def status(state: JobState, reason: str = "") -> JobStatus:
    return JobStatus(state, state.name, reason)


def policy(**fields: object) -> WaitPolicy:
    return WaitPolicy(**{"poll_interval": 10.0, "rand": NO_JITTER, **fields})  # type: ignore[arg-type]


def test_the_constants_are_one_definition_of_todays_numbers() -> None:
    assert set(EVENT_STATUS) == {s for s in JobState if s.is_terminal}
    assert set(get_args(Outcome)) == OUTCOMES == {"success", "failed", "cancelled", "error", "timeout"}
    assert (STATUS_READ_ERRORS.max_attempts, STATUS_READ_ERRORS.initial_backoff) == (10, 1.0)
    assert STATUS_READ_ERRORS.max_backoff == 60.0


# -- a status came back ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "outcome"),
    [
        (JobState.SUCCEEDED, "success"),
        (JobState.FAILED, "failed"),
        (JobState.REJECTED, "failed"),
        (JobState.CANCELLED, "cancelled"),
    ],
)
@pytest.mark.parametrize("now", [50.0, 500.0], ids=["before-deadline", "past-deadline"])
def test_a_terminal_state_finishes_with_its_outcome_and_the_schedulers_reason(
    state: JobState, outcome: str, now: float
) -> None:
    wait = policy(deadline=100.0)
    _, decision = wait.after_status(wait.start("job 01J"), status(state, "exit 3"), now)
    assert decision == Finish(outcome, status(state, "exit 3"), "exit 3")  # type: ignore[arg-type]


@pytest.mark.parametrize("state", [JobState.QUEUED, JobState.RUNNING, JobState.UNKNOWN])
def test_a_live_or_unknown_job_is_asked_again_after_the_poll_interval(state: JobState) -> None:
    wait = policy()
    _, decision = wait.after_status(wait.start(), status(state), 0.0)
    assert decision == KeepWaiting(10.0)


def test_a_blocking_wait_starts_quick_and_doubles_up_to_the_poll_interval() -> None:
    wait, delays = policy(first_delay=1.0), []
    state = wait.start()
    for now in range(7):
        state, decision = wait.after_status(state, status(JobState.RUNNING), float(now))
        assert isinstance(decision, KeepWaiting)
        delays.append(decision.delay)
    assert delays == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0, 10.0]


def test_a_first_delay_longer_than_the_poll_interval_is_cut_to_it() -> None:
    wait = policy(poll_interval=0.5, first_delay=1.0)
    assert wait.after_status(wait.start(), status(JobState.QUEUED), 0.0)[1] == KeepWaiting(0.5)


def test_an_unknown_job_is_an_error_once_the_grace_period_from_its_submission_passed() -> None:
    wait = policy(unknown_grace_period=300.0)
    state = wait.start("job 01J", submitted_at=1000.0)
    state, decision = wait.after_status(state, status(JobState.UNKNOWN), 1300.0)
    assert isinstance(decision, KeepWaiting)  # exactly the grace period: not yet
    _, decision = wait.after_status(state, status(JobState.UNKNOWN), 1300.5)
    assert decision == Finish("error", status(JobState.UNKNOWN), "the scheduler has not known job 01J for 300s")


def test_without_a_submission_time_the_grace_period_starts_at_the_first_unknown_answer() -> None:
    wait = policy(unknown_grace_period=60.0)
    state = wait.start("job 01J")
    state, decision = wait.after_status(state, status(JobState.UNKNOWN), 5000.0)
    assert isinstance(decision, KeepWaiting) and state.unknown_since == 5000.0
    assert isinstance(wait.after_status(state, status(JobState.UNKNOWN), 5060.0)[1], KeepWaiting)
    assert wait.after_status(state, status(JobState.UNKNOWN), 5061.0)[1].outcome == "error"  # type: ignore[union-attr]


def test_a_known_state_starts_the_grace_period_afresh() -> None:
    wait = policy(unknown_grace_period=60.0)
    state = wait.start("job 01J", submitted_at=0.0)
    state, _ = wait.after_status(state, status(JobState.UNKNOWN), 50.0)
    state, _ = wait.after_status(state, status(JobState.RUNNING), 55.0)
    assert state.unknown_since is None
    state, decision = wait.after_status(state, status(JobState.UNKNOWN), 100.0)
    assert isinstance(decision, KeepWaiting) and state.unknown_since == 100.0
    assert wait.after_status(state, status(JobState.UNKNOWN), 161.0)[1].outcome == "error"  # type: ignore[union-attr]


def test_a_negative_grace_period_gives_up_on_the_first_unknown_answer() -> None:
    wait = policy(unknown_grace_period=-1.0)  # the original Armada API's env ARMADA_AIRFLOW_TIME_OUT_JOB_ID=-1
    assert wait.after_status(wait.start(), status(JobState.UNKNOWN), 7.0)[1].outcome == "error"  # type: ignore[union-attr]


def test_past_the_deadline_a_live_job_times_out_with_its_last_state() -> None:
    wait = policy(deadline=100.0)
    _, decision = wait.after_status(wait.start(), status(JobState.RUNNING), 100.0)
    assert decision == Finish("timeout", status(JobState.RUNNING), TIMEOUT_MESSAGE)


def test_no_delay_runs_past_the_deadline() -> None:
    wait = policy(deadline=105.0)
    state = wait.start()
    state, decision = wait.after_status(state, status(JobState.RUNNING), 100.0)
    assert decision == KeepWaiting(5.0)
    _, decision = wait.after_error(state, UNAVAILABLE, 104.5)
    assert decision == KeepWaiting(0.5, decision.note)  # type: ignore[union-attr]


# -- a status read failed -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "error",
    [DENIED, KeyError("state"), SchedulerError("Qarnot", "tasks", "500", "odd", retryable=False)],
    ids=["permanent", "a-bug", "not-retryable"],
)
def test_an_error_no_retry_can_fix_finishes_at_once_with_its_words(error: BaseException) -> None:
    wait = policy(deadline=0.0)  # past the deadline too: the refusal is the better news
    state, decision = wait.after_error(wait.start("job 01J"), error, 10.0)
    assert isinstance(decision, Finish) and decision.outcome == "error" and decision.error is error
    assert decision.status is None and decision.message == f"could not get the state of job 01J: {error}"
    assert state.errors_in_a_row == 1


@pytest.mark.parametrize("error", [UNAVAILABLE, ConnectionResetError("reset"), TimeoutError("slow")])
def test_transient_errors_back_off_until_the_budget_is_used_then_finish(error: BaseException) -> None:
    wait = policy(errors=RetryPolicy(max_attempts=5, initial_backoff=1.0, max_backoff=5.0))
    state, delays = wait.start("job 01J"), []
    for now in range(4):
        state, decision = wait.after_error(state, error, float(now))
        assert isinstance(decision, KeepWaiting) and str(error) in decision.note
        delays.append(decision.delay)
    assert delays == [1.0, 2.0, 4.0, 5.0]
    state, decision = wait.after_error(state, error, 5.0)
    assert isinstance(decision, Finish) and decision.outcome == "error" and decision.error is error
    assert decision.message == f"could not get the state of job 01J (5 reads in a row failed; the last: {error})"


def test_a_good_answer_resets_the_error_count() -> None:
    wait = policy(errors=RetryPolicy(max_attempts=3, initial_backoff=1.0))
    state = wait.start()
    for _ in range(2):
        state, _ = wait.after_error(state, UNAVAILABLE, 0.0)
    state, decision = wait.after_status(state, status(JobState.RUNNING), 0.0)
    assert state.errors_in_a_row == 0 and decision == KeepWaiting(10.0)
    state, decision = wait.after_error(state, UNAVAILABLE, 0.0)
    assert decision == KeepWaiting(1.0, decision.note)  # type: ignore[union-attr]  # the backoff starts over too


def test_a_transient_error_past_the_deadline_is_a_timeout() -> None:
    wait = policy(deadline=100.0)
    _, decision = wait.after_error(wait.start(), UNAVAILABLE, 100.0)
    assert decision == Finish("timeout", None, TIMEOUT_MESSAGE, UNAVAILABLE)


def test_the_backoff_is_jittered_by_the_injected_source() -> None:
    jittered = policy(rand=random.Random(7).random)
    state = jittered.start()
    for retry in range(9):
        state, decision = jittered.after_error(state, UNAVAILABLE, 0.0)
        assert isinstance(decision, KeepWaiting)
        full = min(2.0**retry, 60.0)
        assert full / 2 <= decision.delay <= full


# -- refusals -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"poll_interval": -1.0}, "poll_interval"),
        ({"poll_interval": math.nan}, "poll_interval"),
        ({"poll_interval": math.inf}, "poll_interval"),
        ({"first_delay": 0.0}, "first_delay"),
        ({"unknown_grace_period": math.nan}, "unknown_grace_period"),
        ({"deadline": math.nan}, "deadline"),
    ],
)
def test_a_policy_that_cannot_wait_is_refused(fields: dict[str, float], words: str) -> None:
    with pytest.raises(ValueError, match=words):
        policy(**fields)


def test_a_zero_poll_interval_asks_again_at_once() -> None:  # the original search_for_job_complete allows it
    wait = policy(poll_interval=0.0)
    assert wait.after_status(wait.start(), status(JobState.RUNNING), 0.0)[1] == KeepWaiting(0.0)


# -- properties over any run of answers ---------------------------------------------------------------------------

ERRORS = [UNAVAILABLE, DENIED, ConnectionError("reset"), ValueError("bad answer")]
answers = st.lists(
    st.tuples(
        st.one_of(st.sampled_from(list(JobState)).map(status), st.sampled_from(ERRORS)),
        st.floats(min_value=0.0, max_value=400.0),  # seconds since the previous answer
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(
    run=answers,
    poll_interval=st.floats(min_value=0.0, max_value=3600.0),
    first_delay=st.one_of(st.none(), st.floats(min_value=0.01, max_value=100.0)),
    deadline=st.one_of(st.none(), st.floats(min_value=0.0, max_value=5000.0)),
    grace=st.floats(min_value=-10.0, max_value=1000.0),
    seed=st.integers(0, 2**32),
)
def test_any_run_keeps_its_promises(
    run: list[tuple[JobStatus | BaseException, float]],
    poll_interval: float,
    first_delay: float | None,
    deadline: float | None,
    grace: float,
    seed: int,
) -> None:
    wait = WaitPolicy(
        poll_interval,
        deadline=deadline,
        unknown_grace_period=grace,
        first_delay=first_delay,
        rand=random.Random(seed).random,
    )
    state: WaitState = wait.start("job 01J", submitted_at=0.0)
    now, errors_in_a_row = 0.0, 0
    for answer, elapsed in run:
        now += elapsed
        if isinstance(answer, JobStatus):
            state, decision = wait.after_status(state, answer, now)
            errors_in_a_row = 0
        else:
            state, decision = wait.after_error(state, answer, now)
            errors_in_a_row += 1
        assert state.errors_in_a_row == errors_in_a_row
        if isinstance(decision, KeepWaiting):
            assert 0.0 <= decision.delay <= max(poll_interval, wait.errors.max_backoff)
            if deadline is not None:
                assert now < deadline and now + decision.delay <= deadline + 1e-9
            assert errors_in_a_row < wait.errors.max_attempts
            continue
        assert decision.outcome in OUTCOMES
        if decision.outcome == "success":
            assert isinstance(answer, JobStatus) and answer.state is JobState.SUCCEEDED
        if isinstance(answer, JobStatus) and answer.state.is_terminal:
            assert decision == Finish(EVENT_STATUS[answer.state], answer, answer.reason)
        break


@settings(max_examples=100, deadline=None)
@given(
    states=st.lists(st.sampled_from([JobState.QUEUED, JobState.RUNNING]), min_size=1, max_size=30),
    first_delay=st.floats(min_value=0.01, max_value=50.0),
    poll_interval=st.floats(min_value=0.5, max_value=3600.0),
)
def test_poll_delays_never_shrink_and_settle_at_the_poll_interval(
    states: list[JobState], first_delay: float, poll_interval: float
) -> None:
    wait = WaitPolicy(poll_interval, first_delay=first_delay)
    state, delays = wait.start(), []
    for job_state in states:
        state, decision = wait.after_status(state, status(job_state), 0.0)
        assert isinstance(decision, KeepWaiting)
        delays.append(decision.delay)
    assert delays == sorted(delays) and delays[-1] <= poll_interval
    if len(delays) > math.log2(poll_interval / first_delay) + 1:
        assert delays[-1] == poll_interval
