import itertools

import pytest

from airflow_provider_batch.emulators.timefmt import MonotonicClock, format_ns, parse_ns


def test_format_has_nanoseconds_and_z() -> None:
    assert format_ns(1_700_000_000_123_456_789) == "2023-11-14T22:13:20.123456789Z"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2023-11-14T22:13:20.123456789Z", 1_700_000_000_123_456_789),
        ("2023-11-14T22:13:20Z", 1_700_000_000_000_000_000),
        ("2023-11-14T22:13:20.5Z", 1_700_000_000_500_000_000),
        ("2023-11-14T23:13:20.000000001+01:00", 1_700_000_000_000_000_001),
    ],
)
def test_parse(text: str, expected: int) -> None:
    assert parse_ns(text) == expected


def test_parse_refuses_other_forms() -> None:
    with pytest.raises(ValueError, match="RFC 3339"):
        parse_ns("yesterday")


def test_clock_never_repeats() -> None:
    clock = MonotonicClock()
    values = [clock.now_ns() for _ in range(1000)]
    assert all(b > a for a, b in itertools.pairwise(values))
