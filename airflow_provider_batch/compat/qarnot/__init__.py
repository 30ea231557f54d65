"""The Qarnot SDK's surface (`qarnot` 2.x: `Connection`, `Task`, `Job`, `Pool`, `Bucket`, its exception names) on
our Qarnot client. A script moves over by changing its imports: `from qarnot.connection import Connection` becomes
`from airflow_provider_batch.compat.qarnot.connection import Connection` (same for `.task`, `.job`, `.pool`, `.bucket`,
`.exceptions`), or `import qarnot` becomes `from airflow_provider_batch.compat import qarnot`. See docs/migration.md."""

from __future__ import annotations

from airflow_provider_batch.compat.qarnot import exceptions
from airflow_provider_batch.compat.qarnot.bucket import Bucket
from airflow_provider_batch.compat.qarnot.connection import Connection
from airflow_provider_batch.compat.qarnot.job import Job
from airflow_provider_batch.compat.qarnot.pool import Pool
from airflow_provider_batch.compat.qarnot.task import Task

__all__ = ["Bucket", "Connection", "Job", "Pool", "Task", "exceptions"]
