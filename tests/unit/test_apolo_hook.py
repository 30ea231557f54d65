"""ApoloHook without a server: the connection (token or passed config), the state table, the deterministic name and
tags, a start whose answer was lost, reattach lookups, cancel, logs, and the batched status poll (calls counted)."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any
from unittest import mock

import pytest

from airflow_provider_batch.clients.apolo.client import ApoloSyncClient
from airflow_provider_batch.clients.apolo.errors import (
    ApoloNameTakenError,
    ApoloNotFoundError,
    ApoloUnavailableError,
    error_for,
)
from airflow_provider_batch.clients.apolo.logs import LogLine
from airflow_provider_batch.clients.apolo.types import ApoloJobStatus as ApoloStatus
from airflow_provider_batch.clients.apolo.types import JobDescription
from airflow_provider_batch.common.identity import JobIdentity
from airflow_provider_batch.common.jobref import JobRef
from airflow_provider_batch.common.states import JobState
from airflow_provider_batch.emulators.apolo.identity import make_token
from airflow_provider_batch.hooks import apolo as hook_module
from airflow_provider_batch.hooks.apolo import (
    PROVIDER_TAG,
    STATE_TABLE,
    ApoloHook,
    ApoloSettings,
    ApoloSubmission,
    api_url_of,
    identity_tag,
    identity_tags,
    job_name_of,
    submission_tag,
    to_job_status,
    token_user,
)

IDENTITY = JobIdentity("dag", "task", "manual__2024-01-01T00:00:00+00:00", -1, 1)
NAME_RULE = re.compile(r"\A[a-z](?:-?[a-z0-9])*\Z")
REQUEST = ApoloSubmission("ubuntu:22.04", "cpu-small", command="echo hi", tags=["mine"])


def conn(**kwargs: Any) -> SimpleNamespace:
    values = {"conn_id": "a", "host": "", "port": None, "schema": "", "password": "tok", "extra_dejson": {}}
    return SimpleNamespace(**{**values, **kwargs})


def passed(**data: Any) -> str:
    values = {"token": "t0k", "cluster": "c1", "url": "https://p/api/v1", "org_name": "o1", "project_name": "p1"}
    return base64.b64encode(json.dumps({**values, **data}).encode()).decode()


def job(job_id: str = "job-1", status: str = "running", **more: Any) -> JobDescription:
    history = {"status": status, "reason": more.pop("reason", ""), "description": more.pop("description", "")}
    history["created_at"] = more.pop("created_at", "2026-01-01T00:00:00+00:00")
    if "exit_code" in more:
        history["exit_code"] = more.pop("exit_code")
    return JobDescription.from_json({"id": job_id, "status": status, "history": history, "owner": "me", **more})


@pytest.fixture
def hook() -> ApoloHook:
    made = ApoloHook("a")
    made.__dict__["client"] = mock.MagicMock(spec=ApoloSyncClient)
    made.__dict__["settings"] = ApoloSettings.from_connection(
        conn(extra_dejson={"job_url_template": "https://console/jobs/{id}?name={name}"})
    )
    return made


# -- connection ---------------------------------------------------------------------------------------------------


def test_settings_from_a_token():
    default = ApoloSettings.from_connection(conn()).config
    assert (default.url, default.token, default.cluster, default.timeout) == (
        "https://api.apolo.us/api/v1",
        "tok",
        "",
        60,
    )
    extras = {"cluster": "c", "org": "o", "project": "p", "timeout": "5"}
    local = ApoloSettings.from_connection(conn(host="http://127.0.0.1:8080/api/v1", extra_dejson=extras)).config
    assert (local.url, local.cluster, local.org, local.project, local.timeout) == (
        "http://127.0.0.1:8080/api/v1",
        "c",
        "o",
        "p",
        5.0,
    )


def test_settings_from_a_passed_config_in_the_password_or_the_extra():
    from_blob = ApoloSettings.from_connection(conn(password=passed())).config
    assert (from_blob.token, from_blob.url, from_blob.cluster, from_blob.org, from_blob.project) == (
        "t0k",
        "https://p/api/v1",
        "c1",
        "o1",
        "p1",
    )
    overridden = ApoloSettings.from_connection(
        conn(password="", host="http://h:1/api/v1", extra_dejson={"passed_config": passed(), "project": "p2"})
    ).config
    assert (overridden.url, overridden.project, overridden.token) == ("http://h:1/api/v1", "p2", "t0k")


def test_an_empty_secret_is_named_without_leaking_anything():
    with pytest.raises(ValueError, match=r"connection a: the password .* is empty"):
        ApoloSettings.from_connection(conn(password=""))


@pytest.mark.parametrize(
    ("host", "schema", "port", "url"),
    [
        ("", None, None, "https://api.apolo.us/api/v1"),
        ("api.example.com", None, None, "https://api.example.com/api/v1"),
        ("api.example.com", "http", 8080, "http://api.example.com:8080/api/v1"),
        ("https://api.example.com/", None, None, "https://api.example.com/api/v1"),
        ("https://api.example.com/custom/v2", None, None, "https://api.example.com/custom/v2"),
    ],
)
def test_the_api_url_from_the_host(host, schema, port, url):
    assert api_url_of(host, schema, port) == url


def test_test_connection_asks_for_the_config(hook):
    client = hook.client
    client.where.return_value = ("c1", "o1", "p1")
    assert hook.test_connection() == (
        True,
        "Apolo at https://api.apolo.us/api/v1 accepts the token (cluster c1, org o1, project p1)",
    )
    client.close.assert_called_once()  # a one-off test leaves no HTTP session open
    assert "client" not in hook.__dict__
    hook.__dict__["client"] = client
    client.get_config.side_effect = ApoloUnavailableError("GET /config", "503", "Service Unavailable")
    ok, message = hook.test_connection()
    assert not ok and message == (
        "Connection a failed at https://api.apolo.us/api/v1: Apolo GET /config failed with 503: Service Unavailable"
    )


def test_test_connection_names_the_user_of_a_jwt_token():
    made = ApoloHook("a")
    made.__dict__["client"] = mock.MagicMock(spec=ApoloSyncClient)
    made.client.where.return_value = ("c1", "o1", "p1")
    made.__dict__["settings"] = ApoloSettings.from_connection(conn(password=make_token("secret", "alice")))
    assert made.test_connection() == (
        True,
        "Apolo at https://api.apolo.us/api/v1 accepts the token of user alice (cluster c1, org o1, project p1)",
    )
    assert token_user("not-a-jwt") == "" and token_user("a.!!.c") == ""


def test_test_connection_says_the_token_was_rejected_for_which_connection(hook):
    hook.client.get_config.side_effect = error_for("GET /config", 401, '{"error": "Cannot authorize user"}')
    ok, message = hook.test_connection()
    assert not ok
    first, details = message.splitlines()[:2]
    assert first.startswith("Authentication was rejected by Apolo at https://api.apolo.us/api/v1 for connection a.")
    assert "Fix: check the connection's password" in first
    assert details == "Apolo answered 401: Cannot authorize user"


def test_the_provider_declares_the_connection_type():
    from airflow_provider_batch.get_provider_info import get_provider_info

    info = get_provider_info()
    kinds = {c["connection-type"]: c for c in info["connection-types"]}
    assert kinds["apolo"]["hook-class-name"] == "airflow_provider_batch.hooks.apolo.ApoloHook"
    assert kinds["apolo"]["conn-fields"]["passed_config"]["schema"]["format"] == "password"
    assert "airflow_provider_batch.operators.apolo" in info["operators"][0]["python-modules"]
    assert ApoloHook.get_ui_field_behaviour() == kinds["apolo"]["ui-field-behaviour"]
    from airflow_provider_batch.backends import BACKENDS

    assert BACKENDS["apolo"].hook == "airflow_provider_batch.hooks.apolo.ApoloHook"


# -- states -------------------------------------------------------------------------------------------------------


def test_every_status_is_mapped_and_waiting_ones_are_not_over():
    assert set(STATE_TABLE) == set(ApoloStatus)
    assert STATE_TABLE[ApoloStatus.PENDING] is STATE_TABLE[ApoloStatus.SUSPENDED] is JobState.QUEUED
    assert STATE_TABLE[ApoloStatus.UNKNOWN] is JobState.UNKNOWN
    assert (
        STATE_TABLE[ApoloStatus.CANCELLED] is JobState.CANCELLED and STATE_TABLE[ApoloStatus.FAILED] is JobState.FAILED
    )
    assert not any(STATE_TABLE[s].is_terminal for s in ApoloStatus.active_items())
    assert all(STATE_TABLE[s].is_terminal for s in ApoloStatus.finished_items())


def test_a_failure_carries_status_reason_description_and_exit_code():
    failed = to_job_status(job(status="failed", reason="Error", description="bad input", exit_code=2))
    assert (failed.state, failed.native_state, failed.reason) == (
        JobState.FAILED,
        "failed",
        "failed (Error): bad input, exit code 2",
    )
    assert to_job_status(job(status="succeeded", reason="Completed", exit_code=0)).reason == ""
    assert to_job_status(job(status="cancelled", reason="LifeSpanEnded")).reason == "cancelled (LifeSpanEnded)"
    assert to_job_status(job(status="martian")).state is JobState.UNKNOWN


# -- identity -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("task_id", ["task", "123_Task.Name", "__", "a" * 80, "Über-Größe", "x--y"])
def test_job_names_follow_apolos_rules_and_are_deterministic(task_id):
    identity = JobIdentity("dag", task_id, "run")
    name = job_name_of(identity, 0)
    assert NAME_RULE.match(name) and 3 <= len(name) <= 40, name
    assert name == job_name_of(identity, 0) != job_name_of(identity, 1)
    assert job_name_of(identity, 0, "nightly-etl").startswith("nightly-etl-")


def test_tags_have_no_whitespace_and_the_submission_tag_is_unique():
    tags = identity_tags(JobIdentity("dag", "task", "run with spaces", 3, 2))
    assert "airflow.run_id=run_with_spaces" in tags and "airflow.map_index=3" in tags
    assert all(not re.search(r"\s", tag) and len(tag) <= 256 for tag in tags)
    assert submission_tag(IDENTITY, 0) != submission_tag(IDENTITY, 1)
    assert identity_tag(IDENTITY) == identity_tag(JobIdentity(*IDENTITY.__dict__.values()))


# -- jobs ---------------------------------------------------------------------------------------------------------


def started(arguments: dict[str, Any]) -> JobDescription:
    return job("job-1", "pending", name=arguments["name"], tags=arguments["tags"])


def test_submit_starts_one_job_with_name_and_tags(hook):
    hook.client.start.side_effect = lambda **kw: started(kw)
    ref = hook.submit_job(REQUEST, IDENTITY, 0)
    arguments = hook.client.start.call_args.kwargs
    assert arguments["name"] == job_name_of(IDENTITY, 0) and arguments["image"] == "ubuntu:22.04"
    tags = arguments["tags"]
    assert tags[:4] == ["mine", PROVIDER_TAG, identity_tag(IDENTITY), submission_tag(IDENTITY, 0)]
    assert "airflow.dag_id=dag" in tags and len(tags) <= 16
    assert ref.to_json() == {
        "backend": "apolo",
        "conn_id": "a",
        "job_id": "job-1",
        "details": {
            "name": arguments["name"],
            "tag": submission_tag(IDENTITY, 0),
            "created_at": "2026-01-01T00:00:00+00:00",
        },
    }


def test_a_start_whose_answer_was_lost_is_found_by_its_tag_not_started_twice(hook, monkeypatch):
    monkeypatch.setattr("time.sleep", lambda s: None)
    hook.client.start.side_effect = ApoloUnavailableError("POST /jobs", "503", "lost")
    hook.client.list.return_value = [job("job-9", "running", tags=[submission_tag(IDENTITY, 0)])]
    assert hook.submit_job(REQUEST, IDENTITY, 0).job_id == "job-9"
    assert hook.client.start.call_count == 1
    hook.client.list.assert_called_once_with(tags=[submission_tag(IDENTITY, 0)], reverse=True, limit=1)


def test_a_taken_name_means_this_submission_runs_already(hook):
    hook.client.start.side_effect = ApoloNameTakenError("POST /jobs", "400", "job with name 'x' already exists")
    hook.client.list.return_value = [job("job-live", "running")]
    assert hook.submit_job(REQUEST, IDENTITY, 0).job_id == "job-live"
    hook.client.list.return_value = []  # another job has the name: the server's words reach the task
    with pytest.raises(ApoloNameTakenError, match="already exists"):
        hook.submit_job(REQUEST, IDENTITY, 0)


def test_find_jobs_lists_by_identity_tag_newest_first(hook):
    hook.client.list.return_value = [job("job-2", "running"), job("job-1", "failed", reason="Error")]
    found = hook.find_jobs(REQUEST, IDENTITY)
    assert [(ref.job_id, status.state) for ref, status in found] == [
        ("job-2", JobState.RUNNING),
        ("job-1", JobState.FAILED),
    ]
    hook.client.list.assert_called_once_with(tags=[identity_tag(IDENTITY)], reverse=True)


def test_a_missing_job_is_unknown_not_failed(hook):
    hook.client.status.side_effect = ApoloNotFoundError("GET /jobs/x", "400", "no such job x")
    status = hook.get_status(JobRef("apolo", "a", "x"))
    assert (status.state, status.reason) == (JobState.UNKNOWN, "no such job x")


def test_cancel_kills_and_leaves_a_gone_job_alone(hook):
    hook.cancel_job(JobRef("apolo", "a", "job-1"), "test")
    hook.client.kill.assert_called_once_with("job-1")
    hook.client.kill.side_effect = ApoloNotFoundError("DELETE /jobs/x", "400", "no such job x")
    hook.cancel_job(JobRef("apolo", "a", "x"), "test")
    hook.client.kill.side_effect = ApoloUnavailableError("DELETE /jobs/x", "503", "down")
    with pytest.raises(ApoloUnavailableError):
        hook.cancel_job(JobRef("apolo", "a", "x"), "test")


def test_logs_resume_from_the_cursor(hook):
    read = [LogLine("2026-01-01T00:00:01Z", "one"), LogLine("2026-01-01T00:00:02Z", "two")]
    hook.client.call.return_value = (read, "2026-01-01T00:00:02Z")
    assert hook.read_logs(JobRef("apolo", "a", "job-1"), "2026-01-01T00:00:00Z") == (
        ["one", "two"],
        "2026-01-01T00:00:02Z",
    )


def test_job_url_from_the_template(hook):
    ref = JobRef("apolo", "a", "job-1", {"name": "n1"})
    assert hook.job_url(ref) == "https://console/jobs/job-1?name=n1"
    hook.__dict__["settings"] = ApoloSettings.from_connection(conn())
    assert hook.job_url(ref) is None


class FakeAsyncClient:
    """Counts calls; list answers the jobs it holds, status the rest."""

    def __init__(self, listed: list[JobDescription], alone: dict[str, JobDescription]) -> None:
        self.listed = listed
        self.alone = alone
        self.list_calls: list[dict[str, Any]] = []
        self.status_calls: list[str] = []
        self.killed: list[str] = []

    async def list(self, **kwargs: Any) -> AsyncIterator[JobDescription]:
        self.list_calls.append(kwargs)
        for item in self.listed:
            yield item

    async def status(self, job_id: str, retry: bool = True) -> JobDescription:
        assert retry is False, "a status read is one try: the wait policy retries"
        self.status_calls.append(job_id)
        if job_id not in self.alone:
            raise ApoloNotFoundError("GET /jobs/x", "400", f"no such job {job_id}")
        return self.alone[job_id]

    async def kill(self, job_id: str) -> None:
        self.killed.append(job_id)
        if job_id == "gone":
            raise ApoloNotFoundError("DELETE /jobs/x", "400", "no such job gone")

    async def close(self) -> None:
        pass


async def test_statuses_of_many_jobs_take_one_list_call():
    created = datetime(2026, 1, 1, tzinfo=timezone.utc)
    refs = [
        JobRef("apolo", "a", f"job-{i}", {"created_at": (created + timedelta(seconds=i)).isoformat()})
        for i in range(1000)
    ]
    listed = [job(f"job-{i}", "succeeded" if i % 2 else "running") for i in range(999)] + [job("other", "running")]
    fake = FakeAsyncClient(listed, {"job-999": job("job-999", "failed", reason="Error", exit_code=1)})
    hook = ApoloHook("a")
    hook._async_client = fake  # type: ignore[assignment]
    answers = await hook.aget_statuses(refs)
    assert len(fake.list_calls) == 1 and fake.status_calls == ["job-999"]  # the one the list missed
    assert fake.list_calls[0]["tags"] == [PROVIDER_TAG]
    assert fake.list_calls[0]["since"] == created - hook_module.LIST_MARGIN
    assert fake.list_calls[0]["retry"] is False  # one try: the wait policy retries
    assert set(answers) == {ref.job_id for ref in refs}
    assert answers["job-1"].state is JobState.SUCCEEDED and answers["job-2"].state is JobState.RUNNING
    assert answers["job-999"].reason == "failed (Error), exit code 1"


async def test_jobs_without_a_start_time_are_asked_for_alone_and_missing_ones_are_unknown():
    fake = FakeAsyncClient([], {"job-1": job("job-1", "pending")})
    hook = ApoloHook("a")
    hook._async_client = fake  # type: ignore[assignment]
    answers = await hook.aget_statuses([JobRef("apolo", "a", "job-1"), JobRef("apolo", "a", "job-2")])
    assert fake.list_calls == [] and sorted(fake.status_calls) == ["job-1", "job-2"]
    assert answers["job-1"].state is JobState.QUEUED and answers["job-2"].state is JobState.UNKNOWN
    await hook.acancel_job(JobRef("apolo", "a", "job-1"), "t")
    await hook.acancel_job(JobRef("apolo", "a", "gone"), "t")
    assert fake.killed == ["job-1", "gone"]
    await hook.aclose()
    assert hook._async_client is None
