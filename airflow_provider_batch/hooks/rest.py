"""What the REST schedulers' hooks (Qarnot, Apolo) share: a connection read into settings, a sync client for the
worker and an asyncio client for the triggerer, both built from the settings' client config."""

from __future__ import annotations

from functools import cached_property
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from airflow_provider_batch.hooks.base import BatchHook, RequestT


class RestSettings(Protocol):
    @property
    def config(self) -> Any: ...

    @property
    def endpoint(self) -> str: ...


class SyncClient(Protocol):
    def close(self) -> None: ...


class AsyncClient(Protocol):
    async def close(self) -> None: ...


SettingsT = TypeVar("SettingsT", bound=RestSettings)
ClientT = TypeVar("ClientT", bound=SyncClient)
AsyncClientT = TypeVar("AsyncClientT", bound=AsyncClient)


class RestHook(BatchHook[RequestT], Generic[RequestT, SettingsT, ClientT, AsyncClientT]):
    """A BatchHook whose clients are built from `settings_class.from_connection(conn).config`."""

    settings_class: ClassVar[Any]
    client_class: ClassVar[Any]
    async_client_class: ClassVar[Any]
    # Qarnot and Apolo have no stream of state changes: the cache reads twice per poll interval (Qarnot: ceil(N/100)
    # tag-filtered pages a read, Apolo: one filtered list), so a job's end reaches its trigger sooner than per-job
    # polling at the same interval would bring it (a quarter interval on average instead of half), at a small
    # fraction of per-job polling's calls.
    sweeps_per_interval = 2

    def __init__(self, conn_id: str, **kwargs: Any) -> None:
        super().__init__(conn_id=conn_id, **kwargs)
        self._async_client: AsyncClientT | None = None

    @cached_property
    def settings(self) -> SettingsT:
        settings: SettingsT = self.read_connection(self.settings_class.from_connection)
        return settings

    @cached_property
    def client(self) -> ClientT:
        client: ClientT = self.client_class(self.settings.config)
        return client

    def get_conn(self) -> ClientT:
        return self.client

    def endpoint(self) -> str:
        try:
            return self.settings.endpoint
        except Exception:  # an unreadable connection: the error that follows says why
            return ""

    async def aget_client(self) -> AsyncClientT:
        """The asyncio client, built from `aget_connection` (never blocks the triggerer's loop)."""
        if self._async_client is None:
            settings = self.settings_class.from_connection(await self.aget_connection(self.conn_id))
            self._async_client = self.async_client_class(settings.config)
        assert self._async_client is not None
        return self._async_client

    async def aclose(self) -> None:
        if self._async_client is not None:
            await self._async_client.close()
            self._async_client = None

    def close(self) -> None:
        """Close the worker's client (its HTTP session), if one was made."""
        if "client" in self.__dict__:
            self.client.close()
            del self.__dict__["client"]
