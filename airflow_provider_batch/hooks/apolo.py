"""The Apolo connection: the API URL, a token (or a passed-config blob), the cluster, org and project; Apolo jobs as
batch jobs in the common vocabulary."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow_provider_batch.clients.apolo.client import ApoloClient, ApoloSyncClient
from airflow_provider_batch.clients.apolo.config import (
    DEFAULT_API_URL,
    DEFAULT_TIMEOUT,
    ApoloConfig,
    looks_like_passed_config,
)
from airflow_provider_batch.clients.apolo.errors import ApoloNameTakenError, ApoloNotFoundError
from airflow_provider_batch.clients.apolo.logs import read_new_lines
from airflow_provider_batch.clients.apolo.types import ApoloJobStatus as ApoloStatus
from airflow_provider_batch.clients.apolo.types import (
    DiskVolume,
    HTTPPort,
    JobDescription,
    JobPriority,
    SecretFile,
    Volume,
)
from airflow_provider_batch.common.errors import connection_test_failure
from airflow_provider_batch.common.identity import (
    PROVIDER_TAG,
    JobIdentity,
    identity_tag,
    key_value_tags,
    submission_tag,
)
from airflow_provider_batch.common.jobref import JobRef
from airflow_provider_batch.common.retry import RetryPolicy
from airflow_provider_batch.common.states import JobState, JobStatus
from airflow_provider_batch.common.submit import submit_once
from airflow_provider_batch.common.urls import fill_url_template
from airflow_provider_batch.hooks.base import as_float
from airflow_provider_batch.hooks.rest import RestHook

log = logging.getLogger(__name__)

# Apolo's statuses in the common vocabulary. A suspended (preempted) job waits to run again; `unknown` (a status
# this provider does not know) is not an answer: the job is looked at again, within the unknown-job grace period.
STATE_TABLE: dict[ApoloStatus, JobState] = {
    ApoloStatus.PENDING: JobState.QUEUED,
    ApoloStatus.SUSPENDED: JobState.QUEUED,
    ApoloStatus.RUNNING: JobState.RUNNING,
    ApoloStatus.SUCCEEDED: JobState.SUCCEEDED,
    ApoloStatus.FAILED: JobState.FAILED,
    ApoloStatus.CANCELLED: JobState.CANCELLED,
    ApoloStatus.UNKNOWN: JobState.UNKNOWN,
}
JOB_NAME_MAX = 40
WHITESPACE = re.compile(r"\s+")
SUBMIT_RETRY = RetryPolicy(max_attempts=5, initial_backoff=0.5, max_backoff=10.0)
# aget_statuses lists the jobs started since the oldest watched one, less this margin (clocks differ).
LIST_MARGIN = timedelta(minutes=5)
# job_url_template: `{id}`, the form this provider's first versions documented, means {job_id}.
URL_ALIASES = {"{id}": "job_id"}


def token_user(token: str) -> str:
    """The user a JWT names (its `identity` claim, as Apolo's SDK reads it; the signature is not checked), or ""
    when the token is not a JWT. Only the name is read: the token itself is never shown."""
    parts = token.split(".")
    if len(parts) != 3:
        return ""
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError:
        return ""
    user = claims.get("identity") if isinstance(claims, dict) else None
    return str(user) if isinstance(user, str) else ""


def job_name_of(identity: JobIdentity, generation: int, prefix: str | None = None) -> str:
    """A deterministic job name within Apolo's rules (3 to 40 characters, `[a-z](-?[a-z0-9])*`): a readable part
    (`prefix`, default the task id) and a hash of the submission. Apolo keeps one live job per name and project."""
    digest = hashlib.sha256(f"{identity.uri}#{generation}".encode()).hexdigest()[:10]
    readable = re.sub(r"-+", "-", re.sub(r"[^a-z0-9]+", "-", (prefix or identity.task_id).lower())).strip("-")
    if not readable or not readable[0].isalpha():
        readable = "af-" + readable
    readable = readable[: JOB_NAME_MAX - len(digest) - 1].rstrip("-")
    return f"{readable}-{digest}"


def identity_tags(identity: JobIdentity) -> list[str]:
    """`airflow.dag_id=...` and its siblings (no whitespace, at most 256 characters each, as Apolo wants)."""
    return [WHITESPACE.sub("_", tag)[:256] for tag in key_value_tags(identity)]


def to_job_status(job: JobDescription) -> JobStatus:
    common = STATE_TABLE[job.status]
    reason = job.failure_reason() if common in (JobState.FAILED, JobState.CANCELLED, JobState.UNKNOWN) else ""
    return JobStatus(common, job.status.value, reason)


def missing_status(job_id: str, message: str = "") -> JobStatus:
    return JobStatus(JobState.UNKNOWN, "missing", message or f"Apolo does not know job {job_id}")


@dataclass(frozen=True)
class ApoloSubmission:
    """What the operator asks the hook to start: `start()`'s arguments (checked), without name and tags' own part.

    name_prefix: the readable part of the deterministic job name; tags: the DAG author's tags (the hook adds its own).
    """

    image: str
    preset_name: str
    command: str | None = None
    entrypoint: str | None = None
    working_dir: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    secret_env: Mapping[str, str] = field(default_factory=dict)
    volumes: Sequence[Volume] = ()
    secret_files: Sequence[SecretFile] = ()
    disk_volumes: Sequence[DiskVolume] = ()
    http: HTTPPort | None = None
    tags: Sequence[str] = ()
    description: str | None = None
    life_span: float | None = None
    schedule_timeout: float | None = None
    priority: JobPriority | None = None
    pass_config: bool = False
    wait_for_jobs_quota: bool = False
    privileged: bool = False
    name_prefix: str | None = None

    def start_arguments(self, name: str, tags: Sequence[str]) -> dict[str, Any]:
        arguments = {key: getattr(self, key) for key in self.__dataclass_fields__ if key != "name_prefix"}
        return {**arguments, "name": name, "tags": list(tags)}


@dataclass(frozen=True)
class ApoloSettings:
    """An `apolo` connection read and checked."""

    config: ApoloConfig
    job_url_template: str = ""

    @property
    def endpoint(self) -> str:
        """Where the connection points, for messages."""
        return self.config.url

    @classmethod
    def from_connection(cls, conn: Any) -> ApoloSettings:
        extra = conn.extra_dejson or {}
        url = api_url_of(conn.host, conn.schema, conn.port)
        secret = str(extra.get("passed_config") or conn.password or "").strip()
        if not secret:
            raise ValueError(
                f"connection {conn.conn_id}: the password (an Apolo token or a passed-config blob) is empty"
            )
        common: dict[str, Any] = {
            "cluster": str(extra.get("cluster") or ""),
            "org": str(extra.get("org") or ""),
            "project": str(extra.get("project") or ""),
            "timeout": as_float(extra.get("timeout"), "timeout", DEFAULT_TIMEOUT),
        }
        if looks_like_passed_config(secret):
            config = ApoloConfig.from_passed_config(secret, url=url if conn.host else None, **common)
        else:
            config = ApoloConfig(token=secret, url=url, **common)
        return cls(config, str(extra.get("job_url_template") or ""))


class ApoloHook(RestHook[ApoloSubmission, ApoloSettings, ApoloSyncClient, ApoloClient]):
    """Talks to Apolo through an `apolo` connection.

    host: the API URL (default https://api.apolo.us/api/v1); password: the token, or a passed-config blob (base64
    JSON {token, cluster, url, org_name, project_name}, e.g. a service account's token). Extras: passed_config (the
    blob, instead of the password), cluster, org, project (default: the blob's, else the first ones the token has),
    timeout (seconds per request, default 60), job_url_template (a link to a job; `{job_id}`, also written `{id}`,
    and `{name}` are filled in: see common/urls.py).
    """

    conn_name_attr = "apolo_conn_id"
    default_conn_name = "apolo_default"
    conn_type = "apolo"
    hook_name = "Apolo"
    backend = "apolo"

    settings_class = ApoloSettings
    client_class = ApoloSyncClient
    async_client_class = ApoloClient

    def __init__(self, apolo_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(apolo_conn_id, **kwargs)

    def test_connection(self) -> tuple[bool, str]:
        """GET /config with the token: whether it is accepted, and the user, cluster, org and project it works in."""
        try:
            self.client.get_config(refresh=True)
            cluster, org, project = self.client.where()
        except Exception as error:  # the UI shows the message
            return False, connection_test_failure(error, self.conn_id, self.endpoint())
        finally:
            self.close()  # its HTTP session, which nothing else would close in a one-off test
        user = token_user(self.settings.config.token)
        who = f"the token of user {user}" if user else "the token"
        where = f"cluster {cluster}, org {org}, project {project}"
        return True, f"Apolo at {self.settings.config.url} accepts {who} ({where})"

    # -- jobs --------------------------------------------------------------------------------------------------

    def submit_job(self, request: ApoloSubmission, identity: JobIdentity, generation: int) -> JobRef:
        tag = submission_tag(identity, generation)
        tags = [*request.tags, PROVIDER_TAG, identity_tag(identity), tag, *identity_tags(identity)]
        name = job_name_of(identity, generation, request.name_prefix)
        arguments = request.start_arguments(name, list(dict.fromkeys(tags)))
        job = self._start_once(arguments, tag)
        return self._ref_of(job)

    def _start_once(self, arguments: dict[str, Any], tag: str) -> JobDescription:
        """Start the job; after a lost answer (or a 400 saying a live job has this name), look for it by its
        submission tag before starting it again."""

        def earlier() -> JobDescription | None:
            found = self.client.list(tags=[tag], reverse=True, limit=1)
            if found:
                log.info("found job %s from an earlier start whose answer was lost", found[0].id)
            return found[0] if found else None

        send = lambda: self.client.start(**arguments)  # noqa: E731
        return submit_once(send, earlier, ApoloNameTakenError, SUBMIT_RETRY, f"start job {arguments['name']}")

    def _ref_of(self, job: JobDescription) -> JobRef:
        details = {"name": job.name or ""}
        tag = next((t for t in job.tags if t.startswith("airflow-job-")), "")
        if tag:
            details["tag"] = tag
        if job.history.created_at is not None:
            details["created_at"] = job.history.created_at.isoformat()
        return self.job_ref(job.id, details)

    def find_jobs(self, request: ApoloSubmission, identity: JobIdentity) -> list[tuple[JobRef, JobStatus]]:
        found = self.client.list(tags=[identity_tag(identity)], reverse=True)
        return [(self._ref_of(job), to_job_status(job)) for job in found]

    def get_status(self, job: JobRef) -> JobStatus:
        try:
            return to_job_status(self.client.status(job.job_id, retry=False))
        except ApoloNotFoundError as error:
            return missing_status(job.job_id, error.message)

    def cancel_job(self, job: JobRef, reason: str) -> None:
        """Kill the job; one that is gone is left as it is."""
        try:
            self.client.kill(job.job_id)
        except ApoloNotFoundError as error:
            log.info("Apolo did not kill job %s (%s): it is gone", job.job_id, error.message)

    def read_logs(self, job: JobRef, cursor: str) -> tuple[list[str], str]:
        """New lines of the job's log since `cursor` (the last line's timestamp; empty: from the start)."""
        lines, cursor = self.client.call(lambda client: read_new_lines(client, job.job_id, cursor, idle=0.5))
        return [line.text for line in lines], cursor

    def job_url(self, job: JobRef) -> str | None:
        template = self.settings.job_url_template
        if not template:
            return None
        values = {"job_id": job.job_id, "name": job.details.get("name", "")}
        return fill_url_template(template, values, URL_ALIASES)

    async def aget_status(self, job: JobRef) -> JobStatus:
        client = await self.aget_client()
        try:
            return to_job_status(await client.status(job.job_id, retry=False))
        except ApoloNotFoundError as error:
            return missing_status(job.job_id, error.message)

    async def aget_statuses(self, jobs: list[JobRef]) -> dict[str, JobStatus]:
        """All the jobs with ONE streamed list call: this provider's jobs (PROVIDER_TAG) started since the oldest
        of them. A job the list did not show (no start time known, or gone) is asked for alone."""
        client = await self.aget_client()
        answers: dict[str, JobStatus] = {}
        wanted = {job.job_id for job in jobs}
        starts = [_created(job) for job in jobs]
        if jobs and all(start is not None for start in starts):
            since = min(start for start in starts if start is not None) - LIST_MARGIN
            async for found in client.list(tags=[PROVIDER_TAG], since=since, retry=False):
                if found.id in wanted:
                    answers[found.id] = to_job_status(found)
        missed = [job for job in jobs if job.job_id not in answers]
        results = await asyncio.gather(*(self.aget_status(job) for job in missed))
        answers.update({job.job_id: status for job, status in zip(missed, results, strict=True)})
        return answers

    async def acancel_job(self, job: JobRef, reason: str) -> None:
        client = await self.aget_client()
        try:
            await client.kill(job.job_id)
        except ApoloNotFoundError as error:
            log.info("Apolo did not kill job %s (%s): it is gone", job.job_id, error.message)


def _created(job: JobRef) -> datetime | None:
    text = job.details.get("created_at")
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def api_url_of(host: str | None, schema: str | None = None, port: int | None = None) -> str:
    """The API URL from the connection's host: a bare host gets https and `/api/v1`; empty means the public one."""
    text = (host or "").strip().rstrip("/")
    if not text:
        return DEFAULT_API_URL
    url = text if "://" in text else f"{schema or 'https'}://{text}"
    scheme, _, rest = url.partition("://")
    authority, slash, path = rest.partition("/")
    if port and ":" not in authority:
        authority = f"{authority}:{port}"
    return f"{scheme}://{authority}/{path}" if slash and path else f"{scheme}://{authority}/api/v1"
