"""Armada's submit-request validation (internal/server/submit/validation), with messages that name the field.

The whole request is refused when any item is invalid, as Armada does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_provider_batch._proto.armada import submit_pb2
from airflow_provider_batch._proto.armada.k8s import core_v1_pb2
from airflow_provider_batch.emulators.armada.quantity import parse_quantity
from airflow_provider_batch.emulators.errors import invalid

MAX_JOB_SET_ID_CHARS = 1023
MAX_CLIENT_ID_CHARS = 100
MAX_QUERY_ITEMS = 500


def require_queue_and_job_set(queue: str, job_set_id: str) -> None:
    if not queue:
        raise invalid("queue must not be empty")
    if not job_set_id:
        raise invalid("job_set_id must not be empty")
    if len(job_set_id) > MAX_JOB_SET_ID_CHARS:
        raise invalid(
            f"job_set_id is {len(job_set_id)} characters long; it must be shorter than {MAX_JOB_SET_ID_CHARS + 1}"
        )


def validate_submit(request: submit_pb2.JobSubmitRequest) -> None:
    """Raise INVALID_ARGUMENT naming the first bad field."""
    require_queue_and_job_set(request.queue, request.job_set_id)
    if not request.job_request_items:
        raise invalid("job_request_items must not be empty: submit at least one job")
    for index, item in enumerate(request.job_request_items):
        _validate_item(f"job_request_items[{index}]", item)


def the_pod_spec(item: submit_pb2.JobSubmitRequestItem) -> core_v1_pb2.PodSpec:
    """The item's one pod spec (pod_specs[0], or the deprecated pod_spec); call after validation."""
    return item.pod_specs[0] if item.pod_specs else item.pod_spec


def _validate_item(where: str, item: submit_pb2.JobSubmitRequestItem) -> None:
    if len(item.client_id) > MAX_CLIENT_ID_CHARS:
        raise invalid(f"{where}.client_id is {len(item.client_id)} characters long; at most {MAX_CLIENT_ID_CHARS}")
    if not item.namespace:
        raise invalid(f"{where}.namespace must not be empty (e.g. 'default')")
    has_single = item.HasField("pod_spec")
    count = len(item.pod_specs) + (1 if has_single else 0)
    if count != 1:
        raise invalid(
            f"{where}: exactly one pod spec is required (pod_spec, or one entry in pod_specs), got {count}"
            + ("; Jobs with multiple pods are not supported" if count > 1 else "")
        )
    spec_where = f"{where}.pod_spec" if has_single else f"{where}.pod_specs[0]"
    spec = the_pod_spec(item)
    if not spec.containers:
        raise invalid(f"{spec_where}.containers must not be empty: a pod needs at least one container")
    for kind, containers in (("initContainers", spec.initContainers), ("containers", spec.containers)):
        for index, container in enumerate(containers):
            _validate_resources(f"{spec_where}.{kind}[{index}]", container)


def _validate_resources(where: str, container: core_v1_pb2.Container) -> None:
    resources = container.resources
    requests = _parse_all(f"{where}.resources.requests", resources.requests)
    limits = _parse_all(f"{where}.resources.limits", resources.limits)
    if not requests or not limits:
        missing = " and ".join(name for name, values in (("requests", requests), ("limits", limits)) if not values)
        raise invalid(
            f"{where}.resources: {missing} not set; Armada needs requests and limits for the same resources, "
            "with limits equal to requests (e.g. cpu: 100m, memory: 64Mi in both)"
        )
    if set(requests) != set(limits):
        raise invalid(
            f"{where}.resources: requests set {sorted(requests)} but limits set {sorted(limits)}; "
            "both must name the same resources"
        )
    for name in sorted(requests):
        if requests[name] != limits[name]:
            raise invalid(
                f"{where}.resources: {name} limit {resources.limits[name].string!r} differs from its request "
                f"{resources.requests[name].string!r}; Armada requires limits == requests"
            )


def _parse_all(where: str, quantities: Mapping[str, Any]) -> dict[str, Any]:
    parsed = {}
    for name, quantity in quantities.items():
        try:
            parsed[name] = parse_quantity(quantity.string)
        except ValueError as err:
            raise invalid(f"{where}[{name!r}]: {err}") from None
    return parsed


def check_query_size(field: str, count: int) -> None:
    if count > MAX_QUERY_ITEMS:
        raise invalid(f"{field} has {count} entries; at most {MAX_QUERY_ITEMS} per request (maxQueryItems)")
