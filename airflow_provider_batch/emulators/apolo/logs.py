"""The job log as platform-monitoring streams it: lines of earlier runs first (its archive), then, if there were
any and the job still runs, the separator line, then the current run's lines as they are printed, until the job is
over. Shared by the log WebSocket (`log_ws`, binary frames) and the chunked `GET .../log`."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from aiohttp import web

from airflow_provider_batch.emulators.apolo.errors import bad_request
from airflow_provider_batch.emulators.apolo.records import JobRecord
from airflow_provider_batch.emulators.apolo.state import parse_time
from airflow_provider_batch.emulators.runner import OutputLine
from airflow_provider_batch.emulators.timefmt import format_ns

MAX_CHUNK = 64 * 1024
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


def epoch_ns(moment: datetime) -> int:
    """Nanoseconds since the epoch, exactly (no float rounding); a naive time is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return (moment - EPOCH) // timedelta(microseconds=1) * 1000


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


def chunks(lines: list[bytes]) -> list[bytes]:
    """Lines packed into chunks of up to 64 KiB (a longer line is a chunk of its own)."""
    packed: list[bytes] = []
    current = b""
    for line in lines:
        if current and len(current) + len(line) > MAX_CHUNK:
            packed.append(current)
            current = b""
        current += line
    if current:
        packed.append(current)
    return packed


async def log_chunks(job: JobRecord, options: LogOptions) -> AsyncIterator[bytes]:
    """The job's log from now until it is over (or, for a finished job, all of it), in chunks."""
    archive_end = len(job.logs) if job.finished else job.live_from
    archived = options.render(job.logs[:archive_end])
    if options.debug:
        started = job.live_started
        yield f"~~~ Archive logs from {options.since} to {started} (started at {started})\n".encode()
    for chunk in chunks(archived):
        yield chunk
    if job.finished:
        return
    separator = options.separator if archived else None
    if options.debug:
        yield f"~~~ Live logs from {options.since} (started at {job.live_started})\n".encode()
    sent = archive_end
    while True:
        changed, finished = job.output_changed, job.finished
        lines = options.render(job.logs[sent:])
        sent = len(job.logs)
        if lines and separator is not None:
            lines.insert(0, separator + b"\n")
            separator = None
        for chunk in chunks(lines):
            yield chunk
        if finished:
            return
        await changed.wait()
