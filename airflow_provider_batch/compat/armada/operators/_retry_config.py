"""The gRPC retry configuration of the original `get_retryable_job_service_client`: calls to the job service that
end UNAVAILABLE are retried by the channel itself (gRPC service config), a few times with backoff."""

from __future__ import annotations

import json
from typing import Any

RETRY_SERVICE_CONFIG = {
    "methodConfig": [
        {
            "name": [{"service": "jobservice.JobService"}],
            "retryPolicy": {
                "maxAttempts": 5,
                "initialBackoff": "0.5s",
                "maxBackoff": "10s",
                "backoffMultiplier": 2,
                "retryableStatusCodes": ["UNAVAILABLE"],
            },
        }
    ]
}


def retry_options() -> list[tuple[str, Any]]:
    """Channel options that switch the retry policy on."""
    return [("grpc.enable_retries", 1), ("grpc.service_config", json.dumps(RETRY_SERVICE_CONFIG))]
