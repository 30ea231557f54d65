"""The real `qarnot` SDK (2.23.0) against the Qarnot emulator started through its command line: the emulator speaks
the wire protocol the SDK expects (routes, raw-token auth, JSON shapes, dates, error mapping) and its storage is S3
signed with the account's email and token.

`Task.wait()` sleeps 10 s between polls, so the tests poll with `update(True)` instead.
"""

from __future__ import annotations

import json
import os
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
import qarnot
from botocore.exceptions import ClientError
from conftest import QarnotEmulatorEndpoint
from qarnot.advanced_bucket import BucketPrefixFiltering, PrefixResourcesTransformation
from qarnot.connection import Connection
from qarnot.exceptions import (
    MaxTaskException,
    MissingBucketException,
    MissingJobException,
    MissingPoolException,
    MissingProfileException,
    MissingTaskException,
    MissingTaskInstanceException,
    NotEnoughCreditsException,
    QarnotGenericException,
    UnauthorizedException,
)

from airflow_provider_batch.emulators import launch

# The SDK warns about its own legacy bucket flush on every submit with resources.
pytestmark = [pytest.mark.wire, pytest.mark.filterwarnings("ignore:flush is deprecated")]
TERMINAL = ("Success", "Failure", "Cancelled")


def connect(endpoint: QarnotEmulatorEndpoint, token: str | None = None) -> Connection:
    return Connection(cluster_url=endpoint.url, client_token=token or endpoint.token, retry_count=0)


@pytest.fixture(scope="module")
def conn(qarnot_emulator: QarnotEmulatorEndpoint) -> Connection:
    return connect(qarnot_emulator)


@pytest.fixture
def bucket_name() -> Callable[[str], str]:
    return lambda kind: f"{kind}-{uuid.uuid4().hex[:12]}"


def wait_for(task: Any, states: tuple[str, ...] = TERMINAL, timeout: float = 20.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        task.update(True)
        if task.state in states:
            return str(task.state)
        assert time.monotonic() < deadline, f"task {task.uuid} still {task.state} after {timeout} s"
        time.sleep(0.02)


def docker_task(conn: Connection, command: str, instances: int | str = 1, **kwargs: Any) -> Any:
    task = conn.create_task(f"test-{uuid.uuid4().hex[:8]}", kwargs.pop("profile", "docker-batch"), instances, **kwargs)
    task.constants["DOCKER_REPO"] = "library/alpine"
    task.constants["DOCKER_CMD"] = command
    return task


def test_connection_user_info_and_profiles(qarnot_emulator: QarnotEmulatorEndpoint, conn: Connection) -> None:
    assert conn.user_info.email == qarnot_emulator.email
    assert "docker-batch" in conn.profiles_names()
    profile = conn.retrieve_profile("docker-batch")
    assert {name for name, _ in profile.constants} >= {"DOCKER_REPO", "DOCKER_TAG", "DOCKER_CMD"}
    with pytest.raises(MissingProfileException):
        conn.retrieve_profile("no-such-profile")
    assert conn.s3client is not None  # storage URL from GET /settings, credentials email + token


def test_task_with_resources_and_results(conn: Connection, bucket_name: Callable[[str], str], tmp_path: Path) -> None:
    inputs = conn.create_bucket(bucket_name("in"))
    inputs.add_string("hello resources\n", "data/greeting.txt")
    inputs.add_string("not for this task\n", "other/skip.txt")
    results = conn.create_bucket(bucket_name("out"))
    task = docker_task(
        conn, 'cat greeting.txt; ls; echo "result of $INSTANCE_ID" > result-$INSTANCE_ID.txt; echo warn >&2', 2
    )
    task.resources = [
        inputs.with_filtering(BucketPrefixFiltering("data/")).with_resource_transformation(
            PrefixResourcesTransformation("data/")
        )
    ]
    task.results = results
    task.submit()
    assert task.uuid and task.state in ("Submitted", "FullyDispatched", "FullyExecuting", "UploadingResults")
    assert task.creation_date is not None

    assert wait_for(task) == "Success"
    assert task.errors == []
    assert [(i.instance_id, i.state) for i in task.completed_instances] == [(0, "Success"), (1, "Success")]
    assert task.status.succeeded_range == "0-1" and task.status.failed_range == ""
    assert task.stdout().count("hello resources") == 2
    assert "skip.txt" not in task.stdout()  # only the data/ prefix, stripped of it
    assert task.stderr() == "warn\nwarn\n"
    assert task.stdout(1).startswith("hello resources\n")

    task.download_results(str(tmp_path))
    assert sorted(os.listdir(tmp_path)) == ["result-0.txt", "result-1.txt"]  # inputs are not results
    assert (tmp_path / "result-1.txt").read_text() == "result of 1\n"
    assert sorted(f.key for f in results.list_files()) == ["result-0.txt", "result-1.txt"]


def test_multipart_uploads_and_awkward_keys(
    conn: Connection, bucket_name: Callable[[str], str], tmp_path: Path
) -> None:
    """Above 8 MiB the SDK uploads in parts; keys with spaces, `+` and non-ASCII letters must sign and round-trip."""
    inputs = conn.create_bucket(bucket_name("big"))
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(8 * 1024 * 1024 + 5))
    inputs.add_file(str(big), "sub dir/big file+plus.bin")
    results = conn.create_bucket(bucket_name("big-out"))
    task = docker_task(
        conn, 'test $(wc -c < "sub dir/big file+plus.bin") -eq 8388613 && cp "sub dir/big file+plus.bin" été.bin'
    )
    task.resources = [inputs]
    task.results = results
    task.submit()
    assert wait_for(task) == "Success", task.errors
    assert [f.key for f in results.list_files()] == ["été.bin"]
    out = tmp_path / "out"
    task.download_results(str(out))
    assert (out / "été.bin").read_bytes() == big.read_bytes()


def test_fresh_stdout_has_a_cursor(conn: Connection) -> None:
    task = docker_task(conn, "echo one; sleep 0.4; echo two")
    task.submit()
    wait_for(task, ("FullyExecuting", *TERMINAL))
    deadline = time.monotonic() + 10
    while "one" not in task.stdout():
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert task.fresh_stdout() == "one\n"
    assert task.fresh_stdout() == ""
    wait_for(task)
    assert task.fresh_stdout() == "two\n"
    assert task.stdout() == "one\ntwo\n"  # GET is everything, whatever the cursor
    assert task.fresh_stderr() == ""


def test_instance_ranges(conn: Connection) -> None:
    task = docker_task(conn, 'echo "instance $INSTANCE_ID"', "0-2,5")
    task.submit()
    assert wait_for(task) == "Success"
    assert task.advanced_range == "0-2,5"
    assert sorted(i.instance_id for i in task.completed_instances) == [0, 1, 2, 5]
    assert sorted(task.stdout().splitlines()) == [f"instance {i}" for i in (0, 1, 2, 5)]
    assert task.fresh_stdout(5) == "instance 5\n"
    with pytest.raises(MissingTaskInstanceException):
        task.stdout(3)


def test_failing_instance_fails_the_task_with_errors(conn: Connection) -> None:
    task = docker_task(conn, 'echo "bad input" >&2; [ "$INSTANCE_ID" = 0 ] || exit 3', 2)
    task.submit()
    assert wait_for(task) == "Failure"
    states = {i.instance_id: i.state for i in task.completed_instances}
    assert states == {0: "Success", 1: "Failure"}
    assert len(task.errors) == 1
    assert "instance 1" in task.errors[0].message and "code 3" in task.errors[0].message
    assert task.errors[0].debug == "bad input"
    assert task.status.failed_range == "1"


def test_abort_goes_through_pending_cancel_to_cancelled(conn: Connection) -> None:
    task = docker_task(conn, "echo started; sleep 30")
    task.submit()
    wait_for(task, ("FullyExecuting",))
    task.abort()  # GET, POST abort, GET: the task is cancelling or cancelled
    assert task.state in ("PendingCancel", "Cancelled")
    assert wait_for(task, ("Cancelled",), timeout=5) == "Cancelled"
    with pytest.raises(UnauthorizedException):  # aborting a finished task is refused with 403
        task.abort()


def test_delete_and_missing_task(conn: Connection) -> None:
    task = docker_task(conn, "true")
    task.submit()
    wait_for(task)
    task_uuid = task.uuid
    task.delete()
    assert task.state == "Deleted"
    with pytest.raises(MissingTaskException):
        conn.retrieve_task(task_uuid)
    with pytest.raises(MissingTaskException, match="not found"):
        conn.retrieve_task(str(uuid.uuid4()))

    running = docker_task(conn, "sleep 30")
    running.submit()
    wait_for(running, ("FullyExecuting",))
    running_uuid = running.uuid
    running.delete()  # a live task is stopped, PendingDelete, then gone
    deadline = time.monotonic() + 5
    while True:
        try:
            assert conn.retrieve_task(running_uuid).state == "PendingDelete"
        except MissingTaskException:
            break
        assert time.monotonic() < deadline
        time.sleep(0.02)


def test_bad_token_is_unauthorized(qarnot_emulator: QarnotEmulatorEndpoint) -> None:
    with pytest.raises(UnauthorizedException):
        connect(qarnot_emulator, token="not-the-token")


def test_storage_needs_the_email_and_the_token(qarnot_emulator: QarnotEmulatorEndpoint) -> None:
    def s3(access_key: str, secret: str) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=qarnot_emulator.storage_url,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret,
            region_name="us-east-1",
        )

    s3(qarnot_emulator.email, qarnot_emulator.token).list_buckets()
    for access_key, secret, code in (
        ("someone@else", qarnot_emulator.token, "InvalidAccessKeyId"),
        (qarnot_emulator.email, "wrong-token", "SignatureDoesNotMatch"),
    ):
        with pytest.raises(ClientError) as raised:
            s3(access_key, secret).list_buckets()
        assert raised.value.response["Error"]["Code"] == code


def test_missing_bucket_and_bad_submissions(conn: Connection, bucket_name: Callable[[str], str]) -> None:
    task = docker_task(conn, "true")
    task.resources = [conn.create_bucket(bucket_name("in"))]
    conn.s3client.delete_bucket(Bucket=task.resources[0].uuid)
    with pytest.raises(MissingBucketException, match="not found"):
        task.submit()
    with pytest.raises(QarnotGenericException, match="Profile"):
        docker_task(conn, "true", profile="no-such-profile").submit()
    with pytest.raises(QarnotGenericException, match="advancedRanges"):
        docker_task(conn, "true", "3-1").submit()


def test_storage_off_quotas_and_credits() -> None:
    flags = ["--qarnot-no-storage", "--qarnot-max-tasks", "1", "--qarnot-credits", "3", "--step-ms", "10"]
    with launch(["--only", "qarnot", *flags]) as emu:
        ready = emu["qarnot"]
        assert ready["storage_url"] is None
        conn = Connection(cluster_url=ready["url"], client_token=ready["token"], retry_count=0)
        assert conn.s3client is None  # GET /settings said storage null: the SDK skips S3 (and GET /info)
        with pytest.raises(NotEnoughCreditsException):
            docker_task(conn, "true", 4).submit()
        task = docker_task(conn, "echo no buckets needed", 2)
        task.submit()
        assert wait_for(task) == "Success" and task.stdout() == "no buckets needed\n" * 2
        with pytest.raises(MaxTaskException):
            docker_task(conn, "true").submit()


def test_the_sdk_retries_injected_faults() -> None:
    flags = ["--fault-rate", "0.4", "--fault-seed", "11", "--qarnot-no-storage", "--step-ms", "10"]
    with launch(["--only", "qarnot", *flags]) as emu:
        ready = emu["qarnot"]
        conn = Connection(cluster_url=ready["url"], client_token=ready["token"], retry_count=10, retry_wait=0.001)
        for _ in range(5):
            assert conn.profiles_names() == ["docker-batch", "docker-network"]
            assert conn.user_info.email == ready["email"]
        with urllib.request.urlopen(f"{emu.admin}/faults", timeout=10) as response:
            injected = json.load(response)["qarnot"]
        assert sum(injected.values()) > 0  # the SDK met 503s and retried through them
        no_retry = Connection(cluster_url=ready["url"], client_token=ready["token"], retry_count=0)
        answers = set()
        for _ in range(20):
            try:
                no_retry.profiles_names()
                answers.add("ok")
            except QarnotGenericException as err:
                answers.add(str(err))
        assert answers == {"ok", "Error: Service Unavailable"}  # a 503, as the SDK words it


def test_update_resources_reaches_a_running_task(conn: Connection, bucket_name: Callable[[str], str]) -> None:
    inputs = conn.create_bucket(bucket_name("in"))
    inputs.add_string("first\n", "first.txt")
    task = docker_task(conn, "cat first.txt; while [ ! -f late.txt ]; do sleep 0.02; done; cat late.txt")
    task.resources = [inputs]
    task.submit()
    wait_for(task, ("FullyExecuting",))
    inputs.add_string("added while running\n", "late.txt")
    task.update_resources()  # PATCH /tasks/{uuid}: the bucket is synced again into the running instance
    assert wait_for(task) == "Success"
    assert task.stdout() == "first\nadded while running\n"


def test_results_lists_and_upload_on_cancellation(
    conn: Connection, bucket_name: Callable[[str], str], tmp_path: Path
) -> None:
    results = conn.create_bucket(bucket_name("out"))
    task = docker_task(conn, "mkdir -p logs; echo a > keep.csv; echo b > logs/debug.log; echo c > drop.tmp")
    task.results = results
    task.results_whitelist = r"\.(csv|log)$"
    task.results_blacklist = r"^logs/"
    task.submit()
    assert wait_for(task) == "Success"
    assert sorted(f.key for f in results.list_files()) == ["keep.csv"]
    host = urllib.parse.urlsplit(conn.storage).netloc
    assert [i.results for i in task.completed_instances] == [[f"s3://{host}/{results.uuid}/keep.csv"]]

    partial = conn.create_bucket(bucket_name("partial"))
    cancelled = docker_task(conn, "echo partial > progress.txt; echo written; sleep 30")
    cancelled.results = partial
    cancelled.upload_results_on_cancellation = True
    cancelled.submit()
    deadline = time.monotonic() + 10
    while cancelled.stdout() != "written\n":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    cancelled.abort()
    assert wait_for(cancelled, ("Cancelled",), timeout=5) == "Cancelled"
    assert [f.key for f in partial.list_files()] == ["progress.txt"]
    cancelled.download_results(str(tmp_path))
    assert (tmp_path / "progress.txt").read_text() == "partial\n"


def test_periodic_and_instant_snapshots(conn: Connection, bucket_name: Callable[[str], str], tmp_path: Path) -> None:
    results = conn.create_bucket(bucket_name("snap"))
    task = docker_task(conn, "echo partial > progress.txt; sleep 30")
    task.results = results
    task.snapshot(1)  # before submit: the SDK asks for it right after the submission
    task.submit()
    deadline = time.monotonic() + 10
    while [f.key for f in results.list_files()] != ["progress.txt"]:
        assert time.monotonic() < deadline and task.state not in TERMINAL
        time.sleep(0.05)
    assert task.snapshot_interval == 1
    task.download_results(str(tmp_path))  # resultsCount grew: the SDK downloads while the task runs
    assert (tmp_path / "progress.txt").read_text() == "partial\n"

    snapshot_id = task.instant(bucket_prefix="instant/")
    deadline = time.monotonic() + 10
    while (status := task.snapshot_status(snapshot_id)._status.status) != "Success":  # no public accessor
        assert status in ("Triggered", "InProgress") and time.monotonic() < deadline
        time.sleep(0.02)
    assert sorted(f.key for f in results.list_files()) == ["instant/progress.txt", "progress.txt"]
    with pytest.raises(MissingTaskException):
        task.snapshot_status("no-such-snapshot")
    task.abort()
    wait_for(task, ("Cancelled",), timeout=5)
    with pytest.raises(UnauthorizedException):  # snapshots of a finished task: 403
        task.instant()


def test_commit_updates_tags(conn: Connection) -> None:
    task = docker_task(conn, "sleep 30")
    task.tags = ["before"]
    task.submit()
    task.tags = ["after", "more"]
    task.commit()  # PUT /tasks/{uuid}
    assert conn.retrieve_task(task.uuid).tags == ["after", "more"]
    task.abort()
    wait_for(task, ("Cancelled",), timeout=5)
    with pytest.raises(UnauthorizedException):  # a finished task cannot be changed: 403
        task.commit()


def test_paging_and_tag_filters(conn: Connection) -> None:
    tag = f"page-{uuid.uuid4().hex[:8]}"
    uuids = []
    for _ in range(5):
        task = docker_task(conn, "true")
        task.tags = [tag, "paging"]
        task.submit()
        uuids.append(task.uuid)
    page = conn.tasks_page(maximum=2, tags=[tag])
    assert [t.uuid for t in page.page_data] == uuids[:2] and page.is_truncated and page.next_token
    assert [t.uuid for t in conn.all_tasks(tags=[tag])] == uuids
    assert [t.uuid for t in conn.all_tasks(tags_intersect=[tag, "paging"])] == uuids
    assert conn.tasks_page(tags=[f"{tag}-none"]).page_data == []
    summaries = list(conn.all_tasks(summary=True))
    assert set(uuids) <= {t.uuid for t in summaries}


def test_jobs_with_dependencies_terminate_and_delete(conn: Connection) -> None:
    job = conn.create_job(f"job-{uuid.uuid4().hex[:8]}", useDependencies=True)
    job.submit()
    assert job.uuid and job.state == "Active"
    first = docker_task(conn, "sleep 0.2; echo first", job=job)
    first.submit()
    second = docker_task(conn, "echo second", job=job)
    second.set_task_dependencies_from_uuids([first.uuid])
    second.submit()
    assert wait_for(second) == "Success"
    assert conn.retrieve_task(first.uuid).state == "Success"
    assert conn.retrieve_task(second.uuid).stdout() == "second\n"
    assert {t.uuid for t in conn.retrieve_job(job.uuid).tasks} == {first.uuid, second.uuid}
    assert [page_job.uuid for page_job in conn.all_jobs() if page_job.uuid == job.uuid] == [job.uuid]

    long = docker_task(conn, "sleep 30", job=job)
    long.submit()
    wait_for(long, ("FullyExecuting",))
    with pytest.raises(UnauthorizedException):  # running tasks: 403 without force
        job.delete(forceAbort=False)
    job.terminate()
    assert wait_for(long, ("Cancelled",), timeout=5) == "Cancelled"
    deadline = time.monotonic() + 5
    while conn.retrieve_job(job.uuid).state != "Completed":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    job.delete(forceAbort=True)
    with pytest.raises(MissingJobException):
        conn.retrieve_job(job.uuid)
    with pytest.raises(MissingTaskException):
        conn.retrieve_task(long.uuid)


def test_pools_run_tasks_then_close_and_delete(conn: Connection) -> None:
    pool = conn.create_pool(f"pool-{uuid.uuid4().hex[:8]}", "docker-batch", 2)
    pool.constants["DOCKER_CMD"] = "echo from the pool command"
    pool.submit()
    assert pool.uuid
    task = conn.create_task(f"in-pool-{uuid.uuid4().hex[:8]}", pool, 1)
    task.submit()
    assert wait_for(task) == "Success"
    assert task.stdout() == "from the pool command\n"
    assert conn.retrieve_pool(pool.uuid).state == "FullyExecuting"
    pool.close()
    deadline = time.monotonic() + 5
    while conn.retrieve_pool(pool.uuid).state != "Closed":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    with pytest.raises(QarnotGenericException, match="Closed"):
        conn.create_task("late", pool, 1).submit()
    pool.delete()
    with pytest.raises(MissingPoolException):
        conn.retrieve_pool(pool.uuid)


def test_bulk_submission(conn: Connection) -> None:
    tasks = [docker_task(conn, f"echo bulk {i}") for i in range(3)]
    conn.submit_tasks(tasks)
    assert all(t.uuid for t in tasks)
    for index, task in enumerate(tasks):
        assert wait_for(task) == "Success"
        assert task.stdout() == f"bulk {index}\n"
    with pytest.raises(QarnotGenericException):
        conn.submit_tasks([docker_task(conn, "true", profile="no-such-profile")])


def test_calls_are_counted_per_route(qarnot_emulator: QarnotEmulatorEndpoint, conn: Connection) -> None:
    stats = qarnot_emulator.stats()
    assert stats["GET /settings"] >= 1 and stats["GET /tasks/{uuid}"] >= 1
    recorded = qarnot_emulator.requests()
    assert recorded and all(item["headers"].get("authorization") == "<redacted>" for item in recorded)
    assert qarnot_emulator.token not in str(recorded)
    assert qarnot.__version__.lstrip("v").startswith("2.23")
