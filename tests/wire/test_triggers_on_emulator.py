"""Many BatchJobTrigger coroutines in one event loop against the Armada emulator, through the embedded cache."""

from __future__ import annotations

import asyncio
import json
import math
import time

import pytest

from airflow_provider_batch.clients.armada.client import ArmadaClient
from airflow_provider_batch.common.channel import CallCredentials, GrpcChannelArguments
from airflow_provider_batch.common.jobref import JobRef
from airflow_provider_batch.triggers.batch import BatchJobTrigger

pytestmark = pytest.mark.wire
N = 60


def pod(script):
    quantities = {"cpu": "100m", "memory": "64Mi"}
    spec = {
        "name": "main",
        "command": ["sh", "-c", script],
        "resources": {"requests": quantities, "limits": quantities},
    }
    return {"containers": [spec]}


async def test_sixty_triggers_share_batched_status_calls(armada_emulator, armada_queue, monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_ARMADA_WIRE",
        json.dumps({"conn_type": "armada", "host": armada_emulator.target, "password": armada_emulator.token}),
    )
    channel = GrpcChannelArguments(armada_emulator.target).channel(CallCredentials.bearer(armada_emulator.token))
    client = ArmadaClient(channel)
    scripts = [f"sleep {1 + i % 3}; exit {3 if i % 10 == 0 else 0}" for i in range(N)]
    items = [client.create_job_request_item(pod_spec=pod(s), namespace="default") for s in scripts]
    job_ids = [r.job_id for r in client.submit_jobs(armada_queue, "many", items).job_response_items]
    channel.close()

    before = armada_emulator.stats().get("/api.Jobs/GetJobStatus", 0)
    details = {"queue": armada_queue, "job_set_id": "many"}
    refs = [JobRef("armada", "armada_wire", job_id, details).to_json() for job_id in job_ids]
    triggers = [BatchJobTrigger(ref, poll_interval=0.5) for ref in refs]
    loop = asyncio.get_running_loop()
    started = loop.time()
    events = await asyncio.wait_for(asyncio.gather(*(trigger.run().__anext__() for trigger in triggers)), timeout=60)
    elapsed = loop.time() - started
    calls = armada_emulator.stats().get("/api.Jobs/GetJobStatus", 0) - before

    statuses = [event.payload["status"] for event in events]
    assert statuses == ["failed" if i % 10 == 0 else "success" for i in range(N)]
    assert all("code 3" in e.payload["message"] for i, e in enumerate(events) if i % 10 == 0)
    intervals = elapsed / 0.5
    # One batched call per interval (ceil(N/500) ids per call), not one per job: per-job polling would be N each.
    assert calls <= (math.ceil(N / 500) + 1) * (intervals + 2), (
        f"{calls} GetJobStatus calls in {intervals:.0f} intervals"
    )
    assert calls < N


async def test_a_followed_job_set_ends_reach_triggers_well_within_the_poll_interval(
    armada_emulator, armada_queue, monkeypatch
):
    """Twelve jobs in one job set (>= [batch] event_stream_min_jobs, 10): the cache follows the job set's events, so
    each job's end reaches its trigger well under a second after Armada recorded it, with a 10 s poll interval."""
    monkeypatch.setenv(
        "AIRFLOW_CONN_ARMADA_WIRE",
        json.dumps({"conn_type": "armada", "host": armada_emulator.target, "password": armada_emulator.token}),
    )
    monkeypatch.setenv("AIRFLOW__BATCH__EVENT_STREAM_MIN_JOBS", "10")
    channel = GrpcChannelArguments(armada_emulator.target).channel(CallCredentials.bearer(armada_emulator.token))
    client = ArmadaClient(channel)
    scripts = [f"sleep {1 + (i % 4) * 0.5}; exit {4 if i == 5 else 0}" for i in range(12)]
    items = [client.create_job_request_item(pod_spec=pod(s), namespace="default") for s in scripts]
    job_ids = [r.job_id for r in client.submit_jobs(armada_queue, "followed", items).job_response_items]
    details = {"queue": armada_queue, "job_set_id": "followed"}
    triggers = [
        BatchJobTrigger(JobRef("armada", "armada_wire", j, details).to_json(), poll_interval=10) for j in job_ids
    ]
    before = armada_emulator.stats()
    received: dict[str, float] = {}

    async def one(trigger):
        event = await trigger.run().__anext__()
        received[event.payload["job_id"]] = time.time()
        return event

    events = await asyncio.wait_for(asyncio.gather(*(one(t) for t in triggers)), timeout=40)
    after = armada_emulator.stats()

    assert [e.payload["status"] for e in events] == ["failed" if i == 5 else "success" for i in range(12)]
    assert "code 4" in events[5].payload["message"]
    runs = client.get_job_details(job_ids, expand_job_run=True).job_details
    delays = [received[j] - runs[j].job_runs[-1].finished_ts.ToDatetime().timestamp() for j in job_ids]
    channel.close()
    assert max(delays) < 1.5, f"end-to-event delays {sorted(delays)}"
    streams = after.get("/api.Event/GetJobSetEvents", 0) - before.get("/api.Event/GetJobSetEvents", 0)
    polls = after.get("/api.Jobs/GetJobStatus", 0) - before.get("/api.Jobs/GetJobStatus", 0)
    assert streams == 1 and polls <= 2, f"{streams} streams, {polls} GetJobStatus calls"
