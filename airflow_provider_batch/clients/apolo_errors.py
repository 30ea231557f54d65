"""Apolo's HTTP answers as typed errors, each carrying the server's own `error` text.

Every class is a `SchedulerError`, so the retry policy and the operator know whether the same call may succeed later:
429, 502, 503, 504 and connection errors are retryable; 400/401/403/404 are not.
"""

from __future__ import annotations

import json
from typing import Any

from airflow_provider_batch.common.errors import SchedulerError

SCHEDULER = "Apolo"
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})


class ApoloError(SchedulerError):
    """Any error answered by (or on the way to) Apolo; `status` is the HTTP status, or the network error's name."""

    def __init__(self, call: str, status: str, message: str, retryable: bool = False) -> None:
        super().__init__(SCHEDULER, call, status, message, retryable)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.call, self.status, self.message, self.retryable))


class ApoloUnavailableError(ApoloError):
    """429, a 5xx, a network error or a broken stream: the same call may succeed later."""

    def __init__(self, call: str, status: str, message: str, retryable: bool = True) -> None:
        super().__init__(call, status, message, retryable)


class ApoloBadRequestError(ApoloError):
    """400: the request is wrong (an unknown preset, a bad name, a name that a live job already has, ...)."""


class ApoloNameTakenError(ApoloBadRequestError):
    """400 "job with name ... already exists": a live job of the project has this name."""


class ApoloAuthError(ApoloError):
    """401: the token is missing, wrong or expired."""


class ApoloForbiddenError(ApoloError):
    """403: the token may not do this (another project, a cluster it has no role in)."""


class ApoloNotFoundError(ApoloError):
    """404, or platform-api's 400 "no such job": the job (or route) does not exist."""


def message_of(body: str, reason: str) -> str:
    """The server's words: the JSON `error` (or `message`), else the raw body, else the HTTP reason phrase."""
    text = body.strip()
    try:
        data = json.loads(text) if text else None
    except ValueError:
        data = None
    if isinstance(data, dict):
        found = data.get("error") or data.get("message") or data.get("description")
        if found:
            return str(found)
    return text[:2000] or reason


def error_for(call: str, status: int, body: str, reason: str = "") -> ApoloError:
    """The typed error for a non-2xx answer."""
    message = message_of(body, reason)
    code = str(status)
    if status in RETRYABLE_STATUSES:
        return ApoloUnavailableError(call, code, message)
    if status == 401:
        return ApoloAuthError(call, code, message or "the token was refused")
    if status == 403:
        return ApoloForbiddenError(call, code, message)
    if status == 404 or (status == 400 and message.startswith("no such job")):
        return ApoloNotFoundError(call, code, message)
    if status == 400 and "already exists" in message and "name" in message:
        return ApoloNameTakenError(call, code, message)
    return ApoloBadRequestError(call, code, message)


def network_error(call: str, error: BaseException) -> ApoloUnavailableError:
    """A connection refused, reset or timed out, as a retryable error (with no credential in it)."""
    return ApoloUnavailableError(call, type(error).__name__, str(error) or type(error).__name__)
