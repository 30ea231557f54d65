"""`armada.operators.jobservice`: the original blocking job-service client, on this provider's client.

`JobServiceClient(channel)` with `get_job_status(queue, job_set_id, job_id)` and `health()`; and
`get_retryable_job_service_client(target, credentials=None, compression=None)`, a client whose channel retries
UNAVAILABLE calls by itself, as the original's did.
"""

from __future__ import annotations

import grpc

from airflow_provider_batch.clients.jobservice import JobServiceClient
from airflow_provider_batch.compat.armada.operators._retry_config import retry_options


def get_retryable_job_service_client(
    target: str,
    credentials: grpc.ChannelCredentials | None = None,
    compression: grpc.Compression | None = None,
) -> JobServiceClient:
    """A JobServiceClient for `target` (a secure channel when credentials are given) that retries UNAVAILABLE."""
    options = retry_options()
    if credentials is None:
        channel = grpc.insecure_channel(target, options=options, compression=compression)
    else:
        channel = grpc.secure_channel(target, credentials, options=options, compression=compression)
    return JobServiceClient(channel)


__all__ = ["JobServiceClient", "get_retryable_job_service_client"]
