import asyncio

import pytest

from airflow_provider_batch.emulators.armada.events import EventBus, JobSetStream, make_event
from airflow_provider_batch.emulators.errors import EmulatorError


def event(job_id: str) -> object:
    return make_event("queued", job_id, "js", "q", 1_700_000_000_000_000_000)


async def collect(stream: JobSetStream, start: int, watch: bool) -> list[str]:
    return [m.message.queued.job_id async for m in stream.follow(start, watch)]


async def test_ids_increase_and_resume_strictly_after() -> None:
    stream = JobSetStream()
    ids = [stream.append(event(f"j{i}")) for i in range(50)]
    keys = [tuple(int(part) for part in i.split("-")) for i in ids]
    assert keys == sorted(keys) and len(set(ids)) == 50
    assert await collect(stream, stream.position_after(ids[9]), watch=False) == [f"j{i}" for i in range(10, 50)]
    assert await collect(stream, stream.position_after(""), watch=False) == [f"j{i}" for i in range(50)]
    with pytest.raises(EmulatorError, match="from_message_id"):
        stream.position_after("123-0")


async def test_watch_pushes_new_events() -> None:
    stream = JobSetStream()
    stream.append(event("a"))
    received: list[str] = []
    got_two = asyncio.Event()

    async def watch() -> None:
        async for message in stream.follow(0, watch=True):
            received.append(message.message.queued.job_id)
            if len(received) == 2:
                got_two.set()

    task = asyncio.ensure_future(watch())
    await asyncio.sleep(0)
    stream.append(event("b"))
    await asyncio.wait_for(got_two.wait(), 5)
    assert received == ["a", "b"]
    stream.close()
    await asyncio.wait_for(task, 5)


async def test_without_watch_the_stream_stops_at_the_current_end() -> None:
    stream = JobSetStream()
    stream.append(event("a"))
    iterator = stream.follow(0, watch=False)
    assert (await iterator.__anext__()).message.queued.job_id == "a"
    stream.append(event("b"))
    with pytest.raises(StopAsyncIteration):
        await iterator.__anext__()


def test_bus_routes_by_queue_and_job_set() -> None:
    bus = EventBus()
    assert not bus.exists("q", "js")
    bus.publish(event("a"))
    assert bus.exists("q", "js") and not bus.exists("q", "other")
