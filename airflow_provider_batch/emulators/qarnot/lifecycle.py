"""Drives one Qarnot task: Submitted -> FullyDispatched -> (Partially|Fully)Executing -> UploadingResults ->
Success | Failure, each instance running `DOCKER_CMD` as a local process in its own folder with INSTANCE_ID set;
abort goes through PendingCancel to Cancelled.

Before an instance runs, the task's resource buckets are copied into its folder; after, the folder's new or changed
files go to the result bucket and `resultsCount` rises.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_batch.emulators.qarnot.records import (
    CANCELLED,
    FAILURE,
    FULLY_DISPATCHED,
    FULLY_EXECUTING,
    INSTANCE_CANCELLED,
    INSTANCE_DONE,
    INSTANCE_DOWNLOADING,
    INSTANCE_EXECUTING,
    INSTANCE_FAILURE,
    INSTANCE_SUCCESS,
    PARTIALLY_EXECUTING,
    PENDING_CANCEL,
    PENDING_DELETE,
    SUCCESS,
    UPLOADING_RESULTS,
    InstanceRecord,
    TaskRecord,
    now_s,
)
from airflow_provider_batch.emulators.qarnot.storage import BucketSync, ResourceSpec, UploadSelection, digests
from airflow_provider_batch.emulators.runner import OutputLine, ProcessRunner, RunResult, RunSpec

log = logging.getLogger(__name__)

# Waits for what must come first (the pool opened, the dependencies ended); an error message cancels the task.
Gate = Callable[[TaskRecord], Awaitable[str | None]]


def instance_error(code: str, message: str, debug: str = "") -> dict[str, str]:
    return {"code": code, "message": message, "debug": debug}


class TaskLifecycle:
    def __init__(self, runner: ProcessRunner, step_s: float, root: str, sync: Callable[[], BucketSync | None]) -> None:
        self.runner = runner
        self.step_s = step_s
        self.root = root
        self._sync = sync

    # -- running --------------------------------------------------------------------------------------------------

    def start(self, task: TaskRecord, gate: Gate) -> None:
        task.folder = os.path.join(self.root, task.uuid)
        task.driver = asyncio.get_running_loop().create_task(self._drive(task, gate), name=f"qarnot-task-{task.uuid}")

    async def _drive(self, task: TaskRecord, gate: Gate) -> None:
        try:
            await asyncio.sleep(self.step_s)
            problem = await gate(task)
            if problem is not None:
                if self._advance(task, CANCELLED):
                    task.errors.append(instance_error("DependencyNotFulfilled", problem))
                    for instance in task.instances.values():
                        instance.state = INSTANCE_CANCELLED
                return
            if not self._advance(task, FULLY_DISPATCHED):
                return
            await asyncio.sleep(self.step_s)
            await asyncio.gather(*(self._instance(task, i) for i in task.instances.values()))
            if not self._advance(task, UPLOADING_RESULTS):
                return
            await asyncio.sleep(self.step_s)
            self._finish(task)
        except asyncio.CancelledError:
            raise
        except Exception as err:  # the emulator's own bug: the task fails, the server lives on
            log.exception("task %s: emulator error", task.uuid)
            if self._advance(task, FAILURE):
                task.errors.append(instance_error("EmulatorError", f"emulator internal error: {err}"))
        finally:
            if task.terminal:
                self._remove_folder(task)

    @staticmethod
    def _advance(task: TaskRecord, state: str) -> bool:
        """Move on, unless the task is being cancelled or deleted (or is over): an abort always wins the race."""
        if task.terminal or task.state in (PENDING_CANCEL, PENDING_DELETE):
            return False
        task.move(state)
        return True

    def _finish(self, task: TaskRecord) -> None:
        failed = [i for i in task.instances.values() if i.state != INSTANCE_SUCCESS]
        if self._advance(task, FAILURE if failed else SUCCESS):
            task.errors.extend(i.error for i in failed if i.error is not None)

    def _executing(self, task: TaskRecord) -> None:
        started = [i for i in task.instances.values() if i.started_s is not None]
        self._advance(task, FULLY_EXECUTING if len(started) == len(task.instances) else PARTIALLY_EXECUTING)

    async def _instance(self, task: TaskRecord, instance: InstanceRecord) -> None:
        assert task.folder is not None
        folder = os.path.join(task.folder, str(instance.instance_id))
        async with self.runner.slot():
            instance.state = INSTANCE_DOWNLOADING
            await asyncio.to_thread(os.makedirs, folder, exist_ok=True)
            try:
                instance.baseline = await self._download(task, folder)
            except Exception as err:
                instance.state, instance.ended_s = INSTANCE_FAILURE, now_s()
                instance.error = instance_error(
                    "ResourcesDownloadFailure", f"instance {instance.instance_id}: cannot download resources: {err}"
                )
                return
            command = task.constants.get("DOCKER_CMD", "").strip()
            if not command:
                instance.state, instance.ended_s = INSTANCE_FAILURE, now_s()
                instance.error = instance_error(
                    "MissingCommand",
                    f"instance {instance.instance_id}: DOCKER_CMD is empty; the emulator runs DOCKER_CMD "
                    "(it cannot run an image's default command)",
                )
                return
            env = {key: value for key, value in task.constants.items() if key.replace("_", "").isalnum()}
            env.update({"INSTANCE_ID": str(instance.instance_id), "QARNOT_TASK_UUID": task.uuid})

            def started() -> None:
                instance.state, instance.started_s = INSTANCE_EXECUTING, now_s()
                self._executing(task)

            def line(out: OutputLine) -> None:
                text = out.text + "\n"
                (task.stdout if out.stream == "stdout" else task.stderr).write(text)
                (instance.stdout if out.stream == "stdout" else instance.stderr).write(text)

            spec = RunSpec(["sh", "-c", command], env, workdir=folder)
            result = await self.runner.run(spec, on_line=line, on_start=started)
        self._ended(instance, result)
        await self._upload(task, instance, folder)

    def _ended(self, instance: InstanceRecord, result: RunResult) -> None:
        instance.ended_s = now_s()
        instance.started_s = instance.started_s or instance.ended_s
        instance.exit_code = result.exit_code
        if result.succeeded:
            instance.state = INSTANCE_SUCCESS
            return
        instance.state = INSTANCE_FAILURE
        tail = instance.stderr.all().rstrip("\n").rpartition("\n")[2]
        ident = f"instance {instance.instance_id}"
        if result.start_error is not None:
            instance.error = instance_error("StartFailure", f"{ident}: {result.start_error}", tail)
        elif result.timed_out:
            limit = self.runner.default_timeout_s
            instance.error = instance_error(
                "MaxWallTimeExceeded", f"{ident}: killed after {limit:g} s (the emulator's --max-job-seconds)", tail
            )
        elif result.exit_code is not None and result.exit_code < 0:
            name = signal.Signals(-result.exit_code).name
            instance.error = instance_error("ExitCode", f"{ident}: killed by signal {-result.exit_code} ({name})", tail)
        else:
            instance.error = instance_error("ExitCode", f"{ident}: exited with code {result.exit_code}", tail)

    async def _download(self, task: TaskRecord, folder: str) -> dict[str, str]:
        specs = [ResourceSpec.from_json(entry) for entry in task.body.get("advancedResourceBuckets") or []]
        specs += [ResourceSpec.from_json(name) for name in task.body.get("resourceBuckets") or []]
        sync = self._sync()
        if specs and sync is None:
            raise RuntimeError("storage is switched off")
        for spec in specs:
            assert sync is not None
            await asyncio.to_thread(sync.download, spec, folder)
        return await asyncio.to_thread(digests, folder)

    async def _upload(self, task: TaskRecord, instance: InstanceRecord, folder: str) -> None:
        """The instance's results, into the result bucket, once it is over."""
        bucket = task.body.get("resultBucket")
        if not bucket:
            return
        try:
            await self._send(task, instance, folder, str(bucket), {})
        except Exception as err:
            log.warning("task %s instance %s: results upload failed: %s", task.uuid, instance.instance_id, err)
            instance.error = instance_error("ResultsUploadFailure", f"cannot upload results to {bucket}: {err}")
            instance.state = INSTANCE_FAILURE

    async def _send(
        self, task: TaskRecord, instance: InstanceRecord, folder: str, bucket: str, config: dict[str, Any]
    ) -> int:
        """Upload what changed in an instance's folder (results lists and prefix from `config`, else the task's)."""
        sync = self._sync()
        if sync is None or not os.path.isdir(folder):
            return 0
        selection = UploadSelection(
            baseline=instance.baseline,
            already=instance.uploaded.setdefault(bucket, {}),
            whitelist=config.get("whitelist") or task.body.get("resultsWhitelist"),
            blacklist=config.get("blacklist") or task.body.get("resultsBlacklist"),
            prefix=str(config.get("bucketPrefix") or ""),
        )
        keys = await asyncio.to_thread(sync.upload, folder, bucket, selection)
        host = urlsplit(sync.url).netloc  # as the API writes them: s3://<storage host>/<bucket>/<key>
        instance.results.extend(f"s3://{host}/{bucket}/{key}" for key in keys)
        task.results_count += len(keys)
        if keys:
            task.modified_s = now_s()
        return len(keys)

    async def snapshot(self, task: TaskRecord, config: dict[str, Any]) -> int:
        """Upload what the running instances have written so far (a snapshot); how many files."""
        bucket = config.get("bucket") or task.body.get("resultBucket")
        if not bucket or task.folder is None:
            return 0
        sent = 0
        for instance in list(task.instances.values()):
            if instance.state == INSTANCE_EXECUTING:
                folder = os.path.join(task.folder, str(instance.instance_id))
                sent += await self._send(task, instance, folder, str(bucket), config)
        return sent

    # -- stopping -------------------------------------------------------------------------------------------------

    async def halt(self, task: TaskRecord) -> None:
        """Stop the task's driver (its processes are killed); its state is left to the caller."""
        driver = task.driver
        if driver is not None and not driver.done():
            driver.cancel()
            await asyncio.wait([driver])
        for instance in task.instances.values():
            if instance.state not in INSTANCE_DONE:
                instance.state, instance.ended_s = INSTANCE_CANCELLED, now_s()

    async def cancel(self, task: TaskRecord) -> None:
        """PendingCancel now, Cancelled one step later (the processes are killed at once)."""
        task.move(PENDING_CANCEL)
        await self.halt(task)
        if task.body.get("uploadResultsOnCancellation") and task.folder is not None:
            for instance in task.instances.values():
                folder = os.path.join(task.folder, str(instance.instance_id))
                await self._upload(task, instance, folder)
        await asyncio.sleep(self.step_s)
        task.move(CANCELLED)
        self._remove_folder(task)

    def _remove_folder(self, task: TaskRecord) -> None:
        if task.folder is not None:
            shutil.rmtree(task.folder, ignore_errors=True)
