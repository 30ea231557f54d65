"""The demo's Apolo part: two example DAGs (a blocking and a deferrable job), the `apolo_default` connection to the
emulator (with its passed-config blob, as a service account's token would be given) and, after the runs, every job
each run started, found by the identity tags the hook puts on them. No Airflow import here: the demo's own process
must not import it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from airflow_provider_batch.clients.apolo.client import ApoloClient, ApoloSyncClient
from airflow_provider_batch.clients.apolo.config import ApoloConfig
from airflow_provider_batch.clients.apolo.logs import follow_log
from airflow_provider_batch.clients.apolo.types import JobDescription
from airflow_provider_batch.common.identity import TAG_PREFIX
from airflow_provider_batch.demo.backend import Expected
from airflow_provider_batch.demo.jobs import JobReport
from airflow_provider_batch.emulators.connections import APOLO_CONN_ID, apolo_connection

EMULATOR = "apolo"
CONN_ID = APOLO_CONN_ID
EMULATOR_FLAGS: tuple[str, ...] = ()
EXAMPLES: dict[str, Expected] = {"apolo_blocking": Expected(), "apolo_deferrable": Expected()}


def config(ready: dict[str, Any]) -> ApoloConfig:
    return ApoloConfig.from_passed_config(ready["passed_config"], url=ready["url"])


def connection(ready: dict[str, Any]) -> dict[str, Any]:
    """The `apolo` connection to the emulator, in Airflow's JSON form: the passed-config blob as the password."""
    return apolo_connection(ready)


def prepare(ready: dict[str, Any], work: Path) -> None:
    """Nothing to create: the emulator's project and presets are there from the start."""


def tags_of(job: JobDescription) -> dict[str, str]:
    pairs = (tag[len(TAG_PREFIX) :].partition("=") for tag in job.tags if tag.startswith(TAG_PREFIX))
    return {key: value for key, _, value in pairs}


def report(job: JobDescription, lines: list[str]) -> JobReport:
    tags = tags_of(job)
    return JobReport(
        job_id=job.id,
        task_id=tags.get("task_id", "?"),
        map_index=int(tags.get("map_index", "-1")),
        try_number=int(tags.get("try_number", "0")),
        state=job.status.value.upper(),
        reason=job.failure_reason() if job.status.value != "succeeded" else "",
        log_lines=lines,
    )


def jobs_of(ready: dict[str, Any], dag_id: str, run: dict[str, Any], logs: bool) -> list[JobReport]:
    """Every job the run started (tagged with its dag_id and run_id), oldest first."""
    wanted = [f"{TAG_PREFIX}dag_id={dag_id}", f"{TAG_PREFIX}run_id={run['run_id']}"]
    with ApoloSyncClient(config(ready)) as apolo:
        jobs = apolo.list(tags=wanted)

        def lines_of(job_id: str) -> list[str]:
            async def read(client: ApoloClient) -> list[str]:
                return [line.text async for line in follow_log(client, job_id)]

            return apolo.call(read) if logs else []

        return [report(job, lines_of(job.id)) for job in jobs]


__all__ = ["CONN_ID", "EMULATOR", "EXAMPLES", "connection", "jobs_of", "prepare"]
