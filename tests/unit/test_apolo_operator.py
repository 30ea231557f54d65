"""Every ApoloJobOperator branch with a fake hook: validation (nothing submitted), the request, reattach, blocking
wait with log lines, deferral, execute_complete events, kill and timeout."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from airflow.sdk.exceptions import AirflowException, AirflowFailException, TaskDeferred

from airflow_provider_batch.clients.apolo.types import DiskVolume, HTTPPort, JobPriority, SecretFile, Volume
from airflow_provider_batch.common.jobref import JobRef
from airflow_provider_batch.common.states import JobState, JobStatus
from airflow_provider_batch.hooks.apolo import ApoloHook, ApoloSubmission
from airflow_provider_batch.operators.apolo import ApoloJobDeferrableOperator, ApoloJobOperator
from airflow_provider_batch.triggers.batch import BatchJobTrigger

PENDING = JobStatus(JobState.QUEUED, "pending")
SUSPENDED = JobStatus(JobState.QUEUED, "suspended")
RUNNING = JobStatus(JobState.RUNNING, "running")
SUCCEEDED = JobStatus(JobState.SUCCEEDED, "succeeded")
FAILED = JobStatus(JobState.FAILED, "failed", "failed (Error): boom, exit code 3")
JOB = JobRef("apolo", "apolo_default", "job-1", {"name": "task-0123456789", "tag": "airflow-job-x"})


def context(try_number: int = 1) -> dict[str, Any]:
    ti = mock.MagicMock(dag_id="dag", task_id="task", run_id="run1", map_index=-1, try_number=try_number)
    return {"ti": ti, "run_id": "run1"}


@pytest.fixture
def hook(monkeypatch):
    fake = mock.MagicMock(spec=ApoloHook)
    fake.submit_job.return_value = JOB
    fake.find_jobs.return_value = []
    fake.read_logs.return_value = ([], "")
    fake.job_url.return_value = ""
    monkeypatch.setattr(ApoloJobOperator, "hook", fake)
    monkeypatch.setattr("time.sleep", lambda s: None)
    return fake


def operator(**kwargs: Any) -> ApoloJobOperator:
    kwargs.setdefault("task_id", "task")
    kwargs.setdefault("image", "ubuntu:22.04")
    kwargs.setdefault("preset_name", "cpu-small")
    kwargs.setdefault("command", "echo hi")
    return ApoloJobOperator(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"image": " "}, r"image: is empty \(give the container image"),
        ({"preset_name": ""}, r"preset_name: is empty \(give a resource preset"),
        ({"command": ""}, "command: is empty"),
        ({"env": {"1BAD": "x"}}, "env.1BAD: is not a valid variable name"),
        ({"env": {"A-B": "x"}}, "env.A-B: is not a valid variable name"),
        ({"secret_env": {"TOKEN": "plain-value"}}, r"secret_env.TOKEN: 'plain-value' is not a secret URI"),
        ({"volumes": ["/host:/mnt"]}, r"volumes\[0\]: '/host:/mnt' does not start with storage:"),
        ({"volumes": ["storage:data:relative"]}, r"volumes\[0\]: .* no source path and absolute mount path"),
        ({"volumes": ["storage:/mnt"]}, r"volumes\[0\]"),
        ({"life_span": 30}, r"life_span: 30 is not a number of seconds >= 60"),
        ({"life_span": "1h"}, "life_span: '1h' is not a number of seconds"),
        ({"schedule_timeout": 0}, "schedule_timeout: 0 is not a number"),
        ({"restart_policy": "on-failure"}, r"restart_policy: 'on-failure' restarts the job.*use \"never\""),
        ({"priority": "urgent"}, "priority: 'urgent' is not known"),
        ({"name": "Bad_Name"}, "name: 'Bad_Name' is not a job name start"),
        ({"name": "a" * 30}, "name: .* at most 29"),
        ({"tags": ["with space"]}, "tags: 'with space' is not a tag"),
        ({"tags": [f"t{i}" for i in range(9)]}, "tags: 9 tags"),
        ({"http_port": 70000}, "http_port: 70000 is not a port"),
    ],
)
def test_bad_input_fails_for_good_and_submits_nothing(hook, kwargs, message):
    with pytest.raises(AirflowFailException, match=message):
        operator(**kwargs).execute(context())
    hook.submit_job.assert_not_called()
    hook.find_jobs.assert_not_called()


def test_the_request_holds_every_argument(hook):
    hook.get_status.side_effect = [SUCCEEDED]
    op = operator(
        command=["python", "-c", "print('hi there')"],
        entrypoint="/bin/sh -c",
        working_dir="/work",
        env={"A": 1, "B": None},
        secret_env={"TOKEN": "secret:my-token"},
        volumes=["storage:data:/var/data:ro", "disk:disk-1:/mnt/disk", "secret:key:/etc/key", "storage:out:/out:rw"],
        http_port=8080,
        http_auth=False,
        tags=["team-a"],
        description="nightly",
        name="nightly-etl",
        life_span=timedelta(hours=1),
        schedule_timeout=120,
        priority="HIGH",
        pass_config=True,
        wait_for_jobs_quota=True,
    )
    assert op.execute(context()) == {
        "job_id": "job-1",
        "name": "task-0123456789",
        "tag": "airflow-job-x",
        "state": "succeeded",
    }
    request, identity, generation = hook.submit_job.call_args.args
    assert request == ApoloSubmission(
        image="ubuntu:22.04",
        preset_name="cpu-small",
        command="python -c 'print('\"'\"'hi there'\"'\"')'",
        entrypoint="/bin/sh -c",
        working_dir="/work",
        env={"A": "1", "B": ""},
        secret_env={"TOKEN": "secret:my-token"},
        volumes=[Volume("storage:data", "/var/data", True), Volume("storage:out", "/out", False)],
        secret_files=[SecretFile("secret:key", "/etc/key")],
        disk_volumes=[DiskVolume("disk:disk-1", "/mnt/disk", False)],
        http=HTTPPort(8080, False),
        tags=["team-a"],
        description="nightly",
        life_span=3600.0,
        schedule_timeout=120.0,
        priority=JobPriority.HIGH,
        pass_config=True,
        wait_for_jobs_quota=True,
        privileged=False,
        name_prefix="nightly-etl",
    )
    assert (identity.uri, generation) == ("airflow://dag/task/run1/-1", 0)


def test_blocking_waits_through_pending_and_suspended_and_copies_the_logs(hook):
    hook.get_status.side_effect = [PENDING, RUNNING, SUSPENDED, RUNNING, SUCCEEDED]
    hook.read_logs.side_effect = [(["hello"], "t1"), ([], "t1"), (["bye"], "t2"), ([], "t2")]
    op = operator()
    with mock.patch.object(type(op), "log", new_callable=mock.PropertyMock) as log:
        assert op.execute(context())["state"] == "succeeded"
    copied = [c.args[0] % c.args[1:] for c in log.return_value.info.call_args_list]
    assert "[job-1] hello" in copied and "[job-1] bye" in copied
    cursors = [c.args[1] for c in hook.read_logs.call_args_list]
    assert cursors == ["", "t1", "t1", "t2"]  # each read resumes from the last line's timestamp


def test_a_failed_job_fails_with_status_reason_description_and_exit_code(hook):
    hook.get_status.side_effect = [RUNNING, FAILED]
    with pytest.raises(AirflowException, match=r"ended failed: failed \(Error\): boom, exit code 3"):
        operator().execute(context())


def test_logs_that_cannot_be_read_do_not_decide_the_outcome(hook):
    hook.get_status.side_effect = [RUNNING, SUCCEEDED]
    hook.read_logs.side_effect = ConnectionError("log stream broke")
    assert operator().execute(context())["state"] == "succeeded"


def test_a_retry_reattaches_to_the_running_job(hook):
    hook.find_jobs.return_value = [(JOB, RUNNING)]
    hook.get_status.side_effect = [RUNNING, SUCCEEDED]
    assert operator().execute(context(try_number=2))["job_id"] == "job-1"
    hook.submit_job.assert_not_called()


def test_a_retry_after_a_failure_submits_a_new_generation(hook):
    hook.find_jobs.return_value = [(JobRef("apolo", "apolo_default", "job-old"), FAILED)]
    hook.get_status.side_effect = [SUCCEEDED]
    operator().execute(context(try_number=2))
    assert hook.submit_job.call_args.args[2] == 2


def test_deferrable_defers_to_the_shared_trigger(hook):
    hook.get_status.side_effect = [PENDING]
    with pytest.raises(TaskDeferred) as deferred:
        ApoloJobDeferrableOperator(task_id="task", image="ubuntu:22.04", preset_name="cpu-small", timeout=60).execute(
            context()
        )
    trigger = deferred.value.trigger
    assert isinstance(trigger, BatchJobTrigger) and trigger.job == JOB.to_json() and trigger.deadline
    assert deferred.value.method_name == "execute_complete"
    assert "token" not in str(trigger.serialize()).lower()


def event(status: str, state: JobStatus | None = None, message: str = "") -> dict[str, Any]:
    state = state or SUCCEEDED
    return {
        "status": status,
        "job_id": "job-1",
        "state": state.state.value,
        "native_state": state.native_state,
        "message": message or state.reason,
        "job": JOB.to_json(),
    }


def test_execute_complete_success_copies_the_whole_log(hook):
    hook.read_logs.return_value = (["line"], "t9")
    assert operator().execute_complete(context(), event("success"))["state"] == "succeeded"
    hook.read_logs.assert_called_once_with(JOB, "")


def test_execute_complete_failure_cancel_timeout_and_error(hook):
    with pytest.raises(AirflowException, match="ended failed: failed \\(Error\\): boom, exit code 3"):
        operator().execute_complete(context(), event("failed", FAILED))
    cancelled = JobStatus(JobState.CANCELLED, "cancelled", "cancelled (LifeSpanEnded)")
    with pytest.raises(AirflowException, match="ended cancelled: cancelled \\(LifeSpanEnded\\)"):
        operator().execute_complete(context(), event("cancelled", cancelled))
    with pytest.raises(AirflowException, match="timed out and was cancelled"):
        operator().execute_complete(context(), event("timeout", RUNNING, "deadline passed"))
    hook.cancel_job.assert_called_once()
    with pytest.raises(AirflowException, match="no such job"):
        operator().execute_complete(context(), event("error", RUNNING, "no such job"))


def test_kill_kills_the_job(hook):
    op = operator()
    op.on_kill()  # nothing submitted yet: nothing to kill
    hook.cancel_job.assert_not_called()
    hook.get_status.side_effect = [SUCCEEDED]
    op.execute(context())
    op.on_kill()
    hook.cancel_job.assert_called_once_with(JOB, "the Airflow task was killed")


def test_timeout_kills_the_job(hook, monkeypatch):
    hook.get_status.return_value = RUNNING
    clock = iter(range(0, 10_000, 50))
    monkeypatch.setattr("time.monotonic", lambda: next(clock))
    with pytest.raises(AirflowException, match="did not finish within 60s; cancelled"):
        operator(timeout=60).execute(context())
    hook.cancel_job.assert_called_once_with(JOB, "the task's timeout passed")


def test_templated_fields_and_the_link():
    op = operator()
    assert {"image", "command", "env", "tags", "name", "preset_name", "volumes"} <= set(op.template_fields)
    assert [link.name for link in op.operator_extra_links] == ["Apolo job"]
