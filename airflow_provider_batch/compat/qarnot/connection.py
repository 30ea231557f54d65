"""`Connection`, like the seed's `qarnot.connection.Connection`: where the API is and the token, and the calls that
list, retrieve and create tasks, jobs, pools and buckets. A thin layer over `QarnotClient` (one HTTP layer, typed
errors, timeouts and retries); change `from qarnot.connection import Connection` to
`from airflow_provider_batch.compat.qarnot.connection import Connection`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from airflow_provider_batch.clients.qarnot.client import QarnotClient
from airflow_provider_batch.clients.qarnot.config import DEFAULT_RETRY, QarnotConfig
from airflow_provider_batch.clients.qarnot.types import Profile, SubmitAnswer, UserInfo
from airflow_provider_batch.common.retry import RetryPolicy
from airflow_provider_batch.compat.qarnot.bucket import Bucket
from airflow_provider_batch.compat.qarnot.exceptions import QarnotGenericException
from airflow_provider_batch.compat.qarnot.job import Job
from airflow_provider_batch.compat.qarnot.paginate import Paging
from airflow_provider_batch.compat.qarnot.pool import Pool
from airflow_provider_batch.compat.qarnot.task import Task


class Connection(Paging):
    """fileconf: an INI file (`[cluster] url`, `[client] token`, `[storage] url`) or a dict of the same keys;
    client_token: the API token; cluster_url: the API (default the public one); cluster_unsafe: skip TLS checks;
    cluster_timeout: seconds per request; storage_url / storage_unsafe: the S3 endpoint; retry_count / retry_wait:
    how many times and from how many seconds apart 429/5xx/network errors are retried (with backoff);
    cluster_custom_certificate / storage_custom_certificate: a PEM file of the certificate authorities to trust for
    the API / the storage (the INI file's `[cluster] custom_certificate`, `[storage] custom_certificate`).
    sanitize_bucket_paths, show_bucket_warnings and logger are accepted for compatibility and not used."""

    def __init__(
        self,
        fileconf: str | Path | dict[str, Any] | None = None,
        client_token: str | None = None,
        cluster_url: str | None = None,
        cluster_unsafe: bool = False,
        cluster_timeout: float | None = None,
        storage_url: str | None = None,
        storage_unsafe: bool = False,
        retry_count: int = 5,
        retry_wait: float = 1.0,
        cluster_custom_certificate: str | None = None,
        storage_custom_certificate: str | None = None,
        sanitize_bucket_paths: bool = True,
        show_bucket_warnings: bool = True,
        logger: Any = None,
    ) -> None:
        fields: dict[str, Any] = {}
        if isinstance(fileconf, dict):
            fields = {
                "token": fileconf.get("client_token"),
                "cluster_url": fileconf.get("cluster_url"),
                "storage_url": fileconf.get("storage_url"),
                "cluster_ca": fileconf.get("cluster_custom_certificate"),
                "storage_ca": fileconf.get("storage_custom_certificate"),
            }
            fileconf = None
        retry = DEFAULT_RETRY
        if retry_count != 5 or retry_wait != 1.0:
            retry = RetryPolicy(max_attempts=max(1, retry_count + 1), initial_backoff=retry_wait, max_backoff=10.0)
        config = QarnotConfig.resolve(
            token=client_token or fields.get("token"),
            cluster_url=cluster_url or fields.get("cluster_url"),
            cluster_unsafe=cluster_unsafe or None,  # False leaves the file's choice
            timeout=cluster_timeout,
            storage_url=storage_url or fields.get("storage_url"),
            storage_unsafe=storage_unsafe or None,
            fileconf=fileconf,
            retry=retry,
            cluster_ca=cluster_custom_certificate or fields.get("cluster_ca"),
            storage_ca=storage_custom_certificate or fields.get("storage_ca"),
        )
        self._client = QarnotClient(config)
        self._s3resource: Any = None

    @property
    def client(self) -> QarnotClient:
        """Our typed client underneath, for what the seed's objects do not offer."""
        return self._client

    def close(self) -> None:
        self._client.close()

    @property
    def s3client(self) -> Any:
        """The boto3 S3 client on the storage endpoint (the user's email and token as its keys)."""
        return self._client.get_storage().s3client

    @property
    def s3resource(self) -> Any:
        """A boto3 S3 resource on the storage endpoint, with the same keys and TLS check (made once)."""
        if self._s3resource is None:
            self._s3resource = self._client.get_storage().s3resource()
        return self._s3resource

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- account -------------------------------------------------------------------------------------------------

    @property
    def user_info(self) -> UserInfo:
        """The account (`.email`, and the API's other fields in `.raw`)."""
        return self._client.user_info()

    def profiles_names(self) -> list[str]:
        return self._client.profiles()

    def profiles(self) -> list[Profile]:
        return [self._client.retrieve_profile(name) for name in self._client.profiles()]

    def retrieve_profile(self, name: str) -> Profile:
        return self._client.retrieve_profile(name)

    def profile_details(self, profile_name: str) -> Profile:
        """The profile's details (its constants and their defaults); MissingProfileException when unknown."""
        return self._client.retrieve_profile(profile_name)

    # -- lists and lookups -----------------------------------------------------------------------------------------

    def tasks(
        self, tags: Sequence[str] | None = None, summary: bool = True, tags_intersect: Sequence[str] | None = None
    ) -> list[Task]:
        return [Task._from_api(self, t) for t in self._client.tasks(tags, tags_intersect)]

    def jobs(self, tags: Sequence[str] | None = None, tags_intersect: Sequence[str] | None = None) -> list[Job]:
        return [Job._from_api(self, j) for j in self._client.jobs(tags, tags_intersect)]

    def pools(
        self, summary: bool = True, tags_intersect: Sequence[str] | None = None, tags: Sequence[str] | None = None
    ) -> list[Pool]:
        return [Pool._from_api(self, p) for p in self._client.pools(tags, tags_intersect)]

    def retrieve_task(self, uuid: str) -> Task:
        """MissingTaskException when there is no such task."""
        return Task._from_api(self, self._client.retrieve_task(uuid))

    def retrieve_job(self, uuid: str) -> Job:
        return Job._from_api(self, self._client.retrieve_job(uuid))

    def retrieve_pool(self, uuid: str) -> Pool:
        return Pool._from_api(self, self._client.retrieve_pool(uuid))

    # -- builders (no call until submit) ---------------------------------------------------------------------------

    def create_task(
        self,
        name: str,
        profile_or_pool: str | Pool | None = None,
        instancecount_or_range: int | str = 1,
        shortname: str | None = None,
        job: Job | None = None,
    ) -> Task:
        return Task(self, name, profile_or_pool, instancecount_or_range, shortname, job)

    def create_job(
        self,
        name: str,
        pool: Pool | None = None,
        shortname: str | None = None,
        useDependencies: bool = False,
    ) -> Job:
        return Job(self, name, pool, shortname, useDependencies)

    def create_pool(self, name: str, profile: str, instancecount: int = 1, shortname: str | None = None) -> Pool:
        return Pool(self, name, profile, instancecount, shortname)

    def create_elastic_pool(
        self,
        name: str,
        profile: str,
        minimum_total_slots: int = 0,
        maximum_total_slots: int = 1,
        minimum_idle_slots: int = 0,
        minimum_idle_time_seconds: int = 0,
        resize_factor: float = 1,
        resize_period: int = 90,
        shortname: str | None = None,
    ) -> Pool:
        pool = Pool(self, name, profile, minimum_total_slots, shortname)
        pool.setup_elastic(
            minimum_total_slots, maximum_total_slots, minimum_idle_slots, minimum_idle_time_seconds, resize_factor,
            resize_period,
        )  # fmt: skip
        return pool

    def submit_tasks(self, tasks: Sequence[Task]) -> None:
        """Submit many tasks in one call; a refused one raises QarnotGenericException with the server's words (the
        accepted ones are submitted and have their uuid)."""
        answers: list[SubmitAnswer] = self._client.submit_tasks([t._spec() for t in tasks])
        refused = []
        for task, answer in zip(tasks, answers, strict=True):
            if answer.ok:
                task._uuid = answer.uuid
                if not isinstance(task._snapshots, bool):  # snapshot(interval) asked for before submit
                    task.snapshot(task._snapshots)
                task.update(True)
            else:
                refused.append(f"{task.name}: {answer.status_code} {answer.message}")
        if refused:
            raise QarnotGenericException("POST /tasks", "refused", "; ".join(refused))

    # -- buckets ---------------------------------------------------------------------------------------------------

    def create_bucket(self, name: str) -> Bucket:
        self._client.create_bucket(name)
        return Bucket(self, name, create=False)

    def retrieve_bucket(self, uuid: str) -> Bucket:
        """MissingBucketException when there is no such bucket."""
        self._client.retrieve_bucket(uuid)
        return Bucket(self, uuid, create=False)

    def retrieve_or_create_bucket(self, uuid: str) -> Bucket:
        return Bucket(self, uuid, create=True)

    def buckets(self) -> list[Bucket]:
        return [Bucket(self, name, create=False) for name in self._client.buckets()]
