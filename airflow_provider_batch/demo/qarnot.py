"""The demo's Qarnot part: two example DAGs (an input bucket in, a result bucket out), the `qarnot_default`
connection to the emulator, the input bucket they read and, after the runs, every task each run submitted, found by
the identity tags the hook puts on them. No Airflow import here: the demo's own process must not import it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from airflow_provider_batch.clients.qarnot.client import QarnotClient
from airflow_provider_batch.clients.qarnot.config import QarnotConfig
from airflow_provider_batch.clients.qarnot.types import QarnotTask
from airflow_provider_batch.common.identity import TAG_PREFIX
from airflow_provider_batch.demo.backend import Expected
from airflow_provider_batch.demo.jobs import JobReport
from airflow_provider_batch.emulators.connections import QARNOT_CONN_ID, qarnot_connection

EMULATOR = "qarnot"
CONN_ID = QARNOT_CONN_ID
EMULATOR_FLAGS: tuple[str, ...] = ("--s3-port", "0")  # the emulator's S3 storage, besides --qarnot-port
INPUT_BUCKET = "qarnot-demo-inputs"
INPUT_FILE = "words.txt"
INPUT_TEXT = "the quick brown fox jumps over the lazy dog\n"
RESULT_BUCKETS = {"qarnot_blocking": "qarnot-blocking-results", "qarnot_deferrable": "qarnot-deferrable-results"}
EXAMPLES: dict[str, Expected] = {"qarnot_blocking": Expected(), "qarnot_deferrable": Expected()}
COMMON_STATES = {"Success": "SUCCEEDED", "Failure": "FAILED", "Cancelled": "CANCELLED"}


@contextmanager
def client(ready: dict[str, Any]) -> Iterator[QarnotClient]:
    config = QarnotConfig(token=ready["token"], cluster_url=ready["url"], storage_url=ready.get("storage_url"))
    with QarnotClient(config) as made:
        yield made


def connection(ready: dict[str, Any]) -> dict[str, Any]:
    """The `qarnot` connection to the emulator, in Airflow's JSON form."""
    return qarnot_connection(ready)


def prepare(ready: dict[str, Any], work: Path) -> None:
    """The input bucket both example DAGs read, with one text file in it."""
    with client(ready) as qarnot:
        qarnot.create_bucket(INPUT_BUCKET)
        qarnot.get_storage().add_string(INPUT_BUCKET, INPUT_FILE, INPUT_TEXT)


def tags_of(task: QarnotTask) -> dict[str, str]:
    pairs = (tag[len(TAG_PREFIX) :].partition("=") for tag in task.tags if tag.startswith(TAG_PREFIX))
    return {key: value for key, _, value in pairs}


def report(qarnot: QarnotClient, task: QarnotTask, logs: bool) -> JobReport:
    tags = tags_of(task)
    lines: list[str] = []
    if logs:
        lines = qarnot.stdout(task.uuid).splitlines()
        lines += ["stderr: " + line for line in qarnot.stderr(task.uuid).splitlines()]
    return JobReport(
        job_id=task.uuid,
        task_id=tags.get("task_id", "?"),
        map_index=int(tags.get("map_index", "-1")),
        try_number=int(tags.get("try_number", "0")),
        state=COMMON_STATES.get(task.state, task.state.upper()),
        reason=task.failure_reason(),
        log_lines=lines,
    )


def jobs_of(ready: dict[str, Any], dag_id: str, run: dict[str, Any], logs: bool) -> list[JobReport]:
    """Every task the run submitted (tagged with its dag_id and run_id), oldest first."""
    wanted = [f"{TAG_PREFIX}dag_id={dag_id}", f"{TAG_PREFIX}run_id={run['run_id']}"]
    with client(ready) as qarnot:
        tasks = sorted(qarnot.tasks(tags_intersect=wanted), key=lambda t: (t.creation_date is None, t.creation_date))
        return [report(qarnot, task, logs) for task in tasks]


def result_files(ready: dict[str, Any], dag_id: str) -> dict[str, str]:
    """The result bucket of an example DAG: key -> text."""
    with client(ready) as qarnot:
        storage = qarnot.get_storage()
        bucket = RESULT_BUCKETS[dag_id]
        return {key: storage.read_string(bucket, key) for key in storage.list_files(bucket)}
