"""Errors as the Qarnot API sends them: an HTTP status and a JSON body `{"message": ...}` that the SDK reads (it
falls back to `error`, then to the raw text). 401 has an empty body the SDK never reads."""

from __future__ import annotations

from aiohttp import web


class QarnotError(Exception):
    """A refusal with the status code and message the real service would give."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def bad_request(message: str) -> QarnotError:
    """400: malformed input, or a pool or job that does not exist (the SDK maps it to QarnotGenericException)."""
    return QarnotError(400, message)


def not_enough_credits(message: str) -> QarnotError:
    """402: the account cannot pay for this (NotEnoughCreditsException)."""
    return QarnotError(402, message)


def forbidden(message: str) -> QarnotError:
    """403: a quota is reached ("Maximum number of tasks reached.") or the operation is not allowed now."""
    return QarnotError(403, message)


def not_found(message: str) -> QarnotError:
    """404: a missing task, job, pool, profile, instance or bucket."""
    return QarnotError(404, message)


def conflict(message: str) -> QarnotError:
    """409: a shortname already taken by another task, job or pool of the account."""
    return QarnotError(409, message)


def error_response(error: QarnotError) -> web.Response:
    return web.json_response({"message": error.message}, status=error.status)


def unauthorized(request: web.Request) -> web.Response:
    del request
    return web.json_response({"message": "Unauthorized: invalid or missing token"}, status=401)


def refuse(request: web.Request, status: int, message: str) -> web.Response:
    """A body refused before any work: 400 (not JSON, nested too deeply) or 413 (too large)."""
    del request
    return error_response(QarnotError(status, message))


def unavailable(request: web.Request) -> web.Response:
    del request
    return web.json_response({"message": "Service Unavailable"}, status=503)
