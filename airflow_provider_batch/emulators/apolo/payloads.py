"""JSON shapes as platform-api sends them: a JobDescription (`convert_job_to_job_response`) and its status items."""

from __future__ import annotations

import hashlib
from decimal import Decimal
from typing import Any

from airflow_provider_batch.emulators.apolo.records import JobRecord, StatusItem, now


def status_item_json(item: StatusItem) -> dict[str, Any]:
    data: dict[str, Any] = {
        "status": item.status.value,
        "transition_time": item.transition_time.isoformat(),
        "reason": item.reason,
        "description": item.description,
    }
    if item.exit_code is not None:
        data["exit_code"] = item.exit_code
    return data


def org_project_hash(org: str, project: str) -> str:
    return hashlib.sha256(f"{org}{project}".encode()).hexdigest()[:10]


def total_price(job: JobRecord) -> str:
    hours = Decimal(job.run_time().total_seconds()) / Decimal(3600)
    return str((Decimal(job.spec.credits_per_hour) * hours).quantize(Decimal("0.0001")))


def container_json(container: dict[str, Any]) -> dict[str, Any]:
    """The container as platform-api echoes it: `env` and `volumes` always there, `memory_mb` beside `memory`,
    `http` with its health-check path; the rest as it was sent."""
    data: dict[str, Any] = {"image": container["image"], "env": container.get("env", {}), "volumes": []}
    data.update({key: container[key] for key in ("entrypoint", "command") if key in container})
    resources = dict(container.get("resources") or {})
    resources["memory_mb"] = int(resources.get("memory", 0)) // 2**20
    data["resources"] = resources
    if "http" in container:
        data["http"] = {"health_check_path": "/", "requires_auth": False, **container["http"]}
    for key in ("volumes", "secret_volumes", "disk_volumes", "secret_env", "working_dir"):
        if container.get(key):
            data[key] = container[key]
    if container.get("tty"):
        data["tty"] = True
    return data


def job_json(job: JobRecord) -> dict[str, Any]:
    """The JobDescription document: the 11 keys the SDK requires, and the optional ones the server adds."""
    spec, current = job.spec, job.current
    history: dict[str, Any] = {
        "status": current.status.value,
        "reason": current.reason,
        "description": current.description,
        "created_at": job.created_at.isoformat(),
        "run_time_seconds": job.run_time(now()).total_seconds(),
        "restarts": job.restarts,
    }
    if job.started_at is not None:
        history["started_at"] = job.started_at.isoformat()
    if job.finished_at is not None:
        history["finished_at"] = job.finished_at.isoformat()
    if current.exit_code is not None:
        history["exit_code"] = current.exit_code
    data: dict[str, Any] = {
        "id": job.id,
        "owner": job.owner,
        "namespace": f"platform--{spec.org_name}--{spec.project_name}",
        "cluster_name": spec.cluster_name,
        "org_name": spec.org_name,
        "project_name": spec.project_name,
        "org_project_hash": org_project_hash(spec.org_name, spec.project_name),
        "status": current.status.value,
        "statuses": [status_item_json(item) for item in job.history],
        "history": history,
        "container": container_json(spec.container),
        "scheduler_enabled": spec.scheduler_enabled,
        "preemptible_node": spec.preemptible_node,
        "is_preemptible": spec.scheduler_enabled,
        "is_preemptible_node_required": spec.preemptible_node,
        "pass_config": spec.pass_config,
        "uri": job.uri,
        "restart_policy": spec.restart_policy,
        "privileged": spec.privileged,
        "materialized": not job.finished,
        "being_dropped": False,
        "logs_removed": False,
        "total_price_credits": total_price(job),
        "price_credits_per_hour": spec.credits_per_hour,
        "priority": spec.priority,
    }
    optional = {
        "name": spec.name,
        "preset_name": spec.preset_name,
        "description": spec.description,
        "tags": spec.tags,
        "schedule_timeout": spec.schedule_timeout,
        "max_run_time_minutes": spec.max_run_time_minutes,
    }
    data.update({key: value for key, value in optional.items() if value})
    if spec.name:
        data["internal_hostname_named"] = f"{spec.name}--{data['org_project_hash']}.platform-jobs"
    data["internal_hostname"] = f"{job.id}.platform-jobs"
    if "http" in spec.container:  # an exposed port gets a URL (nothing listens there in the emulator)
        data["http_url"] = f"https://{job.id}.jobs.{spec.cluster_name}.emulator.invalid"
    return data
