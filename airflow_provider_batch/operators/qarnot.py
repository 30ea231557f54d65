"""`QarnotOperator`: run one Qarnot task (N instances of a profile, or in a pool), blocking or deferrable."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from airflow_provider_batch.clients.qarnot.requests import (
    check_instance_count,
    check_tags,
    instance_ids_count,
    validate_task_spec,
)
from airflow_provider_batch.clients.qarnot.storage import check_bucket_name
from airflow_provider_batch.clients.qarnot.types import ResourceBucket, TaskSpec
from airflow_provider_batch.common.errors import InvalidJobSpecError
from airflow_provider_batch.common.jobref import JobRef
from airflow_provider_batch.common.states import JobStatus
from airflow_provider_batch.hooks.qarnot import QarnotHook, QarnotSubmission
from airflow_provider_batch.links.qarnot import QarnotConsoleLink
from airflow_provider_batch.operators.base import BatchJobOperator

SCHEDULING_TYPES = ("Flex", "OnDemand", "Reserved")
COMMAND_CONSTANTS = ("DOCKER_CMD",)


class QarnotOperator(BatchJobOperator[QarnotHook]):
    """Submit one task to Qarnot and wait for it (or defer while it runs).

    profile: the profile the instances run (e.g. "docker-batch"); or qarnot_pool: the uuid of a pool to run in.
    instance_count: how many instances (default 1); or instance_ranges: instance ids such as "0-3,7".
    constants: the profile's parameters, e.g. {"DOCKER_REPO": "library/ubuntu", "DOCKER_TAG": "latest",
        "DOCKER_CMD": "sh -c 'echo $INSTANCE_ID'"}.
    name: the task's name in Qarnot (default "<dag_id>.<task_id>"). tags, labels: extra tags and labels; the
        operator adds its own identity tags (how a retry finds the task an earlier try submitted).
    input_files: local files or folders to upload before submitting, by bucket: {"my-inputs": ["data/in.csv"]};
        the buckets are created if missing and given to the task as resources.
    input_buckets: existing buckets to give to the task as resources.
    result_bucket: the bucket the task's outputs are uploaded to (created if missing).
    results_dir: a local folder to download the result bucket into after the task succeeded.
    job: the uuid of a Qarnot job to submit the task into (the job decides the pool).
    hardware_constraints: Qarnot hardware constraint objects ({"discriminator": ..., ...}).
    scheduling_type: "Flex", "OnDemand" or "Reserved". max_retries_per_instance: Qarnot retries a failed instance.
    qarnot_conn_id: a `qarnot` connection (API URL, token, storage URL).

    Returns {job_id, name, tag, result_bucket, state}; the task uuid is also in XCom (`job_id`, `batch_job`). See
    BatchJobOperator for deferrable, poll_interval, timeout (the task is aborted past it), reattach_policy,
    wait_for_completion, container_logs (stdout and stderr lines copied into the task log).
    """

    template_fields: Sequence[str] = (
        "name",
        "profile",
        "qarnot_pool",
        "instance_ranges",
        "constants",
        "tags",
        "labels",
        "input_files",
        "input_buckets",
        "result_bucket",
        "results_dir",
        "job",
    )
    template_fields_renderers = {"constants": "json", "labels": "json", "input_files": "json"}
    operator_extra_links = (QarnotConsoleLink(),)
    hook_class = QarnotHook

    def __init__(
        self,
        *,
        profile: str | None = None,
        qarnot_pool: str | None = None,
        instance_count: int | None = None,
        instance_ranges: str | None = None,
        constants: Mapping[str, Any] | None = None,
        name: str | None = None,
        tags: Sequence[str] = (),
        labels: Mapping[str, str] | None = None,
        input_files: Mapping[str, Sequence[str] | str] | None = None,
        input_buckets: Sequence[str] = (),
        result_bucket: str | None = None,
        results_dir: str | None = None,
        job: str | None = None,
        hardware_constraints: Sequence[Mapping[str, Any]] = (),
        scheduling_type: str | None = None,
        max_retries_per_instance: int | None = None,
        qarnot_conn_id: str = QarnotHook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        super().__init__(conn_id=qarnot_conn_id, **kwargs)
        self.qarnot_conn_id = qarnot_conn_id
        # Checked here, at DAG parse time (a wrong type fails the DAG import, not each try of the task).
        if instance_count is not None:
            check_instance_count(instance_count)
        check_tags(list(tags) if isinstance(tags, tuple) else tags)
        for field, value in (("constants", constants), ("labels", labels), ("input_files", input_files)):
            if value is not None and not isinstance(value, Mapping):
                raise InvalidJobSpecError(field, f"is a {type(value).__name__}", "give a dict")
        input_buckets = () if input_buckets is None else input_buckets
        if isinstance(input_buckets, (str, bytes)) or not isinstance(input_buckets, Sequence):
            raise InvalidJobSpecError("input_buckets", f"is a {type(input_buckets).__name__}", "give a list of names")
        hardware_constraints = () if hardware_constraints is None else hardware_constraints
        if not isinstance(hardware_constraints, (list, tuple)) or not all(
            isinstance(h, Mapping) for h in hardware_constraints
        ):
            raise InvalidJobSpecError("hardware_constraints", "is not a list of dicts", '[{"discriminator": ...}]')
        if max_retries_per_instance is not None and (
            isinstance(max_retries_per_instance, bool)
            or not isinstance(max_retries_per_instance, int)
            or max_retries_per_instance < 0
        ):
            raise InvalidJobSpecError(
                "max_retries_per_instance", f"{max_retries_per_instance!r}", "a whole number >= 0"
            )
        self.profile = profile
        self.qarnot_pool = qarnot_pool
        self.instance_count = instance_count
        self.instance_ranges = instance_ranges
        self.constants = dict(constants or {})
        self.name = name
        self.tags = list(tags)
        self.labels = dict(labels or {})
        self.input_files = dict(input_files or {})
        self.input_buckets = list(input_buckets)
        self.result_bucket = result_bucket
        self.results_dir = results_dir
        self.job = job
        self.hardware_constraints = [dict(h) for h in hardware_constraints]
        self.scheduling_type = scheduling_type
        self.max_retries_per_instance = max_retries_per_instance

    def build_request(self, context: Mapping[str, Any]) -> QarnotSubmission:
        if bool(self.profile) == bool(self.qarnot_pool):
            problem = "both are set" if self.profile else "neither is set"
            raise InvalidJobSpecError(
                "profile", f"profile or qarnot_pool: {problem}", "give a profile (e.g. docker-batch) or a pool uuid"
            )
        if self.qarnot_pool and self.job:
            raise InvalidJobSpecError(
                "job", "a task in a job runs in the job's pool", "drop qarnot_pool, or submit without job"
            )
        count, ranges = self._instances()
        check_tags(self.tags)
        constants = {str(key): "" if value is None else str(value) for key, value in self.constants.items()}
        for key in COMMAND_CONSTANTS:
            if key in constants and not constants[key].strip():
                raise InvalidJobSpecError(f"constants.{key}", "is empty", "give the command the instances run")
        if self.scheduling_type is not None and self.scheduling_type not in SCHEDULING_TYPES:
            raise InvalidJobSpecError(
                "scheduling_type", f"{self.scheduling_type!r} is not known", f"use one of {', '.join(SCHEDULING_TYPES)}"
            )
        if self.results_dir and not self.result_bucket:
            raise InvalidJobSpecError("results_dir", "needs a result bucket", "set result_bucket too")
        input_files = self._input_files()
        for index, bucket in enumerate(self.input_buckets):
            check_bucket_name(bucket, f"input_buckets[{index}]")
        if self.result_bucket:
            check_bucket_name(self.result_bucket, "result_bucket")
        existing = [bucket for bucket in self.input_buckets if bucket not in input_files]
        self.hook.check_input_buckets(existing)
        ti = context["ti"]
        spec = TaskSpec(
            name=self.name or f"{ti.dag_id}.{ti.task_id}",
            profile=self.profile or None,
            pool_uuid=self.qarnot_pool or None,
            job_uuid=self.job or None,
            instance_count=count,
            advanced_ranges=ranges,
            constants=constants,
            tags=[str(tag) for tag in self.tags],
            labels={str(k): str(v) for k, v in self.labels.items()},
            resources=[ResourceBucket(b) for b in dict.fromkeys([*input_files, *self.input_buckets])],
            result_bucket=self.result_bucket or None,
            hardware_constraints=self.hardware_constraints,
            scheduling_type=self.scheduling_type,
            max_retries_per_instance=self.max_retries_per_instance,
        )
        validate_task_spec(spec)
        return QarnotSubmission(spec, input_files, self.result_bucket or None)

    def _instances(self) -> tuple[int | None, str | None]:
        if self.instance_count is not None and self.instance_ranges:
            raise InvalidJobSpecError(
                "instance_count", "instance_count and instance_ranges are both set", "give only one of them"
            )
        if self.instance_ranges:
            ranges = str(self.instance_ranges).replace(" ", "")
            instance_ids_count(ranges)
            return None, ranges
        count = 1 if self.instance_count is None else self.instance_count
        return check_instance_count(count), None

    def _input_files(self) -> dict[str, list[str]]:
        files: dict[str, list[str]] = {}
        for bucket, paths in self.input_files.items():
            if not isinstance(paths, (str, list, tuple)) or not all(isinstance(p, str) for p in paths):
                raise InvalidJobSpecError(f"input_files.{bucket}", "is not a path or a list of paths", '["a.csv"]')
            listed = [paths] if isinstance(paths, str) else list(paths)
            check_bucket_name(bucket, "input_files")
            if not listed:
                raise InvalidJobSpecError(
                    "input_files", f"bucket {bucket!r} has no files", 'map a bucket to local paths: {"in": ["a.csv"]}'
                )
            files[str(bucket)] = [str(p) for p in listed]
        return files

    def after_success(self, job: JobRef, status: JobStatus) -> None:
        if self.results_dir:
            paths = self.hook.download_results(job, self.results_dir)
            self.log.info("Downloaded %d result file(s) into %s", len(paths), self.results_dir)


class QarnotDeferrableOperator(QarnotOperator):
    """QarnotOperator that always defers while the task runs."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs["deferrable"] = True
        super().__init__(**kwargs)


__all__ = ["QarnotDeferrableOperator", "QarnotOperator"]
