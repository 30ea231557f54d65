"""Qarnot's HTTP answers as typed errors, each carrying the server's own message.

Every class is a `SchedulerError`, so the retry policy and the operator know whether the same call may succeed later:
429, 5xx and connection errors are retryable; 401/402/403/404 and other 4xx are not.
"""

from __future__ import annotations

from airflow_provider_batch.common import http_errors
from airflow_provider_batch.common.http_errors import RETRYABLE_STATUSES, HttpSchedulerError

SCHEDULER = "Qarnot"


class QarnotError(HttpSchedulerError):
    """Any error answered by (or on the way to) the Qarnot API; `status` is the HTTP status, or the network error."""

    scheduler_name = SCHEDULER


class QarnotUnavailableError(QarnotError):
    """429, a 5xx or a network error (refused, reset, timed out): the same call may succeed later."""

    retryable_by_default = True


class QarnotUnauthorizedError(QarnotError):
    """401 (the token is wrong) or 403 (the token may not do this, e.g. abort a task that is not running)."""


class QarnotQuotaReachedError(QarnotError):
    """403 "maximum number of tasks/jobs/pools reached": wait for others to end or raise the quota."""


class QarnotNotEnoughCreditsError(QarnotError):
    """402: the account has no credits left for this submission."""


class QarnotBadRequestError(QarnotError):
    """400 and other 4xx: the request itself is wrong (e.g. an unknown pool or job)."""


class QarnotConflictError(QarnotBadRequestError):
    """409: the shortname is already taken by another task (or job, or pool) of the account."""


class QarnotMissingError(QarnotError):
    """404: the object named in the call does not exist (any more)."""


class QarnotMissingTaskError(QarnotMissingError):
    pass


class QarnotMissingJobError(QarnotMissingError):
    pass


class QarnotMissingPoolError(QarnotMissingError):
    pass


class QarnotMissingProfileError(QarnotMissingError):
    pass


class QarnotMissingBucketError(QarnotMissingError):
    pass


class QarnotStorageUnavailableError(QarnotError):
    """The cluster has no storage (GET /settings answered `"storage": null`) and none was configured."""


MISSING: dict[str, type[QarnotMissingError]] = {
    "task": QarnotMissingTaskError,
    "job": QarnotMissingJobError,
    "pool": QarnotMissingPoolError,
    "profile": QarnotMissingProfileError,
    "bucket": QarnotMissingBucketError,
}


def message_of(body: str, reason: str) -> str:
    """The server's words: `message`, else `error`, else the raw body, else the HTTP reason phrase."""
    return http_errors.message_of(body, reason, ("message", "error"))


def error_for(call: str, status: int, body: str, reason: str = "", missing: str = "") -> QarnotError:
    """The typed error for a non-2xx answer. `missing` names what a 404 means here ("task", "bucket", ...)."""
    message = message_of(body, reason)
    code = str(status)
    if status in RETRYABLE_STATUSES:
        return QarnotUnavailableError(call, code, message)
    if status == 401:
        return QarnotUnauthorizedError(call, code, message or "the token was refused")
    if status == 402:
        return QarnotNotEnoughCreditsError(call, code, message)
    if status == 403:
        if "maximum number of" in message.lower():
            return QarnotQuotaReachedError(call, code, message)
        return QarnotUnauthorizedError(call, code, message)
    if status == 404:
        return MISSING.get(missing, QarnotMissingError)(call, code, message)
    if status == 409:
        return QarnotConflictError(call, code, message)
    return QarnotBadRequestError(call, code, message)


def network_error(call: str, error: BaseException) -> QarnotUnavailableError:
    """A connection refused, reset or timed out, as a retryable error (with no URL credential in it)."""
    return http_errors.network_error(QarnotUnavailableError, call, error)
