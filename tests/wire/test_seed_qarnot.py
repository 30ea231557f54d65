"""Scripts written as the Qarnot SDK's documentation shows them, each written ONCE with its import lines left open,
run with the real `qarnot` 2.23.0 and with `airflow_provider_batch.compat.qarnot` against the Qarnot emulator: the same
observable results (states, outputs, downloaded files, exceptions caught by the seed's names).

Both `wait()`s poll at 50 ms here (the seed sleeps 10 s between polls; ours 1 s by default)."""

from __future__ import annotations

import time
import types
import uuid
from pathlib import Path
from typing import Any

import pytest
import qarnot.task
from conftest import QarnotEmulatorEndpoint

from airflow_provider_batch.compat.qarnot.task import Task as OurTask

pytestmark = [
    pytest.mark.wire,
    pytest.mark.filterwarnings("ignore:flush is deprecated"),
    pytest.mark.filterwarnings("ignore::deprecation.DeprecatedWarning"),
]

IMPORTS = {
    "seed": """
from qarnot.connection import Connection
from qarnot.exceptions import MissingTaskException, UnauthorizedException
from qarnot.exceptions import MissingPoolException, QarnotGenericException
""",
    "ours": """
from airflow_provider_batch.compat.qarnot.connection import Connection
from airflow_provider_batch.compat.qarnot.exceptions import MissingTaskException, UnauthorizedException
from airflow_provider_batch.compat.qarnot.exceptions import MissingPoolException, QarnotGenericException
""",
}

HELLO_WORLD = """
conn = Connection(cluster_url=CLUSTER_URL, client_token=TOKEN)
input_bucket = conn.create_bucket("in-" + SUFFIX)
input_bucket.add_file(INPUT_FILE, "greeting.txt")
output_bucket = conn.create_bucket("out-" + SUFFIX)

task = conn.create_task("hello-world", "docker-batch", 2)
task.constants["DOCKER_REPO"] = "library/alpine"
task.constants["DOCKER_CMD"] = 'sh -c "cat greeting.txt; echo done $INSTANCE_ID > result-$INSTANCE_ID.txt"'
task.resources = [input_bucket]
task.results = output_bucket
task.run(output_dir=OUTPUT_DIR)

RESULT["state"] = task.state
RESULT["stdout"] = task.stdout()
RESULT["fresh"] = task.fresh_stdout()
RESULT["stderr"] = task.stderr()
RESULT["instances"] = sorted((i.instance_id, i.state) for i in task.completed_instances)
RESULT["errors"] = list(task.errors)
RESULT["has_date"] = task.creation_date is not None
RESULT["result_keys"] = sorted(f.key for f in output_bucket.list_files())
RESULT["again"] = conn.retrieve_task(task.uuid).state

second = conn.create_task("hello-again", "docker-batch", 1)
second.constants["DOCKER_CMD"] = "exit 3"
second.submit()
RESULT["finished"] = second.wait()
RESULT["second_state"] = second.state
RESULT["tagged"] = second.uuid in {t.uuid for t in conn.tasks()}

task.delete(purge_resources=True, purge_results=True)
try:
    conn.retrieve_task(task.uuid)
except MissingTaskException:
    RESULT["missing_task"] = True
RESULT["buckets_left"] = sorted(b.uuid for b in conn.buckets() if b.uuid.endswith(SUFFIX))
try:
    Connection(cluster_url=CLUSTER_URL, client_token="wrong", retry_count=0).user_info
except UnauthorizedException:
    RESULT["unauthorized"] = True
"""

JOB_WITH_DEPENDENCIES = """
conn = Connection(cluster_url=CLUSTER_URL, client_token=TOKEN)
job = conn.create_job("pipeline-" + SUFFIX, useDependencies=True)
job.submit()
RESULT["job_state"] = job.state
RESULT["use_dependencies"] = job.use_dependencies

first = conn.create_task("first", "docker-batch", 1, job=job)
first.constants["DOCKER_CMD"] = "sh -c 'sleep 0.3; echo first'"
first.submit()
second = conn.create_task("second", "docker-batch", 1, job=job)
second.constants["DOCKER_CMD"] = "echo second"
second.set_task_dependencies_from_tasks([first])
second.submit()
second.wait()

RESULT["states"] = [conn.retrieve_task(first.uuid).state, second.state]
RESULT["order"] = [first.stdout(), second.stdout()]
RESULT["job_tasks"] = sorted(t.name for t in job.tasks)
RESULT["first_ended_before_second"] = (
    conn.retrieve_task(first.uuid).completed_instances[0].state == "Success"
)
job.update(True)
RESULT["job_name"] = job.name.startswith("pipeline-")
RESULT["job_has_date"] = job.creation_date is not None
RESULT["job_in_list"] = job.uuid in {j.uuid for j in conn.jobs()}
job.terminate()
deadline = time.monotonic() + 5
while job.state != "Completed" and time.monotonic() < deadline:
    job.update(True)
    time.sleep(0.02)
RESULT["job_final"] = job.state
job.delete(True)
"""

POOL_AND_BUCKETS = """
conn = Connection(cluster_url=CLUSTER_URL, client_token=TOKEN)
bucket = conn.retrieve_or_create_bucket("files-" + SUFFIX)
bucket.add_directory(INPUT_DIR, "inputs/")
bucket.add_string("from a string", "note.txt")
RESULT["keys"] = sorted(f.key for f in bucket.list_files())
bucket.get_file("inputs/sub/b.txt", LOCAL_FILE)
RESULT["got"] = open(LOCAL_FILE).read()
bucket.get_all_files(OUTPUT_DIR)
RESULT["in_buckets"] = "files-" + SUFFIX in [b.uuid for b in conn.buckets()]

pool = conn.create_pool("pool-" + SUFFIX, "docker-batch", 2)
pool.constants["DOCKER_CMD"] = "echo from the pool command"
pool.submit()
task = conn.create_task("in-pool", pool, 1)
task.submit()
task.wait()
RESULT["task"] = (task.state, task.stdout())
RESULT["task_pool"] = task.pool.uuid == pool.uuid
pool.close()
deadline = time.monotonic() + 5
while conn.retrieve_pool(pool.uuid).state != "Closed" and time.monotonic() < deadline:
    time.sleep(0.02)
try:
    conn.create_task("late", pool, 1).submit()
except QarnotGenericException as error:
    RESULT["late"] = "Closed" in str(error)
uuid = pool.uuid
pool.delete()
try:
    conn.retrieve_pool(uuid)
except MissingPoolException:
    RESULT["pool_gone"] = True
bucket.delete()
RESULT["bucket_gone"] = "files-" + SUFFIX not in [b.uuid for b in conn.buckets()]
"""


def run_script(body: str, flavour: str, endpoint: QarnotEmulatorEndpoint, workdir: Path) -> dict[str, Any]:
    """exec the script with one flavour's import lines; what it put in RESULT."""
    workdir.mkdir()
    (workdir / "greeting.txt").write_text("hello from the input bucket\n")
    (workdir / "inputs" / "sub").mkdir(parents=True)
    (workdir / "inputs" / "a.txt").write_text("a")
    (workdir / "inputs" / "sub" / "b.txt").write_text("b")
    result: dict[str, Any] = {}
    scope = {
        "CLUSTER_URL": endpoint.url,
        "TOKEN": endpoint.token,
        "SUFFIX": f"{flavour}-{uuid.uuid4().hex[:8]}",
        "INPUT_FILE": str(workdir / "greeting.txt"),
        "OUTPUT_DIR": str(workdir / "results"),
        "INPUT_DIR": str(workdir / "inputs"),
        "LOCAL_FILE": str(workdir / "b-copy.txt"),
        "RESULT": result,
        "time": time,
    }
    exec(IMPORTS[flavour] + body, scope)  # the scripts are this file's constants
    return result


@pytest.fixture(autouse=True)
def fast_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    """The seed's wait() sleeps up to 10 s between polls, ours 1 s: 50 ms for both here."""
    fast = types.SimpleNamespace(time=time.time, sleep=lambda _: time.sleep(0.05), monotonic=time.monotonic)
    monkeypatch.setattr(qarnot.task, "time", fast)
    monkeypatch.setattr(OurTask, "wait_interval", 0.05)


def both(body: str, endpoint: QarnotEmulatorEndpoint, tmp_path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    return run_script(body, "seed", endpoint, tmp_path / "seed"), run_script(body, "ours", endpoint, tmp_path / "ours")


def test_hello_world_runs_the_same(qarnot_emulator: QarnotEmulatorEndpoint, tmp_path: Path) -> None:
    seed, ours = both(HELLO_WORLD, qarnot_emulator, tmp_path)
    assert ours == seed
    assert ours["state"] == "Success" and ours["again"] == "Success"
    assert ours["stdout"].count("hello from the input bucket") == 2
    assert ours["instances"] == [(0, "Success"), (1, "Success")]
    assert ours["result_keys"] == ["result-0.txt", "result-1.txt"]
    assert ours["finished"] is True and ours["second_state"] == "Failure"
    assert ours["missing_task"] and ours["unauthorized"] and ours["buckets_left"] == []
    for flavour in ("seed", "ours"):
        results = tmp_path / flavour / "results"
        assert sorted(p.name for p in results.iterdir()) == ["result-0.txt", "result-1.txt"]
        assert (results / "result-1.txt").read_text() == "done 1\n"


def test_job_with_dependent_tasks_runs_the_same(qarnot_emulator: QarnotEmulatorEndpoint, tmp_path: Path) -> None:
    seed, ours = both(JOB_WITH_DEPENDENCIES, qarnot_emulator, tmp_path)
    assert ours == seed
    assert ours["job_state"] == "Active" and ours["use_dependencies"] is True
    assert ours["states"] == ["Success", "Success"]
    assert ours["order"] == ["first\n", "second\n"]
    assert ours["job_tasks"] == ["first", "second"]
    assert ours["job_final"] == "Completed"


def test_pool_and_bucket_calls_run_the_same(qarnot_emulator: QarnotEmulatorEndpoint, tmp_path: Path) -> None:
    seed, ours = both(POOL_AND_BUCKETS, qarnot_emulator, tmp_path)
    assert ours == seed
    assert ours["keys"] == ["inputs/a.txt", "inputs/sub/b.txt", "note.txt"]
    assert ours["got"] == "b" and ours["in_buckets"]
    assert ours["task"] == ("Success", "from the pool command\n") and ours["task_pool"]
    assert ours["late"] and ours["pool_gone"] and ours["bucket_gone"]
    for flavour in ("seed", "ours"):
        results = tmp_path / flavour / "results"
        assert sorted(p.relative_to(results).as_posix() for p in results.rglob("*.txt")) == [
            "inputs/a.txt",
            "inputs/sub/b.txt",
            "note.txt",
        ]


def test_ours_names_a_missing_bucket(qarnot_emulator: QarnotEmulatorEndpoint) -> None:
    from airflow_provider_batch.compat.qarnot.connection import Connection
    from airflow_provider_batch.compat.qarnot.exceptions import MissingBucketException

    conn = Connection(cluster_url=qarnot_emulator.url, client_token=qarnot_emulator.token)
    with conn, pytest.raises(MissingBucketException):
        conn.retrieve_bucket(f"none-{uuid.uuid4().hex[:8]}")
