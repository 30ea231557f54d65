"""Build Armada job request items from a dict, a YAML string or a message, and refuse bad ones before sending.

Every refusal is an `InvalidJobSpecError` naming the field (e.g. `pod_spec.containers[0].resources.limits.cpu`)
and, where there is one, the fix. The checks are the ones a real Armada server makes at submit time, so a job that
passes here is not bounced by the server for its shape.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import yaml
from google.protobuf import json_format
from google.protobuf.message import Message

from airflow_provider_batch._proto.armada import submit_pb2
from airflow_provider_batch._proto.armada.k8s import core_v1_pb2, resource_pb2
from airflow_provider_batch.common.errors import InvalidJobSpecError

PodSpec = core_v1_pb2.PodSpec
JobSubmitRequestItem = submit_pb2.JobSubmitRequestItem

MAX_CLIENT_ID_LENGTH = 100
MAX_JOB_SET_ID_LENGTH = 1023
# Kubernetes quantity: a signed decimal number, then an optional binary (Ki..Ei) or decimal (n, u, m, k, M, ..., E)
# suffix, or a decimal exponent (e3, E-2).
_QUANTITY = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?\d+)?$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def parse_pod_spec(spec: PodSpec | Mapping[str, Any] | str, field: str = "pod_spec") -> PodSpec:
    """A PodSpec from a message, a dict (k8s camelCase keys) or a YAML/JSON string.

    A whole Pod manifest (`kind: Pod` with a `spec`) is accepted too and its spec used.
    """
    if isinstance(spec, Message):
        if spec.DESCRIPTOR.full_name != PodSpec.DESCRIPTOR.full_name:
            raise InvalidJobSpecError(field, f"expected a k8s.io.api.core.v1.PodSpec, got {spec.DESCRIPTOR.full_name}")
        if isinstance(spec, PodSpec):
            return spec
        return PodSpec.FromString(spec.SerializeToString())  # e.g. armada_client's own PodSpec class
    if isinstance(spec, str):
        try:
            loaded = yaml.safe_load(spec)
        except yaml.YAMLError as error:
            raise InvalidJobSpecError(field, f"is not valid YAML: {error}") from None
        if not isinstance(loaded, Mapping):
            raise InvalidJobSpecError(field, "YAML must hold a mapping (a pod spec with `containers`)")
        spec = loaded
    if not isinstance(spec, Mapping):
        raise InvalidJobSpecError(field, f"expected a dict, a YAML string or a PodSpec, got {type(spec).__name__}")
    if spec.get("kind") == "Pod" and isinstance(spec.get("spec"), Mapping):
        spec = spec["spec"]
    message = PodSpec()
    try:
        json_format.ParseDict(_k8s_json_to_proto(spec, PodSpec.DESCRIPTOR), message)
    except json_format.ParseError as error:
        raise InvalidJobSpecError(
            field, _explain_parse_error(str(error)), "see the Kubernetes PodSpec reference"
        ) from None
    return message


# Inline-embedded structs are proto fields named after their type, but for these.
_INLINE_NAMED_OTHERWISE = {("k8s.io.api.core.v1.Probe", "handler")}


def _k8s_json_to_proto(value: Any, descriptor: Any) -> Any:
    """Reshape Kubernetes JSON into the proto form of the same message.

    Three things differ between the two: a Go struct embedded inline (`secretKeyRef: {name, key}` holds a
    LocalObjectReference; a volume's `emptyDir` sits beside its `name`) is a field named after its type in the proto
    (`localObjectReference`, `volumeSource`; a probe's `handler`); a Quantity is a message with a `string` field; an
    IntOrString (a port) is {type, intVal | strVal}. Keys this does not know are left for ParseDict to reject.
    """
    name = descriptor.full_name
    if name == "k8s.io.apimachinery.pkg.api.resource.Quantity":
        return {"string": str(value)} if isinstance(value, (int, float, str)) and not isinstance(value, bool) else value
    if name == "k8s.io.apimachinery.pkg.util.intstr.IntOrString":
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            return value
        return {"type": 0, "intVal": value} if isinstance(value, int) else {"type": 1, "strVal": value}
    if not isinstance(value, Mapping):
        return value
    value = dict(value)
    for field in descriptor.fields:
        inner = field.message_type
        if inner is None or field.is_repeated or field.name in value:
            continue
        if field.name == inner.name[:1].lower() + inner.name[1:] or (name, field.name) in _INLINE_NAMED_OTHERWISE:
            moved = {key: value.pop(key) for key in list(value) if key in inner.fields_by_name}
            if moved:
                value[field.name] = moved
    out: dict[str, Any] = {}
    for key, item in value.items():
        field = descriptor.fields_by_name.get(key)
        inner = field.message_type if field is not None else None
        if inner is None:
            out[key] = item
        elif inner.GetOptions().map_entry:
            value_type = inner.fields_by_name["value"].message_type
            out[key] = (
                {k: _k8s_json_to_proto(v, value_type) for k, v in item.items()}
                if value_type is not None and isinstance(item, Mapping)
                else item
            )
        elif field is not None and field.is_repeated and isinstance(item, list):
            out[key] = [_k8s_json_to_proto(entry, inner) for entry in item]
        else:
            out[key] = _k8s_json_to_proto(item, inner)
    return out


def _explain_parse_error(text: str) -> str:
    match = re.search(r'has no field named "([^"]+)" at "([^"]+)"', text)
    if match:
        return f"unknown field {match.group(1)!r} at {match.group(2)}"
    return text


def build_job_request_item(
    pod_spec: PodSpec | Mapping[str, Any] | str | None = None,
    *,
    pod_specs: list[Any] | None = None,
    namespace: str | None = None,
    priority: float = 1.0,
    client_id: str | None = None,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
    required_node_labels: Mapping[str, str] | None = None,
    ingress: list[Any] | None = None,
    services: list[Any] | None = None,
    scheduler: str | None = None,
    external_job_uri: str | None = None,
    field: str = "job_request_item",
    spec_field: str = "pod_spec",
) -> JobSubmitRequestItem:
    """One validated JobSubmitRequestItem (see `validate_job_request_item` for what is checked).

    `field` is how errors name this item (e.g. `job_request_items[2]`; empty for none) and `spec_field` how they
    name the pod spec inside it.
    """
    if pod_spec is not None and pod_specs:
        raise InvalidJobSpecError("pod_spec", "give pod_spec or pod_specs, not both")
    specs = [parse_pod_spec(pod_spec, _path(field, spec_field))] if pod_spec is not None else []
    specs += [parse_pod_spec(spec, f"pod_specs[{i}]") for i, spec in enumerate(pod_specs or [])]
    item = JobSubmitRequestItem(
        priority=priority,
        namespace=namespace or "",
        client_id=client_id or "",
        labels=dict(labels or {}),
        annotations=dict(annotations or {}),
        required_node_labels=dict(required_node_labels or {}),
        pod_specs=specs,
        ingress=[_message(submit_pb2.IngressConfig, x, f"ingress[{i}]") for i, x in enumerate(ingress or [])],
        services=[_message(submit_pb2.ServiceConfig, x, f"services[{i}]") for i, x in enumerate(services or [])],
        scheduler=scheduler or "",
        external_job_uri=external_job_uri or "",
    )
    validate_job_request_item(item, field, spec_field=spec_field if pod_spec is not None else None)
    return item


def _message(cls: Any, value: Any, field: str) -> Any:
    if isinstance(value, Message):
        return cls.FromString(value.SerializeToString())
    try:
        return json_format.ParseDict(value, cls())
    except json_format.ParseError as error:
        raise InvalidJobSpecError(field, _explain_parse_error(str(error))) from None


def as_job_request_item(item: Any, field: str = "job_request_items[0]") -> JobSubmitRequestItem:
    """A validated JobSubmitRequestItem from ours, armada_client's, or a dict in the proto's field names."""
    if isinstance(item, Message):
        if item.DESCRIPTOR.full_name != "api.JobSubmitRequestItem":
            raise InvalidJobSpecError(field, f"expected an api.JobSubmitRequestItem, got {item.DESCRIPTOR.full_name}")
        if not isinstance(item, JobSubmitRequestItem):
            item = JobSubmitRequestItem.FromString(item.SerializeToString())
        validate_job_request_item(item, field)
        return item
    if isinstance(item, Mapping):
        fields = dict(item)
        pod = fields.pop("pod_spec", None)
        pods = fields.pop("pod_specs", None)
        unknown = set(fields) - set(JobSubmitRequestItem.DESCRIPTOR.fields_by_name)
        if unknown:
            raise InvalidJobSpecError(field, f"unknown field(s) {sorted(unknown)}")
        return build_job_request_item(pod, pod_specs=pods, field=field, **fields)
    raise InvalidJobSpecError(field, f"expected a JobSubmitRequestItem or a dict, got {type(item).__name__}")


def _path(*parts: str) -> str:
    return ".".join(part for part in parts if part)


def validate_job_set_id(queue: str, job_set_id: str) -> None:
    if not queue:
        raise InvalidJobSpecError("queue", "is empty", "name the Armada queue to submit to")
    if not job_set_id:
        raise InvalidJobSpecError("job_set_id", "is empty", "give the job set a name, e.g. the DAG run id")
    if len(job_set_id) > MAX_JOB_SET_ID_LENGTH:
        raise InvalidJobSpecError("job_set_id", f"is {len(job_set_id)} characters; Armada allows 1023 at most")


def validate_job_request_item(
    item: JobSubmitRequestItem, field: str = "job_request_item", spec_field: str | None = None
) -> None:
    """Refuse what a real Armada server would refuse at submit time, naming the field.

    `spec_field` names the pod spec as the author gave it (`pod_spec`), when it was moved into pod_specs.
    """
    if not item.namespace:
        raise InvalidJobSpecError(_path(field, "namespace"), "is empty", "set the Kubernetes namespace, e.g. 'default'")
    if not _DNS_LABEL.match(item.namespace):
        raise InvalidJobSpecError(_path(field, "namespace"), f"{item.namespace!r} is not a valid Kubernetes namespace")
    if len(item.client_id) > MAX_CLIENT_ID_LENGTH:
        raise InvalidJobSpecError(_path(field, "client_id"), f"is {len(item.client_id)} characters; at most 100")
    specs = list(item.pod_specs) + ([item.pod_spec] if item.HasField("pod_spec") else [])
    if len(specs) != 1:
        raise InvalidJobSpecError(_path(field, "pod_specs"), f"has {len(specs)} pod specs; Armada runs exactly one")
    if spec_field is None:
        spec_field = "pod_specs[0]" if item.pod_specs else "pod_spec"
    validate_pod_spec(specs[0], _path(field, spec_field))


def validate_pod_spec(spec: PodSpec, field: str = "pod_spec") -> None:
    if not spec.containers:
        raise InvalidJobSpecError(f"{field}.containers", "is empty", "a job needs at least one container")
    groups = [("containers", c) for c in spec.containers] + [("initContainers", c) for c in spec.initContainers]
    names: set[str] = set()
    for index, (kind, container) in enumerate(groups):
        where = f"{field}.{kind}[{index if kind == 'containers' else index - len(spec.containers)}]"
        if not container.name:
            raise InvalidJobSpecError(f"{where}.name", "is empty", "every container needs a name")
        if container.name in names:
            raise InvalidJobSpecError(f"{where}.name", f"{container.name!r} is used twice")
        names.add(container.name)
        _validate_resources(container.resources, f"{where}.resources")


def _validate_resources(resources: core_v1_pb2.ResourceRequirements, field: str) -> None:
    for kind in ("requests", "limits"):
        for name, quantity in getattr(resources, kind).items():
            check_quantity(quantity, f"{field}.{kind}.{name}")
    requests, limits = dict(resources.requests), dict(resources.limits)
    if not requests and not limits:
        raise InvalidJobSpecError(
            field,
            "sets no requests or limits",
            "Armada needs both, e.g. requests and limits of cpu: 100m, memory: 64Mi",
        )
    for name in sorted(set(requests) | set(limits)):
        if name not in requests:
            raise InvalidJobSpecError(f"{field}.requests.{name}", "is missing", f"set it equal to limits.{name}")
        if name not in limits:
            raise InvalidJobSpecError(f"{field}.limits.{name}", "is missing", f"set it equal to requests.{name}")
        if quantity_value(requests[name].string) != quantity_value(limits[name].string):
            raise InvalidJobSpecError(
                f"{field}.limits.{name}",
                f"{limits[name].string!r} differs from requests.{name} {requests[name].string!r}",
                "Armada requires limits equal to requests",
            )


_SUFFIX = {
    "Ki": Decimal(2**10), "Mi": Decimal(2**20), "Gi": Decimal(2**30), "Ti": Decimal(2**40), "Pi": Decimal(2**50),
    "Ei": Decimal(2**60), "n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "": Decimal(1),
    "k": Decimal("1e3"), "M": Decimal("1e6"), "G": Decimal("1e9"), "T": Decimal("1e12"), "P": Decimal("1e15"),
    "E": Decimal("1e18"),
}  # fmt: skip


def quantity_value(text: str) -> Decimal:
    """The value of a Kubernetes quantity, so that "1" and "1000m" compare equal."""
    match = _QUANTITY.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a Kubernetes quantity")
    suffix = match.group(3) or ""
    number = Decimal(text[: len(text) - len(suffix)] if suffix else text)
    if suffix[:1] in ("e", "E") and len(suffix) > 1:
        return number * Decimal(10) ** int(suffix[1:])
    return number * _SUFFIX[suffix]


def check_quantity(quantity: resource_pb2.Quantity, field: str) -> None:
    if not _QUANTITY.match(quantity.string):
        raise InvalidJobSpecError(field, f"{quantity.string!r} is not a Kubernetes quantity", "e.g. 500m, 2, 64Mi")
