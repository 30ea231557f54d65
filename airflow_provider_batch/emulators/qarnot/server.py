"""QarnotEmulator: the Qarnot REST API on aiohttp and its S3 storage (moto's server, in-process), both on loopback."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import shutil
import tempfile
from typing import Any

from aiohttp import web

from airflow_provider_batch.emulators.auth import TokenAuth
from airflow_provider_batch.emulators.base import CommonOptions, Emulator
from airflow_provider_batch.emulators.qarnot.errors import refuse, unauthorized, unavailable
from airflow_provider_batch.emulators.qarnot.lifecycle import TaskLifecycle
from airflow_provider_batch.emulators.qarnot.routes import Account, QarnotRoutes
from airflow_provider_batch.emulators.qarnot.state import Limits, QarnotState
from airflow_provider_batch.emulators.qarnot.storage import BucketSync, SignedMotoServer
from airflow_provider_batch.emulators.rest import expect_continue, http_url, rest_app, rest_middleware, serve

log = logging.getLogger(__name__)
DEFAULT_EMAIL = "emulator@qarnot.local"


class QarnotEmulator(Emulator):
    """Use as `async with QarnotEmulator(port=0, s3_port=0) as emu: emu.url, emu.storage_url, emu.token`."""

    name = "qarnot"

    def __init__(
        self,
        options: CommonOptions | None = None,
        *,
        port: int = 0,
        s3_port: int = 0,
        storage: bool = True,
        email: str = DEFAULT_EMAIL,
        limits: Limits | None = None,
        **common: Any,
    ) -> None:
        super().__init__(dataclasses.replace(options or CommonOptions(), **common))
        self.port = port
        self.s3_port = s3_port
        self.storage_enabled = storage
        self.account = Account(email)
        self.folder = tempfile.mkdtemp(prefix="qarnot-emulator-")
        self._moto: SignedMotoServer | None = None
        self._sync: BucketSync | None = None
        lifecycle = TaskLifecycle(self.runner, self.options.step_ms / 1000.0, self.folder, lambda: self._sync)
        self.state = QarnotState(lifecycle, lambda: self._sync, limits)
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return http_url(self.options.host, self.port)

    @property
    def storage_url(self) -> str | None:
        return self.account.storage_url

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        group = parser.add_argument_group("qarnot")
        group.add_argument("--qarnot-port", type=int, default=0, help="HTTP port of the Qarnot REST API (0 = free)")
        group.add_argument("--s3-port", type=int, default=0, help="port of the Qarnot storage, moto's S3 (0 = free)")
        group.add_argument(
            "--qarnot-no-storage", action="store_true", help="switch storage off: GET /settings gives storage null"
        )
        group.add_argument("--qarnot-email", default=DEFAULT_EMAIL, help="the account's email (the S3 access key)")
        group.add_argument("--qarnot-max-tasks", type=int, default=0, help="task quota: 403 beyond it (0 = none)")
        group.add_argument("--qarnot-max-jobs", type=int, default=0, help="job quota: 403 beyond it (0 = none)")
        group.add_argument("--qarnot-max-pools", type=int, default=0, help="pool quota: 403 beyond it (0 = none)")
        group.add_argument(
            "--qarnot-credits",
            type=int,
            default=0,
            help="instances the account can pay for over the run: 402 beyond it (0 = unlimited)",
        )

    @classmethod
    def from_arguments(cls, args: argparse.Namespace, options: CommonOptions) -> QarnotEmulator:
        limits = Limits(args.qarnot_max_tasks, args.qarnot_max_jobs, args.qarnot_max_pools, args.qarnot_credits)
        return cls(
            options,
            port=args.qarnot_port,
            s3_port=args.s3_port,
            storage=not args.qarnot_no_storage,
            email=args.qarnot_email,
            limits=limits,
        )

    async def start(self) -> None:
        try:
            await self._start()
        except BaseException:
            await self.stop()  # what did start (moto's thread, the temporary folder) goes
            raise

    async def _start(self) -> None:
        if self.storage_enabled:
            moto = SignedMotoServer(self.options.host, self.s3_port, self.account.email, self.token)
            await asyncio.to_thread(moto.start)
            self._moto = moto
            self.s3_port = moto.get_host_and_port()[1]
            # Advertised with the host as given (a service name in compose), like the REST URL, not as resolved.
            self.account.storage_url = http_url(self.options.host, self.s3_port)
            self._sync = BucketSync(self.account.storage_url, self.account.email, self.token)
        auth = TokenAuth(self.token, bare=True)
        middleware = rest_middleware(
            auth=auth,
            counter=self.counter,
            faults=self.faults,
            requests=self.requests,
            unauthorized=unauthorized,
            unavailable=unavailable,
            refuse=refuse,
        )
        app = rest_app([middleware])
        QarnotRoutes(self.state, self.account).install(app, expect_continue(auth=auth))
        self._runner, self.port = await serve(app, self.options.host, self.port)
        log.info("qarnot emulator listening on %s (storage %s)", self.url, self.account.storage_url or "off")

    async def stop(self) -> None:
        await self.state.shutdown()
        await self.runner.kill_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._moto is not None:
            await asyncio.to_thread(self._moto.stop)
            self._moto = None
        shutil.rmtree(self.folder, ignore_errors=True)

    def ready_info(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "token": self.token,
            "storage_url": self.account.storage_url,
            "email": self.account.email,
        }
