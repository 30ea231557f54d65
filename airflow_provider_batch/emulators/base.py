"""What every emulator (Armada now; Qarnot and Apolo later) offers the command line, the admin server and tests."""

from __future__ import annotations

import abc
import argparse
from dataclasses import dataclass
from types import TracebackType
from typing import Any, ClassVar, TypeVar

from airflow_provider_batch.emulators.auth import new_token
from airflow_provider_batch.emulators.faults import FaultPlan
from airflow_provider_batch.emulators.rest import RequestLog
from airflow_provider_batch.emulators.runner import ProcessRunner
from airflow_provider_batch.emulators.simulated import SimulatedRunner
from airflow_provider_batch.emulators.stats import CallCounter

E = TypeVar("E", bound="Emulator")


@dataclass(frozen=True)
class CommonOptions:
    """Settings shared by every emulator of one command line."""

    host: str = "127.0.0.1"
    token: str | None = None
    fault_rate: float = 0.0
    fault_seed: int | None = None
    latency_ms: float = 0.0
    step_ms: float = 50.0
    max_running: int = 64
    max_job_seconds: float = 600.0
    simulate_jobs: bool = False  # benchmark mode: a job is a simulated duration, no process (see simulated.py)


class Emulator(abc.ABC):
    """A local stand-in for one scheduler: starts listening, reports how to reach it, counts calls, stops."""

    name: ClassVar[str]

    def __init__(self, options: CommonOptions) -> None:
        self.options = options
        self.token = options.token or new_token()
        self.counter = CallCounter()
        self.requests = RequestLog()  # REST emulators record what they were sent; GET /requests serves it
        self.faults = FaultPlan(options.fault_rate, options.latency_ms, options.fault_seed)
        self.runner: ProcessRunner = (
            SimulatedRunner(options.max_running, options.max_job_seconds)
            if options.simulate_jobs
            else ProcessRunner(options.max_running, options.max_job_seconds)
        )

    @abc.abstractmethod
    async def start(self) -> None:
        """Listen; after this, `ready_info()` holds the real port."""

    @abc.abstractmethod
    async def stop(self) -> None:
        """Kill running jobs and stop listening."""

    @abc.abstractmethod
    def ready_info(self) -> dict[str, Any]:
        """This emulator's entry in the READY line, e.g. {"target": "127.0.0.1:50051", "token": "..."}."""

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        """Add this emulator's own command-line flags (prefix them with its name); none by default."""
        del parser

    @classmethod
    @abc.abstractmethod
    def from_arguments(cls: type[E], args: argparse.Namespace, options: CommonOptions) -> E:
        """Build from parsed command-line flags."""

    async def __aenter__(self: E) -> E:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()
