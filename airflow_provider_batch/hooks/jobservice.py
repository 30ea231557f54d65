"""The `batch_jobservice` connection: where a standalone job service listens, and its bearer token."""

from __future__ import annotations

from functools import cached_property
from typing import Any

import grpc.aio
from airflow.sdk import BaseHook

from airflow_provider_batch.clients.jobservice import JobServiceAsyncIOClient, JobServiceClient
from airflow_provider_batch.common.channel import CallCredentials, GrpcChannelArguments
from airflow_provider_batch.common.errors import connection_test_failure
from airflow_provider_batch.hooks.base import as_bool
from airflow_provider_batch.hooks.forms import connection_form_widgets, ui_field_behaviour


def channel_arguments(conn: Any) -> tuple[GrpcChannelArguments, CallCredentials | None]:
    extra = conn.extra_dejson or {}
    host = (conn.host or "").strip()
    if not host:
        raise ValueError(f"connection {conn.conn_id}: host is empty; set it to the job service's host:port")
    if conn.port and ":" not in host:
        host = f"{host}:{conn.port}"
    tls = as_bool(extra.get("tls", False), "tls")
    args = GrpcChannelArguments(host, tls=tls, ca_cert=extra.get("ca_cert") or None)
    return args, CallCredentials.bearer(conn.password) if conn.password else None


class JobServiceHook(BaseHook):
    """Reaches a standalone job service (`python -m airflow_provider_batch.jobservice serve`)."""

    conn_name_attr = "jobservice_conn_id"
    default_conn_name = "batch_jobservice_default"
    conn_type = "batch_jobservice"
    hook_name = "Batch job service"

    def __init__(self, jobservice_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.conn_id = jobservice_conn_id
        self._channel: grpc.aio.Channel | None = None

    @cached_property
    def client(self) -> JobServiceClient:
        args, credentials = channel_arguments(self.get_connection(self.conn_id))
        return JobServiceClient(args.channel(credentials))

    def get_conn(self) -> JobServiceClient:
        return self.client

    async def aget_client(self) -> JobServiceAsyncIOClient:
        if self._channel is None:
            args, credentials = channel_arguments(await self.aget_connection(self.conn_id))
            self._channel = args.aio_channel(credentials)
        return JobServiceAsyncIOClient(self._channel)

    async def aclose(self) -> None:
        if self._channel is not None:
            await self._channel.close()
            self._channel = None

    def test_connection(self) -> tuple[bool, str]:
        """Health, then GetJobStatuses with no job: Health answers anyone (probes), the second call checks the token."""
        target = ""
        try:
            args, _ = channel_arguments(self.get_connection(self.conn_id))
            target = args.target
            status = self.client.health().status
            if status != 1:
                return False, f"Job service at {target} answered Health with status {status} (not SERVING)"
            self.client.get_job_statuses([])
        except Exception as error:
            return False, connection_test_failure(error, self.conn_id, target)
        return True, f"Job service at {target} is serving and accepts the token"

    # -- the connection form on Airflow < 3.2 (3.2+ reads conn-fields from get_provider_info) ------------------

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        return ui_field_behaviour(cls.conn_type)

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        return connection_form_widgets(cls.conn_type)
