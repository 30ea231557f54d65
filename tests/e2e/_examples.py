"""A backend's example DAGs through `airflow dags test`: one emulator and one migrated Airflow home per test module
(`example_world`), each DAG run once (`run_examples`), the outcome seen from the Airflow DB, the scheduler and the
command's output. The backend is its demo module (`airflow_provider_batch.demo.<backend>`, see demo/backend.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from airflow_provider_batch.demo.backend import DemoBackend
from airflow_provider_batch.demo.jobs import JobReport
from airflow_provider_batch.demo.sandbox import AirflowSandbox, CommandResult
from airflow_provider_batch.emulators import LaunchedEmulators, launch

REPO = Path(__file__).resolve().parents[2]
DAGS_TEST_TIMEOUT = 240.0


@dataclass
class Outcome:
    result: CommandResult
    run: dict[str, Any]
    jobs: list[JobReport]


@dataclass
class World:
    emulators: LaunchedEmulators
    sandbox: AirflowSandbox
    ready: dict[str, Any]
    tmp: Path


@contextmanager
def example_world(demo: DemoBackend, base: Path) -> Iterator[World]:
    """The backend's emulator (jobs run under `base/tmp`), what its DAGs expect prepared, a migrated Airflow home."""
    tmp = base / "tmp"
    tmp.mkdir()
    port = f"--{demo.EMULATOR}-port"
    emulators = launch(
        ["--only", demo.EMULATOR, port, "0", *demo.EMULATOR_FLAGS, "--admin-port", "0", "--step-ms", "20"],
        env={**os.environ, "TMPDIR": str(tmp)},
        log_path=str(base / "emulators.log"),
    )
    try:
        ready = emulators[demo.EMULATOR]
        demo.prepare(ready, base)
        sandbox = AirflowSandbox(
            home=base / "airflow_home",
            dags_folder=REPO / "dags_examples",
            tmp=tmp,
            connections={demo.CONN_ID: demo.connection(ready)},
        )
        sandbox.migrate()
        yield World(emulators, sandbox, ready, tmp)
    finally:
        emulators.stop()


def run_examples(world: World, demo: DemoBackend) -> dict[str, Outcome]:
    """Each example DAG once, with the jobs each run submitted as the scheduler saw them."""
    world.emulators.reset_stats()
    results = {
        dag_id: world.sandbox.dags_test(dag_id, DAGS_TEST_TIMEOUT, world.sandbox.home / f"{dag_id}.out")
        for dag_id in demo.EXAMPLES
    }
    state = world.sandbox.read_state(list(demo.EXAMPLES))
    outcomes = {}
    for dag_id, result in results.items():
        run = state[dag_id]
        assert run is not None, f"{dag_id} left no run:\n{result.tail()}"
        outcomes[dag_id] = Outcome(result, run, demo.jobs_of(world.ready, dag_id, run, logs=True))
    return outcomes
