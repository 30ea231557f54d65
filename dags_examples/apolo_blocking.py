"""Run one Apolo job on the `cpu-small` preset and wait for it on the worker.

The job prints a few lines (copied into the task log while it runs) and ends with exit code 0.
"""

from __future__ import annotations

from airflow.sdk import dag

from airflow_provider_batch.operators.apolo import ApoloJobOperator


@dag(schedule=None, catchup=False, tags=["example", "apolo"])
def apolo_blocking():
    ApoloJobOperator(
        task_id="count_to_three",
        apolo_conn_id="apolo_default",
        image="ubuntu:22.04",
        preset_name="cpu-small",
        command="sh -c 'for i in 1 2 3; do echo \"$GREETING from {{ run_id }}: step $i\"; sleep 0.3; done'",
        env={"GREETING": "hello"},
        life_span=600,
        description="apolo_blocking example",
        poll_interval=2,
    )


apolo_blocking()
