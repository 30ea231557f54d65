"""Fan out 20 Armada jobs with dynamic task mapping; every fifth one fails on its first try and is retried.

`{{ ti.try_number }}` is rendered into the pod's env, so the job knows which try it is. A retry looks for the job
the earlier try submitted (it never submits the same try twice) and, since that one failed, submits a new one.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import dag

from airflow_provider_batch.operators.armada import ArmadaOperator

RESOURCES = {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"cpu": "100m", "memory": "64Mi"}}
SCRIPT = """
echo "shard $SHARD, try $TRY"
if [ "$TRY" = 1 ] && [ $((SHARD % 5)) -eq 0 ]; then echo "shard $SHARD: flaky failure" >&2; exit 3; fi
sleep 1; echo "shard $SHARD done"
"""


def shard(number: int) -> dict:
    env = [{"name": "SHARD", "value": str(number)}, {"name": "TRY", "value": "{{ ti.try_number }}"}]
    container = {"name": "main", "image": "busybox", "command": ["sh", "-c", SCRIPT], "env": env}
    return {"containers": [{**container, "resources": RESOURCES}]}


@dag(schedule=None, catchup=False, tags=["example", "armada"])
def armada_mapped():
    ArmadaOperator.partial(
        task_id="shard",
        armada_conn_id="armada_default",
        deferrable=True,
        poll_interval=1,
        retries=1,
        retry_delay=timedelta(seconds=1),
    ).expand(job_request=[shard(number) for number in range(20)])


armada_mapped()
