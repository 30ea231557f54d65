"""A job's log, line by line, from the log WebSocket with timestamps: a stream that breaks is resumed from the last
line's timestamp (no line lost, none repeated), and how the stream ends never decides the job's outcome.

    async for line in follow_log(client, job_id):
        print(line.text)
    lines, cursor = await read_new_lines(client, job_id, cursor)   # a bounded read, for polling
"""

from __future__ import annotations

import asyncio
import calendar
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from airflow_provider_batch.clients.apolo.client import ApoloClient
from airflow_provider_batch.clients.apolo.errors import ApoloError

# Asked for explicitly so that it can be told from a log line and dropped (it only marks earlier runs' lines).
SEPARATOR = "=== airflow-provider-batch: live logs ==="
MAX_BREAKS = 20
_TIMESTAMP = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$")


@dataclass(frozen=True)
class LogLine:
    """One line of the job's output; `timestamp` is the server's (RFC 3339, up to nanoseconds), the cursor to
    resume after it."""

    timestamp: str
    text: str

    @property
    def ns(self) -> int:
        return timestamp_ns(self.timestamp)


def timestamp_ns(text: str) -> int:
    """Nanoseconds since the epoch of an RFC 3339 timestamp; ValueError for anything else."""
    match = _TIMESTAMP.match(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not an RFC 3339 timestamp")
    parts = [int(match.group(i)) for i in range(1, 7)]
    seconds = calendar.timegm((*parts, 0, 0, 0))
    zone = match.group(8)
    if zone != "Z":
        offset = int(zone[1:3]) * 3600 + int(zone[4:6]) * 60
        seconds -= offset if zone[0] == "+" else -offset
    return seconds * 1_000_000_000 + int((match.group(7) or "").ljust(9, "0"))


def since_of(cursor_ns: int) -> datetime:
    """The `since` to ask for (microseconds, rounded down: the server's `since` is inclusive)."""
    return datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(microseconds=cursor_ns // 1000)


def split_line(raw: str) -> LogLine | None:
    """`<timestamp> <text>` -> LogLine; None for the separator or a line without a timestamp."""
    stamp, _, text = raw.partition(" ")
    try:
        timestamp_ns(stamp)
    except ValueError:
        return None
    return LogLine(stamp, text)


async def _lines_once(client: ApoloClient, job_id: str, cursor_ns: int | None) -> AsyncIterator[LogLine]:
    since = since_of(cursor_ns) if cursor_ns is not None else None
    pending = ""
    async for chunk in client.monitor(job_id, since=since, timestamps=True, separator=SEPARATOR):
        pending += chunk.decode("utf-8", errors="replace")
        *complete, pending = pending.split("\n")
        for raw in complete:
            if raw and raw != SEPARATOR and (line := split_line(raw)) is not None:
                yield line
    if pending and pending != SEPARATOR and (line := split_line(pending)) is not None:
        yield line


async def follow_log(client: ApoloClient, job_id: str, cursor: str = "") -> AsyncIterator[LogLine]:
    """Every line after `cursor` (a timestamp; empty: from the start) until the job is over. A broken stream (or
    one that ends while the job still runs) is reopened from the last line's timestamp, up to MAX_BREAKS times in
    a row without a new line."""
    cursor_ns = timestamp_ns(cursor) if cursor else None
    delays = client.config.retry
    breaks = 0
    while True:
        broke = False
        progressed = False
        try:
            async for line in _lines_once(client, job_id, cursor_ns):
                if cursor_ns is not None and line.ns <= cursor_ns:
                    continue  # already yielded before the stream was reopened
                cursor_ns = line.ns
                progressed = True
                yield line
        except ApoloError as error:
            if not error.retryable:
                raise
            broke = True
        if not broke and (await client.status(job_id)).status.is_finished:
            return
        breaks = 1 if progressed else breaks + 1
        if breaks > MAX_BREAKS:
            raise ApoloError("GET log_ws", "broken", f"the log stream of {job_id} broke {breaks} times in a row")
        await asyncio.sleep(min(delays.max_backoff, delays.initial_backoff * breaks))


async def read_new_lines(
    client: ApoloClient, job_id: str, cursor: str = "", *, idle: float = 1.0, budget: float = 15.0
) -> tuple[list[LogLine], str]:
    """The lines after `cursor` that come within `budget` seconds, stopping early once none came for `idle`
    seconds (a running job's stream stays open). Returns them and the new cursor (the last line's timestamp)."""
    stream = follow_log(client, job_id, cursor)
    lines: list[LogLine] = []
    deadline = time.monotonic() + budget
    try:
        while (left := deadline - time.monotonic()) > 0:
            try:
                lines.append(await asyncio.wait_for(anext(stream), min(idle, left)))
            except (StopAsyncIteration, asyncio.TimeoutError):
                break
    finally:
        await stream.aclose()  # type: ignore[attr-defined]
    return lines, lines[-1].timestamp if lines else cursor
