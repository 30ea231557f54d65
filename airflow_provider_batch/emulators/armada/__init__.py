"""The Armada emulator: api.Submit, api.QueueService, api.Event, api.Jobs and binoculars.Binoculars on one port."""

from airflow_provider_batch.emulators.armada.server import ArmadaEmulator

__all__ = ["ArmadaEmulator"]
