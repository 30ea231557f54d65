"""One run of 100 mapped tasks across the three schedulers' emulators, for the distributed kill test
(tests/e2e/test_distributed.py): 94 deferrable ones (see SIZES) and 6 blocking ones (two per scheduler) that start
first and hold a Celery worker slot while their job runs, so that killing that worker kills them mid-job.

Every task may retry: a try lost with a killed worker is retried, and the retry reattaches to the job the first try
submitted (the operators' deterministic identity), so each task submits exactly one job.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import dag

from airflow_provider_batch.operators.apolo import ApoloJobOperator
from airflow_provider_batch.operators.armada import ArmadaOperator
from airflow_provider_batch.operators.qarnot import QarnotOperator

DAG_ID = "dist_kill"
# task_id -> how many mapped task instances (the test reads this table too)
SIZES = {
    "armada_deferred": 40,
    "apolo_deferred": 27,
    "qarnot_deferred": 27,
    "armada_blocking": 2,
    "apolo_blocking": 2,
    "qarnot_blocking": 2,
}
BLOCKING = ("armada_blocking", "apolo_blocking", "qarnot_blocking")
POLL_INTERVAL = 2.0  # seconds, for the deferred tasks
BLOCKING_SECONDS = 40  # long enough for the test to see them running beside deferred ones and kill their worker
RESOURCES = {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"cpu": "100m", "memory": "64Mi"}}
COMMON = {"retries": 2, "retry_delay": timedelta(seconds=2)}
BLOCKING_FIRST = {"priority_weight": 100, "poll_interval": 1.0}


def seconds(index: int) -> int:
    """A short job: 3 to 8 seconds, varied so the jobs do not all end at once."""
    return 3 + index % 6


def pod(script: str) -> dict:
    return {
        "containers": [
            {"name": "main", "image": "busybox", "command": ["sh", "-c", script], **{"resources": RESOURCES}}
        ]
    }


def qarnot_constants(script: str) -> dict:
    return {"DOCKER_REPO": "library/alpine", "DOCKER_TAG": "3", "DOCKER_CMD": f"sh -c '{script}'"}


@dag(dag_id=DAG_ID, schedule=None, catchup=False, max_active_tasks=256, tags=["test"])
def dist_kill() -> None:
    n = SIZES
    ArmadaOperator.partial(task_id="armada_deferred", deferrable=True, poll_interval=POLL_INTERVAL, **COMMON).expand(
        job_request=[pod(f"echo armada {i}; sleep {seconds(i)}") for i in range(n["armada_deferred"])]
    )
    ApoloJobOperator.partial(
        task_id="apolo_deferred",
        image="ubuntu:22.04",
        preset_name="cpu-small",
        deferrable=True,
        poll_interval=POLL_INTERVAL,
        **COMMON,
    ).expand(command=[f"sh -c 'echo apolo {i}; sleep {seconds(i)}'" for i in range(n["apolo_deferred"])])
    QarnotOperator.partial(
        task_id="qarnot_deferred", profile="docker-batch", deferrable=True, poll_interval=POLL_INTERVAL, **COMMON
    ).expand(constants=[qarnot_constants(f"echo qarnot {i}; sleep {seconds(i)}") for i in range(n["qarnot_deferred"])])

    script = f"echo blocking; sleep {BLOCKING_SECONDS}; echo blocking done"
    ArmadaOperator.partial(task_id="armada_blocking", deferrable=False, **BLOCKING_FIRST, **COMMON).expand(
        job_request=[pod(script) for _ in range(n["armada_blocking"])]
    )
    ApoloJobOperator.partial(
        task_id="apolo_blocking",
        image="ubuntu:22.04",
        preset_name="cpu-small",
        deferrable=False,
        **BLOCKING_FIRST,
        **COMMON,
    ).expand(command=[f"sh -c '{script}'" for _ in range(n["apolo_blocking"])])
    QarnotOperator.partial(
        task_id="qarnot_blocking", profile="docker-batch", deferrable=False, **BLOCKING_FIRST, **COMMON
    ).expand(constants=[qarnot_constants(script) for _ in range(n["qarnot_blocking"])])


dist_kill()
