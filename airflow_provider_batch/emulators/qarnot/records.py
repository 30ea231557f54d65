"""What the Qarnot emulator keeps about each task, instance, job and pool, and the state names the API uses."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar

# Task states, exactly as the API spells them.
SUBMITTED = "Submitted"
PARTIALLY_DISPATCHED = "PartiallyDispatched"
FULLY_DISPATCHED = "FullyDispatched"
PARTIALLY_EXECUTING = "PartiallyExecuting"
FULLY_EXECUTING = "FullyExecuting"
UPLOADING_RESULTS = "UploadingResults"
PENDING_CANCEL = "PendingCancel"
CANCELLED = "Cancelled"
SUCCESS = "Success"
FAILURE = "Failure"
PENDING_DELETE = "PendingDelete"
TASK_TERMINAL = frozenset({SUCCESS, FAILURE, CANCELLED})

# Job states (the SDK's JobState enum).
JOB_ACTIVE = "Active"
JOB_TERMINATING = "Terminating"
JOB_COMPLETED = "Completed"
JOB_DELETING = "Deleting"

# Pool states: a pool is dispatched and executing like a task, then closed.
POOL_CLOSING = "Closing"
POOL_CLOSED = "Closed"
POOL_OPEN = frozenset({SUBMITTED, FULLY_DISPATCHED, FULLY_EXECUTING})

# Instance states in completedInstances / perRunningInstanceInfo.
INSTANCE_WAITING = "Waiting"
INSTANCE_DOWNLOADING = "Downloading"
INSTANCE_EXECUTING = "Executing"
INSTANCE_SUCCESS = "Success"
INSTANCE_FAILURE = "Failure"
INSTANCE_CANCELLED = "Cancelled"
INSTANCE_DONE = frozenset({INSTANCE_SUCCESS, INSTANCE_FAILURE, INSTANCE_CANCELLED})

MAX_OUTPUT_CHARS = 4 * 1024 * 1024  # the API's stdout is a circular buffer: older text is dropped beyond this


class OutputBuffer:
    """A task's (or an instance's) stdout or stderr: everything kept for GET, a cursor for the "fresh" POST."""

    def __init__(self, limit: int = MAX_OUTPUT_CHARS) -> None:
        self.limit = limit
        self._text = ""
        self._dropped = 0  # characters dropped from the front, so the cursor stays an absolute position
        self._cursor = 0

    def write(self, text: str) -> None:
        self._text += text
        excess = len(self._text) - self.limit
        if excess > 0:
            self._text = self._text[excess:]
            self._dropped += excess

    def all(self) -> str:
        return self._text

    def fresh(self) -> str:
        """What was written since the previous call (what the buffer still holds of it)."""
        start = max(self._cursor - self._dropped, 0)
        self._cursor = self._dropped + len(self._text)
        return self._text[start:]


def now_s() -> float:
    return time.time()


@dataclass
class InstanceRecord:
    """One instance of a task: its own folder, process outcome and output."""

    instance_id: int
    state: str = INSTANCE_WAITING
    started_s: float | None = None
    ended_s: float | None = None
    exit_code: int | None = None
    error: dict[str, str] | None = None
    results: list[str] = field(default_factory=list)
    baseline: dict[str, str] = field(default_factory=dict)  # {relative path: md5} of its folder before it ran
    uploaded: dict[str, dict[str, str]] = field(default_factory=dict)  # bucket -> {key: md5} sent there
    stdout: OutputBuffer = field(default_factory=OutputBuffer)
    stderr: OutputBuffer = field(default_factory=OutputBuffer)


@dataclass(kw_only=True)
class Tracked:
    """What tasks, jobs and pools share: an API object's body as submitted, and its states with their times."""

    uuid: str
    seq: int  # creation order: what paging follows
    body: dict[str, Any]
    state: str = SUBMITTED
    previous_state: str | None = None
    created_s: float = field(default_factory=now_s)
    transition_s: float = field(default_factory=now_s)
    previous_transition_s: float | None = None
    modified_s: float = field(default_factory=now_s)
    ended_s: float | None = None
    history: list[str] = field(default_factory=list)  # every state it went through, in order

    final_states: ClassVar[frozenset[str]] = frozenset()

    def __post_init__(self) -> None:
        self.history.append(self.state)

    @property
    def tags(self) -> list[str]:
        return [str(tag) for tag in self.body.get("tags") or []]

    def move(self, state: str) -> None:
        if state == self.state:
            return
        now = now_s()
        self.previous_state, self.previous_transition_s = self.state, self.transition_s
        self.state, self.transition_s, self.modified_s = state, now, now
        self.history.append(state)
        if state in self.final_states:
            self.ended_s = now


@dataclass(kw_only=True)
class TaskRecord(Tracked):
    """A submitted task: the request as sent (echoed back on GET) and what the emulator made of it."""

    instance_ids: list[int]
    constants: dict[str, str]
    errors: list[dict[str, str]] = field(default_factory=list)
    instances: dict[int, InstanceRecord] = field(default_factory=dict)
    results_count: int = 0
    stdout: OutputBuffer = field(default_factory=OutputBuffer)
    stderr: OutputBuffer = field(default_factory=OutputBuffer)
    driver: asyncio.Task[None] | None = None
    folder: str | None = None
    snapshot_interval: int = 0  # seconds between periodic snapshots (0 = none)
    snapshot_config: dict[str, Any] = field(default_factory=dict)
    snapshots: dict[str, dict[str, Any]] = field(default_factory=dict)  # instant snapshots by id

    final_states: ClassVar[frozenset[str]] = TASK_TERMINAL

    def __post_init__(self) -> None:
        super().__post_init__()
        self.instances = {i: InstanceRecord(i) for i in self.instance_ids}

    @property
    def terminal(self) -> bool:
        return self.state in TASK_TERMINAL

    @property
    def name(self) -> str:
        return str(self.body.get("name") or "")

    @property
    def pool_uuid(self) -> str | None:
        return self.body.get("poolUuid") or None

    @property
    def job_uuid(self) -> str | None:
        return self.body.get("jobUuid") or None


@dataclass(kw_only=True)
class JobRecord(Tracked):
    state: str = JOB_ACTIVE
    task_uuids: list[str] = field(default_factory=list)
    timer: asyncio.Task[None] | None = None

    final_states: ClassVar[frozenset[str]] = frozenset({JOB_COMPLETED})

    @property
    def use_dependencies(self) -> bool:
        return bool(self.body.get("useDependencies"))


@dataclass(kw_only=True)
class PoolRecord(Tracked):
    constants: dict[str, str]
    task_uuids: list[str] = field(default_factory=list)
    driver: asyncio.Task[None] | None = None
    opened: asyncio.Event = field(default_factory=asyncio.Event)
    stdout: OutputBuffer = field(default_factory=OutputBuffer)
    stderr: OutputBuffer = field(default_factory=OutputBuffer)

    final_states: ClassVar[frozenset[str]] = frozenset({POOL_CLOSED})

    @property
    def is_open(self) -> bool:
        return self.state in POOL_OPEN
