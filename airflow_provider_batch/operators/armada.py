"""`ArmadaOperator`: run one job on Armada from a pod spec, blocking or deferrable."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from google.protobuf.message import Message

from airflow_provider_batch.clients.armada_spec import as_job_request_item, build_job_request_item, validate_job_set_id
from airflow_provider_batch.common.errors import InvalidJobSpecError
from airflow_provider_batch.hooks.armada import ArmadaHook, ArmadaSubmission
from airflow_provider_batch.links.armada import ArmadaLookoutLink
from airflow_provider_batch.operators.base import BatchJobOperator

JobRequest = Mapping[str, Any] | str | Message | Callable[[Mapping[str, Any]], Mapping[str, Any] | str | Message]


class ArmadaOperator(BatchJobOperator):
    """Submit one job to an Armada queue and wait for it (or defer while it runs).

    job_request: the pod spec: a dict (Kubernetes keys), a YAML string, a .yaml/.yml/.json file name (rendered as
        a template), a PodSpec or JobSubmitRequestItem message, or a callable(context) returning one of those.
    queue: the Armada queue (also accepted as armada_queue); defaults to the connection's default queue. It is
        kept as `armada_queue`: Airflow's own `queue` (the executor queue) is `executor_queue` here.
    job_set_id: the job set the job joins (templated; defaults to "<dag_id>-<run_id>").
    priority, namespace, labels, annotations: as on Armada's JobSubmitRequestItem.
    armada_conn_id: an `armada` connection (endpoint, TLS, token, default queue, Lookout URL).

    Returns {job_id, queue, job_set_id, state}; the same appears in XCom (`job_id`, `batch_job`). See
    BatchJobOperator for deferrable, poll_interval, timeout, reattach_policy, wait_for_completion, container_logs.
    """

    template_fields: Sequence[str] = ("armada_queue", "job_set_id", "job_request", "namespace", "labels", "annotations")
    template_ext: Sequence[str] = (".yaml", ".yml", ".json")
    template_fields_renderers = {"job_request": "yaml", "labels": "json", "annotations": "json"}
    operator_extra_links = (ArmadaLookoutLink(),)
    hook_class = ArmadaHook

    def __init__(
        self,
        *,
        job_request: JobRequest,
        queue: str | None = None,
        job_set_id: str = "{{ dag.dag_id }}-{{ run_id }}",
        priority: float = 1.0,
        namespace: str = "default",
        labels: Mapping[str, str] | None = None,
        annotations: Mapping[str, str] | None = None,
        armada_conn_id: str = ArmadaHook.default_conn_name,
        armada_queue: str | None = None,
        executor_queue: str | None = None,
        **kwargs: Any,
    ) -> None:
        if executor_queue is not None:
            kwargs["queue"] = executor_queue
        super().__init__(conn_id=armada_conn_id, **kwargs)
        self.armada_conn_id = armada_conn_id
        self.job_request = job_request
        self.armada_queue = queue or armada_queue
        self.job_set_id = job_set_id
        self.priority = priority
        self.namespace = namespace
        self.labels = dict(labels or {})
        self.annotations = dict(annotations or {})

    def build_request(self, context: Mapping[str, Any]) -> ArmadaSubmission:
        request = self.job_request(context) if callable(self.job_request) else self.job_request
        if isinstance(request, Message) and request.DESCRIPTOR.full_name == "api.JobSubmitRequestItem":
            item = as_job_request_item(request, "job_request")
        else:
            item = build_job_request_item(
                request,  # type: ignore[arg-type]
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
        return ArmadaSubmission(queue=queue, job_set_id=self.job_set_id, item=item)


class ArmadaDeferrableOperator(ArmadaOperator):
    """ArmadaOperator that always defers while the job runs (the seed's name for it)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs["deferrable"] = True
        super().__init__(**kwargs)


__all__ = ["ArmadaDeferrableOperator", "ArmadaOperator"]
