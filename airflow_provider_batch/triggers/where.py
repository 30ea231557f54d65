"""Where a deferred job's trigger asks for the job's state: a plain-JSON choice made when the task defers.

- `cache` (the default): the job-service cache embedded in this triggerer, shared by all its triggers, which asks
  the scheduler about all watched jobs of a connection together.
- `jobservice`: a standalone job service, named by a `batch_jobservice` connection (`[batch] jobservice_conn_id`)
  or, for the original Armada API, by channel arguments (`job_service_channel_args`).
- `scheduler`: the scheduler itself, one call per job per poll (for measurements and debugging).

`open_source` is the one factory that turns a choice into a status source.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from airflow_provider_batch.common.errors import InvalidJobSpecError
from airflow_provider_batch.common.jobref import JobRef
from airflow_provider_batch.common.limits import check_conn_id
from airflow_provider_batch.hooks.armada_channel_args import ChannelSpec
from airflow_provider_batch.triggers.sources import (
    CachedStatusSource,
    DirectStatusSource,
    RemoteStatusSource,
    StatusSource,
    remotely_servable,
)

CACHE, JOBSERVICE, SCHEDULER = "cache", "jobservice", "scheduler"
KINDS = (CACHE, JOBSERVICE, SCHEDULER)


@dataclass(frozen=True)
class WhereToAsk:
    """ask: "cache", "jobservice" or "scheduler" (see the module docstring).
    jobservice_conn_id: the `batch_jobservice` connection of the job service (ask="jobservice").
    jobservice_channel: instead of a connection, the job service's channel arguments (`ChannelSpec.key()`).
    """

    ask: str = CACHE
    jobservice_conn_id: str = ""
    jobservice_channel: str = ""

    def __post_init__(self) -> None:
        if self.ask not in KINDS:
            raise InvalidJobSpecError("where.ask", f"{self.ask!r} is not one of {list(KINDS)}")
        if self.ask == JOBSERVICE and bool(self.jobservice_conn_id) == bool(self.jobservice_channel):
            raise InvalidJobSpecError(
                "where", "a job service is named by exactly one of jobservice_conn_id and jobservice_channel"
            )
        if self.jobservice_conn_id:
            check_conn_id(self.jobservice_conn_id, "where.jobservice_conn_id")
        if self.jobservice_channel:
            ChannelSpec.from_key(self.jobservice_channel, "where.jobservice_channel")

    def to_json(self) -> dict[str, Any]:
        return {
            "ask": self.ask,
            "jobservice_conn_id": self.jobservice_conn_id,
            "jobservice_channel": self.jobservice_channel,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> WhereToAsk:
        if not data:
            return cls()
        unknown = sorted(set(data) - {"ask", "jobservice_conn_id", "jobservice_channel"})
        if unknown:
            raise InvalidJobSpecError("where", f"has unknown keys {unknown}")
        return cls(
            str(data.get("ask") or CACHE),
            str(data.get("jobservice_conn_id") or ""),
            str(data.get("jobservice_channel") or ""),
        )

    def describe(self) -> str:
        """Where, in words, for the task log."""
        if self.ask == SCHEDULER:
            return "the scheduler directly"
        if self.ask == CACHE:
            return "this triggerer's job-service cache"
        if self.jobservice_channel:
            return f"the job service at {ChannelSpec.from_key(self.jobservice_channel).channel.target}"
        return f"the job service of connection {self.jobservice_conn_id}"

    @classmethod
    def job_service(cls, conn_id: str = "", channel: ChannelSpec | None = None) -> WhereToAsk:
        return cls(JOBSERVICE, conn_id, channel.key() if channel else "")

    @classmethod
    def default_for(cls, job: JobRef, jobservice_conn_id: str = "") -> WhereToAsk:
        """The job service named by `jobservice_conn_id` (`[batch] jobservice_conn_id`) when it may serve this job,
        else this triggerer's cache. Jobs the service does not serve (those reached through channel arguments:
        trusted from a DAG author, never sent over the wire) are watched in the triggerer."""
        if jobservice_conn_id and remotely_servable(job):
            return cls.job_service(conn_id=jobservice_conn_id)
        return cls()


def configured_jobservice() -> str:
    """`[batch] jobservice_conn_id`: the standalone job service deferred tasks ask by default ("" for none)."""
    from airflow.sdk import conf

    return str(conf.get("batch", "jobservice_conn_id", fallback="") or "")


def open_source(where: WhereToAsk, job: JobRef) -> StatusSource:
    """The status source for a choice of where to ask, for one job."""
    if where.ask == SCHEDULER:
        return DirectStatusSource(job)
    if where.ask == JOBSERVICE:
        channel = ChannelSpec.from_key(where.jobservice_channel) if where.jobservice_channel else None
        return RemoteStatusSource(where.jobservice_conn_id, channel)
    return CachedStatusSource()
