"""Every emulator the command line can serve, by name. A new emulator (Qarnot, Apolo) is one line here."""

from __future__ import annotations

from airflow_provider_batch.emulators.apolo import ApoloEmulator
from airflow_provider_batch.emulators.armada import ArmadaEmulator
from airflow_provider_batch.emulators.base import Emulator
from airflow_provider_batch.emulators.qarnot import QarnotEmulator

EMULATORS: dict[str, type[Emulator]] = {
    ArmadaEmulator.name: ArmadaEmulator,
    ApoloEmulator.name: ApoloEmulator,
    QarnotEmulator.name: QarnotEmulator,
}
