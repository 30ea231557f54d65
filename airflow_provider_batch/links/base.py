"""The extra link every batch operator shows: the job's page in its scheduler's UI, when the connection says where.

The operator stores the URL in XCom (`batch_job_url`) the moment the job exists; a backend's link only names itself.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseOperatorLink
from airflow.sdk.execution_time.xcom import XCom

from airflow_provider_batch.operators.base_keys import XCOM_JOB_URL

NO_JOB_YET = object()


class BatchJobLink(BaseOperatorLink):
    name = "Batch job"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        # On the worker, Airflow asks for the link at the end of every try, with the operator that ran. When that try
        # failed before any job existed (a refused submission, a wrong token), the key was never written and reading
        # it would log an "XCom not found" ERROR that reads like a second failure: there is no link to show then.
        # (The operator records the job in `_job`; the API server passes a serialized operator without it.)
        if getattr(operator, "_job", NO_JOB_YET) is None:
            return ""
        url = XCom.get_value(key=XCOM_JOB_URL, ti_key=ti_key)
        return str(url) if url else ""
