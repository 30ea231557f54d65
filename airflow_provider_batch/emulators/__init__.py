"""Local, wire-compatible stand-ins for the batch schedulers, which run each job's command as a local process.

- `ArmadaEmulator`: in-process (`async with ArmadaEmulator(port=0) as emu: emu.target, emu.token`).
- `launch(args)`: the command line `python -m airflow_provider_batch.emulators` as a child process, READY parsed.
"""

from airflow_provider_batch.emulators.armada import ArmadaEmulator
from airflow_provider_batch.emulators.base import CommonOptions, Emulator
from airflow_provider_batch.emulators.launch import LaunchedEmulators, launch

__all__ = ["ArmadaEmulator", "CommonOptions", "Emulator", "LaunchedEmulators", "launch"]
