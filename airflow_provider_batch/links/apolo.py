"""A link from the task to the Apolo job's page."""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseOperatorLink
from airflow.sdk.execution_time.xcom import XCom

from airflow_provider_batch.operators.base_keys import XCOM_JOB_URL


class ApoloJobLink(BaseOperatorLink):
    """Shown when the `apolo` connection has a job URL template; the operator stores the URL in XCom."""

    name = "Apolo job"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        url = XCom.get_value(key=XCOM_JOB_URL, ti_key=ti_key)
        return str(url) if url else ""
