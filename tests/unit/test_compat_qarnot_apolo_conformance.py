"""The Qarnot and Apolo SDKs' documented surfaces, from ONE table, checked against the compat objects, and (a
sanity check of the table itself) against the real SDKs installed for the tests (qarnot 2.23.0, apolo-sdk 26.9.0).

Each row: the original module, the name (Class.method, or Class for its constructor), the documented parameters in
order with their defaults (REQUIRED when none; "*" marks where keyword-only ones start), or PROPERTY, or the fields of
a dataclass (FIELDS, read and built by name: order is not part of their contract), or ABSENT with the reason it is
left out. What a row checks:

- the name exists under `airflow_provider_batch.compat.<module>` (an ABSENT one does not: a missing feature must not
  pass for a present one);
- the documented parameters come first, in order, with the documented kinds and defaults; a parameter this provider
  added comes after them, has a default and is keyword-only;
- the real SDK's signature has the same documented parameters (names, order, kinds, defaults), except where the row
  says why it differs.

Sources: qarnot-sdk-python's documentation (qarnot.readthedocs.io: Connection, Job) and the sources of the version
pinned for the tests; apolo-sdk's reference documentation (Jobs, JobDescription, JobStatus, StdStream, Message).
"""

from __future__ import annotations

import dataclasses
import enum
import importlib
import inspect
from dataclasses import dataclass, field
from typing import Any

import pytest

REQUIRED = inspect.Parameter.empty
R = REQUIRED
KW = ("*", None)  # the keyword-only parameters start here
PROPERTY = "property"


@dataclass(frozen=True)
class Doc:
    module: str  # the original module (compat: airflow_provider_batch.compat.<module>)
    name: str
    params: tuple[tuple[str, Any], ...] | str = ()  # parameters, or PROPERTY
    fields: dict[str, Any] | None = None  # a dataclass: field -> documented default (REQUIRED when none)
    absent: str = ""  # left out: why
    sdk_module: str = ""  # where the real SDK has it, when not `module`
    optional_here: dict[str, str] = field(default_factory=dict)  # documented required, defaulted here: why


QARNOT_FILTERS = (("tags", None), ("tags_intersect", None))
APOLO_STREAMS = (KW, ("tty", False), ("stdin", False), ("stdout", False), ("stderr", False), ("cluster_name", None))
BUILT_FROM_JSON = "the client builds it from the API's JSON, where the key may be missing: a default here"

TABLE: tuple[Doc, ...] = (
    # -- qarnot.connection.Connection ---------------------------------------------------------------------------
    Doc(
        "qarnot.connection",
        "Connection",
        (
            ("fileconf", None),
            ("client_token", None),
            ("cluster_url", None),
            ("cluster_unsafe", False),
            ("cluster_timeout", None),
            ("storage_url", None),
            ("storage_unsafe", False),
            ("retry_count", 5),
            ("retry_wait", 1.0),
            ("cluster_custom_certificate", None),
            ("storage_custom_certificate", None),
            ("sanitize_bucket_paths", True),
            ("show_bucket_warnings", True),
            ("logger", None),
        ),
    ),
    Doc("qarnot.connection", "Connection.s3client", PROPERTY),
    Doc("qarnot.connection", "Connection.s3resource", PROPERTY),
    Doc("qarnot.connection", "Connection.user_info", PROPERTY),
    Doc("qarnot.connection", "Connection.buckets", ()),
    Doc("qarnot.connection", "Connection.pools", (("summary", True), ("tags_intersect", None), ("tags", None))),
    Doc("qarnot.connection", "Connection.tasks", (("tags", None), ("summary", True), ("tags_intersect", None))),
    Doc("qarnot.connection", "Connection.jobs", QARNOT_FILTERS),
    Doc(
        "qarnot.connection",
        "Connection.tasks_page",
        (("token", None), ("maximum", None), ("summary", True), *QARNOT_FILTERS),
    ),
    Doc("qarnot.connection", "Connection.jobs_page", (("token", None), ("maximum", None), *QARNOT_FILTERS)),
    Doc(
        "qarnot.connection",
        "Connection.pools_page",
        (("token", None), ("maximum", None), ("summary", True), *QARNOT_FILTERS),
    ),
    Doc("qarnot.connection", "Connection.all_tasks", (("summary", True), *QARNOT_FILTERS)),
    Doc("qarnot.connection", "Connection.all_jobs", QARNOT_FILTERS),
    Doc("qarnot.connection", "Connection.all_pools", (("summary", True), *QARNOT_FILTERS)),
    Doc("qarnot.connection", "Connection.retrieve_pool", (("uuid", R),)),
    Doc("qarnot.connection", "Connection.retrieve_task", (("uuid", R),)),
    Doc("qarnot.connection", "Connection.retrieve_job", (("uuid", R),)),
    Doc("qarnot.connection", "Connection.retrieve_bucket", (("uuid", R),)),
    Doc("qarnot.connection", "Connection.retrieve_or_create_bucket", (("uuid", R),)),
    Doc("qarnot.connection", "Connection.create_bucket", (("name", R),)),
    Doc(
        "qarnot.connection",
        "Connection.create_pool",
        (("name", R), ("profile", R), ("instancecount", 1), ("shortname", None)),
    ),
    Doc(
        "qarnot.connection",
        "Connection.create_elastic_pool",
        (
            ("name", R),
            ("profile", R),
            ("minimum_total_slots", 0),
            ("maximum_total_slots", 1),
            ("minimum_idle_slots", 0),
            ("minimum_idle_time_seconds", 0),
            ("resize_factor", 1),
            ("resize_period", 90),
            ("shortname", None),
        ),
    ),
    Doc(
        "qarnot.connection",
        "Connection.create_task",
        (("name", R), ("profile_or_pool", None), ("instancecount_or_range", 1), ("shortname", None), ("job", None)),
    ),
    Doc(
        "qarnot.connection",
        "Connection.create_job",
        (("name", R), ("pool", None), ("shortname", None), ("useDependencies", False)),
    ),
    Doc("qarnot.connection", "Connection.submit_tasks", (("tasks", R),)),
    Doc("qarnot.connection", "Connection.profiles", ()),
    Doc("qarnot.connection", "Connection.profiles_names", ()),
    Doc("qarnot.connection", "Connection.retrieve_profile", (("name", R),)),
    Doc("qarnot.connection", "Connection.profile_details", (("profile_name", R),)),
    Doc(
        "qarnot.connection",
        "Connection.credits",
        absent="account credits: the emulator serves no /credits route to prove it against; the UI shows them",
    ),
    Doc(
        "qarnot.connection",
        "Connection.get_user_computing_quotas",
        absent="computing quotas: read-only account information, not needed to run tasks; no emulator route",
    ),
    Doc(
        "qarnot.connection",
        "Connection.get_organization_computing_quotas",
        absent="organization quotas: read-only account information, not needed to run tasks; no emulator route",
    ),
    Doc(
        "qarnot.connection",
        "Connection.all_hardware_constraints",
        absent="the hardware-constraint catalogue: a task's hardware_constraints are sent as given, not looked up",
    ),
    Doc(
        "qarnot.connection",
        "Connection.hardware_constraints_page",
        absent="the hardware-constraint catalogue, paged: as all_hardware_constraints",
    ),
    Doc(
        "qarnot.connection",
        "Connection.search_cpu_model_constraints",
        absent="a search of the hardware-constraint catalogue by CPU model: as all_hardware_constraints",
    ),
    # -- qarnot.job.Job ------------------------------------------------------------------------------------------
    Doc(
        "qarnot.job",
        "Job",
        (("connection", R), ("name", R), ("pool", None), ("shortname", None), ("use_dependencies", False)),
    ),
    Doc("qarnot.job", "Job.from_json", (("connection", R), ("payload", R))),
    Doc("qarnot.job", "Job.submit", ()),
    Doc("qarnot.job", "Job.terminate", ()),
    Doc("qarnot.job", "Job.delete", (("forceAbort", False),)),
    Doc("qarnot.job", "Job.update", (("flushcache", False),)),
    *(
        Doc("qarnot.job", f"Job.{name}", PROPERTY)
        for name in (
            "uuid",
            "state",
            "name",
            "shortname",
            "pool",
            "use_dependencies",
            "max_wall_time",
            "auto_delete",
            "completion_ttl",
            "tags",
            "tasks",
            "creation_date",
            "state_transition_time",
            "previous_state",
            "previous_state_transition_time",
            "auto_update",
            "update_cache_time",
        )
    ),
    # -- apolo_sdk.Jobs ------------------------------------------------------------------------------------------
    Doc(
        "apolo_sdk",
        "Jobs.start",
        (
            KW,
            ("image", R),
            ("preset_name", R),
            ("cluster_name", None),
            ("org_name", None),
            ("entrypoint", None),
            ("command", None),
            ("working_dir", None),
            ("http", None),
            ("env", None),
            ("volumes", ()),
            ("secret_env", None),
            ("secret_files", ()),
            ("disk_volumes", ()),
            ("tty", False),
            ("shm", False),
            ("name", None),
            ("tags", ()),
            ("description", None),
            ("pass_config", False),
            ("wait_for_jobs_quota", False),
            ("schedule_timeout", None),
            ("restart_policy", "never"),
            ("life_span", None),
            ("privileged", False),
            ("priority", None),
            ("energy_schedule_name", None),
            ("project_name", None),
        ),
    ),
    Doc(
        "apolo_sdk",
        "Jobs.run",
        (
            ("container", R),
            KW,
            ("name", None),
            ("tags", ()),
            ("description", None),
            ("scheduler_enabled", False),
            ("pass_config", False),
            ("wait_for_jobs_quota", False),
            ("schedule_timeout", None),
            ("restart_policy", "never"),
            ("life_span", None),
            ("org_name", None),
            ("priority", None),
            ("project_name", None),
        ),
    ),
    Doc(
        "apolo_sdk",
        "Jobs.list",
        (
            KW,
            ("statuses", ()),
            ("name", ""),
            ("tags", ()),
            ("owners", ()),
            ("since", None),
            ("until", None),
            ("reverse", False),
            ("limit", None),
            ("cluster_name", None),
            ("org_names", ()),
            ("project_names", ()),
        ),
    ),
    Doc("apolo_sdk", "Jobs.status", (("id", R),)),
    Doc("apolo_sdk", "Jobs.kill", (("id", R),)),
    Doc("apolo_sdk", "Jobs.bump_life_span", (("id", R), ("additional_life_span", R))),
    Doc(
        "apolo_sdk",
        "Jobs.monitor",
        (
            ("id", R),
            KW,
            ("cluster_name", None),
            ("since", None),
            ("timestamps", False),
            ("separator", None),
            ("debug", False),
        ),
    ),
    Doc("apolo_sdk", "Jobs.top", (("id", R), KW, ("cluster_name", None))),
    Doc("apolo_sdk", "Jobs.send_signal", (("id", R), KW, ("cluster_name", None))),
    Doc("apolo_sdk", "Jobs.get_capacity", (KW, ("cluster_name", None))),
    Doc("apolo_sdk", "Jobs.attach", (("id", R), *APOLO_STREAMS)),
    Doc("apolo_sdk", "Jobs.exec", (("id", R), ("cmd", R), *APOLO_STREAMS)),
    Doc(
        "apolo_sdk",
        "Jobs.port_forward",
        (("id", R), ("local_port", R), ("job_port", R), KW, ("no_key_check", False), ("cluster_name", None)),
    ),
    Doc(
        "apolo_sdk",
        "Jobs.save",
        absent="committing a job's container to an image is not a batch step (docs/apolo.md, Left out)",
    ),
    # -- apolo_sdk.StdStream, Message ----------------------------------------------------------------------------
    Doc("apolo_sdk", "StdStream.read_out", ()),
    Doc("apolo_sdk", "StdStream.write_in", (("data", R),)),
    Doc("apolo_sdk", "StdStream.resize", (("h", R), ("w", R))),
    Doc("apolo_sdk", "StdStream.close", ()),
    Doc("apolo_sdk", "Message", fields={"fileno": R, "data": R}, sdk_module="apolo_sdk._jobs"),  # not re-exported
    # -- apolo_sdk.JobDescription --------------------------------------------------------------------------------
    Doc(
        "apolo_sdk",
        "JobDescription",
        fields={
            "id": R,
            "owner": R,
            "cluster_name": R,
            "org_name": R,
            "project_name": R,
            "namespace": R,
            "status": R,
            "history": R,
            "container": R,
            "scheduler_enabled": R,
            "pass_config": R,
            "uri": R,
            "total_price_credits": R,
            "price_credits_per_hour": R,
            "name": None,
            "tags": (),
            "description": None,
            "http_url": "",
            "internal_hostname": None,
            "internal_hostname_named": None,
            "restart_policy": "never",
            "life_span": None,
            "schedule_timeout": None,
            "preset_name": None,
            "preemptible_node": False,
            "privileged": False,
            "priority": "NORMAL",
            "energy_schedule_name": None,
        },
        optional_here={
            name: BUILT_FROM_JSON
            for name in (
                "org_name",
                "project_name",
                "namespace",
                "scheduler_enabled",
                "pass_config",
                "uri",
                "total_price_credits",
                "price_credits_per_hour",
            )
        },
    ),
)
JOB_STATUSES = {
    "PENDING": "pending",
    "SUSPENDED": "suspended",
    "RUNNING": "running",
    "SUCCEEDED": "succeeded",
    "FAILED": "failed",
    "CANCELLED": "cancelled",
    "UNKNOWN": "unknown",
}
JOB_STATUS_HELPERS = ("is_pending", "is_running", "is_finished", "items", "active_items", "finished_items")
# The real SDK differs from its own documentation here, on purpose of its authors: the row stays as documented.
SDK_DIFFERS: dict[str, str] = {}


def lookup(module_name: str, name: str) -> tuple[Any, Any]:
    """(the object holding the last part, the object) or raise AttributeError."""
    target: Any = importlib.import_module(module_name)
    owner = target
    for part in name.split("."):
        owner = target
        target = owner.__dict__[part] if isinstance(owner, type) and part in owner.__dict__ else getattr(owner, part)
    return owner, target


def params_of(target: Any) -> list[inspect.Parameter]:
    if isinstance(target, (classmethod, staticmethod)):
        target = target.__func__
    signature = inspect.signature(target.__init__ if isinstance(target, type) else target)
    return [p for p in signature.parameters.values() if p.name not in ("self", "cls")]


def same_default(ours: Any, documented: Any) -> bool:
    if isinstance(ours, enum.Enum):
        return documented in (ours.value, ours.name, ours)
    return bool(ours == documented)


def check_params(label: str, params: list[inspect.Parameter], doc: Doc, *, added_allowed: bool) -> None:
    assert isinstance(doc.params, tuple)
    keyword_only = False
    documented: list[tuple[str, Any, bool]] = []
    for name, default in doc.params:
        if name == "*":
            keyword_only = True
            continue
        documented.append((name, default, keyword_only))
    real = [p for p in params if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL) and not p.name.startswith("_")]
    names = [p.name for p in real]
    assert names[: len(documented)] == [name for name, _, _ in documented], f"{label}: order {names}"
    for param, (name, default, kw_only) in zip(real, documented, strict=False):
        expected_kind = param.KEYWORD_ONLY if kw_only else param.POSITIONAL_OR_KEYWORD
        assert param.kind is expected_kind, f"{label}: {name} is {param.kind.description}"
        if default is REQUIRED:
            if name not in doc.optional_here:
                assert param.default is REQUIRED, f"{label}: {name} has a default without a reason"
        else:
            assert same_default(param.default, default), f"{label}: {name} defaults to {param.default!r}"
    extras = real[len(documented) :]
    if added_allowed:
        for extra in extras:
            assert extra.default is not REQUIRED and extra.kind is extra.KEYWORD_ONLY, f"{label}: added {extra.name}"
    else:
        assert not extras, f"{label}: the SDK has more than documented: {[p.name for p in extras]}"


def check_fields(label: str, cls: Any, doc: Doc) -> None:
    assert doc.fields is not None and dataclasses.is_dataclass(cls), f"{label} is not a dataclass"
    found = {f.name: f for f in dataclasses.fields(cls)}
    for name, default in doc.fields.items():
        assert name in found, f"{label}: no field {name}"
        has = found[name].default is not dataclasses.MISSING or found[name].default_factory is not dataclasses.MISSING
        if default is REQUIRED:
            assert not has or name in doc.optional_here, f"{label}: {name} has a default without a reason"
        else:
            value = found[name].default
            if value is dataclasses.MISSING:
                value = found[name].default_factory()  # type: ignore[misc]
            assert same_default(value, default) or str(value) == str(default), f"{label}: {name} = {value!r}"


def check(label: str, module_name: str, doc: Doc, *, ours: bool) -> None:
    if doc.absent:
        if ours:
            with pytest.raises((AttributeError, KeyError)):
                lookup(module_name, doc.name)
        else:
            lookup(module_name, doc.name)  # the SDK has it: the row is about a real name
        return
    _, target = lookup(module_name, doc.name)
    if doc.params == PROPERTY:
        holder = lookup(module_name, doc.name.rsplit(".", 1)[0])[1]
        attribute = inspect.getattr_static(holder, doc.name.rsplit(".", 1)[1])
        assert isinstance(attribute, property), f"{label} is not a property"
    elif doc.fields is not None:
        check_fields(label, target, doc)
    else:
        check_params(label, params_of(target), doc, added_allowed=ours)


@pytest.mark.parametrize("doc", TABLE, ids=[f"{d.module}.{d.name}" for d in TABLE])
def test_ours_as_documented(doc: Doc) -> None:
    check(f"compat {doc.module}.{doc.name}", f"airflow_provider_batch.compat.{doc.module}", doc, ours=True)


@pytest.mark.parametrize("doc", TABLE, ids=[f"{d.module}.{d.name}" for d in TABLE])
def test_the_table_matches_the_real_sdk(doc: Doc) -> None:
    if f"{doc.module}.{doc.name}" in SDK_DIFFERS:
        pytest.skip(SDK_DIFFERS[f"{doc.module}.{doc.name}"])
    strict = Doc(doc.module, doc.name, doc.params, doc.fields, doc.absent, doc.sdk_module)  # no reasons: the SDK's
    check(f"sdk {doc.module}.{doc.name}", doc.sdk_module or doc.module, strict, ours=False)


def test_job_status_members_and_helpers() -> None:
    import apolo_sdk

    from airflow_provider_batch.compat import apolo_sdk as ours

    for status in (apolo_sdk.JobStatus, ours.JobStatus):
        assert {member.name: member.value for member in status} == JOB_STATUSES
        assert all(hasattr(status, helper) for helper in JOB_STATUS_HELPERS)
    assert ours.JobStatus.SUSPENDED.is_pending and ours.JobStatus.FAILED.is_finished


def test_every_left_out_name_and_difference_says_why() -> None:
    for doc in TABLE:
        for reason in (doc.absent, *doc.optional_here.values()):
            assert not reason or len(reason) > 30, doc.name
