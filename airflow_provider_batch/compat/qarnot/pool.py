"""`Pool`, like the seed's `qarnot.pool.Pool`: instances of a profile kept up for the tasks submitted into it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow_provider_batch.clients.qarnot.types import ElasticSettings, PoolSpec, QarnotPool
from airflow_provider_batch.compat.qarnot._cache import CachedObject

if TYPE_CHECKING:
    from airflow_provider_batch.compat.qarnot.connection import Connection


class Pool(CachedObject):
    """name: the pool's name; profile: the profile its instances run; instancecount: how many instances."""

    _kind = "pool"

    def __init__(
        self, connection: Connection, name: str, profile: str, instancecount: int = 1, shortname: str | None = None
    ) -> None:
        super().__init__()
        self._connection = connection
        self._name = name
        self._profile = profile
        self._instancecount = instancecount
        self._shortname = shortname
        self._state = "UnSubmitted"
        self._elastic: ElasticSettings | None = None
        self.constants: dict[str, str] = {}
        self.tags: list[str] = []

    @classmethod
    def _from_api(cls, connection: Connection, api: QarnotPool) -> Pool:
        pool = cls(connection, api.name, api.profile, api.instance_count, api.shortname or None)
        pool._uuid = api.uuid
        pool._stored(api)
        return pool

    def _fetch(self) -> QarnotPool:
        assert self._uuid is not None
        return self._connection._client.retrieve_pool(self._uuid)

    def _apply(self, api: QarnotPool) -> None:
        self._state = api.state
        self._name = api.name
        self._instancecount = api.instance_count
        self.tags = list(api.tags)

    def setup_elastic(
        self,
        minimum_total_slots: int = 0,
        maximum_total_slots: int = 1,
        minimum_idle_slots: int = 0,
        minimum_idle_time_seconds: int = 0,
        resize_factor: float = 1,
        resize_period: int = 90,
    ) -> None:
        """Make the pool elastic: it grows and shrinks between the minimum and maximum slots with the load."""
        self._elastic = ElasticSettings(
            minimum_total_slots,
            maximum_total_slots,
            minimum_idle_slots,
            resize_period,
            resize_factor,
            minimum_idle_time_seconds,
        )

    def submit(self) -> None:
        if self._uuid is not None:
            raise ValueError(f"pool {self._uuid} was already submitted")
        spec = PoolSpec(
            name=self._name,
            profile=self._profile,
            instance_count=self._elastic.min_total_slots if self._elastic else self._instancecount,
            constants=dict(self.constants),
            tags=list(self.tags),
            shortname=self._shortname,
            elastic=self._elastic,
        )
        api = self._connection._client.submit_pool(spec)
        self._uuid = api.uuid
        self._stored(api)

    def close(self) -> None:
        """Stop the pool's instances (its tasks are cancelled)."""
        self._connection._client.close_pool(self._require_uuid())
        self.update(True)

    def delete(self, purge_resources: bool = False) -> None:
        if self._uuid is not None:
            self._connection._client.delete_pool(self._uuid)
        self._uuid = None

    @property
    def profile(self) -> str:
        return self._profile

    @property
    def instancecount(self) -> int:
        self._fresh()
        return self._instancecount

    def __repr__(self) -> str:
        return f"Pool({self._name!r}, uuid={self._uuid!r}, state={self._state!r})"
