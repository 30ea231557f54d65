"""QarnotState: every task, job and pool of the Qarnot emulator and the operations the routes call."""

from __future__ import annotations

from airflow_provider_batch.emulators.qarnot.job_ops import JobOps
from airflow_provider_batch.emulators.qarnot.pool_ops import PoolOps
from airflow_provider_batch.emulators.qarnot.snapshot_ops import SnapshotOps
from airflow_provider_batch.emulators.qarnot.store import Limits
from airflow_provider_batch.emulators.qarnot.task_ops import TaskOps


class QarnotState(TaskOps, JobOps, PoolOps, SnapshotOps):
    """The emulator's whole state: `Store` plus every kind of operation."""


__all__ = ["Limits", "QarnotState"]
