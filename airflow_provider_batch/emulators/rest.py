"""What the REST emulators (Qarnot, Apolo) share: one aiohttp middleware that counts, records, delays, injects
faults and checks the token the same way for every route, and the log of requests that `GET /requests` serves.

A route is counted and recorded under its template (`GET /tasks/{uuid}`), so that `/stats` does not grow one key per
job. Error bodies are each scheduler's own: the emulator passes its `unauthorized`, `unavailable` and `refuse`
responders in.

What a request may cost is bounded before any of it is read: the token is checked first (a request without it is
answered 401 and its body is never read), a body is at most `MAX_JSON_BODY` bytes (413 otherwise, from its
Content-Length before reading, or once a chunked body passes the limit), and a JSON body must parse, without NaN or
Infinity, at most `MAX_JSON_DEPTH` levels deep (400 otherwise). An application served with this middleware is made
with `client_max_size=MAX_JSON_BODY` (`rest_app`).
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

from aiohttp import HttpVersion11, web

from airflow_provider_batch.emulators.auth import TokenAuth
from airflow_provider_batch.emulators.faults import FaultPlan, FaultPoint
from airflow_provider_batch.emulators.stats import CallCounter

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Responder = Callable[[web.Request], web.StreamResponse]
Refuser = Callable[[web.Request, int, str], web.StreamResponse]
REDACTED = "<redacted>"
MAX_JSON_BODY = 16 * 1024 * 1024
"""The largest request body a REST emulator reads (16 MiB); the real APIs' own limits are not lower in practice."""
MAX_JSON_DEPTH = 64
"""How deeply a JSON body may nest (objects and arrays); real requests nest fewer than 10 levels."""
MAX_RECORDED_BODY = 64 * 1024
"""Larger bodies are recorded in the request log by their size only, so that the log stays small."""


def _request_key(name: str, kind: type) -> Any:
    """A typed request-storage key where aiohttp has them (3.14+), else a plain string (the 3.12 floor)."""
    factory = getattr(web, "RequestKey", None)
    return factory(name, kind) if factory is not None else f"airflow_provider_batch.{name}"


_RAW_BODY = _request_key("raw_body", bytes)
_JSON_BODY = _request_key("json_body", object)


class BodyError(ValueError):
    """A request body refused before any work: `status` is 400 (not JSON, too deep) or 413 (too large)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def nesting(value: Any) -> int:
    """How many levels of objects and arrays `value` has (0 for a scalar), without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in children)
    return deepest


def parse_json(raw: bytes, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """The JSON document in `raw` (None for an empty body), or BodyError(400) saying what is wrong with it."""
    if not raw.strip():
        return None
    too_deep = f"the request body nests deeper than {max_depth} levels; send a flatter JSON document"
    try:
        value = json.loads(raw, parse_constant=_no_constant)
    except RecursionError:  # the C scanner recurses per level: thousands of brackets exhaust the stack
        raise BodyError(400, too_deep) from None
    except ValueError as err:  # also UnicodeDecodeError, and integers longer than Python converts
        raise BodyError(400, f"the request body is not valid JSON: {err}; send a UTF-8 JSON document") from None
    if nesting(value) > max_depth:
        raise BodyError(400, too_deep)
    return value


def json_type(value: Any) -> str:
    """`an object`, `an array`, `a string`, `a number`, `a boolean` or `null`: a JSON value's type in words."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    kinds = {dict: "an object", list: "an array", str: "a string", int: "a number", float: "a number"}
    return next((name for kind, name in kinds.items() if isinstance(value, kind)), type(value).__name__)


def too_large(limit: int) -> BodyError:
    return BodyError(413, f"the request body is larger than {limit // (1024 * 1024)} MiB; send a smaller request")


async def read_body(request: web.Request, limit: int = MAX_JSON_BODY) -> bytes:
    """The request's body, at most `limit` bytes (BodyError 413 otherwise, before reading when Content-Length says
    so); aiohttp keeps it, so `request.read()` and `request.json()` still work in the handler."""
    if not request.can_read_body:
        return b""
    if request.content_length is not None and request.content_length > limit:
        raise too_large(limit)
    try:
        raw = await request.read()  # a chunked body stops at the application's client_max_size
    except web.HTTPRequestEntityTooLarge:
        raise too_large(limit) from None
    except ConnectionResetError:  # the client went away mid-body: nobody to answer, nothing to log a traceback for
        raise BodyError(400, "the connection closed before the request body was complete") from None
    if len(raw) > limit:
        raise too_large(limit)
    return raw


async def json_body(request: web.Request) -> Any:
    """The request's JSON body (None when empty), as the middleware parsed it; BodyError if it is not JSON."""
    if _JSON_BODY in request:
        return request[_JSON_BODY]
    raw = request[_RAW_BODY] if _RAW_BODY in request else await read_body(request)
    value = parse_json(raw)
    request[_JSON_BODY] = value
    return value


def json_refusal(request: web.Request, status: int, message: str) -> web.Response:
    """The default answer to a refused body: `{"error": message}`."""
    del request
    return web.json_response({"error": message}, status=status)


def rest_app(middlewares: list[Any]) -> web.Application:
    """An aiohttp application that reads at most MAX_JSON_BODY bytes of any request body."""
    return web.Application(middlewares=middlewares, client_max_size=MAX_JSON_BODY)


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


def recorded_body(raw: bytes) -> Any:
    """What the request log keeps of a body: its JSON, else its text; only the size of a large one."""
    if len(raw) > MAX_RECORDED_BODY:
        return f"<{len(raw)} bytes, not recorded>"
    try:
        return parse_json(raw)
    except BodyError:
        return raw.decode("utf-8", "replace")


def _is_json(request: web.Request) -> bool:
    content_type = request.content_type.lower()
    return content_type == "application/json" or content_type.endswith("+json")


def rest_middleware(
    *,
    auth: TokenAuth,
    counter: CallCounter,
    faults: FaultPlan,
    requests: RequestLog,
    unauthorized: Responder,
    unavailable: Responder,
    refuse: Refuser = json_refusal,
    public: Collection[str] = (),
    max_body: int = MAX_JSON_BODY,
) -> Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]:
    """Count and record every request, add latency, check the token (except on `public` routes), bound and parse
    the body, and inject faults.

    The token is checked before the body is read: a request without it costs its headers only (aiohttp discards
    the unread body). A body larger than `max_body` is answered 413, a JSON one (by its Content-Type) that does
    not parse or nests too deeply 400, each through `refuse(request, status, message)` in the scheduler's words.
    A fault BEFORE the handler answers `unavailable` without doing the work; AFTER, the work is done and the reply
    is lost all the same (only clients that find their earlier work again survive that).
    """

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        route = route_of(request)
        template = route.partition(" ")[2]
        counter.add(route)

        def record(body: Any) -> None:
            recorded = RecordedRequest(
                request.method, template, request.path, dict(request.query), redacted_headers(request), body
            )
            requests.add(recorded)

        if faults.latency_s:
            await asyncio.sleep(faults.latency_s)
        if template not in public and not auth.check(request.headers.get("Authorization")):
            record(None)  # the body is not read
            return unauthorized(request)
        try:
            raw = await read_body(request, max_body)
            request[_RAW_BODY] = raw
            if raw and _is_json(request):
                request[_JSON_BODY] = parse_json(raw)
        except BodyError as err:
            record(f"<refused: {err.message}>")
            return refuse(request, err.status, err.message)
        record(recorded_body(raw))
        point = faults.unary(route)
        if point is FaultPoint.BEFORE:
            return unavailable(request)
        response = await handler(request)
        if point is FaultPoint.AFTER:
            return unavailable(request)
        return response

    return middleware


ExpectHandler = Callable[[web.Request], Awaitable[None]]


def expect_continue(*, auth: TokenAuth, public: Collection[str] = (), max_body: int = MAX_JSON_BODY) -> ExpectHandler:
    """A route's `Expect: 100-continue` handler: it invites the body only from a client with the token whose
    Content-Length is within `max_body`; otherwise it stays silent, the middleware answers 401 or 413, and the
    client never sends the body (aiohttp's default invites every body before any middleware runs)."""

    async def expect(request: web.Request) -> None:
        value = request.headers.get("Expect", "")
        if request.version != HttpVersion11:
            return
        if value.lower() != "100-continue":
            raise web.HTTPExpectationFailed(text=f"Unknown Expect: {value}")
        template = route_of(request).partition(" ")[2]
        if template not in public and not auth.check(request.headers.get("Authorization")):
            return
        if request.content_length is not None and request.content_length > max_body:
            return
        await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        request.writer.output_size = 0  # the 100 is not part of the response, as in aiohttp's own handler

    return expect


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
