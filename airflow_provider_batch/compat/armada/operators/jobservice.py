"""`armada.operators.jobservice`: the original blocking job-service client, on this provider's client."""

from __future__ import annotations

from airflow_provider_batch.clients.jobservice import JobServiceClient

__all__ = ["JobServiceClient"]
