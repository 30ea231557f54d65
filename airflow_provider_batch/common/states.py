"""The one job state every backend maps into, and what a status lookup answers."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any


class JobState(str, enum.Enum):
    """Where a batch job is, whatever the scheduler.

    QUEUED: accepted, not running yet. UNKNOWN: the scheduler does not know the job (not ingested yet, or gone);
    treated as still waiting, never as success. REJECTED: refused for good; retrying the same request cannot help.
    """

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    UNKNOWN = "unknown"

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL

    @property
    def is_live(self) -> bool:
        """Queued or running: a job worth waiting for."""
        return self in (JobState.QUEUED, JobState.RUNNING)


_TERMINAL = frozenset({JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED, JobState.REJECTED})


@dataclass(frozen=True)
class JobStatus:
    """A job's state as one lookup saw it.

    `native_state` is the scheduler's own name for it (e.g. Armada's PREEMPTED); `reason` is the scheduler's words
    on a failure (an error message, an exit code), empty otherwise.
    """

    state: JobState
    native_state: str = ""
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"state": self.state.value, "native_state": self.native_state, "reason": self.reason}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> JobStatus:
        return cls(JobState(data["state"]), data.get("native_state", ""), data.get("reason", ""))
