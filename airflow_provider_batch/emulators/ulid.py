"""ULIDs: 26 characters of Crockford base32, 48 bits of milliseconds then 80 random bits, time-ordered.

Armada's job ids are ULIDs. Ids made within the same millisecond by one generator stay strictly increasing (the
random part is incremented, as the ULID spec's monotonic mode does), so sorting ids sorts jobs by submission.
"""

from __future__ import annotations

import os
import threading
import time

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_DECODE = {c: i for i, c in enumerate(CROCKFORD)}
_RANDOM_BITS = 80
_MAX_RANDOM = (1 << _RANDOM_BITS) - 1


def encode(value: int) -> str:
    """The 26-character Crockford base32 form of a 128-bit integer."""
    if not 0 <= value < 1 << 128:
        raise ValueError("a ULID is a 128-bit unsigned integer")
    chars = []
    for _ in range(26):
        chars.append(CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def decode(text: str) -> int:
    """The integer a ULID string stands for; ValueError if it is not one."""
    if len(text) != 26:
        raise ValueError(f"a ULID has 26 characters, not {len(text)}")
    value = 0
    for char in text.upper():
        if char not in _DECODE:
            raise ValueError(f"{char!r} is not a Crockford base32 character")
        value = value << 5 | _DECODE[char]
    if value >= 1 << 128:
        raise ValueError("a ULID's first character is at most 7")
    return value


def timestamp_ms(text: str) -> int:
    """The milliseconds since the epoch a ULID was made at."""
    return decode(text) >> _RANDOM_BITS


class UlidGenerator:
    """Makes strictly increasing ULIDs; safe to share between threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last_ms = -1
        self._last_random = 0

    def new(self) -> str:
        with self._lock:
            now_ms = time.time_ns() // 1_000_000
            if now_ms <= self._last_ms:
                now_ms = self._last_ms
                if self._last_random == _MAX_RANDOM:
                    now_ms += 1
                    self._last_random = int.from_bytes(os.urandom(10), "big") >> 1
                else:
                    self._last_random += 1
            else:
                # Keep the top bit free so increments within one millisecond cannot overflow in practice.
                self._last_random = int.from_bytes(os.urandom(10), "big") >> 1
            self._last_ms = now_ms
            return encode(now_ms << _RANDOM_BITS | self._last_random)


_DEFAULT = UlidGenerator()


def new_ulid() -> str:
    """A new ULID from the process-wide generator."""
    return _DEFAULT.new()
