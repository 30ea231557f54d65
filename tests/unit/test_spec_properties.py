"""Property-based tests: building a job request from user input is a total function, for every backend.

Any input, however wrong (other types, huge numbers, unicode, control characters, deep nesting), gives either a
valid request or the provider's InvalidJobSpecError naming the field; never a TypeError, ValueError, RecursionError
or decimal error. A request that is accepted is also accepted by the emulator's own validation (client-side parity).
The example counts are small so that the file runs in seconds on a loaded machine.
"""

from __future__ import annotations

import contextlib
from typing import Any
from unittest import mock

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_batch.clients.armada.requests import submit_request
from airflow_provider_batch.clients.armada.spec import (
    JobSubmitRequestItem,
    as_job_request_item,
    build_job_request_item,
    parse_pod_spec,
)
from airflow_provider_batch.clients.qarnot.requests import submit_task
from airflow_provider_batch.clients.qarnot.storage import check_bucket_name, check_key
from airflow_provider_batch.clients.qarnot.types import ResourceBucket, TaskSpec
from airflow_provider_batch.common.errors import InvalidJobSpecError
from airflow_provider_batch.emulators.apolo.spec import _check_container
from airflow_provider_batch.emulators.armada.validation import validate_submit
from airflow_provider_batch.emulators.qarnot.store import checked_body
from airflow_provider_batch.emulators.qarnot.task_ops import TaskOps
from airflow_provider_batch.hooks.apolo import ApoloHook
from airflow_provider_batch.hooks.qarnot import QarnotHook
from airflow_provider_batch.operators.apolo import ApoloJobOperator
from airflow_provider_batch.operators.qarnot import QarnotOperator

SETTINGS = settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

# -- strategies: anything, and near-valid values that reach the deeper checks ---------------------------------

weird_text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=30) | st.sampled_from(
    ["", " ", "\x00", "a\nb", "64Mi\n", "../../etc", "x/..", "é", "🚀", "a" * 5000, "{{ ds }}", "default\n"]
)
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.sampled_from([10**400, -(10**30), 2**63, 2**64])
    | st.floats(allow_nan=True, allow_infinity=True)
    | weird_text
    | st.binary(max_size=8)
)
anything = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(weird_text, children, max_size=4),
    max_leaves=20,
)
quantities = st.from_regex(
    r"\A[+-]?[0-9.]{0,6}([eE][+-]?[0-9]{1,9}|Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?\Z"
) | st.sampled_from(
    ["1Ei", "8Ei", "9Ei", "1e9999999", "1e-9999999", "64Mi\n", "100m", "0.5", "1E", "1Ei ", ".5", "5.", "-1"]
)
valid_quantities = st.from_regex(r"\A[0-9]{1,4}(\.[0-9]{1,2})?(Ki|Mi|Gi|m|k|e[0-9])?\Z") | st.integers(0, 10**6)
dns_labels = st.from_regex(r"\A[a-z]([a-z0-9-]{0,8}[a-z0-9])?\Z")
names = st.from_regex(r"\A[a-z0-9-]{0,70}\Z") | weird_text | st.sampled_from(["main", "Main", "a_b", "-a", "a" * 64])


@st.composite
def pod_specs(draw: Any) -> Any:
    """A pod spec close enough to valid to reach the resource and name checks, with junk mixed in."""
    resource = st.dictionaries(st.sampled_from(["cpu", "memory", "nvidia.com/gpu"]), quantities | scalars, max_size=3)
    container = st.fixed_dictionaries(
        {"name": names, "image": st.just("busybox") | scalars},
        optional={"resources": st.fixed_dictionaries({}, optional={"requests": resource, "limits": resource})},
    )
    same = st.builds(
        lambda name, q: {"name": name, "image": "b", "resources": {"requests": {"cpu": q}, "limits": {"cpu": q}}},
        dns_labels | names,
        valid_quantities | quantities,
    )
    if draw(st.booleans()):  # near-valid: reaches the name, quantity and limits == requests checks
        return {"containers": draw(st.lists(same, min_size=1, max_size=2))}
    containers = st.lists(container | same | anything, max_size=3)
    spec = draw(
        st.fixed_dictionaries({"containers": containers}, optional={"extra": anything, "nodeSelector": anything})
    )
    if draw(st.booleans()):
        spec = draw(anything)
    return spec


def armada_kwargs() -> Any:
    return st.fixed_dictionaries(
        {},
        optional={
            "namespace": names | scalars,
            "priority": scalars,
            "client_id": weird_text | scalars,
            "labels": anything,
            "annotations": st.dictionaries(weird_text, weird_text | scalars, max_size=3) | anything,
            "required_node_labels": anything,
            "ingress": anything,
            "services": anything,
            "scheduler": scalars,
            "external_job_uri": scalars,
            "pod_specs": anything,
        },
    )


def _accepted_by_the_emulator(item: JobSubmitRequestItem) -> None:
    validate_submit(submit_request("queue", "job-set", [item]))


# -- Armada ----------------------------------------------------------------------------------------------------


@SETTINGS
@given(spec=pod_specs(), kwargs=armada_kwargs())
def test_armada_builder_returns_a_valid_item_or_refuses(spec: Any, kwargs: dict[str, Any]) -> None:
    kwargs.setdefault("namespace", "default")
    try:
        item = build_job_request_item(spec, **kwargs)
    except InvalidJobSpecError as error:
        assert error.field
        return
    assert isinstance(item, JobSubmitRequestItem)
    _accepted_by_the_emulator(item)


@SETTINGS
@given(text=weird_text | st.text(max_size=300) | st.from_regex(r"\A[\[\]{}:&*!|>\-a-z0-9 \n,\"']{0,200}\Z"))
def test_armada_yaml_input_parses_or_refuses(text: str) -> None:
    try:
        spec = parse_pod_spec(text)
    except InvalidJobSpecError as error:
        assert error.field == "pod_spec"
        return
    assert spec.DESCRIPTOR.full_name == "k8s.io.api.core.v1.PodSpec"


@SETTINGS
@given(item=anything | st.fixed_dictionaries({"pod_spec": pod_specs()}, optional={"namespace": names | scalars}))
def test_armada_dict_items_and_submit_requests_build_or_refuse(item: Any) -> None:
    try:
        built = as_job_request_item(item)
        request = submit_request("queue", "job-set", [built])
    except InvalidJobSpecError:
        return
    validate_submit(request)


@SETTINGS
@given(queue=scalars, job_set_id=scalars, items=anything)
def test_armada_submit_request_arguments_build_or_refuse(queue: Any, job_set_id: Any, items: Any) -> None:
    with contextlib.suppress(InvalidJobSpecError):
        submit_request(queue, job_set_id, items)


# -- Qarnot ----------------------------------------------------------------------------------------------------

qarnot_ranges = st.from_regex(r"\A[0-9]{1,6}(-[0-9]{1,6})?(,[0-9]{1,6}(-[0-9]{1,6})?){0,3}\Z") | weird_text
bucket_names = st.from_regex(r"\A[a-z0-9.-]{3,12}\Z") | weird_text


@SETTINGS
@given(
    kwargs=st.fixed_dictionaries(
        {},
        optional={
            "instance_count": scalars | st.integers(-5, 20_000),
            "instance_ranges": qarnot_ranges | scalars,
            "tags": st.lists(weird_text | scalars, max_size=4) | anything,
            "labels": anything,
            "constants": anything,
            "input_buckets": st.lists(bucket_names, max_size=3) | anything,
            "result_bucket": bucket_names | scalars,
            "input_files": st.dictionaries(bucket_names, st.just("a.csv") | anything, max_size=2) | anything,
            "name": weird_text | scalars,
            "scheduling_type": scalars | st.sampled_from(["Flex", "OnDemand"]),
            "max_retries_per_instance": scalars,
            "hardware_constraints": anything,
        },
    )
)
def test_qarnot_operator_builds_a_valid_task_or_refuses(kwargs: dict[str, Any]) -> None:
    hook = mock.MagicMock(spec=QarnotHook)
    ti = mock.MagicMock(dag_id="dag", task_id="task", run_id="run1", map_index=-1, try_number=1)
    with mock.patch.object(QarnotOperator, "hook", hook):
        try:
            request = QarnotOperator(task_id="t", profile="docker-batch", **kwargs).build_request({"ti": ti})
        except InvalidJobSpecError as error:
            assert error.field
            return
    body = checked_body(request.spec.to_json(), "task")
    TaskOps._instance_ids(None, body)  # type: ignore[arg-type]  # the emulator's instance checks accept it


@SETTINGS
@given(
    name=weird_text | scalars,
    count=scalars | st.integers(-5, 20_000),
    ranges=st.none() | qarnot_ranges,
    tags=st.lists(weird_text | scalars, max_size=3) | anything,
    bucket=bucket_names | scalars,
)
def test_qarnot_task_request_is_built_or_refused(name: Any, count: Any, ranges: Any, tags: Any, bucket: Any) -> None:
    try:
        spec = TaskSpec(
            name=name, profile="docker-batch", instance_count=count, advanced_ranges=ranges, tags=tags,
            resources=[ResourceBucket(bucket)], result_bucket=bucket,
        )  # fmt: skip
        request = submit_task(spec)
    except InvalidJobSpecError:
        return
    TaskOps._instance_ids(None, checked_body(request.body, "task"))  # type: ignore[arg-type]


@SETTINGS
@given(value=bucket_names | scalars | st.text(max_size=80))
def test_bucket_names_and_keys_are_checked_or_refused(value: Any) -> None:
    for check in (check_bucket_name, check_key):
        with contextlib.suppress(InvalidJobSpecError):
            assert check(value) == value


# -- Apolo -----------------------------------------------------------------------------------------------------


@SETTINGS
@given(
    kwargs=st.fixed_dictionaries(
        {"image": st.just("ubuntu:22.04") | scalars, "preset_name": st.just("cpu-small") | scalars},
        optional={
            "command": weird_text | st.lists(weird_text, max_size=3) | scalars | anything,
            "entrypoint": weird_text | scalars,
            "working_dir": weird_text | st.just("/app") | scalars,
            "env": anything,
            "secret_env": anything,
            "volumes": st.lists(weird_text, max_size=2) | anything,
            "tags": st.lists(weird_text, max_size=3) | anything,
            "name": weird_text | scalars,
            "description": weird_text | scalars,
            "life_span": scalars,
            "schedule_timeout": scalars,
            "priority": scalars,
            "http_port": scalars,
        },
    )
)
def test_apolo_operator_builds_a_valid_job_or_refuses(kwargs: dict[str, Any]) -> None:
    hook = mock.MagicMock(spec=ApoloHook)
    ti = mock.MagicMock(dag_id="dag", task_id="task", run_id="run1", map_index=-1, try_number=1)
    with mock.patch.object(ApoloJobOperator, "hook", hook):
        try:
            request = ApoloJobOperator(task_id="t", **kwargs).build_request({"ti": ti})
        except InvalidJobSpecError as error:
            assert error.field
            return
    container = {"image": request.image, "command": request.command, "entrypoint": request.entrypoint}
    container["working_dir"] = request.working_dir
    _check_container({k: v for k, v in container.items() if v is not None}, needs_resources=False)
