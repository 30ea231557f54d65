"""What the REST backends' typed errors share: the base class, which statuses may succeed later, and how the
server's own words are read from an error body. Each backend keeps its own classes and status mapping."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, ClassVar, TypeVar

from airflow_provider_batch.common.errors import SchedulerError

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
E = TypeVar("E", bound="HttpSchedulerError")


class HttpSchedulerError(SchedulerError):
    """An error answered by (or on the way to) a REST scheduler; `status` is the HTTP status, or the network
    error's name. Subclasses name their scheduler, say whether their kind of error is retryable by default, and
    which permanent refusal they are (`permanent_kind`, see common.errors; "" for none) with its fix."""

    scheduler_name: ClassVar[str] = ""
    retryable_by_default: ClassVar[bool] = False
    permanent_kind: ClassVar[str] = ""
    fix_text: ClassVar[str] = ""

    def __init__(self, call: str, status: str, message: str, retryable: bool | None = None) -> None:
        retry = self.retryable_by_default if retryable is None else retryable
        super().__init__(self.scheduler_name, call, status, message, retry, *self.classify(status, message))

    @classmethod
    def classify(cls, status: str, message: str) -> tuple[str, str]:
        """(kind, fix) of an answer of this class; subclasses whose statuses differ in kind override it."""
        return cls.permanent_kind, cls.fix_text

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.call, self.status, self.message, self.retryable))


def message_of(body: str, reason: str, keys: Sequence[str] = ("message", "error")) -> str:
    """The server's words: the first of `keys` in a JSON body, else the raw body, else the HTTP reason phrase."""
    text = body.strip()
    try:
        data = json.loads(text) if text else None
    except ValueError:
        data = None
    if isinstance(data, dict):
        for key in keys:
            if data.get(key):
                return str(data[key])
    return text[:2000] or reason


def network_error(error_class: type[E], call: str, error: BaseException) -> E:
    """A connection refused, reset or timed out, as the backend's retryable error (with no credential in it)."""
    return error_class(call, type(error).__name__, str(error) or type(error).__name__, True)
