"""platform-monitoring's interactive job routes: `attach`, `exec` and `port_forward/{port}`, over WebSocket.

The framing is the platform's (`v2.channels.neu.ro`, the Kubernetes channel protocol that platform-container-runtime
relays): every binary frame starts with one channel byte, 0 stdin (client to server), 1 stdout, 2 stderr, 3 the end
(`{"exit_code": N}` as JSON, then the server closes), 4 a terminal resize (`{"height": h, "width": w}`, client to
server). port_forward frames carry raw TCP bytes, no channel byte.

What the emulator does with them:
- attach: the job's output from now on (its stdout lines on 1, stderr on 2) until its process ends, then the run's
  exit code on 3. The emulator's processes read no input, so `stdin=1` is refused (400), as a container started
  without stdin is; a resize is accepted and has nothing to resize.
- exec: `cmd` split like a shell (as the platform's CRI client does) and run beside the job's process, in the job's
  folder with the job's environment; stdin (with `stdin=1`) is its input, its output goes to 1 and 2 (both to 1 with
  `tty=1`), its exit code to 3. Closing the socket kills it.
- port_forward: a TCP connection to 127.0.0.1:<port>, where the job's process listens, made before the handshake
  (a refused connection is a 400 with `X-Error`), then bytes both ways until either side closes.

Each needs a running job: otherwise 404 "Job <id> is not running", as platform-monitoring's JobNotRunningException.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shlex
from collections.abc import Awaitable, Callable

from aiohttp import WSMsgType, web

from airflow_provider_batch.emulators.apolo.errors import ApiError, bad_request
from airflow_provider_batch.emulators.apolo.lifecycle import SIGKILL_EXIT
from airflow_provider_batch.emulators.apolo.records import JobRecord, Status
from airflow_provider_batch.emulators.apolo.state import ApoloState
from airflow_provider_batch.emulators.runner import INHERITED_ENV

log = logging.getLogger(__name__)

WS_ATTACH_PROTOCOL = "v2.channels.neu.ro"
HEARTBEAT_S = 30.0
STDIN, STDOUT, STDERR, EXIT, RESIZE = 0, 1, 2, 3, 4
_CHUNK = 64 * 1024


def exit_frame(code: int) -> bytes:
    """The last frame of an attach or exec: channel 3 and `{"exit_code": N}`."""
    return bytes([EXIT]) + json.dumps({"exit_code": code}).encode()


def flag(request: web.Request, name: str, default: bool) -> bool:
    """platform-monitoring's bool parameter: "1"/"true" or "0"/"false", else 400."""
    value = request.query.get(name)
    if value is None:
        return default
    if value.lower() in ("1", "true"):
        return True
    if value.lower() in ("0", "false"):
        return False
    raise bad_request(f'"{name}" request parameter can be "true"/"1" or "false"/"0"')


class StreamFlags:
    """tty, stdin, stdout, stderr of an attach or exec, checked as platform-monitoring checks them."""

    def __init__(self, request: web.Request) -> None:
        self.tty = flag(request, "tty", False)
        self.stdin = flag(request, "stdin", False)
        self.stdout = flag(request, "stdout", True)
        self.stderr = flag(request, "stderr", True)
        if not (self.stdin or self.stdout or self.stderr):
            raise bad_request("Required at least one of stdin, stdout or stderr")
        if self.tty and self.stdout and self.stderr:
            raise bad_request("Stdout and stderr cannot be multiplexed in tty mode")


class Interactive:
    """The attach, exec and port_forward handlers of one emulator."""

    def __init__(self, state: ApoloState) -> None:
        self.state = state
        self._open: set[web.WebSocketResponse] = set()

    def _running(self, request: web.Request) -> JobRecord:
        job = self.state.resolve(request.match_info["job_id"])
        if job.status is not Status.RUNNING or job.workdir is None:
            raise ApiError(404, {"error": f"Job {job.id} is not running"})
        return job

    async def _serve(
        self,
        request: web.Request,
        body: Callable[[web.WebSocketResponse], Awaitable[None]],
        *,
        protocols: tuple[str, ...] = (),
    ) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(protocols=protocols, heartbeat=HEARTBEAT_S)
        await ws.prepare(request)
        self._open.add(ws)
        try:
            await body(ws)
        except ConnectionError:
            pass
        finally:
            self._open.discard(ws)
            await ws.close()
        return ws

    async def close_all(self) -> None:
        """Shutdown: close every interactive stream (1001, going away)."""
        await asyncio.gather(
            *(ws.close(code=1001, message=b"emulator stopping") for ws in list(self._open)), return_exceptions=True
        )

    # -- attach -------------------------------------------------------------------------------------------------

    async def attach(self, request: web.Request) -> web.StreamResponse:
        flags = StreamFlags(request)
        job = self._running(request)
        if flags.stdin:
            raise bad_request(f"Cannot attach stdin to job {job.id}: its container was not started with stdin open")

        async def body(ws: web.WebSocketResponse) -> None:
            await _until_first(_follow_output(ws, job, flags), _ignore_input(ws))

        return await self._serve(request, body, protocols=(WS_ATTACH_PROTOCOL,))

    # -- exec ---------------------------------------------------------------------------------------------------

    async def exec(self, request: web.Request) -> web.StreamResponse:
        flags = StreamFlags(request)
        cmd = request.query.get("cmd")
        if not cmd:
            raise bad_request("Command is required")
        argv = shlex.split(cmd)
        job = self._running(request)
        env = self.state.lifecycle.environment(job)
        if isinstance(env, str) or job.workdir is None:
            raise ApiError(404, {"error": f"Job {job.id} is not running"})
        full_env = {name: os.environ[name] for name in INHERITED_ENV if name in os.environ}
        full_env.update(HOME=job.workdir, TMPDIR=job.workdir, **env)
        try:
            process = await asyncio.create_subprocess_exec(
                *argv,
                cwd=job.workdir,
                env=full_env,
                stdin=asyncio.subprocess.PIPE if flags.stdin else asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT if flags.tty else asyncio.subprocess.PIPE,
                start_new_session=True,
            )
        except OSError as err:
            raise bad_request(f"Cannot exec {argv[0]!r} in job {job.id}: {err}") from None

        async def body(ws: web.WebSocketResponse) -> None:
            try:
                await _until_first(_exec_output(ws, process, flags), _exec_input(ws, process))
            finally:
                await _kill(process)

        return await self._serve(request, body, protocols=(WS_ATTACH_PROTOCOL,))

    # -- port_forward -------------------------------------------------------------------------------------------

    async def port_forward(self, request: web.Request) -> web.StreamResponse:
        text = request.match_info["port"]
        try:
            port = int(text)
        except ValueError:
            raise ApiError(400, {"msg": f"Invalid port number {text!r}"}) from None
        self._running(request)
        try:  # before the handshake, so that a refused connection is a 400
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError as err:
            raise ApiError(400, {"msg": f"Cannot connect to port {port}", "error": repr(err)}) from None

        async def body(ws: web.WebSocketResponse) -> None:
            try:
                await _until_first(_tcp_to_ws(ws, reader), _ws_to_tcp(ws, writer))
            finally:
                writer.close()
                with contextlib.suppress(ConnectionError):
                    await writer.wait_closed()

        return await self._serve(request, body)


async def _until_first(*steps: Awaitable[None]) -> None:
    """Run the steps together until one ends (or fails); cancel the others."""
    tasks = [asyncio.ensure_future(step) for step in steps]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            error = task.exception()
            if error is not None and not isinstance(error, ConnectionError):
                raise error
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _ignore_input(ws: web.WebSocketResponse) -> None:
    """Read what the client sends (resizes, pings, its close) and drop it; ends when the client closes."""
    async for _ in ws:
        pass


async def _follow_output(ws: web.WebSocketResponse, job: JobRecord, flags: StreamFlags) -> None:
    """The job's lines from now on, until its run ends; then the run's exit code."""
    sent = len(job.logs)
    while True:
        changed, running = job.output_changed, job.status is Status.RUNNING
        while sent < len(job.logs):
            line = job.logs[sent]
            sent += 1
            wanted = flags.stdout if line.stream == "stdout" or flags.tty else flags.stderr
            if wanted:
                channel = STDOUT if line.stream == "stdout" or flags.tty else STDERR
                await ws.send_bytes(bytes([channel]) + line.text.encode() + b"\n")
        if not running:
            break
        await changed.wait()
    code = job.current.exit_code
    if code is None:  # cancelled, suspended or signalled: the container was killed
        code = SIGKILL_EXIT if job.status in (Status.CANCELLED, Status.SUSPENDED) else 0
    await ws.send_bytes(exit_frame(code))


async def _exec_output(ws: web.WebSocketResponse, process: asyncio.subprocess.Process, flags: StreamFlags) -> None:
    async def pump(stream: asyncio.StreamReader | None, channel: int, wanted: bool) -> None:
        if stream is None:
            return
        while chunk := await stream.read(_CHUNK):
            if wanted:
                await ws.send_bytes(bytes([channel]) + chunk)

    await asyncio.gather(pump(process.stdout, STDOUT, flags.stdout), pump(process.stderr, STDERR, flags.stderr))
    code = await process.wait()
    await ws.send_bytes(exit_frame(128 - code if code < 0 else code))


async def _exec_input(ws: web.WebSocketResponse, process: asyncio.subprocess.Process) -> None:
    """Channel 0 to the command's stdin; resizes (4) have no terminal to resize; ends when the client closes."""
    async for message in ws:
        if message.type is not WSMsgType.BINARY or not message.data:
            continue
        if message.data[0] == STDIN and process.stdin is not None:
            process.stdin.write(message.data[1:])
            with contextlib.suppress(ConnectionError):
                await process.stdin.drain()


async def _kill(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, 9)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(process.wait(), 5.0)


async def _tcp_to_ws(ws: web.WebSocketResponse, reader: asyncio.StreamReader) -> None:
    while not ws.closed:
        data = await reader.read(_CHUNK)
        if not data:
            break
        await ws.send_bytes(data)


async def _ws_to_tcp(ws: web.WebSocketResponse, writer: asyncio.StreamWriter) -> None:
    async for message in ws:
        if message.type is WSMsgType.BINARY:
            writer.write(message.data)
            await writer.drain()
