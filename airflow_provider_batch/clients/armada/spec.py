"""Build Armada job request items from a dict, a YAML string or a message, and refuse bad ones before sending.

Every refusal is an `InvalidJobSpecError` naming the field (e.g. `pod_spec.containers[0].resources.limits.cpu`)
and, where there is one, the fix. The checks are the ones a real Armada server makes at submit time, so a job that
passes here is not bounced by the server for its shape.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from decimal import Context, Decimal, DecimalException
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
MAX_QUEUE_LENGTH = 1023
# Limits applied before a request is expanded or parsed, so that a hostile or broken document is refused fast.
MAX_YAML_BYTES = 1024 * 1024  # a YAML/JSON job request string
MAX_YAML_ALIASES = 100  # alias references (`*name`) in one YAML document: a "billion laughs" needs many
MAX_NESTING_DEPTH = 64  # nested mappings/lists in a dict, YAML or JSON request (a real pod spec needs about 10)
MAX_VALUES = 50_000  # values in one request, each alias expansion counted: bounds the work a small document causes
MAX_LABEL_LENGTH = 63 * 1024  # a label or annotation key/value, far above Kubernetes' own limits
MAX_QUANTITY_LENGTH = 64  # characters in one quantity ("64Mi"): more is never a real resource amount
MAX_QUANTITY_EXPONENT = 30  # |e| in "1e30"; Kubernetes keeps quantities within int64 milli-units anyway
MAX_QUANTITY_VALUE = Decimal(2**63 - 1)  # Kubernetes stores a quantity as an int64 (of milli-units at most)
# Kubernetes quantity: a signed decimal number, then an optional binary (Ki..Ei) or decimal (n, u, m, k, M, ..., E)
# suffix, or a decimal exponent (e3, E-2). Matched with fullmatch: "64Mi\n" is not a quantity.
_QUANTITY = re.compile(r"([+-]?(?:\d+(?:\.\d*)?|\.\d+))(Ki|Mi|Gi|Ti|Pi|Ei|[eE][+-]?\d+|n|u|m|k|M|G|T|P|E)?")
# A DNS-1123 label (namespaces, container names): at most 63 lowercase letters, digits and '-', alphanumeric ends.
_DNS_LABEL = re.compile(r"[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?")
_DNS_LABEL_FIX = "at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit"
# Decimal arithmetic wide enough for any quantity that passes the length and exponent bounds above.
_DECIMAL = Context(prec=200, Emax=10_000, Emin=-10_000)


class _BoundedLoader(yaml.SafeLoader):
    """A safe YAML loader that refuses documents with too many aliases or too deep a nesting, while composing
    (before anything is expanded), so a "billion laughs" or 20,000 nested brackets is refused fast."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._aliases = 0
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_YAML_ALIASES:
                raise _YamlLimit(f"uses more than {MAX_YAML_ALIASES} aliases (*name)", "write the values out")
        self._depth += 1
        try:
            if self._depth > MAX_NESTING_DEPTH:
                raise _YamlLimit(f"nests deeper than {MAX_NESTING_DEPTH} levels", "flatten the document")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


class _YamlLimit(Exception):
    def __init__(self, problem: str, fix: str) -> None:
        super().__init__(problem)
        self.problem = problem
        self.fix = fix


def load_yaml(text: str, field: str) -> Any:
    """A YAML (or JSON) document, within MAX_YAML_BYTES, MAX_YAML_ALIASES and MAX_NESTING_DEPTH."""
    if len(text) > MAX_YAML_BYTES or len(text.encode("utf-8", "surrogatepass")) > MAX_YAML_BYTES:
        raise InvalidJobSpecError(field, f"is larger than {MAX_YAML_BYTES} bytes", "a pod spec is a few kilobytes")
    loader = None
    try:
        loader = _BoundedLoader(text)  # the reader refuses some characters (e.g. "\x1f") already here
        return loader.get_single_data()
    except _YamlLimit as limit:
        raise InvalidJobSpecError(field, f"YAML {limit.problem}", limit.fix) from None
    except yaml.YAMLError as error:
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise InvalidJobSpecError(field, f"is not valid YAML: {first}", "check the indentation and quoting") from None
    except (RecursionError, ValueError, TypeError, OverflowError) as error:  # e.g. a timestamp out of range
        raise InvalidJobSpecError(field, f"is not valid YAML: {type(error).__name__}: {error}") from None
    finally:
        if loader is not None:
            loader.dispose()


def check_depth(value: Any, field: str, limit: int = MAX_NESTING_DEPTH) -> None:
    """Refuse a dict/list nested deeper than `limit` (or holding itself), or with more than MAX_VALUES values once
    shared parts (YAML aliases) are counted each time they appear; without recursion."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    seen = 0
    while stack:
        item, depth = stack.pop()
        seen += 1
        if seen > MAX_VALUES:
            raise InvalidJobSpecError(field, f"holds more than {MAX_VALUES} values", "a pod spec needs far fewer")
        if isinstance(item, Mapping):
            children: Any = item.values()
        elif isinstance(item, (list, tuple)):
            children = item
        else:
            continue
        if depth > limit:
            raise InvalidJobSpecError(field, f"nests deeper than {limit} levels", "flatten the request")
        stack.extend((child, depth + 1) for child in children)


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
        loaded = load_yaml(spec, field)
        if not isinstance(loaded, Mapping):
            raise InvalidJobSpecError(field, "YAML must hold a mapping (a pod spec with `containers`)")
        spec = loaded
    if not isinstance(spec, Mapping):
        raise InvalidJobSpecError(field, f"expected a dict, a YAML string or a PodSpec, got {type(spec).__name__}")
    check_depth(spec, field)
    if spec.get("kind") == "Pod" and isinstance(spec.get("spec"), Mapping):
        spec = spec["spec"]
    message = PodSpec()
    try:
        json_format.ParseDict(_k8s_json_to_proto(spec, PodSpec.DESCRIPTOR), message)
    except json_format.ParseError as error:
        raise InvalidJobSpecError(
            field, _explain_parse_error(str(error)), "see the Kubernetes PodSpec reference"
        ) from None
    except (TypeError, ValueError, AttributeError, KeyError, OverflowError, RecursionError) as error:
        # ParseDict's own checks miss some shapes (a non-string key, a list where a map belongs)
        raise InvalidJobSpecError(
            field, f"does not fit the PodSpec ({type(error).__name__}: {error})", "see the Kubernetes PodSpec reference"
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
    pod_specs = _list(pod_specs, _path(field, "pod_specs"))
    specs += [parse_pod_spec(spec, _path(field, f"pod_specs[{i}]")) for i, spec in enumerate(pod_specs)]
    ingress = _list(ingress, _path(field, "ingress"))
    services = _list(services, _path(field, "services"))
    try:
        item = JobSubmitRequestItem(
            priority=check_priority(priority, _path(field, "priority")),
            namespace=_string(namespace, _path(field, "namespace")),
            client_id=_string(client_id, _path(field, "client_id")),
            labels=check_string_map(labels, _path(field, "labels")),
            annotations=check_string_map(annotations, _path(field, "annotations")),
            required_node_labels=check_string_map(required_node_labels, _path(field, "required_node_labels")),
            pod_specs=specs,
            ingress=[
                _message(submit_pb2.IngressConfig, x, _path(field, f"ingress[{i}]")) for i, x in enumerate(ingress)
            ],
            services=[
                _message(submit_pb2.ServiceConfig, x, _path(field, f"services[{i}]")) for i, x in enumerate(services)
            ],
            scheduler=_string(scheduler, _path(field, "scheduler")),
            external_job_uri=_string(external_job_uri, _path(field, "external_job_uri")),
        )
    except (TypeError, ValueError) as error:  # a shape the checks above missed: still a refusal, not a crash
        if isinstance(error, InvalidJobSpecError):
            raise
        raise InvalidJobSpecError(field or "job_request", f"does not fit a JobSubmitRequestItem ({error})") from None
    validate_job_request_item(item, field, spec_field=spec_field if pod_spec is not None else None)
    return item


def _list(value: Any, field: str) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, (list, tuple)):
        raise InvalidJobSpecError(field, f"is a {type(value).__name__}", "give a list")
    return list(value)


def _string(value: Any, field: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidJobSpecError(field, f"is a {type(value).__name__}, not a string", "give a string")
    if "\x00" in value:
        raise InvalidJobSpecError(field, "holds a NUL character", "remove it")
    return value


def check_priority(value: Any, field: str = "priority") -> float:
    """The job's priority within its queue: a finite number >= 0 (lower runs first)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidJobSpecError(field, f"{value!r} is not a number", "give a number >= 0, e.g. 1.0")
    try:
        number = float(value)
    except OverflowError:
        raise InvalidJobSpecError(field, f"{value!r} is too large", "give a number >= 0, e.g. 1.0") from None
    if not math.isfinite(number) or number < 0:
        raise InvalidJobSpecError(field, f"{value!r} is not a finite number >= 0", "e.g. 1.0")
    return number


def check_string_map(value: Any, field: str) -> dict[str, str]:
    """A dict of string keys to string values (labels, annotations, node selectors)."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidJobSpecError(field, f"is a {type(value).__name__}", 'give a dict of strings, e.g. {"team": "ml"}')
    out: dict[str, str] = {}
    for key, item in value.items():
        if not isinstance(key, str) or not isinstance(item, str):
            raise InvalidJobSpecError(
                f"{field}.{key}" if isinstance(key, str) else field,
                f"{key!r}: {type(item).__name__} is not a string key and value",
                'quote numbers and booleans, e.g. {"tier": "1"}',
            )
        if not key or len(key) > MAX_LABEL_LENGTH or len(item) > MAX_LABEL_LENGTH or "\x00" in key + item:
            raise InvalidJobSpecError(
                f"{field}.{key[:40]}", "is empty, too long or holds a NUL", f"keys 1 to {MAX_LABEL_LENGTH} characters"
            )
        out[key] = item
    return out


def _message(cls: Any, value: Any, field: str) -> Any:
    if isinstance(value, Message):
        if value.DESCRIPTOR.full_name != cls.DESCRIPTOR.full_name:
            raise InvalidJobSpecError(field, f"expected a {cls.DESCRIPTOR.full_name}, got {value.DESCRIPTOR.full_name}")
        return cls.FromString(value.SerializeToString())
    if not isinstance(value, Mapping):
        raise InvalidJobSpecError(field, f"is a {type(value).__name__}", "give a dict in the proto's field names")
    check_depth(value, field)
    try:
        return json_format.ParseDict(dict(value), cls())
    except json_format.ParseError as error:
        raise InvalidJobSpecError(field, _explain_parse_error(str(error))) from None
    except (TypeError, ValueError, AttributeError, KeyError, OverflowError, RecursionError) as error:
        raise InvalidJobSpecError(field, f"does not fit {cls.DESCRIPTOR.name} ({type(error).__name__})") from None


_ITEM_FIELDS = frozenset(JobSubmitRequestItem.DESCRIPTOR.fields_by_name)


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
        check_depth(item, field)
        fields = dict(item)
        pod = fields.pop("pod_spec", None)
        pods = fields.pop("pod_specs", None)
        unknown = [key for key in fields if not isinstance(key, str) or key not in _ITEM_FIELDS]
        if unknown:
            raise InvalidJobSpecError(
                field, f"unknown field(s) {sorted(map(repr, unknown))}", f"use only {sorted(_ITEM_FIELDS)}"
            )
        return build_job_request_item(pod, pod_specs=pods, field=field, **fields)
    raise InvalidJobSpecError(field, f"expected a JobSubmitRequestItem or a dict, got {type(item).__name__}")


def _path(*parts: str) -> str:
    return ".".join(part for part in parts if part)


def validate_job_set_id(queue: str, job_set_id: str) -> None:
    """Refuse an empty, non-string or oversized queue or job set id."""
    for name, value in (("queue", queue), ("job_set_id", job_set_id)):
        if value is not None and not isinstance(value, str):
            raise InvalidJobSpecError(name, f"is a {type(value).__name__}, not a string", "give a string")
        if value and "\x00" in value:
            raise InvalidJobSpecError(name, "holds a NUL character", "remove it")
    if not queue:
        raise InvalidJobSpecError("queue", "is empty", "name the Armada queue to submit to")
    if len(queue) > MAX_QUEUE_LENGTH:
        raise InvalidJobSpecError("queue", f"is {len(queue)} characters", f"at most {MAX_QUEUE_LENGTH}")
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
    if not _DNS_LABEL.fullmatch(item.namespace):
        raise InvalidJobSpecError(
            _path(field, "namespace"), f"{item.namespace[:80]!r} is not a valid Kubernetes namespace", _DNS_LABEL_FIX
        )
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
        if not _DNS_LABEL.fullmatch(container.name):
            raise InvalidJobSpecError(
                f"{where}.name", f"{container.name[:80]!r} is not a DNS-1123 label", _DNS_LABEL_FIX
            )
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


_BINARY = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_DECIMAL_SUFFIX = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}


def quantity_value(text: str) -> Decimal:
    """The value of a Kubernetes quantity, so that "1" and "1000m" compare equal.

    ValueError (an InvalidJobSpecError naming `quantity`) for a string Kubernetes would refuse or cannot hold.
    """
    return _quantity(text, "quantity")


def _quantity(text: Any, field: str) -> Decimal:
    fix = "e.g. 500m, 2, 64Mi, 1Gi"
    if not isinstance(text, str):
        raise InvalidJobSpecError(field, f"{text!r} is not a Kubernetes quantity", fix)
    if len(text) > MAX_QUANTITY_LENGTH:
        raise InvalidJobSpecError(field, f"is {len(text)} characters, not a Kubernetes quantity", fix)
    match = _QUANTITY.fullmatch(text)
    if not match:
        raise InvalidJobSpecError(field, f"{text!r} is not a Kubernetes quantity", fix)
    number, suffix = match.group(1), match.group(2) or ""
    try:
        value = Decimal(number)
        if suffix in _BINARY:
            value = _DECIMAL.multiply(value, Decimal(1024 ** _BINARY[suffix]))
        else:
            exponent = _DECIMAL_SUFFIX[suffix] if suffix in _DECIMAL_SUFFIX else int(suffix[1:])
            if abs(exponent) > MAX_QUANTITY_EXPONENT:
                raise InvalidJobSpecError(
                    field, f"{text!r} is out of range", f"keep the exponent within ±{MAX_QUANTITY_EXPONENT}"
                )
            value = value.scaleb(exponent, _DECIMAL)
    except (DecimalException, ValueError) as error:
        if isinstance(error, InvalidJobSpecError):
            raise
        raise InvalidJobSpecError(field, f"{text!r} is out of range", fix) from None
    if value < 0:
        raise InvalidJobSpecError(field, f"{text!r} is negative", "a resource amount must be >= 0")
    if value > MAX_QUANTITY_VALUE:
        raise InvalidJobSpecError(field, f"{text!r} is too large for Kubernetes", "at most 2^63-1 (about 8Ei)")
    return value


def check_quantity(quantity: resource_pb2.Quantity, field: str) -> None:
    _quantity(quantity.string, field)
