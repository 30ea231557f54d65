"""One test per bad job request of issue 12 that crashed (or was submitted) instead of being refused.

Each used to raise something other than InvalidJobSpecError (ValueError, decimal.Overflow, TypeError from protobuf,
RecursionError), to pass a check it should fail, or to be classed as a retryable storage error.
"""

from __future__ import annotations

import json
import time
from typing import Any
from unittest import mock

import pytest
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_batch.clients.armada.spec import (
    MAX_YAML_BYTES,
    build_job_request_item,
    parse_pod_spec,
    quantity_value,
)
from airflow_provider_batch.clients.qarnot.errors import QarnotError
from airflow_provider_batch.clients.qarnot.requests import submit_task
from airflow_provider_batch.clients.qarnot.storage import QarnotStorage
from airflow_provider_batch.clients.qarnot.types import TaskSpec
from airflow_provider_batch.common.errors import InvalidJobSpecError
from airflow_provider_batch.common.jobref import JobRef
from airflow_provider_batch.hooks.apolo import ApoloHook
from airflow_provider_batch.hooks.armada import ArmadaHook
from airflow_provider_batch.hooks.qarnot import QarnotHook
from airflow_provider_batch.operators.apolo import ApoloJobOperator
from airflow_provider_batch.operators.armada import ArmadaOperator
from airflow_provider_batch.operators.qarnot import QarnotOperator

CMD = {"DOCKER_REPO": "library/alpine", "DOCKER_CMD": "true"}


def pod(memory: Any = "64Mi", name: str = "main") -> dict[str, Any]:
    resources = {"requests": {"cpu": "100m", "memory": memory}, "limits": {"cpu": "100m", "memory": memory}}
    return {"containers": [{"name": name, "image": "busybox", "resources": resources}]}


def context() -> dict[str, Any]:
    ti = mock.MagicMock(dag_id="dag", task_id="task", run_id="run1", map_index=-1, try_number=1)
    return {"ti": ti, "run_id": "run1"}


# -- Armada: quantities ----------------------------------------------------------------------------------------


def test_1ei_is_a_valid_quantity_not_a_value_error():
    item = build_job_request_item(pod("1Ei"), namespace="default")
    assert item.pod_specs[0].containers[0].resources.limits["memory"].string == "1Ei"
    assert quantity_value("1Ei") == 2**60


@pytest.mark.parametrize("memory", ["1e9999999", "1e-9999999", "9Ei", "1" * 70, "-1Gi"])
def test_huge_tiny_or_negative_quantities_are_refused_not_overflowing(memory):
    with pytest.raises(InvalidJobSpecError) as raised:
        build_job_request_item(pod(memory), namespace="default")
    assert raised.value.field.endswith("resources.requests.memory")


@pytest.mark.parametrize("memory", ["64Mi\n", "64Mi ", " 64Mi", "64Mi\x00"])
def test_a_quantity_with_a_trailing_newline_is_refused(memory):
    with pytest.raises(InvalidJobSpecError, match="is not a Kubernetes quantity"):
        build_job_request_item(pod(memory), namespace="default")


def test_a_quantity_refused_by_value_is_still_an_invalid_job_spec_error():
    with pytest.raises(InvalidJobSpecError):
        quantity_value("1e9999999")


# -- Armada: types ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"priority": "high"}, "priority"),
        ({"priority": float("nan")}, "priority"),
        ({"labels": [1, 2]}, "labels"),
        ({"labels": {"a": 1}}, "labels.a"),
        ({"annotations": {1: "x"}}, "annotations"),
        ({"namespace": 3}, "namespace"),
        ({"client_id": 5}, "client_id"),
        ({"namespace": "default\n"}, "namespace"),
        ({"pod_specs": "not a list"}, "pod_specs"),
        ({"ingress": [1]}, "ingress[0]"),
    ],
)
def test_wrong_types_are_refused_not_a_protobuf_type_error(kwargs, field):
    kwargs = {"namespace": "default", **kwargs}
    spec = None if "pod_specs" in kwargs else pod()
    with pytest.raises(InvalidJobSpecError) as raised:
        build_job_request_item(spec, field="", **kwargs)
    assert raised.value.field == field


@pytest.mark.parametrize(
    "kwargs",
    [{"priority": "high"}, {"labels": [1, 2]}, {"labels": {"a": 1}}, {"namespace": 3}, {"annotations": "x"}],
)
def test_operator_refuses_wrong_types_at_dag_parse_time(kwargs):
    with pytest.raises(InvalidJobSpecError):
        ArmadaOperator(task_id="t", job_request=pod(), queue="q", **kwargs)


@pytest.mark.parametrize("name", ["Main", "main_1", "-main", "a" * 64, "main\n", "mäin"])
def test_a_container_name_that_is_not_a_dns_1123_label_is_refused(name):
    with pytest.raises(InvalidJobSpecError, match="is not a DNS-1123 label") as raised:
        build_job_request_item(pod(name=name), namespace="default")
    assert raised.value.field.endswith("containers[0].name")


# -- Armada: limits before expansion ---------------------------------------------------------------------------


def test_20000_nested_brackets_are_refused_not_a_recursion_error():
    with pytest.raises(InvalidJobSpecError, match="nests deeper than 64 levels"):
        parse_pod_spec("[" * 20_000)
    with pytest.raises(InvalidJobSpecError, match="nests deeper than 64 levels"):
        parse_pod_spec("{containers: " + "[" * 20_000 + "]" * 20_000 + "}")


def test_deep_dict_and_json_input_is_refused():
    deep: Any = {}
    for _ in range(20_000):
        deep = {"a": deep}
    with pytest.raises(InvalidJobSpecError, match="nests deeper"):
        parse_pod_spec({"containers": [], "x": deep})
    nested_json = '{"containers": [], "x": ' + "[" * 70 + "]" * 70 + "}"
    json.loads(nested_json)
    with pytest.raises(InvalidJobSpecError, match="nests deeper"):
        parse_pod_spec(nested_json)


def test_a_dict_holding_itself_is_refused():
    spec: dict[str, Any] = {"containers": []}
    spec["loop"] = spec
    with pytest.raises(InvalidJobSpecError, match="nests deeper"):
        parse_pod_spec(spec)


def test_a_billion_laughs_yaml_is_refused_fast():
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for index in range(1, 10):
        previous, name = chr(ord("a") + index - 1), chr(ord("a") + index)
        lines.append(f"{name}: &{name} [" + ",".join([f"*{previous}"] * 12) + "]")
    started = time.monotonic()
    with pytest.raises(InvalidJobSpecError, match="uses more than 100 aliases"):
        parse_pod_spec("\n".join(lines))
    assert time.monotonic() - started < 2


def test_a_yaml_request_over_1_mib_is_refused_before_parsing():
    with pytest.raises(InvalidJobSpecError, match=f"larger than {MAX_YAML_BYTES} bytes"):
        parse_pod_spec("containers: []\n" + "#" * MAX_YAML_BYTES)


def test_yaml_the_reader_refuses_is_an_invalid_job_spec_error():
    with pytest.raises(InvalidJobSpecError, match="is not valid YAML"):
        parse_pod_spec("\x1f")


# -- Qarnot ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("count", [0, -1, 10_001, 10**12, True, "4", 2.5])
def test_qarnot_instance_count_out_of_range_is_refused_at_parse_time(count):
    with pytest.raises(InvalidJobSpecError) as raised:
        QarnotOperator(task_id="t", profile="docker-batch", constants=CMD, instance_count=count)
    assert raised.value.field == "instance_count"


@pytest.mark.parametrize(
    ("ranges", "words"),
    [("0-20000", "more than 10000 instances"), ("3,1", "must be increasing"), ("0-3\n", "is not a list of ids")],
)
def test_qarnot_instance_ranges_are_refused_like_the_emulator(ranges, words):
    spec = TaskSpec("n", profile="docker-batch", instance_count=None, advanced_ranges=ranges)
    with pytest.raises(InvalidJobSpecError, match=words):
        submit_task(spec)


@pytest.mark.parametrize("tag", ["bad\x00tag", "x" * 5000, "", "new\nline", 7])
def test_qarnot_tags_with_nul_control_characters_or_5000_characters_are_refused(tag):
    with pytest.raises(InvalidJobSpecError) as raised:
        QarnotOperator(task_id="t", profile="docker-batch", constants=CMD, tags=[tag])
    assert raised.value.field.startswith("tags")
    with pytest.raises(InvalidJobSpecError):
        submit_task(TaskSpec("n", profile="docker-batch", tags=[tag]))


@pytest.mark.parametrize("bucket", ["../../etc", "UPPER", "a", "a_b", "a..b", "192.168.0.1", "x" * 64])
def test_qarnot_bad_bucket_names_are_refused_before_any_call_and_never_transient(bucket):
    storage = QarnotStorage("http://127.0.0.1:9", "me@example.com", "t")
    storage._s3 = mock.MagicMock()
    for call in (
        lambda: storage.create_bucket(bucket),
        lambda: storage.retrieve_bucket(bucket),
        lambda: storage.list_files(bucket),
        lambda: storage.add_string(bucket, "k", "v"),
    ):
        with pytest.raises(InvalidJobSpecError, match=r"is not a valid bucket name|is an IP address") as raised:
            call()
        assert not getattr(raised.value, "retryable", False)
    assert storage._s3.mock_calls == []
    with pytest.raises(InvalidJobSpecError, match="result_bucket"):
        QarnotOperator(task_id="t", profile="docker-batch", constants=CMD, result_bucket=bucket).build_request(
            context()
        )


@pytest.mark.parametrize("key", ["x/..", "../etc/passwd", "/abs", "a\x00b", "k" * 1025, ""])
def test_qarnot_bad_keys_are_refused_before_any_call(key):
    storage = QarnotStorage("http://127.0.0.1:9", "me@example.com", "t")
    storage._s3 = mock.MagicMock()
    with pytest.raises(InvalidJobSpecError) as raised:
        storage.read_string("my-bucket", key)
    assert raised.value.field == "key"
    assert storage._s3.mock_calls == []


def test_a_bucket_key_with_a_dotdot_segment_is_not_downloaded(tmp_path):
    storage = QarnotStorage("http://127.0.0.1:9", "me@example.com", "t")
    storage._s3 = mock.MagicMock()
    storage._s3.list_objects_v2.return_value = {"Contents": [{"Key": "a/../b"}]}
    with pytest.raises(QarnotError, match="unsafe key") as raised:
        storage.download_folder("my-bucket", tmp_path)
    assert not raised.value.retryable
    storage._s3.download_file.assert_not_called()


# -- Apolo -----------------------------------------------------------------------------------------------------


@pytest.fixture
def apolo_hook(monkeypatch):
    fake = mock.MagicMock(spec=ApoloHook)
    monkeypatch.setattr(ApoloJobOperator, "hook", fake)
    return fake


@pytest.mark.parametrize(
    ("kwargs", "field", "words"),
    [
        ({"command": 'echo "unclosed'}, "command", "invalid command format"),
        ({"command": "echo trailing\\"}, "command", "invalid command format"),
        ({"entrypoint": "sh -c 'x"}, "entrypoint", "invalid command format"),
        ({"working_dir": "relative/dir"}, "working_dir", "does not match pattern /.*"),
        ({"life_span": float("nan")}, "life_span", "is not a number of seconds"),
        ({"life_span": float("inf")}, "life_span", "is not a number of seconds"),
        ({"name": ["not", "a", "string"]}, "name", "is not a string"),
    ],
)
def test_apolo_refuses_what_platform_api_refuses_before_submitting(apolo_hook, kwargs, field, words):
    op = ApoloJobOperator(task_id="t", image="ubuntu:22.04", preset_name="cpu-small", **kwargs)
    with pytest.raises(InvalidJobSpecError, match=words) as raised:
        op.build_request(context())
    assert raised.value.field == field
    apolo_hook.submit_job.assert_not_called()


@pytest.mark.parametrize("kwargs", [{"env": ["A=1"]}, {"tags": "one-tag"}, {"volumes": {"a": "b"}}])
def test_apolo_refuses_wrong_argument_types_at_parse_time(kwargs):
    with pytest.raises(InvalidJobSpecError):
        ApoloJobOperator(task_id="t", image="ubuntu:22.04", preset_name="cpu-small", **kwargs)


# -- run-time refusals fail the task once ----------------------------------------------------------------------


def test_a_client_side_refusal_at_submit_time_fails_the_task_once(monkeypatch):
    """An InvalidJobSpecError raised past build_request (here by the storage checks at upload) is not retried."""
    fake = mock.MagicMock(spec=QarnotHook)
    fake.find_jobs.return_value = []
    fake.submit_job.side_effect = InvalidJobSpecError("key", "'x/..' has a '..' segment")
    monkeypatch.setattr(QarnotOperator, "hook", fake)
    with pytest.raises(AirflowFailException, match=r"Invalid job request: key: 'x/\.\.' has a '\.\.' segment"):
        QarnotOperator(task_id="t", profile="docker-batch", constants=CMD).execute(context())


def test_an_armada_run_time_type_error_is_a_refusal_that_fails_once(monkeypatch):
    """A callable job_request returning a bad value at run time fails the task once (not a retried TypeError)."""
    fake = mock.MagicMock(spec=ArmadaHook)
    fake.settings = mock.Mock(default_queue="q")
    monkeypatch.setattr(ArmadaOperator, "hook", fake)
    op = ArmadaOperator(task_id="t", job_request=lambda context: pod("1e9999999"), queue="q")
    with pytest.raises(AirflowFailException, match="Invalid job request"):
        op.execute(context())
    fake.submit_job.assert_not_called()
    assert JobRef  # the job identity type the hook would have returned is untouched


def test_shared_parts_within_the_alias_budget_are_still_bounded():
    """Few aliases can still expand a lot (9 levels of 9): the values are counted as expanded and refused."""
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for index in range(1, 9):
        previous, name = chr(ord("a") + index - 1), chr(ord("a") + index)
        lines.append(f"{name}: &{name} [" + ",".join([f"*{previous}"] * 9) + "]")
    started = time.monotonic()
    with pytest.raises(InvalidJobSpecError, match="holds more than 50000 values"):
        parse_pod_spec("\n".join(lines))
    assert time.monotonic() - started < 2


def test_arguments_boto3_refuses_are_not_a_transient_network_error():
    from botocore.exceptions import ParamValidationError

    from airflow_provider_batch.clients.qarnot.storage import storage_error

    error = storage_error("put b/k", ParamValidationError(report="Invalid bucket name"))
    assert type(error) is QarnotError and not error.retryable
