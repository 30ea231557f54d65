"""The original operators called as documented against the Armada emulator: the blocking ArmadaOperator with client
objects (`name` without task_id), the deferrable one with channel arguments, and several job_request_items."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any
from unittest import mock

import grpc
import pytest
from airflow.sdk.exceptions import AirflowException, TaskDeferred

from airflow_provider_batch.common.errors import InvalidJobSpecError

# -- the original imports, with this provider's prefix ------------------------------------------------------------
from airflow_provider_batch.compat.armada.operators.armada import ArmadaOperator
from airflow_provider_batch.compat.armada.operators.armada_deferrable import ArmadaDeferrableOperator
from airflow_provider_batch.compat.armada.operators.grpc import GrpcChannelArguments
from airflow_provider_batch.compat.armada.operators.jobservice import JobServiceClient
from airflow_provider_batch.compat.armada_client.armada import submit_pb2
from airflow_provider_batch.compat.armada_client.client import ArmadaClient

pytestmark = [pytest.mark.wire, pytest.mark.timeout(120)]
QUANTITY = {"cpu": "100m", "memory": "64Mi"}


def pod(script: str) -> dict[str, Any]:
    resources = {"requests": QUANTITY, "limits": QUANTITY}
    return {"containers": [{"name": "main", "command": ["sh", "-c", script], "resources": resources}]}


@pytest.fixture
def clients(armada_emulator: Any) -> Iterator[tuple[ArmadaClient, JobServiceClient]]:
    """The client objects a DAG file of the original builds (here with the emulator's token on the channel)."""
    from airflow_provider_batch.common.channel import CallCredentials
    from airflow_provider_batch.common.channel import GrpcChannelArguments as Channel

    channel = Channel(armada_emulator.target).channel(CallCredentials.bearer(armada_emulator.token))
    yield ArmadaClient(channel), JobServiceClient(grpc.insecure_channel("127.0.0.1:1"))
    channel.close()


@pytest.fixture
def armada_token_conn(monkeypatch: pytest.MonkeyPatch, armada_emulator: Any) -> None:
    conn = {"conn_type": "armada", "host": armada_emulator.target, "password": armada_emulator.token}
    monkeypatch.setenv("AIRFLOW_CONN_ARMADA_DEFAULT", json.dumps(conn))


def context(task_id: str, run_id: str) -> dict[str, Any]:
    ti = mock.MagicMock(dag_id="compat_dag", task_id=task_id, run_id=run_id, map_index=-1, try_number=1)
    return {"ti": ti, "run_id": run_id}


def pushed(ctx: dict[str, Any]) -> dict[str, Any]:
    return {call.kwargs["key"]: call.kwargs["value"] for call in ctx["ti"].xcom_push.call_args_list}


def run_trigger(trigger: Any) -> dict[str, Any]:
    async def run() -> dict[str, Any]:
        async for event in trigger.run():
            return dict(event.payload)
        raise AssertionError("no event")

    return asyncio.run(asyncio.wait_for(run(), 60))


def test_blocking_operator_with_client_objects_and_name_only(
    clients: tuple[ArmadaClient, JobServiceClient], armada_emulator: Any, armada_queue: str
) -> None:
    armada_client, job_service_client = clients
    item = armada_client.create_job_request_item(pod(":"), namespace="default")
    operator = ArmadaOperator(
        name="hello_armada",
        armada_client=armada_client,
        job_service_client=job_service_client,
        armada_queue=armada_queue,
        job_request_items=[item],
        lookout_url_template="http://lookout.example/jobs?job_id=<job_id>",
        poll_interval=0.5,
    )
    assert operator.task_id == "hello_armada"
    ctx = context("hello_armada", f"run-{uuid.uuid4().hex[:6]}")
    result = operator.execute(ctx)
    assert result["state"] == "succeeded"
    assert pushed(ctx)["batch_job_url"] == f"http://lookout.example/jobs?job_id={result['job_id']}"
    submits = armada_emulator.stats()["/api.Submit/SubmitJobs"]
    again = ArmadaOperator(
        name="hello_armada", armada_client=armada_client, job_service_client=job_service_client,
        armada_queue=armada_queue, job_request_items=[item], poll_interval=0.5,
    ).execute(context("hello_armada", ctx["run_id"]))  # fmt: skip
    assert again["job_id"] == result["job_id"]  # a retry reattaches through the client object
    assert armada_emulator.stats()["/api.Submit/SubmitJobs"] == submits


def test_a_client_object_is_refused_for_a_deferred_task(clients: tuple[ArmadaClient, JobServiceClient]) -> None:
    armada_client, _ = clients
    item = armada_client.create_job_request_item(pod(":"), namespace="default")
    for make in (
        lambda: ArmadaOperator(name="t", armada_client=armada_client, job_request_items=[item], deferrable=True),
        lambda: ArmadaDeferrableOperator(name="t", armada_client=armada_client, job_request_items=[item]),
    ):
        with pytest.raises(InvalidJobSpecError, match="armada_channel_args"):
            make()
    with pytest.raises(InvalidJobSpecError, match="armada_client"):
        ArmadaOperator(name="t", armada_client=object(), job_request_items=[item])


def test_deferrable_operator_with_channel_arguments(
    armada_token_conn: None, clients: tuple[ArmadaClient, JobServiceClient], armada_emulator: Any, armada_queue: str
) -> None:
    armada_client, _ = clients
    channel_args = GrpcChannelArguments(armada_emulator.target)
    assert GrpcChannelArguments(**channel_args.serialize()).serialize() == channel_args.serialize()
    operator = ArmadaDeferrableOperator(
        name="deferred",
        armada_channel_args=channel_args.serialize(),  # the token: the armada_default connection's
        job_service_channel_args=None,
        armada_queue=armada_queue,
        job_request_items=[armada_client.create_job_request_item(pod("sleep 0.3; exit 3"), namespace="default")],
        poll_interval=0.5,
    )
    ctx = context("deferred", f"run-{uuid.uuid4().hex[:6]}")
    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(ctx)
    _classpath, kwargs = deferred.value.trigger.serialize()
    assert armada_emulator.token not in json.dumps(kwargs)
    event = run_trigger(type(deferred.value.trigger)(**kwargs))
    assert event["status"] == "failed"
    with pytest.raises(AirflowException, match="code 3"):
        getattr(operator, deferred.value.method_name)(ctx, event, **(deferred.value.kwargs or {}))


def test_channel_credentials_in_deferrable_arguments_are_refused_at_parse_time(armada_emulator: Any) -> None:
    secure = GrpcChannelArguments(armada_emulator.target, grpc.ssl_channel_credentials())
    with pytest.raises(InvalidJobSpecError, match=r"credentials=\{'conn_id'"):
        ArmadaDeferrableOperator(
            name="t", armada_channel_args=secure.serialize(), job_service_channel_args=None,
            armada_queue="q", job_request_items=[{"namespace": "default", "pod_spec": pod(":")}],
        )  # fmt: skip


def test_several_items_blocking_run_together_and_fail_naming_each(
    clients: tuple[ArmadaClient, JobServiceClient], armada_emulator: Any, armada_queue: str
) -> None:
    armada_client, job_service_client = clients
    items = [
        armada_client.create_job_request_item(pod(script), namespace="default")
        for script in ("sleep 0.5", "exit 7", "sleep 0.2; exit 9")
    ]
    submits = armada_emulator.stats().get("/api.Submit/SubmitJobs", 0)
    run_id = f"run-{uuid.uuid4().hex[:6]}"

    def operator() -> ArmadaOperator:
        return ArmadaOperator(
            name="group", armada_client=armada_client, job_service_client=job_service_client,
            armada_queue=armada_queue, job_set_id="group-set", job_request_items=items, poll_interval=0.5,
        )  # fmt: skip

    ctx = context("group", run_id)
    with pytest.raises(AirflowException) as failed:
        operator().execute(ctx)
    job_ids = pushed(ctx)["job_ids"]
    assert len(job_ids) == 3 and len(set(job_ids)) == 3
    assert armada_emulator.stats()["/api.Submit/SubmitJobs"] == submits + 1  # one SubmitJobs call for the group
    message = str(failed.value)
    assert message.startswith("2 of 3 Armada jobs did not succeed")
    assert job_ids[1] in message and job_ids[2] in message and job_ids[0] not in message
    assert "code 7" in message and "code 9" in message
    states = armada_client.get_job_status(job_ids).job_states
    assert [submit_pb2.JobState.Name(states[j]) for j in job_ids] == ["SUCCEEDED", "FAILED", "FAILED"]
    details = armada_client.get_job_details(job_ids, expand_job_spec=True).job_details
    uris = [details[j].job_spec.annotations["armadaproject.io/externalJobUri"] for j in job_ids]
    assert [uri.rsplit("/", 2)[1:] for uri in uris] == [["item", "0"], ["item", "1"], ["item", "2"]]

    # A retry finds all three by their identities and submits nothing; reattach_policy="always" keeps them.
    retry = operator()
    retry.reattach_policy = "always"
    ctx = context("group", run_id)
    with pytest.raises(AirflowException, match="2 of 3"):
        retry.execute(ctx)
    assert pushed(ctx)["job_ids"] == job_ids
    assert armada_emulator.stats()["/api.Submit/SubmitJobs"] == submits + 1


def test_several_items_deferred_wait_for_each_in_turn(
    armada_token_conn: None, clients: tuple[ArmadaClient, JobServiceClient], armada_emulator: Any, armada_queue: str
) -> None:
    armada_client, _ = clients
    items = [armada_client.create_job_request_item(pod(s), namespace="default") for s in ("sleep 0.6", "sleep 0.2")]
    operator = ArmadaDeferrableOperator(
        name="group_deferred", armada_channel_args={"target": armada_emulator.target}, job_service_channel_args=None,
        armada_queue=armada_queue, job_request_items=items, poll_interval=0.5,
    )  # fmt: skip
    ctx = context("group_deferred", f"run-{uuid.uuid4().hex[:6]}")
    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(ctx)
    job_ids = pushed(ctx)["job_ids"]
    cancels = armada_emulator.stats().get("/api.Submit/CancelJobs", 0)
    operator.on_kill()  # the worker killed after the deferral: the trigger owns the jobs, nothing is cancelled
    assert armada_emulator.stats().get("/api.Submit/CancelJobs", 0) == cancels
    resumes = 0
    while True:
        event = run_trigger(type(deferred.value.trigger)(**deferred.value.trigger.serialize()[1]))
        assert event["status"] == "success"
        resumes += 1
        # As `airflow dags test` does, the defer kwargs are dropped: the group comes from the XCom pushed then.
        ctx["ti"].xcom_pull.side_effect = lambda task_ids, key: pushed(ctx)[key]
        try:
            result = getattr(operator, deferred.value.method_name)(ctx, event)
            break
        except TaskDeferred as again:
            deferred = pytest.ExceptionInfo.from_exc_info((type(again), again, again.__traceback__))
    assert result["state"] == "succeeded" and result["job_ids"] == job_ids
    assert 1 <= resumes <= 2


def test_the_retryable_job_service_clients_retry_unavailable() -> None:
    """A plain client fails at once on an unreachable job service; the retryable ones keep trying (gRPC's own
    retry policy) until their deadline."""
    import time

    from airflow_provider_batch.compat.armada.operators.jobservice import get_retryable_job_service_client
    from airflow_provider_batch.compat.armada.operators.jobservice_asyncio import (
        get_retryable_job_service_asyncio_client,
    )

    started = time.monotonic()
    with pytest.raises(grpc.RpcError) as plain:
        JobServiceClient(grpc.insecure_channel("127.0.0.1:1"), timeout=2).health()
    assert plain.value.code() == grpc.StatusCode.UNAVAILABLE and time.monotonic() - started < 1

    client = get_retryable_job_service_client("127.0.0.1:1")
    client.timeout = 2
    started = time.monotonic()
    with pytest.raises(grpc.RpcError) as retried:
        client.health()
    assert retried.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED and time.monotonic() - started >= 1.5

    async def asynchronous() -> None:
        aio = get_retryable_job_service_asyncio_client("127.0.0.1:1", None, None)
        aio.timeout = 2
        await aio.get_job_status("q", "js", "01J")

    with pytest.raises(grpc.RpcError) as retried_too:
        asyncio.run(asynchronous())
    assert retried_too.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED


def test_the_timeout_of_a_blocking_group_cancels_every_job(
    clients: tuple[ArmadaClient, JobServiceClient], armada_queue: str
) -> None:
    armada_client, job_service_client = clients
    items = [armada_client.create_job_request_item(pod("sleep 30"), namespace="default") for _ in range(2)]
    operator = ArmadaOperator(
        name="slow_group", armada_client=armada_client, job_service_client=job_service_client,
        armada_queue=armada_queue, job_request_items=items, poll_interval=0.5, timeout=2,
    )  # fmt: skip
    ctx = context("slow_group", f"run-{uuid.uuid4().hex[:6]}")
    with pytest.raises(AirflowException, match="did not finish within"):
        operator.execute(ctx)
    job_ids = pushed(ctx)["job_ids"]
    deadline = time.monotonic() + 20
    while True:
        states = armada_client.get_job_status(job_ids).job_states
        names = {submit_pb2.JobState.Name(states[j]) for j in job_ids}
        if names == {"CANCELLED"} or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert names == {"CANCELLED"}
