"""The Qarnot connection: the API URL, a token, the storage URL; tasks as batch jobs in the common vocabulary."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from airflow_provider_batch.clients.qarnot.client import QarnotAsyncClient, QarnotClient
from airflow_provider_batch.clients.qarnot.config import DEFAULT_CLUSTER_URL, DEFAULT_TIMEOUT, QarnotConfig
from airflow_provider_batch.clients.qarnot.errors import (
    QarnotConflictError,
    QarnotMissingBucketError,
    QarnotMissingTaskError,
    QarnotUnauthorizedError,
)
from airflow_provider_batch.clients.qarnot.types import QarnotTask, TaskSpec, TaskState
from airflow_provider_batch.common.errors import InvalidJobSpecError, connection_test_failure
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
from airflow_provider_batch.hooks import qarnot_sweep
from airflow_provider_batch.hooks.base import as_bool, as_float
from airflow_provider_batch.hooks.rest import RestHook

log = logging.getLogger(__name__)

# Qarnot's task states in the common vocabulary. PendingCancel and PendingDelete are on their way somewhere: not over.
STATE_TABLE: dict[str, JobState] = {
    "UnSubmitted": JobState.QUEUED,
    TaskState.SUBMITTED: JobState.QUEUED,
    TaskState.PARTIALLY_DISPATCHED: JobState.QUEUED,
    TaskState.FULLY_DISPATCHED: JobState.QUEUED,
    TaskState.PARTIALLY_EXECUTING: JobState.RUNNING,
    TaskState.FULLY_EXECUTING: JobState.RUNNING,
    TaskState.DOWNLOADING_RESULTS: JobState.RUNNING,
    TaskState.UPLOADING_RESULTS: JobState.RUNNING,
    TaskState.PENDING_CANCEL: JobState.RUNNING,
    TaskState.PENDING_DELETE: JobState.RUNNING,
    TaskState.SUCCESS: JobState.SUCCEEDED,
    TaskState.FAILURE: JobState.FAILED,
    TaskState.CANCELLED: JobState.CANCELLED,
}
# Every task this provider submits carries this tag, besides its own identity tags.
SUBMIT_RETRY = RetryPolicy(max_attempts=5, initial_backoff=0.5, max_backoff=10.0)
# console_url_template: `{uuid}` (and `<uuid>`), the forms this provider's first versions documented, mean {job_id}.
URL_ALIASES = {"{uuid}": "job_id", "<uuid>": "job_id"}


def shortname_of(identity: JobIdentity, generation: int) -> str:
    """A deterministic, readable short name (letters, digits and dashes)."""
    return re.sub(r"[^A-Za-z0-9-]+", "-", identity.client_id(generation)).strip("-")[:100]


def to_job_status(task: QarnotTask) -> JobStatus:
    common = STATE_TABLE.get(task.state)
    if common is None:
        log.warning("unknown Qarnot task state %r of %s; treating the task as still running", task.state, task.uuid)
        common = JobState.RUNNING
    reason = task.failure_reason() if common in (JobState.FAILED, JobState.CANCELLED) else ""
    return JobStatus(common, task.state, reason)


def missing_status(job_id: str, message: str = "") -> JobStatus:
    return JobStatus(JobState.UNKNOWN, "Missing", message or f"Qarnot does not know task {job_id}")


def _over_or_gone(job: JobRef, error: QarnotUnauthorizedError | QarnotMissingTaskError) -> None:
    """An abort refused because the task is over (403) or gone (404) is no failure; a bad token (401) is."""
    if error.status == "401":
        raise error
    log.info("Qarnot did not abort task %s (%s): it is over or gone", job.job_id, error.message)


@dataclass(frozen=True)
class QarnotSubmission:
    """What the operator asks the hook to submit: a task, the local files to upload first (bucket -> paths), and
    where results go (the result bucket is created if missing)."""

    spec: TaskSpec
    input_files: Mapping[str, Sequence[str]] = field(default_factory=dict)
    result_bucket: str | None = None


@dataclass(frozen=True)
class QarnotSettings:
    """A `qarnot` connection read and checked."""

    config: QarnotConfig
    console_url_template: str = ""

    @property
    def endpoint(self) -> str:
        """Where the connection points, for messages."""
        return self.config.cluster_url

    @classmethod
    def from_connection(cls, conn: Any) -> QarnotSettings:
        extra = conn.extra_dejson or {}
        host = (conn.host or "").strip().rstrip("/")
        if not host:
            url = DEFAULT_CLUSTER_URL
        elif "://" in host:
            url = host
        else:
            url = f"{conn.schema or 'https'}://{host}"
        if conn.port and url.count(":") < 2:
            url = f"{url}:{conn.port}"
        token = conn.password or extra.get("token") or ""
        if not token:
            raise ValueError(f"connection {conn.conn_id}: the password (the Qarnot API token) is empty")
        verify = as_bool(extra.get("verify_tls", True), "verify_tls")
        config = QarnotConfig(
            token=token,
            cluster_url=url,
            cluster_unsafe=not verify,
            timeout=as_float(extra.get("timeout"), "timeout", DEFAULT_TIMEOUT),
            storage_url=str(extra.get("storage_url") or "") or None,
            storage_unsafe=not verify,
        )
        return cls(config, str(extra.get("console_url_template") or ""))


class QarnotHook(RestHook[QarnotSubmission, QarnotSettings, QarnotClient, QarnotAsyncClient]):
    """Talks to Qarnot through a `qarnot` connection.

    host: the API URL (default https://api.qarnot.com); password: the API token (sent raw as `Authorization`).
    Extras: storage_url (the S3 endpoint; default what the API's /settings says), verify_tls (default true),
    timeout (seconds per request, default 30), console_url_template (a link to a task; `{job_id}`, also written
    `{uuid}`, and `{name}` are filled in: see common/urls.py).
    """

    conn_name_attr = "qarnot_conn_id"
    default_conn_name = "qarnot_default"
    conn_type = "qarnot"
    hook_name = "Qarnot"
    backend = "qarnot"

    settings_class = QarnotSettings
    client_class = QarnotClient
    async_client_class = QarnotAsyncClient

    def __init__(self, qarnot_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(qarnot_conn_id, **kwargs)

    def test_connection(self) -> tuple[bool, str]:
        """GET /info with the token: the account it belongs to, and its task quota when the API says it."""
        try:
            user = self.client.user_info()
        except Exception as error:  # the UI shows the message
            return False, connection_test_failure(error, self.conn_id, self.endpoint())
        quota = ""
        tasks, most = user.raw.get("taskCount"), user.raw.get("maxTask")
        if isinstance(tasks, int) and isinstance(most, int) and most > 0:
            quota = f" ({tasks} of at most {most} tasks)"
        who = user.email or "this user"
        return True, f"Qarnot at {self.settings.config.cluster_url} accepts the token of {who}{quota}"

    # -- jobs --------------------------------------------------------------------------------------------------

    def submit_job(self, request: QarnotSubmission, identity: JobIdentity, generation: int) -> JobRef:
        client = self.client
        for bucket, paths in request.input_files.items():
            client.retrieve_or_create_bucket(bucket)
            for path in paths:
                local = Path(path)
                if local.is_dir():
                    client.upload_folder(bucket, local)
                else:
                    client.upload_file(bucket, local)
        if request.result_bucket:
            client.retrieve_or_create_bucket(request.result_bucket)
        tag = submission_tag(identity, generation)
        tags = [*request.spec.tags, PROVIDER_TAG, identity_tag(identity), tag, *key_value_tags(identity)]
        spec = replace(request.spec, tags=list(dict.fromkeys(tags)), shortname=shortname_of(identity, generation))
        uuid = self._submit_once(spec, tag)
        details = {"tag": tag, "name": spec.name}
        if request.result_bucket:
            details["result_bucket"] = request.result_bucket
        return self.job_ref(uuid, details)

    def check_input_buckets(self, buckets: Sequence[str]) -> None:
        """InvalidJobSpecError for the first bucket that does not exist (so that nothing is submitted)."""
        for bucket in buckets:
            try:
                self.client.retrieve_bucket(bucket)
            except QarnotMissingBucketError:
                raise InvalidJobSpecError(
                    "input_buckets", f"bucket {bucket!r} does not exist", "create it, or upload with input_files"
                ) from None

    def _submit_once(self, spec: TaskSpec, tag: str) -> str:
        """POST the task; after a 5xx or a lost answer, look for it by its submission tag before posting again.
        A 409 (its deterministic shortname is taken) means this very submission exists already: use that task."""

        def earlier() -> str | None:
            found = self.client.tasks(tags=[tag])
            if found:
                log.info("found task %s from an earlier submit whose answer was lost", found[0].uuid)
            return found[0].uuid if found else None

        send = lambda: self.client.submit_task(spec)  # noqa: E731
        return submit_once(send, earlier, QarnotConflictError, SUBMIT_RETRY, f"submit task {spec.name}")

    def find_jobs(self, request: QarnotSubmission, identity: JobIdentity) -> list[tuple[JobRef, JobStatus]]:
        found = self.client.tasks(tags=[identity_tag(identity)])
        newest_first = sorted(found, key=lambda t: (t.creation_date is not None, t.creation_date), reverse=True)
        return [(self._ref_of(task), to_job_status(task)) for task in newest_first]

    def _ref_of(self, task: QarnotTask) -> JobRef:
        details = {"name": task.name}
        tag = next((t for t in task.tags if t.startswith("airflow-job-")), "")
        if tag:
            details["tag"] = tag
        if task.result_bucket:
            details["result_bucket"] = task.result_bucket
        return self.job_ref(task.uuid, details)

    def get_status(self, job: JobRef) -> JobStatus:
        try:
            return to_job_status(self.client.retrieve_task(job.job_id, retry=False))
        except QarnotMissingTaskError as error:
            return missing_status(job.job_id, error.message)

    def cancel_job(self, job: JobRef, reason: str) -> None:
        """Abort the task; one that is already over (403) or gone (404) is left as it is."""
        try:
            self.client.abort_task(job.job_id)
        except (QarnotUnauthorizedError, QarnotMissingTaskError) as error:
            _over_or_gone(job, error)

    def read_logs(self, job: JobRef, cursor: str) -> tuple[list[str], str]:
        """New lines of stdout, then of stderr (prefixed `stderr: `). Qarnot keeps the cursor itself (the "fresh"
        calls), so every call returns what no earlier call returned, and the first what nobody has read yet."""
        lines = self.client.fresh_stdout(job.job_id).splitlines()
        lines += ["stderr: " + line for line in self.client.fresh_stderr(job.job_id).splitlines()]
        return lines, "fresh"

    def job_url(self, job: JobRef) -> str | None:
        template = self.settings.console_url_template
        if not template:
            return None
        values = {"job_id": job.job_id, "name": job.details.get("name", "")}
        return fill_url_template(template, values, URL_ALIASES)

    def download_results(self, job: JobRef, results_dir: str) -> list[Path]:
        """Every object of the task's result bucket into `results_dir`."""
        bucket = job.details.get("result_bucket") or self.client.retrieve_task(job.job_id).result_bucket
        if not bucket:
            raise InvalidJobSpecError("results_dir", "the task has no result bucket", "set result_bucket as well")
        return self.client.download_folder(bucket, results_dir)

    async def aget_status(self, job: JobRef) -> JobStatus:
        client = await self.aget_client()
        try:
            return to_job_status(await client.retrieve_task(job.job_id, retry=False))
        except QarnotMissingTaskError as error:
            return missing_status(job.job_id, error.message)

    async def aget_statuses(self, jobs: list[JobRef]) -> dict[str, JobStatus]:
        """All the jobs by tag-filtered list calls, one per PAGE_TASKS jobs, overlapped (hooks/qarnot_sweep.py)."""
        return await qarnot_sweep.statuses(
            await self.aget_client(), jobs, to_job_status, self.aget_status, missing_status
        )

    async def acancel_job(self, job: JobRef, reason: str) -> None:
        client = await self.aget_client()
        try:
            await client.abort_task(job.job_id)
        except (QarnotUnauthorizedError, QarnotMissingTaskError) as error:
            _over_or_gone(job, error)
