"""Client-side refusals against the emulators: what the emulator refuses for a clear reason is refused before any
request is sent, with the same words, and never as a retryable error."""

from __future__ import annotations

import uuid

import pytest
from conftest import ApoloEmulatorEndpoint, QarnotEmulatorEndpoint

from airflow_provider_batch.clients.apolo.client import ApoloClient
from airflow_provider_batch.clients.apolo.config import ApoloConfig
from airflow_provider_batch.clients.apolo.errors import ApoloBadRequestError
from airflow_provider_batch.clients.qarnot.client import QarnotClient
from airflow_provider_batch.clients.qarnot.config import QarnotConfig
from airflow_provider_batch.clients.qarnot.types import TaskSpec
from airflow_provider_batch.common.errors import InvalidJobSpecError
from airflow_provider_batch.common.retry import RetryPolicy

pytestmark = pytest.mark.wire

FAST = RetryPolicy(max_attempts=2, initial_backoff=0.05, max_backoff=0.1)


def _job_posts(endpoint: ApoloEmulatorEndpoint) -> int:
    return sum(1 for r in endpoint.requests() if r["method"] == "POST" and r["route"] == "/api/v1/jobs")


async def test_an_unknown_apolo_preset_is_refused_before_submitting_once_the_presets_are_known(
    apolo_emulator: ApoloEmulatorEndpoint,
) -> None:
    async with ApoloClient(ApoloConfig.from_passed_config(apolo_emulator.passed_config, retry=FAST)) as apolo:
        before = _job_posts(apolo_emulator)
        # presets not read yet: left to the server, which says the same words
        with pytest.raises(ApoloBadRequestError, match="Preset was not found"):
            await apolo.start(image="ubuntu:22.04", preset_name="no-such-preset", command="true")
        assert _job_posts(apolo_emulator) == before + 1
        await apolo.get_config()  # now the client knows the cluster's presets
        with pytest.raises(InvalidJobSpecError, match="Preset was not found") as raised:
            await apolo.start(image="ubuntu:22.04", preset_name="no-such-preset", command="true")
        assert raised.value.field == "preset_name" and "cpu-small" in raised.value.fix
        assert _job_posts(apolo_emulator) == before + 1


def test_bad_qarnot_buckets_keys_and_instance_counts_are_refused_before_any_call(
    qarnot_emulator: QarnotEmulatorEndpoint,
) -> None:
    config = QarnotConfig(token=qarnot_emulator.token, cluster_url=qarnot_emulator.url, timeout=10, retry=FAST)
    with QarnotClient(config) as client:
        good = f"refusals-{uuid.uuid4().hex[:8]}"
        assert client.create_bucket(good) == good  # the storage path itself works
        for bad in ("../../etc", "UPPER", "a"):
            with pytest.raises(InvalidJobSpecError, match="is not a valid bucket name"):
                client.create_bucket(bad)
        posts = len([r for r in qarnot_emulator.requests() if r["method"] == "POST"])
        spec = TaskSpec(f"refused-{uuid.uuid4().hex[:6]}", profile="docker-batch", instance_count=20_000)
        with pytest.raises(InvalidJobSpecError, match="instanceCount: more than 10000 instances"):
            client.submit_task(spec)
        with pytest.raises(InvalidJobSpecError, match="holds a control character"):
            client.submit_task(TaskSpec("n", profile="docker-batch", tags=["bad\x00tag"]))
        assert len([r for r in qarnot_emulator.requests() if r["method"] == "POST"]) == posts
