"""What the demo needs from each scheduler: its example DAGs, its connection to the emulator and its jobs.

The demo's own process must not import Airflow (it would create an Airflow home outside the sandbox), so a backend's
demo module reads the scheduler through its wire client only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from airflow_provider_batch.demo.jobs import JobReport


@dataclass(frozen=True)
class Expected:
    """How an example DAG's run should end."""

    run_state: str = "success"
    tasks: int = 1
    retried: bool = False  # some task needed a second try


class DemoBackend(Protocol):
    """A module `airflow_provider_batch.demo.<backend>` provides these names."""

    EMULATOR: str  # the emulator's name in `--only` and in the READY line
    EMULATOR_FLAGS: tuple[str, ...]  # more flags the emulator needs besides --<name>-port 0 (Qarnot: its S3 port)
    CONN_ID: str  # the connection id the example DAGs use
    EXAMPLES: dict[str, Expected]  # example DAG id -> how its run should end

    def connection(self, ready: dict[str, Any]) -> dict[str, Any]:
        """The Airflow connection (JSON form) to the emulator, from its READY entry."""

    def prepare(self, ready: dict[str, Any], work: Path) -> None:
        """Anything the example DAGs expect to exist on the scheduler before they run (queues, input buckets)."""

    def jobs_of(self, ready: dict[str, Any], dag_id: str, run: dict[str, Any], logs: bool) -> list[JobReport]:
        """Every job the run's tasks submitted, as the scheduler saw them (state "SUCCEEDED" for a success)."""
