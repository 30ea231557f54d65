"""Qarnot instance ranges: `advancedRanges` such as "0-3,7" (instance ids), and the range strings the API reports
back (`succeededRange`, `failedRange`)."""

from __future__ import annotations

from collections.abc import Iterable

MAX_INSTANCES = 10_000  # more instance ids than this in one task is refused, like any quota


def parse_ranges(text: str) -> list[int]:
    """The sorted, distinct instance ids of "0-3,7"; ValueError says what is wrong with the text."""
    ids: set[int] = set()
    if not text or not text.strip():
        raise ValueError("advancedRanges is empty; give instance ids such as '0-3,7'")
    for part in text.split(","):
        part = part.strip()
        low, dash, high = part.partition("-")
        try:
            first = int(low)
            last = int(high) if dash else first
        except ValueError:
            raise ValueError(f"advancedRanges: {part!r} is not an id or a range such as '0-3'") from None
        if first < 0 or last < first:
            raise ValueError(f"advancedRanges: {part!r} must be increasing non-negative ids")
        if last - first + 1 + len(ids) > MAX_INSTANCES:
            raise ValueError(f"advancedRanges: more than {MAX_INSTANCES} instances")
        ids.update(range(first, last + 1))
    return sorted(ids)


def format_ranges(ids: Iterable[int]) -> str:
    """ "0-3,7" for the ids 0, 1, 2, 3, 7 ("" for none)."""
    parts: list[str] = []
    ordered = sorted(set(ids))
    start = previous = None
    for current in [*ordered, None]:
        if current is not None and previous is not None and current == previous + 1:
            previous = current
            continue
        if start is not None and previous is not None:
            parts.append(str(start) if start == previous else f"{start}-{previous}")
        start = previous = current
    return ",".join(parts)
