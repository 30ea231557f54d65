"""QarnotHook without a server: the connection, the state table, submission with identity tags, reattach lookups,
cancel, logs, and the batched status poll (calls counted)."""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any
from unittest import mock

import pytest

from airflow_provider_batch.clients.qarnot import errors as errors
from airflow_provider_batch.clients.qarnot.client import QarnotClient
from airflow_provider_batch.clients.qarnot.types import Page, QarnotTask, TaskSpec, UserInfo
from airflow_provider_batch.common.errors import InvalidJobSpecError
from airflow_provider_batch.common.identity import JobIdentity
from airflow_provider_batch.common.jobref import JobRef
from airflow_provider_batch.common.states import JobState
from airflow_provider_batch.hooks import qarnot as hook_module
from airflow_provider_batch.hooks.qarnot import (
    PROVIDER_TAG,
    STATE_TABLE,
    QarnotHook,
    QarnotSettings,
    QarnotSubmission,
    identity_tag,
    submission_tag,
    to_job_status,
)

IDENTITY = JobIdentity("dag", "task", "manual__2024-01-01T00:00:00+00:00", -1, 1)


def conn(**kwargs: Any) -> SimpleNamespace:
    values = {"conn_id": "q", "host": "", "port": None, "schema": "", "password": "tok", "extra_dejson": {}}
    return SimpleNamespace(**{**values, **kwargs})


def task(uuid: str = "t-1", state: str = "FullyExecuting", **more: Any) -> QarnotTask:
    return QarnotTask.from_json({"uuid": uuid, "name": "n", "state": state, **more})


@pytest.fixture
def hook() -> QarnotHook:
    made = QarnotHook("q")
    made.__dict__["client"] = mock.MagicMock(spec=QarnotClient)
    made.__dict__["settings"] = QarnotSettings.from_connection(
        conn(extra_dejson={"console_url_template": "https://c/{uuid}"})
    )
    return made


# -- connection ---------------------------------------------------------------------------------------------------


def test_settings_from_the_connection():
    default = QarnotSettings.from_connection(conn()).config
    assert default.cluster_url == "https://api.qarnot.com" and default.timeout == 30 and not default.cluster_unsafe
    local = QarnotSettings.from_connection(
        conn(
            host="127.0.0.1",
            port=8080,
            schema="http",
            extra_dejson={"storage_url": "http://127.0.0.1:9000", "verify_tls": "false", "timeout": "5"},
        )
    ).config
    assert local.cluster_url == "http://127.0.0.1:8080" and local.storage_url == "http://127.0.0.1:9000"
    assert local.cluster_unsafe and local.storage_unsafe and local.timeout == 5.0
    assert QarnotSettings.from_connection(conn(host="https://api.example/")).config.cluster_url == "https://api.example"
    with pytest.raises(ValueError, match="password"):
        QarnotSettings.from_connection(conn(password=""))
    with pytest.raises(ValueError, match="verify_tls"):
        QarnotSettings.from_connection(conn(extra_dejson={"verify_tls": "maybe"}))


def test_test_connection_names_the_endpoint_the_account_and_its_task_quota(hook):
    hook.client.user_info.return_value = UserInfo.from_json({"email": "me@example.com", "taskCount": 3, "maxTask": 50})
    assert hook.test_connection() == (
        True,
        "Qarnot at https://api.qarnot.com accepts the token of me@example.com (3 of at most 50 tasks)",
    )
    hook.client.user_info.return_value = UserInfo.from_json({"email": "me@example.com"})
    assert hook.test_connection()[1].endswith("accepts the token of me@example.com")


def test_test_connection_says_the_token_was_rejected_for_which_connection(hook):
    hook.client.user_info.side_effect = errors.QarnotUnauthorizedError("GET /info", "401", "bad token")
    ok, message = hook.test_connection()
    assert not ok
    assert message.splitlines()[0] == (
        "Authentication was rejected by Qarnot at https://api.qarnot.com for connection q. "
        "Fix: check the connection's password (the Qarnot API token of your account page)."
    )
    assert "401: bad token" in message and "tok" not in message.replace("token", "")


def test_the_provider_declares_the_connection_type():
    from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime

    from airflow_provider_batch.get_provider_info import get_provider_info

    assert "qarnot" in ProvidersManagerTaskRuntime().hooks
    (info,) = [c for c in get_provider_info()["connection-types"] if c["connection-type"] == "qarnot"]
    assert info["hook-class-name"] == "airflow_provider_batch.hooks.qarnot.QarnotHook"
    assert set(info["conn-fields"]) == {"storage_url", "verify_tls", "timeout", "console_url_template"}
    assert QarnotHook.get_ui_field_behaviour() == info["ui-field-behaviour"]
    assert "airflow_provider_batch.operators.qarnot" in get_provider_info()["operators"][0]["python-modules"]


# -- states -------------------------------------------------------------------------------------------------------


def test_every_api_state_is_mapped_and_pending_ones_are_not_over():
    for state in ("Submitted", "PartiallyDispatched", "FullyDispatched"):
        assert STATE_TABLE[state] is JobState.QUEUED
    for state in ("PartiallyExecuting", "FullyExecuting", "DownloadingResults", "UploadingResults"):
        assert STATE_TABLE[state] is JobState.RUNNING
    assert not STATE_TABLE["PendingCancel"].is_terminal and not STATE_TABLE["PendingDelete"].is_terminal
    assert (STATE_TABLE["Success"], STATE_TABLE["Failure"], STATE_TABLE["Cancelled"]) == (
        JobState.SUCCEEDED,
        JobState.FAILED,
        JobState.CANCELLED,
    )


def test_an_unknown_state_is_running_with_a_warning(caplog):
    with caplog.at_level(logging.WARNING):
        status = to_job_status(task(state="Hibernating"))
    assert status.state is JobState.RUNNING and status.native_state == "Hibernating"
    assert "unknown Qarnot task state 'Hibernating'" in caplog.text


def test_a_failure_gives_the_errors_and_the_failed_instances():
    failed = task(
        state="Failure",
        errors=[{"code": "E7", "message": "instance 1 exited with code 3"}],
        completedInstances=[
            {"instanceId": 0, "state": "Success"},
            {"instanceId": 1, "state": "Failure", "executionAttemptCount": 3},
        ],
    )
    status = to_job_status(failed)
    assert status.state is JobState.FAILED
    assert (
        status.reason == "instance 1 exited with code 3 (E7); failed instances: instance 1 Failure after 3 attempt(s)"
    )
    assert to_job_status(task(state="Success")).reason == ""


# -- submit, find, status, cancel, logs ----------------------------------------------------------------------------


def test_submit_uploads_checks_buckets_and_tags_the_task(hook, tmp_path):
    (tmp_path / "a.txt").write_text("a")
    (tmp_path / "dir").mkdir()
    hook.client.submit_task.return_value = "t-1"
    request = QarnotSubmission(
        TaskSpec("n", "docker-batch", tags=["mine"]),
        input_files={"in": [str(tmp_path / "a.txt"), str(tmp_path / "dir")]},
        result_bucket="out",
    )
    job = hook.submit_job(request, IDENTITY, 0)
    client = hook.client
    client.upload_file.assert_called_once_with("in", tmp_path / "a.txt")
    client.upload_folder.assert_called_once_with("in", tmp_path / "dir")
    assert [c.args[0] for c in client.retrieve_or_create_bucket.call_args_list] == ["in", "out"]
    spec = client.submit_task.call_args.args[0]
    assert spec.tags[:2] == ["mine", PROVIDER_TAG]
    assert identity_tag(IDENTITY) in spec.tags and submission_tag(IDENTITY, 0) in spec.tags
    assert "airflow.task_id=task" in spec.tags and "airflow.try_number=1" in spec.tags
    assert spec.shortname == hook_module.shortname_of(IDENTITY, 0) and "." not in spec.shortname
    assert job == JobRef(
        "qarnot", "q", "t-1", {"tag": submission_tag(IDENTITY, 0), "name": "n", "result_bucket": "out"}
    )
    assert submission_tag(IDENTITY, 0) != submission_tag(IDENTITY, 2)


def test_a_missing_input_bucket_is_named(hook):
    hook.check_input_buckets(["here"])
    hook.client.retrieve_bucket.side_effect = errors.QarnotMissingBucketError("HEAD", "404", "no bucket")
    with pytest.raises(InvalidJobSpecError, match="input_buckets: bucket 'gone' does not exist"):
        hook.check_input_buckets(["gone"])


def test_a_submit_whose_answer_was_lost_is_found_by_its_tag_not_posted_twice(hook, monkeypatch):
    monkeypatch.setattr(hook_module, "SUBMIT_RETRY", hook_module.RetryPolicy(3, 0.0, 0.0))
    hook.client.submit_task.side_effect = errors.QarnotUnavailableError("POST /tasks", "502", "bad gateway")
    hook.client.tasks.return_value = [task("t-lost")]
    job = hook.submit_job(QarnotSubmission(TaskSpec("n", "docker-batch")), IDENTITY, 0)
    assert job.job_id == "t-lost"
    assert hook.client.submit_task.call_count == 1
    hook.client.tasks.assert_called_once_with(tags=[submission_tag(IDENTITY, 0)])


def test_a_taken_shortname_means_the_submission_exists_already(hook):
    hook.client.submit_task.side_effect = errors.QarnotConflictError("POST /tasks", "409", "shortname taken")
    hook.client.tasks.return_value = [task("t-same")]
    assert hook.submit_job(QarnotSubmission(TaskSpec("n", "docker-batch")), IDENTITY, 0).job_id == "t-same"
    hook.client.tasks.return_value = []  # taken by a task that is not ours: the scheduler's words stand
    with pytest.raises(errors.QarnotConflictError, match="shortname taken"):
        hook.submit_job(QarnotSubmission(TaskSpec("n", "docker-batch")), IDENTITY, 0)


def test_find_jobs_lists_by_identity_tag_newest_first(hook):
    hook.client.tasks.return_value = [
        task("old", "Failure", creationDate="2024-01-01T00:00:00Z", tags=["airflow-job-aaa"]),
        task("new", "FullyExecuting", creationDate="2024-01-02T00:00:00Z", resultBucket="out"),
    ]
    found = hook.find_jobs(QarnotSubmission(TaskSpec("n", "docker-batch")), IDENTITY)
    assert [(j.job_id, s.state) for j, s in found] == [("new", JobState.RUNNING), ("old", JobState.FAILED)]
    assert found[0][0].details["result_bucket"] == "out" and found[1][0].details["tag"] == "airflow-job-aaa"
    hook.client.tasks.assert_called_once_with(tags=[identity_tag(IDENTITY)])


def test_a_missing_task_is_unknown_not_failed(hook):
    hook.client.retrieve_task.side_effect = errors.QarnotMissingTaskError("GET", "404", "no task t-1")
    status = hook.get_status(JobRef("qarnot", "q", "t-1"))
    assert (status.state, status.reason) == (JobState.UNKNOWN, "no task t-1")


def test_cancel_aborts_and_leaves_a_finished_task_alone(hook):
    job = JobRef("qarnot", "q", "t-1")
    hook.cancel_job(job, "killed")
    hook.client.abort_task.assert_called_once_with("t-1")
    hook.client.abort_task.side_effect = errors.QarnotUnauthorizedError("POST", "403", "task is over")
    hook.cancel_job(job, "killed")
    hook.client.abort_task.side_effect = errors.QarnotUnauthorizedError("POST", "401", "bad token")
    with pytest.raises(errors.QarnotUnauthorizedError):
        hook.cancel_job(job, "killed")


def test_logs_are_the_fresh_stdout_then_stderr(hook):
    hook.client.fresh_stdout.return_value = "one\ntwo\n"
    hook.client.fresh_stderr.return_value = "oops\n"
    lines, cursor = hook.read_logs(JobRef("qarnot", "q", "t-1"), "")
    assert lines == ["one", "two", "stderr: oops"] and cursor


def test_job_url_and_results_download(hook, tmp_path):
    job = JobRef("qarnot", "q", "t-1", {"result_bucket": "out"})
    assert hook.job_url(job) == "https://c/t-1"
    hook.download_results(job, str(tmp_path))
    hook.client.download_folder.assert_called_once_with("out", str(tmp_path))


# -- batched watching ----------------------------------------------------------------------------------------------


class FakeAsyncClient:
    """Answers a tag-filtered page with the tasks whose submission tag is in the filter."""

    def __init__(self, tasks: dict[str, QarnotTask]) -> None:
        self.by_tag = tasks
        self.page_calls = 0
        self.get_calls = 0

    async def tasks_page(self, token: Any, maximum: int, filter_: dict[str, Any], retry: bool = True) -> Page:
        assert retry is False, "a status sweep is one try: the wait policy retries"
        self.page_calls += 1
        leaves = filter_.get("filters") or [filter_]
        found = [self.by_tag[leaf["value"]] for leaf in leaves if leaf["value"] in self.by_tag]
        assert len(found) <= maximum
        return Page(found, None, False)

    async def retrieve_task(self, uuid: str, retry: bool = True) -> QarnotTask:
        assert retry is False, "a status read is one try: the wait policy retries"
        self.get_calls += 1
        return task(uuid, "Success")

    async def close(self) -> None:
        pass


async def test_async_cancel_aborts_and_leaves_a_finished_task_alone():
    hook = QarnotHook("q")
    fake = mock.AsyncMock()
    hook._async_client = fake
    job = JobRef("qarnot", "q", "t-1")
    await hook.acancel_job(job, "killed")
    fake.abort_task.assert_awaited_once_with("t-1")
    fake.abort_task.side_effect = errors.QarnotMissingTaskError("POST", "404", "gone")
    await hook.acancel_job(job, "killed")
    fake.abort_task.side_effect = errors.QarnotUnauthorizedError("POST", "401", "bad token")
    with pytest.raises(errors.QarnotUnauthorizedError):
        await hook.acancel_job(job, "killed")


async def test_statuses_of_many_jobs_take_one_list_call_per_hundred():
    jobs = [JobRef("qarnot", "q", f"t-{i}", {"tag": f"tag-{i}"}) for i in range(250)]
    tasks = {f"tag-{i}": task(f"t-{i}", "Failure" if i == 7 else "FullyExecuting") for i in range(249)}
    hook = QarnotHook("q")
    fake = FakeAsyncClient(tasks)
    hook._async_client = fake  # type: ignore[assignment]
    answers = await hook.aget_statuses([*jobs, JobRef("qarnot", "q", "untagged")])
    assert fake.page_calls == 3 and fake.get_calls == 1
    assert answers["t-0"].state is JobState.RUNNING and answers["t-7"].state is JobState.FAILED
    assert answers["t-249"].state is JobState.UNKNOWN  # not in the answer: gone, or not listed yet
    assert answers["untagged"].state is JobState.SUCCEEDED
    await hook.aclose()
