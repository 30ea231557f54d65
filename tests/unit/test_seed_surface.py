"""The original Armada operator's surface: argument mapping, refusals with their messages, the utils helpers'
meanings, a bounded CONNECTION_ERR, and a custom annotation prefix that leaves reattach alone."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace
from typing import Any
from unittest import mock

import grpc
import pytest
from airflow.sdk.exceptions import AirflowException, AirflowFailException, TaskDeferred

from airflow_provider_batch._proto.armada import submit_pb2
from airflow_provider_batch.clients.armada.client import ArmadaClient
from airflow_provider_batch.clients.jobservice import JobServiceState
from airflow_provider_batch.common.errors import InvalidJobSpecError, SchedulerError
from airflow_provider_batch.common.identity import JobIdentity
from airflow_provider_batch.common.jobref import JobRef
from airflow_provider_batch.common.retry import RetryPolicy
from airflow_provider_batch.common.states import JobState as Common
from airflow_provider_batch.common.states import JobStatus
from airflow_provider_batch.compat.armada.operators.armada import ArmadaOperator
from airflow_provider_batch.compat.armada.operators.armada_deferrable import (
    ArmadaDeferrableOperator,
    ArmadaJobCompleteTrigger,
)
from airflow_provider_batch.compat.armada.operators.utils import (
    JobState,
    airflow_error,
    annotate_job_request_items,
    get_annotation_key_prefix,
    job_state_from_pb,
    search_for_job_complete,
    search_for_job_complete_async,
)
from airflow_provider_batch.hooks.armada import ArmadaHook
from airflow_provider_batch.hooks.armada_channel import ArmadaChannelHook
from airflow_provider_batch.hooks.armada_channel_args import ChannelSpec, parse_channel_args
from airflow_provider_batch.jobservice.states import from_wire

QUANTITY = {"cpu": "100m", "memory": "64Mi"}
POD = {
    "containers": [
        {
            "name": "main",
            "image": "busybox",
            "command": ["true"],
            "resources": {"requests": QUANTITY, "limits": QUANTITY},
        }
    ]
}
FAST = RetryPolicy(max_attempts=4, initial_backoff=0.0, max_backoff=0.0)
TOKEN = "s3cr3t-token"


def seed_item(**fields: Any) -> submit_pb2.JobSubmitRequestItem:
    return ArmadaClient.create_job_request_item(pod_spec=POD, namespace="default", **fields)


def context(run_id: str = "run1") -> dict[str, Any]:
    ti = mock.MagicMock(dag_id="dag", task_id="task", run_id=run_id, map_index=-1, try_number=1)
    return {"ti": ti, "run_id": run_id, "dag": SimpleNamespace(dag_id="dag")}


def credentials_token(audience: str = "") -> str:
    """An importable credentials callback (as credentials_callback_args name it)."""
    return f"from-callback-{audience}"


@pytest.fixture
def armada_conn(monkeypatch: pytest.MonkeyPatch) -> None:
    extra = {"default_queue": "conn-q", "lookout_url_template": "http://conn-lookout/<job_id>"}
    conn = {"conn_type": "armada", "host": "armada.example:50051", "password": TOKEN, "extra": extra}
    monkeypatch.setenv("AIRFLOW_CONN_ARMADA_DEFAULT", json.dumps(conn))
    monkeypatch.setenv("AIRFLOW_CONN_JS_TOKEN", json.dumps({"conn_type": "batch_jobservice", "password": "js-token"}))


def seed_operator(**kwargs: Any) -> ArmadaOperator:
    kwargs.setdefault("task_id", "task")
    kwargs.setdefault("name", "my-job")
    kwargs.setdefault("armada_queue", "q")
    kwargs.setdefault("job_set_id", "js")
    kwargs.setdefault("job_request_items", [seed_item()])
    return ArmadaOperator(**kwargs)


# -- the operator's original arguments -----------------------------------------------------------------------------


def test_job_request_items_name_and_queue_become_the_submission(armada_conn: None) -> None:
    submission = seed_operator(job_request_items=[seed_item(priority=3.0, labels={"team": "a"})]).build_request(
        context()
    )
    assert submission.queue == "q"
    assert submission.item.priority == 3.0 and submission.item.labels["team"] == "a"
    assert submission.item.pod_specs[0].containers[0].image == "busybox"
    annotations = dict(submission.item.annotations)
    assert annotations["armadaproject.io/taskId"] == "task"
    assert annotations["armadaproject.io/taskRunId"] == "run1"
    assert annotations["armadaproject.io/dagId"] == "dag"
    assert annotations["armadaproject.io/airflowTaskName"] == "my-job"


def test_a_dict_item_is_accepted_and_templated(armada_conn: None) -> None:
    item = {"namespace": "default", "pod_spec": POD, "labels": {"run": "{{ run_id }}"}}
    op = seed_operator(job_request_items=[item])
    op.render_template_fields({"run_id": "run7", "ti": context()["ti"]})
    assert op.build_request(context("run7")).item.labels["run"] == "run7"


def test_several_items_are_checked_and_kept_an_empty_list_is_refused(armada_conn: None) -> None:
    op = seed_operator(job_request_items=[seed_item(), seed_item(priority=2.0)])
    assert op.job_request_items is not None and len(op.job_request_items) == 2
    assert op.build_item(context(), 1).priority == 2.0
    with pytest.raises(InvalidJobSpecError, match="is empty"):
        seed_operator(job_request_items=[])
    with pytest.raises(InvalidJobSpecError) as error:
        seed_operator(job_request_items=[seed_item(), {"namespace": "default", "colour": "red"}])
    assert error.value.field == "job_request_items[1]"


def test_job_request_and_job_request_items_are_exclusive() -> None:
    with pytest.raises(InvalidJobSpecError, match="exactly one of job_request and job_request_items"):
        seed_operator(job_request=POD)
    with pytest.raises(InvalidJobSpecError, match="exactly one"):
        ArmadaOperator(task_id="t", armada_queue="q")


def test_a_bad_item_is_refused_at_parse_time() -> None:
    with pytest.raises(InvalidJobSpecError) as error:
        seed_operator(job_request_items=[{"namespace": "default", "pod_spec": POD, "colour": "red"}])
    assert error.value.field == "job_request_items[0]" and "colour" in str(error.value)


def test_lookout_url_template_overrides_the_connections(armada_conn: None) -> None:
    job = JobRef("armada", "armada_default", "01ABC", {"queue": "q", "job_set_id": "js"})
    assert seed_operator().hook.job_url(job) == "http://conn-lookout/01ABC"
    op = seed_operator(lookout_url_template="https://lookout.example/jobs?job_id=<job_id>")
    assert op.hook.job_url(job) == "https://lookout.example/jobs?job_id=01ABC"


def test_armada_channel_args_give_the_channel_and_the_connection_the_rest(armada_conn: None) -> None:
    args = {
        "target": "127.0.0.1:7777",
        "options": [("grpc.keepalive_time_ms", 30000)],
        "compression": grpc.Compression.Gzip,
        "credentials": {"conn_id": "js_token"},
    }
    op = seed_operator(armada_channel_args=args)
    hook = op.hook
    assert isinstance(hook, ArmadaChannelHook) and hook.backend == "armada"
    assert hook.settings.channel.target == "127.0.0.1:7777" and not hook.settings.channel.tls
    assert hook.settings.channel.options == (("grpc.keepalive_time_ms", 30000),)
    assert hook.settings.channel.compression == "gzip"
    assert hook.settings.credentials is not None and hook.settings.credentials.header == "Bearer js-token"
    assert hook.settings.default_queue == "conn-q"  # from armada_conn_id
    assert hook.conn_id == "armada_default"  # a connection id, never a JSON document
    job = hook.job_ref("01J", {"queue": "q", "job_set_id": "s"})
    assert job.conn_id == "armada_default" and TOKEN not in json.dumps(job.to_json())
    assert ChannelSpec.from_key(job.details["channel"]) == hook.spec  # explicit, checked channel arguments
    assert isinstance(ArmadaHook.for_job(job.conn_id, job.details), ArmadaChannelHook)


def test_without_a_credential_source_the_token_is_armada_conn_ids(armada_conn: None) -> None:
    hook = seed_operator(armada_channel_args={"target": "127.0.0.1:7777"}).hook
    assert hook.settings.credentials is not None and hook.settings.credentials.header == f"Bearer {TOKEN}"


def test_no_connection_at_all_is_fine_with_channel_args(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_ARMADA_DEFAULT", raising=False)
    hook = seed_operator(armada_channel_args={"target": "127.0.0.1:7777"}).hook
    assert hook.settings.credentials is None and hook.settings.default_queue == ""


def test_a_credentials_callback_is_called_when_the_channel_is_built(armada_conn: None) -> None:
    callback = {"module_name": __name__, "function_name": "credentials_token", "function_kwargs": {"audience": "x"}}
    spec = parse_channel_args({"target": "h:1", "credentials_callback_args": callback, "tls": False}, "a")
    assert spec.credentials is not None and spec.credentials.call().header == "Bearer from-callback-x"
    assert parse_channel_args({"target": "h:1", "credentials_callback_args": callback}, "a").channel.tls  # seed: TLS


@pytest.mark.parametrize(
    ("args", "field", "words"),
    [
        ({"target": "h:1", "credentials": grpc.ssl_channel_credentials()}, "a.credentials", "put the token in"),
        ({"target": "h:1", "credentials": TOKEN}, "a.credentials", "never stored with a task"),
        (
            {
                "target": "h:1",
                "credentials_callback_args": {
                    "module_name": "os",
                    "function_name": "getcwd",
                    "function_kwargs": {"token": "x"},
                },
            },
            "a.credentials_callback_args.function_kwargs",
            "holds secrets ['token']",
        ),
        (
            {"target": "h:1", "credentials_callback_args": {"module_name": "no.such.module", "function_name": "f"}},
            "a.credentials_callback_args.module_name",
            "cannot be imported",
        ),
        ({"target": "h:1", "interceptors": []}, "a", "unknown keys ['interceptors']"),
        ({"target": "nohostport"}, "a", "is not host:port"),
        ({"target": "h:1", "compression": 7}, "a.compression", "use 'gzip'"),
    ],
)
def test_channel_args_refusals_say_how_to_migrate(args: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(InvalidJobSpecError) as error:
        parse_channel_args(args, "a")
    assert error.value.field == field
    assert words in str(error.value)
    assert TOKEN not in str(error.value)


# -- the deferrable operator and ArmadaJobCompleteTrigger --------------------------------------------------------


@pytest.fixture
def fake_hook(monkeypatch: pytest.MonkeyPatch) -> mock.MagicMock:
    fake = mock.MagicMock(spec=ArmadaHook)
    fake.settings = mock.Mock(default_queue="default-q")
    fake.submit_job.return_value = JobRef("armada", "armada_default", "01JOB", {"queue": "q", "job_set_id": "js"})
    fake.find_jobs.return_value = []
    fake.read_logs.return_value = ([], "")
    fake.job_url.return_value = ""
    fake.get_status.return_value = JobStatus(Common.QUEUED, "QUEUED")
    monkeypatch.setattr(ArmadaOperator, "hook", fake)
    monkeypatch.setattr("time.sleep", lambda s: None)
    return fake


def test_deferrable_with_a_job_service_defers_to_the_original_trigger(fake_hook: mock.MagicMock) -> None:
    js = {"target": "127.0.0.1:60003", "credentials": {"conn_id": "js_token"}}
    op = ArmadaDeferrableOperator(
        task_id="task",
        name="seed",
        armada_queue="q",
        job_set_id="js",
        job_request_items=[seed_item()],
        job_service_channel_args=js,
        poll_interval=5,
    )
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(context())
    trigger = deferred.value.trigger
    assert isinstance(trigger, ArmadaJobCompleteTrigger)
    assert deferred.value.method_name == "resume_job_complete" and deferred.value.kwargs == {"job_id": "01JOB"}
    assert (trigger.job_id, trigger.armada_queue, trigger.job_set_id, trigger.airflow_task_name) == (
        "01JOB",
        "q",
        "js",
        "seed",
    )
    assert trigger.poll_interval == 5


def test_deferrable_without_a_job_service_uses_the_shared_trigger(fake_hook: mock.MagicMock) -> None:
    op = ArmadaDeferrableOperator(task_id="task", armada_queue="q", job_set_id="js", job_request_items=[seed_item()])
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(context())
    assert type(deferred.value.trigger).__name__ == "BatchJobTrigger"
    assert deferred.value.method_name == "execute_complete"


def test_resume_job_complete_is_execute_complete(fake_hook: mock.MagicMock) -> None:
    op = ArmadaDeferrableOperator(task_id="task", name="seed", armada_queue="q", job_request_items=[seed_item()])
    job = fake_hook.submit_job.return_value.to_json()
    done = {"status": "success", "state": "succeeded", "native_state": "SUCCEEDED", "message": "", "job": job}
    assert op.resume_job_complete(context(), done, job_id="01JOB")["state"] == "succeeded"
    failed = {**done, "status": "failed", "state": "failed", "native_state": "FAILED", "message": "exit 3"}
    with pytest.raises(AirflowException, match="exit 3") as error:
        op.resume_job_complete(context(), failed, job_id="01JOB")
    assert not isinstance(error.value, AirflowFailException)


def test_trigger_serializes_to_its_own_classpath_as_plain_json() -> None:
    js = {"target": "127.0.0.1:60003", "options": [("grpc.enable_retries", 1)], "credentials": {"conn_id": "js_token"}}
    trigger = ArmadaJobCompleteTrigger("01JOB", js, "q", "js", "seed", poll_interval=7)
    classpath, kwargs = trigger.serialize()
    assert classpath == "airflow_provider_batch.compat.armada.operators.armada_deferrable.ArmadaJobCompleteTrigger"
    text = json.dumps(kwargs)  # plain JSON
    assert "js-token" not in text and TOKEN not in text
    again = ArmadaJobCompleteTrigger(**json.loads(text))
    assert again.serialize() == (classpath, json.loads(text))
    assert again.job == {
        "backend": "armada",
        "conn_id": "armada_default",
        "job_id": "01JOB",
        "details": {"queue": "q", "job_set_id": "js"},
    }


def test_the_job_services_answers_in_the_common_vocabulary() -> None:
    assert from_wire(JobServiceState.SUCCEEDED, "").state is Common.SUCCEEDED
    assert from_wire(JobServiceState.FAILED, "exit 3") == JobStatus(Common.FAILED, "FAILED", "exit 3")
    assert from_wire(JobServiceState.JOB_ID_NOT_FOUND, "").state is Common.UNKNOWN  # the grace period applies
    with pytest.raises(SchedulerError) as error:
        from_wire(JobServiceState.CONNECTION_ERR, "stream broke")
    assert error.value.retryable and "stream broke" in str(error.value)  # the trigger's bounded retry decides


def test_trigger_events_carry_the_original_keys() -> None:
    trigger = ArmadaJobCompleteTrigger("01JOB", None, "q", "js", "seed")
    event = trigger.final_event({"status": "failed", "state": "failed", "message": "exit 3"})
    assert event["job_state"] == "FAILED" and event["job_message"] == "Armada seed:01JOB failed: exit 3"
    lost = trigger.final_event({"status": "error", "state": "unknown", "message": "not known for 300s"})
    assert lost["job_state"] == "JOB_ID_NOT_FOUND"
    with pytest.raises(AirflowException, match="The Armada job seed:01JOB FAILED"):
        airflow_error(event["job_state"], "seed", "01JOB")


# -- utils -------------------------------------------------------------------------------------------------------


def test_job_state_is_the_job_services_enum_with_the_seed_values() -> None:
    assert JobState is JobServiceState
    assert [(s.name, s.value) for s in JobState] == [
        ("SUBMITTED", 0),
        ("DUPLICATE_FOUND", 1),
        ("RUNNING", 2),
        ("FAILED", 3),
        ("SUCCEEDED", 4),
        ("CANCELLED", 5),
        ("JOB_ID_NOT_FOUND", 6),
        ("CONNECTION_ERR", 7),
    ]
    assert job_state_from_pb(7) is JobState.CONNECTION_ERR
    with pytest.raises(ValueError, match="job service state 9"):
        job_state_from_pb(9)


@pytest.mark.parametrize("state", [JobState.FAILED, JobState.CANCELLED, JobState.JOB_ID_NOT_FOUND, "failed", 3])
def test_airflow_error_fails_without_retry_as_documented(state: Any) -> None:
    with pytest.raises(AirflowFailException, match="The Armada job seed:01JOB") as error:
        airflow_error(state, "seed", "01JOB")
    assert str(error.value) == f"The Armada job seed:01JOB {_name(state)}"
    with pytest.raises(AirflowFailException, match=r": why$"):
        airflow_error(state, "seed", "01JOB", message="why")


def _name(state: Any) -> str:
    return JobState(state).name if not isinstance(state, str) else state.upper()


def test_airflow_error_on_connection_err_lets_retries_apply() -> None:
    """The search gave up reaching the job service: the job's end is not known, so a retry may help."""
    with pytest.raises(AirflowException, match="CONNECTION_ERR: why") as error:
        airflow_error(JobState.CONNECTION_ERR, "seed", "01JOB", message="why")
    assert not isinstance(error.value, AirflowFailException)


@pytest.mark.parametrize(
    "state", [JobState.SUCCEEDED, JobState.RUNNING, "succeeded", "job_not_found".replace("job_not_found", "submitted")]
)
def test_airflow_error_is_silent_otherwise(state: Any) -> None:
    assert airflow_error(state, "seed", "01JOB") is None


def test_annotation_prefix_and_annotation_of_messages_and_dicts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANNOTATION_KEY_PREFIX", raising=False)
    assert get_annotation_key_prefix() == "armadaproject.io/"
    monkeypatch.setenv("ANNOTATION_KEY_PREFIX", "custom.io/")
    items: list[Any] = [seed_item(), {"namespace": "default"}]
    assert annotate_job_request_items(context(), items) is items
    assert items[0].annotations["custom.io/taskId"] == "task"
    assert items[1]["annotations"] == {
        "custom.io/taskId": "task",
        "custom.io/taskRunId": "run1",
        "custom.io/dagId": "dag",
    }


def answers(*states: JobState, error: str = "") -> mock.Mock:
    return mock.Mock(side_effect=[SimpleNamespace(state=int(s), error=error) for s in states])


def test_search_polls_until_the_end_sleeping_only_between_questions(monkeypatch: pytest.MonkeyPatch) -> None:
    sleeps: list[float] = []
    monkeypatch.setattr("time.sleep", sleeps.append)
    ask = answers(JobState.JOB_ID_NOT_FOUND, JobState.SUBMITTED, JobState.RUNNING, JobState.SUCCEEDED)
    assert search_for_job_complete("q", "js", "seed", "01JOB", poll_interval=2, job_status_callable=ask) == (
        JobState.SUCCEEDED,
        "Armada seed:01JOB succeeded",
    )
    assert sleeps == [2, 2, 2]
    ask.assert_called_with(armada_queue="q", job_set_id="js", job_id="01JOB")


def test_search_reports_the_failure_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("time.sleep", lambda s: None)
    state, message = search_for_job_complete(
        "q", "js", "seed", "01JOB", job_status_callable=answers(JobState.FAILED, error="exit 3")
    )
    assert state is JobState.FAILED and message.endswith("failed with reason exit 3")


def test_job_id_not_found_ends_after_the_time_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("time.sleep", lambda s: None)
    monkeypatch.setenv("ARMADA_AIRFLOW_TIME_OUT_JOB_ID", "-1")  # the env var wins over the argument
    ask = answers(JobState.JOB_ID_NOT_FOUND)
    state, message = search_for_job_complete(
        "q", "js", "seed", "01JOB", job_status_callable=ask, time_out_for_failure=7200
    )
    assert state is JobState.JOB_ID_NOT_FOUND and "hit a timeout" in message and ask.call_count == 1


def test_connection_err_is_retried_with_a_bound_then_fails_clearly(monkeypatch: pytest.MonkeyPatch) -> None:
    sleeps: list[float] = []
    monkeypatch.setattr("time.sleep", sleeps.append)
    ask = answers(*[JobState.CONNECTION_ERR] * 10, error="subscription lost")
    state, message = search_for_job_complete("q", "js", "seed", "01JOB", job_status_callable=ask, connection_retry=FAST)
    assert state is JobState.CONNECTION_ERR and ask.call_count == FAST.max_attempts
    assert "after 4 tries" in message and "subscription lost" in message
    assert len(sleeps) == 3
    with pytest.raises(AirflowException, match="CONNECTION_ERR"):
        airflow_error(state, "seed", "01JOB", message=message)


def test_a_connection_err_streak_is_forgiven_once_answers_come_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("time.sleep", lambda s: None)
    flaky = [JobState.CONNECTION_ERR] * 3 + [JobState.RUNNING] + [JobState.CONNECTION_ERR] * 3 + [JobState.SUCCEEDED]
    state, _ = search_for_job_complete(
        "q", "js", "seed", "01JOB", job_status_callable=answers(*flaky), connection_retry=FAST
    )
    assert state is JobState.SUCCEEDED


def test_an_unreachable_job_service_counts_as_a_connection_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("time.sleep", lambda s: None)
    client = mock.Mock()
    client.get_job_status.side_effect = grpc.RpcError("UNAVAILABLE")
    state, message = search_for_job_complete(
        "q", "js", "seed", "01JOB", job_service_client=client, connection_retry=FAST
    )
    assert state is JobState.CONNECTION_ERR and client.get_job_status.call_count == 4
    assert "RpcError" in message
    client.get_job_status.assert_called_with(queue="q", job_id="01JOB", job_set_id="js")


def test_the_async_search_has_the_same_meaning() -> None:
    client = mock.Mock()
    replies = [
        SimpleNamespace(state=int(s), error="") for s in (JobState.CONNECTION_ERR, JobState.RUNNING, JobState.CANCELLED)
    ]
    client.get_job_status = mock.AsyncMock(side_effect=replies)
    result = asyncio.run(
        search_for_job_complete_async("q", "js", "seed", "01JOB", client, poll_interval=0, connection_retry=FAST)
    )
    assert result == (JobState.CANCELLED, "Armada seed:01JOB cancelled")
    client.get_job_status = mock.AsyncMock(return_value=SimpleNamespace(state=7, error="down"))
    state, _ = asyncio.run(
        search_for_job_complete_async("q", "js", "s", "j", client, poll_interval=0, connection_retry=FAST)
    )
    assert state is JobState.CONNECTION_ERR and client.get_job_status.await_count == 4


# -- a custom annotation prefix does not break reattach ------------------------------------------------------------


def test_custom_prefix_changes_annotations_not_the_reattach_identity(
    armada_conn: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANNOTATION_KEY_PREFIX", "custom.io/")
    submission = seed_operator().build_request(context())
    assert "custom.io/taskId" in submission.item.annotations
    hook = ArmadaHook("armada_default")
    client = mock.MagicMock()
    client.submit_jobs.return_value = submit_pb2.JobSubmitResponse(
        job_response_items=[submit_pb2.JobSubmitResponseItem(job_id="01JOB")]
    )
    hook.__dict__["client"] = client
    identity = JobIdentity("dag", "task", "run1")
    hook.submit_job(submission, identity, 0)
    sent = client.submit_jobs.call_args.args[2][0]
    assert sent.external_job_uri == identity.uri and sent.client_id == identity.client_id(0)
    assert sent.annotations["custom.io/taskId"] == "task"
