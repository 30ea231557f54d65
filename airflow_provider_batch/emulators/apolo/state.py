"""Every Apolo job the emulator knows, with the lookups and filters of platform-api's jobs service: by id or by
name (the newest of that name), the NDJSON list's filters, and the one-live-job-per-name rule."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from multidict import MultiMapping

from airflow_provider_batch.emulators.apolo.config import Site
from airflow_provider_batch.emulators.apolo.errors import bad_request, no_such_job
from airflow_provider_batch.emulators.apolo.lifecycle import Lifecycle, LifecycleOptions
from airflow_provider_batch.emulators.apolo.records import JobRecord, JobSpec, Reason, Status, StatusItem, now
from airflow_provider_batch.emulators.runner import ProcessRunner

BOOL_FILTERS = ("materialized", "being_dropped", "logs_removed")


def parse_bool(value: str) -> bool:
    lowered = value.lower()
    if lowered in ("0", "false"):
        return False
    if lowered in ("1", "true"):
        return True
    raise bad_request('Required "0", "1", "false" or "true"')


def parse_time(key: str, value: str) -> datetime:
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise bad_request(f"Invalid isoformat string: {value!r}") from None


@dataclass
class JobFilter:
    """The list query (`GET /jobs`): every given criterion must hold; repeated keys are alternatives."""

    statuses: set[str] = field(default_factory=set)
    name: str | None = None
    owners: set[str] = field(default_factory=set)
    tags: set[str] = field(default_factory=set)
    clusters: set[str] = field(default_factory=set)
    orgs: set[str] = field(default_factory=set)
    projects: set[str] = field(default_factory=set)
    since: datetime | None = None
    until: datetime | None = None
    flags: dict[str, bool] = field(default_factory=dict)
    reverse: bool = False
    limit: int | None = None

    @classmethod
    def from_query(cls, query: MultiMapping[str]) -> JobFilter:
        statuses = set(query.getall("status", []))
        known = {status.value for status in Status}
        for status in statuses - known:
            raise bad_request(f"'{status}' is not a valid JobStatus")
        limit = None
        if "limit" in query:
            try:
                limit = int(query["limit"])
            except ValueError:
                raise bad_request(f"invalid literal for int() with base 10: {query['limit']!r}") from None
            if limit <= 0:
                raise bad_request("limit should be > 0")
        return cls(
            statuses=statuses,
            name=query.get("name") or None,
            owners=set(query.getall("owner", [])),
            tags=set(query.getall("tag", [])),
            clusters=set(query.getall("cluster_name", [])),
            orgs=set(query.getall("org_name", [])),
            projects=set(query.getall("project_name", [])),
            since=parse_time("since", query["since"]) if "since" in query else None,
            until=parse_time("until", query["until"]) if "until" in query else None,
            flags={key: parse_bool(query[key]) for key in BOOL_FILTERS if key in query},
            reverse=parse_bool(query.get("reverse", "0")),
            limit=limit,
        )

    def matches(self, job: JobRecord) -> bool:
        spec = job.spec
        flags = {"materialized": not job.finished, "being_dropped": False, "logs_removed": False}
        return (
            (not self.statuses or job.status.value in self.statuses)
            and (self.name is None or spec.name == self.name)
            and (not self.owners or job.owner in self.owners)
            and self.tags <= set(spec.tags)
            and (not self.clusters or spec.cluster_name in self.clusters)
            and (not self.orgs or spec.org_name in self.orgs)
            and (not self.projects or spec.project_name in self.projects)
            and (self.since is None or job.created_at >= self.since)
            and (self.until is None or job.created_at <= self.until)
            and all(flags[key] == value for key, value in self.flags.items())
        )


class ApoloState:
    """The jobs, in creation order, and their lifecycle."""

    def __init__(self, site: Site, runner: ProcessRunner, options: LifecycleOptions) -> None:
        self.site = site
        self.lifecycle = Lifecycle(runner, options)
        self.jobs: dict[str, JobRecord] = {}

    def create(self, spec: JobSpec) -> JobRecord:
        if spec.name:
            for other in self.jobs.values():
                if other.spec.name == spec.name and other.spec.project_name == spec.project_name and not other.finished:
                    raise bad_request(
                        f"Failed to create job: job with name '{spec.name}' and project '{spec.project_name}' "
                        f"already exists: '{other.id}'"
                    )
        job = JobRecord(
            id=f"job-{uuid.uuid4()}",
            owner=self.site.user,
            spec=spec,
            history=[StatusItem(Status.PENDING, now(), Reason.CREATING)],
        )
        self.jobs[job.id] = job
        self.lifecycle.start(job)
        return job

    def resolve(self, id_or_name: str) -> JobRecord:
        """The job with this id, else the newest job of this owner with this name; 400 "no such job" otherwise."""
        job = self.jobs.get(id_or_name)
        if job is not None:
            return job
        for job in reversed(self.jobs.values()):
            if job.spec.name == id_or_name and job.owner == self.site.user:
                return job
        raise no_such_job(id_or_name)

    def select(self, job_filter: JobFilter) -> Iterator[JobRecord]:
        jobs = list(self.jobs.values())  # creation order; a copy, so a start while streaming changes nothing
        if job_filter.reverse:
            jobs.reverse()
        count = 0
        for job in jobs:
            if job_filter.limit is not None and count >= job_filter.limit:
                return
            if job_filter.matches(job):
                count += 1
                yield job

    def kill(self, id_or_name: str) -> JobRecord:
        job = self.resolve(id_or_name)
        self.lifecycle.cancel(job, Reason.USER_REQUESTED)
        return job

    def bump_life_span(self, id_or_name: str, payload: object) -> None:
        """`PUT /jobs/{id}/max_run_time_minutes`: exactly one of `max_run_time_minutes` (the new limit) and
        `additional_max_run_time_minutes` (added to the limit, or to 0 without one), each an int >= 1."""
        job = self.resolve(id_or_name)
        keys = ("max_run_time_minutes", "additional_max_run_time_minutes")
        if not isinstance(payload, dict):
            raise bad_request("value is not a dict")
        for key in set(payload) - set(keys):
            raise bad_request(f"{{'{key}': DataError('{key} is not allowed key')}}")
        for key in keys:
            value = payload.get(key, 1)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise bad_request(f"{{'{key}': DataError('value should be greater or equal than 1')}}")
        if len(payload) != 1:
            raise bad_request("Exactly one of 'max_run_time_minutes' and 'additional_max_run_time_minutes' allowed")
        if "max_run_time_minutes" in payload:
            job.spec.max_run_time_minutes = payload["max_run_time_minutes"]
        else:
            job.spec.max_run_time_minutes = (job.spec.max_run_time_minutes or 0) + payload[keys[1]]
        self.lifecycle.watch_life_span(job)

    async def shutdown(self) -> None:
        await self.lifecycle.shutdown(list(self.jobs.values()))
