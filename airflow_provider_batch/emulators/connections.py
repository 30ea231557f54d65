"""Airflow connections to running emulators, built from their READY entries, and the two ways to hand them to
Airflow: `AIRFLOW_CONN_<ID>` environment variables and `airflow connections add <id> --conn-json '...'`.

The demo (`airflow_provider_batch.demo`), the tests and `python -m airflow_provider_batch.emulators connections`
all build them here. No Airflow import: the emulators and the demo's own process must not import it.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable, Mapping
from typing import Any

# The connection ids the hooks use by default (hooks/*: default_conn_name), so a DAG that names none finds these.
ARMADA_CONN_ID = "armada_default"
QARNOT_CONN_ID = "qarnot_default"
APOLO_CONN_ID = "apolo_default"
FORMATS = ("env", "cli", "json")


def armada_connection(entry: Mapping[str, Any], default_queue: str | None = None) -> dict[str, Any]:
    """The `armada` connection to the Armada emulator, in Airflow's JSON form.

    default_queue: the queue a task that names none submits to; by default the first queue the emulator was
    started with (`--armada-queue`), or none.
    """
    queues = list(entry.get("queues") or [])
    queue = default_queue if default_queue is not None else (queues[0] if queues else None)
    connection: dict[str, Any] = {"conn_type": "armada", "host": entry["target"], "password": entry["token"]}
    if queue:
        connection["extra"] = {"default_queue": queue}
    return connection


def qarnot_connection(entry: Mapping[str, Any]) -> dict[str, Any]:
    """The `qarnot` connection to the Qarnot emulator (its S3 storage URL in the extras)."""
    extra: dict[str, Any] = {"timeout": 10}
    if entry.get("storage_url"):
        extra["storage_url"] = entry["storage_url"]
    return {"conn_type": "qarnot", "host": entry["url"], "password": entry["token"], "extra": extra}


def apolo_connection(entry: Mapping[str, Any]) -> dict[str, Any]:
    """The `apolo` connection to the Apolo emulator: the passed-config blob (token, cluster, org, project) as the
    password, as a service account's token would be given."""
    return {"conn_type": "apolo", "host": entry["url"], "password": entry["passed_config"], "extra": {"timeout": 10}}


BUILDERS: dict[str, tuple[str, Callable[[Mapping[str, Any]], dict[str, Any]]]] = {
    "armada": (ARMADA_CONN_ID, armada_connection),
    "qarnot": (QARNOT_CONN_ID, qarnot_connection),
    "apolo": (APOLO_CONN_ID, apolo_connection),
}


def connections(ready: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """conn_id -> connection (JSON form) for every scheduler emulator in a READY line's JSON."""
    return {conn_id: build(ready[name]) for name, (conn_id, build) in BUILDERS.items() if name in ready}


def env_var(conn_id: str) -> str:
    """The environment variable Airflow reads a connection from: AIRFLOW_CONN_ and the id in upper case."""
    return "AIRFLOW_CONN_" + conn_id.upper()


def env_lines(conns: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """`export AIRFLOW_CONN_<ID>='<json>'` lines a POSIX shell can `eval`."""
    return [f"export {env_var(conn_id)}={shlex.quote(json.dumps(conn))}" for conn_id, conn in conns.items()]


def cli_lines(conns: Mapping[str, Mapping[str, Any]], airflow: str = "airflow") -> list[str]:
    """`airflow connections add <id> --conn-json '<json>'` lines (they store the connection in Airflow's DB)."""
    return [
        f"{airflow} connections add {shlex.quote(conn_id)} --conn-json {shlex.quote(json.dumps(conn))}"
        for conn_id, conn in conns.items()
    ]


def render(conns: Mapping[str, Mapping[str, Any]], form: str) -> str:
    """The connections as text in one of FORMATS (`env`, `cli`, `json`), one line each (json: one document)."""
    if form == "env":
        return "\n".join(env_lines(conns))
    if form == "cli":
        return "\n".join(cli_lines(conns))
    if form == "json":
        return json.dumps(dict(conns))
    raise ValueError(f"unknown connections format {form!r}: use one of {', '.join(FORMATS)}")
