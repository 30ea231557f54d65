"""Start the standalone job service as its users do (the command line), for the wire tests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from typing import Any

from airflow_provider_batch.clients.jobservice import JobServiceClient
from airflow_provider_batch.common.channel import CallCredentials, GrpcChannelArguments

TOKEN = "service-token"


class Service:
    def __init__(
        self,
        store: str,
        emulator: Any,
        port: int = 0,
        env_extra: dict[str, str] | None = None,
        args: list[str] | None = None,
        stderr: Any = None,
    ) -> None:
        env = dict(os.environ)
        env["AIRFLOW_CONN_ARMADA_DEFAULT"] = json.dumps(
            {"conn_type": "armada", "host": emulator.target, "password": emulator.token}
        )
        env.update(env_extra or {})
        command = [sys.executable, "-m", "airflow_provider_batch.jobservice", "serve", "--port", str(port)]
        self.process = subprocess.Popen(
            [*command, "--store", store, "--token", TOKEN, "--log-level", "WARNING", *(args or [])],
            stdout=subprocess.PIPE,
            stderr=stderr,
            env=env,
            text=True,
        )
        line = self.process.stdout.readline()
        assert line.startswith("READY "), f"job service did not start: {line!r}"
        self.target = json.loads(line[6:])["target"]

    def client(self, token: str = TOKEN) -> JobServiceClient:
        return JobServiceClient(GrpcChannelArguments(self.target).channel(CallCredentials.bearer(token)), timeout=20)

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=20)


def pod(script):
    quantities = {"cpu": "100m", "memory": "64Mi"}
    spec = {
        "name": "main",
        "command": ["sh", "-c", script],
        "resources": {"requests": quantities, "limits": quantities},
    }
    return {"containers": [spec]}


def submit(armada, queue, job_set, script) -> str:
    item = armada.create_job_request_item(pod_spec=pod(script), namespace="default")
    return armada.submit_jobs(queue, job_set, [item]).job_response_items[0].job_id


def wait_for(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("condition not met in time")
