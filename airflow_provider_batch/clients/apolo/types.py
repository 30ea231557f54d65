"""Apolo's job vocabulary as typed values, like the seed SDK's (`JobDescription`, `Container`, ..., and
`ApoloJobStatus`, the SDK's `JobStatus` under a name that does not clash with common.states.JobStatus), read from and
written to the Jobs API's JSON. No Airflow import here."""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from airflow_provider_batch.common.errors import InvalidJobSpecError


class ApoloJobStatus(str, enum.Enum):
    """A job's status. `suspended` is a preemptible job paused by the scheduler; `unknown` is any status this client
    does not know (the server is newer), never a final answer."""

    PENDING = "pending"
    SUSPENDED = "suspended"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    UNKNOWN = "unknown"

    @property
    def is_pending(self) -> bool:
        return self in (ApoloJobStatus.PENDING, ApoloJobStatus.SUSPENDED)

    @property
    def is_running(self) -> bool:
        return self is ApoloJobStatus.RUNNING

    @property
    def is_finished(self) -> bool:
        return self in (ApoloJobStatus.SUCCEEDED, ApoloJobStatus.FAILED, ApoloJobStatus.CANCELLED)

    @classmethod
    def items(cls) -> set[ApoloJobStatus]:
        """Every status the server sends (not UNKNOWN)."""
        return {item for item in cls if item is not ApoloJobStatus.UNKNOWN}

    @classmethod
    def active_items(cls) -> set[ApoloJobStatus]:
        return {item for item in cls.items() if not item.is_finished}

    @classmethod
    def finished_items(cls) -> set[ApoloJobStatus]:
        return {item for item in cls.items() if item.is_finished}

    @classmethod
    def parse(cls, value: Any) -> ApoloJobStatus:
        try:
            return cls(str(value))
        except ValueError:
            return cls.UNKNOWN

    def __str__(self) -> str:
        return self.value


class JobRestartPolicy(str, enum.Enum):
    NEVER = "never"
    ON_FAILURE = "on-failure"
    ALWAYS = "always"

    def __str__(self) -> str:
        return self.value


class JobPriority(enum.IntEnum):
    LOW = enum.auto()
    NORMAL = enum.auto()
    HIGH = enum.auto()


@dataclass(frozen=True)
class Resources:
    """memory in bytes; cpu in cores; shm: a larger /dev/shm."""

    memory: int
    cpu: float
    nvidia_gpu: int | None = None
    amd_gpu: int | None = None
    intel_gpu: int | None = None
    nvidia_gpu_model: str | None = None
    amd_gpu_model: str | None = None
    intel_gpu_model: str | None = None
    shm: bool = True
    tpu_type: str | None = None
    tpu_software_version: str | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"memory": self.memory, "cpu": self.cpu, "shm": self.shm}
        for key in ("nvidia_gpu", "nvidia_gpu_model", "amd_gpu", "amd_gpu_model", "intel_gpu", "intel_gpu_model"):
            if getattr(self, key):
                data[key] = getattr(self, key)
        if self.tpu_type:
            data["tpu"] = {"type": self.tpu_type, "software_version": self.tpu_software_version or ""}
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Resources:
        tpu = data.get("tpu") or {}
        return cls(
            memory=int(data.get("memory") or int(data.get("memory_mb") or 0) * 2**20),
            cpu=float(data.get("cpu") or 0),
            nvidia_gpu=data.get("nvidia_gpu"),
            amd_gpu=data.get("amd_gpu"),
            intel_gpu=data.get("intel_gpu"),
            nvidia_gpu_model=data.get("nvidia_gpu_model"),
            amd_gpu_model=data.get("amd_gpu_model"),
            intel_gpu_model=data.get("intel_gpu_model"),
            shm=bool(data.get("shm", True)),
            tpu_type=tpu.get("type"),
            tpu_software_version=tpu.get("software_version"),
        )


@dataclass(frozen=True)
class HTTPPort:
    port: int
    requires_auth: bool = True

    def to_json(self) -> dict[str, Any]:
        return {"port": self.port, "requires_auth": self.requires_auth}


@dataclass(frozen=True)
class Volume:
    """storage_uri: `storage://cluster/org/project/path` (or `storage:path`, completed from the config)."""

    storage_uri: str
    container_path: str
    read_only: bool = False


@dataclass(frozen=True)
class SecretFile:
    secret_uri: str
    container_path: str


@dataclass(frozen=True)
class DiskVolume:
    disk_uri: str
    container_path: str
    read_only: bool = False


@dataclass(frozen=True)
class Container:
    """What `run()` starts: an image with explicit resources (`start()` takes a preset instead)."""

    image: str
    resources: Resources | None = None
    entrypoint: str | None = None
    command: str | None = None
    working_dir: str | None = None
    http: HTTPPort | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    volumes: Sequence[Volume] = ()
    secret_env: Mapping[str, str] = field(default_factory=dict)
    secret_files: Sequence[SecretFile] = ()
    disk_volumes: Sequence[DiskVolume] = ()
    tty: bool = False

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Container:
        http = data.get("http")
        return cls(
            image=str(data.get("image", "")),
            resources=Resources.from_json(data.get("resources") or {}),
            entrypoint=data.get("entrypoint"),
            command=data.get("command"),
            working_dir=data.get("working_dir"),
            http=HTTPPort(int(http.get("port", -1)), bool(http.get("requires_auth", False))) if http else None,
            env=dict(data.get("env") or {}),
            volumes=[
                Volume(v["src_storage_uri"], v["dst_path"], bool(v.get("read_only", True)))
                for v in data.get("volumes") or ()
            ],
            secret_env=dict(data.get("secret_env") or {}),
            secret_files=[SecretFile(v["src_secret_uri"], v["dst_path"]) for v in data.get("secret_volumes") or ()],
            disk_volumes=[
                DiskVolume(v["src_disk_uri"], v["dst_path"], bool(v.get("read_only", True)))
                for v in data.get("disk_volumes") or ()
            ],
            tty=bool(data.get("tty", False)),
        )


def parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


@dataclass(frozen=True)
class JobStatusItem:
    """One transition of the job: its status, when, why (reason, description) and the exit code if any."""

    status: ApoloJobStatus
    transition_time: datetime | None
    reason: str = ""
    description: str = ""
    exit_code: int | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> JobStatusItem:
        return cls(
            status=ApoloJobStatus.parse(data.get("status")),
            transition_time=parse_time(data.get("transition_time")),
            reason=str(data.get("reason") or ""),
            description=str(data.get("description") or ""),
            exit_code=data.get("exit_code"),
        )


@dataclass(frozen=True)
class JobStatusHistory:
    """The job's current status with its reason, description and exit code, its times and its transitions."""

    status: ApoloJobStatus
    reason: str
    description: str
    restarts: int = 0
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    exit_code: int | None = None
    run_time_seconds: float | None = None
    transitions: Sequence[JobStatusItem] = ()

    @classmethod
    def from_json(cls, data: Mapping[str, Any], transitions: Sequence[Mapping[str, Any]] = ()) -> JobStatusHistory:
        return cls(
            status=ApoloJobStatus.parse(data.get("status", "unknown")),
            reason=str(data.get("reason") or ""),
            description=str(data.get("description") or ""),
            restarts=int(data.get("restarts") or 0),
            created_at=parse_time(data.get("created_at")),
            started_at=parse_time(data.get("started_at")),
            finished_at=parse_time(data.get("finished_at")),
            exit_code=data.get("exit_code"),
            run_time_seconds=data.get("run_time_seconds"),
            transitions=[JobStatusItem.from_json(item) for item in transitions],
        )


def _decimal(value: Any) -> Decimal:
    try:
        return Decimal(str(value if value is not None else "0"))
    except InvalidOperation:
        return Decimal(0)


@dataclass(frozen=True)
class JobDescription:
    """A job as the API describes it. Why it ended is in `history` (reason, description, exit_code)."""

    id: str
    owner: str
    cluster_name: str
    status: ApoloJobStatus
    history: JobStatusHistory
    container: Container
    scheduler_enabled: bool = False
    pass_config: bool = False
    uri: str = ""
    name: str | None = None
    tags: Sequence[str] = ()
    description: str | None = None
    org_name: str | None = None
    project_name: str = ""
    preset_name: str | None = None
    http_url: str = ""
    restart_policy: JobRestartPolicy = JobRestartPolicy.NEVER
    life_span: float | None = None
    schedule_timeout: float | None = None
    priority: JobPriority = JobPriority.NORMAL
    privileged: bool = False
    total_price_credits: Decimal = Decimal(0)
    price_credits_per_hour: Decimal = Decimal(0)
    # Where other jobs of the project reach this one (`<id>.<namespace>`, and by name), whether it must run on a
    # preemptible node, the Kubernetes namespace, the energy schedule; `ssh_server` as neuro-sdk had it (today's
    # platform sends none: empty).
    internal_hostname: str | None = None
    internal_hostname_named: str | None = None
    preemptible_node: bool = False
    namespace: str = ""
    energy_schedule_name: str | None = None
    ssh_server: str = ""

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> JobDescription:
        minutes = data.get("max_run_time_minutes")
        try:
            restart = JobRestartPolicy(data.get("restart_policy") or "never")
        except ValueError:
            restart = JobRestartPolicy.NEVER
        return cls(
            id=str(data["id"]),
            owner=str(data.get("owner", "")),
            cluster_name=str(data.get("cluster_name", "")),
            status=ApoloJobStatus.parse(data.get("status")),
            history=JobStatusHistory.from_json(data.get("history") or {}, data.get("statuses") or ()),
            container=Container.from_json(data.get("container") or {}),
            scheduler_enabled=bool(data.get("scheduler_enabled", False)),
            pass_config=bool(data.get("pass_config", False)),
            uri=str(data.get("uri", "")),
            name=data.get("name"),
            tags=list(data.get("tags") or ()),
            description=data.get("description"),
            org_name=data.get("org_name"),
            project_name=str(data.get("project_name") or data.get("owner", "")),
            preset_name=data.get("preset_name"),
            http_url=str(data.get("http_url_named") or data.get("http_url") or ""),
            restart_policy=restart,
            life_span=minutes * 60.0 if minutes is not None else None,
            schedule_timeout=data.get("schedule_timeout"),
            priority=JobPriority.__members__.get(str(data.get("priority", "normal")).upper(), JobPriority.NORMAL),
            privileged=bool(data.get("privileged", False)),
            total_price_credits=_decimal(data.get("total_price_credits")),
            price_credits_per_hour=_decimal(data.get("price_credits_per_hour")),
            internal_hostname=data.get("internal_hostname"),
            internal_hostname_named=data.get("internal_hostname_named"),
            preemptible_node=bool(data.get("preemptible_node", False)),
            namespace=str(data.get("namespace") or ""),
            energy_schedule_name=data.get("energy_schedule_name"),
            ssh_server=str(data.get("ssh_server") or ""),
        )

    def failure_reason(self) -> str:
        """`failed (OOMKilled): <description>, exit code 137`: the scheduler's words on how the job ended."""
        history = self.history
        text = str(self.status.value)
        if history.reason:
            text += f" ({history.reason})"
        if history.description:
            text += f": {history.description.strip()}"
        if history.exit_code is not None:
            text += f", exit code {history.exit_code}"
        return text


@dataclass(frozen=True)
class JobTelemetry:
    """One sample of `top`: CPU (cores), memory in bytes, the sample's time (epoch seconds), GPU use if any."""

    cpu: float
    memory_bytes: int
    timestamp: float
    gpu_duty_cycle: int | None = None
    gpu_memory_bytes: int | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> JobTelemetry:
        return cls(
            cpu=float(data["cpu"]),
            memory_bytes=int(data["memory_bytes"]),
            timestamp=float(data["timestamp"]),
            gpu_duty_cycle=data.get("gpu_duty_cycle"),
            gpu_memory_bytes=data.get("gpu_memory_bytes"),
        )


@dataclass(frozen=True)
class ClusterInfo:
    """A cluster of `/config`: its name, where its monitoring service is (logs, top, kill, capacity), its presets."""

    name: str
    monitoring_url: str
    presets: tuple[str, ...] = ()
    orgs: tuple[str, ...] = ()


@dataclass(frozen=True)
class ServerConfig:
    """What `GET /config` says: whether the token was accepted, the clusters, the (cluster, org, project) triples."""

    authorized: bool
    clusters: dict[str, ClusterInfo]
    projects: tuple[tuple[str, str, str], ...] = ()

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ServerConfig:
        clusters = {}
        for item in data.get("clusters") or ():
            presets = tuple(str(p.get("name")) for p in item.get("resource_presets") or ())
            orgs = tuple(str(o) for o in item.get("orgs") or ())
            clusters[str(item["name"])] = ClusterInfo(
                str(item["name"]), str(item.get("monitoring_url", "")).rstrip("/"), presets, orgs
            )
        projects = tuple(
            (str(p.get("cluster_name")), str(p.get("org_name")), str(p.get("name")))
            for p in data.get("projects") or ()
            if p.get("org_name")
        )
        return cls(bool(data.get("authorized", False)), clusters, projects)


def check_preset(server: ServerConfig | None, cluster: str, preset_name: str) -> None:
    """Refuse a preset the cluster does not have, when the client already knows the cluster's presets (from
    `GET /config`); leave it to the server otherwise. Raises InvalidJobSpecError naming preset_name."""
    info = server.clusters.get(cluster) if server is not None else None
    if info is None or not info.presets or preset_name in info.presets:
        return
    shown = ", ".join(info.presets[:20])
    raise InvalidJobSpecError(
        "preset_name", f"Preset was not found: {preset_name[:80]!r} on cluster {cluster}", f"use one of {shown}"
    )
