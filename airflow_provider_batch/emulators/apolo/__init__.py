"""The Apolo emulator: platform-api's config and jobs routes and platform-monitoring's log WebSocket, top, kill and
capacity on one aiohttp port, running each job's command as a local process."""

from airflow_provider_batch.emulators.apolo.server import ApoloEmulator

__all__ = ["ApoloEmulator"]
