"""The job service is a trust boundary: attacks through its requests and its store, against the real command line."""

from __future__ import annotations

import json
import math
import sqlite3
import time
from concurrent import futures
from pathlib import Path

import grpc
import pytest
from _jobservice_helpers import TOKEN, Service, submit, wait_for

from airflow_provider_batch._proto.jobservice import jobservice_pb2 as pb
from airflow_provider_batch._proto.jobservice import jobservice_pb2_grpc as pb_grpc
from airflow_provider_batch.clients.armada.client import ArmadaClient
from airflow_provider_batch.common.channel import CallCredentials, GrpcChannelArguments
from airflow_provider_batch.common.jobref import JobRef
from airflow_provider_batch.common.states import JobState
from airflow_provider_batch.jobservice.store import JobStore

pytestmark = pytest.mark.wire


def _stub(service: Service) -> tuple[grpc.Channel, pb_grpc.JobServiceStub]:
    channel = GrpcChannelArguments(service.target).channel(CallCredentials.bearer(TOKEN))
    return channel, pb_grpc.JobServiceStub(channel)


def _request(
    backend: str, conn_id: str, job_id: str = "01JOB", poll: float = 1.0, **details: str
) -> pb.JobStatusesRequest:
    job = pb.WatchedJob(backend=backend, conn_id=conn_id, job_id=job_id, details=details)
    return pb.JobStatusesRequest(jobs=[job], poll_interval=poll)


def _refused(call, request) -> grpc.RpcError:  # type: ignore[no-untyped-def]
    with pytest.raises(grpc.RpcError) as raised:
        result = call(request, timeout=10)
        list(result) if not isinstance(result, pb.JobStatusesResponse) else None
    assert raised.value.code() is grpc.StatusCode.INVALID_ARGUMENT, raised.value.details()
    return raised.value


def test_channel_arguments_naming_a_function_are_refused_and_nothing_runs(tmp_path, armada_emulator):
    marker = tmp_path / "pwned"
    channel_args = {
        "armada_conn_id": "",
        "channel": {"target": "127.0.0.1:1", "tls": False, "ca_cert": None, "options": [], "compression": None},
        "credentials": {
            "module_name": "os",
            "function_name": "system",
            "function_kwargs": {"command": f"touch {marker}"},
        },
    }
    conn_id = json.dumps(channel_args)
    service = Service(str(tmp_path / "js.db"), armada_emulator)
    channel, stub = _stub(service)
    try:
        for call in (stub.GetJobStatuses, stub.WatchJobs):
            error = _refused(call, _request("armada_channel", conn_id, poll=0.5))
            assert "backend" in error.details()
            # The same channel arguments under a served backend's name are no connection id either.
            error = _refused(call, _request("armada", conn_id, poll=0.5))
            assert "conn_id" in error.details()
        time.sleep(1.5)  # a watcher, had one been made, would have built its channel by now
        assert not marker.exists(), "the service imported and called a function named by a caller"
        assert JobStore(str(tmp_path / "js.db")).load() == []
    finally:
        channel.close()
        assert service.stop() == 0


class _Recorder(grpc.GenericRpcHandler):
    """The attacker's server: it records the metadata of every call it receives."""

    def __init__(self) -> None:
        self.calls: list[dict[str, str]] = []

    def service(self, handler_call_details):  # type: ignore[no-untyped-def]
        self.calls.append(dict(handler_call_details.invocation_metadata))
        return None


def test_credentials_of_a_connection_are_never_sent_to_a_callers_target(tmp_path, armada_emulator):
    recorder = _Recorder()
    attacker = grpc.server(futures.ThreadPoolExecutor(max_workers=2), handlers=[recorder])
    port = attacker.add_insecure_port("127.0.0.1:0")
    attacker.start()
    secret = "qarnot-secret-token-123"
    env = {"AIRFLOW_CONN_QARNOT_VICTIM": json.dumps({"conn_type": "qarnot", "password": secret})}
    conn_id = json.dumps(
        {
            "armada_conn_id": "",
            "channel": {"target": f"127.0.0.1:{port}", "tls": False, "ca_cert": None, "options": []},
            "credentials": {"conn_id": "qarnot_victim"},
        }
    )
    service = Service(str(tmp_path / "js.db"), armada_emulator, env_extra=env)
    channel, stub = _stub(service)
    try:
        for call in (stub.GetJobStatuses, stub.WatchJobs):
            _refused(call, _request("armada_channel", conn_id, poll=0.5))
            # A URL or channel arguments smuggled in the details are refused too.
            error = _refused(call, _request("armada", "armada_default", channel=conn_id, queue="q"))
            assert "details" in error.details()
        time.sleep(1.5)
        assert recorder.calls == [], "the service called a target a caller chose"
    finally:
        channel.close()
        assert service.stop() == 0
        attacker.stop(0)


@pytest.mark.parametrize("poll", [math.nan, math.inf, -math.inf, 0.0, -1.0, 0.1, 3600.5, 1e9])
def test_silly_poll_intervals_are_refused(tmp_path, armada_emulator, poll):
    service = Service(str(tmp_path / "js.db"), armada_emulator)
    channel, stub = _stub(service)
    try:
        for call in (stub.GetJobStatuses, stub.WatchJobs):
            error = _refused(call, _request("armada", "armada_default", poll=poll, queue="q", job_set_id="s"))
            assert "poll_interval" in error.details() and "0.5" in error.details() and "3600" in error.details()
    finally:
        channel.close()
        assert service.stop() == 0


@pytest.mark.parametrize(
    ("field", "job"),
    [
        ("job_id", pb.WatchedJob(backend="armada", conn_id="armada_default", job_id="x" * 300)),
        ("job_id", pb.WatchedJob(backend="armada", conn_id="armada_default", job_id="a\nb")),
        ("conn_id", pb.WatchedJob(backend="armada", conn_id="https://evil.example.com", job_id="j")),
        ("conn_id", pb.WatchedJob(backend="qarnot", conn_id="c" * 251, job_id="j")),
        ("job_set_id", pb.WatchedJob(backend="armada", conn_id="a", job_id="j", details={"job_set_id": "s" * 1024})),
        ("queue", pb.WatchedJob(backend="armada", conn_id="a", job_id="j", details={"queue": "q\x00"})),
        ("backend", pb.WatchedJob(backend="slurm", conn_id="a", job_id="j")),
    ],
)
def test_bad_ids_are_refused_naming_the_field(tmp_path, armada_emulator, field, job):
    service = Service(str(tmp_path / "js.db"), armada_emulator)
    channel, stub = _stub(service)
    try:
        error = _refused(stub.GetJobStatuses, pb.JobStatusesRequest(jobs=[job], poll_interval=1.0))
        assert field in error.details()
        seed = pb.JobServiceRequest(queue="q", job_set_id="s", job_id="x" * 300)
        assert "job_id" in _refused(stub.GetJobStatus, seed).details()
    finally:
        channel.close()
        assert service.stop() == 0


def test_a_poisoned_store_is_skipped_and_the_good_rows_are_served(tmp_path, armada_emulator, armada_queue):
    armada = ArmadaClient(
        GrpcChannelArguments(armada_emulator.target).channel(CallCredentials.bearer(armada_emulator.token))
    )
    good = submit(armada, armada_queue, "poison", "echo fine")
    store_path = str(tmp_path / "js.db")
    good_ref = JobRef("armada", "armada_default", good, {"queue": armada_queue, "job_set_id": "poison"})
    JobStore(store_path).save([(good_ref, None)])
    now = time.time()
    poison = [
        ("slurm", "armada_default", "01OLD", "{}", None),
        ("armada_channel", json.dumps({"channel": {"target": "127.0.0.1:1"}}), "01CHAN", "{}", None),
        ("armada", "no_such_connection", "01GONE", '{"queue": "q", "job_set_id": "s"}', None),
        ("armada", "armada_default", "01GARBAGE", "{not json", None),
        ("armada", "armada_default", "01BADSTATE", "{}", "exploded"),
    ]
    with sqlite3.connect(store_path) as db:
        for backend, conn_id, job_id, details, state in poison:
            db.execute(
                "INSERT INTO batch_watched_jobs (backend, conn_id, job_id, details, state, updated_at, asked_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (backend, conn_id, job_id, details, state, now, now),
            )
    log = Path(tmp_path / "service.log")
    with log.open("w") as stderr:
        service = Service(store_path, armada_emulator, stderr=stderr)
    try:
        client = service.client()
        wait_for(lambda: client.get_job_statuses([good_ref], 0.5)[good].state is JobState.SUCCEEDED, timeout=30)
    finally:
        assert service.stop() == 0
    text = log.read_text()
    for job_id in ("01OLD", "01CHAN", "01GARBAGE", "01BADSTATE"):
        assert job_id in text, f"{job_id} was not logged as skipped:\n{text}"
    assert "no_such_connection" in text and "does not exist" in text
