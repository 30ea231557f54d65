"""Snapshots of a running Qarnot task: what its instances have written so far, uploaded to a bucket (by default the
task's result bucket) while it runs, either every `interval` seconds (periodic) or once now (instant, with a status
to follow). `whitelist` / `blacklist` are regular expressions on file paths; `bucket_prefix` goes before each key.

The requests (sent by both `QarnotClient` and `QarnotAsyncClient`) and the instant snapshot's status."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from airflow_provider_batch.clients.qarnot.requests import Request, _id, _none
from airflow_provider_batch.clients.qarnot.types import parse_date
from airflow_provider_batch.common.errors import InvalidJobSpecError

SNAPSHOT_STATES = ("Triggered", "InProgress", "Success", "Failure")


@dataclass(frozen=True)
class SnapshotConfig:
    """Which files (regular expressions on their paths) go to which bucket, under which prefix; None: the task's
    snapshot white/black lists and result bucket."""

    whitelist: str | None = None
    blacklist: str | None = None
    bucket: str | None = None
    bucket_prefix: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "whitelist": self.whitelist,
            "blacklist": self.blacklist,
            "bucket": self.bucket,
            "bucketPrefix": self.bucket_prefix,
        }


@dataclass(frozen=True)
class SnapshotStatus:
    """An instant snapshot as `GET /tasks/{uuid}/snapshot/{id}` answers: Triggered, InProgress, Success or Failure."""

    id: str
    task_uuid: str
    status: str
    trigger_date: datetime | None = None
    last_update_date: datetime | None = None
    config: SnapshotConfig = SnapshotConfig()
    size_to_upload: int | None = None
    transferred_size: int | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def is_completed(self) -> bool:
        return self.status in ("Success", "Failure")

    @classmethod
    def from_json(cls, data: Any) -> SnapshotStatus:
        data = dict(data or {})
        config = dict(data.get("snapshotConfig") or {})
        return cls(
            id=str(data.get("id") or ""),
            task_uuid=str(data.get("taskUuid") or ""),
            status=str(data.get("status") or ""),
            trigger_date=parse_date(data.get("triggerDate")),
            last_update_date=parse_date(data.get("lastUpdateDate")),
            config=SnapshotConfig(
                config.get("whitelist"), config.get("blacklist"), config.get("bucket"), config.get("bucketPrefix")
            ),
            size_to_upload=data.get("sizeToUpload"),
            transferred_size=data.get("transferredSize"),
            raw=data,
        )


def check_interval(interval: object) -> int:
    if isinstance(interval, bool) or not isinstance(interval, int) or interval < 1:
        raise InvalidJobSpecError("interval", f"{interval!r} is not a positive number of seconds", "give e.g. 60")
    return interval


def periodic_snapshot(uuid: str, interval: int, config: SnapshotConfig = SnapshotConfig()) -> Request[None]:
    """`POST /tasks/{uuid}/snapshot/periodic`: snapshots every `interval` seconds until the task ends."""
    body = {**config.to_json(), "interval": check_interval(interval)}
    return Request("POST", f"/tasks/{_id(uuid)}/snapshot/periodic", _none, body=body, missing="task")


def instant_snapshot(uuid: str, config: SnapshotConfig = SnapshotConfig()) -> Request[str]:
    """`POST /tasks/{uuid}/snapshot`: one snapshot now; the answer is its id."""

    def read(answer: Any) -> str:
        return str((answer or {}).get("id") or "")

    body = config.to_json()
    return Request("POST", f"/tasks/{_id(uuid)}/snapshot", read, body=body, missing="task", idempotent=False)


def snapshot_status(uuid: str, snapshot_id: str) -> Request[SnapshotStatus]:
    path = f"/tasks/{_id(uuid)}/snapshot/{_id(snapshot_id)}"
    return Request("GET", path, SnapshotStatus.from_json, missing="task")
