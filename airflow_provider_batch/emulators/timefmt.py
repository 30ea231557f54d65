"""RFC 3339 timestamps with nanoseconds (Go's RFC3339Nano), as Kubernetes and Binoculars print them."""

from __future__ import annotations

import calendar
import re
import time

_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$"
)


def format_ns(epoch_ns: int) -> str:
    """`2024-05-01T12:00:00.123456789Z` for nanoseconds since the epoch (always nine fraction digits, UTC)."""
    seconds, nanos = divmod(epoch_ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{nanos:09d}Z"


def parse_ns(text: str) -> int:
    """Nanoseconds since the epoch for an RFC 3339 timestamp; ValueError names the expected form."""
    match = _RFC3339.match(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not an RFC 3339 timestamp such as 2024-05-01T12:00:00.123456789Z")
    year, month, day, hour, minute, second = (int(match.group(i)) for i in range(1, 7))
    fraction = (match.group(7) or "").ljust(9, "0")
    seconds = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0))
    if match.group(9):
        offset = int(match.group(10)) * 3600 + int(match.group(11)) * 60
        seconds -= offset if match.group(9) == "+" else -offset
    return seconds * 1_000_000_000 + int(fraction or "0")


class MonotonicClock:
    """Wall-clock nanoseconds that never repeat or go back, so log lines and events keep a strict order."""

    def __init__(self) -> None:
        self._last = 0

    def now_ns(self) -> int:
        now = time.time_ns()
        self._last = now if now > self._last else self._last + 1
        return self._last
