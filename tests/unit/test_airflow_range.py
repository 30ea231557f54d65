"""The supported Airflow range: what differs between its floor (3.2) and 3.3, and the provider's fallback."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
from airflow.sdk.definitions.context import Context
from packaging.version import Version

from airflow_provider_batch.common.jobref import JobRef
from airflow_provider_batch.common.states import JobState, JobStatus
from airflow_provider_batch.hooks.armada import ArmadaHook
from airflow_provider_batch.operators.armada import ArmadaOperator

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


def airflow_version() -> Version:
    from airflow import __version__

    return Version(__version__)


def test_the_installed_airflow_is_in_the_declared_range() -> None:
    assert Version("3.2.0") <= airflow_version() < Version("3.4"), "pyproject.toml declares apache-airflow>=3.2.0,<3.4"


def test_the_task_state_store_is_a_3_3_feature() -> None:
    """If this fails, the fallback below is tested against the wrong assumption about the installed Airflow."""
    assert ("task_state_store" in Context.__annotations__) == (airflow_version() >= Version("3.3"))


@pytest.mark.parametrize("try_number", [1, 2])
def test_without_a_task_state_store_the_job_is_found_through_the_scheduler(
    monkeypatch: pytest.MonkeyPatch, try_number: int
) -> None:
    """Airflow 3.2's context has no `task_state_store`: the operator records the job in XCom only, and a retry finds
    the earlier job by its identity through the hook instead of submitting again."""
    earlier = JobRef("armada", "armada_default", "01OLD", {"queue": "q", "job_set_id": "js"})
    hook = mock.MagicMock(spec=ArmadaHook)
    hook.settings = mock.Mock(default_queue="q")
    hook.find_jobs.return_value = [(earlier, JobStatus(JobState.RUNNING, "RUNNING"))] if try_number > 1 else []
    hook.submit_job.return_value = earlier
    hook.get_status.return_value = JobStatus(JobState.SUCCEEDED, "SUCCEEDED")
    hook.read_logs.return_value = ([], "")
    hook.job_url.return_value = None
    monkeypatch.setattr(ArmadaOperator, "hook", hook)
    ti = mock.MagicMock(dag_id="dag", task_id="task", run_id="run1", map_index=-1, try_number=try_number)
    context: dict[str, Any] = {"ti": ti, "run_id": "run1"}  # as on Airflow 3.2: no task_state_store key
    result = ArmadaOperator(task_id="task", job_request=POD, queue="q", job_set_id="js").execute(context)
    assert result["job_id"] == "01OLD"
    hook.find_jobs.assert_called_once()
    assert hook.submit_job.call_count == (1 if try_number == 1 else 0)
    ti.xcom_push.assert_any_call(key="job_id", value="01OLD")
