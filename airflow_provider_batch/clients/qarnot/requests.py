"""Every Qarnot API call as a description (method, path, body, how to read the answer), written once and sent by
both the sync and the asyncio client."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from urllib.parse import quote

from airflow_provider_batch.clients.qarnot.storage import check_bucket_name, check_prefix
from airflow_provider_batch.clients.qarnot.types import (
    JobSpec,
    Page,
    PoolSpec,
    Profile,
    QarnotJob,
    QarnotPool,
    QarnotTask,
    SubmitAnswer,
    TaskSpec,
    UserInfo,
    tags_filter,
)
from airflow_provider_batch.common.errors import InvalidJobSpecError

T = TypeVar("T")
DEFAULT_PAGE_SIZE = 100
MAX_INSTANCES = 10_000  # instances in one task (the emulator's quota; Qarnot's own depends on the account)
MAX_TAGS = 100
MAX_TAG_LENGTH = 256
MAX_NAME_LENGTH = 1024
MAX_RANGES_LENGTH = 10_000  # characters of advancedRanges
_RANGES = re.compile(r"\d{1,9}(?:-\d{1,9})?(?:,\d{1,9}(?:-\d{1,9})?)*")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
INSTANCE_FIX = "give instance_count from 1 to 10000, or instance_ranges such as '0-3,7'"


def instance_ids_count(ranges: str, field: str = "instance_ranges") -> int:
    """How many instances "0-3,7" runs; InvalidJobSpecError for what Qarnot refuses (advancedRanges)."""
    if not isinstance(ranges, str) or not ranges.strip():
        raise InvalidJobSpecError(field, "advancedRanges is empty", "give instance ids such as '0-3,7'")
    text = ranges.replace(" ", "")
    if len(text) > MAX_RANGES_LENGTH or not _RANGES.fullmatch(text):
        raise InvalidJobSpecError(field, f"{ranges[:80]!r} is not a list of ids and ranges", 'e.g. "0-3,7,10-12"')
    ids = 0
    previous = -1
    for part in text.split(","):
        low, dash, high = part.partition("-")
        first, last = int(low), int(high) if dash else int(low)
        if last < first:
            raise InvalidJobSpecError(field, f"range {part} runs backwards", f"write {last}-{first}")
        if first <= previous:
            raise InvalidJobSpecError(
                field, f"advancedRanges: {part!r} must be increasing non-negative ids", "sort the ranges, no overlaps"
            )
        previous = last
        ids += last - first + 1
        if ids > MAX_INSTANCES:
            raise InvalidJobSpecError(field, f"advancedRanges: more than {MAX_INSTANCES} instances", INSTANCE_FIX)
    return ids


def check_instance_count(count: object, field: str = "instance_count") -> int:
    """The instance count: a whole number from 1 to MAX_INSTANCES."""
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise InvalidJobSpecError(
            field, f"{count!r} is not a positive whole number", "e.g. 4 (instanceCount must be a positive integer)"
        )
    if count > MAX_INSTANCES:
        raise InvalidJobSpecError(field, f"instanceCount: more than {MAX_INSTANCES} instances", INSTANCE_FIX)
    return count


def check_text(value: object, field: str, maximum: int = MAX_NAME_LENGTH, empty: bool = False) -> str:
    """A string of at most `maximum` characters without control characters (NUL, newline, ...)."""
    if not isinstance(value, str):
        raise InvalidJobSpecError(field, f"is a {type(value).__name__}, not a string", "give a string")
    if not empty and not value.strip():
        raise InvalidJobSpecError(field, "is empty", "give a non-empty string")
    if len(value) > maximum:
        raise InvalidJobSpecError(field, f"is {len(value)} characters", f"at most {maximum}")
    if _CONTROL.search(value):
        raise InvalidJobSpecError(field, f"{value[:80]!r} holds a control character (NUL, newline, ...)", "remove it")
    return value


def check_tags(tags: object, field: str = "tags") -> list[str]:
    """Qarnot tags: a list of strings ("tags must be a list of strings"), each 1 to 256 characters, no control
    characters, at most 100 of them."""
    if isinstance(tags, (str, bytes, Mapping)) or not isinstance(tags, (list, tuple)):
        raise InvalidJobSpecError(field, "tags must be a list of strings", 'e.g. ["nightly", "team-a"]')
    if len(tags) > MAX_TAGS:
        raise InvalidJobSpecError(field, f"{len(tags)} tags", f"give at most {MAX_TAGS}")
    for tag in tags:
        if not isinstance(tag, str):
            raise InvalidJobSpecError(field, "tags must be a list of strings", f"{tag!r} is a {type(tag).__name__}")
        check_text(tag, f"{field}[{tag[:40]!r}]", MAX_TAG_LENGTH)
    return list(tags)


def check_string_map(value: object, field: str) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise InvalidJobSpecError(field, f"is a {type(value).__name__}", "give a dict of strings")
    for key, item in value.items():
        check_text(key, f"{field} key", MAX_NAME_LENGTH)
        if not isinstance(item, str) or "\x00" in item:
            raise InvalidJobSpecError(f"{field}.{key}", "is not a string without NUL", "give a string")
    return dict(value)


def validate_task_spec(spec: TaskSpec) -> TaskSpec:
    """Refuse, before sending, what Qarnot refuses for a clear reason (the emulator's words where it has them)."""
    if not isinstance(spec.name, str) or not spec.name.strip():
        raise InvalidJobSpecError("name", "a task needs a non-empty name", "give the task a name")
    check_text(spec.name, "name")
    if (spec.profile is None) == (spec.pool_uuid is None):
        raise InvalidJobSpecError("profile", "give exactly one of profile and pool", "e.g. profile='docker-batch'")
    for field, value in (("profile", spec.profile), ("qarnot_pool", spec.pool_uuid), ("job", spec.job_uuid)):
        if value is not None:
            check_text(value, field)
    if spec.shortname is not None:
        check_text(spec.shortname, "shortname")
    if spec.advanced_ranges is not None:
        instance_ids_count(spec.advanced_ranges)
    else:
        check_instance_count(spec.instance_count)
    check_tags(spec.tags)
    check_string_map(spec.labels, "labels")
    check_string_map(spec.constants, "constants")
    for index, bucket in enumerate(spec.resources):
        check_bucket_name(bucket.name, f"input_buckets[{index}]")
        check_prefix(bucket.prefix, f"input_buckets[{index}].prefix")
    if spec.result_bucket is not None:
        check_bucket_name(spec.result_bucket, "result_bucket")
    return spec


@dataclass(frozen=True)
class Request(Generic[T]):
    """One HTTP call. `missing` says what a 404 means ("task", "job", ...); `text` reads a text/plain answer;
    `idempotent=False` (submissions) retries only 429, since a 5xx or a lost answer may hide a created object."""

    method: str
    path: str
    parse: Callable[[Any], T]
    body: Any = None
    missing: str = ""
    text: bool = False
    idempotent: bool = True

    @property
    def call(self) -> str:
        return f"{self.method} {self.path.split('?')[0]}"


def _id(value: str) -> str:
    if not value or not str(value).strip():
        raise ValueError("an empty uuid was given")
    return quote(str(value), safe="")


def _none(_: Any) -> None:
    return None


def _new_uuid(answer: Any) -> str:
    """The uuid a creation answers with (`{"uuid": ...}`)."""
    return str((answer or {})["uuid"])


def _text(answer: Any) -> str:
    return str(answer or "")


def settings() -> Request[dict[str, Any]]:
    return Request("GET", "/settings", lambda a: dict(a or {}))


def user_info() -> Request[UserInfo]:
    return Request("GET", "/info", UserInfo.from_json)


def profiles() -> Request[list[str]]:
    return Request("GET", "/profiles", lambda a: [str(p) for p in a or ()])


def retrieve_profile(name: str) -> Request[Profile]:
    return Request("GET", f"/profiles/{_id(name)}", Profile.from_json, missing="profile")


def _page(parse: Callable[[dict[str, Any]], T]) -> Callable[[Any], Page]:
    def read(answer: Any) -> Page:
        answer = answer or {}
        return Page(
            items=[parse(item) for item in answer.get("data") or ()],
            next_token=answer.get("nextToken"),
            is_truncated=bool(answer.get("isTruncated")),
        )

    return read


def _paginate_body(
    token: str | None,
    maximum: int | None,
    tags: Sequence[str] | None,
    tags_intersect: Sequence[str] | None,
    filter_: dict[str, Any] | None,
) -> tuple[dict[str, Any], bool]:
    chosen = (
        filter_ if filter_ is not None else tags_filter(tags_intersect or tags or (), match_all=bool(tags_intersect))
    )
    return {"filter": chosen, "token": token, "maximumResults": maximum}, chosen is not None


def tasks_page(
    token: str | None = None,
    maximum: int | None = DEFAULT_PAGE_SIZE,
    tags: Sequence[str] | None = None,
    tags_intersect: Sequence[str] | None = None,
    filter_: dict[str, Any] | None = None,
    summary: bool = False,
) -> Request[Page]:
    """Full tasks (POST /tasks/paginate), or summaries when `summary` and there is no filter, like the seed."""
    body, filtered = _paginate_body(token, maximum, tags, tags_intersect, filter_)
    path = "/tasks/summaries/paginate" if summary and not filtered else "/tasks/paginate"
    return Request("POST", path, _page(QarnotTask.from_json), body=body)


def jobs_page(
    token: str | None = None,
    maximum: int | None = DEFAULT_PAGE_SIZE,
    tags: Sequence[str] | None = None,
    tags_intersect: Sequence[str] | None = None,
    filter_: dict[str, Any] | None = None,
) -> Request[Page]:
    body, _ = _paginate_body(token, maximum, tags, tags_intersect, filter_)
    return Request("POST", "/jobs/paginate", _page(QarnotJob.from_json), body=body)


def pools_page(
    token: str | None = None,
    maximum: int | None = DEFAULT_PAGE_SIZE,
    tags: Sequence[str] | None = None,
    tags_intersect: Sequence[str] | None = None,
    filter_: dict[str, Any] | None = None,
) -> Request[Page]:
    body, _ = _paginate_body(token, maximum, tags, tags_intersect, filter_)
    return Request("POST", "/pools/paginate", _page(QarnotPool.from_json), body=body)


# -- tasks ------------------------------------------------------------------------------------------------------


def retrieve_task(uuid: str) -> Request[QarnotTask]:
    return Request("GET", f"/tasks/{_id(uuid)}", QarnotTask.from_json, missing="task")


def submit_task(spec: TaskSpec) -> Request[str]:
    """One task; 404 means a resource bucket is missing (the seed's reading)."""
    validate_task_spec(spec)
    return Request("POST", "/tasks", _new_uuid, body=spec.to_json(), missing="bucket", idempotent=False)


def submit_tasks(specs: Sequence[TaskSpec]) -> Request[list[SubmitAnswer]]:
    def read(answer: Any) -> list[SubmitAnswer]:
        return [
            SubmitAnswer(int(item.get("statusCode") or 0), str(item.get("uuid") or ""), str(item.get("message") or ""))
            for item in answer or ()
        ]

    for spec in specs:
        validate_task_spec(spec)
    return Request("POST", "/tasks", read, body=[s.to_json() for s in specs], missing="bucket", idempotent=False)


def abort_task(uuid: str) -> Request[None]:
    return Request("POST", f"/tasks/{_id(uuid)}/abort", _none, missing="task")


def delete_task(uuid: str) -> Request[None]:
    return Request("DELETE", f"/tasks/{_id(uuid)}", _none, missing="task")


def task_output(uuid: str, stream: str, fresh: bool, instance_id: int | None = None) -> Request[str]:
    """stdout or stderr: GET gives all of it; POST ("fresh") only what came since the previous fresh call."""
    path = f"/tasks/{_id(uuid)}/{stream}" + (f"/{int(instance_id)}" if instance_id is not None else "")
    return Request("POST" if fresh else "GET", path, _text, missing="task", text=True, idempotent=not fresh)


# -- jobs -------------------------------------------------------------------------------------------------------


def submit_job(spec: JobSpec) -> Request[str]:
    return Request("POST", "/jobs/", _new_uuid, body=spec.to_json(), missing="job", idempotent=False)


def retrieve_job(uuid: str) -> Request[QarnotJob]:
    return Request("GET", f"/jobs/{_id(uuid)}", QarnotJob.from_json, missing="job")


def terminate_job(uuid: str) -> Request[None]:
    return Request("POST", f"/jobs/{_id(uuid)}/terminate", _none, missing="job")


def delete_job(uuid: str, force: bool = False) -> Request[None]:
    return Request("DELETE", f"/jobs/{_id(uuid)}?force={force}", _none, missing="job")


def job_tasks(uuid: str) -> Request[list[QarnotTask]]:
    return Request(
        "GET", f"/jobs/{_id(uuid)}/tasks", lambda a: [QarnotTask.from_json(t) for t in a or ()], missing="job"
    )


# -- pools ------------------------------------------------------------------------------------------------------


def submit_pool(spec: PoolSpec) -> Request[str]:
    return Request("POST", "/pools", _new_uuid, body=spec.to_json(), missing="bucket", idempotent=False)


def retrieve_pool(uuid: str) -> Request[QarnotPool]:
    return Request("GET", f"/pools/{_id(uuid)}", QarnotPool.from_json, missing="pool")


def close_pool(uuid: str) -> Request[None]:
    return Request("POST", f"/pools/{_id(uuid)}/close", _none, missing="pool")


def delete_pool(uuid: str) -> Request[None]:
    return Request("DELETE", f"/pools/{_id(uuid)}", _none, missing="pool")
