"""The embedded cache with a fake hook: batching, forgetting, errors."""

from __future__ import annotations

import asyncio

import pytest

from airflow_provider_batch.common.errors import SchedulerError
from airflow_provider_batch.common.jobref import JobRef
from airflow_provider_batch.common.retry import RetryPolicy
from airflow_provider_batch.common.states import JobState, JobStatus
from airflow_provider_batch.jobservice import cache as cache_module
from airflow_provider_batch.jobservice.cache import JobServiceCache


class FakeHook:
    backend = "armada"
    sweeps_per_interval = 1

    def __init__(self, conn_id, script=None):
        self.conn_id = conn_id
        self.calls: list[int] = []
        self.script = list(script or [])
        self.closed = False

    async def aget_statuses(self, jobs):
        self.calls.append(len(jobs))
        if self.script:
            answer = self.script.pop(0)
            if isinstance(answer, BaseException):
                raise answer
            return {job.job_id: answer for job in jobs}
        return {job.job_id: JobStatus(JobState.RUNNING) for job in jobs}

    async def aclose(self):
        self.closed = True

    def stream_key(self, job):
        return None


def job(i, conn="c"):
    return JobRef("armada", conn, f"job-{i}", {})


@pytest.fixture
def hooks():
    made: dict[str, FakeHook] = {}

    def hook_for(job_ref):
        conn_id = job_ref.conn_id
        made[conn_id] = made.get(conn_id) or FakeHook(conn_id)
        return made[conn_id]

    return made, hook_for


async def test_many_jobs_one_call_per_interval(hooks):
    made, hook_for = hooks
    cache = JobServiceCache(hook_for)
    answers = await asyncio.gather(*(cache.status(job(i), 0.5) for i in range(200)))
    assert {a.state for a in answers} == {JobState.RUNNING}
    assert len(made["c"].calls) <= 2 and sum(made["c"].calls) <= 400
    await asyncio.gather(*(cache.status(job(i), 0.5) for i in range(200)))  # from memory: no new call
    assert len(made["c"].calls) <= 2
    for watcher in cache.watchers.values():
        await watcher.aclose()


async def test_a_hook_with_two_sweeps_per_interval_is_read_twice_as_often():
    """Qarnot and Apolo (no stream) are read twice per poll interval: a job's end is seen in a quarter interval on
    average, not half; Armada (sweeps_per_interval 1) once."""
    counts = {}
    for sweeps in (1, 2):
        hook = FakeHook("c")
        hook.sweeps_per_interval = sweeps
        cache = JobServiceCache(lambda _job, hook=hook: hook)
        await cache.status(job(1), 1.0)
        await asyncio.sleep(3.2)
        counts[sweeps] = len(hook.calls)
        await cache.aclose()
    assert counts[1] in (4, 5)  # the first read, then one per second
    assert counts[2] in (7, 8, 9)  # the first read, then one per half second


async def test_one_watcher_per_connection(hooks):
    made, hook_for = hooks
    cache = JobServiceCache(hook_for)
    await asyncio.gather(cache.status(job(1, "a"), 0.5), cache.status(job(2, "b"), 0.5))
    assert set(cache.watchers) == {("armada", "a", ""), ("armada", "b", "")}
    for watcher in cache.watchers.values():
        await watcher.aclose()
    assert made["a"].closed and made["b"].closed


async def test_forgotten_jobs_are_dropped_and_the_watcher_stops(hooks):
    _, hook_for = hooks
    cache = JobServiceCache(hook_for, forget_after=0.6)
    await cache.status(job(1), 0.5)
    watcher = cache.watchers[("armada", "c", "")]
    for _ in range(40):
        if not cache.watchers:
            break
        await asyncio.sleep(0.1)
    assert watcher.watched == 0 and not cache.watchers


async def test_terminal_jobs_are_not_asked_again(hooks):
    made, hook_for = hooks
    made["c"] = FakeHook("c", [JobStatus(JobState.SUCCEEDED)] * 3)
    cache = JobServiceCache(hook_for)
    assert (await cache.status(job(1), 0.5)).state is JobState.SUCCEEDED
    await asyncio.sleep(1.2)
    assert made["c"].calls == [1]
    await cache.watchers[("armada", "c", "")].aclose()


async def test_a_transient_error_keeps_the_cached_state_and_a_permanent_one_is_raised(hooks):
    made, hook_for = hooks
    transient = SchedulerError("Armada", "GetJobStatus", "UNAVAILABLE", "down", retryable=True)
    made["c"] = FakeHook("c", [JobStatus(JobState.RUNNING), transient, JobStatus(JobState.SUCCEEDED)])
    cache = JobServiceCache(hook_for)
    assert (await cache.status(job(1), 0.5)).state is JobState.RUNNING
    await asyncio.sleep(0.7)  # the failed poll
    assert (await cache.status(job(1), 0.5)).state is JobState.RUNNING
    await cache.watchers[("armada", "c", "")].aclose()

    made["d"] = FakeHook("d", [SchedulerError("Armada", "GetJobStatus", "PERMISSION_DENIED", "no access")])
    with pytest.raises(SchedulerError, match="no access"):
        await cache.status(job(1, "d"), 0.5)
    await cache.watchers[("armada", "d", "")].aclose()


async def test_the_watcher_backs_off_with_the_wait_policys_numbers_and_never_gives_up(hooks, monkeypatch):
    # One definition of the backoff (common.wait.STATUS_READ_ERRORS): made quick here, and with a budget of two
    # tries that the watcher, which only polls and reports, does not treat as a limit.
    monkeypatch.setattr(cache_module, "STATUS_READ_ERRORS", RetryPolicy(2, 0.05, 0.1, jitter=0.0))
    made, hook_for = hooks
    transient = SchedulerError("Armada", "GetJobStatus", "UNAVAILABLE", "down", retryable=True)
    made["c"] = FakeHook("c", [transient] * 6 + [JobStatus(JobState.RUNNING)])
    cache = JobServiceCache(hook_for)
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert (await cache.status(job(1), 0.5)).state is JobState.RUNNING
    assert len(made["c"].calls) == 7
    assert loop.time() - started < 1.5  # 0.05 + 0.1 * 5 of backoff; one second and more with today's numbers
    await cache.aclose()


async def test_waiting_for_a_change_returns_as_soon_as_a_poll_sees_one(hooks):
    made, hook_for = hooks
    made["c"] = FakeHook("c", [JobStatus(JobState.RUNNING), JobStatus(JobState.SUCCEEDED)])
    cache = JobServiceCache(hook_for)
    running = await cache.status(job(1), 0.5)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await cache.wait_for_change(job(1), running, timeout=30)
    assert loop.time() - started < 2  # one interval, not the 30 s timeout
    assert (await cache.status(job(1), 0.5)).state is JobState.SUCCEEDED
    await cache.aclose()


class StreamHook(FakeHook):
    """Jobs of one job set ("set"); its stream hands out what the test puts in `events`, or breaks on an error."""

    def __init__(self, conn_id):
        super().__init__(conn_id)
        self.events: asyncio.Queue = asyncio.Queue()
        self.opened = 0

    def stream_key(self, job):
        return "set"

    async def afollow(self, key, jobs):
        self.opened += 1
        while True:
            item = await self.events.get()
            if isinstance(item, BaseException):
                raise item
            yield item


@pytest.fixture
def stream_hooks():
    made: dict[str, StreamHook] = {}

    def hook_for(job_ref):
        conn_id = job_ref.conn_id
        made[conn_id] = made.get(conn_id) or StreamHook(conn_id)
        return made[conn_id]

    return made, hook_for


async def test_a_busy_job_set_is_followed_and_an_event_reaches_the_trigger_before_the_next_poll(stream_hooks):
    made, hook_for = stream_hooks
    cache = JobServiceCache(hook_for, follow_min_jobs=10)
    await asyncio.gather(*(cache.status(job(i), 5.0) for i in range(12)))
    hook = made["c"]
    assert hook.opened == 1
    polls = len(hook.calls)
    waiting = asyncio.create_task(cache.wait_for_change(job(3), JobStatus(JobState.RUNNING), 5.0))
    await asyncio.sleep(0.05)
    started = asyncio.get_running_loop().time()
    await hook.events.put(("job-3", JobStatus(JobState.SUCCEEDED, "SUCCEEDED")))
    await asyncio.wait_for(waiting, 2.0)
    assert asyncio.get_running_loop().time() - started < 1.0  # the poll interval is 5 s
    assert (await cache.status(job(3), 5.0)).state is JobState.SUCCEEDED
    assert len(hook.calls) == polls, "the event, not a poll, moved the job"
    await cache.aclose()


async def test_a_late_poll_answer_does_not_undo_a_terminal_event(stream_hooks):
    _, hook_for = stream_hooks
    cache = JobServiceCache(hook_for, follow_min_jobs=10)
    await asyncio.gather(*(cache.status(job(i), 5.0) for i in range(10)))
    watcher = cache.watchers[("armada", "c", "")]
    await watcher._apply({"job-1": JobStatus(JobState.FAILED, "FAILED", "OOMKilled")})
    await watcher._apply({"job-1": JobStatus(JobState.RUNNING, "RUNNING")})
    assert await cache.status(job(1), 5.0) == JobStatus(JobState.FAILED, "FAILED", "OOMKilled")
    await cache.aclose()


async def test_small_job_sets_are_only_polled(stream_hooks):
    made, hook_for = stream_hooks
    cache = JobServiceCache(hook_for, follow_min_jobs=10)
    await asyncio.gather(*(cache.status(job(i), 0.5) for i in range(9)))
    await asyncio.sleep(0.2)
    assert made["c"].opened == 0
    await cache.aclose()


async def test_followed_jobs_are_polled_less_and_a_broken_stream_brings_polling_back(stream_hooks):
    made, hook_for = stream_hooks
    cache = JobServiceCache(hook_for, follow_min_jobs=2)
    await asyncio.gather(*(cache.status(job(i), 0.5) for i in range(4)))
    hook = made["c"]
    before = len(hook.calls)
    await asyncio.sleep(1.6)  # followed: polled every 6 x 0.5 s, so no poll in this window
    assert len(hook.calls) == before
    await hook.events.put(RuntimeError("stream reset"))
    await asyncio.sleep(1.3)  # the stream is gone: polled every 0.5 s again
    assert len(hook.calls) >= before + 2
    assert (await cache.status(job(0), 0.5)).state is JobState.RUNNING
    await cache.aclose()
