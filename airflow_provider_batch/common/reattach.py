"""Whether to reattach to a job an earlier try submitted, or submit a new one."""

from __future__ import annotations

from collections.abc import Callable

from airflow_provider_batch.common.states import JobState, JobStatus

ReattachPolicy = str | Callable[[JobState, str], bool]
POLICIES = ("live", "always", "never")


def check_policy(policy: ReattachPolicy) -> ReattachPolicy:
    if callable(policy) or policy in POLICIES:
        return policy
    raise ValueError(f"reattach_policy: {policy!r} is not one of {POLICIES} or a callable(state, reason) -> bool")


def should_reattach(policy: ReattachPolicy, status: JobStatus) -> bool:
    """live (the default): reattach to a queued, running or succeeded job (a success is not run again); submit
    anew after a failure or a cancel. always: reattach to whatever is there. never: always submit a new job.
    A callable gets (state, reason) and answers True to reattach.
    """
    if callable(policy):
        return bool(policy(status.state, status.reason))
    if policy == "always":
        return True
    if policy == "never":
        return False
    return status.state in (JobState.QUEUED, JobState.RUNNING, JobState.SUCCEEDED, JobState.UNKNOWN)
