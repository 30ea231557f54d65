"""The original ArmadaDeferrableOperator with channel arguments (armada-airflow 0.5 style), only the import prefix
changed: one job, then a list of two jobs; the token comes from the armada_default connection."""

from __future__ import annotations

import pendulum
from _env import ARMADA_TARGET, QUEUE
from airflow.sdk import DAG

# was: from armada.operators.armada_deferrable import ArmadaDeferrableOperator
from airflow_provider_batch.compat.armada.operators.armada_deferrable import ArmadaDeferrableOperator

# was: from armada.operators.grpc import GrpcChannelArguments
from airflow_provider_batch.compat.armada.operators.grpc import GrpcChannelArguments

# was: from armada_client.armada import submit_pb2
from airflow_provider_batch.compat.armada_client.armada import submit_pb2

# was: from armada_client.k8s.io.api.core.v1 import generated_pb2 as core_v1
from airflow_provider_batch.compat.armada_client.k8s.io.api.core.v1 import generated_pb2 as core_v1

# was: from armada_client.k8s.io.apimachinery.pkg.api.resource import generated_pb2 as api_resource
from airflow_provider_batch.compat.armada_client.k8s.io.apimachinery.pkg.api.resource import (
    generated_pb2 as api_resource,
)


def job(script: str) -> submit_pb2.JobSubmitRequestItem:
    quantity = {"cpu": api_resource.Quantity(string="100m"), "memory": api_resource.Quantity(string="64Mi")}
    container = core_v1.Container(
        name="sleep",
        image="busybox",
        command=["sh", "-c", script],
        resources=core_v1.ResourceRequirements(requests=quantity, limits=quantity),
    )
    return submit_pb2.JobSubmitRequestItem(
        priority=1, pod_spec=core_v1.PodSpec(containers=[container]), namespace="default"
    )


armada_channel_args = GrpcChannelArguments(ARMADA_TARGET).serialize()

with DAG(
    dag_id="original_deferrable",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    schedule=None,
    catchup=False,
) as dag:
    one = ArmadaDeferrableOperator(
        name="deferred_armada",
        armada_channel_args=armada_channel_args,
        job_service_channel_args=None,  # the triggerer's own job-service cache
        armada_queue=QUEUE,
        job_request_items=[job("sleep 1; echo hello from channel arguments")],
        poll_interval=1,
    )
    several = ArmadaDeferrableOperator(
        name="two_deferred_jobs",
        armada_channel_args=armada_channel_args,
        job_service_channel_args=None,
        armada_queue=QUEUE,
        job_request_items=[job("sleep 1; echo first"), job("sleep 2; echo second")],
        poll_interval=1,
    )
    one >> several
