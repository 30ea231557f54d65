"""The SDK's `Factory(path)`: a login is kept in the folder `path` (default `$APOLO_CONFIG`, else `~/.apolo`) and
`get()` reads it from there, in this process or a later one; `logout()` removes it.

    factory = Factory(Path("/run/apolo"))
    await factory.login_with_passed_config(blob)   # or login_with_token(token, url=...)
    client = await factory.get()

What is stored is our own small file (`airflow-provider-batch.json`: the passed-config blob, or the token and URL),
mode 0600 in a 0700 folder, not the SDK's SQLite `db`: the two do not read each other's logins. With
APOLO_PASSED_CONFIG (or NEURO_PASSED_CONFIG) set and nothing stored, `get()` uses it without writing anything (the SDK
would store it first).
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

from airflow_provider_batch.clients.apolo.config import ApoloConfig
from airflow_provider_batch.compat.apolo_sdk._client import (
    OLD_PASS_CONFIG_ENV_NAME,
    PASS_CONFIG_ENV_NAME,
    Client,
)

DEFAULT_API_URL = "https://api.apolo.us/api/v1"
DEFAULT_CONFIG_PATH = "~/.apolo"
CONFIG_ENV_NAME = "APOLO_CONFIG"
STORED = "airflow-provider-batch.json"


class ConfigError(RuntimeError, ValueError):
    """No login, a malformed one, or a login over an existing one (the SDK's ConfigError; also a ValueError)."""


def choose_path(path: Path | str | None) -> Path:
    if path is not None:
        return Path(path).expanduser()
    return Path(os.environ.get(CONFIG_ENV_NAME, DEFAULT_CONFIG_PATH)).expanduser()


def _env_blob() -> str | None:
    return os.environ.get(PASS_CONFIG_ENV_NAME) or os.environ.get(OLD_PASS_CONFIG_ENV_NAME)


class Factory:
    """`Factory(path)`: `login_with_passed_config`, `login_with_token`, `get`, `logout`, `path`, `is_config_present`.
    `trace_configs`, `trace_id` and `trace_sampled` are accepted for compatibility and not used."""

    def __init__(
        self,
        path: Path | str | None = None,
        trace_configs: list[Any] | None = None,
        trace_id: str | None = None,
        trace_sampled: bool | None = None,
    ) -> None:
        self._path = choose_path(path)

    @property
    def path(self) -> Path:
        return self._path

    @property
    def _file(self) -> Path:
        return self._path / STORED

    @property
    def is_config_present(self) -> bool:
        return self._file.exists()

    def _save(self, data: dict[str, str]) -> None:
        if self.is_config_present:
            raise ConfigError(f"Config at {self._path} already exists. Please logout")
        self._path.mkdir(mode=0o700, parents=True, exist_ok=True)
        descriptor = os.open(self._file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as out:
            json.dump(data, out)

    def _config(self) -> ApoloConfig:
        try:
            data = json.loads(self._file.read_text())
        except FileNotFoundError:
            raise ConfigError(
                f"no Apolo login at {self._path}: call login_with_passed_config(blob) or login_with_token(token, "
                f"url=...) first, or set {PASS_CONFIG_ENV_NAME}"
            ) from None
        except ValueError:
            raise ConfigError(f"the login at {self._file} is malformed: logout and login again") from None
        if "passed_config" in data:
            return ApoloConfig.from_passed_config(data["passed_config"])
        return ApoloConfig(token=data["token"], url=data["url"])

    async def login_with_passed_config(self, config_data: str | None = None, *, timeout: Any = None) -> None:
        """Keep the blob (argument, else APOLO_PASSED_CONFIG, else NEURO_PASSED_CONFIG) in `path`."""
        blob = config_data if config_data is not None else _env_blob()
        if blob is None:
            raise ConfigError(f"Config env variable {PASS_CONFIG_ENV_NAME} is not present")
        try:
            ApoloConfig.from_passed_config(blob)
        except ValueError:
            raise ConfigError("Data in passed config is malformed") from None
        self._save({"passed_config": blob})

    async def login_with_token(self, token: str, *, url: Any = DEFAULT_API_URL, timeout: Any = None) -> None:
        """Keep a token and the API URL in `path`."""
        self._save({"token": token, "url": str(url)})

    async def get(self, *, timeout: Any = None) -> Client:
        """A client from the login kept in `path`; with none there, from APOLO_PASSED_CONFIG, used as it is (the SDK
        would store it in `path` first: a worker here needs no writable home)."""
        blob = _env_blob()
        if not self.is_config_present and blob:
            try:
                return Client(ApoloConfig.from_passed_config(blob))
            except ValueError:
                raise ConfigError("Data in passed config is malformed") from None
        return Client(self._config())

    async def logout(self, show_browser_cb: Any = None) -> None:
        """Forget the login kept in `path` (and the folder, when nothing else is in it)."""
        self._file.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            self._path.rmdir()
