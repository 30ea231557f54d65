"""Permanent refusals against the emulators: the task fails at once (AirflowFailException, no retry) with the
connection, the scheduler's words and the fix on a short first line; connection tests say what they reached."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any
from unittest import mock

import pytest
from _jobservice_helpers import TOKEN, Service
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_batch.demo.sandbox import AirflowSandbox
from airflow_provider_batch.emulators import launch
from airflow_provider_batch.hooks.apolo import ApoloHook
from airflow_provider_batch.hooks.armada import ArmadaHook
from airflow_provider_batch.hooks.jobservice import JobServiceHook
from airflow_provider_batch.hooks.qarnot import QarnotHook
from airflow_provider_batch.operators.apolo import ApoloJobOperator
from airflow_provider_batch.operators.armada import ArmadaOperator
from airflow_provider_batch.operators.qarnot import QarnotOperator

pytestmark = pytest.mark.wire
QUANTITIES = {"cpu": "100m", "memory": "64Mi"}
POD = {
    "containers": [{"name": "main", "command": ["true"], "resources": {"requests": QUANTITIES, "limits": QUANTITIES}}]
}
AT_ONCE = 5.0  # seconds: a retried call would back off for longer (and the emulator would count it again)


def context() -> dict[str, Any]:
    run_id = f"run-{uuid.uuid4().hex[:8]}"
    ti = mock.MagicMock(dag_id="wire_dag", task_id="task", run_id=run_id, map_index=-1, try_number=1)
    return {"ti": ti, "run_id": run_id}


def fail_at_once(operator: Any) -> tuple[str, float]:
    started = time.monotonic()
    with pytest.raises(AirflowFailException) as raised:
        operator.execute(context())
    return str(raised.value), time.monotonic() - started


def armada_conn(monkeypatch: pytest.MonkeyPatch, conn_id: str, target: str, token: str, **extra: str) -> None:
    conn = {"conn_type": "armada", "host": target, "password": token, "extra": extra}
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))


def test_armada_submit_to_an_unknown_queue_fails_at_once(armada_emulator, monkeypatch):
    armada_conn(monkeypatch, "armada_wire", armada_emulator.target, armada_emulator.token)
    before = armada_emulator.stats().get("/api.Submit/SubmitJobs", 0)
    operator = ArmadaOperator(
        task_id="task", armada_conn_id="armada_wire", queue="no-such-queue", job_set_id="js", job_request=POD
    )
    message, elapsed = fail_at_once(operator)
    assert message.splitlines()[0] == (
        "Armada rejected the job: queue 'no-such-queue' does not exist (connection armada_wire). "
        "Fix: create the queue, or set queue= to an existing one."
    )
    assert f"Armada at {armada_emulator.target} answered SubmitJobs with NOT_FOUND" in message
    assert armada_emulator.stats().get("/api.Submit/SubmitJobs", 0) - before == 1
    assert elapsed < AT_ONCE


def test_armada_wrong_token_fails_at_once_naming_the_connection(armada_emulator, armada_queue, monkeypatch):
    armada_conn(monkeypatch, "armada_badtoken", armada_emulator.target, "not-the-token")
    operator = ArmadaOperator(
        task_id="task", armada_conn_id="armada_badtoken", queue=armada_queue, job_set_id="js", job_request=POD
    )
    message, elapsed = fail_at_once(operator)
    first = message.splitlines()[0]
    assert first.startswith(
        f"Authentication was rejected by Armada at {armada_emulator.target} for connection armada_badtoken. Fix: "
    )
    assert "password" in first and len(first) <= 200
    assert "GetJobStatusUsingExternalJobUri" not in message and "not-the-token" not in message
    assert elapsed < AT_ONCE


def test_armada_connection_test_says_what_it_reached(armada_emulator, armada_queue, monkeypatch):
    target, token = armada_emulator.target, armada_emulator.token
    armada_conn(monkeypatch, "armada_q", target, token, default_queue=armada_queue)
    assert ArmadaHook("armada_q").test_connection() == (
        True,
        f"Armada at {target} is serving and accepts the token; default_queue {armada_queue!r} exists",
    )
    armada_conn(monkeypatch, "armada_noq", target, token, default_queue="missing-queue")
    assert ArmadaHook("armada_noq").test_connection() == (
        False,
        f"Armada at {target} accepts the token, but default_queue 'missing-queue' does not exist. "
        "Fix: create the queue, or set default_queue to an existing one.",
    )
    armada_conn(monkeypatch, "armada_any", target, token)
    ok, message = ArmadaHook("armada_any").test_connection()
    assert ok and message.startswith(f"Armada at {target} is serving and accepts the token; no default_queue is set")
    armada_conn(monkeypatch, "armada_bad", target, "wrong")
    ok, message = ArmadaHook("armada_bad").test_connection()
    assert not ok
    assert message.startswith(f"Authentication was rejected by Armada at {target} for connection armada_bad.")
    assert "wrong" not in message.replace("wrong authorization", "")


def qarnot_conn(monkeypatch: pytest.MonkeyPatch, conn_id: str, url: str, token: str) -> None:
    conn = {"conn_type": "qarnot", "host": url, "password": token}
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))


def qarnot_task(conn_id: str, instances: int = 1) -> QarnotOperator:
    constants = {"DOCKER_CMD": "true"}
    return QarnotOperator(
        task_id="task", qarnot_conn_id=conn_id, profile="docker-batch", instance_count=instances, constants=constants
    )


def test_qarnot_401_fails_at_once(qarnot_emulator, monkeypatch):
    qarnot_conn(monkeypatch, "qarnot_badtoken", qarnot_emulator.url, "not-the-token")
    message, elapsed = fail_at_once(qarnot_task("qarnot_badtoken"))
    assert message.splitlines()[0] == (
        f"Authentication was rejected by Qarnot at {qarnot_emulator.url} for connection qarnot_badtoken. "
        "Fix: check the connection's password (the Qarnot API token of your account page)."
    )
    assert "not-the-token" not in message and elapsed < AT_ONCE


def test_qarnot_credits_used_up_fail_at_once_and_the_connection_test_names_the_account(monkeypatch):
    flags = ["--qarnot-no-storage", "--qarnot-credits", "1", "--qarnot-max-tasks", "5", "--step-ms", "10"]
    with launch(["--only", "qarnot", "--qarnot-port", "0", "--admin-port", "0", *flags]) as emulators:
        ready = emulators["qarnot"]
        qarnot_conn(monkeypatch, "qarnot_poor", ready["url"], ready["token"])
        message, elapsed = fail_at_once(qarnot_task("qarnot_poor", instances=2))
        first = message.splitlines()[0]
        assert first.startswith("Qarnot rejected the job: ") and first.endswith(
            "(connection qarnot_poor). Fix: add credits to the Qarnot account, or ask for fewer instances."
        )
        assert "answered POST /tasks with 402" in message and elapsed < AT_ONCE
        assert emulators.stats()["qarnot"]["POST /tasks"] == 1  # asked once: not retried
        ok, said = QarnotHook("qarnot_poor").test_connection()
        assert ok and said.startswith(f"Qarnot at {ready['url']} accepts the token of {ready['email']}")


def apolo_task(conn_id: str) -> ApoloJobOperator:
    return ApoloJobOperator(
        task_id="task", apolo_conn_id=conn_id, image="ubuntu:22.04", preset_name="cpu-small", command="true"
    )


def test_apolo_401_fails_at_once(apolo_emulator, monkeypatch):
    conn = {"conn_type": "apolo", "host": apolo_emulator.url, "password": "not-the-token"}
    monkeypatch.setenv("AIRFLOW_CONN_APOLO_BADTOKEN", json.dumps(conn))
    message, elapsed = fail_at_once(apolo_task("apolo_badtoken"))
    first = message.splitlines()[0]
    assert first.startswith(
        f"Authentication was rejected by Apolo at {apolo_emulator.url} for connection apolo_badtoken. Fix: "
    )
    assert "not-the-token" not in message and elapsed < AT_ONCE


def test_apolo_connection_test_names_user_cluster_org_and_project(apolo_emulator, monkeypatch):
    conn = {"conn_type": "apolo", "host": apolo_emulator.url, "password": apolo_emulator.passed_config}
    monkeypatch.setenv("AIRFLOW_CONN_APOLO_WIRE", json.dumps(conn))
    entry = apolo_emulator.entry
    assert ApoloHook("apolo_wire").test_connection() == (
        True,
        f"Apolo at {apolo_emulator.url} accepts the token of user {entry['user']} "
        f"(cluster {entry['cluster']}, org {entry['org']}, project {entry['project']})",
    )


def test_job_service_connection_test_says_what_it_reached(tmp_path, armada_emulator, monkeypatch):
    service = Service(str(tmp_path / "jobs.sqlite"), armada_emulator)
    try:
        for conn_id, token in (("js_good", TOKEN), ("js_bad", "not-the-token")):
            conn = {"conn_type": "batch_jobservice", "host": service.target, "password": token}
            monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))
        assert JobServiceHook("js_good").test_connection() == (
            True,
            f"Job service at {service.target} is serving and accepts the token",
        )
        ok, message = JobServiceHook("js_bad").test_connection()
        assert not ok and message.splitlines()[0] == (
            f"Authentication was rejected by job service at {service.target} for connection js_bad. "
            "Fix: set the connection's password to the job service's --token."
        )
        assert "not-the-token" not in message
    finally:
        service.stop()


UNKNOWN_QUEUE_DAG = """
from datetime import timedelta

from airflow.sdk import dag

from airflow_provider_batch.operators.armada import ArmadaOperator

QUANTITIES = {"cpu": "100m", "memory": "64Mi"}


@dag(schedule=None, catchup=False)
def unknown_queue():
    ArmadaOperator(
        task_id="submit",
        armada_conn_id="armada_default",
        queue="my-queue",
        job_set_id="js",
        job_request={"containers": [{"name": "main", "command": ["true"],
                                     "resources": {"requests": QUANTITIES, "limits": QUANTITIES}}]},
        retries=2,
        retry_delay=timedelta(minutes=5),
    )


unknown_queue()
"""


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_airflow_dags_test_fails_at_once_on_an_unknown_queue_without_an_xcom_error(tmp_path, armada_emulator):
    """The issue's run: `airflow dags test` of a task with retries=2 and a 5-minute retry delay, submitting to a queue
    that does not exist. It ends in seconds, not after the retries, with the short first line and no spurious
    "XCom not found" ERROR for the job URL the extra link would have shown."""
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "unknown_queue.py").write_text(UNKNOWN_QUEUE_DAG)
    conn = {"conn_type": "armada", "host": armada_emulator.target, "password": armada_emulator.token}
    sandbox = AirflowSandbox(
        home=tmp_path / "home", dags_folder=dags, tmp=tmp_path / "tmp", connections={"armada_default": conn}
    )
    sandbox.migrate()
    before = armada_emulator.stats().get("/api.Submit/SubmitJobs", 0)
    result = sandbox.dags_test("unknown_queue", timeout=240, log_path=tmp_path / "dags_test.out")
    assert not result.ok and not result.timed_out, result.tail()
    assert result.seconds < 120, f"took {result.seconds:.0f}s: the task was retried"
    assert "Armada rejected the job: queue 'my-queue' does not exist (connection armada_default)" in result.output
    assert "up_for_retry" not in result.output.lower()
    assert "XCom not found" not in result.output, result.tail()
    assert armada_emulator.stats().get("/api.Submit/SubmitJobs", 0) - before == 1
    assert armada_emulator.token not in result.output
