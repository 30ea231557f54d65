"""Branches of the Armada client that need no server: retry rules, batching, error translation."""

from unittest import mock

import grpc
import pytest

from airflow_provider_batch._proto.armada import job_pb2, submit_pb2
from airflow_provider_batch.clients.armada.client import (
    ArmadaAsyncIOClient,
    ArmadaClient,
    ArmadaJobState,
    ArmadaRpcError,
)
from airflow_provider_batch.common.errors import InvalidJobSpecError
from airflow_provider_batch.common.retry import RetryPolicy

POD = {
    "containers": [
        {
            "name": "main",
            "image": "busybox",
            "command": ["true"],
            "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"cpu": "100m", "memory": "64Mi"}},
        }
    ]
}


class FakeRpcError(grpc.RpcError):
    def __init__(self, code, details="boom"):
        self._code, self._details = code, details

    def code(self):
        return self._code

    def details(self):
        return self._details


@pytest.fixture
def client():
    c = ArmadaClient(grpc.insecure_channel("localhost:1"), retry=RetryPolicy(max_attempts=3, initial_backoff=0))
    return c


def item(client_id=None):
    return ArmadaClient.create_job_request_item(pod_spec=POD, namespace="default", client_id=client_id)


def test_submit_is_retried_when_every_item_has_a_client_id(client):
    answers = [FakeRpcError(grpc.StatusCode.UNAVAILABLE), submit_pb2.JobSubmitResponse()]
    client._submit.SubmitJobs = mock.Mock(side_effect=answers)
    client.submit_jobs("q", "js", [item("a"), item("b")])
    assert client._submit.SubmitJobs.call_count == 2


def test_submit_is_not_retried_without_client_ids(client):
    client._submit.SubmitJobs = mock.Mock(side_effect=FakeRpcError(grpc.StatusCode.UNAVAILABLE, "down"))
    with pytest.raises(ArmadaRpcError) as raised:
        client.submit_jobs("q", "js", [item("a"), item()])
    assert client._submit.SubmitJobs.call_count == 1
    assert raised.value.code() is grpc.StatusCode.UNAVAILABLE
    assert "down" in str(raised.value)


def test_permanent_errors_are_not_retried_and_keep_the_servers_words(client):
    client._jobs.GetJobErrors = mock.Mock(side_effect=FakeRpcError(grpc.StatusCode.PERMISSION_DENIED, "no access"))
    with pytest.raises(grpc.RpcError) as raised:  # still a grpc.RpcError for armada_client users
        client.get_job_errors(["j"])
    assert client._jobs.GetJobErrors.call_count == 1
    assert str(raised.value) == "Armada GetJobErrors failed with PERMISSION_DENIED: no access"


def test_transient_errors_are_retried_up_to_the_policy(client):
    client._jobs.GetJobStatus = mock.Mock(side_effect=FakeRpcError(grpc.StatusCode.UNAVAILABLE))
    with pytest.raises(ArmadaRpcError):
        client.get_job_status(["j"])
    assert client._jobs.GetJobStatus.call_count == 3


@pytest.mark.parametrize("workers", [None, 4])
def test_status_is_asked_in_batches_of_500(client, workers):
    client.max_workers = workers or 1
    seen = []

    def answer(request, timeout):
        seen.append(len(request.job_ids))
        return job_pb2.JobStatusResponse(job_states={i: submit_pb2.RUNNING for i in request.job_ids})

    client._jobs.GetJobStatus = answer
    ids = [f"job-{i}" for i in range(1201)] + ["job-0"]
    states = client.get_job_status(ids).job_states
    assert sorted(seen) == [201, 500, 500]
    assert len(states) == 1201 and ArmadaJobState(states["job-7"]) is ArmadaJobState.RUNNING


def test_nothing_is_sent_for_bad_input(client):
    client._submit.SubmitJobs = mock.Mock()
    with pytest.raises(InvalidJobSpecError, match="job_set_id"):
        client.submit_jobs("q", "", [item("a")])
    with pytest.raises(InvalidJobSpecError, match=r"job_request_items\[0\].namespace"):
        client.submit_jobs("q", "js", [{"pod_spec": POD}])
    with pytest.raises(ValueError, match="external_job_uri"):
        client.get_job_status_by_external_job_uri("q", "js", "")
    client._submit.SubmitJobs.assert_not_called()


def test_cancel_without_ids_cancels_the_job_set(client):
    client._submit.CancelJobSet = mock.Mock(return_value=None)
    client.cancel_jobs("q", "js")
    request = client._submit.CancelJobSet.call_args.args[0]
    assert (request.queue, request.job_set_id, list(request.filter.states)) == ("q", "js", [])


def test_states_know_what_is_terminal():
    assert ArmadaJobState.PREEMPTED.is_terminal() and ArmadaJobState.REJECTED.is_terminal()
    assert not ArmadaJobState.UNKNOWN.is_active() and ArmadaJobState.LEASED.is_active()


async def test_async_client_batches_and_retries():
    channel = grpc.aio.insecure_channel("localhost:1")
    client = ArmadaAsyncIOClient(channel, retry=RetryPolicy(max_attempts=2, initial_backoff=0))
    calls = []

    async def answer(request, timeout):
        calls.append(len(request.job_ids))
        if len(calls) == 1:
            raise FakeRpcError(grpc.StatusCode.UNAVAILABLE)
        return job_pb2.JobStatusResponse(job_states={i: submit_pb2.SUCCEEDED for i in request.job_ids})

    client._jobs.GetJobStatus = answer
    states = (await client.get_job_status([f"j{i}" for i in range(600)])).job_states
    assert len(states) == 600
    assert sorted(calls) == [100, 500, 500] or sorted(calls) == [100, 100, 500]
    await channel.close()
