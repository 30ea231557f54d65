"""A script written as the Apolo SDK's documentation shows it (`async with get() as client`, `client.jobs.start`,
a status loop, `monitor`, `list`, `kill`), written ONCE with its import lines left open, run with the real
`apolo-sdk` 26.9.0 and with `airflow_provider_batch.compat.apolo_sdk` against the Apolo emulator, credentials from
APOLO_PASSED_CONFIG: the same observable results."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest
from conftest import ApoloEmulatorEndpoint

pytestmark = pytest.mark.wire

NAMES = "Container, IllegalArgumentError, JobStatus, Resources, ResourceNotFound, get"
IMPORTS = {
    "seed": f"from apolo_sdk import {NAMES}\n",
    "ours": f"from airflow_provider_batch.compat.apolo_sdk import {NAMES}\n",
}

SCRIPT = """
import asyncio

FINISHED = (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)


async def wait_for(client, job_id, statuses):
    while True:
        job = await client.jobs.status(job_id)
        if job.status in statuses:
            return job
        await asyncio.sleep(0.05)


async def main():
    async with get() as client:
        image = client.parse.remote_image("ubuntu:22.04")
        job = await client.jobs.start(
            image=image, preset_name="cpu-small", command="sh -c 'echo hello; sleep 0.3; echo bye'", tags=[TAG]
        )
        RESULT["first_status"] = job.status in (JobStatus.PENDING, JobStatus.RUNNING)
        chunks = []
        async with client.jobs.monitor(job.id) as stream:
            async for chunk in stream:
                chunks.append(chunk)
        RESULT["log"] = b"".join(chunks)
        done = await wait_for(client, job.id, FINISHED)
        RESULT["status"] = str(done.status.value)
        RESULT["exit_code"] = done.history.exit_code

        failing = await client.jobs.start(
            image=image, preset_name="cpu-small", command="sh -c 'exit 3'", tags=[TAG]
        )
        failed = await wait_for(client, failing.id, FINISHED)
        RESULT["failed"] = (str(failed.status.value), failed.history.exit_code)

        container = Container(image=image, resources=Resources(memory=256 * 2**20, cpu=0.5), command="echo ran")
        legacy = await client.jobs.run(container, tags=[TAG])
        ran = await wait_for(client, legacy.id, FINISHED)
        RESULT["run"] = (str(ran.status.value), ran.container.resources.cpu)

        sleeper = await client.jobs.start(image=image, preset_name="cpu-small", command="sleep 30", tags=[TAG])
        await wait_for(client, sleeper.id, (JobStatus.RUNNING,))
        running = []
        async with client.jobs.list(statuses={JobStatus.RUNNING}, tags=[TAG]) as it:
            async for listed in it:
                running.append(listed.id)
        RESULT["running_listed"] = running == [sleeper.id]
        await client.jobs.kill(sleeper.id)
        killed = await wait_for(client, sleeper.id, FINISHED)
        RESULT["killed"] = str(killed.status.value)

        ids = []
        async with client.jobs.list(tags=[TAG]) as it:
            async for listed in it:
                ids.append(listed.id)
        RESULT["listed"] = sorted(ids) == sorted([job.id, failing.id, legacy.id, sleeper.id])
        try:
            await client.jobs.status("job-00000000-0000-0000-0000-000000000000")
        except IllegalArgumentError:  # platform-api answers a missing job with 400 "no such job"
            RESULT["not_found"] = True
"""


async def run_script(flavour: str, endpoint: ApoloEmulatorEndpoint) -> dict[str, Any]:
    result: dict[str, Any] = {}
    scope: dict[str, Any] = {"RESULT": result, "TAG": f"seed-{flavour}-{uuid.uuid4().hex[:8]}"}
    exec(IMPORTS[flavour] + SCRIPT, scope)  # the script is this file's constant
    await asyncio.wait_for(scope["main"](), timeout=30)
    return result


async def test_jobs_script_runs_the_same(
    apolo_emulator: ApoloEmulatorEndpoint, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("APOLO_PASSED_CONFIG", apolo_emulator.passed_config)
    monkeypatch.setenv("HOME", str(tmp_path))  # the seed writes its config under ~/.apolo; ours writes nothing
    monkeypatch.chdir(tmp_path)
    seed = await run_script("seed", apolo_emulator)
    ours = await run_script("ours", apolo_emulator)
    assert ours == seed
    assert ours["first_status"] and ours["log"] == b"hello\nbye\n"
    assert ours["status"] == "succeeded" and ours["exit_code"] == 0
    assert ours["failed"] == ("failed", 3)
    assert ours["run"] == ("succeeded", 0.5)
    assert ours["running_listed"] and ours["killed"] == "cancelled" and ours["listed"] and ours["not_found"]


async def test_ours_keeps_a_login_only_where_factory_path_says(
    apolo_emulator: ApoloEmulatorEndpoint, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow_provider_batch.compat import apolo_sdk as apolo

    monkeypatch.delenv("APOLO_PASSED_CONFIG", raising=False)
    monkeypatch.delenv("NEURO_PASSED_CONFIG", raising=False)
    monkeypatch.delenv("APOLO_CONFIG", raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    with pytest.raises(ValueError, match="APOLO_PASSED_CONFIG"):
        await apolo.get()
    async with apolo.get(url=apolo_emulator.url, token=apolo_emulator.token) as client:
        assert [job async for job in client.jobs.list(tags=["no-such-tag"])] == []
        with pytest.raises(apolo.ResourceNotFound, match="no such job"):
            await client.jobs.status("job-00000000-0000-0000-0000-000000000000")
    folder = tmp_path / "apolo"
    factory = apolo.Factory(folder)
    assert (factory.path, factory.is_config_present) == (folder, False)
    await factory.login_with_passed_config(apolo_emulator.passed_config)
    stored = [path for path in folder.iterdir()]
    assert len(stored) == 1 and oct(stored[0].stat().st_mode & 0o777) == "0o600"
    assert oct(folder.stat().st_mode & 0o777) == "0o700"
    with pytest.raises(apolo.ConfigError, match="already exists"):
        await factory.login_with_token("another", url=apolo_emulator.url)
    async with apolo.get(path=folder) as client:  # a later process: the login is read from the folder
        job = await client.jobs.start(image="alpine", preset_name="cpu-small", command="true")
        assert (await client.jobs.status(job.id)).id == job.id
    with pytest.raises(apolo.ConfigError, match="no Apolo login"):
        await apolo.Factory(tmp_path / "elsewhere").get()
    await factory.logout()
    assert not folder.exists()
    token_factory = apolo.Factory(folder)
    await token_factory.login_with_token(apolo_emulator.token, url=apolo_emulator.url)
    client = await apolo.Factory(folder).get()
    try:
        assert [job async for job in client.jobs.list(tags=["no-such-tag"])] == []
    finally:
        await client.close()
    await apolo.Factory(folder).logout()
    monkeypatch.setenv("APOLO_PASSED_CONFIG", apolo_emulator.passed_config)
    client = await apolo.Factory(folder).get()  # the variable is used as it is: nothing is written
    await client.close()
    assert not folder.exists()
    assert list(home.iterdir()) == []  # nothing in ~/.apolo
