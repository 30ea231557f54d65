"""gRPC channels that present an emulator's token as `authorization: Bearer <token>` over plain TCP.

Call credentials need TLS, so the metadata is added by a client interceptor instead. For tests and the demo; the
provider's own clients build their channels from `GrpcChannelArguments`.
"""

from __future__ import annotations

import collections
from collections.abc import Callable
from typing import Any

import grpc


class _CallDetails(
    collections.namedtuple(
        "_CallDetails", ["method", "timeout", "metadata", "credentials", "wait_for_ready", "compression"]
    ),
    grpc.ClientCallDetails,
):
    pass


def _with_token(details: Any, header: str) -> Any:
    metadata = [*(details.metadata or ()), ("authorization", header)]
    return _CallDetails(
        details.method, details.timeout, metadata, details.credentials, details.wait_for_ready, details.compression
    )


class BearerInterceptor(
    grpc.UnaryUnaryClientInterceptor,
    grpc.UnaryStreamClientInterceptor,
    grpc.StreamUnaryClientInterceptor,
    grpc.StreamStreamClientInterceptor,
):
    def __init__(self, token: str) -> None:
        self.header = f"Bearer {token}"

    def intercept_unary_unary(self, continuation: Callable[..., Any], details: Any, request: Any) -> Any:
        return continuation(_with_token(details, self.header), request)

    def intercept_unary_stream(self, continuation: Callable[..., Any], details: Any, request: Any) -> Any:
        return continuation(_with_token(details, self.header), request)

    def intercept_stream_unary(self, continuation: Callable[..., Any], details: Any, requests: Any) -> Any:
        return continuation(_with_token(details, self.header), requests)

    def intercept_stream_stream(self, continuation: Callable[..., Any], details: Any, requests: Any) -> Any:
        return continuation(_with_token(details, self.header), requests)


def authorized_channel(target: str, token: str) -> grpc.Channel:
    """A blocking channel to `target` that sends the bearer token with every call."""
    return grpc.intercept_channel(grpc.insecure_channel(target), BearerInterceptor(token))


class _AioBearerBase:
    def __init__(self, token: str) -> None:
        self.header = f"Bearer {token}"

    def _details(self, details: Any) -> Any:
        metadata = grpc.aio.Metadata(*(details.metadata or ()))
        metadata.add("authorization", self.header)
        return details._replace(metadata=metadata)


# grpc.aio files each interceptor under the first call type it implements, so one class per call type.
class _AioBearerUnary(_AioBearerBase, grpc.aio.UnaryUnaryClientInterceptor):
    async def intercept_unary_unary(self, continuation: Callable[..., Any], details: Any, request: Any) -> Any:
        return await continuation(self._details(details), request)


class _AioBearerStream(_AioBearerBase, grpc.aio.UnaryStreamClientInterceptor):
    async def intercept_unary_stream(self, continuation: Callable[..., Any], details: Any, request: Any) -> Any:
        return await continuation(self._details(details), request)


def authorized_aio_channel(target: str, token: str) -> grpc.aio.Channel:
    """An asyncio channel to `target` that sends the bearer token with every unary and server-streaming call."""
    return grpc.aio.insecure_channel(target, interceptors=[_AioBearerUnary(token), _AioBearerStream(token)])
