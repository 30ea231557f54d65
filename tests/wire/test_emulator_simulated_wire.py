"""Benchmark mode over the wire: the command line's --simulate-jobs runs Armada jobs as durations, with the same
states and events, and starts no process for them."""

from __future__ import annotations

import time

import psutil
import pytest
from _armada_helpers import job_item

from airflow_provider_batch._proto.armada import job_pb2, job_pb2_grpc, submit_pb2, submit_pb2_grpc
from airflow_provider_batch.emulators import launch
from airflow_provider_batch.emulators.testing import authorized_channel

pytestmark = pytest.mark.wire
JobState = submit_pb2.JobState


def test_simulated_jobs_end_as_their_commands_say_with_no_process() -> None:
    args = ["--only", "armada", "--armada-port", "0", "--admin-port", "0", "--armada-queue", "q"]
    with launch([*args, "--simulate-jobs", "--step-ms", "10", "--max-running", "500"]) as emulators:
        channel = authorized_channel(emulators["armada"]["target"], emulators["armada"]["token"])
        items = [job_item(["sleep", "1"]) for _ in range(300)]
        items.append(job_item(["sh", "-c", "sleep 0.5; exit 3"]))
        items.append(job_item(["definitely-not-installed", "--flag"]))  # a process would fail to start
        response = submit_pb2_grpc.SubmitStub(channel).SubmitJobs(
            submit_pb2.JobSubmitRequest(queue="q", job_set_id="js", job_request_items=items)
        )
        ids = [item.job_id for item in response.job_response_items]
        jobs = job_pb2_grpc.JobsStub(channel)
        time.sleep(0.5)
        emulator = psutil.Process(emulators.process.pid)
        assert emulator.children(recursive=True) == []  # 300 jobs "running", no process for any of them
        deadline = time.monotonic() + 20
        while True:
            states = jobs.GetJobStatus(job_pb2.JobStatusRequest(job_ids=ids)).job_states
            if all(states[i] in (JobState.SUCCEEDED, JobState.FAILED) for i in ids) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert [states[i] for i in ids[:300]] == [JobState.SUCCEEDED] * 300
        assert states[ids[300]] == JobState.FAILED
        assert states[ids[301]] == JobState.SUCCEEDED
        errors = jobs.GetJobErrors(job_pb2.JobErrorsRequest(job_ids=[ids[300]])).job_errors
        assert "3" in errors[ids[300]]
        channel.close()


def test_without_the_flag_jobs_are_processes() -> None:
    args = ["--only", "armada", "--armada-port", "0", "--admin-port", "0", "--armada-queue", "q"]
    with launch([*args, "--step-ms", "10"]) as emulators:
        channel = authorized_channel(emulators["armada"]["target"], emulators["armada"]["token"])
        submit_pb2_grpc.SubmitStub(channel).SubmitJobs(
            submit_pb2.JobSubmitRequest(queue="q", job_set_id="js", job_request_items=[job_item(["sleep", "5"])])
        )
        deadline = time.monotonic() + 10
        children: list[psutil.Process] = []
        while not children and time.monotonic() < deadline:
            children = psutil.Process(emulators.process.pid).children(recursive=True)
            time.sleep(0.1)
        assert children, "the job's process never started"
        channel.close()
