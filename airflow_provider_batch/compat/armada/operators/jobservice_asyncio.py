"""`armada.operators.jobservice_asyncio`: the original asyncio job-service client, on this provider's client."""

from __future__ import annotations

from airflow_provider_batch.clients.jobservice import JobServiceAsyncIOClient

__all__ = ["JobServiceAsyncIOClient"]
