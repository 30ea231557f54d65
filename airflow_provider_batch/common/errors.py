"""Errors shared by every backend: bad input caught before submitting, and scheduler answers.

A scheduler's refusal is either transient (the same call may succeed later: the client retries it with backoff) or
permanent (retrying cannot fix it: a wrong token, a missing permission, an unknown queue or project, a used-up quota
or credit, a request the scheduler calls invalid). The operator fails a task at once on a permanent one, with
`permanent_failure_message`: a short first line naming the connection, the scheduler's words and the fix.
"""

from __future__ import annotations

from typing import Any

# What kind of permanent refusal an error is (SchedulerError.kind); "" for any other error.
AUTHENTICATION = "authentication"
PERMISSION = "permission"
NOT_FOUND = "not found"
QUOTA = "quota"
CREDITS = "credits"
INVALID = "invalid"
PERMANENT_KINDS = frozenset({AUTHENTICATION, PERMISSION, NOT_FOUND, QUOTA, CREDITS, INVALID})

# The fix when the backend did not name a more precise one.
DEFAULT_FIXES: dict[str, str] = {
    AUTHENTICATION: "check the connection's password (the token): it is missing, wrong or expired",
    PERMISSION: "use a token that may do this, or ask the scheduler's admin to grant the permission",
    NOT_FOUND: "create what the message names, or point the task (or the connection) at one that exists",
    QUOTA: "wait for running jobs to end, or ask for a higher quota",
    CREDITS: "add credits to the account",
    INVALID: "correct the request as the message says",
}
FIRST_LINE_WORDS = 100  # characters of the scheduler's words on the first line; all of them follow on the next lines


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


class ConnectionSettingsError(BatchProviderError, ValueError):
    """An Airflow connection's fields or extras cannot be used (an empty host, a malformed extra); nothing was sent.
    No retry can get past it until someone edits the connection."""

    def __init__(self, conn_id: str, problem: str) -> None:
        self.conn_id = conn_id
        self.problem = problem
        super().__init__(f"connection {conn_id!r} is not usable: {problem}")


class SchedulerError(BatchProviderError):
    """The scheduler refused or failed a call. `message` is the scheduler's own words.

    `status` is the scheduler's status (a gRPC status name or an HTTP status); `retryable` says whether the same call
    may succeed later (the retry policy already retried it as far as it is allowed to). `kind` names a permanent
    refusal (AUTHENTICATION, PERMISSION, NOT_FOUND, QUOTA, CREDITS, INVALID; "" otherwise) and `fix` what to do
    about it, when the backend knows better than DEFAULT_FIXES.
    """

    def __init__(
        self,
        scheduler: str,
        call: str,
        status: str,
        message: str,
        retryable: bool = False,
        kind: str = "",
        fix: str = "",
    ) -> None:
        if kind and kind not in PERMANENT_KINDS:
            raise ValueError(f"kind: {kind!r} is not one of {sorted(PERMANENT_KINDS)}")
        self.scheduler = scheduler
        self.call = call
        self.status = status
        self.message = message
        self.retryable = retryable
        self.kind = kind
        self.fix = fix
        super().__init__(f"{scheduler} {call} failed with {status}: {message}")

    @property
    def permanent(self) -> bool:
        """Retrying cannot fix this: the task should fail at once instead of using its retries."""
        return bool(self.kind) and not self.retryable

    def __reduce__(self) -> tuple[Any, ...]:
        args = (self.scheduler, self.call, self.status, self.message, self.retryable, self.kind, self.fix)
        return (type(self), args)


def is_transient(error: BaseException) -> bool:
    """May the same call succeed later? Scheduler errors say so themselves; network errors always may."""
    if isinstance(error, SchedulerError):
        return error.retryable
    return isinstance(error, (ConnectionError, TimeoutError))


def is_permanent(error: BaseException) -> bool:
    """Is this a scheduler's refusal that no retry can fix (a wrong token, an unknown queue, a used-up quota...)?"""
    return isinstance(error, SchedulerError) and error.permanent


def permanent_failure_message(error: SchedulerError, conn_id: str, endpoint: str = "") -> str:
    """What a task's log says about a permanent refusal: a short first line (the UI's log view cuts long ones) with
    the scheduler's words, the connection id and the fix; then the details. Nothing secret is added: only the
    scheduler's own words, its status and the endpoint."""
    words = " ".join(error.message.split()).rstrip(".") or error.status
    short = words if len(words) <= FIRST_LINE_WORDS else words[: FIRST_LINE_WORDS - 1].rstrip() + "…"
    fix = (error.fix or DEFAULT_FIXES.get(error.kind) or DEFAULT_FIXES[INVALID]).rstrip(".")
    where = f" at {endpoint}" if endpoint else ""
    if error.kind == AUTHENTICATION:
        # Whichever call came first (often the lookup of an earlier submission), the token is what is wrong.
        first = f"Authentication was rejected by {error.scheduler}{where} for connection {conn_id}. Fix: {fix}."
        detail = f"{error.scheduler} answered {error.status}: {error.message}"
    else:
        verb = "denied permission" if error.kind == PERMISSION else "rejected the job"
        first = f"{error.scheduler} {verb}: {short} (connection {conn_id}). Fix: {fix}."
        detail = f"{error.scheduler}{where} answered {error.call} with {error.status}: {error.message}"
    return f"{first}\n{detail}\nRetrying cannot fix this, so the task fails now without using its retries."


def connection_test_failure(error: BaseException, conn_id: str, endpoint: str = "") -> str:
    """What a failed connection test says: a permanent refusal as a task would say it; anything else (the server
    cannot be reached, the connection cannot be read) in its own words, with the endpoint and connection."""
    if isinstance(error, SchedulerError) and error.permanent:
        return permanent_failure_message(error, conn_id, endpoint).rsplit("\n", 1)[0]
    where = f" at {endpoint}" if endpoint else ""
    return f"Connection {conn_id} failed{where}: {error}"
