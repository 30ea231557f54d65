from decimal import Decimal
from typing import Any

import pytest

from airflow_provider_batch._proto.armada import submit_pb2
from airflow_provider_batch._proto.armada.k8s import core_v1_pb2, resource_pb2
from airflow_provider_batch.emulators.armada.quantity import parse_quantity
from airflow_provider_batch.emulators.armada.validation import check_query_size, validate_submit
from airflow_provider_batch.emulators.errors import EmulatorError, ErrorKind


def resources(requests: dict[str, str], limits: dict[str, str]) -> Any:
    return core_v1_pb2.ResourceRequirements(
        requests={k: resource_pb2.Quantity(string=v) for k, v in requests.items()},
        limits={k: resource_pb2.Quantity(string=v) for k, v in limits.items()},
    )


def container(**overrides: Any) -> Any:
    fields: dict[str, Any] = {
        "name": "main",
        "command": ["true"],
        "resources": resources({"cpu": "100m", "memory": "64Mi"}, {"cpu": "100m", "memory": "64Mi"}),
    }
    fields.update(overrides)
    return core_v1_pb2.Container(**fields)


def request(**item_fields: Any) -> Any:
    fields: dict[str, Any] = {"namespace": "default", "pod_specs": [core_v1_pb2.PodSpec(containers=[container()])]}
    fields.update(item_fields)
    return submit_pb2.JobSubmitRequest(
        queue="q", job_set_id="js", job_request_items=[submit_pb2.JobSubmitRequestItem(**fields)]
    )


def refused(req: Any) -> str:
    with pytest.raises(EmulatorError) as caught:
        validate_submit(req)
    assert caught.value.kind is ErrorKind.INVALID_ARGUMENT
    return caught.value.message


def test_a_good_request_passes() -> None:
    validate_submit(request())
    validate_submit(request(pod_specs=[], pod_spec=core_v1_pb2.PodSpec(containers=[container()])))


def test_queue_and_job_set_are_required() -> None:
    req = request()
    req.queue = ""
    assert refused(req).startswith("queue must not be empty")
    req = request()
    req.job_set_id = ""
    assert "job_set_id must not be empty" in refused(req)
    req.job_set_id = "x" * 1024
    assert "job_set_id is 1024 characters" in refused(req)
    req.job_set_id = "x" * 1023
    validate_submit(req)


def test_namespace_and_client_id() -> None:
    assert "job_request_items[0].namespace" in refused(request(namespace=""))
    assert "job_request_items[0].client_id is 101 characters" in refused(request(client_id="c" * 101))
    validate_submit(request(client_id="c" * 100))


def test_exactly_one_pod_spec() -> None:
    assert "exactly one pod spec" in refused(request(pod_specs=[]))
    two = [core_v1_pb2.PodSpec(containers=[container()])] * 2
    assert "got 2" in refused(request(pod_specs=two))
    both = request(pod_spec=core_v1_pb2.PodSpec(containers=[container()]))
    assert "got 2" in refused(both)


def test_containers_required() -> None:
    assert "pod_specs[0].containers must not be empty" in refused(request(pod_specs=[core_v1_pb2.PodSpec()]))


@pytest.mark.parametrize(
    ("requests", "limits", "expected"),
    [
        ({}, {}, "requests and limits not set"),
        ({"cpu": "1"}, {}, "limits not set"),
        ({"cpu": "1"}, {"memory": "1Gi"}, "both must name the same resources"),
        ({"cpu": "100m"}, {"cpu": "200m"}, "cpu limit '200m' differs from its request '100m'"),
        ({"cpu": "lots"}, {"cpu": "lots"}, "resources.requests['cpu']: 'lots' is not a Kubernetes quantity"),
    ],
)
def test_resources_must_match(requests: dict[str, str], limits: dict[str, str], expected: str) -> None:
    spec = core_v1_pb2.PodSpec(containers=[container(), container(resources=resources(requests, limits))])
    message = refused(request(pod_specs=[spec]))
    assert "job_request_items[0].pod_specs[0].containers[1].resources" in message
    assert expected in message


def test_init_containers_are_checked_too() -> None:
    spec = core_v1_pb2.PodSpec(containers=[container()], initContainers=[container(resources=resources({}, {}))])
    assert "initContainers[0].resources" in refused(request(pod_specs=[spec]))


def test_equal_values_in_different_spellings_are_equal() -> None:
    spec = core_v1_pb2.PodSpec(containers=[container(resources=resources({"cpu": "1"}, {"cpu": "1000m"}))])
    validate_submit(request(pod_specs=[spec]))


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("100m", "0.1"),
        ("64Mi", str(64 * 1024**2)),
        ("1Gi", str(1024**3)),
        ("2k", "2000"),
        ("1e3", "1000"),
        (".5", "0.5"),
    ],
)
def test_quantities(text: str, value: str) -> None:
    assert parse_quantity(text) == Decimal(value)


def test_query_size_limit() -> None:
    check_query_size("job_ids", 500)
    with pytest.raises(EmulatorError, match="job_ids has 501 entries; at most 500"):
        check_query_size("job_ids", 501)
