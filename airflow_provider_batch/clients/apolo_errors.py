"""Apolo's HTTP answers as typed errors, each carrying the server's own `error` text.

Every class is a `SchedulerError`, so the retry policy and the operator know whether the same call may succeed later:
429, 502, 503, 504 and connection errors are retryable; 400/401/403/404 are not.
"""

from __future__ import annotations

from airflow_provider_batch.common import http_errors
from airflow_provider_batch.common.http_errors import RETRYABLE_STATUSES, HttpSchedulerError

SCHEDULER = "Apolo"


class ApoloError(HttpSchedulerError):
    """Any error answered by (or on the way to) Apolo; `status` is the HTTP status, or the network error's name."""

    scheduler_name = SCHEDULER


class ApoloUnavailableError(ApoloError):
    """429, a 5xx, a network error or a broken stream: the same call may succeed later."""

    retryable_by_default = True


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


class ApoloNoSuchJobError(ApoloNotFoundError, ApoloBadRequestError):
    """platform-api's 400 "no such job": a missing job, that code catching bad requests (as the SDK's
    IllegalArgumentError does for this answer) catches too."""


def message_of(body: str, reason: str) -> str:
    """The server's words: the JSON `error` (or `message`, `description`), else the raw body, else the reason."""
    return http_errors.message_of(body, reason, ("error", "message", "description"))


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
    if status == 400 and message.startswith("no such job"):
        return ApoloNoSuchJobError(call, code, message)
    if status == 404:
        return ApoloNotFoundError(call, code, message)
    if status == 400 and "already exists" in message and "name" in message:
        return ApoloNameTakenError(call, code, message)
    return ApoloBadRequestError(call, code, message)


def network_error(call: str, error: BaseException) -> ApoloUnavailableError:
    """A connection refused, reset or timed out, as a retryable error (with no credential in it)."""
    return http_errors.network_error(ApoloUnavailableError, call, error)
