"""`armada_client.permissions`: who may do what on a queue (`create_queue(name, permissions=[Permissions(...)])`)."""

from __future__ import annotations

from typing import NamedTuple

from airflow_provider_batch._proto.armada import submit_pb2


class Subject(NamedTuple):
    """A user or group a queue permission is granted to: kind ("User" or "Group") and name."""

    kind: str
    name: str

    def to_grpc(self) -> submit_pb2.Queue.Permissions.Subject:
        """This subject as the Queue.Permissions.Subject message."""
        return submit_pb2.Queue.Permissions.Subject(kind=self.kind, name=self.name)


class Permissions:
    """The verbs (e.g. "submit", "cancel", "watch") the subjects may use on a queue."""

    def __init__(self, subjects: list[Subject], verbs: list[str]) -> None:
        self.subjects = subjects
        self.verbs = verbs

    def to_grpc(self) -> submit_pb2.Queue.Permissions:
        """These permissions as the Queue.Permissions message."""
        return submit_pb2.Queue.Permissions(subjects=[s.to_grpc() for s in self.subjects], verbs=self.verbs)


__all__ = ["Permissions", "Subject"]
