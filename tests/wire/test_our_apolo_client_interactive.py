"""Our asyncio Apolo client's monitoring calls on running jobs, against the Apolo emulator, without the SDK:
exec, attach and port_forward (the platform's channel framing), send_signal and top."""

from __future__ import annotations

import asyncio
import socket
import sys
from collections.abc import AsyncIterator

import pytest
from conftest import ApoloEmulatorEndpoint

from airflow_provider_batch.clients.apolo.client import ApoloClient
from airflow_provider_batch.clients.apolo.config import ApoloConfig
from airflow_provider_batch.clients.apolo.errors import ApoloBadRequestError, ApoloNotFoundError
from airflow_provider_batch.clients.apolo.interactive import Message, StdStream
from airflow_provider_batch.clients.apolo.types import ApoloJobStatus, JobDescription

pytestmark = pytest.mark.wire

ECHO_SERVER = (
    "import socket,sys\n"
    "s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
    "s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen(4)\n"
    "while True:\n"
    "    c,_=s.accept(); d=c.recv(1024); c.sendall(d.upper()); c.close()\n"
)


@pytest.fixture
async def apolo(apolo_emulator: ApoloEmulatorEndpoint) -> AsyncIterator[ApoloClient]:
    async with ApoloClient(ApoloConfig.from_passed_config(apolo_emulator.passed_config)) as client:
        yield client


async def running(apolo: ApoloClient, command: str) -> JobDescription:
    job = await apolo.start(image="ubuntu:22.04", preset_name="cpu-small", command=command)
    deadline = asyncio.get_running_loop().time() + 20
    while (job := await apolo.status(job.id)).status is not ApoloJobStatus.RUNNING:
        assert not job.status.is_finished, job.history
        assert asyncio.get_running_loop().time() < deadline, "the job never ran"
        await asyncio.sleep(0.02)
    return job


async def drain(stream: StdStream) -> list[Message]:
    messages = []
    while (message := await asyncio.wait_for(stream.read_out(), 20)) is not None:
        messages.append(message)
    return messages


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_exec_channels_and_exit_code(apolo: ApoloClient) -> None:
    job = await running(apolo, "sh -c 'echo ready > state; sleep 30'")
    try:
        command = "sh -c 'until [ -e state ]; do sleep 0.05; done; cat state; echo oops >&2; exit 7'"
        async with apolo.exec(job.id, command) as stream:
            messages = await drain(stream)
        assert b"".join(m.data for m in messages if m.fileno == 1) == b"ready\n"
        assert b"".join(m.data for m in messages if m.fileno == 2) == b"oops\n"
        assert stream.exit_code == 7 and stream.closed
        assert await stream.read_out() is None  # an ended stream stays ended

        async with apolo.exec(job.id, "head -c 5", stdin=True) as stream:
            await stream.write_in(b"abcdefgh")
            messages = await drain(stream)
        assert (b"".join(m.data for m in messages), stream.exit_code) == (b"abcde", 0)
    finally:
        await apolo.kill(job.id)


async def test_attach_follows_the_job_to_its_end(apolo: ApoloClient) -> None:
    job = await running(apolo, "sh -c 'until [ -e go ]; do sleep 0.05; done; echo out; echo err >&2; exit 2'")
    async with apolo.attach(job.id, stderr=False) as stream:
        async with apolo.exec(job.id, "touch go") as release:  # attached now: let the job go on
            await drain(release)
        assert release.exit_code == 0
        messages = await drain(stream)
    assert messages == [Message(1, b"out\n")]  # stderr not asked for
    assert stream.exit_code == 2


async def test_refusals_are_typed_errors(apolo: ApoloClient) -> None:
    job = await running(apolo, "sleep 30")
    try:
        with pytest.raises(ApoloBadRequestError, match="multiplexed in tty mode"):
            async with apolo.exec(job.id, "true", tty=True):
                pass
        with pytest.raises(ApoloBadRequestError, match="Command is required"):
            async with apolo.exec(job.id, ""):
                pass
    finally:
        await apolo.kill(job.id)
    with pytest.raises(ApoloNotFoundError, match="not running"):
        async with apolo.attach(job.id):
            pass


async def test_port_forward_on_a_free_local_port(apolo: ApoloClient) -> None:
    job_port = free_port()
    job = await running(apolo, f'{sys.executable} -c "{ECHO_SERVER}" {job_port}')
    try:
        async with apolo.port_forward(job.id, 0, job_port) as local_port:
            assert local_port > 0
            deadline = asyncio.get_running_loop().time() + 10
            while True:
                reader, writer = await asyncio.open_connection("localhost", local_port)
                writer.write(b"hello")
                await writer.drain()
                answer = await asyncio.wait_for(reader.read(), 10)
                writer.close()
                if answer or asyncio.get_running_loop().time() > deadline:
                    break
                await asyncio.sleep(0.1)
        assert answer == b"HELLO"
    finally:
        await apolo.kill(job.id)


async def test_send_signal_kills_the_container(apolo: ApoloClient) -> None:
    job = await running(apolo, "sleep 30")
    await apolo.send_signal(job.id)
    deadline = asyncio.get_running_loop().time() + 20
    while not (job := await apolo.status(job.id)).status.is_finished:
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.02)
    assert (job.status, job.history.exit_code) == (ApoloJobStatus.FAILED, 137)
    with pytest.raises(ApoloNotFoundError, match="not running"):
        await apolo.send_signal(job.id)  # nothing left to signal


async def test_top_samples_while_running(apolo: ApoloClient) -> None:
    job = await running(apolo, "sleep 30")
    try:
        samples = []
        async for sample in apolo.top(job.id):
            samples.append(sample)
            if len(samples) == 2:
                break
        assert all(sample.cpu >= 0 and sample.memory_bytes > 0 for sample in samples)
        assert samples[1].timestamp >= samples[0].timestamp
    finally:
        await apolo.kill(job.id)
