"""A link from the task to the Apolo job's page."""

from __future__ import annotations

from airflow_provider_batch.links.base import BatchJobLink


class ApoloJobLink(BatchJobLink):
    """Shown when the `apolo` connection has a job URL template (see BatchJobLink)."""

    name = "Apolo job"
