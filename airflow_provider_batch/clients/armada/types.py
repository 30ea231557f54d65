"""Armada's job states and events, as the client hands them out."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from airflow_provider_batch._proto.armada import event_pb2, submit_pb2


class ArmadaJobState(enum.IntEnum):
    """Armada's api.JobState, with the numbers of the wire (named apart from the common states.JobState)."""

    QUEUED = 0
    PENDING = 1
    RUNNING = 2
    SUCCEEDED = 3
    FAILED = 4
    UNKNOWN = 5
    SUBMITTED = 6
    LEASED = 7
    PREEMPTED = 8
    CANCELLED = 9
    REJECTED = 10

    def is_terminal(self) -> bool:
        return self in _TERMINAL

    def is_active(self) -> bool:
        """Known to Armada and not finished (UNKNOWN is neither: not ingested yet, or never submitted)."""
        return not self.is_terminal() and self is not ArmadaJobState.UNKNOWN


_TERMINAL = frozenset(
    {
        ArmadaJobState.SUCCEEDED,
        ArmadaJobState.FAILED,
        ArmadaJobState.CANCELLED,
        ArmadaJobState.PREEMPTED,
        ArmadaJobState.REJECTED,
    }
)
assert {s.name: s.value for s in ArmadaJobState} == dict(submit_pb2.JobState.items())


class EventType(str, enum.Enum):
    """The members of Armada's EventMessage oneof (`events`)."""

    submitted = "submitted"
    queued = "queued"
    leased = "leased"
    lease_returned = "lease_returned"
    lease_expired = "lease_expired"
    pending = "pending"
    running = "running"
    failed = "failed"
    succeeded = "succeeded"
    reprioritized = "reprioritized"
    cancelling = "cancelling"
    cancelled = "cancelled"
    utilisation = "utilisation"
    ingress_info = "ingress_info"
    reprioritizing = "reprioritizing"
    preempted = "preempted"
    preempting = "preempting"


_STATE_OF_EVENT = {
    EventType.submitted: ArmadaJobState.SUBMITTED,
    EventType.queued: ArmadaJobState.QUEUED,
    EventType.leased: ArmadaJobState.LEASED,
    EventType.lease_returned: ArmadaJobState.QUEUED,
    EventType.lease_expired: ArmadaJobState.QUEUED,
    EventType.pending: ArmadaJobState.PENDING,
    EventType.running: ArmadaJobState.RUNNING,
    EventType.succeeded: ArmadaJobState.SUCCEEDED,
    EventType.cancelled: ArmadaJobState.CANCELLED,
    EventType.preempted: ArmadaJobState.PREEMPTED,
}


@dataclass(frozen=True)
class Event:
    """One message of a job set's event stream.

    `id` is the stream position to resume after; `message` the concrete event (JobRunningEvent, ...).
    """

    id: str
    type: EventType
    message: Any

    @classmethod
    def from_stream_message(cls, stream_message: event_pb2.EventStreamMessage) -> Event:
        kind = stream_message.message.WhichOneof("events")
        if kind is None:
            raise ValueError(f"event {stream_message.id!r} carries no event (a newer server's event type?)")
        return cls(stream_message.id, EventType(kind), getattr(stream_message.message, kind))

    @property
    def job_id(self) -> str:
        return str(self.message.job_id)

    @property
    def job_set_id(self) -> str:
        return str(self.message.job_set_id)

    @property
    def queue(self) -> str:
        return str(self.message.queue)

    @property
    def state(self) -> ArmadaJobState | None:
        """The job state this event moves the job to, or None (utilisation, reprioritize, ... change nothing).

        A failure marked `retryable` is not terminal: Armada will run the job again.
        """
        if self.type is EventType.failed:
            if self.message.retryable:
                return ArmadaJobState.QUEUED
            if self.message.cause == event_pb2.Rejected:
                return ArmadaJobState.REJECTED
            return ArmadaJobState.FAILED
        return _STATE_OF_EVENT.get(self.type)
