"""The seed's cache on our Qarnot objects: with auto_update a property read re-fetches once the copy is older than
update_cache_time; without it, only update() does; update(flushcache=True) always fetches; nothing is fetched for an
unsubmitted object. A fake client counts the calls; the clock is ours to move."""

from __future__ import annotations

import types
from typing import Any
from unittest import mock

import pytest

from airflow_provider_batch.clients.qarnot.types import QarnotJob, QarnotTask
from airflow_provider_batch.compat.qarnot import _cache
from airflow_provider_batch.compat.qarnot.connection import Connection
from airflow_provider_batch.compat.qarnot.exceptions import MissingTaskException, QarnotGenericException
from airflow_provider_batch.compat.qarnot.job import Job
from airflow_provider_batch.compat.qarnot.task import Task


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(_cache, "time", types.SimpleNamespace(monotonic=clock))
    return clock


@pytest.fixture
def conn() -> Any:
    connection = Connection(cluster_url="http://127.0.0.1:1", client_token="t")
    states = iter(["Submitted", "FullyExecuting", "Success", "Success", "Success"])
    fake = mock.Mock()
    fake.submit_task.return_value = "u-1"
    fake.retrieve_task.side_effect = lambda uuid: QarnotTask(uuid=uuid, name="t", state=next(states))
    jobs = iter(["Active", "Terminating", "Completed"])
    fake.submit_job.return_value = QarnotJob(uuid="j-1", name="j", state="Active")
    fake.retrieve_job.side_effect = lambda uuid: QarnotJob(uuid=uuid, name="j", state=next(jobs))
    connection._client = fake
    return connection


def submitted(conn: Any) -> Task:
    task = conn.create_task("t", "docker-batch", 1)
    task.submit()  # fetches once: Submitted
    return task


def test_unsubmitted_objects_never_call(conn: Any, clock: Clock) -> None:
    task = conn.create_task("t", "docker-batch", 1)
    task.update(True)
    assert task.state == "UnSubmitted" and task.uuid is None
    assert conn._client.retrieve_task.call_count == 0


def test_auto_update_refetches_only_after_the_cache_time(conn: Any, clock: Clock) -> None:
    task = submitted(conn)
    assert task.auto_update is True and task.update_cache_time == 5
    assert task.state == "Submitted"  # younger than 5 s: the cached copy
    clock.now += 4.9
    assert task.state == "Submitted"
    clock.now += 0.2
    assert task.state == "FullyExecuting"
    assert conn._client.retrieve_task.call_count == 2


def test_without_auto_update_only_update_fetches(conn: Any, clock: Clock) -> None:
    task = submitted(conn)
    task.auto_update = False
    clock.now += 60
    assert task.state == "Submitted"
    assert conn._client.retrieve_task.call_count == 1
    task.update()  # older than update_cache_time: fetches
    assert task.state == "FullyExecuting"
    task.update()  # just fetched: served from the cache
    assert conn._client.retrieve_task.call_count == 2
    task.update(flushcache=True)
    assert task.state == "Success" and conn._client.retrieve_task.call_count == 3


def test_update_cache_time_zero_fetches_on_every_read(conn: Any, clock: Clock) -> None:
    task = submitted(conn)
    task.update_cache_time = 0
    assert [task.state, task.state] == ["FullyExecuting", "Success"]


def test_job_cache_and_submit(conn: Any, clock: Clock) -> None:
    job = conn.create_job("j", useDependencies=True)
    assert isinstance(job, Job) and job.state == "UnSubmitted"
    job.submit()
    assert conn._client.submit_job.call_args.args[0].use_dependencies is True
    assert job.state == "Active" and conn._client.retrieve_job.call_count == 0  # submit's answer is the cache
    clock.now += 6
    assert job.state == "Active"  # the first fetch
    job.auto_update = False
    clock.now += 6
    assert job.state == "Active"
    job.update(flushcache=True)
    assert job.state == "Terminating"
    with pytest.raises(AttributeError):
        job.use_dependencies = False


def test_wait_polls_until_terminal(conn: Any, clock: Clock, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Task, "wait_interval", 0)
    task = submitted(conn)
    assert task.wait() is True
    assert task.state == "Success"


def test_seed_exception_names_are_our_errors() -> None:
    from airflow_provider_batch.clients.qarnot.errors import QarnotError, QarnotMissingTaskError

    assert MissingTaskException is QarnotMissingTaskError
    assert issubclass(MissingTaskException, QarnotGenericException) and QarnotGenericException is QarnotError


def test_submit_tasks_reports_refused_ones(conn: Any, clock: Clock) -> None:
    from airflow_provider_batch.clients.qarnot.types import SubmitAnswer

    good, bad = conn.create_task("good", "docker-batch"), conn.create_task("bad", "nope")
    conn._client.submit_tasks.return_value = [SubmitAnswer(201, "u-9"), SubmitAnswer(400, "", "unknown profile")]
    with pytest.raises(QarnotGenericException, match="bad: 400 unknown profile"):
        conn.submit_tasks([good, bad])
    assert good.uuid == "u-9" and bad.uuid is None


def test_connection_settings_like_the_seed(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QARNOT_CLIENT_TOKEN", raising=False)
    conf = tmp_path / "qarnot.conf"
    conf.write_text("[cluster]\nurl=http://127.0.0.1:9\nunsafe=true\n[client]\ntoken=from-file\n")
    from_file = Connection(str(conf)).client.config
    assert (from_file.cluster_url, from_file.cluster_unsafe, from_file.token) == (
        "http://127.0.0.1:9",
        True,
        "from-file",
    )
    explicit = Connection(str(conf), client_token="arg", cluster_timeout=3, retry_count=0).client.config
    assert (explicit.token, explicit.timeout, explicit.retry.max_attempts) == ("arg", 3.0, 1)
    as_dict = Connection({"client_token": "d", "cluster_url": "http://h:1"}).client.config
    assert (as_dict.token, as_dict.cluster_url) == ("d", "http://h:1")
    with pytest.raises(ValueError, match="token"):
        Connection(cluster_url="http://h:1")
