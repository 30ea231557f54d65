"""What the trigger benchmark submits to each scheduler's emulator, and how it reads back when each job ended.

A workload knows its emulator's flags, the Airflow connection the triggers use (set as an AIRFLOW_CONN_* variable),
how to submit N jobs that each run for a given number of seconds (the way our hook does, so that the hook's batched
status calls find them), which emulator routes are status calls, and when the scheduler recorded each job's end.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol

from airflow_provider_batch.clients.armada.client import ArmadaClient
from airflow_provider_batch.common.channel import CallCredentials, GrpcChannelArguments
from airflow_provider_batch.common.identity import JobIdentity
from airflow_provider_batch.common.jobref import JobRef

CONN_ID = "bench"


class Workload(Protocol):
    emulator: str
    emulator_flags: tuple[str, ...]
    status_routes: tuple[str, ...]

    def connect(self, ready: dict[str, Any]) -> None: ...

    def submit(self, ready: dict[str, Any], seconds: list[float]) -> list[JobRef]: ...

    def ended_at(self, ready: dict[str, Any], jobs: list[JobRef]) -> dict[str, float]: ...


def set_connection(conn_id: str, connection: dict[str, Any]) -> None:
    os.environ[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps(connection)


def identity(i: int) -> JobIdentity:
    return JobIdentity("bench", f"job{i}", "bench-run")


class ArmadaWorkload:
    """N pods in one job set, submitted 500 per SubmitJobs call."""

    emulator = "armada"
    emulator_flags: tuple[str, ...] = ("--armada-port", "0")
    status_routes: tuple[str, ...] = ("/api.Jobs/GetJobStatus",)

    @contextmanager
    def client(self, ready: dict[str, Any]) -> Iterator[ArmadaClient]:
        channel = GrpcChannelArguments(ready["target"]).channel(CallCredentials.bearer(ready["token"]))
        try:
            yield ArmadaClient(channel)
        finally:
            channel.close()

    def connect(self, ready: dict[str, Any]) -> None:
        set_connection(CONN_ID, {"conn_type": "armada", "host": ready["target"], "password": ready["token"]})

    def submit(self, ready: dict[str, Any], seconds: list[float]) -> list[JobRef]:
        quantities = {"cpu": "10m", "memory": "8Mi"}
        with self.client(ready) as client:
            client.create_queue(client.create_queue_request("bench"))
            items = []
            for duration in seconds:
                container = {
                    "name": "main",
                    "command": ["sleep", f"{duration:.1f}"],
                    "resources": {"requests": quantities, "limits": quantities},
                }
                items.append(client.create_job_request_item(pod_spec={"containers": [container]}, namespace="default"))
            job_ids: list[str] = []
            for start in range(0, len(items), 500):
                response = client.submit_jobs("bench", "bench", items[start : start + 500])
                job_ids += [item.job_id for item in response.job_response_items]
        details = {"queue": "bench", "job_set_id": "bench"}
        return [JobRef("armada", CONN_ID, job_id, details) for job_id in job_ids]

    def ended_at(self, ready: dict[str, Any], jobs: list[JobRef]) -> dict[str, float]:
        with self.client(ready) as client:
            details = client.get_job_details([job.job_id for job in jobs], expand_job_run=True).job_details
        ended = {}
        for job in jobs:
            runs = details[job.job_id].job_runs
            if runs and runs[-1].finished_ts.seconds:
                ended[job.job_id] = runs[-1].finished_ts.ToDatetime().timestamp()
        return ended


class QarnotWorkload:
    """N docker-batch tasks of one instance each, submitted through QarnotHook (so they carry its tags)."""

    emulator = "qarnot"
    emulator_flags: tuple[str, ...] = ("--qarnot-port", "0", "--s3-port", "0")
    status_routes: tuple[str, ...] = ("POST /tasks/paginate", "GET /tasks/{uuid}", "GET /tasks")

    def connect(self, ready: dict[str, Any]) -> None:
        extra = {"storage_url": ready["storage_url"]}
        set_connection(
            CONN_ID, {"conn_type": "qarnot", "host": ready["url"], "password": ready["token"], "extra": extra}
        )

    def submit(self, ready: dict[str, Any], seconds: list[float]) -> list[JobRef]:
        from airflow_provider_batch.clients.qarnot.types import TaskSpec
        from airflow_provider_batch.hooks.qarnot import QarnotHook, QarnotSubmission

        hook = QarnotHook(CONN_ID)
        jobs = []
        for i, duration in enumerate(seconds):
            spec = TaskSpec(
                name=f"bench-{i}", profile="docker-batch", constants={"DOCKER_CMD": f"sleep {duration:.1f}"}
            )
            jobs.append(hook.submit_job(QarnotSubmission(spec), identity(i), 0))
        return jobs

    def ended_at(self, ready: dict[str, Any], jobs: list[JobRef]) -> dict[str, float]:
        from airflow_provider_batch.hooks.qarnot import QarnotHook

        client = QarnotHook(CONN_ID).client
        ended = {}
        for job in jobs:
            task = client.retrieve_task(job.job_id)
            if task.end_date is not None:
                ended[job.job_id] = task.end_date.timestamp()
        return ended


class ApoloWorkload:
    """N jobs on the emulator's `cpu-small` preset, started through ApoloHook (so they carry its tags)."""

    emulator = "apolo"
    emulator_flags: tuple[str, ...] = ("--apolo-port", "0")
    status_routes: tuple[str, ...] = ("GET /api/v1/jobs", "GET /api/v1/jobs/{job_id}")

    def connect(self, ready: dict[str, Any]) -> None:
        set_connection(CONN_ID, {"conn_type": "apolo", "host": ready["url"], "password": ready["passed_config"]})

    def submit(self, ready: dict[str, Any], seconds: list[float]) -> list[JobRef]:
        from airflow_provider_batch.hooks.apolo import ApoloHook, ApoloSubmission

        hook = ApoloHook(CONN_ID)
        try:
            return [
                hook.submit_job(ApoloSubmission("busybox", "cpu-small", f"sleep {duration:.1f}"), identity(i), 0)
                for i, duration in enumerate(seconds)
            ]
        finally:
            hook.close()

    def ended_at(self, ready: dict[str, Any], jobs: list[JobRef]) -> dict[str, float]:
        from airflow_provider_batch.hooks.apolo import ApoloHook

        hook = ApoloHook(CONN_ID)
        ended = {}
        try:
            for job in jobs:
                finished = hook.client.status(job.job_id).history.finished_at
                if finished is not None:
                    ended[job.job_id] = finished.timestamp()
        finally:
            hook.close()
        return ended


WORKLOADS: dict[str, Workload] = {"armada": ArmadaWorkload(), "qarnot": QarnotWorkload(), "apolo": ApoloWorkload()}
