"""Every Qarnot API call as a description (method, path, body, how to read the answer), written once and sent by
both the sync and the asyncio client."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from urllib.parse import quote

from airflow_provider_batch.clients.qarnot_types import (
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

T = TypeVar("T")
DEFAULT_PAGE_SIZE = 100


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
    return Request("POST", "/tasks", _new_uuid, body=spec.to_json(), missing="bucket", idempotent=False)


def submit_tasks(specs: Sequence[TaskSpec]) -> Request[list[SubmitAnswer]]:
    def read(answer: Any) -> list[SubmitAnswer]:
        return [
            SubmitAnswer(int(item.get("statusCode") or 0), str(item.get("uuid") or ""), str(item.get("message") or ""))
            for item in answer or ()
        ]

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
