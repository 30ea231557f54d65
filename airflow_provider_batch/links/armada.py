"""A link from the task to the job's page in Armada's Lookout UI."""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseOperatorLink
from airflow.sdk.execution_time.xcom import XCom

from airflow_provider_batch.operators.base_keys import XCOM_JOB_URL


class ArmadaLookoutLink(BaseOperatorLink):
    """Shown when the `armada` connection has a Lookout URL template; the operator stores the URL in XCom."""

    name = "Armada Lookout"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        url = XCom.get_value(key=XCOM_JOB_URL, ti_key=ti_key)
        return str(url) if url else ""
