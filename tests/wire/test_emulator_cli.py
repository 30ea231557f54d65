"""The emulators' command line: READY line, auth, /stats, fault injection, clean SIGTERM."""

from __future__ import annotations

import base64
import json
import os
import pathlib
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from typing import Any

import grpc
import pytest
from _armada_helpers import follow_until, job_item

from airflow_provider_batch._proto.armada import (
    event_pb2,
    event_pb2_grpc,
    job_pb2,
    job_pb2_grpc,
    submit_pb2,
    submit_pb2_grpc,
)
from airflow_provider_batch.emulators import launch
from airflow_provider_batch.emulators.interceptors import FAULT_AFTER, FAULT_BEFORE, FAULT_STREAM
from airflow_provider_batch.emulators.testing import authorized_channel

pytestmark = pytest.mark.wire


def test_ready_line_has_one_entry_per_emulator_and_the_admin_url(armada_emulator: Any) -> None:
    ready = armada_emulator.launched.ready
    assert set(ready) == {"armada", "admin"}
    assert re.fullmatch(r"127\.0\.0\.1:\d+", ready["armada"]["target"])
    assert len(ready["armada"]["token"]) >= 16
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", ready["admin"])


def test_ready_is_the_only_stdout_line_and_the_token_can_be_chosen() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "airflow_provider_batch.emulators", "--token", "chosen", "--admin-port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    process.send_signal(signal.SIGINT)
    rest = process.stdout.read()
    assert process.wait(15) == 0
    assert line.startswith("READY {") and rest == ""
    assert json.loads(line[len("READY ") :])["armada"]["token"] == "chosen"


def test_calls_without_the_token_are_unauthenticated(armada_emulator: Any) -> None:
    request = submit_pb2.QueueGetRequest(name="anything")
    for channel in (
        grpc.insecure_channel(armada_emulator.target),
        authorized_channel(armada_emulator.target, "wrong-token"),
    ):
        with channel, pytest.raises(grpc.RpcError) as caught:
            submit_pb2_grpc.QueueServiceStub(channel).GetQueue(request)
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    basic = base64.b64encode(f"user:{armada_emulator.token}".encode()).decode()
    with grpc.insecure_channel(armada_emulator.target) as channel, pytest.raises(grpc.RpcError) as caught:
        submit_pb2_grpc.QueueServiceStub(channel).GetQueue(request, metadata=[("authorization", f"Basic {basic}")])
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND  # authenticated; the queue does not exist


def test_stats_count_answered_calls_per_method(armada_emulator: Any, armada_channel: grpc.Channel) -> None:
    method = "/api.Jobs/GetJobStatus"
    before = armada_emulator.stats().get(method, 0)
    jobs = job_pb2_grpc.JobsStub(armada_channel)
    for _ in range(3):
        jobs.GetJobStatus(job_pb2.JobStatusRequest(job_ids=["x"]))
    with grpc.insecure_channel(armada_emulator.target) as anonymous, pytest.raises(grpc.RpcError):
        job_pb2_grpc.JobsStub(anonymous).GetJobStatus(job_pb2.JobStatusRequest(job_ids=["x"]))
    assert armada_emulator.stats()[method] == before + 3
    armada_emulator.launched.reset_stats()
    assert armada_emulator.stats() == {}


def _call(fn: Any, *args: Any) -> tuple[Any, grpc.RpcError | None]:
    try:
        return fn(*args), None
    except grpc.RpcError as err:
        return None, err


def test_fault_rate_fails_calls_before_and_after_handling_and_breaks_streams() -> None:
    with launch(["--fault-rate", "0.5", "--fault-seed", "11", "--step-ms", "5"]) as launched:
        target, token = launched["armada"]["target"], launched["armada"]["token"]
        with authorized_channel(target, token) as channel:
            queues = submit_pb2_grpc.QueueServiceStub(channel)
            while True:  # a reply lost after the work was done shows up as ALREADY_EXISTS on the retry
                _, error = _call(queues.CreateQueue, submit_pb2.Queue(name="q", priority_factor=1))
                if error is None or error.code() == grpc.StatusCode.ALREADY_EXISTS:
                    break
            details = []
            for _ in range(60):
                _, error = _call(queues.GetQueue, submit_pb2.QueueGetRequest(name="q"))
                if error is not None:
                    assert error.code() == grpc.StatusCode.UNAVAILABLE
                    details.append(error.details())
            assert 10 < len(details) < 50
            assert FAULT_BEFORE in details and FAULT_AFTER in details

            # A reply lost after the work was done: retrying with the same client_id finds the same job.
            submit_stub = submit_pb2_grpc.SubmitStub(channel)
            lost_after_submit = False
            for attempt in range(40):
                uri = f"airflow://lost/{attempt}"
                item = job_item(["true"], client_id=f"client-{attempt}", external_job_uri=uri)
                request = submit_pb2.JobSubmitRequest(queue="q", job_set_id="js", job_request_items=[item])
                response, error = _call(submit_stub.SubmitJobs, request)
                while error is not None:
                    lost_after_submit = lost_after_submit or error.details() == FAULT_AFTER
                    response, error = _call(submit_stub.SubmitJobs, request)
                if lost_after_submit:
                    break
            assert lost_after_submit
            job_id = response.job_response_items[0].job_id
            by_uri = job_pb2.JobStatusUsingExternalJobUriRequest(queue="q", jobset="js", external_job_uri=uri)
            jobs = job_pb2_grpc.JobsStub(channel)
            found, error = _call(jobs.GetJobStatusUsingExternalJobUri, by_uri)
            while error is not None:
                found, error = _call(jobs.GetJobStatusUsingExternalJobUri, by_uri)
            assert list(found.job_states) == [job_id]

            # Streams: some fail at once, some after a few messages.
            events = event_pb2_grpc.EventStub(channel)
            outcomes = set()
            for _ in range(30):
                received = 0
                try:
                    for _message in events.GetJobSetEvents(event_pb2.JobSetRequest(id="js", queue="q")):
                        received += 1
                    outcomes.add("complete")
                except grpc.RpcError as err:
                    assert err.code() == grpc.StatusCode.UNAVAILABLE
                    outcomes.add("at start" if received == 0 else "mid-stream")
                    assert err.details() in (FAULT_BEFORE, FAULT_STREAM)
            assert outcomes == {"complete", "at start", "mid-stream"}
        with urllib.request.urlopen(f"{launched.admin}/faults", timeout=10) as response:
            faults = json.load(response)["armada"]
        assert faults["/api.QueueService/GetQueue"] == len(details)
        assert "/api.Event/GetJobSetEvents" in faults


def test_sigterm_kills_running_jobs_and_exits_zero() -> None:
    pid_file = pathlib.Path(tempfile.mkdtemp()) / "pid"
    launched = launch(["--step-ms", "5"])
    try:
        with authorized_channel(launched["armada"]["target"], launched["armada"]["token"]) as channel:
            queue = f"q-{uuid.uuid4().hex[:6]}"
            submit_pb2_grpc.QueueServiceStub(channel).CreateQueue(submit_pb2.Queue(name=queue, priority_factor=1))
            item = job_item(["sh", "-c", f"echo $$$$ > {pid_file}; exec sleep 30"])
            response = submit_pb2_grpc.SubmitStub(channel).SubmitJobs(
                submit_pb2.JobSubmitRequest(queue=queue, job_set_id="js", job_request_items=[item])
            )
            follow_until(channel, queue, "js", response.job_response_items[0].job_id, {"running"})
        deadline = time.monotonic() + 10
        while not (pid_file.exists() and pid_file.read_text().strip()) and time.monotonic() < deadline:
            time.sleep(0.01)  # the shell writes its pid right after it starts
        pid = int(pid_file.read_text())
        os.kill(pid, 0)  # the job's process is alive
    finally:
        code = launched.stop()
    assert code == 0, launched.read_log()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert "Traceback" not in launched.read_log()


def _queue_exists(channel: grpc.Channel, name: str) -> bool:
    try:
        submit_pb2_grpc.QueueServiceStub(channel).GetQueue(submit_pb2.QueueGetRequest(name=name))
    except grpc.RpcError as err:
        assert err.code() == grpc.StatusCode.NOT_FOUND
        return False
    return True


def test_armada_queue_flags_create_queues_a_job_can_be_submitted_to_and_none_exist_without_them() -> None:
    with launch(["--only", "armada", "--armada-queue", "my-queue", "--armada-queue", "second", "--step-ms", "5"]) as up:
        entry = up["armada"]
        assert entry["queues"] == ["my-queue", "second"]
        with authorized_channel(entry["target"], entry["token"]) as channel:
            assert _queue_exists(channel, "my-queue") and _queue_exists(channel, "second")
            request = submit_pb2.JobSubmitRequest(
                queue="my-queue", job_set_id="js", job_request_items=[job_item(["true"])]
            )
            response = submit_pb2_grpc.SubmitStub(channel).SubmitJobs(request)
            job_id = response.job_response_items[0].job_id
            follow_until(channel, "my-queue", "js", job_id, {"succeeded"})
    with launch(["--only", "armada"]) as up:
        assert up["armada"]["queues"] == []
        with authorized_channel(up["armada"]["target"], up["armada"]["token"]) as channel:
            assert not _queue_exists(channel, "my-queue")


def test_a_bad_armada_queue_name_is_refused_with_the_flag_and_the_fix() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "airflow_provider_batch.emulators", "--armada-queue", "my queue"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and result.stdout == ""
    assert "--armada-queue: 'my queue' is not a queue name" in result.stderr and "e.g. my-queue" in result.stderr


def _serve_and_read(args: list[str]) -> tuple[dict[str, Any], list[str]]:
    """Start the emulators with `args`, read the READY line and what follows it on stdout, stop them."""
    process = subprocess.Popen(
        [sys.executable, "-m", "airflow_provider_batch.emulators", "--only", "armada,qarnot,apolo", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    try:
        line = process.stdout.readline()
        assert line.startswith("READY "), line
        ready = json.loads(line[len("READY ") :])
    finally:
        process.send_signal(signal.SIGTERM)
    rest = process.stdout.read().splitlines()
    assert process.wait(15) == 0
    return ready, rest


def _expected_connections(ready: dict[str, Any]) -> dict[str, dict[str, Any]]:
    armada, qarnot, apolo = ready["armada"], ready["qarnot"], ready["apolo"]
    return {
        "armada_default": {
            "conn_type": "armada",
            "host": armada["target"],
            "password": armada["token"],
            "extra": {"default_queue": "my-queue"},
        },
        "qarnot_default": {
            "conn_type": "qarnot",
            "host": qarnot["url"],
            "password": qarnot["token"],
            "extra": {"timeout": 10, "storage_url": qarnot["storage_url"]},
        },
        "apolo_default": {
            "conn_type": "apolo",
            "host": apolo["url"],
            "password": apolo["passed_config"],
            "extra": {"timeout": 10},
        },
    }


def _shell_words(line: str) -> list[str]:
    return shlex.split(line)


def _connections_command(ready_file: pathlib.Path) -> list[str]:
    return [sys.executable, "-m", "airflow_provider_batch.emulators", "connections", "--ready-file", str(ready_file)]


def test_print_connections_env_gives_export_lines_a_shell_reads_back_as_the_connections() -> None:
    ready, lines = _serve_and_read(["--armada-queue", "my-queue", "--print-connections", "env"])
    expected = _expected_connections(ready)
    assert len(lines) == 3
    exported = {}
    for line in lines:
        words = _shell_words(line)
        assert words[0] == "export"
        name, _, value = words[1].partition("=")
        exported[name] = json.loads(value)
    assert exported == {f"AIRFLOW_CONN_{conn_id.upper()}": conn for conn_id, conn in expected.items()}
    # what a shell that evals the lines really puts in its environment
    script = "\n".join(lines) + '\nprintf %s "$AIRFLOW_CONN_APOLO_DEFAULT"'
    echoed = subprocess.run(["sh", "-c", script], capture_output=True, text=True, timeout=30, check=True).stdout
    assert json.loads(echoed) == expected["apolo_default"]


def test_print_connections_cli_gives_airflow_connections_add_lines() -> None:
    ready, lines = _serve_and_read(["--armada-queue", "my-queue", "--print-connections", "cli"])
    expected = _expected_connections(ready)
    added = {}
    for line in lines:
        words = _shell_words(line)
        assert words[:3] == ["airflow", "connections", "add"] and words[4] == "--conn-json"
        added[words[3]] = json.loads(words[5])
    assert added == expected


def test_without_print_connections_no_token_is_printed_beyond_the_ready_line() -> None:
    _, lines = _serve_and_read(["--armada-queue", "my-queue"])
    assert lines == []


def test_the_connections_command_reads_the_ready_file_of_running_emulators(tmp_path: pathlib.Path) -> None:
    ready_file = tmp_path / "emulators.json"
    command = _connections_command(ready_file)
    with launch(["--only", "armada,qarnot,apolo", "--armada-queue", "my-queue", "--ready-file", str(ready_file)]) as up:
        assert ready_file.stat().st_mode & 0o777 == 0o600  # it holds the tokens
        for form in ("env", "cli", "json"):
            result = subprocess.run([*command, "--format", form], capture_output=True, text=True, timeout=60)
            assert result.returncode == 0, result.stderr
            if form == "json":
                assert json.loads(result.stdout) == _expected_connections(up.ready) == up.connections()
            else:
                assert len(result.stdout.splitlines()) == 3
    assert not ready_file.exists()  # removed on stop: a later reader is not sent to dead emulators
    missing = subprocess.run([*command, "--wait", "0.2"], capture_output=True, text=True, timeout=60)
    assert missing.returncode == 1 and missing.stdout == ""
    assert f"no {ready_file}" in missing.stderr and "--ready-file" in missing.stderr


def test_the_connections_command_refuses_a_file_left_by_emulators_that_are_gone(tmp_path: pathlib.Path) -> None:
    ready_file = tmp_path / "emulators.json"
    with launch(["--only", "armada", "--ready-file", str(ready_file)]) as up:
        left = ready_file.read_text()
        up.process.kill()  # SIGKILL: no chance to remove the file
        up.process.wait(15)
    ready_file.write_text(left)
    result = subprocess.run(
        [*_connections_command(ready_file), "--wait", "0.2"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1 and result.stdout == ""
    assert "no longer running" in result.stderr


def test_the_connections_command_waits_for_emulators_still_starting(tmp_path: pathlib.Path) -> None:
    ready_file = tmp_path / "emulators.json"
    reader = subprocess.Popen(
        _connections_command(ready_file),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    with launch(["--only", "armada", "--armada-queue", "my-queue", "--ready-file", str(ready_file)]) as up:
        out, err = reader.communicate(timeout=60)
        assert reader.returncode == 0, err
        assert up["armada"]["token"] in out and '"default_queue": "my-queue"' in out
