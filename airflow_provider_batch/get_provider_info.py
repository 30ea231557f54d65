"""Provider metadata read by Airflow through the `apache_airflow_provider` entry point."""

from __future__ import annotations

from typing import Any

from airflow_provider_batch import __version__


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": "airflow-provider-batch",
        "name": "Batch (Armada, Qarnot, Apolo)",
        "description": "Run batch jobs on Armada, Qarnot and Apolo from Airflow, blocking or deferrable.",
        "versions": [__version__],
    }
