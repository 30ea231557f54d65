"""Bounds on what crosses a boundary: poll intervals, connection ids, job ids, job set ids and detail values.

No Airflow import here: the job service, the clients and the operators' parse-time checks all use these. Each check
raises `InvalidJobSpecError` (a ValueError) naming the field and the fix, or returns the value it checked.
"""

from __future__ import annotations

import math
import re
from typing import Any

from airflow_provider_batch.common.errors import InvalidJobSpecError

MIN_POLL_INTERVAL = 0.5  # seconds: faster than this costs the scheduler more than it tells anyone
MAX_POLL_INTERVAL = 3600.0  # seconds: slower than an hour looks like a unit mistake (ms for s)

MAX_CONN_ID_LENGTH = 250  # Airflow's connection.conn_id column
MAX_JOB_ID_LENGTH = 256  # Armada ULIDs (26), Qarnot UUIDs (36), Apolo "job-<uuid>" (40), with room to spare
MAX_JOB_SET_ID_LENGTH = 1023  # Armada refuses 1024 characters and more
MAX_QUEUE_LENGTH = 253  # an Armada queue name is at most a DNS subdomain
MAX_DETAIL_LENGTH = 1024

# A plain Airflow connection id: what `airflow connections add` and AIRFLOW_CONN_<ID> use. No JSON, no URL.
CONN_ID = re.compile(rf"[A-Za-z0-9_.-]{{1,{MAX_CONN_ID_LENGTH}}}")
JOB_ID = re.compile(rf"[A-Za-z0-9_.:-]{{1,{MAX_JOB_ID_LENGTH}}}")
# Control characters (NUL, newline, ...) have no place in a name that ends up in logs, SQL rows and URLs.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def check_poll_interval(value: Any, field: str = "poll_interval") -> float:
    """A finite number of seconds within [0.5, 3600] (a number, or a string of one); the value as a float."""
    bounds = f"{MIN_POLL_INTERVAL} s to {MAX_POLL_INTERVAL:g} s"
    try:
        if isinstance(value, bool):
            raise TypeError
        seconds = float(value)
    except (TypeError, ValueError):
        raise InvalidJobSpecError(field, f"{shown(value)} is not a number", f"give seconds, {bounds}") from None
    if not math.isfinite(seconds) or not MIN_POLL_INTERVAL <= seconds <= MAX_POLL_INTERVAL:
        raise InvalidJobSpecError(
            field,
            f"{shown(value)} is outside {bounds}",
            f"give a finite number of seconds between {MIN_POLL_INTERVAL} and {MAX_POLL_INTERVAL:g}",
        )
    return seconds


def check_conn_id(value: Any, field: str = "conn_id") -> str:
    """A plain Airflow connection id: letters, digits, '_', '.', '-', at most 250 characters."""
    return _check_pattern(
        value,
        field,
        CONN_ID,
        "an Airflow connection id",
        f"name a connection with letters, digits, '_', '.' or '-' (at most {MAX_CONN_ID_LENGTH} characters)",
    )


def check_job_id(value: Any, field: str = "job_id") -> str:
    """A scheduler's job id: letters, digits, '_', '.', ':', '-', at most 256 characters."""
    return _check_pattern(
        value,
        field,
        JOB_ID,
        "a job id",
        f"pass the id the scheduler gave (letters, digits, '_', '.', ':', '-'; at most {MAX_JOB_ID_LENGTH})",
    )


def _check_pattern(value: Any, field: str, pattern: re.Pattern[str], what: str, fix: str) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise InvalidJobSpecError(field, f"{shown(value)} is not {what}", fix)
    return value


def check_name(value: Any, field: str, max_length: int = MAX_DETAIL_LENGTH, required: bool = True) -> str:
    """A free-form name (a job set id, a queue, a tag): a string of printable characters, bounded in length."""
    if not isinstance(value, str):
        raise InvalidJobSpecError(field, f"is a {type(value).__name__}", "pass a string")
    if required and not value:
        raise InvalidJobSpecError(field, "is empty", "give it a value")
    if len(value) > max_length:
        raise InvalidJobSpecError(field, f"is {len(value)} characters", f"use at most {max_length}")
    if _CONTROL.search(value):
        raise InvalidJobSpecError(field, "holds control characters", "remove newlines, tabs and NUL characters")
    return value


def check_job_set_id(value: Any, field: str = "job_set_id") -> str:
    return check_name(value, field, MAX_JOB_SET_ID_LENGTH)


def check_queue(value: Any, field: str = "queue") -> str:
    return check_name(value, field, MAX_QUEUE_LENGTH)


def shown(value: Any) -> str:
    """A refused value as shown in a message: its start only (it may be long, or an attacker's payload)."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
