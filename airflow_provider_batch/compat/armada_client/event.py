"""`armada_client.event`: one message of a job set's event stream, as `Event(stream_message)` builds it."""

from __future__ import annotations

from typing import Any

from airflow_provider_batch._proto.armada import event_pb2
from airflow_provider_batch.clients.armada.types import ArmadaJobState, EventType
from airflow_provider_batch.clients.armada.types import Event as CoreEvent


class Event:
    """A job-set event: `type` (EventType: submitted, running, failed, ...), `message` (the concrete event, e.g.
    JobFailedEvent, with job_id, job_set_id, queue, reason...) and `id` (the stream position).

    Built from an EventStreamMessage, e.g. `Event(message)` for each message of `get_job_events_stream(...)`. A
    message that carries no event (a type newer than this client) raises ValueError, as in the original.
    """

    def __init__(self, event: event_pb2.EventStreamMessage) -> None:
        if event.message.WhichOneof("events") is None:
            raise ValueError("Event message type is None")
        self._core = CoreEvent.from_stream_message(event)
        self.type: EventType = self._core.type
        self.message: Any = self._core.message
        self.id: str = self._core.id

    @property
    def job_id(self) -> str:
        """The job the event is about."""
        return self._core.job_id

    @property
    def state(self) -> ArmadaJobState | None:
        """The job state this event moves the job to, or None for events that change no state."""
        return self._core.state

    def __repr__(self) -> str:
        return (
            f"Event ID: {self.id}\n"
            f"Message Type {self.type} \n"
            f"Job ID: {self.message.job_id} \n"
            f"Job Set ID: {self.message.job_set_id} \n"
            f"Queue: {self.message.queue} \n"
        )


__all__ = ["Event", "EventType"]
