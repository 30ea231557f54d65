"""The distributed benchmark's two DAGs (run by `benchmarks/distributed.py`, one per Airflow it starts): N mapped
deferrable Armada tasks, each submitting one job that sleeps a few seconds, with

- `bench_ours`: this provider's `ArmadaOperator(deferrable=True)`: it submits, defers once, and one trigger per task
  waits on the triggerer's embedded job-service cache (batched GetJobStatus and job-set event streams);
- `bench_official`: armada-airflow 1.1.3's deferrable `ArmadaOperator`: it submits, then its trigger only sleeps
  `poll_interval`, and the task re-enters a worker after each sleep to poll the job (GetJobStatus, and
  GetJobDetails once the job runs) and defer again.

Both read the same parameters from the environment every component shares (so the dag-processor and the workers
build the same tasks): BENCH_N tasks, BENCH_POLL_INTERVAL seconds, BENCH_JOB_SECONDS "low,high" (each task's job
sleeps a duration drawn from that range, seeded by its map index, so both DAGs run the same jobs) and
BENCH_ARMADA_QUEUE. The emulator runs in benchmark mode (`--simulate-jobs`), where a job lasts its `sleep`.

armada-airflow's channel has no way to send a bearer token over plain TCP (its `auth` plugin implies TLS, which the
emulator does not serve), so its hook's channel is wrapped here with an interceptor that adds the token of the
`armada_default` connection to each call. Nothing else of its code is changed: a new channel per re-entry, as
shipped.
"""

from __future__ import annotations

import contextlib
import os
import random
from typing import Any

from airflow.sdk import dag

N = int(os.environ.get("BENCH_N", "10"))
POLL_INTERVAL = float(os.environ.get("BENCH_POLL_INTERVAL", "10"))
LOW, HIGH = (float(x) for x in os.environ.get("BENCH_JOB_SECONDS", "20,40").split(","))
QUEUE = os.environ.get("BENCH_ARMADA_QUEUE", "bench")
CONN_ID = "armada_default"
QUANTITIES = {"cpu": "10m", "memory": "8Mi"}


def job_seconds(index: int) -> float:
    """The simulated duration of map index `index`'s job (the same in both DAGs)."""
    return round(random.Random(index).uniform(LOW, HIGH), 1)


def command(index: int) -> list[str]:
    return ["sh", "-c", f"echo bench {index}; sleep {job_seconds(index)}"]


def our_pod(index: int) -> dict[str, Any]:
    container = {"name": "main", "image": "busybox", "command": command(index)}
    return {"containers": [{**container, "resources": {"requests": QUANTITIES, "limits": QUANTITIES}}]}


def official_request(index: int) -> dict[str, Any]:
    """A JobSubmitRequestItem in MessageToDict form (the form armada-airflow keeps and parses back)."""
    quantities = {name: {"string": value} for name, value in QUANTITIES.items()}
    container = {"name": "main", "image": "busybox", "command": command(index)}
    resources = {"requests": quantities, "limits": quantities}
    pod_spec = {"containers": [{**container, "resources": resources}]}
    return {"priority": 1.0, "namespace": "default", "pod_spec": pod_spec}


@dag(dag_id="bench_ours", schedule=None, catchup=False, max_active_tasks=max(16, N), tags=["benchmark"])
def bench_ours() -> None:
    from airflow_provider_batch.operators.armada import ArmadaOperator

    ArmadaOperator.partial(
        task_id="armada", queue=QUEUE, deferrable=True, poll_interval=POLL_INTERVAL, armada_conn_id=CONN_ID
    ).expand(job_request=[our_pod(i) for i in range(N)])


def _token_channel() -> None:
    """armada-airflow's hook channel, with the connection's token added to every call (see the module docstring)."""
    from armada.hooks import ArmadaHook

    if getattr(ArmadaHook, "_bench_token", False):
        return
    original = ArmadaHook._create_channel

    def create_channel(self: ArmadaHook) -> Any:
        import grpc
        from airflow.sdk import BaseHook

        from airflow_provider_batch.emulators.testing import BearerInterceptor

        token = BaseHook.get_connection(CONN_ID).password or ""
        return grpc.intercept_channel(original(self), BearerInterceptor(token))

    ArmadaHook._create_channel = create_channel  # type: ignore[method-assign]
    ArmadaHook._bench_token = True  # type: ignore[attr-defined]


@dag(dag_id="bench_official", schedule=None, catchup=False, max_active_tasks=max(16, N), tags=["benchmark"])
def bench_official() -> None:
    from armada.model import GrpcChannelArgs
    from armada.operators.armada import ArmadaOperator as OfficialArmadaOperator

    _token_channel()
    target = os.environ.get("BENCH_ARMADA_TARGET", "127.0.0.1:50051")
    OfficialArmadaOperator.partial(
        task_id="armada",
        name="bench",
        channel_args=GrpcChannelArgs(target=target),
        armada_queue=QUEUE,
        poll_interval=int(POLL_INTERVAL),
        deferrable=True,
    ).expand(job_request=[official_request(i) for i in range(N)])


bench_ours()
with contextlib.suppress(ImportError):  # armada-airflow is not installed here: only this provider's DAG
    bench_official()
