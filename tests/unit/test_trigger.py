"""BatchJobTrigger with a fake status source and a patched sleep."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from airflow_provider_batch.common.errors import SchedulerError
from airflow_provider_batch.common.jobref import JobRef
from airflow_provider_batch.common.states import JobState, JobStatus
from airflow_provider_batch.triggers import batch as batch_module
from airflow_provider_batch.triggers.batch import BatchJobTrigger

JOB = JobRef("armada", "armada_default", "01JOB", {"queue": "q", "job_set_id": "js"}).to_json()


class FakeSource:
    def __init__(self, answers):
        self.answers = list(answers)
        self.asked = 0
        self.cancelled = []
        self.closed = False

    async def status(self, job, poll_interval):
        self.asked += 1
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, BaseException):
            raise answer
        return answer

    async def wait_for_change(self, job, previous, timeout):
        await batch_module.asyncio.sleep(timeout)

    async def cancel(self, job, reason):
        self.cancelled.append((job.job_id, reason))

    async def close(self):
        self.closed = True


@pytest.fixture
def sleeps(monkeypatch):
    slept = []

    async def fake_sleep(seconds):
        slept.append(seconds)

    monkeypatch.setattr(batch_module.asyncio, "sleep", fake_sleep)
    return slept


def with_source(monkeypatch, source):
    monkeypatch.setattr(batch_module, "open_source", lambda where, job: source)


async def first_event(trigger):
    return (await trigger.run().__anext__()).payload


async def test_waits_while_running_then_reports_success(monkeypatch, sleeps):
    source = FakeSource(
        [JobStatus(JobState.QUEUED), JobStatus(JobState.RUNNING), JobStatus(JobState.SUCCEEDED, "SUCCEEDED")]
    )
    with_source(monkeypatch, source)
    event = await first_event(BatchJobTrigger(JOB, poll_interval=7))
    assert event == {
        "status": "success", "job_id": "01JOB", "state": "succeeded", "native_state": "SUCCEEDED", "message": "",
        "job": JOB,
    }  # fmt: skip
    assert sleeps == [7, 7] and source.closed
    json.dumps(event)  # plain JSON


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (JobStatus(JobState.FAILED, "FAILED", "exit 3"), "failed"),
        (JobStatus(JobState.REJECTED, "REJECTED", "quota"), "failed"),
        (JobStatus(JobState.CANCELLED, "CANCELLED", "by user"), "cancelled"),
    ],
)
async def test_terminal_failures_carry_the_reason(monkeypatch, sleeps, status, expected):
    with_source(monkeypatch, FakeSource([status]))
    event = await first_event(BatchJobTrigger(JOB))
    assert (event["status"], event["state"], event["message"]) == (expected, status.state.value, status.reason)


async def test_transient_errors_are_retried_then_permanent_ones_end_in_error(monkeypatch, sleeps):
    flaky = SchedulerError("Armada", "GetJobStatus", "UNAVAILABLE", "down", retryable=True)
    source = FakeSource([flaky, ConnectionResetError("reset"), JobStatus(JobState.SUCCEEDED)])
    with_source(monkeypatch, source)
    assert (await first_event(BatchJobTrigger(JOB)))["status"] == "success"
    assert source.asked == 3
    with_source(monkeypatch, FakeSource([SchedulerError("Armada", "GetJobStatus", "PERMISSION_DENIED", "no")]))
    event = await first_event(BatchJobTrigger(JOB))
    assert event["status"] == "error" and "PERMISSION_DENIED: no" in event["message"]


async def test_transient_errors_are_bounded(monkeypatch, sleeps):
    source = FakeSource([SchedulerError("Armada", "GetJobStatus", "UNAVAILABLE", "down", retryable=True)])
    with_source(monkeypatch, source)
    event = await first_event(BatchJobTrigger(JOB))
    assert event["status"] == "error" and source.asked == 10


async def test_deadline_fires_a_timeout_event(monkeypatch, sleeps):
    with_source(monkeypatch, FakeSource([JobStatus(JobState.RUNNING)]))
    event = await first_event(BatchJobTrigger(JOB, deadline=time.time() - 1))
    assert event["status"] == "timeout"


async def test_an_unknown_job_ends_in_error_after_the_grace_period(monkeypatch, sleeps):
    with_source(monkeypatch, FakeSource([JobStatus(JobState.UNKNOWN, "UNKNOWN")]))
    trigger = BatchJobTrigger(JOB, unknown_grace_period=60, submitted_at=time.time() - 61)
    event = await first_event(trigger)
    assert event["status"] == "error" and "has not known job 01JOB" in event["message"]


async def test_still_running_does_not_finish(monkeypatch):
    with_source(monkeypatch, FakeSource([JobStatus(JobState.RUNNING)]))
    task = asyncio.create_task(first_event(BatchJobTrigger(JOB, poll_interval=0.01)))
    await asyncio.sleep(0.1)
    assert not task.done()
    task.cancel()


async def test_on_kill_cancels_and_cleanup_does_not(monkeypatch):
    source = FakeSource([JobStatus(JobState.RUNNING)])
    with_source(monkeypatch, source)
    trigger = BatchJobTrigger(JOB)
    await trigger.cleanup()
    assert source.cancelled == []
    await trigger.on_kill()
    assert source.cancelled == [("01JOB", "the Airflow task was stopped by a user")]


def test_serialize_round_trips_through_airflow_serde():
    from airflow.sdk.serde import deserialize, serialize

    trigger = BatchJobTrigger(JOB, poll_interval=3, deadline=123.5, unknown_grace_period=60, submitted_at=100.0)
    classpath, kwargs = trigger.serialize()
    restored_kwargs = deserialize(serialize(kwargs))
    assert restored_kwargs == kwargs
    module, _, name = classpath.rpartition(".")
    cls = getattr(__import__(module, fromlist=[name]), name)
    assert cls(**restored_kwargs).serialize() == (classpath, kwargs)
    assert json.loads(json.dumps(kwargs)) == kwargs


def test_refuses_a_job_reference_without_an_id():
    with pytest.raises(ValueError, match="job_id"):
        BatchJobTrigger({"backend": "armada", "conn_id": "c"})


async def test_on_kill_cancels_the_jobs_that_share_the_task_even_when_one_cancel_fails(monkeypatch):
    class Refusing(FakeSource):
        async def cancel(self, job, reason):
            await super().cancel(job, reason)
            if job.job_id == "02JOB":
                raise RuntimeError("already gone")

    source = Refusing([JobStatus(JobState.RUNNING)])
    with_source(monkeypatch, source)
    others = [JobRef("armada", "c", job_id, {}).to_json() for job_id in ("02JOB", "03JOB")]
    trigger = BatchJobTrigger(JOB, cancel_with=others)
    assert trigger.serialize()[1]["cancel_with"] == others
    await trigger.on_kill()
    assert [job_id for job_id, _ in source.cancelled] == ["01JOB", "02JOB", "03JOB"]


def test_every_trigger_is_rebuilt_from_what_it_serializes():
    """Airflow rebuilds a trigger as `cls(**kwargs)` from `serialize()`: every subclass must take every key."""
    import importlib

    importlib.import_module("airflow_provider_batch.compat.armada.operators.armada_deferrable")
    classes = [BatchJobTrigger, *BatchJobTrigger.__subclasses__()]
    assert len(classes) > 1
    for cls in classes:
        trigger = BatchJobTrigger(JOB, cancel_with=[JOB], where={"ask": "scheduler"}, deadline=1.0)
        if cls is not BatchJobTrigger:
            trigger = cls(job_id="01JOB", job=JOB, cancel_with=[JOB], where={"ask": "scheduler"}, deadline=1.0)
        classpath, kwargs = trigger.serialize()
        module, _, name = classpath.rpartition(".")
        rebuilt = getattr(importlib.import_module(module), name)(**kwargs)
        assert rebuilt.serialize() == (classpath, kwargs)
