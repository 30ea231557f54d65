"""The Qarnot emulator: the REST API the `qarnot` SDK speaks, tasks run as local processes, storage by moto's S3."""

from airflow_provider_batch.emulators.qarnot.server import QarnotEmulator

__all__ = ["QarnotEmulator"]
