"""An Apolo job as the emulator keeps it: the request it was started with, its status history, its log lines."""

from __future__ import annotations

import asyncio
import enum
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow_provider_batch.emulators.runner import OutputLine


class Status(str, enum.Enum):
    """platform-api's JobStatus values, as they appear on the wire."""

    PENDING = "pending"
    SUSPENDED = "suspended"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)


class Reason:
    """platform-api's JobStatusReason strings the emulator uses."""

    CREATING = "Creating"
    SCHEDULING = "Scheduling"
    CONTAINER_CREATING = "ContainerCreating"
    RESTARTING = "Restarting"
    COMPLETED = "Completed"
    ERROR = "Error"
    CONTAINER_CANNOT_RUN = "ContainerCannotRun"
    CLUSTER_SCALE_UP_FAILED = "ClusterScaleUpFailed"
    USER_REQUESTED = "UserRequested"
    LIFE_SPAN_ENDED = "LifeSpanEnded"


def now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class StatusItem:
    """One entry of the job's `statuses[]`: a change of status, reason or description."""

    status: Status
    transition_time: datetime
    reason: str | None = None
    description: str | None = None
    exit_code: int | None = None

    def same_as(self, other: StatusItem) -> bool:
        """platform-api compares items without their time: an equal item is not a new transition."""
        return (self.status, self.reason, self.description, self.exit_code) == (
            other.status,
            other.reason,
            other.description,
            other.exit_code,
        )


@dataclass
class JobSpec:
    """A validated start request (both the flat `?from_preset` form and the `container` form)."""

    cluster_name: str
    org_name: str
    project_name: str
    container: dict[str, Any]  # image, command, entrypoint, env, ..., resources{cpu, memory, shm, ...}
    preset_name: str | None = None
    name: str | None = None
    tags: list[str] = field(default_factory=list)
    description: str | None = None
    pass_config: bool = False
    wait_for_jobs_quota: bool = False
    privileged: bool = False
    priority: str = "normal"
    schedule_timeout: float | None = None
    max_run_time_minutes: int | None = None
    restart_policy: str = "never"
    scheduler_enabled: bool = False
    preemptible_node: bool = False
    energy_schedule_name: str | None = None
    credits_per_hour: str = "0"


@dataclass
class JobRecord:
    """A job: its id, owner and spec, its status history (first item = creation), its output lines."""

    id: str
    owner: str
    spec: JobSpec
    history: list[StatusItem]
    logs: list[OutputLine] = field(default_factory=list)
    restarts: int = 0
    live_from: int = 0  # index in `logs` of the current run's first line: earlier runs are "archived"
    workdir: str | None = None  # the current run's folder (exec runs there), None between runs
    task: asyncio.Task[None] | None = field(default=None, repr=False)
    watcher: asyncio.Task[None] | None = field(default=None, repr=False)  # the life-span check
    output_changed: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    @property
    def current(self) -> StatusItem:
        return self.history[-1]

    @property
    def status(self) -> Status:
        return self.current.status

    @property
    def finished(self) -> bool:
        return self.status.finished

    @property
    def created_at(self) -> datetime:
        return self.history[0].transition_time

    @property
    def started_at(self) -> datetime | None:
        return next((item.transition_time for item in self.history if item.status is Status.RUNNING), None)

    @property
    def live_started(self) -> datetime | None:
        """When the current (latest) run started."""
        return next((item.transition_time for item in reversed(self.history) if item.status is Status.RUNNING), None)

    @property
    def finished_at(self) -> datetime | None:
        return self.current.transition_time if self.finished else None

    def run_time(self, at: datetime | None = None) -> timedelta:
        """Time spent running, summed over every running stretch (platform-api's get_run_time)."""
        total = timedelta()
        since: datetime | None = None
        for item in self.history:
            if since is not None:
                total += item.transition_time - since
            since = item.transition_time if item.status is Status.RUNNING else None
        if since is not None:
            total += (at or now()) - since
        return total

    def move(self, item: StatusItem) -> bool:
        """Append `item` unless it equals the current one; wakes log and top readers. False once finished."""
        if self.finished:
            return False
        if not item.same_as(self.current):
            self.history.append(item)
        self.notify()
        return True

    def notify(self) -> None:
        self.output_changed.set()
        self.output_changed = asyncio.Event()

    @property
    def uri(self) -> str:
        return f"job://{self.spec.cluster_name}/{self.spec.org_name}/{self.spec.project_name}/{self.id}"
