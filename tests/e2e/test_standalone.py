"""A real `airflow standalone` (api-server, scheduler, dag-processor, triggerer) against the Armada emulator.

Proves what `airflow dags test` cannot (it runs triggers inline and never kills anything):
  a) a deferrable task is really DEFERRED (seen through the REST API) and its trigger runs in the triggerer;
  b) the triggerer killed (SIGKILL, the whole process tree) and replaced mid-job: the new triggerer takes the
     trigger over and the task succeeds, with one job and no submission after the kill;
  c) a deferred task marked failed through the REST API cancels its Armada job (the trigger's on_kill, 3.3+);
  d) a blocking task whose task process is killed mid-job retries and reattaches to the job instead of submitting.

One emulator and one standalone serve the module; the four DAGs run at once (each test waits on its own, and a
thread records every task state the REST API shows). The tests run in file order, which the timeline needs: (d)
kills its task process while its job runs, (c) marks its task failed while a triggerer is alive to run on_kill,
(b) kills the triggerer once (a) and (c) are over, and (d)'s retry is checked at the end.
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass

import psutil
import pytest
from _standalone import BOOT_TIMEOUT, AirflowStandalone, TaskWatcher, wait_for

from airflow_provider_batch.clients.armada.client import ArmadaClient, ArmadaJobState
from airflow_provider_batch.common.channel import CallCredentials, GrpcChannelArguments
from airflow_provider_batch.emulators import LaunchedEmulators, launch

# the first test's budget includes the module's standalone boot (BOOT_TIMEOUT, sized for a loaded 2-core machine)
pytestmark = [pytest.mark.slow, pytest.mark.wire, pytest.mark.timeout(int(BOOT_TIMEOUT) + 600)]

QUEUE = "standalone"
TASK = "job"
TRIGGER_CLASSPATH = "airflow_provider_batch.triggers.batch.BatchJobTrigger"
SUBMIT, CANCEL = "/api.Submit/SubmitJobs", "/api.Submit/CancelJobs"

DEFERRED, RESTART, MARK_FAILED, WORKER_KILL = "sa_deferred", "sa_triggerer_restart", "sa_mark_failed", "sa_worker_kill"
DAG_FILE = f'''
from datetime import timedelta

from airflow.sdk import DAG

from airflow_provider_batch.operators.armada import ArmadaOperator


def pod(script):
    quantity = {{"cpu": "100m", "memory": "64Mi"}}
    return {{"containers": [{{"name": "main", "command": ["sh", "-c", script],
                             "resources": {{"requests": quantity, "limits": quantity}}}}]}}


def one(dag_id, script, **kwargs):
    with DAG(dag_id, schedule=None, catchup=False) as dag:
        ArmadaOperator(task_id="{TASK}", job_request=pod(script), queue="{QUEUE}", poll_interval=1, **kwargs)
    return dag


deferred = one("{DEFERRED}", "echo deferred-job-line; sleep 6", deferrable=True)
mark_failed = one("{MARK_FAILED}", "sleep 300", deferrable=True)
worker_kill = one("{WORKER_KILL}", "sleep 15; echo reattached-job-line", deferrable=False,
                  retries=1, retry_delay=timedelta(seconds=1))
restart = one("{RESTART}", "sleep 35; echo survived-job-line", deferrable=True)
'''

SETTINGS = {
    # a dead triggerer's triggers go to a live one once its heartbeat is this old (default 30 s)
    "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "2",
    "AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD": "10",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "30",
}


@dataclass
class Stack:
    airflow: AirflowStandalone
    emulators: LaunchedEmulators
    armada: ArmadaClient
    runs: dict[str, str]
    watcher: TaskWatcher
    calls_before: dict[str, int]
    killed_worker_job: str = ""

    def calls(self, rpc: str) -> int:
        return int(self.emulators.stats()["armada"].get(rpc, 0))

    def job_set(self, dag_id: str) -> str:
        return f"{dag_id}-{self.runs[dag_id]}"

    def jobs(self, dag_id: str) -> list[str]:
        """Every job in the run's job set (read from its events), in order of first appearance."""
        stream = self.armada.get_job_events_stream(QUEUE, self.job_set(dag_id), watch=False)
        seen: dict[str, None] = {}
        for message in stream:
            seen.setdefault(self.armada.unmarshal_event_response(message).job_id, None)
        return list(seen)

    def only_job(self, dag_id: str, timeout: float = 60) -> str:
        jobs = wait_for(f"a job in {dag_id}'s job set", lambda: self.jobs(dag_id), timeout=timeout)
        assert len(jobs) == 1, f"{dag_id}: the job set holds {len(jobs)} jobs: {jobs}"
        return jobs[0]

    def job_state(self, job_id: str) -> ArmadaJobState:
        return ArmadaJobState(self.armada.get_job_status([job_id]).job_states[job_id])

    def wait_job_state(self, job_id: str, state: ArmadaJobState, timeout: float) -> None:
        wait_for(f"job {job_id} to be {state.name}", lambda: self.job_state(job_id) == state, timeout=timeout)

    def task(self, dag_id: str) -> dict:
        return self.airflow.task_instance(dag_id, self.runs[dag_id], TASK)

    def wait_task_state(self, dag_id: str, state: str, timeout: float = 120) -> dict:
        return wait_for(f"{dag_id} to be {state}", lambda: (t := self.task(dag_id))["state"] == state and t, timeout)

    def run_end(self, dag_id: str, timeout: float = 180) -> str:
        return self.airflow.wait_run_end(dag_id, self.runs[dag_id], timeout=timeout)

    def wait_trigger_started(self, dag_id: str, timeout: float = 60) -> None:
        """Until a triggerer has started the task's trigger (its trigger log says so). A deferred task is only
        assigned at first; a trigger cancelled before it starts gets no on_kill, so tests that need one wait here."""
        folder = self.airflow.task_log_dir(dag_id, self.runs[dag_id], TASK)

        def started() -> bool:
            return any(
                ") starting" in log.read_text(errors="replace") for log in folder.glob("attempt=1.log.trigger.*.log")
            )

        wait_for(f"{dag_id}'s trigger to start in a triggerer", started, timeout=timeout)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    base = tmp_path_factory.mktemp("standalone")
    tmp, home = base / "tmp", base / "airflow_home"
    tmp.mkdir()
    (home / "dags").mkdir(parents=True)
    (home / "dags" / "standalone_scenarios.py").write_text(textwrap.dedent(DAG_FILE))
    emulators = launch(
        ["--only", "armada", "--armada-port", "0", "--admin-port", "0", "--step-ms", "20"],
        env={**os.environ, "TMPDIR": str(tmp)},
        log_path=str(base / "emulators.log"),
    )
    target, token = emulators["armada"]["target"], emulators["armada"]["token"]
    channel = GrpcChannelArguments(target).channel(CallCredentials.bearer(token))
    try:
        armada = ArmadaClient(channel)
        armada.create_queue(armada.create_queue_request(QUEUE))
        calls_before = dict(emulators.stats()["armada"])
        connection = {"conn_type": "armada", "host": target, "password": token}
        with AirflowStandalone(home, home / "dags", {"armada_default": connection}, SETTINGS) as airflow:
            print(f"\nairflow standalone healthy after {airflow.boot_seconds:.1f}s in {home}")
            runs = {dag_id: airflow.trigger(dag_id) for dag_id in (DEFERRED, MARK_FAILED, WORKER_KILL, RESTART)}
            with TaskWatcher(airflow, [(dag_id, run_id, TASK) for dag_id, run_id in runs.items()]) as watcher:
                yield Stack(airflow, emulators, armada, runs, watcher, calls_before)
    finally:
        channel.close()
        emulators.stop()


def test_worker_killed_mid_job_ends_the_try(stack: Stack) -> None:
    """(d, first half) SIGKILL the task process of a blocking task while its job runs (an OOM kill): the supervisor
    reports the try failed and the task goes to its retry. The retry is checked by the last test but one, so that
    the other scenarios run meanwhile."""
    job_id = stack.only_job(WORKER_KILL)
    stack.wait_job_state(job_id, ArmadaJobState.RUNNING, timeout=60)
    run_id = stack.runs[WORKER_KILL]
    # the job id is in XCom once the operator has recorded it (task_state_store is written just before)
    wait_for("the job id in XCom", lambda: stack.airflow.xcom(WORKER_KILL, run_id, TASK, "job_id"), timeout=60)
    ti = stack.task(WORKER_KILL)
    assert (ti["state"], ti["try_number"]) == ("running", 1), ti
    runner = psutil.Process(ti["pid"])
    assert ti["id"] in " ".join(runner.cmdline()), f"pid {ti['pid']} is not the task process: {runner.cmdline()}"
    runner.kill()
    stack.killed_worker_job = job_id

    def next_try() -> bool:
        ti = stack.task(WORKER_KILL)
        return ti["state"] == "up_for_retry" or ti["try_number"] > 1

    wait_for("the killed try to end and the task to go to its retry", next_try, timeout=60)
    assert stack.job_state(job_id) == ArmadaJobState.RUNNING, "the job did not outlive its task process"


def test_deferred_task_marked_failed_cancels_its_job(stack: Stack) -> None:
    """(c) PATCH the deferred task instance to failed: the triggerer runs the trigger's on_kill, which cancels."""
    stack.wait_task_state(MARK_FAILED, "deferred")
    job_id = stack.only_job(MARK_FAILED)
    stack.wait_job_state(job_id, ArmadaJobState.RUNNING, timeout=30)
    stack.wait_trigger_started(MARK_FAILED)
    cancels = stack.calls(CANCEL)

    stack.airflow.set_task_state(MARK_FAILED, stack.runs[MARK_FAILED], TASK, "failed")

    stack.wait_job_state(job_id, ArmadaJobState.CANCELLED, timeout=60)
    assert stack.calls(CANCEL) == cancels + 1
    reason = stack.armada.get_job_errors([job_id]).job_errors[job_id]
    assert "stopped by a user" in reason, f"cancelled by something else than the trigger's on_kill: {reason!r}"
    assert stack.run_end(MARK_FAILED, timeout=60) == "failed"
    assert stack.task(MARK_FAILED)["state"] == "failed"
    assert stack.jobs(MARK_FAILED) == [job_id]


def test_deferrable_task_defers_and_its_trigger_runs_in_the_triggerer(stack: Stack) -> None:
    """(a) The task instance is seen DEFERRED on our trigger, assigned to a triggerer; the triggerer writes the
    trigger's log; the task resumes and succeeds after the job ends, in its first try."""
    assert stack.run_end(DEFERRED, timeout=120) == "success"

    def states_up_to_success() -> list[str] | None:
        """The watcher polls in its own thread: it may see the end a moment after the run's state says it."""
        seen = stack.watcher.states(DEFERRED)
        return seen if "success" in seen else None

    states = wait_for("the task watcher to see success", states_up_to_success, 60)
    assert "deferred" in states, f"never seen deferred: {states}"
    deferred = [s for s in stack.watcher.seen(DEFERRED) if s["state"] == "deferred"]
    assert {s["classpath"] for s in deferred} == {TRIGGER_CLASSPATH}
    assert any(s["triggerer_id"] for s in deferred), f"the trigger was never assigned to a triggerer: {deferred}"
    assert states.index("deferred") < states.index("success")

    ti = stack.task(DEFERRED)
    assert (ti["state"], ti["try_number"]) == ("success", 1), ti
    job_id = stack.only_job(DEFERRED)
    assert stack.job_state(job_id) == ArmadaJobState.SUCCEEDED
    trigger_logs = stack.airflow.trigger_logs(DEFERRED, stack.runs[DEFERRED], TASK)
    assert trigger_logs, "the triggerer wrote no log for the trigger"
    task_log = stack.airflow.task_log(DEFERRED, stack.runs[DEFERRED], TASK, 1)
    assert "deferred-job-line" in task_log, "the job's log lines did not reach the task log after resuming"


def test_triggerer_killed_mid_job_task_still_succeeds_with_one_job(stack: Stack) -> None:
    """(b) SIGKILL the triggerer and its children while the job runs, start a new `airflow triggerer` (standalone
    does not restart its components): the new one takes the trigger over from the start; one job, no new submit."""
    # on_kill in (c) and the trigger of (a) needed the first triggerer; it goes only once they are done
    assert stack.run_end(DEFERRED, timeout=120) == "success"
    assert stack.run_end(MARK_FAILED, timeout=60) == "failed"
    stack.wait_task_state(RESTART, "deferred")
    job_id = stack.only_job(RESTART)
    assert stack.job_state(job_id) == ArmadaJobState.RUNNING, "the job ended before the triggerer could be killed"
    first = wait_for("the trigger to be on a triggerer", lambda: triggerer_of(stack, RESTART), timeout=30)
    stack.wait_trigger_started(RESTART)
    submits = stack.calls(SUBMIT)

    killed = stack.airflow.kill_component("triggerer")
    assert not stack.airflow.component("triggerer"), "a triggerer survived SIGKILL"
    stack.airflow.start_triggerer()

    def new_triggerer() -> int | None:
        now = triggerer_of(stack, RESTART)
        return now if now != first else None

    second = wait_for("a new triggerer to take the trigger over", new_triggerer, timeout=90)
    print(f"\ntriggerer job {first} killed (pids {killed}); trigger taken over by triggerer job {second}")
    assert stack.run_end(RESTART, timeout=120) == "success"
    ti = stack.task(RESTART)
    assert (ti["state"], ti["try_number"]) == ("success", 1), ti
    assert stack.jobs(RESTART) == [job_id], "the triggerer restart led to a second job"
    assert stack.calls(SUBMIT) == submits, "something was submitted after the triggerer was killed"
    assert {first, second} <= set(stack.airflow.trigger_logs(RESTART, stack.runs[RESTART], TASK))
    assert "survived-job-line" in stack.airflow.task_log(RESTART, stack.runs[RESTART], TASK, 1)


def triggerer_of(stack: Stack, dag_id: str) -> int | None:
    """The id of the triggerer job the task's trigger is assigned to, if any."""
    trigger = stack.task(dag_id).get("trigger") or {}
    return trigger.get("triggerer_id")


def test_killed_worker_task_retried_and_reattached(stack: Stack) -> None:
    """(d, second half) The retry found the job in task_state_store and waited for it: one job, task success."""
    job_id = stack.killed_worker_job
    assert job_id, "test_worker_killed_mid_job_ends_the_try did not run or did not kill the task process"
    assert stack.run_end(WORKER_KILL, timeout=120) == "success"
    ti = stack.task(WORKER_KILL)
    assert (ti["state"], ti["try_number"]) == ("success", 2), f"the killed task was not retried: {ti}"
    assert stack.jobs(WORKER_KILL) == [job_id], "the retry submitted a second job instead of reattaching"
    assert stack.job_state(job_id) == ArmadaJobState.SUCCEEDED
    second_try = stack.airflow.task_log(WORKER_KILL, stack.runs[WORKER_KILL], TASK, 2)
    assert f"Reattaching to armada job {job_id}" in second_try, second_try[-3000:]
    assert "reattached-job-line" in second_try


def test_one_submission_per_task_in_the_whole_module(stack: Stack) -> None:
    """Four DAGs, four SubmitJobs calls: the worker kill and the triggerer restart submitted nothing more, and the
    only cancel was the user's."""
    submitted = stack.calls(SUBMIT) - stack.calls_before.get(SUBMIT, 0)
    assert submitted == 4, f"{submitted} SubmitJobs calls for 4 tasks"
    assert stack.calls(CANCEL) - stack.calls_before.get(CANCEL, 0) == 1


def test_a_boot_timeout_names_what_did_not_come_up(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Two seconds are too few for any component: the error names them and tails the standalone log."""
    home = tmp_path_factory.mktemp("standalone_timeout")
    (home / "dags").mkdir()
    airflow = AirflowStandalone(home, home / "dags", boot_timeout=2.0)
    with pytest.raises(AssertionError) as raised:
        airflow.start()
    first = str(raised.value).splitlines()[0]
    assert first.startswith("airflow standalone not healthy after 2s: "), first
    assert "api-server (no answer from" in first or "scheduler (" in first, first
    assert airflow.process is not None and airflow.process.poll() is not None, "the standalone was left running"
