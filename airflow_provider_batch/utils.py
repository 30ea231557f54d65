"""The original Armada operator's helpers under a short name: `from airflow_provider_batch.utils import ...`.

They live in `airflow_provider_batch.operators.utils` (the original `armada.operators.utils`); see there.
"""

from airflow_provider_batch.operators.utils import (
    ANNOTATION_KEY_PREFIX,
    JobState,
    airflow_error,
    annotate_job_request_items,
    default_job_status_callable,
    get_annotation_key_prefix,
    job_state_from_pb,
    search_for_job_complete,
    search_for_job_complete_async,
)

__all__ = [
    "ANNOTATION_KEY_PREFIX",
    "JobState",
    "airflow_error",
    "annotate_job_request_items",
    "default_job_status_callable",
    "get_annotation_key_prefix",
    "job_state_from_pb",
    "search_for_job_complete",
    "search_for_job_complete_async",
]
