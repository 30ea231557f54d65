"""A token sent in plain text to another machine logs one warning per endpoint (Armada and job-service connections)."""

from __future__ import annotations

import json
import logging
import uuid

import pytest

from airflow_provider_batch.common.channel import CallCredentials, GrpcChannelArguments, is_loopback
from airflow_provider_batch.hooks.armada import ArmadaHook
from airflow_provider_batch.hooks.jobservice import JobServiceHook


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and "plain text" in r.getMessage()]


def _host() -> str:
    return f"h{uuid.uuid4().hex[:8]}.example.com"  # each test its own endpoint: the warning is once per endpoint


@pytest.mark.parametrize("hook_class, conn_type", [(ArmadaHook, "armada"), (JobServiceHook, "batch_jobservice")])
def test_a_connection_with_a_token_and_no_tls_warns_once(hook_class, conn_type, monkeypatch, caplog):
    target = f"{_host()}:50051"
    conn = {"conn_type": conn_type, "host": target, "password": "s3cret-token"}
    monkeypatch.setenv("AIRFLOW_CONN_PLAIN", json.dumps(conn))
    caplog.set_level(logging.WARNING)
    for _ in range(3):  # three hooks, three channels: one warning
        hook = hook_class("plain")
        hook.get_conn()
    messages = _warnings(caplog)
    assert len(messages) == 1 and target in messages[0] and "tls" in messages[0]
    assert "s3cret-token" not in caplog.text


async def test_the_asyncio_channel_warns_too_and_tls_or_loopback_or_no_token_do_not(caplog):
    caplog.set_level(logging.WARNING)
    token = CallCredentials.bearer("t")
    remote = f"{_host()}:443"
    channel = GrpcChannelArguments(remote).aio_channel(token)
    await channel.close()
    assert len(_warnings(caplog)) == 1
    caplog.clear()
    for args, credentials in [
        (GrpcChannelArguments(f"{_host()}:443", tls=True), token),
        (GrpcChannelArguments("127.0.0.1:50051"), token),
        (GrpcChannelArguments("localhost:50051"), token),
        (GrpcChannelArguments("[::1]:50051"), token),
        (GrpcChannelArguments(f"{_host()}:50051"), None),
    ]:
        args.channel(credentials).close()
    assert _warnings(caplog) == []


@pytest.mark.parametrize(
    ("target", "loopback"),
    [("127.0.0.1:1", True), ("127.8.0.1:1", True), ("[::1]:1", True), ("localhost:1", True), ("10.0.0.1:1", False),
     ("armada.example.com:443", False), ("unix:/tmp/s", True)],
)  # fmt: skip
def test_is_loopback(target, loopback):
    assert is_loopback(target) is loopback
