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
from airflow_provider_batch.compat.armada.operators._client_hook import ClientObjectHook, core_client_of
from airflow_provider_batch.compat.armada.operators._group import JobGroupMixin
from airflow_provider_batch.compat.armada.operators.grpc import GrpcChannelArguments
from airflow_provider_batch.compat.armada.operators.utils import annotate_job_request_items, get_annotation_key_prefix
from airflow_provider_batch.hooks.armada import ArmadaHook
from airflow_provider_batch.hooks.armada_channel import ArmadaChannelHook
from airflow_provider_batch.hooks.armada_channel_args import ChannelSpec, parse_channel_args
from airflow_provider_batch.operators.armada import ArmadaOperator as CoreArmadaOperator


class ArmadaOperator(JobGroupMixin, CoreArmadaOperator):
    """The original ArmadaOperator: `ArmadaOperator(name, armada_client, job_service_client, armada_queue,
    job_request_items, lookout_url_template=None, poll_interval=30, **kwargs)`, on this provider's ArmadaOperator.

    name: the job's name in log lines and errors, kept as the annotation `<prefix>airflowTaskName`; it is the
        task_id when task_id is not given.
    armada_client: an ArmadaClient (`airflow_provider_batch.compat.armada_client.client`) the DAG file builds; the
        blocking task talks to Armada through its channel. A deferrable task takes armada_channel_args instead
        (a client object cannot travel to the triggerer).
    job_service_client: the original job service client; kept, but a blocking task asks Armada directly.
    armada_queue: the Armada queue (without it, the connection's default queue).
    job_request_items: a list of JobSubmitRequestItems (messages, ours or armada_client's, or dicts), annotated
        with the task's ids like the original (ANNOTATION_KEY_PREFIX, default `armadaproject.io/`). Several items
        are submitted together in one call and the task waits for all of them (see _group.py); one task per job
        (dynamic task mapping) is the recommended way.
    lookout_url_template: the Lookout link with `<job_id>` (or `{job_id}`) filled in; overrides the connection's.
    poll_interval: seconds between status checks (unset: [batch] default_poll_interval).
    armada_channel_args: the original GrpcChannelArgsDict (target, options, compression, tls, and a credential
        source: credentials={"conn_id": ...} or credentials_callback_args); it replaces the connection's
        endpoint and TLS, and the token comes from that source, else from armada_conn_id when it exists.
    job_service_channel_args: a standalone job service (`python -m airflow_provider_batch.jobservice serve`),
        same keys; when given, the deferred task waits with ArmadaJobCompleteTrigger asking that service.
    """

    template_fields: Sequence[str] = (*CoreArmadaOperator.template_fields, "job_request_items", "lookout_url_template")
    # Client objects hold channels, which cannot be deep-copied: Airflow's copies of the task share them.
    shallow_copy_attrs: Sequence[str] = ("armada_client", "job_service_client")

    def __init__(
        self,
        name: str | None = None,
        armada_client: Any = None,
        job_service_client: Any = None,
        armada_queue: str | None = None,
        job_request_items: Sequence[Any] | None = None,
        lookout_url_template: str | None = None,
        poll_interval: float | None = None,
        *,
        armada_channel_args: Mapping[str, Any] | None = None,
        job_service_channel_args: Mapping[str, Any] | None = None,
        job_request: Any = None,
        **kwargs: Any,
    ) -> None:
        if (job_request is None) == (job_request_items is None):
            raise InvalidJobSpecError(
                "job_request", "give exactly one of job_request and job_request_items", "job_request is preferred"
            )
        if name and "task_id" not in kwargs:
            kwargs["task_id"] = name  # the original took the task's name as `name`
        self.job_request_items = _items(job_request_items) if job_request_items is not None else None
        super().__init__(job_request=job_request, armada_queue=armada_queue, poll_interval=poll_interval, **kwargs)
        self.name = name
        self.lookout_url_template = lookout_url_template
        self.armada_channel_args = _spec(armada_channel_args, "armada_channel_args")
        self.job_service_channel_args = _spec(job_service_channel_args, "job_service_channel_args")
        if armada_client is not None:
            core_client_of(armada_client)  # refused here, at DAG parse time, when it is not an ArmadaClient
            if self.deferrable and self.armada_channel_args is None:
                raise InvalidJobSpecError(
                    "armada_client",
                    "is a client object, which cannot travel to the triggerer",
                    "a deferrable task takes armada_channel_args={'target': 'host:port', 'credentials': "
                    "{'conn_id': '<armada connection>'}}",
                )
        self.armada_client = armada_client
        self.job_service_client = job_service_client
        self._group: list[JobRef] = []

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
        hook: ArmadaHook
        if self.armada_channel_args is not None:
            hook = ArmadaChannelHook(self.armada_conn_id, ChannelSpec.from_json(self.armada_channel_args))
        elif self.armada_client is not None:
            hook = ClientObjectHook(self.armada_conn_id, self.armada_client)
        else:
            hook = ArmadaHook(self.armada_conn_id)
        if self.lookout_url_template:
            settings = dataclasses.replace(hook.settings, lookout_url_template=self.lookout_url_template)
            hook.__dict__["settings"] = settings  # the task's template wins over the connection's
        return hook

    def build_item(self, context: Mapping[str, Any], index: int = 0) -> Any:
        if self.job_request_items is None:
            return super().build_item(context)
        field = f"job_request_items[{index}]"
        try:
            item = json_format.ParseDict(self.job_request_items[index], submit_pb2.JobSubmitRequestItem())
        except (json_format.ParseError, TypeError, ValueError, AttributeError) as error:  # after templating
            raise InvalidJobSpecError(field, f"does not fit a JobSubmitRequestItem: {error}") from None
        annotate_job_request_items(context, [item])
        if self.name:
            item.annotations[get_annotation_key_prefix() + "airflowTaskName"] = self.name
        return as_job_request_item(item, field)

    def _execute(self, context: Any) -> dict[str, Any]:
        """One item: the core lifecycle as it is. Several: the same steps for the group (see _group.py)."""
        if self.job_request_items is None or len(self.job_request_items) == 1:
            return super()._execute(context)
        first = self.build_request(context)
        requests = [first] + [
            dataclasses.replace(first, item=self.build_item(context, i)) for i in range(1, len(self.job_request_items))
        ]
        return self._execute_group(context, requests)

    def on_kill(self) -> None:
        if self._group:
            self._cancel_group()
        else:
            super().on_kill()

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


def _spec(args: Any, field: str) -> dict[str, Any] | None:
    """Checked at DAG parse time; kept as plain JSON with no secret (it is serialized with the DAG). A
    GrpcChannelArguments object is taken as its serialize() dict."""
    if isinstance(args, GrpcChannelArguments):
        args = args.serialize()
    return None if args is None else parse_channel_args(args, field).to_json()


def _items(items: Sequence[Any]) -> list[dict[str, Any]]:
    """The original list of JobSubmitRequestItems, each checked now; kept as dicts, so they are templated."""
    if isinstance(items, (str, bytes, Mapping, Message)) or not isinstance(items, Sequence):
        raise InvalidJobSpecError(
            "job_request_items", f"is a {type(items).__name__}", "pass a list of JobSubmitRequestItems"
        )
    if not items:
        raise InvalidJobSpecError("job_request_items", "is empty", "pass a list holding at least one job")
    checked = [as_job_request_item(item, f"job_request_items[{i}]") for i, item in enumerate(items)]
    return [json_format.MessageToDict(item, preserving_proto_field_name=True) for item in checked]


__all__ = ["ArmadaOperator"]
