"""What the REST emulators (Qarnot, Apolo) share: one aiohttp middleware that counts, records, delays, injects
faults and checks the token the same way for every route, and the log of requests that `GET /requests` serves.

A route is counted and recorded under its template (`GET /tasks/{uuid}`), so that `/stats` does not grow one key per
job. Error bodies are each scheduler's own: the emulator passes `unauthorized` and `unavailable` responders in.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections import deque
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from airflow_provider_batch.emulators.auth import TokenAuth
from airflow_provider_batch.emulators.faults import FaultPlan, FaultPoint
from airflow_provider_batch.emulators.stats import CallCounter

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Responder = Callable[[web.Request], web.StreamResponse]
REDACTED = "<redacted>"


@dataclass(frozen=True)
class RecordedRequest:
    """One request as it reached the emulator; the credential is replaced by its shape (`Bearer <redacted>`)."""

    method: str
    route: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "route": self.route,
            "path": self.path,
            "query": self.query,
            "headers": self.headers,
            "body": self.body,
        }


class RequestLog:
    """The last `limit` requests, thread-safe (tests compare what two clients sent for the same call)."""

    def __init__(self, limit: int = 2000) -> None:
        self._lock = threading.Lock()
        self._items: deque[RecordedRequest] = deque(maxlen=limit)

    def add(self, item: RecordedRequest) -> None:
        with self._lock:
            self._items.append(item)

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return [item.to_json() for item in self._items]

    def reset(self) -> None:
        with self._lock:
            self._items.clear()


def route_of(request: web.Request) -> str:
    """`METHOD /template` of the matched route, or `METHOD <unmatched>`."""
    resource = request.match_info.route.resource
    template = resource.canonical if resource is not None else "<unmatched>"
    return f"{request.method} {template}"


def redacted_headers(request: web.Request) -> dict[str, str]:
    headers = {}
    for name, value in request.headers.items():
        if name.lower() in ("authorization", "cookie"):
            scheme, space, _ = value.partition(" ")
            value = f"{scheme} {REDACTED}" if space and scheme.lower() in ("bearer", "basic") else REDACTED
        headers[name.lower()] = value
    return headers


async def body_of(request: web.Request) -> Any:
    if not request.can_read_body:
        return None
    raw = await request.read()  # cached by aiohttp: the handler can still read it
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return raw.decode("utf-8", "replace")


def rest_middleware(
    *,
    auth: TokenAuth,
    counter: CallCounter,
    faults: FaultPlan,
    requests: RequestLog,
    unauthorized: Responder,
    unavailable: Responder,
    public: Collection[str] = (),
) -> Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]:
    """Count and record every request, add latency, check the token (except on `public` routes) and inject faults.

    A fault BEFORE the handler answers `unavailable` without doing the work; AFTER, the work is done and the reply
    is lost all the same (only clients that find their earlier work again survive that).
    """

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        route = route_of(request)
        counter.add(route)
        requests.add(
            RecordedRequest(
                request.method,
                route.partition(" ")[2],
                request.path,
                dict(request.query),
                redacted_headers(request),
                await body_of(request),
            )
        )
        if faults.latency_s:
            await asyncio.sleep(faults.latency_s)
        if route.partition(" ")[2] not in public and not auth.check(request.headers.get("Authorization")):
            return unauthorized(request)
        point = faults.unary(route)
        if point is FaultPoint.BEFORE:
            return unavailable(request)
        response = await handler(request)
        if point is FaultPoint.AFTER:
            return unavailable(request)
        return response

    return middleware


def http_url(host: str, port: int) -> str:
    """`http://host:port`, with an IPv6 host in brackets."""
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


async def serve(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, int]:
    """Serve `app` on host:port (0 = a free port, a busy one fails); the runner (`cleanup()` stops it) and the
    port bound."""
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
    await runner.setup()
    try:
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        sock.bind((host, port))
        await web.SockSite(runner, sock).start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner, int(sock.getsockname()[1])
