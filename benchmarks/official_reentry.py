"""Child process, in the armada-airflow venv (`benchmarks.official_venv`): armada-airflow 1.1.3's deferrable
`ArmadaOperator`, driven through its real re-entry path.

The official operator's trigger only sleeps `poll_interval`; each time it fires, the task re-enters a worker in
`_trigger_reentry`, which reads the job's context from XCom, polls (`refresh_context`: GetJobStatus, and
GetJobDetails whenever the job is running or over, since the cluster it caches is not in the XCom it reads back),
writes the context to XCom and defers again. This calls that method, per job per interval, in 16 threads, with an
in-memory XCom; it does not count what a real re-entry also costs (a worker process start, a connection and an XCom
round trip to the API server): the distributed benchmark does.

Run by `benchmarks.trigger_load`; speaks the protocol of `benchmarks.measured`.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any


@dataclass
class InMemoryTaskInstance:
    """What `_trigger_reentry` and its XCom helpers read from a task instance."""

    task_id: str
    dag_id: str = "bench"
    run_id: str = "bench"
    try_number: int = 1
    map_index: int = -1
    xcom: dict[str, Any] = field(default_factory=dict)

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcom[key] = value

    def xcom_pull(self, key: str, task_ids: Any = None, map_indexes: Any = None) -> Any:
        return self.xcom.get(key)


def wait_all(request: dict[str, Any]) -> dict[str, float]:
    import pendulum
    from airflow.sdk.exceptions import TaskDeferred
    from armada.hooks import ArmadaHook
    from armada.model import GrpcChannelArgs
    from armada.operators.armada import ArmadaOperator
    from armada_client.client import ArmadaClient
    from armada_client.typings import JobState

    from airflow_provider_batch.emulators.testing import authorized_channel  # imports nothing of the provider

    poll_interval = float(request["poll_interval"])
    channel_args = GrpcChannelArgs(target=request["target"])
    hook = ArmadaHook(channel_args)
    hook.client = ArmadaClient(authorized_channel(request["target"], request["token"]))  # no bearer auth sans TLS
    request_item = None  # the job is already submitted: re-entry never reads the request
    operators: dict[str, tuple[ArmadaOperator, dict[str, Any]]] = {}
    now = pendulum.now("UTC")
    for i, ref in enumerate(request["jobs"]):
        operator = ArmadaOperator(
            name=f"job{i}",
            task_id=f"job{i}",
            channel_args=channel_args,
            armada_queue=ref["details"]["queue"],
            job_request=request_item,
            poll_interval=int(poll_interval),
            deferrable=True,
        )
        operator.__dict__["hook"] = hook  # its cached_property: one client for all, so no channel per re-entry
        ti = InMemoryTaskInstance(task_id=f"job{i}")
        ti.xcom_push(
            "job_context",
            {
                "armada_queue": ref["details"]["queue"],
                "armada_job_id": ref["job_id"],
                "armada_job_set_id": ref["details"]["job_set_id"],
                "armada_job_submit_time": now,
                "armada_job_state": JobState.UNKNOWN.name,
                "armada_job_last_log_time": None,
            },
        )
        operators[ref["job_id"]] = (operator, {"ti": ti, "run_id": ref["details"]["job_set_id"]})

    received: dict[str, float] = {}

    def reenter(job_id: str) -> None:
        operator, context = operators[job_id]
        try:
            operator._trigger_reentry(context, ("", {}))
        except TaskDeferred:
            return  # still running: its trigger sleeps one interval
        received[job_id] = time.time()  # every benchmark job succeeds: anything else raised ends the run

    with ThreadPoolExecutor(max_workers=16) as pool:
        while len(received) < len(operators):
            started = time.monotonic()
            list(pool.map(reenter, [job_id for job_id in operators if job_id not in received]))
            time.sleep(max(0.0, poll_interval - (time.monotonic() - started)))
    return received


def main() -> None:
    import armada.operators.armada  # noqa: F401  (imported before READY)

    from benchmarks.measured import serve_one

    serve_one(wait_all)


if __name__ == "__main__":
    main()
