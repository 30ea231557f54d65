"""Qarnot's JSON as typed values: what the API answers (tasks, jobs, pools, profiles, user info) and what we submit
(task, job and pool specs, serialized field for field as the seed SDK sends them)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any


class TaskState:
    """Task states exactly as the API spells them."""

    SUBMITTED = "Submitted"
    PARTIALLY_DISPATCHED = "PartiallyDispatched"
    FULLY_DISPATCHED = "FullyDispatched"
    PARTIALLY_EXECUTING = "PartiallyExecuting"
    FULLY_EXECUTING = "FullyExecuting"
    DOWNLOADING_RESULTS = "DownloadingResults"
    UPLOADING_RESULTS = "UploadingResults"
    PENDING_CANCEL = "PendingCancel"
    CANCELLED = "Cancelled"
    SUCCESS = "Success"
    FAILURE = "Failure"
    PENDING_DELETE = "PendingDelete"
    TERMINAL = frozenset({SUCCESS, FAILURE, CANCELLED})


_FRACTION = re.compile(r"\.(\d+)")
_TIMESPAN = re.compile(r"^(?:(?P<days>\d+)\.)?(?P<h>\d+):(?P<m>\d{2}):(?P<s>\d{2})(?:\.(?P<f>\d+))?$")
RANGES = re.compile(r"^\d+(-\d+)?(,\d+(-\d+)?)*$")


def parse_date(text: Any) -> datetime | None:
    """The API's dates: `2024-01-02T03:04:05Z`, with up to 7 fraction digits, or with a `+00:00` offset; UTC."""
    if not text:
        return None
    value = str(text).strip().replace("Z", "+00:00").replace("z", "+00:00")
    value = _FRACTION.sub(lambda m: "." + m.group(1)[:6].ljust(6, "0"), value, count=1)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{text!r} is not a date in the Qarnot API's format (YYYY-MM-DDTHH:MM:SS[.f]Z)") from None
    return parsed.replace(tzinfo=timezone.utc) if parsed.tzinfo is None else parsed.astimezone(timezone.utc)


def parse_timespan(text: Any) -> timedelta | None:
    """A .NET TimeSpan (`HH:MM:SS`, `d.HH:MM:SS`, with an optional fraction) as a timedelta."""
    if not text:
        return None
    match = _TIMESPAN.match(str(text).strip())
    if match is None:
        raise ValueError(f"{text!r} is not a duration in the Qarnot API's format ([d.]HH:MM:SS[.f])")
    fraction = float("0." + match["f"]) if match["f"] else 0.0
    return timedelta(
        days=int(match["days"] or 0),
        hours=int(match["h"]),
        minutes=int(match["m"]),
        seconds=int(match["s"]) + fraction,
    )


def format_timespan(value: timedelta | float | str | None) -> str:
    """Seconds or a timedelta as the API's `d.HH:MM:SS` (`HH:MM:SS` under a day); strings pass through."""
    if value is None:
        return "00:00:00"
    if isinstance(value, str):
        parse_timespan(value)
        return value
    seconds = int(value.total_seconds() if isinstance(value, timedelta) else value)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{hours:02d}:{minutes:02d}:{secs:02d}"
    return f"{days}.{text}" if days else text


def tags_filter(tags: Sequence[str], match_all: bool = False) -> dict[str, Any] | None:
    """A paging filter on tags: any of them (Or), or all of them (And); None when there are none."""
    leaves = [{"operator": "Equal", "field": "Tags", "value": tag} for tag in tags]
    if not leaves:
        return None
    if len(leaves) == 1:
        return leaves[0]
    return {"operator": "And" if match_all else "Or", "filters": leaves}


# -- answers ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TaskError:
    code: str
    message: str
    debug: str = ""

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TaskError:
        return cls(str(data.get("code") or ""), str(data.get("message") or ""), str(data.get("debug") or ""))


@dataclass(frozen=True)
class CompletedInstance:
    instance_id: int
    state: str
    wall_time_sec: float = 0.0
    exec_time_sec: float = 0.0
    execution_attempt_count: int = 0
    results: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CompletedInstance:
        return cls(
            instance_id=int(data.get("instanceId") or 0),
            state=str(data.get("state") or ""),
            wall_time_sec=float(data.get("wallTimeSec") or 0.0),
            exec_time_sec=float(data.get("execTimeSec") or 0.0),
            execution_attempt_count=int(data.get("executionAttemptCount") or 0),
            results=tuple(str(r) for r in data.get("results") or ()),
        )


def _constants(items: Any) -> dict[str, str]:
    return {str(c.get("key")): str(c.get("value") or "") for c in items or () if isinstance(c, Mapping)}


@dataclass(frozen=True)
class QarnotTask:
    """A task as GET /tasks/{uuid} (or a paged list) answers it. `raw` keeps every field."""

    uuid: str
    name: str
    state: str
    shortname: str = ""
    profile: str = ""
    pool_uuid: str = ""
    job_uuid: str = ""
    previous_state: str = ""
    creation_date: datetime | None = None
    end_date: datetime | None = None
    progress: float = 0.0
    instance_count: int = 0
    advanced_ranges: str = ""
    execution_time: timedelta | None = None
    wall_time: timedelta | None = None
    errors: tuple[TaskError, ...] = ()
    completed_instances: tuple[CompletedInstance, ...] = ()
    results_count: int = 0
    result_bucket: str = ""
    resource_buckets: tuple[str, ...] = ()
    constants: dict[str, str] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    labels: dict[str, str] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def is_terminal(self) -> bool:
        return self.state in TaskState.TERMINAL

    @property
    def failed_instances(self) -> tuple[CompletedInstance, ...]:
        return tuple(i for i in self.completed_instances if i.state and i.state != TaskState.SUCCESS)

    def failure_reason(self, shown: int = 10) -> str:
        """The task's errors and its failed instances, in Qarnot's words (empty when there are none)."""
        parts = [e.message + (f" ({e.code})" if e.code else "") for e in self.errors if e.message]
        failed = self.failed_instances
        if failed:
            listed = ", ".join(
                f"instance {i.instance_id} {i.state}"
                + (f" after {i.execution_attempt_count} attempt(s)" if i.execution_attempt_count > 1 else "")
                for i in failed[:shown]
            )
            more = f" and {len(failed) - shown} more" if len(failed) > shown else ""
            parts.append(f"failed instances: {listed}{more}")
        return "; ".join(parts)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> QarnotTask:
        resources = [b.get("bucketName", "") for b in data.get("advancedResourceBuckets") or () if isinstance(b, dict)]
        resources += [str(b) for b in data.get("resourceBuckets") or () if isinstance(b, str)]
        return cls(
            uuid=str(data.get("uuid") or ""),
            name=str(data.get("name") or ""),
            state=str(data.get("state") or ""),
            shortname=str(data.get("shortname") or ""),
            profile=str(data.get("profile") or ""),
            pool_uuid=str(data.get("poolUuid") or ""),
            job_uuid=str(data.get("jobUuid") or ""),
            previous_state=str(data.get("previousState") or ""),
            creation_date=parse_date(data.get("creationDate")),
            end_date=parse_date(data.get("endDate")),
            progress=float(data.get("progress") or 0.0),
            instance_count=int(data.get("instanceCount") or 0),
            advanced_ranges=str(data.get("advancedRanges") or ""),
            execution_time=parse_timespan(data.get("executionTime")),
            wall_time=parse_timespan(data.get("wallTime")),
            errors=tuple(TaskError.from_json(e) for e in data.get("errors") or () if isinstance(e, Mapping)),
            completed_instances=tuple(
                CompletedInstance.from_json(i) for i in data.get("completedInstances") or () if isinstance(i, Mapping)
            ),
            results_count=int(data.get("resultsCount") or 0),
            result_bucket=str(data.get("resultBucket") or ""),
            resource_buckets=tuple(r for r in resources if r),
            constants=_constants(data.get("constants")),
            tags=tuple(str(t) for t in data.get("tags") or ()),
            labels={str(k): str(v) for k, v in (data.get("labels") or {}).items()},
            raw=dict(data),
        )


@dataclass(frozen=True)
class QarnotJob:
    uuid: str
    name: str
    state: str
    shortname: str = ""
    pool_uuid: str = ""
    use_dependencies: bool = False
    max_wall_time: timedelta | None = None
    creation_date: datetime | None = None
    tags: tuple[str, ...] = ()
    auto_delete: bool = False
    completion_ttl: timedelta | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> QarnotJob:
        return cls(
            uuid=str(data.get("uuid") or ""),
            name=str(data.get("name") or ""),
            state=str(data.get("state") or ""),
            shortname=str(data.get("shortname") or ""),
            pool_uuid=str(data.get("poolUuid") or ""),
            use_dependencies=bool(data.get("useDependencies")),
            max_wall_time=parse_timespan(data.get("maxWallTime")),
            creation_date=parse_date(data.get("creationDate")),
            tags=tuple(str(t) for t in data.get("tags") or ()),
            auto_delete=bool(data.get("autoDeleteOnCompletion")),
            completion_ttl=parse_timespan(data.get("completionTimeToLive")),
            raw=dict(data),
        )


@dataclass(frozen=True)
class QarnotPool:
    uuid: str
    name: str
    state: str
    profile: str = ""
    shortname: str = ""
    instance_count: int = 0
    creation_date: datetime | None = None
    tags: tuple[str, ...] = ()
    elastic: bool = False
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> QarnotPool:
        return cls(
            uuid=str(data.get("uuid") or ""),
            name=str(data.get("name") or ""),
            state=str(data.get("state") or ""),
            profile=str(data.get("profile") or ""),
            shortname=str(data.get("shortname") or ""),
            instance_count=int(data.get("instanceCount") or 0),
            creation_date=parse_date(data.get("creationDate")),
            tags=tuple(str(t) for t in data.get("tags") or ()),
            elastic=bool((data.get("elasticProperty") or {}).get("isElastic")),
            raw=dict(data),
        )


@dataclass(frozen=True)
class UserInfo:
    email: str
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> UserInfo:
        return cls(str(data.get("email") or ""), dict(data))


@dataclass(frozen=True)
class Profile:
    name: str
    constants: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Profile:
        items = data.get("constants") or ()
        constants = {str(c.get("name") or c.get("key")): str(c.get("value") or "") for c in items}
        return cls(str(data.get("name") or ""), constants)


@dataclass(frozen=True)
class Page:
    """One page of a paged list; pass `next_token` to get the next one while `is_truncated`."""

    items: list[Any]
    next_token: str | None
    is_truncated: bool


@dataclass(frozen=True)
class SubmitAnswer:
    """One entry of a many-task POST /tasks: the new uuid, or the status and message of its refusal."""

    status_code: int
    uuid: str
    message: str = ""

    @property
    def ok(self) -> bool:
        return 200 <= self.status_code < 300 and bool(self.uuid)


# -- what we submit ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResourceBucket:
    """An input bucket; `prefix` keeps only the objects under it, `strip_prefix` removes it from their paths."""

    name: str
    prefix: str = ""
    strip_prefix: str = ""
    cache_ttl_sec: int | None = None

    def to_json(self) -> dict[str, Any]:
        filtering = {"prefixFiltering": {"prefix": self.prefix}} if self.prefix else {}
        transform = {"stripPrefix": {"prefix": self.strip_prefix}} if self.strip_prefix else {}
        return {
            "bucketName": self.name,
            "filtering": filtering,
            "resourcesTransformation": transform,
            "cacheTTLSec": self.cache_ttl_sec,
        }


@dataclass(frozen=True)
class TaskSpec:
    """A task to submit. Exactly one of profile / pool_uuid, and of instance_count / advanced_ranges ("0-3,7")."""

    name: str
    profile: str | None = None
    pool_uuid: str | None = None
    instance_count: int | None = 1
    advanced_ranges: str | None = None
    constants: Mapping[str, str] = field(default_factory=dict)
    tags: Sequence[str] = ()
    labels: Mapping[str, str] = field(default_factory=dict)
    shortname: str | None = None
    job_uuid: str | None = None
    resources: Sequence[ResourceBucket] = ()
    result_bucket: str | None = None
    hardware_constraints: Sequence[Mapping[str, Any]] = ()
    scheduling_type: str | None = None
    auto_delete: bool = False
    completion_ttl: timedelta | float | str | None = None
    max_time_queue_seconds: int | None = None
    depends_on: Sequence[str] = ()
    max_total_retries: int | None = None
    max_retries_per_instance: int | None = None
    snapshot_whitelist: str | None = None  # regular expressions on file paths: what snapshots upload
    snapshot_blacklist: str | None = None

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "name": self.name,
            "profile": self.profile,
            "poolUuid": self.pool_uuid,
            "jobUuid": self.job_uuid or None,
            "constants": [{"key": k, "value": v} for k, v in self.constants.items()],
            "constraints": [],
            "forcedConstants": [],
            "waitForPoolResourcesSynchronization": None,
            "uploadResultsOnCancellation": None,
            "labels": dict(self.labels),
            "dependencies": {"dependsOn": list(self.depends_on)},
        }
        if self.shortname is not None:
            body["shortname"] = self.shortname
        body["advancedResourceBuckets"] = [r.to_json() for r in self.resources]
        if self.max_time_queue_seconds is not None:
            body["maxTimeQueueSeconds"] = self.max_time_queue_seconds
        if self.result_bucket:
            body["resultBucket"] = self.result_bucket
        if self.advanced_ranges is not None:
            body["advancedRanges"] = self.advanced_ranges
        else:
            body["instanceCount"] = self.instance_count
        body["tags"] = list(self.tags)
        body["autoDeleteOnCompletion"] = self.auto_delete
        body["completionTimeToLive"] = format_timespan(self.completion_ttl)
        body["hardwareConstraints"] = [dict(h) for h in self.hardware_constraints]
        body["defaultResourcesCacheTTLSec"] = None
        body["privileges"] = {"exportApiAndStorageCredentialsInEnvironment": False}
        body["retrySettings"] = {
            "maxTotalRetries": self.max_total_retries,
            "maxPerInstanceRetries": self.max_retries_per_instance,
        }
        if self.scheduling_type is not None:
            body["schedulingType"] = self.scheduling_type
        body["forcedNetworkRules"] = []
        if self.snapshot_whitelist is not None:  # only when set, as the SDK sends them
            body["snapshotWhitelist"] = self.snapshot_whitelist
        if self.snapshot_blacklist is not None:
            body["snapshotBlacklist"] = self.snapshot_blacklist
        return body


@dataclass(frozen=True)
class JobSpec:
    """A job groups tasks; with use_dependencies its tasks may wait for each other (TaskSpec.depends_on)."""

    name: str
    shortname: str | None = None
    pool_uuid: str | None = None
    use_dependencies: bool = False
    max_wall_time: timedelta | float | str | None = None
    auto_delete: bool = False
    completion_ttl: timedelta | float | str | None = None
    tags: Sequence[str] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "shortname": self.shortname,
            "poolUuid": self.pool_uuid,
            "state": "",
            "useDependencies": self.use_dependencies,
            "maxWallTime": format_timespan(self.max_wall_time) if self.max_wall_time is not None else None,
            "autoDeleteOnCompletion": self.auto_delete,
            "completionTimeToLive": format_timespan(self.completion_ttl),
            "tags": list(self.tags),
        }


@dataclass(frozen=True)
class ElasticSettings:
    min_total_slots: int = 0
    max_total_slots: int = 1
    min_idle_slots: int = 0
    resize_period: int = 90
    resize_factor: float = 1.0
    min_idle_time_seconds: int = 0


@dataclass(frozen=True)
class PoolSpec:
    """A pool: instances of a profile kept up for tasks submitted into it; `elastic` resizes it with the load."""

    name: str
    profile: str
    instance_count: int = 1
    constants: Mapping[str, str] = field(default_factory=dict)
    tags: Sequence[str] = ()
    labels: Mapping[str, str] = field(default_factory=dict)
    shortname: str | None = None
    resources: Sequence[ResourceBucket] = ()
    elastic: ElasticSettings | None = None
    auto_delete: bool = False
    completion_ttl: timedelta | float | str | None = None

    def to_json(self) -> dict[str, Any]:
        elastic = self.elastic or ElasticSettings()
        body: dict[str, Any] = {
            "name": self.name,
            "profile": self.profile,
            "constants": [{"key": k, "value": v} for k, v in self.constants.items()],
            "forcedConstants": [],
            "constraints": [],
            "instanceCount": self.instance_count,
            "tags": list(self.tags),
            "preparationTask": None,
            "elasticProperty": {
                "isElastic": self.elastic is not None,
                "minTotalSlots": elastic.min_total_slots,
                "maxTotalSlots": elastic.max_total_slots,
                "minIdleSlots": elastic.min_idle_slots,
                "resizePeriod": elastic.resize_period,
                "rampResizeFactor": elastic.resize_factor,
                "minIdleTimeSeconds": elastic.min_idle_time_seconds,
            },
            "taskDefaultWaitForPoolResourcesSynchronization": False,
            "labels": dict(self.labels),
        }
        if self.shortname is not None:
            body["shortname"] = self.shortname
        body["advancedResourceBuckets"] = [r.to_json() for r in self.resources]
        body["autoDeleteOnCompletion"] = self.auto_delete
        body["completionTimeToLive"] = format_timespan(self.completion_ttl)
        body["hardwareConstraints"] = []
        body["defaultResourcesCacheTTLSec"] = None
        body["privileges"] = {"exportApiAndStorageCredentialsInEnvironment": False}
        body["defaultRetrySettings"] = {"maxTotalRetries": None, "maxPerInstanceRetries": None}
        body["forcedNetworkRules"] = []
        return body
