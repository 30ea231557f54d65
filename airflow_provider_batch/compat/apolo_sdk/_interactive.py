"""The SDK's interactive types: `StdStream` (what `jobs.attach` and `jobs.exec` yield), `Message` and
`StdStreamError`. As in the SDK, the end of an attach or exec is an exception carrying the exit code:

    async with client.jobs.exec(job.id, "python -V", stdout=True, stderr=True) as stream:
        try:
            while (message := await stream.read_out()) is not None:
                print(message.fileno, message.data)
        except StdStreamError as end:
            print("exit code", end.exit_code)
"""

from __future__ import annotations

from airflow_provider_batch.clients.apolo import interactive
from airflow_provider_batch.clients.apolo.interactive import Message


class StdStreamError(Exception):
    """The stream ended with the process: `exit_code` is its exit code (0 too, as the SDK raises it)."""

    def __init__(self, exit_code: int) -> None:
        super().__init__(f"Stream finished with exit code {exit_code}")
        self.exit_code = exit_code


class StdStream:
    """`read_out()` -> the next `Message` (fileno 1 stdout, 2 stderr); raises `StdStreamError(exit_code)` when the
    process ends, None once closed. `write_in(data)` feeds stdin, `resize(h, w)` the terminal, `close()` ends it."""

    def __init__(self, stream: interactive.StdStream) -> None:
        self._stream = stream

    async def close(self) -> None:
        await self._stream.close()

    async def read_out(self) -> Message | None:
        message = await self._stream.read_out()
        if message is None and self._stream.exit_code is not None:
            code, self._stream.exit_code = self._stream.exit_code, None  # raised once, then None like the SDK
            raise StdStreamError(code)
        return message

    async def write_in(self, data: bytes) -> None:
        await self._stream.write_in(data)

    async def resize(self, h: int, w: int) -> None:
        await self._stream.resize(h, w)


__all__ = ["Message", "StdStream", "StdStreamError"]
