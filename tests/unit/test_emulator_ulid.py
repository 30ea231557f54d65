import re
import time

import pytest

from airflow_provider_batch.emulators.ulid import CROCKFORD, UlidGenerator, decode, encode, new_ulid, timestamp_ms

ULID = re.compile(r"^[0-7][0-9A-HJKMNP-TV-Z]{25}$")


def test_format_is_26_crockford_characters() -> None:
    for _ in range(200):
        assert ULID.match(new_ulid())


def test_ids_are_strictly_increasing_even_within_one_millisecond() -> None:
    generator = UlidGenerator()
    ids = [generator.new() for _ in range(5000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)


def test_time_part_is_the_creation_time() -> None:
    before = time.time_ns() // 1_000_000
    ulid = new_ulid()
    after = time.time_ns() // 1_000_000
    assert before <= timestamp_ms(ulid) <= after


def test_encode_decode_round_trip() -> None:
    for value in (0, 1, 31, 32, (1 << 128) - 1, 0x0123456789ABCDEF0123456789ABCDEF):
        assert decode(encode(value)) == value
    assert encode(0) == "0" * 26
    assert set(CROCKFORD).isdisjoint("ILOU")


@pytest.mark.parametrize("bad", ["0" * 25, "U" * 26, "8" + "0" * 25])
def test_decode_refuses_non_ulids(bad: str) -> None:
    with pytest.raises(ValueError):
        decode(bad)
