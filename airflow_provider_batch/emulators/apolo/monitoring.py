"""platform-monitoring's job routes: the log WebSocket (`log_ws`) and the chunked log (`log`), telemetry (`top`),
`kill` (send a signal) and `capacity`."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from aiohttp import WSCloseCode, web

from airflow_provider_batch.emulators.apolo.errors import ApiError
from airflow_provider_batch.emulators.apolo.logs import LogOptions, log_chunks
from airflow_provider_batch.emulators.apolo.records import JobRecord, Status
from airflow_provider_batch.emulators.apolo.state import ApoloState
from airflow_provider_batch.emulators.faults import FaultPlan
from airflow_provider_batch.emulators.rest import route_of

log = logging.getLogger(__name__)

HEARTBEAT_S = 30.0
FAULT_CLOSE_MESSAGE = b"fault injected by the emulator"


async def _drain(ws: web.WebSocketResponse) -> None:
    """Read (and drop) what the client sends, so that pings and its close are handled."""
    async for _ in ws:
        pass


class FrameBudget:
    """Sends chunks as binary frames; with an injected fault, breaks the stream (close code 1011) right after the
    `break_after`-th frame."""

    def __init__(self, ws: web.WebSocketResponse, break_after: int | None) -> None:
        self.ws = ws
        self.break_after = break_after
        self.sent = 0

    async def send(self, chunk: bytes) -> bool:
        """False once the stream is broken (the caller stops)."""
        await self.ws.send_bytes(chunk)
        self.sent += 1
        if self.break_after is not None and self.sent >= self.break_after:
            await self.ws.close(code=WSCloseCode.INTERNAL_ERROR, message=FAULT_CLOSE_MESSAGE)
            return False
        return True


class Monitoring:
    def __init__(self, state: ApoloState, faults: FaultPlan, top_interval_s: float) -> None:
        self.state = state
        self.faults = faults
        self.top_interval_s = top_interval_s
        self._open_sockets: set[web.WebSocketResponse] = set()

    async def _open(
        self, request: web.Request, body: Callable[[web.WebSocketResponse], Awaitable[None]]
    ) -> web.StreamResponse:
        """Upgrade, run `body` beside a reader of what the client sends, close when either ends."""
        ws = web.WebSocketResponse(heartbeat=HEARTBEAT_S)
        await ws.prepare(request)
        reader = asyncio.ensure_future(_drain(ws))
        sender = asyncio.ensure_future(body(ws))
        self._open_sockets.add(ws)
        try:
            await asyncio.wait({reader, sender}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._open_sockets.discard(ws)
            for task in (reader, sender):
                task.cancel()
            for outcome in await asyncio.gather(reader, sender, return_exceptions=True):
                if isinstance(outcome, Exception) and not isinstance(outcome, ConnectionError):
                    log.error("apolo emulator: %s failed", request.path, exc_info=outcome)
            await ws.close()
        return ws

    async def close_all(self) -> None:
        """Shutdown: close every open log and top stream (1001, going away) instead of waiting for their jobs."""
        await asyncio.gather(
            *(ws.close(code=WSCloseCode.GOING_AWAY, message=b"emulator stopping") for ws in list(self._open_sockets)),
            return_exceptions=True,
        )

    def _fault_after(self, request: web.Request) -> int | None:
        fault = self.faults.stream(route_of(request))
        if fault is None:
            return None
        if fault.after_messages == 0:
            raise ApiError(503, {"error": "Service Unavailable (fault injected by the emulator)"})
        return fault.after_messages

    # -- logs -------------------------------------------------------------------------------------------------

    async def log_ws(self, request: web.Request) -> web.StreamResponse:
        """The log as binary frames (see `logs.log_chunks`); closes once the job is over and all was sent."""
        options = LogOptions.from_request(request)
        job = self.state.resolve(request.match_info["job_id"])
        break_after = self._fault_after(request)

        async def send(ws: web.WebSocketResponse) -> None:
            frames = FrameBudget(ws, break_after)
            async for chunk in log_chunks(job, options):
                if not await frames.send(chunk):
                    return

        return await self._open(request, send)

    async def log(self, request: web.Request) -> web.StreamResponse:
        """The same log as chunked `text/plain` with the separator in `X-Separator` (SDK 26.9 does not use it).
        An injected fault cuts the connection part-way: the client sees an incomplete payload."""
        options = LogOptions.from_request(request)
        job = self.state.resolve(request.match_info["job_id"])
        break_after = self._fault_after(request)
        response = web.StreamResponse(status=200)
        response.enable_chunked_encoding()
        response.content_type = "text/plain"
        response.charset = "utf-8"
        response.headers["X-Separator"] = options.separator.decode()
        await response.prepare(request)
        written = 0
        async for chunk in log_chunks(job, options):
            await response.write(chunk)
            written += 1
            if break_after is not None and written >= break_after and request.transport is not None:
                request.transport.close()
                return response
        await response.write_eof()
        return response

    # -- top ----------------------------------------------------------------------------------------------------

    async def top(self, request: web.Request) -> web.StreamResponse:
        job = self.state.resolve(request.match_info["job_id"])
        break_after = self._fault_after(request)

        async def send(ws: web.WebSocketResponse) -> None:
            sent = 0
            while not job.finished:
                if job.status is Status.RUNNING:
                    if break_after is not None and sent >= break_after:
                        await ws.close(code=WSCloseCode.INTERNAL_ERROR, message=FAULT_CLOSE_MESSAGE)
                        return
                    await ws.send_json(self.telemetry(job))
                    sent += 1
                await asyncio.sleep(self.top_interval_s)

        return await self._open(request, send)

    @staticmethod
    def telemetry(job: JobRecord) -> dict[str, float | int]:
        """Synthetic figures (the emulator does not meter its processes): steady CPU, memory growing with output."""
        memory = 16 * 1024 * 1024 + 4096 * len(job.logs)
        return {"cpu": 0.1, "memory": memory // 2**20, "memory_bytes": memory, "timestamp": time.time()}

    # -- kill (send a signal) and capacity ----------------------------------------------------------------------

    async def send_signal(self, request: web.Request) -> web.Response:
        job = self.state.resolve(request.match_info["job_id"])
        if not self.state.lifecycle.send_signal(job):
            raise ApiError(404, {"error": f"Job {job.id} is not running"})
        return web.Response(status=204)

    async def capacity(self, request: web.Request) -> web.Response:
        lifecycle = self.state.lifecycle
        free = max(0, lifecycle.runner.max_running - lifecycle.holding)
        return web.json_response({preset.name: free for preset in self.state.site.presets})
