"""Every branch of the shared operator lifecycle, with ArmadaOperator and a fake hook."""

from __future__ import annotations

from typing import Any
from unittest import mock

import grpc
import pytest
from airflow.sdk.exceptions import AirflowException, AirflowFailException, TaskDeferred

from airflow_provider_batch.clients.apolo import errors as apolo_errors
from airflow_provider_batch.clients.armada.client import ArmadaRpcError
from airflow_provider_batch.clients.qarnot import errors as qarnot_errors
from airflow_provider_batch.common.jobref import JobRef
from airflow_provider_batch.common.states import JobState, JobStatus
from airflow_provider_batch.hooks.armada import ArmadaHook
from airflow_provider_batch.operators.armada import ArmadaOperator
from airflow_provider_batch.triggers.batch import BatchJobTrigger

POD = {
    "containers": [
        {
            "name": "main",
            "image": "busybox",
            "command": ["true"],
            "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"cpu": "100m", "memory": "64Mi"}},
        }
    ]
}
QUEUED = JobStatus(JobState.QUEUED, "QUEUED")
RUNNING = JobStatus(JobState.RUNNING, "RUNNING")
SUCCEEDED = JobStatus(JobState.SUCCEEDED, "SUCCEEDED")
FAILED = JobStatus(JobState.FAILED, "FAILED", "process exited with code 3")
REJECTED = JobStatus(JobState.REJECTED, "REJECTED", "quota")


def ref(job_id="01JOB"):
    return JobRef("armada", "armada_default", job_id, {"queue": "q", "job_set_id": "js"})


class FakeStore:
    def __init__(self, value=None):
        self.values = {} if value is None else {"batch_job": value}

    def get(self, key, default=None):
        return self.values.get(key, default)

    def set(self, key, value, **_):
        self.values[key] = value


def context(try_number=1, store=True, stored=None):
    ti = mock.MagicMock(dag_id="dag", task_id="task", run_id="run1", map_index=-1, try_number=try_number)
    ctx: dict[str, Any] = {"ti": ti, "run_id": "run1"}
    if store:
        ctx["task_state_store"] = FakeStore(stored)
    return ctx


@pytest.fixture
def hook(monkeypatch):
    fake = mock.MagicMock(spec=ArmadaHook)
    fake.settings = mock.Mock(default_queue="default-q")
    fake.submit_job.return_value = ref()
    fake.find_jobs.return_value = []
    fake.read_logs.return_value = ([], "")
    fake.job_url.return_value = "http://lookout/01JOB"
    monkeypatch.setattr(ArmadaOperator, "hook", fake)
    monkeypatch.setattr("time.sleep", lambda s: None)
    return fake


def operator(**kwargs):
    kwargs.setdefault("task_id", "task")
    kwargs.setdefault("job_request", POD)
    kwargs.setdefault("queue", "q")
    kwargs.setdefault("job_set_id", "js")
    return ArmadaOperator(**kwargs)


def test_submits_records_and_waits_to_success(hook):
    hook.get_status.side_effect = [QUEUED, RUNNING, SUCCEEDED]
    hook.read_logs.side_effect = [(["hello"], "t1"), ([], "t1"), (["bye"], "t2")]
    ctx = context()
    result = operator().execute(ctx)
    assert result == {"job_id": "01JOB", "queue": "q", "job_set_id": "js", "state": "succeeded"}
    request, identity, generation = hook.submit_job.call_args.args
    assert (request.queue, request.job_set_id, generation) == ("q", "js", 0)
    assert identity.uri == "airflow://dag/task/run1/-1"
    assert ctx["task_state_store"].values["batch_job"] == ref().to_json()
    ctx["ti"].xcom_push.assert_any_call(key="job_id", value="01JOB")
    ctx["ti"].xcom_push.assert_any_call(key="batch_job_url", value="http://lookout/01JOB")
    assert [c.args[1] for c in hook.read_logs.call_args_list] == ["", "t1"]


def test_job_url_is_pushed_empty_without_a_lookout_template(hook):
    """The extra link reads the key after every try; a missing key logs an "XCom not found" error."""
    hook.job_url.return_value = None
    hook.get_status.side_effect = [SUCCEEDED]
    ctx = context()
    operator().execute(ctx)
    ctx["ti"].xcom_push.assert_any_call(key="batch_job_url", value="")


@pytest.mark.parametrize("deferrable", [False, True])
def test_a_job_over_at_the_first_poll_still_gets_its_logs_copied(hook, deferrable):
    """A quick job can end before the first status check: no wait and no deferral then, but its logs are copied."""
    hook.get_status.side_effect = [FAILED]
    hook.read_logs.side_effect = [(["starting", "boom"], "t2")]
    op = operator(deferrable=deferrable)
    with (
        mock.patch.object(type(op), "log", new_callable=mock.PropertyMock) as log,
        pytest.raises(AirflowException, match="code 3"),
    ):
        op.execute(context())
    assert [c.args[1] for c in hook.read_logs.call_args_list] == [""]
    copied = [call.args[0] % call.args[1:] for call in log.return_value.info.call_args_list]
    assert "[01JOB] starting" in copied and "[01JOB] boom" in copied


def test_an_unusable_connection_fails_at_once_naming_it(monkeypatch):
    """A malformed extra is not something a retry can get past: fail now, say which connection and which field."""
    monkeypatch.setenv("AIRFLOW_CONN_ARMADA_BROKEN", "armada://armada.local:443/?tls=maybe")
    with pytest.raises(AirflowFailException, match=r"connection 'armada_broken' is not usable: .*tls.*Fix the conn"):
        operator(armada_conn_id="armada_broken").execute(context())


def test_invalid_request_fails_without_retry_and_submits_nothing(hook):
    bad = {"containers": [{"name": "main", "image": "x"}]}
    with pytest.raises(AirflowFailException, match=r"job_request.containers\[0\].resources"):
        operator(job_request=bad).execute(context())
    hook.submit_job.assert_not_called()


def test_queue_falls_back_to_the_connection_then_refuses(hook):
    hook.get_status.side_effect = [SUCCEEDED]
    assert operator(queue=None).execute(context())["state"] == "succeeded"
    assert hook.submit_job.call_args.args[0].queue == "default-q"
    hook.settings.default_queue = ""
    with pytest.raises(AirflowFailException, match="queue: is not set"):
        operator(queue=None).execute(context())


@pytest.mark.parametrize(
    ("policy", "earlier", "reattached", "generation"),
    [
        ("live", RUNNING, True, None),
        ("live", SUCCEEDED, True, None),
        ("live", FAILED, False, 2),
        ("always", FAILED, True, None),
        ("never", RUNNING, False, 2),
        (lambda state, reason: state is JobState.FAILED and "code 3" in reason, FAILED, True, None),
    ],
)
def test_reattach_policies_on_retry(hook, policy, earlier, reattached, generation):
    hook.find_jobs.return_value = [(ref("01OLD"), earlier)]
    hook.submit_job.return_value = ref("01NEW")
    answers = {"01OLD": [earlier, SUCCEEDED] if earlier.state.is_live else [earlier]}
    hook.get_status.side_effect = lambda job: SUCCEEDED if job.job_id == "01NEW" else answers["01OLD"].pop(0)
    op = operator(reattach_policy=policy)
    ctx = context(try_number=2, store=False)
    if reattached and earlier is FAILED:
        with pytest.raises(AirflowException, match="code 3"):
            op.execute(ctx)
    else:
        result = op.execute(ctx)
        assert result["job_id"] == ("01OLD" if reattached else "01NEW")
    if reattached:
        hook.submit_job.assert_not_called()
    else:
        assert hook.submit_job.call_args.args[2] == generation


def test_a_new_submission_names_the_earlier_jobs_state(hook):
    hook.find_jobs.return_value = [(ref("01OLD"), FAILED)]
    hook.submit_job.return_value = ref("01NEW")
    hook.get_status.return_value = SUCCEEDED
    op = operator()
    with mock.patch.object(type(op), "log", new_callable=mock.PropertyMock) as log:
        op.execute(context(try_number=2, store=False))
    messages = [call.args[0] % call.args[1:] for call in log.return_value.info.call_args_list]
    assert any(message.endswith("01OLD (queue q, job_set_id js) is FAILED") for message in messages), messages


def test_task_state_store_is_asked_before_the_scheduler(hook):
    hook.get_status.return_value = SUCCEEDED
    result = operator().execute(context(try_number=3, stored=ref("01STORED").to_json()))
    assert result["job_id"] == "01STORED"
    hook.find_jobs.assert_not_called()
    hook.submit_job.assert_not_called()


def test_rejected_fails_without_retry_and_failed_may_retry(hook):
    hook.get_status.side_effect = [REJECTED]
    with pytest.raises(AirflowFailException, match="quota"):
        operator().execute(context())
    hook.get_status.side_effect = [RUNNING, FAILED]
    with pytest.raises(AirflowException, match="ended FAILED: process exited with code 3") as raised:
        operator().execute(context())
    assert not isinstance(raised.value, AirflowFailException)


def test_timeout_cancels_the_job(hook, monkeypatch):
    clock = iter(range(0, 10_000, 50))
    monkeypatch.setattr("time.monotonic", lambda: next(clock))
    hook.get_status.return_value = RUNNING
    with pytest.raises(AirflowException, match="did not finish within 120s"):
        operator(timeout=120).execute(context())
    hook.cancel_job.assert_called_once()


def test_on_kill_cancels_the_submitted_job(hook):
    op = operator()
    op.on_kill()  # nothing submitted yet: nothing to cancel
    hook.cancel_job.assert_not_called()
    hook.get_status.side_effect = [SUCCEEDED]
    op.execute(context())
    op.on_kill()
    assert hook.cancel_job.call_args.args[0] == ref()


def test_a_deferred_job_belongs_to_its_trigger_and_a_later_kill_does_not_cancel_it(hook):
    """Seen at 1000 deferred tasks on a busy Airflow 3.2: the worker's report of the deferral timed out, Airflow
    (which had recorded it) told the process it should not be running and killed it; its on_kill cancelled a job
    whose trigger was already waiting on it, and the task failed with "ended CANCELLED"."""
    hook.get_status.side_effect = [RUNNING]
    op = operator(deferrable=True)
    with pytest.raises(TaskDeferred):
        op.execute(context())
    op.on_kill()
    hook.cancel_job.assert_not_called()


def test_wait_for_completion_false_returns_at_once(hook):
    result = operator(wait_for_completion=False).execute(context())
    assert result["state"] == "queued"
    hook.get_status.assert_not_called()


def test_deferrable_finishes_inline_when_already_terminal(hook):
    hook.get_status.side_effect = [SUCCEEDED]
    assert operator(deferrable=True).execute(context())["state"] == "succeeded"


def test_deferrable_defers_with_a_json_trigger(hook):
    hook.get_status.side_effect = [QUEUED]
    op = operator(deferrable=True, poll_interval=5, timeout=600)
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(context())
    trigger = deferred.value.trigger
    assert isinstance(trigger, BatchJobTrigger)
    assert deferred.value.method_name == "execute_complete"
    assert deferred.value.timeout.total_seconds() == 660
    classpath, kwargs = trigger.serialize()
    assert classpath == "airflow_provider_batch.triggers.batch.BatchJobTrigger"
    assert kwargs["job"] == ref().to_json() and kwargs["poll_interval"] == 5 and kwargs["deadline"] > 0


def event(status, state=None, message=""):
    return {"status": status, "job_id": "01JOB", "state": state, "native_state": "", "message": message,
            "job": ref().to_json()}  # fmt: skip


def test_execute_complete_branches(hook):
    op = operator()
    assert op.execute_complete(context(), event("success", "succeeded"))["state"] == "succeeded"
    with pytest.raises(AirflowException, match="boom"):
        op.execute_complete(context(), event("failed", "failed", "boom"))
    with pytest.raises(AirflowFailException):
        op.execute_complete(context(), event("failed", "rejected", "no"))
    with pytest.raises(AirflowException, match="could not"):
        op.execute_complete(context(), event("error", None, "could not get the job's state"))
    with pytest.raises(AirflowException, match="timed out and was cancelled"):
        op.execute_complete(context(), event("timeout"))
    hook.cancel_job.assert_called_once()
    with pytest.raises(AirflowException, match="does not understand"):
        op.execute_complete(context(), None)
    with pytest.raises(AirflowException, match="does not understand"):
        op.execute_complete(context(), {"status": "weird"})


def test_logs_are_copied_from_the_start_on_resume(hook):
    hook.read_logs.return_value = (["line"], "t")
    operator().execute_complete(context(), event("success", "succeeded"))
    hook.read_logs.assert_called_once_with(ref(), "")


def test_bad_arguments_are_refused_at_parse_time():
    with pytest.raises(ValueError, match="reattach_policy"):
        operator(reattach_policy="sometimes")
    with pytest.raises(ValueError, match="poll_interval"):
        operator(poll_interval=0)


def test_armada_queue_does_not_clobber_the_executor_queue():
    op = operator(queue="armada-q", executor_queue="celery-q")
    assert op.armada_queue == "armada-q" and op.queue == "celery-q"
    assert operator(queue=None, armada_queue="seed-q").armada_queue == "seed-q"


# -- permanent refusals fail at once, naming the connection --------------------------------------------------------


def test_an_unknown_queue_fails_at_once_naming_the_connection_and_the_fix(hook):
    hook.endpoint.return_value = "localhost:50051"
    hook.submit_job.side_effect = ArmadaRpcError("SubmitJobs", grpc.StatusCode.NOT_FOUND, "queue 'q' does not exist")
    with pytest.raises(AirflowFailException) as raised:
        operator(armada_conn_id="armada_mine").execute(context())
    assert str(raised.value).splitlines()[0] == (
        "Armada rejected the job: queue 'q' does not exist (connection armada_mine). "
        "Fix: create the queue, or set queue= to an existing one."
    )
    assert isinstance(raised.value.__cause__, ArmadaRpcError)


def test_a_wrong_token_met_by_the_lookup_is_reported_as_authentication(hook):
    hook.endpoint.return_value = "localhost:50051"
    hook.find_jobs.side_effect = ArmadaRpcError(
        "GetJobStatusUsingExternalJobUri", grpc.StatusCode.UNAUTHENTICATED, "missing or wrong bearer token"
    )
    with pytest.raises(AirflowFailException) as raised:
        operator().execute(context())
    first = str(raised.value).splitlines()[0]
    assert first.startswith("Authentication was rejected by Armada at localhost:50051 for connection armada_default.")
    assert "GetJobStatusUsingExternalJobUri" not in str(raised.value)
    hook.submit_job.assert_not_called()


@pytest.mark.parametrize(
    "error",
    [
        qarnot_errors.error_for("POST /tasks", 402, '{"message": "Not enough credits"}'),
        apolo_errors.error_for("POST /jobs", 403, '{"error": "no write access to project p"}'),
        ArmadaRpcError("SubmitJobs", grpc.StatusCode.INVALID_ARGUMENT, "namespace is missing"),
    ],
)
def test_every_permanent_kind_fails_at_once(hook, error):
    hook.endpoint.side_effect = ValueError("an unreadable connection")  # the message then names no endpoint
    hook.submit_job.side_effect = error
    with pytest.raises(AirflowFailException, match=r"\(connection armada_default\)\. Fix: "):
        operator().execute(context())


def test_a_permanent_refusal_while_polling_or_after_resuming_fails_at_once(hook):
    hook.get_status.side_effect = ArmadaRpcError("GetJobStatus", grpc.StatusCode.PERMISSION_DENIED, "no watch")
    with pytest.raises(AirflowFailException, match="Armada denied permission: no watch"):
        operator().execute(context())
    assert hook.get_status.call_count == 1  # not retried by the poll policy either
    op = operator()
    with (
        mock.patch.object(type(op), "after_success", side_effect=qarnot_errors.error_for("GET /b", 401, "")),
        pytest.raises(AirflowFailException, match="Authentication was rejected"),
    ):
        op.execute_complete(context(), event("success", "succeeded"))


def test_other_scheduler_errors_are_left_to_airflows_retries(hook):
    hook.submit_job.side_effect = ArmadaRpcError("SubmitJobs", grpc.StatusCode.INTERNAL, "try later")
    with pytest.raises(ArmadaRpcError) as raised:
        operator().execute(context())
    assert not isinstance(raised.value, AirflowFailException)
