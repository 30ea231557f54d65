"""This provider's `ArmadaOperator(deferrable=True)` against armada-airflow 1.1.3's deferrable `ArmadaOperator`, on a
real distributed Airflow 3.2.x (tests/e2e/_distributed.py: PostgreSQL, CeleryExecutor on Redis, 2 Celery workers,
2 triggerers, each a process of its own), the same Armada emulator in benchmark mode (`--simulate-jobs`) and the
same poll interval.

For each N and each operator: a fresh emulator and a fresh distributed Airflow (its own database, so that no run
inherits another's heap or rows) from the venv `benchmarks/official_venv.py` makes (Airflow 3.2.x: armada-airflow
pins < 3.3), one run of the DAG `benchmarks/dags_distributed/bench_armada.py` mapping N tasks. Per run:

- scheduler calls per poll interval: the Armada emulator's /stats, every call but SubmitJobs (status reads, the
  lookup before a submission, log reads, event streams opened), over the run's wall time in poll intervals; of them
  GetJobStatus and GetJobDetails alone; and the busiest single interval;
- worker task starts: Airflow's own StatsD counter `ti.start.<dag_id>.armada`, which the task runner increments at
  every start of a task instance in a worker (first start and each resume after a deferral), received by a listener
  of this process; the Celery result backend's rows (one per Celery task run) are kept beside it as a cross-check;
- triggerer CPU seconds (both triggerers' process trees, psutil through the harness's `usage()`) over the run, and
  the largest RSS either reached (with its RSS when the run began);
- the delay from each job's end (its run's `finished_ts` in the emulator) to its task's success (the task instance's
  `end_date`): median, p95, max;
- the run's wall time (the DAG run's start_date to end_date).

The table, then ratios (official / ours) as the headline; the rows go to benchmarks/results/distributed.json and
one PNG per metric against N, both operators side by side, to benchmarks/results/ (drawn by
`benchmarks/distributed_charts.py` in that venv, which has matplotlib).

    .venv/bin/python -m benchmarks.distributed --n 200 1000 --poll-interval 10 --job-seconds 60,120

The machine's PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379) are used (started if they do not answer).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "e2e"))  # the harness and its helper import each other by their own names

from _distributed import DistributedAirflow  # noqa: E402

from airflow_provider_batch.clients.armada.client import ArmadaClient  # noqa: E402
from airflow_provider_batch.common.channel import CallCredentials, GrpcChannelArguments  # noqa: E402
from airflow_provider_batch.emulators import LaunchedEmulators, launch  # noqa: E402
from airflow_provider_batch.emulators.connections import armada_connection  # noqa: E402
from benchmarks.distributed_report import percentile, ratios, table  # noqa: E402
from benchmarks.distributed_sampling import Sampler, StatsdCounter  # noqa: E402
from benchmarks.official_venv import ROOT as CHECKOUT  # noqa: E402
from benchmarks.official_venv import official_python  # noqa: E402

DAGS = ROOT / "benchmarks" / "dags_distributed"
RESULTS = ROOT / "benchmarks" / "results"
WORK = ROOT / "test-artifacts" / "benchmarks" / "distributed"
QUEUE = "bench"
OPERATORS = {"ours": "bench_ours", "official": "bench_official"}
SUBMIT = "/api.Submit/SubmitJobs"
STATUS_METHODS = {"/api.Jobs/GetJobStatus", "/api.Jobs/GetJobDetails"}


def when(iso: str | None) -> float | None:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() if iso else None


def job_ids(airflow: DistributedAirflow, dag_id: str, run_id: str) -> dict[int, str]:
    """map index -> Armada job id, from the XCom each operator writes: ours `job_id`, armada-airflow's
    `job_context` (its `armada_job_id`)."""
    rows = airflow.query(
        "SELECT map_index, key, value FROM xcom WHERE dag_id = %s AND run_id = %s AND key IN ('job_id', 'job_context')",
        (dag_id, run_id),
    )
    found: dict[int, str] = {}
    for map_index, key, value in rows:
        if isinstance(value, (str, bytes)):
            text = value.decode() if isinstance(value, bytes) else value
            try:
                value = json.loads(text)
            except ValueError:
                value = text
        if key == "job_context" and isinstance(value, dict):
            value = value.get("armada_job_id")
        if isinstance(value, str) and value:
            found[int(map_index)] = value
    return found


def job_ends(ready: dict[str, Any], ids: Sequence[str]) -> dict[str, float]:
    """job id -> epoch seconds its last run finished, as the emulator recorded it."""
    channel = GrpcChannelArguments(ready["target"]).channel(CallCredentials.bearer(ready["token"]))
    ended: dict[str, float] = {}
    try:
        client = ArmadaClient(channel)
        for start in range(0, len(ids), 500):
            details = client.get_job_details(list(ids[start : start + 500]), expand_job_run=True).job_details
            for job_id, detail in details.items():
                runs = detail.job_runs
                if runs and runs[-1].finished_ts.seconds:
                    ended[job_id] = runs[-1].finished_ts.ToDatetime().timestamp()
    finally:
        channel.close()
    return ended


def airflow_settings(n: int, args: argparse.Namespace, ready: dict[str, Any], statsd_port: int) -> dict[str, str]:
    return {
        "PYTHONPATH": str(CHECKOUT),  # this provider and the DAG's helpers, from the checkout
        "BENCH_N": str(n),
        "BENCH_POLL_INTERVAL": str(args.poll_interval),
        "BENCH_JOB_SECONDS": args.job_seconds,
        "BENCH_ARMADA_QUEUE": QUEUE,
        "BENCH_ARMADA_TARGET": ready["target"],
        "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": str(max(256, n)),
        "AIRFLOW__METRICS__STATSD_ON": "True",
        "AIRFLOW__METRICS__STATSD_HOST": "127.0.0.1",
        "AIRFLOW__METRICS__STATSD_PORT": str(statsd_port),
        "AIRFLOW__METRICS__STATSD_PREFIX": "airflow",
    }


def run_one(operator: str, n: int, args: argparse.Namespace) -> dict[str, Any]:
    dag_id = OPERATORS[operator]
    work = WORK / f"{operator}-{n}"
    shutil.rmtree(work, ignore_errors=True)
    (work / "home").mkdir(parents=True)
    flags = ["--only", "armada", "--armada-port", "0", "--admin-port", "0", "--armada-queue", QUEUE]
    flags += ["--simulate-jobs", "--max-running", str(max(64, n)), "--step-ms", "50", "--log-level", "WARNING"]
    emulators: LaunchedEmulators
    with launch(flags, timeout=60, log_path=str(work / "emulator.log")) as emulators, StatsdCounter() as statsd:
        ready = emulators["armada"]
        airflow = DistributedAirflow(
            work / "home",
            DAGS,
            airflow_bin_dir=official_python().parent,
            connections={"armada_default": armada_connection(ready, QUEUE)},
            settings=airflow_settings(n, args, ready, statsd.port),
            worker_concurrency=args.worker_concurrency,
        )
        with airflow:
            boot = airflow.timings["boot"]
            print(f"  {operator} N={n}: Airflow up in {boot:.0f} s", file=sys.stderr, flush=True)
            emulators.reset_stats()
            with Sampler(airflow, emulators, every=args.sample_every) as sampler:
                run_id = airflow.trigger(dag_id)
                try:
                    state = airflow.wait_run_end(dag_id, run_id, timeout=args.run_timeout)
                except AssertionError:
                    state = "timed out"
                time.sleep(2 * args.sample_every)  # one more sample after the end
            run = airflow.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}")
            tis = airflow.task_instances(dag_id, run_id)
            ids = job_ids(airflow, dag_id, run_id)
            celery_tasks = int(airflow.query("SELECT count(*) FROM celery_taskmeta")[0][0])
        began = when(run.get("start_date")) or sampler.stats[0][0]
        ended = when(run.get("end_date")) or sampler.stats[-1][0]
        stats = emulators.stats()["armada"]
        job_end = job_ends(ready, list(ids.values()))
    wall = ended - began
    intervals = max(wall / args.poll_interval, 1e-9)
    calls = sampler.calls_between(began, ended) - sampler.calls_between(began, ended, {SUBMIT})
    status = sampler.calls_between(began, ended, STATUS_METHODS)
    delays = []
    for ti in tis:
        job_id = ids.get(int(ti["map_index"]))
        success = when(ti.get("end_date")) if ti["state"] == "success" else None
        if job_id in job_end and success is not None:
            delays.append(success - job_end[job_id])
    rss_start, rss_peak = sampler.triggerer_rss(began, ended)
    # how fast the workers took the N tasks at first (a task instance keeps its first start_date across deferrals)
    starts = sorted(t for t in (when(ti.get("start_date")) for ti in tis) if t is not None)
    return {
        "operator": operator,
        "n": n,
        "poll_interval_s": args.poll_interval,
        "job_seconds": args.job_seconds,
        "state": state,
        "succeeded": sum(1 for ti in tis if ti["state"] == "success"),
        "boot_s": boot,
        "wall_s": wall,
        "calls_per_interval": calls / intervals,
        "status_calls_per_interval": status / intervals,
        "peak_calls_in_an_interval": sampler.peak_window(args.poll_interval, began, ended, {SUBMIT}),
        "submissions": stats.get(SUBMIT, 0),
        "calls_by_method": stats,
        "worker_task_starts": statsd.count(f"airflow.ti.start.{dag_id}.armada"),
        "celery_task_runs": celery_tasks,
        "triggerer_cpu_s": sampler.triggerer_cpu(began, ended),
        "triggerer_rss_start_mb": rss_start,
        "triggerer_peak_rss_mb": rss_peak,
        "latency_median_s": statistics.median(delays) if delays else float("nan"),
        "latency_p95_s": percentile(delays, 0.95),
        "latency_max_s": max(delays) if delays else float("nan"),
        "latencies_measured": len(delays),
        "first_starts_span_s": starts[-1] - starts[0] if starts else float("nan"),
        "sampler_errors": sampler.errors[:5],
    }


def draw(json_path: Path, label: str) -> None:
    """One PNG per metric, drawn in the benchmark venv (it has matplotlib)."""
    from benchmarks.official_venv import official_env

    command = [str(official_python()), "-m", "benchmarks.distributed_charts", str(json_path), str(RESULTS), label]
    subprocess.run(command, check=True, cwd=CHECKOUT, env=official_env())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, nargs="+", default=[200, 1000], help="mapped tasks per run")
    parser.add_argument("--poll-interval", type=float, default=10.0, help="seconds, both operators")
    parser.add_argument("--job-seconds", default="60,120", help="low,high: each job's simulated duration")
    parser.add_argument("--operators", nargs="+", default=list(OPERATORS), choices=list(OPERATORS))
    parser.add_argument("--worker-concurrency", type=int, default=8, help="task slots per Celery worker (2 workers)")
    parser.add_argument("--run-timeout", type=float, default=7200.0, help="seconds a run may take")
    parser.add_argument("--sample-every", type=float, default=1.0, help="seconds between samples")
    parser.add_argument("--label", default="", help="a word for the charts' titles and files, e.g. smoke")
    args = parser.parse_args()
    official_python()  # made (or updated) before any timing
    RESULTS.mkdir(parents=True, exist_ok=True)
    rows = []
    for n in args.n:
        for operator in args.operators:
            started = time.monotonic()
            rows.append(run_one(operator, n, args))
            print(f"  {operator} N={n}: {time.monotonic() - started:.0f} s in all", file=sys.stderr, flush=True)
            print("\n".join(table(rows[-1:])[2:]), flush=True)
    suffix = f"-{args.label}" if args.label else ""
    json_path = RESULTS / f"distributed{suffix}.json"
    json_path.write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
    print("\n".join(table(rows)))
    print()
    print("\n".join(ratios(rows)))
    draw(json_path, args.label)


if __name__ == "__main__":
    main()
