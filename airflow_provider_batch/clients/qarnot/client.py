"""Qarnot clients: `QarnotClient` (requests) and `QarnotAsyncClient` (aiohttp) with the same method names.

They cover what the seed SDK's `Connection`, `Task`, `Job` and `Pool` offer a batch orchestrator, without its traps:
every request has a timeout, 429/5xx/network errors are retried with backoff (submissions only on 429: a lost answer
may hide a created task, so the caller looks it up by tag first), errors are typed (`qarnot_errors`), no property
read makes a hidden call, and the asyncio client never blocks its loop (bucket calls run boto3 in a thread).
No Airflow import here.

    client = QarnotClient(QarnotConfig.resolve(token="...", cluster_url="https://api.qarnot.com"))
    spec = client.create_task("hello", "docker-batch", 2, constants={"DOCKER_CMD": "echo hi"})
    uuid = client.submit_task(spec)
    client.retrieve_task(uuid).state
"""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import requests

from airflow_provider_batch import __version__
from airflow_provider_batch.clients.qarnot import requests as api
from airflow_provider_batch.clients.qarnot import snapshots
from airflow_provider_batch.clients.qarnot.config import DEFAULT_STORAGE_URL, QarnotConfig
from airflow_provider_batch.clients.qarnot.errors import (
    QarnotError,
    QarnotStorageUnavailableError,
    error_for,
    network_error,
)
from airflow_provider_batch.clients.qarnot.requests import DEFAULT_PAGE_SIZE, Request
from airflow_provider_batch.clients.qarnot.snapshots import SnapshotConfig, SnapshotStatus
from airflow_provider_batch.clients.qarnot.storage import QarnotStorage
from airflow_provider_batch.clients.qarnot.types import (
    ElasticSettings,
    JobSpec,
    Page,
    PoolSpec,
    Profile,
    QarnotJob,
    QarnotPool,
    QarnotTask,
    ResourceBucket,
    SubmitAnswer,
    TaskSpec,
    UserInfo,
)
from airflow_provider_batch.common.retry import NO_RETRY

T = TypeVar("T")
USER_AGENT = f"airflow-provider-batch/{__version__}"


def _retryable(request: Request[Any]) -> Any:
    def check(error: BaseException) -> bool:
        if not isinstance(error, QarnotError) or not error.retryable:
            return False
        return request.idempotent or error.status == "429"

    return check


def _decode(request: Request[T], text: str) -> T:
    if request.text:
        return request.parse(text)
    try:
        data = json.loads(text) if text.strip() else None
    except ValueError:
        raise QarnotError(request.call, "bad answer", f"not JSON: {text[:200]!r}") from None
    return request.parse(data)


def storage_url_from(settings: Mapping[str, Any]) -> str:
    """GET /settings' storage URL: absent means the public storage, null means this cluster has none."""
    if "storage" not in settings:
        return DEFAULT_STORAGE_URL
    url = settings["storage"]
    if not url:
        raise QarnotStorageUnavailableError("GET /settings", "no storage", "this cluster has no bucket storage")
    return str(url)


class _Specs:
    """The seed's `create_*` builders: they make specs to submit, and call nothing."""

    config: QarnotConfig

    @staticmethod
    def create_task(
        name: str,
        profile_or_pool: str | None = None,
        instances: int | str = 1,
        *,
        pool_uuid: str | None = None,
        job_uuid: str | None = None,
        constants: Mapping[str, str] | None = None,
        tags: Sequence[str] = (),
        shortname: str | None = None,
        resources: Sequence[str | ResourceBucket] = (),
        result_bucket: str | None = None,
        **more: Any,
    ) -> TaskSpec:
        """instances: a count, or ranges such as "0-3,7"; profile_or_pool: a profile name (or pass pool_uuid)."""
        ranges = instances if isinstance(instances, str) else None
        return TaskSpec(
            name=name,
            profile=None if pool_uuid else profile_or_pool,
            pool_uuid=pool_uuid,
            job_uuid=job_uuid,
            instance_count=None if ranges else int(instances),
            advanced_ranges=ranges,
            constants=dict(constants or {}),
            tags=list(tags),
            shortname=shortname,
            resources=[r if isinstance(r, ResourceBucket) else ResourceBucket(r) for r in resources],
            result_bucket=result_bucket,
            **more,
        )

    @staticmethod
    def create_job(
        name: str,
        pool_uuid: str | None = None,
        shortname: str | None = None,
        use_dependencies: bool = False,
        max_wall_time: timedelta | float | str | None = None,
        auto_delete: bool = False,
        completion_ttl: timedelta | float | str | None = None,
        tags: Sequence[str] = (),
    ) -> JobSpec:
        return JobSpec(name, shortname, pool_uuid, use_dependencies, max_wall_time, auto_delete, completion_ttl, tags)

    @staticmethod
    def create_pool(name: str, profile: str, instance_count: int = 1, **more: Any) -> PoolSpec:
        return PoolSpec(name=name, profile=profile, instance_count=instance_count, **more)

    @staticmethod
    def create_elastic_pool(
        name: str, profile: str, min_slots: int = 0, max_slots: int = 1, min_idle_slots: int = 0, **more: Any
    ) -> PoolSpec:
        elastic = ElasticSettings(min_total_slots=min_slots, max_total_slots=max_slots, min_idle_slots=min_idle_slots)
        return PoolSpec(name=name, profile=profile, instance_count=min_slots, elastic=elastic, **more)

    def _headers(self, with_body: bool) -> dict[str, str]:
        headers = {"Authorization": self.config.token, "User-Agent": USER_AGENT}
        if with_body:
            headers["Content-Type"] = "application/json"
        return headers


class QarnotClient(_Specs):
    """The synchronous client (requests). `config` says where the API is and carries the token."""

    def __init__(self, config: QarnotConfig, session: requests.Session | None = None) -> None:
        self.config = config
        self._session = session or requests.Session()
        self._storage: QarnotStorage | None = None

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> QarnotClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def send(self, request: Request[T], *, retry: bool = True) -> T:
        """Send one call, retrying what may be retried (retry=False: one try, for a caller that retries on its own,
        such as a wait policy); the answer parsed, or a typed QarnotError."""
        policy = self.config.retry if retry else NO_RETRY
        return policy.call(lambda: self._once(request), _retryable(request), request.call)

    def _once(self, request: Request[T]) -> T:
        body = None if request.body is None else json.dumps(request.body)
        try:
            response = self._session.request(
                request.method,
                self.config.cluster_url + request.path,
                data=body,
                headers=self._headers(body is not None),
                timeout=self.config.timeout,
                verify=self.config.cluster_verify,
            )
        except requests.RequestException as error:
            raise network_error(request.call, error) from None
        if response.status_code >= 400:
            raise error_for(request.call, response.status_code, response.text, response.reason or "", request.missing)
        return _decode(request, response.text)

    # -- account ----------------------------------------------------------------------------------------------

    def settings(self) -> dict[str, Any]:
        return self.send(api.settings())

    def user_info(self) -> UserInfo:
        return self.send(api.user_info())

    def profiles(self) -> list[str]:
        return self.send(api.profiles())

    def retrieve_profile(self, name: str) -> Profile:
        return self.send(api.retrieve_profile(name))

    # -- lists ------------------------------------------------------------------------------------------------

    def tasks_page(
        self, token: str | None = None, maximum: int | None = DEFAULT_PAGE_SIZE, *, retry: bool = True, **filters: Any
    ) -> Page:
        """One page of tasks; filters: tags (any of them), tags_intersect (all of them), filter_ (a raw filter)."""
        return self.send(api.tasks_page(token, maximum, **filters), retry=retry)

    def tasks(
        self,
        tags: Sequence[str] | None = None,
        tags_intersect: Sequence[str] | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> list[QarnotTask]:
        """Every task (with any of `tags`, or all of `tags_intersect`), `page_size` a call, page after page."""
        return self._all(lambda token: api.tasks_page(token, page_size, tags, tags_intersect))

    def jobs(
        self,
        tags: Sequence[str] | None = None,
        tags_intersect: Sequence[str] | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> list[QarnotJob]:
        return self._all(lambda token: api.jobs_page(token, page_size, tags, tags_intersect))

    def pools(
        self,
        tags: Sequence[str] | None = None,
        tags_intersect: Sequence[str] | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> list[QarnotPool]:
        return self._all(lambda token: api.pools_page(token, page_size, tags, tags_intersect))

    def _all(self, page_of: Any) -> list[Any]:
        items: list[Any] = []
        token = None
        while True:
            page: Page = self.send(page_of(token))
            items += page.items
            if not page.is_truncated or not page.next_token:
                return items
            token = page.next_token

    # -- tasks ------------------------------------------------------------------------------------------------

    def retrieve_task(self, uuid: str, *, retry: bool = True) -> QarnotTask:
        return self.send(api.retrieve_task(uuid), retry=retry)

    def submit_task(self, spec: TaskSpec) -> str:
        """POST /tasks; the new task's uuid."""
        return self.send(api.submit_task(spec))

    def snapshot(self, uuid: str, interval: int, config: SnapshotConfig | None = None) -> None:
        """Periodic snapshots of a running task every `interval` seconds (see clients/qarnot/snapshots.py)."""
        self.send(snapshots.periodic_snapshot(uuid, interval, config or SnapshotConfig()))

    def instant_snapshot(self, uuid: str, config: SnapshotConfig | None = None) -> str:
        """One snapshot of a running task now; its id, for `snapshot_status`."""
        return self.send(snapshots.instant_snapshot(uuid, config or SnapshotConfig()))

    def snapshot_status(self, uuid: str, snapshot_id: str) -> SnapshotStatus:
        return self.send(snapshots.snapshot_status(uuid, snapshot_id))

    def submit_tasks(self, specs: Sequence[TaskSpec]) -> list[SubmitAnswer]:
        """Many tasks in one POST; one answer per task, in order (a refused task has ok False and a message)."""
        return self.send(api.submit_tasks(specs))

    def abort_task(self, uuid: str) -> None:
        self.send(api.abort_task(uuid))

    def delete_task(self, uuid: str) -> None:
        self.send(api.delete_task(uuid))

    def stdout(self, uuid: str, instance_id: int | None = None) -> str:
        return self.send(api.task_output(uuid, "stdout", False, instance_id))

    def stderr(self, uuid: str, instance_id: int | None = None) -> str:
        return self.send(api.task_output(uuid, "stderr", False, instance_id))

    def fresh_stdout(self, uuid: str, instance_id: int | None = None) -> str:
        return self.send(api.task_output(uuid, "stdout", True, instance_id))

    def fresh_stderr(self, uuid: str, instance_id: int | None = None) -> str:
        return self.send(api.task_output(uuid, "stderr", True, instance_id))

    # -- jobs -------------------------------------------------------------------------------------------------

    def submit_job(self, spec: JobSpec) -> QarnotJob:
        """POST /jobs/ then GET it, like the seed."""
        return self.retrieve_job(self.send(api.submit_job(spec)))

    def retrieve_job(self, uuid: str) -> QarnotJob:
        return self.send(api.retrieve_job(uuid))

    def update_job(self, uuid: str) -> QarnotJob:
        """The job as the API sees it now."""
        return self.retrieve_job(uuid)

    def terminate_job(self, uuid: str) -> None:
        self.send(api.terminate_job(uuid))

    def delete_job(self, uuid: str, force: bool = False) -> None:
        """force: abort its running tasks first (otherwise the API refuses with 403 while some run)."""
        self.send(api.delete_job(uuid, force))

    def job_tasks(self, uuid: str) -> list[QarnotTask]:
        return self.send(api.job_tasks(uuid))

    # -- pools ------------------------------------------------------------------------------------------------

    def submit_pool(self, spec: PoolSpec) -> QarnotPool:
        return self.retrieve_pool(self.send(api.submit_pool(spec)))

    def retrieve_pool(self, uuid: str) -> QarnotPool:
        return self.send(api.retrieve_pool(uuid))

    def close_pool(self, uuid: str) -> None:
        self.send(api.close_pool(uuid))

    def delete_pool(self, uuid: str) -> None:
        self.send(api.delete_pool(uuid))

    # -- buckets ----------------------------------------------------------------------------------------------

    def get_storage(self) -> QarnotStorage:
        """The S3 client, built once: URL from the config or GET /settings, access key = the user's email."""
        if self._storage is None:
            url = self.config.storage_url or storage_url_from(self.settings())
            email = self.user_info().email
            verify = self.config.storage_verify
            self._storage = QarnotStorage(url, email, self.config.token, verify, self.config.timeout)
        return self._storage

    def create_bucket(self, name: str) -> str:
        return self.get_storage().create_bucket(name)

    def retrieve_bucket(self, name: str) -> str:
        return self.get_storage().retrieve_bucket(name)

    def retrieve_or_create_bucket(self, name: str) -> str:
        return self.get_storage().retrieve_or_create_bucket(name)

    def buckets(self) -> list[str]:
        return self.get_storage().buckets()

    def delete_bucket(self, name: str) -> None:
        self.get_storage().delete_bucket(name)

    def list_files(self, bucket: str, prefix: str = "") -> list[str]:
        return self.get_storage().list_files(bucket, prefix)

    def upload_file(self, bucket: str, local: str | Path, key: str | None = None) -> str:
        return self.get_storage().upload_file(bucket, local, key)

    def upload_folder(self, bucket: str, local: str | Path, prefix: str = "") -> list[str]:
        return self.get_storage().upload_folder(bucket, local, prefix)

    def download_file(self, bucket: str, key: str, local: str | Path) -> Path:
        return self.get_storage().download_file(bucket, key, local)

    def download_folder(self, bucket: str, local: str | Path, prefix: str = "") -> list[Path]:
        return self.get_storage().download_folder(bucket, local, prefix)


class QarnotAsyncClient(_Specs):
    """The asyncio client (aiohttp), same method names as QarnotClient; call `await close()` when done."""

    def __init__(self, config: QarnotConfig) -> None:
        self.config = config
        self._session: aiohttp.ClientSession | None = None
        self._storage: QarnotStorage | None = None
        self._ssl_context: ssl.SSLContext | None = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> QarnotAsyncClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.config.timeout))
        return self._session

    async def send(self, request: Request[T], *, retry: bool = True) -> T:
        policy = self.config.retry if retry else NO_RETRY
        return await policy.acall(lambda: self._once(request), _retryable(request), request.call)

    def _ssl(self) -> bool | ssl.SSLContext:
        """aiohttp's `ssl`: False (unsafe), a context trusting `cluster_ca`, or True (the system's)."""
        verify = self.config.cluster_verify
        if isinstance(verify, bool):
            return verify
        if self._ssl_context is None:
            self._ssl_context = ssl.create_default_context(cafile=verify)
        return self._ssl_context

    async def _once(self, request: Request[T]) -> T:
        body = None if request.body is None else json.dumps(request.body)
        try:
            async with self._http().request(
                request.method,
                self.config.cluster_url + request.path,
                data=body,
                headers=self._headers(body is not None),
                ssl=self._ssl(),
            ) as response:
                text = await response.text()
                status, reason = response.status, response.reason or ""
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as error:
            raise network_error(request.call, error) from None
        if status >= 400:
            raise error_for(request.call, status, text, reason, request.missing)
        return _decode(request, text)

    # -- account ----------------------------------------------------------------------------------------------

    async def settings(self) -> dict[str, Any]:
        return await self.send(api.settings())

    async def user_info(self) -> UserInfo:
        return await self.send(api.user_info())

    async def profiles(self) -> list[str]:
        return await self.send(api.profiles())

    async def retrieve_profile(self, name: str) -> Profile:
        return await self.send(api.retrieve_profile(name))

    # -- lists ------------------------------------------------------------------------------------------------

    async def tasks_page(
        self, token: str | None = None, maximum: int | None = DEFAULT_PAGE_SIZE, *, retry: bool = True, **filters: Any
    ) -> Page:
        return await self.send(api.tasks_page(token, maximum, **filters), retry=retry)

    async def tasks(
        self,
        tags: Sequence[str] | None = None,
        tags_intersect: Sequence[str] | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> list[QarnotTask]:
        return await self._all(lambda token: api.tasks_page(token, page_size, tags, tags_intersect))

    async def jobs(
        self,
        tags: Sequence[str] | None = None,
        tags_intersect: Sequence[str] | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> list[QarnotJob]:
        return await self._all(lambda token: api.jobs_page(token, page_size, tags, tags_intersect))

    async def pools(
        self,
        tags: Sequence[str] | None = None,
        tags_intersect: Sequence[str] | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> list[QarnotPool]:
        return await self._all(lambda token: api.pools_page(token, page_size, tags, tags_intersect))

    async def _all(self, page_of: Any) -> list[Any]:
        items: list[Any] = []
        token = None
        while True:
            page: Page = await self.send(page_of(token))
            items += page.items
            if not page.is_truncated or not page.next_token:
                return items
            token = page.next_token

    # -- tasks ------------------------------------------------------------------------------------------------

    async def retrieve_task(self, uuid: str, *, retry: bool = True) -> QarnotTask:
        return await self.send(api.retrieve_task(uuid), retry=retry)

    async def submit_task(self, spec: TaskSpec) -> str:
        return await self.send(api.submit_task(spec))

    async def submit_tasks(self, specs: Sequence[TaskSpec]) -> list[SubmitAnswer]:
        return await self.send(api.submit_tasks(specs))

    async def snapshot(self, uuid: str, interval: int, config: SnapshotConfig | None = None) -> None:
        await self.send(snapshots.periodic_snapshot(uuid, interval, config or SnapshotConfig()))

    async def instant_snapshot(self, uuid: str, config: SnapshotConfig | None = None) -> str:
        return await self.send(snapshots.instant_snapshot(uuid, config or SnapshotConfig()))

    async def snapshot_status(self, uuid: str, snapshot_id: str) -> SnapshotStatus:
        return await self.send(snapshots.snapshot_status(uuid, snapshot_id))

    async def abort_task(self, uuid: str) -> None:
        await self.send(api.abort_task(uuid))

    async def delete_task(self, uuid: str) -> None:
        await self.send(api.delete_task(uuid))

    async def stdout(self, uuid: str, instance_id: int | None = None) -> str:
        return await self.send(api.task_output(uuid, "stdout", False, instance_id))

    async def stderr(self, uuid: str, instance_id: int | None = None) -> str:
        return await self.send(api.task_output(uuid, "stderr", False, instance_id))

    async def fresh_stdout(self, uuid: str, instance_id: int | None = None) -> str:
        return await self.send(api.task_output(uuid, "stdout", True, instance_id))

    async def fresh_stderr(self, uuid: str, instance_id: int | None = None) -> str:
        return await self.send(api.task_output(uuid, "stderr", True, instance_id))

    # -- jobs -------------------------------------------------------------------------------------------------

    async def submit_job(self, spec: JobSpec) -> QarnotJob:
        return await self.retrieve_job(await self.send(api.submit_job(spec)))

    async def retrieve_job(self, uuid: str) -> QarnotJob:
        return await self.send(api.retrieve_job(uuid))

    async def update_job(self, uuid: str) -> QarnotJob:
        return await self.retrieve_job(uuid)

    async def terminate_job(self, uuid: str) -> None:
        await self.send(api.terminate_job(uuid))

    async def delete_job(self, uuid: str, force: bool = False) -> None:
        await self.send(api.delete_job(uuid, force))

    async def job_tasks(self, uuid: str) -> list[QarnotTask]:
        return await self.send(api.job_tasks(uuid))

    # -- pools ------------------------------------------------------------------------------------------------

    async def submit_pool(self, spec: PoolSpec) -> QarnotPool:
        return await self.retrieve_pool(await self.send(api.submit_pool(spec)))

    async def retrieve_pool(self, uuid: str) -> QarnotPool:
        return await self.send(api.retrieve_pool(uuid))

    async def close_pool(self, uuid: str) -> None:
        await self.send(api.close_pool(uuid))

    async def delete_pool(self, uuid: str) -> None:
        await self.send(api.delete_pool(uuid))

    # -- buckets (boto3 in a thread) --------------------------------------------------------------------------

    async def get_storage(self) -> QarnotStorage:
        if self._storage is None:
            url = self.config.storage_url or storage_url_from(await self.settings())
            email = (await self.user_info()).email
            verify = self.config.storage_verify
            self._storage = await asyncio.to_thread(
                QarnotStorage, url, email, self.config.token, verify, self.config.timeout
            )
        return self._storage

    async def create_bucket(self, name: str) -> str:
        return await asyncio.to_thread((await self.get_storage()).create_bucket, name)

    async def retrieve_bucket(self, name: str) -> str:
        return await asyncio.to_thread((await self.get_storage()).retrieve_bucket, name)

    async def retrieve_or_create_bucket(self, name: str) -> str:
        return await asyncio.to_thread((await self.get_storage()).retrieve_or_create_bucket, name)

    async def buckets(self) -> list[str]:
        return await asyncio.to_thread((await self.get_storage()).buckets)

    async def delete_bucket(self, name: str) -> None:
        await asyncio.to_thread((await self.get_storage()).delete_bucket, name)

    async def list_files(self, bucket: str, prefix: str = "") -> list[str]:
        return await asyncio.to_thread((await self.get_storage()).list_files, bucket, prefix)

    async def upload_file(self, bucket: str, local: str | Path, key: str | None = None) -> str:
        return await asyncio.to_thread((await self.get_storage()).upload_file, bucket, local, key)

    async def upload_folder(self, bucket: str, local: str | Path, prefix: str = "") -> list[str]:
        return await asyncio.to_thread((await self.get_storage()).upload_folder, bucket, local, prefix)

    async def download_file(self, bucket: str, key: str, local: str | Path) -> Path:
        return await asyncio.to_thread((await self.get_storage()).download_file, bucket, key, local)

    async def download_folder(self, bucket: str, local: str | Path, prefix: str = "") -> list[Path]:
        return await asyncio.to_thread((await self.get_storage()).download_folder, bucket, local, prefix)


__all__ = ["QarnotAsyncClient", "QarnotClient", "QarnotConfig"]
