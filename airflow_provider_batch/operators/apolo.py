"""`ApoloJobOperator`: run one Apolo job (an image on a resource preset), blocking or deferrable."""

from __future__ import annotations

import math
import re
import shlex
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from airflow_provider_batch.clients.apolo.types import DiskVolume, HTTPPort, JobPriority, SecretFile, Volume
from airflow_provider_batch.common.errors import InvalidJobSpecError
from airflow_provider_batch.hooks.apolo import ApoloHook, ApoloSubmission
from airflow_provider_batch.links.apolo import ApoloJobLink
from airflow_provider_batch.operators.base import BatchJobOperator

ENV_KEY = re.compile(r"\A[A-Za-z_][A-Za-z0-9_]*\Z")
NAME_PREFIX = re.compile(r"\A[a-z](?:-?[a-z0-9])*\Z")
NAME_PREFIX_MAX = 29  # the job name adds "-" and a 10-character hash, within Apolo's 40
MAX_USER_TAGS = 8  # Apolo allows 16 tags; the operator adds 8 of its own
VOLUME_SCHEMES = ("storage:", "disk:", "secret:")
PRIORITIES = {"low": JobPriority.LOW, "normal": JobPriority.NORMAL, "high": JobPriority.HIGH}


class ApoloJobOperator(BatchJobOperator[ApoloHook]):
    """Start one job on Apolo and wait for it (or defer while it runs).

    image: the container image, e.g. "ubuntu:22.04" (or "image:name:tag" from the platform registry).
    preset_name: the resource preset the job runs on, e.g. "cpu-small" (`apolo config show` lists them).
    command: what the container runs (a string, or a list joined with shell quoting); entrypoint: overrides the
        image's. working_dir: the directory the command starts in.
    env: environment variables; secret_env: variables read from platform secrets, {"TOKEN": "secret:my-token"}.
    volumes: "SRC:DST[:ro|:rw]" strings, SRC one of storage:path (platform storage), disk:name (a disk) or
        secret:name (a secret mounted as a file), e.g. "storage:data:/var/data:ro".
    http_port: expose this container port over HTTP (http_auth: ask for the platform's login, default True).
    tags: extra job tags (at most 8, no whitespace); the operator adds its own identity tags (how a retry finds the
        job an earlier try started). description: shown in `apolo ps`.
    name: the readable start of the job's name (lowercase letters, digits and dashes, at most 29 characters); the
        operator appends a hash of the task instance and try, so that a retry finds the same job.
    life_span: how long the job may run (seconds or a timedelta, at least a minute); Apolo cancels it after that.
    schedule_timeout: how long the job may wait for resources (seconds) before Apolo fails it.
    restart_policy: only "never" for a batch task (a job that restarts never ends with its command).
    priority: "low", "normal" or "high". pass_config: give the job the platform config (APOLO_PASSED_CONFIG).
    wait_for_jobs_quota: wait for the quota instead of failing. privileged: a privileged container.
    apolo_conn_id: an `apolo` connection (API URL, token or passed-config blob, cluster, org, project).

    Returns {job_id, name, tag, created_at, state}; the job id is also in XCom (`job_id`, `batch_job`). See
    BatchJobOperator for deferrable, poll_interval, timeout (the job is killed past it), reattach_policy,
    wait_for_completion and container_logs (the job's log lines copied into the task log).
    """

    template_fields: Sequence[str] = (
        "image",
        "preset_name",
        "command",
        "entrypoint",
        "working_dir",
        "env",
        "volumes",
        "tags",
        "description",
        "name",
    )
    template_fields_renderers = {"env": "json"}
    operator_extra_links = (ApoloJobLink(),)
    hook_class = ApoloHook

    def __init__(
        self,
        *,
        image: str,
        preset_name: str,
        command: str | Sequence[str] | None = None,
        entrypoint: str | None = None,
        working_dir: str | None = None,
        env: Mapping[str, Any] | None = None,
        secret_env: Mapping[str, str] | None = None,
        volumes: Sequence[str] = (),
        http_port: int | None = None,
        http_auth: bool = True,
        tags: Sequence[str] = (),
        description: str | None = None,
        name: str | None = None,
        life_span: timedelta | float | None = None,
        schedule_timeout: timedelta | float | None = None,
        restart_policy: str = "never",
        priority: str | None = None,
        pass_config: bool = False,
        wait_for_jobs_quota: bool = False,
        privileged: bool = False,
        apolo_conn_id: str = ApoloHook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        super().__init__(conn_id=apolo_conn_id, **kwargs)
        self.apolo_conn_id = apolo_conn_id
        # Checked here, at DAG parse time (a wrong type fails the DAG import, not each try of the task).
        for field, mapping in (("env", env), ("secret_env", secret_env)):
            if mapping is not None and not isinstance(mapping, Mapping):
                raise InvalidJobSpecError(field, f"is a {type(mapping).__name__}", 'give a dict, e.g. {"KEY": "value"}')
        for field, listed in (("volumes", volumes), ("tags", tags)):
            if isinstance(listed, (str, bytes, Mapping)) or not isinstance(listed, Sequence):
                raise InvalidJobSpecError(field, f"is a {type(listed).__name__}", "give a list of strings")
        self.image = image
        self.preset_name = preset_name
        self.command = command
        self.entrypoint = entrypoint
        self.working_dir = working_dir
        self.env = dict(env or {})
        self.secret_env = dict(secret_env or {})
        self.volumes = list(volumes)
        self.http_port = http_port
        self.http_auth = http_auth
        self.tags = list(tags)
        self.description = description
        self.name = name
        self.life_span = life_span
        self.schedule_timeout = schedule_timeout
        self.restart_policy = restart_policy
        self.priority = priority
        self.pass_config = pass_config
        self.wait_for_jobs_quota = wait_for_jobs_quota
        self.privileged = privileged

    def build_request(self, context: Mapping[str, Any]) -> ApoloSubmission:
        if not isinstance(self.image, str) or not self.image.strip():
            raise InvalidJobSpecError("image", "is empty", 'give the container image, e.g. "ubuntu:22.04"')
        if not isinstance(self.preset_name, str) or not self.preset_name.strip():
            raise InvalidJobSpecError("preset_name", "is empty", 'give a resource preset, e.g. "cpu-small"')
        for field, value in (
            ("image", self.image),
            ("preset_name", self.preset_name),
            ("description", self.description),
            ("name", self.name),
        ):
            if value is not None and (not isinstance(value, str) or "\x00" in value):
                raise InvalidJobSpecError(field, "is not a string without NUL characters", "give a plain string")
        if self.restart_policy != "never":
            raise InvalidJobSpecError(
                "restart_policy",
                f"{self.restart_policy!r} restarts the job, so it never ends with its command",
                'use "never" for a batch task (Airflow retries the task instead)',
            )
        volumes, secret_files, disks = self._volumes()
        http = None
        if self.http_port is not None:
            port = self.http_port
            if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
                raise InvalidJobSpecError("http_port", f"{self.http_port!r} is not a port", "a number from 1 to 65535")
            http = HTTPPort(self.http_port, self.http_auth)
        return ApoloSubmission(
            image=self.image.strip(),
            preset_name=self.preset_name.strip(),
            command=self._command(),
            entrypoint=self._entrypoint(),
            working_dir=self._working_dir(),
            env=self._env(),
            secret_env=self._secret_env(),
            volumes=volumes,
            secret_files=secret_files,
            disk_volumes=disks,
            http=http,
            tags=self._tags(),
            description=self.description or None,
            life_span=self._life_span(),
            schedule_timeout=_seconds("schedule_timeout", self.schedule_timeout, minimum=1),
            priority=self._priority(),
            pass_config=bool(self.pass_config),
            wait_for_jobs_quota=bool(self.wait_for_jobs_quota),
            privileged=bool(self.privileged),
            name_prefix=self._name_prefix(),
        )

    def _command(self) -> str | None:
        if self.command is None:
            return None
        if not isinstance(self.command, str) and (
            isinstance(self.command, (bytes, Mapping)) or not isinstance(self.command, Sequence)
        ):
            raise InvalidJobSpecError("command", f"is a {type(self.command).__name__}", "give a string or a list")
        text = self.command if isinstance(self.command, str) else shlex.join(str(part) for part in self.command)
        if not text.strip():
            raise InvalidJobSpecError("command", "is empty", "give the command to run, or leave it out for the image's")
        return _shell_words("command", text)

    def _entrypoint(self) -> str | None:
        if self.entrypoint is None or self.entrypoint == "":
            return None
        if not isinstance(self.entrypoint, str):
            raise InvalidJobSpecError("entrypoint", f"is a {type(self.entrypoint).__name__}", "give a string")
        return _shell_words("entrypoint", self.entrypoint)

    def _working_dir(self) -> str | None:
        if self.working_dir is None or self.working_dir == "":
            return None
        if not isinstance(self.working_dir, str) or not self.working_dir.startswith("/") or "\x00" in self.working_dir:
            raise InvalidJobSpecError(
                "working_dir", f"{self.working_dir!r} does not match pattern /.*", "give an absolute path, e.g. /app"
            )
        return self.working_dir

    def _env(self) -> dict[str, str]:
        for key in self.env:
            if not isinstance(key, str) or not ENV_KEY.match(key):
                raise InvalidJobSpecError(
                    f"env.{key}", "is not a valid variable name", "use letters, digits and _, not starting with a digit"
                )
        return {key: "" if value is None else str(value) for key, value in self.env.items()}

    def _secret_env(self) -> dict[str, str]:
        for key, value in self.secret_env.items():
            if not isinstance(key, str) or not ENV_KEY.match(key):
                raise InvalidJobSpecError(
                    f"secret_env.{key}", "is not a valid variable name", "use letters, digits and _"
                )
            if not isinstance(value, str) or not value.startswith("secret:") or len(value) <= len("secret:"):
                raise InvalidJobSpecError(
                    f"secret_env.{key}", f"{value!r} is not a secret URI", 'write "secret:<secret name>"'
                )
        return dict(self.secret_env)

    def _volumes(self) -> tuple[list[Volume], list[SecretFile], list[DiskVolume]]:
        volumes: list[Volume] = []
        secrets: list[SecretFile] = []
        disks: list[DiskVolume] = []
        fix = 'write "storage:data:/var/data[:ro]", "disk:my-disk:/mnt/disk" or "secret:key:/etc/key"'
        for index, spec in enumerate(self.volumes):
            where = f"volumes[{index}]"
            if not isinstance(spec, str) or not spec.startswith(VOLUME_SCHEMES):
                raise InvalidJobSpecError(where, f"{spec!r} does not start with storage:, disk: or secret:", fix)
            read_only = False
            text = spec
            if text.endswith((":ro", ":rw")):
                read_only, text = text.endswith(":ro"), text[:-3]
            source, sep, target = text.rpartition(":")
            scheme = source.partition(":")[0]
            if not sep or not target.startswith("/") or source in ("storage", "disk", "secret") or ":" not in source:
                raise InvalidJobSpecError(where, f"{spec!r} has no source path and absolute mount path", fix)
            if scheme == "storage":
                volumes.append(Volume(source, target, read_only))
            elif scheme == "disk":
                disks.append(DiskVolume(source, target, read_only))
            else:
                secrets.append(SecretFile(source, target))
        return volumes, secrets, disks

    def _tags(self) -> list[str]:
        if len(self.tags) > MAX_USER_TAGS:
            raise InvalidJobSpecError("tags", f"{len(self.tags)} tags", f"give at most {MAX_USER_TAGS}")
        for tag in self.tags:
            if not isinstance(tag, str) or not 1 <= len(tag) <= 256 or re.search(r"\s", tag):
                raise InvalidJobSpecError("tags", f"{tag!r} is not a tag", "1 to 256 characters without whitespace")
        return list(self.tags)

    def _life_span(self) -> float | None:
        seconds = _seconds("life_span", self.life_span, minimum=60)
        return seconds

    def _priority(self) -> JobPriority | None:
        if self.priority is None:
            return None
        found = PRIORITIES.get(str(self.priority).lower())
        if found is None:
            raise InvalidJobSpecError("priority", f"{self.priority!r} is not known", "use low, normal or high")
        return found

    def _name_prefix(self) -> str | None:
        if not self.name:
            return None
        if not isinstance(self.name, str) or len(self.name) > NAME_PREFIX_MAX or not NAME_PREFIX.match(self.name):
            raise InvalidJobSpecError(
                "name",
                f"{self.name!r} is not a job name start",
                f"use lowercase letters, digits and single dashes, starting with a letter, at most {NAME_PREFIX_MAX}",
            )
        return self.name


def _shell_words(field: str, text: str) -> str:
    """The text if the platform can split it into words (shlex), as platform-api does; else "invalid command
    format" (an unclosed quote, a trailing backslash, a NUL)."""
    try:
        if "\x00" in text:
            raise ValueError("NUL character")
        shlex.split(text)
    except ValueError as error:
        raise InvalidJobSpecError(
            field, f"invalid command format: {error}", "close every quote; escape with \\"
        ) from None
    return text


def _seconds(field: str, value: timedelta | float | None, minimum: float) -> float | None:
    if value is None:
        return None
    seconds = value.total_seconds() if isinstance(value, timedelta) else value
    if (
        isinstance(seconds, bool)
        or not isinstance(seconds, (int, float))
        or not math.isfinite(seconds)
        or seconds < minimum
    ):
        raise InvalidJobSpecError(field, f"{value!r} is not a number of seconds >= {minimum:g}", "e.g. 3600")
    return float(seconds)


class ApoloJobDeferrableOperator(ApoloJobOperator):
    """ApoloJobOperator that always defers while the job runs."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs["deferrable"] = True
        super().__init__(**kwargs)


__all__ = ["ApoloJobDeferrableOperator", "ApoloJobOperator"]
