"""The cache wakes a job's waiters when the job ends or becomes known or unknown, not on every move between live
states (an Armada event stream brings five of those per job)."""

from __future__ import annotations

import asyncio

from airflow_provider_batch.common.jobref import JobRef
from airflow_provider_batch.common.states import JobState, JobStatus
from airflow_provider_batch.jobservice.cache import _Watched, wakes

QUEUED, RUNNING = JobStatus(JobState.QUEUED, "QUEUED"), JobStatus(JobState.RUNNING, "RUNNING")
LEASED = JobStatus(JobState.QUEUED, "LEASED")
UNKNOWN, SUCCEEDED = JobStatus(JobState.UNKNOWN, "UNKNOWN"), JobStatus(JobState.SUCCEEDED, "SUCCEEDED")


def test_which_changes_wake() -> None:
    assert wakes(None, QUEUED)
    assert wakes(RUNNING, SUCCEEDED) and wakes(QUEUED, JobStatus(JobState.FAILED, "FAILED", "oom"))
    assert wakes(UNKNOWN, QUEUED) and wakes(RUNNING, UNKNOWN)
    assert not wakes(QUEUED, LEASED) and not wakes(LEASED, RUNNING)


async def test_a_waiter_sleeps_through_live_moves_and_wakes_at_the_end() -> None:
    watched = _Watched(JobRef("armada", "c", "job-1", {}), last_asked=0.0)
    assert watched.update(QUEUED)
    first = watched.moved
    waiter = asyncio.ensure_future(first.wait())
    for status in (LEASED, RUNNING):
        assert watched.update(status)  # a change, recorded...
        await asyncio.sleep(0.01)
        assert not waiter.done() and watched.status == status  # ...that wakes nobody
    assert watched.update(SUCCEEDED)
    await asyncio.wait_for(waiter, 1.0)
    assert not watched.update(SUCCEEDED)  # no change, no wake-up
