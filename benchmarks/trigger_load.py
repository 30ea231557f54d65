"""N deferred jobs, each mode in a process of its own, against a scheduler's emulator: status calls, CPU, RSS, delay.

Modes:
- `default`: this provider's `BatchJobTrigger` coroutines as shipped, in one event loop as in a triggerer: the
  embedded job-service cache, which also follows Armada job-set event streams (Qarnot and Apolo have none, so there
  it is the same as `polling`).
- `polling`: the embedded cache with event streams off: one batched status call per connection per interval
  (Armada only, where it differs from `default`).
- `direct`: our trigger asking the scheduler itself, one status call per job per interval.
- `official` (Armada only): armada-airflow 1.1.3's deferrable `ArmadaOperator`, through its real worker re-entry
  `_trigger_reentry` per job per interval (see `benchmarks/official_reentry.py`), run in the venv that
  `benchmarks/official_venv.py` makes on first use (Airflow 3.2.x: armada-airflow pins Airflow < 3.3).

Each (backend, jobs, mode) gets a fresh emulator and a fresh child process: the child imports what it needs, says
READY, and only then are the jobs submitted and handed to it, so no mode reuses a heap another grew and imports
never delay a job's end from being seen. The emulators run in benchmark mode (`--simulate-jobs`: a job is a
simulated duration, no process per job) unless `--processes` is given. `benchmarks/workloads.py` says what each
backend submits.

The table: status calls per poll interval (from the emulator's /stats), other calls, the child's CPU seconds and
cores, its peak RSS over its RSS once ready, the emulator's CPU seconds, and the delay from each job's end (as the
scheduler recorded it) to its trigger event: median, p95 and max.

    .venv/bin/python -m benchmarks.trigger_load --backends armada --jobs 100,1000,5000 \
        --job-seconds 5,60 --poll-interval 5 --modes official,direct,polling,default
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil

from airflow_provider_batch.emulators import launch
from benchmarks.measured import RESULT_PREFIX
from benchmarks.workloads import WORKLOADS

MODES = ("official", "direct", "polling", "default")
ONLY_ARMADA = ("official", "polling")
LOGS = Path("test-artifacts") / "benchmarks"


def child_command(mode: str) -> tuple[list[str], dict[str, str] | None]:
    """The child process of a mode and its environment (None: this one's)."""
    if mode == "official":
        from benchmarks.official_venv import official_env, official_python

        return [str(official_python()), "-m", "benchmarks.official_reentry"], official_env()
    return [sys.executable, "-m", "benchmarks.our_triggers", mode], None


def wait_ready(stdout: Any) -> bool:
    """Whether the child said READY (Airflow may print other lines to stdout first)."""
    return any(line.strip() == "READY" for line in stdout)  # stops reading at READY


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure(
    backend: str, mode: str, n: int, seconds: tuple[float, float], poll_interval: float, simulate: bool
) -> dict[str, Any]:
    workload = WORKLOADS[backend]
    args = ["--only", workload.emulator, *workload.emulator_flags, "--admin-port", "0", "--step-ms", "50"]
    args += ["--max-running", str(n), "--log-level", "WARNING", *(["--simulate-jobs"] if simulate else [])]
    LOGS.mkdir(parents=True, exist_ok=True)
    with launch(args, timeout=60) as emulators:
        ready = emulators[workload.emulator]
        workload.connect(ready)  # sets AIRFLOW_CONN_BENCH, which the child inherits
        command, env = child_command(mode)
        with open(LOGS / f"{backend}-{mode}-{n}.log", "wb") as log:
            child = subprocess.Popen(
                command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, env=env, text=True
            )
            assert child.stdin is not None and child.stdout is not None
            if not wait_ready(child.stdout):
                raise RuntimeError(f"the {mode} child did not start: see {log.name}")
            rng = random.Random(n)
            jobs = workload.submit(ready, [rng.uniform(*seconds) for _ in range(n)])
            emulators.reset_stats()
            emulator_process = psutil.Process(emulators.process.pid)
            emulator_cpu = sum(emulator_process.cpu_times()[:2])
            request = {"jobs": [job.to_json() for job in jobs], "poll_interval": poll_interval}
            request |= {"target": ready.get("target", ""), "token": ready.get("token", "")}
            child.stdin.write(json.dumps(request) + "\n")
            child.stdin.flush()
            lines = [line for line in child.stdout if line.startswith(RESULT_PREFIX)]
            if child.wait() != 0 or not lines:
                raise RuntimeError(f"the {mode} child failed (exit {child.returncode}): see {log.name}")
        result = json.loads(lines[-1][len(RESULT_PREFIX) :])
        emulator_cpu = sum(emulator_process.cpu_times()[:2]) - emulator_cpu
        calls = emulators.stats()[workload.emulator]
        ended = workload.ended_at(ready, jobs)
    received: dict[str, float] = result["received"]
    delays = [received[job_id] - at for job_id, at in ended.items() if job_id in received]
    status_calls = sum(calls.get(route, 0) for route in workload.status_routes)
    wall = float(result["wall_s"])
    return {
        "backend": backend,
        "mode": mode,
        "jobs": n,
        "seen": len(received),
        "wall_s": wall,
        "status_calls_per_interval": status_calls / (wall / poll_interval),
        "other_calls": sum(calls.values()) - status_calls,
        "cpu_s": result["cpu_s"],
        "cpu_cores": result["cpu_s"] / wall,
        "peak_rss_mb": result["peak_extra_rss_mb"],
        "emulator_cpu_s": emulator_cpu,
        "delay_median_s": statistics.median(delays) if delays else float("nan"),
        "delay_p95_s": percentile(delays, 0.95),
        "delay_max_s": max(delays) if delays else float("nan"),
    }


HEADER = (
    "| backend | mode | jobs | status calls / interval | other calls | CPU s | CPU cores | peak extra RSS MB "
    "| emulator CPU s | end-to-event median s | p95 s | max s |"
)


def row(r: dict[str, Any]) -> str:
    return (
        f"| {r['backend']} | {r['mode']} | {r['jobs']} | {r['status_calls_per_interval']:.1f} | {r['other_calls']} "
        f"| {r['cpu_s']:.1f} | {r['cpu_cores']:.3f} | {r['peak_rss_mb']:.0f} | {r['emulator_cpu_s']:.1f} "
        f"| {r['delay_median_s']:.2f} | {r['delay_p95_s']:.2f} | {r['delay_max_s']:.2f} |"
    )


def ratios(rows: list[dict[str, Any]]) -> list[str]:
    """Calls and CPU of each polling mode over the default's, per backend and N."""
    by = {(r["backend"], r["mode"], r["jobs"]): r for r in rows}
    lines = []
    for backend, n in sorted({(r["backend"], r["jobs"]) for r in rows}):
        base = by.get((backend, "default", n))
        if base is None:
            continue
        for other in ("official", "direct", "polling"):
            polled = by.get((backend, other, n))
            if polled is None:
                continue
            calls = polled["status_calls_per_interval"] / max(base["status_calls_per_interval"], 1e-9)
            cpu = polled["cpu_s"] / base["cpu_s"] if base["cpu_s"] else float("nan")
            lines.append(
                f"{backend}, {n} jobs: {other} makes {calls:.0f}x the default's status calls and uses {cpu:.1f}x "
                f"its CPU; end-to-event median {polled['delay_median_s']:.2f} s against {base['delay_median_s']:.2f} s"
            )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backends", default="armada", help=f"comma-separated, of {','.join(WORKLOADS)}")
    parser.add_argument("--jobs", default="100,1000", help="comma-separated job counts")
    parser.add_argument("--job-seconds", default="5,60", help="min,max seconds each job runs")
    parser.add_argument("--poll-interval", type=float, default=5.0)
    parser.add_argument("--modes", default="direct,default", help=f"comma-separated, of {','.join(MODES)}")
    parser.add_argument("--processes", action="store_true", help="emulators run a process per job (no --simulate-jobs)")
    parser.add_argument("--json", default="", help="also write the rows to this JSON file")
    args = parser.parse_args()
    low, high = (float(x) for x in args.job_seconds.split(","))
    modes = [m for m in args.modes.split(",") if m]
    unknown = sorted(set(modes) - set(MODES))
    if unknown:
        parser.error(f"unknown modes {unknown}; known: {', '.join(MODES)}")
    print(HEADER)
    print("|---" * (HEADER.count("|") - 1) + "|", flush=True)
    rows = []
    for backend in args.backends.split(","):
        for n in (int(x) for x in args.jobs.split(",")):
            for mode in modes:
                if backend != "armada" and mode in ONLY_ARMADA:
                    continue
                started = time.monotonic()
                rows.append(measure(backend, mode, n, (low, high), args.poll_interval, not args.processes))
                print(row(rows[-1]), flush=True)
                print(f"  ({time.monotonic() - started:.0f} s)", file=sys.stderr, flush=True)
    for line in ratios(rows):
        print(line)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
