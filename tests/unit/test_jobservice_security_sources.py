"""Jobs reached through channel arguments (a DAG author's, trusted only in the triggerer) never go to the job
service, even when one is configured; the service's hook factory refuses anything a request may not name."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_batch.common.channel import GrpcChannelArguments
from airflow_provider_batch.common.errors import InvalidJobSpecError
from airflow_provider_batch.common.jobref import JobRef
from airflow_provider_batch.hooks.armada_channel_args import ChannelSpec
from airflow_provider_batch.jobservice.server import remote_hook
from airflow_provider_batch.triggers.sources import CachedStatusSource, RemoteStatusSource
from airflow_provider_batch.triggers.where import WhereToAsk, open_source

CHANNEL = ChannelSpec(GrpcChannelArguments("evil.example.com:1")).key()
DETAILS = {"queue": "q", "job_set_id": "s"}


def test_only_jobs_the_service_serves_go_to_it() -> None:
    served = JobRef("armada", "armada_default", "01J", DETAILS)
    through_channel = JobRef("armada", "armada_default", "01J", {**DETAILS, "channel": CHANNEL})
    where = WhereToAsk.default_for(served, "batch_jobservice_default")
    assert where == WhereToAsk("jobservice", "batch_jobservice_default")
    assert isinstance(open_source(where, served), RemoteStatusSource)
    kept = WhereToAsk.default_for(through_channel, "batch_jobservice_default")
    assert kept == WhereToAsk()
    assert isinstance(open_source(kept, through_channel), CachedStatusSource)


def test_without_a_configured_service_the_cache_is_asked() -> None:
    assert WhereToAsk.default_for(JobRef("qarnot", "qarnot_default", "u", {}), "") == WhereToAsk()


@pytest.mark.parametrize(
    ("backend", "conn_id", "details"),
    [
        ("armada_channel", "armada_default", DETAILS),
        ("armada", '{"channel": {"target": "evil:1"}}', DETAILS),
        ("nope", "c", {}),
        ("armada", "armada_default", {**DETAILS, "channel": CHANNEL}),
    ],
)
def test_the_services_hook_factory_refuses_what_a_request_may_not_name(
    backend: str, conn_id: str, details: dict[str, Any]
) -> None:
    with pytest.raises(InvalidJobSpecError):
        remote_hook(JobRef(backend, conn_id, "01J", details))


@pytest.mark.parametrize(
    "where",
    [
        {"ask": "elsewhere"},
        {"ask": "jobservice"},
        {"ask": "jobservice", "jobservice_conn_id": "a", "jobservice_channel": CHANNEL},
        {"ask": "jobservice", "jobservice_conn_id": "{not an id}"},
        {"ask": "jobservice", "jobservice_channel": '{"channel": 1}'},
        {"ask": "cache", "module": "os"},
    ],
)
def test_a_bad_where_to_ask_is_refused(where: dict[str, Any]) -> None:
    with pytest.raises(InvalidJobSpecError):
        WhereToAsk.from_json(where)


def test_where_to_ask_round_trips_as_plain_json() -> None:
    for where in (WhereToAsk(), WhereToAsk.job_service(conn_id="js"), WhereToAsk("scheduler")):
        assert WhereToAsk.from_json(where.to_json()) == where
    spec = ChannelSpec(GrpcChannelArguments("js.example.com:443", tls=True))
    assert WhereToAsk.from_json(WhereToAsk.job_service(channel=spec).to_json()).jobservice_channel == spec.key()
