"""TLS to the Qarnot API and storage with a certificate authority of one's own (the SDK's
`cluster_custom_certificate` / `storage_custom_certificate`), and `Connection.s3client` / `s3resource` as boto3
objects on the storage endpoint. The emulator speaks plain HTTP: a TLS relay in front of each of its ports, with a
self-signed certificate made in the test, stands in for a private deployment."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from _tls_helpers import self_signed_files
from conftest import QarnotEmulatorEndpoint

from airflow_provider_batch.clients.qarnot.client import QarnotAsyncClient
from airflow_provider_batch.clients.qarnot.config import QarnotConfig
from airflow_provider_batch.clients.qarnot.errors import QarnotError
from airflow_provider_batch.common.retry import RetryPolicy
from airflow_provider_batch.compat.qarnot.connection import Connection

pytestmark = pytest.mark.wire


class TlsRelay:
    """https://localhost:<port> for each plain target, in a thread of its own (the sync client blocks)."""

    def __init__(self, cert: Path, key: Path, targets: list[str]) -> None:
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.load_cert_chain(cert, key)
        self.targets = [urlsplit(target) for target in targets]
        self.urls: list[str] = []
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> TlsRelay:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(10)
        return self

    def __exit__(self, *_: object) -> None:
        async def stop() -> None:
            for server in self.servers:
                server.close()
                await server.wait_closed()

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()

    async def _start(self) -> None:
        self.servers = []
        for target in self.targets:
            server = await asyncio.start_server(
                lambda r, w, t=target: self._relay(r, w, t.hostname, t.port), "127.0.0.1", 0, ssl=self.context
            )
            self.servers.append(server)
            self.urls.append(f"https://localhost:{server.sockets[0].getsockname()[1]}")

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str, port: int) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(host, port)
        except OSError:
            writer.close()
            return

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError, ssl.SSLError):
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            with contextlib.suppress(Exception):
                sink.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


@pytest.fixture
def relay(qarnot_emulator: QarnotEmulatorEndpoint, tmp_path: Path) -> Iterator[tuple[TlsRelay, Path]]:
    cert, key = self_signed_files(tmp_path, "relay")
    with TlsRelay(cert, key, [qarnot_emulator.url, qarnot_emulator.storage_url]) as made:
        yield made, cert


def test_custom_certificates_and_boto3_objects(qarnot_emulator: QarnotEmulatorEndpoint, relay) -> None:
    tls, cert = relay
    api_url, storage_url = tls.urls
    conn = Connection(
        client_token=qarnot_emulator.token,
        cluster_url=api_url,
        storage_url=storage_url,
        cluster_custom_certificate=str(cert),
        storage_custom_certificate=str(cert),
        retry_count=0,
    )
    assert conn.user_info.email == qarnot_emulator.email
    name = f"tls-{uuid.uuid4().hex[:8]}"
    bucket = conn.create_bucket(name)
    conn.s3client.put_object(Bucket=name, Key="hello.txt", Body=b"over TLS")
    assert conn.s3client.meta.endpoint_url == storage_url
    assert [obj.key for obj in conn.s3resource.Bucket(name).objects.all()] == ["hello.txt"]
    assert [f.key for f in bucket.list_files()] == ["hello.txt"]

    untrusting = Connection(client_token=qarnot_emulator.token, cluster_url=api_url, retry_count=0)
    with pytest.raises(QarnotError, match=r"(?i)certificate"):
        untrusting.user_info  # noqa: B018 (the call is the test)
    storage_untrusted = Connection(
        client_token=qarnot_emulator.token,
        cluster_url=api_url,
        storage_url=storage_url,
        cluster_custom_certificate=str(cert),
        retry_count=0,
    )
    with pytest.raises(QarnotError, match=r"(?i)certificate|ssl"):
        storage_untrusted.buckets()


async def test_the_async_client_trusts_cluster_ca(qarnot_emulator: QarnotEmulatorEndpoint, relay) -> None:
    tls, cert = relay
    fast = RetryPolicy(max_attempts=1, initial_backoff=0.01, max_backoff=0.01)
    trusting = QarnotConfig(token=qarnot_emulator.token, cluster_url=tls.urls[0], cluster_ca=str(cert), retry=fast)
    async with QarnotAsyncClient(trusting) as client:
        assert (await client.user_info()).email == qarnot_emulator.email
    plain = QarnotConfig(token=qarnot_emulator.token, cluster_url=tls.urls[0], retry=fast)
    async with QarnotAsyncClient(plain) as client:
        with pytest.raises(QarnotError, match=r"(?i)certificate"):
            await client.user_info()
