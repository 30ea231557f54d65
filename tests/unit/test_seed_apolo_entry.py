"""The seed-compatible Apolo entry's local parts: image parsing, where credentials come from, and the stream wrapper
that is both an async iterator and an async context manager."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from airflow_provider_batch.clients.apolo.config import ApoloConfig
from airflow_provider_batch.compat import apolo_sdk as apolo
from airflow_provider_batch.compat.apolo_sdk._client import _Stream, config_from


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ubuntu", "ubuntu:latest"),
        ("ubuntu:22.04", "ubuntu:22.04"),
        ("library/alpine:3", "library/alpine:3"),
        ("ghcr.io/org/img:1.2", "ghcr.io/org/img:1.2"),
        ("localhost:5000/img", "localhost:5000/img:latest"),
    ],
)
def test_remote_image(text: str, expected: str) -> None:
    assert str(apolo.Parser().remote_image(text)) == expected


def test_platform_images_are_refused() -> None:
    with pytest.raises(ValueError, match="public image"):
        apolo.Parser().remote_image("image:my-model:v1")


def test_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("APOLO_PASSED_CONFIG", raising=False)
    monkeypatch.delenv("NEURO_PASSED_CONFIG", raising=False)
    with pytest.raises(ValueError, match="APOLO_PASSED_CONFIG") as caught:
        config_from()
    assert "secret" not in str(caught.value)
    explicit = config_from("http://127.0.0.1:1/api/v1", "secret")
    assert explicit == ApoloConfig(token="secret", url="http://127.0.0.1:1/api/v1")
    assert "secret" not in repr(explicit)
    blob = "eyJ0b2tlbiI6ICJ0MSIsICJ1cmwiOiAiaHR0cDovL2gvYXBpL3YxIiwgImNsdXN0ZXIiOiAiYyJ9"  # {token t1, url, cluster c}
    monkeypatch.setenv("NEURO_PASSED_CONFIG", blob)
    from_env = config_from()
    assert (from_env.token, from_env.url, from_env.cluster) == ("t1", "http://h/api/v1", "c")


async def test_stream_iterates_and_closes() -> None:
    closed = []

    async def numbers() -> AsyncIterator[int]:
        try:
            for n in range(3):
                yield n
        finally:
            closed.append(True)

    assert [n async for n in _Stream(numbers())] == [0, 1, 2]
    async with _Stream(numbers()) as it:
        assert await it.__anext__() == 0
    assert closed == [True, True]


def test_seed_entries_import_no_airflow() -> None:
    """Scripts run outside Airflow: the seed-compatible packages pull in no Airflow module."""
    import subprocess
    import sys

    code = (
        "import sys, airflow_provider_batch.compat.qarnot, airflow_provider_batch.compat.apolo_sdk\n"
        "assert not [m for m in sys.modules if m == 'airflow' or m.startswith('airflow.')], 'airflow imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
