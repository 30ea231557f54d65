"""A link from the task to the Qarnot task's page in Qarnot's console."""

from __future__ import annotations

from airflow_provider_batch.links.base import BatchJobLink


class QarnotConsoleLink(BatchJobLink):
    """Shown when the `qarnot` connection has a console URL template (see BatchJobLink)."""

    name = "Qarnot console"
