"""The Qarnot emulator answers tag-only filters from each object's tags (O(N) a page), with the same results as
the general filter on the full JSON."""

from __future__ import annotations

import random
from typing import Any

import pytest

from airflow_provider_batch.emulators.qarnot.filters import matches, tags_only
from airflow_provider_batch.emulators.qarnot.listing import page
from airflow_provider_batch.emulators.qarnot.records import TaskRecord


def leaf(tag: str, field: str = "Tags", operator: str = "Equal") -> dict[str, Any]:
    return {"operator": operator, "field": field, "value": tag}


def test_which_filters_are_tag_only() -> None:
    assert tags_only(leaf("a")) == (False, frozenset({"a"}))
    assert tags_only(leaf("a", field="tags")) == (False, frozenset({"a"}))
    assert tags_only({"operator": "Or", "filters": [leaf("a"), leaf("b")]}) == (False, frozenset({"a", "b"}))
    assert tags_only({"operator": "And", "filters": [leaf("a"), leaf("b")]}) == (True, frozenset({"a", "b"}))
    assert tags_only(None) is None
    assert tags_only(leaf("a", field="State")) is None
    assert tags_only(leaf("a", operator="NotEqual")) is None
    assert tags_only({"operator": "Or", "filters": [leaf("a"), leaf("Success", field="State")]}) is None
    assert tags_only({"operator": "Or", "filters": []}) is None
    assert tags_only({"operator": "Or", "filters": [leaf("a"), {"operator": "Or", "filters": [leaf("b")]}]}) is None
    assert tags_only({"operator": "Equal", "field": "Tags", "value": 3}) is None


def _task(seq: int, tags: list[str]) -> TaskRecord:
    return TaskRecord(
        uuid=f"task-{seq:04d}", seq=seq, body={"name": f"t{seq}", "tags": tags}, instance_ids=[0], constants={}
    )


def _json(task: TaskRecord) -> dict[str, Any]:
    return {"uuid": task.uuid, "tags": task.tags, "state": task.state}


@pytest.mark.parametrize("operator", ["Or", "And"])
def test_tag_paging_agrees_with_the_general_filter(operator: str) -> None:
    rng = random.Random(7)
    pool = [f"tag-{i}" for i in range(30)]
    tasks = [_task(seq, rng.sample(pool, rng.randint(0, 4))) for seq in range(1, 400)]
    for _ in range(20):
        node = {"operator": operator, "filters": [leaf(tag) for tag in rng.sample(pool, rng.randint(1, 3))]}
        expected = [_json(task)["uuid"] for task in tasks if matches(_json(task), node)]
        found: list[str] = []
        token = None
        while True:
            answer = page(tasks, _json, {"filter": node, "token": token, "maximumResults": 25})
            found += [item["uuid"] for item in answer["data"]]
            if not answer["isTruncated"]:
                break
            token = answer["nextToken"]
        assert found == expected
