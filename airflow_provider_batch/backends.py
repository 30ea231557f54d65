"""The one table of backends: what each scheduler is called, its connection type and form, its hook, operator and
extra link, and what a job reference of it may carry. `get_provider_info`, the hooks' connection forms, the
trigger, the job-service cache and the standalone job service (jobservice/boundary.py) all read it.

No Airflow import and no hook import at module level: Airflow reads `get_provider_info` (which uses this table)
without importing hooks, and the job service checks requests against it before any hook exists.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_provider_batch import connection_fields as forms
from airflow_provider_batch.common.limits import MAX_DETAIL_LENGTH, MAX_JOB_SET_ID_LENGTH, MAX_QUEUE_LENGTH

if TYPE_CHECKING:
    from airflow_provider_batch.hooks.base import BatchHook


@dataclass(frozen=True)
class ConnectionType:
    """One Airflow connection type of this provider, as `get_provider_info` declares it.

    conn_type: its name in Airflow (`armada`); hook: the dotted path of its hook class; hook_name: what the
    connections form calls it; default_conn_name: the connection id a hook uses when a task names none;
    conn_fields / ui_field_behaviour: the form (Airflow 3.2+ reads them from `get_provider_info`, older versions from
    the hook's `get_connection_form_widgets` / `get_ui_field_behaviour`, which read these same dicts).
    """

    conn_type: str
    hook: str
    hook_name: str
    default_conn_name: str
    conn_fields: Mapping[str, Any]
    ui_field_behaviour: Mapping[str, Any]

    @property
    def hook_module(self) -> str:
        return self.hook.rpartition(".")[0]

    def provider_info(self) -> dict[str, Any]:
        """The `connection-types` entry of `get_provider_info`."""
        return {
            "connection-type": self.conn_type,
            "hook-class-name": self.hook,
            "hook-name": self.hook_name,
            "conn-fields": dict(self.conn_fields),
            "ui-field-behaviour": dict(self.ui_field_behaviour),
        }


@dataclass(frozen=True)
class Backend:
    """name: the backend's name in job references; also its Airflow connection type.
    connection: its connection type (hook class path, form fields).
    operator: the module of its operator; link: the dotted path of its extra link class.
    remote_details: the detail keys a job reference of this backend may carry to the standalone job service, each
        with its longest value; a key missing here (Armada's `channel`) keeps the job in the triggerer.
    """

    name: str
    connection: ConnectionType
    operator: str
    link: str
    remote_details: Mapping[str, int] = field(default_factory=dict)

    @property
    def hook(self) -> str:
        """The dotted path of the backend's hook class."""
        return self.connection.hook

    def hook_class(self) -> type[BatchHook[Any]]:
        module, _, name = self.hook.rpartition(".")
        hook_class: type[BatchHook[Any]] = getattr(importlib.import_module(module), name)
        return hook_class


BACKENDS: dict[str, Backend] = {
    backend.name: backend
    for backend in (
        Backend(
            "armada",
            ConnectionType(
                "armada",
                "airflow_provider_batch.hooks.armada.ArmadaHook",
                "Armada",
                "armada_default",
                forms.ARMADA_CONN_FIELDS,
                forms.ARMADA_UI_FIELD_BEHAVIOUR,
            ),
            "airflow_provider_batch.operators.armada",
            "airflow_provider_batch.links.armada.ArmadaLookoutLink",
            {"queue": MAX_QUEUE_LENGTH, "job_set_id": MAX_JOB_SET_ID_LENGTH},
        ),
        Backend(
            "qarnot",
            ConnectionType(
                "qarnot",
                "airflow_provider_batch.hooks.qarnot.QarnotHook",
                "Qarnot",
                "qarnot_default",
                forms.QARNOT_CONN_FIELDS,
                forms.QARNOT_UI_FIELD_BEHAVIOUR,
            ),
            "airflow_provider_batch.operators.qarnot",
            "airflow_provider_batch.links.qarnot.QarnotConsoleLink",
            {"tag": MAX_DETAIL_LENGTH, "name": MAX_DETAIL_LENGTH, "result_bucket": MAX_DETAIL_LENGTH},
        ),
        Backend(
            "apolo",
            ConnectionType(
                "apolo",
                "airflow_provider_batch.hooks.apolo.ApoloHook",
                "Apolo",
                "apolo_default",
                forms.APOLO_CONN_FIELDS,
                forms.APOLO_UI_FIELD_BEHAVIOUR,
            ),
            "airflow_provider_batch.operators.apolo",
            "airflow_provider_batch.links.apolo.ApoloJobLink",
            {"tag": MAX_DETAIL_LENGTH, "name": MAX_DETAIL_LENGTH, "created_at": 64},
        ),
    )
}

# Not a backend (no jobs of its own): the connection to a standalone job service, declared beside the backends.
JOBSERVICE_CONNECTION = ConnectionType(
    "batch_jobservice",
    "airflow_provider_batch.hooks.jobservice.JobServiceHook",
    "Batch job service",
    "batch_jobservice_default",
    forms.JOBSERVICE_CONN_FIELDS,
    forms.JOBSERVICE_UI_FIELD_BEHAVIOUR,
)
CONNECTION_TYPES: dict[str, ConnectionType] = {
    **{backend.connection.conn_type: backend.connection for backend in BACKENDS.values()},
    JOBSERVICE_CONNECTION.conn_type: JOBSERVICE_CONNECTION,
}


def backend(name: str) -> Backend:
    try:
        return BACKENDS[name]
    except KeyError:
        raise ValueError(f"backend {name!r} is not one of {sorted(BACKENDS)}") from None


def connection_type(conn_type: str) -> ConnectionType:
    """The connection type's table entry (a backend's, or the job service's)."""
    try:
        return CONNECTION_TYPES[conn_type]
    except KeyError:
        raise ValueError(f"connection type {conn_type!r} is not one of {sorted(CONNECTION_TYPES)}") from None


def hook_for(name: str, conn_id: str, details: Mapping[str, str] | None = None) -> BatchHook[Any]:
    """The backend's hook for a job reference's connection id and details (a detail such as Armada's `channel`
    changes how the scheduler is reached)."""
    return backend(name).hook_class().for_job(conn_id, dict(details or {}))
