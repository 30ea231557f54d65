"""`ArmadaOperator`: run one job on Armada from a pod spec, blocking or deferrable."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from google.protobuf.message import Message

from airflow_provider_batch.clients.armada.spec import (
    as_job_request_item,
    build_job_request_item,
    check_priority,
    check_string_map,
    validate_job_set_id,
)
from airflow_provider_batch.common.errors import InvalidJobSpecError
from airflow_provider_batch.hooks.armada import ArmadaHook, ArmadaSubmission
from airflow_provider_batch.links.armada import ArmadaLookoutLink
from airflow_provider_batch.operators.base import BatchJobOperator

JobRequest = Mapping[str, Any] | str | Message | Callable[[Mapping[str, Any]], Mapping[str, Any] | str | Message]


class ArmadaOperator(BatchJobOperator[ArmadaHook]):
    """Submit one job to an Armada queue and wait for it (or defer while it runs).

    job_request: the pod spec: a dict (Kubernetes keys), a YAML string, a .yaml/.yml/.json file name (rendered as
        a template), a PodSpec or JobSubmitRequestItem message, or a callable(context) returning one of those.
    queue: the Armada queue; defaults to the connection's default queue. It is kept as `armada_queue`: Airflow's
        own `queue` (the executor queue) is `executor_queue` here.
    armada_queue: the Armada queue, under the name the original operator gives it. When it is given, `queue` keeps
        Airflow's meaning (the executor queue), as in `default_args`.
    job_set_id: the job set the job joins (templated; defaults to "<dag_id>-<run_id>").
    priority, namespace, labels, annotations: as on Armada's JobSubmitRequestItem.
    armada_conn_id: an `armada` connection (endpoint, TLS, token, default queue, Lookout URL).

    Returns {job_id, queue, job_set_id, state}; the same appears in XCom (`job_id`, `batch_job`). See
    BatchJobOperator for deferrable, poll_interval, timeout, reattach_policy, wait_for_completion, container_logs.
    Code written for the original `armada.operators.armada.ArmadaOperator` (job_request_items, channel arguments,
    a job service) uses `airflow_provider_batch.compat.armada.operators.armada` instead (docs/migration.md).
    """

    template_fields: Sequence[str] = (
        "armada_queue",
        "job_set_id",
        "job_request",
        "namespace",
        "labels",
        "annotations",
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
        if job_request is None and not self._has_other_request():
            raise InvalidJobSpecError("job_request", "is missing", "pass the job's pod spec as job_request")
        self.job_request = job_request
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

    def _has_other_request(self) -> bool:
        """Whether a subclass takes the job from another argument than job_request."""
        return False

    def build_request(self, context: Mapping[str, Any]) -> ArmadaSubmission:
        item = self.build_item(context)
        queue = self.armada_queue or self.hook.settings.default_queue
        if not queue:
            raise InvalidJobSpecError(
                "queue", "is not set", f"pass queue= or set default_queue on connection {self.armada_conn_id!r}"
            )
        validate_job_set_id(queue, self.job_set_id)
        return ArmadaSubmission(queue=queue, job_set_id=self.job_set_id, item=item)

    def build_item(self, context: Mapping[str, Any]) -> Any:
        """The JobSubmitRequestItem from the rendered job_request."""
        request: Any = self.job_request(context) if callable(self.job_request) else self.job_request
        if isinstance(request, Message) and request.DESCRIPTOR.full_name == "api.JobSubmitRequestItem":
            return as_job_request_item(request, "job_request")
        return build_job_request_item(
            request,
            namespace=self.namespace,
            priority=self.priority,
            labels=self.labels,
            annotations=self.annotations,
            field="",
            spec_field="job_request",
        )


__all__ = ["ArmadaOperator"]
