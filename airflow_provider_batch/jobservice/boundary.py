"""What the standalone job service accepts from the network: the trust boundary, checked before anything else.

A caller of the service holds its token, nothing more: it is not a DAG author. A request names a backend the
service may serve remotely, a plain Airflow connection id, a job id and a few short strings the backend knows
(`details`). It never carries channel arguments, URLs, module names or credentials: those would let a caller make
the service import code or send a connection's token to an endpoint of the caller's choice. Everything here is
checked before a hook is built or a connection is looked up.

No Airflow import: the store and the server both use it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_provider_batch.backends import BACKENDS
from airflow_provider_batch.common.errors import InvalidJobSpecError
from airflow_provider_batch.common.jobref import JobRef
from airflow_provider_batch.common.limits import check_conn_id, check_job_id, check_name, shown

# The backends a remote caller may name, and the detail keys (with their longest value) each one reads: the backend
# table's `remote_details`. A detail missing there (Armada's `channel`: channel arguments, trusted only from DAG
# authors) is refused, so such a job is watched in the triggerer only.
REMOTE_DETAILS: dict[str, dict[str, int]] = {
    name: dict(backend.remote_details) for name, backend in BACKENDS.items() if backend.remote_details
}
REMOTE_BACKENDS = frozenset(REMOTE_DETAILS)
MAX_JOBS_PER_REQUEST = 1000


def check_backend(value: Any, field: str = "backend") -> str:
    if not isinstance(value, str) or value not in REMOTE_DETAILS:
        raise InvalidJobSpecError(
            field,
            f"{shown(value)} is not served by the job service",
            f"use one of {sorted(REMOTE_BACKENDS)} (jobs reached through channel arguments stay in the triggerer)",
        )
    return value


def check_details(backend: str, details: Any, field: str = "details") -> dict[str, str]:
    """Only the keys the backend reads, each a short printable string."""
    if not isinstance(details, Mapping):
        raise InvalidJobSpecError(field, f"is a {type(details).__name__}", "pass a map of strings")
    allowed = REMOTE_DETAILS[backend]
    unknown = sorted(str(key)[:40] for key in details if key not in allowed)
    if unknown:
        raise InvalidJobSpecError(
            field, f"has keys {unknown} that {backend} does not use", f"use only {sorted(allowed)}"
        )
    return {key: check_name(value, f"{field}.{key}", allowed[key], required=False) for key, value in details.items()}


def checked_job(backend: Any, conn_id: Any, job_id: Any, details: Any, field: str = "job") -> JobRef:
    """A job reference from an untrusted source (a request, a store row), or InvalidJobSpecError."""
    backend = check_backend(backend, f"{field}.backend")
    return JobRef(
        backend,
        check_conn_id(conn_id, f"{field}.conn_id"),
        check_job_id(job_id, f"{field}.job_id"),
        check_details(backend, details, f"{field}.details"),
    )


def checked_jobs(jobs: Any) -> list[JobRef]:
    """Every job of a request, checked; the first bad one is refused, naming its index."""
    if len(jobs) > MAX_JOBS_PER_REQUEST:
        raise InvalidJobSpecError("jobs", f"holds {len(jobs)} jobs", f"ask about at most {MAX_JOBS_PER_REQUEST} a call")
    return [
        checked_job(job.backend, job.conn_id, job.job_id, dict(job.details), f"jobs[{index}]")
        for index, job in enumerate(jobs)
    ]
