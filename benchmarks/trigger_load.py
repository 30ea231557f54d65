"""N deferred jobs through BatchJobTrigger coroutines in one event loop, against a scheduler's emulator.

Compares, side by side in one run, per-job polling through our trigger (`direct`: one status call per job per
interval), the official `armada-airflow` operator's own polling (`official`, Armada only: its
ArmadaHook.refresh_context per job per interval, as its worker re-entries do; needs the armada-airflow wheel
importable, e.g. `pip download --no-deps armada-airflow==1.1.3` unzipped on PYTHONPATH, since it pins Airflow < 3.3)
and the embedded job-service cache, polling only (`cache`: batched calls per connection per interval) or also
following the job set's event stream (`stream`, Armada only: all jobs share one job set, so one stream carries every
job's end). `benchmarks/workloads.py` says what each backend submits. Prints a table: status calls per poll
interval (from the emulator's /stats), CPU seconds and peak extra RSS of the polling process, and the delay from
each job's end (as the scheduler recorded it) to its trigger event.

    .venv/bin/python -m benchmarks.trigger_load --backends armada,qarnot,apolo --jobs 100,1000 \
        --job-seconds 5,60 --poll-interval 5 --modes official,direct,cache,stream
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import resource
import statistics
import threading
import time
from typing import Any

import psutil

from airflow_provider_batch.emulators import launch
from airflow_provider_batch.triggers import sources
from airflow_provider_batch.triggers.batch import BatchJobTrigger
from benchmarks.workloads import WORKLOADS


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


def measure(backend: str, mode: str, n: int, seconds: tuple[float, float], poll_interval: float) -> dict[str, Any]:
    workload = WORKLOADS[backend]
    args = ["--only", workload.emulator, *workload.emulator_flags, "--admin-port", "0", "--step-ms", "50"]
    with launch([*args, "--max-running", str(n), "--log-level", "WARNING"]) as emulators:
        ready = emulators[workload.emulator]
        workload.connect(ready)
        rng = random.Random(n)
        jobs = workload.submit(ready, [rng.uniform(*seconds) for _ in range(n)])

        os.environ["AIRFLOW__BATCH__EVENT_STREAM_MIN_JOBS"] = "10" if mode == "stream" else "0"
        if mode == "direct":
            sources.open_source = lambda job: sources.DirectStatusSource(job.backend, job.conn_id)  # type: ignore[assignment]
        else:
            sources.open_source = lambda job: sources.CachedStatusSource(job.backend, job.conn_id)  # type: ignore[assignment]
        emulators.reset_stats()
        cpu_before, wall_before = cpu_seconds(), time.monotonic()
        with PeakRss() as rss:
            if mode == "official":
                job_ids = [job.job_id for job in jobs]
                received = official_polling(job_ids, ready["target"], ready["token"], poll_interval)
            else:
                received = asyncio.run(run_triggers([job.to_json() for job in jobs], poll_interval))
        wall = time.monotonic() - wall_before
        cpu = cpu_seconds() - cpu_before
        calls = emulators.stats()[workload.emulator]
        status_calls = sum(calls.get(route, 0) for route in workload.status_routes)
        ended = workload.ended_at(ready, jobs)
        delays = [received[job_id] - at for job_id, at in ended.items() if job_id in received]
    intervals = wall / poll_interval
    return {
        "backend": backend,
        "mode": mode,
        "jobs": n,
        "wall_s": wall,
        "status_calls_per_interval": status_calls / intervals,
        "other_calls": sum(calls.values()) - status_calls,
        "cpu_s": cpu,
        "cpu_cores": cpu / wall,
        "peak_rss_mb": (rss.peak - rss.baseline) / 2**20,
        "delay_median_s": statistics.median(delays) if delays else float("nan"),
        "delay_max_s": max(delays) if delays else float("nan"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backends", default="armada", help=f"comma-separated, of {','.join(WORKLOADS)}")
    parser.add_argument("--jobs", default="100,1000", help="comma-separated job counts")
    parser.add_argument("--job-seconds", default="5,20", help="min,max seconds each job runs")
    parser.add_argument("--poll-interval", type=float, default=5.0)
    parser.add_argument("--modes", default="direct,cache", help="direct, cache, stream (Armada), official (Armada)")
    args = parser.parse_args()
    low, high = (float(x) for x in args.job_seconds.split(","))
    rows = [
        measure(backend, mode, int(n), (low, high), args.poll_interval)
        for backend in args.backends.split(",")
        for n in args.jobs.split(",")
        for mode in args.modes.split(",")
        if backend == "armada" or mode in ("direct", "cache")
    ]
    header = (
        "| backend | mode | jobs | status calls / interval | other calls | CPU s | CPU cores | peak extra RSS MB "
        "| end-to-event median s | max s |"
    )
    print(header)
    print("|---" * (header.count("|") - 1) + "|")
    for r in rows:
        print(
            f"| {r['backend']} | {r['mode']} | {r['jobs']} | {r['status_calls_per_interval']:.1f} | {r['other_calls']} "
            f"| {r['cpu_s']:.1f} | {r['cpu_cores']:.3f} | {r['peak_rss_mb']:.0f} "
            f"| {r['delay_median_s']:.2f} | {r['delay_max_s']:.2f} |"
        )
    by = {(r["backend"], r["mode"], r["jobs"]): r for r in rows}
    for backend, _, n in sorted({(r["backend"], "", r["jobs"]) for r in rows}):
        cache = by.get((backend, "cache", n))
        for other in ("official", "direct"):
            polled = by.get((backend, other, n))
            if polled and cache and cache["status_calls_per_interval"]:
                calls = polled["status_calls_per_interval"] / cache["status_calls_per_interval"]
                cpu = polled["cpu_s"] / cache["cpu_s"] if cache["cpu_s"] else float("nan")
                print(
                    f"{backend}, {n} jobs: {other} polling makes {calls:.0f}x the cache's status calls "
                    f"and uses {cpu:.1f}x its CPU"
                )
        streamed = by.get((backend, "stream", n))
        if streamed and cache:
            print(
                f"{backend}, {n} jobs: following the event stream takes the median end-to-event delay from "
                f"{cache['delay_median_s']:.2f} s to {streamed['delay_median_s']:.2f} s"
            )


if __name__ == "__main__":
    main()
