"""Errors shared by every backend: bad input caught before submitting, and scheduler answers."""

from __future__ import annotations


class BatchProviderError(Exception):
    """Base of every error this package raises on purpose."""


class InvalidJobSpecError(BatchProviderError, ValueError):
    """The job request is wrong; nothing was sent. `field` is the path of the offending field."""

    def __init__(self, field: str, problem: str, fix: str = "") -> None:
        self.field = field
        self.problem = problem
        self.fix = fix
        text = f"{field}: {problem}"
        if fix:
            text += f" ({fix})"
        super().__init__(text)


class SchedulerError(BatchProviderError):
    """The scheduler refused or failed a call. `message` is the scheduler's own words.

    `status` is the scheduler's status (a gRPC status name or an HTTP status); `retryable` says whether the same call
    may succeed later (the retry policy already retried it as far as it is allowed to).
    """

    def __init__(self, scheduler: str, call: str, status: str, message: str, retryable: bool = False) -> None:
        self.scheduler = scheduler
        self.call = call
        self.status = status
        self.message = message
        self.retryable = retryable
        super().__init__(f"{scheduler} {call} failed with {status}: {message}")

    def __reduce__(self) -> tuple[type[SchedulerError], tuple[str, str, str, str, bool]]:
        return (type(self), (self.scheduler, self.call, self.status, self.message, self.retryable))


def is_transient(error: BaseException) -> bool:
    """May the same call succeed later? Scheduler errors say so themselves; network errors always may."""
    if isinstance(error, SchedulerError):
        return error.retryable
    return isinstance(error, (ConnectionError, TimeoutError))
