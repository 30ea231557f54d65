"""Our Qarnot clients (sync and asyncio) and hook against the Qarnot emulator started through its command line:
submit with input and result buckets, wait, stdout and its fresh cursor, results download, abort, delete, jobs and
pools, typed errors; and the hook's batched status poll for many deferred tasks, counted by the emulator's /stats."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
import uuid
from pathlib import Path

import pytest
from conftest import QarnotEmulatorEndpoint

from airflow_provider_batch.clients.qarnot import errors as errors
from airflow_provider_batch.clients.qarnot.client import QarnotAsyncClient, QarnotClient
from airflow_provider_batch.clients.qarnot.config import QarnotConfig
from airflow_provider_batch.clients.qarnot.types import QarnotTask, ResourceBucket, TaskState
from airflow_provider_batch.common.identity import JobIdentity
from airflow_provider_batch.common.retry import RetryPolicy
from airflow_provider_batch.emulators import launch
from airflow_provider_batch.hooks import qarnot as hook_module
from airflow_provider_batch.hooks.qarnot import PROVIDER_TAG, QarnotHook, QarnotSubmission
from airflow_provider_batch.triggers.batch import BatchJobTrigger

pytestmark = pytest.mark.wire
FAST = RetryPolicy(max_attempts=2, initial_backoff=0.05, max_backoff=0.1)
PATIENT = RetryPolicy(max_attempts=10, initial_backoff=0.01, max_backoff=0.05)


def config(endpoint: QarnotEmulatorEndpoint, token: str | None = None) -> QarnotConfig:
    return QarnotConfig(token=token or endpoint.token, cluster_url=endpoint.url, timeout=10, retry=FAST)


@pytest.fixture(scope="module")
def client(qarnot_emulator: QarnotEmulatorEndpoint):
    with QarnotClient(config(qarnot_emulator)) as made:
        yield made


def name(kind: str) -> str:
    return f"{kind}-{uuid.uuid4().hex[:10]}"


def wait(
    client: QarnotClient, uuid_: str, states: frozenset[str] = TaskState.TERMINAL, timeout: float = 20
) -> QarnotTask:
    deadline = time.monotonic() + timeout
    while True:
        task = client.retrieve_task(uuid_)
        if task.state in states:
            return task
        assert time.monotonic() < deadline, f"task {uuid_} still {task.state}"
        time.sleep(0.05)


def test_account_profiles_and_storage(client: QarnotClient, qarnot_emulator: QarnotEmulatorEndpoint) -> None:
    assert client.user_info().email == qarnot_emulator.email
    assert "docker-batch" in client.profiles()
    assert "DOCKER_CMD" in client.retrieve_profile("docker-batch").constants
    with pytest.raises(errors.QarnotMissingProfileError):
        client.retrieve_profile("no-such-profile")
    assert client.get_storage().endpoint_url == qarnot_emulator.storage_url  # from GET /settings


def test_a_task_with_inputs_and_results_end_to_end(client: QarnotClient, tmp_path: Path) -> None:
    inputs, results = client.create_bucket(name("in")), name("out")
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "words.txt").write_text("one two three\n")
    assert client.upload_folder(inputs, tmp_path / "in", "data/") == ["data/words.txt"]
    client.retrieve_or_create_bucket(results)
    assert {inputs, results} <= set(client.buckets())
    command = 'wc -w < words.txt > "count-$INSTANCE_ID.txt"; echo "instance $INSTANCE_ID done"; echo careful >&2'
    spec = client.create_task(
        name("task"),
        "docker-batch",
        2,
        constants={"DOCKER_REPO": "library/alpine", "DOCKER_CMD": command},
        tags=["wire", "ours"],
        resources=[ResourceBucket(inputs, prefix="data/", strip_prefix="data/")],
        result_bucket=results,
    )
    uuid_ = client.submit_task(spec)
    task = wait(client, uuid_)
    assert task.state == TaskState.SUCCESS and task.errors == ()
    assert sorted((i.instance_id, i.state) for i in task.completed_instances) == [(0, "Success"), (1, "Success")]
    assert task.creation_date is not None and task.results_count >= 2 and task.result_bucket == results
    assert "instance 0 done" in client.stdout(uuid_) and "instance 1 done" in client.stdout(uuid_)
    assert client.stderr(uuid_) == "careful\ncareful\n"
    fresh = client.fresh_stdout(uuid_)
    assert "instance 1 done" in fresh and client.fresh_stdout(uuid_) == ""  # the server keeps the cursor
    paths = client.download_folder(results, tmp_path / "results")
    assert sorted(p.name for p in paths) == ["count-0.txt", "count-1.txt"]
    assert (tmp_path / "results" / "count-0.txt").read_text().strip() == "3"
    assert any(t.uuid == uuid_ for t in client.tasks(tags_intersect=["wire", "ours"]))
    assert all("ours" in t.tags for t in client.tasks(tags=["ours"]))


def test_a_failing_task_reports_its_failed_instances(client: QarnotClient) -> None:
    spec = client.create_task(name("fail"), "docker-batch", "0-1", constants={"DOCKER_CMD": 'exit "$INSTANCE_ID"'})
    task = wait(client, client.submit_task(spec))
    assert task.state == TaskState.FAILURE
    assert [(i.instance_id, i.state) for i in task.failed_instances] == [(1, "Failure")]


def test_abort_then_delete(client: QarnotClient) -> None:
    uuid_ = client.submit_task(client.create_task(name("long"), "docker-batch", constants={"DOCKER_CMD": "sleep 30"}))
    wait(client, uuid_, frozenset({TaskState.FULLY_EXECUTING}))
    client.abort_task(uuid_)
    assert client.retrieve_task(uuid_).state in (TaskState.PENDING_CANCEL, TaskState.CANCELLED)
    assert wait(client, uuid_).state == TaskState.CANCELLED
    client.delete_task(uuid_)
    with pytest.raises(errors.QarnotMissingTaskError):
        client.retrieve_task(uuid_)


def test_many_tasks_in_one_post_then_listed_page_by_page(client: QarnotClient) -> None:
    tag = name("bulk")
    specs = [
        client.create_task(name("bulk"), "docker-batch", constants={"DOCKER_CMD": "true"}, tags=[tag]) for _ in range(5)
    ]
    answers = client.submit_tasks(specs)
    assert all(a.ok for a in answers) and len({a.uuid for a in answers}) == 5
    assert all(wait(client, a.uuid).state == TaskState.SUCCESS for a in answers)
    first = client.tasks_page(maximum=2, tags=[tag])
    assert len(first.items) == 2 and first.is_truncated and first.next_token
    assert sorted(t.uuid for t in client.tasks(tags=[tag], page_size=2)) == sorted(a.uuid for a in answers)


def test_jobs_and_pools(client: QarnotClient) -> None:
    job = client.submit_job(client.create_job(name("job"), use_dependencies=True, max_wall_time=600, tags=["w"]))
    assert job.uuid and job.use_dependencies and job.creation_date is not None
    first = client.submit_task(
        client.create_task(name("a"), "docker-batch", job_uuid=job.uuid, constants={"DOCKER_CMD": "true"})
    )
    assert [t.uuid for t in client.job_tasks(job.uuid)] == [first]
    assert client.update_job(job.uuid).uuid == job.uuid
    assert any(j.uuid == job.uuid for j in client.jobs(tags=["w"]))
    client.terminate_job(job.uuid)
    client.delete_job(job.uuid, force=True)
    with pytest.raises(errors.QarnotMissingJobError):
        client.retrieve_job(job.uuid)

    pool = client.submit_pool(client.create_elastic_pool(name("pool"), "docker-batch", min_slots=1, max_slots=2))
    assert client.retrieve_pool(pool.uuid).name == pool.name
    assert any(p.uuid == pool.uuid for p in client.pools())
    client.close_pool(pool.uuid)
    client.delete_pool(pool.uuid)
    with pytest.raises(errors.QarnotMissingPoolError):
        client.retrieve_pool(pool.uuid)


def test_typed_errors_on_the_wire(client: QarnotClient, qarnot_emulator: QarnotEmulatorEndpoint) -> None:
    with (
        QarnotClient(config(qarnot_emulator, token="wrong")) as intruder,
        pytest.raises(errors.QarnotUnauthorizedError),
    ):
        intruder.user_info()
    with pytest.raises(errors.QarnotMissingTaskError):
        client.retrieve_task(str(uuid.uuid4()))
    with pytest.raises(errors.QarnotMissingBucketError):
        client.retrieve_bucket(name("absent"))
    spec = client.create_task(name("x"), "docker-batch", constants={"DOCKER_CMD": "true"}, resources=[name("absent")])
    with pytest.raises(errors.QarnotError) as raised:
        client.submit_task(spec)
    assert not raised.value.retryable and raised.value.status.startswith("4")


async def test_the_async_client_end_to_end(qarnot_emulator: QarnotEmulatorEndpoint, tmp_path: Path) -> None:
    async with QarnotAsyncClient(config(qarnot_emulator)) as client:
        assert (await client.user_info()).email == qarnot_emulator.email
        results = await client.create_bucket(name("aout"))
        spec = client.create_task(
            name("async"),
            "docker-batch",
            1,
            constants={"DOCKER_CMD": "echo hi > out.txt; echo said hi"},
            result_bucket=results,
        )
        uuid_ = await client.submit_task(spec)
        for _ in range(400):
            task = await client.retrieve_task(uuid_)
            if task.is_terminal:
                break
            await asyncio.sleep(0.05)
        assert task.state == TaskState.SUCCESS
        assert "said hi" in await client.fresh_stdout(uuid_)
        assert await client.fresh_stdout(uuid_) == ""
        assert [p.name for p in await client.download_folder(results, tmp_path)] == ["out.txt"]
        assert any(t.uuid == uuid_ for t in (await client.tasks_page(maximum=1000)).items)
        long = await client.submit_task(
            client.create_task(name("along"), "docker-batch", constants={"DOCKER_CMD": "sleep 30"})
        )
        await client.abort_task(long)
        with pytest.raises(errors.QarnotMissingTaskError):
            await client.retrieve_task(str(uuid.uuid4()))
    async with QarnotAsyncClient(config(qarnot_emulator, token="wrong")) as intruder:
        with pytest.raises(errors.QarnotUnauthorizedError):
            await intruder.profiles()


def connection_env(endpoint: QarnotEmulatorEndpoint) -> str:
    host = endpoint.url.removeprefix("http://")
    return json.dumps({"conn_type": "qarnot", "host": f"http://{host}", "password": endpoint.token, "extra": {}})


async def test_many_deferred_tasks_are_watched_with_few_list_calls(
    qarnot_emulator: QarnotEmulatorEndpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_QARNOT_WIRE", connection_env(qarnot_emulator))
    n = 150
    hook = QarnotHook("qarnot_wire")
    refs = []
    for i in range(n):
        command = f"sleep {1 + i % 2}; exit {3 if i % 25 == 0 else 0}"
        spec = hook.client.create_task(f"many-{i}", "docker-batch", constants={"DOCKER_CMD": command})
        identity = JobIdentity("wire_dag", "many", f"run-{uuid.uuid4().hex[:6]}", i)
        refs.append(hook.submit_job(QarnotSubmission(spec), identity, 0).to_json())
    before = qarnot_emulator.stats()
    triggers = [BatchJobTrigger(ref, poll_interval=0.5) for ref in refs]
    loop = asyncio.get_running_loop()
    started = loop.time()
    events = await asyncio.wait_for(asyncio.gather(*(t.run().__anext__() for t in triggers)), timeout=90)
    intervals = (loop.time() - started) / 0.5
    after = qarnot_emulator.stats()

    def calls(route: str) -> int:
        return after.get(route, 0) - before.get(route, 0)

    statuses = [event.payload["status"] for event in events]
    assert statuses == ["failed" if i % 25 == 0 else "success" for i in range(n)]
    assert all("Failure" in e.payload["native_state"] for i, e in enumerate(events) if i % 25 == 0)
    assert calls("GET /tasks/{uuid}") == 0  # no per-task poll
    pages = calls("POST /tasks/paginate")
    # One list call per 100 watched tasks per read (two reads per interval), not one call per task.
    reads = QarnotHook.sweeps_per_interval * intervals + 2
    assert pages <= (math.ceil(n / 100) + 1) * reads, f"{pages} list calls in {intervals:.0f} intervals"
    assert 1 <= pages < n
    print(f"{n} deferred tasks: {pages} list calls in {intervals:.0f} poll intervals")


def test_the_hook_submits_once_and_finds_its_task_again(qarnot_emulator: QarnotEmulatorEndpoint, monkeypatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_QARNOT_WIRE", connection_env(qarnot_emulator))
    hook = QarnotHook("qarnot_wire")
    identity = JobIdentity("wire_dag", "find", f"run-{uuid.uuid4().hex[:6]}")
    spec = hook.client.create_task("find-me", "docker-batch", constants={"DOCKER_CMD": "echo found; exit 2"})
    job = hook.submit_job(QarnotSubmission(spec), identity, 0)
    # The same submission again (a retried submit whose answer was lost): its shortname is taken (409), and the
    # hook hands back the task that exists instead of failing or creating a second one.
    assert hook.submit_job(QarnotSubmission(spec), identity, 0).job_id == job.job_id
    found = hook.find_jobs(QarnotSubmission(spec), identity)
    assert [ref.job_id for ref, _ in found] == [job.job_id]
    for _ in range(400):
        status = hook.get_status(job)
        if status.state.is_terminal:
            break
        time.sleep(0.05)
    assert status.native_state == "Failure" and "instance 0 Failure" in status.reason
    assert hook.read_logs(job, "")[0] == ["found"]
    assert hook.test_connection()[0]
    hook.cancel_job(job, "over already")  # a finished task is left alone, without an error


def test_quotas_credits_and_no_storage_are_typed() -> None:
    flags = ["--qarnot-no-storage", "--qarnot-max-tasks", "1", "--qarnot-credits", "3", "--step-ms", "10"]
    with launch(["--only", "qarnot", "--qarnot-port", "0", "--admin-port", "0", *flags]) as emulators:
        ready = emulators["qarnot"]
        cfg = QarnotConfig(token=ready["token"], cluster_url=ready["url"], retry=FAST)
        with QarnotClient(cfg) as client:
            with pytest.raises(errors.QarnotNotEnoughCreditsError) as credits:
                client.submit_task(client.create_task("big", "docker-batch", 4, constants={"DOCKER_CMD": "true"}))
            assert credits.value.message and not credits.value.retryable
            client.submit_task(client.create_task("one", "docker-batch", 1, constants={"DOCKER_CMD": "true"}))
            with pytest.raises(errors.QarnotQuotaReachedError, match=r"(?i)maximum number of tasks"):
                client.submit_task(client.create_task("two", "docker-batch", 1, constants={"DOCKER_CMD": "true"}))
            with pytest.raises(errors.QarnotStorageUnavailableError):
                client.create_bucket("nowhere")


def test_submissions_survive_lost_answers_without_duplicates(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """At a 30% fault rate half the faults strike after the work: the task exists but its answer is lost. The hook
    finds it by its submission tag instead of posting it again, so every task instance ends with one task."""
    flags = ["--fault-rate", "0.3", "--fault-seed", "7", "--qarnot-no-storage", "--step-ms", "10"]
    with launch(["--only", "qarnot", "--qarnot-port", "0", "--admin-port", "0", *flags]) as emulators:
        ready = emulators["qarnot"]
        monkeypatch.setenv(
            "AIRFLOW_CONN_QARNOT_FAULTY",
            json.dumps({"conn_type": "qarnot", "host": ready["url"], "password": ready["token"]}),
        )
        monkeypatch.setattr(hook_module, "SUBMIT_RETRY", RetryPolicy(max_attempts=10, initial_backoff=0.01))
        hook = QarnotHook("qarnot_faulty")
        hook.client.config = QarnotConfig(token=ready["token"], cluster_url=ready["url"], retry=PATIENT)
        run = uuid.uuid4().hex[:6]
        identities = [JobIdentity("faulty_dag", f"task{i}", run) for i in range(12)]
        with caplog.at_level(logging.INFO, logger=hook_module.__name__):
            submitted = [
                hook.submit_job(QarnotSubmission(hook.client.create_task(f"t{i}", "docker-batch")), identity, 0)
                for i, identity in enumerate(identities)
            ]
        posts = emulators.stats()["qarnot"].get("POST /tasks", 0)
        mine = [t for t in hook.client.tasks(tags=[PROVIDER_TAG]) if f"airflow.run_id={run}" in t.tags]
        assert sorted(t.uuid for t in mine) == sorted(job.job_id for job in submitted)  # one task per identity
        assert posts > len(identities)  # faults really struck the submissions
        recovered = [r for r in caplog.records if "from an earlier submit whose answer was lost" in r.getMessage()]
        assert recovered  # and some struck after the task was created
