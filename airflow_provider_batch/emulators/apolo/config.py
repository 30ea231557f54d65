"""The emulated platform: one cluster, one org, one project, a few presets, and the `/config` document the SDK
logs in with. Everything in it is fixed, so that the document is the same on every call (the SDK compares it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

GiB = 1024**3
MiB = 1024**2


@dataclass(frozen=True)
class Preset:
    """A resource preset: what `preset_name` means to the scheduler."""

    name: str
    cpu: float
    memory: int  # bytes
    credits_per_hour: str  # a decimal string, as the server sends it
    nvidia_gpu: int = 0
    nvidia_gpu_model: str = ""
    scheduler_enabled: bool = False
    preemptible_node: bool = False

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.name,
            "credits_per_hour": self.credits_per_hour,
            "cpu": self.cpu,
            "memory": self.memory,
            "scheduler_enabled": self.scheduler_enabled,
            "preemptible_node": self.preemptible_node,
            "resource_pool_names": ["cpu-pool"] if not self.nvidia_gpu else ["gpu-pool"],
            "available_resource_pool_names": ["cpu-pool"] if not self.nvidia_gpu else ["gpu-pool"],
        }
        if self.nvidia_gpu:
            data["nvidia_gpu"] = {"count": self.nvidia_gpu, "model": self.nvidia_gpu_model, "memory": 16 * GiB}
        return data


DEFAULT_PRESETS = (
    Preset("cpu-small", cpu=1.0, memory=2 * GiB, credits_per_hour="0.5"),
    Preset("cpu-medium", cpu=4.0, memory=8 * GiB, credits_per_hour="2"),
    Preset("cpu-spot", cpu=1.0, memory=2 * GiB, credits_per_hour="0.2", scheduler_enabled=True),
    Preset("gpu-small", cpu=4.0, memory=16 * GiB, credits_per_hour="10", nvidia_gpu=1, nvidia_gpu_model="nvidia-t4"),
)


@dataclass(frozen=True)
class Site:
    """Who the token belongs to and where it may run jobs."""

    cluster: str = "default"
    org: str = "emulator-org"
    project: str = "emulator-project"
    user: str = "emulator-user"
    presets: tuple[Preset, ...] = field(default=DEFAULT_PRESETS)

    def preset(self, name: str) -> Preset | None:
        return next((preset for preset in self.presets if preset.name == name), None)


AUTH_FIELDS = {
    "auth_url": "https://auth.emulator.invalid/authorize",
    "token_url": "https://auth.emulator.invalid/oauth/token",
    "logout_url": "https://auth.emulator.invalid/v2/logout",
    "client_id": "emulator-client-id",
    "audience": "https://platform.emulator.invalid",
    "headless_callback_url": "https://console.emulator.invalid/oauth/show-code",
    "callback_urls": ["http://127.0.0.1:54540", "http://127.0.0.1:54541", "http://127.0.0.1:54542"],
    "success_redirect_url": "https://console.emulator.invalid/oauth/success",
}


def cluster_document(site: Site, base_url: str) -> dict[str, Any]:
    """The cluster entry: every URL points back to the emulator; logs, top and capacity live under `/jobs`."""
    return {
        "name": site.cluster,
        "registry_url": f"{base_url}/registry",
        "storage_url": f"{base_url}/storage",
        "users_url": f"{base_url}/users",
        "monitoring_url": f"{base_url}/jobs",
        "secrets_url": f"{base_url}/secrets",
        "disks_url": f"{base_url}/disk",
        "buckets_url": f"{base_url}/buckets",
        "resource_pool_types": [
            {"name": "cpu-pool", "min_size": 0, "max_size": 4, "cpu": 8.0, "memory": 32 * GiB, "disk_size": 100 * GiB},
            {
                "name": "gpu-pool",
                "min_size": 0,
                "max_size": 1,
                "cpu": 8.0,
                "memory": 64 * GiB,
                "disk_size": 200 * GiB,
                "nvidia_gpu": {"count": 1, "model": "nvidia-t4", "memory": 16 * GiB},
            },
        ],
        "resource_presets": [preset.to_json() for preset in site.presets],
        "orgs": [site.org],
        "timezone": "UTC",
        "energy_schedules": [],
        "storage_volumes": [],
        "apps": {},
    }


def config_document(site: Site, base_url: str, *, authorized: bool) -> dict[str, Any]:
    """`GET /api/v1/config`: the auth fields always; with a valid token also the user's clusters, orgs, projects."""
    document: dict[str, Any] = dict(AUTH_FIELDS)
    if not authorized:
        return document
    document.update(
        {
            "authorized": True,
            "admin_url": f"{base_url}/admin",
            "clusters": [cluster_document(site, base_url)],
            "orgs": [site.org],
            "projects": [{"name": site.project, "cluster_name": site.cluster, "org_name": site.org, "role": "admin"}],
        }
    )
    return document
