"""Listing tasks, jobs and pools as the API does: token paging in creation order and search, both with the SDK's
filters."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from airflow_provider_batch.emulators.qarnot.errors import bad_request
from airflow_provider_batch.emulators.qarnot.filters import fields_of, matches, tags_only
from airflow_provider_batch.emulators.qarnot.records import JobRecord, PoolRecord, TaskRecord

DEFAULT_PAGE = 50
MAX_PAGE = 1000
R = TypeVar("R", TaskRecord, JobRecord, PoolRecord)


def _selected(
    records: Iterable[R],
    to_json: Callable[[R], dict[str, Any]],
    view: Callable[[R], dict[str, Any]] | None,
    node: Any,
) -> Iterator[tuple[R, dict[str, Any]]]:
    """The records passing the filter, in creation order, with their JSON. The filter is read on `view` (a
    summary, cheap) when that has every field the filter names, else on the full JSON."""
    by_tags = tags_only(node)
    if by_tags is not None:
        match_all, tags = by_tags
        for record in sorted(records, key=lambda r: r.seq):
            held = set(record.tags)
            if (tags <= held) if match_all else not tags.isdisjoint(held):
                yield record, to_json(record)
        return
    wanted = fields_of(node)
    for record in sorted(records, key=lambda r: r.seq):
        cheap = view(record) if view is not None and node is not None else None
        if cheap is not None and wanted <= {key.lower() for key in cheap}:
            if matches(cheap, node):
                yield record, to_json(record)
            continue
        item = to_json(record)
        if matches(item, node):
            yield record, item


def page(
    records: Iterable[R],
    to_json: Callable[[R], dict[str, Any]],
    body: Any,
    view: Callable[[R], dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Token paging in creation order: `{data, token, nextToken, isTruncated}` for `{filter, token,
    maximumResults}`; the token is opaque to clients (the last sequence number returned)."""
    body = body if isinstance(body, dict) else {}
    token = body.get("token")
    maximum = body.get("maximumResults") or DEFAULT_PAGE
    if isinstance(maximum, bool) or not isinstance(maximum, int) or maximum < 1:
        raise bad_request("maximumResults must be a positive integer")
    maximum = min(maximum, MAX_PAGE)
    after = 0
    if token:
        try:
            after = int(base64.urlsafe_b64decode(str(token).encode()).decode())
        except ValueError:
            raise bad_request(f"token {token!r} is not a token this API gave") from None
    later = (r for r in records if r.seq > after)
    data: list[dict[str, Any]] = []
    last = after
    for record, item in _selected(later, to_json, view, body.get("filter")):
        if len(data) == maximum:
            next_token = base64.urlsafe_b64encode(str(last).encode()).decode()
            return {"data": data, "token": token, "nextToken": next_token, "isTruncated": True}
        data.append(item)
        last = record.seq
    return {"data": data, "token": token, "nextToken": None, "isTruncated": False}


def search(
    records: Iterable[R],
    to_json: Callable[[R], dict[str, Any]],
    body: Any,
    view: Callable[[R], dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """`POST /{kind}/search`: `{filter, select, maximumResults}` -> the matching items (only `select` fields)."""
    body = body if isinstance(body, dict) else {}
    maximum = body.get("maximumResults")
    select = body.get("select")
    found = []
    for _, item in _selected(records, to_json, view, body.get("filter")):
        found.append({k: v for k, v in item.items() if k in select} if select else item)
        if maximum and len(found) >= maximum:
            break
    return found
