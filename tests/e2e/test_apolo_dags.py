"""Both Apolo example DAGs through `airflow dags test` against the Apolo emulator, in a private Airflow home.

One emulator and one migrated Airflow home serve the module; each DAG runs once (fixture `runs`), and the tests
look at the outcome from the Airflow DB (runs, tries), the emulator (jobs by their tags, call counts) and the
command's output (task logs).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
from _examples import DAGS_TEST_TIMEOUT, Outcome, World, example_world, run_examples

from airflow_provider_batch.demo import apolo as demo
from airflow_provider_batch.demo.runner import problems

pytestmark = [pytest.mark.slow, pytest.mark.wire, pytest.mark.timeout(600)]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with example_world(demo, tmp_path_factory.mktemp("apolo_dags")) as made:
        yield made


@pytest.fixture(scope="module")
def runs(world: World) -> dict[str, Outcome]:
    return run_examples(world, demo)


@pytest.mark.parametrize("dag_id", list(demo.EXAMPLES))
def test_run_succeeds_with_one_job_per_try(runs: dict[str, Outcome], dag_id: str) -> None:
    outcome = runs[dag_id]
    assert not outcome.result.timed_out, f"airflow dags test {dag_id} took over {DAGS_TEST_TIMEOUT} s"
    assert outcome.result.returncode == 0, outcome.result.tail(60)
    assert outcome.run["state"] == "success"
    assert problems(dag_id, outcome.run, outcome.jobs, demo.EXAMPLES[dag_id]) == []
    assert [job.state for job in outcome.jobs] == ["SUCCEEDED"]


def test_start_calls_match_the_jobs(runs: dict[str, Outcome], world: World) -> None:
    starts = world.emulators.stats()["apolo"]["POST /api/v1/jobs"]
    assert starts == sum(len(o.jobs) for o in runs.values()) == 2


@pytest.mark.parametrize("dag_id", list(demo.EXAMPLES))
def test_job_log_lines_are_in_the_airflow_task_log(runs: dict[str, Outcome], dag_id: str) -> None:
    outcome = runs[dag_id]
    job = outcome.jobs[0]
    assert job.log_lines, f"the emulator kept no log lines for {job.job_id}"
    for line in job.log_lines:
        assert re.search(rf"\[{job.job_id}\] {re.escape(line)}", outcome.result.output), (job.job_id, line)


def test_the_blocking_job_rendered_its_templates(runs: dict[str, Outcome]) -> None:
    outcome = runs["apolo_blocking"]
    run_id = outcome.run["run_id"]
    assert outcome.jobs[0].log_lines == [f"hello from {run_id}: step {i}" for i in (1, 2, 3)]


def test_only_the_deferrable_example_deferred(runs: dict[str, Outcome]) -> None:
    assert "running trigger in line" not in runs["apolo_blocking"].result.output
    assert "running trigger in line" in runs["apolo_deferrable"].result.output


def test_the_token_appears_in_no_task_log(runs: dict[str, Outcome], world: World) -> None:
    for outcome in runs.values():
        assert world.ready["token"] not in outcome.result.output
        assert world.ready["passed_config"] not in outcome.result.output


def test_demo_reads_the_identity_tags_the_hook_writes() -> None:
    from airflow_provider_batch.common.identity import JobIdentity
    from airflow_provider_batch.hooks.apolo import identity_tags

    identity = JobIdentity("dag", "task", "manual__2026-11-23T10:00:00+00:00", 3, 2)
    assert demo.tags_of(SimpleNamespace(tags=identity_tags(identity))) == identity.tags()  # type: ignore[arg-type]
