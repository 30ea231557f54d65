"""`armada_client`, the original Armada Python client, under this prefix: change only the import lines.

`airflow_provider_batch.compat.armada_client.client.ArmadaClient` has the documented signatures of the original
(`create_queue(name, **queue_params)`, `cancel_jobs(queue=None, job_id=None, job_set_id=None)`, ...) and runs on this
provider's client (`clients/armada/client.py`): retries, validation and batching come with it. docs/migration.md
lists what differs.
"""
