"""How to reach Apolo: the API URL, a token and the (cluster, org, project) to work in, given directly or as the
platform's passed-config blob (base64 of JSON `{token, cluster, url, org_name, project_name}`, what a service
account's token and `APOLO_PASSED_CONFIG` hold). Nothing is read from or written to a config folder on disk."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field

from airflow_provider_batch.common.retry import RetryPolicy

DEFAULT_API_URL = "https://api.apolo.us/api/v1"
DEFAULT_TIMEOUT = 60.0
DEFAULT_RETRY = RetryPolicy(max_attempts=5, initial_backoff=0.5, max_backoff=10.0)


@dataclass(frozen=True)
class ApoloConfig:
    """token: the platform token, sent as `Authorization: Bearer <token>` (never printed); url: the API URL
    (default the public one, ending in /api/v1); cluster, org, project: where jobs run and are listed (empty: the
    first ones `/config` offers); timeout: seconds for each request; retry: how 429/5xx/network errors are retried."""

    token: str = field(repr=False)
    url: str = DEFAULT_API_URL
    cluster: str = ""
    org: str = ""
    project: str = ""
    timeout: float = DEFAULT_TIMEOUT
    retry: RetryPolicy = DEFAULT_RETRY

    def __post_init__(self) -> None:
        if not self.token or not self.token.strip():
            raise ValueError("token: the Apolo token is not set (a token, or a passed-config blob)")
        url = (self.url or DEFAULT_API_URL).strip().rstrip("/")
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"url: {self.url!r} is not an http(s) URL (e.g. {DEFAULT_API_URL})")
        object.__setattr__(self, "url", url)
        object.__setattr__(self, "token", self.token.strip())
        if self.timeout <= 0:
            raise ValueError(f"timeout: {self.timeout!r} must be a positive number of seconds")

    @classmethod
    def from_passed_config(
        cls,
        blob: str,
        *,
        url: str | None = None,
        cluster: str | None = None,
        org: str | None = None,
        project: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        retry: RetryPolicy = DEFAULT_RETRY,
    ) -> ApoloConfig:
        """Read a passed-config blob; explicit url/cluster/org/project win over what it holds."""
        data = parse_passed_config(blob)
        return cls(
            token=str(data["token"]),
            url=url or str(data.get("url") or DEFAULT_API_URL),
            cluster=cluster or str(data.get("cluster") or ""),
            org=org or str(data.get("org_name") or ""),
            project=project or str(data.get("project_name") or ""),
            timeout=timeout,
            retry=retry,
        )

    @property
    def auth_header(self) -> str:
        return f"Bearer {self.token}"


def looks_like_passed_config(text: str) -> bool:
    """A passed-config blob is base64 JSON with a token; a platform token is a JWT (three dot-separated parts)."""
    try:
        parse_passed_config(text)
    except ValueError:
        return False
    return True


def parse_passed_config(blob: str) -> dict[str, object]:
    """The blob's JSON; ValueError (without the blob's content) when it is not one."""
    text = (blob or "").strip()
    try:
        padded = text + "=" * (-len(text) % 4)
        data = json.loads(base64.b64decode(padded, altchars=b"-_" if "-" in text or "_" in text else None))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ValueError("passed_config: not base64 of a JSON object (what APOLO_PASSED_CONFIG holds)") from None
    if not isinstance(data, dict) or not data.get("token"):
        raise ValueError("passed_config: no token in it (expected {token, cluster, url, org_name, project_name})")
    return data
