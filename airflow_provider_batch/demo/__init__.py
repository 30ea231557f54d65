"""`make demo`: the example DAGs run with `airflow dags test` against the local Armada emulator.

- `sandbox`: a private Airflow home (SQLite, the example DAGs, an `armada_default` connection in the environment)
  and the `airflow` commands run in it; the end-to-end tests use it too.
- `airflow_state`: run inside that home, prints the DAG runs, task tries and job XComs as JSON.
- `jobs`: the jobs of a job set as the emulator saw them: who submitted them, final state, reason, log lines.
- `runner`: `python -m airflow_provider_batch.demo`.
"""
