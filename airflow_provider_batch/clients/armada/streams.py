"""Job-set event streams that survive silence and dropped connections.

Armada sends no heartbeats, so a dead connection looks like a quiet job set. Both streams here reopen the call from
the last message id they handed out when nothing arrived for `event_timeout`, and when the server answers
UNAVAILABLE (with backoff, at most `retry.max_attempts` times in a row). Every other error is raised as an
`ArmadaRpcError` with the server's words.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import grpc
import grpc.aio

from airflow_provider_batch._proto.armada import event_pb2
from airflow_provider_batch.clients.armada.requests import as_armada_error, is_transient
from airflow_provider_batch.common.retry import RetryPolicy

log = logging.getLogger(__name__)
CALL = "GetJobSetEvents"


class _Reconnects:
    """Counts consecutive broken streams and says how long to wait before the next reopen."""

    def __init__(self, retry: RetryPolicy) -> None:
        self._delays = retry.delays()
        self._failures = 0

    def delay_after(self, error: grpc.RpcError) -> float:
        """The wait before reopening; raises the server's error when it is permanent or retries are spent."""
        if not is_transient(error) or self._failures >= len(self._delays):
            raise as_armada_error(error, CALL) from None
        delay = self._delays[self._failures]
        self._failures += 1
        log.warning("event stream broke (%s); reopening in %.2fs", as_armada_error(error, CALL).status, delay)
        return delay

    def reset(self) -> None:
        self._failures = 0


class _Resumable:
    """What both streams keep: how to open the call from a position, the last position, the silence limit."""

    def __init__(
        self,
        open_call: Callable[[str], Any],
        from_message_id: str | None,
        event_timeout: float,
        retry: RetryPolicy,
    ) -> None:
        self._open_call = open_call
        self.last_message_id = from_message_id or ""
        self._event_timeout = event_timeout
        self._call: Any = None
        self._closed = False
        self._reconnects = _Reconnects(retry)


class EventStream(_Resumable, Iterator[event_pb2.EventStreamMessage]):
    """A blocking iterator over EventStreamMessage; `cancel()` (from any thread) ends it."""

    def __init__(
        self,
        open_call: Callable[[str], Any],
        from_message_id: str | None,
        event_timeout: float,
        retry: RetryPolicy,
    ) -> None:
        super().__init__(open_call, from_message_id, event_timeout, retry)
        self._lock = threading.Lock()
        self._silent = False
        self._last_activity = time.monotonic()
        self._watchdog = threading.Thread(target=self._watch_for_silence, name="armada-event-watchdog", daemon=True)
        self._watchdog.start()

    def __next__(self) -> event_pb2.EventStreamMessage:
        while True:
            if self._closed:
                raise StopIteration
            call = self._ensure_call()
            try:
                message = next(call)
            except StopIteration:
                self._close()
                raise
            except grpc.RpcError as error:
                self._reopen_or_raise(error)
                continue
            self._last_activity = time.monotonic()
            self._reconnects.reset()
            self.last_message_id = message.id
            return message

    def cancel(self) -> None:
        self._close()

    def _ensure_call(self) -> Any:
        with self._lock:
            if self._call is None:
                self._call = self._open_call(self.last_message_id)
                self._last_activity = time.monotonic()
            return self._call

    def _reopen_or_raise(self, error: grpc.RpcError) -> None:
        with self._lock:
            self._call = None
            silent, self._silent = self._silent, False
        if self._closed:
            return
        if silent:
            log.info(
                "no event for %.0fs; reopening the job-set stream after %r", self._event_timeout, self.last_message_id
            )
            return
        try:
            delay = self._reconnects.delay_after(error)
        except Exception:
            self._close()
            raise
        time.sleep(delay)

    def _watch_for_silence(self) -> None:
        while not self._closed:
            idle = time.monotonic() - self._last_activity
            if idle >= self._event_timeout:
                with self._lock:
                    if self._call is not None:
                        self._silent = True
                        self._call.cancel()
                    self._last_activity = time.monotonic()
            time.sleep(min(1.0, max(self._event_timeout / 10, 0.05)))

    def _close(self) -> None:
        with self._lock:
            self._closed = True
            if self._call is not None:
                self._call.cancel()
                self._call = None


class AsyncEventStream(_Resumable, AsyncIterator[event_pb2.EventStreamMessage]):
    """The asyncio form: `async for message in stream`; `cancel()` ends it."""

    def __aiter__(self) -> AsyncEventStream:
        return self

    async def __anext__(self) -> event_pb2.EventStreamMessage:
        while True:
            if self._closed:
                raise StopAsyncIteration
            if self._call is None:
                self._call = self._open_call(self.last_message_id)
            try:
                message = await asyncio.wait_for(self._call.read(), self._event_timeout)
            except asyncio.TimeoutError:
                log.info("no event for %.0fs; reopening the job-set stream", self._event_timeout)
                self._drop_call()
                continue
            except grpc.RpcError as error:
                self._drop_call()
                if self._closed:
                    raise StopAsyncIteration from None
                await self._backoff_or_raise(error)
                continue
            if message is grpc.aio.EOF:
                self.cancel()
                raise StopAsyncIteration
            self._reconnects.reset()
            self.last_message_id = message.id
            return message

    def cancel(self) -> None:
        self._closed = True
        self._drop_call()

    def _drop_call(self) -> None:
        if self._call is not None:
            self._call.cancel()
            self._call = None

    async def _backoff_or_raise(self, error: grpc.RpcError) -> None:
        try:
            delay = self._reconnects.delay_after(error)
        except Exception:
            self.cancel()
            raise
        await asyncio.sleep(delay)
