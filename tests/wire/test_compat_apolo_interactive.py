"""`compat.apolo_sdk`'s interactive calls, written as the SDK's documentation gives them, against the Apolo emulator:
`jobs.exec` and `jobs.attach` yield a StdStream whose end is `StdStreamError(exit_code)`, `jobs.port_forward` relays a
local port; and the job fields the SDK has (internal hostnames, preemptible_node)."""

from __future__ import annotations

import asyncio
import socket
import sys
from collections.abc import AsyncIterator

import pytest
from conftest import ApoloEmulatorEndpoint

from airflow_provider_batch.compat import apolo_sdk
from airflow_provider_batch.compat.apolo_sdk import JobDescription, JobStatus, Message, StdStream, StdStreamError

pytestmark = pytest.mark.wire

LISTENER = (
    "import socket,sys\n"
    "s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
    "s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen(4)\n"
    "while True:\n"
    "    c,_=s.accept(); c.sendall(b'served by the job'); c.close()\n"
)


@pytest.fixture
async def client(apolo_emulator: ApoloEmulatorEndpoint) -> AsyncIterator[apolo_sdk.Client]:
    async with apolo_sdk.get(url=apolo_emulator.url, token=apolo_emulator.token) as made:
        yield made


async def running(client: apolo_sdk.Client, command: str, **kwargs: object) -> JobDescription:
    image = client.parse.remote_image("ubuntu:22.04")
    job = await client.jobs.start(image=image, preset_name="cpu-small", command=command, **kwargs)
    deadline = asyncio.get_running_loop().time() + 20
    while (job := await client.jobs.status(job.id)).status is not JobStatus.RUNNING:
        assert asyncio.get_running_loop().time() < deadline, "the job never ran"
        await asyncio.sleep(0.02)
    return job


async def read_all(stream: StdStream) -> tuple[list[Message], int | None]:
    messages: list[Message] = []
    try:
        while (message := await asyncio.wait_for(stream.read_out(), 20)) is not None:
            messages.append(message)
    except StdStreamError as end:
        assert await stream.read_out() is None  # raised once; the stream is over
        return messages, end.exit_code
    return messages, None


async def test_exec_as_documented(client: apolo_sdk.Client) -> None:
    job = await running(client, "sleep 30", name="interactive-exec")
    try:
        assert job.internal_hostname == f"{job.id}.platform-jobs"
        assert job.internal_hostname_named is not None and job.internal_hostname_named.startswith("interactive-exec--")
        assert job.preemptible_node is False and job.ssh_server == ""
        async with client.jobs.exec(job.id, "sh -c 'read x; echo got $x; exit 5'", stdin=True, stdout=True) as stream:
            await stream.write_in(b"42\n")
            messages, code = await read_all(stream)
        assert (messages, code) == ([Message(1, b"got 42\n")], 5)
        async with client.jobs.exec(job.id, "true", stdout=True) as stream:
            assert await read_all(stream) == ([], 0)  # exit code 0 is raised too, as the SDK does
    finally:
        await client.jobs.kill(job.id)


async def test_attach_as_documented(client: apolo_sdk.Client) -> None:
    job = await running(client, "sh -c 'until [ -e go ]; do sleep 0.05; done; echo to-err >&2; exit 0'")
    async with client.jobs.attach(job.id, stdout=True, stderr=True) as stream:
        async with client.jobs.exec(job.id, "touch go", stdout=True) as release:  # attached now: let the job go on
            assert await read_all(release) == ([], 0)
        assert await read_all(stream) == ([Message(2, b"to-err\n")], 0)


async def test_port_forward_as_documented(client: apolo_sdk.Client) -> None:
    ports = []
    for _ in range(2):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            ports.append(int(sock.getsockname()[1]))
    job_port, local_port = ports
    job = await running(client, f'{sys.executable} -c "{LISTENER}" {job_port}')
    try:
        async with client.jobs.port_forward(job.id, local_port, job_port, no_key_check=True):
            deadline = asyncio.get_running_loop().time() + 10
            while True:
                reader, writer = await asyncio.open_connection("localhost", local_port)
                answer = await asyncio.wait_for(reader.read(), 10)
                writer.close()
                if answer or asyncio.get_running_loop().time() > deadline:
                    break
                await asyncio.sleep(0.1)
        assert answer == b"served by the job"
    finally:
        await client.jobs.kill(job.id)
