"""The real `apolo-sdk`'s interactive calls against the Apolo emulator: `jobs.exec` (a command beside the job's
process, in its folder, with its environment; stdin, stdout, stderr and the exit code on their channels),
`jobs.attach` (the job's output from the moment of attaching, and its exit code) and `jobs.port_forward` (TCP relayed
to a port the job listens on). If the SDK's StdStream and port forwarder work against the emulator, the emulator
speaks the platform's channel framing."""

from __future__ import annotations

import asyncio
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import apolo_sdk
import pytest
from apolo_sdk import JobDescription, JobStatus, StdStream, StdStreamError
from conftest import ApoloEmulatorEndpoint

pytestmark = pytest.mark.wire

ECHO_SERVER = (
    "import socket,sys\n"
    "s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
    "s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen(4)\n"
    "while True:\n"
    "    c,_=s.accept(); d=c.recv(1024); c.sendall(b'echo:'+d); c.close()\n"
)


@pytest.fixture
async def client(
    apolo_emulator: ApoloEmulatorEndpoint, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[apolo_sdk.Client]:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    factory = apolo_sdk.Factory(tmp_path / "apolo")
    await factory.login_with_passed_config(apolo_emulator.passed_config)
    sdk_client = await factory.get()
    try:
        yield sdk_client
    finally:
        await sdk_client.close()


async def running(client: apolo_sdk.Client, command: str, **kwargs: object) -> JobDescription:
    image = client.parse.remote_image("ubuntu:22.04")
    job = await client.jobs.start(image=image, preset_name="cpu-small", command=command, **kwargs)  # type: ignore[arg-type]
    deadline = asyncio.get_running_loop().time() + 20
    while (job := await client.jobs.status(job.id)).status is not JobStatus.RUNNING:
        assert job.status in (JobStatus.PENDING, JobStatus.RUNNING), job.history
        assert asyncio.get_running_loop().time() < deadline, "the job never ran"
        await asyncio.sleep(0.02)
    return job


async def drain(stream: StdStream) -> tuple[bytes, bytes, int | None]:
    """stdout, stderr and the exit code (None: the stream closed without one)."""
    out, err = bytearray(), bytearray()
    try:
        while (message := await asyncio.wait_for(stream.read_out(), 20)) is not None:
            (out if message.fileno == 1 else err).extend(message.data)
    except StdStreamError as end:
        return bytes(out), bytes(err), end.exit_code
    return bytes(out), bytes(err), None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_exec_runs_beside_the_job_in_its_folder_with_its_environment(client: apolo_sdk.Client) -> None:
    job = await running(client, "sh -c 'echo hello > note; sleep 30'", env={"GREETING": "hi there"})
    try:
        # once the job has written its note (in the job's folder, where exec runs)
        command = "sh -c 'until [ -e note ]; do sleep 0.05; done; cat note; echo \"$GREETING\" >&2; exit 3'"
        async with client.jobs.exec(job.id, command, stdout=True, stderr=True) as stream:
            out, err, code = await drain(stream)
        assert (out, err, code) == (b"hello\n", b"hi there\n", 3)
        assert (await client.jobs.status(job.id)).status is JobStatus.RUNNING  # the job itself goes on
    finally:
        await client.jobs.kill(job.id)


async def test_exec_reads_stdin_and_reports_exit_code_zero(client: apolo_sdk.Client) -> None:
    job = await running(client, "sleep 30")
    try:
        async with client.jobs.exec(job.id, "head -n 1", stdin=True, stdout=True, stderr=True) as stream:
            await stream.resize(24, 80)  # accepted; nothing to resize
            await stream.write_in(b"first line\nsecond line\n")
            out, err, code = await drain(stream)
        assert (out, err, code) == (b"first line\n", b"", 0)
    finally:
        await client.jobs.kill(job.id)


async def test_exec_tty_merges_stderr_into_stdout(client: apolo_sdk.Client) -> None:
    job = await running(client, "sleep 30")
    try:
        async with client.jobs.exec(job.id, "sh -c 'echo a; echo b >&2'", tty=True, stdout=True) as stream:
            out, err, code = await drain(stream)
        assert (sorted(out.split()), err, code) == ([b"a", b"b"], b"", 0)
    finally:
        await client.jobs.kill(job.id)


async def test_attach_streams_output_from_now_and_the_exit_code(client: apolo_sdk.Client) -> None:
    job = await running(
        client, "sh -c 'echo before; until [ -e go ]; do sleep 0.05; done; echo one; echo two >&2; exit 4'"
    )
    async with client.jobs.attach(job.id, stdout=True, stderr=True) as stream:
        async with client.jobs.exec(job.id, "touch go", stdout=True) as release:  # now attached: let the job go on
            assert (await drain(release))[2] == 0
        out, err, code = await drain(stream)
    assert (out, err, code) == (b"one\n", b"two\n", 4)


async def test_attach_and_exec_refusals(client: apolo_sdk.Client) -> None:
    job = await running(client, "sleep 30")
    try:
        with pytest.raises(apolo_sdk.IllegalArgumentError, match="stdin"):
            async with client.jobs.attach(job.id, stdin=True, stdout=True):
                pass
        with pytest.raises(apolo_sdk.IllegalArgumentError, match="at least one of stdin, stdout or stderr"):
            async with client.jobs.exec(job.id, "true"):  # the SDK's defaults ask for no stream at all
                pass
        with pytest.raises(apolo_sdk.IllegalArgumentError, match="multiplexed in tty mode"):
            async with client.jobs.exec(job.id, "true", tty=True, stdout=True, stderr=True):
                pass
    finally:
        await client.jobs.kill(job.id)
    with pytest.raises(apolo_sdk.ResourceNotFound, match="not running"):
        async with client.jobs.exec(job.id, "true", stdout=True):
            pass


async def test_port_forward_relays_tcp_to_the_job(client: apolo_sdk.Client) -> None:
    job_port, local_port = free_port(), free_port()
    job = await running(client, f'{sys.executable} -c "{ECHO_SERVER}" {job_port}')
    try:
        async with client.jobs.port_forward(job.id, local_port, job_port):
            deadline = asyncio.get_running_loop().time() + 10
            while True:  # the job's server may still be starting: a refused relay closes the local connection
                reader, writer = await asyncio.open_connection("localhost", local_port)
                writer.write(b"ping")
                await writer.drain()
                answer = await asyncio.wait_for(reader.read(), 10)
                writer.close()
                if answer or asyncio.get_running_loop().time() > deadline:
                    break
                await asyncio.sleep(0.1)
        assert answer == b"echo:ping"
    finally:
        await client.jobs.kill(job.id)
