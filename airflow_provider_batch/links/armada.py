"""A link from the task to the job's page in Armada's Lookout UI."""

from __future__ import annotations

from airflow_provider_batch.links.base import BatchJobLink


class ArmadaLookoutLink(BatchJobLink):
    """Shown when the `armada` connection has a Lookout URL template (see BatchJobLink)."""

    name = "Armada Lookout"
