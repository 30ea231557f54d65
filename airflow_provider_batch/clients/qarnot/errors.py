"""Qarnot's HTTP answers as typed errors, each carrying the server's own message.

Every class is a `SchedulerError`, so the retry policy and the operator know whether the same call may succeed later:
429, 5xx and connection errors are retryable; 401/402/403/404 and other 4xx are not, and are permanent: each class
says which permanent refusal it is (`permanent_kind`) and its fix, so that a task fails at once on it.
"""

from __future__ import annotations

from airflow_provider_batch.common import errors, http_errors
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

    @classmethod
    def classify(cls, status: str, message: str) -> tuple[str, str]:
        if status == "401":
            return errors.AUTHENTICATION, "check the connection's password (the Qarnot API token of your account page)"
        return errors.PERMISSION, "use the token of an account that may do this"


class QarnotQuotaReachedError(QarnotError):
    """403 "maximum number of tasks/jobs/pools reached": wait for others to end or raise the quota."""

    permanent_kind = errors.QUOTA
    fix_text = "delete finished tasks, jobs or pools of the account, or ask Qarnot for a higher quota"


class QarnotNotEnoughCreditsError(QarnotError):
    """402: the account has no credits left for this submission."""

    permanent_kind = errors.CREDITS
    fix_text = "add credits to the Qarnot account, or ask for fewer instances"


class QarnotBadRequestError(QarnotError):
    """400 and other 4xx: the request itself is wrong (e.g. an unknown pool or job)."""

    permanent_kind = errors.INVALID
    fix_text = "correct the task as the message says (an unknown pool or job: create it, or name one that exists)"


class QarnotConflictError(QarnotBadRequestError):
    """409: the shortname is already taken by another task (or job, or pool) of the account."""


class QarnotMissingError(QarnotError):
    """404: the object named in the call does not exist (any more)."""

    permanent_kind = errors.NOT_FOUND
    fix_text = "create what the message names (bucket, profile, pool, job), or name one that exists"


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

    permanent_kind = errors.INVALID
    fix_text = "set storage_url in the connection's extras, or submit without buckets"


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
    if status == 402 and "hardware constraint" not in message.lower():
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
