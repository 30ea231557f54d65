"""Run one Apolo job and wait for it in the triggerer, so no worker slot is held while it runs.

The job sleeps a little and prints its lines; when the task resumes, the job's log lines are copied into the task
log. The triggerer watches every deferred Apolo job of the connection with one list call per interval.
"""

from __future__ import annotations

from airflow.sdk import dag

from airflow_provider_batch.operators.apolo import ApoloJobDeferrableOperator


@dag(schedule=None, catchup=False, tags=["example", "apolo"])
def apolo_deferrable():
    ApoloJobDeferrableOperator(
        task_id="sleep_and_report",
        apolo_conn_id="apolo_default",
        image="ubuntu:22.04",
        preset_name="cpu-small",
        command="sh -c 'echo starting; sleep 2; echo \"done after 2s on $(hostname)\"'",
        tags=["example"],
        life_span=600,
        timeout=300,
        poll_interval=2,
    )


apolo_deferrable()
