"""The embedded job-service cache: one watcher per (backend, connection) asks about all its jobs together.

A thousand deferred tasks on one Armada connection cost one GetJobStatus call (500 ids each) per interval instead
of a thousand. Triggers read the state from memory. Where a backend has a stream of state changes (Armada: a job
set's events) and at least `follow_min_jobs` watched jobs share one, the watcher follows that stream too: a job's end
reaches its trigger as soon as the event arrives, and polling of the followed jobs slows to a safety net.

A job nobody has asked about for `forget_after` seconds is dropped; a watcher with no jobs left stops. Transient
scheduler errors keep the last known states and back off (with the wait policy's `STATUS_READ_ERRORS` delays, the
one definition of that backoff); the watcher never gives up while it has jobs. When no answer has come for a while,
the error reaches the triggers, and their wait policy alone decides how many failed reads in a row end a wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from airflow_provider_batch.common.errors import is_transient
from airflow_provider_batch.common.jobref import JobRef
from airflow_provider_batch.common.states import JobState, JobStatus
from airflow_provider_batch.common.wait import STATUS_READ_ERRORS
from airflow_provider_batch.hooks.base import BatchHook

log = logging.getLogger(__name__)
MIN_INTERVAL = 0.5
# Builds the hook that reaches a job's scheduler (its backend, connection and channel detail).
HookFactory = Callable[[JobRef], BatchHook]
OnUpdate = Callable[[list[tuple[JobRef, JobStatus]]], Awaitable[None]]
FOLLOW_MIN_JOBS = 10  # a stream costs the scheduler more than a tenth of a batched poll: follow only busy job sets
FOLLOWED_POLL_FACTOR = 6  # jobs on a live stream are still polled, this many times less often
FOLLOW_RETRY_AFTER = 30.0  # seconds before a broken stream is opened again (polling covers the gap)


@dataclass
class _Watched:
    job: JobRef
    last_asked: float
    status: JobStatus | None = None
    known: asyncio.Event = field(default_factory=asyncio.Event)
    # Set (and replaced) when the state changes in a way a waiter acts on (`wakes`): only this job's waiters wake,
    # not every trigger of the watcher.
    moved: asyncio.Event = field(default_factory=asyncio.Event)

    def update(self, status: JobStatus) -> bool:
        """Take a new state; whether it differs from the last one."""
        changed = self.status != status
        previous, self.status = self.status, status
        self.known.set()
        if changed and wakes(previous, status):
            moved, self.moved = self.moved, asyncio.Event()
            moved.set()
        return changed


def wakes(previous: JobStatus | None, status: JobStatus) -> bool:
    """Whether a change is worth waking the job's waiters: the job ended, or it became known or unknown (the
    trigger's grace period counts unknown time). A move between live states (queued, leased, pending, running) is
    not: a waiter asks again within its interval anyway, and an Armada event stream brings five such moves per job,
    each of which woke its trigger (a third of the stream's CPU at 3000 jobs)."""
    if previous is None or status.state.is_terminal:
        return True
    return (previous.state is JobState.UNKNOWN) != (status.state is JobState.UNKNOWN)


class JobWatcher:
    """Watches every job of one backend connection with batched status calls."""

    def __init__(
        self,
        hook: BatchHook,
        interval: float,
        forget_after: float,
        on_idle: Callable[[], None],
        on_update: OnUpdate | None = None,
        follow_min_jobs: int = FOLLOW_MIN_JOBS,
    ) -> None:
        self.hook = hook
        self._on_update = on_update
        self.follow_min_jobs = follow_min_jobs
        self._followers: dict[str, asyncio.Task[None]] = {}
        self._follow_again_at: dict[str, float] = {}
        self.interval = max(interval, MIN_INTERVAL)
        self.forget_after = forget_after
        self._on_idle = on_idle
        self._jobs: dict[str, _Watched] = {}
        self._error: BaseException | None = None
        self._last_answer = time.monotonic()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._sweeps = max(1, hook.sweeps_per_interval)
        self.polls = 0

    def watch(
        self, job: JobRef, poll_interval: float, known: JobStatus | None = None, asked_ago: float = 0.0
    ) -> _Watched:
        """Start (or keep) watching a job; `known` is a state remembered from before a restart, `asked_ago` how
        many seconds ago a caller last asked about it (a resumed job is forgotten when its own time is up)."""
        asked = time.monotonic() - max(0.0, asked_ago)
        watched = self._jobs.get(job.job_id)
        if watched is None:
            watched = self._jobs[job.job_id] = _Watched(job, asked, known)
            if known is not None:
                watched.known.set()
            self._wake.set()
        watched.last_asked = max(watched.last_asked, asked)
        if poll_interval < self.interval:
            self.interval = max(poll_interval, MIN_INTERVAL)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name=f"batch-watcher-{self.hook.backend}-{self.hook.conn_id}")
        return watched

    async def status(self, job: JobRef, poll_interval: float) -> JobStatus:
        """The job's last known state; the first call waits for the next poll."""
        watched = self.watch(job, poll_interval)
        while True:
            error = self._error
            if error is not None and (self._stale() or (watched.status is None and not is_transient(error))):
                raise error
            if watched.status is not None and not self._stale():
                return watched.status
            watched.known.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(watched.known.wait(), timeout=self.interval * 2)

    async def wait_for_change(self, job: JobRef, previous: JobStatus, timeout: float) -> None:
        """Return as soon as the job ends (or becomes known or unknown) after `previous`, or after `timeout` s."""
        watched = self.watch(job, self.interval)
        if watched.status == previous:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(watched.moved.wait(), timeout)

    def _stale(self) -> bool:
        """No answer from the scheduler for five intervals: cached states can no longer be trusted."""
        return self._error is not None and time.monotonic() - self._last_answer > 5 * self.interval

    async def _run(self) -> None:
        errors_in_a_row = 0
        while self._jobs:
            self._forget_the_forgotten()
            started = time.monotonic()
            pending = [w.job for w in self._jobs.values() if w.status is None or not w.status.state.is_terminal]
            followed = self._follow(pending)
            if pending:
                try:
                    answers = await self.hook.aget_statuses(pending)
                except Exception as error:
                    self._error = error
                    self._notify_all()
                    delay = STATUS_READ_ERRORS.delay(errors_in_a_row)
                    errors_in_a_row += 1
                    log.warning(
                        "polling %d %s jobs failed (%s); again in %.1fs", len(pending), self.hook.backend, error, delay
                    )
                    await self._sleep(delay)
                    continue
                self.polls += 1
                errors_in_a_row = 0
                self._error = None
                self._last_answer = time.monotonic()
                await self._apply(answers)
            all_followed = bool(pending) and followed >= len(pending)
            # Polls start one period apart, however long the last one took (a slow scheduler must not stretch
            # the time from a job's end to its trigger's event beyond one interval).
            period = self.interval * FOLLOWED_POLL_FACTOR if all_followed else self.interval / self._sweeps
            await self._sleep(max(MIN_INTERVAL / 5, period - (time.monotonic() - started)))
        self._stop_following(set())
        self._on_idle()
        await self.hook.aclose()  # an idle watcher's sessions and channels would otherwise stay open

    async def _apply(self, answers: dict[str, JobStatus]) -> None:
        """Record new states (a terminal state is final: a late poll answer does not undo an event) and wake the
        triggers waiting on a change."""
        updates = []
        for job_id, status in answers.items():
            watched = self._jobs.get(job_id)
            if watched is None:
                continue
            if watched.status is not None and watched.status.state.is_terminal and not status.state.is_terminal:
                continue
            if watched.update(status):
                updates.append((watched.job, status))
        if updates and self._on_update is not None:
            await self._on_update(updates)

    # -- following streams of state changes ---------------------------------------------------------------------

    def _follow(self, pending: list[JobRef]) -> int:
        """Open (or keep) a stream for each key shared by enough pending jobs, close the others; how many pending
        jobs a live stream covers."""
        if self.follow_min_jobs <= 0:
            return 0
        groups: dict[str, list[JobRef]] = {}
        for job in pending:
            key = self.hook.stream_key(job)
            if key is not None:
                groups.setdefault(key, []).append(job)
        wanted = {key for key, jobs in groups.items() if len(jobs) >= self.follow_min_jobs}
        self._stop_following(wanted)
        now = time.monotonic()
        for key in wanted:
            task = self._followers.get(key)
            if (task is None or task.done()) and now >= self._follow_again_at.get(key, 0.0):
                self._followers[key] = asyncio.create_task(self._follow_one(key, groups[key]), name=f"follow {key}")
        return sum(len(groups[key]) for key in wanted if not self._followers[key].done())

    async def _follow_one(self, key: str, jobs: list[JobRef]) -> None:
        try:
            async for job_id, status in self.hook.afollow(key, jobs):
                await self._apply({job_id: status})
        except asyncio.CancelledError:
            raise
        except Exception as error:  # polling goes on; the stream is tried again later
            log.warning("following %s %s failed (%s); polling meanwhile", self.hook.backend, key, error)
        self._follow_again_at[key] = time.monotonic() + FOLLOW_RETRY_AFTER
        self._wake.set()  # poll at the normal pace again

    def _stop_following(self, keep: set[str]) -> None:
        for key in [key for key in self._followers if key not in keep]:
            self._followers.pop(key).cancel()

    def _forget_the_forgotten(self) -> None:
        now = time.monotonic()
        for job_id in [j for j, w in self._jobs.items() if now - w.last_asked > self.forget_after]:
            del self._jobs[job_id]

    def _notify_all(self) -> None:
        for watched in self._jobs.values():
            watched.known.set()

    async def _sleep(self, seconds: float) -> None:
        self._wake.clear()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=seconds)

    @property
    def watched(self) -> int:
        return len(self._jobs)

    async def aclose(self) -> None:
        self._stop_following(set())
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.hook.aclose()


class JobServiceCache:
    """All watchers of one event loop (the triggerer's): shared by every trigger in the process."""

    def __init__(
        self,
        hook_for: HookFactory,
        forget_after: float = 300.0,
        on_update: OnUpdate | None = None,
        follow_min_jobs: int = FOLLOW_MIN_JOBS,
    ) -> None:
        self._hook_for = hook_for
        self.forget_after = forget_after
        self._on_update = on_update
        self.follow_min_jobs = follow_min_jobs
        self.watchers: dict[tuple[str, str, str], JobWatcher] = {}

    def watcher(self, job: JobRef, poll_interval: float) -> JobWatcher:
        key = job.scheduler_key()
        watcher = self.watchers.get(key)
        if watcher is None:
            watcher = self.watchers[key] = JobWatcher(
                self._hook_for(job),
                poll_interval,
                self.forget_after,
                lambda: self._forget(key, watcher),
                self._on_update,
                self.follow_min_jobs,
            )
        return watcher

    async def status(self, job: JobRef, poll_interval: float) -> JobStatus:
        return await self.watcher(job, poll_interval).status(job, poll_interval)

    async def wait_for_change(self, job: JobRef, previous: JobStatus, timeout: float) -> None:
        await self.watcher(job, timeout).wait_for_change(job, previous, timeout)

    async def aclose(self) -> None:
        for watcher in list(self.watchers.values()):
            await watcher.aclose()
        self.watchers.clear()

    def _forget(self, key: tuple[str, str, str], watcher: JobWatcher | None) -> None:
        if self.watchers.get(key) is watcher:
            del self.watchers[key]


_CACHES: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, JobServiceCache] = weakref.WeakKeyDictionary()


def embedded_cache(
    hook_for: HookFactory, follow_min_jobs: Callable[[], int] = lambda: FOLLOW_MIN_JOBS
) -> JobServiceCache:
    """The cache of the running event loop, created on first use (`follow_min_jobs` is read only then: every
    trigger asks for the cache on every wake-up)."""
    loop = asyncio.get_running_loop()
    cache = _CACHES.get(loop)
    if cache is None:
        cache = _CACHES[loop] = JobServiceCache(hook_for, follow_min_jobs=follow_min_jobs())
    return cache
