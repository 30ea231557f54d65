"""Child process: N `BatchJobTrigger` coroutines of this provider in one event loop, as in a triggerer.

Modes (argv[1]):
- `default`: the triggers as shipped: the embedded job-service cache, following Armada job-set event streams
  (`[batch] event_stream_min_jobs` at its default).
- `polling`: the embedded cache with event streams off (`event_stream_min_jobs = 0`): batched polls only.
- `direct`: each trigger asks the scheduler itself, one status call per job per interval (`where: scheduler`).

Run by `benchmarks.trigger_load`; speaks the protocol of `benchmarks.measured`.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import sys
import time
from typing import Any

MODES = ("default", "polling", "direct")


async def _wait_all(refs: list[dict[str, Any]], poll_interval: float, mode: str) -> dict[str, float]:
    from airflow_provider_batch.triggers import sources
    from airflow_provider_batch.triggers.batch import BatchJobTrigger

    options: dict[str, Any] = {}
    if mode == "direct":
        if "where" in inspect.signature(BatchJobTrigger).parameters:
            options["where"] = {"ask": "scheduler"}
        else:  # before triggers/where.py: the factory the trigger calls, replaced
            sources.open_source = lambda job: sources.DirectStatusSource(job.backend, job.conn_id)  # type: ignore
    received: dict[str, float] = {}

    async def one(ref: dict[str, Any]) -> None:
        trigger = BatchJobTrigger(ref, poll_interval=poll_interval, **options)
        event = await trigger.run().__anext__()
        if event.payload["status"] not in ("success", "failed", "cancelled"):
            raise RuntimeError(f"job {ref['job_id']}: {event.payload['status']} event: {event.payload['message']}")
        received[event.payload["job_id"]] = time.time()

    await asyncio.gather(*(one(ref) for ref in refs))
    await sources.shared_cache().aclose()  # its channels and sessions, before asyncio.run closes the loop
    return received


def main() -> None:
    mode = sys.argv[1]
    if mode not in MODES:
        raise SystemExit(f"mode {mode!r} is not one of {MODES}")
    if mode == "polling":
        os.environ["AIRFLOW__BATCH__EVENT_STREAM_MIN_JOBS"] = "0"
    else:
        os.environ.pop("AIRFLOW__BATCH__EVENT_STREAM_MIN_JOBS", None)
    # Everything the triggers import, imported before READY (the jobs are submitted only then).
    import airflow_provider_batch.hooks.apolo
    import airflow_provider_batch.hooks.armada
    import airflow_provider_batch.hooks.qarnot
    import airflow_provider_batch.triggers.batch  # noqa: F401
    from benchmarks.measured import serve_one

    serve_one(lambda request: asyncio.run(_wait_all(request["jobs"], request["poll_interval"], mode)))


if __name__ == "__main__":
    main()
