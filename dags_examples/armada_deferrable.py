"""Run one job on Armada and wait for it in the triggerer, so no worker slot is held while it runs.

The job's log lines are copied into the task log when the task resumes.
"""

from __future__ import annotations

from airflow.sdk import dag

from airflow_provider_batch.operators.armada import ArmadaOperator

RESOURCES = {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"cpu": "100m", "memory": "64Mi"}}


@dag(schedule=None, catchup=False, tags=["example", "armada"])
def armada_deferrable():
    ArmadaOperator(
        task_id="crunch",
        armada_conn_id="armada_default",
        deferrable=True,
        job_request={
            "containers": [
                {
                    "name": "main",
                    "image": "busybox",
                    "command": ["sh", "-c", "echo crunching for $RUN; sleep 3; echo result: 42"],
                    "env": [{"name": "RUN", "value": "{{ run_id }}"}],
                    "resources": RESOURCES,
                }
            ]
        },
        poll_interval=2,
    )


armada_deferrable()
