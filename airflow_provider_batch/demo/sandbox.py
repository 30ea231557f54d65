"""A private Airflow home and the `airflow` commands run in it, each bounded by a timeout.

Nothing is written outside the folders given: AIRFLOW_HOME (SQLite metadata DB, airflow.cfg, logs) and TMPDIR
point into them, and no AIRFLOW_* variable of the calling environment leaks in. This module never imports Airflow
itself (importing Airflow creates an AIRFLOW_HOME, by default ~/airflow); Airflow runs in child processes only.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

STATE_PREFIX = "AIRFLOW_STATE "


@dataclass(frozen=True)
class CommandResult:
    """How one command ended: its exit code (None when it was killed at the timeout) and merged output."""

    args: list[str]
    returncode: int | None
    output: str
    seconds: float

    @property
    def timed_out(self) -> bool:
        return self.returncode is None

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.output.splitlines()[-lines:])


@dataclass
class AirflowSandbox:
    """An Airflow home for `airflow db migrate` and `airflow dags test`.

    connections: conn_id -> the connection in Airflow's JSON form, passed as AIRFLOW_CONN_<CONN_ID>.
    bin_dir: the folder of the `airflow` and `python` to use (default: this interpreter's); put first on PATH.
    """

    home: Path
    dags_folder: Path
    tmp: Path
    connections: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    bin_dir: Path = field(default_factory=lambda: Path(sys.executable).parent)
    extra_env: Mapping[str, str] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW")}
        env.update(
            AIRFLOW_HOME=str(self.home),
            AIRFLOW__CORE__DAGS_FOLDER=str(self.dags_folder),
            AIRFLOW__CORE__LOAD_EXAMPLES="False",
            PATH=f"{self.bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
            TMPDIR=str(self.tmp),
        )
        for conn_id, conn in self.connections.items():
            env[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps(dict(conn))
        env.update(self.extra_env)
        return env

    def run(self, args: Sequence[str], timeout: float, log_path: Path | None = None) -> CommandResult:
        """Run a command in the sandbox; on timeout, kill its whole process group."""
        self.home.mkdir(parents=True, exist_ok=True)
        self.tmp.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        process = subprocess.Popen(
            list(args),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=self.env(),
            cwd=self.home,
            start_new_session=True,
        )
        try:
            raw, _ = process.communicate(timeout=timeout)
            returncode: int | None = process.returncode
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            raw, _ = process.communicate()
            returncode = None
        output = raw.decode("utf-8", errors="replace")
        if log_path is not None:
            log_path.parent.mkdir(parents=True, exist_ok=True)
            log_path.write_text(output, encoding="utf-8")
        return CommandResult(list(args), returncode, output, time.monotonic() - started)

    @property
    def airflow(self) -> str:
        return str(self.bin_dir / "airflow")

    @property
    def python(self) -> str:
        return str(self.bin_dir / "python")

    def migrate(self, timeout: float = 180.0) -> CommandResult:
        result = self.run([self.airflow, "db", "migrate"], timeout)
        if not result.ok:
            raise RuntimeError(f"airflow db migrate failed ({result.returncode}):\n{result.tail()}")
        return result

    def dags_test(self, dag_id: str, timeout: float = 300.0, log_path: Path | None = None) -> CommandResult:
        """`airflow dags test <dag_id>`: one run of the DAG in this process, deferred tasks' triggers inline.
        Its exit code is non-zero when the run failed; the task logs are in its output."""
        return self.run([self.airflow, "dags", "test", dag_id], timeout, log_path)

    def read_state(self, dag_ids: Sequence[str], timeout: float = 120.0) -> dict[str, Any]:
        """The latest run of each DAG, its task tries and job XComs, read from the metadata DB by a child process
        (see `airflow_state`)."""
        result = self.run([self.python, "-m", "airflow_provider_batch.demo.airflow_state", *dag_ids], timeout)
        for line in result.output.splitlines():
            if line.startswith(STATE_PREFIX):
                state: dict[str, Any] = json.loads(line[len(STATE_PREFIX) :])
                return state
        raise RuntimeError(f"could not read the Airflow state ({result.returncode}):\n{result.tail()}")
