"""The original blocking ArmadaOperator with client objects (armada-airflow 0.4 style), only the import prefix
changed: `name` without task_id, one job, then a list of three jobs run together."""

from __future__ import annotations

import grpc
import pendulum
from _env import ARMADA_TARGET, ARMADA_TOKEN, QUEUE
from airflow.sdk import DAG

from airflow_provider_batch.common.channel import CallCredentials, GrpcChannelArguments

# was: from armada.operators.armada import ArmadaOperator
from airflow_provider_batch.compat.armada.operators.armada import ArmadaOperator

# was: from armada.operators.jobservice import JobServiceClient
from airflow_provider_batch.compat.armada.operators.jobservice import JobServiceClient

# was: from armada_client.client import ArmadaClient
from airflow_provider_batch.compat.armada_client.client import ArmadaClient

# was: from armada_client.k8s.io.api.core.v1 import generated_pb2 as core_v1
from airflow_provider_batch.compat.armada_client.k8s.io.api.core.v1 import generated_pb2 as core_v1

# was: from armada_client.k8s.io.apimachinery.pkg.api.resource import generated_pb2 as api_resource
from airflow_provider_batch.compat.armada_client.k8s.io.apimachinery.pkg.api.resource import (
    generated_pb2 as api_resource,
)


def submit_sleep_job(client: ArmadaClient, script: str) -> object:
    quantity = {"cpu": api_resource.Quantity(string="100m"), "memory": api_resource.Quantity(string="64Mi")}
    pod = core_v1.PodSpec(
        restartPolicy="Never",
        containers=[
            core_v1.Container(
                name="sleep",
                image="busybox",
                command=["sh", "-c", script],
                resources=core_v1.ResourceRequirements(requests=quantity, limits=quantity),
            )
        ],
    )
    return client.create_job_request_item(pod, 1, namespace="default")


# The emulator wants a token on every call: a channel that sends one (a plain grpc.insecure_channel otherwise).
armada_client = ArmadaClient(GrpcChannelArguments(ARMADA_TARGET).channel(CallCredentials.bearer(ARMADA_TOKEN)))
job_service_client = JobServiceClient(grpc.insecure_channel("127.0.0.1:60003"))  # kept; a blocking task asks Armada

with DAG(
    dag_id="original_blocking",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    schedule=None,
    catchup=False,
) as dag:
    one = ArmadaOperator(
        name="hello_armada",
        armada_client=armada_client,
        job_service_client=job_service_client,
        armada_queue=QUEUE,
        job_request_items=[submit_sleep_job(armada_client, "sleep 1; echo hello from a client object")],
        lookout_url_template="http://127.0.0.1:8089/jobs?job_id=<job_id>",
        poll_interval=1,
    )
    several = ArmadaOperator(
        name="three_jobs",
        armada_client=armada_client,
        job_service_client=job_service_client,
        armada_queue=QUEUE,
        job_request_items=[submit_sleep_job(armada_client, f"sleep 1; echo job {i}") for i in range(3)],
        poll_interval=1,
    )
    one >> several
