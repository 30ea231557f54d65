"""The in-process API: `async with ArmadaEmulator(...)`, latency injection, and shutdown with open watchers."""

from __future__ import annotations

import asyncio
import time

import grpc
import pytest
from google.protobuf import empty_pb2

from airflow_provider_batch._proto.armada import event_pb2, event_pb2_grpc, submit_pb2, submit_pb2_grpc
from airflow_provider_batch.emulators import ArmadaEmulator
from airflow_provider_batch.emulators.testing import authorized_aio_channel

pytestmark = pytest.mark.wire


async def test_latency_is_added_to_every_call() -> None:
    async with (
        ArmadaEmulator(port=0, latency_ms=150) as emulator,
        authorized_aio_channel(emulator.target, emulator.token) as channel,
    ):
        started = time.monotonic()
        await submit_pb2_grpc.SubmitStub(channel).Health(empty_pb2.Empty())
        assert time.monotonic() - started >= 0.15


async def test_stop_ends_open_watchers_and_reports_the_given_token() -> None:
    emulator = ArmadaEmulator(port=0, token="given")
    await emulator.start()
    assert emulator.ready_info() == {"target": emulator.target, "token": "given", "queues": []}
    channel = authorized_aio_channel(emulator.target, "given")
    await submit_pb2_grpc.QueueServiceStub(channel).CreateQueue(submit_pb2.Queue(name="q"))
    call = event_pb2_grpc.EventStub(channel).GetJobSetEvents(event_pb2.JobSetRequest(queue="q", id="js", watch=True))
    reader = asyncio.ensure_future(call.read())
    await asyncio.sleep(0.05)  # let the watcher reach the server
    await asyncio.wait_for(emulator.stop(), 10)
    # the watcher is not left hanging: its stream ends (cleanly, or as the server goes away)
    result = await asyncio.wait_for(reader, 10)
    code = await call.code()
    assert result is grpc.aio.EOF
    assert code in (grpc.StatusCode.OK, grpc.StatusCode.CANCELLED, grpc.StatusCode.UNAVAILABLE)
    await channel.close()
