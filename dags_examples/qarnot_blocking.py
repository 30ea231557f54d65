"""Run one Qarnot task of two instances and wait for it on the worker.

Each instance reads words.txt from the input bucket `qarnot-demo-inputs` (the demo creates it), counts its words and
writes the count to a file that Qarnot uploads to the result bucket `qarnot-blocking-results`. The instances' stdout
and stderr lines are copied into the task log while the task runs.
"""

from __future__ import annotations

from airflow.sdk import dag

from airflow_provider_batch.operators.qarnot import QarnotOperator


@dag(schedule=None, catchup=False, tags=["example", "qarnot"])
def qarnot_blocking():
    QarnotOperator(
        task_id="count_words",
        qarnot_conn_id="qarnot_default",
        profile="docker-batch",
        instance_count=2,
        constants={
            "DOCKER_REPO": "library/alpine",
            "DOCKER_TAG": "3",
            "DOCKER_CMD": 'sh -c \'echo "instance $INSTANCE_ID of {{ run_id }} counting"; '
            'wc -w < words.txt > count-$INSTANCE_ID.txt; echo "counted $(cat count-$INSTANCE_ID.txt) words"\'',
        },
        input_buckets=["qarnot-demo-inputs"],
        result_bucket="qarnot-blocking-results",
        poll_interval=2,
    )


qarnot_blocking()
