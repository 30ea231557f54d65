"""N deferred jobs through BatchJobTrigger coroutines in one event loop, against the Armada emulator.

Compares, side by side in one run, per-job polling through our trigger (`direct`: one GetJobStatus per job per
interval), the official `armada-airflow` operator's own polling (`official`: its ArmadaHook.refresh_context per job
per interval, as its worker re-entries do; needs the armada-airflow wheel importable, e.g.
`pip download --no-deps armada-airflow==1.1.3` unzipped on PYTHONPATH, since it pins Airflow < 3.3) and the embedded
job-service cache, polling only (`cache`: one batched call per connection per interval) or also following the job
set's event stream (`stream`: all jobs share one job set, so one stream carries every job's end). Prints a table:
scheduler calls per poll interval, CPU seconds and peak extra RSS of the polling process, and the delay from each job's end (Armada's
run finished_ts) to its trigger event.

    .venv/bin/python -m benchmarks.trigger_load --jobs 100,1000 --job-seconds 5,60 --poll-interval 5 \
        --modes official,direct,cache,stream
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import statistics
import threading
import time
from typing import Any

import psutil

from airflow_provider_batch.clients.armada import ArmadaClient
from airflow_provider_batch.common.channel import CallCredentials, GrpcChannelArguments
from airflow_provider_batch.common.jobref import JobRef
from airflow_provider_batch.emulators import launch
from airflow_provider_batch.triggers import sources
from airflow_provider_batch.triggers.batch import BatchJobTrigger

CONN_ID = "armada_bench"


def pod(seconds: float) -> dict[str, Any]:
    quantities = {"cpu": "10m", "memory": "8Mi"}
    container = {
        "name": "main",
        "command": ["sleep", f"{seconds:.1f}"],
        "resources": {"requests": quantities, "limits": quantities},
    }
    return {"containers": [container]}


class PeakRss:
    def __init__(self) -> None:
        self.process = psutil.Process()
        self.baseline = self.process.memory_info().rss
        self.peak = self.baseline
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.2):
            self.peak = max(self.peak, self.process.memory_info().rss)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def run_triggers(refs: list[dict[str, Any]], poll_interval: float) -> dict[str, float]:
    received: dict[str, float] = {}

    async def one(ref: dict[str, Any]) -> None:
        event = await BatchJobTrigger(ref, poll_interval=poll_interval).run().__anext__()
        received[event.payload["job_id"]] = time.time()

    await asyncio.gather(*(one(ref) for ref in refs))
    await sources.shared_cache().aclose()  # its channels, before asyncio.run closes the loop
    return received


def official_polling(job_ids: list[str], target: str, token: str, poll_interval: float) -> dict[str, float]:
    """The official operator's status loop: refresh_context (GetJobStatus, plus GetJobDetails once) per job."""
    from concurrent.futures import ThreadPoolExecutor

    import pendulum
    from armada.hooks import ArmadaHook  # the armada-airflow package, not ours
    from armada.model import GrpcChannelArgs, RunningJobContext
    from armada_client.client import ArmadaClient as SeedClient

    from airflow_provider_batch.emulators.testing import authorized_channel

    hook = ArmadaHook(GrpcChannelArgs(target=target))
    hook.client = SeedClient(authorized_channel(target, token))  # its hook has no bearer auth without TLS
    now = pendulum.now("UTC")
    contexts = {j: RunningJobContext("bench", j, "bench", now) for j in job_ids}
    received: dict[str, float] = {}
    with ThreadPoolExecutor(max_workers=16) as pool:
        while len(received) < len(job_ids):
            started = time.monotonic()
            pending = [c for j, c in contexts.items() if j not in received]
            for context in pool.map(lambda c: hook.refresh_context(c, ""), pending):
                contexts[context.job_id] = context
                if context.state.is_terminal():
                    received[context.job_id] = time.time()
            time.sleep(max(0.0, poll_interval - (time.monotonic() - started)))
    return received


def measure(mode: str, n: int, seconds: tuple[float, float], poll_interval: float) -> dict[str, Any]:
    args = ["--only", "armada", "--armada-port", "0", "--admin-port", "0", "--step-ms", "50"]
    with launch([*args, "--max-running", str(n), "--log-level", "WARNING"]) as emulators:
        target, token = emulators["armada"]["target"], emulators["armada"]["token"]
        os.environ[f"AIRFLOW_CONN_{CONN_ID.upper()}"] = json.dumps(
            {"conn_type": "armada", "host": target, "password": token}
        )
        channel = GrpcChannelArguments(target).channel(CallCredentials.bearer(token))
        client = ArmadaClient(channel)
        client.create_queue(client.create_queue_request("bench"))
        rng = random.Random(n)
        items = [
            client.create_job_request_item(pod_spec=pod(rng.uniform(*seconds)), namespace="default") for _ in range(n)
        ]
        job_ids: list[str] = []
        for start in range(0, n, 500):
            response = client.submit_jobs("bench", "bench", items[start : start + 500])
            job_ids += [item.job_id for item in response.job_response_items]
        refs = [JobRef("armada", CONN_ID, j, {"queue": "bench", "job_set_id": "bench"}).to_json() for j in job_ids]

        os.environ["AIRFLOW__BATCH__EVENT_STREAM_MIN_JOBS"] = "10" if mode == "stream" else "0"
        if mode == "direct":
            sources.open_source = lambda job: sources.DirectStatusSource(job.backend, job.conn_id)  # type: ignore[assignment]
        else:
            sources.open_source = lambda job: sources.CachedStatusSource(job.backend, job.conn_id)  # type: ignore[assignment]
        emulators.reset_stats()
        cpu_before, wall_before = cpu_seconds(), time.monotonic()
        with PeakRss() as rss:
            if mode == "official":
                received = official_polling(job_ids, target, token, poll_interval)
            else:
                received = asyncio.run(run_triggers(refs, poll_interval))
        wall = time.monotonic() - wall_before
        cpu = cpu_seconds() - cpu_before
        calls = emulators.stats()["armada"]
        status_calls = calls.get("/api.Jobs/GetJobStatus", 0)

        details = client.get_job_details(job_ids, expand_job_run=True).job_details
        delays = []
        for job_id in job_ids:
            runs = details[job_id].job_runs
            if runs and runs[-1].finished_ts.seconds:
                delays.append(received[job_id] - runs[-1].finished_ts.ToDatetime().timestamp())
        channel.close()
    intervals = wall / poll_interval
    return {
        "mode": mode,
        "jobs": n,
        "wall_s": wall,
        "status_calls_per_interval": status_calls / intervals,
        "other_calls": sum(v for k, v in calls.items() if k != "/api.Jobs/GetJobStatus"),
        "cpu_s": cpu,
        "cpu_cores": cpu / wall,
        "peak_rss_mb": (rss.peak - rss.baseline) / 2**20,
        "delay_median_s": statistics.median(delays) if delays else float("nan"),
        "delay_max_s": max(delays) if delays else float("nan"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", default="100,1000", help="comma-separated job counts")
    parser.add_argument("--job-seconds", default="5,20", help="min,max seconds each job runs")
    parser.add_argument("--poll-interval", type=float, default=5.0)
    parser.add_argument("--modes", default="direct,cache")
    args = parser.parse_args()
    low, high = (float(x) for x in args.job_seconds.split(","))
    rows = [
        measure(mode, int(n), (low, high), args.poll_interval)
        for n in args.jobs.split(",")
        for mode in args.modes.split(",")
    ]
    header = (
        "| mode | jobs | GetJobStatus calls / interval | other calls | CPU s | CPU cores | peak extra RSS MB "
        "| end-to-event median s | max s |"
    )
    print(header)
    print("|---" * (header.count("|") - 1) + "|")
    for r in rows:
        print(
            f"| {r['mode']} | {r['jobs']} | {r['status_calls_per_interval']:.1f} | {r['other_calls']} "
            f"| {r['cpu_s']:.1f} | {r['cpu_cores']:.3f} | {r['peak_rss_mb']:.0f} "
            f"| {r['delay_median_s']:.2f} | {r['delay_max_s']:.2f} |"
        )
    by = {(r["mode"], r["jobs"]): r for r in rows}
    for n in args.jobs.split(","):
        cache = by.get(("cache", int(n)))
        for other in ("official", "direct"):
            polled = by.get((other, int(n)))
            if polled and cache and cache["status_calls_per_interval"]:
                calls = polled["status_calls_per_interval"] / cache["status_calls_per_interval"]
                cpu = polled["cpu_s"] / cache["cpu_s"] if cache["cpu_s"] else float("nan")
                print(
                    f"{n} jobs: {other} polling makes {calls:.0f}x the cache's status calls and uses {cpu:.1f}x its CPU"
                )
        streamed = by.get(("stream", int(n)))
        if streamed and cache:
            print(
                f"{n} jobs: following the event stream takes the median end-to-event delay from "
                f"{cache['delay_median_s']:.2f} s to {streamed['delay_median_s']:.2f} s"
            )


if __name__ == "__main__":
    main()
