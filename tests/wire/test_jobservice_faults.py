"""Faults: a flaky Armada (30% of calls UNAVAILABLE) and the job service killed and restarted mid-run.

Every job's final state still reaches its trigger, once, with the right outcome.
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
from types import SimpleNamespace

import grpc
import pytest
from _jobservice_helpers import TOKEN, Service, pod

from airflow_provider_batch.clients.armada.client import ArmadaClient, ArmadaRpcError
from airflow_provider_batch.common.channel import CallCredentials, GrpcChannelArguments
from airflow_provider_batch.common.jobref import JobRef
from airflow_provider_batch.common.retry import RetryPolicy
from airflow_provider_batch.emulators import launch
from airflow_provider_batch.triggers.batch import BatchJobTrigger

pytestmark = [pytest.mark.wire, pytest.mark.slow]
N = 12


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_flaky_armada_and_a_service_restart_lose_nothing(tmp_path, monkeypatch):
    args = ["--only", "armada", "--armada-port", "0", "--admin-port", "0", "--step-ms", "20"]
    with launch([*args, "--fault-rate", "0.3", "--fault-seed", "3"]) as emulators:
        endpoint = SimpleNamespace(target=emulators["armada"]["target"], token=emulators["armada"]["token"])
        channel = GrpcChannelArguments(endpoint.target).channel(CallCredentials.bearer(endpoint.token))
        armada = ArmadaClient(channel, retry=RetryPolicy(max_attempts=12, initial_backoff=0.01, max_backoff=0.2))
        try:
            armada.create_queue(armada.create_queue_request("flaky"))
        except ArmadaRpcError as error:  # a retry after a lost reply finds the queue made
            assert error.code() is grpc.StatusCode.ALREADY_EXISTS
        scripts = [f"sleep {2 + i % 3}; exit {int(i % 4 == 0)}" for i in range(N)]
        items = [
            armada.create_job_request_item(pod_spec=pod(script), namespace="default", client_id=f"job-{i}")
            for i, script in enumerate(scripts)
        ]
        jobs = [armada.submit_jobs("flaky", "faults", [item]).job_response_items[0].job_id for item in items]
        channel.close()

        port = free_port()
        store = str(tmp_path / "js.db")
        service = Service(store, endpoint, port)
        monkeypatch.setenv("AIRFLOW__BATCH__JOBSERVICE_CONN_ID", "batch_jobservice_faults")
        monkeypatch.setenv(
            "AIRFLOW_CONN_BATCH_JOBSERVICE_FAULTS",
            json.dumps({"conn_type": "batch_jobservice", "host": f"127.0.0.1:{port}", "password": TOKEN}),
        )
        details = {"queue": "flaky", "job_set_id": "faults"}
        triggers = [BatchJobTrigger(JobRef("armada", "armada_default", j, details).to_json(), 0.5) for j in jobs]
        events: dict[str, list[str]] = {j: [] for j in jobs}

        async def one(trigger: BatchJobTrigger) -> None:
            async for event in trigger.run():
                events[event.payload["job_id"]].append(event.payload["status"])

        running = asyncio.gather(*(one(t) for t in triggers))
        await asyncio.sleep(1.5)
        service.process.send_signal(signal.SIGKILL)  # no clean shutdown: the store is all that is left
        service.process.wait(timeout=10)
        await asyncio.sleep(1.0)
        service = Service(store, endpoint, port)
        try:
            await asyncio.wait_for(running, timeout=90)
        finally:
            stopped = service.stop()  # asserted below, so that it does not hide why the wait failed
    assert stopped == 0, "the restarted service did not stop cleanly on SIGTERM"

    expected = {j: ["failed" if i % 4 == 0 else "success"] for i, j in enumerate(jobs)}
    assert events == expected


def _can_restart_postgres() -> str:
    """The cluster to restart, or "" when this machine cannot (no server, no pg_ctlcluster, not root)."""
    import os
    import shutil
    from pathlib import Path

    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            pass
    except OSError:
        return ""
    versions = sorted(p.name for p in Path("/etc/postgresql").glob("*")) if Path("/etc/postgresql").exists() else []
    if not versions or not shutil.which("pg_ctlcluster") or os.geteuid() != 0:
        return ""
    return versions[-1]


@pytest.mark.skipif(not _can_restart_postgres(), reason="needs a local PostgreSQL this test may restart (as root)")
async def test_a_postgres_restart_loses_nothing(tmp_path, monkeypatch, armada_emulator, armada_queue):
    import subprocess
    import uuid

    import sqlalchemy as sa

    from airflow_provider_batch.jobservice.store import JobStore

    schema = f"js_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine("postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    with admin.begin() as db:
        db.execute(sa.text(f"CREATE SCHEMA {schema}"))
    admin.dispose()
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/postgres?options=-csearch_path%3D{schema}"
    channel = GrpcChannelArguments(armada_emulator.target).channel(CallCredentials.bearer(armada_emulator.token))
    armada = ArmadaClient(channel)
    items = [armada.create_job_request_item(pod_spec=pod(f"sleep {3 + i % 3}"), namespace="default") for i in range(6)]
    jobs = [r.job_id for r in armada.submit_jobs(armada_queue, "pg", items).job_response_items]
    channel.close()

    service = Service(url, armada_emulator)
    monkeypatch.setenv("AIRFLOW__BATCH__JOBSERVICE_CONN_ID", "batch_jobservice_pg")
    monkeypatch.setenv(
        "AIRFLOW_CONN_BATCH_JOBSERVICE_PG",
        json.dumps({"conn_type": "batch_jobservice", "host": service.target, "password": TOKEN}),
    )
    details = {"queue": armada_queue, "job_set_id": "pg"}
    triggers = [BatchJobTrigger(JobRef("armada", "armada_default", j, details).to_json(), 0.5) for j in jobs]
    try:
        running = asyncio.gather(*(t.run().__anext__() for t in triggers))
        await asyncio.sleep(1.0)
        cluster = _can_restart_postgres()
        restart = ["pg_ctlcluster", "--skip-systemctl-redirect", cluster, "main", "restart"]
        await asyncio.to_thread(subprocess.run, restart, check=True, timeout=60)
        events = await asyncio.wait_for(running, timeout=90)
        assert [e.payload["status"] for e in events] == ["success"] * len(jobs)
        await asyncio.sleep(6)  # one flush after the database is back
    finally:
        assert service.stop() == 0
    rows = JobStore(url).load()
    assert {r.job_id: s.state.value for r, s in rows if s} == dict.fromkeys(jobs, "succeeded")
    admin = sa.create_engine("postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    with admin.begin() as db:
        db.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()
