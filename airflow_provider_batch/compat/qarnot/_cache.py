"""The seed's object cache: a property read re-fetches the object when `auto_update` is on and the cached copy is
older than `update_cache_time` seconds; `update(flushcache=True)` always re-fetches; an unsubmitted object never
calls the API."""

from __future__ import annotations

import time
from typing import Any

DEFAULT_UPDATE_CACHE_TIME = 5.0


class CachedObject:
    """Base of Task, Job and Pool: `_fetch()` returns the fresh API object, `_apply(it)` stores it."""

    _uuid: str | None
    _name: str
    _shortname: str | None
    _state: str
    _kind = "object"

    def __init__(self) -> None:
        self._uuid = None
        self._auto_update = True
        self._update_cache_time = DEFAULT_UPDATE_CACHE_TIME
        self._last_cache = 0.0

    @property
    def auto_update(self) -> bool:
        """True (the default): reading a property re-fetches the object once the cache is older than
        `update_cache_time`. False: properties answer the cached copy until `update()` is called."""
        return self._auto_update

    @auto_update.setter
    def auto_update(self, value: bool) -> None:
        self._auto_update = bool(value)

    @property
    def update_cache_time(self) -> float:
        """Seconds a fetched copy is served before a property read (with auto_update) or `update()` fetches again."""
        return self._update_cache_time

    @update_cache_time.setter
    def update_cache_time(self, value: float) -> None:
        self._update_cache_time = float(value)

    def update(self, flushcache: bool = False) -> None:
        """Fetch the object from the API, unless the cached copy is younger than update_cache_time (flushcache:
        fetch anyway). Does nothing before the object is submitted."""
        if self._uuid is None:
            return
        if not flushcache and time.monotonic() - self._last_cache < self._update_cache_time:
            return
        self._apply(self._fetch())
        self._last_cache = time.monotonic()

    def _fresh(self) -> None:
        """What a property read does first: re-fetch if auto_update says so."""
        if self._auto_update:
            self.update()

    def _stored(self, api_object: Any) -> None:
        """Take an object just returned by the API as the cache (no call)."""
        self._apply(api_object)
        self._last_cache = time.monotonic()

    def _fetch(self) -> Any:
        raise NotImplementedError

    def _apply(self, api_object: Any) -> None:
        raise NotImplementedError

    @property
    def uuid(self) -> str | None:
        """The id the API gave the object; None before submit()."""
        return self._uuid

    @property
    def state(self) -> str:
        """The API's state ("UnSubmitted" before submit()); a task: Submitted, ..., FullyExecuting, Success, Failure,
        Cancelled; a job: Active, Terminating, Completed, ...; a pool: ..., FullyExecuting, Closed. Cached: see
        auto_update."""
        self._fresh()
        return self._state

    @property
    def name(self) -> str:
        return self._name

    @property
    def shortname(self) -> str | None:
        """The unique friendly id, when one was given (or the API made one)."""
        return self._shortname

    def _require_uuid(self) -> str:
        if self._uuid is None:
            raise ValueError(f"the {self._kind} was not submitted")
        return self._uuid
