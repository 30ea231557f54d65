"""Per (queue, job set) event streams: append-only, with opaque, increasing message ids `<ms>-<seq>` (like Redis
stream ids), resumable strictly after a given id, and watchable without polling."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow_provider_batch._proto.armada import event_pb2
from airflow_provider_batch.emulators.errors import invalid


def make_event(kind: str, job_id: str, job_set_id: str, queue: str, created_ns: int, **fields: Any) -> Any:
    """An EventMessage whose oneof member `kind` ("submitted", "failed", ...) has the common fields filled."""
    event_type = type(getattr(event_pb2.EventMessage(), kind))
    inner = event_type(job_id=job_id, job_set_id=job_set_id, queue=queue, **fields)
    inner.created.FromNanoseconds(created_ns)
    return event_pb2.EventMessage(**{kind: inner})


class JobSetStream:
    def __init__(self) -> None:
        self.messages: list[Any] = []  # EventStreamMessage
        self._positions: dict[str, int] = {}  # message id -> index just after it
        self._changed = asyncio.Event()
        self._last_ms = 0
        self._seq = 0
        self.closed = False

    def __len__(self) -> int:
        return len(self.messages)

    def append(self, message: Any) -> str:
        now_ms = time.time_ns() // 1_000_000
        if now_ms > self._last_ms:
            self._last_ms, self._seq = now_ms, 0
        else:
            self._seq += 1
        message_id = f"{self._last_ms}-{self._seq}"
        self.messages.append(event_pb2.EventStreamMessage(id=message_id, message=message))
        self._positions[message_id] = len(self.messages)
        self._wake()
        return message_id

    def close(self) -> None:
        self.closed = True
        self._wake()

    def _wake(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    def position_after(self, from_message_id: str) -> int:
        if not from_message_id:
            return 0
        try:
            return self._positions[from_message_id]
        except KeyError:
            raise invalid(f"from_message_id {from_message_id!r} is not a message id of this job set") from None

    async def follow(self, start: int, watch: bool) -> AsyncIterator[Any]:
        """Messages from index `start`; without `watch` stop at the last one that exists now."""
        position = start
        end = len(self.messages)
        while True:
            limit = len(self.messages) if watch else end
            while position < limit:
                yield self.messages[position]
                position += 1
                limit = len(self.messages) if watch else end
            if not watch or self.closed:
                return
            changed = self._changed
            if position >= len(self.messages):
                await changed.wait()


class EventBus:
    def __init__(self) -> None:
        self._streams: dict[tuple[str, str], JobSetStream] = {}

    def stream(self, queue: str, job_set_id: str) -> JobSetStream:
        key = (queue, job_set_id)
        if key not in self._streams:
            self._streams[key] = JobSetStream()
        return self._streams[key]

    def exists(self, queue: str, job_set_id: str) -> bool:
        stream = self._streams.get((queue, job_set_id))
        return stream is not None and len(stream) > 0

    def publish(self, message: Any) -> str:
        inner = getattr(message, message.WhichOneof("events"))
        return self.stream(inner.queue, inner.job_set_id).append(message)

    def close(self) -> None:
        for stream in self._streams.values():
            stream.close()
