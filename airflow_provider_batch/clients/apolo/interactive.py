"""Apolo's interactive calls on a running job, over platform-monitoring's WebSocket routes (asyncio only):

- `attach(apolo, id)`: the job's output from now on, and its exit code when its process ends;
- `exec(apolo, id, "cmd args")`: run a command beside the job's process (in its container), with stdin if asked;
- `port_forward(apolo, id, local_port, job_port)`: a local TCP port relayed to a port the job listens on.

    async with ApoloClient(config) as apolo:
        async with exec(apolo, job_id, "python -c 'print(42)'") as stream:
            while (message := await stream.read_out()) is not None:
                print(message.fileno, message.data)
        print(stream.exit_code)

attach and exec speak the platform's channel framing (subprotocol `v2.channels.neu.ro`): each binary frame starts
with a channel byte, 0 stdin (sent), 1 stdout, 2 stderr, 3 the end (`{"exit_code": N}`), 4 a terminal resize
(`{"height": h, "width": w}`, sent). port_forward frames are raw TCP bytes. Refusals are the client's typed errors
(a job that is not running: `ApoloNotFoundError`; bad flags: `ApoloBadRequestError`). Not retried: an interactive
session cannot be replayed. No Airflow import here.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import aiohttp

from airflow_provider_batch.clients.apolo.errors import error_for, network_error

if TYPE_CHECKING:
    from airflow_provider_batch.clients.apolo.client import ApoloClient

log = logging.getLogger(__name__)

WS_ATTACH_PROTOCOL = "v2.channels.neu.ro"
WS_HEARTBEAT = 30.0
STDIN, STDOUT, STDERR, EXIT, RESIZE = 0, 1, 2, 3, 4
_CHUNK = 4 * 1024 * 1024


@dataclass(frozen=True)
class Message:
    """One chunk of output: `fileno` 1 (stdout) or 2 (stderr), and its bytes."""

    fileno: int
    data: bytes


class StdStream:
    """The standard streams of an attach or exec. `read_out()` gives the next `Message`, or None once the stream has
    ended: then `exit_code` holds the process's exit code (None if the server closed without one)."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._ws = ws
        self._closing = False
        self.exit_code: int | None = None

    @property
    def closed(self) -> bool:
        return self._closing

    async def read_out(self) -> Message | None:
        if self._closing:
            return None
        message = await self._ws.receive()
        if message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED):
            self._closing = True
            return None
        if message.type == aiohttp.WSMsgType.ERROR:
            self._closing = True
            raise network_error("WS exec/attach", self._ws.exception() or ConnectionError("WebSocket error"))
        if message.type != aiohttp.WSMsgType.BINARY or not message.data:
            raise ValueError(f"unexpected WebSocket message: {message.type.name}")
        data: bytes = message.data
        if data[0] == EXIT:
            self._closing = True
            self.exit_code = _exit_code(data[1:])
            return None
        return Message(data[0], data[1:])

    async def write_in(self, data: bytes) -> None:
        """Send bytes to the process's stdin (asked for with `stdin=True`); nothing once the stream has ended."""
        if not self._closing:
            await self._ws.send_bytes(bytes([STDIN]) + data)

    async def resize(self, h: int, w: int) -> None:
        """Tell the terminal (with `tty=True`) its new height and width."""
        if not self._closing:
            await self._ws.send_bytes(bytes([RESIZE]) + json.dumps({"height": h, "width": w}).encode())

    async def close(self) -> None:
        self._closing = True
        await self._ws.close()


def _exit_code(payload: bytes) -> int:
    """The end frame's `{"exit_code": N}`; 1 when it cannot be read, as the SDK does."""
    try:
        return int(json.loads(payload)["exit_code"])
    except (ValueError, KeyError, TypeError):
        return 1


def _flags(**flags: bool) -> list[tuple[str, str]]:
    return [(name, str(int(value))) for name, value in flags.items()]


@contextlib.asynccontextmanager
async def open_ws(
    apolo: ApoloClient,
    path: str,
    query: Sequence[tuple[str, str]] = (),
    *,
    cluster_name: str | None = None,
    protocols: Sequence[str] = (),
) -> AsyncIterator[aiohttp.ClientWebSocketResponse]:
    """A WebSocket to `{monitoring_url}/{path}` with the client's token; a refused handshake is a typed error."""
    call = f"WS {path.split('/')[1] if '/' in path else path}"
    url = f"{await apolo.monitoring_url(cluster_name)}/{path}"
    session = await apolo.session()
    try:
        ws = await session.ws_connect(
            url,
            params=list(query),
            headers=apolo.headers(),
            protocols=tuple(protocols),
            heartbeat=WS_HEARTBEAT,
            timeout=aiohttp.ClientWSTimeout(ws_close=apolo.config.timeout),
        )
    except aiohttp.WSServerHandshakeError as error:
        headers: Any = error.headers or {}
        text = str(headers.get("X-Error", "") if hasattr(headers, "get") else "") or error.message
        raise error_for(call, error.status, text, error.message) from None
    except (aiohttp.ClientConnectionError, asyncio.TimeoutError, ConnectionError) as error:
        raise network_error(call, error) from None
    try:
        yield ws
    finally:
        await ws.close()


def _job(id: str) -> str:
    if not id or not str(id).strip():
        raise ValueError("an empty job id was given")
    return quote(str(id), safe="")


@contextlib.asynccontextmanager
async def attach(
    apolo: ApoloClient,
    id: str,
    *,
    tty: bool = False,
    stdin: bool = False,
    stdout: bool = True,
    stderr: bool = True,
    cluster_name: str | None = None,
) -> AsyncIterator[StdStream]:
    """The running job's output from now on (stdout and stderr by default) until its process ends."""
    query = _flags(tty=tty, stdin=stdin, stdout=stdout, stderr=stderr)
    async with open_ws(
        apolo, f"{_job(id)}/attach", query, cluster_name=cluster_name, protocols=(WS_ATTACH_PROTOCOL,)
    ) as ws:
        yield StdStream(ws)


@contextlib.asynccontextmanager
async def exec(
    apolo: ApoloClient,
    id: str,
    cmd: str,
    *,
    tty: bool = False,
    stdin: bool = False,
    stdout: bool = True,
    stderr: bool = True,
    cluster_name: str | None = None,
) -> AsyncIterator[StdStream]:
    """Run `cmd` (split like a shell would) in the running job's container; its exit code ends the stream."""
    query = [("cmd", cmd), *_flags(tty=tty, stdin=stdin, stdout=stdout, stderr=stderr)]
    async with open_ws(
        apolo, f"{_job(id)}/exec", query, cluster_name=cluster_name, protocols=(WS_ATTACH_PROTOCOL,)
    ) as ws:
        yield StdStream(ws)


@contextlib.asynccontextmanager
async def port_forward(
    apolo: ApoloClient,
    id: str,
    local_port: int,
    job_port: int,
    *,
    host: str = "localhost",
    cluster_name: str | None = None,
) -> AsyncIterator[int]:
    """Listen on `host:local_port` (0: a free port) while the block runs; each connection gets its own WebSocket to
    the job's `job_port`. Yields the local port. A relay that fails closes its local connection (and is logged)."""
    handler = partial(_relay, apolo, f"{_job(id)}/port_forward/{int(job_port)}", cluster_name)
    server = await asyncio.start_server(handler, host, local_port)
    try:
        yield int(server.sockets[0].getsockname()[1])
    finally:
        server.close()
        await server.wait_closed()


async def _relay(
    apolo: ApoloClient,
    path: str,
    cluster_name: str | None,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
) -> None:
    try:
        async with open_ws(apolo, path, cluster_name=cluster_name) as ws:
            tasks = [asyncio.ensure_future(_ws_to_tcp(ws, writer)), asyncio.ensure_future(_tcp_to_ws(ws, reader))]
            try:
                await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
    except asyncio.CancelledError:
        raise
    except Exception as error:
        log.warning("port forward to %s failed: %s", path, error)
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def _ws_to_tcp(ws: aiohttp.ClientWebSocketResponse, writer: asyncio.StreamWriter) -> None:
    async for message in ws:
        if message.type == aiohttp.WSMsgType.BINARY:
            writer.write(message.data)
            await writer.drain()
        elif message.type == aiohttp.WSMsgType.ERROR:
            break


async def _tcp_to_ws(ws: aiohttp.ClientWebSocketResponse, reader: asyncio.StreamReader) -> None:
    while data := await reader.read(_CHUNK):
        await ws.send_bytes(data)
