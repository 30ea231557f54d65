"""The seed SDK's entry (`apolo_sdk.get()`, `Factory.login_with_passed_config`, `client.jobs`, `client.parse`) on our
ApoloClient: `async with get() as client: job = await client.jobs.start(image=client.parse.remote_image("ubuntu"),
preset_name="cpu-small", command="echo hi")`. Credentials come from APOLO_PASSED_CONFIG (nothing is read from or
written to a config folder) or from explicit url/token."""

from __future__ import annotations

import inspect
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Generic, TypeVar

from airflow_provider_batch.clients.apolo.client import ApoloClient
from airflow_provider_batch.clients.apolo.config import ApoloConfig
from airflow_provider_batch.clients.apolo.types import ApoloJobStatus, Container, JobDescription, JobTelemetry
from airflow_provider_batch.compat.apolo_sdk._interactive import StdStream

PASS_CONFIG_ENV_NAME = "APOLO_PASSED_CONFIG"
OLD_PASS_CONFIG_ENV_NAME = "NEURO_PASSED_CONFIG"
T = TypeVar("T")


@dataclass(frozen=True)
class RemoteImage:
    """An image reference as the seed's parser returns it; `str()` gives what the API takes ("ubuntu:22.04")."""

    name: str
    tag: str | None = None
    registry: str | None = None

    @classmethod
    def new_external_image(cls, name: str, tag: str | None = None, registry: str | None = None) -> RemoteImage:
        return cls(name, tag, registry)

    def __str__(self) -> str:
        text = f"{self.registry}/{self.name}" if self.registry else self.name
        return f"{text}:{self.tag}" if self.tag else text


class Parser:
    """`client.parse`: the seed's `remote_image` (a public image; the platform registry's `image://` is left out)."""

    def remote_image(self, image: str, **_: Any) -> RemoteImage:
        text = image.strip()
        if not text or text.startswith("image:"):
            raise ValueError(f"image: {image!r} is not a public image name (e.g. ubuntu:22.04)")
        registry = None
        first, _sep, rest = text.partition("/")
        if rest and ("." in first or ":" in first or first == "localhost"):
            registry, text = first, rest
        name, _sep, tag = text.rpartition(":") if ":" in text.rsplit("/", 1)[-1] else (text, "", "")
        return RemoteImage(name or text, tag or "latest", registry)


class _Stream(Generic[T]):
    """What the seed's list/monitor/top return: iterate it directly, or `async with` it and iterate that."""

    def __init__(self, stream: AsyncIterator[T]) -> None:
        self._stream = stream

    def __aiter__(self) -> AsyncIterator[T]:
        return self._stream

    async def __aenter__(self) -> AsyncIterator[T]:
        return self._stream

    async def __aexit__(self, *_: object) -> None:
        close = getattr(self._stream, "aclose", None)
        if close is not None:
            await close()


class Jobs:
    """`client.jobs`: the seed's Jobs calls on our ApoloClient (start, run, status, list, kill, monitor, top, ...)."""

    def __init__(self, client: ApoloClient) -> None:
        self._client = client

    async def start(self, *, image: RemoteImage | str, preset_name: str, **kwargs: Any) -> JobDescription:
        """image: a RemoteImage from `client.parse.remote_image(...)` or an image name; preset_name: the preset the
        job runs on (e.g. "cpu-small"); the other arguments as the seed's (command, env, name, tags, life_span...)."""
        return await self._client.start(image=str(image), preset_name=preset_name, **kwargs)

    async def run(self, container: Container, **kwargs: Any) -> JobDescription:
        """The deprecated form: a Container with explicit Resources (its image a RemoteImage or a name)."""
        return await self._client.run(replace(container, image=str(container.image)), **kwargs)

    async def status(self, id: str) -> JobDescription:
        return await self._client.status(id)

    async def kill(self, id: str) -> None:
        await self._client.kill(id)

    def list(
        self,
        *,
        statuses: Iterable[ApoloJobStatus] = (),
        name: str = "",
        tags: Iterable[str] = (),
        owners: Iterable[str] = (),
        since: datetime | None = None,
        until: datetime | None = None,
        reverse: bool = False,
        limit: int | None = None,
        cluster_name: str | None = None,
        org_names: Iterable[str | None] = (),
        project_names: Iterable[str] = (),
    ) -> _Stream[JobDescription]:
        """`async with client.jobs.list(statuses=..., tags=...) as it: async for job in it` (or iterate directly)."""
        stream = self._client.list(
            statuses=statuses,
            name=name,
            tags=tags,
            owners=owners,
            since=since,
            until=until,
            reverse=reverse,
            limit=limit,
            cluster_name=cluster_name,
            org_names=[org for org in org_names if org is not None] or None,
            project_names=list(project_names) or None,
        )
        return _Stream(stream)

    def monitor(
        self,
        id: str,
        *,
        cluster_name: str | None = None,
        since: datetime | None = None,
        timestamps: bool = False,
        separator: str | None = None,
        debug: bool = False,
    ) -> _Stream[bytes]:
        """The job's log as bytes chunks until it ends: `async with client.jobs.monitor(id) as it`."""
        return _Stream(
            self._client.monitor(
                id, cluster_name=cluster_name, since=since, timestamps=timestamps, separator=separator, debug=debug
            )
        )

    def top(self, id: str, *, cluster_name: str | None = None) -> _Stream[JobTelemetry]:
        return _Stream(self._client.top(id, cluster_name=cluster_name))

    async def bump_life_span(self, id: str, additional_life_span: float) -> None:
        await self._client.bump_life_span(id, additional_life_span)

    async def send_signal(self, id: str, *, cluster_name: str | None = None) -> None:
        await self._client.send_signal(id, cluster_name=cluster_name)

    async def get_capacity(self, *, cluster_name: str | None = None) -> dict[str, int]:
        return await self._client.get_capacity(cluster_name=cluster_name)

    @asynccontextmanager
    async def attach(
        self,
        id: str,
        *,
        tty: bool = False,
        stdin: bool = False,
        stdout: bool = False,
        stderr: bool = False,
        cluster_name: str | None = None,
    ) -> AsyncIterator[StdStream]:
        """`async with client.jobs.attach(id, stdout=True, stderr=True) as stream`: the running job's output from
        now on; its end raises `StdStreamError(exit_code)` from `read_out()`. Ask for at least one stream."""
        flags = {"tty": tty, "stdin": stdin, "stdout": stdout, "stderr": stderr}
        async with self._client.attach(id, cluster_name=cluster_name, **flags) as stream:
            yield StdStream(stream)

    @asynccontextmanager
    async def exec(
        self,
        id: str,
        cmd: str,
        *,
        tty: bool = False,
        stdin: bool = False,
        stdout: bool = False,
        stderr: bool = False,
        cluster_name: str | None = None,
    ) -> AsyncIterator[StdStream]:
        """`async with client.jobs.exec(id, "ls -l", stdout=True, stderr=True) as stream`: run a command beside the
        job's process; its exit code ends the stream as `StdStreamError(exit_code)`."""
        flags = {"tty": tty, "stdin": stdin, "stdout": stdout, "stderr": stderr}
        async with self._client.exec(id, cmd, cluster_name=cluster_name, **flags) as stream:
            yield StdStream(stream)

    @asynccontextmanager
    async def port_forward(
        self,
        id: str,
        local_port: int,
        job_port: int,
        *,
        no_key_check: bool = False,
        cluster_name: str | None = None,
    ) -> AsyncIterator[None]:
        """`async with client.jobs.port_forward(id, 8080, 80)`: localhost:8080 reaches the job's port 80 while the
        block runs. `no_key_check` (an SSH-era option) is accepted and has no effect."""
        async with self._client.port_forward(id, local_port, job_port, cluster_name=cluster_name):
            yield


def _signature_from(method: Any, source: Any) -> None:
    """`method` takes `**kwargs` and hands them to `source`, whose parameters are the SDK's: show those."""
    own = inspect.signature(method)
    head = [p for p in own.parameters.values() if p.kind is not p.VAR_KEYWORD]
    names = {p.name for p in head}
    rest = [p for p in inspect.signature(source).parameters.values() if p.name not in names and p.name != "self"]
    method.__signature__ = own.replace(parameters=[*head, *rest])


_signature_from(Jobs.start, ApoloClient.start)
_signature_from(Jobs.run, ApoloClient.run)


class Client:
    """What `get()` gives: `.jobs`, `.parse`, and `close()` (or use it with `async with`)."""

    def __init__(self, config: ApoloConfig) -> None:
        self._api = ApoloClient(config)
        self.jobs = Jobs(self._api)
        self.parse = Parser()

    @property
    def api(self) -> ApoloClient:
        """Our typed client underneath."""
        return self._api

    async def close(self) -> None:
        await self._api.close()

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()


class _ContextManager(Generic[T]):
    """`await get()` or `async with get() as client`, like the seed's."""

    def __init__(self, make: Callable[[], Awaitable[T]], close: Callable[[T], Awaitable[None]]) -> None:
        self._make, self._close = make, close
        self._made: T | None = None

    def __await__(self) -> Generator[Any, None, T]:
        return self._make().__await__()

    async def __aenter__(self) -> T:
        self._made = await self._make()
        return self._made

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._made is not None:
            await self._close(self._made)


def config_from(url: str | None = None, token: str | None = None, passed_config: str | None = None) -> ApoloConfig:
    """A passed-config blob (argument, else APOLO_PASSED_CONFIG, else NEURO_PASSED_CONFIG) or an explicit token."""
    blob = passed_config or os.environ.get(PASS_CONFIG_ENV_NAME) or os.environ.get(OLD_PASS_CONFIG_ENV_NAME)
    if token:
        return ApoloConfig(token=token, url=url or "")
    if blob:
        return ApoloConfig.from_passed_config(blob, url=url)
    raise ValueError(
        f"no Apolo credentials: set {PASS_CONFIG_ENV_NAME} (the blob `apolo config show-token`... gives) "
        "or pass url= and token= (we read no config folder)"
    )


def get(
    *, path: Path | str | None = None, url: str | None = None, token: str | None = None, **_: Any
) -> _ContextManager[Client]:
    """The seed's `apolo_sdk.get(path=...)`: `url` + `token` given here, else `Factory(path).get()`
    (APOLO_PASSED_CONFIG, or the login kept in `path`)."""

    async def make() -> Client:
        if token:
            return Client(config_from(url, token))
        from airflow_provider_batch.compat.apolo_sdk._factory import Factory

        return await Factory(path).get()

    async def close(client: Client) -> None:
        await client.close()

    return _ContextManager(make, close)
