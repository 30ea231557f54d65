"""Every example DAG through `airflow dags test` against the Armada emulator, in a temporary Airflow home.

One emulator and one migrated Airflow home serve the module; each DAG runs once (module fixture `runs`) and the
tests below look at the outcome from three sides: the Airflow DB (runs, task tries, XComs), the emulator (job sets,
call counts) and the task logs. Under `airflow dags test` the task logs go to the command's output, not to files
under $AIRFLOW_HOME/logs (Airflow 3.3's in-process test supervisor logs to the console).
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_batch.clients.armada.client import ArmadaClient
from airflow_provider_batch.common.channel import CallCredentials, GrpcChannelArguments
from airflow_provider_batch.demo.armada import EXAMPLES, connection, job_set_of
from airflow_provider_batch.demo.jobs import ANNOTATION_PREFIX, JobReport, job_set_report
from airflow_provider_batch.demo.runner import problems
from airflow_provider_batch.demo.sandbox import AirflowSandbox, CommandResult
from airflow_provider_batch.emulators import LaunchedEmulators, launch

pytestmark = [pytest.mark.slow, pytest.mark.wire, pytest.mark.timeout(1500)]

REPO = Path(__file__).resolve().parents[2]
QUEUE = "e2e"
# A cap, not an expectation. `airflow dags test` runs every task try in a new process (and a deferred task twice):
# on Airflow 3.2.0 a process spends about 4.5 s importing Airflow before it runs anything (3.3.2: about 3 s), so
# armada_mapped's 24 tries cost about 48 starts, 220 to 260 s on a 2-core machine.
DAGS_TEST_TIMEOUT = 480.0
MAPPED_FLAKY_SHARDS = {0, 5, 10, 15}  # dags_examples/armada_mapped.py: SHARD % 5 == 0 fails on try 1


@dataclass
class Outcome:
    """What one `airflow dags test` left behind."""

    result: CommandResult
    run: dict[str, Any]
    jobs: list[JobReport]


@dataclass
class World:
    emulators: LaunchedEmulators
    sandbox: AirflowSandbox
    client: ArmadaClient
    token: str


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    base = tmp_path_factory.mktemp("dags_test")
    tmp = base / "tmp"
    tmp.mkdir()
    emulators = launch(
        ["--only", "armada", "--armada-port", "0", "--admin-port", "0", "--step-ms", "20"],
        env={**os.environ, "TMPDIR": str(tmp)},
        log_path=str(base / "emulators.log"),
    )
    target, token = emulators["armada"]["target"], emulators["armada"]["token"]
    channel = GrpcChannelArguments(target).channel(CallCredentials.bearer(token))
    try:
        client = ArmadaClient(channel)
        client.create_queue(client.create_queue_request(QUEUE))
        sandbox = AirflowSandbox(
            home=base / "airflow_home",
            dags_folder=REPO / "dags_examples",
            tmp=tmp,
            connections={"armada_default": connection(emulators["armada"], QUEUE)},
        )
        sandbox.migrate()  # once for the module (about 7 s)
        yield World(emulators, sandbox, client, token)
    finally:
        channel.close()
        emulators.stop()


@pytest.fixture(scope="module")
def runs(world: World) -> dict[str, Outcome]:
    world.emulators.reset_stats()
    results = {
        dag_id: world.sandbox.dags_test(dag_id, DAGS_TEST_TIMEOUT, world.sandbox.home / f"{dag_id}.out")
        for dag_id in EXAMPLES
    }
    state = world.sandbox.read_state(list(EXAMPLES))
    outcomes = {}
    for dag_id, result in results.items():
        run = state[dag_id]
        assert run is not None, f"{dag_id} left no run:\n{result.tail()}"
        outcomes[dag_id] = Outcome(result, run, job_set_report(world.client, *job_set_of(dag_id, run)))
    return outcomes


@pytest.mark.parametrize("dag_id", list(EXAMPLES))
def test_run_succeeds(runs: dict[str, Outcome], dag_id: str) -> None:
    outcome = runs[dag_id]
    assert not outcome.result.timed_out, f"airflow dags test {dag_id} took over {DAGS_TEST_TIMEOUT} s"
    assert outcome.result.returncode == 0, outcome.result.tail(60)
    assert outcome.run["state"] == "success"
    assert {task["state"] for task in outcome.run["tasks"]} == {"success"}
    assert problems(dag_id, outcome.run, outcome.jobs, EXAMPLES[dag_id]) == []


@pytest.mark.parametrize("dag_id", list(EXAMPLES))
def test_exactly_one_job_per_task_try(runs: dict[str, Outcome], dag_id: str) -> None:
    outcome = runs[dag_id]
    tries = sorted(
        (task["task_id"], task["map_index"], attempt["try_number"])
        for task in outcome.run["tasks"]
        for attempt in task["tries"]
    )
    submitted = sorted((job.task_id, job.map_index, job.try_number) for job in outcome.jobs)
    assert submitted == tries  # one job per try: none missing, none twice, none from nowhere
    assert len({job.job_id for job in outcome.jobs}) == len(outcome.jobs)
    for task in outcome.run["tasks"]:
        mine = sorted(
            (job for job in outcome.jobs if job.task_key == (task["task_id"], task["map_index"])),
            key=lambda job: job.try_number,
        )
        assert [job.state for job in mine] == ["FAILED"] * (len(mine) - 1) + ["SUCCEEDED"]
        assert task["job"]["job_id"] == mine[-1].job_id  # the XCom names the last try's job


def test_submit_calls_match_the_jobs(runs: dict[str, Outcome], world: World) -> None:
    """No submission was retried or duplicated behind the operator's back: one SubmitJobs call per job."""
    jobs = sum(len(outcome.jobs) for outcome in runs.values())
    assert world.emulators.stats()["armada"]["/api.Submit/SubmitJobs"] == jobs == 1 + 1 + 20 + len(MAPPED_FLAKY_SHARDS)


def test_mapped_dag_really_retried(runs: dict[str, Outcome]) -> None:
    outcome = runs["armada_mapped"]
    retried = {task["map_index"] for task in outcome.run["tasks"] if task["try_number"] > 1}
    assert retried == MAPPED_FLAKY_SHARDS
    for task in outcome.run["tasks"]:
        if task["map_index"] in MAPPED_FLAKY_SHARDS:
            assert [attempt["state"] for attempt in task["tries"]] == ["failed", "success"]
    by_shard = Counter(job.map_index for job in outcome.jobs)
    assert {shard for shard, count in by_shard.items() if count == 2} == MAPPED_FLAKY_SHARDS
    assert set(by_shard.values()) == {1, 2}
    failed = [job for job in outcome.jobs if job.state == "FAILED"]
    assert all("exited with code 3" in job.reason for job in failed)
    assert all(f"shard {job.map_index}: flaky failure" in job.log_lines for job in failed)


@pytest.mark.parametrize("dag_id", list(EXAMPLES))
def test_job_log_lines_are_in_the_task_log(runs: dict[str, Outcome], dag_id: str) -> None:
    outcome = runs[dag_id]
    for job in outcome.jobs:
        assert job.log_lines, f"the emulator kept no log lines for {job.job_id}"
        for line in job.log_lines:
            # The operator copies each line as "[<job id>] <line>" into the task log.
            assert re.search(rf"\[{job.job_id}\] {re.escape(line)}", outcome.result.output), (job.job_id, line)


def test_deferrable_examples_deferred_and_blocking_did_not(runs: dict[str, Outcome]) -> None:
    assert "running trigger in line" not in runs["armada_blocking"].result.output
    assert "running trigger in line" in runs["armada_deferrable"].result.output
    assert runs["armada_mapped"].result.output.count("running trigger in line") >= 20


def test_the_token_appears_in_no_task_log(runs: dict[str, Outcome], world: World) -> None:
    for outcome in runs.values():
        assert world.token not in outcome.result.output


def test_demo_annotation_prefix_is_the_hooks() -> None:
    from airflow_provider_batch.hooks.armada import AIRFLOW_ANNOTATION_PREFIX

    assert ANNOTATION_PREFIX == AIRFLOW_ANNOTATION_PREFIX
