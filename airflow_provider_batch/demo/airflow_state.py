"""`python -m airflow_provider_batch.demo.airflow_state DAG_ID...`, run with AIRFLOW_HOME set: prints one line
`AIRFLOW_STATE {json}` with, for each DAG, its latest run and every task instance's tries and job XCom:

    {dag_id: {"run_id", "state", "tasks": [{"task_id", "map_index", "state", "try_number",
                                            "tries": [{"try_number", "state"}], "job": JobRef JSON | null}]}
     | null when the DAG never ran}

Earlier tries come from the task instance history; `job` is the `batch_job` XCom of the last try.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

from airflow_provider_batch.demo.sandbox import STATE_PREFIX
from airflow_provider_batch.operators.base_keys import XCOM_JOB


def _state(value: Any) -> str | None:
    return None if value is None else str(getattr(value, "value", value))


def collect(dag_ids: Sequence[str]) -> dict[str, Any]:
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.taskinstancehistory import TaskInstanceHistory
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    answer: dict[str, Any] = {}
    with create_session() as session:
        for dag_id in dag_ids:
            query = select(DagRun).where(DagRun.dag_id == dag_id).order_by(DagRun.id.desc()).limit(1)
            run = session.scalars(query).first()
            if run is None:
                answer[dag_id] = None
                continue
            in_run = (TaskInstance.dag_id == dag_id, TaskInstance.run_id == run.run_id)
            history = session.scalars(
                select(TaskInstanceHistory).where(
                    TaskInstanceHistory.dag_id == dag_id, TaskInstanceHistory.run_id == run.run_id
                )
            ).all()
            earlier: dict[tuple[str, int], list[dict[str, Any]]] = {}
            for old in history:
                entry = {"try_number": old.try_number, "state": _state(old.state)}
                earlier.setdefault((old.task_id, old.map_index), []).append(entry)
            xcoms = session.scalars(
                select(XComModel).where(XComModel.dag_run_id == run.id, XComModel.key == XCOM_JOB)
            ).all()
            jobs = {(row.task_id, row.map_index): XComModel.deserialize_value(row) for row in xcoms}
            tasks = []
            for ti in session.scalars(select(TaskInstance).where(*in_run)).all():
                key = (ti.task_id, ti.map_index)
                tries = sorted(earlier.get(key, []), key=lambda entry: entry["try_number"])
                if not any(entry["try_number"] == ti.try_number for entry in tries):
                    tries.append({"try_number": ti.try_number, "state": _state(ti.state)})
                tasks.append(
                    {
                        "task_id": ti.task_id,
                        "map_index": ti.map_index,
                        "state": _state(ti.state),
                        "try_number": ti.try_number,
                        "tries": tries,
                        "job": jobs.get(key),
                    }
                )
            tasks.sort(key=lambda task: (task["task_id"], task["map_index"]))
            answer[dag_id] = {"run_id": run.run_id, "state": _state(run.state), "tasks": tasks}
    return answer


def main(argv: Sequence[str]) -> int:
    print(STATE_PREFIX + json.dumps(collect(argv)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
