"""How to reach a gRPC endpoint, as plain JSON with no secret in it.

`GrpcChannelArguments` is what an operator stores and a trigger receives; the secret (a bearer token or a
user/password pair) is read from the Airflow connection at the moment a channel is built and is passed separately,
as `CallCredentials`, which add the `authorization` metadata to every call.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import grpc.aio

log = logging.getLogger(__name__)
_warned_plaintext: set[str] = set()
_warned_lock = threading.Lock()

_COMPRESSION = {
    "none": grpc.Compression.NoCompression,
    "gzip": grpc.Compression.Gzip,
    "deflate": grpc.Compression.Deflate,
}


@dataclass(frozen=True)
class CallCredentials:
    """The `authorization` metadata sent with every call. Never serialized; build it from a connection."""

    header: str = field(repr=False)

    @classmethod
    def bearer(cls, token: str) -> CallCredentials:
        return cls(f"Bearer {token}")

    @classmethod
    def basic(cls, username: str, password: str) -> CallCredentials:
        pair = base64.b64encode(f"{username}:{password}".encode()).decode()
        return cls(f"Basic {pair}")

    def metadata(self) -> tuple[tuple[str, str], ...]:
        return (("authorization", self.header),)


@dataclass(frozen=True)
class GrpcChannelArguments:
    """Where a gRPC server is and how to talk to it.

    target: `host:port` of the server.
    tls: encrypt the connection (a real Armada behind an ingress normally wants this).
    ca_cert: a PEM bundle, or the path of one, to trust instead of the system roots (with tls only).
    options: gRPC channel options as (name, value) pairs, e.g. ("grpc.keepalive_time_ms", 30000).
    compression: "gzip", "deflate" or None.
    """

    target: str
    tls: bool = False
    ca_cert: str | None = None
    options: tuple[tuple[str, Any], ...] = ()
    compression: str | None = None

    __version__ = 1

    def __post_init__(self) -> None:
        if not self.target or ":" not in self.target:
            raise ValueError(f"target: {self.target!r} is not host:port (e.g. 'armada.example.com:443')")
        if self.compression is not None and self.compression not in _COMPRESSION:
            raise ValueError(f"compression: {self.compression!r} is not one of {sorted(_COMPRESSION)}")
        if self.ca_cert and not self.tls:
            raise ValueError("ca_cert: a CA bundle only applies with tls=True")
        object.__setattr__(self, "options", tuple((str(k), v) for k, v in (self.options or ())))

    # -- channels ---------------------------------------------------------------------------------------------

    def channel(self, credentials: CallCredentials | None = None) -> grpc.Channel:
        """A blocking channel; `credentials` add the authorization metadata to every call."""
        self._warn_if_plaintext(credentials)
        if self.tls:
            channel = grpc.secure_channel(self.target, self._ssl(), self._options(), self._compression())
        else:
            channel = grpc.insecure_channel(self.target, self._options(), self._compression())
        if credentials is None:
            return channel
        return grpc.intercept_channel(channel, _SyncAuth(credentials.metadata()))

    def aio_channel(self, credentials: CallCredentials | None = None) -> grpc.aio.Channel:
        """An asyncio channel; `credentials` add the authorization metadata to every call."""
        self._warn_if_plaintext(credentials)
        interceptors: Sequence[grpc.aio.ClientInterceptor] | None = None
        if credentials is not None:
            metadata = credentials.metadata()
            interceptors = [_AioUnaryUnaryAuth(metadata), _AioUnaryStreamAuth(metadata)]
        if self.tls:
            return grpc.aio.secure_channel(self.target, self._ssl(), self._options(), self._compression(), interceptors)
        return grpc.aio.insecure_channel(self.target, self._options(), self._compression(), interceptors)

    def _warn_if_plaintext(self, credentials: CallCredentials | None) -> None:
        """One warning per endpoint when a token would cross a network unencrypted (loopback is fine)."""
        if credentials is None or self.tls or is_loopback(self.target):
            return
        with _warned_lock:
            if self.target in _warned_plaintext:
                return
            _warned_plaintext.add(self.target)
        log.warning(
            "sending credentials in plain text to %s: anyone on the network can read the token; "
            "set tls (and ca_cert for a private CA) on the connection",
            self.target,
        )

    def _ssl(self) -> grpc.ChannelCredentials:
        if not self.ca_cert:
            return grpc.ssl_channel_credentials()
        pem = self.ca_cert
        if "-----BEGIN" not in pem:
            pem = Path(pem).read_text()
        return grpc.ssl_channel_credentials(root_certificates=pem.encode())

    def _options(self) -> list[tuple[str, Any]]:
        return list(self.options)

    def _compression(self) -> grpc.Compression | None:
        return _COMPRESSION[self.compression] if self.compression else None

    # -- plain JSON -------------------------------------------------------------------------------------------

    def serialize(self) -> dict[str, Any]:
        """A JSON-safe dict (Airflow serde protocol); holds no secret."""
        return {
            "target": self.target,
            "tls": self.tls,
            "ca_cert": self.ca_cert,
            "options": [list(pair) for pair in self.options],
            "compression": self.compression,
        }

    @classmethod
    def deserialize(cls, data: dict[str, Any], version: int = 1) -> GrpcChannelArguments:
        if version > cls.__version__:
            raise ValueError(f"GrpcChannelArguments version {version} is newer than this provider understands")
        return cls(
            target=data["target"],
            tls=bool(data.get("tls", False)),
            ca_cert=data.get("ca_cert"),
            options=tuple((str(pair[0]), pair[1]) for pair in data.get("options") or ()),
            compression=data.get("compression"),
        )

    def to_json(self) -> dict[str, Any]:
        """A plain JSON-able dict, as every `to_json()` of this provider returns (the same as `serialize()`)."""
        return self.serialize()

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> GrpcChannelArguments:
        """The arguments back from `to_json()`'s dict."""
        return cls.deserialize(dict(data))

    def to_json_string(self) -> str:
        """`to_json()` as one canonical JSON string (sorted keys), e.g. for a key or an environment variable."""
        return json.dumps(self.to_json(), sort_keys=True)

    @classmethod
    def from_json_string(cls, text: str) -> GrpcChannelArguments:
        return cls.from_json(json.loads(text))


def is_loopback(target: str) -> bool:
    """Whether a `host:port` (or `unix:` path) target stays on this machine."""
    if target.startswith(("unix:", "unix-abstract:")):
        return True
    host = target.rsplit(":", 1)[0].strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# -- interceptors that add the authorization metadata ---------------------------------------------------------


class _ClientCallDetails(grpc.ClientCallDetails):
    def __init__(self, details: grpc.ClientCallDetails, metadata: list[tuple[str, str]]) -> None:
        self.method = details.method
        self.timeout = details.timeout
        self.credentials = details.credentials
        self.metadata = metadata
        self.wait_for_ready = getattr(details, "wait_for_ready", None)
        self.compression = getattr(details, "compression", None)


def _with_auth(metadata: Any, auth: tuple[tuple[str, str], ...]) -> list[tuple[str, str]]:
    kept = [(k, v) for k, v in (metadata or ()) if k != "authorization"]
    return kept + list(auth)


class _SyncAuth(
    grpc.UnaryUnaryClientInterceptor,
    grpc.UnaryStreamClientInterceptor,
    grpc.StreamUnaryClientInterceptor,
    grpc.StreamStreamClientInterceptor,
):
    def __init__(self, auth: tuple[tuple[str, str], ...]) -> None:
        self._auth = auth

    def _details(self, details: grpc.ClientCallDetails) -> grpc.ClientCallDetails:
        return _ClientCallDetails(details, _with_auth(details.metadata, self._auth))

    def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return continuation(self._details(details), request)

    def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return continuation(self._details(details), request)

    def intercept_stream_unary(self, continuation: Any, details: Any, request_iterator: Any) -> Any:
        return continuation(self._details(details), request_iterator)

    def intercept_stream_stream(self, continuation: Any, details: Any, request_iterator: Any) -> Any:
        return continuation(self._details(details), request_iterator)


def _aio_details(details: grpc.aio.ClientCallDetails, auth: tuple[tuple[str, str], ...]) -> Any:
    return grpc.aio.ClientCallDetails(
        details.method,
        details.timeout,
        grpc.aio.Metadata(*_with_auth(details.metadata, auth)),
        details.credentials,
        details.wait_for_ready,
    )


class _AioUnaryUnaryAuth(grpc.aio.UnaryUnaryClientInterceptor):
    def __init__(self, auth: tuple[tuple[str, str], ...]) -> None:
        self._auth = auth

    async def intercept_unary_unary(self, continuation: Any, client_call_details: Any, request: Any) -> Any:
        return await continuation(_aio_details(client_call_details, self._auth), request)


class _AioUnaryStreamAuth(grpc.aio.UnaryStreamClientInterceptor):
    def __init__(self, auth: tuple[tuple[str, str], ...]) -> None:
        self._auth = auth

    async def intercept_unary_stream(self, continuation: Any, client_call_details: Any, request: Any) -> Any:
        return await continuation(_aio_details(client_call_details, self._auth), request)
