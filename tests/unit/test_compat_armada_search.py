"""The original Armada API's search_for_job_complete as an adapter over the one wait policy: its backoff, its
JOB_ID_NOT_FOUND time-out and its results, on a fake clock (test_seed_surface covers the documented messages)."""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any

import pytest

from airflow_provider_batch.common.retry import RetryPolicy
from airflow_provider_batch.common.wait import STATUS_READ_ERRORS
from airflow_provider_batch.compat.armada.operators import utils
from airflow_provider_batch.compat.armada.operators.utils import (
    CONNECTION_RETRY,
    JobState,
    search_for_job_complete,
)


class Clock:
    """Stands in for the module's `time`: monotonic() reads it, sleep() moves it on."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(utils, "time", fake)
    monkeypatch.delenv("ARMADA_AIRFLOW_TIME_OUT_JOB_ID", raising=False)
    return fake


def replies(*states: JobState, error: str = "") -> Any:
    answers = iter([SimpleNamespace(state=int(s), error=error) for s in states])
    calls: list[dict[str, Any]] = []

    def ask(**kwargs: Any) -> SimpleNamespace:
        calls.append(kwargs)
        return next(answers)

    ask.calls = calls  # type: ignore[attr-defined]
    return ask


def search(ask: Any, **kwargs: Any) -> tuple[JobState, str]:
    return search_for_job_complete("q", "js", "seed", "01JOB", job_status_callable=ask, **kwargs)


def test_the_connection_budget_is_the_wait_policys() -> None:
    assert CONNECTION_RETRY is STATUS_READ_ERRORS


def test_connection_errors_back_off_as_the_policy_says_then_end_the_search(
    clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    retry = RetryPolicy(max_attempts=4, initial_backoff=1.0, max_backoff=3.0, jitter=0.0)
    ask = replies(*[JobState.CONNECTION_ERR] * 4, error="subscription lost")
    with caplog.at_level(logging.WARNING, logger=utils.__name__):
        state, message = search(ask, poll_interval=30, connection_retry=retry)
    assert clock.sleeps == [1.0, 2.0, 3.0]
    assert state is JobState.CONNECTION_ERR and "after 4 tries" in message and "subscription lost" in message
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 3 and all("Armada seed:01JOB connection error (will retry)" in w for w in warnings)


def test_job_id_not_found_ends_once_the_time_out_passed(clock: Clock) -> None:
    ask = replies(*[JobState.JOB_ID_NOT_FOUND] * 5)
    state, message = search(ask, poll_interval=30, time_out_for_failure=100)
    assert (state, message) == (
        JobState.JOB_ID_NOT_FOUND,
        "Armada seed:01JOB could not find a job id and\nhit a timeout",
    )
    assert clock.sleeps == [30, 30, 30, 30] and len(ask.calls) == 5  # 120 s without the job: past the 100 s


def test_the_time_out_counts_only_while_the_job_is_not_known(clock: Clock) -> None:
    flaky = [JobState.JOB_ID_NOT_FOUND] * 3 + [JobState.RUNNING] + [JobState.JOB_ID_NOT_FOUND] * 3
    ask = replies(*flaky, JobState.DUPLICATE_FOUND, JobState.SUBMITTED, JobState.SUCCEEDED)
    assert search(ask, poll_interval=30, time_out_for_failure=70) == (JobState.SUCCEEDED, "Armada seed:01JOB succeeded")
    assert len(ask.calls) == 10


def test_an_answer_that_is_no_state_is_refused_not_waited_on(clock: Clock) -> None:
    ask = lambda **kwargs: SimpleNamespace(state=42, error="")  # noqa: E731
    with pytest.raises(ValueError, match="job service state 42"):
        search(ask)


def test_the_failure_reason_and_the_other_ends_keep_their_words(clock: Clock) -> None:
    assert search(replies(JobState.RUNNING, JobState.FAILED, error="OOMKilled")) == (
        JobState.FAILED,
        "Armada seed:01JOB failed\nfailed with reason OOMKilled",
    )
    assert search(replies(JobState.CANCELLED)) == (JobState.CANCELLED, "Armada seed:01JOB cancelled")
