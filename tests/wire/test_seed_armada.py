"""Scripts written as the seed documents them (armada_client calls, the job service client, the original utils and
operator arguments) against the Armada emulator and a standalone job service, only their import lines changed."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from concurrent import futures
from typing import Any
from unittest import mock

import grpc
import pytest
from _jobservice_helpers import TOKEN, Service, pod, wait_for
from airflow.sdk.exceptions import AirflowException, TaskDeferred

# -- the seed's imports, changed to this provider's --------------------------------------------------------------
from airflow_provider_batch._proto.armada import submit_pb2, submit_pb2_grpc
from airflow_provider_batch.clients.armada.client import ArmadaAsyncIOClient, ArmadaClient, ArmadaRpcError
from airflow_provider_batch.clients.jobservice import JobServiceAsyncIOClient, JobServiceClient
from airflow_provider_batch.common.channel import CallCredentials, GrpcChannelArguments
from airflow_provider_batch.common.retry import RetryPolicy
from airflow_provider_batch.compat.armada.operators.armada import ArmadaOperator
from airflow_provider_batch.compat.armada.operators.armada_deferrable import (
    ArmadaDeferrableOperator,
    ArmadaJobCompleteTrigger,
)
from airflow_provider_batch.compat.armada.operators.utils import (
    JobState,
    airflow_error,
    job_state_from_pb,
    search_for_job_complete,
    search_for_job_complete_async,
)
from airflow_provider_batch.triggers import batch

pytestmark = [pytest.mark.wire, pytest.mark.timeout(120)]


@pytest.fixture
def armada(armada_emulator: Any) -> Iterator[ArmadaClient]:
    channel = GrpcChannelArguments(armada_emulator.target).channel(CallCredentials.bearer(armada_emulator.token))
    yield ArmadaClient(channel)
    channel.close()


@pytest.fixture(scope="module")
def service(armada_emulator: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    started = Service(str(tmp_path_factory.mktemp("js") / "js.db"), armada_emulator)
    yield started
    assert started.stop() == 0


@pytest.fixture
def connections(monkeypatch: pytest.MonkeyPatch, armada_emulator: Any, armada_queue: str) -> None:
    """The tokens live in Airflow connections; the DAG's channel arguments only name them."""
    armada = {"conn_type": "armada", "host": armada_emulator.target, "password": armada_emulator.token}
    armada["extra"] = {"default_queue": armada_queue}
    monkeypatch.setenv("AIRFLOW_CONN_ARMADA_DEFAULT", json.dumps(armada))
    monkeypatch.setenv("AIRFLOW_CONN_SEED_JOBSERVICE", json.dumps({"conn_type": "batch_jobservice", "password": TOKEN}))


def item(client: ArmadaClient, script: str) -> submit_pb2.JobSubmitRequestItem:
    return client.create_job_request_item(priority=1, pod_spec=pod(script), namespace="default")


def context(run_id: str) -> dict[str, Any]:
    ti = mock.MagicMock(dag_id="seed_dag", task_id="seed_task", run_id=run_id, map_index=-1, try_number=1)
    return {"ti": ti, "run_id": run_id}


# -- armada_client: create_job_request, get_queue_info ------------------------------------------------------------


def test_armada_client_script(armada: ArmadaClient, armada_queue: str) -> None:
    job_set = f"set-{uuid.uuid4().hex[:6]}"
    items = [item(armada, "sleep 1.5; echo done")]
    request = armada.create_job_request(queue=armada_queue, job_set_id=job_set, job_request_items=items)
    assert isinstance(request, submit_pb2.JobSubmitRequest)
    assert (request.queue, request.job_set_id, len(request.job_request_items)) == (armada_queue, job_set, 1)
    response = armada.submit_jobs(queue=armada_queue, job_set_id=job_set, job_request_items=items)
    job_id = response.job_response_items[0].job_id

    wait_for(lambda: armada.get_job_status([job_id]).job_states[job_id] == submit_pb2.JobState.SUCCEEDED, 20)

    # The emulator answers as today's servers: GetQueueInfo was removed, and the error says what to call instead.
    with pytest.raises(grpc.RpcError) as unsupported:
        armada.get_queue_info(name=armada_queue)
    assert unsupported.value.code() is grpc.StatusCode.UNIMPLEMENTED
    assert "use get_queue(name)" in unsupported.value.details()
    with pytest.raises(grpc.RpcError) as missing:
        armada.get_queue_info("no-such-queue")
    assert missing.value.code() is grpc.StatusCode.NOT_FOUND


class OlderSubmit(submit_pb2_grpc.SubmitServicer):
    """A server from before 2024, which still has api.Submit/GetQueueInfo."""

    def GetQueueInfo(self, request: Any, context: Any) -> Any:
        if request.name != "known":
            context.abort(grpc.StatusCode.NOT_FOUND, f"queue {request.name} does not exist")
        active = [submit_pb2.JobSetInfo(name="js", queued_jobs=1, leased_jobs=2)]
        return submit_pb2.QueueInfo(name="known", active_job_sets=active)


@pytest.fixture
def older_server() -> Iterator[str]:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    submit_pb2_grpc.add_SubmitServicer_to_server(OlderSubmit(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield f"127.0.0.1:{port}"
    server.stop(None)


def test_get_queue_info_on_a_server_that_has_it(older_server: str) -> None:
    channel = grpc.insecure_channel(older_server)
    info = ArmadaClient(channel).get_queue_info("known")
    assert (info.name, [(s.name, s.queued_jobs, s.leased_jobs) for s in info.active_job_sets]) == (
        "known",
        [("js", 1, 2)],
    )
    channel.close()

    async def asynchronous() -> submit_pb2.QueueInfo:
        aio = grpc.aio.insecure_channel(older_server)
        try:
            return await ArmadaAsyncIOClient(aio).get_queue_info("known")
        finally:
            await aio.close()

    assert asyncio.run(asynchronous()).active_job_sets[0].leased_jobs == 2


class NewerQueues(submit_pb2_grpc.QueueServiceServicer):
    """A server of today: api.QueueService's GetQueue; no api.Submit/GetQueueInfo (gRPC answers UNIMPLEMENTED)."""

    def GetQueue(self, request: Any, context: Any) -> Any:
        if request.name != "known":
            context.abort(grpc.StatusCode.NOT_FOUND, f"queue {request.name} does not exist")
        return submit_pb2.Queue(name="known", priority_factor=1)


@pytest.fixture
def newer_server() -> Iterator[str]:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    submit_pb2_grpc.add_QueueServiceServicer_to_server(NewerQueues(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield f"127.0.0.1:{port}"
    server.stop(None)


def test_get_queue_info_on_a_server_without_it(newer_server: str) -> None:
    channel = grpc.insecure_channel(newer_server)
    client = ArmadaClient(channel)
    with pytest.raises(ArmadaRpcError) as unsupported:
        client.get_queue_info("known")
    assert unsupported.value.code() is grpc.StatusCode.UNIMPLEMENTED
    assert "not supported by this server" in unsupported.value.details()
    with pytest.raises(ArmadaRpcError) as missing:
        client.get_queue_info("gone")
    assert missing.value.code() is grpc.StatusCode.NOT_FOUND and "gone does not exist" in missing.value.details()
    channel.close()

    async def asynchronous() -> None:
        aio = grpc.aio.insecure_channel(newer_server)
        try:
            await ArmadaAsyncIOClient(aio).get_queue_info("known")
        finally:
            await aio.close()

    with pytest.raises(ArmadaRpcError, match="not supported by this server"):
        asyncio.run(asynchronous())


# -- the job service client and the original utils ----------------------------------------------------------------


def test_job_service_script_with_the_original_helpers(
    service: Service, armada: ArmadaClient, armada_queue: str
) -> None:
    job_set = "seed-js"
    ok = armada.submit_jobs(armada_queue, job_set, [item(armada, "echo fine")]).job_response_items[0].job_id
    bad = armada.submit_jobs(armada_queue, job_set, [item(armada, "exit 4")]).job_response_items[0].job_id
    channel = GrpcChannelArguments(service.target).channel(CallCredentials.bearer(TOKEN))
    job_service_client = JobServiceClient(channel)
    first = job_service_client.get_job_status(queue=armada_queue, job_set_id=job_set, job_id=ok)
    assert job_state_from_pb(first.state) in set(JobState)

    state, message = search_for_job_complete(
        armada_queue=armada_queue, job_set_id=job_set, airflow_task_name="ok-task", job_id=ok,
        poll_interval=0.2, job_service_client=job_service_client,
    )  # fmt: skip
    assert (state, message) == (JobState.SUCCEEDED, f"Armada ok-task:{ok} succeeded")
    airflow_error(state, "ok-task", ok)

    state, message = search_for_job_complete(
        armada_queue=armada_queue, job_set_id=job_set, airflow_task_name="bad-task", job_id=bad,
        poll_interval=0.2, job_service_client=job_service_client,
    )  # fmt: skip
    assert state is JobState.FAILED and "code 4" in message
    with pytest.raises(AirflowException, match=f"The Armada job bad-task:{bad} FAILED"):
        airflow_error(state, "bad-task", bad)
    channel.close()

    async def asynchronous() -> tuple[JobState, str]:
        aio = GrpcChannelArguments(service.target).aio_channel(CallCredentials.bearer(TOKEN))
        try:
            return await search_for_job_complete_async(
                armada_queue=armada_queue, job_set_id=job_set, airflow_task_name="ok-task", job_id=ok,
                job_service_client=JobServiceAsyncIOClient(aio), poll_interval=0.2,
            )  # fmt: skip
        finally:
            await aio.close()

    assert asyncio.run(asynchronous())[0] is JobState.SUCCEEDED


def test_an_unreachable_job_service_ends_the_search_with_connection_err() -> None:
    channel = grpc.insecure_channel("127.0.0.1:1")  # nothing listens there
    started = time.monotonic()
    state, message = search_for_job_complete(
        armada_queue="q", job_set_id="js", airflow_task_name="t", job_id="01J", poll_interval=0.1,
        job_service_client=JobServiceClient(channel, timeout=2),
        connection_retry=RetryPolicy(max_attempts=3, initial_backoff=0.05, max_backoff=0.1),
    )  # fmt: skip
    assert state is JobState.CONNECTION_ERR and "after 3 tries" in message and "UNAVAILABLE" in message
    assert time.monotonic() - started < 15
    channel.close()


# -- the original operators' arguments ----------------------------------------------------------------------------


def test_seed_operator_blocking_custom_prefix_and_reattach(
    connections: None, armada: ArmadaClient, armada_emulator: Any, armada_queue: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANNOTATION_KEY_PREFIX", "custom.example/")

    def seed_task() -> ArmadaOperator:
        return ArmadaOperator(
            task_id="seed_task",
            name="hello",
            armada_channel_args={"target": armada_emulator.target, "credentials": {"conn_id": "armada_default"}},
            armada_queue=armada_queue,
            job_set_id="seed-run",
            job_request_items=[item(armada, "echo hello from the seed")],
            lookout_url_template="http://lookout.example/jobs?job_id=<job_id>",
            poll_interval=0.5,
        )

    submits = armada_emulator.stats().get("/api.Submit/SubmitJobs", 0)
    ctx = context("run-a")
    result = seed_task().execute(ctx)
    assert result["state"] == "succeeded"
    job_id = result["job_id"]
    details = armada.get_job_details([job_id], expand_job_spec=True).job_details[job_id]
    annotations = dict(details.job_spec.annotations)
    assert annotations["custom.example/taskId"] == "seed_task"
    assert annotations["custom.example/airflowTaskName"] == "hello"
    pushed = {call.kwargs["key"]: call.kwargs["value"] for call in ctx["ti"].xcom_push.call_args_list}
    assert pushed["batch_job_url"] == f"http://lookout.example/jobs?job_id={job_id}"
    assert armada_emulator.token not in json.dumps(pushed)

    again = seed_task().execute(context("run-a"))  # a retry with no task state: found by external_job_uri
    assert again["job_id"] == job_id
    assert armada_emulator.stats()["/api.Submit/SubmitJobs"] == submits + 1


def test_seed_deferrable_operator_through_the_job_service(
    connections: None, service: Service, armada: ArmadaClient, armada_emulator: Any, armada_queue: str
) -> None:
    operator = ArmadaDeferrableOperator(
        task_id="seed_task",
        name="deferred",
        armada_channel_args={"target": armada_emulator.target},  # token: armada_conn_id's
        job_service_channel_args={"target": service.target, "credentials": {"conn_id": "seed_jobservice"}},
        armada_queue=armada_queue,
        job_set_id="seed-deferred",
        job_request_items=[item(armada, "sleep 0.5; exit 5")],
        poll_interval=0.5,
    )
    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(context("run-d"))
    trigger = deferred.value.trigger
    _classpath, kwargs = trigger.serialize()
    assert armada_emulator.token not in json.dumps(kwargs) and TOKEN not in json.dumps(kwargs)
    trigger = ArmadaJobCompleteTrigger(**kwargs)  # as the triggerer rebuilds it

    async def run() -> dict[str, Any]:
        async for event in trigger.run():
            return event.payload
        raise AssertionError("no event")

    event = asyncio.run(run())
    assert event["status"] == "failed" and event["job_state"] == "FAILED" and "code 5" in event["job_message"]
    with pytest.raises(AirflowException, match="code 5"):
        getattr(operator, deferred.value.method_name)(context("run-d"), event, **deferred.value.kwargs)


def test_the_trigger_gives_up_on_an_unreachable_job_service(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(batch, "STATUS_READ_ERRORS", RetryPolicy(max_attempts=3, initial_backoff=0.05, max_backoff=0.1))
    trigger = ArmadaJobCompleteTrigger("01JOB", {"target": "127.0.0.1:1"}, "q", "js", "lost", poll_interval=0.1)

    async def run() -> dict[str, Any]:
        async for event in trigger.run():
            return event.payload
        raise AssertionError("no event")

    event = asyncio.run(asyncio.wait_for(run(), 60))
    assert event["status"] == "error" and event["job_state"] == "CONNECTION_ERR"
    assert "UNAVAILABLE" in event["message"]
