"""A real `airflow standalone` (api-server, scheduler, dag-processor, triggerer) against the Armada emulator.

Proves what `airflow dags test` cannot: a deferrable task is really deferred and its trigger runs in the triggerer;
the triggerer killed and restarted mid-job still ends the task with one job submitted; a deferred task marked failed
cancels its job (the trigger's on_kill); a worker killed mid-job retries and reattaches instead of submitting again.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
import requests

from airflow_provider_batch.clients.armada import ArmadaClient, EventType, JobState
from airflow_provider_batch.common.channel import CallCredentials, GrpcChannelArguments

pytestmark = [pytest.mark.slow, pytest.mark.wire]
VENV_BIN = str(Path(sys.executable).parent)

DAGS = """
from datetime import timedelta
from airflow.sdk import DAG
from airflow_provider_batch.operators.armada import ArmadaOperator

def pod(script):
    q = {"cpu": "100m", "memory": "64Mi"}
    return {"containers": [{"name": "main", "command": ["sh", "-c", script],
                            "resources": {"requests": q, "limits": q}}]}

def one(dag_id, script, **kwargs):
    with DAG(dag_id, schedule=None, catchup=False) as dag:
        ArmadaOperator(task_id="job", job_request=pod(script), queue="QUEUE", poll_interval=1,
                       job_set_id=dag_id + "-{{ run_id }}", **kwargs)
    return dag

sa_deferred = one("sa_deferred", "echo deferred; sleep 8", deferrable=True)
sa_restart = one("sa_restart", "sleep 40; echo survived", deferrable=True)
sa_markfail = one("sa_markfail", "sleep 120", deferrable=True)
sa_worker_kill = one("sa_worker_kill", "sleep 15; echo reattached", deferrable=False,
                     retries=1, retry_delay=timedelta(seconds=2))
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(what: str, predicate: Callable[[], Any], timeout: float, every: float = 1.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}")


class Standalone:
    def __init__(self, home: Path, env: dict[str, str], port: int) -> None:
        self.home, self.env, self.base = home, env, f"http://127.0.0.1:{port}"
        self.log = open(home / "standalone.log", "wb")  # noqa: SIM115
        self.process = subprocess.Popen(
            [f"{VENV_BIN}/airflow", "standalone"], env=env, stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        self.extra: list[subprocess.Popen[bytes]] = []
        wait_for("airflow standalone to be healthy", self._healthy, timeout=180, every=2)
        password = json.loads((home / "simple_auth_manager_passwords.json.generated").read_text())["admin"]
        token = requests.post(f"{self.base}/auth/token", json={"username": "admin", "password": password}, timeout=10)
        self.headers = {"Authorization": f"Bearer {token.json()['access_token']}"}

    def _healthy(self) -> bool:
        assert self.process.poll() is None, (self.home / "standalone.log").read_text()[-3000:]
        try:
            health = requests.get(f"{self.base}/api/v2/monitor/health", timeout=5).json()
        except (requests.RequestException, ValueError):
            return False
        parts = ("metadatabase", "scheduler", "triggerer", "dag_processor")
        return all((health.get(p) or {}).get("status") == "healthy" for p in parts)

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        response = requests.request(method, f"{self.base}/api/v2{path}", headers=self.headers, timeout=15, **kwargs)
        assert response.ok, f"{method} {path}: {response.status_code} {response.text}"
        return response.json()

    def trigger(self, dag_id: str) -> str:
        wait_for(f"{dag_id} to be parsed", lambda: self._dag_known(dag_id), timeout=120, every=2)
        self.api("PATCH", f"/dags/{dag_id}", json={"is_paused": False})
        return str(self.api("POST", f"/dags/{dag_id}/dagRuns", json={"logical_date": None})["dag_run_id"])

    def _dag_known(self, dag_id: str) -> bool:
        response = requests.get(f"{self.base}/api/v2/dags/{dag_id}", headers=self.headers, timeout=10)
        return response.ok

    def task(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return dict(self.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/job"))

    def run_state(self, dag_id: str, run_id: str) -> str:
        return str(self.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}")["state"])

    def stop(self) -> None:
        for process in [self.process, *self.extra]:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in [self.process, *self.extra]:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        self.log.close()


@pytest.fixture(scope="module")
def stack(tmp_path_factory, armada_emulator) -> Iterator[tuple[Standalone, ArmadaClient]]:
    home = tmp_path_factory.mktemp("airflow_home")
    dags = home / "dags"
    dags.mkdir()
    channel = GrpcChannelArguments(armada_emulator.target).channel(CallCredentials.bearer(armada_emulator.token))
    armada = ArmadaClient(channel)
    armada.create_queue(armada.create_queue_request("standalone"))
    (dags / "standalone_dags.py").write_text(textwrap.dedent(DAGS).replace("QUEUE", "standalone"))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update(
        {
            "PATH": f"{VENV_BIN}:{env.get('PATH', '')}",
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "20",
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
            "AIRFLOW__CORE__PARALLELISM": "8",
            "AIRFLOW_CONN_ARMADA_DEFAULT": json.dumps(
                {"conn_type": "armada", "host": armada_emulator.target, "password": armada_emulator.token}
            ),
        }
    )
    standalone = Standalone(home, env, port)
    try:
        yield standalone, armada
    finally:
        standalone.stop()
        channel.close()


def jobs_of(armada: ArmadaClient, job_set: str) -> dict[str, list[EventType]]:
    stream = armada.get_job_events_stream("standalone", job_set, watch=False)
    seen: dict[str, list[EventType]] = {}
    for message in stream:
        event = armada.unmarshal_event_response(message)
        seen.setdefault(event.job_id, []).append(event.type)
    return seen


def processes(*words: str) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["cmdline"]):
        line = " ".join(process.info["cmdline"] or [])
        if all(word in line for word in words):
            found.append(process)
    return found


def test_deferral_triggerer_restart_mark_failed_and_worker_kill(stack):
    standalone, armada = stack
    runs = {dag: standalone.trigger(dag) for dag in ("sa_deferred", "sa_restart", "sa_markfail", "sa_worker_kill")}

    def deferred(dag: str) -> bool:
        return standalone.task(dag, runs[dag])["state"] == "deferred"

    # a) really deferred, and its trigger runs in the triggerer
    wait_for("sa_deferred to defer", lambda: deferred("sa_deferred"), timeout=120)

    # c) a deferred task marked failed cancels its job
    wait_for("sa_markfail to defer", lambda: deferred("sa_markfail"), timeout=120)
    run_id = runs["sa_markfail"]
    standalone.api("PATCH", f"/dags/sa_markfail/dagRuns/{run_id}/taskInstances/job", json={"new_state": "failed"})

    markfail_jobs = jobs_of(armada, f"sa_markfail-{run_id}")
    assert len(markfail_jobs) == 1
    wait_for(
        "sa_markfail's job to be cancelled",
        lambda: JobState.CANCELLED in [
            JobState(s) for s in armada.get_job_status(list(markfail_jobs)).job_states.values()],
        timeout=60,
    )  # fmt: skip

    # b) the triggerer is killed while sa_restart's job runs (after c: a trigger's on_kill needs a live triggerer)
    wait_for("sa_restart to defer", lambda: deferred("sa_restart"), timeout=120)
    restart_job_set = f"sa_restart-{runs['sa_restart']}"
    assert not any(EventType.succeeded in e for e in jobs_of(armada, restart_job_set).values()), "ended too soon"
    for process in processes("airflow", "triggerer"):
        process.kill()
    time.sleep(3)
    if not processes("airflow", "triggerer"):
        standalone.extra.append(
            subprocess.Popen([f"{VENV_BIN}/airflow", "triggerer"], env=standalone.env, stdout=standalone.log,
                             stderr=subprocess.STDOUT, start_new_session=True)
        )  # fmt: skip

    # d) the worker running sa_worker_kill's blocking wait is killed mid-job
    job_set = f"sa_worker_kill-{runs['sa_worker_kill']}"
    wait_for("sa_worker_kill's job to run", lambda: any(
        EventType.running in events for events in jobs_of(armada, job_set).values()), timeout=120)  # fmt: skip
    ti_id = standalone.task("sa_worker_kill", runs["sa_worker_kill"])["id"]
    victims = processes("airflow worker", ti_id)  # the worker and its task process name themselves by the TI's id
    assert victims, f"found no worker process for task instance {ti_id}"
    for process in victims:
        process.kill()

    def finished(dag: str) -> str:
        state = standalone.run_state(dag, runs[dag])
        return state if state in ("success", "failed") else ""

    assert wait_for("sa_deferred to end", lambda: finished("sa_deferred"), timeout=120) == "success"
    assert wait_for("sa_restart to end", lambda: finished("sa_restart"), timeout=180) == "success"
    assert list(jobs_of(armada, f"sa_restart-{runs['sa_restart']}")) and len(
        jobs_of(armada, f"sa_restart-{runs['sa_restart']}")) == 1  # fmt: skip

    assert wait_for("sa_worker_kill to end", lambda: finished("sa_worker_kill"), timeout=240) == "success"
    task = standalone.task("sa_worker_kill", runs["sa_worker_kill"])
    assert task["try_number"] >= 2, f"the killed worker's task was not retried: {task}"
    assert len(jobs_of(armada, job_set)) == 1, "the retry submitted a second job instead of reattaching"
