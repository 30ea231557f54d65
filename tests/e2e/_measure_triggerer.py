"""How much one real `airflow triggerer` spends holding N deferred Armada tasks (run by hand; docs/scaling.md).

    .venv/bin/python tests/e2e/_measure_triggerer.py [N] [poll_interval]

The distributed harness (_distributed.py: PostgreSQL, CeleryExecutor on Redis, 2 Celery workers of concurrency 8)
with ONE triggerer runs a DAG of N mapped `ArmadaOperator(deferrable=True)` tasks against the Armada emulator in
`--simulate-jobs` mode (no process per job: the jobs last 900 s and cost the machine nothing). Once every task is
deferred, the triggerer's process tree (the triggerer and its trigger runner) is sampled for a 60 s steady window:
CPU seconds, RSS, and the emulator's status calls per poll interval. Printed as one JSON line. The run is not
waited for: the harness is torn down after the window.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import psutil
from _distributed import DistributedAirflow
from _standalone import wait_for

from airflow_provider_batch.emulators import launch
from airflow_provider_batch.emulators.connections import armada_connection

QUEUE = "measure"
DAG = """
from airflow.sdk import dag

from airflow_provider_batch.operators.armada import ArmadaOperator

QUANTITY = {{"cpu": "100m", "memory": "64Mi"}}
POD = {{"containers": [{{"name": "main", "image": "busybox", "command": ["sh", "-c", "sleep 900"],
                        "resources": {{"requests": QUANTITY, "limits": QUANTITY}}}}]}}


@dag(dag_id="measure_triggerer", schedule=None, catchup=False, max_active_tasks=4096)
def measure_triggerer():
    ArmadaOperator.partial(task_id="held", deferrable=True, poll_interval={interval}).expand(
        job_request=[POD] * {n}
    )


measure_triggerer()
"""


def tree_usage(root: psutil.Process) -> tuple[float, float]:
    """(CPU seconds, RSS MB) of a process and everything under it."""
    cpu = rss = 0.0
    for process in [root, *root.children(recursive=True)]:
        try:
            times = process.cpu_times()
            cpu += times.user + times.system
            rss += process.memory_info().rss / 2**20
        except psutil.Error:
            continue
    return cpu, rss


def measure(n: int, interval: float, window: float = 60.0) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="measure-triggerer-") as scratch:
        base = Path(scratch)
        (base / "dags").mkdir()
        (base / "dags" / "measure_triggerer.py").write_text(textwrap.dedent(DAG.format(n=n, interval=interval)))
        flags = ["--only", "armada", "--armada-port", "0", "--admin-port", "0", "--armada-queue", QUEUE]
        emulators = launch(
            [*flags, "--simulate-jobs", "--max-running", str(n + 10), "--log-level", "WARNING"],
            env={**os.environ, "TMPDIR": scratch},
            log_path=str(base / "emulators.log"),
        )
        conns = {"armada_default": armada_connection(emulators["armada"], QUEUE)}
        airflow = DistributedAirflow(
            base / "home", base / "dags", connections=conns, n_triggerers=1, worker_concurrency=8
        )
        (base / "home").mkdir()
        try:
            airflow.start()
            triggerer = psutil.Process(airflow.component("triggerer", 0).popen.pid)
            idle_cpu, idle_rss = tree_usage(triggerer)
            started = time.monotonic()
            airflow.trigger("measure_triggerer")
            wait_for(
                f"{n} triggers held", lambda: sum(map(len, airflow.triggers_by_triggerer().values())) >= n, 1800, 2.0
            )
            deferring = time.monotonic() - started
            time.sleep(2 * interval)  # the last triggers' first polls
            cpu0, _ = tree_usage(triggerer)
            calls0, at0 = emulators.stats()["armada"], time.monotonic()
            peak_rss = 0.0
            while time.monotonic() - at0 < window:
                peak_rss = max(peak_rss, tree_usage(triggerer)[1])
                time.sleep(1.0)
            cpu1, _ = tree_usage(triggerer)
            calls1, at1 = emulators.stats()["armada"], time.monotonic()
            intervals = (at1 - at0) / interval
            status = "/api.Jobs/GetJobStatus"
            return {
                "deferred_tasks": n,
                "poll_interval_s": interval,
                "seconds_to_defer_all": round(deferring, 1),
                "triggerer_cpu_cores": round((cpu1 - cpu0) / (at1 - at0), 4),
                "triggerer_idle_rss_mb": round(idle_rss, 1),
                "triggerer_peak_rss_mb": round(peak_rss, 1),
                "triggerer_idle_cpu_s_at_boot": round(idle_cpu, 1),
                "get_job_status_per_interval": round((calls1.get(status, 0) - calls0.get(status, 0)) / intervals, 2),
                "event_streams_opened": calls1.get("/api.Event/GetJobSetEvents", 0),
                "boot_s": round(airflow.timings["boot"], 1),
            }
        finally:
            airflow.stop()
            emulators.stop()


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    poll = float(sys.argv[2]) if len(sys.argv) > 2 else 5.0
    print(json.dumps(measure(count, poll)))
