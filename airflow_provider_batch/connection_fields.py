"""The connection forms of the provider's connection types: the `conn-fields` and `ui-field-behaviour` Airflow
shows (3.2+ reads them from `get_provider_info`; older versions ask the hooks, which read the same dicts).

No Airflow import: `get_provider_info` and the backend table read these without importing any hook.

Job-page URL templates (Armada's lookout_url_template, Qarnot's console_url_template, Apolo's job_url_template) all
use `{job_id}`, plus what the backend knows of the job; see common/urls.py for the convention.
"""

from __future__ import annotations

from typing import Any

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
        "description": "Link to a job in Lookout, e.g. https://lookout.example.com/?jobId={job_id}; {job_id}, "
        "{queue} and {job_set_id} are filled in (the original operator's <job_id> too); an unknown {placeholder} "
        "stays as written.",
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
        "description": "Link to a task in Qarnot's console, e.g. https://console.qarnot.com/app/tasks/{job_id}; "
        "{job_id} (the task's uuid, also accepted as {uuid}) and {name} are filled in; an unknown {placeholder} "
        "stays as written.",
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
        "description": "Link to a job's page, e.g. https://console.apolo.us/jobs/{job_id}; {job_id} (also accepted "
        "as {id}) and {name} are filled in; an unknown {placeholder} stays as written.",
        "schema": {"type": ["string", "null"]},
    },
}
