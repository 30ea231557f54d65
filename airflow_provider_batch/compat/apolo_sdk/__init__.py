"""The Apolo SDK's entry (`apolo_sdk.get`, `Factory`, `client.jobs`, its job types) on our Apolo client. A script moves
over by changing the import prefix: `import apolo_sdk` becomes `from airflow_provider_batch.compat import apolo_sdk`,
`from apolo_sdk import ...` becomes `from airflow_provider_batch.compat.apolo_sdk import ...`. See docs/migration.md."""

from __future__ import annotations

from airflow_provider_batch.clients.apolo.errors import (
    ApoloAuthError,
    ApoloBadRequestError,
    ApoloError,
    ApoloNotFoundError,
)
from airflow_provider_batch.clients.apolo.types import (
    ApoloJobStatus,
    Container,
    DiskVolume,
    HTTPPort,
    JobDescription,
    JobPriority,
    JobRestartPolicy,
    JobStatusHistory,
    JobStatusItem,
    JobTelemetry,
    Resources,
    SecretFile,
    Volume,
)
from airflow_provider_batch.compat.apolo_sdk._client import (
    OLD_PASS_CONFIG_ENV_NAME,
    PASS_CONFIG_ENV_NAME,
    Client,
    Jobs,
    Parser,
    RemoteImage,
    get,
)
from airflow_provider_batch.compat.apolo_sdk._factory import ConfigError, Factory
from airflow_provider_batch.compat.apolo_sdk._interactive import Message, StdStream, StdStreamError

# The SDK's own name for a job's status (ApoloJobStatus in the clients, apart from the common JobStatus).
JobStatus = ApoloJobStatus

# The seed's error names (aiohttp-derived there; our typed errors here, with the server's words).
ClientError = ApoloError
ResourceNotFound = ApoloNotFoundError
AuthError = ApoloAuthError
IllegalArgumentError = ApoloBadRequestError

__all__ = [
    "OLD_PASS_CONFIG_ENV_NAME",
    "PASS_CONFIG_ENV_NAME",
    "AuthError",
    "Client",
    "ClientError",
    "ConfigError",
    "Container",
    "DiskVolume",
    "Factory",
    "HTTPPort",
    "IllegalArgumentError",
    "JobDescription",
    "JobPriority",
    "JobRestartPolicy",
    "JobStatus",
    "JobStatusHistory",
    "JobStatusItem",
    "JobTelemetry",
    "Jobs",
    "Message",
    "Parser",
    "RemoteImage",
    "ResourceNotFound",
    "Resources",
    "SecretFile",
    "StdStream",
    "StdStreamError",
    "Volume",
    "get",
]
