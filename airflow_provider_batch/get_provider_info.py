"""Provider metadata read by Airflow through the `apache_airflow_provider` entry point.

Airflow 3.2+ builds the connections form from `conn-fields` and `ui-field-behaviour` here, without importing hooks.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_batch import __version__

INTEGRATION = "Batch schedulers (Armada, Qarnot, Apolo)"

ARMADA_UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden-fields": ["schema", "extra"],
    "relabeling": {"host": "gRPC endpoint", "login": "User (basic auth only)", "password": "Token or password"},
    "placeholders": {
        "host": "armada.example.com:443 (or host, with the port below)",
        "port": "50051",
        "login": "leave empty for a bearer token",
        "password": "bearer token (OIDC), or the basic-auth password",
    },
}

GRPC_TLS_FIELDS: dict[str, Any] = {
    "tls": {
        "label": "Use TLS",
        "description": "Encrypt the gRPC connection (real servers behind an ingress want this).",
        "schema": {"type": ["boolean", "null"], "default": False},
    },
    "ca_cert": {
        "label": "CA bundle (PEM)",
        "description": "Certificates to trust instead of the system roots, with TLS on.",
        "schema": {"type": ["string", "null"], "format": "multiline"},
    },
}

ARMADA_CONN_FIELDS: dict[str, Any] = {
    **GRPC_TLS_FIELDS,
    "default_queue": {
        "label": "Default queue",
        "description": "The Armada queue used when a task names none, e.g. my-queue.",
        "schema": {"type": ["string", "null"]},
    },
    "lookout_url_template": {
        "label": "Lookout URL template",
        "description": "Link to a job in Lookout, e.g. https://lookout.example.com/?jobId=<job_id>; <job_id>, "
        "{job_id}, {queue} and {job_set_id} are filled in.",
        "schema": {"type": ["string", "null"], "format": "url"},
    },
    "binoculars_target": {
        "label": "Binoculars endpoint",
        "description": "host:port of the log service (e.g. binoculars.example.com:443), when it is not served at "
        "the gRPC endpoint.",
        "schema": {"type": ["string", "null"]},
    },
}

JOBSERVICE_UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden-fields": ["schema", "login", "extra"],
    "relabeling": {"host": "gRPC endpoint", "password": "Token"},
    "placeholders": {"host": "jobservice.example.com:60003", "password": "the service's --token"},
}

JOBSERVICE_CONN_FIELDS: dict[str, Any] = dict(GRPC_TLS_FIELDS)


QARNOT_UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden-fields": ["schema", "login", "port", "extra"],
    "relabeling": {"host": "API URL", "password": "API token"},
    "placeholders": {
        "host": "https://api.qarnot.com (the default when empty)",
        "password": "the token from your Qarnot account page",
    },
}

QARNOT_CONN_FIELDS: dict[str, Any] = {
    "storage_url": {
        "label": "Storage (S3) URL",
        "description": "The bucket endpoint, e.g. https://storage.qarnot.com; empty means the one the API announces "
        "in GET /settings.",
        "schema": {"type": ["string", "null"], "format": "url"},
    },
    "verify_tls": {
        "label": "Verify TLS certificates",
        "description": "Turn off only for a test cluster with a self-signed certificate.",
        "schema": {"type": ["boolean", "null"], "default": True},
    },
    "timeout": {
        "label": "Request timeout (s)",
        "description": "Seconds each API request may take before it is retried.",
        "schema": {"type": ["number", "null"], "default": 30},
    },
    "console_url_template": {
        "label": "Console URL template",
        "description": "Link to a task in Qarnot's console, e.g. https://console.qarnot.com/app/tasks/{uuid}; "
        "{uuid} is filled in.",
        "schema": {"type": ["string", "null"]},
    },
}


APOLO_UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden-fields": ["schema", "login", "port", "extra"],
    "relabeling": {"host": "API URL", "password": "Token or passed config"},
    "placeholders": {
        "host": "https://api.apolo.us/api/v1 (the default when empty)",
        "password": "apolo config show-token, or a service account's token (a passed-config blob)",
    },
}

APOLO_CONN_FIELDS: dict[str, Any] = {
    "passed_config": {
        "label": "Passed config (base64)",
        "description": "Instead of the password: base64 JSON {token, cluster, url, org_name, project_name}, "
        "what APOLO_PASSED_CONFIG holds.",
        "schema": {"type": ["string", "null"], "format": "password"},
    },
    "cluster": {
        "label": "Cluster",
        "description": "The cluster jobs run on; empty: the passed config's, else the first the token may use.",
        "schema": {"type": ["string", "null"]},
    },
    "org": {
        "label": "Organization",
        "description": "The organization jobs are billed to; empty: the passed config's, else the cluster's first.",
        "schema": {"type": ["string", "null"]},
    },
    "project": {
        "label": "Project",
        "description": "The project jobs belong to (and are listed in); empty: the passed config's, else the "
        "first of the org.",
        "schema": {"type": ["string", "null"]},
    },
    "timeout": {
        "label": "Request timeout (s)",
        "description": "Seconds each API request may take before it is retried.",
        "schema": {"type": ["number", "null"], "default": 60},
    },
    "job_url_template": {
        "label": "Job URL template",
        "description": "Link to a job's page, e.g. https://console.apolo.us/jobs/{id}; {id} and {name} are filled in.",
        "schema": {"type": ["string", "null"]},
    },
}


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
                "python-modules": [
                    "airflow_provider_batch.hooks.armada",
                    "airflow_provider_batch.hooks.jobservice",
                    "airflow_provider_batch.hooks.qarnot",
                    "airflow_provider_batch.hooks.apolo",
                ],
            }
        ],
        "operators": [
            {
                "integration-name": INTEGRATION,
                "python-modules": [
                    "airflow_provider_batch.operators.armada",
                    "airflow_provider_batch.operators.qarnot",
                    "airflow_provider_batch.operators.apolo",
                ],
            }
        ],
        "triggers": [{"integration-name": INTEGRATION, "python-modules": ["airflow_provider_batch.triggers.batch"]}],
        "extra-links": [
            "airflow_provider_batch.links.armada.ArmadaLookoutLink",
            "airflow_provider_batch.links.qarnot.QarnotConsoleLink",
            "airflow_provider_batch.links.apolo.ApoloJobLink",
        ],
        "connection-types": [
            {
                "connection-type": "armada",
                "hook-class-name": "airflow_provider_batch.hooks.armada.ArmadaHook",
                "hook-name": "Armada",
                "conn-fields": ARMADA_CONN_FIELDS,
                "ui-field-behaviour": ARMADA_UI_FIELD_BEHAVIOUR,
            },
            {
                "connection-type": "qarnot",
                "hook-class-name": "airflow_provider_batch.hooks.qarnot.QarnotHook",
                "hook-name": "Qarnot",
                "conn-fields": QARNOT_CONN_FIELDS,
                "ui-field-behaviour": QARNOT_UI_FIELD_BEHAVIOUR,
            },
            {
                "connection-type": "apolo",
                "hook-class-name": "airflow_provider_batch.hooks.apolo.ApoloHook",
                "hook-name": "Apolo",
                "conn-fields": APOLO_CONN_FIELDS,
                "ui-field-behaviour": APOLO_UI_FIELD_BEHAVIOUR,
            },
            {
                "connection-type": "batch_jobservice",
                "hook-class-name": "airflow_provider_batch.hooks.jobservice.JobServiceHook",
                "hook-name": "Batch job service",
                "conn-fields": JOBSERVICE_CONN_FIELDS,
                "ui-field-behaviour": JOBSERVICE_UI_FIELD_BEHAVIOUR,
            },
        ],
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
