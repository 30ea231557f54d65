"""The original Armada operator's `GrpcChannelArgsDict`, checked and turned into plain JSON with no secret.

The seed took `{target, options, compression, credentials_callback_args}` (0.5) or a `credentials` object (0.4) and
stored them, credentials included, with the task. Here only the *name* of a credential source is kept:

- `credentials={"conn_id": "<an armada or batch_jobservice connection>"}`: the token (password, or login and
  password) of that Airflow connection, read when a channel is built;
- `credentials_callback_args={"module_name", "function_name", "function_kwargs"}`: an importable function, called
  when a channel is built, that returns a bearer token (str) or `CallCredentials`; its kwargs must hold no secret.

Anything else (a grpc.ChannelCredentials object, a token string, interceptors) is refused with the way to migrate.
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import grpc

from airflow_provider_batch.common.channel import CallCredentials, GrpcChannelArguments
from airflow_provider_batch.common.errors import InvalidJobSpecError

ALLOWED_KEYS = frozenset(
    {"target", "options", "compression", "credentials", "credentials_callback_args", "tls", "ca_cert"}
)
CALLBACK_KEYS = frozenset({"module_name", "function_name", "function_kwargs"})
SECRET_NAME = re.compile(r"token|password|passwd|secret|credential|api_?key|private", re.IGNORECASE)
GRPC_COMPRESSION = {
    grpc.Compression.NoCompression: None,
    grpc.Compression.Gzip: "gzip",
    grpc.Compression.Deflate: "deflate",
}
CHANNEL_DETAIL = "channel"  # the job reference detail that holds a job's channel arguments (ChannelSpec.key())
MIGRATE = (
    "credentials are never stored with a task: put the token in an Airflow connection and pass "
    "credentials={'conn_id': '<conn id>'}, or name an importable function with "
    "credentials_callback_args={'module_name': ..., 'function_name': ..., 'function_kwargs': {...}} "
    "that returns the token"
)


@dataclass(frozen=True)
class CredentialSource:
    """Where a channel's token comes from: an Airflow connection, or an importable callback."""

    conn_id: str = ""
    module_name: str = ""
    function_name: str = ""
    function_kwargs: tuple[tuple[str, Any], ...] = ()

    def to_json(self) -> dict[str, Any]:
        if self.conn_id:
            return {"conn_id": self.conn_id}
        return {
            "module_name": self.module_name,
            "function_name": self.function_name,
            "function_kwargs": dict(self.function_kwargs),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CredentialSource:
        if data.get("conn_id"):
            return cls(conn_id=str(data["conn_id"]))
        return cls(
            module_name=str(data["module_name"]),
            function_name=str(data["function_name"]),
            function_kwargs=tuple(sorted((data.get("function_kwargs") or {}).items())),
        )

    def call(self) -> CallCredentials:
        """Run the callback (callback sources only) and take its answer as the channel's credentials."""
        function = getattr(importlib.import_module(self.module_name), self.function_name)
        answer = function(**dict(self.function_kwargs))
        if isinstance(answer, CallCredentials):
            return answer
        if isinstance(answer, str) and answer:
            return CallCredentials.bearer(answer)
        raise TypeError(
            f"credentials callback {self.module_name}.{self.function_name} returned {type(answer).__name__}; "
            "return a bearer token (str) or CallCredentials (TLS is set with the 'tls' key)"
        )


@dataclass(frozen=True)
class ChannelSpec:
    """A checked GrpcChannelArgsDict: the channel (plain JSON) and where its credentials come from."""

    channel: GrpcChannelArguments
    credentials: CredentialSource | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "channel": self.channel.serialize(),
            "credentials": self.credentials.to_json() if self.credentials else None,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ChannelSpec:
        credentials = data.get("credentials")
        return cls(
            GrpcChannelArguments.deserialize(dict(data["channel"])),
            CredentialSource.from_json(credentials) if credentials else None,
        )

    def key(self) -> str:
        """The spec as one canonical string: a job reference's `channel` detail (see `from_key`)."""
        return json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_key(cls, text: str, field: str = f"details.{CHANNEL_DETAIL}") -> ChannelSpec:
        """A `channel` detail read back, checked as when it was first given: InvalidJobSpecError when it is not
        the canonical form of valid channel arguments."""
        try:
            data = json.loads(text)
        except (TypeError, ValueError) as error:
            raise InvalidJobSpecError(field, f"is not channel arguments ({error})") from None
        if not isinstance(data, dict) or set(data) != {"channel", "credentials"}:
            raise InvalidJobSpecError(field, "is not channel arguments", "expected {channel, credentials}")
        try:
            spec = cls.from_json(data)
        except (KeyError, TypeError, ValueError) as error:
            raise InvalidJobSpecError(field, f"holds bad channel arguments ({error})") from None
        if spec.key() != text:
            raise InvalidJobSpecError(field, "is not in canonical form", "build it with ChannelSpec.key()")
        return spec


def parse_channel_args(args: Any, field: str) -> ChannelSpec:
    """Check a GrpcChannelArgsDict (or an already parsed ChannelSpec / its JSON) and turn it into a ChannelSpec."""
    if isinstance(args, ChannelSpec):
        return args
    if not isinstance(args, Mapping):
        raise InvalidJobSpecError(field, f"is a {type(args).__name__}", "pass a dict: {'target': 'host:port', ...}")
    if "channel" in args and "target" not in args:  # the JSON form of a ChannelSpec (a trigger's kwargs)
        return ChannelSpec.from_json(args)
    unknown = sorted(set(args) - ALLOWED_KEYS)
    if unknown:
        raise InvalidJobSpecError(field, f"has unknown keys {unknown}", f"use only {sorted(ALLOWED_KEYS)}")
    credentials = _credential_source(args, field)
    tls = args.get("tls")
    if tls is None:  # the seed opened a secure channel whenever it was given credentials to call
        tls = "credentials_callback_args" in args and args["credentials_callback_args"] is not None
    options = tuple(_options(args.get("options"), field))
    compression = _compression(args.get("compression"), field)
    try:
        channel = GrpcChannelArguments(
            target=str(args.get("target") or ""),
            tls=bool(tls),
            ca_cert=args.get("ca_cert") or None,
            options=options,
            compression=compression,
        )
    except ValueError as error:
        raise InvalidJobSpecError(field, str(error)) from None
    return ChannelSpec(channel, credentials)


def _credential_source(args: Mapping[str, Any], field: str) -> CredentialSource | None:
    given = args.get("credentials")
    callback = args.get("credentials_callback_args")
    if given is not None and callback is not None:
        raise InvalidJobSpecError(field, "has both credentials and credentials_callback_args", "keep one")
    if given is None and callback is None:
        return None
    source = callback if callback is not None else given
    where = f"{field}.{'credentials_callback_args' if callback is not None else 'credentials'}"
    if not isinstance(source, Mapping):
        raise InvalidJobSpecError(where, f"is a {type(source).__name__}", MIGRATE)
    if set(source) == {"conn_id"} and isinstance(source["conn_id"], str) and source["conn_id"]:
        return CredentialSource(conn_id=source["conn_id"])
    if not {"module_name", "function_name"} <= set(source) or set(source) - CALLBACK_KEYS:
        raise InvalidJobSpecError(where, f"has keys {sorted(source)}", MIGRATE)
    kwargs = source.get("function_kwargs") or {}
    if not isinstance(kwargs, Mapping):
        raise InvalidJobSpecError(f"{where}.function_kwargs", f"is a {type(kwargs).__name__}", "pass a dict")
    secret = sorted(key for key in kwargs if SECRET_NAME.search(str(key)))
    if secret:
        raise InvalidJobSpecError(f"{where}.function_kwargs", f"holds secrets {secret}", MIGRATE)
    try:
        json.dumps(dict(kwargs))
    except TypeError as error:
        raise InvalidJobSpecError(f"{where}.function_kwargs", f"is not plain JSON ({error})", MIGRATE) from None
    try:
        importlib.import_module(str(source["module_name"]))
    except ImportError as error:
        raise InvalidJobSpecError(f"{where}.module_name", f"cannot be imported ({error})") from None
    return CredentialSource.from_json(source)


def _options(options: Any, field: str) -> list[tuple[str, Any]]:
    pairs = []
    for option in options or ():
        if not isinstance(option, (list, tuple)) or len(option) != 2:
            raise InvalidJobSpecError(f"{field}.options", f"{option!r} is not a (name, value) pair")
        try:
            json.dumps(option[1])
        except TypeError:
            raise InvalidJobSpecError(f"{field}.options", f"{option[0]}: the value is not plain JSON") from None
        pairs.append((str(option[0]), option[1]))
    return pairs


def _compression(value: Any, field: str) -> str | None:
    if value is None or isinstance(value, str):
        return None if value in (None, "", "none") else value
    if isinstance(value, grpc.Compression):
        return GRPC_COMPRESSION[value]
    raise InvalidJobSpecError(
        f"{field}.compression", f"{value!r} is not a compression", "use 'gzip', 'deflate' or None"
    )
