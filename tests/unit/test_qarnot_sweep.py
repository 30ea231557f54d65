"""The Qarnot status sweep: one tag-filtered page per 100 tasks, pages overlapped (bounded), answers page by page."""

from __future__ import annotations

import asyncio
import math
from typing import Any

import pytest

from airflow_provider_batch.clients.qarnot.types import Page, QarnotTask
from airflow_provider_batch.common.jobref import JobRef
from airflow_provider_batch.common.states import JobState, JobStatus
from airflow_provider_batch.hooks import qarnot_sweep
from airflow_provider_batch.hooks.qarnot_sweep import PAGE_TASKS, PAGES_IN_FLIGHT, iter_statuses, statuses


def job(i: int, tagged: bool = True) -> JobRef:
    return JobRef("qarnot", "q", f"uuid-{i}", {"tag": f"airflow-job-{i}"} if tagged else {})


def to_status(task: QarnotTask) -> JobStatus:
    return JobStatus(JobState.SUCCEEDED if task.state == "Success" else JobState.RUNNING, task.state, "")


def missing(job_id: str) -> JobStatus:
    return JobStatus(JobState.UNKNOWN, "Missing", job_id)


class FakeQarnot:
    """Lists the tasks whose tag is in the filter, `page_size` at most a page; `delay(tags)` seconds a call."""

    def __init__(self, known: set[int], page_size: int = PAGE_TASKS, delay: Any = lambda tags: 0.01) -> None:
        self.known, self.page_size, self.delay = known, page_size, delay
        self.calls: list[tuple[str | None, int]] = []
        self.in_flight = self.most_in_flight = 0
        self.fail_on: str | None = None

    async def tasks_page(self, token: str | None, maximum: int, *, retry: bool, filter_: Any) -> Page:
        assert retry is False and maximum == PAGE_TASKS
        leaves = filter_.get("filters", [filter_])
        tags = [leaf["value"] for leaf in leaves]
        assert all(leaf["field"] == "Tags" and leaf["operator"] == "Equal" for leaf in leaves)
        self.calls.append((token, len(tags)))
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.delay(tags))
            if self.fail_on in tags:
                raise RuntimeError("503 from Qarnot")
        finally:
            self.in_flight -= 1
        ids = [int(tag.rsplit("-", 1)[1]) for tag in tags]
        matching = [i for i in ids if i in self.known]
        start = int(token or 0)
        chunk = matching[start : start + self.page_size]
        more = start + self.page_size < len(matching)
        items = [QarnotTask.from_json({"uuid": f"uuid-{i}", "state": "Success"}) for i in chunk]
        return Page(items, str(start + self.page_size) if more else None, more)


async def alone(ref: JobRef) -> JobStatus:
    return JobStatus(JobState.RUNNING, "FullyExecuting", "asked alone")


async def test_one_page_per_hundred_tasks_and_missing_ones_named() -> None:
    jobs = [job(i) for i in range(1, 451)]
    fake = FakeQarnot(known=set(range(1, 451)) - {7, 300})
    answers = await statuses(fake, jobs, to_status, alone, missing)  # type: ignore[arg-type]
    assert len(fake.calls) == math.ceil(450 / PAGE_TASKS)
    assert [tags for _, tags in fake.calls].count(PAGE_TASKS) == 4
    assert answers["uuid-1"].state is JobState.SUCCEEDED
    assert answers["uuid-7"].native_state == "Missing" and answers["uuid-300"].native_state == "Missing"
    assert list(answers) == [j.job_id for j in jobs]


async def test_pages_overlap_within_the_bound() -> None:
    jobs = [job(i) for i in range(1, 2001)]  # 20 pages
    fake = FakeQarnot(known=set(range(1, 2001)), delay=lambda tags: 0.1)
    started = asyncio.get_running_loop().time()
    await statuses(fake, jobs, to_status, alone, missing)  # type: ignore[arg-type]
    elapsed = asyncio.get_running_loop().time() - started
    assert fake.most_in_flight == PAGES_IN_FLIGHT
    assert elapsed < 20 * 0.1 / 2  # one after another would take 2 s; 10 at once take 0.2 s


async def test_each_page_is_answered_as_it_arrives() -> None:
    jobs = [job(i) for i in range(1, 301)]
    slow = "airflow-job-1"  # the first page is the slow one

    fake = FakeQarnot(known=set(range(1, 301)), delay=lambda tags: 1.0 if slow in tags else 0.01)
    loop = asyncio.get_running_loop()
    started = loop.time()
    arrivals = []
    async for page in iter_statuses(fake, jobs, to_status, alone):  # type: ignore[arg-type]
        arrivals.append((loop.time() - started, sorted(page)))
    assert [len(ids) for _, ids in arrivals] == [100, 100, 100]
    assert arrivals[0][0] < 0.5 and "uuid-1" not in arrivals[0][1]  # not held back by the slow page
    assert arrivals[-1][0] >= 1.0 and "uuid-1" in arrivals[-1][1]


async def test_truncated_pages_are_followed_and_untagged_jobs_asked_alone() -> None:
    jobs = [job(i) for i in range(1, 101)] + [job(1000, tagged=False)]
    fake = FakeQarnot(known=set(range(1, 101)), page_size=40)  # a server that answers 40 a page
    answers = await statuses(fake, jobs, to_status, alone, missing)  # type: ignore[arg-type]
    assert [token for token, _ in fake.calls] == [None, "40", "80"]
    assert all(answers[f"uuid-{i}"].state is JobState.SUCCEEDED for i in range(1, 101))
    assert answers["uuid-1000"].reason == "asked alone"


async def test_the_first_error_ends_the_sweep_and_cancels_the_rest() -> None:
    jobs = [job(i) for i in range(1, 501)]
    fake = FakeQarnot(known=set(range(1, 501)), delay=lambda tags: 0.05 if "airflow-job-101" in tags else 5.0)
    fake.fail_on = "airflow-job-101"
    with pytest.raises(RuntimeError, match="503"):
        await asyncio.wait_for(statuses(fake, jobs, to_status, alone, missing), 2.0)  # type: ignore[arg-type]
    await asyncio.sleep(0)
    assert fake.in_flight == 0  # the slow pages were cancelled, not left running


async def test_no_jobs_no_calls() -> None:
    fake = FakeQarnot(known=set())
    assert await statuses(fake, [], to_status, alone, missing) == {}  # type: ignore[arg-type]
    assert fake.calls == []
    assert qarnot_sweep.groups([job(1, tagged=False)]) == ([], [job(1, tagged=False)])
