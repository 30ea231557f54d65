"""Our Qarnot clients, without the SDK, against the Qarnot emulator: task snapshots (periodic with the task's snapshot
white/black lists, instant with its own, their status and refusals; sync and asyncio) and deleting a job (refused
while a task runs, then forced)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
from conftest import QarnotEmulatorEndpoint

from airflow_provider_batch.clients.qarnot import errors
from airflow_provider_batch.clients.qarnot.client import QarnotAsyncClient, QarnotClient
from airflow_provider_batch.clients.qarnot.config import QarnotConfig
from airflow_provider_batch.clients.qarnot.snapshots import SnapshotConfig
from airflow_provider_batch.clients.qarnot.types import TaskState
from airflow_provider_batch.common.errors import InvalidJobSpecError
from airflow_provider_batch.common.retry import RetryPolicy

pytestmark = pytest.mark.wire

FAST = RetryPolicy(max_attempts=2, initial_backoff=0.01, max_backoff=0.02)
WRITER = "sh -c 'echo a > keep.txt; echo b > skip.txt; echo c > other.log; sleep 30'"


def config(endpoint: QarnotEmulatorEndpoint) -> QarnotConfig:
    return QarnotConfig(token=endpoint.token, cluster_url=endpoint.url, timeout=10, retry=FAST)


@pytest.fixture
def client(qarnot_emulator: QarnotEmulatorEndpoint) -> Iterator[QarnotClient]:
    with QarnotClient(config(qarnot_emulator)) as made:
        yield made


def unique(kind: str) -> str:
    return f"{kind}-{uuid.uuid4().hex[:10]}"


def until(predicate: object, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def running_task(client: QarnotClient, bucket: str, **spec: object) -> str:
    task = client.submit_task(
        client.create_task(
            unique("snap"), "docker-batch", constants={"DOCKER_CMD": WRITER}, result_bucket=bucket, **spec
        )
    )
    until(lambda: client.retrieve_task(task).state == TaskState.FULLY_EXECUTING)
    return task


def test_periodic_snapshots_follow_the_task_lists(client: QarnotClient) -> None:
    bucket = client.create_bucket(unique("results"))
    task = running_task(client, bucket, snapshot_whitelist=r".*\.txt", snapshot_blacklist=r"skip.*")
    try:
        with pytest.raises(InvalidJobSpecError, match="interval"):
            client.snapshot(task, 0)  # refused before any call
        client.snapshot(task, 1)
        assert client.retrieve_task(task).raw["snapshotInterval"] == 1
        until(lambda: "keep.txt" in client.list_files(bucket))
        time.sleep(1.2)
        assert client.list_files(bucket) == ["keep.txt"]
    finally:
        client.abort_task(task)


def test_instant_snapshot_with_its_own_config_and_status(client: QarnotClient) -> None:
    bucket = client.create_bucket(unique("results"))
    task = running_task(client, bucket)
    try:
        snapshot_id = client.instant_snapshot(task, SnapshotConfig(whitelist=r".*\.log", bucket_prefix="now/"))
        until(lambda: client.snapshot_status(task, snapshot_id).is_completed)
        status = client.snapshot_status(task, snapshot_id)
        assert (status.id, status.task_uuid, status.status) == (snapshot_id, task, "Success")
        assert status.config == SnapshotConfig(r".*\.log", None, None, "now/") and status.trigger_date is not None
        assert client.list_files(bucket) == ["now/other.log"]
        with pytest.raises(errors.QarnotMissingTaskError):
            client.snapshot_status(task, "no-such-snapshot")
    finally:
        client.abort_task(task)
    until(lambda: client.retrieve_task(task).state == TaskState.CANCELLED)
    with pytest.raises(errors.QarnotUnauthorizedError):  # 403: only a running task is snapshotted
        client.instant_snapshot(task)


async def test_the_async_client_takes_snapshots(client: QarnotClient, qarnot_emulator: QarnotEmulatorEndpoint) -> None:
    bucket = client.create_bucket(unique("results"))
    task = running_task(client, bucket)
    try:
        async with QarnotAsyncClient(config(qarnot_emulator)) as aclient:
            await aclient.snapshot(task, 3600, SnapshotConfig(blacklist=r".*\.log"))  # accepted; not due in the test
            assert (await aclient.retrieve_task(task)).raw["snapshotInterval"] == 3600
            snapshot_id = await aclient.instant_snapshot(task, SnapshotConfig(whitelist="keep.*"))
            until(lambda: client.snapshot_status(task, snapshot_id).is_completed)
            assert (await aclient.snapshot_status(task, snapshot_id)).status == "Success"
        assert client.list_files(bucket) == ["keep.txt"]
    finally:
        client.abort_task(task)


def test_deleting_a_job_is_refused_while_a_task_runs_unless_forced(client: QarnotClient) -> None:
    job = client.submit_job(client.create_job(unique("job")))
    task = client.submit_task(
        client.create_task(unique("t"), "docker-batch", job_uuid=job.uuid, constants={"DOCKER_CMD": "sleep 30"})
    )
    until(lambda: client.retrieve_task(task).state == TaskState.FULLY_EXECUTING)
    with pytest.raises(errors.QarnotUnauthorizedError):
        client.delete_job(job.uuid)
    assert client.retrieve_job(job.uuid).uuid == job.uuid  # still there
    client.delete_job(job.uuid, force=True)
    with pytest.raises(errors.QarnotMissingJobError):
        client.retrieve_job(job.uuid)
