"""armada_channel jobs (DAG-author channel arguments) stay in the triggerer even when a job service is configured."""

from __future__ import annotations

import pytest

from airflow_provider_batch.common.errors import InvalidJobSpecError
from airflow_provider_batch.common.jobref import JobRef
from airflow_provider_batch.triggers.sources import (
    CachedStatusSource,
    RemoteStatusSource,
    open_source,
    remote_hook_for,
)


def test_only_served_backends_go_to_the_job_service(monkeypatch):
    monkeypatch.setenv("AIRFLOW__BATCH__JOBSERVICE_CONN_ID", "batch_jobservice_default")
    served = open_source(JobRef("armada", "armada_default", "01J", {}))
    channel = open_source(JobRef("armada_channel", '{"channel": {"target": "a:1"}}', "01J", {}))
    assert isinstance(served, RemoteStatusSource)
    assert isinstance(channel, CachedStatusSource) and not isinstance(channel, RemoteStatusSource)


@pytest.mark.parametrize(
    ("backend", "conn_id"),
    [("armada_channel", "armada_default"), ("armada", '{"channel": {"target": "evil:1"}}'), ("nope", "c")],
)
def test_the_services_hook_factory_refuses_what_a_request_may_not_name(backend, conn_id):
    with pytest.raises(InvalidJobSpecError):
        remote_hook_for(backend, conn_id)
