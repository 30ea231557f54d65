"""The one table of backends: what each scheduler is called, which hook speaks to it, and what a job reference of
it may carry. `get_provider_info`, the trigger, the job-service cache and the standalone job service all read it.

No Airflow import and no hook import at module level: Airflow reads `get_provider_info` (which uses this table)
without importing hooks, and the job service checks requests against it before any hook exists.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from airflow_provider_batch.common.limits import MAX_DETAIL_LENGTH, MAX_JOB_SET_ID_LENGTH, MAX_QUEUE_LENGTH

if TYPE_CHECKING:
    from airflow_provider_batch.hooks.base import BatchHook


@dataclass(frozen=True)
class Backend:
    """name: the backend's name in job references and its Airflow connection type.
    hook: the dotted path of its hook class (imported only when a hook is needed).
    remote_details: the detail keys a job reference of this backend may carry to the standalone job service, each
        with its longest value; a key missing here (Armada's `channel`) keeps the job in the triggerer.
    """

    name: str
    hook: str
    remote_details: Mapping[str, int] = field(default_factory=dict)

    def hook_class(self) -> type[BatchHook]:
        module, _, name = self.hook.rpartition(".")
        hook_class: type[BatchHook] = getattr(importlib.import_module(module), name)
        return hook_class


BACKENDS: dict[str, Backend] = {
    backend.name: backend
    for backend in (
        Backend(
            "armada",
            "airflow_provider_batch.hooks.armada.ArmadaHook",
            {"queue": MAX_QUEUE_LENGTH, "job_set_id": MAX_JOB_SET_ID_LENGTH},
        ),
        Backend(
            "qarnot",
            "airflow_provider_batch.hooks.qarnot.QarnotHook",
            {"tag": MAX_DETAIL_LENGTH, "name": MAX_DETAIL_LENGTH, "result_bucket": MAX_DETAIL_LENGTH},
        ),
        Backend(
            "apolo",
            "airflow_provider_batch.hooks.apolo.ApoloHook",
            {"tag": MAX_DETAIL_LENGTH, "name": MAX_DETAIL_LENGTH, "created_at": 64},
        ),
    )
}


def backend(name: str) -> Backend:
    try:
        return BACKENDS[name]
    except KeyError:
        raise ValueError(f"backend {name!r} is not one of {sorted(BACKENDS)}") from None


def hook_for(name: str, conn_id: str, details: Mapping[str, str] | None = None) -> BatchHook:
    """The backend's hook for a job reference's connection id and details (a detail such as Armada's `channel`
    changes how the scheduler is reached)."""
    return backend(name).hook_class().for_job(conn_id, dict(details or {}))
