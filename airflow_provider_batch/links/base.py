"""The extra link every batch operator shows: the job's page in its scheduler's UI, when the connection says where.

The operator stores the URL in XCom (`batch_job_url`) the moment the job exists; a backend's link only names itself.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseOperatorLink
from airflow.sdk.execution_time.xcom import XCom

from airflow_provider_batch.operators.base_keys import XCOM_JOB_URL


class BatchJobLink(BaseOperatorLink):
    name = "Batch job"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        url = XCom.get_value(key=XCOM_JOB_URL, ti_key=ti_key)
        return str(url) if url else ""
