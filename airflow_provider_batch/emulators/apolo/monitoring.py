"""platform-monitoring's job routes: the log WebSocket (`log_ws`), telemetry (`top`), `kill` (send a signal) and
`capacity`. Binary frames carry raw log bytes; the stream ends when the job has finished and every line was sent."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from aiohttp import WSCloseCode, web

from airflow_provider_batch.emulators.apolo.errors import ApiError, bad_request
from airflow_provider_batch.emulators.apolo.records import JobRecord, Status
from airflow_provider_batch.emulators.apolo.state import ApoloState, parse_time
from airflow_provider_batch.emulators.faults import FaultPlan
from airflow_provider_batch.emulators.rest import route_of
from airflow_provider_batch.emulators.runner import OutputLine
from airflow_provider_batch.emulators.timefmt import format_ns

log = logging.getLogger(__name__)

HEARTBEAT_S = 30.0
MAX_FRAME = 64 * 1024
FAULT_CLOSE_MESSAGE = b"fault injected by the emulator"
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def bool_param(request: web.Request, name: str) -> bool:
    value = request.query.get(name)
    if value is None:
        return False
    if value.lower() in ("1", "true"):
        return True
    if value.lower() in ("0", "false"):
        return False
    raise bad_request(f'"{name}" request parameter can be "true"/"1" or "false"/"0"')


async def _drain(ws: web.WebSocketResponse) -> None:
    """Read (and drop) what the client sends, so that pings and its close are handled."""
    async for _ in ws:
        pass


def _frames(lines: list[bytes]) -> list[bytes]:
    frames: list[bytes] = []
    current = b""
    for line in lines:
        if current and len(current) + len(line) > MAX_FRAME:
            frames.append(current)
            current = b""
        current += line
    if current:
        frames.append(current)
    return frames


@dataclass(frozen=True)
class LogOptions:
    """The log_ws query: since (ISO time; earlier lines are skipped), timestamps, separator, debug."""

    since: datetime | None
    timestamps: bool
    separator: bytes
    debug: bool

    @classmethod
    def from_request(cls, request: web.Request) -> LogOptions:
        since = parse_time("since", request.query["since"]) if "since" in request.query else None
        separator = request.query.get("separator")
        if separator is None:
            separator = "=== Live logs ===" + secrets.token_hex(30)
        return cls(since, bool_param(request, "timestamps"), separator.encode(), bool_param(request, "debug"))

    def render(self, lines: list[OutputLine]) -> list[bytes]:
        since_ns = None if self.since is None else epoch_ns(self.since)
        rendered = []
        for line in lines:
            if since_ns is not None and line.timestamp_ns < since_ns:
                continue
            prefix = f"{format_ns(line.timestamp_ns)} " if self.timestamps else ""
            rendered.append(f"{prefix}{line.text}\n".encode())
        return rendered


def epoch_ns(moment: datetime) -> int:
    """Nanoseconds since the epoch, exactly (no float rounding); a naive time is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return (moment - EPOCH) // timedelta(microseconds=1) * 1000


class FrameBudget:
    """Sends lines as binary frames of up to 64 KiB; with an injected fault, breaks the stream (close code 1011)
    right after the `break_after`-th frame."""

    def __init__(self, ws: web.WebSocketResponse, break_after: int | None) -> None:
        self.ws = ws
        self.break_after = break_after
        self.sent = 0

    async def send(self, lines: list[bytes]) -> bool:
        """False once the stream is broken (the caller stops)."""
        for frame in _frames(lines):
            await self.ws.send_bytes(frame)
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

    # -- log_ws -------------------------------------------------------------------------------------------------

    async def log_ws(self, request: web.Request) -> web.StreamResponse:
        """Lines of earlier runs first (platform-monitoring's archive), then `separator` (a random one if not
        given) if there were any and the job still runs, then the current run's lines as they come."""
        options = LogOptions.from_request(request)
        job = self.state.resolve(request.match_info["job_id"])
        break_after = self._fault_after(request)

        async def send(ws: web.WebSocketResponse) -> None:
            frames = FrameBudget(ws, break_after)
            archive_end = len(job.logs) if job.finished else job.live_from
            archived = options.render(job.logs[:archive_end])
            if options.debug:
                archived.insert(0, f"~~~ Archive logs from {options.since} to {job.live_started} (started at "
                                   f"{job.live_started})\n".encode())  # fmt: skip
            if not await frames.send(archived) or job.finished:
                return
            sent = archive_end
            separator = options.separator if archive_end and job.logs[:archive_end] else None
            if options.debug:
                await frames.send([f"~~~ Live logs from {options.since} (started at {job.live_started})\n".encode()])
            while True:
                changed, finished = job.output_changed, job.finished
                lines = options.render(job.logs[sent:])
                sent = len(job.logs)
                if lines and separator is not None:
                    lines.insert(0, separator + b"\n")
                    separator = None
                if not await frames.send(lines) or finished:
                    return
                await changed.wait()

        return await self._open(request, send)

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
