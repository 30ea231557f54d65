"""Apolo's Jobs API: `ApoloClient` (asyncio, aiohttp) and its thin blocking facade `ApoloSyncClient`, with the same
method names as the seed SDK's `client.jobs` (start, run, status, list, kill, bump_life_span, send_signal, monitor,
get_capacity, top; attach, exec and port_forward on the asyncio client only, see `interactive`).

Unlike the seed SDK there is no config folder: a token (or a passed-config blob) and the API URL are all it needs;
the cluster's URLs (the monitoring service for logs) come from `GET /config`. Every call has a timeout; 429, 5xx and
connection errors are retried with backoff (a start only on 429: a lost answer may hide a started job, so the caller
looks for it first); errors are typed (`apolo_errors`). No Airflow import here.

    async with ApoloClient(ApoloConfig.from_passed_config(blob)) as apolo:
        job = await apolo.start(image="ubuntu:22.04", preset_name="cpu-small", command="echo hi")
        async for line in apolo.monitor(job.id):
            ...
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime, timezone
from typing import Any, TypeVar
from urllib.parse import quote

import aiohttp

from airflow_provider_batch import __version__
from airflow_provider_batch.clients.apolo import interactive
from airflow_provider_batch.clients.apolo.config import ApoloConfig
from airflow_provider_batch.clients.apolo.errors import (
    ApoloAuthError,
    ApoloBadRequestError,
    ApoloError,
    ApoloUnavailableError,
    error_for,
    network_error,
)
from airflow_provider_batch.clients.apolo.types import (
    ApoloJobStatus,
    Container,
    DiskVolume,
    HTTPPort,
    JobDescription,
    JobPriority,
    JobRestartPolicy,
    JobTelemetry,
    SecretFile,
    ServerConfig,
    Volume,
    check_preset,
)
from airflow_provider_batch.common.retry import NO_RETRY

T = TypeVar("T")
USER_AGENT = f"airflow-provider-batch/{__version__}"
NDJSON = "application/x-ndjson"
WS_HEARTBEAT = 10.0
NETWORK_ERRORS = (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, asyncio.TimeoutError, ConnectionError)


def _id(value: str) -> str:
    if not value or not str(value).strip():
        raise ValueError("an empty job id was given")
    return quote(str(value), safe="")


def _retry_all(error: BaseException) -> bool:
    return isinstance(error, ApoloError) and error.retryable


def _retry_throttled(error: BaseException) -> bool:
    """For a start: a 429 was refused before anything happened; a 5xx or a lost answer may hide a started job."""
    return isinstance(error, ApoloError) and error.status == "429"


class ApoloClient:
    """The asyncio client. One aiohttp session, opened on first use; close it with `close()` (or `async with`)."""

    def __init__(self, config: ApoloConfig, *, session: aiohttp.ClientSession | None = None) -> None:
        self.config = config
        self._session = session
        self._own_session = session is None
        self._server: ServerConfig | None = None

    async def __aenter__(self) -> ApoloClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None and self._own_session:
            await self._session.close()
        self._session = None

    def _headers(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        return {"Authorization": self.config.auth_header, "User-Agent": USER_AGENT, **(extra or {})}

    def headers(self) -> dict[str, str]:
        """The headers every request carries (the token, our User-Agent): for a caller opening its own stream."""
        return self._headers()

    async def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
            self._own_session = True
        return self._session

    async def session(self) -> aiohttp.ClientSession:
        """The client's aiohttp session (opened on first use, closed with the client)."""
        return await self._get_session()

    async def _call(
        self,
        method: str,
        url: str,
        *,
        params: Sequence[tuple[str, str]] | None = None,
        body: Any = None,
        idempotent: bool = True,
        retry: bool = True,
    ) -> Any:
        """One request (retried as the config says; retry=False: one try, for a caller that retries on its own);
        the JSON answer, or None for an empty one."""
        call = f"{method} {url.removeprefix(self.config.url) or '/'}"

        async def attempt() -> Any:
            session = await self._get_session()
            headers = self._headers({"Content-Type": "application/json"} if body is not None else None)
            try:
                async with session.request(
                    method,
                    url,
                    params=list(params or ()),
                    data=json.dumps(body) if body is not None else None,
                    headers=headers,
                    timeout=aiohttp.ClientTimeout(total=self.config.timeout),
                ) as response:
                    text = await response.text()
                    if response.status >= 400:
                        raise error_for(call, response.status, text, response.reason or "")
            except NETWORK_ERRORS as error:
                raise network_error(call, error) from None
            try:
                return json.loads(text) if text.strip() else None
            except ValueError:
                raise ApoloError(call, "bad answer", f"not JSON: {text[:200]!r}") from None

        policy = self.config.retry if retry else NO_RETRY
        return await policy.acall(attempt, _retry_all if idempotent else _retry_throttled, call)

    # -- the platform ------------------------------------------------------------------------------------------

    async def get_config(self, *, refresh: bool = False) -> ServerConfig:
        """`GET /config` with the token: the clusters (and their monitoring URLs) and projects it may use.
        ApoloAuthError when the server does not accept the token."""
        if self._server is None or refresh:
            server = ServerConfig.from_json(await self._call("GET", f"{self.config.url}/config") or {})
            if not server.authorized:
                raise ApoloAuthError("GET /config", "401", "Cannot authorize user: the token was not accepted")
            self._server = server
        return self._server

    async def where(self) -> tuple[str, str, str]:
        """(cluster, org, project) to work in: the configured ones, else the first ones `/config` offers."""
        config = self.config
        if config.cluster and config.org and config.project:
            return config.cluster, config.org, config.project
        server = await self.get_config()
        cluster = config.cluster or next(iter(server.clusters), "")
        if not cluster:
            raise ApoloBadRequestError("GET /config", "no cluster", "the token gives access to no cluster")
        candidates = sorted(p for p in server.projects if p[0] == cluster and (not config.org or p[1] == config.org))
        org = config.org or (candidates[0][1] if candidates else "")
        project = config.project or (candidates[0][2] if candidates else "")
        if not project:
            raise ApoloBadRequestError(
                "GET /config", "no project", f"no project in cluster {cluster!r}: set the project in the connection"
            )
        return cluster, org, project

    async def monitoring_url(self, cluster_name: str | None = None) -> str:
        """The monitoring service of the cluster (logs, top, kill, capacity), from `/config`."""
        server = await self.get_config()
        cluster = cluster_name or (await self.where())[0]
        info = server.clusters.get(cluster)
        if info is None or not info.monitoring_url:
            raise ApoloBadRequestError("GET /config", "no cluster", f"cluster {cluster!r} is not in /config")
        return info.monitoring_url

    # -- jobs --------------------------------------------------------------------------------------------------

    async def start(
        self,
        *,
        image: str,
        preset_name: str,
        cluster_name: str | None = None,
        org_name: str | None = None,
        entrypoint: str | None = None,
        command: str | None = None,
        working_dir: str | None = None,
        http: HTTPPort | None = None,
        env: Mapping[str, str] | None = None,
        volumes: Sequence[Volume] = (),
        secret_env: Mapping[str, str] | None = None,
        secret_files: Sequence[SecretFile] = (),
        disk_volumes: Sequence[DiskVolume] = (),
        tty: bool = False,
        shm: bool = False,
        name: str | None = None,
        tags: Sequence[str] = (),
        description: str | None = None,
        pass_config: bool = False,
        wait_for_jobs_quota: bool = False,
        schedule_timeout: float | None = None,
        restart_policy: JobRestartPolicy = JobRestartPolicy.NEVER,
        life_span: float | None = None,
        privileged: bool = False,
        priority: JobPriority | None = None,
        energy_schedule_name: str | None = None,
        project_name: str | None = None,
    ) -> JobDescription:
        """Start a job on a preset (`POST /jobs?from_preset`). life_span and schedule_timeout are in seconds."""
        cluster, org, project = await self.where()
        cluster, org, project = cluster_name or cluster, org_name or org, project_name or project
        check_preset(self._server, cluster, preset_name)  # only when /config was already read
        container = Container(
            image=image,
            entrypoint=entrypoint,
            command=command,
            working_dir=working_dir,
            http=http,
            env=env or {},
            volumes=volumes,
            secret_env=secret_env or {},
            secret_files=secret_files,
            disk_volumes=disk_volumes,
            tty=tty,
        )
        payload = job_payload(
            cluster, org, project, name, tags, description, pass_config, wait_for_jobs_quota, schedule_timeout,
            restart_policy, life_span, privileged, priority, energy_schedule_name, preset_name=preset_name,
        )  # fmt: skip
        payload.update(container_payload(container, cluster, org, project, shm=shm))
        answer = await self._call("POST", f"{self.config.url}/jobs?from_preset", body=payload, idempotent=False)
        return JobDescription.from_json(answer)

    async def run(
        self,
        container: Container,
        *,
        name: str | None = None,
        tags: Sequence[str] = (),
        description: str | None = None,
        scheduler_enabled: bool = False,
        pass_config: bool = False,
        wait_for_jobs_quota: bool = False,
        schedule_timeout: float | None = None,
        restart_policy: JobRestartPolicy = JobRestartPolicy.NEVER,
        life_span: float | None = None,
        org_name: str | None = None,
        priority: JobPriority | None = None,
        project_name: str | None = None,
    ) -> JobDescription:
        """The deprecated form: a container with explicit resources (`POST /jobs`)."""
        cluster, org, project = await self.where()
        org, project = org_name or org, project_name or project
        payload = job_payload(
            cluster, org, project, name, tags, description, pass_config, wait_for_jobs_quota, schedule_timeout,
            restart_policy, life_span, False, priority, None,
        )  # fmt: skip
        payload["container"] = container_payload(container, cluster, org, project)
        if container.resources is None:
            raise ValueError("container.resources: run() needs explicit resources (or use start() with a preset)")
        payload["container"]["resources"] = container.resources.to_json()
        payload["scheduler_enabled"] = scheduler_enabled
        answer = await self._call("POST", f"{self.config.url}/jobs", body=payload, idempotent=False)
        return JobDescription.from_json(answer)

    async def status(self, id: str, *, retry: bool = True) -> JobDescription:
        """The job by id (or by name: the server resolves it). ApoloNotFoundError when there is none."""
        return JobDescription.from_json(await self._call("GET", f"{self.config.url}/jobs/{_id(id)}", retry=retry))

    async def list(
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
        org_names: Iterable[str] | None = None,
        project_names: Iterable[str] | None = None,
        retry: bool = True,
    ) -> AsyncIterator[JobDescription]:
        """Jobs matching every given filter (tags: all of them), streamed as NDJSON, oldest first (`reverse`:
        newest first). A stream that breaks is asked for again (retry=False: it raises); jobs already yielded are
        not yielded twice."""
        cluster, org, _ = await self.where()
        params: list[tuple[str, str]] = [("status", str(status)) for status in statuses]
        if name:
            params.append(("name", name))
        params += [("owner", owner) for owner in owners] + [("tag", tag) for tag in tags]
        if since is not None:
            params.append(("since", _aware(since).isoformat()))
        if until is not None:
            params.append(("until", _aware(until).isoformat()))
        params.append(("cluster_name", cluster_name or cluster))
        if reverse:
            params.append(("reverse", "1"))
        if limit is not None:
            params.append(("limit", str(limit)))
        # Like the seed SDK: jobs being dropped or without logs are left out; the org defaults to the configured one,
        # the project filter is only sent when asked for (all the org's projects otherwise).
        params += [("being_dropped", "False"), ("logs_removed", "False")]
        params += [("org_name", o) for o in (org_names if org_names is not None else [org]) if o]
        params += [("project_name", p) for p in project_names or () if p]
        seen: set[str] = set()
        delays = [*(self.config.retry.delays() if retry else []), None]
        for delay in delays:
            try:
                async for job in self._list_once(params):
                    if job.id not in seen:
                        seen.add(job.id)
                        yield job
                return
            except ApoloError as error:
                if delay is None or not error.retryable:
                    raise
                await asyncio.sleep(delay)

    async def _list_once(self, params: Sequence[tuple[str, str]]) -> AsyncIterator[JobDescription]:
        call = "GET /jobs"
        session = await self._get_session()
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=self.config.timeout, sock_read=self.config.timeout)
        try:
            headers = self._headers({"Accept": NDJSON})
            url = f"{self.config.url}/jobs"
            async with session.get(url, params=list(params), headers=headers, timeout=timeout) as response:
                if response.status >= 400:
                    raise error_for(call, response.status, await response.text(), response.reason or "")
                if not response.headers.get("Content-Type", "").startswith(NDJSON):
                    for item in (await response.json()).get("jobs") or ():
                        yield JobDescription.from_json(item)
                    return
                async for raw in response.content:
                    if not raw.strip():
                        continue
                    item = json.loads(raw)
                    if "error" in item:
                        raise ApoloUnavailableError(call, "stream error", str(item["error"]))
                    yield JobDescription.from_json(item)
        except NETWORK_ERRORS as error:
            raise network_error(call, error) from None

    async def kill(self, id: str) -> None:
        """Cancel the job (`DELETE /jobs/{id}`); it ends `cancelled` with reason UserRequested."""
        await self._call("DELETE", f"{self.config.url}/jobs/{_id(id)}")

    async def bump_life_span(self, id: str, additional_life_span: float) -> None:
        """Give a running job `additional_life_span` more seconds (whole minutes)."""
        body = {"additional_max_run_time_minutes": int(additional_life_span // 60)}
        await self._call("PUT", f"{self.config.url}/jobs/{_id(id)}/max_run_time_minutes", body=body)

    async def send_signal(self, id: str, *, cluster_name: str | None = None) -> None:
        """Kill the job's container (what happens next depends on its restart policy)."""
        await self._call("POST", f"{await self.monitoring_url(cluster_name)}/{_id(id)}/kill", idempotent=False)

    async def get_capacity(self, *, cluster_name: str | None = None) -> dict[str, int]:
        """How many jobs of each preset could start now."""
        answer = await self._call("GET", f"{await self.monitoring_url(cluster_name)}/capacity")
        return {str(key): int(value) for key, value in (answer or {}).items()}

    async def monitor(
        self,
        id: str,
        *,
        cluster_name: str | None = None,
        since: datetime | None = None,
        timestamps: bool = False,
        separator: str | None = None,
        debug: bool = False,
    ) -> AsyncIterator[bytes]:
        """The job's log as raw chunks from the log WebSocket, until the job is over. One connection: a broken
        one raises ApoloUnavailableError (`apolo_logs.follow_log` resumes from the last timestamp instead)."""
        query: list[tuple[str, str]] = []
        if since is not None:
            query.append(("since", _aware(since).isoformat()))
        if timestamps:
            query.append(("timestamps", "true"))
        if separator is not None:
            query.append(("separator", separator))
        if debug:
            query.append(("debug", "true"))
        async for message in self._ws_messages(f"{_id(id)}/log_ws", query, cluster_name):
            if message.type != aiohttp.WSMsgType.BINARY:
                raise ApoloError("GET log_ws", "bad frame", f"expected binary log frames, got {message.type.name}")
            if message.data:
                yield message.data

    def attach(self, id: str, **flags: Any) -> AbstractAsyncContextManager[interactive.StdStream]:
        """`async with apolo.attach(id) as stream`: the running job's output from now on (see interactive.attach)."""
        return interactive.attach(self, id, **flags)

    def exec(self, id: str, cmd: str, **flags: Any) -> AbstractAsyncContextManager[interactive.StdStream]:
        """`async with apolo.exec(id, "cmd") as stream`: a command beside the job's process (interactive.exec)."""
        return interactive.exec(self, id, cmd, **flags)

    def port_forward(self, id: str, local_port: int, job_port: int, **options: Any) -> AbstractAsyncContextManager[int]:
        """`async with apolo.port_forward(id, 0, 8080) as port`: localhost:port relayed to the job's port."""
        return interactive.port_forward(self, id, local_port, job_port, **options)

    async def top(self, id: str, *, cluster_name: str | None = None) -> AsyncIterator[JobTelemetry]:
        """Telemetry samples (about one a second) while the job runs."""
        async for message in self._ws_messages(f"{_id(id)}/top", [], cluster_name):
            if message.type == aiohttp.WSMsgType.TEXT:
                yield JobTelemetry.from_json(json.loads(message.data))

    async def _ws_messages(
        self, path: str, query: Sequence[tuple[str, str]], cluster_name: str | None
    ) -> AsyncIterator[aiohttp.WSMessage]:
        call = f"GET {path.split('/')[-1]}"
        url = f"{await self.monitoring_url(cluster_name)}/{path}"
        session = await self._get_session()
        try:
            async with session.ws_connect(
                url,
                params=list(query),
                headers=self._headers(),
                heartbeat=WS_HEARTBEAT,
                timeout=aiohttp.ClientWSTimeout(ws_close=self.config.timeout),
            ) as ws:
                async for message in ws:
                    if message.type == aiohttp.WSMsgType.ERROR:
                        raise network_error(call, ws.exception() or ConnectionError("WebSocket error"))
                    yield message
                if ws.close_code not in (None, 1000):
                    raise ApoloUnavailableError(call, f"closed {ws.close_code}", "the stream was cut")
        except aiohttp.WSServerHandshakeError as error:
            headers: Any = error.headers or {}
            text = str(headers.get("X-Error", "") if hasattr(headers, "get") else "") or error.message
            raise error_for(call, error.status, text, error.message) from None
        except NETWORK_ERRORS as error:
            raise network_error(call, error) from None


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.astimezone(timezone.utc)


def job_payload(
    cluster: str,
    org: str,
    project: str,
    name: str | None,
    tags: Sequence[str],
    description: str | None,
    pass_config: bool,
    wait_for_jobs_quota: bool,
    schedule_timeout: float | None,
    restart_policy: JobRestartPolicy,
    life_span: float | None,
    privileged: bool,
    priority: JobPriority | None,
    energy_schedule_name: str | None,
    preset_name: str | None = None,
) -> dict[str, Any]:
    """The job part of a start request, field for field as the seed SDK sends it."""
    data: dict[str, Any] = {"pass_config": pass_config, "project_name": project}
    optional = {
        "name": name,
        "preset_name": preset_name,
        "tags": list(tags),
        "description": description,
        "schedule_timeout": schedule_timeout,
    }
    data.update({key: value for key, value in optional.items() if value})
    if restart_policy != JobRestartPolicy.NEVER:
        data["restart_policy"] = str(restart_policy)
    if life_span is not None:
        data["max_run_time_minutes"] = int(life_span // 60)
    if wait_for_jobs_quota:
        data["wait_for_jobs_quota"] = True
    if privileged:
        data["privileged"] = True
    if org:
        data["org_name"] = org
    if priority:
        data["priority"] = priority.name.lower()
    if energy_schedule_name:
        data["energy_schedule_name"] = energy_schedule_name
    data["cluster_name"] = cluster
    return data


def full_uri(uri: str, scheme: str, cluster: str, org: str, project: str) -> str:
    """`storage:data` -> `storage://cluster/org/project/data`; a full URI (`storage://...`) is kept."""
    prefix = f"{scheme}:"
    if not uri.startswith(prefix):
        raise ValueError(f"{uri!r} is not a {scheme}: URI")
    rest = uri[len(prefix) :]
    if rest.startswith("//"):
        return uri
    owner = "/".join(part for part in (cluster, org, project) if part)
    return f"{scheme}://{owner}/{rest.lstrip('/')}"


def container_payload(
    container: Container, cluster: str, org: str, project: str, *, shm: bool = False
) -> dict[str, Any]:
    """The container part of a start request (flat for `start`, under `container` for `run`)."""

    def uri(value: str, scheme: str) -> str:
        return full_uri(value, scheme, cluster, org, project)

    data: dict[str, Any] = {"image": container.image}
    if shm:
        data["resources"] = {"shm": True}
    for key in ("entrypoint", "command", "working_dir"):
        if getattr(container, key):
            data[key] = getattr(container, key)
    if container.http:
        data["http"] = container.http.to_json()
    if container.env:
        data["env"] = dict(container.env)
    if container.volumes:
        data["volumes"] = [
            {"src_storage_uri": uri(v.storage_uri, "storage"), "dst_path": v.container_path, "read_only": v.read_only}
            for v in container.volumes
        ]
    if container.secret_env:
        data["secret_env"] = {key: uri(value, "secret") for key, value in container.secret_env.items()}
    if container.secret_files:
        data["secret_volumes"] = [
            {"src_secret_uri": uri(item.secret_uri, "secret"), "dst_path": item.container_path}
            for item in container.secret_files
        ]
    if container.disk_volumes:
        data["disk_volumes"] = [
            {"src_disk_uri": uri(d.disk_uri, "disk"), "dst_path": d.container_path, "read_only": d.read_only}
            for d in container.disk_volumes
        ]
    if container.tty:
        data["tty"] = True
    return data


class ApoloSyncClient:
    """The same calls, blocking: each runs on the client's own event loop in a private thread, so it works from
    any thread, even one with a running loop of its own. `list` returns a list; `monitor` and `top` iterate."""

    def __init__(self, config: ApoloConfig) -> None:
        self.config = config
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="apolo-client", daemon=True)
        self._thread.start()
        self.aio = ApoloClient(config)

    def __enter__(self) -> ApoloSyncClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _run(self, make: Callable[[], Awaitable[T]]) -> T:
        async def wrapped() -> T:
            return await make()

        return asyncio.run_coroutine_threadsafe(wrapped(), self._loop).result()

    def _iterate(self, stream: AsyncIterator[T]) -> Iterator[T]:
        try:
            while True:
                try:
                    yield self._run(lambda: anext(stream))
                except StopAsyncIteration:
                    return
        finally:
            self._run(lambda: stream.aclose())  # type: ignore[attr-defined]

    def close(self) -> None:
        if self._loop.is_closed():
            return
        self._run(self.aio.close)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

    def get_config(self, *, refresh: bool = False) -> ServerConfig:
        return self._run(lambda: self.aio.get_config(refresh=refresh))

    def where(self) -> tuple[str, str, str]:
        return self._run(self.aio.where)

    def start(self, **kwargs: Any) -> JobDescription:
        return self._run(lambda: self.aio.start(**kwargs))

    def run(self, container: Container, **kwargs: Any) -> JobDescription:
        return self._run(lambda: self.aio.run(container, **kwargs))

    def status(self, id: str, *, retry: bool = True) -> JobDescription:
        return self._run(lambda: self.aio.status(id, retry=retry))

    def list(self, **kwargs: Any) -> list[JobDescription]:
        async def collect() -> list[JobDescription]:
            return [job async for job in self.aio.list(**kwargs)]

        return self._run(collect)

    def kill(self, id: str) -> None:
        self._run(lambda: self.aio.kill(id))

    def bump_life_span(self, id: str, additional_life_span: float) -> None:
        self._run(lambda: self.aio.bump_life_span(id, additional_life_span))

    def send_signal(self, id: str, **kwargs: Any) -> None:
        self._run(lambda: self.aio.send_signal(id, **kwargs))

    def get_capacity(self, **kwargs: Any) -> dict[str, int]:
        return self._run(lambda: self.aio.get_capacity(**kwargs))

    def monitor(self, id: str, **kwargs: Any) -> Iterator[bytes]:
        return self._iterate(self.aio.monitor(id, **kwargs))

    def top(self, id: str, **kwargs: Any) -> Iterator[JobTelemetry]:
        return self._iterate(self.aio.top(id, **kwargs))

    def call(self, make: Callable[[ApoloClient], Awaitable[T]]) -> T:
        """Any asyncio helper on this client's loop, e.g. `sync.call(lambda c: read_new_lines(c, job_id, cursor))`."""
        return self._run(lambda: make(self.aio))
