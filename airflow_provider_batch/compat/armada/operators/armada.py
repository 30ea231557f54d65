"""`armada.operators.armada`: the original ArmadaOperator's arguments on this provider's ArmadaOperator.

Change `from armada.operators.armada import ArmadaOperator` to
`from airflow_provider_batch.compat.armada.operators.armada import ArmadaOperator`; docs/migration.md lists what
differs. Everything here is a thin layer on the core operator: the lifecycle (submit once, reattach, wait or defer)
is the core's.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import Any

from airflow.sdk import conf
from airflow.triggers.base import BaseTrigger
from google.protobuf import json_format
from google.protobuf.message import Message

from airflow_provider_batch._proto.armada import submit_pb2
from airflow_provider_batch.clients.armada.spec import as_job_request_item
from airflow_provider_batch.common.errors import InvalidJobSpecError
from airflow_provider_batch.common.jobref import JobRef
from airflow_provider_batch.compat.armada.operators.utils import annotate_job_request_items, get_annotation_key_prefix
from airflow_provider_batch.hooks.armada import ArmadaHook
from airflow_provider_batch.hooks.armada_channel import ArmadaChannelHook
from airflow_provider_batch.hooks.armada_channel_args import ChannelSpec, parse_channel_args
from airflow_provider_batch.operators.armada import ArmadaOperator as CoreArmadaOperator


class ArmadaOperator(CoreArmadaOperator):
    """The original ArmadaOperator's arguments, on top of this provider's (see its docstring for the rest).

    name: the job's name in log lines and errors, also kept as the annotation `<prefix>airflowTaskName`.
    job_request_items: a list holding ONE JobSubmitRequestItem (message or dict), instead of job_request; it is
        annotated with the task's ids like the original (ANNOTATION_KEY_PREFIX, default `armadaproject.io/`).
    lookout_url_template: the Lookout link with `{job_id}` (or the original `<job_id>`) filled in; overrides the
        connection's.
    armada_channel_args: the original GrpcChannelArgsDict (target, options, compression, tls, and a credential
        source: credentials={"conn_id": ...} or credentials_callback_args); it replaces the connection's
        endpoint and TLS, and the token comes from that source, else from armada_conn_id when it exists.
    job_service_channel_args: a standalone job service (`python -m airflow_provider_batch.jobservice serve`),
        same keys; when given, the deferred task waits with ArmadaJobCompleteTrigger asking that service.
    """

    template_fields: Sequence[str] = (*CoreArmadaOperator.template_fields, "job_request_items", "lookout_url_template")

    def __init__(
        self,
        *,
        name: str | None = None,
        job_request_items: Sequence[Any] | None = None,
        lookout_url_template: str | None = None,
        armada_channel_args: Mapping[str, Any] | None = None,
        job_service_channel_args: Mapping[str, Any] | None = None,
        job_request: Any = None,
        **kwargs: Any,
    ) -> None:
        if (job_request is None) == (job_request_items is None):
            raise InvalidJobSpecError(
                "job_request", "give exactly one of job_request and job_request_items", "job_request is preferred"
            )
        self.job_request_items = _one_item(job_request_items) if job_request_items is not None else None
        super().__init__(job_request=job_request, **kwargs)
        self.name = name
        self.lookout_url_template = lookout_url_template
        self.armada_channel_args = _spec(armada_channel_args, "armada_channel_args")
        self.job_service_channel_args = _spec(job_service_channel_args, "job_service_channel_args")

    def _has_other_request(self) -> bool:
        return self.job_request_items is not None

    @property
    def resume_method(self) -> str:  # type: ignore[override]
        """The original deferrable operator resumed in `resume_job_complete` after its job-service trigger."""
        return "resume_job_complete" if self.job_service_channel_args is not None else "execute_complete"

    def resume_kwargs(self, job: JobRef) -> dict[str, Any] | None:
        """The original deferrable operator passed the job id to `resume_job_complete`."""
        return {"job_id": job.job_id} if self.job_service_channel_args is not None else None

    @cached_property
    def hook(self) -> ArmadaHook:
        hook = ArmadaHook(self.armada_conn_id)
        if self.armada_channel_args is not None:
            hook = ArmadaChannelHook(self.armada_conn_id, ChannelSpec.from_json(self.armada_channel_args))
        if self.lookout_url_template:
            settings = dataclasses.replace(hook.settings, lookout_url_template=self.lookout_url_template)
            hook.__dict__["settings"] = settings  # the task's template wins over the connection's
        return hook

    def build_item(self, context: Mapping[str, Any]) -> Any:
        if self.job_request_items is None:
            return super().build_item(context)
        try:
            item = json_format.ParseDict(self.job_request_items[0], submit_pb2.JobSubmitRequestItem())
        except (json_format.ParseError, TypeError, ValueError, AttributeError) as error:  # after templating
            raise InvalidJobSpecError("job_request_items[0]", f"does not fit a JobSubmitRequestItem: {error}") from None
        annotate_job_request_items(context, [item])
        if self.name:
            item.annotations[get_annotation_key_prefix() + "airflowTaskName"] = self.name
        return as_job_request_item(item, "job_request_items[0]")

    def build_request(self, context: Mapping[str, Any]) -> Any:
        request = super().build_request(context)
        if self.name:
            self.log.info("Running Armada job %s in queue %s, job set %s", self.name, request.queue, request.job_set_id)
        return request

    def build_trigger(self, job: JobRef, deadline: float | None) -> BaseTrigger:
        """With job_service_channel_args, wait with the original trigger (asking that job service)."""
        if self.job_service_channel_args is None:
            return super().build_trigger(job, deadline)
        from airflow_provider_batch.compat.armada.operators.armada_deferrable import ArmadaJobCompleteTrigger

        return ArmadaJobCompleteTrigger(
            job_id=job.job_id,
            job_service_channel_args=self.job_service_channel_args,
            armada_queue=job.details.get("queue", ""),
            job_set_id=job.details.get("job_set_id", ""),
            airflow_task_name=self.name or self.task_id,
            poll_interval=self.poll_interval,
            job=job.to_json(),
            deadline=deadline,
            unknown_grace_period=conf.getfloat("batch", "unknown_job_grace_period", fallback=300),
        )

    def resume_job_complete(
        self, context: Any, event: dict[str, Any] | None = None, job_id: str | None = None
    ) -> dict[str, Any]:
        """The original resume method (after ArmadaJobCompleteTrigger): the same as execute_complete. The event
        names the job; `job_id` (the original's defer kwarg) is optional, as `airflow dags test` drops it."""
        return self.execute_complete(context, event)


def _spec(args: Mapping[str, Any] | None, field: str) -> dict[str, Any] | None:
    """Checked at DAG parse time; kept as plain JSON with no secret (it is serialized with the DAG)."""
    return None if args is None else parse_channel_args(args, field).to_json()


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


__all__ = ["ArmadaOperator"]
