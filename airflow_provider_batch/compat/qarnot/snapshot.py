"""Snapshots, like the seed's `qarnot.snapshot` and `Task.snapshot` / `Task.instant` / `Task.snapshot_status`:
upload what a running task's instances have written so far to its result bucket (or another one), every `interval`
seconds or once now.

    task.results = conn.create_bucket("my-results")
    task.snapshot_whitelist = r".*\\.ckpt"      # only checkpoints (a regular expression on paths)
    task.snapshot(60)                           # before submit: asked for right after the submission, as the seed
    task.submit()
    snapshot_id = task.instant(bucket_prefix="now/")
    task.snapshot_status(snapshot_id).status.is_completed
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from airflow_provider_batch.clients.qarnot.snapshots import SnapshotConfig
from airflow_provider_batch.clients.qarnot.snapshots import SnapshotStatus as ApiSnapshotStatus

if TYPE_CHECKING:
    from airflow_provider_batch.compat.qarnot.bucket import Bucket
    from airflow_provider_batch.compat.qarnot.connection import Connection


class SnapshotConfiguration:
    """whitelist / blacklist: regular expressions on file paths; bucket_name: where to upload (default the task's
    result bucket); bucket_prefix: put before each key."""

    def __init__(
        self,
        whitelist: str | None = None,
        blacklist: str | None = None,
        bucket_name: str | None = None,
        bucket_prefix: str | None = None,
    ) -> None:
        self.whitelist, self.blacklist = whitelist, blacklist
        self.bucket_name, self.bucket_prefix = bucket_name, bucket_prefix

    def to_json(self) -> dict[str, Any]:
        return SnapshotConfig(self.whitelist, self.blacklist, self.bucket_name, self.bucket_prefix).to_json()


class PeriodicSnapshotConfiguration(SnapshotConfiguration):
    """A SnapshotConfiguration taken every `interval` seconds."""

    def __init__(
        self,
        interval: int,
        whitelist: str | None = None,
        blacklist: str | None = None,
        bucket_name: str | None = None,
        bucket_prefix: str | None = None,
    ) -> None:
        super().__init__(whitelist, blacklist, bucket_name, bucket_prefix)
        self.interval = interval

    def to_json(self) -> dict[str, Any]:
        return {**super().to_json(), "interval": int(self.interval)}


class SnapshotStatus:
    """`status` (Triggered, InProgress, Success, Failure) and whether it is over (`is_completed`)."""

    def __init__(self, status: str) -> None:
        self.status = status
        self.is_completed = status in ("Success", "Failure")

    def __str__(self) -> str:
        return f"snapshot status {self.status}."

    def __repr__(self) -> str:
        return self.status

    def __eq__(self, other: object) -> bool:
        return self.status == (other.status if isinstance(other, SnapshotStatus) else other)

    def __hash__(self) -> int:
        return hash(self.status)


class Snapshot:
    """An instant snapshot: id, task_uuid, trigger_date, last_update_date, snapshot_config, status (a SnapshotStatus),
    size_to_upload, transferred_size. The seed keeps them only as `_id`, `_status`, ... (no public accessor): both
    spellings are here, so a script written for the seed (`snapshot._status.is_completed`) works unchanged."""

    def __init__(self, api: ApiSnapshotStatus) -> None:
        config = api.config
        self.id = self._id = api.id
        self.task_uuid = self._task_uuid = api.task_uuid
        self.trigger_date: datetime | None = api.trigger_date
        self.last_update_date: datetime | None = api.last_update_date
        self._trigger_date, self._last_update_date = self.trigger_date, self.last_update_date
        self.snapshot_config = SnapshotConfiguration(
            config.whitelist, config.blacklist, config.bucket, config.bucket_prefix
        )
        self._snapshot_config = self.snapshot_config
        self.status = self._status = SnapshotStatus(api.status)
        self.size_to_upload = self._size_to_upload = api.size_to_upload
        self.transferred_size = self._transferred_size = api.transferred_size

    def __repr__(self) -> str:
        return f"Snapshot({self.id!r}, task={self.task_uuid!r}, status={self.status.status!r})"


class TaskSnapshots:
    """The snapshot half of `Task` (a mixin): `snapshot`, `instant`, `snapshot_status` and the white/black lists."""

    _connection: Connection
    _uuid: str | None
    _snapshots: int | bool = False  # an interval asked for before submit, True once periodic snapshots run
    _snapshot_whitelist: str | None = None
    _snapshot_blacklist: str | None = None

    def _require_uuid(self) -> str:
        raise NotImplementedError

    def update(self, flushcache: bool = False) -> None:
        raise NotImplementedError

    def snapshot(
        self,
        interval: int,
        whitelist: str | None = None,
        blacklist: str | None = None,
        bucket: Bucket | None = None,
        bucket_prefix: str | None = None,
    ) -> None:
        """Snapshots every `interval` seconds while the task runs. Before submit only the interval is kept and
        asked for right after the submission (as the seed does). A bad interval: ValueError; a finished task:
        UnauthorizedException; a missing one: MissingTaskException."""
        if isinstance(interval, bool) or not isinstance(interval, int) or interval < 1:
            raise ValueError(interval)
        if self._uuid is None:
            self._snapshots = interval
            return
        config = SnapshotConfig(whitelist, blacklist, bucket.uuid if bucket is not None else None, bucket_prefix)
        self._connection._client.snapshot(self._uuid, interval, config)
        self._snapshots = True

    def instant(
        self,
        whitelist: str | None = None,
        blacklist: str | None = None,
        bucket: Bucket | None = None,
        bucket_prefix: str | None = None,
    ) -> str | None:
        """One snapshot now; its id (None before submit, as the seed)."""
        if self._uuid is None:
            return None
        config = SnapshotConfig(whitelist, blacklist, bucket.uuid if bucket is not None else None, bucket_prefix)
        snapshot_id = self._connection._client.instant_snapshot(self._uuid, config)
        self.update(True)
        return snapshot_id

    def snapshot_status(self, snapshot_id: str) -> Snapshot | None:
        """The instant snapshot's status (None before submit); MissingTaskException for an unknown id."""
        if self._uuid is None:
            return None
        return Snapshot(self._connection._client.snapshot_status(self._uuid, snapshot_id))

    @property
    def snapshot_whitelist(self) -> str | None:
        """Files (a regular expression on paths) snapshots upload; set before submit."""
        return self._snapshot_whitelist

    @snapshot_whitelist.setter
    def snapshot_whitelist(self, value: str | None) -> None:
        if self._uuid is not None:
            raise AttributeError("can't set attribute on a launched task")
        self._snapshot_whitelist = value

    @property
    def snapshot_blacklist(self) -> str | None:
        """Files snapshots leave out; set before submit."""
        return self._snapshot_blacklist

    @snapshot_blacklist.setter
    def snapshot_blacklist(self, value: str | None) -> None:
        if self._uuid is not None:
            raise AttributeError("can't set attribute on a launched task")
        self._snapshot_blacklist = value
