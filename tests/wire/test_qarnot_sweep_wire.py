"""The Qarnot status sweep against the Qarnot emulator: every watched task's state (a failure with its reason) in
ceil(N / 100) tag-filtered list calls a sweep, whatever else the account holds."""

from __future__ import annotations

import asyncio
import json
import math
import uuid

import pytest
from conftest import QarnotEmulatorEndpoint

from airflow_provider_batch.common.identity import JobIdentity
from airflow_provider_batch.common.states import JobState
from airflow_provider_batch.hooks.qarnot import QarnotHook, QarnotSubmission, missing_status, to_job_status
from airflow_provider_batch.hooks.qarnot_sweep import PAGE_TASKS, iter_statuses, statuses

pytestmark = pytest.mark.wire


async def test_a_sweep_answers_every_task_with_one_call_per_hundred(
    qarnot_emulator: QarnotEmulatorEndpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    host = qarnot_emulator.url.removeprefix("http://")
    connection = {"conn_type": "qarnot", "host": f"http://{host}", "password": qarnot_emulator.token, "extra": {}}
    monkeypatch.setenv("AIRFLOW_CONN_QARNOT_SWEEP", json.dumps(connection))
    hook = QarnotHook("qarnot_sweep")
    run = f"run-{uuid.uuid4().hex[:6]}"
    n = 230
    jobs = []
    for i in range(n + 20):  # 20 more tasks of another run: on the account, not watched
        command = f"exit {3 if i % 50 == 0 else 0}"
        spec = hook.client.create_task(f"sweep-{i}", "docker-batch", constants={"DOCKER_CMD": command})
        job = hook.submit_job(QarnotSubmission(spec), JobIdentity("sweep_dag", "t", run if i < n else "other", i), 0)
        jobs.append(job)
    watched, others = jobs[:n], jobs[n:]
    client = await hook.aget_client()
    try:
        for _ in range(200):
            before = qarnot_emulator.stats().get("POST /tasks/paginate", 0)
            answers = await statuses(client, watched, to_job_status, hook.aget_status, missing_status)
            pages = qarnot_emulator.stats().get("POST /tasks/paginate", 0) - before
            assert pages == math.ceil(n / PAGE_TASKS)
            if all(status.state.is_terminal for status in answers.values()):
                break
            await asyncio.sleep(0.1)
        assert set(answers) == {job.job_id for job in watched}
        assert not {job.job_id for job in others} & set(answers)
        for i, job in enumerate(watched):
            status = answers[job.job_id]
            if i % 50 == 0:
                assert status.state is JobState.FAILED and "Failure" in status.reason
            else:
                assert status.state is JobState.SUCCEEDED
            assert status == hook.get_status(job)  # the same answer as asking for the task alone
        pages_seen = [page async for page in iter_statuses(client, watched, to_job_status, hook.aget_status)]
        assert sorted(len(page) for page in pages_seen) == [30, 100, 100]
    finally:
        await hook.aclose()
