"""Paged lists, like the seed's `Connection.tasks_page` / `jobs_page` / `pools_page` (one page: a
`PaginateResponse`) and `all_tasks` / `all_jobs` / `all_pools` (an iterator over every page, fetched as it goes):

    page = conn.tasks_page(maximum=100, tags=["nightly"])
    while True:
        for task in page.page_data: ...
        if not page.is_truncated: break
        page = conn.tasks_page(token=page.next_token, maximum=100, tags=["nightly"])
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_batch.clients.qarnot import requests as api
from airflow_provider_batch.clients.qarnot.types import Page

if TYPE_CHECKING:
    from airflow_provider_batch.clients.qarnot.client import QarnotClient
    from airflow_provider_batch.compat.qarnot.connection import Connection


class PaginateResponse:
    """One page: `page_data` (Task, Job or Pool objects), `next_token` for the next one, `is_truncated` while more
    follow, `token` the one that asked for this page."""

    def __init__(self, token: str | None, next_token: str | None, is_truncated: bool, page_data: list[Any]) -> None:
        self.token = token
        self.next_token = next_token
        self.is_truncated = is_truncated
        self.page_data = page_data


class Paging:
    """The paged-list half of `Connection` (a mixin)."""

    _client: QarnotClient

    def _page(self, request: api.Request[Page], token: str | None, wrap: Callable[[Any], Any]) -> PaginateResponse:
        page = self._client.send(request)
        return PaginateResponse(token, page.next_token, page.is_truncated, [wrap(item) for item in page.items])

    def _connection(self) -> Connection:
        return self  # type: ignore[return-value]

    def tasks_page(
        self,
        token: str | None = None,
        maximum: int | None = None,
        summary: bool = True,
        tags: Sequence[str] | None = None,
        tags_intersect: Sequence[str] | None = None,
    ) -> PaginateResponse:
        """One page of tasks (summaries when `summary` and no tag filter, as the seed asks)."""
        from airflow_provider_batch.compat.qarnot.task import Task

        request = api.tasks_page(token, maximum, tags, tags_intersect, summary=summary)
        return self._page(request, token, lambda item: Task._from_api(self._connection(), item))

    def jobs_page(
        self,
        token: str | None = None,
        maximum: int | None = None,
        tags: Sequence[str] | None = None,
        tags_intersect: Sequence[str] | None = None,
    ) -> PaginateResponse:
        from airflow_provider_batch.compat.qarnot.job import Job

        request = api.jobs_page(token, maximum, tags, tags_intersect)
        return self._page(request, token, lambda item: Job._from_api(self._connection(), item))

    def pools_page(
        self,
        token: str | None = None,
        maximum: int | None = None,
        summary: bool = True,
        tags: Sequence[str] | None = None,
        tags_intersect: Sequence[str] | None = None,
    ) -> PaginateResponse:
        from airflow_provider_batch.compat.qarnot.pool import Pool

        request = api.pools_page(token, maximum, tags, tags_intersect)
        return self._page(request, token, lambda item: Pool._from_api(self._connection(), item))

    @staticmethod
    def _all_pages(page_of: Callable[..., PaginateResponse], **filters: Any) -> Iterator[Any]:
        token: str | None = None
        while True:
            page = page_of(token=token, **filters)
            yield from page.page_data
            if not page.is_truncated or not page.next_token:
                return
            token = page.next_token

    def all_tasks(
        self, summary: bool = True, tags: Sequence[str] | None = None, tags_intersect: Sequence[str] | None = None
    ) -> Iterator[Any]:
        """Every task, page after page, as the iteration goes."""
        return self._all_pages(self.tasks_page, summary=summary, tags=tags, tags_intersect=tags_intersect)

    def all_jobs(self, tags: Sequence[str] | None = None, tags_intersect: Sequence[str] | None = None) -> Iterator[Any]:
        return self._all_pages(self.jobs_page, tags=tags, tags_intersect=tags_intersect)

    def all_pools(
        self, summary: bool = True, tags: Sequence[str] | None = None, tags_intersect: Sequence[str] | None = None
    ) -> Iterator[Any]:
        return self._all_pages(self.pools_page, summary=summary, tags=tags, tags_intersect=tags_intersect)
