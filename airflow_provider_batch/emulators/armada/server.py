"""ArmadaEmulator: every Armada service (Submit, QueueService, Event, Jobs, Binoculars) on one grpc.aio port."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import re
from collections.abc import Sequence
from typing import Any

import grpc

from airflow_provider_batch._proto.armada import (
    binoculars_pb2_grpc,
    event_pb2_grpc,
    job_pb2_grpc,
    submit_pb2,
    submit_pb2_grpc,
)
from airflow_provider_batch.emulators.armada.servicers import (
    BinocularsServicer,
    EventServicer,
    JobsServicer,
    QueueServiceServicer,
    SubmitServicer,
)
from airflow_provider_batch.emulators.armada.state import ArmadaState
from airflow_provider_batch.emulators.auth import TokenAuth
from airflow_provider_batch.emulators.base import CommonOptions, Emulator
from airflow_provider_batch.emulators.interceptors import EmulatorInterceptor

log = logging.getLogger(__name__)

QUEUE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")


def queue_name(text: str) -> str:
    """An `--armada-queue` value, refused by argparse with the fix when it cannot be a queue name."""
    if not QUEUE_NAME.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a queue name: use 1 to 63 letters, digits, '-', '_' or '.', e.g. my-queue"
        )
    return text


SERVER_OPTIONS = [
    ("grpc.so_reuseport", 0),  # a busy port must fail to bind, not be shared
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
]


class ArmadaEmulator(Emulator):
    """Use as `async with ArmadaEmulator(port=0, token="t") as emu: emu.target`."""

    name = "armada"

    def __init__(
        self,
        options: CommonOptions | None = None,
        *,
        port: int = 0,
        ingest_lag_ms: float = 0.0,
        queues: Sequence[str] = (),
        **common: Any,
    ) -> None:
        """queues: the queues that exist from the start (none by default: a real Armada has none until an admin
        creates them); a job can only be submitted to a queue that exists."""
        super().__init__(dataclasses.replace(options or CommonOptions(), **common))
        self.port = port
        self.ingest_lag_ms = ingest_lag_ms
        self.state = ArmadaState(self.runner, self.options.step_ms / 1000.0, ingest_lag_ms / 1000.0)
        self.queues = list(dict.fromkeys(queues))  # in the order given, each once
        for name in self.queues:
            self.state.create_queue(submit_pb2.Queue(name=name, priority_factor=1.0))
        self._server: grpc.aio.Server | None = None

    @property
    def target(self) -> str:
        host = f"[{self.options.host}]" if ":" in self.options.host else self.options.host
        return f"{host}:{self.port}"

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        group = parser.add_argument_group("armada")
        group.add_argument("--armada-port", type=int, default=0, help="gRPC port for every Armada service (0 = free)")
        group.add_argument(
            "--ingest-lag-ms",
            type=float,
            default=0.0,
            help="the Jobs (query) service answers UNKNOWN for this long after submit, like lookout ingestion lag",
        )
        group.add_argument(
            "--armada-queue",
            action="append",
            default=[],
            type=queue_name,
            metavar="NAME",
            help="a queue that exists from the start (repeatable; none by default). The first is the default_queue "
            "of the printed armada connection",
        )

    @classmethod
    def from_arguments(cls, args: argparse.Namespace, options: CommonOptions) -> ArmadaEmulator:
        return cls(options, port=args.armada_port, ingest_lag_ms=args.ingest_lag_ms, queues=args.armada_queue)

    async def start(self) -> None:
        interceptor = EmulatorInterceptor(TokenAuth(self.token), self.counter, self.faults)
        server = grpc.aio.server(interceptors=[interceptor], options=SERVER_OPTIONS)
        submit_pb2_grpc.add_SubmitServicer_to_server(SubmitServicer(self.state), server)
        submit_pb2_grpc.add_QueueServiceServicer_to_server(QueueServiceServicer(self.state), server)
        event_pb2_grpc.add_EventServicer_to_server(EventServicer(self.state), server)
        job_pb2_grpc.add_JobsServicer_to_server(JobsServicer(self.state), server)
        binoculars_pb2_grpc.add_BinocularsServicer_to_server(BinocularsServicer(self.state), server)
        self.port = server.add_insecure_port(self.target)
        await server.start()
        self._server = server
        log.info("armada emulator listening on %s", self.target)

    async def stop(self) -> None:
        await self.state.shutdown()
        await self.runner.kill_all()
        if self._server is not None:
            await self._server.stop(grace=1.0)
            self._server = None

    def ready_info(self) -> dict[str, Any]:
        return {"target": self.target, "token": self.token, "queues": list(self.queues)}
