"""Run one job on Armada and wait for it on the worker, copying its log lines into the task log.

Needs an `armada` connection named `armada_default` whose `default_queue` extra names the queue
(`make demo` sets one up against the local emulator).
"""

from __future__ import annotations

from airflow.sdk import dag

from airflow_provider_batch.operators.armada import ArmadaOperator

RESOURCES = {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"cpu": "100m", "memory": "64Mi"}}


@dag(schedule=None, catchup=False, tags=["example", "armada"])
def armada_blocking():
    ArmadaOperator(
        task_id="hello",
        armada_conn_id="armada_default",  # the queue comes from the connection's default_queue
        job_request={
            "containers": [
                {
                    "name": "main",
                    "image": "busybox",  # the emulator ignores the image and runs the command locally
                    "command": ["sh", "-c", "echo hello from {{ run_id }}; sleep 2; echo done"],
                    "resources": RESOURCES,
                }
            ]
        },
        poll_interval=2,
        timeout=300,  # seconds; past it the job is cancelled and the task fails
    )


armada_blocking()
