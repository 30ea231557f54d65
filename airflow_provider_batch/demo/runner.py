"""`python -m airflow_provider_batch.demo` (`make demo`): the example DAGs against the local emulators.

Each scheduler's part (its example DAGs, its connection, what it prepares, how it finds a run's jobs) is a module
`airflow_provider_batch.demo.<backend>` (see `demo/backend.py`); this runner does the rest, for all of them:

1. Start the emulators the chosen DAGs need (`launch`) and let each backend prepare (Armada: the queue `demo`).
2. Make a fresh Airflow home under `<repo>/.demo/airflow_home` (SQLite), `airflow db migrate` it; the connections
   (`armada_default`, ...) to the emulators are passed as AIRFLOW_CONN_* variables.
3. `airflow dags test <dag_id>` for each example; their full output (the task logs) goes to `.demo/logs/`.
4. Read each run's task tries and job XComs from the Airflow DB, and each run's jobs, states and log lines from the
   scheduler; print them, then a summary table. Exit 1 when a run did not end as expected, a try has no job or
   more than one, or the mapped DAG did not retry.

Everything it writes is under `<repo>/.demo` (TMPDIR too).
"""

from __future__ import annotations

import argparse
import importlib
import os
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from airflow_provider_batch.demo.backend import DemoBackend, Expected
from airflow_provider_batch.demo.jobs import JobReport
from airflow_provider_batch.demo.sandbox import AirflowSandbox, CommandResult
from airflow_provider_batch.emulators import launch

BACKENDS = ("armada", "qarnot", "apolo")  # modules airflow_provider_batch.demo.<name>, in the order their DAGs run


def backends() -> dict[str, DemoBackend]:
    return {name: importlib.import_module(f"airflow_provider_batch.demo.{name}") for name in BACKENDS}


def examples(loaded: dict[str, DemoBackend]) -> dict[str, tuple[str, Expected]]:
    """Every example DAG id -> (its backend, how its run should end)."""
    return {
        dag_id: (name, expected) for name, backend in loaded.items() for dag_id, expected in backend.EXAMPLES.items()
    }


def repo_root() -> Path:
    """The checkout this package runs from (the demo needs its dags_examples/)."""
    root = Path(__file__).resolve().parents[2]
    if not (root / "dags_examples").is_dir():
        raise SystemExit(f"no dags_examples/ beside the package at {root}: run the demo from a checkout of the repo")
    return root


def emulator_args(used: dict[str, DemoBackend]) -> list[str]:
    """The emulators' command line: each backend's emulator on a free port, with the flags it needs."""
    names = [backend.EMULATOR for backend in used.values()]
    ports = [arg for backend in used.values() for arg in (f"--{backend.EMULATOR}-port", "0", *backend.EMULATOR_FLAGS)]
    return ["--only", ",".join(names), *ports, "--admin-port", "0", "--step-ms", "20"]


def problems(dag_id: str, run: dict[str, Any] | None, jobs: list[JobReport], expected: Expected) -> list[str]:
    """What is wrong with a finished run: its state, and one job per task try (none missing, none twice)."""
    if run is None:
        return [f"{dag_id}: no run found"]
    found = []
    if run["state"] != expected.run_state:
        found.append(f"{dag_id}: run ended {run['state']}, expected {expected.run_state}")
    if len(run["tasks"]) != expected.tasks:
        found.append(f"{dag_id}: {len(run['tasks'])} task instances, expected {expected.tasks}")
    by_try: dict[tuple[str, int, int], list[JobReport]] = {}
    for job in jobs:
        by_try.setdefault((job.task_id, job.map_index, job.try_number), []).append(job)
    tries_seen = set()
    for task in run["tasks"]:
        name = task_name(task)
        for attempt in task["tries"]:
            key = (task["task_id"], task["map_index"], attempt["try_number"])
            tries_seen.add(key)
            submitted = by_try.get(key, [])
            if len(submitted) != 1:
                found.append(f"{dag_id}.{name} try {key[2]}: {len(submitted)} jobs submitted, expected 1")
        last = by_try.get((task["task_id"], task["map_index"], task["try_number"]), [])
        if task["state"] == "success" and (not last or last[0].state != "SUCCEEDED"):
            found.append(f"{dag_id}.{name}: the task succeeded but its last job did not")
        if task["state"] == "success" and last and (task.get("job") or {}).get("job_id") != last[0].job_id:
            found.append(f"{dag_id}.{name}: the batch_job XCom does not name the job of the last try")
    for key in by_try.keys() - tries_seen:
        found.append(f"{dag_id}: job(s) {[job.job_id for job in by_try[key]]} belong to no task try {key}")
    if expected.retried and not any(task["try_number"] > 1 for task in run["tasks"]):
        found.append(f"{dag_id}: no task was retried")
    return found


def task_name(task: dict[str, Any]) -> str:
    return task["task_id"] + (f"[{task['map_index']}]" if task["map_index"] >= 0 else "")


def print_jobs(dag_id: str, run: dict[str, Any] | None, jobs: list[JobReport]) -> None:
    print(f"\n=== {dag_id}" + (f"  run {run['run_id']}: {run['state']}" if run else ": no run"))
    if run is None:
        return
    airflow_states = {
        (task["task_id"], task["map_index"], attempt["try_number"]): attempt["state"]
        for task in run["tasks"]
        for attempt in task["tries"]
    }
    for job in sorted(jobs, key=lambda job: (job.task_id, job.map_index, job.try_number)):
        name = job.task_id + (f"[{job.map_index}]" if job.map_index >= 0 else "")
        ti_state = airflow_states.get((job.task_id, job.map_index, job.try_number), "?")
        reason = f"  ({job.reason})" if job.reason else ""
        print(f"  {name:<12} try {job.try_number}  job {job.job_id}  {job.state:<9}  task try {ti_state}{reason}")
        for line in job.log_lines:
            print(f"      | {line}")


def print_summary(rows: list[list[str]]) -> None:
    header = ["DAG", "dags test", "run", "tasks", "tries", "jobs", "retried", "seconds", "verdict"]
    table = [header, *rows]
    widths = [max(len(row[column]) for row in table) for column in range(len(header))]
    rule = "-+-".join("-" * width for width in widths)
    print("\n" + " | ".join(cell.ljust(width) for cell, width in zip(header, widths, strict=True)))
    print(rule)
    for row in rows:
        print(" | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))


def summary_row(
    dag_id: str, result: CommandResult, run: dict[str, Any] | None, jobs: list[JobReport], issues: list[str]
) -> list[str]:
    tasks = run["tasks"] if run else []
    tries = sum(len(task["tries"]) for task in tasks)
    retried = sum(1 for task in tasks if task["try_number"] > 1)
    exit_text = "timeout" if result.timed_out else f"exit {result.returncode}"
    verdict = "OK" if not issues else "UNEXPECTED"
    state = run["state"] if run else "-"
    counts = [str(len(tasks)), str(tries), str(len(jobs)), str(retried)]
    return [dag_id, exit_text, state, *counts, f"{result.seconds:.1f}", verdict]


def parse_args(argv: Sequence[str] | None, known: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m airflow_provider_batch.demo", description=__doc__.split("\n")[0])
    parser.add_argument("dags", nargs="*", default=list(known), help=f"DAG ids (default: {' '.join(known)})")
    parser.add_argument("--timeout", type=float, default=480.0, help="seconds each `airflow dags test` may take")
    parser.add_argument("--no-logs", action="store_true", help="do not print the jobs' log lines")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    loaded = backends()
    known = examples(loaded)
    args = parse_args(argv, list(known))
    unknown = [dag_id for dag_id in args.dags if dag_id not in known]
    if unknown:
        print(f"unknown example DAG(s): {', '.join(unknown)}; known: {', '.join(known)}", file=sys.stderr)
        return 2
    used = {name: loaded[name] for name in loaded if any(known[dag_id][0] == name for dag_id in args.dags)}
    started = time.monotonic()
    root = repo_root()
    work = root / ".demo"
    home, tmp, logs = work / "airflow_home", work / "tmp", work / "logs"
    for folder in (home, tmp, logs):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
    emulator_env = {**os.environ, "TMPDIR": str(tmp)}  # the emulators run each job in a folder under TMPDIR
    flags = emulator_args(used)
    print(f"Starting the emulators ({', '.join(used)}) ...", flush=True)
    with launch(flags, env=emulator_env, log_path=str(work / "emulators.log")) as emulators:
        connections = {}
        for name, backend in used.items():
            ready = emulators[backend.EMULATOR]
            backend.prepare(ready, work)
            connections[backend.CONN_ID] = backend.connection(ready)
            print(f"  {name} emulator ready; connection {backend.CONN_ID!r}", flush=True)
        sandbox = AirflowSandbox(home, root / "dags_examples", tmp, connections)
        migrated = sandbox.migrate()
        print(f"  Airflow home {home.relative_to(root)}; airflow db migrate: {migrated.seconds:.1f} s", flush=True)
        results: dict[str, CommandResult] = {}
        for dag_id in args.dags:
            print(f"airflow dags test {dag_id} ...", end=" ", flush=True)
            results[dag_id] = sandbox.dags_test(dag_id, args.timeout, logs / f"{dag_id}.log")
            result = results[dag_id]
            print(f"{'timed out' if result.timed_out else f'exit {result.returncode}'} in {result.seconds:.1f} s")
        state = sandbox.read_state(args.dags)
        rows, all_issues = [], []
        for dag_id in args.dags:
            name, expected = known[dag_id]
            backend = used[name]
            run = state.get(dag_id)
            jobs = backend.jobs_of(emulators[backend.EMULATOR], dag_id, run, not args.no_logs) if run else []
            issues = problems(dag_id, run, jobs, expected)
            if results[dag_id].timed_out:
                issues.append(f"{dag_id}: airflow dags test did not finish within {args.timeout:.0f} s")
            print_jobs(dag_id, run, jobs)
            rows.append(summary_row(dag_id, results[dag_id], run, jobs, issues))
            all_issues += issues
        calls = emulators.stats()
    print_summary(rows)
    print("\nScheduler calls the emulators answered:")
    for name in used:
        counts = calls.get(name, {})
        busiest = ", ".join(f"{count} {method}" for method, count in sorted(counts.items(), key=lambda kv: -kv[1])[:4])
        print(f"  {name}: {sum(counts.values())} in all ({busiest})")
    print(f"Task logs (airflow dags test output): {logs.relative_to(root)}/<dag_id>.log")
    print(f"Total {time.monotonic() - started:.0f} s")
    if all_issues:
        print("\nUnexpected:\n" + "\n".join(f"  - {issue}" for issue in all_issues))
        return 1
    print("Every run ended as expected, with exactly one job per task try.")
    return 0
