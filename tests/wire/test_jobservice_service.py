"""The standalone job service against the Armada emulator: the seed's calls, batches, auth, restarts, stores."""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import Iterator

import grpc
import pytest
from _jobservice_helpers import TOKEN, Service, submit, wait_for

from airflow_provider_batch.clients.armada.client import ArmadaClient
from airflow_provider_batch.clients.jobservice import JobServiceResponse
from airflow_provider_batch.common.channel import CallCredentials, GrpcChannelArguments
from airflow_provider_batch.common.jobref import JobRef
from airflow_provider_batch.common.states import JobState, JobStatus
from airflow_provider_batch.jobservice.store import MIGRATIONS, JobStore

pytestmark = pytest.mark.wire
State = JobServiceResponse.State


@pytest.fixture
def armada(armada_emulator) -> Iterator[ArmadaClient]:
    channel = GrpcChannelArguments(armada_emulator.target).channel(CallCredentials.bearer(armada_emulator.token))
    yield ArmadaClient(channel)
    channel.close()


def test_seed_calls_batches_and_auth(tmp_path, armada_emulator, armada_queue, armada):
    service = Service(str(tmp_path / "js.db"), armada_emulator)
    try:
        ok = submit(armada, armada_queue, "seed", "echo fine")
        bad = submit(armada, armada_queue, "seed", "exit 4")
        client = service.client()
        assert client.health().status == 1
        final = wait_for(lambda: (r := client.get_job_status(armada_queue, "seed", ok)).state == State.SUCCEEDED and r)
        assert final.error == ""
        failed = wait_for(lambda: (r := client.get_job_status(armada_queue, "seed", bad)).state == State.FAILED and r)
        assert "code 4" in failed.error
        assert client.get_job_status(armada_queue, "seed", "01NOSUCHJOB00000000000000").state == State.JOB_ID_NOT_FOUND

        refs = [JobRef("armada", "armada_default", j, {"queue": armada_queue, "job_set_id": "seed"}) for j in (ok, bad)]
        answers = client.get_job_statuses(refs, poll_interval=0.5)
        assert answers[ok] == JobStatus(JobState.SUCCEEDED, "SUCCEEDED", "")
        assert answers[bad].state is JobState.FAILED

        with pytest.raises(grpc.RpcError) as raised:
            service.client("wrong-token").get_job_status(armada_queue, "seed", ok)
        assert raised.value.code() is grpc.StatusCode.UNAUTHENTICATED
    finally:
        assert service.stop() == 0


def test_a_restart_resumes_from_the_store(tmp_path, armada_emulator, armada_queue, armada):
    store_path = str(tmp_path / "js.db")
    service = Service(store_path, armada_emulator)
    job = submit(armada, armada_queue, "restart", "sleep 3; echo done")
    ref = JobRef("armada", "armada_default", job, {"queue": armada_queue, "job_set_id": "restart"})
    try:
        first = service.client().get_job_statuses([ref], poll_interval=0.5)[job]
        assert first.state in (JobState.QUEUED, JobState.RUNNING, JobState.UNKNOWN)
    finally:
        assert service.stop() == 0

    remembered = JobStore(store_path).load()
    assert [r.job_id for r, _ in remembered] == [job]

    service = Service(store_path, armada_emulator)
    try:
        client = service.client()
        wait_for(lambda: client.get_job_statuses([ref], 0.5)[job].state is JobState.SUCCEEDED, timeout=30)
    finally:
        assert service.stop() == 0
    rows = JobStore(store_path).load()
    assert rows[0][1] is not None and rows[0][1].state is JobState.SUCCEEDED


def _postgres_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


@pytest.mark.skipif(not _postgres_reachable(), reason="no PostgreSQL server on 127.0.0.1:5432")
def test_postgres_store_migrates_once_and_keeps_rows():
    import sqlalchemy as sa

    schema = f"js_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine("postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    with admin.begin() as db:
        db.execute(sa.text(f"CREATE SCHEMA {schema}"))
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/postgres?options=-csearch_path%3D{schema}"
    try:
        store = JobStore(url)
        job = JobRef("armada", "c", "j1", {"queue": "q"})
        store.save([(job, None)])
        store.save([(job, JobStatus(JobState.RUNNING, "RUNNING"))])
        store.close()
        again = JobStore(url)  # a restart: migrations do not run twice, nothing is dropped
        assert again.migrate() == len(MIGRATIONS)
        assert again.load() == [(job, JobStatus(JobState.RUNNING, "RUNNING", ""))]
        with again.engine.connect() as db:
            assert db.execute(sa.text("SELECT COUNT(*) FROM batch_jobservice_schema")).scalar() == len(MIGRATIONS)
        again.close()
    finally:
        with admin.begin() as db:
            db.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def test_sqlite_store_survives_reopening(tmp_path):
    path = str(tmp_path / "s.db")
    store = JobStore(path)
    job = JobRef("armada", "c", "j1", {"queue": "q"})
    store.save([(job, JobStatus(JobState.FAILED, "FAILED", "exit 1"))])
    store.close()
    assert JobStore(path).load() == [(job, JobStatus(JobState.FAILED, "FAILED", "exit 1"))]


async def test_triggers_ask_the_standalone_service_when_configured(
    tmp_path, armada_emulator, armada_queue, armada, monkeypatch
):
    from airflow_provider_batch.triggers.batch import BatchJobTrigger

    service = Service(str(tmp_path / "js.db"), armada_emulator)
    try:
        monkeypatch.setenv("AIRFLOW__BATCH__JOBSERVICE_CONN_ID", "batch_jobservice_test")
        monkeypatch.setenv(
            "AIRFLOW_CONN_BATCH_JOBSERVICE_TEST",
            json.dumps({"conn_type": "batch_jobservice", "host": service.target, "password": TOKEN}),
        )
        emulator_calls = armada_emulator.stats().get("/api.Jobs/GetJobStatus", 0)
        jobs = [submit(armada, armada_queue, "remote", f"sleep 1; exit {i % 2}") for i in range(4)]
        details = {"queue": armada_queue, "job_set_id": "remote"}
        triggers = [BatchJobTrigger(JobRef("armada", "armada_default", j, details).to_json(), 0.5) for j in jobs]
        import asyncio

        events = await asyncio.wait_for(asyncio.gather(*(t.run().__anext__() for t in triggers)), timeout=60)
        assert [e.payload["status"] for e in events] == ["success", "failed", "success", "failed"]
        assert armada_emulator.stats().get("/api.Jobs/GetJobStatus", 0) > emulator_calls
    finally:
        assert service.stop() == 0
    # The triggers' questions went through the service: it remembers every job it was asked about.
    assert sorted(r.job_id for r, _ in JobStore(str(tmp_path / "js.db")).load()) == sorted(jobs)


def test_watch_jobs_streams_each_change_until_all_are_terminal(tmp_path, armada_emulator, armada_queue, armada):
    from airflow_provider_batch._proto.jobservice import jobservice_pb2_grpc
    from airflow_provider_batch.clients.jobservice import statuses_request

    service = Service(str(tmp_path / "js.db"), armada_emulator)
    try:
        job = submit(armada, armada_queue, "watch", "sleep 1")
        ref = JobRef("armada", "armada_default", job, {"queue": armada_queue, "job_set_id": "watch"})
        channel = GrpcChannelArguments(service.target).channel(CallCredentials.bearer(TOKEN))
        stream = jobservice_pb2_grpc.JobServiceStub(channel).WatchJobs(statuses_request([ref], 0.5), timeout=60)
        states = [message.state for message in stream]
        assert states[-1] == "succeeded"
        assert len(states) == len(set(states)), f"a state was streamed twice: {states}"
        channel.close()
    finally:
        assert service.stop() == 0
