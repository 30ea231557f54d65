"""One grpc.aio server interceptor for every gRPC emulator: auth, call counting, latency and fault injection.

Order per call: authenticate (UNAUTHENTICATED otherwise, without decoding the request message), count, wait
`latency`, refuse a message that does not decode (INVALID_ARGUMENT), then maybe fail with UNAVAILABLE before the
handler runs, after it ran (the reply is dropped) or, for server streams, part way through. A message larger than
gRPC's receive limit (4 MiB by default) is refused by gRPC itself with RESOURCE_EXHAUSTED before any of this.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from typing import Any

import grpc

from airflow_provider_batch.emulators.auth import TokenAuth
from airflow_provider_batch.emulators.faults import FaultPlan, FaultPoint
from airflow_provider_batch.emulators.stats import CallCounter

FAULT_BEFORE = "emulator fault injection: call refused before it was handled"
FAULT_AFTER = "emulator fault injection: call was handled but its reply was lost"
FAULT_STREAM = "emulator fault injection: stream broken"

Handler = Any  # grpc.RpcMethodHandler: grpc ships no type information
Deserializer = Callable[[bytes], Any]


class _Malformed:
    """Stands for a request message that did not decode; the wrapped handler refuses it."""

    def __init__(self, problem: str) -> None:
        self.problem = problem


def _lenient(deserializer: Deserializer | None) -> Deserializer | None:
    """`deserializer`, returning _Malformed instead of raising (gRPC would answer INTERNAL otherwise)."""
    if deserializer is None:
        return None

    def deserialize(data: bytes) -> Any:
        try:
            return deserializer(data)
        except Exception as err:  # protobuf's DecodeError, or whatever a custom deserializer raises
            return _Malformed(f"{type(err).__name__}: {err}")

    return deserialize


def _ignore(data: bytes) -> None:
    """The deserializer of a refused call: its message is never decoded."""
    del data


async def _refuse_malformed(request: Any, method: str, context: grpc.aio.ServicerContext) -> None:
    if isinstance(request, _Malformed):
        details = f"the request is not a valid {method} message ({request.problem}); send the protobuf message"
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, details)


def _is_exempt(method: str, exempt_suffixes: Collection[str]) -> bool:
    return any(method.endswith(suffix) for suffix in exempt_suffixes)


class EmulatorInterceptor(grpc.aio.ServerInterceptor):
    def __init__(
        self,
        auth: TokenAuth,
        counter: CallCounter,
        faults: FaultPlan,
        fault_exempt: Collection[str] = ("/Health",),
    ) -> None:
        self.auth = auth
        self.counter = counter
        self.faults = faults
        self.fault_exempt = tuple(fault_exempt)

    async def intercept_service(
        self, continuation: Callable[[Any], Awaitable[Handler]], handler_call_details: Any
    ) -> Handler:
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        method: str = handler_call_details.method
        metadata = {key.lower(): value for key, value in handler_call_details.invocation_metadata or ()}
        if not self.auth.check(metadata.get("authorization")):
            return _refusing(handler, grpc.StatusCode.UNAUTHENTICATED, "missing or wrong authorization bearer token")
        self.counter.add(method)
        exempt = _is_exempt(method, self.fault_exempt)
        if handler.unary_unary is not None:
            return _wrap_unary(handler, method, self.faults, exempt)
        if handler.unary_stream is not None:
            return _wrap_stream(handler, method, self.faults, exempt)
        return handler


def _refusing(handler: Handler, code: grpc.StatusCode, details: str) -> Handler:
    async def refuse_unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
        await context.abort(code, details)

    async def refuse_stream(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        await context.abort(code, details)
        yield  # pragma: no cover - makes this an async generator

    kwargs = {"request_deserializer": _ignore, "response_serializer": handler.response_serializer}
    if handler.unary_stream is not None:
        return grpc.unary_stream_rpc_method_handler(refuse_stream, **kwargs)
    return grpc.unary_unary_rpc_method_handler(refuse_unary, **kwargs)


def _wrap_unary(handler: Handler, method: str, faults: FaultPlan, exempt: bool) -> Handler:
    inner = handler.unary_unary

    async def behaviour(request: Any, context: grpc.aio.ServicerContext) -> Any:
        if faults.latency_s:
            await asyncio.sleep(faults.latency_s)
        await _refuse_malformed(request, method, context)
        point = FaultPoint.NONE if exempt else faults.unary(method)
        if point is FaultPoint.BEFORE:
            await context.abort(grpc.StatusCode.UNAVAILABLE, FAULT_BEFORE)
        response = await inner(request, context)
        if point is FaultPoint.AFTER:
            await context.abort(grpc.StatusCode.UNAVAILABLE, FAULT_AFTER)
        return response

    return grpc.unary_unary_rpc_method_handler(
        behaviour,
        request_deserializer=_lenient(handler.request_deserializer),
        response_serializer=handler.response_serializer,
    )


def _wrap_stream(handler: Handler, method: str, faults: FaultPlan, exempt: bool) -> Handler:
    inner = handler.unary_stream

    async def behaviour(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        if faults.latency_s:
            await asyncio.sleep(faults.latency_s)
        await _refuse_malformed(request, method, context)
        fault = None if exempt else faults.stream(method)
        if fault is not None and fault.after_messages == 0:
            await context.abort(grpc.StatusCode.UNAVAILABLE, FAULT_BEFORE)
        produced = inner(request, context)
        if not inspect.isasyncgen(produced):  # a handler that writes with context.write()
            await produced
            return
        sent = 0
        async with contextlib.aclosing(produced):
            async for message in produced:
                yield message
                sent += 1
                if fault is not None and sent >= fault.after_messages:
                    break
        if fault is not None:
            await context.abort(grpc.StatusCode.UNAVAILABLE, FAULT_STREAM)

    return grpc.unary_stream_rpc_method_handler(
        behaviour,
        request_deserializer=_lenient(handler.request_deserializer),
        response_serializer=handler.response_serializer,
    )
