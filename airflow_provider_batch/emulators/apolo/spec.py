"""Checks a start request the way platform-api does (cluster, org, project, preset, field shapes) and turns it into
a JobSpec. Errors carry platform-api's HTTP status and message (`ApiError`)."""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from typing import Any

from airflow_provider_batch.emulators.apolo.config import Site
from airflow_provider_batch.emulators.apolo.errors import ApiError, data_error, field_error, forbidden
from airflow_provider_batch.emulators.apolo.records import JobSpec

JOB_NAME = re.compile(r"\A[a-z](?:-?[a-z0-9])*\Z")
JOB_NAME_MAX = 40
TAG = re.compile(r"\A\S*\Z")
MAX_TAGS = 16
PRIORITIES = ("low", "normal", "high")
RESTART_POLICIES = ("never", "on-failure", "always")
SCHEDULE_TIMEOUT_MAX = 30 * 24 * 3600

JOB_KEYS = frozenset(
    {
        "name", "description", "preset_name", "tags", "pass_config", "wait_for_jobs_quota", "privileged",
        "priority", "schedule_timeout", "max_run_time_minutes", "cluster_name", "org_name", "project_name",
        "restart_policy", "energy_schedule_name", "scheduler_enabled", "is_preemptible", "preemptible_node",
        "is_preemptible_node_required",
    }
)  # fmt: skip
CONTAINER_KEYS = frozenset(
    {
        "image", "entrypoint", "command", "working_dir", "env", "volumes", "secret_env", "secret_volumes",
        "disk_volumes", "http", "tty", "resources",
    }
)  # fmt: skip


def _string(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise field_error(key, "value is not a string")
    return value


def _bool(data: Mapping[str, Any], key: str, default: bool = False) -> bool:
    value = data.get(key, default)
    if not isinstance(value, bool):
        raise field_error(key, "value should be True or False")
    return value


def _number(data: Mapping[str, Any], key: str) -> float | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise field_error(key, "value is not float")
    return float(value)


def check_name(name: Any) -> str | None:
    if name is None:
        return None
    if not isinstance(name, str):
        raise field_error("name", "value is not a string")
    if len(name) < 3:
        raise field_error("name", "String is shorter than 3 characters")
    if len(name) > JOB_NAME_MAX:
        raise field_error("name", f"String is longer than {JOB_NAME_MAX} characters")
    if not JOB_NAME.match(name):
        raise field_error("name", "does not match pattern \\A[a-z](?:-?[a-z0-9])*\\Z")
    return name


def _tags(data: Mapping[str, Any]) -> list[str]:
    tags = data.get("tags", [])
    if not isinstance(tags, list):
        raise field_error("tags", "value is not a list")
    if len(tags) > MAX_TAGS:
        raise field_error("tags", f"list length is greater than {MAX_TAGS}")
    for tag in tags:
        if not isinstance(tag, str) or not 1 <= len(tag) <= 256 or not TAG.match(tag):
            raise field_error("tags", f"{tag!r} is not a tag (1 to 256 characters, no whitespace)")
    return sorted(set(tags))


def _choice(data: Mapping[str, Any], key: str, choices: tuple[str, ...], default: str) -> str:
    value = data.get(key, default)
    if value not in choices:
        raise field_error(key, f"value doesn't match any variant ({', '.join(choices)})")
    return str(value)


def _check_container(container: Mapping[str, Any], *, needs_resources: bool) -> dict[str, Any]:
    for key in sorted(set(container) - CONTAINER_KEYS):
        raise field_error(key, f"{key} is not allowed key")
    if not isinstance(container.get("image"), str) or not container["image"]:
        raise field_error("image", "is required")
    for key in ("command", "entrypoint"):
        value = _string(container, key)
        if value is not None:
            try:
                shlex.split(value)
            except ValueError:
                raise field_error(key, "invalid command format") from None
    working_dir = _string(container, "working_dir")
    if working_dir is not None and not working_dir.startswith("/"):
        raise field_error("working_dir", "does not match pattern /.*")
    for key in ("env", "secret_env"):
        value = container.get(key, {})
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise field_error(key, "value is not a dict of strings")
    for uri in container.get("secret_env", {}).values():
        if not uri.startswith("secret://"):
            raise field_error("secret_env", f"{uri!r} is not a secret:// URI")
    resources = container.get("resources")
    if needs_resources:
        if not isinstance(resources, dict):
            raise field_error("resources", "is required")
        if _number(resources, "cpu") is None:
            raise field_error("cpu", "is required")
        if "memory" not in resources and "memory_mb" not in resources:
            raise field_error("memory", "is required")
    return dict(container)


def _resources_from(preset_cpu: float, preset_memory: int, shm: bool, gpu: int, gpu_model: str) -> dict[str, Any]:
    resources: dict[str, Any] = {"cpu": preset_cpu, "memory": preset_memory, "shm": shm}
    if gpu:
        resources["nvidia_gpu"] = gpu
        if gpu_model:
            resources["nvidia_gpu_model"] = gpu_model
    return resources


def parse_start(payload: Any, site: Site, *, from_preset: bool) -> JobSpec:
    """The JobSpec a `POST /jobs` body asks for, or ApiError as platform-api would answer."""
    if not isinstance(payload, dict):
        raise data_error("value is not a dict")
    cluster = payload.get("cluster_name", site.cluster)
    if cluster != site.cluster:
        raise forbidden("User is not allowed to submit jobs to the specified cluster")
    org = payload.get("org_name", site.org)
    if org != site.org:
        raise forbidden("User is not allowed to submit jobs to the specified cluster as a member of given organization")
    project = payload.get("project_name", site.user)
    if not isinstance(project, str):
        raise field_error("project_name", "value is not a string")

    if from_preset:
        container_part = {key: value for key, value in payload.items() if key not in JOB_KEYS}
        unknown = sorted(set(container_part) - CONTAINER_KEYS)
        if "container" in payload:
            unknown = sorted(set(unknown) | {"container"})
    else:
        unknown = sorted(set(payload) - JOB_KEYS - {"container"})
        if not isinstance(payload.get("container"), dict):
            raise field_error("container", "is required")
        container_part = payload["container"]
    if unknown:
        raise field_error(unknown[0], f"{unknown[0]} is not allowed key")

    preset_name = _string(payload, "preset_name")
    scheduler_enabled = _bool(payload, "scheduler_enabled", _bool(payload, "is_preemptible"))
    preemptible_node = _bool(payload, "preemptible_node", _bool(payload, "is_preemptible_node_required"))
    credits = "0"
    if from_preset:
        resources = container_part.get("resources") or {}
        if set(resources) - {"shm"}:
            raise data_error("Both preset and resources are not allowed")
        if not site.presets:
            raise data_error("At least one preset is required to run a job")
        preset = site.preset(preset_name) if preset_name else site.presets[0]
        if preset is None:
            raise data_error("Preset was not found")
        preset_name = preset.name
        scheduler_enabled, preemptible_node = preset.scheduler_enabled, preset.preemptible_node
        credits = preset.credits_per_hour
        container_part = dict(container_part)
        container_part["resources"] = _resources_from(
            preset.cpu, preset.memory, bool(resources.get("shm", False)), preset.nvidia_gpu, preset.nvidia_gpu_model
        )
    container = _check_container(container_part, needs_resources=not from_preset)
    if "memory_mb" in container.get("resources", {}):
        resources = dict(container["resources"])
        resources["memory"] = int(resources.pop("memory_mb")) * 1024 * 1024
        container["resources"] = resources

    schedule_timeout = _number(payload, "schedule_timeout")
    if schedule_timeout is not None:
        if not 1 <= schedule_timeout < SCHEDULE_TIMEOUT_MAX:
            raise field_error("schedule_timeout", f"value should be at least 1 and less than {SCHEDULE_TIMEOUT_MAX}")
        if scheduler_enabled:
            raise data_error("schedule_timeout is not allowed for scheduled jobs")
    max_run = payload.get("max_run_time_minutes")
    if max_run is not None and (isinstance(max_run, bool) or not isinstance(max_run, int) or max_run < 1):
        raise field_error("max_run_time_minutes", "value is not int or is less than 1")
    energy = _string(payload, "energy_schedule_name")
    if energy:
        raise field_error("energy_schedule_name", "value doesn't match any variant ()")
    return JobSpec(
        cluster_name=cluster,
        org_name=org,
        project_name=project,
        container=container,
        preset_name=preset_name,
        name=check_name(payload.get("name")),
        tags=_tags(payload),
        description=_string(payload, "description"),
        pass_config=_bool(payload, "pass_config"),
        wait_for_jobs_quota=_bool(payload, "wait_for_jobs_quota"),
        privileged=_bool(payload, "privileged"),
        priority=_choice(payload, "priority", PRIORITIES, "normal"),
        schedule_timeout=schedule_timeout,
        max_run_time_minutes=max_run,
        restart_policy=_choice(payload, "restart_policy", RESTART_POLICIES, "never"),
        scheduler_enabled=scheduler_enabled,
        preemptible_node=preemptible_node,
        credits_per_hour=credits,
    )


def check_project(spec: JobSpec, site: Site) -> ApiError | None:
    """platform-auth's answer when the user may not write jobs in that project (403 with the missing permission)."""
    if spec.project_name == site.project:
        return None
    uri = f"job://{spec.cluster_name}/{spec.org_name}/{spec.project_name}"
    return ApiError(403, {"missing": [{"uri": uri, "action": "write"}]})
