"""Shared fixtures: the Armada and Apolo emulators started through their command line, and authorized channels."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import grpc
import pytest

from airflow_provider_batch.emulators import LaunchedEmulators, launch
from airflow_provider_batch.emulators.testing import authorized_channel

# Fast steps keep every job's way to RUNNING at a few tens of milliseconds.
ARMADA_EMULATOR_ARGS = ["--only", "armada", "--armada-port", "0", "--admin-port", "0", "--step-ms", "10"]


@dataclass(frozen=True)
class ArmadaEmulatorEndpoint:
    """How to reach the CLI-started Armada emulator: gRPC target, bearer token, admin base URL."""

    target: str
    token: str
    admin: str
    launched: LaunchedEmulators

    def stats(self) -> dict[str, int]:
        return self.launched.stats()["armada"]

    def channel(self) -> grpc.Channel:
        return authorized_channel(self.target, self.token)


@pytest.fixture(scope="session")
def armada_emulator() -> Iterator[ArmadaEmulatorEndpoint]:
    """One emulator for the whole session (free ports, random token), stopped with SIGTERM at the end."""
    launched = launch(ARMADA_EMULATOR_ARGS)
    try:
        yield ArmadaEmulatorEndpoint(
            target=launched["armada"]["target"],
            token=launched["armada"]["token"],
            admin=launched.admin,
            launched=launched,
        )
    finally:
        launched.stop()


@pytest.fixture
def make_authorized_channel() -> Iterator[Callable[[str, str], grpc.Channel]]:
    """`make_authorized_channel(target, token)`: a blocking channel sending `authorization: Bearer <token>`;
    closed at teardown."""
    channels: list[grpc.Channel] = []

    def make(target: str, token: str) -> grpc.Channel:
        channel = authorized_channel(target, token)
        channels.append(channel)
        return channel

    yield make
    for channel in channels:
        channel.close()


@pytest.fixture
def armada_channel(
    armada_emulator: ArmadaEmulatorEndpoint, make_authorized_channel: Callable[[str, str], grpc.Channel]
) -> grpc.Channel:
    return make_authorized_channel(armada_emulator.target, armada_emulator.token)


@pytest.fixture
def armada_queue(armada_channel: grpc.Channel) -> str:
    """A new, empty queue on the session emulator."""
    from airflow_provider_batch._proto.armada import submit_pb2, submit_pb2_grpc

    name = f"test-{uuid.uuid4().hex[:12]}"
    submit_pb2_grpc.QueueServiceStub(armada_channel).CreateQueue(submit_pb2.Queue(name=name, priority_factor=1.0))
    return name


# Apolo: fast steps; one minute of max_run_time_minutes (life_span) lasts 0.5 s; a job on the preemptible preset
# `cpu-spot` is suspended once after 0.3 s of running (for 0.3 s); one platform secret for secret_env.
APOLO_EMULATOR_ARGS = [
    "--only", "apolo", "--apolo-port", "0", "--admin-port", "0", "--step-ms", "10",
    "--apolo-minute-ms", "500", "--apolo-suspend-ms", "300", "--apolo-secret", "emulator-secret=s3cr3t-value",
]  # fmt: skip


@dataclass(frozen=True)
class ApoloEmulatorEndpoint:
    """The CLI-started Apolo emulator: its READY entry (url, token, cluster, org, project, user, passed_config)."""

    entry: dict[str, Any]
    launched: LaunchedEmulators

    @property
    def url(self) -> str:
        return str(self.entry["url"])

    @property
    def token(self) -> str:
        return str(self.entry["token"])

    @property
    def passed_config(self) -> str:
        return str(self.entry["passed_config"])

    def stats(self) -> dict[str, int]:
        return self.launched.stats()["apolo"]

    def requests(self) -> list[dict[str, Any]]:
        return self.launched.requests("apolo")


@pytest.fixture(scope="session")
def apolo_emulator() -> Iterator[ApoloEmulatorEndpoint]:
    """One Apolo emulator for the whole session (free ports, random token), stopped with SIGTERM at the end."""
    launched = launch(APOLO_EMULATOR_ARGS)
    try:
        yield ApoloEmulatorEndpoint(entry=launched["apolo"], launched=launched)
    finally:
        launched.stop()


# The Qarnot emulator with its S3 storage (moto), fast steps.
QARNOT_EMULATOR_ARGS = [
    *("--only", "qarnot", "--qarnot-port", "0", "--s3-port", "0", "--admin-port", "0", "--step-ms", "10")
]


@dataclass(frozen=True)
class QarnotEmulatorEndpoint:
    """How to reach the CLI-started Qarnot emulator: REST base URL, raw token, S3 URL and email (the storage
    credentials are the email and the token), and the launched process (stats, recorded requests)."""

    url: str
    token: str
    storage_url: str
    email: str
    launched: LaunchedEmulators

    def stats(self) -> dict[str, int]:
        return self.launched.stats()["qarnot"]

    def requests(self) -> list[dict[str, Any]]:
        return self.launched.requests("qarnot")


@pytest.fixture(scope="session")
def qarnot_emulator() -> Iterator[QarnotEmulatorEndpoint]:
    """One Qarnot emulator for the whole session (free ports, random token), stopped with SIGTERM at the end."""
    launched = launch(QARNOT_EMULATOR_ARGS)
    try:
        ready = launched["qarnot"]
        yield QarnotEmulatorEndpoint(ready["url"], ready["token"], ready["storage_url"], ready["email"], launched)
    finally:
        launched.stop()
