"""Our Armada clients' `preempt_jobs` against the emulator, without the SDK: a running job preempted by the sync
client (its status, the result map, the `preempted` event), several at once by the asyncio client."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from test_our_armada_client import follow_to_end, pod

from airflow_provider_batch.clients.armada.client import ArmadaAsyncIOClient, ArmadaClient, ArmadaJobState, EventType
from airflow_provider_batch.common.channel import CallCredentials, GrpcChannelArguments

pytestmark = pytest.mark.wire


def submit_sleepers(client: ArmadaClient, queue: str, job_set: str, count: int) -> list[str]:
    items = [
        client.create_job_request_item(
            pod_spec=pod("sleep 30"), namespace="default", client_id=f"sleeper-{job_set}-{n}"
        )
        for n in range(count)
    ]
    return [item.job_id for item in client.submit_jobs(queue, job_set, items).job_response_items]


def wait_running(client: ArmadaClient, job_ids: list[str]) -> None:
    deadline = time.monotonic() + 20
    while {ArmadaJobState(s) for s in client.get_job_status(job_ids).job_states.values()} != {ArmadaJobState.RUNNING}:
        assert time.monotonic() < deadline, "the jobs never ran"
        time.sleep(0.05)


def test_the_sync_client_preempts_a_running_job(armada_emulator, armada_queue) -> None:
    channel = GrpcChannelArguments(armada_emulator.target).channel(CallCredentials.bearer(armada_emulator.token))
    try:
        client = ArmadaClient(channel)
        job_set = f"preempt-{uuid.uuid4().hex[:8]}"
        (job_id,) = submit_sleepers(client, armada_queue, job_set, 1)
        wait_running(client, [job_id])
        result = client.preempt_jobs(armada_queue, job_set, job_id, reason="make room")
        assert dict(result.preemption_results) == {job_id: ""}
        assert ArmadaJobState(client.get_job_status([job_id]).job_states[job_id]) is ArmadaJobState.PREEMPTED
        assert follow_to_end(client, armada_queue, job_set, {job_id})[job_id][-1] is EventType.preempted
    finally:
        channel.close()


async def test_the_asyncio_client_preempts_several(armada_emulator, armada_queue) -> None:
    arguments = GrpcChannelArguments(armada_emulator.target)
    sync_channel = arguments.channel(CallCredentials.bearer(armada_emulator.token))
    channel = arguments.aio_channel(CallCredentials.bearer(armada_emulator.token))
    try:
        job_set = f"preempt-{uuid.uuid4().hex[:8]}"
        sync_client = ArmadaClient(sync_channel)
        job_ids = submit_sleepers(sync_client, armada_queue, job_set, 2)
        await asyncio.to_thread(wait_running, sync_client, job_ids)
        result = await ArmadaAsyncIOClient(channel).preempt_jobs(armada_queue, job_set, job_ids)
        assert dict(result.preemption_results) == {job_id: "" for job_id in job_ids}
        states = sync_client.get_job_status(job_ids).job_states
        assert {ArmadaJobState(states[job_id]) for job_id in job_ids} == {ArmadaJobState.PREEMPTED}
    finally:
        await channel.close()
        sync_channel.close()
