import asyncio
import os
import pathlib
import sys
import time

import pytest

from airflow_provider_batch.emulators.runner import OutputLine, ProcessRunner, RunSpec


async def run(spec: RunSpec, runner: ProcessRunner | None = None) -> tuple[object, list[OutputLine]]:
    lines: list[OutputLine] = []
    result = await (runner or ProcessRunner()).run(spec, on_line=lines.append)
    return result, lines


async def test_exit_codes_and_output() -> None:
    result, lines = await run(RunSpec(["sh", "-c", "echo out; echo err >&2; exit 3"]))
    assert result.exit_code == 3 and not result.succeeded
    assert {(line.stream, line.text) for line in lines} == {("stdout", "out"), ("stderr", "err")}
    result, _ = await run(RunSpec(["true"]))
    assert result.succeeded


async def test_env_is_the_spec_env_plus_path_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMULATOR_SECRET", "do-not-leak")
    result, lines = await run(
        RunSpec(["sh", "-c", "echo $GREETING; echo ${EMULATOR_SECRET:-unset}"], {"GREETING": "hi"})
    )
    assert result.exit_code == 0
    assert [line.text for line in lines] == ["hi", "unset"]


async def test_runs_in_a_fresh_folder_that_is_removed() -> None:
    result, lines = await run(RunSpec(["sh", "-c", "pwd; touch left-behind; ls"]))
    assert lines[0].text == result.workdir
    assert [line.text for line in lines[1:]] == ["left-behind"]
    assert not os.path.exists(result.workdir)


async def test_runs_in_a_given_folder_that_is_kept(tmp_path: pathlib.Path) -> None:
    folder = str(tmp_path)
    result, lines = await run(RunSpec(["sh", "-c", "pwd; echo kept > output.txt"], workdir=folder))
    assert result.succeeded and result.workdir == folder
    assert [line.text for line in lines] in ([folder], [os.path.realpath(folder)])
    with open(os.path.join(folder, "output.txt")) as handle:
        assert handle.read() == "kept\n"


async def test_timeout_kills_the_process_group() -> None:
    result, _ = await run(RunSpec(["sh", "-c", "sleep 30 & sleep 30"], timeout_s=0.3))
    assert result.timed_out and not result.succeeded
    assert not os.path.exists(result.workdir)


async def test_cancelling_kills_the_process() -> None:
    runner = ProcessRunner()
    started = asyncio.Event()
    pids: list[int] = []

    def on_line(line: OutputLine) -> None:
        pids.append(int(line.text))
        started.set()

    task = asyncio.ensure_future(runner.run(RunSpec(["sh", "-c", "echo $$; exec sleep 30"]), on_line=on_line))
    await asyncio.wait_for(started.wait(), 10)
    assert runner.running == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert runner.running == 0
    with pytest.raises(ProcessLookupError):
        os.kill(pids[0], 0)


async def test_missing_program_is_a_start_error() -> None:
    result, _ = await run(RunSpec(["/nonexistent/program"]))
    assert result.start_error is not None and "/nonexistent/program" in result.start_error


async def test_slots_bound_concurrency() -> None:
    runner = ProcessRunner(max_running=1)
    async with runner.slot():
        waiter = asyncio.ensure_future(runner.slot().__aenter__())
        await asyncio.sleep(0)
        assert not waiter.done()
    await asyncio.wait_for(waiter, 5)


async def test_long_lines_without_newline_are_kept() -> None:
    code = "import sys; sys.stdout.write('x' * 200000)"
    result, lines = await run(RunSpec([sys.executable, "-c", code]))
    assert result.exit_code == 0
    assert "".join(line.text for line in lines) == "x" * 200000


def _processes_running(marker: str) -> list[str]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as handle:
                    command = handle.read().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if marker in command:
                found.append(command)
    return found


async def test_a_cancel_during_the_start_kills_what_was_started() -> None:
    """asyncio, cancelled while it starts a process, kills only the direct child and waits for the pipes that the
    grandchild holds: the cancel took as long as the job. The runner lets the start finish and kills the group."""
    runner = ProcessRunner()
    marker = "47.123"
    for step in range(20):
        job = asyncio.ensure_future(runner.run(RunSpec(["sh", "-c", f"sleep {marker}; true"])))
        await asyncio.sleep(step * 0.0005)
        job.cancel()
        started = time.monotonic()
        with pytest.raises(asyncio.CancelledError):
            await job
        assert time.monotonic() - started < 3.0
    assert _processes_running(f"sleep {marker}") == []
