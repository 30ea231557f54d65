"""The JSON the Qarnot API answers with: tasks (full and summary), jobs, pools, user info, profiles; dates as
`YYYY-MM-DDTHH:MM:SSZ` (the SDK's strict `strptime`) and durations as .NET TimeSpans (`HH:MM:SS`)."""

from __future__ import annotations

import time
from typing import Any

from airflow_provider_batch.emulators.qarnot.ranges import format_ranges
from airflow_provider_batch.emulators.qarnot.records import (
    INSTANCE_DONE,
    INSTANCE_DOWNLOADING,
    INSTANCE_EXECUTING,
    INSTANCE_FAILURE,
    INSTANCE_SUCCESS,
    InstanceRecord,
    JobRecord,
    PoolRecord,
    TaskRecord,
    now_s,
)

CPU_MODEL = "Emulated CPU (local process)"
CLOCK_GHZ = 1.0

# Submitted fields that GET echoes back as they were sent, when the client sent them.
TASK_ECHOED = (
    "name",
    "shortname",
    "profile",
    "poolUuid",
    "jobUuid",
    "projectUuid",
    "advancedRanges",
    "advancedResourceBuckets",
    "resultBucket",
    "ResultsCacheTTLSec",
    "tags",
    "labels",
    "snapshotWhitelist",
    "snapshotBlacklist",
    "resultsWhitelist",
    "resultsBlacklist",
    "autoDeleteOnCompletion",
    "completionTimeToLive",
    "maxTimeQueueSeconds",
    "hardwareConstraints",
    "retrySettings",
    "schedulingType",
    "targetedReservedMachineKey",
    "targetedReservationName",
    "privileges",
    "dependencies",
    "forcedNetworkRules",
    "secretsAccessRights",
    "waitForPoolResourcesSynchronization",
    "uploadResultsOnCancellation",
    "defaultResourcesCacheTTLSec",
)
TASK_DEFAULTS: dict[str, Any] = {
    "shortname": None,
    "poolUuid": None,
    "jobUuid": None,
    "advancedResourceBuckets": [],
    "resultBucket": None,
    "tags": [],
    "labels": {},
    "autoDeleteOnCompletion": False,
    "completionTimeToLive": "00:00:00",
    "hardwareConstraints": [],
    "forcedNetworkRules": [],
    "dependencies": None,
    "secretsAccessRights": {"bySecret": [], "byPrefix": []},
    "privileges": {"exportApiAndStorageCredentialsInEnvironment": False},
    "retrySettings": {"maxTotalRetries": None, "maxPerInstanceRetries": None},
    "schedulingType": "Flex",
}


def _echo(body: dict[str, Any], keys: tuple[str, ...], defaults: dict[str, Any]) -> dict[str, Any]:
    """The submitted fields as sent; a field sent as null, or not sent, takes the API's default if it has one
    (the SDK calls `from_json` on several of them, which fails on null) and is left out otherwise."""
    echoed: dict[str, Any] = {}
    for key in keys:
        value = body.get(key)
        if value is None and key in defaults:
            value = defaults[key]
        if value is not None or key in body:
            echoed[key] = value
    return echoed


def api_date(epoch_s: float | None) -> str | None:
    """`2024-05-01T12:00:00Z`, the form every SDK parses (no fraction, no offset)."""
    if epoch_s is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch_s))


def timespan(seconds: float) -> str:
    """A .NET TimeSpan, `HH:MM:SS` (with `d.` in front beyond a day)."""
    total = max(int(seconds), 0)
    days, rest = divmod(total, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    text = f"{hours:02d}:{minutes:02d}:{secs:02d}"
    return f"{days}.{text}" if days else text


def _instance_seconds(instance: InstanceRecord, now: float) -> float:
    if instance.started_s is None:
        return 0.0
    return (instance.ended_s or now) - instance.started_s


def completed_instance(instance: InstanceRecord, now: float) -> dict[str, Any]:
    seconds = _instance_seconds(instance, now)
    return {
        "instanceId": instance.instance_id,
        "state": instance.state,
        "wallTimeSec": round(seconds, 3),
        "execTimeSec": round(seconds, 3),
        "execTimeSecGHz": round(seconds * CLOCK_GHZ, 3),
        "peakMemoryMB": 0,
        "averageGHz": CLOCK_GHZ,
        "results": list(instance.results),
        "executionAttemptCount": 1 if instance.started_s is not None else 0,
        "error": instance.error,
        "exitCode": instance.exit_code,
        "cpuModel": CPU_MODEL,
        "coreCount": 1,
        "clockRatio": 1.0,
    }


def _running_info(instance: InstanceRecord, now: float) -> dict[str, Any]:
    seconds = _instance_seconds(instance, now)
    return {
        "phase": "execution" if instance.state == INSTANCE_EXECUTING else "download",
        "instanceId": instance.instance_id,
        "maxFrequencyGHz": CLOCK_GHZ,
        "currentFrequencyGHz": CLOCK_GHZ,
        "cpuUsage": 0.0,
        "maxMemoryMB": 0,
        "currentMemoryMB": 0,
        "networkInKbps": 0,
        "networkOutKbps": 0,
        "progress": 0.0,
        "executionTimeSec": round(seconds, 3),
        "executionTimeGHz": round(seconds * CLOCK_GHZ, 3),
        "cpuModel": CPU_MODEL,
        "coreCount": 1,
        "executionAttemptCount": 1,
        "activeForwards": [],
        "vpnConnections": [],
        "memoryUsage": 0.0,
        "clockRatio": 1.0,
    }


def task_status(task: TaskRecord, now: float) -> dict[str, Any]:
    """The `status` object; it always has the two per-CPU-model lists, which the SDK's Status() iterates."""
    instances = list(task.instances.values())
    done = [i for i in instances if i.state in INSTANCE_DONE]
    running = [i for i in instances if i.state in (INSTANCE_DOWNLOADING, INSTANCE_EXECUTING)]
    executed = [i for i in instances if i.started_s is not None]
    total = max(len(instances), 1)
    exec_seconds = sum(_instance_seconds(i, now) for i in instances)
    wall = (task.ended_s or now) - task.created_s
    stamp = api_date(now)
    return {
        "timestamp": stamp,
        "lastUpdateTimestamp": stamp,
        "downloadProgress": 100.0 * len(executed) / total,
        "executionProgress": 100.0 * len(done) / total,
        "uploadProgress": 100.0 if task.terminal else 0.0,
        "instanceCount": len(running),
        "downloadTime": "00:00:00",
        "downloadTimeSec": 0,
        "environmentTime": "00:00:00",
        "environmentTimeSec": 0,
        "executionTime": timespan(exec_seconds),
        "executionTimeSec": round(exec_seconds, 3),
        "executionTimeByCpuModel": [{"model": CPU_MODEL, "time": round(exec_seconds, 3), "core": 1}],
        "executionTimeGhzByCpuModel": [
            {"model": CPU_MODEL, "timeGhz": round(exec_seconds * CLOCK_GHZ, 3), "clockRatio": 1.0, "core": 1}
        ],
        "uploadTime": "00:00:00",
        "uploadTimeSec": 0,
        "wallTime": timespan(wall),
        "wallTimeSec": round(wall, 3),
        "succeededRange": format_ranges(i.instance_id for i in instances if i.state == INSTANCE_SUCCESS),
        "executedRange": format_ranges(i.instance_id for i in done),
        "failedRange": format_ranges(i.instance_id for i in instances if i.state == INSTANCE_FAILURE),
        "startedOnceRange": format_ranges(i.instance_id for i in executed),
        "runningInstancesInfo": {
            "perRunningInstanceInfo": [_running_info(i, now) for i in running],
            "snapshotResults": [],
            "timestamp": stamp,
            "averageFrequencyGHz": CLOCK_GHZ if running else 0,
            "maxFrequencyGHz": CLOCK_GHZ if running else 0,
            "minFrequencyGHz": CLOCK_GHZ if running else 0,
            "averageMaxFrequencyGHz": CLOCK_GHZ if running else 0,
            "averageCpuUsage": 0,
            "clusterPowerIndicator": 1,
            "averageMemoryUsage": 0,
            "averageNetworkInKbps": 0,
            "averageNetworkOutKbps": 0,
            "totalNetworkInKbps": 0,
            "totalNetworkOutKbps": 0,
            "runningCoreCountByCpuModel": [],
        },
    }


def task_summary(task: TaskRecord) -> dict[str, Any]:
    """What the summaries endpoints list: identity, state and dates (the SDK GETs the rest when asked)."""
    summary: dict[str, Any] = {
        "uuid": task.uuid,
        "name": task.name,
        "shortname": task.body.get("shortname") or task.uuid,
        "profile": task.body.get("profile"),
        "poolUuid": task.pool_uuid,
        "jobUuid": task.job_uuid,
        "state": task.state,
        "previousState": task.previous_state,
        "tags": task.tags,
        "creationDate": api_date(task.created_s),
        "stateTransitionTime": api_date(task.transition_s),
        "previousStateTransitionTime": api_date(task.previous_transition_s),
        "lastModified": api_date(task.modified_s),
        "endDate": api_date(task.ended_s),
        "resultsCount": task.results_count,
    }
    if task.body.get("advancedRanges"):
        summary["advancedRanges"] = task.body["advancedRanges"]
    else:
        summary["instanceCount"] = len(task.instance_ids)
    return summary


def task_json(task: TaskRecord) -> dict[str, Any]:
    """The full task, as `GET /tasks/{uuid}` answers."""
    now = now_s()
    instances = list(task.instances.values())
    running = [i for i in instances if i.state in (INSTANCE_DOWNLOADING, INSTANCE_EXECUTING)]
    done = [i for i in instances if i.state in INSTANCE_DONE]
    exec_seconds = sum(_instance_seconds(i, now) for i in instances)
    body = _echo(task.body, TASK_ECHOED, TASK_DEFAULTS)
    body.update(task_summary(task))
    body.update(
        {
            "instanceCount": len(task.instance_ids),
            "runningInstanceCount": len(running),
            "runningCoreCount": len(running),
            "progress": round(100.0 * len(done) / max(len(instances), 1), 2),
            "executionTime": timespan(exec_seconds),
            "wallTime": timespan((task.ended_s or now) - task.created_s),
            "constants": [{"key": key, "value": value} for key, value in task.constants.items()],
            "errors": list(task.errors),
            "completedInstances": [completed_instance(i, now) for i in done],
            "status": task_status(task, now),
            "resourceBuckets": [],
            "snapshotInterval": task.snapshot_interval,
        }
    )
    return body


def job_json(job: JobRecord) -> dict[str, Any]:
    return {
        "uuid": job.uuid,
        "name": job.body.get("name"),
        "shortname": job.body.get("shortname") or job.uuid,
        "poolUuid": job.body.get("poolUuid"),
        "projectUuid": job.body.get("projectUuid"),
        "state": job.state,
        "previousState": job.previous_state,
        "useDependencies": job.use_dependencies,
        "maxWallTime": job.body.get("maxWallTime"),
        "tags": job.tags,
        "autoDeleteOnCompletion": bool(job.body.get("autoDeleteOnCompletion")),
        "completionTimeToLive": job.body.get("completionTimeToLive") or "00:00:00",
        "creationDate": api_date(job.created_s),
        "lastModified": api_date(job.modified_s),
        "stateTransitionTime": api_date(job.transition_s),
        "previousStateTransitionTime": api_date(job.previous_transition_s),
    }


POOL_ECHOED = (
    "name",
    "shortname",
    "profile",
    "projectUuid",
    "tags",
    "labels",
    "preparationTask",
    "elasticProperty",
    "advancedResourceBuckets",
    "taskDefaultWaitForPoolResourcesSynchronization",
    "autoDeleteOnCompletion",
    "completionTimeToLive",
    "hardwareConstraints",
    "defaultResourcesCacheTTLSec",
    "privileges",
    "defaultRetrySettings",
    "maxTimeQueueSeconds",
    "schedulingType",
    "forcedNetworkRules",
    "secretsAccessRights",
    "multiSlotsSettings",
    "scaling",
)


POOL_DEFAULTS: dict[str, Any] = {
    "secretsAccessRights": {"bySecret": [], "byPrefix": []},
    "privileges": {"exportApiAndStorageCredentialsInEnvironment": False},
    "defaultRetrySettings": {"maxTotalRetries": None, "maxPerInstanceRetries": None},
    "schedulingType": "Flex",
    "advancedResourceBuckets": [],
}


def pool_json(pool: PoolRecord, running_tasks: int = 0) -> dict[str, Any]:
    now = now_s()
    count = int(pool.body.get("instanceCount") or 0)
    body = _echo(pool.body, POOL_ECHOED, POOL_DEFAULTS)
    body.update(
        {
            "uuid": pool.uuid,
            "shortname": pool.body.get("shortname") or pool.uuid,
            "tags": pool.tags,
            "labels": pool.body.get("labels") or {},
            "hardwareConstraints": pool.body.get("hardwareConstraints") or [],
            "forcedNetworkRules": pool.body.get("forcedNetworkRules") or [],
            "state": pool.state,
            "previousState": pool.previous_state,
            "instanceCount": count,
            "runningInstanceCount": count if pool.is_open and pool.state != "Submitted" else 0,
            "runningCoreCount": count if pool.is_open and pool.state != "Submitted" else 0,
            "constants": [{"key": key, "value": value} for key, value in pool.constants.items()],
            "errors": [],
            "resourceBuckets": [],
            "creationDate": api_date(pool.created_s),
            "stateTransitionTime": api_date(pool.transition_s),
            "previousStateTransitionTime": api_date(pool.previous_transition_s),
            "lastModified": api_date(pool.modified_s),
            "endDate": api_date(pool.ended_s),
            "executionTime": timespan((pool.ended_s or now) - pool.created_s),
            "totalSlotCapacity": count,
            "queuedOrRunningTaskInstancesCount": running_tasks,
            "poolUsage": (running_tasks / count) if count else 0.0,
        }
    )
    return body


def pool_summary(pool: PoolRecord) -> dict[str, Any]:
    return {
        "uuid": pool.uuid,
        "name": pool.body.get("name"),
        "shortname": pool.body.get("shortname") or pool.uuid,
        "profile": pool.body.get("profile"),
        "state": pool.state,
        "tags": pool.tags,
        "instanceCount": int(pool.body.get("instanceCount") or 0),
        "creationDate": api_date(pool.created_s),
        "endDate": api_date(pool.ended_s),
    }
