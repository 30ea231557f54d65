"""`armada.operators.jobservice_asyncio`: the original asyncio job-service client, on this provider's client.

`JobServiceAsyncIOClient(channel)` with `get_job_status(queue, job_set_id, job_id)` and `health()`; and
`get_retryable_job_service_asyncio_client(target, credentials, compression)`, a client whose channel retries
UNAVAILABLE calls by itself, as the original's did.
"""

from __future__ import annotations

import grpc
import grpc.aio

from airflow_provider_batch.clients.jobservice import JobServiceAsyncIOClient
from airflow_provider_batch.compat.armada.operators._retry_config import retry_options


def get_retryable_job_service_asyncio_client(
    target: str,
    credentials: grpc.ChannelCredentials | None,
    compression: grpc.Compression | None,
) -> JobServiceAsyncIOClient:
    """A JobServiceAsyncIOClient for `target` (a secure channel when credentials are given) that retries
    UNAVAILABLE; call it inside the event loop that will use it."""
    options = retry_options()
    if credentials is None:
        channel = grpc.aio.insecure_channel(target, options=options, compression=compression)
    else:
        channel = grpc.aio.secure_channel(target, credentials, options=options, compression=compression)
    return JobServiceAsyncIOClient(channel)


__all__ = ["JobServiceAsyncIOClient", "get_retryable_job_service_asyncio_client"]
