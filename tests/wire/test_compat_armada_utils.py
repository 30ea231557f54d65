"""The original `armada.operators.utils` called as documented, positionally and by keyword, against the Armada
emulator and a standalone job service (the original JobService wire)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from _jobservice_helpers import TOKEN, Service, pod
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_batch.common.channel import CallCredentials
from airflow_provider_batch.common.channel import GrpcChannelArguments as Channel

# -- the original imports, with this provider's prefix ------------------------------------------------------------
from airflow_provider_batch.compat.armada.operators.jobservice import JobServiceClient
from airflow_provider_batch.compat.armada.operators.jobservice_asyncio import JobServiceAsyncIOClient
from airflow_provider_batch.compat.armada.operators.utils import (
    JobState,
    airflow_error,
    default_job_status_callable,
    job_state_from_pb,
    search_for_job_complete,
    search_for_job_complete_async,
)
from airflow_provider_batch.compat.armada_client.client import ArmadaClient

pytestmark = [pytest.mark.wire, pytest.mark.timeout(120)]


@pytest.fixture(scope="module")
def service(armada_emulator: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    started = Service(str(tmp_path_factory.mktemp("js") / "js.db"), armada_emulator)
    yield started
    assert started.stop() == 0


@pytest.fixture
def armada(armada_emulator: Any) -> Iterator[ArmadaClient]:
    channel = Channel(armada_emulator.target).channel(CallCredentials.bearer(armada_emulator.token))
    yield ArmadaClient(channel)
    channel.close()


def submit(armada: ArmadaClient, queue: str, job_set: str, script: str) -> str:
    item = armada.create_job_request_item(pod(script), 1, namespace="default")
    return str(armada.submit_jobs(queue, job_set, [item]).job_response_items[0].job_id)


def test_search_positionally_and_by_keyword(service: Service, armada: ArmadaClient, armada_queue: str) -> None:
    ok = submit(armada, armada_queue, "utils-js", "echo fine")
    bad = submit(armada, armada_queue, "utils-js", "exit 6")
    channel = Channel(service.target).channel(CallCredentials.bearer(TOKEN))
    client = JobServiceClient(channel)
    first = default_job_status_callable(armada_queue, "utils-js", ok, client)  # positional, as documented
    assert job_state_from_pb(first.state) in set(JobState)

    # (armada_queue, job_set_id, airflow_task_name, job_id, job_service_client, job_status_callable,
    #  time_out_for_failure): every documented argument positionally.
    state, message = search_for_job_complete(
        armada_queue, "utils-js", "ok-task", ok, client, default_job_status_callable, 7200, poll_interval=0.2
    )
    assert (state, message) == (JobState.SUCCEEDED, f"Armada ok-task:{ok} succeeded")
    assert airflow_error(state, "ok-task", ok) is None

    state, message = search_for_job_complete(
        armada_queue=armada_queue, job_set_id="utils-js", airflow_task_name="bad-task", job_id=bad,
        job_service_client=client, time_out_for_failure=7200, poll_interval=0.2,
    )  # fmt: skip
    assert state is JobState.FAILED and "code 6" in message
    with pytest.raises(AirflowFailException, match=f"The Armada job bad-task:{bad} FAILED"):
        airflow_error(state, "bad-task", bad)  # documented: no retry
    with pytest.raises(TypeError, match="poll_interval is a keyword argument here"):
        search_for_job_complete(armada_queue, "utils-js", "t", ok, 30)  # type: ignore[arg-type]
    channel.close()


def test_the_async_search_positionally_with_its_log(
    service: Service, armada: ArmadaClient, armada_queue: str, caplog: pytest.LogCaptureFixture
) -> None:
    job_id = submit(armada, armada_queue, "utils-async", "sleep 0.3")

    async def asynchronous() -> tuple[JobState, str]:
        aio = Channel(service.target).aio_channel(CallCredentials.bearer(TOKEN))
        try:
            client = JobServiceAsyncIOClient(aio)
            log = logging.getLogger("a-trigger")
            return await search_for_job_complete_async(
                armada_queue, "utils-async", "async-task", job_id, client, log, 7200, poll_interval=0.2
            )
        finally:
            await aio.close()

    assert asyncio.run(asynchronous()) == (JobState.SUCCEEDED, f"Armada async-task:{job_id} succeeded")
