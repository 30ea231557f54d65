"""The demo's pieces that need no Airflow run: the verdict on a run, the sandbox's environment and timeouts."""

from __future__ import annotations

import json
import sys

from airflow_provider_batch.demo.armada import job_set_of
from airflow_provider_batch.demo.backend import Expected
from airflow_provider_batch.demo.jobs import JobReport
from airflow_provider_batch.demo.runner import problems
from airflow_provider_batch.demo.sandbox import AirflowSandbox


def task(map_index, states, job_id):
    tries = [{"try_number": number, "state": state} for number, state in enumerate(states, start=1)]
    ref = {"backend": "armada", "conn_id": "c", "job_id": job_id, "details": {"queue": "q", "job_set_id": "js"}}
    return {
        "task_id": "shard",
        "map_index": map_index,
        "state": states[-1],
        "try_number": len(states),
        "tries": tries,
        "job": ref,
    }


def job(job_id, map_index, try_number, state="SUCCEEDED"):
    return JobReport(job_id, "shard", map_index, try_number, state)


RUN = {"run_id": "r", "state": "success", "tasks": [task(0, ["failed", "success"], "J0b"), task(1, ["success"], "J1")]}
JOBS = [job("J0a", 0, 1, "FAILED"), job("J0b", 0, 2), job("J1", 1, 1)]
EXPECTED = Expected(tasks=2, retried=True)


def test_a_run_with_one_job_per_try_has_no_problems():
    assert problems("d", RUN, JOBS, EXPECTED) == []


def test_a_missing_or_duplicated_job_is_a_problem():
    assert problems("d", RUN, JOBS[1:], EXPECTED) == ["d.shard[0] try 1: 0 jobs submitted, expected 1"]
    assert problems("d", RUN, [*JOBS, job("J1x", 1, 1)], EXPECTED) == ["d.shard[1] try 1: 2 jobs submitted, expected 1"]
    assert problems("d", RUN, [*JOBS, job("J9", 9, 1)], EXPECTED) == [
        "d: job(s) ['J9'] belong to no task try ('shard', 9, 1)"
    ]


def test_wrong_state_no_retry_and_a_stale_xcom_are_problems():
    failed = {**RUN, "state": "failed"}
    assert problems("d", failed, JOBS, EXPECTED) == ["d: run ended failed, expected success"]
    assert problems("d", None, [], EXPECTED) == ["d: no run found"]
    unretried = {**RUN, "tasks": [task(1, ["success"], "J1")]}
    assert problems("d", unretried, [JOBS[2]], EXPECTED) == [
        "d: 1 task instances, expected 2",
        "d: no task was retried",
    ]
    stale = {**RUN, "tasks": [task(0, ["failed", "success"], "J0a"), RUN["tasks"][1]]}
    assert problems("d", stale, JOBS, EXPECTED) == [
        "d.shard[0]: the batch_job XCom does not name the job of the last try"
    ]


def test_job_set_comes_from_the_xcom_else_the_operator_default():
    assert job_set_of("d", RUN) == ("q", "js")
    assert job_set_of("d", {"run_id": "r1", "tasks": [{"job": None}]}) == ("demo", "d-r1")


def test_sandbox_env_is_private(tmp_path, monkeypatch):
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", "CeleryExecutor")
    monkeypatch.setenv("AIRFLOW_CONN_OTHER", "x://")
    sandbox = AirflowSandbox(tmp_path / "home", tmp_path / "dags", tmp_path / "tmp", {"armada_default": {"host": "h"}})
    env = sandbox.env()
    assert {key for key in env if key.startswith("AIRFLOW")} == {
        "AIRFLOW_HOME",
        "AIRFLOW__CORE__DAGS_FOLDER",
        "AIRFLOW__CORE__LOAD_EXAMPLES",
        "AIRFLOW_CONN_ARMADA_DEFAULT",
    }
    assert json.loads(env["AIRFLOW_CONN_ARMADA_DEFAULT"]) == {"host": "h"}
    assert env["TMPDIR"] == str(tmp_path / "tmp")
    assert env["PATH"].startswith(str(sandbox.bin_dir))


def test_sandbox_command_is_killed_at_its_timeout(tmp_path):
    sandbox = AirflowSandbox(tmp_path / "home", tmp_path / "dags", tmp_path / "tmp")
    script = "import subprocess, sys; print('started', flush=True); subprocess.run(['sleep', '30'])"
    result = sandbox.run([sys.executable, "-c", script], timeout=1.0, log_path=tmp_path / "out.log")
    assert result.timed_out and not result.ok
    assert result.seconds < 10
    assert "started" in (tmp_path / "out.log").read_text()
