"""Which layer retries what (hooks/base.py): the status reads a wait uses go to the scheduler ONCE, so the wait policy
alone decides when to ask again; submits keep a retry. One backend at a time, through the real clients' retry
loops (only the transport below them is scripted)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import SimpleNamespace
from typing import Any
from unittest import mock

import grpc
import pytest

from airflow_provider_batch._proto.armada import submit_pb2
from airflow_provider_batch.clients.apolo.client import ApoloClient, ApoloSyncClient
from airflow_provider_batch.clients.apolo.config import ApoloConfig
from airflow_provider_batch.clients.apolo.errors import ApoloUnavailableError
from airflow_provider_batch.clients.armada.client import ArmadaAsyncIOClient, ArmadaClient, ArmadaRpcError
from airflow_provider_batch.clients.qarnot.client import QarnotAsyncClient, QarnotClient
from airflow_provider_batch.clients.qarnot.config import QarnotConfig
from airflow_provider_batch.clients.qarnot.errors import QarnotUnavailableError
from airflow_provider_batch.clients.qarnot.types import Page, TaskSpec
from airflow_provider_batch.common.identity import JobIdentity
from airflow_provider_batch.common.jobref import JobRef
from airflow_provider_batch.common.retry import RetryPolicy
from airflow_provider_batch.hooks import apolo as apolo_hooks
from airflow_provider_batch.hooks import qarnot as qarnot_hooks
from airflow_provider_batch.hooks.apolo import ApoloHook, ApoloSubmission
from airflow_provider_batch.hooks.armada import ArmadaHook, ArmadaSubmission
from airflow_provider_batch.hooks.qarnot import QarnotHook, QarnotSubmission

FAST = RetryPolicy(max_attempts=4, initial_backoff=0.0, max_backoff=0.0)
QTY = {"cpu": "100m", "memory": "64Mi"}
IDENTITY = JobIdentity("dag", "task", "manual__2024-01-01T00:00:00+00:00", -1, 1)


class Unavailable(grpc.RpcError):
    def code(self) -> grpc.StatusCode:
        return grpc.StatusCode.UNAVAILABLE

    def details(self) -> str:
        return "connection reset"


# -- Armada ---------------------------------------------------------------------------------------------------------


def armada_hook() -> ArmadaHook:
    hook = ArmadaHook("a")
    hook.__dict__["client"] = ArmadaClient(grpc.insecure_channel("localhost:1"), retry=FAST)
    return hook


def test_armada_status_read_is_one_try():
    hook = armada_hook()
    hook.client._jobs.GetJobStatus = mock.Mock(side_effect=Unavailable())
    with pytest.raises(ArmadaRpcError, match="UNAVAILABLE"):
        hook.get_status(JobRef("armada", "a", "j-1", {"queue": "q", "job_set_id": "s"}))
    assert hook.client._jobs.GetJobStatus.call_count == 1


async def test_armada_batched_status_read_is_one_try():
    hook = ArmadaHook("a")
    client = ArmadaAsyncIOClient(grpc.aio.insecure_channel("localhost:1"), retry=FAST)
    client._jobs.GetJobStatus = mock.AsyncMock(side_effect=Unavailable())
    hook._async_client = client
    with pytest.raises(ArmadaRpcError, match="UNAVAILABLE"):
        await hook.aget_statuses([JobRef("armada", "a", "j-1"), JobRef("armada", "a", "j-2")])
    assert client._jobs.GetJobStatus.call_count == 1


async def test_armada_follow_asks_for_a_stream_that_does_not_retry():
    hook = ArmadaHook("a")
    client = mock.Mock(spec=ArmadaAsyncIOClient)
    client.get_job_events_stream.side_effect = ArmadaRpcError("GetJobSetEvents", grpc.StatusCode.UNAVAILABLE, "x")
    hook._async_client = client
    with pytest.raises(ArmadaRpcError):
        async for _ in hook.afollow('["q", "s"]', []):
            pass
    assert client.get_job_events_stream.call_args.kwargs["retry"] is False


async def test_an_armada_stream_without_retry_raises_its_first_break():
    client = ArmadaAsyncIOClient(grpc.aio.insecure_channel("localhost:1"), retry=FAST)
    opened = []

    class Broken:  # a grpc.aio stream call whose connection broke
        async def read(self) -> Any:
            raise Unavailable()

        def cancel(self) -> None:
            pass

    client._events.GetJobSetEvents = lambda request: opened.append(request) or Broken()
    with pytest.raises(ArmadaRpcError, match="UNAVAILABLE"):
        async for _ in client.get_job_events_stream("q", "s", retry=False):
            pass
    assert len(opened) == 1


def test_armada_submit_is_retried():
    hook = armada_hook()
    answer = submit_pb2.JobSubmitResponse(job_response_items=[submit_pb2.JobSubmitResponseItem(job_id="j-1")])
    hook.client._submit.SubmitJobs = mock.Mock(side_effect=[Unavailable(), answer])
    item = ArmadaClient.create_job_request_item(
        pod_spec={"containers": [{"name": "m", "image": "busybox", "resources": {"requests": QTY, "limits": QTY}}]},
        namespace="default",
    )
    ref = hook.submit_job(ArmadaSubmission("q", "s", item), IDENTITY, 0)
    assert ref.job_id == "j-1" and hook.client._submit.SubmitJobs.call_count == 2


# -- Qarnot ---------------------------------------------------------------------------------------------------------


def qarnot_config() -> QarnotConfig:
    return QarnotConfig(token="t", cluster_url="http://127.0.0.1:1", retry=FAST)


def busy(request: Any) -> Any:
    raise QarnotUnavailableError(request.call, "503", "busy")


def test_qarnot_status_read_is_one_try():
    hook = QarnotHook("q")
    client = hook.__dict__["client"] = QarnotClient(qarnot_config())
    client._once = mock.Mock(side_effect=busy)  # type: ignore[method-assign]
    with pytest.raises(QarnotUnavailableError):
        hook.get_status(JobRef("qarnot", "q", "t-1"))
    assert client._once.call_count == 1


async def test_qarnot_async_status_reads_are_one_try():
    hook = QarnotHook("q")
    client = hook._async_client = QarnotAsyncClient(qarnot_config())
    client._once = mock.AsyncMock(side_effect=busy)  # type: ignore[method-assign]
    with pytest.raises(QarnotUnavailableError):
        await hook.aget_status(JobRef("qarnot", "q", "t-1"))
    assert client._once.call_count == 1
    with pytest.raises(QarnotUnavailableError):
        await hook.aget_statuses([JobRef("qarnot", "q", "t-1", {"tag": "airflow-job-x"})])
    assert client._once.call_count == 2
    await hook.aclose()


def test_qarnot_submit_is_retried(monkeypatch):
    monkeypatch.setattr(qarnot_hooks, "SUBMIT_RETRY", FAST)
    hook = QarnotHook("q")
    client = hook.__dict__["client"] = QarnotClient(qarnot_config())
    posts = []

    def answer(request: Any) -> Any:
        if request.path == "/tasks":
            posts.append(request)
            if len(posts) == 1:
                busy(request)
            return "t-1"
        return Page([], None, False)  # the lookup of an earlier submission finds none

    client._once = mock.Mock(side_effect=answer)  # type: ignore[method-assign]
    ref = hook.submit_job(QarnotSubmission(TaskSpec(name="n", profile="docker-batch")), IDENTITY, 0)
    assert ref.job_id == "t-1" and len(posts) == 2


# -- Apolo ----------------------------------------------------------------------------------------------------------


class ApoloTransport:
    """Stands in for the aiohttp session: answers every request with the next scripted (status, body)."""

    def __init__(self, *answers: tuple[int, str]) -> None:
        self.answers = list(answers)
        self.calls: list[str] = []

    @asynccontextmanager
    async def _answer(self, method: str, url: str) -> AsyncIterator[Any]:
        self.calls.append(f"{method} {url.rsplit('/api/v1', 1)[-1]}")
        status, body = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]

        async def text() -> str:
            return body

        yield SimpleNamespace(status=status, reason="", text=text, headers={"Content-Type": "application/json"})

    def request(self, method: str, url: str, **_: Any) -> Any:
        return self._answer(method, url)

    def get(self, url: str, **_: Any) -> Any:
        return self._answer("GET", url)

    async def close(self) -> None:
        pass


def apolo_config() -> ApoloConfig:
    return ApoloConfig(token="t", url="http://127.0.0.1:1/api/v1", cluster="c", org="o", project="p", retry=FAST)


def job_json(status: str = "pending") -> str:
    import json

    return json.dumps(
        {
            "id": "job-1",
            "name": "n",
            "owner": "me",
            "cluster_name": "c",
            "status": status,
            "history": {"status": status, "reason": "", "description": "", "created_at": "2026-01-01T00:00:00+00:00"},
            "container": {"image": "ubuntu", "resources": {"cpu": 1, "memory": 1024}},
            "uri": "job://c/me/job-1",
        }
    )


def with_transport(client: ApoloClient, transport: ApoloTransport) -> None:
    async def session() -> Any:
        return transport

    client._get_session = session  # type: ignore[method-assign]


async def test_apolo_async_status_reads_are_one_try():
    hook = ApoloHook("a")
    client = hook._async_client = ApoloClient(apolo_config())
    transport = ApoloTransport((503, "busy"))
    with_transport(client, transport)
    with pytest.raises(ApoloUnavailableError):
        await hook.aget_status(JobRef("apolo", "a", "job-1"))
    assert transport.calls == ["GET /jobs/job-1"]
    created = {"created_at": "2026-01-01T00:00:00+00:00"}
    with pytest.raises(ApoloUnavailableError):
        await hook.aget_statuses([JobRef("apolo", "a", "job-1", created)])
    assert transport.calls == ["GET /jobs/job-1", "GET /jobs"]  # the list, once; no single read after it


def test_apolo_status_read_and_submit(monkeypatch):
    monkeypatch.setattr(apolo_hooks, "SUBMIT_RETRY", FAST)
    hook = ApoloHook("a")
    client = hook.__dict__["client"] = ApoloSyncClient(apolo_config())
    try:
        transport = ApoloTransport((503, "busy"))
        with_transport(client.aio, transport)
        with pytest.raises(ApoloUnavailableError):
            hook.get_status(JobRef("apolo", "a", "job-1"))
        assert transport.calls == ["GET /jobs/job-1"]
        transport = ApoloTransport((429, "slow down"), (202, job_json()))
        with_transport(client.aio, transport)
        ref = hook.submit_job(ApoloSubmission(image="ubuntu", preset_name="cpu"), IDENTITY, 0)
        assert ref.job_id == "job-1" and transport.calls == ["POST /jobs?from_preset"] * 2
    finally:
        client.close()
