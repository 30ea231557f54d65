"""A reference to a submitted job: plain JSON, no secret, enough for any process to find the job again."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class JobRef:
    """backend: "armada", "qarnot", ...; conn_id: the Airflow connection to reach it; job_id: the scheduler's id.

    `details` holds what the backend needs besides the id (Armada: queue and job_set_id), as strings.
    """

    backend: str
    conn_id: str
    job_id: str
    details: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"backend": self.backend, "conn_id": self.conn_id, "job_id": self.job_id, "details": dict(self.details)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> JobRef:
        missing = [key for key in ("backend", "conn_id", "job_id") if not data.get(key)]
        if missing:
            raise ValueError(f"job reference lacks {', '.join(missing)}: {data!r}")
        return cls(str(data["backend"]), str(data["conn_id"]), str(data["job_id"]), dict(data.get("details") or {}))

    def __getitem__(self, key: str) -> str:
        return self.details[key]

    def scheduler_key(self) -> tuple[str, str, str]:
        """Which scheduler endpoint the job lives on: its backend, connection and `channel` detail (explicit channel
        arguments, when the job is reached through them). Jobs with the same key are asked about together."""
        return (self.backend, self.conn_id, self.details.get("channel", ""))
