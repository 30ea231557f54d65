"""Benchmark mode's runner: a job's command is read for a duration and an exit code; no process is started."""

from __future__ import annotations

import asyncio
import time

import psutil
import pytest

from airflow_provider_batch.emulators.base import CommonOptions
from airflow_provider_batch.emulators.runner import ProcessRunner, RunSpec
from airflow_provider_batch.emulators.simulated import SimulatedRunner, simulated_outcome


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["sleep", "12.5"], (12.5, 0)),
        (["sh", "-c", "sleep 3; sleep 2"], (5.0, 0)),
        (["sh", "-c", "echo hi && sleep .5; exit 4"], (0.5, 4)),
        (["sh", "-c", "exit 1; exit 2"], (0.0, 2)),
        (["true"], (0.0, 0)),
        (["nosleep", "3", "exit_code", "9"], (0.0, 0)),  # words that only contain sleep/exit do not count
        (["python", "-c", "import time; time.sleep(3)"], (0.0, 0)),
    ],
)
def test_the_command_says_how_long_and_how_it_ends(argv: list[str], expected: tuple[float, int]) -> None:
    assert simulated_outcome(argv) == expected


async def test_a_run_lasts_its_duration_without_a_process() -> None:
    runner = SimulatedRunner()
    started: list[float] = []
    children = {child.pid for child in psutil.Process().children()}  # e.g. emulators other tests started
    before = time.monotonic()
    task = asyncio.ensure_future(
        runner.run(RunSpec(["no-such-program", "sleep", "0.3", "exit", "3"]), on_start=lambda: started.append(1))
    )
    await asyncio.sleep(0.1)
    assert runner.running == 1 and started == [1]
    assert {child.pid for child in psutil.Process().children()} <= children  # no process for the job
    result = await task
    assert 0.3 <= time.monotonic() - before < 1.0
    assert result.exit_code == 3 and not result.succeeded and not result.timed_out
    assert runner.running == 0


async def test_a_run_past_its_limit_times_out_at_the_limit() -> None:
    runner = SimulatedRunner(default_timeout_s=0.2)
    before = time.monotonic()
    result = await runner.run(RunSpec(["sleep", "30"]))
    assert result.timed_out and not result.succeeded
    assert time.monotonic() - before < 1.0
    result = await runner.run(RunSpec(["sleep", "30"], timeout_s=0.1))
    assert result.timed_out


async def test_an_empty_command_is_a_start_error_and_a_cancel_ends_the_wait() -> None:
    runner = SimulatedRunner()
    assert (await runner.run(RunSpec([]))).start_error == "no command to run"
    task = asyncio.ensure_future(runner.run(RunSpec(["sleep", "60"])))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert runner.running == 0
    await runner.kill_all()


def test_the_option_picks_the_runner() -> None:
    from airflow_provider_batch.emulators import ArmadaEmulator

    assert type(ArmadaEmulator(CommonOptions(simulate_jobs=True)).runner) is SimulatedRunner
    assert type(ArmadaEmulator(CommonOptions()).runner) is ProcessRunner
