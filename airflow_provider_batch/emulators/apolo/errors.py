"""Errors as platform-api and platform-monitoring send them: `{"error": "<message>"}` with 400 (bad request, and a
job that does not exist: "no such job <id>"), 401, 403; WebSocket handshakes also carry the body in `X-Error`."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web


class ApiError(Exception):
    """An HTTP error answer: status and JSON body."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(str(body.get("error") or json.dumps(body)))
        self.status = status
        self.body = body

    def response(self, *, websocket: bool = False) -> web.Response:
        headers = {"X-Error": json.dumps(self.body)} if websocket else None
        return web.json_response(self.body, status=self.status, headers=headers)


def bad_request(message: str) -> ApiError:
    return ApiError(400, {"error": message})


def data_error(message: str) -> ApiError:
    """A request-shape error (trafaret's DataError is a ValueError: platform-api answers 400)."""
    return bad_request(message)


def field_error(field: str, problem: str) -> ApiError:
    """A field-level trafaret error, printed the way trafaret prints a dict of errors."""
    return bad_request(f"{{'{field}': DataError('{problem}')}}")


def forbidden(message: str) -> ApiError:
    return ApiError(403, {"error": message})


def no_such_job(id_or_name: str) -> ApiError:
    """What platform-api answers for an unknown job id or name: a JobError, which its middleware turns into 400."""
    return bad_request(f"no such job {id_or_name}")


def is_websocket(request: web.Request) -> bool:
    return request.headers.get("Upgrade", "").lower() == "websocket"


def unauthorized(request: web.Request) -> web.Response:
    """aiohttp-security's plain answer to a missing or wrong token (platform-auth's middleware); on a WebSocket
    handshake platform-monitoring repeats the text in `X-Error`."""
    text = "401: Unauthorized"
    return web.Response(status=401, text=text, headers={"X-Error": text} if is_websocket(request) else None)


def unavailable(request: web.Request) -> web.Response:
    """What the ingress answers while the service is down: the emulator's injected faults look the same."""
    del request
    return web.Response(status=503, text="503: Service Unavailable")
