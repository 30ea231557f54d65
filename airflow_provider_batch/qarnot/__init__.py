"""The Qarnot SDK's surface (`qarnot` 2.x: `Connection`, `Task`, `Job`, `Pool`, `Bucket`, its exception names) on
our Qarnot client. A script moves over by changing its imports: `from qarnot.connection import Connection` becomes
`from airflow_provider_batch.qarnot.connection import Connection` (same for `.task`, `.job`, `.pool`, `.bucket`,
`.exceptions`), or `import qarnot` becomes `from airflow_provider_batch import qarnot`. See docs/migration.md."""

from __future__ import annotations

from airflow_provider_batch.qarnot import exceptions
from airflow_provider_batch.qarnot.bucket import Bucket
from airflow_provider_batch.qarnot.connection import Connection
from airflow_provider_batch.qarnot.job import Job
from airflow_provider_batch.qarnot.pool import Pool
from airflow_provider_batch.qarnot.task import Task

__all__ = ["Bucket", "Connection", "Job", "Pool", "Task", "exceptions"]
