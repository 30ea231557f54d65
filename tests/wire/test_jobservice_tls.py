"""The job service listens with TLS (and mutual TLS); the batch_jobservice connection reaches it with its CA."""

from __future__ import annotations

import json

import grpc
import pytest
from _jobservice_helpers import TOKEN, Service
from _tls_helpers import self_signed_files

from airflow_provider_batch.clients.jobservice import JobServiceClient
from airflow_provider_batch.common.channel import CallCredentials, GrpcChannelArguments
from airflow_provider_batch.common.jobref import JobRef
from airflow_provider_batch.common.states import JobState
from airflow_provider_batch.hooks.jobservice import JobServiceHook

pytestmark = pytest.mark.wire


async def test_the_connection_reaches_a_tls_service_with_its_ca(tmp_path, armada_emulator, monkeypatch):
    cert, key = self_signed_files(tmp_path, "server")
    service = Service(str(tmp_path / "js.db"), armada_emulator, args=["--tls-cert", str(cert), "--tls-key", str(key)])
    try:
        extra = {"tls": True, "ca_cert": cert.read_text()}
        connection = {"conn_type": "batch_jobservice", "host": service.target, "password": TOKEN, "extra": extra}
        monkeypatch.setenv("AIRFLOW_CONN_JS_TLS", json.dumps(connection))
        hook = JobServiceHook("js_tls")
        assert hook.test_connection()[0], hook.test_connection()[1]
        ref = JobRef("armada", "armada_default", "01NOSUCHJOB00000000000000", {"queue": "q", "job_set_id": "s"})
        client = await hook.aget_client()
        answer = (await client.get_job_statuses([ref], 0.5))[ref.job_id]
        assert not isinstance(answer, Exception) and answer.state is JobState.UNKNOWN
        await hook.aclose()

        plain = GrpcChannelArguments(service.target).channel(CallCredentials.bearer(TOKEN))
        with pytest.raises(grpc.RpcError) as raised:  # a plaintext client gets nowhere (and sends no token)
            JobServiceClient(plain, timeout=5).health()
        assert raised.value.code() is grpc.StatusCode.UNAVAILABLE
        plain.close()
    finally:
        assert service.stop() == 0


def test_mutual_tls_refuses_a_client_without_a_certificate(tmp_path, armada_emulator):
    cert, key = self_signed_files(tmp_path, "server")
    client_cert, client_key = self_signed_files(tmp_path, "client")
    args = ["--tls-cert", str(cert), "--tls-key", str(key), "--tls-client-ca", str(client_cert)]
    service = Service(str(tmp_path / "js.db"), armada_emulator, args=args)
    try:
        anonymous = grpc.secure_channel(service.target, grpc.ssl_channel_credentials(cert.read_bytes()))
        with pytest.raises(grpc.RpcError) as raised:
            JobServiceClient(anonymous, timeout=5).health()
        assert raised.value.code() is grpc.StatusCode.UNAVAILABLE
        anonymous.close()
        credentials = grpc.ssl_channel_credentials(cert.read_bytes(), client_key.read_bytes(), client_cert.read_bytes())
        with grpc.secure_channel(service.target, credentials) as channel:
            assert JobServiceClient(channel, timeout=10).health().status == 1
    finally:
        assert service.stop() == 0


def test_tls_flags_are_checked_before_the_service_starts(tmp_path, armada_emulator):
    import subprocess
    import sys

    command = [sys.executable, "-m", "airflow_provider_batch.jobservice", "run", "--token", "t"]
    for extra, words in [
        (["--tls-cert", str(tmp_path / "missing.pem")], "--tls-key go together"),
        (["--tls-client-ca", str(tmp_path / "ca.pem")], "mutual TLS is TLS first"),
        (["--tls-cert", str(tmp_path / "a"), "--tls-key", str(tmp_path / "b")], "not a readable file"),
    ]:
        done = subprocess.run([*command, *extra], capture_output=True, text=True, timeout=60)
        assert done.returncode == 2 and words in done.stderr, done.stderr
