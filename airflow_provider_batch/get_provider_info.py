"""Provider metadata read by Airflow through the `apache_airflow_provider` entry point.

Airflow 3.2+ builds the connections form from `conn-fields` and `ui-field-behaviour` here, without importing hooks.
The hooks, operators, extra links and connection types listed come from the one backend table (backends.py), plus
the job service's connection type; nothing here names a backend.

Job-page URL templates (Armada's lookout_url_template, Qarnot's console_url_template, Apolo's job_url_template) use
`{job_id}` (plus `{queue}`/`{job_set_id}` on Armada, `{name}` on Qarnot and Apolo); the original forms `<job_id>`,
`{uuid}` and `{id}` are still accepted, and an unknown placeholder stays in the link as written.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_batch import __version__
from airflow_provider_batch.backends import BACKENDS, CONNECTION_TYPES

INTEGRATION = "Batch schedulers (Armada, Qarnot, Apolo)"


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": "airflow-provider-batch",
        "name": "Batch (Armada, Qarnot, Apolo)",
        "description": "Run batch jobs on Armada, Qarnot and Apolo from Airflow, blocking or deferrable, "
        "with one job-service cache that watches thousands of deferred jobs with few scheduler calls.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": INTEGRATION,
                "external-doc-url": "https://armadaproject.io/",
                "tags": ["software"],
            }
        ],
        "hooks": [
            {
                "integration-name": INTEGRATION,
                "python-modules": [connection.hook_module for connection in CONNECTION_TYPES.values()],
            }
        ],
        "operators": [
            {
                "integration-name": INTEGRATION,
                "python-modules": [backend.operator for backend in BACKENDS.values()],
            }
        ],
        "triggers": [{"integration-name": INTEGRATION, "python-modules": ["airflow_provider_batch.triggers.batch"]}],
        "extra-links": [backend.link for backend in BACKENDS.values()],
        "connection-types": [connection.provider_info() for connection in CONNECTION_TYPES.values()],
        "config": {
            "batch": {
                "description": "Defaults for the batch operators and their trigger.",
                "options": {
                    "default_poll_interval": {
                        "description": "Seconds between two status checks of a job (blocking and deferred).",
                        "version_added": "0.1.0",
                        "type": "float",
                        "example": "10",
                        "default": "10",
                    },
                    "default_reattach_policy": {
                        "description": "What a retry does with the job an earlier try submitted: live, always "
                        "or never.",
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "never",
                        "default": "live",
                    },
                    "jobservice_conn_id": {
                        "description": "A batch_jobservice connection; when set, triggers ask that standalone job "
                        "service instead of the cache embedded in the triggerer.",
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "batch_jobservice_default",
                        "default": "",
                    },
                    "event_stream_min_jobs": {
                        "description": "Follow a job set's event stream (Armada) once the triggerer watches this "
                        "many of its jobs: their ends reach the triggers at once and polling slows down. 0 turns "
                        "streams off.",
                        "version_added": "0.1.0",
                        "type": "integer",
                        "example": "0",
                        "default": "10",
                    },
                    "unknown_job_grace_period": {
                        "description": "Seconds a job may stay unknown to the scheduler (not ingested yet) before "
                        "the task fails.",
                        "version_added": "0.1.0",
                        "type": "float",
                        "example": "600",
                        "default": "300",
                    },
                },
            }
        },
    }
