"""The admin HTTP server: `GET /stats` (calls answered per emulator and method), `POST /stats/reset`,
`GET /faults` (faults injected per emulator and method), `GET /requests` (the last requests each REST emulator
was sent, credentials redacted), `POST /requests/reset`, `GET /healthz`.

It has no auth, so it binds to loopback by default (`--admin-host`, independent of the emulators' `--host`): in
docker compose it is reached inside the container (`docker compose exec emulators curl 127.0.0.1:8094/stats`)."""

from __future__ import annotations

import socket
from collections.abc import Mapping

from aiohttp import web

from airflow_provider_batch.emulators.base import Emulator


class AdminServer:
    def __init__(self, emulators: Mapping[str, Emulator], host: str = "127.0.0.1", port: int = 0) -> None:
        self.emulators = dict(emulators)
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def stats(self) -> dict[str, dict[str, int]]:
        return {name: emulator.counter.snapshot() for name, emulator in self.emulators.items()}

    def faults(self) -> dict[str, dict[str, int]]:
        return {name: emulator.faults.injected.snapshot() for name, emulator in self.emulators.items()}

    def reset(self) -> None:
        for emulator in self.emulators.values():
            emulator.counter.reset()
            emulator.faults.injected.reset()

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/stats", self._get_stats)
        app.router.add_post("/stats/reset", self._reset_stats)
        app.router.add_get("/faults", self._get_faults)
        app.router.add_get("/requests", self._get_requests)
        app.router.add_post("/requests/reset", self._reset_requests)
        app.router.add_get("/healthz", self._healthz)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _get_stats(self, request: web.Request) -> web.Response:
        return web.json_response(self.stats())

    async def _get_faults(self, request: web.Request) -> web.Response:
        return web.json_response(self.faults())

    async def _reset_stats(self, request: web.Request) -> web.Response:
        self.reset()
        return web.json_response(self.stats())

    async def _get_requests(self, request: web.Request) -> web.Response:
        return web.json_response({name: emulator.requests.snapshot() for name, emulator in self.emulators.items()})

    async def _reset_requests(self, request: web.Request) -> web.Response:
        for emulator in self.emulators.values():
            emulator.requests.reset()
        return web.json_response({})

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})
