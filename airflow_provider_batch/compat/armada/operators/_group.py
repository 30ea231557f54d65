"""Several `job_request_items` in one task, as the original operators took them, on the core lifecycle's steps.

Dynamic task mapping (one task per job) stays the recommended way: each job gets its own retries, logs and state.
A list of several items is still run as the original did, with no second lifecycle:

- identity: item i is the task instance's job number i (`ItemIdentity`: the task's identity with `/item/<i>` on
  its external_job_uri, so its client_id differs too); nothing else is new.
- find or submit: each item's earlier job is looked up by its URI (the core hook's `find_jobs`) and the reattach
  policy decides as for one job; the items to submit go in ONE SubmitJobs call (`ArmadaHook.submit_together`).
- wait: blocking, the core's `_wait` on each unfinished job in turn (they run side by side in Armada, so this
  takes as long as the slowest); deferrable, the core trigger on one unfinished job at a time, re-deferring on the
  next when it fires (one trigger per task, as for a single job).
- finish: the task succeeds when every job succeeded; otherwise it fails naming each job that did not (without
  retries when every one was rejected by Armada), and `on_kill` cancels them all (deferred: the trigger carries
  the other jobs in `cancel_with`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowException, AirflowFailException

from airflow_provider_batch.common.identity import JobIdentity
from airflow_provider_batch.common.jobref import JobRef
from airflow_provider_batch.common.reattach import should_reattach
from airflow_provider_batch.common.states import JobState, JobStatus
from airflow_provider_batch.operators.base_keys import XCOM_JOB, XCOM_JOB_URL
from airflow_provider_batch.triggers.batch import BatchJobTrigger

if TYPE_CHECKING:
    from airflow_provider_batch.hooks.armada import ArmadaHook, ArmadaSubmission

GROUP_METHOD = "resume_group"
XCOM_GROUP = "batch_group"  # {"jobs": [JobRef JSON], "deadline", "reported"}: a resume's state when defer kwargs
# are dropped (as `airflow dags test` does)


@dataclass(frozen=True)
class ItemIdentity(JobIdentity):
    """The identity of item `item` of a task instance's job_request_items."""

    item: int = 0

    @property
    def uri(self) -> str:
        return f"{JobIdentity.uri.fget(self)}/item/{self.item}"  # type: ignore[attr-defined]

    def tags(self) -> dict[str, str]:
        return {**super().tags(), "item": str(self.item)}


class JobGroupMixin:
    """The group steps of the compat ArmadaOperator (see the module docstring); it relies on the core operator's
    hook, reattach_policy, timeout, deferrable, wait_for_completion and its `_look`, `_wait`, `_copy_logs`,
    `_cancel`, `_describe`, `build_trigger` and `defer`."""

    _group: list[JobRef]
    log: Any

    if TYPE_CHECKING:

        @property
        def hook(self) -> ArmadaHook: ...

    def _execute_group(self, context: Any, requests: list[ArmadaSubmission]) -> dict[str, Any]:
        base = JobIdentity.from_context(context)
        identities = [ItemIdentity(**vars(base), item=i) for i in range(len(requests))]
        pairs = self._find_or_submit_group(requests, identities, base.try_number)
        self._record_group(context, [job for job, _ in pairs])
        if not self.wait_for_completion:  # type: ignore[attr-defined]
            return self._group_result(pairs, "submitted")
        deadline = time.time() + self.timeout if self.timeout else None  # type: ignore[attr-defined]
        return self._wait_for_group(context, pairs, deadline)

    def _find_or_submit_group(
        self, requests: list[ArmadaSubmission], identities: list[ItemIdentity], try_number: int
    ) -> list[tuple[JobRef, JobStatus]]:
        found: dict[int, tuple[JobRef, JobStatus]] = {}
        generations: dict[int, list[int]] = {}
        for i, (request, identity) in enumerate(zip(requests, identities, strict=True)):
            earlier = self.hook.find_jobs(request, identity)
            policy = self.reattach_policy  # type: ignore[attr-defined]
            if earlier and should_reattach(policy, earlier[0][1]):
                found[i] = earlier[0]
                self.log.info("Reattaching item %d to %s", i, self._describe(earlier[0][0]))  # type: ignore[attr-defined]
                continue
            renew = bool(earlier) or policy == "never"
            generations.setdefault(try_number if renew else 0, []).append(i)
        for generation, indexes in generations.items():
            first = requests[indexes[0]]
            items = [(requests[i].item, identities[i]) for i in indexes]
            refs = self.hook.submit_together(first.queue, first.job_set_id, items, generation)
            for i, job in zip(indexes, refs, strict=True):
                found[i] = (job, JobStatus(JobState.QUEUED, "SUBMITTED"))
                self.log.info("Submitted item %d as %s", i, self._describe(job))  # type: ignore[attr-defined]
        return [found[i] for i in range(len(requests))]

    def _record_group(self, context: Any, jobs: list[JobRef]) -> None:
        self._group = jobs
        ti = context["ti"]
        ti.xcom_push(key=XCOM_JOB, value=jobs[0].to_json())
        ti.xcom_push(key="job_id", value=jobs[0].job_id)
        ti.xcom_push(key="job_ids", value=[job.job_id for job in jobs])
        url = self.hook.job_url(jobs[0]) or ""
        ti.xcom_push(key=XCOM_JOB_URL, value=url)
        for job in jobs:
            page = self.hook.job_url(job)
            if page:
                self.log.info("Job page: %s", page)

    def _wait_for_group(
        self,
        context: Any,
        pairs: list[tuple[JobRef, JobStatus]],
        deadline: float | None,
        reported: list[str] | None = None,
    ) -> dict[str, Any]:
        """Wait for each unfinished job (blocking) or defer on the first one (deferrable); then finish. `reported`:
        the jobs whose end (and logs) an earlier resume already took in."""
        reported = list(reported or [])
        done: list[tuple[JobRef, JobStatus]] = []
        for job, status in pairs:
            if not status.state.is_terminal:
                status = self._look(job, status)  # type: ignore[attr-defined]
            if not status.state.is_terminal:
                if self.deferrable:  # type: ignore[attr-defined]
                    self._defer_on(context, job, [j for j, _ in pairs], deadline, reported)
                try:
                    status = self._wait(job)  # type: ignore[attr-defined]  # copies the logs as they come
                except Exception:
                    if deadline is not None and time.time() >= deadline:  # the task's timeout: cancel them all
                        for other, _ in pairs:
                            if other.job_id != job.job_id:
                                self._cancel(other, "the task's timeout passed")  # type: ignore[attr-defined]
                    raise
            elif job.job_id not in reported:
                self._copy_logs(job, "")  # type: ignore[attr-defined]
            if job.job_id not in reported:
                reported.append(job.job_id)
            done.append((job, status))
        return self._finish_group(done)

    def _defer_on(
        self, context: Any, job: JobRef, group: list[JobRef], deadline: float | None, reported: list[str]
    ) -> None:
        state = {"group": [j.to_json() for j in group], "deadline": deadline, "reported": reported}
        context["ti"].xcom_push(key=XCOM_GROUP, value=state)
        trigger = self.build_trigger(job, deadline)  # type: ignore[attr-defined]
        if isinstance(trigger, BatchJobTrigger):  # a user stopping the task stops every job of the group
            trigger.cancel_with = [other.to_json() for other in group if other.job_id != job.job_id]
        self._hand_over()
        self.defer(  # type: ignore[attr-defined]
            trigger=trigger,
            method_name=GROUP_METHOD,
            kwargs=state,
        )

    def resume_group(
        self,
        context: Any,
        event: dict[str, Any] | None = None,
        group: list[dict[str, Any]] | None = None,
        deadline: float | None = None,
        reported: list[str] | None = None,
    ) -> dict[str, Any]:
        """Resume after one job of the group ended: defer on the next unfinished one, or finish the task."""
        if group is None:  # the defer kwargs were dropped: the state pushed when deferring
            saved = context["ti"].xcom_pull(task_ids=context["ti"].task_id, key=XCOM_GROUP) or {}
            group, deadline, reported = saved.get("group"), saved.get("deadline"), saved.get("reported")
        jobs = [JobRef.from_json(data) for data in group or []]
        if not isinstance(event, dict) or "job" not in event or not jobs:
            raise AirflowException(f"the trigger sent an event this operator does not understand: {event!r}")
        self._group = jobs
        ended = JobRef.from_json(event["job"])
        if event.get("status") == "timeout":
            for job in jobs:
                self._cancel(job, "the task's timeout passed")  # type: ignore[attr-defined]
            raise AirflowException(f"{len(jobs)} Armada jobs did not finish in time and were cancelled")
        if event.get("status") == "error":
            raise AirflowException(f"{self._describe(ended)}: {event.get('message')}")  # type: ignore[attr-defined]
        pairs = []
        for job in jobs:
            if job.job_id == ended.job_id:
                status = JobStatus(
                    JobState(event["state"]), event.get("native_state") or "", event.get("message") or ""
                )
            else:
                status = self.hook.get_status(job)
            pairs.append((job, status))
        return self._wait_for_group(context, pairs, deadline, reported)

    def _finish_group(self, pairs: list[tuple[JobRef, JobStatus]]) -> dict[str, Any]:
        failed = [(job, status) for job, status in pairs if status.state is not JobState.SUCCEEDED]
        if not failed:
            self.log.info("All %d Armada jobs succeeded", len(pairs))
            for job, status in pairs:
                self.after_success(job, status)  # type: ignore[attr-defined]
            return self._group_result(pairs, JobState.SUCCEEDED.value)
        reasons = "; ".join(
            f"{self._describe(job)} ended {status.native_state or status.state.value}: "  # type: ignore[attr-defined]
            f"{status.reason or 'no reason given'}"
            for job, status in failed
        )
        message = f"{len(failed)} of {len(pairs)} Armada jobs did not succeed: {reasons}"
        if all(status.state is JobState.REJECTED for _, status in failed):
            raise AirflowFailException(message + " (rejected by the scheduler: retrying cannot help)")
        raise AirflowException(message)

    @staticmethod
    def _group_result(pairs: list[tuple[JobRef, JobStatus]], state: str) -> dict[str, Any]:
        first = pairs[0][0]
        return {"job_id": first.job_id, "job_ids": [job.job_id for job, _ in pairs], **first.details, "state": state}

    def _cancel_group(self) -> None:
        for job in getattr(self, "_group", None) or []:
            self._cancel(job, "the Airflow task was killed")  # type: ignore[attr-defined]

    def _hand_over(self) -> None:
        """Deferring: the trigger owns the group's jobs now (it cancels them all if a user stops the task)."""
        self._group = []
        super()._hand_over()  # type: ignore[misc]


__all__ = ["GROUP_METHOD", "ItemIdentity", "JobGroupMixin"]
