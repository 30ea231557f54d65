"""Submitting to a scheduler that does not deduplicate by itself (Qarnot, Apolo), without ever submitting twice.

A submission's answer can be lost (a 5xx or a dropped connection after the scheduler took it), and a retried one can
be refused because its deterministic name is taken by that very first try. Either way the job exists: find it by
its submission tag instead of submitting again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from airflow_provider_batch.common.errors import is_transient
from airflow_provider_batch.common.retry import RetryPolicy

T = TypeVar("T")


def submit_once(
    send: Callable[[], T],
    earlier: Callable[[], T | None],
    name_taken: type[BaseException],
    retry: RetryPolicy,
    what: str,
) -> T:
    """`send()` with `retry` on transient errors; before each retry, and when `send` raises `name_taken`, use what
    `earlier()` finds (the job of this submission) if it finds anything."""
    attempts = 0

    def attempt() -> T:
        nonlocal attempts
        attempts += 1
        if attempts > 1 and (found := earlier()) is not None:
            return found
        try:
            return send()
        except name_taken:
            found = earlier()
            if found is None:
                raise
            return found

    return retry.call(attempt, is_transient, what)
