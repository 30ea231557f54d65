"""`armada.operators.grpc`: the original `GrpcChannelArguments` and `GrpcChannelArgsDict`.

`GrpcChannelArguments(target, credentials=None, options=None, compression=None)` builds a channel as the original
did, and `serialize()` returns the keyword arguments that rebuild it. Channel arguments a deferrable task keeps
(`armada_channel_args=..., job_service_channel_args=...`) must be plain JSON: there `credentials` names an Airflow
connection (`{"conn_id": "armada_default"}`) and a `grpc.ChannelCredentials` object is refused when the DAG is
parsed, naming that alternative (see hooks/armada_channel_args.py). A blocking task may use any channel you build.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypedDict

import grpc
import grpc.aio

from airflow_provider_batch.hooks.armada_channel_args import parse_channel_args


class GrpcChannelArgsDict(TypedDict, total=False):
    """The keyword arguments of a gRPC channel, as the original operators take them (`target` is required).

    Here `credentials` may also be `{"conn_id": ...}` and `credentials_callback_args` an importable function that
    returns a token; `tls` and `ca_cert` switch TLS on for a channel built from these arguments.
    """

    target: str
    credentials: Any
    options: Sequence[tuple[str, Any]] | None
    compression: grpc.Compression | str | None
    credentials_callback_args: dict[str, Any] | None
    tls: bool
    ca_cert: str | None


class GrpcChannelArguments:
    """A serialisable description of a gRPC channel.

    target: "host:port". credentials: a grpc.ChannelCredentials (a secure channel; not for a deferrable task's
    arguments) or None (an insecure channel). options: (name, value) pairs. compression: a grpc.Compression.
    credentials_callback_args (added later in the original; keyword only here): {module_name, function_name,
    function_kwargs} of a function returning the bearer token; the channel is then secure.
    """

    def __init__(
        self,
        target: str,
        credentials: grpc.ChannelCredentials | None = None,
        options: Sequence[tuple[str, Any]] | None = None,
        compression: grpc.Compression | None = None,
        *,
        credentials_callback_args: dict[str, Any] | None = None,
    ) -> None:
        self.target = target
        self.credentials = credentials
        self.options = options
        self.compression = compression
        self.credentials_callback_args = credentials_callback_args

    def channel(self) -> grpc.Channel:
        """grpc.insecure_channel without credentials, grpc.secure_channel with them."""
        if self.credentials_callback_args is not None:
            spec = parse_channel_args(self.serialize(), "GrpcChannelArguments")
            return spec.channel.channel(spec.credentials.call() if spec.credentials else None)
        if self.credentials is None:
            return grpc.insecure_channel(self.target, options=self.options, compression=self.compression)
        return grpc.secure_channel(self.target, self.credentials, options=self.options, compression=self.compression)

    def aio_channel(self) -> grpc.aio.Channel:
        """The asyncio form of channel()."""
        if self.credentials_callback_args is not None:
            spec = parse_channel_args(self.serialize(), "GrpcChannelArguments")
            return spec.channel.aio_channel(spec.credentials.call() if spec.credentials else None)
        if self.credentials is None:
            return grpc.aio.insecure_channel(self.target, options=self.options, compression=self.compression)
        return grpc.aio.secure_channel(
            self.target, self.credentials, options=self.options, compression=self.compression
        )

    def serialize(self) -> dict[str, Any]:
        """The keyword arguments that rebuild this object: `GrpcChannelArguments(**args.serialize())`."""
        data: dict[str, Any] = {
            "target": self.target,
            "credentials": self.credentials,
            "options": self.options,
            "compression": self.compression,
        }
        if self.credentials_callback_args is not None:
            data["credentials_callback_args"] = self.credentials_callback_args
        return data


__all__ = ["GrpcChannelArgsDict", "GrpcChannelArguments"]
