"""DAGs written in the original Armada operators' style (tests/e2e/dags_original: blocking with client objects,
deferrable with channel arguments, several job_request_items), only their import lines changed, through
`airflow dags test` against the Armada emulator."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from airflow_provider_batch.clients.armada.client import ArmadaClient
from airflow_provider_batch.common.channel import CallCredentials, GrpcChannelArguments
from airflow_provider_batch.demo.armada import connection
from airflow_provider_batch.demo.sandbox import AirflowSandbox
from airflow_provider_batch.emulators import launch

pytestmark = [pytest.mark.slow, pytest.mark.wire, pytest.mark.timeout(420)]

DAGS = Path(__file__).resolve().parent / "dags_original"
QUEUE = "original"
DAG_IDS = ("original_blocking", "original_deferrable")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    base = tmp_path_factory.mktemp("original_dags")
    tmp = base / "tmp"
    tmp.mkdir()
    emulators = launch(
        ["--only", "armada", "--armada-port", "0", "--admin-port", "0", "--step-ms", "20"],
        env={**os.environ, "TMPDIR": str(tmp)},
        log_path=str(base / "emulators.log"),
    )
    ready = emulators["armada"]
    channel = GrpcChannelArguments(ready["target"]).channel(CallCredentials.bearer(ready["token"]))
    try:
        armada = ArmadaClient(channel)
        armada.create_queue(armada.create_queue_request(QUEUE))
        sandbox = AirflowSandbox(
            home=base / "airflow_home",
            dags_folder=DAGS,
            tmp=tmp,
            connections={"armada_default": connection(ready, QUEUE)},
            extra_env={
                "ORIGINAL_DAGS_ARMADA_TARGET": ready["target"],
                "ORIGINAL_DAGS_ARMADA_TOKEN": ready["token"],
                "ORIGINAL_DAGS_QUEUE": QUEUE,
            },
        )
        sandbox.migrate()
        results = {dag_id: sandbox.dags_test(dag_id, 180.0, base / f"{dag_id}.out") for dag_id in DAG_IDS}
        yield {
            "results": results,
            "state": sandbox.read_state(list(DAG_IDS)),
            "armada": armada,
            "token": ready["token"],
        }
    finally:
        channel.close()
        emulators.stop()


@pytest.mark.parametrize("dag_id", DAG_IDS)
def test_the_original_dag_runs_to_success(world: dict[str, Any], dag_id: str) -> None:
    result, run = world["results"][dag_id], world["state"][dag_id]
    assert result.returncode == 0, result.tail(80)
    assert run["state"] == "success", result.tail(80)
    assert all(task["state"] == "success" for task in run["tasks"]), run["tasks"]
    assert world["token"] not in result.output


def test_name_is_the_task_id_and_each_item_ran_once(world: dict[str, Any]) -> None:
    armada: ArmadaClient = world["armada"]
    items = {"hello_armada": 1, "three_jobs": 3, "deferred_armada": 1, "two_deferred_jobs": 2}
    seen = {}
    for dag_id in DAG_IDS:
        run = world["state"][dag_id]
        for task in run["tasks"]:
            first = task["job"]  # the batch_job XCom: the task's (first) job
            queue, job_set = first["details"]["queue"], first["details"]["job_set_id"]
            base = f"airflow://{dag_id}/{task['task_id']}/{quote(run['run_id'], safe='')}/-1"
            count = items[task["task_id"]]
            uris = [base] if count == 1 else [f"{base}/item/{i}" for i in range(count)]
            found = [armada.get_job_status_by_external_job_uri(queue, job_set, uri).job_states for uri in uris]
            assert all(len(states) == 1 for states in found), (task["task_id"], found)  # one job per item
            assert all(list(states.values()) == [3] for states in found)  # SUCCEEDED
            seen[task["task_id"]] = len(found)
    assert seen == items  # `name` became the task_id
    output = "".join(world["results"][dag_id].output for dag_id in DAG_IDS)
    for text in ("hello from a client object", "job 0", "job 1", "job 2", "hello from channel arguments", "second"):
        assert text in output, text  # each job's log, copied into its task's log
    assert "All 3 Armada jobs succeeded" in output and "All 2 Armada jobs succeeded" in output
    assert "running trigger in line" in world["results"]["original_deferrable"].output
