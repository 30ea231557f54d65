"""Our generated modules coexist with armada_client and googleapis-common-protos; TLS with a custom CA works."""

from __future__ import annotations

import subprocess
import sys
from concurrent import futures

import grpc
import pytest
from _tls_helpers import self_signed_pem

from airflow_provider_batch._proto.armada import health_pb2, submit_pb2_grpc
from airflow_provider_batch.clients.armada.client import ArmadaClient, ArmadaRpcError
from airflow_provider_batch.common.channel import CallCredentials, GrpcChannelArguments
from airflow_provider_batch.common.retry import RetryPolicy


@pytest.mark.parametrize(
    "first",
    ["armada_client.client", "google.api.annotations_pb2"],
)
def test_imports_in_one_process_with(first):
    code = f"""
import {first}
import airflow_provider_batch.clients.armada.client as ours
from airflow_provider_batch._proto.armada import submit_pb2
item = ours.ArmadaClient.create_job_request_item(namespace="d", pod_spec={{"containers": [{{"name": "a",
    "resources": {{"requests": {{"cpu": "1"}}, "limits": {{"cpu": "1"}}}}}}]}})
assert submit_pb2.JobSubmitRequestItem.FromString(item.SerializeToString()) == item
print("ok")
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


class _Submit(submit_pb2_grpc.SubmitServicer):
    def Health(self, request, context):
        metadata = dict(context.invocation_metadata())
        if metadata.get("authorization") != "Bearer tls-token":
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "bad token")
        return health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.SERVING)


@pytest.mark.wire
def test_tls_with_a_custom_ca_bundle(tmp_path):
    key_pem, cert_pem = self_signed_pem()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    submit_pb2_grpc.add_SubmitServicer_to_server(_Submit(), server)
    port = server.add_secure_port("127.0.0.1:0", grpc.ssl_server_credentials([(key_pem, cert_pem)]))
    server.start()
    try:
        ca_file = tmp_path / "ca.pem"
        ca_file.write_bytes(cert_pem)
        for ca in (str(ca_file), cert_pem.decode()):
            args = GrpcChannelArguments(f"localhost:{port}", tls=True, ca_cert=ca)
            assert GrpcChannelArguments.from_json(args.to_json()) == args
            channel = args.channel(CallCredentials.bearer("tls-token"))
            assert ArmadaClient(channel).health().status == health_pb2.HealthCheckResponse.SERVING
            channel.close()
        untrusted = GrpcChannelArguments(f"localhost:{port}", tls=True).channel(CallCredentials.bearer("tls-token"))
        client = ArmadaClient(untrusted, retry=RetryPolicy(max_attempts=1), timeout=5)
        with pytest.raises(ArmadaRpcError) as raised:
            client.health()
        assert raised.value.code() is grpc.StatusCode.UNAVAILABLE
        untrusted.close()
    finally:
        server.stop(None)
