"""Apolo's HTTP answers as typed errors, each carrying the server's own `error` text.

Every class is a `SchedulerError`, so the retry policy and the operator know whether the same call may succeed later:
429, 502, 503, 504 and connection errors are retryable; 400/401/402/403/404/422 are not, and are permanent: each
class says which permanent refusal it is (`permanent_kind`) and its fix, so that a task fails at once on it.
"""

from __future__ import annotations

from airflow_provider_batch.common import errors, http_errors
from airflow_provider_batch.common.http_errors import RETRYABLE_STATUSES, HttpSchedulerError

SCHEDULER = "Apolo"


class ApoloError(HttpSchedulerError):
    """Any error answered by (or on the way to) Apolo; `status` is the HTTP status, or the network error's name."""

    scheduler_name = SCHEDULER


class ApoloUnavailableError(ApoloError):
    """429, a 5xx, a network error or a broken stream: the same call may succeed later."""

    retryable_by_default = True


class ApoloBadRequestError(ApoloError):
    """400 or 422: the request is wrong (an unknown preset, a bad name, a name that a live job already has, ...)."""

    permanent_kind = errors.INVALID
    fix_text = "correct the job as the message says"


class ApoloNameTakenError(ApoloBadRequestError):
    """400 "job with name ... already exists": a live job of the project has this name."""


class ApoloAuthError(ApoloError):
    """401: the token is missing, wrong or expired."""

    permanent_kind = errors.AUTHENTICATION
    fix_text = "check the connection's password (an Apolo token or passed-config blob): it is wrong or expired"


class ApoloQuotaError(ApoloBadRequestError):
    """402, or a 400 or 422 that speaks of a quota or credits: the project or org has used up what it may run.
    A bad request as well, as the SDK raises IllegalArgumentError for these answers."""

    permanent_kind = errors.QUOTA
    fix_text = "wait for running jobs to end, ask for more quota or credits, or pass wait_for_jobs_quota=True"


class ApoloForbiddenError(ApoloError):
    """403: the token may not do this (another project, a cluster it has no role in)."""

    permanent_kind = errors.PERMISSION
    fix_text = "set the connection's project (or cluster, org) to one the token may use, or ask for write access"


class ApoloNotFoundError(ApoloError):
    """404, or platform-api's 400 "no such job": the job (or route) does not exist."""

    permanent_kind = errors.NOT_FOUND
    fix_text = "check the connection's host (the API URL ends in /api/v1) and the job or project named"


class ApoloNoSuchJobError(ApoloNotFoundError, ApoloBadRequestError):
    """platform-api's 400 "no such job": a missing job, that code catching bad requests (as the SDK's
    IllegalArgumentError does for this answer) catches too."""


QUOTA_WORDS = ("quota", "credits")


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
    if status == 402 or (status in (400, 422) and any(word in message.lower() for word in QUOTA_WORDS)):
        return ApoloQuotaError(call, code, message)
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
