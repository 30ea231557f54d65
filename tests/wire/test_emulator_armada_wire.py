"""Armada semantics over the wire: raw generated stubs against the CLI-started emulator."""

from __future__ import annotations

import threading
import uuid

import grpc
import pytest
from _armada_helpers import TERMINAL_EVENTS, follow_until, job_item, kind_of

from airflow_provider_batch._proto.armada import (
    binoculars_pb2,
    binoculars_pb2_grpc,
    event_pb2,
    event_pb2_grpc,
    job_pb2,
    job_pb2_grpc,
    submit_pb2,
    submit_pb2_grpc,
)

pytestmark = pytest.mark.wire
JobState = submit_pb2.JobState


def submit(channel: grpc.Channel, queue: str, job_set: str, *items: object) -> list[str]:
    response = submit_pb2_grpc.SubmitStub(channel).SubmitJobs(
        submit_pb2.JobSubmitRequest(queue=queue, job_set_id=job_set, job_request_items=list(items))
    )
    return [item.job_id for item in response.job_response_items]


def status_of(error: grpc.RpcError) -> tuple[grpc.StatusCode, str]:
    return error.code(), error.details()


def test_submit_errors_name_the_field(armada_channel: grpc.Channel, armada_queue: str) -> None:
    bad = job_item(["true"])
    bad.namespace = ""
    with pytest.raises(grpc.RpcError) as caught:
        submit(armada_channel, armada_queue, "js", bad)
    code, details = status_of(caught.value)
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "job_request_items[0].namespace" in details

    with pytest.raises(grpc.RpcError) as caught:
        submit(armada_channel, "no-such-queue", "js", job_item(["true"]))
    code, details = status_of(caught.value)
    assert code == grpc.StatusCode.NOT_FOUND and "no-such-queue" in details


def test_event_stream_resume_and_errors(armada_channel: grpc.Channel, armada_queue: str) -> None:
    events = event_pb2_grpc.EventStub(armada_channel)
    with pytest.raises(grpc.RpcError) as caught:
        list(events.GetJobSetEvents(event_pb2.JobSetRequest(id="js", queue="no-such-queue")))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as caught:
        list(events.GetJobSetEvents(event_pb2.JobSetRequest(id="later", queue=armada_queue, errorIfMissing=True)))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    assert list(events.GetJobSetEvents(event_pb2.JobSetRequest(id="later", queue=armada_queue))) == []

    (job_id,) = submit(armada_channel, armada_queue, "js", job_item(["true"]))
    follow_until(armada_channel, armada_queue, "js", job_id, TERMINAL_EVENTS)
    everything = list(events.GetJobSetEvents(event_pb2.JobSetRequest(id="js", queue=armada_queue, watch=False)))
    assert [kind_of(m) for m in everything] == ["submitted", "queued", "leased", "pending", "running", "succeeded"]
    rest = list(
        events.GetJobSetEvents(
            event_pb2.JobSetRequest(id="js", queue=armada_queue, from_message_id=everything[2].id, errorIfMissing=True)
        )
    )
    assert [m.id for m in rest] == [m.id for m in everything[3:]]
    with pytest.raises(grpc.RpcError) as caught:
        list(events.GetJobSetEvents(event_pb2.JobSetRequest(id="js", queue=armada_queue, from_message_id="1-0")))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_watching_stream_receives_later_events(armada_channel: grpc.Channel, armada_queue: str) -> None:
    events = event_pb2_grpc.EventStub(armada_channel)
    stream = events.GetJobSetEvents(event_pb2.JobSetRequest(id="watched", queue=armada_queue, watch=True), timeout=30)
    received: list[str] = []
    done = threading.Event()

    def read() -> None:
        try:
            for message in stream:
                received.append(kind_of(message))
                if received[-1] in TERMINAL_EVENTS:
                    done.set()
        except grpc.RpcError:
            pass

    reader = threading.Thread(target=read)
    reader.start()
    submit(armada_channel, armada_queue, "watched", job_item(["true"]))
    assert done.wait(30)
    stream.cancel()
    reader.join(10)
    assert received[0] == "submitted" and received[-1] == "succeeded"


def test_query_api(armada_channel: grpc.Channel, armada_queue: str) -> None:
    jobs = job_pb2_grpc.JobsStub(armada_channel)
    item = job_item(["sh", "-c", "echo one; echo two >&2; exit 4"], external_job_uri="airflow://dag/task/run/-1")
    (job_id,) = submit(armada_channel, armada_queue, "js", item)
    follow_until(armada_channel, armada_queue, "js", job_id, TERMINAL_EVENTS)

    states = jobs.GetJobStatus(job_pb2.JobStatusRequest(job_ids=[job_id, "01ARZ3NDEKTSV4RRFFQ69G5FAV"])).job_states
    assert dict(states) == {job_id: JobState.FAILED, "01ARZ3NDEKTSV4RRFFQ69G5FAV": JobState.UNKNOWN}
    with pytest.raises(grpc.RpcError) as caught:
        jobs.GetJobStatus(job_pb2.JobStatusRequest(job_ids=[str(i) for i in range(501)]))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT

    by_uri = jobs.GetJobStatusUsingExternalJobUri(
        job_pb2.JobStatusUsingExternalJobUriRequest(
            queue=armada_queue, jobset="js", external_job_uri="airflow://dag/task/run/-1"
        )
    )
    assert dict(by_uri.job_states) == {job_id: JobState.FAILED}
    with pytest.raises(grpc.RpcError) as caught:
        jobs.GetJobStatusUsingExternalJobUri(
            job_pb2.JobStatusUsingExternalJobUriRequest(queue=armada_queue, jobset="js")
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT

    errors = jobs.GetJobErrors(job_pb2.JobErrorsRequest(job_ids=[job_id])).job_errors
    assert errors[job_id] == "process exited with code 4"

    plain = jobs.GetJobDetails(job_pb2.JobDetailsRequest(job_ids=[job_id])).job_details[job_id]
    assert plain.state == JobState.FAILED and not plain.job_runs and not plain.HasField("job_spec")
    full = jobs.GetJobDetails(
        job_pb2.JobDetailsRequest(job_ids=[job_id], expand_job_run=True, expand_job_spec=True)
    ).job_details[job_id]
    assert full.job_spec.id == job_id and len(full.job_runs) == 1
    run = full.job_runs[0]
    assert run.run_id == full.latest_run_id and run.state == job_pb2.JobRunState.RUN_STATE_FAILED
    assert run.started_ts.ToNanoseconds() <= run.finished_ts.ToNanoseconds()
    by_run = jobs.GetJobRunDetails(job_pb2.JobRunDetailsRequest(run_ids=[run.run_id])).job_run_details
    assert by_run[run.run_id].job_id == job_id

    logs = binoculars_pb2_grpc.BinocularsStub(armada_channel)
    lines = logs.Logs(binoculars_pb2.LogRequest(job_id=job_id, pod_namespace="default")).log
    assert sorted(line.line for line in lines) == ["one", "two"]
    after_first = logs.Logs(binoculars_pb2.LogRequest(job_id=job_id, since_time=lines[0].timestamp)).log
    assert [line.line for line in after_first] == [lines[1].line]


def test_cancel_reprioritize_and_preempt(armada_channel: grpc.Channel, armada_queue: str) -> None:
    submit_stub = submit_pb2_grpc.SubmitStub(armada_channel)
    to_cancel, to_preempt = submit(
        armada_channel, armada_queue, "js", job_item(["sleep", "30"]), job_item(["sleep", "30"])
    )
    reprioritized = submit_stub.ReprioritizeJobs(
        submit_pb2.JobReprioritizeRequest(job_ids=[to_cancel], queue=armada_queue, job_set_id="js", new_priority=2)
    )
    assert dict(reprioritized.reprioritization_results) == {to_cancel: ""}
    follow_until(armada_channel, armada_queue, "js", to_preempt, {"running"})
    cancelled = submit_stub.CancelJobs(
        submit_pb2.JobCancelRequest(job_id=to_cancel, queue=armada_queue, job_set_id="js")
    )
    assert list(cancelled.cancelled_ids) == [to_cancel]
    preempted = submit_stub.PreemptJobs(
        submit_pb2.JobPreemptRequest(job_ids=[to_preempt], queue=armada_queue, job_set_id="js", reason="room")
    )
    assert dict(preempted.preemption_results) == {to_preempt: ""}
    states = job_pb2_grpc.JobsStub(armada_channel).GetJobStatus(
        job_pb2.JobStatusRequest(job_ids=[to_cancel, to_preempt])
    )
    assert dict(states.job_states) == {to_cancel: JobState.CANCELLED, to_preempt: JobState.PREEMPTED}
    events = follow_until(armada_channel, armada_queue, "js", to_cancel, {"cancelled"})
    assert [kind_of(m) for m in events if kind_of(m) in {"reprioritizing", "reprioritized", "cancelling"}] == [
        "reprioritizing",
        "reprioritized",
        "cancelling",
    ]


def test_queues(armada_channel: grpc.Channel) -> None:
    queues = submit_pb2_grpc.QueueServiceStub(armada_channel)
    name = f"q-{uuid.uuid4().hex[:8]}"
    queues.CreateQueue(submit_pb2.Queue(name=name, priority_factor=1))
    with pytest.raises(grpc.RpcError) as caught:
        queues.CreateQueue(submit_pb2.Queue(name=name, priority_factor=1))
    assert caught.value.code() == grpc.StatusCode.ALREADY_EXISTS
    queues.UpdateQueue(submit_pb2.Queue(name=name, priority_factor=2))
    assert (
        submit_pb2_grpc.SubmitStub(armada_channel).GetQueue(submit_pb2.QueueGetRequest(name=name)).priority_factor == 2
    )
    streamed = list(queues.GetQueues(submit_pb2.StreamingQueueGetRequest()))
    assert streamed[-1].WhichOneof("event") == "end"
    assert name in {m.queue.name for m in streamed[:-1]}
    queues.DeleteQueue(submit_pb2.QueueDeleteRequest(name=name))
    with pytest.raises(grpc.RpcError) as caught:
        queues.GetQueue(submit_pb2.QueueGetRequest(name=name))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
