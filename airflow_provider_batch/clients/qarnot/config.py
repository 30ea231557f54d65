"""Where the Qarnot API is and how to talk to it, like the seed SDK's `Connection`: explicit arguments first, then an
INI file (`[cluster] url, unsafe, timeout`, `[client] token`, `[storage] url, unsafe`), then the environment
(QARNOT_CLUSTER_URL, QARNOT_CLIENT_TOKEN, QARNOT_STORAGE_URL), then the defaults.
"""

from __future__ import annotations

import configparser
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from airflow_provider_batch.common.retry import RetryPolicy

DEFAULT_CLUSTER_URL = "https://api.qarnot.com"
DEFAULT_STORAGE_URL = "https://storage.qarnot.com"
DEFAULT_TIMEOUT = 30.0
DEFAULT_RETRY = RetryPolicy(max_attempts=5, initial_backoff=0.5, max_backoff=10.0)
_TRUE = frozenset({"true", "1", "yes", "on"})


@dataclass(frozen=True)
class QarnotConfig:
    """cluster_url: the API (default the public one); token: the API token, sent raw as `Authorization` (never
    printed); cluster_unsafe / storage_unsafe: skip TLS verification; timeout: seconds for each request;
    storage_url: the S3 endpoint (default: what GET /settings answers); retry: how 429/5xx/network errors are retried.
    """

    token: str = field(repr=False)
    cluster_url: str = DEFAULT_CLUSTER_URL
    cluster_unsafe: bool = False
    timeout: float = DEFAULT_TIMEOUT
    storage_url: str | None = None
    storage_unsafe: bool = False
    retry: RetryPolicy = DEFAULT_RETRY
    cluster_ca: str | None = None
    storage_ca: str | None = None

    @property
    def cluster_verify(self) -> bool | str:
        """What requests' `verify` takes for the API: False (unsafe), a CA file, or True (the system's)."""
        return False if self.cluster_unsafe else (self.cluster_ca or True)

    @property
    def storage_verify(self) -> bool | str:
        """What boto3's `verify` takes for the storage: False (unsafe), a CA file, or True."""
        return False if self.storage_unsafe else (self.storage_ca or True)

    def __post_init__(self) -> None:
        if not self.token:
            raise ValueError(
                "token: the Qarnot API token is not set (pass token=, set [client] token in the file, "
                "or QARNOT_CLIENT_TOKEN)"
            )
        url = self.cluster_url.strip().rstrip("/")
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"cluster_url: {self.cluster_url!r} is not an http(s) URL (e.g. {DEFAULT_CLUSTER_URL})")
        object.__setattr__(self, "cluster_url", url)
        if self.storage_url:
            object.__setattr__(self, "storage_url", self.storage_url.strip().rstrip("/"))
        if self.timeout <= 0:
            raise ValueError(f"timeout: {self.timeout!r} must be a positive number of seconds")

    @classmethod
    def resolve(
        cls,
        *,
        token: str | None = None,
        cluster_url: str | None = None,
        cluster_unsafe: bool | None = None,
        timeout: float | None = None,
        storage_url: str | None = None,
        storage_unsafe: bool | None = None,
        fileconf: str | Path | None = None,
        retry: RetryPolicy | None = None,
        environ: Mapping[str, str] | None = None,
        cluster_ca: str | None = None,
        storage_ca: str | None = None,
    ) -> QarnotConfig:
        """Arguments win over the INI file `fileconf`, which wins over the environment, which wins over defaults."""
        env = os.environ if environ is None else environ
        ini = _read_ini(fileconf) if fileconf else {}

        def pick(argument: object, ini_key: str, env_key: str = "") -> str | None:
            if argument is not None and argument != "":
                return str(argument)
            if ini.get(ini_key):
                return ini[ini_key]
            return env.get(env_key) or None if env_key else None

        return cls(
            token=pick(token, "client.token", "QARNOT_CLIENT_TOKEN") or "",
            cluster_url=pick(cluster_url, "cluster.url", "QARNOT_CLUSTER_URL") or DEFAULT_CLUSTER_URL,
            cluster_unsafe=_truthy(pick(cluster_unsafe, "cluster.unsafe")),
            timeout=float(pick(timeout, "cluster.timeout") or DEFAULT_TIMEOUT),
            storage_url=pick(storage_url, "storage.url", "QARNOT_STORAGE_URL"),
            storage_unsafe=_truthy(pick(storage_unsafe, "storage.unsafe")),
            retry=retry or DEFAULT_RETRY,
            cluster_ca=pick(cluster_ca, "cluster.custom_certificate"),
            storage_ca=pick(storage_ca, "storage.custom_certificate"),
        )

    def with_storage(self, storage_url: str) -> QarnotConfig:
        return replace(self, storage_url=storage_url)


def _truthy(value: str | None) -> bool:
    return bool(value) and str(value).strip().lower() in _TRUE


def _read_ini(path: str | Path) -> dict[str, str]:
    parser = configparser.ConfigParser()
    if not parser.read(path):
        raise ValueError(f"fileconf: {str(path)!r} could not be read")
    values = {}
    for section in ("cluster", "client", "storage"):
        if parser.has_section(section):
            for key, value in parser.items(section):
                values[f"{section}.{key}"] = value
    if "client.token" not in values and values.get("client.auth"):
        values["client.token"] = values["client.auth"]  # the seed's deprecated name
    return values
