"""A DAG written against the original Armada operator (0.5 era), only its import lines changed, through
`airflow dags test` against the Armada emulator and a standalone job service."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_batch.clients.armada.client import ArmadaClient
from airflow_provider_batch.common.channel import CallCredentials, GrpcChannelArguments
from airflow_provider_batch.demo.armada import connection
from airflow_provider_batch.demo.sandbox import AirflowSandbox
from airflow_provider_batch.emulators import launch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "wire"))  # the job-service helper of the wire tests
from _jobservice_helpers import TOKEN, Service

pytestmark = [pytest.mark.slow, pytest.mark.wire, pytest.mark.timeout(300)]

QUEUE = "seed"
DAG_ID = "hello_armada"
# The seed's hello_armada DAG. Changed: the import lines, and the credentials (a connection's name, not an object).
SEED_DAG = """
import pendulum
from airflow.sdk import DAG

# was: from armada_client.armada import submit_pb2
from airflow_provider_batch._proto.armada import submit_pb2
# was: from armada_client.k8s.io.api.core.v1 import generated_pb2 as core_v1
from airflow_provider_batch._proto.armada.k8s import core_v1_pb2 as core_v1
# was: from armada_client.k8s.io.apimachinery.pkg.api.resource import generated_pb2 as api_resource
from airflow_provider_batch._proto.armada.k8s import resource_pb2 as api_resource
# was: from armada.operators.armada import ArmadaOperator
# was: from armada.operators.armada_deferrable import ArmadaDeferrableOperator
from airflow_provider_batch.compat.armada.operators.armada import ArmadaOperator
from airflow_provider_batch.compat.armada.operators.armada_deferrable import ArmadaDeferrableOperator


def submit_sleep_job(message):
    quantity = {{"cpu": api_resource.Quantity(string="120m"), "memory": api_resource.Quantity(string="64Mi")}}
    pod = core_v1.PodSpec(
        restartPolicy="Never",
        containers=[
            core_v1.Container(
                name="hello",
                image="busybox",
                command=["sh", "-c", "sleep 2; echo " + message],
                resources=core_v1.ResourceRequirements(requests=quantity, limits=quantity),
            )
        ],
    )
    return [submit_pb2.JobSubmitRequestItem(priority=1, pod_spec=pod, namespace="default")]


armada_channel_args = {{"target": "{armada}", "credentials": {{"conn_id": "armada_default"}}}}
job_service_channel_args = {{"target": "{jobservice}", "credentials": {{"conn_id": "seed_jobservice"}}}}

with DAG(
    dag_id="{dag_id}",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    schedule=None,
    catchup=False,
    default_args={{"retries": 2}},
) as dag:
    op = ArmadaOperator(
        task_id="armada",
        name="armada",
        armada_queue="{queue}",
        armada_channel_args=armada_channel_args,
        job_service_channel_args=job_service_channel_args,
        job_request_items=submit_sleep_job("hello from the blocking seed task"),
        lookout_url_template="http://127.0.0.1:8089/jobs?job_id=<job_id>",
        poll_interval=1,
    )
    deferred = ArmadaDeferrableOperator(
        task_id="armada_deferrable",
        name="armada_deferrable",
        armada_queue="{queue}",
        armada_channel_args=armada_channel_args,
        job_service_channel_args=job_service_channel_args,
        job_request_items=submit_sleep_job("hello from the deferred seed task"),
        lookout_url_template="http://127.0.0.1:8089/jobs?job_id=<job_id>",
        poll_interval=1,
    )
    op >> deferred
"""


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    base = tmp_path_factory.mktemp("seed_dag")
    tmp, dags = base / "tmp", base / "dags"
    tmp.mkdir()
    dags.mkdir()
    emulators = launch(
        ["--only", "armada", "--armada-port", "0", "--admin-port", "0", "--step-ms", "20"],
        env={**os.environ, "TMPDIR": str(tmp)},
        log_path=str(base / "emulators.log"),
    )
    ready = emulators["armada"]
    channel = GrpcChannelArguments(ready["target"]).channel(CallCredentials.bearer(ready["token"]))
    service = None
    try:
        armada = ArmadaClient(channel)
        armada.create_queue(armada.create_queue_request(QUEUE))

        class Emulator:
            target, token = ready["target"], ready["token"]

        service = Service(str(base / "js.db"), Emulator())
        text = SEED_DAG.format(armada=ready["target"], jobservice=service.target, queue=QUEUE, dag_id=DAG_ID)
        (dags / f"{DAG_ID}.py").write_text(text)
        sandbox = AirflowSandbox(
            home=base / "airflow_home",
            dags_folder=dags,
            tmp=tmp,
            connections={
                "armada_default": connection(ready, QUEUE),
                "seed_jobservice": {"conn_type": "batch_jobservice", "password": TOKEN},
            },
        )
        sandbox.migrate()
        result = sandbox.dags_test(DAG_ID, 150.0, base / "dags_test.out")
        yield {
            "result": result,
            "state": sandbox.read_state([DAG_ID])[DAG_ID],
            "armada": armada,
            "token": ready["token"],
        }
    finally:
        if service is not None:
            service.stop()
        channel.close()
        emulators.stop()


def test_the_seed_dag_runs_to_success(world: dict[str, Any]) -> None:
    result, run = world["result"], world["state"]
    assert result.returncode == 0, result.tail(60)
    assert run["state"] == "success"
    assert {task["task_id"]: task["state"] for task in run["tasks"]} == {
        "armada": "success",
        "armada_deferrable": "success",
    }
    assert "running trigger in line" in result.output  # the deferrable task waited in ArmadaJobCompleteTrigger
    assert "asking the job service at 127.0.0.1:" in result.output  # ... which asked the standalone job service


def test_each_task_ran_one_annotated_job(world: dict[str, Any]) -> None:
    armada: ArmadaClient = world["armada"]
    for task in world["state"]["tasks"]:
        job_id = task["job"]["job_id"]
        spec = armada.get_job_details([job_id], expand_job_spec=True).job_details[job_id].job_spec
        assert spec.annotations["armadaproject.io/taskId"] == task["task_id"]
        assert spec.annotations["armadaproject.io/dagId"] == DAG_ID
        assert spec.annotations["armadaproject.io/airflowTaskName"] == task["task_id"]
        assert f"[{job_id}] hello from the" in world["result"].output  # the job's log in the task log


def test_no_token_in_the_output(world: dict[str, Any]) -> None:
    assert world["token"] not in world["result"].output
    assert TOKEN not in world["result"].output
