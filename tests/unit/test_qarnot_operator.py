"""Every QarnotOperator branch with a fake hook: validation (nothing submitted), submit, reattach, blocking wait,
deferral, execute_complete events, kill, timeout and the results download after success."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
from airflow.sdk.exceptions import AirflowException, AirflowFailException, TaskDeferred

from airflow_provider_batch.common.jobref import JobRef
from airflow_provider_batch.common.states import JobState, JobStatus
from airflow_provider_batch.hooks.qarnot import QarnotHook
from airflow_provider_batch.operators.qarnot import QarnotDeferrableOperator, QarnotOperator
from airflow_provider_batch.triggers.batch import BatchJobTrigger

RUNNING = JobStatus(JobState.RUNNING, "FullyExecuting")
CANCELLING = JobStatus(JobState.RUNNING, "PendingCancel")
SUCCEEDED = JobStatus(JobState.SUCCEEDED, "Success")
FAILED = JobStatus(JobState.FAILED, "Failure", "exit code 3; failed instances: instance 1 Failure")
JOB = JobRef(
    "qarnot", "qarnot_default", "t-1", {"tag": "airflow-job-x", "name": "dag.task", "result_bucket": "outputs"}
)
CMD = {"DOCKER_REPO": "library/alpine", "DOCKER_CMD": "sh -c 'echo hi'"}


def context(try_number: int = 1) -> dict[str, Any]:
    ti = mock.MagicMock(dag_id="dag", task_id="task", run_id="run1", map_index=-1, try_number=try_number)
    return {"ti": ti, "run_id": "run1"}


@pytest.fixture
def hook(monkeypatch):
    fake = mock.MagicMock(spec=QarnotHook)
    fake.submit_job.return_value = JOB
    fake.find_jobs.return_value = []
    fake.read_logs.return_value = ([], "fresh")
    fake.job_url.return_value = ""
    monkeypatch.setattr(QarnotOperator, "hook", fake)
    monkeypatch.setattr("time.sleep", lambda s: None)
    return fake


def operator(**kwargs: Any) -> QarnotOperator:
    kwargs.setdefault("task_id", "task")
    kwargs.setdefault("profile", "docker-batch")
    kwargs.setdefault("constants", CMD)
    return QarnotOperator(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"profile": None}, "profile: profile or qarnot_pool: neither is set"),
        ({"qarnot_pool": "p-1"}, "profile: profile or qarnot_pool: both are set"),
        ({"profile": None, "qarnot_pool": "p-1", "job": "j-1"}, "job: a task in a job runs in the job's pool"),
        ({"instance_count": 2, "instance_ranges": "0-3"}, "instance_count and instance_ranges are both set"),
        ({"instance_ranges": "0-3;7"}, r"instance_ranges: '0-3;7' is not a list of ids and ranges"),
        ({"instance_ranges": "5-2"}, "range 5-2 runs backwards"),
        ({"constants": {"DOCKER_CMD": "  "}}, r"constants.DOCKER_CMD: is empty \(give the command"),
        ({"scheduling_type": "Cheap"}, "scheduling_type: 'Cheap' is not known"),
        ({"results_dir": "/tmp/x"}, "results_dir: needs a result bucket"),
        ({"input_files": {"inputs": []}}, "input_files: bucket 'inputs' has no files"),
    ],
)
def test_bad_input_fails_for_good_and_submits_nothing(hook, kwargs, message):
    with pytest.raises(AirflowFailException, match=message):
        operator(**kwargs).execute(context())
    hook.submit_job.assert_not_called()
    hook.find_jobs.assert_not_called()


def test_a_missing_input_bucket_fails_for_good_before_submitting(hook):
    from airflow_provider_batch.common.errors import InvalidJobSpecError

    hook.check_input_buckets.side_effect = InvalidJobSpecError("input_buckets", "bucket 'gone' does not exist")
    with pytest.raises(AirflowFailException, match="input_buckets: bucket 'gone' does not exist"):
        operator(input_buckets=["gone"]).execute(context())
    hook.submit_job.assert_not_called()


def test_the_request_holds_the_task_its_inputs_and_results(hook):
    hook.get_status.side_effect = [SUCCEEDED]
    op = operator(
        instance_ranges="0-3, 7",
        tags=["team-a"],
        labels={"k": "v"},
        input_files={"inputs": "data.csv"},
        input_buckets=["shared", "inputs"],
        result_bucket="outputs",
        scheduling_type="OnDemand",
        max_retries_per_instance=2,
        hardware_constraints=[{"discriminator": "MinimumCoreHardwareConstraint", "coreCount": 4}],
    )
    assert op.execute(context()) == {
        "job_id": "t-1",
        "tag": "airflow-job-x",
        "name": "dag.task",
        "result_bucket": "outputs",
        "state": "succeeded",
    }
    request, identity, generation = hook.submit_job.call_args.args
    spec = request.spec
    assert (spec.name, spec.profile, spec.pool_uuid, spec.advanced_ranges, spec.instance_count) == (
        "dag.task",
        "docker-batch",
        None,
        "0-3,7",
        None,
    )
    assert spec.constants == CMD and spec.tags == ["team-a"] and spec.labels == {"k": "v"}
    assert [r.name for r in spec.resources] == ["inputs", "shared"] and spec.result_bucket == "outputs"
    assert (spec.scheduling_type, spec.max_retries_per_instance) == ("OnDemand", 2)
    assert request.input_files == {"inputs": ["data.csv"]} and request.result_bucket == "outputs"
    assert (identity.uri, generation) == ("airflow://dag/task/run1/-1", 0)
    hook.check_input_buckets.assert_called_once_with(["shared"])  # "inputs" is uploaded, so created


def test_a_pool_and_a_job_are_passed_through(hook):
    hook.get_status.side_effect = [SUCCEEDED]
    operator(profile=None, qarnot_pool="p-1", instance_count=3, name="mine").execute(context())
    spec = hook.submit_job.call_args.args[0].spec
    assert (spec.profile, spec.pool_uuid, spec.instance_count, spec.name) == (None, "p-1", 3, "mine")
    hook.get_status.side_effect = [SUCCEEDED]
    operator(job="j-1").execute(context())
    assert hook.submit_job.call_args.args[0].spec.job_uuid == "j-1"


def test_blocking_waits_through_pending_cancel_and_copies_the_logs(hook):
    hook.get_status.side_effect = [RUNNING, CANCELLING, RUNNING, SUCCEEDED]
    hook.read_logs.side_effect = [(["hello"], "fresh"), ([], "fresh"), (["bye"], "fresh")]
    op = operator()
    with mock.patch.object(type(op), "log", new_callable=mock.PropertyMock) as log:
        assert op.execute(context())["state"] == "succeeded"
    copied = [c.args[0] % c.args[1:] for c in log.return_value.info.call_args_list]
    assert "[t-1] hello" in copied and "[t-1] bye" in copied


def test_a_failed_task_fails_with_its_errors_and_failed_instances(hook):
    hook.get_status.side_effect = [RUNNING, FAILED]
    with pytest.raises(AirflowException, match="ended Failure: exit code 3; failed instances: instance 1 Failure"):
        operator().execute(context())


def test_a_retry_reattaches_to_the_running_task(hook):
    hook.find_jobs.return_value = [(JOB, RUNNING)]
    hook.get_status.side_effect = [RUNNING, SUCCEEDED]
    assert operator().execute(context(try_number=2))["job_id"] == "t-1"
    hook.submit_job.assert_not_called()


def test_a_retry_after_a_failure_submits_a_new_generation(hook):
    hook.find_jobs.return_value = [(JobRef("qarnot", "qarnot_default", "t-old"), FAILED)]
    hook.get_status.side_effect = [SUCCEEDED]
    operator().execute(context(try_number=2))
    assert hook.submit_job.call_args.args[2] == 2


def test_deferrable_defers_to_the_shared_trigger(hook):
    hook.get_status.side_effect = [RUNNING]
    with pytest.raises(TaskDeferred) as deferred:
        QarnotDeferrableOperator(task_id="task", profile="docker-batch", constants=CMD, timeout=60).execute(context())
    trigger = deferred.value.trigger
    assert isinstance(trigger, BatchJobTrigger) and trigger.job == JOB.to_json() and trigger.deadline
    assert deferred.value.method_name == "execute_complete"


def event(status: str, state: JobStatus | None = None, message: str = "") -> dict[str, Any]:
    state = state or SUCCEEDED
    return {
        "status": status,
        "job_id": "t-1",
        "state": state.state.value,
        "native_state": state.native_state,
        "message": message or state.reason,
        "job": JOB.to_json(),
    }


def test_execute_complete_success_downloads_the_results(hook, tmp_path):
    hook.download_results.return_value = [tmp_path / "out.txt"]
    op = operator(result_bucket="outputs", results_dir=str(tmp_path))
    assert op.execute_complete(context(), event("success"))["state"] == "succeeded"
    hook.download_results.assert_called_once_with(JOB, str(tmp_path))
    hook.read_logs.assert_called_once_with(JOB, "")


def test_blocking_success_downloads_the_results_too(hook, tmp_path):
    hook.get_status.side_effect = [RUNNING, SUCCEEDED]
    operator(result_bucket="outputs", results_dir=str(tmp_path)).execute(context())
    hook.download_results.assert_called_once_with(JOB, str(tmp_path))


def test_no_results_dir_means_no_download(hook):
    operator(result_bucket="outputs").execute_complete(context(), event("success"))
    hook.download_results.assert_not_called()


def test_execute_complete_failure_cancel_timeout_and_error(hook):
    with pytest.raises(AirflowException, match="ended Failure: exit code 3"):
        operator().execute_complete(context(), event("failed", FAILED))
    with pytest.raises(AirflowException, match="ended Cancelled"):
        operator().execute_complete(context(), event("cancelled", JobStatus(JobState.CANCELLED, "Cancelled")))
    hook.cancel_job.assert_not_called()
    with pytest.raises(AirflowException, match="timed out and was cancelled"):
        operator().execute_complete(context(), event("timeout", RUNNING, "deadline passed"))
    hook.cancel_job.assert_called_once()
    with pytest.raises(AirflowException, match="Qarnot GET failed"):
        operator().execute_complete(context(), event("error", RUNNING, "Qarnot GET failed"))
    hook.download_results.assert_not_called()


def test_kill_aborts_the_task(hook):
    hook.get_status.side_effect = [RUNNING, KeyboardInterrupt()]
    op = operator()
    with pytest.raises(KeyboardInterrupt):
        op.execute(context())
    op.on_kill()
    hook.cancel_job.assert_called_once_with(JOB, "the Airflow task was killed")


def test_timeout_aborts_the_task(hook, monkeypatch):
    clock = iter(range(0, 10_000, 50))
    monkeypatch.setattr("time.monotonic", lambda: next(clock))
    hook.get_status.return_value = RUNNING
    with pytest.raises(AirflowException, match="did not finish within 120s"):
        operator(timeout=120).execute(context())
    hook.cancel_job.assert_called_once_with(JOB, "the task's timeout passed")


def test_templated_fields_are_the_tasks_inputs():
    assert {"constants", "input_files", "result_bucket", "results_dir", "name", "job"} <= set(
        QarnotOperator.template_fields
    )
