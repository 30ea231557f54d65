"""What the emulator runs for a pod spec: the first container's command and args, its plain env vars, and the
pod's activeDeadlineSeconds. The image is ignored."""

from __future__ import annotations

import re

from airflow_provider_batch._proto.armada.k8s import core_v1_pb2
from airflow_provider_batch.emulators.runner import RunSpec

NO_COMMAND = "the emulator runs the container's command; this pod spec has none"
_REFERENCE = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


def expand(text: str, env: dict[str, str]) -> str:
    """Kubernetes' `$(VAR)` expansion in command and args: defined names are replaced, `$$` is a literal `$`."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1)
        return env.get(name, match.group(0))

    return _REFERENCE.sub(replace, text)


def container_name(spec: core_v1_pb2.PodSpec) -> str:
    return spec.containers[0].name if spec.containers and spec.containers[0].name else "container-0"


def to_run_spec(spec: core_v1_pb2.PodSpec) -> RunSpec | str:
    """The RunSpec for a validated pod spec, or the reason it cannot run (a job failure reason)."""
    container = spec.containers[0]
    if not container.command:
        return NO_COMMAND
    env: dict[str, str] = {}
    for var in container.env:
        if var.name and not var.HasField("valueFrom"):
            env[var.name] = expand(var.value, env)
    argv = [expand(part, env) for part in [*container.command, *container.args]]
    timeout = float(spec.activeDeadlineSeconds) if spec.activeDeadlineSeconds > 0 else None
    return RunSpec(argv=argv, env=env, timeout_s=timeout)
