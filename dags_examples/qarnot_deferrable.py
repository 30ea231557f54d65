"""Run one Qarnot task and wait for it in the triggerer, so no worker slot is held while it runs.

The task reads words.txt from the input bucket `qarnot-demo-inputs` (the demo creates it) and writes an upper-case
copy that Qarnot uploads to `qarnot-deferrable-results`; when the task resumes, its log lines are copied into the task
log and the result bucket is downloaded into a local folder (under the temporary directory).
"""

from __future__ import annotations

import os
import tempfile

from airflow.sdk import dag

from airflow_provider_batch.operators.qarnot import QarnotOperator


@dag(schedule=None, catchup=False, tags=["example", "qarnot"])
def qarnot_deferrable():
    QarnotOperator(
        task_id="shout",
        qarnot_conn_id="qarnot_default",
        deferrable=True,
        profile="docker-batch",
        instance_count=1,
        constants={
            "DOCKER_REPO": "library/alpine",
            "DOCKER_TAG": "3",
            "DOCKER_CMD": "sh -c 'echo shouting; sleep 2; tr a-z A-Z < words.txt > shout.txt; "
            'echo "wrote $(wc -c < shout.txt) bytes"\'',
        },
        input_buckets=["qarnot-demo-inputs"],
        result_bucket="qarnot-deferrable-results",
        results_dir=os.path.join(tempfile.gettempdir(), "qarnot-results", "{{ run_id }}"),
        poll_interval=2,
    )


qarnot_deferrable()
