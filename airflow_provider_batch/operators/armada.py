"""`ArmadaOperator`: run one job on Armada from a pod spec, blocking or deferrable."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from functools import cached_property
from typing import Any, NoReturn

from airflow.sdk import conf
from google.protobuf import json_format
from google.protobuf.message import Message

from airflow_provider_batch._proto.armada import submit_pb2
from airflow_provider_batch.clients.armada.spec import (
    as_job_request_item,
    build_job_request_item,
    check_priority,
    check_string_map,
    validate_job_set_id,
)
from airflow_provider_batch.common.errors import InvalidJobSpecError
from airflow_provider_batch.common.jobref import JobRef
from airflow_provider_batch.compat.armada.operators.armada_deferrable import ArmadaJobCompleteTrigger
from airflow_provider_batch.compat.armada.operators.utils import annotate_job_request_items, get_annotation_key_prefix
from airflow_provider_batch.hooks.armada import ArmadaHook, ArmadaSubmission
from airflow_provider_batch.hooks.armada_channel import ArmadaChannelHook, channel_conn_id
from airflow_provider_batch.hooks.armada_channel_args import ChannelSpec, parse_channel_args
from airflow_provider_batch.hooks.base import BatchHook
from airflow_provider_batch.links.armada import ArmadaLookoutLink
from airflow_provider_batch.operators.base import BatchJobOperator

JobRequest = Mapping[str, Any] | str | Message | Callable[[Mapping[str, Any]], Mapping[str, Any] | str | Message]


class ArmadaOperator(BatchJobOperator):
    """Submit one job to an Armada queue and wait for it (or defer while it runs).

    job_request: the pod spec: a dict (Kubernetes keys), a YAML string, a .yaml/.yml/.json file name (rendered as
        a template), a PodSpec or JobSubmitRequestItem message, or a callable(context) returning one of those.
    queue: the Armada queue; defaults to the connection's default queue. It is kept as `armada_queue`: Airflow's
        own `queue` (the executor queue) is `executor_queue` here.
    armada_queue: the Armada queue, as the original operator names it. When it is given, `queue` keeps Airflow's
        meaning (the executor queue), as in the original operator and in `default_args`.
    job_set_id: the job set the job joins (templated; defaults to "<dag_id>-<run_id>").
    priority, namespace, labels, annotations: as on Armada's JobSubmitRequestItem.
    armada_conn_id: an `armada` connection (endpoint, TLS, token, default queue, Lookout URL).

    The original operator's arguments are accepted too (docs/migration.md):
    name: the job's name in log lines and errors, also kept as the annotation `<prefix>airflowTaskName`.
    job_request_items: a list holding ONE JobSubmitRequestItem (message or dict), instead of job_request; it is
        annotated with the task's ids like the original (ANNOTATION_KEY_PREFIX, default `armadaproject.io/`).
    lookout_url_template: the Lookout link with `<job_id>` filled in; overrides the connection's.
    armada_channel_args: the original GrpcChannelArgsDict (target, options, compression, tls, and a credential
        source: credentials={"conn_id": ...} or credentials_callback_args); it replaces the connection's
        endpoint and TLS, and the token comes from that source, else from armada_conn_id when it exists.
    job_service_channel_args: a standalone job service (`python -m airflow_provider_batch.jobservice serve`),
        same keys; when given, the deferred task waits with ArmadaJobCompleteTrigger asking that service.

    Returns {job_id, queue, job_set_id, state}; the same appears in XCom (`job_id`, `batch_job`). See
    BatchJobOperator for deferrable, poll_interval, timeout, reattach_policy, wait_for_completion, container_logs.
    """

    template_fields: Sequence[str] = (
        "armada_queue",
        "job_set_id",
        "job_request",
        "job_request_items",
        "namespace",
        "labels",
        "annotations",
        "lookout_url_template",
    )
    template_ext: Sequence[str] = (".yaml", ".yml", ".json")
    template_fields_renderers = {"job_request": "yaml", "labels": "json", "annotations": "json"}
    operator_extra_links = (ArmadaLookoutLink(),)
    hook_class = ArmadaHook

    def __init__(
        self,
        *,
        job_request: JobRequest | None = None,
        queue: str | None = None,
        job_set_id: str = "{{ dag.dag_id }}-{{ run_id }}",
        priority: float = 1.0,
        namespace: str = "default",
        labels: Mapping[str, str] | None = None,
        annotations: Mapping[str, str] | None = None,
        armada_conn_id: str = ArmadaHook.default_conn_name,
        armada_queue: str | None = None,
        executor_queue: str | None = None,
        name: str | None = None,
        job_request_items: Sequence[Any] | None = None,
        lookout_url_template: str | None = None,
        armada_channel_args: Mapping[str, Any] | None = None,
        job_service_channel_args: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if armada_queue is not None:
            # The original operator's form: `queue` is Airflow's executor queue, `armada_queue` the Armada one.
            armada_queue, executor_queue = armada_queue or None, executor_queue or queue
        else:
            armada_queue = queue
        if executor_queue is not None:
            kwargs["queue"] = executor_queue
        super().__init__(conn_id=armada_conn_id, **kwargs)
        self.armada_conn_id = armada_conn_id
        if (job_request is None) == (job_request_items is None):
            raise InvalidJobSpecError(
                "job_request", "give exactly one of job_request and job_request_items", "job_request is preferred"
            )
        self.job_request = job_request
        self.job_request_items = _one_item(job_request_items) if job_request_items is not None else None
        self.name = name
        self.lookout_url_template = lookout_url_template
        self.armada_channel_args = self._spec(armada_channel_args, "armada_channel_args")
        self.job_service_channel_args = self._spec(job_service_channel_args, "job_service_channel_args")
        self.armada_queue = armada_queue
        self.job_set_id = job_set_id
        # Checked here, at DAG parse time, so a wrong type fails the DAG import, not each try of the task.
        self.priority = check_priority(priority)
        for field, value in (("namespace", namespace), ("queue", self.armada_queue), ("job_set_id", job_set_id)):
            if value is not None and not isinstance(value, str):
                raise InvalidJobSpecError(field, f"is a {type(value).__name__}, not a string", "give a string")
        self.namespace = namespace
        self.labels = check_string_map(labels, "labels")
        self.annotations = check_string_map(annotations, "annotations")

    @classmethod
    def partial(cls, **kwargs: Any) -> Any:
        """Map over this operator (`.partial(...).expand(...)`), with Airflow's `queue` kept for the executor.

        Airflow keeps a mapped task's `queue` as its executor queue and, before 3.3, fills it with
        `[operators] default_queue` when it is not given, so the Armada queue travels as `armada_queue` ("" for the
        connection's default queue) and `queue` holds the executor queue.
        """
        if "armada_queue" not in kwargs:
            kwargs["armada_queue"] = kwargs.pop("queue", None) or ""
        executor_queue = kwargs.pop("executor_queue", None)
        if executor_queue is not None:
            kwargs["queue"] = executor_queue
        return super().partial(**kwargs)

    @staticmethod
    def _spec(args: Mapping[str, Any] | None, field: str) -> dict[str, Any] | None:
        """Checked at DAG parse time; kept as plain JSON with no secret (it is serialized with the DAG)."""
        return None if args is None else parse_channel_args(args, field).to_json()

    @cached_property
    def hook(self) -> BatchHook:
        hook: ArmadaHook
        if self.armada_channel_args is not None:
            spec = ChannelSpec.from_json(self.armada_channel_args)
            hook = ArmadaChannelHook(channel_conn_id(spec, self.armada_conn_id))
        else:
            hook = ArmadaHook(self.armada_conn_id)
        if self.lookout_url_template:
            settings = dataclasses.replace(hook.settings, lookout_url_template=self.lookout_url_template)
            hook.__dict__["settings"] = settings  # the task's template wins over the connection's
        return hook

    def build_request(self, context: Mapping[str, Any]) -> ArmadaSubmission:
        if self.job_request_items is not None:
            try:
                request: Any = json_format.ParseDict(self.job_request_items[0], submit_pb2.JobSubmitRequestItem())
            except (json_format.ParseError, TypeError, ValueError, AttributeError) as error:  # after templating
                raise InvalidJobSpecError(
                    "job_request_items[0]", f"does not fit a JobSubmitRequestItem: {error}"
                ) from None
            annotate_job_request_items(context, [request])
            if self.name:
                request.annotations[get_annotation_key_prefix() + "airflowTaskName"] = self.name
        else:
            request = self.job_request(context) if callable(self.job_request) else self.job_request
        if isinstance(request, Message) and request.DESCRIPTOR.full_name == "api.JobSubmitRequestItem":
            field = "job_request" if self.job_request_items is None else "job_request_items[0]"
            item = as_job_request_item(request, field)
        else:
            item = build_job_request_item(
                request,
                namespace=self.namespace,
                priority=self.priority,
                labels=self.labels,
                annotations=self.annotations,
                field="",
                spec_field="job_request",
            )
        queue = self.armada_queue or self.hook.settings.default_queue  # type: ignore[attr-defined]
        if not queue:
            raise InvalidJobSpecError(
                "queue", "is not set", f"pass queue= or set default_queue on connection {self.armada_conn_id!r}"
            )
        validate_job_set_id(queue, self.job_set_id)
        if self.name:
            self.log.info("Running Armada job %s in queue %s, job set %s", self.name, queue, self.job_set_id)
        return ArmadaSubmission(queue=queue, job_set_id=self.job_set_id, item=item)

    def _defer(self, job: JobRef) -> NoReturn:
        """With job_service_channel_args, wait with the original trigger (asking that job service)."""
        if self.job_service_channel_args is None:
            super()._defer(job)
        deadline = time.time() + self.timeout if self.timeout else None
        self.defer(
            trigger=ArmadaJobCompleteTrigger(
                job_id=job.job_id,
                job_service_channel_args=self.job_service_channel_args,
                armada_queue=job.details.get("queue", ""),
                job_set_id=job.details.get("job_set_id", ""),
                airflow_task_name=self.name or self.task_id,
                poll_interval=self.poll_interval,
                job=job.to_json(),
                deadline=deadline,
                unknown_grace_period=conf.getfloat("batch", "unknown_job_grace_period", fallback=300),
                submitted_at=time.time(),
            ),
            method_name="resume_job_complete",
            kwargs={"job_id": job.job_id},
            timeout=timedelta(seconds=self.timeout + max(60.0, 2 * self.poll_interval)) if self.timeout else None,
        )

    def resume_job_complete(
        self, context: Any, event: dict[str, Any] | None = None, job_id: str | None = None
    ) -> dict[str, Any]:
        """The original resume method (after ArmadaJobCompleteTrigger): the same as execute_complete. The event
        names the job; `job_id` (the original's defer kwarg) is optional, as `airflow dags test` drops it."""
        return self.execute_complete(context, event)


def _one_item(items: Sequence[Any]) -> list[dict[str, Any]]:
    """The original list of JobSubmitRequestItems, which must hold exactly one job; as a dict, so it is templated."""
    if isinstance(items, (str, bytes, Mapping, Message)) or not isinstance(items, Sequence):
        raise InvalidJobSpecError(
            "job_request_items", f"is a {type(items).__name__}", "pass a list holding one JobSubmitRequestItem"
        )
    if len(items) != 1:
        raise InvalidJobSpecError(
            "job_request_items",
            f"holds {len(items)} jobs; an Airflow task runs exactly one",
            "use one task per job, or dynamic task mapping (ArmadaOperator.partial(...).expand(job_request=[...]))",
        )
    item = as_job_request_item(items[0], "job_request_items[0]")  # refused here, at DAG parse time, when wrong
    return [json_format.MessageToDict(item, preserving_proto_field_name=True)]


class ArmadaDeferrableOperator(ArmadaOperator):
    """ArmadaOperator that always defers while the job runs (the original name and arguments, see ArmadaOperator)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs["deferrable"] = True
        super().__init__(**kwargs)


__all__ = ["ArmadaDeferrableOperator", "ArmadaOperator"]
