"""The API's search filters, as the SDK builds them: leaves `{"operator": "Equal", "field": "Tags", "value": v}`
and nodes `{"operator": "And" | "Or", "filters": [...]}`. A list field (Tags) matches Equal when it holds the value."""

from __future__ import annotations

import re
from typing import Any

from airflow_provider_batch.emulators.qarnot.errors import bad_request

LEAF_OPERATORS = ("Equal", "NotEqual", "In", "NotIn", "Less", "LessOrEqual", "Greater", "GreaterOrEqual", "Like")


def _field(item: dict[str, Any], name: str) -> Any:
    """The item's value for a filter field ("Tags", "State", "Name", ...), matched without regard to case."""
    lowered = name.lower()
    for key, value in item.items():
        if key.lower() == lowered:
            return value
    raise bad_request(f"filter: unknown field {name!r}")


def _compare(operator: str, actual: Any, value: Any) -> bool:
    if operator == "Equal":
        return value in actual if isinstance(actual, list) else actual == value
    if operator == "NotEqual":
        return value not in actual if isinstance(actual, list) else actual != value
    if operator in ("In", "NotIn"):
        values = value if isinstance(value, list) else [value]
        found = any(v in actual for v in values) if isinstance(actual, list) else actual in values
        return found if operator == "In" else not found
    if operator == "Like":
        return actual is not None and re.search(str(value), str(actual)) is not None
    if actual is None:
        return False
    try:
        if operator == "Less":
            return bool(actual < value)
        if operator == "LessOrEqual":
            return bool(actual <= value)
        if operator == "Greater":
            return bool(actual > value)
        return bool(actual >= value)
    except TypeError:
        raise bad_request(f"filter: cannot compare {actual!r} with {value!r}") from None


def matches(item: dict[str, Any], node: Any) -> bool:
    """Whether `item` (a task, job or pool as JSON) passes the filter `node` (None passes everything)."""
    if node is None:
        return True
    if not isinstance(node, dict):
        raise bad_request("filter: must be an object with an 'operator'")
    operator = node.get("operator")
    if operator in ("And", "Or"):
        children = node.get("filters")
        if not isinstance(children, list):
            raise bad_request(f"filter: {operator} needs a list of 'filters'")
        results = (matches(item, child) for child in children)
        return all(results) if operator == "And" else any(results)
    if operator not in LEAF_OPERATORS:
        raise bad_request(f"filter: unknown operator {operator!r}; use And, Or or one of {', '.join(LEAF_OPERATORS)}")
    field = node.get("field")
    if not isinstance(field, str):
        raise bad_request(f"filter: {operator} needs a 'field'")
    return _compare(operator, _field(item, field), node.get("value"))


def fields_of(node: Any) -> set[str]:
    """The field names a filter reads, lower-cased (to pick the cheapest view of an item that has them all)."""
    if not isinstance(node, dict):
        return set()
    found = {str(node["field"]).lower()} if isinstance(node.get("field"), str) else set()
    for child in node.get("filters") or []:
        found |= fields_of(child)
    return found


def tags_only(node: Any) -> tuple[bool, frozenset[str]] | None:
    """When a filter only asks about tags (an Equal on Tags, or an And/Or of such leaves, as the SDK's tag filters
    are): (whether all of the tags are needed, the tags); else None. Such a filter is answered from each object's
    tags without building its JSON, the way an indexed API would, so that a paged sweep of N tasks by their tags
    costs the emulator O(N), not O(N x tags)."""
    if not isinstance(node, dict):
        return None

    def tag_of(leaf: Any) -> str | None:
        if not isinstance(leaf, dict) or leaf.get("operator") != "Equal" or not isinstance(leaf.get("field"), str):
            return None
        value = leaf.get("value")
        return value if leaf["field"].lower() == "tags" and isinstance(value, str) else None

    single = tag_of(node)
    if single is not None:
        return False, frozenset([single])
    children = node.get("filters")
    if node.get("operator") not in ("And", "Or") or not isinstance(children, list) or not children:
        return None
    tags = [tag_of(child) for child in children]
    if any(tag is None for tag in tags):
        return None
    return node["operator"] == "And", frozenset(tag for tag in tags if tag is not None)
