"""The demo's Armada part: three example DAGs, the `armada_default` connection to the emulator, the queue they use
and, after the runs, every job of each run's job set as the emulator saw it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from airflow_provider_batch.clients.armada.client import ArmadaClient
from airflow_provider_batch.common.channel import CallCredentials, GrpcChannelArguments
from airflow_provider_batch.demo.backend import Expected
from airflow_provider_batch.demo.jobs import JobReport, job_set_report
from airflow_provider_batch.emulators.connections import ARMADA_CONN_ID, armada_connection

EMULATOR = "armada"
EMULATOR_FLAGS: tuple[str, ...] = ()
CONN_ID = ARMADA_CONN_ID
QUEUE = "demo"
EXAMPLES: dict[str, Expected] = {
    "armada_blocking": Expected(),
    "armada_deferrable": Expected(),
    "armada_mapped": Expected(tasks=20, retried=True),
}


@contextmanager
def client(ready: dict[str, Any]) -> Iterator[ArmadaClient]:
    channel = GrpcChannelArguments(ready["target"]).channel(CallCredentials.bearer(ready["token"]))
    try:
        yield ArmadaClient(channel)
    finally:
        channel.close()


def connection(ready: dict[str, Any], queue: str = QUEUE) -> dict[str, Any]:
    """The `armada` connection to the emulator, in Airflow's JSON form, with `queue` as its default queue."""
    return armada_connection(ready, default_queue=queue)


def prepare(ready: dict[str, Any], work: Path) -> None:
    with client(ready) as armada:
        armada.create_queue(armada.create_queue_request(QUEUE))


def job_set_of(dag_id: str, run: dict[str, Any]) -> tuple[str, str]:
    """(queue, job set) of a run: from a task's `batch_job` XCom, else the operator's defaults."""
    for task in run["tasks"]:
        details = (task.get("job") or {}).get("details") or {}
        if details.get("queue") and details.get("job_set_id"):
            return details["queue"], details["job_set_id"]
    return QUEUE, f"{dag_id}-{run['run_id']}"


def jobs_of(ready: dict[str, Any], dag_id: str, run: dict[str, Any], logs: bool) -> list[JobReport]:
    with client(ready) as armada:
        return job_set_report(armada, *job_set_of(dag_id, run), logs=logs)
