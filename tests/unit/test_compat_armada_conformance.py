"""The original Armada API's documented signatures, from ONE table, checked against the compat modules.

Each row: the original module, the name (Class.method for methods), the documented parameters in order (a default,
or REQUIRED) and, where this provider differs on purpose, why. What a row checks:

- the name exists under `airflow_provider_batch.compat.<module>`;
- the documented parameters come first, in the documented order, with the documented defaults (a documented
  `**name` is a `**` parameter here too);
- a parameter this provider added comes after them and has a default (so every documented call binds as
  documented), keyword-only in the helpers (`utils`);
- a documented required parameter is required here, unless the row says why it is optional.

Sources: docs/python_armada_client.md and docs/python_airflow_operator.md of armadaproject/armada (the 0.4/0.5
Airflow operator and armada_client documentation), third_party/airflow/armada/operators/*.py of that era.
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass, field
from typing import Any

import pytest

REQUIRED = inspect.Parameter.empty


@dataclass(frozen=True)
class Doc:
    module: str
    name: str
    params: tuple[tuple[str, Any], ...]
    optional_here: dict[str, str] = field(default_factory=dict)  # documented required, optional here: why
    default_here: dict[str, tuple[Any, str]] = field(default_factory=dict)  # another default here: (it, why)
    added_keyword_only: bool = False


R = REQUIRED
SEARCH_DEFAULT = "default_job_status_callable"  # the function of that name in the same module
OPERATOR_OPTIONAL = {
    "armada_client": "a blocking task may name its endpoint with armada_channel_args instead (the 0.5 form)",
    "job_service_client": "a blocking task asks Armada directly; the job service client is kept, not needed",
    "armada_queue": "without it, the armada connection's default_queue",
    "job_request_items": "job_request (this provider's form) may replace it; one of them is required",
    "name": "task_id may be given instead; without task_id, name is the task_id",
}
DEFERRABLE_OPTIONAL = {
    "armada_channel_args": "without them, the armada_conn_id connection names the endpoint and token",
    "job_service_channel_args": "without them, the triggerer's embedded job-service cache",
    "armada_queue": OPERATOR_OPTIONAL["armada_queue"],
    "job_request_items": OPERATOR_OPTIONAL["job_request_items"],
    "name": OPERATOR_OPTIONAL["name"],
}
POLL = (None, "unset, [batch] default_poll_interval (10 s) applies, so one setting serves every operator")
CONNECTION_FREE = "without them, the trigger asks the embedded job-service cache; armada_default for cancelling"

TABLE: tuple[Doc, ...] = (
    # -- armada_client -------------------------------------------------------------------------------------------
    Doc("armada_client.client", "ArmadaClient", (("channel", R), ("max_workers", None))),
    Doc(
        "armada_client.client", "ArmadaClient.submit_jobs", (("queue", R), ("job_set_id", R), ("job_request_items", R))
    ),
    Doc("armada_client.client", "ArmadaClient.cancel_jobs", (("queue", None), ("job_id", None), ("job_set_id", None))),
    Doc(
        "armada_client.client",
        "ArmadaClient.reprioritize_jobs",
        (("new_priority", R), ("job_ids", None), ("job_set_id", None), ("queue", None)),
    ),
    Doc("armada_client.client", "ArmadaClient.create_queue", (("name", R), ("**queue_params", R))),
    Doc("armada_client.client", "ArmadaClient.update_queue", (("name", R), ("**queue_params", R))),
    Doc("armada_client.client", "ArmadaClient.delete_queue", (("name", R),)),
    Doc("armada_client.client", "ArmadaClient.get_queue", (("name", R),)),
    Doc("armada_client.client", "ArmadaClient.get_queue_info", (("name", R),)),
    Doc(
        "armada_client.client",
        "ArmadaClient.get_job_events_stream",
        (("queue", R), ("job_set_id", R), ("from_message_id", None)),
    ),
    Doc(
        "armada_client.client",
        "ArmadaClient.create_job_request",
        (("queue", R), ("job_set_id", R), ("job_request_items", R)),
    ),
    Doc(
        "armada_client.client",
        "ArmadaClient.create_job_request_item",
        (("pod_spec", R), ("priority", 1), ("**job_item_params", R)),
    ),
    Doc("armada_client.client", "ArmadaClient.unwatch_events", (("event_stream", R),)),
    Doc("armada_client.client", "ArmadaClient.unmarshal_event_response", (("event", R),)),
    Doc("armada_client.event", "Event", (("event", R),)),
    Doc("armada_client.permissions", "Permissions", (("subjects", R), ("verbs", R))),
    Doc("armada_client.permissions", "Permissions.to_grpc", ()),
    Doc("armada_client.permissions", "Subject", (("kind", R), ("name", R))),
    Doc("armada_client.permissions", "Subject.to_grpc", ()),
    # -- armada.operators ----------------------------------------------------------------------------------------
    Doc(
        "armada.operators.armada",
        "ArmadaOperator",
        (
            ("name", R),
            ("armada_client", R),
            ("job_service_client", R),
            ("armada_queue", R),
            ("job_request_items", R),
            ("lookout_url_template", None),
            ("poll_interval", 30),
            ("**kwargs", R),
        ),
        optional_here=OPERATOR_OPTIONAL,
        default_here={"poll_interval": POLL},
    ),
    Doc(
        "armada.operators.armada_deferrable",
        "ArmadaDeferrableOperator",
        (
            ("name", R),
            ("armada_channel_args", R),
            ("job_service_channel_args", R),
            ("armada_queue", R),
            ("job_request_items", R),
            ("lookout_url_template", None),
            ("poll_interval", 30),
            ("**kwargs", R),
        ),
        optional_here=DEFERRABLE_OPTIONAL,
        default_here={"poll_interval": POLL},
    ),
    Doc(
        "armada.operators.armada_deferrable",
        "ArmadaDeferrableOperator.resume_job_complete",
        (("context", R), ("event", R), ("job_id", R)),
        optional_here={
            "event": "Airflow passes it; optional like execute_complete's",
            "job_id": "the event names the job; `airflow dags test` drops defer kwargs",
        },
    ),
    Doc(
        "armada.operators.armada_deferrable",
        "ArmadaJobCompleteTrigger",
        (
            ("job_id", R),
            ("job_service_channel_args", R),
            ("armada_queue", R),
            ("job_set_id", R),
            ("airflow_task_name", R),
        ),
        optional_here={
            "job_service_channel_args": CONNECTION_FREE,
            "armada_queue": "the job reference (job=) may carry it",
            "job_set_id": "the job reference (job=) may carry it",
            "airflow_task_name": "only used in the event's message",
        },
    ),
    Doc("armada.operators.armada_deferrable", "ArmadaJobCompleteTrigger.serialize", ()),
    Doc(
        "armada.operators.grpc",
        "GrpcChannelArguments",
        (("target", R), ("credentials", None), ("options", None), ("compression", None)),
    ),
    Doc("armada.operators.grpc", "GrpcChannelArguments.channel", ()),
    Doc("armada.operators.grpc", "GrpcChannelArguments.aio_channel", ()),
    Doc("armada.operators.grpc", "GrpcChannelArguments.serialize", ()),
    Doc("armada.operators.jobservice", "JobServiceClient", (("channel", R),)),
    Doc(
        "armada.operators.jobservice",
        "JobServiceClient.get_job_status",
        (("queue", R), ("job_set_id", R), ("job_id", R)),
    ),
    Doc("armada.operators.jobservice", "JobServiceClient.health", ()),
    Doc(
        "armada.operators.jobservice",
        "get_retryable_job_service_client",
        (("target", R), ("credentials", None), ("compression", None)),
    ),
    Doc("armada.operators.jobservice_asyncio", "JobServiceAsyncIOClient", (("channel", R),)),
    Doc(
        "armada.operators.jobservice_asyncio",
        "JobServiceAsyncIOClient.get_job_status",
        (("queue", R), ("job_set_id", R), ("job_id", R)),
    ),
    Doc("armada.operators.jobservice_asyncio", "JobServiceAsyncIOClient.health", ()),
    Doc(
        "armada.operators.jobservice_asyncio",
        "get_retryable_job_service_asyncio_client",
        (("target", R), ("credentials", R), ("compression", R)),
    ),
    Doc(
        "armada.operators.utils",
        "airflow_error",
        (("job_state", R), ("name", R), ("job_id", R)),
        added_keyword_only=True,
    ),
    Doc("armada.operators.utils", "annotate_job_request_items", (("context", R), ("job_request_items", R))),
    Doc(
        "armada.operators.utils",
        "default_job_status_callable",
        (("armada_queue", R), ("job_set_id", R), ("job_id", R), ("job_service_client", R)),
    ),
    Doc("armada.operators.utils", "get_annotation_key_prefix", ()),
    Doc("armada.operators.utils", "job_state_from_pb", (("state", R),)),
    Doc(
        "armada.operators.utils",
        "search_for_job_complete",
        (
            ("armada_queue", R),
            ("job_set_id", R),
            ("airflow_task_name", R),
            ("job_id", R),
            ("job_service_client", None),
            ("job_status_callable", SEARCH_DEFAULT),
            ("time_out_for_failure", 7200),
        ),
        added_keyword_only=True,
    ),
    Doc(
        "armada.operators.utils",
        "search_for_job_complete_async",
        (
            ("armada_queue", R),
            ("job_set_id", R),
            ("airflow_task_name", R),
            ("job_id", R),
            ("job_service_client", R),
            ("log", R),
            ("time_out_for_failure", 7200),
        ),
        optional_here={"log": "without it, the module's logger (the trigger passes its own)"},
        added_keyword_only=True,
    ),
)
JOB_STATES = {
    "SUBMITTED": 0,
    "DUPLICATE_FOUND": 1,
    "RUNNING": 2,
    "FAILED": 3,
    "SUCCEEDED": 4,
    "CANCELLED": 5,
    "JOB_ID_NOT_FOUND": 6,
    "CONNECTION_ERR": 7,
}
CHANNEL_DICT_KEYS = ("target", "credentials", "options", "compression")


def resolve(doc: Doc) -> tuple[Any, Any]:
    """(the module, the documented object) under the compat prefix."""
    module = importlib.import_module(f"airflow_provider_batch.compat.{doc.module}")
    target: Any = module
    for part in doc.name.split("."):
        assert hasattr(target, part), f"{doc.module}.{doc.name}: {part} is missing"
        target = getattr(target, part)
    return module, target


def parameters(target: Any) -> list[inspect.Parameter]:
    if isinstance(target, type):
        init = target.__new__ if issubclass(target, tuple) else target.__init__
        signature = inspect.signature(init)
    else:
        signature = inspect.signature(target)
    return [p for p in signature.parameters.values() if p.name not in ("self", "cls", "_cls")]


def documented_name(param: inspect.Parameter) -> str:
    return f"**{param.name}" if param.kind is param.VAR_KEYWORD else param.name


@pytest.mark.parametrize("doc", TABLE, ids=[f"{d.module}.{d.name}" for d in TABLE])
def test_the_documented_signature(doc: Doc) -> None:
    module, target = resolve(doc)
    ours = parameters(target)
    documented = [name for name, _ in doc.params]
    if documented and documented[-1].startswith("**"):  # `**kwargs` stays last: what we added sits before it
        head = [p for p in ours if p.kind is not p.VAR_KEYWORD]
        assert [documented_name(p) for p in ours if p.kind is p.VAR_KEYWORD] == [documented[-1]], doc.name
        documented_head = doc.params[:-1]
    else:
        head = ours
        documented_head = doc.params
    names = [p.name for p in head]
    assert names[: len(documented_head)] == [name for name, _ in documented_head], f"{doc.name}: order {names}"
    for param, (name, default) in zip(head, documented_head, strict=False):
        assert param.kind in (param.POSITIONAL_OR_KEYWORD, param.POSITIONAL_ONLY), f"{name} is not positional"
        if default is REQUIRED:
            if name in doc.optional_here:
                continue
            assert param.default is REQUIRED, f"{doc.name}: {name} has a default here without a reason"
            continue
        expected = getattr(module, default) if default == SEARCH_DEFAULT else default
        if name in doc.default_here:
            expected = doc.default_here[name][0]
        assert param.default == expected, f"{doc.name}: {name} defaults to {param.default!r}, not {expected!r}"
    for extra in head[len(documented_head) :]:  # added by this provider
        assert extra.default is not REQUIRED, f"{doc.name}: the added {extra.name} has no default"
        if doc.added_keyword_only:
            assert extra.kind is extra.KEYWORD_ONLY, f"{doc.name}: the added {extra.name} is not keyword-only"
    for name in [*doc.optional_here, *doc.default_here]:
        assert name in documented, f"{doc.name}: the reason names {name}, which is not documented"


def test_every_difference_says_why() -> None:
    for doc in TABLE:
        reasons = [*doc.optional_here.values(), *(why for _, why in doc.default_here.values())]
        assert all(len(reason) > 20 for reason in reasons), doc.name


def test_the_documented_enum_and_typed_dict() -> None:
    from airflow_provider_batch.compat.armada.operators import utils
    from airflow_provider_batch.compat.armada.operators.grpc import GrpcChannelArgsDict

    assert {state.name: state.value for state in utils.JobState} == JOB_STATES
    assert set(CHANNEL_DICT_KEYS) <= set(GrpcChannelArgsDict.__annotations__)
    assert utils.ANNOTATION_KEY_PREFIX == "armadaproject.io/"


def test_the_documented_message_modules() -> None:
    from airflow_provider_batch.compat.armada_client.armada import submit_pb2
    from airflow_provider_batch.compat.armada_client.k8s.io.api.core.v1 import generated_pb2 as core_v1
    from airflow_provider_batch.compat.armada_client.k8s.io.apimachinery.pkg.api.resource import (
        generated_pb2 as resource,
    )

    for module, names in (
        (submit_pb2, ("JobSubmitRequestItem", "JobSubmitRequest", "Queue", "JobState", "CancellationResult")),
        (core_v1, ("PodSpec", "Container", "ResourceRequirements", "EnvVar", "Volume")),
        (resource, ("Quantity",)),
    ):
        missing = [name for name in names if not hasattr(module, name)]
        assert not missing, f"{module.__name__} lacks {missing}"
    assert submit_pb2.JobSubmitRequestItem.DESCRIPTOR.full_name == "api.JobSubmitRequestItem"
